"""The lean rtnetlink encoders and decoders agree with pyroute2's parser on the same bytes."""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct

import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from vnet.door import rtnl


def _frame(msg: tuple[int, int, bytes]) -> bytes:
    kind, flags, body = msg
    return struct.pack("=IHHII", 16 + len(body), kind, flags, 1, 0) + body


def _parse(cls: type, data: bytes):  # noqa: ANN202 - a pyroute2 message
    msg = cls(data)
    msg.decode()
    return msg


def test_veth_newlink_decodes_in_pyroute2_with_its_peer() -> None:
    peer = rtnl.veth_peer("vb0", mtu=1400, mac="02:00:00:00:00:02")
    msg = _parse(ifinfmsg, _frame(rtnl.newlink("va0", "veth", mtu=1500, peer=peer)))
    assert msg.get_attr("IFLA_IFNAME") == "va0"
    assert msg.get_attr("IFLA_MTU") == 1500
    info = msg.get_attr("IFLA_LINKINFO")
    assert info.get_attr("IFLA_INFO_KIND") == "veth"
    p = info.get_attr("IFLA_INFO_DATA").get_attr("VETH_INFO_PEER")
    assert p.get_attr("IFLA_IFNAME") == "vb0"
    assert p.get_attr("IFLA_MTU") == 1400
    assert p.get_attr("IFLA_ADDRESS") == "02:00:00:00:00:02"


def test_setlink_up_and_master() -> None:
    msg = _parse(ifinfmsg, _frame(rtnl.setlink(7, up=True, master=3)))
    assert (msg["index"], msg["flags"] & 1, msg["change"] & 1) == (7, 1, 1)
    assert msg.get_attr("IFLA_MASTER") == 3


def test_group_deletion_in_another_namespace_names_it_by_id() -> None:
    msg = _parse(ifinfmsg, _frame(rtnl.dellink(group=0x76000001, target=4)))
    assert (msg["index"], msg.get_attr("IFLA_GROUP")) == (0, 0x76000001)
    # attribute 46: IFLA_TARGET_NETNSID, called by its first name IFLA_IF_NETNSID in pyroute2
    assert msg.get_attr("IFLA_IF_NETNSID") == 4
    own = _parse(ifinfmsg, _frame(rtnl.dellink(group=0x76000001)))
    assert own.get_attr("IFLA_IF_NETNSID") is None


def _address_by_ipaddress(add: bool, index: int, addr: str) -> bytes:
    """RTM_NEWADDR/RTM_DELADDR's body as ipaddress reads the text (rtnl's former encoder)."""
    iface = ipaddress.ip_interface(addr)
    family = socket.AF_INET6 if iface.version == 6 else socket.AF_INET
    packed = iface.ip.packed
    v6_add = iface.version == 6 and add
    body = struct.pack("=BBBBI", family, iface.network.prefixlen,
                       rtnl.IFA_F_PERMANENT if v6_add else 0, 0, index)
    body += rtnl.attr(rtnl.IFA_LOCAL, packed) + rtnl.attr(rtnl.IFA_ADDRESS, packed)
    if v6_add:
        body += rtnl.attr_u32(rtnl.IFA_FLAGS, rtnl.IFA_F_PERMANENT | rtnl.IFA_F_NODAD)
    return body


@pytest.mark.parametrize("addr", [
    "10.0.0.1/30", "10.0.0.1", "0.0.0.0/0", "2001:db8::1/64", "2001:db8::1", "::/0",
    "::ffff:1.2.3.4/96", "10.0.0.1/255.255.255.0", "fe80::1%eth0/64", "2001:db8::/128"])
def test_address_encoding_reads_the_text_as_ipaddress_does(addr: str) -> None:
    for add in (True, False):
        assert rtnl.address(add, 3, addr)[2] == _address_by_ipaddress(add, 3, addr)


@pytest.mark.parametrize("addr", ["10.0.0.1/33", "2001:db8::1/129", "10.0.0.256/24", "x",
                                  "10.0.0.1/-1", "10.0.0.1/+24", "10.0.0.1/\u0662\u0664"])
def test_address_encoding_refuses_what_ipaddress_refuses(addr: str) -> None:
    with pytest.raises(ValueError):
        ipaddress.ip_interface(addr)
    with pytest.raises(ValueError):
        rtnl.address(True, 3, addr)


