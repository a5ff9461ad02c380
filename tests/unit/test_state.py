"""vnet's state on disk against what a crash or a person can leave there: records written
whole and read back checked, damaged records reported (plan, show, list) or gone past
(destroy) and never written over (apply), state directories of the wrong type, stray
/run/netns entries, and the lock (its holder, --wait, a lock left by a killed vnet)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from clirun import run, written

from vnet import api, datatypes, store
from vnet.door.fake import FakeKernel
from vnet.errors import DamagedRecord, LockError, StateError, VnetWarning
from vnet.record import Record

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
"""

SOUND = {"topology": "ext", "source": None, "routes": [[None, 254, 2, "198.51.100.0/24", 0]],
         "externals": {"|nic0": {"mtu": 1400, "master": None, "up": False}},
         "external_addresses": {"|nic0": ["192.0.2.10/24"]}}


def _record_file(state: str, name: str, text: str | bytes) -> Path:
    path = Path(state) / f"{name}.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _nic(fake: FakeKernel) -> None:
    fake.add_link(None, "nic0", "veth", mtu=1400)


# ---- reading and writing ---------------------------------------------------------------------

def test_every_field_of_a_record_survives_writing_and_reading() -> None:
    # a field added to Record without teaching the reader fails here
    values: dict[str, Any] = {"externals": SOUND["externals"],
                              "external_addresses": SOUND["external_addresses"],
                              "routes": SOUND["routes"], "source": "/srv/ext.yaml",
                              "source_digest": "sha256:" + "ab" * 32,
                              "impairs": {"|nic0": {}, "|nic1": {
                                  "kind": "tbf", "params": {"rate": 1250, "buffer": 4,
                                                            "limit": 100}}},
                              "netem_tables": {"|nic0": "pareto"}}
    fields = [f.name for f in datatypes.fields(Record) if f.name != "topology"]
    assert sorted(values) == sorted(fields), "a new Record field needs a value here and a check"
    record = Record("ext", **values)
    store.write_record(record)
    assert store.read_record("ext") == record


@pytest.mark.parametrize("text, lost", [
    ('{"externals": {"|nic0": {"mtu": 14', "not JSON"),
    ("", "empty"),
    ("   \n", "empty"),
    ("[1, 2]", "not a record"),
    ("null", "not a record"),
    ('"text"', "not a record"),
    ('{"topology": "other"}', "record of \"other\""),
    (b"\xff\xfe{}", "not UTF-8"),
    ("[" * 100_000 + "]" * 100_000, "nested too deep"),
    ('{"externals": [1]}', "externals [1] is not an object"),
    ('{"externals": {"|nic0": {"mtu": "x"}}}', 'nic0: its original MTU, master and state are '
     'lost (mtu "x" is not a positive number)'),
    ('{"externals": {"|nic0": {"mtu": true}}}', "mtu true is not a positive number"),
    ('{"externals": {"|nic0": {"mtu": 1e3}}}', "mtu 1000.0 is not a positive number"),
    ('{"externals": {"|nic0": {"master": 5}}}', "master 5 is not an interface name"),
    ('{"externals": {"|nic0": {"up": "yes"}}}', 'up "yes" is not true or false'),
    ('{"externals": {"|nic0": {"colour": 1}}}', 'unknown field "colour"'),
    ('{"externals": {"nic0": {}}}', "its key is not netns|ifname"),
    ('{"externals": {"|nic0": 7}}', "7 is not an object"),
    ('{"external_addresses": {"|nic0": ["192.0.2.300/24"]}}', '"192.0.2.300/24" is not an '
     "address"),
    ('{"external_addresses": {"|nic0": "192.0.2.1/24"}}', "is not a list of addresses"),
    ('{"external_addresses": 3}', "external_addresses 3 is not an object"),
    ('{"routes": {"a": 1}}', "is not a list"),
    ('{"routes": [[null, 254, 2, "x"]]}', "is not [netns, table, family, to, metric]"),
    ('{"routes": [[null, "main", 2, "x", 0]]}', "table, family and metric must be numbers"),
    ('{"routes": [[7, 254, 2, "x", 0]]}', "namespace 7 is not a name"),
    ('{"netem_tables": {"|nic0": 3}}', "3 is not a table name on a netns|ifname"),
    ('{"netem_tables": []}', "netem_tables [] is not an object"),
    ('{"source": 12}', "source 12 is not a path"),
    ('{"source_digest": "md5:00"}', 'source_digest "md5:00" is not a sha256 digest'),
    ('{"mtu": ' + "9" * 5000 + "}", "not JSON"),
])
def test_a_damaged_record_is_named_never_a_traceback(private_state_dir: str, text: str | bytes,
                                                     lost: str) -> None:
    path = _record_file(private_state_dir, "ext", text)
    with pytest.raises(DamagedRecord) as caught:
        store.read_record("ext")
    message = str(caught.value)
    assert message.startswith(f"the record {path} is damaged (") and "\n" not in message
    assert lost in message
    assert isinstance(caught.value.salvaged, Record)


