"""How the tiers judge their results: the kernel tier's rule for skips
(tests/live/helpers.py: kernel_tier_skip), the probe commands the live tests derive from the
kind classes, and the results matrix's verdict on kinds (scripts/junit_report.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from vnet import kinds
from vnet.kinds.base import PROBE_NAME

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    """A module by its path (scripts/ and tests/live/ are not packages on sys.path here)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


helpers = _load("vnet_live_helpers", ROOT / "tests" / "live" / "helpers.py")
report = _load("vnet_junit_report", ROOT / "scripts" / "junit_report.py")
MAY_SKIP = {name: cls.may_skip for name, cls in kinds.registry().items()}


# ---- the kernel tier's skip rule -------------------------------------------------------------
def test_a_skip_of_kinds_that_all_declare_may_skip_stands_and_says_why() -> None:
    stands, text = helpers.kernel_tier_skip(["ipoib"], MAY_SKIP, "kernel lacks ipoib: no IB")
    assert stands
    assert text.startswith("kernel lacks ipoib: no IB")
    assert f"ipoib may skip: {MAY_SKIP['ipoib']}" in text
    assert helpers.ALLOWED_SKIP_TAG in text


@pytest.mark.parametrize("marked", [["bond"], ["ipoib", "veth"], ["netns"], []])
def test_any_other_skip_fails_naming_the_kinds_and_the_reason(marked: list[str]) -> None:
    stands, text = helpers.kernel_tier_skip(marked, MAY_SKIP, "kernel lacks bond: EOPNOTSUPP")
    assert not stands
    assert "kernel lacks bond: EOPNOTSUPP" in text
    assert helpers.ALLOWED_SKIP_TAG not in text
    for kind in marked:
        assert f"{kind} (declares {'' if MAY_SKIP.get(kind) else 'no '}may_skip)" in text
    if not marked:
        assert "unmarked test" in text


def test_the_rule_reads_may_skip_and_nothing_else() -> None:
    invented = {"bond": "a test-only reason"}
    assert helpers.kernel_tier_skip(["bond"], invented, "why")[0]
    assert not helpers.kernel_tier_skip(["bond"], {"bond": ""}, "why")[0]


def test_the_allowed_skip_tag_is_spelled_the_same_on_both_sides() -> None:
    assert helpers.ALLOWED_SKIP_TAG == report.ALLOWED_SKIP_TAG


# ---- probes and modules, from the kind classes ---------------------------------------------
@pytest.mark.parametrize("cls", kinds.ordered(), ids=lambda cls: cls.kind_name)
def test_each_kind_has_ip_commands_to_probe_it(cls: type) -> None:
    create, delete = helpers.probe_commands(cls.kind_name)
    assert create and all(cmd[0] == "ip" and cmd[2] == "add" for cmd in create), create
    assert PROBE_NAME in create[0] and PROBE_NAME in delete
    assert delete[:1] == ["ip"] and delete[2] == "del", delete


def test_probe_commands_follow_the_kind_classes() -> None:
    # a stacked kind on the probe parent, with its probe arguments
    assert helpers.probe_commands("vlan") == (
        [["ip", "link", "add", "link", "vnetprobep0", "name", PROBE_NAME, "type", "vlan",
          "id", "2"]],
        ["ip", "link", "del", PROBE_NAME])
    # a pair
    assert helpers.probe_commands("veth")[0] == [
        ["ip", "link", "add", PROBE_NAME, "type", "veth", "peer", "name", "vnetprobe1"]]
    # not rtnetlink: ip tuntap, undone by ip tuntap del
    assert helpers.probe_commands("tap") == (
        [["ip", "tuntap", "add", "dev", PROBE_NAME, "mode", "tap"]],
        ["ip", "tuntap", "del", "dev", PROBE_NAME, "mode", "tap"])
    # made by a program (teamd): the kernel driver is asked directly
    assert helpers.probe_commands("team")[0] == [
        ["ip", "link", "add", PROBE_NAME, "type", "team"]]


def test_module_options_come_from_the_kind_classes() -> None:
    options = helpers.module_options()
    for cls in kinds.ordered():
        for module, *opts in cls.kernel_modules():
            assert options.get(module, []) == opts
    assert options["bonding"] == ["max_bonds=0"]  # else loading it makes bond0


