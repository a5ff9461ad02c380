"""The live kernel behind vnet's one door (protocol.py: `Kernel`): netlink and the netns bind
mounts.

This file holds the sockets and their caches, observing, the dispatch of requests (one table,
`operations`), runs of deletions, and the link, address and route operations. Beside it, by
concern: namespaces.py (create, delete, list), batch.py (many requests to a system call),
decode.py (answers as observed state), deletion.py (the choice of groups, pure),
kind_probe.py (which kinds this kernel has); the op groups that need more than a few lines
(fdb, tc, bridge_vlan, macsec, teamd) are mixins; probes.py holds the checks' sockets.
Common requests and dumps go through the lean rtnetlink path (rtnl.py); pyroute2 serves the
rest. Nothing outside the door opens a socket, mounts, or runs a program.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..actions import Request
from ..errors import KernelError
from ..journal import crash_point
from ..observe import AddressState, LinkState, NetnsState, Observed, gather
from . import deletion, rtnl
from .batch import BatchOps, lean_newlink
from .bridge_vlan import BridgeVlanOps, read_bridge_vlans
from .decode import (
    IFF_UP,
    decode_info_data,
    decode_link,
    decode_route,
    encode_info_data,
    errno_of,
    info_layout,
    is_paired,
    lean_link,
)
from .fdb import FdbOps, read_fdb
from .link_attrs import attr_bytes, read_link_attrs, setlink_attrs
from .macsec import MacsecOps
from .namespaces import LEAN_OPEN, NETNS_DIR, NamespaceOps
from .port_options import read_port_options, set_port_options
from .protocol import Handler, Scope, check_table
from .tc import TcOps, read_tc
from .teamd import TeamdOps, read_teamd, vnet_runs_teamd
from .wireguard import WireguardOps

RTPROT_VNET = 118  # the routing protocol number vnet gives its routes (iproute2: proto 118)
RT_SCOPE_LINK = 253  # rtnetlink's scope of a destination on the link itself
RT_SCOPE_NOWHERE = 255  # in a deletion: a route of any scope


class Netlink(NamespaceOps, BatchOps, FdbOps, TcOps, BridgeVlanOps, MacsecOps, TeamdOps,
              WireguardOps):
    """A live kernel. One netlink socket per namespace, opened on first use.

    Each operation of the catalogue has its handler in `operations()`; `execute(Request)`
    carries one out and turns the kernel's refusal into a KernelError naming it."""

    def __init__(self) -> None:
        self._sockets: dict[str | None, Any] = {}
        #: lean rtnetlink sockets (rtnl.py), least recently used first
        self._lean: dict[str | None, rtnl.Rtnl] = {}
        #: name -> ifindex per namespace, as the last dump saw them; dropped by any request
        #: that may add, remove or rename a link (see _index)
        self._indexes: dict[str | None, dict[str, int]] = {}
        self._index_misses: dict[str | None, int] = {}
        self._loopbacks: dict[str, rtnl.RawLink | None] = {}
        #: each namespace's links as the last read saw them, until a request may change them
        self._dumps: dict[str | None, list[rtnl.RawLink]] = {}
        #: the next ifindex `send_batched` gives a new link, per namespace: read once, moved
        #: past each link the kernel numbers for vnet since, dropped with the caches
        self._next_index: dict[str | None, int] = {}
        #: whether each namespace gives new links IPv6 (see _new_links_get_ipv6)
        self._ipv6: dict[str | None, bool] = {}
        #: operation -> handler (see operations)
        self._table: Mapping[str, Handler] | None = None

    # ---- sockets ------------------------------------------------------------------------
    def _ipr(self, netns: str | None) -> Any:
        if netns not in self._sockets:
            from pyroute2.iproute import IPRoute
            if netns is None:
                self._sockets[netns] = IPRoute()
            else:
                if not os.path.exists(os.path.join(NETNS_DIR, netns)):
                    raise KernelError(f"open namespace {netns}", errno.ENOENT,
                                      f"{NETNS_DIR}/{netns} does not exist")
                self._sockets[netns] = IPRoute(netns=netns, flags=0)
        return self._sockets[netns]

    def _rt(self, netns: str | None) -> rtnl.Rtnl:
        """The lean socket of a namespace: the bulk of vnet's requests and dumps go through it;
        at most LEAN_OPEN stay open (a star of many namespaces must not exhaust fds)."""
        rt = self._lean.pop(netns, None)
        if rt is None:
            if len(self._lean) >= LEAN_OPEN:
                self._lean.pop(next(iter(self._lean))).close()
            if netns is None:
                rt = rtnl.Rtnl()
            else:
                fd = self._open_netns(netns)
                try:
                    rt = rtnl.Rtnl(fd)
                finally:
                    os.close(fd)
        self._lean[netns] = rt
        return rt

    def close(self) -> None:
        for ipr in self._sockets.values():
            ipr.close()
        self._sockets.clear()
        for rt in self._lean.values():
            rt.close()
        self._lean.clear()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


    @contextmanager
    def _reach(self, netns: str, fd: int | None = None
               ) -> Iterator[tuple[rtnl.Rtnl, int | None]]:
        """A socket serving link requests in the named namespace, and the id to name it by in
        them (IFLA_TARGET_NETNSID): the root socket and the id the caller's namespace knows it
        by, when it has one (a veth into it gives it one) and no socket is open inside it yet;
        else a socket inside it and None. Opening a socket inside each namespace (and again,
        past LEAN_OPEN of them) would dominate a large teardown. The namespace's
        file stays open meanwhile (`fd`, when the caller holds it open): its id cannot come
        to name another namespace."""
        if netns in self._lean:
            yield self._rt(netns), None
            return
        own = fd is None
        if fd is None:
            fd = self._open_netns(netns)
        try:
            root = self._rt(None)
            nsid = root.netns_id(fd)
            yield (root, nsid) if nsid is not None else (self._rt(netns), None)
        finally:
            if own:
                os.close(fd)


    # ---- reading -------------------------------------------------------------------------
    def observe(self, scope: Scope) -> Observed:
        """Links, addresses, routes (and what kinds keep) of each namespace of the scope that
        exists; of each only what the scope asks (see Scope: packet counters, which planning
        never reads, only if asked). Traffic control is also read wherever a live link's kind
        reads it (an IFB), unless the scope leaves out what kinds keep."""
        shallow = scope.shallow

        def read(ns: str | None) -> NetnsState:
            if ns is not None and ns in shallow:
                return self._read_links(ns)
            return self.read_netns(ns, counters=scope.counters,
                                   foreign_routes=scope.reads(scope.route_netns, ns),
                                   tc=scope.reads(scope.tc_netns, ns),
                                   vlans=scope.reads(scope.vlan_netns, ns),
                                   kind_options=scope.kind_options,
                                   port_options=scope.port_options,
                                   kind_state=scope.kind_state,
                                   addresses=scope.reads(scope.addr_netns, ns))
        observed = gather(self, scope.namespaces, read)
        if scope.kind_options:  # only kind options are kept in ticks (bridge timers)
            from .ticks import kernel_hz
            observed.hz = kernel_hz()
        return observed

    def netns_owner(self, netns: str) -> str | None:
        """The topology owning a namespace (its loopback's marker), reading only `lo`."""
        from ..ownership import netns_owner
        lo = self._loopback(netns)
        return netns_owner(lo.altnames) if lo is not None else None

    def _loopback(self, netns: str) -> rtnl.RawLink | None:
        """A namespace's `lo` (None: unreadable), kept until the next request that may change
        links: finding owners and then reading the owned namespaces shallowly reads it once."""
        if netns not in self._loopbacks:
            try:
                with self._reach(netns) as (rt, nsid):
                    self._loopbacks[netns] = rt.get_link("lo", nsid)
            except (OSError, KernelError):  # no readable lo
                self._loopbacks[netns] = None
        return self._loopbacks[netns]

    def _read_links(self, netns: str) -> NetnsState:
        """A namespace's links alone, lean (names, kinds, marks, a pair's other end): a
        teardown deletes the namespace whole, but first names what inside it is not vnet's."""
        links = {raw.name: lean_link(raw) for raw in rtnl.dump_links(self._rt(netns), False)}
        state = NetnsState(name=netns, links=links)
        if any(link.parent_netnsid is not None for link in links.values()):
            # on first use only (planning asks only of a link vnet did not make); through the
            # namespace's socket as it is then (the one used now may have been closed)
            state.netns_ids = lambda: self._netns_ids(self._rt(netns))
        return state

    def read_netns(self, netns: str | None, counters: bool = True,
                   foreign_routes: bool = True, tc: bool = True,
                   vlans: bool = True, kind_options: bool = True, kind_state: bool = True,
                   addresses: bool = True, port_options: bool | None = None) -> NetnsState:
        """One namespace's state; its traffic control only if `tc` or if a live link's kind
        reads it, its bridge VLANs only if `vlans`, the links' kind options and port options
        only if `kind_options`, what kinds keep beyond their links (an IFB's traffic control,
        FDB entries, teamd, MACsec SAs) only if `kind_state`, its addresses only if
        `addresses`."""
        rt = self._rt(netns)
        ipr = _LazyIPRoute(self, netns)
        state = NetnsState(name=netns,
                           ipv6_default=functools.partial(self._new_links_get_ipv6, netns),
                           sysctl_reader=functools.partial(self._read_sysctl, netns))
        by_index: dict[int, LinkState] = {}
        masters: dict[int, int] = {}
        raws = self._dumps[netns] = rtnl.dump_links(rt, counters)
        for raw in raws:
            if raw.has_info_data and kind_options:  # a kind's own attributes
                layout = info_layout(raw.kind)
                if layout:  # declared by the kind: read here
                    link = lean_link(raw)
                    link.info_data = decode_info_data(layout, rtnl.info_data_of(raw.raw))
                else:  # pyroute2 knows the kind
                    link = decode_link(rtnl.full_link(raw.raw))
            else:
                link = lean_link(raw)
            link.attrs_data = functools.partial(read_link_attrs, raw.raw, raw.flags)
            by_index[link.index] = link
            if raw.master:
                masters[link.index] = raw.master
                # compared only with a file's `port_options` (no teardown); `show` reports them
                if kind_options if port_options is None else port_options:
                    link.port_options = read_port_options(raw.raw)
        for idx, master in masters.items():
            if master in by_index:
                by_index[idx].master = by_index[master].name
        state.links = {link.name: link for link in by_index.values()}
        names = {i: link.name for i, link in by_index.items()}
        self._indexes[netns] = {name: i for i, name in names.items()}
        for index, address, scope in rtnl.dump_addresses(rt) if addresses else ():
            if index in names:
                state.addresses.append(AddressState(names[index], address, scope))
        for family in (socket.AF_INET, socket.AF_INET6):
            for msg in rtnl.dump_routes(rt, family, 0 if foreign_routes else RTPROT_VNET):
                route = decode_route(msg, family, names)
                if route is not None:
                    state.routes.append(route)
        if not tc and kind_state:
            from ..kinds import READS_TC  # the registry's sets; no kind class is imported
            tc = any(link.kind in READS_TC for link in by_index.values())
        if tc:
            state.qdiscs, state.tc_classes, state.tc_filters = read_tc(ipr, names)
        if kind_state:
            state.fdb = read_fdb(rt, state.links)
            read_teamd(netns, state.links)
            state.macsec = self.read_macsec(netns, state.links)
            state.wireguard = self.read_wireguard(netns, state.links)
        if vlans:
            state.bridge_vlans = read_bridge_vlans(ipr, state.links)
        if any(link.parent_netnsid is not None for link in by_index.values()):
            # on first use only: a request per named namespace, for each namespace read
            state.netns_ids = functools.partial(self._netns_ids, rt)
        return state

    def _netns_ids(self, rt: rtnl.Rtnl) -> dict[int, str | None]:
        """The ids the namespace of socket `rt` knows the others by (asking assigns none):
        id -> name, None being where vnet runs."""
        out: dict[int, str | None] = {}
        for name in [None, *sorted(self.list_netns())]:
            try:
                fd = self.netns_fd(name)
            except OSError:  # deleted meanwhile
                continue
            try:
                nsid = rt.netns_id(fd)
            except (OSError, KernelError):
                nsid = None
            finally:
                os.close(fd)
            if nsid is not None:
                out.setdefault(nsid, name)
        return out

    # ---- writing -------------------------------------------------------------------------
    def send(self, requests: Sequence[Request]) -> None:
        """Carry out requests in order; the first refusal raises KernelError naming it."""
        for req in requests:
            self.execute(req)

    def _forget_cached(self) -> None:
        """Drop what was read of links (indexes, loopbacks): a request may have changed it."""
        self._indexes.clear()
        self._index_misses.clear()
        self._loopbacks.clear()
        self._dumps.clear()
        self._next_index.clear()

    def operations(self) -> Mapping[str, Handler]:
        """Every operation of the catalogue (vnet.actions.OPERATIONS) -> its handler."""
        if self._table is None:
            self._table = check_table("Netlink", {
                "netns.add": self._op_netns_add,
                "netns.del": self._op_netns_del,
                "link.add": self._op_link_add,
                "link.del": self._op_link_del,
                "link.set": self._op_link_set,
                "link.setref": self._op_link_setref,
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
                "tc.qdisc_add": self._op_tc_qdisc_add,
                "tc.qdisc_replace": self._op_tc_qdisc_replace,
                "tc.qdisc_del": self._op_tc_qdisc_del,
                "tc.netem_set": self._op_tc_netem_set,
                "tc.class_add": self._op_tc_class_add,
                "tc.class_replace": self._op_tc_class_replace,
                "tc.redirect_add": self._op_tc_redirect_add,
                "tc.redirect_del": self._op_tc_redirect_del,
                "macsec.add_txsa": self._op_macsec_add_txsa,
                "macsec.del_txsa": self._op_macsec_del_txsa,
                "macsec.upd_txsa": self._op_macsec_upd_txsa,
                "macsec.add_rxsc": self._op_macsec_add_rxsc,
                "macsec.del_rxsc": self._op_macsec_del_rxsc,
                "macsec.upd_rxsc": self._op_macsec_upd_rxsc,
                "macsec.add_rxsa": self._op_macsec_add_rxsa,
                "macsec.del_rxsa": self._op_macsec_del_rxsa,
                "macsec.upd_rxsa": self._op_macsec_upd_rxsa,
                "wireguard.set": self._op_wireguard_set,
                "wireguard.set_peer": self._op_wireguard_set_peer,
                "wireguard.del_peer": self._op_wireguard_del_peer,
                "teamd.start": self._op_teamd_start,
                "teamd.stop": self._op_teamd_stop,
            })
        return self._table

    def execute(self, req: Request) -> None:
        handler = self.operations()[req.op]
        done = False
        try:
            handler(req.netns, **req.args)
            done = True
        except KernelError:
            raise
        except Exception as exc:
            if not isinstance(exc, OSError):
                from pyroute2.netlink.exceptions import NetlinkError
                if not isinstance(exc, NetlinkError):
                    raise
            code, detail = errno_of(exc)
            raise KernelError(req.describe(), code, detail) from None
        finally:
            self._dumps.clear()  # a dump holds more than names and indexes: flags, masters
            if req.op not in _KEEPS_LINK_CACHES or not done:  # a failed request may have
                self._forget_cached()                          # done part of its work

    #: requests `send_bulk` takes: runs of link deletions become one group deletion, runs of
    #: namespace deletions are unmounted together
    BULK_OPS = frozenset({"link.del", "netns.del"})

    def send_bulk(self, batches: Sequence[Sequence[Request]]) -> tuple[int, KernelError | None]:
        """Carry out consecutive actions made only of `link.del` and `netns.del` requests;
        returns how many actions are done and the error of the first that failed (None: all
        done). Namespaces go as `_delete_namespaces` says.

        Deleting links one by one costs the kernel a synchronisation each; `ip link del group
        N` removes many in one go. Which groups, exactly, deletion.py chooses (pure, shared
        with the fake kernel); each link moved into a deletion group is a request the kernel
        must serve, costly in a namespace of many links."""
        seen = self._dumps.copy()  # what observe read, if nothing changed since: no new dump
        self._forget_cached()
        done = 0
        for op, netns, start, end in deletion.runs(batches):
            if op == "netns.del":
                ok, err = self._delete_namespace_actions(batches[start:end])
            else:  # a deletion here may take veth peers elsewhere: later runs read anew
                ok, err = self._delete_as_group(netns, batches[start:end],
                                                seen.get(netns) if start == 0 else None)
            done += ok
            if err is not None:
                return done, err
        return done, None

    def _delete_namespace_actions(self, batches: Sequence[Sequence[Request]]
                                  ) -> tuple[int, KernelError | None]:
        """send_bulk's namespace deletions: how many actions are done, and the error."""
        items = [(r.args["name"], r.args.get("group")) for batch in batches for r in batch]
        gone, err = self._delete_namespaces(items)
        self._forget_cached()
        done = 0
        while done < len(batches) and gone >= len(batches[done]):
            gone -= len(batches[done])
            done += 1
        return done, err

    def _delete_as_group(self, netns: str | None, batches: Sequence[Sequence[Request]],
                         links: list[rtnl.RawLink] | None = None
                         ) -> tuple[int, KernelError | None]:
        rt = self._rt(netns)
        if links is None:
            links = rtnl.dump_links(rt, counters=False)
        by_index = {link.index: link for link in links}
        members = [deletion.Member(
            link.index, link.name, link.group,
            peer=link.parent_index if is_paired(link.kind) and link.parent_netnsid is None
            and link.parent_index in by_index else None,
            master=link.master or None, up=bool(link.flags & IFF_UP)) for link in links]
        chosen = deletion.choose_groups(members, batches, os.getpid())
        batches = batches[:chosen.actions]
        whole, group, quieted = chosen.whole, chosen.free_group, chosen.quiet
        moved: list[int] = []
        for index in chosen.move:
            try:
                rt.request(rtnl.setlink(index, group=group))
            except OSError as exc:
                if exc.errno == errno.ENODEV:
                    continue  # gone meanwhile (with its peer): the goal holds
                self._ungroup(rt, moved, by_index)
                code, detail = errno_of(exc)
                return 0, KernelError(f"move {by_index[index].name} into a deletion group",
                                      code, detail)
            moved.append(index)
        # a running bridge (or bond) recomputes its state for each port it loses: down first
        for index in quieted:
            try:
                rt.request(rtnl.setlink(index, up=False))
            except OSError:  # it is deleted all the same
                pass
        for target in [*whole, *([group] if moved else [])]:
            try:
                rt.request(rtnl.dellink(group=target))
            except OSError as exc:
                for index in quieted:  # what stays as it was
                    try:
                        rt.request(rtnl.setlink(index, up=True))
                    except OSError:  # gone after all
                        pass
                self._ungroup(rt, moved, by_index)
                code, detail = errno_of(exc)
                err = KernelError(f"delete link group {target}", code, detail)
                return self._still_done(rt, batches), err
        if chosen.missing is not None:
            return chosen.actions, KernelError(chosen.missing.describe(), errno.ENODEV)
        return len(batches), None

    @staticmethod
    def _ungroup(rt: rtnl.Rtnl, moved: Iterable[int], by_index: dict[int, rtnl.RawLink]) -> None:
        """Put links moved into a deletion group back into their own groups."""
        for index in moved:
            try:
                rt.request(rtnl.setlink(index, group=by_index[index].group))
            except OSError:  # gone after all
                pass

    @staticmethod
    def _still_done(rt: rtnl.Rtnl, batches: Sequence[Sequence[Request]]) -> int:
        """How many of `batches`, from the first, hold only links that are gone."""
        left = {link.name for link in rtnl.dump_links(rt, counters=False)}
        done = 0
        while done < len(batches) and not any(r.args["ifname"] in left for r in batches[done]):
            done += 1
        return done


    def _index(self, netns: str | None, ifname: str) -> int:
        """The ifindex of a link by name. Asking the kernel per lookup would cost requests per
        interface, so the indexes of a dump are reused until a request may have
        changed them; after a few misses in a row, one dump refills them. A name the dump did
        not see is still asked for (a link made since by someone else is found), and kept."""
        rt = self._rt(netns)
        known = self._indexes.get(netns)
        if known is None:
            misses = self._index_misses[netns] = self._index_misses.get(netns, 0) + 1
            if misses > _MISSES_BEFORE_DUMP:
                known = self._indexes[netns] = rtnl.dump_indexes(rt)
        found = known.get(ifname) if known is not None else None
        if found is None:
            found = rt.link_index(ifname)
            if found is not None and known is not None:
                known[ifname] = found
        if found is None:
            raise KernelError(f"find {netns + '/' if netns else ''}{ifname}", errno.ENODEV)
        return found

    def _op_netns_add(self, netns: None, name: str, marker: str) -> None:
        self._create_netns(name, marker)

    def _op_netns_del(self, netns: None, name: str, group: int | None = None) -> None:
        _, err = self._delete_namespaces([(name, group)])
        if err is not None:
            raise err

    def _op_link_add(self, netns: str | None, ifname: str, kind: str, marker: str | None,
                     info_data: dict[str, Any], parent: str | None = None,
                     parent_netns: str | None = None, peer: dict[str, Any] | None = None,
                     mtu: int | None = None, mac: str | None = None,
                     tuntap: dict[str, Any] | None = None,
                     parent_attr: str = "link", teamd: dict[str, Any] | None = None,
                     group: int | None = None, attrs: dict[str, Any] | None = None,
                     made_in: dict[str, Any] | None = None) -> None:
        fds: list[int] = []
        attrs = dict(attrs or {})
        # the queue counts go into the creating request (the kernel fixes them then); the
        # other attributes are set once the link exists
        queues = _pop_queues(attrs)
        if peer is not None and peer.get("attrs"):
            peer = {**peer, "attrs": dict(peer["attrs"])}
            peer_queues = _pop_queues(peer["attrs"])
        else:
            peer_queues = {}
        if (queues or peer_queues) and (teamd is not None or tuntap is not None or (
                peer is not None and peer.get("nla") not in rtnl.PEER_NLAS)):
            made_by = ("teamd" if teamd is not None else "the tun driver's ioctl"
                       if tuntap is not None else "this kind's pair request")
            names = sorted({*queues, *peer_queues})
            raise KernelError(f"create link {ifname}", errno.EINVAL,
                              f"{' and '.join(names)} cannot be set on a link made by "
                              f"{made_by}: leave {' and '.join(names)} out of the file")
        try:
            if peer is not None and (queues or peer_queues):
                peer_fd = None
                if peer.get("netns") != netns:
                    fds.append(self.netns_fd(peer.get("netns")))
                    peer_fd = fds[-1]
                peer_body = rtnl.veth_peer(peer["ifname"], peer.get("mtu") or None,
                                           peer.get("mac") or None, peer_fd,
                                           peer.get("group")) + attr_bytes(peer_queues)
                msg, flags, body = rtnl.newlink(ifname, kind, mtu, mac, peer=peer_body,
                                                group=group)
                self._rt(netns).request((msg, flags, body + attr_bytes(queues)))
            elif queues:
                self._queues_link_add(netns, ifname, kind, info_data, parent, parent_netns,
                                      parent_attr, mtu, mac, group, queues, fds)
            elif made_in is not None:  # made in another namespace, moved here at once
                fds.append(self.netns_fd(netns))
                self._rt(made_in.get("netns")).request(rtnl.newlink(
                    ifname, kind, mtu, mac, netns_fd=fds[-1], group=group))
            elif teamd is not None:  # a team device is made by the teamd that drives it
                self._teamd_start(netns, ifname, marker or "", teamd["config"])
            elif tuntap is None and parent is None and not info_data and (
                    peer is None or peer.get("nla") in rtnl.PEER_NLAS):
                self._lean_link_add(netns, ifname, kind, mtu, mac, peer, fds, group)
            elif tuntap is not None:
                # tun/tap are made with an ioctl on /dev/net/tun, in the target namespace
                self._ipr(netns).link("add", ifname=ifname, kind="tuntap", **tuntap)
            elif peer is None and info_layout(kind):  # a layout the kind declares
                self._declared_link_add(netns, ifname, kind, info_data, parent, parent_netns,
                                        parent_attr, mtu, mac, group, fds)
            else:
                kw: dict[str, Any] = {"ifname": ifname, "kind": kind, **info_data}
                via = netns
                if parent is not None:
                    via = parent_netns
                    kw[parent_attr] = self._index(parent_netns, parent)
                    if parent_netns != netns:
                        fds.append(self.netns_fd(netns))
                        kw["net_ns_fd"] = fds[-1]
                if mtu is not None:
                    kw["mtu"] = mtu
                if mac is not None:
                    kw["address"] = mac
                if group is not None:
                    kw["group"] = group
                if peer is not None:
                    pk: dict[str, Any] = {"ifname": peer["ifname"]}
                    if peer.get("group") is not None:
                        pk["group"] = peer["group"]
                    if peer.get("netns") != netns:
                        fds.append(self.netns_fd(peer.get("netns")))
                        pk["net_ns_fd"] = fds[-1]
                    if peer.get("mtu"):
                        pk["mtu"] = peer["mtu"]
                    if peer.get("mac"):
                        pk["address"] = peer["mac"]
                    if peer.get("nla"):  # the kind names the attribute carrying its other end
                        from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
                        kw[peer["nla"]] = {"attrs": [[ifinfmsg.name2nla(k), v]
                                                     for k, v in pk.items()]}
                    else:
                        kw["peer"] = pk
                self._ipr(via).link("add", **kw)
            try:
                if marker:
                    crash_point("link made, not yet marked")
                    self._mark(netns, ifname, marker)
                    if peer is not None and peer.get("marker"):
                        self._mark(peer.get("netns"), peer["ifname"], peer["marker"])
                if (tuntap is not None or teamd is not None) and (mtu, mac) != (None, None):
                    self._op_link_set(netns, ifname, mtu=mtu, mac=mac)
                if (tuntap is not None or teamd is not None) and group is not None:
                    self._rt(netns).request(rtnl.setlink(self._index(netns, ifname),
                                                         group=group))
                if attrs:
                    self._rt(netns).request(setlink_attrs(self._index(netns, ifname), attrs))
                if peer is not None and peer.get("attrs"):
                    pns = peer.get("netns")
                    self._rt(pns).request(setlink_attrs(self._index(pns, peer["ifname"]),
                                                        peer["attrs"]))
            except BaseException:
                # the action fails, so no rollback will know of this link: it goes now, or
                # it would stay behind unmarked, a name vnet then refuses to take over
                self._remove_new_link(netns, ifname, marker if teamd is not None else None)
                raise
            self._follow_index(netns, ifname)
            if peer is not None:
                self._follow_index(peer.get("netns"), peer["ifname"])
        finally:
            for fd in fds:
                os.close(fd)

    def _lean_link_add(self, netns: str | None, ifname: str, kind: str, mtu: int | None,
                       mac: str | None, peer: dict[str, Any] | None, fds: list[int],
                       group: int | None) -> None:
        """`ip link add IFNAME type KIND [peer ...]` through the lean socket (no options)."""
        peer_fd = None
        if peer is not None and peer.get("netns") != netns:
            fds.append(self.netns_fd(peer.get("netns")))
            peer_fd = fds[-1]
        self._rt(netns).request(lean_newlink(ifname, kind, mtu, mac, peer, peer_fd, group))

    def _declared_link_add(self, netns: str | None, ifname: str, kind: str,
                           info_data: dict[str, Any], parent: str | None,
                           parent_netns: str | None, parent_attr: str, mtu: int | None,
                           mac: str | None, group: int | None, fds: list[int],
                           extra: bytes = b"") -> None:
        """Create a link whose kind declares its IFLA_INFO_DATA layout, encoded here; a child
        of a parent in another namespace is made there and moved in the same request.
        `extra`: more attributes for the request (a link's queue counts), with which a kind
        that has no data of its own sends no IFLA_INFO_DATA."""
        layout = info_layout(kind)
        data = dict(info_data)
        via, link, netns_fd = netns, None, None
        if parent is not None:
            via = parent_netns
            if parent_attr == "link":
                link = self._index(parent_netns, parent)
            else:  # the kind names its parent inside its own data
                data[parent_attr] = self._index(parent_netns, parent)
            if parent_netns != netns:
                fds.append(self.netns_fd(netns))
                netns_fd = fds[-1]
        encoded = encode_info_data(layout, data) \
            if data or (layout is not None and not extra) else None
        msg, flags, body = rtnl.newlink(ifname, kind, mtu, mac, netns_fd=netns_fd, group=group,
                                        link=link, info_data=encoded)
        self._rt(via).request((msg, flags, body + extra))

    def _queues_link_add(self, netns: str | None, ifname: str, kind: str,
                         info_data: dict[str, Any], parent: str | None,
                         parent_netns: str | None, parent_attr: str, mtu: int | None,
                         mac: str | None, group: int | None, queues: dict[str, Any],
                         fds: list[int]) -> None:
        """Create a link with its queue counts (`ip link add ... numtxqueues N`): the lean
        request, with the kind's data encoded here when the kind declares its layout, or
        through pyroute2 otherwise."""
        layout = info_layout(kind)
        if info_data and not layout:
            kw: dict[str, Any] = {"ifname": ifname, "kind": kind, **info_data,
                                  **{"num_tx_queues" if k == "numtxqueues" else
                                     "num_rx_queues": v for k, v in queues.items()}}
            via = netns
            if parent is not None:
                via = parent_netns
                kw[parent_attr] = self._index(parent_netns, parent)
                if parent_netns != netns:
                    fds.append(self.netns_fd(netns))
                    kw["net_ns_fd"] = fds[-1]
            for key, value in (("mtu", mtu), ("address", mac), ("group", group)):
                if value is not None:
                    kw[key] = value
            self._ipr(via).link("add", **kw)
            return
        self._declared_link_add(netns, ifname, kind, info_data, parent, parent_netns,
                                parent_attr, mtu, mac, group, fds, extra=attr_bytes(queues))

    def _remove_new_link(self, netns: str | None, ifname: str, team_marker: str | None) -> None:
        """Best effort: delete a link just created by an action that then failed (a team by
        stopping its teamd, which deletes it); a veth's peer goes with it."""
        from ..ownership import link_owner
        self._forget_cached()
        try:
            owner = link_owner([team_marker], ifname) if team_marker is not None else None
            if owner is not None:
                self._teamd_stop(netns, ifname, owner)
            else:
                self._op_link_del(netns, ifname, missing_ok=True)
        except (OSError, KernelError):  # the error that ended the action is what is reported
            pass

    def _mark(self, netns: str | None, ifname: str, marker: str) -> None:
        self._rt(netns).request(rtnl.add_altname(ifname, marker))

    def _op_link_del(self, netns: str | None, ifname: str, missing_ok: bool = False) -> None:
        found = self._rt(netns).link_index(ifname)
        if found is None and missing_ok:  # gone with its veth peer or its namespace
            return
        self._rt(netns).request(rtnl.dellink(self._index(netns, ifname)))

    def _op_link_set(self, netns: str | None, ifname: str, mtu: int | None = None,
                     mac: str | None = None, kind: str | None = None,
                     info_data: dict[str, Any] | None = None,
                     attrs: dict[str, Any] | None = None) -> None:
        if attrs:
            self._rt(netns).request(setlink_attrs(self._index(netns, ifname), attrs))
        kw: dict[str, Any] = {}
        if mtu is not None:
            kw["mtu"] = mtu
        if mac is not None:
            kw["address"] = mac
        layout = info_layout(kind) if info_data else ()
        if layout and kind is not None and info_data:  # a layout the kind declares
            index = self._index(netns, ifname)
            self._rt(netns).request(rtnl.changelink(index, kind,
                                                    encode_info_data(layout, info_data)))
        elif info_data:
            kw["kind"] = kind
            kw.update(info_data)
        if kw:
            self._ipr(netns).link("set", index=self._index(netns, ifname), **kw)

    def _op_link_master(self, netns: str | None, ifname: str, master: str | None) -> None:
        if master and vnet_runs_teamd(netns, master):  # teamd adds its ports itself
            self._team_port_add(netns, ifname, master)
            return
        target = self._index(netns, master) if master else 0
        self._rt(netns).request(rtnl.setlink(self._index(netns, ifname), master=target))

    def _read_sysctl(self, netns: str | None, path: str) -> str | None:
        """The text of /proc/sys/PATH as namespace `netns` has it (None: no such file)."""
        fd = self.netns_fd(netns)
        try:
            with rtnl.inside(fd), open(os.path.join("/proc/sys", path)) as f:
                return f.read().strip()
        except FileNotFoundError:
            return None
        finally:
            os.close(fd)

    def _op_sysctl_set(self, netns: str | None, path: str, value: str) -> None:
        """Write `value` to /proc/sys/PATH in namespace `netns` (the files of /proc/sys/net
        are those of the namespace of the thread that opens them)."""
        fd = self.netns_fd(netns)
        try:
            with rtnl.inside(fd), open(os.path.join("/proc/sys", path), "w") as f:
                f.write(value)
        finally:
            os.close(fd)

    def _op_link_port_options(self, netns: str | None, ifname: str, master_kind: str,
                              options: dict[str, Any]) -> None:
        if master_kind == "team":  # a team's port options live in its teamd
            self._team_port_options(netns, ifname, options)
            return
        self._rt(netns).request(set_port_options(self._index(netns, ifname), master_kind,
                                                 options))

    def _op_link_state(self, netns: str | None, ifname: str, up: bool) -> None:
        self._rt(netns).request(rtnl.setlink(self._index(netns, ifname), up=up))

    def _op_addr_add(self, netns: str | None, ifname: str, address: str) -> None:
        # IPv6: permanent, no DAD delay (rtnl.address): lab addresses work at once
        self._rt(netns).request(rtnl.address(True, self._index(netns, ifname), address))

    def _op_addr_del(self, netns: str | None, ifname: str, address: str) -> None:
        self._rt(netns).request(rtnl.address(False, self._index(netns, ifname), address))

    def _route_args(self, netns: str | None, to: str, via: str | None, dev: str | None,
                    metric: int, table: int, family: int) -> dict[str, Any]:
        kw: dict[str, Any] = {"family": socket.AF_INET6 if family == 6 else socket.AF_INET,
                              "table": table, "priority": metric}
        kw["dst"] = "default" if to == "default" else to
        if via:
            kw["gateway"] = via
        if dev:
            kw["oif"] = self._index(netns, dev)
        return kw

    def _op_route_add(self, netns: str | None, **route: Any) -> None:
        args = self._route_args(netns, **route)
        if route.get("family") != 6 and not route.get("via"):
            # an IPv4 route to a link without a gateway reaches hosts on that link: scope
            # link, as `ip route add NET dev X` makes it (pyroute2 would leave it universe)
            args["scope"] = RT_SCOPE_LINK
        self._ipr(netns).route("add", proto=RTPROT_VNET, **args)

    def _op_route_del(self, netns: str | None, **route: Any) -> None:
        # any scope, as `ip route del` asks: the kernel deletes only a route of the scope a
        # request names, and a route to a link (scope link, see _op_route_add) is no universe
        self._ipr(netns).route("del", scope=RT_SCOPE_NOWHERE, **self._route_args(netns, **route))


