"""The netem qdisc's TCA_OPTIONS, encoded and decoded as bytes.

TCA_OPTIONS of netem is a struct tc_netem_qopt followed by nested TCA_NETEM_* attributes
(pyroute2's netem encoder knows only some of them: not the 64-bit delays, the loss models or
slots). The parameters arrive in the kernel's numbers (features/impair.py works them out as tc
does). Every attribute that the kernel would otherwise keep from before is always sent (a
`tc qdisc change` that leaves out the rate keeps the old rate): zero turns it off.
"""

from __future__ import annotations

import struct
from typing import Any

TCA_NETEM_CORR, TCA_NETEM_DELAY_DIST, TCA_NETEM_REORDER = 1, 2, 3
TCA_NETEM_CORRUPT, TCA_NETEM_LOSS = 4, 5
TCA_NETEM_RATE, TCA_NETEM_ECN, TCA_NETEM_RATE64 = 6, 7, 8
TCA_NETEM_LATENCY64, TCA_NETEM_JITTER64 = 10, 11
TCA_NETEM_SLOT = 12
NETEM_LOSS_GI, NETEM_LOSS_GE = 1, 2
NLA_F_NESTED = 0x8000
#: psched ticks per microsecond (64 ns a tick): the struct's 32-bit delays are in ticks
TICKS_PER_USEC = 1000 / 64
INT_MAX = 0x7FFFFFFF

_QOPT = struct.Struct("=IIIIII")  # latency, limit, loss, gap, duplicate, jitter
_CORR = struct.Struct("=III")  # delay_corr, loss_corr, dup_corr
_PAIR = struct.Struct("=II")  # probability, correlation (reorder, corrupt)
_RATE = struct.Struct("=IiIi")  # rate, packet_overhead, cell_size, cell_overhead
_GE = struct.Struct("=IIII")  # p, r, h, k1
_GI = struct.Struct("=IIIII")  # p13, p31, p32, p14, p23
_SLOT = struct.Struct("=qqiiqq")  # min_delay, max_delay, max_packets, max_bytes, dist...
_S64 = struct.Struct("=q")
_U64 = struct.Struct("=Q")
_U32 = struct.Struct("=I")
_ATTR = struct.Struct("=HH")


def _attr(kind: int, payload: bytes) -> bytes:
    pad = (4 - len(payload) % 4) % 4
    return _ATTR.pack(4 + len(payload), kind) + payload + b"\0" * pad


