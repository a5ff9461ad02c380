"""Datatypes: plain classes of fields, declared as `dataclasses` declares them, made without it.

vnet's own plain classes (an observed link, an action, a plan, the record of what a topology
owns, a row of `vnet show`) are declared with `@datatype` and `field(...)` exactly as with
`@dataclass` and `dataclasses.field(...)`: annotated fields in order, defaults, default
factories, `init`/`repr`/`compare` per field, `frozen=True`, `slots=True`, `__post_init__`,
inheritance. The made class behaves as the dataclass would: the same `__init__` signature,
`__repr__`, `__eq__`, `__hash__` (frozen ones hash their compared fields; mutable ones do
not hash), frozen attributes refused with an AttributeError (`FrozenInstanceError`).
`fields`, `asdict` and `replace` are this module's, as `dataclasses` has them.

Why not `dataclasses`: importing it imports `inspect` (and `ast`, `dis`, `tokenize`), and
making one class compiles four or five generated methods, one `exec` each: 17 ms of import
alone and 0.6 ms a class on these machines; 21 ms of a `vnet destroy` of 500 links (whose
kernel work is 55) and 34 of a no-op apply (docs/performance-notes.md, "Plain classes
without dataclasses"). Here a class costs
one small `exec` (its `__init__`, which the hot datatypes make by the ten thousand and which
must stay as fast as the dataclass's); `__repr__`, `__eq__` and `__hash__` are shared
functions reading the class's field names. tests/unit/test_datatypes.py holds every datatype
of vnet to the dataclass made from the same declaration.
"""

from __future__ import annotations

from operator import attrgetter

#: typing.TYPE_CHECKING without importing `typing` (errors.py says why)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, dataclass_transform
else:
    def dataclass_transform(**_: object) -> object:
        return lambda f: f


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: no default (as dataclasses.MISSING)
MISSING: Any = _Missing()


class FrozenInstanceError(AttributeError):
    """An attribute of a frozen datatype was set or deleted (as dataclasses' error of the name)."""


class Field:
    """One field of a datatype: its name, annotation (the text, as written), default or
    default factory, and whether `__init__`, `__repr__` and `__eq__` take it."""

    __slots__ = ("name", "type", "default", "default_factory", "init", "repr", "compare")

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING,
                 init: bool = True, repr: bool = True,  # noqa: A002 (dataclasses' name)
                 compare: bool = True) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare

    def __repr__(self) -> str:
        return (f"Field(name={self.name!r}, type={self.type!r}, default={self.default!r}, "
                f"default_factory={self.default_factory!r}, init={self.init}, "
                f"repr={self.repr}, compare={self.compare})")


def field(*, default: Any = MISSING, default_factory: Any = MISSING, init: bool = True,
          repr: bool = True, compare: bool = True) -> Any:  # noqa: A002
    """A field's default factory or per-field settings, as `dataclasses.field`."""
    return Field(default, default_factory, init, repr, compare)


@dataclass_transform(field_specifiers=(field, Field))
def datatype(cls: Any = None, /, *, frozen: bool = False, slots: bool = False) -> Any:
    """Make `cls` a datatype, as `@dataclass` / `@dataclass(frozen=True, slots=True)` would."""
    def wrap(cls: type) -> type:
        return _make(cls, frozen, slots)
    return wrap if cls is None else wrap(cls)


def _own_fields(cls: type) -> list[Field]:
    """The fields `cls` declares itself, in order (ClassVar annotations are not fields); the
    class attributes holding defaults are set as dataclasses leaves them."""
    out = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        if text.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        f.name, f.type = name, annotation
        if f.default is not MISSING and type(f.default).__hash__ is None:
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not "
                             "allowed: use default_factory")
        if isinstance(value, Field):
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        out.append(f)
    return out


def _make(cls: Any, frozen: bool, slots: bool) -> Any:
    fields_: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        fields_.update(getattr(base, "__datatype_fields__", {}))
    for f in _own_fields(cls):
        fields_[f.name] = f
    if slots:
        cls = _with_slots(cls, tuple(fields_))
    cls.__datatype_fields__ = fields_
    cls.__datatype_repr__ = tuple(n for n, f in fields_.items() if f.repr)
    cls.__datatype_key__ = staticmethod(_key(tuple(n for n, f in fields_.items() if f.compare)))
    own = cls.__dict__
    if "__init__" not in own:
        cls.__init__ = _init(cls, fields_, frozen)
    if "__repr__" not in own:
        cls.__repr__ = _repr
    if "__eq__" not in own:
        cls.__eq__ = _eq
    if own.get("__hash__") is None:  # none declared: as dataclasses (eq=True) makes it
        cls.__hash__ = _hash if frozen else None
    if frozen:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
    cls.__match_args__ = tuple(n for n, f in fields_.items() if f.init)  # type: ignore[misc]
    return cls


