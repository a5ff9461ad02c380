"""wireguard on a real kernel (the VM tier; this machine's kernel lacks it and the test skips
here): the example's two namespaces ping over WireGuard, the packets on the underlay being
UDP to the peer's port; what the kernel reports back (public key, port, peers) makes a second
plan empty; a changed peer changes in place (same link); a link made in one namespace and
moved into another keeps its UDP socket where it was made (how a veth across hosts becomes a
WireGuard link); no output carries a key; destroy leaves nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

import vnet
from vnet import cli
from vnet.door.netlink import Netlink
from vnet.door.protocol import Scope

from .helpers import ip_json, require_kind, sh

pytestmark = pytest.mark.kind("wireguard")

EXAMPLE_PATH = Path(__file__).resolve().parents[2] / "examples" / "wireguard.yaml"
EXAMPLE = EXAMPLE_PATH.read_text()
PRIV_A = "CGZ1MNu86mHHMHRz//aGHnVpWLio0BMVhfyr/vCJnnU="
PUB_A = "P+i4vdeKUfsBqFlkhJnwm4pb9tGg0QgcReJVFbUZ2A4="
PRIV_B = "UEVG16aTu53i/EeT/MjOqop+ZLi1oEpW9hMJVVZPJ0c="
PUB_B = "80W7mKJv7L3jUkfWBYaonZ3MUftj6nkTT2p9EGqXsgM="


def test_two_namespaces_ping_over_wireguard_and_read_back_plans_nothing(
        capsys: pytest.CaptureFixture[str]) -> None:
    require_kind("wireguard")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        report = topo.check()
        assert report.ok, [(r.probe.label, r.observed) for r in report]
        # what the kernel reports back: the public key of the private key, port, the peer
        with Netlink() as nl:
            state = nl.observe(Scope(["site-a"])).namespaces["site-a"]
        wg = state.wireguard["wg0"]
        assert (wg.public_key, wg.listen_port) == (PUB_A, 51820)
        assert list(wg.peers) == [PUB_B]
        assert wg.peers[PUB_B].endpoint == "198.51.100.2:51821"
        assert wg.peers[PUB_B].allowed_ips == ("10.9.0.2/32",)
        assert not topo.plan().has_changes, topo.plan().actions
        # a changed peer changes in place: the same link, the new allowed IPs and keepalive
        index = ip_json("link", "show", "wg0", netns="site-a")[0]["ifindex"]
        changed = vnet.load_text(EXAMPLE.replace(
            "allowed_ips: [10.9.0.2/32]",
            "allowed_ips: [10.9.0.2/32, 10.9.1.0/24]\n        persistent_keepalive: 5"))
        plan = changed.plan()
        assert [(a.verb, a.subject) for a in plan.actions] == [
            ("change", f"wireguard peer {PUB_B[:10]}... on site-a/wg0")]
        changed.apply()
        assert not changed.plan().has_changes
        assert ip_json("link", "show", "wg0", netns="site-a")[0]["ifindex"] == index
        with Netlink() as nl:
            state = nl.observe(Scope(["site-a"])).namespaces["site-a"]
        peer = state.wireguard["wg0"].peers[PUB_B]
        assert (peer.allowed_ips, peer.persistent_keepalive) == (
            ("10.9.0.2/32", "10.9.1.0/24"), 5)
        assert changed.check().ok
        # no output of plan, show or --json carries a key
        capsys.readouterr()
        for argv in (["plan", str(EXAMPLE_PATH)], ["plan", "--json", str(EXAMPLE_PATH)],
                     ["show", "wireguard-demo"], ["show", "--json", "wireguard-demo"]):
            cli.main(argv)
        out = capsys.readouterr()
        for key in (PRIV_A, PRIV_B, PRIV_A[:16], PRIV_B[:16]):
            assert key not in out.out + out.err
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


SOCKET_ELSEWHERE = """
name: wgmoved
namespaces: [hosta, hostb, ina, inb]
interfaces:
  - {name: ul-a, kind: veth, netns: hosta, addresses: [198.51.100.1/24],
     peer: {name: ul-b, netns: hostb, addresses: [198.51.100.2/24]}}
  - name: wg7
    kind: wireguard
    netns: ina
    socket_netns: hosta
    private_key: "PRIV_A"
    listen_port: 51900
    addresses: [10.7.0.1/24]
    peers: [{public_key: "PUB_B", endpoint: "198.51.100.2:51900", allowed_ips: [0.0.0.0/0]}]
  - name: wg7
    kind: wireguard
    netns: inb
    socket_netns: hostb
    private_key: "PRIV_B"
    listen_port: 51900
    addresses: [10.7.0.2/24]
    peers: [{public_key: "PUB_A", endpoint: "198.51.100.1:51900", allowed_ips: [0.0.0.0/0]}]
checks:
  - {from: ina, ping: 10.7.0.2, encap: {watch: hostb/ul-b, udp: 51900}}
""".replace('"PRIV_A"', f'"{PRIV_A}"').replace('"PUB_A"', f'"{PUB_A}"').replace(
    '"PRIV_B"', f'"{PRIV_B}"').replace('"PUB_B"', f'"{PUB_B}"')


def test_a_link_made_where_the_underlay_is_keeps_its_socket_there() -> None:
    require_kind("wireguard")
    topo = vnet.load_text(SOCKET_ELSEWHERE)
    topo.apply()
    try:
        # the namespaces holding the links have no route to the underlay: only the sockets
        # left in hosta and hostb can carry the packets
        assert sh("ip", "-j", "route", "show", netns="ina").count("198.51.100") == 0
        report = topo.check()
        assert report.ok, [(r.probe.label, r.observed) for r in report]
        assert not topo.plan().has_changes
        assert base64.b64decode(PUB_A)  # the keys are real keys
        assert json.loads(sh("ip", "-j", "link", "show", "wg7", netns="ina"))[0]["ifname"] == \
            "wg7"
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""
