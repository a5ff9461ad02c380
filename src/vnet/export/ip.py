"""`vnet export --to ip`: the topology as a POSIX `sh` script of `ip`, `bridge` and `tc`
commands (and `teamd`/`teamdctl` for teams), one a line, under a comment naming the file entry
each comes from.

The kinds write their own commands (`ip_commands()`, `ip_enslave_command()` in kinds/*.py),
bridge VLANs come from features/bridge_vlans.py; this module only orders them as the planner
orders a fresh apply:

1. namespaces (`ip netns add`, then `lo` up, as vnet brings it up);
2. links, parents before the links stacked on them, each followed by its MTU, MAC and
   addresses (IPv6 ones with `nodad`, as vnet adds them: no duplicate address detection);
3. ports joining their masters;
4. the addresses of external interfaces;
5. states (up, or down where the file says so);
6. what needs all of that (the rest of each kind's commands: a bond's primary, FDB entries,
   qdiscs and redirects, MACsec SAs), then bridge VLANs;
7. routes.

What the script does not write, on purpose: vnet's ownership marks (altnames, the link
group, route protocol 118), which only `vnet destroy` reads, and the file's checks, which
prove the network rather than make it. MACsec keys given by `key_file` are read when the
script runs; keys written inline are copied only with `--include-secrets`.
"""

from __future__ import annotations

import graphlib
import inspect
import os
import shlex
from typing import TYPE_CHECKING, Any

from ..datatypes import datatype, field
from ..features.bridge_vlans import vlan_commands
from . import Exported, ExportError, Options, refuse_inline_secrets
from ._common import link_settings_left_out

if TYPE_CHECKING:
    from ..kinds.base import InterfaceBase
    from ..topology import Topology

#: the shell function that reads a key file as `ip macsec` wants the key (hex digits only:
#: vnet also accepts spaces, ':' and a 0x prefix in a key file)
_KEY_FUNCTION = "vnet_key_hex() { tr -d ' \\t\\r\\n:' < \"$1\" | sed 's/^0[xX]//'; }"


class _Shell(str):
    """A word written as is, for the shell to expand when the script runs (a key file read
    with `$(...)`): never quoted."""


@datatype
class _Section:
    title: str
    #: (comment naming the entry, commands), in order
    groups: list[tuple[str, list[list[str]]]] = field(default_factory=list)

    def add(self, comment: str, cmds: list[list[str]]) -> None:
        if cmds:
            self.groups.append((comment, cmds))


def _quote(word: str) -> str:
    return str(word) if isinstance(word, _Shell) else shlex.quote(word)


def _safe_comment(text: str) -> str:
    """One comment line: no control characters (a newline would end the comment)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _label(topo: Topology, path: str, what: str) -> str:
    where = topo.where(path)
    place = f" ({os.path.basename(where.file)}:{where.line}:{where.col})" if where else ""
    return _safe_comment(f"{path} {what}{place}")


def _ns(netns: str | None) -> list[str]:
    return ["-n", netns] if netns else []


def _addr_add(obj: Any, addr: str) -> list[str]:
    """`ip addr add`; IPv6 without duplicate address detection, as vnet adds it (usable at
    once)."""
    return ["ip", *_ns(obj.netns), "addr", "add", addr, "dev", obj.name,
            *(["nodad"] if ":" in addr else [])]


def _creation_order(entries: list[InterfaceBase]) -> list[InterfaceBase]:
    """The file's entries, parents before the entries stacked on them (a pair's end counts as
    the entry that creates both); in the file's order otherwise."""
    entry_of = {end.key: i for i, iface in enumerate(entries) for end in iface.expand()}
    graph: dict[int, set[int]] = {}
    for i, iface in enumerate(entries):
        parent = iface.parent()
        dep = entry_of.get((iface.parent_netns(), parent)) if parent else None
        graph[i] = {dep} if dep is not None and dep != i else set()
    return [entries[i] for i in graphlib.TopologicalSorter(graph).static_order()]


