"""wireguard without a kernel: validation with positions, keys kept out of every output,
`ip`/`wg` commands, the generic netlink message the door sends, and plans against the fake
kernel (create, nothing twice, a changed peer or key in place, a removed peer)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

import vnet
from vnet import kinds
from vnet.door import wireguard as backend
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import Position, TopologyError
from vnet.kinds.wireguard import Wireguard
from vnet.plan import plan_changes
from vnet.render.plan_text import plan_lines

# throwaway X25519 keys made for this test (private, public)
PRIV_A, PUB_A = ("CGZ1MNu86mHHMHRz//aGHnVpWLio0BMVhfyr/vCJnnU=",
                 "P+i4vdeKUfsBqFlkhJnwm4pb9tGg0QgcReJVFbUZ2A4=")
PRIV_B, PUB_B = ("UEVG16aTu53i/EeT/MjOqop+ZLi1oEpW9hMJVVZPJ0c=",
                 "80W7mKJv7L3jUkfWBYaonZ3MUftj6nkTT2p9EGqXsgM=")
PSK = "IB53WwvShmsK/q4JlnWPzAhrcOppdpU/Uv6lP84rkGY="

HEAD = "name: wg\nnamespaces: [h1, h2]\ninterfaces:\n"


def text(private: str = PRIV_A, port: int = 51820, allowed: str = "10.9.0.2/32",
         endpoint: str = "198.51.100.2:51821", psk: str | None = None,
         keepalive: int | None = None, peer: str = PUB_B) -> str:
    extra = ""
    if psk is not None:
        extra += f"\n        preshared_key: {psk}"
    if keepalive is not None:
        extra += f"\n        persistent_keepalive: {keepalive}"
    return HEAD + textwrap.indent(textwrap.dedent(f"""\
        - name: wg0
          kind: wireguard
          netns: h1
          private_key: {private}
          listen_port: {port}
          addresses: [10.9.0.1/24]
          peers:
            - public_key: {peer}
              endpoint: {endpoint}
              allowed_ips: [{allowed}]"""), "  ") + extra + "\n"


def issues_of(body: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "), "wg.yaml")
    for issue in info.value.issues:
        assert isinstance(issue.where, Position) and issue.where.file == "wg.yaml", issue
    return [str(i) for i in info.value.issues]


def no_secret(out: str) -> None:
    for secret in (PRIV_A, PRIV_B, PSK, PRIV_A[:20], PSK[:20]):
        assert secret not in out


# ---- the registry and the file ----------------------------------------------------------------
def test_registry_knows_it_from_its_file() -> None:
    assert kinds.lookup("wireguard") is Wireguard
    assert kinds.by_kernel_kind("wireguard") is Wireguard
    assert Wireguard.kernel_modules() == [["wireguard"]]
    assert len(Wireguard.use_when.splitlines()) == 2
    link = Wireguard.probe_link()
    assert link.probe_request() == {"kind": "wireguard", "info_data": {}}
    assert link.ip_commands() == [["ip", "link", "add", "name", link.name, "type", "wireguard"]]


def test_schema_marks_the_keys_write_only() -> None:
    defs = vnet.json_schema()["$defs"]
    wg = next(d for d in defs.values()
              if d.get("properties", {}).get("kind", {}).get("const") == "wireguard")
    assert wg["properties"]["private_key"]["writeOnly"] is True
    peer = next(d for d in defs.values() if "preshared_key" in d.get("properties", {}))
    assert peer["properties"]["preshared_key"]["writeOnly"] is True


def test_values_are_normalised() -> None:
    topo = vnet.load_text(text(endpoint="198.51.100.2:51821", allowed="10.9.0.7/24"))
    wg = topo.interfaces[0]
    assert isinstance(wg, Wireguard)
    assert wg.peers[0].allowed_ips == ["10.9.0.0/24"]
    assert wg.peers[0].endpoint == "198.51.100.2:51821"


@pytest.mark.parametrize(("body", "words"), [
    ("- {name: w, kind: wireguard, private_key: 'no!pe'}", "is not base64"),
    ("- {name: w, kind: wireguard, private_key: 'AAAA'}", "is 3 bytes; a WireGuard key is 32"),
    ("- {name: w, kind: wireguard, peers: [{public_key: " + PUB_B + ", endpoint: "
     "'198.51.100.2'}]}", "is not ADDRESS:PORT"),
    ("- {name: w, kind: wireguard, peers: [{public_key: " + PUB_B + ", endpoint: "
     "'2001:db8::2:51820'}]}", "in brackets"),
    ("- {name: w, kind: wireguard, peers: [{public_key: " + PUB_B + ", allowed_ips: [x]}]}",
     "is not a network"),
    ("- {name: w, kind: wireguard, listen_port: 70000}", "less than or equal to 65535"),
    ("- {name: w, kind: wireguard, socket_netns: nowhere, netns: h1}",
     "namespace 'nowhere' is not declared"),
    ("- {name: w, kind: wireguard, socket_netns: h1}", "socket_netns is for a link in a"),
    ("- {name: w, kind: wireguard, peers: [{public_key: " + PUB_B + "}, {public_key: " + PUB_B +
     "}]}", "this peer is listed twice"),
    ("- {name: w, kind: wireguard, peers: [{public_key: " + PUB_A + ", allowed_ips: [0.0.0.0/0]}"
     ", {public_key: " + PUB_B + ", allowed_ips: [0.0.0.0/0]}]}", "to one peer only"),
])
def test_validation_errors_have_positions_and_fixes(body: str, words: str) -> None:
    found = issues_of(body)
    assert any(words in issue for issue in found), found


def test_a_bad_key_is_never_quoted() -> None:
    bad = PRIV_A[:-2] + "!!"
    found = " ".join(issues_of(f"- {{name: w, kind: wireguard, private_key: '{bad}'}}"))
    assert bad not in found and bad[:20] not in found


def test_key_file_is_read_and_must_be_private(tmp_path: Path) -> None:
    key = tmp_path / "wg.key"
    key.write_text(PRIV_A + "\n")
    os.chmod(key, 0o600)
    topo = tmp_path / "t.yaml"
    topo.write_text("name: wg\ninterfaces:\n  - {name: w, kind: wireguard, "
                    "private_key_file: wg.key}\n")
    wg = vnet.load(topo).interfaces[0]
    assert isinstance(wg, Wireguard) and wg.secret is not None
    assert wg.secret.get_secret_value() == PRIV_A
    os.chmod(key, 0o644)
    with pytest.raises(TopologyError) as info:
        vnet.load(topo)
    assert "chmod 600" in str(info.value) and PRIV_A not in str(info.value)


# ---- keys never reach any output ----------------------------------------------------------------
def test_keys_never_in_repr_dump_json_plan_or_ip_commands() -> None:
    topo = vnet.load_text(text(psk=PSK))
    wg = topo.interfaces[0]
    no_secret(repr(wg))
    no_secret(wg.model_dump_json())
    no_secret(json.dumps(wg.model_dump(mode="json")))
    plan = plan_changes(topo, FakeKernel().observe(Scope([None, "h1", "h2"])))
    no_secret("\n".join(line for _, line in plan_lines(plan)))
    no_secret(json.dumps([a.as_dict() for a in plan.actions]))
    assert wg.ip_commands() == [["ip", "-n", "h1", "link", "add", "name", "wg0", "type",
                                 "wireguard"]]


def test_export_refuses_inline_keys_and_never_writes_them() -> None:
    from vnet.export import Options, inline_secrets
    topo = vnet.load_text(text(psk=PSK))
    assert inline_secrets(topo) == ["interfaces[0].private_key",
                                    "interfaces[0].peers[0].preshared_key"]
    from vnet.export import ExportError
    from vnet.export.ip import export
    with pytest.raises(ExportError):
        export(topo, Options())
    done = export(topo, Options(include_secrets=True))
    no_secret("".join(done.files.values()))
    assert {e.path for e in done.left_out} >= {"interfaces[0].private_key",
                                               "interfaces[0].listen_port",
                                               "interfaces[0].peers"}


# ---- the door's message ----------------------------------------------------------------------
def test_set_peer_message_layout() -> None:
    from vnet.declare import SecretStr
    msg = backend.build_set(7, SecretStr(PRIV_A), 51820, 5, peer={
        "public_key": PUB_B, "endpoint": "[2001:db8::2]:51821", "allowed_ips": ["10.9.0.2/32"],
        "persistent_keepalive": 25, "preshared_key": SecretStr(PSK)})
    msg.encode()
    from pyroute2.netlink.generic.wireguard import wgmsg
    back = wgmsg(msg.data)
    back.decode()
    assert back.get_attr("WGDEVICE_A_IFINDEX") == 7
    assert back.get_attr("WGDEVICE_A_LISTEN_PORT") == 51820
    assert back.get_attr("WGDEVICE_A_FWMARK") == 5
    assert back.get_attr("WGDEVICE_A_PRIVATE_KEY") == PRIV_A.encode()
    state = backend.parse_device([back], "wg0")
    peer = state.peers[PUB_B]
    assert peer.endpoint == "[2001:db8::2]:51821"
    assert peer.allowed_ips == ("10.9.0.2/32",)
    assert peer.persistent_keepalive == 25
    assert peer.psk_fingerprint is not None and PSK not in peer.psk_fingerprint
    assert state.key_fingerprint is not None


# ---- plans on the fake kernel -----------------------------------------------------------------
def _plan(fake: FakeKernel, body: str) -> Any:
    return plan_changes(vnet.load_text(body), fake.observe(Scope([None, "h1", "h2"])))


def _applied(fake: FakeKernel, body: str) -> Any:
    plan = _plan(fake, body)
    fake.send([r for a in plan.actions for r in a.do])
    return plan


def test_create_configures_after_the_link_and_a_second_plan_is_empty() -> None:
    fake = FakeKernel()
    plan = _applied(fake, text(psk=PSK, keepalive=25))
    ops = [r.op for a in plan.actions for r in a.do]
    assert ops.index("link.add") < ops.index("wireguard.set") < ops.index("wireguard.set_peer")
    state = fake.namespaces["h1"].wireguard["wg0"]
    assert state.listen_port == 51820 and set(state.peers) == {PUB_B}
    assert _plan(fake, text(psk=PSK, keepalive=25)).actions == []


def test_changed_peer_changes_in_place() -> None:
    fake = FakeKernel()
    _applied(fake, text())
    index = fake.namespaces["h1"].links["wg0"].index
    plan = _plan(fake, text(allowed="10.9.0.0/24", endpoint="198.51.100.3:51821", keepalive=5))
    assert [(a.verb, a.subject) for a in plan.actions] == [
        ("change", f"wireguard peer {PUB_B[:10]}... on h1/wg0")]
    assert plan.actions[0].diff == {
        "endpoint": ("198.51.100.2:51821", "198.51.100.3:51821"),
        "allowed_ips": (["10.9.0.2/32"], ["10.9.0.0/24"]),
        "persistent_keepalive": (0, 5)}
    assert plan.actions[0].undo[0].args["allowed_ips"] == ["10.9.0.2/32"]
    fake.send([r for a in plan.actions for r in a.do])
    assert fake.namespaces["h1"].links["wg0"].index == index  # the same link
    assert _plan(fake, text(allowed="10.9.0.0/24", endpoint="198.51.100.3:51821",
                            keepalive=5)).actions == []


def test_changed_keys_and_port_are_shown_without_values() -> None:
    fake = FakeKernel()
    _applied(fake, text(psk=PSK))
    plan = _plan(fake, text(private=PRIV_B, port=51900))
    diffs = {a.subject: a.diff for a in plan.actions}
    assert diffs["wireguard device h1/wg0"] == {"private_key": ("(set)", "(changed)"),
                                                "listen_port": (51820, 51900)}
    assert diffs[f"wireguard peer {PUB_B[:10]}... on h1/wg0"] == {
        "preshared_key": ("(set)", "(none)")}
    device = next(a for a in plan.actions if a.subject == "wireguard device h1/wg0")
    assert "previous private key" in device.undo_gap
    no_secret("\n".join(line for _, line in plan_lines(plan)))
    fake.send([r for a in plan.actions for r in a.do])
    assert _plan(fake, text(private=PRIV_B, port=51900)).actions == []


def test_a_peer_of_another_key_replaces_the_old_one() -> None:
    fake = FakeKernel()
    _applied(fake, text())
    plan = _plan(fake, text(peer=PUB_A))
    assert sorted((a.verb, a.subject) for a in plan.actions) == [
        ("create", f"wireguard peer {PUB_A[:10]}... on h1/wg0"),
        ("remove", f"wireguard peer {PUB_B[:10]}... on h1/wg0")]
    fake.send([r for a in plan.actions for r in a.do])
    assert set(fake.namespaces["h1"].wireguard["wg0"].peers) == {PUB_A}
    assert _plan(fake, text(peer=PUB_A)).actions == []


def test_made_in_another_namespace_asks_the_door_so() -> None:
    body = HEAD + "  - {name: wg0, kind: wireguard, netns: h1, socket_netns: null}\n"
    plan = _plan(FakeKernel(), body)
    add = next(r for a in plan.actions for r in a.do if r.op == "link.add")
    assert add.args["made_in"] == {"netns": None}
    wg = vnet.load_text(body).interfaces[0]
    assert wg.ip_commands()[0] == ["ip", "link", "add", "name", "wg0", "netns", "h1", "type",
                                   "wireguard"]
    plain = HEAD + "  - {name: wg0, kind: wireguard, netns: h1}\n"
    add = next(r for a in _plan(FakeKernel(), plain).actions for r in a.do
               if r.op == "link.add")
    assert "made_in" not in add.args


def test_an_unclamped_private_key_compares_as_the_kernel_keeps_it() -> None:
    import base64
    raw = bytearray(base64.b64decode(PRIV_A))
    raw[0] |= 7  # the kernel clears these bits (and sets bit 254) when it takes the key
    unclamped = base64.b64encode(bytes(raw)).decode()
    fake = FakeKernel()
    _applied(fake, text(private=unclamped))
    assert _plan(fake, text(private=unclamped)).actions == []
    assert _plan(fake, text(private=PRIV_A)).actions == []  # the same key, for the kernel
