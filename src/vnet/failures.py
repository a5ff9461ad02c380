"""Failures over time on a live topology: `vnet link` (one link down, up, or flapped) and
`vnet run` (the file's `events:` played while its checks run).

Beside `api.py`, as `capture.py` is: it reaches the kernel only through the door's `Kernel`
and the probes of `door/probes.py`. A link changes only when the topology owns it (its
ownership mark, `ownership.py`); a run plays its events only on a network that is as its file
says (an empty plan). Whatever stops a flap or a run midway (Ctrl-C, SIGTERM, an error)
brings back up the links it took down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import interrupt
from .datatypes import datatype, field
from .errors import VnetError
from .events import Step, Timeline, restoring, run_timeline, split_link

if TYPE_CHECKING:
    from .checks import CheckResult, Probe, Series
    from .door.protocol import Kernel
    from .topology import Topology

LINK_ACTIONS = ("down", "up", "flap")
#: how long a change waits for another vnet's apply or destroy to finish with the lock
LOCK_WAIT = 30.0


def owned_link(kernel: Kernel, name: str, iface: str) -> tuple[str | None, str]:
    """(namespace, ifname) of `iface` (`NETNS/IFNAME`, or `IFNAME` in the namespace vnet runs
    in) once it is known to be a link topology `name` owns; a VnetError saying why not."""
    netns, ifname = split_link(iface)
    if netns is not None and netns not in kernel.list_netns():
        raise VnetError(f"namespace {netns!r} does not exist: name a namespace of topology "
                        f"{name!r} (`vnet show {name}` lists its links)")
    link = kernel.read_netns(netns).links.get(ifname)
    where = f"namespace {netns!r}" if netns else "the namespace vnet runs in"
    if link is None:
        raise VnetError(f"there is no interface {ifname!r} in {where}: `vnet show {name}` "
                        "lists the topology's links")
    if link.owner != name:
        whose = f"topology {link.owner!r}" if link.owner else "no vnet topology"
        raise VnetError(f"{iface} belongs to {whose}, not to {name!r}: vnet link changes only "
                        "the links a topology created (an external interface is the host's "
                        "to take down)")
    return netns, ifname


def set_link(kernel: Kernel, netns: str | None, ifname: str, up: bool) -> None:
    """Set one link up or down, with the host lock held for the change alone (an apply or
    destroy in progress finishes first)."""
    from .actions import Request
    from .store import host_lock
    with host_lock(LOCK_WAIT):
        kernel.send([Request("link.state", netns, {"ifname": ifname, "up": up})])


def _hold(seconds: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> \
        int | None:
    """Wait `seconds`, waking every tenth of a second for a signal; the signal, if one came."""
    end = clock() + seconds
    while (left := end - clock()) > 0:
        if (signum := interrupt.requested()) is not None:
            return signum
        sleep(min(left, 0.1))
    return interrupt.requested()


def link(name: str, iface: str, action: str, hold: float = 5.0,
         backend: Kernel | None = None, say: Callable[[str], None] = lambda text: None,
         clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep) -> None:
    """`vnet link NAME IFACE down|up|flap`: take a link of topology `name` down, bring it
    up, or both with `hold` seconds between. A flap always ends with the link up: a signal
    noted by `interrupt.handling()` cuts the wait short (and raises `Interrupted` once the
    link is back), any other exception on the way brings it up before going on."""
    if action not in LINK_ACTIONS:
        raise VnetError(f"unknown link action {action!r}: use down, up or flap")
    from .api import _backend
    with _backend(backend) as kernel:
        netns, ifname = owned_link(kernel, name, iface)
        if action != "flap":
            set_link(kernel, netns, ifname, up=action == "up")
            say(f"{iface} {action}")
            return
        set_link(kernel, netns, ifname, up=False)
        say(f"{iface} down, up again in {hold:g} s")
        try:
            signum = _hold(hold, clock, sleep)
        finally:
            set_link(kernel, netns, ifname, up=True)
        say(f"{iface} up")
        if signum is not None:
            raise interrupt.Interrupted(signum, True, 1, [])


@datatype
class RunResult:
    """What `vnet run` did: the events played (with their time) and every check's result."""

    name: str
    timeline: Timeline
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {"topology": self.name, "passed": self.passed,
                "events": [{"at": round(at, 3), "event": step.describe()}
                           for step, at in self.timeline.done],
                "checks": [r.as_dict() for r in self.results]}


