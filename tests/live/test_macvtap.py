"""macvtap on the real kernel: the reference `ip` command, and the /dev/tapN character device
that QEMU opens, N being the interface's ifindex."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import vnet

from .helpers import ip_json, require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("macvtap")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "macvtap.yaml").read_text()

REFERENCE_CMDS = [
    ["ip", "-n", "host", "link", "add", "nic0", "type", "veth", "peer", "name", "wire0"],
    ["ip", "-n", "host", "link", "add", "link", "nic0", "name", "vm0-tap", "type", "macvtap",
     "mode", "bridge"],
    ["ip", "-n", "host", "link", "set", "vm0-tap", "address", "02:00:00:00:0a:01"],
    ["ip", "-n", "host", "link", "add", "link", "nic0", "name", "vm1-tap", "type", "macvtap",
     "mode", "source", "macaddr", "set", "02:00:00:00:0b:01", "02:00:00:00:0b:02"],
    ["ip", "-n", "host", "link", "set", "nic0", "up"],
    ["ip", "-n", "host", "link", "set", "wire0", "up"],
    ["ip", "-n", "host", "link", "set", "vm0-tap", "up"],
    ["ip", "-n", "host", "link", "set", "vm1-tap", "up"],
]


def test_macvtap_matches_ip_reference() -> None:
    require_kind("macvtap")
    require_kind("veth")
    assert_matches_reference(EXAMPLE, REFERENCE_CMDS, ["host"], [
        ("host", "vm0-tap"), ("host", "vm1-tap"), ("host", "nic0")])


def test_tap_character_device_appears_for_its_ifindex() -> None:
    require_kind("macvtap")
    require_kind("veth")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        index = ip_json("link", "show", "vm0-tap", netns="host")[0]["ifindex"]
        # sysfs as the macvtap's own namespace sees it (`ip netns exec` mounts it)
        listed = sh("ls", "/sys/class/net/vm0-tap/macvtap", netns="host").split()
        assert listed == [f"tap{index}"]
        major_minor = sh("cat", f"/sys/class/net/vm0-tap/macvtap/tap{index}/dev",
                         netns="host").strip()
        # /dev is the machine's devtmpfs, which gets a node for every tap device
        node = f"/dev/tap{index}"
        if os.path.exists(node):
            st = os.stat(node)
            assert stat.S_ISCHR(st.st_mode)
            assert f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}" == major_minor
        data = ip_json("-d", "link", "show", "vm1-tap", netns="host")[0]["linkinfo"]
        assert data["info_kind"] == "macvtap"
        assert sorted(data["info_data"]["macaddr_data"]) == ["02:00:00:00:0b:01",
                                                             "02:00:00:00:0b:02"]
    finally:
        topo.destroy()
    assert not os.path.exists(f"/dev/tap{index}")
    assert sh("ip", "netns", "list").strip() == ""
