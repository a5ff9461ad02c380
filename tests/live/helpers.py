"""Tools for live tests: the per-test sandbox, kernel kind probes and a command runner.

Every live test runs in a forked child that `enter_sandbox` has moved into its own network
and mount namespace (conftest.py does that before the test's fixtures). Inside it the test may
create interfaces and named namespaces freely: nothing reaches the machine's own.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import socket
import struct
import subprocess
from collections.abc import Sequence
from typing import Any

import pytest

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(None, use_errno=True)

# The module(s) that provide each kind on a modular kernel (the kernel tier's Debian kernel).
KIND_MODULES: dict[str, tuple[str, ...]] = {
    "bond": ("bonding",),
    "bridge": ("bridge",),
    "dummy": ("dummy",),
    "ifb": ("ifb",),
    "ipoib": ("ib_ipoib",),
    "ipvlan": ("ipvlan",),
    "ipvtap": ("ipvtap",),
    "macsec": ("macsec",),
    "macvlan": ("macvlan",),
    "macvtap": ("macvtap",),
    "nlmon": ("nlmon",),
    "tap": ("tun",),
    "team": (
        "team",
        "team_mode_activebackup",
        "team_mode_broadcast",
        "team_mode_loadbalance",
        "team_mode_random",
        "team_mode_roundrobin",
    ),
    "tun": ("tun",),
    "vcan": ("vcan",),
    "veth": ("veth",),
    "vlan": ("8021q",),
    "vxcan": ("vxcan",),
    "vxlan": ("vxlan",),
}

# Without these options the modules create bond0, dummy0 or ifb0/ifb1 in the root namespace
# as they load, which would be a change to the machine the tests must not make.
MODULE_OPTIONS: dict[str, tuple[str, ...]] = {
    "bonding": ("max_bonds=0",),
    "dummy": ("numdummies=0",),
    "ifb": ("numifbs=0",),
}

# Kinds that sit on a parent link; a veth end plays the parent when probing.
_NEEDS_PARENT = frozenset({"ipvlan", "ipvtap", "macsec", "macvlan", "macvtap", "vlan"})
_PAIRED = frozenset({"veth", "vxcan"})
_PROBE_ARGS: dict[str, tuple[str, ...]] = {
    "vlan": ("id", "2"),
    "vxlan": ("id", "42", "dstport", "4789"),
}
_PROBE = "vnetprobe0"
_PROBE_PEER = "vnetprobe1"
_PARENT = "vnetprobep0"
_PARENT_PEER = "vnetprobep1"


class CommandError(RuntimeError):
    """A command run by `sh` exited non-zero; carries its argv, exit status and output."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"{' '.join(self.argv)!r} exited {returncode}: {stderr.strip() or stdout.strip()}"
        )


class SandboxError(RuntimeError):
    """The test could not be moved into a private namespace; it must not run."""


