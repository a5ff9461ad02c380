"""tun/tap without a kernel: kind matching by IFLA_TUN_TYPE, decode, the ioctl request,
replace on change, validation, ip commands."""

from __future__ import annotations

import pytest

import vnet
from vnet import ownership
from vnet.errors import TopologyError
from vnet.kinds.tuntap import Tap, Tun
from vnet.observe import LinkState, NetnsState, Observed
from vnet.plan import plan_changes

TAP_DATA = {"IFLA_TUN_TYPE": 2, "IFLA_TUN_OWNER": 1000, "IFLA_TUN_PI": 0,
            "IFLA_TUN_VNET_HDR": 0, "IFLA_TUN_PERSIST": 1, "IFLA_TUN_MULTI_QUEUE": 1,
            "IFLA_TUN_NUM_QUEUES": 0, "IFLA_TUN_NUM_DISABLED_QUEUES": 0}
YAML = """\
name: taps
interfaces:
  - {name: tap1, kind: tap, user: 1000, multi_queue: true}
"""


def test_kernel_kind_tun_is_told_apart_by_tun_type() -> None:
    assert Tap.matches_kernel("tun", TAP_DATA)
    assert not Tun.matches_kernel("tun", TAP_DATA)
    assert Tun.matches_kernel("tun", {**TAP_DATA, "IFLA_TUN_TYPE": 1})
    assert not Tap.matches_kernel("tap", TAP_DATA)


def test_decode_gives_the_files_spelling() -> None:
    assert Tap.decode_info_data(TAP_DATA) == {"user": 1000, "multi_queue": True,
                                              "vnet_hdr": False, "pi": False, "persist": True}


def test_create_request_is_the_ioctl_with_no_pi_by_default() -> None:
    tap = Tap.model_validate({"kind": "tap", "name": "tap1", "user": "root", "group": 0,
                              "vnet_hdr": True})
    assert tap.create_request() == {"kind": "tun", "info_data": {}, "tuntap": {
        "mode": "tap", "uid": 0, "gid": 0,
        "ifr": {"no_pi": 1, "vnet_hdr": 1, "multi_queue": 0}}}
    tun = Tun.model_validate({"kind": "tun", "name": "tun0", "pi": True})
    assert tun.create_request()["tuntap"] == {
        "mode": "tun", "ifr": {"no_pi": 0, "vnet_hdr": 0, "multi_queue": 0}}


def _observed(data: dict) -> Observed:
    lo = LinkState(1, "lo", None, altnames=[])
    tap = LinkState(2, "tap1", "tun", info_data=data, up=True,
                    altnames=[ownership.link_marker("taps", "tap1")])
    return Observed(namespaces={None: NetnsState(None, links={"lo": lo, "tap1": tap})})


def test_plan_after_apply_is_empty_and_a_change_replaces() -> None:
    topo = vnet.load_text(YAML)
    assert plan_changes(topo, _observed(TAP_DATA)).actions == []
    plan = plan_changes(topo, _observed({**TAP_DATA, "IFLA_TUN_MULTI_QUEUE": 0}))
    verbs = [(a.verb, a.subject) for a in plan.actions]
    assert ("replace", "link tap1 (tap)") in verbs
    assert any("multi_queue cannot change in place" in a.reason for a in plan.actions)
    # a tun where a tap is declared, or a non-persistent device, is re-created as well
    assert any(a.verb == "replace" for a in
               plan_changes(topo, _observed({**TAP_DATA, "IFLA_TUN_TYPE": 1})).actions)
    assert any(a.verb == "replace" for a in
               plan_changes(topo, _observed({**TAP_DATA, "IFLA_TUN_PERSIST": 0})).actions)


def test_unknown_user_is_an_error_at_its_position() -> None:
    with pytest.raises(TopologyError) as info:
        vnet.load_text("name: t\ninterfaces:\n  - {name: tap1, kind: tap, "
                       "user: no-such-user-here}\n", "t.yaml")
    assert [str(i) for i in info.value.issues] == [
        "t.yaml:3:35: interfaces[0].user: no user 'no-such-user-here' on this machine "
        "(fix: use a uid or an existing user name)"]


def test_ip_commands_match_ip_tuntap() -> None:
    tap = vnet.load_text(YAML).interfaces[0]
    assert tap.ip_commands() == [["ip", "tuntap", "add", "dev", "tap1", "mode", "tap", "user",
                                  "1000", "multi_queue"]]
    tun = Tun.model_validate({"kind": "tun", "name": "tun0", "netns": "n1", "group": "root",
                              "vnet_hdr": True, "pi": True})
    assert tun.ip_commands() == [["ip", "-n", "n1", "tuntap", "add", "dev", "tun0", "mode",
                                  "tun", "group", "root", "pi", "vnet_hdr"]]
