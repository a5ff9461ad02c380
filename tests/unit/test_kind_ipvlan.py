"""ipvlan without a kernel: options to netlink and back, validation with positions, plans on the
fake kernel, ip commands."""

from __future__ import annotations

import textwrap

import pytest

import vnet
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import Position, TopologyError
from vnet.kinds.ipvlan import Ipvlan, IpvlanLike, Ipvtap
from vnet.plan import plan_changes

HEAD = """\
name: ipv
namespaces: [host, ns1]
interfaces:
  - name: nic0
    kind: veth
    netns: host
    peer: {name: wire0, netns: host}
"""
SPACES = [None, "host", "ns1"]


def make(cls: type[IpvlanLike] = Ipvlan, **options: object) -> IpvlanLike:
    return cls.model_validate({"kind": cls.kind_name, "name": "ipv1", "link": "nic0", **options})


def topo_of(body: str) -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "), "ipv.yaml")


def issues_of(body: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        topo_of(body)
    for issue in info.value.issues:
        assert isinstance(issue.where, Position) and issue.where.file == "ipv.yaml", issue
    return [str(i) for i in info.value.issues]


@pytest.mark.parametrize(("mode", "number"), [("l2", 0), ("l3", 1), ("l3s", 2)])
@pytest.mark.parametrize(("flag", "bits"), [("bridge", 0), ("private", 1), ("vepa", 2)])
def test_mode_and_flag_encode_and_decode_back(mode: str, number: int, flag: str,
                                              bits: int) -> None:
    iface = make(mode=mode, flag=flag)
    assert iface.info_data() == {"IFLA_IPVLAN_MODE": number, "IFLA_IPVLAN_FLAGS": bits}
    assert Ipvlan.decode_info_data(iface.info_data()) == {"mode": mode, "flag": flag}


def test_decode_accepts_pyroute2_names() -> None:
    assert Ipvlan.decode_info_data({"IFLA_IPVLAN_MODE": "IPVLAN_MODE_L2"}) == {"mode": "l2"}


def test_only_declared_options_are_compared() -> None:
    assert make().declared_options() == {}
    assert make(mode="l3").info_data() == {"IFLA_IPVLAN_MODE": 1}


def test_layout_taught_to_pyroute2_has_flags() -> None:
    assert [name for name, _ in Ipvlan.info_nla] == ["IFLA_IPVLAN_UNSPEC", "IFLA_IPVLAN_MODE",
                                                     "IFLA_IPVLAN_FLAGS"]
    assert Ipvtap.info_nla == Ipvlan.info_nla  # ipvtap reports the same attributes


def test_parent_in_another_namespace() -> None:
    iface = make(netns="ns1", link_netns="host")
    assert (iface.parent(), iface.parent_netns()) == ("nic0", "host")


# ---- plans on the fake kernel -----------------------------------------------------------------
BODY = """\
- {name: ipv1, kind: KIND, netns: ns1, link: nic0, link_netns: host, mode: MODE, flag: FLAG}
"""


def _topo(kind: str = "ipvlan", mode: str = "l2", flag: str = "bridge") -> vnet.Topology:
    return topo_of(BODY.replace("KIND", kind).replace("MODE", mode).replace("FLAG", flag))


def _apply(fake: FakeKernel, topo: vnet.Topology) -> None:
    plan = plan_changes(topo, fake.observe(Scope(SPACES)))
    fake.send([r for a in plan.actions for r in a.do])


@pytest.mark.parametrize("kind", ["ipvlan", "ipvtap"])
def test_created_in_parent_namespace_then_plan_is_empty(kind: str) -> None:
    fake = FakeKernel()
    topo = _topo(kind)
    plan = plan_changes(topo, fake.observe(Scope(SPACES)))
    add = next(r for a in plan.actions for r in a.do if r.op == "link.add" and
               r.args["ifname"] == "ipv1")
    assert (add.netns, add.args["kind"], add.args["parent"], add.args["parent_netns"]) == (
        "ns1", kind, "nic0", "host")
    assert add.args["info_data"] == {"IFLA_IPVLAN_MODE": 0, "IFLA_IPVLAN_FLAGS": 0}
    _apply(fake, topo)
    assert plan_changes(topo, fake.observe(Scope(SPACES))).actions == []


def test_mode_and_flag_change_in_place() -> None:
    fake = FakeKernel()
    _apply(fake, _topo())
    plan = plan_changes(_topo(mode="l3", flag="private"), fake.observe(Scope(SPACES)))
    assert [(a.verb, a.diff) for a in plan.actions] == [
        ("change", {"mode": ("l2", "l3"), "flag": ("bridge", "private")})]
    assert plan.actions[0].do[0].args["info_data"] == {"IFLA_IPVLAN_MODE": 1,
                                                       "IFLA_IPVLAN_FLAGS": 1}
    assert plan.actions[0].undo[0].args["info_data"] == {"IFLA_IPVLAN_MODE": 0,
                                                         "IFLA_IPVLAN_FLAGS": 0}


# ---- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["ipvlan", "ipvtap"])
@pytest.mark.parametrize(("body", "expected"), [
    ("- {name: i0, kind: KIND, link: nic0, link_netns: host, mac: '02:00:00:00:00:01'}",
     "ipv.yaml:8:65: interfaces[1].mac: an KIND has its parent's MAC; it cannot have its own "
     "(fix: remove mac"),
    ("- {name: i0, kind: KIND, link: nic0, link_netns: host, mode: l4}",
     "ipv.yaml:8:66: interfaces[1].mode: Input should be 'l2', 'l3' or 'l3s'"),
    ("- {name: i0, kind: KIND, link: nic0, link_netns: host, flag: passthru}",
     "ipv.yaml:8:66: interfaces[1].flag: Input should be 'bridge', 'private' or 'vepa'"),
    ("- {name: i0, kind: KIND, mode: l2}",
     "ipv.yaml:8:5: interfaces[1].link: required field 'link' is missing"),
    ("- {name: i0, kind: KIND, link: nic0, link_netns: nowhere}",
     "ipv.yaml:8:54: interfaces[1].link_netns: namespace 'nowhere' is not declared"),
    ("- {name: i0, kind: KIND, link: nic0, link_netns: host, mode: l2}\n"
     "- {name: i1, kind: KIND, link: nic0, link_netns: host, netns: ns1}",
     "ipv.yaml:9:5: interfaces[2].mode: mode l3 differs from mode l2 of 'i0' on the same "
     "parent 'nic0'; the kernel keeps one mode per parent (fix: give every ipvlan on 'nic0' "
     "the same mode (omitted means l3))"),
    ("- {name: i0, kind: KIND, link: nic0, link_netns: host, flag: vepa}\n"
     "- {name: i1, kind: ipvlan, link: nic0, link_netns: host, netns: ns1, flag: private}",
     "ipv.yaml:9:78: interfaces[2].flag: flag private differs from flag vepa of 'i0' on the "
     "same parent 'nic0'; the kernel keeps one flag per parent"),
])
def test_bad_values_are_reported_at_their_position(kind: str, body: str, expected: str) -> None:
    got = issues_of(body.replace("KIND", kind))
    assert any(line.startswith(expected.replace("KIND", kind)) for line in got), got


def test_siblings_on_other_parents_may_differ() -> None:
    topo_of("""\
        - {name: nic1, kind: veth, netns: host, peer: {name: wire1, netns: host}}
        - {name: i0, kind: ipvlan, link: nic0, link_netns: host, mode: l2}
        - {name: i1, kind: ipvlan, link: nic1, link_netns: host, mode: l3, netns: ns1}
        """)


# ---- rendering --------------------------------------------------------------------------------
def test_ip_commands_match_the_reference_spelling() -> None:
    iface = Ipvlan.model_validate({"kind": "ipvlan", "name": "ipv1", "link": "eth0",
                                   "mode": "l2"})
    assert iface.ip_commands() == [["ip", "link", "add", "link", "eth0", "name", "ipv1", "type",
                                    "ipvlan", "mode", "l2"]]
    tap = make(Ipvtap, netns="ns1", link_netns="host", mode="l3s", flag="vepa")
    assert " ".join(tap.ip_commands()[0]) == (
        "ip -n host link add link nic0 name ipv1 netns ns1 type ipvtap mode l3s vepa")


@pytest.mark.parametrize("cls", [Ipvlan, Ipvtap])
def test_use_when_is_two_lines(cls: type[IpvlanLike]) -> None:
    assert len(cls.use_when.splitlines()) == 2
