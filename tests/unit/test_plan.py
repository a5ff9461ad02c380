"""The planner, pure: hand-built live states (vnet.observe dataclasses with ownership markers)
against loaded topologies; the resulting Actions, their order and their undo."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TOPO, link, netns, observed, route

import vnet
from vnet import ownership
from vnet.actions import Action, Request
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import ConflictError
from vnet.plan import Plan, plan_changes, plan_teardown
from vnet.record import Record, ext_key


def load(text: str) -> vnet.Topology:
    return vnet.load_text(text, "test.yaml")


def requests(plan: Plan) -> list[Request]:
    return [req for action in plan.actions for req in action.do]


def ops(plan: Plan) -> list[tuple[str, str | None, str]]:
    """(op, netns, target) of every request, in order."""
    out = []
    for req in requests(plan):
        target = req.args.get("ifname") or req.args.get("name") or req.args.get("to") or ""
        out.append((req.op, req.netns, str(target)))
    return out


def first(plan: Plan, op: str, target: str | None = None) -> int:
    for i, (o, _, t) in enumerate(ops(plan)):
        if o == op and (target is None or t == target):
            return i
    raise AssertionError(f"{op} {target or ''} not in plan: {ops(plan)}")


def last(plan: Plan, op: str) -> int:
    found = [i for i, (o, _, _) in enumerate(ops(plan)) if o == op]
    assert found, f"{op} not in plan"
    return found[-1]


def action_for(plan: Plan, op: str, target: str) -> Action:
    for action in plan.actions:
        for req in action.do:
            if req.op == op and target in (req.args.get("ifname"), req.args.get("name"),
                                           req.args.get("to")):
                return action
    raise AssertionError(f"no {op} {target} in {ops(plan)}")


LAB = f"""
name: {TOPO}
namespaces: [sw, h1, h2]
interfaces:
  - name: br0
    kind: bridge
    netns: sw
    addresses: [192.0.2.254/24]
  - name: up0
    kind: veth
    netns: sw
    peer: {{name: up1}}
  - name: mv0
    kind: stacked
    link: up0
    netns: sw
    mode: 1
  - name: mv1
    kind: stacked
    link: mv0
    netns: sw
  - name: h1-eth0
    kind: veth
    netns: h1
    addresses: [192.0.2.1/24]
    peer: {{name: h1-port, netns: sw, master: br0}}
  - name: h2-eth0
    kind: veth
    netns: h2
    addresses: [192.0.2.2/24]
    peer: {{name: h2-port, netns: sw, master: br0}}
routes:
  - {{netns: h1, to: default, via: 192.0.2.254}}
  - {{netns: h2, to: 198.51.100.0/24, via: 192.0.2.254}}
