"""Failures over time without a kernel: the measuring checks' statistics and validation, the
`events:` model and its errors, the timeline runner on a fake clock, and `vnet link` /
`vnet run` against the in-memory kernel."""

from __future__ import annotations

import math
import signal
from typing import Any

import pytest

import vnet
from vnet import failures, interrupt
from vnet.checks import (
    Series,
    binomial_bounds,
    judge_delay,
    judge_loss,
    judge_outage,
    longest_outage,
    parse_duration,
    parse_percent,
)
from vnet.door.fake import FakeKernel
from vnet.errors import TopologyError, VnetError
from vnet.events import Step, restoring, run_timeline
from vnet.export import Options
from vnet.export.networkd import export as networkd_export

HEAD = """name: lab
namespaces: [h1, h2]
interfaces:
  - {name: eth0, kind: veth, netns: h1, addresses: [192.0.2.1/24],
     peer: {name: eth0, netns: h2, addresses: [192.0.2.2/24]}}
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(TopologyError) as caught:
        vnet.load_text(HEAD + text, "f.yaml")
    return [str(issue) for issue in caught.value.issues]


def _pmf(n: int, p: float, k: int) -> float:
    return math.comb(n, k) * p ** k * (1 - p) ** (n - k)


# --- statistics ---------------------------------------------------------------------------

@pytest.mark.parametrize("n,p", [(500, 0.02), (500, 0.1), (100, 0.5), (1000, 0.001),
                                 (50, 0.9), (20, 0.3)])
def test_binomial_bounds_hold_99_percent_and_are_the_tightest(n: int, p: float) -> None:
    lo, hi = binomial_bounds(n, p)
    below = sum(_pmf(n, p, k) for k in range(lo))
    above = sum(_pmf(n, p, k) for k in range(hi + 1, n + 1))
    assert below <= 0.005 + 1e-12 and above <= 0.005 + 1e-12
    # one more count inside either bound would leave more than 0.5% outside
    assert lo == 0 or below + _pmf(n, p, lo) > 0.005
    assert hi == n or above + _pmf(n, p, hi) > 0.005


def test_binomial_bounds_of_the_issue_and_the_edges() -> None:
    assert binomial_bounds(500, 0.02) == (3, 19)
    assert binomial_bounds(500, 0.0) == (0, 0)
    assert binomial_bounds(500, 1.0) == (500, 500)
    assert binomial_bounds(0, 0.5) == (0, 0)


def _series(rtts: list[float | None], interval: float = 0.01) -> Series:
    return Series([i * interval for i in range(len(rtts))], rtts)


def test_loss_is_judged_inside_the_interval_and_says_its_numbers() -> None:
    ten = [None] * 10 + [0.001] * 490
    ok, text = judge_loss(_series(ten), 0.02)
    assert ok and text == "10/500 lost (2%); 2% allows 3-19 of 500 (99% binomial interval)"
    ok, text = judge_loss(_series([0.001] * 500), 0.02)
    assert not ok and text.startswith("0/500 lost (0%)")
    assert not judge_loss(_series([None] * 25 + [0.001] * 475), 0.02)[0]
    assert judge_loss(_series([0.001] * 500), 0.0)[0]
    assert not judge_loss(_series([None] + [0.001] * 499), 0.0)[0]


def test_delay_is_the_median_within_its_percentage_plus_two_ms() -> None:
    rtts: list[float | None] = [0.080] * 9 + [0.5, None]  # one outlier, one lost
    ok, text = judge_delay(_series(rtts), 0.080, 10)
    assert ok and text.startswith("median RTT 80.00 ms over 10 replies")
    assert text.endswith("80.00 ms ± 10.00 ms expected")
    assert judge_delay(_series([0.0899]), 0.080, 10)[0]
    assert not judge_delay(_series([0.0901]), 0.080, 10)[0]
    assert not judge_delay(_series([0.0691]), 0.080, 10)[0]
    assert judge_delay(_series([0.0019]), 0.0, 10)[0]
    ok, text = judge_delay(_series([None, None]), 0.080, 10)
    assert not ok and text == "no reply to measure a delay (80.00 ms expected)"


def test_the_outage_is_the_longest_silence_of_replies() -> None:
    steady = _series([0.001] * 100, 0.1)
    assert longest_outage(steady, 0.1) == (pytest.approx(0.0), True)
    # probes 10..24 lost: 15 probes, 1.5 s without replies
    lost = _series([0.001] * 10 + [None] * 15 + [0.001] * 10, 0.1)
    worst, recovered = longest_outage(lost, 0.1)
    assert worst == pytest.approx(1.5) and recovered
    # the same probes held by the kernel and answered late, all at 2.5 s: still an outage
    late = _series([0.001] * 10 + [2.5 - i * 0.1 for i in range(10, 25)] + [0.001] * 10, 0.1)
    assert longest_outage(late, 0.1)[0] == pytest.approx(1.5, abs=0.01)
    ok, text = judge_outage(lost, 0.1, 3.0)
    assert ok and text == "20/35 replies (15 lost); longest outage 1.50 s, 3 s allowed"
    assert not judge_outage(lost, 0.1, 1.0)[0]
    assert not judge_outage(lost, 0.1, None)[0]
    cut = _series([0.001] * 10 + [None] * 5, 0.1)
    ok, text = judge_outage(cut, 0.1, 3.0)
    assert not ok and "not recovered" in text


def test_durations_and_percentages() -> None:
    assert parse_duration("80ms") == pytest.approx(0.08)
    assert parse_duration(10) == 10.0 and parse_duration("0") == 0.0
    assert parse_duration("1.5s") == 1.5
    for bad, words in (("80", "needs a unit"), ("-1s", "not a number"), (True, "not a "),
                       ("3 days", "unknown unit")):
        with pytest.raises(ValueError, match=words):
            parse_duration(bad)
    assert parse_percent("2%") == pytest.approx(0.02) and parse_percent(50) == 0.5
    with pytest.raises(ValueError, match="outside 0% to 100%"):
        parse_percent("120%")


# --- the measuring checks in a file -------------------------------------------------------

def test_measuring_checks_resolve_with_their_defaults() -> None:
    topo = vnet.load_text(HEAD + """checks:
  - {from: h1, ping: 192.0.2.2, expect_loss: 2%}
  - {from: h1, ping: 192.0.2.2, expect_delay: 80ms, tolerance: 5, count: 50, interval: 20ms}
  - {from: h1, ping: 192.0.2.2, during: true, max_outage: 3s}
