"""How many pytest-xdist workers the kernel tier's guest runs (scripts/vm_tier.py:
xdist_args) and how its --workers option is read."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _vm_tier() -> ModuleType:
    sys.path.insert(0, str(SCRIPTS))  # vm_tier imports junit_report beside it
    try:
        spec = importlib.util.spec_from_file_location("vnet_vm_tier", SCRIPTS / "vm_tier.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(SCRIPTS))


vm_tier = _vm_tier()


@pytest.mark.parametrize(
    ("cpus", "workers", "expected"),
    [
        (2, None, ["-n", "2", "--dist", "worksteal"]),
        (16, None, ["-n", str(vm_tier.MAX_WORKERS), "--dist", "worksteal"]),
        (1, None, []),
        (2, 0, []),
        (2, 1, []),
        (2, 3, ["-n", "3", "--dist", "worksteal"]),
        (1, 2, ["-n", "2", "--dist", "worksteal"]),
    ],
)
def test_one_worker_per_guest_cpu_unless_told(
    cpus: int, workers: int | None, expected: list[str]
) -> None:
    assert vm_tier.xdist_args(["-k", "bond"], cpus, workers) == expected


@pytest.mark.parametrize(
    "args",
    [["-n", "1"], ["-n3"], ["-nauto"], ["--numprocesses=2"], ["--numprocesses", "2"],
     ["--dist", "load"], ["--dist=loadfile"], ["-p", "no:xdist"], ["-pno:xdist"]],
)
def test_the_callers_own_xdist_choice_wins(args: list[str]) -> None:
    assert vm_tier.xdist_args(["-k", "bond", *args], 4, None) == []
    assert vm_tier.xdist_args(args, 4, 3) == []


def test_other_arguments_do_not_count_as_a_choice() -> None:
    args = ["-k", "no-xdist", "--no-header", "-x", "--durations=5"]
    assert vm_tier.xdist_args(args, 2, None) == ["-n", "2", "--dist", "worksteal"]


def test_workers_option_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert vm_tier._workers("0") == 0
    assert vm_tier._workers("3") == 3
    monkeypatch.setenv("VNET_VM_WORKERS", "two")
    with pytest.raises(SystemExit) as exit_info:
        vm_tier.main(["--guest"])
    assert exit_info.value.code == 2


def test_bad_workers_value_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        vm_tier.main(["--workers", "-1"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "a whole number of workers is needed" in err and "'-1'" in err


def test_a_termination_signal_ends_the_tier_by_systemexit_so_the_vm_is_stopped() -> None:
    import os
    import signal
    vm_tier = _vm_tier()
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        vm_tier.exit_on_termination()
        for sig in before:
            with pytest.raises(SystemExit) as ended:
                os.kill(os.getpid(), sig)
            assert ended.value.code == 128 + sig
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
