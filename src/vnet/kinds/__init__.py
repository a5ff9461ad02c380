"""The kind registry: kind name -> the class that knows everything about that kind.

Adding a kind is adding one file here that defines a subclass of `InterfaceBase` decorated with
`@register`; every module of this package but `base` is a kind file.

Kind files are imported when first needed: `lookup("veth")` imports `veth.py` alone (a file
named after its kind; otherwise every kind file), and `registry()` imports them all. Building
the pydantic models of every kind cost about a fifth of a `vnet validate` of a three-kind file.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil

from .base import InterfaceBase, NotImplementedKind

REGISTRY: dict[str, type[InterfaceBase]] = {}
NOT_IMPLEMENTED: dict[str, NotImplementedKind] = {}

#: the order `vnet kinds` lists them in (as KINDS.md does)
ORDER = ["bridge", "bond", "team", "vlan", "vxlan", "macvlan", "ipvlan", "macvtap", "ipvtap",
         "macsec", "veth", "vcan", "vxcan", "ipoib", "nlmon", "dummy", "ifb", "tun", "tap"]


def register(cls: type[InterfaceBase]) -> type[InterfaceBase]:
    """Class decorator: add a kind to the registry; a second kind of the same name is a bug."""
    name = cls.kind_name
    if not name:
        raise TypeError(f"{cls.__name__} has no kind_name")
    if name in REGISTRY or name in NOT_IMPLEMENTED:
        raise TypeError(f"kind {name!r} registered twice")
    REGISTRY[name] = cls
    return cls


def registry() -> dict[str, type[InterfaceBase]]:
    """Every implemented kind, name -> class (all kind files imported)."""
    if not _ALL_IMPORTED:
        _import_kind_files()
    return REGISTRY


def lookup(kind: str) -> type[InterfaceBase]:
    """The class of an implemented kind; KeyError with the valid names otherwise."""
    cls = REGISTRY.get(kind)
    if cls is None:
        if kind in _KIND_FILES:
            importlib.import_module(f"{__name__}.{kind}")
        cls = REGISTRY.get(kind) or registry().get(kind)
    if cls is None:
        raise KeyError(unknown_kind_message(kind))
    return cls


def unknown_kind_message(kind: str) -> str:
    registry()
    if kind in NOT_IMPLEMENTED:
        return (f"kind {kind!r} is not implemented in this version of vnet yet "
                f"(`vnet kinds` lists what is); implemented: {', '.join(sorted(REGISTRY))}")
    close = difflib.get_close_matches(kind, list(REGISTRY) + list(NOT_IMPLEMENTED), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown kind {kind!r}; {hint}valid kinds: {', '.join(sorted(REGISTRY))}"


def by_kernel_kind(kernel_kind: str | None) -> type[InterfaceBase] | None:
    """The class that decodes a link the kernel reports with this IFLA_INFO_KIND.

    The classes of one kernel kind all live in one kind file (a unit test holds this), so a
    class found among those already imported is the one: a file named after the kernel kind
    is imported alone first, as `lookup` does."""
    def first(classes: dict[str, type[InterfaceBase]]) -> type[InterfaceBase] | None:
        return next((cls for cls in classes.values()
                     if (cls.kernel_kind or cls.kind_name) == kernel_kind), None)
    if not kernel_kind:  # no IFLA_INFO_KIND (lo, a physical NIC): no kind's class, and no
        return None      # need to import every kind file to learn that (0.1 s)
    if kernel_kind in _KIND_FILES:
        importlib.import_module(f"{__name__}.{kernel_kind}")
    return first(REGISTRY) or first(registry())


def _not_yet(name: str, kernel_kind: str, use_when: str, *probe: str) -> None:
    NOT_IMPLEMENTED[name] = NotImplementedKind(name, kernel_kind, use_when, list(probe))


# Kinds of KINDS.md that a later version implements: listed honestly, never as working.


#: the kind files of this package (module names); importing one registers its kinds
_KIND_FILES = frozenset(mod.name for mod in pkgutil.iter_modules(__path__)
                        if mod.name != "base" and not mod.name.startswith("_"))
_ALL_IMPORTED: list[bool] = []


def _import_kind_files() -> None:
    for name in sorted(_KIND_FILES):
        importlib.import_module(f"{__name__}.{name}")
    _ALL_IMPORTED.append(True)
