"""bridge — a software switch. `ip link add br0 type bridge [stp_state 1 ...]`.

Timers are in hundredths of a second, as `ip` spells them (forward_delay 1500 = 15 s). The
kernel keeps them in jiffies, its ticks, and reports them back converted to hundredths again,
truncating both ways (`clock_t_kept`): on a 250 Hz kernel an odd value comes back one lower
(755 is kept as 754). vnet compares them as the kernel keeps them, so such a value is not a
change on the next apply, and the plan says when a value will be rounded.

The multicast intervals (`mcast_*_interval`) are timers in 1/100 s too, rounded the same way.

VLAN filtering: `vlan_filtering: true` on the bridge, and `vlans:` (a common field) on each
port or on the bridge itself; the feature features/bridge_vlans.py plans and checks them.

The kernel takes `no_linklocal_learn` and `mcast_vlan_snooping` in one attribute
(IFLA_BR_MULTI_BOOLOPT, a value and a mask): vnet sends the mask of the declared ones only, and
compares only those. Every option changes in place but `vlan_stats_per_port`, which the kernel
refuses to change while a port has VLANs (EBUSY): a change re-creates the bridge.
`mcast_hash_elasticity` and `fdb_flush` are left out (docs/options.md says why). vnet speaks
to the bridge in its own attribute layout (`info_nla`): pyroute2 0.9 lacks the last two.
"""

from __future__ import annotations

from typing import Any, Literal

from ..actions import Action, Request
from ..declare import Field, field_validator
from . import register
from .base import (
    COMMON_HZ,
    HostName,
    InterfaceBase,
    Option,
    bool_option,
    clock_t_kept,
    int_option,
    tick_option,
)

_VLAN_PROTOCOLS = {"802.1Q": 0x8100, "802.1ad": 0x88A8}
_VLAN_PROTOCOL_NAMES = {v: k for k, v in _VLAN_PROTOCOLS.items()}
#: the options of IFLA_BR_MULTI_BOOLOPT, by their bit (BR_BOOLOPT_*)
BOOLOPTS = {"no_linklocal_learn": 1 << 0, "mcast_vlan_snooping": 1 << 1}
#: the planner's key for them (one kernel attribute)
BOOLOPTS_KEY = "multi_boolopt"
#: group_fwd_mask bits the kernel refuses to forward (BR_GROUPFWD_RESTRICTED: STP, MAC
#: pause, LACP)
_RESTRICTED_FWD = 0x7
#: the largest 1/100 s value the kernel reads back as given: it converts ticks back through
#: nanoseconds in 64 bits (jiffies_to_clock_t), about 1e7 ns per 1/100 s on every tick rate
CLOCK_T_MAX = (2**64 - 1) // 10**7
#: the kernel clamps the query intervals to 1 s-24 h (BR_MULTICAST_QUERY_INTVL_MIN/_MAX)
_QUERY_MIN, _QUERY_MAX = 100, 8_640_000
#: options the kernel keeps only when built with CONFIG_BRIDGE_VLAN_FILTERING (without it, it
#: ignores them): kinds_probe's feature "bridge_vlan_filtering"
_NEEDS_VLAN_FILTERING = ("vlan_filtering", "vlan_stats_enabled", "vlan_stats_per_port",
                         "mcast_vlan_snooping")


def _encode_boolopts(value: dict[str, bool]) -> tuple[int, int]:
    """{option: on} -> struct br_boolopt_multi (value, mask): only the given options."""
    return (sum(BOOLOPTS[k] for k, on in value.items() if on),
            sum(BOOLOPTS[k] for k in value))


def _decode_boolopts(value: Any) -> dict[str, bool]:
    """struct br_boolopt_multi -> {option: on} of the options vnet knows that it reports."""
    optval, optmask = value
    return {k: bool(optval & bit) for k, bit in BOOLOPTS.items() if optmask & bit}


