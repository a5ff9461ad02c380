"""A lean rtnetlink socket: the few messages vnet sends most, and the dumps observe reads.

pyroute2 encodes and parses every message generically: with many interfaces that Python work,
per dump and per creation loop, outweighs the kernel's own (figures: docs/performance-notes.md).
This module encodes with `struct` only the requests vnet sends in bulk (link add/set/del of
simple kinds, altnames, addresses) and decodes from dumps only the attributes observe needs.
Whatever it does not know (a kind's IFLA_INFO_DATA, a qdisc's options) stays raw and is handed
to pyroute2's own parser on demand, so results are exactly pyroute2's.

Rtnetlink handles requests inside sendmsg, one after the other, so an answer is there when
sendmsg returns. `request` sends one and reads its ack: every error belongs to the exact request
that caused it. `request_many` sends many in one sendmsg; the kernel carries on after a refused
one, so it is only for requests that stay harmless whatever became of those before them.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import socket
import struct
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_GETROUTE = 26
RTM_GETNEIGH = 30
RTM_GETQDISC = 38
RTM_GETNSID = 90
RTM_NEWLINKPROP = 108

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK = 1, 3, 4, 5
IFLA_MASTER = 10
IFLA_OPERSTATE = 16
IFLA_LINKINFO = 18
IFLA_STATS64 = 23
IFLA_GROUP = 27
IFLA_NET_NS_FD = 28
IFLA_EXT_MASK = 29
SOL_NETLINK, NETLINK_GET_STRICT_CHK = 270, 12
RTEXT_FILTER_SKIP_STATS = 1 << 3
IFLA_LINK_NETNSID = 37
IFLA_TARGET_NETNSID = 46
IFLA_PROP_LIST = 52
IFLA_ALT_IFNAME = 53
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
#: the peer attributes a pair kind may name; each is attribute 1 of its IFLA_INFO_DATA
PEER_NLAS = frozenset({None, "", "VETH_INFO_PEER", "VXCAN_INFO_PEER"})
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
IFA_F_NODAD, IFA_F_PERMANENT = 0x02, 0x80
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE = 1, 4, 5, 6, 15
TCA_KIND, TCA_OPTIONS = 1, 2
NETNSA_NSID, NETNSA_FD = 1, 3
IFF_UP = 0x1

_HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_IFI = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFA = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTM = struct.Struct("=BBBBBBBBI")  # rtmsg
_TCM = struct.Struct("=BxxxiIII")  # tcmsg: family, ifindex, handle, parent, info
_NDM = struct.Struct("=BxxxiHBB")  # ndmsg: family, ifindex, state, flags, type
_ATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_S32 = struct.Struct("=i")
_STATS4 = struct.Struct("=QQQQ")  # rx_packets, tx_packets, rx_bytes, tx_bytes
_CLONE_NEWNET = 0x40000000
T = TypeVar("T")
DUMP_TRIES = 5
SOCKET_BUFFER = 4 << 20  # large dumps queue megabytes; acks must never be dropped
RECV_BUFFER = 1 << 16  # what one recv of a dump's part takes (see Rtnl._exchange)


class RtnlError(OSError):
    """The kernel refused one request: errno, and the extended ack's words if it sent them."""

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(code, detail or os.strerror(code))
        self.code = code
        self.detail = detail


# ---- encoding -------------------------------------------------------------------------------
def attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return _ATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, _U32.pack(value))


