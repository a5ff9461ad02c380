"""The operations a user asks for (plan, apply, destroy, show, check), joining the pure core to
the kernel door. The CLI and the Python API both call these; `Topology` and the `load_*`
functions here are the public Python API that `vnet` re-exports."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import datatypes, store
from .datatypes import datatype, field
from .door.protocol import Kernel, Scope
from .errors import DamagedRecord, StateError, warn
from .observe import LinkState, NetnsState, Observed
from .record import Record, parse_ext_key
from .store import host_lock, read_record, read_record_or_warn, recorded, write_record
from .topology import Topology as TopologyData

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from .actions import Action
    from .checks import CheckResult
    from .loader import Limits
    from .plan import Plan

# The planner, apply and the file's model (the kinds) are imported by the functions
# that plan: `vnet show` and the completion's names need none of them.


class Topology(TopologyData):
    """A loaded, valid topology that can act on the kernel: `vnet.load(PATH).apply()`, or a
    context manager that applies on enter and destroys on exit. Its data (`name`,
    `namespaces`, `interfaces`, `externals`, `routes`, `checks`, `source`) is the file's, as
    loaded; the methods that touch the kernel need root (CAP_NET_ADMIN). Those taking
    `backend` act on that kernel instead of the live one (tests give the in-memory
    `vnet.door.fake.FakeKernel`: plan needs no root then). docs/python-api.md has examples."""

    @classmethod
    def of(cls, data: TopologyData) -> Topology:
        """The same topology, with the methods."""
        return cls(**{f.name: getattr(data, f.name) for f in datatypes.fields(data)})

    @classmethod
    def load(cls, path: str | Path) -> Topology:
        """Load and validate a topology file (raises TopologyError with every problem)."""
        return load_file(path)

    def plan(self, *, backend: Kernel | None = None) -> Plan:
        """The Plan that `apply` would carry out now: `plan.actions` (each with `verb`,
        `subject`, `reason`), `plan.has_changes`, `plan.counts()`, `plan.as_dict()`."""
        return plan(self, backend=backend)

    def apply(self, progress: Callable[[Action, int, int], None] | None = None, *,
              backend: Kernel | None = None, wait: float | None = 0,
              replace: bool = False, force: bool = False) -> Plan:
        """Converge the kernel to this topology, all or nothing; returns the executed Plan
        (empty when the kernel already matched). `progress(action, index, total)` hears each
        action as it is done. On a refusal, what was done is undone and ApplyError raised.
        `wait`: seconds to wait for another vnet that is changing the kernel (None: as long
        as it takes; 0: a LockError at once). A plan that would remove objects a topology of
        this name made from another file is a ConflictError unless `replace`; one that
        deletes a namespace holding links vnet did not make, unless `force`. Nothing is
        changed then."""
        return apply(self, backend=backend, progress=progress, wait=wait, replace=replace,
                     force=force)

    def destroy(self, progress: Callable[[Action, int, int], None] | None = None, *,
                backend: Kernel | None = None, wait: float | None = 0,
                force: bool = False) -> Plan:
        """Remove what this topology owns; put back what it changed on other interfaces.
        Returns the executed Plan (empty when nothing was live). `wait` as for `apply`. A
        namespace holding links vnet did not make is a ConflictError naming them (nothing
        removed) unless `force`."""
        return destroy(self.name, backend=backend, progress=progress, wait=wait,
                       declared=self.namespaces, force=force)

    def check(self) -> CheckReport:
        """Run the file's `checks:` with real packets, in order: a CheckReport (a list, with
        `ok`: every check passed, and `results`: the list itself), one CheckResult each:
        `passed` (bool), `observed` (what was seen, in words), `seconds`, and `probe` (the
        check resolved: `label`, `probe` (ping, tcp, udp, mtu, can, ...), `src_ns`,
        `target`, `expect` ("ok" or "fail")). `as_dict()` is the JSON of `vnet check`."""
        return CheckReport(check(self))

    def show(self, *, counters: bool = True, backend: Kernel | None = None) -> Shown:
        """What of this topology is live now, as `vnet show FILE` prints it: a Shown with
        `interfaces` (Row: `netns`, `name`, `kind`, `state`, `master`, `addresses`, `mtu`,
        `mac`, packet and byte counters, `owned`), `routes` (RouteRow), `namespaces`, `file`
        and this file's `checks` (CheckRow; none is run). Nothing live: empty lists.
        Without `counters` the packet counters stay 0 and the reading is cheaper."""
        shown = show_topology(self.name, backend, counters=counters, checks_of=self)
        if shown is None:
            return Shown(topology=self.name, file=None, namespaces=[], interfaces=[],
                         routes=[], checks=file_checks(self))
        return shown

    def exec(self, netns: str, argv: Sequence[str], *, capture: bool = False,
             check: bool = False, input: str | bytes | None = None,
             timeout: float | None = None, text: bool = True,
             env: Mapping[str, str] | None = None,
             **subprocess_kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """Run `argv` inside namespace `netns` of this topology (as `vnet exec NETNS --
        ARGV...`, which does the entering: with its own /sys, refused for a namespace vnet
        does not own) and wait for it. Returns a subprocess.CompletedProcess: `returncode`
        (127: the program was not found), and with `capture` its `stdout` and `stderr`
        (str, or bytes when not `text`). `check` raises CalledProcessError on a non-zero
        status, `timeout` (seconds) TimeoutExpired; `input` goes to its standard input; `env`
        replaces the environment of vnet and the command. The command runs in a session of
        its own: a timeout or a KeyboardInterrupt stops it and whatever it started. A
        namespace this topology does not declare is a VnetError before anything runs. Other
        keyword arguments go to subprocess.Popen (`stdout=`, `stderr=`, `cwd=`...);
        `capture_output=True` is `capture`."""
        import os
        import signal
        import subprocess
        import sys

        from .errors import VnetError
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv is a list of arguments, e.g. ['ping', '-c1', '192.0.2.2'];"
                            " for a shell line use ['sh', '-c', LINE]")
        if netns not in self.namespaces:
            raise VnetError(f"namespace {netns!r} is not one of topology {self.name!r}'s "
                            f"namespaces ({', '.join(self.namespaces) or 'it declares none'})")
        capture = bool(capture or subprocess_kwargs.pop("capture_output", False))
        pipe = subprocess.PIPE
        extra = self._cli_env()
        if extra:
            env = {**(os.environ if env is None else env), **extra}
        streams = {"stdout": pipe if capture else None, "stderr": pipe if capture else None,
                   **subprocess_kwargs}
        with subprocess.Popen([sys.executable, "-c", cli_runner(), "exec", netns, "--",
                               *argv],
                              stdin=None if input is None else pipe, text=text,
                              env=None if env is None else dict(env),
                              start_new_session=True, **streams) as proc:
            try:
                out, err = proc.communicate(input, timeout=timeout)
            except BaseException:
                # `vnet exec` waits for the command it forked: stop both, as a group
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                raise
        done = subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
        if check:
            done.check_returncode()
        return done

    def _cli_env(self) -> dict[str, str]:
        """What the `vnet` subprocesses of this topology add to their environment (a
        sandboxed topology names its sandbox there)."""
        return {}

    def __enter__(self) -> Topology:
        """Apply the topology (`with vnet.load(PATH) as topo:`)."""
        self.apply()
        return self

    def __exit__(self, *exc: object) -> None:
        """Destroy the topology, whether the block ended well or by an exception."""
        self.destroy()


class CheckReport(list["CheckResult"]):
    """The results of a topology's checks, in order (a list of CheckResult), with `ok`."""

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(result.passed for result in self)

    @property
    def results(self) -> list[CheckResult]:
        """The CheckResults, one per check."""
        return list(self)


