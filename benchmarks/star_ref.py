"""The star's single-process reference: the same kernel work as `ip -batch` plus one
`ip -n NS -batch` per namespace, in one process that speaks raw netlink.

    python3 star_ref.py SPOKES        # inside a private network and mount namespace

`ip -batch` cannot name a namespace on a line, so the per-namespace reference starts one `ip`
process per namespace, and at 200 namespaces most of its time was process start. This program
does the same requests one at a time, each waiting for the kernel's acknowledgement as `ip`
does, from one process: namespaces made as `ip netns add` makes them (a file under
/run/netns, bind-mounted from a new network namespace), then per spoke the veth with its
peer in the namespace, the bridge port, the addresses and the states.

Only the standard library: what it times is the kernel, not a netlink library.
"""

from __future__ import annotations

import functools
import os
import socket
import struct
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ctypes

NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
RTM_NEWLINK, RTM_NEWADDR = 16, 20
IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 3, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFF_UP = 0x1
CLONE_NEWNET, MS_BIND = 0x40000000, 4096
NETNS_DIR = "/run/netns"
NET = "10.0.0.0"  # bench.py's first address


@functools.cache
def _lib() -> ctypes.CDLL:
    """libc, for unshare, mount and setns (ctypes imported here: floor.py, which uses this
    file's netlink helpers, has no namespace to make and no import to spare)."""
    import ctypes
    return ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        import ctypes
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def attr(kind: int, data: bytes) -> bytes:
    length = 4 + len(data)
    return struct.pack("HH", length, kind) + data + b"\0" * (-length % 4)


def name_attr(name: str) -> bytes:
    return attr(IFLA_IFNAME, name.encode() + b"\0")


def ifinfo(index: int = 0, up: bool | None = None) -> bytes:
    flags, change = (IFF_UP if up else 0, IFF_UP) if up is not None else (0, 0)
    return struct.pack("BxHiII", socket.AF_UNSPEC, 0, index, flags, change)


class Rtnl:
    """One NETLINK_ROUTE socket in the namespace the thread is in when it is made."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def request(self, msg_type: int, flags: int, body: bytes) -> None:
        """Send one request and wait for its acknowledgement, as `ip` does."""
        self.seq += 1
        header = struct.pack("IHHII", 16 + len(body), msg_type,
                             NLM_F_REQUEST | NLM_F_ACK | flags, self.seq, 0)
        self.sock.send(header + body)
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset < len(data):
                length, kind, _, seq, _ = struct.unpack_from("IHHII", data, offset)
                if kind == NLMSG_ERROR and seq == self.seq:
                    (code,) = struct.unpack_from("i", data, offset + 16)
                    if code:
                        raise OSError(-code, f"netlink request {msg_type}: "
                                      f"{os.strerror(-code)}")
                    return
                offset += (length + 3) & ~3

    def link_add(self, name: str, kind: str, data: bytes = b"", master: int = 0) -> None:
        info = attr(IFLA_INFO_KIND, kind.encode()) + (attr(IFLA_INFO_DATA, data) if data else b"")
        body = ifinfo() + name_attr(name) + attr(IFLA_LINKINFO, info)
        if master:
            body += attr(IFLA_MASTER, struct.pack("I", master))
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def link_set(self, name: str, up: bool | None = None, master: int = 0) -> None:
        body = ifinfo(up=up) + name_attr(name)
        if master:
            body += attr(IFLA_MASTER, struct.pack("I", master))
        self.request(RTM_NEWLINK, 0, body)

    def addr_add(self, address: str, index: int) -> None:
        import ipaddress  # here: floor.py, which uses this file's helpers, does without it
        iface = ipaddress.IPv4Interface(address)
        packed = iface.ip.packed
        body = struct.pack("BBBBI", socket.AF_INET, iface.network.prefixlen, 0, 0, index)
        body += attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
        self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)

    def close(self) -> None:
        self.sock.close()


def netns_add(name: str, home: int) -> int:
    """`ip netns add NAME`: a new network namespace bind-mounted on /run/netns/NAME; returns
    an fd of it, the thread back in `home`."""
    path = os.path.join(NETNS_DIR, name)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    _check(_lib().unshare(CLONE_NEWNET), "unshare")
    try:
        _check(_lib().mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
               f"mount {path}")
        return os.open(path, os.O_RDONLY)
    finally:
        _check(_lib().setns(home, CLONE_NEWNET), "setns back")


def pair_addrs(i: int) -> tuple[str, str]:
    """The benchmark's addresses (bench.py's pair_addrs)."""
    import ipaddress
    base = ipaddress.IPv4Address(NET) + 4 * i
    return f"{base + 1}/30", f"{base + 2}/30"


def star(spokes: int) -> None:
    """The kernel work of bench.py's star_batches, request for request."""
    os.makedirs(NETNS_DIR, exist_ok=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    root = Rtnl()
    root.link_add("br0", "bridge")
    root.link_set("br0", up=True)
    bridge = socket.if_nametoindex("br0")
    for i in range(spokes):
        a, b = pair_addrs(i)
        ns = netns_add(f"s{i}", home)
        peer = ifinfo() + name_attr(f"e{i}") + attr(IFLA_NET_NS_FD, struct.pack("I", ns))
        root.link_add(f"p{i}", "veth", attr(VETH_INFO_PEER, peer))
        root.link_set(f"p{i}", master=bridge)
        root.addr_add(b, socket.if_nametoindex(f"p{i}"))
        root.link_set(f"p{i}", up=True)
        # the namespace's own part, as `ip -n s{i} -batch -` does it: from inside
        _check(_lib().setns(ns, CLONE_NEWNET), "setns")
        try:
            inner = Rtnl()
            inner.link_set("lo", up=True)
            inner.addr_add(a, socket.if_nametoindex(f"e{i}"))
            inner.link_set(f"e{i}", up=True)
            inner.close()
        finally:
            _check(_lib().setns(home, CLONE_NEWNET), "setns back")
        os.close(ns)
    root.close()


if __name__ == "__main__":
    star(int(sys.argv[1]))
