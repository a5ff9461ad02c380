"""Bridge VLAN filtering on the real kernel: ports in one VLAN reach each other, ports in
different VLANs do not; the kernel state (links and `bridge -j vlan show`) equals the reference
`ip`/`bridge` commands; a port's declared VLANs are its whole list (the default PVID 1 goes);
VLAN changes and drift made by hand are planned per vid, and a second plan is empty."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import vnet

from .helpers import CommandError, require_kind, require_vlan_filtering, sh
from .reference import diff_text, snapshot_all

pytestmark = pytest.mark.kind("bridge", "veth")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "bridge-vlan.yaml").read_text()

def _require() -> None:
    require_kind("veth")
    require_vlan_filtering()


def _pings(source_ns: str, address: str) -> bool:
    try:
        sh("ping", "-c", "2", "-i", "0.2", "-W", "1", address, netns=source_ns)
    except CommandError:
        return False
    return True


def _vlans(netns: str) -> dict[str, list[dict[str, Any]]]:
    """`bridge -j vlan show` as {ifname: [{vlan, flags}]}, order-independent."""
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in json.loads(sh("bridge", "-n", netns, "-j", "vlan", "show") or "[]"):
        vlans = sorted(({"vlan": v["vlan"], **({"vlanEnd": v["vlanEnd"]} if "vlanEnd" in v
                                                else {}),
                         "flags": sorted(v.get("flags", []))} for v in entry.get("vlans", [])),
                       key=lambda v: v["vlan"])
        out[entry["ifname"]] = vlans
    return out


REFERENCE_YAML = """
name: brvref
namespaces: [sw]
interfaces:
  - name: br0
    kind: bridge
    netns: sw
    vlan_filtering: true
    vlan_protocol: 802.1Q
    vlans: [{vid: 1, pvid: true, untagged: true}, {vid: 10}]
  - name: veth1
    kind: veth
    netns: sw
    master: br0
    vlans: [{vid: 10, pvid: true, untagged: true}, {vid: 20-22}]
    peer: {name: veth1p, netns: sw}
  - name: veth2
    kind: veth
    netns: sw
    master: br0
    vlans: [{vid: 1, untagged: true}, {vid: 20}]
    peer: {name: veth2p, netns: sw}
