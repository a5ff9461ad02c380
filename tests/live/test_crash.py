"""Nothing lost, nothing leaked: `vnet apply` killed (SIGKILL) at many points of a large run,
then applied again, converges (exit 0, then an empty plan) and `destroy` leaves nothing; stopped
by SIGINT, SIGTERM or SIGHUP it rolls back to the state before (nothing left, exit 128+N); a
`destroy` interrupted is finished by a rerun.

The points are chosen by the run's own crash points (vnet.journal.crash_point: after each
step, between making an object and marking it, between a namespace's file and its mount), not
by time: a first run lists them, and the test takes one of each kind of point, then spreads
the rest evenly. vnet signals itself there (VNET_TEST_CRASH_AT, VNET_TEST_CRASH_SIGNAL).

Sizes: VNET_CRASH_POINTS points per signal family (default 20: the live tier's budget; the
full run of benchmarks/README.md uses more), VNET_CRASH_SPACES namespaces of 6 interfaces
each (default 50, 300 interfaces; 6 in the kernel tier, whose VM is about ten times slower).
The tests of kills and signals run in the live tier only (conftest's live_tier_only marker):
vnet's journal and rollback do not depend on the kernel's version, their kinds are this
machine's own, and under the VM's TCG each costs minutes; the kernel tier runs the stray
namespace file's test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from vnet import cli

from .crash_topology import crash_yaml
from .helpers import kernel_tier, require_kind

KINDS = ("veth", "bridge", "vxlan", "macvlan", "ifb", "tap")
pytestmark = pytest.mark.kind(*KINDS, "netns")

NAME = "crash"
#: the tests of kills and signals run in the live tier only (see conftest's live_tier_only)
ONLY_HERE = pytest.mark.live_tier_only(
    "kills and signals of an apply or a destroy prove vnet's journal and rollback, which do "
    "not depend on the kernel's version; the kinds used are this machine's own, and under "
    "the VM's TCG each such test takes minutes")
POINTS = int(os.environ.get("VNET_CRASH_POINTS", "20"))
SPACES = int(os.environ.get("VNET_CRASH_SPACES", "6" if kernel_tier() else "50"))


def _no_ipv6_here() -> None:
    """New links of the test's namespace get no IPv6: vnet creates them in batches (its other
    path, with its own crash point between creating and marking)."""
    with open("/proc/sys/net/ipv6/conf/default/disable_ipv6", "w") as fh:
        fh.write("1")


def _vnet(*args: str, crash_at: int | None = None, sig: str = "KILL",
          log: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VNET_TEST_CRASH")}
    if crash_at is not None:
        env["VNET_TEST_CRASH_AT"] = str(crash_at)
        env["VNET_TEST_CRASH_SIGNAL"] = sig
    if log is not None:
        env["VNET_TEST_CRASH_LOG"] = str(log)
    proc = subprocess.run([sys.executable, "-m", "vnet", *args], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


class _Ran:
    """What `vnet ARGV` run here said: its exit code and output, as subprocess gives them."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _here(capsys: pytest.CaptureFixture[str], *args: str) -> _Ran:
    """`vnet ARGS` in this process: the runs that are not stopped on purpose (a process each
    would cost its start-up, ten times slower in the kernel tier's VM)."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return _Ran(code, out, err)


def _left() -> list[str]:
    """What is left of anything vnet made: namespaces (or their files), links here other
    than lo, the topology's record and journal."""
    left = [f"/run/netns/{n}" for n in sorted(os.listdir("/run/netns"))] \
        if os.path.isdir("/run/netns") else []
    # links only: the bonding module adds a file there (bonding_masters)
    left += [f"link {n}" for n in sorted(os.listdir("/sys/class/net"))
             if n != "lo" and os.path.isdir(f"/sys/class/net/{n}")]
    left += [f"/run/vnet/{n}" for n in (f"{NAME}.json", f"{NAME}.journal")
             if os.path.exists(f"/run/vnet/{n}")]
    return left


