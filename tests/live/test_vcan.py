"""vcan on the real kernel: the reference `ip` command, and a CAN frame written to the bus read
back by a second socket on it."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
from pathlib import Path

import pytest

import vnet

from .helpers import ip_json, require_kind, sh, socket_in
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("vcan")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "vcan.yaml").read_text()

REFERENCE_CMDS = [
    ["ip", "-n", "can", "link", "add", "dev", "vcan1", "type", "vcan"],
    ["ip", "-n", "can", "link", "set", "vcan1", "up"],
]
CAN_FRAME = struct.Struct("=IB3x8s")  # struct can_frame: id, length, padding, data


def can_socket(netns: str | None, ifname: str) -> socket.socket:
    """A CAN_RAW socket bound to `ifname` in `netns`; skips when the kernel has no CAN_RAW."""
    if os.path.exists("/proc/modules"):
        subprocess.run(["modprobe", "-q", "can_raw"], capture_output=True, check=False)
    try:
        sock = socket_in(netns, socket.AF_CAN, socket.SOCK_RAW, socket.CAN_RAW)
    except OSError as error:
        pytest.skip(f"kernel lacks {ifname.rstrip('0123456789')}: no CAN_RAW sockets ({error})")
    sock.settimeout(2.0)
    sock.bind((ifname,))
    return sock


def test_vcan_matches_ip_reference() -> None:
    require_kind("vcan")
    assert_matches_reference(EXAMPLE, REFERENCE_CMDS, ["can"], [("can", "vcan1")])


def test_frame_written_is_read_by_another_socket() -> None:
    require_kind("vcan")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        with can_socket("can", "vcan1") as writer, can_socket("can", "vcan1") as reader:
            writer.send(CAN_FRAME.pack(0x123, 4, b"vnet"))
            can_id, length, data = CAN_FRAME.unpack(reader.recv(CAN_FRAME.size))
        assert (can_id, data[:length]) == (0x123, b"vnet")
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""
    assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]
