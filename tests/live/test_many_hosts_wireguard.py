"""`via: wireguard` across two SSH hosts (tests/live/sshhosts.py) that Ansible reaches as real
ones: the veth's ends become WireGuard links, the ends ping each other across the underlay,
a second plan is empty on every host (the keys are stable), and no output, nor any file the
run leaves (Ansible's artifacts included), holds a key."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .sshhosts import Hosts, ssh_hosts
from .test_many_hosts import ENGINE_ONLY, _across_file


@pytest.fixture
def two_hosts(tmp_path: Path) -> Iterator[Hosts]:
    """Hosts h1 and h2, each its own network and mount namespace with its sshd."""
    with ssh_hosts(tmp_path, 2) as hosts:
        yield hosts


def _vnet(work: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    # TMPDIR: Ansible's work directory of the run, searched for keys afterwards
    return subprocess.run([sys.executable, "-m", "vnet", *argv], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "TMPDIR": str(work)})


def _keys(path: Path, inventory: Path) -> list[str]:
    """The private keys vnet derives for the file's WireGuard links (from the secret it
    keeps beside the inventory), in base64 and hex."""
    from vnet.hosts.runner import read_wireguard_secret
    from vnet.hosts.split import split_topology
    from vnet.kinds.wireguard import Wireguard
    from vnet.loader import load_file
    topo = load_file(path)
    secret = read_wireguard_secret(topo, inventory)
    split = split_topology(topo, wireguard_secret=secret)
    out = []
    for part in split.hosts.values():
        for iface in part.interfaces:
            if isinstance(iface, Wireguard) and iface.secret is not None:
                text = iface.secret.get_secret_value()
                out += [text, base64.b64decode(text).hex()]
    assert len(out) == 4
    return out


def _keys_in_files(work: Path, keys: list[str]) -> list[str]:
    """The files under `work` that hold any of `keys`."""
    return [str(f) for f in work.rglob("*") if f.is_file() and
            any(k in f.read_bytes().decode(errors="replace") for k in keys)]


@ENGINE_ONLY
@pytest.mark.kind("veth")
def test_the_keys_reach_each_host_hidden(two_hosts: Hosts, tmp_path: Path) -> None:
    """On any kernel: each host loads its part with its key filled in from the module's
    hidden parameter (its plan then succeeds, or, on a kernel without WireGuard, says only
    that), and no output or file of the run holds a key."""
    path = _across_file(two_hosts, tmp_path)
    path.write_text(path.read_text().replace("    kind: veth\n",
                                             "    kind: veth\n    via: wireguard\n"))
    work = tmp_path / "work"
    work.mkdir()
    planned = _vnet(work, "plan", str(path), "--inventory", str(two_hosts.inventory))
    said = planned.stdout + planned.stderr
    assert "WireGuard, UDP" in said, said
    for host, end in (("h1", "left/a1"), ("h2", "right/a2")):
        part = said.split(f"== {host} ==")[1]
        # a key that did not arrive would fail validation on the host before this point
        assert part.split("\n")[1].startswith(("+ create", f"FAILED on {host}: this kernel "
                                               f"lacks wireguard (not built in, no module "
                                               f"wireguard), which {end}")), said
    keys = _keys(path, two_hosts.inventory)
    assert not [k for k in keys if k in said]
    assert _keys_in_files(work, keys) == []
    assert not list(work.rglob("env/extravars"))


@pytest.mark.runs_first("about 7 minutes of Ansible plays in the kernel tier")
@pytest.mark.kind("wireguard", "veth")
def test_a_veth_across_two_hosts_via_wireguard(two_hosts: Hosts, tmp_path: Path) -> None:
    from .helpers import require_kind
    require_kind("wireguard")  # this machine's kernel lacks it
    h1, h2 = two_hosts.by_name("h1"), two_hosts.by_name("h2")
    path = _across_file(two_hosts, tmp_path)
    path.write_text(path.read_text().replace("    kind: veth\n",
                                             "    kind: veth\n    via: wireguard\n"))
    inventory = two_hosts.inventory
    work = tmp_path / "work"
    work.mkdir()
    said = []

    # no `vnet plan` first: apply plans every host before it changes any (a plan across
    # hosts is proven by test_the_keys_reach_each_host_hidden), and each vnet command
    # across hosts costs minutes of Ansible in the kernel tier
    applied = _vnet(work, "apply", str(path), "--inventory", str(inventory))
    said.append(applied.stdout + applied.stderr)
    assert applied.returncode == 0, said[-1]
    assert "WireGuard, UDP" in applied.stdout
    assert "MTU of both ends lowered to 1440" in applied.stdout
    secret = inventory.resolve().parent / ".vnet-across.wireguard-secret"
    assert os.stat(secret).st_mode & 0o777 == 0o600
    ping = h1.run("ip", "netns", "exec", "left", "ping", "-c2", "-W3", "192.0.2.2", check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    # each end is a WireGuard link in its namespace (its socket in the host's own)
    assert "wireguard" in h2.run("ip", "-n", "right", "-d", "link", "show", "a2").stdout
    assert "wireguard" not in h1.run("ip", "-d", "link", "show").stdout

    again = _vnet(work, "plan", str(path), "--inventory", str(inventory))
    said.append(again.stdout + again.stderr)
    assert again.returncode == 0, said[-1]  # the same keys: nothing to change anywhere

    # the file's checks across hosts are proven through a VXLAN link (test_many_hosts.py); here
    # the ping above proves the link, and each vnet command costs minutes in the kernel tier

    gone = _vnet(work, "destroy", str(path), "--inventory", str(inventory))
    said.append(gone.stdout + gone.stderr)
    assert gone.returncode == 0, said[-1]
    for host in (h1, h2):
        assert host.run("ip", "netns", "list").stdout == ""

    keys = _keys(path, inventory)
    for text in said:
        assert not [k for k in keys if k in text]
    assert _keys_in_files(work, keys) == []
    assert not list(work.rglob("env/extravars"))
