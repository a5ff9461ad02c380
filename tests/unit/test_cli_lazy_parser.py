"""The command line builds the options of the command that runs alone (`build_parser(word)`):
every help text, choice and parse must be what the whole parser gives."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from vnet.cli import build_parser

FULL = build_parser()


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _outcome(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[str, str]:
    """What parsing `argv` gives: the namespace (or the exit code) and what was printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result = repr(sorted(vars(parser.parse_args(argv)).items(), key=str))
        except SystemExit as exc:
            result = f"exit {exc.code}"
    return result, out.getvalue() + err.getvalue()


def test_the_top_level_help_and_command_list_are_the_whole_parsers() -> None:
    lazy = build_parser("")
    assert lazy.format_help() == FULL.format_help()
    assert sorted(_commands(lazy)) == sorted(_commands(FULL))
    assert lazy.parse_args([]).command_names == FULL.parse_args([]).command_names


@pytest.mark.parametrize("name", sorted(_commands(FULL)))
def test_each_command_gets_the_whole_parsers_options_and_help(name: str) -> None:
    lazy = build_parser(name)
    assert _commands(lazy)[name].format_help() == _commands(FULL)[name].format_help()
    assert _outcome(lazy, [name, "--help"]) == _outcome(FULL, [name, "--help"])


@pytest.mark.parametrize("argv", [
    ["validate", "lab.yaml"],
    ["-q", "apply", "--wait", "lab.yaml"],
    ["up", "-v", "--replace", "lab.yaml"],
    ["down", "lab", "--force"],
    ["impair", "lab", "h1/eth0", "--delay", "40ms", "--direction", "both"],
    ["export", "lab.yaml", "--to", "ip"],
    ["export", "lab.yaml"],  # --to missing: the same error
    ["show", "--bogus"],
    ["lab.yaml", "validate"],  # no such command: the same error
    ["--version"],
])
def test_a_command_line_parses_as_with_the_whole_parser(argv: list[str]) -> None:
    word = next((w for w in argv if not w.startswith("-")), "")
    assert _outcome(build_parser(word), argv) == _outcome(FULL, argv)
