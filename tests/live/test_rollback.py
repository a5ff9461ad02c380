"""All or nothing: when an action in the middle of a plan fails, apply undoes what it did and
the kernel is exactly as it was (links, addresses, routes, namespaces), and the error names the
failed action and the kernel's reason."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import vnet
from vnet import api, cli
from vnet import apply as apply_module
from vnet.apply import execute_plan
from vnet.door.netlink import Netlink

from .helpers import require_kind, sh
from .reference import diff_text, kernel_snapshot

pytestmark = pytest.mark.kind("bridge", "veth", "netns")

TOPOLOGY = """
name: rb
namespaces: [n1]
interfaces:
  - name: br0
    kind: bridge
    addresses: [192.0.2.254/24]
  - name: eth0
    kind: veth
    netns: n1
    addresses: [192.0.2.1/24, 2001:db8::1/64]
    peer: {name: p-n1, master: br0}
  - name: eth1
    kind: veth
    netns: n1
    peer: {name: p-n1b, master: br0}
routes:
  - {to: 198.51.100.0/24, via: 192.0.2.1}
"""

# A link by the name the plan is about to give the veth's peer: its creation fails mid-plan.
LINK_COLLISION = ["ip", "link", "add", "p-n1", "type", "bridge"]
# A route where the plan's last action puts one: everything before it must be undone.
ROUTE_COLLISION = ["ip", "route", "add", "198.51.100.0/24", "dev", "lo"]


def _requires() -> None:
    require_kind("bridge")
    require_kind("veth")


def _assert_unchanged(before: dict[str, Any], settle: float = 10.0) -> None:
    """The kernel equals `before`, allowing it `settle` seconds to finish its own work: a link
    set down and up again gets its IPv6 link-local address and that address's local route back
    only after duplicate address detection, about a second later (longer under emulation)."""
    deadline = time.monotonic() + settle
    after = kernel_snapshot()
    while after != before and time.monotonic() < deadline:
        time.sleep(0.2)
        after = kernel_snapshot()
    assert after == before, "the kernel differs from before apply:\n" + diff_text(
        before, after, "before apply", "after the failed apply")


def _settled_snapshot(settle: float = 10.0) -> dict[str, Any]:
    """kernel_snapshot once duplicate address detection has finished here and in n1: an
    IPv6 link-local address (and its local route) appears only after it, so a snapshot taken
    while one is tentative would miss what the kernel adds a moment later by itself."""
    deadline = time.monotonic() + settle
    spaces = [None, *(["n1"] if "n1" in sh("ip", "netns", "list").split() else [])]
    while time.monotonic() < deadline and any(
            sh("ip", "-6", "addr", "show", "tentative", netns=ns).strip() for ns in spaces):
        time.sleep(0.1)
    return kernel_snapshot()


def _failing_apply(plan: Any) -> vnet.ApplyError:
    """Execute `plan` on the real kernel, expecting it to fail; the error."""
    backend = Netlink()
    try:
        with pytest.raises(vnet.ApplyError) as caught:
            execute_plan(plan, backend)
    finally:
        backend.close()
    return caught.value


@pytest.mark.parametrize(("collision", "failing", "words"), [
    pytest.param(LINK_COLLISION, "create link n1/eth0 (veth) with peer p-n1", "File exists",
                 id="middle-link"),
    pytest.param(ROUTE_COLLISION,
                 "create route 198.51.100.0/24 (in the namespace vnet runs in)", "File exists",
                 id="last-route"),
])
def test_failed_action_rolls_everything_back(collision: list[str], failing: str,
                                             words: str) -> None:
    _requires()
    sh("ip", "link", "set", "lo", "up")
    topo = vnet.load_text(TOPOLOGY)
    plan = api.plan(topo)
    subjects = [f"{a.verb} {a.subject}" for a in plan.actions]
    assert failing in subjects, subjects
    sh(*collision)  # after planning: the planner could not see it coming
    before = _settled_snapshot()
    error = _failing_apply(plan)
    assert error.failed.action == failing
    assert words in str(error) and failing in str(error)
    assert error.undo_failures == []
    assert error.undone == subjects.index(failing)
    assert error.undone > 0, "the failure should come after some work was done"
    _assert_unchanged(before)


def test_cli_apply_failure_rolls_back_and_says_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _requires()
    path = tmp_path / "rb.yaml"
    path.write_text(TOPOLOGY)
    before: dict[str, Any] = {}
    real: Callable[..., Any] = apply_module.execute_plan

    def collide_then_execute(*args: Any, **kwargs: Any) -> Any:
        # between vnet's planning and its first action, as a concurrent `ip` user would
        sh(*LINK_COLLISION)
        before.update(_settled_snapshot())
        return real(*args, **kwargs)

    # api.apply finds execute_plan in vnet.apply when it runs
    monkeypatch.setattr(apply_module, "execute_plan", collide_then_execute)
    assert cli.main(["apply", str(path)]) == 1
    err = capsys.readouterr().err
    assert "apply failed" in err
    assert "create link n1/eth0 (veth) with peer p-n1" in err
    assert "File exists" in err
    assert "rolled back" in err
    _assert_unchanged(before)

    assert cli.main(["apply", "--json", str(path)]) == 1
    # the colliding link is still there: now the planner sees it, and nothing is tried
    payload = json.loads(capsys.readouterr().out)
    assert payload["error"] == "conflict with the live kernel; nothing was changed"


def test_failed_update_puts_changes_in_place_back() -> None:
    """Undo of in-place changes (bridge option, MTU, master, state) after a later failure."""
    _requires()
    sh("ip", "link", "set", "lo", "up")
    vnet.load_text(TOPOLOGY).apply()
    changed = vnet.load_text(
        TOPOLOGY.replace("    addresses: [192.0.2.254/24]\n",
                         "    ageing_time: 1000\n    mtu: 1400\n    state: down\n"
                         "    addresses: [192.0.2.254/24, 192.0.2.253/24]\n")
        .replace("peer: {name: p-n1b, master: br0}", "peer: {name: p-n1b}")
        .replace("to: 198.51.100.0/24", "to: 203.0.113.0/24"))
    plan = api.plan(changed)
    subjects = [f"{a.verb} {a.subject}" for a in plan.actions]
    assert "change link br0 (bridge)" in subjects and "change set br0 down" in subjects
    sh("ip", "route", "add", "203.0.113.0/24", "dev", "lo")  # the new route's place is taken
    before = _settled_snapshot()
    caught = _failing_apply(plan)
    assert caught.failed.action == \
        "create route 203.0.113.0/24 (in the namespace vnet runs in)"
    assert caught.undo_failures == []
    _assert_unchanged(before)


def test_failure_after_a_removal_says_what_could_not_be_undone() -> None:
    _requires()
    vnet.load_text(TOPOLOGY).apply()
    smaller = vnet.load_text(TOPOLOGY.split("  - name: eth1")[0]
                             + "routes:\n  - {to: 203.0.113.0/24, dev: br0}\n")
    plan = api.plan(smaller)
    assert any(a.verb == "remove" and "p-n1b" in a.subject for a in plan.actions)
    sh("ip", "route", "add", "203.0.113.0/24", "dev", "lo")
    caught = _failing_apply(plan)
    text = str(caught)
    assert "rollback incomplete" in text and "cannot be re-created" in text, text
    assert "the kernel is as it was" not in text
    # what could be undone was: the other pair, the bridge and its address are as before
    links = {link["ifname"]: link for link in kernel_snapshot()["(here)"]["links"].values()}
    assert links["p-n1"]["master"] == "br0" and "p-n1b" not in links


PAIRS = """
name: rbb
interfaces:
""" + "".join(f"""  - name: {n}0
    kind: veth
    addresses: [192.0.2.{i + 1}/24]
    peer: {{name: {n}1, addresses: [198.51.100.{i + 1}/24]}}
