"""The rules of a file that spans hosts (`hosts:`, `host:`, veths across hosts), and which
host each object is on. Pure; called by validation for every file."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..errors import Collector
from ..kinds.base import InterfaceBase
from ..kinds.veth import Paired
from ..topology import Topology
from .spec import Host, underlay_address

#: bytes the encapsulation adds: outer IPv4/IPv6 + UDP + the 8-byte VXLAN/GENEVE header (no
#: GENEVE options) + the inner Ethernet header
OVERHEAD = {4: 50, 6: 70}
#: WireGuard carries IP packets, no Ethernet header: outer IPv4/IPv6 + UDP + its 16-byte
#: header + the 16-byte authentication tag
WIREGUARD_OVERHEAD = {4: 60, 6: 80}


# ---- which host ---------------------------------------------------------------------------

def _only_host(topo: Topology) -> str | None:
    return topo.hosts[0].name if len(topo.hosts) == 1 else None


def field_of(obj: Any, name: str) -> Any:
    """The value of field `name` of an interface end, None when its kind has no such field.

    Read from the instance's own values first: on a model, asking for a field its kind lacks
    goes through BaseModel.__getattr__'s miss, and validation asks every interface of a
    file."""
    values = getattr(obj, "__dict__", None)
    return values.get(name) if values is not None else getattr(obj, name, None)


def spans(obj: Any) -> list[str]:
    """The hosts a bridge spans (`span:`); [] for anything else."""
    return list(field_of(obj, "span") or [])


def host_of(topo: Topology, obj: Any) -> str | None:
    """The host an interface end (or a route) is on: its own `host:`, else its namespace's,
    else the file's only host; None when the file leaves it open."""
    host = getattr(obj, "host", None)
    if host is not None:
        return str(host)
    netns = getattr(obj, "netns", None)
    if netns is not None and netns in topo.namespace_hosts:
        return topo.namespace_hosts[netns]
    return _only_host(topo)


def netns_host(topo: Topology, netns: str | None) -> str | None:
    if netns is not None and netns in topo.namespace_hosts:
        return topo.namespace_hosts[netns]
    return _only_host(topo)


def crosses(topo: Topology, iface: InterfaceBase) -> bool:
    """A pair whose two ends are on different hosts."""
    if not isinstance(iface, Paired) or iface.peer is None:
        return False
    mine, theirs = host_of(topo, iface), host_of(topo, iface.peer)
    return mine is not None and theirs is not None and mine != theirs


# ---- the rules ----------------------------------------------------------------------------

