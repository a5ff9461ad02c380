"""The intent journal and signals, on the in-memory kernel: what a run announces before it
creates, what the next run finishes from it, and how a signal between two steps rolls back
(apply) or stops (destroy). The live proof, with real kills, is tests/live/test_crash.py."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

import vnet
from vnet import api, interrupt, journal
from vnet.actions import Request
from vnet.apply import execute_plan, recover
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.interrupt import Interrupted, RollbackAbandoned
from vnet.ownership import link_marker, netns_marker
from vnet.plan import plan_changes
from vnet.store import read_record as store_record

LAB = """
name: jn
namespaces: [a, b]
interfaces:
  - {name: br0, kind: bridge, netns: a, addresses: [192.0.2.1/24]}
  - {name: v0, kind: veth, netns: a, peer: {name: v1, netns: b}}
  - {name: r0, kind: veth, peer: {name: r1, netns: b}}
"""


def _planned(fake: FakeKernel) -> Any:
    topo = vnet.load_text(LAB, "lab.yaml")
    return plan_changes(topo, fake.observe(Scope([None, *topo.namespaces])))


def test_pending_lists_what_was_announced_and_never_done(private_state_dir: str) -> None:
    notes = journal.Journal("jn")
    notes.intend(0, [journal.Creation(journal.NETNS, None, "a")])
    notes.done(0)
    notes.intend(1, [journal.Creation(journal.LINK, "a", "v0"),
                     journal.Creation(journal.LINK, "b", "v1")])
    notes.close(keep=True)
    with open(journal.path("jn"), "a") as fh:  # a line cut short by a kill
        fh.write('{"k":2,"create":[["link",nu')
    assert journal.pending("jn") == [journal.Creation(journal.LINK, "a", "v0"),
                                     journal.Creation(journal.LINK, "b", "v1")]
    assert journal.pending("other") == []


def test_only_a_step_that_announced_creations_writes_its_end(private_state_dir: str) -> None:
    # an address or a state change creates nothing: its end would say nothing `pending` uses
    # (steps in another namespace than the one before are not sent in one batch with it)
    topo = vnet.load_text("""
name: jn
namespaces: [a]
interfaces:
  - {name: br0, kind: bridge}
  - {name: e0, kind: veth, netns: a, addresses: [192.0.2.1/24], peer: {name: p0, master: br0}}
""", "star.yaml")
    fake = FakeKernel()
    plan = plan_changes(topo, fake.observe(Scope([None, *topo.namespaces])))
    written: list[dict[str, Any]] = []
    notes = journal.Journal("jn")
    real = notes._write
    notes._write = lambda entry: (written.append(entry), real(entry))  # type: ignore
    execute_plan(plan, fake, journal=notes)
    announced = [e["k"] for e in written if "create" in e]
    ended = [e["k"] for e in written if "create" not in e]
    assert len(announced) == 2 and ended == announced, written
    assert not journal.exists("jn") and not plan_changes(
        topo, fake.observe(Scope([None, *topo.namespaces]))).has_changes


def test_creations_names_both_ends_of_a_pair() -> None:
    reqs = [Request("netns.add", None, {"name": "a", "marker": "vnet.jn"}),
            Request("link.add", "a", {"ifname": "v0", "kind": "veth", "marker": None,
                                      "info_data": {}, "peer": {"ifname": "v1", "netns": "b"}}),
            Request("addr.add", "a", {"ifname": "v0", "address": "192.0.2.1/24"})]
    assert journal.creations(reqs) == [journal.Creation(journal.NETNS, None, "a"),
                                       journal.Creation(journal.LINK, "a", "v0"),
                                       journal.Creation(journal.LINK, "b", "v1")]


def test_a_run_that_ends_removes_its_journal(private_state_dir: str) -> None:
    fake = FakeKernel()
    execute_plan(_planned(fake), fake, journal=journal.Journal("jn"))
    assert not journal.exists("jn")
    assert not _planned(fake).has_changes


def test_recover_deletes_only_the_unmarked_objects_a_dead_run_announced(
        private_state_dir: str) -> None:
    fake = FakeKernel()
    fake.add_netns("a", netns_marker("jn"))
    fake.add_link("a", "half", "bridge")                               # made, never marked
    fake.add_link("a", "whole", "bridge", altnames=[link_marker("jn", "whole")])
    fake.add_link("a", "theirs", "bridge")                             # not announced
    fake.add_link(None, "root-half", "bridge")
    notes = journal.Journal("jn")
    notes.intend(3, [journal.Creation(journal.LINK, "a", n) for n in ("half", "whole")]
                 + [journal.Creation(journal.LINK, None, "root-half"),
                    journal.Creation(journal.LINK, "gone", "x"),
                    journal.Creation(journal.NETNS, None, "never-made")])
    notes.close(keep=True)
    removed = recover("jn", fake)
    assert removed == ["link a/half", "link root-half"]
    links = fake.observe(Scope([None, "a"]))
    assert set(links.namespaces["a"].links) == {"lo", "whole", "theirs"}
    assert set(links.namespaces[None].links) == {"lo"}
    assert not journal.exists("jn")
    assert recover("jn", fake) == []  # nothing left to finish


def test_recover_leaves_a_done_step_alone(private_state_dir: str) -> None:
    fake = FakeKernel()
    fake.add_link(None, "done", "bridge")
    notes = journal.Journal("jn")
    notes.intend(0, [journal.Creation(journal.LINK, None, "done")])
    notes.done(0)
    notes.close(keep=True)
    assert recover("jn", fake) == []
    assert "done" in fake.observe(Scope([None])).namespaces[None].links


@pytest.fixture
def signalled(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make `interrupt.requested()` answer SIGINT from the `n`th question on."""
    def arm(n: int, signum: int = signal.SIGINT) -> None:
        asked = iter(range(10_000))
        monkeypatch.setattr(interrupt, "requested",
                            lambda: signum if next(asked) >= n else None)
    return arm


