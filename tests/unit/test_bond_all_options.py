"""bond's options beyond the first fifteen, without a kernel: every option of `ip link add type
bond help` accepted or listed as left out, ranges and mode fit from the kernel's own table
(bond_options.c), spelling errors with "did you mean", netlink encoding and decoding through
the layout the kind declares, in place versus re-created changes, active_slave set by name."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import TOPO, link, netns, observed

import vnet
from vnet.door.decode import decode_info_data, encode_info_data
from vnet.errors import TopologyError
from vnet.kinds.bond import Bond
from vnet.plan import plan_changes

HEAD = f"""\
name: {TOPO}
interfaces:
  - name: eth0
    kind: veth
    master: bond1
    peer: {{name: p0}}
  - name: eth1
    kind: veth
    master: bond1
    peer: {{name: p1}}
  - name: bond1
    kind: bond
"""

DOCS = Path(__file__).resolve().parents[2] / "docs" / "options.md"


def topo(options: str = "") -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(options), "    "), "b.yaml")


def issues_of(options: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        topo(options)
    return [str(i) for i in info.value.issues]


def _bond(t: vnet.Topology) -> Bond:
    found = next(e for e in t.endpoints() if e.name == "bond1")
    assert isinstance(found, Bond)
    return found


def _left_out(section: str) -> set[str]:
    text = DOCS.read_text()
    start = text.index(f"<!-- left-out: {section} -->")
    rows = re.findall(r"^\| ([a-z0-9_]+) \|", text[start:].split("\n\n")[0], re.M)
    return set(rows) - {"option"}


def test_every_option_ip_prints_is_taken_or_left_out_with_a_reason() -> None:
    if shutil.which("ip") is None:
        pytest.skip("iproute2's ip is not installed")
    text = subprocess.run(["ip", "link", "add", "type", "bond", "help"], capture_output=True,
                          text=True, check=False).stderr
    usage = text.split("\n\n")[0]
    printed = set(re.findall(r"\[ ([a-z0-9_]+)(?:\|([a-z0-9_]+))?", usage))
    names = {n for pair in printed for n in pair if n}
    assert {"mode", "active_slave", "arp_missed_max", "num_unsol_na"} <= names
    missing = names - set(Bond.model_fields) - _left_out("bond")
    assert not missing, f"options ip prints that bond neither takes nor lists: {missing}"


# the bond entry starts at line 11; its options from line 13 on (positions point at values)
@pytest.mark.parametrize("options, expected", [
    ("mode: active-backup\nresend_igmp: 256\n",
     "b.yaml:14:18: interfaces[2].resend_igmp: Input should be less than or equal to 255"),
    ("mode: active-backup\nnum_grat_arp: -1\n", "interfaces[2].num_grat_arp: Input should "
                                                "be greater than or equal to 0"),
    ("lp_interval: 0\n", "interfaces[2].lp_interval: Input should be greater than or equal "
                         "to 1"),
    ("packets_per_slave: 65536\n", "interfaces[2].packets_per_slave: Input should be less "
                                   "than or equal to 65535"),
    ("mode: 802.3ad\nad_actor_sys_prio: 0\n", "interfaces[2].ad_actor_sys_prio: Input should "
                                              "be greater than or equal to 1"),
    ("mode: 802.3ad\nad_user_port_key: 1024\n", "interfaces[2].ad_user_port_key: Input "
                                                "should be less than or equal to 1023"),
    ("arp_interval: 100\narp_ip_target: [192.0.2.1]\narp_missed_max: 0\n",
     "interfaces[2].arp_missed_max: Input should be greater than or equal to 1"),
    ("mode: 802.3ad\nad_actor_system: 01:00:5e:00:00:01\n",
     "interfaces[2].ad_actor_system: '01:00:5e:00:00:01' is a multicast MAC"),
    ("mode: 802.3ad\nad_actor_system: nope\n", "interfaces[2].ad_actor_system: 'nope' is not "
                                               "a MAC address"),
    ("use_carrier: maybe\n", "interfaces[2].use_carrier: "),
    ("arp_interval: 100\narp_ip_target: [192.0.2.1]\narp_validate: some\n",
     "interfaces[2].arp_validate: "),
    ("primary_reselect: sometimes\n", "interfaces[2].primary_reselect: "),
    ("peer_notify_delay: 2147483648\n", "interfaces[2].peer_notify_delay: Input should be "
                                        "less than or equal to 2147483647"),
])
def test_ranges_and_types_are_the_kernels(options: str, expected: str) -> None:
    found = issues_of(options)
    assert any(expected in line for line in found), found


@pytest.mark.parametrize("options, expected", [
    ("resend_igmpp: 2\n", "did you mean 'resend_igmp'"),
    ("arp_misssed_max: 2\n", "did you mean 'arp_missed_max'"),
    ("tlb_dynamic_lbb: false\n", "did you mean 'tlb_dynamic_lb'"),
    ("active-slave: eth0\n", "did you mean 'active_slave'"),
])
def test_misspelt_options_get_a_did_you_mean(options: str, expected: str) -> None:
    found = issues_of(options)
    assert any(expected in line for line in found), found


@pytest.mark.parametrize("options, expected", [
    ("mode: active-backup\npackets_per_slave: 3\n",
     "interfaces[2].packets_per_slave: packets_per_slave only applies to mode balance-rr, "
     "not mode active-backup (the kernel refuses it)"),
    ("tlb_dynamic_lb: false\n", "interfaces[2].tlb_dynamic_lb: tlb_dynamic_lb only applies to "
                                "modes balance-tlb, balance-alb, not mode balance-rr (the "
                                "default when mode is omitted)"),
    ("mode: active-backup\nlacp_active: false\n", "lacp_active only applies to mode 802.3ad"),
    ("mode: balance-xor\nad_actor_sys_prio: 10\n", "ad_actor_sys_prio only applies to mode "
                                                   "802.3ad"),
    ("ad_actor_system: 02:00:00:00:00:01\n", "ad_actor_system only applies to mode 802.3ad"),
    ("mode: balance-tlb\nad_user_port_key: 3\n", "ad_user_port_key only applies to mode"),
    ("mode: balance-xor\nactive_slave: eth0\n", "active_slave only applies to modes "
                                                "active-backup, balance-tlb, balance-alb"),
    ("mode: 802.3ad\narp_validate: all\n", "arp_validate only applies to modes balance-rr"),
    ("mode: balance-alb\nns_ip6_target: ['2001:db8::1']\n", "ns_ip6_target only applies to "
                                                            "modes balance-rr"),
    ("mode: active-backup\nmiimon: 100\narp_validate: active\n",
     "arp_validate: arp_validate cannot be used with miimon"),
    ("mode: active-backup\narp_all_targets: all\n", "arp_all_targets is only used by the ARP "
                                                    "link check, and arp_interval is off"),
    ("arp_interval: 100\narp_ip_target: [192.0.2.1]\nns_ip6_target: [192.0.2.2]\n",
     "ns_ip6_target[0]: ns_ip6_target 192.0.2.2 is not IPv6"),
    ("arp_interval: 100\narp_ip_target: [192.0.2.1]\nns_ip6_target: ['ff02::1']\n",
     "ns_ip6_target[0]: ns_ip6_target ff02::1 is not a unicast address"),
    ("peer_notify_delay: 200\n", "peer_notify_delay counts in miimon intervals, and miimon "
                                 "is off"),
    ("miimon: 100\npeer_notify_delay: 150\n", "peer_notify_delay 150 is not a multiple of "
                                              "miimon 100"),
    ("mode: active-backup\nactive_slave: p0\n", "active_slave 'p0' is not a port of bond1"),
    ("mode: active-backup\nprimary: eth0\nactive_slave: eth1\n",
     "active_slave 'eth1' and primary 'eth0' differ"),
])
def test_mode_and_monitor_fit_errors_name_the_fix(options: str, expected: str) -> None:
    found = issues_of(options)
    assert any(expected in line for line in found), found


RR = "peer_notify_delay: 200\nmiimon: 100\nuse_carrier: false\nresend_igmp: 3\n" \
     "num_grat_arp: 4\nlp_interval: 5\npackets_per_slave: 6\nprimary_reselect: better\n"
ARP = ("mode: active-backup\narp_interval: 100\narp_ip_target: [192.0.2.1]\n"
       "arp_validate: filter_backup\narp_all_targets: all\narp_missed_max: 7\n"
       "ns_ip6_target: ['2001:db8::1', '2001:db8::2']\n")
LACP = ("mode: 802.3ad\nlacp_active: false\nad_actor_sys_prio: 100\n"
        "ad_actor_system: 02:AA:00:00:00:01\nad_user_port_key: 1000\n")
TLB = "mode: balance-tlb\ntlb_dynamic_lb: false\nactive_slave: eth1\n"


def test_new_options_encode_to_kernel_numbers() -> None:
    assert _bond(topo(RR)).info_data() == {
        "IFLA_BOND_MIIMON": 100, "IFLA_BOND_PEER_NOTIF_DELAY": 200,
        "IFLA_BOND_USE_CARRIER": 0, "IFLA_BOND_RESEND_IGMP": 3, "IFLA_BOND_NUM_PEER_NOTIF": 4,
        "IFLA_BOND_LP_INTERVAL": 5, "IFLA_BOND_PACKETS_PER_SLAVE": 6,
        "IFLA_BOND_PRIMARY_RESELECT": 1}
    arp = _bond(topo(ARP)).info_data()
    assert (arp["IFLA_BOND_ARP_VALIDATE"], arp["IFLA_BOND_ARP_ALL_TARGETS"],
            arp["IFLA_BOND_MISSED_MAX"], arp["IFLA_BOND_NS_IP6_TARGET"]) == (
        6, 1, 7, ["2001:db8::1", "2001:db8::2"])
    assert _bond(topo(LACP)).info_data() == {
        "IFLA_BOND_MODE": 4, "IFLA_BOND_AD_LACP_ACTIVE": 0, "IFLA_BOND_AD_ACTOR_SYS_PRIO": 100,
        "IFLA_BOND_AD_ACTOR_SYSTEM": "02:aa:00:00:00:01", "IFLA_BOND_AD_USER_PORT_KEY": 1000}
    # active_slave is no IFLA_INFO_DATA of the new link: it names a port, set once it joined
    assert _bond(topo(TLB)).info_data() == {"IFLA_BOND_MODE": 5, "IFLA_BOND_TLB_DYNAMIC_LB": 0}


@pytest.mark.parametrize("options", [RR, ARP, LACP, TLB])
def test_declared_layout_round_trips_through_netlink_bytes(options: str) -> None:
    bond = _bond(topo(options))
    data = bond.info_data()
    payload = encode_info_data(Bond.info_nla, data)
    assert decode_info_data(Bond.info_nla, payload) == data
    assert Bond.decode_info_data(decode_info_data(Bond.info_nla, payload)) == \
        bond.declared_options()


def test_address_lists_and_macs_are_coded_as_the_kernel_reads_them() -> None:
    # a nest of attributes, each one address in network order (bond_changelink's
    # nla_for_each_nested); the MAC as 6 bytes
    payload = encode_info_data(Bond.info_nla, {"IFLA_BOND_ARP_IP_TARGET": ["192.0.2.1"],
                                               "IFLA_BOND_AD_ACTOR_SYSTEM": "02:aa:00:00:00:01"})
    assert payload == (b"\x0c\x00\x08\x00" + b"\x08\x00\x00\x00\xc0\x00\x02\x01"
                       + b"\x0a\x00\x1a\x00\x02\xaa\x00\x00\x00\x01\x00\x00")
    six = encode_info_data(Bond.info_nla, {"IFLA_BOND_NS_IP6_TARGET": ["2001:db8::1"]})
    assert six[:4] == b"\x18\x00\x1f\x00" and six[8:] == bytes.fromhex(
        "20010db8000000000000000000000001")


def test_empty_target_list_encodes_as_an_empty_nest_that_clears() -> None:
    payload = encode_info_data(Bond.info_nla, {"IFLA_BOND_NS_IP6_TARGET": []})
    assert payload == b"\x04\x00\x1f\x00"  # length 4, type 31: no address in it
    assert decode_info_data(Bond.info_nla, payload) == {"IFLA_BOND_NS_IP6_TARGET": []}


def _live(t: vnet.Topology, active: str | None = None) -> vnet.Topology:
    bond = _bond(t)
    eth0 = link("eth0", "veth", master="bond1", up=True)
    eth1 = link("eth1", "veth", master="bond1", up=True)
    data = dict(bond.info_data())
    if active is not None:
        data["IFLA_BOND_ACTIVE_SLAVE"] = {"eth0": eth0, "eth1": eth1}[active].index
    return observed(netns(None, link("bond1", "bond", info_data=data, up=True), eth0, eth1,
                          link("p0", "veth", up=True), link("p1", "veth", up=True)))


@pytest.mark.parametrize("options", [RR, ARP, LACP])
def test_plan_after_apply_of_the_decoded_state_is_empty(options: str) -> None:
    t = topo(options)
    assert plan_changes(t, _live(t)).actions == []


def test_active_slave_is_set_by_name_after_the_ports_are_up_and_then_holds() -> None:
    t = topo(TLB)
    actions = plan_changes(t, observed()).actions
    subjects = [a.subject for a in actions]
    active = subjects.index("active_slave eth1 of bond1")
    assert subjects.index("port eth1 of bond1") < active
    assert all(not s.startswith("up ") for s in subjects[active:]), subjects
    assert [(r.op, r.args) for r in actions[active].do] == [
        ("link.setref", {"ifname": "bond1", "kind": "bond", "attr": "IFLA_BOND_ACTIVE_SLAVE",
                         "ref": "eth1"})]
    assert plan_changes(t, _live(t, active="eth1")).actions == []


def test_after_a_failover_the_plan_makes_the_named_port_active_again() -> None:
    t = topo(TLB)
    actions = plan_changes(t, _live(t, active="eth0")).actions
    assert [(a.verb, a.subject, a.reason, a.diff) for a in actions] == [
        ("change", "active_slave eth1 of bond1", "active port differs from the file",
         {"active_slave": ("eth0", "eth1")})]
    assert actions[0].undo[0].args["ref"] == "eth0"


@pytest.mark.parametrize("old, new, in_place", [
    ("resend_igmp: 3", "resend_igmp: 9", True),
    ("primary_reselect: better", "primary_reselect: failure", True),
    ("peer_notify_delay: 200", "peer_notify_delay: 300", True),
])
def test_rr_options_change_in_place(old: str, new: str, in_place: bool) -> None:
    actions = plan_changes(topo(RR.replace(old, new)), _live(topo(RR))).actions
    assert [a.verb for a in actions] == ["change"]
    key = old.split(":")[0]
    assert key in actions[0].diff


@pytest.mark.parametrize("old, new, in_place", [
    ("ad_actor_sys_prio: 100", "ad_actor_sys_prio: 200", True),
    ("ad_actor_system: 02:AA:00:00:00:01", "ad_actor_system: 02:aa:00:00:00:02", True),
    ("lacp_active: false", "lacp_active: true", False),
    ("ad_user_port_key: 1000", "ad_user_port_key: 7", False),
])
def test_lacp_options_in_place_or_recreated_as_the_kernel_allows(old: str, new: str,
                                                                 in_place: bool) -> None:
    actions = plan_changes(topo(LACP.replace(old, new)), _live(topo(LACP))).actions
    verbs = [(a.verb, a.subject) for a in actions]
    key = old.split(":")[0]
    if in_place:
        assert verbs == [("change", "link bond1 (bond)")]
    else:
        assert ("replace", "link bond1 (bond)") in verbs
        replace = next(a for a in actions if a.verb == "replace")
        assert f"{key} cannot change in place" in replace.reason


def test_tlb_dynamic_lb_change_recreates() -> None:
    live = _live(topo(TLB), active="eth1")
    actions = plan_changes(topo(TLB.replace("tlb_dynamic_lb: false", "tlb_dynamic_lb: true")),
                           live).actions
    replace = next(a for a in actions if a.verb == "replace")
    assert "tlb_dynamic_lb cannot change in place" in replace.reason


def test_ip_commands_spell_values_as_ip_does() -> None:
    cmds = _bond(topo(LACP)).ip_commands()
    assert cmds[0][6:] == ["mode", "802.3ad", "lacp_active", "off", "ad_actor_sys_prio",
                           "100", "ad_actor_system", "02:aa:00:00:00:01", "ad_user_port_key",
                           "1000"]
    assert _bond(topo(TLB)).ip_commands()[-1] == [
        "ip", "link", "set", "bond1", "type", "bond", "active_slave", "eth1"]
    arp = _bond(topo(ARP)).ip_commands()[0]
    assert arp[arp.index("ns_ip6_target") + 1] == "2001:db8::1,2001:db8::2"


def test_capture_leaves_the_kernel_defaults_out() -> None:
    t = topo(RR)
    state = _live(t).namespaces[None]
    live = state.links["bond1"]
    live.info_data.update({"IFLA_BOND_ARP_VALIDATE": 0, "IFLA_BOND_MISSED_MAX": 2,
                           "IFLA_BOND_TLB_DYNAMIC_LB": 1, "IFLA_BOND_AD_LACP_ACTIVE": 1})
    assert Bond.capture_fields(live, state) == {
        "miimon": 100, "peer_notify_delay": 200, "use_carrier": False, "resend_igmp": 3,
        "num_grat_arp": 4, "lp_interval": 5, "packets_per_slave": 6,
        "primary_reselect": "better"}


class _Refused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code, "")
        self.code = code


class _Ipr:
    """A kernel that refuses an active port with EINVAL `times` times (miimon has not seen
    its link up yet), then takes it."""

    def __init__(self, times: int, code: int = 22) -> None:
        self.times, self.code, self.calls = times, code, []

    def link(self, verb: str, **kw: Any) -> None:
        self.calls.append(kw)
        if len(self.calls) <= self.times:
            raise _Refused(self.code)


def _ops(ipr: _Ipr) -> Any:
    from vnet.door.teamd import TeamdOps
    ops = TeamdOps()
    ops._index = lambda netns, name: {"bond1": 5, "eth1": 9}[name]  # type: ignore[method-assign]
    ops._ipr = lambda netns: ipr  # type: ignore[method-assign]
    return ops


def test_an_active_port_is_retried_until_the_bond_sees_its_link(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vnet.door import teamd
    monkeypatch.setattr(teamd.time, "sleep", lambda s: None)
    ipr = _Ipr(times=3)
    _ops(ipr)._op_link_setref(None, "bond1", "bond", "IFLA_BOND_ACTIVE_SLAVE", "eth1")
    assert ipr.calls == [{"index": 5, "kind": "bond", "IFLA_BOND_ACTIVE_SLAVE": 9}] * 4


@pytest.mark.parametrize("attr, code", [("IFLA_BOND_PRIMARY", 22),
                                        ("IFLA_BOND_ACTIVE_SLAVE", 19)])
def test_other_refusals_are_not_retried(attr: str, code: int) -> None:
    ipr = _Ipr(times=1, code=code)
    with pytest.raises(_Refused):
        _ops(ipr)._op_link_setref(None, "bond1", "bond", attr, "eth1")
    assert len(ipr.calls) == 1


def test_an_active_port_refused_past_the_deadline_is_the_kernel_s_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vnet.door import teamd
    monkeypatch.setattr(teamd, "PORT_WAIT", 0.0)
    ipr = _Ipr(times=10**6)
    with pytest.raises(_Refused):
        _ops(ipr)._op_link_setref(None, "bond1", "bond", "IFLA_BOND_ACTIVE_SLAVE", "eth1")
