"""What vnet changed on objects it does not own, so destroy can put it back: pure data.

Owned objects need no record (their altname marks them); a record holds only the originals of
external interfaces and the routes vnet added in namespaces it does not own. The planner reads
and writes it as data; `store` keeps it on disk (and holds the host lock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Record:
    topology: str
    #: "netns|ifname" -> originals before vnet touched it: {"mtu": .., "master": .., "up": ..}
    externals: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: "netns|ifname" -> addresses vnet added to that external interface
    external_addresses: dict[str, list[str]] = field(default_factory=dict)
    #: routes vnet added in namespaces it does not own: [netns, table, family, to, metric]
    routes: list[list[Any]] = field(default_factory=list)
    #: the absolute path of the file last applied (None: unknown, e.g. applied from Python
    #: text, or by a vnet before records kept it); `vnet list` and `vnet show` name it
    source: str | None = None
    #: "sha256:HEX" of that file's bytes when it was applied (None: unknown, as `source`): a
    #: copy of the file, moved or renamed, is still the same file
    source_digest: str | None = None

    def is_empty(self) -> bool:
        """Whether there is nothing to put back (the source file alone is no change)."""
        return not (self.externals or self.external_addresses or self.routes)


def ext_key(netns: str | None, name: str) -> str:
    return f"{netns or ''}|{name}"


def parse_ext_key(key: str) -> tuple[str | None, str]:
    ns, name = key.split("|", 1)
    return (ns or None, name)
