"""The parts of running a file across hosts that need no Ansible: each host's file data, the
module's answers read from ansible-runner's events, the report."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vnet.errors import VnetError
from vnet.hosts.runner import AcrossResult, HostResult, _results, part_data
from vnet.hosts.split import split_topology
from vnet.loader import load_data, load_text

ACROSS = """\
name: two
hosts:
  - {name: a, underlay: 198.51.100.11}
  - {name: b, underlay: 198.51.100.12}
namespaces:
  - {name: n1, host: a}
  - {name: n2, host: b}
interfaces:
  - name: v1
    kind: veth
    netns: n1
    addresses: [192.0.2.1/24]
    peer: {name: v2, netns: n2, addresses: [192.0.2.2/24]}
  - {name: g1, kind: veth, host: a, via: geneve, peer: {name: g2, host: b}}
routes:
  - {netns: n1, to: 203.0.113.0/24, via: 192.0.2.2}
"""


def test_each_hosts_part_is_a_file_vnet_loads_as_is() -> None:
    split = split_topology(load_text(ACROSS, "t.yaml"))
    for host, part in split.hosts.items():
        data = part_data(part)
        assert "hosts" not in data and "checks" not in data
        assert all("host" not in i and "via" not in i for i in data["interfaces"])
        again = load_data(data)  # what the module on the host does with it
        assert sorted((e.kind, e.name, e.netns, e.mtu) for e in again.endpoints()) == sorted(
            (e.kind, e.name, e.netns, e.mtu) for e in part.endpoints()), host
        assert [r.to for r in again.routes] == [r.to for r in part.routes]


def test_macsec_keys_do_not_travel_to_hosts_yet() -> None:
    macsec = """\
  - name: m0
    kind: macsec
    netns: n1
    link: v1
    tx_sa: [{an: 0, pn: 1, key_id: "01", key: "00112233445566778899aabbccddeeff"}]
