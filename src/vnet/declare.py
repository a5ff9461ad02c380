"""The file's models, declared without pydantic at import time.

Every model of a topology file (the kinds, routes, checks, events, hosts, the features'
nested settings) is declared with this module's names, spelled as pydantic spells them:
`BaseModel`, `Field`, `AfterValidator`, `field_validator`, `model_validator`, `PrivateAttr`...
Loading a file then runs a lean validator built from those declarations, in plain Python,
and imports no pydantic: pydantic and the schemas it builds cost more than 100 ms at every
start, more than the whole of `vnet validate` may take.

pydantic stays the authority. From each declaration this module builds, on first need, the
same model as a pydantic class (its *twin*: same fields, types, defaults, constraints,
settings and validators, same name and docstring):
- whenever the lean validator meets input it does not take as it comes (a wrong type, a
  value a validator refuses, an unknown field, a number written as text), the twin validates
  that input: its error is the error the user sees, with pydantic's wording and locations,
  and, where pydantic converts the input (the text "5" for a number), its result is taken;
- the JSON Schema of the file (`vnet schema`, `vnet kinds KIND`) is the twins';
- the tests run every lean validation against the twin as well (`ORACLE`, set by
  tests/unit/conftest.py): any difference in values, fields set or order fails them.

So the lean validator only ever has to get right the input it accepts: it accepts values of
exactly the declared types (a `str` for `str`, an `int` that is not a `bool` for `int`, a
mapping for a model) and leaves everything else to the twin.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic_core import ValidationError

#: the names a model's annotations may use besides its module's own (annotations are text:
#: `from __future__ import annotations`; they are resolved when the model is first used)
_TYPING_NAMES = ("Annotated", "Any", "ClassVar", "Literal", "Optional", "Union")

#: no default: the field is required (pydantic's PydanticUndefined)
_UNSET: Any = type("_Unset", (), {"__repr__": lambda self: "<unset>"})()


class _Refused(Exception):
    """The lean validator does not take this input as it comes: the twin decides."""


def _refuse(*_: Any) -> Any:
    raise _Refused


# ---- what a declaration says ----------------------------------------------------------------
class FieldInfo:
    """A field as `Field(...)` declares it (and, once its model is complete, its annotation)."""

    __slots__ = ("default", "default_factory", "alias", "description", "kwargs", "annotation",
                 "exclude", "repr")

    def __init__(self, default: Any = _UNSET, **kwargs: Any) -> None:
        self.default = _UNSET if default is Ellipsis else default
        self.default_factory: Callable[[], Any] | None = kwargs.get("default_factory")
        self.alias: str | None = kwargs.get("alias")
        self.description: str | None = kwargs.get("description")
        self.exclude: bool = bool(kwargs.get("exclude"))
        self.repr: bool = kwargs.get("repr", True)
        self.kwargs = kwargs
        self.annotation: Any = None

    def is_required(self) -> bool:
        return self.default is _UNSET and self.default_factory is None

    def get_default(self, call_default_factory: bool = False) -> Any:
        if self.default_factory is not None:
            return self.default_factory() if call_default_factory else None
        return None if self.default is _UNSET else self.default

    @property
    def json_schema_extra(self) -> Any:
        return self.kwargs.get("json_schema_extra")

    @property
    def title(self) -> str | None:
        return self.kwargs.get("title")

    def __repr__(self) -> str:
        return f"FieldInfo(annotation={self.annotation!r}, {self.kwargs!r})"


def Field(default: Any = _UNSET, **kwargs: Any) -> Any:  # noqa: N802 (pydantic's spelling)
    """A field's default, constraints (ge, le, gt, lt, min_length, max_length, pattern) and
    schema words (description, title, json_schema_extra), as pydantic's `Field` takes them."""
    return FieldInfo(default, **kwargs)


class _PrivateAttr:
    __slots__ = ("default", "default_factory")

    def __init__(self, default: Any = None, default_factory: Callable[[], Any] | None = None):
        self.default, self.default_factory = default, default_factory

    def value(self) -> Any:
        if self.default_factory is not None:
            return self.default_factory()
        return _copied(self.default)


def PrivateAttr(default: Any = None, *,  # noqa: N802 (pydantic's spelling)
                default_factory: Callable[[], Any] | None = None) -> Any:
    """A private value of each instance (`_path`), not a field of the file."""
    return _PrivateAttr(default, default_factory)


class ConfigDict(dict):
    """A model's settings (extra, populate_by_name, frozen, title), as pydantic's."""


class _Function:
    """Annotated metadata holding a function (pydantic's validator wrappers)."""

    __slots__ = ("func",)

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func


class AfterValidator(_Function):
    """Annotated metadata: a function run on the value once its type is checked."""

    __slots__ = ()


class BeforeValidator(_Function):
    """Annotated metadata: a function run on the input before its type is checked."""

    __slots__ = ()