"""


# ---- create from nothing --------------------------------------------------------------------

def test_create_from_nothing_in_dependency_order(stacked_kind: Any) -> None:
    plan = plan_changes(load(LAB), observed())
    o = ops(plan)
    assert all(a.verb == "create" for a in plan.actions)
    # namespaces first
    assert last(plan, "netns.add") < first(plan, "link.add")
    assert {t for op, _, t in o if op == "netns.add"} == {"sw", "h1", "h2"}
    # links: parents before the children stacked on them
    assert first(plan, "link.add", "up0") < first(plan, "link.add", "mv0")
    assert first(plan, "link.add", "mv0") < first(plan, "link.add", "mv1")
    # each new link's addresses right after it (h1-eth0's before h2-eth0 is made)
    for name in ("br0", "h1-eth0", "h2-eth0"):
        op, _, target = o[first(plan, "link.add", name) + 1]
        assert (op, target) == ("addr.add", name)
    # masters after every link, state after masters: ports join before anything is up
    assert last(plan, "link.add") < first(plan, "link.master")
    assert last(plan, "addr.add") < first(plan, "link.master")
    assert last(plan, "link.master") < first(plan, "link.state")
    # routes last
    assert last(plan, "link.state") < first(plan, "route.add")
    assert o[-1][0] == "route.add"
    # a veth is one request creating both ends, each end marked as the topology's
    veth = action_for(plan, "link.add", "h1-eth0").do[0]
    assert veth.netns == "h1"
    assert veth.args["peer"]["ifname"] == "h1-port" and veth.args["peer"]["netns"] == "sw"
    assert veth.args["marker"] == f"vnet.{TOPO}.h1-eth0"
    assert veth.args["peer"]["marker"] == f"vnet.{TOPO}.h1-port"
    assert not any(t == "h1-port" for op, _, t in o if op == "link.add")
    # stacked links name their parent; the namespace carries the marker on its loopback
    assert action_for(plan, "link.add", "mv1").do[0].args["parent"] == "mv0"
    assert action_for(plan, "netns.add", "sw").do[0].args["marker"] == f"vnet.{TOPO}"
    # ports join their master, every declared end goes up
    masters = {(r.args["ifname"], r.args["master"]) for r in requests(plan)
               if r.op == "link.master"}
    assert masters == {("h1-port", "br0"), ("h2-port", "br0")}
    ups = {(r.netns, r.args["ifname"]) for r in requests(plan) if r.op == "link.state"}
    assert ("sw", "up1") not in ups  # up1 lives in the root namespace
    assert (None, "up1") in ups and ("sw", "mv1") in ups and ("h1", "h1-eth0") in ups


def test_every_create_has_an_undo() -> None:
    plan = plan_changes(load(LAB.replace("kind: stacked", "kind: bridge")
                             .replace("    link: up0\n", "").replace("    link: mv0\n", "")
                             .replace("    mode: 1\n", "")), observed())
    for action in plan.actions:
        if action.do[0].op != "link.state":  # a fresh link's state goes with the link
            assert action.undo, action.subject
    undo = action_for(plan, "link.add", "br0").undo
    assert [(r.op, r.netns, r.args["ifname"]) for r in undo] == [("link.del", "sw", "br0")]


def test_plan_is_empty_when_the_kernel_matches(stacked_kind: Any) -> None:
    fake = FakeKernel()
    topo = load(LAB)
    first_plan = plan_changes(topo, fake.observe(Scope([None, *topo.namespaces])))
    fake.send(requests(first_plan))
    second = plan_changes(topo, fake.observe(Scope([None, *topo.namespaces])), first_plan.record)
    assert second.actions == []
    assert not second.has_changes
    assert second.counts() == {"create": 0, "change": 0, "replace": 0, "remove": 0}


def test_no_op_on_hand_built_matching_state() -> None:
    topo = load(f"""
name: {TOPO}
namespaces: [sw]
interfaces:
  - {{name: br0, kind: bridge, netns: sw, stp_state: true, mtu: 1400,
     addresses: [192.0.2.1/24]}}
""")
    obs = observed(netns("sw", link("br0", "bridge", info_data={"IFLA_BR_STP_STATE": 1},
                                    mtu=1400, up=True),
                         addresses=(("br0", "192.0.2.1/24"),)))
    assert plan_changes(topo, obs).actions == []


# ---- changes in place and replacement -------------------------------------------------------

def test_bridge_option_changed_in_place() -> None:
    topo = load(f"name: {TOPO}\ninterfaces:\n  - {{name: br0, kind: bridge, stp_state: true}}\n")
    obs = observed(netns(None, link("br0", "bridge", info_data={"IFLA_BR_STP_STATE": 0},
                                    up=True), owner=None))
    plan = plan_changes(topo, obs)
    assert len(plan.actions) == 1
    action = plan.actions[0]
    assert action.verb == "change"
    assert action.diff == {"stp_state": (False, True)}
    assert action.do == [Request("link.set", None, {"ifname": "br0", "kind": "bridge",
                                                    "info_data": {"IFLA_BR_STP_STATE": 1}})]
    assert action.undo == [Request("link.set", None, {"ifname": "br0", "kind": "bridge",
                                                      "info_data": {"IFLA_BR_STP_STATE": 0}})]


def test_mtu_changed_in_place() -> None:
    topo = load(f"name: {TOPO}\ninterfaces:\n  - {{name: br0, kind: bridge, mtu: 9000}}\n")
    obs = observed(netns(None, link("br0", "bridge", mtu=1500, up=True), owner=None))
    plan = plan_changes(topo, obs)
    assert [(a.verb, a.diff) for a in plan.actions] == [("change", {"mtu": (1500, 9000)})]
    assert plan.actions[0].do[0].args == {"ifname": "br0", "mtu": 9000}
    assert plan.actions[0].undo[0].args == {"ifname": "br0", "mtu": 1500}


def test_option_the_kernel_cannot_change_replaces_the_link(stacked_kind: Any) -> None:
    topo = load(f"""
