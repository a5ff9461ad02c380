"""ipvlan on the real kernel: the reference `ip` commands (parent in one namespace, ipvlans moved
into others), endpoints sharing the parent's MAC, l2 endpoints reaching each other, l3 mode
routing between two subnets, and a mode change made in place."""

from __future__ import annotations

from pathlib import Path

import pytest

import vnet

from .helpers import ip_json, require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("ipvlan")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "ipvlan.yaml").read_text()

REFERENCE_CMDS = [
    ["ip", "-n", "host", "link", "add", "nic0", "type", "veth", "peer", "name", "wire0"],
    ["ip", "-n", "host", "link", "add", "name", "ipv1", "link", "nic0", "netns", "ns1", "type",
     "ipvlan", "mode", "l2"],
    ["ip", "-n", "host", "link", "add", "name", "ipv2", "link", "nic0", "netns", "ns2", "type",
     "ipvlan", "mode", "l2"],
    ["ip", "-n", "ns1", "addr", "add", "192.0.2.21/24", "dev", "ipv1"],
    ["ip", "-n", "ns2", "addr", "add", "192.0.2.22/24", "dev", "ipv2"],
    ["ip", "-n", "host", "link", "set", "nic0", "up"],
    ["ip", "-n", "host", "link", "set", "wire0", "up"],
    ["ip", "-n", "ns1", "link", "set", "ipv1", "up"],
    ["ip", "-n", "ns2", "link", "set", "ipv2", "up"],
]

L3_YAML = """
name: ipvl3
namespaces: [host, ns1, ns2]
interfaces:
  - name: nic0
    kind: veth
    netns: host
    peer: {name: wire0, netns: host}
  - {name: ipv1, kind: ipvlan, netns: ns1, link: nic0, link_netns: host, mode: l3,
     addresses: [10.0.1.1/24]}
  - {name: ipv2, kind: ipvlan, netns: ns2, link: nic0, link_netns: host, mode: l3,
     addresses: [10.0.2.1/24]}
routes:
  - {netns: ns1, to: 10.0.2.0/24, dev: ipv1}
  - {netns: ns2, to: 10.0.1.0/24, dev: ipv2}
"""


def _mac(netns: str, name: str) -> str:
    return str(ip_json("link", "show", name, netns=netns)[0]["address"])


def _clean() -> None:
    assert sh("ip", "netns", "list").strip() == ""
    assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]


def test_ipvlan_matches_ip_reference() -> None:
    require_kind("ipvlan")
    require_kind("veth")
    assert_matches_reference(EXAMPLE, REFERENCE_CMDS, ["host", "ns1", "ns2"], [
        ("ns1", "ipv1"), ("ns2", "ipv2"), ("host", "nic0"), ("host", "wire0")])


def test_l2_endpoints_share_the_parent_mac_and_reach_each_other() -> None:
    require_kind("ipvlan")
    require_kind("veth")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        parent = _mac("host", "nic0")
        assert _mac("ns1", "ipv1") == parent
        assert _mac("ns2", "ipv2") == parent
        data = ip_json("-d", "link", "show", "ipv1", netns="ns1")[0]["linkinfo"]
        assert (data["info_kind"], data["info_data"]["mode"]) == ("ipvlan", "l2")
        sh("ping", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.22", netns="ns1")
    finally:
        topo.destroy()
    _clean()


def test_l3_mode_routes_between_subnets() -> None:
    require_kind("ipvlan")
    require_kind("veth")
    topo = vnet.load_text(L3_YAML)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        data = ip_json("-d", "link", "show", "ipv2", netns="ns2")[0]["linkinfo"]["info_data"]
        assert data["mode"] == "l3"
        assert "NOARP" in ip_json("link", "show", "ipv1", netns="ns1")[0]["flags"]
        sh("ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.2.1", netns="ns1")
        sh("ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.1.1", netns="ns2")
    finally:
        topo.destroy()
    _clean()


def test_mode_and_flag_change_in_place() -> None:
    require_kind("ipvlan")
    require_kind("veth")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        index = ip_json("link", "show", "ipv1", netns="ns1")[0]["ifindex"]
        private = vnet.load_text(EXAMPLE.replace("mode: l2", "mode: l2\n    flag: private"))
        plan = private.plan()
        assert sorted((a.verb, a.subject) for a in plan.actions) == [
            ("change", "link ns1/ipv1 (ipvlan)"), ("change", "link ns2/ipv2 (ipvlan)")]
        private.apply()
        assert not private.plan().has_changes
        link = ip_json("-d", "link", "show", "ipv1", netns="ns1")[0]
        assert link["ifindex"] == index
        assert "private" in str(link["linkinfo"]["info_data"])
    finally:
        topo.destroy()
    _clean()
