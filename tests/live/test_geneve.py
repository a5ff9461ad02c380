"""geneve on the real kernel: a ping over the overlay carried on the underlay as UDP to the
dstport with the VNI in a Geneve header; the kernel state equals the reference `ip link add ...
type geneve ...` commands' (every option, IPv4, IPv6 and external); a second apply changes
nothing, ttl and tos change in place, a new dstport re-creates the link, destroy empties."""

from __future__ import annotations

import errno
import socket
import struct
from pathlib import Path

import pytest

import vnet
from vnet.actions import Request
from vnet.door.netlink import Netlink
from vnet.errors import KernelError
from vnet.kinds.geneve import Geneve

from .helpers import CommandError, capture_on, ip_json, ipv4_frames, require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("geneve")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "geneve.yaml").read_text()

REFERENCE_CMDS = [
    ["ip", "link", "add", "underlay1", "netns", "host1", "type", "veth", "peer", "name",
     "underlay2", "netns", "host2"],
    ["ip", "-n", "host1", "link", "add", "gnv0", "mtu", "1450", "type", "geneve", "id", "100",
     "remote", "198.51.100.2"],
    ["ip", "-n", "host2", "link", "add", "gnv0", "mtu", "1450", "type", "geneve", "id", "100",
     "remote", "198.51.100.1"],
    ["ip", "-n", "host1", "addr", "add", "198.51.100.1/24", "dev", "underlay1"],
    ["ip", "-n", "host2", "addr", "add", "198.51.100.2/24", "dev", "underlay2"],
    ["ip", "-n", "host1", "addr", "add", "192.0.2.1/24", "dev", "gnv0"],
    ["ip", "-n", "host2", "addr", "add", "192.0.2.2/24", "dev", "gnv0"],
    ["ip", "-n", "host1", "link", "set", "underlay1", "up"],
    ["ip", "-n", "host2", "link", "set", "underlay2", "up"],
    ["ip", "-n", "host1", "link", "set", "gnv0", "up"],
    ["ip", "-n", "host2", "link", "set", "gnv0", "up"],
]

#: every option, each spelling: an IPv6 remote, an external (collect_metadata) one, an IPv4
#: one without checksums
OPTIONS_YAML = """
name: gnopts
namespaces: [opts]
interfaces:
  - {name: gnv6, kind: geneve, netns: opts, id: 7, remote: "2001:db8::2", ttl: 64, tos: 1,
     dstport: 6082, udpcsum: true}
  - {name: gnvmd, kind: geneve, netns: opts, collect_metadata: true, dstport: 6083}
  - {name: gnv4, kind: geneve, netns: opts, id: 9, remote: 203.0.113.9, ttl: 0, tos: 0,
     udpcsum: false, collect_metadata: false}
"""
OPTIONS_CMDS = [
    ["ip", "-n", "opts", "link", "add", "gnv6", "type", "geneve", "id", "7", "remote",
     "2001:db8::2", "ttl", "64", "tos", "1", "dstport", "6082", "udpcsum"],
    ["ip", "-n", "opts", "link", "add", "gnvmd", "type", "geneve", "dstport", "6083", "external"],
    ["ip", "-n", "opts", "link", "add", "gnv4", "type", "geneve", "id", "9", "remote",
     "203.0.113.9", "ttl", "0", "tos", "0", "noudpcsum"],
    *[["ip", "-n", "opts", "link", "set", name, "up"] for name in ("gnv6", "gnvmd", "gnv4")],
]

_TRANS_ETHER_BRIDGING = 0x6558  # Geneve's protocol type for an Ethernet payload


def _require() -> None:
    require_kind("geneve")
    require_kind("veth")


# ---- (b) the reference commands ----------------------------------------------------------------
def test_geneve_matches_ip_reference() -> None:
    _require()
    assert_matches_reference(EXAMPLE, REFERENCE_CMDS, ["host1", "host2"], [
        ("host1", "gnv0"), ("host2", "gnv0"), ("host1", "underlay1"), ("host2", "underlay2")])


