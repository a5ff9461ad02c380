"""The `vnet` command: the only place that parses argv, prints, and picks exit codes.

Exit codes: 0 ok (plan: no changes), 1 error, 2 (plan) changes pending.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import sys
from collections.abc import Sequence

from .errors import (
    ApplyError,
    ConflictError,
    KernelError,
    LockError,
    PermissionProblem,
    TopologyError,
    UnsupportedError,
    VnetError,
)
from .interrupt import Interrupted, RollbackAbandoned

#: typing.TYPE_CHECKING without importing `typing`, a visible share of `vnet --help`
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def _console(stderr: bool = False) -> Any:
    from rich.console import Console
    stream = sys.stderr if stderr else sys.stdout
    # a pipe or a file gets full-width tables, not rich's 80-column default
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, highlight=False, width=width)


class _LazyConsole:
    """The error console, made on the first error: a run without errors never imports rich."""

    def __init__(self) -> None:
        self._con: Any = None

    def print(self, *args: Any, **kwargs: Any) -> None:
        if self._con is None:
            self._con = _console(stderr=True)
        self._con.print(*args, **kwargs)

    def lines(self, texts: list[str], style: str, most: int = 1000) -> None:
        """One line each, unwrapped. Into a pipe or a file, written as they are (a file may
        hold thousands of mistakes, and rich took seconds to print them one by one); on a
        terminal in colour, the first `most` and a count of the rest."""
        if self._con is None:
            self._con = _console(stderr=True)
        if not self._con.is_terminal:
            sys.stderr.write("".join(f"{text}\n" for text in texts))
            return
        for text in texts[:most]:
            self._con.print(text, markup=False, style=style, soft_wrap=True)
        if len(texts) > most:
            self._con.print(f"... and {len(texts) - most} more (`vnet validate --json FILE` "
                            "lists every one)", markup=False)


def _emit_json(data: Any) -> None:
    import json
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


#: objects kept until the process ends, when `run` is the caller (None otherwise): see `_keep`
_KEPT: list[Any] | None = None


def _keep(obj: Any) -> None:
    """Keep `obj` until the process ends, when `run` runs the command: it exits without
    freeing anything, and freeing a topology of 10,000 interfaces (its models and the YAML
    nodes its error positions are read from) object by object when the command returns
    took 30-40 ms of a no-op `apply`. Callers of `main` (tests, programs) keep nothing."""
    if _KEPT is not None:
        _KEPT.append(obj)


def _load(path: str) -> Any:
    from .loader import load_file
    topo = load_file(path)
    _keep(topo)
    if not topo.externals:
        return topo
    from .sandbox import in_sandbox
    if in_sandbox():
        _refuse_externals(topo)
    return topo


def _refuse_externals(topo: Any) -> None:
    """A sandbox holds only what vnet makes: a file naming a host interface (`external:
    true`) is refused there before any change, one issue per such interface."""
    import re

    from .errors import Issue
    found = sorted(int(m.group(1)) for key in topo.positions
                   if (m := re.fullmatch(r"interfaces\[(\d+)\]\.external", key)))
    wheres = [topo.where(f"interfaces[{i}]") for i in found] or [None] * len(topo.externals)
    issues = [Issue(message=f"interface {ext.name!r} is external (a host interface), which "
                    "the rootless sandbox cannot reach: its network is its own",
                    field="external", where=where,
                    hint="run vnet as root without --sandbox to use host interfaces, or "
                    "declare a veth or bridge in the file instead")
              for ext, where in zip(topo.externals, wheres, strict=False)]
    raise TopologyError(issues)


# ---- commands ------------------------------------------------------------------------------

def cmd_validate(args: argparse.Namespace) -> int:
    topo = _load(args.file)
    n = len(topo.endpoints()) + len(topo.externals)
    if args.json:
        _emit_json({"valid": True, "topology": topo.name, "interfaces": n,
                    "namespaces": len(topo.namespaces), "routes": len(topo.routes)})
    else:
        print(f"{args.file}: valid — topology {topo.name!r}, {len(topo.namespaces)} namespace(s),"
              f" {n} interface(s), {len(topo.routes)} route(s)")
    return EXIT_OK


def _write_plan(plan: Any, verbose: bool, summary: bool = True) -> None:
    """The plan's action lines (reasons that say nothing but "declared" only when `verbose`),
    then its summary line."""
    # Plain writes, not rich: a large plan has tens of thousands of lines, and rich's per-line
    # rendering would cost more than the kernel's work. Colour only on a terminal.
    from .render.plan_text import ANSI_COLOURS, plan_lines, plan_summary
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    lines = [f"\x1b[{ANSI_COLOURS[verb]}m{line}\x1b[0m" if colour else line
             for verb, line in plan_lines(plan, verbose=verbose)]
    if summary:
        lines.append(plan_summary(plan))
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


def cmd_plan(args: argparse.Namespace) -> int:
    if args.inventory:
        return cmd_across(args, "plan")
    from . import api
    topo = _load(args.file)
    plan = api.plan(topo)
    _note_guards(topo, plan)
    if args.json:
        _emit_json(plan.as_dict())
    elif args.quiet:
        from .render.plan_text import plan_summary
        print(plan_summary(plan))
    else:
        _write_plan(plan, verbose=args.verbose)
    return EXIT_CHANGES if plan.has_changes else EXIT_OK


def cmd_across(args: argparse.Namespace, action: str) -> int:
    """`plan|apply|destroy FILE --inventory INV`: the file across the inventory's hosts, one
    report grouped by host (exit as for one host: 0 nothing, 2 changes planned, 1 failure)."""
    from pathlib import Path

    from .hosts import runner
    inventory = Path(args.inventory)
    topo = _load(args.file if action != "destroy" else args.target)
    run = {"plan": runner.plan_across, "apply": runner.apply_across,
           "destroy": runner.destroy_across}[action]
    result = run(topo, inventory)
    if args.json:
        _emit_json({"topology": result.topology, "tunnels": result.notes,
                    **{phase: {h: vars(r) for h, r in getattr(result, phase).items()}
                       for phase in ("planned", "applied", "rolled_back")}})
    else:
        sys.stdout.write(result.text())
    if result.failed:
        return EXIT_ERROR
    return EXIT_CHANGES if action == "plan" and result.changed else EXIT_OK


def cmd_check_across(args: argparse.Namespace) -> int:
    """`check FILE --inventory INV`: each check on the host it starts from."""
    from pathlib import Path

    from .hosts import runner
    topo = _load(args.file)
    result = runner.check_across(topo, Path(args.inventory))
    if args.json:
        _emit_json({"topology": topo.name, "passed": result.passed,
                    "checks": result.results, "problems": result.problems})
    else:
        sys.stdout.write(result.text())
    return EXIT_OK if result.passed else EXIT_ERROR


def _inventory_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--inventory", metavar="INVENTORY",
                    help="run across the hosts of a file that spans hosts, through this "
                         "Ansible inventory")


class _Progress:
    """How far an apply or destroy has got, on stderr while it works: a rich progress bar on
    a terminal (at most ten updates a second); elsewhere (a pipe, a CI log) one line when a
    tenth more of the work is done, at most one a second, or after five seconds without one.
    A run that is over within a second shows nothing."""

    def __init__(self, what: str, name: str) -> None:
        import time
        self.clock = time.monotonic
        self.what, self.name = what, name
        self.start = self.shown = self.clock()
        self.shown_part = 0.0
        self.terminal = sys.stderr.isatty()
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, action: Any, i: int, total: int) -> None:
        now = self.clock()
        done = i + 1
        if self.terminal:
            if now - self.shown < 0.1 and done < total:
                return  # a terminal cannot show thousands of updates a second; ten do
            if self.bar is None:
                self._start_bar(total)
            self.bar.update(self.task, completed=done, total=total)
            self.bar.refresh()
        else:
            part = done / total if total else 1.0
            since = now - self.shown
            if done >= total or not (since >= 5 or (since >= 1 and part - self.shown_part >= 0.1)):
                return  # the closing line says the end
            sys.stderr.write(f"{self.what} {self.name}: {done}/{total} actions done "
                             f"({part:.0%}, {now - self.start:.0f} s)\n")
            sys.stderr.flush()
            self.shown_part = part
        self.shown = now

    def _start_bar(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
        self.bar = Progress(TextColumn(f"{self.what} {self.name}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(),
                            console=_console(stderr=True), transient=True, auto_refresh=False)
        self.bar.start()
        self.task = self.bar.add_task(self.what, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _announce(args: argparse.Namespace, teardown: bool = False) -> Any:
    """What apply and destroy say once they have planned, before any change: the plan's
    summary (a teardown's without its zero counts), and with -v every action before it."""
    def planned(plan: Any) -> None:
        if not plan.has_changes or args.quiet:
            return
        from .render.plan_text import plan_summary
        if args.verbose:
            _write_plan(plan, verbose=True, summary=False)
        print(plan_summary(plan, only_some=teardown), flush=True)
    return planned


def _note_guards(topo: Any, plan: Any) -> None:
    """What `vnet plan` adds on stderr when apply would refuse the plan without --replace or
    --force (the plan's lines already name what a namespace takes along)."""
    from . import api
    from .plan import removals, takes_along
    from .store import read_record
    gone = removals(plan)
    if gone and api.same_source(read_record(topo.name), *api.source_of(topo)) is False:
        sys.stderr.write(f"note: {len(gone)} of the objects this plan removes were made from "
                         f"another file ({read_record(topo.name).source}): apply needs "
                         "--replace\n")
    if takes_along(plan):
        sys.stderr.write("note: this plan deletes namespaces holding links vnet did not make "
                         "(listed as `also deletes`): apply needs --force\n")


def _name_forced(args: argparse.Namespace, then: Any) -> Any:
    """A `planned` callback: with --force, say on stderr what each deletion takes along that
    vnet did not make (whatever -q says: it is about to go), then `then`."""
    def planned(plan: Any) -> None:
        if args.force:
            for action in plan.actions:
                if action.takes_along:
                    sys.stderr.write(f"--force: deleting {action.subject} also deletes "
                                     + "; ".join(action.takes_along) + "\n")
            sys.stderr.flush()
        if then is not None:
            then(plan)
    return planned


#: how many removals the question before an apply lists before it counts the rest
_ASK_SHOWN = 20


def _ask_before_removing(args: argparse.Namespace) -> Any:
    """The `confirm` callback of an apply: on a terminal (standard input and output), a plan
    that removes something asks first, listing what goes; None (never ask) with -y/--yes or
    when either is not a terminal (a script, CI: vnet proceeds as asked)."""
    if args.yes or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None

    def confirm(plan: Any) -> bool:
        from .plan import removals
        gone = removals(plan)
        if not gone:
            return True
        lines = [f"  - {a.subject}" + "".join(f"\n      also deletes: {what}"
                                             for what in a.takes_along)
                 for a in gone[:_ASK_SHOWN]]
        if len(gone) > _ASK_SHOWN:
            lines.append(f"  ... and {len(gone) - _ASK_SHOWN} more (`vnet plan -v` lists "
                         "them all)")
        sys.stderr.write(f"Applying {plan.topology} removes {len(gone)} object(s):\n"
                         + "\n".join(lines) + "\nRemove them? [y/N] ")
        sys.stderr.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")
    return confirm


def cmd_apply(args: argparse.Namespace) -> int:
    if args.inventory:
        return cmd_across(args, "apply")
    import time

    from . import api
    started = time.monotonic()
    topo = _load(args.file)
    progress = None if args.json or args.quiet else _Progress("applying", topo.name)
    try:
        plan = _interruptible(lambda: api.apply(
            topo, progress=progress,
            planned=_name_forced(args, None if args.json else _announce(args)),
            wait=args.wait, replace=args.replace, force=args.force,
            confirm=_ask_before_removing(args)))
    finally:
        if progress is not None:
            progress.close()
    if not args.json:
        from .render.plan_text import applied_summary
        print(applied_summary(plan, time.monotonic() - started))
    if not args.check:
        if args.json:
            _emit_json({**plan.as_dict(), "applied": True})
        return EXIT_OK
    results = api.check(topo)
    if args.json:
        _emit_json({**plan.as_dict(), "applied": True,
                    "checks": [r.as_dict() for r in results]})
    else:
        _print_checks(topo.name, results)
    return EXIT_OK if all(r.passed for r in results) else EXIT_ERROR


def _print_checks(name: str, results: list[Any]) -> None:
    from rich.table import Table
    if not results:
        print(f"{name}: the file has no checks")
        return
    table = Table(title=f"checks of {name}")
    for col in ("check", "from", "to", "expected", "observed", "time", "result"):
        table.add_column(col, justify="right" if col == "time" else "left")
    for r in results:
        row = r.as_dict()
        table.add_row(row["check"], row["from"], row["to"], row["expected"], row["observed"],
                      f"{row['seconds']:.2f}s", "[green]pass[/]" if r.passed else "[red]FAIL[/]")
    con = _console()
    con.print(table)
    failed = sum(not r.passed for r in results)
    con.print(f"{len(results) - failed} passed, {failed} failed", markup=False)


def cmd_check(args: argparse.Namespace) -> int:
    if args.inventory:
        return cmd_check_across(args)
    from . import api
    topo = _load(args.file)
    results = api.check(topo)
    if args.json:
        _emit_json({"topology": topo.name, "passed": all(r.passed for r in results),
                    "checks": [r.as_dict() for r in results]})
    else:
        _print_checks(topo.name, results)
    return EXIT_OK if all(r.passed for r in results) else EXIT_ERROR


def cmd_exec(args: argparse.Namespace) -> int:
    from . import api
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise VnetError("no command given: vnet exec NAMESPACE -- COMMAND [ARGS...]")
    return api.exec_in(args.netns, argv)


def cmd_link(args: argparse.Namespace) -> int:
    from . import failures, interrupt
    with interrupt.handling():
        failures.link(args.name, args.iface, args.action, args.hold,
                      say=(lambda text: None) if args.json else
                      (lambda text: print(text, flush=True)))
        signum = interrupt.requested()
    if args.json:
        _emit_json({"topology": args.name, "link": args.iface, "action": args.action,
                    "done": True})
    if signum is not None:  # after the last change: the link is as asked, still say so
        raise interrupt.Interrupted(signum, False, 0, [], 1, 1)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from . import failures, interrupt
    topo = _load(args.file)
    if not topo.events:
        raise VnetError(f"{args.file} has no events: add `events:` (e.g. "
                        "{at: 5s, link: NS/IF, down: true}) or use `vnet check`")

    def report(step: Any, at: float) -> None:
        if not args.json:
            print(f"{at:7.2f}s  {step.describe()}", flush=True)

    with interrupt.handling():
        result = failures.run(topo, settle=args.settle, report=report)
        signum = interrupt.requested()  # during the checks after the events: they finished
    if signum is not None:
        raise interrupt.Interrupted(signum, False, 0, [], len(result.timeline.done),
                                    len(result.timeline.done))
    if args.json:
        _emit_json(result.as_dict())
    else:
        _print_checks(topo.name, result.results)
        failed = sum(not r.passed for r in result.results)
        verdict = "passed" if result.passed else f"FAILED ({failed} check(s))"
        print(f"run of {topo.name}: {len(result.timeline.done)} events, "
              f"{len(result.results)} checks: {verdict}")
    return EXIT_OK if result.passed else EXIT_ERROR


def _duration_arg(text: str) -> float:
    """A duration option (`5s`, `500ms`, `2`): seconds."""
    from .checks import parse_duration
    try:
        return parse_duration(text if not text.replace(".", "", 1).isdigit() else float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: `vnet impair` options: the `impair:` fields of the file, as tc-netem(8) spells them
_IMPAIR_OPTIONS = {
    "delay": ("TIME", "added delay: 40ms"),
    "jitter": ("TIME", "random variation of the delay: 5ms"),
    "correlation": ("PERCENT", "how much each delay depends on the last: 25%"),
    "distribution": ("TABLE", "the shape of the jitter: normal, pareto, paretonormal (a table "
                              "iproute2 ships)"),
    "loss": ("PERCENT", "random loss: 2%, or '2% 25%' with its correlation"),
    "loss_model": ("MODEL", "bursty loss: 'gemodel P [R [1-H [1-K]]]' or 'state P13 ...'"),
    "duplicate": ("PERCENT", "packets sent twice: 0.1%"),
    "corrupt": ("PERCENT", "packets with a bit flipped: 0.1%"),
    "reorder": ("PERCENT", "packets sent ahead of the delayed ones: 1% (needs --delay)"),
    "gap": ("N", "reorder among every N packets: 5 (needs --reorder)"),
    "ecn": ("", "mark with ECN instead of dropping (needs --loss or --loss-model)"),
    "rate": ("RATE", "rate the interface sends at: 10mbit"),
    "packet_overhead": ("BYTES", "bytes added to each packet for the rate: 20 (needs --rate)"),
    "cell_size": ("BYTES", "count packets in cells of this size for the rate: 48"),
    "cell_overhead": ("BYTES", "bytes added to each cell: 5 (needs --cell-size)"),
    "limit": ("PACKETS", "packets netem may hold (default 1000)"),
    "slot": ("SLOT", "send in bursts: 'MIN_DELAY [MAX_DELAY] [packets N] [bytes N]'"),
}


#: the options that are whole numbers in the file
_IMPAIR_INTS = frozenset({"limit", "gap", "packet_overhead", "cell_size", "cell_overhead"})


def cmd_impair(args: argparse.Namespace) -> int:
    from . import api
    settings: dict[str, Any] = {}
    for option in _IMPAIR_OPTIONS:
        value = getattr(args, f"impair_{option}")
        if value is not None:
            whole = option in _IMPAIR_INTS and value.removeprefix("-").isdigit()
            settings[option] = int(value) if whole else value
    if args.clear and settings:
        raise VnetError("--clear removes the impairment: give it alone (with --direction to "
                        "say which side), or give the new values without --clear")
    if not args.clear and not settings:
        raise VnetError("say what to change (e.g. --delay 40ms --loss 2%), or --clear")
    if settings and args.direction:
        settings["direction"] = args.direction
    plan = api.impair(args.name, args.interface, None if args.clear else settings,
                      direction=args.direction)
    assert not isinstance(plan, list)
    if args.json:
        _emit_json(plan.as_dict())
    elif plan.has_changes:
        _write_plan(plan, verbose=True)
    else:
        print(f"{args.interface} already has that impairment: nothing changed.")
    return EXIT_OK


def cmd_destroy(args: argparse.Namespace) -> int:
    if args.inventory:
        return cmd_across(args, "destroy")
    import time

    from . import api
    started = time.monotonic()
    name = args.target
    from_file = os.path.exists(name) or name.endswith((".yaml", ".yml"))
    declared: list[str] = []
    if from_file:
        topo = _load(name)
        name, declared = topo.name, list(topo.namespaces)
    # a damaged record of a topology nothing is live of is still something to clear away
    damaged = _record_damaged(name)
    progress = None if args.json or args.quiet else _Progress("destroying", name)
    from . import journal
    finishing = journal.exists(name)  # what a run that died left: not a typo of a NAME
    try:
        plan = _interruptible(lambda: api.destroy(
            name, progress=progress, force=args.force,
            planned=_name_forced(args, None if args.json else _announce(args, teardown=True)),
            wait=args.wait, declared=declared))
    finally:
        if progress is not None:
            progress.close()
    if not plan.has_changes and not from_file and not damaged and not finishing:
        # a NAME nothing is live of: a typo, most likely (a FILE's topology is real, and
        # destroying what is not there leaves it as asked: exit 0, below)
        raise VnetError(_not_live(name))
    if args.json:
        _emit_json({**plan.as_dict(), "destroyed": True})
    elif plan.has_changes:
        from .render.plan_text import destroyed_summary
        print(destroyed_summary(plan, time.monotonic() - started))
    elif damaged:
        print(f"{name}: nothing of it is live; its damaged record is set aside.")
    else:
        print(f"{name}: nothing to destroy; vnet owns nothing of that name here.")
    return EXIT_OK


def _record_damaged(name: str) -> bool:
    """Whether topology `name` has a damaged record (destroy sets it aside)."""
    from . import store
    from .errors import DamagedRecord
    try:
        store.read_record(name)
    except DamagedRecord:
        return True
    return False


def _interruptible(change: Any) -> Any:
    """Run `change` (an apply or destroy) with SIGINT, SIGTERM and SIGHUP noted, not fatal:
    the run stops between two steps (see vnet.interrupt). A signal that came after its last
    step is reported all the same: an interrupted command never exits 0."""
    from . import interrupt
    with interrupt.handling():
        result = change()
        signum = interrupt.requested()
    if signum is not None:
        steps = len(result.actions)
        raise interrupt.Interrupted(signum, False, 0, [], steps, steps)
    return result


def _interrupted(args: argparse.Namespace, err: Any, exc: Any) -> int:
    """The one line an interrupted apply or destroy ends with; its exit status."""
    if exc.failures:
        tail = "; `vnet apply FILE` again or `vnet destroy NAME` finishes it"
    elif exc.rolled_back:
        tail = "; the kernel is as it was before"
    elif exc.done < exc.total and args.command in ("destroy", "down"):
        tail = f"; run `vnet destroy {args.target}` again to finish"
    else:
        tail = "; nothing was rolled back"
    if getattr(args, "json", False):
        _emit_json({"error": "interrupted", "messages": [f"{exc}{tail}"], "status": exc.status,
                    "rolled_back": exc.rolled_back, "undone": exc.undone,
                    "undo_failures": exc.failures})
    else:
        err.print(f"{exc}{tail}", markup=False, soft_wrap=True)
    return int(exc.status)


def _not_live(name: str, path: str | None = None) -> str:
    """Why `show`/`destroy` of `name` found nothing: the topologies that are live, and the one
    closest to `name`."""
    import difflib

    from . import api
    live = [t.name for t in api.live_topologies()]
    text = (f"topology {name!r} of {path} is not live (`vnet apply {path}` builds it)" if path
            else f"nothing named {name!r} is live")
    if not live:
        return f"{text}; no vnet topology is live here"
    text += f"; live topologies: {', '.join(live)}"
    by_lower = {n.lower(): n for n in live}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return text + (f"; did you mean {by_lower[close[0]]!r}?" if close and not path else "")


def _terminal_width() -> int | None:
    """The terminal's width; None when standard output is not a terminal (tab-separated)."""
    if not sys.stdout.isatty():
        return None
    import shutil
    return shutil.get_terminal_size().columns


def _write_lines(lines: list[str]) -> None:
    # plain writes, not rich: thousands of rows must print in well under a second
    sys.stdout.write("".join(line + "\n" for line in lines))


def cmd_show(args: argparse.Namespace) -> int:
    from . import api
    from .render.show_text import topology_lines
    target = args.name
    if args.inventory:
        return cmd_show_across(args)
    if target is None:
        if args.netns or args.kind:
            raise VnetError("--netns and --kind filter one topology: vnet show NAME --netns NS")
        return cmd_list(args)
    topo = _load(target) if os.path.exists(target) or target.endswith((".yaml", ".yml")) \
        else None
    name = topo.name if topo is not None else target
    shown = api.show_topology(name, counters=args.stats or args.json, checks_of=topo)
    if shown is None:
        raise VnetError(_not_live(name, target if topo is not None else None))
    netns = [None if ns == "-" else ns for ns in args.netns or ()]
    known = {None, *shown.namespaces, *(r.netns for r in shown.interfaces)}
    for ns in netns:
        if ns not in known:
            import difflib
            names = sorted(n for n in known if n is not None)
            close = difflib.get_close_matches(str(ns), names, n=1, cutoff=0.6)
            raise VnetError(f"{name} has no namespace {ns!r}; its namespaces: "
                            f"{', '.join(names) or '(none)'} and - (where vnet runs)"
                            + (f"; did you mean {close[0]!r}?" if close else ""))
    shown = shown.filtered(netns, args.kind or (), loopbacks=args.all)
    if args.options:
        _add_options(shown)
    if args.json:
        _emit_json(shown.as_dict())
    else:
        _write_lines(topology_lines(shown, _terminal_width(), stats=args.stats))
    return EXIT_OK


#: what a captured entry says that `show` has columns of its own for
_SHOWN_ELSEWHERE = frozenset({"name", "netns", "kind", "addresses", "master", "mtu", "mac",
                              "state", "external"})


def _add_options(shown: Any) -> None:
    """`show --options`: each owned interface's options read back from the kernel in the
    file's words (what `vnet capture` writes for it), in its row's `extra["options"]`. This
    loads the kinds, which a plain `show` never does."""
    from . import api
    from .capture import capture_owned
    kernel = api.open_kernel()
    try:
        data = capture_owned(shown.topology, kernel)
    finally:
        kernel.close()
    entries = {(e.get("netns"), e["name"]): e for e in data["interfaces"]}
    for row in shown.interfaces:
        entry = entries.get((row.netns, row.name))
        options = {k: v for k, v in (entry or {}).items() if k not in _SHOWN_ELSEWHERE}
        if options:
            row.extra["options"] = options


def cmd_show_across(args: argparse.Namespace) -> int:
    """`show FILE --inventory INV`: the file's topology as it is live on each of its hosts,
    one view grouped by host (exit 1 when a host could not show it)."""
    from pathlib import Path

    from . import api
    from .hosts import runner
    from .render.show_text import topology_lines
    if args.name is None or not os.path.exists(args.name):
        raise VnetError("show --inventory needs the file that spans the hosts: "
                        "vnet show FILE --inventory INVENTORY")
    topo = _load(args.name)
    result = runner.show_across(topo, Path(args.inventory), counters=args.stats or args.json,
                                options=args.options)
    hosts = [h.name for h in topo.hosts]
    netns = [None if ns == "-" else ns for ns in args.netns or ()]
    views: dict[str, Any] = {}
    for host, data in result.shown.items():
        views[host] = api.Shown(
            data["topology"], data.get("file"), list(data["namespaces"]),
            [api.Row(**row) for row in data["interfaces"]],
            [api.RouteRow(**row) for row in data["routes"]],
        ).filtered(netns, args.kind or (), loopbacks=args.all)
    if args.json:
        _emit_json({"topology": topo.name,
                    "hosts": {h: views[h].as_dict() if h in views else
                              {"error": result.problems[h]} for h in hosts}})
    else:
        lines = [f"Topology {topo.name} on {len(topo.hosts)} hosts."]
        for host in hosts:
            lines.append(f"== {host} ==")
            if host in views:
                lines += topology_lines(views[host], _terminal_width(), stats=args.stats)
            else:
                lines.append(f"FAILED on {host}: {result.problems.get(host, 'no answer')}")
        _write_lines(lines)
    return EXIT_ERROR if result.problems else EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from . import api
    from .render.show_text import list_lines
    summaries = api.live_topologies()
    if args.json:
        _emit_json({"topologies": [t.as_dict() for t in summaries]})
    else:
        _write_lines(list_lines(summaries, _terminal_width()))
    return EXIT_OK


def cmd_kind_options(name: str, as_json: bool) -> int:
    """`vnet kinds KIND`: every option of one kind, from its own declarations."""
    from . import kinds
    from .errors import VnetError
    from .kind_options import option_rows
    try:
        cls = kinds.lookup(name)
    except KeyError:
        raise VnetError(kinds.unknown_kind_message(name)) from None
    rows = option_rows(cls)
    if as_json:
        _emit_json({"kind": cls.kind_name, "options": [r.as_dict() for r in rows]})
        return EXIT_OK
    from rich.table import Table
    out = Table(title=f"options of {cls.kind_name} (omitted: the default stays, nothing is "
                      "written)")
    for col in ("option", "type", "default", "a change", "what it is"):
        out.add_column(col)
    for r in rows:
        out.add_row(r.name, r.type, r.default, r.change, r.description)
    _console().print(out)
    return EXIT_OK


def cmd_kinds(args: argparse.Namespace) -> int:
    if args.kind:
        return cmd_kind_options(args.kind, args.json)
    from .kinds_probe import feature_table, kind_dicts, kind_table
    table = kind_table(refresh=args.refresh)
    if args.json:
        _emit_json(kind_dicts(table))
        return EXIT_OK
    from rich.table import Table
    out = Table(title="interface kinds", show_lines=True)
    for col in ("kind", "implemented", "on this kernel", "use it when"):
        out.add_column(col)
    for k in table:
        avail = {True: "yes", False: "no", None: "unknown"}[k.available]
        if k.reason:
            avail += f" ({k.reason})"
        out.add_row(k.name, "yes" if k.implemented else "not yet", avail, k.use_when)
    features = Table(title="features of kinds")
    for col in ("feature", "on this kernel"):
        features.add_column(col)
    for f in feature_table():  # probed with the kinds: read from the cache
        avail = {True: "yes", False: "no", None: "unknown"}[f.available]
        features.add_row(f.title, avail + (f" ({f.reason})" if f.reason else ""))
    con = _console()
    con.print(out)
    con.print(features)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from .model import json_schema_text
    print(json_schema_text())
    return EXIT_OK


def cmd_capture(args: argparse.Namespace) -> int:
    from . import api, capture
    if (args.name is None) == (args.topology is None):
        raise VnetError("vnet capture: name a live topology (vnet capture NAME), or capture "
                        "what vnet does not own as a new one (vnet capture --name NEW "
                        "[--netns NS]... [--host])")
    if args.topology is not None and (args.netns or args.host or args.skip_unknown):
        raise VnetError("vnet capture: --netns, --host and --skip-unknown go with --name NEW "
                        "(what vnet does not own), not with a topology NAME")
    backend = api.open_kernel()
    try:
        if args.topology is not None:
            data = capture.capture_owned(args.topology, backend)
            source = f"`vnet capture {args.topology}`"
        else:
            data = capture.capture_unowned(args.name, args.netns, args.host, backend,
                                           skip_unknown=args.skip_unknown)
            words = [f"--netns {ns}" for ns in args.netns] + (["--host"] if args.host else [])
            source = f"`vnet capture --name {args.name} {' '.join(words)}`"
    finally:
        backend.close()
    api.load_data(data, file=args.output or "<capture>")  # never write a file vnet refuses
    text = capture.to_yaml(data, source=source)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"{args.output}: captured {data['name']!r}: {len(data['interfaces'])} "
              f"interface(s), {len(data['namespaces'])} namespace(s), "
              f"{len(data['routes'])} route(s)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_draw(args: argparse.Namespace) -> int:
    from .render import draw
    fmt = draw.choose_format(args.format, args.output)
    if fmt in ("svg", "png"):
        from .render_image import dot_program
        dot_program(fmt)  # a missing Graphviz is said before any work
    target = args.target
    if os.path.exists(target) or target.endswith((".yaml", ".yml")):
        if args.file is not None:
            raise VnetError("--file marks what differs between a live topology and its file: "
                            f"draw the live one by its NAME (vnet draw NAME --file {target})")
        topo, diff, title = _load(target), None, None
    else:
        topo = _live_topology(target)
        diff = None
        if args.file is not None:
            mine = _load(args.file)
            if mine.name != topo.name:
                raise VnetError(f"{args.file} describes topology {mine.name!r}, not "
                                f"{topo.name!r}: give the file of {topo.name}")
            diff = draw.compare(mine, topo)
        title = f"{topo.name} (live)" if diff is None else \
            f"{topo.name} (live; red: differs from {args.file})"
    text = draw.mermaid(topo, diff, title) if fmt == "mermaid" else draw.dot(topo, diff, title)
    data = text.encode()
    if fmt in ("svg", "png"):
        from .render_image import render
        data = render(text, fmt)
    if args.output is None:
        sys.stdout.write(data.decode())
        return EXIT_OK
    try:
        with open(args.output, "wb") as out:
            out.write(data)
    except OSError as exc:
        raise VnetError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"{args.output}: {fmt} picture of {topo.name}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """`vnet export FILE --to TARGET`: the file in another tool's terms; no kernel, no root.
    What the target cannot express is listed on stderr; without --partial nothing is then
    written (exit 1)."""
    from .export import DIRECTORY_TARGETS, Options, export, inline_secrets
    topo = _load(args.file)
    directory = args.to in DIRECTORY_TARGETS
    if directory and args.output is None:
        raise VnetError(f"--to {args.to} writes a directory of files: give it with -o DIR")
    result = export(topo, args.to, Options(netns=args.netns,
                                           include_secrets=args.include_secrets))
    for left in result.left_out:
        print(f"left out: {left.line(topo)}", file=sys.stderr)
    if result.left_out and not args.partial:
        print(f"{len(result.left_out)} thing(s) of {args.file} cannot be said to {args.to}; "
              "nothing was written (--partial writes the rest)", file=sys.stderr)
        return EXIT_ERROR
    secret = bool(args.include_secrets and inline_secrets(topo))
    if directory:
        _write_directory(args.output, result.files, secret)
    elif args.output is None:
        sys.stdout.write("".join(result.files.values()))
        return EXIT_OK
    else:
        [text] = result.files.values()
        executable = args.to == "ip"
        _write_atomically(args.output, text, _file_mode(executable, secret))
    what = f"{len(result.files)} file(s)" if directory else f"{args.to} export"
    print(f"{args.output}: {what} of {topo.name}" +
          (f", {len(result.left_out)} thing(s) left out" if result.left_out else "") +
          (" (holds keys: readable by its owner only)" if secret else ""), file=sys.stderr)
    return EXIT_OK


def _file_mode(executable: bool, secret: bool) -> int:
    """A new file's mode: the umask's, executable for a script, owner-only with keys in it."""
    mode = (0o777 if executable else 0o666) & ~_umask()
    return mode & 0o700 if secret else mode


def _write_atomically(path: str, text: str, mode: int) -> None:
    """Write `path` whole or not at all: a temporary file beside it, renamed over it."""
    import tempfile
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
    except OSError as exc:
        raise VnetError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), mode)
            out.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise VnetError(f"cannot write {path}: {exc.strerror}; it was left as it was") from None


def _write_directory(path: str, files: dict[str, str], secret: bool) -> None:
    """Write `files` into directory `path`, all or none: a new directory is made under a
    temporary name and renamed into place; into an existing one every file is first written
    under a temporary name, and only then are they renamed over their names."""
    import shutil
    import tempfile
    mode = _file_mode(False, secret)
    target = os.path.abspath(path)
    if os.path.exists(target) and not os.path.isdir(target):
        raise VnetError(f"{path} is not a directory: give -o a directory (it is made if "
                        "missing)")
    fresh = not os.path.exists(target)
    try:
        work = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.",
                                dir=os.path.dirname(target)) if fresh else target
    except OSError as exc:
        raise VnetError(f"cannot write {path}: {exc.strerror}") from None
    written: list[tuple[str, str]] = []
    try:
        for name, text in files.items():
            final = os.path.join(work, name)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            tmp = final if fresh else os.path.join(os.path.dirname(final),
                                                   f".{os.path.basename(final)}.vnet-tmp")
            with open(tmp, "w", encoding="utf-8") as out:
                os.fchmod(out.fileno(), mode)
                out.write(text)
            written.append((tmp, final))
        if fresh:
            os.chmod(work, 0o777 & ~_umask())
            os.rename(work, target)
        else:
            for tmp, final in written:
                os.replace(tmp, final)
    except OSError as exc:
        if fresh:
            shutil.rmtree(work, ignore_errors=True)
        else:
            for tmp, _ in written:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        raise VnetError(f"cannot write {path}: {exc.strerror}; nothing was written") from None


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _live_topology(name: str) -> Any:
    """The topology NAME as the kernel holds it now, loaded as a file's (vnet.capture)."""
    from .api import open_kernel
    from .capture import capture_owned
    from .loader import load_data
    kernel = open_kernel()
    try:
        data = capture_owned(name, kernel)
    finally:
        kernel.close()
    if not data or not (data.get("interfaces") or data.get("namespaces")):
        raise VnetError(f"nothing live for {name}")
    return load_data(data, f"<live {name}>")


def cmd_completion(args: argparse.Namespace) -> int:
    from .completion import script  # shtab is imported here only: --help never pays for it
    sys.stdout.write(script(build_parser(), args.shell))
    return EXIT_OK


def cmd_complete(args: argparse.Namespace) -> int:
    """`vnet __complete topologies|namespaces`: live values for the completion scripts, one
    per line; never an error (a TAB must not print one)."""
    from .completion import values
    names = values(args.what)
    if names:
        sys.stdout.write("\n".join(names) + "\n")
    return EXIT_OK


# ---- argv ----------------------------------------------------------------------------------

def _cache_argparse_translations() -> None:
    """argparse translates its own words ("options", "usage: ") through gettext for every
    parser it makes, and gettext looks for catalogues on disk each time without remembering
    that there are none: with a parser per command that was a third of `vnet --help`. The
    translations are the same, looked up once each."""
    import functools
    names = vars(argparse)  # argparse's module-level `_`, which the type stubs do not declare
    if not hasattr(names["_"], "cache_info"):
        names["_"] = functools.lru_cache(maxsize=None)(names["_"])


class _LazyFormatter:
    """A help formatter set up on first use: argparse makes one for every option it adds, to
    check the option's metavar (which needs nothing of it), and setting one up asks the
    terminal for its width, importing shutil (with zlib, bz2 and lzma: 2.4 ms of every
    command). Help and usage are written by argparse's own formatter, set up then."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._deferred = (args, kwargs)

    def __getattr__(self, name: str) -> Any:
        # an attribute argparse's formatter sets up: set it up now, then answer
        deferred = self.__dict__.pop("_deferred", None)
        if deferred is None:
            raise AttributeError(name)
        super().__init__(*deferred[0], **deferred[1])
        return getattr(self, name)


class _LazyHelpFormatter(_LazyFormatter, argparse.HelpFormatter):
    """argparse.HelpFormatter, set up on first use (see _LazyFormatter)."""


class _LazyRawDescriptionHelpFormatter(_LazyFormatter, argparse.RawDescriptionHelpFormatter):
    """argparse.RawDescriptionHelpFormatter, set up on first use (see _LazyFormatter)."""


_EXAMPLES = """\
examples:
  vnet validate lab.yaml          check the file: every problem at once, no root needed
  vnet plan lab.yaml              what apply would change (exit 0: nothing, 2: changes)
  vnet apply lab.yaml             build it: all or nothing (-v: every action, -q: one line)
  vnet show lab                   what is live: interfaces, addresses, counters
  vnet check lab.yaml             prove the file's checks with real packets
  vnet exec h1 -- ping -c1 192.0.2.2
  vnet destroy lab                remove everything the topology created
  vnet kinds                      the interface kinds (and features) this kernel has

validate, schema and draw FILE need no kernel. As a user other than root the other commands
work in that user's sandbox (README: Rootless; `vnet sandbox` shows it); root works on the
host's namespaces, or in a sandbox with --sandbox.
"""


def _verbosity(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """-q/-v, before the command (`vnet -q apply F`) or after it (`vnet apply -q F`); after
    it they leave the value alone unless given (SUPPRESS), so one before it stays."""
    default: Any = False if top else argparse.SUPPRESS
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="print only errors and the closing line")
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="print every action, with its reason")


def _seconds(text: str) -> float:
    """The SECONDS of --wait: a number of seconds, not negative."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (e.g. 30)")
    return value


def _wait_option(parser: argparse.ArgumentParser) -> None:
    """--wait [SECONDS], for the commands that take the host lock (apply, destroy)."""
    parser.add_argument("--wait", nargs="?", type=_seconds, const=None, default=0.0,
                        metavar="SECONDS",
                        help="if another vnet is changing the kernel, wait for it (at most "
                        "SECONDS; without SECONDS, as long as it takes) instead of failing "
                        "at once")


class _Unused:
    """The parser of a command that does not run (see `build_parser`): what it is told is
    dropped, and each call returns it again, as `add_argument`'s callers may chain."""

    def __getattr__(self, name: str) -> Any:
        return self._drop

    def _drop(self, *args: Any, **kwargs: Any) -> _Unused:
        return self


class _Commands:
    """The subcommands' `add_parser`, giving every command its name, aliases and help (what
    `vnet --help` and a wrong command's error list), and only `wanted`'s parser its options:
    their hundred-odd `add_argument` calls were a seventh of `vnet --help`."""

    def __init__(self, sub: Any, wanted: str) -> None:
        self.sub, self.wanted = sub, wanted
        self.choices = sub.choices

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        kwargs.setdefault("formatter_class", _LazyHelpFormatter)
        parser = self.sub.add_parser(name, **kwargs)
        if self.wanted == name or self.wanted in kwargs.get("aliases", ()):
            return parser
        return _Unused()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of the whole command line; with `command` (a word of argv), only that
    command's parser gets its options (the others keep their name and help)."""
    _cache_argparse_translations()
    from . import __version__
    p = argparse.ArgumentParser(prog="vnet", description="One YAML file → Linux virtual "
                                "networks: validate, plan, apply, show, destroy.",
                                epilog=_EXAMPLES,
                                formatter_class=_LazyRawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"vnet {__version__}")
    _verbosity(p, top=True)
    p.add_argument("--sandbox", action="store_true",
                   help="(root) work in a sandbox, as a user other than root always does: "
                   "its own network and mount namespace, at VNET_SANDBOX or "
                   "$XDG_RUNTIME_DIR/vnet or /tmp/vnet-UID")
    # not required=True: argparse would then answer `vnet --bogus` with "COMMAND is
    # required" instead of naming the option it does not know (_main asks for the command);
    # `prog` given, as argparse would make it (it would set up a formatter to make it)
    sub: Any = p.add_subparsers(dest="command", metavar="COMMAND", prog=p.prog)
    if command is not None:
        sub = _Commands(sub, command)

    def add(name: str, func: Any, help_: str, aliases: Sequence[str] = ()) -> Any:
        sp = sub.add_parser(name, help=help_, aliases=list(aliases), description=help_)
        sp.set_defaults(func=func)
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        return sp

    add("validate", cmd_validate, "check a topology file; errors name file:line:col") \
        .add_argument("file")
    sp = add("plan", cmd_plan, "show what apply would change (exit 0: nothing, 2: changes)")
    sp.add_argument("file")
    _verbosity(sp)
    _inventory_option(sp)
    sp = add("apply", cmd_apply, "make the kernel match the file, all or nothing",
             aliases=["up"])
    sp.add_argument("file")
    _verbosity(sp)
    sp.add_argument("--check", action="store_true",
                    help="run the file's checks after applying (exit 1 if one fails)")
    sp.add_argument("--replace", action="store_true",
                    help="let the plan remove objects a topology of this name made from "
                    "another file")
    sp.add_argument("--force", action="store_true",
                    help="delete namespaces even with links vnet did not make inside (they "
                    "are named)")
    sp.add_argument("-y", "--yes", action="store_true",
                    help="on a terminal, remove without asking first")
    _wait_option(sp)
    _inventory_option(sp)
    sp = add("check", cmd_check, "prove the file's checks with real packets (exit 1 on a "
             "failure)")
    sp.add_argument("file")
    _inventory_option(sp)
    sp = sub.add_parser("exec", help="run a command inside one of vnet's namespaces",
                        description="run a command inside one of vnet's namespaces (like "
                        "`ip netns exec`); its exit status is vnet's")
    sp.set_defaults(func=cmd_exec, json=False)
    sp.add_argument("netns", metavar="NAMESPACE")
    sp.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    sp = add("link", cmd_link, "take a link of a live topology down, up, or flap it (down, "
             "then up again after --for)")
    sp.add_argument("name", metavar="NAME", help="the live topology (`vnet list`)")
    sp.add_argument("iface", metavar="IFACE",
                    help="NETNS/IFNAME of a link the topology owns (IFNAME alone: the "
                    "namespace vnet runs in)")
    sp.add_argument("action", choices=["down", "up", "flap"], metavar="down|up|flap")
    sp.add_argument("--for", dest="hold", type=_duration_arg, default=5.0, metavar="TIME",
                    help="flap: how long the link stays down (5s, 500ms; default 5s); "
                    "Ctrl-C brings it up at once")
    sp = add("run", cmd_run, "play the file's events on its applied topology while its "
             "checks run (exit 1 if a check fails)")
    sp.add_argument("file")
    sp.add_argument("--settle", type=_duration_arg, default=3.0, metavar="TIME",
                    help="how long `during` pings go on after the last event (default 3s)")
    sp = add("destroy", cmd_destroy, "remove everything a topology owns", aliases=["down"])
    sp.add_argument("target", metavar="FILE|NAME")
    sp.add_argument("--force", action="store_true",
                    help="delete its namespaces even with links vnet did not make inside "
                    "(they are named)")
    _verbosity(sp)
    _wait_option(sp)
    _inventory_option(sp)
    sp = add("show", cmd_show, "a live topology: interfaces, routes and (of a FILE) its "
             "checks; without NAME, as list")
    sp.add_argument("name", nargs="?", metavar="NAME|FILE")
    sp.add_argument("--netns", action="append", metavar="NS",
                    help="only this namespace (repeatable; - is the one vnet runs in)")
    sp.add_argument("--kind", action="append", metavar="KIND",
                    help="only interfaces of this kind (repeatable)")
    sp.add_argument("--all", action="store_true", help="loopbacks too")
    sp.add_argument("--stats", action="store_true", help="packet and byte counters")
    sp.add_argument("--options", action="store_true",
                    help="each interface's options as the kernel holds them, in the file's "
                         "words (kind options, link attributes, sysctls, port options)")
    sp.add_argument("--inventory", metavar="INVENTORY",
                    help="FILE spans hosts: show its topology on each, through this Ansible "
                         "inventory (one view grouped by host)")
    sp = add("impair", cmd_impair, "change (or --clear) the delay, loss or rate of one live "
             "interface in place, without the file")
    sp.add_argument("name", metavar="NAME", help="the live topology (`vnet list`)")
    sp.add_argument("interface", metavar="IFACE",
                    help="NETNS/IFNAME, or IFNAME in the namespace vnet runs in")
    for option, words in _IMPAIR_OPTIONS.items():
        if not words[0]:  # a flag: on when given
            sp.add_argument(f"--{option}", dest=f"impair_{option}", action="store_const",
                            const=True, help=words[1].replace("%", "%%"))
            continue
        sp.add_argument(f"--{option.replace('_', '-')}", dest=f"impair_{option}",
                        metavar=words[0], help=words[1].replace("%", "%%"))
    sp.add_argument("--direction", choices=("egress", "ingress", "both"),
                    help="what is impaired: what IFACE sends (egress, the default), receives "
                         "(ingress, through an IFB vnet makes), or both")
    sp.add_argument("--clear", action="store_true", help="remove the impairment")
    add("list", cmd_list, "every live topology: namespaces, interfaces up/down, its file")
    sp = add("kinds", cmd_kinds, "every interface kind: implemented, available on this "
             "kernel; with KIND, its options")
    sp.add_argument("kind", nargs="?", metavar="KIND",
                    help="list this kind's options: type and range, default, whether a "
                         "change is made in place or re-creates the link")
    sp.add_argument("--refresh", action="store_true", help="probe again, ignore the cache")
    add("schema", cmd_schema, "print the JSON Schema of the topology file")
    sp = sub.add_parser("capture", help="live state back into a topology file",
                        description="write a live topology NAME back as a file, or what vnet "
                        "does not own (made by hand with ip) as a new topology NEW")
    sp.set_defaults(func=cmd_capture, json=False)
    sp.add_argument("topology", nargs="?", metavar="NAME",
                    help="a live topology (`vnet show` lists them)")
    sp.add_argument("--name", metavar="NEW", help="capture what vnet does not own, as NEW")
    sp.add_argument("--netns", action="append", default=[], metavar="NS",
                    help="with --name: a namespace to capture (repeatable)")
    sp.add_argument("--host", action="store_true",
                    help="with --name: also the namespace vnet runs in")
    sp.add_argument("--skip-unknown", action="store_true",
                    help="with --name: leave out links of kinds vnet does not implement")
    sp.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    sp = sub.add_parser("draw", help="a picture of a topology: svg, png, dot or mermaid",
                        description="a picture of a topology: of a FILE (no root needed), or "
                        "of the live topology NAME (with --file, what differs from its file "
                        "in red)")
    sp.set_defaults(func=cmd_draw, json=False)
    sp.add_argument("target", metavar="FILE|NAME")
    sp.add_argument("--format", metavar="svg|png|dot|mermaid",
                    help="default: from the suffix of -o (.svg .png .dot .gv .mmd .mermaid), "
                    "else dot")
    sp.add_argument("-o", "--output", metavar="PATH",
                    help="write here (png needs it); default: standard output")
    sp.add_argument("--file", metavar="FILE",
                    help="with NAME: mark what differs between the live topology and FILE")
    sp = sub.add_parser("export", help="the topology in another tool's terms: an ip script, "
                        "networkd or netplan files",
                        description="write FILE in another tool's terms, without a kernel or "
                        "root: an sh script of ip commands (ip), systemd-networkd .netdev and "
                        ".network files (networkd) or a netplan file (netplan). What the target "
                        "cannot express is listed on standard error, and nothing is written "
                        "unless --partial (exit 1)")
    sp.set_defaults(func=cmd_export, json=False)
    sp.add_argument("file")
    sp.add_argument("--to", required=True, choices=["ip", "networkd", "netplan"],
                    metavar="ip|networkd|netplan", help="the target")
    sp.add_argument("-o", "--output", metavar="PATH",
                    help="the file to write (ip, netplan; default: standard output), or the "
                    "directory (networkd, required)")
    sp.add_argument("--netns", metavar="NS",
                    help="networkd, netplan: the namespace to export (default: the one vnet "
                    "runs in)")
    sp.add_argument("--include-secrets", action="store_true",
                    help="write MACsec keys given inline in the file (key_file keys are "
                    "always referenced, never copied)")
    sp.add_argument("--partial", action="store_true",
                    help="write what the target can express even when some is left out "
                    "(still listed; exit 0)")
    sp = sub.add_parser("completion", help="print the shell completion script (bash, zsh, fish)",
                        description="print the completion script for SHELL; install it as "
                        "docs/completion.md says, e.g. in ~/.bashrc: "
                        "source <(vnet completion bash)")
    sp.set_defaults(func=cmd_completion, json=False)
    sp.add_argument("shell", choices=["bash", "zsh", "fish"], metavar="SHELL",
                    help="bash, zsh or fish")
    sp = sub.add_parser("sandbox", help="the sandbox: its holder and topologies; `stop` ends it",
                        description="show the sandbox vnet works in (always for a user other "
                        "than root; for root with --sandbox or VNET_SANDBOX): its directory, "
                        "its holder process and the topologies inside. `vnet sandbox stop` "
                        "destroys them and ends the holder")
    sp.set_defaults(func=cmd_sandbox)
    sp.add_argument("action", nargs="?", choices=["show", "stop"], default="show",
                    metavar="show|stop", help="show (default) or stop")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(command_names=sorted(sub.choices))
    # after command_names, without help=: a helper of the completion scripts, for no person
    sp = sub.add_parser("__complete")
    sp.set_defaults(func=cmd_complete, json=False)
    sp.add_argument("what", choices=["topologies", "namespaces"])
    return p


def run() -> None:
    """The `vnet` command (console script, `python -m vnet`): `main`, then a quick exit.

    At exit Python frees every object one by one, which after loading and planning a large
    file is a visible share of a no-op `apply`. The memory goes back to the system anyway,
    so the command runs the exit handlers, flushes its output and leaves without that
    teardown. (`main` itself returns normally: tests and callers use it.)"""
    global _KEPT
    _KEPT = []
    try:
        code = main()
    except KeyboardInterrupt:  # before or after main's own handling: no traceback
        os.write(2, b"interrupted by SIGINT\n")
        code = 130
    except BrokenPipeError:  # the reader went away (`vnet schema | head`): nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: as Python's own exit reports it
            code = code or 120
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    # A vnet command is one short process that builds its objects and exits. Python's cyclic
    # garbage collector rescanned them again and again while a large file loaded and the
    # kernel's state was read, finding nothing to free; reference counting
    # still frees everything that is not a cycle.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if was_enabled:
            gc.enable()


def _bare_wait_last(argv: list[str]) -> list[str]:
    """`--wait` without SECONDS right before the file (`vnet apply --wait lab.yaml`) would
    take the file for its SECONDS: such a bare `--wait` goes to the end of the line."""
    out = list(argv)
    for i, word in enumerate(argv[:-1]):
        if word == "--":
            break
        if word == "--wait":
            try:
                float(argv[i + 1])
            except ValueError:
                if not argv[i + 1].startswith("-"):
                    del out[i]
                    out.append("--wait")
            break
    return out


def _main(argv: Sequence[str] | None) -> int:
    words = _bare_wait_last(list(sys.argv[1:] if argv is None else argv))
    # the command is the first word that is no option (no option before it takes a value)
    parser = build_parser(next((w for w in words if not w.startswith("-")), ""))
    args = parser.parse_args(words)
    if args.command is None:
        parser.error(f"which command? one of: {', '.join(args.command_names)}")
    if args.quiet and args.verbose:
        parser.error("-q (quiet) and -v (verbose) do not go together: choose one")
    err = _LazyConsole()
    from .errors import listen_warnings

    said: set[str] = set()

    def warning(message: str) -> None:
        if message in said:  # a record read twice in one command is damaged once
            return
        said.add(message)
        # one line, whatever its length: scripts and CI grep `warning:` lines
        err.print(f"warning: {message}", markup=False, style="yellow", soft_wrap=True)
    with listen_warnings(warning):
        return _run_command(args, err)


def _run_command(args: argparse.Namespace, err: _LazyConsole) -> int:
    """The command of `args`, with its errors turned into text and an exit code."""
    try:
        _enter_sandbox(args)
        if args.command == "check":  # its probes enter namespaces without opening the door
            from .errors import missing_capabilities
            if missing_capabilities():
                raise PermissionProblem(" and ".join(missing_capabilities()))
        return int(args.func(args))
    except TopologyError as exc:
        if getattr(args, "json", False):
            _emit_json({"error": "invalid topology", "issues": [i.as_dict() for i in exc.issues]})
        else:
            # one issue, one line: editors and CI parse file:line:col lines
            err.lines([f"error: {issue}" for issue in exc.issues], style="red")
            n = len(exc.issues)
            err.print(f"{n} problem{'' if n == 1 else 's'} found; nothing was changed.",
                      markup=False)
        return EXIT_ERROR
    except UnsupportedError as exc:
        if getattr(args, "json", False):
            _emit_json({"error": "this kernel lacks what the file uses", "messages": exc.lacks})
        else:
            for lack in exc.lacks:
                err.print(f"error: {lack}", markup=False, style="red", soft_wrap=True)
            err.print("nothing was changed.", markup=False)
        return EXIT_ERROR
    except ConflictError as exc:
        _report(args, err, "conflict with the live kernel; nothing was changed", exc,
                [str(i) for i in exc.issues])
        return EXIT_ERROR
    except PermissionProblem as exc:  # said before anything is read (api.open_kernel)
        _deny(args, err, exc.caps)
        return EXIT_ERROR
    except ApplyError as exc:
        _report(args, err, "apply failed", exc, [str(exc), *_errno_hint(exc.failed.errno)])
        return EXIT_ERROR
    except Interrupted as exc:
        return _interrupted(args, err, exc)
    except RollbackAbandoned as exc:
        err.print(f"rollback abandoned ({exc}): part of the apply "
                  "stays, its journal under /run/vnet is kept; `vnet apply FILE` again or "
                  "`vnet destroy NAME` finishes it", markup=False, soft_wrap=True)
        return 128 + exc.signum
    except KernelError as exc:
        _report(args, err, "error", exc, [str(exc), *_errno_hint(exc.errno)])
        return EXIT_ERROR
    except (LockError, VnetError) as exc:
        _report(args, err, "error", exc, [str(exc)])
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.print("interrupted by SIGINT", markup=False)
        return 130
    except Exception as exc:
        # the kernel's EPERM where the check above could not tell (root without the
        # capability, a namespace this user may not enter): one sentence, no traceback
        if not _denied(exc):
            raise
        from .errors import missing_capabilities
        _deny(args, err, " and ".join(missing_capabilities() or ["CAP_NET_ADMIN",
                                                                  "CAP_SYS_ADMIN"]))
        return EXIT_ERROR


#: commands that reach the kernel: in a sandbox, they start its holder when none lives
_KERNEL_COMMANDS = frozenset({"plan", "apply", "up", "destroy", "down", "show", "list",
                              "capture", "check", "exec", "kinds"})
#: commands that enter a sandbox that lives but never start one
_PEEKING_COMMANDS = frozenset({"__complete", "sandbox"})


def _enter_sandbox(args: argparse.Namespace) -> None:
    """Move this process into its sandbox (see sandbox.py) before the command runs, when it
    works in one and the command reaches the kernel. Runs before any thread exists."""
    command = args.command
    if command not in _KERNEL_COMMANDS and command not in _PEEKING_COMMANDS and \
            command != "draw":
        return  # `validate`, `schema`, `export`...: no kernel, no sandbox (nor its imports)
    from . import sandbox
    directory = sandbox.selected(getattr(args, "sandbox", False))
    if directory is None or sandbox.in_sandbox() == directory:
        return
    if command == "draw" and (os.path.exists(args.target)
                              or args.target.endswith((".yaml", ".yml"))):
        return  # a picture of a file
    if command in _KERNEL_COMMANDS or command == "draw":
        sandbox.enter(directory)
    elif command in _PEEKING_COMMANDS:
        sandbox.enter(directory, start=False)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from . import sandbox
    directory = sandbox.selected(True)
    assert directory is not None
    holder = sandbox.find_holder(directory) if sandbox.in_sandbox() == directory else None
    names: list[str] = []
    if holder is not None:
        from . import api
        names = [t.name for t in api.live_topologies()]
    if args.action == "stop":
        if holder is None:
            print(f"no sandbox is running in {directory}: nothing to stop")
            return EXIT_OK
        from . import api
        for name in names:
            api.destroy(name, wait=None)
        sandbox.stop(holder)
        print(f"sandbox in {directory} stopped (holder pid {holder.pid}); destroyed: "
              f"{', '.join(names) or 'nothing'}")
        return EXIT_OK
    if args.json:
        _emit_json({"directory": directory, "running": holder is not None,
                    "holder_pid": None if holder is None else holder.pid,
                    "user_namespace": None if holder is None else holder.user_ns,
                    "topologies": names})
    elif holder is None:
        print(f"sandbox: {directory}\nholder: not running (the next command that needs the "
              "kernel starts it)")
    else:
        print(f"sandbox: {directory}\nholder: pid {holder.pid}\n"
              f"topologies: {', '.join(names) or 'none'}")
    return EXIT_OK


#: commands that read or change the kernel's namespaces, and why they need root for it
_NEEDS_ROOT = {
    "plan": "reads the live namespaces and links to compare them with the file",
    "apply": "creates and changes namespaces and links", "up": "creates and changes "
    "namespaces and links", "destroy": "deletes the namespaces and links a topology owns",
    "down": "deletes the namespaces and links a topology owns",
    "show": "reads the links and addresses inside vnet's namespaces",
    "list": "reads every namespace to find vnet's topologies",
    "capture": "reads the live namespaces and links",
    "check": "sends its test packets from inside the topology's namespaces",
    "exec": "enters one of vnet's network namespaces",
    "link": "sets a link of a topology down or up",
    "run": "changes links while its checks send packets inside the namespaces",
    "kinds": "probes which kinds this kernel can create with throwaway links in a private "
             "network namespace",
    "draw": "reads the live topology from its namespaces",
}


def _denied(exc: BaseException) -> bool:
    """An error that is the kernel's (or a root-owned file's) refusal to this user."""
    import errno
    code = exc.errno if isinstance(exc, OSError) else getattr(exc, "code", None)
    return code in (errno.EPERM, errno.EACCES)


def _deny(args: argparse.Namespace, err: Any, caps: str) -> None:
    """The one sentence a command run without root ends with."""
    why = _NEEDS_ROOT.get(args.command, "reads or changes network namespaces")
    from .sandbox import in_sandbox
    if in_sandbox():
        sentence = (f"vnet {args.command} was refused by the kernel inside the sandbox: it "
                    f"needs {caps} over the host, which a user namespace does not give; run "
                    "it as root (without --sandbox) for this file.")
        if getattr(args, "json", False):
            _emit_json({"error": "permission denied", "messages": [sentence]})
        else:
            err.print(f"error: {sentence}", markup=False, style="red", soft_wrap=True)
        return
    sentence = (f"vnet {args.command} needs root ({caps}) because it {why}; run it as root, "
                "e.g. with sudo.")
    if getattr(args, "json", False):
        _emit_json({"error": "permission denied", "messages": [sentence]})
    else:
        err.print(f"error: {sentence}", markup=False, style="red", soft_wrap=True)


def _errno_hint(code: int | None) -> list[str]:
    """What a kernel's refusal most likely means, when its words alone do not say it."""
    import errno
    if code == errno.EOPNOTSUPP:
        return ["this kernel may lack a kind or feature the file uses: `vnet kinds` lists "
                "what it has"]
    from .sandbox import in_sandbox
    if code == errno.EACCES and in_sandbox() and not os.access("/dev/net/tun",
                                                                os.R_OK | os.W_OK):
        return ["inside the sandbox a tun or tap needs /dev/net/tun open to your user, and "
                "here it is not: ask the machine's admin to `chmod 0666 /dev/net/tun` (the "
                "kernel's own default), or run vnet as root for this file"]
    if code == errno.EPERM and in_sandbox():
        return ["the kernel said the operation is not permitted inside the sandbox: a user "
                "namespace does not give the capability this needs over the host (e.g. "
                "CAP_NET_ADMIN in the initial namespace); run vnet as root for this file"]
    if code == errno.EPERM:
        return ["the kernel said the operation is not permitted: vnet needs root "
                "(CAP_NET_ADMIN)"]
    return []


def _report(args: argparse.Namespace, err: Any, title: str, exc: Exception,
            lines: list[str]) -> None:
    if getattr(args, "json", False):
        payload: dict[str, Any] = {"error": title, "messages": lines}
        if isinstance(exc, ApplyError):
            payload.update(errno=exc.failed.errno, action=exc.failed.action,
                           undone=exc.undone, undo_failures=exc.undo_failures)
        _emit_json(payload)
        return
    err.print(f"{title}:", style="red bold", markup=False)
    for line in lines:
        err.print(f"  {line}", markup=False, soft_wrap=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
