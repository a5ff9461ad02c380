"""The backend's shortcuts for large topologies keep exact results: the name -> ifindex cache
never sends a request to a link that vnet itself replaced, bulk deletion of pairs removes
exactly the links asked for, a topology's own link group is deleted whole only when nothing
else is in it, traffic control and bridge VLANs are read only where the topology needs them,
and the kernel-filtered route dump returns vnet's routes."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import vnet
from vnet import api, ownership
from vnet.actions import Request
from vnet.door import namespaces, rtnl
from vnet.door.netlink import Netlink
from vnet.door.protocol import Scope
from vnet.errors import KernelError

from .helpers import ip_json, require_kind, require_vlan_filtering, sh

pytestmark = pytest.mark.kind("veth")


def _index(name: str) -> int:
    return int(ip_json("link", "show", name)[0]["ifindex"])


def test_index_cache_follows_links_vnet_recreates() -> None:
    require_kind("veth")
    sh("ip", "link", "add", "x0", "type", "veth", "peer", "name", "x1")
    with Netlink() as nl:
        nl.observe(Scope([None]))  # the dump seeds the cache with x0's first index
        old = _index("x0")
        nl.send([Request("addr.add", None, {"ifname": "x0", "address": "192.0.2.1/24"})])
        nl.send([Request("link.del", None, {"ifname": "x0"}),
                 Request("link.add", None, {"ifname": "x0", "kind": "veth", "marker": None,
                                            "info_data": {}, "peer": {"ifname": "x1"}})])
        new = _index("x0")
        assert new != old
        for i in range(20):  # past the misses that trigger a dump, and then from the dump
            nl.send([Request("addr.add", None, {"ifname": "x0",
                                                "address": f"198.51.100.{i + 1}/24"})])
        nl.send([Request("link.state", None, {"ifname": "x1", "up": True})])
    addrs = {a["local"] for a in ip_json("addr", "show", "x0")[0]["addr_info"]}
    assert addrs == {f"198.51.100.{i + 1}" for i in range(20)}
    assert "UP" in ip_json("link", "show", "x1")[0]["flags"]


def test_index_cache_holds_through_creations_and_learns_the_new_names(
        monkeypatch: pytest.MonkeyPatch) -> None:
    require_kind("veth")
    sh("ip", "link", "add", "x0", "type", "veth", "peer", "name", "x1")
    asked: list[str] = []
    real = rtnl.Rtnl.link_index

    def counting(self: rtnl.Rtnl, name: str) -> Any:
        asked.append(name)
        return real(self, name)
    monkeypatch.setattr(rtnl.Rtnl, "link_index", counting)

    def pair(name: str, peer: str) -> Request:
        return Request("link.add", None, {"ifname": name, "kind": "veth", "marker": None,
                                          "info_data": {}, "peer": {"ifname": peer}})
    with Netlink() as nl:
        nl.observe(Scope([None]))  # x0 and x1 known from the dump
        for i in range(3):  # requests on each new pair right after it, as plans make
            nl.send([pair(f"n{i}", f"m{i}"),
                     Request("addr.add", None, {"ifname": f"n{i}", "address": f"192.0.2.{i}/32"}),
                     Request("link.state", None, {"ifname": f"n{i}", "up": True}),
                     Request("link.state", None, {"ifname": f"m{i}", "up": True}),
                     Request("link.state", None, {"ifname": "x0", "up": True})])
        assert asked == ["n0", "m0", "n1", "m1", "n2", "m2"]  # each new name asked once
        with pytest.raises(KernelError):  # a creation that fails: nothing known is trusted
            nl.send([pair("x0", "x9")])
        asked.clear()
        nl.send([Request("link.state", None, {"ifname": "x1", "up": True})])
        assert asked == ["x1"]
    links = {link["ifname"]: link for link in ip_json("link", "show")}
    assert all("UP" in links[n]["flags"] for n in ("n0", "m0", "n2", "m2", "x0", "x1"))
    assert "x9" not in links


def test_many_requests_in_one_call_each_get_their_own_answer() -> None:
    sh("ip", "link", "set", "lo", "up")
    rt = rtnl.Rtnl()
    try:
        lo = rt.link_index("lo")
        assert lo is not None
        answers = rt.request_many([rtnl.address(True, lo, "192.0.2.1/32"),
                                   rtnl.address(True, lo, "192.0.2.1/32"),  # already there
                                   rtnl.address(True, lo, "192.0.2.2/32")])
        assert [a.code if a else None for a in answers] == [None, errno.EEXIST, None]
        # the last one refused: its answer is its ack
        answers = rt.request_many([rtnl.address(True, lo, "192.0.2.3/32"),
                                   rtnl.address(True, lo, "192.0.2.3/32")])
        assert [a.code if a else None for a in answers] == [None, errno.EEXIST]
        assert rt.request_many([]) == []
    finally:
        rt.close()
    addrs = {a["local"] for a in ip_json("addr", "show", "lo")[0]["addr_info"]}
    assert {"192.0.2.1", "192.0.2.2", "192.0.2.3"} <= addrs


def _no_ipv6_for_new_links() -> None:
    sh("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")


def test_creations_are_batched_only_where_new_links_get_no_ipv6() -> None:
    pair = Request("link.add", None, {"ifname": "n0", "kind": "veth", "marker": None,
                                      "info_data": {}, "peer": {"ifname": "m0"}})
    up = Request("link.state", None, {"ifname": "n0", "up": True})
    with Netlink() as nl:
        assert not nl.batchable(pair) and nl.batchable(up)
    _no_ipv6_for_new_links()
    with Netlink() as nl:
        assert nl.batchable(pair) and nl.batchable(up)
        elsewhere = Request("link.add", None, {**pair.args, "peer": {"ifname": "m0",
                                                                     "netns": "other"}})
        assert not nl.batchable(elsewhere)
        missing = Request("link.add", "nowhere", pair.args)  # said by the one-by-one path
        assert not nl.batchable(missing)


STANDING_ALONE = """
name: early
namespaces: [far]
interfaces:
  - {name: br0, kind: bridge, addresses: [192.0.2.254/24]}
  - {name: a0, kind: veth, addresses: [198.51.100.1/30],
     peer: {name: a1, addresses: [198.51.100.2/30]}}
  - {name: p0, kind: veth, master: br0, peer: {name: f0, netns: far, addresses: [192.0.2.1/24]}}
