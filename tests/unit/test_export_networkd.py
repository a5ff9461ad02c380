"""`vnet export --to networkd` and `--to netplan` without a kernel: the exact text for a small
topology, what each leaves out (one line each, with file:line:col), the secret rule, and which
examples have a namespace the target writes whole (the live tests prove those)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vnet
from vnet.export import ExportError, Options, export

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SMALL = """\
name: small
interfaces:
  - {name: br0, kind: bridge, stp_state: false, forward_delay: 400,
     addresses: [192.0.2.1/24, "2001:db8::1/64"]}
  - {name: p0, kind: veth, master: br0, mtu: 9000, peer: {name: p1, state: down}}
  - {name: br0.5, kind: vlan, link: br0, id: 5}
routes:
  - {to: default, via: 192.0.2.254}
"""

SMALL_FILES = {
    "10-br0.netdev": """\
# small.yaml: interfaces[0] (vnet export)

[NetDev]
Name=br0
Kind=bridge
MACAddress=none

[Bridge]
STP=no
ForwardDelaySec=4000ms
""",
    "10-br0.network": """\
# small.yaml: interfaces[0] (vnet export)

[Match]
Name=br0

[Network]
VLAN=br0.5
LinkLocalAddressing=ipv6
ConfigureWithoutCarrier=yes

[Address]
Address=192.0.2.1/24
Broadcast=no

[Address]
Address=2001:db8::1/64
DuplicateAddressDetection=none

[Route]
Gateway=192.0.2.254
""",
    "10-p0.netdev": """\
# small.yaml: interfaces[1] (vnet export)

[NetDev]
Name=p0
Kind=veth
MACAddress=none

[Peer]
Name=p1
""",
    "10-p0.network": """\
# small.yaml: interfaces[1] (vnet export)

[Match]
Name=p0

[Link]
MTUBytes=9000

[Network]
Bridge=br0
LinkLocalAddressing=ipv6
ConfigureWithoutCarrier=yes
""",
    "10-p1.network": """\
# small.yaml: interfaces[1].peer (vnet export)

[Match]
Name=p1

[Link]
ActivationPolicy=down

[Network]
LinkLocalAddressing=ipv6
ConfigureWithoutCarrier=yes
""",
    "10-br0.5.netdev": """\
# small.yaml: interfaces[2] (vnet export)

[NetDev]
Name=br0.5
Kind=vlan
MACAddress=none

[VLAN]
Id=5
""",
    "10-br0.5.network": """\
# small.yaml: interfaces[2] (vnet export)

[Match]
Name=br0.5

[Network]
LinkLocalAddressing=ipv6
ConfigureWithoutCarrier=yes
""",
}


def _load(tmp_path: Path, text: str, name: str = "small.yaml") -> vnet.Topology:
    path = tmp_path / name
    path.write_text(text)
    return vnet.load_file(path)


def test_small_topology_text(tmp_path: Path) -> None:
    out = export(_load(tmp_path, SMALL), "networkd")
    assert out.left_out == []
    assert out.files == SMALL_FILES


MIXED = """\
name: mixed
namespaces: [a, b]
interfaces:
  - {name: t0, kind: team, netns: a, runner: activebackup}
  - {name: m0, kind: veth, netns: a, addresses: [203.0.113.2/24], peer: {name: m1, netns: b}}
  - {name: mv0, kind: macvlan, netns: a, link: u0, link_netns: a, mode: passthru,
     flag: nopromisc}
  - {name: u0, kind: veth, netns: a, peer: {name: u1, netns: a}, master: t0}
  - {name: x0, kind: dummy, netns: b, addresses: [192.0.2.1/24]}
routes:
  - {netns: a, to: 10.0.0.0/8, via: 203.0.113.1}
checks:
  - {from: a, ping: 192.0.2.1}
