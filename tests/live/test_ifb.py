"""ifb: vnet's IFB, shaping qdisc and ingress redirect equal the reference ip/tc commands; a
second plan is empty; traffic into the source is counted on the IFB and shaped to the rate;
destroy leaves nothing, and puts back an external source's ingress."""

from __future__ import annotations

import ctypes
import json
import os
import socket
import threading
import time

import pytest

import vnet

from .helpers import require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("ifb")

IFB_YAML = """
name: ifbref
namespaces: [na, nb]
interfaces:
  - name: va
    kind: veth
    netns: na
    addresses: [192.0.2.1/24]
    peer: {name: vb, netns: nb, addresses: [192.0.2.2/24]}
  - name: ifb0
    kind: ifb
    netns: nb
    redirect_from: [vb]
    shaping: {qdisc: tbf, rate: 10mbit, burst: 32kbit, latency: 50ms}
"""

IFB_CMDS = [
    ["ip", "link", "add", "va", "netns", "na", "type", "veth", "peer", "name", "vb", "netns",
     "nb"],
    ["ip", "-n", "na", "addr", "add", "192.0.2.1/24", "dev", "va"],
    ["ip", "-n", "nb", "addr", "add", "192.0.2.2/24", "dev", "vb"],
    ["ip", "-n", "na", "link", "set", "va", "up"],
    ["ip", "-n", "nb", "link", "set", "vb", "up"],
    ["ip", "-n", "nb", "link", "add", "ifb0", "type", "ifb"],
    ["ip", "-n", "nb", "link", "set", "ifb0", "up"],
    ["tc", "-n", "nb", "qdisc", "add", "dev", "ifb0", "root", "tbf", "rate", "10mbit", "burst",
     "32kbit", "latency", "50ms"],
    ["tc", "-n", "nb", "qdisc", "add", "dev", "vb", "handle", "ffff:", "ingress"],
    ["tc", "-n", "nb", "filter", "add", "dev", "vb", "parent", "ffff:", "protocol", "all", "u32",
     "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", "ifb0"],
]


def tc_state(netns: str) -> dict:
    """`tc -j qdisc show` and the ingress filters of vb, without volatile fields."""
    # lo is left out: vnet brings a namespace's lo up, `ip netns add` leaves it down
    qdiscs = [q for q in json.loads(sh("tc", "-j", "qdisc", "show", netns=netns))
              if q["dev"] != "lo"]
    for q in qdiscs:
        if q["kind"] == "tbf":
            q.pop("handle")  # the kernel numbers auto handles 8001:, 8002:, ...
    filters = json.loads(sh("tc", "-j", "filter", "show", "dev", "vb", "ingress", netns=netns))
    for f in filters:
        for act in f.get("options", {}).get("actions", []):
            act.pop("index", None)  # action indexes count up per namespace
    return {"qdiscs": sorted(qdiscs, key=json.dumps), "filters": filters}


def test_ifb_matches_the_reference_commands() -> None:
    require_kind("ifb")
    assert_matches_reference(IFB_YAML, IFB_CMDS, ["na", "nb"],
                             [("na", "va"), ("nb", "vb"), ("nb", "ifb0")])


def test_shaping_equals_the_reference_tc_state_and_plans_nothing() -> None:
    require_kind("ifb")
    for ns in ("na", "nb"):
        sh("ip", "netns", "add", ns)
    for cmd in IFB_CMDS:
        sh(*cmd)
    expected = tc_state("nb")
    for ns in ("na", "nb"):
        sh("ip", "netns", "del", ns)
    topo = vnet.load_text(IFB_YAML)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        assert tc_state("nb") == expected
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list") == ""
    assert [link["ifname"] for link in json.loads(sh("ip", "-j", "link", "show"))] == ["lo"]


def test_changed_rate_is_changed_in_place() -> None:
    require_kind("ifb")
    topo = vnet.load_text(IFB_YAML)
    topo.apply()
    try:
        faster = vnet.load_text(IFB_YAML.replace("rate: 10mbit", "rate: 20mbit"))
        plan = faster.plan()
        assert [(a.verb, a.subject) for a in plan.actions] == [
            ("change", "qdisc tbf on nb/ifb0")]
        assert plan.actions[0].diff == {"rate": ("10mbit", "20mbit")}
        faster.apply()
        assert not faster.plan().has_changes
        tbf = [q for q in json.loads(sh("tc", "-j", "qdisc", "show", "dev", "ifb0", netns="nb"))
               if q["kind"] == "tbf"]
        assert tbf[0]["options"]["rate"] == 2_500_000
    finally:
        topo.destroy()