def sh(*argv: str, netns: str | None = None, input: str | None = None, timeout: float = 120) -> str:
    """Run argv (no shell), inside named namespace `netns` if given; return its stdout.

    Raises CommandError, with the command's stderr, when it exits non-zero.
    """
    cmd = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    proc = subprocess.run(
        cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise CommandError(cmd, proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def ip_json(*args: str, netns: str | None = None) -> Any:
    """`ip -j ARGS` parsed, e.g. `ip_json("-d", "link", "show", "br0")`."""
    return json.loads(sh("ip", "-j", *args, netns=netns) or "[]")


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise SandboxError(f"{what} failed: {os.strerror(errno)} (errno {errno})")


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    _check(
        _libc.mount(
            source and source.encode(),
            target.encode(),
            fstype and fstype.encode(),
            ctypes.c_ulong(flags),
            data and data.encode(),
        ),
        f"mount {fstype or ''} on {target}",
    )


def _set_link_up(name: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", name.encode(), 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", name.encode(), flags | IFF_UP))


def enter_sandbox() -> None:
    """Move this process into a new network and mount namespace, private to it.

    The mount tree is made private so nothing mounted here propagates back; a fresh tmpfs on
    /run keeps named namespaces (/run/netns) and vnet's state and lock (/run/vnet) private;
    a fresh sysfs shows this namespace's links; `lo` is brought up. Raises SandboxError.
    """
    host_netns = os.readlink("/proc/self/ns/net")
    _check(_libc.unshare(CLONE_NEWNET | CLONE_NEWNS), "unshare(CLONE_NEWNET | CLONE_NEWNS)")
    if os.readlink("/proc/self/ns/net") == host_netns:
        raise SandboxError("unshare returned but the network namespace is still the host's")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for name, mode in (("netns", 0o755), ("vnet", 0o755), ("lock", 0o1777)):
        os.mkdir(f"/run/{name}")
        os.chmod(f"/run/{name}", mode)
    _mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _set_link_up("lo")


def network_snapshot() -> dict[str, list[str]]:
    """The links and named namespaces this process sees, to compare before and after a run."""
    links = sorted(link["ifname"] for link in ip_json("link", "show"))
    netns = sorted(
        line.split()[0] for line in sh("ip", "netns", "list").splitlines() if line.strip()
    )
    return {"links": links, "netns": netns}


def describe_changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """Human-readable differences between two `network_snapshot`s; empty when equal."""
    changes = []
    for key in sorted(before.keys() | after.keys()):
        old, new = set(before.get(key, [])), set(after.get(key, []))
        changes += [f"{key}: {name} appeared" for name in sorted(new - old)]
        changes += [f"{key}: {name} disappeared" for name in sorted(old - new)]
    return changes


def load_modules(kind: str) -> None:
    """modprobe the modules behind `kind`; failures are ignored (the probe decides)."""
    if not os.path.exists("/proc/modules"):
        return  # a kernel without module support: nothing can be loaded
    for module in KIND_MODULES.get(kind, (kind,)):
        try:
            subprocess.run(
                ["modprobe", "-q", module, *MODULE_OPTIONS.get(module, ())],
                capture_output=True,
                timeout=120,
                check=False,
            )
        except FileNotFoundError:
            return


def _attempt(create: Sequence[str], delete: Sequence[str]) -> str | None:
    """Run `create`, then `delete`; the error text if creating failed, else None."""
    try:
        sh(*create)
    except CommandError as error:
        return error.stderr.strip() or str(error)
    sh(*delete)
    return None


def _probe_ipoib() -> str | None:
    parents = [
        link["ifname"] for link in ip_json("link", "show") if link.get("link_type") == "infiniband"
    ]
    if not parents:
        return "no InfiniBand device here to be the IPoIB parent"
    return _attempt(
        ["ip", "link", "add", "link", parents[0], "name", _PROBE, "type", "ipoib"],
        ["ip", "link", "del", _PROBE],
    )


def probe_kind(kind: str) -> str | None:
    """Try to create (and delete) a link of `kind` here; None if it worked, else why not."""
    delete = ["ip", "link", "del", _PROBE]
    if kind in ("tun", "tap"):
        return _attempt(
            ["ip", "tuntap", "add", "dev", _PROBE, "mode", kind],
            ["ip", "tuntap", "del", "dev", _PROBE, "mode", kind],
        )
    if kind == "ipoib":
        return _probe_ipoib()
    if kind in _PAIRED:
        pair = ["ip", "link", "add", _PROBE, "type", kind, "peer", "name", _PROBE_PEER]
        return _attempt(pair, delete)
    if kind in _NEEDS_PARENT:
        load_modules("veth")
        try:
            sh("ip", "link", "add", _PARENT, "type", "veth", "peer", "name", _PARENT_PEER)
        except CommandError as error:
            return f"no veth to act as its parent: {error.stderr.strip()}"
        child = ["ip", "link", "add", "link", _PARENT, "name", _PROBE, "type", kind]
        try:
            return _attempt([*child, *_PROBE_ARGS.get(kind, ())], delete)
        finally:
            sh("ip", "link", "del", _PARENT)
    return _attempt(["ip", "link", "add", _PROBE, "type", kind, *_PROBE_ARGS.get(kind, ())], delete)


def require_kind(kind: str) -> None:
    """Skip the calling test unless this kernel can create links of `kind`.

    Loads the kind's modules first (the kernel tier's kernel has every kind as a module),
    then probes in the test's own namespace.
    """
    load_modules(kind)
    problem = probe_kind(kind)
    if problem is not None:
        pytest.skip(f"kernel lacks {kind}: {problem}")


def socket_in(netns: str | None, family: int, type: int, proto: int = 0) -> socket.socket:
    """A socket opened inside named namespace `netns` (None: this one). A socket keeps the
    namespace it was made in, so the test process switches there only for the call (the
    network namespace is per thread) and comes back."""
    if netns is None:
        return socket.socket(family, type, proto)
    with open("/proc/thread-self/ns/net", "rb") as home, \
            open(f"/run/netns/{netns}", "rb") as there:
        _check(_libc.setns(there.fileno(), CLONE_NEWNET), f"setns into {netns}")
        try:
            return socket.socket(family, type, proto)
        finally:
            _check(_libc.setns(home.fileno(), CLONE_NEWNET), "setns back")


def require_vlan_filtering() -> None:
    """Skip unless this kernel's bridge filters VLANs (CONFIG_BRIDGE_VLAN_FILTERING)."""
    require_kind("bridge")
    try:
        sh("ip", "link", "add", "vnetprobebr0", "type", "bridge", "vlan_filtering", "1")
    except CommandError as error:
        pytest.skip(f"kernel lacks bridge vlan_filtering: {error.stderr.strip()}")
    sh("ip", "link", "del", "vnetprobebr0")
