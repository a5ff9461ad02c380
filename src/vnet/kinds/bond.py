"""bond — several ports aggregated into one link, for hot standby or load sharing.

`ip link add bond1 type bond mode active-backup miimon 100`; ports join with
`ip link set eth0 master bond1`, and only while they are DOWN (the kernel refuses an up port:
"Device can not be enslaved while up"), so vnet takes a port down, enslaves it and brings it
back up.

What the kernel (Debian 6.1, observed) changes in place on a bond that has ports and is up:
miimon, updelay, downdelay, arp_interval, arp_ip_target, primary, xmit_hash_policy, min_links,
all_slaves_active. Refused in place: mode and fail_over_mac ("the bond device has slaves"),
ad_select and lacp_rate ("the bond is up") — a change to those re-creates the bond (its ports
are then enslaved again).

`primary` names a port; the kernel takes an ifindex and keeps it only once that port is
enslaved, so vnet sets it after the ports have joined (a kind extra), by name.
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar, Literal

from pydantic import Field

from ..actions import Action, Request
from . import register
from .base import (
    IP,
    IfName,
    InterfaceBase,
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
#: the kernel's BOND_MAX_ARP_TARGETS
MAX_ARP_TARGETS = 16
DEFAULT_MODE = "balance-rr"

#: modes each mode-bound option works in (the kernel's unsuppmodes, inverted)
_PRIMARY_MODES = ("active-backup", "balance-tlb", "balance-alb")
_HASH_MODES = ("balance-xor", "802.3ad", "balance-tlb")
_ARP_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast")

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
    }

    @property
    def effective_mode(self) -> str:
        return self.mode or DEFAULT_MODE

    # ---- capture --------------------------------------------------------------------------
    capture_defaults: ClassVar[dict[str, Any]] = {
        "mode": DEFAULT_MODE, "miimon": 0, "updelay": 0, "downdelay": 0, "arp_interval": 0,
        "arp_ip_target": [], "lacp_rate": "slow", "xmit_hash_policy": "layer2",
        "ad_select": "stable", "min_links": 0, "fail_over_mac": "none",
        "all_slaves_active": False}

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

    # ---- primary: set by name once the ports are enslaved --------------------------------
    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        if self.primary is None:
            return []
        ns, name = self.key
        current: str | None = None
        if live is not None and netns_state is not None:
            index = live.info_data.get("IFLA_BOND_PRIMARY")
            current = next((link.name for link in netns_state.links.values()
                            if index and link.index == index), None)
            port = netns_state.links.get(self.primary)
            if current == self.primary and port is not None and port.master == name:
                return []
        where = f"{ns}/{name}" if ns else name

        def req(port: str | None) -> Request:
            return Request("link.setref", ns, {"ifname": name, "kind": "bond",
                                               "attr": "IFLA_BOND_PRIMARY", "ref": port})
        return [Action("change" if live is not None else "create",
                       f"primary {self.primary} of {where}",
                       "declared" if live is None else "primary port differs from the file",
                       [req(self.primary)], [req(current)],
                       diff={"primary": (current, self.primary)} if live is not None else {})]

    # ---- checks ---------------------------------------------------------------------------
    def check(self, topo: Any, report: Any) -> None:
        mode = self.effective_mode
        said = f"mode {mode}" + ("" if self.mode else " (the default when mode is omitted)")
        if self.primary is not None and mode not in _PRIMARY_MODES:
            report("primary", f"primary has no effect in {said}: only active-backup, "
                   "balance-tlb and balance-alb have a preferred port",
                   "set mode: active-backup, or remove primary")
        if self.primary is not None:
            port = ends_by_key(topo).get((self.netns, self.primary))
            if port is None:
                port = next((e for e in topo.externals if e.netns == self.netns
                             and e.name == self.primary), None)
            if port is None or port.master != self.name:
                report("primary", f"primary {self.primary!r} is not a port of {self.name}",
                       f"add master: {self.name} to interface {self.primary!r}, or name one "
                       "of the bond's ports")
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
        for opt in ("updelay", "downdelay"):
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
            if opt == "arp_ip_target":
                args += [opt, ",".join(value)]
            elif isinstance(value, bool):
                args += [opt, "1" if value else "0"]
            else:
                args += [opt, str(value)]
        return args

    def ip_commands(self) -> list[list[str]]:
        ns = ["-n", self.netns] if self.netns else []
        cmds = [["ip", *ns, "link", "add", self.name, "type", "bond", *self.ip_type_args()]]
        if self.primary is not None:
            # the kernel keeps a primary only once it names an existing port
            cmds.append(["ip", *ns, "link", "set", self.name, "type", "bond", "primary",
                         self.primary])
        return cmds
