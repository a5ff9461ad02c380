"""The floor of a create, no-op and destroy: the least a Python program that does vnet's job
on the benchmark's files must do, timed as a whole process like vnet and `ip`.

    python3 floor.py create FILE GROUP   # inside a private network and mount namespace
    python3 floor.py noop FILE
    python3 floor.py destroy GROUP

- create: start Python, import PyYAML and compose FILE with its C loader (as vnet reads a
  file: nodes, for positions), take each pair's names and addresses from the nodes, and make
  the kernel do what `ip -batch` of create-N does, in its order (the veth pair in group
  GROUP, an address on each end, both up), the requests sent as vnet sends them: many to a
  sendmsg, only the last of each acknowledged, each new link given its ifindex.
- noop: start, import PyYAML, compose FILE, and read the kernel's links and addresses (two
  dumps, every reply read, nothing decoded): no validation, no comparison.
- destroy: start, read the links (a tool that deletes only its own must look first), and
  delete group GROUP in one request, as `ip link del group` does.

Nothing here checks, compares, records or reports: a program doing the job as vnet does it
(validating the file, comparing with the kernel, keeping a record and a journal) can only be
slower, so a target below a floor's ratio cannot be met by a Python program that reads its
file with PyYAML. Only the standard library and PyYAML; the netlink helpers are star_ref.py's.
"""

from __future__ import annotations

import os
import socket
import struct
import sys

from star_ref import (
    IFA_ADDRESS,
    IFA_LOCAL,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    RTM_NEWADDR,
    RTM_NEWLINK,
    VETH_INFO_PEER,
    Rtnl,
    attr,
    ifinfo,
    name_attr,
)

TYPE_CHECKING = False  # typing's import would be a tenth of the smallest floor
if TYPE_CHECKING:
    from typing import Any

IFLA_GROUP = 27
RTM_DELLINK, RTM_GETLINK, RTM_GETADDR = 17, 18, 22
NLM_F_DUMP = 0x300
NLMSG_DONE = 3
IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS = 29, 1 << 3


def read(path: str) -> Any:
    """The file's nodes, composed with PyYAML's C loader, as vnet composes it (nodes keep
    their positions), but with the base loader's resolver: every value text, no implicit
    type tried (vnet must tell numbers and booleans; a floor need not)."""
    import yaml
    with open(path, encoding="utf-8") as fh:
        return yaml.compose(fh, Loader=yaml.CBaseLoader)


def pairs(root: Any) -> list[tuple[str, str, str, str]]:
    """(name, address, peer name, peer address) of each veth of a create-N file's nodes."""
    def field(node: Any, key: str) -> Any:
        return next(v for k, v in node.value if k.value == key)

    interfaces = field(root, "interfaces").value
    out = []
    for node in interfaces:
        peer = field(node, "peer")
        out.append((field(node, "name").value, field(node, "addresses").value[0].value,
                    field(peer, "name").value, field(peer, "addresses").value[0].value))
    return out


def group_attr(group: int) -> bytes:
    return attr(IFLA_GROUP, struct.pack("I", group))


def create(path: str, group: int) -> None:
    """The requests of `ip -batch`, in its order (each pair, its addresses, its states), sent
    as vnet sends a batch: many to a sendmsg, only the last acknowledged (the kernel answers
    the others only to refuse them), each new link given its ifindex (one past the highest)
    so that the requests after it can name it."""
    found = pairs(read(path))
    rt = Rtnl()
    index = max(i for i, _ in socket.if_nameindex()) + 1
    msgs = []
    for name, address, peer_name, peer_address in found:
        ends = ((index, address), (index + 1, peer_address))
        peer = ifinfo(index + 1) + name_attr(peer_name) + group_attr(group)
        info = attr(IFLA_INFO_KIND, b"veth") + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer))
        msgs.append((RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfo(index) + name_attr(name)
                     + group_attr(group) + attr(IFLA_LINKINFO, info)))
        for at, addr in ends:
            ip, _, prefix = addr.partition("/")
            packed = socket.inet_pton(socket.AF_INET, ip)
            msgs.append((RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
                         struct.pack("BBBBI", socket.AF_INET, int(prefix), 0, 0, at)
                         + attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)))
        msgs += [(RTM_NEWLINK, 0, ifinfo(at, up=True)) for at, _ in ends]
        index += 2
    send_many(rt, msgs)
    rt.close()


def send_many(rt: Rtnl, msgs: list[tuple[int, int, bytes]], per_send: int = 256) -> None:
    """Send requests `per_send` to a sendmsg, the last of each asking for the kernel's
    acknowledgement; raise on the first refusal."""
    for first in range(0, len(msgs), per_send):
        chunk = msgs[first:first + per_send]
        parts = []
        for i, (kind, flags, body) in enumerate(chunk):
            rt.seq += 1
            flags |= NLM_F_REQUEST | (NLM_F_ACK if i == len(chunk) - 1 else 0)
            parts.append(struct.pack("IHHII", 16 + len(body), kind, flags, rt.seq, 0) + body)
        rt.sock.send(b"".join(parts))
        acked = False
        while not acked:
            data = rt.sock.recv(1 << 16)
            offset = 0
            while offset < len(data):
                length, kind, _, seq, _ = struct.unpack_from("IHHII", data, offset)
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("i", data, offset + 16)
                    if code:
                        raise OSError(-code, f"netlink request {seq}: {os.strerror(-code)}")
                    acked = acked or seq == rt.seq
                offset += (length + 3) & ~3


def dump(rt: Rtnl, msg_type: int, body: bytes) -> int:
    """Send a dump request and read every reply to its end; the number of bytes read."""
    rt.seq += 1
    rt.sock.send(struct.pack("IHHII", 16 + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP,
                             rt.seq, 0)
                 + body)
    total = 0
    while True:
        data = rt.sock.recv(1 << 20)
        total += len(data)
        offset = 0
        while offset < len(data):
            length, kind = struct.unpack_from("IH", data, offset)
            if kind in (NLMSG_DONE, NLMSG_ERROR):
                return total
            offset += (length + 3) & ~3


def dump_links(rt: Rtnl) -> int:
    """Every link of the namespace, without statistics (as vnet reads them to plan)."""
    return dump(rt, RTM_GETLINK,
                ifinfo() + attr(IFLA_EXT_MASK, struct.pack("I", RTEXT_FILTER_SKIP_STATS)))


def noop(path: str) -> None:
    read(path)
    rt = Rtnl()
    dump_links(rt)
    dump(rt, RTM_GETADDR, struct.pack("BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0))
    rt.close()


def destroy(group: int) -> None:
    rt = Rtnl()
    dump_links(rt)
    rt.request(RTM_DELLINK, 0, ifinfo() + group_attr(group))
    rt.close()


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "create":
        create(sys.argv[2], int(sys.argv[3]))
    elif what == "noop":
        noop(sys.argv[2])
    elif what == "destroy":
        destroy(int(sys.argv[2]))
    else:
        sys.exit(f"floor.py: unknown job {what!r} (create, noop or destroy)")
    os._exit(0)  # as vnet leaves: without freeing each object at exit
