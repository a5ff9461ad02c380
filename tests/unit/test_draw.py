"""`vnet draw`: the dot and Mermaid text of every example against golden files, each kind of
edge and look, the file-against-live marks, the choice of format and the command's errors.

The golden files are what the code draws now: after a deliberate change to the picture, make
them again with `VNET_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_draw.py` and
review the diff (the README's picture, docs/images/lab.*, is made again the same way)."""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from vnet import api
from vnet.cli import EXIT_ERROR, EXIT_OK, main
from vnet.kinds import lookup
from vnet.loader import load_file, load_text
from vnet.render import draw
from vnet.topology import Topology

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
GOLDEN = ROOT / "tests" / "golden" / "draw"
IMAGES = ROOT / "docs" / "images"
UPDATE = os.environ.get("VNET_UPDATE_GOLDEN") == "1"
REGENERATE = ("make them again with VNET_UPDATE_GOLDEN=1 .venv/bin/python -m pytest "
              "tests/unit/test_draw.py, and review the diff")

#: every edge and look a file can give: a bridge with a veth port and an external port, a
#: vlan (down) on a veth end, a vxcan pair, vxlans to a remote (with an FDB entry) and to a
#: group, a geneve to an address of the topology, an IFB, a macvlan on the external NIC
EVERY = """\
name: every
namespaces: [a, b]
interfaces:
  - {name: eth9, external: true, master: br0, addresses: [192.0.2.99/24]}
  - {name: br0, kind: bridge}
  - {name: v0, kind: veth, master: br0, peer: {name: v0b, netns: a, addresses: [192.0.2.1/24]}}
  - {name: v0b.10, kind: vlan, netns: a, link: v0b, id: 10, state: down}
  - {name: can0, kind: vxcan, netns: a, peer: {name: can1, netns: b}}
  - {name: vx0, kind: vxlan, netns: a, id: 5, remote: 198.51.100.9, dev: v0b,
     fdb: [{mac: "00:00:00:00:00:00", dst: 198.51.100.10}]}
  - {name: vx1, kind: vxlan, netns: a, id: 6, group: 239.1.1.1, dev: v0b}
  - {name: gnv0, kind: geneve, netns: b, id: 7, remote: 192.0.2.1}
  - {name: ifb0, kind: ifb, netns: a, redirect_from: [v0b]}
  - {name: mv0, kind: macvlan, netns: b, link: eth9, mode: bridge}
"""


@pytest.fixture(scope="module")
def every() -> Topology:
    return load_text(EVERY, "every.yaml")