""" for i, n in enumerate("xyz"))


def test_refusal_inside_a_batched_run_rolls_back_what_ran_beside_it() -> None:
    """Pairs in one namespace without IPv6 are created many to a system call; the kernel
    carries on after a refused creation, so what it did beside the refusal is undone too,
    and nothing touches the link whose name was taken."""
    require_kind("veth")
    sh("ip", "link", "set", "lo", "up")
    sh("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")  # else created one by one
    plan = api.plan(vnet.load_text(PAIRS))
    with Netlink() as probe:
        assert all(probe.batchable(r) for a in plan.actions if a.verb == "create"
                   and a.subject.startswith(("link", "address")) for r in a.do)
    sh("ip", "link", "add", "y0", "type", "veth", "peer", "name", "y9")
    before = _settled_snapshot()
    caught = _failing_apply(plan)
    assert caught.failed.action == "create link y0 (veth) with peer y1"
    assert "File exists" in str(caught) and caught.undo_failures == []
    assert caught.undone >= 2  # x0's and z0's pairs at least, made in the same call
    _assert_unchanged(before)


@pytest.mark.parametrize("ipv6", ["on", "off"], ids=["one-by-one", "batched"])
def test_link_whose_marking_fails_is_removed_with_the_rest(ipv6: str) -> None:
    """A link is created, then its mark (an altname) is refused: the link must not stay behind
    unmarked, whether it was made by its own request (IPv6 on) or in a batch (IPv6 off)."""
    require_kind("veth")
    sh("ip", "link", "set", "lo", "up")
    if ipv6 == "off":
        sh("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
    plan = api.plan(vnet.load_text(PAIRS))
    # altnames share the namespace's names: one held elsewhere cannot be given to y1
    sh("ip", "link", "add", "decoy", "type", "veth", "peer", "name", "decoy1")
    sh("ip", "link", "property", "add", "dev", "decoy", "altname", "vnet.rbb.y1")
    before = _settled_snapshot()
    caught = _failing_apply(plan)
    assert caught.failed.action == "create link y0 (veth) with peer y1"
    assert "File exists" in str(caught) and caught.undo_failures == []
    _assert_unchanged(before)