def _choose(points: list[tuple[int, str]], count: int) -> list[int]:
    """`count` points of a run: the first of each kind of point, then evenly spread."""
    chosen: dict[int, None] = {}
    seen: set[str] = set()
    for index, label in points:
        if label not in seen:
            seen.add(label)
            chosen[index] = None
    chosen = dict(list(chosen.items())[:count])
    spare = [index for index, _ in points if index not in chosen]
    want = count - len(chosen)
    for k in range(want):
        chosen[spare[(k * len(spare)) // want]] = None
    return sorted(chosen)


@pytest.fixture
def crash_file(tmp_path: Path) -> tuple[Path, list[tuple[int, str]]]:
    """The topology's file, and the crash points of a whole apply of it (made and destroyed
    once, to list them)."""
    for kind in KINDS:
        require_kind(kind)
    _no_ipv6_here()
    path = tmp_path / "crash.yaml"
    path.write_text(crash_yaml(NAME, SPACES))
    assert _vnet("kinds").returncode == 0  # the probe's cache: no probe inside a counted run
    log = tmp_path / "points"
    done = _vnet("apply", "-q", str(path), log=log)
    assert done.returncode == 0, done.stderr
    assert _vnet("destroy", "-q", NAME).returncode == 0
    assert _left() == []
    points = []
    for line in log.read_text().splitlines():
        index, label = line.split(" ", 1)
        points.append((int(index), label))
    assert len(points) >= POINTS
    return path, points


@ONLY_HERE
def test_kill_at_any_point_then_apply_converges_and_destroy_leaves_nothing(
        crash_file: tuple[Path, list[tuple[int, str]]],
        capsys: pytest.CaptureFixture[str]) -> None:
    path, points = crash_file
    failures = []
    for at in _choose(points, POINTS):
        label = dict(points)[at]
        killed = _vnet("apply", "-q", str(path), crash_at=at)
        assert killed.returncode == -signal.SIGKILL, (at, label, killed.stderr)
        again = _here(capsys, "apply", "-q", str(path))
        plan = _here(capsys, "plan", str(path)) if again.returncode == 0 else again
        gone = _here(capsys, "destroy", "-q", NAME)
        left = _left()
        if again.returncode or plan.returncode or gone.returncode or left:
            failures.append(f"killed at {at} ({label}): apply again {again.returncode} "
                            f"{again.stderr.strip()}; plan {plan.returncode} "
                            f"{plan.stdout.strip()[-300:]}; destroy {gone.returncode} "
                            f"{gone.stderr.strip()}; left {left[:10]}")
            if left:  # the next point starts from nothing
                _here(capsys, "destroy", "-q", str(path))
    assert not failures, "\n".join(failures)


@ONLY_HERE
def test_signals_roll_back_to_nothing(crash_file: tuple[Path, list[tuple[int, str]]],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path, points = crash_file
    names = ("INT", "TERM", "HUP")
    failures = []
    for k, at in enumerate(_choose(points, POINTS)):
        label = dict(points)[at]
        sig = names[k % 3] if k % 7 == 6 else names[k % 2]  # mostly INT and TERM, some HUP
        stopped = _vnet("apply", "-q", str(path), crash_at=at, sig=sig)
        left = _left()
        want = 128 + getattr(signal, f"SIG{sig}")
        said = stopped.stderr.strip().splitlines()
        if stopped.returncode != want or left or not said or \
                not said[-1].startswith(f"interrupted by SIG{sig}, rolled back"):
            failures.append(f"SIG{sig} at {at} ({label}): exit {stopped.returncode} (want "
                            f"{want}); said {said[-3:]}; left {left[:10]}")
            _here(capsys, "destroy", "-q", str(path))
    assert not failures, "\n".join(failures)


@ONLY_HERE
@pytest.mark.kind("veth", "bridge")
def test_destroy_interrupted_is_finished_by_a_rerun(tmp_path: Path) -> None:
    for kind in KINDS:
        require_kind(kind)
    path = tmp_path / "small.yaml"
    path.write_text(crash_yaml(NAME, 6))
    assert _vnet("apply", "-q", str(path)).returncode == 0
    log = tmp_path / "points"
    assert _vnet("destroy", "-q", NAME, log=log).returncode == 0
    steps = len(log.read_text().splitlines())
    assert steps >= 1
    for sig in ("INT", "TERM"):
        assert _vnet("apply", "-q", str(path)).returncode == 0
        stopped = _vnet("destroy", "-q", NAME, crash_at=1, sig=sig)
        assert stopped.returncode == 128 + getattr(signal, f"SIG{sig}"), stopped.stderr
        assert f"interrupted by SIG{sig}" in stopped.stderr
        again = _vnet("destroy", "-q", str(path))  # a FILE: exit 0 even if all was gone
        assert again.returncode == 0, again.stderr
        assert _left() == []


@ONLY_HERE
def test_destroy_right_after_a_kill_leaves_nothing(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`destroy NAME` alone, with no apply between, finishes what a killed apply left: at the
    first point of each kind (a namespace's file not yet mounted, a link not yet marked, ...)."""
    for kind in KINDS:
        require_kind(kind)
    _no_ipv6_here()
    path = tmp_path / "small.yaml"
    path.write_text(crash_yaml(NAME, 6))
    assert _vnet("kinds").returncode == 0
    log = tmp_path / "points"
    assert _vnet("apply", "-q", str(path), log=log).returncode == 0
    assert _vnet("destroy", "-q", NAME).returncode == 0
    points = [(int(i), label) for i, label in
              (line.split(" ", 1) for line in log.read_text().splitlines())]
    firsts = {label: index for index, label in reversed(points)}
    failures = []
    for label, at in sorted(firsts.items(), key=lambda item: item[1]):
        killed = _vnet("apply", "-q", str(path), crash_at=at)
        assert killed.returncode == -signal.SIGKILL, (at, label, killed.stderr)
        gone = _here(capsys, "destroy", "-q", NAME)
        left = _left()
        if gone.returncode or left:
            failures.append(f"killed at {at} ({label}): destroy {gone.returncode} "
                            f"{gone.stderr.strip()}; left {left[:10]}")
            _here(capsys, "destroy", "-q", str(path))
    assert not failures, "\n".join(failures)


def test_a_stray_netns_file_is_left_out_and_named_when_in_the_way(tmp_path: Path) -> None:
    """A file under /run/netns that is no mounted namespace (a crash of `ip netns add`):
    plan and list read past it; an apply that declares its name replaces it when it is the
    empty file a crash leaves, and refuses anything else, naming it and undoing its work."""
    require_kind("veth")
    os.makedirs("/run/netns", exist_ok=True)
    Path("/run/netns/junk").touch()
    path = tmp_path / "stray.yaml"
    path.write_text("name: stray\nnamespaces: [junk, ok]\ninterfaces:\n"
                    "  - {name: v0, kind: veth, netns: ok, peer: {name: v1}}\n")
    assert _vnet("plan", str(path)).returncode == 2
    assert _vnet("list").returncode == 0
    done = _vnet("apply", "-q", str(path))
    assert done.returncode == 0, done.stderr
    assert "/run/netns/junk" in done.stderr and "replaces it" in done.stderr
    assert _vnet("destroy", "-q", str(path)).returncode == 0
    assert not os.path.exists("/run/netns/junk") and not os.path.exists("/run/netns/ok")
    Path("/run/netns/junk").write_text("not a namespace\n")
    blocked = _vnet("apply", "-q", str(path))
    assert blocked.returncode == 1
    assert "/run/netns/junk is a file of 16 bytes, not a namespace" in blocked.stderr
    assert not os.path.exists("/run/netns/ok")  # rolled back
