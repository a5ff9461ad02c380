"""Where vnet keeps its state between runs: the records (record.Record) under /run/vnet, one
JSON file per topology, and the lock that lets one vnet at a time change the kernel.

/run is a tmpfs: a record lives exactly as long as the kernel state it describes.

What a crash or a person can leave here is expected: a record is written whole or not at all
(a temporary file, flushed to disk, renamed over the old one), read back checked field by field
(`record.record_from_data`), and a damaged one is a `DamagedRecord` carrying what of it is
sound. A state directory that is not vnet's plain directory (a file, a symlink, writable by
others), or a read-only /run, is a `StateError` before anything changes.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from .datatypes import asdict
from .errors import DamagedRecord, LockError, StateError, VnetError, warn
from .record import Record, record_from_data

STATE_DIR = "/run/vnet"
#: where named network namespaces are mounted (ip netns's place, which the door uses)
NETNS_DIR = "/run/netns"
#: a record is a few kilobytes; a file far larger is not one (and is not read whole)
MAX_RECORD_BYTES = 16 << 20


def _path(topology: str) -> str:
    return os.path.join(STATE_DIR, f"{topology}.json")


def _where(path: str) -> str:
    """The part of /run that holds `path` (for the read-only message)."""
    return os.path.dirname(path.rstrip("/")) or "/"


def check_dir(path: str, writable: bool = False) -> bool:
    """Whether the state directory `path` exists; a StateError when it is not a plain
    directory of this user's (a file, a symlink, group- or world-writable), or, if
    `writable` is asked, when it (or, missing, the directory above it) is read-only."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if writable and not os.access(_where(path), os.W_OK):
            raise _read_only(path) from None
        return False
    except NotADirectoryError:  # a file where /run should be
        raise StateError(f"{_where(path)} is not a directory: vnet keeps its state in "
                         f"{path}; fix the mounts under /run") from None
    fix = f"move it away (mv {path} {path}.old) and run vnet again"
    if stat.S_ISLNK(st.st_mode):
        raise StateError(f"{path} is a symlink (to {os.readlink(path)}), not the directory "
                         f"vnet keeps there; {fix}")
    if not stat.S_ISDIR(st.st_mode):
        raise StateError(f"{path} is a file, not the directory vnet keeps there; {fix}")
    if st.st_uid not in (0, os.geteuid()):
        raise StateError(f"{path} belongs to user {st.st_uid}, who could change vnet's state "
                         f"there; {fix}")
    if st.st_mode & 0o022:
        raise StateError(f"{path} is writable by others (mode {stat.S_IMODE(st.st_mode):04o}),"
                         f" who could change vnet's state there; chmod go-w {path}")
    if writable and not os.access(path, os.W_OK):
        raise _read_only(path)
    return True