def attr_str(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def nested(kind: int, *parts: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(parts))


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFI.pack(socket.AF_UNSPEC, 0, index, flags, change)


def link_attrs(ifname: str | None = None, mtu: int | None = None, mac: str | None = None,
               netns_fd: int | None = None, group: int | None = None) -> bytes:
    parts = []
    if ifname is not None:
        parts.append(attr_str(IFLA_IFNAME, ifname))
    if mtu is not None:
        parts.append(attr_u32(IFLA_MTU, mtu))
    if mac is not None:
        parts.append(attr(IFLA_ADDRESS, mac_bytes(mac)))
    if netns_fd is not None:
        parts.append(attr_u32(IFLA_NET_NS_FD, netns_fd))
    if group is not None:
        parts.append(attr_u32(IFLA_GROUP, group))
    return b"".join(parts)


def newlink(ifname: str, kind: str, mtu: int | None = None, mac: str | None = None,
            netns_fd: int | None = None, peer: bytes | None = None,
            group: int | None = None, index: int = 0, link: int | None = None,
            info_data: bytes | None = None) -> tuple[int, int, bytes]:
    """RTM_NEWLINK creating IFNAME of KIND; `peer` is a veth peer's ifinfomsg and attributes,
    `link` the parent's ifindex, `info_data` the kind's encoded attributes (IFLA_INFO_DATA).
    A nonzero `index` asks for that ifindex (the kernel refuses, EBUSY, when it is taken)."""
    info = [attr_str(IFLA_INFO_KIND, kind)]
    if peer is not None:
        info.append(nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer)))
    elif info_data:
        info.append(nested(IFLA_INFO_DATA, info_data))
    body = ifinfo(index) + link_attrs(ifname, mtu, mac, netns_fd, group)
    if link is not None:
        body += attr_u32(IFLA_LINK, link)
    return RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body + nested(IFLA_LINKINFO, *info)


def changelink(index: int, kind: str, info_data: bytes) -> tuple[int, int, bytes]:
    """RTM_NEWLINK without NLM_F_CREATE: change a link's kind attributes in place, as
    `ip link set DEV type KIND ...` does (RTM_SETLINK leaves IFLA_LINKINFO alone)."""
    body = ifinfo(index) + nested(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, kind),
                                  nested(IFLA_INFO_DATA, info_data))
    return RTM_NEWLINK, 0, body


def info_data_of(raw: bytes) -> bytes:
    """The IFLA_INFO_DATA payload of one link message (b"": none)."""
    for kind, s, e in attrs(raw, _HDR.size + _IFI.size, len(raw)):
        if kind == IFLA_LINKINFO:
            for k, a, b in attrs(raw, s, e):
                if k == IFLA_INFO_DATA:
                    return bytes(raw[a:b])
    return b""


def veth_peer(ifname: str, mtu: int | None = None, mac: str | None = None,
              netns_fd: int | None = None, group: int | None = None, index: int = 0) -> bytes:
    """A pair's other end; its `index` counts only when the first end's is given too."""
    return ifinfo(index) + link_attrs(ifname, mtu, mac, netns_fd, group)


def add_altname(ifname: str, altname: str, index: int = 0) -> tuple[int, int, bytes]:
    """`ip link property add dev IFNAME altname ALTNAME`: the device found by name, or by
    `index` when one is given."""
    body = (ifinfo(index) + (b"" if index else attr_str(IFLA_IFNAME, ifname))
            + nested(IFLA_PROP_LIST, attr_str(IFLA_ALT_IFNAME, altname)))
    return RTM_NEWLINKPROP, NLM_F_CREATE | NLM_F_APPEND, body


def setlink(index: int, up: bool | None = None, master: int | None = None,
            mtu: int | None = None, mac: str | None = None,
            group: int | None = None) -> tuple[int, int, bytes]:
    flags = change = 0
    if up is not None:
        flags, change = (IFF_UP if up else 0), IFF_UP
    body = ifinfo(index, flags, change) + link_attrs(mtu=mtu, mac=mac, group=group)
    if master is not None:
        body += attr_u32(IFLA_MASTER, master)
    return RTM_SETLINK, 0, body


def dellink(index: int = 0, group: int | None = None,
            target: int | None = None) -> tuple[int, int, bytes]:
    """Delete one link by index, or (index 0) every link of `group` in one kernel call; in the
    namespace whose id is `target` (None: the socket's own)."""
    body = ifinfo(index) + (attr_u32(IFLA_GROUP, group) if group is not None else b"")
    return RTM_DELLINK, 0, body + _target(target)


def _target(nsid: int | None) -> bytes:
    """IFLA_TARGET_NETNSID: a link request served in another namespace, named by its id."""
    return b"" if nsid is None else attr(IFLA_TARGET_NETNSID, _S32.pack(nsid))


