"""ipoib without InfiniBand hardware (both tiers): applying an ipoib whose parent is missing,
or whose parent is a veth (not InfiniBand), fails at plan time with an error naming the parent
and leaves the kernel exactly as it was."""

from __future__ import annotations

import pytest

import vnet
from vnet.errors import ConflictError

from .helpers import require_kind, sh
from .reference import kernel_snapshot

pytestmark = pytest.mark.kind("ipoib")

TOPOLOGY = """
name: ibtest
namespaces: [ib1]
interfaces:
  - name: {parent}
    external: true
  - name: ib0.8001
    kind: ipoib
    link: {parent}
    mode: connected
    pkey: 0x8001
    addresses: [192.0.2.10/24]
  - name: side0
    kind: veth
    netns: ib1
    peer: {{name: side1, netns: ib1}}
"""


def _refused(parent: str) -> str:
    before = kernel_snapshot()
    topo = vnet.load_text(TOPOLOGY.format(parent=parent))
    with pytest.raises(ConflictError) as info:
        topo.apply()
    assert kernel_snapshot() == before, "a refused apply changed the kernel"
    return str(info.value)


def test_missing_infiniband_parent_is_refused_before_anything_changes() -> None:
    require_kind("veth")
    text = _refused("ib0")
    assert "the InfiniBand parent 'ib0' of ipoib 'ib0.8001' does not exist" in text
    assert "external interface ib0 does not exist" in text


def test_a_veth_parent_is_refused_as_not_infiniband() -> None:
    require_kind("veth")
    sh("ip", "link", "add", "fakeib0", "type", "veth", "peer", "name", "fakeib1")
    text = _refused("fakeib0")
    assert "the parent 'fakeib0' of ipoib 'ib0.8001' is not an InfiniBand device" in text
    assert "hardware type Ethernet" in text
