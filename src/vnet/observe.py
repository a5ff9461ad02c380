"""What the kernel holds, as plain data. Built by the door from a netlink dump; read by the
planner, `show` and `destroy`. Only what those need is decoded."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import ownership
from .datatypes import datatype, field

#: key under which the door puts a team's teamd facts (pid, running, config) into its
#: LinkState.info_data: a team's options live in teamd, not in the kernel
TEAMD_KEY = "VNET_TEAMD"


@datatype
class LinkState:
    """One link as the kernel reports it."""

    index: int
    name: str
    kind: str | None
    info_data: dict[str, Any] = field(default_factory=dict)
    mtu: int = 0
    mac: str | None = None
    up: bool = False
    operstate: str = "UNKNOWN"
    master: str | None = None
    parent_index: int | None = None
    parent_netnsid: int | None = None
    #: ARPHRD_* hardware type (1 Ethernet, 32 InfiniBand): what a stacked kind may sit on
    link_type: int = 0
    altnames: list[str] = field(default_factory=list)
    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    #: the generic attributes of features/link_attrs.py, in the file's words, or the function
    #: that reads them from the link's message (most observations never look): see `attrs`
    attrs_data: dict[str, Any] | Callable[[], dict[str, Any]] | None = field(
        default=None, repr=False, compare=False)
    #: what its master keeps about it as a port (features/port_options.py)
    port_options: dict[str, Any] = field(default_factory=dict)

    @property
    def attrs(self) -> dict[str, Any]:
        """The generic attributes (txqueuelen, alias, promisc...), read when first asked."""
        if callable(self.attrs_data):
            self.attrs_data = self.attrs_data()
        if self.attrs_data is None:
            self.attrs_data = {}
        return self.attrs_data

    @attrs.setter
    def attrs(self, value: dict[str, Any]) -> None:
        self.attrs_data = value

    @property
    def owner(self) -> str | None:
        """Topology that owns this link, read from its altname marker."""
        return ownership.link_owner(self.altnames, self.name)


@datatype(frozen=True)
class AddressState:
    ifname: str
    address: str  # "192.0.2.1/24"
    scope: int = 0

    @property
    def link_local(self) -> bool:
        return self.address.lower().startswith("fe80:")


@datatype(frozen=True)
class RouteState:
    family: int
    table: int
    to: str  # "default" or a network
    via: str | None
    dev: str | None
    metric: int
    proto: int

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.table, self.family, self.to, self.metric)


@datatype
class TcState:
    """A qdisc or a class: where it hangs and the parameters vnet compares, in the kernel's
    units (tbf: rate bytes/s, buffer ticks, limit bytes; htb class: rate, ceil, buffer,
    cbuffer; htb qdisc: defcls; sfq: perturb)."""

    ifname: str
    kind: str
    handle: int
    parent: int
    params: dict[str, Any] = field(default_factory=dict)


@datatype
class TcFilterState:
    """A classifier on a link's ingress, decoded only as far as an IFB redirect needs."""

    ifname: str
    parent: int
    kind: str
    prio: int
    protocol: int
    match_all: bool = False
    #: target of a `mirred egress redirect` action, if the filter has one
    redirect_ifindex: int | None = None
    redirect_dev: str | None = None


@datatype(frozen=True)
class FdbState:
    """One forwarding entry with a remote destination (a VXLAN's `bridge fdb ... dst IP`)."""

    ifname: str
    mac: str
    dst: str
    state: int = 0  # NUD_* bits: NUD_PERMANENT (0x80) for static entries