class Tag:
    """Annotated metadata: the name of one member of a union told apart by `Discriminator`."""

    __slots__ = ("tag",)

    def __init__(self, tag: str) -> None:
        self.tag = tag


class Discriminator:
    """Annotated metadata: a function naming (by its `Tag`) the union member a value is."""

    __slots__ = ("discriminator",)

    def __init__(self, discriminator: Callable[[Any], str]) -> None:
        self.discriminator = discriminator


class _Decorated:
    """A validator method as `field_validator`/`model_validator` mark it."""

    __slots__ = ("func", "fields", "mode", "model")

    def __init__(self, func: Any, fields: tuple[str, ...], mode: str, model: bool) -> None:
        self.func, self.fields, self.mode, self.model = func, fields, mode, model


def field_validator(*fields: str, mode: str = "after") -> Callable[[Any], Any]:
    """A method checking (and possibly changing) the named fields' values: `(cls, value)` or
    `(cls, value, info)`; mode "before" runs it on the input, before the type is checked."""
    if mode not in ("after", "before"):
        raise ValueError(f"field_validator mode {mode!r}: only after and before are supported")
    return lambda func: _Decorated(func, fields, mode, False)


def model_validator(*, mode: str) -> Callable[[Any], Any]:
    """A method checking the whole model once its fields are validated (mode "after")."""
    if mode != "after":
        raise ValueError(f"model_validator mode {mode!r}: only after is supported")
    return lambda func: _Decorated(func, (), mode, True)


class SecretStr:
    """Text that never shows: its repr and str are stars; `get_secret_value()` unwraps it."""

    __slots__ = ("_secret_value",)

    def __init__(self, secret_value: str) -> None:
        self._secret_value = secret_value

    def get_secret_value(self) -> str:
        return self._secret_value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and \
            self._secret_value == other.get_secret_value()

    def __hash__(self) -> int:
        return hash(self._secret_value)

    def __len__(self) -> int:
        return len(self._secret_value)

    def __str__(self) -> str:
        return "**********" if self._secret_value else ""

    def __repr__(self) -> str:
        return f"SecretStr({str(self)!r})"


def validation_errors() -> type[ValidationError] | tuple[()]:
    """What an `except` clause names to catch pydantic's ValidationError (raised by a
    model's twin) without importing pydantic: its class once pydantic is imported, else no
    class at all (`except ():` catches nothing). The clause's expression is evaluated when an
    exception reaches it, after any twin has raised: `except validation_errors() as exc:`."""
    core = sys.modules.get("pydantic_core")
    return core.ValidationError if core is not None else ()


# ---- the model -------------------------------------------------------------------------------
class _Info:
    """What a field validator taking `info` reads: the field's name and the values so far."""

    __slots__ = ("field_name", "data")

    def __init__(self, field_name: str, data: dict[str, Any]) -> None:
        self.field_name, self.data = field_name, data


_IMMUTABLE = (str, int, float, bool, type(None), tuple, frozenset, bytes)


def _copied(value: Any) -> Any:
    return value if isinstance(value, _IMMUTABLE) else copy.deepcopy(value)


class _ModelMeta(type):
    """Collects a model's declaration when its class is made; resolves it on first use."""

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any],
                **kwargs: Any) -> _ModelMeta:
        own: dict[str, Any] = {}  # field name -> FieldInfo (or plain default)
        private: dict[str, _PrivateAttr] = {}
        decorated: dict[str, _Decorated] = {}
        annotations = ns.get("__annotations__", {})
        for key, value in list(ns.items()):
            if isinstance(value, _Decorated):
                decorated[key] = value
                ns[key] = value.func  # the method itself, callable as declared
            elif isinstance(value, _PrivateAttr):
                private[key] = value
                del ns[key]
        for key, text in annotations.items():
            if key == "model_config" or _is_classvar(text):
                continue
            if key.startswith("_"):
                if key not in private:
                    private[key] = _PrivateAttr(ns.pop(key, None))
                continue
            value = ns.pop(key, _UNSET)
            if type(value).__module__.startswith("pydantic"):
                raise TypeError(f"{name}.{key}: declared with pydantic's {type(value).__name__}; "
                                "a model of vnet.declare takes vnet.declare's")
            own[key] = value
        cls = super().__new__(mcs, name, bases, ns)
        cls.__declared__ = own  # type: ignore[attr-defined]
        cls.__declared_private__ = private  # type: ignore[attr-defined]
        cls.__declared_validators__ = decorated  # type: ignore[attr-defined]
        cls.__resolved__ = None  # type: ignore[attr-defined]
        cls.__complete__ = None  # type: ignore[attr-defined]
        cls.__twin__ = None  # type: ignore[attr-defined]
        return cls

    def __init__(cls, name: str, bases: tuple[type, ...], ns: dict[str, Any],
                 **kwargs: Any) -> None:
        super().__init__(name, bases, ns)
        if ns.get("__module__") != __name__:  # not BaseModel itself
            hook = getattr(cls, "__pydantic_init_subclass__", None)
            if hook is not None:
                hook(**kwargs)

    @property
    def model_fields(cls) -> dict[str, FieldInfo]:
        return _complete(cls).fields


