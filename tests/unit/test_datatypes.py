"""vnet.datatypes against the library it stands in for: every datatype of vnet, and
generated declarations of every shape it takes, behave as `dataclasses` makes them from the
same declaration (signature, repr, equality, hashing, frozen fields, slots, asdict,
replace, the errors of a bad declaration)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vnet
from vnet import datatypes
from vnet.datatypes import MISSING, FrozenInstanceError


def _all_datatypes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(vnet.__path__, "vnet."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        found += [v for v in vars(module).values()
                  if isinstance(v, type) and v.__module__ == info.name
                  and "__datatype_fields__" in v.__dict__]
    return found


ALL = _all_datatypes()


def _frozen(cls: type) -> bool:
    return cls.__setattr__ is datatypes._frozen_setattr  # type: ignore[comparison-overlap]


def _twin(cls: type) -> type:
    """The dataclass of `cls`'s declaration (its fields flattened, its __post_init__)."""
    specs = []
    for f in datatypes.fields(cls):
        kw: dict[str, Any] = {}
        if f.default is not MISSING:
            kw["default"] = f.default
        if f.default_factory is not MISSING:
            kw["default_factory"] = f.default_factory
        specs.append((f.name, f.type, dataclasses.field(init=f.init, repr=f.repr,
                                                         compare=f.compare, **kw)))
    # its other class attributes and methods come along (a __post_init__ may read them, and
    # may ask datatypes.fields for the fields)
    names = {f.name for f in datatypes.fields(cls)}
    namespace = {k: v for base in reversed(cls.__mro__[:-1]) for k, v in vars(base).items()
                 if k not in names and not (k.startswith("__") and k != "__post_init__")}
    namespace["__datatype_fields__"] = cls.__datatype_fields__  # type: ignore[attr-defined]
    return dataclasses.make_dataclass(cls.__qualname__, specs, frozen=_frozen(cls),
                                      namespace=namespace,
                                      slots="__slots__" in cls.__dict__)


def _signature(cls: type) -> list[tuple[str, Any, Any]]:
    """(name, kind, default) of `cls`'s __init__, a factory's default said as one word."""
    out = []
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:  # type: ignore[misc]
        default = p.default
        if default is MISSING or repr(default) == "<factory>":
            default = "factory"
        out.append((p.name, p.kind, default))
    return out