def test_the_sound_part_of_a_damaged_record_is_kept(private_state_dir: str) -> None:
    data = json.loads(json.dumps(SOUND))
    data["externals"]["|nic1"] = {"mtu": "lots"}
    data["routes"].append("garbage")
    _record_file(private_state_dir, "ext", json.dumps(data))
    with pytest.raises(DamagedRecord) as caught:
        store.read_record("ext")
    salvaged = caught.value.salvaged
    assert salvaged.externals == SOUND["externals"]
    assert salvaged.external_addresses == SOUND["external_addresses"]
    assert salvaged.routes == SOUND["routes"]
    assert len(caught.value.lost) == 2
    assert "external nic1" in caught.value.lost[0] and "route" in caught.value.lost[1]


def test_unknown_fields_of_a_newer_vnet_are_ignored(private_state_dir: str) -> None:
    _record_file(private_state_dir, "ext", json.dumps({**SOUND, "future": {"x": 1}}))
    assert store.read_record("ext").externals == SOUND["externals"]


@pytest.mark.parametrize("make, lost", [
    (lambda p: p.mkdir(), "not a plain file"),
    (lambda p: p.symlink_to("/etc/hostname"), "it is a symlink"),
])
def test_a_record_that_is_no_plain_file_is_damaged(private_state_dir: str, make: Any,
                                                   lost: str) -> None:
    make(Path(private_state_dir) / "ext.json")
    with pytest.raises(DamagedRecord, match=lost):
        store.read_record("ext")


def test_a_huge_record_is_not_read_whole(private_state_dir: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "MAX_RECORD_BYTES", 1000)
    _record_file(private_state_dir, "ext", json.dumps({**SOUND, "pad": "x" * 2000}))
    with pytest.raises(DamagedRecord, match="far more than a record"):
        store.read_record("ext")


