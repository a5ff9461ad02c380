"""Live-tier isolation: every test here runs in a forked child, in its own namespaces.

- `pytest_runtest_protocol` forks for each test; the child runs the test's setup, body and
  teardown, and sends the reports back through pytest's own report serialization (as
  pytest-xdist does). `pytest_runtest_setup` moves the child into a private network and mount
  namespace (helpers.enter_sandbox) before any fixture runs. When the child exits, processes
  the test left behind are killed and its namespaces go with it.
- Before the first fork the pytest process imports every module vnet imports and loads
  the examples (helpers.warm_up), so the children inherit them: in the kernel tier's VM a
  child importing pyroute2 and vnet's loader itself took 20-35 s.
- A kind that one test proved this kernel can create (helpers.require_kind) is not probed
  again by later tests of the same pytest process (a file per kind in a temporary directory).
- Under pytest-xdist (`-n N`) each worker is a pytest process doing all of the above for its
  tests; the controller only collects their reports, the tests the workers deselected as
  live_tier_only (for the summary), and compares the host's network before and after.
- A test that is not root, or not in a forked child, fails: it must never fall back to the
  machine's own namespaces, and a skipped tier is not a pass.
- After the session the links and named namespaces the pytest process sees are compared
  with those before it; any difference fails the run.
- `@pytest.mark.kind("bridge", ...)` names the kinds a test exercises; they are written to
  the junit XML as `kind` properties, from which scripts/junit_report.py builds the matrix.
- In the kernel tier (VNET_TEST_TIER=kernel, set by scripts/vm_tier.py in the VM) a skip is a
  failure unless every kind the test names declares `may_skip` (helpers.kernel_tier_skip):
  the distribution kernel has every other kind, so a skip there hides an untested kind. The
  rule is applied to the reports the forked child sends back, before pytest (and its junit
  XML) sees them.
"""

from __future__ import annotations

import ctypes
import marshal
import os
import shutil
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import pytest
from _pytest.runner import runtestprotocol

from .helpers import (
    FAILURE_NOTES,
    PROVEN_ENV,
    describe_changes,
    enter_sandbox,
    kernel_tier,
    kernel_tier_skip,
    network_snapshot,
    warm_up,
)

LIVE_DIR = Path(__file__).parent
_MAIN_PID = pytest.StashKey[int]()
_BEFORE = pytest.StashKey[dict[str, list[str]]]()
_CHANGES = pytest.StashKey[list[str]]()
PR_SET_CHILD_SUBREAPER = 36


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "kind(name, ...): interface kinds the live test exercises (results matrix rows)",
    )
    config.addinivalue_line(
        "markers",
        "live_tier_only(why): run on this machine's kernel only, not in the kernel tier's VM "
        "(the test proves kernel-independent code with kinds this kernel has, and costs "
        "minutes under TCG); deselected there, and said so in the summary",
    )
    config.addinivalue_line(
        "markers",
        "runs_first(why): a test that takes minutes (Ansible plays under TCG): collected "
        "first, so pytest-xdist's workers start it early and share out the rest meanwhile "
        "instead of waiting for it at the end",
    )
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(
        path + [d for d in ("/usr/sbin", "/sbin") if d not in path]
    )
    config.stash[_MAIN_PID] = os.getpid()
    config.stash[_BEFORE] = network_snapshot()
    if not _xdist_controller(config):
        warm_up()  # once here, not once per forked test
        os.environ[PROVEN_ENV] = tempfile.mkdtemp(prefix="vnet-proven-kinds-")


def pytest_unconfigure(config: pytest.Config) -> None:
    proven = os.environ.pop(PROVEN_ENV, None)
    if proven and os.getpid() == config.stash.get(_MAIN_PID, None):
        shutil.rmtree(proven, ignore_errors=True)


def _xdist_controller(config: pytest.Config) -> bool:
    """Whether this process only hands tests to pytest-xdist workers (`-n N`, N > 0): it runs
    none itself, so it needs no warm imports; each worker (`workerinput`) is a pytest
    process of its own and forks its tests as a plain run does."""
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(
        config, "workerinput"
    )


def _kinds(item: pytest.Item) -> list[str]:
    kinds: list[str] = []
    for marker in item.iter_markers("kind"):
        if not marker.args or not all(isinstance(a, str) and a for a in marker.args):
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.kind needs kind names, e.g. kind('bond')"
            )
        kinds += [kind for kind in marker.args if kind not in kinds]
    return kinds


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if LIVE_DIR not in item.path.parents:
            continue
        item.user_properties += [("kind", kind) for kind in _kinds(item)]
    if kernel_tier():
        only_here = [i for i in items if i.get_closest_marker("live_tier_only")]
        if only_here:
            config.hook.pytest_deselected(items=only_here)
            items[:] = [i for i in items if i not in only_here]
            _LIVE_TIER_ONLY.extend(
                f"{i.nodeid}: {i.get_closest_marker('live_tier_only').args[0]}"  # type: ignore[union-attr]
                for i in only_here)
    # the long ones first (a stable sort: the same order in every xdist worker, as it must be)
    items.sort(key=lambda i: i.get_closest_marker("runs_first") is None)


#: the tests the kernel tier deselected (live_tier_only), for its summary
_LIVE_TIER_ONLY: list[str] = []


