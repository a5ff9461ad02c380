"""Apply is all or nothing: on the in-memory kernel, fail each action in turn and check the kernel
is exactly as before, and that the error names the failed action and the kernel's errno."""

from __future__ import annotations

import errno
import os
from typing import Any

import pytest
from conftest import TOPO

import vnet
from vnet import api
from vnet.apply import execute_plan
from vnet.door.fake import FakeKernel, NotModelled
from vnet.door.protocol import Scope
from vnet.errors import ApplyError, ConflictError, KernelError
from vnet.plan import Plan, plan_changes
from vnet.store import read_record

LAB = f"""
name: {TOPO}
namespaces: [sw, h1, h2]
interfaces:
  - name: br0
    kind: bridge
    netns: sw
    stp_state: false
    addresses: [192.0.2.254/24]
  - name: up0
    kind: veth
    netns: sw
    peer: {{name: up1, netns: h2}}
  - name: st0
    kind: stacked
    link: up0
    netns: sw
  - name: h1-eth0
    kind: veth
    netns: h1
    addresses: [192.0.2.1/24, 2001:db8::1/64]
    peer: {{name: h1-port, netns: sw, master: br0}}
  - name: h2-eth0
    kind: veth
    netns: h2
    mtu: 1400
    addresses: [192.0.2.2/24]
    peer: {{name: h2-port, netns: sw, master: br0, mtu: 1400}}
  - name: br9
    kind: bridge
  - name: eth9
    external: true
    master: br9
    addresses: [198.51.100.9/24]
    state: up
routes:
  - {{netns: h1, to: default, via: 192.0.2.254}}
  - {{netns: h2, to: 203.0.113.0/24, via: 192.0.2.254, metric: 5}}
"""


def _kernel() -> FakeKernel:
    """A kernel holding a host NIC (the external) and an unrelated namespace."""
    fake = FakeKernel()
    fake.add_link(None, "eth9", "veth", mtu=1500, up=False)
    fake.add_netns("someone-else")
    return fake


def _plan(fake: FakeKernel) -> Plan:
    topo = vnet.load_text(LAB, "lab.yaml")
    return plan_changes(topo, fake.observe(Scope([None, *topo.namespaces])))


def _count_actions() -> int:
    # the fixture that registers the test kind is not active at collection time
    from conftest import Stacked

    from vnet import kinds
    kinds.REGISTRY["stacked"] = Stacked
    try:
        return len(_plan(_kernel()).actions)
    finally:
        kinds.REGISTRY.pop("stacked", None)


N_ACTIONS = _count_actions()


def test_the_plan_applies_fully_and_then_is_empty(stacked_kind: Any) -> None:
    fake = _kernel()
    plan = _plan(fake)
    journal = execute_plan(plan, fake)
    assert journal == plan.actions
    again = plan_changes(vnet.load_text(LAB), fake.observe(Scope([None, "sw", "h1", "h2"])),
                         plan.record)
    assert again.actions == []
    sw = fake.read_netns("sw")
    assert sw.links["h1-port"].master == "br0" and sw.links["st0"].up


@pytest.mark.parametrize("n", range(N_ACTIONS))
def test_failure_at_any_action_leaves_the_kernel_as_it_was(n: int, stacked_kind: Any) -> None:
    fake = _kernel()
    plan = _plan(fake)
    assert len(plan.actions) == N_ACTIONS
    before = fake.state()
    failing = plan.actions[n]
    fake.fail_on = lambda req: errno.EBUSY if req is failing.do[0] else None
    with pytest.raises(ApplyError) as info:
        execute_plan(plan, fake)
    assert fake.state() == before
    err = info.value
    assert err.undone == n and err.undo_failures == []
    assert err.failed.errno == errno.EBUSY
    text = str(err)
    assert f"{failing.verb} {failing.subject}" in text
    assert os.strerror(errno.EBUSY) in text  # the errno in words
    assert "EBUSY" in text
    assert "kernel is as it was before apply" in text


