"""Impairments: a netem qdisc that delays, drops, duplicates, corrupts, reorders or slows what
an interface sends, in netem's own words and units (tc-netem(8)).

    tc qdisc replace dev veth1 root netem delay 40ms 5ms 25% loss 2% rate 10mbit

Values are written as tc writes them (`40ms`, `2%`, `10mbit`) and turned into the kernel's
numbers as tc turns them (percentages scaled to 2^32-1 and rounded, times in nanoseconds), so
the kernel holds the same numbers after vnet as after `tc`, and a second plan finds nothing to
change. `direction: ingress` (or `both`) impairs what the interface receives through an IFB
that vnet creates and owns (kinds/ifb.py), the way tc can only delay what leaves a device.

The planner asks `plan_impair` for each interface; the netem qdisc sits at the interface's
root and changes in place (`tc qdisc change`); on an interface vnet does not own, the root
qdisc found there is recorded and put back when the impairment goes.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from ..actions import Action, Request
from ..declare import BaseModel, ConfigDict, Field, field_validator, model_validator
from .netem_tables import load_table
from .netem_words import DEFAULT_LIMIT, MAX_PERCENT, describe, impair_from_params
from .shaping import TC_H_ROOT, parse_rate, parse_time

__all__ = ["DEFAULT_LIMIT", "MAX_PERCENT", "Impair", "check_impairs", "describe",
           "impair_from_params", "parse_percent", "plan_impair"]
#: the root qdiscs a kernel gives a device by itself; removing vnet's root qdisc brings one
#: back, so an interface that had one needs nothing recorded to be put back
DEFAULT_QDISCS = frozenset({"noqueue", "pfifo_fast", "fq_codel", "mq", "fq", ""})
#: the root qdiscs vnet can put back on an interface it does not own (it can encode them)
RESTORABLE = frozenset({"tbf", "netem"})

_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(%?)\s*$")


def parse_percent(value: Any, what: str = "percentage") -> float:
    """A tc percentage (`2%`, `0.1%`, a bare number is percent too) as a fraction 0..1."""
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is not a percentage like 2%")
    if isinstance(value, int | float):
        number = float(value)
    else:
        m = _PERCENT.match(str(value))
        if not m:
            raise ValueError(f"{what} {value!r} is not a percentage like 2% or 0.1%")
        number = float(m.group(1))
    if not 0 <= number <= 100:
        raise ValueError(f"{what} {value!r} is outside 0%-100%; write a percentage of "
                         "packets between 0% and 100%, e.g. 2%")
    return number / 100


def percent_u32(fraction: float) -> int:
    """A fraction 0..1 as the kernel's 32-bit probability, rounded as tc rounds (rint)."""
    return round(fraction * MAX_PERCENT)


def _probability(text: Any, what: str) -> tuple[int, int]:
    """`P` or `P C` (netem's probability and its correlation): both as the kernel's u32."""
    parts = str(text).split() if isinstance(text, str) else [text]
    if len(parts) not in (1, 2):
        raise ValueError(f"{what} {text!r} is a percentage, optionally followed by its "
                         "correlation: e.g. '2%' or '2% 25%'")
    prob = percent_u32(parse_percent(parts[0], what))
    corr = percent_u32(parse_percent(parts[1], f"{what} correlation")) if len(parts) == 2 else 0
    return prob, corr


def _loss_model(text: str) -> tuple[str, list[int]]:
    """`gemodel P [R [1-H [1-K]]]` or `state P13 [P31 [P32 [P23 [P14]]]]` (tc-netem(8)) as
    the kernel's struct: ("ge", [p, r, h, k1]) or ("gi", [p13, p31, p32, p14, p23]), with
    tc's defaults for what is left out."""
    words = str(text).split()
    if not words or words[0] not in ("gemodel", "state"):
        raise ValueError(f"loss_model {text!r} is not 'gemodel P [R [1-H [1-K]]]' or 'state "
                         "P13 [P31 [P32 [P23 [P14]]]]' (tc-netem(8)), e.g. 'gemodel 1% 10%'")
    name, values = words[0], [parse_percent(w, f"loss_model {words[0]} value")
                              for w in words[1:]]
    most = 4 if name == "gemodel" else 5
    if not 1 <= len(values) <= most:
        raise ValueError(f"loss_model {name} takes 1 to {most} percentages, not {len(values)}")
    if name == "gemodel":
        p, r, one_h, one_k = (values + [1.0, 1.0, 0.0][len(values) - 1:])[:4]
        # netem's option is 1-h; the kernel keeps h
        return "ge", [percent_u32(p), percent_u32(r), MAX_PERCENT - percent_u32(one_h),
                      percent_u32(one_k)]
    p13 = values[0]
    p31, p32, p23, p14 = (values[1:] + [1.0 - p13, 0.0, 1.0, 0.0][len(values) - 1:])[:4]
    return "gi", [percent_u32(p13), percent_u32(p31), percent_u32(p32), percent_u32(p14),
                  percent_u32(p23)]


