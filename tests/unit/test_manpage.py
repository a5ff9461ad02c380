"""vnet(1) is generated from the parser (scripts/gen_man.py): the checked-in man/vnet.1 must be
what the generator prints now, and must render without a warning."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from vnet.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "man" / "vnet.1"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_man", ROOT / "scripts" / "gen_man.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checked_in_page_is_what_the_parser_gives() -> None:
    assert PAGE.read_text(encoding="utf-8") == _generator().generate(), (
        "man/vnet.1 is stale: run `.venv/bin/python scripts/gen_man.py` and commit it")


def test_the_page_names_every_command_and_option() -> None:
    text = PAGE.read_text(encoding="utf-8")
    gen = _generator()
    names = [name for name, *_ in gen.commands(build_parser())]
    assert {"apply", "destroy", "completion"} <= set(names)
    for name in names:
        assert f"\n.SS {name}\n" in text
    assert "__complete" not in text  # the completion scripts' helper is for no person
    assert "\\fB\\-\\-check\\fR" in text and "(also: up)" in text


@pytest.mark.skipif(not shutil.which("groff"), reason="groff is not installed "
                    "(Debian: groff-base)")
def test_the_page_renders_without_warnings() -> None:
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", str(PAGE)], capture_output=True,
                          text=True, check=True, timeout=60)
    assert proc.stderr == ""
    text = re.sub(".\b", "", proc.stdout)  # no bold or underline by overstriking
    assert "vnet - one YAML file to Linux virtual networks" in text
    assert "EXIT STATUS" in text and "vnet apply [-h]" in text