def _is_classvar(annotation: Any) -> bool:
    """Whether an annotation (text, or a type) says ClassVar: a class variable, not a field."""
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    import typing
    return annotation is typing.ClassVar or typing.get_origin(annotation) is typing.ClassVar


class _Complete:
    """A model's resolved declaration: its fields in order, their checkers, its validators."""

    __slots__ = ("fields", "checkers", "private", "field_validators", "before_validators",
                 "model_validators", "by_alias", "extra_forbid", "populate_by_name", "frozen",
                 "index", "defaults", "factories", "mutable", "template", "required")

    fields: dict[str, FieldInfo]
    checkers: dict[str, Callable[[Any], Any]]
    private: dict[str, _PrivateAttr]
    #: field -> (validator, whether it takes `info`), after and before the type's check
    field_validators: dict[str, list[tuple[Callable[..., Any], bool]]]
    before_validators: dict[str, list[tuple[Callable[..., Any], bool]]]
    model_validators: list[Callable[[Any], Any]]
    by_alias: dict[str, str]
    extra_forbid: bool
    populate_by_name: bool
    frozen: bool
    index: dict[str, int]
    defaults: dict[str, Any]
    factories: dict[str, Callable[[], Any]]
    mutable: dict[str, Any]
    template: dict[str, Any]
    required: set[str]


