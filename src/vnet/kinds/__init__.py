"""The kind registry: kind name -> the class that knows everything about that kind.

Adding a kind is adding one file here that defines a subclass of `InterfaceBase` decorated with
`@register`; every module of this package but `base` is a kind file.

Kind files are imported when first needed: `lookup("veth")` imports `veth.py` alone (the file
named after its kind, or the one FILES names; otherwise every kind file), and `registry()`
imports them all: making
the classes of every kind shows in a small file's `vnet validate`, so a command makes only
those it uses (figures: docs/performance-notes.md).
"""

from __future__ import annotations

import functools
import importlib
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `base` declares the models: the registry alone (a teardown) needs none
    from .base import InterfaceBase

REGISTRY: dict[str, type[InterfaceBase]] = {}

#: the kind file of each kind name and kernel kind not named after its file (tap and tun in
#: tuntap.py, ipvtap in ipvlan.py): without it, asking one of them imported every kind file
#: (45 ms, a second under the kernel tier's emulated CPU). tests/unit/test_kinds_registry.py
#: holds it to the classes.
FILES = {"tap": "tuntap", "tun": "tuntap", "ipvtap": "ipvlan"}


def register(cls: type[InterfaceBase]) -> type[InterfaceBase]:
    """Class decorator: add a kind to the registry; a second kind of the same name is a bug."""
    name = cls.kind_name
    if not name:
        raise TypeError(f"{cls.__name__} names no kind: declare kind: Literal[\"NAME\"]")
    if name in REGISTRY:
        raise TypeError(f"kind {name!r} registered twice")
    REGISTRY[name] = cls
    return cls


def registry() -> dict[str, type[InterfaceBase]]:
    """Every implemented kind, name -> class (all kind files imported)."""
    if not _ALL_IMPORTED:
        _import_kind_files()
    return REGISTRY


def ordered() -> list[type[InterfaceBase]]:
    """Every kind, in the order `vnet kinds` lists them (each class's `listed`)."""
    return sorted(registry().values(), key=lambda cls: (cls.listed, cls.kind_name))


def lookup(kind: str) -> type[InterfaceBase]:
    """The class of an implemented kind; KeyError with the valid names otherwise."""
    cls = REGISTRY.get(kind)
    if cls is None:
        _import_file_of(kind)
        cls = REGISTRY.get(kind) or registry().get(kind)
    if cls is None:
        raise KeyError(unknown_kind_message(kind))
    return cls


def unknown_kind_message(kind: str) -> str:
    import difflib  # only for an error
    registry()
    if len(kind) > 40:  # no kind is this long; difflib over megabytes costs seconds and MBs
        shown, close = f"{kind[:40]!r}... ({len(kind)} chars)", []
    else:
        shown, close = repr(kind), difflib.get_close_matches(kind, list(REGISTRY), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown kind {shown}; {hint}valid kinds: {', '.join(sorted(REGISTRY))}"


def by_kernel_kind(kernel_kind: str | None) -> type[InterfaceBase] | None:
    """The class that decodes a link the kernel reports with this IFLA_INFO_KIND.

    The classes of one kernel kind all live in one kind file, named after the kernel kind or
    in FILES (unit tests hold both), so that file is imported alone, as `lookup` does, and a
    kernel kind with no such file (a host's sit0 or gre0, a VRF) has no class: every kind
    file imported to learn it cost 45 ms, seconds under the kernel tier's emulated CPU."""
    def first(classes: dict[str, type[InterfaceBase]]) -> type[InterfaceBase] | None:
        return next((cls for cls in classes.values()
                     if (cls.kernel_kind or cls.kind_name) == kernel_kind), None)
    if not kernel_kind:  # no IFLA_INFO_KIND (lo, a physical NIC): no kind's class, and no
        return None      # need to import every kind file to learn that
    if not _import_file_of(kernel_kind):
        return first(REGISTRY)  # none of the kind files (a class registered elsewhere?)
    return first(REGISTRY) or first(registry())


def _import_file_of(name: str) -> bool:
    """Import the kind file of a kind name or kernel kind, if there is one (named after it,
    or in FILES); whether there is."""
    file = FILES.get(name, name)
    if file not in _kind_files():
        return False
    importlib.import_module(f"{__name__}.{file}")
    return True


# What the door and the planner ask of a live link's kind, by kernel kind, answered without
# importing its class (a model): a teardown imports the kind files of REMOVAL_HOOKS
# alone, so `vnet destroy NAME` of other kinds imports no kind file. A unit test
# (tests/unit/test_kinds_registry.py) holds each set to what `by_kernel_kind`'s class says.
#: the kinds made as a pair, one end deleting the other (the class's `paired`)
PAIRED = frozenset({"veth", "vxcan"})
#: the kinds whose class reads traffic control (`reads_tc`)
READS_TC = frozenset({"ifb"})
#: the kinds whose class declares static FDB entries (an `fdb` field)
KEEPS_FDB = frozenset({"vxlan"})
#: the kinds whose class undoes something before an owned link goes (`plan_removal`)
REMOVAL_HOOKS = frozenset({"ifb", "team"})


def plan_removal(netns_state: Any, live: Any) -> list[Any]:
    """The Actions of `live`'s kind before that owned link is removed (its class's
    `plan_removal`; none for a kind that overrides nothing)."""
    if live.kind not in REMOVAL_HOOKS:
        return []
    cls = by_kernel_kind(live.kind)
    return cls.plan_removal(netns_state, live) if cls is not None else []


@functools.cache
def _kind_files() -> frozenset[str]:
    """The kind files of this package (module names); importing one registers its kinds.
    Listed on first use: a teardown that asks only the sets above never lists them."""
    return frozenset(name[:-3] for folder in __path__ for name in os.listdir(folder)
                     if name.endswith(".py") and name != "base.py" and
                     not name.startswith("_"))


_ALL_IMPORTED: list[bool] = []


def _import_kind_files() -> None:
    for name in sorted(_kind_files()):
        importlib.import_module(f"{__name__}.{name}")
    _ALL_IMPORTED.append(True)
