"""A file that spans hosts: its rules, its tunnels, and its split into one topology per host.

Pure: data in, data out. `check_hosts` is called by validation (every file); `split_topology`
turns a validated file into one ordinary topology per host, each planned and applied on its
host as any single-host file is.

A veth whose two ends are on different hosts becomes a point-to-point tunnel between the
hosts' underlay addresses (VXLAN by default, `via: geneve`). Its tunnel device lives in the
host's own namespace, where the underlay is (a VXLAN or GENEVE device keeps its UDP socket in
the namespace it is created in): an end in the host's namespace *is* the tunnel device, named
as the end; an end in a namespace stays a veth there, whose other end joins the tunnel device
on a small bridge in the host's namespace. The helper links are named after the VNI, so the
same file gives the same names.

`via: wireguard` makes each end a WireGuard link named as the end (IP only: no MAC, no
bridge port), whose one peer is the other host's underlay address, all addresses allowed. An
end in a namespace is made in the host's own namespace and moved there (`socket_netns`): its
UDP socket stays where the underlay is. Both ends listen on one UDP port derived from the
link's names. Keys: each end's private key is derived (HMAC-SHA256) from a per-topology
secret the caller gives (`vnet.hosts.runner` keeps it in a file beside the inventory), so
the same file and secret give the same keys: a second apply plans nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from typing import Any, TypeVar

from ..datatypes import datatype, field
from ..errors import Collector, Issue, TopologyError
from ..kinds import lookup
from ..kinds.base import Common, InterfaceBase
from ..kinds.veth import Paired
from ..topology import Topology
from .rules import crosses, host_of, hosts_by_name, netns_host, overhead, span_limit, spans
from .spec import Host, underlay_address

#: UDP port of the tunnels vnet plans (IANA's for each; WireGuard's usual first port, each
#: link taking its own from there: WIREGUARD_PORTS)
PORTS = {"vxlan": 4789, "geneve": 6081, "wireguard": 51820}
#: how many ports from PORTS["wireguard"] the WireGuard links between hosts take theirs from
WIREGUARD_PORTS = 10_000
#: the MTU an end gets when the file does not say one
DEFAULT_MTU = 1500
_VNI_SPACE = 2**24 - 1  # 1..16777215: 0 is left out (some switches treat it as "none")
_COMMON_FIELDS = tuple(Common.model_fields)
_T = TypeVar("_T")


@datatype(frozen=True)
class TunnelEnd:
    """One side of a tunnel: the veth end it stands for, on its host."""

    host: str
    netns: str | None
    name: str
    underlay: str  # this host's underlay address


@datatype(frozen=True)
class Tunnel:
    """A veth across hosts, as vnet plans it."""

    via: str  # vxlan | geneve
    vni: int
    ends: tuple[TunnelEnd, TunnelEnd]
    mtu: int | None  # the MTU both ends get (None: the kernel's default, 1500)
    lowered: bool  # whether vnet lowered the MTU (the file said none)
    overhead: int
    underlay_mtu: int
    path: str  # the veth's entry in the file
    port: int = 0  # the UDP port (0: PORTS[via])

    def describe(self) -> str:
        """One line for the plan: which ends, which tunnel, which MTU and why (never a key)."""
        a, b = self.ends
        where = " <-> ".join(f"{e.host}:{e.netns + '/' if e.netns else ''}{e.name}"
                             for e in (a, b))
        if self.via == "wireguard":
            text = (f"{where}: WireGuard, UDP {self.port}, {a.underlay} <-> {b.underlay}, "
                    "keys derived from the topology's secret")
        else:
            text = (f"{where}: {self.via.upper()} VNI {self.vni}, UDP {PORTS[self.via]}, "
                    f"{a.underlay} <-> {b.underlay}")
        if self.lowered:
            what = "encryption" if self.via == "wireguard" else "encapsulation"
            text += (f"; MTU of both ends lowered to {self.mtu} (underlay MTU "
                     f"{self.underlay_mtu} - {self.overhead} bytes of {what})")
        elif self.mtu is not None:
            text += f"; MTU {self.mtu}"
        return text


@datatype(frozen=True)
class Span:
    """A bridge across hosts: a VXLAN port on each, flooding to the others (head-end
    replication by FDB entries)."""

    bridge: str
    vni: int
    underlays: dict[str, str]  # host -> its underlay address
    mtu: int | None  # the MTU its ports get (None: left as they are)
    limit: int

    @property
    def port(self) -> str:
        """The VXLAN port's name on every host."""
        return f"vns{self.vni:06x}"

    def describe(self) -> str:
        """One line for the plan."""
        text = (f"bridge {self.bridge} spans {', '.join(self.underlays)}: VXLAN VNI {self.vni}, "
                f"UDP {PORTS['vxlan']}, port {self.port} on each, flooding to the others")
        if self.mtu is not None:
            text += (f"; MTU of its ports lowered to {self.mtu} (what the VXLAN port "
                     "carries)")
        return text


