#!/usr/bin/env python3
"""Read pytest junit XML files: summary lines, failures, and the kind x tier matrix.

    junit_report.py summary FILE              pytest-style summary line and the failures
    junit_report.py matrix [--kinds K,K...] TIER=FILE ...
                                              kind x tier table of passed/skipped/failed
    junit_report.py total FILE ...            "total: N passed, N failed, N skipped"

A test's kinds come from its `kind` properties (tests/live/conftest.py writes one per
`@pytest.mark.kind` name); a test without any is counted under "general".
With --kinds (the registered kinds; scripts/test-all.sh lists them from vnet.kinds), the
matrix has a row for each, tested or not, and fails (exit status 1) when one of them passed no
test in any tier that ran.
Standard library only: it runs before and after the venv exists, so it is told the kinds.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

GENERAL = "general"
OUTCOMES = ("passed", "skipped", "failed")
#: in the reason of a kernel-tier skip that a kind's may_skip allows (tests/live/conftest.py
#: adds it; tests/live/helpers.py's ALLOWED_SKIP_TAG is the same text)
ALLOWED_SKIP_TAG = "allowed in the kernel tier"


class ReportError(Exception):
    """A junit file is missing or unreadable."""


@dataclass(frozen=True)
class Case:
    """One test's outcome: passed, skipped or failed (an error counts as failed)."""

    name: str
    outcome: str
    errored: bool
    message: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Run:
    """The cases of one junit file and the time pytest reported for them."""

    cases: tuple[Case, ...]
    seconds: float

    def count(self, outcome: str) -> int:
        return sum(case.outcome == outcome for case in self.cases)


def _case(element: ET.Element) -> Case:
    name = f"{element.get('classname', '')}::{element.get('name', '')}"
    kinds = tuple(
        prop.get("value", "")
        for prop in element.iterfind("properties/property")
        if prop.get("name") == "kind"
    )
    for tag, outcome in (("error", "failed"), ("failure", "failed"), ("skipped", "skipped")):
        found = element.find(tag)
        if found is not None:
            message = found.get("message") or (found.text or "").strip()
            return Case(name, outcome, tag == "error", message, kinds)
    return Case(name, "passed", False, "", kinds)


def read_run(path: Path) -> Run:
    """Parse one junit XML file written by pytest; raises ReportError."""
    if not path.is_file():
        raise ReportError(f"{path}: results file missing")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise ReportError(f"{path}: not valid junit XML ({error})") from error
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    return Run(
        cases=tuple(_case(case) for suite in suites for case in suite.iter("testcase")),
        seconds=sum(float(suite.get("time", 0)) for suite in suites),
    )


def summary_line(run: Run) -> str:
    """The line pytest would close with, e.g. "1 failed, 12 passed, 3 skipped in 40.10s"."""
    errors = sum(case.errored for case in run.cases)
    parts = [
        (run.count("failed") - errors, "failed"),
        (run.count("passed"), "passed"),
        (run.count("skipped"), "skipped"),
        (errors, "error" if errors == 1 else "errors"),
    ]
    counted = ", ".join(f"{n} {word}" for n, word in parts if n)
    return f"{counted or 'no tests ran'} in {run.seconds:.2f}s"


def failure_lines(run: Run) -> list[str]:
    """One block per failed or errored test: its name and the message pytest recorded."""
    lines = []
    for case in run.cases:
        if case.outcome == "failed":
            label = "ERROR" if case.errored else "FAILED"
            first, *rest = case.message.splitlines() or [""]
            lines.append(f"{label} {case.name} - {first}")
            lines += [f"    {line}" for line in rest[:20]]
    return lines


def unallowed_skips(run: Run) -> list[Case]:
    """The skipped cases whose reason lacks ALLOWED_SKIP_TAG: in the kernel tier, skips that
    no kind's may_skip allows (conftest makes those failures; one that got past it is none)."""
    return [case for case in run.cases
            if case.outcome == "skipped" and ALLOWED_SKIP_TAG not in case.message]


