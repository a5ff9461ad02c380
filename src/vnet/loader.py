"""YAML → Topology, keeping the position of every value so each error names file:line:col.

Loading collects every issue it can find (schema and semantic) and raises one TopologyError
with all of them; nothing here touches the kernel.
"""

from __future__ import annotations

import os
import re
import reprlib
import stat
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import yaml

from . import kinds
from .datatypes import datatype, fields
from .declare import BaseModel, validation_errors
from .errors import Collector, Issue, Position, TopologyError
from .kinds.base import Common, InterfaceBase
from .model import NAMESPACE_TAGS, External, Route, _FileHead
from .secrets import hidden
from .topology import Topology

if TYPE_CHECKING:  # the file's name is text: pathlib only where it must normalise one
    from pathlib import Path

    from pydantic_core import ValidationError  # a twin's (vnet.declare): only for errors

try:  # the C loader when libyaml is there: faster start-up
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Base = yaml.SafeLoader


_SCALAR_NODE = yaml.ScalarNode


_STR_TAG = "tag:yaml.org,2002:str"
#: the first characters of a plain scalar that one of the safe loader's implicit types (bool,
#: int, float, null, timestamp, merge...) may start with; "" is the empty scalar's entry
_TYPED_FIRST = frozenset(cast(Any, _Base).yaml_implicit_resolvers)
#: whether text is told from its first character alone: no implicit type matches whatever
#: the first character (a None entry) and no path decides a tag (none in the safe loader)
_FIRST_DECIDES = None not in _TYPED_FIRST and not cast(Any, _Base).yaml_path_resolvers


class _Loader(_Base):
    """The safe loader, with each plain scalar's tag resolved once per distinct text: the
    resolver's regular expressions would run for every scalar, and a large file repeats the
    same few keys and kind names over and over. A scalar that can only be text is answered
    without the resolver: one that is quoted (or a block), or plain and starting with a
    character no implicit type starts with (`veth`, `kind`), or holding a '/' (no implicit
    type has one: `10.0.0.1/30`), which a large file has thousands of, each seen once."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        #: per (plain, quoted) flags of a scalar: text -> tag (one dict per flags, not a
        #: (text, flags) key: that tuple, made and hashed for every scalar, showed in the
        #: load of a large file)
        self._tags: dict[Any, dict[str, str]] = {}

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is not _SCALAR_NODE:
            return super().resolve(kind, value, implicit)
        if _FIRST_DECIDES and (not implicit[0] or (value and value[0] not in _TYPED_FIRST)
                               or "/" in value):
            return _STR_TAG
        tags = self._tags.get(implicit)
        if tags is None:
            tags = self._tags[implicit] = {}
        tag = tags.get(value)
        if tag is None:
            tag = tags[value] = super().resolve(kind, value, implicit)
        return tag

TOP_LEVEL = ("name", "hosts", "namespaces", "interfaces", "routes", "checks", "events")


@datatype(frozen=True)
class Limits:
    """How much of a file vnet agrees to read, so that any file, however hostile, gets an
    answer in well under 2 s and 200 MB: its size, the number of values it holds (an alias
    counted as all the values it repeats), its aliases, how deep its values nest, and how
    many characters a number may have. Each can be raised for one run by the environment
    variable in `ENVIRON` (`Limits.from_environ`), or given to `load_file`/`load_text`."""

    file_bytes: int = 4 * 1024 * 1024
    nodes: int = 100_000
    aliases: int = 1_000
    depth: int = 32
    digits: int = 100

    #: the environment variable that sets each limit
    ENVIRON = {"file_bytes": "VNET_MAX_FILE_BYTES", "nodes": "VNET_MAX_NODES",
               "aliases": "VNET_MAX_ALIASES", "depth": "VNET_MAX_DEPTH",
               "digits": "VNET_MAX_DIGITS"}
    #: the highest value each may take: past them Python itself fails (its recursion limit
    #: when building nested values, its 4300-digit limit on int(text)), not vnet's check
    CEILING = {"depth": 200, "digits": 4300}

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            ceiling = self.CEILING.get(f.name)
            if not isinstance(value, int) or value < 1 or (ceiling and value > ceiling):
                top = f" to {ceiling}" if ceiling else ""
                raise TopologyError([Issue(
                    f"{self.ENVIRON[f.name]}={value!r} is not a whole number from 1{top}",
                    where="environment",
                    hint=f"unset {self.ENVIRON[f.name]}, or set it to a number from 1{top} "
                         f"(default {f.default})")])

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, each replaced by its environment variable when that is set."""
        env = os.environ if environ is None else environ
        given: dict[str, Any] = {}
        for name, var in cls.ENVIRON.items():
            text = env.get(var, "").strip().replace("_", "")
            if text:
                given[name] = int(text) if text.isdigit() and len(text) < 20 else text
        return cls(**given)

    @classmethod
    def unbounded(cls) -> Limits:
        """No practical limit (the ceilings stay): for data vnet built itself."""
        big = 2**62
        return cls(file_bytes=big, nodes=big, aliases=big, depth=cls.CEILING["depth"],
                   digits=cls.CEILING["digits"])

    def hint(self, name: str, what: str) -> str:
        """How to get past limit `name`: `what` first, or raise it for one run."""
        var = self.ENVIRON[name]
        wanted = min(getattr(self, name) * 2, self.CEILING.get(name, 2**62))
        ceiling = f" (at most {self.CEILING[name]})" if name in self.CEILING else ""
        return f"{what}, or raise the limit{ceiling}: {var}={wanted} vnet ..."


