"""The benchmark keeps running: every scenario at its smallest size (no timing assertions).

Run by the live tier on this machine only (scripts/test-all.sh): the benchmark starts dozens of
whole vnet processes, each of which takes seconds to start inside the emulated VM of the
kernel tier, and what it measures does not depend on the kernel's kinds. It needs root; the
benchmark moves itself into a private network and mount namespace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository


@pytest.mark.kind("veth", "bridge")
def test_benchmark_runs_every_scenario_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--size", "20",
                           "--rounds", "1", "--scale", "10,20", "--json", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    names = set(res["scenarios"])
    for expected in ("startup", "create-20", "noop-20", "change-1 (in 20)", "destroy-20",
                     "star-2", "destroy-star-2", "scale-10", "scale-20"):
        assert expected in names, names
    assert res["peak_rss_apply_create_mib"] > 0
    # the reference's asynchronous teardown is also timed until its links are gone: never
    # sooner than it returned
    star = res["scenarios"]["destroy-star-2"]
    assert star["ip netns del, until its links are gone"]["median"] >= \
        star["ip netns del"]["median"] > 0