def cli_runner() -> str:
    """The `python -c` text that runs the `vnet` command of this very package (whatever
    PYTHONPATH or the environment say)."""
    from pathlib import Path
    src = str(Path(__file__).resolve().parents[1])
    return (f"import sys; sys.path.insert(0, {src!r}); sys.argv[0] = 'vnet'; "
            "from vnet.cli import run; run()")


def load_file(path: str | Path, limits: Limits | None = None) -> Topology:
    """Load and validate a topology file (raises TopologyError with every problem).
    `limits` (`vnet.loader.Limits`): how much of the file to read, by default the limits
    the VNET_MAX_* environment variables set."""
    from . import loader  # only loading reads YAML: destroy and show never import it
    return Topology.of(loader.load_file(path, limits))


def load_text(text: str, file: str = "<string>", limits: Limits | None = None) -> Topology:
    """Load and validate a topology from YAML text; `file` names it in error positions,
    `limits` as for `load_file`."""
    from . import loader  # only loading reads YAML: destroy and show never import it
    return Topology.of(loader.load_text(text, file, limits))


def load_data(data: dict[str, Any], file: str = "<data>") -> Topology:
    """Load and validate a topology from parsed data (a dict as the YAML would give)."""
    from . import loader  # only loading reads YAML: destroy and show never import it
    return Topology.of(loader.load_data(data, file))


def owned_namespaces(backend: Kernel, topology: str) -> list[str]:
    """Named namespaces whose loopback carries the topology's mark."""
    return sorted(ns for ns in backend.list_netns() if backend.netns_owner(ns) == topology)


def report_strays(backend: Kernel, declared: Collection[str] = (),
                  doing: str | None = None) -> list[str]:
    """Warn of each entry where named namespaces live that is not a namespace (a file left
    by an interrupted `ip netns add`): it is ignored, except an empty file of a name the
    topology `declared` while `doing` "apply" (its namespace replaces it) or "destroy" (it
    is removed); those names are returned. Applying, a declared name's stray that is
    anything else is a StateError before any change."""
    from .door.protocol import STRAY_EMPTY_FILE
    handled: list[str] = []
    for name, what in sorted(backend.stray_netns().items()):
        path = f"{store.NETNS_DIR}/{name}"
        if doing == "apply" and name in declared and what != STRAY_EMPTY_FILE:
            raise StateError(f"{path} is {what}, not a namespace, and is in the way of "
                             f"namespace {name}: move it away (mv {path} /tmp/) and apply "
                             "again")
        stray = (f"{path} is {what}, not a mounted namespace (an interrupted `ip netns add` "
                 "leaves one): ")
        if doing is not None and name in declared and what == STRAY_EMPTY_FILE:
            handled.append(name)
            warn(stray + (f"apply replaces it with namespace {name}" if doing == "apply"
                          else "destroy removes it"))
        else:
            warn(stray + "ignored; `vnet apply` of a file that declares that namespace "
                 f"replaces it, else remove it (rm {path}) when nothing is creating it")
    return handled


