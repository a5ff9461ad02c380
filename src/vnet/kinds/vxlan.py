"""vxlan — Ethernet over UDP (RFC 7348): a 24-bit VNI, unicast peers or a multicast group.

`ip link add vx0 type vxlan id 100 local 1.1.1.1 remote 2.2.2.2 dev eth0 dstport 4789`
plus, for head-end replication to several peers,
`bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.51.100.2`.

What the kernel (6.18, observed) changes in place: ttl, tos, learning, ageing, df, flowlabel
(and local, remote/group within one address family, which vnet still re-creates: one option
here may be an IPv4 or an IPv6 attribute, and a family change is refused in place). Everything
else — id, dstport, srcport, proxy, rsc, l2miss, l3miss, udpcsum, udp6zerocsumtx/rx,
remcsumtx/rx, gbp, gpe, maxaddress, collect_metadata — is fixed at creation (EOPNOTSUPP), so
changing it re-creates the link. ip's `vnifilter` is left out (docs/options.md says why).

`ttl` is written as ip writes it: 1-255, `auto` (the kernel's 0: the route's hop limit) or
`inherit` (the inner packet's TTL, IFLA_VXLAN_TTL_INHERIT). A number or auto changes in place;
the kernel refuses to set inherit on a live vxlan (EOPNOTSUPP) and keeps it through any change,
so entering or leaving inherit re-creates the link. The kernel reports TTL_INHERIT as a byte,
0 or 1, which pyroute2 0.9.7 reads as a netlink flag (on whenever present): the door reads it
again itself (`info_nla_misread`).
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any, Literal

from ..declare import Field
from ..features.fdb import NUD_PERMANENT, ZERO_MAC, FdbEntry, check_fdb, plan_fdb
from . import register
from .base import (
    IP,
    DrawEdge,
    IfName,
    InterfaceBase,
    Option,
    TunnelTtl,
    bool_option,
    empty_list,
    ends_by_key,
    enum_option,
    int_option,
    topology_index,
)

#: the DF bit of the outer IPv4 header (enum ifla_vxlan_df)
DF = {"unset": 0, "set": 1, "inherit": 2}
#: netlink flag attributes: the kernel reports them only when set
_FLAGS = {"gbp": "IFLA_VXLAN_GBP", "gpe": "IFLA_VXLAN_GPE"}
_TTL_INHERIT = "IFLA_VXLAN_TTL_INHERIT"
#: a derived option: entering or leaving `ttl: inherit` cannot happen in place
TTL_INHERIT_KEY = "ttl (to or from inherit)"


def _be32(value: int) -> int:
    """A 32-bit number from host to network byte order, or back (the same swap)."""
    return int.from_bytes(int(value).to_bytes(4, "big"), sys.byteorder)  # htonl


#: the kernel's UDP port for a vxlan made without one, or with dstport 0 (not IANA's 4789)
VXLAN_PORT = 8472

#: what the encapsulation takes of the underlay's MTU: outer IPv4 (IPv6), UDP, VXLAN and inner
#: Ethernet headers (the kernel's VXLAN_HEADROOM, VXLAN6_HEADROOM)
_HEADROOM = {4: 50, 6: 70}


def _is_v6(value: str) -> bool:
    return ipaddress.ip_address(value).version == 6


def _is_multicast(value: str) -> bool:
    return ipaddress.ip_address(value).is_multicast


def _addr_option(nla4: str) -> Option:
    """local/remote/group: one option, an IPv4 or an IPv6 attribute (decoded by the class)."""
    return Option(nla4, encode=str, decode=lambda v: str(ipaddress.ip_address(v)), replace=True)


@register
class Vxlan(InterfaceBase):
    kind: Literal["vxlan"]
    listed = 50
    probe = {"id": 42, "dstport": 4789}
    parent_attr = "IFLA_VXLAN_LINK"  # the underlay is named inside IFLA_INFO_DATA
    ip_words = {"external": "collect_metadata"}
    use_when = ("Stretch one L2 segment across an IP network (hosts, racks, clouds): frames\n"
                "travel in UDP between tunnel endpoints, 16M segments by VNI.")

    id: int | None = Field(None, ge=0, le=16_777_215,
                           description="VNI, 0-16777215 (required unless collect_metadata).")
    local: IP | None = Field(None, description="Source address of the tunnel (IPv4 or IPv6).")
    remote: IP | None = Field(None, description="Unicast address of the single remote VTEP.")
    group: IP | None = Field(None, description="Multicast group for BUM traffic (needs dev).")
    dev: IfName | None = Field(
        None, description="Underlay link, in the vxlan's own namespace.")
    dstport: int | None = Field(
        None, ge=0, le=65535,
        description="UDP destination port. IANA: 4789; omitted, the kernel uses 8472 "
                    "(as `ip` does) — set 4789 to talk to other implementations.")
    srcport: list[int] | None = Field(
        None, min_length=2, max_length=2,
        description="UDP source port range [min, max] (flow entropy).")
    ttl: TunnelTtl | None = Field(
        None, description="Outer TTL: 1-255, auto (kernel default: the route's hop limit; 0 "
                          "says it too) or inherit (the inner packet's TTL); entering or "
                          "leaving inherit re-creates the link.")
    tos: int | None = Field(None, ge=0, le=255, description="Outer TOS; 1 = inherit.")
    learning: bool | None = Field(None, description="Learn remote MACs from received packets "
                                                    "(kernel default on; ip: [no]learning).")
    proxy: bool | None = Field(None, description="ARP/ND proxy from the FDB.")
    l2miss: bool | None = Field(None, description="Netlink notification on FDB miss.")
    l3miss: bool | None = Field(None, description="Netlink notification on neighbour miss.")
    udpcsum: bool | None = Field(None, description="UDP checksums over IPv4.")
    # `ip` spells it `external`, but in a vnet file `external: true` marks an interface vnet
    # does not create, so this option keeps the kernel's name
    collect_metadata: bool | None = Field(
        None, description="ip's `external`: collect metadata (for OVS, eBPF, tc flower); the "
                          "VNI comes per packet, so no id.")
    ageing: int | None = Field(None, ge=0, le=4_294_967_295,
                               description="FDB entry lifetime, seconds (default 300).")
    df: Literal["unset", "set", "inherit"] | None = Field(
        None, description="The outer IPv4 header's Don't Fragment bit: unset (kernel "
                          "default), set, or inherit it from the inner packet.")
    flowlabel: int | None = Field(
        None, ge=0, le=1_048_575, description="Outer IPv6 flow label, 0-1048575 (an IPv6 "
                                              "vxlan only; default 0).")
    maxaddress: int | None = Field(
        None, ge=0, le=4_294_967_295,
        description="Most FDB entries it learns; 0 (kernel default) = no limit.")
    rsc: bool | None = Field(None, description="Route short circuit: deliver to the "
                                               "neighbour's MAC from the FDB (default off).")
    udp6zerocsumtx: bool | None = Field(
        None, description="Send UDP over IPv6 without checksum (default off).")
    udp6zerocsumrx: bool | None = Field(
        None, description="Accept UDP over IPv6 without checksum (default off).")
    remcsumtx: bool | None = Field(None, description="Remote checksum offload when sending "
                                                     "(default off).")
    remcsumrx: bool | None = Field(None, description="Remote checksum offload when "
                                                     "receiving (default off).")
    gbp: bool | None = Field(None, description="Group Based Policy extension: carry the "
                                               "packet mark's policy id (default off).")
    gpe: bool | None = Field(
        None, description="Generic Protocol Extension (VXLAN-GPE, L3 inner packets); the "
                          "kernel takes it only with collect_metadata (default off).")
    fdb: list[FdbEntry] = Field(
        default_factory=empty_list,
        description="Static FDB entries, e.g. {mac: 00:00:00:00:00:00, dst: 198.51.100.2} "
                    "per remote VTEP (bridge fdb append ...).")

    options_map = {
        "id": int_option("IFLA_VXLAN_ID", replace=True),
        "local": _addr_option("IFLA_VXLAN_LOCAL"),
        "remote": _addr_option("IFLA_VXLAN_GROUP"),
        "group": _addr_option("IFLA_VXLAN_GROUP"),
        "dstport": int_option("IFLA_VXLAN_PORT", replace=True),
        "srcport": Option("IFLA_VXLAN_PORT_RANGE",
                          encode=lambda v: {"low": int(v[0]), "high": int(v[1])},
                          decode=lambda v: [int(v["low"]), int(v["high"])], replace=True),
        "ttl": Option("IFLA_VXLAN_TTL", encode=lambda v: v if isinstance(v, int) else 0),
        # set by info_data at creation (a flag attribute), compared with the file's ttl
        TTL_INHERIT_KEY: Option(_TTL_INHERIT, replace=True),
        "tos": int_option("IFLA_VXLAN_TOS"),
        "learning": bool_option("IFLA_VXLAN_LEARNING"),
        "proxy": bool_option("IFLA_VXLAN_PROXY", replace=True),
        "l2miss": bool_option("IFLA_VXLAN_L2MISS", replace=True),
        "l3miss": bool_option("IFLA_VXLAN_L3MISS", replace=True),
        "udpcsum": bool_option("IFLA_VXLAN_UDP_CSUM", replace=True),
        "collect_metadata": bool_option("IFLA_VXLAN_COLLECT_METADATA", replace=True),
        "ageing": int_option("IFLA_VXLAN_AGEING"),
        "df": enum_option("IFLA_VXLAN_DF", DF),
        # the kernel reads the label in network byte order (nla_get_be32), pyroute2 packs
        # IFLA_VXLAN_LABEL in the host's
        "flowlabel": Option("IFLA_VXLAN_LABEL", encode=_be32, decode=_be32),
        "maxaddress": int_option("IFLA_VXLAN_LIMIT", replace=True),
        "rsc": bool_option("IFLA_VXLAN_RSC", replace=True),
        "udp6zerocsumtx": bool_option("IFLA_VXLAN_UDP_ZERO_CSUM6_TX", replace=True),
        "udp6zerocsumrx": bool_option("IFLA_VXLAN_UDP_ZERO_CSUM6_RX", replace=True),
        "remcsumtx": bool_option("IFLA_VXLAN_REMCSUM_TX", replace=True),
        "remcsumrx": bool_option("IFLA_VXLAN_REMCSUM_RX", replace=True),
        # netlink flags: present means on, so `false` is sent as no attribute at all
        "gbp": Option("IFLA_VXLAN_GBP", encode=lambda v: True, decode=bool, replace=True),
        "gpe": Option("IFLA_VXLAN_GPE", encode=lambda v: True, decode=bool, replace=True),
    }

    # ---- graph ----------------------------------------------------------------------------
    def parent(self) -> str | None:
        return self.dev

    # ---- capture --------------------------------------------------------------------------
    parent_field = "dev"
    #: the kernel's values for a vxlan made without them (dstport: the driver's own 8472)
    capture_defaults = {"ttl": "auto", "tos": 0, "learning": True, "proxy": False,
                        "l2miss": False, "l3miss": False, "udpcsum": True,
                        "collect_metadata": False, "ageing": 300, "dstport": 8472,
                        "srcport": [0, 0], "df": "unset", "flowlabel": 0, "maxaddress": 0,
                        "rsc": False, "udp6zerocsumtx": False, "udp6zerocsumrx": False,
                        "remcsumtx": False, "remcsumrx": False, "gbp": False, "gpe": False}

    @classmethod
    def capture_fields(cls, live: Any, netns_state: Any) -> dict[str, Any]:
        """The options, and the static FDB entries but the kernel's own for remote/group."""
        out = super().capture_fields(live, netns_state)
        if out.get("collect_metadata") and out.get("learning") is False:
            del out["learning"]  # collect_metadata implies it, as with `ip ... external`
        default_dst = out.get("remote") or out.get("group")
        entries = sorted({(e.mac, e.dst) for e in getattr(netns_state, "fdb", [])
                          if e.ifname == live.name and e.state & NUD_PERMANENT
                          and not (e.mac == ZERO_MAC and e.dst == default_dst)})
        if entries:
            out["fdb"] = [{"mac": mac, "dst": dst} for mac, dst in entries]
        return out

    @classmethod
    def capture_default_mtu(cls, live: Any, netns_state: Any, parent: Any) -> int | None:
        """The underlay's MTU less the encapsulation: 50 bytes over IPv4, 70 over IPv6. None
        without an underlay `dev` (then it is not told by anything the capture reads)."""
        if parent is None:
            return None
        data = cls.decode_info_data(live.info_data)
        peer = data.get("remote") or data.get("group") or data.get("local")
        headroom = 70 if peer is not None and _is_v6(peer) else 50
        return (parent.mtu if parent is not None else 1500) - headroom

    # ---- netlink --------------------------------------------------------------------------
    #: IFLA_VXLAN_TTL_INHERIT by its number (if_link.h): the kernel reports it as a byte
    info_nla_misread = {28: (_TTL_INHERIT, "uint8")}

    def declared_options(self) -> dict[str, Any]:
        """The declared options, and with `ttl` whether it is inherit (TTL_INHERIT_KEY)."""
        out = {k: v for k, v in super().declared_options().items() if k != TTL_INHERIT_KEY}
        if "ttl" in out:
            out[TTL_INHERIT_KEY] = out["ttl"] == "inherit"
        return out

    def info_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for opt, value in self.declared_options().items():
            if opt == TTL_INHERIT_KEY or opt == "ttl" and value == "inherit":
                if value is True:
                    out[_TTL_INHERIT] = True  # a flag attribute: present means on
                continue
            spec = self.options_map[opt]
            nla = spec.nla
            if opt in ("local", "remote", "group") and _is_v6(value):
                nla += "6"
            if opt in _FLAGS and not value:
                continue  # a flag attribute: its presence alone would turn it on
            out[nla] = spec.encode(value)
        if self.collect_metadata and self.learning is None:
            out["IFLA_VXLAN_LEARNING"] = 0  # `ip ... external` implies nolearning: match it
        return out

    @classmethod
    def decode_info_data(cls, attrs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for opt, spec in cls.options_map.items():
            if opt in ("local", "remote", "group", "ttl", TTL_INHERIT_KEY):
                continue
            if spec.nla in attrs:
                out[opt] = spec.decode(attrs[spec.nla])
        inherit = bool(attrs.get(_TTL_INHERIT))
        out[TTL_INHERIT_KEY] = inherit
        if inherit:
            out["ttl"] = "inherit"
        elif "IFLA_VXLAN_TTL" in attrs:
            out["ttl"] = int(attrs["IFLA_VXLAN_TTL"]) or "auto"
        for opt, nla in _FLAGS.items():  # reported only when set
            out[opt] = bool(attrs.get(nla))
        local = attrs.get("IFLA_VXLAN_LOCAL") or attrs.get("IFLA_VXLAN_LOCAL6")
        if local and not ipaddress.ip_address(local).is_unspecified:
            out["local"] = str(ipaddress.ip_address(local))
        peer = attrs.get("IFLA_VXLAN_GROUP") or attrs.get("IFLA_VXLAN_GROUP6")
        if peer and not ipaddress.ip_address(peer).is_unspecified:
            out["group" if _is_multicast(peer) else "remote"] = str(ipaddress.ip_address(peer))
        return out

    # ---- FDB ------------------------------------------------------------------------------
    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        default_dst = None
        if live is not None:
            default = self.decode_info_data(live.info_data)
            default_dst = default.get("remote") or default.get("group")
        return plan_fdb(self, netns_state, live, default_dst)

    # ---- checks ---------------------------------------------------------------------------
    def check(self, topo: Any, report: Any) -> None:
        if self.collect_metadata:
            if self.id is not None:
                report("id", "a collect_metadata (ip: external) vxlan takes the VNI from each "
                       "packet's metadata, so it has no id",
                       "remove id, or remove collect_metadata: true")
            if self.learning:
                report("learning", "learning with collect_metadata: true fills an FDB that "
                       "metadata-mode sending never reads (so `ip ... external` turns learning "
                       "off)", "remove learning: true")
        elif self.id is None:
            report("id", "a vxlan needs its VNI", "add id: 100 (0-16777215)")
        if self.remote is not None and self.group is not None:
            report("group", "remote and group cannot both be set: remote is a single unicast "
                   "peer, group a multicast group", "keep one of them")
        if self.remote is not None and _is_multicast(self.remote):
            report("remote", f"remote {self.remote} is a multicast address",
                   f"write group: {self.remote} (with dev: UNDERLAY) instead")
        if self.group is not None:
            if not _is_multicast(self.group):
                report("group", f"group {self.group} is not a multicast address",
                       f"write remote: {self.group} for a unicast peer, or use a group like "
                       "239.1.1.1 / ff05::100")
            elif self.dev is None:
                report("group", "a multicast group needs the underlay link to join it on",
                       "add dev: UNDERLAY (the interface that carries the UDP packets)")
        peer = self.remote or self.group
        if self.local is not None and peer is not None and _is_v6(self.local) != _is_v6(peer):
            report("local", f"local {self.local} and {'remote' if self.remote else 'group'} "
                   f"{peer} are of different IP versions", "use IPv4 or IPv6 for both")
        if self.local is not None and ipaddress.ip_address(self.local).is_multicast:
            report("local", f"local {self.local} is a multicast address",
                   "use this host's unicast underlay address")
        if self.srcport is not None and self.srcport[0] > self.srcport[1]:
            report("srcport", f"srcport range {self.srcport} has min above max",
                   f"write srcport: [{self.srcport[1]}, {self.srcport[0]}]")
        if self.flowlabel and not (peer is not None and _is_v6(peer) or
                                   self.local is not None and _is_v6(self.local)):
            report("flowlabel", "a flow label is a field of the outer IPv6 header: the kernel "
                   "refuses it on a vxlan over IPv4",
                   "remove flowlabel, or give the vxlan IPv6 local/remote addresses")
        if self.gpe and not self.collect_metadata:
            report("gpe", "the kernel takes VXLAN-GPE only on a collect_metadata (ip: external) "
                   "vxlan", "add collect_metadata: true (and remove id), or remove gpe")
        if self.fdb and self.collect_metadata:
            report("fdb", "static FDB entries need a VNI; a collect_metadata vxlan has none",
                   "remove fdb or collect_metadata: true")
        check_fdb(self.fdb, self.remote, self.local, report)
        self._check_socket_sharing(topo, report)
        self._check_mtu(topo, report)

    def _receive_key(self) -> tuple[Any, ...]:
        """What the kernel compares between the vxlans of one namespace (vxlan_vni_in_use):
        the VNI (none with collect_metadata), the UDP port (0 and none are its default
        8472), the address family of the tunnel, collect_metadata (a receive flag), and,
        with an IPv6 link-local local address, the underlay device. The local address
        itself is not compared: two vxlans differing only in it clash."""
        peer = self.local or self.remote or self.group
        v6 = peer is not None and _is_v6(peer)
        link_local = v6 and self.local is not None and \
            ipaddress.ip_address(self.local).is_link_local
        return (None if self.collect_metadata else self.id, self.dstport or VXLAN_PORT, v6,
                bool(self.collect_metadata), self.dev if link_local else None)

    def _check_socket_sharing(self, topo: Any, report: Any) -> None:
        """Two vxlans of one namespace that the kernel tells apart by nothing it compares
        (EEXIST: "A VXLAN device with the specified VNI already exists"). Reported on each
        later entry of the file, naming the first."""
        if self.id is None and not self.collect_metadata:
            return  # reported above: no VNI
        first = topology_index(topo, "first_vxlans", _first_vxlans)
        mine = (self.netns, *self._receive_key())
        other = first.get(mine, self)
        if other is self:
            return
        where = f"{other.name!r}{' in ' + self.netns if self.netns else ''}"
        port = mine[2]
        if self.collect_metadata:
            report("dstport", f"vxlan {where} is already a collect_metadata vxlan on UDP port "
                   f"{port}: the kernel refuses a second one in the same namespace",
                   "give one of them another dstport, or put it in another namespace")
        else:
            report("id", f"vxlan {where} already receives VNI {self.id} on UDP port {port}: "
                   "the kernel refuses a second vxlan with the same VNI and port in one "
                   "namespace, even with another local or remote address",
                   "use another id or dstport, or put it in another namespace")

    def headroom(self) -> int:
        """Bytes the encapsulation adds: 70 over IPv6, else 50."""
        ends = [a for a in (self.local, self.remote, self.group) if a is not None]
        return _HEADROOM[6 if any(_is_v6(a) for a in ends) else 4]

    def _check_mtu(self, topo: Any, report: Any) -> None:
        """An MTU above what the underlay carries is clamped by the kernel without a word:
        refuse it here when the file says the underlay's MTU."""
        if self.mtu is None or self.dev is None:
            return
        under = ends_by_key(topo).get((self.netns, self.dev)) or next(
            (ext for ext in topo.externals if ext.key == (self.netns, self.dev)), None)
        if under is None or under.mtu is None or self.mtu > under.mtu:
            # not told by the file (apply's read-back catches a clamp), or said already by
            # validation's rule that no link's MTU exceeds its parent's
            return
        limit = under.mtu - self.headroom()
        if self.mtu > limit:
            report("mtu", f"mtu {self.mtu} is more than the underlay {self.dev} (mtu "
                   f"{under.mtu}) carries after {self.headroom()} bytes of encapsulation; "
                   f"the kernel would keep {limit}",
                   f"set mtu: {limit} or less, or raise {self.dev}'s mtu to "
                   f"{self.mtu + self.headroom()}")

    # ---- rendering ------------------------------------------------------------------------
    def draw_edges(self) -> list[DrawEdge]:
        edges = []
        if self.remote is not None:
            edges.append(DrawEdge("remote", "tunnel to its remote endpoint",
                                  address=self.remote))
        if self.group is not None:
            edges.append(DrawEdge("group", "tunnel to its multicast group", address=self.group))
        for dst in dict.fromkeys(entry.dst for entry in self.fdb):
            if dst != self.remote:
                edges.append(DrawEdge("fdb", "static FDB entry: a remote endpoint",
                                      address=dst))
        return edges

    def ip_type_args(self) -> list[str]:
        d = self.declared_options()
        args: list[str] = []
        if "id" in d:
            args += ["id", str(d["id"])]
        for opt in ("local", "remote", "group"):
            if opt in d:
                args += [opt, str(d[opt])]
        if self.dev is not None:
            args += ["dev", self.dev]
        if "dstport" in d:
            args += ["dstport", str(d["dstport"])]
        if "srcport" in d:
            args += ["srcport", str(d["srcport"][0]), str(d["srcport"][1])]
        for opt in ("ttl", "tos", "ageing", "df", "flowlabel", "maxaddress"):
            if opt in d:
                args += [opt, str(d[opt])]
        for opt, word in (("learning", "learning"), ("proxy", "proxy"), ("l2miss", "l2miss"),
                          ("l3miss", "l3miss"), ("udpcsum", "udpcsum"), ("rsc", "rsc"),
                          ("udp6zerocsumtx", "udp6zerocsumtx"),
                          ("udp6zerocsumrx", "udp6zerocsumrx"), ("remcsumtx", "remcsumtx"),
                          ("remcsumrx", "remcsumrx"), ("collect_metadata", "external")):
            if opt in d:
                args.append(word if d[opt] else "no" + word)
        args += [flag for flag in _FLAGS if d.get(flag)]  # ip has no `nogbp`: off is default
        return args

    def ip_commands(self) -> list[list[str]]:
        # `ip -n NS`: dev is resolved in the vxlan's own namespace, as vnet resolves it
        ns = ["-n", self.netns] if self.netns else []
        cmds = [["ip", *ns, "link", "add", self.name, "type", "vxlan", *self.ip_type_args()]]
        for entry in self.fdb:
            cmds.append(["bridge", *ns, "fdb", "append", entry.mac, "dev", self.name,
                         "dst", entry.dst])
        return cmds


def _first_vxlans(topo: Any) -> dict[tuple[Any, ...], Vxlan]:
    """(netns, receive key) -> the first vxlan of the file with it."""
    first: dict[tuple[Any, ...], Vxlan] = {}
    for iface in topo.interfaces:
        if isinstance(iface, Vxlan) and (iface.id is not None or iface.collect_metadata):
            first.setdefault((iface.netns, *iface._receive_key()), iface)
    return first