def address(add: bool, index: int, addr: str) -> tuple[int, int, bytes]:
    """RTM_NEWADDR/RTM_DELADDR as `ip addr add|del ADDR dev X` sends them (IPv6: permanent,
    no DAD, as vnet's pyroute2 path does)."""
    # inet_pton where it reads the text (it runs once per address, and ipaddress's parsing
    # shows in a large apply); ipaddress for any other spelling it accepts (a netmask, a scope)
    text, _, prefix = addr.partition("/")
    v6 = ":" in text
    family = socket.AF_INET6 if v6 else socket.AF_INET
    full = 128 if v6 else 32
    try:
        packed = socket.inet_pton(family, text)
        if prefix and not (prefix.isascii() and prefix.isdigit()) or int(prefix or full) > full:
            raise ValueError(addr)
        prefixlen = int(prefix or full)
    except (OSError, ValueError):
        import ipaddress  # here: only a spelling inet_pton does not read comes this far
        iface = ipaddress.ip_interface(addr)
        v6 = iface.version == 6
        family = socket.AF_INET6 if v6 else socket.AF_INET
        packed, prefixlen = iface.ip.packed, iface.network.prefixlen
    flags = IFA_F_PERMANENT if v6 and add else 0
    body = _IFA.pack(family, prefixlen, flags, 0, index)
    body += attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
    if v6 and add:
        body += attr_u32(IFA_FLAGS, IFA_F_PERMANENT | IFA_F_NODAD)
    if add:
        return RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body
    return RTM_DELADDR, 0, body


# ---- decoding -------------------------------------------------------------------------------
def attrs(data: bytes | memoryview, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) of each attribute in data[start:end]."""
    unpack = _ATTR.unpack_from
    while start + 4 <= end:
        length, kind = unpack(data, start)
        if length < 4:
            return
        yield kind & NLA_TYPE_MASK, start + 4, start + length
        start += (length + 3) & ~3


def cstr(data: bytes, start: int, end: int) -> str:
    """The text of data[start:end] up to its first NUL, if any."""
    cut = data.find(b"\0", start, end)
    return data[start:cut if cut >= 0 else end].decode()


def mac_str(data: bytes, start: int, end: int) -> str:
    return ":".join(f"{b:02x}" for b in data[start:end])


def decode_ack(data: bytes, offset: int) -> RtnlError | None:
    """The error of an NLMSG_ERROR at `offset` (None for a success ack), with the extended
    ack's message (NLMSGERR_ATTR_MSG) when the kernel sent one."""
    length = _HDR.unpack_from(data, offset)[0]
    code = -struct.unpack_from("=i", data, offset + 16)[0]
    if code == 0:
        return None
    detail = ""
    inner_len = _HDR.unpack_from(data, offset + 20)[0]
    flags = _HDR.unpack_from(data, offset)[2]
    tlv = offset + 20 + (inner_len if not flags & 0x100 else 16)  # NLM_F_CAPPED: header only
    for kind, s, e in attrs(data, (tlv + 3) & ~3, offset + length):
        if kind == 1:  # NLMSGERR_ATTR_MSG
            detail = cstr(data, s, e)
    return RtnlError(code, detail)


