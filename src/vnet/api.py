"""The operations a user asks for (plan, apply, destroy, show, check), joining the pure core to
the kernel door. The CLI and the Python API both call these; `Topology` and the `load_*`
functions here are the public Python API that `vnet` re-exports."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import model
from .actions import Action
from .apply import execute_plan
from .door.protocol import Kernel, Scope
from .observe import Observed
from .plan import Plan, namespaces_to_observe, plan_changes, plan_teardown
from .record import Record, parse_ext_key
from .store import host_lock, read_record, write_record


class Topology(model.Topology):
    """A loaded topology that can act on the kernel: `vnet.load(PATH).apply()`, or as a
    context manager that applies on enter and destroys on exit."""

    @classmethod
    def of(cls, data: model.Topology) -> Topology:
        """The same topology, with the methods."""
        return cls(**{f.name: getattr(data, f.name) for f in dataclasses.fields(data)})

    @classmethod
    def load(cls, path: str | Path) -> Topology:
        """Load and validate a topology file (raises TopologyError with every problem)."""
        return load_file(path)

    def plan(self) -> Plan:
        """The Plan that `apply` would carry out, against the live kernel."""
        return plan(self)

    def apply(self, progress: Callable[[Action, int, int], None] | None = None) -> Plan:
        """Converge the kernel to this topology, all or nothing; returns the executed Plan."""
        return apply(self, progress=progress)

    def destroy(self, progress: Callable[[Action, int, int], None] | None = None) -> Plan:
        """Remove what this topology owns; put back what it changed on other interfaces."""
        return destroy(self.name, progress=progress)

    def check(self) -> list[Any]:
        """Run the file's `checks:` with real packets; a list of CheckResult."""
        return check(self)

    def __enter__(self) -> Topology:
        self.apply()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()


def load_file(path: str | Path) -> Topology:
    """Load and validate a topology file (raises TopologyError with every problem)."""
    from . import loader  # only loading reads YAML: destroy and show never import it
    return Topology.of(loader.load_file(path))


def load_text(text: str, file: str = "<string>") -> Topology:
    """Load and validate a topology from YAML text; `file` names it in error positions."""
    from . import loader  # only loading reads YAML: destroy and show never import it
    return Topology.of(loader.load_text(text, file))


def load_data(data: dict[str, Any], file: str = "<data>") -> Topology:
    """Load and validate a topology from parsed data (a dict as the YAML would give)."""
    from . import loader  # only loading reads YAML: destroy and show never import it
    return Topology.of(loader.load_data(data, file))


def owned_namespaces(backend: Kernel, topology: str) -> list[str]:
    """Named namespaces whose loopback carries the topology's mark."""
    return sorted(ns for ns in backend.list_netns() if backend.netns_owner(ns) == topology)


def observe_topology(backend: Kernel, topo: model.Topology, record: Record,
                     teardown: bool = False) -> Observed:
    """What planning `topo` needs of the kernel; for a `teardown`, the namespaces the topology
    owns are only identified (they go whole)."""
    owned = owned_namespaces(backend, topo.name)
    needed = namespaces_to_observe(topo, record)
    shallow = set(owned) - set(needed) if teardown else set()
    ends = topo.endpoints()
    return backend.observe(Scope(
        [*needed, *owned],
        shallow=shallow,
        route_netns={route.netns for route in topo.routes},
        tc_netns={end.netns for end in ends if end.reads_tc},
        vlan_netns={obj.netns for obj in [*ends, *topo.externals] if obj.vlans is not None},
        kind_options=not teardown,
        # a teardown deletes the links it made, addresses and all: only addresses it gave to
        # interfaces it keeps are looked at
        addr_netns={parse_ext_key(k)[0] for k in record.external_addresses}
        if teardown else None))


def plan(topo: model.Topology, backend: Kernel | None = None) -> Plan:
    """What `apply` would do, against the live kernel."""
    with _backend(backend) as nl:
        record = read_record(topo.name)
        return plan_changes(topo, observe_topology(nl, topo, record), record)


