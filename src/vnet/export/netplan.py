"""`vnet export --to netplan`: one namespace of a topology as a netplan (version 2) file.

Written for Debian 12's netplan.io 0.106, whose device types that create a link are bridges,
bonds, vlans and tunnels (vxlan among them); it has no virtual-ethernets (veth) nor
dummy-devices yet, and no tap, macvlan, ipvlan, macsec, geneve, vcan, vxcan, nlmon, ifb or
ipoib. Those, the options without a netplan key (netplan.html of 0.106), a port or parent left
out, the file's checks and everything of another namespace go into `left_out`, one entry each.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..kinds.base import Common, InterfaceBase
from . import Exported, LeftOut, Options
from ._common import link_settings_left_out, netns_check, other_namespace_entries

FILE = "vnet.yaml"


def _ms(value: Any) -> str:
    return f"{int(value)}ms"


def _centisec(value: Any) -> str:
    return f"{int(value) * 10}ms"


def _same(value: Any) -> Any:
    return value


def _range(value: Any) -> list[int]:
    return [int(value[0]), int(value[1])]


#: per kind: netplan's device type, and {file option: (parameter key, value)}; bridges and
#: bonds keep their options under `parameters:`, a vxlan tunnel on the definition itself
_KINDS: dict[str, tuple[str, dict[str, tuple[str, Callable[[Any], Any]]]]] = {
    "bridge": ("bridges", {
        "stp_state": ("stp", bool),
        "forward_delay": ("forward-delay", _centisec),
        "hello_time": ("hello-time", _centisec),
        "max_age": ("max-age", _centisec),
        "priority": ("priority", int),
        "ageing_time": ("ageing-time", _centisec),
    }),
    "bond": ("bonds", {
        "mode": ("mode", _same),
        "miimon": ("mii-monitor-interval", _ms),
        "updelay": ("up-delay", _ms),
        "downdelay": ("down-delay", _ms),
        "arp_interval": ("arp-interval", _ms),
        "arp_ip_target": ("arp-ip-targets", list),
        "lacp_rate": ("lacp-rate", _same),
        "xmit_hash_policy": ("transmit-hash-policy", _same),
        "ad_select": ("ad-select", _same),
        "min_links": ("min-links", int),
        "fail_over_mac": ("fail-over-mac-policy", _same),
        "all_slaves_active": ("all-members-active", bool),
    }),
    "vlan": ("vlans", {"id": ("id", int)}),
    "vxlan": ("tunnels", {
        "id": ("id", int),
        "local": ("local", _same),
        "remote": ("remote", _same),
        "group": ("remote", _same),  # netplan: "remote ... or multicast group"
        "dstport": ("port", int),
        "srcport": ("port-range", _range),
        "tos": ("type-of-service", int),
        "learning": ("mac-learning", bool),
        "proxy": ("arp-proxy", bool),
        "ageing": ("ageing", int),
    }),
}
_COMMON = set(Common.model_fields) | {"kind", "link", "link_netns", "dev"}
#: options said by code below rather than one key each
_SPECIAL = {"bond": {"primary"}, "vxlan": {"l2miss", "l3miss", "udpcsum", "ttl"}}


def export(topo: Any, options: Options) -> Exported:
    """The namespace `options.netns` of `topo` as one netplan file (`vnet.yaml`)."""
    netns_check(topo, options)
    return _Writer(topo, options).run()


class _Writer:
    def __init__(self, topo: Any, options: Options) -> None:
        self.topo = topo
        self.netns = options.netns
        self.left_out: list[LeftOut] = other_namespace_entries(topo, self.netns, "netplan") \
            + link_settings_left_out(topo, "netplan")
        self.defs: dict[str, dict[str, Any]] = {}  # name -> its definition
        self.types: dict[str, str] = {}  # name -> device type

    def leave(self, path: str, why: str) -> None:
        self.left_out.append(LeftOut(path, why))

    def run(self) -> Exported:
        mine: list[InterfaceBase] = []
        for iface in self.topo.interfaces:
            ends = iface.expand()
            if all(end.netns != self.netns for end in ends):
                continue
            if iface.kind_name not in _KINDS:
                self.leave(iface.path, f"netplan 0.106 cannot create a {iface.kind_name}")
            elif iface.parent() is not None and iface.parent_netns() != self.netns:
                self.leave(iface.path, "netplan stacks a link only on a parent in its own "
                                       "namespace")
            else:
                mine.append(iface)
        while True:  # a link whose parent is not a netplan definition is left out too
            names = {iface.name for iface in mine}
            orphans = [i for i in mine if i.parent() is not None and i.parent() not in names]
            if not orphans:
                break
            for iface in orphans:
                self.leave(iface.path, f"its parent {iface.parent()} is not in the netplan "
                                       "file (netplan links only what it defines)")
                mine.remove(iface)
        for obj in [*self.topo.endpoints(), *self.topo.externals]:
            if obj.impair is not None and obj.netns == self.netns and \
                    not obj.path.endswith(".impair"):
                self.leave(f"{obj.path}.impair", "netplan has no network emulator (netem) "
                                                 "setting")
        for iface in mine:
            self.types[iface.name] = _KINDS[iface.kind_name][0]
        for iface in mine:
            self.definition(iface)
        for iface in mine:
            self.membership(iface)
        for index, route in enumerate(self.topo.routes):
            if route.netns == self.netns:
                self.route(route, f"routes[{index}]")
        network: dict[str, Any] = {"version": 2, "renderer": "networkd"}
        for kind_type in ("bridges", "bonds", "vlans", "tunnels"):
            group = {name: d for name, d in self.defs.items() if self.types[name] == kind_type}
            if group:
                network[kind_type] = group
        text = (f"# {Path(self.topo.source).name}: {self.topo.name}"
                f"{', namespace ' + self.netns if self.netns else ''} (vnet export)\n")
        text += yaml.safe_dump({"network": network}, sort_keys=False, default_flow_style=False)
        return Exported(files={FILE: text}, left_out=sorted(self.left_out, key=self._order))

    def _order(self, entry: LeftOut) -> tuple[int, int, str]:
        where = self.topo.where(entry.path)
        return (where.line, where.col, entry.path) if where else (0, 0, entry.path)

    def definition(self, iface: InterfaceBase) -> None:
        kind = iface.kind_name
        _, keys = _KINDS[kind]
        out: dict[str, Any] = {}
        params: dict[str, Any] = {}
        if kind in ("bridge", "bond"):
            out["interfaces"] = []
        if kind == "vxlan":
            out["mode"] = "vxlan"
        if iface.parent() is not None:
            out["link"] = iface.parent()
        special = _SPECIAL.get(kind, set())
        for opt in sorted(iface.model_fields_set - _COMMON,
                          key=list(type(iface).model_fields).index):
            value = getattr(iface, opt)
            if value is None or opt in special:
                continue
            if opt in keys:
                key, convert = keys[opt]
                (params if kind in ("bridge", "bond") else out)[key] = convert(value)
            elif not (isinstance(value, list) and not value):
                self.leave(f"{iface.path}.{opt}",
                           f"netplan 0.106 has no key for the {kind} option {opt}")
        if kind == "bridge" and getattr(iface, "stp_state", None) is None:
            params["stp"] = False  # netplan's default is on, the kernel's off
        primary = getattr(iface, "primary", None) if kind == "bond" else None
        if primary is not None and primary in self.types:
            params["primary"] = primary
        elif primary is not None:
            self.leave(f"{iface.path}.primary", f"the primary port {primary} is not in the "
                                                "netplan file")
        if kind == "vxlan":
            self._vxlan(iface, out)
        if params:
            out["parameters"] = params
        self._common(iface, iface.path, out)
        self.defs[iface.name] = out

    def _vxlan(self, iface: Any, out: dict[str, Any]) -> None:
        notes = [word for opt, word in (("l2miss", "l2-miss"), ("l3miss", "l3-miss"))
                 if getattr(iface, opt)]
        if notes:
            out["notifications"] = notes
        if isinstance(iface.ttl, int):
            out["ttl"] = iface.ttl
        elif iface.ttl == "inherit":  # auto, the kernel's default, needs no key
            self.leave(f"{iface.path}.ttl", "netplan 0.106 has no TTL inherited from the "
                                            "inner packet")
        # networkd sends the checksum flag whatever is written (off unless set): say the
        # kernel's default, on, unless the file turns it off
        if iface.udpcsum is not False:
            out["checksums"] = ["udp"]

    def _common(self, end: Common, path: str, out: dict[str, Any]) -> None:
        if end.addresses:
            out["addresses"] = list(end.addresses)
        if end.mtu is not None:
            out["mtu"] = end.mtu
        if end.mac is not None:
            out["macaddress"] = end.mac
        if end.state == "down":
            out["activation-mode"] = "off"
        if end.vlans is not None:
            self.leave(f"{path}.vlans", "netplan 0.106 has no bridge VLANs")
        # the kernel's own: every link makes its IPv6 link-local address (netplan turns it
        # off on bridge ports unless told), and addresses are set whatever the carrier
        out["link-local"] = ["ipv6"]
        out["ignore-carrier"] = True

    def membership(self, iface: InterfaceBase) -> None:
        """A port's master lists it under `interfaces:` (netplan says it on the master)."""
        if iface.master is None:
            return
        master = self.defs.get(iface.master)
        if master is None or self.types.get(iface.master) not in ("bridges", "bonds"):
            self.leave(f"{iface.path}.master", f"the master {iface.master} is not a bridge or "
                                               "bond of the netplan file")
            return
        master["interfaces"].append(iface.name)

    def route(self, route: Any, path: str) -> None:
        # a route without via: netplan gives it the scope link, as vnet (and `ip route add
        # NET dev X`) does
        dev = route.dev
        if dev is None and route.via is not None:
            gateway = ipaddress.ip_address(route.via)
            dev = next((name for name, d in self.defs.items()
                        for a in d.get("addresses", [])
                        if gateway in ipaddress.ip_interface(a).network), None)
        if dev is None or dev not in self.defs:
            self.leave(path, "netplan attaches a route to a definition; give the route a dev: "
                             "the netplan file defines")
            return
        entry: dict[str, Any] = {"to": route.to}
        if route.via is not None:
            entry["via"] = route.via
        if route.metric is not None:
            entry["metric"] = route.metric
        if route.table is not None:
            entry["table"] = route.table
        self.defs[dev].setdefault("routes", []).append(entry)
