"""Execute a plan: each Action in order, journaled; on the first failure undo the done ones in
reverse and report the failed Action with the kernel's error.

The kernel (door/protocol.py: `Kernel`) may carry out runs of actions together (`send_bulk`:
deletions; `send_batched`: many requests to a system call); it then says which of them were
done, and those are undone too."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from .actions import Action, Request
from .errors import ApplyError, KernelError, NotKeptError, VnetError

if TYPE_CHECKING:  # the door is the caller's: apply only speaks its Protocol
    from .door.protocol import Kernel as Backend
    from .plan import Plan


def _silent(action: Action, index: int, total: int) -> None:
    """Default progress reporter: says nothing (only the CLI talks to the terminal)."""


def execute_plan(plan: Plan, backend: Backend,
                 progress: Callable[[Action, int, int], None] = _silent) -> list[Action]:
    """Run every action of `plan`; return the journal. All or nothing: raises ApplyError after
    rolling back when an action fails."""
    journal: list[Action] = []
    total = len(plan.actions)
    i = 0
    while i < total:
        action = plan.actions[i]
        progress(action, i, total)
        run = _bulk_run(plan.actions, i, backend)
        if run > 1:  # e.g. many link removals: the backend does them in one kernel call
            done, err = backend.send_bulk([a.do for a in plan.actions[i:i + run]])
            journal += plan.actions[i:i + done]
            if err is not None:
                failures = rollback(journal, backend)
                raise ApplyError(_name_action(err, plan.actions[i + done]), len(journal),
                                 failures) from None
            i += run
            continue
        run = _batch_run(plan.actions, i, backend)
        if run > 1:  # e.g. new links, their addresses, then their states: many to a call
            done_at, failed = backend.send_batched(
                [a.do for a in plan.actions[i:i + run]],
                functools.partial(_report_sent, progress, plan.actions, i))
            journal += [plan.actions[i + k] for k in done_at]
            if failed is not None:
                failures = rollback(journal, backend)
                raise ApplyError(_name_action(failed[1], plan.actions[i + failed[0]]),
                                 len(journal), failures) from None
            i += run
            continue
        try:
            backend.send(action.do)
        except KernelError as err:
            failures = rollback(journal, backend)
            raise ApplyError(_name_action(err, action), len(journal), failures) from None
        journal.append(action)
        i += 1
    return journal


def verify_kept(journal: list[Action], backend: Backend, replan: Callable[[], Plan]) -> None:
    """Read the kernel back after an apply: `replan` observes it again and plans the file
    against it, as `vnet plan` would. Any action left means a value the kernel accepted
    without keeping it (an MTU clamped to the underlay's, an address it dropped): undo the
    journal, newest first, and raise NotKeptError naming each field, the value asked and the
    value kept. An empty plan means apply converged.

    The read-back costs a second observation of every namespace (a tenth to a quarter of the
    apply at 10,000 interfaces), so it is made when some request done could have been kept
    otherwise (`_may_differ`), not after an apply made only of requests the kernel carries out
    exactly or refuses. A read-back that cannot be made (the kernel refuses the reading, or
    the plan meets a conflict) is rolled back too: apply never ends half-checked."""
    if not any(_may_differ(req) for action in journal for req in action.do):
        return
    try:
        left = replan()
    except VnetError as err:
        failures = rollback(journal, backend)
        raise NotKeptError([f"reading the kernel back failed: {err}"], len(journal),
                           failures) from None
    if not left.has_changes:
        return
    misses = [miss for action in left.actions for miss in _not_kept(action)]
    failures = rollback(journal, backend)
    raise NotKeptError(misses, len(journal), failures)


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
