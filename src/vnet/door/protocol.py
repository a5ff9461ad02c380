"""The kernel door: what vnet asks of a kernel, declared once.

`Kernel` is the Protocol that the live kernel (`door.netlink.Netlink`) and the in-memory one
(`door.fake.FakeKernel`) both implement; `api` and `apply` know no other. What may be asked is
the catalogue `vnet.actions.OPERATIONS` (pure data: the planner and the kinds build Requests
without importing this package); each kernel maps every operation of it to a handler in one
table, and a unit test holds both tables to the catalogue.

`Scope` says what observing must read. Everything in it beyond `namespaces` is an economy of
the live kernel: a kernel may read more than asked (the fake reads everything), never less.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol

from ..actions import OPERATIONS, Request
from ..datatypes import datatype
from ..errors import KernelError
from ..observe import NetnsState, Observed

#: what `Kernel.stray_netns` calls the one kind of stray entry `netns.add` replaces
STRAY_EMPTY_FILE = "an empty file"

#: a handler: carries out one request's arguments in one namespace
Handler = Callable[..., None]


@datatype(frozen=True)
class Scope:
    """What `Kernel.observe` reads: the `namespaces` (None: where vnet runs) that exist, and
    of them only what planning needs. A field left None means everywhere."""

    namespaces: Sequence[str | None]
    #: of these, only the links, lean (names, kinds, marks, a pair's other end): a teardown
    #: deletes them whole, once it has named what inside them is not vnet's
    shallow: Collection[str] = ()
    #: where routes vnet did not make are read (planning refuses to take over those)
    route_netns: Collection[str | None] | None = None
    #: where traffic control is read (besides namespaces holding a kind that reads it)
    tc_netns: Collection[str | None] | None = None
    #: where bridge VLANs are read (only a declared `vlans` list is planned)
    vlan_netns: Collection[str | None] | None = None
    #: where addresses are read
    addr_netns: Collection[str | None] | None = None
    #: whether links' kind options (IFLA_INFO_DATA) and port options (what a master keeps of
    #: a port) are decoded; a teardown compares none
    kind_options: bool = True
    #: whether port options are decoded, where it differs from `kind_options` (None: as
    #: it): `show` reports them without reading kind options
    port_options: bool | None = None
    #: whether what kinds keep beyond their links is read (traffic control where a live link's
    #: kind reads it, FDB entries, teamd, MACsec SAs), which asks the kinds; `show` reads none
    #: of it (and so imports no kind)
    kind_state: bool = True
    #: whether packet counters are read (planning never reads them; `show --stats` does)
    counters: bool = False

    def reads(self, field: Collection[str | None] | None, netns: str | None) -> bool:
        """Whether one of the per-namespace fields covers `netns`."""
        return field is None or netns in field


class Kernel(Protocol):
    """A kernel behind vnet's one door."""

    #: the operations `send_bulk` takes together (runs of deletions)
    BULK_OPS: frozenset[str]

    def operations(self) -> Mapping[str, Handler]:
        """Every operation of the catalogue -> its handler `(netns, **args)`."""
        ...

    def observe(self, scope: Scope) -> Observed:
        """The state of the scope's namespaces that exist."""
        ...

    def list_netns(self) -> set[str]:
        """The named namespaces that exist."""
        ...

    def stray_netns(self) -> dict[str, str]:
        """Entries where named namespaces live that are not namespaces (a file left by an
        interrupted creation), each with what it is ("an empty file", "a directory"). A
        `netns.add` of such a name replaces an empty file and refuses anything else."""
        ...

    def netns_owner(self, netns: str) -> str | None:
        """The topology whose mark a named namespace's loopback carries, if any."""
        ...

    def read_netns(self, netns: str | None) -> NetnsState:
        """One namespace in full, packet counters included (for `show`)."""
        ...

    def send(self, requests: Sequence[Request]) -> None:
        """Carry out requests in order; the first refusal raises KernelError naming it."""
        ...

    def send_bulk(self, batches: Sequence[Sequence[Request]]) -> tuple[int, KernelError | None]:
        """Carry out consecutive actions made only of BULK_OPS requests together; how many
        actions are done, and the error of the first that failed (None: all done)."""
        ...

    def batchable(self, request: Request) -> bool:
        """Whether `send_batched` can carry out this request."""
        ...

    def send_batched(self, batches: Sequence[Sequence[Request]],
                     progress: Callable[[int], None] | None = None,
                     ) -> tuple[list[int], tuple[int, KernelError] | None]:
        """Carry out consecutive actions made only of batchable requests, many to a system
        call: the positions of the actions done (an action counts once its first request is),
        and the first that failed with its error (None: none failed)."""
        ...

    def close(self) -> None:
        """Let go of sockets and other resources."""
        ...


def check_table(kernel: str, table: Mapping[str, Handler]) -> Mapping[str, Handler]:
    """A kernel's operation table, refused unless it covers the catalogue exactly."""
    missing = OPERATIONS.keys() - table.keys()
    extra = table.keys() - OPERATIONS.keys()
    if missing or extra:
        raise TypeError(f"{kernel}: operations missing {sorted(missing)}, not in the catalogue "
                        f"{sorted(extra)}")
    return table


__all__ = ["OPERATIONS", "STRAY_EMPTY_FILE", "Handler", "Kernel", "Scope", "check_table"]