def test_changes_in_place_are_undone(stacked_kind: Any) -> None:
    fake = _kernel()
    execute_plan(_plan(fake), fake)
    changed = (LAB.replace("stp_state: false", "stp_state: true")          # change
               .replace("    mtu: 1400\n    addresses", "    mtu: 1300\n    addresses")
               .replace("2001:db8::1/64", "2001:db8::7/64")                 # remove + create
               .replace("{name: up1, netns: h2}", "{name: up1}")            # replace
               .replace("via: 192.0.2.254, metric: 5", "via: 192.0.2.253, metric: 5"))
    topo = vnet.load_text(changed)
    plan = plan_changes(topo, fake.observe(Scope([None, *topo.namespaces])), read_record(TOPO))
    verbs = {a.verb for a in plan.actions}
    assert {"change", "replace", "remove", "create"} <= verbs
    before = fake.state()
    # the last action fails: everything before it is undone, newest first
    last = plan.actions[-1].do[0]
    fake.fail_on = lambda req: req is last
    with pytest.raises(ApplyError) as info:
        execute_plan(plan, fake)
    # a replaced link cannot be brought back exactly: the error says so instead of lying
    if any(a.undo_gap for a in plan.actions[:-1]):
        assert info.value.undo_failures
        assert "rollback incomplete" in str(info.value)
    else:
        assert fake.state() == before


def test_in_place_changes_only_roll_back_exactly() -> None:
    fake = FakeKernel()
    # the fake reports only the attributes it was given (a real bridge reports them all):
    # start with stp_state known so its undo has the old value
    text = f"name: {TOPO}\ninterfaces:\n  - {{name: br0, kind: bridge, mtu: 1500, " \
           "stp_state: false, addresses: [192.0.2.1/24]}\n"
    execute_plan(plan_changes(vnet.load_text(text), fake.observe(Scope([None]))), fake)
    new = text.replace("mtu: 1500", "mtu: 9000").replace("false", "true").replace(
        "192.0.2.1/24", "192.0.2.7/24")
    plan = plan_changes(vnet.load_text(new), fake.observe(Scope([None])))
    assert [a.verb for a in plan.actions] == ["remove", "change", "create"]
    before = fake.state()
    fake.fail_at(3, errno.EADDRINUSE)
    with pytest.raises(ApplyError) as info:
        execute_plan(plan, fake)
    assert fake.state() == before
    assert info.value.failed.errno == errno.EADDRINUSE
    assert "Address already in use" in str(info.value)


def test_failed_undo_is_reported_not_hidden() -> None:
    fake = FakeKernel()
    plan = plan_changes(vnet.load_text(f"name: {TOPO}\nnamespaces: [a, b]\n"),
                        fake.observe(Scope([None])))
    calls = {"n": 0}

    def fail(req: Any) -> int | None:
        calls["n"] += 1
        if req.op == "netns.add" and req.args["name"] == "b":
            return errno.ENOSPC
        if req.op == "netns.del":
            return errno.EBUSY
        return None
    fake.fail_on = fail
    with pytest.raises(ApplyError) as info:
        execute_plan(plan, fake)
    err = info.value
    assert err.undo_failures and "undo of create namespace a failed" in err.undo_failures[0]
    assert "rollback incomplete" in str(err)
    assert "No space left on device" in str(err)


def test_progress_reporter_sees_every_action() -> None:
    fake = FakeKernel()
    plan = plan_changes(vnet.load_text(f"name: {TOPO}\nnamespaces: [a, b]\n"),
                        fake.observe(Scope([None])))
    seen: list[tuple[str, int, int]] = []
    execute_plan(plan, fake, lambda action, i, total: seen.append((action.subject, i, total)))
    assert seen == [("namespace a", 0, 2), ("namespace b", 1, 2)]


