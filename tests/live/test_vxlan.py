"""vxlan on the real kernel: the reference `ip` commands, a ping over the overlay carried as UDP
to the dstport on the underlay, static FDB entries for head-end replication, and which option
changes re-create the link."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import vnet

from .helpers import CommandError, capture_on, ip_json, ipv4_frames, require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("vxlan")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "vxlan.yaml").read_text()

REFERENCE_CMDS = [
    ["ip", "link", "add", "underlay1", "netns", "host1", "type", "veth", "peer", "name",
     "underlay2", "netns", "host2"],
    ["ip", "-n", "host1", "link", "add", "vx0", "type", "vxlan", "id", "100", "local",
     "198.51.100.1", "remote", "198.51.100.2", "dev", "underlay1", "dstport", "4789"],
    ["ip", "-n", "host2", "link", "add", "vx0", "type", "vxlan", "id", "100", "local",
     "198.51.100.2", "remote", "198.51.100.1", "dev", "underlay2", "dstport", "4789"],
    ["ip", "-n", "host1", "addr", "add", "198.51.100.1/24", "dev", "underlay1"],
    ["ip", "-n", "host2", "addr", "add", "198.51.100.2/24", "dev", "underlay2"],
    ["ip", "-n", "host1", "addr", "add", "192.0.2.1/24", "dev", "vx0"],
    ["ip", "-n", "host2", "addr", "add", "192.0.2.2/24", "dev", "vx0"],
    ["ip", "-n", "host1", "link", "set", "underlay1", "up"],
    ["ip", "-n", "host2", "link", "set", "underlay2", "up"],
    ["ip", "-n", "host1", "link", "set", "vx0", "up"],
    ["ip", "-n", "host2", "link", "set", "vx0", "up"],
]



def _namespace_is_empty(netns: str) -> bool:
    return [link["ifname"] for link in ip_json("link", "show", netns=netns)] == ["lo"]


def test_vxlan_matches_ip_reference() -> None:
    require_kind("vxlan")
    require_kind("veth")
    assert_matches_reference(EXAMPLE, REFERENCE_CMDS, ["host1", "host2"], [
        ("host1", "vx0"), ("host2", "vx0"), ("host1", "underlay1"), ("host2", "underlay2")])


def _udp_ports_seen(sock: socket.socket, seconds: float) -> list[tuple[int, int]]:
    """(source port, destination port) of the IPv4 UDP frames read within `seconds`."""
    seen = []
    for frame in ipv4_frames(sock, seconds):
        ihl = (frame[14] & 0x0F) * 4
        if len(frame) < 42 or frame[23] != socket.IPPROTO_UDP:
            continue
        seen.append(struct.unpack("!HH", frame[14 + ihl:14 + ihl + 4]))
    return seen


def test_overlay_ping_travels_as_udp_to_dstport_and_destroy_empties() -> None:
    require_kind("vxlan")
    require_kind("veth")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        with capture_on("host2", "underlay2") as sock:
            sh("ping", "-c", "3", "-i", "0.2", "-W", "1", "192.0.2.2", netns="host1")
            ports = _udp_ports_seen(sock, 1.5)
        assert ports, "no UDP seen on the underlay while pinging over the overlay"
        assert {dst for _, dst in ports} == {4789}, ports
        # the encapsulated traffic is counted on the underlay veth
        stats = ip_json("-s", "link", "show", "underlay1", netns="host1")[0]["stats64"]
        assert stats["tx"]["packets"] >= 3
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


FDB_YAML = """
name: vxfdb
namespaces: [host1]
interfaces:
  - name: underlay1
    kind: veth
    netns: host1
    addresses: [198.51.100.1/24]
    peer: {{name: underlay2}}
  - name: vx0
    kind: vxlan
    netns: host1
    id: 100
    local: 198.51.100.1
    dev: underlay1
    dstport: 4789
    fdb:
{fdb}
"""


def _fdb_yaml(*dsts: str) -> str:
    lines = "\n".join(f"      - {{mac: '00:00:00:00:00:00', dst: {d}}}" for d in dsts)
    return FDB_YAML.format(fdb=lines or "      []")


def _fdb_dsts() -> set[str]:
    entries = json.loads(sh("bridge", "-j", "fdb", "show", "dev", "vx0", netns="host1"))
    return {e["dst"] for e in entries if e.get("mac") == "00:00:00:00:00:00" and "dst" in e}


def test_fdb_entries_for_two_remotes_then_nothing_to_plan() -> None:
    require_kind("vxlan")
    require_kind("veth")
    two = vnet.load_text(_fdb_yaml("198.51.100.2", "198.51.100.3"))
    two.apply()
    try:
        assert _fdb_dsts() == {"198.51.100.2", "198.51.100.3"}
        assert not two.plan().has_changes
        assert not two.apply().has_changes
        # the reference: the same entries made with `bridge fdb append` look the same
        entries = json.loads(sh("bridge", "-j", "fdb", "show", "dev", "vx0", netns="host1"))
        assert all(e["state"] == "permanent" and e["flags"] == ["self"] for e in entries
                   if "dst" in e)
        one = vnet.load_text(_fdb_yaml("198.51.100.3", "198.51.100.4"))
        plan = one.plan()
        assert sorted((a.verb, a.subject) for a in plan.actions) == [
            ("create", "fdb 00:00:00:00:00:00 dst 198.51.100.4 on host1/vx0"),
            ("remove", "fdb 00:00:00:00:00:00 dst 198.51.100.2 on host1/vx0")]
        one.apply()
        assert _fdb_dsts() == {"198.51.100.3", "198.51.100.4"}
        assert not one.plan().has_changes
    finally:
        two.destroy()
    assert sh("ip", "netns", "list").strip() == ""


def test_fdb_matches_bridge_fdb_append_reference() -> None:
    require_kind("vxlan")
    require_kind("veth")
    sh("ip", "netns", "add", "host1")
    sh("ip", "link", "add", "underlay1", "netns", "host1", "type", "veth", "peer", "name",
       "underlay2")
    sh("ip", "-n", "host1", "link", "add", "vx0", "type", "vxlan", "id", "100", "local",
       "198.51.100.1", "dev", "underlay1", "dstport", "4789")
    for dst in ("198.51.100.2", "198.51.100.3"):
        sh("bridge", "-n", "host1", "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst", dst)
    expected = sorted(json.dumps(e, sort_keys=True) for e in json.loads(
        sh("bridge", "-j", "fdb", "show", "dev", "vx0", netns="host1")) if "dst" in e)
    # Deleting a namespace frees its devices later, in a kernel worker: the peer underlay2
    # could still be here when vnet plans. Deleting the pair is synchronous.
    sh("ip", "link", "del", "underlay2")
    sh("ip", "netns", "del", "host1")
    topo = vnet.load_text(_fdb_yaml("198.51.100.2", "198.51.100.3"))
    topo.apply()
    try:
        got = sorted(json.dumps(e, sort_keys=True) for e in json.loads(
            sh("bridge", "-j", "fdb", "show", "dev", "vx0", netns="host1")) if "dst" in e)
    finally:
        topo.destroy()
    assert got == expected


CHANGE_YAML = """
name: vxchange
namespaces: [host1]
interfaces:
  - name: underlay1
    kind: veth
    netns: host1
    peer: {{name: underlay2}}
  - name: vx0
    kind: vxlan
    netns: host1
    id: {id}
    remote: 198.51.100.2
    dev: underlay1
    dstport: 4789
    ttl: {ttl}
