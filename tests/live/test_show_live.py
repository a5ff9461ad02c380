"""`vnet show` and `vnet list` against the live kernel, in a pipe (tab-separated): the lab of
examples/lab.yaml applied in the test's private namespaces, read back as `ip` reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

import vnet
from vnet import cli

from .helpers import ip_json, require_kind, sh

pytestmark = pytest.mark.kind("bridge", "veth", "vxlan", "netns")

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "examples" / "lab.yaml"
HEADER = "netns\tinterface\tkind\tstate\tmaster\tmtu\taddresses\towned"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _rows(out: str) -> dict[tuple[str, str], list[str]]:
    """The interfaces section: (netns, interface) -> its cells."""
    lines = out.split("\n\n")[0].splitlines()
    assert lines[0].startswith(HEADER), out
    return {(cells[0], cells[1]): cells for cells in (line.split("\t") for line in lines[1:])}


def test_show_and_list_of_the_lab_in_a_pipe(capsys: pytest.CaptureFixture[str]) -> None:
    for kind in ("bridge", "veth", "vxlan"):
        require_kind(kind)
    topo = vnet.load_file(LAB)
    assert _run(capsys, "apply", str(LAB))[0] == 0

    code, out, err = _run(capsys, "show", "lab")
    assert code == 0 and err == ""
    rows = _rows(out)
    assert set(rows) == {(end.netns, end.name) for end in topo.endpoints()}  # no loopback
    for end in topo.endpoints():
        cells = rows[(str(end.netns), end.name)]
        link = ip_json("-d", "link", "show", end.name, netns=end.netns)[0]
        assert cells[2] == end.kind == link["linkinfo"]["info_kind"]
        assert cells[3] == "up" and "UP" in link["flags"]
        assert cells[4] == (end.master or "-") == link.get("master", "-")
        assert cells[5] == str(link["mtu"])
        assert cells[6] == (",".join(end.addresses) or "-")  # in the file's order
        assert cells[7] == "yes"
    assert "\n\n" not in out  # the lab has no routes; a NAME lists no checks

    code, out, _ = _run(capsys, "show", str(LAB), "--all", "--netns", "h3", "--stats")
    assert code == 0
    rows = _rows(out)
    assert set(rows) == {("h3", "lo"), ("h3", "eth0"), ("h3", "wan0"), ("h3", "vx100")}
    assert rows[("h3", "lo")][2] == "loopback"
    assert all(cell.isdigit() for cells in rows.values() for cell in cells[8:12])
    checks = out.split("\n\n")[1].splitlines()
    assert checks[0] == "from\tprobe\tto\texpected\tcheck"
    assert [line.split("\t")[:4] for line in checks[1:]] == [
        ["h3", "ping", "203.0.113.2", "ok"]]  # the file's checks sent from h3

    code, out, _ = _run(capsys, "show", "lab", "--kind", "vxlan")
    assert sorted(_rows(out)) == [("h3", "vx100"), ("remote", "vx100")]

    code, out, _ = _run(capsys, "list")
    assert code == 0
    assert out.splitlines() == ["name\tnamespaces\tinterfaces\tup\tdown\troutes\tfile",
                                f"lab\t5\t11\t11\t0\t0\t{LAB}"]
    assert _run(capsys, "show")[1] == out

    code, out, err = _run(capsys, "show", "lbb")
    assert code == 1 and out == ""
    assert "nothing named 'lbb' is live" in err and "did you mean 'lab'?" in err

    assert _run(capsys, "destroy", "lab")[0] == 0
    assert _run(capsys, "show", "lab")[0] == 1
    assert _run(capsys, "list")[1] == "name\tnamespaces\tinterfaces\tup\tdown\troutes\tfile\n"
    code, out, _ = _run(capsys, "destroy", str(LAB))
    assert code == 0 and "nothing to destroy" in out


def test_routes_vnet_made_are_shown_per_namespace(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    require_kind("veth")
    path = tmp_path / "routed.yaml"
    path.write_text("""\
