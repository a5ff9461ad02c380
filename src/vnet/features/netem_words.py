"""A live netem in the file's words (`delay 40ms loss 2%`), for plans, `vnet show` and its
JSON: plain arithmetic, no pydantic (`vnet show` starts without it)."""

from __future__ import annotations

from typing import Any

#: a percentage as the kernel holds it: 100% is 2^32-1 (tc's max_percent_value)
MAX_PERCENT = 0xFFFFFFFF
#: netem's queue in packets when `limit` is not given (the kernel's and tc's default)
DEFAULT_LIMIT = 1000


def format_rate(rate: int) -> str:
    """Bytes/s in tc's spelling (`1250000` -> `10mbit`)."""
    bits = rate * 8
    for unit, scale in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bits % scale == 0:
            return f"{bits // scale}{unit}"
    return f"{bits}bit"


def format_percent(value: int) -> str:
    """The kernel's 32-bit probability back as tc prints it (`2%`)."""
    text = f"{value / MAX_PERCENT * 100:.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def format_ns(ns: int) -> str:
    """Nanoseconds as tc spells a time (`40ms`, `500us`)."""
    if ns % 1_000_000_000 == 0 and ns:
        return f"{ns // 1_000_000_000}s"
    if ns % 1_000_000 == 0 and ns:
        return f"{ns // 1_000_000}ms"
    if ns % 1000 == 0:
        return f"{ns // 1000}us"
    return f"{ns}ns"


def impair_from_params(params: dict[str, Any]) -> dict[str, Any]:
    """A live netem's numbers back in the file's words (for `show`, capture and plans)."""
    out: dict[str, Any] = {}
    if params.get("latency"):
        out["delay"] = format_ns(params["latency"])
        if params.get("jitter"):
            out["jitter"] = format_ns(params["jitter"])
            if params.get("delay_corr"):
                out["correlation"] = format_percent(params["delay_corr"])
    if params.get("distribution"):
        out["distribution"] = params["distribution"]
    for name, corr in (("loss", "loss_corr"), ("duplicate", "dup_corr"),
                       ("corrupt", "corrupt_corr"), ("reorder", "reorder_corr")):
        if params.get(name):
            out[name] = format_percent(params[name]) + (
                f" {format_percent(params[corr])}" if params.get(corr) else "")
    if params.get("reorder") and params.get("gap", 1) > 1:
        out["gap"] = params["gap"]
    if params.get("ecn"):
        out["ecn"] = True
    ge, gi = params.get("ge"), params.get("gi")
    if ge:
        p, r, h, k1 = ge
        out["loss_model"] = " ".join(["gemodel", *map(format_percent,
                                                      (p, r, MAX_PERCENT - h, k1))])
    elif gi:
        p13, p31, p32, p14, p23 = gi
        out["loss_model"] = " ".join(["state", *map(format_percent, (p13, p31, p32, p23, p14))])
    if params.get("rate"):
        out["rate"] = format_rate(params["rate"])
        for name in ("packet_overhead", "cell_size", "cell_overhead"):
            if params.get(name):
                out[name] = params[name]
    slot = params.get("slot")
    if slot:
        text = f"{format_ns(slot[0])} {format_ns(slot[1])}"
        if slot[2]:
            text += f" packets {slot[2]}"
        if slot[3]:
            text += f" bytes {slot[3]}"
        out["slot"] = text
    if params.get("limit", DEFAULT_LIMIT) != DEFAULT_LIMIT:
        out["limit"] = params["limit"]
    return out


def describe(params: dict[str, Any]) -> str:
    """A netem as a plan or `show` names it: `delay 40ms loss 2%`."""
    words = impair_from_params(params)
    return " ".join(f"{k} {v}" for k, v in words.items()) or "no impairment"




def short_label(words: dict[str, Any]) -> str:
    """An impairment in the file's words (`impair:`'s fields) as a diagram's short label:
    `40ms±5ms 2% loss 10mbit`."""
    def first(value: Any) -> str:
        text = str(value).split()[0]
        return text if text.endswith("%") else f"{text}%"
    parts: list[str] = []
    if words.get("delay") is not None:
        delay = str(words["delay"])
        parts.append(f"{delay}±{words['jitter']}" if words.get("jitter") is not None
                     else delay)
    if words.get("loss") is not None:
        parts.append(f"{first(words['loss'])} loss")
    if words.get("loss_model") is not None:
        parts.append("bursty loss")
    for name, short in (("duplicate", "dup"), ("corrupt", "corrupt"), ("reorder", "reorder")):
        if words.get(name) is not None:
            parts.append(f"{first(words[name])} {short}")
    if words.get("rate") is not None:
        parts.append(str(words["rate"]))
    if words.get("slot") is not None:
        parts.append("slotted")
    return " ".join(parts)
