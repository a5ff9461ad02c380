"""bridge — a software switch. `ip link add br0 type bridge [stp_state 1 ...]`.

Timers are in hundredths of a second, as `ip` spells them (forward_delay 1500 = 15 s). The
kernel keeps them in jiffies, its ticks, and reports them back converted to hundredths again,
truncating both ways (`clock_t_kept`): on a 250 Hz kernel an odd value comes back one lower
(755 is kept as 754). vnet compares them as the kernel keeps them, so such a value is not a
change on the next apply, and the plan says when a value will be rounded.

VLAN filtering: `vlan_filtering: true` on the bridge, and `vlans:` (a common field) on each
port or on the bridge itself; the feature features/bridge_vlans.py plans and checks them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..actions import Action, Request
from . import register
from .base import HostName, InterfaceBase, Option, bool_option, int_option, tick_option

_VLAN_PROTOCOLS = {"802.1Q": 0x8100, "802.1ad": 0x88A8}
_VLAN_PROTOCOL_NAMES = {v: k for k, v in _VLAN_PROTOCOLS.items()}


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
    span: list[HostName] | None = Field(
        None, min_length=2,
        description="In a file that spans hosts: the hosts this bridge is made on, one L2 "
                    "segment joined by a VXLAN port on each (head-end replication to the "
                    "others); its ports may be on any of them.")

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
    }

    capture_defaults = {"stp_state": False, "forward_delay": 1500, "hello_time": 200,
                        "max_age": 2000, "priority": 32768, "ageing_time": 30000,
                        "mcast_snooping": True, "mcast_querier": False,
                        "vlan_filtering": False, "vlan_default_pvid": 1,
                        "vlan_protocol": "802.1Q"}

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
        if self.vlans is not None and not self.vlan_filtering:
            report("vlans", "the bridge's own vlans only filter with vlan_filtering: true",
                   "add vlan_filtering: true, or remove vlans")
