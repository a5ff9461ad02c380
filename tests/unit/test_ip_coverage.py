"""Coverage measured, not claimed: the options iproute2's own help prints for every interface
(`ip link help`) and for bridge and bond ports (`ip link add type bridge_slave|bond_slave
help`), each accepted by the file or listed with its reason in docs/options.md."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from vnet.features.port_option_fields import PortOptions
from vnet.kinds.base import Common

DOC = Path(__file__).resolve().parents[2] / "docs" / "options.md"
#: ip's words for fields the file spells otherwise
SPELLED = {"address": "mac", "up": "state", "down": "state"}

pytestmark = pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 is not installed")


def _help(*args: str) -> str:
    proc = subprocess.run(["ip", *args, "help"], capture_output=True, text=True, check=False)
    return proc.stdout + proc.stderr


def _options(text: str) -> set[str]:
    return set(re.findall(r"\[ *\{? *([a-z][a-z_-]*)", text))


def _left_out(section: str) -> dict[str, str]:
    text = DOC.read_text()
    block = text.split(f"<!-- left-out: {section} -->", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1:3] for line in block.splitlines()[2:] if line.startswith("| ")]
    return {name.strip(): why.strip() for name, why in rows}


def _link_options() -> set[str]:
    """The options of `ip link add` and `ip link set` (the first level of each: a VF's own
    sub-options are the VF's)."""
    text = _help("link").split("ip link show")[0]
    found: set[str] = set()
    for line in text.splitlines():
        if re.match(r"^\t\t(    )?\[", line) or line.startswith("Usage: ip link add"):
            found |= _options(line)
    return found


@pytest.mark.parametrize(("section", "options", "accepted"), [
    ("link", _link_options, set(Common.model_fields)),
    ("bridge_slave", lambda: _options(_help("link", "add", "type", "bridge_slave")),
     set(PortOptions.model_fields)),
    ("bond_slave", lambda: _options(_help("link", "add", "type", "bond_slave")),
     set(PortOptions.model_fields)),
])
def test_every_option_ip_prints_is_accepted_or_left_out_with_a_reason(
        section: str, options: object, accepted: set[str]) -> None:
    printed = options()  # type: ignore[operator]
    assert printed, f"ip printed no {section} options: {_help('link')[:200]}"
    left_out = _left_out(section)
    assert all(left_out.values()), left_out
    missing = sorted(o for o in printed
                     if SPELLED.get(o, o.replace("-", "_")) not in accepted and o not in left_out)
    assert not missing, (f"{section}: iproute2 prints {missing}, which the file does not "
                         "accept and docs/options.md does not list as left out")
    stale = sorted(o for o in left_out if SPELLED.get(o, o.replace("-", "_")) in accepted)
    assert not stale, f"docs/options.md lists {stale} as left out, but the file accepts them"
