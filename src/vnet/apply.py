"""Execute a plan: each Action in order, journaled; on the first failure undo the done ones in
reverse and report the failed Action with the kernel's error.

The kernel (door/protocol.py: `Kernel`) may carry out runs of actions together (`send_bulk`:
deletions; `send_batched`: many requests to a system call); it then says which of them were
done, and those are undone too."""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from . import interrupt
from .actions import Action, Request
from .errors import ApplyError, KernelError, NotKeptError, VnetError
from .interrupt import Interrupted
from .journal import LINK, NETNS, Journal, crash_point, creations
from .journal import pending as journal_pending
from .journal import remove as journal_remove

if TYPE_CHECKING:  # the door is the caller's: apply only speaks its Protocol
    from .door.protocol import Kernel as Backend
    from .plan import Plan


def _silent(action: Action, index: int, total: int) -> None:
    """Default progress reporter: says nothing (only the CLI talks to the terminal)."""


def execute_plan(plan: Plan, backend: Backend,
                 progress: Callable[[Action, int, int], None] = _silent, *,
                 journal: Journal | None = None,
                 on_interrupt: Literal["rollback", "stop"] = "rollback") -> list[Action]:
    """Run every action of `plan`; return the done ones. All or nothing: raises ApplyError
    after rolling back when an action fails.

    With a `journal`, what each step is about to create is written there first (see
    journal.py); it is removed once the kernel's state is known again. A signal noted by
    `interrupt.handling()` stops the run between two steps: the done ones are rolled back
    (`on_interrupt="rollback"`, an apply) or kept for a rerun to finish (`"stop"`, a
    destroy), and `Interrupted` is raised."""
    done: list[Action] = []
    try:
        _execute(plan, backend, progress, journal, on_interrupt, done)
    except ApplyError as err:
        if journal is not None:
            journal.close(keep=bool(err.undo_failures))
        raise
    except Interrupted as err:
        if journal is not None:
            journal.close(keep=bool(err.failures))
        raise
    except BaseException:  # a rollback abandoned, or vnet itself failing: the next run reads
        if journal is not None:
            journal.close(keep=True)
        raise
    if journal is not None:
        journal.close()
    return done


def _execute(plan: Plan, backend: Backend, progress: Callable[[Action, int, int], None],
             journal: Journal | None, on_interrupt: str, done: list[Action]) -> None:
    total = len(plan.actions)
    i = 0
    while i < total:
        _stop_if_signalled(done, backend, on_interrupt, total)
        action = plan.actions[i]
        progress(action, i, total)
        run = _bulk_run(plan.actions, i, backend)
        if run > 1:  # e.g. many link removals: the backend does them in one kernel call
            n, err = backend.send_bulk([a.do for a in plan.actions[i:i + run]])
            done += plan.actions[i:i + n]
            if err is not None:
                failures = _rollback(done, backend)
                raise ApplyError(_name_action(err, plan.actions[i + n]), len(done),
                                 failures) from None
            i += run
            crash_point(f"after {action.verb} {action.do[0].op} (bulk)")
            continue
        run = _batch_run(plan.actions, i, backend)
        if run > 1:  # e.g. new links, their addresses, then their states: many to a call
            _intend(journal, i, plan.actions[i:i + run])
            done_at, failed = backend.send_batched(
                [a.do for a in plan.actions[i:i + run]],
                functools.partial(_report_sent, progress, plan.actions, i))
            done += [plan.actions[i + k] for k in done_at]
            if failed is not None:
                failures = _rollback(done, backend)
                raise ApplyError(_name_action(failed[1], plan.actions[i + failed[0]]),
                                 len(done), failures) from None
            if journal is not None:
                journal.done(i)
            i += run
            crash_point(f"after {action.verb} {action.do[0].op} (batch)")
            continue
        _intend(journal, i, [action])
        try:
            backend.send(action.do)
        except KernelError as err:
            failures = _rollback(done, backend)
            raise ApplyError(_name_action(err, action), len(done), failures) from None
        done.append(action)
        if journal is not None:
            journal.done(i)
        i += 1
        crash_point(f"after {action.verb} {action.do[0].op if action.do else ''}")
    if on_interrupt == "rollback":  # a signal during the last step: undone as well
        _stop_if_signalled(done, backend, on_interrupt, total)