""")
    from vnet.checks import resolve_checks
    from vnet.errors import Collector
    loss, delay, during = resolve_checks(topo, Collector())
    assert (loss.count, loss.expect_loss, loss.interval) == (500, pytest.approx(0.02), 0.01)
    assert (delay.count, delay.expect_delay, delay.tolerance, delay.interval) == \
        (50, pytest.approx(0.08), 5, pytest.approx(0.02))
    assert during.during and during.max_outage == 3.0 and during.interval == 0.1


@pytest.mark.parametrize("check,expected", [
    ("{from: h1, tcp: '192.0.2.2:80', expect_loss: 2%}", "only go with ping"),
    ("{from: h1, ping: 192.0.2.2, expect_loss: 120%}", "outside 0% to 100%"),
    ("{from: h1, ping: 192.0.2.2, expect_loss: 2%, count: 5}", "give count 20 or more"),
    ("{from: h1, ping: 192.0.2.2, expect_delay: '80'}", "needs a unit"),
    ("{from: h1, ping: 192.0.2.2, expect_delay: 80ms, expect: fail}", "leave out 'expect: fail'"),
    ("{from: h1, ping: 192.0.2.2, max_outage: 3s}", "'max_outage' goes with 'during: true'"),
    ("{from: h1, ping: 192.0.2.2, tolerance: 5}", "'tolerance' goes with a rate check"),
    ("{from: h1, ping: 192.0.2.2, expect_delay: 8ms, failover: h1/eth0, count: 6}",
     "a failover ping cannot also measure"),
])
def test_bad_measuring_checks_say_why(check: str, expected: str) -> None:
    errors = _errors(f"checks:\n  - {check}\n")
    assert any(expected in e and "f.yaml:" in e for e in errors), errors


# --- events --------------------------------------------------------------------------------

def test_events_resolve_in_time_order() -> None:
    topo = vnet.load_text(HEAD + """events:
  - {at: 20s, link: h1/eth0, up: true}
  - {at: 10s, link: h1/eth0, down: true}
  - {at: 10, link: h2/eth0, down: true}
