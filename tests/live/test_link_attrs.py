"""Generic link attributes (`txqueuelen`, `alias`, `numtxqueues`, `promisc`, `addrgenmode`, ...)
on this machine's kernel: the state after `vnet apply` equals that of the reference `ip`
commands, `show --json` reads them back, a second plan is empty, an in-place change is a
change and a queue count change re-creates the link."""

from __future__ import annotations

import pytest

import vnet

from .helpers import ip_json, require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("veth")

ATTRS_YAML = """
name: attrs
namespaces: [net1, net2]
interfaces:
  - name: veth1
    kind: veth
    netns: net1
    txqueuelen: 42
    alias: uplink to net2
    numtxqueues: 4
    numrxqueues: 2
    gso_max_size: 32000
    gso_max_segs: 100
    gro_max_size: 30000
    promisc: true
    allmulticast: true
    arp: false
    addrgenmode: none
    peer: {name: veth2, netns: net2, multicast: false, txqueuelen: 7}
  - {name: br0, kind: bridge, netns: net2, promisc: true, alias: the switch,
     broadcast: "ff:ff:ff:ff:ff:fe"}
"""

ATTRS_CMDS = [
    ["ip", "link", "add", "veth1", "netns", "net1", "numtxqueues", "4", "numrxqueues", "2",
     "type", "veth", "peer", "name", "veth2", "netns", "net2"],
    ["ip", "-n", "net1", "link", "set", "veth1", "txqueuelen", "42", "alias", "uplink to net2",
     "gso_max_size", "32000", "gso_max_segs", "100", "gro_max_size", "30000", "promisc", "on",
     "allmulticast", "on", "arp", "off", "addrgenmode", "none"],
    ["ip", "-n", "net2", "link", "set", "veth2", "multicast", "off", "txqueuelen", "7"],
    ["ip", "-n", "net2", "link", "add", "br0", "type", "bridge"],
    ["ip", "-n", "net2", "link", "set", "br0", "promisc", "on", "alias", "the switch",
     "broadcast", "ff:ff:ff:ff:ff:fe"],
    *[["ip", "-n", ns, "link", "set", name, "up"]
      for ns, name in (("net1", "veth1"), ("net2", "veth2"), ("net2", "br0"))],
]

COMPARED = [("net1", "veth1"), ("net2", "veth2"), ("net2", "br0")]


def _link(ns: str, name: str) -> dict:
    return ip_json("-d", "link", "show", "dev", name, netns=ns)[0]


def test_link_attributes_match_the_ip_reference() -> None:
    require_kind("veth")
    require_kind("bridge")
    assert_matches_reference(ATTRS_YAML, ATTRS_CMDS, ["net1", "net2"], COMPARED)


def test_link_attributes_are_read_back_compared_and_changed() -> None:
    require_kind("veth")
    require_kind("bridge")
    topo = vnet.load_text(ATTRS_YAML)
    topo.apply()
    try:
        veth1 = _link("net1", "veth1")
        assert (veth1["txqlen"], veth1["ifalias"], veth1["num_tx_queues"],
                veth1["num_rx_queues"], veth1["gso_max_size"], veth1["gso_max_segs"],
                veth1["gro_max_size"], veth1["promiscuity"]) == (
            42, "uplink to net2", 4, 2, 32000, 100, 30000, 1)
        assert {"NOARP", "ALLMULTI", "PROMISC"} <= set(veth1["flags"])
        assert "MULTICAST" not in _link("net2", "veth2")["flags"]
        assert not topo.plan().has_changes
        shown = {(r.netns, r.name): r.extra.get("link", {}) for r in topo.show().interfaces}
        assert shown[("net1", "veth1")]["addrgenmode"] == "none"
        assert shown[("net1", "veth1")]["alias"] == "uplink to net2"
        assert shown[("net2", "veth2")]["multicast"] is False
        # in place: one change, the link kept
        index = veth1["ifindex"]
        changed = vnet.load_text(ATTRS_YAML.replace("txqueuelen: 42", "txqueuelen: 43")
                                 .replace("promisc: true\n    allmulticast",
                                          "promisc: false\n    allmulticast"))
        plan = changed.plan()
        assert [(a.verb, a.subject) for a in plan.actions] == [
            ("change", "link net1/veth1 (veth)")], plan.actions
        assert plan.actions[0].diff == {"txqueuelen": (42, 43), "promisc": (True, False)}
        changed.apply()
        after = _link("net1", "veth1")
        assert (after["ifindex"], after["txqlen"], after["promiscuity"]) == (index, 43, 0)
        assert not changed.plan().has_changes
        # create-only: the queue count re-creates the pair, saying why
        fewer = vnet.load_text(ATTRS_YAML.replace("numtxqueues: 4", "numtxqueues: 3"))
        plan = fewer.plan()
        replaced = [a for a in plan.actions if a.verb == "replace"]
        assert replaced and "numtxqueues cannot change in place" in replaced[0].reason, \
            plan.actions
        fewer.apply()
        assert _link("net1", "veth1")["num_tx_queues"] == 3
        assert not fewer.plan().has_changes
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