class Rtnl:
    """One NETLINK_ROUTE socket, opened in a given network namespace (an fd of it), or in the
    caller's own when `netns_fd` is None."""

    def __init__(self, netns_fd: int | None = None) -> None:
        self.sock = _open_in(netns_fd)
        self.seq = 0
        #: whether the last dump's messages carried NLM_F_DUMP_INTR
        self.interrupted = False

    def close(self) -> None:
        self.sock.close()

    # -- requests --
    def request(self, msg: tuple[int, int, bytes]) -> None:
        """Send one request and wait for its ack; raises RtnlError on a refusal."""
        kind, flags, body = msg
        self.seq += 1
        seq = self.seq
        self.sock.send(_HDR.pack(16 + len(body), kind, flags | NLM_F_REQUEST | NLM_F_ACK, seq, 0)
                       + body)
        while True:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + 16 <= len(data):
                length, mtype, _, mseq, _ = _HDR.unpack_from(data, offset)
                if mtype == NLMSG_ERROR and mseq == seq:
                    err = decode_ack(data, offset)
                    if err is not None:
                        raise err
                    return
                offset += (length + 3) & ~3

    def request_many(self, msgs: list[tuple[int, int, bytes]]) -> list[RtnlError | None]:
        """Send requests in one sendmsg; the error of each (None: done), in order.

        Only the last asks for an ack: the kernel answers a request without NLM_F_ACK only
        when it refuses it, and it serves them in order inside sendmsg, so once the last one's
        ack is read every refusal before it has been read too. One sendmsg and one recv for
        the lot, where each request alone costs both."""
        if not msgs:
            return []
        first = self.seq + 1
        parts = []
        last = len(msgs) - 1
        for i, (kind, flags, body) in enumerate(msgs):
            self.seq += 1
            flags |= NLM_F_REQUEST | (NLM_F_ACK if i == last else 0)
            parts.append(_HDR.pack(16 + len(body), kind, flags, self.seq, 0))
            parts.append(body)
        self.sock.send(b"".join(parts))
        results: list[RtnlError | None] = [None] * len(msgs)
        while True:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + 16 <= len(data):
                length, mtype, _, mseq, _ = _HDR.unpack_from(data, offset)
                if mtype == NLMSG_ERROR and first <= mseq <= self.seq:
                    results[mseq - first] = decode_ack(data, offset)
                    if mseq == self.seq:
                        return results
                offset += (length + 3) & ~3

    def get_link(self, ifname: str, target: int | None = None) -> RawLink | None:
        """Link IFNAME, or None when there is none (one RTM_GETLINK by name); in the namespace
        whose id is `target` (None: the socket's own); without its statistics (no caller
        reads them, and the kernel sums them over every CPU)."""
        body = (ifinfo() + attr_str(IFLA_IFNAME, ifname)
                + attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
                + _target(target))
        try:
            for data, offset in self._exchange(RTM_GETLINK, 0, body):
                return RawLink(data, offset)
        except RtnlError as err:
            if err.code == errno.ENODEV:
                return None
            raise
        return None

    def link_index(self, ifname: str) -> int | None:
        link = self.get_link(ifname)
        return link.index if link is not None else None

    def netns_id(self, netns_fd: int) -> int | None:
        """The id this socket's namespace knows the namespace `netns_fd` by (`ip netns list`
        shows it), or None when it has none. Asking never assigns one."""
        body = b"\0\0\0\0" + attr_u32(NETNSA_FD, netns_fd)  # struct rtgenmsg, padded
        for data, offset in self._exchange(RTM_GETNSID, 0, body):
            for kind, s, _ in attrs(data, offset + 20, offset + _HDR.unpack_from(data, offset)[0]):
                if kind == NETNSA_NSID:
                    nsid = _S32.unpack_from(data, s)[0]
                    return nsid if nsid >= 0 else None
        return None

    # -- dumps --
    def dump(self, kind: int, body: bytes, parse: Callable[[Iterator[tuple[bytes, int]]], T]
             ) -> T:
        """What `parse` makes of a dump's messages ((buffer, offset) of each, as they come).
        A dump the kernel marks interrupted (NLM_F_DUMP_INTR: the table changed while it was
        read, so an entry may be missing or doubled; `ip` warns of it) is read and parsed
        again, up to DUMP_TRIES times in all; the last read stands then (a plan made from it
        fails on the kernel's refusal, never silently)."""
        for _ in range(DUMP_TRIES):
            self.interrupted = False
            result = parse(self._exchange(kind, NLM_F_DUMP, body))
            if not self.interrupted:
                break
        return result

    def _exchange(self, kind: int, flags: int, body: bytes) -> Iterator[tuple[bytes, int]]:
        self.seq += 1
        seq = self.seq
        self.sock.send(_HDR.pack(16 + len(body), kind, flags | NLM_F_REQUEST, seq, 0) + body)
        dumping = bool(flags & NLM_F_DUMP)
        while True:
            # 64 KiB for dumps too: the kernel fills each part of a dump into a buffer of at
            # most 32 KiB (it caps the reader's buffer size it remembers there), so a larger
            # one only costs the allocator a map and unmap per part: 2 ms of a 2,000-link
            # dump, and a fifth of a small namespace's read
            data = self.sock.recv(RECV_BUFFER)
            if len(data) == RECV_BUFFER:  # cut: never silently short of an answer's end
                raise RtnlError(errno.EMSGSIZE, "a netlink answer longer than "
                                f"{RECV_BUFFER} bytes")
            offset = 0
            while offset + 16 <= len(data):
                length, mtype, mflags, mseq, _ = _HDR.unpack_from(data, offset)
                if mseq == seq:
                    if mflags & NLM_F_DUMP_INTR:
                        self.interrupted = True
                    if mtype == NLMSG_DONE:
                        return
                    if mtype == NLMSG_ERROR:
                        err = decode_ack(data, offset)
                        if err is not None:
                            raise err
                        return
                    yield data, offset
                    if not dumping:
                        return
                offset += (length + 3) & ~3


