"""pyroute2's package imported without running its `__init__` until something needs it.

`pyroute2/__init__.py` imports every part of the library (NDB, IPDB, conntrack, nftables,
nl80211, ipset, plan9...) to offer them by name: a third of what importing pyroute2 costs
(50 ms of CPU on the development machine, seconds under the kernel tier's emulated CPU),
paid by every vnet process (and every probe child) that makes a link through pyroute2,
which then uses `pyroute2.iproute` and a few message classes alone.

`install()` (called when the door is imported) puts a finder first on `sys.meta_path` that
answers only the import of the package `pyroute2` itself, and only for the pyroute2 series
this was made with (0.9): the package module is made from pyroute2's own spec but its
`__init__` not run, so `import pyroute2.iproute` imports that module and what it imports,
no more. Any name asked of the package that is not a submodule (`from pyroute2 import
IPRoute`, `pyroute2.NDB`, `__version__`, `from pyroute2 import *`) runs pyroute2's own
`__init__` in the package module first, so a program that uses pyroute2 beside vnet sees the
library as it is. Another pyroute2 series is imported as usual.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType
from typing import Any

#: the package answered for
NAME = "pyroute2"
#: the pyroute2 series whose `__init__` only imports (no other effect): `0.9.`
SERIES = "0.9."


def _version(directory: str) -> str | None:
    """pyroute2's version, read from its `config/version.py` (not imported)."""
    try:
        with open(os.path.join(directory, "config", "version.py"), encoding="utf-8") as fh:
            text = fh.read(4096)
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "__version__":
            return value.strip().strip("'\"")
    return None


class _Loader:
    """Makes the package module from pyroute2's spec, its `__init__` kept for later."""

    def __init__(self, own: Any) -> None:
        self.own = own

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the usual module

    def __getattr__(self, name: str) -> Any:
        # the rest of a loader (its resource reader, `is_package`...): pyroute2's own
        return getattr(self.own, name)

    def exec_module(self, module: ModuleType) -> None:
        # a module `__getattr__` (PEP 562): asked only for names the package lacks
        own = self.own
        done: list[bool] = []

        def package_getattr(name: str) -> object:
            if not name.startswith("__") and \
                    PathFinder.find_spec(f"{NAME}.{name}", module.__path__) is not None:
                import importlib
                return importlib.import_module(f"{NAME}.{name}")
            if not done:  # pyroute2's own `__init__`, once, in this module
                done.append(True)
                own.exec_module(module)
                if name in module.__dict__:
                    return module.__dict__[name]
            raise AttributeError(f"module {NAME!r} has no attribute {name!r}")

        module.__getattr__ = package_getattr  # type: ignore[method-assign]


class _Finder:
    """First on sys.meta_path: the package `pyroute2` of the known series, `__init__`
    deferred; None (the usual finders) for any other module or series."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name != NAME:
            return None
        spec = PathFinder.find_spec(name)
        if spec is None or spec.loader is None or not spec.submodule_search_locations or \
                not hasattr(spec.loader, "exec_module"):
            return None
        version = _version(spec.submodule_search_locations[0])
        if version is None or not version.startswith(SERIES):
            return None
        loader: Any = _Loader(spec.loader)
        lean = ModuleSpec(name, loader, origin=spec.origin, is_package=True)
        lean.submodule_search_locations = spec.submodule_search_locations
        lean.has_location = spec.has_location
        return lean


def install() -> None:
    """Put the finder first on sys.meta_path (once), unless pyroute2 is imported already."""
    if NAME not in sys.modules and _Finder not in sys.meta_path:
        sys.meta_path.insert(0, _Finder)
