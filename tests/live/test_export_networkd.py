"""`vnet export --to networkd`, proven by networkd itself: the files it writes, given to
Debian's systemd-networkd in a fresh sandbox (networkd.py), make the same links, kinds,
options, masters, MTUs, states, addresses and routes as `vnet apply` of the same file, compared
field by field (reference.snapshot: ifindexes, random MACs and vnet's marks aside), with the
routes (but the kernel's own) and the bridge VLANs (networkd.state_of).

networkd configures one namespace. For each example the namespace exported is the one that
networkd writes whole (tests/unit/test_export_networkd.py, WHOLE, keeps that list true as the
examples change). Not reproduced through networkd, because each of their namespaces holds an
object networkd cannot make there: bond, bridge, bridge-vlan, geneve, lab, macsec,
macsec-wrong-key, veth, vlan, vxcan and vxlan (a veth or vxcan whose peer is in another
namespace), ifb (that too, and tc's ingress redirect), team (no networkd kind), ipoib (no
InfiniBand device, and umcast has no key); and macvlan, whose host namespace networkd writes
whole, but whose host links vnet makes promiscuous through the macvlans of the other namespaces
stacked on them.

One field is set aside where networkd decides it and no key says otherwise: networkd gives bond
ports and nlmon links the IPv6 address generation mode "none" (systemd's networkd-ipv6ll.c:
it never makes a link-local address there), where the kernel, and so `vnet apply`, leaves
"eui64". Everywhere else `LinkLocalAddressing=ipv6` keeps the kernel's mode, and it is compared.
A bond port's permanent MAC (info_slave_data.perm_hwaddr) is random, as its MAC is.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Any

import pytest

import vnet
from vnet.export import Options, export

from .helpers import require_kind
from .networkd import Normalise, networkd_result, state_of
from .reference import diff_text
from .test_examples import EXAMPLES, _kinds_of, _require_kinds

#: example -> the namespace exported (everything of it is reproduced)
REPRODUCED = {
    "dummy": "lab", "ipvlan": "host", "ipvlan-l3": "host", "ipvtap": "host",
    "macvtap": "host", "nlmon": "mon", "tap": "vmhost", "tun": "vpn",
    "vcan": "can",
}


def _param(stem: str) -> object:
    path = EXAMPLES / f"{stem}.yaml"
    return pytest.param(stem, id=stem, marks=[pytest.mark.kind(*_kinds_of(path))])


def _networkd_names(files: dict[str, str]) -> list[str]:
    return sorted(name[3:-len(".network")] for name in files if name.endswith(".network"))


def vnet_state(topo: vnet.Topology, netns: str | None, normalise: Normalise) -> dict:
    """`state_of` namespace `netns` after `vnet apply` of `topo`; destroyed after."""
    topo.apply()
    try:
        return state_of(netns, normalise)
    finally:
        topo.destroy()


def networkd_policy_aside(state: dict[str, Any]) -> dict[str, Any]:
    """`state` without the address generation mode of bond ports and nlmon links."""
    out = {}
    for name, entry in state.items():
        link = dict(entry.get("link", {}))
        info = link.get("linkinfo", {})
        if info.get("info_slave_kind") == "bond" or info.get("info_kind") == "nlmon":
            link.pop("inet6_addr_gen_mode", None)
        if isinstance(info.get("info_slave_data"), dict):  # a bond port's own random MAC
            slave = {k: v for k, v in info["info_slave_data"].items() if k != "perm_hwaddr"}
            link["linkinfo"] = {**info, "info_slave_data": slave}
        out[name] = {**entry, "link": link} if "link" in entry else entry
    return out


def assert_networkd_reproduces(topo: vnet.Topology, netns: str | None) -> None:
    """networkd on the export of `netns` gives the state `vnet apply` gives there."""
    exported = export(topo, "networkd", Options(netns=netns))
    mine = [entry.line(topo) for entry in exported.left_out
            if "not the one exported" not in entry.why and "configures one namespace"
            not in entry.why and "has no checks" not in entry.why]
    assert not mine, "the export leaves out objects of the namespace it exports:\n" + \
        "\n".join(mine)
    expected = vnet_state(topo, netns, networkd_policy_aside)
    names = _networkd_names(exported.files)
    result = networkd_result(exported.files, names, expected, normalise=networkd_policy_aside)
    failed = {name: result["states"].get(name) for name in names
              if result["states"].get(name) not in ("configured", "configuring")}
    assert not failed, f"networkd did not configure {failed}:\n{result['log']}"
    if expected != result["state"]:
        raise AssertionError(
            "networkd on the exported files differs from vnet apply:\n"
            + diff_text(expected, result["state"], "vnet apply", "systemd-networkd")
            + "\n--- the files:\n" + "\n".join(f"## {k}\n{v}" for k, v in
                                                 sorted(exported.files.items()))
            + "\n--- networkd's log:\n" + result["log"])


@pytest.mark.parametrize("stem", [_param(stem) for stem in sorted(REPRODUCED)])
def test_example_through_networkd(stem: str) -> None:
    path = EXAMPLES / f"{stem}.yaml"
    _require_kinds(path)
    assert_networkd_reproduces(vnet.load_file(path), REPRODUCED[stem])


HOST_KINDS = """
name: nd-host
interfaces:
  - {name: br0, kind: bridge, stp_state: false, ageing_time: 6000, forward_delay: 400,
     mcast_snooping: false, priority: 4096,
     addresses: [192.0.2.1/24, 2001:db8::1/64]}
  - {name: p1, kind: veth, master: br0, peer: {name: p1-end, addresses: [192.0.2.11/24]}}
  - {name: t0, kind: tap, master: br0, vnet_hdr: true}
  - {name: wan0, kind: veth, addresses: [198.51.100.1/24], mtu: 1600,
     peer: {name: wan0-end, state: down}}
  - {name: vx0, kind: vxlan, id: 42, local: 198.51.100.1, remote: 198.51.100.2, dev: wan0,
     dstport: 4789, ttl: 8, learning: false, addresses: [203.0.113.1/24]}
  - {name: mv0, kind: macvlan, link: wan0, mode: private, mac: 02:00:00:00:00:42}
  - {name: ifb0, kind: ifb}