def _check_golden(path: Path, text: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: {REGENERATE}"
    want = path.read_text(encoding="utf-8")
    assert text == want, f"{path.relative_to(ROOT)} differs from what vnet draw gives: {REGENERATE}"


def _line(text: str, start: str) -> str:
    found = [line for line in text.splitlines() if line.strip().startswith(start)]
    assert len(found) == 1, f"{len(found)} lines start with {start!r} in:\n{text}"
    return found[0]


# ---- golden files ---------------------------------------------------------------------------

@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_draws_as_its_golden_files(example: Path) -> None:
    topo = load_file(example)
    _check_golden(GOLDEN / f"{example.stem}.dot", draw.dot(topo))
    _check_golden(GOLDEN / f"{example.stem}.mmd", draw.mermaid(topo))


def test_no_golden_file_without_its_example() -> None:
    stems = {p.stem for p in EXAMPLES}
    stale = sorted(p.name for p in GOLDEN.iterdir() if p.stem not in stems)
    assert not stale, f"golden files of no example: {stale}; delete them"
    assert len(list(GOLDEN.iterdir())) == 2 * len(EXAMPLES)


def test_the_readme_picture_is_not_stale() -> None:
    """docs/images/lab.svg is `vnet draw examples/lab.yaml -o docs/images/lab.svg`; its dot
    source is checked in beside it and must be what draw gives now."""
    text = draw.dot(load_file(ROOT / "examples" / "lab.yaml"))
    if UPDATE:
        IMAGES.mkdir(parents=True, exist_ok=True)
        (IMAGES / "lab.dot").write_text(text, encoding="utf-8")
        if shutil.which("dot"):
            assert main(["draw", str(ROOT / "examples" / "lab.yaml"),
                         "-o", str(IMAGES / "lab.svg")]) == EXIT_OK
    dot_file = IMAGES / "lab.dot"
    assert dot_file.read_text(encoding="utf-8") == text, \
        f"docs/images/lab.dot (and lab.svg) are stale: {REGENERATE}"
    svg = ET.fromstring((IMAGES / "lab.svg").read_bytes())
    texts = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    for end in load_file(ROOT / "examples" / "lab.yaml").endpoints():  # drawn from that dot
        assert end.name in texts, f"docs/images/lab.svg lacks {end.name}: {REGENERATE}"


def test_the_same_topology_draws_the_same_text(every: Topology) -> None:
    again = load_text(EVERY, "elsewhere/every.yaml")
    assert draw.dot(every) == draw.dot(every) == draw.dot(again)
    assert draw.mermaid(every) == draw.mermaid(again)


# ---- what is drawn --------------------------------------------------------------------------

def test_one_cluster_per_namespace_the_host_first(every: Topology) -> None:
    text = draw.dot(every)
    labels = [line.split('label="')[1].split('"')[0] for line in text.splitlines()
              if line.strip().startswith("label=")]
    assert labels == [draw.HOST_LABEL, "external: not vnet's", "netns a", "netns b"]
    assert text.index('"br0" [') < text.index('"a/v0b" [') < text.index('"b/can1" [')


def test_every_end_is_a_node_with_name_kind_and_addresses(every: Topology) -> None:
    text = draw.dot(every)
    for end in every.endpoints():
        node = _line(text, f'"{draw._id(end.netns, end.name)}" [')
        assert f"<b>{end.name}</b><br/>{end.kind}" in node
        for addr in end.addresses:
            assert addr in node
    assert 'fillcolor="#fdbf6f"' in _line(text, '"a/v0b" [')  # veth's colour


def test_pairs_are_cables(every: Topology) -> None:
    text = draw.dot(every)
    assert _line(text, '"v0" -> "a/v0b"').endswith('[dir=none, penwidth=2, color="#444444"];')
    assert "dir=none" in _line(text, '"a/can0" -> "b/can1"')  # vxcan: paired too


def test_master_to_port_also_to_an_external_port(every: Topology) -> None:
    text = draw.dot(every)
    assert 'color="#1f78b4"' in _line(text, '"br0" -> "v0"')
    assert 'color="#1f78b4"' in _line(text, '"br0" -> "eth9"')


def test_stacked_to_parent_in_its_parents_namespace(every: Topology) -> None:
    text = draw.dot(every)
    for tail, head in (("a/v0b.10", "a/v0b"), ("a/vx0", "a/v0b"), ("b/mv0", "eth9")):
        assert 'label="on"' in _line(text, f'"{tail}" -> "{head}"')


def test_tunnels_to_their_remote_group_and_fdb_addresses(every: Topology) -> None:
    text = draw.dot(every)
    assert 'label="remote"' in _line(text, '"a/vx0" -> "remote 198.51.100.9"')
    assert 'label="fdb"' in _line(text, '"a/vx0" -> "remote 198.51.100.10"')
    assert 'label="group"' in _line(text, '"a/vx1" -> "remote 239.1.1.1"')
    assert 'label="remote"' in _line(text, '"b/gnv0" -> "remote 192.0.2.1"')
    # a remote address is a node outside every namespace; one of the topology's says whose
    remote = _line(text, '"remote 192.0.2.1" [')
    assert remote.startswith('  "remote') and "held by a/v0b" in remote
    assert "outside the topology" in _line(text, '"remote 198.51.100.9" [')


def test_an_ifb_takes_ingress_from_its_sources(every: Topology) -> None:
    edge = _line(draw.dot(every), '"a/v0b" -> "a/ifb0"')
    assert 'label="ingress"' in edge and "style=dotted" in edge


def test_externals_are_drawn_apart(every: Topology) -> None:
    text = draw.dot(every)
    cluster = text[text.index('subgraph "cluster_0_external"'):]
    cluster = cluster[:cluster.index("}")]
    assert '"eth9" [' in cluster and 'style="rounded,dashed,filled"' in cluster
    assert "<b>eth9</b><br/>external<br/>192.0.2.99/24" in cluster
    mmd = draw.mermaid(every)
    assert "subgraph c0x[\"external: not vnet's\"]" in mmd
    assert "stroke-dasharray:5 5" in _line(mmd, "style n2 ")


def test_a_down_interface_is_greyed(every: Topology) -> None:
    text = draw.dot(every)
    node = _line(text, '"a/v0b.10" [')
    assert f'fillcolor="{draw.DOWN_FILL}"' in node and f'fontcolor="{draw.DOWN_TEXT}"' in node
    assert node.split("label=<")[1].startswith("<b>v0b.10</b><br/>vlan<br/>down>")
    mmd = draw.mermaid(every)
    down = [line for line in mmd.splitlines() if f"fill:{draw.DOWN_FILL}" in line]
    assert len(down) == 2  # the node and the legend's sample


def test_the_legend_names_the_kinds_looks_and_edges_used(every: Topology) -> None:
    legend = _line(draw.dot(every), '"vnet legend"')
    for kind in ("bridge", "veth", "vlan", "vxcan", "vxlan", "geneve", "ifb", "macvlan"):
        assert f'bgcolor="{draw.colour_of(kind)}" width="24"> </td><td align="left">{kind}<' \
            in legend
    for words in ("external: not vnet&#x27;s", "down", "pair: the two ends", "master to its",
                  "stacked on its parent", "remote: tunnel", "group: tunnel", "fdb: static",
                  "ingress: ingress redirected"):
        assert words.replace("&#x27;", "'") in legend
    assert "differs from the file" not in legend and "bond" not in legend
    mmd = draw.mermaid(every)
    assert 'lk0["bridge"]:::k_bridge' in mmd and "classDef k_geneve fill:#8dd3c7" in mmd


def test_each_kind_has_its_own_colour() -> None:
    from vnet.kinds import registry
    colours = [draw.colour_of(name) for name in registry()]
    assert len(set(colours)) == len(colours)
    assert draw.DOWN_FILL not in colours
    assert draw.colour_of("somekind") in draw.SPARE_COLOURS  # a kind not in the table


def test_a_name_the_topology_does_not_describe_gets_a_dashed_node() -> None:
    vlan = lookup("vlan").model_validate({"kind": "vlan", "name": "eth5.7", "link": "eth5",
                                          "id": 7})
    text = draw.dot(Topology(name="t", interfaces=[vlan]))
    assert '"eth5" [label=<<b>eth5</b><br/>not described here>, style="rounded,dashed"' in text
    assert "named, not described here" in _line(text, '"vnet legend"')


def test_an_empty_namespace_still_shows() -> None:
    text = draw.dot(load_text("name: t\nnamespaces: [lonely]\n"))
    assert 'label="netns lonely"' in text and '"netns lonely empty" [' in text


def test_names_are_quoted_for_dot_and_mermaid() -> None:
    topo = load_text('name: t\ninterfaces:\n  - {name: "a\\"b#<c>", kind: dummy}\n')
    assert '"a\\"b#<c>" [label=<<b>a&quot;b#&lt;c&gt;</b>' in draw.dot(topo)
    assert 'n0("<b>a#quot;b#35;#lt;c#gt;</b><br/>dummy")' in draw.mermaid(topo)


def test_mermaid_has_the_same_picture(every: Topology) -> None:
    mmd = draw.mermaid(every)
    assert mmd.startswith('---\ntitle: "every"\n---\nflowchart LR\n')
    assert "  n0 --> n1" in mmd  # br0 -> v0 (ids in the order the nodes are written)
    assert any(" === " in line for line in mmd.splitlines())
    assert any('-.->|"remote"|' in line for line in mmd.splitlines())
    assert any('==>|"ingress"|' in line for line in mmd.splitlines())
    edges = [line for line in mmd.splitlines() if line.startswith("  linkStyle ")]
    assert len(edges) == len(draw._scene(every, None, None).edges)


def test_draw_is_pure() -> None:
    """No kernel, no programs, no printing: the import rule is test_architecture's, this
    holds the rest."""
    tree = ast.parse(Path(draw.__file__).read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names} | {n.module for n in ast.walk(tree)
                                     if isinstance(n, ast.ImportFrom) and n.module}
    assert "print" not in names
    assert not imported & {"subprocess", "os", "door"}


# ---- the file against the live topology ------------------------------------------------------

LIVE = """\
name: every
namespaces: [a, b, c]
interfaces:
  - {name: eth9, external: true, master: br0, addresses: [192.0.2.99/24]}
  - {name: br0, kind: bridge}
  - {name: v0, kind: veth, peer: {name: v0b, netns: a, addresses: [192.0.2.5/24]}}
  - {name: v0b.10, kind: vlan, netns: a, link: v0b, id: 10}
  - {name: can0, kind: vxcan, netns: a, state: down, peer: {name: can1, netns: b}}
  - {name: vx0, kind: vxlan, netns: a, id: 5, remote: 198.51.100.9, dev: v0b,
     fdb: [{mac: "00:00:00:00:00:00", dst: 198.51.100.10}]}
  - {name: gnv0, kind: geneve, netns: b, id: 7, remote: 192.0.2.1}
  - {name: ifb0, kind: ifb, netns: a, redirect_from: [v0b]}
  - {name: mv0, kind: macvlan, netns: b, link: eth9, mode: bridge}
  - {name: extra0, kind: dummy, netns: c}
"""


def test_compare_finds_each_difference(every: Topology) -> None:
    live = load_text(LIVE, "<live every>")
    diff = draw.compare(every, live)
    assert diff.changed == {
        (None, "v0"): ("master: file br0, live -",),
        ("a", "v0b"): ("addresses: file 192.0.2.1/24, live 192.0.2.5/24",),
        ("a", "v0b.10"): ("state: file down, live up",),
        ("a", "can0"): ("state: file up, live down",),
    }
    assert diff.only_live == {("c", "extra0")}
    assert [(e.netns, e.name) for e in diff.only_file] == [("a", "vx1")]
    assert diff.netns_only_live == {"c"} and diff.netns_only_file == ()
    assert not diff.empty and draw.compare(every, every).empty


def test_a_diff_is_marked_in_both_drawings(every: Topology) -> None:
    live = load_text(LIVE, "<live every>")
    diff = draw.compare(every, live)
    text = draw.dot(live, diff, "every (live)")
    changed = _line(text, '"a/v0b" [')
    assert f'color="{draw.DIFF_COLOUR}", penwidth=2.5' in changed
    assert "≠ addresses: file 192.0.2.1/24, live 192.0.2.5/24" in changed
    assert "not in the file" in _line(text, '"c/extra0" [')
    ghost = _line(text, '"a/vx1" [')
    assert "in the file, not live" in ghost and 'style="rounded,dotted"' in ghost
    assert 'label="netns c: not in the file"' in text and 'label="every (live)"' in text
    legend = _line(text, '"vnet legend"')
    for words in ("differs from the file", "live, not in the file", "in the file, not live"):
        assert words in legend
    mmd = draw.mermaid(live, diff)
    assert "stroke:#d62728,stroke-width:3px" in mmd and "in the file, not live" in mmd


def test_compare_with_a_file_whose_namespace_is_not_live(every: Topology) -> None:
    gone = load_text("name: every\nnamespaces: [a]\n")
    diff = draw.compare(every, gone)
    assert diff.netns_only_file == ("b",)
    assert 'label="netns b: in the file, not live"' in draw.dot(gone, diff)


# ---- format and command ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, output, want", [
    (None, None, "dot"), ("mermaid", None, "mermaid"), ("svg", None, "svg"),
    (None, "x.svg", "svg"), (None, "x.PNG", "png"), (None, "x.gv", "dot"),
    (None, "x.dot", "dot"), (None, "x.mmd", "mermaid"), (None, "x.mermaid", "mermaid"),
    (None, "noext", "dot"), ("dot", "x.svg", "dot"), ("png", "out", "png"),
])
def test_the_format_comes_from_the_option_then_the_suffix(fmt: str | None, output: str | None,
                                                          want: str) -> None:
    assert draw.choose_format(fmt, output) == want