_SLOT_WORDS = ("packets", "bytes")


def _slot(text: str) -> list[int]:
    """`MIN_DELAY [MAX_DELAY] [packets N] [bytes N]` as [min ns, max ns, packets, bytes]
    (0 packets/bytes: no limit, which the kernel reports as 2^31-1)."""
    words = str(text).split()
    times: list[int] = []
    limits = {"packets": 0, "bytes": 0}
    i = 0
    while i < len(words):
        if words[i] in _SLOT_WORDS:
            if i + 1 >= len(words) or not words[i + 1].isdigit():
                raise ValueError(f"slot {text!r}: {words[i]} needs a number")
            limits[words[i]] = int(words[i + 1])
            i += 2
            continue
        if len(times) == 2 or limits["packets"] or limits["bytes"]:
            raise ValueError(f"slot {text!r} is not 'MIN_DELAY [MAX_DELAY] [packets N] "
                             "[bytes N]', e.g. '800us 1ms packets 10'")
        times.append(parse_time(words[i]) * 1000)
        i += 1
    if not times:
        raise ValueError(f"slot {text!r} needs a delay, e.g. '800us 1ms packets 10'")
    if len(times) == 1:
        times.append(times[0])
    if times[1] < times[0]:
        raise ValueError(f"slot {text!r}: the largest delay is below the smallest; write "
                         "MIN_DELAY before MAX_DELAY")
    if limits["packets"] > 0x7FFFFFFF or limits["bytes"] > 0x7FFFFFFF:
        raise ValueError(f"slot {text!r}: packets and bytes are at most 2147483647")
    return [times[0], times[1], limits["packets"], limits["bytes"]]


#: how each `impair:` value is checked: the parser that also turns it into the kernel's number
_PARSERS: dict[str, Any] = {
    "delay": lambda v, _: parse_time(v), "jitter": lambda v, _: parse_time(v),
    "correlation": parse_percent, "rate": lambda v, _: parse_rate(v),
    "loss_model": lambda v, _: _loss_model(v), "slot": lambda v, _: _slot(v),
    "distribution": lambda v, _: load_table(str(v)),
    **dict.fromkeys(("loss", "duplicate", "corrupt", "reorder"), _probability),
}