def preflight(topo: TopologyData) -> None:
    """Raise UnsupportedError when this kernel lacks a kind or feature `topo` uses, as the
    probe cache of `vnet kinds` (or a probe of just those kinds, made now) says."""
    from .errors import UnsupportedError
    from .kinds_probe import lacking
    lacks = lacking(topo)
    if lacks:
        raise UnsupportedError(lacks)


def observe_topology(backend: Kernel, topo: TopologyData, record: Record,
                     teardown: bool = False) -> Observed:
    """What planning `topo` needs of the kernel; for a `teardown`, the namespaces the topology
    owns are only identified (they go whole)."""
    from .plan import namespaces_to_observe
    owned = owned_namespaces(backend, topo.name)
    needed = namespaces_to_observe(topo, record)
    shallow = set(owned) - set(needed) if teardown else set()
    ends = topo.endpoints()
    return backend.observe(Scope(
        [*needed, *owned],
        shallow=shallow,
        route_netns={route.netns for route in topo.routes},
        tc_netns={end.netns for end in ends if end.reads_tc or end.impair is not None}
        | {ext.netns for ext in topo.externals if ext.impair is not None}
        | {parse_ext_key(key)[0] for key in record.impairs},
        vlan_netns={obj.netns for obj in [*ends, *topo.externals] if obj.vlans is not None},
        kind_options=not teardown,
        # a teardown deletes the links it made, addresses and all: only addresses it gave to
        # interfaces it keeps are looked at
        addr_netns={parse_ext_key(k)[0] for k in record.external_addresses}
        if teardown else None))


def _refuse_spanning(topo: TopologyData, doing: str = "apply") -> None:
    """`hosts.split.refuse_spanning`: a TopologyError when `topo` spans several hosts. The
    module (a few ms to import) is imported only for a file that names more than one."""
    if len(topo.hosts) > 1:
        from .hosts.split import refuse_spanning
        refuse_spanning(topo, doing)


def plan(topo: TopologyData, backend: Kernel | None = None) -> Plan:
    """What `apply` would do, against the live kernel. Against the live kernel, a kind or
    feature the topology uses that this kernel lacks is an UnsupportedError first."""
    with topo.ends_fixed():
        return _plan(topo, backend)


def _plan(topo: TopologyData, backend: Kernel | None) -> Plan:
    from .plan import plan_changes
    _refuse_spanning(topo)
    if backend is None:
        preflight(topo)
    with _backend(backend) as nl:
        record = read_record_or_warn(topo.name)
        report_strays(nl)
        return plan_changes(topo, observe_topology(nl, topo, record), record)


def apply(topo: TopologyData, backend: Kernel | None = None,
          progress: Callable[[Action, int, int], None] | None = None,
          planned: Callable[[Plan], None] | None = None, wait: float | None = 0, *,
          replace: bool = False, force: bool = False,
          confirm: Callable[[Plan], bool] | None = None) -> Plan:
    """Converge the kernel to the topology, all or nothing; returns the plan it carried out.
    `planned` hears the plan before any of it is carried out (the CLI prints its summary),
    then `confirm` is asked (False: nothing is done, VnetError). Against the live kernel, a
    kind or feature this kernel lacks is an UnsupportedError before anything is planned.
    `wait`: seconds to wait for the lock another vnet holds (None: as long as it takes). A
    damaged record is a StateError before any change: apply would write over what it says.

    A plan that would remove objects made from another file than this topology's (the
    record names the file each topology was last applied from) is a ConflictError unless
    `replace`; a plan that deletes a namespace holding links vnet did not make (or whose
    pair's other end is elsewhere) is one unless `force`."""
    with topo.ends_fixed():
        return _apply(topo, backend, progress, planned, wait, replace=replace, force=force,
                      confirm=confirm)


def _apply(topo: TopologyData, backend: Kernel | None,
           progress: Callable[[Action, int, int], None] | None,
           planned: Callable[[Plan], None] | None, wait: float | None, *,
           replace: bool, force: bool, confirm: Callable[[Plan], bool] | None) -> Plan:
    from .apply import recover, verify_kept
    from .journal import Journal
    from .plan import plan_changes
    _refuse_spanning(topo)
    if backend is None:
        preflight(topo)
    path, digest = source_of(topo)
    with host_lock(wait), _backend(backend) as nl:
        if backend is None:
            store.check_dir(store.NETNS_DIR, writable=True)
        recover(topo.name, nl)  # what a run that died left half-made (see journal.py)
        try:
            record = read_record(topo.name)
        except DamagedRecord as err:
            raise StateError(f"{err}; apply would write over what it says vnet changed: run "
                             f"`vnet destroy {topo.name}` first (it goes on from the kernel's "
                             "ownership marks and names what it cannot put back), then apply "
                             "again") from None
        report_strays(nl, topo.namespaces, doing="apply")
        the_plan = plan_changes(topo, _observe_for_removal(nl, topo, record), record)
        _refuse_unowned_losses(the_plan, record, path, digest, replace=replace, force=force)
        if planned is not None:
            planned(the_plan)
        if confirm is not None and the_plan.has_changes and not confirm(the_plan):
            from .errors import VnetError
            raise VnetError(f"apply of {topo.name} cancelled; nothing was changed")
        if the_plan.has_changes:
            after = the_plan.record or record
            _execute_recorded(the_plan, nl, record, progress, Journal(topo.name),
                              verify=lambda done: verify_kept(done, nl, lambda: plan_changes(
                                  topo, observe_topology(nl, topo, after), after)))
        if the_plan.record is not None:
            # the file it came from, for `vnet list` and the rule above (None when applied
            # from text or data)
            the_plan.record.source, the_plan.record.source_digest = path, digest
            if the_plan.has_changes or the_plan.record != record:
                # (a run with no change that would keep the same record leaves the file as
                # it is: nothing was written since it was read, under the host lock)
                write_record(the_plan.record)
        return the_plan