@pytest.mark.parametrize("at", [0, 1, 3])
def test_a_signal_between_steps_rolls_back_everything(at: int, signalled: Any,
                                                      private_state_dir: str) -> None:
    fake = FakeKernel()
    before = fake.state()
    the_plan = _planned(fake)
    signalled(at, signal.SIGTERM)
    with pytest.raises(Interrupted) as caught:
        execute_plan(the_plan, fake, journal=journal.Journal("jn"))
    assert fake.state() == before
    assert caught.value.status == 143
    assert str(caught.value).startswith("interrupted by SIGTERM, rolled back")
    assert not journal.exists("jn")


def test_a_signal_stops_a_destroy_for_a_rerun_to_finish(signalled: Any,
                                                        private_state_dir: str) -> None:
    fake = FakeKernel()
    topo = vnet.load_text(LAB, "lab.yaml")
    api.apply(topo, backend=fake)
    signalled(0)
    with pytest.raises(Interrupted) as caught:
        api.destroy("jn", backend=fake)
    assert not caught.value.rolled_back and caught.value.status == 130
    assert fake.list_netns() == {"a", "b"}  # stopped before its first step
    signalled(10_000)
    api.destroy("jn", backend=fake)
    assert fake.list_netns() == set()


def test_signals_during_a_rollback_are_explained_then_abandon_it(
        capfd: pytest.CaptureFixture[str]) -> None:
    with interrupt.handling():
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupt.requested() == signal.SIGINT
        with interrupt.rolling_back():
            os.kill(os.getpid(), signal.SIGINT)  # explained
            assert "press Ctrl-C again within 2 s to abandon it" in capfd.readouterr().err
            with pytest.raises(RollbackAbandoned):
                os.kill(os.getpid(), signal.SIGINT)  # again at once: abandoned
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_abandoned_rollback_keeps_the_journal(private_state_dir: str, signalled: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKernel()
    the_plan = _planned(fake)

    def abandon(done: Any, backend: Any) -> list[str]:
        raise RollbackAbandoned(signal.SIGINT)
    monkeypatch.setattr("vnet.apply.rollback", abandon)
    signalled(2)
    with pytest.raises(RollbackAbandoned):
        execute_plan(the_plan, fake, journal=journal.Journal("jn"))
    assert journal.exists("jn")


EXTERNAL = """
name: jx
interfaces:
  - {name: br9, kind: bridge}
  - {name: eth9, external: true, master: br9, mtu: 1400}
"""


class _Killed(BaseException):
    """The stand-in for a kill -9 in the middle of a run."""


def test_a_run_that_dies_keeps_the_originals_destroy_puts_back(private_state_dir: str) -> None:
    fake = FakeKernel()
    fake.add_link(None, "eth9", "veth", mtu=1500, up=False)
    before = fake.state()
    seen: list[str] = []

    def die_at_the_second_change(req: Request) -> None:
        seen.append(req.op)
        if req.args.get("ifname") == "eth9" and len([o for o in seen if o.startswith(
                "link.")]) >= 3:
            raise _Killed()
    fake.fail_on = die_at_the_second_change
    with pytest.raises(_Killed):
        api.apply(vnet.load_text(EXTERNAL, "x.yaml"), backend=fake)
    assert journal.exists("jx")
    assert store_record("jx").externals  # the originals are on disk before any change
    fake.fail_on = None
    api.destroy("jx", backend=fake)
    assert fake.state() == before
    assert not journal.exists("jx")


def test_a_run_rolled_back_in_full_leaves_the_old_record(private_state_dir: str,
                                                         signalled: Any) -> None:
    fake = FakeKernel()
    fake.add_link(None, "eth9", "veth", mtu=1500, up=False)
    signalled(2)
    with pytest.raises(Interrupted):
        api.apply(vnet.load_text(EXTERNAL, "x.yaml"), backend=fake)
    assert store_record("jx").is_empty() and store_record("jx").source is None
