"""veth: kernel state after `vnet apply` equals that of the reference `ip` commands; MTU changes
in place; a peer moved to another namespace means re-creating the pair."""

from __future__ import annotations

import json

import pytest

import vnet

from .helpers import require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("veth")

VETH_YAML = """
name: vethref
namespaces: [net1, net2]
interfaces:
  - name: veth1
    kind: veth
    netns: net1
    mtu: 9000
    addresses: [192.0.2.1/24, 2001:db8::1/64]
    peer:
      name: veth2
      netns: net2
      mtu: 9000
      addresses: [192.0.2.2/24, 2001:db8::2/64]
"""

VETH_CMDS = [
    ["ip", "link", "add", "veth1", "netns", "net1", "mtu", "9000", "type", "veth",
     "peer", "name", "veth2", "netns", "net2", "mtu", "9000"],
    ["ip", "-n", "net1", "addr", "add", "192.0.2.1/24", "dev", "veth1"],
    # vnet adds IPv6 addresses without duplicate address detection, so they work at once
    ["ip", "-n", "net1", "addr", "add", "2001:db8::1/64", "dev", "veth1", "nodad"],
    ["ip", "-n", "net2", "addr", "add", "192.0.2.2/24", "dev", "veth2"],
    ["ip", "-n", "net2", "addr", "add", "2001:db8::2/64", "dev", "veth2", "nodad"],
    ["ip", "-n", "net1", "link", "set", "veth1", "up"],
    ["ip", "-n", "net2", "link", "set", "veth2", "up"],
]


def _link(netns: str | None, name: str) -> dict:
    ns = ["-n", netns] if netns else []
    return json.loads(sh("ip", *ns, "-j", "-d", "link", "show", "dev", name))[0]


def test_veth_matches_ip_reference() -> None:
    require_kind("veth")
    assert_matches_reference(VETH_YAML, VETH_CMDS, ["net1", "net2"],
                             [("net1", "veth1"), ("net2", "veth2")])


def test_veth_with_fixed_mac_matches_ip_reference() -> None:
    require_kind("veth")
    yaml_text = """
name: vethmac
interfaces:
  - name: va
    kind: veth
    mac: 02:00:00:00:00:0a
    state: down
    peer: {name: vb, mac: 02:00:00:00:00:0b, state: down}
"""
    cmds = [["ip", "link", "add", "va", "address", "02:00:00:00:00:0a", "type", "veth",
             "peer", "name", "vb", "address", "02:00:00:00:00:0b"]]
    assert_matches_reference(yaml_text, cmds, [], [(None, "va"), (None, "vb")], keep_mac=True)


def test_veth_ends_ping() -> None:
    require_kind("veth")
    with vnet.load_text(VETH_YAML):
        sh("ping", "-c", "2", "-i", "0.2", "-W", "1", "192.0.2.2", netns="net1")
        sh("ping", "-c", "2", "-i", "0.2", "-W", "1", "2001:db8::2", netns="net1")


PAIR = """
name: vethmove
namespaces: [net1, net2, net3]
interfaces:
  - name: veth1
    kind: veth
    netns: net1
    mtu: {mtu}
    addresses: [192.0.2.1/24]
    peer: {{name: veth2, netns: {peer_ns}, addresses: [192.0.2.2/24]}}
"""


def test_mtu_changes_in_place() -> None:
    require_kind("veth")
    with vnet.load_text(PAIR.format(mtu=1500, peer_ns="net2")):
        index = _link("net1", "veth1")["ifindex"]
        changed = vnet.load_text(PAIR.format(mtu=1400, peer_ns="net2"))
        plan = changed.plan()
        assert [(a.verb, a.subject, a.diff) for a in plan.actions] == [
            ("change", "link net1/veth1 (veth)", {"mtu": (1500, 1400)})]
        changed.apply()
        link = _link("net1", "veth1")
        assert (link["mtu"], link["ifindex"]) == (1400, index)
        assert _link("net2", "veth2")["mtu"] == 1500  # the peer keeps its own MTU
        assert not changed.plan().has_changes


def test_peer_moved_to_another_namespace_is_a_replace() -> None:
    require_kind("veth")
    with vnet.load_text(PAIR.format(mtu=1500, peer_ns="net2")):
        moved = vnet.load_text(PAIR.format(mtu=1500, peer_ns="net3"))
        plan = moved.plan()
        verbs = {(a.verb, a.subject) for a in plan.actions}
        assert ("replace", "link net1/veth1 (veth) with peer net3/veth2") in verbs, verbs
        assert not any(a.verb == "remove" and "net1" in a.subject and "address" not in a.subject
                       for a in plan.actions), "the pair is replaced, not just removed"
        moved.apply()
        assert _link("net3", "veth2")["ifname"] == "veth2"
        assert sh("ip", "-n", "net2", "-j", "link", "show").count("ifname") == 1  # only lo
        sh("ping", "-c", "2", "-i", "0.2", "-W", "1", "192.0.2.2", netns="net1")
        assert not moved.plan().has_changes
        moved.destroy()