name: {TOPO}
interfaces:
  - {{name: br0, kind: bridge}}
  - {{name: st0, kind: stacked, link: br0, mode: 2, learning: true}}
""")
    br0 = link("br0", "bridge", up=True)
    st0 = link("st0", "stacked", up=True, parent_index=br0.index,
               info_data={"IFLA_STACKED_MODE": 1, "IFLA_STACKED_LEARNING": 0})
    plan = plan_changes(topo, observed(netns(None, br0, st0, owner=None)))
    assert [a.verb for a in plan.actions] == ["replace", "replace", "create"]
    delete, create, up = plan.actions
    assert delete.do[0].op == "link.del" and "mode" in delete.reason
    assert delete.undo_gap  # a deleted link cannot be brought back exactly
    assert create.do[0].op == "link.add"
    assert create.do[0].args["info_data"] == {"IFLA_STACKED_MODE": 2,
                                              "IFLA_STACKED_LEARNING": 1}
    # the new link is down until set up: state is planned as for a fresh link
    assert up.do[0] == Request("link.state", None, {"ifname": "st0", "up": True})


def test_in_place_option_of_test_kind_is_a_change(stacked_kind: Any) -> None:
    topo = load(f"""
name: {TOPO}
interfaces:
  - {{name: br0, kind: bridge}}
  - {{name: st0, kind: stacked, link: br0, mode: 1, learning: true}}
""")
    br0 = link("br0", "bridge", up=True)
    st0 = link("st0", "stacked", up=True, parent_index=br0.index,
               info_data={"IFLA_STACKED_MODE": 1, "IFLA_STACKED_LEARNING": 0})
    plan = plan_changes(topo, observed(netns(None, br0, st0, owner=None)))
    assert [(a.verb, a.diff) for a in plan.actions] == [("change", {"learning": (False, True)})]


def test_parent_moved_replaces_the_stacked_link(stacked_kind: Any) -> None:
    topo = load(f"""
name: {TOPO}
interfaces:
  - {{name: br0, kind: bridge}}
  - {{name: br1, kind: bridge}}
  - {{name: st0, kind: stacked, link: br1}}
