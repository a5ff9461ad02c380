"""`checks:` in a topology file: what to prove with real packets, resolved into probes.

Pure: the model, validation against the topology (every target must be an address of the
topology's own namespaces), and the resolution into `Probe`s. The probes themselves run in
`door/probes.py`.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from .datatypes import datatype
from .declare import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from .errors import Collector
from .kinds.base import IP

PROBES = ("ping", "tcp", "udp", "mtu", "can", "rate", "nlmon")


def check_host_port(value: str) -> str:
    """`192.0.2.1:80` or `[2001:db8::1]:80`, normalised."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not ADDRESS:PORT (e.g. 192.0.2.1:8080 or "
                         "[2001:db8::1]:8080)")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} in {value!r} is not an IP address") from None
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def check_place(value: str) -> str:
    """`NAMESPACE` or `NAMESPACE/IFNAME`."""
    ns, _, ifname = value.partition("/")
    if not ns or "/" in ifname or (value.endswith("/") and not ifname):
        raise ValueError(f"{value!r} is not NAMESPACE or NAMESPACE/INTERFACE")
    return value


def parse_duration(value: Any, what: str = "a duration") -> float:
    """A duration in seconds: a number of seconds (`10`, `1.5`) or text with tc's units
    (`80ms`, `10s`, `500us`). Zero is allowed; a negative or unitless text is not."""
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is not a duration like 80ms or 10s")
    if isinstance(value, int | float):
        if not 0 <= value < math.inf:
            raise ValueError(f"{what} {value!r} must be zero or more seconds")
        return float(value)
    text = str(value).strip()
    if text in ("0", "0s", "0ms", "0us"):
        return 0.0
    if not text or text[-1].isdigit() or text[-1] == ".":
        raise ValueError(f"{what} {value!r} needs a unit: 80ms, 10s or 500us")
    from .features.shaping import parse_time  # tc's time units
    return parse_time(text) / 1e6


def parse_percent(value: Any, what: str = "a loss") -> float:
    """A percentage (`2%`, `0.5%`, or a bare number of percent) as a fraction in [0, 1]."""
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is not a percentage like 2%")
    text = str(value).strip()
    number = text[:-1].strip() if text.endswith("%") else text
    try:
        fraction = float(number) / 100
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a percentage like 2%") from None
    if not 0 <= fraction <= 1:
        raise ValueError(f"{what} {value!r} is outside 0% to 100%")
    return fraction


def _duration_text(value: Any) -> Any:
    parse_duration(value)
    return value


def _percent_text(value: Any) -> Any:
    parse_percent(value)
    return value


HostPort = Annotated[str, AfterValidator(check_host_port)]
Place = Annotated[str, AfterValidator(check_place)]
Duration = Annotated[str | float, AfterValidator(_duration_text)]
Percent = Annotated[str | float, AfterValidator(_percent_text)]
#: probes of one ping series at most (a loss check wants hundreds; plain checks 20)
SERIES_MAX = 1000
#: a delay check's fixed allowance beside its percentage (timer and scheduling noise), s
DELAY_SLACK = 0.002
#: confidence of a loss check's binomial interval
LOSS_CONFIDENCE = 0.99


