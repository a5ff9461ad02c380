"""The sandbox's rules that need no namespace: which directory, which run uses one, the
directory's checks, the holder's identity (a reused pid is never taken for the holder), which
commands enter it, and the refusal of `external: true` inside it. The holder itself is proven
in tests/rootless (as a user other than root) and tests/live/test_nonroot.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from vnet import cli, sandbox


def test_the_directory_follows_vnet_sandbox_then_xdg_then_tmp(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VNET_SANDBOX", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert sandbox.default_dir() == f"/tmp/vnet-{os.geteuid()}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert sandbox.default_dir() == "/run/user/1000/vnet"
    monkeypatch.setenv("VNET_SANDBOX", str(tmp_path / "sb"))
    assert sandbox.default_dir() == str(tmp_path / "sb")


def test_root_uses_one_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VNET_SANDBOX", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert sandbox.selected() is None
    assert sandbox.selected(flag=True) is not None
    monkeypatch.setenv("VNET_SANDBOX", "/tmp/x")
    assert sandbox.selected() == "/tmp/x"
    monkeypatch.delenv("VNET_SANDBOX")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert sandbox.selected() == "/tmp/vnet-1000"


def test_a_directory_others_may_write_or_a_symlink_is_refused(tmp_path: Path) -> None:
    mine = tmp_path / "sb"
    sandbox.prepare_dir(str(mine))
    assert oct(mine.stat().st_mode & 0o777) == "0o700"
    sandbox.prepare_dir(str(mine))  # a second time: the same directory is fine
    mine.chmod(0o777)
    with pytest.raises(sandbox.SandboxError, match="writable by others.*chmod 700"):
        sandbox.prepare_dir(str(mine))
    link = tmp_path / "link"
    link.symlink_to(mine)
    with pytest.raises(sandbox.SandboxError, match="not a directory"):
        sandbox.prepare_dir(str(link))


def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the directory away")  # the unit tier runs as root in CI
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(sandbox.SandboxError, match="belongs to user 65534"):
        sandbox.prepare_dir(str(theirs))


def test_a_stale_or_reused_pid_is_not_the_holder(tmp_path: Path) -> None:
    sandbox.prepare_dir(str(tmp_path / "sb"))
    pidfile = tmp_path / "sb" / "holder.pid"
    assert sandbox.find_holder(str(tmp_path / "sb")) is None  # no file
    start = sandbox._start_time(os.getpid())
    assert start is not None
    # this very process: alive, this user's, but not a holder (its command line says so)
    pidfile.write_text(f"{os.getpid()} {start}\n")
    assert sandbox.find_holder(str(tmp_path / "sb")) is None
    # the pid of a process started at another time: a reused pid
    pidfile.write_text(f"{os.getpid()} {start + 1}\n")
    assert sandbox.find_holder(str(tmp_path / "sb")) is None
    pidfile.write_text("garbage")
    assert sandbox.find_holder(str(tmp_path / "sb")) is None


@pytest.mark.parametrize(("argv", "enters"), [
    (["validate", "examples/veth.yaml"], None),
    (["schema"], None),
    (["export", "examples/veth.yaml", "--to", "ip"], None),
    (["draw", "examples/veth.yaml", "--format", "dot"], None),
    (["completion", "bash"], None),
    (["plan", "examples/veth.yaml"], True),
    (["show"], True),
    (["kinds"], True),
    (["draw", "veth-demo"], True),
    (["sandbox"], False),
    (["__complete", "topologies"], False),
])
def test_only_commands_that_reach_the_kernel_enter(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        argv: list[str], enters: bool | None) -> None:
    """validate, schema, export, draw FILE and completion never start a holder; the kernel's
    commands start one; `sandbox` and the completion's names only enter a live one."""
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("VNET_SANDBOX", "/nonexistent/sb")
    monkeypatch.delenv("VNET_IN_SANDBOX", raising=False)
    seen: list[Any] = []

    class Stop(Exception):
        pass

    def enter(directory: str, start: bool = True) -> None:
        seen.append(start)
        raise Stop

    monkeypatch.setattr(sandbox, "enter", enter)
    try:
        cli.main(argv)
    except (Stop, SystemExit):
        pass
    capsys.readouterr()
    assert seen == ([] if enters is None else [enters])


def test_external_is_refused_inside_a_sandbox(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ext.yaml"
    path.write_text("name: ext\ninterfaces:\n  - name: br0\n    kind: bridge\n"
                    "  - {name: eth0, external: true, master: br0}\n", encoding="utf-8")
    monkeypatch.delenv("VNET_SANDBOX", raising=False)
    assert cli.main(["validate", str(path)]) == 0  # outside a sandbox: a valid file
    monkeypatch.setenv("VNET_IN_SANDBOX", str(tmp_path))
    capsys.readouterr()
    assert cli.main(["validate", str(path)]) == 1
    said = capsys.readouterr().err
    assert f"{path}:5:5: external: interface 'eth0' is external" in said
    assert "run vnet as root without --sandbox" in said and "nothing was changed" in said


def test_the_pytest_plugin_is_registered_and_imports_no_pydantic() -> None:
    """pytest loads the plugin in every run where vnet is installed: it must stay cheap."""
    import subprocess
    import sys
    code = ("import sys, importlib.metadata as m; "
            "eps = [e.value for e in m.entry_points(group='pytest11') if e.name == 'vnet']; "
            "import vnet.pytest_plugin; "
            "print(eps, 'pydantic' in sys.modules, 'vnet.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["['vnet.pytest_plugin']", "False", "False"]


def test_a_sandboxed_topology_refuses_what_cannot_reach_the_sandboxs_process() -> None:
    from vnet.errors import VnetError
    from vnet.sandboxed import SandboxedTopology, _flags
    topo = SandboxedTopology(name="lab", sandbox_dir="/nonexistent", file="/nonexistent.yaml")
    with pytest.raises(VnetError, match="progress callback or a backend"):
        topo.apply(progress=lambda *a: None)
    with pytest.raises(VnetError, match="progress callback or a backend"):
        topo.destroy(backend=object())
    assert _flags(replace=True, force=False) == ["--replace"]
