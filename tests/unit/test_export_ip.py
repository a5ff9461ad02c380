"""`vnet export --to ip` without a kernel: the script's text for a small file, what `sh` hands
each command (hostile names stay one word), the order that works, MACsec keys (key_file read
when the script runs, inline ones only with --include-secrets), and the command's rules:
left-out fields, --partial, exit codes, -o written whole or not at all."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from clirun import run, written

import vnet.export
from vnet.export import Exported, ExportError, LeftOut, Options, export, inline_secrets
from vnet.loader import load_file, load_text

ROOT = Path(__file__).resolve().parents[2]

SMALL = """\
name: small
namespaces: [h1, sw]
interfaces:
  - name: br0
    kind: bridge
    netns: sw
    stp_state: false
    addresses: [192.0.2.254/24]
  - name: eth0
    kind: veth
    netns: h1
    mtu: 1400
    addresses: [192.0.2.1/24, 2001:db8::1/64]
    peer: {name: sw-h1, netns: sw, master: br0}
routes:
  - {netns: h1, to: default, via: 192.0.2.254}
checks:
  - {from: h1, ping: 192.0.2.254}
"""

SMALL_SCRIPT = """\
#!/bin/sh
# Topology small, written by `vnet export --to ip` from small.yaml.
# Run it as root with sh, where none of its namespaces and links exist yet: it stops
# at the first command that fails (set -e). It does not mark what it makes as vnet's,
# so `vnet destroy` leaves it alone: delete the namespaces (ip netns del) instead.
# The file's checks are not kernel state and are not run here: `vnet check` runs them.
set -e

# --- namespaces
# namespaces[0] h1 (small.yaml:2:14)
ip netns add h1
ip -n h1 link set dev lo up
# namespaces[1] sw (small.yaml:2:18)
ip netns add sw
ip -n sw link set dev lo up

# --- links, parents first, with their MTU, MAC and addresses
# interfaces[0] br0 (bridge) (small.yaml:4:5)
ip link add name br0 netns sw type bridge stp_state 0
ip -n sw addr add 192.0.2.254/24 dev br0
# interfaces[1] eth0 (veth) (small.yaml:9:5)
ip link add eth0 netns h1 type veth peer name sw-h1 netns sw
ip -n h1 link set dev eth0 mtu 1400
ip -n h1 addr add 192.0.2.1/24 dev eth0
ip -n h1 addr add 2001:db8::1/64 dev eth0 nodad

# --- ports join their masters
# interfaces[1].peer sw-h1 (small.yaml:14:11)
ip -n sw link set dev sw-h1 master br0

# --- states
# interfaces[0] br0 (small.yaml:4:5)
ip -n sw link set dev br0 up
# interfaces[1] eth0 (small.yaml:9:5)
ip -n h1 link set dev eth0 up
# interfaces[1].peer sw-h1 (small.yaml:14:11)
ip -n sw link set dev sw-h1 up

# --- routes
# routes[0] to default (small.yaml:16:5)
ip -n h1 route add default via 192.0.2.254
"""


def _script(topo_text: str, tmp_path: Path, name: str = "small.yaml",
            options: Options | None = None) -> str:
    topo = load_file(written(tmp_path, name, topo_text))
    [text] = export(topo, "ip", options or Options()).files.values()
    return text


def _recorded(script: str, tmp_path: Path) -> list[list[str]]:
    """Run `script` with sh, its ip, bridge, tc, teamd and teamdctl replaced by a recorder:
    the argv each command received, in order. No kernel, no root."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "argv.log"
    for tool in ("ip", "bridge", "tc", "teamd", "teamdctl"):
        fake = bindir / tool
        fake.write_text(f"#!/bin/sh\nprintf '%s\\0' {tool} \"$@\" >> '{log}'\n"
                        f"printf '\\n' >> '{log}'\n")
        fake.chmod(0o755)
    path = tmp_path / "script.sh"
    path.write_text(script)
    subprocess.run(["sh", str(path)], env={"PATH": f"{bindir}:/usr/bin:/bin"}, check=True,
                   timeout=60)
    lines = log.read_text().split("\0\n") if log.exists() else []
    return [line.split("\0") for line in lines if line]


def test_the_script_of_a_small_file(tmp_path: Path) -> None:
    assert _script(SMALL, tmp_path) == SMALL_SCRIPT