class Encap(BaseModel):
    """Assert that the probe's packets cross an interface as UDP to a port (e.g. VXLAN)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    watch: Place = Field(description="NAMESPACE/INTERFACE to watch (the underlay).")
    udp: int = Field(ge=1, le=65535, description="UDP destination port the packets must use.")


class Check(BaseModel):
    """One assertion proved with real packets inside the topology's namespaces."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    name: str | None = Field(None, description="Label shown in the report.")
    from_: Place = Field(alias="from", description="NAMESPACE or NAMESPACE/INTERFACE to "
                         "send from.")
    ping: IP | None = Field(None, description="ICMP echo to this address.")
    tcp: HostPort | None = Field(None, description="TCP connect to ADDRESS:PORT (vnet listens "
                                 "there for the check).")
    udp: HostPort | None = Field(None, description="UDP datagram to ADDRESS:PORT and its echo "
                                 "(vnet answers there for the check).")
    mtu: int | None = Field(None, ge=68, le=65535, description="Path MTU to `to`: an unfragmented"
                            " packet of this many bytes gets through.")
    to: IP | None = Field(None, description="Destination of an `mtu` check.")
    can: Place | None = Field(None, description="NAMESPACE/INTERFACE that must receive a CAN "
                              "frame sent on `from` (NAMESPACE/INTERFACE).")
    rate: HostPort | None = Field(None, description="Send UDP to ADDRESS:PORT for `timeout` "
                                  "seconds at twice `expect_rate` and measure what arrives.")
    expect_rate: str | None = Field(None, description="Rate a `rate` check must measure, as tc "
                                    "spells it (10mbit).")
    tolerance: int | None = Field(None, ge=1, le=100, description="Allowed deviation in "
                                  "percent: of a `rate` check (default 20), of an "
                                  "`expect_delay` (default 10, plus 2 ms).")
    expect_delay: Duration | None = Field(None, description="For a ping: the round-trip time "
                                          "the median of the replies must show (80ms), within "
                                          "`tolerance` percent plus 2 ms.")
    expect_loss: Percent | None = Field(None, description="For a ping: the share of probes "
                                        "that must be lost (2%), judged with a 99% binomial "
                                        "interval over `count` probes (default 500).")
    interval: Duration | None = Field(None, description="Time between the probes of a "
                                      "measuring ping (expect_delay, expect_loss: 10ms; "
                                      "during: 100ms).")
    during: bool = Field(False, description="For a ping in `vnet run`: ping all through the "
                         "events; the longest outage must stay within `max_outage` and the "
                         "last probes must be answered.")
    max_outage: Duration | None = Field(None, description="Longest run of lost probes a "
                                        "`during` ping allows (3s); default none.")
    failover: Place | None = Field(None, description="For a ping: set this NAMESPACE/INTERFACE "
                                   "down after a third of the pings, up again after them; at "
                                   "most 3 may be lost.")
    nlmon: Place | None = Field(None, description="NAMESPACE/INTERFACE of an nlmon device that "
                                "must see the netlink messages of a link dump made in `from`.")
    expect: Literal["ok", "fail"] = Field("ok", description="ok: must work; fail: must not.")
    count: int = Field(2, ge=1, le=SERIES_MAX, description="Packets to send (ping, mtu); up "
                       "to 20, or 1000 for a measuring ping (expect_delay, expect_loss, "
                       "during).")
    timeout: float = Field(2.0, gt=0, le=30, description="Seconds to wait for an answer.")
    encap: Encap | None = Field(None, description="Also watch an interface for the packets.")

    @model_validator(mode="after")
    def _one_probe(self) -> Check:
        given = [p for p in PROBES if getattr(self, p) is not None]
        if len(given) != 1:
            raise ValueError(f"a check needs exactly one of {', '.join(PROBES)} "
                             f"(got {', '.join(given) or 'none'})")
        if self.mtu is not None and self.to is None:
            raise ValueError("an mtu check needs 'to' (the address to reach)")
        if self.to is not None and self.mtu is None:
            raise ValueError("'to' is only used with mtu")
        if (self.rate is None) != (self.expect_rate is None):
            raise ValueError("a rate check needs both 'rate' (ADDRESS:PORT) and 'expect_rate'")
        if self.expect_rate is not None:
            from .features.shaping import parse_rate  # tc's units, shared with shaping
            parse_rate(self.expect_rate)
        if self.failover is not None and self.ping is None:
            raise ValueError("'failover' is only used with ping")
        if self.failover is not None and self.count < 6:
            raise ValueError("a failover ping needs count of at least 6 (a third before the "
                             "port goes down, the rest after)")
        measuring = [f for f in ("expect_delay", "expect_loss", "interval", "max_outage")
                     if getattr(self, f) is not None] + (["during"] if self.during else [])
        if measuring and self.ping is None:
            raise ValueError(f"{', '.join(measuring)} only go with ping")
        if measuring and self.failover is not None:
            raise ValueError("a failover ping cannot also measure (expect_delay, expect_loss, "
                             "during): use `during: true` with an event that takes the link "
                             "down")
        if measuring and self.expect == "fail":
            raise ValueError("a measuring ping (expect_delay, expect_loss, during) says what "
                             "must be measured: leave out 'expect: fail'")
        if self.max_outage is not None and not self.during:
            raise ValueError("'max_outage' goes with 'during: true'")
        if self.count > 20 and not measuring:
            raise ValueError(f"count {self.count} is for a measuring ping (expect_loss, "
                             "expect_delay, during): other checks send at most 20")
        if self.tolerance is not None and self.rate is None and self.expect_delay is None:
            raise ValueError("'tolerance' goes with a rate check or expect_delay")
        if self.expect_loss is not None and "count" in self.model_fields_set and \
                self.count < 20:
            raise ValueError(f"a loss check over {self.count} probes says too little: give "
                             "count 20 or more (500 tells 2% from 4%)")
        return self

    @property
    def measuring(self) -> bool:
        """A ping that measures a series (delay, loss, or an outage during events)."""
        return self.ping is not None and (self.expect_delay is not None or self.during or
                                          self.expect_loss is not None)

    @property
    def series_count(self) -> int:
        """Probes of the check: `count`, or 500 for a loss check and 20 for a delay check
        that leave it out."""
        if "count" in self.model_fields_set:
            return self.count
        if self.expect_loss is not None:
            return 500
        return 20 if self.measuring else self.count

    @property
    def probe(self) -> str:
        return next(p for p in PROBES if getattr(self, p) is not None)


