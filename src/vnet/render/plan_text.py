"""A plan as a readable diff."""

from __future__ import annotations

from typing import Any

from ..plan import Plan

SIGNS = {"create": "+", "change": "~", "replace": "±", "remove": "-"}
#: SGR colour codes: create green, change yellow, replace magenta, remove red
ANSI_COLOURS = {"create": "32", "change": "33", "replace": "35", "remove": "31"}


def _value(v: Any) -> str:
    return "-" if v is None else str(v)


def plan_lines(plan: Plan) -> list[tuple[str, str]]:
    """(verb, line) per action, diff lines included, for the CLI to colour."""
    out: list[tuple[str, str]] = []
    for action in plan.actions:
        line = f"{SIGNS[action.verb]} {action.verb:<7} {action.subject}"
        if action.reason:
            line += f"  ({action.reason})"
        out.append((action.verb, line))
        for fld, (old, new) in action.diff.items():
            out.append((action.verb, f"      {fld}: {_value(old)} → {_value(new)}"))
    return out


def plan_summary(plan: Plan) -> str:
    if not plan.has_changes:
        return f"{plan.topology}: no changes; the kernel matches the file."
    c = plan.counts()
    return (f"Plan for {plan.topology}: {c['create']} to create, {c['change']} to change, "
            f"{c['replace']} to replace, {c['remove']} to remove.")
