"""Where vnet keeps its state between runs: the records (record.Record) under /run/vnet, one
JSON file per topology, and the lock that lets one vnet at a time change the kernel.

/run is a tmpfs: a record lives exactly as long as the kernel state it describes.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

from .errors import LockError
from .record import Record

STATE_DIR = "/run/vnet"


def _path(topology: str) -> str:
    return os.path.join(STATE_DIR, f"{topology}.json")


def read_record(topology: str) -> Record:
    try:
        with open(_path(topology), encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return Record(topology)
    # a record written before vnet kept the source file has no "source" (nor, before it kept
    # its digest, "source_digest"): None, unknown
    return Record(topology=topology, externals=data.get("externals", {}),
                  external_addresses=data.get("external_addresses", {}),
                  routes=data.get("routes", []), source=data.get("source"),
                  source_digest=data.get("source_digest"))


#: a topology's name (model.TOPOLOGY_NAME_PATTERN): other files there (the kinds cache) are not
#: records
_RECORD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def recorded() -> list[str]:
    """The topologies that have a record, sorted."""
    try:
        entries = os.listdir(STATE_DIR)
    except FileNotFoundError:
        return []
    return sorted(name for name, ext in map(os.path.splitext, entries)
                  if ext == ".json" and _RECORD_NAME.match(name))


def write_record(record: Record) -> None:
    path = _path(record.topology)
    if record.is_empty() and record.source is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    os.makedirs(STATE_DIR, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(asdict(record), fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


@contextmanager
def host_lock(wait: bool = False) -> Iterator[None]:
    """One vnet at a time changes the kernel: an exclusive lock on /run/vnet/lock."""
    os.makedirs(STATE_DIR, exist_ok=True)
    fd = os.open(os.path.join(STATE_DIR, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockError("another vnet process is changing the kernel (lock "
                            f"{STATE_DIR}/lock is held); wait for it to finish") from None
        yield
    finally:
        os.close(fd)
