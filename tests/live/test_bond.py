"""bond on a full kernel: the state after `vnet apply` equals that of the reference `ip`
commands, active-backup keeps a ping going when the active port's link drops, in-place option
changes, and a mode change that re-creates the bond and enslaves its ports again."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import vnet

from .helpers import ip_json, require_kind, sh
from .reference import diff_text, snapshot_all

pytestmark = pytest.mark.kind("bond")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "bond.yaml").read_text()

REFERENCE_CMDS = [
    ["ip", "link", "add", "eth0", "netns", "host", "type", "veth", "peer", "name", "sw0",
     "netns", "switch"],
    ["ip", "link", "add", "eth1", "netns", "host", "type", "veth", "peer", "name", "sw1",
     "netns", "switch"],
    ["ip", "-n", "switch", "link", "add", "br0", "type", "bridge"],
    ["ip", "-n", "host", "link", "add", "bond1", "type", "bond", "mode", "active-backup",
     "miimon", "100"],
    ["ip", "-n", "switch", "link", "set", "sw0", "master", "br0"],
    ["ip", "-n", "switch", "link", "set", "sw1", "master", "br0"],
    ["ip", "-n", "host", "link", "set", "eth0", "master", "bond1"],
    ["ip", "-n", "host", "link", "set", "eth1", "master", "bond1"],
    ["ip", "-n", "host", "link", "set", "bond1", "type", "bond", "primary", "eth0"],
    ["ip", "-n", "host", "addr", "add", "192.0.2.1/24", "dev", "bond1"],
    ["ip", "-n", "switch", "addr", "add", "192.0.2.2/24", "dev", "br0"],
    *[["ip", "-n", ns, "link", "set", name, "up"] for ns, name in (
        ("host", "eth0"), ("host", "eth1"), ("host", "bond1"), ("switch", "sw0"),
        ("switch", "sw1"), ("switch", "br0"))],
]
COMPARED = [("host", "bond1"), ("host", "eth0"), ("host", "eth1"), ("switch", "sw0"),
            ("switch", "sw1")]
# Runtime, not configuration: which port is active right now, a port's link and failure
# count as miimon last saw them, and a port's own (random) MAC.
_RUNTIME_INFO = {"active_slave", "mii_status", "link_failure_count", "perm_hwaddr", "state"}


def _configuration(snap: dict[str, Any]) -> dict[str, Any]:
    for entry in snap.values():
        info = entry.get("link", {}).get("linkinfo", {})
        for key in ("info_data", "info_slave_data"):
            if isinstance(info.get(key), dict):
                info[key] = {k: v for k, v in info[key].items() if k not in _RUNTIME_INFO}
    return snap


def _bond_info(name: str = "bond1", netns: str = "host") -> dict[str, Any]:
    return ip_json("-d", "link", "show", "dev", name, netns=netns)[0]["linkinfo"]["info_data"]


def _wait_active(port: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _bond_info().get("active_slave") == port:
            return
        time.sleep(0.2)
    raise AssertionError(f"bond1's active port is {_bond_info().get('active_slave')!r}, "
                         f"not {port}")


def test_bond_matches_ip_reference() -> None:
    require_kind("bond")
    require_kind("bridge")
    for ns in ("host", "switch"):
        sh("ip", "netns", "add", ns)
    for cmd in REFERENCE_CMDS:
        sh(*cmd)
    expected = _configuration(snapshot_all(COMPARED))
    for ns in ("host", "switch"):
        sh("ip", "netns", "del", ns)
    topo = vnet.load_text(EXAMPLE)
    try:
        topo.apply()
        actual = _configuration(snapshot_all(COMPARED))
        assert not topo.plan().has_changes
        _wait_active("eth0")
    finally:
        topo.destroy()
    assert expected == actual, diff_text(expected, actual)
    assert sh("ip", "netns", "list").strip() == ""


def _ping_through_failover(drop: list[str]) -> tuple[int, int]:
    """Ping the switch from the host 20 times, 0.2 s apart, and run `drop` 1.5 s in;
    return (sent, received)."""
    ping = subprocess.Popen(["ip", "netns", "exec", "host", "ping", "-n", "-c", "20", "-i",
                             "0.2", "-W", "1", "192.0.2.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.5)
        sh(*drop)
        out, _ = ping.communicate(timeout=60)
    finally:
        if ping.poll() is None:
            ping.kill()
            ping.wait()
    found = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert found, out
    return int(found.group(1)), int(found.group(2))


def test_active_backup_keeps_ping_going_when_active_port_drops() -> None:
    require_kind("bond")
    require_kind("bridge")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        _wait_active("eth0")
        sh("ping", "-c", "1", "-W", "5", "192.0.2.2", netns="host")  # ARP settled
        sent, received = _ping_through_failover(
            ["ip", "-n", "switch", "link", "set", "sw0", "down"])
        assert sent == 20 and sent - received <= 3, (sent, received)
        _wait_active("eth1", seconds=5)
    finally:
        topo.destroy()


def test_options_change_in_place_and_mode_change_reenslaves() -> None:
    require_kind("bond")
    require_kind("bridge")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        bond_index = ip_json("link", "show", "dev", "bond1", netns="host")[0]["ifindex"]
        changed = vnet.load_text(EXAMPLE.replace("miimon: 100", "miimon: 200\n"
                                                 "    updelay: 400\n    min_links: 1"))
        plan = changed.plan()
        assert [(a.verb, a.subject) for a in plan.actions] == [
            ("change", "link host/bond1 (bond)")], plan.actions
        changed.apply()
        info = _bond_info()
        assert (info["miimon"], info["updelay"], info["min_links"]) == (200, 400, 1)
        assert ip_json("link", "show", "dev", "bond1", netns="host")[0]["ifindex"] == \
            bond_index
        assert not changed.plan().has_changes

        alb = vnet.load_text(EXAMPLE.replace("mode: active-backup", "mode: balance-alb"))
        plan = alb.plan()
        assert ("replace", "link host/bond1 (bond)") in [(a.verb, a.subject)
                                                         for a in plan.actions]
        alb.apply()
        assert _bond_info()["mode"] == "balance-alb"
        for port in ("eth0", "eth1"):
            link = ip_json("link", "show", "dev", port, netns="host")[0]
            assert link.get("master") == "bond1" and "UP" in link["flags"], link
        assert _bond_info().get("primary") == "eth0"
        assert not alb.plan().has_changes
        sh("ping", "-c", "2", "-i", "0.2", "-W", "5", "192.0.2.2", netns="host")
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


BOND_PORTS = """
name: bondports
namespaces: [host, far]
interfaces:
  - {name: bond1, kind: bond, netns: host, mode: active-backup, miimon: 100}
  - name: eth0
    kind: veth
    netns: host
    master: bond1
    port_options: {queue_id: 3, prio: 10}
    peer: {name: far0, netns: far}
  - name: eth1
    kind: veth
    netns: host
    master: bond1
    port_options: {prio: -5}
    peer: {name: far1, netns: far}
"""


def _slave_info(name: str) -> dict[str, Any]:
    link = ip_json("-d", "link", "show", "dev", name, netns="host")[0]
    return link["linkinfo"]["info_slave_data"]


def test_bond_port_options_are_set_read_back_and_changed_in_place() -> None:
    """queue_id and prio (Linux 6.0+) said on the ports, as `ip link set DEV type bond_slave
    queue_id 3 prio 10` says them."""
    require_kind("bond")
    topo = vnet.load_text(BOND_PORTS)
    topo.apply()
    try:
        assert (_slave_info("eth0")["queue_id"], _slave_info("eth0")["prio"]) == (3, 10)
        assert _slave_info("eth1")["prio"] == -5
        assert not topo.plan().has_changes
        changed = vnet.load_text(BOND_PORTS.replace("queue_id: 3", "queue_id: 4"))
        plan = changed.plan()
        assert [(a.verb, a.subject, a.diff) for a in plan.actions] == [
            ("change", "port options of host/eth0 on bond bond1", {"queue_id": (3, 4)})]
        changed.apply()
        assert _slave_info("eth0")["queue_id"] == 4
        assert not changed.plan().has_changes
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""
