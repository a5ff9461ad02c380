"""vcan without a kernel: no kind options (an unknown one is an error at its position), a plan
that is empty after apply on the fake kernel, ip commands as KINDS.md spells them."""

from __future__ import annotations

import pytest

import vnet
from vnet.backend.fake import FakeKernel
from vnet.errors import Position, TopologyError
from vnet.kinds import NOT_IMPLEMENTED, REGISTRY
from vnet.kinds.vcan import Vcan
from vnet.plan import plan_changes

YAML = """\
name: t
namespaces: [ns1]
interfaces:
  - name: vcan1
    kind: vcan
    netns: ns1
    addresses: [198.51.100.1/24]
"""


def test_registered_and_no_longer_listed_as_missing() -> None:
    assert REGISTRY["vcan"] is Vcan
    assert "vcan" not in NOT_IMPLEMENTED
    assert Vcan.options_map == {}
    assert len(Vcan.use_when.splitlines()) == 2


def test_an_option_it_does_not_have_is_reported_at_its_position() -> None:
    with pytest.raises(TopologyError) as info:
        vnet.load_text(YAML + "    mode: l2\n", "t.yaml")
    [issue] = info.value.issues
    assert isinstance(issue.where, Position)
    assert str(issue).startswith("t.yaml:8:5: interfaces[0].mode: unknown field 'mode'")


def test_round_trip_on_the_fake_kernel() -> None:
    fake = FakeKernel()
    topo = vnet.load_text(YAML)
    plan = plan_changes(topo, fake.observe([None, "ns1"]))
    add = next(r for a in plan.actions for r in a.do if r.op == "link.add")
    assert (add.netns, add.args["ifname"], add.args["kind"], add.args["info_data"]) == (
        "ns1", "vcan1", "vcan", {})
    fake.send([r for a in plan.actions for r in a.do])
    assert plan_changes(topo, fake.observe([None, "ns1"])).actions == []


def test_ip_commands_match_the_reference() -> None:
    iface = Vcan.model_validate({"kind": "vcan", "name": "vcan1"})
    assert iface.ip_commands() == [["ip", "link", "add", "dev", "vcan1", "type", "vcan"]]
    there = Vcan.model_validate({"kind": "vcan", "name": "vcan1", "netns": "ns1"})
    assert "netns ns1 type vcan" in " ".join(there.ip_commands()[0])
