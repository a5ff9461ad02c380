"""The loader's tag of a scalar (`loader._Loader.resolve`) answers text without PyYAML's
resolver where no implicit type can match (quoted, a first character no type starts with, a
'/'), and caches the rest: each answer must be the resolver's own."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vnet import loader

#: characters of every implicit type's spelling (numbers, dates, booleans, null, merge...),
#: with '/' and a few that none uses
_CHARS = "0123456789+-._:eExXbBoO aAfFnNsStTyYlLuUiI<=~!&*/\tZz"
_TEXTS = st.one_of(st.text(_CHARS, max_size=12), st.text(max_size=8),
                   st.sampled_from(["", "~", "null", "Null", "yes", "No", "on", "OFF", "true",
                                    "1", "-1", "0x1f", "0o7", "017", "1_000", "1:30", "1.5",
                                    ".inf", "-.Inf", ".nan", "2001-12-14",
                                    "2001-12-14t21:59:43.10-05:00",
                                    "<<", "=", "!", "&", "*", "1/2", "10.0.0.1/30", "y/n",
                                    "2001:db8::1/64", "veth", "va0", "name", "netns"]))


def _pyyaml(kind: type, value: str, implicit: tuple[bool, bool]) -> str:
    """PyYAML's own answer, through the resolver the loader's base class has."""
    return yaml.resolver.BaseResolver.resolve(loader._Loader(""), kind, value, implicit)


@settings(max_examples=250, derandomize=True, database=None, deadline=None)
@given(values=st.lists(_TEXTS, min_size=1, max_size=6),
       implicit=st.tuples(st.booleans(), st.booleans()))
def test_each_tag_is_the_resolvers(values: list[str], implicit: tuple[bool, bool]) -> None:
    mine = loader._Loader("")
    for value in values * 2:  # the second time from the cache
        assert mine.resolve(yaml.ScalarNode, value, implicit) == \
            _pyyaml(yaml.ScalarNode, value, implicit), value


def test_the_first_character_decides_for_the_safe_loader() -> None:
    # the rule holds only where no implicit type matches whatever the first character and no
    # path resolver decides a tag: the safe loader vnet builds on
    assert loader._FIRST_DECIDES
    # no implicit type's pattern can hold a '/': none names it, and none has a character
    # class or wildcard that could take it
    for first, resolvers in loader._Base.yaml_implicit_resolvers.items():
        for tag, regexp in resolvers:
            pattern = regexp.pattern.replace("\\.", "")
            assert "/" not in pattern and "[^" not in pattern and "." not in pattern, \
                (first, tag)


def _tags(node: Any) -> list[tuple[str, str]]:
    if isinstance(node, yaml.ScalarNode):
        return [(node.tag, node.value)]
    items = node.value if isinstance(node, yaml.SequenceNode) else \
        [part for pair in node.value for part in pair]
    return [(node.tag, ""), *(tag for item in items for tag in _tags(item))]


@settings(max_examples=80, derandomize=True, database=None, deadline=None)
@given(value=st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                    _TEXTS), lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_TEXTS, inner, max_size=4)), max_leaves=30),
       flow=st.sampled_from([None, True, False]))
def test_a_composed_file_has_the_safe_loaders_tags(value: Any, flow: bool | None) -> None:
    text = yaml.safe_dump({"k": value}, default_flow_style=flow)
    assert _tags(yaml.compose(text, Loader=loader._Loader)) == \
        _tags(yaml.compose(text, Loader=loader._Base))
