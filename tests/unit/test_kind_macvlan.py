"""macvlan and macvtap without a kernel: options to netlink and back, mode changes in place or
not, validation with positions, ip commands."""

from __future__ import annotations

import textwrap

import pytest

import vnet
from vnet.door import rtnl
from vnet.door.decode import decode_info_data, encode_info_data, info_layout
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import Position, TopologyError
from vnet.kinds.macvlan import PASSTHRU_KEY, Macvlan, MacvlanLike
from vnet.kinds.macvtap import Macvtap
from vnet.observe import LinkState
from vnet.plan import plan_changes

KINDS = [Macvlan, Macvtap]
HEAD = """\
name: mv
namespaces: [host, ns1]
interfaces:
  - name: nic0
    kind: veth
    netns: host
    peer: {name: wire0, netns: host}
"""


def make(cls: type[MacvlanLike], **options: object) -> MacvlanLike:
    return cls.model_validate({"kind": cls.kind_name, "name": "m0", "link": "nic0", **options})


def issues_of(body: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "), "mv.yaml")
    for issue in info.value.issues:
        assert isinstance(issue.where, Position) and issue.where.file == "mv.yaml", issue
    return [str(i) for i in info.value.issues]


@pytest.mark.parametrize("cls", KINDS)
def test_mode_and_flags_encode(cls: type[MacvlanLike]) -> None:
    p = cls.nla_prefix
    assert make(cls, mode="bridge").info_data() == {p + "MODE": 4}
    assert make(cls, mode="passthru", flag="nopromisc").info_data() == {p + "MODE": 8,
                                                                      p + "FLAGS": 1}
    assert make(cls, mode="source", flag="nodst").info_data() == {p + "MODE": 16,
                                                                  p + "FLAGS": 2}


@pytest.mark.parametrize("cls", KINDS)
def test_source_macs_are_set_in_one_request(cls: type[MacvlanLike]) -> None:
    p = cls.nla_prefix
    data = make(cls, mode="source", macaddr=["02:00:00:00:00:02", "02:00:00:00:00:01"]).info_data()
    assert data[p + "MACADDR_MODE"] == 3  # MACVLAN_MACADDR_SET
    assert data[p + "MACADDR_DATA"] == {"attrs": [(p + "MACADDR", "02:00:00:00:00:02"),
                                                  (p + "MACADDR", "02:00:00:00:00:01")]}


@pytest.mark.parametrize("cls", KINDS)
@pytest.mark.parametrize("mode", ["private", "vepa", "bridge", "passthru", "source"])
def test_round_trip_through_what_pyroute2_reports(cls: type[MacvlanLike], mode: str) -> None:
    p = cls.nla_prefix
    iface = make(cls, mode=mode, **({"macaddr": ["02:00:00:00:00:01"]} if mode == "source"
                                     else {}))
    # pyroute2 names the mode and flags; the source list comes back nested, in hash order
    kernel = {p + "MODE": mode, p + "FLAGS": "none", p + "MACADDR_COUNT": 0}
    if mode == "source":
        kernel[p + "MACADDR_DATA"] = {"attrs": [("IFLA_MACVLAN_MACADDR", "02:00:00:00:00:01")]}
    decoded = cls.decode_info_data(kernel)
    assert {k: decoded.get(k) for k in iface.declared_options()} == iface.declared_options()
    assert decoded[PASSTHRU_KEY] == (mode == "passthru")
    if mode == "source":
        assert decoded["macaddr"] == ["02:00:00:00:00:01"]


@pytest.mark.parametrize("cls", KINDS)
def test_the_door_codes_every_option_in_the_kinds_own_layout(cls: type[MacvlanLike]) -> None:
    # pyroute2 lacks IFLA_MACVLAN_BC_QUEUE_LEN: the kind declares its layout (if_link.h's
    # numbers) and the door encodes it; the kernel's answer decodes back to the file's words
    p = cls.nla_prefix
    iface = make(cls, mode="source", flag="nodst", bcqueuelen=4_294_967_295,
                 macaddr=["02:00:00:00:00:02", "02:00:00:00:00:01"])
    payload = encode_info_data(cls.info_nla, iface.info_data())
    mac = rtnl.attr(4, bytes.fromhex("020000000002")) + rtnl.attr(4, bytes.fromhex(
        "020000000001"))
    assert payload == (rtnl.attr(1, (16).to_bytes(4, "little"))
                       + rtnl.attr(2, (2).to_bytes(2, "little"))
                       + rtnl.attr(7, (2**32 - 1).to_bytes(4, "little"))
                       + rtnl.attr(3, (3).to_bytes(4, "little")) + rtnl.attr(5, mac))
    # what the kernel answers: the count and the queue length its parent uses besides
    answer = payload + rtnl.attr(6, (2).to_bytes(4, "little")) + rtnl.attr(
        8, (2**32 - 1).to_bytes(4, "little"))
    raw = decode_info_data(cls.info_nla, answer)
    assert raw[p + "BC_QUEUE_LEN_USED"] == 2**32 - 1
    back = cls.decode_info_data(raw)
    assert {k: back[k] for k in iface.declared_options()} == iface.declared_options()
    assert back["bcqueuelen"] == 2**32 - 1
    assert back["macaddr"] == ["02:00:00:00:00:01", "02:00:00:00:00:02"]
    assert info_layout(cls.kind_name) == cls.info_nla


@pytest.mark.parametrize("cls", KINDS)
def test_bcqueuelen_changes_in_place_and_its_default_is_left_out_of_a_capture(
        cls: type[MacvlanLike]) -> None:
    p = cls.nla_prefix
    assert not cls.needs_replace("bcqueuelen")
    assert make(cls, bcqueuelen=0).info_data() == {p + "BC_QUEUE_LEN": 0}
    live = LinkState(index=3, name="m0", kind=cls.kind_name, info_data={
        p + "MODE": 2, p + "FLAGS": 0, p + "BC_QUEUE_LEN": 1000, p + "BC_QUEUE_LEN_USED": 1000})
    assert cls.capture_fields(live, None) == {}
    live.info_data[p + "BC_QUEUE_LEN"] = 10
    assert cls.capture_fields(live, None) == {"bcqueuelen": 10}


@pytest.mark.parametrize(("value", "words"), [
    (2**32, "less than or equal to 4294967295"), (-1, "greater than or equal to 0"),
    ("long", "valid integer")])
def test_bcqueuelen_out_of_range_or_not_a_number_is_refused(value: object, words: str) -> None:
    for kind in ("macvlan", "macvtap"):
        got = issues_of(f"- {{name: m0, kind: {kind}, link: nic0, link_netns: host, "
                        f"bcqueuelen: {value}}}")
        assert any("interfaces[1].bcqueuelen" in line and words in line for line in got), got


def test_a_misspelt_bcqueuelen_gets_did_you_mean() -> None:
    got = issues_of("- {name: m0, kind: macvtap, link: nic0, link_netns: host, "
                    "bcqueuelength: 10}")
    assert any("did you mean 'bcqueuelen'" in line for line in got), got


def test_decode_accepts_kernel_numbers_too() -> None:
    assert Macvlan.decode_info_data({"IFLA_MACVLAN_MODE": 1, "IFLA_MACVLAN_FLAGS": 1}) == {
        "mode": "private", "flag": "nopromisc", PASSTHRU_KEY: False}
    assert Macvlan.decode_info_data({"IFLA_MACVLAN_FLAGS": 2})["flag"] == "nodst"


def test_parent_defaults_to_where_vnet_runs_and_link_netns_moves_it() -> None:
    m = make(Macvlan, netns="ns1")
    assert (m.parent(), m.parent_netns()) == ("nic0", None)
    m = make(Macvlan, netns="ns1", link_netns="host")
    assert (m.parent(), m.parent_netns()) == ("nic0", "host")


# ---- plans ------------------------------------------------------------------------------------
def _topo(mode: str, extra: str = "") -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(f"""\
        - name: m0
          kind: macvlan
          netns: ns1
          link: nic0
          link_netns: host
          mode: {mode}
        """), "  ") + extra)


