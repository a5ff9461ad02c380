"""dummy, nlmon and vcan without a kernel: no kind options (an unknown one is an error at its
position), a plan that is empty after apply on the fake kernel, ip commands as each kind file's
docstring spells them. One test body per property, run for each of the three kinds."""

from __future__ import annotations

import pytest

import vnet
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import Position, TopologyError
from vnet.kinds import REGISTRY
from vnet.kinds.base import InterfaceBase
from vnet.kinds.dummy import Dummy
from vnet.kinds.nlmon import Nlmon
from vnet.kinds.vcan import Vcan

KINDS = pytest.mark.parametrize(("kind", "cls", "ifname"), [
    ("dummy", Dummy, "dummy1"), ("nlmon", Nlmon, "nlmon0"), ("vcan", Vcan, "vcan1")])


def _yaml(kind: str, ifname: str) -> str:
    return f"""\
name: t
namespaces: [ns1]
interfaces:
  - name: {ifname}
    kind: {kind}
    netns: ns1
    addresses: [198.51.100.1/24]
"""


@KINDS
def test_registered_and_no_longer_listed_as_missing(kind: str, cls: type[InterfaceBase],
                                                    ifname: str) -> None:
    assert REGISTRY[kind] is cls
    assert cls.kind_name == kind
    assert cls.options_map == {}
    assert len(cls.use_when.splitlines()) == 2


@KINDS
def test_an_option_it_does_not_have_is_reported_at_its_position(
        kind: str, cls: type[InterfaceBase], ifname: str) -> None:
    with pytest.raises(TopologyError) as info:
        vnet.load_text(_yaml(kind, ifname) + "    mode: l2\n", "t.yaml")
    [issue] = info.value.issues
    assert isinstance(issue.where, Position)
    assert str(issue).startswith("t.yaml:8:5: interfaces[0].mode: unknown field 'mode'")


@KINDS
def test_round_trip_on_the_fake_kernel(kind: str, cls: type[InterfaceBase], ifname: str) -> None:
    from vnet.plan import plan_changes
    fake = FakeKernel()
    topo = vnet.load_text(_yaml(kind, ifname))
    plan = plan_changes(topo, fake.observe(Scope([None, "ns1"])))
    add = next(r for a in plan.actions for r in a.do if r.op == "link.add")
    assert (add.netns, add.args["ifname"], add.args["kind"], add.args["info_data"]) == (
        "ns1", ifname, kind, {})
    fake.send([r for a in plan.actions for r in a.do])
    assert plan_changes(topo, fake.observe(Scope([None, "ns1"]))).actions == []


@KINDS
def test_ip_commands_match_the_reference(kind: str, cls: type[InterfaceBase],
                                         ifname: str) -> None:
    iface = cls.model_validate({"kind": kind, "name": ifname})
    word = "dev" if kind == "vcan" else "name"  # vcan.py: `ip link add dev vcan1 type vcan`
    assert iface.ip_commands() == [["ip", "link", "add", word, ifname, "type", kind]]
    there = cls.model_validate({"kind": kind, "name": ifname, "netns": "ns1"})
    assert f"netns ns1 type {kind}" in " ".join(there.ip_commands()[0])
