"""The sandbox: a network + mount namespace (and, for a user other than root, a user namespace
mapping root inside to that user) kept alive by a small holder process, so that vnet works
without root and a test can have a network of its own.

Layout: the sandbox's directory (`VNET_SANDBOX`, else `$XDG_RUNTIME_DIR/vnet`, else
`/tmp/vnet-<uid>`; mode 0700, the user's own) holds only `holder.pid` (the holder's pid and
start time) and `holder.lock` (taken while a holder starts). Everything else vnet keeps, its
records, journals, lock and the named namespaces' mounts, stays under /run as outside: the
holder mounts a fresh tmpfs on /run in its mount namespace (binding the host's entries of
/run back into it, so the user's files there stay visible), so that state lives exactly as
long as the namespaces it describes. When the holder dies, its namespaces, the topologies in
them and their records go together; the next command finds `holder.pid` stale and starts a new
holder.

A command enters the sandbox with setns(2) on the holder's /proc/PID/ns files, before it
starts any thread (entering a user namespace needs a single-threaded process), and then runs
exactly as it does outside. The holder is checked first (its start time, its owner and its
command line), so a pid reused by another process is never entered.

This module reaches the kernel (it starts a process, unshares, mounts and enters namespaces),
like door/; it is called by the CLI only, before anything else runs.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import stat
import sys
import time

from .datatypes import datatype
from .errors import VnetError

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
#: what the holder's command line carries, beside its directory
HOLD_WORD = "vnet-sandbox-hold"
#: entries of the host's /run that the sandbox does not take over: vnet's own places
OWN_RUN = frozenset({"vnet", "netns"})
START_TIMEOUT = 20.0


class SandboxError(VnetError):
    """The sandbox could not be made, found or entered; the message says why and what to do."""


@datatype(frozen=True)
class Holder:
    """A live holder: its pid, its start time (clock ticks since boot) and its directory."""
    pid: int
    start: int
    directory: str

    @property
    def user_ns(self) -> bool:
        """Whether it holds a user namespace (a holder of a user other than root)."""
        try:
            return os.readlink(f"/proc/{self.pid}/ns/user") != os.readlink("/proc/self/ns/user")
        except OSError:
            return False


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def default_dir() -> str:
    """Where this user's sandbox lives: VNET_SANDBOX, else $XDG_RUNTIME_DIR/vnet, else
    /tmp/vnet-<uid>."""
    chosen = os.environ.get("VNET_SANDBOX")
    if chosen:
        return os.path.abspath(chosen)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "vnet")
    return f"/tmp/vnet-{os.geteuid()}"


def selected(flag: bool = False) -> str | None:
    """The sandbox this run uses: always one for a user other than root; for root only when
    asked (`--sandbox`, or VNET_SANDBOX set). None: no sandbox (root's usual way)."""
    if os.geteuid() != 0 or flag or os.environ.get("VNET_SANDBOX"):
        return default_dir()
    return None


def prepare_dir(path: str) -> None:
    """Make the sandbox directory (mode 0700) or check the one there: a directory of this
    user's that nobody else may write; a SandboxError otherwise."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as err:
        raise SandboxError(f"cannot make the sandbox directory {path} "
                           f"({os.strerror(err.errno or 0)}); set VNET_SANDBOX to a directory "
                           "you may create") from None
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise SandboxError(f"{path} is not a directory (a symlink or a file); move it away "
                           "or set VNET_SANDBOX to another path")
    if st.st_uid != os.geteuid():
        raise SandboxError(f"{path} belongs to user {st.st_uid}, not to you; set VNET_SANDBOX "
                           "to a directory of your own")
    if st.st_mode & 0o022:
        raise SandboxError(f"{path} is writable by others (mode {stat.S_IMODE(st.st_mode):04o})"
                           f", who could replace the sandbox's holder; chmod 700 {path}")


def _start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    # the fields after the command name (which may hold spaces and parentheses)
    fields = text[text.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _is_holder(pid: int, start: int, directory: str) -> bool:
    """Whether `pid` is still the holder that was started at `start` for `directory`, run by
    this user: a pid reused by another process fails one of the three."""
    if _start_time(pid) != start:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            uid = next(int(line.split()[1]) for line in fh if line.startswith("Uid:"))
    except (OSError, StopIteration, ValueError):
        return False
    return (uid == os.geteuid() and HOLD_WORD.encode() in argv
            and os.fsencode(directory) in argv)


def find_holder(directory: str) -> Holder | None:
    """The live holder of the sandbox at `directory`, or None (no pid file, or a stale one)."""
    try:
        with open(os.path.join(directory, "holder.pid"), encoding="ascii") as fh:
            pid_text, start_text = fh.read().split()[:2]
        pid, start = int(pid_text), int(start_text)
    except (OSError, ValueError):
        return None
    return Holder(pid, start, directory) if _is_holder(pid, start, directory) else None


def start_holder(directory: str, until: int | None = None) -> Holder:
    """The holder of `directory`, started now unless one lives (under holder.lock, so two
    commands starting at once make one). `until`: a pid whose end ends the holder too, and
    removes the directory (the pytest fixture's sandbox dies with pytest, even killed)."""
    prepare_dir(directory)
    lock = os.open(os.path.join(directory, "holder.lock"),
                   os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        holder = find_holder(directory)
        if holder is not None:
            return holder
        src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        code = (f"import sys; sys.path.insert(0, {src!r}); "
                "from vnet.sandbox import hold; hold(sys.argv[2], int(sys.argv[3]))")
        # an interpreter under a directory this user may not search (a root-owned pyenv)
        # still runs from its open file: /proc/self/exe (the holder needs only the stdlib)
        python = sys.executable if os.access(sys.executable, os.X_OK) else "/proc/self/exe"
        import subprocess  # here: every command asks whether it works in a sandbox
        proc = subprocess.Popen([python, "-c", code, HOLD_WORD, directory, str(until or 0)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True,
                                close_fds=True, cwd="/")
        assert proc.stdout is not None
        line = proc.stdout.readline().decode(errors="replace").strip()
        proc.stdout.close()
        if line != "ready":
            proc.wait(timeout=START_TIMEOUT)
            raise SandboxError(f"vnet could not start its sandbox in {directory}: "
                               f"{line or 'the holder ended without a word'}")
        start = _start_time(proc.pid)
        if start is None:
            raise SandboxError(f"the sandbox holder (pid {proc.pid}) ended just after it "
                               "started; run the command again")
        tmp = os.path.join(directory, f"holder.pid.{os.getpid()}")
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(f"{proc.pid} {start}\n")
        os.replace(tmp, os.path.join(directory, "holder.pid"))
        # the holder outlives this command: it is no child to wait for
        proc.returncode = 0
        return Holder(proc.pid, start, directory)
    finally:
        os.close(lock)


def enter(directory: str, start: bool = True) -> Holder | None:
    """Move this process into the sandbox at `directory` (starting its holder first when
    `start` and none lives). Must run before any thread exists. None: no holder and `start`
    is False (nothing was entered)."""
    holder = find_holder(directory) if not start else start_holder(directory)
    if holder is None:
        return None
    kinds = (["user"] if holder.user_ns else []) + ["mnt", "net"]
    flags = {"user": CLONE_NEWUSER, "mnt": CLONE_NEWNS, "net": CLONE_NEWNET}
    fds = {}
    try:
        for kind in kinds:
            fds[kind] = os.open(f"/proc/{holder.pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        # opened, and still the same process: the files are that holder's namespaces
        if not _is_holder(holder.pid, holder.start, directory):
            raise SandboxError(f"the sandbox holder (pid {holder.pid}) ended while vnet "
                               "entered it; run the command again")
        try:
            cwd: str | None = os.getcwd()
        except OSError:
            cwd = None
        lib = _libc()
        for kind in kinds:
            if lib.setns(fds[kind], flags[kind]) != 0:
                code = ctypes.get_errno()
                raise SandboxError(f"vnet could not enter its sandbox's {kind} namespace "
                                   f"(holder pid {holder.pid}): {os.strerror(code)}; "
                                   f"`vnet sandbox stop` ends it, then run the command again")
    except FileNotFoundError:
        raise SandboxError(f"the sandbox holder (pid {holder.pid}) ended while vnet entered "
                           "it; run the command again") from None
    finally:
        for fd in fds.values():
            os.close(fd)
    # entering a mount namespace moves the working directory to its root: back to where the
    # command was started (the same path in the sandbox's copy of the mounts)
    try:
        os.chdir(cwd or "/")
    except OSError:
        os.chdir("/")
    os.environ["VNET_IN_SANDBOX"] = directory
    return holder


def stop(holder: Holder, timeout: float = 10.0) -> None:
    """End the holder (its namespaces go with it once no process is inside) and forget it."""
    if _is_holder(holder.pid, holder.start, holder.directory):
        try:
            os.kill(holder.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while _start_time(holder.pid) == holder.start and time.monotonic() < deadline:
            time.sleep(0.02)
    try:
        os.unlink(os.path.join(holder.directory, "holder.pid"))
    except FileNotFoundError:
        pass


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(text)


def _mount(lib: ctypes.CDLL, source: str | None, target: str, fstype: str | None,
           flags: int, data: str | None = None) -> None:
    if lib.mount(None if source is None else os.fsencode(source), os.fsencode(target),
                 None if fstype is None else fstype.encode(), ctypes.c_ulong(flags),
                 None if data is None else data.encode()) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"mount {target}: {os.strerror(code)}")


def _private_run(lib: ctypes.CDLL) -> None:
    """A fresh tmpfs on /run, with the host's entries of /run (but vnet's own) bound back."""
    old = os.open("/run", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    names = [n for n in os.listdir(old) if n not in OWN_RUN]
    _mount(lib, "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for name in names:
        try:
            st = os.lstat(name, dir_fd=old)
            here = os.path.join("/run", name)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(name, dir_fd=old), here)
                continue
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(here)
            else:
                os.close(os.open(here, os.O_CREAT | os.O_WRONLY, 0o600))
            _mount(lib, f"/proc/self/fd/{old}/{name}", here, None, MS_BIND | MS_REC)
        except OSError:
            continue  # an entry the user may not bind: left out of the sandbox's /run
    os.close(old)


def _loopback_up() -> None:
    """Set `lo` of this (new) network namespace up (SIOCGIFFLAGS, SIOCSIFFLAGS)."""
    import socket
    import struct
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        got = fcntl.ioctl(sock, 0x8913, struct.pack("16sH22x", b"lo", 0))
        flags = struct.unpack("16sH22x", got)[1]
        fcntl.ioctl(sock, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))


def hold(directory: str, until: int = 0) -> None:
    """The holder's main: make the namespaces, say `ready` on standard output, then wait for
    SIGTERM (or for process `until` to end: then it removes `directory` too). Run as its own
    process (start_holder), never in a vnet command."""
    lib = _libc()
    watched = None
    if until:  # opened before the new namespaces: its pid is of this pid namespace
        try:
            watched = os.pidfd_open(until)
        except OSError:
            os._exit(1)  # already gone
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWNET | (CLONE_NEWUSER if uid != 0 else 0)
    try:
        if lib.unshare(flags) != 0:
            code = ctypes.get_errno()
            what = "a user namespace" if uid != 0 else "a network and mount namespace"
            fix = ("enable unprivileged user namespaces (sysctl "
                   "kernel.unprivileged_userns_clone=1, or user.max_user_namespaces > 0) "
                   "or run vnet as root" if uid != 0 else "run vnet with CAP_SYS_ADMIN")
            raise OSError(code, f"the kernel refused {what} ({os.strerror(code)}); {fix}")
        if uid != 0:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {uid} 1\n")
            _write("/proc/self/gid_map", f"0 {gid} 1\n")
        _mount(lib, None, "/", None, MS_REC | MS_PRIVATE)
        _private_run(lib)
        _loopback_up()  # as on a host: addresses of this namespace answer themselves
        try:  # a /sys that shows the sandbox's links (as `ip netns exec` gives one)
            _mount(lib, "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        except OSError:
            pass
    except OSError as err:
        sys.stdout.write(f"{err.strerror or err}\n")
        sys.stdout.flush()
        os._exit(1)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    os.chdir("/")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if watched is None:
        while True:
            signal.pause()
    import select
    select.select([watched], [], [])  # readable when that process has ended
    for name in ("holder.pid", "holder.lock"):
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass


def in_sandbox() -> str | None:
    """The sandbox this process entered (its directory), or None."""
    return os.environ.get("VNET_IN_SANDBOX")


__all__ = ["Holder", "SandboxError", "default_dir", "enter", "find_holder", "hold",
           "in_sandbox", "prepare_dir", "selected", "start_holder", "stop"]