def test_writing_is_whole_or_not_at_all(private_state_dir: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    old = Record("ext", externals={"|nic0": {"mtu": 1400, "master": None, "up": False}})
    store.write_record(old)
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    store.write_record(Record("ext", externals={"|nic0": {"mtu": 9000}}))
    assert len(synced) == 2  # the file, then the directory after the rename
    assert store.read_record("ext").externals == {"|nic0": {"mtu": 9000}}

    def broken_dump(*args: Any, **kwargs: Any) -> None:  # the disk fills up midway
        args[1].write('{"externals": {"|nic0"')
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(json, "dump", broken_dump)
    with pytest.raises(OSError):
        store.write_record(old)
    assert store.read_record("ext").externals == {"|nic0": {"mtu": 9000}}
    assert sorted(os.listdir(private_state_dir)) == ["ext.json"]  # no temporary file left


def test_a_temporary_file_left_by_a_killed_vnet_is_removed(private_state_dir: str) -> None:
    (Path(private_state_dir) / ".ext.abc123.tmp").write_text('{"externals": {')
    (Path(private_state_dir) / ".other.abc123.tmp").write_text("{")
    store.write_record(Record("ext", source="/srv/ext.yaml"))
    assert sorted(os.listdir(private_state_dir)) == [".other.abc123.tmp", "ext.json"]
    assert store.recorded() == ["ext"]



def test_an_apply_without_changes_leaves_the_record_as_it_is(
        fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        private_state_dir: str) -> None:
    path = _applied(fake, tmp_path, capsys)
    record = Path(private_state_dir) / "ext.json"
    before = record.stat()
    code, out, err = run(capsys, "apply", str(path))
    assert code == 0 and "no changes" in out, err
    after = record.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # the same topology from another file: nothing to change in the kernel, but the record
    # names the file it was last applied from
    moved = written(tmp_path, "moved.yaml", EXT)
    code, out, err = run(capsys, "apply", str(moved))
    assert code == 0 and "no changes" in out, err
    assert store.read_record("ext").source == str(moved)
    assert record.stat().st_ino != before.st_ino
    assert not [n for n in os.listdir(private_state_dir) if n.endswith(".tmp")]

# ---- the commands over a damaged record ------------------------------------------------------

def _applied(fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    _nic(fake)
    path = written(tmp_path, "ext.yaml", EXT)
    code, _, err = run(capsys, "apply", str(path))
    assert code == 0, err
    assert fake.namespaces[None].links["nic0"].mtu == 1300
    return path


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


@pytest.mark.parametrize("damage", ['{"externals": {"|nic0": {"mtu": 14', "[1, 2]",
                                    '{"externals": {"|nic0": {"mtu": "x"}}}'])
def test_read_only_commands_report_a_damaged_record_and_go_on(
        fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        private_state_dir: str, damage: str) -> None:
    path = _applied(fake, tmp_path, capsys)
    _record_file(private_state_dir, "ext", damage)
    for argv, expected in ((["plan", str(path)], 0), (["show", "ext"], 0), (["list"], 0),
                           (["show", str(path)], 0), (["show", "ext", "--json"], 0)):
        code, out, err = run(capsys, *argv)
        assert code == expected, (argv, out, err)
        assert "Traceback" not in err
        said = _warnings(err)
        assert len(said) == 1 and "ext.json is damaged" in said[0], (argv, err)
        assert "going on from the kernel's ownership marks" in said[0]
    code, out, _ = run(capsys, "list")
    assert "ext" in out  # found by its marks


def test_apply_refuses_to_write_over_a_damaged_record(
        fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        private_state_dir: str) -> None:
    path = _applied(fake, tmp_path, capsys)
    _record_file(private_state_dir, "ext", "{")
    before = fake.state()
    sent = len(fake.log)
    code, _, err = run(capsys, "apply", str(path))
    assert code == 1
    assert "ext.json is damaged" in err and "vnet destroy ext" in err
    assert fake.state() == before and len(fake.log) == sent
    assert (Path(private_state_dir) / "ext.json").read_text() == "{"


def test_destroy_goes_on_from_the_marks_and_names_what_it_cannot_put_back(
        fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        private_state_dir: str) -> None:
    _applied(fake, tmp_path, capsys)
    _record_file(private_state_dir, "ext", '{"externals": {"|nic0": {"mtu": 14')
    code, out, err = run(capsys, "destroy", "ext")
    assert code == 0, err
    said = _warnings(err)
    assert len(said) == 1
    assert "not JSON" in said[0] and "check nic0" in said[0]
    assert "kept as" in said[0] and "ext.json.damaged" in said[0]
    assert "Destroyed ext" in out
    assert fake.list_netns() == set()
    assert set(fake.namespaces[None].links) == {"lo", "nic0"}  # br0 gone, nic0 kept
    assert fake.namespaces[None].links["nic0"].master is None
    assert sorted(os.listdir(private_state_dir)) == ["ext.json.damaged", "lock"]
    assert run(capsys, "list")[1].splitlines()[1:] == []  # nothing left to report


def test_destroy_clears_a_damaged_record_of_a_topology_that_is_not_live(
        fake: FakeKernel, capsys: pytest.CaptureFixture[str], private_state_dir: str) -> None:
    _record_file(private_state_dir, "gone", "{")
    assert "gone" in run(capsys, "list")[2]  # warned of on every list until cleared
    code, out, err = run(capsys, "destroy", "gone")
    assert code == 0, err
    assert "gone: nothing of it is live; its damaged record is set aside." in out
    assert len(_warnings(err)) == 1
    code, _, err = run(capsys, "list")
    assert code == 0 and err == ""
    assert run(capsys, "destroy", "gone")[0] == 1  # now a name nothing is known of


def test_destroy_puts_back_what_the_sound_part_of_a_record_says(
        fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        private_state_dir: str) -> None:
    _applied(fake, tmp_path, capsys)
    data = json.loads((Path(private_state_dir) / "ext.json").read_text())
    data["routes"] = "garbage"
    _record_file(private_state_dir, "ext", json.dumps(data))
    code, _, err = run(capsys, "destroy", "ext")
    assert code == 0, err
    assert "routes \"garbage\" is not a list" in err
    assert fake.namespaces[None].links["nic0"].mtu == 1400  # put back from the sound part


def test_the_python_api_hears_a_damaged_record_as_a_warning(
        fake: FakeKernel, private_state_dir: str) -> None:
    _record_file(private_state_dir, "ext", "{")
    with pytest.warns(VnetWarning, match="ext.json is damaged"):
        assert api.live_topologies(fake) == []


# ---- the state directories -------------------------------------------------------------------

def _state_as(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make: Any) -> Path:
    path = tmp_path / "vnet"
    make(path)
    monkeypatch.setattr(store, "STATE_DIR", str(path))
    return path


@pytest.mark.parametrize("make, said", [
    (lambda p: p.write_text(""), "is a file, not the directory"),
    (lambda p: p.symlink_to(p.parent), "is a symlink (to "),
    (lambda p: (p.mkdir(), p.chmod(0o777)), "is writable by others (mode 0777)"),
])
def test_a_state_directory_of_the_wrong_type_is_one_clear_error(
        fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, make: Any, said: str) -> None:
    _nic(fake)
    path = written(tmp_path, "ext.yaml", EXT)
    state = _state_as(monkeypatch, tmp_path, make)
    before = fake.state()
    for argv in (["apply", str(path)], ["destroy", "ext"], ["list"], ["show", "ext"],
                 ["plan", str(path)]):
        code, _, err = run(capsys, *argv)
        assert code == 1, argv
        lines = err.strip().splitlines()
        assert lines[0] == "error:" and len(lines) == 2, (argv, err)
        assert f"{state} {said}" in lines[1]
    assert fake.state() == before


def test_completion_stays_quiet_when_the_state_directory_is_not_vnets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vnet import completion
    _state_as(monkeypatch, tmp_path, lambda p: p.write_text(""))
    monkeypatch.setattr(completion, "_marked_owners", lambda: {"marked"})
    assert completion.topologies() == ["marked"]


def test_a_read_only_state_directory_is_one_clear_error(
        fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _nic(fake)
    path = written(tmp_path, "ext.yaml", EXT)
    _state_as(monkeypatch, tmp_path, lambda p: p.mkdir())
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK
                        else real_access(p, mode))
    before = fake.state()
    code, _, err = run(capsys, "apply", str(path))
    assert code == 1
    assert "is read-only" in err and "mount /run read-write" in err
    assert fake.state() == before
    assert run(capsys, "plan", str(path))[0] == 2  # reading needs no writing


# ---- stray /run/netns entries ----------------------------------------------------------------

def test_strays_are_reported_by_read_only_commands(
        fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _applied(fake, tmp_path, capsys)
    fake.add_stray("left")
    fake.add_stray("odd", "a directory")
    for argv in (["plan", str(path)], ["show", "ext"], ["list"]):
        code, _, err = run(capsys, *argv)
        assert code == 0, (argv, err)
        said = _warnings(err)
        assert [w.split(" is ")[0] for w in said] == ["warning: /run/netns/left",
                                                      "warning: /run/netns/odd"], err
        assert "not a mounted namespace" in said[0] and "ignored" in said[0]


def test_apply_replaces_an_empty_stray_of_a_declared_namespace_only(
        fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _nic(fake)
    fake.add_stray("n1")
    fake.add_stray("other")
    code, _, err = run(capsys, "apply", str(written(tmp_path, "ext.yaml", EXT)))
    assert code == 0, err
    said = _warnings(err)
    assert "apply replaces it with namespace n1" in said[0]
    assert "/run/netns/other" in said[1] and "ignored" in said[1]
    assert fake.netns_owner("n1") == "ext"
    assert fake.stray_netns() == {"other": "an empty file"}


def test_apply_refuses_a_declared_stray_that_is_not_an_empty_file(
        fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _nic(fake)
    fake.add_stray("n1", "a file of 12 bytes")
    before = fake.state()
    code, _, err = run(capsys, "apply", str(written(tmp_path, "ext.yaml", EXT)))
    assert code == 1
    assert "/run/netns/n1 is a file of 12 bytes, not a namespace" in err
    assert "move it away" in err
    assert fake.state() == before and fake.log == []


def test_destroy_of_a_file_removes_an_empty_stray_of_a_namespace_it_declares(
        fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _applied(fake, tmp_path, capsys)
    fake.add_stray("n2")
    fake.add_stray("other")
    declaring = written(tmp_path, "ext2.yaml", EXT.replace("[n1]", "[n1, n2]"))
    code, out, err = run(capsys, "destroy", "-v", str(declaring))
    assert code == 0, err
    assert "remove  stray /run/netns/n2 (an empty file)" in out
    said = _warnings(err)
    assert "/run/netns/n2" in said[0] and "destroy removes it" in said[0]
    assert "/run/netns/other" in said[1] and "ignored" in said[1]
    assert fake.stray_netns() == {"other": "an empty file"}
    fake.add_stray("n2")  # by NAME, nothing says whose it is: reported, left
    assert run(capsys, "apply", str(path))[0] == 0
    code, _, err = run(capsys, "destroy", "ext")
    assert code == 0 and "/run/netns/n2" in err
    assert set(fake.stray_netns()) == {"n2", "other"}


# ---- the lock --------------------------------------------------------------------------------

def _hold(state: str) -> int:
    """The lock held as another vnet holds it (its own open file), its pid written."""
    fd = os.open(os.path.join(state, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.pwrite(fd, b"4242\n", 0)
    return fd


def test_a_held_lock_fails_at_once_naming_the_holder_and_wait(private_state_dir: str) -> None:
    fd = _hold(private_state_dir)
    try:
        started = time.monotonic()
        with pytest.raises(LockError) as caught:
            with store.host_lock():
                pass
        assert time.monotonic() - started < 0.5
        assert "another vnet process (pid 4242)" in str(caught.value)
        assert "--wait [SECONDS]" in str(caught.value)
        started = time.monotonic()
        with pytest.raises(LockError, match="after waiting 0.3 s"):
            with store.host_lock(0.3):
                pass
        assert time.monotonic() - started >= 0.3
    finally:
        os.close(fd)


def test_wait_takes_the_lock_once_the_other_vnet_lets_go(private_state_dir: str) -> None:
    fd = _hold(private_state_dir)
    threading.Timer(0.4, os.close, [fd]).start()
    started = time.monotonic()
    with store.host_lock(None):
        waited = time.monotonic() - started
        holder = Path(private_state_dir, "lock").read_text().strip()
    assert waited >= 0.35
    assert holder == str(os.getpid())


def test_a_lock_left_by_a_killed_vnet_never_blocks(private_state_dir: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, vnet.store as s\n"
         f"s.STATE_DIR = {private_state_dir!r}\n"
         "with s.host_lock():\n    print('locked', flush=True)\n    sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    assert Path(private_state_dir, "lock").read_text().strip() == str(holder.pid)
    started = time.monotonic()
    with store.host_lock():
        assert time.monotonic() - started < 0.5


def test_a_lock_that_is_not_a_file_is_one_clear_error(private_state_dir: str) -> None:
    os.mkdir(os.path.join(private_state_dir, "lock"))
    with pytest.raises(StateError, match="lock .* cannot be opened"):
        with store.host_lock():
            pass


@pytest.mark.parametrize("argv, wait", [
    (["apply", "F.yaml"], 0.0),
    (["apply", "F.yaml", "--wait"], None),
    (["apply", "--wait", "F.yaml"], None),
    (["apply", "--wait", "2.5", "F.yaml"], 2.5),
    (["apply", "-v", "--wait", "7", "F.yaml"], 7.0),
    (["destroy", "--wait", "lab"], None),
    (["down", "lab", "--wait", "0"], 0.0),
])
def test_wait_is_read_from_the_command_line(fake: FakeKernel, monkeypatch: pytest.MonkeyPatch,
                                            argv: list[str], wait: float | None) -> None:
    seen: list[float | None] = []

    def taken(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["wait"])
        raise LockError("held")
    monkeypatch.setattr(api, "apply", taken)
    monkeypatch.setattr(api, "destroy", taken)
    monkeypatch.setattr("vnet.cli._load", lambda path: SimpleNamespace(name="F"))
    from vnet.cli import main
    assert main(argv) == 1
    assert seen == [wait]


@pytest.mark.parametrize("seconds, said", [
    ("-1", "'-1' is not a number of seconds"), ("inf", "'inf' is not a number of seconds"),
    ("nan", "'nan' is not a number of seconds"),
    ("soon", "unrecognized arguments: soon"),  # a bare --wait, then a second file
])
def test_wait_refuses_what_is_not_a_number_of_seconds(
        capsys: pytest.CaptureFixture[str], seconds: str, said: str) -> None:
    with pytest.raises(SystemExit):
        run(capsys, "apply", "F.yaml", "--wait", seconds)
    assert said in capsys.readouterr().err


def test_the_lock_file_of_a_waiting_vnet_is_its_own(private_state_dir: str) -> None:
    # the pid in the lock file is the holder's, never a waiter's
    fd = _hold(private_state_dir)
    try:
        with pytest.raises(LockError):
            with store.host_lock(0.1):
                pass
        assert Path(private_state_dir, "lock").read_text().strip() == "4242"
    finally:
        os.close(fd)

