"""Hosts on one machine for the many-hosts tests, reached by Ansible over SSH as real ones are.

Each host is a network and mount namespace (its own tmpfs /run, so its own /run/netns and
vnet state and lock; its own /sys) holding one `eth0` on an underlay bridge `ul0` in the
test's namespace, and its own sshd (Debian's openssh-server) listening on eth0's address and
accepting a key made for the test. Everything lives inside the test's own namespaces
(tests/live/conftest.py); the processes started here (a holder per host, which owns the
namespaces, and its sshd) are ended by their pid.

Ansible reaches the hosts with its ssh connection (no `local` shortcut), root by key, with
`ansible_python_interpreter` set to this venv's python so that vnet is importable there.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

SSHD = "/usr/sbin/sshd"
SFTP = "/usr/lib/openssh/sftp-server"
UNDERLAY_NET = "10.99.0"
#: where the repository's Ansible collection lives (ansible_collections/vnet/net)
COLLECTIONS = Path(__file__).resolve().parents[2] / "ansible"


@dataclass
class Host:
    """One host: its inventory name, its underlay address, its processes."""

    name: str
    address: str
    holder: subprocess.Popen[bytes]
    sshd: subprocess.Popen[bytes] | None = None

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command inside this host's namespaces (for the test's own look; the code under
        test goes through Ansible)."""
        return subprocess.run(["nsenter", "-t", str(self.holder.pid), "-n", "-m", *argv],
                              check=check, capture_output=True, text=True)


@dataclass
class Hosts:
    """The hosts of one test, and what Ansible needs to reach them."""

    root: Path
    hosts: list[Host] = field(default_factory=list)
    #: Ansible's SSH control sockets: a short directory of /tmp, since a socket's name holds
    #: 108 bytes and a test's own directory (under an xdist worker's) can be longer than that
    control_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="vnet-cp-",
                                                                            dir="/tmp")))

    @property
    def key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.yml"

    def sshd_log(self, name: str) -> Path:
        """Where host `name`'s sshd logs (at DEBUG1: why it refused a login)."""
        return self.root / f"sshd-{name}.log"

    def sshd_logs(self, lines: int = 40) -> str:
        """The end of every host's sshd log (its messages, not its debug lines), for a
        failing test's report."""
        parts = []
        for host in self.hosts:
            path = self.sshd_log(host.name)
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            said = [line for line in text if not line.startswith("debug")]
            parts.append(f"--- {host.name}: the last {lines} of sshd's {len(said)} messages "
                         f"(debug lines too in {path}) ---\n" + "\n".join(said[-lines:]))
        return "\n".join(parts)

    def by_name(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def write_inventory(self) -> None:
        """An ordinary Ansible inventory of these hosts."""
        inventory = {"all": {
            "hosts": {h.name: {"ansible_host": h.address,
                               "ansible_remote_tmp": str(self.root / f"remote-{h.name}")}
                      for h in self.hosts},
            "vars": {
                "ansible_connection": "ssh",
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(self.key),
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no "
                                           "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
                "ansible_python_interpreter": sys.executable,
            }}}
        self.inventory.write_text(yaml.safe_dump(inventory))

    def ansible_env(self) -> dict[str, str]:
        """The environment ansible-runner runs with: the venv's ansible, the repository's
        collection, control sockets and temporary files in the test's directory."""
        return {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.control_dir),
            "ANSIBLE_LOCAL_TEMP": str(self.root / "local-tmp"),
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORKS": "5",
        }

    def playbook(self, name: str, plays: list[dict[str, Any]], *, check: bool = False,
                 diff: bool = False) -> Any:
        """Run `plays` with ansible-runner; returns the Runner (status, events)."""
        import ansible_runner
        path = self.root / f"{name}.yml"
        path.write_text(yaml.safe_dump(plays, sort_keys=False))
        private = self.root / f"runner-{name}"
        private.mkdir(exist_ok=True)
        cmdline = " ".join(x for x in ("--check" if check else "",
                                       "--diff" if diff else "") if x)
        return ansible_runner.run(
            private_data_dir=str(private), playbook=str(path),
            inventory=str(self.inventory), envvars=self.ansible_env(), quiet=True,
            cmdline=cmdline or None, timeout=300)


