"""Loader errors, golden style: tests/golden/errors/<case>.yaml beside <case>.expected holding the
exact lines the user sees (`file:line:col: field: message (fix: hint)`), so a reviewer reads
behaviour without running anything. Regenerate after a deliberate wording change with
VNET_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

import vnet
from vnet import kinds
from vnet.errors import Position, TopologyError

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "errors"
CASES = sorted(p.stem for p in GOLDEN.glob("*.yaml"))


def _issues_of(path: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        vnet.load_file(path)
    return [str(issue) for issue in info.value.issues]


def test_there_are_enough_golden_cases() -> None:
    assert len(CASES) >= 24
    missing = [c for c in CASES if not (GOLDEN / f"{c}.expected").exists()]
    assert not missing, f"cases without .expected: {missing}"


def _stable_registry(monkeypatch: pytest.MonkeyPatch) -> str:
    """The list of kinds in a message is written {IMPLEMENTED} in .expected, so the cases
    stay as they are when a kind is added."""
    return ", ".join(sorted(kinds.registry()))


@pytest.mark.parametrize("case", CASES)
def test_golden_error(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # load by a relative path so the expected lines do not depend on where the repo lives
    monkeypatch.chdir(GOLDEN)
    implemented = _stable_registry(monkeypatch)
    got = _issues_of(f"{case}.yaml")
    expected_file = GOLDEN / f"{case}.expected"
    if os.environ.get("VNET_UPDATE_GOLDEN"):
        text = "\n".join(got).replace(implemented, "{IMPLEMENTED}")
        expected_file.write_text(text + "\n", encoding="utf-8")
    expected = expected_file.read_text(encoding="utf-8").replace("{IMPLEMENTED}", implemented)
    assert got == expected.splitlines()


@pytest.mark.parametrize("case", CASES)
def test_every_issue_names_file_line_col(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    with pytest.raises(TopologyError) as info:
        vnet.load_file(f"{case}.yaml")
    for issue in info.value.issues:
        assert isinstance(issue.where, Position), issue
        assert issue.where.file == f"{case}.yaml"
        assert issue.where.line >= 1 and issue.where.col >= 1


def test_several_errors_reported_in_one_run_in_file_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    with pytest.raises(TopologyError) as info:
        vnet.load_file("several_errors.yaml")
    issues = info.value.issues
    assert len(issues) >= 4
    positions = [(i.where.line, i.where.col) for i in issues if isinstance(i.where, Position)]
    assert positions == sorted(positions)
    fields = [i.field for i in issues]
    # schema errors (mtu, name) and cross-object errors (netns, master, route) come together
    assert "interfaces[0].mtu" in fields
    assert "interfaces[1].netns" in fields
    assert "interfaces[1].peer.master" in fields
    assert "interfaces[2].name" in fields
    assert "routes[0].to" in fields


def test_the_message_of_topology_error_is_its_issue_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    with pytest.raises(TopologyError) as info:
        vnet.load_file("several_errors.yaml")
    assert str(info.value).splitlines() == [str(i) for i in info.value.issues]


def test_missing_file_is_a_topology_error(tmp_path: Path) -> None:
    lines = _issues_of(str(tmp_path / "nope.yaml"))
    assert len(lines) == 1 and "cannot read the file" in lines[0]


def test_non_utf8_file_is_a_topology_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    assert "not UTF-8" in _issues_of(str(path))[0]


# ---- no traceback, ever: mutated files raise only TopologyError ---------------------------

RICH = """\
name: fuzz-lab
namespaces: [red, blue]
interfaces:
  - name: br0
    kind: bridge
    stp_state: true
    forward_delay: 400
    mtu: 1500
    addresses: [192.0.2.1/24, 2001:db8::1/64]
  - name: veth-r
    kind: veth
    netns: red
    mac: 02:00:00:00:00:01
    addresses: [192.0.2.11/24]
    peer: {name: veth-r-br, master: br0}
  - name: veth-b
    kind: veth
    netns: blue
    addresses: [192.0.2.12/24]
    peer:
      name: veth-b-br
      master: br0
      state: up
  - name: eth9
    external: true
    master: br0
routes:
  - {netns: red, to: default, via: 192.0.2.1}
  - {netns: blue, to: 198.51.100.0/24, via: 192.0.2.1, metric: 10}
