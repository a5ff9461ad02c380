"""`vnet kinds KIND`: every option a kind's file entry takes, from the kind's own declarations
(its class's fields and `options_map`, the generic link attributes, the port options), never
from a hand-kept table. Pure: no kernel."""

from __future__ import annotations

from typing import Any

from .datatypes import asdict, datatype
from .features.link_attrs import LINK_ATTRS
from .features.port_options import PORT_OPTIONS

#: fields every end has that name the link itself or where it sits: a change makes another link
_IDENTITY = {"name", "netns", "kind"}
#: what an omitted common field means, where "kernel default" would not say it
_SHOWN_DEFAULTS = {"name": "required", "netns": "where vnet runs", "master": "none",
                   "port_options": "none", "vlans": "as the kernel has them"}
#: fields naming a parent link (a change re-creates the child: "parent link differs")
_PARENT = {"link", "link_netns", "dev"}


@datatype(frozen=True)
class OptionRow:
    """One option of a kind as `vnet kinds KIND` shows it."""

    name: str
    type: str  # "integer 0-4094", "boolean", "one of: l2, l3", ...
    default: str  # "kernel default" when omitted means the kernel's own value
    change: str  # "in place", "replace" (the link is re-created), "re-create"
    where: str  # "kind", "link" (any interface), "port" (a port of this master)
    description: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _type_text(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        return _type_text(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if options:
        return " or ".join(dict.fromkeys(_type_text(s, defs) for s in options))
    if "enum" in schema:
        return "one of: " + ", ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return str(schema["const"])
    kind = schema.get("type", "mapping" if "properties" in schema else "value")
    if kind == "array":
        return f"list of {_type_text(schema.get('items', {}), defs)}"
    if kind == "object":
        return "mapping"
    low, high = schema.get("minimum", schema.get("exclusiveMinimum")), schema.get("maximum")
    if kind in ("integer", "number") and (low is not None or high is not None):
        return f"{kind} {'' if low is None else low}-{'' if high is None else high}"
    if kind == "string" and schema.get("maxLength"):
        return f"string, at most {schema['maxLength']} characters"
    return str(kind)


def _change(cls: Any, name: str) -> str:
    spec = cls.options_map.get(name)
    if spec is not None:
        return "replace" if spec.replace else "in place"
    if name in LINK_ATTRS:
        return "replace" if LINK_ATTRS[name].create_only else "in place"
    if name in _IDENTITY:
        return "re-create"
    if name in _PARENT or name == "peer":
        return "replace"
    return "in place"


def _value_text(value: Any) -> str:
    """A default as the file would write it (booleans lowercase)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def option_rows(cls: Any) -> list[OptionRow]:
    """The options of kind class `cls`: its own first, then those of every link, then (for a
    bridge, bond or team) what its ports take under `port_options`."""
    schema = cls.model_json_schema()
    props, defs = schema.get("properties", {}), schema.get("$defs", {})
    from .kinds.base import Common
    common = set(Common.model_fields)
    rows: list[OptionRow] = []
    for name, info in cls.model_fields.items():
        if name == "kind":
            continue
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        shown = ("required" if info.is_required() else "kernel default" if default is None else
                 "none" if default == [] else _value_text(default))
        if default is None and name in cls.capture_defaults:  # the kernel's own value, known
            shown = f"kernel default ({_value_text(cls.capture_defaults[name])})"
        shown = _SHOWN_DEFAULTS.get(name, shown)
        spelled = info.alias or name  # as the file spells it (macsec's `validate`)
        rows.append(OptionRow(spelled, _type_text(props.get(spelled, {}), defs), shown,
                              _change(cls, name), "link" if name in common else "kind",
                              (info.description or "").replace("\n", " ")))
    # the kind's own options, then what every link has, its generic attributes last
    rows.sort(key=lambda r: (r.where != "kind", r.name in LINK_ATTRS))
    from .features.port_option_fields import PortOptions
    for option in PORT_OPTIONS.get(cls.kind_name, {}):
        field = PortOptions.model_fields[option]
        port_schema = PortOptions.model_json_schema()["properties"][option]
        rows.append(OptionRow(f"port_options.{option}", _type_text(port_schema, {}),
                              "kernel default", "in place", "port",
                              field.description or ""))
    return rows
