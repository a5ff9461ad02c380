"""SIGINT, SIGTERM and SIGHUP while vnet changes the kernel.

A signal must not cut a run in the middle of a step: the CLI installs `handling()` around
`apply` and `destroy`, whose handler only notes the signal; `apply.execute_plan` looks at
`requested()` between steps and, when one came, rolls back what it did (an apply) or stops
(a destroy, which a second run finishes) and raises `Interrupted`. Another signal during the
rollback is explained on stderr; a second one within `ABANDON_WINDOW` seconds abandons it
(`RollbackAbandoned`), leaving the journal (`journal.py`) for the next run. Without
`handling()` (the Python API, tests) nothing is installed and `requested()` is always None.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import VnetError

#: typing.TYPE_CHECKING without importing `typing` (the CLI imports this module at start)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: seconds within which a second signal during a rollback abandons it
ABANDON_WINDOW = 2.0


class Interrupted(VnetError):
    """A signal stopped a run between two steps; what was done is rolled back (`undone`
    steps; `failures` says what could not be) or, for a destroy, left for a rerun
    (`rolled_back` False, `done` of `total` steps carried out)."""

    def __init__(self, signum: int, rolled_back: bool, undone: int, failures: list[str],
                 done: int = 0, total: int = 0) -> None:
        self.signum = signum
        self.rolled_back = rolled_back
        self.undone = undone
        self.failures = failures
        self.done = done
        self.total = total
        name = signal.Signals(signum).name
        if not rolled_back:
            text = f"interrupted by {name} after {done} of {total} steps"
        elif failures:
            text = (f"interrupted by {name}, rolled back {undone} steps; rollback incomplete: "
                    + "; ".join(failures))
        else:
            text = f"interrupted by {name}, rolled back {undone} steps"
        super().__init__(text)

    @property
    def status(self) -> int:
        """The exit status: the shell's 128 + the signal's number (130 SIGINT, 143 SIGTERM,
        129 SIGHUP)."""
        return 128 + self.signum


class RollbackAbandoned(BaseException):
    """A second signal during a rollback: the user chose to leave it unfinished. A
    BaseException, like KeyboardInterrupt, so that no cleanup on the way swallows it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


class _State:
    received: int | None = None
    rolling_back = False
    last_during_rollback = 0.0


_state = _State()


def requested() -> int | None:
    """The signal received since `handling()` began, if any."""
    return _state.received


def _say(text: str) -> None:
    # os.write: a handler may run in the middle of a print to stderr
    try:
        os.write(2, (text + "\n").encode())
    except OSError:
        pass


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.received is None:
        _state.received = signum
        return
    if not _state.rolling_back:
        _say(f"vnet: {signal.Signals(signum).name} again: stopping at the next step and "
             "rolling back what was done")
        return
    now = time.monotonic()
    if now - _state.last_during_rollback <= ABANDON_WINDOW:
        raise RollbackAbandoned(signum)
    _state.last_during_rollback = now
    _say("vnet: rollback in progress; press Ctrl-C again within 2 s to abandon it, "
         "leaving the journal for the next apply/destroy")


@contextmanager
def handling() -> Iterator[None]:
    """Note SIGINT, SIGTERM and SIGHUP instead of dying of them, meanwhile."""
    old: dict[signal.Signals, Any] = {}
    _state.received = None
    _state.rolling_back = False
    for sig in SIGNALS:
        old[sig] = signal.signal(sig, _handler)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        _state.received = None  # outside, nothing is noted: requested() is None again


@contextmanager
def rolling_back() -> Iterator[None]:
    """Meanwhile a second signal is explained, and a third within the window abandons."""
    _state.rolling_back = True
    _state.last_during_rollback = 0.0
    try:
        yield
    finally:
        _state.rolling_back = False
