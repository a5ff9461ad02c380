"""One plan or apply expands the topology's interfaces once (`Topology.ends_fixed`): a veth's
twin is made anew on each `endpoints()` call, which four calls a run showed in a no-op apply
of thousands of interfaces. Outside a run, `endpoints()` follows the topology's changes."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TOPO

import vnet
from vnet import api
from vnet.door.fake import FakeKernel
from vnet.kinds.veth import Veth

FILE = f"""
name: {TOPO}
namespaces: [a]
interfaces:
  - {{name: v0, kind: veth, netns: a, addresses: [192.0.2.1/24], peer: {{name: v1}}}}
"""


def _count_expansions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    expand = Veth.expand

    def counted(self: Any) -> Any:
        calls[0] += 1
        return expand(self)
    monkeypatch.setattr(Veth, "expand", counted)
    return calls


def test_a_no_op_plan_and_apply_expand_the_interfaces_once(
        fake: FakeKernel, monkeypatch: pytest.MonkeyPatch) -> None:
    topo = vnet.load_text(FILE)
    api.apply(topo, fake)
    calls = _count_expansions(monkeypatch)
    assert not api.plan(topo, fake).has_changes
    assert calls == [1]
    assert api.apply(topo, fake).actions == []
    assert calls == [2]


def test_outside_a_run_the_ends_follow_the_topology() -> None:
    topo = vnet.load_text(FILE)
    with topo.ends_fixed():
        first = topo.endpoints()
        first.clear()  # a caller's list: the next call is whole again
        assert [e.name for e in topo.endpoints()] == ["v0", "v1"]
        with topo.ends_fixed():  # nested: the same fixed ends
            assert [e.name for e in topo.endpoints()] == ["v0", "v1"]
        assert [e.name for e in topo.endpoints()] == ["v0", "v1"]
    topo.interfaces.append(topo.interfaces[0].model_copy(update={"name": "w0"}))
    assert [e.name for e in topo.endpoints()] == ["v0", "v1", "w0", "v1"]
