"""The ownership mark: an altname that the kernel keeps on every object vnet creates.

A link owned by topology T carries the altname `vnet.T.IFNAME`; a namespace owned by T carries
`vnet.T` on its loopback. Both survive the loss of any state file, and leave the user's alias
free. Topology names have no dots, so the mark parses back without ambiguity.

A link vnet creates also joins its topology's link group (`link_group`): not a mark of
ownership (a group can be shared or changed by hand), only what lets a teardown remove a
topology's links with one `ip link del group` when the group holds exactly those links.
"""

from __future__ import annotations

import re
import zlib

PREFIX = "vnet."
ALTNAME_MAX = 127
_TOPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def link_marker(topology: str, ifname: str) -> str:
    mark = f"{PREFIX}{topology}.{ifname}"
    assert len(mark) <= ALTNAME_MAX
    return mark


#: topology groups are 0x76000000 ("v") + 24 bits of the name's CRC: far from the small numbers
#: people give groups by hand
_GROUP_BASE = 0x76000000


def link_group(topology: str) -> int:
    """The link group (IFLA_GROUP) of the links topology `topology` creates."""
    return _GROUP_BASE | (zlib.crc32(topology.encode()) & 0xFFFFFF)


def netns_marker(topology: str) -> str:
    return f"{PREFIX}{topology}"


def link_owner(altnames: list[str], ifname: str) -> str | None:
    """The topology that owns a link named `ifname` with these altnames."""
    for alt in altnames:
        if alt.startswith(PREFIX) and alt.endswith(f".{ifname}"):
            topo = alt[len(PREFIX):-len(ifname) - 1]
            if _TOPO.match(topo):
                return topo
    return None


def netns_owner(lo_altnames: list[str]) -> str | None:
    for alt in lo_altnames:
        if alt.startswith(PREFIX) and _TOPO.match(alt[len(PREFIX):]):
            return alt[len(PREFIX):]
    return None
