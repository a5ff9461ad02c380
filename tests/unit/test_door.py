"""The kernel door: one catalogue of operations, implemented in full by both kernels; the
fake refuses to pass over what it does not model; runs of deletions choose their groups
exactly (a group shared with a link that stays is never deleted whole)."""

from __future__ import annotations

import ast
import errno
from pathlib import Path

import pytest

import vnet
from vnet.actions import OPERATIONS, Request
from vnet.apply import execute_plan
from vnet.door import deletion
from vnet.door.fake import FakeKernel, NotModelled
from vnet.door.netlink import Netlink
from vnet.door.protocol import Kernel, Scope, check_table
from vnet.errors import ApplyError
from vnet.plan import plan_changes, plan_teardown

SRC = Path(vnet.__file__).parent
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_both_kernels_map_the_whole_catalogue_and_nothing_else() -> None:
    for kernel in (Netlink(), FakeKernel()):  # Netlink opens no socket until asked
        assert set(kernel.operations()) == set(OPERATIONS), type(kernel).__name__
        assert all(callable(handler) for handler in kernel.operations().values())


def test_both_kernels_are_the_protocol() -> None:
    def door(kernel: Kernel) -> frozenset[str]:  # mypy checks the assignments
        return kernel.BULK_OPS
    assert door(Netlink()) == door(FakeKernel()) == {"link.del", "netns.del"}


def test_a_table_must_cover_the_catalogue_exactly() -> None:
    table = dict.fromkeys(OPERATIONS, lambda netns, **args: None)
    assert check_table("k", table) is table
    with pytest.raises(TypeError, match=r"missing \['teamd.stop'\]"):
        check_table("k", {op: h for op, h in table.items() if op != "teamd.stop"})
    with pytest.raises(TypeError, match=r"not in the catalogue \['link.frob'\]"):
        check_table("k", {**table, "link.frob": table["link.add"]})


def test_an_operation_outside_the_catalogue_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="unknown operation 'link.frob'"):
        Request("link.frob", None, {})


def _ops_named_in_source() -> set[str]:
    """Every operation a Request(...) in the package names: literals whole, f-strings as the
    prefix before their first placeholder."""
    named: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Request"
                    and node.args):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                named.add(first.value)
            elif isinstance(first, ast.JoinedStr) and isinstance(first.values[0], ast.Constant):
                named.add(str(first.values[0].value) + "*")
    return named


def test_every_operation_the_planner_and_kinds_name_is_in_the_catalogue() -> None:
    named = _ops_named_in_source()
    assert len(named) > 20
    for op in named:
        if op.endswith("*"):
            assert any(known.startswith(op[:-1]) for known in OPERATIONS), op
        else:
            assert op in OPERATIONS, op


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_plans_only_catalogued_operations(example: str) -> None:
    topo = vnet.load_file(EXAMPLES / example)
    fake = FakeKernel()
    for ext in topo.externals:  # the host's NICs an example names
        infiniband = "ipoib" in {i.kind for i in topo.interfaces}  # ipoib.yaml's parent
        fake.add_link(ext.netns, ext.name, ext.kind, up=True, link_type=32 if infiniband else 1)
    plan = plan_changes(topo, fake.observe(Scope([None, *topo.namespaces])))
    teardown = plan_teardown(topo.name, fake.observe(Scope([None, *topo.namespaces])))
    for action in [*plan.actions, *teardown.actions]:
        for req in [*action.do, *action.undo]:
            assert req.op in Netlink().operations() and req.op in FakeKernel().operations()


@pytest.mark.parametrize("op", sorted(op for op in OPERATIONS
                                      if op.startswith(("tc.", "macsec.", "teamd."))))
def test_the_fake_refuses_to_pass_over_what_it_does_not_model(op: str) -> None:
    with pytest.raises(NotModelled, match=f"does not model {op}"):
        FakeKernel().send([Request(op, None, {"ifname": "x"})])


