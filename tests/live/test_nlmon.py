"""nlmon on the real kernel: the reference `ip` commands, and a capture on it seeing the netlink
messages vnet exchanges with the kernel while it applies something in that namespace."""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

import pytest
import yaml

import vnet

from .helpers import ip_json, require_kind, sh, socket_in
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("nlmon")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "nlmon.yaml").read_text()

REFERENCE_CMDS = [
    ["ip", "-n", "mon", "link", "add", "nlmon0", "type", "nlmon"],
    ["ip", "-n", "mon", "link", "set", "nlmon0", "up"],
]
ETH_P_ALL = 0x0003
RTM_NEWLINK = 16
ARPHRD_NETLINK = 824
SO_RCVBUFFORCE = 33


def test_nlmon_matches_ip_reference() -> None:
    require_kind("nlmon")
    assert_matches_reference(EXAMPLE, REFERENCE_CMDS, ["mon"], [("mon", "nlmon0")])


def test_capture_sees_the_netlink_messages_of_an_apply() -> None:
    require_kind("nlmon")
    require_kind("veth")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        cap = socket_in("mon", socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        with cap:
            # dump replies are big skbs: a default-sized buffer fills before the apply is done
            cap.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
            cap.bind(("nlmon0", 0))
            cap.settimeout(0.2)
            seen: list[int] = []
            hatypes: set[int] = set()
            found = threading.Event()
            until: list[float] = []

            hard_stop = time.monotonic() + 60

            def read() -> None:
                # after the apply, drain what is queued (a loaded machine may starve this
                # thread while the buffer fills) and stop at the first quiet 0.2 s past `until`
                while not found.is_set() and time.monotonic() < hard_stop:
                    try:
                        data, addr = cap.recvfrom(65536)
                    except TimeoutError:
                        if until and time.monotonic() > until[0]:
                            break
                        continue
                    hatypes.add(addr[3])
                    if len(data) < 16:
                        continue
                    _, msg_type = struct.unpack_from("=IH", data)
                    seen.append(msg_type)
                    # vnet's own request: RTM_NEWLINK naming the link it creates
                    if msg_type == RTM_NEWLINK and b"capt0\0" in data:
                        found.set()

            reader = threading.Thread(target=read)
            reader.start()
            # while capturing, vnet adds a veth pair in the same namespace
            bigger = yaml.safe_load(EXAMPLE)
            bigger["interfaces"].append({"name": "capt0", "kind": "veth", "netns": "mon",
                                         "peer": {"name": "capt1", "netns": "mon"}})
            more = vnet.load_data(bigger)
            try:
                more.apply()
            finally:
                until.append(time.monotonic() + 2.0)  # the capture is bounded: 2 s after
                reader.join()
        assert hatypes == {ARPHRD_NETLINK}  # each packet is a netlink message, no L2 header
        assert found.is_set(), f"no RTM_NEWLINK for capt0 captured; message types seen: {seen[:50]}"
        assert ip_json("link", "show", "capt0", netns="mon")
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""
    assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]