"""

REFERENCE_CMDS = [
    ["ip", "-n", "sw", "link", "add", "br0", "type", "bridge", "vlan_filtering", "1",
     "vlan_protocol", "802.1Q"],
    ["ip", "-n", "sw", "link", "add", "veth1", "type", "veth", "peer", "name", "veth1p"],
    ["ip", "-n", "sw", "link", "add", "veth2", "type", "veth", "peer", "name", "veth2p"],
    ["ip", "-n", "sw", "link", "set", "veth1", "master", "br0"],
    ["ip", "-n", "sw", "link", "set", "veth2", "master", "br0"],
    ["bridge", "-n", "sw", "vlan", "add", "vid", "10", "dev", "veth1", "pvid", "untagged"],
    ["bridge", "-n", "sw", "vlan", "del", "vid", "1", "dev", "veth1"],
    ["bridge", "-n", "sw", "vlan", "add", "vid", "20-22", "dev", "veth1"],
    ["bridge", "-n", "sw", "vlan", "add", "vid", "1", "dev", "veth2", "untagged"],
    ["bridge", "-n", "sw", "vlan", "add", "vid", "20", "dev", "veth2"],
    ["bridge", "-n", "sw", "vlan", "add", "vid", "10", "dev", "br0", "self"],
    *[["ip", "-n", "sw", "link", "set", name, "up"]
      for name in ("br0", "veth1", "veth1p", "veth2", "veth2p")],
]
IFACES: list[tuple[str | None, str]] = [("sw", n) for n in ("br0", "veth1", "veth1p", "veth2",
                                                              "veth2p")]


def test_bridge_vlans_match_ip_and_bridge_reference() -> None:
    _require()
    sh("ip", "netns", "add", "sw")
    try:
        for cmd in REFERENCE_CMDS:
            sh(*cmd)
        expected = {"links": snapshot_all(IFACES), "vlans": _vlans("sw")}
    finally:
        sh("ip", "netns", "del", "sw")
    topo = vnet.load_text(REFERENCE_YAML)
    try:
        topo.apply()
        actual = {"links": snapshot_all(IFACES), "vlans": _vlans("sw")}
        again = topo.plan()
        assert not again.has_changes, [f"{a.verb} {a.subject}" for a in again.actions]
    finally:
        topo.destroy()
    assert expected == actual, diff_text(expected, actual)


def test_same_vlan_reaches_other_vlan_does_not() -> None:
    _require()
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        again = topo.plan()
        assert not again.has_changes, [f"{a.verb} {a.subject}" for a in again.actions]
        vlans = _vlans("sw")
        assert vlans["sw-h1"] == [{"vlan": 10, "flags": ["Egress Untagged", "PVID"]}]
        assert vlans["sw-h3"] == [{"vlan": 20, "flags": ["Egress Untagged", "PVID"]}]
        assert _pings("h1", "192.0.2.2")        # VLAN 10 to VLAN 10
        assert _pings("h1", "192.0.2.254")      # the bridge's own VLAN 10
        assert not _pings("h1", "192.0.2.3")    # VLAN 10 to VLAN 20
        assert not _pings("h3", "192.0.2.254")

        joined = vnet.load_text(EXAMPLE.replace("vlans: [{vid: 20, pvid: true, untagged: true}]",
                                                "vlans: [{vid: 10, pvid: true, untagged: true}]"))
        plan = joined.plan()
        assert sorted((a.verb, a.subject) for a in plan.actions) == [
            ("create", "bridge vlan 10 pvid untagged on sw/sw-h3"),
            ("remove", "bridge vlan 20 on sw/sw-h3")]
        joined.apply()
        assert not joined.plan().has_changes
        assert _pings("h1", "192.0.2.3")
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


def test_vlans_made_by_hand_are_put_back_and_omitted_vlans_are_left_alone() -> None:
    _require()
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        sh("bridge", "-n", "sw", "vlan", "add", "vid", "30", "dev", "sw-h1")
        sh("bridge", "-n", "sw", "vlan", "add", "vid", "10", "dev", "sw-h2")  # tagged now
        plan = topo.plan()
        assert sorted((a.verb, a.subject) for a in plan.actions) == [
            ("change", "bridge vlan 10 pvid untagged on sw/sw-h2"),
            ("remove", "bridge vlan 30 on sw/sw-h1")]
        topo.apply()
        assert not topo.plan().has_changes
        assert _vlans("sw")["sw-h1"] == [{"vlan": 10, "flags": ["Egress Untagged", "PVID"]}]
        # without `vlans` a port keeps what the kernel (or a person) gave it
        loose = vnet.load_text(EXAMPLE.replace(
            "      master: br0\n      vlans: [{vid: 20, pvid: true, untagged: true}]\n",
            "      master: br0\n"))
        assert not loose.plan().has_changes
    finally:
        topo.destroy()


def test_default_pvid_change_in_place_moves_untouched_ports() -> None:
    _require()
    yaml_text = """
name: brvpvid
namespaces: [sw]
interfaces:
  - {name: br0, kind: bridge, netns: sw, vlan_filtering: true, vlan_default_pvid: PVID}
  - {name: p1, kind: veth, netns: sw, master: br0, peer: {name: p1x, netns: sw}}
  - {name: p2, kind: veth, netns: sw, master: br0, peer: {name: p2x, netns: sw},
     vlans: [{vid: 5, pvid: true, untagged: true}]}
"""
    topo = vnet.load_text(yaml_text.replace("PVID", "1"))
    topo.apply()
    try:
        assert not topo.plan().has_changes
        moved = vnet.load_text(yaml_text.replace("PVID", "7"))
        moved.apply()
        again = moved.plan()
        assert not again.has_changes, [f"{a.verb} {a.subject}" for a in again.actions]
        vlans = _vlans("sw")
        assert vlans["p1"] == [{"vlan": 7, "flags": ["Egress Untagged", "PVID"]}]
        assert vlans["p2"] == [{"vlan": 5, "flags": ["Egress Untagged", "PVID"]}]
    finally:
        topo.destroy()