"""
    split = split_topology(load_text(ACROSS.replace("routes:\n", macsec + "routes:\n"),
                                     "t.yaml"))
    with pytest.raises(VnetError, match="cannot carry MACsec keys yet"):
        part_data(split.hosts["a"])


def _event(kind: str, host: str, res: dict[str, object], task: str = "vnet") -> dict[str, object]:
    return {"event": kind, "event_data": {"task": task, "host": host, "res": res}}


def test_the_answers_of_the_hosts_and_the_report() -> None:
    runner = SimpleNamespace(events=[
        _event("runner_on_ok", "a", {"changed": True, "plan_text": "Plan for t: 1 to create\n",
                                     "plan": {"actions": [{"verb": "create"}]},
                                     "existed": False}),
        _event("runner_on_failed", "b", {"msg": "apply failed at create link x: File exists"}),
        _event("runner_on_unreachable", "c", {"msg": "ssh: connect refused"}),
        _event("runner_on_ok", "a", {"changed": False}, task="something else"),
    ])
    found = _results(runner)
    assert found["a"] == HostResult("a", True, False, "", "Plan for t: 1 to create\n",
                                    {"actions": [{"verb": "create"}]}, fresh=True)
    assert (found["b"].failed, found["b"].msg) == (True, "apply failed at create link x: "
                                                         "File exists")
    assert found["c"].msg == "unreachable: ssh: connect refused"
    result = AcrossResult("t", ["a <-> b: VXLAN VNI 7"], planned=dict(found),
                          applied=dict(found), kept=["d"])
    assert [r.host for r in result.failed] == ["b", "c"]
    text = result.text()
    assert text.splitlines()[:3] == ["Topology t across 3 hosts.",
                                     "tunnel a <-> b: VXLAN VNI 7", "== a =="]
    assert "FAILED on b: apply failed at create link x: File exists" in text
    assert "not rolled back on d: it held an earlier version of t" in text
    assert not found["b"].fresh  # no word of the host: not taken as fresh


class _Hosts:
    """Stands in for Ansible: answers each run from a script, and notes the runs."""

    def __init__(self, answers: dict[tuple[str, bool], dict[str, HostResult]]) -> None:
        self.answers = answers
        self.runs: list[tuple[list[str], str, bool]] = []
        self.split = SimpleNamespace(hosts={"a": None, "b": None, "c": None}, notes=lambda: [])

    def run(self, hosts: list[str], state: str, check: bool) -> dict[str, HostResult]:
        self.runs.append((hosts, state, check))
        return {h: self.answers[(state, check)][h] for h in hosts}


def test_apply_is_two_phase_and_rolls_back_only_the_hosts_it_made_new(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vnet.hosts import runner
    ok = {h: HostResult(h, changed=True, fresh=h != "c") for h in "abc"}
    fake = _Hosts({("present", True): ok,
                   ("present", False): {**ok, "b": HostResult("b", failed=True, msg="refused")},
                   ("absent", False): {"a": HostResult("a", changed=True)}})
    monkeypatch.setattr(runner, "_across", lambda topo, inventory: fake)
    result = runner.apply_across(SimpleNamespace(name="t"), None)  # type: ignore[arg-type]
    assert fake.runs == [(["a", "b", "c"], "present", True), (["a", "b", "c"], "present", False),
                         (["a"], "absent", False)]
    assert list(result.rolled_back) == ["a"] and result.kept == ["c"]

    # a host that does not plan clean: nothing is applied anywhere
    fake = _Hosts({("present", True): {**ok, "c": HostResult("c", failed=True, msg="no")}})
    monkeypatch.setattr(runner, "_across", lambda topo, inventory: fake)
    result = runner.apply_across(SimpleNamespace(name="t"), None)  # type: ignore[arg-type]
    assert fake.runs == [(["a", "b", "c"], "present", True)]
    assert not result.applied and [r.host for r in result.failed] == ["c"]


def test_each_check_goes_to_the_host_it_starts_from() -> None:
    from vnet.hosts.runner import probes_by_host
    topo = load_text(ACROSS + "checks:\n  - {from: n1, ping: 192.0.2.2}\n"
                              "  - {from: n2, ping: 192.0.2.1, name: back}\n", "t.yaml")
    by_host = probes_by_host(topo)
    assert {h: [(p["src_ns"], p["dst_addr"]) for p in ps] for h, ps in by_host.items()} == {
        "a": [("n1", "192.0.2.2")], "b": [("n2", "192.0.2.1")]}
    tcp = load_text(ACROSS + "checks:\n  - {from: n1, tcp: '192.0.2.2:80'}\n", "t.yaml")
    with pytest.raises(VnetError, match="starts on host a but needs namespace n2 on host b"):
        probes_by_host(tcp)


def test_a_host_without_answer_is_reported_with_what_ansible_said() -> None:
    import io

    from vnet.hosts.runner import _ansible_said
    runner = SimpleNamespace(stdout=io.StringIO("PLAY [h1]\n\nERROR! the connection failed\n"),
                             status="failed")
    assert _ansible_said(runner) == "PLAY [h1] | ERROR! the connection failed"
    assert _ansible_said(SimpleNamespace(status="failed")) == "(no output; status failed)"


def test_show_across_reads_each_hosts_view_or_why_it_has_none(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    import json

    from vnet.hosts import runner
    shown = {"topology": "two", "file": None, "namespaces": ["n1"], "interfaces": [],
             "routes": [], "checks": []}
    plays: list[tuple[list[str], dict[str, object]]] = []

    class _Books:
        def __init__(self, inventory: object) -> None:
            self.inventory = inventory

        def play(self, hosts: list[str], task: dict[str, object], extravars: object) -> object:
            plays.append((hosts, task))
            return SimpleNamespace(status="failed", events=[
                _event("runner_on_ok", "a", {"stdout": json.dumps(shown)}),
                _event("runner_on_failed", "b", {"stdout": json.dumps(
                    {"error": "error", "messages": ["nothing named 'two' is live"]})}),
            ])

    monkeypatch.setattr(runner, "_Playbooks", _Books)
    topo = load_text(ACROSS.replace("  - {name: b, underlay: 198.51.100.12}\n",
                                    "  - {name: b, underlay: 198.51.100.12}\n"
                                    "  - {name: c, underlay: 198.51.100.13}\n"), "t.yaml")
    result = runner.show_across(topo, tmp_path, counters=True)  # type: ignore[arg-type]
    hosts, task = plays[0]
    assert hosts == ["a", "b", "c"]
    argv = task["ansible.builtin.command"]["argv"]  # type: ignore[index]
    assert argv[1:] == ["-m", "vnet", "show", "two", "--json", "--stats"]
    assert result.shown == {"a": shown}
    assert result.problems["b"] == "nothing named 'two' is live"
    assert result.problems["c"].startswith("no answer (is it in the inventory")
    with pytest.raises(VnetError, match="names no hosts: show it without --inventory"):
        runner.show_across(load_text("name: one\n", "one.yaml"), tmp_path)  # type: ignore[arg-type]


def test_show_across_with_options_asks_each_host_for_its_kernels_options(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vnet show FILE --inventory INV --options`: each host runs `vnet show NAME --json
    --options`, and its interfaces' options come back in the view grouped by host."""
    import json
    from pathlib import Path

    from vnet import cli
    from vnet.hosts import runner
    row = {"netns": "n1", "name": "v1", "kind": "veth", "state": "up", "master": None,
           "addresses": ["192.0.2.1/24"], "mtu": 1500, "mac": "02:00:00:00:00:01",
           "rx_packets": 0, "tx_packets": 0, "rx_bytes": 0, "tx_bytes": 0, "owned": True,
           "topology": "two", "extra": {"options": {"txqueuelen": 10}}}
    shown = {"topology": "two", "file": None, "namespaces": ["n1"], "interfaces": [row],
             "routes": [], "checks": []}
    plays: list[dict[str, object]] = []

    class _Books:
        def __init__(self, inventory: object) -> None:
            self.inventory = inventory

        def play(self, hosts: list[str], task: dict[str, object], extravars: object) -> object:
            plays.append(task)
            return SimpleNamespace(status="successful", events=[
                _event("runner_on_ok", host, {"stdout": json.dumps(shown)}) for host in hosts])

    monkeypatch.setattr(runner, "_Playbooks", _Books)
    path = Path(str(tmp_path)) / "two.yaml"
    path.write_text(ACROSS)
    assert cli.main(["show", str(path), "--inventory", str(path), "--options", "--json"]) == 0
    argv = plays[0]["ansible.builtin.command"]["argv"]  # type: ignore[index]
    assert argv[1:] == ["-m", "vnet", "show", "two", "--json", "--stats", "--options"]
    out = json.loads(capsys.readouterr().out)
    assert out["hosts"]["a"]["interfaces"][0]["extra"]["options"] == {"txqueuelen": 10}
    assert cli.main(["show", str(path), "--inventory", str(path), "--options"]) == 0
    assert "n1\tv1\ttxqueuelen: 10" in capsys.readouterr().out
    assert plays[1]["ansible.builtin.command"]["argv"][-1] == "--options"  # type: ignore[index]
    cli.main(["show", str(path), "--inventory", str(path)])
    assert "--options" not in plays[2]["ansible.builtin.command"]["argv"]  # type: ignore[index]


