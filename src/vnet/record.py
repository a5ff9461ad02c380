"""What vnet changed on objects it does not own, kept under /run/vnet so destroy can put it back.

Owned objects need no record (their altname marks them); this file is only for the originals of
external interfaces and for routes vnet added in namespaces it does not own. /run is a tmpfs:
the record lives exactly as long as the kernel state it describes.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import LockError

STATE_DIR = "/run/vnet"


@dataclass
class Record:
    topology: str
    #: "netns|ifname" -> originals before vnet touched it: {"mtu": .., "master": .., "up": ..}
    externals: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: "netns|ifname" -> addresses vnet added to that external interface
    external_addresses: dict[str, list[str]] = field(default_factory=dict)
    #: routes vnet added in namespaces it does not own: [netns, table, family, to, metric]
    routes: list[list[Any]] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.externals or self.external_addresses or self.routes)


def ext_key(netns: str | None, name: str) -> str:
    return f"{netns or ''}|{name}"


def parse_ext_key(key: str) -> tuple[str | None, str]:
    ns, name = key.split("|", 1)
    return (ns or None, name)


def _path(topology: str) -> str:
    return os.path.join(STATE_DIR, f"{topology}.json")


def read_record(topology: str) -> Record:
    try:
        with open(_path(topology), encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return Record(topology)
    return Record(topology=topology, externals=data.get("externals", {}),
                  external_addresses=data.get("external_addresses", {}),
                  routes=data.get("routes", []))


def write_record(record: Record) -> None:
    path = _path(record.topology)
    if record.is_empty():
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
