"""macsec on a real kernel (the VM tier): the state equals the reference `ip link add ... type
macsec` + `ip macsec add ...` commands; two namespaces ping over MACsec with matching keys and
cannot with a wrong key; a key change is planned (as "(changed)") and applied; no output of
plan, apply, show, --json or an error ever contains a key."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import vnet
from vnet import cli
from vnet.errors import VnetError

from .helpers import CommandError, ip_json, require_kind, sh
from .reference import diff_text, snapshot_all

pytestmark = pytest.mark.kind("macsec")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "macsec.yaml").read_text()
KEY_A = "0123456789abcdef0123456789abcdef"
KEY_B = "fedcba9876543210fedcba9876543210"
WRONG = "00112233445566778899aabbccddeeff"
MAC_A, MAC_B = "02:00:00:00:5a:01", "02:00:00:00:5a:02"
IFACES = [("msa", "macsec-a"), ("msb", "macsec-b"), ("msa", "wire-a"), ("msb", "wire-b")]


def _end(ns: str, name: str, wire: str, addr: str, tx_id: str, tx_key: str, peer_mac: str,
         rx_id: str, rx_key: str) -> list[list[str]]:
    ip = ["ip", "-n", ns]
    return [
        [*ip, "link", "add", "link", wire, "name", name, "type", "macsec", "port", "1",
         "cipher", "gcm-aes-128", "encrypt", "on", "replay", "on", "window", "32", "validate",
         "strict", "encodingsa", "0"],
        [*ip, "macsec", "add", name, "tx", "sa", "0", "pn", "1", "on", "key", tx_id, tx_key],
        [*ip, "macsec", "add", name, "rx", "port", "1", "address", peer_mac],
        [*ip, "macsec", "add", name, "rx", "port", "1", "address", peer_mac, "sa", "0", "pn",
         "1", "on", "key", rx_id, rx_key],
        [*ip, "addr", "add", addr, "dev", name],
        [*ip, "link", "set", wire, "up"],
        [*ip, "link", "set", name, "up"],
    ]


REFERENCE_CMDS = [
    ["ip", "link", "add", "wire-a", "netns", "msa", "address", MAC_A, "type", "veth", "peer",
     "name", "wire-b", "netns", "msb", "address", MAC_B],
    *_end("msa", "macsec-a", "wire-a", "198.51.100.1/24", "01", KEY_A, MAC_B, "02", KEY_B),
    *_end("msb", "macsec-b", "wire-b", "198.51.100.2/24", "02", KEY_B, MAC_A, "01", KEY_A),
]


def _pings(source_ns: str, address: str) -> bool:
    try:
        sh("ping", "-c", "2", "-i", "0.2", "-W", "1", address, netns=source_ns)
    except CommandError:
        return False
    return True


def _strip(value: Any) -> Any:
    """`ip -j macsec show` without what traffic changes (packet numbers, counters) or what
    differs between two creations (ifindex)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()
                if k not in ("pn", "ifindex", "stats") and not k.startswith("Out")
                and not k.startswith("In")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _macsec_state() -> dict[str, Any]:
    return {ns: _strip(ip_json("macsec", "show", netns=ns)) for ns in ("msa", "msb")}


def _state() -> dict[str, Any]:
    return {"links": snapshot_all(IFACES, keep_mac=True), "macsec": _macsec_state()}


@pytest.fixture(autouse=True)
def _needs_macsec() -> None:
    require_kind("veth")
    require_kind("macsec")


def test_macsec_matches_ip_reference() -> None:
    for ns in ("msa", "msb"):
        sh("ip", "netns", "add", ns)
    for cmd in REFERENCE_CMDS:
        sh(*cmd)
    expected = _state()
    for ns in ("msa", "msb"):
        sh("ip", "netns", "del", ns)
    assert expected["macsec"]["msa"], "the reference made no macsec device"
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        actual = _state()
        assert not topo.plan().has_changes
    finally:
        topo.destroy()
    assert expected == actual, diff_text(expected, actual)


