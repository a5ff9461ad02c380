"""Rules across objects: names, references, cycles, duplicates. Pure; collects every issue."""

from __future__ import annotations

import graphlib
import ipaddress
from collections import defaultdict
from typing import Any

from .errors import Collector
from .features.bridge_vlans import check_vlans
from .features.impair import check_impairs
from .features.port_options import PORT_OPTIONS, declared_port_options, master_kind_of
from .kinds.base import InterfaceBase
from .model import External
from .topology import Topology


class Unvalidated:
    """What can still be read of an interface entry that failed its own validation: its name
    and namespace (and its pair's other end). With them, validation goes on in the same run:
    the entry's namespace is checked, and what refers to it (a port naming it as master, a
    stacked link as parent, a route as dev) is not reported as referring to nothing."""

    __slots__ = ("path", "key", "peer_key")

    def __init__(self, path: str, key: tuple[str | None, str],
                 peer_key: tuple[str | None, str] | None = None) -> None:
        self.path = path
        self.key = key
        self.peer_key = peer_key

    @classmethod
    def of(cls, raw: Any, path: str) -> Unvalidated | None:
        """From a raw entry whose name (and namespace, if any) are plain strings."""
        def key(entry: Any) -> tuple[str | None, str] | None:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                return None
            netns = entry.get("netns")
            return (netns, entry["name"]) if netns is None or isinstance(netns, str) else None
        mine = key(raw)
        if mine is None:
            return None
        return cls(path, mine, key(raw.get("peer")))