def _apply(fake: FakeKernel, topo: vnet.Topology) -> None:
    plan = plan_changes(topo, fake.observe(Scope([None, "host", "ns1"])))
    fake.send([r for a in plan.actions for r in a.do])


def test_create_in_parent_namespace_then_plan_is_empty() -> None:
    fake = FakeKernel()
    topo = _topo("bridge")
    plan = plan_changes(topo, fake.observe(Scope([None, "host", "ns1"])))
    add = next(r for a in plan.actions for r in a.do if r.op == "link.add" and
               r.args["ifname"] == "m0")
    assert (add.netns, add.args["parent"], add.args["parent_netns"]) == ("ns1", "nic0", "host")
    _apply(fake, topo)
    assert plan_changes(topo, fake.observe(Scope([None, "host", "ns1"]))).actions == []


def test_mode_changes_in_place_between_bridge_and_private() -> None:
    fake = FakeKernel()
    _apply(fake, _topo("bridge"))
    plan = plan_changes(_topo("private"), fake.observe(Scope([None, "host", "ns1"])))
    assert [(a.verb, a.diff) for a in plan.actions] == [("change", {"mode": ("bridge",
                                                                             "private")})]
    assert plan.actions[0].do[0].args["info_data"] == {"IFLA_MACVLAN_MODE": 1}


