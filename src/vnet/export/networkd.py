"""`vnet export --to networkd`: one namespace of a topology as systemd-networkd files.

Each interface the namespace holds becomes a `.network` file (matched by name: its addresses,
MTU, MAC, state, master, bridge VLANs, routes, and the links stacked on it), and each one vnet
creates a `.netdev` file too (its kind and options). The keys are those systemd 252 documents
in systemd.netdev(5) and systemd.network(5); an option without a key, a kind networkd cannot
make (team), a pair whose ends sit in two namespaces, the file's checks and everything of
another namespace go into `left_out`, one entry each.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..datatypes import datatype, field
from ..kinds.base import Common, InterfaceBase
from ..model import External, Route
from . import Exported, ExportError, LeftOut, Options
from ._common import (
    bool_word,
    link_settings_left_out,
    netns_check,
    other_namespace_entries,
    where_label,
)

#: section, key (and value) lines of one file, in the order written
Sections = list[tuple[str, list[tuple[str, str]]]]


def _bool(value: Any) -> str:
    return bool_word(value)


def _centisec(value: Any) -> str:
    # ip spells the bridge timers in 1/100 s; networkd takes a time span
    return f"{int(value) * 10}ms"


def _ms(value: Any) -> str:
    return f"{int(value)}ms"


def _sec(value: Any) -> str:
    return f"{int(value)}s"


def _text(value: Any) -> str:
    return str(value)


def _ttl(value: Any) -> str:
    """A tunnel's ttl: networkd writes ip's `auto` as 0 (its `inherit` and numbers as ip)."""
    return "0" if value == "auto" else str(value)


def _lower(value: Any) -> str:
    return str(value).lower()


def _upper(value: Any) -> str:
    return str(value).upper()


def _words(value: Any) -> str:
    return " ".join(str(v) for v in value)


def _port_range(value: Any) -> str:
    return f"{value[0]}-{value[1]}"


def _hex16(value: Any) -> str:
    return f"0x{int(value):04x}"


#: per kind: (the .netdev section of its options, {file option: (networkd key, value text)})
_KIND_KEYS: dict[str, tuple[str, dict[str, tuple[str, Callable[[Any], str]]]]] = {
    "bridge": ("Bridge", {
        "stp_state": ("STP", _bool),
        "forward_delay": ("ForwardDelaySec", _centisec),
        "hello_time": ("HelloTimeSec", _centisec),
        "max_age": ("MaxAgeSec", _centisec),
        "priority": ("Priority", _text),
        "ageing_time": ("AgeingTimeSec", _centisec),
        "mcast_snooping": ("MulticastSnooping", _bool),
        "mcast_querier": ("MulticastQuerier", _bool),
        "vlan_filtering": ("VLANFiltering", _bool),
        "vlan_default_pvid": ("DefaultPVID", lambda v: str(v) if v else "none"),
        "vlan_protocol": ("VLANProtocol", _lower),
    }),
    "bond": ("Bond", {
        "mode": ("Mode", _text),
        "miimon": ("MIIMonitorSec", _ms),
        "updelay": ("UpDelaySec", _ms),
        "downdelay": ("DownDelaySec", _ms),
        "arp_interval": ("ARPIntervalSec", _ms),
        "arp_ip_target": ("ARPIPTargets", _words),
        "lacp_rate": ("LACPTransmitRate", _text),
        "xmit_hash_policy": ("TransmitHashPolicy", _text),
        "ad_select": ("AdSelect", _text),
        "min_links": ("MinLinks", _text),
        "fail_over_mac": ("FailOverMACPolicy", _text),
        "all_slaves_active": ("AllSlavesActive", _bool),
    }),
    "vlan": ("VLAN", {
        "id": ("Id", _text),
        "protocol": ("Protocol", _lower),
        "reorder_hdr": ("ReorderHeader", _bool),
        "gvrp": ("GVRP", _bool),
        "mvrp": ("MVRP", _bool),
        "loose_binding": ("LooseBinding", _bool),
    }),
    "vxlan": ("VXLAN", {
        "id": ("VNI", _text),
        "local": ("Local", _text),
        "remote": ("Remote", _text),
        "group": ("Group", _text),
        "dstport": ("DestinationPort", _text),
        "srcport": ("PortRange", _port_range),
        "ttl": ("TTL", _ttl),
        "tos": ("TOS", _text),
        "learning": ("MacLearning", _bool),
        "proxy": ("ReduceARPProxy", _bool),
        "l2miss": ("L2MissNotification", _bool),
        "l3miss": ("L3MissNotification", _bool),
        "udpcsum": ("UDPChecksum", _bool),
        "ageing": ("FDBAgeingSec", _sec),
    }),
    "geneve": ("GENEVE", {
        "id": ("Id", _text),
        "remote": ("Remote", _text),
        "ttl": ("TTL", _ttl),
        "tos": ("TOS", _text),
        "dstport": ("DestinationPort", _text),
        "udpcsum": ("UDPChecksum", _bool),
    }),
    "macvlan": ("MACVLAN", {"mode": ("Mode", _text), "macaddr": ("SourceMACAddress", _words)}),
    "macvtap": ("MACVTAP", {"mode": ("Mode", _text), "macaddr": ("SourceMACAddress", _words)}),
    "ipvlan": ("IPVLAN", {"mode": ("Mode", _upper), "flag": ("Flags", _text)}),
    "ipvtap": ("IPVTAP", {"mode": ("Mode", _upper), "flag": ("Flags", _text)}),
    "tun": ("Tun", {"user": ("User", _text), "group": ("Group", _text),
                    "multi_queue": ("MultiQueue", _bool), "vnet_hdr": ("VNetHeader", _bool),
                    "pi": ("PacketInfo", _bool)}),
    "tap": ("Tap", {"user": ("User", _text), "group": ("Group", _text),
                    "multi_queue": ("MultiQueue", _bool), "vnet_hdr": ("VNetHeader", _bool),
                    "pi": ("PacketInfo", _bool)}),
    "ipoib": ("IPoIB", {"mode": ("Mode", _text), "pkey": ("PartitionKey", _hex16)}),
    "macsec": ("MACsec", {"port": ("Port", _text), "encrypt": ("Encrypt", _bool)}),
    "veth": ("Peer", {}),
    "vxcan": ("VXCAN", {}),
    "dummy": ("", {}),
    "ifb": ("", {}),
    "nlmon": ("", {}),
    "vcan": ("", {}),
}

#: the key of a parent's .network that stacks a link of this kind on it
_STACKED_KEY = {"vlan": "VLAN", "vxlan": "VXLAN", "macvlan": "MACVLAN", "macvtap": "MACVTAP",
                "ipvlan": "IPVLAN", "ipvtap": "IPVTAP", "macsec": "MACsec", "ipoib": "IPoIB"}
#: the key of a port's .network that names its master, by the master's kind
_MASTER_KEY = {"bridge": "Bridge", "bond": "Bond"}
#: fields handled apart from the option tables: the common ones, the parent, the pair
_STRUCTURE = set(Common.model_fields) | {"kind", "link", "link_netns", "dev", "peer"}
#: options handled by their own code below (not a key=value of the kind's section)
_SPECIAL = {"bond": {"primary"}, "vxlan": {"fdb"},
            "vlan": {"ingress_qos_map", "egress_qos_map"},
            "macsec": {"tx_sa", "rx", "encodingsa", "cipher"}}


@datatype
class _Files:
    """What is being written for one interface end: its .netdev (if vnet creates it) and its
    .network."""

    netdev: Sections = field(default_factory=list)
    network: Sections = field(default_factory=list)
    source: str = ""


def export(topo: Any, options: Options) -> Exported:
    """The namespace `options.netns` of `topo` (None: where vnet runs) as .netdev and .network
    files, keyed `10-NAME.netdev` / `10-NAME.network`; what networkd cannot say is left out."""
    netns_check(topo, options)
    return _Writer(topo, options).run()


class _Writer:
    def __init__(self, topo: Any, options: Options) -> None:
        self.topo = topo
        self.options = options
        self.netns = options.netns
        self.left_out: list[LeftOut] = []
        self.files: dict[str, _Files] = {}
        #: names here -> kind name ("" for an external of unknown kind)
        self.kinds: dict[str, str] = {}
        #: ports a bond names as its primary
        self.primary_ports: set[str] = set()
        self.base = Path(topo.source).parent if topo.source != "<memory>" else Path.cwd()

    def leave(self, path: str, why: str) -> None:
        self.left_out.append(LeftOut(path, why))

    # ---- the walk ---------------------------------------------------------------------------
    def run(self) -> Exported:
        self.left_out += other_namespace_entries(self.topo, self.netns, "networkd")
        self.left_out += link_settings_left_out(self.topo, "networkd")
        mine: list[InterfaceBase] = []
        for iface in self.topo.interfaces:
            ends = iface.expand()
            here = [end for end in ends if end.netns == self.netns]
            if not here:
                continue  # listed by other_namespace_entries
            if len(here) != len(ends):
                other = next(end for end in ends if end.netns != self.netns)
                self.leave(iface.path, f"a {iface.kind_name} with its other end in "
                                       f"{where_label(other.netns)}: networkd makes both ends "
                                       "in one namespace")
            elif iface.kind_name not in _KIND_KEYS:
                self.leave(iface.path, f"networkd 252 cannot create a {iface.kind_name}")
            elif iface.parent() is not None and iface.parent_netns() != self.netns:
                self.leave(iface.path, "networkd stacks a link only on a parent in its own "
                                       "namespace")
            else:
                mine.append(iface)
        here_names = {ext.name for ext in self.topo.externals if ext.netns == self.netns}
        while True:  # a link whose parent is left out is left out too
            names = here_names | {end.name for iface in mine for end in iface.expand()}
            orphans = [i for i in mine if i.parent() is not None and i.parent() not in names]
            if not orphans:
                break
            for iface in orphans:
                self.leave(iface.path, f"its parent {iface.parent()} is left out")
                mine.remove(iface)
        for iface in mine:
            for end in iface.expand():
                self.kinds[end.name] = iface.kind_name
        for ext in self.topo.externals:
            if ext.netns == self.netns:
                self.kinds[ext.name] = ext.kind or ""
        for iface in mine:
            self.netdev(iface)
        for iface in mine:
            for end in iface.expand():
                self.network(end, end.path)
        for ext in self.topo.externals:
            if ext.netns == self.netns:
                self.network(ext, ext.path)
        for index, route in enumerate(self.topo.routes):
            if route.netns == self.netns:
                self.route(route, f"routes[{index}]")
        out = Exported(left_out=sorted(self.left_out, key=lambda e: _order(self.topo, e)))
        for name, files in self.files.items():
            if files.netdev:
                out.files[f"10-{name}.netdev"] = _render(files.netdev, files.source, self.topo)
            out.files[f"10-{name}.network"] = _render(files.network, files.source, self.topo)
        return out

    def _files(self, name: str, source: str) -> _Files:
        return self.files.setdefault(name, _Files(source=source))

    # ---- .netdev ------------------------------------------------------------------------------
    def netdev(self, iface: InterfaceBase) -> None:
        kind = iface.kind_name
        section, keys = _KIND_KEYS[kind]
        head = [("Name", iface.name), ("Kind", kind)]
        if kind in ("tun", "tap"):
            pass  # networkd takes their MAC only in the .network
        elif iface.mac is not None:
            head.append(("MACAddress", iface.mac))
        else:
            # the kernel's choice, as with vnet: networkd would derive one from the machine
            # id (and a MACsec SCI, made of the MAC, would differ)
            head.append(("MACAddress", "none"))
        files = self._files(iface.name, iface.path)
        files.netdev.append(("NetDev", head))
        body: list[tuple[str, str]] = []
        special = _SPECIAL.get(kind, set())
        for opt in sorted(iface.model_fields_set - _STRUCTURE,
                          key=list(type(iface).model_fields).index):
            value = getattr(iface, opt)
            if value is None or opt in special:
                continue
            info = type(iface).model_fields[opt]
            spelled = info.alias or opt
            if opt in keys:
                key, text = keys[opt]
                body.append((key, text(value)))
            elif isinstance(value, list) and not value:
                continue  # an empty list says nothing
            else:
                self.leave(f"{iface.path}.{spelled}",
                           f"networkd 252 has no key for the {kind} option {spelled}")
        extra = getattr(self, f"_netdev_{kind}", None)
        sections: Sections = [(section, body)] if section else []
        if extra is not None:
            extra(iface, body, sections)
        files.netdev += [(name, lines) for name, lines in sections if lines]

    def _netdev_veth(self, iface: Any, body: list[tuple[str, str]], sections: Sections) -> None:
        body.append(("Name", iface.peer.name))
        if iface.peer.mac is not None:
            body.append(("MACAddress", iface.peer.mac))

    def _netdev_vxcan(self, iface: Any, body: list[tuple[str, str]], sections: Sections) -> None:
        body.append(("Peer", iface.peer.name))

    def _netdev_vxlan(self, iface: Any, body: list[tuple[str, str]], sections: Sections) -> None:
        if iface.dev is None:
            body.append(("Independent", "yes"))  # no underlying link's .network names it
        if iface.udpcsum is None:
            # networkd always sends it (default off); the kernel's default is on
            body.append(("UDPChecksum", "yes"))
        for entry in iface.fdb:
            lines = [("MACAddress", entry.mac), ("Destination", entry.dst)]
            self._files(iface.name, iface.path).network.append(("BridgeFDB", lines))

    def _netdev_vlan(self, iface: Any, body: list[tuple[str, str]], sections: Sections) -> None:
        for opt, key in (("egress_qos_map", "EgressQOSMaps"),
                         ("ingress_qos_map", "IngressQOSMaps")):
            entries = getattr(iface, opt)
            if not entries:
                continue
            pairs = [tuple(int(x) for x in entry.split(":")) for entry in entries]
            if any(a < 1 or b < 1 or a < b for a, b in pairs):
                # systemd.netdev(5): each integer 1 or more, "from" at least "to"
                self.leave(f"{iface.path}.{opt}", "networkd 252 takes only maps whose 'from' is "
                                                  "at least 'to', both at least 1")
                continue
            body.append((key, " ".join(f"{a}-{b}" for a, b in pairs)))

    def _netdev_bond(self, iface: Any, body: list[tuple[str, str]], sections: Sections) -> None:
        if iface.primary is not None:
            if self.kinds.get(iface.primary) is None:
                self.leave(f"{iface.path}.primary", f"the primary port {iface.primary} is not "
                                                    "in the exported namespace")
            else:
                self.primary_ports.add(iface.primary)

    def _netdev_macsec(self, iface: Any, body: list[tuple[str, str]], sections: Sections) -> None:
        if iface.cipher not in (None, "gcm-aes-128"):
            self.leave(f"{iface.path}.cipher", "networkd 252 has only gcm-aes-128 (no Cipher= "
                                               "key)")
        for index, sa in enumerate(iface.tx_sa):
            path = f"{iface.path}.tx_sa[{index}]"
            lines = self._sa_lines(sa, path)
            if lines is None:
                continue
            if iface.encodingsa == sa.an:
                lines.append(("UseForEncoding", "yes"))
            sections.append(("MACsecTransmitAssociation", lines))
        for index, channel in enumerate(iface.rx):
            path = f"{iface.path}.rx[{index}]"
            if channel.address is None:
                self.leave(f"{path}.sci", "networkd 252 names a receive channel by MAC address "
                                          "and port, not by SCI")
                continue
            peer = [("Port", str(channel.port or 1)), ("MACAddress", channel.address)]
            sections.append(("MACsecReceiveChannel", list(peer)))
            if not channel.active:
                self.leave(f"{path}.active", "networkd 252 cannot make an inactive receive "
                                             "channel")
            for sa_index, sa in enumerate(channel.sa):
                lines = self._sa_lines(sa, f"{path}.sa[{sa_index}]")
                if lines is not None:
                    sections.append(("MACsecReceiveAssociation", [*peer, *lines]))

    def _sa_lines(self, sa: Any, path: str) -> list[tuple[str, str]] | None:
        if len(sa.key_id) > 2:
            self.leave(f"{path}.key_id", "networkd 252 takes a key id of one byte (KeyId= 0-255)")
            return None
        lines = [("PacketNumber", str(sa.pn)), ("KeyId", str(int(sa.key_id, 16)))]
        if sa.key_file is not None:
            file = Path(sa.key_file)
            lines.append(("KeyFile", str(file if file.is_absolute() else
                                         (self.base / file).absolute())))
        elif not self.options.include_secrets:
            raise ExportError(
                f"{path}.key: the MACsec key is written in the file, and an export does not "
                "copy secrets; move it to a key_file (networkd reads it with KeyFile=) or "
                "pass --include-secrets")
        else:
            lines.append(("Key", sa.secret.get_secret_value()))
        lines.append(("Activate", _bool(sa.active)))
        return lines

    # ---- .network -----------------------------------------------------------------------------
    def network(self, end: Common, path: str) -> None:
        files = self._files(end.name, path)
        link: list[tuple[str, str]] = []
        net: list[tuple[str, str]] = []
        if end.mtu is not None:
            link.append(("MTUBytes", str(end.mtu)))
        if end.mac is not None and (isinstance(end, External) or
                                    getattr(end, "kind_name", "") in ("tun", "tap")):
            link.append(("MACAddress", end.mac))
        if end.state == "down":
            link.append(("ActivationPolicy", "down"))
        if end.master is not None:
            kind = self.kinds.get(end.master)
            if kind in _MASTER_KEY:
                net.append((_MASTER_KEY[kind], end.master))
            else:
                self.leave(f"{path}.master", f"the master {end.master} is left out"
                           if kind is None else f"the master {end.master} is a "
                           f"{kind or 'link of unknown kind'}, which networkd cannot enslave to")
            if end.name in self.primary_ports:
                net.append(("PrimarySlave", "yes"))
        for iface in self.topo.interfaces:  # the links stacked on this one
            if iface.netns == self.netns and iface.parent() == end.name and \
                    iface.parent_netns() == self.netns and iface.kind_name in _STACKED_KEY and \
                    self.kinds.get(iface.name) == iface.kind_name:
                net.append((_STACKED_KEY[iface.kind_name], iface.name))
        # the kernel's own: every link makes its IPv6 link-local address (networkd turns it
        # off on bridge ports unless told), and addresses are set whatever the carrier
        net += [("LinkLocalAddressing", "ipv6"), ("ConfigureWithoutCarrier", "yes")]
        sections: Sections = [("Match", [("Name", end.name)])]
        if link:
            sections.append(("Link", link))
        sections.append(("Network", net))
        for address in end.addresses:
            lines = [("Address", address)]
            if ipaddress.ip_interface(address).version == 4:
                # as `ip addr add` (and vnet) leave it: networkd would add a broadcast address
                lines.append(("Broadcast", "no"))
            else:
                # vnet adds IPv6 addresses without duplicate address detection, usable at once
                lines.append(("DuplicateAddressDetection", "none"))
            sections.append(("Address", lines))
        if end.vlans is not None and not any(1 in v.vids for v in end.vlans) and \
                self._default_pvid(end) != 0:
            self.leave(f"{path}.vlans", "networkd 252 keeps the VLAN 1 a bridge gives its ports "
                                        "and itself, which vnet removes; list vid 1, or set "
                                        "vlan_default_pvid: 0 on the bridge")
        if end.impair is not None:
            sections += self._emulator(end.impair, f"{path}.impair")
        for vlan in end.vlans or []:
            vid = str(vlan.vid)
            lines = [("VLAN", vid)]
            if vlan.pvid:
                lines.append(("PVID", vid))
            if vlan.untagged:
                lines.append(("EgressUntagged", vid))
            sections.append(("BridgeVLAN", lines))
        files.network[:0] = sections

    def _emulator(self, impair: Any, path: str) -> Sections:
        """[NetworkEmulator]: networkd's netem, which knows delay, jitter, limit, loss and
        duplicate alone; what else the impairment says is left out."""
        from ..features.netem_words import format_ns
        from ..features.shaping import parse_time
        if impair.direction != "egress":
            self.leave(f"{path}.direction", "networkd cannot redirect what a link receives "
                                            "to an IFB; only egress is impaired")
        lines: list[tuple[str, str]] = []
        for name, key in (("delay", "DelaySec"), ("jitter", "DelayJitterSec")):
            value = getattr(impair, name)
            if value is not None:
                lines.append((key, format_ns(parse_time(value) * 1000)))
        if impair.limit is not None:
            lines.append(("PacketLimit", str(impair.limit)))
        for name, key in (("loss", "LossRate"), ("duplicate", "DuplicateRate")):
            value = getattr(impair, name)
            if value is not None:
                words = str(value).split()
                lines.append((key, words[0] if words[0].endswith("%") else f"{words[0]}%"))
                if len(words) > 1:
                    self.leave(f"{path}.{name}", "networkd's NetworkEmulator has no "
                                                  "correlation")
        for name in ("correlation", "distribution", "loss_model", "ecn", "corrupt", "reorder",
                     "gap", "rate", "packet_overhead", "cell_size", "cell_overhead", "slot"):
            if getattr(impair, name) not in (None, False):
                self.leave(f"{path}.{name}", f"networkd's NetworkEmulator has no {name}")
        return [("NetworkEmulator", lines)] if lines else []

    def _default_pvid(self, end: Common) -> int | None:
        """The vlan_default_pvid of the bridge `end` is (or is a port of): 1 unless set."""
        name = end.name if getattr(end, "filters_vlans", False) else end.master
        for iface in self.topo.interfaces:
            if iface.name == name and iface.netns == self.netns and iface.filters_vlans:
                pvid = getattr(iface, "vlan_default_pvid", None)
                return 1 if pvid is None else int(pvid)
        return None

    def route(self, route: Route, path: str) -> None:
        dev = route.dev
        if dev is None and route.via is not None:
            dev = self._link_towards(route.via)
        if dev is None or dev not in self.files:
            self.leave(path, "networkd attaches a route to a link's .network; give the route "
                             "a dev: in the exported namespace")
            return
        lines: list[tuple[str, str]] = []
        if route.to != "default":
            lines.append(("Destination", route.to))
        if route.via is not None:
            lines.append(("Gateway", route.via))
        # a route without gateway: networkd gives it the scope link, as vnet (and `ip route
        # add NET dev X`) does
        if route.metric is not None:
            lines.append(("Metric", str(route.metric)))
        if route.table is not None:
            lines.append(("Table", str(route.table)))
        self.files[dev].network.append(("Route", lines))

    def _link_towards(self, gateway: str) -> str | None:
        """The exported link with an address whose network holds `gateway`."""
        address = ipaddress.ip_address(gateway)
        for name, files in self.files.items():
            for section, lines in files.network:
                for key, value in lines if section == "Address" else []:
                    if key == "Address" and address in ipaddress.ip_interface(value).network:
                        return name
        return None


def _order(topo: Any, entry: LeftOut) -> tuple[int, int, str]:
    where = topo.where(entry.path)
    return (where.line, where.col, entry.path) if where else (0, 0, entry.path)


def _render(sections: Sections, source: str, topo: Any) -> str:
    lines = [f"# {Path(topo.source).name}: {source} (vnet export)"] if source else []
    for name, keys in sections:
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
        lines += [f"{key}={value}" for key, value in keys]
    return "\n".join(lines) + "\n"
