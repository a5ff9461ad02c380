"""pydantic's plugin loader stood in for while the CLI loads a file (vnet.plugins_off): the
saving (no `importlib.metadata`), the fallback to pydantic's own loader, and a user's own
PYDANTIC_DISABLE_PLUGINS left to pydantic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: what pydantic's own plugin loader imports at its top
METADATA = ("importlib.metadata", "email.message", "pydantic.plugin._loader")


def _run(code: str, **env: str) -> list[str]:
    """The output lines of `code` in a fresh interpreter, PYDANTIC_DISABLE_PLUGINS unset unless
    `env` sets it."""
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, cwd=ROOT, env={**environ, **env}).stdout.splitlines()


def _validate_then(report: str) -> str:
    """`vnet validate examples/lab.yaml` in this interpreter, then `report` printed at exit."""
    return ("import atexit, os, sys\n"
            f"atexit.register(lambda: print({report}))\n"
            "sys.argv = ['vnet', 'validate', 'examples/lab.yaml']\n"
            "from vnet.cli import run\n"
            "run()\n")


def _loaded(names: tuple[str, ...]) -> str:
    return f"' '.join(n for n in {names!r} if n in sys.modules)"


def test_validating_a_file_does_not_import_pydantics_plugin_loader_nor_its_metadata() -> None:
    baseline = set(_run(f"import sys\nprint({_loaded(METADATA)})")[-1].split())
    out = _run(_validate_then(_loaded(METADATA)))
    assert out[0].startswith("examples/lab.yaml: valid"), out
    assert set(out[-1].split()) <= baseline, out


def test_a_user_who_disables_plugins_themselves_gets_pydantics_own_loader() -> None:
    # the environment's choice is pydantic's to read: its own loader, importlib.metadata with it
    out = _run(_validate_then(_loaded(METADATA)), PYDANTIC_DISABLE_PLUGINS="__all__")
    assert out[-1].split() == list(METADATA), out


def test_after_loading_pydantic_gets_its_own_loader_and_reads_the_environment_again() -> None:
    # a model built after the load (the stand-in withdrawn, the variable unset) asks pydantic's
    # own loader, which reads the entry points as it would without vnet
    code = ("import os, sys, importlib.metadata as meta\n"
            "asked = []\n"
            "entry_points = meta.entry_points\n"
            "meta.entry_points = lambda **kw: asked.append(kw.get('group')) or entry_points(**kw)\n"
            "from vnet.cli import _load, _no_pydantic_plugins\n"
            "_load('examples/lab.yaml')\n"
            "loader = sys.modules.get('pydantic.plugin._loader')\n"
            "print(asked, loader)\n"
            "from pydantic import BaseModel\n"
            "class Later(BaseModel):\n"
            "    x: int\n"
            "Later(x=1)\n"
            "own = sys.modules['pydantic.plugin._loader']\n"
            "print(asked, type(own).__name__, own.__file__.endswith('_loader.py'))\n")
    out = _run(code)
    assert out == ["[] None", "['pydantic'] module True"], out


def test_the_stand_in_answers_none_while_plugins_are_off_and_falls_back_otherwise() -> None:
    code = ("import os, sys, pydantic.main\n"
            "from vnet import plugins_off\n"
            "os.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\n"
            "print(plugins_off.stand_in(), plugins_off.stand_in())\n"
            "standin = sys.modules[plugins_off.LOADER]\n"
            "from pydantic.plugin._loader import get_plugins\n"
            "print(tuple(get_plugins()), 'importlib.metadata' in sys.modules)\n"
            # a name the stand-in lacks: pydantic's own loader, put back in its place
            "print(standin.PYDANTIC_ENTRY_POINT_GROUP,\n"
            "      sys.modules[plugins_off.LOADER] is standin)\n"
            "plugins_off.withdraw()\n"
            "print(type(sys.modules[plugins_off.LOADER]).__name__)\n")
    out = _run(code)
    assert out == ["True False", "() False", "pydantic False", "module"], out


def test_get_plugins_asked_with_plugins_on_again_is_pydantics_own_answer() -> None:
    code = ("import os, sys, pydantic.main\n"
            "import importlib.metadata as meta\n"
            "asked = []\n"
            "entry_points = meta.entry_points\n"
            "meta.entry_points = lambda **kw: asked.append(kw.get('group')) or entry_points(**kw)\n"
            "from vnet import plugins_off\n"
            "os.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\n"
            "plugins_off.stand_in()\n"
            "standin = sys.modules[plugins_off.LOADER]\n"
            "del os.environ['PYDANTIC_DISABLE_PLUGINS']\n"
            "list(standin.get_plugins())\n"
            "print(asked, sys.modules[plugins_off.LOADER] is standin)\n")
    assert _run(code) == ["['pydantic'] False"]


def test_a_pydantic_the_stand_in_does_not_know_keeps_its_own_loader() -> None:
    # a pydantic without `plugin/_loader.py` where the stand-in expects it (its internals
    # moved): nothing is stood in for, pydantic imports what it imports
    code = ("import os, sys, pydantic.main\n"
            "from vnet import plugins_off\n"
            "isfile = os.path.isfile\n"
            "os.path.isfile = lambda path: False\n"
            "print(plugins_off.stand_in(), plugins_off.LOADER in sys.modules)\n"
            "os.path.isfile = isfile\n"
            "sys.modules['pydantic.version'].VERSION = '3.0.0'\n"
            "print(plugins_off.stand_in())\n")
    assert _run(code) == ["False False", "False"]
