"""Bridge VLAN filtering without a kernel: the `vlans` field (ids, ranges, pvid), validation with
positions (a port needs a bridge master with vlan_filtering), and the per-vid plan against
observed states (the default PVID a new port gets, drift, a second plan that is empty, the
kernel's move of untouched ports when vlan_default_pvid changes)."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import ValidationError

import vnet
from vnet.errors import Position, TopologyError
from vnet.features.bridge_vlans import BridgeVlan, expected_vlans, plan_vlans, wanted_vlans
from vnet.observe import LinkState, NetnsState, Observed
from vnet.ownership import link_marker
from vnet.plan import plan_changes

PVID, UNTAGGED = 0x2, 0x4
ACCESS = PVID | UNTAGGED

HEAD = """\
name: bv
namespaces: [sw]
interfaces:
  - {name: br0, kind: bridge, netns: sw, vlan_filtering: true}
"""


def load(body: str) -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "), "bv.yaml")


def issues_of(body: str, head: str = HEAD) -> list[str]:
    with pytest.raises(TopologyError) as info:
        vnet.load_text(head + textwrap.indent(textwrap.dedent(body), "  "), "bv.yaml")
    for issue in info.value.issues:
        assert isinstance(issue.where, Position) and issue.where.file == "bv.yaml", issue
    return [str(i) for i in info.value.issues]


# ---- the field --------------------------------------------------------------------------------
def test_vid_is_one_id_or_a_range() -> None:
    assert list(BridgeVlan(vid=10).vids) == [10]
    assert list(BridgeVlan(vid="20-22").vids) == [20, 21, 22]
    assert BridgeVlan(vid=" 5 - 6 ".replace(" ", "")).vid == "5-6"
    assert BridgeVlan(vid="7").vid == 7


@pytest.mark.parametrize(("vid", "pvid", "words"), [
    (0, False, "VLAN ids are 1-4094"), (4095, False, "VLAN ids are 1-4094"),
    ("9-3", False, "from low to high"), ("a-b", False, "not a VLAN id"),
    ("1-2-3", False, "VLAN ids are 1-4094"), ("10-20", True, "a range cannot be the PVID"),
])
def test_bad_vids_are_refused(vid: object, pvid: bool, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        BridgeVlan(vid=vid, pvid=pvid)


def test_wanted_vlans_expand_ranges_with_their_flags() -> None:
    topo = load("""\
        - name: p1
          kind: veth
          netns: sw
          master: br0
          vlans: [{vid: 10, pvid: true, untagged: true}, {vid: 20-21}, {vid: 30, untagged: true}]
          peer: {name: p1x, netns: sw}
        """)
    port = next(e for e in topo.endpoints() if e.name == "p1")
    assert wanted_vlans(port) == {10: ACCESS, 20: 0, 21: 0, 30: UNTAGGED}


# ---- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "expected"), [
    ("- {name: p, kind: veth, netns: sw, vlans: [{vid: 10}], peer: {name: q, netns: sw}}",
     "bv.yaml:5:45: interfaces[1].vlans: vlans are the VLANs of a bridge port, and 'p' has no "
     "master (fix: add master: BRIDGE"),
    ("- {name: p, kind: veth, netns: sw, peer: {name: q, netns: sw, vlans: [{vid: 10}]}}",
     "bv.yaml:5:72: interfaces[1].peer.vlans: vlans are the VLANs of a bridge port, and 'q'"),
    ("- {name: p, kind: veth, netns: sw, master: br0, peer: {name: q, netns: sw},\n"
     "   vlans: [{vid: 10, pvid: true}, {vid: 20, pvid: true}]}",
     "bv.yaml:6:53: interfaces[1].vlans[1].pvid: a port has one PVID, and vlans[0] is "
     "already it"),
    ("- {name: p, kind: veth, netns: sw, master: br0, peer: {name: q, netns: sw},\n"
     "   vlans: [{vid: 10-20}, {vid: 15}]}",
     "bv.yaml:6:34: interfaces[1].vlans[1].vid: VLAN 15 overlaps vlans[0]"),
    ("- {name: p, kind: veth, netns: sw, master: br0, peer: {name: q, netns: sw},\n"
     "   vlans: [{vid: 5000}]}",
     "bv.yaml:6:20: interfaces[1].vlans[0].vid: vid 5000: VLAN ids are 1-4094"),
    ("- {name: p, kind: veth, netns: sw, master: br0, peer: {name: q, netns: sw},\n"
     "   vlans: [{vid: 10, tagged: true}]}",
     "bv.yaml:6:24: interfaces[1].vlans[0].tagged: unknown field 'tagged'"),
])
def test_bad_port_vlans_are_reported_at_their_position(body: str, expected: str) -> None:
    got = issues_of(body)
    assert any(line.startswith(expected) for line in got), got


def test_port_of_a_bridge_without_filtering_is_refused() -> None:
    head = "name: bv\nnamespaces: [sw]\ninterfaces:\n  - {name: br0, kind: bridge, netns: sw}\n"
    got = issues_of("- {name: p, kind: veth, netns: sw, master: br0, vlans: [{vid: 10}],\n"
                    "   peer: {name: q, netns: sw}}", head)
    assert any("bridge 'br0' does not filter VLANs" in line and
               "add vlan_filtering: true to bridge 'br0'" in line for line in got), got


def test_the_bridges_own_vlans_need_filtering_too() -> None:
    head = "name: bv\nnamespaces: [sw]\ninterfaces:\n"
    got = issues_of("- {name: br0, kind: bridge, netns: sw, vlans: [{vid: 10}]}", head)
    assert any("interfaces[0].vlans: the bridge's own vlans only filter with vlan_filtering"
               in line for line in got), got


def test_external_ports_and_bridges_may_carry_vlans() -> None:
    load("- {name: eth9, external: true, netns: sw, master: br0, vlans: [{vid: 3}]}\n")
    vnet.load_text("name: bv\nnamespaces: [sw]\ninterfaces:\n"
                   "  - {name: brx, external: true, netns: sw, kind: bridge, vlans: [{vid: 3}]}\n")


# ---- plans ------------------------------------------------------------------------------------
PORTS = """\
- name: p1
  kind: veth
  netns: sw
  master: br0
  vlans: [{vid: 10, pvid: true, untagged: true}, {vid: 20-22}]
  peer: {name: p1x, netns: sw}