def validate_topology(topo: Topology, issues: Collector,
                      unvalidated: list[Unvalidated] | tuple[Unvalidated, ...] = ()) -> None:
    """Check a loaded topology; add each problem to `issues` (raise nothing). `unvalidated`:
    the entries that failed their own validation (already reported), still checked for
    what can be known of them."""
    declared_ns = set(topo.namespaces)
    seen_ns: set[str] = set()
    for i, ns in enumerate(topo.namespaces):
        if ns in seen_ns:
            issues.add(f"namespace {ns!r} is listed twice", f"namespaces[{i}]",
                       topo.where(f"namespaces[{i}]"), "remove the duplicate")
        seen_ns.add(ns)

    ends = topo.endpoints()
    objs: list[InterfaceBase | External] = [*ends, *topo.externals]
    by_key: dict[tuple[str | None, str], Any] = {}
    for obj in objs:
        path = obj.path
        if obj.netns is not None and obj.netns not in declared_ns:
            issues.add(f"namespace {obj.netns!r} is not declared", f"{path}.netns",
                       topo.where(f"{path}.netns"),
                       f"add {obj.netns!r} to 'namespaces', or fix the name")
        if obj.key in by_key:
            ns = obj.netns or "the namespace vnet runs in"
            issues.add(f"interface name {obj.name!r} is used twice in {ns}", f"{path}.name",
                       topo.where(f"{path}.name"),
                       f"rename one of them (the other is {by_key[obj.key].path})")
            continue
        by_key[obj.key] = obj
    #: keys of entries that failed their own validation: referring to them is not an error
    elsewhere: set[tuple[str | None, str]] = set()
    for stub in unvalidated:
        for key, path in ((stub.key, stub.path), (stub.peer_key, f"{stub.path}.peer")):
            if key is None:
                continue
            elsewhere.add(key)
            if key[0] is not None and key[0] not in declared_ns:
                issues.add(f"namespace {key[0]!r} is not declared", f"{path}.netns",
                           topo.where(f"{path}.netns"),
                           f"add {key[0]!r} to 'namespaces', or fix the name")

    def where(obj: Any, field: str) -> Any:
        return topo.where(f"{obj.path}.{field}")

    check_impairs(objs, where, issues)
    graph: dict[tuple[str | None, str], set[tuple[str | None, str]]] = defaultdict(set)
    for obj in objs:
        if obj.master is not None:
            target = by_key.get((obj.netns, obj.master))
            if obj.master == obj.name:
                issues.add("an interface cannot be its own master", f"{obj.path}.master",
                           where(obj, "master"), "name a bridge")
            elif target is None and (obj.netns, obj.master) in elsewhere:
                pass  # the master's own entry is invalid, and reported
            elif target is None:
                issues.add(f"master {obj.master!r} is not an interface of this topology in "
                           f"{obj.netns or 'the namespace vnet runs in'}",
                           f"{obj.path}.master", where(obj, "master"),
                           "define that bridge in the same namespace (or mark an existing one "
                           "with external: true)")
            elif not isinstance(target, External) and not target.can_be_master:
                issues.add(f"master {obj.master!r} is a {target.kind}, which cannot have ports",
                           f"{obj.path}.master", where(obj, "master"),
                           "make the master a bridge")
            else:
                graph[obj.key].add(target.key)
                if not isinstance(target, External):
                    _check_port_options(obj, target, issues, where)
        if getattr(obj, "ipv6", None) is False and any(":" in a for a in obj.addresses):
            issues.add(f"{obj.name} has IPv6 addresses but ipv6: false (the kernel removes "
                       "them when IPv6 is disabled)", f"{obj.path}.ipv6", where(obj, "ipv6"),
                       "remove the IPv6 addresses, or ipv6: false")
        if obj.master is None and declared_port_options(obj):
            issues.add("port_options need a master: they are what a bridge or bond keeps "
                       "about one of its ports", f"{obj.path}.port_options",
                       where(obj, "port_options"), "add master: NAME, or remove port_options")
        if isinstance(obj, External):
            continue  # an existing interface: no parent to look for in the file
        parent = obj.parent()
        if parent is not None:
            pkey = (obj.parent_netns(), parent)
            if pkey not in by_key and pkey in elsewhere:
                pass  # the parent's own entry is invalid, and reported
            elif pkey not in by_key:
                issues.add(f"parent link {parent!r} is not an interface of this topology in "
                           f"{pkey[0] or 'the namespace vnet runs in'}", f"{obj.path}.link",
                           where(obj, "link"),
                           "define it, or list an existing one with external: true")
            elif pkey == obj.key:
                issues.add("an interface cannot be its own parent", f"{obj.path}.link",
                           where(obj, "link"))
            else:
                graph[obj.key].add(pkey)
                parent_obj = by_key[pkey]
                if obj.mtu and parent_obj.mtu and obj.mtu > parent_obj.mtu:
                    issues.add(f"MTU {obj.mtu} is larger than its parent {parent!r}'s MTU "
                               f"{parent_obj.mtu}", f"{obj.path}.mtu", where(obj, "mtu"),
                               f"use at most {parent_obj.mtu}, or raise the parent's MTU")
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        names = " -> ".join(f"{ns + '/' if ns else ''}{n}" for ns, n in cycle)
        first = by_key.get(cycle[0])
        issues.add(f"interfaces depend on each other in a cycle: {names}",
                   first.path if first else "interfaces",
                   topo.where(first.path) if first else None,
                   "break the cycle: a master or parent cannot depend back on its port/child")

    #: (namespace, address) -> the first interface that has it (its words made only for
    #: an error: a file of 10k addresses has few)
    addr_seen: dict[tuple[str | None, str], Any] = {}
    for obj in objs:
        for j, addr in enumerate(obj.addresses):
            ip = addr.split("/")[0]
            k = (obj.netns, ip)
            if k in addr_seen:
                path = f"{obj.path}.addresses[{j}]"
                first = addr_seen[k]
                issues.add(f"address {ip} is assigned twice in "
                           f"{obj.netns or 'the namespace vnet runs in'}", path,
                           topo.where(path), "it is also on "
                           f"{first.netns + '/' if first.netns else ''}{first.name}")
            else:
                addr_seen[k] = obj

    checking = _Checking(topo, ends)
    for obj in ends:
        if obj.created_by is None:
            obj.check(checking, reporter(topo, issues, obj))
    for obj in objs:
        if obj.vlans is not None:  # check_vlans has nothing to say of the others
            check_vlans(obj, by_key, reporter(topo, issues, obj))

    networks: _Networks | None = None
    route_seen: dict[tuple[Any, ...], int] = {}
    for i, route in enumerate(topo.routes):
        path = f"routes[{i}]"
        if route.netns is not None and route.netns not in declared_ns:
            issues.add(f"namespace {route.netns!r} is not declared", f"{path}.netns",
                       topo.where(f"{path}.netns"), f"add {route.netns!r} to 'namespaces'")
        if route.dev is not None and (route.netns, route.dev) not in by_key and \
                (route.netns, route.dev) not in elsewhere:
            issues.add(f"route device {route.dev!r} is not an interface of this topology in "
                       f"{route.netns or 'the namespace vnet runs in'}", f"{path}.dev",
                       topo.where(f"{path}.dev"),
                       "name an interface defined in the same namespace as the route")
        if route.via is not None:
            if networks is None:  # it parses every address: only for a file with gateways
                networks = _Networks(objs, topo.routes, declared_ns)
            _check_gateway(topo, issues, i, route, networks, unvalidated)
        if route.key in route_seen:
            other = route_seen[route.key]
            issues.add(f"route to {route.to} is defined twice (same namespace, table, metric)",
                       path, topo.where(path), f"remove one; the other is routes[{other}]")
        else:
            route_seen[route.key] = i

    from .hosts.rules import check_hosts
    check_hosts(topo, issues, ends)


