"""Hostile input: each limit of the loader (file size, values with aliases expanded, aliases,
nesting, number length) is met with one clear error that names it and how to raise it, and
any file, however built, gets its answer from `vnet validate` in under 2 s and 200 MB.

Time and memory are measured on a real `vnet validate` process: a small wrapper process
starts it and reads `getrusage(RUSAGE_CHILDREN)`, which then covers that one child only (the
pytest process's own children, mypy among them, would mix into its figures). CPU time is
held to 2 s in every case. Wall time is held to 2 s too for the refusals, stretched by the
load average per core when the machine is busier than one process per core (it is shared,
and wall time then counts other processes' work); a valid file at the limit, whose wall time
on a busy machine says more about the machine than about vnet, is held to CPU time alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

import vnet
from vnet.errors import TopologyError
from vnet.loader import Limits, load_data, load_file, load_text

SECONDS = 2.0
MEMORY_MIB = 200

#: runs vnet as its only child, under an address-space cap so a regression cannot eat the
#: machine, and prints what getrusage says of that child
_WRAPPER = """
import json, resource, subprocess, sys, time
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
start = time.perf_counter()
try:
    proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=60,
                          preexec_fn=cap)
    rc, err = proc.returncode, proc.stderr
except subprocess.TimeoutExpired as exc:
    rc, err = "timeout", str(exc)
wall = time.perf_counter() - start
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "stderr": err, "wall": wall, "cpu": use.ru_utime + use.ru_stime,
                  "rss_mib": use.ru_maxrss / 1024}))
"""


class Run(NamedTuple):
    """What one `vnet validate` process did."""

    rc: int | str  # "timeout" if it ran a minute
    stderr: str
    wall: float  # seconds
    cpu: float  # seconds, user and system
    rss_mib: float  # peak resident memory


def _validate(path: Path, **env: str) -> Run:
    """`vnet validate PATH` in a fresh process: exit code, stderr, wall and CPU seconds, peak
    resident memory in MiB."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VNET_MAX_")}
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, sys.executable, "-m", "vnet",
                           "validate", str(path)], capture_output=True, text=True,
                          env={**environ, **env}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return Run(**json.loads(proc.stdout))


