"""What the `vnet` command says, as a new user meets it (issue 17): apply's and destroy's
output (plan summary first, progress, a closing line; -q and -v), the one sentence a command
run without root ends with, a kernel that lacks a kind or feature said before any change,
--version and the examples of --help. Commands run on the in-memory FakeKernel."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from clirun import run, written

from vnet import api, cli, errors, kinds_probe
from vnet.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, main
from vnet.door import kind_probe
from vnet.door.fake import FakeKernel
from vnet.door.rtnl import RtnlError
from vnet.loader import load_text

LAB = """\
name: outlab
namespaces: [a, b]
interfaces:
  - name: va
    kind: veth
    netns: a
    addresses: [192.0.2.1/24]
    peer: {name: vb, netns: b, addresses: [192.0.2.2/24]}
  - name: br0
    kind: bridge
    netns: a
routes:
  - {netns: a, to: 198.51.100.0/24, via: 192.0.2.2}
"""


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    return written(tmp_path, "outlab.yaml", LAB)


#: the live kernel's door, before the `fake` fixture stands the FakeKernel in its place
REAL_OPEN_KERNEL = api.open_kernel
NOBODY = ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]

CLOSING = re.compile(r"^Applied outlab: \d+ created in \d+(\.\d)? m?s\.$")


# ---- apply and destroy ----------------------------------------------------------------------

def test_apply_says_the_plan_first_then_a_closing_line(capsys: pytest.CaptureFixture[str],
                                                       lab: Path, fake: FakeKernel) -> None:
    code, out, err = run(capsys, "apply", str(lab))
    assert code == EXIT_OK
    lines = out.splitlines()
    assert len(lines) == 2, out  # no action lines by default: a large plan is two lines
    assert lines[0].startswith("Plan for outlab: ") and "to create" in lines[0]
    assert CLOSING.match(lines[1]), lines[1]
    assert "(declared)" not in out
    assert err == ""  # a fast apply in a pipe prints no progress

    code, out, _ = run(capsys, "apply", str(lab))  # nothing to do: said once
    assert code == EXIT_OK
    assert out == "outlab: no changes; the kernel matches the file.\n"


def test_apply_verbose_prints_every_action_with_its_reason(capsys: pytest.CaptureFixture[str],
                                                           lab: Path, fake: FakeKernel) -> None:
    code, out, _ = run(capsys, "apply", "-v", str(lab))
    assert code == EXIT_OK
    lines = out.splitlines()
    assert "+ create  namespace a  (declared, not present)" in lines
    assert any(line.startswith("+ create  link a/va (veth)") for line in lines)
    assert lines[-2].startswith("Plan for outlab: ")
    assert CLOSING.match(lines[-1])


@pytest.mark.parametrize("argv", [["apply", "-q"], ["-q", "apply"], ["up", "--quiet"]])
def test_apply_quiet_prints_only_the_closing_line(capsys: pytest.CaptureFixture[str], lab: Path,
                                                  fake: FakeKernel, argv: list[str]) -> None:
    code, out, err = run(capsys, *argv, str(lab))
    assert code == EXIT_OK
    assert CLOSING.match(out.strip()) and out.count("\n") == 1, out
    assert err == ""


def test_quiet_and_verbose_do_not_go_together(capsys: pytest.CaptureFixture[str],
                                              lab: Path, fake: FakeKernel) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["-q", "apply", "-v", str(lab)])
    assert exit_.value.code == 2
    assert "choose one" in capsys.readouterr().err


def test_destroy_speaks_of_removal(capsys: pytest.CaptureFixture[str], lab: Path,
                                   fake: FakeKernel) -> None:
    assert run(capsys, "apply", str(lab))[0] == EXIT_OK
    code, out, _ = run(capsys, "destroy", "outlab")
    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[0] == "Plan for outlab: 2 to remove."
    assert re.match(r"^Destroyed outlab: removed 2 namespaces in \d+(\.\d)? m?s\.$", lines[-1])
    assert "Applied" not in out and "create" not in lines[-1]
    assert fake.list_netns() == set()


def test_destroy_quiet(capsys: pytest.CaptureFixture[str], lab: Path, fake: FakeKernel) -> None:
    run(capsys, "apply", "-q", str(lab))
    code, out, _ = run(capsys, "down", "-q", str(lab))
    assert code == EXIT_OK
    assert out.startswith("Destroyed outlab: removed 2 namespaces") and out.count("\n") == 1


def test_json_output_is_unchanged(capsys: pytest.CaptureFixture[str], lab: Path,
                                  fake: FakeKernel) -> None:
    code, out, err = run(capsys, "apply", "--json", str(lab))
    assert code == EXIT_OK and err == ""
    data = json.loads(out)  # the whole output is one JSON document: no summary lines
    assert set(data) == {"topology", "changes", "summary", "actions", "applied"}
    assert data["actions"][0]["reason"] == "declared, not present"
    code, out, _ = run(capsys, "destroy", "--json", "outlab")
    assert json.loads(out)["destroyed"] is True


def test_plan_drops_only_the_reasons_that_say_nothing(capsys: pytest.CaptureFixture[str],
                                                      lab: Path, fake: FakeKernel) -> None:
    code, out, _ = run(capsys, "plan", str(lab))
    assert code == EXIT_CHANGES
    assert "+ create  namespace a\n" in out and "(declared" not in out
    code, out, _ = run(capsys, "plan", "-v", str(lab))
    assert "+ create  namespace a  (declared, not present)" in out
    code, out, _ = run(capsys, "plan", "-q", str(lab))
    assert out.startswith("Plan for outlab:") and out.count("\n") == 1
    # a reason that says something stays in the default output
    run(capsys, "apply", "-q", str(lab))
    fewer = LAB.replace("  - name: br0\n    kind: bridge\n    netns: a\n", "")
    lab.write_text(fewer, encoding="utf-8")
    code, out, _ = run(capsys, "plan", str(lab))
    assert "- remove  link a/br0 (bridge)  (owned, no longer declared)" in out


# ---- progress -----------------------------------------------------------------------------------

class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _progress(monkeypatch: pytest.MonkeyPatch, terminal: bool) -> tuple[Any, _Clock]:
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: terminal, raising=False)
    progress = cli._Progress("applying", "big")
    clock = _Clock()
    progress.clock = clock
    progress.start = progress.shown = clock.now
    return progress, clock


def test_progress_in_a_pipe_is_a_few_lines(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    progress, clock = _progress(monkeypatch, terminal=False)
    total = 9003
    for i in range(total):  # 9,003 actions over 45 s
        clock.now += 45 / total
        progress(None, i, total)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert 5 <= len(lines) <= 12, err
    assert all(re.match(r"^applying big: \d+/9003 actions done \(\d+%, \d+ s\)$", line)
               for line in lines)

    progress, clock = _progress(monkeypatch, terminal=False)
    for i in range(total):  # a fast run says nothing: the closing line suffices
        clock.now += 0.5 / total
        progress(None, i, total)
    assert capsys.readouterr().err == ""

    progress, clock = _progress(monkeypatch, terminal=False)
    for i in range(3):  # a slow small run: a line every five seconds at most
        clock.now += 12
        progress(None, i, 4)
    assert len(capsys.readouterr().err.splitlines()) == 3


def test_progress_on_a_terminal_updates_a_bar_at_most_ten_times_a_second(
        monkeypatch: pytest.MonkeyPatch) -> None:
    progress, clock = _progress(monkeypatch, terminal=True)
    updates: list[int] = []

    class Bar:
        def update(self, task: object, completed: int, total: int) -> None:
            updates.append(completed)

        def refresh(self) -> None:
            pass

        def stop(self) -> None:
            updates.append(-1)

    monkeypatch.setattr(progress, "_start_bar", lambda total: setattr(progress, "bar", Bar()))
    for i in range(3000):  # 3,000 actions in 2 s
        clock.now += 2 / 3000
        progress(None, i, 3000)
    assert 15 <= len(updates) <= 25 and updates[-1] == 3000
    progress.close()
    assert updates[-1] == -1 and progress.bar is None


# ---- without root -------------------------------------------------------------------------------

NEEDS_ROOT = [["plan", "{lab}"], ["apply", "{lab}"], ["up", "{lab}"], ["destroy", "outlab"],
              ["show"], ["show", "outlab"], ["check", "{lab}"], ["exec", "a", "--", "true"],
              ["kinds"]]


@pytest.fixture
def nobody(monkeypatch: pytest.MonkeyPatch, fake: FakeKernel) -> FakeKernel:
    """A user without CAP_NET_ADMIN and CAP_SYS_ADMIN, before the live kernel's door (which
    refuses it before importing anything of the door)."""
    monkeypatch.setattr(errors, "missing_capabilities", lambda: list(NOBODY))
    monkeypatch.setattr(api, "open_kernel", REAL_OPEN_KERNEL)
    return fake


@pytest.mark.parametrize("argv", NEEDS_ROOT, ids=lambda a: " ".join(a))
def test_without_root_a_command_ends_with_one_sentence(argv: list[str], lab: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       nobody: FakeKernel) -> None:
    code, out, err = run(capsys, *[a.format(lab=lab) for a in argv])
    assert code == EXIT_ERROR and out == ""
    assert re.fullmatch(rf"error: vnet {argv[0]} needs root \(CAP_NET_ADMIN and "
                        r"CAP_SYS_ADMIN\) because it [^.]+; run it as root, e\.g\. with "
                        r"sudo\.\n", err), err
    assert nobody.log == []


def test_without_root_json_says_it_as_json(lab: Path, capsys: pytest.CaptureFixture[str],
                                           nobody: FakeKernel) -> None:
    code, out, _ = run(capsys, "plan", "--json", str(lab))
    assert code == EXIT_ERROR
    data = json.loads(out)
    assert data["error"] == "permission denied" and "needs root" in data["messages"][0]


def test_validate_and_schema_need_no_root(lab: Path, capsys: pytest.CaptureFixture[str],
                                          nobody: FakeKernel) -> None:
    assert run(capsys, "validate", str(lab))[0] == EXIT_OK
    assert run(capsys, "schema")[0] == EXIT_OK


@pytest.mark.parametrize("argv", [["plan", "{lab}"], ["show"], ["destroy", "outlab"]])
def test_the_kernels_eperm_is_the_same_sentence(argv: list[str], lab: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                fake: FakeKernel,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the check up front cannot tell, the kernel's refusal (`RtnlError: [Errno 1]
    setns: Operation not permitted`) ends the same way."""
    def refuse() -> None:
        raise RtnlError(errno.EPERM, "setns: Operation not permitted")
    monkeypatch.setattr(api, "open_kernel", refuse)
    monkeypatch.setattr(errors, "missing_capabilities", lambda: ["CAP_SYS_ADMIN"])
    code, out, err = run(capsys, *[a.format(lab=lab) for a in argv])
    assert code == EXIT_ERROR
    assert err.startswith(f"error: vnet {argv[0]} needs root (CAP_SYS_ADMIN) because it ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_capabilities_reads_the_effective_ones(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    status = tmp_path / "status"
    real_open = open

    def fake_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        return real_open(status if path == "/proc/self/status" else path, *args, **kwargs)
    monkeypatch.setattr("builtins.open", fake_open)
    status.write_text("Name:\tvnet\nCapEff:\t0000000000000000\n")
    assert errors.missing_capabilities() == NOBODY
    status.write_text("Name:\tvnet\nCapEff:\t0000000000001000\n")  # bit 12 only
    assert errors.missing_capabilities() == ["CAP_SYS_ADMIN"]
    status.write_text("Name:\tvnet\nCapEff:\t000001ffffffffff\n")
    assert errors.missing_capabilities() == []


def test_root_without_cap_sys_admin_is_refused_only_where_namespaces_are(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A process with CAP_NET_ADMIN alone can work in its own namespace; once named
    namespaces exist, reading them means entering them, and the door is not opened."""
    monkeypatch.setattr(errors, "missing_capabilities", lambda: ["CAP_SYS_ADMIN"])
    real_listdir = os.listdir
    netns: list[str] = []
    monkeypatch.setattr(os, "listdir",
                        lambda path: list(netns) if path == "/run/netns" else real_listdir(path))
    netns.append("h1")
    with pytest.raises(errors.PermissionProblem) as info:
        REAL_OPEN_KERNEL()
    assert info.value.caps == "CAP_SYS_ADMIN"


# ---- what this kernel lacks, before any change ------------------------------------------------

@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """A kernel with bridge (without VLAN filtering) and veth, nothing else; the cache in
    tmp_path."""
    calls: list[list[str]] = []

    def fake_probe(names: list[str], specimens: object = None
                   ) -> dict[str, tuple[bool | None, str]]:
        calls.append(list(names))
        out: dict[str, tuple[bool | None, str]] = {}
        for name in names:
            if name in ("bridge", "veth") or name.startswith("option:"):
                out[name] = (True, "")
            elif name == "bridge_vlan_filtering":
                out[name] = (False, "built without CONFIG_BRIDGE_VLAN_FILTERING")
            else:
                out[name] = (False, f"not built in, no module {name}")
        return out
    monkeypatch.setattr(kind_probe, "probe_kinds", fake_probe)
    monkeypatch.setattr(kinds_probe, "STATE_DIR", str(tmp_path))
    return calls


BOND = """\
name: bondlab
interfaces:
  - {name: d0, kind: veth, peer: {name: d1}}
  - {name: bond0, kind: bond, mode: active-backup}
  - {name: bond1, kind: bond, mode: active-backup}
"""
VLANS = """\
name: vlanlab
namespaces: [sw]
interfaces:
  - {name: br0, kind: bridge, netns: sw, vlan_filtering: true}
  - name: p0
    kind: veth
    netns: sw
    master: br0
    vlans: [{vid: 10, pvid: true, untagged: true}]
    peer: {name: p1}
"""


def test_lacking_names_the_kind_the_module_and_who_needs_it(probe: list[list[str]]) -> None:
    assert kinds_probe.lacking(load_text(BOND)) == [
        "this kernel lacks bond (not built in, no module bond), which bond0, bond1 need — "
        "see `vnet kinds`"]
    assert probe == [["veth", "bond"]]  # only the file's kinds are probed
    kinds_probe.lacking(load_text(BOND))
    assert probe[1:] == [["bond"]]  # veth is in the per-boot cache; a "no" is asked again
    assert kinds_probe.lacking(load_text(VLANS)) == [
        "this kernel lacks bridge VLAN filtering (built without "
        "CONFIG_BRIDGE_VLAN_FILTERING), which sw/br0 (vlan_filtering) needs — see `vnet kinds`"]
    assert probe[2:] == [["bridge", "bridge_vlan_filtering"]]


OPTIONS = """\
name: optlab
namespaces: [sw]
interfaces:
  - {name: br0, kind: bridge, netns: sw, stp_state: true, mcast_igmp_version: 3,
     vlan_filtering: false}
  - {name: br1, kind: bridge, netns: sw, mcast_igmp_version: 3}
  - {name: br2, kind: bridge, mcast_igmp_version: 3}
  - {name: br3, kind: bridge, mcast_igmp_version: 3}
  - {name: bond0, kind: bond, mode: active-backup}
  - {name: p0, kind: veth, netns: sw, master: br0, peer: {name: p1}}
"""


def test_an_option_the_kernel_ignores_stops_the_plan_naming_it_and_the_kernel(
        probe: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe's own answer (door/kind_probe.py reads a throwaway copy back) becomes one
    sentence per option, naming the kernel's version and who sets it; the options of a kind
    the kernel lacks, and those a feature's probe covers, are not probed."""
    seen: list[dict[str, str]] = []

    def fake_probe(names: list[str], specimens: dict[str, Any] | None = None
                   ) -> dict[str, tuple[bool | None, str]]:
        specimens = specimens or {}
        seen.append({n: specimens[n].name for n in names if n in specimens})
        out: dict[str, tuple[bool | None, str]] = {}
        for name in names:
            out[name] = (False, "not built in, no module bond") if name == "bond" else \
                (False, "set to 3, the kernel reported 2") \
                if name == "option:bridge.mcast_igmp_version" else (True, "")
        return out
    monkeypatch.setattr(kind_probe, "probe_kinds", fake_probe)
    monkeypatch.setattr(kinds_probe.os, "uname", lambda: os.uname_result(
        ("Linux", "host", "5.4.0-old", "#1", "x86_64")))
    assert kinds_probe.lacking(load_text(OPTIONS)) == [
        "this kernel lacks bond (not built in, no module bond), which bond0 needs — see "
        "`vnet kinds`",
        "this kernel (Linux 5.4.0-old) does not keep the bridge option `mcast_igmp_version` "
        "(set to 3, the kernel reported 2), which sw/br0, sw/br1, br2 and 1 more set: a kernel "
        "older than the option ignores it — leave it out, or use a newer kernel"]
    # one entry stands for each option; bond's are not asked (the kernel lacks bond)
    assert seen[-1] == {"option:bridge.stp_state": "br0",
                        "option:bridge.mcast_igmp_version": "br0",
                        "option:bridge.vlan_filtering": "br0"}
    kinds_probe.lacking(load_text(OPTIONS))
    # the options' "yes" is cached for the boot; their "no" is asked again
    assert seen[-1] == {"option:bridge.mcast_igmp_version": "br0"}


def test_an_option_the_kernel_refuses_as_unsupported_is_named_so(
        probe: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_probe(names: list[str], specimens: dict[str, Any] | None = None
                   ) -> dict[str, tuple[bool | None, str]]:
        assert "option:bridge.vlan_filtering" not in names or specimens and \
            specimens["option:bridge.vlan_filtering"].name == "br1"
        return {n: (False, "the kernel refused it: Operation not supported")
                if n == "option:bridge.vlan_filtering" else (True, "") for n in names}
    monkeypatch.setattr(kind_probe, "probe_kinds", fake_probe)
    text = ("name: r\ninterfaces:\n  - {name: br0, kind: bridge, vlan_filtering: true}\n"
            "  - {name: br1, kind: bridge, vlan_filtering: false}\n")
    # br0's vlan_filtering: true is the feature's probe (answered yes here), br1's false is
    # the option's
    assert kinds_probe.lacking(load_text(text)) == [
        f"this kernel (Linux {os.uname().release}) does not support the bridge option "
        "`vlan_filtering` (the kernel refused it: Operation not supported), which br1 sets — "
        "leave it out, or use a kernel built with it"]


def test_team_options_are_teamds_and_not_probed(probe: list[list[str]]) -> None:
    text = "name: t\ninterfaces:\n  - {name: team0, kind: team, runner: activebackup}\n"
    monkeypatch_names = kinds_probe._option_users(load_text(text), {"team": (True, "")})
    assert monkeypatch_names == ({}, {})


def test_a_kind_whose_probe_failed_otherwise_does_not_stop_the_plan(
        probe: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kind_probe, "probe_kinds",
                        lambda names, specimens=None: {n: (False, "probe failed: Invalid argument")
                                       for n in names})
    assert kinds_probe.lacking(load_text(BOND)) == []


def test_plan_says_what_the_kernel_lacks_before_any_change(
        probe: list[list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = FakeKernel()
    monkeypatch.setattr(api, "open_kernel", lambda: kernel)
    path = tmp_path / "vlans.yaml"
    path.write_text(VLANS, encoding="utf-8")
    for command in ("plan", "apply"):
        code, out, err = run(capsys, command, str(path))
        assert code == EXIT_ERROR and out == ""
        assert err.splitlines() == [
            "error: this kernel lacks bridge VLAN filtering (built without "
            "CONFIG_BRIDGE_VLAN_FILTERING), which sw/br0 (vlan_filtering) needs — see `vnet kinds`",
            "nothing was changed."]
    assert kernel.log == []
    code, out, _ = run(capsys, "apply", "--json", str(path))
    assert code == EXIT_ERROR and "bridge VLAN filtering" in json.loads(out)["messages"][0]


def test_an_unknown_answer_does_not_stop_the_plan(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setattr(kind_probe, "probe_kinds",
                        lambda names, specimens=None: {n: (None, "probing needs root")
                                                       for n in names})
    monkeypatch.setattr(kinds_probe, "STATE_DIR", str(tmp_path))
    assert kinds_probe.lacking(load_text(BOND)) == []
    assert list(tmp_path.iterdir()) == []  # an unknown answer is not cached


def test_an_older_cache_is_probed_again(probe: list[list[str]], tmp_path: Path) -> None:
    cache = Path(kinds_probe._cache_path())
    cache.write_text(json.dumps({"bond": [True, ""]}), encoding="utf-8")  # vnet 0.1's layout
    assert kinds_probe.lacking(load_text(BOND))
    assert json.loads(cache.read_text())["format"] == 2


def test_kinds_shows_features_and_no_doubled_bracket(probe: list[list[str]],
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "missing_capabilities", lambda: [])
    code, out, _ = run(capsys, "kinds")
    assert code == EXIT_OK
    assert "no (not built in, no module bond)" in out and "))" not in out
    assert re.search(r"bridge VLAN filtering\s*│\s*no \(built without "
                     r"CONFIG_BRIDGE_VLAN_FILTERING\)", out), out
    assert len(probe) == 1  # kinds and features in one probe
    code, out, _ = run(capsys, "kinds", "--json")
    assert [r["name"] for r in json.loads(out)][:1] == ["bridge"]  # the JSON list as before


def test_an_unsupported_refusal_at_apply_points_at_vnet_kinds(
        capsys: pytest.CaptureFixture[str], lab: Path, fake: FakeKernel) -> None:
    fake.fail_on = lambda req: errno.EOPNOTSUPP if req.op == "link.add" else None
    code, _, err = run(capsys, "apply", str(lab))
    assert code == EXIT_ERROR
    assert "Operation not supported" in err and "`vnet kinds`" in err


# ---- --version, --help --------------------------------------------------------------------------

def test_version_and_help_examples(capsys: pytest.CaptureFixture[str]) -> None:
    import vnet
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"vnet {vnet.__version__}\n"
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "\nexamples:\n  vnet validate lab.yaml " in out
    assert "vnet exec h1 -- ping -c1 192.0.2.2\n" in out  # kept as written (raw epilog)


def test_a_reason_with_its_own_brackets_is_not_bracketed_twice() -> None:
    from vnet.actions import Action
    from vnet.plan import Plan
    from vnet.render.plan_text import plan_lines
    action = Action("remove", "namespace h1", "owned, no longer declared (with all inside it)",
                    [], [])
    assert plan_lines(Plan("t", [action])) == [
        ("remove", "- remove  namespace h1  (owned, no longer declared, with all inside it)")]
