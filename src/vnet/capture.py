"""`vnet capture`: live kernel state read back into a topology file's data.

Two sources:

- `capture_owned(NAME)`: what topology NAME owns, found by its ownership marks (the owned
  namespaces, the marked links in them and in the namespace vnet runs in), and what its
  record says it changed on external interfaces and where it added routes. Applying the
  result on a clean machine makes the same kernel state as the original file did, and the
  original file then plans nothing. What the kernel cannot say (which MACs were set rather
  than given, MACsec keys) comes from the file the record says was last applied, when it
  still loads; a MACsec key nothing vouches for is a CaptureError, never a guess.
- `capture_unowned(NEW, netns, host)`: what was made by hand (`ip link add ...`) in the
  named namespaces (and the one vnet runs in, with `host`) becomes a new topology. Links the
  kernel makes by itself (`lo`, the fallback tunnels) are left out; links without a kind (a
  physical NIC) and those that cannot be re-created (a team whose teamd vnet did not start)
  become `external: true` entries; a kind vnet does not implement is an error naming it, left
  out only with `skip_unknown`.

What each kind contributes (its options at other than the kernel's defaults, an IFB's
shaping, a vxlan's FDB, the MTU a new link gets, MACsec SAs by key_file) is asked of the
kind's class (`capture_fields`, `capture_defaults`, `capture_from_file`,
`capture_default_mtu` in kinds/base.py); this module holds what every kind shares:
namespaces, pairs, parents, masters, addresses, MTUs, MACs, states, bridge VLANs, routes,
externals. It reads the kernel only through the door's `Kernel`
(like api.py) and changes nothing.

`to_yaml` writes the data as a person would (keys in the file's usual order, small lists and
mappings inline), with a header comment and no timestamp: the same kernel state gives the
same text.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from . import kinds
from .api import owned_namespaces
from .datatypes import datatype, field
from .door.protocol import Kernel
from .errors import VnetError
from .features.bridge_vlans import (
    BRIDGE_VLAN_INFO_PVID,
    BRIDGE_VLAN_INFO_UNTAGGED,
    KERNEL_DEFAULT_PVID,
)
from .features.sysctls import NAMESPACE_FORWARDING, live_sysctls
from .kinds.base import InterfaceBase, NotCapturable
from .observe import LinkState, NetnsState, RouteState
from .record import ext_key, parse_ext_key
from .store import read_record_or_warn

#: routing protocols: routes `ip route add` makes (boot, static) and vnet's own
RTPROT_BOOT, RTPROT_STATIC, RTPROT_VNET = 3, 4, 118
ARPHRD_ETHER = 1
#: the kernel's main table, and the metric it gives an IPv6 route added without one
MAIN_TABLE, IPV6_DEFAULT_METRIC = 254, 1024
#: links a namespace gets from the kernel itself once their module is loaded (fallback
#: tunnel devices): never anyone's to capture
KERNEL_MADE = {"sit0": "sit", "tunl0": "ipip", "gre0": "gre", "gretap0": "gretap",
               "erspan0": "erspan", "ip6tnl0": "ip6tnl", "ip6gre0": "ip6gre",
               "ip_vti0": "vti", "ip6_vti0": "vti6"}
#: the order a person writes an interface's keys in; the kind's options come where `*` is
_FIRST_KEYS = ("name", "kind", "external", "netns", "link", "link_netns", "dev", "peer")
_LAST_KEYS = ("addresses", "mtu", "mac", "state", "master", "vlans", "impair")

Key = tuple[str | None, str]


class CaptureError(VnetError):
    """The live state cannot be captured as asked (nothing live, a missing namespace, an
    unknown kind, keys the kernel does not return); nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(f"vnet capture: {message}")


#: a namespace id that names no namespace vnet can enter by name
_UNNAMED = object()


def _at(ns: str | None, name: str) -> str:
    return f"{ns}/{name}" if ns else name


def _where(ns: str | None) -> str:
    return f"namespace {ns}" if ns else "the namespace vnet runs in"