def test_ping_over_macsec_and_not_with_a_wrong_key() -> None:
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        assert _pings("msa", "198.51.100.2")
        assert not topo.plan().has_changes
        # b receives a's frames with a key a does not send with
        head, _, tail = EXAMPLE.rpartition(KEY_A)  # the last one: b's RX SA for a's frames
        wrong = vnet.load_text(head + WRONG + tail)
        plan = wrong.plan()
        assert [(a.verb, a.subject) for a in plan.actions] == [
            ("replace", "macsec rx sa 0 of channel 020000005a010001 on msb/macsec-b")]
        assert plan.actions[0].diff == {"key": ("(set)", "(changed)")}
        wrong.apply()
        assert not wrong.plan().has_changes
        assert not _pings("msa", "198.51.100.2")
        topo.apply()  # back to the right key: a change again, and traffic again
        assert not topo.plan().has_changes
        assert _pings("msa", "198.51.100.2")
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""


def test_keys_never_appear_in_any_output(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    for name, key in (("a.hex", KEY_A), ("b.hex", KEY_B)):
        (keys / name).write_text(key + "\n")
        os.chmod(keys / name, 0o600)
    text = EXAMPLE.replace(f'key: "{KEY_A}"', "key_file: keys/a.hex").replace(
        f'key: "{KEY_B}"', "key_file: keys/b.hex")
    assert KEY_A not in text and KEY_B not in text
    path = tmp_path / "macsec.yaml"
    path.write_text(text)
    outputs: list[str] = []

    def run(*argv: str) -> int:
        code = cli.main(list(argv))
        out = capsys.readouterr()
        outputs.append(out.out + out.err)
        return code

    assert run("plan", str(path)) == 2
    assert run("plan", "--json", str(path)) == 2
    assert run("apply", str(path)) == 0
    try:
        assert run("plan", str(path)) == 0
        assert run("show", "macsec-demo") == 0
        assert run("show", "--json", "macsec-demo") == 0
        json.loads(outputs[-1])
        (keys / "b.hex").write_text(WRONG + "\n")  # a key change, planned without values
        assert run("plan", str(path)) == 2
        assert "(changed)" in outputs[-1]
        assert run("plan", "--json", str(path)) == 2
        assert run("apply", str(path)) == 0
        # errors: a key of the wrong length, and an unowned device in the way
        (keys / "b.hex").write_text(KEY_B[:-2] + "\n")
        assert run("plan", str(path)) == 1
        assert "needs 16 bytes" in outputs[-1]
        assert run("validate", "--json", str(path)) == 1
        sh("ip", "-n", "msa", "link", "del", "macsec-a")
        (keys / "b.hex").write_text(KEY_B + "\n")
        sh("ip", "-n", "msa", "link", "add", "link", "wire-a", "name", "macsec-a", "type",
           "macsec", "port", "1")  # not vnet's: a conflict, not an apply
        assert run("apply", str(path)) == 1
        sh("ip", "-n", "msa", "link", "del", "macsec-a")
        with pytest.raises(VnetError) as info:
            vnet.load_text(EXAMPLE.replace(KEY_A, KEY_A + "zz"))
        outputs.append(str(info.value) + repr(info.value))
        topo = vnet.load_file(path)
        outputs.append(repr(topo) + repr(topo.plan().actions) + repr(topo.interfaces))
    finally:
        assert run("destroy", "macsec-demo") == 0
    everything = "\n".join(outputs)
    assert "(changed)" in everything and "macsec-a" in everything
    for key in (KEY_A, KEY_B, WRONG, KEY_B[:-2]):
        for form in (key, key.upper(), ":".join(key[i:i + 2] for i in range(0, len(key), 2))):
            assert form not in everything, f"a key appeared in vnet's output: {form[:6]}..."
    for name in os.listdir("/run/vnet"):
        data = Path("/run/vnet", name).read_text() if Path("/run/vnet", name).is_file() else ""
        assert KEY_A not in data and KEY_B not in data
