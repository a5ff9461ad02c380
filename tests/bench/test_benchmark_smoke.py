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
from typing import Any

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
    for expected in ("startup: vnet --help", "startup: vnet validate lab.yaml", "create-20",
                     "noop-20", "show-20", "change-1 (in 20)", "destroy-20", "star-2",
                     "destroy-star-2", "scale-10", "scale-20"):
        assert expected in names, names
    assert res["peak_rss_apply_create_mib"]["20"] > 0
    # every scenario has vnet and at least one reference, each measured once per round
    for name, by_who in res["scenarios"].items():
        assert "vnet" in by_who and len(by_who) >= 2, (name, by_who)
    # the star's two references: one ip process per namespace, and one process in all
    assert {"ip -batch + ip -n NS per namespace", "one process, raw netlink"} <= \
        set(res["scenarios"]["star-2"])
    # the floor (floor.py) of create, no-op and destroy, and its table against the targets
    for name in ("create-20", "noop-20", "destroy-20"):
        assert "floor: a Python program, no checks" in res["scenarios"][name], name
    assert "| create-20 |" in proc.stdout.split("floor's ratio")[1]
    # the marginal cost per added interface between the scale sizes, for both tools
    assert set(res["marginal_us_per_interface"]["10→20"]) == {"vnet", "ip -batch"}
    # the reference's asynchronous teardown is also timed until its links are gone: never
    # sooner than it returned
    star = res["scenarios"]["destroy-star-2"]
    assert star["ip netns del, until its links are gone"]["median"] >= \
        star["ip netns del"]["median"] > 0


def _star_state(build: str, namespaces: str = "'' s0 s1 s2") -> dict[str, object]:
    """Build the star with `build` (shell, in a fresh private network and mount namespace)
    and read back what matters: links with kind, master, group, state and addresses, per
    namespace."""
    read = (f"for ns in {namespaces}; do ip ${{ns:+-n $ns}} -j -d link show; "
            "ip ${ns:+-n $ns} -j -4 addr show; done")
    proc = subprocess.run(
        ["unshare", "-n", "-m", "--propagation", "private", "sh", "-ec",
         f"mount -t tmpfs tmpfs /run; mkdir -p /run/netns; {build} >/dev/null; {read}"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, object] = {}
    for i, chunk in enumerate(proc.stdout.split("\n")):
        if not chunk.strip():
            continue
        for item in json.loads(chunk):
            key = f"{i}:{item['ifname']}"
            out[key] = (item.get("linkinfo", {}).get("info_kind"), item.get("master"),
                        item.get("group"), "UP" in item.get("flags", []),
                        sorted(a["local"] for a in item.get("addr_info", [])))
    return out


@pytest.mark.kind("veth", "bridge")
def test_the_single_process_star_reference_builds_what_the_ip_batches_build(
        tmp_path: Path) -> None:
    bench: Any = _bench()
    root, per_ns = bench.star_batches(3)
    (tmp_path / "root.batch").write_text(root)
    by_ip = "ip -batch " + str(tmp_path / "root.batch") + "".join(
        f"; printf '{text}' | ip -n {ns} -batch -" for ns, text in per_ns.items())
    by_ref = f"{sys.executable} {ROOT / 'benchmarks' / 'star_ref.py'} 3"
    expected = _star_state(by_ip)
    assert len(expected) > 10 and any(v[0] == "bridge" for v in expected.values())
    assert _star_state(by_ref) == expected


def _bench() -> object:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench
    finally:
        sys.path.pop(0)
    return bench


@pytest.mark.kind("veth")
def test_the_floor_builds_what_the_ip_batch_builds_and_deletes_only_its_group(
        tmp_path: Path) -> None:
    bench: Any = _bench()
    (tmp_path / "c.batch").write_text(bench.create_batch(3))
    (tmp_path / "c.yaml").write_text(bench.create_yaml(3))
    floor = f"{sys.executable} {ROOT / 'benchmarks' / 'floor.py'}"
    expected = _star_state(f"ip -batch {tmp_path / 'c.batch'}", namespaces="''")
    links = [v for k, v in expected.items() if k.startswith("0:")]  # then their addresses
    assert len(links) == 7 and sum(v[2] == str(bench.GROUP) and v[3] for v in links) == 6
    assert sum(len(v[4]) for k, v in expected.items() if k.startswith("1:")) == 6
    assert _star_state(f"{floor} create {tmp_path / 'c.yaml'} {bench.GROUP}",
                       namespaces="''") == expected
    # the kernel's refusal fails it (the pairs are there already); its no-op reads, and its
    # destroy deletes the group, not a link outside it
    after = _star_state(f"{floor} create {tmp_path / 'c.yaml'} {bench.GROUP}; "
                        f"if {floor} create {tmp_path / 'c.yaml'} {bench.GROUP} 2>/dev/null; "
                        "then exit 9; fi; "
                        f"{floor} noop {tmp_path / 'c.yaml'}; "
                        "ip link add keep type veth peer name keep1; "
                        f"{floor} destroy {bench.GROUP}", namespaces="''")
    assert sorted(after) == ["0:keep", "0:keep1", "0:lo"]


def test_the_floor_imports_nothing_a_lean_program_would_not() -> None:
    # a floor that paid for imports vnet may avoid would claim targets out of reach that
    # are not: no typing, no ctypes (star_ref's namespaces), no ipaddress
    code = ("import sys; sys.path.insert(0, 'benchmarks'); import floor; "
            "print(' '.join(m for m in ('typing', 'ctypes', 'ipaddress') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    assert out.split() == []
