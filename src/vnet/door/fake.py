"""An in-memory kernel for pure tests of plan/apply/rollback: no root, no sockets.

It implements the door's Protocol (door/protocol.py: `Kernel`) as the live kernel does, and
keeps its state as the very records `observe` returns, so a test compares kernel states
with `==`. It mimics the kernel rules the planner relies on (a name exists once per namespace,
deleting a namespace or a veth end takes the other end and stacked children along, deleting a
master releases its ports, addresses and routes go with their device, a bridge and each new
port get the default PVID) and refuses what the kernel refuses with the kernel's errno.
`fail_on` injects failures: a predicate on each Request that returns True (fail with
`fail_errno`) or an errno number.

Runs of deletions (`send_bulk`) go as the live kernel sends them, by link group, through the
same choice of groups (door/deletion.py); batched requests (`send_batched`) go one by one in
the plan's order. Every operation of the catalogue has a handler; those whose state is not
modelled (tc, MACsec, teamd, setting a link reference) raise NotModelled, so a test cannot
pass over a step the fake does not model. Not modelled either: connected (proto kernel)
routes, IPv6 link-local addresses, operstate carrier logic, the kernel's own FDB entry for a
vxlan `remote`.
"""

from __future__ import annotations

import base64
import copy
import errno
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import datatypes
from ..actions import OPERATIONS, Request
from ..errors import KernelError
from ..features.bridge_vlans import BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED
from ..features.fdb import NUD_PERMANENT
from ..kinds import by_kernel_kind
from ..kinds.base import clock_t_kept
from ..observe import (
    AddressState,
    FdbState,
    LinkState,
    NetnsState,
    Observed,
    RouteState,
    gather,
)
from ..ownership import netns_owner
from . import deletion
from .protocol import STRAY_EMPTY_FILE, Handler, Kernel, Scope, check_table
from .wireguard import WireguardPeer, WireguardState, key_fingerprint

Key = tuple[str | None, str]
#: the entry the kernel gives a new bridge and each new port: the default PVID, untagged
DEFAULT_VLAN_ENTRY = BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED


def _tun_info(tuntap: dict[str, Any] | None) -> dict[str, Any]:
    """What the kernel reports of a tun or tap made with these TUNSETIFF arguments (always
    persistent: vnet makes them so)."""
    if tuntap is None:
        return {}
    ifr = tuntap.get("ifr", {})
    out = {"IFLA_TUN_TYPE": 1 if tuntap.get("mode") == "tun" else 2,
           "IFLA_TUN_PI": int(not ifr.get("no_pi", 1)),
           "IFLA_TUN_VNET_HDR": int(bool(ifr.get("vnet_hdr"))), "IFLA_TUN_PERSIST": 1,
           "IFLA_TUN_MULTI_QUEUE": int(bool(ifr.get("multi_queue")))}
    for arg, nla in (("uid", "IFLA_TUN_OWNER"), ("gid", "IFLA_TUN_GROUP")):
        if tuntap.get(arg) is not None:
            out[nla] = tuntap[arg]
    return out


#: the generic attributes of a new link as Linux 6.1 gives them to a veth
LINK_DEFAULTS: dict[str, Any] = {
    "broadcast": "ff:ff:ff:ff:ff:ff", "txqueuelen": 1000, "numtxqueues": 1, "numrxqueues": 1,
    "gso_max_size": 65536,
    "gso_max_segs": 65535, "gro_max_size": 65536, "promisc": False, "allmulticast": False,
    "multicast": True, "arp": True, "addrgenmode": "eui64"}


#: an interface's conf files as Linux 6.1 gives them to a new link
SYSCTL_DEFAULTS = {"disable_ipv6": "0", "forwarding": "0", "rp_filter": "0", "accept_ra": "1"}


def _sysctl_default(path: str) -> str | None:
    """The text of a sysctl file no request has written (the kernel's default)."""
    return "0" if path == "net/ipv4/ip_forward" else SYSCTL_DEFAULTS.get(path.rsplit("/", 1)[-1])


class NotModelled(NotImplementedError):
    """The fake kernel does not model this operation: the test needs the live kernel."""