def source_of(topo: TopologyData) -> tuple[str | None, str | None]:
    """The absolute path of the file `topo` was loaded from, and "sha256:HEX" of its bytes
    now; (None, None) for a topology loaded from text or data."""
    import hashlib
    import os
    data = None
    try:
        if os.path.isfile(topo.source):  # not "<memory>", nor a pipe that would block
            with open(topo.source, "rb") as fh:
                data = fh.read()
    except OSError:
        pass
    if data is None:
        return None, None
    return os.path.abspath(topo.source), "sha256:" + hashlib.sha256(data).hexdigest()


def same_source(record: Record, path: str | None, digest: str | None) -> bool | None:
    """Whether the file at `path` (with `digest`) is the one the record says its topology
    was last applied from: the same path, the same file under another path, or the same
    bytes (a copy, or the file moved). None when the record does not say (a topology applied
    from text, or by a vnet that kept no source)."""
    import os
    if record.source is None and record.source_digest is None:
        return None
    if path is not None and record.source is not None:
        if path == record.source:
            return True
        try:
            if os.path.samefile(path, record.source):
                return True
        except OSError:  # the recorded file is gone
            pass
    return digest is not None and digest == record.source_digest


#: how many objects a refusal names before it counts the rest
_NAMED = 10


def _named(subjects: Sequence[str]) -> str:
    shown = ", ".join(subjects[:_NAMED])
    rest = len(subjects) - _NAMED
    return shown + (f" and {rest} more (`vnet plan` lists them all)" if rest > 0 else "")


def _refuse_unowned_losses(the_plan: Plan, record: Record, path: str | None,
                           digest: str | None, *, replace: bool, force: bool) -> None:
    """Raise ConflictError when `the_plan` would remove objects made from another file
    (unless `replace`), or delete along a namespace what vnet did not make (unless
    `force`)."""
    from .errors import ConflictError, Issue
    from .plan import removals, takes_along
    issues: list[Issue] = []
    gone = removals(the_plan)
    if gone and not replace and same_source(record, path, digest) is False:
        this = path or "a topology loaded from text or data (no file)"
        issues.append(Issue(
            f"topology {the_plan.topology!r} was made from {record.source}; applying {this} "
            f"would remove {len(gone)} object(s) made from that file: "
            + _named([a.subject for a in gone]),
            where=path or f"topology {the_plan.topology}",
            hint="give this file another `name:`, or give --replace (Python: replace=True) "
                 "to replace that topology with this file"))
    if not force:
        for action in takes_along(the_plan):
            issues.append(Issue(
                f"deleting {action.subject} would also delete what vnet did not make: "
                + "; ".join(action.takes_along), where=action.subject,
                hint="move or delete those by hand first, or give --force (Python: "
                     "force=True) to delete them with it"))
    if issues:
        raise ConflictError(issues)


def _observe_for_removal(nl: Kernel, topo: TopologyData, record: Record,
                         teardown: bool = False) -> Observed:
    """observe_topology, and then the namespaces where pairs made by hand inside the
    topology's namespaces have their other end, to name it."""
    from .plan import unseen_pair_namespaces
    observed = observe_topology(nl, topo, record, teardown=teardown)
    more = sorted(unseen_pair_namespaces(observed, topo.name))
    if more:
        extra = nl.observe(Scope(more, shallow=more, route_netns=(), tc_netns=(),
                                 vlan_netns=(), addr_netns=(), kind_options=False,
                                 kind_state=False))
        for ns, st in extra.namespaces.items():
            observed.namespaces.setdefault(ns, st)
    return observed


def _execute_recorded(the_plan: Plan, nl: Kernel, record: Record,
                      progress: Callable[[Action, int, int], None] | None,
                      journal: Any, verify: Callable[[list[Action]], None]) -> None:
    """Execute an apply's plan with the record on disk covering it meanwhile: before any
    change, the record holds the originals of both the old and the new record (so a run that
    dies keeps what `destroy` must put back); a run rolled back in full puts the old one back.
    `verify` hears the done actions: the read-back, which rolls back (NotKeptError, an
    ApplyError) what the kernel did not keep. (A run that ends writes the plan's record, in
    `apply`.)"""
    from .apply import execute_plan
    from .errors import ApplyError
    from .interrupt import Interrupted
    if the_plan.record is not None and not the_plan.record.is_empty():
        write_record(_both(record, the_plan.record))
    try:
        verify(execute_plan(the_plan, nl, *(p for p in [progress] if p), journal=journal))
    except ApplyError as err:
        if not err.undo_failures:
            write_record(record)
        raise
    except Interrupted as err:
        if not err.failures:
            write_record(record)
        raise


