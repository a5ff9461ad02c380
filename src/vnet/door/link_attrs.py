"""The generic link attributes of features/link_attrs.py in netlink's terms: read from a link
message, and the RTM_SETLINK / RTM_NEWLINK parts that set them. Part of the kernel door."""

from __future__ import annotations

import struct
from typing import Any

from ..features.link_attrs import ADDRGENMODES, LINK_ATTRS
from . import rtnl

IFLA_AF_SPEC = 26
_AF_INET6 = 10
IFLA_INET6_ADDR_GEN_MODE = 8
_BY_MODE = {v: k for k, v in ADDRGENMODES.items()}


_BY_NLA = {spec.nla: (name, spec.type) for name, spec in LINK_ATTRS.items()
           if spec.nla is not None}
_FLAGS = [(name, spec.flag, spec.inverted) for name, spec in LINK_ATTRS.items() if spec.flag]
_ATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")


def read_link_attrs(raw: bytes, flags: int) -> dict[str, Any]:
    """Every generic attribute a link message reports, in the file's words. An inline loop
    (every observed link goes through it: a dump of 10,000 links must not double in time)."""
    out: dict[str, Any] = {name: bool(flags & bit) != inverted for name, bit, inverted in _FLAGS}
    head, u32, by_nla = _ATTR.unpack_from, _U32.unpack_from, _BY_NLA
    pos, end = rtnl._HDR.size + rtnl._IFI.size, len(raw)
    while pos + 4 <= end:
        alen, kind = head(raw, pos)
        if alen < 4:
            break
        kind &= rtnl.NLA_TYPE_MASK
        found = by_nla.get(kind)
        if found is not None:
            name, kind_type = found
            if kind_type == "str":
                out[name] = rtnl.cstr(raw, pos + 4, pos + alen)
            elif kind_type == "mac":
                out[name] = rtnl.mac_str(raw, pos + 4, pos + alen)
            elif alen >= 8:
                out[name] = u32(raw, pos + 4)[0]
        elif kind == IFLA_AF_SPEC:
            for family, a, b in rtnl.attrs(raw, pos + 4, pos + alen):
                if family == _AF_INET6:
                    for k, x, y in rtnl.attrs(raw, a, b):
                        if k == IFLA_INET6_ADDR_GEN_MODE and y > x:
                            out["addrgenmode"] = _BY_MODE.get(raw[x], raw[x])
        pos += (alen + 3) & ~3
    return out


def flags_of(attrs: dict[str, Any]) -> tuple[int, int]:
    """(flags, change) of the ifinfomsg that sets the flag attributes among `attrs`."""
    flags = change = 0
    for name, value in attrs.items():
        spec = LINK_ATTRS[name]
        if spec.flag:
            change |= spec.flag
            if bool(value) != spec.inverted:
                flags |= spec.flag
    return flags, change


def attr_bytes(attrs: dict[str, Any]) -> bytes:
    """The netlink attributes that carry the non-flag attributes among `attrs`."""
    parts = []
    for name, value in attrs.items():
        spec = LINK_ATTRS[name]
        if spec.nla is not None:
            parts.append(rtnl.attr_str(spec.nla, value) if spec.type == "str" else
                         rtnl.attr(spec.nla, rtnl.mac_bytes(value)) if spec.type == "mac" else
                         rtnl.attr_u32(spec.nla, int(value)))
        elif name == "addrgenmode":
            parts.append(rtnl.nested(IFLA_AF_SPEC, rtnl.nested(
                _AF_INET6, rtnl.attr(IFLA_INET6_ADDR_GEN_MODE,
                                     bytes([ADDRGENMODES[value]])))))
    return b"".join(parts)


def setlink_attrs(index: int, attrs: dict[str, Any]) -> tuple[int, int, bytes]:
    """RTM_SETLINK setting `attrs` (none of them create-only) on link `index`."""
    flags, change = flags_of(attrs)
    return rtnl.RTM_SETLINK, 0, rtnl.ifinfo(index, flags, change) + attr_bytes(attrs)