@datatype
class Split:
    """A file that spans hosts, split: one single-host topology per host, and the tunnels."""

    hosts: dict[str, Topology]
    tunnels: list[Tunnel] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What vnet planned between the hosts, one line per tunnel or spanning bridge."""
        return [t.describe() for t in self.tunnels] + [s.describe() for s in self.spans]


# ---- VNIs ---------------------------------------------------------------------------------

def _link_key(topo: Topology, iface: Paired) -> str:
    assert iface.peer is not None
    ends = sorted(f"{host_of(topo, e)}/{e.netns or ''}/{e.name}" for e in (iface, iface.peer))
    return f"{topo.name}|{ends[0]}|{ends[1]}"


def allocate_vnis(keys: list[str], taken: set[int] = frozenset()) -> dict[str, int]:  # type: ignore[assignment]
    """A VNI per link key: derived from the key (so the same file gives the same VNIs, and a
    link keeps its VNI when others come and go), a collision resolved by taking the next free
    number, the keys in sorted order (so the resolution is the same on every run)."""
    used = set(taken)
    out: dict[str, int] = {}
    for key in sorted(set(keys)):
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
        vni = 1 + digest % _VNI_SPACE
        while vni in used:
            vni = 1 + vni % _VNI_SPACE
        used.add(vni)
        out[key] = vni
    return out


def allocate_ports(keys: list[str]) -> dict[str, int]:
    """A UDP port per WireGuard link key, from WIREGUARD_PORTS ports after PORTS["wireguard"]:
    derived from the key (stable as VNIs are), a collision taking the next free one, the keys
    in sorted order. Unique in the file, so the ends on one host never share a port."""
    base, used, out = PORTS["wireguard"], set(), {}
    for key in sorted(set(keys)):
        digest = int.from_bytes(hashlib.sha256(f"port|{key}".encode()).digest()[:8], "big")
        port = digest % WIREGUARD_PORTS
        while port in used:
            port = (port + 1) % WIREGUARD_PORTS
        used.add(port)
        out[key] = base + port
    return out


# ---- WireGuard keys -------------------------------------------------------------------------

def derive_private_key(secret: bytes, label: str) -> bytes:
    """An X25519 private key (clamped, as the kernel keeps it) derived from the topology's
    secret and a label naming the link end: the same secret and label give the same key."""
    from ..kinds.wireguard import clamp
    return clamp(hmac.new(secret, f"vnet wireguard|{label}".encode(), hashlib.sha256).digest())


def public_key(private: bytes) -> str:
    """The base64 public key of a private key (X25519, by the `cryptography` package)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    raw = X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@datatype(frozen=True)
class _EndKeys:
    private: str = field(repr=False)  # base64; only ever put into the end's SecretStr field
    peer_public: str