""")
    from vnet.errors import Collector
    from vnet.events import resolve_events
    steps = resolve_events(topo, Collector())
    assert [(s.at, s.describe()) for s in steps] == [
        (10.0, "link h1/eth0 down"), (10.0, "link h2/eth0 down"), (20.0, "link h1/eth0 up")]


@pytest.mark.parametrize("event,expected", [
    ("{at: 10s, link: h1/eht0, down: true}",
     "events[0].link: interface 'eht0' is not one this file creates in namespace 'h1'"),
    ("{at: 10s, link: h3/eth0, down: true}", "namespace 'h3' is not one of this topology's"),
    ("{at: 10s, link: h1/eth0, dwon: true}", "did you mean 'down'?"),
    ("{at: 10s, link: h1/eth0}", "an event does exactly one of down: true, up: true"),
    ("{at: 10s, link: h1/eth0, down: true, up: true}", "(got down, up)"),
    ("{at: 10s, link: h1/eth0, down: false}", "write 'up: true' instead"),
    ("{at: 2h, link: h1/eth0, down: true}", "unknown unit"),
    ("{at: 4000, link: h1/eth0, down: true}", "bounded to an hour"),
    ("{link: h1/eth0, down: true}", "required field 'at' is missing"),
    ("{at: 1s, link: h1/, down: true}", "is not NAMESPACE/INTERFACE"),
    ("{at: 1s, link: h1/eth0, impair: {loss: 120%}}", "loss '120%' is outside 0%-100%"),
])
def test_bad_events_are_reported_with_their_position(event: str, expected: str) -> None:
    errors = _errors(f"events:\n  - {event}\n")
    assert any(expected in e and "f.yaml:7:" in e for e in errors), errors


@pytest.fixture
def impair_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """api.impair's calls, recorded instead of made (the in-memory kernel has no tc)."""
    calls: list[tuple[Any, ...]] = []

    def impair(name: str, interface: str, settings: Any, backend: Any = None) -> None:
        calls.append((name, interface, settings))
    monkeypatch.setattr(vnet.api, "impair", impair)
    return calls


def test_impair_events_are_validated_by_the_impairments_model() -> None:
    errors = _errors("events:\n  - {at: 1s, link: h1/eth0, impair: {loss: 120%, jitter: x}}\n")
    assert any("events[0].impair.loss" in e and "outside 0%-100%" in e for e in errors), errors
    assert any("events[0].impair.jitter" in e for e in errors), errors


# --- the timeline runner on a fake clock ---------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.naps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


def test_the_timeline_plays_each_step_when_due() -> None:
    clock = FakeClock()
    steps = [Step(0.0, "down", "h1", "eth0"), Step(1.5, "up", "h1", "eth0"),
             Step(1.5, "down", "h2", "eth0")]
    done: list[tuple[str, float]] = []
    timeline = run_timeline(steps, lambda s: done.append((s.describe(), clock.now - 1000)),
                            clock, clock.sleep, until=4.0)
    assert done == [("link h1/eth0 down", 0.0), ("link h1/eth0 up", pytest.approx(1.5)),
                    ("link h2/eth0 down", pytest.approx(1.5))]
    assert clock.now - 1000 == pytest.approx(4.0)
    assert max(clock.naps) <= 0.1  # it looks for a signal at least ten times a second
    assert timeline.stopped_by is None and len(timeline.done) == 3


