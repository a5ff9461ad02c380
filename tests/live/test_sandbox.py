"""The live sandbox itself: each test runs alone in a private network and mount namespace.

The host side is read through /proc/<pytest's pid>: the forked test's parent is the pytest
process, which stays in the machine's own namespaces.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vnet.kinds import registry

from .helpers import enter_sandbox, ip_json, require_kind, sh


def _host() -> Path:
    """/proc of the pytest process, which forked this test and stays in the host's namespaces."""
    return Path(f"/proc/{os.getppid()}")


def _netns_mounts(mountinfo: Path) -> list[str]:
    return [line for line in mountinfo.read_text().splitlines() if " nsfs " in line]


def test_starts_with_only_lo_up() -> None:
    links = ip_json("link", "show")
    assert [link["ifname"] for link in links] == ["lo"]
    assert "UP" in links[0]["flags"]
    # Interfaces are the symlinks there (bonding adds a plain file, bonding_masters).
    assert [p.name for p in Path("/sys/class/net").iterdir() if p.is_symlink()] == ["lo"]
    assert ip_json("netns", "list") == []


def test_namespaces_are_not_the_hosts() -> None:
    for kind in ("net", "mnt"):
        assert os.readlink(f"/proc/self/ns/{kind}") != os.readlink(_host() / "ns" / kind)


def test_run_is_private() -> None:
    Path("/run/vnet/state").write_text("mine")
    assert not (_host() / "root/run/vnet/state").exists()


@pytest.mark.kind("veth")
def test_veth_pair_carries_packets_between_namespaces() -> None:
    require_kind("veth")
    sh("ip", "netns", "add", "left")
    sh("ip", "link", "add", "v-left", "netns", "left", "type", "veth", "peer", "name", "v-right")
    sh("ip", "-n", "left", "addr", "add", "192.0.2.1/24", "dev", "v-left")
    sh("ip", "-n", "left", "link", "set", "v-left", "up")
    sh("ip", "addr", "add", "192.0.2.2/24", "dev", "v-right")
    sh("ip", "link", "set", "v-right", "up")
    sh("ping", "-c", "1", "-W", "5", "192.0.2.2", netns="left")
    link = ip_json("-d", "link", "show", "v-right")[0]
    assert link["linkinfo"]["info_kind"] == "veth"


@pytest.mark.kind("netns")
def test_ip_netns_add_is_invisible_from_the_host() -> None:
    sh("ip", "netns", "add", "x")
    assert [ns["name"] for ns in ip_json("netns", "list")] == ["x"]
    assert not (_host() / "root/run/netns/x").exists()
    assert any("/run/netns/x" in line for line in _netns_mounts(Path("/proc/self/mountinfo")))
    assert not any("/run/netns/x" in line for line in _netns_mounts(_host() / "mountinfo"))


@pytest.mark.kind("netns")
def test_netns_is_gone_when_its_sandbox_ends() -> None:
    # A grandchild plays a whole test: sandbox, `ip netns add`, exit.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_end)
            enter_sandbox()
            sh("ip", "netns", "add", "x")
            os.write(write_end, str(os.stat("/run/netns/x").st_ino).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        inode = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and inode
    held_by = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and os.readlink(proc / "ns/net") == f"net:[{inode}]":
                held_by.append(proc.name)
        except OSError:
            continue  # a process that ended, or a kernel thread
    assert held_by == []
    for mountinfo in (Path("/proc/self/mountinfo"), _host() / "mountinfo"):
        assert not any(f"net:[{inode}]" in line for line in _netns_mounts(mountinfo))


@pytest.mark.kind("dummy")
def test_dummy_address_answers_locally() -> None:
    # The machine's own kernel lacks dummy (skips here); the kernel tier loads it as a module.
    require_kind("dummy")
    sh("ip", "link", "add", "dummy1", "type", "dummy")
    sh("ip", "addr", "add", "198.51.100.1/24", "dev", "dummy1")
    sh("ip", "link", "set", "dummy1", "up")
    sh("ping", "-c", "1", "-W", "5", "198.51.100.1")


@pytest.mark.kind("bond")
def test_bond_takes_its_mode() -> None:
    require_kind("bond")
    sh("ip", "link", "add", "bond1", "type", "bond", "mode", "active-backup", "miimon", "100")
    info = ip_json("-d", "link", "show", "bond1")[0]["linkinfo"]
    assert info["info_kind"] == "bond"
    assert info["info_data"]["mode"] == "active-backup"
    assert info["info_data"]["miimon"] == 100


@pytest.mark.parametrize(
    "kind", [pytest.param(kind, marks=pytest.mark.kind(kind)) for kind in sorted(registry())]
)
def test_kernel_offers_kind(kind: str) -> None:
    """Passes where this kernel can create the kind, skips naming it where not (in the
    kernel tier that skip fails, unless the kind declares may_skip).

    The results matrix then shows which kinds each tier's kernel offers.
    """
    require_kind(kind)