def _both(old: Record, new: Record) -> Record:
    """A record holding what either record would put back; the older original first."""
    addresses = {key: list(dict.fromkeys([*old.external_addresses.get(key, []),
                                          *new.external_addresses.get(key, [])]))
                 for key in [*old.external_addresses, *new.external_addresses]}
    return Record(old.topology, {**new.externals, **old.externals}, addresses,
                  [*old.routes, *(r for r in new.routes if r not in old.routes)],
                  old.source, old.source_digest, {**new.impairs, **old.impairs},
                  {**old.netem_tables, **new.netem_tables})


def destroy(name: str, backend: Kernel | None = None,
            progress: Callable[[Action, int, int], None] | None = None,
            planned: Callable[[Plan], None] | None = None, wait: float | None = 0,
            declared: Collection[str] = (), *, force: bool = False) -> Plan:
    """Remove everything topology `name` owns; put back what it changed on other interfaces.
    `planned` hears the plan before any of it is carried out; `wait` as for `apply`.
    `declared`: the namespaces its file declares (destroy FILE): an empty file where one of
    them would be mounted (an interrupted creation left it) is removed too. A namespace
    holding links vnet did not make (or the end of a pair whose other end is elsewhere) is a
    ConflictError naming them, unless `force`: then they go with it (the plan's actions list
    them in `takes_along`).

    A damaged record does not stop it: it goes on from the kernel's ownership marks (and
    what of the record is sound), warns naming what it cannot put back, and keeps the
    damaged file as NAME.json.damaged."""
    from .apply import execute_plan, recover
    from .plan import plan_teardown
    with host_lock(wait), _backend(backend) as nl:
        if backend is None:
            store.check_dir(store.NETNS_DIR, writable=True)
        recover(name, nl)  # what a run that died left half-made (see journal.py)
        damaged: DamagedRecord | None = None
        try:
            record = read_record(name)
        except DamagedRecord as err:
            damaged, record = err, err.salvaged
        strays = report_strays(nl, declared, doing="destroy")
        empty = TopologyData(name=name)
        observed = _observe_for_removal(nl, empty, record, teardown=True)
        the_plan = plan_teardown(name, observed, record)
        _refuse_unowned_losses(the_plan, record, None, None, replace=True, force=force)
        the_plan.actions += [_stray_removal(stray) for stray in strays]
        if damaged is not None:
            warn(_damaged_teardown(name, damaged, observed))
        if planned is not None:
            planned(the_plan)
        if the_plan.has_changes:
            # a signal stops a teardown between steps; a rerun finishes it
            execute_plan(the_plan, nl, *(p for p in [progress] if p), on_interrupt="stop")
        if damaged is not None:
            store.set_aside(name)
        write_record(Record(name))
        return the_plan


def _stray_removal(name: str) -> Action:
    """The removal of the empty file an interrupted creation of namespace `name` left (the
    door's `netns.del` unlinks it: there is nothing mounted to unmount)."""
    from .actions import Action, Request
    return Action("remove", f"stray {store.NETNS_DIR}/{name} (an empty file)",
                  "left by an interrupted creation of a namespace the file declares",
                  [Request("netns.del", None, {"name": name})],
                  undo_gap="an empty file left by a crash is not put back")


def _damaged_teardown(name: str, damaged: DamagedRecord, observed: Observed) -> str:
    """What destroy says of a damaged record: what is lost, and the interfaces it does not
    own that are ports of its links (external ones, most likely, whose MTU or state vnet may
    have changed)."""
    ports = sorted(f"{ns}/{link.name}" if ns else link.name
                   for ns, st in observed.namespaces.items() for link in st.links.values()
                   if link.master and link.owner != name
                   and getattr(st.links.get(link.master), "owner", None) == name)
    text = (f"{damaged}; destroying {name} from the kernel's ownership marks and what of the "
            "record is sound: what is lost cannot be put back")
    if ports:
        text += (f"; check {', '.join(ports)} (not {name}'s, ports of its links: released, "
                 "with the MTU, state and addresses vnet may have given them)")
    return text + f"; the damaged record is kept as {damaged.path}.damaged"


@datatype
class Row:
    """One live interface of a topology, for `vnet show` (and `Topology.show().interfaces`).

    `netns` is its namespace (None: the one vnet runs in); `name`; `kind` as the kernel says
    it ("veth", "bridge", "loopback"; None when unknown); `state` "up" or "down"; `master`
    the bridge, bond or team it is a port of; `addresses` with their prefix
    ("192.0.2.1/24"); `mtu`; `mac`; `rx_packets`, `tx_packets`, `rx_bytes`, `tx_bytes` (0
    when not read); `owned` False for an interface the file marks `external: true`, which
    vnet changed but did not create; `topology` its owner; `extra` what a kind adds."""

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


#: the routing protocol vnet gives its routes (iproute2's `proto 118`)
_VNET_ROUTE_PROTO = 118


