"""The one door to the kernel: netlink (through pyroute2) and the netns bind mounts.

Nothing else in vnet opens a socket, mounts, or runs a program. Requests are plain data
(`Request`), so callers build lists of them without a kernel and `send` can batch them.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..actions import Request
from ..errors import KernelError
from ..observe import AddressState, LinkState, NetnsState, Observed, RouteState
from .fdb import FdbOps, read_fdb
from .tc import TcOps, read_tc

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


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


class Netlink(FdbOps, TcOps):
    """A live kernel. One netlink socket per namespace, opened on first use.

    Operations are `_op_<group>_<verb>` methods, reached through `execute(Request)`; groups
    that need more than a few lines live in mixins beside this file (fdb.py, tc.py)."""

    def __init__(self) -> None:
        self._sockets: dict[str | None, Any] = {}

    # ---- sockets ------------------------------------------------------------------------
    def _ipr(self, netns: str | None) -> Any:
        if netns not in self._sockets:
            from pyroute2 import IPRoute
            if netns is None:
                self._sockets[netns] = IPRoute()
            else:
                if not os.path.exists(os.path.join(NETNS_DIR, netns)):
                    raise KernelError(f"open namespace {netns}", errno.ENOENT,
                                      f"{NETNS_DIR}/{netns} does not exist")
                self._sockets[netns] = IPRoute(netns=netns, flags=0)
        return self._sockets[netns]

    def close(self) -> None:
        for ipr in self._sockets.values():
            ipr.close()
        self._sockets.clear()

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

    def _create_netns(self, name: str) -> None:
        """`ip netns add`: a new network namespace bind-mounted at /run/netns/NAME.

        Done in a forked child (unshare changes the caller's own namespace)."""
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
        pid = os.fork()
        if pid == 0:  # child: unshare, bind our new netns to the file, exit
            code = 0
            try:
                if libc.unshare(_CLONE_NEWNET) != 0:
                    code = ctypes.get_errno() or 1
                elif libc.mount(b"/proc/self/ns/net", path.encode(), b"none", _MS_BIND,
                                None) != 0:
                    code = ctypes.get_errno() or 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            os.unlink(path)
            raise KernelError(f"create namespace {name}", code)

    def _delete_netns(self, name: str) -> None:
        # The kernel dismantles a namespace asynchronously once its last reference goes; a
        # veth peer outside would linger for a moment. Deleting pair devices first makes the
        # teardown synchronous: when destroy returns, the peers are gone.
        if os.path.exists(os.path.join(NETNS_DIR, name)):
            ipr = self._ipr(name)
            for msg in ipr.get_links():
                if _decode_link(msg).kind in ("veth", "vxcan"):
                    try:
                        ipr.link("del", index=msg["index"])
                    except Exception:  # noqa: BLE001 - already gone with its peer
                        pass
        ipr = self._sockets.pop(name, None)
        if ipr is not None:
            ipr.close()
        path = os.path.join(NETNS_DIR, name)
        libc = _libc()
        if libc.umount2(path.encode(), _MNT_DETACH) != 0:
            code = ctypes.get_errno()
            if code != errno.EINVAL:  # EINVAL: not a mount point any more
                raise KernelError(f"delete namespace {name}", code)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    # ---- reading -------------------------------------------------------------------------
    def observe(self, namespaces: Iterable[str | None]) -> Observed:
        """Dump links, addresses and routes of each namespace that exists."""
        existing = self.list_netns()
        obs = Observed(existing_netns=existing)
        for ns in dict.fromkeys(namespaces):
            if ns is not None and ns not in existing:
                continue
            obs.namespaces[ns] = self.read_netns(ns)
        return obs

    def netns_owner(self, netns: str) -> str | None:
        """The topology owning a namespace (its loopback's marker), reading only `lo`."""
        from ..ownership import netns_owner
        try:
            msgs = self._ipr(netns).link("get", ifname="lo")
        except Exception:  # noqa: BLE001 - NetlinkError or OSError: no readable lo
            return None
        props = msgs[0].get_attr("IFLA_PROP_LIST") if msgs else None
        return netns_owner(list(props.get_attrs("IFLA_ALT_IFNAME")) if props is not None else [])

    def read_netns(self, netns: str | None) -> NetnsState:
        ipr = self._ipr(netns)
        state = NetnsState(name=netns)
        by_index: dict[int, LinkState] = {}
        masters: dict[int, int] = {}
        for msg in ipr.get_links():
            link = _decode_link(msg)
            by_index[link.index] = link
            master = msg.get_attr("IFLA_MASTER")
            if master:
                masters[link.index] = master
        for idx, master in masters.items():
            if master in by_index:
                by_index[idx].master = by_index[master].name
        state.links = {link.name: link for link in by_index.values()}
        names = {i: link.name for i, link in by_index.items()}
        for msg in ipr.get_addr():
            addr = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
            if addr is None or msg["index"] not in names:
                continue
            state.addresses.append(AddressState(
                names[msg["index"]], f"{ipaddress.ip_address(addr)}/{msg['prefixlen']}",
                msg["scope"]))
        for family in (socket.AF_INET, socket.AF_INET6):
            for msg in ipr.get_routes(family=family, table=None):
                route = _decode_route(msg, family, names)
                if route is not None:
                    state.routes.append(route)
        state.qdiscs, state.tc_classes, state.tc_filters = read_tc(ipr, names)
        state.fdb = read_fdb(ipr, state.links)
        return state

    # ---- writing -------------------------------------------------------------------------
    def send(self, requests: Sequence[Request]) -> None:
        """Carry out requests in order; the first refusal raises KernelError naming it."""
        for req in requests:
            self.execute(req)

    def execute(self, req: Request) -> None:
        handler = getattr(self, "_op_" + req.op.replace(".", "_"), None)
        if handler is None:
            raise KernelError(req.describe(), errno.EOPNOTSUPP, f"unknown operation {req.op}")
        from pyroute2.netlink.exceptions import NetlinkError
        try:
            handler(req.netns, **req.args)
        except KernelError:
            raise
        except (OSError, NetlinkError) as exc:
            code, detail = _errno_of(exc)
            raise KernelError(req.describe(), code, detail) from None

    def _index(self, netns: str | None, ifname: str) -> int:
        found = self._ipr(netns).link_lookup(ifname=ifname)
        if not found:
            raise KernelError(f"find {netns + '/' if netns else ''}{ifname}", errno.ENODEV)
        return found[0]

    def _op_netns_add(self, netns: None, name: str, marker: str) -> None:
        self._create_netns(name)
        ipr = self._ipr(name)
        lo = self._index(name, "lo")
        ipr.link("property_add", index=lo, altname=[marker])
        ipr.link("set", index=lo, state="up")

    def _op_netns_del(self, netns: None, name: str) -> None:
        self._delete_netns(name)

    def _op_link_add(self, netns: str | None, ifname: str, kind: str, marker: str | None,
                     info_data: dict[str, Any], parent: str | None = None,
                     parent_netns: str | None = None, peer: dict[str, Any] | None = None,
                     mtu: int | None = None, mac: str | None = None,
                     tuntap: dict[str, Any] | None = None,
                     parent_attr: str = "link") -> None:
        fds: list[int] = []
        try:
            if tuntap is not None:
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
                if peer is not None:
                    pk: dict[str, Any] = {"ifname": peer["ifname"]}
                    if peer.get("netns") != netns:
                        fds.append(self.netns_fd(peer.get("netns")))
                        pk["net_ns_fd"] = fds[-1]
                    if peer.get("mtu"):
                        pk["mtu"] = peer["mtu"]
                    if peer.get("mac"):
                        pk["address"] = peer["mac"]
                    kw["peer"] = pk
                self._ipr(via).link("add", **kw)
            if marker:
                self._mark(netns, ifname, marker)
                if peer is not None and peer.get("marker"):
                    self._mark(peer.get("netns"), peer["ifname"], peer["marker"])
            if tuntap is not None and (mtu is not None or mac is not None):
                self._op_link_set(netns, ifname, mtu=mtu, mac=mac)
        finally:
            for fd in fds:
                os.close(fd)

    def _mark(self, netns: str | None, ifname: str, marker: str) -> None:
        self._ipr(netns).link("property_add", index=self._index(netns, ifname), altname=[marker])

    def _op_link_del(self, netns: str | None, ifname: str, missing_ok: bool = False) -> None:
        found = self._ipr(netns).link_lookup(ifname=ifname)
        if not found and missing_ok:  # gone with its veth peer or its namespace: the goal holds
            return
        self._ipr(netns).link("del", index=self._index(netns, ifname))

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
        self._ipr(netns).link("set", index=self._index(netns, ifname), master=target)

    def _op_link_state(self, netns: str | None, ifname: str, up: bool) -> None:
        self._ipr(netns).link("set", index=self._index(netns, ifname),
                              state="up" if up else "down")

    def _op_addr_add(self, netns: str | None, ifname: str, address: str) -> None:
        iface = ipaddress.ip_interface(address)
        kw: dict[str, Any] = {}
        if iface.version == 6:
            kw["flags"] = 0x80  # IFA_F_PERMANENT; no DAD delay: lab addresses work at once
            kw["IFA_FLAGS"] = 0x80 | 0x02  # permanent + nodad
        self._ipr(netns).addr("add", index=self._index(netns, ifname),
                              address=str(iface.ip), prefixlen=iface.network.prefixlen, **kw)

    def _op_addr_del(self, netns: str | None, ifname: str, address: str) -> None:
        iface = ipaddress.ip_interface(address)
        self._ipr(netns).addr("del", index=self._index(netns, ifname),
                              address=str(iface.ip), prefixlen=iface.network.prefixlen)

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


#: kinds that name their parent in their own attribute, not IFLA_LINK (which they ignore)
def _errno_of(exc: Exception) -> tuple[int | None, str]:
    """The kernel's errno and any extra words (extended ack) from a pyroute2/OS error."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    detail = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else ""
    if code and detail == os.strerror(code):
        detail = ""
    return (code if isinstance(code, int) else None), detail


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
        altnames=altnames,
        rx_packets=stats.get("rx_packets", 0),
        tx_packets=stats.get("tx_packets", 0),
        rx_bytes=stats.get("rx_bytes", 0),
        tx_bytes=stats.get("tx_bytes", 0),
    )


def _decode_route(msg: Any, family: int, names: dict[int, str]) -> RouteState | None:
    if msg["type"] != 1:  # unicast routes only (not local/broadcast/multicast)
        return None
    table = msg.get_attr("RTA_TABLE") or msg["table"]
    if table == 255:  # the local table is the kernel's own
        return None
    dst = msg.get_attr("RTA_DST")
    to = "default" if dst is None else str(ipaddress.ip_network(f"{dst}/{msg['dst_len']}",
                                                                strict=False))
    if dst is None and msg["dst_len"] != 0:
        return None
    oif = msg.get_attr("RTA_OIF")
    return RouteState(family=4 if family == socket.AF_INET else 6, table=table, to=to,
                      via=msg.get_attr("RTA_GATEWAY"), dev=names.get(oif) if oif else None,
                      metric=msg.get_attr("RTA_PRIORITY") or 0, proto=msg["proto"])


@contextmanager
def kernel() -> Iterator[Netlink]:
    """A Netlink backend that closes its sockets when done."""
    nl = Netlink()
    try:
        yield nl
    finally:
        nl.close()


# How to make one throwaway link of each kind, for probing. A parent veth "p0" exists first.
_PROBES: dict[str, dict[str, Any]] = {
    "bridge": {"kind": "bridge"},
    "bond": {"kind": "bond"},
    "team": {"kind": "team"},
    "vlan": {"kind": "vlan", "link": "p0", "vlan_id": 2},
    "vxlan": {"kind": "vxlan", "vxlan_id": 42, "vxlan_port": 4789},
    "macvlan": {"kind": "macvlan", "link": "p0"},
    "ipvlan": {"kind": "ipvlan", "link": "p0"},
    "macvtap": {"kind": "macvtap", "link": "p0"},
    "ipvtap": {"kind": "ipvtap", "link": "p0"},
    "macsec": {"kind": "macsec", "link": "p0"},
    "veth": {"kind": "veth", "peer": "probe1"},
    "vcan": {"kind": "vcan"},
    "vxcan": {"kind": "vxcan"},
    "nlmon": {"kind": "nlmon"},
    "dummy": {"kind": "dummy"},
    "ifb": {"kind": "ifb"},
    "tun": {"kind": "tuntap", "mode": "tun"},
    "tap": {"kind": "tuntap", "mode": "tap"},
}


def probe_kinds(names: list[str]) -> dict[str, tuple[bool | None, str]]:
    """Try to create each kind in a throwaway network namespace (a forked child that unshares
    its own); the host's namespaces are never touched."""
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
            from pyroute2 import IPRoute
            with IPRoute() as ipr:
                ipr.link("add", ifname="p0", kind="veth", peer="p0peer")
                for name in names:
                    if name == "ipoib":
                        result[name] = (False, "needs an InfiniBand device")
                        continue
                    spec = dict(_PROBES.get(name, {"kind": name}))
                    if "link" in spec:
                        spec["link"] = ipr.link_lookup(ifname=spec["link"])[0]
                    try:
                        ipr.link("add", ifname="probe0", **spec)
                        result[name] = (True, "")
                        ipr.link("del", index=ipr.link_lookup(ifname="probe0")[0])
                    except Exception as exc:  # noqa: BLE001 - NetlinkError or OSError
                        code, _ = _errno_of(exc)
                        why = ("the kernel lacks it (not built in, no module)"
                               if code == errno.EOPNOTSUPP else
                               f"probe failed: {os.strerror(code) if code else exc}")
                        result[name] = (False, why)
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
    return {n: tuple(data.get(n, (None, "probe did not answer"))) for n in names}  # type: ignore[misc]
