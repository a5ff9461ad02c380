"""Port options on this machine's kernel: a bridge's ports told their cost, priority, hairpin,
flooding... with `port_options:` equal the reference `ip link set DEV type bridge_slave ...`,
are read back, plan nothing the second time, and change in place."""

from __future__ import annotations

import pytest

import vnet

from .helpers import require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("bridge")

PORTS_YAML = """
name: ports
namespaces: [sw, h1]
interfaces:
  - {name: br0, kind: bridge, netns: sw}
  - name: p1
    kind: veth
    netns: sw
    master: br0
    port_options: {cost: 7, priority: 5, hairpin: true, guard: true, root_block: true,
                   fastleave: true, learning: false, flood: false, mcast_flood: false,
                   bcast_flood: false, mcast_router: 2, neigh_suppress: true, isolated: true,
                   proxy_arp: true, locked: true,
                   proxy_arp_wifi: true, mcast_to_unicast: true, group_fwd_mask: 16384}
    peer: {name: h1p, netns: h1}
"""

PORTS_CMDS = [
    ["ip", "-n", "sw", "link", "add", "br0", "type", "bridge"],
    ["ip", "link", "add", "p1", "netns", "sw", "type", "veth", "peer", "name", "h1p",
     "netns", "h1"],
    ["ip", "-n", "sw", "link", "set", "p1", "master", "br0"],
    *[["ip", "-n", ns, "link", "set", name, "up"]
      for ns, name in (("sw", "br0"), ("sw", "p1"), ("h1", "h1p"))],
    ["ip", "-n", "sw", "link", "set", "p1", "type", "bridge_slave", "cost", "7", "priority",
     "5", "hairpin", "on", "guard", "on", "root_block", "on", "fastleave", "on", "learning",
     "off", "flood", "off", "mcast_flood", "off", "bcast_flood", "off", "mcast_router", "2",
     "neigh_suppress", "on", "isolated", "on", "proxy_arp", "on", "locked", "on",
     "proxy_arp_wifi", "on", "mcast_to_unicast", "on", "group_fwd_mask", "16384"],
]


def _port(name: str) -> dict:
    import json
    return json.loads(sh("bridge", "-j", "-d", "link", "show", "dev", name, netns="sw"))[0]


def test_bridge_port_options_match_the_ip_reference() -> None:
    require_kind("bridge")
    require_kind("veth")
    assert_matches_reference(PORTS_YAML, PORTS_CMDS, ["sw", "h1"], [("sw", "p1")])


def test_bridge_port_options_read_back_and_change_in_place() -> None:
    require_kind("bridge")
    require_kind("veth")
    topo = vnet.load_text(PORTS_YAML)
    topo.apply()
    try:
        port = _port("p1")
        assert (port["cost"], port["priority"], port["hairpin"], port["isolated"],
                port["locked"]) == (7, 5, True, True, True), port
        assert not topo.plan().has_changes
        # `vnet show --json` reads them back too (extra.port)
        [row] = [r for r in topo.show().interfaces if r.name == "p1"]
        assert {k: row.extra["port"][k] for k in ("cost", "priority", "hairpin", "locked",
                                                  "group_fwd_mask")} == {
            "cost": 7, "priority": 5, "hairpin": True, "locked": True,
            "group_fwd_mask": 16384}, row.extra
        changed = vnet.load_text(PORTS_YAML.replace("cost: 7", "cost: 9")
                                 .replace("isolated: true", "isolated: false"))
        plan = changed.plan()
        assert [(a.verb, a.subject, a.diff) for a in plan.actions] == [
            ("change", "port options of sw/p1 on bridge br0",
             {"cost": (7, 9), "isolated": (True, False)})], plan.actions
        changed.apply()
        port = _port("p1")
        assert (port["cost"], port["isolated"]) == (9, False)
        assert not changed.plan().has_changes
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


def test_port_options_are_read_for_planning_and_left_out_of_a_teardown() -> None:
    # a teardown compares no port options: its observation (kind_options=False) leaves them
    # undecoded, a fifth of reading a namespace full of bridge ports
    require_kind("bridge")
    require_kind("veth")
    from vnet.door.netlink import Netlink
    from vnet.door.protocol import Scope
    topo = vnet.load_text(PORTS_YAML)
    topo.apply()
    try:
        with Netlink() as nl:
            full = nl.observe(Scope(["sw"])).link("sw", "p1")
            lean = nl.observe(Scope(["sw"], kind_options=False)).link("sw", "p1")
        assert full is not None and lean is not None
        assert (full.port_options["cost"], full.port_options["isolated"]) == (7, True)
        assert lean.port_options == {} and lean.master == "br0"
    finally:
        topo.destroy()