def _blast(dst: str, port: int, seconds: float, rate_bps: float) -> None:
    """Send UDP from the namespace this thread is in, paced to about `rate_bps`."""
    payload = b"x" * 1400
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        start = time.monotonic()
        sent = 0
        while (now := time.monotonic()) - start < seconds:
            if sent * 8 > rate_bps * (now - start):
                time.sleep(0.0005)
                continue
            try:
                s.sendto(payload, (dst, port))
                sent += len(payload) + 28 + 14
            except OSError:
                time.sleep(0.001)


def _in_netns(name: str) -> None:
    """Move the calling thread (only it) into named namespace `name` (os.setns is 3.12+)."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            raise OSError(ctypes.get_errno(), f"setns {name}")
    finally:
        os.close(fd)


def test_traffic_into_the_source_is_counted_on_the_ifb_and_shaped() -> None:
    require_kind("ifb")
    topo = vnet.load_text(IFB_YAML)
    topo.apply()
    try:
        before = json.loads(sh("ip", "-s", "-j", "link", "show", "ifb0", netns="nb"))[0]
        received = {"bytes": 0, "first": 0.0, "last": 0.0}
        port = 5201
        ready = threading.Event()

        def receive() -> None:
            _in_netns("nb")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r:
                r.bind(("192.0.2.2", port))
                r.settimeout(1.0)
                ready.set()
                while True:
                    try:
                        data = r.recv(65535)
                    except TimeoutError:
                        return
                    now = time.monotonic()
                    if not received["first"]:
                        received["first"] = now
                    received["last"] = now
                    received["bytes"] += len(data) + 28 + 14

        def send() -> None:
            _in_netns("na")
            _blast("192.0.2.2", port, 2.0, 40e6)  # four times the shaped rate

        rx = threading.Thread(target=receive)
        rx.start()
        ready.wait(5)
        tx = threading.Thread(target=send)
        tx.start()
        tx.join()
        rx.join()
        after = json.loads(sh("ip", "-s", "-j", "link", "show", "ifb0", netns="nb"))[0]
        assert after["stats64"]["rx"]["packets"] > before["stats64"]["rx"]["packets"] + 100
        assert after["stats64"]["tx"]["packets"] > before["stats64"]["tx"]["packets"] + 100
        seconds = received["last"] - received["first"]
        assert seconds > 1.0, received
        rate = received["bytes"] * 8 / seconds
        assert 7.5e6 <= rate <= 12.5e6, f"delivered {rate / 1e6:.2f} Mbit/s, shaped to 10"
    finally:
        topo.destroy()


EXTERNAL_YAML = """
name: ifbext
interfaces:
  - {name: nic0, external: true}
  - name: ifb0
    kind: ifb
    redirect_from: [nic0]
    shaping: {qdisc: htb, rate: 5mbit, ceil: 10mbit}
"""


@pytest.mark.kind("veth")
def test_destroy_puts_back_an_external_source() -> None:
    require_kind("ifb")
    # a veth plays the machine's NIC: vnet does not own it
    sh("ip", "link", "add", "nic0", "type", "veth", "peer", "name", "nic1")
    topo = vnet.load_text(EXTERNAL_YAML)
    topo.apply()
    assert not topo.plan().has_changes
    # this tc prints classes as text even with -j
    assert "class htb 1:1 root prio 0 rate 5Mbit ceil 10Mbit burst 1600b cburst 1600b" in \
        sh("tc", "class", "show", "dev", "ifb0")
    assert [q["kind"] for q in json.loads(sh("tc", "-j", "qdisc", "show", "dev", "nic0"))
            if q["kind"] == "ingress"] == ["ingress"]
    topo.destroy()
    assert [q["kind"] for q in json.loads(sh("tc", "-j", "qdisc", "show", "dev", "nic0"))
            if q["kind"] == "ingress"] == []
    assert sorted(link["ifname"] for link in json.loads(sh("ip", "-j", "link", "show"))) == \
        ["lo", "nic0", "nic1"]


def test_sfq_where_the_kernel_lacks_it_is_a_clear_kernel_error() -> None:
    require_kind("ifb")
    yaml = "name: sfq\ninterfaces:\n  - {name: ifb0, kind: ifb, shaping: {qdisc: sfq}}\n"
    topo = vnet.load_text(yaml)
    try:
        topo.apply()
    except vnet.errors.ApplyError as err:
        assert "no 'sfq' qdisc" in str(err) and "rolled back" in str(err)
        assert [link["ifname"] for link in json.loads(sh("ip", "-j", "link", "show"))] == ["lo"]
    else:
        assert not topo.plan().has_changes
        topo.destroy()
