"""vnet's state against what a crash or a person leaves behind, on the live kernel: stray
/run/netns entries, a damaged record during a real destroy, a read-only /run, and `--wait`
for a second vnet that holds the lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vnet import cli
from vnet.store import NETNS_DIR, STATE_DIR

from .helpers import ip_json, require_kind, sh

pytestmark = pytest.mark.kind("bridge", "veth", "netns")

EXT = """
name: ext
namespaces: [n1]
interfaces:
  - name: br0
    kind: bridge
  - name: nic0
    external: true
    master: br0
    mtu: 1300
    state: up
  - name: eth0
    kind: veth
    netns: n1
    peer: {name: p-n1, master: br0}
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


@pytest.fixture
def ext_file(tmp_path: Path) -> Path:
    """The topology file, and the host's "NIC" it uses (a veth end, MTU 1400)."""
    require_kind("bridge")
    require_kind("veth")
    sh("ip", "link", "add", "nic0", "mtu", "1400", "type", "veth", "peer", "name", "nic0-peer")
    path = tmp_path / "ext.yaml"
    path.write_text(EXT)
    return path


def _netns() -> list[str]:
    """The named namespaces: mounts under /run/netns, as the kernel lists them (`ip netns
    list` would list any file there)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        points = [line.split()[4] for line in fh]
    return sorted(os.path.basename(p) for p in points if os.path.dirname(p) == NETNS_DIR)


def _nic() -> dict[str, object]:
    link = ip_json("link", "show", "nic0")[0]
    return {"mtu": link["mtu"], "master": link.get("master")}


def _links() -> list[str]:
    return sorted(link["ifname"] for link in ip_json("link", "show"))


def test_stray_netns_files_are_reported_and_replaced_only_when_declared(
        ext_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # what a kill between creating /run/netns/NAME and mounting it leaves
    Path(NETNS_DIR, "n1").touch()
    Path(NETNS_DIR, "other").touch()
    for argv in (["list"], ["show", "ext"], ["plan", str(ext_file)]):
        code, out, err = _run(capsys, *argv)
        assert "Traceback" not in err and "setns" not in err, (argv, err)
        assert code == {"list": 0, "show": 1, "plan": 2}[argv[0]], (argv, out, err)
        said = _warnings(err)
        assert len(said) == 2, (argv, err)
        assert all("not a mounted namespace" in w for w in said)
    code, _, err = _run(capsys, "apply", str(ext_file))
    assert code == 0, err
    assert "apply replaces it with namespace n1" in err
    assert _netns() == ["n1"]  # a namespace now, and vnet's: its marked loopback
    lo = ip_json("link", "show", "lo", netns="n1")[0]
    assert "vnet.ext" in lo.get("altnames", [])
    assert Path(NETNS_DIR, "other").is_file()  # not declared: untouched
    assert not _run(capsys, "plan", str(ext_file))[0]
    code, _, err = _run(capsys, "destroy", str(ext_file))
    assert code == 0, err
    assert _netns() == [] and sorted(os.listdir(NETNS_DIR)) == ["other"]


def test_destroy_of_the_file_removes_an_empty_stray_of_its_namespace(
        ext_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "apply", str(ext_file))[0] == 0
    # an apply adding n2 was killed between creating /run/netns/n2 and mounting it
    grown = ext_file.with_name("ext2.yaml")
    grown.write_text(EXT.replace("[n1]", "[n1, n2]"))
    Path(NETNS_DIR, "n2").touch()
    code, _, err = _run(capsys, "destroy", str(grown))
    assert code == 0, err
    assert "destroy removes it" in err
    assert _netns() == [] and os.listdir(NETNS_DIR) == []
    assert _nic() == {"mtu": 1400, "master": None}


def test_a_declared_stray_that_is_not_empty_stops_apply_before_any_change(
        ext_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path(NETNS_DIR, "n1").write_text("someone's notes\n")
    links = _links()
    code, _, err = _run(capsys, "apply", str(ext_file))
    assert code == 1
    assert f"{NETNS_DIR}/n1 is a file of 16 bytes, not a namespace" in err
    assert _links() == links and _nic() == {"mtu": 1400, "master": None}
    assert Path(NETNS_DIR, "n1").read_text() == "someone's notes\n"


@pytest.mark.parametrize("damage", ["truncated", "wrong type"])
def test_destroy_over_a_damaged_record_goes_on_and_names_what_it_cannot_put_back(
        ext_file: Path, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    before = _links()
    code, _, err = _run(capsys, "apply", str(ext_file))
    assert code == 0, err
    assert _nic() == {"mtu": 1300, "master": "br0"}
    record = Path(STATE_DIR, "ext.json")
    text = record.read_text()
    record.write_text(text[:len(text) // 2] if damage == "truncated" else "[]")
    code, out, err = _run(capsys, "destroy", "ext")
    assert code == 0, err
    said = _warnings(err)
    assert len(said) == 1 and "ext.json is damaged" in said[0]
    assert "check nic0" in said[0]  # the MTU vnet gave it stays, and is named
    assert "Destroyed ext" in out
    assert _netns() == [] and _links() == before  # every owned object gone
    assert _nic() == {"mtu": 1300, "master": None}
    assert [e for e in sorted(os.listdir(STATE_DIR)) if e.startswith("ext")] == \
        ["ext.json.damaged"]
    assert _run(capsys, "list")[1].splitlines()[1:] == []


def test_destroy_puts_back_what_the_sound_part_of_a_damaged_record_says(
        ext_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _links()
    assert _run(capsys, "apply", str(ext_file))[0] == 0
    record = Path(STATE_DIR, "ext.json")
    data = json.loads(record.read_text())
    data["routes"] = [["n1", "main", 2, 7]]
    record.write_text(json.dumps(data))
    code, _, err = _run(capsys, "destroy", "ext")
    assert code == 0, err
    assert "a route vnet added is lost" in err
    assert _nic() == {"mtu": 1400, "master": None}  # put back from the sound part
    assert _netns() == [] and _links() == before


def test_a_read_only_run_is_one_clear_error_before_any_change(
        ext_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "apply", str(ext_file))
    assert code == 0, err
    live = (_links(), _netns(), _nic())
    # /run read-only, in this test's private mount namespace only
    sh("mount", "--bind", "/run", "/run")
    sh("mount", "-o", "remount,bind,ro", "/run")
    with pytest.raises(OSError):
        Path(STATE_DIR, "probe").touch()
    for argv in (["destroy", "ext"], ["apply", str(ext_file)]):
        code, _, err = _run(capsys, *argv)
        assert code == 1, (argv, err)
        lines = err.strip().splitlines()
        assert len(lines) == 2 and "is read-only" in lines[1], (argv, err)
        assert "mount /run read-write" in lines[1]
    assert (_links(), _netns(), _nic()) == live
    code, out, err = _run(capsys, "show", "ext")  # reading needs no writing
    assert code == 0 and "br0" in out, err
    sh("mount", "-o", "remount,bind,rw", "/run")
    assert _run(capsys, "destroy", "ext")[0] == 0
    assert _nic() == {"mtu": 1400, "master": None}


def _second_vnet() -> subprocess.Popen[str]:
    """Another vnet process holding the host lock until its standard input closes."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, vnet.store as s\n"
         "with s.host_lock():\n    print('locked', flush=True)\n    sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_wait_waits_for_a_second_vnet_that_holds_the_lock(
        ext_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    holder = _second_vnet()
    assert holder.stdin is not None
    try:
        started = time.monotonic()
        code, _, err = _run(capsys, "apply", str(ext_file))
        assert code == 1 and time.monotonic() - started < 5
        assert f"another vnet process (pid {holder.pid})" in err and "--wait" in err
        code, _, err = _run(capsys, "apply", "--wait", "0.5", str(ext_file))
        assert code == 1 and "after waiting 0.5 s" in err
        assert _netns() == [] and _nic() == {"mtu": 1400, "master": None}
        threading.Timer(1.0, holder.stdin.close).start()
        started = time.monotonic()
        code, _, err = _run(capsys, "apply", "--wait", str(ext_file))
        assert code == 0, err
        assert time.monotonic() - started >= 0.9
        assert _netns() == ["n1"]
    finally:
        if not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=30)


def test_a_lock_left_by_a_killed_vnet_does_not_block(
        ext_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    holder = _second_vnet()
    holder.kill()
    holder.wait(timeout=30)
    code, _, err = _run(capsys, "apply", str(ext_file))
    assert code == 0, err
    assert _run(capsys, "destroy", "ext")[0] == 0