def _open_in(netns_fd: int | None) -> socket.socket:
    """A rtnetlink socket created inside the namespace `netns_fd` (a socket stays in the
    namespace it was made in)."""
    if netns_fd is None:
        return _socket()
    with inside(netns_fd):
        return _socket()


@functools.cache
def libc() -> ctypes.CDLL:
    """The C library, for the calls Python does not wrap (setns, unshare, mount)."""
    # once: each CDLL builds its own function-pointer class (a star enters every namespace)
    return ctypes.CDLL(None, use_errno=True)


@contextmanager
def inside(netns_fd: int) -> Iterator[None]:
    """The calling thread inside the namespace `netns_fd` meanwhile (setns there and back)."""
    lib = libc()
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if lib.setns(netns_fd, _CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise RtnlError(code, f"setns: {os.strerror(code)}")
        try:
            yield
        finally:
            if lib.setns(own, _CLONE_NEWNET) != 0:  # cannot happen; never run on elsewhere
                os._exit(70)
    finally:
        os.close(own)


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    for opt, force in ((socket.SO_SNDBUF, 32), (socket.SO_RCVBUF, 33)):  # SO_*BUFFORCE
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, SOCKET_BUFFER)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
    sock.setsockopt(SOL_NETLINK, 11, 1)  # NETLINK_EXT_ACK: the kernel's reason, in words
    sock.bind((0, 0))
    return sock


# ---- dump decoders (only what observe reads) -----------------------------------------------
class RawLink:
    """A link from a dump: the attributes observe reads, decoded; IFLA_INFO_DATA left raw."""

    __slots__ = ("index", "flags", "link_type", "name", "mtu", "mac", "operstate",
                 "parent_index", "parent_netnsid", "master", "group", "altnames", "stats", "kind",
                 "has_info_data", "raw")

    def __init__(self, data: bytes, offset: int) -> None:
        length = _HDR.unpack_from(data, offset)[0]
        _, self.link_type, self.index, self.flags, _ = _IFI.unpack_from(data, offset + 16)
        self.group = 0
        self.name = ""
        self.mtu = 0
        self.mac: str | None = None
        self.operstate = 0
        self.parent_index: int | None = None
        self.parent_netnsid: int | None = None
        self.master = 0
        self.altnames: list[str] = []
        self.stats = (0, 0, 0, 0)
        self.kind: str | None = None
        self.has_info_data = False
        self.raw = bytes(data[offset:offset + length])
        u32 = _U32.unpack_from
        head = _ATTR.unpack_from
        for kind, s, e in _link_wanted(data, offset, length):
            s += offset
            e += offset
            if kind == IFLA_IFNAME:
                self.name = data[s:e - 1].decode()
            elif kind == IFLA_MTU:
                self.mtu = u32(data, s)[0]
            elif kind == IFLA_ADDRESS:
                self.mac = data[s:e].hex(":")
            elif kind == IFLA_OPERSTATE:
                self.operstate = data[s]
            elif kind == IFLA_LINK:
                self.parent_index = u32(data, s)[0]
            elif kind == IFLA_LINK_NETNSID:
                self.parent_netnsid = _S32.unpack_from(data, s)[0]
            elif kind == IFLA_MASTER:
                self.master = u32(data, s)[0]
            elif kind == IFLA_GROUP:
                self.group = u32(data, s)[0]
            elif kind == IFLA_STATS64:
                self.stats = _STATS4.unpack_from(data, s)
            elif kind == IFLA_PROP_LIST or kind == IFLA_LINKINFO:
                # attrs() inline: every link of a dump has both
                names = []
                while s + 4 <= e:
                    alen, k = head(data, s)
                    if alen < 4:
                        break
                    k &= NLA_TYPE_MASK
                    if kind == IFLA_PROP_LIST:
                        if k == IFLA_ALT_IFNAME:
                            names.append(cstr(data, s + 4, s + alen))
                    elif k == IFLA_INFO_KIND:
                        self.kind = cstr(data, s + 4, s + alen)
                    elif k == IFLA_INFO_DATA:
                        self.has_info_data = True
                    s += (alen + 3) & ~3
                if kind == IFLA_PROP_LIST:
                    self.altnames = names