"""


def test_links_standing_alone_come_up_as_made_where_new_links_get_no_ipv6() -> None:
    """Observe reads each namespace's IPv6 default; where new links get none, a plan brings a
    link with no master, ports or parent up right after it is made (the bridge and its port
    still once the port has joined), and the result is the same."""
    require_kind("veth")
    require_kind("bridge")
    sh("ip", "link", "set", "lo", "up")
    topo = vnet.load_text(STANDING_ALONE)
    with_ipv6 = api.plan(topo)
    _no_ipv6_for_new_links()
    plan = api.plan(topo)
    with Netlink() as nl:
        seen = nl.observe(Scope([None]))
    assert seen.namespaces[None].new_links_get_ipv6 is False

    def order(p: Any) -> list[str]:
        return [f"{r.op} {r.args.get('ifname') or r.args.get('name')}"
                for a in p.actions for r in a.do]
    steps = order(plan)
    assert steps.index("link.state a1") < steps.index("link.add p0")
    assert steps.index("link.state a1") > steps.index("addr.add a1")
    assert steps.index("link.state br0") > steps.index("link.master p0")
    assert steps.index("link.state p0") > steps.index("link.master p0")
    # `far` is made by the plan: its IPv6 default is the kernel's, so f0 waits as before
    assert steps.index("link.state f0") > steps.index("link.master p0")
    assert sorted(steps) == sorted(order(with_ipv6))  # the same work, in another order
    topo.apply()
    links = {link["ifname"]: link for link in ip_json("link", "show")}
    assert all("UP" in links[name]["flags"] for name in ("br0", "a0", "a1", "p0"))
    assert api.plan(topo).actions == []
    sh("ip", "netns", "exec", "far", "ping", "-c1", "-W2", "192.0.2.254")
    topo.destroy()


def test_batched_creations_take_free_indexes_and_are_followed_in_a_second_round() -> None:
    require_kind("veth")
    _no_ipv6_for_new_links()
    sh("ip", "link", "add", "x0", "type", "veth", "peer", "name", "x1")
    highest = max(link["ifindex"] for link in ip_json("link", "show"))
    batches = []
    for i in range(3):
        batches.append([Request("link.add", None, {
            "ifname": f"n{i}", "kind": "veth", "marker": f"vnet.t.n{i}", "info_data": {},
            "peer": {"ifname": f"m{i}", "marker": f"vnet.t.m{i}"}})])
        batches.append([Request("addr.add", None, {"ifname": f"m{i}",
                                                   "address": f"192.0.2.{i}/32"})])
    batches.append([Request("link.state", None, {"ifname": "x0", "up": True})])
    batches.append([Request("link.state", None, {"ifname": "n2", "up": True})])
    with Netlink() as nl:
        assert all(nl.batchable(r) for b in batches for r in b)
        seen: list[int] = []
        assert nl.send_batched(batches, seen.append) == (list(range(len(batches))), None)
        assert seen == [len(batches)]
        # the next run goes on past the new ones
        assert nl.send_batched([[Request("link.add", None, {
            "ifname": "n9", "kind": "veth", "marker": None, "info_data": {},
            "peer": {"ifname": "m9"}})]]) == ([0], None)
    links = {link["ifname"]: link for link in ip_json("-d", "link", "show")}
    made = [links[n]["ifindex"] for n in ("n0", "m0", "n1", "m1", "n2", "m2")]
    assert sorted(made) == list(range(highest + 1, highest + 7))
    assert min(links["n9"]["ifindex"], links["m9"]["ifindex"]) == highest + 7
    for i in range(3):
        assert links[f"n{i}"]["altnames"] == [f"vnet.t.n{i}"]
        assert links[f"m{i}"]["altnames"] == [f"vnet.t.m{i}"]
        addrs = ip_json("addr", "show", f"m{i}")[0]["addr_info"]
        assert [a["local"] for a in addrs] == [f"192.0.2.{i}"]
    assert "UP" in links["x0"]["flags"] and "UP" in links["n2"]["flags"]
    assert "UP" not in links["n0"]["flags"]


def test_free_indexes_are_read_once_and_follow_links_the_kernel_numbers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    require_kind("veth")
    _no_ipv6_for_new_links()
    sh("ip", "netns", "add", "other")
    dumps: list[object] = []
    real = rtnl.dump_indexes

    def counting(rt: rtnl.Rtnl) -> Any:
        dumps.append(rt)
        return real(rt)
    monkeypatch.setattr(rtnl, "dump_indexes", counting)

    def pair(name: str, peer_netns: str | None = None) -> Request:
        return Request("link.add", None, {"ifname": f"{name}0", "kind": "veth", "marker": None,
                                          "info_data": {}, "peer": {"ifname": f"{name}1",
                                                                    "netns": peer_netns}})
    with Netlink() as nl:
        assert nl.send_batched([[pair("a")], [pair("b")]]) == ([0, 1], None)
        elsewhere = pair("c", "other")  # one by one: the kernel numbers c0 in the root
        assert not nl.batchable(elsewhere)
        nl.send([elsewhere])
        assert nl.send_batched([[pair("d")], [pair("e")]]) == ([0, 1], None)
    assert len(dumps) == 1
    indexes = [link["ifindex"] for link in ip_json("link", "show")]
    assert len(indexes) == len(set(indexes)) == 10  # lo, four pairs and c0


def test_a_batch_keeps_the_plans_order_across_namespaces(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A VLAN comes up only after its parent, which may be in another namespace: requests
    are never regrouped by namespace, each stretch of one namespace goes as it comes."""
    require_kind("veth")
    sh("ip", "netns", "add", "a")
    sh("ip", "netns", "add", "b")
    for ns in ("a", "b"):
        sh("ip", "link", "add", "x0", "type", "veth", "peer", "name", "x1", netns=ns)
    sent: list[tuple[int, int]] = []
    real = rtnl.Rtnl.request_many

    def recording(self: rtnl.Rtnl, msgs: Any) -> Any:
        sent.append((self.sock.fileno(), len(msgs)))
        return real(self, msgs)
    monkeypatch.setattr(rtnl.Rtnl, "request_many", recording)
    order = [("a", "x0"), ("a", "x1"), ("b", "x0"), ("a", "lo"), ("b", "x1")]
    with Netlink() as nl:
        assert nl.send_batched([[Request("link.state", ns, {"ifname": name, "up": True})]
                                for ns, name in order]) == (list(range(5)), None)
        sockets = {ns: nl._rt(ns).sock.fileno() for ns in ("a", "b")}
    assert sent == [(sockets["a"], 2), (sockets["b"], 1), (sockets["a"], 1), (sockets["b"], 1)]
    for ns, name in order:
        assert "UP" in ip_json("link", "show", name, netns=ns)[0]["flags"]


