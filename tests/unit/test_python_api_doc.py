"""docs/python-api.md is held to the code: its examples run and print what the page shows
(those marked `# needs root` run in the live tier: tests/live/test_python_api_live.py),
every public name of `vnet` is on the page and has a docstring, and `Topology.exec` refuses
what it must before running anything."""

from __future__ import annotations

import contextlib
import inspect
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vnet

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "python-api.md"
TEXT = PAGE.read_text(encoding="utf-8")
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
ROOT_MARK = "# needs root"


def examples() -> list[tuple[str, str | None]]:
    """(code, the output the page shows after it, if a `text` block follows at once)."""
    found = list(_BLOCK.finditer(TEXT))
    out = []
    for i, match in enumerate(found):
        if match.group(1) != "python":
            continue
        after = found[i + 1] if i + 1 < len(found) else None
        shown = None
        if after is not None and after.group(1) == "text" \
                and not TEXT[match.end():after.start()].strip():
            shown = after.group(2)
        out.append((match.group(2), shown))
    return out


def test_the_page_has_examples_of_both_sorts() -> None:
    codes = [code for code, _ in examples()]
    assert sum(c.startswith(ROOT_MARK) for c in codes) >= 1
    assert sum(not c.startswith(ROOT_MARK) for c in codes) >= 3


def test_the_examples_that_need_no_root_print_what_the_page_shows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    scope: dict[str, object] = {"__name__": "python_api_doc"}
    for code, shown in examples():
        compiled = compile(code, str(PAGE), "exec")  # every example is Python, root or not
        if code.startswith(ROOT_MARK):
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compiled, scope)
        if shown is not None:
            assert out.getvalue() == shown, f"the page shows other output for:\n{code}"


def _public_members(cls: type) -> list[tuple[str, object]]:
    return [(name, member) for name, member in vars(cls).items()
            if not name.startswith("_") or name in ("__enter__", "__exit__")]


def test_every_public_name_is_on_the_page_and_has_a_docstring() -> None:
    for name in vnet.__all__:
        obj = getattr(vnet, name)
        assert f"vnet.{name}" in TEXT, f"docs/python-api.md does not mention vnet.{name}"
        assert inspect.getdoc(obj), f"vnet.{name} has no docstring"
    for name, member in _public_members(vnet.Topology):
        func = getattr(member, "__func__", member)
        if callable(func):
            assert inspect.getdoc(func), f"vnet.Topology.{name} has no docstring"
            assert f"{name}(" in TEXT or name.startswith("__") or name == "of", \
                f"docs/python-api.md does not show Topology.{name}"


def test_the_package_is_typed() -> None:
    assert (Path(vnet.__file__).parent / "py.typed").exists()
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'\[tool\.setuptools\.package-data\]\s*\nvnet = \[[^\]]*"py\.typed"',
                     pyproject)


def test_exec_refuses_a_namespace_of_no_topology_and_a_string_before_running() -> None:
    topo = vnet.load_text("name: t\nnamespaces: [h1]\ninterfaces: [{name: d0, kind: dummy, "
                          "netns: h1}]")
    with pytest.raises(vnet.VnetError, match="'h9' is not one of topology 't'"):
        topo.exec("h9", ["true"])
    with pytest.raises(TypeError, match="list of arguments"):
        topo.exec("h1", "ip address")  # type: ignore[arg-type]


def test_importing_vnet_stays_cheap() -> None:
    probe = ("import vnet, sys; print(' '.join(m for m in ('pydantic', 'yaml', 'vnet.api') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == []
