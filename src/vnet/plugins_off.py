"""pydantic's plugin loader, stood in for while vnet has asked pydantic for no plugins.

pydantic imports its plugin loader (`pydantic.plugin._loader`) when it builds its first model,
and that module imports `importlib.metadata` (and with it `email`, `socket`, `zipfile`...) at
its top, whatever `PYDANTIC_DISABLE_PLUGINS` says: about a tenth of `vnet validate`'s time,
spent to learn that there are no plugins to load. While the CLI loads a file with
`PYDANTIC_DISABLE_PLUGINS=__all__` set by its own choice, `stand_in()` puts a small module in
the loader's place whose `get_plugins()` answers "none" as pydantic's own would. Anything
else asked of it, or `get_plugins()` asked once plugins are no longer disabled, imports
pydantic's own loader, puts it back in its place and answers with it; `withdraw()` takes the
stand-in away when loading ends. The stand-in is used only with a pydantic whose plugin
loader it knows (a `pydantic/plugin/_loader.py` beside the schema validator that calls it).
"""

from __future__ import annotations

import os
import sys
import types

#: the module stood in for
LOADER = "pydantic.plugin._loader"
#: the values of PYDANTIC_DISABLE_PLUGINS with which pydantic's own loader loads no plugin
_NONE = ("__all__", "1", "true")


class _StandIn(types.ModuleType):
    """In `sys.modules[LOADER]` while vnet has disabled plugins: no plugins, and pydantic's
    own loader for anything else."""

    def get_plugins(self) -> tuple[()] | object:
        """No plugins while they are disabled (as pydantic's own `get_plugins`), else
        pydantic's own answer."""
        if os.environ.get("PYDANTIC_DISABLE_PLUGINS") in _NONE:
            return ()
        return self._own().get_plugins()

    def __getattr__(self, name: str) -> object:
        # called only for what the stand-in lacks: pydantic's own loader has it
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(self._own(), name)

    def _own(self) -> types.ModuleType:
        """pydantic's own loader, imported and put back in its place."""
        if sys.modules.get(LOADER) is self:
            del sys.modules[LOADER]
        import importlib
        return importlib.import_module(LOADER)


def _known_pydantic() -> bool:
    """Whether this pydantic's plugin loader is the one the stand-in replaces: pydantic 2's
    `pydantic/plugin/_loader.py`, next to the schema validator that imports it when called."""
    plugin = sys.modules.get("pydantic.plugin")
    validator = sys.modules.get("pydantic.plugin._schema_validator")
    version = getattr(sys.modules.get("pydantic.version"), "VERSION", "")
    if plugin is None or validator is None or not str(version).startswith("2."):
        return False
    if not hasattr(validator, "create_schema_validator"):
        return False
    where = getattr(plugin, "__file__", None)
    if not isinstance(where, str):
        return False
    return os.path.isfile(os.path.join(os.path.dirname(where), "_loader.py"))


def stand_in() -> bool:
    """Put the stand-in in place of pydantic's plugin loader, if pydantic is imported, its
    loader is not, and it is a pydantic the stand-in knows; whether it was put in place.
    Call it only while PYDANTIC_DISABLE_PLUGINS is set to `__all__` by vnet itself."""
    if LOADER in sys.modules or not _known_pydantic():
        return False
    sys.modules[LOADER] = _StandIn(LOADER, __doc__)
    return True


def withdraw() -> None:
    """Take the stand-in away (if still in place): the next model pydantic builds imports
    its own loader, and reads PYDANTIC_DISABLE_PLUGINS as it is then."""
    if isinstance(sys.modules.get(LOADER), _StandIn):
        del sys.modules[LOADER]
