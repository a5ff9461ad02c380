"""The shape of the house: no import circle among vnet's modules, and the pure core (the file's
model, loader, validation, planner, renderers, kinds) imports nothing from the kernel door.

Imports are read from the source with `ast`, those inside functions included: a deferred
import still ties two modules together."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import vnet

SRC = Path(vnet.__file__).parent
#: modules that must never reach the kernel: they take data and return data
PURE = ("vnet.model", "vnet.topology", "vnet.loader", "vnet.validate", "vnet.plan", "vnet.actions",
        "vnet.checks", "vnet.observe", "vnet.record", "vnet.ownership", "vnet.secrets",
        "vnet.errors", "vnet.render", "vnet.kinds", "vnet.events", "vnet.hosts.spec",
        "vnet.hosts.rules", "vnet.hosts.split")


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The vnet modules `path` imports (a package's name stands for its __init__)."""
    me = _module(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("vnet")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("vnet"):
                continue
            # `from . import x` names a module when x is one
            subs = {f"{target}.{a.name}" for a in node.names}
            known = subs & MODULES
            found |= known or {target}
    return {m for m in found if m in MODULES and m != me}


MODULES = {_module(p) for p in SRC.rglob("*.py")}
GRAPH = {_module(p): _imports(p) for p in SRC.rglob("*.py")}


def _without_package_faces(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's __init__ that only re-exports (vnet, vnet.kinds) is the face of its
    modules, not a room of its own: imports of it by its own modules are not arrows back."""
    out = {}
    for mod, deps in graph.items():
        out[mod] = {d for d in deps if not (mod.startswith(d + ".") and d in ("vnet",))}
    return out


def test_the_import_graph_has_no_circle() -> None:
    sorter = graphlib.TopologicalSorter(_without_package_faces(GRAPH))
    try:
        sorter.prepare()
    except graphlib.CycleError as err:
        raise AssertionError(f"import circle: {' -> '.join(err.args[1])}") from None


def test_the_pure_core_never_imports_the_door() -> None:
    def reach(mod: str, seen: set[str]) -> set[str]:
        for dep in GRAPH[mod] - seen:
            seen.add(dep)
            reach(dep, seen)
        return seen
    pure = [m for m in MODULES if any(m == p or m.startswith(p + ".") for p in PURE)]
    assert len(pure) > 20
    for mod in pure:
        door = {m for m in reach(mod, set()) if m.startswith("vnet.door")}
        assert not door, f"{mod} reaches the kernel door through {sorted(door)}"


def test_the_graph_is_read() -> None:  # the tests above would pass on an empty graph
    assert "vnet.door.protocol" in GRAPH["vnet.api"]
    assert "vnet.kinds.base" in GRAPH["vnet.kinds.veth"]
