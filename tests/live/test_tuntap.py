"""tun/tap: vnet's devices equal `ip tuntap add`'s; persistent, owned as declared, enslaved to
a bridge; a second plan is empty; destroy leaves nothing."""

from __future__ import annotations

import json
import pwd

import pytest

import vnet

from .helpers import require_kind, sh
from .reference import assert_matches_reference

TAP_YAML = """
name: tapref
namespaces: [vmhost]
interfaces:
  - {name: br0, kind: bridge, netns: vmhost, addresses: [198.51.100.1/24]}
  - {name: tap1, kind: tap, netns: vmhost, user: 1000, multi_queue: true, master: br0}
  - {name: tap2, kind: tap, netns: vmhost, user: root, group: root, vnet_hdr: true,
     master: br0}
"""

TAP_CMDS = [
    ["ip", "-n", "vmhost", "link", "add", "br0", "type", "bridge"],
    ["ip", "-n", "vmhost", "tuntap", "add", "dev", "tap1", "mode", "tap", "user", "1000",
     "multi_queue"],
    ["ip", "-n", "vmhost", "tuntap", "add", "dev", "tap2", "mode", "tap", "user", "0", "group",
     "0", "vnet_hdr"],
    ["ip", "-n", "vmhost", "link", "set", "tap1", "master", "br0"],
    ["ip", "-n", "vmhost", "link", "set", "tap2", "master", "br0"],
    ["ip", "-n", "vmhost", "addr", "add", "198.51.100.1/24", "dev", "br0"],
    ["ip", "-n", "vmhost", "link", "set", "br0", "up"],
    ["ip", "-n", "vmhost", "link", "set", "tap1", "up"],
    ["ip", "-n", "vmhost", "link", "set", "tap2", "up"],
]


def _user_name(uid: int) -> str:
    """How `ip -d` shows an owner: its user name when there is one, else the number."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _link(netns: str | None, name: str) -> dict:
    ns = ["-n", netns] if netns else []
    return json.loads(sh("ip", *ns, "-j", "-d", "link", "show", "dev", name))[0]


@pytest.mark.kind("tap", "bridge")
def test_taps_match_ip_tuntap() -> None:
    require_kind("tap")
    assert_matches_reference(TAP_YAML, TAP_CMDS, ["vmhost"],
                             [("vmhost", "br0"), ("vmhost", "tap1"), ("vmhost", "tap2")])


@pytest.mark.kind("tap", "bridge")
def test_taps_are_persistent_owned_and_enslaved() -> None:
    require_kind("tap")
    topo = vnet.load_text(TAP_YAML)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        tap1, tap2 = _link("vmhost", "tap1"), _link("vmhost", "tap2")
        for tap in (tap1, tap2):
            data = tap["linkinfo"]["info_data"]
            assert tap["linkinfo"]["info_kind"] == "tun" and data["type"] == "tap"
            assert data["persist"] is True and data["pi"] is False
            assert tap["master"] == "br0"
        assert tap1["linkinfo"]["info_data"]["multi_queue"] is True
        assert str(tap1["linkinfo"]["info_data"]["user"]) == _user_name(1000)
        assert tap2["linkinfo"]["info_data"]["user"] == "root"
        assert tap2["linkinfo"]["info_data"]["group"] == "root"
        assert tap2["linkinfo"]["info_data"]["vnet_hdr"] is True
        # multi_queue cannot change on a live device: the plan re-creates it
        changed = vnet.load_text(TAP_YAML.replace("multi_queue: true", "multi_queue: false"))
        assert [(a.verb, a.subject) for a in changed.plan().actions
                if a.verb == "replace" and "link" in a.subject][-1] == \
            ("replace", "link vmhost/tap1 (tap)")
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list") == ""


@pytest.mark.kind("tun")
def test_tun_is_made_and_removed() -> None:
    require_kind("tun")
    topo = vnet.load_text("name: tuns\ninterfaces:\n  - {name: tun0, kind: tun, pi: true}\n")
    topo.apply()
    try:
        assert not topo.plan().has_changes
        data = _link(None, "tun0")["linkinfo"]["info_data"]
        assert data["type"] == "tun" and data["pi"] is True and data["persist"] is True
    finally:
        topo.destroy()
    assert [link["ifname"] for link in json.loads(sh("ip", "-j", "link", "show"))] == ["lo"]