def _counts(runs: dict[str, Run | None]) -> dict[tuple[str, str], Counter[str]]:
    """(kind, tier) -> outcome counts."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    for tier, run in runs.items():
        for case in run.cases if run else ():
            for kind in case.kinds or (GENERAL,):
                counts.setdefault((kind, tier), Counter())[case.outcome] += 1
    return counts


def matrix_lines(runs: dict[str, Run | None], registered: Sequence[str] = ()) -> list[str]:
    """kind x tier table of passed/skipped/failed counts; a tier that did not run shows '-'.

    The `registered` kinds come first, in their order, each with a row even without tests;
    then other kinds the tests name (e.g. netns), then "general"."""
    counts = _counts(runs)
    if not counts and not registered:
        return ["(no test results to tabulate)"]
    named = {kind for kind, _ in counts}
    kinds = [*registered, *sorted(named - {GENERAL} - set(registered))]
    if GENERAL in named:
        kinds.append(GENERAL)
    width = max([len("kind"), *map(len, kinds)])
    cell = len(" ".join(OUTCOMES))
    lines = [
        " | ".join([" " * width, *(f"{tier:^{cell}}" for tier in runs)]),
        " | ".join([f"{'kind':<{width}}", *(" ".join(OUTCOMES) for _ in runs)]),
    ]
    lines.append("-" * len(lines[1]))
    for kind in kinds:
        row = [f"{kind:<{width}}"]
        for tier, run in runs.items():
            tally = counts.get((kind, tier), Counter())
            row.append(" ".join(f"{tally[word] if run else '-':>{len(word)}}" for word in OUTCOMES))
        lines.append(" | ".join(row))
    return [line.rstrip() for line in lines]


def untested_kinds(runs: dict[str, Run | None], registered: Sequence[str]) -> list[str]:
    """The registered kinds that passed no test in any tier that ran (a tier whose results
    are None did not run)."""
    passed = {
        kind
        for run in runs.values() if run is not None
        for case in run.cases if case.outcome == "passed"
        for kind in case.kinds
    }  # fmt: skip
    return [kind for kind in registered if kind not in passed]


def kind_verdict(runs: dict[str, Run | None], registered: Sequence[str]) -> tuple[bool, list[str]]:
    """(ok, lines): every registered kind passed a test in some tier that ran, or which did
    not, with what each tier recorded for it."""
    ran = [tier for tier, run in runs.items() if run is not None]
    where = ", ".join(ran) or "none"
    missing = untested_kinds(runs, registered)
    if not missing:
        return True, [f"kinds: all {len(registered)} registered kinds passed a test in a tier "
                      f"that ran ({where})"]
    counts = _counts(runs)
    lines = [
        f"FAILED: {len(missing)} of {len(registered)} registered kinds passed no test in any "
        f"tier that ran ({where}): {', '.join(missing)}",
    ]
    for kind in missing:
        parts = []
        for tier, run in runs.items():
            if run is None:
                parts.append(f"{tier}: no results")
                continue
            tally = counts.get((kind, tier), Counter())
            seen = ", ".join(f"{tally[word]} {word}" for word in OUTCOMES if tally[word])
            parts.append(f"{tier}: {seen or 'no test'}")
        lines.append(f"  {kind}: {'; '.join(parts)}")
    lines.append(
        "  every kind needs a passing live test (@pytest.mark.kind) in the live or kernel tier; "
        "a skip or a tier that did not run proves nothing"
    )
    return False, lines


def total_line(runs: list[Run]) -> str:
    """A plain closing line over several runs: "total: N passed, N failed, N skipped"."""
    count = {word: sum(run.count(word) for run in runs) for word in OUTCOMES}
    return f"total: {count['passed']} passed, {count['failed']} failed, {count['skipped']} skipped"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("summary").add_argument("file", type=Path)
    matrix = commands.add_parser("matrix")
    matrix.add_argument("tiers", nargs="+", metavar="TIER=FILE")
    matrix.add_argument(
        "--kinds", default="", metavar="K,K...",
        help="the registered kinds, comma-separated: a row each, and each must pass a test",
    )  # fmt: skip
    commands.add_parser("total").add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "summary":
            run = read_run(args.file)
            print("\n".join([*failure_lines(run), summary_line(run)]))
            return 0 if run.cases and not run.count("failed") else 1
        if args.command == "matrix":
            runs: dict[str, Run | None] = {}
            for spec in args.tiers:
                tier, _, file = spec.partition("=")
                runs[tier] = read_run(Path(file)) if Path(file).is_file() else None
            registered = [kind for kind in args.kinds.split(",") if kind]
            print("\n".join(matrix_lines(runs, registered)))
            if not registered:
                return 0
            ok, lines = kind_verdict(runs, registered)
            print("\n".join(lines))
            return 0 if ok else 1
        print(total_line([read_run(path) for path in args.files if path.is_file()]))
        return 0
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