@datatype(frozen=True)
class Probe:
    """A check resolved against the topology: where each end lives."""

    label: str
    probe: str
    src_ns: str
    src_dev: str | None
    dst_ns: str | None  # where the target address (or CAN receiver) lives
    dst_addr: str | None
    dst_dev: str | None
    port: int | None
    mtu: int | None
    expect: str
    count: int
    timeout: float
    encap_ns: str | None = None
    encap_dev: str | None = None
    encap_port: int | None = None
    expect_rate: int | None = None  # bytes per second
    tolerance: int = 20
    failover_ns: str | None = None
    failover_dev: str | None = None
    expect_delay: float | None = None  # seconds, round trip
    expect_loss: float | None = None  # fraction lost
    interval: float = 0.01  # seconds between the probes of a measuring ping
    during: bool = False
    max_outage: float | None = None  # seconds

    @property
    def measuring(self) -> bool:
        """A ping sent as a timed series and judged on what it measures."""
        return self.expect_delay is not None or self.expect_loss is not None or self.during

    @property
    def target(self) -> str:
        if self.probe in ("can", "nlmon"):
            return f"{self.dst_ns}/{self.dst_dev}"
        if self.port is not None:
            host = f"[{self.dst_addr}]" if ":" in (self.dst_addr or "") else self.dst_addr
            return f"{host}:{self.port}"
        return self.dst_addr or ""


def _split(place: str) -> tuple[str, str | None]:
    ns, _, dev = place.partition("/")
    return ns, (dev or None)