def test_vnet_declares_its_plain_classes_as_datatypes_not_dataclasses() -> None:
    assert len(ALL) >= 60
    for info in pkgutil.walk_packages(vnet.__path__, "vnet."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        assert not [k for k, v in vars(module).items() if isinstance(v, type)
                    and v.__module__ == info.name and dataclasses.is_dataclass(v)], info.name


def _hash_or_error(value: Any) -> Any:
    """The value's hash, or the error's type when a field of it cannot be hashed (a dict in
    a frozen class: unhashable with dataclasses too)."""
    try:
        return hash(value)
    except TypeError as err:
        return type(err)


def _make_both(cls: type, twin: type, args: dict[str, Any]) -> tuple[Any, Any] | None:
    """An instance of each from the same arguments; None when both refuse them alike."""
    try:
        theirs = twin(**args)
    except Exception as err:  # a __post_init__ that wants other values
        with pytest.raises(type(err)):
            cls(**args)
        return None
    return cls(**args), theirs


@pytest.mark.parametrize("cls", ALL, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_datatype_of_vnet_behaves_as_the_dataclass_of_its_declaration(cls: type) -> None:
    twin = _twin(cls)
    assert _signature(cls) == _signature(twin)
    assert cls.__match_args__ == twin.__match_args__  # type: ignore[attr-defined]
    assert (cls.__hash__ is None) == (twin.__hash__ is None)
    required = [f.name for f in datatypes.fields(cls) if f.init
                and f.default is MISSING and f.default_factory is MISSING]
    args = {name: f"v{i}" for i, name in enumerate(required)}
    both = _make_both(cls, twin, args)
    if both is None:
        return
    mine, theirs = both
    assert repr(mine) == repr(theirs)
    assert datatypes.asdict(mine) == dataclasses.asdict(theirs)
    again = cls(**args)
    assert mine == again and not mine != again
    assert mine != object()
    if cls.__hash__ is not None:
        assert _hash_or_error(mine) == _hash_or_error(theirs) == _hash_or_error(again)
    name = datatypes.fields(cls)[0].name
    for one in (mine, theirs):
        if _frozen(cls):
            with pytest.raises(AttributeError):
                setattr(one, name, "other")
    if required:
        changed = datatypes.replace(mine, **{required[0]: "w"})
        assert repr(changed) == repr(dataclasses.replace(theirs, **{required[0]: "w"}))


# -- generated declarations: every shape a datatype takes

_KINDS = ("required", "default", "factory", "no-init-default", "no-init-factory")


@st.composite
def declarations(draw: Any) -> tuple[str, list[tuple[str, str, bool, bool]]]:
    """Source of a class body's decorator arguments and fields: (name, kind, repr, compare)."""
    n = draw(st.integers(0, 6))
    fields_ = [(f"f{i}", draw(st.sampled_from(_KINDS)), draw(st.booleans()),
                draw(st.booleans())) for i in range(n)]
    frozen, slots = draw(st.booleans()), draw(st.booleans())
    return f"frozen={frozen}, slots={slots}", fields_


def _source(decorator: str, options: str, fields_: list[tuple[str, str, bool, bool]],
            post_init: bool) -> str:
    lines = [f"@{decorator}({options})", "class C:"]
    for name, kind, shown, compared in fields_:
        flags = f"repr={shown}, compare={compared}"
        lines.append({
            "required": f"    {name}: int = field({flags})",
            "default": f"    {name}: int = field(default=7, {flags})",
            "factory": f"    {name}: list = field(default_factory=list, {flags})",
            "no-init-default": f"    {name}: str = field(default='d', init=False, {flags})",
            "no-init-factory": f"    {name}: dict = field(default_factory=dict, init=False, "
                               f"{flags})",
        }[kind])
    if post_init:
        lines += ["    def __post_init__(self):", "        calls.append(self)"]
    if len(lines) == 2:
        lines.append("    pass")
    return "\n".join(lines) + "\n"


def _build(decorator: Any, field_: Any, source: str, calls: list[Any] | None = None) -> Any:
    env = {"datatype": decorator, "field": field_, "calls": [] if calls is None else calls}
    exec(source, env)  # noqa: S102 (the test's own generated declaration)
    return env["C"]


@settings(max_examples=300, deadline=None)
@given(declarations(), st.booleans(), st.data())
def test_a_generated_declaration_makes_the_same_class_as_dataclasses_does(
        declared: tuple[str, list[tuple[str, str, bool, bool]]], post_init: bool,
        data: st.DataObject) -> None:
    options, fields_ = declared
    frozen = "frozen=True" in options
    source = _source("datatype", options, fields_, post_init)
    try:
        theirs_cls = _build(dataclasses.dataclass, dataclasses.field, source)
    except (TypeError, ValueError) as err:  # e.g. a required field after a default one
        with pytest.raises(type(err)):
            _build(datatypes.datatype, datatypes.field, source)
        return
    mine_calls: list[Any] = []
    mine_cls = _build(datatypes.datatype, datatypes.field, source, mine_calls)
    assert _signature(mine_cls) == _signature(theirs_cls)
    assert mine_cls.__match_args__ == theirs_cls.__match_args__
    assert (mine_cls.__hash__ is None) == (theirs_cls.__hash__ is None)
    assert ("__slots__" in mine_cls.__dict__) == ("__slots__" in theirs_cls.__dict__)
    given_args = {name: data.draw(st.integers(0, 3)) for name, kind, _, _ in fields_
                  if kind == "required" or (kind in ("default", "factory")
                                            and data.draw(st.booleans()))}
    given_args = {k: ([v] if dict(f[:2] for f in fields_)[k] == "factory" else v)
                  for k, v in given_args.items()}
    mine, theirs = mine_cls(**given_args), theirs_cls(**given_args)
    assert repr(mine).replace(mine_cls.__qualname__, "C") == repr(theirs)
    assert datatypes.asdict(mine) == dataclasses.asdict(theirs)
    other_mine, other_theirs = mine_cls(**given_args), theirs_cls(**given_args)
    assert (mine == other_mine) == (theirs == other_theirs)
    if mine_cls.__hash__ is not None:
        assert _hash_or_error(mine) == _hash_or_error(theirs)
    assert hasattr(mine, "__dict__") == hasattr(theirs, "__dict__")
    assert mine_calls == ([mine, other_mine] if post_init else [])
    for one, error in ((mine, FrozenInstanceError), (theirs, dataclasses.FrozenInstanceError)):
        if frozen and fields_:
            with pytest.raises(error):
                setattr(one, fields_[0][0], 9)
            with pytest.raises(error):
                delattr(one, fields_[0][0])
    init_names = [name for name, kind, _, _ in fields_ if not kind.startswith("no-init")]
    if init_names:
        changes = {init_names[0]: [5] if dict(f[:2] for f in fields_)[init_names[0]]
                   == "factory" else 5}
        assert (datatypes.asdict(datatypes.replace(mine, **changes))
                == dataclasses.asdict(dataclasses.replace(theirs, **changes)))
    no_init = [name for name, kind, _, _ in fields_ if kind.startswith("no-init")]
    if no_init:
        with pytest.raises(ValueError):
            datatypes.replace(mine, **{no_init[0]: 1})
        with pytest.raises(ValueError):
            dataclasses.replace(theirs, **{no_init[0]: 1})


def test_a_mutable_default_is_refused_as_dataclasses_refuses_it() -> None:
    for decorator in (dataclasses.dataclass, datatypes.datatype):
        with pytest.raises(ValueError, match="mutable default"):
            decorator(type("C", (), {"__annotations__": {"x": "list"}, "x": []}))


_INHERITING = """
@datatype
class Base:
    a: int
    b: int = 1


@datatype
class C(Base):
    c: int = 2
"""


def test_inherited_fields_come_first_and_a_subclass_adds_its_own() -> None:
    mine = _build(datatypes.datatype, datatypes.field, _INHERITING)
    theirs = _build(dataclasses.dataclass, dataclasses.field, _INHERITING)
    assert _signature(mine) == _signature(theirs)
    assert repr(mine(0)) == repr(theirs(0)) == "C(a=0, b=1, c=2)"
    base = mine.__mro__[1]
    assert mine(0) != base(0) and theirs(0) != theirs.__mro__[1](0)  # another class


def test_asdict_turns_nested_datatypes_lists_and_dicts_and_copies_the_rest() -> None:
    @datatypes.datatype
    class Inner:
        x: int

    @datatypes.datatype
    class Outer:
        inner: Inner
        many: list = datatypes.field(default_factory=list)
        by: dict = datatypes.field(default_factory=dict)
        other: Any = None

    kept = {1, 2}
    out = datatypes.asdict(Outer(Inner(1), [Inner(2)], {"k": Inner(3)}, kept))
    assert out == {"inner": {"x": 1}, "many": [{"x": 2}], "by": {"k": {"x": 3}},
                   "other": {1, 2}}
    assert out["other"] is not kept
