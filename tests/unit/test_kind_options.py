"""`vnet kinds KIND`: every option of a kind with its type and range, default, and whether a
change is made in place or re-creates the link, read from the kind's own declarations."""

from __future__ import annotations

import json

import pytest

from vnet import cli, kinds
from vnet.features.link_attrs import LINK_ATTRS
from vnet.kind_options import option_rows


@pytest.mark.parametrize("kind", sorted(c.kind_name for c in kinds.ordered()))
def test_every_field_of_every_kind_is_listed_with_its_change(kind: str) -> None:
    cls = kinds.lookup(kind)
    rows = {r.name: r for r in option_rows(cls)}
    assert {f.alias or n for n, f in cls.model_fields.items()} - {"kind"} <= set(rows)
    for option, spec in cls.options_map.items():
        if option in rows:
            assert rows[option].change == ("replace" if spec.replace else "in place"), option
    for name, spec in LINK_ATTRS.items():
        assert rows[name].change == ("replace" if spec.create_only else "in place")
        assert rows[name].where == "link"


def test_vxlan_rows_say_type_range_default_and_change() -> None:
    rows = {r.name: r for r in option_rows(kinds.lookup("vxlan"))}
    assert rows["id"].type == "integer 0-16777215"
    assert rows["id"].change == "replace"
    assert rows["name"].default == "required"
    assert rows["numtxqueues"].change == "replace"


def test_a_master_lists_what_its_ports_take() -> None:
    bond = {r.name: r for r in option_rows(kinds.lookup("bond"))}
    assert {n for n, r in bond.items() if r.where == "port"} == {
        "port_options.queue_id", "port_options.prio"}
    assert not [r for r in option_rows(kinds.lookup("veth")) if r.where == "port"]


def test_cli_lists_one_kind_as_json_and_refuses_an_unknown_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kinds", "bridge", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "bridge"
    names = {o["name"]: o for o in data["options"]}
    assert names["stp_state"]["change"] == "in place"
    assert names["port_options.hairpin"]["where"] == "port"
    assert cli.main(["kinds", "brige"]) == 1
    assert "did you mean 'bridge'" in capsys.readouterr().err


def test_a_field_is_listed_as_the_file_spells_it() -> None:
    rows = {r.name: r for r in option_rows(kinds.lookup("macsec"))}
    assert "validate" in rows and "validate_" not in rows
    assert rows["validate"].type == "one of: strict, check, disabled"