#: the bridge timers the kernel keeps in jiffies
_TICK_OPTIONS = frozenset({"IFLA_BR_FORWARD_DELAY", "IFLA_BR_HELLO_TIME", "IFLA_BR_MAX_AGE",
                           "IFLA_BR_AGEING_TIME", "IFLA_BR_MCAST_LAST_MEMBER_INTVL",
                           "IFLA_BR_MCAST_MEMBERSHIP_INTVL", "IFLA_BR_MCAST_QUERIER_INTVL",
                           "IFLA_BR_MCAST_QUERY_INTVL", "IFLA_BR_MCAST_QUERY_RESPONSE_INTVL",
                           "IFLA_BR_MCAST_STARTUP_QUERY_INTVL"})


class FakeKernel:
    """An in-memory kernel. The namespace vnet runs in (None) exists from the start, with `lo`."""

    def __init__(self, fail_on: Callable[[Request], bool | int | None] | None = None,
                 fail_errno: int = errno.EPERM, hz: int | None = None) -> None:
        self.fail_on = fail_on
        self.fail_errno = fail_errno
        #: the tick rate it rounds bridge timers to, as a kernel of that CONFIG_HZ does;
        #: None: it keeps them as asked (and says it cannot tell its rate)
        self.hz = hz
        self.namespaces: dict[str | None, NetnsState] = {}
        #: each veth end -> its other end
        self.peers: dict[Key, Key] = {}
        #: stacked link -> the link it is stacked on (macvlan, vlan, vxlan dev)
        self.parents: dict[Key, Key] = {}
        #: every request that reached the kernel (failed ones included), in order
        self.log: list[Request] = []
        #: each link's group (IFLA_GROUP), 0 unless a request gave one
        self.groups: dict[Key, int] = {}
        #: entries of /run/netns that are not namespaces: name -> what it is (add_stray)
        self.strays: dict[str, str] = {}
        self._next_index = 1
        self._new_netns(None, None)
        unmodelled = self._not_modelled
        self._table: Mapping[str, Handler] = check_table("FakeKernel", {
            "netns.add": self._op_netns_add,
            "netns.del": self._op_netns_del,
            "link.add": self._op_link_add,
            "link.del": self._op_link_del,
            "link.set": self._op_link_set,
            "link.setref": unmodelled("link.setref"),
            "link.master": self._op_link_master,
            "link.port_options": self._op_link_port_options,
            "sysctl.set": self._op_sysctl_set,
            "link.state": self._op_link_state,
            "addr.add": self._op_addr_add,
            "addr.del": self._op_addr_del,
            "route.add": self._op_route_add,
            "route.del": self._op_route_del,
            "fdb.add": self._op_fdb_add,
            "fdb.del": self._op_fdb_del,
            "bridge_vlan.add": self._op_bridge_vlan_add,
            "bridge_vlan.del": self._op_bridge_vlan_del,
            "wireguard.set": self._op_wireguard_set,
            "wireguard.set_peer": self._op_wireguard_set_peer,
            "wireguard.del_peer": self._op_wireguard_del_peer,
            **{op: unmodelled(op) for op in OPERATIONS
               if op.startswith(("tc.", "macsec.", "teamd."))},
        })

    @staticmethod
    def _not_modelled(op: str) -> Handler:
        def refuse(netns: str | None, **args: Any) -> None:
            raise NotModelled(f"the fake kernel does not model {op}: test it on the live "
                              "kernel (tests/live)")
        return refuse

    # ---- test helpers --------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """A deep copy of everything the kernel holds, for before/after equality."""
        return copy.deepcopy({"namespaces": self.namespaces, "peers": self.peers,
                              "parents": self.parents})

    def fail_at(self, n: int, code: int = errno.EBUSY) -> None:
        """Make the n-th request sent from now on (1-based) fail with errno `code`."""
        seen = [0]

        def nth(_: Request) -> int | None:
            seen[0] += 1
            return code if seen[0] == n else None
        self.fail_on = nth

    def add_link(self, netns: str | None, name: str, kind: str | None = None,
                 altnames: Iterable[str] = (), **fields: Any) -> LinkState:
        """Put a link in place directly (a host NIC, something made by hand), bypassing
        requests: the starting state of a test."""
        fields.setdefault("operstate", "UP" if fields.get("up") else "DOWN")
        link = LinkState(index=self._take_index(), name=name, kind=kind,
                         altnames=list(altnames), mtu=fields.pop("mtu", 1500),
                         mac=fields.pop("mac", None), **fields)
        if link.mac is None:
            link.mac = _mac_for(link.index)
        self._ns(netns, "add link").links[name] = link
        return link

    def add_netns(self, name: str, marker: str | None = None) -> None:
        """A namespace created outside vnet (or by vnet, when `marker` is given)."""
        self._new_netns(name, marker)

    def add_stray(self, name: str, what: str = STRAY_EMPTY_FILE) -> None:
        """An entry of /run/netns that is not a namespace (a file left by a killed `ip netns
        add`): listed by `stray_netns`, not by `list_netns`."""
        self.strays[name] = what

    # ---- the Netlink interface -----------------------------------------------------------
    def close(self) -> None:
        """Nothing to close; here so code that closes a backend works on this one."""

    def __enter__(self) -> FakeKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def list_netns(self) -> set[str]:
        return {n for n in self.namespaces if n is not None}

    def stray_netns(self) -> dict[str, str]:
        return dict(self.strays)

    def netns_owner(self, netns: str) -> str | None:
        st = self.namespaces.get(netns)
        lo = st.links.get("lo") if st else None
        return netns_owner(lo.altnames) if lo else None

    def read_netns(self, netns: str | None) -> NetnsState:
        return copy.deepcopy(self._ns(netns, f"open namespace {netns}"))

    def observe(self, scope: Scope) -> Observed:
        """Links, addresses, routes (and what kinds keep) of each namespace of the scope that
        exists, in full whatever the scope's economies say: planning must not depend on
        them."""
        observed = gather(self, scope.namespaces)
        observed.hz = self.hz
        return observed

    def operations(self) -> Mapping[str, Handler]:
        """Every operation of the catalogue -> its handler; unmodelled ones raise."""
        return self._table

    def send(self, requests: Sequence[Request]) -> None:
        """Carry out requests in order; the first refusal raises KernelError naming it."""
        for req in requests:
            self.execute(req)

    def _injected(self, req: Request) -> KernelError | None:
        """Log the request; the failure `fail_on` injects for it, if any."""
        self.log.append(req)
        verdict = self.fail_on(req) if self.fail_on is not None else None
        if not verdict:
            return None
        code = self.fail_errno if verdict is True else int(verdict)
        return KernelError(req.describe(), code, "injected by the test")

    def execute(self, req: Request) -> None:
        failure = self._injected(req)
        if failure is not None:
            raise failure
        try:
            self._table[req.op](req.netns, **req.args)
        except _Refused as exc:
            raise KernelError(req.describe(), exc.code, exc.detail) from None

    BULK_OPS = frozenset({"link.del", "netns.del"})

    def send_bulk(self, batches: Sequence[Sequence[Request]]) -> tuple[int, KernelError | None]:
        """Deletions as the live kernel makes them: namespaces one by one, runs of link
        deletions in one namespace as group deletions chosen by door/deletion.py."""
        done = 0
        for op, netns, start, end in deletion.runs(batches):
            if op == "netns.del":
                for batch in batches[start:end]:
                    try:
                        self.send(batch)
                    except KernelError as refused:
                        return done, refused
                    done += 1
                continue
            ok, err = self._delete_by_group(netns, batches[start:end])
            done += ok
            if err is not None:
                return done, err
        return done, None

    def _delete_by_group(self, netns: str | None, batches: Sequence[Sequence[Request]]
                         ) -> tuple[int, KernelError | None]:
        for req in (r for batch in batches for r in batch):
            failure = self._injected(req)
            if failure is not None:
                return 0, failure
        st = self.namespaces.get(netns)
        if st is None:
            return 0, KernelError(batches[0][0].describe(), errno.ENOENT,
                                  f"namespace {netns} does not exist")
        index_of = {name: link.index for name, link in st.links.items()}

        def peer_here(name: str) -> int | None:
            peer = self.peers.get((netns, name))
            return index_of.get(peer[1]) if peer is not None and peer[0] == netns else None
        members = [deletion.Member(
            link.index, name, self.groups.get((netns, name), 0), peer=peer_here(name),
            master=index_of.get(link.master) if link.master else None, up=link.up)
            for name, link in st.links.items()]
        chosen = deletion.choose_groups(members, batches)
        whole = set(chosen.whole)
        for name, link in list(st.links.items()):  # the kernel's deletions take what goes along
            if link.index in chosen.move or self.groups.get((netns, name), 0) in whole:
                self._remove((netns, name))
        if chosen.missing is not None:
            return chosen.actions, KernelError(chosen.missing.describe(), errno.ENODEV)
        return len(batches), None

    def batchable(self, request: Request) -> bool:
        """Addresses, states and plain new links, as the live kernel batches them where new
        links get no IPv6: the fake carries them out one by one, in order."""
        return request.op in ("addr.add", "link.state") or (
            request.op == "link.add" and not request.args.get("info_data")
            and request.args.get("parent") is None and request.args.get("tuntap") is None
            and request.args.get("teamd") is None)

    def send_batched(self, batches: Sequence[Sequence[Request]],
                     progress: Callable[[int], None] | None = None,
                     ) -> tuple[list[int], tuple[int, KernelError] | None]:
        """Each action's requests in order; an action counts as done once its first request
        is, as the live kernel counts it."""
        done: list[int] = []
        for pos, batch in enumerate(batches):
            for k, req in enumerate(batch):
                try:
                    self.execute(req)
                except KernelError as err:
                    return done, (pos, err)
                if k == 0:
                    done.append(pos)
            if progress is not None:
                progress(pos + 1)
        return done, None

    # ---- internals -----------------------------------------------------------------------
    def _take_index(self) -> int:
        self._next_index += 1
        return self._next_index - 1

    def _new_netns(self, name: str | None, marker: str | None) -> None:
        if name in self.namespaces:
            raise _Refused(errno.EEXIST, f"namespace {name} exists")
        st = NetnsState(name=name, sysctl_reader=_sysctl_default)
        self.namespaces[name] = st
        lo = LinkState(index=self._take_index(), name="lo", kind=None, mtu=65536,
                       mac="00:00:00:00:00:00", up=marker is not None or name is None,
                       altnames=[marker] if marker else [])
        st.links["lo"] = lo

    def _ns(self, netns: str | None, what: str) -> NetnsState:
        st = self.namespaces.get(netns)
        if st is None:
            raise KernelError(what, errno.ENOENT, f"/run/netns/{netns} does not exist")
        return st

    def _link(self, netns: str | None, ifname: str) -> LinkState:
        st = self.namespaces.get(netns)
        if st is None:
            raise _Refused(errno.ENOENT, f"namespace {netns} does not exist")
        link = st.links.get(ifname)
        if link is None:
            raise _Refused(errno.ENODEV, f"no interface {ifname}")
        return link

    def _free_name(self, netns: str | None, ifname: str) -> None:
        st = self.namespaces.get(netns)
        if st is None:
            raise _Refused(errno.ENOENT, f"namespace {netns} does not exist")
        if ifname in st.links:
            raise _Refused(errno.EEXIST, f"{ifname} exists")
        if len(ifname.encode()) > 15:
            raise _Refused(errno.EINVAL, "name too long")

    def _remove(self, key: Key) -> None:
        """Delete a link and everything the kernel deletes with it."""
        st = self.namespaces.get(key[0])
        if st is None or key[1] not in st.links:
            return
        del st.links[key[1]]
        st.addresses = [a for a in st.addresses if a.ifname != key[1]]
        st.routes = [r for r in st.routes if r.dev != key[1]]
        st.fdb = [e for e in st.fdb if e.ifname != key[1]]
        st.bridge_vlans.pop(key[1], None)
        st.wireguard.pop(key[1], None)
        self.groups.pop(key, None)
        for link in st.links.values():
            if link.master == key[1]:
                link.master = None
                st.bridge_vlans.pop(link.name, None)
        peer = self.peers.pop(key, None)
        if peer is not None:
            self.peers.pop(peer, None)
            self._remove(peer)
        self.parents.pop(key, None)
        for child in [c for c, p in self.parents.items() if p == key]:
            self._remove(child)

    # ---- operations ----------------------------------------------------------------------
    def _op_netns_add(self, netns: None, name: str, marker: str | None = None) -> None:
        if name in self.strays:  # the live door replaces an empty file, refuses the rest
            if self.strays[name] != STRAY_EMPTY_FILE:
                raise _Refused(errno.EEXIST, f"/run/netns/{name} is {self.strays[name]}, "
                               "not a namespace: move it away")
            del self.strays[name]
        self._new_netns(name, marker)

    def _op_netns_del(self, netns: None, name: str, group: int | None = None) -> None:
        if name in self.strays:  # nothing mounted: the live door unlinks the file
            del self.strays[name]
            return
        st = self.namespaces.get(name)
        if st is None:
            raise _Refused(errno.ENOENT, f"/run/netns/{name} does not exist")
        for ifname in list(st.links):
            self._remove((name, ifname))
        del self.namespaces[name]
        for other in self.namespaces.values():  # its ids go with it
            for nsid in [i for i, n in other.netns_by_id.items() if n == name]:
                del other.netns_by_id[nsid]

    def _op_link_add(self, netns: str | None, ifname: str, kind: str, marker: str | None,
                     info_data: dict[str, Any], parent: str | None = None,
                     parent_netns: str | None = None, peer: dict[str, Any] | None = None,
                     mtu: int | None = None, mac: str | None = None,
                     tuntap: dict[str, Any] | None = None,
                     parent_attr: str = "link", group: int | None = None,
                     teamd: dict[str, Any] | None = None,
                     attrs: dict[str, Any] | None = None,
                     made_in: dict[str, Any] | None = None) -> None:
        if made_in is not None:  # the live kernel makes it there: that namespace must exist
            self._ns_refused(made_in.get("netns"))
        if teamd is not None:
            raise NotModelled("the fake kernel does not model teamd (a team's link.add)")
        # every check before any change: a refused request leaves the kernel as it was
        self._free_name(netns, ifname)
        parent_link = self._link(parent_netns, parent) if parent is not None else None
        if peer is not None:
            pns = peer.get("netns")
            self._free_name(pns, peer["ifname"])
            if pns == netns and peer["ifname"] == ifname:
                raise _Refused(errno.EEXIST, "both ends have one name")
        if kind == "veth" and peer is None:
            raise _Refused(errno.EINVAL, "a veth needs a peer")
        if kind == "vxlan" and parent_link is not None:
            # a vxlan gets what its underlay carries; the kernel clamps a larger MTU to it,
            # saying nothing
            v6 = any(k.endswith("6") and k.startswith("IFLA_VXLAN_") for k in info_data)
            mtu = min(mtu or 65535, parent_link.mtu - (70 if v6 else 50))
        link = LinkState(index=self._take_index(), name=ifname,
                         kind="tun" if tuntap is not None else kind,
                         info_data=self._kept({**info_data, **_tun_info(tuntap)}),
                         mtu=mtu or 1500,
                         altnames=[],
                         operstate="DOWN")
        link.mac = (mac or _mac_for(link.index)).lower()
        link.attrs = {**LINK_DEFAULTS, **(attrs or {})}
        if marker:
            link.altnames.append(marker)
        key = (netns, ifname)
        if parent_link is not None and parent is not None:
            if parent_netns != netns:  # the kernel names the parent's namespace by an id
                link.parent_netnsid = self._nsid(netns, parent_netns)
            if parent_attr == "link":
                link.parent_index = parent_link.index
            else:  # the kind reports its parent inside its own data (vxlan's underlay)
                link.info_data[parent_attr] = parent_link.index
            self.parents[key] = (parent_netns, parent)
        self.namespaces[netns].links[ifname] = link
        if kind == "wireguard":  # a new device: no key, no peers, port chosen when up
            self.namespaces[netns].wireguard[ifname] = WireguardState(ifname, None, None, 0, 0)
        if group:
            self.groups[key] = group
        if kind == "bridge":  # a new bridge's own VLAN: the default PVID
            pvid = int(info_data.get("IFLA_BR_VLAN_DEFAULT_PVID", 1))
            if pvid:
                self.namespaces[netns].bridge_vlans[ifname] = {pvid: DEFAULT_VLAN_ENTRY}
        if peer is not None:
            pkey = (peer.get("netns"), peer["ifname"])
            twin = LinkState(index=self._take_index(), name=pkey[1], kind=kind,
                             info_data=dict(info_data), mtu=peer.get("mtu") or 1500,
                             altnames=[peer["marker"]] if peer.get("marker") else [],
                             operstate="DOWN")
            twin.mac = (peer.get("mac") or _mac_for(twin.index)).lower()
            twin.attrs = {**LINK_DEFAULTS, **(peer.get("attrs") or {})}
            # the kernel reports a veth end's peer as its IFLA_LINK
            twin.parent_index, link.parent_index = link.index, twin.index
            if pkey[0] != netns:
                link.parent_netnsid = self._nsid(netns, pkey[0])
                twin.parent_netnsid = self._nsid(pkey[0], netns)
            self.namespaces[pkey[0]].links[pkey[1]] = twin
            self.peers[key], self.peers[pkey] = pkey, key
            if peer.get("group"):
                self.groups[pkey] = peer["group"]

    def _nsid(self, viewer: str | None, target: str | None) -> int:
        """The id namespace `viewer` knows `target` by, given on first need (as the kernel
        gives one when a link's peer or parent lives there)."""
        ids = self.namespaces[viewer].netns_by_id
        for nsid, name in ids.items():
            if name == target:
                return nsid
        ids[len(ids)] = target
        return len(ids) - 1

    def _op_link_del(self, netns: str | None, ifname: str, missing_ok: bool = False) -> None:
        st = self.namespaces.get(netns)
        if missing_ok and (st is None or ifname not in st.links):
            return
        self._link(netns, ifname)
        self._remove((netns, ifname))

    def _op_link_set(self, netns: str | None, ifname: str, mtu: int | None = None,
                     mac: str | None = None, kind: str | None = None,
                     info_data: dict[str, Any] | None = None,
                     attrs: dict[str, Any] | None = None) -> None:
        link = self._link(netns, ifname)
        if attrs and set(attrs) & {"numtxqueues", "numrxqueues"}:
            raise _Refused(errno.EOPNOTSUPP, "queue counts are fixed at creation")
        if attrs:
            link.attrs.update(attrs)
        if mtu is not None and not 68 <= mtu <= 65535:
            raise _Refused(errno.EINVAL, f"MTU {mtu} out of range")
        if info_data and kind is not None and kind != link.kind:
            raise _Refused(errno.EOPNOTSUPP, f"{ifname} is a {link.kind}, not a {kind}")
        if mtu is not None:
            link.mtu = mtu
        if mac is not None:
            link.mac = mac.lower()
        if info_data:
            info_data = dict(info_data)
            pair = info_data.get("IFLA_BR_MULTI_BOOLOPT")
            old = link.info_data.get("IFLA_BR_MULTI_BOOLOPT")
            if pair is not None and old is not None:  # a bridge's (value, mask): bits merge
                value, mask = pair
                info_data["IFLA_BR_MULTI_BOOLOPT"] = ((old[0] & ~mask) | (value & mask),
                                                      old[1] | mask)
            link.info_data.update(self._kept(info_data))

    def _kept(self, info_data: dict[str, Any]) -> dict[str, Any]:
        """Kind options as the kernel keeps them: bridge timers in its ticks, read back
        rounded (kinds.base.clock_t_kept)."""
        if not self.hz:
            return info_data
        hz = self.hz
        return {k: clock_t_kept(v, hz) if k in _TICK_OPTIONS else v
                for k, v in info_data.items()}

    def _op_link_master(self, netns: str | None, ifname: str, master: str | None) -> None:
        link = self._link(netns, ifname)
        if master is not None:
            target = self._link(netns, master)
            cls = by_kernel_kind(target.kind)
            if cls is None or not cls.can_be_master:
                raise _Refused(errno.EOPNOTSUPP, f"{master} cannot have ports")
            if master == ifname:
                raise _Refused(errno.ELOOP, "own master")
        st = self.namespaces[netns]
        if link.master != master:
            st.bridge_vlans.pop(ifname, None)  # a port's VLANs go when it leaves its bridge
            bridge = st.links.get(master) if master else None
            if bridge is not None and bridge.kind == "bridge":  # a new port: the default PVID
                pvid = int(bridge.info_data.get("IFLA_BR_VLAN_DEFAULT_PVID", 1))
                if pvid:
                    st.bridge_vlans[ifname] = {pvid: DEFAULT_VLAN_ENTRY}
            link.port_options = {}  # a new master keeps its own defaults
        link.master = master

    def _op_sysctl_set(self, netns: str | None, path: str, value: str) -> None:
        st = self._ns(netns, f"write {path}")
        parts = path.split("/")
        if len(parts) == 5 and parts[2] == "conf" and parts[3] not in (*st.links, "all",
                                                                      "default"):
            raise _Refused(errno.ENOENT, f"/proc/sys/{path} does not exist")
        st.sysctls[path] = value

    def _op_link_port_options(self, netns: str | None, ifname: str, master_kind: str,
                              options: dict[str, Any]) -> None:
        link = self._link(netns, ifname)
        master = self.namespaces[netns].links.get(link.master or "")
        if master is None or master.kind != master_kind:
            raise _Refused(errno.EOPNOTSUPP, f"{ifname} is not a port of a {master_kind}")
        link.port_options.update(options)

    def _op_link_state(self, netns: str | None, ifname: str, up: bool) -> None:
        link = self._link(netns, ifname)
        link.up = up
        link.operstate = "UP" if up else "DOWN"

    def _op_addr_add(self, netns: str | None, ifname: str, address: str) -> None:
        self._link(netns, ifname)
        st = self.namespaces[netns]
        addr = ipaddress.ip_interface(address).with_prefixlen
        if any(a.ifname == ifname and a.address == addr for a in st.addresses):
            raise _Refused(errno.EEXIST, f"{addr} is already on {ifname}")
        st.addresses.append(AddressState(ifname, addr))
        # kept sorted: a state rolled back compares equal whatever order the undo ran in
        st.addresses.sort(key=lambda a: (a.ifname, a.address))

    def _op_addr_del(self, netns: str | None, ifname: str, address: str) -> None:
        self._link(netns, ifname)
        st = self.namespaces[netns]
        addr = ipaddress.ip_interface(address).with_prefixlen
        kept = [a for a in st.addresses if not (a.ifname == ifname and a.address == addr)]
        if len(kept) == len(st.addresses):
            raise _Refused(errno.EADDRNOTAVAIL, f"{addr} is not on {ifname}")
        st.addresses = kept

    def _gateway_dev(self, st: NetnsState, via: str, dev: str | None) -> str:
        """The device a gateway is reached through (the kernel reports it as the route's
        dev); ENETUNREACH when no address of the namespace covers the gateway."""
        gw = ipaddress.ip_address(via)
        for a in st.addresses:
            if (dev is None or a.ifname == dev) and gw in ipaddress.ip_interface(a.address).network:
                return a.ifname
        if dev is not None:
            return dev  # the kernel accepts an explicit device (onlink is its business)
        raise _Refused(errno.ENETUNREACH, f"gateway {via} is not on any connected network")

    def _op_route_add(self, netns: str | None, to: str, via: str | None, dev: str | None,
                      metric: int, table: int, family: int) -> None:
        st = self._ns_refused(netns)
        if dev is not None:
            self._link(netns, dev)
        out_dev = self._gateway_dev(st, via, dev) if via else dev
        route = RouteState(family=family, table=table, to=to, via=via, dev=out_dev,
                           metric=metric, proto=118)
        if any(r.key == route.key for r in st.routes):
            raise _Refused(errno.EEXIST, f"route to {to} exists")
        st.routes.append(route)
        st.routes.sort(key=lambda r: (r.table, r.family, r.to, r.metric))

    def _op_route_del(self, netns: str | None, to: str, via: str | None, dev: str | None,
                      metric: int, table: int, family: int) -> None:
        st = self._ns_refused(netns)
        for r in st.routes:
            if r.key == (table, family, to, metric) and (via is None or r.via == via) and \
                    (dev is None or r.dev == dev):
                st.routes.remove(r)
                return
        raise _Refused(errno.ESRCH, f"no route to {to}")

    def _op_fdb_add(self, netns: str | None, ifname: str, mac: str, dst: str) -> None:
        self._link(netns, ifname)
        st = self.namespaces[netns]
        entry = FdbState(ifname=ifname, mac=mac.lower(), dst=str(ipaddress.ip_address(dst)),
                         state=NUD_PERMANENT)
        if entry in st.fdb:
            raise _Refused(errno.EEXIST, f"fdb {mac} dst {dst} exists on {ifname}")
        st.fdb.append(entry)
        st.fdb.sort(key=lambda e: (e.ifname, e.mac, e.dst))

    def _op_fdb_del(self, netns: str | None, ifname: str, mac: str, dst: str) -> None:
        # like the live kernel (netlink.py): an entry already gone (with its device) is not an error
        st = self._ns_refused(netns)
        entry = FdbState(ifname=ifname, mac=mac.lower(), dst=str(ipaddress.ip_address(dst)),
                         state=NUD_PERMANENT)
        if entry in st.fdb:
            st.fdb.remove(entry)

    def _op_bridge_vlan_add(self, netns: str | None, ifname: str, vids: list[int],
                            pvid: bool = False, untagged: bool = False,
                            self_: bool = False) -> None:
        link = self._link(netns, ifname)
        st = self.namespaces[netns]
        if not self_ and (link.master is None or
                          st.links[link.master].kind != "bridge"):
            raise _Refused(errno.EOPNOTSUPP, f"{ifname} is not a bridge port")
        if self_ and link.kind != "bridge":
            raise _Refused(errno.EOPNOTSUPP, f"{ifname} is not a bridge")
        flags = (BRIDGE_VLAN_INFO_PVID if pvid else 0) | \
            (BRIDGE_VLAN_INFO_UNTAGGED if untagged else 0)
        entries = st.bridge_vlans.setdefault(ifname, {})
        for vid in range(vids[0], vids[-1] + 1):
            if pvid:  # one PVID a port: the kernel takes it from the VLAN that had it
                for other, bits in entries.items():
                    if bits & BRIDGE_VLAN_INFO_PVID:
                        entries[other] = bits & ~BRIDGE_VLAN_INFO_PVID
            entries[vid] = flags

    def _op_bridge_vlan_del(self, netns: str | None, ifname: str, vids: list[int],
                            self_: bool = False) -> None:
        # like the netlink door: a VLAN (or device) already gone is not an error
        st = self._ns_refused(netns)
        entries = st.bridge_vlans.get(ifname)
        if entries is None:
            return
        for vid in range(vids[0], vids[-1] + 1):
            entries.pop(vid, None)
        if not entries:
            del st.bridge_vlans[ifname]

    def _wireguard_state(self, netns: str | None, ifname: str) -> WireguardState:
        link = self._link(netns, ifname)
        if link.kind != "wireguard":
            raise _Refused(errno.EOPNOTSUPP, f"{ifname} is a {link.kind}, not a wireguard")
        return self.namespaces[netns].wireguard[ifname]

    def _op_wireguard_set(self, netns: str | None, ifname: str, private_key: Any = None,
                          listen_port: int | None = None, fwmark: int | None = None) -> None:
        state = self._wireguard_state(netns, ifname)
        if private_key is not None:
            raw = bytearray(base64.b64decode(private_key.get_secret_value()))
            raw[0] &= 248  # the kernel keeps (and reports) the key clamped
            raw[31] = (raw[31] & 127) | 64
            state.key_fingerprint = key_fingerprint(bytes(raw))
        if listen_port is not None:
            state.listen_port = listen_port
        if fwmark is not None:
            state.fwmark = fwmark

    def _op_wireguard_set_peer(self, netns: str | None, ifname: str, public_key: str,
                               allowed_ips: list[str], endpoint: str | None = None,
                               persistent_keepalive: int | None = None,
                               preshared_key: Any = None) -> None:
        state = self._wireguard_state(netns, ifname)
        if len(base64.b64decode(public_key)) != 32:
            raise _Refused(errno.EINVAL, "a public key is 32 bytes")
        nets = {str(ipaddress.ip_network(n, strict=False)) for n in allowed_ips}
        for key, other in list(state.peers.items()):  # an allowed IP belongs to one peer
            if key != public_key and nets & set(other.allowed_ips):
                state.peers[key] = datatypes.replace(
                    other, allowed_ips=tuple(sorted(set(other.allowed_ips) - nets)))
        old = state.peers.get(public_key)
        psk = None if preshared_key is None else \
            key_fingerprint(base64.b64decode(preshared_key.get_secret_value()))
        state.peers[public_key] = WireguardPeer(
            public_key, endpoint or (old.endpoint if old else None), tuple(sorted(nets)),
            int(persistent_keepalive or 0), psk)

    def _op_wireguard_del_peer(self, netns: str | None, ifname: str, public_key: str) -> None:
        # as the kernel: removing a peer it does not have is no error
        self._wireguard_state(netns, ifname).peers.pop(public_key, None)

    def _ns_refused(self, netns: str | None) -> NetnsState:
        st = self.namespaces.get(netns)
        if st is None:
            raise _Refused(errno.ENOENT, f"namespace {netns} does not exist")
        return st


class _Refused(Exception):
    """The fake kernel says no (turned into a KernelError naming the request)."""

    def __init__(self, code: int, detail: str = ""):
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


def _mac_for(index: int) -> str:
    """A stable locally administered MAC per link index (the kernel picks a random one)."""
    return f"02:00:00:00:{(index >> 8) & 0xFF:02x}:{index & 0xFF:02x}"


if TYPE_CHECKING:  # mypy holds the fake to the door's Protocol, as api.open_kernel the live one
    _IS_A_KERNEL: Kernel = FakeKernel()