def test_every_option_matches_ip_reference_and_plans_nothing_twice() -> None:
    require_kind("geneve")
    ifaces: list[tuple[str | None, str]] = [("opts", n) for n in ("gnv6", "gnvmd", "gnv4")]
    assert_matches_reference(OPTIONS_YAML, OPTIONS_CMDS, ["opts"], ifaces)
    topo = vnet.load_text(OPTIONS_YAML)
    topo.apply()
    try:
        plan = topo.plan()
        assert not plan.has_changes, [(a.verb, a.subject, a.reason, a.diff)
                                      for a in plan.actions]
        v6 = ip_json("-d", "link", "show", "gnv6", netns="opts")[0]["linkinfo"]["info_data"]
        assert (v6["id"], v6["remote6"], v6["ttl"], v6["tos"], v6["port"]) == (
            7, "2001:db8::2", 64, "0x1", 6082), v6
        md = ip_json("-d", "link", "show", "gnvmd", netns="opts")[0]["linkinfo"]["info_data"]
        assert md.get("external") is True and md.get("port", 6083) == 6083, md
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


# ---- (a) packets ------------------------------------------------------------------------------
def _geneve_frames(sock: socket.socket, seconds: float) -> list[tuple[int, int, int | None]]:
    """(IP protocol, UDP destination port or 0, VNI of a Geneve header or None) of the IPv4
    frames read within `seconds`."""
    seen: list[tuple[int, int, int | None]] = []
    for frame in ipv4_frames(sock, seconds):
        ihl = (frame[14] & 0x0F) * 4
        proto = frame[23]
        if proto != socket.IPPROTO_UDP:
            seen.append((proto, 0, None))
            continue
        udp = 14 + ihl
        dport = struct.unpack("!H", frame[udp + 2:udp + 4])[0]
        header = frame[udp + 8:udp + 16]
        vni = None
        # Geneve: version 0 and options length, flags, protocol type, 24-bit VNI, reserved
        if len(header) == 8 and header[0] >> 6 == 0 and \
                struct.unpack("!H", header[2:4])[0] == _TRANS_ETHER_BRIDGING:
            vni = int.from_bytes(header[4:7], "big")
        seen.append((proto, dport, vni))
    return seen


def test_overlay_ping_travels_as_geneve_to_dstport_and_destroy_empties() -> None:
    _require()
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        with capture_on("host2", "underlay2") as sock:
            sh("ping", "-c", "3", "-i", "0.2", "-W", "1", "192.0.2.2", netns="host1")
            frames = _geneve_frames(sock, 1.5)
        assert frames, "no IPv4 seen on the underlay while pinging over the overlay"
        # everything IPv4 on the underlay is UDP to 6081 carrying VNI 100: the ICMP is inside
        assert {(proto, port, vni) for proto, port, vni in frames} == {
            (socket.IPPROTO_UDP, 6081, 100)}, frames
        assert len(frames) >= 6  # three echoes and three replies
        stats = ip_json("-s", "link", "show", "underlay1", netns="host1")[0]["stats64"]
        assert stats["tx"]["packets"] >= 3
        # the overlay leaves room for the headers: 1400 bytes cross unfragmented
        sh("ping", "-c", "1", "-W", "1", "-M", "do", "-s", "1372", "192.0.2.2", netns="host1")
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


# ---- (c) changes ------------------------------------------------------------------------------
CHANGE_YAML = """
name: gnchange
namespaces: [host1]
interfaces:
  - name: gnv0
    kind: geneve
    netns: host1
    id: 100
    remote: 198.51.100.2
    dstport: {dstport}
    ttl: {ttl}
    tos: {tos}
    addresses: [192.0.2.1/24]
"""


def _gnv0() -> dict:
    return ip_json("-d", "link", "show", "gnv0", netns="host1")[0]


def _change(dstport: int = 6081, ttl: int = 10, tos: int = 4) -> vnet.Topology:
    return vnet.load_text(CHANGE_YAML.format(dstport=dstport, ttl=ttl, tos=tos))


def test_second_apply_is_a_no_op_ttl_in_place_dstport_re_creates() -> None:
    require_kind("geneve")
    first = _change()
    first.apply()
    try:
        index = _gnv0()["ifindex"]
        again = first.apply()
        assert again.actions == [], [(a.verb, a.subject) for a in again.actions]
        assert _gnv0()["ifindex"] == index

        in_place = _change(ttl=20, tos=8)
        plan = in_place.plan()
        # tos with the link's other options, ttl apart (inherit is another attribute)
        assert {a.verb for a in plan.actions} == {"change"}
        assert {k: d for a in plan.actions for k, d in a.diff.items()} == {
            "ttl": (10, 20), "tos": (4, 8)}
        in_place.apply()
        data = _gnv0()["linkinfo"]["info_data"]
        assert (data["ttl"], data["tos"]) == (20, "0x8"), data
        assert _gnv0()["ifindex"] == index  # the same link, changed in place
        assert not in_place.plan().has_changes

        port = _change(dstport=6082, ttl=20, tos=8)
        plan = port.plan()
        assert any(a.verb == "replace" and "dstport cannot change in place" in a.reason
                   for a in plan.actions), [(a.verb, a.subject, a.reason) for a in plan.actions]
        port.apply()
        link = _gnv0()
        assert link["linkinfo"]["info_data"]["port"] == 6082
        assert link["ifindex"] != index  # re-created
        addrs = ip_json("addr", "show", "gnv0", netns="host1")[0]["addr_info"]
        assert "192.0.2.1" in {a["local"] for a in addrs}  # with its address back
        assert not port.plan().has_changes
    finally:
        first.destroy()
    with pytest.raises(CommandError):
        sh("ip", "-n", "host1", "link", "show", "gnv0")
    assert sh("ip", "netns", "list").strip() == ""


