"""Failures over time for real: measuring pings (delay, loss, outage), `vnet link` and
`vnet run` on veth pairs, and (where the kernel has netem) a known delay and loss measured."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import vnet
from vnet import api, cli, failures
from vnet.errors import VnetError

from .helpers import CommandError, ip_json, require_kind, sh

pytestmark = pytest.mark.kind("veth")

PAIR = """
name: fail
namespaces: [a, b]
interfaces:
  - {name: va, kind: veth, netns: a, addresses: [192.0.2.1/24],
     peer: {name: vb, netns: b, addresses: [192.0.2.2/24]}}
"""


def _topo(extra: str = "") -> vnet.Topology:
    require_kind("veth")
    topo = vnet.load_text(PAIR + extra)
    topo.apply()
    return topo


def _results(checks: str) -> list:
    topo = _topo("checks:\n" + checks)
    try:
        return api.check(topo)
    finally:
        topo.destroy()


def _up(netns: str, ifname: str) -> bool:
    return "UP" in ip_json("link", "show", ifname, netns=netns)[0]["flags"]


def test_measuring_pings_judge_what_a_clean_veth_shows() -> None:
    results = _results("""
  - {name: no loss, from: a, ping: 192.0.2.2, expect_loss: 0%, count: 300}
  - {name: 2% is not what a clean link shows, from: a, ping: 192.0.2.2, expect_loss: 2%}
  - {name: no delay, from: a, ping: 192.0.2.2, expect_delay: 0ms}
  - {name: 50 ms is not there, from: a, ping: 192.0.2.2, expect_delay: 50ms}
  - {name: steady, from: a, ping: 192.0.2.2, during: true, count: 30}
""")
    verdicts = {r.probe.label: (r.passed, r.observed) for r in results}
    assert verdicts["no loss"][0], verdicts
    assert "0/300 lost" in verdicts["no loss"][1]
    passed, text = verdicts["2% is not what a clean link shows"]
    assert not passed and "0/500 lost" in text and "99% binomial interval" in text, text
    assert verdicts["no delay"][0], verdicts
    passed, text = verdicts["50 ms is not there"]
    assert not passed and "50.00 ms ± 7.00 ms expected" in text, text
    assert verdicts["steady"][0] and "30/30 replies (0 lost)" in verdicts["steady"][1], verdicts


def test_a_known_total_loss_is_measured_and_a_partial_one_refused() -> None:
    """The host kernel has no netem nor gact: the target ignoring every echo is the loss it
    can make exactly."""
    topo = _topo("""checks:
  - {name: all lost, from: a, ping: 192.0.2.2, expect_loss: 100%, count: 50, timeout: 0.5}
  - {name: half lost, from: a, ping: 192.0.2.2, expect_loss: 50%, count: 50, timeout: 0.5}
""")
    try:
        assert api.exec_in("b", ["sh", "-c", "echo 1 > /proc/sys/net/ipv4/icmp_echo_ignore_all"]) \
            == 0
        started = time.monotonic()
        results = api.check(topo)
        assert time.monotonic() - started < 10  # bounded: count x interval + timeouts
    finally:
        topo.destroy()
    assert results[0].passed, results[0].observed
    assert "50/50 lost" in results[0].observed
    assert not results[1].passed and "50/50 lost" in results[1].observed


def test_link_down_shows_as_drift_and_up_ends_it() -> None:
    topo = _topo()
    try:
        failures.link("fail", "a/va", "down")
        assert not _up("a", "va")
        plan = topo.plan()
        assert plan.has_changes and any("a/va" in a.subject for a in plan.actions), \
            [a.subject for a in plan.actions]
        failures.link("fail", "a/va", "up")
        assert _up("a", "va") and not topo.plan().has_changes
    finally:
        topo.destroy()


def test_link_refuses_what_the_topology_does_not_own() -> None:
    topo = _topo()
    try:
        sh("ip", "link", "add", "stranger", "type", "veth", "peer", "name", "stranger-b",
           netns="a")
        with pytest.raises(VnetError, match="belongs to no vnet topology"):
            failures.link("fail", "a/stranger", "down")
        with pytest.raises(VnetError, match="no interface 'nope'"):
            failures.link("fail", "a/nope", "down")
        with pytest.raises(VnetError, match="belongs to topology 'fail', not to 'other'"):
            failures.link("other", "a/va", "down")
        assert _up("a", "va")
    finally:
        topo.destroy(force=True)


def _rx_packets(netns: str, ifname: str) -> int:
    return int(ip_json("-s", "link", "show", ifname, netns=netns)[0]["stats64"]["rx"]["packets"])


def test_a_flap_during_a_ping_is_seen_and_recovered() -> None:
    """`vnet link flap` while a during-ping runs: the outage shows, the link comes back, and
    the ping's replies with it. The flap starts once the ping's echoes arrive (not after a
    fixed time: a slow machine starts its ping late)."""
    topo = _topo("""checks:
  - {name: through the flap, from: a, ping: 192.0.2.2, during: true, max_outage: 4s,
     count: 100}
