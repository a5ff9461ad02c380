"""Every vlan option `ip link add type vlan help` prints on the real kernel (the kernel tier:
this machine has no 8021q): each set to a value other than the kernel's default on a vlan of a
bridge, read back from `ip -d -j link show` field by field, the five flags and both QoS maps
changed in place, id and protocol by re-creating the vlan (as the plan says), a second apply
plans nothing and destroy leaves nothing."""

from __future__ import annotations

from typing import Any

import pytest

import vnet

from .helpers import ip_json, require_kind, sh

pytestmark = pytest.mark.kind("vlan", "bridge", "veth")

TOPOLOGY = """
name: vlanopts
namespaces: [a]
interfaces:
  - {{name: br0, kind: bridge, netns: a}}
  - {{name: p1, kind: veth, netns: a, master: br0, peer: {{name: p1peer, netns: a}}}}
  - {{name: v, kind: vlan, netns: a, link: br0, {options}}}
"""
FLAGS = ("reorder_hdr", "gvrp", "mvrp", "loose_binding", "bridge_binding")
FIRST: dict[str, Any] = {"id": 0, "protocol": "802.1ad", "reorder_hdr": False, "gvrp": True,
                         "mvrp": True, "loose_binding": True, "bridge_binding": True,
                         "ingress_qos_map": ["1:2", "3:4"], "egress_qos_map": ["2:3"]}
#: every flag and map changed, id and protocol as they were (in place)
IN_PLACE: dict[str, Any] = {**FIRST, "reorder_hdr": True, "gvrp": False, "mvrp": False,
                            "loose_binding": False, "bridge_binding": False,
                            "ingress_qos_map": ["5:6"], "egress_qos_map": ["4:7"]}
#: id and protocol changed (the vlan is re-created)
RECREATED: dict[str, Any] = {**IN_PLACE, "id": 4094, "protocol": "802.1Q"}


def _text(options: dict[str, Any]) -> str:
    def word(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[" + ", ".join(f'"{v}"' for v in value) + "]"
        return str(value)
    return TOPOLOGY.format(options=", ".join(f"{k}: {word(v)}" for k, v in options.items()))


def _read_back(options: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """What the kernel holds that differs from `options`: option -> (declared, live)."""
    data = ip_json("-d", "link", "show", "v", netns="a")[0]["linkinfo"]["info_data"]
    flags = set(data.get("flags", []))
    live: dict[str, Any] = {"id": data["id"], "protocol": data["protocol"],
                            **{f: f.upper() in flags for f in FLAGS}}
    for option, key in (("ingress_qos_map", "ingress_qos"), ("egress_qos_map", "egress_qos")):
        live[option] = [f"{m['from']}:{m['to']}" for m in data.get(key, [])]
    return {k: (v, live[k]) for k, v in options.items() if live[k] != v}


def _index() -> int:
    return int(ip_json("link", "show", "v", netns="a")[0]["ifindex"])


def test_every_vlan_option_reads_back_changes_and_goes() -> None:
    require_kind("veth")
    require_kind("bridge")
    require_kind("vlan")
    topo = vnet.load_text(_text(FIRST))
    topo.apply()
    try:
        assert _read_back(FIRST) == {}
        assert not topo.plan().has_changes
        index = _index()

        in_place = vnet.load_text(_text(IN_PLACE))
        plan = in_place.plan()
        assert {a.verb for a in plan.actions} == {"change"}, \
            [f"{a.verb} {a.subject}" for a in plan.actions]
        changed = {k for a in plan.actions for k in a.diff}
        assert changed == {"flags", "ingress_qos_map", "egress_qos_map"}, changed
        in_place.apply()
        assert _read_back(IN_PLACE) == {}
        assert _index() == index
        assert not in_place.plan().has_changes

        recreated = vnet.load_text(_text(RECREATED))
        plan = recreated.plan()
        replaced = [a for a in plan.actions if a.verb == "replace"]
        assert replaced and {a.subject for a in replaced} == {"link a/v (vlan)"}
        assert "id, protocol cannot change in place" in replaced[0].reason
        recreated.apply()
        assert _read_back(RECREATED) == {}
        assert not recreated.plan().has_changes
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""