def _wireguard_keys(secret: bytes, link: str, ends: tuple[TunnelEnd, TunnelEnd]
                    ) -> dict[TunnelEnd, _EndKeys]:
    privates = [derive_private_key(secret, f"{link}|{e.host}|{e.netns or ''}/{e.name}")
                for e in ends]
    publics = [public_key(p) for p in privates]
    return {ends[0]: _EndKeys(base64.b64encode(privates[0]).decode(), publics[1]),
            ends[1]: _EndKeys(base64.b64encode(privates[1]).decode(), publics[0])}


# ---- the split ----------------------------------------------------------------------------

def split_topology(topo: Topology, underlays: Mapping[str, str] | None = None,
                   wireguard_secret: bytes | None = None) -> Split:
    """One single-host topology per host of `topo` (validated; `check_hosts` passed), with
    the veths across hosts turned into tunnels. `underlays`: the address of each host whose
    `underlay:` names an interface, as read on that host. `wireguard_secret`: the topology's
    secret the keys of its WireGuard links are derived from (needed when it has one). A file
    without `hosts:` gives one topology under the name "localhost", `topo` itself."""
    if not topo.hosts:
        return Split({"localhost": topo})
    hosts = hosts_by_name(topo)
    resolved = dict(underlays or {})
    issues = Collector()
    for i, host in enumerate(topo.hosts):
        address = underlay_address(host.underlay) or resolved.get(host.name)
        if address is None:
            issues.add(f"the underlay of host {host.name!r} is the interface {host.underlay!r}, "
                       "whose address is known only on that host", f"hosts[{i}].underlay",
                       topo.where(f"hosts[{i}].underlay"),
                       "write the host's underlay address instead, or run across hosts with "
                       "--inventory, which reads it there")
        else:
            resolved[host.name] = str(ipaddress.ip_address(address))
    issues.raise_if_any()

    crossing = [i for i in topo.interfaces if isinstance(i, Paired) and crosses(topo, i)]
    encrypted = [i for i in crossing if getattr(i, "via", None) == "wireguard"]
    if encrypted and wireguard_secret is None:
        first = encrypted[0]
        raise TopologyError([Issue(
            f"veth {first.name!r} crosses hosts over WireGuard, whose keys vnet derives from "
            "the topology's secret, and none was given", f"{first.path}.via",
            topo.where(f"{first.path}.via"),
            "run it across its hosts with --inventory INVENTORY (vnet keeps the secret in a "
            "file beside the inventory)")])
    ports = allocate_ports([_link_key(topo, i) for i in encrypted])
    taken = {int(i.id) for i in topo.interfaces
             if i.kind_name in PORTS and getattr(i, "id", None) is not None}
    spanning = [i for i in topo.interfaces if spans(i)]
    vnis = allocate_vnis([_link_key(topo, i) for i in crossing] +
                         [f"{topo.name}|bridge|{b.name}" for b in spanning], taken)
    span_of: dict[str, Span] = {}
    for bridge in spanning:
        members = [hosts[h] for h in spans(bridge)]
        limit = span_limit(members)
        span_of[bridge.name] = Span(
            bridge.name, vnis[f"{topo.name}|bridge|{bridge.name}"],
            {h.name: resolved[h.name] for h in members},
            limit if DEFAULT_MTU > limit else None, limit)

    per_host: dict[str, Topology] = {
        h.name: Topology(name=topo.name, source=topo.source, positions=topo.positions)
        for h in topo.hosts}
    for ns in topo.namespaces:
        on = netns_host(topo, ns)
        assert on is not None
        per_host[on].namespaces.append(ns)
    tunnels: list[Tunnel] = []
    for iface in topo.interfaces:
        if iface.name in span_of and spans(iface):
            span = span_of[iface.name]
            # each host's copy is an ordinary bridge there
            here = iface.model_copy(update={"span": None})
            for on in span.underlays:
                per_host[on].interfaces += [here, _span_port(iface, span, on)]
            continue
        if iface in crossing:
            assert isinstance(iface, Paired)
            link = _link_key(topo, iface)
            tunnel = _plan_tunnel(topo, iface, hosts, resolved, vnis[link], ports.get(link, 0))
            tunnels.append(tunnel)
            keys = _wireguard_keys(wireguard_secret or b"", link, tunnel.ends) \
                if tunnel.via == "wireguard" else {}
            for end, side in zip((iface, iface.peer), tunnel.ends, strict=True):
                assert end is not None
                per_host[side.host].interfaces.extend(
                    _tunnel_links(iface, end, side, tunnel, keys.get(side)))
            continue
        on = host_of(topo, iface)
        assert on is not None
        per_host[on].interfaces.append(_local(iface, span_of))
    for ext in topo.externals:
        on = host_of(topo, ext)
        assert on is not None
        per_host[on].externals.append(_unhosted(ext))
    for route in topo.routes:
        on = host_of(topo, route)
        assert on is not None
        per_host[on].routes.append(_unhosted(route))
    for check in topo.checks:
        on = netns_host(topo, check.from_.split("/")[0])
        assert on is not None
        per_host[on].checks.append(check)

    from ..validate import validate_topology
    for part in per_host.values():
        validate_topology(part, issues)
    issues.raise_if_any()
    return Split(per_host, tunnels, list(span_of.values()))