""")
    br0, br1 = link("br0", "bridge", up=True), link("br1", "bridge", up=True)
    st0 = link("st0", "stacked", up=True, parent_index=br0.index)
    plan = plan_changes(topo, observed(netns(None, br0, br1, st0, owner=None)))
    assert [a.verb for a in plan.actions][:2] == ["replace", "replace"]
    assert "parent" in plan.actions[0].reason


def test_kind_changed_replaces_the_link() -> None:
    topo = load(f"name: {TOPO}\ninterfaces:\n  - {{name: x0, kind: bridge}}\n")
    obs = observed(netns(None, link("x0", "dummy", up=True), owner=None))
    plan = plan_changes(topo, obs)
    assert [a.do[0].op for a in plan.actions[:2]] == ["link.del", "link.add"]
    assert "kind differs" in plan.actions[0].reason


# ---- removal ---------------------------------------------------------------------------------

def test_owned_link_no_longer_in_file_is_removed() -> None:
    topo = load(f"name: {TOPO}\ninterfaces:\n  - {{name: br0, kind: bridge}}\n")
    obs = observed(netns(None, link("br0", "bridge", up=True), link("br9", "bridge", up=True),
                         link("eth0", "veth", owner=None, up=True), owner=None))
    plan = plan_changes(topo, obs)
    assert [(a.verb, a.do[0].op, a.do[0].args["ifname"]) for a in plan.actions] == [
        ("remove", "link.del", "br9")]
    assert plan.actions[0].reason == "owned, no longer declared"


def test_owned_namespace_no_longer_declared_is_removed_with_its_contents() -> None:
    topo = load(f"name: {TOPO}\nnamespaces: [keep]\n")
    obs = observed(netns("keep"), netns("gone", link("br0", "bridge", up=True),
                                        routes=(route("default", via="192.0.2.1", dev="br0"),)),
                   netns("theirs", owner="other"), netns("manual", owner=None))
    plan = plan_changes(topo, obs)
    # the namespace goes at once; nothing inside it is removed one by one
    assert ops(plan) == [("netns.del", None, "gone")]
    assert plan.actions[0].undo == [] and plan.actions[0].undo_gap
    # what vnet made inside goes first, in one call: the topology's link group
    assert plan.actions[0].do[0].args["group"] == ownership.link_group(TOPO)


def test_created_links_and_peers_join_the_topologys_group(stacked_kind: Any) -> None:
    plan = plan_changes(load(LAB), observed())
    adds = [req for req in requests(plan) if req.op == "link.add"]
    assert adds and {req.args["group"] for req in adds} == {ownership.link_group(TOPO)}
    peers = [req.args["peer"] for req in adds if req.args.get("peer")]
    assert peers and {peer["group"] for peer in peers} == {ownership.link_group(TOPO)}
    assert ownership.link_group(TOPO) != ownership.link_group(TOPO + "x")
    assert 0x76000000 <= ownership.link_group(TOPO) <= 0x76FFFFFF


# ---- conflicts -------------------------------------------------------------------------------

def test_unowned_interface_in_the_way_is_a_conflict_naming_it() -> None:
    topo = load(f"name: {TOPO}\nnamespaces: [sw]\ninterfaces:\n"
                "  - {name: br0, kind: bridge, netns: sw}\n  - {name: br1, kind: bridge}\n")
    obs = observed(netns("sw", link("br0", "bridge", owner=None)),
                   netns(None, link("br1", "bridge", owner="other"), owner=None))
    with pytest.raises(ConflictError) as info:
        plan_changes(topo, obs)
    text = str(info.value)
    assert "sw/br0" in text and "not marked as vnet's" in text
    assert "br1" in text and "'other'" in text
    assert all(issue.hint for issue in info.value.issues)


def test_namespace_of_someone_else_is_a_conflict() -> None:
    topo = load(f"name: {TOPO}\nnamespaces: [a, b]\n")
    with pytest.raises(ConflictError) as info:
        plan_changes(topo, observed(netns("a", owner="other"), netns("b", owner=None)))
    assert "namespace a" in str(info.value) and "namespace b" in str(info.value)


def test_missing_external_is_a_conflict() -> None:
    topo = load(f"name: {TOPO}\ninterfaces:\n  - {{name: eth9, external: true}}\n")
    with pytest.raises(ConflictError, match="eth9 does not exist"):
        plan_changes(topo, observed())


def test_in_place_changes_come_before_new_links_that_need_them(stacked_kind: Any) -> None:
    # an existing parent's MTU is raised for a new child as large: the parent first
    topo = load(f"""
name: {TOPO}
interfaces:
  - {{name: eth9, external: true, mtu: 9000}}
  - {{name: st0, kind: stacked, link: eth9, mtu: 9000}}
""")
    plan = plan_changes(topo, observed(netns(None, link("eth9", "veth", owner=None))))
    assert [op for op, _, _ in ops(plan)] == ["link.set", "link.add", "link.state"]


def test_a_link_stacked_on_a_pairs_far_end_comes_after_the_pair(stacked_kind: Any) -> None:
    topo = load(f"""
name: {TOPO}
interfaces:
  - {{name: st0, kind: stacked, link: vb}}
  - {{name: va, kind: veth, peer: {{name: vb}}}}
""")
    plan = plan_changes(topo, observed())
    assert [t for op, _, t in ops(plan) if op == "link.add"] == ["va", "st0"]


# ---- external interfaces ---------------------------------------------------------------------

EXT = f"""
name: {TOPO}
interfaces:
  - {{name: br0, kind: bridge}}
  - {{name: eth9, external: true, master: br0, addresses: [192.0.2.9/24], state: up}}
