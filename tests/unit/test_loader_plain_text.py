"""A file without anchors or aliases is composed first and its limits checked on the nodes
(`loader._check_nodes`), instead of scanning the parser's events before composing
(`loader._scan_events`). The two must agree: the same limit passed at the same value, the
same words, the same place; and a limit passed before a YAML error in the file is said
instead of that error, as when the scan comes first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vnet.errors import TopologyError
from vnet.loader import (
    Limits,
    _check_nodes,
    _node_bound,
    _plain,
    _Refused,
    _scan_events,
    load_text,
)

#: nested values as a topology file's YAML might hold them (keys are words; no anchors)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                     st.text("abc-/.:0123456789", max_size=6))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), inner, max_size=4)),
    max_leaves=40)


def _refusal(check: Any) -> str | None:
    """The issue a limit check raises, as text; None when it lets the file through."""
    try:
        check()
    except _Refused as exc:
        return str(exc.issue)
    return None


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(value=_VALUES, flow=st.sampled_from([None, True, False]),
       nodes=st.integers(1, 40), depth=st.integers(1, 6))
def test_the_node_count_refuses_what_the_event_scan_refuses(value: Any, flow: bool | None,
                                                           nodes: int, depth: int) -> None:
    text = yaml.safe_dump({"name": "lab", "k": value}, default_flow_style=flow)
    limits = Limits(nodes=nodes, depth=depth)
    assert "&" not in text and "*" not in text
    by_scan = _refusal(lambda: _scan_events(text, "t.yaml", limits))
    by_nodes = _refusal(lambda: _check_nodes(yaml.compose(text), "t.yaml", limits))
    assert by_nodes == by_scan


def _nodes(node: yaml.Node) -> int:
    if isinstance(node, yaml.MappingNode):
        return 1 + sum(_nodes(k) + _nodes(v) for k, v in node.value)
    if isinstance(node, yaml.SequenceNode):
        return 1 + sum(_nodes(item) for item in node.value)
    return 1


def _all_nodes(text: str) -> int:
    return sum(_nodes(doc) for doc in yaml.compose_all(text, Loader=yaml.SafeLoader))


#: keys and texts of any shape YAML can hold (quoted, or plain holding indicators)
_ANY_TEXT = st.text(st.sampled_from("ab:-?,[]{}#'\" \n"), max_size=5)
_ANY_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), _ANY_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(_ANY_TEXT, st.integers()), inner,
                                            max_size=4)),
    max_leaves=40)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(value=_ANY_VALUES, flow=st.sampled_from([None, True, False]),
       width=st.sampled_from([4, 80]))
def test_the_node_bound_is_never_below_the_nodes(value: Any, flow: bool | None,
                                                 width: int) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow, width=width)
    assert _node_bound(text) >= _all_nodes(text), text


@pytest.mark.parametrize("text", [
    "", "a", "[a]", "[[[a]]]", "{a}", "{{a}}", "{a, b, c}", "{a: b}", "[a: b, c: d]",
    "a: b\nc: d\n", "a:\n  b: c\n", "a:\n- x\n- y\n", "- - - a\n", "- a: b\n  c: d\n",
    "?\n" * 5, "? a\n: b\n", "? [a, b]\n: {c, d}\n", "[? a : b]", "{? a}",
    "a: |\n  x: y\n  - z\n", "--- a\n--- b\n", "---\n...\n", "a: !!str\n", "[a, {b, c}, [d]]",
    "{a: [b, {c: d}], e: }", "- {}\n- []\n- ''\n",
])
def test_the_node_bound_holds_for_each_form(text: str) -> None:
    assert _node_bound(text) >= _all_nodes(text)


def test_a_large_file_without_anchors_is_composed_once() -> None:
    """A file of 5,000 veth pairs in flow style (550 kB, more than twice the value limit in
    characters, 75,000 values) is composed without the event scan first."""
    text = "name: big\ninterfaces:\n" + "".join(
        f"  - {{name: va{i}, kind: veth, addresses: [10.0.0.1/30], "
        f"peer: {{name: vb{i}, addresses: [10.0.0.2/30]}}}}\n" for i in range(5000))
    assert len(text) > 2 * Limits().nodes and _all_nodes(text) < Limits().nodes
    assert _plain(text, Limits())


def test_a_text_with_an_anchor_or_alias_or_past_the_value_limit_is_scanned_first() -> None:
    limits = Limits(nodes=100)
    assert _plain("name: lab\n", limits)
    assert not _plain("name: lab\na: &a x\n", limits)
    assert not _plain("name: lab  # 2 * 3\n", limits)  # even in a comment: scanned
    assert _plain("name: " + "x" * 150 + "\n", limits)
    # past twice the limit in characters: composed first only when few nodes can be in it
    assert _plain("name: " + "x" * 200 + "\n", limits)
    assert not _plain("name: lab\n" + "?\n" * 100, limits)


def test_the_densest_plain_text_is_refused_fast_and_small(tmp_path: Path) -> None:
    """Twice the value limit in characters, each two of them a key and its value: composed
    before its count, and still refused in well under 2 s of CPU and 200 MB."""
    text = "name: lab\n" + "?\n" * (Limits().nodes - 6)
    assert _plain(text, Limits())
    path = tmp_path / "dense.yaml"
    path.write_text(text, encoding="utf-8")
    probe = ("import json, resource, subprocess, sys\n"
             "proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
             "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
             "print(json.dumps([proc.returncode, proc.stderr, use.ru_utime + use.ru_stime,"
             " use.ru_maxrss / 1024]))\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VNET_MAX_")}
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "vnet", "validate",
                          str(path)], capture_output=True, text=True, check=True, env=environ)
    rc, err, cpu, rss_mib = json.loads(out.stdout)
    assert rc == 1 and "VNET_MAX_NODES" in err and "1 problem found" in err, err
    assert cpu < 2.0 and rss_mib < 200, (cpu, rss_mib)


def _issues(text: str) -> list[str]:
    try:
        load_text(text, "t.yaml")
    except TopologyError as exc:
        return [str(issue) for issue in exc.issues]
    return []


DEEP_40 = "name: lab\nk: " + "[" * 40 + "]" * 40 + "\n"


@pytest.mark.parametrize("text", [
    # 40 levels, then a YAML error further down: the depth is what the file is told
    DEEP_40 + "bad: [\n",
    # two documents (compose refuses the second), the first one too deep
    DEEP_40 + "---\nname: b\n",
    # deeper than libyaml's own bound of 1,000 levels: its scanner reads the brackets ahead
    # and stops there, before the scan or compose has seen level 33 (so it is the YAML error)
    "name: lab\nk: " + "[" * 5000 + "]" * 5000 + "\n",
    "name: lab\nnamespaces: [a, b\n",
    "name: lab\n\tnamespaces: [a]\n",
    "name: lab\nk: {a: 1, a: 2}\n" + "x: [" + "1," * 40 + "]\n",
])
def test_any_error_is_the_one_the_scan_first_gave(text: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert _plain(text, Limits())
    composed_first = _issues(text)
    monkeypatch.setattr("vnet.loader._plain", lambda text, limits: False)
    assert composed_first == _issues(text) != []


def test_a_limit_passed_before_a_yaml_error_is_said_instead() -> None:
    for text in (DEEP_40 + "bad: [\n", DEEP_40 + "---\nname: b\n"):
        issues = _issues(text)
        assert len(issues) == 1 and "VNET_MAX_DEPTH" in issues[0], issues


def test_a_yaml_error_in_a_plain_text_is_still_the_parsers() -> None:
    with pytest.raises(TopologyError) as info:
        load_text("name: lab\nnamespaces: [a, b\n", "t.yaml")
    assert "YAML syntax error" in str(info.value.issues[0])
