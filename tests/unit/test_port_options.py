"""Port options without a kernel: validation against the master's kind, with positions;
encoding and decoding; plans on the fake kernel (set after joining, nothing the second time,
a change in place)."""

from __future__ import annotations

import struct
from typing import Any

import pytest

import vnet
from vnet.door import rtnl
from vnet.door.fake import FakeKernel
from vnet.door.port_options import read_port_options, set_port_options
from vnet.door.protocol import Scope
from vnet.errors import TopologyError
from vnet.plan import plan_changes

FILE = """
name: po
namespaces: [h1]
interfaces:
  - {{name: m0, kind: {master}, netns: h1}}
  - name: p0
    kind: veth
    netns: h1
    {master_line}
    port_options: {{{options}}}
    peer: {{name: p1, netns: h1}}
"""


def _text(master: str = "bridge", options: str = "cost: 7", master_line: str = "master: m0"
          ) -> str:
    return FILE.format(master=master, options=options, master_line=master_line)


def test_a_bridge_port_option_on_a_bond_port_names_the_master() -> None:
    with pytest.raises(TopologyError) as err:
        vnet.load_text(_text("bond", "hairpin: true"))
    text = str(err.value)
    assert "interfaces[1].port_options.hairpin" in text
    assert "port option hairpin is a bridge-port option, but master 'm0' is a bond" in text
    assert "prio, queue_id are bond-port options" in text


def test_bond_port_options_on_a_bridge_port_and_bridge_ones_on_a_team_port_fail() -> None:
    with pytest.raises(TopologyError, match="queue_id is a bond-port or team-port option, "
                                            "but master 'm0' is a bridge"):
        vnet.load_text(_text("bridge", "queue_id: 1"))
    with pytest.raises(TopologyError, match="cost is a bridge-port option, but master 'm0' "
                                            "is a team"):
        vnet.load_text(_text("team", "cost: 1"))


def test_port_options_need_a_master_and_are_range_checked() -> None:
    with pytest.raises(TopologyError, match="port_options need a master"):
        vnet.load_text(_text(master_line=""))
    with pytest.raises(TopologyError, match=r"port_options.priority.*less than or equal "
                                            "to 63"):
        vnet.load_text(_text(options="priority: 64"))
    with pytest.raises(TopologyError, match="did you mean 'hairpin'"):
        vnet.load_text(_text(options="hairpn: true"))


def test_encoding_and_decoding_agree() -> None:
    options = {"cost": 7, "priority": 5, "hairpin": True, "learning": False,
               "mcast_router": 2}
    kind, flags, body = set_port_options(9, "bridge", options)
    assert (kind, flags) == (rtnl.RTM_NEWLINK, 0)
    message = rtnl._HDR.pack(rtnl._HDR.size + len(body), kind, 0, 0, 0) + body
    assert read_port_options(message) == options
    bond_body = set_port_options(9, "bond", {"prio": -5})[2]
    bond = rtnl._HDR.pack(rtnl._HDR.size + len(bond_body), kind, 0, 0, 0) + bond_body
    assert read_port_options(bond) == {"prio": -5}
    assert struct.pack("=i", -5) in bond_body


def _plan(fake: FakeKernel, text: str) -> Any:
    return plan_changes(vnet.load_text(text), fake.observe(Scope([None, "h1"])))


def test_plans_on_the_fake_kernel() -> None:
    fake = FakeKernel()
    text = _text(options="cost: 7, hairpin: true")
    plan = _plan(fake, text)
    ops = [r.op for a in plan.actions for r in a.do]
    assert ops.index("link.port_options") > ops.index("link.master")
    port = next(a for a in plan.actions if a.do[0].op == "link.port_options")
    assert (port.verb, port.subject) == ("create", "port options of h1/p0 on bridge m0")
    fake.send([r for a in plan.actions for r in a.do])
    assert _plan(fake, text).actions == []
    changed = _plan(fake, _text(options="cost: 8, hairpin: true"))
    assert [(a.verb, a.diff) for a in changed.actions] == [("change", {"cost": (7, 8)})]
    assert changed.actions[0].undo[0].args["options"] == {"cost": 7}