#: (type, payload start, payload end) of a link message's wanted attributes, relative to the
#: message: what `_link_wanted` yields
_Wanted = list[tuple[int, int, int]]
#: the layouts of link messages last walked, by (message length, first attribute's length):
#: a Struct that reads every attribute header of the layout at once, the headers it read
#: (length and type of each), and the wanted attributes
_LAYOUTS: dict[tuple[int, int], tuple[struct.Struct, tuple[int, ...], _Wanted]] = {}
#: at most this many layouts are kept (a dump of many kinds, names and marks has more)
_LAYOUTS_KEPT = 64


def _link_wanted(data: bytes, offset: int, length: int) -> _Wanted:
    """The wanted attributes (`_LINK_WANTED`) of the link message at `offset`, as
    (type, payload start, payload end) relative to the message, in the message's order.

    A dump's messages mostly share a layout (the kernel writes the same attributes in the
    same order for links of one kind), and walking ~50 attributes in Python was most of
    decoding a link: a message of a layout seen before is checked by reading all its
    attribute headers in one call and comparing them with the layout's. Equal headers at
    every place of the layout mean the walk would step exactly as it did (each header's
    length leads to the next), so the layout's wanted attributes are the message's."""
    first = _ATTR.unpack_from(data, offset + 32)[0] if length >= 36 else 0
    key = (length, first)
    layout = _LAYOUTS.get(key)
    if layout is not None:
        heads, seen, wanted = layout
        if heads.unpack_from(data, offset) == seen:
            return wanted
    # an inline loop, not attrs(): most attributes are skipped, so an attribute is only
    # taken apart once it is known to be wanted
    head = _ATTR.unpack_from
    wanted_kinds = _LINK_WANTED_RAW
    places: list[int] = []
    found: _Wanted = []
    pos, end = offset + 32, offset + length
    while pos + 4 <= end:
        alen, kind = head(data, pos)
        places.append(pos - offset)
        if alen < 4:
            break
        if kind in wanted_kinds:
            found.append((kind & NLA_TYPE_MASK, pos + 4 - offset, pos + alen - offset))
        pos += (alen + 3) & ~3
    if places:
        if len(_LAYOUTS) >= _LAYOUTS_KEPT:
            _LAYOUTS.clear()
        fmt = ["="]
        at = 0
        for place in places:
            fmt.append(f"{place - at}xHH")
            at = place + 4
        heads = struct.Struct("".join(fmt))
        _LAYOUTS[key] = (heads, heads.unpack_from(data, offset), found)
    return found


_LINK_WANTED = frozenset({IFLA_IFNAME, IFLA_MTU, IFLA_ADDRESS, IFLA_OPERSTATE, IFLA_LINK,
                          IFLA_LINK_NETNSID, IFLA_MASTER, IFLA_GROUP, IFLA_STATS64,
                          IFLA_PROP_LIST, IFLA_LINKINFO})
#: the same, as they come: with or without the nested flag (skipped attributes are not masked)
_LINK_WANTED_RAW = _LINK_WANTED | {kind | NLA_F_NESTED for kind in _LINK_WANTED}


def dump_links(rt: Rtnl, counters: bool = True) -> list[RawLink]:
    """Every link of the socket's namespace; without `counters` the kernel leaves out the
    statistics (RTEXT_FILTER_SKIP_STATS), a good part of each message (`stats` stays zero)."""
    # no RTEXT_FILTER_VF: VF details are not read, and they would only lengthen the dump
    body = ifinfo() + attr_u32(IFLA_EXT_MASK, 0 if counters else RTEXT_FILTER_SKIP_STATS)
    return rt.dump(RTM_GETLINK, body, lambda messages: [RawLink(d, o) for d, o in messages])