def _intend(journal: Journal | None, step: int, actions: list[Action]) -> None:
    """Write what `actions` will create to the journal, before the kernel is asked."""
    if journal is not None:
        journal.intend(step, [c for a in actions for c in creations(a.do)])


def _stop_if_signalled(done: list[Action], backend: Backend, on_interrupt: str,
                       total: int) -> None:
    """Between two steps: after a signal, roll back (or stop) and raise Interrupted."""
    signum = interrupt.requested()
    if signum is None:
        return
    if on_interrupt == "stop":
        raise Interrupted(signum, False, 0, [], len(done), total)
    failures = _rollback(done, backend)
    raise Interrupted(signum, True, len(done), failures)


def _rollback(done: list[Action], backend: Backend) -> list[str]:
    with interrupt.rolling_back():
        return rollback(done, backend)


def verify_kept(done: list[Action], backend: Backend, replan: Callable[[], Plan]) -> None:
    """Read the kernel back after an apply: `replan` observes it again and plans the file
    against it, as `vnet plan` would. Any action left means a value the kernel accepted
    without keeping it (an MTU clamped to the underlay's, an address it dropped): undo the
    `done` actions, newest first (as a refusal's rollback: a second Ctrl-C is explained),
    and raise NotKeptError naming each field, the value asked and the value kept. An empty
    plan means apply converged.

    The read-back costs a second observation of every namespace (a tenth to a quarter of the
    apply at 10,000 interfaces), so it is made when some request done could have been kept
    otherwise (`_may_differ`), not after an apply made only of requests the kernel carries out
    exactly or refuses. A read-back that cannot be made (the kernel refuses the reading, or
    the plan meets a conflict) is rolled back too: apply never ends half-checked."""
    if not any(_may_differ(req) for action in done for req in action.do):
        return
    try:
        left = replan()
    except VnetError as err:
        failures = _rollback(done, backend)
        raise NotKeptError([f"reading the kernel back failed: {err}"], len(done),
                           failures) from None
    if not left.has_changes:
        return
    misses = [miss for action in left.actions for miss in _not_kept(action)]
    failures = _rollback(done, backend)
    raise NotKeptError(misses, len(done), failures)


#: requests the kernel carries out exactly as asked or refuses: states, ports, routes (the FIB
#: inserts the route asked or fails), and every deletion
_EXACT_OPS = frozenset({"link.state", "link.master", "route.add", "netns.add", "netns.del",
                        "link.del", "addr.del", "route.del", "fdb.del", "bridge_vlan.del",
                        "tc.qdisc_del", "tc.redirect_del", "teamd.stop"})


_UNSPECIFIED = frozenset({"0.0.0.0", "::"})


def _may_differ(request: Request) -> bool:
    """Whether the kernel may keep something else than `request` asked while accepting it: a
    value it clamps or rounds (an MTU, a kind option, a MAC), an IPv4 address 0.0.0.0 (which
    __inet_insert_ifa drops after saying yes), anything kept in more involved state (FDB,
    VLANs, traffic control, MACsec, teamd). A plain link creation, without any of those, gets
    the kernel's defaults and asks nothing that could differ."""
    if request.op in _EXACT_OPS:
        return False
    args = request.args
    if request.op == "addr.add":
        # written as ipaddress writes it (kinds.base.check_address): no parsing of thousands
        return str(args["address"]).partition("/")[0] in _UNSPECIFIED
    if request.op == "link.add":
        ends = [args, args.get("peer") or {}]
        return any(end.get("mtu") is not None or end.get("mac") is not None for end in ends) \
            or bool(args.get("info_data")) or bool(args.get("tuntap")) \
            or args.get("teamd") is not None
    return True


