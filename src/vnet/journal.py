"""The intent journal: what an apply is about to create, written (and fsynced) before the
kernel is asked, so that a run killed between creating an object and marking it leaves a
note the next run reads.

The kernel cannot take a link's mark (its altname) in the request that creates it: it takes
the link group there, but an altname only in a second request (RTM_NEWLINKPROP). A namespace
is a file under /run/netns before it is a mounted namespace. So each creation has a moment
when the object exists without vnet's mark, and a `kill -9` there would leave something no
later run could call its own. The journal closes that gap the way nmstate's checkpoint and
the CNI's garbage collection do: the intent is written first; the next `apply` or
`destroy NAME` of the topology (`pending`) finds the creations that never finished, and
deletes the half-made objects among them (those without any mark) before it plans.

One file per topology, `/run/vnet/<topology>.journal`, one JSON line per entry: `{"k": N,
"create": [[what, netns, name], ...]}` before step N, `{"k": N}` once step N is done. It is
removed when a run ends with the kernel in a known state (applied, or rolled back in full).
/run is a tmpfs: the journal lives exactly as long as the objects it speaks of.

`crash_point` is a test hook and nothing more: with VNET_TEST_CRASH_AT unset it does nothing
(one comparison). The crash test sets it to make vnet signal itself at the Nth point
(`VNET_TEST_CRASH_SIGNAL`, default KILL), and VNET_TEST_CRASH_LOG to list the points of a run.
"""

from __future__ import annotations

import json
import os
import signal

from . import store
from .actions import Request
from .datatypes import datatype

#: what a creation makes: a named namespace, or a link in a namespace (None: where vnet runs)
NETNS = "netns"
LINK = "link"


@datatype(frozen=True)
class Creation:
    """One object a step is about to create: a namespace (`netns` None, `name` its name) or a
    link (`name` in namespace `netns`)."""

    what: str
    netns: str | None
    name: str


def creations(requests: list[Request]) -> list[Creation]:
    """The namespaces and links that `requests` create (a pair's two ends)."""
    out: list[Creation] = []
    for req in requests:
        if req.op == "netns.add":
            out.append(Creation(NETNS, None, req.args["name"]))
        elif req.op == "link.add":
            out.append(Creation(LINK, req.netns, req.args["ifname"]))
            peer = req.args.get("peer")
            if peer is not None:
                out.append(Creation(LINK, peer.get("netns"), peer["ifname"]))
    return out


def path(topology: str) -> str:
    """Where topology `topology`'s journal is kept."""
    return os.path.join(store.STATE_DIR, f"{topology}.journal")


class Journal:
    """The journal of one run of one topology; the file is made on the first intent."""

    def __init__(self, topology: str) -> None:
        self.topology = topology
        self._fd: int | None = None
        #: the steps whose intent is written and whose end is not
        self._open: set[int] = set()

    def intend(self, step: int, creations: list[Creation]) -> None:
        """Record, durably, that step `step` is about to create `creations`."""
        if not creations:
            return
        self._write({"k": step, "create": [[c.what, c.netns, c.name] for c in creations]})
        self._open.add(step)

    def done(self, step: int) -> None:
        """Record that step `step` is done, marks and all: only a step that announced
        creations (the end of any other says nothing `pending` could use)."""
        if step in self._open:
            self._open.discard(step)
            self._write({"k": step})

    def _write(self, entry: dict[str, object]) -> None:
        if self._fd is None:
            os.makedirs(store.STATE_DIR, exist_ok=True)
            self._fd = os.open(path(self.topology),
                               os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        os.write(self._fd, (json.dumps(entry, separators=(",", ":")) + "\n").encode())
        os.fsync(self._fd)

    def close(self, keep: bool = False) -> None:
        """Close the file; remove it unless `keep` (the kernel's state is then not known)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if not keep:
                remove(self.topology)


def remove(topology: str) -> None:
    """Remove topology `topology`'s journal, if there is one."""
    try:
        os.unlink(path(topology))
    except FileNotFoundError:
        pass


def exists(topology: str) -> bool:
    """Whether a run of `topology` left its journal behind."""
    return os.path.exists(path(topology))


def pending(topology: str) -> list[Creation]:
    """The creations a run of `topology` announced and never saw done. A line cut short by a
    crash (the last one) is skipped: its step had not begun."""
    try:
        with open(path(topology), encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return []
    announced: dict[int, list[Creation]] = {}
    for line in lines:
        try:
            entry = json.loads(line)
            step = int(entry["k"])
            made = [Creation(str(w), None if n is None else str(n), str(name))
                    for w, n, name in entry.get("create", ())]
        except (ValueError, KeyError, TypeError):
            continue
        if "create" in entry:
            announced[step] = made
        else:
            announced.pop(step, None)
    return [c for step in sorted(announced) for c in announced[step]]


# ---- the crash test's hook ---------------------------------------------------------------
_CRASH_AT = os.environ.get("VNET_TEST_CRASH_AT")
_CRASH_LOG = os.environ.get("VNET_TEST_CRASH_LOG")
_points = 0


def crash_point(label: str) -> None:
    """A point where the crash test may stop vnet (test only: a no-op unless
    VNET_TEST_CRASH_AT or VNET_TEST_CRASH_LOG is set)."""
    if _CRASH_AT is None and _CRASH_LOG is None:
        return
    global _points
    _points += 1
    if _CRASH_LOG:
        with open(_CRASH_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{_points} {label}\n")
    if _CRASH_AT is not None and _points == int(_CRASH_AT):
        name = os.environ.get("VNET_TEST_CRASH_SIGNAL", "KILL")
        os.kill(os.getpid(), getattr(signal, f"SIG{name}"))