""")
    said: list[str] = []
    problems: list[BaseException] = []

    def flap_once_pinged() -> None:
        try:
            start = _rx_packets("b", "vb")
            deadline = time.monotonic() + 60
            while _rx_packets("b", "vb") < start + 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            failures.link("fail", "b/vb", "flap", 1.5, say=said.append)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            problems.append(exc)

    try:
        flapper = threading.Thread(target=flap_once_pinged)
        flapper.start()
        results = api.check(topo)  # 100 probes, 100 ms apart: 10 s around the flap
        flapper.join(timeout=60)
        assert not problems, problems
        assert any("b/vb down, up again in 1.5 s" in line for line in said), said
        assert any("b/vb up" in line for line in said), said
        assert _up("b", "vb")
    finally:
        topo.destroy()
    result = results[0]
    assert result.passed, result.observed
    assert "longest outage 0.00 s" not in result.observed, result.observed


def test_ctrl_c_during_a_flap_brings_the_link_back() -> None:
    topo = _topo()
    try:
        flap = subprocess.Popen([sys.executable, "-m", "vnet", "link", "fail", "a/va", "flap",
                                 "--for", "60s"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert flap.stdout is not None
        line = flap.stdout.readline()  # once it says so, the link is down
        assert "a/va down" in line
        assert not _up("a", "va")
        flap.send_signal(signal.SIGINT)
        out, err = flap.communicate(timeout=30)
        assert flap.returncode == 130, (out, err)
        assert "a/va up" in out and "interrupted by SIGINT" in err
        assert _up("a", "va")
    finally:
        topo.destroy()


RUN = """checks:
  - {name: through the events, from: a, ping: 192.0.2.2, during: true, max_outage: 4s}
  - {name: strict, from: a, ping: 192.0.2.2, during: true, max_outage: 300ms}
  - {name: after, from: b, ping: 192.0.2.1}
events:
  - {at: 2s, link: b/vb, up: true}
  - {at: 500ms, link: b/vb, down: true}
"""


def test_vnet_run_plays_the_events_while_the_checks_run(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) \
        -> None:
    require_kind("veth")
    path = tmp_path / "run.yaml"
    path.write_text(PAIR + RUN)
    assert cli.main(["run", str(path)]) == 1  # nothing applied yet: refused
    assert "vnet apply" in capsys.readouterr().err.replace("\n", " ")
    assert cli.main(["apply", "-q", str(path)]) == 0
    try:
        capsys.readouterr()
        code = cli.main(["run", "--json", "--settle", "2s", str(path)])
        report = json.loads(capsys.readouterr().out)
        # the strict check fails: 1.5 s down is more than 300 ms
        assert code == 1, [c["observed"] for c in report["checks"]]
        assert [e["event"] for e in report["events"]] == ["link b/vb down", "link b/vb up"]
        at = [e["at"] for e in report["events"]]
        assert 0.5 <= at[0] < 1.5 and 2.0 <= at[1] < 3.0, at
        checks = {c["check"]: c for c in report["checks"]}
        assert list(checks) == ["through the events", "strict", "after"]
        assert checks["through the events"]["passed"], checks
        observed = checks["through the events"]["observed"]
        outage = float(observed.split("longest outage ")[1].split(" s")[0])
        assert 1.0 <= outage <= 2.5, observed  # down at 0.5 s, up at 2 s
        assert not checks["strict"]["passed"] and "300 ms" not in checks["strict"]["observed"]
        assert "0.3 s allowed" in checks["strict"]["observed"], checks["strict"]
        assert checks["after"]["passed"], checks
        assert _up("b", "vb")
        assert cli.main(["plan", "-q", str(path)]) == 0  # the events left the file's state
    finally:
        cli.main(["destroy", "-q", str(path)])


def test_ctrl_c_during_vnet_run_brings_the_downed_link_back(tmp_path: Path) -> None:
    require_kind("veth")
    path = tmp_path / "run.yaml"
    path.write_text(PAIR + "events:\n  - {at: 0s, link: a/va, down: true}\n"
                    "  - {at: 60s, link: a/va, up: true}\n")
    assert cli.main(["apply", "-q", str(path)]) == 0
    try:
        run = subprocess.Popen([sys.executable, "-m", "vnet", "run", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert run.stdout is not None
        assert "link a/va down" in run.stdout.readline()
        assert not _up("a", "va")
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=30)
        assert run.returncode == 130, (out, err)
        assert _up("a", "va")
        assert "interrupted by SIGINT" in err
    finally:
        cli.main(["destroy", "-q", str(path)])


def _netem(netns: str, ifname: str, *args: str) -> None:
    try:
        sh("tc", "qdisc", "add", "dev", ifname, "root", "netem", *args, netns=netns)
    except CommandError as exc:
        pytest.skip(f"kernel lacks the netem qdisc: {exc}")


def test_a_netem_delay_and_loss_are_measured_within_their_bounds() -> None:
    """The kernel tier's kernel has netem: a delay and a loss it makes are what the checks
    measure (20 ms each way: 40 ms round trip on top of what the link takes without netem,
    which a VM under load makes a few ms; 10% loss one way, over 500 probes)."""
    topo = _topo()
    try:
        out = sh("ping", "-n", "-c", "9", "-i", "0.2", "192.0.2.2", netns="a", timeout=60)
        times = sorted(float(t) for t in re.findall(r"time=([0-9.]+) ms", out))
        base = times[len(times) // 2]
        _netem("a", "va", "delay", "20ms")
        _netem("b", "vb", "delay", "20ms")
        delay, = api.check(vnet.load_text(PAIR + "checks:\n  - {from: a, ping: 192.0.2.2, "
                                          f"expect_delay: {40 + base:.2f}ms}}\n"))
        sh("tc", "qdisc", "change", "dev", "va", "root", "netem", "loss", "10%", netns="a")
        sh("tc", "qdisc", "change", "dev", "vb", "root", "netem", "delay", "0ms", netns="b")
        loss, wrong = api.check(vnet.load_text(
            PAIR + "checks:\n  - {from: a, ping: 192.0.2.2, expect_loss: 10%}\n"
            "  - {from: a, ping: 192.0.2.2, expect_loss: 30%}\n"))
    finally:
        topo.destroy()
    assert delay.passed, delay.observed
    assert loss.passed, loss.observed
    assert not wrong.passed, wrong.observed
