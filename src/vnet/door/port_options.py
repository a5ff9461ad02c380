"""Port options (features/port_options.py) in netlink's terms: read from a port's
IFLA_INFO_SLAVE_DATA, and the RTM_NEWLINK that sets them (`ip link set DEV type bridge_slave
...`). Part of the kernel door."""

from __future__ import annotations

import struct
from typing import Any

from ..features.port_options import PORT_OPTIONS
from . import rtnl

IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 4, 5
_FORMATS = {"u8": "=B", "flag": "=B", "u16": "=H", "u32": "=I", "s32": "=i"}


def read_port_options(raw: bytes) -> dict[str, Any]:
    """The port options a link message reports (empty: the link is no port vnet knows)."""
    slave_kind, start, end = None, 0, 0
    for kind, s, e in rtnl.attrs(raw, rtnl._HDR.size + rtnl._IFI.size, len(raw)):
        if kind == rtnl.IFLA_LINKINFO:
            for k, a, b in rtnl.attrs(raw, s, e):
                if k == IFLA_INFO_SLAVE_KIND:
                    slave_kind = rtnl.cstr(raw, a, b)
                elif k == IFLA_INFO_SLAVE_DATA:
                    start, end = a, b
    options = PORT_OPTIONS.get(slave_kind or "")
    if not options or not end:
        return {}
    by_nla = {spec.nla: (name, spec) for name, spec in options.items()}
    out: dict[str, Any] = {}
    for kind, s, e in rtnl.attrs(raw, start, end):
        if kind in by_nla:
            name, spec = by_nla[kind]
            fmt = _FORMATS[spec.type]
            if e - s >= struct.calcsize(fmt):
                out[name] = spec.decode(struct.unpack_from(fmt, raw, s)[0])
    return out


def set_port_options(index: int, master_kind: str, options: dict[str, Any]
                     ) -> tuple[int, int, bytes]:
    """RTM_NEWLINK (no NLM_F_CREATE) setting `options` of the port `index` of a master of
    `master_kind`."""
    specs = PORT_OPTIONS[master_kind]
    data = b"".join(rtnl.attr(specs[name].nla, struct.pack(_FORMATS[specs[name].type],
                                                          specs[name].encode(value)))
                    for name, value in options.items())
    body = rtnl.ifinfo(index) + rtnl.nested(
        rtnl.IFLA_LINKINFO, rtnl.attr_str(IFLA_INFO_SLAVE_KIND, master_kind),
        rtnl.nested(IFLA_INFO_SLAVE_DATA, data))
    return rtnl.RTM_NEWLINK, 0, body

