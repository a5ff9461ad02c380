"""Generic link attributes without a kernel: validation (types, ranges, spelling), encoding
and decoding of the netlink messages, and plans against the fake kernel (create, nothing the
second time, an in-place change, a re-creation for a queue count)."""

from __future__ import annotations

from typing import Any

import pytest

import vnet
from vnet.door import rtnl
from vnet.door.fake import FakeKernel
from vnet.door.link_attrs import attr_bytes, read_link_attrs, setlink_attrs
from vnet.door.protocol import Scope
from vnet.errors import TopologyError
from vnet.features.link_attrs import IFF_NOARP, IFF_PROMISC, LINK_ATTRS
from vnet.plan import plan_changes

BASE = """
name: la
namespaces: [h1]
interfaces:
  - name: v1
    kind: veth
    netns: h1
{attrs}
    peer: {{name: v2, netns: h1}}
"""


def _text(**attrs: Any) -> str:
    lines = "\n".join(f"    {k}: {v}" for k, v in attrs.items())
    return BASE.format(attrs=lines)


@pytest.mark.parametrize(("attr", "value", "words"), [
    ("txqueuelen", -1, "greater than or equal to 0"),
    ("numtxqueues", 0, "greater than or equal to 1"),
    ("numrxqueues", 5000, "less than or equal to 4096"),
    ("gso_max_size", 70000, "less than or equal to 65536"),
    ("promisc", "maybe", "valid boolean"),
    ("addrgenmode", "eui48", "eui64"),
    ("alias", "''", "at least 1 character"),
])
def test_bad_values_are_errors_at_their_place(attr: str, value: Any, words: str) -> None:
    with pytest.raises(TopologyError) as err:
        vnet.load_text(_text(**{attr: value}))
    text = str(err.value)
    assert f"interfaces[0].{attr}" in text and words in text, text


def test_a_misspelt_attribute_gets_did_you_mean() -> None:
    with pytest.raises(TopologyError, match="did you mean 'txqueuelen'"):
        vnet.load_text(_text(txqueuelen_=5).replace("txqueuelen_", "txqueulen"))


def test_encoding_and_decoding_agree() -> None:
    attrs = {"txqueuelen": 42, "alias": "up", "gso_max_segs": 9, "addrgenmode": "none",
             "promisc": True, "arp": False, "multicast": True}
    kind, flags, body = setlink_attrs(7, attrs)
    assert kind == rtnl.RTM_SETLINK and flags == 0
    message = rtnl._HDR.pack(rtnl._HDR.size + len(body), kind, 0, 0, 0) + body
    _, _, index, iff, change = rtnl._IFI.unpack_from(body, 0)
    assert index == 7 and iff & IFF_PROMISC and iff & IFF_NOARP
    assert change & IFF_PROMISC and change & IFF_NOARP
    back = read_link_attrs(message, iff)
    assert {k: back[k] for k in attrs} == attrs
    assert attr_bytes({"promisc": True}) == b""  # a flag travels in the ifinfomsg


def _plan(fake: FakeKernel, text: str) -> Any:
    return plan_changes(vnet.load_text(text), fake.observe(Scope([None, "h1"])))


def _applied(fake: FakeKernel, text: str) -> None:
    fake.send([r for a in _plan(fake, text).actions for r in a.do])


def test_plans_on_the_fake_kernel() -> None:
    fake = FakeKernel()
    text = _text(txqueuelen=42, numtxqueues=4, promisc="true", alias="a-link")
    create = [a for a in _plan(fake, text).actions if a.do[0].op == "link.add"]
    assert create[0].do[0].args["attrs"] == {"txqueuelen": 42, "numtxqueues": 4,
                                             "promisc": True, "alias": "a-link"}
    _applied(fake, text)
    assert _plan(fake, text).actions == []
    # a value the kernel already has (its default) is no change either
    assert _plan(fake, _text(txqueuelen=42, numtxqueues=4, promisc="true", alias="a-link",
                             arp="true")).actions == []
    changed = _plan(fake, _text(txqueuelen=43, numtxqueues=4, promisc="true", alias="a-link"))
    assert [(a.verb, a.subject, a.diff) for a in changed.actions] == [
        ("change", "link h1/v1 (veth)", {"txqueuelen": (42, 43)})]
    assert changed.actions[0].undo[0].args["attrs"] == {"txqueuelen": 42}
    replaced = _plan(fake, _text(txqueuelen=42, numtxqueues=2, promisc="true", alias="a-link"))
    verbs = {a.verb for a in replaced.actions}
    assert "replace" in verbs
    assert any("numtxqueues cannot change in place" in a.reason for a in replaced.actions)