def check_hosts(topo: Topology, issues: Collector,
                ends: list[InterfaceBase] | None = None) -> None:
    """The rules of `hosts:` and `host:`; every problem added to `issues`. `ends`: the
    topology's `endpoints()` when the caller has them already."""
    def add(path: str, message: str, hint: str) -> None:
        issues.add(message, path, topo.where(path), hint)

    declared = {h.name for h in topo.hosts}
    seen: dict[str, int] = {}
    addresses: dict[str, str] = {}
    for i, host in enumerate(topo.hosts):
        if host.name in seen:
            add(f"hosts[{i}].name", f"host {host.name!r} is listed twice",
                f"remove one (the other is hosts[{seen[host.name]}])")
        seen.setdefault(host.name, i)
        address = underlay_address(host.underlay)
        if address is not None and address in addresses:
            add(f"hosts[{i}].underlay", f"hosts {addresses[address]!r} and {host.name!r} have "
                f"the same underlay address {address}", "give each host its own address")
        if address is not None:
            addresses.setdefault(address, host.name)

    def known(path: str, host: str | None, what: str) -> None:
        if host is None:
            return
        if not declared:
            add(path, f"{what} says host {host!r}, but the file lists no hosts",
                f"add hosts: [{{name: {host}, underlay: ADDRESS}}], or remove host:")
        elif host not in declared:
            add(path, f"host {host!r} is not in the file's hosts ({', '.join(sorted(declared))})",
                "add it to hosts:, or fix the name")

    if not declared:
        # the common case, a file of one host: only what may not be said without hosts
        _check_without_hosts(topo, topo.endpoints() if ends is None else ends, known, add)
        return
    for ns, on in topo.namespace_hosts.items():
        index = topo.namespaces.index(ns)
        known(f"namespaces[{index}].host", on, f"namespace {ns!r}")
    many = len(topo.hosts) > 1
    if many:
        for i, ns in enumerate(topo.namespaces):
            if ns not in topo.namespace_hosts:
                add(f"namespaces[{i}]", f"namespace {ns!r} has no host, and the file spans "
                    f"{len(topo.hosts)} hosts", f"write it as {{name: {ns}, host: HOST}}")

    if ends is None:
        ends = topo.endpoints()
    by_key = {end.key: end for end in ends}
    for end in ends:
        path = end.path
        known(f"{path}.host", end.host, f"interface {end.name!r}")
        if end.host is not None and end.netns in topo.namespace_hosts and \
                topo.namespace_hosts[end.netns] != end.host:
            add(f"{path}.host", f"interface {end.name!r} says host {end.host!r}, but its "
                f"namespace {end.netns!r} is on host {topo.namespace_hosts[end.netns]!r}",
                "remove host: (an interface in a namespace is on the namespace's host)")
            continue
        mine = host_of(topo, end)
        if spans(end):
            _check_span(topo, end, add, declared)
            continue
        if many and mine is None:
            add(f"{path}.host", f"interface {end.name!r} has no host, and the file spans "
                f"{len(topo.hosts)} hosts", "add host: HOST, or put it in a namespace that "
                "has one")
            continue
        for what, other in (("master", end.master), ("parent", end.parent())):
            target = by_key.get((end.netns, other)) if other else None
            if target is not None and spans(target):
                if mine not in spans(target):
                    add(f"{path}.{what}", f"interface {end.name!r} is on host {mine!r}, which "
                        f"bridge {other!r} does not span ({', '.join(spans(target))})",
                        f"add {mine} to its span:, or put the interface on one of them")
                continue
            if target is not None and mine is not None and host_of(topo, target) != mine:
                add(f"{path}.{what}", f"interface {end.name!r} is on host {mine!r} but its "
                    f"{what} {other!r} is on host {host_of(topo, target)!r}",
                    "put both on one host; a link between hosts is a veth whose ends are "
                    "on different hosts")
    for iface in topo.interfaces:
        crossing = crosses(topo, iface)
        if crossing and isinstance(iface, Paired) and iface.kind_name != "veth":
            add(f"{iface.path}.peer", f"the two ends of {iface.kind_name} {iface.name!r} are on "
                f"different hosts ({host_of(topo, iface)} and "
                f"{host_of(topo, iface.peer)}); CAN frames do not cross hosts",
                "put both ends on one host, or use a veth for a link between hosts")
        via = getattr(iface, "via", None)
        if via is not None and not crossing:
            add(f"{iface.path}.via", f"via: {via} is for a veth whose ends are on different "
                "hosts; both ends of this one are on one host", "remove via:")
        if crossing and isinstance(iface, Paired):
            _check_tunnel_mtu(topo, iface, add)
    for i, route in enumerate(topo.routes):
        known(f"routes[{i}].host", route.host, "the route")
        if route.host is not None and route.netns in topo.namespace_hosts and \
                topo.namespace_hosts[route.netns] != route.host:
            add(f"routes[{i}].host", f"the route says host {route.host!r}, but its namespace "
                f"{route.netns!r} is on host {topo.namespace_hosts[route.netns]!r}",
                "remove host:")
        elif many and host_of(topo, route) is None:
            add(f"routes[{i}]", f"the route has no host, and the file spans "
                f"{len(topo.hosts)} hosts", "add host: HOST")


def _check_without_hosts(topo: Topology, ends: list[InterfaceBase], known: Any,
                         add: Any) -> None:
    """A file without `hosts:`: any `host:`, `via:` or `span:` it says is reported."""
    for ns, on in topo.namespace_hosts.items():
        known(f"namespaces[{topo.namespaces.index(ns)}].host", on, f"namespace {ns!r}")
    for end in ends:
        if end.host is not None:
            known(f"{end.path}.host", end.host, f"interface {end.name!r}")
        if spans(end):
            add(f"{end.path}.span", f"bridge {end.name!r} spans hosts, but the file lists no "
                "hosts", "add hosts: with each host's underlay, or remove span:")
    for iface in topo.interfaces:
        via = field_of(iface, "via")
        if via is not None:
            add(f"{iface.path}.via", f"via: {via} is for a veth whose ends are on different "
                "hosts, and the file lists no hosts", "remove via:")
    for i, route in enumerate(topo.routes):
        known(f"routes[{i}].host", route.host, "the route")


