"""bridge: kernel state after `vnet apply` equals that of the reference `ip` commands, and
option changes happen in place."""

from __future__ import annotations

import json

import pytest

import vnet

from .helpers import require_kind, sh
from .reference import assert_matches_reference, diff_text, snapshot_all

pytestmark = pytest.mark.kind("bridge")

BRIDGE_YAML = """
name: brtest
namespaces: [net1]
interfaces:
  - name: br0
    kind: bridge
    stp_state: true
    forward_delay: 400
    hello_time: 300
    ageing_time: 6000
    priority: 4096
    mcast_snooping: false
    addresses: [192.0.2.254/24, 2001:db8::fe/64]
  - name: veth1
    kind: veth
    netns: net1
    addresses: [192.0.2.1/24]
    peer: {name: port1, master: br0}
"""

BRIDGE_CMDS = [
    ["ip", "link", "add", "br0", "type", "bridge", "stp_state", "1", "forward_delay", "400",
     "hello_time", "300", "ageing_time", "6000", "priority", "4096", "mcast_snooping", "0"],
    ["ip", "addr", "add", "192.0.2.254/24", "dev", "br0"],
    ["ip", "addr", "add", "2001:db8::fe/64", "dev", "br0", "nodad"],  # vnet: no DAD wait
    ["ip", "link", "add", "veth1", "netns", "net1", "type", "veth", "peer", "name", "port1"],
    ["ip", "link", "set", "port1", "master", "br0"],
    ["ip", "-n", "net1", "addr", "add", "192.0.2.1/24", "dev", "veth1"],
    ["ip", "link", "set", "br0", "up"],
    ["ip", "link", "set", "port1", "up"],
    ["ip", "-n", "net1", "link", "set", "veth1", "up"],
]


def _info(name: str) -> dict:
    return json.loads(sh("ip", "-d", "-j", "link", "show", "dev", name))[0]


def test_bridge_matches_ip_reference() -> None:
    require_kind("bridge")
    require_kind("veth")
    assert_matches_reference(BRIDGE_YAML, BRIDGE_CMDS, ["net1"],
                             [(None, "br0"), (None, "port1"), ("net1", "veth1")])


TWO_PORTS = """
name: brchange
namespaces: [h1, h2]
interfaces:
  - name: br0
    kind: bridge
    stp_state: false
    ageing_time: {ageing}
    mtu: {mtu}
  - name: eth0
    kind: veth
    netns: h1
    peer: {{name: p1, master: br0}}
  - name: eth0
    kind: veth
    netns: h2
    peer: {{name: p2, master: br0}}
"""


def _apply(text: str) -> vnet.Topology:
    topo = vnet.load_text(text)
    topo.apply()
    return topo


def test_bridge_option_changes_in_place() -> None:
    require_kind("bridge")
    topo = _apply(TWO_PORTS.format(ageing=6000, mtu=1500))
    try:
        before = _info("br0")
        assert before["linkinfo"]["info_data"]["ageing_time"] == 6000
        changed = vnet.load_text(TWO_PORTS.format(ageing=9000, mtu=1500))
        plan = changed.plan()
        assert [(a.verb, a.subject) for a in plan.actions] == [("change", "link br0 (bridge)")]
        assert plan.actions[0].diff["ageing_time"] == (6000, 9000)
        changed.apply()
        after = _info("br0")
        assert after["linkinfo"]["info_data"]["ageing_time"] == 9000
        assert after["ifindex"] == before["ifindex"], "the bridge was re-created, not changed"
        assert _info("p1")["master"] == "br0" and _info("p2")["master"] == "br0"
        assert not changed.plan().has_changes
    finally:
        topo.destroy()


def test_bridge_mtu_changes_in_place() -> None:
    require_kind("bridge")
    topo = _apply(TWO_PORTS.format(ageing=6000, mtu=1500))
    try:
        index = _info("br0")["ifindex"]
        changed = vnet.load_text(TWO_PORTS.format(ageing=6000, mtu=1400))
        plan = changed.plan()
        assert [(a.verb, a.diff) for a in plan.actions] == [("change", {"mtu": (1500, 1400)})]
        changed.apply()
        after = _info("br0")
        assert (after["mtu"], after["ifindex"]) == (1400, index)
        assert not changed.plan().has_changes
    finally:
        topo.destroy()


def test_port_removed_from_file_is_removed() -> None:
    require_kind("bridge")
    topo = _apply(TWO_PORTS.format(ageing=6000, mtu=1500))
    try:
        smaller = vnet.load_text(TWO_PORTS.format(ageing=6000, mtu=1500)
                                 .split("  - name: eth0\n    kind: veth\n    netns: h2")[0])
        plan = smaller.plan()
        # both ends of the pair are named (deleting one takes the other with it)
        assert sorted((a.verb, a.subject) for a in plan.actions) == [
            ("remove", "link h2/eth0 (veth)"), ("remove", "link p2 (veth)")]
        smaller.apply()
        names = {link["ifname"] for link in json.loads(sh("ip", "-j", "link", "show"))}
        assert names == {"lo", "br0", "p1"}
        assert sh("ip", "-n", "h2", "-j", "link", "show").count("ifname") == 1  # only lo
        assert not smaller.plan().has_changes
    finally:
        topo.destroy()


def test_drift_by_hand_is_put_right() -> None:
    require_kind("bridge")
    text = TWO_PORTS.format(ageing=6000, mtu=1500).replace(
        "    mtu: 1500\n", "    mtu: 1500\n    addresses: [192.0.2.254/24]\n")
    topo = _apply(text)
    try:
        good = snapshot_all([(None, "br0"), (None, "p1"), (None, "p2"), ("h1", "eth0")])
        sh("ip", "link", "set", "p1", "nomaster")
        sh("ip", "link", "set", "br0", "down")
        sh("ip", "link", "set", "dev", "br0", "type", "bridge", "ageing_time", "100")
        sh("ip", "addr", "add", "198.51.100.9/24", "dev", "br0")
        sh("ip", "addr", "del", "192.0.2.254/24", "dev", "br0")
        sh("ip", "-n", "h1", "link", "set", "eth0", "mtu", "1400")
        plan = topo.plan()
        subjects = sorted(f"{a.verb} {a.subject}" for a in plan.actions)
        assert subjects == sorted([
            "change link br0 (bridge)", "create port p1 of br0",
            "change set br0 up", "remove address 198.51.100.9/24 on br0",
            "create address 192.0.2.254/24 on br0",
        ]), subjects  # eth0's MTU is not declared in the file: left as it is
        topo.apply()
        sh("ip", "-n", "h1", "link", "set", "eth0", "mtu", "1500")
        now = snapshot_all([(None, "br0"), (None, "p1"), (None, "p2"), ("h1", "eth0")])
        assert now == good, diff_text(good, now, "as applied", "after repair")
        assert not topo.plan().has_changes
    finally:
        topo.destroy()