def test_every_attribute_has_a_field_and_a_description() -> None:
    from vnet.kinds.base import Common
    for name in LINK_ATTRS:
        assert Common.model_fields[name].description, name


def test_sysctls_validated_planned_after_creation_and_compared() -> None:
    with pytest.raises(TopologyError, match=r"interfaces\[0\].rp_filter.*less than or "
                                            "equal to 2"):
        vnet.load_text(_text(rp_filter=3))
    with pytest.raises(TopologyError, match="has IPv6 addresses but ipv6: false"):
        vnet.load_text(_text(ipv6="false", addresses="['2001:db8::1/64']"))
    fake = FakeKernel()
    text = _text(forwarding="true", ipv6="false", accept_ra=1)
    plan = _plan(fake, text)
    ops = [r.op for a in plan.actions for r in a.do]
    assert ops.index("sysctl.set") > ops.index("link.add")
    sysctl = next(a for a in plan.actions if a.do[0].op == "sysctl.set")
    assert {r.args["path"]: r.args["value"] for r in sysctl.do} == {
        "net/ipv4/conf/v1/forwarding": "1", "net/ipv6/conf/v1/forwarding": "1",
        "net/ipv6/conf/v1/disable_ipv6": "1", "net/ipv6/conf/v1/accept_ra": "1"}
    fake.send([r for a in plan.actions for r in a.do])
    assert _plan(fake, text).actions == []
    changed = _plan(fake, _text(forwarding="false", ipv6="false", accept_ra=1))
    assert [(a.subject, a.diff) for a in changed.actions] == [
        ("sysctls of h1/v1", {"forwarding": (True, False)})]
    assert {r.args["value"] for r in changed.actions[0].undo} == {"1"}


ROUTER = """
name: rt
namespaces: [{name: r1, forwarding: true}, h1]
interfaces:
  - {name: v1, kind: veth, netns: r1, peer: {name: v2, netns: h1}}
"""


def test_a_router_namespace_forwards_ipv4_and_ipv6() -> None:
    topo = vnet.load_text(ROUTER)
    assert topo.namespaces == ["r1", "h1"]
    assert topo.namespace_options == {"r1": {"forwarding": True}}
    with pytest.raises(TopologyError, match="namespaces"):
        vnet.load_text(ROUTER.replace("forwarding: true", "forwarding: maybe"))
    fake = FakeKernel()
    plan = plan_changes(topo, fake.observe(Scope([None, "r1", "h1"])))
    fwd = next(a for a in plan.actions if a.subject == "forwarding in namespace r1")
    assert {r.args["path"]: r.args["value"] for r in fwd.do} == {
        "net/ipv4/ip_forward": "1", "net/ipv6/conf/all/forwarding": "1"}
    fake.send([r for a in plan.actions for r in a.do])
    assert plan_changes(topo, fake.observe(Scope([None, "r1", "h1"]))).actions == []
    off = vnet.load_text(ROUTER.replace("forwarding: true", "forwarding: false"))
    changed = plan_changes(off, fake.observe(Scope([None, "r1", "h1"])))
    assert [(a.subject, a.diff) for a in changed.actions] == [
        ("forwarding in namespace r1", {"forwarding": (True, False)})]


@pytest.mark.parametrize("target", ["ip", "networkd", "netplan"])
def test_exports_list_what_they_do_not_write_yet(target: str) -> None:
    from vnet.export import export
    topo = vnet.load_text(_text(txqueuelen=5, rp_filter=1))
    paths = {e.path for e in export(topo, target, _options(target)).left_out}
    assert {"interfaces[0].txqueuelen", "interfaces[0].rp_filter"} <= paths


def _options(target: str) -> Any:
    from vnet.export import Options
    return Options(netns="h1") if target != "ip" else Options()