def _span_port(bridge: InterfaceBase, span: Span, host: str) -> InterfaceBase:
    """The VXLAN port of a bridge across hosts on `host`: floods to every other host."""
    data: dict[str, Any] = {
        "kind": "vxlan", "name": span.port, "id": span.vni, "local": span.underlays[host],
        "dstport": PORTS["vxlan"], "master": bridge.name,
        "fdb": [{"mac": "00:00:00:00:00:00", "dst": dst}
                for other, dst in span.underlays.items() if other != host]}
    if span.mtu is not None:
        data["mtu"] = span.mtu
    return _made(bridge.path, data)


def _unhosted(obj: _T) -> _T:
    """`obj` as its host's own file has it: without `host:` (that file lists no hosts)."""
    if getattr(obj, "host", None) is None:
        return obj
    return obj.model_copy(update={"host": None})  # type: ignore[attr-defined]


def _local(iface: InterfaceBase, span_of: Mapping[str, Span]) -> InterfaceBase:
    """`iface` as its host's own file has it: without `host:`, and with the MTU the VXLAN
    port of a bridge across hosts carries on its ends that are ports of that bridge (and,
    for a pair, on the other end too: the frames start there) when the file says none."""
    peer = getattr(iface, "peer", None)
    ends = [iface] + ([peer] if peer is not None else [])
    span = next((span_of[e.master] for e in ends
                 if e.netns is None and e.master in span_of), None)
    mtu = span.mtu if span is not None else None
    update: dict[str, Any] = {}
    if iface.host is not None:
        update["host"] = None
    if mtu is not None and iface.mtu is None:
        update["mtu"] = mtu
    if peer is not None and (peer.host is not None or (mtu is not None and peer.mtu is None)):
        update["peer"] = peer.model_copy(update={
            "host": None, **({"mtu": mtu} if mtu is not None and peer.mtu is None else {})})
    return iface.model_copy(update=update) if update else iface


