"""What loading a file costs before it is read: `vnet validate` builds the validators of the
models the file uses and imports the modules of what it says, and no more (the benchmark's
start-up row measures what this saves)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: what a file of veths alone does not need: checks, events, and the models of neither
LAZY = ("vnet.checks", "vnet.events", "vnet.sandbox", "statistics")


def _after(code: str, **env: str) -> list[str]:
    """The output lines of `code` run in a fresh interpreter, PYDANTIC_DISABLE_PLUGINS unset
    unless `env` sets it."""
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, cwd=ROOT, env={**environ, **env}).stdout.splitlines()


def test_a_file_without_checks_or_events_imports_neither() -> None:
    out = _after(
        "import sys\nfrom vnet.loader import load_text\n"
        "load_text('name: t\\ninterfaces: [{name: a, kind: veth, peer: {name: b}}]')\n"
        f"print(' '.join(n for n in {LAZY!r} if n in sys.modules))")
    assert out in ([""], []), out


def test_loading_builds_only_the_validators_of_the_models_the_file_uses() -> None:
    # every model defers its validator (defer_build): importing the loader builds none, and
    # a file of veths builds the file head's and the veth's (its peer is part of the veth's)
    out = _after(
        "from pydantic._internal import _model_construction as mc\n"
        "built = []\n"
        "complete = mc.complete_model_class\n"
        "def spy(cls, *args, **kwargs):\n"
        "    built.append(cls.__name__)\n"
        "    return complete(cls, *args, **kwargs)\n"
        "mc.complete_model_class = spy\n"
        "import vnet.loader\n"
        "print(sorted(built))\n"
        "vnet.loader.load_text('name: t\\ninterfaces: [{name: a, kind: veth, peer: {name: b}}]')\n"
        "print(sorted(built))\n")
    assert out == ["[]", "['Veth', '_FileHead']"], out


def test_loading_asks_pydantic_for_no_plugins_unless_told_otherwise() -> None:
    probe = (
        "import atexit, os, sys, importlib.metadata as meta\n"
        "asked = []\n"
        "entry_points = meta.entry_points\n"
        "def spy(**kwargs):\n"
        "    asked.append(kwargs.get('group'))\n"
        "    return entry_points(**kwargs)\n"
        "meta.entry_points = spy\n"
        "atexit.register(lambda: print(asked, os.environ.get('PYDANTIC_DISABLE_PLUGINS')))\n"
        "sys.argv = ['vnet', 'validate', 'examples/lab.yaml']\n"
        "from vnet.cli import run\n"
        "run()\n")
    out = _after(probe)
    # no entry point read, and the environment left as it was (a command vnet runs gets it)
    assert out[-1] == "[] None", out
    # the environment's own choice is kept: `PYDANTIC_DISABLE_PLUGINS=` (empty) asks for all
    out = _after(probe, PYDANTIC_DISABLE_PLUGINS="")
    assert out[-1] == "['pydantic'] ", out