@datatype
class NetnsState:
    """One namespace: None is the namespace vnet runs in."""

    name: str | None
    links: dict[str, LinkState] = field(default_factory=dict)
    addresses: list[AddressState] = field(default_factory=list)
    routes: list[RouteState] = field(default_factory=list)
    qdiscs: list[TcState] = field(default_factory=list)
    tc_classes: list[TcState] = field(default_factory=list)
    tc_filters: list[TcFilterState] = field(default_factory=list)
    #: FDB entries with a destination, of the links that keep static ones (vxlan)
    fdb: list[FdbState] = field(default_factory=list)
    #: MACsec SecYs with their SCs and SAs: ifname -> door.macsec.MacsecState
    macsec: dict[str, Any] = field(default_factory=dict)
    #: WireGuard devices' keys (fingerprints), port, mark and peers:
    #: ifname -> door.wireguard.WireguardState
    wireguard: dict[str, Any] = field(default_factory=dict)
    #: bridge VLAN filtering: ifname -> {vid: PVID|UNTAGGED flags} of bridges and their ports
    bridge_vlans: dict[str, dict[int, int]] = field(default_factory=dict)
    #: the namespaces this one knows by a namespace id (a link's IFLA_LINK_NETNSID: a veth
    #: peer or a parent over there): id -> name (None: where vnet runs), or a function that
    #: reads them: asking costs a request per named namespace, and only `vnet capture` needs
    #: them (to find a pair's other end or a parent); read them through `netns_by_id`
    netns_ids: dict[int, str | None] | Callable[[], dict[int, str | None]] = field(
        default_factory=dict, compare=False, repr=False)
    #: whether links created here get IPv6 (net.ipv6.conf.default.disable_ipv6 is 0), or a
    #: function that reads it: reading it costs a step into the namespace, and planning asks
    #: only where it creates links (see new_links_get_ipv6)
    ipv6_default: bool | Callable[[], bool] = field(default=True, compare=False, repr=False)
    #: sysctl files of the namespace already read (path under /proc/sys -> text), and the
    #: function that reads one (None: a file not in `sysctls` is not known); read only for
    #: the interfaces that declare one (see sysctl)
    sysctls: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)
    sysctl_reader: Callable[[str], str | None] | None = field(default=None, compare=False,
                                                              repr=False)

    def sysctl(self, path: str) -> str | None:
        """The text of sysctl file `path` (e.g. net/ipv4/conf/eth0/rp_filter) in this
        namespace, read when first asked; None when it cannot be read."""
        if path not in self.sysctls and self.sysctl_reader is not None:
            self.sysctls[path] = self.sysctl_reader(path)
        return self.sysctls.get(path)

    @property
    def new_links_get_ipv6(self) -> bool:
        """Whether links created here get IPv6: it decides when planning brings new links up
        (plan: _Planner._up_as_made). Read once, when first asked."""
        if callable(self.ipv6_default):
            self.ipv6_default = self.ipv6_default()
        return self.ipv6_default

    @property
    def netns_by_id(self) -> dict[int, str | None]:
        """The namespace ids this namespace knows (netns_ids), read once, when first asked."""
        if callable(self.netns_ids):
            self.netns_ids = self.netns_ids()
        return self.netns_ids

    @property
    def owner(self) -> str | None:
        """Topology that created this namespace (marker on its loopback), if any."""
        lo = self.links.get("lo")
        return ownership.netns_owner(lo.altnames) if lo else None

    #: addresses by interface, built on first use (planning asks once per interface: a scan
    #: of every address each time would make planning quadratic)
    _by_ifname: tuple[int, int, dict[str, list[str]]] | None = field(
        default=None, init=False, repr=False, compare=False)

    def addresses_of(self, ifname: str) -> list[str]:
        """Addresses of one interface, link-local ones left out."""
        stamp = (id(self.addresses), len(self.addresses))
        if self._by_ifname is None or self._by_ifname[:2] != stamp:
            index: dict[str, list[str]] = {}
            for a in self.addresses:
                if not a.link_local:
                    index.setdefault(a.ifname, []).append(a.address)
            self._by_ifname = (*stamp, index)
        return list(self._by_ifname[2].get(ifname, ()))


@datatype
class Observed:
    """The live state of the namespaces that matter to one topology."""

    namespaces: dict[str | None, NetnsState] = field(default_factory=dict)
    #: every named namespace under /run/netns, read or not
    existing_netns: set[str] = field(default_factory=set)
    #: the kernel's tick rate (CONFIG_HZ), which rounds the timers it keeps in jiffies;
    #: None when it cannot be told
    hz: int | None = None

    def link(self, netns: str | None, name: str) -> LinkState | None:
        ns = self.namespaces.get(netns)
        return ns.links.get(name) if ns else None


def gather(backend: Any, namespaces: Iterable[str | None],
           read: Callable[[str | None], NetnsState] | None = None) -> Observed:
    """Read each namespace that exists through a backend's `list_netns` and `read` (default:
    its `read_netns`) — the live kernel's and the in-memory one's `observe`."""
    existing = backend.list_netns()
    obs = Observed(existing_netns=existing)
    read = read or backend.read_netns
    for ns in dict.fromkeys(namespaces):
        if ns is not None and ns not in existing:
            continue
        obs.namespaces[ns] = read(ns)
    return obs