def test_a_batch_stops_after_the_round_of_a_refusal() -> None:
    """A creation refused (the name is taken): the requests on the links of its round wait
    for a second round that never goes, so nothing reaches the link that has the name."""
    require_kind("veth")
    _no_ipv6_for_new_links()
    sh("ip", "link", "add", "y0", "type", "veth", "peer", "name", "y9")
    batches = []
    for name in ("x", "y", "z"):
        batches.append([Request("link.add", None, {
            "ifname": f"{name}0", "kind": "veth", "marker": f"vnet.t.{name}0", "info_data": {},
            "peer": {"ifname": f"{name}1"}})])
        batches.append([Request("addr.add", None, {"ifname": f"{name}0",
                                                   "address": "192.0.2.7/32"})])
        batches.append([Request("link.state", None, {"ifname": f"{name}0", "up": True})])
    with Netlink() as nl:
        done, failed = nl.send_batched(batches)
    assert done == [0, 6]  # x0 and z0 made: the caller rolls them back
    assert failed is not None and failed[0] == 3 and failed[1].errno == errno.EEXIST
    links = {link["ifname"]: link for link in ip_json("-d", "link", "show")}
    assert "altnames" not in links["y0"] and "UP" not in links["y0"]["flags"]
    assert "y1" not in links
    assert not ip_json("addr", "show", "y0")[0]["addr_info"]
    assert "altnames" not in links["x0"] and "altnames" not in links["z0"]


