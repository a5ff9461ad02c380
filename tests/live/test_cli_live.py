"""The `vnet` command against the live kernel, in-process: exit codes, text and JSON output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vnet import cli

from .helpers import ip_json, load_modules, probe_kind, require_kind, sh

pytestmark = pytest.mark.kind("bridge", "veth", "netns")

TOPOLOGY = """
name: clitest
namespaces: [c1, c2]
interfaces:
  - name: br0
    kind: bridge
    netns: c1
    stp_state: false
  - name: eth0
    kind: veth
    netns: c2
    addresses: [192.0.2.2/24]
    peer: {name: port0, netns: c1, master: br0, addresses: []}
"""
ENDS = {("c1", "br0"), ("c2", "eth0"), ("c1", "port0")}


@pytest.fixture
def topo_file(tmp_path: Path) -> Path:
    require_kind("bridge")
    require_kind("veth")
    path = tmp_path / "clitest.yaml"
    path.write_text(TOPOLOGY)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> Any:
    got, out, err = _run(capsys, *argv, "--json")
    assert got == code, (out, err)
    return json.loads(out)


def test_plan_apply_show_destroy_text(topo_file: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "plan", str(topo_file))
    assert code == 2
    assert "create  link c1/br0 (bridge)" in out and "Plan for clitest" in out
    assert ip_json("netns", "list") == []  # plan changed nothing

    code, out, _ = _run(capsys, "apply", str(topo_file))
    assert code == 0 and "Applied clitest" in out
    code, out, _ = _run(capsys, "plan", str(topo_file))
    assert code == 0 and "no changes" in out
    code, out, _ = _run(capsys, "up", str(topo_file))
    assert code == 0 and "no changes" in out

    for target in ("clitest", str(topo_file)):
        code, out, _ = _run(capsys, "show", target)
        assert code == 0
        for name in ("br0", "eth0", "port0", "192.0.2.2/24", "c1", "c2", "bridge", "veth"):
            assert name in out, f"{name} missing from vnet show {target}:\n{out}"
    code, out, _ = _run(capsys, "show")
    assert code == 0 and "clitest" in out  # every topology: a topology column

    code, out, _ = _run(capsys, "destroy", "clitest")
    assert code == 0 and "remove" in out
    assert ip_json("netns", "list") == []
    code, out, _ = _run(capsys, "down", str(topo_file))
    assert code == 0 and "nothing to destroy" in out
    code, _, err = _run(capsys, "show", "clitest")  # a name nothing has: a typo, exit 1
    assert code == 1 and "nothing named 'clitest' is live" in err


def test_json_outputs(topo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = _json(capsys, "plan", str(topo_file), code=2)
    assert plan["topology"] == "clitest" and plan["changes"] is True
    assert set(plan["summary"]) == {"create", "change", "replace", "remove"}
    assert plan["summary"]["create"] == len(plan["actions"])
    for action in plan["actions"]:
        assert set(action) >= {"verb", "subject", "reason", "diff", "requests"}
    assert any(a["subject"] == "namespace c1" for a in plan["actions"])

    applied = _json(capsys, "apply", str(topo_file))
    assert applied["applied"] is True and applied["summary"] == plan["summary"]

    again = _json(capsys, "plan", str(topo_file))
    assert again["changes"] is False and again["actions"] == []

    shown = _json(capsys, "show", "clitest")
    assert shown["topology"] == "clitest"
    rows = {(r["netns"], r["name"]): r for r in shown["interfaces"]}
    assert ENDS <= set(rows)
    eth0 = rows[("c2", "eth0")]
    assert eth0["kind"] == "veth" and eth0["state"] == "up" and eth0["mtu"] == 1500
    assert eth0["addresses"] == ["192.0.2.2/24"]
    assert rows[("c1", "port0")]["master"] == "br0"
    for field in ("rx_packets", "tx_packets", "mac", "owned", "topology"):
        assert field in eth0

    destroyed = _json(capsys, "destroy", "clitest")
    assert destroyed["destroyed"] is True and destroyed["summary"]["remove"] >= 2
    assert ip_json("netns", "list") == []


def test_errors_exit_1(topo_file: Path, capsys: pytest.CaptureFixture[str],
                       tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ninterfaces:\n  - {name: x, kind: nosuchkind}\n")
    code, _, err = _run(capsys, "apply", str(bad))
    assert code == 1 and "bad.yaml:3" in err and "nothing was changed" in err

    sh("ip", "netns", "add", "c1")  # someone else's namespace in the way
    code, _, err = _run(capsys, "apply", str(topo_file))
    assert code == 1 and "conflict" in err and "namespace c1" in err
    payload = _json(capsys, "plan", str(topo_file), code=1)
    assert payload["error"].startswith("conflict") and payload["messages"]
    assert [ns["name"] for ns in ip_json("netns", "list")] == ["c1"]


@pytest.mark.kind("vxlan")
def test_kinds_is_honest_about_this_kernel(capsys: pytest.CaptureFixture[str]) -> None:
    from vnet.kinds import ordered
    # a modular kernel (the kernel tier's) may not load modules on demand inside the test
    # sandbox: load them first, so vnet's probe and `ip` face the same kernel
    for cls in ordered():
        load_modules(cls.kind_name)
    kinds = _json(capsys, "kinds", "--refresh")
    by_name = {k["name"]: k for k in kinds}
    for field in ("implemented", "available", "reason", "use_when"):
        assert all(field in k for k in kinds)
    for name in ("bridge", "veth", "vxlan"):
        require_kind(name)
        assert by_name[name]["available"] is True, by_name[name]
    # every other kind: vnet's answer is what trying it here with `ip` says
    for name, info in by_name.items():
        problem = probe_kind(name)
        assert info["available"] is (problem is None), (name, info, problem)
        if problem is not None:
            assert info["reason"], f"{name}: unavailable without a reason"


def _bridge_vlan_filtering_problem() -> str | None:
    """What `ip` says when asked for a bridge with VLAN filtering here; None if it made one."""
    from .helpers import CommandError
    try:
        sh("ip", "link", "add", "vnetprobe0", "type", "bridge", "vlan_filtering", "1")
    except CommandError as exc:
        return exc.stderr.strip() or str(exc)
    sh("ip", "link", "del", "vnetprobe0")
    return None


@pytest.mark.kind("bond", "bridge")
def test_plan_says_before_any_change_what_this_kernel_lacks(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A kind (bond) or a feature (bridge VLAN filtering) this kernel lacks stops `plan` and
    `apply` with one line naming it, before any change; on a kernel that has it, they plan."""
    load_modules("bond")
    load_modules("bridge")
    bond = tmp_path / "bond.yaml"
    bond.write_text("name: lacks\nnamespaces: [l1]\ninterfaces:\n"
                    "  - {name: bond0, kind: bond, netns: l1, mode: active-backup}\n")
    cases = [(bond, "bond", probe_kind("bond")),
             (Path(__file__).resolve().parents[2] / "examples" / "bridge-vlan.yaml",
              "bridge VLAN filtering", _bridge_vlan_filtering_problem())]
    for path, what, problem in cases:
        for command in ("plan", "apply"):
            code, out, err = _run(capsys, command, str(path))
            if problem is None:
                assert code == (2 if command == "plan" else 0), (out, err)
                continue
            assert code == 1 and out == "", (out, err)
            lines = err.splitlines()
            assert lines[0].startswith(f"error: this kernel lacks {what} ("), err
            assert lines[0].endswith("see `vnet kinds`") and lines[-1] == "nothing was changed."
            assert ip_json("netns", "list") == []
        if problem is None:
            assert _run(capsys, "destroy", str(path))[0] == 0
    kinds = _run(capsys, "kinds")[1]
    vlan_row = next(line for line in kinds.splitlines() if "bridge VLAN filtering" in line)
    assert ("│ yes" in vlan_row) is (cases[1][2] is None), vlan_row


def test_apply_and_destroy_say_the_plan_then_a_closing_line(
        topo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "apply", str(topo_file))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Plan for clitest: ") and len(lines) == 2
    assert lines[1].startswith("Applied clitest: ") and " created in " in lines[1]
    assert "(declared)" not in out
    code, out, _ = _run(capsys, "-q", "destroy", "clitest")
    assert code == 0
    assert out.startswith("Destroyed clitest: removed ") and out.count("\n") == 1
    assert "2 namespaces" in out and "create" not in out
    assert ip_json("netns", "list") == []