def test_bcqueuelen_is_changed_in_place() -> None:
    fake = FakeKernel()
    _apply(fake, _topo("bridge", "    bcqueuelen: 100\n"))
    plan = plan_changes(_topo("bridge", "    bcqueuelen: 0\n"),
                        fake.observe(Scope([None, "host", "ns1"])))
    assert [(a.verb, a.diff) for a in plan.actions] == [("change", {"bcqueuelen": (100, 0)})]
    assert plan.actions[0].do[0].args["info_data"] == {"IFLA_MACVLAN_BC_QUEUE_LEN": 0}


def test_entering_passthru_replaces_the_link() -> None:
    fake = FakeKernel()
    _apply(fake, _topo("bridge"))
    plan = plan_changes(_topo("passthru"), fake.observe(Scope([None, "host", "ns1"])))
    assert any(a.verb == "replace" and "passthru" in a.reason for a in plan.actions), plan.actions


def test_source_mac_list_changes_in_place() -> None:
    m = make(Macvlan, mode="source", macaddr=["02:00:00:00:00:01", "02:00:00:00:00:03"])
    live = LinkState(index=3, name="m0", kind="macvlan", info_data={
        "IFLA_MACVLAN_MODE": "source",
        "IFLA_MACVLAN_MACADDR_DATA": {"attrs": [("IFLA_MACVLAN_MACADDR", "02:00:00:00:00:02"),
                                                ("IFLA_MACVLAN_MACADDR", "02:00:00:00:00:01")]}})
    [action] = m.plan_extras(None, live)
    assert action.verb == "change"
    assert action.diff == {"macaddr": (["02:00:00:00:00:01", "02:00:00:00:00:02"],
                                       ["02:00:00:00:00:01", "02:00:00:00:00:03"])}
    assert action.do[0].args["info_data"]["IFLA_MACVLAN_MACADDR_MODE"] == 3
    same = make(Macvlan, mode="source", macaddr=["02:00:00:00:00:02", "02:00:00:00:00:01"])
    assert same.plan_extras(None, live) == []
    empty = make(Macvlan, mode="source", macaddr=[])
    assert empty.plan_extras(None, live)[0].do[0].args["info_data"] == {
        "IFLA_MACVLAN_MACADDR_MODE": 2}  # flush


