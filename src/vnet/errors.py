"""The error tree. Every error a user can see is a value with what, where, why and a fix.

The CLI maps each class to an exit code; library code only raises.
"""

from __future__ import annotations

import errno as _errno
import os
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Position:
    """A place in a topology file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Issue:
    """One problem found in a topology: where it is, which field, what is wrong, how to fix it."""

    message: str
    field: str = ""
    where: Position | str | None = None
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        fld = f"{self.field}: " if self.field else ""
        hint = f" (fix: {self.hint})" if self.hint else ""
        return f"{where}{fld}{self.message}{hint}"

    def as_dict(self) -> dict[str, object]:
        pos = self.where
        out: dict[str, object] = {"field": self.field, "message": self.message, "hint": self.hint}
        if isinstance(pos, Position):
            out.update(file=pos.file, line=pos.line, col=pos.col)
        elif pos:
            out["where"] = pos
        return out


class VnetError(Exception):
    """Base of every error vnet reports to a user."""

    exit_code = 1


class TopologyError(VnetError):
    """The file is not a valid topology; carries every issue found, not only the first."""

    def __init__(self, issues: list[Issue]):
        self.issues = sorted(issues, key=_issue_sort_key)
        super().__init__("\n".join(str(i) for i in self.issues))


def _issue_sort_key(issue: Issue) -> tuple[str, int, int, str]:
    pos = issue.where
    if isinstance(pos, Position):
        return (pos.file, pos.line, pos.col, issue.message)
    return (str(pos or ""), 0, 0, issue.message)


class KernelError(VnetError):
    """The kernel refused a request. Keeps the errno and says which action failed."""

    def __init__(self, action: str, code: int | None, detail: str = ""):
        self.action = action
        self.errno = code
        self.detail = detail
        words = os.strerror(code) if code else detail or "unknown error"
        name = _errno.errorcode.get(code or 0, "")
        extra = f" ({detail})" if detail and code else ""
        tag = f" [{name}]" if name else ""
        super().__init__(f"{action}: {words}{tag}{extra}")


class ApplyError(VnetError):
    """An action failed during apply; what was done before it has been undone (or not, said why)."""

    def __init__(self, failed: KernelError, undone: int, undo_failures: list[str]):
        self.failed = failed
        self.undone = undone
        self.undo_failures = undo_failures
        if undo_failures:
            tail = "; rollback incomplete: " + "; ".join(undo_failures)
        else:
            tail = f"; rolled back {undone} action(s), the kernel is as it was before apply"
        super().__init__(f"apply failed at {failed}{tail}")


class ConflictError(VnetError):
    """The live kernel holds something that stops the plan (an unowned object in the way)."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class LockError(VnetError):
    """Another vnet process holds the lock."""


class PermissionProblem(VnetError):
    """vnet needs root (CAP_NET_ADMIN) for this command."""


@dataclass
class Collector:
    """Gathers issues so a run reports all of them at once."""

    issues: list[Issue] = field(default_factory=list)

    def add(self, message: str, field: str = "", where: Position | str | None = None,
            hint: str = "") -> None:
        self.issues.append(Issue(message=message, field=field, where=where, hint=hint))

    def raise_if_any(self) -> None:
        if self.issues:
            raise TopologyError(self.issues)
