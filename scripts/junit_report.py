#!/usr/bin/env python3
"""Read pytest junit XML files: summary lines, failures, and the kind x tier matrix.

    junit_report.py summary FILE              pytest-style summary line and the failures
    junit_report.py matrix TIER=FILE ...      kind x tier table of passed/skipped/failed
    junit_report.py total FILE ...            "total: N passed, N failed, N skipped"

A test's kinds come from its `kind` properties (tests/live/conftest.py writes one per
`@pytest.mark.kind` name); a test without any is counted under "general".
Standard library only: it runs before and after the venv exists.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

GENERAL = "general"
OUTCOMES = ("passed", "skipped", "failed")


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


def matrix_lines(runs: dict[str, Run | None]) -> list[str]:
    """kind x tier table of passed/skipped/failed counts; a tier that did not run shows '-'."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    for tier, run in runs.items():
        for case in run.cases if run else ():
            for kind in case.kinds or (GENERAL,):
                counts.setdefault((kind, tier), Counter())[case.outcome] += 1
    if not counts:
        return ["(no test results to tabulate)"]
    kinds = sorted({kind for kind, _ in counts} - {GENERAL})
    if any(kind == GENERAL for kind, _ in counts):
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


def total_line(runs: list[Run]) -> str:
    """A plain closing line over several runs: "total: N passed, N failed, N skipped"."""
    count = {word: sum(run.count(word) for run in runs) for word in OUTCOMES}
    return f"total: {count['passed']} passed, {count['failed']} failed, {count['skipped']} skipped"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("summary").add_argument("file", type=Path)
    commands.add_parser("matrix").add_argument("tiers", nargs="+", metavar="TIER=FILE")
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
            print("\n".join(matrix_lines(runs)))
            return 0
        print(total_line([read_run(path) for path in args.files if path.is_file()]))
        return 0
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