# ---- the two captures ---------------------------------------------------------------------

def capture_owned(name: str, backend: Kernel) -> dict[str, Any]:
    """Topology `name`, as the kernel holds it now, as a file's data."""
    owned = owned_namespaces(backend, name)
    record = read_record_or_warn(name)
    ext_keys = sorted(set(record.externals) | set(record.external_addresses))
    spaces: list[str | None] = [None, *owned]
    spaces += [parse_ext_key(k)[0] for k in ext_keys] + [r[0] for r in record.routes]
    declared, folder = _file_last_applied(record.source, name)
    reader = _Reader(backend, spaces, declared=declared, folder=folder,
                     tables=record.netem_tables)
    mine = [(ns, link.name) for ns, st in reader.states.items() for link in _ordered(st)
            if link.name != "lo" and link.owner == name]
    if not (owned or mine or not record.is_empty()):
        raise CaptureError(f"nothing live for {name}; `vnet show` lists live topologies")
    recorded = [parse_ext_key(k) for k in ext_keys]
    # links vnet does not own that its links stand on or are ports of (a NIC as a macvlan's
    # parent or a vxlan's dev, a bridge of the host): external entries, as the file had them
    leaned_on = [k for k in reader.neighbours(mine) if k not in recorded]
    reader.include(mine + recorded + leaned_on)
    interfaces = reader.interfaces(mine)
    for key in ext_keys:
        interfaces.append(reader.recorded_external(key, record.externals.get(key, {}),
                                                   record.external_addresses.get(key, [])))
    for ns, ifname in leaned_on:  # nothing of theirs changed: the entry alone
        interfaces.append({"name": ifname, "external": True, **({"netns": ns} if ns else {})})
    routes: list[dict[str, Any]] = []
    for ns in owned:
        routes += [reader.route(ns, rs) for rs in reader.states[ns].routes
                   if rs.proto == RTPROT_VNET]
    for netns, table, family, to, metric in record.routes:
        st = reader.states.get(netns)
        for rs in st.routes if st is not None else []:
            if rs.key == (table, family, to, metric) and rs.proto == RTPROT_VNET:
                routes.append(reader.route(netns, rs))
    namespaces: list[Any] = [_namespace_entry(ns, reader.states.get(ns)) for ns in owned]
    return {"name": name, "namespaces": namespaces, "interfaces": interfaces, "routes": routes}


def _namespace_entry(ns: str, st: Any) -> Any:
    """A namespace as the file writes it: its name, or {name, forwarding: true} for a router
    (IPv4 and IPv6 forwarding both on; off is the kernel's default, left out)."""
    if st is not None and all(st.sysctl(path) == "1" for path in NAMESPACE_FORWARDING):
        return {"name": ns, "forwarding": True}
    return ns


def capture_unowned(new_name: str, netns: list[str], host: bool, backend: Kernel,
                    skip_unknown: bool = False) -> dict[str, Any]:
    """What vnet does not own in namespaces `netns` (and where vnet runs, with `host`), as
    the data of a new topology `new_name`."""
    names = list(dict.fromkeys(netns))
    if not names and not host:
        raise CaptureError("nothing to capture: name namespaces with --netns NS, or add "
                           "--host for the namespace vnet runs in")
    existing = backend.list_netns()
    for named in names:
        if named not in existing:
            raise CaptureError(f"namespace {named!r} does not exist; `ip netns list` lists "
                               "those that do")
        owner = backend.netns_owner(named)
        if owner is not None:
            raise CaptureError(f"namespace {named!r} belongs to vnet topology {owner!r}: capture "
                               f"it with `vnet capture {owner}`")
    spaces: list[str | None] = [*([None] if host else []), *names]
    reader = _Reader(backend, spaces)
    chosen: list[Key] = []
    externals: list[Key] = []
    for ns, st in reader.states.items():
        for link in _ordered(st):
            if link.name == "lo" or link.owner is not None or \
                    (link.kind is not None and KERNEL_MADE.get(link.name) == link.kind):
                continue
            if link.kind is None or link.kind == "team":
                externals.append((ns, link.name))  # a NIC, or a team whose teamd is not vnet's
                continue
            if reader.kind_class(link) is None:
                if skip_unknown:
                    continue
                raise CaptureError(
                    f"{_at(ns, link.name)} is a {link.kind} link, a kind vnet does not "
                    "implement (`vnet kinds` lists those it does); leave such links out with "
                    "--skip-unknown")
            chosen.append((ns, link.name))
    reader.include(chosen + externals)
    interfaces = reader.interfaces(chosen + externals, external=set(externals))
    routes = [reader.route(ns, rs) for ns, st in reader.states.items() for rs in st.routes
              if rs.proto in (RTPROT_BOOT, RTPROT_STATIC)]
    return {"name": new_name, "namespaces": names, "interfaces": interfaces, "routes": routes}


