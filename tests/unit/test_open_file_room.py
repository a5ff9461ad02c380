"""The room a teardown of many namespaces makes for their files (namespaces.room_for_files)."""

from __future__ import annotations

import resource

import pytest

from vnet.door import namespaces


class _Limits:
    def __init__(self, soft: int, hard: int, refuse: bool = False) -> None:
        self.soft, self.hard, self.refuse = soft, hard, refuse
        self.calls: list[tuple[int, int]] = []

    def get(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.soft, self.hard

    def set(self, which: int, limits: tuple[int, int]) -> None:
        assert which == resource.RLIMIT_NOFILE
        self.calls.append(limits)
        if self.refuse:
            raise ValueError("not allowed")
        self.soft, self.hard = limits


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> _Limits:
    lim = _Limits(0, 0)
    monkeypatch.setattr(namespaces.resource, "getrlimit", lim.get)
    monkeypatch.setattr(namespaces.resource, "setrlimit", lim.set)
    monkeypatch.setattr(namespaces.os, "listdir", lambda path: ["0"] * 10)  # 10 files open
    return lim


SPARE = 10 + namespaces.LEAN_OPEN + 16  # open now, sockets, margin


def test_limit_raised_for_the_while_and_put_back(limits: _Limits) -> None:
    limits.soft, limits.hard = 1024, 524288
    with namespaces.room_for_files(1000) as room:
        assert room == 1000
        assert limits.soft == SPARE + 1000
    assert (limits.soft, limits.hard) == (1024, 524288)


def test_enough_room_touches_no_limit(limits: _Limits) -> None:
    limits.soft, limits.hard = 20000, 20000
    with namespaces.room_for_files(1000) as room:
        assert room == 1000
    assert limits.calls == []


def test_a_low_hard_limit_gives_runs_of_what_fits(limits: _Limits) -> None:
    limits.soft, limits.hard = 512, 1024
    with namespaces.room_for_files(5000) as room:
        assert room == 1024 - SPARE
        assert limits.soft == 1024
    assert limits.soft == 512


def test_a_refused_raise_gives_runs_under_the_soft_limit(limits: _Limits) -> None:
    limits.soft, limits.hard, limits.refuse = 1024, 4096, True
    with namespaces.room_for_files(5000) as room:
        assert room == 1024 - SPARE
    assert limits.calls == [(4096, 4096)]


def test_no_room_left_still_goes_one_at_a_time(limits: _Limits) -> None:
    limits.soft, limits.hard = 100, 100
    with namespaces.room_for_files(50) as room:
        assert room == 1


def test_an_unlimited_soft_limit_holds_them_all(limits: _Limits) -> None:
    limits.soft = limits.hard = resource.RLIM_INFINITY
    with namespaces.room_for_files(7) as room:
        assert room == 7
    assert limits.calls == []


def test_an_unlimited_hard_limit_raises_the_soft_one_as_far_as_needed(limits: _Limits) -> None:
    limits.soft, limits.hard = 1024, resource.RLIM_INFINITY
    with namespaces.room_for_files(3000) as room:
        assert room == 3000
        assert limits.soft == SPARE + 3000
    assert limits.soft == 1024
