"""The JSON Schema `vnet schema` prints: a valid Draft 2020-12 schema that every example file
satisfies (new examples are covered by the glob), and that refuses what the loader refuses
where a schema can say so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

jsonschema = pytest.importorskip("jsonschema")

import vnet  # noqa: E402
from vnet import kinds  # noqa: E402
from vnet.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return vnet.json_schema()


def test_cli_prints_the_schema_as_json(capsys: pytest.CaptureFixture[str],
                                       schema: dict[str, Any]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(schema))


def test_schema_is_valid_draft_2020_12(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert set(schema["properties"]) >= {"name", "namespaces", "interfaces", "routes"}


def test_every_implemented_kind_is_in_the_schema(schema: dict[str, Any]) -> None:
    kinds_in_schema = {
        d["properties"]["kind"].get("const")
        for d in schema["$defs"].values() if "kind" in d.get("properties", {})}
    assert set(kinds.registry()) <= kinds_in_schema


def test_there_are_examples() -> None:
    assert EXAMPLES, "examples/*.yaml is empty"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates_against_the_schema(path: Path, schema: dict[str, Any]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_loads(path: Path) -> None:
    topo = vnet.load_file(path)
    assert topo.name
    assert topo.interfaces or topo.namespaces


@pytest.mark.parametrize("data", [
    {"namespaces": ["a"]},  # no name
    {"name": "my.lab"},  # bad name
    {"name": "lab", "interfacs": []},  # unknown top-level field
    {"name": "lab", "interfaces": [{"name": "br0", "kind": "brige"}]},  # unknown kind
    {"name": "lab", "interfaces": [{"name": "br0", "kind": "bridge", "mtu": "large"}]},
    {"name": "lab", "interfaces": [{"name": "br0", "kind": "bridge", "mtu": 70000}]},
    {"name": "lab", "interfaces": [{"name": "br0", "kind": "bridge", "stp": True}]},
    {"name": "lab", "interfaces": [{"name": "e0", "external": False}]},
    {"name": "lab", "routes": [{"to": "default", "gw": "192.0.2.1"}]},
])
def test_schema_refuses_what_the_loader_refuses(data: dict[str, Any],
                                                schema: dict[str, Any]) -> None:
    assert not jsonschema.Draft202012Validator(schema).is_valid(data)
    with pytest.raises(vnet.TopologyError):
        vnet.load_data(data)