class _Checking:
    """The topology as the kinds' `check` hooks see it during one validation: the same data,
    with `endpoints()` made once and room for the indexes the hooks build
    (`kinds.base.topology_index`), so that a file of thousands of interfaces is not scanned
    once per interface."""

    def __init__(self, topo: Topology, ends: list[InterfaceBase]) -> None:
        self._topo = topo
        self._ends = ends
        self.indexes: dict[str, Any] = {}

    def endpoints(self) -> list[InterfaceBase]:
        return self._ends

    def __getattr__(self, name: str) -> Any:
        return getattr(self._topo, name)


class _Networks:
    """The networks of each namespace's addresses and device routes, indexed by prefix
    length: finding those that hold a gateway costs one lookup per prefix length in use, not
    one test per address (a file of thousands of routes would otherwise take minutes)."""

    def __init__(self, objs: list[Any], routes: list[Any], declared: set[str]) -> None:
        self.declared = declared
        #: netns -> (version, prefix length) -> network -> [(file order, interface)]
        self.addresses: dict[Any, dict[tuple[int, int], dict[Any, list[tuple[Any, Any]]]]] = {}
        #: netns -> (version, prefix length) -> network -> [dev of a device route]
        self.routes: dict[Any, dict[tuple[int, int], dict[Any, list[Any]]]] = {}
        self._unknown: set[Any] | None = None
        self._near: dict[tuple[Any, ...], list[str]] = {}
        for order, obj in enumerate(objs):
            for j, addr in enumerate(obj.addresses):
                net = ipaddress.ip_interface(addr).network
                self.addresses.setdefault(obj.netns, {}).setdefault(
                    (net.version, net.prefixlen), {}).setdefault(net, []).append(
                        ((order, j), obj))
        for route in routes:
            if route.via is None and route.to != "default":
                net = ipaddress.ip_network(route.to)
                self.routes.setdefault(route.netns, {}).setdefault(
                    (net.version, net.prefixlen), {}).setdefault(net, []).append(route.dev)

    def unknown(self, topo: Topology,
                unvalidated: list[Unvalidated] | tuple[Unvalidated, ...]) -> set[Any]:
        """The namespaces where the file does not know every interface (an external's, an
        invalid entry's), found once."""
        if self._unknown is None:
            self._unknown = {o.netns for o in topo.externals} | \
                {stub.key[0] for stub in unvalidated}
        return self._unknown

    @staticmethod
    def _holding(index: dict[tuple[int, int], dict[Any, list[Any]]], gateway: Any) -> Any:
        """Every entry whose network holds `gateway`."""
        for (version, plen), nets in index.items():
            if version == gateway.version:
                yield from nets.get(ipaddress.ip_network((gateway, plen), strict=False), ())

    def interface(self, ns: Any, gateway: Any, dev: str | None) -> Any:
        """The first interface of the file (through `dev` if given) in `ns` with an address
        on a network that holds `gateway`, or None."""
        found = [(order, obj) for order, obj in self._holding(self.addresses.get(ns, {}),
                                                               gateway)
                 if dev is None or obj.name == dev]
        return min(found, key=lambda entry: entry[0])[1] if found else None

    def device_route(self, ns: Any, gateway: Any, dev: str | None) -> bool:
        """Whether a device route of the file in `ns` (through `dev` if given) holds it."""
        return any(dev is None or other == dev
                   for other in self._holding(self.routes.get(ns, {}), gateway))

    def near(self, ns: Any, version: int, dev: str | None, most: int = 5) -> list[str]:
        """The first networks of that version on interfaces in `ns`, for an error to show
        (found once per namespace, version and device: every route may be in error)."""
        key = (ns, version, dev)
        if key not in self._near:
            found = sorted((order, net, obj.name)
                           for (v, _), nets in self.addresses.get(ns, {}).items()
                           if v == version for net, entries in nets.items()
                           for order, obj in entries if dev is None or obj.name == dev)
            shown = [f"{net} on {name}" for _, net, name in found[:most]]
            self._near[key] = shown + ([f"{len(found) - most} more"]
                                       if len(found) > most else [])
        return self._near[key]


