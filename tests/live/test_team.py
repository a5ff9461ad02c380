"""team on a full kernel with teamd: the state after `vnet apply` equals the reference teamd
commands, the activebackup runner keeps a ping going when the active port's link drops, vnet
runs teamd (recorded PID, restarted when it dies, stopped on destroy) and a runner change
re-creates the team with its ports."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

import vnet

from .helpers import ip_json, require_kind, sh
from .reference import diff_text, snapshot_all
from .test_bond import _configuration, _ping_through_failover

pytestmark = pytest.mark.kind("team")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "team.yaml").read_text()
PID_FILE = "/run/vnet/teamd/team-demo/host/team0.pid"
CONFIG = {"link_watch": {"name": "ethtool"}, "runner": {"name": "activebackup"}}

REFERENCE_CMDS = [
    ["ip", "link", "add", "eth0", "netns", "host", "type", "veth", "peer", "name", "sw0",
     "netns", "switch"],
    ["ip", "link", "add", "eth1", "netns", "host", "type", "veth", "peer", "name", "sw1",
     "netns", "switch"],
    ["ip", "-n", "switch", "link", "add", "br0", "type", "bridge"],
    ["ip", "netns", "exec", "host", "teamd", "-d", "-t", "team0", "-c", json.dumps(CONFIG)],
    ["ip", "-n", "switch", "link", "set", "sw0", "master", "br0"],
    ["ip", "-n", "switch", "link", "set", "sw1", "master", "br0"],
    ["ip", "netns", "exec", "host", "teamdctl", "team0", "port", "add", "eth0"],
    ["ip", "netns", "exec", "host", "teamdctl", "team0", "port", "add", "eth1"],
    ["ip", "-n", "host", "addr", "add", "192.0.2.1/24", "dev", "team0"],
    ["ip", "-n", "switch", "addr", "add", "192.0.2.2/24", "dev", "br0"],
    *[["ip", "-n", ns, "link", "set", name, "up"] for ns, name in (
        ("host", "eth0"), ("host", "eth1"), ("host", "team0"), ("switch", "sw0"),
        ("switch", "sw1"), ("switch", "br0"))],
]
COMPARED = [("host", "team0"), ("host", "eth0"), ("host", "eth1"), ("switch", "sw0"),
            ("switch", "sw1")]


def _teamdctl(*args: str) -> str:
    return sh("teamdctl", "team0", *args, netns="host")


def _active_port() -> str:
    return _teamdctl("state", "item", "get", "runner.active_port").strip()


def _wait_active(port: str | None = None, seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        active = _active_port()
        if active and (port is None or active == port):
            return active
        time.sleep(0.2)
    raise AssertionError(f"team0's active port is {_active_port()!r}, not {port or 'set'}")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def _teamd_pid() -> int:
    return int(Path(PID_FILE).read_text().strip())


def _ports_of_team() -> dict[str, Any]:
    return {p: ip_json("link", "show", "dev", p, netns="host")[0] for p in ("eth0", "eth1")}


def test_team_matches_teamd_reference() -> None:
    require_kind("team")
    require_kind("bridge")
    for ns in ("host", "switch"):
        sh("ip", "netns", "add", ns)
    for cmd in REFERENCE_CMDS:
        sh(*cmd)
    expected = _configuration(snapshot_all(COMPARED))
    reference_config = json.loads(_teamdctl("config", "dump", "noports"))
    # stop the reference teamd (started by this test; `teamd -k` gives up after a few
    # seconds under emulation): it deletes its device and its socket /run/teamd/team0.sock,
    # which vnet's teamd of the same name uses next
    reference_pid = int(Path("/run/teamd/team0.pid").read_text().strip())
    os.kill(reference_pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _alive(reference_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(reference_pid)
    for ns in ("host", "switch"):
        sh("ip", "netns", "del", ns)
    topo = vnet.load_text(EXAMPLE)
    try:
        topo.apply()
        actual = _configuration(snapshot_all(COMPARED))
        assert json.loads(_teamdctl("config", "dump", "noports")) == reference_config
        assert not topo.plan().has_changes
    finally:
        topo.destroy()
    assert expected == actual, diff_text(expected, actual)


def test_activebackup_keeps_ping_going_when_active_port_drops() -> None:
    require_kind("team")
    require_kind("bridge")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        first = _wait_active()
        sh("ping", "-c", "1", "-W", "5", "192.0.2.2", netns="host")  # ARP settled
        peer = {"eth0": "sw0", "eth1": "sw1"}[first]
        sent, received = _ping_through_failover(["ip", "-n", "switch", "link", "set", peer,
                                                 "down"])
        assert sent == 20 and sent - received <= 3, (sent, received)
        assert _wait_active(seconds=5) != first
    finally:
        topo.destroy()


def test_vnet_runs_restarts_and_stops_teamd() -> None:
    require_kind("team")
    require_kind("bridge")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        pid = _teamd_pid()
        assert _alive(pid)
        assert json.loads(Path(PID_FILE[:-4] + ".json").read_text()) == CONFIG
        assert not topo.plan().has_changes  # same config again: nothing to do
        os.kill(pid, signal.SIGKILL)  # a teamd that vnet started in this test
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        plan = topo.plan()
        assert [(a.verb, a.subject) for a in plan.actions] == [
            ("create", "teamd for team host/team0")], plan.actions
        assert "not running" in plan.actions[0].reason
        topo.apply()
        new_pid = _teamd_pid()
        assert new_pid != pid and _alive(new_pid)
        assert not topo.plan().has_changes
        assert all(p.get("master") == "team0" for p in _ports_of_team().values())
        _wait_active()
    finally:
        topo.destroy()
    assert not _alive(_teamd_pid_or(new_pid))
    assert not Path(PID_FILE).exists()
    assert sh("ip", "netns", "list").strip() == ""


def _teamd_pid_or(default: int) -> int:
    try:
        return _teamd_pid()
    except OSError:
        return default


def test_runner_change_recreates_team_with_its_ports() -> None:
    require_kind("team")
    require_kind("bridge")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        old_pid = _teamd_pid()
        changed = vnet.load_text(EXAMPLE.replace("runner: activebackup", "runner: roundrobin"))
        plan = changed.plan()
        assert ("replace", "link host/team0 (team)") in [(a.verb, a.subject)
                                                        for a in plan.actions], plan.actions
        changed.apply()
        assert not _alive(old_pid)
        assert json.loads(_teamdctl("config", "dump", "noports"))["runner"] == {
            "name": "roundrobin"}
        for name, link in _ports_of_team().items():
            assert link.get("master") == "team0" and "UP" in link["flags"], (name, link)
        assert not changed.plan().has_changes
        sh("ping", "-c", "2", "-i", "0.2", "-W", "5", "192.0.2.2", netns="host")
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


ROUNDROBIN = """
name: team-rr
namespaces: [host, far]
interfaces:
  - {name: team0, kind: team, netns: host, runner: roundrobin, addresses: [192.0.2.1/24]}
  - {name: eth0, kind: veth, netns: host, master: team0, peer: {name: far0, netns: far}}
  - {name: eth1, kind: veth, netns: host, master: team0, peer: {name: far1, netns: far}}