def _some(names: list[str], most: int = 10) -> str:
    """The first names of a list, for a hint (a file may declare thousands)."""
    more = f", ... ({len(names) - most} more)" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def resolve_checks(topo: Any, issues: Collector) -> list[Probe]:
    """Validate each check against the topology and resolve it into a Probe. Every target must
    be an address of an interface in one of the topology's own namespaces."""
    if not topo.checks:  # the indexes below cost a large file's load a twentieth
        return []
    ends = topo.endpoints()
    by_key = {(e.netns, e.name): e for e in ends}
    declared = set(topo.namespaces)  # a file may declare thousands: no list scan per end
    owners: dict[str, tuple[str, str]] = {}
    for end in ends:
        if end.netns in declared:
            for addr in end.addresses:
                owners.setdefault(addr.split("/")[0], (end.netns, end.name))
    probes: list[Probe] = []
    for i, chk in enumerate(topo.checks):
        path = f"checks[{i}]"

        def bad(field: str, message: str, hint: str = "", path: str = path) -> None:
            issues.add(message, f"{path}.{field}", topo.where(f"{path}.{field}"), hint)

        ok = True
        places = [("from", chk.from_)] + ([("can", chk.can)] if chk.can else []) + \
            ([("nlmon", chk.nlmon)] if chk.nlmon else []) + \
            ([("encap.watch", chk.encap.watch)] if chk.encap else []) + \
            ([("failover", chk.failover)] if chk.failover else [])
        for field, place in places:
            ns, dev = _split(place)
            if ns not in declared:
                bad(field, f"namespace {ns!r} is not one of this topology's namespaces",
                    f"use one of: {_some(topo.namespaces) or '(none declared)'}")
                ok = False
            elif dev is not None and (ns, dev) not in by_key:
                bad(field, f"interface {dev!r} is not defined in namespace {ns!r}",
                    "name an interface of this file in that namespace")
                ok = False
        src_ns, src_dev = _split(chk.from_)
        dst_ns = dst_dev = dst_addr = None
        port = None
        if chk.probe == "can":
            for field, place in (("from", chk.from_), ("can", chk.can or "")):
                ns, dev = _split(place)
                end = by_key.get((ns, dev)) if dev else None
                if dev is None:
                    bad(field, "a CAN check names an interface: NAMESPACE/INTERFACE")
                    ok = False
                elif end is not None and end.kind not in ("vcan", "vxcan"):
                    bad(field, f"{place} is a {end.kind}, not a CAN interface (vcan, vxcan)")
                    ok = False
            dst_ns, dst_dev = _split(chk.can or "")
        elif chk.probe == "nlmon":
            dst_ns, dst_dev = _split(chk.nlmon or "")
            end = by_key.get((dst_ns, dst_dev)) if dst_dev else None
            if dst_dev is None:
                bad("nlmon", "an nlmon check names the device: NAMESPACE/INTERFACE")
                ok = False
            elif end is not None and end.kind != "nlmon":
                bad("nlmon", f"{chk.nlmon} is a {end.kind}, not an nlmon device")
                ok = False
            elif dst_ns != src_ns:
                bad("from", f"an nlmon device sees the netlink traffic of its own namespace "
                    f"only: send from {dst_ns}")
                ok = False
        else:
            field = chk.probe if chk.probe != "mtu" else "to"
            raw = getattr(chk, field)
            if chk.probe in ("tcp", "udp", "rate"):
                host, _, p = raw.rpartition(":")
                dst_addr, port = host.strip("[]"), int(p)
            else:
                dst_addr = raw
            owner = owners.get(dst_addr)
            if owner is None:
                bad(field, f"{dst_addr} is not an address of this topology's namespaces",
                    "vnet sends test traffic only to addresses it creates: use one declared "
                    "on an interface in one of the file's namespaces")
                ok = False
            else:
                dst_ns, dst_dev = owner
        if not ok:
            continue
        label = chk.name or f"{chk.probe} {chk.from_} → " + str(
            getattr(chk, chk.probe if chk.probe != "mtu" else "to"))
        enc_ns, enc_dev = _split(chk.encap.watch) if chk.encap else (None, None)
        fo_ns, fo_dev = _split(chk.failover) if chk.failover else (None, None)
        rate = None
        if chk.expect_rate is not None:
            from .features.shaping import parse_rate
            rate = parse_rate(chk.expect_rate)
        default_tolerance = 10 if chk.expect_delay is not None else 20
        interval = parse_duration(chk.interval) if chk.interval is not None else (
            0.1 if chk.during else 0.01)
        probes.append(Probe(
            label, chk.probe, src_ns, src_dev, dst_ns, dst_addr, dst_dev, port, chk.mtu,
            chk.expect, chk.series_count, chk.timeout, enc_ns, enc_dev,
            chk.encap.udp if chk.encap else None, rate,
            chk.tolerance if chk.tolerance is not None else default_tolerance, fo_ns, fo_dev,
            parse_duration(chk.expect_delay) if chk.expect_delay is not None else None,
            parse_percent(chk.expect_loss) if chk.expect_loss is not None else None,
            max(interval, 0.001), chk.during,
            parse_duration(chk.max_outage) if chk.max_outage is not None else None))
    return probes


def binomial_bounds(n: int, p: float, confidence: float = LOSS_CONFIDENCE) -> tuple[int, int]:
    """The counts `lo..hi` a Binomial(n, p) variable falls within with at least `confidence`:
    P(X < lo) and P(X > hi) are each at most (1 - confidence) / 2 (exact, not a normal
    approximation: at 2% over 500 probes the normal one is visibly lopsided)."""
    if n <= 0:
        return 0, 0
    if p <= 0:
        return 0, 0
    if p >= 1:
        return n, n
    tail = (1 - confidence) / 2
    logs = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log1p(-p) for k in range(n + 1)]
    pmf = [math.exp(v) for v in logs]
    lo = hi = None
    below = 0.0
    for k, mass in enumerate(pmf):
        if lo is None and below + mass > tail:
            lo = k
        below += mass
        if hi is None and below >= 1 - tail:
            hi = k
            break
    return (lo or 0), (n if hi is None else hi)


