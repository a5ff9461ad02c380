"""The validated topology as plain data: what `vnet.loader` builds and the planner reads.

Kept apart from `vnet.model` (whose routes, externals and kinds are the file's models) so that
what only handles a topology by name (`vnet destroy`, `vnet show`) imports no model.
`vnet.model` re-exports `Topology`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .datatypes import datatype, field
from .errors import Position

if TYPE_CHECKING:
    from .checks import Check
    from .events import Event
    from .hosts.spec import Host
    from .kinds.base import InterfaceBase
    from .model import External, Route


@datatype
class Topology:
    """A validated topology: plain data. `vnet.load` gives the public `vnet.Topology`, this
    data with the methods that act on the kernel (plan, apply, destroy, check)."""

    name: str
    namespaces: list[str] = field(default_factory=list)
    #: what the file says of a namespace beyond its name: name -> {"forwarding": True}
    namespace_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    interfaces: list[InterfaceBase] = field(default_factory=list)
    externals: list[External] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    #: the timeline `vnet run` plays (`vnet apply` and the exporters leave it out)
    events: list[Event] = field(default_factory=list)
    #: a file that spans hosts: its hosts, and the host of each namespace that says one
    #: (vnet.hosts splits such a file into one topology per host)
    hosts: list[Host] = field(default_factory=list)
    namespace_hosts: dict[str, str] = field(default_factory=dict)
    source: str = "<memory>"
    #: dotted field path -> position in the source file, for errors found after loading
    positions: Mapping[str, Position] = field(default_factory=dict, repr=False)

    def endpoints(self) -> list[InterfaceBase]:
        """Every interface end the topology creates (a veth counts twice, and an interface
        impaired on ingress brings its IFB)."""
        fixed = self.__dict__.get("_fixed_ends")
        if fixed is not None:
            return list(fixed)
        ends = [end for iface in self.interfaces for end in iface.expand()]
        if any(obj.impair is not None and obj.impair.direction != "egress"
               for obj in [*ends, *self.externals]):
            # what an interface receives is impaired on the egress of an IFB vnet makes
            from .kinds.ifb import ingress_ifbs
            ends += ingress_ifbs([*ends, *self.externals])
        return ends

    @contextmanager
    def ends_fixed(self) -> Iterator[None]:
        """Meanwhile `endpoints()` is made once, not on each call: for one plan or apply,
        which reads them several times (a veth's twin made anew each time showed in a no-op
        apply of thousands of interfaces) and during which nothing changes the topology."""
        if "_fixed_ends" in self.__dict__:
            yield
            return
        self.__dict__["_fixed_ends"] = self.endpoints()
        try:
            yield
        finally:
            del self.__dict__["_fixed_ends"]

    def where(self, path: str) -> Position | None:
        """Position of a field path like `interfaces[2].master` (or of its nearest parent)."""
        while path:
            if path in self.positions:
                return self.positions[path]
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                break
            path = path[:cut]
        return self.positions.get("", None)