"""


def test_left_out_one_line_each_with_position(tmp_path: Path) -> None:
    topo = _load(tmp_path, MIXED, "mixed.yaml")
    out = export(topo, "networkd", Options(netns="a"))
    where = str(tmp_path / "mixed.yaml")
    assert [entry.line(topo) for entry in out.left_out] == [
        f"{where}:2:17: namespaces[1]: networkd configures one namespace; export that "
        "namespace with its own --netns",
        f"{where}:4:5: interfaces[0]: networkd 252 cannot create a team",
        f"{where}:5:5: interfaces[1]: a veth with its other end in namespace b: networkd "
        "makes both ends in one namespace",
        f"{where}:7:12: interfaces[2].flag: networkd 252 has no key for the macvlan "
        "option flag",
        f"{where}:8:74: interfaces[3].master: the master t0 is left out",
        f"{where}:9:5: interfaces[4]: in namespace b, not the one exported; export that "
        "namespace with its own --netns",
        f"{where}:11:5: routes[0]: networkd attaches a route to a link's .network; give the "
        "route a dev: in the exported namespace",
        f"{where}:13:5: checks[0]: networkd has no checks; run them with vnet check",
    ]
    assert sorted(out.files) == ["10-mv0.netdev", "10-mv0.network", "10-u0.netdev",
                                 "10-u0.network", "10-u1.network"]
    assert "MACVLAN=mv0" in out.files["10-u0.network"]


def test_unknown_netns_is_refused(tmp_path: Path) -> None:
    topo = _load(tmp_path, MIXED, "mixed.yaml")
    for target in ("networkd", "netplan"):
        with pytest.raises(ExportError, match="--netns c: the file declares no such "
                                              "namespace \\(declared: a, b\\)"):
            export(topo, target, Options(netns="c"))


MACSEC = """\
name: ms
interfaces:
  - {name: w0, kind: veth, peer: {name: w1}}
  - name: ms0
    kind: macsec
    link: w0
    port: 1
    tx_sa: [{an: 0, key_id: "01", key: "00112233445566778899aabbccddeeff"}]
    rx: [{address: "02:00:00:00:00:02", sa: [{an: 0, key_id: "02", key_file: rx.key}]}]
"""


def test_inline_key_needs_include_secrets(tmp_path: Path) -> None:
    (tmp_path / "rx.key").write_text("ffeeddccbbaa99887766554433221100\n")
    (tmp_path / "rx.key").chmod(0o600)
    topo = _load(tmp_path, MACSEC, "ms.yaml")
    with pytest.raises(ExportError) as refused:
        export(topo, "networkd")
    message = str(refused.value)
    assert "interfaces[1].tx_sa[0].key" in message and "key_file" in message
    assert "--include-secrets" in message and "00112233" not in message
    netdev = export(topo, "networkd", Options(include_secrets=True)).files["10-ms0.netdev"]
    assert "[MACsecTransmitAssociation]\nPacketNumber=1\nKeyId=1\n" \
           "Key=00112233445566778899aabbccddeeff\nActivate=yes\n" in netdev
    # a key file is referenced, never copied
    assert f"KeyId=2\nKeyFile={tmp_path / 'rx.key'}\n" in netdev
    assert "ffeeddcc" not in netdev


#: example -> the namespaces networkd writes whole (nothing of theirs left out); the live
#: tier runs networkd on each (but macvlan's: its host links are the parents of macvlans in
#: other namespaces, which make them promiscuous, so networkd alone cannot give that state)
WHOLE = {"dummy": ["lab"], "ipvlan-l3": ["host"], "ipvlan": ["host"], "ipvtap": ["host"],
         "macvlan": ["host"], "macvtap": ["host"], "nlmon": ["mon"], "tap": ["vmhost"],
         "tun": ["vpn"], "vcan": ["can"]}
_ELSEWHERE = ("not the one exported", "configures one namespace", "has no checks")


@pytest.mark.parametrize("target, expected", [("networkd", WHOLE), ("netplan", {})])
def test_which_examples_a_target_writes_whole(target: str, expected: dict) -> None:
    whole: dict[str, list[str | None]] = {}
    for path in sorted(EXAMPLES.glob("*.yaml")):
        topo = vnet.load_file(path)
        for netns in [None, *topo.namespaces]:
            out = export(topo, target, Options(netns=netns))
            own = [e for e in out.left_out if not any(w in e.why for w in _ELSEWHERE)]
            holds = any(end.netns == netns for i in topo.interfaces for end in i.expand())
            if holds and not own:
                whole.setdefault(path.stem, []).append(netns)
    assert whole == expected


def test_netplan_small_topology(tmp_path: Path) -> None:
    topo = _load(tmp_path, SMALL)
    out = export(topo, "netplan")
    assert [entry.line(topo).split(": ", 1)[1] for entry in out.left_out] == [
        "interfaces[1]: netplan 0.106 cannot create a veth"]
    assert out.files == {"vnet.yaml": """\
