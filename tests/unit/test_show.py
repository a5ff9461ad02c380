"""`vnet show` and `vnet list` on the in-memory kernel: the text in a terminal (fixed widths) and
in a pipe as golden files (tests/golden/show/), the filters, the summary of every topology, the
source file kept in the record, and the exit codes and suggestions for a name nothing is live of.

The goldens are rendered from tests/golden/show/showlab.yaml applied to a FakeKernel; to
refresh them after a deliberate change, run with VNET_UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from vnet import api, cli, store
from vnet.cli import EXIT_ERROR, EXIT_OK, main
from vnet.door.fake import FakeKernel
from vnet.render.show_text import list_lines, topology_lines

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "show"
SHOWLAB = GOLDEN / "showlab.yaml"
#: the file the goldens name, wherever the checkout is
SHOWN_FILE = "/srv/labs/showlab.yaml"

OTHER = """\
name: other
namespaces: [o1]
interfaces:
  - {name: d0, kind: dummy, netns: o1, addresses: [198.51.100.77/32]}
"""


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeKernel:
    """The kernel every command of these tests talks to; eth9 is a host NIC (external)."""
    kernel = FakeKernel()
    kernel.add_link(None, "eth9", None, up=True)
    monkeypatch.setattr(api, "open_kernel", lambda: kernel)
    return kernel


@pytest.fixture
def live(fake: FakeKernel) -> FakeKernel:
    """showlab applied from its file, `other` from text; some packets counted on h1/eth0."""
    api.apply(api.load_file(SHOWLAB), backend=fake)
    api.apply(api.load_text(OTHER, "other.yaml"), backend=fake)
    eth0 = fake.namespaces["h1"].links["eth0"]
    eth0.rx_packets, eth0.tx_packets, eth0.rx_bytes, eth0.tx_bytes = 1234, 567, 1_480_000, 61_000
    return fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _shown(fake: FakeKernel, counters: bool = False) -> api.Shown:
    shown = api.show_topology("showlab", backend=fake, counters=counters,
                              checks_of=api.load_file(SHOWLAB))
    assert shown is not None
    assert shown.file == str(SHOWLAB)  # applied from the file: its absolute path
    shown.file = SHOWN_FILE
    return shown


def _golden(name: str, lines: list[str]) -> str:
    text = "\n".join(lines) + "\n"
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("VNET_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs"
    return text


# ---- goldens ------------------------------------------------------------------------------------

@pytest.mark.parametrize("width", [80, 120])
def test_terminal_golden(live: FakeKernel, width: int) -> None:
    text = _golden(f"terminal_{width}", topology_lines(_shown(live).filtered(loopbacks=False),
                                                       width))
    assert all(len(line) <= width for line in text.splitlines())
    assert "\t" not in text and "…" not in text and "│" not in text


def test_terminal_golden_with_stats_and_loopbacks(live: FakeKernel) -> None:
    _golden("terminal_100_stats_all", topology_lines(_shown(live, counters=True).filtered(),
                                                     100, stats=True))


def test_pipe_golden(live: FakeKernel) -> None:
    text = _golden("pipe", topology_lines(_shown(live).filtered(loopbacks=False), None))
    _assert_tab_separated(text)


def test_pipe_golden_with_stats(live: FakeKernel) -> None:
    text = _golden("pipe_stats", topology_lines(_shown(live, counters=True)
                                                .filtered(loopbacks=False), None, stats=True))
    _assert_tab_separated(text)
    assert "\t1234\t567\t1480000\t61000" in text


def test_list_goldens(live: FakeKernel) -> None:
    summaries = api.live_topologies(live)
    assert [t.file for t in summaries] == [None, str(SHOWLAB)]  # `other` came from text
    summaries[1].file = SHOWN_FILE
    _golden("list_terminal_80", list_lines(summaries, 80))
    _assert_tab_separated(_golden("list_pipe", list_lines(summaries, None)))


def _assert_tab_separated(text: str) -> None:
    """Sections of a header and rows, separated by one empty line; each row has its header's
    number of cells, none empty, none with a space (a check's label, the last cell, aside)."""
    for section in text.rstrip("\n").split("\n\n"):
        header, *rows = section.split("\n")
        width = header.count("\t") + 1
        assert header == header.lower() and " " not in header
        for row in rows:
            cells = row.split("\t")
            assert len(cells) == width, row
            assert all(cells) and not any(" " in c for c in cells[:-1]), row


# ---- addresses are never cut ----------------------------------------------------------------

def test_addresses_are_never_cut_at_any_width(live: FakeKernel) -> None:
    shown = _shown(live).filtered(loopbacks=False)
    addresses = {a for r in shown.interfaces for a in r.addresses}
    assert "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1/64" in addresses
    for width in range(30, 161, 7):
        lines = topology_lines(shown, width)
        words = {w.rstrip(",") for line in lines for w in line.split()}
        assert addresses <= words, (width, addresses - words)
        # wrapped or not, a line is never wider than the terminal when its items fit it
        if width >= 64:
            assert all(len(line) <= width for line in lines), width


def test_addresses_wrap_under_their_column_when_they_fit_beside() -> None:
    row = api.Row("h1", "eth0", "veth", "up", None, [f"10.0.{i}.1/24" for i in range(6)],
                  1500, None, 0, 0, 0, 0)
    shown = api.Shown("t", None, ["h1"], [row], [])
    lines = topology_lines(shown, 72)
    table = lines[lines.index("") + 1:]
    start = table[0].index("ADDRESSES")
    assert table[1].endswith("10.0.0.1/24, 10.0.1.1/24,")
    assert [line[start:] for line in table[2:]] == ["10.0.2.1/24, 10.0.3.1/24,",
                                                    "10.0.4.1/24, 10.0.5.1/24"]
    assert all(not line[:start].strip() for line in table[2:])


def test_rendering_is_linear_plain_text() -> None:
    """3,000 veth pairs' worth of rows, rendered both ways (the benchmark times it; here only
    that every row is there, one line each)."""
    rows = [api.Row(f"n{i % 100}", f"veth{i}", "veth", "up", None,
                    [f"10.{i // 250}.{i % 250}.1/30"], 1500, None, 0, 0, 0, 0)
            for i in range(6000)]
    shown = api.Shown("big", None, [f"n{i}" for i in range(100)], rows, [])
    assert len(topology_lines(shown, 120)) == 6000 + 4
    assert len(topology_lines(shown, None)) == 6000 + 1


# ---- the command: filters, list, JSON --------------------------------------------------------

def _cells(out: str) -> list[list[str]]:
    """The first section of tab-separated output, header left out."""
    return [line.split("\t") for line in out.split("\n\n")[0].splitlines()[1:]]


def test_show_in_a_pipe_is_tab_separated_without_loopbacks(live: FakeKernel,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    for target in ("showlab", str(SHOWLAB)):
        code, out, err = run(capsys, "show", target)
        assert code == EXIT_OK and err == ""
        assert out.splitlines()[0] == "netns\tinterface\tkind\tstate\tmaster\tmtu\taddresses\towned"
        rows = _cells(out)
        assert ["-", "eth9", "-", "up", "-", "1500", "203.0.113.9/24", "no"] in rows
        assert not any(r[2] == "loopback" for r in rows)
        assert "netns\tto\tvia\tdev\tmetric\ttable" in out.splitlines()
    assert "from\tprobe\tto\texpected\tcheck" in out  # a FILE: its checks
    code, out, _ = run(capsys, "show", "showlab")
    assert "from\tprobe" not in out  # a NAME: no file read, no checks


def test_filters(live: FakeKernel, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", str(SHOWLAB), "--netns", "h1")
    assert code == EXIT_OK
    assert [(r[0], r[1]) for r in _cells(out)] == [("h1", "eth0")]
    routes = out.split("\n\n")[1].splitlines()[1:]
    assert routes and all(r.startswith("h1\t") for r in routes)
    checks = out.split("\n\n")[2].splitlines()[1:]
    assert len(checks) == 2 and all(c.startswith("h1\t") for c in checks)

    code, out, _ = run(capsys, "show", "showlab", "--netns", "-", "--netns", "h2")
    assert {(r[0], r[1]) for r in _cells(out)} == {("-", "dummy0"), ("-", "eth9"), ("h2", "eth0")}

    code, out, _ = run(capsys, "show", "showlab", "--kind", "bridge", "--kind", "dummy")
    assert [(r[1], r[2]) for r in _cells(out)] == [("dummy0", "dummy"), ("br0", "bridge")]
    assert "\n\n" not in out  # a kind filter leaves routes out

    code, out, _ = run(capsys, "show", "showlab", "--all", "--kind", "loopback")
    assert [r[0] for r in _cells(out)] == ["h1", "h2", "h10", "sw"]


def test_an_unknown_namespace_filter_is_an_error_with_a_suggestion(
        live: FakeKernel, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", "showlab", "--netns", "h11")
    assert code == EXIT_ERROR and out == ""
    assert "showlab has no namespace 'h11'" in err and "did you mean 'h1'?" in err
    code, _, err = run(capsys, "show", "--netns", "h1")
    assert code == EXIT_ERROR and "filter one topology" in err


def test_show_json_keeps_its_structure(live: FakeKernel,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "--json", str(SHOWLAB))
    assert code == EXIT_OK
    data = json.loads(out)
    assert set(data) == {"topology", "file", "namespaces", "interfaces", "routes", "checks"}
    assert data["topology"] == "showlab" and data["file"] == str(SHOWLAB)
    assert data["namespaces"] == ["h1", "h2", "h10", "sw"]
    rows = {(r["netns"], r["name"]): r for r in data["interfaces"]}
    eth0 = rows[("h1", "eth0")]
    assert eth0["rx_packets"] == 1234 and eth0["tx_bytes"] == 61000  # counters: always in JSON
    assert eth0["addresses"][0] == "192.0.2.1/24" and eth0["mtu"] == 1400
    assert rows[(None, "eth9")]["owned"] is False
    assert {"mac", "owned", "topology", "kind", "state", "master"} <= set(eth0)
    assert {"netns": None, "to": "203.0.113.128/25", "via": "203.0.113.1", "dev": "eth9",
            "metric": 0, "table": 254, "family": 4} in data["routes"]
    assert data["checks"][2] == {"check": "h2 reaches the switch over TCP", "probe": "tcp",
                                 "from": "h2", "to": "192.0.2.254:8080", "expected": "ok"}


def test_show_in_a_terminal_fits_its_width(live: FakeKernel, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_terminal_width", lambda: 90)
    code, out, _ = run(capsys, "show", "showlab")
    assert code == EXIT_OK
    assert out.startswith("showlab: 4 namespaces, 9 interfaces (8 up, 1 down), 3 routes\n")
    assert f"file: {SHOWLAB}" in out and "\t" not in out
    assert all(len(line) <= 90 for line in out.splitlines())
    code, out, _ = run(capsys, "list")
    assert out.split()[:7] == ["NAME", "NAMESPACES", "INTERFACES", "UP", "DOWN", "ROUTES",
                               "FILE"]
    assert str(SHOWLAB) in out.split()  # beside the counts, or below them: never cut


def test_list_and_show_without_a_name(live: FakeKernel,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list")
    assert code == EXIT_OK
    assert out.splitlines() == [
        "name\tnamespaces\tinterfaces\tup\tdown\troutes\tfile",
        "other\t1\t1\t1\t0\t0\t-",
        f"showlab\t4\t8\t7\t1\t3\t{SHOWLAB}"]
    assert run(capsys, "show") == (EXIT_OK, out, "")
    code, out, _ = run(capsys, "list", "--json")
    topologies = json.loads(out)["topologies"]
    assert topologies[1] == {"name": "showlab", "namespaces": ["h1", "h2", "h10", "sw"],
                             "interfaces": 8, "up": 7, "down": 1, "routes": 3,
                             "file": str(SHOWLAB)}


def test_list_of_nothing(fake: FakeKernel, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(capsys, "list") == (EXIT_OK, "name\tnamespaces\tinterfaces\tup\tdown\troutes\t"
                                   "file\n", "")
    monkeypatch.setattr(cli, "_terminal_width", lambda: 80)
    assert run(capsys, "show") == (EXIT_OK, "no vnet topology is live here\n", "")
    assert json.loads(run(capsys, "list", "--json")[1]) == {"topologies": []}


def test_a_topology_with_only_changes_to_put_back_is_listed(fake: FakeKernel) -> None:
    only = "name: ext\ninterfaces:\n  - {name: eth9, external: true, mtu: 1400}\n"
    api.apply(api.load_text(only), backend=fake)
    assert [(t.name, t.interfaces) for t in api.live_topologies(fake)] == [("ext", 0)]
    shown = api.show_topology("ext", backend=fake)
    assert shown is not None and [(r.name, r.owned) for r in shown.interfaces] == [
        ("eth9", False)]


# ---- a name nothing is live of: exit 1, the live ones, the closest ---------------------------

def test_show_and_destroy_of_a_typo_exit_1_and_suggest(live: FakeKernel,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    before = live.state()
    for command in ("show", "destroy"):
        code, out, err = run(capsys, command, "showlb")
        assert code == EXIT_ERROR and out == ""
        assert "nothing named 'showlb' is live" in err
        assert "live topologies: other, showlab" in err and "did you mean 'showlab'?" in err
        code, _, err = run(capsys, command, "nosuch")
        assert code == EXIT_ERROR and "did you mean" not in err
    assert live.state() == before
    code, out, _ = run(capsys, "show", "--json", "nosuch")
    assert code == EXIT_ERROR and "nothing named 'nosuch' is live" in json.loads(out)["messages"][0]


def test_nothing_live_at_all(fake: FakeKernel, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "show", "lab")
    assert code == EXIT_ERROR
    assert "nothing named 'lab' is live; no vnet topology is live here" in err


def test_a_file_whose_topology_is_not_live(fake: FakeKernel,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "show", str(SHOWLAB))
    assert code == EXIT_ERROR
    assert f"topology 'showlab' of {SHOWLAB} is not live (`vnet apply {SHOWLAB}` builds it)" in err
    code, out, _ = run(capsys, "destroy", str(SHOWLAB))  # the file is real: nothing to do
    assert code == EXIT_OK and "nothing to destroy" in out


def test_destroy_of_a_live_topology_still_works(live: FakeKernel,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "destroy", "showlab")
    assert code == EXIT_OK
    assert live.list_netns() == {"o1"}
    assert not os.path.exists(os.path.join(store.STATE_DIR, "showlab.json"))
    code, out, _ = run(capsys, "list")
    assert [line.split("\t")[0] for line in out.splitlines()] == ["name", "other"]


# ---- the record keeps the file -------------------------------------------------------------

def test_apply_records_the_absolute_path_of_its_file(fake: FakeKernel, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "other.yaml").write_text(OTHER, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    api.apply(api.load_file("other.yaml"), backend=fake)  # relative: recorded absolute
    assert store.read_record("other").source == str(tmp_path / "other.yaml")
    api.destroy("other", backend=fake)
    assert store.recorded() == []  # a record holding only the file goes with the topology


def test_a_record_written_before_it_kept_the_file_still_reads(fake: FakeKernel) -> None:
    old: dict[str, Any] = {"externals": {"|eth9": {"mtu": 1500, "master": None, "up": True}},
                           "external_addresses": {}, "routes": [], "topology": "old"}
    with open(os.path.join(store.STATE_DIR, "old.json"), "w", encoding="utf-8") as fh:
        json.dump(old, fh)
    record = store.read_record("old")
    assert record.source is None and record.externals == old["externals"]
    assert [(t.name, t.file) for t in api.live_topologies(fake)] == [("old", None)]


def test_only_topology_records_are_listed(fake: FakeKernel) -> None:
    for name in ("kinds-" + "0" * 36 + ".json", "lock", "a.json.tmp", "lab.json"):
        Path(store.STATE_DIR, name).write_text("{}", encoding="utf-8")
    assert store.recorded() == ["lab"]
