"""A tunnel's `ttl` as ip writes it (`ttl 1..255|auto|inherit`), for vxlan and geneve, without a
kernel: the spellings taken and refused (with "did you mean"), the attributes each one sends,
what the kernel's answer reads back as (the door's own reading of vxlan's TTL_INHERIT byte,
which pyroute2 takes for a flag), in place or replace, capture and the exporters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import vnet
from vnet.door import rtnl
from vnet.door.decode import decode_link
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import TopologyError
from vnet.export import export
from vnet.kinds.geneve import Geneve
from vnet.kinds.vxlan import TTL_INHERIT_KEY, Vxlan
from vnet.observe import LinkState
from vnet.plan import plan_changes

BASE = {"vxlan": {"id": 5, "remote": "192.0.2.2"}, "geneve": {"id": 5, "remote": "192.0.2.2"}}


def entry(kind: str, **options: Any) -> dict[str, Any]:
    return {"name": "t0", "kind": kind, **BASE[kind], **options}


def load(kind: str, **options: Any) -> vnet.Topology:
    return vnet.load_data({"name": "ttl", "interfaces": [entry(kind, **options)]})


def error_of(kind: str, ttl: Any) -> str:
    with pytest.raises(TopologyError) as info:
        load(kind, ttl=ttl)
    return str(info.value)


@pytest.mark.parametrize("kind", ["vxlan", "geneve"])
@pytest.mark.parametrize(("written", "kept"), [
    (0, "auto"), ("auto", "auto"), ("inherit", "inherit"), (1, 1), (255, 255), ("64", 64)])
def test_ip_s_spellings_are_taken(kind: str, written: Any, kept: Any) -> None:
    assert load(kind, ttl=written).interfaces[0].ttl == kept


@pytest.mark.parametrize("kind", ["vxlan", "geneve"])
@pytest.mark.parametrize(("written", "words"), [
    (256, "ttl 256 is none of 1-255, auto"), (-1, "ttl -1 is none of 1-255"),
    ("inherti", "did you mean 'inherit'?"), ("aut", "did you mean 'auto'?"),
    (True, "ttl True is none of"), (1.5, "ttl 1.5 is none of"),
    ("often", "or inherit (the inner packet's TTL)")])
def test_other_values_are_refused_in_one_sentence(kind: str, written: Any, words: str) -> None:
    text = error_of(kind, written)
    assert "interfaces[0].ttl" in text and words in text, text
    assert len(text.splitlines()) == 1, text


# ---- vxlan --------------------------------------------------------------------------------
def test_vxlan_sends_inherit_as_its_flag_and_auto_as_0() -> None:
    def data(ttl: Any) -> dict[str, Any]:
        return load("vxlan", ttl=ttl).interfaces[0].info_data()
    assert data("inherit")["IFLA_VXLAN_TTL_INHERIT"] is True
    assert "IFLA_VXLAN_TTL" not in data("inherit")
    assert data("auto")["IFLA_VXLAN_TTL"] == 0 and "IFLA_VXLAN_TTL_INHERIT" not in data("auto")
    assert data(7)["IFLA_VXLAN_TTL"] == 7
    assert load("vxlan", ttl="inherit").interfaces[0].ip_type_args() == [
        "id", "5", "remote", "192.0.2.2", "ttl", "inherit"]
    assert load("vxlan", ttl=0).interfaces[0].ip_type_args()[-2:] == ["ttl", "auto"]


@pytest.mark.parametrize(("attrs", "ttl"), [
    ({"IFLA_VXLAN_TTL": 0, "IFLA_VXLAN_TTL_INHERIT": 0}, "auto"),
    ({"IFLA_VXLAN_TTL": 0, "IFLA_VXLAN_TTL_INHERIT": 1}, "inherit"),
    ({"IFLA_VXLAN_TTL": 9, "IFLA_VXLAN_TTL_INHERIT": 0}, 9),
    ({"IFLA_VXLAN_TTL": 9}, 9)])
def test_vxlan_reads_back_in_the_files_words(attrs: dict[str, Any], ttl: Any) -> None:
    data = Vxlan.decode_info_data(attrs)
    assert (data["ttl"], data[TTL_INHERIT_KEY]) == (ttl, ttl == "inherit")


def _vxlan_message(inherit: int) -> bytes:
    """What the kernel sends for a vxlan: TTL and TTL_INHERIT (number 28) as bytes."""
    data = rtnl.attr(1, (5).to_bytes(4, "little")) + rtnl.attr(5, b"\x07") + \
        rtnl.attr(28, bytes([inherit]))
    _, _, body = rtnl.newlink("vx0", "vxlan", info_data=data)
    return rtnl._HDR.pack(16 + len(body), rtnl.RTM_NEWLINK, 0, 0, 0) + body


@pytest.mark.parametrize("inherit", [0, 1])
def test_the_door_reads_vxlans_ttl_inherit_byte_itself(inherit: int) -> None:
    # pyroute2 0.9.7 takes IFLA_VXLAN_TTL_INHERIT for a flag: on whenever present, and the
    # kernel always sends it
    link = decode_link(rtnl.full_link(_vxlan_message(inherit)))
    assert link.info_data["IFLA_VXLAN_TTL_INHERIT"] == inherit
    assert Vxlan.decode_info_data(link.info_data)["ttl"] == ("inherit" if inherit else 7)


def _plan(fake: FakeKernel, topo: vnet.Topology) -> Any:
    return plan_changes(topo, fake.observe(Scope([None])))


def test_vxlan_ttl_changes_in_place_but_to_or_from_inherit() -> None:
    fake = FakeKernel()
    first = load("vxlan", ttl=5)
    fake.send([r for a in _plan(fake, first).actions for r in a.do])
    assert _plan(fake, first).actions == []
    plan = _plan(fake, load("vxlan", ttl="auto"))
    assert [(a.verb, a.diff) for a in plan.actions] == [("change", {"ttl": (5, "auto")})]
    assert plan.actions[0].do[0].args["info_data"] == {"IFLA_VXLAN_TTL": 0}
    plan = _plan(fake, load("vxlan", ttl="inherit"))
    assert plan.actions[0].verb == "replace", plan.actions
    assert "ttl (to or from inherit) cannot change in place" in plan.actions[0].reason
    assert "change" not in {a.verb for a in plan.actions}
    fake.send([r for a in plan.actions for r in a.do])
    assert _plan(fake, load("vxlan", ttl="inherit")).actions == []
    assert _plan(fake, load("vxlan", ttl=5)).actions[0].verb == "replace"


def test_vxlan_capture_leaves_auto_out_and_writes_inherit() -> None:
    live = LinkState(index=2, name="t0", kind="vxlan", info_data={
        "IFLA_VXLAN_ID": 5, "IFLA_VXLAN_TTL": 0, "IFLA_VXLAN_TTL_INHERIT": 0})
    assert "ttl" not in Vxlan.capture_fields(live, None)
    live.info_data["IFLA_VXLAN_TTL_INHERIT"] = 1
    assert Vxlan.capture_fields(live, None)["ttl"] == "inherit"


# ---- geneve -------------------------------------------------------------------------------
def test_geneve_sends_one_attribute_for_each_spelling() -> None:
    def data(ttl: Any) -> dict[str, Any]:
        return load("geneve", ttl=ttl).interfaces[0].info_data()
    assert data("inherit")["IFLA_GENEVE_TTL_INHERIT"] == 1 and "IFLA_GENEVE_TTL" not in \
        data("inherit")
    assert data("auto")["IFLA_GENEVE_TTL"] == 0 and "IFLA_GENEVE_TTL_INHERIT" not in \
        data("auto")
    assert data(200)["IFLA_GENEVE_TTL"] == 200
    assert load("geneve", ttl="inherit").interfaces[0].ip_type_args() == [
        "id", "5", "remote", "192.0.2.2", "ttl", "inherit"]


@pytest.mark.parametrize(("live", "want", "sent", "undone"), [
    ({"IFLA_GENEVE_TTL": 5, "IFLA_GENEVE_TTL_INHERIT": 0}, "inherit",
     {"IFLA_GENEVE_TTL_INHERIT": 1}, {"IFLA_GENEVE_TTL": 5}),
    # the kernel reads TTL only without TTL_INHERIT, and then clears inherit
    ({"IFLA_GENEVE_TTL": 0, "IFLA_GENEVE_TTL_INHERIT": 1}, 7, {"IFLA_GENEVE_TTL": 7},
     {"IFLA_GENEVE_TTL_INHERIT": 1}),
    ({"IFLA_GENEVE_TTL": 9, "IFLA_GENEVE_TTL_INHERIT": 0}, "auto", {"IFLA_GENEVE_TTL": 0},
     {"IFLA_GENEVE_TTL": 9}),
])
def test_geneve_ttl_changes_in_place_inherit_too(live: dict[str, Any], want: Any,
                                                 sent: dict[str, Any],
                                                 undone: dict[str, Any]) -> None:
    link = LinkState(index=2, name="t0", kind="geneve",
                     info_data={"IFLA_GENEVE_ID": 5, **live})
    [action] = load("geneve", ttl=want).interfaces[0].plan_extras(None, link)
    assert action.verb == "change" and action.diff["ttl"][1] == want
    assert (action.do[0].args["info_data"], action.undo[0].args["info_data"]) == (sent, undone)
    same = Geneve.decode_info_data(link.info_data)["ttl"]
    assert load("geneve", ttl=same).interfaces[0].plan_extras(None, link) == []


def test_geneve_ttl_change_is_one_change_on_the_fake_kernel() -> None:
    fake = FakeKernel()
    first = load("geneve", ttl=5, tos=8)
    fake.send([r for a in _plan(fake, first).actions for r in a.do])
    assert _plan(fake, first).actions == []
    plan = _plan(fake, load("geneve", ttl="inherit", tos=8))
    assert [(a.verb, a.diff) for a in plan.actions] == [("change", {"ttl": (5, "inherit")})]


def test_geneve_with_collect_metadata_takes_auto_but_no_other_ttl() -> None:
    vnet.load_data({"name": "m", "interfaces": [
        {"name": "g0", "kind": "geneve", "collect_metadata": True, "ttl": "auto"}]})
    with pytest.raises(TopologyError, match="refuses ttl on a collect_metadata"):
        vnet.load_data({"name": "m", "interfaces": [
            {"name": "g0", "kind": "geneve", "collect_metadata": True, "ttl": "inherit"}]})


# ---- exporters ------------------------------------------------------------------------------
def _exported(tmp_path: Path, kind: str, ttl: Any, target: str) -> Any:
    path = tmp_path / "tunnel.yaml"
    path.write_text(f"name: tunnel\ninterfaces:\n  - {{name: t0, kind: {kind}, id: 5, "
                    f"remote: 192.0.2.2, ttl: {ttl}}}\n")
    return export(vnet.load_file(path), target)


@pytest.mark.parametrize("kind", ["vxlan", "geneve"])
@pytest.mark.parametrize(("ttl", "line"), [("auto", "TTL=0"), ("inherit", "TTL=inherit"),
                                            (9, "TTL=9")])
def test_networkd_writes_auto_as_0(tmp_path: Path, kind: str, ttl: Any, line: str) -> None:
    out = _exported(tmp_path, kind, ttl, "networkd")
    assert line in out.files["10-t0.netdev"].splitlines(), out.files


def test_netplan_writes_a_number_leaves_auto_to_the_kernel_and_inherit_out(
        tmp_path: Path) -> None:
    assert "ttl: 9" in _exported(tmp_path, "vxlan", 9, "netplan").files["vnet.yaml"]
    auto = _exported(tmp_path, "vxlan", "auto", "netplan")
    assert "ttl" not in auto.files["vnet.yaml"] and auto.left_out == []
    inherit = _exported(tmp_path, "vxlan", "inherit", "netplan")
    assert "ttl" not in inherit.files["vnet.yaml"]
    assert "no TTL inherited" in inherit.left_out[0].why
    assert [e.path for e in inherit.left_out] == ["interfaces[0].ttl"]