def _read_only(path: str) -> VnetError:
    """Why `path` cannot be written: without root's capabilities, that (the one sentence every
    command says then); on a read-only /run, that."""
    try:
        read_only = bool(os.statvfs(_where(path)).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if not read_only:
        from .errors import PermissionProblem, missing_capabilities
        missing = missing_capabilities()
        if missing:
            return PermissionProblem(" and ".join(missing))
    return StateError(f"{path} cannot be written ({_where(path)} is read-only); vnet keeps its "
                      f"lock and records in {STATE_DIR} and its namespaces in {NETNS_DIR}: "
                      "mount /run read-write (or a tmpfs on it) and run vnet again")


def check_dirs_writable() -> None:
    """Before any change: /run/vnet and /run/netns are vnet's plain directories (or missing,
    where they can be made) and can be written."""
    check_dir(STATE_DIR, writable=True)
    check_dir(NETNS_DIR, writable=True)


def read_record(topology: str) -> Record:
    """The record of `topology` (an empty one when it has none). A damaged record raises
    DamagedRecord, which carries its sound part (`salvaged`) and what was lost."""
    path = _path(topology)
    if not check_dir(STATE_DIR):
        return Record(topology)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return Record(topology)
    except OSError as err:  # ELOOP: a symlink; EACCES, EISDIR...
        why = "it is a symlink" if err.errno == errno.ELOOP else os.strerror(err.errno or 0)
        raise DamagedRecord(path, Record(topology), [f"unreadable: {why}"]) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DamagedRecord(path, Record(topology), ["it is not a plain file"])
        if st.st_size > MAX_RECORD_BYTES:
            raise DamagedRecord(path, Record(topology),
                                [f"{st.st_size} bytes, far more than a record"])
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read(MAX_RECORD_BYTES + 1)
    finally:
        os.close(fd)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DamagedRecord(path, Record(topology), ["not UTF-8 text"]) from None
    except ValueError as err:  # json's errors, and numbers too long to convert
        what = "empty" if not raw.strip() else f"not JSON: {getattr(err, 'msg', err)}"
        raise DamagedRecord(path, Record(topology), [what]) from None
    except RecursionError:
        raise DamagedRecord(path, Record(topology), ["not a record: nested too deep"]) from None
    record, lost = record_from_data(topology, data)
    if lost:
        raise DamagedRecord(path, record, lost)
    return record


def read_record_or_warn(topology: str) -> Record:
    """`read_record` for the commands that only read (plan, show, list, capture): a damaged
    record is said in one warning line and its sound part used; ownership comes from the
    kernel's marks anyway."""
    try:
        return read_record(topology)
    except DamagedRecord as err:
        warn(f"{err}; going on from the kernel's ownership marks (`vnet destroy "
             f"{topology}` removes the topology and names what it cannot put back)")
        return err.salvaged


def set_aside(topology: str) -> str | None:
    """Keep a damaged record as NAME.json.damaged (a person may read what it still says);
    returns its new path (None: there was none)."""
    path = _path(topology)
    try:
        os.replace(path, path + ".damaged")
    except FileNotFoundError:
        return None
    _sync_dir()
    return path + ".damaged"


#: a topology's name (model.TOPOLOGY_NAME_PATTERN): other files there (the kinds cache) are not
#: records
_RECORD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def recorded() -> list[str]:
    """The topologies that have a record, sorted."""
    if not check_dir(STATE_DIR):
        return []
    return sorted(name for name, ext in map(os.path.splitext, os.listdir(STATE_DIR))
                  if ext == ".json" and _RECORD_NAME.match(name))


def _sync_dir() -> None:
    """Make a rename or unlink in STATE_DIR survive a power cut (fsync of the directory)."""
    fd = os.open(STATE_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a directory; the rename stands
        pass
    finally:
        os.close(fd)


def write_record(record: Record) -> None:
    """Keep `record` for the next run, whole or not at all: a temporary file in the same
    directory, flushed to disk, renamed over the old record (an empty one removes it)."""
    path = _path(record.topology)
    check_dir(STATE_DIR, writable=True)
    if record.is_empty() and record.source is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        _sync_dir()
        return
    os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
    _remove_leftovers(record.topology)
    # the temporary file's name is this process's: writers of a record hold the host lock,
    # and the leftovers of a killed one went just above (O_EXCL still refuses a file that
    # is there, never writing through a link someone put in its place)
    tmp = os.path.join(STATE_DIR, f".{record.topology}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(record), fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _sync_dir()


def _remove_leftovers(topology: str) -> None:
    """Temporary files of `topology`'s record that a killed vnet left before its rename."""
    prefix = f".{topology}."
    for entry in os.listdir(STATE_DIR):
        if entry.startswith(prefix) and entry.endswith(".tmp"):
            try:
                os.unlink(os.path.join(STATE_DIR, entry))
            except FileNotFoundError:
                pass


LOCK_NAME = "lock"


def _holder(fd: int) -> str:
    """Who holds the lock, as the holder wrote it in the lock file ("pid 1234")."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "pid unknown"


@contextmanager
def host_lock(wait: float | None = 0) -> Iterator[None]:
    """One vnet at a time changes the kernel: an exclusive lock on /run/vnet/lock, held until
    the block ends. Another vnet holding it: wait up to `wait` seconds (None: as long as it
    takes), then a LockError naming its pid. The kernel lets go of a lock when its holder
    dies, so one left by a killed vnet never blocks."""
    import time
    check_dir(STATE_DIR, writable=True)
    try:
        os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
        fd = os.open(os.path.join(STATE_DIR, LOCK_NAME),
                     os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as err:
        if err.errno == errno.EROFS:
            raise _read_only(STATE_DIR) from None
        what = "a symlink" if err.errno == errno.ELOOP else os.strerror(err.errno or 0)
        raise StateError(f"the lock {STATE_DIR}/{LOCK_NAME} cannot be opened ({what}); "
                         f"remove it (rm -r {STATE_DIR}/{LOCK_NAME}) when no vnet runs") \
            from None
    try:
        deadline = None if wait is None else time.monotonic() + wait
        pause = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    waited = f" after waiting {wait:g} s" if wait else ""
                    raise LockError(
                        f"another vnet process ({_holder(fd)}) is changing the kernel (it holds "
                        f"{STATE_DIR}/{LOCK_NAME}){waited}; let it finish, or run again with "
                        "--wait [SECONDS] to wait for it") from None
                time.sleep(pause if deadline is None
                           else max(0.0, min(pause, deadline - time.monotonic())))
                pause = min(pause * 2, 0.5)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)
