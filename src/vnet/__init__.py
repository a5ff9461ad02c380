"""vnet: one YAML file → Linux virtual networks. Validate, plan, apply, show, destroy.

    import vnet
    with vnet.load("examples/lab.yaml") as topo:   # applied on enter, destroyed on exit
        ...
"""

from .errors import (
    ApplyError,
    ConflictError,
    Issue,
    KernelError,
    LockError,
    TopologyError,
    VnetError,
)
from .load import load_data, load_file, load_text
from .model import Route, Topology, json_schema

load = load_file

__all__ = ["ApplyError", "ConflictError", "Issue", "KernelError", "LockError", "Route",
           "Topology", "TopologyError", "VnetError", "json_schema", "load", "load_data",
           "load_file", "load_text"]
__version__ = "0.1.0"