SYSCTL_YAML = """
name: knobs
namespaces: [r1]
interfaces:
  - name: a1
    kind: veth
    netns: r1
    forwarding: true
    rp_filter: 2
    accept_ra: 0
    addresses: [192.0.2.1/24]
    peer: {name: a2, netns: r1, ipv6: false}
"""


def _conf(path: str) -> str:
    return sh("cat", f"/proc/sys/{path}", netns="r1").strip()


def test_interface_sysctls_are_written_compared_and_changed() -> None:
    require_kind("veth")
    topo = vnet.load_text(SYSCTL_YAML)
    topo.apply()
    try:
        assert [_conf(p) for p in ("net/ipv4/conf/a1/forwarding",
                                   "net/ipv6/conf/a1/forwarding", "net/ipv4/conf/a1/rp_filter",
                                   "net/ipv6/conf/a1/accept_ra",
                                   "net/ipv6/conf/a2/disable_ipv6")] == ["1", "1", "2", "0", "1"]
        assert not [a for a in ip_json("addr", "show", "dev", "a2", netns="r1")[0]["addr_info"]
                    if a["family"] == "inet6"]
        assert not topo.plan().has_changes
        # `vnet capture` (and so `show --options`) reads them back in the file's words
        from vnet import api
        from vnet.capture import capture_owned
        with api.open_kernel() as kernel:
            [entry] = capture_owned("knobs", kernel)["interfaces"]
        assert {k: entry[k] for k in ("forwarding", "rp_filter", "accept_ra")} == {
            "forwarding": True, "rp_filter": 2, "accept_ra": 0}, entry
        assert entry["peer"]["ipv6"] is False, entry
        changed = vnet.load_text(SYSCTL_YAML.replace("rp_filter: 2", "rp_filter: 1"))
        plan = changed.plan()
        assert [(a.verb, a.subject, a.diff) for a in plan.actions] == [
            ("change", "sysctls of r1/a1", {"rp_filter": (2, 1)})], plan.actions
        changed.apply()
        assert _conf("net/ipv4/conf/a1/rp_filter") == "1"
        assert not changed.plan().has_changes
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


ROUTER_YAML = """
name: router
namespaces: [{name: r1, forwarding: true}, h1, h2]
interfaces:
  - {name: r1a, kind: veth, netns: r1, addresses: [192.0.2.1/24],
     peer: {name: h1a, netns: h1, addresses: [192.0.2.2/24]}}
  - {name: r1b, kind: veth, netns: r1, addresses: [198.51.100.1/24],
     peer: {name: h2b, netns: h2, addresses: [198.51.100.2/24]}}
routes:
  - {netns: h1, to: default, via: 192.0.2.1}
  - {netns: h2, to: default, via: 198.51.100.1}
checks:
  - {from: h1, ping: 198.51.100.2}
"""


def test_a_router_namespace_forwards_between_two_hosts() -> None:
    require_kind("veth")
    topo = vnet.load_text(ROUTER_YAML)
    topo.apply()
    try:
        assert sh("cat", "/proc/sys/net/ipv4/ip_forward", netns="r1").strip() == "1"
        assert sh("cat", "/proc/sys/net/ipv6/conf/all/forwarding", netns="r1").strip() == "1"
        assert all(r.passed for r in topo.check())
        assert not topo.plan().has_changes
        off = vnet.load_text(ROUTER_YAML.replace("{name: r1, forwarding: true}",
                                                 "{name: r1, forwarding: false}"))
        off.apply()
        assert not [r for r in off.check() if r.passed]
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""
