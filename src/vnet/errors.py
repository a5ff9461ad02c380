"""The error tree. Every error a user can see is a value with what, where, why and a fix.

The CLI maps each class to an exit code; library code only raises.

Every command imports this module (`vnet --help` too), so it is written without `dataclasses`
and `typing`: importing those (and `inspect`, which `dataclasses` pulls in) cost more than the
rest of a `vnet --help`.
"""

from __future__ import annotations

import errno as _errno
import os

#: typing.TYPE_CHECKING without importing `typing` (see above)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .record import Record


class Position:
    """A place in a topology file (1-based line and column); immutable, ordered by place."""

    __slots__ = ("file", "line", "col")
    file: str
    line: int
    col: int

    def __init__(self, file: str, line: int, col: int) -> None:
        object.__setattr__(self, "file", file)
        object.__setattr__(self, "line", line)
        object.__setattr__(self, "col", col)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Position is immutable: cannot set {name!r}")

    def _key(self) -> tuple[str, int, int]:
        return (self.file, self.line, self.col)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Position) and self._key() == other._key()

    def __lt__(self, other: Position) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Position(file={self.file!r}, line={self.line!r}, col={self.col!r})"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class Issue:
    """One problem found in a topology: where it is, which field, what is wrong, how to fix it."""

    __slots__ = ("message", "field", "where", "hint")
    message: str
    field: str
    where: Position | str | None
    hint: str

    def __init__(self, message: str, field: str = "", where: Position | str | None = None,
                 hint: str = "") -> None:
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "where", where)
        object.__setattr__(self, "hint", hint)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Issue is immutable: cannot set {name!r}")

    def _key(self) -> tuple[object, ...]:
        return (self.message, self.field, self.where, self.hint)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Issue) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Issue(message={self.message!r}, field={self.field!r}, where={self.where!r}, "
                f"hint={self.hint!r})")

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


def rollback_tail(undone: int, undo_failures: list[str]) -> str:
    """How an apply's rollback ended, as the end of its error's sentence."""
    if undo_failures:
        return "; rollback incomplete: " + "; ".join(undo_failures)
    return f"; rolled back {undone} action(s), the kernel is as it was before apply"


class ApplyError(VnetError):
    """An action failed during apply; what was done before it has been undone (or not, said why)."""

    def __init__(self, failed: KernelError, undone: int, undo_failures: list[str]):
        self.failed = failed
        self.undone = undone
        self.undo_failures = undo_failures
        super().__init__(f"apply failed at {failed}{rollback_tail(undone, undo_failures)}")


class NotKeptError(ApplyError):
    """Every action was accepted, but reading the kernel back found values it did not keep (a
    clamped MTU, an address it dropped): `misses` says each, what was asked and what was kept.
    What apply did has been undone (or not, said why), as after a refusal."""

    def __init__(self, misses: list[str], undone: int, undo_failures: list[str]):
        self.misses = misses
        self.failed = KernelError("read back after apply", None, "; ".join(misses))
        self.undone = undone
        self.undo_failures = undo_failures
        VnetError.__init__(self, "the kernel did not keep what was asked: " + "; ".join(misses)
                           + rollback_tail(undone, undo_failures)
                           + " (fix: ask for a value this kernel keeps, e.g. a vxlan's "
                           "MTU at most its underlay's less the 50 bytes of encapsulation)")


class ConflictError(VnetError):
    """The live kernel holds something that stops the plan (an unowned object in the way)."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class LockError(VnetError):
    """Another vnet process holds the lock."""


class StateError(VnetError):
    """vnet's state on disk cannot be used: /run/vnet or /run/netns is not the directory vnet
    keeps (a file, a symlink, writable by others), /run is read-only, or a record is damaged
    where going on would lose what it says (apply). The message names the path and the fix."""


class DamagedRecord(StateError):
    """A topology's record (/run/vnet/NAME.json) is damaged: `salvaged` is what of it is
    sound, `lost` one sentence per part left out, `path` the file."""

    def __init__(self, path: str, salvaged: Record, lost: list[str]) -> None:
        self.path = path
        self.salvaged = salvaged
        self.lost = lost
        super().__init__(f"the record {path} is damaged ({'; '.join(lost)})")


class VnetWarning(UserWarning):
    """Something vnet found and went on past (a damaged record, a stray /run/netns entry):
    the CLI prints it as one `warning:` line; Python callers get it through `warnings`."""


#: who hears warnings instead of Python's `warnings` (the CLI, while a command runs)
_warning_listener: list[Callable[[str], None]] = []


def warn(message: str) -> None:
    """Say `message` as a warning: to the listener the CLI set (`listen_warnings`), else
    through Python's `warnings` as a VnetWarning."""
    if _warning_listener:
        _warning_listener[-1](message)
        return
    import warnings
    warnings.warn(VnetWarning(message), stacklevel=3)


class listen_warnings:
    """While inside, every `warn` goes to `listener(message)` (the CLI prints it)."""

    def __init__(self, listener: Callable[[str], None]) -> None:
        self.listener = listener

    def __enter__(self) -> None:
        _warning_listener.append(self.listener)

    def __exit__(self, *exc: object) -> None:
        _warning_listener.remove(self.listener)


class PermissionProblem(VnetError):
    """vnet needs root (CAP_NET_ADMIN) for this command; `caps` names what this process
    lacks. The CLI says it as one sentence naming the command and why it needs them."""

    def __init__(self, caps: str = "CAP_NET_ADMIN") -> None:
        self.caps = caps
        super().__init__(f"vnet needs root ({caps}) to read or change network namespaces")


#: the capabilities vnet needs: netlink writes (CAP_NET_ADMIN), and entering, making and
#: mounting namespaces (CAP_SYS_ADMIN), by their bit in /proc/self/status's CapEff
CAPABILITIES = ((12, "CAP_NET_ADMIN"), (21, "CAP_SYS_ADMIN"))


def missing_capabilities() -> list[str]:
    """Which of CAPABILITIES this process lacks (a user other than root: both)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            eff = next((int(line.split()[1], 16) for line in fh if line.startswith("CapEff:")),
                       None)
    except (OSError, ValueError):
        eff = None
    if eff is None:
        return [] if os.geteuid() == 0 else [name for _, name in CAPABILITIES]
    return [name for bit, name in CAPABILITIES if not eff >> bit & 1]


class UnsupportedError(VnetError):
    """This kernel lacks a kind or a feature the topology uses (found before any change, from
    what `vnet kinds` probes); carries one sentence per missing kind or feature."""

    def __init__(self, lacks: list[str]):
        self.lacks = lacks
        super().__init__("\n".join(lacks))


class Collector:
    """Gathers issues so a run reports all of them at once."""

    def __init__(self, issues: list[Issue] | None = None) -> None:
        self.issues: list[Issue] = list(issues or [])

    def add(self, message: str, field: str = "", where: Position | str | None = None,
            hint: str = "") -> None:
        self.issues.append(Issue(message=message, field=field, where=where, hint=hint))

    def raise_if_any(self) -> None:
        if self.issues:
            raise TopologyError(self.issues)