# small.yaml: small (vnet export)
network:
  version: 2
  renderer: networkd
  bridges:
    br0:
      interfaces: []
      parameters:
        stp: false
        forward-delay: 4000ms
      addresses:
      - 192.0.2.1/24
      - 2001:db8::1/64
      link-local:
      - ipv6
      ignore-carrier: true
      routes:
      - to: default
        via: 192.0.2.254
  vlans:
    br0.5:
      link: br0
      id: 5
      link-local:
      - ipv6
      ignore-carrier: true
"""}


ROUTES = """\
name: routes
interfaces:
  - {name: br0, kind: bridge, addresses: [192.0.2.1/24]}
routes:
  - {to: 10.1.0.0/16, dev: br0}
  - {to: 10.2.0.0/16, via: 192.0.2.9, metric: 5, table: 100}
"""


def test_route_without_gateway_has_the_link_scope_vnet_gives_it(tmp_path: Path) -> None:
    topo = _load(tmp_path, ROUTES, "routes.yaml")
    network = export(topo, "networkd").files["10-br0.network"]
    # networkd's own scope for a route without gateway is link, as vnet's and ip's
    assert "[Route]\nDestination=10.1.0.0/16\n\n" in network + "\n"
    assert "Scope=" not in network
    assert "[Route]\nDestination=10.2.0.0/16\nGateway=192.0.2.9\nMetric=5\nTable=100\n" \
        in network
    out = export(topo, "netplan")
    assert out.left_out == []
    assert "- to: 10.1.0.0/16\n" in out.files["vnet.yaml"]
    assert "- to: 10.2.0.0/16\n        via: 192.0.2.9\n        metric: 5\n        table: 100\n" \
        in out.files["vnet.yaml"]


VLANS = """\
name: vlans
interfaces:
  - {name: br0, kind: bridge, vlan_filtering: true}
  - {name: p0, kind: veth, master: br0, vlans: [{vid: 10, pvid: true, untagged: true}],
     peer: {name: p1}}
"""


def test_vlan_1_kept_by_networkd_is_said(tmp_path: Path) -> None:
    topo = _load(tmp_path, VLANS, "vlans.yaml")
    out = export(topo, "networkd")
    assert [entry.line(topo).split(": ", 1)[1] for entry in out.left_out] == [
        "interfaces[1].vlans: networkd 252 keeps the VLAN 1 a bridge gives its ports and "
        "itself, which vnet removes; list vid 1, or set vlan_default_pvid: 0 on the bridge"]
    assert "[BridgeVLAN]\nVLAN=10\nPVID=10\nEgressUntagged=10\n" in out.files["10-p0.network"]
    fixed = _load(tmp_path, VLANS.replace("vlan_filtering: true", "vlan_filtering: true, "
                                          "vlan_default_pvid: 0"), "fixed.yaml")
    out = export(fixed, "networkd")
    assert out.left_out == [] and "DefaultPVID=none\n" in out.files["10-br0.netdev"]