"""


def _live_teamds() -> list[int]:
    """PIDs of live teamd processes of this test: in its own mount namespace (each live test
    has one, and vnet starts teamd entering only the team's network namespace), so another
    xdist worker's teams are not counted; zombies left to an init that does not reap are not
    running teamds, and not vnet's."""
    mine = os.readlink("/proc/self/ns/mnt")
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                same = os.readlink(f"/proc/{entry}/ns/mnt") == mine
            except OSError:
                continue
            if same and stat[stat.find("(") + 1:stat.rfind(")")] == "teamd" \
                    and _alive(int(entry)):
                pids.append(int(entry))
    return pids


def test_two_port_team_has_both_ports_after_each_of_20_applies() -> None:
    """The race seen on Debian's 6.1 kernel: `apply` exited 0 with a port lacking its master.
    Each apply must leave both ports in the kernel's team and in teamd's own port list, and a
    second plan empty; each destroy must leave no teamd running."""
    require_kind("team")
    before = set(_live_teamds())
    topo = vnet.load_text(ROUNDROBIN)
    for attempt in range(20):
        topo.apply()
        try:
            masters = {p: link.get("master") for p, link in _ports_of_team().items()}
            assert masters == {"eth0": "team0", "eth1": "team0"}, (attempt, masters)
            teamd_ports = set(json.loads(_teamdctl("state", "dump"))["ports"])
            assert teamd_ports == {"eth0", "eth1"}, (attempt, teamd_ports)
            assert not topo.plan().has_changes, attempt
        finally:
            topo.destroy()
        assert set(_live_teamds()) <= before, attempt
    assert sh("ip", "netns", "list").strip() == ""