def test_bulk_deletion_of_pairs_removes_exactly_those_asked_for() -> None:
    require_kind("veth")
    for i in range(4):
        sh("ip", "link", "add", f"a{i}", "type", "veth", "peer", "name", f"b{i}")
    sh("ip", "link", "add", "keep0", "type", "veth", "peer", "name", "keep1")
    sh("ip", "link", "add", "c0", "type", "veth", "peer", "name", "c1")
    gone = [f"{end}{i}" for i in range(4) for end in "ab"] + ["c0"]  # c1 goes with its peer
    with Netlink() as nl:
        done, err = nl.send_bulk([[Request("link.del", None, {"ifname": n, "missing_ok": True})]
                                  for n in gone])
    assert (done, err) == (len(gone), None)
    left = sorted(link["ifname"] for link in ip_json("link", "show"))
    assert left == ["keep0", "keep1", "lo"]
    groups = {link["ifname"]: link.get("group") for link in ip_json("-d", "link", "show")}
    assert groups["keep0"] == groups["keep1"] == "default"


GROUPED = """
name: grouped
interfaces:
  - {name: g0, kind: veth, peer: {name: g1}}
  - {name: h0, kind: veth, peer: {name: h1}}
  - {name: gbr, kind: bridge}
"""


def _groups() -> dict[str, int | str]:
    return {link["ifname"]: link.get("group") for link in ip_json("-d", "link", "show")}


def _record_setlinks(monkeypatch: pytest.MonkeyPatch, wanted: Any) -> list[int]:
    """The indexes of the links the backend sets with `wanted(kwargs)` true, in order."""
    seen: list[int] = []
    real = rtnl.setlink

    def recording(index: int, *args: Any, **kwargs: Any) -> Any:
        if wanted(kwargs):
            seen.append(index)
        return real(index, *args, **kwargs)
    monkeypatch.setattr(rtnl, "setlink", recording)
    return seen