def test_address_v4_and_v6_flags() -> None:
    v4 = _parse(ifaddrmsg, _frame(rtnl.address(True, 5, "192.0.2.1/24")))
    assert (v4["index"], v4["prefixlen"], v4["family"]) == (5, 24, socket.AF_INET)
    assert v4.get_attr("IFA_LOCAL") == "192.0.2.1"
    v6 = _parse(ifaddrmsg, _frame(rtnl.address(True, 5, "2001:db8::1/64")))
    assert v6.get_attr("IFA_ADDRESS") == "2001:db8::1"
    assert v6.get_attr("IFA_FLAGS") == rtnl.IFA_F_PERMANENT | rtnl.IFA_F_NODAD


def test_raw_link_reads_what_pyroute2_encodes() -> None:
    msg = ifinfmsg()
    msg["index"] = 9
    msg["flags"] = 1
    msg["attrs"] = [("IFLA_IFNAME", "br0"), ("IFLA_MTU", 9000), ("IFLA_MASTER", 4),
                    ("IFLA_ADDRESS", "02:00:00:00:00:09"), ("IFLA_GROUP", 42),
                    ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "bridge")]}),
                    ("IFLA_PROP_LIST", {"attrs": [("IFLA_ALT_IFNAME", "vnet.t.br0")]})]
    msg.encode()
    raw = rtnl.RawLink(bytes(msg.data), 0)
    assert (raw.index, raw.name, raw.mtu, raw.master, raw.group) == (9, "br0", 9000, 4, 42)
    assert (raw.mac, raw.kind, raw.altnames, raw.flags & 1) == (
        "02:00:00:00:00:09", "bridge", ["vnet.t.br0"], 1)
    assert not raw.has_info_data


def test_error_ack_names_errno_and_extack_message() -> None:
    inner = struct.pack("=IHHII", 16, 16, 5, 1, 0)
    tlv = rtnl.attr_str(1, "Unknown device type")
    body = struct.pack("=i", -95) + inner + tlv
    data = struct.pack("=IHHII", 16 + len(body), rtnl.NLMSG_ERROR, 0x100 | 0x200, 1, 0) + body
    err = rtnl.decode_ack(data, 0)
    assert err is not None and (err.code, err.detail) == (95, "Unknown device type")


class _ScriptedSocket:
    """Answers the n-th dump request with the n-th scripted list of link names, marked
    interrupted (NLM_F_DUMP_INTR) or not; the last script repeats."""

    def __init__(self, script: list[tuple[list[str], bool]]) -> None:
        self.script = script
        self.requests = 0
        self.pending = b""

    def send(self, data: bytes) -> None:
        seq = struct.unpack_from("=I", data, 8)[0]
        names, interrupted = self.script[min(self.requests, len(self.script) - 1)]
        self.requests += 1
        flags = 0x2 | (rtnl.NLM_F_DUMP_INTR if interrupted else 0)  # NLM_F_MULTI
        out = b""
        for i, name in enumerate(names, 1):
            body = rtnl.ifinfo(i) + rtnl.attr_str(rtnl.IFLA_IFNAME, name)
            out += struct.pack("=IHHII", 16 + len(body), rtnl.RTM_NEWLINK, flags, seq, 0) + body
        self.pending = out + struct.pack("=IHHIIi", 20, rtnl.NLMSG_DONE, flags, seq, 0, 0)

    def recv(self, size: int) -> bytes:
        out, self.pending = self.pending, b""
        return out


def _scripted(script: list[tuple[list[str], bool]]) -> tuple[rtnl.Rtnl, _ScriptedSocket]:
    rt = rtnl.Rtnl.__new__(rtnl.Rtnl)
    rt.sock, rt.seq, rt.interrupted = _ScriptedSocket(script), 0, False  # type: ignore
    return rt, rt.sock  # type: ignore


def test_an_interrupted_dump_is_read_again() -> None:
    rt, sock = _scripted([(["lo", "a"], True), (["lo", "a", "b"], False)])
    assert [link.name for link in rtnl.dump_links(rt)] == ["lo", "a", "b"]
    assert sock.requests == 2


def test_a_dump_interrupted_every_time_stands_after_the_last_try() -> None:
    rt, sock = _scripted([(["lo", "a"], True)])
    assert [link.name for link in rtnl.dump_links(rt)] == ["lo", "a"]
    assert sock.requests == rtnl.DUMP_TRIES
    assert rt.interrupted


