"""Every bridge option `ip link add type bridge help` prints (but fdb_flush and
mcast_hash_elasticity, left out in docs/options.md) on the real kernel: set to a value other
than the kernel's default, read back from `ip -d -j link show` field by field, each changed once
in place, vlan_stats_per_port by re-creating the bridge (as the plan says), a second apply
plans nothing and destroy leaves nothing. The options that need CONFIG_BRIDGE_VLAN_FILTERING
join in where the kernel has it (always in the kernel tier, whose kernel has it)."""

from __future__ import annotations

from typing import Any

import pytest

import vnet
from vnet.door.ticks import kernel_hz
from vnet.kinds.bridge import BOOLOPTS, BOOLOPTS_KEY, Bridge

from .helpers import CommandError, ip_json, kernel_tier, require_kind, sh

pytestmark = pytest.mark.kind("bridge", "veth")

#: every option at a value other than the kernel's default, then each changed once
FIRST: dict[str, Any] = {
    "stp_state": True, "forward_delay": 400, "hello_time": 300, "max_age": 1000,
    "priority": 4096, "ageing_time": 6000, "mcast_snooping": False, "mcast_querier": True,
    "group_fwd_mask": 0x4000, "group_address": "01:80:c2:00:00:0e",
    "no_linklocal_learn": True, "mcast_router": 2, "mcast_query_use_ifaddr": True,
    "mcast_hash_max": 8192, "mcast_last_member_count": 3, "mcast_startup_query_count": 4,
    "mcast_last_member_interval": 200, "mcast_membership_interval": 30000,
    "mcast_querier_interval": 20000, "mcast_query_interval": 6000,
    "mcast_query_response_interval": 800, "mcast_startup_query_interval": 1000,
    "mcast_stats_enabled": True, "mcast_igmp_version": 3, "mcast_mld_version": 2,
    "nf_call_iptables": True, "nf_call_ip6tables": True, "nf_call_arptables": True,
}
SECOND: dict[str, Any] = {
    "stp_state": False, "forward_delay": 600, "hello_time": 400, "max_age": 1200,
    "priority": 8192, "ageing_time": 9000, "mcast_snooping": True, "mcast_querier": False,
    "group_fwd_mask": 0x8, "group_address": "01:80:c2:00:00:04",
    "no_linklocal_learn": False, "mcast_router": 0, "mcast_query_use_ifaddr": False,
    "mcast_hash_max": 1024, "mcast_last_member_count": 5, "mcast_startup_query_count": 6,
    "mcast_last_member_interval": 300, "mcast_membership_interval": 40000,
    "mcast_querier_interval": 30000, "mcast_query_interval": 9000,
    "mcast_query_response_interval": 600, "mcast_startup_query_interval": 2000,
    "mcast_stats_enabled": False, "mcast_igmp_version": 2, "mcast_mld_version": 1,
    "nf_call_iptables": False, "nf_call_ip6tables": False, "nf_call_arptables": False,
}
#: the options that need CONFIG_BRIDGE_VLAN_FILTERING (vlan_stats_per_port is changed last,
#: alone: it re-creates the bridge)
VLAN_FIRST: dict[str, Any] = {"vlan_filtering": True, "vlan_default_pvid": 5,
                              "vlan_protocol": "802.1ad", "vlan_stats_enabled": True,
                              "vlan_stats_per_port": True, "mcast_vlan_snooping": True}
VLAN_SECOND: dict[str, Any] = {"vlan_filtering": True, "vlan_default_pvid": 7,
                               "vlan_protocol": "802.1Q", "vlan_stats_enabled": False,
                               "vlan_stats_per_port": True, "mcast_vlan_snooping": False}

#: ip's JSON names for the options it spells otherwise
IP_NAMES = {"group_address": "group_addr", "mcast_last_member_count": "mcast_last_member_cnt",
            "mcast_startup_query_count": "mcast_startup_query_cnt",
            **{f"mcast_{w}_interval": f"mcast_{w}_intvl" for w in (
                "last_member", "membership", "querier", "query", "query_response",
                "startup_query")}}

TOPOLOGY = """
name: bropts
namespaces: [sw, h1]
interfaces:
  - {{name: br0, kind: bridge, netns: sw, {options}}}
  - name: p1
    kind: veth
    netns: sw
    master: br0
    peer: {{name: h1p, netns: h1}}
"""


def _text(options: dict[str, Any]) -> str:
    def word(value: Any) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else \
            f'"{value}"' if isinstance(value, str) else str(value)
    return TOPOLOGY.format(options=", ".join(f"{k}: {word(v)}" for k, v in options.items()))


def _has_vlan_filtering() -> bool:
    try:
        sh("ip", "link", "add", "vnetprobebr0", "type", "bridge", "vlan_filtering", "1")
    except CommandError:
        assert not kernel_tier(), "the kernel tier's kernel has bridge VLAN filtering"
        return False
    sh("ip", "link", "del", "vnetprobebr0")
    return True


def _read_back(options: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The options the kernel does not keep as declared: option -> (declared, live)."""
    data = ip_json("-d", "link", "show", "br0", netns="sw")[0]["linkinfo"]["info_data"]
    hz = kernel_hz()
    wrong = {}
    for option, declared in options.items():
        live = data.get(IP_NAMES.get(option, option))
        if option == "group_fwd_mask":
            live = int(str(live), 16)
        elif isinstance(declared, bool):
            live = bool(live)
        spec = Bridge.options_map.get(option)
        kept = spec.keeps(declared, live, hz) if spec is not None else declared == live
        if not kept:
            wrong[option] = (declared, live)
    return wrong


def _change_keys(options: dict[str, Any]) -> set[str]:
    """The keys a plan's diff names for `options`: those sharing an attribute under one."""
    return {BOOLOPTS_KEY if k in BOOLOPTS else k for k in options}


def test_every_bridge_option_reads_back_changes_and_goes() -> None:
    require_kind("bridge")
    require_kind("veth")
    first, second = dict(FIRST), dict(SECOND)
    if _has_vlan_filtering():
        first.update(VLAN_FIRST)
        second.update(VLAN_SECOND)
    topo = vnet.load_text(_text(first))
    topo.apply()
    try:
        assert _read_back(first) == {}
        assert not topo.plan().has_changes
        index = ip_json("link", "show", "br0", netns="sw")[0]["ifindex"]

        changed = vnet.load_text(_text(second))
        plan = changed.plan()
        moved = {k for k in first if first[k] != second[k]}
        assert [(a.verb, a.subject) for a in plan.actions] == [
            ("change", "link sw/br0 (bridge)")], [a.subject for a in plan.actions]
        assert set(plan.actions[0].diff) == _change_keys(moved)
        changed.apply()
        assert _read_back(second) == {}
        assert ip_json("link", "show", "br0", netns="sw")[0]["ifindex"] == index
        assert not changed.plan().has_changes

        if "vlan_stats_per_port" in second:  # the one option changed by re-creating
            third = vnet.load_text(_text({**second, "vlan_stats_per_port": False}))
            plan = third.plan()
            replaced = [a for a in plan.actions if a.verb == "replace"]
            assert [a.subject for a in replaced] == ["link sw/br0 (bridge)"] * len(replaced)
            assert "vlan_stats_per_port cannot change in place" in replaced[0].reason
            third.apply()
            assert _read_back({"vlan_stats_per_port": False}) == {}
            assert ip_json("link", "show", "p1", netns="sw")[0]["master"] == "br0"
            assert not third.plan().has_changes
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""