def _count_moves(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The links the backend moves into a deletion group, as they are moved."""
    return _record_setlinks(monkeypatch, lambda kw: kw.get("group") is not None)


def test_created_links_join_the_topologys_group_and_go_with_it_whole(
        monkeypatch: pytest.MonkeyPatch) -> None:
    require_kind("veth")
    require_kind("bridge")
    sh("ip", "link", "add", "keep0", "type", "veth", "peer", "name", "keep1")
    topo = vnet.load_text(GROUPED)
    topo.apply()
    group = ownership.link_group("grouped")
    groups = _groups()
    assert {groups[n] for n in ("g0", "g1", "h0", "h1", "gbr")} == {str(group)}
    assert groups["keep0"] == "default"
    moves = _count_moves(monkeypatch)
    topo.destroy()
    assert moves == []  # one `del group`, no link moved first
    assert sorted(_groups()) == ["keep0", "keep1", "lo"]


def test_a_shared_group_is_not_deleted_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    require_kind("veth")
    require_kind("bridge")
    topo = vnet.load_text(GROUPED)
    topo.apply()
    group = ownership.link_group("grouped")
    sh("ip", "link", "add", "keep0", "type", "veth", "peer", "name", "keep1")
    sh("ip", "link", "set", "keep0", "group", str(group))  # someone else's link in the group
    moves = _count_moves(monkeypatch)
    topo.destroy()
    assert moves  # the topology's links were moved out, then deleted
    groups = _groups()
    assert sorted(groups) == ["keep0", "keep1", "lo"]
    assert (groups["keep0"], groups["keep1"]) == (str(group), "default")


def test_removing_part_of_a_topology_keeps_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    require_kind("veth")
    require_kind("bridge")
    vnet.load_text(GROUPED).apply()
    moves = _count_moves(monkeypatch)
    vnet.load_text(GROUPED.replace("  - {name: h0, kind: veth, peer: {name: h1}}\n", "")).apply()
    assert len(moves) == 1  # one end of h0/h1 moved; its peer goes with it
    assert sorted(_groups()) == ["g0", "g1", "gbr", "lo"]


STAR = "name: star3\nnamespaces: [s0, s1, s2]\ninterfaces:\n  - {name: br0, kind: bridge}\n" + \
    "".join(f"  - {{name: e{i}, kind: veth, netns: s{i}, peer: {{name: p{i}, master: br0}}}}\n"
            for i in range(3))


def test_namespaces_deleted_without_reading_them_leave_no_peer_behind() -> None:
    require_kind("veth")
    require_kind("bridge")
    topo = vnet.load_text(STAR)
    topo.apply()
    assert sorted(_groups()) == ["br0", "lo", "p0", "p1", "p2"]
    topo.destroy()
    # at once, not after the kernel's asynchronous cleanup of the namespaces
    assert sorted(_groups()) == ["lo"]
    assert ip_json("netns", "list") in (None, [])


def test_namespaces_are_reached_by_their_id_from_one_socket() -> None:
    require_kind("veth")
    require_kind("bridge")
    # a pair inside s1: the deletion in the root namespace does not take it
    topo = vnet.load_text(
        STAR + "  - {name: q0, kind: veth, netns: s1, peer: {name: q1, netns: s1}}\n")
    topo.apply()
    sh("ip", "netns", "add", "lone")  # no link into it: the root knows it by no id
    ids = {ns["name"]: ns.get("id") for ns in ip_json("netns", "list")}
    assert ids["lone"] is None and all(ids[f"s{i}"] is not None for i in range(3))
    with Netlink() as nl:
        for name, nsid in ids.items():
            fd = nl.netns_fd(name)
            try:
                assert rtnl.Rtnl().netns_id(fd) == nsid
            finally:
                os.close(fd)
        assert {ns: nl.netns_owner(ns) for ns in ids} == {
            "s0": "star3", "s1": "star3", "s2": "star3", "lone": None}
        assert set(nl._lean) == {None, "lone"}  # a socket inside only where there is no id
    # s1 kept alive: what vnet made in it must be gone when destroy returns, not when the
    # kernel dismantles the namespace
    keep = os.open("/run/netns/s1", os.O_RDONLY)
    try:
        topo.destroy()
        inside = sh("nsenter", f"--net=/proc/{os.getpid()}/fd/{keep}", "ip", "-o", "link")
    finally:
        os.close(keep)
    assert [line.split(":")[1].strip() for line in inside.splitlines()] == ["lo"]
    assert [ns["name"] for ns in ip_json("netns", "list") or []] == ["lone"]


def _record_deletion_steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The group deletions ("dellink") and unmounts ("unmount NAME") vnet sends, in order."""
    events: list[str] = []
    real_dellink, real_unmount = rtnl.dellink, Netlink._unmount_netns

    def dellink(*args: Any, **kw: Any) -> Any:
        events.append("dellink")
        return real_dellink(*args, **kw)

    def unmount(self: Netlink, name: str) -> Any:
        # the namespace is still there (its file held open) but no longer named
        events.append(f"unmount {name}")
        return real_unmount(self, name)
    monkeypatch.setattr(rtnl, "dellink", dellink)
    monkeypatch.setattr(Netlink, "_unmount_netns", unmount)
    return events


def test_a_run_of_namespace_deletions_empties_each_before_unmounting_any(
        monkeypatch: pytest.MonkeyPatch) -> None:
    require_kind("veth")
    group = 4243
    for ns in ("n0", "n1", "n2", "n3", "n4"):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "add", "va", "type", "veth", "peer", "name", "vb")
        sh("ip", "-n", ns, "link", "set", "va", "group", str(group))
    events = _record_deletion_steps(monkeypatch)

    def delete(*names: str) -> list[list[Request]]:
        return [[Request("netns.del", None, {"name": n, "group": group})] for n in names]
    with Netlink() as nl:
        assert nl.send_bulk(delete("n0", "n1", "n2")) == (3, None)
        assert events == ["dellink"] * 3 + ["unmount n0", "unmount n1", "unmount n2"]
        events.clear()
        keep = os.open("/run/netns/n4", os.O_RDONLY)
        try:
            # a namespace that is not there stops the run: those before it are gone, those
            # after it untouched
            done, err = nl.send_bulk(delete("n3", "gone", "n4"))
            assert done == 1 and err is not None and err.errno == errno.ENOENT
            assert events == ["dellink", "unmount n3"]
        finally:
            os.close(keep)
    assert [ns["name"] for ns in ip_json("netns", "list") or []] == ["n4"]
    assert sorted(line.split(":")[1].strip() for line in
                  sh("ip", "-n", "n4", "-o", "link").splitlines()) == ["lo", "va@vb", "vb@va"]


