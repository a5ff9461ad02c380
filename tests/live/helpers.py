"""Tools for live tests: the per-test sandbox, kernel kind probes and a command runner.

Every live test runs in a forked child that `enter_sandbox` has moved into its own network
and mount namespace (conftest.py does that before the test's fixtures). Inside it the test may
create interfaces and named namespaces freely: nothing reaches the machine's own.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import fcntl
import importlib
import json
import os
import socket
import struct
import subprocess
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import vnet
from vnet.kinds import lookup, ordered
from vnet.kinds.base import PROBE_NAME

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

#: set to "kernel" by scripts/vm_tier.py in the guest: the tier whose kernel has every kind
TIER_ENV = "VNET_TEST_TIER"
#: a directory (made per pytest process by conftest.py) holding a file per kind that a test
#: of this process has proven this kernel can create (require_kind)
PROVEN_ENV = "VNET_TEST_PROVEN_KINDS"
#: what an allowed kernel-tier skip carries in its reason (scripts/junit_report.py,
#: ALLOWED_SKIP_TAG, must say the same: vm_tier.py fails on a skip without it)
ALLOWED_SKIP_TAG = "allowed in the kernel tier"
#: the peer of the veth that plays the parent of a stacked kind's probe link (PROBE_PARENT)
_PARENT_PEER = "vnetprobep1"
#: what a fixture adds to the report of a test that fails: (section title, a callable giving
#: its text when the failure is reported), e.g. the logs of the servers it started
FAILURE_NOTES = pytest.StashKey[list[tuple[str, Callable[[], str]]]]()


def note_on_failure(item: pytest.Item, title: str, text: Callable[[], str]) -> None:
    """Show `text()` under `title` in the report of `item` if one of its phases fails
    (conftest.py adds it to the failing report)."""
    item.stash.setdefault(FAILURE_NOTES, []).append((title, text))


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


def _imported_names(path: Path, package: str) -> set[str]:
    """The absolute names of the modules `path` (a module of `package`) imports anywhere,
    inside functions too; `from X import name` counts both X and X.name (maybe a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def warm_imports() -> int:
    """Import, in the calling process, every module that vnet imports anywhere (its own
    modules and what their functions import lazily: pyroute2, yaml, rich...); return how many
    were imported.

    conftest.py calls this once in the pytest process, before it forks a child per test, so
    that the children inherit the modules instead of each importing them again. Pure: no
    module imported here touches the kernel at import time. Under the kernel tier's emulated
    CPU a child importing pyroute2 and vnet's loader took 20-35 s, most of a test's time.
    `vnet.__main__` (which runs the CLI) is left out; a module that cannot be imported is
    left to the test that needs it to report."""
    root = Path(vnet.__file__).parent
    wanted: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        parts = ["vnet", *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        wanted.add(name)
        wanted.update(_imported_names(path, package))
    count = 0
    for name in sorted(wanted):
        if name.split(".")[0] == "__future__" or name.endswith(".__main__"):
            continue
        try:
            importlib.import_module(name)
        except ImportError:
            continue  # `from X import function` names no module; an absent optional one
        count += 1
    return count


def warm_up() -> None:
    """`warm_imports`, then load (parse and validate, nothing more: loading is pure) every
    example file once, so that each model resolves its declaration here and not in each
    forked test (~20 times slower under TCG), and import pydantic, which a test of a
    refused or converted entry needs (vnet.declare's twins). An example that does not load
    is left to its own tests to report."""
    warm_imports()
    for path in sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml")):
        with contextlib.suppress(Exception):
            vnet.load_file(path)
    importlib.import_module("pydantic")


def in_fresh_sandbox(work: Callable[[], Any]) -> Any:
    """Run `work` in a forked child that enters a sandbox of its own (`enter_sandbox`: a new
    network and mount namespace, a fresh /run and /sys) and return its JSON-able result; an
    exception in the child is raised here as AssertionError with its traceback. Processes the
    child leaves (a daemon like teamd) re-parent to the test's subreaper, which ends them."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read)
        try:
            enter_sandbox()
            payload = {"result": work()}
        except BaseException:  # noqa: BLE001 - everything goes back to the parent
            payload = {"error": traceback.format_exc()}
        with os.fdopen(write, "w") as out:
            try:
                json.dump(payload, out)
            except TypeError:
                json.dump({"error": traceback.format_exc()}, out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    answer = json.loads(text or '{"error": "the sandbox child wrote nothing"}')
    if "error" in answer:
        raise AssertionError(f"in the fresh sandbox:\n{answer['error']}")
    return answer["result"]


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


def kernel_tier() -> bool:
    """Is this the kernel tier (the VM booting the distribution kernel, which has every kind
    but those declaring `may_skip`)? scripts/vm_tier.py sets VNET_TEST_TIER=kernel there."""
    return os.environ.get(TIER_ENV) == "kernel"


def module_options() -> dict[str, list[str]]:
    """module -> the options every kind class loads it with (bonding: max_bonds=0...): without
    them bonding, dummy and ifb create bond0, dummy0, ifb0 in the root namespace as they load."""
    options: dict[str, list[str]] = {}
    for cls in ordered():
        for module, *opts in cls.kernel_modules():
            if opts:
                options[module] = opts
    return options


def load_modules(kind: str) -> str | None:
    """modprobe the modules of `kind` (its class's `kernel_modules()`, with their options).

    None when they loaded, or when this kernel has no module support (no /proc/modules):
    the probe decides then. Otherwise what modprobe said: in the kernel tier, whose kernel has
    every module, that fails the calling test; elsewhere it is returned, for a skip reason.
    """
    if not os.path.exists("/proc/modules"):
        return None  # a kernel without module support: nothing can be loaded
    problems = []
    for module, *options in lookup(kind).kernel_modules():
        argv = ["modprobe", module, *options]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        except (FileNotFoundError, subprocess.TimeoutExpired) as error:
            problems.append(f"{' '.join(argv)}: {error}")
            break
        if proc.returncode != 0:
            said = proc.stderr.strip() or proc.stdout.strip() or "no output"
            problems.append(f"{' '.join(argv)} exited {proc.returncode}: {said}")
    if not problems:
        return None
    problem = "; ".join(problems)
    if kernel_tier():
        pytest.fail(f"kernel tier: cannot load the modules of {kind}: {problem}", pytrace=False)
    return problem


def _attempt(create: Sequence[Sequence[str]], delete: Sequence[str]) -> str | None:
    """Run the `create` commands, then `delete`; the error text if creating failed, else None."""
    try:
        for command in create:
            sh(*command)
    except CommandError as error:
        return error.stderr.strip() or str(error)
    sh(*delete)
    return None


def probe_commands(kind: str) -> tuple[list[list[str]], list[str]]:
    """The `ip` commands that create a throwaway link of `kind` and the one that deletes it,
    from the kind class's own probe link (`probe_link().ip_commands()`: its probe arguments,
    its peer if paired, its parent, which `probe_kind` makes first, if it has one).

    `ip OBJ add ...` is undone by `ip link del NAME` (OBJ link) or `ip OBJ del ...` (tuntap).
    A kind whose class creates it by another program (team: teamd) is asked of the kernel's
    driver directly: `ip link add NAME type KERNEL_KIND`. Independent of vnet's own probe
    (netlink): tests/live/test_cli_live.py compares the two."""
    cls = lookup(kind)
    create = [list(command) for command in cls.probe_link().ip_commands()]
    if not create or not all(len(c) > 3 and c[0] == "ip" and c[2] == "add" for c in create):
        create = [["ip", "link", "add", PROBE_NAME, "type", cls.kernel_kind or cls.kind_name]]
    first = create[0]
    if first[1] == "link":
        delete = ["ip", "link", "del", PROBE_NAME]
    else:
        delete = ["ip", first[1], "del", *first[3:]]
    return create, delete


def probe_kind(kind: str) -> str | None:
    """Try to create (and delete) a link of `kind` here with `ip`; None if it worked, else
    why not. A kind that `requires` what probing cannot make (IPoIB: an InfiniBand device) is
    not tried."""
    cls = lookup(kind)
    if cls.requires:
        return f"needs {cls.requires}, which probing cannot make"
    create, delete = probe_commands(kind)
    parent = cls.probe_link().parent()
    if parent is None:
        return _attempt(create, delete)
    problem = load_modules("veth")
    try:
        sh("ip", "link", "add", parent, "type", "veth", "peer", "name", _PARENT_PEER)
    except CommandError as error:
        why = error.stderr.strip() + (f" ({problem})" if problem else "")
        return f"no veth to act as its parent: {why}"
    try:
        return _attempt(create, delete)
    finally:
        sh("ip", "link", "del", parent)


def require_kind(kind: str) -> None:
    """Skip the calling test unless this kernel can create links of `kind`.

    Loads the kind's modules first (the kernel tier's kernel has every kind as a module; a
    modprobe failure fails the test there, elsewhere it joins the skip reason), then probes
    in the test's own namespace. In the kernel tier conftest.py turns the skip into a failure
    unless the test's kinds all declare `may_skip`.

    Once a test of this pytest process has proven `kind` (modules loaded, a link made), later
    tests take that proof (a file in PROVEN_ENV's directory, set by conftest.py) instead of
    running modprobe and `ip` again: the same kernel answers the same, and under TCG those
    commands cost 0.5-2 s a test. A kind not proven is asked again by every test.
    """
    proven = os.environ.get(PROVEN_ENV)
    marker = Path(proven, kind) if proven else None
    if marker is not None and marker.exists():
        return
    modprobe = load_modules(kind)
    problem = probe_kind(kind)
    if problem is not None:
        extra = f" (and {modprobe})" if modprobe else ""
        pytest.skip(f"kernel lacks {kind}: {problem}{extra}")
    if marker is not None:
        marker.touch()


def kernel_tier_skip(kinds: Sequence[str], may_skip: Mapping[str, str],
                     reason: str) -> tuple[bool, str]:
    """The kernel tier's rule for a skipped test: (stands, text).

    Its kernel has every kind, so a skip there is a failure, unless every kind the test names
    (`@pytest.mark.kind`) declares `may_skip` (`may_skip` maps kind -> that reason; kinds not
    in it, "netns" or unregistered ones, declare none). Then the skip stands and `text` is its
    reason with the kinds' may_skip reasons added; otherwise `text` is the failure message,
    naming the kinds and the original skip reason."""
    declared = {kind: may_skip.get(kind, "") for kind in kinds}
    if kinds and all(declared.values()):
        why = "; ".join(f"{kind} may skip: {text}" for kind, text in declared.items())
        return True, f"{reason} [{ALLOWED_SKIP_TAG}: {why}]"
    named = ", ".join(
        f"{kind} (declares may_skip)" if text else f"{kind} (declares no may_skip)"
        for kind, text in declared.items()
    ) or "none (unmarked test)"
    return False, (
        "kernel tier: this test skipped, but a skip here is a failure: the distribution kernel "
        "has every kind, so only a test whose kinds all declare may_skip may skip.\n"
        f"  kinds named by @pytest.mark.kind: {named}\n"
        f"  skip reason: {reason}"
    )


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


ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800


@contextlib.contextmanager
def capture_on(netns: str, ifname: str) -> Iterator[socket.socket]:
    """An AF_PACKET socket that sees every frame on `ifname` in named namespace `netns`."""
    sock = socket_in(netns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        sock.bind((ifname, 0))
        yield sock
    finally:
        sock.close()


def ipv4_frames(sock: socket.socket, seconds: float) -> list[bytes]:
    """The Ethernet frames carrying IPv4 (a whole IPv4 header at least) that `sock` reads
    within `seconds`; the IPv4 header starts at byte 14."""
    sock.settimeout(0.2)
    frames = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            frame = sock.recv(65535)
        except TimeoutError:
            continue
        if len(frame) >= 34 and struct.unpack("!H", frame[12:14])[0] == ETH_P_IP:
            frames.append(frame)
    return frames


def require_vlan_filtering() -> None:
    """Skip unless this kernel's bridge filters VLANs (CONFIG_BRIDGE_VLAN_FILTERING)."""
    require_kind("bridge")
    try:
        sh("ip", "link", "add", "vnetprobebr0", "type", "bridge", "vlan_filtering", "1")
    except CommandError as error:
        pytest.skip(f"kernel lacks bridge vlan_filtering: {error.stderr.strip()}")
    sh("ip", "link", "del", "vnetprobebr0")
