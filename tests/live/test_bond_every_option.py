"""Every option of `ip link add type bond help` on a full kernel: a file that sets each one to a
value other than the kernel's default (four bonds, as the kernel takes each option only in
some modes), applied; the kernel's own dump (`ip -d -j link show`) compared field by field;
each option changed once, in place where the plan says so (one apply) and by re-creating the
bond where it says the kernel refuses (a second apply); each time a second plan is empty;
destroy leaves nothing. Lean on purpose: three applies for every option of the kind."""

from __future__ import annotations

from typing import Any

import pytest

import vnet

from .helpers import ip_json, require_kind, sh

pytestmark = pytest.mark.kind("bond")

FILE = """
name: bondall
namespaces: [host, far]
interfaces:
  - name: bonda
    kind: bond
    netns: host
    mode: active-backup
    arp_interval: 100
    arp_ip_target: [192.0.2.9]
    ns_ip6_target: ['2001:db8::9']
    arp_validate: filter_backup
    arp_all_targets: all
    arp_missed_max: 5
    primary: a0
    primary_reselect: better
    fail_over_mac: active
    resend_igmp: 3
    num_grat_arp: 4
    all_slaves_active: true
    min_links: 1
    lp_interval: 5
  - name: bondb
    kind: bond
    netns: host
    miimon: 100
    updelay: 200
    downdelay: 300
    peer_notify_delay: 200
    use_carrier: false
    packets_per_slave: 7
  - name: bondc
    kind: bond
    netns: host
    mode: 802.3ad
    lacp_rate: fast
    ad_select: bandwidth
    lacp_active: false
    ad_actor_sys_prio: 100
    ad_actor_system: 02:00:00:00:00:aa
    ad_user_port_key: 9
    xmit_hash_policy: layer3+4
  - name: bondd
    kind: bond
    netns: host
    mode: balance-tlb
    miimon: 100
    tlb_dynamic_lb: false
    active_slave: d1
  - {name: a0, kind: veth, netns: host, master: bonda, peer: {name: fa0, netns: far}}
  - {name: d0, kind: veth, netns: host, master: bondd, peer: {name: fd0, netns: far}}
  - {name: d1, kind: veth, netns: host, master: bondd, peer: {name: fd1, netns: far}}
"""

#: changed in place (the kernel takes them on a bond that is up and has ports)
IN_PLACE = [
    ("arp_interval: 100", "arp_interval: 200"),
    ("arp_ip_target: [192.0.2.9]", "arp_ip_target: [192.0.2.8]"),
    ("ns_ip6_target: ['2001:db8::9']", "ns_ip6_target: ['2001:db8::8']"),
    ("arp_validate: filter_backup", "arp_validate: active"),
    ("arp_all_targets: all", "arp_all_targets: any"),
    ("arp_missed_max: 5", "arp_missed_max: 6"),
    ("primary_reselect: better", "primary_reselect: failure"),
    ("resend_igmp: 3", "resend_igmp: 4"),
    ("num_grat_arp: 4", "num_grat_arp: 5"),
    ("all_slaves_active: true", "all_slaves_active: false"),
    ("min_links: 1", "min_links: 2"),
    ("lp_interval: 5", "lp_interval: 6"),
    ("updelay: 200", "updelay: 300"),
    ("downdelay: 300", "downdelay: 400"),
    ("peer_notify_delay: 200", "peer_notify_delay: 300"),
    ("use_carrier: false", "use_carrier: true"),
    ("packets_per_slave: 7", "packets_per_slave: 8"),
    ("ad_actor_sys_prio: 100", "ad_actor_sys_prio: 200"),
    ("ad_actor_system: 02:00:00:00:00:aa", "ad_actor_system: 02:00:00:00:00:bb"),
    ("xmit_hash_policy: layer3+4", "xmit_hash_policy: encap3+4"),
    ("active_slave: d1", "active_slave: d0"),
]
#: refused by the kernel on a bond that is up or has ports: the bond is made again
REPLACED = [
    ("fail_over_mac: active", "fail_over_mac: follow"),
    ("lacp_rate: fast", "lacp_rate: slow"),
    ("ad_select: bandwidth", "ad_select: count"),
    ("lacp_active: false", "lacp_active: true"),
    ("ad_user_port_key: 9", "ad_user_port_key: 10"),
    ("tlb_dynamic_lb: false", "tlb_dynamic_lb: true"),
]

