"""vxcan without a kernel: a pair like veth (peer carried in VXCAN_INFO_PEER), validation with
positions, a plan that is empty after apply on the fake kernel, ip commands."""

from __future__ import annotations

import pytest

import vnet
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import Position, TopologyError
from vnet.kinds import REGISTRY
from vnet.kinds.veth import Paired, Veth
from vnet.kinds.vxcan import Vxcan
from vnet.plan import plan_changes

YAML = """\
name: t
namespaces: [net1, net2]
interfaces:
  - name: vxcan1
    kind: vxcan
    netns: net1
    peer: {name: vxcan2, netns: net2}
"""
SPACES = [None, "net1", "net2"]


def issues_of(text: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        vnet.load_text(text, "t.yaml")
    for issue in info.value.issues:
        assert isinstance(issue.where, Position), issue
    return [str(i) for i in info.value.issues]


def test_registered_as_a_pair_like_veth() -> None:
    assert REGISTRY["vxcan"] is Vxcan and Vxcan.paired and Veth.paired
    assert issubclass(Vxcan, Paired) and issubclass(Veth, Paired)
    assert len(Vxcan.use_when.splitlines()) == 2
    # pyroute2 knows VETH_INFO_PEER only: the layout that carries the peer is declared
    assert Vxcan.info_nla[1] == ("VXCAN_INFO_PEER", "peer")


def test_expands_to_two_vxcan_ends() -> None:
    topo = vnet.load_text(YAML)
    ends = [(e.kind_name, e.netns, e.name, e.created_by) for e in topo.endpoints()]
    assert ends == [("vxcan", "net1", "vxcan1", None),
                    ("vxcan", "net2", "vxcan2", ("net1", "vxcan1"))]


def test_one_request_makes_both_ends_then_plan_is_empty() -> None:
    fake = FakeKernel()
    topo = vnet.load_text(YAML)
    plan = plan_changes(topo, fake.observe(Scope(SPACES)))
    [add] = [r for a in plan.actions for r in a.do if r.op == "link.add"]
    assert (add.netns, add.args["kind"]) == ("net1", "vxcan")
    assert {k: add.args["peer"][k] for k in ("ifname", "netns", "nla")} == {
        "ifname": "vxcan2", "netns": "net2", "nla": "VXCAN_INFO_PEER"}
    assert add.args["peer"]["marker"] == "vnet.t.vxcan2"
    fake.send([r for a in plan.actions for r in a.do])
    assert plan_changes(topo, fake.observe(Scope(SPACES))).actions == []


def test_veth_names_its_own_peer_attribute() -> None:
    veth = Veth.model_validate({"kind": "veth", "name": "a", "peer": {"name": "b"}})
    assert veth.create_request()["peer"]["nla"] == "VETH_INFO_PEER"


def test_a_vxcan_without_peer_is_reported_at_its_position() -> None:
    got = issues_of("name: t\ninterfaces:\n  - {name: vxcan1, kind: vxcan}\n")
    assert any(line.startswith("t.yaml:3:5: interfaces[0].peer: a vxcan needs its other end")
               for line in got), got


def test_an_option_it_does_not_have_is_reported_at_its_position() -> None:
    got = issues_of(YAML.replace("netns: net2}", "netns: net2, id: 3}"))
    assert any(":7:" in line and "unknown field 'id'" in line for line in got), got


def test_ip_commands_match_the_reference() -> None:
    [cmd] = vnet.load_text(YAML).interfaces[0].ip_commands()
    assert cmd == ["ip", "link", "add", "vxcan1", "netns", "net1", "type", "vxcan", "peer",
                   "name", "vxcan2", "netns", "net2"]
