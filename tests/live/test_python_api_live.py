"""docs/python-api.md's examples that need root, and `Topology.exec`, run for real: each in
throwaway network and mount namespaces (exec's also in a PID namespace, so that what it checks
with pgrep is only its own). The page's other examples run in the unit tier
(tests/unit/test_python_api_doc.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def _page_code() -> str:
    return "\n\n".join(m.group(2) for m in _BLOCK.finditer(PAGE) if m.group(1) == "python")


_SANDBOX = r"""
set -e
mount -t tmpfs tmpfs /run
ip link set lo up
exec "$PY" "$SCRIPT"
"""


def test_every_example_runs_as_root_in_a_throwaway_namespace(tmp_path: Path) -> None:
    script = tmp_path / "page.py"
    script.write_text(_page_code(), encoding="utf-8")
    proc = subprocess.run(["unshare", "-n", "-m", "--propagation", "private", "sh", "-c",
                           _SANDBOX], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PY": sys.executable, "SCRIPT": str(script),
                               "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pass" in proc.stdout and "FAIL" not in proc.stdout


_EXEC_SCRIPT = """
import os, subprocess, time, vnet
topo = vnet.load_text("name: ex\\nnamespaces: [h1]\\ninterfaces: [{name: a0, kind: veth, "
                      "netns: h1, peer: {name: a1, netns: h1}}]")
with topo:
    assert topo.exec("h1", ["cat"], input="hi", capture=True).stdout == "hi"
    assert topo.exec("h1", ["cat", "/sys/class/net/a1/mtu"], capture=True,
                     text=False).stdout == b"1500\\n"      # the namespace's own /sys
    missing = topo.exec("h1", ["no-such-program"], capture=True)
    assert missing.returncode == 127 and "no-such-program" in missing.stderr
    try:
        topo.exec("h1", ["false"], check=True)
        raise AssertionError("no CalledProcessError")
    except subprocess.CalledProcessError as err:
        assert err.returncode == 1 and err.cmd == ["false"]
    started = time.monotonic()
    try:
        topo.exec("h1", ["sleep", "60"], timeout=1, capture=True)
        raise AssertionError("no TimeoutExpired")
    except subprocess.TimeoutExpired:
        assert time.monotonic() - started < 10
    time.sleep(0.2)
    try:  # this script is PID 1 here: orphans are its to reap
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    left = subprocess.run(["pgrep", "-x", "sleep"], capture_output=True, text=True).stdout
    assert not left, f"the timed-out command still runs: {left}"
print("exec ok")
"""


def test_exec_behaves_as_subprocess_run(tmp_path: Path) -> None:
    """In throwaway network, mount and PID namespaces (pgrep sees only this test's)."""
    script = tmp_path / "exec.py"
    script.write_text(_EXEC_SCRIPT, encoding="utf-8")
    proc = subprocess.run(["unshare", "-n", "-m", "-p", "-f", "--mount-proc", "--propagation",
                           "private", "sh", "-c", _SANDBOX], capture_output=True, text=True,
                          timeout=120, cwd=ROOT,
                          env={**os.environ, "PY": sys.executable, "SCRIPT": str(script),
                               "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 0 and proc.stdout.strip() == "exec ok", proc.stdout + proc.stderr