"""


def _vx0() -> dict:
    return ip_json("-d", "link", "show", "vx0", netns="host1")[0]


def test_id_change_replaces_ttl_change_is_in_place() -> None:
    require_kind("vxlan")
    require_kind("veth")
    first = vnet.load_text(CHANGE_YAML.format(id=100, ttl=10))
    first.apply()
    try:
        index = _vx0()["ifindex"]
        ttl = vnet.load_text(CHANGE_YAML.format(id=100, ttl=20))
        plan = ttl.plan()
        assert [(a.verb, a.diff) for a in plan.actions] == [("change", {"ttl": (10, 20)})]
        ttl.apply()
        assert _vx0()["linkinfo"]["info_data"]["ttl"] == 20
        assert _vx0()["ifindex"] == index  # the same link, changed in place
        vni = vnet.load_text(CHANGE_YAML.format(id=101, ttl=20))
        plan = vni.plan()
        assert any(a.verb == "replace" and "id cannot change in place" in a.reason
                   for a in plan.actions), [(a.verb, a.subject, a.reason) for a in plan.actions]
        vni.apply()
        assert _vx0()["linkinfo"]["info_data"]["id"] == 101
        assert not vni.plan().has_changes
    finally:
        first.destroy()
    with pytest.raises(CommandError):
        sh("ip", "-n", "host1", "link", "show", "vx0")


def test_ipv6_underlay_round_trip() -> None:
    require_kind("vxlan")
    topo = vnet.load_text("""
name: vx6
namespaces: [host1]
interfaces:
  - name: vx6
    kind: vxlan
    netns: host1
    id: 600
    local: 2001:db8::1
    remote: 2001:db8::2
    dstport: 4789
    srcport: [5000, 6000]
    learning: false
""")
    topo.apply()
    try:
        assert not topo.plan().has_changes
        data = ip_json("-d", "link", "show", "vx6", netns="host1")[0]["linkinfo"]["info_data"]
        assert (data["local6"], data["remote6"], data["learning"]) == (
            "2001:db8::1", "2001:db8::2", False)
        assert data["port_range"] == {"low": 5000, "high": 6000}
    finally:
        topo.destroy()


def _busy_loops(count: int, seconds: float) -> list[subprocess.Popen[bytes]]:
    """`count` processes that each spin one CPU for at most `seconds` (stopped by PID)."""
    spin = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    return [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(count)]


def test_overlay_check_passes_on_a_busy_machine() -> None:
    """The example's checks (a ping over the overlay counted as UDP/4789 on the underlay, a
    TCP connection) right after apply, while every CPU is kept busy: the probe waits for the
    links to carry packets and counts late replies, instead of trusting a fixed time."""
    require_kind("vxlan")
    require_kind("veth")
    loops = _busy_loops(2 * (os.cpu_count() or 1), 60)
    topo = vnet.load_text(EXAMPLE)
    try:
        for _ in range(3):
            topo.apply()
            results = topo.check()
            assert all(r.passed for r in results), [(r.probe.label, r.observed)
                                                    for r in results]
            assert "UDP/4789 packet(s) on host2/underlay2" in results[0].observed
            topo.destroy()
    finally:
        for proc in loops:
            os.kill(proc.pid, signal.SIGKILL)  # only the loops this test started
            proc.wait()
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""