def _config(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        out.update(klass.__dict__.get("model_config", {}))
    return out


def _complete(cls: Any) -> _Complete:
    """`cls`'s declaration resolved (made once, on first use)."""
    done = cls.__dict__.get("__complete__")
    if done is not None:
        return done
    c = _Complete()
    c.private = {}
    validators: dict[str, _Decorated] = {}
    # pydantic's order: the bases' fields first (furthest base first), each kept where it
    # was first declared when a subclass declares it again
    c.fields = {}
    for klass in reversed(cls.__mro__):
        if not isinstance(klass, _ModelMeta):
            continue
        c.private.update(klass.__dict__.get("__declared_private__", {}))
        validators.update(klass.__dict__.get("__declared_validators__", {}))
        declared = klass.__dict__.get("__declared__", {})
        if not declared:
            continue
        if klass.__dict__.get("__resolved__") is None:
            # each class's own fields, resolved once for it and all its subclasses
            resolve = _resolver(klass)
            annotations = klass.__dict__.get("__annotations__", {})
            resolved = {}
            for key, default in declared.items():
                info = default if isinstance(default, FieldInfo) else FieldInfo(default)
                info.annotation = resolve(annotations[key])
                resolved[key] = info
            klass.__resolved__ = resolved  # type: ignore[attr-defined]
        c.fields.update(klass.__dict__["__resolved__"])
    config = _config(cls)
    c.extra_forbid = config.get("extra") == "forbid"
    c.populate_by_name = bool(config.get("populate_by_name"))
    c.frozen = bool(config.get("frozen"))
    c.field_validators = {}
    c.before_validators = {}
    c.model_validators = []
    for dec in validators.values():
        if dec.model:
            c.model_validators.append(dec.func)
            continue
        func = _bound(dec.func, cls)
        takes_info = _takes_info(dec.func)
        target = c.before_validators if dec.mode == "before" else c.field_validators
        for name in dec.fields:
            target.setdefault(name, []).append((func, takes_info))
    c.checkers = {name: _checker(info.annotation, info) for name, info in c.fields.items()}
    c.by_alias = {(info.alias or name): name for name, info in c.fields.items()}
    c.index = {name: i for i, name in enumerate(c.fields)}
    c.defaults = {name: info.default for name, info in c.fields.items()
                  if info.default is not _UNSET}
    c.factories = {name: info.default_factory for name, info in c.fields.items()
                   if info.default_factory is not None}
    c.mutable = {name: value for name, value in c.defaults.items()
                 if not isinstance(value, _IMMUTABLE)}
    # the fields in order; a value to copy or make, or none given yet, is a place only
    c.template = {name: c.defaults[name] if name in c.defaults and name not in c.mutable
                  else _UNSET for name in c.fields}
    c.required = {name for name, info in c.fields.items() if info.is_required()}
    cls.__complete__ = c
    return c


def _bound(func: Any, cls: Any) -> Callable[..., Any]:
    """A field validator callable as `func(value[, info])`: a classmethod gets `cls`."""
    if isinstance(func, classmethod):
        return func.__get__(None, cls)
    if isinstance(func, staticmethod):
        return func.__func__
    return func


def _takes_info(func: Any) -> bool:
    """Whether a field validator takes pydantic's `info` after the value."""
    is_method = isinstance(func, classmethod)
    if isinstance(func, classmethod | staticmethod):
        func = func.__func__
    return func.__code__.co_argcount - (1 if is_method else 0) >= 2


def _resolver(klass: Any) -> Callable[[Any], Any]:
    """Resolves the text of `klass`'s annotations: in the class, then its module (and the
    names `model_rebuild` was given), then typing's."""
    if not any(isinstance(t, str) for t in klass.__dict__.get("__annotations__", {}).values()):
        return lambda text: text
    import typing
    names = {name: getattr(typing, name) for name in _TYPING_NAMES}
    names.update(sys.modules[klass.__module__].__dict__)
    names.update(klass.__dict__.get("__types_namespace__") or {})
    local = dict(vars(klass))
    return lambda text: eval(_compiled(text), names, local) if isinstance(text, str) \
        else text  # noqa: S307 (the class's own annotation)


@functools.cache
def _compiled(text: str) -> Any:
    """An annotation's text compiled once: many fields of many models say `int | None`."""
    return compile(text, "<annotation>", "eval")


# ---- the lean checkers ------------------------------------------------------------------------
def _checker(annotation: Any, info: FieldInfo | None = None) -> Callable[[Any], Any]:
    """A function returning the validated value of `annotation`, or raising _Refused."""
    import types
    import typing
    check = _type_checker(annotation, typing, types)
    if info is not None:
        check = _constrained(check, info.kwargs)
    return check


def _constrained(check: Callable[[Any], Any], kwargs: dict[str, Any]) -> Callable[[Any], Any]:
    if all(kwargs.get(k) is None for k in ("ge", "le", "gt", "lt", "min_length", "max_length",
                                           "pattern", "multiple_of")):
        return check
    ge, le, gt, lt = (kwargs.get(k) for k in ("ge", "le", "gt", "lt"))
    lo, hi = kwargs.get("min_length"), kwargs.get("max_length")
    pattern = re.compile(kwargs["pattern"]) if kwargs.get("pattern") else None
    if kwargs.get("multiple_of") is not None:
        return lambda v: _refuse()

    def constrained(value: Any) -> Any:
        value = check(value)
        if value is None:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if (ge is not None and not value >= ge) or (le is not None and not value <= le) \
                    or (gt is not None and not value > gt) or \
                    (lt is not None and not value < lt):
                raise _Refused
        elif ge is not None or le is not None or gt is not None or lt is not None:
            raise _Refused
        if lo is not None or hi is not None:
            if not isinstance(value, str | list):
                raise _Refused
            if (lo is not None and len(value) < lo) or (hi is not None and len(value) > hi):
                raise _Refused
        if pattern is not None:
            # pydantic's regex engine reads `$` as the very end; Python's also before a
            # final newline: text with a line break is the twin's to judge
            if type(value) is not str or "\n" in value or not pattern.search(value):
                raise _Refused
        return value
    return constrained


def _exact(kind: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if type(value) is not kind:
            raise _Refused
        return value
    return check


def _float(value: Any) -> float:
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        return float(value)
    raise _Refused


def _none(value: Any) -> None:
    if value is not None:
        raise _Refused


def _any(value: Any) -> Any:
    return value


def _secret(value: Any) -> SecretStr:
    if type(value) is str:
        return SecretStr(value)
    if isinstance(value, SecretStr):
        return value
    raise _Refused


def _type_checker(tp: Any, typing: Any, types: Any) -> Callable[[Any], Any]:
    if tp is Any:
        return _any
    if tp is None or tp is type(None):
        return _none
    if tp is str or tp is int or tp is bool:
        return _exact(tp)
    if tp is float:
        return _float
    if tp is SecretStr:
        return _secret
    if isinstance(tp, _ModelMeta):
        return _model_checker(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _annotated(args[0], args[1:], typing, types)
    if origin is typing.Literal:
        allowed = {(type(a), a) for a in args}
        return lambda v: v if (type(v), v) in allowed else _refuse()
    if origin is typing.Union or origin is types.UnionType:
        return _union([_type_checker(a, typing, types) for a in args])
    if origin is list:
        item = _type_checker(args[0], typing, types) if args else _any

        def check_list(value: Any) -> Any:
            if type(value) is not list:
                raise _Refused
            return [item(v) for v in value]
        return check_list
    if origin is dict:
        key = _type_checker(args[0], typing, types) if args else _any
        val = _type_checker(args[1], typing, types) if args else _any

        def check_dict(value: Any) -> Any:
            if type(value) is not dict:
                raise _Refused
            return {key(k): val(v) for k, v in value.items()}
        return check_dict
    return _refuse  # a type the lean validator does not know: always the twin's


def _union(members: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        found: list[Any] = []
        for member in members:
            try:
                found.append(member(value))
            except _Refused:
                continue
            except (ValueError, AssertionError, TypeError):
                raise _Refused from None
        if len(found) != 1:  # none, or several: pydantic's smart union decides
            raise _Refused
        return found[0]
    return check


def _annotated(base: Any, metadata: tuple[Any, ...], typing: Any,
               types: Any) -> Callable[[Any], Any]:
    discriminator = next((m for m in metadata if isinstance(m, Discriminator)), None)
    if discriminator is not None:
        tagged = {}
        for member in typing.get_args(base):
            tag = next(m.tag for m in typing.get_args(member)[1:] if isinstance(m, Tag))
            tagged[tag] = _type_checker(member, typing, types)
        pick = discriminator.discriminator

        def check_tagged(value: Any) -> Any:
            member = tagged.get(pick(value))
            if member is None:
                raise _Refused
            return member(value)
        check: Callable[[Any], Any] = check_tagged
    else:
        check = _type_checker(base, typing, types)
    afters = []
    befores = []
    for meta in metadata:
        if isinstance(meta, AfterValidator):
            afters.append(meta.func)
        elif isinstance(meta, BeforeValidator):
            befores.append(meta.func)
        elif isinstance(meta, FieldInfo):
            check = _constrained(check, meta.kwargs)
        elif isinstance(meta, Tag | Discriminator):
            continue
        else:
            return _refuse
    if not afters and not befores:
        return check
    inner = check

    def validated(value: Any) -> Any:
        for func in reversed(befores):  # pydantic runs the last-listed before validator first
            value = func(value)
        value = inner(value)
        for func in afters:
            value = func(value)
        return value
    return validated


def _model_checker(model: Any) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, model):
            return value
        if type(value) is not dict:
            raise _Refused
        return _lean_validate(model, value)
    return check


def _lean_validate(cls: Any, data: dict[str, Any]) -> Any:
    """`data` as a `cls`, if every value is of exactly its declared type and passes the
    declaration's validators; `_Refused` (or the validator's error) otherwise."""
    c: _Complete = cls.__complete__ or _complete(cls)
    values: dict[str, Any] = {}
    by_alias = c.by_alias
    for key, raw in data.items():
        name = by_alias.get(key)
        if name is None:
            if c.populate_by_name and key in c.fields:
                name = key
            elif c.extra_forbid or type(key) is not str:
                raise _Refused
            else:
                continue  # ignored, as pydantic ignores extra input by default
        if name in values:
            raise _Refused  # the same field twice (alias and name): pydantic's to say
        befores = c.before_validators.get(name)
        if befores:
            for func, takes_info in befores:
                if takes_info:
                    raise _Refused  # (none does: the twin runs one that would)
                raw = func(raw)
        values[name] = raw
    if not c.required <= values.keys():
        raise _Refused
    # every field in its declared place: the defaults that need no copy at once, then a
    # fresh value for each default made by a factory or mutable, then the values given,
    # validated in the declared order (a validator's `info.data` holds the fields before it)
    state = c.template.copy()
    for name, factory in c.factories.items():
        if name not in values:
            state[name] = factory()
    for name, default in c.mutable.items():
        if name not in values:
            state[name] = copy.deepcopy(default)
    checkers = c.checkers
    validators = c.field_validators
    for name in sorted(values, key=c.index.__getitem__) if len(values) > 1 else values:
        value = checkers[name](values[name])
        more = validators.get(name)
        if more:
            for func, takes_info in more:
                value = func(value, _Info(name, _before(state, name))) if takes_info \
                    else func(value)
        state[name] = value
    obj = _fill(cls.__new__(cls), state, set(values), None, _fresh_private(c))
    for func in c.model_validators:
        obj = func(obj)
    return obj


def _before(state: dict[str, Any], name: str) -> dict[str, Any]:
    """The fields declared before `name`, as pydantic's `info.data` gives them."""
    out = {}
    for key, value in state.items():
        if key == name:
            break
        out[key] = value
    return out


_set = object.__setattr__


def _fill(obj: Any, state: dict[str, Any], fields_set: set[str], extra: dict[str, Any] | None,
          private: dict[str, Any] | None) -> Any:
    """`obj` with its four slots set (pydantic's names, which vnet's code reads too): its
    fields' values, the fields given, extra values and private values."""
    _set(obj, "__dict__", state)
    _set(obj, "__pydantic_fields_set__", fields_set)
    _set(obj, "__pydantic_extra__", extra)
    _set(obj, "__pydantic_private__", private)
    return obj


def _fresh_private(c: _Complete) -> dict[str, Any] | None:
    """A new model's private values: each declared default (None when it declares none)."""
    return {k: p.value() for k, p in c.private.items()} if c.private else None
#: check every lean validation against the twin's (the tests set it; see `_oracle`)
ORACLE = os.environ.get("VNET_DECLARE_ORACLE") == "1"


def _validate(cls: Any, data: Any) -> Any:
    """`data` validated as `cls`: by the lean validator, or else by the twin."""
    if isinstance(data, cls):
        return data
    if type(data) is dict:
        try:
            obj = _lean_validate(cls, data)
        except (_Refused, ValueError, AssertionError, TypeError, KeyError, AttributeError,
                IndexError):
            pass
        else:
            if ORACLE:
                _oracle(cls, data, obj)
            return obj
    return _from_twin(twin(cls).model_validate(_to_twin(data)))


def _oracle(cls: Any, data: Any, obj: Any) -> None:
    """Fail loudly when the twin would validate `data` otherwise than the lean validator."""
    expected = _from_twin(twin(cls).model_validate(_to_twin(data)))
    got = _to_twin_shape(obj)
    theirs = _to_twin_shape(expected)
    if got != theirs or _order(obj) != _order(expected):
        raise AssertionError(f"the lean validator of {cls.__name__} differs from pydantic's "
                             f"on {data!r}:\nlean     {got!r}\npydantic {theirs!r}")


def _order(value: Any) -> list[str]:
    return list(value.__dict__)


def _to_twin_shape(value: Any) -> Any:
    """Plain data of a model tree, with each model's fields set, for comparing two trees."""
    if isinstance(value, BaseModel):
        return (type(value).__name__, sorted(value.model_fields_set),
                {k: _to_twin_shape(v) for k, v in value.__dict__.items()},
                {k: _to_twin_shape(v) for k, v in (value.__pydantic_private__ or {}).items()})
    if isinstance(value, list | tuple):
        return type(value)(_to_twin_shape(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_twin_shape(v) for k, v in value.items()}
    if isinstance(value, SecretStr):
        return ("secret", value.get_secret_value())
    return (type(value).__name__, value)


# ---- the twins: each model as a pydantic class -------------------------------------------------
_LEAN_OF: dict[type, Any] = {}


def twin(cls: Any) -> Any:
    """The pydantic class of `cls`'s declaration: its fields with their types, defaults and
    constraints, its settings and its validators (run on the lean model's values, so their
    code is the declaration's own), its name and docstring (the schema's title and
    description). Nothing else of the class: its methods work on lean models only."""
    made: Any = cls.__dict__.get("__twin__")
    if made is not None:
        return made
    import pydantic

    _complete(cls)
    bases = tuple(pydantic.BaseModel if b is BaseModel else twin(b)
                  for b in cls.__bases__ if isinstance(b, _ModelMeta)) or (pydantic.BaseModel,)
    ns: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                          "__doc__": cls.__doc__}
    config = cls.__dict__.get("model_config")
    if config is not None:
        ns["model_config"] = pydantic.ConfigDict(**config)
    annotations: dict[str, Any] = {}
    fields = cls.model_fields
    for key, default in cls.__declared__.items():
        annotations[key] = _to_pydantic(fields[key].annotation, pydantic)
        if isinstance(default, FieldInfo):
            if default.default is _UNSET:
                ns[key] = pydantic.Field(**default.kwargs)
            else:
                ns[key] = pydantic.Field(default.default, **default.kwargs)
        elif default is not _UNSET:
            ns[key] = default
    for key, dec in cls.__declared_validators__.items():
        if dec.model:
            ns[key] = pydantic.model_validator(mode="after")(_model_step(dec.func))
        else:
            ns[key] = pydantic.field_validator(*dec.fields, mode=dec.mode)(
                _field_method(dec.func))
    ns["__annotations__"] = annotations
    made = type(cls.__name__, bases, ns)
    cls.__twin__ = made
    _LEAN_OF[made] = cls
    return made


def _model_step(func: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A model validator of the declaration, run by the twin on the lean model's values."""
    def step(self: Any) -> Any:
        return _to_twin(func(_from_twin(self)))
    return step


def _field_method(func: Any) -> classmethod[Any, Any, Any]:
    """A field validator of the declaration as the twin's classmethod: called with the lean
    class of the twin that validates (a subclass's, for an inherited validator), on lean
    values."""
    takes_info = _takes_info(func)
    if takes_info:
        def method_info(twin_cls: Any, value: Any, info: Any) -> Any:
            return _field_step(_bound(func, _LEAN_OF[twin_cls]), True)(value, info)
        return classmethod(method_info)

    def method(twin_cls: Any, value: Any) -> Any:
        return _field_step(_bound(func, _LEAN_OF[twin_cls]), False)(value)
    return classmethod(method)


def _field_step(func: Callable[..., Any], takes_info: bool) -> Callable[..., Any]:
    """A validator of the declaration, run by the twin on the lean values."""
    if takes_info:
        def step_info(value: Any, info: Any) -> Any:
            lean = _Info(info.field_name, {k: _from_twin(v) for k, v in info.data.items()})
            return _to_twin(func(_from_twin(value), lean))
        return step_info

    def step(value: Any) -> Any:
        return _to_twin(func(_from_twin(value)))
    return step


def _to_pydantic(tp: Any, pydantic: Any) -> Any:
    import types
    import typing
    if isinstance(tp, _ModelMeta):
        return twin(tp)
    if tp is SecretStr:
        return pydantic.SecretStr
    origin = typing.get_origin(tp)
    if origin is None:
        return tp
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        meta = [_meta_to_pydantic(m, pydantic) for m in args[1:]]
        return typing.Annotated[(_to_pydantic(args[0], pydantic), *meta)]
    if origin is typing.Literal:
        return tp
    new = tuple(_to_pydantic(a, pydantic) for a in args)
    if origin is typing.Union or origin is types.UnionType:
        return typing.Union[new]  # noqa: UP007
    if origin is typing.ClassVar:
        return tp
    return origin[new if len(new) > 1 else new[0]]


def _meta_to_pydantic(meta: Any, pydantic: Any) -> Any:
    if isinstance(meta, AfterValidator):
        return pydantic.AfterValidator(_field_step(meta.func, False))
    if isinstance(meta, BeforeValidator):
        return pydantic.BeforeValidator(_field_step(meta.func, False))
    if isinstance(meta, FieldInfo):
        return pydantic.Field(**meta.kwargs)
    if isinstance(meta, Tag):
        return pydantic.Tag(meta.tag)
    if isinstance(meta, Discriminator):
        pick = meta.discriminator
        return pydantic.Discriminator(lambda value: pick(_from_twin(value)))
    return meta


def _from_twin(value: Any) -> Any:
    """A twin's result as the lean model's: the same values, fields set and private values."""
    lean = _LEAN_OF.get(type(value))
    if lean is not None:
        extra = value.__pydantic_extra__
        return _fill(lean.__new__(lean),
                     {k: _from_twin(v) for k, v in value.__dict__.items()},
                     set(value.model_fields_set),
                     None if extra is None else {k: _from_twin(v) for k, v in extra.items()},
                     _fresh_private(_complete(lean)))
    kind = type(value)
    if kind is list:
        return [_from_twin(v) for v in value]
    if kind is dict:
        return {k: _from_twin(v) for k, v in value.items()}
    if kind is tuple:
        return tuple(_from_twin(v) for v in value)
    if kind.__name__ == "SecretStr" and kind.__module__.startswith("pydantic"):
        return SecretStr(value.get_secret_value())
    return value


# ---- the base class ---------------------------------------------------------------------------
class BaseModel(metaclass=_ModelMeta):
    """A model of the file: pydantic's BaseModel as vnet uses it, without pydantic."""

    __slots__ = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__",
                 "__pydantic_private__")

    model_config: dict[str, Any] = ConfigDict()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Called once a subclass is made (its declaration read), as pydantic calls it."""

    def __init__(self, **data: Any) -> None:
        made = _validate(type(self), data)
        _fill(self, made.__dict__, made.__pydantic_fields_set__, made.__pydantic_extra__,
              made.__pydantic_private__)

    @classmethod
    def model_validate(cls, obj: Any) -> Any:
        return _validate(cls, obj)

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Any:
        c = _complete(cls)
        state: dict[str, Any] = {}
        given = set()
        for name, info in c.fields.items():
            alias = info.alias
            if name in values:
                state[name] = values[name]
                given.add(name)
            elif alias and alias in values:
                state[name] = values[alias]
                given.add(name)
            elif name in c.factories:
                state[name] = c.factories[name]()
            elif name in c.defaults:
                state[name] = _copied(c.defaults[name])
        return _fill(cls.__new__(cls), state,
                     set(_fields_set) if _fields_set is not None else given, None,
                     _fresh_private(c))

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return twin(cls).model_json_schema(*args, **kwargs)

    @classmethod
    def model_rebuild(cls, *, _types_namespace: dict[str, Any] | None = None,
                      **_: Any) -> None:
        """Resolve the annotations again, with `_types_namespace`'s names besides the
        module's (names only a type checker imports)."""
        if _types_namespace:
            cls.__types_namespace__ = dict(_types_namespace)  # type: ignore[attr-defined]
        cls.__resolved__ = None  # type: ignore[attr-defined]
        cls.__complete__ = None  # type: ignore[attr-defined]
        cls.__twin__ = None  # type: ignore[attr-defined]

    @property
    def model_fields_set(self) -> set[str]:
        return self.__pydantic_fields_set__

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        """A copy (shallow unless `deep`), with `update`'s values set as given (not
        validated), as pydantic's."""
        return self._copy(update, {} if deep else None)

    def _copy(self, update: dict[str, Any] | None, memo: dict[int, Any] | None) -> Any:
        cls = type(self)
        obj = cls.__new__(cls)
        state = dict(self.__dict__)
        private = self.__pydantic_private__
        if memo is not None:
            memo[id(self)] = obj
            state = copy.deepcopy(state, memo)
            private = copy.deepcopy(private, memo)
        fields_set = set(self.__pydantic_fields_set__)
        if update:
            state.update(update)
            fields_set.update(update)
        extra = self.__pydantic_extra__
        return _fill(obj, state, fields_set, None if extra is None else dict(extra),
                     None if private is None else dict(private))

    def model_dump(self, *, mode: str = "python", include: Any = None, exclude: Any = None,
                   by_alias: bool = False, exclude_unset: bool = False,
                   exclude_defaults: bool = False, exclude_none: bool = False) -> dict[str, Any]:
        if mode != "python" or include is not None or exclude_defaults:
            return _dump_by_twin(self, mode=mode, include=include, exclude=exclude,
                                 by_alias=by_alias, exclude_unset=exclude_unset,
                                 exclude_defaults=exclude_defaults, exclude_none=exclude_none)
        return _dump(self, exclude, by_alias, exclude_unset, exclude_none)

    def model_dump_json(self, **kwargs: Any) -> str:
        return _to_twin(self).model_dump_json(**kwargs)

    def __getattr__(self, name: str) -> Any:
        private = object.__getattribute__(self, "__pydantic_private__")
        if private is not None and name in private:
            return private[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        c = _complete(type(self))
        if name in c.private:
            private = self.__pydantic_private__
            if private is None:
                private = {}
                _set(self, "__pydantic_private__", private)
            private[name] = value
            return
        if name not in c.fields:
            if name.startswith("_") or isinstance(getattr(type(self), name, None), property):
                object.__setattr__(self, name, value)  # as pydantic sets them
                return
            raise ValueError(f'"{type(self).__name__}" object has no field "{name}"')
        if c.frozen:
            raise TypeError(f"{type(self).__name__} is frozen")
        self.__dict__[name] = value
        self.__pydantic_fields_set__.add(name)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self.__dict__ == other.__dict__ and
                    self.__pydantic_private__ == other.__pydantic_private__ and
                    self.__pydantic_extra__ == other.__pydantic_extra__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(_shown(self))})"

    def __copy__(self) -> Any:
        return self.model_copy()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Any:
        return self._copy(None, {} if memo is None else memo)

    def __iter__(self) -> Any:
        """(field, value) pairs, as a pydantic model gives them (`dict(model)`)."""
        yield from self.__dict__.items()

    def __str__(self) -> str:
        return " ".join(_shown(self))

    def __getstate__(self) -> dict[str, Any]:
        return {"__dict__": self.__dict__, "__pydantic_fields_set__":
                self.__pydantic_fields_set__, "__pydantic_extra__": self.__pydantic_extra__,
                "__pydantic_private__": self.__pydantic_private__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            _set(self, key, value)


def _shown(obj: Any) -> list[str]:
    """`field=value` of each field a model's repr and str show, as pydantic's."""
    fields = _complete(type(obj)).fields
    return [f"{k}={v!r}" for k, v in obj.__dict__.items() if k in fields and fields[k].repr]


def _dump(obj: Any, exclude: Any, by_alias: bool, exclude_unset: bool,
          exclude_none: bool) -> dict[str, Any]:
    fields = _complete(type(obj)).fields
    out: dict[str, Any] = {}
    fields_set = obj.__pydantic_fields_set__
    nested_exclude = exclude if isinstance(exclude, dict) else {}
    for name, value in obj.__dict__.items():
        info = fields.get(name)
        if info is None or info.exclude:
            continue
        if exclude is not None and name in exclude and \
                (not isinstance(exclude, dict) or exclude[name] is True or
                 exclude[name] is ...):
            continue
        if exclude_unset and name not in fields_set:
            continue
        if exclude_none and value is None:
            continue
        sub = nested_exclude.get(name) if isinstance(nested_exclude.get(name), dict | set) \
            else None
        out[(info.alias or name) if by_alias else name] = _dump_value(
            value, sub, by_alias, exclude_unset, exclude_none)
    return out


def _dump_value(value: Any, exclude: Any, by_alias: bool, exclude_unset: bool,
                exclude_none: bool) -> Any:
    if isinstance(value, BaseModel):
        return _dump(value, exclude, by_alias, exclude_unset, exclude_none)
    if isinstance(value, list | tuple):
        return type(value)(_dump_value(v, None, by_alias, exclude_unset, exclude_none)
                           for v in value)
    if isinstance(value, dict):
        return {k: _dump_value(v, None, by_alias, exclude_unset, exclude_none)
                for k, v in value.items()}
    return value


def _dump_by_twin(obj: Any, **kwargs: Any) -> dict[str, Any]:
    shaped = _to_twin(obj)
    out = shaped.model_dump(**kwargs)
    return _from_twin(out)


def _to_twin(value: Any) -> Any:
    if isinstance(value, BaseModel):
        made = twin(type(value))
        return _fill(made.__new__(made), {k: _to_twin(v) for k, v in value.__dict__.items()},
                     set(value.__pydantic_fields_set__), value.__pydantic_extra__, None)
    if isinstance(value, list):
        return [_to_twin(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_to_twin(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_twin(v) for k, v in value.items()}
    if isinstance(value, SecretStr):
        import pydantic
        return pydantic.SecretStr(value.get_secret_value())
    return value