def dump_indexes(rt: Rtnl) -> dict[str, int]:
    """name -> ifindex of every link, reading nothing else of the messages (the kernel puts
    the name first): far cheaper than dump_links when only indexes are needed."""
    return rt.dump(RTM_GETLINK, ifinfo() + attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS),
                   _parse_indexes)


def _parse_indexes(messages: Iterable[tuple[bytes, int]]) -> dict[str, int]:
    out = {}
    for data, offset in messages:
        index = _IFI.unpack_from(data, offset + 16)[2]
        for kind, s, e in attrs(data, offset + 32, offset + _HDR.unpack_from(data, offset)[0]):
            if kind == IFLA_IFNAME:
                out[data[s:e - 1].decode()] = index
                break
    return out


def dump_addresses(rt: Rtnl) -> list[tuple[int, str, int]]:
    """(ifindex, "address/prefix", scope) of every address, as `ip addr` prints them."""
    return rt.dump(RTM_GETADDR, _IFA.pack(socket.AF_UNSPEC, 0, 0, 0, 0), _parse_addresses)


def _parse_addresses(messages: Iterable[tuple[bytes, int]]) -> list[tuple[int, str, int]]:
    out = []
    head = _ATTR.unpack_from
    for data, offset in messages:
        length = _HDR.unpack_from(data, offset)[0]
        family, plen, _, scope, index = _IFA.unpack_from(data, offset + 16)
        local = addr = None
        # attrs() inline: a namespace of 10k links has as many addresses
        pos, end = offset + 24, offset + length
        while pos + 4 <= end:
            alen, kind = head(data, pos)
            if alen < 4:
                break
            kind &= NLA_TYPE_MASK
            if kind == IFA_LOCAL:
                local = data[pos + 4:pos + alen]
            elif kind == IFA_ADDRESS:
                addr = data[pos + 4:pos + alen]
            pos += (alen + 3) & ~3
        raw = local or addr
        if raw is None:
            continue
        out.append((index, f"{ip_text(family, raw)}/{plen}", scope))
    return out


#: neighbour attributes (linux/neighbour.h) and the bridge's family
NDA_DST, NDA_LLADDR = 1, 2
AF_BRIDGE = 7


def dump_fdb(rt: Rtnl) -> list[tuple[int, str, str | None, int]]:
    """(ifindex, MAC, destination address or None, NUD state) of every FDB entry, as `bridge
    fdb show` lists them (an AF_BRIDGE neighbour dump)."""
    return rt.dump(RTM_GETNEIGH, _NDM.pack(AF_BRIDGE, 0, 0, 0, 0), _parse_fdb)


def _parse_fdb(messages: Iterable[tuple[bytes, int]]) -> list[tuple[int, str, str | None, int]]:
    out = []
    for data, offset in messages:
        length = _HDR.unpack_from(data, offset)[0]
        _, index, state, _, _ = _NDM.unpack_from(data, offset + 16)
        mac, dst = "", None
        for kind, s, e in attrs(data, offset + 16 + _NDM.size, offset + length):
            if kind == NDA_LLADDR:
                mac = mac_str(data, s, e)
            elif kind == NDA_DST and e - s in (4, 16):
                dst = ip_text(socket.AF_INET if e - s == 4 else socket.AF_INET6, data[s:e])
        out.append((index, mac, dst, state))
    return out


def ip_text(family: int, raw: bytes) -> str:
    """An address from a message, spelled as ipaddress spells it (as the file's side is
    normalised). inet_ntop writes RFC 5952's form, which is ipaddress's (tests/unit/
    test_address_check.py), and costs far less; only where it writes a dotted quad in IPv6
    (IPv4-mapped) does ipaddress spell it."""
    text = socket.inet_ntop(family, raw)
    if family == socket.AF_INET6 and "." in text:
        import ipaddress
        return str(ipaddress.ip_address(text))
    return text