def _file_last_applied(source: str | None, name: str) -> tuple[dict[Key, Any], Path | None]:
    """The ends (interfaces and peers, by (netns, name)) of the file topology `name` was last
    applied from, as its record names it, and that file's folder; nothing when it is not
    known, no longer loads, or now describes another topology."""
    if not source:
        return {}, None
    from .api import load_file
    try:
        topo = load_file(source)
    except (VnetError, OSError):
        return {}, None
    if topo.name != name:
        return {}, None
    ends: dict[Key, Any] = {end.key: end for end in topo.endpoints()}
    ends.update({iface.key: iface for iface in topo.interfaces})
    return ends, Path(source).parent


def _ordered(st: NetnsState) -> list[LinkState]:
    """A namespace's links in creation order (by ifindex)."""
    return sorted(st.links.values(), key=lambda link: link.index)


# ---- reading ------------------------------------------------------------------------------

@datatype
class _Reader:
    """The namespaces read for one capture, and what is being captured of them."""

    backend: Kernel
    spaces: list[str | None]
    states: dict[str | None, NetnsState] = field(default_factory=dict)
    #: the links the capture writes (as entries of their own or as a pair's peer)
    included: set[Key] = field(default_factory=set)
    #: pair ends already written as the peer of another entry
    folded: set[Key] = field(default_factory=set)
    #: the entries (and peer ends) of the file last applied, when known: what the kernel
    #: cannot tell (which MACs were set, MACsec keys by key_file) is taken from there
    declared: dict[Key, Any] = field(default_factory=dict)
    #: that file's folder (its key files are relative to it)
    folder: Path | None = None
    #: "netns|ifname" -> the distribution table of the netem there (the record's: the kernel
    #: does not report it)
    tables: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        existing = self.backend.list_netns()
        for ns in dict.fromkeys(self.spaces):
            if ns is None or ns in existing:
                self.states[ns] = self.backend.read_netns(ns)

    def include(self, keys: list[Key]) -> None:
        self.included.update(keys)

    @staticmethod
    def kind_class(link: LinkState) -> type[InterfaceBase] | None:
        """The class of a live link's kind (tun and tap share one kernel kind)."""
        first = kinds.by_kernel_kind(link.kind)
        if first is None:
            return None
        for cls in kinds.registry().values():
            if (cls.kernel_kind or cls.kind_name) == link.kind and \
                    cls.matches_kernel(link.kind, link.info_data):
                return cls
        return first

    # ---- finding a pair's other end or a parent --------------------------------------------
    def locate(self, ns: str | None, link: LinkState, index: int | None,
               mutual: bool = False) -> tuple[Key | None, str | None]:
        """Where the link with ifindex `index` that `link` (in `ns`) points at lives: its key,
        or None and where it is (in words) when that namespace is not read."""
        if not index:
            return None, None
        if link.parent_netnsid is None:
            candidates = [ns]
        else:
            other_ns = self.states[ns].netns_by_id.get(link.parent_netnsid, _UNNAMED)
            if other_ns is _UNNAMED:
                return None, "a namespace without a name (not under /run/netns)"
            other = None if other_ns is None else str(other_ns)
            if other not in self.states:
                return None, _where(other)
            candidates = [other]
        found = [(n, cand.name) for n in candidates
                 for cand in self.states[n].links.values()
                 if cand.index == index and (not mutual or cand.parent_index == link.index)]
        return (found[0], None) if len(found) == 1 else (None, None)

    def parent_of(self, ns: str | None, link: LinkState, cls: type[InterfaceBase]
                  ) -> tuple[Key | None, str | None]:
        index = cls.live_parent_index(link)
        if cls.parent_field != "link":  # vxlan's dev: in its own namespace
            return next(((ns, p.name) for p in self.states[ns].links.values()
                         if index and p.index == index), None), None
        return self.locate(ns, link, index)

    # ---- entries -------------------------------------------------------------------------
    def interfaces(self, keys: list[Key], external: set[Key] | frozenset[Key] = frozenset()
                   ) -> list[dict[str, Any]]:
        out = []
        for key in keys:
            if key in self.folded:
                continue
            if key in external:
                out.append(self.found_external(*key))
                continue
            link = self.states[key[0]].links[key[1]]
            cls = self.kind_class(link)
            if cls is not None and cls.paired:
                # the entry is the end that comes first by namespace, then name; the other
                # is its peer: ifindexes (which end the kernel numbered first) change with
                # each creation, so they would not give the same file twice
                other, _ = self.locate(key[0], link, link.parent_index, mutual=True)
                if other is not None and other in self.included and \
                        self._rank(other) < self._rank(key):
                    key = other
            out.append(self.entry(*key))
            self.folded.add(key)
        return out

    def neighbours(self, keys: list[Key]) -> list[Key]:
        """The parents and masters of links `keys` that are not among them, in order."""
        out: list[Key] = []
        for ns, name in keys:
            link = self.states[ns].links[name]
            cls = self.kind_class(link)
            near: list[Key | None] = []
            if cls is not None and cls.parent_field in cls.model_fields and \
                    cls.live_parent_index(link):
                near.append(self.parent_of(ns, link, cls)[0])
            if link.master and link.master in self.states[ns].links:
                near.append((ns, link.master))
            out += [k for k in near if k is not None and k not in keys and k not in out]
        return out

    def _rank(self, key: Key) -> tuple[int, str]:
        return list(self.states).index(key[0]), key[1]

    def entry(self, ns: str | None, name: str) -> dict[str, Any]:
        st = self.states[ns]
        link = st.links[name]
        cls = self.kind_class(link)
        if cls is None:
            raise CaptureError(f"{_at(ns, name)} is a {link.kind} link, a kind vnet does not "
                               "implement (`vnet kinds` lists those it does)")
        entry: dict[str, Any] = {"name": name, "kind": cls.kind_name}
        if ns is not None:
            entry["netns"] = ns
        parent: LinkState | None = None
        if cls.parent_field in cls.model_fields and cls.live_parent_index(link):
            pkey, elsewhere = self.parent_of(ns, link, cls)
            if pkey is None:
                where = f" is in {elsewhere}, which" if elsewhere else \
                    " cannot be found in the namespaces read:"
                raise CaptureError(
                    f"the parent of {_at(ns, name)} ({cls.kind_name}){where} the capture does "
                    "not include; add it (--netns NS, or --host)")
            if pkey not in self.included:
                raise CaptureError(f"the parent {_at(*pkey)} of {_at(ns, name)} is not "
                                   "captured (a kind vnet does not implement?)")
            parent = self.states[pkey[0]].links[pkey[1]]
            entry[cls.parent_field] = pkey[1]
            if "link_netns" in cls.model_fields:  # said only where the kind would not look
                try:
                    looks_in = cls.model_validate({**entry, **cls.capture_fields(link, st)}
                                                  ).parent_netns()
                except (ValueError, NotCapturable):  # the entry's own error comes below
                    looks_in = ns
                if looks_in != pkey[0]:
                    entry["link_netns"] = pkey[0]
        if cls.paired:
            entry["peer"] = self.peer(ns, link, cls)
        try:
            entry.update(cls.capture_fields(link, st))
            entry.update(cls.capture_from_file(link, st, self.declared.get((ns, name)),
                                               self.folder))
        except NotCapturable as exc:
            raise CaptureError(str(exc)) from None
        entry.update(self.common(ns, link, cls, parent))
        if "impair" in entry and "peer" in entry and "impair" not in entry["peer"]:
            # an entry's impair is the pair's: say that the other end has none
            entry["peer"]["impair"] = None
        return _in_order(entry)

    def peer(self, ns: str | None, link: LinkState, cls: type[InterfaceBase]
             ) -> dict[str, Any]:
        pkey, elsewhere = self.locate(ns, link, link.parent_index, mutual=True)
        if pkey is None or pkey not in self.included:
            where = f"in {elsewhere}, which the capture does not include" \
                if elsewhere else "not among the links captured"
            raise CaptureError(f"the other end of {cls.kind_name} {_at(ns, link.name)} is "
                               f"{where}; add its namespace (--netns NS, or --host)")
        self.folded.add(pkey)
        plink = self.states[pkey[0]].links[pkey[1]]
        peer: dict[str, Any] = {"name": pkey[1]}
        if pkey[0] is not None:
            peer["netns"] = pkey[0]
        peer.update(self.common(pkey[0], plink, cls, None))
        return _in_order(peer)

    def common(self, ns: str | None, link: LinkState, cls: type[InterfaceBase] | None,
               parent: LinkState | None) -> dict[str, Any]:
        """addresses, mtu, mac, state, the interface's sysctls, master and vlans, each only
        where it says something."""
        st = self.states[ns]
        out: dict[str, Any] = {}
        addresses = st.addresses_of(link.name)
        if addresses:
            out["addresses"] = addresses
        master = st.links.get(link.master) if link.master else None
        if cls is not None:
            default = cls.capture_default_mtu(link, st, parent)
            master_cls = self.kind_class(master) if master is not None else None
            if master is not None and master_cls is not None and \
                    master_cls.ports_down_to_enslave:
                default = master.mtu  # a bond or team gives its ports its own MTU
            if default is None or link.mtu != default:
                out["mtu"] = link.mtu
            mac = self.mac(ns, link, parent)
            if mac is not None:
                out["mac"] = mac
            if not link.up:
                out["state"] = "down"
            out.update(live_sysctls(st.sysctl, link.name))
        if master is not None and (ns, master.name) in self.included:
            out["master"] = master.name
        vlans = self.vlans(ns, link, master)
        if vlans is not None:
            out["vlans"] = vlans
        netem = next((q for q in st.qdiscs if q.ifname == link.name and q.kind == "netem"),
                     None)  # at the root, or under an IFB's shaping
        if netem is not None:
            from .features.netem_words import impair_from_params
            table = self.tables.get(ext_key(ns, link.name))
            out["impair"] = impair_from_params({**netem.params, "distribution": table})
        return out

    def mac(self, ns: str | None, link: LinkState, parent: LinkState | None) -> str | None:
        """The MAC to write: the one the file last applied set, when that file is known;
        otherwise one that does not look given by the kernel (see _own_mac)."""
        end = self.declared.get((ns, link.name))
        if end is None:
            return _own_mac(link, self.states[ns], parent)
        return link.mac.lower() if end.mac is not None and link.mac else None

    def vlans(self, ns: str | None, link: LinkState, master: LinkState | None
              ) -> list[dict[str, Any]] | None:
        """A port's (or a VLAN-filtering bridge's own) VLANs, unless they are what the kernel
        gives a new one: the bridge's default PVID, untagged."""
        bridge = master if master is not None else link
        if bridge.kind != "bridge" or not bridge.info_data.get("IFLA_BR_VLAN_FILTERING"):
            return None
        if master is not None and (ns, master.name) not in self.included:
            return None
        have = self.states[ns].bridge_vlans.get(link.name, {})
        pvid = int(bridge.info_data.get("IFLA_BR_VLAN_DEFAULT_PVID", KERNEL_DEFAULT_PVID))
        default = {pvid: BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED} if pvid else {}
        if have == default:
            return None
        return _vlan_entries(have)

    def found_external(self, ns: str | None, name: str) -> dict[str, Any]:
        """A link vnet cannot re-create (a NIC), as an external entry."""
        st = self.states[ns]
        link = st.links[name]
        entry: dict[str, Any] = {"name": name, "external": True}
        if ns is not None:
            entry["netns"] = ns
        common = self.common(ns, link, None, None)
        entry.update({k: v for k, v in common.items() if k in ("addresses", "master", "vlans")})
        return _in_order(entry)

    def recorded_external(self, key: str, original: dict[str, Any], added: list[str]
                          ) -> dict[str, Any]:
        """An external interface of an owned topology: what vnet changed on it (the record
        keeps the values it had before)."""
        ns, name = parse_ext_key(key)
        entry: dict[str, Any] = {"name": name, "external": True}
        if ns is not None:
            entry["netns"] = ns
        st = self.states.get(ns)
        link = st.links.get(name) if st is not None else None
        if link is None or st is None:
            return _in_order(entry)
        addresses = [a for a in added if a in st.addresses_of(name)]
        if addresses:
            entry["addresses"] = addresses
        if "mtu" in original and original["mtu"] != link.mtu:
            entry["mtu"] = link.mtu
        if original.get("up") is not None and bool(original["up"]) != link.up:
            entry["state"] = "up" if link.up else "down"
        if link.master is not None and link.master != original.get("master"):
            entry["master"] = link.master
        master = st.links.get(link.master) if link.master else None
        vlans = self.vlans(ns, link, master)
        if vlans is not None:
            entry["vlans"] = vlans
        return _in_order(entry)

    # ---- routes --------------------------------------------------------------------------
    def route(self, ns: str | None, rs: RouteState) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if ns is not None:
            out["netns"] = ns
        out["to"] = rs.to
        if rs.via:
            out["via"] = rs.via
        if rs.dev and (rs.via is None or not self._reaches(ns, rs.dev, rs.via)):
            out["dev"] = rs.dev
        if rs.metric and not (rs.family == 6 and rs.metric == IPV6_DEFAULT_METRIC):
            out["metric"] = rs.metric
        if rs.table != MAIN_TABLE:
            out["table"] = rs.table
        return out

    def _reaches(self, ns: str | None, dev: str, via: str) -> bool:
        """Whether `via` is on a network of `dev`'s (the kernel then finds dev by itself)."""
        gateway = ipaddress.ip_address(via)
        return any(gateway in ipaddress.ip_interface(a).network
                   for a in self.states[ns].addresses_of(dev))