#: the file's option -> the key `ip -d -j link show` prints it under, where they differ
_IP_KEY = {"num_grat_arp": "num_peer_notif", "lacp_active": "ad_lacp_active",
           "lacp_rate": "ad_lacp_rate"}


def _apply_edits(text: str, edits: list[tuple[str, str]]) -> str:
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return text


def _same(want: Any, got: Any) -> bool:
    """A file's value against ip's rendering of the kernel's (0/1 and on/off for flags)."""
    if isinstance(want, bool):
        return got in (want, int(want), "on" if want else "off")
    if isinstance(want, list):
        return isinstance(got, list) and [str(w) for w in want] == [str(g) for g in got]
    return bool(want == got or str(want).lower() == str(got).lower())


def _check_against_kernel(topo: vnet.Topology) -> None:
    """Every option each bond of `topo` declares, as the kernel reports it."""
    wrong = []
    for end in topo.endpoints():
        if end.kind_name != "bond":
            continue
        info = ip_json("-d", "link", "show", "dev", end.name,
                       netns="host")[0]["linkinfo"]["info_data"]
        declared = {**end.declared_options(), **{k: getattr(end, k) for k in
                                                ("primary", "active_slave")
                                                if getattr(end, k) is not None}}
        for option, want in declared.items():
            got = info.get(_IP_KEY.get(option, option))
            if not _same(want, got):
                wrong.append(f"{end.name}.{option}: file {want!r}, kernel {got!r}")
    assert not wrong, "\n".join(wrong)


def test_every_bond_option_is_applied_read_back_and_changed_once() -> None:
    require_kind("bond")
    topo = vnet.load_text(FILE)
    topo.apply()
    try:
        _check_against_kernel(topo)
        assert not topo.plan().has_changes

        in_place = vnet.load_text(_apply_edits(FILE, IN_PLACE))
        plan = in_place.plan()
        verbs = {(a.verb, a.subject) for a in plan.actions}
        assert verbs == {("change", "link host/bonda (bond)"),
                         ("change", "link host/bondb (bond)"),
                         ("change", "link host/bondc (bond)"),
                         ("change", "active_slave d0 of host/bondd")}, plan.actions
        changed = {k for a in plan.actions for k in a.diff}
        assert changed == {old.split(":")[0] for old, _ in IN_PLACE}, changed
        indexes = {n: ip_json("link", "show", "dev", n, netns="host")[0]["ifindex"]
                   for n in ("bonda", "bondb", "bondc", "bondd")}
        in_place.apply()
        _check_against_kernel(in_place)
        assert {n: ip_json("link", "show", "dev", n, netns="host")[0]["ifindex"]
                for n in indexes} == indexes  # changed, not made again
        assert not in_place.plan().has_changes

        replaced = vnet.load_text(_apply_edits(_apply_edits(FILE, IN_PLACE), REPLACED))
        plan = replaced.plan()
        remade = {a.subject: a.reason for a in plan.actions if a.verb == "replace"}
        assert set(remade) == {"link host/bonda (bond)", "link host/bondc (bond)",
                               "link host/bondd (bond)"}, plan.actions
        assert "fail_over_mac cannot change in place" in remade["link host/bonda (bond)"]
        for option in ("lacp_rate", "ad_select", "lacp_active", "ad_user_port_key"):
            assert option in remade["link host/bondc (bond)"], remade
        assert "tlb_dynamic_lb cannot change in place" in remade["link host/bondd (bond)"]
        replaced.apply()
        _check_against_kernel(replaced)
        for port, bond in (("a0", "bonda"), ("d0", "bondd"), ("d1", "bondd")):
            assert ip_json("link", "show", "dev", port, netns="host")[0].get("master") == bond
        assert not replaced.plan().has_changes
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""
