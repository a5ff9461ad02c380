"""`checks:` for real: every example's checks pass on a kernel that has its kinds, and the
probes report failures (and time out) instead of hanging or passing by accident."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import vnet
from vnet import api
from vnet.cli import main

from .test_examples import EXAMPLES_FOR_THE_KERNEL, _require_kinds

WITH_CHECKS = [p for p in EXAMPLES_FOR_THE_KERNEL if "checks:" in Path(p.values[0]).read_text()]


def _failures(results: list) -> list[str]:
    return [f"{r.probe.label}: expected {r.probe.expect}, observed {r.observed}"
            for r in results if not r.passed]


@pytest.mark.parametrize("path", WITH_CHECKS)
def test_example_checks_pass(path: Path) -> None:
    _require_kinds(path)
    topo = vnet.load_file(path)
    try:
        topo.apply()
        results = topo.check()
        assert results, f"{path.name} has no checks"
        assert not _failures(results), _failures(results)
    finally:
        topo.destroy()


PAIR = """
name: chk
namespaces: [a, b, c]
interfaces:
  - {name: va, kind: veth, netns: a, addresses: [192.0.2.1/24, "2001:db8::1/64"],
     peer: {name: vb, netns: b, addresses: [192.0.2.2/24, "2001:db8::2/64"]}}
  - {name: vc, kind: veth, netns: c, addresses: [198.51.100.1/24],
     peer: {name: vd, netns: b, addresses: [198.51.100.2/24]}, mtu: 1280}
checks:
"""


def _run(checks: str) -> list:
    topo = vnet.load_text(PAIR + checks)
    topo.apply()
    try:
        return api.check(topo)
    finally:
        topo.destroy()


@pytest.mark.kind("veth")
def test_each_probe_kind_passes_where_it_should() -> None:
    results = _run("""
  - {from: a, ping: 192.0.2.2}
  - {from: a/va, ping: "2001:db8::2"}
  - {from: b, tcp: "192.0.2.1:8080"}
  - {from: a, udp: "[2001:db8::2]:5353"}
  - {from: a, mtu: 1500, to: 192.0.2.2}
  - {from: c, mtu: 1281, to: 198.51.100.2, expect: fail}
  - {from: a, ping: 198.51.100.1, expect: fail, timeout: 0.5}
  - {from: a, tcp: "198.51.100.1:80", expect: fail, timeout: 0.5}
""")
    assert not _failures(results), _failures(results)
    assert len(results) == 8


@pytest.mark.kind("veth")
def test_a_broken_expectation_fails_with_the_reason_and_within_its_timeout() -> None:
    started = time.monotonic()
    results = _run("""
  - {from: a, ping: 198.51.100.1, timeout: 0.5}
  - {from: a, udp: "198.51.100.1:9", timeout: 0.5}
  - {from: a, ping: 192.0.2.2, expect: fail}
""")
    elapsed = time.monotonic() - started
    assert [r.passed for r in results] == [False, False, False]
    assert "0/2 replies" in results[0].observed
    assert "no echo" in results[1].observed or "unreachable" in results[1].observed
    assert "2/2 replies" in results[2].observed
    assert elapsed < 15


@pytest.mark.kind("veth")
def test_check_before_apply_fails_clearly() -> None:
    topo = vnet.load_text(PAIR + "  - {from: a, ping: 192.0.2.2}\n")
    [result] = api.check(topo)
    assert not result.passed
    assert "does not exist" in result.observed


@pytest.mark.kind("veth")
def test_cli_check_and_apply_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    good = tmp_path / "good.yaml"
    good.write_text(PAIR + "  - {from: a, ping: 192.0.2.2}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(PAIR + "  - {from: a, ping: 192.0.2.2, expect: fail}\n")
    assert main(["apply", "--check", str(good)]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out
    assert main(["check", "--json", str(bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False
    assert report["checks"][0]["expected"] == "fail"
    assert report["checks"][0]["observed"] == "2/2 replies"
    assert main(["destroy", "chk"]) == 0


@pytest.mark.kind("veth")
def test_exec_runs_inside_the_namespace(capfd: pytest.CaptureFixture[str]) -> None:
    topo = vnet.load_text(PAIR)
    topo.apply()
    try:
        assert main(["exec", "a", "--", "ip", "-br", "addr", "show", "dev", "va"]) == 0
        assert "192.0.2.1/24" in capfd.readouterr().out
        assert main(["exec", "a", "--", "sh", "-c", "exit 7"]) == 7
        assert main(["exec", "nosuch", "--", "true"]) == 1
    finally:
        topo.destroy()