"""

JUNK = ["{", "}", "[", "]", ":", "- ", "'", '"', "&a", "*a", "!!binary", "\t", "%", "@",
        "?", "|", "null", "~", "0x", "1e9", "- - -", ": :", "\\", "#", "!!python/object:os"]


def _seeds() -> list[str]:
    seeds = [RICH]
    seeds += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.yaml"))]
    return seeds


def _mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    how = rng.randrange(6)
    i = rng.randrange(len(lines))
    if how == 0:  # delete a line
        del lines[i]
    elif how == 1:  # swap the values of two lines
        j = rng.randrange(len(lines))
        a, _, va = lines[i].partition(": ")
        b, _, vb = lines[j].partition(": ")
        if va and vb:
            lines[i], lines[j] = f"{a}: {vb}", f"{b}: {va}"
        else:
            lines[i], lines[j] = lines[j], lines[i]
    elif how == 2:  # insert junk inside a line
        pos = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:pos] + rng.choice(JUNK) + lines[i][pos:]
    elif how == 3:  # duplicate a line
        lines.insert(i, lines[i])
    elif how == 4:  # break the indentation
        lines[i] = " " * rng.randrange(1, 5) + lines[i]
    else:  # truncate the file
        lines = lines[:i]
    return "\n".join(lines) + "\n"


def _mutants(count: int) -> list[tuple[int, str]]:
    rng = random.Random(20240611)  # fixed: a failure reproduces
    seeds = _seeds()
    out = []
    for n in range(count):
        text = rng.choice(seeds)
        for _ in range(rng.randrange(1, 4)):
            text = _mutate(text, rng)
        out.append((n, text))
    return out


MUTANTS = _mutants(80)


@pytest.mark.parametrize(("n", "text"), MUTANTS, ids=[f"mutant{n}" for n, _ in MUTANTS])
def test_mutated_files_raise_only_topology_errors(n: int, text: str) -> None:
    try:
        vnet.load_text(text, f"mutant{n}.yaml")
    except TopologyError as exc:
        assert exc.issues, "a TopologyError must carry at least one issue"
        for issue in exc.issues:
            assert str(issue)
    # any other exception escapes and fails the test: that is a traceback a user would see


@pytest.mark.parametrize("text", [
    "name: lab\nnamespaces: ns1\n",
    "name: [lab]\n",
    "name: 12\n",
    "name: lab\ninterfaces: [[1, 2]]\n",
    "name: lab\ninterfaces:\n  - {name: [a], kind: bridge}\n",
    "name: lab\ninterfaces:\n  - {name: br0, kind: [bridge]}\n",
    "name: lab\ninterfaces:\n  - {name: br0, kind: {a: 1}}\n",
    "name: lab\ninterfaces:\n  - {name: br0, kind: bridge, netns: 5}\n",
    "name: lab\ninterfaces:\n  - {name: v0, kind: veth, peer: v1}\n",
    "name: lab\ninterfaces:\n  - {name: v0, kind: veth, peer: [v1]}\n",
    "name: lab\ninterfaces:\n  - {name: e0, external: true, kind: 5}\n",
    "name: lab\ninterfaces:\n  - {name: e0, external: 'true'}\n",
    "name: lab\nroutes: {to: default}\n",
    "name: lab\nroutes: [default]\n",
    "name: lab\nroutes:\n  - {to: default, via: 1, dev: 2}\n",
    "name: lab\nroutes:\n  - {to: [1], via: 192.0.2.1}\n",
    "name: lab\n? [a, b]\n: 1\n",
    "name: lab\n{a: 1}: 2\n",
    "name: &a lab\nnamespaces: [*a, *a]\n",
    "name: lab\nnamespaces: [!!python/object:os.system x]\n",
    "name: lab\ninterfaces:\n  - {name: br0, kind: bridge, mtu: 1e3}\n",
    "name: lab\ninterfaces:\n  - {name: br0, kind: bridge, mtu: .inf}\n",
    "name: lab\ninterfaces:\n  - {name: br0, kind: bridge, addresses: [null]}\n",
    "name: lab\ninterfaces:\n  - {name: br0, kind: bridge, vlan_protocol: 5}\n",
    "name: lab\ninterfaces:\n  - null\n",
    "--- \nname: a\n--- \nname: b\n",
    "\x00",
    "name: lab\ninterfaces:\n  - {name: br0, kind: bridge, 1: 2}\n",
    "name: lab\ninterfaces:\n  - {name: br0, kind: bridge, null: 2}\n",
])
def test_odd_inputs_raise_only_topology_errors(text: str) -> None:
    with pytest.raises(TopologyError) as info:
        vnet.load_text(text, "odd.yaml")
    assert info.value.issues


def test_binary_scalar_does_not_crash() -> None:
    # !!binary decodes to bytes; whether that makes a name is pydantic's call, a crash is not ok
    try:
        vnet.load_text("name: lab\nnamespaces: [!!binary aGVsbG8=]\n", "bin.yaml")
    except TopologyError:
        pass


def test_positions_are_found_on_demand_and_can_still_be_listed() -> None:
    topo = vnet.load_text("name: t\ninterfaces:\n  - name: a0\n    kind: veth\n"
                          "    peer: {name: a1, mtu: 1400}\n", "p.yaml")
    assert topo.where("interfaces[0].peer.mtu") == Position("p.yaml", 5, 27)
    assert topo.positions["interfaces[0].kind#key"] == Position("p.yaml", 4, 5)
    assert topo.where("interfaces[0].peer.nosuch") == Position("p.yaml", 5, 11)
    assert topo.where("interfaces[7]") == Position("p.yaml", 3, 3)  # the list itself
    listed = dict(topo.positions)
    assert listed["interfaces[0].peer.name"] == Position("p.yaml", 5, 18)
    assert len(listed) == len(topo.positions) and all(p in topo.positions for p in listed)
