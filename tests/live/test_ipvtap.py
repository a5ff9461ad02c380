"""ipvtap on the real kernel: the reference `ip` commands, the parent's MAC, and the /dev/tapN
character device that QEMU opens, N being the interface's ifindex."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import vnet

from .helpers import ip_json, require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("ipvtap")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "ipvtap.yaml").read_text()

REFERENCE_CMDS = [
    ["ip", "-n", "host", "link", "add", "nic0", "type", "veth", "peer", "name", "wire0"],
    ["ip", "-n", "host", "link", "add", "name", "vm0-ipvt", "link", "nic0", "type", "ipvtap",
     "mode", "l2", "bridge"],
    ["ip", "-n", "host", "link", "set", "nic0", "up"],
    ["ip", "-n", "host", "link", "set", "wire0", "up"],
    ["ip", "-n", "host", "link", "set", "vm0-ipvt", "up"],
]


def test_ipvtap_matches_ip_reference() -> None:
    require_kind("ipvtap")
    require_kind("veth")
    assert_matches_reference(EXAMPLE, REFERENCE_CMDS, ["host"], [
        ("host", "vm0-ipvt"), ("host", "nic0")])


def test_tap_character_device_appears_for_its_ifindex() -> None:
    require_kind("ipvtap")
    require_kind("veth")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        link = ip_json("-d", "link", "show", "vm0-ipvt", netns="host")[0]
        assert link["linkinfo"]["info_kind"] == "ipvtap"
        assert link["address"] == ip_json("link", "show", "nic0", netns="host")[0]["address"]
        index = link["ifindex"]
        # sysfs as the ipvtap's own namespace sees it (`ip netns exec` mounts it)
        listed = sh("ls", "/sys/class/net/vm0-ipvt/ipvtap", netns="host").split()
        assert listed == [f"tap{index}"]
        major_minor = sh("cat", f"/sys/class/net/vm0-ipvt/ipvtap/tap{index}/dev",
                         netns="host").strip()
        # /dev is the machine's devtmpfs, which gets a node for every tap device
        node = f"/dev/tap{index}"
        if os.path.exists(node):
            st = os.stat(node)
            assert stat.S_ISCHR(st.st_mode)
            assert f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}" == major_minor
    finally:
        topo.destroy()
    assert not os.path.exists(f"/dev/tap{index}")
    assert sh("ip", "netns", "list").strip() == ""
