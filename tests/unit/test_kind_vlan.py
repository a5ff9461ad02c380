"""vlan without a kernel: options to netlink and back (flags, protocol, QoS maps), what changes
in place and what re-creates, the parent's namespace (link_netns), validation with positions,
ip commands."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

import vnet
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import Position, TopologyError
from vnet.kinds.vlan import Vlan
from vnet.observe import LinkState
from vnet.plan import plan_changes

HEAD = """\
name: vl
namespaces: [a, b]
interfaces:
  - name: trunk
    kind: veth
    netns: a
    peer: {name: trunk, netns: b}
"""


def make(**options: object) -> Vlan:
    return Vlan.model_validate({"kind": "vlan", "name": "v2", "link": "trunk", "id": 2,
                                **options})


def load(body: str) -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "), "vl.yaml")


def issues_of(body: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        load(body)
    for issue in info.value.issues:
        assert isinstance(issue.where, Position) and issue.where.file == "vl.yaml", issue
    return [str(i) for i in info.value.issues]


# ---- netlink ----------------------------------------------------------------------------------
def test_id_alone_sends_only_the_id() -> None:
    assert make().info_data() == {"IFLA_VLAN_ID": 2}
    assert make().declared_options() == {"id": 2}


def test_protocol_flags_and_maps_encode() -> None:
    v = make(protocol="802.1ad", reorder_hdr=False, gvrp=True, mvrp=True, loose_binding=True,
             ingress_qos_map=["1:2", "0:0"], egress_qos_map=["7:3"])
    data = v.info_data()
    assert data["IFLA_VLAN_PROTOCOL"] == 0x88A8
    assert data["IFLA_VLAN_FLAGS"] == {"flags": 0x2 | 0x4 | 0x8, "mask": 0x1F}
    # a 0-valued entry is no mapping: the kernel never reports it, so it is not sent
    assert data["IFLA_VLAN_INGRESS_QOS"] == {
        "attrs": [("IFLA_VLAN_QOS_MAPPING", {"from": 1, "to": 2})]}
    assert data["IFLA_VLAN_EGRESS_QOS"] == {
        "attrs": [("IFLA_VLAN_QOS_MAPPING", {"from": 7, "to": 3})]}


def test_one_flag_declared_keeps_the_kernel_defaults_of_the_others() -> None:
    assert make(gvrp=True).declared_options()["flags"] == ["reorder_hdr", "gvrp"]
    assert make(reorder_hdr=False).declared_options()["flags"] == []


def _kernel(flags: int = 1, protocol: int = 0x8100, **extra: Any) -> dict[str, Any]:
    return {"IFLA_VLAN_ID": 2, "IFLA_VLAN_PROTOCOL": protocol,
            "IFLA_VLAN_FLAGS": {"flags": flags, "mask": 0xFFFFFFFF}, **extra}


def test_decode_what_pyroute2_reports() -> None:
    got = Vlan.decode_info_data(_kernel(flags=0x3, protocol=0x88A8, IFLA_VLAN_EGRESS_QOS={
        "attrs": [("IFLA_VLAN_QOS_MAPPING", {"from": 4, "to": 5}),
                  ("IFLA_VLAN_QOS_MAPPING", {"from": 1, "to": 2})]}))
    assert got == {"id": 2, "protocol": "802.1ad", "flags": ["reorder_hdr", "gvrp"],
                   "ingress_qos_map": [], "egress_qos_map": ["1:2", "4:5"]}


@pytest.mark.parametrize("option", ["id", "protocol"])
def test_id_and_protocol_cannot_change_in_place(option: str) -> None:
    assert Vlan.needs_replace(option)
    assert not Vlan.needs_replace("flags")


# ---- plans on the fake kernel -----------------------------------------------------------------
def _apply(fake: FakeKernel, topo: vnet.Topology) -> None:
    plan = plan_changes(topo, fake.observe(Scope([None, "a", "b"])))
    fake.send([r for a in plan.actions for r in a.do])


def _plan(fake: FakeKernel, topo: vnet.Topology) -> list[tuple[str, str]]:
    plan = plan_changes(topo, fake.observe(Scope([None, "a", "b"])))
    return [(a.verb, a.subject) for a in plan.actions]


QINQ = """\
- {name: t.100, kind: vlan, netns: a, link: trunk, id: 100, protocol: 802.1ad}
- {name: t.100.10, kind: vlan, netns: a, link: t.100, id: 10, addresses: [192.0.2.1/24]}
"""


def test_qinq_creates_the_outer_vlan_before_the_inner_then_plans_nothing() -> None:
    fake = FakeKernel()
    topo = load(QINQ)
    plan = plan_changes(topo, fake.observe(Scope([None, "a", "b"])))
    links = [a.subject for a in plan.actions if a.subject.startswith("link")]
    assert links.index("link a/t.100 (vlan)") < links.index("link a/t.100.10 (vlan)")
    add = next(r for a in plan.actions for r in a.do
               if r.op == "link.add" and r.args["ifname"] == "t.100.10")
    assert (add.args["parent"], add.args["parent_netns"]) == ("t.100", "a")
    fake.send([r for a in plan.actions for r in a.do])
    assert _plan(fake, topo) == []


def test_protocol_change_replaces_flag_change_is_in_place() -> None:
    fake = FakeKernel()
    _apply(fake, load(QINQ))
    assert ("replace", "link a/t.100 (vlan)") in _plan(
        fake, load(QINQ.replace("802.1ad", "802.1Q")))
    changed = load(QINQ.replace("protocol: 802.1ad", "protocol: 802.1ad, mvrp: true"))
    assert _plan(fake, changed) == [("change", "link a/t.100 (vlan)")]


def _live_vlan(info: dict[str, Any]) -> LinkState:
    return LinkState(index=7, name="v2", kind="vlan", info_data=info)


def test_qos_map_entries_the_file_drops_are_sent_as_zero() -> None:
    v = make(egress_qos_map=["4:6"], ingress_qos_map=[])
    live = _live_vlan(_kernel(
        IFLA_VLAN_EGRESS_QOS={"attrs": [("IFLA_VLAN_QOS_MAPPING", {"from": 1, "to": 2}),
                                        ("IFLA_VLAN_QOS_MAPPING", {"from": 4, "to": 5})]},
        IFLA_VLAN_INGRESS_QOS={"attrs": [("IFLA_VLAN_QOS_MAPPING", {"from": 0, "to": 7})]}))
    [action] = v.plan_extras(None, live)
    data = action.do[0].args["info_data"]
    pairs = [(m["from"], m["to"]) for _, m in data["IFLA_VLAN_EGRESS_QOS"]["attrs"]]
    assert pairs == [(1, 0), (4, 6)]
    assert [(m["from"], m["to"]) for _, m in data["IFLA_VLAN_INGRESS_QOS"]["attrs"]] == [(0, 0)]
    undo = action.undo[0].args["info_data"]
    assert [(m["from"], m["to"]) for _, m in undo["IFLA_VLAN_EGRESS_QOS"]["attrs"]] == [
        (1, 2), (4, 5)]
    assert action.diff["egress_qos_map"] == (["1:2", "4:5"], ["4:6"])


def test_qos_maps_equal_or_undeclared_plan_nothing() -> None:
    live = _live_vlan(_kernel(IFLA_VLAN_EGRESS_QOS={
        "attrs": [("IFLA_VLAN_QOS_MAPPING", {"from": 1, "to": 2})]}))
    assert make(egress_qos_map=["1:2", "3:0"]).plan_extras(None, live) == []
    assert make().plan_extras(None, live) == []
    assert make(egress_qos_map=["1:2"]).plan_extras(None, None) == []  # created with it


# ---- parent namespace -------------------------------------------------------------------------
def test_parent_is_in_the_vlans_namespace_unless_link_netns_says_otherwise() -> None:
    assert make(netns="a").parent_netns() == "a"
    assert make(netns="a", link_netns="b").parent_netns() == "b"
    assert make(netns="a", link_netns=None).parent_netns() is None  # explicit null: vnet's own


def test_vlan_in_one_namespace_on_a_parent_in_another() -> None:
    fake = FakeKernel()
    topo = load("- {name: v7, kind: vlan, netns: b, link: trunk, link_netns: a, id: 7}\n")
    _apply(fake, topo)
    assert "v7" in fake.namespaces["b"].links
    assert _plan(fake, topo) == []


# ---- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "expected"), [
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: 4095}",
     "vl.yaml:8:54: interfaces[1].id: Input should be less than or equal to 4094"),
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: -1}",
     "vl.yaml:8:54: interfaces[1].id: Input should be greater than or equal to 0"),
    ("- {name: v, kind: vlan, netns: a, link: trunk}",
     "vl.yaml:8:5: interfaces[1].id: required field 'id' is missing"),
    ("- {name: v, kind: vlan, netns: a, link: nope, id: 2}",
     "vl.yaml:8:43: interfaces[1].link: parent link 'nope' is not an interface of this "
     "topology in a"),
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: 2, protocol: 802.1x}",
     "vl.yaml:8:67: interfaces[1].protocol: Input should be '802.1Q' or '802.1ad'"),
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: 2, egress_qos_map: ['1:8']}",
     "vl.yaml:8:73: interfaces[1].egress_qos_map: QoS map entry '1:8': TO is a VLAN "
     "priority, 0-7"),
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: 2, ingress_qos_map: ['9:1']}",
     "vl.yaml:8:74: interfaces[1].ingress_qos_map: QoS map entry '9:1': FROM is a VLAN "
     "priority, 0-7"),
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: 2, ingress_qos_map: ['1-2']}",
     "vl.yaml:8:74: interfaces[1].ingress_qos_map: QoS map entry '1-2' is not FROM:TO"),
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: 2, egress_qos_map: ['1:2', '1:3']}",
     "vl.yaml:8:81: interfaces[1].egress_qos_map[1]: egress_qos_map maps 1 twice"),
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: 2}\n"
     "- {name: w, kind: vlan, netns: a, link: trunk, id: 2}",
     "vl.yaml:8:54: interfaces[1].id: VLAN 2 (802.1Q) on 'trunk' is also 'w'"),
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: 2, link_netns: zz}",
     "vl.yaml:8:69: interfaces[1].link_netns: namespace 'zz' is not declared"),
    ("- {name: p, kind: veth, netns: a, peer: {name: q, netns: a}}\n"
     "- {name: v, kind: vlan, link: p, id: 2}",
     "vl.yaml:9:5: interfaces[2].link_netns: the parent 'p' is in namespace a, but without "
     "link_netns vnet looks for it where vnet runs (fix: add link_netns: a)"),
])
def test_bad_vlans_are_reported_at_their_position(body: str, expected: str) -> None:
    got = issues_of(body)
    assert any(line.startswith(expected) for line in got), got


def test_same_id_with_another_protocol_or_parent_is_fine() -> None:
    load("- {name: v, kind: vlan, netns: a, link: trunk, id: 2}\n"
         "- {name: w, kind: vlan, netns: a, link: trunk, id: 2, protocol: 802.1ad}\n"
         "- {name: x, kind: vlan, netns: b, link: trunk, id: 2}\n")


def test_qinq_with_an_802_1q_outer_tag_is_accepted() -> None:
    load("- {name: o, kind: vlan, netns: a, link: trunk, id: 100}\n"
         "- {name: i, kind: vlan, netns: a, link: o, id: 10}\n")


# ---- rendering --------------------------------------------------------------------------------
def test_ip_commands_match_the_reference_spelling() -> None:
    v = Vlan.model_validate({"kind": "vlan", "name": "eth0.2", "link": "eth0", "id": 2})
    assert v.ip_commands() == [["ip", "link", "add", "link", "eth0", "name", "eth0.2", "type",
                                "vlan", "id", "2"]]
    full = make(netns="b", link_netns="a", protocol="802.1ad", gvrp=True,
                ingress_qos_map=["1:2", "3:4"], egress_qos_map=["2:3"])
    assert " ".join(full.ip_commands()[0]) == (
        "ip -n a link add link trunk name v2 netns b type vlan id 2 protocol 802.1ad gvrp on "
        "ingress-qos-map 1:2 3:4 egress-qos-map 2:3")


def test_use_when_is_two_lines() -> None:
    assert len(Vlan.use_when.splitlines()) == 2


# ---- bridge_binding and VLAN 0 (every option `ip link add type vlan help` prints) ---------------
def test_bridge_binding_is_a_flag_changed_in_place() -> None:
    data = make(bridge_binding=True).info_data()
    assert data["IFLA_VLAN_FLAGS"] == {"flags": 0x1 | 0x10, "mask": 0x1F}
    assert Vlan.decode_info_data(_kernel(flags=0x11))["flags"] == ["reorder_hdr",
                                                                   "bridge_binding"]
    fake = FakeKernel()
    _apply(fake, load(QINQ))
    changed = load(QINQ.replace("protocol: 802.1ad", "protocol: 802.1ad, bridge_binding: true"))
    assert _plan(fake, changed) == [("change", "link a/t.100 (vlan)")]
    _apply(fake, changed)
    assert _plan(fake, changed) == []
    assert make(bridge_binding=False, mvrp=True).ip_type_args() == [
        "id", "2", "mvrp", "on", "bridge_binding", "off"]


@pytest.mark.parametrize(("body", "expected"), [
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: 2, bridge_bindng: true}",
     "did you mean 'bridge_binding'"),
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: 2, bridge_binding: maybe}",
     "interfaces[1].bridge_binding: Input should be a valid boolean"),
    ("- {name: v, kind: vlan, netns: a, link: trunk, id: two}",
     "interfaces[1].id: Input should be a valid integer"),
])
def test_bridge_binding_and_id_errors(body: str, expected: str) -> None:
    assert any(expected in line for line in issues_of(body)), issues_of(body)


def test_vlan_0_is_a_priority_tagged_link() -> None:
    topo = load("- {name: v0, kind: vlan, netns: a, link: trunk, id: 0, "
                "egress_qos_map: ['0:5']}\n")
    fake = FakeKernel()
    _apply(fake, topo)
    assert fake.namespaces["a"].links["v0"].info_data["IFLA_VLAN_ID"] == 0
    assert _plan(fake, topo) == []
