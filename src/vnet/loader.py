"""YAML → Topology, keeping the position of every value so each error names file:line:col.

Loading collects every issue it can find (schema and semantic) and raises one TopologyError
with all of them; nothing here touches the kernel.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from . import kinds
from .checks import Check
from .errors import Collector, Position, TopologyError
from .kinds.base import Common
from .model import External, Route, _TopologyFile
from .topology import Topology

try:  # the C loader when libyaml is there: faster start-up
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Base = yaml.SafeLoader


class _Loader(_Base):
    """The safe loader, with each plain scalar's tag resolved once per distinct text: the
    resolver's regular expressions would run for every scalar, and a large file repeats the
    same few keys and kind names over and over."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._tags: dict[tuple[str, Any], str] = {}

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag

TOP_LEVEL = ("name", "namespaces", "interfaces", "routes", "checks")


_PATH_PART = re.compile(r"([^.\[\]#]+)|\[(\d+)\]")
_STR_TAG = "tag:yaml.org,2002:str"


class _Positions(Mapping[str, Position]):
    """Turns a composed YAML node tree into plain data, and answers "where is this field
    path" (`interfaces[2].master`; `...#key` for the key's own place) by walking the tree.

    Positions are looked up only when an error needs one: a path -> position map of every
    value would be built on every load, while only errors read it."""

    def __init__(self, file: str, issues: Collector):
        self.file = file
        self.issues = issues
        self.root: yaml.Node | None = None
        self._repeated: list[yaml.Node] = []

    def pos(self, node: yaml.Node) -> Position:
        return Position(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build_root(self, node: yaml.Node) -> Any:
        self.root = node
        data = self.build(node)
        for key_node in self._repeated:  # rare: find their paths now
            sub = self._path_of(key_node)
            self.issues.add(f"{key_node.value!r} appears twice in the same mapping", sub,
                            self.pos(key_node), "keep one of them")
        return data

    def build(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return node.value if node.tag == _STR_TAG else self.build_scalar(node)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                # keys are field names: keep their text, so YAML 1.1 does not read `on`, `no`
                # or `y` as booleans
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else \
                    self.build_scalar(key_node)
                if key in out:
                    self._repeated.append(key_node)
                    continue
                out[key] = self.build(value_node)
            return out
        return [self.build(item) for item in node.value]

    @staticmethod
    def build_scalar(node: yaml.Node) -> Any:
        """A scalar as the safe loader constructs it (ints, bools, null, strings)."""
        if not isinstance(node, yaml.ScalarNode):
            return str(node.value)
        # an unknown tag (`!!python/object:...`) is refused as the safe loader refuses it,
        # not silently read as a plain string
        constructor = _Loader.yaml_constructors.get(node.tag, _Loader.yaml_constructors[None])
        return constructor(_CONSTRUCTOR, node)

    def _node_at(self, path: str, key: bool = False) -> yaml.Node | None:
        """The node a full path names (None: no such path); its key node if `key`."""
        node, key_node = self.root, None
        for name, index in _PATH_PART.findall(path):
            if node is None:
                return None
            if index:
                i = int(index)
                if not isinstance(node, yaml.SequenceNode) or i >= len(node.value):
                    return None
                node, key_node = node.value[i], None
            else:
                if not isinstance(node, yaml.MappingNode):
                    return None
                found = next(((k, v) for k, v in node.value
                              if str(getattr(k, "value", "")) == name), None)
                if found is None:
                    return None
                key_node, node = found
        return key_node if key else node

    def _places(self) -> Iterator[tuple[str, yaml.Node | None]]:
        """(path, key node or None) of every place in the tree, in document order; a repeated
        key's later places are listed (same path) but not entered: loading ignored them."""
        def walk(node: yaml.Node, path: str, key: yaml.Node | None, enter: bool
                 ) -> Iterator[tuple[str, yaml.Node | None]]:
            yield path, key
            if not enter:
                return
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for k, v in node.value:
                    sub = f"{path}.{k.value}" if path else str(k.value)
                    yield from walk(v, sub, k, sub not in seen)
                    seen.add(sub)
            elif isinstance(node, yaml.SequenceNode):
                for i, item in enumerate(node.value):
                    yield from walk(item, f"{path}[{i}]", None, True)
        if self.root is not None:
            yield from walk(self.root, "", None, True)

    def _path_of(self, target: yaml.Node) -> str:
        """The field path of a key node (a repeated key's path is its first place's)."""
        return next((path for path, key in self._places() if key is target), "")

    # Mapping: "path" -> the value's position, "path#key" -> its key's (Topology.positions)
    def __getitem__(self, path: str) -> Position:
        key = path.endswith("#key")
        node = self._node_at(path[:-4] if key else path, key)
        if node is None:
            raise KeyError(path)
        return self.pos(node)

    def __contains__(self, path: object) -> bool:
        try:
            self[str(path)]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        """Every path (and "path#key"), walking the whole tree: for completeness only."""
        listed: set[str] = set()
        for path, key in self._places():
            if path not in listed:
                listed.add(path)
                yield path
                if key is not None:
                    yield f"{path}#key"

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def where(self, path: str, key: bool = False) -> Position | None:
        if key and f"{path}#key" in self:
            return self[f"{path}#key"]
        while path:
            if path in self:
                return self[path]
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                break
            path = path[:cut]
        return self.pos(self.root) if self.root is not None else None


_CONSTRUCTOR = _Loader("")


def load_file(path: str | Path) -> Topology:
    """Load and validate a topology file; raises TopologyError listing every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        message = f"cannot read the file: {exc.strerror}"
        raise TopologyError([_issue_text(message, str(p))]) from None
    except UnicodeDecodeError:
        raise TopologyError([_issue_text("the file is not UTF-8 text", str(p))]) from None
    return load_text(text, str(p))


def _issue_text(message: str, file: str) -> Any:
    from .errors import Issue
    return Issue(message=message, where=Position(file, 1, 1))


def load_text(text: str, file: str = "<string>") -> Topology:
    """Load and validate a topology from YAML text."""
    issues = Collector()
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        issues.add(f"YAML syntax error: {exc.problem or exc}", where=where,
                   hint="fix the YAML syntax (indentation, quotes, ':' after keys)")
        issues.raise_if_any()
        raise AssertionError("unreachable") from None
    except yaml.YAMLError as exc:
        issues.add(f"YAML error: {exc}", where=Position(file, 1, 1))
        issues.raise_if_any()
        raise AssertionError("unreachable") from None
    if node is None:
        issues.add("the file is empty", where=Position(file, 1, 1),
                   hint="start with 'name: mylab' and a list of interfaces")
        issues.raise_if_any()
        raise AssertionError("unreachable")
    pos = _Positions(file, issues)
    try:
        data = pos.build_root(node)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        issues.add(f"YAML value error: {exc.problem}",
                   where=Position(file, mark.line + 1, mark.column + 1) if mark else None)
        issues.raise_if_any()
        raise AssertionError("unreachable") from None
    unvalidated: list[Any] = []
    topo = _build(data, pos, issues, unvalidated)
    if topo is not None:
        from .checks import resolve_checks
        from .validate import reporter, validate_topology
        validate_topology(topo, issues, unvalidated)
        base = Path(topo.source).parent
        for iface in topo.interfaces:
            iface.read_files(base, reporter(topo, issues, iface))
        resolve_checks(topo, issues)
    issues.raise_if_any()
    assert topo is not None
    return topo


def load_data(data: dict[str, Any], file: str = "<data>") -> Topology:
    """Validate a topology given as Python data (positions are then field paths only)."""
    return load_text(yaml.safe_dump(data, sort_keys=False), file)


def _build(data: Any, pos: _Positions, issues: Collector,
           unvalidated: list[Any]) -> Topology | None:
    """The topology of the parsed data, every entry validated alone; an interface entry that
    fails is reported, left out, and its name kept in `unvalidated` for validation."""
    if not isinstance(data, dict):
        issues.add("the file must be a mapping with name, namespaces, interfaces, routes",
                   where=pos.where(""), hint="start with 'name: mylab'")
        return None
    for key in data:
        if key not in TOP_LEVEL:
            _unknown_field(issues, pos, str(key), str(key), TOP_LEVEL)
    if "name" not in data:
        issues.add("the topology has no name", "name", pos.where(""),
                   "add 'name: mylab' (it tags every object vnet creates)")
    head = {k: data[k] for k in ("name", "namespaces") if k in data}
    name = "invalid"
    namespaces: list[str] = []
    try:
        parsed = _TopologyFile.model_validate({**head, "name": head.get("name", "x")})
        name, namespaces = parsed.name, parsed.namespaces
    except ValidationError as exc:
        _report(exc, issues, pos, "", _TopologyFile)
    topo = Topology(name=name, namespaces=namespaces, source=pos.file)

    raw_ifaces = data.get("interfaces") or []
    if not isinstance(raw_ifaces, list):
        issues.add("'interfaces' must be a list", "interfaces", pos.where("interfaces"),
                   "write each interface as a '- name: ...' item")
        raw_ifaces = []
    for i, raw in enumerate(raw_ifaces):
        path = f"interfaces[{i}]"
        iface = _build_interface(raw, path, pos, issues)
        if isinstance(iface, External):
            topo.externals.append(iface)
        elif iface is not None:
            topo.interfaces.append(iface)
        else:
            from .validate import Unvalidated
            stub = Unvalidated.of(raw, path)
            if stub is not None:
                unvalidated.append(stub)

    topo.routes = _load_list(data, "routes", Route, pos, issues,
                             "{to: default, via: 192.0.2.1}")
    topo.checks = _load_list(data, "checks", Check, pos, issues, "{from: h1, ping: 192.0.2.2}")
    topo.positions = pos
    return topo


def _load_list(data: dict[str, Any], key: str, model: type[Any], pos: _Positions,
               issues: Collector, example: str) -> list[Any]:
    """A top-level list of mappings (routes, checks), each validated by `model`."""
    raw_items = data.get(key) or []
    if not isinstance(raw_items, list):
        issues.add(f"'{key}' must be a list", key, pos.where(key),
                   f"write each item as '- {example}'")
        return []
    out = []
    for i, raw in enumerate(raw_items):
        path = f"{key}[{i}]"
        if not isinstance(raw, dict):
            issues.add(f"a {key[:-1]} must be a mapping like {example}", path, pos.where(path))
            continue
        try:
            out.append(model.model_validate(raw))
        except ValidationError as exc:
            _report(exc, issues, pos, path, model)
    return out


def _build_interface(raw: Any, path: str, pos: _Positions, issues: Collector) -> Any:
    if not isinstance(raw, dict):
        issues.add("an interface must be a mapping with at least name and kind", path,
                   pos.where(path), "write '- name: br0\\n    kind: bridge'")
        return None
    if raw.get("external") is True:
        cls: type[Common] = External
    elif "external" in raw and raw.get("external") is not True:
        issues.add("'external' can only be true (omit it for interfaces vnet creates)",
                   f"{path}.external", pos.where(f"{path}.external"))
        return None
    else:
        kind = raw.get("kind")
        if kind is None:
            issues.add("the interface has no kind", f"{path}.kind", pos.where(path),
                       "add 'kind: bridge' (or veth, vxlan, ...), or 'external: true' for an "
                       "existing interface vnet should not create")
            return None
        try:
            cls = kinds.lookup(str(kind))
        except KeyError as exc:
            issues.add(str(exc.args[0]), f"{path}.kind", pos.where(f"{path}.kind"),
                       "use one of the kinds `vnet kinds` lists as implemented")
            return None
    try:
        iface = cls.model_validate(raw)
    except ValidationError as exc:
        _report(exc, issues, pos, path, cls)
        return None
    iface._path = path
    return iface


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names valid at a location inside a model (for 'did you mean')."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        info = getattr(current, "model_fields", {}).get(part)
        if info is None:
            break
        current = _model_in(info.annotation)
    fields = getattr(current, "model_fields", {}) or {}
    return [info.alias or name for name, info in fields.items()]


def _model_in(annotation: Any) -> Any:
    import typing
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _unknown_field(issues: Collector, pos: _Positions, path: str, key: str,
                   valid: Any) -> None:
    valid = list(valid)
    synonym = next((f for f in _SYNONYMS.get(key.lower(), ()) if f in valid), None)
    close = [synonym] if synonym else difflib.get_close_matches(key, valid, n=1)
    if synonym == "master" and key.lower() in _PORT_LISTS:
        hint = ("did you mean 'master' on each port? vnet says membership on the port, as "
                "`ip link set PORT master NAME` does: write master: NAME on each port instead")
    elif close:
        hint = f"did you mean {close[0]!r}?"
    else:
        hint = f"valid fields: {', '.join(sorted(valid))}"
    issues.add(f"unknown field {key!r}", path, pos.where(path, key=True), hint)


#: a master's list of its ports, as other tools write it: vnet says `master:` on each port
_PORT_LISTS = ("slaves", "ports", "members", "interfaces", "bridge_ports", "bond_slaves")
#: the words other tools (ip, netplan, ifupdown, NetworkManager, containerlab) use for a field,
#: each with the fields it may mean, in order: the first one valid where it is written wins
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "vni": ("id",), "vxlan_id": ("id",), "vlan_id": ("id",), "vlanid": ("id",),
    "vid": ("id",), "tag": ("id",),
    "bridge": ("master",), "bond": ("master",), "team": ("master",), "parent_bridge": ("master",),
    **{word: ("master",) for word in _PORT_LISTS},
    "type": ("kind",), "namespace": ("netns", "namespaces"), "ns": ("netns",),
    "netns": ("namespaces",), "ip": ("addresses",), "ips": ("addresses",),
    "address": ("addresses",), "ipv4": ("addresses",), "ipv6": ("addresses",),
    "addr": ("addresses",), "addrs": ("addresses",),
    "parent": ("link", "dev"), "lower": ("link", "dev"), "device": ("dev", "link"),
    "hwaddr": ("mac",), "lladdr": ("mac",), "mac_address": ("mac",), "macaddress": ("mac",),
    "dst_port": ("dstport",), "port": ("dstport",), "destination_port": ("dstport",),
    "local_ip": ("local",), "remote_ip": ("remote",), "peer_ip": ("remote",),
    "gateway": ("via",), "gw": ("via",), "nexthop": ("via",), "next_hop": ("via",),
    "destination": ("to",), "dst": ("to",), "prefix": ("to",), "network": ("to",),
    "stp": ("stp_state",), "admin_state": ("state",), "status": ("state",),
    "links": ("interfaces",), "nodes": ("namespaces",), "topology": ("name",),
}


_HINTS = {
    "greater_than_equal": "use a value in the allowed range",
    "less_than_equal": "use a value in the allowed range",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "literal_error": "use one of the listed values",
    "missing": "add the field",
    "string_type": "write a string",
    "list_type": "write a list, e.g. [a, b]",
    "model_type": "write a mapping, e.g. {name: x}",
    "string_pattern_mismatch": "use letters, digits, '-' and '_' (at most 32, starting with a "
                               "letter or digit)",
}


def _report(exc: ValidationError, issues: Collector, pos: _Positions, base: str,
            model: type[BaseModel]) -> None:
    for err in exc.errors():
        loc = tuple(err["loc"])
        parts = [base] if base else []
        for part in loc:
            if isinstance(part, int):
                parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
            else:
                parts.append(str(part))
        path = ".".join(parts)
        if err["type"] == "extra_forbidden":
            _unknown_field(issues, pos, path, str(loc[-1]), _fields_at(model, loc[:-1]))
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] == "missing":
            msg = f"required field {loc[-1]!r} is missing"
        elif err["type"] not in ("value_error", "assertion_error"):
            msg = f"{msg} (got {err.get('input')!r})"
        issues.add(msg, path, pos.where(path), _HINTS.get(err["type"], ""))
