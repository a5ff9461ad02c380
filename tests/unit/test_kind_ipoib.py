"""ipoib without InfiniBand: validation (mode, pkey range and full-membership bit, parent),
netlink encoding and decoding, ip commands, and the plan-time refusal naming a missing or
non-InfiniBand parent."""

from __future__ import annotations

import textwrap

import pytest

import vnet
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import ConflictError, Position, TopologyError
from vnet.kinds.ipoib import ARPHRD_INFINIBAND, Ipoib
from vnet.plan import plan_changes

HEAD = """\
name: ib
interfaces:
  - {name: ib0, external: true}
"""
BODY = """\
- name: ib0.8001
  kind: ipoib
  link: ib0
  mode: connected
  pkey: 0x8001
  umcast: true
"""


def load(body: str = BODY) -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "), "ib.yaml")


def issues_of(body: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        load(body)
    for issue in info.value.issues:
        assert isinstance(issue.where, Position) and issue.where.file == "ib.yaml", issue
    return [str(i) for i in info.value.issues]


def make(**options: object) -> Ipoib:
    return Ipoib.model_validate({"kind": "ipoib", "name": "ib0.8001", "link": "ib0", **options})


def test_options_encode() -> None:
    iface = load().interfaces[0]
    assert iface.info_data() == {"IFLA_IPOIB_MODE": 1, "IFLA_IPOIB_PKEY": 0x8001,
                                 "IFLA_IPOIB_UMCAST": 1}


@pytest.mark.parametrize("written,kept", [(1, 0x8001), ("0x0001", 0x8001), ("0x7fff", 0xFFFF),
                                          (0x8001, 0x8001), ("32770", 0x8002)])
def test_pkey_gets_the_full_membership_bit_as_the_kernel_sets_it(written: object,
                                                                 kept: int) -> None:
    assert make(pkey=written).pkey == kept


@pytest.mark.parametrize("bad", [0, 0x8000, 0x10000, -1, "ab", True])
def test_pkey_out_of_range(bad: object) -> None:
    [issue] = issues_of(BODY.replace("pkey: 0x8001", f"pkey: {bad!r}" if isinstance(bad, str)
                                     else f"pkey: {str(bad).lower()}"))
    assert "interfaces[1].pkey" in issue and "pkey" in issue


def test_pkey_zero_message() -> None:
    [issue] = issues_of(BODY.replace("0x8001", "0x8000"))
    assert "0x8000 is out of range: the partition is 0x0001-0x7fff" in issue
    assert "ib.yaml:8:" in issue


def test_mode_names() -> None:
    [issue] = issues_of(BODY.replace("mode: connected", "mode: reliable"))
    assert "interfaces[1].mode" in issue and "datagram" in issue and "connected" in issue


def test_kernel_values_decode() -> None:
    decoded = Ipoib.decode_info_data({"IFLA_IPOIB_MODE": "connected", "IFLA_IPOIB_PKEY": 0x8001,
                                      "IFLA_IPOIB_UMCAST": 1})
    assert decoded == {"mode": "connected", "pkey": 0x8001, "umcast": True}
    assert Ipoib.decode_info_data({"IFLA_IPOIB_MODE": 0})["mode"] == "datagram"
    assert Ipoib.needs_replace("pkey") and not Ipoib.needs_replace("mode")


def test_ip_commands() -> None:
    iface = make(netns="lab", mode="connected", pkey=0x8001, umcast=True)
    assert iface.ip_commands() == [[
        "ip", "-n", "lab", "link", "add", "link", "ib0", "name", "ib0.8001", "type", "ipoib",
        "mode", "connected", "pkey", "0x8001", "umcast", "1"]]


def test_ip_commands_plain() -> None:
    assert make(mode="datagram", pkey=2).ip_commands() == [[
        "ip", "link", "add", "link", "ib0", "name", "ib0.8001", "type", "ipoib", "mode",
        "datagram", "pkey", "0x8002"]]


def test_parent_made_by_vnet_is_refused() -> None:
    text = "\n".join(issues_of("""\
        - name: v0
          kind: veth
          peer: {name: v1}
        - name: ib0.8001
          kind: ipoib
          link: v0
        """))
    assert "interfaces[2].link: the parent 'v0' is a veth that vnet creates" in text
    assert "external: true" in text


def test_parent_must_be_declared() -> None:
    text = "\n".join(issues_of(BODY.replace("link: ib0", "link: ib9")))
    assert "parent link 'ib9' is not an interface of this topology" in text


def _plan(kernel: FakeKernel) -> None:
    topo = load()
    plan_changes(topo, kernel.observe(Scope([None])))


def test_plan_refuses_a_missing_parent() -> None:
    with pytest.raises(ConflictError) as info:
        _plan(FakeKernel())
    text = str(info.value)
    assert ("the InfiniBand parent 'ib0' of ipoib 'ib0.8001' does not exist in the namespace "
            "vnet runs in") in text
    assert "ib0.8001: " in text


def test_plan_refuses_a_parent_that_is_not_infiniband() -> None:
    kernel = FakeKernel()
    kernel.add_link(None, "ib0", kind="veth", link_type=1)
    with pytest.raises(ConflictError) as info:
        _plan(kernel)
    assert ("the parent 'ib0' of ipoib 'ib0.8001' is not an InfiniBand device: it is veth with "
            "hardware type Ethernet") in str(info.value)


def test_plan_accepts_an_infiniband_parent() -> None:
    kernel = FakeKernel()
    kernel.add_link(None, "ib0", kind="ipoib", link_type=ARPHRD_INFINIBAND)
    topo = load()
    plan = plan_changes(topo, kernel.observe(Scope([None])))
    assert ("create", "link ib0.8001 (ipoib)") in [(a.verb, a.subject) for a in plan.actions]