def _with_slots(cls: type, names: tuple[str, ...]) -> type:
    """A copy of `cls` with `__slots__` for its fields (as dataclasses' slots=True)."""
    ns = {k: v for k, v in cls.__dict__.items()
          if k not in names and k not in ("__dict__", "__weakref__")}
    ns["__slots__"] = names
    made = type(cls)(cls.__name__, cls.__bases__, ns)
    made.__qualname__ = cls.__qualname__
    return made


def _init(cls: type, fields_: dict[str, Field], frozen: bool) -> Callable[..., None]:
    """The datatype's `__init__`, compiled once: the dataclass's own shape, so it is as fast."""
    params, body = [], []
    env: dict[str, Any] = {"MISSING": MISSING, "object_setattr": object.__setattr__}
    seen_default = False
    for f in fields_.values():
        name = f.name
        if f.init:
            if f.default is not MISSING:
                env[f"_d_{name}"] = f.default
                params.append(f"{name}=_d_{name}")
                seen_default = True
            elif f.default_factory is not MISSING:
                params.append(f"{name}=MISSING")
                seen_default = True
            elif seen_default:
                raise TypeError(f"non-default argument {name!r} follows default argument")
            else:
                params.append(name)
        if f.default_factory is not MISSING:
            env[f"_f_{name}"] = f.default_factory
            value = (f"_f_{name}() if {name} is MISSING else {name}" if f.init
                     else f"_f_{name}()")
        elif f.init:
            value = name
        elif f.default is not MISSING:
            env[f"_d_{name}"] = f.default
            value = f"_d_{name}"
        else:
            continue  # init=False, no default: left unset, as dataclasses leaves it
        body.append(f"object_setattr(self, {name!r}, {value})" if frozen
                    else f"self.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = (f"def __init__(self, {', '.join(params)}):\n    "
              + "\n    ".join(body or ["pass"]) + "\n")
    exec(source, env)  # noqa: S102 (generated from the class's own field names)
    made: Callable[..., None] = env["__init__"]
    made.__qualname__ = f"{cls.__qualname__}.__init__"
    made.__module__ = cls.__module__
    return made


def _repr(self: Any) -> str:
    shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in type(self).__datatype_repr__)
    return f"{type(self).__qualname__}({shown})"


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of the compared fields of an instance, as dataclasses compares and hashes
    them (attrgetter reads them in C: as fast as the dataclass's generated methods)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    key = self.__datatype_key__
    return key(self) == key(other)


def _hash(self: Any) -> int:
    return hash(self.__datatype_key__(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def fields(obj: Any) -> tuple[Field, ...]:
    """A datatype's (or its instance's) fields, in order."""
    return tuple(obj.__datatype_fields__.values())


def asdict(obj: Any) -> dict[str, Any]:
    """An instance as a dict, datatypes, lists, tuples and dicts in it turned too, other values
    copied deeply (as `dataclasses.asdict`)."""
    return {name: _plain(getattr(obj, name)) for name in obj.__datatype_fields__}


def _plain(value: Any) -> Any:
    if hasattr(type(value), "__datatype_fields__"):
        return asdict(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*(_plain(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_plain(k), _plain(v)) for k, v in value.items())
    if value is None or isinstance(value, (str, int, float, bool, bytes)):
        return value
    import copy
    return copy.deepcopy(value)


def replace(obj: Any, **changes: Any) -> Any:
    """A copy of datatype instance `obj` with `changes` (as `dataclasses.replace`)."""
    args = {}
    for name, f in obj.__datatype_fields__.items():
        if not f.init:
            if name in changes:
                raise ValueError(f"field {name} is declared with init=False, it cannot be "
                                 "specified with replace()")
            continue
        args[name] = changes.pop(name) if name in changes else getattr(obj, name)
    if changes:
        raise TypeError(f"{type(obj).__name__}.__init__() got an unexpected keyword "
                        f"argument {next(iter(changes))!r}")
    return obj.__class__(**args)