"""


def test_external_enslaved_and_addressed_then_put_back_on_teardown() -> None:
    fake = FakeKernel()
    fake.add_link(None, "eth9", "veth", mtu=1500, up=False)
    fake.send([Request("addr.add", None, {"ifname": "eth9", "address": "198.51.100.9/24"})])
    before = fake.state()
    topo = load(EXT)
    plan = plan_changes(topo, fake.observe(Scope([None])))
    master = action_for(plan, "link.master", "eth9")
    assert master.do[0].args == {"ifname": "eth9", "master": "br0"}
    assert master.undo[0].args == {"ifname": "eth9", "master": None}
    assert action_for(plan, "addr.add", "eth9").do[0].args["address"] == "192.0.2.9/24"
    # the record keeps the originals and the addresses vnet added, for teardown
    assert plan.record is not None
    assert plan.record.externals == {ext_key(None, "eth9"): {"mtu": 1500, "master": None,
                                                             "up": False}}
    assert plan.record.external_addresses == {ext_key(None, "eth9"): ["192.0.2.9/24"]}
    # the external's own address is not vnet's: it is left alone
    assert not any(r.op == "addr.del" for r in requests(plan))
    fake.send(requests(plan))
    assert fake.read_netns(None).links["eth9"].master == "br0"

    down = plan_teardown(TOPO, fake.observe(Scope([None])), plan.record)
    o = ops(down)
    assert ("addr.del", None, "eth9") in o
    assert first(down, "addr.del") < first(down, "link.del")
    release = action_for(down, "link.master", "eth9")
    assert release.do[0].args["master"] is None
    state = action_for(down, "link.state", "eth9")
    assert state.do[0].args["up"] is False  # it was down before vnet set it up
    fake.send(requests(down))
    assert fake.state() == before


def test_external_unchanged_plans_nothing_for_it() -> None:
    obs = observed(netns(None, link("br0", "bridge", up=True),
                         link("eth9", "veth", owner=None, up=True, master="br0"),
                         addresses=(("eth9", "192.0.2.9/24"),), owner=None))
    rec = Record(TOPO, externals={ext_key(None, "eth9"): {"mtu": 1500, "master": None,
                                                          "up": False}},
                 external_addresses={ext_key(None, "eth9"): ["192.0.2.9/24"]})
    plan = plan_changes(load(EXT), obs, rec)
    assert plan.actions == []
    assert plan.record is not None and plan.record.externals == rec.externals


# ---- teardown --------------------------------------------------------------------------------

def test_teardown_order_routes_addresses_children_parents_namespaces(stacked_kind: Any) -> None:
    br0 = link("br0", "bridge", up=True)
    st0 = link("st0", "stacked", up=True, parent_index=br0.index)
    eth9 = link("eth9", "veth", owner=None, up=True, master="br0")
    root = netns(None, br0, st0, eth9, owner=None,
                 addresses=(("eth9", "192.0.2.9/24"), ("br0", "192.0.2.1/24")),
                 routes=(route("198.51.100.0/24", via="192.0.2.254", dev="br0"),))
    ns1 = netns("ns1", link("v0", "veth", up=True))
    rec = Record(TOPO, externals={ext_key(None, "eth9"): {"mtu": 1500, "master": None,
                                                          "up": True}},
                 external_addresses={ext_key(None, "eth9"): ["192.0.2.9/24"]},
                 routes=[[None, 254, 4, "198.51.100.0/24", 0]])
    plan = plan_teardown(TOPO, observed(root, ns1), rec)
    o = ops(plan)
    assert all(a.verb in ("remove", "change") for a in plan.actions)
    assert first(plan, "route.del") < first(plan, "addr.del")
    assert last(plan, "addr.del") < first(plan, "link.del")
    assert first(plan, "link.del", "st0") < first(plan, "link.del", "br0")
    assert o[-1] == ("netns.del", None, "ns1")
    assert ("link.master", None, "eth9") in o
    # the owned bridge's address goes with the bridge, not one by one
    assert ("addr.del", None, "br0") not in o
    # nothing of the namespace is removed one by one, nothing unowned is deleted
    assert not any(ns == "ns1" for _, ns, _ in o)
    assert ("link.del", None, "eth9") not in o


def test_teardown_of_nothing_owned_is_empty() -> None:
    obs = observed(netns(None, link("eth0", "veth", owner=None)), netns("x", owner="other"))
    assert plan_teardown(TOPO, obs).actions == []


# ---- routes ----------------------------------------------------------------------------------

ROUTED = f"""
name: {TOPO}
namespaces: [h1]
interfaces:
  - {{name: v0, kind: veth, netns: h1, addresses: [192.0.2.1/24], peer: {{name: v1}}}}
