"""Generic link attributes: what `ip link add|set DEV ...` says of any interface, whatever its
kind (`txqueuelen`, `alias`, `numtxqueues`, `promisc`, `addrgenmode`, ...).

Each is spelled as `ip` spells it, typed and range-checked from the kernel's own limits, and
optional: omitted, the kernel's default stays and nothing is written or compared. The table
`LINK_ATTRS` says, per attribute, how the kernel holds it (an IFLA_* attribute, a bit of the
link's flags, or IPv6's IFLA_AF_SPEC) and whether it can change on a live link:
`numtxqueues` and `numrxqueues` are fixed when the kernel allocates the device, so a change
re-creates the link (the plan says so). Everything here is pure data; the door encodes and
decodes (door/link_attrs.py); the fields are in link_attr_fields.py (this table is read
by `vnet show`, which starts without pydantic).

Measured with Linux 6.1 (`ip link set`): txqueuelen, alias, gso_max_size, gso_max_segs,
gro_max_size, promisc, allmulticast, multicast, arp and addrgenmode change in place.
"""

from __future__ import annotations

from typing import Any

from ..datatypes import datatype

#: IFF_* bits of the flags `ip` sets by name
IFF_NOARP, IFF_PROMISC, IFF_ALLMULTI, IFF_MULTICAST = 0x80, 0x100, 0x200, 0x1000
#: IPv6's address generation modes (IN6_ADDR_GEN_MODE_*)
ADDRGENMODES = {"eui64": 0, "none": 1, "stable_secret": 2, "random": 3}
#: the kernel's upper bound for GSO/GRO sizes without BIG TCP (GSO_LEGACY_MAX_SIZE)
GSO_LEGACY_MAX = 65536


@datatype(frozen=True)
class LinkAttr:
    """How the kernel holds one generic attribute."""

    #: IFLA_* number (an integer or a string attribute); None for a flag or addrgenmode
    nla: int | None = None
    #: the IFF_* bit of a flag attribute; `inverted`: the flag means the opposite (`arp` is
    #: IFF_NOARP cleared)
    flag: int = 0
    inverted: bool = False
    #: fixed when the device is allocated: a change re-creates the link
    create_only: bool = False
    #: "u32", "str", "mac" or "u8" (what the kernel takes); flags are booleans
    type: str = "u32"


LINK_ATTRS: dict[str, LinkAttr] = {
    "broadcast": LinkAttr(2, type="mac"),
    "txqueuelen": LinkAttr(13),
    "alias": LinkAttr(20, type="str"),
    "numtxqueues": LinkAttr(31, create_only=True),
    "numrxqueues": LinkAttr(32, create_only=True),
    "gso_max_segs": LinkAttr(40),
    "gso_max_size": LinkAttr(41),
    "gro_max_size": LinkAttr(58),
    "promisc": LinkAttr(flag=IFF_PROMISC),
    "allmulticast": LinkAttr(flag=IFF_ALLMULTI),
    "multicast": LinkAttr(flag=IFF_MULTICAST),
    "arp": LinkAttr(flag=IFF_NOARP, inverted=True),
    "addrgenmode": LinkAttr(type="u8"),
}


def declared_link_attrs(end: Any) -> dict[str, Any]:
    """The generic attributes an interface end declares (only those), in the file's words."""
    fields_set = end.model_fields_set
    if fields_set.isdisjoint(LINK_ATTRS):  # most ends: planning asks each of them
        return {}
    return {name: getattr(end, name) for name in LINK_ATTRS
            if name in fields_set and getattr(end, name) is not None}


def link_attrs_diff(declared: dict[str, Any], live: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """attribute -> (live, declared) for each declared attribute the live link lacks."""
    return {k: (live.get(k), v) for k, v in declared.items() if live.get(k) != v}


def create_only(names: Any) -> list[str]:
    """Those of `names` the kernel sets only when it creates the link."""
    return [n for n in names if LINK_ATTRS[n].create_only]
