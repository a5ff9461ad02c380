"""macvlan on the real kernel: the reference `ip` command (parent in one namespace, macvlan moved
into another), bridge mode lets siblings talk, private mode isolates them, mode and source-MAC
list change in place."""

from __future__ import annotations

from pathlib import Path

import pytest

import vnet

from .helpers import CommandError, ip_json, require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("macvlan")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "macvlan.yaml").read_text()

REFERENCE_CMDS = [
    ["ip", "-n", "host", "link", "add", "nic0", "type", "veth", "peer", "name", "wire0"],
    ["ip", "-n", "host", "link", "add", "link", "nic0", "name", "macv1", "netns", "ns1", "type",
     "macvlan", "mode", "bridge"],
    ["ip", "-n", "host", "link", "add", "link", "nic0", "name", "macv2", "netns", "ns2", "type",
     "macvlan", "mode", "bridge"],
    ["ip", "-n", "ns1", "addr", "add", "192.0.2.11/24", "dev", "macv1"],
    ["ip", "-n", "ns2", "addr", "add", "192.0.2.12/24", "dev", "macv2"],
    ["ip", "-n", "host", "link", "set", "nic0", "up"],
    ["ip", "-n", "host", "link", "set", "wire0", "up"],
    ["ip", "-n", "ns1", "link", "set", "macv1", "up"],
    ["ip", "-n", "ns2", "link", "set", "macv2", "up"],
]


def _pings(source_ns: str, address: str) -> bool:
    try:
        sh("ping", "-c", "2", "-i", "0.2", "-W", "1", address, netns=source_ns)
    except CommandError:
        return False
    return True


def test_macvlan_matches_ip_reference() -> None:
    require_kind("macvlan")
    require_kind("veth")
    assert_matches_reference(EXAMPLE, REFERENCE_CMDS, ["host", "ns1", "ns2"], [
        ("ns1", "macv1"), ("ns2", "macv2"), ("host", "nic0"), ("host", "wire0")])


def test_bridge_mode_siblings_reach_each_other_private_mode_they_do_not() -> None:
    require_kind("macvlan")
    require_kind("veth")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        assert _pings("ns1", "192.0.2.12")
        index = ip_json("link", "show", "macv1", netns="ns1")[0]["ifindex"]
        private = vnet.load_text(EXAMPLE.replace("mode: bridge", "mode: private"))
        plan = private.plan()
        assert sorted((a.verb, a.subject) for a in plan.actions) == [
            ("change", "link ns1/macv1 (macvlan)"), ("change", "link ns2/macv2 (macvlan)")]
        private.apply()
        assert not private.plan().has_changes
        link = ip_json("-d", "link", "show", "macv1", netns="ns1")[0]
        assert link["linkinfo"]["info_data"]["mode"] == "private"
        assert link["ifindex"] == index  # changed in place
        assert not _pings("ns1", "192.0.2.12")
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


SOURCE_YAML = """
name: mvsrc
namespaces: [host]
interfaces:
  - name: nic0
    kind: veth
    netns: host
    peer: {{name: wire0, netns: host}}
  - name: msrc
    kind: macvlan
    netns: host
    link: nic0
    link_netns: host
    mode: {mode}
{extra}
"""


def test_source_mode_mac_list_and_passthru_replace() -> None:
    require_kind("macvlan")
    require_kind("veth")
    two = vnet.load_text(SOURCE_YAML.format(
        mode="source", extra="    macaddr: ['02:00:00:00:00:01', '02:00:00:00:00:02']"))
    two.apply()
    try:
        assert not two.plan().has_changes
        data = ip_json("-d", "link", "show", "msrc", netns="host")[0]["linkinfo"]["info_data"]
        assert sorted(data["macaddr_data"]) == ["02:00:00:00:00:01", "02:00:00:00:00:02"]
        other = vnet.load_text(SOURCE_YAML.format(
            mode="source", extra="    macaddr: ['02:00:00:00:00:03']"))
        plan = other.plan()
        assert [a.verb for a in plan.actions] == ["change"]
        other.apply()
        data = ip_json("-d", "link", "show", "msrc", netns="host")[0]["linkinfo"]["info_data"]
        assert data["macaddr_data"] == ["02:00:00:00:00:03"]
        assert not other.plan().has_changes
        passthru = vnet.load_text(SOURCE_YAML.format(mode="passthru", extra=""))
        plan = passthru.plan()
        assert any(a.verb == "replace" and "passthru" in a.reason for a in plan.actions)
        passthru.apply()
        data = ip_json("-d", "link", "show", "msrc", netns="host")[0]["linkinfo"]["info_data"]
        assert data["mode"] == "passthru"
        assert not passthru.plan().has_changes
    finally:
        two.destroy()
    assert sh("ip", "netns", "list").strip() == ""


def test_parent_stays_where_vnet_runs() -> None:
    require_kind("macvlan")
    require_kind("veth")
    topo = vnet.load_text("""
name: mvroot
namespaces: [ctr1]
interfaces:
  - name: eth0
    kind: veth
    peer: {name: eth0-peer}
  - name: macv1
    kind: macvlan
    netns: ctr1
    link: eth0
    mode: bridge
    addresses: [192.0.2.21/24]
""")
    topo.apply()
    try:
        assert not topo.plan().has_changes
        link = ip_json("-d", "link", "show", "macv1", netns="ctr1")[0]
        assert link["linkinfo"]["info_kind"] == "macvlan"
        assert "link_netnsid" in link  # its parent is in another namespace
    finally:
        topo.destroy()
    assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]


def test_bcqueuelen_matches_ip_is_read_back_and_changes_in_place() -> None:
    require_kind("macvlan")
    require_kind("veth")
    from vnet import api
    from vnet.capture import capture_owned
    # macv1 asks for 64; macv2, on the same parent, for the default: the parent uses 1000
    yaml = EXAMPLE.replace("    mode: bridge\n", "    mode: bridge\n    bcqueuelen: 64\n", 1)
    cmds = [[*cmd, "bcqueuelen", "64"] if cmd[-1] == "bridge" and "macv1" in cmd else cmd
            for cmd in REFERENCE_CMDS]
    assert_matches_reference(yaml, cmds, ["host", "ns1", "ns2"], [
        ("ns1", "macv1"), ("ns2", "macv2"), ("host", "nic0"), ("host", "wire0")])

    topo = vnet.load_text(yaml)
    topo.apply()
    try:
        data = ip_json("-d", "link", "show", "macv1", netns="ns1")[0]["linkinfo"]["info_data"]
        assert (data["bcqueuelen"], data["usedbcqueuelen"]) == (64, 1000)
        kernel = api.open_kernel()
        try:
            entries = {e["name"]: e for e in capture_owned("macvlan-demo", kernel)["interfaces"]}
        finally:
            kernel.close()
        assert entries["macv1"]["bcqueuelen"] == 64  # read back in the file's words
        assert "bcqueuelen" not in entries["macv2"]  # the kernel's default is left out
        index = ip_json("link", "show", "macv1", netns="ns1")[0]["ifindex"]
        sh("ip", "link", "set", "macv1", "type", "macvlan", "bcqueuelen", "128", netns="ns1")
        plan = topo.plan()
        assert [(a.verb, a.diff) for a in plan.actions] == [("change",
                                                             {"bcqueuelen": (128, 64)})]
        topo.apply()
        link = ip_json("-d", "link", "show", "macv1", netns="ns1")[0]
        assert (link["ifindex"], link["linkinfo"]["info_data"]["bcqueuelen"]) == (index, 64)
        assert not topo.plan().has_changes
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""