def _ticks(ns: int) -> int:
    """A delay in the struct's 32-bit ticks, as tc's tc_core_time2tick (capped)."""
    return min(int(ns // 1000 * TICKS_PER_USEC), 0xFFFFFFFF)


def encode_netem(params: dict[str, Any]) -> bytes:
    """The payload of TCA_OPTIONS for netem with `params` (features/impair.py's keys)."""
    rate = int(params.get("rate") or 0)
    out = [_QOPT.pack(_ticks(params["latency"]), params["limit"], params["loss"],
                      params["gap"], params["duplicate"], _ticks(params["jitter"])),
           _attr(TCA_NETEM_CORR, _CORR.pack(params["delay_corr"], params["loss_corr"],
                                             params["dup_corr"])),
           _attr(TCA_NETEM_REORDER, _PAIR.pack(params["reorder"], params["reorder_corr"])),
           _attr(TCA_NETEM_CORRUPT, _PAIR.pack(params["corrupt"], params["corrupt_corr"]))]
    if rate >= 1 << 32:
        out.append(_attr(TCA_NETEM_RATE64, _U64.pack(rate)))
    out.append(_attr(TCA_NETEM_RATE, _RATE.pack(
        min(rate, 0xFFFFFFFF), params.get("packet_overhead", 0), params.get("cell_size", 0),
        params.get("cell_overhead", 0))))
    out.append(_attr(TCA_NETEM_LATENCY64, _S64.pack(params["latency"])))
    out.append(_attr(TCA_NETEM_JITTER64, _S64.pack(params["jitter"])))
    slot = params.get("slot") or [0, 0, 0, 0]
    out.append(_attr(TCA_NETEM_SLOT, _SLOT.pack(slot[0], slot[1], slot[2], slot[3], 0, 0)))
    if params.get("ge"):
        out.append(_attr(TCA_NETEM_LOSS | NLA_F_NESTED, _attr(NETEM_LOSS_GE,
                                                               _GE.pack(*params["ge"]))))
    elif params.get("gi"):
        out.append(_attr(TCA_NETEM_LOSS | NLA_F_NESTED, _attr(NETEM_LOSS_GI,
                                                               _GI.pack(*params["gi"]))))
    out.append(_attr(TCA_NETEM_ECN, _U32.pack(params.get("ecn", 0))))
    if params.get("distribution"):
        out.append(encode_table(params["distribution"]))
    return b"".join(out)


def encode_table(name: str) -> bytes:
    """TCA_NETEM_DELAY_DIST: table `name`'s values as signed 16-bit numbers, as tc sends
    them (the kernel keeps it and never reports it back)."""
    from ..features.netem_tables import load_table
    values = load_table(name)
    return _attr(TCA_NETEM_DELAY_DIST, struct.pack(f"={len(values)}h", *values))


def _attrs(data: bytes, start: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    offset = start
    while offset + 4 <= len(data):
        length, kind = _ATTR.unpack_from(data, offset)
        if length < 4:
            break
        out[kind & ~NLA_F_NESTED] = data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return out


def decode_netem(payload: bytes) -> dict[str, Any]:
    """A live netem's TCA_OPTIONS payload back into features/impair.py's keys."""
    latency, limit, loss, gap, duplicate, jitter = _QOPT.unpack_from(payload, 0)
    attrs = _attrs(payload, _QOPT.size)
    out: dict[str, Any] = {"limit": limit, "loss": loss, "gap": gap, "duplicate": duplicate,
                           "latency": int(latency / TICKS_PER_USEC) * 1000,
                           "jitter": int(jitter / TICKS_PER_USEC) * 1000,
                           "delay_corr": 0, "loss_corr": 0, "dup_corr": 0, "reorder": 0,
                           "reorder_corr": 0, "corrupt": 0, "corrupt_corr": 0, "rate": 0,
                           "packet_overhead": 0, "cell_size": 0, "cell_overhead": 0,
                           "ecn": 0, "ge": None, "gi": None, "slot": None}
    if TCA_NETEM_LATENCY64 in attrs:
        out["latency"] = _S64.unpack(attrs[TCA_NETEM_LATENCY64][:8])[0]
    if TCA_NETEM_JITTER64 in attrs:
        out["jitter"] = _S64.unpack(attrs[TCA_NETEM_JITTER64][:8])[0]
    if TCA_NETEM_CORR in attrs:
        out["delay_corr"], out["loss_corr"], out["dup_corr"] = \
            _CORR.unpack_from(attrs[TCA_NETEM_CORR])
    if TCA_NETEM_REORDER in attrs:
        out["reorder"], out["reorder_corr"] = _PAIR.unpack_from(attrs[TCA_NETEM_REORDER])
    if TCA_NETEM_CORRUPT in attrs:
        out["corrupt"], out["corrupt_corr"] = _PAIR.unpack_from(attrs[TCA_NETEM_CORRUPT])
    if TCA_NETEM_RATE in attrs:
        out["rate"], out["packet_overhead"], out["cell_size"], out["cell_overhead"] = \
            _RATE.unpack_from(attrs[TCA_NETEM_RATE])
    if TCA_NETEM_ECN in attrs:  # the kernel reports it only when set
        out["ecn"] = _U32.unpack_from(attrs[TCA_NETEM_ECN])[0]
    if TCA_NETEM_RATE64 in attrs:
        out["rate"] = _U64.unpack(attrs[TCA_NETEM_RATE64][:8])[0]
    if TCA_NETEM_SLOT in attrs:
        smin, smax, packets, size, _, _ = _SLOT.unpack_from(attrs[TCA_NETEM_SLOT])
        if smin or smax:
            # the kernel reports "no limit" (0 asked) as INT_MAX
            out["slot"] = [smin, smax, 0 if packets == INT_MAX else packets,
                           0 if size == INT_MAX else size]
    if TCA_NETEM_LOSS in attrs:
        model = _attrs(attrs[TCA_NETEM_LOSS], 0)
        if NETEM_LOSS_GE in model:
            out["ge"] = list(_GE.unpack_from(model[NETEM_LOSS_GE]))
        elif NETEM_LOSS_GI in model:
            out["gi"] = list(_GI.unpack_from(model[NETEM_LOSS_GI]))
    return out
