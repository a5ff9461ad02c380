"""A file within the loader's limits is answered in under 2 s whatever it holds: validation
stays linear in the number of interfaces, routes and checks (each of these files took from
seconds to minutes when each entry's check scanned all the others).

Each file is near the default limit of values, and is timed in CPU seconds of this process
(the machine is shared: wall time would count other processes' work), with the cyclic
garbage collector off as `vnet` runs it."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pytest
import yaml

from vnet import declare
from vnet.errors import TopologyError
from vnet.loader import Limits, load_text

SECONDS = 2.0


def _file(head: list[str], entry: Callable[[int], str], tail: Callable[[int], list[str]]
          = lambda n: []) -> str:
    """As many entries as fit under the value limit (with the head and tail they bring)."""
    def text(n: int) -> str:
        return "\n".join(head + [entry(i) for i in range(n)] + tail(n)) + "\n"
    one = _values(text(2)) - _values(text(1))
    n = (Limits().nodes - _values(text(0))) // one - 10
    return text(n)


def _values(text: str) -> int:
    return sum(1 for e in yaml.parse(text, Loader=yaml.CSafeLoader)
               if isinstance(e, yaml.ScalarEvent | yaml.CollectionStartEvent))


PARENT = ["name: q", "interfaces:", "  - {name: e0, kind: veth, peer: {name: e1}}"]
FILES = {
    "vlans on one parent": lambda: _file(
        PARENT, lambda i: f"  - {{name: v{i}, kind: vlan, link: e0, id: {i % 4094 + 1}}}"),
    "macvlans with link_netns": lambda: _file(
        ["name: q", "namespaces: [a]", "interfaces:",
         "  - {name: e0, kind: veth, peer: {name: e1}}"],
        lambda i: f"  - {{name: m{i}, kind: macvlan, link: e0, link_netns: a, netns: a}}"),
    "ipvlans on one parent": lambda: _file(
        PARENT, lambda i: f"  - {{name: i{i}, kind: ipvlan, link: e0, mode: l2}}"),
    "vxlans": lambda: _file(["name: q", "interfaces:"],
                            lambda i: f"  - {{name: x{i}, kind: vxlan, id: {i}}}"),
    "geneves on one port": lambda: _file(
        ["name: q", "interfaces:"],
        lambda i: f"  - {{name: g{i}, kind: geneve, id: {i}, remote: 192.0.2.1}}"),
    "ifbs": lambda: _file(["name: q", "interfaces:"],
                          lambda i: f"  - {{name: f{i}, kind: ifb, redirect_from: [e0]}}"),
    "routes whose gateway is nowhere": lambda: _file(
        ["name: q", "namespaces: [a]", "interfaces:"],
        lambda i: f"  - {{name: v{i}, kind: veth, netns: a, peer: {{name: w{i}}}, "
                  f"addresses: [10.{i >> 8 & 255}.{i & 255}.1/24]}}",
        lambda n: ["routes:"] + [f"  - {{netns: a, to: 172.{16 + (i >> 16)}.{i >> 8 & 255}."
                                 f"{i & 255}/32, via: 10.255.255.254}}" for i in range(n)]),
    "namespaces and checks": lambda: _file(
        ["name: q", "interfaces: []", "checks:"],
        lambda i: f"  - {{from: n{i}, ping: 192.0.2.1}}",
        lambda n: ["namespaces:"] + [f"  - n{i}" for i in range(n)]),
}


@pytest.mark.parametrize("case", sorted(FILES))
def test_a_file_at_the_value_limit_is_validated_in_linear_time(
        case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # timed as vnet runs: without the tests' second validation by pydantic (conftest.py)
    monkeypatch.setattr(declare, "ORACLE", False)
    text = FILES[case]()
    assert _values(text) > 0.9 * Limits().nodes  # near the limit, not a small file
    gc.disable()
    start = time.process_time()
    try:
        load_text(text, "q.yaml")
    except TopologyError as exc:
        # errors are fine (every entry may be wrong); each is short
        assert all(len(str(issue)) < 600 for issue in exc.issues)
    finally:
        elapsed = time.process_time() - start
        gc.enable()
    assert elapsed < SECONDS, f"{case}: {elapsed:.2f} s of CPU"