# ---- the fake kernel's own rules (what rollback tests rely on) -------------------------------

def test_fake_refuses_like_the_kernel() -> None:
    from vnet.actions import Request
    fake = FakeKernel()
    fake.send([Request("link.add", None, {"ifname": "br0", "kind": "bridge", "marker": None,
                                          "info_data": {}})])
    with pytest.raises(KernelError) as info:
        fake.send([Request("link.add", None, {"ifname": "br0", "kind": "bridge",
                                              "marker": None, "info_data": {}})])
    assert info.value.errno == errno.EEXIST
    with pytest.raises(KernelError) as info:
        fake.send([Request("link.master", None, {"ifname": "nope", "master": "br0"})])
    assert info.value.errno == errno.ENODEV
    with pytest.raises(KernelError) as info:
        fake.send([Request("route.add", None, {"to": "default", "via": "192.0.2.1", "dev": None,
                                               "metric": 0, "table": 254, "family": 4})])
    assert info.value.errno == errno.ENETUNREACH
    with pytest.raises(ValueError, match="unknown operation 'bogus.op'"):
        Request("bogus.op", None, {})  # refused when built, before any kernel sees it


def test_fake_deletes_what_the_kernel_deletes_along() -> None:
    from vnet.actions import Request
    fake = FakeKernel()
    fake.send([
        Request("netns.add", None, {"name": "a", "marker": "vnet.x"}),
        Request("link.add", None, {"ifname": "br0", "kind": "bridge", "marker": None,
                                   "info_data": {}}),
        Request("link.add", "a", {"ifname": "v0", "kind": "veth", "marker": None,
                                  "info_data": {}, "peer": {"ifname": "v1", "netns": None}}),
        Request("link.master", None, {"ifname": "v1", "master": "br0"}),
    ])
    assert fake.netns_owner("a") == "x"
    assert fake.read_netns(None).links["v1"].master == "br0"
    with pytest.raises(NotModelled, match="does not model tc.qdisc_add"):
        fake.send([Request("tc.qdisc_add", None, {"ifname": "br0"})])
    fake.send([Request("netns.del", None, {"name": "a"})])
    assert "v1" not in fake.read_netns(None).links  # the peer went with the namespace
    assert fake.list_netns() == set()


# ---- the API on the fake backend ------------------------------------------------------------

def test_api_apply_plan_destroy_on_the_fake(stacked_kind: Any, private_state_dir: str) -> None:
    fake = _kernel()
    before = fake.state()
    topo = vnet.load_text(LAB, "lab.yaml")
    assert api.plan(topo, backend=fake).has_changes
    assert fake.state() == before  # plan changes nothing
    applied = api.apply(topo, backend=fake)
    assert applied.has_changes
    assert os.path.exists(os.path.join(private_state_dir, f"{TOPO}.json"))  # external record
    assert not api.plan(topo, backend=fake).has_changes
    assert not api.apply(topo, backend=fake).has_changes
    rows = api.show(TOPO, backend=fake)
    assert {(r.netns, r.name) for r in rows} >= {("sw", "br0"), ("h1", "h1-eth0"), (None, "eth9")}
    destroyed = api.destroy(TOPO, backend=fake)
    assert destroyed.has_changes
    assert fake.state() == before
    assert not os.path.exists(os.path.join(private_state_dir, f"{TOPO}.json"))
    assert not api.destroy(TOPO, backend=fake).has_changes


def test_api_apply_failure_rolls_back_and_keeps_no_record(stacked_kind: Any,
                                                          private_state_dir: str) -> None:
    fake = _kernel()
    before = fake.state()
    fake.fail_on = lambda req: errno.ENOBUFS if req.op == "route.add" else None
    with pytest.raises(ApplyError):
        api.apply(vnet.load_text(LAB), backend=fake)
    assert fake.state() == before
    assert not os.path.exists(os.path.join(private_state_dir, f"{TOPO}.json"))