def task_results(runner: Any, task: str) -> dict[str, dict[str, Any]]:
    """host -> the result of the task named `task` (ok, changed or failed)."""
    out: dict[str, dict[str, Any]] = {}
    for event in runner.events:
        data = event.get("event_data", {})
        if data.get("task") == task and event.get("event") in (
                "runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            out[data["host"]] = {**data.get("res", {}), "_event": event["event"]}
    return out


class Tunnelled(NamedTuple):
    """An ICMP packet seen inside a UDP tunnel (VXLAN or GENEVE) on the underlay."""

    dstport: int
    vni: int
    src: str
    dst: str
    icmp_type: int  # 8 echo request, 0 echo reply


ECHO_REQUEST, ECHO_REPLY = 8, 0
_ETH_P_IP = 0x0800
_ETH_P_ALL = 0x0003


def tunnelled_icmp(frame: bytes, dstports: tuple[int, ...] = (4789, 6081)) -> Tunnelled | None:
    """The ICMP packet an underlay frame carries in a VXLAN or GENEVE header (UDP to one of
    `dstports`: both put a 24-bit VNI in bytes 4-6 of an 8-byte header, GENEVE adds options
    of 4 x its first byte's low 6 bits), or None for any other frame."""
    if len(frame) < 34 or struct.unpack("!H", frame[12:14])[0] != _ETH_P_IP or \
            frame[23] != socket.IPPROTO_UDP:
        return None
    udp = 14 + (frame[14] & 0x0F) * 4
    dstport = struct.unpack("!H", frame[udp + 2:udp + 4])[0]
    if dstport not in dstports:
        return None
    header = frame[udp + 8:udp + 16]
    if len(header) < 8:
        return None
    inner = udp + 16 + ((header[0] & 0x3F) * 4 if dstport == 6081 else 0)
    ip = inner + 14  # the inner Ethernet header
    if len(frame) < ip + 21 or struct.unpack("!H", frame[inner + 12:ip])[0] != _ETH_P_IP or \
            frame[ip + 9] != socket.IPPROTO_ICMP:
        return None
    icmp = ip + (frame[ip] & 0x0F) * 4
    return Tunnelled(dstport, int.from_bytes(header[4:7], "big"),
                     socket.inet_ntoa(frame[ip + 12:ip + 16]),
                     socket.inet_ntoa(frame[ip + 16:ip + 20]), frame[icmp])


class UnderlayCapture:
    """While open, a thread reads every frame on a host's port of the underlay bridge (in the
    test's namespace: all that host sends and receives) and keeps the tunnelled ICMP ones;
    `count` says how many of one kind it saw."""

    def __init__(self, host: Host) -> None:
        from .helpers import socket_in
        self.port = f"{host.name}u"
        self.seen: list[Tunnelled] = []
        self.frames = 0
        self._sock = socket_in(None, socket.AF_PACKET, socket.SOCK_RAW,
                               socket.htons(_ETH_P_ALL))
        self._sock.bind((self.port, 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self._sock.recv(65535)
            except TimeoutError:
                continue
            self.frames += 1
            packet = tunnelled_icmp(frame)
            if packet is not None:
                self.seen.append(packet)

    def __enter__(self) -> UnderlayCapture:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.3)  # what is still on its way through the bridge
        self._stop.set()
        self._thread.join()
        self._sock.close()

    def count(self, **match: Any) -> int:
        """How many tunnelled ICMP packets matched every field given (e.g. vni=5, src=...)."""
        return sum(1 for p in self.seen if all(getattr(p, k) == v for k, v in match.items()))

    def summary(self) -> str:
        """What was seen, for an assertion's message."""
        kinds = Counter(self.seen)
        return (f"{self.frames} frames on {self.port}; tunnelled ICMP: "
                + (", ".join(f"{n} x {p}" for p, n in kinds.items()) or "none"))


def _wait_port(address: str, port: int, proc: subprocess.Popen[bytes], seconds: float,
               log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            said = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"sshd on {address} exited ({proc.returncode}): {err}{said}")
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"sshd on {address}:{port} did not answer within {seconds} s")


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


#: sshd without PAM refuses every login, keys too, to an account whose password field starts
#: with "!" ("User root not allowed because account is locked"); virtme-ng's guest (the
#: kernel tier) writes such a /etc/shadow for every account. Each host gets, in its own mount
#: namespace, a copy whose root entry says "no password" ("*") instead: a host that lets root
#: in by key, as the real ones Ansible reaches do.
_UNLOCK_ROOT = ("sed 's/^root:![^:]*:/root:*:/' /etc/shadow > /run/shadow "
                "&& chmod 0640 /run/shadow && mount --bind /run/shadow /etc/shadow")


#: a host's IPv6 addresses are usable at once, not "tentative" for a second of duplicate
#: address detection: a test that compares a host's state before and after something sees
#: no change that vnet did not make
_NO_DAD = ("{ [ ! -d /proc/sys/net/ipv6 ] || for c in all default; do "
           "echo 0 > /proc/sys/net/ipv6/conf/$c/accept_dad; done; }")


def _start_host(hosts: Hosts, index: int) -> Host:
    name, address = f"h{index}", f"{UNDERLAY_NET}.{10 + index}"
    holder = subprocess.Popen(
        ["unshare", "-n", "-m", "--propagation", "private", "sh", "-c",
         "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/sshd /run/netns /run/vnet "
         f"&& {_UNLOCK_ROOT} && mount -t sysfs sysfs /sys && ip link set lo up && {_NO_DAD} "
         "&& echo ready "
         "&& exec sleep infinity"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    host = Host(name, address, holder)
    hosts.hosts.append(host)
    assert holder.stdout is not None
    if holder.stdout.readline() != b"ready\n":
        raise RuntimeError(f"host {name}'s namespaces: {holder.stderr.read().decode()}")  # type: ignore[union-attr]
    _sh("ip", "link", "add", f"{name}u", "type", "veth", "peer", "name", "eth0", "netns",
        str(holder.pid))
    _sh("ip", "link", "set", f"{name}u", "master", "ul0", "up")
    host.run("ip", "addr", "add", f"{address}/24", "dev", "eth0")
    host.run("ip", "link", "set", "eth0", "up")
    config = hosts.root / f"sshd-{name}.conf"
    config.write_text("\n".join([
        f"ListenAddress {address}", "Port 22", f"HostKey {hosts.root / 'host_key'}",
        "PidFile /run/sshd.pid", f"AuthorizedKeysFile {hosts.root / 'authorized_keys'}",
        "PermitRootLogin prohibit-password", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "PrintMotd no",
        f"Subsystem sftp {SFTP}", "MaxStartups 50", "MaxSessions 50", "LogLevel DEBUG1", ""]))
    host.sshd = subprocess.Popen(
        ["nsenter", "-t", str(holder.pid), "-n", "-m", SSHD, "-D", "-f", str(config),
         "-E", str(hosts.sshd_log(name))],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_port(address, 22, host.sshd, 15, hosts.sshd_log(name))
    return host


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextmanager
def ssh_hosts(root: Path, count: int) -> Iterator[Hosts]:
    """`count` hosts on an underlay bridge, each with its sshd; ended (by pid) on exit."""
    if not os.path.exists(SSHD) or not shutil.which("ssh"):
        pytest.fail("openssh-server and openssh-client are needed (scripts/test-all.sh "
                    "installs them)")
    from .helpers import require_kind
    for kind in ("bridge", "veth"):  # the underlay (the kernel tier loads their modules)
        require_kind(kind)
    hosts = Hosts(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "local-tmp").mkdir()
    _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hosts.key))
    _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_key"))
    shutil.copy(f"{hosts.key}.pub", root / "authorized_keys")
    _sh("ip", "link", "add", "ul0", "type", "bridge")
    _sh("ip", "addr", "add", f"{UNDERLAY_NET}.254/24", "dev", "ul0")
    _sh("ip", "link", "set", "ul0", "up")
    try:
        for index in range(1, count + 1):
            _start_host(hosts, index)
        hosts.write_inventory()
        yield hosts
    finally:
        for host in hosts.hosts:
            _stop(host.sshd)
            _stop(host.holder)
        shutil.rmtree(hosts.control_dir, ignore_errors=True)
