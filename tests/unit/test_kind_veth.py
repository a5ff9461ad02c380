"""veth's other end: `expand` builds it as a copy of a blank end (not model_construct, which
cost a tenth of loading a 10k-interface file); it must be exactly what model_construct gives."""

from __future__ import annotations

import pytest

import vnet
from vnet.kinds.veth import Paired

YAML = """\
name: t
namespaces: [a]
interfaces:
  - {name: v0, kind: veth, addresses: [192.0.2.1/24], peer: {name: v1, netns: a, mtu: 1400,
     addresses: [192.0.2.2/24], mac: "02:00:00:00:00:01", state: down}}
  - {name: w0, kind: veth, peer: {name: w1}}
  - {name: x0, kind: vxcan, peer: {name: x1}}
"""


@pytest.mark.parametrize("index", [0, 1, 2])
def test_twin_equals_model_construct_of_the_peers_values(index: int) -> None:
    iface = vnet.load_text(YAML).interfaces[index]
    assert isinstance(iface, Paired) and iface.peer is not None
    _, twin = iface.expand()
    values = {f: getattr(iface.peer, f) for f in iface.peer.model_fields_set}
    reference = type(iface).model_construct({"kind", *values}, kind=iface.kind_name, **values)
    assert type(twin) is type(iface)
    assert list(twin.__dict__.items()) == list(reference.__dict__.items())
    assert twin.model_fields_set == reference.model_fields_set
    assert twin.model_dump() == reference.model_dump()
    assert twin.__pydantic_extra__ == reference.__pydantic_extra__
    assert twin.__pydantic_private__ is not None and reference.__pydantic_private__ is not None
    assert twin.__pydantic_private__.keys() == reference.__pydantic_private__.keys()
    assert twin.created_by == iface.key and twin.key == (iface.peer.netns, iface.peer.name)


def test_twins_share_no_mutable_default() -> None:
    topo = vnet.load_text(YAML)
    twins = [end for end in topo.endpoints() if end.created_by is not None]
    assert twins[1].addresses == twins[2].addresses == []
    assert twins[1].addresses is not twins[2].addresses
    twins[1].addresses.append("198.51.100.1/24")
    assert twins[2].addresses == []
    # the blank template itself stays blank
    again = vnet.load_text(YAML)
    assert [e.addresses for e in again.endpoints() if e.created_by is not None][1] == []