def _wall_limit() -> float:
    """2 s, stretched by how many processes wait for each core (a shared machine)."""
    return SECONDS * max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def _bomb() -> str:
    """The classic: nine aliases of nine aliases..., 400 bytes that expand to 10^9 values."""
    lines = ["name: lab", "lol:", "  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"  {cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _star(spokes: int) -> str:
    """A valid file: a bridge and one veth pair per namespace."""
    lines = ["name: star", "namespaces:"] + [f"  - s{i}" for i in range(spokes)]
    lines += ["interfaces:", "  - {name: br0, kind: bridge}"]
    for i in range(spokes):
        lines.append(f"  - {{name: e{i}, kind: veth, netns: s{i}, addresses: "
                     f"[10.{i >> 8}.{i & 255}.1/16], peer: {{name: p{i}, master: br0}}}}")
    return "\n".join(lines) + "\n"


def _values(text: str) -> int:
    return sum(1 for e in yaml.parse(text, Loader=yaml.CSafeLoader)
               if isinstance(e, yaml.ScalarEvent | yaml.CollectionStartEvent))


HOSTILE = {
    # name: (file text, words the one error must hold)
    "alias_bomb": (_bomb(), "VNET_MAX_NODES"),
    "recursive_alias": ("name: lab\ninterfaces: &a [*a]\n", "repeat itself forever"),
    "lists_900_deep": ("name: lab\ninterfaces: " + "[" * 900 + "]" * 900 + "\n",
                       "VNET_MAX_DEPTH"),
    "maps_900_deep": ("name: lab\nk:\n" + "".join(" " * (i + 1) + "k:\n" for i in range(900)),
                      "VNET_MAX_DEPTH"),
    "deep_through_aliases": (
        "name: lab\na: &a " + "[" * 20 + "]" * 20 + "\nb: [[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]\n",
        "VNET_MAX_DEPTH"),
    "mtu_of_5000_digits": ("name: lab\ninterfaces:\n  - {name: br0, kind: bridge, mtu: "
                           + "9" * 5000 + "}\n", "VNET_MAX_DIGITS"),
    "many_aliases": ("name: lab\na: &a x\nb: [" + ", ".join(["*a"] * 1500) + "]\n",
                     "VNET_MAX_ALIASES"),
    "three_million_values": ("name: lab\nk: [" + "a," * 1_500_000 + "a]\n", "VNET_MAX_NODES"),
    "nul_bytes": ("name: lab\x00\x00\n", "U+0000"),
    # 4 MB of text, repeated by 900 aliases: few values, but gigabytes of error messages
    "long_text_repeated": ("name: lab\nx: &n '" + "x" * (4 * 1024 * 1024 - 40_000) + "'\n"
                           "interfaces:\n" + "  - {name: *n, kind: bridge}\n" * 900,
                           "VNET_MAX_FILE_BYTES"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_gets_one_clear_error_fast_and_small(case: str, tmp_path: Path) -> None:
    text, words = HOSTILE[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    got = _validate(path)
    assert got.rc == 1, got
    err = got.stderr
    assert "Traceback" not in err and words in err, err
    assert "1 problem found" in err, err
    assert got.wall < _wall_limit() and got.cpu < SECONDS, got
    assert got.rss_mib < MEMORY_MIB, got


def test_forty_thousand_mistakes_are_all_reported_fast_and_small(tmp_path: Path) -> None:
    """A key repeated 40,000 times: each repetition is reported (finding their paths once
    took a walk of the file each, and printing them a second per thousand)."""
    path = tmp_path / "repeated.yaml"
    path.write_text("name: lab\n" + "a: 1\n" * 40_000, encoding="utf-8")
    got = _validate(path)
    assert got.rc == 1 and "40000 problems found" in got.stderr, got.stderr[-500:]
    assert got.stderr.count("appears twice in the same mapping") == 39_999
    assert got.wall < _wall_limit() and got.cpu < SECONDS, got[2:]
    assert got.rss_mib < MEMORY_MIB, got[2:]


def test_a_50_mb_file_is_refused_by_its_size_fast_and_small(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    line = b"  - {name: br0, kind: bridge}\n"
    with path.open("wb") as f:
        f.write(b"name: lab\ninterfaces:\n")
        f.write(line * (50 * 1024 * 1024 // len(line)))
    got = _validate(path)
    err = got.stderr
    assert got.rc == 1 and "VNET_MAX_FILE_BYTES" in err and "Traceback" not in err, got
    assert got.wall < _wall_limit() and got.cpu < SECONDS, got
    assert got.rss_mib < MEMORY_MIB, got


def test_a_file_just_under_the_byte_limit_is_answered_fast_and_small(tmp_path: Path) -> None:
    """4 MiB of one text value: read whole, and its error quotes only the start of it."""
    path = tmp_path / "long.yaml"
    path.write_text("name: " + "x" * (Limits().file_bytes - 100) + "\n", encoding="utf-8")
    got = _validate(path)
    err = got.stderr
    assert got.rc == 1 and "name" in err and "Traceback" not in err, got
    assert len(err) < 2000, "an error quotes a shortened value"
    assert got.cpu < SECONDS and got.rss_mib < MEMORY_MIB, got


def test_a_valid_file_at_the_value_limit_loads_under_2_s_cpu_and_200_mb(tmp_path: Path) -> None:
    spokes = 5_800
    text = _star(spokes)
    values = _values(text)
    assert 0.9 * Limits().nodes < values <= Limits().nodes, values  # truly at the limit
    path = tmp_path / "star.yaml"
    path.write_text(text, encoding="utf-8")
    got = _validate(path)
    assert got.rc == 0, got
    assert got.cpu < SECONDS and got.rss_mib < MEMORY_MIB, got
    # one value more than the limit: refused, and let through by raising it
    bigger = tmp_path / "bigger.yaml"
    bigger.write_text(text + "".join(f"  - {{name: x{i}, kind: bridge}}\n"
                                     for i in range(Limits().nodes - values)), "utf-8")
    assert "VNET_MAX_NODES" in str(_validate(bigger).stderr)


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_path_that_is_no_regular_file_is_refused_without_waiting(kind: str,
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "topo.yaml"
    if kind == "fifo":
        os.mkfifo(path)  # nobody writes to it: reading it would wait forever
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path("/dev/zero")  # reading it never ends
    got = _validate(path)
    err = got.stderr
    assert got.rc == 1 and "Traceback" not in err, got
    assert ("directory" if kind == "directory" else "not a regular file") in err, err
    assert got.wall < _wall_limit() and got.cpu < SECONDS, got


# ---- in-process: the words of each refusal, and how each limit is raised -------------------

def _one_issue(text: str, limits: Limits | None = None) -> str:
    with pytest.raises(TopologyError) as info:
        load_text(text, "t.yaml", limits)
    assert len(info.value.issues) == 1, info.value.issues
    return str(info.value.issues[0])


DEEP_40 = "name: lab\nk: " + "[" * 40 + "]" * 40 + "\n"


def test_each_limit_names_its_variable_and_a_raised_value() -> None:
    assert "VNET_MAX_DEPTH=64" in _one_issue(DEEP_40)
    assert "at most 200" in _one_issue(DEEP_40)
    assert "VNET_MAX_ALIASES=2000" in _one_issue(HOSTILE["many_aliases"][0])
    assert "VNET_MAX_DIGITS=200" in _one_issue(HOSTILE["mtu_of_5000_digits"][0])
    assert "VNET_MAX_NODES=200000" in _one_issue(_bomb())
    message = _one_issue("name: lab\n", Limits(file_bytes=5))
    assert "at most 5 bytes" in message and "VNET_MAX_FILE_BYTES=10" in message


def test_an_issue_points_at_the_place_the_limit_was_passed() -> None:
    with pytest.raises(TopologyError) as info:
        load_text(DEEP_40, "t.yaml")
    where = info.value.issues[0].where
    # the file's mapping is the first level: the 32nd '[' is the 33rd
    assert (where.line, where.col) == (2, 4 + 31)  # type: ignore[union-attr]


def test_the_environment_raises_a_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VNET_MAX_DEPTH", "64")
    # past the depth check, the file is judged for what it says
    assert "unknown field 'k'" in _one_issue(DEEP_40)
    monkeypatch.setenv("VNET_MAX_DEPTH", "8")
    assert "more than 8 levels" in _one_issue("name: lab\nk: " + "[" * 9 + "]" * 9 + "\n")


def test_the_python_api_takes_limits() -> None:
    assert "unknown field 'k'" in _one_issue(DEEP_40, Limits(depth=64))
    assert "more than 3 aliases" in _one_issue("name: lab\na: &a x\nb: [*a, *a, *a, *a]\n",
                                                Limits(aliases=3))


@pytest.mark.parametrize("value", ["abc", "0", "-1", "201", "1e3"])
def test_a_bad_limit_in_the_environment_is_one_clear_error(
        value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VNET_MAX_DEPTH", value)
    message = _one_issue("name: lab\n")
    assert "VNET_MAX_DEPTH" in message and "from 1 to 200" in message


def test_underscores_in_a_limit_are_read_as_python_reads_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VNET_MAX_NODES", "250_000")
    assert Limits.from_environ().nodes == 250_000


def test_an_alias_repeats_its_height_into_the_depth() -> None:
    # 10 levels, repeated 25 levels down: 35 levels deep once expanded
    text = ("name: lab\na: &a " + "[" * 10 + "]" * 10 + "\nb: " + "[" * 24 + "*a"
            + "]" * 24 + "\n")
    assert "VNET_MAX_DEPTH" in _one_issue(text)
    assert "VNET_MAX_DEPTH" not in str(_issues_or_none(text, Limits(depth=35)))


def _issues_or_none(text: str, limits: Limits) -> object:
    try:
        load_text(text, "t.yaml", limits)
    except TopologyError as exc:
        return exc
    return None


@pytest.mark.parametrize("text", [
    "name: lab\na: &a [1, 2]\nb: &a x\nc: *a\n",
    "name: lab\na: &a [&a x, *a]\n",  # not a loop: the inner &a is the one *a would name
])
def test_an_anchor_defined_twice_is_one_clear_error(text: str) -> None:
    # YAML lets a later anchor replace an earlier one; PyYAML refuses it, and vnet says why
    assert "anchor &a is defined twice in the file (first at line 2" in _one_issue(text)


@pytest.mark.parametrize(("text", "words"), [
    ("", "the file is empty"),
    ("# only a comment\n", "the file is empty"),
    ("- a\n- b\n", "must be a mapping"),
    ("just text\n", "must be a mapping"),
    ("42\n", "must be a mapping"),
    ("name: lab\n? [a, b]\n: 1\n", "a key must be a plain word"),
    ("name: lab\nnamespaces: [!!int x]\n", "is not a valid !!int"),
    ("name: lab\nnamespaces: [!!bool x]\n", "is not a valid !!bool"),
    ("name: lab\nnamespaces: [!!float x]\n", "is not a valid !!float"),
    ("name: lab\nnamespaces: [!!timestamp x]\n", "is not a valid !!timestamp"),
    ("name: lab\x01\n", "U+0001"),
    ("name: lab\n---\nname: lab2\n", "expected a single document in the stream, but found"),
])
def test_odd_files_get_one_clear_error(text: str, words: str) -> None:
    assert words in _one_issue(text)


def test_a_key_made_of_an_alias_bomb_costs_nothing() -> None:
    # a complex key was once turned into text by repr(), which walks every alias again
    text = _bomb().replace("lol:\n", "? &k [lol]\n: 1\nlol:\n") + "? *i\n: 2\n"
    assert "VNET_MAX_NODES" in _one_issue(text)
    text = "name: lab\nx: &x [a, b]\n? *x\n: 1\n"
    with pytest.raises(TopologyError, match="a key must be a plain word"):
        load_text(text, "t.yaml")


def test_the_file_reader_reports_non_utf8_bytes_where_they_are(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: lab\nnamespaces: [caf\xe9]\n")
    with pytest.raises(TopologyError) as info:
        load_file(path)
    issue = info.value.issues[0]
    assert "0xe9" in issue.message and str(issue.where).endswith(":2:17"), issue


def test_load_file_reads_at_most_the_byte_limit(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("name: lab\n" + "# padding\n" * 100, encoding="utf-8")
    with pytest.raises(TopologyError) as info:
        load_file(path, Limits(file_bytes=500))
    assert "VNET_MAX_FILE_BYTES" in str(info.value)
    assert load_file(path, Limits(file_bytes=2000)).name == "lab"


def test_data_built_by_a_program_is_not_held_to_the_file_limits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # vnet capture loads what it read from the kernel this way: a large live topology must
    # not be refused as if it were a hostile file
    data = {"name": "lab", "interfaces": [{"name": f"b{i}", "kind": "bridge"}
                                          for i in range(60)]}
    monkeypatch.setenv("VNET_MAX_NODES", "50")
    assert len(load_data(data).interfaces) == 60
    with pytest.raises(TopologyError, match="VNET_MAX_NODES"):
        vnet.load_text(yaml.safe_dump(data))  # the same as a file: refused


def test_a_terminal_shows_the_first_thousand_mistakes_and_counts_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vnet.cli import main
    path = tmp_path / "repeated.yaml"
    path.write_text("name: lab\n" + "a: 1\n" * 1_500, encoding="utf-8")
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: stderr is a terminal
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("appears twice") == 999  # and the unknown field 'a'
    assert "... and 500 more (`vnet validate --json FILE` lists every one)" in err
    assert "1500 problems found" in err


_LONG = "x" * (4 * 1024 * 1024 - 200)  # one text value as long as the file limit allows


@pytest.mark.parametrize(("field", "text"), [
    ("kind", f"name: lab\ninterfaces:\n  - {{name: b0, kind: '{_LONG}'}}\n"),
    ("name", f"name: lab\ninterfaces:\n  - {{name: '{_LONG}', kind: bridge}}\n"),
    ("address", f"name: lab\ninterfaces:\n  - {{name: b0, kind: bridge, addresses: "
                f"['{_LONG}']}}\n"),
    ("mac", f"name: lab\ninterfaces:\n  - {{name: b0, kind: bridge, mac: '{_LONG}'}}\n"),
    ("namespace", f"name: lab\nnamespaces: ['{_LONG}']\n"),
    ("key", f"name: lab\ninterfaces:\n  - name: b0\n    kind: bridge\n    '{_LONG}': 1\n"),
    ("route", f"name: lab\nroutes:\n  - {{to: '{_LONG}', via: 192.0.2.1}}\n"),
], ids=lambda value: value if len(value) < 20 else "text")
def test_a_value_of_megabytes_is_answered_fast_and_small(field: str, text: str,
                                                         tmp_path: Path) -> None:
    """A 4 MB kind once cost 214 MB in difflib; names, addresses and MACs are quoted short."""
    path = tmp_path / f"long_{field}.yaml"
    path.write_text(text, encoding="utf-8")
    got = _validate(path)
    assert got.rc == 1 and "Traceback" not in got.stderr[:5000], got.stderr[:500]
    assert got.cpu < SECONDS and got.rss_mib < MEMORY_MIB, got[2:]
    if field in ("kind", "name", "address", "mac", "namespace", "key"):
        assert len(got.stderr) < 2000, got.stderr[:500]
