"""Named network namespaces as `ip netns` keeps them: a bind mount of the namespace at
/run/netns/NAME. Creating one steps this thread into a new namespace and back; deleting one
unmounts it (its links first, in one group deletion, so what vnet made there is gone when
destroy returns).

A mixin of `Netlink` (netlink.py), for its sockets and caches."""

from __future__ import annotations

import ctypes
import errno
import os
import resource
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import KernelError
from ..journal import crash_point
from . import rtnl
from .protocol import STRAY_EMPTY_FILE
from .rtnl import libc

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
MNT_DETACH = 2


LEAN_OPEN = 256
#: the loopback's ifindex in every namespace
_LOOPBACK_INDEX = 1


@contextmanager
def room_for_files(wanted: int) -> Iterator[int]:
    """Room to open `wanted` more files at once, beside up to LEAN_OPEN sockets: the soft
    limit on open files raised toward the hard one while inside (put back after); yields
    how many of the `wanted` fit (at least one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        yield wanted
        return
    spare = len(os.listdir("/proc/self/fd")) + LEAN_OPEN + 16
    limit = soft
    if spare + wanted > soft:
        limit = spare + wanted if hard == resource.RLIM_INFINITY else \
            max(soft, min(spare + wanted, hard))
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
        except (OSError, ValueError):  # refused: what the limit allows
            limit = soft
    try:
        yield max(1, min(wanted, limit - spare))
    finally:
        if limit != soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


EMPTY_FILE = STRAY_EMPTY_FILE


def stray_kind(st: os.stat_result) -> str:
    """What an entry of /run/netns that is not a namespace is, in words."""
    import stat
    if stat.S_ISREG(st.st_mode):
        return EMPTY_FILE if st.st_size == 0 else f"a file of {st.st_size} bytes"
    if stat.S_ISDIR(st.st_mode):
        return "a directory"
    if stat.S_ISLNK(st.st_mode):
        return "a symlink"
    return "a special file"


class NamespaceOps:
    """Listing, opening, creating and deleting named namespaces."""

    _lean: dict[str | None, Any]
    _sockets: dict[str | None, Any]
    _reach: Any
    _stop_teamds_in: Any
    #: /run/netns as last read: (the directory's mtime, namespaces, strays)
    _netns_cache: tuple[int, frozenset[str], dict[str, str]] | None = None

    # ---- namespaces ----------------------------------------------------------------------
    def list_netns(self) -> set[str]:
        """The named namespaces: the entries of /run/netns that are mounted namespaces."""
        return set(self._netns_entries()[0])

    def stray_netns(self) -> dict[str, str]:
        """The entries of /run/netns that are not mounted namespaces (a file left by an
        interrupted `ip netns add`, or put there by hand), each with what it is."""
        return dict(self._netns_entries()[1])

    def _netns_entries(self) -> tuple[frozenset[str], dict[str, str]]:
        """(namespaces, strays) of /run/netns, read again whenever the directory changed.
        A namespace is a file on which the kernel's namespace file system is mounted: the
        same device as this thread's own namespace file."""
        from .. import store
        if not store.check_dir(NETNS_DIR):
            return frozenset(), {}
        stamp = os.stat(NETNS_DIR).st_mtime_ns
        cached = self._netns_cache
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        nsfs = os.stat("/proc/thread-self/ns/net").st_dev
        names: set[str] = set()
        strays: dict[str, str] = {}
        for entry in os.listdir(NETNS_DIR):
            if entry.startswith("."):
                continue
            try:
                st = os.lstat(os.path.join(NETNS_DIR, entry))
            except FileNotFoundError:  # deleted meanwhile
                continue
            if st.st_dev == nsfs:
                names.add(entry)
            else:
                strays[entry] = stray_kind(st)
        self._netns_cache = (stamp, frozenset(names), strays)
        return self._netns_cache[1], strays

    def _forget_netns_entries(self) -> None:
        """vnet mounted or unmounted a namespace: read /run/netns afresh next time (mounting
        over a file leaves the directory's time as it was)."""
        self._netns_cache = None

    def netns_fd(self, netns: str | None) -> int:
        path = "/proc/self/ns/net" if netns is None else os.path.join(NETNS_DIR, netns)
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def _open_netns(self, netns: str) -> int:
        """netns_fd, or a KernelError naming the namespace when it does not exist."""
        try:
            return self.netns_fd(netns)
        except FileNotFoundError:
            raise KernelError(f"open namespace {netns}", errno.ENOENT,
                              f"{NETNS_DIR}/{netns} does not exist") from None

    def _create_netns(self, name: str, marker: str | None = None) -> None:
        """`ip netns add`: a new network namespace bind-mounted at /run/netns/NAME, its
        loopback given the altname `marker` and set up before it is mounted (so that a
        namespace vnet made is never seen unmarked, whenever vnet dies)."""
        lib = libc()
        os.makedirs(NETNS_DIR, mode=0o755, exist_ok=True)
        if lib.mount(b"", NETNS_DIR.encode(), b"none", MS_SHARED | MS_REC, None) != 0:
            lib.mount(NETNS_DIR.encode(), NETNS_DIR.encode(), b"none", MS_BIND | MS_REC, None)
            lib.mount(b"", NETNS_DIR.encode(), b"none", MS_SHARED | MS_REC, None)
        path = os.path.join(NETNS_DIR, name)
        self._forget_netns_entries()
        self._remove_stray(name)
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
        except FileExistsError:
            detail = "" if name in self.list_netns() else (
                f"{path} exists but is no mounted namespace (left by a crash of `ip netns "
                f"add`?); remove it with `rm {path}` and apply again")
            raise KernelError(f"create namespace {name}", errno.EEXIST, detail) from None
        crash_point("namespace file made, not yet mounted")
        # unshare and setns act on the calling thread only: this thread steps into a new
        # namespace, binds it to the file and steps back (no fork per namespace: a star makes many)
        code = 0
        inside = None
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if lib.unshare(CLONE_NEWNET) != 0:
                code = ctypes.get_errno() or 1
            else:
                try:
                    if marker is not None:
                        code, inside = self._mark_new_loopback(marker)
                    if code == 0 and lib.mount(b"/proc/thread-self/ns/net", path.encode(),
                                               b"none", MS_BIND, None) != 0:
                        code = ctypes.get_errno() or 1
                finally:
                    if lib.setns(own, CLONE_NEWNET) != 0:
                        os._exit(70)  # stranded in the new namespace: nothing safe is left
        finally:
            os.close(own)
        self._forget_netns_entries()
        if code != 0:
            if inside is not None:
                inside.close()
            os.unlink(path)
            raise KernelError(f"create namespace {name}", code)
        if inside is not None:
            self._keep_lean(name, inside)

    @staticmethod
    def _mark_new_loopback(marker: str) -> tuple[int, Any]:
        """From inside a namespace just made (this thread is in it): mark its loopback and
        set it up. Returns an errno (0: done) and the socket, open inside it."""
        try:
            rt = rtnl.Rtnl()
        except OSError as exc:
            return exc.errno or 1, None
        try:
            rt.request(rtnl.add_altname("lo", marker))
            rt.request(rtnl.setlink(_LOOPBACK_INDEX, up=True))
        except OSError as exc:
            rt.close()
            return exc.errno or 1, None
        return 0, rt

    def _keep_lean(self, name: str, rt: Any) -> None:
        """Keep `rt` as the lean socket of namespace `name` (as `_rt` would open it)."""
        old = self._lean.pop(name, None)
        if old is not None:
            old.close()
        if len(self._lean) >= LEAN_OPEN:
            self._lean.pop(next(iter(self._lean))).close()
        self._lean[name] = rt

    def _remove_stray(self, name: str) -> None:
        """Remove /run/netns/NAME when it is a stray that is an empty plain file (what an
        `ip netns add` killed before its mount leaves); a stray that is anything else stays,
        refused. A namespace there, or nothing, is left to the creation (EEXIST, or done)."""
        path = os.path.join(NETNS_DIR, name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if st.st_dev == os.stat("/proc/thread-self/ns/net").st_dev:
            return  # a namespace
        if stray_kind(st) != EMPTY_FILE:
            raise KernelError(f"create namespace {name}", errno.EEXIST,
                              f"{path} is {stray_kind(st)}, not a namespace: move it away")
        os.unlink(path)
        self._forget_netns_entries()

    def _delete_namespaces(self, items: Sequence[tuple[str, int | None]]
                           ) -> tuple[int, KernelError | None]:
        """Delete named namespaces, each with the topology's link `group` inside it first;
        returns how many are gone and the error that stopped the rest (None: all gone).

        The kernel dismantles a namespace asynchronously once its last reference goes: its
        devices (a macvtap's /dev/tapN, a veth's peer outside) would linger for a moment.
        Deleting the group inside first, in one call, makes that part synchronous: when
        destroy returns, what vnet made there is gone. (Reading each namespace to delete its
        pairs one by one was a large share of a teardown.)

        The namespaces' files are held open until a run's bind mounts are all gone: each
        unmount that drops a namespace's last reference sets the kernel dismantling it on the
        other core while the next is unmounted, and the unmounts then stalled; held, they go
        quickly and the kernel dismantles the run at once after. A run is as many as the limit
        on open files allows, raised for the while (Debian's default soft limit is 1,024):
        fewer, longer runs are faster (figures: docs/performance-notes.md)."""
        with room_for_files(len(items)) as room:
            return self._delete_namespace_runs(items, room)

    def _delete_namespace_runs(self, items: Sequence[tuple[str, int | None]], room: int
                               ) -> tuple[int, KernelError | None]:
        done = 0
        for first in range(0, len(items), room):
            held: list[tuple[str, int]] = []
            missing: KernelError | None = None
            try:
                for name, group in items[first:first + room]:
                    self._stop_teamds_in(name)  # a running teamd would keep it alive
                    try:
                        fd = self._open_netns(name)
                    except KernelError as err:  # those before it still go
                        missing = err
                        break
                    held.append((name, fd))
                    if group is not None:
                        try:
                            with self._reach(name, fd) as (rt, nsid):
                                rt.request(rtnl.dellink(group=group, target=nsid))
                        except (OSError, KernelError):  # ENODEV: none left; else the
                            pass                        # kernel's cleanup does it
                for name, _ in held:
                    refused = self._unmount_netns(name)
                    if refused is not None:
                        return done, refused
                    done += 1
            finally:
                for _, fd in held:
                    os.close(fd)
            if missing is not None:
                return done, missing
        return done, None

    def _unmount_netns(self, name: str) -> KernelError | None:
        """`ip netns del` proper: close vnet's sockets inside, unmount and unlink the file."""
        ipr = self._sockets.pop(name, None)
        if ipr is not None:
            ipr.close()
        rt = self._lean.pop(name, None)
        if rt is not None:
            rt.close()
        path = os.path.join(NETNS_DIR, name)
        self._forget_netns_entries()
        if libc().umount2(path.encode(), MNT_DETACH) != 0:
            code = ctypes.get_errno()
            if code != errno.EINVAL:  # EINVAL: not a mount point any more
                return KernelError(f"delete namespace {name}", code)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return None
