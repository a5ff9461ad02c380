"""`events:` in a topology file: a timeline of failures that `vnet run FILE` plays.

Pure: the model of one event, its validation against the topology (the link must be one the
file creates, as a check's places must be its own), the resolution into ordered `Step`s, and
the timeline runner, which reaches the kernel only through the `do` it is handed and keeps
time with the clock it is handed (tests give a fake one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

from .checks import Duration, parse_duration
from .datatypes import datatype, field
from .declare import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
    validation_errors,
)
from .errors import Collector

#: the latest an event may happen, in seconds after the start (a run is an experiment,
#: not a service; the ping of a `during` check is bounded by the same hour)
LATEST = 3600.0
ACTIONS = ("down", "up", "impair")


def check_link(value: str) -> str:
    """`NAMESPACE/INTERFACE`, or `INTERFACE` alone for the namespace vnet runs in."""
    ns, sep, ifname = value.rpartition("/")
    if not value or (sep and (not ns or not ifname or "/" in ns)):
        raise ValueError(f"{value!r} is not NAMESPACE/INTERFACE (or INTERFACE alone for the "
                         "namespace vnet runs in)")
    return value


Link = Annotated[str, AfterValidator(check_link)]


def split_link(value: str) -> tuple[str | None, str]:
    """(namespace or None, interface name) of a `Link`."""
    ns, _, ifname = value.rpartition("/")
    return (ns or None), ifname


class Event(BaseModel):
    """One change at a point of the timeline: a link taken down, brought up, or impaired."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    at: Duration = Field(description="When, after the run starts: 10s, 500ms, or a number of "
                         "seconds.")
    link: Link = Field(description="NAMESPACE/INTERFACE of a link this file creates.")
    down: bool | None = Field(None, description="true: set the link down.")
    up: bool | None = Field(None, description="true: set the link up.")
    impair: dict[str, Any] | None = Field(None, description="New impairment of the link, as "
                                          "`impair:` on an interface spells it; {} clears it.")

    @model_validator(mode="after")
    def _one_action(self) -> Event:
        given = [a for a in ACTIONS if getattr(self, a) is not None]
        if len(given) != 1:
            raise ValueError(f"an event does exactly one of down: true, up: true, impair: {{...}}"
                             f" (got {', '.join(given) or 'none'})")
        for flag in ("down", "up"):
            if getattr(self, flag) is False:
                raise ValueError(f"'{flag}: false' says nothing: write "
                                 f"'{'up' if flag == 'down' else 'down'}: true' instead")
        seconds = parse_duration(self.at, "at")
        if seconds > LATEST:
            raise ValueError(f"at {self.at!r} is later than {LATEST:g} s after the start: a "
                             "run is bounded to an hour")
        return self

    @property
    def action(self) -> str:
        return next(a for a in ACTIONS if getattr(self, a) is not None)


@datatype(frozen=True)
class Step:
    """An event resolved against the topology: when (seconds), what, on which link."""

    at: float
    action: str  # down, up, impair
    netns: str | None
    ifname: str
    impair: Mapping[str, Any] | None = None
    index: int = 0  # its place in the file's events, for messages

    @property
    def link(self) -> str:
        return f"{self.netns}/{self.ifname}" if self.netns else self.ifname

    def describe(self) -> str:
        """`link h1/eth0 down`, `impair h1/eth0 delay=40ms loss=2%`."""
        if self.action != "impair":
            return f"link {self.link} {self.action}"
        settings = " ".join(f"{k}={v}" for k, v in (self.impair or {}).items()) or "cleared"
        return f"impair {self.link} {settings}"


def resolve_events(topo: Any, issues: Collector) -> list[Step]:
    """Validate each event against the topology and resolve it into a Step, in time order
    (events at the same time keep the file's order)."""
    ends = {(e.netns, e.name) for e in topo.endpoints()}
    declared = set(topo.namespaces)
    steps: list[Step] = []
    for i, event in enumerate(getattr(topo, "events", [])):
        path = f"events[{i}]"

        def bad(field_: str, message: str, hint: str = "", path: str = path) -> None:
            issues.add(message, f"{path}.{field_}", topo.where(f"{path}.{field_}"), hint)

        netns, ifname = split_link(event.link)
        if netns is not None and netns not in declared:
            bad("link", f"namespace {netns!r} is not one of this topology's namespaces",
                "name a namespace the file declares")
            continue
        if (netns, ifname) not in ends:
            where = f"namespace {netns!r}" if netns else "the namespace vnet runs in"
            bad("link", f"interface {ifname!r} is not one this file creates in {where}",
                "events change only links the topology owns: name one of its interfaces")
            continue
        settings: Mapping[str, Any] | None = None
        if event.impair:  # {} clears the link's impairment: settings stay None
            from .features.impair import Impair
            try:
                Impair.model_validate(event.impair)
            except validation_errors() as exc:
                for err in exc.errors():
                    where = ".".join(str(p) for p in err["loc"])
                    bad(f"impair.{where}" if where else "impair",
                        str(err["msg"]).removeprefix("Value error, "))
                continue
            settings = dict(event.impair)
        steps.append(Step(parse_duration(event.at, "at"), event.action, netns, ifname,
                          settings, i))
    return sorted(steps, key=lambda s: (s.at, s.index))


def restoring(done: Sequence[Step]) -> list[Step]:
    """What brings back up the links the done steps left down (an interrupted run, Ctrl-C),
    in the order they went down."""
    down: dict[tuple[str | None, str], Step] = {}
    for step in done:
        key = (step.netns, step.ifname)
        if step.action == "down":
            down[key] = step
        elif step.action == "up":
            down.pop(key, None)
    return [Step(s.at, "up", s.netns, s.ifname, None, s.index) for s in down.values()]


@datatype
class Timeline:
    """What a run of the timeline did: the steps done, when (seconds after the start), and
    the signal that stopped it, if one did."""

    done: list[tuple[Step, float]] = field(default_factory=list)
    stopped_by: int | None = None


def run_timeline(steps: Sequence[Step], do: Callable[[Step], None],
                 clock: Callable[[], float], sleep: Callable[[float], None],
                 stopped: Callable[[], int | None] = lambda: None,
                 report: Callable[[Step, float], None] = lambda step, at: None,
                 until: float | None = None) -> Timeline:
    """Play `steps` in order, each when `clock` (a monotonic clock, seconds) says it is due,
    then wait until `until` (seconds after the start) if given. Between naps of at most a
    tenth of a second it asks `stopped()`: a signal number ends the run at once, with what
    was done. A step that is late (the machine was busy) runs at once, never skipped."""
    timeline = Timeline()
    start = clock()

    def wait_until(at: float) -> bool:
        while (left := start + at - clock()) > 0:
            if (signum := stopped()) is not None:
                timeline.stopped_by = signum
                return False
            sleep(min(left, 0.1))
        if (signum := stopped()) is not None:
            timeline.stopped_by = signum
            return False
        return True

    for step in steps:
        if not wait_until(step.at):
            return timeline
        do(step)
        at = clock() - start
        timeline.done.append((step, at))
        report(step, at)
    if until is not None:
        wait_until(until)
    return timeline
