"""A user other than root works in a sandbox of its own (issue 20): every command, run as user
nobody (setpriv), acts there and never on the topology root applied in this test's namespaces
under the same name. Root without CAP_SYS_ADMIN still ends with one sentence saying what it
needs and why, exit 1, no traceback (issue 17), and changes nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import require_kind, sh

pytestmark = [pytest.mark.kind("veth", "netns"), pytest.mark.live_tier_only(
    "veth alone, and rights that do not depend on the kernel's version: the live tier proves "
    "them here, and test_rootless_kinds proves the sandbox on the kernel tier's kernel")]

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = """\
name: nonroot
namespaces: [nr1, nr2]
interfaces:
  - name: e1
    kind: veth
    netns: nr1
    addresses: [192.0.2.1/24]
    peer: {name: e2, netns: nr2, addresses: [192.0.2.2/24]}
checks:
  - {from: nr1, ping: 192.0.2.2}
"""
SENTENCE = re.compile(r"error: vnet (\S+) needs root \([^)]*\) because it [^.]+; run it as "
                      r"root, e\.g\. with sudo\.\n")


def _vnet(prefix: list[str], *argv: str,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PYTHONPATH": str(ROOT / "src"),
           "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8", **(env or {})}
    return subprocess.run([*prefix, sys.executable, "-m", "vnet", *argv], cwd="/",
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def _as_nobody() -> list[str]:
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    pytest.fail("neither setpriv nor runuser (util-linux) is installed", pytrace=False)


@pytest.fixture
def live() -> Path:
    require_kind("veth")
    # where nobody can read it: this test's own /run (a tmpfs of its sandbox), not tmp_path,
    # whose parents only root may enter
    path = Path("/run/nonroot-test/nonroot.yaml")
    path.parent.mkdir(mode=0o755)
    path.write_text(TOPOLOGY, encoding="utf-8")
    path.chmod(0o644)
    done = _vnet([], "apply", str(path))
    assert done.returncode == 0, done.stderr
    return path


def _state() -> tuple[str, str, str]:
    """The namespaces and the addresses in them (not the links' state: a link applied a
    moment ago may still be coming up)."""
    return (sh("ip", "netns", "list"), sh("ip", "-o", "-4", "addr", netns="nr1"),
            sh("ip", "-o", "-4", "addr", netns="nr2"))


SANDBOX = Path("/run/nonroot-test/sandbox")


def test_every_command_as_nobody_works_in_its_sandbox(live: Path) -> None:
    """The same file, as nobody: applied, planned, shown, checked, entered, listed and
    destroyed in nobody's sandbox, while root's topology of that name stays as it was."""
    SANDBOX.mkdir(mode=0o700)
    os.chown(SANDBOX, 65534, 65534)
    before = _state()
    env = {"VNET_SANDBOX": str(SANDBOX)}
    steps = [(["apply", "{file}"], 0, "Applied nonroot"), (["plan", "{file}"], 0, "no changes"),
             (["show", "nonroot"], 0, "192.0.2.1/24"), (["check", "{file}"], 0, "1 passed"),
             (["exec", "nr2", "--", "ip", "-o", "-4", "addr"], 0, "192.0.2.2/24"),
             (["list"], 0, "nonroot"), (["kinds"], 0, "veth"),
             (["sandbox"], 0, f"sandbox: {SANDBOX}"), (["destroy", "nonroot"], 0, "Destroyed"),
             (["show", "nonroot"], 1, "nothing"), (["sandbox", "stop"], 0, "stopped")]
    for argv, code, words in steps:
        args = [a.format(file=live) for a in argv]
        proc = _vnet(_as_nobody(), *args, env=env)
        said = proc.stdout + proc.stderr
        assert proc.returncode == code, (args, said)
        assert "Traceback" not in said, (args, said)
        assert words in said, (args, said)
    assert _state() == before  # root's topology of the same name: untouched
    assert not (SANDBOX / "holder.pid").exists()
    # this sandbox's holder is gone (tests running beside this one hold sandboxes of their
    # own: root's, and nobody's in the benchmark's rootless rows); its command line names
    # its directory
    holders = [p for p in Path("/proc").iterdir() if p.name.isdigit()
               and b"vnet-sandbox-hold" in _cmdline(p)
               and str(SANDBOX).encode() in _cmdline(p).split(b"\0")]
    assert holders == []


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_validate_and_schema_work_as_nobody(live: Path) -> None:
    assert _vnet(_as_nobody(), "validate", str(live)).returncode == 0
    assert _vnet(_as_nobody(), "schema").returncode == 0


def test_root_without_cap_sys_admin_gets_the_sentence(live: Path) -> None:
    """Root with CAP_NET_ADMIN but not CAP_SYS_ADMIN cannot enter the namespaces that exist
    (setns): it is told so, rather than shown them as not vnet's or as nothing live."""
    if not shutil.which("setpriv"):
        pytest.fail("setpriv (util-linux) is not installed", pytrace=False)
    drop = ["setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin"]
    before = _state()
    for argv in (["show", "nonroot"], ["plan", str(live)], ["destroy", "nonroot"]):
        proc = _vnet(drop, *argv)
        said = proc.stdout + proc.stderr
        assert proc.returncode == 1, (argv, said)
        assert "Traceback" not in said, (argv, said)
        match = SENTENCE.fullmatch(proc.stderr)
        assert match and match.group(1) == argv[0], (argv, said)
    assert _state() == before
    assert os.geteuid() == 0
