"""`via: wireguard`: a veth across hosts split into a WireGuard link on each side, with keys
derived from the topology's secret (stable: a second plan is empty), ports and MTUs; the keys
kept out of the plan's notes, the parts sent to the hosts, plans and show, and back in the
host's topology only through the module's hidden parameter."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from vnet import api
from vnet.door.fake import FakeKernel
from vnet.errors import TopologyError, VnetError
from vnet.hosts import runner, target
from vnet.hosts.split import derive_private_key, public_key, split_topology
from vnet.kinds.wireguard import Wireguard
from vnet.loader import load_text
from vnet.render.plan_text import plan_lines

SECRET = bytes(range(32))

FILE = """\
name: wgtwo
hosts:
  - {name: a, underlay: 198.51.100.11}
  - {name: b, underlay: 198.51.100.12}
namespaces:
  - {name: n1, host: a}
interfaces:
  - name: w1
    kind: veth
    netns: n1
    via: wireguard
    addresses: [10.8.0.1/24]
    peer: {name: w2, host: b, addresses: [10.8.0.2/24]}
"""


def _split(text: str = FILE, secret: bytes = SECRET):  # type: ignore[no-untyped-def]
    return split_topology(load_text(text, "t.yaml"), wireguard_secret=secret)


def _wg(part: object, name: str) -> Wireguard:
    [found] = [i for i in part.interfaces if i.name == name]  # type: ignore[attr-defined]
    assert isinstance(found, Wireguard)
    return found


def _privates(split: object) -> list[str]:
    out = []
    for part in split.hosts.values():  # type: ignore[attr-defined]
        for iface in part.interfaces:
            if isinstance(iface, Wireguard) and iface.secret is not None:
                out.append(iface.secret.get_secret_value())
    return out


def test_each_end_becomes_a_wireguard_link_whose_peer_is_the_other_host() -> None:
    split = _split()
    [tunnel] = split.tunnels
    w1, w2 = _wg(split.hosts["a"], "w1"), _wg(split.hosts["b"], "w2")
    # the end in a namespace is made where the underlay is (its socket stays there)
    assert w1.netns == "n1" and "socket_netns" in w1.model_fields_set and w1.socket_netns is None
    assert w2.netns is None and "socket_netns" not in w2.model_fields_set
    assert [i.name for i in split.hosts["a"].interfaces] == ["w1"]  # no helper links
    assert w1.listen_port == w2.listen_port == tunnel.port and 51820 <= tunnel.port < 61820
    assert w1.peers[0].endpoint == f"198.51.100.12:{tunnel.port}"
    assert w2.peers[0].endpoint == f"198.51.100.11:{tunnel.port}"
    assert w1.peers[0].allowed_ips == w2.peers[0].allowed_ips == ["0.0.0.0/0", "::/0"]
    # each one's peer is the other's public key
    assert w1.secret is not None and w2.secret is not None
    assert w1.peers[0].public_key == public_key(base64.b64decode(w2.secret.get_secret_value()))
    assert w2.peers[0].public_key == public_key(base64.b64decode(w1.secret.get_secret_value()))
    assert w1.addresses == ["10.8.0.1/24"] and w2.addresses == ["10.8.0.2/24"]
    # 1500 on the underlay less 60 bytes of WireGuard over IPv4
    assert (w1.mtu, w2.mtu, tunnel.lowered) == (1440, 1440, True)


def test_keys_are_stable_for_one_secret_and_differ_for_another() -> None:
    first, again = _privates(_split()), _privates(_split())
    assert first == again and len(set(first)) == 2
    assert set(_privates(_split(secret=bytes(32)))).isdisjoint(first)
    # a key the kernel keeps as it is given: clamped X25519
    raw = derive_private_key(SECRET, "x")
    assert raw[0] & 7 == 0 and raw[31] & 0x80 == 0 and raw[31] & 0x40


def test_mtu_over_ipv6_and_a_jumbo_underlay() -> None:
    v6 = FILE.replace("198.51.100.11", "2001:db8::11").replace("198.51.100.12", "2001:db8::12")
    split = _split(v6)
    assert split.tunnels[0].mtu == 1420
    assert _wg(split.hosts["a"], "w1").peers[0].endpoint.startswith("[2001:db8::12]:")
    jumbo = FILE.replace("198.51.100.11}", "198.51.100.11, mtu: 9000}").replace(
        "198.51.100.12}", "198.51.100.12, mtu: 9000}")
    tunnel = _split(jumbo).tunnels[0]
    assert (tunnel.mtu, tunnel.lowered) == (1500, False)  # said: WireGuard's own is 1420


def test_the_rules_of_a_wireguard_link_between_hosts() -> None:
    bad = FILE.replace("addresses: [10.8.0.1/24]", "addresses: [10.8.0.1/24]\n    mtu: 1460\n"
                       "    mac: 02:00:00:00:00:01")
    with pytest.raises(TopologyError) as info:
        load_text(bad, "t.yaml")
    text = str(info.value)
    assert "the encapsulation takes 60" in text and "set mtu: 1440 or less" in text
    assert "it has no MAC and cannot be a bridge port" in text


def test_without_the_secret_the_split_says_to_run_across_hosts() -> None:
    with pytest.raises(TopologyError) as info:
        split_topology(load_text(FILE, "t.yaml"))
    assert "--inventory" in str(info.value) and "interfaces[0].via" in str(info.value)


def test_keys_never_in_notes_parts_plans_or_show() -> None:
    split = _split()
    keys = _privates(split)
    said = "\n".join(split.notes())
    assert "WireGuard, UDP" in said and "keys derived from the topology's secret" in said
    secrets: dict[str, str] = {}
    part = runner.part_data(split.hosts["a"], secrets)
    sent = json.dumps(part)
    mine = _wg(split.hosts["a"], "w1").secret
    assert mine is not None and secrets == {"s0": mine.get_secret_value()}
    for key in keys:
        assert key not in said and key not in sent and key[:16] not in sent
    assert '{"vnet_secret": "s0"}' in sent
    # on the host: the placeholders filled from the hidden parameter, then plan and show
    topo = target.load(topology=part, secrets=secrets)
    wg = _wg(topo, "w1")
    assert wg.secret is not None and wg.secret.get_secret_value() in keys
    fake = FakeKernel()
    outcome = target.converge("present", topo, backend=fake)
    assert not outcome.failed, outcome.msg
    again = target.converge("present", target.load(topology=part, secrets=secrets),
                            backend=fake, check=True)
    assert again.changed is False, again.plan_text  # stable keys: nothing to do
    out = outcome.plan_text + json.dumps(outcome.as_result()) + "\n".join(
        line for _, line in plan_lines(api.plan(topo, fake))) + json.dumps(
        [r.as_dict() if hasattr(r, "as_dict") else str(r) for r in api.show(backend=fake)])
    for key in keys:
        assert key not in out and key[:16] not in out
    with pytest.raises(VnetError, match="does not hold"):
        target.load(topology=part, secrets={})


def test_the_secret_lives_beside_the_inventory(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[lab]\na\nb\n")
    topo = load_text(FILE, "t.yaml")
    first = runner.read_wireguard_secret(topo, inventory)
    path = runner.secret_file(topo, inventory)
    assert path == tmp_path / ".vnet-wgtwo.wireguard-secret"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert first is not None and len(first) == 32
    assert runner.read_wireguard_secret(topo, inventory) == first
    os.chmod(path, 0o640)
    with pytest.raises(VnetError, match="chmod 600"):
        runner.read_wireguard_secret(topo, inventory)
    plain = load_text(FILE.replace("    via: wireguard\n", ""), "t.yaml")
    assert runner.read_wireguard_secret(plain, tmp_path / "other.ini") is None
    assert not (tmp_path / ".vnet-wgtwo.wireguard-secret.tmp").exists()
