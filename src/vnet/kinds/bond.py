"""bond — several ports aggregated into one link, for hot standby or load sharing.

`ip link add bond1 type bond mode active-backup miimon 100`; ports join with
`ip link set eth0 master bond1`, and only while they are DOWN (the kernel refuses an up port:
"Device can not be enslaved while up"), so vnet takes a port down, enslaves it and brings it
back up.

What the kernel (Debian 6.1, observed) changes in place on a bond that has ports and is up:
miimon, updelay, downdelay, arp_interval, arp_ip_target, primary, xmit_hash_policy, min_links,
all_slaves_active. Refused in place: mode and fail_over_mac ("the bond device has slaves"),
ad_select and lacp_rate ("the bond is up") — a change to those re-creates the bond (its ports
are then enslaved again). The rest of `ip link add type bond help` follows the kernel's own
table of bond options (drivers/net/bonding/bond_options.c): those it flags "only while the bond
is down" (lacp_active, tlb_dynamic_lb, ad_user_port_key) re-create the bond, the others change
in place; each option's range is the kernel's, and an option the kernel refuses in a mode
(its `unsuppmodes`) is a validation error naming the modes that take it.

`primary` and `active_slave` name a port; the kernel takes an ifindex and keeps it only once
that port is enslaved, so vnet sets them after the ports have joined and are up (a kind
extra), by name. `active_slave` is state the kernel itself changes when the active port fails:
a plan after such a failover proposes to make the named port active again.

pyroute2 0.9.7 knows the bond's attributes only up to IFLA_BOND_TLB_DYNAMIC_LB, so the layout
is declared here (`info_nla`, if_link.h numbering) and the door encodes and decodes it.
`num_unsol_na` is left out: it is ip's other name for `num_grat_arp` (one kernel value).
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar, Literal

from ..actions import Action, Request
from ..declare import Field
from . import register
from .base import (
    IP,
    IfName,
    InterfaceBase,
    Mac,
    Option,
    bool_option,
    ends_by_key,
    enum_option,
    int_option,
)

MODES = {"balance-rr": 0, "active-backup": 1, "balance-xor": 2, "broadcast": 3, "802.3ad": 4,
         "balance-tlb": 5, "balance-alb": 6}
XMIT_HASH_POLICIES = {"layer2": 0, "layer3+4": 1, "layer2+3": 2, "encap2+3": 3, "encap3+4": 4,
                      "vlan+srcmac": 5}
LACP_RATES = {"slow": 0, "fast": 1}
AD_SELECTS = {"stable": 0, "bandwidth": 1, "count": 2}
FAIL_OVER_MACS = {"none": 0, "active": 1, "follow": 2}
ARP_VALIDATES = {"none": 0, "active": 1, "backup": 2, "all": 3, "filter": 4,
                 "filter_active": 5, "filter_backup": 6}
ARP_ALL_TARGETS = {"any": 0, "all": 1}
PRIMARY_RESELECTS = {"always": 0, "better": 1, "failure": 2}
INT_MAX = 2**31 - 1
#: the kernel's BOND_MAX_ARP_TARGETS
MAX_ARP_TARGETS = 16
DEFAULT_MODE = "balance-rr"

#: modes each mode-bound option works in (the kernel's unsuppmodes, inverted)
_PRIMARY_MODES = ("active-backup", "balance-tlb", "balance-alb")
_HASH_MODES = ("balance-xor", "802.3ad", "balance-tlb")
_ARP_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast")
_TLB_MODES = ("balance-tlb", "balance-alb")
#: option -> the modes the kernel takes it in (the rest of bond_options.c's unsuppmodes)
_MODE_BOUND: dict[str, tuple[str, ...]] = {
    "active_slave": _PRIMARY_MODES,
    "arp_validate": _ARP_MODES, "arp_missed_max": _ARP_MODES, "ns_ip6_target": _ARP_MODES,
    "packets_per_slave": ("balance-rr",),
    "tlb_dynamic_lb": _TLB_MODES,
    "lacp_active": ("802.3ad",), "ad_actor_sys_prio": ("802.3ad",),
    "ad_actor_system": ("802.3ad",), "ad_user_port_key": ("802.3ad",),
}

Mode = Literal["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad",
               "balance-tlb", "balance-alb"]


def _targets_encode(value: list[str]) -> list[str]:
    return [str(v) for v in value]


def _targets_decode(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(ipaddress.ip_address(v)) for v in value]
    return [str(ipaddress.ip_address(value))]


@register
class Bond(InterfaceBase):
    kind: Literal["bond"]
    listed = 20
    modules = ("bonding max_bonds=0",)  # no bond0 made as it loads
    can_be_master = True
    ports_down_to_enslave: ClassVar[bool] = True
    use_when = ("Aggregate several ports into one link for failover or load sharing,\n"
                "with the modes every switch and kernel understands (active-backup, 802.3ad...).")

    mode: Mode | None = Field(
        None, description="Bonding mode; omitted: balance-rr (the kernel's default).")
    miimon: int | None = Field(None, ge=0, le=2**31 - 1,
                               description="MII link check interval, ms (0: off).")
    updelay: int | None = Field(
        None, ge=0, le=2**31 - 1,
        description="Wait before using a port whose link came up, ms (a multiple of miimon).")
    downdelay: int | None = Field(
        None, ge=0, le=2**31 - 1,
        description="Wait before dropping a port whose link went down, ms (a multiple of "
                    "miimon).")
    arp_interval: int | None = Field(
        None, ge=0, le=2**31 - 1,
        description="ARP link check interval, ms (instead of miimon; needs arp_ip_target).")
    arp_ip_target: list[IP] | None = Field(
        None, min_length=1, max_length=MAX_ARP_TARGETS,
        description="IPv4 addresses the ARP link check asks (at most 16).")
    primary: IfName | None = Field(
        None, description="The port preferred as active (active-backup, balance-tlb, "
                          "balance-alb).")
    lacp_rate: Literal["slow", "fast"] | None = Field(
        None, description="LACPDU rate asked of the partner (802.3ad).")
    xmit_hash_policy: Literal["layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4",
                              "vlan+srcmac"] | None = Field(
        None, description="How flows are spread over ports (balance-xor, 802.3ad, "
                          "balance-tlb).")
    ad_select: Literal["stable", "bandwidth", "count"] | None = Field(
        None, description="Aggregator selection policy (802.3ad).")
    min_links: int | None = Field(
        None, ge=0, le=2**31 - 1, description="Ports that must be up for the bond to be up.")
    fail_over_mac: Literal["none", "active", "follow"] | None = Field(
        None, description="MAC address handling on failover (active-backup).")
    all_slaves_active: bool | None = Field(
        None, description="Deliver frames received on inactive ports too.")
    active_slave: IfName | None = Field(
        None, description="The port to make active now (active-backup, balance-tlb, "
                          "balance-alb); the kernel moves it on failover.")
    peer_notify_delay: int | None = Field(
        None, ge=0, le=INT_MAX,
        description="Wait between peer notifications after a failover, ms (a multiple of "
                    "miimon).")
    use_carrier: bool | None = Field(
        None, description="miimon reads the port's carrier (true, the default) instead of "
                          "MII/ethtool ioctls.")
    arp_validate: Literal["none", "active", "backup", "all", "filter", "filter_active",
                          "filter_backup"] | None = Field(
        None, description="Which ports' ARP replies the ARP check validates (with "
                          "arp_interval).")
    arp_all_targets: Literal["any", "all"] | None = Field(
        None, description="A port is up when any (default) or all ARP targets answer.")
    ns_ip6_target: list[IP] | None = Field(
        None, min_length=1, max_length=MAX_ARP_TARGETS,
        description="IPv6 addresses the ARP link check asks with neighbour solicitations "
                    "(at most 16).")
    primary_reselect: Literal["always", "better", "failure"] | None = Field(
        None, description="When the primary port becomes active again after it comes back.")
    resend_igmp: int | None = Field(
        None, ge=0, le=255, description="IGMP membership reports sent after a failover.")
    num_grat_arp: int | None = Field(
        None, ge=0, le=255, description="Peer notifications (gratuitous ARPs, unsolicited "
                                        "NAs) sent after a failover (ip's num_unsol_na too).")
    lp_interval: int | None = Field(
        None, ge=1, le=INT_MAX,
        description="Seconds between learning packets to each port's switch (balance-tlb, "
                    "balance-alb).")
    packets_per_slave: int | None = Field(
        None, ge=0, le=65535,
        description="Packets sent on a port before the next one (balance-rr; 0: random).")
    tlb_dynamic_lb: bool | None = Field(
        None, description="Rebalance flows by load (balance-tlb, balance-alb).")
    lacp_active: bool | None = Field(
        None, description="Send LACPDUs on our own (true, default) or only answer (802.3ad).")
    ad_actor_sys_prio: int | None = Field(
        None, ge=1, le=65535, description="LACP system priority (802.3ad).")
    ad_actor_system: Mac | None = Field(
        None, description="LACP system MAC address, unicast (802.3ad; default: the bond's).")
    ad_user_port_key: int | None = Field(
        None, ge=0, le=1023, description="Upper 10 bits of the LACP port key (802.3ad).")
    arp_missed_max: int | None = Field(
        None, ge=1, le=255, description="ARP checks a port may miss before it is down.")

    options_map: ClassVar[dict[str, Option]] = {
        "mode": enum_option("IFLA_BOND_MODE", MODES, replace=True),
        "miimon": int_option("IFLA_BOND_MIIMON"),
        "updelay": int_option("IFLA_BOND_UPDELAY"),
        "downdelay": int_option("IFLA_BOND_DOWNDELAY"),
        "arp_interval": int_option("IFLA_BOND_ARP_INTERVAL"),
        "arp_ip_target": Option("IFLA_BOND_ARP_IP_TARGET", encode=_targets_encode,
                                decode=_targets_decode),
        "lacp_rate": enum_option("IFLA_BOND_AD_LACP_RATE", LACP_RATES, replace=True),
        "xmit_hash_policy": enum_option("IFLA_BOND_XMIT_HASH_POLICY", XMIT_HASH_POLICIES),
        "ad_select": enum_option("IFLA_BOND_AD_SELECT", AD_SELECTS, replace=True),
        "min_links": int_option("IFLA_BOND_MIN_LINKS"),
        "fail_over_mac": enum_option("IFLA_BOND_FAIL_OVER_MAC", FAIL_OVER_MACS, replace=True),
        "all_slaves_active": bool_option("IFLA_BOND_ALL_SLAVES_ACTIVE"),
        "peer_notify_delay": int_option("IFLA_BOND_PEER_NOTIF_DELAY"),
        "use_carrier": bool_option("IFLA_BOND_USE_CARRIER"),
        "arp_validate": enum_option("IFLA_BOND_ARP_VALIDATE", ARP_VALIDATES),
        "arp_all_targets": enum_option("IFLA_BOND_ARP_ALL_TARGETS", ARP_ALL_TARGETS),
        "ns_ip6_target": Option("IFLA_BOND_NS_IP6_TARGET", encode=_targets_encode,
                                decode=_targets_decode),
        "primary_reselect": enum_option("IFLA_BOND_PRIMARY_RESELECT", PRIMARY_RESELECTS),
        "resend_igmp": int_option("IFLA_BOND_RESEND_IGMP"),
        "num_grat_arp": int_option("IFLA_BOND_NUM_PEER_NOTIF"),
        "lp_interval": int_option("IFLA_BOND_LP_INTERVAL"),
        "packets_per_slave": int_option("IFLA_BOND_PACKETS_PER_SLAVE"),
        "tlb_dynamic_lb": bool_option("IFLA_BOND_TLB_DYNAMIC_LB", replace=True),
        "lacp_active": bool_option("IFLA_BOND_AD_LACP_ACTIVE", replace=True),
        "ad_actor_sys_prio": int_option("IFLA_BOND_AD_ACTOR_SYS_PRIO"),
        "ad_actor_system": Option("IFLA_BOND_AD_ACTOR_SYSTEM", encode=str.lower,
                                  decode=lambda v: str(v).lower()),
        "ad_user_port_key": int_option("IFLA_BOND_AD_USER_PORT_KEY", replace=True),
        "arp_missed_max": int_option("IFLA_BOND_MISSED_MAX"),
    }
    #: IFLA_INFO_DATA as if_link.h numbers it (pyroute2 0.9.7 stops at TLB_DYNAMIC_LB)
    info_nla = (
        ("IFLA_BOND_UNSPEC", "none"), ("IFLA_BOND_MODE", "uint8"),
        ("IFLA_BOND_ACTIVE_SLAVE", "uint32"), ("IFLA_BOND_MIIMON", "uint32"),
        ("IFLA_BOND_UPDELAY", "uint32"), ("IFLA_BOND_DOWNDELAY", "uint32"),
        ("IFLA_BOND_USE_CARRIER", "uint8"), ("IFLA_BOND_ARP_INTERVAL", "uint32"),
        ("IFLA_BOND_ARP_IP_TARGET", "ipv4list"), ("IFLA_BOND_ARP_VALIDATE", "uint32"),
        ("IFLA_BOND_ARP_ALL_TARGETS", "uint32"), ("IFLA_BOND_PRIMARY", "uint32"),
        ("IFLA_BOND_PRIMARY_RESELECT", "uint8"), ("IFLA_BOND_FAIL_OVER_MAC", "uint8"),
        ("IFLA_BOND_XMIT_HASH_POLICY", "uint8"), ("IFLA_BOND_RESEND_IGMP", "uint32"),
        ("IFLA_BOND_NUM_PEER_NOTIF", "uint8"), ("IFLA_BOND_ALL_SLAVES_ACTIVE", "uint8"),
        ("IFLA_BOND_MIN_LINKS", "uint32"), ("IFLA_BOND_LP_INTERVAL", "uint32"),
        ("IFLA_BOND_PACKETS_PER_SLAVE", "uint32"), ("IFLA_BOND_AD_LACP_RATE", "uint8"),
        ("IFLA_BOND_AD_SELECT", "uint8"), ("IFLA_BOND_AD_INFO", "none"),
        ("IFLA_BOND_AD_ACTOR_SYS_PRIO", "uint16"), ("IFLA_BOND_AD_USER_PORT_KEY", "uint16"),
        ("IFLA_BOND_AD_ACTOR_SYSTEM", "l2addr"), ("IFLA_BOND_TLB_DYNAMIC_LB", "uint8"),
        ("IFLA_BOND_PEER_NOTIF_DELAY", "uint32"), ("IFLA_BOND_AD_LACP_ACTIVE", "uint8"),
        ("IFLA_BOND_MISSED_MAX", "uint8"), ("IFLA_BOND_NS_IP6_TARGET", "ipv6list"),
    )

    @property
    def effective_mode(self) -> str:
        return self.mode or DEFAULT_MODE

    # ---- capture --------------------------------------------------------------------------
    capture_defaults: ClassVar[dict[str, Any]] = {
        "mode": DEFAULT_MODE, "miimon": 0, "updelay": 0, "downdelay": 0, "arp_interval": 0,
        "arp_ip_target": [], "lacp_rate": "slow", "xmit_hash_policy": "layer2",
        "ad_select": "stable", "min_links": 0, "fail_over_mac": "none",
        "all_slaves_active": False, "peer_notify_delay": 0, "use_carrier": True,
        "arp_validate": "none", "arp_all_targets": "any", "ns_ip6_target": [],
        "primary_reselect": "always", "resend_igmp": 1, "num_grat_arp": 1, "lp_interval": 1,
        "packets_per_slave": 1, "tlb_dynamic_lb": True, "lacp_active": True,
        "ad_actor_sys_prio": 65535, "ad_actor_system": "00:00:00:00:00:00",
        "ad_user_port_key": 0, "arp_missed_max": 2}

    @classmethod
    def capture_fields(cls, live: Any, netns_state: Any) -> dict[str, Any]:
        """The options, and the primary port by name."""
        out = super().capture_fields(live, netns_state)
        index = live.info_data.get("IFLA_BOND_PRIMARY")
        primary = next((link.name for link in netns_state.links.values()
                        if index and link.index == index), None)
        if primary is not None:
            out["primary"] = primary
        return out

    # ---- primary and active_slave: set by name once the ports are enslaved -----------------
    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        out = []
        for opt, attr in (("primary", "IFLA_BOND_PRIMARY"),
                          ("active_slave", "IFLA_BOND_ACTIVE_SLAVE")):
            action = self._port_ref_action(opt, attr, netns_state, live)
            if action is not None:
                out.append(action)
        return out

    def _port_ref_action(self, opt: str, attr: str, netns_state: Any, live: Any) -> Any:
        """The action that makes `opt` (a port named by the file) the one the kernel holds in
        `attr` (an ifindex), or None when it already is."""
        want = getattr(self, opt)
        if want is None:
            return None
        ns, name = self.key
        current: str | None = None
        if live is not None and netns_state is not None:
            index = live.info_data.get(attr)
            current = next((link.name for link in netns_state.links.values()
                            if index and link.index == index), None)
            port = netns_state.links.get(want)
            if current == want and port is not None and port.master == name:
                return None
        where = f"{ns}/{name}" if ns else name
        label = "active port" if opt == "active_slave" else "primary port"

        def req(port: str | None) -> Request:
            return Request("link.setref", ns, {"ifname": name, "kind": "bond",
                                               "attr": attr, "ref": port})
        return Action("change" if live is not None else "create",
                      f"{opt} {want} of {where}",
                      "declared" if live is None else f"{label} differs from the file",
                      [req(want)], [req(current)],
                      diff={opt: (current, want)} if live is not None else {})

    # ---- checks ---------------------------------------------------------------------------
    def check(self, topo: Any, report: Any) -> None:
        mode = self.effective_mode
        said = f"mode {mode}" + ("" if self.mode else " (the default when mode is omitted)")
        if self.primary is not None and mode not in _PRIMARY_MODES:
            report("primary", f"primary has no effect in {said}: only active-backup, "
                   "balance-tlb and balance-alb have a preferred port",
                   "set mode: active-backup, or remove primary")
        for opt in ("primary", "active_slave"):
            want = getattr(self, opt)
            if want is None:
                continue
            port = ends_by_key(topo).get((self.netns, want))
            if port is None:
                port = next((e for e in topo.externals if e.netns == self.netns
                             and e.name == want), None)
            if port is None or port.master != self.name:
                report(opt, f"{opt} {want!r} is not a port of {self.name}",
                       f"add master: {self.name} to interface {want!r}, or name one "
                       "of the bond's ports")
        if self.active_slave is not None and self.primary not in (None, self.active_slave):
            report("active_slave", f"active_slave {self.active_slave!r} and primary "
                   f"{self.primary!r} differ: the bond goes back to its primary port whenever "
                   "it chooses again", "name the same port, or remove one of them")
        for opt, modes in _MODE_BOUND.items():
            if getattr(self, opt) is not None and mode not in modes:
                report(opt, f"{opt} only applies to mode{'s' if len(modes) > 1 else ''} "
                       f"{', '.join(modes)}, not {said} (the kernel refuses it)",
                       f"set mode: {modes[0]}, or remove {opt}")
        if self.arp_validate not in (None, "none") and self.miimon:
            report("arp_validate", "arp_validate cannot be used with miimon: it validates "
                   "the ARP link check", "remove miimon and set arp_interval, or remove "
                   "arp_validate")
        for opt in ("arp_validate", "arp_all_targets", "arp_missed_max", "ns_ip6_target"):
            if getattr(self, opt) is not None and not self.arp_interval:
                report(opt, f"{opt} is only used by the ARP link check, and arp_interval is "
                       "off", f"add arp_interval: 100 (ms), or remove {opt}")
        for i, target in enumerate(self.ns_ip6_target or []):
            address = ipaddress.ip_address(target)
            if address.version != 6:
                report(f"ns_ip6_target[{i}]", f"ns_ip6_target {target} is not IPv6: the "
                       "check asks with neighbour solicitations", "use an IPv6 address, or "
                       "put an IPv4 one in arp_ip_target")
            elif address.is_unspecified or address.is_loopback or address.is_multicast:
                report(f"ns_ip6_target[{i}]", f"ns_ip6_target {target} is not a unicast "
                       "address the kernel accepts (not ::, ::1 or multicast)",
                       "name a neighbour's unicast IPv6 address")
        for opt in ("lacp_rate", "ad_select"):
            if getattr(self, opt) is not None and mode != "802.3ad":
                report(opt, f"{opt} only applies to mode 802.3ad, not {said}",
                       f"set mode: 802.3ad, or remove {opt}")
        if self.xmit_hash_policy is not None and mode not in _HASH_MODES:
            report("xmit_hash_policy", f"xmit_hash_policy only applies to balance-xor, "
                   f"802.3ad and balance-tlb, not {said}",
                   "choose one of those modes, or remove xmit_hash_policy")
        if self.fail_over_mac is not None and mode != "active-backup":
            report("fail_over_mac", f"fail_over_mac only applies to mode active-backup, not "
                   f"{said}", "set mode: active-backup, or remove fail_over_mac")
        arp = bool(self.arp_interval)
        if arp and self.miimon:
            report("arp_interval", "arp_interval and miimon cannot both be on: the bond "
                   "watches links either by MII or by ARP",
                   "remove one of them (or set it to 0)")
        if (arp or self.arp_ip_target) and mode not in _ARP_MODES:
            field = "arp_interval" if arp else "arp_ip_target"
            report(field, f"ARP link monitoring does not work in {said}",
                   "use miimon in this mode instead")
        if arp and not self.arp_ip_target:
            report("arp_interval", "arp_interval needs addresses to ask",
                   "add arp_ip_target: [192.0.2.1]")
        if self.arp_ip_target and not arp:
            report("arp_ip_target", "arp_ip_target is only used with arp_interval",
                   "add arp_interval: 100 (ms), or remove arp_ip_target")
        for i, target in enumerate(self.arp_ip_target or []):
            if ipaddress.ip_address(target).version != 4:
                report(f"arp_ip_target[{i}]", f"arp_ip_target {target} is not IPv4: the ARP "
                       "check asks IPv4 addresses", "use an IPv4 address")
        for opt in ("updelay", "downdelay", "peer_notify_delay"):
            value = getattr(self, opt)
            if not value:
                continue
            if not self.miimon:
                report(opt, f"{opt} counts in miimon intervals, and miimon is off",
                       "set miimon (e.g. 100), or remove " + opt)
            elif value % self.miimon:
                low = value - value % self.miimon
                report(opt, f"{opt} {value} is not a multiple of miimon {self.miimon} (the "
                       f"kernel would round it down to {low})",
                       f"write {low} or {low + self.miimon}")

    # ---- rendering ------------------------------------------------------------------------
    def ip_type_args(self) -> list[str]:
        args: list[str] = []
        for opt, value in self.declared_options().items():
            if opt in ("arp_ip_target", "ns_ip6_target"):
                args += [opt, ",".join(value)]
            elif opt == "lacp_active":  # ip spells it on|off, the others 0|1
                args += [opt, "on" if value else "off"]
            elif isinstance(value, bool):
                args += [opt, "1" if value else "0"]
            else:
                args += [opt, str(value)]
        return args

    def ip_commands(self) -> list[list[str]]:
        ns = ["-n", self.netns] if self.netns else []
        cmds = [["ip", *ns, "link", "add", self.name, "type", "bond", *self.ip_type_args()]]
        for opt in ("primary", "active_slave"):
            if getattr(self, opt) is not None:
                # the kernel keeps these only once they name an existing port
                cmds.append(["ip", *ns, "link", "set", self.name, "type", "bond", opt,
                             getattr(self, opt)])
        return cmds
