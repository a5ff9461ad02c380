"""Netlink answers as vnet's observed state: links (full, through pyroute2, or lean, from
rtnl's own parse), routes, and the kernel's errors as KernelErrors. Also which kind class a
live link belongs to."""

from __future__ import annotations

import functools
import os
import socket
import struct
from typing import Any

from ..actions import Request
from ..errors import KernelError
from ..observe import LinkState, RouteState
from . import rtnl

IFF_UP = 0x1
OPER = {0: "UNKNOWN", 1: "NOTPRESENT", 2: "DOWN", 3: "LOWERLAYERDOWN", 4: "TESTING",
         5: "DORMANT", 6: "UP"}


def kind_class(kernel_kind: str | None) -> Any:
    """The kind class of a live link (None: a kind vnet does not implement)."""
    from ..kinds import by_kernel_kind
    return by_kernel_kind(kernel_kind)


@functools.cache
def is_paired(kernel_kind: str | None) -> bool:
    """Whether links of this kernel kind come in pairs: deleting one end deletes its peer."""
    from ..kinds import PAIRED
    return kernel_kind in PAIRED


def kernel_error(req: Request, exc: BaseException) -> KernelError:
    """The kernel's refusal of `req`, as a KernelError naming it."""
    if isinstance(exc, KernelError):
        return exc
    code, detail = errno_of(exc)  # type: ignore[arg-type]
    return KernelError(req.describe(), code, detail)


def errno_of(exc: Exception) -> tuple[int | None, str]:
    """The kernel's errno and any extra words (extended ack) from a pyroute2/OS error."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    detail = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else ""
    if code and detail == os.strerror(code):
        detail = ""
    return (code if isinstance(code, int) else None), detail


#: struct formats of the netlink attribute types a kind's `info_nla` layout may name:
#: numbers, a MAC address ("l2addr", given and read back as text "01:80:c2:00:00:00") and a
#: pair of 32-bit words ("u32pair", a (value, mask) pair such as struct br_boolopt_multi)
_PACK = {"uint8": "=B", "uint16": "=H", "uint32": "=I", "uint64": "=Q", "be16": ">H",
         "be32": ">I", "be64": ">Q", "l2addr": "=6s", "u32pair": "=II"}


def _packed(kind: str, value: Any) -> bytes:
    """One attribute's payload: `value` in the layout's type `kind`."""
    if kind == "l2addr":
        return bytes.fromhex(str(value).replace(":", ""))
    if kind == "u32pair":
        return struct.pack(_PACK[kind], *value)
    return struct.pack(_PACK[kind], value)


def _unpacked(kind: str, payload: bytes, start: int) -> Any:
    """One attribute's value of layout type `kind`, read at `start` of `payload`."""
    values = struct.unpack_from(_PACK[kind], payload, start)
    if kind == "l2addr":
        return ":".join(f"{byte:02x}" for byte in values[0])
    return values if kind == "u32pair" else values[0]

#: a layout's address lists (each address a nested attribute) and their family: a bond's ARP
#: and NS targets
_ADDR_LISTS = {"ipv4list": socket.AF_INET, "ipv6list": socket.AF_INET6}


@functools.cache
def info_layout(kernel_kind: str | None) -> tuple[tuple[str, str], ...]:
    """The IFLA_INFO_DATA layout a kind declares (`info_nla`) for vnet to encode and decode
    itself, where pyroute2 does not know the kind or knows it only in part (empty: pyroute2's
    own). Nothing is registered into pyroute2: its tables are global to the process."""
    cls = kind_class(kernel_kind)
    return cls.info_nla if cls is not None else ()


@functools.cache
def misread_layout(kernel_kind: str | None) -> dict[int, tuple[str, str]]:
    """The attributes of a kind pyroute2 decodes wrongly (`info_nla_misread`), read here."""
    cls = kind_class(kernel_kind)
    return cls.info_nla_misread if cls is not None else {}


def _reread(fixes: dict[int, tuple[str, str]], message: bytes) -> dict[str, Any]:
    """The attributes `fixes` names, read from a link message's IFLA_INFO_DATA."""
    payload = rtnl.info_data_of(message)
    out: dict[str, Any] = {}
    for number, start, end in rtnl.attrs(payload, 0, len(payload)):
        if number in fixes:
            name, kind = fixes[number]
            if end - start >= struct.calcsize(_PACK[kind]):
                out[name] = _unpacked(kind, payload, start)
    return out


def encode_info_data(layout: tuple[tuple[str, str], ...], data: dict[str, Any]) -> bytes:
    """A kind's attributes (name -> value) as IFLA_INFO_DATA's payload, numbered by `layout`."""
    numbers = {name: (number, kind) for number, (name, kind) in enumerate(layout)}
    return _encoded(numbers, data.items())


