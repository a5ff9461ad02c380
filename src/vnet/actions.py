"""Plans are lists of Actions; an Action is requests to the kernel plus how to undo them.

Pure data: built by the planner (and by kind files for kind-specific extras), executed by
`vnet.apply` through the backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Verb = Literal["create", "change", "replace", "remove"]


@dataclass
class Request:
    """One thing to ask of the kernel: an operation, the namespace it happens in, arguments."""

    op: str
    netns: str | None
    args: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        where = f"{self.netns}/" if self.netns else ""
        target = self.args.get("ifname") or self.args.get("name") or self.args.get("to") or ""
        return f"{self.op} {where}{target}".rstrip()


@dataclass
class Action:
    """One step of a plan: what it does to which object, why, and how to take it back."""

    verb: Verb
    subject: str  # "link net1/veth1 (veth)", "address 192.0.2.1/24 on br0", ...
    reason: str
    do: list[Request]
    undo: list[Request] = field(default_factory=list)
    #: when the step cannot be undone exactly, why (reported if a rollback needs it)
    undo_gap: str = ""
    #: field -> (old, new) for changes in place, shown in the plan
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"verb": self.verb, "subject": self.subject, "reason": self.reason,
                "diff": {k: {"old": o, "new": n} for k, (o, n) in self.diff.items()},
                "requests": [{"op": r.op, "netns": r.netns} for r in self.do]}