def _key_word(topo: Topology) -> Any:
    """For MACsec: each SA's key as the script writes it: a key file read when the script
    runs, or the key itself (inline keys reach here only with --include-secrets)."""
    base = os.path.dirname(os.path.abspath(topo.source))

    def word(path: str, sa: Any) -> str:
        if sa.key is None and sa.key_file is not None:
            file = sa.key_file if os.path.isabs(sa.key_file) else \
                os.path.normpath(os.path.join(base, sa.key_file))
            return _Shell(f'"$(vnet_key_hex {shlex.quote(file)})"')
        return str(sa.secret.get_secret_value())
    return word


def _kind_commands(iface: InterfaceBase, topo: Topology) -> list[list[str]]:
    # a kind with keys (MACsec) takes how the script writes them
    if "key_word" in inspect.signature(iface.ip_commands).parameters:
        cmds: list[list[str]] = iface.ip_commands(  # type: ignore[call-arg]
            key_word=_key_word(topo))
        return cmds
    return iface.ip_commands()


def export(topo: Topology, options: Options) -> Exported:
    """The `sh` script that builds `topo` with iproute2 (see the module's docstring)."""
    if options.netns is not None:
        raise ExportError("--netns chooses the one namespace networkd and netplan configure; "
                          "the ip script builds every namespace of the file: leave --netns "
                          "out")
    refuse_inline_secrets(topo, options)
    sections = {name: _Section(title) for name, title in (
        ("netns", "namespaces"),
        ("links", "links, parents first, with their MTU, MAC and addresses"),
        ("masters", "ports join their masters"),
        ("addresses", "addresses of external interfaces"),
        ("states", "states"),
        ("extras", "what needs the links up: primaries, FDB, qdiscs, MACsec SAs, bridge VLANs"),
        ("routes", "routes"))}

    for i, ns in enumerate(topo.namespaces):
        cmds = [["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "set", "dev", "lo", "up"]]
        forwarding = topo.namespace_options.get(ns, {}).get("forwarding")
        if forwarding is not None:  # a router namespace: IPv4 and IPv6, as vnet sets it
            value = "1" if forwarding else "0"
            cmds.append(["ip", "netns", "exec", ns, "sysctl", "-qw",
                         f"net.ipv4.ip_forward={value}",
                         f"net.ipv6.conf.all.forwarding={value}"])
        sections["netns"].add(_label(topo, f"namespaces[{i}]", ns), cmds)

    ends = topo.endpoints()
    by_key: dict[tuple[str | None, str], Any] = {e.key: e for e in ends}
    later: list[tuple[InterfaceBase, list[list[str]]]] = []
    uses_key_files = False
    # the IFBs of ingress impairments are entries of their own (topology.endpoints)
    made = [*topo.interfaces, *(e for e in ends if e.path.endswith(".impair"))]
    for iface in _creation_order(made):
        cmds = _kind_commands(iface, topo)
        uses_key_files |= any(isinstance(w, _Shell) for c in cmds for w in c)
        sets = []
        for end in iface.expand():
            attrs = (["mtu", str(end.mtu)] if end.mtu is not None else []) + \
                (["address", end.mac] if end.mac is not None else [])
            if attrs:
                sets.append(["ip", *_ns(end.netns), "link", "set", "dev", end.name, *attrs])
        # a new link's addresses come with it, before it joins a master, as vnet adds them
        # (on a bridge, whether IPv6 starts before its ports join shows in its routes)
        addrs = [_addr_add(end, addr) for end in iface.expand() for addr in end.addresses]
        sections["links"].add(_label(topo, iface.path, f"{iface.name} ({iface.kind_name})"),
                              cmds[:1] + sets + addrs)
        later.append((iface, cmds[1:]))

    # externals: vnet does not create them, but sets what the file says on them
    for ext in topo.externals:
        attrs = (["mtu", str(ext.mtu)] if ext.mtu is not None else []) + \
            (["address", ext.mac] if ext.mac is not None else [])
        if attrs:
            sections["links"].add(_label(topo, ext.path, f"{ext.name} (external)"),
                                  [["ip", *_ns(ext.netns), "link", "set", "dev", ext.name,
                                    *attrs]])

    externals = {id(ext) for ext in topo.externals}
    for obj in [*ends, *topo.externals]:
        label = _label(topo, obj.path, obj.name)
        if obj.master is not None:
            master = by_key.get((obj.netns, obj.master))
            cmd = master.ip_enslave_command(obj.name) if master is not None else \
                ["ip", *_ns(obj.netns), "link", "set", "dev", obj.name, "master", obj.master]
            sections["masters"].add(label, [cmd])
        if id(obj) in externals:
            sections["addresses"].add(label, [_addr_add(obj, addr) for addr in obj.addresses])
        if obj.state is not None:
            sections["states"].add(label, [["ip", *_ns(obj.netns), "link", "set", "dev",
                                            obj.name, obj.state]])

    for iface, cmds in later:
        sections["extras"].add(_label(topo, iface.path, iface.name), cmds)
    for obj in [*ends, *topo.externals]:
        if obj.vlans is not None:
            bridge = by_key.get((obj.netns, obj.master)) if obj.master else obj
            sections["extras"].add(_label(topo, obj.path, f"{obj.name} vlans"),
                                   vlan_commands(obj, bridge))

    for obj in [*ends, *topo.externals]:
        if obj.impair is not None and obj.impair.direction != "ingress":
            tc = ["tc", "-n", obj.netns] if obj.netns else ["tc"]
            # under an IFB's shaping: in its class 1:1 (tbf or htb with handle 1:)
            place = ["parent", "1:1", "handle", "10:"] if getattr(obj, "shaping", None) \
                else ["root"]
            sections["extras"].add(_label(topo, f"{obj.path}.impair", f"{obj.name} impair"),
                                   [[*tc, "qdisc", "add", "dev", obj.name, *place, "netem",
                                     *obj.impair.tc_args()]])

    for i, route in enumerate(topo.routes):
        cmd = ["ip", *_ns(route.netns), "route", "add", route.to]
        for word in ("via", "dev", "metric", "table"):
            value = getattr(route, word)
            if value is not None:
                cmd += [word, str(value)]
        sections["routes"].add(_label(topo, f"routes[{i}]", f"to {route.to}"), [cmd])

    text = _script(topo, list(sections.values()), uses_key_files)
    return Exported(files={f"{topo.name}.sh": text},
                    left_out=link_settings_left_out(topo, "ip commands", forwarding=True))


def _script(topo: Topology, sections: list[_Section], key_files: bool) -> str:
    source = os.path.basename(topo.source)
    lines = [
        "#!/bin/sh",
        _safe_comment(f"# Topology {topo.name}, written by `vnet export --to ip` from "
                      f"{source}."),
        "# Run it as root with sh, where none of its namespaces and links exist yet: it stops",
        "# at the first command that fails (set -e). It does not mark what it makes as vnet's,",
        "# so `vnet destroy` leaves it alone: delete the namespaces (ip netns del) instead.",
        "# The file's checks are not kernel state and are not run here: `vnet check` runs them.",
    ]
    if getattr(topo, "events", None):
        lines.append("# Nor are its events (a timeline of link failures): `vnet run` plays them.")
    if any(w in ("teamd", "teamdctl") for c in sections for _, cmds in c.groups
           for cmd in cmds for w in cmd[:5]):
        lines.append("# Teams need teamd and teamdctl (Debian package libteam-utils).")
    lines.append("set -e")
    if key_files:
        lines += ["", "# MACsec keys are read from their key files when a command needs them",
                  _KEY_FUNCTION]
    for section in sections:
        if not section.groups:
            continue
        lines += ["", f"# --- {section.title}"]
        for comment, cmds in section.groups:
            lines.append(f"# {comment}")
            lines += [" ".join(_quote(w) for w in cmd) for cmd in cmds]
    return "\n".join(lines) + "\n"