def _check_span(topo: Topology, bridge: Any, add: Any, declared: set[str]) -> None:
    """A bridge across hosts: in the hosts' own namespaces, on declared hosts, with room for
    its VXLAN port's encapsulation in the MTU its ports declare."""
    path = bridge.path
    if bridge.netns is not None:
        add(f"{path}.span", f"bridge {bridge.name!r} spans hosts but is in namespace "
            f"{bridge.netns!r}, which is on one host", "remove netns: (a bridge across hosts "
            "lives in each host's own namespace, where the underlay is)")
    if bridge.host is not None:
        add(f"{path}.host", f"bridge {bridge.name!r} has both host: and span:",
            "keep span: (the hosts it is made on)")
    for host in spans(bridge):
        if host not in declared:
            add(f"{path}.span", f"host {host!r} is not in the file's hosts "
                f"({', '.join(sorted(declared)) or 'none'})", "add it to hosts:, or fix the name")
    hosts = [h for h in topo.hosts if h.name in spans(bridge)]
    if len(hosts) < 2:
        return
    limit = span_limit(hosts)
    for end in topo.endpoints():
        if end.master == bridge.name and end.netns is None and end.mtu is not None and \
                end.mtu > limit:
            add(f"{end.path}.mtu", f"mtu {end.mtu} of {end.name!r} does not fit bridge "
                f"{bridge.name!r} across hosts: its VXLAN port carries at most {limit}",
                f"set mtu: {limit} or less, or raise the hosts' underlay mtu:")


def span_limit(hosts: list[Host]) -> int:
    """The largest frame a VXLAN port between `hosts` carries."""
    v6 = any(underlay_address(h.underlay) is not None and
             ipaddress.ip_address(h.underlay).version == 6 for h in hosts)
    return min(h.mtu for h in hosts) - OVERHEAD[6 if v6 else 4]


def hosts_by_name(topo: Topology) -> dict[str, Host]:
    return {h.name: h for h in topo.hosts}


def overhead(a: Host, b: Host, via: str | None = None) -> int:
    """Bytes a tunnel between hosts `a` and `b` adds to each packet (`via`: its kind)."""
    v6 = any(underlay_address(h.underlay) is not None and
             ipaddress.ip_address(h.underlay).version == 6 for h in (a, b))
    return (WIREGUARD_OVERHEAD if via == "wireguard" else OVERHEAD)[6 if v6 else 4]


def _check_tunnel_mtu(topo: Topology, iface: InterfaceBase, add: Any) -> None:
    """An end's declared MTU that the underlay cannot carry once encapsulated."""
    hosts = hosts_by_name(topo)
    assert isinstance(iface, Paired) and iface.peer is not None
    a, b = hosts.get(host_of(topo, iface) or ""), hosts.get(host_of(topo, iface.peer) or "")
    if a is None or b is None:
        return
    via = getattr(iface, "via", None)
    extra = overhead(a, b, via)
    limit = min(a.mtu, b.mtu) - extra
    for path, end in ((iface.path, iface), (f"{iface.path}.peer", iface.peer)):
        if end.mtu is not None and end.mtu > limit:
            add(f"{path}.mtu", f"mtu {end.mtu} of {end.name!r} does not fit the tunnel between "
                f"{a.name} and {b.name}: the underlay carries {min(a.mtu, b.mtu)} bytes and the "
                f"encapsulation takes {extra}",
                f"set mtu: {limit} or less, or raise the hosts' underlay mtu: to "
                f"{end.mtu + extra}")
        if via == "wireguard":
            for field in ("mac", "master"):
                if getattr(end, field) is not None:
                    add(f"{path}.{field}", f"{end.name!r} becomes a WireGuard link between "
                        f"{a.name} and {b.name}, which carries IP packets, not Ethernet "
                        f"frames: it has no MAC and cannot be a bridge port",
                        f"remove {field}:, or use via: vxlan (the default) for an L2 link")