@datatype
class RouteRow:
    """One route of a topology, for `vnet show`: in a namespace the topology owns, a route
    with vnet's protocol (118); in another, one its record says it added."""

    netns: str | None
    to: str
    via: str | None
    dev: str | None
    metric: int
    table: int
    family: int


@datatype
class CheckRow:
    """One of a file's checks as `vnet show FILE` lists them (show runs none)."""

    check: str
    probe: str
    source: str  # the check's `from`
    target: str
    expect: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "probe": self.probe, "from": self.source,
                "to": self.target, "expected": self.expect}


@datatype
class Shown:
    """One live topology as `vnet show NAME` shows it."""

    topology: str
    #: the file last applied (absolute), None when unknown
    file: str | None
    namespaces: list[str]
    #: by namespace (None first), loopback first, then by name ("eth2" before "eth10")
    interfaces: list[Row]
    routes: list[RouteRow]
    checks: list[CheckRow] = field(default_factory=list)

    def filtered(self, netns: Collection[str | None] = (), kinds: Collection[str] = (),
                 loopbacks: bool = True) -> Shown:
        """Only the interfaces in `netns` (None: where vnet runs) and of `kinds` (each
        filter, when given), loopbacks only if `loopbacks`; routes and checks follow `netns`,
        and a `kinds` filter leaves them out."""
        def keep(ns: str | None) -> bool:
            return not netns or ns in netns
        rows = [r for r in self.interfaces if keep(r.netns)
                and (not kinds or r.kind in kinds) and (loopbacks or r.kind != "loopback")]
        return Shown(self.topology, self.file, [ns for ns in self.namespaces if keep(ns)], rows,
                     [] if kinds else [r for r in self.routes if keep(r.netns)],
                     [] if kinds else [c for c in self.checks
                                       if keep(c.source.partition("/")[0])])

    def as_dict(self) -> dict[str, Any]:
        """The JSON of `vnet show --json NAME`."""
        return {"topology": self.topology, "file": self.file, "namespaces": self.namespaces,
                # each row's fields as they are (datatypes.asdict copies deeply: slow for
                # thousands of rows, and nothing here is nested but lists of text)
                "interfaces": [dict(vars(r)) for r in self.interfaces],
                "routes": [dict(vars(r)) for r in self.routes],
                "checks": [c.as_dict() for c in self.checks]}


@datatype
class TopologySummary:
    """One live topology as `vnet list` summarises it."""

    name: str
    namespaces: list[str] = field(default_factory=list)
    #: the interfaces it created (loopbacks left out) and how many are up and down
    interfaces: int = 0
    up: int = 0
    down: int = 0
    routes: int = 0
    #: the file last applied (absolute), None when unknown
    file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return datatypes.asdict(self)


_DIGITS = re.compile(r"(\d+)")


def _natural(text: str) -> tuple[Any, ...]:
    """Sort key putting eth2 before eth10."""
    parts: list[Any] = _DIGITS.split(text)
    parts[1::2] = map(int, parts[1::2])
    return tuple(parts)


def _read(nl: Kernel, spaces: list[str | None], counters: bool,
          addresses: bool = True, tc: bool = False, ports: bool = False
          ) -> dict[str | None, NetnsState]:
    """The namespaces that exist of `spaces`: their links (with packet counters if asked),
    addresses (if asked), qdiscs (if `tc`: impairments), ports' options (if `ports`) and
    vnet's routes; neither the kind options nor what kinds keep beyond their links (so no
    kind is imported)."""
    return nl.observe(Scope(spaces, route_netns=(), tc_netns=None if tc else (), vlan_netns=(),
                            addr_netns=None if addresses else (), kind_options=False,
                            port_options=ports, kind_state=False,
                            counters=counters)).namespaces


def _row(ns: str | None, st: NetnsState, link: LinkState, topology: str, owned: bool,
         tables: Mapping[str, str] | None = None) -> Row:
    row = Row(ns, link.name, link.kind or ("loopback" if link.name == "lo" else None),
              "up" if link.up else "down", link.master, st.addresses_of(link.name), link.mtu,
              link.mac, link.rx_packets, link.tx_packets, link.rx_bytes, link.tx_bytes,
              owned=owned, topology=topology,
              extra={"link": dict(link.attrs)} if link.attrs else {})
    if link.port_options:  # a port of a bridge or bond: its options as the kernel has them
        row.extra["port"] = dict(link.port_options)
    netem = next((q for q in st.qdiscs if q.ifname == link.name and q.kind == "netem"),
                  None)  # at its root, or under an IFB's shaping
    if netem is not None:
        from .features.netem_words import impair_from_params
        from .record import ext_key
        # the kernel does not report a distribution table: the record knows the one vnet set
        table = (tables or {}).get(ext_key(ns, link.name))
        row.extra["impair"] = impair_from_params({**netem.params, "distribution": table})
    return row