#: one in-place change per option (a geneve made with id 100, remote 198.51.100.2, dstport
#: 6081, ttl 10, tos 4, udpcsum off), as vnet's planner would send it: only that attribute
IN_PLACE_TRIES = [
    ("id", {"IFLA_GENEVE_ID": 101}),
    ("remote", {"IFLA_GENEVE_REMOTE6": "2001:db8::2"}),  # the other address family
    # ttl inherit is set in place, and a TTL alone then clears it (the check below: ttl 20)
    ("ttl inherit", {"IFLA_GENEVE_TTL_INHERIT": 1}),
    ("ttl", {"IFLA_GENEVE_TTL": 20}),
    ("tos", {"IFLA_GENEVE_TOS": 8}),
    ("dstport", {"IFLA_GENEVE_PORT": 6082}),
    ("udpcsum", {"IFLA_GENEVE_UDP_CSUM": 1}),
    ("collect_metadata", {"IFLA_GENEVE_COLLECT_METADATA": True}),
    ("df", {"IFLA_GENEVE_DF": 1}),
    ("udp6zerocsumtx", {"IFLA_GENEVE_UDP_ZERO_CSUM6_TX": 1}),
    ("udp6zerocsumrx", {"IFLA_GENEVE_UDP_ZERO_CSUM6_RX": 1}),
    ("innerprotoinherit", {"IFLA_GENEVE_INNER_PROTO_INHERIT": True}),
]


def _set(nl: Netlink, info_data: dict, ifname: str = "gnv0") -> int | None:
    """Ask the kernel for an in-place change through vnet's door: None if done, else errno."""
    try:
        nl.send([Request("link.set", "host1", {"ifname": ifname, "kind": "geneve",
                                                "info_data": info_data})])
    except KernelError as error:
        return error.errno
    return None


def test_kernel_refuses_in_place_exactly_what_vnet_re_creates() -> None:
    """geneve_changelink, asked directly: the options marked replace are the ones it refuses
    (EOPNOTSUPP), ttl and tos it changes. remote is refused across address families; within
    one it is changed, yet vnet re-creates it, since one option covers both attributes."""
    require_kind("geneve")
    topo = _change()
    topo.apply()
    try:
        refused = set()
        with Netlink() as nl:
            for option, info_data in IN_PLACE_TRIES:
                code = _set(nl, info_data)
                assert code in (None, errno.EOPNOTSUPP), (option, code)
                if code is not None:
                    refused.add(option)
            assert _set(nl, {"IFLA_GENEVE_REMOTE": "198.51.100.3"}) is None  # same family
        assert refused == {o for o in Geneve.options_map if Geneve.needs_replace(o)}
        data = _gnv0()["linkinfo"]["info_data"]
        assert (data["ttl"], data["tos"], data["remote"]) == (20, "0x8", "198.51.100.3"), data
    finally:
        topo.destroy()


def test_kernel_changes_nothing_on_a_collect_metadata_geneve() -> None:
    """Why vnet rejects ttl, tos and udpcsum with collect_metadata: the kernel refuses them
    at creation, and refuses any change at all afterwards."""
    require_kind("geneve")
    topo = vnet.load_text("""
name: gnmd
namespaces: [host1]
interfaces:
  - {name: gnvmd, kind: geneve, netns: host1, collect_metadata: true}
""")
    topo.apply()
    try:
        with Netlink() as nl:
            assert _set(nl, {"IFLA_GENEVE_TTL": 20}, "gnvmd") == errno.EOPNOTSUPP
        assert not topo.plan().has_changes
        with pytest.raises(CommandError, match="externally controlled"):
            sh("ip", "-n", "host1", "link", "add", "gnvmd2", "type", "geneve", "dstport", "6090",
               "external", "ttl", "5")
    finally:
        topo.destroy()