def test_api_conflict_changes_nothing() -> None:
    fake = FakeKernel()
    fake.add_link(None, "br0", "bridge")
    before = fake.state()
    with pytest.raises(ConflictError, match="br0"):
        api.apply(vnet.load_text(f"name: {TOPO}\ninterfaces:\n  - {{name: br0, kind: bridge}}\n"),
                  backend=fake)
    assert fake.state() == before


def test_topologies_do_not_touch_each_other() -> None:
    fake = FakeKernel()
    one = vnet.load_text("name: one\nnamespaces: [a]\ninterfaces:\n"
                         "  - {name: br1, kind: bridge}\n")
    two = vnet.load_text("name: two\nnamespaces: [b]\ninterfaces:\n"
                         "  - {name: br2, kind: bridge}\n")
    api.apply(one, backend=fake)
    after_one = fake.state()
    api.apply(two, backend=fake)
    api.destroy("two", backend=fake)
    assert fake.state() == after_one


def test_vxlan_fdb_entries_round_trip_on_the_fake() -> None:
    fake = FakeKernel()
    text = f"""
name: {TOPO}
interfaces:
  - name: vx0
    kind: vxlan
    id: 100
    dstport: 4789
    fdb:
      - {{mac: "00:00:00:00:00:00", dst: 198.51.100.2}}
      - {{mac: "00:00:00:00:00:00", dst: 198.51.100.3}}
"""
    topo = vnet.load_text(text)
    api.apply(topo, backend=fake)
    assert len(fake.read_netns(None).fdb) == 2
    assert not api.plan(topo, backend=fake).has_changes
    api.destroy(TOPO, backend=fake)
    assert fake.read_netns(None).fdb == []


class _BatchingFake(FakeKernel):
    """A backend that carries out runs of address and state requests as a batch does: on
    after a refusal, reporting what was done."""

    def batchable(self, req: Any) -> bool:
        return req.op in ("addr.add", "link.state")

    def send_batched(self, batches: Any, progress: Any = None) -> Any:
        done: list[int] = []
        failed = None
        for k, reqs in enumerate(batches):
            try:
                self.send(list(reqs))
                done.append(k)
            except KernelError as err:
                failed = failed or (k, err)
            if progress is not None:
                progress(k + 1)
        return done, failed


ADDRESSED = f"""
name: {TOPO}
interfaces:
  - name: br0
    kind: bridge
    addresses: [192.0.2.1/24, 192.0.2.2/24, 192.0.2.3/24, 192.0.2.4/24]
"""


def test_a_batch_refused_midway_undoes_what_ran_after_the_refusal_too() -> None:
    fake = _BatchingFake()
    plan = plan_changes(vnet.load_text(ADDRESSED), fake.observe(Scope([None])))
    before = fake.state()
    fake.fail_on = lambda req: (errno.EADDRNOTAVAIL if req.op == "addr.add"
                                and req.args["address"] == "192.0.2.2/24" else None)
    with pytest.raises(ApplyError) as info:
        execute_plan(plan, fake)
    err = info.value
    assert err.failed.action == "create address 192.0.2.2/24 on br0"
    # the bridge, its first address, and what was sent after the refused one: two addresses
    # and the bridge's state
    assert err.undone == 5 and err.undo_failures == []
    added = [r.args["address"] for r in fake.log if r.op == "addr.add"]
    assert added == ["192.0.2.1/24", "192.0.2.2/24", "192.0.2.3/24", "192.0.2.4/24"]
    assert fake.state() == before


def test_progress_reporter_hears_batched_runs() -> None:
    fake = _BatchingFake()
    plan = plan_changes(vnet.load_text(ADDRESSED), fake.observe(Scope([None])))
    seen: list[int] = []
    execute_plan(plan, fake, lambda action, i, total: seen.append(i))
    assert seen[-1] == len(plan.actions) - 1 and seen == sorted(seen)
