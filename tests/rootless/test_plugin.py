"""The pytest plugin's fixture, proven from outside: a generated test file is run by a pytest
subprocess (as whoever runs this file: scripts/test-all.sh runs it as root and as its
unprivileged user). A test that must fail is reported failed, two topologies in one test
work, and after Ctrl-C or SIGKILL of that pytest nothing is left: no holder, no process in
the sandbox's namespaces, no sandbox directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

GENERATED = '''
import time
from pathlib import Path

TOPO = {"name": "plug", "namespaces": ["a", "b"], "interfaces": [
    {"name": "va", "kind": "veth", "netns": "a", "addresses": ["192.0.2.1/24"],
     "peer": {"name": "vb", "netns": "b", "addresses": ["192.0.2.2/24"]}}],
    "checks": [{"from": "a", "ping": "192.0.2.2"}]}
OTHER = {"name": "plug2", "namespaces": ["c"], "interfaces": [
    {"name": "br0", "kind": "bridge", "netns": "c", "addresses": ["198.51.100.1/24"]}],
    "checks": [{"from": "c", "ping": "198.51.100.1"}]}


def test_two_topologies(vnet_topology):
    lab = vnet_topology(TOPO)
    report = lab.check()
    assert report.ok and len(report.results) == 1 and report.results[0].passed
    done = lab.exec("b", ["ip", "-o", "-4", "addr", "show", "vb"], capture_output=True)
    assert done.returncode == 0 and "192.0.2.2/24" in done.stdout
    assert vnet_topology(OTHER).check().ok
    assert lab.plan()["actions"] == []


def test_must_fail(vnet_topology):
    lab = vnet_topology(TOPO)
    assert lab.exec("a", ["ping", "-c1", "-W1", "203.0.113.9"]).returncode == 0


def test_interrupted(vnet_topology):
    lab = vnet_topology(TOPO)
    Path(MARK).write_text(lab.sandbox_dir)
    time.sleep(600)
'''


def _pytest(where: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("VNET_SANDBOX", None)
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                             "-q", str(where / "test_generated.py"), *args], cwd=where,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    (tmp_path / "test_generated.py").write_text(
        f"MARK = {str(tmp_path / 'mark')!r}\n" + GENERATED, encoding="utf-8")
    return tmp_path


def _in_namespace(ns: str) -> list[int]:
    """The processes this user may see whose namespace is `ns` (e.g. 'net:[4026532]')."""
    kind = ns.split(":")[0]
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and os.readlink(proc / "ns" / kind) == ns:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "(ended)"


def test_a_failing_test_fails_and_two_topologies_work(generated: Path) -> None:
    proc = _pytest(generated, "-k", "not interrupted", f"--junitxml={generated}/out.xml")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 1, out
    cases = {case.get("name"): [child.tag for child in case]
             for case in ET.parse(generated / "out.xml").iter("testcase")}
    assert cases == {"test_two_topologies": [], "test_must_fail": ["failure"]}, out
    assert "1 failed, 1 passed" in out, out


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_nothing_is_left_after_an_interrupted_test(generated: Path,
                                                   how: signal.Signals) -> None:
    proc = _pytest(generated, "-k", "interrupted")
    mark = generated / "mark"
    deadline = time.monotonic() + 300
    while not mark.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.2)
    time.sleep(0.2)  # the mark is written whole
    directory = Path(mark.read_text())
    pid = int((directory / "holder.pid").read_text().split()[0])
    spaces = [os.readlink(f"/proc/{pid}/ns/{kind}") for kind in ("net", "mnt")]
    os.kill(proc.pid, how)
    out, _ = proc.communicate(timeout=120)
    if how == signal.SIGINT:
        assert "KeyboardInterrupt" in out or "Interrupted" in out, out
    # the fixture's teardown (destroy, then the sandbox stopped) runs after the signal: on
    # a machine loaded by other work it once took more than 30 s
    deadline = time.monotonic() + 90
    while (Path(f"/proc/{pid}").exists() or any(_in_namespace(ns) for ns in spaces)) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), "the sandbox's holder is still running"
    left = {p: _cmdline(p) for ns in spaces for p in _in_namespace(ns)}
    assert left == {}, f"processes left in the sandbox: {left}"
    deadline = time.monotonic() + 10
    while directory.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not directory.exists(), f"{directory} was left behind"
