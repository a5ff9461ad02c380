"""What loading a file costs before it is read: `vnet validate` imports the modules of what
the file says, and no pydantic unless the file needs it (the benchmark's start-up row
measures what this saves)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: what a file of veths alone does not need: checks, events, and the models of neither
LAZY = ("vnet.checks", "vnet.events", "vnet.sandbox", "statistics")


def _after(code: str) -> list[str]:
    """The output lines of `code` run in a fresh interpreter."""
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, cwd=ROOT).stdout.splitlines()


def test_a_file_without_checks_or_events_imports_neither() -> None:
    out = _after(
        "import sys\nfrom vnet.loader import load_text\n"
        "load_text('name: t\\ninterfaces: [{name: a, kind: veth, peer: {name: b}}]')\n"
        f"print(' '.join(n for n in {LAZY!r} if n in sys.modules))")
    assert out in ([""], []), out


def test_loading_a_valid_file_imports_no_pydantic() -> None:
    # the lean validator of vnet.declare takes a valid file; pydantic (the models' twins)
    # is imported only for input it leaves to pydantic: an error, or a value to convert
    load = ("import sys\nfrom vnet.loader import load_text\n"
            "from vnet.errors import TopologyError\n"
            "try:\n    load_text({!r})\nexcept TopologyError as exc:\n    print(exc.issues[0])\n"
            "print('pydantic' in sys.modules, 'pydantic_core' in sys.modules)\n")
    good = "name: t\ninterfaces: [{name: a, kind: veth, mtu: 9000, peer: {name: b}}]\n"
    assert _after(load.format(good)) == ["False False"]
    bad = good.replace("9000", "60")
    out = _after(load.format(bad))
    assert out[-1] == "True True" and "greater than or equal to 68" in out[0], out
    # text that pydantic reads as a number is taken, as pydantic takes it
    text = good.replace("9000", "'9000'")
    mtu = f"print(load_text({text!r}).interfaces[0].mtu)\n"
    assert _after(load.format(text) + mtu)[-1] == "9000"
