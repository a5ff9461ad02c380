"""The lifecycle of each example of the kinds this host's kernel has, as a user other than
root, in a sandbox of the test's own (VNET_SANDBOX): apply, check, show, exec, plan (nothing
to do), destroy, `sandbox stop`. Run by scripts/test-all.sh as its unprivileged user."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vnet.api import cli_runner

ROOT = Path(__file__).resolve().parents[2]
HOST_KINDS = ["veth", "bridge", "vxlan", "macvlan", "macvtap", "ifb", "tun", "tap"]


def vnet(sandbox: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VNET_SANDBOX": str(sandbox)}
    env.pop("VNET_IN_SANDBOX", None)
    return subprocess.run([sys.executable, "-c", cli_runner(), *argv], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "sandbox"
    yield path
    vnet(path, "sandbox", "stop")


def test_runs_as_a_user_other_than_root() -> None:
    assert os.geteuid() != 0, "tests/rootless/test_lifecycle.py proves rootless work: run it " \
        "as an unprivileged user (scripts/test-all.sh does)"


@pytest.mark.parametrize("kind", HOST_KINDS)
def test_example_lifecycle(sandbox: Path, kind: str) -> None:
    import yaml
    example = ROOT / "examples" / f"{kind}.yaml"
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    name = data["name"]
    applied = vnet(sandbox, "apply", str(example))
    said = applied.stdout + applied.stderr
    assert "Traceback" not in said
    if kind in ("tun", "tap") and not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        # this machine keeps /dev/net/tun to root: one clear sentence, nothing left behind
        assert applied.returncode == 1, said
        assert "/dev/net/tun open to your user" in said and "rolled back" in said, said
        left = vnet(sandbox, "show", name)
        assert left.returncode == 1 and "nothing" in left.stdout + left.stderr, left
        return
    assert applied.returncode == 0, said
    if data.get("checks"):
        checked = vnet(sandbox, "check", str(example))
        assert checked.returncode == 0, checked.stdout + checked.stderr
    shown = vnet(sandbox, "show", name)
    assert shown.returncode == 0 and data["interfaces"][0]["name"] in shown.stdout, shown
    ns = (data.get("namespaces") or [None])[0]
    if ns is not None:
        done = vnet(sandbox, "exec", ns, "--", "ip", "-o", "link")
        assert done.returncode == 0 and "lo" in done.stdout, done
    planned = vnet(sandbox, "plan", str(example))
    assert planned.returncode == 0 and "no changes" in planned.stdout, planned
    listed = vnet(sandbox, "sandbox")
    assert f"topologies: {name}" in listed.stdout, listed
    gone = vnet(sandbox, "destroy", name)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert vnet(sandbox, "list").stdout.count("\n") <= 1  # the header line at most
    stopped = vnet(sandbox, "sandbox", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped
    assert not (sandbox / "holder.pid").exists()


def test_a_dead_holder_leaves_nothing_and_the_next_command_starts_afresh(
        sandbox: Path) -> None:
    """Killing the holder takes its namespaces and its records (its /run) with it: the next
    command finds holder.pid stale, starts a new holder, and sees no topology."""
    import signal
    applied = vnet(sandbox, "apply", str(ROOT / "examples" / "veth.yaml"))
    assert applied.returncode == 0, applied.stderr
    pid = int((sandbox / "holder.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    while Path(f"/proc/{pid}").exists():
        time.sleep(0.05)
    listed = vnet(sandbox, "list", "--json")
    assert listed.returncode == 0 and '"topologies": []' in listed.stdout, listed
    again = int((sandbox / "holder.pid").read_text().split()[0])
    assert again != pid
    planned = vnet(sandbox, "plan", str(ROOT / "examples" / "veth.yaml"))
    assert planned.returncode == 2, planned  # everything to create again: nothing stale