def test_a_signal_stops_the_timeline_and_restoring_brings_downed_links_up() -> None:
    clock = FakeClock()
    steps = [Step(0.0, "down", "h1", "eth0"), Step(0.5, "down", "h2", "eth0"),
             Step(1.0, "up", "h2", "eth0"), Step(9.0, "up", "h1", "eth0")]
    timeline = run_timeline(steps, lambda s: None, clock, clock.sleep,
                            stopped=lambda: signal.SIGINT if clock.now - 1000 > 2 else None)
    assert timeline.stopped_by == signal.SIGINT
    assert [s.describe() for s, _ in timeline.done] == [
        "link h1/eth0 down", "link h2/eth0 down", "link h2/eth0 up"]
    assert [s.describe() for s in restoring([s for s, _ in timeline.done])] == \
        ["link h1/eth0 up"]


# --- vnet link and vnet run on the in-memory kernel ---------------------------------------

def _applied(text: str) -> tuple[vnet.Topology, FakeKernel]:
    kernel = FakeKernel()
    topo = vnet.load_text(HEAD + text)
    topo.apply(backend=kernel)
    return topo, kernel


def _is_up(kernel: FakeKernel, netns: str, ifname: str) -> bool:
    return kernel.read_netns(netns).links[ifname].up


@pytest.fixture
def no_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host lock lives under /run/vnet, which a unit test leaves alone."""
    from contextlib import nullcontext

    import vnet.store
    monkeypatch.setattr(vnet.store, "host_lock", lambda wait=0: nullcontext())


def test_link_down_up_and_flap_on_an_owned_link(no_lock: None) -> None:
    topo, kernel = _applied("")
    said: list[str] = []
    failures.link("lab", "h1/eth0", "down", backend=kernel, say=said.append)
    assert not _is_up(kernel, "h1", "eth0")
    assert topo.plan(backend=kernel).has_changes  # the drift from the file
    failures.link("lab", "h1/eth0", "up", backend=kernel, say=said.append)
    assert not topo.plan(backend=kernel).has_changes
    clock = FakeClock()
    states: list[bool] = []
    failures.link("lab", "h2/eth0", "flap", 2.0, backend=kernel, say=said.append, clock=clock,
                  sleep=lambda s: (states.append(_is_up(kernel, "h2", "eth0")),
                                   clock.sleep(s)) and None)
    assert states and not any(states) and _is_up(kernel, "h2", "eth0")
    assert said == ["h1/eth0 down", "h1/eth0 up", "h2/eth0 down, up again in 2 s",
                    "h2/eth0 up"]


def test_a_signal_during_a_flap_brings_the_link_up(no_lock: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, kernel = _applied("")
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now - 1000 > 1:
            monkeypatch.setattr(interrupt._state, "received", signal.SIGINT)

    with pytest.raises(interrupt.Interrupted) as caught:
        failures.link("lab", "h1/eth0", "flap", 60.0, backend=kernel, clock=clock, sleep=sleep)
    assert caught.value.status == 130 and _is_up(kernel, "h1", "eth0")
    assert clock.now - 1000 < 2


def test_link_refuses_links_it_does_not_own(no_lock: None) -> None:
    _, kernel = _applied("")
    with pytest.raises(VnetError, match="belongs to topology 'lab', not to 'other'"):
        failures.link("other", "h1/eth0", "down", backend=kernel)
    with pytest.raises(VnetError, match="no interface 'eth9' in namespace 'h1'"):
        failures.link("lab", "h1/eth9", "down", backend=kernel)
    with pytest.raises(VnetError, match="namespace 'h9' does not exist"):
        failures.link("lab", "h9/eth0", "down", backend=kernel)
    assert _is_up(kernel, "h1", "eth0")


def test_run_plays_events_and_impairs_through_the_api(no_lock: None,
                                                      impair_calls: Any) -> None:
    topo, kernel = _applied("""events:
  - {at: 1s, link: h1/eth0, down: true}
  - {at: 2s, link: h1/eth0, impair: {delay: 40ms}}
  - {at: 3s, link: h1/eth0, up: true}
  - {at: 4s, link: h1/eth0, impair: {}}
