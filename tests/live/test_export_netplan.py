"""`vnet export --to netplan`, proven by netplan and networkd: Debian's `netplan generate
--root-dir DIR` accepts the file (exit 0, nothing on stderr), and systemd-networkd run on the
files it generates (DIR/run/systemd/network, in a fresh sandbox: networkd.py) makes the links,
routes and bridge VLANs `vnet apply` of the same file makes, compared field by field
(networkd.state_of).

One difference is normalised, because netplan 0.106 has no key for it: netplan writes
addresses as `Address=` lines, so networkd gives each IPv4 address its broadcast address,
which `vnet apply` (like `ip addr add`) does not set. The files below use IPv4 only: netplan
cannot turn off duplicate address detection, which vnet skips for IPv6 addresses.

No example is used: every example's namespaces hold a veth, a dummy or another kind netplan
0.106 cannot create (tests/unit/test_export_netplan.py shows each leaves something out).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

import vnet
from vnet.export import Options, export

from .helpers import require_kind
from .networkd import networkd_result
from .reference import diff_text
from .test_export_networkd import vnet_state


def _without_broadcast(state: dict[str, Any]) -> dict[str, Any]:
    """`state` without what netplan 0.106 decides alone: an IPv4 address's broadcast (it
    writes addresses as plain `Address=` lines) and the IPv6 address generation mode of a
    bridge port (its networkd writer gives every bridge member `LinkLocalAddressing=no`,
    whatever `link-local` says, so the kernel's mode there is none where vnet leaves eui64);
    docs/export-networkd-netplan.md says both."""
    out = {}
    for name, entry in state.items():
        entry = dict(entry)
        if "addresses" in entry:
            entry["addresses"] = [{k: v for k, v in a.items() if k != "broadcast"}
                                  for a in entry["addresses"]]
        link = entry.get("link")
        if isinstance(link, dict) and \
                link.get("linkinfo", {}).get("info_slave_kind") == "bridge":
            entry["link"] = {k: v for k, v in link.items() if k != "inet6_addr_gen_mode"}
        out[name] = entry
    return out


def netplan_generate(text: str) -> dict[str, str]:
    """`netplan generate --root-dir` on `text`: the networkd files it writes. Fails unless it
    exits 0 with nothing on stderr."""
    with tempfile.TemporaryDirectory(prefix="vnet-netplan-") as root:
        folder = Path(root, "etc/netplan")
        folder.mkdir(parents=True)
        (folder / "vnet.yaml").write_text(text)
        os.chmod(folder / "vnet.yaml", 0o600)  # netplan warns about a file others can read
        run = subprocess.run(["netplan", "generate", "--root-dir", root],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and not run.stderr.strip(), \
            f"netplan generate refused the file (exit {run.returncode}):\n{run.stderr}\n{text}"
        out = Path(root, "run/systemd/network")
        return {f.name: f.read_text() for f in sorted(out.iterdir())}


def assert_netplan_reproduces(yaml_text: str) -> None:
    topo = vnet.load_text(yaml_text)
    exported = export(topo, "netplan", Options())
    assert not exported.left_out, [e.line(topo) for e in exported.left_out]
    files = netplan_generate(exported.files["vnet.yaml"])
    expected = vnet_state(topo, None, _without_broadcast)
    made = sorted(name[len("10-netplan-"):-len(".network")] for name in files
                  if name.endswith(".network"))
    result = networkd_result(files, made, expected, normalise=_without_broadcast)
    failed = {name: result["states"].get(name) for name in made
              if result["states"].get(name) not in ("configured", "configuring")}
    assert not failed, f"networkd did not configure {failed}:\n{result['log']}"
    if expected != result["state"]:
        raise AssertionError(
            "networkd on netplan's files differs from vnet apply:\n"
            + diff_text(expected, result["state"], "vnet apply", "netplan + networkd")
            + "\n--- the netplan file:\n" + exported.files["vnet.yaml"]
            + "\n--- networkd's log:\n" + result["log"])


HOST = """
name: np-host
interfaces:
  - {name: br0, kind: bridge, forward_delay: 400, ageing_time: 6000, priority: 4096,
     addresses: [192.0.2.1/24]}
  - {name: vx0, kind: vxlan, id: 42, local: 192.0.2.1, remote: 192.0.2.2, dev: br0,
     dstport: 4789, ttl: 8, learning: false, addresses: [203.0.113.1/24], mtu: 1400}
  - {name: br1, kind: bridge, stp_state: false, state: down, mtu: 9000}
routes:
  - {to: 10.1.0.0/16, via: 192.0.2.254}
  - {to: 10.2.0.0/16, via: 203.0.113.9, dev: vx0, metric: 50, table: 100}
"""


@pytest.mark.kind("bridge", "vxlan")
def test_bridge_and_vxlan_through_netplan() -> None:
    require_kind("bridge")
    require_kind("vxlan")
    assert_netplan_reproduces(HOST)


VM = """
name: np-vm
interfaces:
  - {name: bond0, kind: bond, mode: active-backup, miimon: 100, updelay: 200,
     master: br0}
  - {name: br0, kind: bridge, stp_state: false, addresses: [192.0.2.1/24]}
  - {name: br0.10, kind: vlan, link: br0, id: 10, addresses: [198.51.100.1/24]}
  - {name: bond1, kind: bond, mode: 802.3ad, lacp_rate: fast, xmit_hash_policy: layer3+4,
     min_links: 1, addresses: [203.0.113.1/24]}
"""


@pytest.mark.kind("bond", "bridge", "vlan")
def test_bond_bridge_vlan_through_netplan() -> None:
    for kind in ("bond", "bridge", "vlan"):
        require_kind(kind)
    assert_netplan_reproduces(VM)