def test_ansibles_scratch_files_and_control_sockets_stay_out_of_the_home(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    import gc
    import shutil
    import tempfile
    from pathlib import Path

    import ansible_runner

    from vnet.hosts import runner
    work = Path(str(tmp_path))
    seen: list[dict[str, str]] = []
    monkeypatch.setattr(ansible_runner, "run", lambda **kw: seen.append(kw["envvars"]))
    inventory = work / "inventory.yml"
    inventory.write_text("all: {}\n")
    monkeypatch.delenv("ANSIBLE_SSH_CONTROL_PATH_DIR", raising=False)
    books = runner._Playbooks(inventory, work / "runs")
    books.play(["a"], {"ansible.builtin.ping": {}}, {})
    books.play(["a"], {"ansible.builtin.ping": {}}, {})
    # a read-only home (a VM over the host's files) must not stop a play; the plays of one
    # command share their control sockets, so the second reuses the first's connections
    assert [env["ANSIBLE_LOCAL_TEMP"] for env in seen] == [
        str(work / "runs" / "run1" / "tmp"), str(work / "runs" / "run2" / "tmp")]
    assert {env["ANSIBLE_SSH_CONTROL_PATH_DIR"] for env in seen} == {str(books.control_dir)}
    short = Path(tempfile.mkdtemp(prefix="t-", dir="/tmp"))
    try:  # beside the plays when that path is short enough for a socket's name...
        assert runner._Playbooks(inventory, short / "runs").control_dir == short / "runs" / "cp"
    finally:
        shutil.rmtree(short)
    # ... else (the kernel tier's test paths) a short directory, removed with the object
    deep = runner._Playbooks(inventory, work / ("d" * 60) / "runs")
    control = deep.control_dir
    assert len(str(control)) <= 80 and control.is_dir() and control.name.startswith("vnet-cp-")
    del deep
    gc.collect()
    assert not control.exists()
    books = runner._Playbooks(inventory, work / "runs2")
    monkeypatch.setenv("ANSIBLE_SSH_CONTROL_PATH_DIR", "/srv/cp")  # the user's choice stands
    books.play(["a"], {"ansible.builtin.ping": {}}, {})
    assert seen[-1]["ANSIBLE_SSH_CONTROL_PATH_DIR"] == "/srv/cp"
