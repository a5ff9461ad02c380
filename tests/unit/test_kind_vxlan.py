"""vxlan without a kernel: options to netlink and back, validation with positions, FDB planning,
ip commands."""

from __future__ import annotations

import textwrap

import pytest

import vnet
from vnet.actions import Request
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import Position, TopologyError
from vnet.kinds.vxlan import TTL_INHERIT_KEY, Vxlan
from vnet.observe import FdbState, LinkState, NetnsState
from vnet.plan import plan_changes

HEAD = """\
name: vx
namespaces: [h1]
interfaces:
  - name: ul
    kind: veth
    netns: h1
    peer: {name: ul-peer}
"""


def vxlan(**options: object) -> Vxlan:
    return Vxlan.model_validate({"kind": "vxlan", "name": "vx0", **options})


def load_vx(body: str) -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "), "vx.yaml")


def issues_of(body: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        load_vx(body)
    for issue in info.value.issues:
        assert isinstance(issue.where, Position) and issue.where.file == "vx.yaml", issue
    return [str(i) for i in info.value.issues]


# ---- encode / decode --------------------------------------------------------------------------
def test_ipv4_options_encode_to_kernel_attributes() -> None:
    vx = vxlan(id=100, local="1.1.1.1", remote="2.2.2.2", dstport=4789, srcport=[1000, 2000],
               ttl=64, tos=1, learning=False, proxy=True, l2miss=True, l3miss=False,
               udpcsum=False, ageing=120)
    assert vx.info_data() == {
        "IFLA_VXLAN_ID": 100, "IFLA_VXLAN_LOCAL": "1.1.1.1", "IFLA_VXLAN_GROUP": "2.2.2.2",
        "IFLA_VXLAN_PORT": 4789, "IFLA_VXLAN_PORT_RANGE": {"low": 1000, "high": 2000},
        "IFLA_VXLAN_TTL": 64, "IFLA_VXLAN_TOS": 1, "IFLA_VXLAN_LEARNING": 0,
        "IFLA_VXLAN_PROXY": 1, "IFLA_VXLAN_L2MISS": 1, "IFLA_VXLAN_L3MISS": 0,
        "IFLA_VXLAN_UDP_CSUM": 0, "IFLA_VXLAN_AGEING": 120}


def test_ipv6_addresses_use_the_6_attributes() -> None:
    vx = vxlan(id=7, local="2001:db8::1", group="ff05::100", dev="ul")
    data = vx.info_data()
    assert data["IFLA_VXLAN_LOCAL6"] == "2001:db8::1"
    assert data["IFLA_VXLAN_GROUP6"] == "ff05::100"
    assert "IFLA_VXLAN_LOCAL" not in data and "IFLA_VXLAN_GROUP" not in data


def test_collect_metadata_without_learning_sends_nolearning_as_ip_does() -> None:
    assert vxlan(collect_metadata=True, dstport=4789).info_data() == {
        "IFLA_VXLAN_COLLECT_METADATA": 1, "IFLA_VXLAN_PORT": 4789, "IFLA_VXLAN_LEARNING": 0}


@pytest.mark.parametrize("options", [
    {"id": 100, "local": "198.51.100.1", "remote": "198.51.100.2", "dstport": 4789},
    {"id": 0, "local": "2001:db8::1", "remote": "2001:db8::2", "ttl": 5, "tos": 0},
    {"id": 16777215, "group": "239.1.1.1", "dev": "ul", "srcport": [4000, 5000],
     "learning": False, "proxy": True, "l2miss": True, "l3miss": True, "udpcsum": False},
    {"id": 9, "group": "ff05::100", "dev": "ul", "ageing": 30},
    {"collect_metadata": True, "dstport": 4789},
])
def test_round_trip_through_kernel_attributes(options: dict[str, object]) -> None:
    vx = vxlan(**options)
    # what the kernel reports: our attributes plus ones it always adds
    # (TTL_INHERIT as the door reads it: the kernel's byte, 0 unless ttl is inherit)
    kernel = {**vx.info_data(), "IFLA_VXLAN_LINK": 3, "IFLA_VXLAN_TTL_INHERIT": 0,
              "IFLA_VXLAN_DF": 0, "IFLA_VXLAN_LABEL": 0, "IFLA_VXLAN_RSC": 0}
    decoded = Vxlan.decode_info_data(kernel)
    assert {k: decoded.get(k) for k in vx.declared_options()} == vx.declared_options()


def test_decode_names_a_unicast_peer_remote_and_a_multicast_one_group() -> None:
    # gbp and gpe are flags the kernel reports only when set: absent, they are off (and so
    # is ttl inherit)
    off = {"gbp": False, "gpe": False, TTL_INHERIT_KEY: False}
    assert Vxlan.decode_info_data({"IFLA_VXLAN_GROUP": "2.2.2.2"}) == {"remote": "2.2.2.2",
                                                                      **off}
    assert Vxlan.decode_info_data({"IFLA_VXLAN_GROUP6": "ff05::1"}) == {"group": "ff05::1",
                                                                       **off}
    assert Vxlan.decode_info_data({"IFLA_VXLAN_LOCAL": "0.0.0.0"}) == off


def test_what_the_kernel_cannot_change_in_place() -> None:
    fixed = {o for o in Vxlan.options_map if Vxlan.needs_replace(o)}
    assert fixed == {"id", "local", "remote", "group", "dstport", "srcport", "proxy", "l2miss",
                     "l3miss", "udpcsum", "collect_metadata", "maxaddress", "rsc",
                     "udp6zerocsumtx", "udp6zerocsumrx", "remcsumtx", "remcsumrx", "gbp", "gpe",
                     TTL_INHERIT_KEY}


def test_dev_is_the_parent_in_the_vxlans_namespace() -> None:
    vx = vxlan(id=1, dev="ul", netns="h1")
    assert vx.parent() == "ul" and vx.parent_netns() == "h1"


# ---- validation -------------------------------------------------------------------------------
def test_valid_vxlan_loads() -> None:
    topo = load_vx("""
        - {name: vx0, kind: vxlan, netns: h1, id: 100, local: 198.51.100.1,
           remote: 198.51.100.2, dev: ul, dstport: 4789,
           fdb: [{mac: "00:00:00:00:00:00", dst: 198.51.100.3}]}
    """)
    assert topo.interfaces[1].fdb[0].dst == "198.51.100.3"


@pytest.mark.parametrize(("body", "expected"), [
    ("- {name: vx0, kind: vxlan, dstport: 4789}",
     "vx.yaml:8:5: interfaces[1].id: a vxlan needs its VNI (fix: add id: 100 (0-16777215))"),
    ("- {name: vx0, kind: vxlan, id: 16777216}",
     "vx.yaml:8:34: interfaces[1].id: Input should be less than or equal to 16777215"),
    ("- {name: vx0, kind: vxlan, id: 1, remote: 2.2.2.2, group: 239.1.1.1, dev: ul}",
     "vx.yaml:8:61: interfaces[1].group: remote and group cannot both be set"),
    ("- {name: vx0, kind: vxlan, id: 1, remote: 239.1.1.1}",
     "vx.yaml:8:45: interfaces[1].remote: remote 239.1.1.1 is a multicast address "
     "(fix: write group: 239.1.1.1 (with dev: UNDERLAY) instead)"),
    ("- {name: vx0, kind: vxlan, id: 1, group: 239.1.1.1}",
     "vx.yaml:8:44: interfaces[1].group: a multicast group needs the underlay link"),
    ("- {name: vx0, kind: vxlan, id: 1, group: 10.0.0.1, dev: ul, netns: h1}",
     "vx.yaml:8:44: interfaces[1].group: group 10.0.0.1 is not a multicast address"),
    ("- {name: vx0, kind: vxlan, collect_metadata: true, learning: true}",
     "vx.yaml:8:64: interfaces[1].learning: learning with collect_metadata: true fills"),
    ("- {name: vx0, kind: vxlan, collect_metadata: true, id: 5}",
     "vx.yaml:8:58: interfaces[1].id: a collect_metadata (ip: external) vxlan"),
    ("- {name: vx0, kind: vxlan, collect_metadata: true,\n"
     "   fdb: [{mac: '00:00:00:00:00:00', dst: 3.3.3.3}]}",
     "vx.yaml:9:11: interfaces[1].fdb: static FDB entries need a VNI"),
    ("- {name: vx0, kind: vxlan, id: 1, local: 2001:db8::1, remote: 2.2.2.2}",
     "vx.yaml:8:44: interfaces[1].local: local 2001:db8::1 and remote 2.2.2.2 are of "
     "different IP versions"),
    ("- {name: vx0, kind: vxlan, id: 1, srcport: [2000, 1000]}",
     "vx.yaml:8:46: interfaces[1].srcport: srcport range [2000, 1000] has min above max"),
    ("- {name: vx0, kind: vxlan, id: 1, dev: nope}",
     "vx.yaml:8:5: interfaces[1].link: parent link 'nope' is not an interface"),
    ("- {name: vx0, kind: vxlan, id: 1, remote: 2.2.2.2,\n"
     "   fdb: [{mac: '00:00:00:00:00:00', dst: 2.2.2.2}]}",
     "vx.yaml:9:12: interfaces[1].fdb[0]: the kernel already makes this entry for remote"),
    ("- {name: vx0, kind: vxlan, id: 1,\n"
     "   fdb: [{mac: '00:00:00:00:00:00', dst: 3.3.3.3}, {mac: '00:00:00:00:00:00', "
     "dst: 3.3.3.3}]}",
     "vx.yaml:9:54: interfaces[1].fdb[1]: fdb entry 00:00:00:00:00:00 dst 3.3.3.3 is listed "
     "twice"),
    ("- {name: vx0, kind: vxlan, id: 1, fdb: [{mac: '00:00:00:00:00:00', dst: nope}]}",
     "vx.yaml:8:75: interfaces[1].fdb[0].dst: 'nope' is not an IPv4 or IPv6 address"),
])
def test_bad_combinations_are_reported_at_their_position(body: str, expected: str) -> None:
    got = issues_of(body)
    assert any(line.startswith(expected) for line in got), got


# ---- FDB planning -----------------------------------------------------------------------------
def _live(**info: object) -> LinkState:
    return LinkState(index=5, name="vx0", kind="vxlan", info_data=dict(info))


def _fdb_vx() -> Vxlan:
    return vxlan(id=100, remote="198.51.100.2", fdb=[
        {"mac": "00:00:00:00:00:00", "dst": "198.51.100.3"},
        {"mac": "00:00:00:00:00:00", "dst": "198.51.100.4"}])


def test_fdb_entries_of_a_new_link_are_all_added() -> None:
    actions = _fdb_vx().plan_extras(None, None)
    assert [(a.verb, a.do[0].op, a.do[0].args["dst"]) for a in actions] == [
        ("create", "fdb.add", "198.51.100.3"), ("create", "fdb.add", "198.51.100.4")]
    assert actions[0].undo == [Request("fdb.del", None, {
        "ifname": "vx0", "mac": "00:00:00:00:00:00", "dst": "198.51.100.3"})]


def test_fdb_in_place_plans_nothing_and_ignores_the_kernels_own_and_learned_entries() -> None:
    st = NetnsState(name=None, fdb=[
        FdbState("vx0", "00:00:00:00:00:00", "198.51.100.2", 0xC0),  # made for `remote`
        FdbState("vx0", "00:00:00:00:00:00", "198.51.100.3", 0xC0),
        FdbState("vx0", "00:00:00:00:00:00", "198.51.100.4", 0xC0),
        FdbState("vx0", "02:00:00:00:00:07", "198.51.100.3", 0x02),  # learned (reachable)
        FdbState("other", "00:00:00:00:00:00", "198.51.100.9", 0xC0)])
    assert _fdb_vx().plan_extras(st, _live(IFLA_VXLAN_GROUP="198.51.100.2")) == []


def test_fdb_diff_adds_and_removes() -> None:
    st = NetnsState(name=None, fdb=[
        FdbState("vx0", "00:00:00:00:00:00", "198.51.100.3", 0xC0),
        FdbState("vx0", "00:00:00:00:00:00", "198.51.100.5", 0xC0)])
    actions = _fdb_vx().plan_extras(st, _live(IFLA_VXLAN_GROUP="198.51.100.2"))
    assert [(a.verb, a.do[0].op, a.do[0].args["dst"]) for a in actions] == [
        ("create", "fdb.add", "198.51.100.4"), ("remove", "fdb.del", "198.51.100.5")]


# ---- plans against a fake kernel ---------------------------------------------------------------
EXAMPLE = """\
name: vx
namespaces: [h1]
interfaces:
  - name: ul
    kind: veth
    netns: h1
    peer: {{name: ul-peer}}
  - name: vx0
    kind: vxlan
    netns: h1
    id: {id}
    local: 198.51.100.1
    remote: 198.51.100.2
    dev: ul
    dstport: 4789
    ttl: {ttl}
"""


def _applied(fake: FakeKernel, text: str) -> None:
    topo = vnet.load_text(text)
    plan = plan_changes(topo, fake.observe(Scope([None, "h1"])))
    fake.send([r for a in plan.actions for r in a.do])


def test_second_plan_is_empty_and_create_names_the_underlay() -> None:
    fake = FakeKernel()
    text = EXAMPLE.format(id=100, ttl=10)
    plan = plan_changes(vnet.load_text(text), fake.observe(Scope([None, "h1"])))
    add = next(r for a in plan.actions for r in a.do if r.op == "link.add" and
               r.args["ifname"] == "vx0")
    assert (add.args["parent"], add.args["parent_netns"]) == ("ul", "h1")
    _applied(fake, text)
    assert plan_changes(vnet.load_text(text), fake.observe(Scope([None, "h1"]))).actions == []


def test_id_change_replaces_and_ttl_change_is_in_place() -> None:
    fake = FakeKernel()
    _applied(fake, EXAMPLE.format(id=100, ttl=10))
    replace = plan_changes(vnet.load_text(EXAMPLE.format(id=101, ttl=10)),
                           fake.observe(Scope([None, "h1"])))
    assert {a.verb for a in replace.actions if "vx0" in a.subject} >= {"replace"}
    assert any("id cannot change in place" in a.reason for a in replace.actions)
    change = plan_changes(vnet.load_text(EXAMPLE.format(id=100, ttl=20)),
                          fake.observe(Scope([None, "h1"])))
    assert [(a.verb, a.diff) for a in change.actions] == [("change", {"ttl": (10, 20)})]
    assert change.actions[0].do[0].args["info_data"] == {"IFLA_VXLAN_TTL": 20}


# ---- rendering --------------------------------------------------------------------------------
def test_ip_commands_match_the_reference_spelling() -> None:
    vx = vxlan(id=100, local="1.1.1.1", remote="2.2.2.2", dev="eth0", dstport=4789)
    assert vx.ip_commands() == [["ip", "link", "add", "vx0", "type", "vxlan", "id", "100",
                                 "local", "1.1.1.1", "remote", "2.2.2.2", "dev", "eth0",
                                 "dstport", "4789"]]


def test_ip_commands_with_namespace_flags_and_fdb() -> None:
    vx = vxlan(id=5, netns="h1", group="239.1.1.1", dev="ul", srcport=[1, 2], ttl=3,
               learning=False, udpcsum=True,
               fdb=[{"mac": "00:00:00:00:00:00", "dst": "198.51.100.9"}])
    assert [" ".join(c) for c in vx.ip_commands()] == [
        "ip -n h1 link add vx0 type vxlan id 5 group 239.1.1.1 dev ul srcport 1 2 ttl 3 "
        "nolearning udpcsum",
        "bridge -n h1 fdb append 00:00:00:00:00:00 dev vx0 dst 198.51.100.9"]


def test_use_when_is_two_lines() -> None:
    assert len(Vxlan.use_when.splitlines()) == 2