def _not_kept(action: Action) -> list[str]:
    """What one action of the read-back's plan says the kernel did not keep."""
    if action.diff:
        return [f"{action.subject} {name}: asked {new}, kept {old}"
                for name, (old, new) in action.diff.items()]
    if action.verb == "remove":
        return [f"{action.subject}: not asked, present"]
    if action.verb == "replace":
        return [f"{action.subject}: {action.reason}"]
    return [f"{action.subject}: asked, not present"]


def _bulk_run(actions: list[Action], start: int, backend: Backend) -> int:
    """How many actions from `start` on the backend can carry out together (its BULK_OPS)."""
    ops = backend.BULK_OPS
    end = start
    while end < len(actions) and actions[end].do and all(r.op in ops for r in actions[end].do):
        end += 1
    return end - start


def _report_sent(progress: Callable[[Action, int, int], None], actions: list[Action],
                 first: int, sent: int) -> None:
    """Progress within a batched run: `sent` of its actions, from `first`, have gone."""
    progress(actions[first + sent - 1], first + sent - 1, len(actions))


def _batch_run(actions: list[Action], start: int, backend: Backend) -> int:
    """How many actions from `start` on are made only of requests the backend can batch."""
    batchable = backend.batchable
    end = start
    while end < len(actions) and actions[end].do and all(map(batchable, actions[end].do)):
        end += 1
    return end - start


def _name_action(err: KernelError, action: Action) -> KernelError:
    """The kernel's error, said in terms of the plan's action."""
    return KernelError(f"{action.verb} {action.subject}", err.errno, err.detail)


def rollback(journal: list[Action], backend: Backend) -> list[str]:
    """Undo executed actions newest first; return what could not be undone (empty: all)."""
    failures: list[str] = []
    for action in reversed(journal):
        if not action.undo:
            if action.undo_gap:
                failures.append(action.undo_gap)
            continue
        try:
            backend.send(action.undo)
        except KernelError as err:
            failures.append(f"undo of {action.verb} {action.subject} failed: {err}")
    return failures


def recover(topology: str, backend: Backend) -> list[str]:
    """Finish what a run of `topology` that died left behind: delete the objects its journal
    says it was creating that carry no mark (a link made but not yet marked, a namespace's
    file not yet mounted), then remove the journal. Returns what was deleted, as subjects.

    Marked objects stay: they are whole, and planning takes them as they are (apply) or
    removes them (destroy). A namespace is marked before it is mounted (the door marks its
    loopback from inside), so a mounted one without vnet's mark is not a half-made one of
    vnet's and is left alone. A link of a pending name without a mark is taken for vnet's
    half-made one: the name was free when the run planned it (planning refuses to create
    over an existing link)."""
    from .door.protocol import Scope
    from .ownership import link_owner
    pending = journal_pending(topology)
    removed: list[str] = []
    if not pending:  # no journal (the common case), or every step it announced was done
        journal_remove(topology)
        return removed
    existing = backend.list_netns()
    spaces = list(dict.fromkeys(c.netns for c in pending if c.what == LINK
                                and (c.netns is None or c.netns in existing)))
    observed = backend.observe(Scope(spaces, route_netns=(), tc_netns=(), vlan_netns=(),
                                     addr_netns=(), kind_options=False, kind_state=False))
    for made in pending:
        if made.what == NETNS:
            if made.name in existing:  # mounted: vnet's and marked, or not vnet's at all
                continue
            try:  # a file under /run/netns that never became a namespace
                backend.send([Request("netns.del", None, {"name": made.name})])
            except KernelError as err:
                if err.errno != errno.ENOENT:
                    raise
                continue
            removed.append(f"namespace file {made.name}")
            continue
        link = observed.link(made.netns, made.name)
        if link is None or link_owner(link.altnames, made.name) is not None:
            continue
        backend.send([Request("link.del", made.netns, {"ifname": made.name,
                                                        "missing_ok": True})])
        removed.append(f"link {made.netns + '/' if made.netns else ''}{made.name}")
    journal_remove(topology)
    return removed