class _Refused(Exception):
    """A limit stopped the reading of the file: one issue, raised as a TopologyError."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def _refuse(mark: Any, file: str, message: str, hint: str) -> None:
    raise _Refused(Issue(message, where=Position(file, mark.line + 1, mark.column + 1),
                         hint=hint))


def _too_many(mark: Any, file: str, limits: Limits) -> None:
    _refuse(mark, file, f"the file holds more than {limits.nodes} values (an alias counts as "
            "every value it repeats), vnet's limit",
            limits.hint("nodes", "make the file smaller, or use fewer aliases"))


def _too_deep(mark: Any, file: str, limits: Limits) -> None:
    _refuse(mark, file, f"values nest more than {limits.depth} levels deep here (an alias "
            "counts as the levels it repeats), vnet's limit",
            limits.hint("depth", "a topology needs only a few levels: flatten the value"))


def _plain(text: str, limits: Limits) -> bool:
    """Whether the text can be composed before its limits are checked: it has no anchor or
    alias (no `&` or `*` anywhere, not even inside a text or a comment), and either it has
    at most twice `limits.nodes` characters (it holds about as many nodes as characters at
    the very most: `?` alone on a line is a key and a value, two nodes of two characters) or
    `_node_bound` says it holds at most twice `limits.nodes` nodes. Composing such a text
    costs little whatever it holds (the worst, 200,000 characters of `?` lines, 0.6 s and
    90 MiB), and `_check_nodes` then counts its nodes and levels as `_scan_events` counts
    events; a file of thousands of interfaces is read once instead of twice (the scan cost as
    much as composing). Only with libyaml's C loader, which stops at 1,000 levels with a YAML
    error (then the scan runs and says vnet's limit): Python's own composer would recurse
    until Python's recursion limit stops it."""
    if _Base is yaml.SafeLoader or "&" in text or "*" in text:
        return False
    return len(text) <= 2 * limits.nodes or _node_bound(text) <= 2 * limits.nodes


def _node_bound(text: str) -> int:
    """At least as many as the nodes of a YAML text without anchors or aliases, counted in C
    (`str.count`). Besides the root, every node sits in an entry that one of YAML's
    indicators opens, and each opens at most: `{` a mapping and its first key and value (3);
    `[` a sequence and its first item (2); `,` the next key and value, or item (2); `:` a
    key and its value (2); `?` a key and its value (2); `-` a block sequence's item (1; a
    sequence itself is the value or item that holds it). A character inside a quoted text
    or a comment only makes the bound larger."""
    return (1 + 3 * text.count("{") + 2 * (text.count("[") + text.count(",") + text.count(":")
                                           + text.count("?")) + text.count("-"))


def _check_nodes(root: yaml.Node, file: str, limits: Limits) -> None:
    """`_scan_events`'s count of values and levels, on the nodes of a text without anchors
    or aliases (`_plain`): the same limits, passed at the same value, with the same words."""
    nodes = 0

    def walk(node: yaml.Node, level: int) -> None:
        nonlocal nodes
        if node.__class__ is not yaml.ScalarNode:
            if level >= limits.depth:
                _too_deep(node.start_mark, file, limits)
            nodes += 1
            if nodes > limits.nodes:
                _too_many(node.start_mark, file, limits)
            if node.__class__ is yaml.MappingNode:
                for key, value in node.value:
                    walk(key, level + 1)
                    walk(value, level + 1)
            else:
                for item in node.value:
                    walk(item, level + 1)
            return
        nodes += 1
        if nodes > limits.nodes:
            _too_many(node.start_mark, file, limits)

    walk(root, 0)


def _scan_events(text: str, file: str, limits: Limits) -> None:
    """Read the parser's events, cheap and before any node exists, and stop at the first
    limit the file passes: its values (an alias counted as all it repeats, so a "billion
    laughs" file stops after `limits.nodes` values, not after gigabytes), its aliases, its
    nesting (an alias adds the height of what it repeats), the text its values hold once
    aliases are replaced (at most the file size: a 4 MB text repeated by a thousand aliases
    would cost gigabytes in error messages), an anchor defined twice, and an alias inside
    the very value it names (a loop). libyaml builds nodes in C without any such check, and
    building plain data from them walks every alias again: both come only after this."""
    nodes = aliases = text_size = 0
    #: anchor -> (values, height, characters) of its complete value
    done: dict[Any, tuple[int, int, int]] = {}
    #: per open collection: [anchor, values before it, deepest level inside, characters before]
    stack: list[list[Any]] = []

    def refuse(event: Any, message: str, hint: str) -> None:
        _refuse(event.start_mark, file, message, hint)

    def too_many(event: Any) -> None:
        _too_many(event.start_mark, file, limits)

    def too_long(event: Any) -> None:
        refuse(event, f"the values of the file hold more than {limits.file_bytes} characters "
               "once each alias is replaced by the text it repeats, vnet's limit on a file's "
               "size", limits.hint("file_bytes", "repeat less text through aliases"))

    def too_deep(event: Any) -> None:
        _too_deep(event.start_mark, file, limits)

    defined: dict[Any, Any] = {}  # anchor -> where it was defined

    def define(event: Any) -> None:
        first = defined.setdefault(event.anchor, event.start_mark)
        if first is not event.start_mark:
            refuse(event, f"anchor &{event.anchor} is defined twice in the file (first at "
                   f"line {first.line + 1}, column {first.column + 1})",
                   "give each anchor its own name")

    loader = _Base(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            cls = event.__class__
            if getattr(event, "anchor", None) is not None and cls is not yaml.AliasEvent:
                define(event)
            if cls is yaml.ScalarEvent:
                nodes += 1
                text_size += len(event.value)
                if nodes > limits.nodes:
                    too_many(event)
                if event.anchor is not None:
                    done[event.anchor] = (1, 0, len(event.value))
            elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                if len(stack) >= limits.depth:
                    too_deep(event)
                stack.append([event.anchor, nodes, len(stack) + 1, text_size])
                nodes += 1
                if nodes > limits.nodes:
                    too_many(event)
            elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                anchor, before, reach, text_before = stack.pop()
                if stack:
                    stack[-1][2] = max(stack[-1][2], reach)
                if anchor is not None:
                    done[anchor] = (nodes - before, reach - len(stack), text_size - text_before)
            elif cls is yaml.AliasEvent:
                aliases += 1
                if aliases > limits.aliases:
                    refuse(event, f"the file uses more than {limits.aliases} aliases (*name), "
                           "vnet's limit", limits.hint("aliases", "repeat fewer values"))
                if any(entry[0] == event.anchor for entry in stack):
                    refuse(event, f"alias *{event.anchor} is inside the value &{event.anchor} "
                           "it repeats: it would repeat itself forever",
                           "an alias can only repeat a value that ends before it")
                # an unknown anchor: compose reports it
                size, height, chars = done.get(event.anchor, (1, 0, 0))
                if len(stack) + height > limits.depth:
                    too_deep(event)
                if stack:
                    stack[-1][2] = max(stack[-1][2], len(stack) + height)
                nodes += size
                text_size += chars
                if nodes > limits.nodes:
                    too_many(event)
                if text_size > limits.file_bytes:
                    too_long(event)
            elif cls is yaml.DocumentStartEvent:
                done.clear()  # anchors belong to one document
                defined.clear()
    finally:
        loader.dispose()


_PATH_PART = re.compile(r"([^.\[\]#]+)|\[(\d+)\]")
_INT_TAG = "tag:yaml.org,2002:int"


class _Positions(Mapping[str, Position]):
    """Turns a composed YAML node tree into plain data, and answers "where is this field
    path" (`interfaces[2].master`; `...#key` for the key's own place) by walking the tree.

    Positions are looked up only when an error needs one: a path -> position map of every
    value would be built on every load, while only errors read it."""

    def __init__(self, file: str, issues: Collector, limits: Limits | None = None):
        self.file = file
        self.issues = issues
        self.limits = limits or Limits()
        self.root: yaml.Node | None = None
        self._repeated: list[yaml.Node] = []

    def pos(self, node: yaml.Node) -> Position:
        return Position(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build_root(self, node: yaml.Node) -> Any:
        self.root = node
        data = self.build(node)
        if self._repeated:  # rare: find their paths now, in one walk of the tree
            paths = self._paths_of({id(node) for node in self._repeated})
            for key_node in self._repeated:
                self.issues.add(f"{_SHORT.repr(key_node.value)} appears twice in the same "
                                "mapping", paths.get(id(key_node), ""), self.pos(key_node),
                                "keep one of them")
        return data

    def build(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return node.value if node.tag == _STR_TAG else self.build_scalar(node)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                # keys are field names: keep their text, so YAML 1.1 does not read `on`, `no`
                # or `y` as booleans
                if not isinstance(key_node, yaml.ScalarNode):
                    self.issues.add("a key must be a plain word, not a list or a mapping",
                                    where=self.pos(key_node),
                                    hint="write the key as text, e.g. 'name:'")
                    continue
                key = key_node.value
                if key in out:
                    self._repeated.append(key_node)
                    continue
                out[key] = self.build(value_node)
            return out
        return [self.build(item) for item in node.value]

    def build_scalar(self, node: yaml.ScalarNode) -> Any:
        """A scalar as the safe loader constructs it (ints, bools, null, strings)."""
        if node.tag == _INT_TAG and len(node.value) > self.limits.digits:
            raise _Refused(Issue(
                f"this number has {len(node.value)} characters; vnet reads numbers of at most "
                f"{self.limits.digits}", where=self.pos(node),
                hint=self.limits.hint("digits", "write the number the field needs, or quote "
                                                "it if it is text")))
        # an unknown tag (`!!python/object:...`) is refused as the safe loader refuses it,
        # not silently read as a plain string
        constructor = _Loader.yaml_constructors.get(node.tag, _Loader.yaml_constructors[None])
        try:
            return constructor(_CONSTRUCTOR, node)
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError):
            # an explicit tag on text that is not of its type: `!!int abc`, `!!bool x`
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise _Refused(Issue(f"{node.value[:40]!r} is not a valid {tag}",
                                 where=self.pos(node),
                                 hint=f"remove the tag {tag}, or fix the value")) from None

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

    def _paths_of(self, targets: set[int]) -> dict[int, str]:
        """The field path of each key node whose id is in `targets` (a repeated key's path
        is its first place's), found in one walk: a file may repeat a key thousands of
        times."""
        found: dict[int, str] = {}
        for path, key in self._places():
            if key is not None and id(key) in targets:
                found.setdefault(id(key), path)
        return found

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


def load_file(path: str | Path, limits: Limits | None = None) -> Topology:
    """Load and validate a topology file; raises TopologyError listing every problem.

    Only a regular file is read (a FIFO or a device could block or never end), and at most
    `limits.file_bytes` of it; `limits` defaults to `Limits.from_environ()`."""
    p = _path_text(path)
    limits = limits or Limits.from_environ()
    try:
        data = _read_regular(p, limits)
    except _Refused as exc:
        raise TopologyError([exc.issue]) from None
    except OSError as exc:
        message = f"cannot read the file: {exc.strerror or exc}"
        raise TopologyError([_issue_text(message, str(p))]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise TopologyError([Issue(
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be read",
            where=Position(str(p), line, col),
            hint="save the file as UTF-8 text")]) from None
    return load_text(text, str(p), limits)


def _path_text(path: str | Path) -> str:
    """The file's name as positions show it: as pathlib writes it (`./lab.yaml` is
    `lab.yaml`), with pathlib imported only for a name it would write otherwise."""
    text = os.fspath(path)
    if text in ("", ".") or text.startswith("./") or text.endswith(("/", "/.")) or \
            "//" in text or "/./" in text:
        from pathlib import Path
        return str(Path(text))
    return text


def _read_regular(p: str, limits: Limits) -> bytes:
    """The bytes of a regular file of at most `limits.file_bytes`; `_Refused` otherwise."""
    # O_NONBLOCK: opening a FIFO that has no writer must not wait for one
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _Refused(_issue_text("this is a directory, not a topology file", str(p),
                                       "name a .yaml file inside it"))
        if not stat.S_ISREG(info.st_mode):
            what = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else \
                "a device or socket"
            raise _Refused(_issue_text(
                f"this is {what}, not a regular file: vnet reads a topology only from a "
                "regular file", str(p), "save the topology to a file and name that file"))
        if info.st_size > limits.file_bytes:
            raise _Refused(_too_big(str(p), info.st_size, limits))
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 20):  # the file may grow while it is read
            size += len(chunk)
            if size > limits.file_bytes:
                raise _Refused(_too_big(str(p), size, limits))
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_big(file: str, size: int, limits: Limits) -> Issue:
    return _issue_text(f"the file has {size} bytes or more; vnet reads files of at most "
                       f"{limits.file_bytes} bytes", file,
                       limits.hint("file_bytes", "split the topology into smaller files"))


def _issue_text(message: str, file: str, hint: str = "") -> Issue:
    return Issue(message=message, where=Position(file, 1, 1), hint=hint)


def load_text(text: str, file: str = "<string>", limits: Limits | None = None) -> Topology:
    """Load and validate a topology from YAML text; `limits` defaults to
    `Limits.from_environ()`."""
    limits = limits or Limits.from_environ()
    issues = Collector()
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    try:
        if size > limits.file_bytes:
            raise _Refused(_too_big(file, size, limits))
        if _plain(text, limits):
            try:
                node = yaml.compose(text, Loader=_Loader)
            except yaml.YAMLError:
                # a limit passed before the error in the file is said instead, as when the
                # scan comes first; the scan meets the parser's own error where compose did
                _scan_events(text, file, limits)
                raise
            if node is not None:
                _check_nodes(node, file, limits)
        else:
            _scan_events(text, file, limits)
            node = yaml.compose(text, Loader=_Loader)
    except _Refused as exc:
        raise TopologyError([exc.issue]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        what = ", ".join(str(part) for part in (exc.context, exc.problem) if part) or str(exc)
        issues.add(f"YAML syntax error: {what}", where=where,
                   hint="fix the YAML syntax (indentation, quotes, ':' after keys)")
        issues.raise_if_any()
        raise AssertionError("unreachable") from None
    except yaml.reader.ReaderError as exc:
        issues.add(_reader_problem(exc), where=_offset_position(text, exc.position, file),
                   hint="remove it: a topology file is plain text")
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
    pos = _Positions(file, issues, limits)
    try:
        data = pos.build_root(node)
    except _Refused as exc:
        raise TopologyError([exc.issue]) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        issues.add(f"YAML value error: {exc.problem}",
                   where=Position(file, mark.line + 1, mark.column + 1) if mark else None)
        issues.raise_if_any()
        raise AssertionError("unreachable") from None
    unvalidated: list[Any] = []
    topo = _build(data, pos, issues, unvalidated)
    if topo is not None:
        from .validate import reporter, validate_topology
        validate_topology(topo, issues, unvalidated)
        # the entries whose kind reads files (MACsec, WireGuard keys): pathlib only for them
        readers = [i for i in topo.interfaces
                   if type(i).read_files is not InterfaceBase.read_files]
        if readers:
            from pathlib import Path
            base = Path(topo.source).parent
            for iface in readers:
                iface.read_files(base, reporter(topo, issues, iface))
        if topo.checks:
            from .checks import resolve_checks
            resolve_checks(topo, issues)
        if topo.events:
            from .events import resolve_events
            resolve_events(topo, issues)
    issues.raise_if_any()
    assert topo is not None
    return topo


def _reader_problem(exc: yaml.reader.ReaderError) -> str:
    """The reader's refusal of a character, in words."""
    char = exc.character
    code = char if isinstance(char, int) else ord(char) if isinstance(char, str) and \
        len(char) == 1 else None
    if code is None:
        return f"the text cannot be read as YAML: {exc.reason}"
    name = {0: " (NUL)"}.get(code, "")
    return (f"the file holds the character U+{code:04X}{name}, which YAML does not allow "
            "in a file (control characters, except tab and line breaks)")


def _offset_position(text: str, offset: int, file: str) -> Position:
    """The line and column of a character offset in `text`."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    return Position(file, line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def load_data(data: dict[str, Any], file: str = "<data>") -> Topology:
    """Validate a topology given as Python data (positions are then field paths only).

    The data comes from a program, not from a file of unknown origin: the size limits of
    `Limits` do not apply to it (a capture of a large live topology is loaded this way)."""
    return load_text(yaml.safe_dump(data, sort_keys=False), file, Limits.unbounded())


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
    head = {k: data[k] for k in ("name", "hosts", "namespaces") if k in data}
    name = "invalid"
    namespaces: list[str] = []
    hosts: list[Any] = []
    namespace_hosts: dict[str, str] = {}
    ns_options: dict[str, dict[str, Any]] = {}
    try:
        parsed = _FileHead.model_validate({**head, "name": head.get("name", "x")})
        name, hosts = parsed.name, parsed.hosts
        for ns in parsed.namespaces:
            if isinstance(ns, str):
                namespaces.append(ns)
                continue
            namespaces.append(ns.name)
            if ns.host is not None:
                namespace_hosts.setdefault(ns.name, ns.host)
            options = ns.model_dump(exclude_none=True, exclude={"name", "host"})
            if options:
                ns_options[ns.name] = options
    except validation_errors() as exc:
        _report(exc, issues, pos, "", _FileHead)
    topo = Topology(name=name, namespaces=namespaces, namespace_options=ns_options,
                    source=pos.file, hosts=hosts, namespace_hosts=namespace_hosts)

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
    # the models of checks and events are imported only by a file that has some
    if data.get("checks"):
        from .checks import Check
        topo.checks = _load_list(data, "checks", Check, pos, issues,
                                 "{from: h1, ping: 192.0.2.2}")
    if data.get("events"):
        from .events import Event
        topo.events = _load_list(data, "events", Event, pos, issues,
                                 "{at: 10s, link: h1/eth0, down: true}")
    topo.positions = pos
    return topo


def _load_list(data: dict[str, Any], key: str, model: type[Any], pos: _Positions,
               issues: Collector, example: str) -> list[Any]:
    """A top-level list of mappings (routes, checks, events), each validated by `model`."""
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
        except validation_errors() as exc:
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
    except validation_errors() as exc:
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
    import difflib  # only for an error
    close = [synonym] if synonym else difflib.get_close_matches(key, valid, n=1)
    renamed = _RENAMED.get(key)
    if renamed and renamed.split(":")[0] in valid:
        hint = f"vnet now spells it as ip does: write {renamed} instead"
    elif synonym == "master" and key.lower() in _PORT_LISTS:
        hint = ("did you mean 'master' on each port? vnet says membership on the port, as "
                "`ip link set PORT master NAME` does: write master: NAME on each port instead")
    elif close:
        hint = f"did you mean {close[0]!r}?"
    else:
        hint = f"valid fields: {', '.join(sorted(valid))}"
    issues.add(f"unknown field {_SHORT.repr(key)}", path, pos.where(path, key=True), hint)


#: fields an earlier vnet spelled otherwise -> what says it now (ip's spelling)
_RENAMED = {"replay_protect": "replay", "encoding_sa": "encodingsa",
            "nopromisc": "flag: nopromisc"}
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


#: a value as an error quotes it: a file may hold a value of megabytes, or nested deep
_SHORT = reprlib.Repr()  # (Python 3.11's takes no arguments)
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 60, 60
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxtuple = _SHORT.maxset = 10


def _report(exc: ValidationError, issues: Collector, pos: _Positions, base: str,
            model: type[BaseModel]) -> None:
    for err in exc.errors():
        loc = tuple(err["loc"])
        parts = [base] if base else []
        for part in loc:
            if part in NAMESPACE_TAGS:
                continue  # which form of a namespace entry: not a field of the file
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
            shown = hidden(err.get("input"), loc[-1] if loc else None)
            msg = f"{msg} (got {_SHORT.repr(shown)})"
        issues.add(msg, path, pos.where(path), _HINTS.get(err["type"], ""))