@pytest.mark.parametrize("fmt, output, words", [
    ("gif", None, "unknown format 'gif': use one of svg, png, dot, mermaid"),
    (None, "x.jpg", "cannot tell the format from 'x.jpg'"),
    ("png", None, "writes binary data, not text: give -o FILE.png"),
])
def test_bad_formats_are_refused(fmt: str | None, output: str | None, words: str) -> None:
    with pytest.raises(draw.VnetError, match=words.replace("(", r"\(")):
        draw.choose_format(fmt, output)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_draws_a_file_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    lab = str(ROOT / "examples" / "lab.yaml")
    code, out, _ = run(capsys, "draw", lab)
    assert code == EXIT_OK and out == (GOLDEN / "lab.dot").read_text(encoding="utf-8")
    code, out, _ = run(capsys, "draw", lab, "--format", "mermaid")
    assert code == EXIT_OK and out == (GOLDEN / "lab.mmd").read_text(encoding="utf-8")


def test_cli_writes_the_format_of_the_suffix(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    lab = str(ROOT / "examples" / "lab.yaml")
    code, out, _ = run(capsys, "draw", lab, "-o", str(tmp_path / "lab.mmd"))
    assert code == EXIT_OK and out == f"{tmp_path / 'lab.mmd'}: mermaid picture of lab\n"
    assert (tmp_path / "lab.mmd").read_text() == (GOLDEN / "lab.mmd").read_text()


@pytest.mark.parametrize("argv, words", [
    (["--format", "gif"], "unknown format 'gif'"),
    (["--format", "png"], "vnet draw --format png writes binary data, not text: give -o"),
    (["-o", "lab.jpeg"], "cannot tell the format from 'lab.jpeg'"),
    (["--file", "x.yaml"], "--file marks what differs between a live topology and its file"),
])
def test_cli_errors_are_one_clear_message(argv: list[str], words: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "draw", str(ROOT / "examples" / "lab.yaml"), *argv)
    assert code == EXIT_ERROR and out == ""
    assert words in " ".join(err.split())


def test_cli_says_graphviz_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    for fmt in ("svg", "png"):
        code, _, err = run(capsys, "draw", str(ROOT / "examples" / "lab.yaml"),
                           "-o", str(tmp_path / f"lab.{fmt}"))
        assert code == EXIT_ERROR
        assert f"vnet draw --format {fmt} needs Graphviz's `dot` (apt install graphviz)" in err
        assert not (tmp_path / f"lab.{fmt}").exists()


class _Kernel:
    closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`vnet.capture.capture_owned` answers with what `answers` holds for a name (the module
    is made up when it is not in the tree yet); the kernel is a stub."""
    answers: dict[str, Any] = {}
    kernel = _Kernel()
    monkeypatch.setattr(api, "open_kernel", lambda: kernel)

    def capture_owned(name: str, backend: Any) -> dict[str, Any]:
        assert backend is kernel
        return answers.get(name, {"name": name, "namespaces": [], "interfaces": []})

    try:
        module: Any = importlib.import_module("vnet.capture")
        monkeypatch.setattr(module, "capture_owned", capture_owned)
    except ModuleNotFoundError:
        module = types.ModuleType("vnet.capture")
        module.capture_owned = capture_owned
        monkeypatch.setitem(sys.modules, "vnet.capture", module)
    answers["kernel"] = kernel
    return answers


def _data(text: str) -> dict[str, Any]:
    import yaml
    return dict(yaml.safe_load(text))


def test_cli_draws_a_live_topology_by_name(live: dict[str, Any],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    live["every"] = _data(LIVE)
    code, out, _ = run(capsys, "draw", "every")
    assert code == EXIT_OK and 'label="every (live)"' in out and '"c/extra0" [' in out
    assert "≠" not in out and live["kernel"].closed


def test_cli_marks_what_differs_from_the_file(live: dict[str, Any], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    live["every"] = _data(LIVE)
    file = tmp_path / "every.yaml"
    file.write_text(EVERY)
    code, out, _ = run(capsys, "draw", "every", "--file", str(file), "--format", "mermaid")
    assert code == EXIT_OK
    assert f"(live; red: differs from {file})" in out
    assert "≠ state: file down, live up" in out and "in the file, not live" in out


def test_cli_compares_only_with_the_file_of_that_topology(
        live: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    live["every"] = _data(LIVE)
    code, out, err = run(capsys, "draw", "every", "--file", str(ROOT / "examples" / "lab.yaml"))
    assert code == EXIT_ERROR and out == ""
    assert "describes topology 'lab', not 'every'" in err


def test_cli_says_when_nothing_is_live(live: dict[str, Any],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "draw", "ghosttown")
    assert code == EXIT_ERROR and out == "" and "nothing live for ghosttown" in err


def test_help_does_not_import_draw() -> None:
    code = ("import sys\nfrom vnet.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m in ('vnet.render.draw', "
            "'vnet.render_image')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip().endswith("[]"), done.stdout


def test_drawing_a_file_never_opens_the_kernel_door() -> None:
    code = ("import sys, io\nfrom vnet.cli import main\nsys.stdout = io.StringIO()\n"
            f"assert main(['draw', {str(ROOT / 'examples' / 'lab.yaml')!r}]) == 0\n"
            "sys.stdout = sys.__stdout__\n"
            "print(sorted(m for m in sys.modules if m.startswith('vnet.door')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]", done.stdout


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_renders_lab_as_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lab.svg"
    code, said, _ = run(capsys, "draw", str(ROOT / "examples" / "lab.yaml"), "-o", str(out))
    assert code == EXIT_OK and said == f"{out}: svg picture of lab\n"
    root = ET.fromstring(out.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    for name in ("eth0", "sw-h1", "br0", "wan0", "vx100", "198.51.100.2", "netns sw"):
        assert name in texts, f"{name} is not in the svg"
    code, svg, _ = run(capsys, "draw", str(ROOT / "examples" / "lab.yaml"), "--format", "svg")
    assert code == EXIT_OK and svg.startswith("<?xml") and "vx100" in svg  # svg is text
