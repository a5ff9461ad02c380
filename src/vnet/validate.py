"""Rules across objects: names, references, cycles, duplicates. Pure; collects every issue."""

from __future__ import annotations

import graphlib
from collections import defaultdict
from typing import Any

from .errors import Collector
from .features.bridge_vlans import check_vlans
from .kinds.base import InterfaceBase
from .model import External, Topology


def validate_topology(topo: Topology, issues: Collector) -> None:
    """Check a loaded topology; add each problem to `issues` (raise nothing)."""
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

    def where(obj: Any, field: str) -> Any:
        return topo.where(f"{obj.path}.{field}")

    graph: dict[tuple[str | None, str], set[tuple[str | None, str]]] = defaultdict(set)
    for obj in objs:
        if obj.master is not None:
            target = by_key.get((obj.netns, obj.master))
            if obj.master == obj.name:
                issues.add("an interface cannot be its own master", f"{obj.path}.master",
                           where(obj, "master"), "name a bridge")
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
        if isinstance(obj, External):
            continue  # an existing interface: no parent to look for in the file
        parent = obj.parent()
        if parent is not None:
            pkey = (obj.parent_netns(), parent)
            if pkey not in by_key:
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

    addr_seen: dict[tuple[str | None, str], str] = {}
    for obj in objs:
        for j, addr in enumerate(obj.addresses):
            ip = addr.split("/")[0]
            k = (obj.netns, ip)
            path = f"{obj.path}.addresses[{j}]"
            if k in addr_seen:
                issues.add(f"address {ip} is assigned twice in "
                           f"{obj.netns or 'the namespace vnet runs in'}", path,
                           topo.where(path), f"it is also on {addr_seen[k]}")
            else:
                addr_seen[k] = f"{obj.netns + '/' if obj.netns else ''}{obj.name}"

    for obj in ends:
        if obj.created_by is None:
            obj.check(topo, reporter(topo, issues, obj))
    for obj in objs:
        check_vlans(obj, by_key, reporter(topo, issues, obj))

    route_seen: dict[tuple[Any, ...], int] = {}
    for i, route in enumerate(topo.routes):
        path = f"routes[{i}]"
        if route.netns is not None and route.netns not in declared_ns:
            issues.add(f"namespace {route.netns!r} is not declared", f"{path}.netns",
                       topo.where(f"{path}.netns"), f"add {route.netns!r} to 'namespaces'")
        if route.dev is not None and (route.netns, route.dev) not in by_key:
            issues.add(f"route device {route.dev!r} is not an interface of this topology in "
                       f"{route.netns or 'the namespace vnet runs in'}", f"{path}.dev",
                       topo.where(f"{path}.dev"),
                       "name an interface defined in the same namespace as the route")
        if route.key in route_seen:
            other = route_seen[route.key]
            issues.add(f"route to {route.to} is defined twice (same namespace, table, metric)",
                       path, topo.where(path), f"remove one; the other is routes[{other}]")
        else:
            route_seen[route.key] = i


def reporter(topo: Topology, issues: Collector, obj: Any) -> Any:
    """A `report(field, message, hint)` for one interface entry: adds path and position."""
    def report(field: str, message: str, hint: str = "") -> None:
        path = f"{obj.path}.{field}"
        issues.add(message, path, topo.where(path), hint)
    return report
