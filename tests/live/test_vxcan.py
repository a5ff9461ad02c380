"""vxcan on the real kernel: the reference `ip` command (a pair across two namespaces), a CAN
frame sent in net1 arriving in net2, and teardown removing both ends."""

from __future__ import annotations

from pathlib import Path

import pytest

import vnet

from .helpers import ip_json, require_kind, sh
from .reference import assert_matches_reference
from .test_vcan import CAN_FRAME, can_socket

pytestmark = pytest.mark.kind("vxcan")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "vxcan.yaml").read_text()

REFERENCE_CMDS = [
    ["ip", "link", "add", "vxcan1", "netns", "net1", "type", "vxcan", "peer", "name", "vxcan2",
     "netns", "net2"],
    ["ip", "-n", "net1", "link", "set", "vxcan1", "up"],
    ["ip", "-n", "net2", "link", "set", "vxcan2", "up"],
]


def _clean() -> None:
    assert sh("ip", "netns", "list").strip() == ""
    assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]


def test_vxcan_matches_ip_reference() -> None:
    require_kind("vxcan")
    assert_matches_reference(EXAMPLE, REFERENCE_CMDS, ["net1", "net2"],
                             [("net1", "vxcan1"), ("net2", "vxcan2")])


def test_frame_sent_in_net1_arrives_in_net2() -> None:
    require_kind("vxcan")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        peer = ip_json("-d", "link", "show", "vxcan2", netns="net2")[0]
        assert peer["linkinfo"]["info_kind"] == "vxcan"
        with can_socket("net1", "vxcan1") as sender, can_socket("net2", "vxcan2") as receiver:
            sender.send(CAN_FRAME.pack(0x42, 3, b"abc"))
            can_id, length, data = CAN_FRAME.unpack(receiver.recv(CAN_FRAME.size))
        assert (can_id, data[:length]) == (0x42, b"abc")
    finally:
        topo.destroy()
    _clean()


def test_end_here_peer_in_namespace_goes_with_destroy() -> None:
    require_kind("vxcan")
    topo = vnet.load_text("""
name: vxhere
namespaces: [net2]
interfaces:
  - name: vxcan1
    kind: vxcan
    peer: {name: vxcan2, netns: net2}
""")
    topo.apply()
    try:
        assert not topo.plan().has_changes
        assert ip_json("link", "show", "vxcan1")[0]["ifname"] == "vxcan1"
        # dropping the pair from the file removes both ends
        vnet.load_text("name: vxhere\nnamespaces: [net2]\n").apply()
        assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]
        assert [link["ifname"] for link in ip_json("link", "show", netns="net2")] == ["lo"]
    finally:
        topo.destroy()
    _clean()