def show_topology(name: str, backend: Kernel | None = None, counters: bool = False,
                  checks_of: TopologyData | None = None) -> Shown | None:
    """Topology `name` as it is live: the interfaces it owns (its namespaces' loopbacks
    included), the external ones it changed, its routes; with `checks_of` (its file), the
    file's checks. None when nothing of it is live. Packet counters are read only with
    `counters` (they cost a full read of each namespace)."""
    with _backend(backend) as nl:
        record = read_record_or_warn(name)
        report_strays(nl)
        owned = sorted(owned_namespaces(nl, name), key=_natural)
        mine = set(owned)
        externals = [parse_ext_key(k)
                     for k in dict.fromkeys([*record.externals, *record.external_addresses])]
        spaces = list(dict.fromkeys([None, *owned, *(ns for ns, _ in externals),
                                     *(r[0] for r in record.routes)]))
        states = _read(nl, spaces, counters, tc=True, ports=True)
    recorded_routes = {tuple(r) for r in record.routes}
    rows: list[Row] = []
    routes: list[RouteRow] = []
    for ns, st in states.items():
        for link in st.links.values():
            if (link.owner or (name if ns in mine and link.name == "lo" else None)) == name:
                rows.append(_row(ns, st, link, name, True, record.netem_tables))
        for rs in st.routes:
            if rs.proto == _VNET_ROUTE_PROTO and (ns in mine or (ns, *rs.key) in recorded_routes):
                routes.append(RouteRow(ns, rs.to, rs.via, rs.dev, rs.metric, rs.table,
                                       rs.family))
    seen = {(r.netns, r.name) for r in rows}
    for ns, ifname in externals:
        st_ = states.get(ns)
        link_ = st_.links.get(ifname) if st_ is not None else None
        if st_ is not None and link_ is not None and (ns, ifname) not in seen:
            rows.append(_row(ns, st_, link_, name, False, record.netem_tables))
    if not rows and not routes and record.is_empty():
        return None
    named = {r.netns for r in rows} | {r.netns for r in routes}
    rank = {ns: i for i, ns in enumerate(
        [None, *sorted((ns for ns in named if ns is not None), key=_natural)])}
    rows.sort(key=lambda r: (rank[r.netns], r.name != "lo", _natural(r.name)))
    routes.sort(key=lambda r: (rank[r.netns], r.table, r.family, r.to != "default",
                               r.to, r.metric))
    return Shown(name, record.source, owned, rows, routes,
                 file_checks(checks_of) if checks_of is not None else [])


def file_checks(topo: TopologyData) -> list[CheckRow]:
    """A file's checks as `vnet show FILE` lists them; none is run."""
    from .checks import resolve_checks
    from .errors import Collector
    return [CheckRow(p.label, p.probe, p.src_ns + (f"/{p.src_dev}" if p.src_dev else ""),
                     p.target, p.expect) for p in resolve_checks(topo, Collector())]


def live_topologies(backend: Kernel | None = None) -> list[TopologySummary]:
    """Every live vnet topology, by name (`vnet list`): those owning a namespace or a link of
    the namespace vnet runs in, and those whose record holds changes to put back."""
    with _backend(backend) as nl:
        report_strays(nl)
        owners = {ns: nl.netns_owner(ns) for ns in nl.list_netns()}
        owned = sorted((ns for ns, owner in owners.items() if owner), key=_natural)
        states = _read(nl, [None, *owned], counters=False, addresses=False)
    found: dict[str, TopologySummary] = {}

    def of(name: str) -> TopologySummary:
        if name not in found:
            found[name] = TopologySummary(name)
        return found[name]
    for name in owned:
        of(str(owners[name])).namespaces.append(name)
    for ns, st in states.items():
        for link in st.links.values():
            owner = link.owner
            if owner is not None:
                summary = of(owner)
                summary.interfaces += 1
                summary.up += link.up
                summary.down += not link.up
        ns_owner = owners.get(ns) if ns is not None else None
        if ns_owner:
            of(ns_owner).routes += sum(r.proto == _VNET_ROUTE_PROTO for r in st.routes)
    for name in recorded():
        record = read_record_or_warn(name)
        if name in found or not record.is_empty():
            summary = of(name)
            summary.file = record.source
            summary.routes += len(record.routes)
    return sorted(found.values(), key=lambda t: t.name)


def show(name: str | None = None, backend: Kernel | None = None) -> list[Row]:
    """Live rows of the interfaces topology `name` owns or changed (of every live vnet
    topology when None), packet counters included; `show_topology` gives routes too."""
    with _backend(backend) as nl:
        names = [name] if name is not None else [t.name for t in live_topologies(nl)]
        return [row for n in names
                for row in getattr(show_topology(n, nl, counters=True), "interfaces", [])]


def open_kernel() -> Kernel:
    """The live kernel (imported on first need: validate and draw never load the door).
    Raises PermissionProblem when this process lacks CAP_NET_ADMIN, or CAP_SYS_ADMIN while
    named namespaces exist (reading them means entering them): the door would otherwise meet
    the kernel's EPERM in the middle of its work, or read a namespace it may not enter as
    one that is not vnet's."""
    import os

    from .errors import PermissionProblem, missing_capabilities
    missing = missing_capabilities()
    try:
        named = bool(os.listdir("/run/netns"))
    except OSError:
        named = False
    if "CAP_NET_ADMIN" in missing or (missing and named):
        raise PermissionProblem(" and ".join(missing))
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


def check(topo: TopologyData, progress: Callable[[Any], None] | None = None) -> list[Any]:
    """Run the topology's `checks:` with real packets; one CheckResult per check, in order."""
    from .checks import resolve_checks
    from .errors import Collector

    _refuse_spanning(topo, "check")  # its namespaces are on other hosts
    issues = Collector()
    probes = resolve_checks(topo, issues)
    issues.raise_if_any()
    return check_probes(probes, progress)