def apply(topo: model.Topology, backend: Kernel | None = None,
          progress: Callable[[Action, int, int], None] | None = None) -> Plan:
    """Converge the kernel to the topology, all or nothing; returns the plan it carried out."""
    with host_lock(), _backend(backend) as nl:
        record = read_record(topo.name)
        the_plan = plan_changes(topo, observe_topology(nl, topo, record), record)
        if the_plan.has_changes:
            execute_plan(the_plan, nl, *(p for p in [progress] if p))
        if the_plan.record is not None:
            write_record(the_plan.record)
        return the_plan


def destroy(name: str, backend: Kernel | None = None,
            progress: Callable[[Action, int, int], None] | None = None) -> Plan:
    """Remove everything topology `name` owns; put back what it changed on other interfaces."""
    with host_lock(), _backend(backend) as nl:
        record = read_record(name)
        empty = model.Topology(name=name)
        observed = observe_topology(nl, empty, record, teardown=True)
        the_plan = plan_teardown(name, observed, record)
        if the_plan.has_changes:
            execute_plan(the_plan, nl, *(p for p in [progress] if p))
        write_record(Record(name))
        return the_plan


@dataclass
class Row:
    """One live interface of a topology, for `vnet show`."""

    netns: str | None
    name: str
    kind: str | None
    state: str
    master: str | None
    addresses: list[str]
    mtu: int
    mac: str | None
    rx_packets: int
    tx_packets: int
    rx_bytes: int
    tx_bytes: int
    owned: bool = True
    topology: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def show(name: str | None = None, backend: Kernel | None = None) -> list[Row]:
    """Live rows of the objects topology `name` owns (every vnet topology when None)."""
    with _backend(backend) as nl:
        spaces: list[str | None] = [None, *sorted(nl.list_netns())]
        rows: list[Row] = []
        for ns in spaces:
            st = nl.read_netns(ns)
            ns_owner = st.owner
            for link in st.links.values():
                owner = link.owner or (ns_owner if link.name == "lo" else None)
                if owner is None or (name is not None and owner != name):
                    continue
                rows.append(Row(ns, link.name, link.kind or ("loopback" if link.name == "lo"
                                                              else None),
                                "up" if link.up else "down", link.master,
                                st.addresses_of(link.name), link.mtu, link.mac,
                                link.rx_packets, link.tx_packets, link.rx_bytes, link.tx_bytes,
                                topology=owner))
        if name is not None:
            record = read_record(name)
            for key in record.externals:
                ns, ifname = key.split("|", 1)
                st = nl.read_netns(ns or None)
                ext = st.links.get(ifname)
                if ext is not None:
                    rows.append(Row(ns or None, ifname, ext.kind, "up" if ext.up else "down",
                                    ext.master, st.addresses_of(ifname), ext.mtu, ext.mac,
                                    ext.rx_packets, ext.tx_packets, ext.rx_bytes,
                                    ext.tx_bytes, owned=False, topology=name))
        return rows


def open_kernel() -> Kernel:
    """The live kernel (imported on first need: validate and draw never load the door)."""
    from .door.netlink import Netlink
    return Netlink()


class _backend:
    """Use the given backend, or open (and then close) a live one."""

    def __init__(self, backend: Kernel | None):
        self.given = backend
        self.mine: Kernel | None = None

    def __enter__(self) -> Kernel:
        if self.given is not None:
            return self.given
        self.mine = open_kernel()
        return self.mine

    def __exit__(self, *exc: object) -> None:
        if self.mine is not None:
            self.mine.close()


def check(topo: model.Topology, progress: Callable[[Any], None] | None = None) -> list[Any]:
    """Run the topology's `checks:` with real packets; one CheckResult per check, in order."""
    from .checks import resolve_checks
    from .door.probes import run_probe
    from .errors import Collector

    issues = Collector()
    probes = resolve_checks(topo, issues)
    issues.raise_if_any()
    results = []
    for probe in probes:
        result = run_probe(probe)
        if progress is not None:
            progress(result)
        results.append(result)
    return results


def exec_in(netns: str, argv: list[str]) -> int:
    """Run a command inside one of vnet's namespaces; refuse namespaces vnet does not own."""
    from .door.probes import exec_in as run
    from .errors import VnetError

    with _backend(None) as nl:
        if netns not in nl.list_netns():
            raise VnetError(f"namespace {netns!r} does not exist")
        if nl.netns_owner(netns) is None:
            raise VnetError(f"namespace {netns!r} was not created by vnet; use `ip netns exec` "
                            "for namespaces vnet does not own")
    return run(netns, argv)
