"""Running the `vnet` command in-process for the CLI tests (test_cli.py, test_cli_output.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vnet.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`vnet ARGV...`: its exit code, standard output and standard error."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def written(tmp_path: Path, name: str, text: str) -> Path:
    """A topology file of `text` in the test's directory."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