def test_the_fake_refuses_a_team_it_cannot_drive() -> None:
    with pytest.raises(NotModelled, match="teamd"):
        FakeKernel().send([Request("link.add", None, {
            "ifname": "t0", "kind": "team", "marker": None, "info_data": {},
            "teamd": {"config": {}}})])


# ---- runs of deletions as group deletions ------------------------------------------------------

def _dels(*names: str) -> list[list[Request]]:
    return [[Request("link.del", None, {"ifname": n, "missing_ok": True})] for n in names]


def test_a_group_is_deleted_whole_only_when_every_link_of_it_goes() -> None:
    links = [deletion.Member(1, "a1", 7), deletion.Member(2, "a2", 7),
             deletion.Member(3, "b1", 7), deletion.Member(4, "c1", 9)]
    chosen = deletion.choose_groups(links, _dels("a1", "a2"))
    assert chosen.whole == [] and chosen.move == [1, 2]  # b1 shares group 7: it stays
    chosen = deletion.choose_groups(links, _dels("a1", "a2", "b1"))
    assert chosen.whole == [7] and chosen.move == []
    assert chosen.free_group not in {7, 9, 0}


def test_one_end_of_a_pair_moves_and_the_kernel_takes_the_other() -> None:
    links = [deletion.Member(1, "v0", 0, peer=2), deletion.Member(2, "v1", 0, peer=1),
             deletion.Member(3, "br0", 0, up=True), deletion.Member(4, "p0", 0, master=3)]
    chosen = deletion.choose_groups(links, _dels("v0", "br0", "p0"))
    assert chosen.going == {1, 2, 3, 4}
    assert chosen.move == [1, 3, 4]
    assert chosen.quiet == [3]  # a running master losing its ports goes down first


def test_a_missing_link_ends_the_run_before_it() -> None:
    links = [deletion.Member(1, "a", 0), deletion.Member(2, "b", 0)]
    batches = [[Request("link.del", None, {"ifname": "a"})],
               [Request("link.del", None, {"ifname": "gone"})],
               [Request("link.del", None, {"ifname": "b"})]]
    chosen = deletion.choose_groups(links, batches)
    assert chosen.actions == 1 and chosen.missing is batches[1][0]
    assert chosen.going == {1}


def _two_topologies_in_one_group() -> FakeKernel:
    fake = FakeKernel()
    for name in ("a1", "a2", "b1"):
        fake.send([Request("link.add", None, {"ifname": name, "kind": "bridge",
                                              "marker": None, "info_data": {}, "group": 7})])
    return fake


def test_bulk_deletion_on_the_fake_leaves_a_shared_group_s_other_links() -> None:
    fake = _two_topologies_in_one_group()
    assert fake.send_bulk(_dels("a1", "a2")) == (2, None)
    assert set(fake.read_netns(None).links) == {"lo", "b1"}
    assert fake.groups == {(None, "b1"): 7}


def test_bulk_deletion_on_the_fake_names_the_missing_link() -> None:
    fake = _two_topologies_in_one_group()
    done, err = fake.send_bulk([*_dels("a1"), [Request("link.del", None, {"ifname": "zz"})]])
    assert done == 1 and err is not None and err.errno == errno.ENODEV
    assert set(fake.read_netns(None).links) == {"lo", "a2", "b1"}


def test_apply_rolls_back_a_batched_run_that_fails_midway() -> None:
    topo = vnet.load_text("""
name: lab
interfaces:
  - {name: d1, kind: veth, peer: {name: d1p}, addresses: [192.0.2.1/24]}
  - {name: d2, kind: veth, peer: {name: d2p}, addresses: [192.0.2.2/24]}
""")
    fake = FakeKernel()
    before = fake.state()
    plan = plan_changes(topo, fake.observe(Scope([None])))
    assert all(fake.batchable(r) for a in plan.actions for r in a.do)
    fake.fail_on = lambda req: req.op == "addr.add" and req.args["ifname"] == "d2"
    with pytest.raises(ApplyError):
        execute_plan(plan, fake)
    assert fake.state() == before
