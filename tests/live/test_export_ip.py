"""`vnet export --to ip`, proven by running the script: for every examples/*.yaml, the script
run with `sh` in a fresh sandbox (vnet not on its PATH) leaves the same kernel state as
`vnet apply` of the same file in another fresh sandbox, compared field by field
(reference.full_state: links with every kind option, masters, MTUs, states, addresses,
routes, bridge VLANs, FDB, qdiscs), ignoring only ifindexes, random MACs and vnet's own
ownership marks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import vnet
from vnet.export import Options, export

from .helpers import in_fresh_sandbox, require_kind
from .reference import diff_text, full_state
from .test_examples import EXAMPLES_FOR_THE_KERNEL, _require_kinds

#: the script's PATH: the system's programs, and no vnet
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _script_state(script: Path, keep_macs: list[tuple[str | None, str]]) -> Any:
    def work() -> Any:
        assert shutil.which("vnet", path=_SYSTEM_PATH) is None, \
            f"vnet is on the script's PATH ({_SYSTEM_PATH})"
        proc = subprocess.run(["sh", str(script)], env={"PATH": _SYSTEM_PATH},
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, f"sh {script} exited {proc.returncode}:\n{proc.stderr}"
        return full_state(keep_macs)
    return in_fresh_sandbox(work)


def _apply_state(path: Path, keep_macs: list[tuple[str | None, str]]) -> Any:
    def work() -> Any:
        vnet.load_file(path).apply()
        return full_state(keep_macs)
    return in_fresh_sandbox(work)


def assert_script_builds_what_apply_builds(path: Path, tmp_path: Path) -> None:
    """Export `path` to an ip script, run it and `vnet apply` each in a fresh sandbox, and
    compare the two kernels."""
    topo = vnet.load_file(path)
    [text] = export(topo, "ip", Options(include_secrets=True)).files.values()
    script = tmp_path / f"{topo.name}.sh"
    script.write_text(text)
    keep = [end.key for end in topo.endpoints() if end.mac is not None]
    by_script = _script_state(script, keep)
    by_vnet = _apply_state(path, keep)
    if by_script != by_vnet:
        raise AssertionError(f"the ip script of {path.name} builds another kernel state than "
                             "vnet apply:\n" + diff_text(by_script, by_vnet,
                                                         "sh (vnet export --to ip)",
                                                         "vnet apply") +
                             f"\n--- the script:\n{text}")


@pytest.mark.parametrize("path", EXAMPLES_FOR_THE_KERNEL)
def test_example_ip_script_builds_what_apply_builds(path: Path, tmp_path: Path) -> None:
    _require_kinds(path)
    assert_script_builds_what_apply_builds(path, tmp_path)


@pytest.mark.kind("macsec", "veth", "netns")
def test_macsec_key_files_are_read_when_the_script_runs(tmp_path: Path) -> None:
    """Keys given by key_file: the script reads the files (resolved as vnet resolves them,
    relative to the topology file) and never holds the keys."""
    require_kind("macsec")
    keys = {"tx-a.hex": "0123456789abcdef0123456789abcdef",
            "tx-b.hex": "fe:dc:ba:98:76:54:32:10:fe:dc:ba:98:76:54:32:10\n"}
    (tmp_path / "keys").mkdir()
    for name, key in keys.items():
        file = tmp_path / "keys" / name
        file.write_text(key)
        os.chmod(file, 0o600)
    topo_file = tmp_path / "msec.yaml"
    topo_file.write_text("""\
name: msec
namespaces: [ma, mb]
interfaces:
  - {name: wire-a, kind: veth, netns: ma, mac: "02:00:00:00:5a:01",
     peer: {name: wire-b, netns: mb, mac: "02:00:00:00:5a:02"}}
  - name: macsec-a
    kind: macsec
    netns: ma
    link: wire-a
    port: 1
    encrypt: true
    addresses: [198.51.100.1/24]
    tx_sa: [{an: 0, pn: 1, key_id: "01", key_file: keys/tx-a.hex}]
    rx:
      - address: "02:00:00:00:5a:02"
        port: 1
        sa: [{an: 0, pn: 1, key_id: "02", key_file: keys/tx-b.hex}]
""")
    [text] = export(vnet.load_file(topo_file), "ip", Options()).files.values()
    assert "0123456789abcdef" not in text and "fedcba" not in text.replace(":", "")
    assert str(tmp_path / "keys" / "tx-a.hex") in text
    script_dir = tmp_path / "elsewhere"
    script_dir.mkdir()
    (script_dir / "msec.sh").write_text(text)
    keep = [("ma", "wire-a"), ("mb", "wire-b"), ("ma", "macsec-a")]
    by_script = _script_state(script_dir / "msec.sh", keep)
    by_vnet = _apply_state(topo_file, keep)
    assert by_script == by_vnet, diff_text(by_script, by_vnet, "sh", "vnet apply")


@pytest.mark.kind("veth", "netns")
def test_routes_by_the_script_are_the_routes_vnet_adds(tmp_path: Path) -> None:
    """Routes of every shape (to a link, through a gateway, IPv6, a metric, another table):
    no example with routes runs on a kernel without ipvlan, this one does."""
    topo_file = tmp_path / "routes.yaml"
    topo_file.write_text("""\
name: routes
namespaces: [ra]
interfaces:
  - {name: v0, kind: veth, netns: ra, addresses: [192.0.2.1/24, "2001:db8::1/64"],
     peer: {name: v1, netns: ra}}
routes:
  - {netns: ra, to: 203.0.113.0/24, dev: v0}
  - {netns: ra, to: 198.51.100.0/24, via: 192.0.2.9, metric: 20}
  - {netns: ra, to: default, via: 192.0.2.254, table: 100}
  - {netns: ra, to: "2001:db8:1::/64", dev: v0}
  - {netns: ra, to: "2001:db8:2::/64", via: "2001:db8::9"}
""")
    assert_script_builds_what_apply_builds(topo_file, tmp_path)
