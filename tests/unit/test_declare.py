"""vnet.declare: the lean validator agrees with pydantic (each model's twin) on everything it
takes, and a model behaves as a pydantic model does where vnet uses one."""

from __future__ import annotations

import subprocess
import sys
import typing
from typing import Annotated, Any, Literal

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vnet import declare
from vnet.declare import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
    twin,
)
from vnet.kinds import registry


def _even(value: int) -> int:
    if value % 2:
        raise ValueError(f"{value} is odd")
    return value


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(1, ge=1, le=10)


class Sample(BaseModel):
    """A model with one of each thing vnet's models use."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    _note: str = PrivateAttr(default="")

    name: str = Field(pattern=r"^[a-z]+$")
    count: Annotated[int, AfterValidator(_even)] | None = None
    mode: Literal["a", "b"] = "a"
    ratio: float = 1.0
    tags: list[str] = Field(default_factory=list)
    inner: Inner | None = None
    secret: SecretStr | None = None
    source: str | None = Field(None, alias="from")

    @field_validator("tags")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [t.lower() for t in value]

    @model_validator(mode="after")
    def _b_needs_count(self) -> Sample:
        if self.mode == "b" and self.count is None:
            raise ValueError("mode b needs a count")
        return self


@pytest.fixture(autouse=True)
def _oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(declare, "ORACLE", True)


def test_defaults_fields_set_and_order_are_pydantics() -> None:
    data = {"name": "x", "tags": ["A"], "inner": {"size": 3}, "from": "here"}
    lean = Sample.model_validate(data)
    theirs = twin(Sample).model_validate(data)
    assert lean.model_fields_set == theirs.model_fields_set == {"name", "tags", "inner",
                                                                "source"}
    assert list(lean.__dict__) == list(theirs.__dict__)
    assert lean.tags == ["a"] and lean.inner.size == 3 and lean.source == "here"
    assert lean.ratio == 1.0 and lean.mode == "a" and lean._note == ""
    assert lean.model_dump() == {**theirs.model_dump(), "inner": {"size": 3}}
    assert lean.model_dump(by_alias=True, exclude_none=True) == \
        theirs.model_dump(by_alias=True, exclude_none=True)
    assert lean.model_dump(exclude_unset=True, exclude={"tags"}) == \
        theirs.model_dump(exclude_unset=True, exclude={"tags"})
    # a factory's list is made for each model: none is shared
    assert Sample(name="y").tags is not Sample(name="z").tags


@pytest.mark.parametrize(("data", "words"), [
    ({"name": "x", "bogus": 1}, "Extra inputs are not permitted"),
    ({"name": "X1"}, "String should match pattern"),
    ({"name": "x", "count": 3}, "3 is odd"),
    ({"name": "x", "mode": "b"}, "mode b needs a count"),
    ({"name": "x", "inner": {"size": 11}}, "less than or equal to 10"),
    ({}, "Field required"),
])
def test_an_error_is_pydantics_own(data: dict[str, Any], words: str) -> None:
    with pytest.raises(pydantic.ValidationError) as lean:
        Sample.model_validate(data)
    with pytest.raises(pydantic.ValidationError) as theirs:
        twin(Sample).model_validate(data)
    assert words in str(lean.value)
    assert lean.value.errors(include_context=False) == \
        theirs.value.errors(include_context=False)


def test_an_except_clause_of_validation_errors_catches_the_twins_error_and_nothing_else(
        ) -> None:
    caught = None
    try:
        Sample.model_validate({"name": "x", "inner": {"size": 11}})
    except declare.validation_errors() as exc:
        caught = exc
    assert isinstance(caught, pydantic.ValidationError)
    with pytest.raises(ValueError, match="not a validation error"):
        try:
            raise ValueError("not a validation error")
        except declare.validation_errors():
            pass
    # before pydantic is imported there is nothing to catch: the clause names no class
    probe = ("import sys; from vnet.declare import validation_errors; "
             "print(validation_errors(), 'pydantic_core' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout.split()
    assert out == ["()", "False"]


def test_input_pydantic_converts_is_taken_as_pydantic_converts_it() -> None:
    lean = Sample.model_validate({"name": "x", "count": "4", "ratio": 2, "secret": "k"})
    assert lean.count == 4 and lean.ratio == 2.0 and type(lean.ratio) is float
    assert isinstance(lean.secret, SecretStr) and lean.secret.get_secret_value() == "k"
    assert isinstance(lean, Sample) and lean.model_fields_set == {"name", "count", "ratio",
                                                                  "secret"}


def test_a_secret_never_shows() -> None:
    lean = Sample(name="x", secret="hunter2")
    assert "hunter2" not in repr(lean) and "hunter2" not in str(lean.secret)
    assert "hunter2" not in lean.model_dump_json()
    assert lean.secret == SecretStr("hunter2") and lean.secret != SecretStr("other")


def test_copy_assignment_private_values_and_equality() -> None:
    one = Sample(name="x", tags=["a"])
    two = one.model_copy(update={"count": 2})
    assert two.count == 2 and "count" in two.model_fields_set and one.count is None
    assert two.tags is one.tags  # a shallow copy, as pydantic's
    assert one.model_copy(deep=True).tags is not one.tags
    one._note = "kept"
    assert one._note == "kept" and "_note" not in one.__dict__
    assert one != Sample(name="x", tags=["a"])  # the private value differs, as in pydantic
    one.mode = "b"
    assert one.mode == "b" and "mode" in one.model_fields_set
    with pytest.raises(ValueError, match="has no field"):
        one.nope = 1
    assert Sample(name="x") == Sample(name="x")


def test_a_model_declared_with_pydantics_field_is_refused() -> None:
    with pytest.raises(TypeError, match="vnet.declare"):
        class Wrong(BaseModel):
            name: str = pydantic.Field("x")


def test_a_field_validator_taking_info_gets_the_field_name_and_the_fields_before(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(declare, "ORACLE", False)  # each validator once
    seen: list[tuple[str, dict[str, Any]]] = []

    class Noted(BaseModel):
        first: int = 0
        second: int = 0

        @field_validator("second")
        @classmethod
        def _note(cls, value: int, info: Any) -> int:
            seen.append((info.field_name, dict(info.data)))
            return value

    Noted.model_validate({"second": 2, "first": 1})
    twin(Noted).model_validate({"second": 2, "first": 1})
    assert seen == [("second", {"first": 1})] * 2


# ---- every kind: the lean validator against pydantic on generated entries ---------------------
_POOL: list[Any] = [None, True, False, 0, 1, 2, 7, 68, 1500, 4094, 4095, 65536, -1, 1.5, "1",
                    "up", "down", "auto", "inherit", "eth0", "x", "10.0.0.1/24", "10.0.0.1",
                    "2001:db8::1/64", "02:00:00:00:00:01", "40ms", "10mbit", "2%", "100-110",
                    "1:2", [], ["1:2"], ["10.0.0.2/24"], [1, 2], {}, {"name": "p1"},
                    {"vid": 10}, {"delay": "10ms"}, {"bogus": 1}]


def _literals(annotation: Any) -> list[Any]:
    """The values a Literal anywhere in `annotation` allows (so generated entries are often
    valid, not only wrong)."""
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    return [v for arg in typing.get_args(annotation) for v in _literals(arg)]


@st.composite
def _entry(draw: st.DrawFn) -> tuple[type[Any], dict[str, Any]]:
    kinds = sorted(registry().values(), key=lambda cls: cls.kind_name)
    cls = draw(st.sampled_from(kinds))
    fields = cls.model_fields
    data: dict[str, Any] = {"kind": cls.kind_name, "name": "e0"}
    names = sorted(n for n in fields if n not in ("kind", "name"))
    for name in draw(st.lists(st.sampled_from(names), max_size=6, unique=True)):
        key = fields[name].alias or name
        data[key] = draw(st.sampled_from(_literals(fields[name].annotation) + _POOL))
    return cls, data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_entry())
def test_every_kind_validates_as_pydantic_does(entry: tuple[type[Any], dict[str, Any]]) -> None:
    # with the oracle on, whatever the lean validator takes is validated by the twin too and
    # must come out the same; what it leaves, the twin decides: an error or a model
    cls, data = entry
    try:
        made = cls.model_validate(data)
    except pydantic.ValidationError:
        return
    assert isinstance(made, cls) and made.name == "e0"


def test_every_example_and_every_kinds_probe_entry_take_the_lean_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # what a valid file says is validated without pydantic: no entry of the examples, and no
    # kind's throwaway link, is left to the twin
    from pathlib import Path

    from vnet.kinds.base import PROBE_NAME
    from vnet.loader import load_file
    left: list[str] = []
    lean = declare._lean_validate

    def spy(cls: Any, data: dict[str, Any]) -> Any:
        try:
            return lean(cls, data)
        except Exception:
            left.append(f"{cls.__name__}: {data}")
            raise
    monkeypatch.setattr(declare, "_lean_validate", spy)
    for cls in registry().values():
        cls.model_validate({"kind": cls.kind_name, "name": PROBE_NAME, **cls.probe})
    examples = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))
    assert len(examples) > 10
    for path in examples:
        load_file(path)
    assert left == []