def test_sh_runs_the_commands_in_an_order_that_works(tmp_path: Path) -> None:
    cmds = [" ".join(c) for c in _recorded(_script(SMALL, tmp_path), tmp_path)]
    assert cmds.index("ip netns add sw") < cmds.index(
        "ip link add name br0 netns sw type bridge stp_state 0")
    assert cmds.index("ip link add eth0 netns h1 type veth peer name sw-h1 netns sw") < \
        cmds.index("ip -n h1 addr add 192.0.2.1/24 dev eth0") < \
        cmds.index("ip -n sw link set dev sw-h1 master br0") < \
        cmds.index("ip -n h1 link set dev eth0 up") < \
        cmds.index("ip -n h1 route add default via 192.0.2.254")
    assert len(cmds) == 15


HOSTILE = """\
name: hostile
namespaces: ["n'1;$(x)"]
interfaces:
  - name: "a;b|c&$d`e'"
    kind: bridge
    netns: "n'1;$(x)"
  - name: 'v"$(id)'
    kind: veth
    netns: "n'1;$(x)"
    master: "a;b|c&$d`e'"
    peer: {name: '*.?[x]'}
"""


def test_hostile_names_reach_each_command_as_one_word(tmp_path: Path) -> None:
    ns, br, veth, peer = "n'1;$(x)", "a;b|c&$d`e'", 'v"$(id)', "*.?[x]"
    (tmp_path / "x").write_text("")  # a glob that could match a file if left unquoted
    cmds = _recorded(_script(HOSTILE, tmp_path, "hostile.yaml"), tmp_path)
    assert ["ip", "netns", "add", ns] in cmds
    assert ["ip", "link", "add", "name", br, "netns", ns, "type", "bridge"] in cmds
    assert ["ip", "link", "add", veth, "netns", ns, "type", "veth", "peer", "name", peer] in cmds
    assert ["ip", "-n", ns, "link", "set", "dev", veth, "master", br] in cmds
    assert ["ip", "link", "set", "dev", peer, "up"] in cmds


def test_a_newline_in_the_file_name_cannot_end_a_comment(tmp_path: Path) -> None:
    text = _script(SMALL, tmp_path, "odd\nname.yaml")
    assert all(line.startswith("#") or not line or line.startswith(("ip ", "set -e"))
               for line in text.splitlines())


def test_external_interfaces_get_what_the_file_sets_and_are_not_created(
        tmp_path: Path) -> None:
    cmds = [" ".join(c) for c in _recorded(_script("""\
name: ext
interfaces:
  - {name: eth9, external: true, mtu: 9000, master: br0, addresses: [192.0.2.9/24],
     state: up}
  - {name: br0, kind: bridge}
""", tmp_path, "ext.yaml"), tmp_path)]
    assert cmds == ["ip link add name br0 type bridge", "ip link set dev eth9 mtu 9000",
                    "ip link set dev eth9 master br0", "ip addr add 192.0.2.9/24 dev eth9",
                    "ip link set dev br0 up", "ip link set dev eth9 up"]


def test_parents_first_whatever_the_file_order(tmp_path: Path) -> None:
    text = _script("""\
name: stacked
interfaces:
  - {name: vl2, kind: vlan, link: trunk, id: 2}
  - {name: trunk, kind: veth, peer: {name: trunk-b}}
""", tmp_path, "stacked.yaml")
    lines = text.splitlines()
    assert lines.index("ip link add trunk type veth peer name trunk-b") < \
        lines.index("ip link add link trunk name vl2 type vlan id 2")


def test_team_ports_join_through_teamdctl_and_a_bond_primary_comes_after_its_ports(
        tmp_path: Path) -> None:
    cmds = [" ".join(c) for c in _recorded(_script("""\
name: masters
namespaces: [h]
interfaces:
  - {name: team0, kind: team, netns: h, runner: activebackup}
  - {name: bond0, kind: bond, netns: h, mode: active-backup, primary: p1}
  - {name: p0, kind: veth, netns: h, master: team0, peer: {name: q0, netns: h}}
  - {name: p1, kind: veth, netns: h, master: bond0, peer: {name: q1, netns: h}}
""", tmp_path, "masters.yaml"), tmp_path)]
    assert "ip netns exec h teamdctl team0 port add p0" in cmds
    assert cmds.index("ip -n h link set dev p1 master bond0") < \
        cmds.index("ip -n h link set bond0 type bond primary p1")
    assert cmds.index("ip -n h link set dev p1 up") < \
        cmds.index("ip -n h link set bond0 type bond primary p1")


