"""The `vnet` command: the only place that parses argv, prints, and picks exit codes.

Exit codes: 0 ok (plan: no changes), 1 error, 2 (plan) changes pending.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
from collections.abc import Sequence

from .errors import (
    ApplyError,
    ConflictError,
    KernelError,
    LockError,
    TopologyError,
    VnetError,
)

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


def _emit_json(data: Any) -> None:
    import json
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def _load(path: str) -> Any:
    from .loader import load_file
    return load_file(path)


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


def _print_plan(plan: Any, done: bool = False) -> None:
    # Plain writes, not rich: a large plan has tens of thousands of lines, and rich's per-line
    # rendering would cost more than the kernel's work. Colour only on a terminal.
    from .render.plan_text import ANSI_COLOURS, plan_lines, plan_summary
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    lines = [f"\x1b[{ANSI_COLOURS[verb]}m{line}\x1b[0m" if colour else line
             for verb, line in plan_lines(plan)]
    summary = plan_summary(plan)
    if done and plan.has_changes:
        summary = summary.replace("Plan for", "Applied to").replace(" to ", " ")
    lines.append(summary)
    sys.stdout.write("\n".join(lines) + "\n")


def cmd_plan(args: argparse.Namespace) -> int:
    from . import api
    topo = _load(args.file)
    plan = api.plan(topo)
    if args.json:
        _emit_json(plan.as_dict())
    else:
        _print_plan(plan)
    return EXIT_CHANGES if plan.has_changes else EXIT_OK


def _progress() -> Any:
    if not sys.stderr.isatty():
        return None
    import time
    con = _console(stderr=True)
    shown = [0.0]

    def report(action: Any, i: int, total: int) -> None:
        now = time.monotonic()
        if now - shown[0] < 0.1 and i + 1 < total:
            return  # a terminal cannot show thousands of lines a second; ten updates do
        shown[0] = now
        con.print(f"[{i + 1}/{total}] {action.verb} {action.subject}", markup=False,
                  style="dim", end="\r")
    return report


def cmd_apply(args: argparse.Namespace) -> int:
    from . import api
    topo = _load(args.file)
    plan = api.apply(topo, progress=None if args.json else _progress())
    if not args.check:
        if args.json:
            _emit_json({**plan.as_dict(), "applied": True})
        else:
            _print_plan(plan, done=True)
        return EXIT_OK
    results = api.check(topo)
    if args.json:
        _emit_json({**plan.as_dict(), "applied": True,
                    "checks": [r.as_dict() for r in results]})
    else:
        _print_plan(plan, done=True)
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


def cmd_destroy(args: argparse.Namespace) -> int:
    from . import api
    name = args.target
    if os.path.exists(name) or name.endswith((".yaml", ".yml")):
        name = _load(name).name
    plan = api.destroy(name, progress=None if args.json else _progress())
    if args.json:
        _emit_json({**plan.as_dict(), "destroyed": True})
    elif plan.has_changes:
        _print_plan(plan, done=True)
    else:
        print(f"{name}: nothing to destroy; vnet owns nothing of that name here.")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from . import api
    name = args.name
    if name and (os.path.exists(name) or name.endswith((".yaml", ".yml"))):
        name = _load(name).name
    rows = api.show(name)
    if args.json:
        _emit_json({"topology": name, "interfaces": [asdict(r) for r in rows]})
        return EXIT_OK
    if not rows:
        print(f"nothing live for {name!r}" if name else "no vnet topology is live here")
        return EXIT_OK
    from rich.table import Table
    table = Table(title=f"vnet: {name}" if name else "vnet: all topologies")
    for col in ("netns", "interface", "kind", "state", "master", "addresses", "mtu",
                "rx pkts", "tx pkts", *([] if name else ["topology"])):
        table.add_column(col, justify="right" if col in ("mtu", "rx pkts", "tx pkts") else "left")
    for r in rows:
        table.add_row(r.netns or "-", r.name + ("" if r.owned else " (external)"),
                      r.kind or "-", r.state, r.master or "-", "\n".join(r.addresses) or "-",
                      str(r.mtu), str(r.rx_packets), str(r.tx_packets),
                      *([] if name else [r.topology or "-"]))
    _console().print(table)
    return EXIT_OK


def cmd_kinds(args: argparse.Namespace) -> int:
    from .kinds_probe import kind_dicts, kind_table
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
    _console().print(out)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from .model import json_schema_text
    print(json_schema_text())
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


def build_parser() -> argparse.ArgumentParser:
    _cache_argparse_translations()
    p = argparse.ArgumentParser(prog="vnet", description="One YAML file → Linux virtual "
                                "networks: validate, plan, apply, show, destroy.")
    # not required=True: argparse would then answer `vnet --bogus` with "COMMAND is
    # required" instead of naming the option it does not know (_main asks for the command)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Any, help_: str, aliases: Sequence[str] = ()) -> Any:
        sp = sub.add_parser(name, help=help_, aliases=list(aliases), description=help_)
        sp.set_defaults(func=func)
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        return sp

    add("validate", cmd_validate, "check a topology file; errors name file:line:col") \
        .add_argument("file")
    add("plan", cmd_plan, "show what apply would change (exit 0: nothing, 2: changes)") \
        .add_argument("file")
    sp = add("apply", cmd_apply, "make the kernel match the file, all or nothing",
             aliases=["up"])
    sp.add_argument("file")
    sp.add_argument("--check", action="store_true",
                    help="run the file's checks after applying (exit 1 if one fails)")
    add("check", cmd_check, "prove the file's checks with real packets (exit 1 on a failure)") \
        .add_argument("file")
    sp = sub.add_parser("exec", help="run a command inside one of vnet's namespaces",
                        description="run a command inside one of vnet's namespaces (like "
                        "`ip netns exec`); its exit status is vnet's")
    sp.set_defaults(func=cmd_exec, json=False)
    sp.add_argument("netns", metavar="NAMESPACE")
    sp.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    add("destroy", cmd_destroy, "remove everything a topology owns",
        aliases=["down"]).add_argument("target", metavar="FILE|NAME")
    add("show", cmd_show, "live table of a topology's interfaces") \
        .add_argument("name", nargs="?", metavar="NAME|FILE")
    add("kinds", cmd_kinds, "every interface kind: implemented, available on this kernel") \
        .add_argument("--refresh", action="store_true", help="probe again, ignore the cache")
    add("schema", cmd_schema, "print the JSON Schema of the topology file")
    p.set_defaults(command_names=sorted(sub.choices))
    return p


def run() -> None:
    """The `vnet` command (console script, `python -m vnet`): `main`, then a quick exit.

    At exit Python frees every object one by one, which after loading and planning a large
    file is a visible share of a no-op `apply`. The memory goes back to the system anyway,
    so the command runs the exit handlers, flushes its output and leaves without that
    teardown. (`main` itself returns normally: tests and callers use it.)"""
    try:
        code = main()
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


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error(f"which command? one of: {', '.join(args.command_names)}")
    err = _LazyConsole()
    try:
        return int(args.func(args))
    except TopologyError as exc:
        if getattr(args, "json", False):
            _emit_json({"error": "invalid topology", "issues": [i.as_dict() for i in exc.issues]})
        else:
            for issue in exc.issues:
                # one issue, one line (soft_wrap): editors and CI parse file:line:col lines
                err.print(f"error: {issue}", markup=False, style="red", soft_wrap=True)
            err.print(f"{len(exc.issues)} problem(s) found; nothing was changed.", markup=False)
        return EXIT_ERROR
    except ConflictError as exc:
        _report(args, err, "conflict with the live kernel; nothing was changed", exc,
                [str(i) for i in exc.issues])
        return EXIT_ERROR
    except ApplyError as exc:
        _report(args, err, "apply failed", exc, [str(exc)])
        return EXIT_ERROR
    except (KernelError, LockError, VnetError) as exc:
        _report(args, err, "error", exc, [str(exc)])
        return EXIT_ERROR
    except PermissionError as exc:
        _report(args, err, "permission denied", exc,
                [f"{exc}; vnet needs root (CAP_NET_ADMIN) to read or change namespaces"])
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


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
