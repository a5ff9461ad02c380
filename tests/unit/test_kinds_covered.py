"""Every registered kind is covered everywhere the test suite looks at kinds: an example file
declares one, a unit test file (tests/unit/test_kind_*.py) names it, a live test marks it with
@pytest.mark.kind, and its class declares a probe link that validates and the modules that
provide it. A new kind file without these fails here, not silently in a results matrix."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from vnet import kinds
from vnet.kinds.base import PROBE_NAME, PROBE_PARENT, InterfaceBase

ROOT = Path(__file__).resolve().parents[2]
KINDS = kinds.ordered()


def _kind_id(cls: type[InterfaceBase]) -> str:
    return cls.kind_name


def _example_kinds() -> dict[str, list[str]]:
    """kind -> the examples/*.yaml files that declare an interface of it."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        for iface in data.get("interfaces") or []:
            if isinstance(iface, dict) and iface.get("kind"):
                found.setdefault(str(iface["kind"]), []).append(path.name)
    return found


def _live_marked_kinds() -> set[str]:
    """Kinds named as string literals in `pytest.mark.kind(...)` in tests/live/test_*.py (a
    mark computed at collection, like test_sandbox's one per registered kind, does not count:
    each kind needs a test written for it)."""
    named: set[str] = set()
    for path in (ROOT / "tests" / "live").glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "kind" and isinstance(node.func.value, ast.Attribute)
                    and node.func.value.attr == "mark"):
                named |= {arg.value for arg in node.args
                          if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    return named


EXAMPLES = _example_kinds()
LIVE_MARKED = _live_marked_kinds()
UNIT_FILES = {path.name: path.read_text()
              for path in sorted((ROOT / "tests" / "unit").glob("test_kind_*.py"))}


def test_there_are_kinds() -> None:
    assert len(KINDS) >= 19


@pytest.mark.parametrize("cls", KINDS, ids=_kind_id)
def test_an_example_declares_it(cls: type[InterfaceBase]) -> None:
    assert cls.kind_name in EXAMPLES, (
        f"no examples/*.yaml declares an interface of kind {cls.kind_name!r}: add one (the live "
        "tier applies every example, and runs its checks)")


@pytest.mark.parametrize("cls", KINDS, ids=_kind_id)
def test_a_unit_test_file_names_it(cls: type[InterfaceBase]) -> None:
    # "bridge" or 'bridge' quoted, or the class (Bridge) named, in some test_kind_*.py
    quoted = re.compile(rf"""["']{re.escape(cls.kind_name)}["']|\b{cls.__name__}\b""")
    files = [name for name, text in UNIT_FILES.items() if quoted.search(text)]
    assert files, (
        f"no tests/unit/test_kind_*.py names kind {cls.kind_name!r} (as a quoted string) or its "
        f"class {cls.__name__}: add its unit tests (validation, rendering, planning)")


@pytest.mark.parametrize("cls", KINDS, ids=_kind_id)
def test_a_live_test_marks_it(cls: type[InterfaceBase]) -> None:
    assert cls.kind_name in LIVE_MARKED, (
        f"no test in tests/live/test_*.py is marked @pytest.mark.kind({cls.kind_name!r}): the "
        "results matrix needs a live test of every kind, and fails without a passing one")


@pytest.mark.parametrize("cls", KINDS, ids=_kind_id)
def test_it_declares_a_probe_link_and_its_modules(cls: type[InterfaceBase]) -> None:
    link = cls.probe_link()
    assert isinstance(link, cls) and link.name == PROBE_NAME
    assert link.parent() in (None, PROBE_PARENT), "a probe link's parent is PROBE_PARENT"
    assert link.ip_commands(), "the probe link renders no iproute2 command"
    modules = cls.kernel_modules()
    assert modules, f"{cls.kind_name}: kernel_modules() is empty"
    for module in modules:
        assert module and all(isinstance(word, str) and word for word in module), modules
        assert all("=" in option for option in module[1:]), f"options are NAME=VALUE: {module}"


@pytest.mark.parametrize("cls", KINDS, ids=_kind_id)
def test_may_skip_is_declared_only_with_a_reason_from_hardware(cls: type[InterfaceBase]) -> None:
    # the kernel tier lets a kind's live tests skip only when it declares may_skip; that is
    # for what even a full distribution kernel in a VM cannot have (hardware)
    if cls.may_skip:
        assert cls.requires, f"{cls.kind_name} may skip without requiring hardware"
