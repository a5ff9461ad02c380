"""The README is held to the code: every YAML block loads, every console session prints what
it shows, every command of the command table exists (and every command has a row), and the
second of the two opening commands is what CI runs. The first opening command (install, apply,
show) runs in the live tier: tests/live/test_readme_live.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from vnet.checks import Check
from vnet.cli import build_parser
from vnet.events import Event
from vnet.loader import load_text
from vnet.model import Route

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(lang: str) -> list[str]:
    return [body for kind, body in _BLOCK.findall(README) if kind == lang]


def opening_commands() -> list[str]:
    return blocks("sh")[:2]


def test_the_readme_opens_with_the_two_commands() -> None:
    first = README.split("\n## ")[0]
    assert first.count("```sh") == 2, "the README opens with exactly two commands"
    install, tests = (c.strip() for c in opening_commands())
    assert "pip install" in install and "vnet apply examples/" in install
    assert tests == "bash scripts/test-all.sh"


def test_ci_runs_the_readmes_second_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "exec bash scripts/test-all.sh" in ci


_FRAGMENT_MODELS: dict[str, Any] = {"checks": Check, "routes": Route, "events": Event}


@pytest.mark.parametrize("text", blocks("yaml"), ids=lambda t: t.split("\n")[0][:30])
def test_every_yaml_block_is_valid(text: str) -> None:
    """A whole file (it starts with `name:`) loads as vnet loads it; a fragment (`checks:`...)
    is a list whose items each validate as that list's entries do."""
    if text.startswith("name:"):
        load_text(text, "README.md")
        return
    data = yaml.safe_load(text)
    assert isinstance(data, dict) and set(data) <= set(_FRAGMENT_MODELS), \
        f"a README fragment must be one of {sorted(_FRAGMENT_MODELS)}: {text[:80]}"
    for key, items in data.items():
        for item in items:
            _FRAGMENT_MODELS[key].model_validate(item)


def _sessions() -> list[tuple[str, str]]:
    """(command, expected output) of every `$ ` line of the console blocks."""
    out = []
    for body in blocks("console"):
        parts = re.split(r"^\$ (.*)\n", body, flags=re.M)
        assert parts[0] == "", f"a console block starts with a `$ ` command: {body[:60]}"
        out += list(zip(parts[1::2], parts[2::2], strict=True))
    return out


@pytest.mark.parametrize(("command", "expected"), _sessions(), ids=lambda x: x[:40])
def test_every_console_session_prints_what_the_readme_shows(command: str, expected: str) -> None:
    argv = command.split()
    assert argv[0] == "vnet", "console sessions run vnet commands that need no root"
    proc = subprocess.run([sys.executable, "-m", "vnet", *argv[1:]], cwd=ROOT,
                          capture_output=True, text=True, env={"COLUMNS": "200", "PATH": ""})
    assert proc.stdout + proc.stderr == expected


def _table_commands() -> set[str]:
    section = README.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in section.splitlines():
        found = re.match(r"\| `vnet ([a-z][a-z-]*)", row)
        if found:
            names.add(found.group(1))
    return names


def test_the_command_table_names_exactly_the_commands_vnet_has() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    choices: dict[str, Any] = sub.choices  # type: ignore[assignment]
    # an alias (up, down) shares its command's parser, named after the command; helpers
    # for the shell's completion start with '_' and are not for people
    commands = {name for name, p in choices.items()
                if p.prog == f"vnet {name}" and not name.startswith("_")}
    assert _table_commands() == commands


def test_the_examples_without_checks_are_the_ones_the_readme_names() -> None:
    without = sorted(p.name for p in (ROOT / "examples").glob("*.yaml")
                     if "checks" not in (yaml.safe_load(p.read_text(encoding="utf-8")) or {}))
    sentence = README.split("\n## Checks", 1)[1].split("\n## ", 1)[0]
    named = sorted(re.findall(r"`([a-z0-9-]+\.yaml)`", sentence.split("all but", 1)[1]))
    assert named == without
