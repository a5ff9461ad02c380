"""vnet: one YAML file → Linux virtual networks. Validate, plan, apply, show, destroy.

    import vnet
    with vnet.load("examples/lab.yaml") as topo:   # applied on enter, destroyed on exit
        ...

The public API lives in `api` (Topology, the load functions, the Shown/Row/RouteRow/CheckRow
of `Topology.show`), `checks` (CheckResult, of `Topology.check`), `plan` (Plan) and `model`
(Route, json_schema); they are imported on first use, so `import vnet` and `vnet --help` load
neither the loader nor the kinds. docs/python-api.md describes it with examples.
"""

from __future__ import annotations

import importlib

from .errors import (
    ApplyError,
    ConflictError,
    Issue,
    KernelError,
    LockError,
    TopologyError,
    VnetError,
)

#: typing.TYPE_CHECKING without importing `typing`, a visible share of `vnet --help`
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .api import CheckRow, RouteRow, Row, Shown, Topology, load_data, load_file, load_text
    from .checks import CheckResult
    from .model import Route, json_schema
    from .plan import Plan

    load = load_file

#: public name -> (module, name in it)
_LAZY = {"Topology": ("api", "Topology"), "load": ("api", "load_file"),
         "load_file": ("api", "load_file"), "load_text": ("api", "load_text"),
         "load_data": ("api", "load_data"), "Route": ("model", "Route"),
         "json_schema": ("model", "json_schema"), "Shown": ("api", "Shown"),
         "Row": ("api", "Row"), "RouteRow": ("api", "RouteRow"),
         "CheckRow": ("api", "CheckRow"), "CheckResult": ("checks", "CheckResult"),
         "Plan": ("plan", "Plan")}


def __getattr__(name: str) -> object:
    """The public names of `api`, `checks`, `plan` and `model`, imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'vnet' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    globals()[name] = value
    return value


__all__ = ["ApplyError", "CheckResult", "CheckRow", "ConflictError", "Issue", "KernelError",
           "LockError", "Plan", "Route", "RouteRow", "Row", "Shown", "Topology",
           "TopologyError", "VnetError", "json_schema", "load", "load_data", "load_file",
           "load_text"]
__version__ = "0.1.0"