def test_namespace_deletions_go_in_runs_the_open_file_limit_allows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    group = 4244
    names = [f"r{i}" for i in range(5)]
    for ns in names:
        sh("ip", "netns", "add", ns)
    events = _record_deletion_steps(monkeypatch)

    @contextmanager
    def room(wanted: int) -> Iterator[int]:
        assert wanted == len(names)
        yield 2
    monkeypatch.setattr(namespaces, "room_for_files", room)
    with Netlink() as nl:
        assert nl.send_bulk([[Request("netns.del", None, {"name": n, "group": group})]
                             for n in names]) == (5, None)
    assert events == ["dellink", "dellink", "unmount r0", "unmount r1",
                      "dellink", "dellink", "unmount r2", "unmount r3",
                      "dellink", "unmount r4"]
    assert ip_json("netns", "list") in (None, [])


def test_a_bridge_is_down_before_it_goes_with_its_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    require_kind("veth")
    require_kind("bridge")
    topo = vnet.load_text(STAR)
    topo.apply()
    downs = _record_setlinks(monkeypatch, lambda kw: kw.get("up") is False)
    bridge = _index("br0")
    topo.destroy()
    assert downs == [bridge]
    assert sorted(_groups()) == ["lo"]


def test_deletion_reuses_a_dump_only_while_nothing_was_sent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    require_kind("veth")
    sh("ip", "link", "add", "x0", "type", "veth", "peer", "name", "x1")
    sh("ip", "link", "add", "y0", "type", "veth", "peer", "name", "y1")
    dumps: list[int] = []
    real = rtnl.dump_links

    def counting(rt: Any, counters: bool = True) -> Any:
        dumps.append(1)
        return real(rt, counters)
    monkeypatch.setattr(rtnl, "dump_links", counting)
    delete_x = [[Request("link.del", None, {"ifname": "x0"})]]
    with Netlink() as nl:
        nl.observe(Scope([None]))
        assert len(dumps) == 1
        assert nl.send_bulk(delete_x) == (1, None)
        assert len(dumps) == 1  # the observation's dump served
        nl.observe(Scope([None]))
        nl.send([Request("link.state", None, {"ifname": "y0", "up": True})])
        assert nl.send_bulk([[Request("link.del", None, {"ifname": "y0"})]]) == (1, None)
        assert len(dumps) == 3  # a request since the observation: read anew
    assert sorted(_groups()) == ["lo"]