def dump_routes(rt: Rtnl, family: int, proto: int = 0) -> list[dict[str, Any]]:
    """Unicast routes outside the local table, with the fields observe compares; with
    `proto`, only that routing protocol's, filtered by the kernel (strict dump checking).

    A route appears once even when the dump repeats it: an IPv6 dump restarts its walk when
    the table changes underneath, and right after many interfaces came up (DAD adding
    routes) one dump can send the same routes many times over."""
    if proto:
        try:
            rt.sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        except OSError:  # a kernel before 4.20: filter here instead
            return [r for r in dump_routes(rt, family) if r["proto"] == proto]
        try:
            body = _RTM.pack(family, 0, 0, 0, 0, proto, 0, 1, 0)  # protocol, unicast
            return rt.dump(RTM_GETROUTE, body, lambda m: _parse_routes(m, family))
        finally:
            rt.sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 0)
    body = _RTM.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    return rt.dump(RTM_GETROUTE, body, lambda m: _parse_routes(m, family))


def _parse_routes(messages: Iterable[tuple[bytes, int]], family: int) -> list[dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for data, offset in messages:
        length = _HDR.unpack_from(data, offset)[0]
        _, dst_len, _, _, table, proto, _, rtype, _ = _RTM.unpack_from(data, offset + 16)
        # unicast only, never the local table (the header's table is exact below 256): the
        # kernel's local/broadcast routes, two per address, are not vnet's and not parsed
        if rtype != 1 or table == 255:
            continue
        route: dict[str, Any] = {"family": family, "dst_len": dst_len, "table": table,
                                 "proto": proto, "dst": None, "gateway": None, "oif": None,
                                 "priority": 0}
        for kind, s, e in attrs(data, offset + 28, offset + length):
            if kind == RTA_DST:
                route["dst"] = ip_text(family, data[s:e])
            elif kind == RTA_GATEWAY:
                route["gateway"] = ip_text(family, data[s:e])
            elif kind == RTA_OIF:
                route["oif"] = _U32.unpack_from(data, s)[0]
            elif kind == RTA_PRIORITY:
                route["priority"] = _U32.unpack_from(data, s)[0]
            elif kind == RTA_TABLE:
                route["table"] = _U32.unpack_from(data, s)[0]
        out.setdefault(tuple(route.values()), route)
    return list(out.values())


class RawQdisc:
    """A qdisc from a dump, shaped like the pyroute2 message tc.py reads (`msg["index"]`,
    `get_attr`) when it has no options; with options, pyroute2 parses it (`full()`)."""

    __slots__ = ("fields", "tc_kind", "has_options", "raw")

    def __init__(self, data: bytes, offset: int) -> None:
        length = _HDR.unpack_from(data, offset)[0]
        _, index, handle, parent, _ = _TCM.unpack_from(data, offset + 16)
        self.fields = {"index": index, "handle": handle, "parent": parent}
        self.tc_kind = ""
        self.has_options = False
        self.raw = bytes(data[offset:offset + length])
        for kind, s, e in attrs(data, offset + 36, offset + length):
            if kind == TCA_KIND:
                self.tc_kind = cstr(data, s, e)
            elif kind == TCA_OPTIONS:
                self.has_options = True

    def __getitem__(self, key: str) -> int:
        return self.fields[key]

    def get_attr(self, name: str) -> Any:
        return self.tc_kind if name == "TCA_KIND" else None

    def full(self) -> Any:
        from pyroute2.netlink.rtnl.tcmsg import tcmsg
        msg = tcmsg(self.raw)
        msg.decode()
        return msg


def dump_qdiscs(rt: Rtnl) -> list[Any]:
    """Every qdisc; those with options as pyroute2 messages, the rest as RawQdisc."""
    return rt.dump(RTM_GETQDISC, _TCM.pack(socket.AF_UNSPEC, 0, 0, 0, 0), _parse_qdiscs)


def _parse_qdiscs(messages: Iterable[tuple[bytes, int]]) -> list[Any]:
    out: list[Any] = []
    for data, offset in messages:
        q = RawQdisc(data, offset)
        # netem stays raw: door/netem.py reads what pyroute2's parser does not know
        out.append(q.full() if q.has_options and q.tc_kind != "netem" else q)
    return out


def full_link(raw: bytes) -> Any:
    """pyroute2's own parse of one link message (for a kind's IFLA_INFO_DATA)."""
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    msg = ifinfmsg(raw)
    msg.decode()
    return msg