routes:
  - {{netns: h1, to: default, via: 192.0.2.254}}
"""


def _routed_state(*routes: Any) -> Any:
    return observed(netns("h1", link("v0", "veth", up=True),
                          addresses=(("v0", "192.0.2.1/24"),), routes=routes),
                    netns(None, link("v1", "veth", up=True), owner=None))


def test_route_created() -> None:
    plan = plan_changes(load(ROUTED), _routed_state())
    action = action_for(plan, "route.add", "default")
    assert action.verb == "create"
    assert action.do[0].netns == "h1"
    assert action.do[0].args == {"to": "default", "via": "192.0.2.254", "dev": None,
                                 "metric": 0, "table": 254, "family": 4}
    assert action.undo[0].op == "route.del"


def test_route_matching_is_left_alone() -> None:
    state = _routed_state(route("default", via="192.0.2.254", dev="v0"))
    assert plan_changes(load(ROUTED), state).actions == []


def test_route_with_other_gateway_is_replaced() -> None:
    state = _routed_state(route("default", via="192.0.2.253", dev="v0"))
    plan = plan_changes(load(ROUTED), state)
    assert [(a.verb, a.do[0].op) for a in plan.actions] == [("replace", "route.del"),
                                                            ("replace", "route.add")]
    assert plan.actions[0].do[0].args["via"] == "192.0.2.253"
    assert plan.actions[0].undo[0].op == "route.add"
    assert plan.actions[1].do[0].args["via"] == "192.0.2.254"


def test_owned_route_not_in_file_is_removed() -> None:
    state = _routed_state(route("default", via="192.0.2.254", dev="v0"),
                          route("203.0.113.0/24", via="192.0.2.254", dev="v0"))
    plan = plan_changes(load(ROUTED), state)
    assert [(a.verb, a.do[0].op, a.do[0].args["to"]) for a in plan.actions] == [
        ("remove", "route.del", "203.0.113.0/24")]


def test_route_of_the_kernel_or_another_daemon_is_a_conflict() -> None:
    state = _routed_state(route("default", via="192.0.2.254", dev="v0", proto=3))
    with pytest.raises(ConflictError, match="not vnet's"):
        plan_changes(load(ROUTED), state)


def test_route_outside_owned_namespaces_is_recorded() -> None:
    topo = load(f"""
name: {TOPO}
interfaces:
  - {{name: br0, kind: bridge, addresses: [192.0.2.1/24]}}
routes:
  - {{to: 198.51.100.0/24, via: 192.0.2.254}}
""")
    plan = plan_changes(topo, observed())
    assert plan.record is not None
    assert plan.record.routes == [[None, 254, 4, "198.51.100.0/24", 0]]


# ---- veth peers ------------------------------------------------------------------------------

def test_veth_peer_moved_replaces_the_pair_together() -> None:
    topo = load(f"""
name: {TOPO}
namespaces: [a, b, c]
interfaces:
  - {{name: v0, kind: veth, netns: a, peer: {{name: v1, netns: c}}}}
""")
    obs = observed(netns("a", link("v0", "veth", up=True)), netns("b", link("v1", "veth", up=True)),
                   netns("c"))
    plan = plan_changes(topo, obs)
    deletes = [(r.netns, r.args["ifname"]) for r in requests(plan) if r.op == "link.del"]
    assert ("a", "v0") in deletes
    adds = [r for r in requests(plan) if r.op == "link.add"]
    assert len(adds) == 1
    assert adds[0].netns == "a" and adds[0].args["ifname"] == "v0"
    assert adds[0].args["peer"]["netns"] == "c"
    assert action_for(plan, "link.add", "v0").verb == "replace"
    assert max(i for i, (op, _, _) in enumerate(ops(plan)) if op == "link.del") < \
        first(plan, "link.add")


def test_veth_peer_mtu_changes_in_place() -> None:
    topo = load(f"""