def _children() -> list[int]:
    me = os.getpid()
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
        # Field 4 is the parent pid; the command name before it may hold spaces.
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            found.append(int(entry))
    return found


def _kill_leftovers() -> None:
    """Kill and reap what the test left running (orphans re-parent to this subreaper)."""
    while children := _children():
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _run_in_child(item: pytest.Item, results: int) -> None:
    """The forked child: run the test's phases, write the serialized reports, never return."""
    with os.fdopen(results, "wb") as out:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
            reports = runtestprotocol(item, log=False, nextitem=None)
            _kill_leftovers()
            hook = item.config.hook
            serialized = [
                hook.pytest_report_to_serializable(config=item.config, report=report)
                for report in reports
            ]
            # marshal, not JSON: it keeps the tuples reports carry (a skip's location).
            marshal.dump({"reports": serialized}, out)
        except BaseException:  # noqa: BLE001 - nothing may escape a forked child
            marshal.dump({"crash": traceback.format_exc()}, out)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _crash_reports(item: pytest.Item, why: str) -> list[pytest.TestReport]:
    common: dict[str, Any] = {
        "nodeid": item.nodeid,
        "location": item.location,
        "keywords": dict.fromkeys(item.keywords, 1),
        "user_properties": item.user_properties,
    }
    return [
        pytest.TestReport(outcome="failed", longrepr=why, when="call", **common),
        pytest.TestReport(outcome="passed", longrepr=None, when="teardown", **common),
    ]


def _run_forked(item: pytest.Item) -> list[pytest.TestReport]:
    with tempfile.TemporaryFile() as results:
        pid = os.fork()
        if pid == 0:
            _run_in_child(item, os.dup(results.fileno()))
        _, status = os.waitpid(pid, 0)
        results.seek(0)
        data = results.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or not data:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        return _crash_reports(item, f"the forked process running this test {how}")
    outcome = marshal.loads(data)
    if "crash" in outcome:
        return _crash_reports(item, f"the forked test process crashed:\n{outcome['crash']}")
    hook = item.config.hook
    return [
        hook.pytest_report_from_serializable(config=item.config, data=report)
        for report in outcome["reports"]
    ]


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return str(reason).removeprefix("Skipped: ")


def _kernel_tier_policy(item: pytest.Item, report: pytest.TestReport) -> pytest.TestReport:
    """In the kernel tier, a skip fails unless the test's kinds all declare may_skip; one
    that stands says why it may (see helpers.kernel_tier_skip)."""
    if not kernel_tier() or not report.skipped or hasattr(report, "wasxfail"):
        return report
    from vnet.kinds import registry

    may_skip = {name: cls.may_skip for name, cls in registry().items()}
    stands, text = kernel_tier_skip(_kinds(item), may_skip, _skip_reason(report))
    if stands:
        if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
            path, lineno, _ = report.longrepr
            report.longrepr = (path, lineno, f"Skipped: {text}")
        return report
    report.outcome = "failed"
    report.longrepr = text
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if LIVE_DIR not in item.path.parents:
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in _run_forked(item):
        item.ihook.pytest_runtest_logreport(report=_kernel_tier_policy(item, report))
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failing phase's report carries what the test's fixtures asked to show then
    (helpers.note_on_failure): read in the forked child, while what it names still exists."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for title, text in item.stash.get(FAILURE_NOTES, []):
            try:
                report.sections.append((title, text()))
            except Exception as error:  # noqa: BLE001 - a note must not hide the failure
                report.sections.append((title, f"(could not be read: {error})"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if os.geteuid() != 0:
        pytest.fail(
            "live tests need root (they create interfaces in a private network namespace); "
            "run them as root: scripts/test-all.sh --tier live",
            pytrace=False,
        )
    if os.getpid() == item.config.stash[_MAIN_PID]:
        pytest.fail(
            "live test is not in a forked child (another plugin ran it?): "
            "refusing to run it in the machine's own namespaces",
            pytrace=False,
        )
    enter_sandbox()


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if os.getpid() != config.stash[_MAIN_PID]:
        return
    if hasattr(config, "workeroutput"):  # an xdist worker: its controller prints the summary
        config.workeroutput["live_tier_only"] = _LIVE_TIER_ONLY
    changes = describe_changes(config.stash[_BEFORE], network_snapshot())
    if changes:
        config.stash[_CHANGES] = changes
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """In xdist's controller: take the tests a worker deselected as live_tier_only (each
    worker collects, and deselects, the whole suite; the controller collects nothing)."""
    for line in getattr(node, "workeroutput", {}).get("live_tier_only", []):
        if line not in _LIVE_TIER_ONLY:
            _LIVE_TIER_ONLY.append(line)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if _LIVE_TIER_ONLY:
        terminalreporter.section("run in the live tier only (deselected in this VM)")
        for line in _LIVE_TIER_ONLY:
            terminalreporter.write_line(f"  {line}")
    changes = config.stash.get(_CHANGES, [])
    if changes:
        terminalreporter.section(
            "HOST NETWORK CHANGED by the live tests", sep="!", red=True, bold=True
        )
        for change in changes:
            terminalreporter.write_line(f"  {change}", red=True)
