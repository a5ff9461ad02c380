"""A plan as a readable diff."""

from __future__ import annotations

from typing import Any

from ..plan import Plan

SIGNS = {"create": "+", "change": "~", "replace": "±", "remove": "-"}
#: SGR colour codes: create green, change yellow, replace magenta, remove red
ANSI_COLOURS = {"create": "32", "change": "33", "replace": "35", "remove": "31"}


def _value(v: Any) -> str:
    return "-" if v is None else str(v)


#: reasons that only repeat the verb (a creation is there because the file declares it):
#: shown only in verbose output
PLAIN_REASONS = frozenset({"declared", "declared, not present"})


def plan_lines(plan: Plan, verbose: bool = True) -> list[tuple[str, str]]:
    """(verb, line) per action, diff lines included, for the CLI to colour. Not `verbose`:
    without the reasons that say nothing more than the verb ("declared")."""
    out: list[tuple[str, str]] = []
    for action in plan.actions:
        line = f"{SIGNS[action.verb]} {action.verb:<7} {action.subject}"
        if action.reason and (verbose or action.reason not in PLAIN_REASONS):
            # a reason's own brackets become a comma: "(kind differs, live: bridge)"
            reason = action.reason.replace(" (", ", ").replace(")", "") \
                if "(" in action.reason else action.reason
            line += f"  ({reason})"
        out.append((action.verb, line))
        for fld, (old, new) in action.diff.items():
            out.append((action.verb, f"      {fld}: {_value(old)} → {_value(new)}"))
        for what in action.takes_along:  # not vnet's: apply and destroy need --force
            out.append((action.verb, f"      also deletes: {what}"))
    return out


def plan_summary(plan: Plan, only_some: bool = False) -> str:
    """`Plan for NAME: 3 to create, 0 to change, ...`; `only_some`: without the zero counts
    (a teardown's `Plan for NAME: 5 to remove.`)."""
    if not plan.has_changes:
        return f"{plan.topology}: no changes; the kernel matches the file."
    counts = [f"{n} to {verb}" for verb, n in plan.counts().items() if n or not only_some]
    return f"Plan for {plan.topology}: {', '.join(counts)}."


#: the objects a plan's subjects name (by their first word): one, several
_NOUNS = {"link": ("link", "links"), "namespace": ("namespace", "namespaces"),
          "address": ("address", "addresses"), "route": ("route", "routes"),
          "qdisc": ("qdisc", "qdiscs"), "teamd": ("teamd process", "teamd processes"),
          "fdb": ("FDB entry", "FDB entries"), "bridge": ("bridge VLAN", "bridge VLANs"),
          "macsec": ("MACsec channel or SA", "MACsec channels and SAs")}
_PAST = {"create": "created", "change": "changed", "replace": "replaced", "remove": "removed"}


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f" in {seconds:.1f} s" if seconds >= 0.1 else f" in {seconds * 1000:.0f} ms"


def applied_summary(plan: Plan, seconds: float | None = None) -> str:
    """The closing line of an apply: what was done, in the past tense, and how long it took."""
    if not plan.has_changes:
        return plan_summary(plan)
    done = [f"{n} {_PAST[verb]}" for verb, n in plan.counts().items() if n]
    return f"Applied {plan.topology}: {', '.join(done)}{_seconds(seconds)}."


def destroyed_summary(plan: Plan, seconds: float | None = None) -> str:
    """The closing line of a destroy: what was removed (by kind of object) and put back."""
    removed: dict[str, int] = {}
    restored = 0
    for action in plan.actions:
        if action.verb == "remove":
            noun = action.subject.split(" ", 1)[0]
            noun = noun if noun in _NOUNS else ""
            removed[noun] = removed.get(noun, 0) + 1
        else:
            restored += 1
    parts = []
    if removed:
        parts.append("removed " + ", ".join(
            f"{n} {_NOUNS.get(noun, ('other object', 'other objects'))[n != 1]}"
            for noun, n in removed.items()))
    if restored:
        parts.append(f"put back {restored} setting{'s' if restored != 1 else ''} of "
                     "interfaces it does not own")
    return f"Destroyed {plan.topology}: {'; '.join(parts) or 'nothing to do'}{_seconds(seconds)}."