class Impair(BaseModel):
    """What netem does to the packets an interface sends (or receives: `direction`)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    delay: str | int | None = Field(None, description="Added delay as tc writes it: 40ms.")
    jitter: str | int | None = Field(
        None, description="Random variation of the delay, as tc writes it: 5ms (needs delay).")
    correlation: str | int | float | None = Field(
        None, description="How much each delay depends on the last: 25% (needs jitter).")
    distribution: str | None = Field(
        None, description="The shape of the jitter: a table tc ships (normal, pareto, "
                          "paretonormal, ... the NAME.dist files of iproute2; needs jitter).")
    loss: str | int | float | None = Field(
        None, description="Random loss: 2%, or '2% 25%' with its correlation.")
    loss_model: str | None = Field(
        None, description="Bursty loss as tc-netem(8) writes it: 'gemodel P [R [1-H [1-K]]]' "
                          "or 'state P13 [P31 [P32 [P23 [P14]]]]'.")
    duplicate: str | int | float | None = Field(
        None, description="Packets sent twice: 0.1%, or '0.1% 25%' with its correlation.")
    corrupt: str | int | float | None = Field(
        None, description="Packets with one bit flipped: 0.1% (optionally its correlation).")
    reorder: str | int | float | None = Field(
        None, description="Packets sent at once, ahead of the delayed ones: 1% (needs delay).")
    gap: int | None = Field(
        None, ge=1, le=0xFFFFFFFF,
        description="Reorder only among every GAP packets: 5 (needs reorder; default 1).")
    ecn: bool | None = Field(
        None, description="Mark lost packets with ECN (Congestion Experienced) instead of "
                          "dropping them, where they are ECN-capable (needs loss or "
                          "loss_model).")
    rate: str | int | None = Field(
        None, description="Rate the link sends at, as tc writes it: 10mbit.")
    packet_overhead: int | None = Field(
        None, ge=-0x80000000, le=0x7FFFFFFF,
        description="Bytes added to (or, negative, taken from) each packet's size when the "
                    "rate is worked out: 20 (needs rate; tc's PACKETOVERHEAD).")
    cell_size: int | None = Field(
        None, ge=0, le=0xFFFFFFFF,
        description="Each packet counted as whole cells of this many bytes for the rate: 48 "
                    "for ATM (needs rate; tc's CELLSIZE).")
    cell_overhead: int | None = Field(
        None, ge=-0x80000000, le=0x7FFFFFFF,
        description="Bytes added to each cell: 5 (needs cell_size; tc's CELLOVERHEAD).")
    limit: int | None = Field(
        None, ge=1, le=0xFFFFFFFF,
        description="Packets netem may hold (default 1000); raise it for long delays at high "
                    "rates.")
    slot: str | None = Field(
        None, description="Send in bursts: 'MIN_DELAY [MAX_DELAY] [packets N] [bytes N]'.")
    direction: Literal["egress", "ingress", "both"] = Field(
        "egress", description="What is impaired: what the interface sends (egress, the "
                              "default), receives (ingress, through an IFB vnet makes), or "
                              "both.")

    @field_validator("delay", "jitter", "correlation", "loss", "duplicate", "corrupt",
                     "reorder", "rate", "loss_model", "slot", "distribution")
    @classmethod
    def _parses(cls, v: Any, info: Any) -> Any:
        """Each value as tc would parse it (its parser's error is the field's)."""
        if v is not None:
            _PARSERS[info.field_name](v, info.field_name)
        return v

    @model_validator(mode="after")
    def _fits(self) -> Impair:
        if self.jitter is not None and self.delay is None:
            raise ValueError("jitter varies the delay: give a delay too (e.g. delay: 40ms, "
                             "jitter: 5ms)")
        if self.correlation is not None and self.jitter is None:
            raise ValueError("correlation ties each delay to the last: it needs jitter (e.g. "
                             "delay: 40ms, jitter: 5ms, correlation: 25%)")
        if self.distribution is not None and self.jitter is None:
            raise ValueError("distribution shapes how the delay varies: it needs jitter (e.g. "
                             "delay: 40ms, jitter: 5ms, distribution: normal)")
        if self.reorder is not None and self.delay is None:
            raise ValueError("reorder sends some packets ahead of the delayed ones: it needs a "
                             "delay (e.g. delay: 10ms, reorder: 25%)")
        if self.gap is not None and self.reorder is None:
            raise ValueError("gap says among how many packets reorder sends one ahead: it needs "
                             "reorder (e.g. delay: 10ms, reorder: 25%, gap: 5)")
        if self.ecn and self.loss is None and self.loss_model is None:
            raise ValueError("ecn marks the packets loss would drop: it needs loss or "
                             "loss_model (e.g. loss: 2%, ecn: true)")
        if self.rate is None and (self.packet_overhead is not None or self.cell_size
                                  is not None or self.cell_overhead is not None):
            raise ValueError("packet_overhead, cell_size and cell_overhead adjust netem's "
                             "rate: give a rate too (e.g. rate: 10mbit, packet_overhead: 20)")
        if self.cell_overhead is not None and not self.cell_size:
            raise ValueError("cell_overhead is added to each cell: give cell_size too (e.g. "
                             "cell_size: 48, cell_overhead: 5)")
        if self.loss is not None and self.loss_model is not None:
            raise ValueError("loss and loss_model both say how packets are lost: keep one "
                             "(loss: 2% for random loss, loss_model for bursts)")
        if not self.effects():
            raise ValueError("an impairment needs at least one of delay, loss, loss_model, "
                             "duplicate, corrupt, reorder, rate, slot (e.g. delay: 40ms)")
        return self

    def effects(self) -> list[str]:
        """The impairments it makes, by field name (direction and limit are not one)."""
        return [k for k in ("delay", "loss", "loss_model", "duplicate", "corrupt", "reorder",
                            "rate", "slot") if getattr(self, k) is not None]

    # ---- the kernel's numbers ----------------------------------------------------------------
    def netem_params(self) -> dict[str, Any]:
        """Every netem parameter as the kernel holds and reports it (door/netem.py encodes
        and decodes these): times in ns, probabilities as u32, rate in bytes/s."""
        loss, loss_corr = _probability(self.loss, "loss") if self.loss is not None else (0, 0)
        dup, dup_corr = _probability(self.duplicate, "duplicate") \
            if self.duplicate is not None else (0, 0)
        corrupt, corrupt_corr = _probability(self.corrupt, "corrupt") \
            if self.corrupt is not None else (0, 0)
        reorder, reorder_corr = _probability(self.reorder, "reorder") \
            if self.reorder is not None else (0, 0)
        model = _loss_model(self.loss_model) if self.loss_model is not None else None
        return {
            "limit": self.limit if self.limit is not None else DEFAULT_LIMIT,
            "latency": parse_time(self.delay) * 1000 if self.delay is not None else 0,
            "jitter": parse_time(self.jitter) * 1000 if self.jitter is not None else 0,
            "delay_corr": percent_u32(parse_percent(self.correlation))
            if self.correlation is not None else 0,
            "loss": loss, "loss_corr": loss_corr,
            "duplicate": dup, "dup_corr": dup_corr,
            "corrupt": corrupt, "corrupt_corr": corrupt_corr,
            "reorder": reorder, "reorder_corr": reorder_corr,
            # tc's gap: with reorder, every packet but one in `gap` is delayed (1 unless said)
            "gap": (self.gap or 1) if reorder else 0,
            "ecn": 1 if self.ecn else 0,
            "rate": parse_rate(self.rate) if self.rate is not None else 0,
            "packet_overhead": self.packet_overhead or 0,
            "cell_size": self.cell_size or 0,
            "cell_overhead": self.cell_overhead or 0,
            "ge": model[1] if model and model[0] == "ge" else None,
            "gi": model[1] if model and model[0] == "gi" else None,
            "slot": _slot(self.slot) if self.slot is not None else None,
            # a table's name: the door loads it (features/netem_tables.py); the kernel never
            # reports it back, so the planner compares it with the recorded one
            "distribution": self.distribution,
        }

    def tc_args(self) -> list[str]:
        """The netem parameters as `tc qdisc ... netem` spells them (the user's spelling)."""
        out: list[str] = []
        if self.limit is not None:
            out += ["limit", str(self.limit)]
        if self.delay is not None:
            out += ["delay", str(self.delay)]
            if self.jitter is not None:
                out.append(str(self.jitter))
                if self.correlation is not None:
                    out.append(_pct_text(self.correlation))
                if self.distribution is not None:
                    out += ["distribution", self.distribution]
        if self.loss is not None:
            out += ["loss", *map(_pct_text, str(self.loss).split())]
        if self.loss_model is not None:
            out += ["loss", *str(self.loss_model).split()]
        if self.ecn:
            out.append("ecn")
        for name in ("duplicate", "corrupt", "reorder"):
            value = getattr(self, name)
            if value is not None:
                out += [name, *map(_pct_text, str(value).split())]
        if self.gap is not None:
            out += ["gap", str(self.gap)]
        if self.rate is not None:
            # RATE [PACKETOVERHEAD [CELLSIZE [CELLOVERHEAD]]]: positional, so a later one
            # brings zeros for those before it
            extra = [self.packet_overhead, self.cell_size, self.cell_overhead]
            while extra and extra[-1] is None:
                extra.pop()
            out += ["rate", str(self.rate), *(str(v or 0) for v in extra)]
        if self.slot is not None:
            out += ["slot", *str(self.slot).split()]
        return out


def _pct_text(value: Any) -> str:
    text = str(value).strip()
    return text if text.endswith("%") else f"{text}%"


# ---- planning ----------------------------------------------------------------------------
def _at(ns: str | None, name: str) -> str:
    return f"{ns}/{name}" if ns else name


#: where netem hangs under an IFB's shaping: class 1:1 of its tbf or htb (handle 1:), as
#: tc-netem(8) and the tbf/htb documentation lay it out; netem itself gets handle 10:
SHAPED_PARENT = 0x10001
SHAPED_HANDLE = 0x100000


def root_qdisc(netns_state: Any, ifname: str, parent: int = TC_H_ROOT) -> Any:
    """The qdisc of `ifname` at `parent` (the root by default) as observed (None: none read,
    or none there)."""
    if netns_state is None:
        return None
    return next((q for q in netns_state.qdiscs if q.ifname == ifname and q.parent == parent),
                None)


def _diff(live: dict[str, Any], want: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """What differs, in the file's words: {field: (live, wanted)}."""
    old, new = impair_from_params(live), impair_from_params(want)
    return {k: (old.get(k), new.get(k)) for k in dict.fromkeys([*old, *new])
            if old.get(k) != new.get(k)}


def same_params(live: dict[str, Any], want: dict[str, Any]) -> bool:
    """Whether a live netem already holds `want` (every parameter vnet sets)."""
    return all(live.get(k) == v for k, v in want.items())


def plan_impair(key: tuple[str | None, str], impair: Impair | None, netns_state: Any,
                live: Any, owned: bool, original: dict[str, Any] | None,
                may_replace: bool, parent: int = TC_H_ROOT, table: str | None = None
                ) -> tuple[list[Action], dict[str, Any] | None, str | None]:
    """The actions that give interface `key` the egress netem of `impair` (None: no
    impairment), in place where one is there.

    `owned`: vnet made the link (removing its root qdisc is enough to put it back).
    `original`: for a link vnet does not own, the root qdisc recorded before vnet put netem
    on it (None: vnet has not); `may_replace`: the file allows replacing a qdisc there that
    is not the kernel's default; `parent`: where the netem hangs (an IFB that shapes: under
    its class 1:1); `table`: the distribution table vnet set on the live netem (the kernel
    never reports it; the record keeps it). Returns (actions, what to record for the link —
    None: nothing — and a conflict message, or None)."""
    ns, name = key
    if impair is None and original is None:
        # most links (none impaired, none recorded): only a netem left on a link vnet owns
        # goes; asked first, as a plan asks it of every link
        left = root_qdisc(netns_state, name, parent) if live is not None and owned else None
        if left is None or left.kind != "netem":
            return [], None, None
    where = _at(ns, name)
    place = {} if parent == TC_H_ROOT else {"parent": parent, "handle": SHAPED_HANDLE}
    delete = Request("tc.qdisc_del", ns, {"ifname": name, "parent": "root"} if not place
                     else {"ifname": name, "parent": parent})
    if live is None:  # made by this plan
        if impair is None or impair.direction == "ingress":
            return [], None, None
        want = impair.netem_params()
        return [Action("create", f"netem on {where}", f"impaired: {describe(want)}",
                       [Request("tc.netem_set", ns, {"ifname": name, "params": want,
                                                     "how": "replace", **place})],
                       [delete])], ({} if not owned else None), None
    root = root_qdisc(netns_state, name, parent)
    is_netem = root is not None and root.kind == "netem"
    egress = impair is not None and impair.direction != "ingress"
    if not egress:
        if original is not None:
            return _put_back(key, root, original), None, None
        if owned and is_netem:
            return [Action("remove", f"netem on {where}", "no impairment in the file",
                           [delete],
                           [Request("tc.netem_set", ns, {
                               "ifname": name, "params": {**root.params, "distribution": table},
                               "how": "replace", **place})])], \
                None, None
        return [], None, None
    assert impair is not None
    want = impair.netem_params()
    record = None if owned else (original if original is not None else _original(root))
    if is_netem and (owned or original is not None):
        now = {**root.params, "distribution": table}
        if same_params(now, want):
            return [], record, None

        def netem_set(params: dict[str, Any], how: str) -> Request:
            return Request("tc.netem_set", ns, {"ifname": name, "params": params, "how": how,
                                                **place})
        if table is not None and want["distribution"] != table:
            # a netem keeps its table through `tc qdisc change` (the kernel swaps it only
            # for one it is sent): dropping or changing it takes a new netem
            return [Action("replace", f"netem on {where}",
                           f"distribution table {table} -> {want['distribution'] or 'none'}: a "
                           "netem keeps its table when changed, so it is deleted and added "
                           "again", [delete, netem_set(want, "replace")],
                           [delete, netem_set(now, "replace")], diff=_diff(now, want))], \
                record, None
        # a table added in place would be kept through an undo by change: undo by a new netem
        undo = [netem_set(now, "change")] if want["distribution"] == table \
            else [delete, netem_set(now, "replace")]
        return [Action("change", f"netem on {where}", "impairment differs from the file",
                       [netem_set(want, "change")], undo, diff=_diff(now, want))], record, None
    kind = root.kind if root is not None else ""
    if not owned and kind not in DEFAULT_QDISCS:
        if not may_replace:
            return [], None, (f"{where} has a {kind} root qdisc vnet did not make; impair "
                              "would replace it")
        if kind not in RESTORABLE:
            return [], None, (f"{where} has a {kind} root qdisc, which vnet could not put "
                              "back after the impairment")
    undo = [delete]
    if record:
        undo = _restore_requests(ns, name, record)
    return [Action("create", f"netem on {where}",
                   f"impaired: {describe(want)}" + (f" (replaces {kind})" if kind else ""),
                   [Request("tc.netem_set", ns, {"ifname": name, "params": want,
                                                 "how": "replace", **place})], undo)], \
        record, None


def _original(root: Any) -> dict[str, Any]:
    """What to record of the root qdisc of a link vnet does not own, before it impairs it:
    {} for the kernel's default (deleting vnet's qdisc brings that back)."""
    if root is None or root.kind in DEFAULT_QDISCS:
        return {}
    return {"kind": root.kind, "params": root.params}


def _restore_requests(ns: str | None, name: str, original: dict[str, Any]) -> list[Request]:
    if not original:
        return [Request("tc.qdisc_del", ns, {"ifname": name, "parent": "root"})]
    if original["kind"] == "netem":
        return [Request("tc.netem_set", ns, {"ifname": name, "params": original["params"],
                                             "how": "replace"})]
    return [Request("tc.qdisc_replace", ns, {"ifname": name, "kind": original["kind"],
                                             "params": original["params"]})]


def _put_back(key: tuple[str | None, str], root: Any, original: dict[str, Any]
              ) -> list[Action]:
    """The impairment of a link vnet does not own goes: its recorded root qdisc comes back."""
    ns, name = key
    if root is None or root.kind != "netem":
        return []  # someone changed it since: theirs now
    what = original.get("kind") or "the kernel's default qdisc"
    return [Action("remove", f"netem on {_at(ns, name)}", f"put back {what}",
                   _restore_requests(ns, name, original),
                   [Request("tc.netem_set", ns, {"ifname": name, "params": root.params,
                                                 "how": "replace"})])]


# ---- validation across objects -------------------------------------------------------------
def check_impairs(objs: list[Any], where: Any, issues: Any) -> None:
    """Impairments on kinds that cannot carry netem, and on an IFB that shapes: each an issue
    (`where(obj, field)` gives a position, `issues.add` takes it)."""
    for obj in objs:
        if obj.impair is None:
            continue
        field = f"{obj.path}.impair"
        no_netem = getattr(obj, "no_netem", "")
        if no_netem:
            issues.add(f"a {obj.kind} cannot be impaired: {no_netem}", field,
                       where(obj, "impair"), f"remove impair from this {obj.kind}")
        elif getattr(obj, "shaping", None) is not None and obj.shaping.qdisc == "sfq":
            issues.add("an IFB shaped by sfq cannot also carry impair: sfq has no class to "
                       "hang netem under", field, where(obj, "impair"),
                       "shape with tbf or htb (netem goes under it), or give the impairment a "
                       "rate instead of shaping")
        elif getattr(obj, "shaping", None) is not None and obj.impair.direction != "egress":
            issues.add("an IFB's impairment is on what it sends: direction must be egress",
                       f"{field}.direction", where(obj, "impair"), "remove direction")