# ---- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["macvlan", "macvtap"])
@pytest.mark.parametrize(("body", "expected"), [
    ("- {name: m0, kind: KIND, link: nic0, link_netns: host, macaddr: ['02:00:00:00:00:01']}",
     "mv.yaml:8:70: interfaces[1].macaddr: macaddr lists the allowed source MACs of mode "
     "source only (fix: add mode: source, or remove macaddr)"),
    ("- {name: m0, kind: KIND, link: nic0, link_netns: host, mode: source,\n"
     "   macaddr: ['02:00:00:00:00:01', '02:00:00:00:00:01']}",
     "mv.yaml:9:37: interfaces[1].macaddr[1]: MAC 02:00:00:00:00:01 is listed twice"),
    ("- {name: m0, kind: KIND, link: nic0, link_netns: host, mode: bridge, flag: nopromisc}",
     "mv.yaml:8:81: interfaces[1].flag: flag nopromisc only applies to mode passthru"),
    ("- {name: m0, kind: KIND, link: nic0, link_netns: host, mode: bridge, flag: nodst}",
     "mv.yaml:8:81: interfaces[1].flag: flag nodst only applies to mode source"),
    ("- {name: m0, kind: KIND, link: nic0, link_netns: host, mode: hub}",
     "mv.yaml:8:67: interfaces[1].mode: Input should be 'private', 'vepa', 'bridge', "
     "'passthru' or 'source'"),
    ("- {name: m0, kind: KIND, netns: host, link: nic0}",
     "mv.yaml:8:5: interfaces[1].link_netns: the parent 'nic0' is in namespace host, but "
     "without link_netns vnet looks for it where vnet runs (fix: add link_netns: host)"),
    ("- {name: m0, kind: KIND, link: nic0, link_netns: nowhere}",
     "mv.yaml:8:55: interfaces[1].link_netns: namespace 'nowhere' is not declared"),
    ("- {name: m0, kind: KIND, mode: bridge}",
     "mv.yaml:8:5: interfaces[1].link: required field 'link' is missing"),
])
def test_bad_combinations_are_reported_at_their_position(kind: str, body: str,
                                                         expected: str) -> None:
    got = issues_of(body.replace("KIND", kind))
    assert any(line.startswith(expected) for line in got), got


# ---- rendering --------------------------------------------------------------------------------
def test_ip_commands_match_the_reference_spelling() -> None:
    m = Macvlan.model_validate({"kind": "macvlan", "name": "macv1", "link": "eth0",
                                "mode": "bridge"})
    assert m.ip_commands() == [["ip", "link", "add", "link", "eth0", "name", "macv1", "type",
                                "macvlan", "mode", "bridge"]]
    t = Macvtap.model_validate({"kind": "macvtap", "name": "macvtap0", "link": "eth0"})
    assert t.ip_commands() == [["ip", "link", "add", "link", "eth0", "name", "macvtap0", "type",
                                "macvtap"]]


def test_ip_commands_across_namespaces_and_options() -> None:
    m = make(Macvlan, netns="ns1", link_netns="host", mode="source",
             macaddr=["02:00:00:00:00:01"])
    assert " ".join(m.ip_commands()[0]) == (
        "ip -n host link add link nic0 name m0 netns ns1 type macvlan mode source "
        "macaddr set 02:00:00:00:00:01")
    b = make(Macvlan, mode="bridge", bcqueuelen=0)
    assert b.ip_commands()[0][-4:] == ["mode", "bridge", "bcqueuelen", "0"]
    p = make(Macvtap, netns="host", link_netns="host", mode="passthru", flag="nopromisc")
    assert " ".join(p.ip_commands()[0]) == (
        "ip -n host link add link nic0 name m0 type macvtap mode passthru flag nopromisc")


@pytest.mark.parametrize("cls", KINDS)
def test_use_when_is_two_lines(cls: type[MacvlanLike]) -> None:
    assert len(cls.use_when.splitlines()) == 2