def test_traffic_control_read_only_where_a_kind_needs_it() -> None:
    require_kind("veth")
    require_kind("ifb")
    sh("ip", "link", "add", "t0", "type", "veth", "peer", "name", "t1")
    sh("tc", "qdisc", "add", "dev", "t0", "ingress")
    with Netlink() as nl:
        assert {q.ifname for q in nl.observe(Scope([None])).namespaces[None].qdiscs} >= {"t0"}
        assert nl.observe(Scope([None], tc_netns=set())).namespaces[None].qdiscs == []
        seen = nl.observe(Scope([None], tc_netns={None})).namespaces[None]
        assert {q.ifname for q in seen.qdiscs} >= {"t0"}
    sh("ip", "link", "add", "ifb9", "type", "ifb")  # a live IFB: its plan reads tc
    with Netlink() as nl:
        seen = nl.observe(Scope([None], tc_netns=set())).namespaces[None]
        assert {q.ifname for q in seen.qdiscs} >= {"t0"}


def test_bridge_vlans_read_only_where_vlans_are_declared() -> None:
    require_kind("veth")
    require_vlan_filtering()  # the kernel tier's: this machine's kernel lacks it
    sh("ip", "link", "add", "vbr", "type", "bridge", "vlan_filtering", "1")
    sh("ip", "link", "add", "u0", "type", "veth", "peer", "name", "u1")
    sh("ip", "link", "set", "u0", "master", "vbr")
    sh("bridge", "vlan", "add", "dev", "u0", "vid", "10")
    with Netlink() as nl:
        assert 10 in nl.observe(Scope([None])).namespaces[None].bridge_vlans["u0"]
        seen = nl.observe(Scope([None], vlan_netns={None})).namespaces[None]
        assert 10 in seen.bridge_vlans["u0"]
        assert nl.observe(Scope([None], vlan_netns=set())).namespaces[None].bridge_vlans == {}


def test_route_dump_narrowed_to_vnets_routes() -> None:
    require_kind("veth")
    sh("ip", "link", "add", "r0", "type", "veth", "peer", "name", "r1")
    sh("ip", "link", "set", "r0", "up")
    sh("ip", "addr", "add", "192.0.2.1/24", "dev", "r0")
    sh("ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.2", "proto", "118")
    sh("ip", "route", "add", "203.0.113.0/24", "via", "192.0.2.2")  # proto boot: not vnet's
    sh("ip", "-6", "route", "add", "2001:db8:1::/64", "dev", "r0", "proto", "118")
    with Netlink() as nl:
        everything = nl.observe(Scope([None])).namespaces[None].routes
        narrowed = nl.observe(Scope([None], route_netns=set())).namespaces[None].routes
    mine = {("198.51.100.0/24", 118), ("2001:db8:1::/64", 118)}
    assert {(r.to, r.proto) for r in narrowed} == mine
    assert mine | {("203.0.113.0/24", 3), ("192.0.2.0/24", 2)} <= \
        {(r.to, r.proto) for r in everything}
    assert len(everything) == len({r.key for r in everything})  # each route once