class _DatagramSocket(_ScriptedSocket):
    """Answers as the kernel does: the dump in parts of whole messages, each part at most
    `part` bytes (one message longer than that is a part of its own); a recv takes one part,
    cut to the buffer it is given, as on any datagram socket."""

    def __init__(self, script: list[tuple[list[str], bool]], part: int) -> None:
        super().__init__(script)
        self.part = part
        self.parts: list[bytes] = []
        self.asked: list[int] = []

    def send(self, data: bytes) -> None:
        super().send(data)
        offset, current = 0, b""
        while offset < len(self.pending):
            length = struct.unpack_from("=I", self.pending, offset)[0]
            message = self.pending[offset:offset + length]
            if current and len(current) + len(message) > self.part:
                self.parts.append(current)
                current = b""
            current += message
            offset += length
        self.parts.append(current)
        self.pending = b""

    def recv(self, size: int) -> bytes:
        self.asked.append(size)
        return self.parts.pop(0)[:size]


def test_a_large_dump_is_read_whole_in_parts_into_a_small_buffer() -> None:
    names = [f"veth-with-a-long-name-{i}" for i in range(3000)]
    sock = _DatagramSocket([(names, False)], part=32 << 10)  # the kernel's largest part
    rt = rtnl.Rtnl.__new__(rtnl.Rtnl)
    rt.sock, rt.seq, rt.interrupted = sock, 0, False  # type: ignore
    assert [link.name for link in rtnl.dump_links(rt)] == names
    assert len(sock.asked) > 1 and max(sock.asked) <= 1 << 16


class _HugeLinkSocket(_DatagramSocket):
    """One link whose message is 70 KiB (two attributes of 35 KiB): a part of its own."""

    def send(self, data: bytes) -> None:
        seq = struct.unpack_from("=I", data, 8)[0]
        body = (rtnl.ifinfo(1) + rtnl.attr_str(rtnl.IFLA_IFNAME, "big")
                + rtnl.attr(200, bytes(35 << 10)) + rtnl.attr(201, bytes(35 << 10)))
        self.parts = [struct.pack("=IHHII", 16 + len(body), rtnl.RTM_NEWLINK, 2, seq, 0) + body,
                      struct.pack("=IHHIIi", 20, rtnl.NLMSG_DONE, 2, seq, 0, 0)]


def test_an_answer_longer_than_the_buffer_is_refused_never_read_short() -> None:
    sock = _HugeLinkSocket([], part=0)
    rt = rtnl.Rtnl.__new__(rtnl.Rtnl)
    rt.sock, rt.seq, rt.interrupted = sock, 0, False  # type: ignore
    with pytest.raises(rtnl.RtnlError) as caught:
        rtnl.dump_links(rt)
    assert caught.value.code == errno.EMSGSIZE


def test_index_dump_reads_names_and_indexes_as_the_full_decoder_does() -> None:
    rt, _ = _scripted([(["lo", "va0", "vb0"], False)])
    full = {link.name: link.index for link in rtnl.dump_links(rt)}
    assert rtnl.dump_indexes(rt) == full == {"lo": 1, "va0": 2, "vb0": 3}


def test_creation_with_chosen_indexes_and_altname_by_index() -> None:
    peer = rtnl.veth_peer("vb0", index=42)
    msg = _parse(ifinfmsg, _frame(rtnl.newlink("va0", "veth", peer=peer, index=41)))
    assert msg["index"] == 41
    p = msg.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA").get_attr("VETH_INFO_PEER")
    assert (p["index"], p.get_attr("IFLA_IFNAME")) == (42, "vb0")
    by_index = _parse(ifinfmsg, _frame(rtnl.add_altname("va0", "vnet.x", index=41)))
    assert by_index["index"] == 41 and by_index.get_attr("IFLA_IFNAME") is None
    by_name = _parse(ifinfmsg, _frame(rtnl.add_altname("va0", "vnet.x")))
    assert by_name["index"] == 0 and by_name.get_attr("IFLA_IFNAME") == "va0"


def test_fdb_dump_reads_what_pyroute2_encodes() -> None:
    # the lean FDB read (door/fdb.read_fdb) against pyroute2's encoding of the same entries
    from pyroute2.netlink.rtnl.ndmsg import ndmsg
    entries = [(7, "00:00:00:00:00:00", "198.51.100.2", 0x80),
               (7, "aa:bb:cc:dd:ee:01", "2001:db8::2", 0x40),
               (9, "02:00:00:00:00:09", None, 0x02)]
    data = b""
    for index, mac, dst, state in entries:
        msg = ndmsg()
        msg["family"], msg["ifindex"], msg["state"] = 7, index, state
        msg["attrs"] = [("NDA_LLADDR", mac)] + ([("NDA_DST", dst)] if dst else [])
        msg.encode()
        data += bytes(msg.data)
    messages, offset = [], 0
    while offset < len(data):
        messages.append((data, offset))
        offset += (int.from_bytes(data[offset:offset + 4], "little") + 3) & ~3
    assert rtnl._parse_fdb(messages) == entries