""")
    clock = FakeClock()
    seen: list[str] = []
    result = failures.run(topo, backend=kernel, clock=clock, sleep=clock.sleep,
                          report=lambda step, at: seen.append(f"{at:.1f} {step.describe()}"))
    assert seen == ["1.0 link h1/eth0 down", "2.0 impair h1/eth0 delay=40ms",
                    "3.0 link h1/eth0 up", "4.0 impair h1/eth0 cleared"]
    assert impair_calls == [("lab", "h1/eth0", {"delay": "40ms"}), ("lab", "h1/eth0", None)]
    assert result.passed and _is_up(kernel, "h1", "eth0")


def test_run_refuses_a_topology_not_as_its_file_says(no_lock: None) -> None:
    topo, kernel = _applied("events:\n  - {at: 1s, link: h1/eth0, down: true}\n")
    kernel.send([vnet.actions.Request("link.state", "h1", {"ifname": "eth0", "up": False})])
    with pytest.raises(VnetError, match="run `vnet apply <string>` first"):
        failures.run(topo, backend=kernel)


def test_a_signal_during_a_run_brings_the_downed_links_back(
        no_lock: None, monkeypatch: pytest.MonkeyPatch) -> None:
    topo, kernel = _applied("""events:
  - {at: 1s, link: h1/eth0, down: true}
  - {at: 60s, link: h1/eth0, up: true}
""")
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now - 1000 > 5:
            monkeypatch.setattr(interrupt._state, "received", signal.SIGTERM)

    with pytest.raises(interrupt.Interrupted) as caught:
        failures.run(topo, backend=kernel, clock=clock, sleep=sleep)
    assert caught.value.status == 143 and caught.value.undone == 1
    assert _is_up(kernel, "h1", "eth0")


def test_exporters_leave_events_out() -> None:
    topo = vnet.load_text(HEAD + "events:\n  - {at: 1s, link: h1/eth0, down: true}\n")
    exported = networkd_export(topo, Options(netns="h1"))
    assert any(entry.path == "events[0]" and "vnet run" in entry.why
               for entry in exported.left_out)


def test_the_cli_parses_link_and_run() -> None:
    from vnet.cli import build_parser
    args = build_parser().parse_args(["link", "lab", "h1/eth0", "flap", "--for", "500ms"])
    assert (args.name, args.iface, args.action, args.hold) == ("lab", "h1/eth0", "flap", 0.5)
    args = build_parser().parse_args(["run", "f.yaml", "--settle", "2"])
    assert args.settle == 2.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["link", "lab", "h1/eth0", "sideways"])


def test_an_interrupted_run_puts_back_the_files_impairment_on_what_its_events_impaired(
        no_lock: None, impair_calls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    topo, kernel = _applied("""events:
  - {at: 1s, link: h1/eth0, impair: {delay: 40ms}}
  - {at: 60s, link: h1/eth0, impair: {}}
""")
    clock = FakeClock()
    from vnet import interrupt
    monkeypatch.setattr(interrupt, "requested",
                        lambda: signal.SIGINT if clock.now - 1000 > 2 else None)
    with pytest.raises(interrupt.Interrupted) as stopped:
        failures.run(topo, backend=kernel, clock=clock, sleep=clock.sleep)
    # the event's delay, then the file's impairment of h1/eth0 (none) put back
    assert impair_calls == [("lab", "h1/eth0", {"delay": "40ms"}), ("lab", "h1/eth0", None)]
    assert stopped.value.rolled_back and stopped.value.undone == 1
