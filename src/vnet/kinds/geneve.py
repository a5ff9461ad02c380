"""geneve — Ethernet over UDP (RFC 8926) to one remote tunnel endpoint: a 24-bit VNI, port 6081.

`ip link add gnv0 type geneve id 100 remote 198.51.100.2 [ttl N] [tos N] [df DF]
[flowlabel N] [dstport P] [[no]udpcsum] [[no]udp6zerocsumtx] [[no]udp6zerocsumrx] [external]
[innerprotoinherit]`.

Unlike vxlan there is no underlay device, no local address, no multicast group and no FDB:
a geneve link is point-to-point, and the kernel routes its UDP packets to `remote` like any
other. With `collect_metadata` (ip's `external`) the device instead takes the VNI, remote, TTL,
TOS and checksum flag from each packet's metadata (OVS, eBPF, tc tunnel_key), and the kernel
refuses those options on it (EINVAL).

What the kernel changes in place (geneve_changelink): ttl (inherit too), tos, df and
flowlabel, and remote within one address family. It refuses (EOPNOTSUPP) a different id, any
dstport, udpcsum, udp6zerocsumtx/rx, innerprotoinherit or collect_metadata attribute, a remote
of the other family, and every change at all to a collect_metadata device. vnet re-creates the
link for id, remote (one option here is an IPv4 or an IPv6 attribute, as vxlan's), dstport,
udpcsum, udp6zerocsumtx/rx, innerprotoinherit and collect_metadata; a collect_metadata device
has no ttl or tos to change.

The kernel reports udpcsum as IFLA_GENEVE_UDP_CSUM over IPv4 and as its opposite,
IFLA_GENEVE_UDP_ZERO_CSUM6_TX, over IPv6, where checksums are always on unless
`udp6zerocsumtx` turns them off: `noudpcsum` has no effect there.

`ttl` is written as ip writes it: 1-255, `auto` (the kernel's 0: the route's hop limit) or
`inherit` (the inner packet's TTL). Inherit is another attribute (IFLA_GENEVE_TTL_INHERIT, a
byte): set to 1 it wins over IFLA_GENEVE_TTL, and the kernel reads IFLA_GENEVE_TTL only when
it is absent, clearing inherit. So a change of ttl sends one of the two, which the planner's
one-attribute-per-option `options_map` cannot say: `plan_extras` compares and changes it.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from ..actions import Action, Request
from ..declare import Field
from . import register
from .base import (
    IP,
    DrawEdge,
    InterfaceBase,
    Option,
    TunnelTtl,
    bool_option,
    enum_option,
    int_option,
    topology_index,
)

#: the kernel's (and IANA's) port when dstport is not given
GENEVE_PORT = 6081
_METADATA_NLA = "IFLA_GENEVE_COLLECT_METADATA"
_INNER_NLA = "IFLA_GENEVE_INNER_PROTO_INHERIT"
#: the DF bit of the outer IPv4 header (enum ifla_geneve_df)
DF = {"unset": 0, "set": 1, "inherit": 2}
_TTL_NLA = "IFLA_GENEVE_TTL"
_TTL_INHERIT_NLA = "IFLA_GENEVE_TTL_INHERIT"


def _ttl_attrs(value: Any) -> dict[str, Any]:
    """The one attribute that sets ttl `value` (the kernel reads TTL only without INHERIT)."""
    if value == "inherit":
        return {_TTL_INHERIT_NLA: 1}
    return {_TTL_NLA: 0 if value == "auto" else int(value)}


def _is_v6(value: str) -> bool:
    return ipaddress.ip_address(value).version == 6


@register
class Geneve(InterfaceBase):
    kind: Literal["geneve"]
    listed = 55
    probe = {"id": 42, "remote": "192.0.2.1"}
    ip_words = {"external": "collect_metadata"}
    use_when = ("Stretch one L2 segment to a single remote host over any IP network, in UDP\n"
                "(port 6081) with a 24-bit VNI; the extensible successor of VXLAN (OVN, OVS).")

    id: int | None = Field(None, ge=0, le=16_777_215,
                           description="VNI, 0-16777215 (required unless collect_metadata).")
    remote: IP | None = Field(
        None, description="Unicast address (IPv4 or IPv6) of the remote tunnel endpoint "
                          "(required unless collect_metadata).")
    ttl: TunnelTtl | None = Field(
        None, description="Outer TTL: 1-255, auto (kernel default: the route's hop limit; 0 "
                          "says it too) or inherit (the inner packet's TTL).")
    tos: int | None = Field(None, ge=0, le=255, description="Outer TOS; 1 = inherit.")
    dstport: int | None = Field(
        None, ge=0, le=65535,
        description=f"UDP destination port; omitted, the kernel uses {GENEVE_PORT} (IANA's).")
    udpcsum: bool | None = Field(
        None, description="UDP checksums over an IPv4 underlay (ip: [no]udpcsum; kernel "
                          "default off). Over IPv6 they are always on.")
    # `ip` spells it `external`, but in a vnet file `external: true` marks an interface vnet
    # does not create, so this option keeps the kernel's name (as vxlan's does)
    collect_metadata: bool | None = Field(
        None, description="ip's `external`: collect metadata (for OVS, eBPF, tc tunnel_key); "
                          "the VNI and remote come per packet, so no id and no remote.")
    df: Literal["unset", "set", "inherit"] | None = Field(
        None, description="The outer IPv4 header's Don't Fragment bit: unset (kernel "
                          "default), set, or inherit it from the inner packet.")
    flowlabel: int | None = Field(
        None, ge=0, le=1_048_575, description="Outer IPv6 flow label, 0-1048575 (an IPv6 "
                                              "remote only; default 0).")
    udp6zerocsumtx: bool | None = Field(
        None, description="Send UDP over IPv6 without checksum (an IPv6 remote; default off).")
    udp6zerocsumrx: bool | None = Field(
        None, description="Accept UDP over IPv6 without checksum (the kernel's default: on).")
    innerprotoinherit: bool | None = Field(
        None, description="Carry the inner packet's protocol (no inner Ethernet header: an "
                          "L3 tunnel; default off).")

    options_map = {
        "id": int_option("IFLA_GENEVE_ID", replace=True),
        "remote": Option("IFLA_GENEVE_REMOTE", encode=str,
                         decode=lambda v: str(ipaddress.ip_address(v)), replace=True),
        # ttl is not here: plan_extras compares and sets it (inherit is another attribute)
        "tos": int_option("IFLA_GENEVE_TOS"),
        "dstport": int_option("IFLA_GENEVE_PORT", replace=True),
        "udpcsum": bool_option("IFLA_GENEVE_UDP_CSUM", replace=True),
        # a netlink flag: present means on, so `false` is sent as no attribute at all
        "collect_metadata": Option(_METADATA_NLA, encode=lambda v: True,
                                   decode=lambda v: bool(v), replace=True),
        "df": enum_option("IFLA_GENEVE_DF", DF),
        "flowlabel": int_option("IFLA_GENEVE_LABEL"),
        "udp6zerocsumtx": bool_option("IFLA_GENEVE_UDP_ZERO_CSUM6_TX", replace=True),
        "udp6zerocsumrx": bool_option("IFLA_GENEVE_UDP_ZERO_CSUM6_RX", replace=True),
        "innerprotoinherit": Option(_INNER_NLA, encode=lambda v: True,
                                    decode=lambda v: bool(v), replace=True),
    }

    # ---- netlink --------------------------------------------------------------------------
    def info_data(self) -> dict[str, Any]:
        out: dict[str, Any] = _ttl_attrs(self.ttl) if self.ttl is not None else {}
        for opt, value in self.declared_options().items():
            spec = self.options_map[opt]
            if opt in ("collect_metadata", "innerprotoinherit") and not value:
                continue  # a flag attribute: its presence alone would turn it on
            nla = spec.nla + ("6" if opt == "remote" and _is_v6(value) else "")
            out[nla] = spec.encode(value)
        return out

    @classmethod
    def decode_info_data(cls, attrs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for opt in ("id", "tos", "dstport", "df", "flowlabel", "udp6zerocsumrx"):
            spec = cls.options_map[opt]
            if spec.nla in attrs:
                out[opt] = spec.decode(attrs[spec.nla])
        if attrs.get(_TTL_INHERIT_NLA):
            out["ttl"] = "inherit"
        elif _TTL_NLA in attrs:
            out["ttl"] = int(attrs[_TTL_NLA]) or "auto"
        # flags: the kernel reports them only when set
        metadata = bool(attrs.get(_METADATA_NLA))
        out["collect_metadata"] = metadata
        out["innerprotoinherit"] = bool(attrs.get(_INNER_NLA))
        if "IFLA_GENEVE_UDP_ZERO_CSUM6_TX" in attrs:  # reported for an IPv6 remote only
            out["udp6zerocsumtx"] = bool(attrs["IFLA_GENEVE_UDP_ZERO_CSUM6_TX"])
        remote = attrs.get("IFLA_GENEVE_REMOTE") or attrs.get("IFLA_GENEVE_REMOTE6")
        if remote and not ipaddress.ip_address(remote).is_unspecified:
            out["remote"] = str(ipaddress.ip_address(remote))
        if "IFLA_GENEVE_UDP_CSUM" in attrs:  # an IPv4 remote
            out["udpcsum"] = bool(attrs["IFLA_GENEVE_UDP_CSUM"])
        elif "IFLA_GENEVE_UDP_ZERO_CSUM6_TX" in attrs:  # an IPv6 remote: the opposite flag
            out["udpcsum"] = not attrs["IFLA_GENEVE_UDP_ZERO_CSUM6_TX"]
        elif metadata:  # neither reported; the kernel refuses checksums on such a device
            out["udpcsum"] = False
        return out

    # ---- ttl, changed in place ---------------------------------------------------------------
    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        """A declared ttl the live geneve does not have, set in place with the one attribute
        that says it (`live` is None: the link is made with it)."""
        if live is None or self.ttl is None:
            return []
        current = self.decode_info_data(live.info_data).get("ttl")
        if current == self.ttl:
            return []
        ns, name = self.key
        undo = [] if current is None else [Request(
            "link.set", ns, {"ifname": name, "kind": "geneve", "info_data": _ttl_attrs(current)})]
        return [Action(
            "change", f"link {ns + '/' if ns else ''}{name} (geneve) ttl", "differs from the file",
            [Request("link.set", ns, {"ifname": name, "kind": "geneve",
                                      "info_data": _ttl_attrs(self.ttl)})],
            undo, diff={"ttl": (current, self.ttl)})]

    # ---- capture --------------------------------------------------------------------------
    capture_defaults = {"ttl": "auto", "tos": 0, "dstport": GENEVE_PORT, "udpcsum": False,
                        "collect_metadata": False, "df": "unset", "flowlabel": 0,
                        "udp6zerocsumtx": False, "udp6zerocsumrx": True,
                        "innerprotoinherit": False}

    @classmethod
    def capture_default_mtu(cls, live: Any, netns_state: Any, parent: Any) -> int | None:
        """None: the kernel gives a new geneve the MTU of the device its route to the remote
        leaves by, at that moment, less the encapsulation (1500 when there is no route yet),
        so the MTU is always written."""
        return None

    # ---- checks ---------------------------------------------------------------------------
    def check(self, topo: Any, report: Any) -> None:
        v6 = self.remote is not None and _is_v6(self.remote)
        for opt, what in (("flowlabel", "a flow label is a field of the outer IPv6 header"),
                          ("udp6zerocsumtx", "it turns checksums off over an IPv6 underlay")):
            if getattr(self, opt) and not v6:
                report(opt, f"{what}: the kernel takes {opt} on a geneve with an IPv6 remote "
                       "only", f"remove {opt}, or give the geneve an IPv6 remote")
        if self.udp6zerocsumtx and self.udpcsum:
            report("udpcsum", "udpcsum: true and udp6zerocsumtx: true say the opposite of an "
                   "IPv6 geneve's checksums", "keep one of them")
        if self.collect_metadata:
            if self.id is not None:
                report("id", "a collect_metadata (ip: external) geneve takes the VNI from each "
                       "packet's metadata, so it has no id",
                       "remove id, or remove collect_metadata: true")
            if self.remote is not None:
                report("remote", "a collect_metadata (ip: external) geneve takes the remote "
                       "from each packet's metadata, so it has no remote",
                       "remove remote, or remove collect_metadata: true")
            for opt in ("ttl", "tos", "udpcsum"):
                if getattr(self, opt) not in (None, False, 0, "auto"):
                    report(opt, f"the kernel refuses {opt} on a collect_metadata (ip: "
                           f"external) geneve: each packet's metadata carries it",
                           f"remove {opt}, or remove collect_metadata: true")
            self._check_port_sharing(topo, report)
            return
        if self.id is None:
            report("id", "a geneve needs its VNI (or collect_metadata: true, ip's external, "
                   "to take it from each packet)", "add id: 100 (0-16777215)")
        if self.remote is None:
            report("remote", "a geneve without collect_metadata is point-to-point: the kernel "
                   "needs the address of the remote tunnel endpoint",
                   "add remote: ADDRESS (the other host's underlay address), or "
                   "collect_metadata: true")
            return
        addr = ipaddress.ip_address(self.remote)
        if addr.is_multicast:
            report("remote", f"remote {self.remote} is a multicast address; the kernel refuses "
                   "it (geneve has no multicast groups)",
                   "use the unicast underlay address of the remote host (for one segment "
                   "across many hosts, use vxlan with group and dev)")
        elif addr.is_unspecified:
            report("remote", f"remote {self.remote} is the unspecified address",
                   "use the unicast underlay address of the remote host")
        elif addr.version == 6 and addr.is_link_local:
            report("remote", f"remote {self.remote} is an IPv6 link-local address; the kernel "
                   "refuses it (a geneve has no underlay device to scope it)",
                   "use a global or unique-local IPv6 address of the remote host")
        if addr.version == 6 and self.udpcsum is False:
            report("udpcsum", "over an IPv6 underlay the kernel always sends UDP checksums "
                   "(noudpcsum has no effect there)",
                   "remove udpcsum: false, or use an IPv4 remote")
        self._check_port_sharing(topo, report)

    def _port(self) -> int:
        return self.dstport if self.dstport is not None else GENEVE_PORT

    def _check_port_sharing(self, topo: Any, report: Any) -> None:
        """What the kernel refuses between the geneves of one namespace (geneve_configure):
        two with the same VNI, remote and port (EBUSY), and a collect_metadata one sharing
        its port with any other (EPERM). Reported on the later entry of the file, naming the
        first earlier one it clashes with."""
        index = topology_index(topo, "geneves", _Geneves)
        port = self._port()
        if self.collect_metadata:
            other = index.first_before(("any", self.netns, port), self)
        else:
            other = index.first_before(("metadata", self.netns, port), self)
        where = f"{other.name!r}{' in ' + self.netns if self.netns else ''}" if other else ""
        if other is not None:
            report("dstport", f"geneve {where} already uses UDP port {port}, and a "
                   "collect_metadata geneve must have its port to itself",
                   f"give one of them another dstport (e.g. dstport: {port + 1})")
        if self.collect_metadata:
            return
        other = index.first_before(("same", self.netns, port, self.id, self.remote), self)
        if other is not None:
            where = f"{other.name!r}{' in ' + self.netns if self.netns else ''}"
            report("id", f"geneve {where} already tunnels VNI {self.id} to {self.remote} on "
                   f"UDP port {port}; the kernel refuses a second one",
                   "use another id, remote or dstport")

    # ---- rendering ------------------------------------------------------------------------
    def draw_edges(self) -> list[DrawEdge]:
        if self.remote is None:
            return []
        return [DrawEdge("remote", "tunnel to its remote endpoint", address=self.remote)]

    def ip_type_args(self) -> list[str]:
        d = self.declared_options()
        args: list[str] = []
        if self.ttl is not None:
            d["ttl"] = self.ttl  # not among the declared options: plan_extras compares it
        for opt in ("id", "remote", "ttl", "tos", "dstport"):
            if opt in d:
                args += [opt, str(d[opt])]
        for opt in ("df", "flowlabel"):
            if opt in d:
                args += [opt, str(d[opt])]
        for opt in ("udpcsum", "udp6zerocsumtx", "udp6zerocsumrx"):
            if opt in d:
                args.append(opt if d[opt] else "no" + opt)
        if d.get("collect_metadata"):
            args.append("external")  # ip has no `noexternal`: false is the default
        if d.get("innerprotoinherit"):
            args.append("innerprotoinherit")  # a flag: no `no` form
        return args

    def ip_commands(self) -> list[list[str]]:
        ns = ["-n", self.netns] if self.netns else []
        return [["ip", *ns, "link", "add", self.name, "type", "geneve", *self.ip_type_args()]]


class _Geneves:
    """The geneves of a topology, indexed for `_check_port_sharing`: the first of each port,
    the first collect_metadata one of each port, the first of each (VNI, remote, port)."""

    def __init__(self, topo: Any) -> None:
        self.order: dict[int, int] = {}
        self.first: dict[tuple[Any, ...], Geneve] = {}
        for i, iface in enumerate(topo.interfaces):
            if not isinstance(iface, Geneve):
                continue
            self.order[id(iface)] = i
            port = iface._port()
            keys: list[tuple[Any, ...]] = [("any", iface.netns, port)]
            if iface.collect_metadata:
                keys.append(("metadata", iface.netns, port))
            else:
                keys.append(("same", iface.netns, port, iface.id, iface.remote))
            for key in keys:
                self.first.setdefault(key, iface)

    def first_before(self, key: tuple[Any, ...], me: Geneve) -> Geneve | None:
        """The first geneve of `key`, if it comes before `me` in the file."""
        other = self.first.get(key)
        if other is None or self.order[id(other)] >= self.order[id(me)]:
            return None
        return other
