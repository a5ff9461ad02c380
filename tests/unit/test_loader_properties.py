"""Property-based tests of the loader (hypothesis): over generated files and over the
examples mutated at random (bytes flipped, cut or repeated; keys and values added; values
nested deep; anchors and aliases, bombs and loops among them), every answer is a topology or
vnet's own error, never a traceback, and comes in under 2 s.

Reproducible: derandomized with no example database, so CI runs the same examples every
time. `VNET_FUZZ_EXAMPLES=N` runs N examples per property instead of the unit tier's few
(e.g. 5000 for a long search), and `VNET_FUZZ_SEED=S` draws a fresh, random set (S is printed
by hypothesis on a failure, to replay it)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from vnet import kinds
from vnet.errors import VnetError
from vnet.loader import load_data, load_file, load_text

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [p.read_bytes() for p in sorted((ROOT / "examples").glob("*.yaml"))]
SECONDS = 2.0

_EXAMPLES = int(os.environ.get("VNET_FUZZ_EXAMPLES", "40"))
_SEED = os.environ.get("VNET_FUZZ_SEED")
SETTINGS = settings(
    max_examples=_EXAMPLES,
    derandomize=_SEED is None,
    database=None,
    deadline=None,  # timed by `_answer` itself, on every example, not only the slowest
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _seeded(test: Callable[..., None]) -> Callable[..., None]:
    return seed(int(_SEED))(test) if _SEED is not None else test


def _answer(load: Callable[[], Any]) -> None:
    """Run one load: a topology or a VnetError with issues, within the time bound."""
    start = time.perf_counter()
    try:
        load()
    except VnetError as exc:
        issues = getattr(exc, "issues", None)
        assert issues is None or (issues and all(str(i) for i in issues)), exc
    # anything else escapes and fails the test: a traceback a user would see
    elapsed = time.perf_counter() - start
    assert elapsed < SECONDS, f"answered in {elapsed:.2f} s"


# ---- the words a topology file is made of --------------------------------------------------

KIND_NAMES = sorted(kinds.registry())
FIELDS = sorted({f.alias or name for cls in kinds.registry().values()
                 for name, f in cls.model_fields.items()} |
                {"name", "namespaces", "interfaces", "routes", "checks", "external", "to",
                 "via", "dev", "metric", "table", "from", "ping", "expect", "peer", "<<"})
WORDS = ["br0", "veth1", "net1", "eth0", "up", "down", "lab", "default", "192.0.2.1/24",
         "2001:db8::1/64", "0.0.0.0/8", "::/50", "192.0.2.1", "02:00:00:00:00:01", "4789",
         "active-backup", "bridge", "vé0", "br%d", "a b", "../x", "/dev/zero", "~", "null",
         "yes", "on", "0x10", "0o17", "1_000", "1:20", ".inf", ".nan", "2001-12-14"]

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=24),
    st.sampled_from(WORDS + KIND_NAMES + FIELDS),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), inner,
                        max_size=5)),
    max_leaves=25)


@st.composite
def interfaces(draw: st.DrawFn) -> dict[str, Any]:
    """An interface entry of a real kind, with some of its real fields, valid or not."""
    kind = draw(st.sampled_from(KIND_NAMES))
    cls = kinds.registry()[kind]
    names = [f.alias or n for n, f in cls.model_fields.items()]
    entry: dict[str, Any] = {"name": draw(st.sampled_from(["br0", "v0", "v1", "x.10", "e0"])),
                             "kind": kind}
    for field in draw(st.lists(st.sampled_from(names), max_size=5, unique=True)):
        entry[field] = draw(values)
    return entry


topologies = st.fixed_dictionaries(
    {"name": st.one_of(st.sampled_from(["lab", "x-1"]), scalars)},
    optional={
        "namespaces": st.lists(st.sampled_from(["net1", "net2", "a", "é", "x/y"]), max_size=3),
        "interfaces": st.lists(st.one_of(interfaces(), values), max_size=6),
        "routes": st.lists(values, max_size=3),
        "checks": st.lists(values, max_size=3),
        "extra": values,
    })


@_seeded
@SETTINGS
@given(topologies, st.booleans())
def test_generated_files_get_an_answer(data: dict[str, Any], flow: bool) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    _answer(lambda: load_text(text, "generated.yaml"))


@_seeded
@SETTINGS
@given(topologies)
def test_generated_data_gets_an_answer(data: dict[str, Any]) -> None:
    _answer(lambda: load_data(data))


# ---- mutations of the examples -------------------------------------------------------------

def _flip(draw: st.DrawFn, data: bytearray) -> bytearray:
    if data:
        at = draw(st.integers(0, len(data) - 1))
        data[at] ^= 1 << draw(st.integers(0, 7))
    return data


def _set_byte(draw: st.DrawFn, data: bytearray) -> bytearray:
    if data:
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return data


def _span(draw: st.DrawFn, data: bytearray) -> tuple[int, int]:
    start = draw(st.integers(0, len(data)))
    return start, min(len(data), start + draw(st.integers(0, 80)))


def _delete(draw: st.DrawFn, data: bytearray) -> bytearray:
    start, end = _span(draw, data)
    del data[start:end]
    return data


def _duplicate(draw: st.DrawFn, data: bytearray) -> bytearray:
    start, end = _span(draw, data)
    at = draw(st.integers(0, len(data)))
    data[at:at] = data[start:end] * draw(st.integers(1, 3))
    return data


def _line_start(draw: st.DrawFn, data: bytearray) -> int:
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]
    return draw(st.sampled_from(starts))


def _insert_entry(draw: st.DrawFn, data: bytearray) -> bytearray:
    """A line `KEY: VALUE` at the start of a line, at some indentation."""
    key = draw(st.one_of(st.sampled_from(FIELDS), st.text(max_size=6)))
    value = yaml.safe_dump(draw(values), default_flow_style=True, allow_unicode=True,
                           width=10**6).strip().removesuffix("...").strip()
    indent = " " * draw(st.sampled_from([0, 2, 4, 6]))
    at = _line_start(draw, data)
    data[at:at] = f"{indent}{key}: {value}\n".encode()
    return data


def _replace_value(draw: st.DrawFn, data: bytearray) -> bytearray:
    """The text after some `: ` becomes something else: deep nesting, a huge number, an
    anchor, an alias (defined or not, maybe inside its own value), a bomb."""
    marks = [i + 2 for i in range(len(data) - 1) if data[i:i + 2] == b": "]
    if not marks:
        return data
    at = draw(st.sampled_from(marks))
    end = data.find(b"\n", at)
    end = len(data) if end < 0 else end
    depth = draw(st.integers(1, 1500))
    choice = draw(st.sampled_from(["flow", "block", "digits", "anchor", "alias", "bomb"]))
    if choice == "flow":
        new = "[" * depth + "]" * depth
    elif choice == "block":
        new = "\n" + "".join(" " * (i + 1) + "- " for i in range(min(depth, 400)))
    elif choice == "digits":
        new = "9" * draw(st.integers(1, 6000))
    elif choice == "anchor":
        new = "&a " + data[at:end].decode("utf-8", "replace")
    elif choice == "alias":
        new = "*a"
    else:
        new = "&b0 [x, x, x, x, x, x, x, x]" + "".join(
            f"\nb{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 8) + "]" for i in range(1, 9))
    data[at:end] = new.encode()
    return data


def _truncate(draw: st.DrawFn, data: bytearray) -> bytearray:
    return data[:draw(st.integers(0, len(data)))]


MUTATIONS = [_flip, _set_byte, _delete, _duplicate, _insert_entry, _replace_value, _truncate]


@st.composite
def mutants(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for mutate in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=4)):
        data = mutate(draw, data)
    return bytes(data)


@_seeded
@SETTINGS
@given(mutants())
def test_mutated_examples_get_an_answer(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutant.yaml"
        path.write_bytes(data)
        _answer(lambda: load_file(path))


def test_the_unmutated_examples_load() -> None:
    """The seeds themselves are valid: mutations start from real files."""
    assert len(SEEDS) >= 10
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        load_file(path)