def _interval(description: str, low: int = 0, high: int = CLOCK_T_MAX) -> Any:
    return Field(None, ge=low, le=high,
                 description=f"{description}, 1/100 s; rounded to the kernel's tick.")


@register
class Bridge(InterfaceBase):
    kind: Literal["bridge"]
    listed = 10
    can_be_master = True
    filters_vlans = True
    use_when = ("Join several interfaces (veths of namespaces, taps of VMs) into one L2 segment;\n"
                "the switch of a lab. Adds STP, VLAN filtering and IGMP/MLD snooping.")

    stp_state: bool | None = Field(None, description="Spanning tree on (true) or off.")
    forward_delay: int | None = Field(
        None, ge=0, le=3000, description="STP forward delay, 1/100 s (kernel: 200-3000 with "
                                         "STP); rounded to the kernel's tick.")
    hello_time: int | None = Field(
        None, ge=100, le=1000, description="STP hello time, 1/100 s; rounded to the kernel's tick.")
    max_age: int | None = Field(
        None, ge=600, le=4000, description="STP max age, 1/100 s; rounded to the kernel's tick.")
    priority: int | None = Field(None, ge=0, le=65535, description="Bridge priority for STP.")
    ageing_time: int | None = Field(
        None, ge=0, le=100_000_000,
        description="FDB ageing time, 1/100 s (default 30000); rounded to the kernel's tick.")
    mcast_snooping: bool | None = Field(None, description="IGMP/MLD snooping.")
    mcast_querier: bool | None = Field(None, description="Act as IGMP/MLD querier.")
    vlan_filtering: bool | None = Field(None, description="802.1Q VLAN filtering on ports.")
    vlan_default_pvid: int | None = Field(
        None, ge=0, le=4094, description="PVID given to new ports (0: none).")
    vlan_protocol: Literal["802.1Q", "802.1ad"] | None = Field(
        None, description="Tag protocol when VLAN filtering.")
    vlan_stats_enabled: bool | None = Field(
        None, description="Count traffic per VLAN (default off).")
    vlan_stats_per_port: bool | None = Field(
        None, description="Count per VLAN per port (default off); the kernel refuses a change "
                          "while ports have VLANs, so a change re-creates the bridge.")
    group_fwd_mask: int | None = Field(
        None, ge=0, le=65535,
        description="Link-local groups 01:80:c2:00:00:0X to forward, bit X (default 0); bits "
                    "0-2 (STP, MAC pause, LACP) cannot be set.")
    group_address: str | None = Field(
        None, description="STP group address, 01:80:c2:00:00:0X (default "
                          "01:80:c2:00:00:00; X not 1, 2 or 3).")
    no_linklocal_learn: bool | None = Field(
        None, description="Do not learn MACs from link-local frames (default off).")
    mcast_vlan_snooping: bool | None = Field(
        None, description="IGMP/MLD snooping per VLAN (default off; needs vlan_filtering).")
    mcast_router: int | None = Field(
        None, ge=0, le=2, description="The bridge as multicast router port: 0 never, 1 learned "
                                      "from queries (default), 2 always.")
    mcast_query_use_ifaddr: bool | None = Field(
        None, description="Queries from the bridge's own IP address, not 0.0.0.0 (default "
                          "off).")
    mcast_hash_max: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Most multicast groups kept (default 4096).")
    mcast_last_member_count: int | None = Field(
        None, ge=0, le=2**32 - 1,
        description="Queries sent after a leave (default 2).")
    mcast_startup_query_count: int | None = Field(
        None, ge=0, le=2**32 - 1,
        description="Queries sent at start-up (default 2).")
    mcast_last_member_interval: int | None = _interval(
        "Interval between queries after a leave (default 100)")
    mcast_membership_interval: int | None = _interval(
        "Time before a group without reports is dropped (default 26000)")
    mcast_querier_interval: int | None = _interval(
        "Time before another querier counts as gone (default 25500)")
    mcast_query_interval: int | None = _interval(
        "Interval between general queries (default 12500; the kernel allows 100-8640000)",
        _QUERY_MIN, _QUERY_MAX)
    mcast_query_response_interval: int | None = _interval(
        "Most time a host takes to answer a query (default 1000)")
    mcast_startup_query_interval: int | None = _interval(
        "Interval between start-up queries (default a quarter of mcast_query_interval, "
        "3125; the kernel allows 100-8640000)", _QUERY_MIN, _QUERY_MAX)
    mcast_stats_enabled: bool | None = Field(
        None, description="Count multicast traffic (default off).")
    mcast_igmp_version: int | None = Field(
        None, ge=2, le=3, description="IGMP version of the bridge's queries, 2 (default) or 3.")
    mcast_mld_version: int | None = Field(
        None, ge=1, le=2, description="MLD version of the bridge's queries, 1 (default) or 2.")
    nf_call_iptables: bool | None = Field(
        None, description="Pass bridged IPv4 through iptables (default off; takes effect "
                          "with the br_netfilter module).")
    nf_call_ip6tables: bool | None = Field(
        None, description="Pass bridged IPv6 through ip6tables (default off; with "
                          "br_netfilter).")
    nf_call_arptables: bool | None = Field(
        None, description="Pass bridged ARP through arptables (default off; with "
                          "br_netfilter).")
    span: list[HostName] | None = Field(
        None, min_length=2,
        description="In a file that spans hosts: the hosts this bridge is made on, one L2 "
                    "segment joined by a VXLAN port on each (head-end replication to the "
                    "others); its ports may be on any of them.")

    #: IFLA_BR_* by number, as Linux 6.1 has them (include/uapi/linux/if_link.h)
    info_nla = (
        ("IFLA_BR_UNSPEC", "none"), ("IFLA_BR_FORWARD_DELAY", "uint32"),
        ("IFLA_BR_HELLO_TIME", "uint32"), ("IFLA_BR_MAX_AGE", "uint32"),
        ("IFLA_BR_AGEING_TIME", "uint32"), ("IFLA_BR_STP_STATE", "uint32"),
        ("IFLA_BR_PRIORITY", "uint16"), ("IFLA_BR_VLAN_FILTERING", "uint8"),
        ("IFLA_BR_VLAN_PROTOCOL", "be16"), ("IFLA_BR_GROUP_FWD_MASK", "uint16"),
        ("IFLA_BR_ROOT_ID", "binary"), ("IFLA_BR_BRIDGE_ID", "binary"),
        ("IFLA_BR_ROOT_PORT", "uint16"), ("IFLA_BR_ROOT_PATH_COST", "uint32"),
        ("IFLA_BR_TOPOLOGY_CHANGE", "uint8"), ("IFLA_BR_TOPOLOGY_CHANGE_DETECTED", "uint8"),
        ("IFLA_BR_HELLO_TIMER", "uint64"), ("IFLA_BR_TCN_TIMER", "uint64"),
        ("IFLA_BR_TOPOLOGY_CHANGE_TIMER", "uint64"), ("IFLA_BR_GC_TIMER", "uint64"),
        ("IFLA_BR_GROUP_ADDR", "l2addr"), ("IFLA_BR_FDB_FLUSH", "flag"),
        ("IFLA_BR_MCAST_ROUTER", "uint8"), ("IFLA_BR_MCAST_SNOOPING", "uint8"),
        ("IFLA_BR_MCAST_QUERY_USE_IFADDR", "uint8"), ("IFLA_BR_MCAST_QUERIER", "uint8"),
        ("IFLA_BR_MCAST_HASH_ELASTICITY", "uint32"), ("IFLA_BR_MCAST_HASH_MAX", "uint32"),
        ("IFLA_BR_MCAST_LAST_MEMBER_CNT", "uint32"),
        ("IFLA_BR_MCAST_STARTUP_QUERY_CNT", "uint32"),
        ("IFLA_BR_MCAST_LAST_MEMBER_INTVL", "uint64"),
        ("IFLA_BR_MCAST_MEMBERSHIP_INTVL", "uint64"),
        ("IFLA_BR_MCAST_QUERIER_INTVL", "uint64"), ("IFLA_BR_MCAST_QUERY_INTVL", "uint64"),
        ("IFLA_BR_MCAST_QUERY_RESPONSE_INTVL", "uint64"),
        ("IFLA_BR_MCAST_STARTUP_QUERY_INTVL", "uint64"),
        ("IFLA_BR_NF_CALL_IPTABLES", "uint8"), ("IFLA_BR_NF_CALL_IP6TABLES", "uint8"),
        ("IFLA_BR_NF_CALL_ARPTABLES", "uint8"), ("IFLA_BR_VLAN_DEFAULT_PVID", "uint16"),
        ("IFLA_BR_PAD", "none"), ("IFLA_BR_VLAN_STATS_ENABLED", "uint8"),
        ("IFLA_BR_MCAST_STATS_ENABLED", "uint8"), ("IFLA_BR_MCAST_IGMP_VERSION", "uint8"),
        ("IFLA_BR_MCAST_MLD_VERSION", "uint8"), ("IFLA_BR_VLAN_STATS_PER_PORT", "uint8"),
        ("IFLA_BR_MULTI_BOOLOPT", "u32pair"),
    )

    options_map = {
        "stp_state": bool_option("IFLA_BR_STP_STATE"),
        "forward_delay": tick_option("IFLA_BR_FORWARD_DELAY"),
        "hello_time": tick_option("IFLA_BR_HELLO_TIME"),
        "max_age": tick_option("IFLA_BR_MAX_AGE"),
        "priority": int_option("IFLA_BR_PRIORITY"),
        "ageing_time": tick_option("IFLA_BR_AGEING_TIME"),
        "mcast_snooping": bool_option("IFLA_BR_MCAST_SNOOPING"),
        "mcast_querier": bool_option("IFLA_BR_MCAST_QUERIER"),
        "vlan_filtering": bool_option("IFLA_BR_VLAN_FILTERING"),
        "vlan_default_pvid": int_option("IFLA_BR_VLAN_DEFAULT_PVID"),
        "vlan_protocol": Option("IFLA_BR_VLAN_PROTOCOL", encode=lambda v: _VLAN_PROTOCOLS[v],
                                decode=lambda v: _VLAN_PROTOCOL_NAMES.get(v, v)),
        "vlan_stats_enabled": bool_option("IFLA_BR_VLAN_STATS_ENABLED"),
        "vlan_stats_per_port": bool_option("IFLA_BR_VLAN_STATS_PER_PORT", replace=True),
        "group_fwd_mask": int_option("IFLA_BR_GROUP_FWD_MASK"),
        "group_address": Option("IFLA_BR_GROUP_ADDR", decode=str),
        BOOLOPTS_KEY: Option("IFLA_BR_MULTI_BOOLOPT", encode=_encode_boolopts,
                             decode=_decode_boolopts),
        "mcast_router": int_option("IFLA_BR_MCAST_ROUTER"),
        "mcast_query_use_ifaddr": bool_option("IFLA_BR_MCAST_QUERY_USE_IFADDR"),
        "mcast_hash_max": int_option("IFLA_BR_MCAST_HASH_MAX"),
        "mcast_last_member_count": int_option("IFLA_BR_MCAST_LAST_MEMBER_CNT"),
        "mcast_startup_query_count": int_option("IFLA_BR_MCAST_STARTUP_QUERY_CNT"),
        "mcast_last_member_interval": tick_option("IFLA_BR_MCAST_LAST_MEMBER_INTVL"),
        "mcast_membership_interval": tick_option("IFLA_BR_MCAST_MEMBERSHIP_INTVL"),
        "mcast_querier_interval": tick_option("IFLA_BR_MCAST_QUERIER_INTVL"),
        "mcast_query_interval": tick_option("IFLA_BR_MCAST_QUERY_INTVL"),
        "mcast_query_response_interval": tick_option("IFLA_BR_MCAST_QUERY_RESPONSE_INTVL"),
        "mcast_startup_query_interval": tick_option("IFLA_BR_MCAST_STARTUP_QUERY_INTVL"),
        "mcast_stats_enabled": bool_option("IFLA_BR_MCAST_STATS_ENABLED"),
        "mcast_igmp_version": int_option("IFLA_BR_MCAST_IGMP_VERSION"),
        "mcast_mld_version": int_option("IFLA_BR_MCAST_MLD_VERSION"),
        "nf_call_iptables": bool_option("IFLA_BR_NF_CALL_IPTABLES"),
        "nf_call_ip6tables": bool_option("IFLA_BR_NF_CALL_IP6TABLES"),
        "nf_call_arptables": bool_option("IFLA_BR_NF_CALL_ARPTABLES"),
    }

    capture_defaults = {"stp_state": False, "forward_delay": 1500, "hello_time": 200,
                        "max_age": 2000, "priority": 32768, "ageing_time": 30000,
                        "mcast_snooping": True, "mcast_querier": False,
                        "vlan_filtering": False, "vlan_default_pvid": 1,
                        "vlan_protocol": "802.1Q", "vlan_stats_enabled": False,
                        "vlan_stats_per_port": False, "group_fwd_mask": 0,
                        "group_address": "01:80:c2:00:00:00", "no_linklocal_learn": False,
                        "mcast_vlan_snooping": False, "mcast_router": 1,
                        "mcast_query_use_ifaddr": False, "mcast_hash_max": 4096,
                        "mcast_last_member_count": 2, "mcast_startup_query_count": 2,
                        "mcast_last_member_interval": 100,
                        "mcast_membership_interval": 26000, "mcast_querier_interval": 25500,
                        "mcast_query_interval": 12500, "mcast_query_response_interval": 1000,
                        "mcast_startup_query_interval": 3125, "mcast_stats_enabled": False,
                        "mcast_igmp_version": 2, "mcast_mld_version": 1,
                        "nf_call_iptables": False, "nf_call_ip6tables": False,
                        "nf_call_arptables": False}

    @field_validator("group_fwd_mask")
    @classmethod
    def _forwardable(cls, value: int | None) -> int | None:
        if value is not None and value & _RESTRICTED_FWD:
            raise ValueError(f"group_fwd_mask {value:#x} has bits of 0x7 set (STP, MAC pause, "
                             "LACP), which the kernel never forwards — clear them, e.g. "
                             f"{value & ~_RESTRICTED_FWD:#x}")
        return value

    @field_validator("group_address")
    @classmethod
    def _link_local_group(cls, value: str | None) -> str | None:
        if value is None:
            return value
        text = str(value).lower().replace("-", ":")
        parts = text.split(":")
        ok = len(parts) == 6 and all(len(p) == 2 for p in parts)
        try:
            octets = bytes.fromhex("".join(parts)) if ok else b""
        except ValueError:
            octets = b""
        if len(octets) != 6 or octets[:5] != b"\x01\x80\xc2\x00\x00" or octets[5] > 0x0F \
                or octets[5] in (1, 2, 3):
            raise ValueError(f"group_address {value!r} is not a link-local group the kernel "
                             "takes: 01:80:c2:00:00:0X with X 0 or 4-f (1, 2 and 3 are MAC "
                             "pause, LACP and 802.1X), e.g. 01:80:c2:00:00:00")
        return text

    # ---- options --------------------------------------------------------------------------
    def declared_options(self) -> dict[str, Any]:
        """The declared options; no_linklocal_learn and mcast_vlan_snooping as one
        {option: on} under BOOLOPTS_KEY (they share a kernel attribute)."""
        out = super().declared_options()
        bools = {k: getattr(self, k) for k in BOOLOPTS
                 if k in self.model_fields_set and getattr(self, k) is not None}
        if bools:
            out[BOOLOPTS_KEY] = bools
        return out

    @classmethod
    def decode_info_data(cls, attrs: dict[str, Any]) -> dict[str, Any]:
        """The kernel's options in the file's spelling, the shared attribute's options each
        under its own name too (for `show` and `capture`)."""
        out = super().decode_info_data(attrs)
        out.update(out.get(BOOLOPTS_KEY, {}))
        return out

    @classmethod
    def keeps(cls, option: str, declared: Any, live: Any, hz: int | None) -> bool:
        """Of the shared attribute, only the declared options are compared."""
        if option == BOOLOPTS_KEY:
            return isinstance(live, dict) and all(live.get(k) == v for k, v in declared.items())
        return super().keeps(option, declared, live, hz)

    def kernel_features(self) -> dict[str, list[str]]:
        """VLAN filtering, when an option that needs it is set (vlan_stats_*: declared at all,
        since a kernel without it ignores them and reports nothing)."""
        used = [k for k in _NEEDS_VLAN_FILTERING if getattr(self, k)
                or (k.startswith("vlan_stats") and getattr(self, k) is not None)]
        return {"bridge_vlan_filtering": used} if used else {}

    def ip_type_args(self) -> list[str]:
        args: list[str] = []
        for opt, value in self.declared_options().items():
            pairs = value.items() if opt == BOOLOPTS_KEY else [(opt, value)]
            for name, one in pairs:
                args += [name, str(int(one)) if isinstance(one, bool) else str(one)]
        return args

    @classmethod
    def capture_fields(cls, live: Any, netns_state: Any) -> dict[str, Any]:
        """As every kind's, and the start-up query interval left out at its default as this
        kernel rounds it (a quarter of the query interval, in ticks: 3124 at 250 Hz)."""
        out = super().capture_fields(live, netns_state)
        startup = out.get("mcast_startup_query_interval")
        if startup is not None and any(clock_t_kept(3125, hz) == startup for hz in COMMON_HZ):
            del out["mcast_startup_query_interval"]
        return out

    @classmethod
    def capture_default_mtu(cls, live: Any, netns_state: Any, parent: Any) -> int | None:
        """A bridge takes the smallest MTU of its ports (1500 without any)."""
        ports = [link.mtu for link in netns_state.links.values() if link.master == live.name]
        return min(ports) if ports else 1500

    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        """A new bridge's declared MTU, set again once its ports have joined. Made with it, the
        MTU is the kernel's to adjust: each joining port brings the bridge to its ports'
        smallest MTU. Set on the live bridge, it is the user's, and the kernel keeps it."""
        if live is not None or self.mtu is None:
            return []
        at = f"{self.netns}/{self.name}" if self.netns else self.name
        return [Action("change", f"link {at} (bridge) MTU", "set once its ports have joined "
                       "(they would otherwise bring it to theirs)",
                       [Request("link.set", self.netns, {"ifname": self.name,
                                                         "mtu": self.mtu})])]

    def check(self, topo: Any, report: Any) -> None:
        if self.stp_state and self.forward_delay is not None and not (
                200 <= self.forward_delay <= 3000):
            report("forward_delay",
                   "with stp_state on, the kernel accepts forward_delay 200-3000 (2-30 s)",
                   "set forward_delay between 200 and 3000, or turn STP off")
        if (self.vlan_default_pvid is not None or self.vlan_protocol is not None) and \
                not self.vlan_filtering:
            field = "vlan_default_pvid" if self.vlan_default_pvid is not None else "vlan_protocol"
            report(field, f"{field} only has an effect with vlan_filtering: true",
                   "add vlan_filtering: true or remove the option")
        if self.mcast_vlan_snooping and not self.vlan_filtering:
            report("mcast_vlan_snooping", "the kernel turns on mcast_vlan_snooping only with "
                   "vlan_filtering on", "add vlan_filtering: true, or remove "
                   "mcast_vlan_snooping")
        if self.vlans is not None and not self.vlan_filtering:
            report("vlans", "the bridge's own vlans only filter with vlan_filtering: true",
                   "add vlan_filtering: true, or remove vlans")
