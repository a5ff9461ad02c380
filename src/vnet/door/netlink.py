"""The live kernel behind vnet's one door (the `backend` package): netlink and the netns bind
mounts.

Common requests and dumps go through the lean rtnetlink path (rtnl.py); pyroute2 serves the
rest. Op groups that need more than a few lines are mixins beside this file (fdb, tc,
bridge_vlan, macsec, teamd); probes.py holds the checks' sockets. Nothing outside `backend`
opens a socket, mounts, or runs a program. Requests are plain data (`Request`), so callers
build lists of them without a kernel and `send`/`send_bulk` can batch them.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import resource
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from ..actions import Request
from ..errors import KernelError
from ..observe import AddressState, LinkState, NetnsState, Observed, RouteState, gather
from . import deletion, rtnl
from .bridge_vlan import BridgeVlanOps, read_bridge_vlans
from .fdb import FdbOps, read_fdb
from .macsec import MacsecOps
from .protocol import Handler, Scope, check_table
from .tc import TcOps, read_tc
from .teamd import TeamdOps, read_teamd

NETNS_DIR = "/run/netns"
RTPROT_VNET = 118  # the routing protocol number vnet gives its routes (iproute2: proto 118)
IFF_UP = 0x1
_OPER = {0: "UNKNOWN", 1: "NOTPRESENT", 2: "DOWN", 3: "LOWERLAYERDOWN", 4: "TESTING",
         5: "DORMANT", 6: "UP"}

_CLONE_NEWNET = 0x40000000
_MS_BIND = 4096
_MS_REC = 16384
_MS_SHARED = 1 << 20
_MNT_DETACH = 2


@functools.cache
def _libc() -> ctypes.CDLL:
    # once: each CDLL builds its own function-pointer class (a 1,000-namespace star asks 2,000
    # times)
    return ctypes.CDLL(None, use_errno=True)


class Netlink(FdbOps, TcOps, BridgeVlanOps, MacsecOps, TeamdOps):
    """A live kernel. One netlink socket per namespace, opened on first use.

    Operations are `_op_<group>_<verb>` methods, reached through `execute(Request)`; groups
    that need more than a few lines live in mixins beside this file (fdb.py, tc.py)."""

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
            from pyroute2 import IPRoute
            _teach_pyroute2()
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
        at most _LEAN_OPEN stay open (a star of 1,000 namespaces must not exhaust fds)."""
        rt = self._lean.pop(netns, None)
        if rt is None:
            if len(self._lean) >= _LEAN_OPEN:
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

    # ---- namespaces ----------------------------------------------------------------------
    def list_netns(self) -> set[str]:
        try:
            return {n for n in os.listdir(NETNS_DIR) if not n.startswith(".")}
        except FileNotFoundError:
            return set()

    def netns_fd(self, netns: str | None) -> int:
        path = "/proc/self/ns/net" if netns is None else os.path.join(NETNS_DIR, netns)
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def _open_netns(self, netns: str) -> int:
        """netns_fd, or a KernelError naming the namespace when it does not exist."""
        try:
            return self.netns_fd(netns)
        except FileNotFoundError:
            raise KernelError(f"open namespace {netns}", errno.ENOENT,
                              f"{NETNS_DIR}/{netns} does not exist") from None

    @contextmanager
    def _reach(self, netns: str, fd: int | None = None
               ) -> Iterator[tuple[rtnl.Rtnl, int | None]]:
        """A socket serving link requests in the named namespace, and the id to name it by in
        them (IFLA_TARGET_NETNSID): the root socket and the id the caller's namespace knows it
        by, when it has one (a veth into it gives it one) and no socket is open inside it yet;
        else a socket inside it and None. Opening a socket inside each namespace (and again,
        past _LEAN_OPEN of them) was a third of a 1,000-namespace teardown. The namespace's
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

    def _create_netns(self, name: str) -> None:
        """`ip netns add`: a new network namespace bind-mounted at /run/netns/NAME."""
        libc = _libc()
        os.makedirs(NETNS_DIR, exist_ok=True)
        if libc.mount(b"", NETNS_DIR.encode(), b"none", _MS_SHARED | _MS_REC, None) != 0:
            libc.mount(NETNS_DIR.encode(), NETNS_DIR.encode(), b"none", _MS_BIND | _MS_REC, None)
            libc.mount(b"", NETNS_DIR.encode(), b"none", _MS_SHARED | _MS_REC, None)
        path = os.path.join(NETNS_DIR, name)
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
        except FileExistsError:
            raise KernelError(f"create namespace {name}", errno.EEXIST) from None
        # unshare and setns act on the calling thread only: this thread steps into a new
        # namespace, binds it to the file and steps back (no fork: 1,000 namespaces in a star)
        code = 0
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.unshare(_CLONE_NEWNET) != 0:
                code = ctypes.get_errno() or 1
            else:
                if libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", _MS_BIND,
                              None) != 0:
                    code = ctypes.get_errno() or 1
                if libc.setns(own, _CLONE_NEWNET) != 0:
                    os._exit(70)  # stranded in the new namespace: nothing safe is left to do
        finally:
            os.close(own)
        if code != 0:
            os.unlink(path)
            raise KernelError(f"create namespace {name}", code)

    def _delete_namespaces(self, items: Sequence[tuple[str, int | None]]
                           ) -> tuple[int, KernelError | None]:
        """Delete named namespaces, each with the topology's link `group` inside it first;
        returns how many are gone and the error that stopped the rest (None: all gone).

        The kernel dismantles a namespace asynchronously once its last reference goes: its
        devices (a macvtap's /dev/tapN, a veth's peer outside) would linger for a moment.
        Deleting the group inside first, in one call, makes that part synchronous: when
        destroy returns, what vnet made there is gone. (Reading each namespace to delete its
        pairs one by one cost a 1,000-namespace teardown a fifth of its time.)

        The namespaces' files are held open until a run's bind mounts are all gone: each
        unmount that drops a namespace's last reference sets the kernel dismantling it on the
        other core while the next is unmounted, and the unmounts then stalled by up to 100 ms
        (1,000 took 0.15-0.3 s, 0.02 s by `ip netns del`); held, they take 0.05 s and the
        kernel dismantles the run at once after. A run is as many as the limit on open files
        allows, raised for the while (Debian's default soft limit is 1,024): 1,000 unmounts
        in runs of 256 took 0.10-0.13 s, in one run 0.05 s."""
        with _room_for_files(len(items)) as room:
            return self._delete_namespace_runs(items, room)

    def _delete_namespace_runs(self, items: Sequence[tuple[str, int | None]], room: int
                               ) -> tuple[int, KernelError | None]:
        done = 0
        for first in range(0, len(items), room):
            held: list[tuple[str, int]] = []
            missing: KernelError | None = None
            try:
                for name, group in items[first:first + room]:
                    self._stop_teamds_in(name)  # a running teamd would keep it alive
                    try:
                        fd = self._open_netns(name)
                    except KernelError as err:  # those before it still go
                        missing = err
                        break
                    held.append((name, fd))
                    if group is not None:
                        try:
                            with self._reach(name, fd) as (rt, nsid):
                                rt.request(rtnl.dellink(group=group, target=nsid))
                        except (OSError, KernelError):  # ENODEV: none left; else the
                            pass                        # kernel's cleanup does it
                for name, _ in held:
                    refused = self._unmount_netns(name)
                    if refused is not None:
                        return done, refused
                    done += 1
            finally:
                for _, fd in held:
                    os.close(fd)
            if missing is not None:
                return done, missing
        return done, None

    def _unmount_netns(self, name: str) -> KernelError | None:
        """`ip netns del` proper: close vnet's sockets inside, unmount and unlink the file."""
        ipr = self._sockets.pop(name, None)
        if ipr is not None:
            ipr.close()
        rt = self._lean.pop(name, None)
        if rt is not None:
            rt.close()
        path = os.path.join(NETNS_DIR, name)
        if _libc().umount2(path.encode(), _MNT_DETACH) != 0:
            code = ctypes.get_errno()
            if code != errno.EINVAL:  # EINVAL: not a mount point any more
                return KernelError(f"delete namespace {name}", code)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return None

    # ---- reading -------------------------------------------------------------------------
    def observe(self, scope: Scope) -> Observed:
        """Links, addresses, routes (and what kinds keep) of each namespace of the scope that
        exists, without packet counters, which planning never reads; of each only what the
        scope asks (see Scope). Traffic control is also read wherever a live link's kind
        reads it (an IFB)."""
        shallow = scope.shallow

        def read(ns: str | None) -> NetnsState:
            if ns is not None and ns in shallow:
                return self._read_loopback(ns)
            return self.read_netns(ns, counters=False,
                                   foreign_routes=scope.reads(scope.route_netns, ns),
                                   tc=scope.reads(scope.tc_netns, ns),
                                   vlans=scope.reads(scope.vlan_netns, ns),
                                   kind_options=scope.kind_options,
                                   addresses=scope.reads(scope.addr_netns, ns))
        return gather(self, scope.namespaces, read)

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

    def _read_loopback(self, netns: str) -> NetnsState:
        lo = self._loopback(netns)
        return NetnsState(name=netns, links={} if lo is None else {"lo": _lean_link(lo)})

    def read_netns(self, netns: str | None, counters: bool = True,
                   foreign_routes: bool = True, tc: bool = True,
                   vlans: bool = True, kind_options: bool = True,
                   addresses: bool = True) -> NetnsState:
        """One namespace's state; its traffic control only if `tc` or if a live link's kind
        reads it, its bridge VLANs only if `vlans`, the links' kind options only if
        `kind_options`, its addresses only if `addresses`."""
        rt = self._rt(netns)
        ipr = _LazyIPRoute(self, netns)
        state = NetnsState(name=netns,
                           ipv6_default=functools.partial(self._new_links_get_ipv6, netns))
        by_index: dict[int, LinkState] = {}
        masters: dict[int, int] = {}
        raws = self._dumps[netns] = rtnl.dump_links(rt, counters)
        for raw in raws:
            if raw.has_info_data and kind_options:  # pyroute2 parses a kind's own attributes
                self._ipr(netns)  # (its socket teaches pyroute2 the kinds' layouts)
                link = _decode_link(rtnl.full_link(raw.raw))
            else:
                link = _lean_link(raw)
            by_index[link.index] = link
            if raw.master:
                masters[link.index] = raw.master
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
                route = _decode_route(msg, family, names)
                if route is not None:
                    state.routes.append(route)
        if tc or any(cls.reads_tc for cls in map(_kind_class, {link.kind for link in
                                                                  by_index.values()}) if cls):
            state.qdiscs, state.tc_classes, state.tc_filters = read_tc(ipr, names)
        state.fdb = read_fdb(ipr, state.links)
        read_teamd(netns, state.links)
        state.macsec = self.read_macsec(netns, state.links)
        if vlans:
            state.bridge_vlans = read_bridge_vlans(ipr, state.links)
        return state

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
            code, detail = _errno_of(exc)
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

        Deleting links one by one costs the kernel a synchronisation each (83 s for 10k);
        `ip link del group N` removes many in one go, and only exactness decides which group:
        - a group whose every link is going (a topology's own group, which vnet gives the
          links it creates, when the whole topology goes) is deleted as it is;
        - the other links are first moved into a group no link of the namespace uses. Of a
          pair whose ends are both here and both going, one end moves: the kernel deletes its
          peer with it, and each move is a request the kernel must serve (5 ms each at 10k
          links on this machine's kernel)."""
        seen = self._dumps.copy()  # what observe read, if nothing changed since: no new dump
        self._forget_cached()
        done = 0
        while done < len(batches):
            op, netns = batches[done][0].op, batches[done][0].netns
            run = done
            while run < len(batches) and all(r.op == op and r.netns == netns
                                             for r in batches[run]):
                run += 1
            if op == "netns.del":
                ok, err = self._delete_namespace_actions(batches[done:run])
            else:  # a deletion here may take veth peers elsewhere: later runs read anew
                ok, err = self._delete_as_group(netns, batches[done:run],
                                                seen.get(netns) if done == 0 else None)
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
            peer=link.parent_index if _is_paired(link.kind) and link.parent_netnsid is None
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
                code, detail = _errno_of(exc)
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
                code, detail = _errno_of(exc)
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

    # ---- batches of independent requests ------------------------------------------------
    def batchable(self, req: Request) -> bool:
        """Whether `send_batched` can carry out `req`: an address added, a link set up or
        down, or a link the lean path creates (no parent, no options, both ends of a pair in
        one namespace) in a namespace whose new links get no IPv6."""
        if req.op in ("addr.add", "link.state"):
            return True
        args = req.args
        peer = args.get("peer")
        return (req.op == "link.add" and args.get("teamd") is None
                and args.get("tuntap") is None and args.get("parent") is None
                and not args.get("info_data")
                and (peer is None or (peer.get("nla") in rtnl.PEER_NLAS
                                      and peer.get("netns") == req.netns))
                and not self._new_links_get_ipv6(req.netns))

    def _new_links_get_ipv6(self, netns: str | None) -> bool:
        """Whether links made in the namespace get IPv6 (its default.disable_ipv6 is 0).

        There, creations go one by one: the kernel's IPv6 work for each new link runs in
        workers that take the lock the requests take, and creations sent back to back made
        them contend (10k links: 9 s of system time in vnet's requests instead of 5 s, and
        bringing the links up afterwards took twice as long). Without IPv6 the batches save
        a fifth of the apply."""
        known = self._ipv6.get(netns)
        if known is None:
            try:
                known = _read_ipv6_default(None if netns is None else self._open_netns(netns))
            except (KernelError, OSError):  # the one-by-one path says what is wrong
                return True
            self._ipv6[netns] = known
        return known

    def send_batched(self, batches: Sequence[Sequence[Request]],
                     progress: Callable[[int], None] | None = None,
                     ) -> tuple[list[int], tuple[int, KernelError] | None]:
        """Carry out consecutive actions made only of `batchable` requests, many requests to
        a system call. Returns the actions done, by position (an action counts as done once
        its first request is: a link created whose marking failed is there to be rolled
        back), and the first action that failed with its error (None: none failed).
        `progress(n)` hears how many actions have been sent so far.

        One request at a time costs a sendmsg, a recv and the Python around them: at 10k
        interfaces, a fifth of what the kernel itself needs. Here the requests of a slice of
        actions are encoded first (a new link gets an ifindex chosen here, one past the
        namespace's highest, so its addresses, markers and state can be encoded before it
        exists) and go in two rounds, each in the plan's order (see _send_rounds): first the
        creations and the requests on links that existed before, then the requests on the
        links just made, only when every request of the first round was carried out. Inside
        a sendmsg the kernel carries on after a refusal, so a round holds only requests that
        are harmless whatever became of the others: a creation never touches an existing link
        (a name or index taken is refused), the rest touch links that exist and are declared.
        A refusal ends the run after its sendmsg; the caller rolls back what was done."""
        self._dumps.clear()
        done: list[int] = []
        start = 0
        try:
            while start < len(batches):
                msgs: list[_Batched] = []
                fresh: dict[tuple[str | None, str], int] = {}
                failure: tuple[int, KernelError] | None = None
                end = start
                while end < len(batches) and len(msgs) < _BATCH and failure is None:
                    mark = len(msgs)
                    for req in batches[end]:
                        try:
                            self._encode_batched(req, end, fresh, msgs)
                        except KernelError as err:
                            del msgs[mark:]  # none of this action's requests go
                            failure = (end, err)
                            break
                    else:
                        end += 1
                answers = self._send_rounds(msgs)
                refused: tuple[int, KernelError] | None = None
                seen = -1
                for msg, answer in zip(msgs, answers, strict=True):
                    if msg.action != seen:  # the action's first request: done when it is
                        seen = msg.action
                        if answer is None:
                            done.append(seen)
                    if isinstance(answer, BaseException) and refused is None:
                        refused = (seen, _kernel_error(msg.req, answer))
                refused = refused or failure
                if refused is not None:
                    self._forget_cached()
                    return done, refused
                for (netns, ifname), index in fresh.items():
                    known = self._indexes.get(netns)
                    if known is not None:
                        known[ifname] = index
                start = end
                if progress is not None:
                    progress(start)
        finally:
            self._dumps.clear()
        return done, None

    def _encode_batched(self, req: Request, position: int,
                        fresh: dict[tuple[str | None, str], int], out: list[_Batched]) -> None:
        """Append the messages of one batchable request to `out`; `fresh` holds the indexes
        given to the links this slice creates (requests on them go in the second round)."""
        netns, args = req.netns, req.args
        self._rt(netns)  # a missing namespace fails this action, before anything is sent
        if req.op == "link.add":
            index = self._free_index(netns)
            peer = args.get("peer")
            peer_index = self._free_index(netns) if peer is not None else 0
            out.append(_Batched(position, req, netns, 0, _lean_newlink(
                args["ifname"], args["kind"], args.get("mtu"), args.get("mac"), peer, None,
                args.get("group"), index, peer_index)))
            fresh[(netns, args["ifname"])] = index
            if peer is not None:
                fresh[(netns, peer["ifname"])] = peer_index
            if args.get("marker"):
                out.append(_Batched(position, req, netns, 1,
                                    rtnl.add_altname(args["ifname"], args["marker"], index)))
                if peer is not None and peer.get("marker"):
                    out.append(_Batched(position, req, netns, 1, rtnl.add_altname(
                        peer["ifname"], peer["marker"], peer_index)))
            return
        made = fresh.get((netns, args["ifname"]))
        second = made is not None
        index = made if made is not None else self._index(netns, args["ifname"])
        msg = (rtnl.address(True, index, args["address"]) if req.op == "addr.add"
               else rtnl.setlink(index, up=args["up"]))
        out.append(_Batched(position, req, netns, 1 if second else 0, msg))

    def _free_index(self, netns: str | None) -> int:
        """An ifindex no link of the namespace has: one past the highest. The highest is read
        once and then followed (`_follow_index`): reading it again for each run cost a dump
        of the namespace per run, quadratic where lean creations alternate with others."""
        index = self._next_index.get(netns)
        if index is None:
            known = self._indexes[netns] = rtnl.dump_indexes(self._rt(netns))
            self._index_misses[netns] = 0
            index = max(known.values(), default=0) + 1
        self._next_index[netns] = index + 1
        return index

    def _follow_index(self, netns: str | None, ifname: str) -> None:
        """Keep `_free_index` past a link the kernel just numbered in the namespace: it numbers
        on from where it last did, skipping taken indexes, so it lands on vnet's next pick."""
        next_free = self._next_index.get(netns)
        if next_free is not None:
            self._next_index[netns] = max(next_free, self._index(netns, ifname) + 1)

    def _send_rounds(self, msgs: list[_Batched]) -> list[BaseException | bool | None]:
        """Each message's answer: None done, an exception refused, False not sent.

        A round goes in the plan's order, one sendmsg per stretch of messages for the same
        namespace: a VLAN is brought up after its parent in another namespace, never before
        (the kernel refuses it, ENETDOWN). The first stretch with a refusal is the last."""
        answers: list[BaseException | bool | None] = [False] * len(msgs)
        for round_ in (0, 1):
            stretches: list[list[int]] = []
            for i, msg in enumerate(msgs):
                if msg.round == round_:
                    if stretches and msgs[stretches[-1][0]].netns == msg.netns:
                        stretches[-1].append(i)
                    else:
                        stretches.append([i])
            for positions in stretches:
                try:
                    got: list[Any] = self._rt(msgs[positions[0]].netns).request_many(
                        [msgs[i].msg for i in positions])
                except (KernelError, OSError) as exc:  # the socket itself failed
                    got = [exc] * len(positions)
                refused = False
                for i, answer in zip(positions, got, strict=True):
                    answers[i] = answer
                    refused = refused or answer is not None
                if refused:
                    return answers
        return answers

    def _index(self, netns: str | None, ifname: str) -> int:
        """The ifindex of a link by name. Asking the kernel per lookup cost 20,000 requests for
        a 10k-interface apply, so the indexes of a dump are reused until a request may have
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
        self._create_netns(name)
        rt = self._rt(name)
        rt.request(rtnl.add_altname("lo", marker))
        rt.request(rtnl.setlink(self._index(name, "lo"), up=True))

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
                     group: int | None = None) -> None:
        fds: list[int] = []
        try:
            if teamd is not None:  # a team device is made by the teamd that drives it
                self._teamd_start(netns, ifname, marker or "", teamd["config"])
            elif tuntap is None and parent is None and not info_data and (
                    peer is None or peer.get("nla") in rtnl.PEER_NLAS):
                self._lean_link_add(netns, ifname, kind, mtu, mac, peer, fds, group)
            elif tuntap is not None:
                # tun/tap are made with an ioctl on /dev/net/tun, in the target namespace
                self._ipr(netns).link("add", ifname=ifname, kind="tuntap", **tuntap)
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
                    self._mark(netns, ifname, marker)
                    if peer is not None and peer.get("marker"):
                        self._mark(peer.get("netns"), peer["ifname"], peer["marker"])
                if (tuntap is not None or teamd is not None) and (mtu, mac) != (None, None):
                    self._op_link_set(netns, ifname, mtu=mtu, mac=mac)
                if (tuntap is not None or teamd is not None) and group is not None:
                    self._rt(netns).request(rtnl.setlink(self._index(netns, ifname),
                                                         group=group))
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
        self._rt(netns).request(_lean_newlink(ifname, kind, mtu, mac, peer, peer_fd, group))

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
                     info_data: dict[str, Any] | None = None) -> None:
        kw: dict[str, Any] = {}
        if mtu is not None:
            kw["mtu"] = mtu
        if mac is not None:
            kw["address"] = mac
        if info_data:
            kw["kind"] = kind
            kw.update(info_data)
        if kw:
            self._ipr(netns).link("set", index=self._index(netns, ifname), **kw)

    def _op_link_master(self, netns: str | None, ifname: str, master: str | None) -> None:
        target = self._index(netns, master) if master else 0
        self._rt(netns).request(rtnl.setlink(self._index(netns, ifname), master=target))

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
        self._ipr(netns).route("add", proto=RTPROT_VNET, **self._route_args(netns, **route))

    def _op_route_del(self, netns: str | None, **route: Any) -> None:
        self._ipr(netns).route("del", **self._route_args(netns, **route))


def _kind_class(kernel_kind: str | None) -> Any:
    """The kind class of a live link (None: a kind vnet does not implement)."""
    from ..kinds import by_kernel_kind
    return by_kernel_kind(kernel_kind)


@functools.cache
def _is_paired(kernel_kind: str | None) -> bool:
    """Whether links of this kernel kind come in pairs: deleting one end deletes its peer."""
    cls = _kind_class(kernel_kind)
    return cls is not None and cls.paired


#: requests that leave every link's name and ifindex as they were (the caches hold). A
#: creation adds names and changes no other link's; the new names' indexes are asked for one
#: by one and kept (a plan addresses each new link right after creating it: dropping the
#: cache at each creation sent every later lookup to the kernel, or to a dump of every link)
_KEEPS_LINK_CACHES = frozenset({"addr.add", "addr.del", "link.add", "link.state",
                                "link.master", "link.set", "route.add", "route.del"})
#: lookups by name answered one by one before a whole dump is cheaper
_MISSES_BEFORE_DUMP = 8
#: requests `send_batched` encodes before sending (a few kB each way; refusals, which carry
#: the refused request back, stay far below the socket's buffer)
_BATCH = 256


class _Batched(NamedTuple):
    """One message of a batched run: the action it belongs to, its request, its round."""

    action: int
    req: Request
    netns: str | None
    round: int
    msg: tuple[int, int, bytes]


def _lean_newlink(ifname: str, kind: str, mtu: int | None, mac: str | None,
                  peer: dict[str, Any] | None, peer_fd: int | None, group: int | None,
                  index: int = 0, peer_index: int = 0) -> tuple[int, int, bytes]:
    """The RTM_NEWLINK of a link the lean path creates, with its pair's other end if any
    (in the namespace `peer_fd` when given); `index`, `peer_index`: ifindexes asked for."""
    peer_body = None
    if peer is not None:
        peer_body = rtnl.veth_peer(peer["ifname"], peer.get("mtu") or None,
                                   peer.get("mac") or None, peer_fd, peer.get("group"),
                                   index=peer_index)
    return rtnl.newlink(ifname, kind, mtu, mac, peer=peer_body, group=group, index=index)


def _read_ipv6_default(netns_fd: int | None) -> bool:
    """Whether new links of the namespace `netns_fd` (None: vnet's own) get IPv6; closes the
    fd. /proc/sys/net shows the namespace of the thread that opens it."""
    path = "/proc/sys/net/ipv6/conf/default/disable_ipv6"
    try:
        if netns_fd is None:
            with open(path, "rb") as f:
                return f.read().strip() == b"0"
        with rtnl.inside(netns_fd), open(path, "rb") as f:
            return f.read().strip() == b"0"
    except FileNotFoundError:  # a kernel without IPv6
        return False
    finally:
        if netns_fd is not None:
            os.close(netns_fd)


def _kernel_error(req: Request, exc: BaseException) -> KernelError:
    """The kernel's refusal of `req`, as a KernelError naming it."""
    if isinstance(exc, KernelError):
        return exc
    code, detail = _errno_of(exc)  # type: ignore[arg-type]
    return KernelError(req.describe(), code, detail)


def _errno_of(exc: Exception) -> tuple[int | None, str]:
    """The kernel's errno and any extra words (extended ack) from a pyroute2/OS error."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    detail = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else ""
    if code and detail == os.strerror(code):
        detail = ""
    return (code if isinstance(code, int) else None), detail


_TAUGHT: list[bool] = []


def _teach_pyroute2() -> None:
    """Register with pyroute2 the IFLA_INFO_DATA layouts kind files declare (`info_nla`) for
    kinds it does not know or knows only in part, so it encodes and decodes their attributes
    instead of dropping them as UNKNOWN. Once per process."""
    if _TAUGHT:
        return
    from pyroute2.netlink import nla
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg, ifinfveth

    from ..kinds import registry

    def peer(*_: Any, **__: Any) -> Any:
        return ifinfveth  # a pair's other end: a full ifinfomsg, as VETH_INFO_PEER carries

    layouts = {}
    for cls in registry().values():
        if cls.info_nla:
            kind = cls.kernel_kind or cls.kind_name
            layouts[kind] = type(f"vnet_{kind}_data", (nla,), {
                "prefix": "IFLA_", "nla_map": cls.info_nla, "peer": staticmethod(peer)})
    ifinfmsg.ifinfo.register_link_kind(module=layouts)
    _TAUGHT.append(True)


def _decode_link(msg: Any) -> LinkState:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = None
    data: dict[str, Any] = {}
    if info is not None:
        kind = info.get_attr("IFLA_INFO_KIND")
        raw = info.get_attr("IFLA_INFO_DATA")
        if raw is not None and hasattr(raw, "get"):
            data = {name: value for name, value in raw.get("attrs", ())
                    if name != "UNKNOWN"}
    props = msg.get_attr("IFLA_PROP_LIST")
    altnames = list(props.get_attrs("IFLA_ALT_IFNAME")) if props is not None else []
    stats = msg.get_attr("IFLA_STATS64") or {}
    return LinkState(
        index=msg["index"],
        name=msg.get_attr("IFLA_IFNAME"),
        kind=kind,
        info_data=data,
        mtu=msg.get_attr("IFLA_MTU") or 0,
        mac=msg.get_attr("IFLA_ADDRESS"),
        up=bool(msg["flags"] & IFF_UP),
        operstate=_OPER.get(msg.get_attr("IFLA_OPERSTATE") or 0, "UNKNOWN"),
        parent_index=msg.get_attr("IFLA_LINK") or None,
        parent_netnsid=msg.get_attr("IFLA_LINK_NETNSID"),
        link_type=msg["ifi_type"],
        altnames=altnames,
        rx_packets=stats.get("rx_packets", 0),
        tx_packets=stats.get("tx_packets", 0),
        rx_bytes=stats.get("rx_bytes", 0),
        tx_bytes=stats.get("tx_bytes", 0),
    )


def _decode_route(msg: dict[str, Any], family: int, names: dict[int, str]) -> RouteState | None:
    """A unicast route of rtnl.dump_routes (which leaves out the local table) as observe
    keeps it (None: a malformed one)."""
    dst = msg["dst"]
    if dst is None:
        to = "default"
    else:  # the kernel keeps prefixes masked and rtnl spells them as ipaddress does
        to = f"{dst}/{msg['dst_len']}"
    if dst is None and msg["dst_len"] != 0:
        return None
    oif = msg["oif"]
    return RouteState(family=4 if family == socket.AF_INET else 6, table=msg["table"], to=to,
                      via=msg["gateway"], dev=names.get(oif) if oif else None,
                      metric=msg["priority"] or 0, proto=msg["proto"])


_LEAN_OPEN = 256


@contextmanager
def _room_for_files(wanted: int) -> Iterator[int]:
    """Room to open `wanted` more files at once, beside up to _LEAN_OPEN sockets: the soft
    limit on open files raised toward the hard one while inside (put back after); yields
    how many of the `wanted` fit (at least one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        yield wanted
        return
    spare = len(os.listdir("/proc/self/fd")) + _LEAN_OPEN + 16
    limit = soft
    if spare + wanted > soft:
        limit = spare + wanted if hard == resource.RLIM_INFINITY else \
            max(soft, min(spare + wanted, hard))
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
        except (OSError, ValueError):  # refused: what the limit allows
            limit = soft
    try:
        yield max(1, min(wanted, limit - spare))
    finally:
        if limit != soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _lean_link(raw: rtnl.RawLink) -> LinkState:
    """A link without kind attributes, from the lean dump (the same fields as _decode_link)."""
    rx_packets, tx_packets, rx_bytes, tx_bytes = raw.stats
    return LinkState(index=raw.index, name=raw.name, kind=raw.kind, info_data={}, mtu=raw.mtu,
                     mac=raw.mac, up=bool(raw.flags & IFF_UP),
                     operstate=_OPER.get(raw.operstate, "UNKNOWN"),
                     parent_index=raw.parent_index or None, parent_netnsid=raw.parent_netnsid,
                     link_type=raw.link_type, altnames=raw.altnames, rx_packets=rx_packets,
                     tx_packets=tx_packets, rx_bytes=rx_bytes, tx_bytes=tx_bytes)


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


def probe_kinds(names: list[str]) -> dict[str, tuple[bool | None, str]]:
    """Try to create each kind in a throwaway network namespace (a forked child that unshares
    its own); the host's namespaces are never touched. Each kind's class says what its
    throwaway link needs (`probe`, a parent when it has one) and what the kernel is asked."""
    if os.geteuid() != 0:
        return {n: (None, "probing needs root") for n in names}
    import json
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        result: dict[str, tuple[bool | None, str]] = {}
        try:
            if _libc().unshare(_CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            with Netlink() as nl:
                result = {name: _probe_kind(nl, name) for name in names}
        except Exception as exc:  # noqa: BLE001 - report, never crash the child silently
            result = {n: (None, f"probe failed: {exc}") for n in names}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    try:
        data = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        data = {}
    return {n: tuple(data.get(n, (None, "probe did not answer"))) for n in names}


def _probe_kind(nl: Netlink, name: str) -> tuple[bool | None, str]:
    """Create and delete a throwaway link of kind `name` in this (private) namespace."""
    from ..kinds import lookup
    from ..kinds.base import PROBE_PARENT

    cls = lookup(name)
    if cls.requires:
        return False, f"needs {cls.requires}"
    link = cls.probe_link()
    request = {"ifname": link.name, "marker": None, **link.probe_request()}
    try:
        if link.parent() is not None:
            if nl._rt(None).link_index(PROBE_PARENT) is None:
                parent = lookup("veth").model_validate(
                    {"kind": "veth", "name": PROBE_PARENT, "peer": {"name": PROBE_PARENT + "p"}})
                nl.send([Request("link.add", None, {"ifname": parent.name, "marker": None,
                                                    **parent.create_request()})])
            request.update(parent=link.parent(), parent_netns=None)
        nl.send([Request("link.add", None, request)])
        nl.send([Request("link.del", None, {"ifname": link.name})])
    except KernelError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            return False, "the kernel lacks it (not built in, no module)"
        return False, f"probe failed: {os.strerror(exc.errno) if exc.errno else exc}"
    return True, ""