#: requests that leave every link's name and ifindex as they were (the caches hold). A
#: creation adds names and changes no other link's; the new names' indexes are asked for one
#: by one and kept (a plan addresses each new link right after creating it: dropping the
#: cache at each creation sent every later lookup to the kernel, or to a dump of every link)
_KEEPS_LINK_CACHES = frozenset({"addr.add", "addr.del", "link.add", "link.state",
                                "link.master", "link.set", "link.port_options", "route.add",
                                "route.del"})
#: lookups by name answered one by one before a whole dump is cheaper
_MISSES_BEFORE_DUMP = 8


class _LazyIPRoute:
    """What the tc/fdb readers call on a namespace's pyroute2 socket; the qdisc dump comes from
    the lean socket and pyroute2 is opened only if a reader needs more."""

    def __init__(self, backend: Netlink, netns: str | None) -> None:
        self.backend = backend
        self.netns = netns

    def get_qdiscs(self) -> list[Any]:
        return rtnl.dump_qdiscs(self.backend._rt(self.netns))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend._ipr(self.netns), name)


@contextmanager
def kernel() -> Iterator[Netlink]:
    """A Netlink backend that closes its sockets when done."""
    nl = Netlink()
    try:
        yield nl
    finally:
        nl.close()


def _pop_queues(attrs: dict[str, Any]) -> dict[str, Any]:
    """Take the queue counts (set only by the creating request) out of `attrs`."""
    return {k: attrs.pop(k) for k in ("numtxqueues", "numrxqueues") if k in attrs}