def _encoded(numbers: dict[str, tuple[int, str]], pairs: Any) -> bytes:
    """(name, value) pairs as attributes, numbered and typed by `numbers`."""
    out = []
    for name, value in pairs:
        number, kind = numbers[name]
        if kind in _PACK:
            out.append(rtnl.attr(number, _packed(kind, value)))
        elif kind in _ADDR_LISTS:
            # a list of addresses, each an attribute of its own (numbered from 0) inside one:
            # a bond's ARP and NS targets; an empty list clears them
            family = _ADDR_LISTS[kind]
            out.append(rtnl.attr(number, b"".join(
                rtnl.attr(i, socket.inet_pton(family, str(v))) for i, v in enumerate(value))))
        elif kind == "nested":
            # attributes of the same layout inside one, names repeated at will: a macvlan's
            # source MACs, each an IFLA_MACVLAN_MACADDR inside IFLA_MACVLAN_MACADDR_DATA
            out.append(rtnl.attr(number, _encoded(numbers, value["attrs"])))
        else:
            raise ValueError(f"cannot encode {name} ({kind})")
    return b"".join(out)


def decode_info_data(layout: tuple[tuple[str, str], ...], payload: bytes) -> dict[str, Any]:
    """IFLA_INFO_DATA's payload as name -> value, by `layout` (attributes it does not name,
    and types it cannot read, are left out)."""
    return dict(_decoded(layout, payload, 0, len(payload)))


def _decoded(layout: tuple[tuple[str, str], ...], payload: bytes, begin: int,
             stop: int) -> list[tuple[str, Any]]:
    """The attributes of payload[begin:stop] as (name, value) pairs, by `layout`."""
    out: list[tuple[str, Any]] = []
    for number, start, end in rtnl.attrs(payload, begin, stop):
        if number >= len(layout):
            continue
        name, kind = layout[number]
        fmt = _PACK.get(kind)
        if fmt is not None and end - start >= struct.calcsize(fmt):
            out.append((name, _unpacked(kind, payload, start)))
        elif kind in _ADDR_LISTS:
            family = _ADDR_LISTS[kind]
            size = 4 if family == socket.AF_INET else 16
            out.append((name, [socket.inet_ntop(family, bytes(payload[s:s + size]))
                               for _, s, e in rtnl.attrs(payload, start, end) if e - s >= size]))
        elif kind == "nested":
            out.append((name, {"attrs": _decoded(layout, payload, start, end)}))
    return out


def decode_link(msg: Any) -> LinkState:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = None
    data: dict[str, Any] = {}
    if info is not None:
        kind = info.get_attr("IFLA_INFO_KIND")
        raw = info.get_attr("IFLA_INFO_DATA")
        if raw is not None and hasattr(raw, "get"):
            data = {name: value for name, value in raw.get("attrs", ())
                    if name != "UNKNOWN"}
            fixes = misread_layout(kind)
            if fixes:
                start = msg.offset
                data.update(_reread(fixes, bytes(msg.data[start:start + msg["header"]["length"]])))
    props = msg.get_attr("IFLA_PROP_LIST")
    altnames = list(props.get_attrs("IFLA_ALT_IFNAME")) if props is not None else []
    stats = msg.get_attr("IFLA_STATS64") or {}
    return LinkState(
        index=msg["index"],
        name=msg.get_attr("IFLA_IFNAME"),
        kind=kind,
        info_data=data,
        mtu=msg.get_attr("IFLA_MTU") or 0,
        mac=msg.get_attr("IFLA_ADDRESS"),
        up=bool(msg["flags"] & IFF_UP),
        operstate=OPER.get(msg.get_attr("IFLA_OPERSTATE") or 0, "UNKNOWN"),
        parent_index=msg.get_attr("IFLA_LINK") or None,
        parent_netnsid=msg.get_attr("IFLA_LINK_NETNSID"),
        link_type=msg["ifi_type"],
        altnames=altnames,
        rx_packets=stats.get("rx_packets", 0),
        tx_packets=stats.get("tx_packets", 0),
        rx_bytes=stats.get("rx_bytes", 0),
        tx_bytes=stats.get("tx_bytes", 0),
    )


def decode_route(msg: dict[str, Any], family: int, names: dict[int, str]) -> RouteState | None:
    """A unicast route of rtnl.dump_routes (which leaves out the local table) as observe
    keeps it (None: a malformed one)."""
    dst = msg["dst"]
    if dst is None:
        to = "default"
    else:  # the kernel keeps prefixes masked and rtnl spells them as ipaddress does
        to = f"{dst}/{msg['dst_len']}"
    if dst is None and msg["dst_len"] != 0:
        return None
    oif = msg["oif"]
    return RouteState(family=4 if family == socket.AF_INET else 6, table=msg["table"], to=to,
                      via=msg["gateway"], dev=names.get(oif) if oif else None,
                      metric=msg["priority"] or 0, proto=msg["proto"])


def lean_link(raw: rtnl.RawLink) -> LinkState:
    """A link without kind attributes, from the lean dump (the same fields as decode_link)."""
    rx_packets, tx_packets, rx_bytes, tx_bytes = raw.stats
    return LinkState(index=raw.index, name=raw.name, kind=raw.kind, info_data={}, mtu=raw.mtu,
                     mac=raw.mac, up=bool(raw.flags & IFF_UP),
                     operstate=OPER.get(raw.operstate, "UNKNOWN"),
                     parent_index=raw.parent_index or None, parent_netnsid=raw.parent_netnsid,
                     link_type=raw.link_type, altnames=raw.altnames, rx_packets=rx_packets,
                     tx_packets=tx_packets, rx_bytes=rx_bytes, tx_bytes=tx_bytes)