# ---- the results matrix ----------------------------------------------------------------------
def _case(outcome: str, *kinds_: str, message: str = "") -> object:
    return report.Case(f"t::{outcome}-{'-'.join(kinds_)}", outcome, False, message, kinds_)


def _run(*cases: object) -> object:
    return report.Run(cases=tuple(cases), seconds=1.0)


REGISTERED = ["bridge", "bond", "ipoib"]


def test_the_matrix_has_a_row_for_every_registered_kind_even_untested() -> None:
    runs = {"live": _run(_case("passed", "bridge", "netns"), _case("passed")), "kernel": None}
    lines = report.matrix_lines(runs, REGISTERED)
    rows = [line.split("|")[0].strip() for line in lines[3:]]
    assert rows == ["bridge", "bond", "ipoib", "netns", "general"]
    bond = next(line for line in lines if line.startswith("bond"))
    assert bond.split("|")[1].split() == ["0", "0", "0"]
    assert bond.split("|")[2].split() == ["-", "-", "-"]


def test_every_kind_passing_in_some_tier_is_a_pass() -> None:
    runs = {
        "live": _run(_case("passed", "bridge"), _case("skipped", "bond"),
                     _case("passed", "ipoib")),
        "kernel": _run(_case("passed", "bond"), _case("skipped", "ipoib")),
    }
    ok, lines = report.kind_verdict(runs, REGISTERED)
    assert ok and "all 3 registered kinds" in lines[0]


def test_a_kind_that_only_skipped_fails_the_matrix() -> None:
    # the case that once passed: every bond test skipped in the kernel tier
    runs = {
        "live": _run(_case("passed", "bridge"), _case("skipped", "bond"),
                     _case("passed", "ipoib")),
        "kernel": _run(_case("skipped", "bond"), _case("skipped", "bond", "bridge"),
                       _case("failed", "bond")),
    }
    ok, lines = report.kind_verdict(runs, REGISTERED)
    assert not ok
    assert lines[0].startswith("FAILED: 1 of 3 registered kinds passed no test")
    assert lines[0].endswith(": bond")
    assert "  bond: live: 1 skipped; kernel: 2 skipped, 1 failed" in lines


def test_a_tier_without_results_proves_nothing() -> None:
    runs = {"live": _run(_case("passed", "bridge"), _case("passed", "ipoib")), "kernel": None}
    ok, lines = report.kind_verdict(runs, REGISTERED)
    assert not ok
    assert "  bond: live: no test; kernel: no results" in lines


def _xml(path: Path, cases: str) -> str:
    path.write_text(f'<testsuites><testsuite time="1.0">{cases}</testsuite></testsuites>')
    return str(path)


def _junit_case(name: str, kind: str, outcome: str = "") -> str:
    return (f'<testcase classname="t" name="{name}"><properties>'
            f'<property name="kind" value="{kind}"/></properties>{outcome}</testcase>')


def test_the_matrix_command_exits_non_zero_for_an_untested_kind(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    skipped = '<skipped type="pytest.skip" message="kernel lacks bond"/>'
    live = _xml(tmp_path / "live.xml",
                _junit_case("a", "bridge") + _junit_case("b", "bond", skipped)
                + _junit_case("c", "ipoib"))
    kernel = _xml(tmp_path / "kernel.xml", _junit_case("d", "bond", skipped))
    args = ["matrix", "--kinds", ",".join(REGISTERED), f"live={live}", f"kernel={kernel}"]
    assert report.main(args) == 1
    out = capsys.readouterr().out
    assert "FAILED: 1 of 3 registered kinds passed no test in any tier that ran" in out
    # without --kinds: the table alone, as before
    assert report.main(["matrix", f"live={live}", f"kernel={kernel}"]) == 0
    kernel = _xml(tmp_path / "kernel.xml", _junit_case("d", "bond"))
    assert report.main(args) == 0


def test_skips_without_the_allowed_tag_are_listed_for_the_kernel_tier() -> None:
    allowed = _case("skipped", "ipoib", message=f"no IB [{report.ALLOWED_SKIP_TAG}: ipoib ...]")
    bare = _case("skipped", "bond", message="kernel lacks bond")
    assert report.unallowed_skips(_run(allowed, bare, _case("passed", "bond"))) == [bare]