def check_probes(probes: list[Any], progress: Callable[[Any], None] | None = None
                 ) -> list[Any]:
    """Run resolved probes (`checks.Probe`) here; one CheckResult per probe, in order."""
    from .door.probes import run_probe
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


# ---- impairments on a live link (`vnet impair`) -------------------------------------------------
def impair(name: str, interface: str, settings: Mapping[str, Any] | None,
           backend: Kernel | None = None, *, direction: str | None = None
           ) -> Plan | list[Action]:
    """Change (settings) or clear (None) the impairment of one live interface of topology
    `name` (interface = "NETNS/IFNAME" or "IFNAME" for the root namespace), in place.

    `settings` is an `impair:` mapping of the file (delay, loss, rate, ..., direction). The
    interface must be one the topology made, or an external one it uses. The netem qdisc is
    changed in place (its link keeps its ifindex); the root qdisc it replaces is recorded, so
    that `vnet plan FILE` shows the drift from the file and apply or destroy puts it right.
    `direction: ingress` (or `both`) impairs what the interface receives through the IFB the
    file would make for it (`ifb` + its name; made and marked as the topology's when
    missing); with settings it replaces the whole impairment, so `ingress` clears what the
    interface sends. Clearing (settings None) clears the `direction` side: egress unless said.
    Returns the plan carried out (no actions: nothing differed)."""
    from .apply import execute_plan
    from .declare import validation_errors
    from .errors import Issue, TopologyError, VnetError
    from .features.impair import Impair, plan_impair
    from .plan import Plan
    from .record import ext_key

    netns, _, ifname = interface.rpartition("/")
    key = (netns or None, ifname)
    wanted: Impair | None = None
    if settings is not None:
        try:
            wanted = Impair.model_validate(dict(settings))
        except validation_errors() as exc:
            raise TopologyError([Issue(
                f"impair {err['loc'][0] if err['loc'] else ''}: "
                f"{str(err['msg']).removeprefix('Value error, ')}".replace(" : ", ": "),
                "impair", interface, "") for err in exc.errors()]) from None
        direction = wanted.direction
        if backend is None:
            _require_netem(interface)
    with host_lock(0), _backend(backend) as nl:
        record = read_record(name)
        observed = nl.observe(Scope([key[0]], tc_netns=[key[0]], kind_options=False))
        st = observed.namespaces.get(key[0])
        live = st.links.get(ifname) if st is not None else None
        if live is None:
            raise VnetError(f"no interface {interface} is live: name it as NETNS/IFNAME (or "
                            "IFNAME where vnet runs), as `vnet show` lists it")
        from . import ownership
        owned = ownership.link_marker(name, live.name) in live.altnames or live.owner == name
        skey = ext_key(*key)
        if not owned and skey not in record.externals and skey not in record.impairs:
            raise VnetError(f"{interface} is not an interface of topology {name}: vnet impairs "
                            "only links a topology made or uses (external: true)")
        side = direction or "egress"
        # each side's impairment, as the egress of the interface or of its IFB
        egress = wanted.model_copy(update={"direction": "egress"}) \
            if wanted is not None and side != "ingress" else None
        ingress = wanted.model_copy(update={"direction": "egress"}) \
            if wanted is not None and side != "egress" else None
        touch_egress = side != "ingress" or wanted is not None
        actions: list[Action] = []
        kept: dict[str, Any] | None = None
        conflict: str | None = None
        original = record.impairs.get(skey, {} if owned else None)
        if touch_egress:
            actions, kept, conflict = plan_impair(key, egress, st, live, owned, original, True,
                                                  table=record.netem_tables.get(skey))
        ifb_key = None
        if side != "egress" and conflict is None:
            from .kinds.ifb import ingress_ifb_name, plan_ingress_impair
            ifb_key = ext_key(key[0], ingress_ifb_name(ifname))
            more, conflict = plan_ingress_impair(name, st, key[0], ifname, ingress,
                                                 record.netem_tables.get(ifb_key))
            actions += more
        if conflict is not None:
            raise VnetError(f"{conflict}: vnet impair leaves it alone")
        plan = Plan(name, actions, record)
        if actions:
            execute_plan(plan, nl)
            if touch_egress:
                if egress is None:
                    record.impairs.pop(skey, None)
                else:
                    record.impairs[skey] = kept if kept is not None else {}
                _record_table(record, skey, egress)
            if ifb_key is not None:
                _record_table(record, ifb_key, ingress)
            write_record(record)
        return plan


def _record_table(record: Record, key: str, impair: Any) -> None:
    """Keep (or forget) the distribution table of the netem `impair` put on `key`."""
    if impair is not None and impair.distribution is not None:
        record.netem_tables[key] = impair.distribution
    else:
        record.netem_tables.pop(key, None)


def _require_netem(where: str) -> None:
    """UnsupportedError when this kernel has no netem qdisc (as `vnet kinds` probes it)."""
    from .errors import UnsupportedError
    from .kinds_probe import FEATURES, probed
    available, reason = probed(["netem"])["netem"]
    if available is False:
        raise UnsupportedError([f"this kernel lacks {FEATURES['netem']} ({reason}), which "
                                f"impairing {where} needs — see `vnet kinds`"])
