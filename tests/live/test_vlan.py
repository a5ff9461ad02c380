"""vlan on the real kernel: the reference `ip ... type vlan` commands (802.1Q with flags and QoS
maps, 802.1ad, QinQ), VLAN 2 ends reach each other and VLAN 2 and VLAN 3 do not, QinQ works end
to end, flags and QoS maps change in place while id and protocol re-create, and a parent in
another namespace (link_netns)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vnet

from .helpers import CommandError, ip_json, require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("vlan", "veth")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "vlan.yaml").read_text()


def _require() -> None:
    require_kind("veth")
    require_kind("vlan")


def _pings(source_ns: str, address: str) -> bool:
    try:
        sh("ping", "-c", "2", "-i", "0.2", "-W", "1", address, netns=source_ns)
    except CommandError:
        return False
    return True


REFERENCE_YAML = """
name: vlanref
namespaces: [a]
interfaces:
  - {name: trunk, kind: veth, netns: a, peer: {name: wire, netns: a}}
  - name: trunk.2
    kind: vlan
    netns: a
    link: trunk
    id: 2
    reorder_hdr: false
    loose_binding: true
    gvrp: true
    ingress_qos_map: ["1:2", "3:4"]
    egress_qos_map: ["2:3"]
  - {name: trunk.100, kind: vlan, netns: a, link: trunk, id: 100, protocol: 802.1ad, mvrp: true}
  - {name: trunk.100.10, kind: vlan, netns: a, link: trunk.100, id: 10, mtu: 1496,
     addresses: [192.0.2.1/24]}
"""

REFERENCE_CMDS = [
    ["ip", "-n", "a", "link", "add", "trunk", "type", "veth", "peer", "name", "wire"],
    ["ip", "-n", "a", "link", "add", "link", "trunk", "name", "trunk.2", "type", "vlan", "id",
     "2", "reorder_hdr", "off", "loose_binding", "on", "gvrp", "on",
     "ingress-qos-map", "1:2", "3:4", "egress-qos-map", "2:3"],
    ["ip", "-n", "a", "link", "add", "link", "trunk", "name", "trunk.100", "type", "vlan", "id",
     "100", "protocol", "802.1ad", "mvrp", "on"],
    ["ip", "-n", "a", "link", "add", "link", "trunk.100", "name", "trunk.100.10", "mtu", "1496",
     "type", "vlan", "id", "10"],
    ["ip", "-n", "a", "addr", "add", "192.0.2.1/24", "dev", "trunk.100.10"],
    *[["ip", "-n", "a", "link", "set", name, "up"]
      for name in ("trunk", "wire", "trunk.2", "trunk.100", "trunk.100.10")],
]


def test_vlan_matches_ip_reference() -> None:
    _require()
    assert_matches_reference(REFERENCE_YAML, REFERENCE_CMDS, ["a"], [
        ("a", "trunk"), ("a", "wire"), ("a", "trunk.2"), ("a", "trunk.100"),
        ("a", "trunk.100.10")])


def test_example_vlans_and_qinq_reach_across_the_trunk() -> None:
    _require()
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        again = topo.plan()
        assert not again.has_changes, [f"{a.verb} {a.subject}" for a in again.actions]
        assert _pings("left", "192.0.2.2")      # VLAN 2
        assert _pings("left", "192.0.2.18")     # VLAN 3
        assert _pings("left", "198.51.100.2")   # VLAN 10 inside 802.1ad VLAN 100
        info = ip_json("-d", "link", "show", "trunk.100", netns="right")[0]["linkinfo"]
        assert info["info_data"]["protocol"] == "802.1ad"
        assert info["info_data"]["id"] == 100
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


ISOLATION_YAML = """
name: vlaniso
namespaces: [left, right]
interfaces:
  - {name: trunk, kind: veth, netns: left, peer: {name: trunk, netns: right}}
  - {name: vl, kind: vlan, netns: left, link: trunk, id: 2, addresses: [192.0.2.1/24]}
  - {name: vl, kind: vlan, netns: right, link: trunk, id: RIGHT_ID, addresses: [192.0.2.2/24]}