def _check_gateway(topo: Topology, issues: Collector, i: int, route: Any, networks: _Networks,
                   unvalidated: list[Unvalidated] | tuple[Unvalidated, ...]) -> None:
    """A gateway the kernel can reach: on the network of an address of an interface in the
    route's namespace (through `dev` if the route names one), or of a device route of the
    file there; the kernel refuses any other (and one through an interface that is down).
    Checked only where the file knows every interface: not in the namespace vnet runs in (the
    host's own interfaces are there), nor where an external or an invalid entry lives."""
    ns = route.netns
    if ns is None or ns not in networks.declared or ns in networks.unknown(topo, unvalidated):
        return
    gateway = ipaddress.ip_address(route.via)
    if gateway.is_link_local:
        return  # reached through any interface's own link-local network
    obj = networks.interface(ns, gateway, route.dev)
    if obj is not None:
        if obj.state == "down":
            issues.add(f"gateway {gateway} is reached through {obj.name}, which is down "
                       "in the file: the kernel refuses a route through an interface "
                       "that is down", f"routes[{i}].via", topo.where(f"routes[{i}].via"),
                       f"set state: up on {obj.name}, or route through another "
                       "interface")
        return
    if networks.device_route(ns, gateway, route.dev):
        return
    near = networks.near(ns, gateway.version, route.dev)
    where = f"namespace {ns}" + (f" through {route.dev}" if route.dev else "")
    known = f" (it has {', '.join(near)})" if near else ""
    issues.add(f"gateway {gateway} is not on the network of any interface in {where}{known}: "
               "the kernel would refuse the route", f"routes[{i}].via",
               topo.where(f"routes[{i}].via"),
               "give an interface there an address in the gateway's network, or fix the gateway")


def reporter(topo: Topology, issues: Collector, obj: Any) -> Any:
    """A `report(field, message, hint)` for one interface entry: adds path and position."""
    def report(field: str, message: str, hint: str = "") -> None:
        path = f"{obj.path}.{field}"
        issues.add(message, path, topo.where(path), hint)
    return report


def _check_port_options(port: Any, master: Any, issues: Collector, where: Any) -> None:
    """Each port option of `port` must be one its master's kind takes."""
    for option in declared_port_options(port):
        kind = master_kind_of(option)
        if option not in PORT_OPTIONS.get(master.kind_name, {}):
            ports_of = kind.replace(" or ", "-port or ")  # "bond-port or team-port"
            issues.add(f"port option {option} is a {ports_of}-port option, but master "
                       f"{master.name!r} is a {master.kind_name}",
                       f"{port.path}.port_options.{option}",
                       where(port, f"port_options.{option}"),
                       f"remove {option}, or make {port.name} a port of a {kind}" + (
                           f" ({', '.join(sorted(PORT_OPTIONS[master.kind_name]))} are "
                           f"{master.kind_name}-port options)"
                           if master.kind_name in PORT_OPTIONS else ""))

