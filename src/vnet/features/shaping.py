"""Traffic shaping: a root qdisc (tbf, or htb with one default class) that limits what an
interface sends, in tc's own words and units. Rates, sizes and times are written and parsed as
tc writes them (`10mbit`, `32kbit`, `50ms`) and turned into the kernel's units with tc's own
arithmetic, so the kernel holds the same numbers after vnet as after `tc`, and a second plan
finds nothing to change. The IFB kind (kinds/ifb.py) shapes what an interface receives with it.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from ..declare import BaseModel, ConfigDict, Field, field_validator, model_validator
from .netem_words import format_rate as rate_text

# psched clock of every kernel since 2.6.31 (/proc/net/psched "000003e8 00000040 000f4240"):
# 1000 ns per µs over 64 ns per tick.
TICK_IN_USEC = 1000 / 64
TIME_UNITS_PER_SEC = 1_000_000
TC_H_ROOT = 0xFFFFFFFF
HTB_HANDLE = 0x10000  # 1:
HTB_CLASS = 0x10001  # 1:1, the default class all traffic falls into
HTB_MTU = 1600  # tc htb's default mtu for the default burst
PSCHED_HZ = 1_000_000_000  # tc's get_hz() on a high-resolution psched clock
MAX_RATE = 0xFFFFFFFF  # bytes/s: the 32-bit rate fields (tbf has no 64-bit rate here)

# tc's units (tc(8) "PARAMETERS"), case-insensitive like tc; a bare number is bits/s.
_RATE_UNITS = {"": 1, "bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "tbit": 1e12,
               "kibit": 1024, "mibit": 1024**2, "gibit": 1024**3, "tibit": 1024**4,
               "bps": 8, "kbps": 8e3, "mbps": 8e6, "gbps": 8e9, "tbps": 8e12,
               "kibps": 8 * 1024, "mibps": 8 * 1024**2, "gibps": 8 * 1024**3,
               "tibps": 8 * 1024**4}
# sizes: a bare number or `b` is bytes; k/kb are KiB; kbit is 1024 bits.
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2,
               "g": 1024**3, "gb": 1024**3, "kbit": 1024 / 8, "mbit": 1024**2 / 8,
               "gbit": 1024**3 / 8}
# times: a bare number is µs
_TIME_UNITS = {"": 1, "s": 1e6, "sec": 1e6, "secs": 1e6, "ms": 1e3, "msec": 1e3,
               "msecs": 1e3, "us": 1, "usec": 1, "usecs": 1}
_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)\s*$")


def _split(value: Any, what: str, units: dict[str, float], example: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is not a number with a unit like {example}")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    else:
        m = _NUMBER.match(str(value))
        if not m:
            raise ValueError(f"{what} {value!r} is not a number with a unit like {example}")
        number, unit = float(m.group(1)), m.group(2).lower()
    if unit not in units:
        names = ", ".join(u for u in units if u)
        raise ValueError(f"{what} {value!r} has an unknown unit {unit!r}; tc knows {names}")
    if number <= 0:
        raise ValueError(f"{what} {value!r} must be greater than zero")
    return number * units[unit]


def parse_rate(value: Any) -> int:
    """A tc rate (`10mbit`, `1gbit`, `125kbps`, bare = bit/s) in bytes per second."""
    rate = int(_split(value, "rate", _RATE_UNITS, "10mbit") / 8)
    if rate < 1:
        raise ValueError(f"rate {value!r} is below 8bit (1 byte/s), the smallest the kernel "
                         "can hold")
    if rate > MAX_RATE:
        raise ValueError(f"rate {value!r} is above 34gbit, the largest a 32-bit rate field "
                         "holds; use at most 34gbit")
    return rate


def parse_size(value: Any) -> int:
    """A tc size (`32kbit`, `4kb`, `1500`, bare = bytes) in bytes."""
    size = int(_split(value, "size", _SIZE_UNITS, "32kbit or 4kb"))
    if size > 0xFFFFFFFF:
        raise ValueError(f"size {value!r} is above 4gb, the largest the kernel holds")
    return size


def parse_time(value: Any) -> int:
    """A tc time (`50ms`, `1s`, bare = µs) in microseconds."""
    return int(_split(value, "time", _TIME_UNITS, "50ms"))


def xmittime(rate: int, size: int) -> int:
    """Ticks to send `size` bytes at `rate` bytes/s — tc_calc_xmittime, float for float
    (what tc puts in htb's buffer/cbuffer)."""
    return math.ceil(TIME_UNITS_PER_SEC * (size / rate) * TICK_IN_USEC)


def kernel_burst_ticks(rate: int, size: int) -> int:
    """The tbf buffer the kernel reports after `tc ... tbf burst SIZE`: tc also sends the burst
    in bytes (TCA_TBF_BURST) and the kernel derives the buffer from it with its own
    fixed-point rate (psched_ratecfg_precompute, psched_l2t_ns), then reports ns >> 6."""
    factor, shift = 1_000_000_000, 0
    while True:
        mult = factor // rate
        if mult & (1 << 31) or factor & (1 << 63):
            break
        factor <<= 1
        shift += 1
    return ((size * mult) >> shift) >> 6


def format_rate(rate: int | None) -> str | None:
    """Bytes/s back into tc's spelling, for plans (`1250000` → `10mbit`)."""
    return None if rate is None else rate_text(rate)


def _check_rate(v: Any) -> Any:
    if v is not None:
        parse_rate(v)
    return v


def _check_size(v: Any) -> Any:
    if v is not None:
        parse_size(v)
    return v


def _check_time(v: Any) -> Any:
    if v is not None:
        parse_time(v)
    return v


class Shaping(BaseModel):
    """The root qdisc of the IFB: what the redirected traffic is shaped (or scheduled) by."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    qdisc: Literal["tbf", "htb", "sfq"] = Field(
        description="tbf: one token bucket; htb: one class with rate and ceil; sfq: fair "
                    "queueing per flow, no rate (not on every kernel).")
    rate: str | int | None = Field(None, description="tbf/htb rate as tc writes it: 10mbit.")
    burst: str | int | None = Field(
        None, description="Bucket size as tc writes it: 32kbit, 4kb (tbf: required).")
    latency: str | int | None = Field(
        None, description="tbf: longest a packet may wait, as tc writes it: 50ms.")
    limit: str | int | None = Field(
        None, description="tbf: queue size in bytes instead of latency.")
    ceil: str | int | None = Field(None, description="htb: rate it may borrow up to.")
    cburst: str | int | None = Field(None, description="htb: burst at ceil.")
    perturb: int | None = Field(None, ge=0, le=2**31 - 1,
                                description="sfq: seconds between hash perturbations.")

    _rate = field_validator("rate", "ceil")(_check_rate)
    _size = field_validator("burst", "limit", "cburst")(_check_size)
    _time = field_validator("latency")(_check_time)

    @model_validator(mode="after")
    def _fits_qdisc(self) -> Shaping:
        allowed = {"tbf": {"rate", "burst", "latency", "limit"},
                   "htb": {"rate", "ceil", "burst", "cburst"},
                   "sfq": {"perturb"}}[self.qdisc]
        extra = sorted(k for k in self.model_fields_set - {"qdisc"} - allowed
                       if getattr(self, k) is not None)
        if extra:
            raise ValueError(f"{', '.join(extra)} do(es) not apply to {self.qdisc}; "
                             f"{self.qdisc} takes {', '.join(sorted(allowed))}")
        if self.qdisc == "tbf":
            missing = [k for k in ("rate", "burst") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"tbf needs {' and '.join(missing)} (e.g. rate: 10mbit, "
                                 "burst: 32kbit, latency: 50ms)")
            if (self.latency is None) == (self.limit is None):
                raise ValueError("tbf needs exactly one of latency (e.g. 50ms) or limit "
                                 "(bytes)")
        if self.qdisc == "htb":
            if self.rate is None:
                raise ValueError("htb needs a rate (e.g. rate: 10mbit)")
            if self.ceil is not None and parse_rate(self.ceil) < parse_rate(self.rate):
                raise ValueError(f"ceil {self.ceil} is below rate {self.rate}; ceil is the "
                                 "most a class may reach, at least its rate")
        return self

    # ---- the kernel's numbers, as tc computes them ---------------------------------------
    def root_handle(self) -> int:
        return HTB_HANDLE if self.qdisc == "htb" else 0

    def qdisc_params(self) -> dict[str, Any]:
        if self.qdisc == "tbf":
            rate, burst = parse_rate(self.rate), parse_size(self.burst)
            if self.limit is not None:
                limit = parse_size(self.limit)
            else:
                limit = int(rate * float(parse_time(self.latency)) / TIME_UNITS_PER_SEC + burst)
            return {"rate": rate, "buffer": kernel_burst_ticks(rate, burst), "limit": limit}
        if self.qdisc == "htb":
            return {"defcls": 1}
        return {"perturb": self.perturb or 0}

    def class_params(self) -> dict[str, Any] | None:
        if self.qdisc != "htb":
            return None
        rate = parse_rate(self.rate)
        ceil = parse_rate(self.ceil) if self.ceil is not None else rate
        burst = parse_size(self.burst) if self.burst is not None else \
            rate // PSCHED_HZ + HTB_MTU
        cburst = parse_size(self.cburst) if self.cburst is not None else \
            ceil // PSCHED_HZ + HTB_MTU
        return {"rate": rate, "ceil": ceil, "buffer": xmittime(rate, burst),
                "cbuffer": xmittime(ceil, cburst)}

    def tc_args(self) -> list[str]:
        """The qdisc's parameters as tc spells them (user's own spelling kept)."""
        out: list[str] = []
        names = ("rate", "burst", "latency", "limit") if self.qdisc == "tbf" else ("perturb",)
        for k in names:
            if getattr(self, k) is not None:
                out += [k, str(getattr(self, k))]
        return out

    def class_args(self) -> list[str]:
        out: list[str] = []
        for k in ("rate", "ceil", "burst", "cburst"):
            if getattr(self, k) is not None:
                out += [k, str(getattr(self, k))]
        return out


def describe_qdisc(kind: str, params: dict[str, Any]) -> str:
    """A qdisc or class as a plan names it: `tbf rate 10Mbit`."""
    if "rate" in params:
        extra = f" ceil {format_rate(params['ceil'])}" if "ceil" in params else ""
        return f"{kind} rate {format_rate(params['rate'])}{extra}"
    return kind
