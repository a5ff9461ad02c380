"""bond without a kernel: mode/option fit errors with file positions, options to netlink and
back (a plan against the decoded state is empty), in-place versus re-created changes, ports
taken down to be enslaved, primary set by name, ip commands."""

from __future__ import annotations

import textwrap

import pytest
from conftest import TOPO, link, netns, observed

import vnet
from vnet.errors import Position, TopologyError
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


def topo(options: str = "") -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(options), "    "), "b.yaml")


def issues_of(options: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        topo(options)
    for issue in info.value.issues:
        assert isinstance(issue.where, Position) and issue.where.file == "b.yaml", issue
    return [str(i) for i in info.value.issues]


# the bond entry starts at line 11; its options from line 13 on (positions point at values)
@pytest.mark.parametrize("options, expected", [
    ("primary: eth0\n", "b.yaml:13:14: interfaces[2].primary: primary has no effect in mode "
                        "balance-rr (the default when mode is omitted)"),
    ("mode: active-backup\nprimary: p0\n", "b.yaml:14:14: interfaces[2].primary: primary "
                                           "'p0' is not a port of bond1"),
    ("mode: active-backup\nlacp_rate: fast\n", "b.yaml:14:16: interfaces[2].lacp_rate: "
                                               "lacp_rate only applies to mode 802.3ad"),
    ("mode: balance-xor\nad_select: count\n", "b.yaml:14:16: interfaces[2].ad_select: "
                                              "ad_select only applies to mode 802.3ad"),
    ("mode: active-backup\nxmit_hash_policy: layer3+4\n",
     "b.yaml:14:23: interfaces[2].xmit_hash_policy: xmit_hash_policy only applies to"),
    ("mode: 802.3ad\nfail_over_mac: active\n",
     "b.yaml:14:20: interfaces[2].fail_over_mac: fail_over_mac only applies to mode "
     "active-backup"),
    ("miimon: 100\narp_interval: 100\narp_ip_target: [192.0.2.1]\n",
     "b.yaml:14:19: interfaces[2].arp_interval: arp_interval and miimon cannot both be on"),
    ("mode: 802.3ad\narp_interval: 100\narp_ip_target: [192.0.2.1]\n",
     "b.yaml:14:19: interfaces[2].arp_interval: ARP link monitoring does not work in mode "
     "802.3ad"),
    ("arp_interval: 100\n", "b.yaml:13:19: interfaces[2].arp_interval: arp_interval needs "
                            "addresses to ask"),
    ("arp_ip_target: [192.0.2.1]\n", "b.yaml:13:20: interfaces[2].arp_ip_target: "
                                     "arp_ip_target is only used with arp_interval"),
    ("arp_interval: 100\narp_ip_target: [192.0.2.1, '2001:db8::1']\n",
     "b.yaml:14:32: interfaces[2].arp_ip_target[1]: arp_ip_target 2001:db8::1 is not IPv4"),
    ("updelay: 200\n", "b.yaml:13:14: interfaces[2].updelay: updelay counts in miimon "
                       "intervals, and miimon is off"),
    ("miimon: 100\ndowndelay: 250\n", "b.yaml:14:16: interfaces[2].downdelay: downdelay 250 "
                                      "is not a multiple of miimon 100"),
    ("mode: round-robin\n", "b.yaml:13:11: interfaces[2].mode: "),
])
def test_bad_mode_option_pairs_are_errors_with_positions(options: str, expected: str) -> None:
    found = issues_of(options)
    assert any(line.startswith(expected) for line in found), found


def test_good_combinations_validate() -> None:
    for options in ("mode: active-backup\nmiimon: 100\nupdelay: 200\nprimary: eth0\n"
                    "fail_over_mac: follow\nall_slaves_active: true\n",
                    "mode: 802.3ad\nlacp_rate: fast\nad_select: count\n"
                    "xmit_hash_policy: layer3+4\nmin_links: 1\nmiimon: 100\n",
                    "mode: balance-xor\narp_interval: 200\n"
                    "arp_ip_target: [192.0.2.1, 192.0.2.2]\n",
                    "mode: balance-alb\nprimary: eth1\nmiimon: 50\n"):
        topo(options)


def _bond(t: vnet.Topology) -> Bond:
    found = next(e for e in t.endpoints() if e.name == "bond1")
    assert isinstance(found, Bond)
    return found


FULL = ("mode: active-backup\nmiimon: 100\nupdelay: 200\ndowndelay: 300\nmin_links: 1\n"
        "primary: eth0\nfail_over_mac: active\nall_slaves_active: true\n")


def test_options_encode_to_kernel_numbers() -> None:
    assert _bond(topo(FULL)).info_data() == {
        "IFLA_BOND_MODE": 1, "IFLA_BOND_MIIMON": 100, "IFLA_BOND_UPDELAY": 200,
        "IFLA_BOND_DOWNDELAY": 300, "IFLA_BOND_MIN_LINKS": 1, "IFLA_BOND_FAIL_OVER_MAC": 1,
        "IFLA_BOND_ALL_SLAVES_ACTIVE": 1}
    lacp = _bond(topo("mode: 802.3ad\nlacp_rate: fast\nad_select: bandwidth\n"
                      "xmit_hash_policy: encap3+4\n"))
    assert lacp.info_data() == {"IFLA_BOND_MODE": 4, "IFLA_BOND_AD_LACP_RATE": 1,
                                "IFLA_BOND_AD_SELECT": 1, "IFLA_BOND_XMIT_HASH_POLICY": 4}
    arp = _bond(topo("arp_interval: 100\narp_ip_target: [192.0.2.1, 192.0.2.9]\n"))
    assert arp.info_data()["IFLA_BOND_ARP_IP_TARGET"] == ["192.0.2.1", "192.0.2.9"]


def _live(t: vnet.Topology, primary: bool = True, up: bool = True) -> vnet.Topology:
    """The kernel after applying `t`: what pyroute2 reports for the bond and its ports."""
    bond = _bond(t)
    eth0 = link("eth0", "veth", master="bond1", up=up)
    data = {**bond.info_data(), "IFLA_BOND_USE_CARRIER": 1, "IFLA_BOND_RESEND_IGMP": 1}
    if primary:
        data["IFLA_BOND_PRIMARY"] = eth0.index
    return observed(netns(None, link("bond1", "bond", info_data=data, up=True), eth0,
                          link("eth1", "veth", master="bond1", up=up),
                          link("p0", "veth", up=True), link("p1", "veth", up=True)))


@pytest.mark.parametrize("options", [
    FULL, "mode: 802.3ad\nlacp_rate: slow\nad_select: stable\nxmit_hash_policy: vlan+srcmac\n",
    "mode: broadcast\narp_interval: 100\narp_ip_target: [192.0.2.1]\n", ""])
def test_plan_after_apply_of_the_decoded_state_is_empty(options: str) -> None:
    t = topo(options)
    assert plan_changes(t, _live(t)).actions == []


def test_first_plan_enslaves_then_sets_primary_by_name() -> None:
    t = topo(FULL)
    actions = plan_changes(t, observed()).actions
    subjects = [a.subject for a in actions]
    assert subjects.index("port eth0 of bond1") < subjects.index("primary eth0 of bond1")
    primary = next(a for a in actions if a.subject == "primary eth0 of bond1")
    assert [(r.op, r.args) for r in primary.do] == [
        ("link.setref", {"ifname": "bond1", "kind": "bond", "attr": "IFLA_BOND_PRIMARY",
                         "ref": "eth0"})]
    # fresh ports are down when enslaved: no bounce
    port = next(a for a in actions if a.subject == "port eth0 of bond1")
    assert [r.op for r in port.do] == ["link.master"]


def test_changed_primary_is_set_in_place() -> None:
    t = topo(FULL.replace("primary: eth0", "primary: eth1"))
    actions = plan_changes(t, _live(topo(FULL))).actions
    assert [(a.verb, a.subject, a.diff) for a in actions] == [
        ("change", "primary eth1 of bond1", {"primary": ("eth0", "eth1")})]
    assert actions[0].undo[0].args["ref"] == "eth0"


def test_in_place_options_change_without_recreating() -> None:
    t = topo(FULL.replace("miimon: 100", "miimon: 50").replace("min_links: 1",
                                                               "min_links: 2"))
    actions = plan_changes(t, _live(topo(FULL))).actions
    assert [(a.verb, a.diff) for a in actions] == [
        ("change", {"miimon": (100, 50), "min_links": (1, 2)})]


@pytest.mark.parametrize("old, new", [
    ("mode: active-backup\n", "mode: balance-alb\n"),
    ("fail_over_mac: active", "fail_over_mac: follow")])
def test_mode_and_fixed_options_recreate_and_ports_rejoin_down_then_up(old: str,
                                                                       new: str) -> None:
    t = topo(FULL.replace(old, new).replace("fail_over_mac: active\n" if "alb" in new else
                                            "\0", ""))
    actions = plan_changes(t, _live(topo(FULL))).actions
    verbs = [(a.verb, a.subject) for a in actions]
    assert ("replace", "link bond1 (bond)") in verbs
    port = next(a for a in actions if a.subject == "port eth0 of bond1")
    assert [(r.op, r.args.get("up", r.args.get("master"))) for r in port.do] == [
        ("link.state", False), ("link.master", "bond1"), ("link.state", True)]
    assert verbs[-1] == ("create", "primary eth0 of bond1")


def test_live_port_that_is_up_goes_down_to_join() -> None:
    t = topo("mode: active-backup\n")
    live = observed(netns(None, link("bond1", "bond", info_data={"IFLA_BOND_MODE": 1},
                                     up=True),
                          link("eth0", "veth", up=True), link("eth1", "veth", master="bond1",
                                                              up=True),
                          link("p0", "veth", up=True), link("p1", "veth", up=True)))
    actions = plan_changes(t, live).actions
    assert len(actions) == 1
    assert [(r.op, r.args) for r in actions[0].do] == [
        ("link.state", {"ifname": "eth0", "up": False}),
        ("link.master", {"ifname": "eth0", "master": "bond1"}),
        ("link.state", {"ifname": "eth0", "up": True})]
    assert [r.op for r in actions[0].undo] == ["link.state", "link.master", "link.state"]


def test_ip_commands() -> None:
    assert _bond(topo(FULL)).ip_commands() == [
        ["ip", "link", "add", "bond1", "type", "bond", "mode", "active-backup", "miimon", "100",
         "updelay", "200", "downdelay", "300", "min_links", "1", "fail_over_mac", "active",
         "all_slaves_active", "1"],
        ["ip", "link", "set", "bond1", "type", "bond", "primary", "eth0"]]
    arp = _bond(topo("arp_interval: 100\narp_ip_target: [192.0.2.1, 192.0.2.9]\n"))
    assert arp.ip_commands()[0][-4:] == ["arp_interval", "100", "arp_ip_target",
                                         "192.0.2.1,192.0.2.9"]