name: {TOPO}
namespaces: [a]
interfaces:
  - {{name: v0, kind: veth, netns: a, peer: {{name: v1, mtu: 9000}}}}
""")
    obs = observed(netns("a", link("v0", "veth", up=True)),
                   netns(None, link("v1", "veth", up=True), owner=None))
    plan = plan_changes(topo, obs)
    assert [(a.verb, a.do[0].op, a.do[0].netns, a.do[0].args) for a in plan.actions] == [
        ("change", "link.set", None, {"ifname": "v1", "mtu": 9000})]


def test_plan_as_dict_is_plain_data() -> None:
    import json
    plan = plan_changes(load(ROUTED), _routed_state())
    data = json.loads(json.dumps(plan.as_dict()))
    assert data["topology"] == TOPO and data["changes"] is True
    assert data["summary"]["create"] == len(plan.actions)


ALONE = f"""
name: {TOPO}
interfaces:
  - name: br0
    kind: bridge
  - {{name: a0, kind: veth, addresses: [192.0.2.1/30], peer: {{name: a1}}}}
  - {{name: p0, kind: veth, master: br0, peer: {{name: p1, addresses: [192.0.2.5/30]}}}}
  - {{name: up0, kind: veth, peer: {{name: up1}}}}
  - {{name: mv0, kind: stacked, link: up0, mode: 1}}
"""


@pytest.mark.parametrize("ipv6", [True, False], ids=["ipv6", "no-ipv6"])
def test_links_standing_alone_come_up_as_made_only_where_new_links_get_no_ipv6(
        stacked_kind: Any, ipv6: bool) -> None:
    root = netns(None)
    root.ipv6_default = ipv6
    plan = plan_changes(load(ALONE), observed(root))
    o = ops(plan)
    alone = ("a0", "a1", "p1", "up0", "up1")  # no master, no ports, no parent
    waiting = ("br0", "p0", "mv0")  # a master, a port, a link on a parent
    for name in waiting:
        assert first(plan, "link.state", name) > last(plan, "link.add")
        assert first(plan, "link.state", name) > first(plan, "link.master", "p0")
    if ipv6:  # every link comes up at the end, once every port has joined its master
        for name in alone:
            assert first(plan, "link.state", name) > first(plan, "link.master", "p0")
        return
    # right after its creation and its own addresses, before the next link is made
    assert [(op, t) for op, _, t in o[first(plan, "link.add", "a0"):][:5]] == [
        ("link.add", "a0"), ("addr.add", "a0"), ("link.state", "a0"), ("link.state", "a1"),
        ("link.add", "p0")]
    created = [t for op, _, t in o if op == "link.add"]
    for name in alone:
        pair = name if name in created else {"a1": "a0", "p1": "p0", "up1": "up0"}[name]
        after = [op for op, _, t in o[first(plan, "link.add", pair):first(plan, "link.state", name)]
                 if op == "link.add"]
        assert after == ["link.add"], (name, o)
    # the stacked link comes up after its parent
    assert first(plan, "link.state", "up0") < first(plan, "link.state", "mv0")


def test_a_namespaces_ipv6_default_is_read_only_where_a_link_may_come_up_as_made() -> None:
    """Reading it costs the backend a step into the namespace: a plan that creates nothing
    standing alone there never asks, one that does asks once."""
    asked: list[str | None] = []

    def space(name: str | None, *links: Any) -> Any:
        st = netns(name, *links)

        def read() -> bool:
            asked.append(name)
            return False
        st.ipv6_default = read
        return st

    topo = load(f"""
name: {TOPO}
namespaces: [h1]
interfaces:
  - {{name: a0, kind: veth, peer: {{name: a1}}}}
  - {{name: b0, kind: veth, netns: h1, peer: {{name: b1, netns: h1}}}}
""")
    live = [link("a0", "veth", up=True), link("a1", "veth", up=True)]
    plan_changes(topo, observed(space(None, *live), space("h1")))
    assert asked == ["h1"]  # a0/a1 exist; b0/b1 are made in h1, asked once for both