name: routed
namespaces: [r1, r2]
interfaces:
  - name: a
    kind: veth
    netns: r1
    addresses: [192.0.2.1/24]
    peer: {name: b, netns: r2, addresses: [192.0.2.2/24]}
  - name: up0
    kind: veth
    addresses: [198.51.100.1/24]
    peer: {name: up1, netns: r1, addresses: [198.51.100.2/24]}
routes:
  - {netns: r2, to: default, via: 192.0.2.1}
  - {netns: r1, to: 203.0.113.0/24, dev: a, metric: 7}
  - {to: 192.0.2.0/24, via: 198.51.100.2}
""")
    assert _run(capsys, "apply", str(path))[0] == 0
    code, out, _ = _run(capsys, "show", "routed")
    assert code == 0
    routes = out.split("\n\n")[1].splitlines()
    assert routes == ["netns\tto\tvia\tdev\tmetric\ttable",
                      "-\t192.0.2.0/24\t198.51.100.2\tup0\t0\tmain",
                      "r1\t203.0.113.0/24\t-\ta\t7\tmain",
                      "r2\tdefault\t192.0.2.1\tb\t0\tmain"]
    code, out, _ = _run(capsys, "list")
    assert out.splitlines()[1] == f"routed\t2\t4\t4\t0\t3\t{path}"
    assert _run(capsys, "destroy", "routed")[0] == 0


def test_show_and_list_import_neither_pydantic_nor_yaml_nor_a_kind() -> None:
    """`vnet show` and `vnet list` read links, addresses and vnet's routes, and print them:
    none of it needs the file's model (pydantic, PyYAML) or a kind class."""
    import subprocess
    import sys

    require_kind("veth")
    vnet.load_file(ROOT / "examples" / "veth.yaml").apply()
    probe = ("import sys, vnet.cli\n"
             "for argv in (['show', 'veth-demo'], ['show', 'veth-demo', '--stats'], ['list'],"
             " ['show', 'veth-demo', '--json']):\n"
             "    assert vnet.cli.main(argv) == 0\n"
             "heavy = ('pydantic', 'yaml', 'vnet.kinds', 'vnet.model', 'vnet.plan')\n"
             "print('imported:', [m for m in heavy if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    assert out.splitlines()[-1] == "imported: []", out[-2000:]


def test_show_options_reads_each_interfaces_options_back_in_the_files_words(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    require_kind("bridge")
    path = tmp_path / "opts.yaml"
    path.write_text("name: opts\nnamespaces: [o1]\ninterfaces:\n"
                    "  - {name: br0, kind: bridge, netns: o1, stp_state: true, priority: 4096,"
                    " mcast_igmp_version: 3}\n"
                    "  - {name: br1, kind: bridge, netns: o1}\n")
    assert _run(capsys, "apply", "-q", str(path))[0] == 0
    try:
        code, out, _ = _run(capsys, "show", "opts", "--options", "--json")
        assert code == 0
        import json
        rows = {r["name"]: r for r in json.loads(out)["interfaces"]}
        # what the kernel holds, not what the file said: the kernel's defaults stay out
        assert rows["br0"]["extra"]["options"] == {
            "stp_state": True, "priority": 4096, "mcast_igmp_version": 3}, rows["br0"]
        assert "options" not in rows["br1"]["extra"], rows["br1"]
        # changed behind vnet's back: show says what the kernel has now
        sh("ip", "link", "set", "br0", "type", "bridge", "priority", "8192", netns="o1")
        code, out, _ = _run(capsys, "show", "opts", "--options")
        assert code == 0 and "o1\tbr0\tstp_state: true, priority: 8192, mcast_igmp_version: 3" \
            in out, out
        code, out, _ = _run(capsys, "show", "opts", "--json")  # without --options: none
        assert all("options" not in r["extra"] for r in json.loads(out)["interfaces"]), out
    finally:
        assert _run(capsys, "destroy", "opts")[0] == 0