"""


def _subjects(plan: object) -> list[tuple[str, str]]:
    return [(a.verb, a.subject) for a in plan.actions  # type: ignore[attr-defined]
            if "bridge vlan" in a.subject]


def test_fresh_port_loses_the_default_pvid_and_gets_its_vlans_as_one_action_per_run() -> None:
    plan = plan_changes(load(PORTS), Observed())
    assert _subjects(plan) == [("remove", "bridge vlan 1 on sw/p1"),
                               ("create", "bridge vlan 10 pvid untagged on sw/p1"),
                               ("create", "bridge vlan 20-22 tagged on sw/p1")]
    by_subject = {a.subject: a for a in plan.actions}
    run = by_subject["bridge vlan 20-22 tagged on sw/p1"]
    assert run.do[0].op == "bridge_vlan.add"
    assert run.do[0].args == {"ifname": "p1", "vids": [20, 22], "pvid": False,
                              "untagged": False}
    assert run.undo[0].op == "bridge_vlan.del"
    gone = by_subject["bridge vlan 1 on sw/p1"]
    assert gone.undo[0].args == {"ifname": "p1", "vids": [1, 1], "pvid": True,
                                 "untagged": True}
    # vlans come after the port joined its bridge
    order = [a.subject for a in plan.actions]
    assert order.index("port sw/p1 of br0") < order.index("bridge vlan 1 on sw/p1")


def _observed(vlans: dict[str, dict[int, int]], default_pvid: int = 1) -> Observed:
    links = {
        "lo": LinkState(1, "lo", None, altnames=[]),
        "br0": LinkState(2, "br0", "bridge", up=True, altnames=[link_marker("bv", "br0")],
                         info_data={"IFLA_BR_VLAN_FILTERING": 1,
                                    "IFLA_BR_VLAN_DEFAULT_PVID": default_pvid}),
        "p1": LinkState(3, "p1", "veth", up=True, master="br0", parent_index=4,
                        altnames=[link_marker("bv", "p1")]),
        "p1x": LinkState(4, "p1x", "veth", up=True, parent_index=3,
                         altnames=[link_marker("bv", "p1x")]),
    }
    from vnet.ownership import netns_marker
    links["lo"].altnames = [netns_marker("bv")]
    st = NetnsState(name="sw", links=links, bridge_vlans=vlans)
    return Observed(namespaces={None: NetnsState(name=None), "sw": st}, existing_netns={"sw"})


def test_matching_kernel_plans_nothing() -> None:
    obs = _observed({"br0": {1: ACCESS}, "p1": {10: ACCESS, 20: 0, 21: 0, 22: 0}})
    assert _subjects(plan_changes(load(PORTS), obs)) == []


def test_drift_is_planned_per_vid_with_undo_to_what_was_there() -> None:
    obs = _observed({"br0": {1: ACCESS}, "p1": {10: 0, 20: 0, 22: 0, 30: UNTAGGED}})
    plan = plan_changes(load(PORTS), obs)
    assert _subjects(plan) == [("remove", "bridge vlan 30 on sw/p1"),
                               ("change", "bridge vlan 10 pvid untagged on sw/p1"),
                               ("create", "bridge vlan 21 tagged on sw/p1")]
    change = next(a for a in plan.actions if a.verb == "change" and "vlan 10" in a.subject)
    assert change.undo[0].args == {"ifname": "p1", "vids": [10, 10], "pvid": False,
                                   "untagged": False}
    assert change.diff == {"vlan": ("tagged", "pvid untagged")}


def test_a_port_without_vlans_is_left_alone() -> None:
    obs = _observed({"br0": {1: ACCESS}, "p1": {1: ACCESS, 99: 0}})
    plain = PORTS.replace("  vlans: [{vid: 10, pvid: true, untagged: true}, {vid: 20-22}]\n", "")
    assert _subjects(plan_changes(load(plain), obs)) == []


def test_bridge_self_vlans_carry_the_self_flag() -> None:
    topo = vnet.load_text(
        "name: bv\nnamespaces: [sw]\ninterfaces:\n"
        "  - {name: br0, kind: bridge, netns: sw, vlan_filtering: true,\n"
        "     vlans: [{vid: 1, pvid: true, untagged: true}, {vid: 10}]}\n")
    plan = plan_changes(topo, Observed())
    [action] = [a for a in plan.actions if "bridge vlan" in a.subject]
    assert action.subject == "bridge vlan 10 tagged on sw/br0"
    assert action.do[0].args["self_"] is True


def test_default_pvid_prediction_follows_the_kernel() -> None:
    topo = load(PORTS)
    port = next(e for e in topo.endpoints() if e.name == "p1")
    bridge = next(e for e in topo.endpoints() if e.name == "br0")
    obs = _observed({"p1": {1: ACCESS, 5: 0}}, default_pvid=1)
    st = obs.namespaces["sw"]
    live, br_live = st.links["p1"], st.links["br0"]
    assert expected_vlans(port, live, bridge, br_live, st) == {1: ACCESS, 5: 0}
    # a new bridge: the port starts with the default PVID only
    assert expected_vlans(port, live, bridge, None, st) == {1: ACCESS}
    br7 = type(bridge).model_validate({**bridge.model_dump(exclude_unset=True),
                                       "vlan_default_pvid": 7})
    # an untouched default PVID moves to the new one; a port that changed it keeps its own
    assert expected_vlans(port, live, br7, br_live, st) == {7: ACCESS, 5: 0}
    st.bridge_vlans["p1"] = {1: PVID, 5: 0}
    assert expected_vlans(port, live, br7, br_live, st) == {1: PVID, 5: 0}
    br0 = type(bridge).model_validate({**bridge.model_dump(exclude_unset=True),
                                       "vlan_default_pvid": 0})
    assert expected_vlans(port, None, br0, None, st) == {}


def test_plan_vlans_is_nothing_without_vlans() -> None:
    topo = load(PORTS.replace("  vlans: [{vid: 10, pvid: true, untagged: true}, "
                              "{vid: 20-22}]\n", ""))
    port = next(e for e in topo.endpoints() if e.name == "p1")
    assert plan_vlans(port, None, None, None, None) == []