routes:
  - {to: 10.1.0.0/16, via: 192.0.2.254}
  - {to: 10.2.0.0/16, dev: vx0, metric: 50}
"""


@pytest.mark.kind("bridge", "veth", "tap", "vxlan", "macvlan", "ifb")
def test_host_kinds_through_networkd() -> None:
    for kind in ("bridge", "veth", "tap", "vxlan", "macvlan", "ifb"):
        require_kind(kind)
    assert_networkd_reproduces(vnet.load_text(HOST_KINDS), None)


VM_KINDS = """
name: nd-vm
interfaces:
  - {name: bond0, kind: bond, mode: active-backup, miimon: 100, primary: a0,
     addresses: [192.0.2.1/24]}
  - {name: a0, kind: veth, master: bond0, peer: {name: a0-end}}
  - {name: a1, kind: veth, master: bond0, peer: {name: a1-end}}
  - {name: bond0.10, kind: vlan, link: bond0, id: 10, mtu: 1400, addresses: [192.0.2.65/26]}
  - {name: bond0.20, kind: vlan, link: bond0, id: 20, protocol: 802.1ad}
  - {name: d0, kind: dummy, addresses: [198.51.100.7/32], mtu: 9000}
  - {name: can0, kind: vcan}
  - {name: vxc0, kind: vxcan, peer: {name: vxc1}}
  - {name: nl0, kind: nlmon}
  - {name: u0, kind: veth, peer: {name: u0-end}, addresses: [198.51.100.129/25]}
  - {name: ipv0, kind: ipvlan, link: u0, mode: l3}
  - {name: u2, kind: veth, peer: {name: u2-end}}
  - {name: ipt0, kind: ipvtap, link: u2, mode: l2, flag: private}
  - {name: gnv0, kind: geneve, id: 7, remote: 198.51.100.130, dstport: 6081}
  - {name: brv, kind: bridge, vlan_filtering: true, vlan_default_pvid: 0,
     vlans: [{vid: 10, pvid: true, untagged: true}]}
  - {name: v0, kind: veth, master: brv, vlans: [{vid: 10, pvid: true, untagged: true},
                                                {vid: 20}], peer: {name: v0-end}}
"""
VM_KIND_NAMES = ("bond", "veth", "vlan", "dummy", "vcan", "vxcan", "nlmon", "ipvlan", "ipvtap",
                 "geneve", "bridge")


@pytest.mark.kind(*VM_KIND_NAMES)
def test_vm_kinds_through_networkd() -> None:
    for kind in VM_KIND_NAMES:
        require_kind(kind)
    from .helpers import require_vlan_filtering
    require_vlan_filtering()
    assert_networkd_reproduces(vnet.load_text(VM_KINDS), None)


MACSEC = """
name: nd-macsec
interfaces:
  - {name: w0, kind: veth, peer: {name: w1}, mac: "02:00:00:00:01:01"}
  - name: ms0
    kind: macsec
    link: w0
    port: 1
    encrypt: true
    encodingsa: 0
    addresses: [203.0.113.1/24]
    tx_sa: [{an: 0, pn: 1, key_id: "01", key_file: tx.key}]
    rx:
      - address: "02:00:00:00:01:02"
        port: 1
        sa: [{an: 0, pn: 1, key_id: "02", key_file: rx.key}]
"""


@pytest.mark.kind("macsec", "veth")
def test_macsec_key_files_through_networkd(tmp_path: Path) -> None:
    require_kind("macsec")
    keys = {"tx.key": "0123456789abcdef0123456789abcdef",
            "rx.key": "fedcba9876543210fedcba9876543210"}
    for name, key in keys.items():
        (tmp_path / name).write_text(key + "\n")
        (tmp_path / name).chmod(0o600)  # vnet reads only a key file its owner alone reads
    (tmp_path / "macsec.yaml").write_text(MACSEC)
    topo = vnet.load_file(tmp_path / "macsec.yaml")
    # networkd reads KeyFile= as systemd-network: systemd.netdev(5) asks for
    # root:systemd-network and mode 0640
    os.chmod(tmp_path, 0o755)
    for name in keys:
        os.chown(tmp_path / name, 0, pwd.getpwnam("systemd-network").pw_gid)
        (tmp_path / name).chmod(0o640)
    files = export(topo, "networkd", Options()).files
    assert f"KeyFile={tmp_path / 'tx.key'}" in files["10-ms0.netdev"]
    assert "0123456789abcdef" not in "".join(files.values())
    assert_networkd_reproduces(topo, None)
