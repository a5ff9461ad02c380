"""`vnet` (cli.run) keeps a loaded topology until the process ends, which then exits without
freeing it; callers of `cli.main` (tests, programs) keep nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from vnet import cli

LAB = str(Path(__file__).resolve().parents[2] / "examples" / "lab.yaml")


def test_a_command_run_by_vnet_keeps_its_topology(monkeypatch: pytest.MonkeyPatch) -> None:
    kept: list[object] = []
    monkeypatch.setattr(cli, "_KEPT", kept)
    topo = cli._load(LAB)
    assert kept == [topo]


def test_a_caller_of_main_keeps_nothing(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_KEPT", None)
    assert cli.main(["validate", LAB]) == 0
    assert cli._KEPT is None
    assert "lab" in capsys.readouterr().out