@datatype(frozen=True)
class Series:
    """What a measuring ping saw: per probe, its send time (s, monotonic) and its round-trip
    time (None: no reply in time)."""

    sent_at: Sequence[float]
    rtts: Sequence[float | None]
    note: str = ""

    @property
    def answered(self) -> list[float]:
        return [r for r in self.rtts if r is not None]


def judge_loss(series: Series, expected: float) -> tuple[bool, str]:
    """Whether the probes lost fit `expected` (a fraction): inside its 99% binomial interval."""
    n = len(series.rtts)
    lost = n - len(series.answered)
    lo, hi = binomial_bounds(n, expected)
    text = (f"{lost}/{n} lost ({_pct(lost / n if n else 0)}); {_pct(expected)} allows "
            f"{lo}-{hi} of {n} (99% binomial interval)")
    return n > 0 and lo <= lost <= hi, text


def judge_delay(series: Series, expected: float, tolerance: int) -> tuple[bool, str]:
    """Whether the median round trip is within `tolerance` percent of `expected`, plus 2 ms."""
    got = series.answered
    allowed = expected * tolerance / 100 + DELAY_SLACK
    if not got:
        return False, f"no reply to measure a delay ({_ms(expected)} expected)"
    import statistics  # only to report a measuring ping
    median = statistics.median(got)
    text = (f"median RTT {_ms(median)} over {len(got)} replies (mean {_ms(statistics.fmean(got))}"
            f"); {_ms(expected)} ± {_ms(allowed)} expected")
    return abs(median - expected) <= allowed, text


def longest_outage(series: Series, interval: float) -> tuple[float, bool]:
    """The longest time no reply arrived, less the `interval` replies normally come apart
    (so 0 on a steady link), and whether the series recovered (its last probe answered).

    Measured on the replies' arrival, as a receiver sees the network: while a link is down
    the kernel may hold the probes (waiting to resolve the neighbour) and deliver them once
    it is back, answered but late; they are part of the outage all the same. Before the
    first reply counts from the first probe; after the last one, up to one interval past the
    last probe."""
    if not series.sent_at:
        return 0.0, False
    arrivals = sorted(at + rtt for at, rtt in zip(series.sent_at, series.rtts, strict=True)
                      if rtt is not None)
    marks = [series.sent_at[0], *arrivals]
    end = series.sent_at[-1] + interval
    if not arrivals or arrivals[-1] < end:
        marks.append(end)
    worst = max((b - a for a, b in zip(marks, marks[1:], strict=False)), default=0.0)
    return max(worst - interval, 0.0), series.rtts[-1] is not None


def judge_outage(series: Series, interval: float, allowed: float | None) -> tuple[bool, str]:
    """Whether a ping kept through events recovered with its longest outage within `allowed`
    seconds (None: no probe may be lost)."""
    worst, recovered = longest_outage(series, interval)
    n = len(series.rtts)
    answered = len(series.answered)
    limit = f"{allowed:g} s allowed" if allowed is not None else "no loss allowed"
    text = f"{answered}/{n} replies ({n - answered} lost); longest outage {worst:.2f} s, {limit}"
    if not recovered:
        text += "; not recovered: the last probe went unanswered"
    ok = recovered and (answered == n if allowed is None else worst <= allowed)
    return ok, text


def judge_series(p: Probe, series: Series) -> tuple[bool, str]:
    """A measuring ping's verdict: every measure it names must hold."""
    verdicts = []
    if p.during:
        verdicts.append(judge_outage(series, p.interval, p.max_outage))
    if p.expect_loss is not None:
        verdicts.append(judge_loss(series, p.expect_loss))
    if p.expect_delay is not None:
        verdicts.append(judge_delay(series, p.expect_delay, p.tolerance))
    text = "; ".join(t for _, t in verdicts) + (f"; {series.note}" if series.note else "")
    return all(ok for ok, _ in verdicts), text


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


@datatype
class CheckResult:
    """What a probe observed."""

    probe: Probe
    passed: bool
    observed: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        p = self.probe
        return {"check": p.label, "probe": p.probe, "from": p.src_ns + (
            f"/{p.src_dev}" if p.src_dev else ""), "to": p.target, "expected": p.expect,
            "observed": self.observed, "passed": self.passed, "seconds": round(self.seconds, 3)}