"""


def test_vlan_2_ends_reach_each_other_vlan_2_and_3_do_not() -> None:
    _require()
    same = vnet.load_text(ISOLATION_YAML.replace("RIGHT_ID", "2"))
    same.apply()
    try:
        assert _pings("left", "192.0.2.2")
        other = vnet.load_text(ISOLATION_YAML.replace("RIGHT_ID", "3"))
        plan = other.plan()
        assert [(a.verb, a.subject) for a in plan.actions
                if a.subject.startswith("link")] == [
            ("replace", "link right/vl (vlan)"), ("replace", "link right/vl (vlan)")]
        assert "id cannot change in place" in " ".join(a.reason for a in plan.actions)
        other.apply()
        assert not other.plan().has_changes
        assert ip_json("-d", "link", "show", "vl", netns="right")[0][
            "linkinfo"]["info_data"]["id"] == 3
        assert not _pings("left", "192.0.2.2")
    finally:
        same.destroy()
    assert sh("ip", "netns", "list").strip() == ""


def test_flags_and_qos_maps_change_in_place_protocol_recreates() -> None:
    _require()
    base = """
name: vlanchg
namespaces: [a]
interfaces:
  - {name: trunk, kind: veth, netns: a, peer: {name: wire, netns: a}}
  - name: v5
    kind: vlan
    netns: a
    link: trunk
    id: 5
"""
    first = vnet.load_text(base + '    egress_qos_map: ["1:2", "4:5"]\n'
                                  '    ingress_qos_map: ["0:7"]\n')
    first.apply()
    try:
        index = ip_json("link", "show", "v5", netns="a")[0]["ifindex"]
        changed = vnet.load_text(base + '    egress_qos_map: ["4:6"]\n'
                                        '    ingress_qos_map: []\n'
                                        "    reorder_hdr: false\n    loose_binding: true\n")
        plan = changed.plan()
        assert {a.verb for a in plan.actions} == {"change"}, \
            [f"{a.verb} {a.subject}" for a in plan.actions]
        changed.apply()
        again = changed.plan()
        assert not again.has_changes, [f"{a.verb} {a.subject} {a.diff}" for a in again.actions]
        link = ip_json("-d", "link", "show", "v5", netns="a")[0]
        assert link["ifindex"] == index
        data = link["linkinfo"]["info_data"]
        assert "REORDER_HDR" not in data.get("flags", [])
        assert "LOOSE_BINDING" in data.get("flags", [])
        assert [(m["from"], m["to"]) for m in data.get("egress_qos", [])] == [(4, 6)]
        assert not data.get("ingress_qos")
        ad = vnet.load_text(base + "    protocol: 802.1ad\n")
        plan = ad.plan()
        assert ("replace", "link a/v5 (vlan)") in [(a.verb, a.subject) for a in plan.actions]
        ad.apply()
        assert not ad.plan().has_changes
        data = ip_json("-d", "link", "show", "v5", netns="a")[0]["linkinfo"]["info_data"]
        assert data["protocol"] == "802.1ad"
    finally:
        first.destroy()
    assert sh("ip", "netns", "list").strip() == ""


def test_parent_in_another_namespace_with_link_netns() -> None:
    _require()
    yaml_text = """
name: vlanns
namespaces: [host, ctr]
interfaces:
  - {name: nic0, kind: veth, netns: host, peer: {name: wire0, netns: host}}
  - {name: nic0.7, kind: vlan, netns: ctr, link: nic0, link_netns: host, id: 7,
     addresses: [192.0.2.7/24]}
"""
    ref = [["ip", "-n", "host", "link", "add", "nic0", "type", "veth", "peer", "name", "wire0"],
           ["ip", "-n", "host", "link", "add", "link", "nic0", "name", "nic0.7", "netns", "ctr",
            "type", "vlan", "id", "7"],
           ["ip", "-n", "ctr", "addr", "add", "192.0.2.7/24", "dev", "nic0.7"],
           ["ip", "-n", "host", "link", "set", "nic0", "up"],
           ["ip", "-n", "host", "link", "set", "wire0", "up"],
           ["ip", "-n", "ctr", "link", "set", "nic0.7", "up"]]
    assert_matches_reference(yaml_text, ref, ["host", "ctr"],
                             [("host", "nic0"), ("host", "wire0"), ("ctr", "nic0.7")])
    topo = vnet.load_text(yaml_text)
    topo.apply()
    try:
        assert not topo.plan().has_changes
    finally:
        topo.destroy()
