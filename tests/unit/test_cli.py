"""The `vnet` command: in-process (exit codes, where errors go, JSON output) and, at the end, as
a process. Commands that reach the kernel run on the in-memory FakeKernel (api's backend
construction is patched)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clirun import run, written

from vnet import errors, kinds, kinds_probe
from vnet.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, main
from vnet.door import kind_probe
from vnet.door.fake import FakeKernel

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "errors"
#: the kinds vnet has always offered: none may go missing from `vnet kinds` (more may come)
PROMISED = ["bridge", "bond", "team", "vlan", "vxlan", "macvlan", "ipvlan", "macvtap", "ipvtap",
            "macsec", "veth", "vcan", "vxcan", "ipoib", "nlmon", "dummy", "ifb", "tun", "tap"]

LAB = """\
name: clilab
namespaces: [a, b]
interfaces:
  - name: va
    kind: veth
    netns: a
    addresses: [192.0.2.1/24]
    peer: {name: vb, netns: b, addresses: [192.0.2.2/24]}
routes:
  - {netns: a, to: 198.51.100.0/24, via: 192.0.2.2}
"""


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    return written(tmp_path, "lab.yaml", LAB)


# ---- validate ----------------------------------------------------------------------------------

def test_validate_ok(capsys: pytest.CaptureFixture[str], lab: Path) -> None:
    code, out, err = run(capsys, "validate", str(lab))
    assert code == EXIT_OK
    assert "valid" in out and "clilab" in out and err == ""


def test_validate_errors_go_to_stderr_one_per_line(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    code, out, err = run(capsys, "validate", "several_errors.yaml")
    assert code == EXIT_ERROR
    assert out == ""
    expected = (GOLDEN / "several_errors.expected").read_text(encoding="utf-8").splitlines()
    lines = err.splitlines()
    assert lines[:-1] == [f"error: {line}" for line in expected]
    assert lines[-1] == f"{len(expected)} problems found; nothing was changed."


def test_one_problem_is_not_problems(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    code, _, err = run(capsys, "validate", "unknown_iface_field.yaml")
    assert code == EXIT_ERROR
    assert err.splitlines()[-1] == "1 problem found; nothing was changed."


def test_validate_long_error_line_is_not_wrapped(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    code, _, err = run(capsys, "validate", "unknown_kind_option.yaml")
    assert code == EXIT_ERROR
    first = err.splitlines()[0]
    assert first.startswith("error: unknown_kind_option.yaml:5:5: ")
    assert first.endswith("vlan_stats_per_port, vlans)")


def test_validate_json(capsys: pytest.CaptureFixture[str], lab: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(capsys, "validate", "--json", str(lab))
    assert code == EXIT_OK
    assert json.loads(out) == {"valid": True, "topology": "clilab", "interfaces": 2,
                               "namespaces": 2, "routes": 1}
    monkeypatch.chdir(GOLDEN)
    code, out, _ = run(capsys, "validate", "--json", "several_errors.yaml")
    assert code == EXIT_ERROR
    data = json.loads(out)
    assert data["error"] == "invalid topology"
    first = data["issues"][0]
    assert first["file"] == "several_errors.yaml" and first["line"] == 6 and first["col"] == 10
    assert first["field"] == "interfaces[0].mtu" and first["hint"]


def test_validate_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "validate", str(tmp_path / "nope.yaml"))
    assert code == EXIT_ERROR
    assert "nope.yaml:1:1: cannot read the file" in err


# ---- schema and kinds --------------------------------------------------------------------------

def test_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == EXIT_OK
    assert json.loads(out)["title"] == "vnet topology"


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """No root needed: the probe answers from a table; the cache lives in tmp_path."""
    calls: list[list[str]] = []

    def fake_probe(names: list[str], specimens: object = None
                   ) -> dict[str, tuple[bool | None, str]]:
        calls.append(list(names))
        return {n: (True, "") if n in ("bridge", "veth") else (False, "the kernel lacks it")
                for n in names}
    monkeypatch.setattr(kind_probe, "probe_kinds", fake_probe)
    monkeypatch.setattr(kinds_probe, "STATE_DIR", str(tmp_path))
    monkeypatch.setattr(errors, "missing_capabilities", lambda: [])  # as root, if not
    return calls


def test_kinds_json_lists_every_registered_kind(capsys: pytest.CaptureFixture[str],
                                                 probe: list[list[str]]) -> None:
    code, out, _ = run(capsys, "kinds", "--json")
    assert code == EXIT_OK
    rows = json.loads(out)
    assert [r["name"] for r in rows] == [cls.kind_name for cls in kinds.ordered()]
    assert set(PROMISED) <= {r["name"] for r in rows}
    for row in rows:
        assert {"name", "implemented", "available", "reason", "use_when"} <= set(row)
        assert row["implemented"] == (row["name"] in kinds.registry())
        assert row["available"] == (row["name"] in ("bridge", "veth"))
        assert row["use_when"]
    assert probe  # probed once...
    run(capsys, "kinds", "--json")
    assert len(probe) == 1  # ...then read from the per-boot cache
    run(capsys, "kinds", "--json", "--refresh")
    assert len(probe) == 2


def test_kinds_table(capsys: pytest.CaptureFixture[str], probe: list[list[str]]) -> None:
    code, out, _ = run(capsys, "kinds")
    assert code == EXIT_OK
    for cls in kinds.ordered():
        assert cls.kind_name in out


# ---- plan / apply / show / destroy on the fake kernel ----------------------------------------

def test_plan_exit_codes_follow_changes(capsys: pytest.CaptureFixture[str], lab: Path,
                                        fake: FakeKernel) -> None:
    code, out, _ = run(capsys, "plan", str(lab))
    assert code == EXIT_CHANGES
    assert "+ create  namespace a" in out
    assert "Plan for clilab:" in out
    assert fake.list_netns() == set()  # planning changed nothing

    code, out, _ = run(capsys, "plan", "--json", str(lab))
    assert code == EXIT_CHANGES
    data = json.loads(out)
    assert data["changes"] is True and data["summary"]["create"] == len(data["actions"])

    code, out, _ = run(capsys, "apply", str(lab))
    assert code == EXIT_OK
    assert fake.list_netns() == {"a", "b"}

    code, out, _ = run(capsys, "plan", str(lab))
    assert code == EXIT_OK
    assert "no changes" in out
    code, out, _ = run(capsys, "plan", "--json", str(lab))
    assert code == EXIT_OK and json.loads(out)["changes"] is False


def test_apply_show_destroy(capsys: pytest.CaptureFixture[str], lab: Path,
                            fake: FakeKernel) -> None:
    code, out, _ = run(capsys, "up", "--json", str(lab))
    assert code == EXIT_OK and json.loads(out)["applied"] is True

    code, out, _ = run(capsys, "show", "--json", "clilab")
    assert code == EXIT_OK
    names = {(r["netns"], r["name"]) for r in json.loads(out)["interfaces"]}
    assert {("a", "va"), ("b", "vb")} <= names

    code, out, _ = run(capsys, "show", str(lab))
    assert code == EXIT_OK and "va" in out

    code, out, _ = run(capsys, "destroy", "clilab")
    assert code == EXIT_OK
    assert fake.list_netns() == set()
    code, out, _ = run(capsys, "down", str(lab))
    assert code == EXIT_OK and "nothing to destroy" in out


def test_conflict_is_an_error_naming_the_object(capsys: pytest.CaptureFixture[str], lab: Path,
                                                fake: FakeKernel) -> None:
    fake.add_netns("a")  # made by hand, not vnet's
    code, out, err = run(capsys, "apply", str(lab))
    assert code == EXIT_ERROR
    assert "conflict" in err and "namespace a" in err
    assert fake.list_netns() == {"a"}


def test_apply_failure_reports_the_action_and_errno(capsys: pytest.CaptureFixture[str],
                                                    lab: Path, fake: FakeKernel) -> None:
    fake.fail_on = lambda req: errno.ENOMEM if req.op == "route.add" else None
    code, out, err = run(capsys, "apply", str(lab))
    assert code == EXIT_ERROR
    assert "apply failed" in err and "route 198.51.100.0/24" in err
    assert "Cannot allocate memory" in err
    assert fake.list_netns() == set()

    code, out, _ = run(capsys, "apply", "--json", str(lab))
    assert code == EXIT_ERROR
    data: dict[str, Any] = json.loads(out)
    assert data["error"] == "apply failed" and data["errno"] == errno.ENOMEM
    assert data["undo_failures"] == [] and data["undone"] > 0


def test_invalid_file_changes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      fake: FakeKernel) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ninterfaces:\n  - {name: br0, kind: brige}\n", encoding="utf-8")
    for command in ("plan", "apply"):
        code, _, err = run(capsys, command, str(bad))
        assert code == EXIT_ERROR
        assert "bad.yaml:3:" in err and "did you mean 'bridge'" in err
    assert fake.log == []


# ---- the command as a process (cli.run: main, then a quick exit) ----------------------------
def _command(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "vnet", *argv], capture_output=True, text=True,
                          env=env, timeout=60)


def test_command_exit_codes_and_complete_output_through_pipes() -> None:
    ok = _command("validate", str(ROOT / "examples" / "lab.yaml"))
    assert (ok.returncode, ok.stderr) == (EXIT_OK, "")
    assert ok.stdout.startswith(f"{ROOT / 'examples' / 'lab.yaml'}: valid")
    bad = _command("validate", str(ROOT / "no-such-file.yaml"))
    assert bad.returncode == EXIT_ERROR and "cannot read the file" in bad.stderr
    schema = _command("schema")  # large output, all of it flushed before the quick exit
    assert schema.returncode == EXIT_OK and json.loads(schema.stdout)["title"] == "vnet topology"


def test_command_whose_reader_goes_away_exits_quietly() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "vnet", "schema"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # like `vnet schema | head -c 10`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err


def test_an_unknown_option_before_the_command_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--bogus"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_no_command_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "which command?" in err and "apply" in err and "destroy" in err