def test_bridge_vlans_replace_the_default_vlan(tmp_path: Path) -> None:
    cmds = [" ".join(c) for c in _recorded(_script("""\
name: vlans
interfaces:
  - {name: br0, kind: bridge, vlan_filtering: true, vlans: [{vid: 10}]}
  - {name: p0, kind: veth, master: br0, vlans: [{vid: 20, pvid: true, untagged: true},
                                               {vid: 30-32}],
     peer: {name: q0}}
""", tmp_path, "vlans.yaml"), tmp_path)]
    assert cmds[-5:] == [
        "bridge vlan del vid 1 dev br0 self",
        "bridge vlan add vid 10 dev br0 self",
        "bridge vlan del vid 1 dev p0",
        "bridge vlan add vid 20 dev p0 pvid untagged",
        "bridge vlan add vid 30-32 dev p0",
    ]


def _macsec(key_line: str) -> str:
    return f"""\
name: msec
namespaces: [ma]
interfaces:
  - {{name: wire-a, kind: veth, netns: ma, peer: {{name: wire-b, netns: ma}}}}
  - name: macsec-a
    kind: macsec
    netns: ma
    link: wire-a
    tx_sa: [{{an: 0, key_id: "01", {key_line}}}]
"""


def test_key_files_are_referenced_by_their_resolved_path_and_read_by_the_script(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    key = keys / "a.hex"
    key.write_text("0x00:11:22:33 44556677\n8899aabbccddeeff\n")
    key.chmod(0o600)
    text = _script(_macsec("key_file: keys/a.hex"), tmp_path, "msec.yaml")
    assert "00112233" not in text and "8899aabb" not in text
    assert f"\"$(vnet_key_hex {keys / 'a.hex'})\"" in text
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the path holds wherever the script runs from
    cmds = _recorded(text, elsewhere)
    assert ["ip", "-n", "ma", "macsec", "add", "macsec-a", "tx", "sa", "0", "pn", "1", "on",
            "key", "01", "00112233445566778899aabbccddeeff"] in cmds


def test_inline_keys_are_refused_without_include_secrets(tmp_path: Path) -> None:
    text = _macsec('key: "00112233445566778899aabbccddeeff"')
    topo = load_file(written(tmp_path, "msec.yaml", text))
    assert inline_secrets(topo) == ["interfaces[1].tx_sa[0].key"]
    with pytest.raises(ExportError, match="key_file") as info:
        export(topo, "ip", Options())
    assert "msec.yaml:9:" in str(info.value) and "00112233" not in str(info.value)
    [script] = export(topo, "ip", Options(include_secrets=True)).files.values()
    assert " key 01 00112233445566778899aabbccddeeff" in script


def test_netns_is_refused_for_the_ip_target() -> None:
    with pytest.raises(ExportError, match="every namespace"):
        export(load_text(SMALL), "ip", Options(netns="h1"))


# ---- the command ---------------------------------------------------------------------------

def test_export_to_stdout_and_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    path = written(tmp_path, "small.yaml", SMALL)
    code, out, err = run(capsys, "export", str(path), "--to", "ip")
    assert (code, out, err) == (0, SMALL_SCRIPT, "")
    target = tmp_path / "small.sh"
    code, out, err = run(capsys, "export", str(path), "--to", "ip", "-o", str(target))
    assert (code, out) == (0, "")
    assert err == f"{target}: ip export of small\n"
    assert target.read_text() == SMALL_SCRIPT
    assert target.stat().st_mode & stat.S_IXUSR  # a script: executable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.sh", "small.yaml"]


def test_the_targets_of_the_command_are_the_exporters() -> None:
    from vnet.cli import build_parser
    from vnet.completion import commands
    [to] = [a for a in commands(build_parser())["export"]._actions if a.dest == "to"]
    assert list(to.choices or []) == list(vnet.export.TARGETS)


def test_an_invalid_file_is_reported_and_nothing_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = written(tmp_path, "bad.yaml", "name: bad\ninterfaces:\n  - {name: x, kind: bridg}\n")
    code, out, err = run(capsys, "export", str(path), "--to", "ip", "-o",
                         str(tmp_path / "x.sh"))
    assert code == 1 and out == "" and "bad.yaml:3:" in err
    assert not (tmp_path / "x.sh").exists()


def test_inline_secrets_refused_by_the_command_and_written_owner_only_when_asked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = written(tmp_path, "msec.yaml", _macsec('key: "00112233445566778899aabbccddeeff"'))
    target = tmp_path / "msec.sh"
    code, out, err = run(capsys, "export", str(path), "--to", "ip", "-o", str(target))
    assert code == 1 and "key_file" in err and "--include-secrets" in err
    assert "00112233" not in err + out and not target.exists()
    code, out, err = run(capsys, "export", str(path), "--to", "ip", "-o", str(target),
                         "--include-secrets")
    assert code == 0 and "readable by its owner only" in err
    assert stat.S_IMODE(target.stat().st_mode) & 0o077 == 0


def _left_out(topo: object, options: Options) -> Exported:
    return Exported(files={"x.sh": "#!/bin/sh\n"},
                    left_out=[LeftOut("interfaces[0].stp_state", "the target has no STP"),
                              LeftOut("routes[0]", "the target has no routes")])


def test_left_out_fields_are_listed_and_stop_the_export_unless_partial(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vnet.export.ip.export", _left_out)
    path = written(tmp_path, "small.yaml", SMALL)
    target = tmp_path / "out.sh"
    code, out, err = run(capsys, "export", str(path), "--to", "ip", "-o", str(target))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"left out: {path}:7:16: interfaces[0].stp_state: the target has no STP",
        f"left out: {path}:16:5: routes[0]: the target has no routes",
        f"2 thing(s) of {path} cannot be said to ip; nothing was written (--partial writes "
        "the rest)"]
    assert not target.exists()
    code, out, err = run(capsys, "export", str(path), "--to", "ip", "-o", str(target),
                         "--partial")
    assert code == 0 and target.read_text() == "#!/bin/sh\n"
    assert err.splitlines()[:2] == [
        f"left out: {path}:7:16: interfaces[0].stp_state: the target has no STP",
        f"left out: {path}:16:5: routes[0]: the target has no routes"]
    assert err.splitlines()[2] == f"{target}: ip export of small, 2 thing(s) left out"


def test_a_failed_write_leaves_the_old_file_whole(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = written(tmp_path, "small.yaml", SMALL)
    target = tmp_path / "small.sh"
    target.write_text("the old script\n")

    def no_rename(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", no_rename)
    code, out, err = run(capsys, "export", str(path), "--to", "ip", "-o", str(target))
    assert code == 1 and "cannot write" in err and "left as it was" in err
    assert target.read_text() == "the old script\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.sh", "small.yaml"]


def _three_files(topo: object, target: str, options: Options | None = None) -> Exported:
    return Exported(files={"10-a.netdev": "a\n", "10-a.network": "b\n", "20-c.network": "c\n"})


def test_a_directory_target_needs_o_and_is_written_whole(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vnet.export, "export", _three_files)
    path = written(tmp_path, "small.yaml", SMALL)
    code, _, err = run(capsys, "export", str(path), "--to", "networkd")
    assert code == 1 and "-o DIR" in err
    out_dir = tmp_path / "net"
    code, _, err = run(capsys, "export", str(path), "--to", "networkd", "-o", str(out_dir))
    assert code == 0 and err == f"{out_dir}: 3 file(s) of small\n"
    assert {p.name: p.read_text() for p in out_dir.iterdir()} == {
        "10-a.netdev": "a\n", "10-a.network": "b\n", "20-c.network": "c\n"}


def test_a_failed_directory_write_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vnet.export, "export", _three_files)
    path = written(tmp_path, "small.yaml", SMALL)
    real_open = open
    opened: list[str] = []

    def failing_open(file: str, *args: object, **kwargs: object) -> object:
        if str(file).endswith("network") or "network." in str(file):
            opened.append(str(file))
            if len(opened) == 2:
                raise OSError(28, "No space left on device")
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]
    monkeypatch.setattr("builtins.open", failing_open)
    fresh = tmp_path / "fresh"
    code, _, err = run(capsys, "export", str(path), "--to", "networkd", "-o", str(fresh))
    assert code == 1 and "nothing was written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.yaml"]
    opened.clear()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "10-a.network").write_text("old\n")
    code, _, err = run(capsys, "export", str(path), "--to", "networkd", "-o", str(existing))
    assert code == 1 and "nothing was written" in err
    assert {p.name: p.read_text() for p in existing.iterdir()} == {"10-a.network": "old\n"}


def test_every_example_exports_to_ip(capsys: pytest.CaptureFixture[str]) -> None:
    """No example is left out of the ip target (but what iproute2 cannot set: WireGuard's
    configuration), each script is valid sh, and no inline key
    reaches a script unless asked."""
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        topo = load_file(path)
        result = export(topo, "ip", Options(include_secrets=True))
        # only what iproute2 cannot set at all (WireGuard's keys and peers: `wg set`)
        other_tools = {f"{e.path}.{name}" for e in topo.endpoints()
                       for name, _ in e.not_exported()}
        assert [e for e in result.left_out if e.path not in other_tools] == [], path.name
        [text] = result.files.values()
        subprocess.run(["sh", "-n"], input=text, text=True, check=True)
        if inline_secrets(topo):
            with pytest.raises(ExportError):
                export(topo, "ip", Options())