def _own_mac(link: LinkState, st: NetnsState, parent: LinkState | None) -> str | None:
    """The MAC to write, None for one the kernel gave: the kernel's random ones (locally
    administered; a hand-numbered one like 02:00:00:00:0a:01 has at least two zero octets in
    its middle four, which a random one has once in ten thousand) and those a link takes from
    another (a vlan from its parent, a bridge or bond from a port, a port from its bond)."""
    mac = (link.mac or "").lower()
    if link.link_type != ARPHRD_ETHER or not mac or mac == "00:00:00:00:00:00":
        return None
    related = {parent.mac if parent is not None else None}
    if link.master is not None and link.master in st.links:
        related.add(st.links[link.master].mac)
    related |= {port.mac for port in st.links.values() if port.master == link.name}
    if mac in {(m or "").lower() for m in related}:
        return None
    octets = mac.split(":")
    if int(octets[0], 16) & 0x2 and sum(o == "00" for o in octets[1:5]) < 2:
        return None
    return mac


def _vlan_entries(have: dict[int, int]) -> list[dict[str, Any]]:
    """{vid: flags} as `vlans` entries, runs of tagged or untagged vids as ranges."""
    out: list[dict[str, Any]] = []
    runs: list[list[int]] = []
    for vid in sorted(have):
        flags = have[vid]
        if runs and runs[-1][1] == vid - 1 and runs[-1][2] == flags and \
                not flags & BRIDGE_VLAN_INFO_PVID:
            runs[-1][1] = vid
        else:
            runs.append([vid, vid, flags])
    for first, last, flags in runs:
        entry: dict[str, Any] = {"vid": first if first == last else f"{first}-{last}"}
        if flags & BRIDGE_VLAN_INFO_PVID:
            entry["pvid"] = True
        if flags & BRIDGE_VLAN_INFO_UNTAGGED:
            entry["untagged"] = True
        out.append(entry)
    return out