class _During:
    """The `during: true` pings of a run, each in its own thread from before the first event
    to after the last."""

    def __init__(self, probes: Sequence[Probe]) -> None:
        from .door.probes import measure_ping
        self.probes = list(probes)
        self.stop = threading.Event()
        self.ready = [threading.Event() for _ in self.probes]
        self.series: list[Series | None] = [None] * len(self.probes)
        self.errors: list[str] = [""] * len(self.probes)

        def ping(i: int) -> None:
            try:
                self.series[i] = measure_ping(self.probes[i], self.stop, self.ready[i])
            except Exception as exc:  # a probe that cannot start is a failed check
                self.errors[i] = str(exc)
                self.ready[i].set()

        self.threads = [threading.Thread(target=ping, args=(i,), daemon=True,
                                         name=f"vnet-during-{i}") for i in range(len(probes))]

    def start(self) -> None:
        """Start every ping; return once each is answered once (or gave up waiting)."""
        for thread in self.threads:
            thread.start()
        for probe, ready in zip(self.probes, self.ready, strict=True):
            ready.wait(probe.timeout + 5)

    def finish(self) -> list[CheckResult]:
        """Stop the pings, wait for their last replies, judge each."""
        from .checks import CheckResult, judge_series
        self.stop.set()
        for probe, thread in zip(self.probes, self.threads, strict=True):
            thread.join(probe.timeout + 5)
        results = []
        for probe, series, error in zip(self.probes, self.series, self.errors, strict=True):
            if series is None:
                results.append(CheckResult(probe, False, error or "the ping did not finish",
                                           0.0))
                continue
            passed, text = judge_series(probe, series)
            seconds = (series.sent_at[-1] - series.sent_at[0]) if series.sent_at else 0.0
            results.append(CheckResult(probe, passed, text, seconds))
        return results


def run(topo: Topology, backend: Kernel | None = None, settle: float = 3.0,
        report: Callable[[Step, float], None] = lambda step, at: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep) -> RunResult:
    """`vnet run FILE`: play the file's events on its live topology, its `during: true`
    pings running throughout (from before the first event to `settle` seconds after the
    last), then run its other checks on the network the events left. The topology must be
    applied and unchanged (an empty plan), else a VnetError says to apply it. A signal (under
    `interrupt.handling()`) or an error midway brings the links the events took down back
    up; a signal then raises `Interrupted`."""
    from . import api
    from .checks import resolve_checks
    from .errors import Collector
    from .events import resolve_events

    issues = Collector()
    probes = resolve_checks(topo, issues)
    steps = resolve_events(topo, issues)
    issues.raise_if_any()
    with api._backend(backend) as kernel:
        drift = api.plan(topo, backend=kernel)
        if drift.has_changes:
            counts = ", ".join(f"{n} {verb}" for verb, n in drift.counts().items() if n)
            raise VnetError(f"topology {topo.name!r} is not as {topo.source} says ({counts}): "
                            f"run `vnet apply {topo.source}` first; vnet run plays its events "
                            "on the network the file describes")
        during = _During([p for p in probes if p.during])
        later = [p for p in probes if not p.during]

        def do(step: Step) -> None:
            if step.action == "impair":
                api.impair(topo.name, step.link, step.impair, backend=kernel)
            else:
                set_link(kernel, step.netns, step.ifname, up=step.action == "up")

        until = (steps[-1].at if steps else 0.0) + settle
        timeline = Timeline()
        during.start()
        try:
            timeline = run_timeline(steps, do, clock, sleep, interrupt.requested, report,
                                    until=until if during.probes else None)
        finally:
            failures = _restore(kernel, timeline, steps)
            failures += _restore_impairs(topo, kernel, timeline, steps)
            results = during.finish()
        if timeline.stopped_by is not None:
            undo = restoring([s for s, _ in timeline.done])
            impaired = {s.link for s, _ in timeline.done if s.action == "impair"}
            raise interrupt.Interrupted(timeline.stopped_by, True, len(undo) + len(impaired),
                                        failures)
        from .door.probes import run_probe
        results += [run_probe(p) for p in later]
    return RunResult(topo.name, timeline, _in_file_order(probes, results))


def _restore(kernel: Kernel, timeline: Timeline, steps: Sequence[Step]) -> list[str]:
    """Bring back up what a run cut short left down; what could not be, in words. A run
    that played every step leaves the links as its events said."""
    if len(timeline.done) == len(steps) and timeline.stopped_by is None:
        return []
    failures = []
    for step in restoring([s for s, _ in timeline.done]):
        try:
            set_link(kernel, step.netns, step.ifname, up=True)
        except VnetError as exc:
            failures.append(f"{step.link} stays down: {exc}")
    return failures


def _restore_impairs(topo: Topology, kernel: Kernel, timeline: Timeline,
                     steps: Sequence[Step]) -> list[str]:
    """Put back the file's impairment on each link an event impaired, when a run was cut
    short (as `_restore` brings links up); what could not be, in words."""
    from . import api
    if len(timeline.done) == len(steps) and timeline.stopped_by is None:
        return []
    failures = []
    ends = {e.key: e for e in topo.endpoints()}
    impaired = {(s.netns, s.ifname): s.link for s, _ in timeline.done if s.action == "impair"}
    for key, link in impaired.items():
        want = getattr(ends.get(key), "impair", None)
        settings = None  # the file's egress impairment, or none
        if want is not None and want.direction != "ingress":
            settings = want.model_dump(exclude_none=True, exclude={"direction"})
        try:
            api.impair(topo.name, link, settings, backend=kernel)
        except VnetError as exc:
            failures.append(f"{link} keeps the impairment its event set: {exc}")
    return failures


def _in_file_order(probes: Sequence[Probe], results: Sequence[CheckResult]) -> \
        list[CheckResult]:
    order = {id(p): i for i, p in enumerate(probes)}
    return sorted(results, key=lambda r: order.get(id(r.probe), len(order)))