def _plan_tunnel(topo: Topology, iface: Paired, hosts: Mapping[str, Host],
                 resolved: Mapping[str, str], vni: int, port: int) -> Tunnel:
    assert iface.peer is not None
    names = (host_of(topo, iface), host_of(topo, iface.peer))
    a, b = hosts[names[0] or ""], hosts[names[1] or ""]
    via = getattr(iface, "via", None) or "vxlan"
    extra = overhead(a, b, via)
    underlay_mtu = min(a.mtu, b.mtu)
    limit = underlay_mtu - extra
    declared = [m for m in (iface.mtu, iface.peer.mtu) if m is not None]
    mtu: int | None = min(declared) if declared else None
    lowered = False
    if mtu is None and DEFAULT_MTU > limit:
        mtu, lowered = limit, True
    elif mtu is None and via == "wireguard":
        mtu = DEFAULT_MTU  # said: a WireGuard link's own default (1420) is not a veth's
    ends = tuple(TunnelEnd(h.name, e.netns, e.name, resolved[h.name])
                 for h, e in ((a, iface), (b, iface.peer)))
    return Tunnel(via, vni, (ends[0], ends[1]), mtu, lowered, extra, underlay_mtu, iface.path,
                  port or PORTS[via])


def _tunnel_links(iface: Paired, end: Common, side: TunnelEnd, tunnel: Tunnel,
                  keys: _EndKeys | None = None) -> list[InterfaceBase]:
    """The links one host makes for its side of a tunnel."""
    other = tunnel.ends[1] if side is tunnel.ends[0] else tunnel.ends[0]
    path = iface.path if end is iface else f"{iface.path}.peer"
    mine = {f: getattr(end, f) for f in _COMMON_FIELDS
            if f in end.model_fields_set and f != "host"}
    if tunnel.mtu is not None:
        mine["mtu"] = tunnel.mtu
    if tunnel.via == "wireguard":
        assert keys is not None
        address = other.underlay
        endpoint = f"[{address}]:{tunnel.port}" if ":" in address else \
            f"{address}:{tunnel.port}"
        wg: dict[str, Any] = {
            "kind": "wireguard", "private_key": keys.private, "listen_port": tunnel.port,
            "peers": [{"public_key": keys.peer_public, "endpoint": endpoint,
                       "allowed_ips": ["0.0.0.0/0", "::/0"]}]}
        if end.netns is not None:  # made where the underlay is, its socket kept there
            wg["socket_netns"] = None
        return [_made(path, {**mine, **wg})]
    device: dict[str, Any] = {"kind": tunnel.via, "id": tunnel.vni, "remote": other.underlay,
                              "dstport": PORTS[tunnel.via]}
    if tunnel.via == "vxlan":
        device["local"] = side.underlay
    if end.netns is None:
        # in the host's own namespace: the end is the tunnel device itself
        return [_made(path, {**mine, **device})]
    tag = f"{tunnel.vni:06x}"
    bridge, tunnel_dev, host_side = f"vnb{tag}", f"vnt{tag}", f"vnp{tag}"
    mtu = {"mtu": tunnel.mtu} if tunnel.mtu is not None else {}
    return [
        _made(path, {**mine, "kind": "veth",
                     "peer": {"name": host_side, "master": bridge, **mtu}}),
        _made(path, {"kind": "bridge", "name": bridge, **mtu}),
        _made(path, {**device, "name": tunnel_dev, "master": bridge, **mtu}),
    ]


def _made(path: str, data: dict[str, Any]) -> InterfaceBase:
    """An interface vnet adds to a host's topology, validated by its kind, pointing at the
    file entry it comes from (for errors)."""
    iface = lookup(data["kind"]).model_validate(data)
    private = iface.__pydantic_private__
    assert private is not None
    private["_path"] = path
    return iface


def refuse_spanning(topo: Topology, doing: str = "apply") -> None:
    """TopologyError when `topo` spans several hosts: one host cannot `doing` it alone."""
    if len(topo.hosts) > 1:
        hint = ("run it across its hosts with --inventory INVENTORY" if doing != "check" else
                "checks across hosts are not run yet: check each host's part in a file of "
                "its own")
        raise TopologyError([Issue(
            f"topology {topo.name!r} spans {len(topo.hosts)} hosts "
            f"({', '.join(h.name for h in topo.hosts)}); one host cannot {doing} it alone",
            "hosts", topo.where("hosts"), hint)])