def _in_order(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's keys as a person writes them: identity, parent or peer, the kind's
    options, then the common fields."""
    first = [k for k in _FIRST_KEYS if k in entry]
    last = [k for k in _LAST_KEYS if k in entry]
    middle = [k for k in entry if k not in first and k not in last]
    return {k: entry[k] for k in [*first, *middle, *last]}


# ---- YAML ---------------------------------------------------------------------------------

def to_yaml(data: dict[str, Any], source: str | None = None) -> str:
    """The data as a topology file: a header comment (what made it; never a time, so the
    same state gives the same text), then name, namespaces, interfaces (each a block), routes,
    with the lists and mappings that fit on a short line inline and empty ones left out."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)  # "  - name: ..." under a key, as in README

    def mapping(flow: bool) -> Any:
        return lambda dumper, value: dumper.represent_mapping(
            "tag:yaml.org,2002:map", value, flow_style=flow)

    def sequence(flow: bool) -> Any:
        return lambda dumper, value: dumper.represent_sequence(
            "tag:yaml.org,2002:seq", value, flow_style=flow)

    Dumper.add_representer(_FlowMap, mapping(True))
    Dumper.add_representer(_BlockMap, mapping(False))
    Dumper.add_representer(_FlowList, sequence(True))
    Dumper.add_representer(_BlockList, sequence(False))

    def one_line(value: Any) -> str:
        return str(yaml.dump(value, Dumper=yaml.SafeDumper, default_flow_style=True,
                             sort_keys=False, width=1 << 20)).strip()

    def shaped(value: Any, room: int) -> Any:
        """Inline when it fits in `room` characters, else a block of shaped values."""
        if not isinstance(value, (dict, list)):
            return value
        if len(one_line(value)) <= room:
            return _FlowMap(value) if isinstance(value, dict) else _FlowList(value)
        if isinstance(value, dict):
            return _BlockMap({k: shaped(v, room - 2) for k, v in value.items()})
        return _BlockList([shaped(v, room - 2) for v in value])

    top = _BlockMap()
    for key in ("name", "namespaces", "interfaces", "routes"):
        if data.get(key) not in (None, []):
            top[key] = data[key]
    top.update({k: v for k, v in data.items() if k not in top and v not in (None, [])
                and k not in ("namespaces", "interfaces", "routes")})
    for key, value in top.items():
        if key == "interfaces":
            top[key] = _BlockList(_BlockMap({k: shaped(v, _ROOM - len(k)) for k, v in e.items()})
                                  for e in value)
        elif key == "routes":
            top[key] = _BlockList(shaped(r, _ROOM) for r in value)
        else:
            top[key] = shaped(value, _ROOM - len(key))
    body = yaml.dump(top, Dumper=Dumper, sort_keys=False, width=_ROOM + 24,
                     allow_unicode=True)
    what = source or f"`vnet capture {data.get('name', '')}`"
    header = (f"# Captured from the live kernel by {what}.\n"
              "# Apply it with `vnet apply FILE`; `vnet plan FILE` shows what it would change.\n")
    return header + body


#: how long an inline list or mapping may be (beyond it, a block)
_ROOM = 72


class _FlowMap(dict[str, Any]):
    """A mapping written inline: {a: 1, b: 2}."""


class _BlockMap(dict[str, Any]):
    """A mapping written one key a line."""


class _FlowList(list[Any]):
    """A list written inline: [a, b]."""


class _BlockList(list[Any]):
    """A list written one item a line."""
