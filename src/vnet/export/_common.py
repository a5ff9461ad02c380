"""What the one-namespace targets (networkd, netplan) share: the choice of namespace, and the
left-out entries for everything outside it and for the file's checks."""

from __future__ import annotations

from typing import Any

from . import ExportError, LeftOut, Options


def bool_word(value: Any) -> str:
    """A boolean as systemd and netplan write it."""
    return "yes" if value else "no"


def where_label(netns: str | None) -> str:
    """`namespace NAME`, or the words for the namespace vnet runs in."""
    return f"namespace {netns}" if netns else "the namespace vnet runs in"


def netns_check(topo: Any, options: Options) -> None:
    """Refuse an --netns the file does not declare."""
    if options.netns is not None and options.netns not in topo.namespaces:
        declared = ", ".join(topo.namespaces) or "none"
        raise ExportError(f"--netns {options.netns}: the file declares no such namespace "
                          f"(declared: {declared}); name one of them, or omit --netns for the "
                          "namespace vnet runs in")


def other_namespace_entries(topo: Any, netns: str | None, target: str) -> list[LeftOut]:
    """One entry per object of another namespace (namespaces, interfaces with no end here,
    externals, routes), per check and per event: a `target` file configures one namespace,
    proves nothing and plays no timeline."""
    hint = "export it with --netns NAME" if netns is None else \
        "export that namespace with its own --netns"
    out: list[LeftOut] = []
    for index, name in enumerate(topo.namespaces):
        if name != netns:
            out.append(LeftOut(f"namespaces[{index}]", f"{target} configures one namespace; "
                                                       f"{hint}"))
    for iface in topo.interfaces:
        ends = iface.expand()
        if all(end.netns != netns for end in ends):
            out.append(LeftOut(iface.path, f"in {where_label(ends[0].netns)}, not the one "
                                           f"exported; {hint}"))
    for ext in topo.externals:
        if ext.netns != netns:
            out.append(LeftOut(ext.path, f"in {where_label(ext.netns)}, not the one exported; "
                                         f"{hint}"))
    for index, route in enumerate(topo.routes):
        if route.netns != netns:
            out.append(LeftOut(f"routes[{index}]", f"in {where_label(route.netns)}, not the "
                                                   f"one exported; {hint}"))
    for index, _check in enumerate(topo.checks):
        out.append(LeftOut(f"checks[{index}]", f"{target} has no checks; run them with vnet "
                                               "check"))
    for index, _event in enumerate(getattr(topo, "events", [])):
        out.append(LeftOut(f"events[{index}]", f"{target} has no timeline of failures; play "
                                               "it with vnet run"))
    return out


def link_settings_left_out(topo: Any, target: str, forwarding: bool = False) -> list[LeftOut]:
    """One entry per generic link attribute, port option and sysctl the file declares, and per
    namespace `forwarding` unless the target writes it (`forwarding=True`): no exporter writes
    the others yet, and an export never drops anything silently."""
    from ..features.link_attrs import declared_link_attrs
    from ..features.port_options import declared_port_options
    from ..features.sysctls import declared_sysctls

    out: list[LeftOut] = []
    for end in topo.endpoints():
        out += [LeftOut(f"{end.path}.{name}", why) for name, why in end.not_exported()]
        for name in [*declared_link_attrs(end), *declared_sysctls(end)]:
            out.append(LeftOut(f"{end.path}.{name}", f"{name} is not exported to {target} "
                                                     "yet; vnet apply sets it"))
        for name in declared_port_options(end):
            out.append(LeftOut(f"{end.path}.port_options.{name}",
                               f"port option {name} is not exported to {target} yet; vnet "
                               "apply sets it"))
    for index, ns in enumerate(topo.namespaces):
        if not forwarding and topo.namespace_options.get(ns, {}).get("forwarding") is not None:
            out.append(LeftOut(f"namespaces[{index}].forwarding",
                               f"a namespace's forwarding is not exported to {target} yet; "
                               "vnet apply sets it"))
    return out

