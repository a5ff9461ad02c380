"""Ownership: vnet removes only what carries its mark, puts back what it changed on interfaces
it does not own, refuses to take over unowned ones, and one vnet changes the kernel at a time."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

import vnet
from vnet import api
from vnet.store import STATE_DIR

from .helpers import ip_json, require_kind, sh

pytestmark = pytest.mark.kind("bridge", "veth", "netns")


def _kernel() -> dict[str, Any]:
    """Every link (name, master, mtu, up) and address here and in every named namespace."""
    out: dict[str, Any] = {}
    spaces = [None, *sorted(ns["name"] for ns in ip_json("netns", "list"))]
    for ns in spaces:
        for link in ip_json("addr", "show", netns=ns):
            out[f"{ns or '-'}/{link['ifname']}"] = {
                "master": link.get("master"), "mtu": link["mtu"], "up": "UP" in link["flags"],
                "addresses": sorted(f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"]
                                    if not a["local"].startswith("fe80:")),
            }
    out["netns"] = spaces[1:]
    return out


OWNED = """
name: owned
namespaces: [n1]
interfaces:
  - name: br0
    kind: bridge
    addresses: [192.0.2.254/24]
  - name: eth0
    kind: veth
    netns: n1
    addresses: [192.0.2.1/24]
    peer: {name: p-n1, master: br0}
"""


def _requires() -> None:
    require_kind("bridge")
    require_kind("veth")


def test_unowned_objects_survive_destroy() -> None:
    _requires()
    sh("ip", "link", "add", "mybr", "type", "bridge")
    sh("ip", "link", "add", "myveth", "type", "veth", "peer", "name", "myveth-p")
    sh("ip", "link", "set", "myveth-p", "master", "mybr")
    sh("ip", "addr", "add", "198.51.100.1/24", "dev", "mybr")
    sh("ip", "netns", "add", "mine")
    before = _kernel()
    topo = vnet.load_text(OWNED)
    topo.apply()
    assert _kernel() != before
    topo.destroy()
    assert _kernel() == before
    api.destroy("mine")  # a name vnet never owned: nothing happens
    api.destroy("owned")
    assert _kernel() == before


EXTERNAL = """
name: ext
interfaces:
  - name: br0
    kind: bridge
  - name: nic0
    external: true
    master: br0
    state: up
    addresses: [192.0.2.10/24]
"""


def _fake_nic() -> dict[str, Any]:
    """A veth end plays the host's NIC: down, with an address of its own."""
    sh("ip", "link", "add", "nic0", "mtu", "1400", "type", "veth", "peer", "name", "nic0-peer")
    sh("ip", "addr", "add", "198.51.100.7/24", "dev", "nic0")
    return _kernel()


def _assert_external_in_use() -> None:
    nic = _kernel()["-/nic0"]
    assert nic["master"] == "br0" and nic["up"]
    assert "192.0.2.10/24" in nic["addresses"] and "198.51.100.7/24" in nic["addresses"]


def test_external_is_put_back_on_destroy() -> None:
    _requires()
    before = _fake_nic()
    topo = vnet.load_text(EXTERNAL)
    topo.apply()
    _assert_external_in_use()
    assert [r.name for r in api.show("ext") if not r.owned] == ["nic0"]
    topo.destroy()
    assert _kernel() == before
    assert not os.path.exists(f"{STATE_DIR}/ext.json")


def test_external_is_put_back_when_the_file_drops_it() -> None:
    _requires()
    before = _fake_nic()
    vnet.load_text(EXTERNAL).apply()
    _assert_external_in_use()
    without = vnet.load_text(EXTERNAL.split("  - name: nic0")[0])
    plan = without.plan()
    assert any("nic0" in a.subject for a in plan.actions)
    without.apply()
    now = _kernel()
    assert now["-/nic0"] == before["-/nic0"]
    assert "-/br0" in now
    assert not without.plan().has_changes
    without.destroy()
    assert _kernel() == before


def test_existing_unowned_interface_is_a_conflict() -> None:
    _requires()
    sh("ip", "link", "add", "br0", "type", "bridge")
    before = _kernel()
    topo = vnet.load_text(OWNED)
    with pytest.raises(vnet.ConflictError) as caught:
        topo.apply()
    assert "br0 already exists" in str(caught.value)
    assert "external: true" in str(caught.value)  # the fix is named
    assert _kernel() == before
    with pytest.raises(vnet.ConflictError):
        topo.plan()


def test_ownership_survives_losing_the_state_file() -> None:
    _requires()
    before = _kernel()
    topo = vnet.load_text(OWNED)
    topo.apply()
    for entry in os.listdir(STATE_DIR):
        if entry.endswith(".json"):
            os.unlink(os.path.join(STATE_DIR, entry))
    # the altname marks alone identify what vnet owns
    assert {(r.netns, r.name) for r in api.show("owned")} >= {
        (None, "br0"), (None, "p-n1"), ("n1", "eth0")}
    assert not vnet.load_text(OWNED).plan().has_changes
    api.destroy("owned")
    assert _kernel() == before


OTHER = """
name: other
namespaces: [m1]
interfaces:
  - name: br1
    kind: bridge
    addresses: [198.51.100.254/24]
  - name: eth0
    kind: veth
    netns: m1
    addresses: [198.51.100.1/24]
    peer: {name: p-m1, master: br1}
"""


def test_two_topologies_do_not_touch_each_other() -> None:
    _requires()
    first, second = vnet.load_text(OWNED), vnet.load_text(OTHER)
    first.apply()
    only_first = _kernel()
    second.apply()
    assert not first.plan().has_changes and not second.plan().has_changes
    both = _kernel()
    first.destroy()
    after = _kernel()
    for key in ("-/br1", "-/p-m1"):
        assert after[key] == both[key]
    assert after["netns"] == ["m1"]
    assert not second.plan().has_changes
    # a file that names the other topology's bridge is refused, naming the owner
    thief = vnet.load_text(OTHER.replace("name: other", "name: thief")
                           .replace("namespaces: [m1]", "namespaces: [t1]")
                           .replace("netns: m1", "netns: t1").replace("p-m1", "p-t1"))
    with pytest.raises(vnet.ConflictError, match="topology 'other'"):
        thief.apply()
    second.destroy()
    assert _kernel() == {k: v for k, v in only_first.items()
                         if not k.startswith(("-/br0", "-/p-n1", "n1/"))} | {"netns": []}


def test_apply_refuses_while_another_vnet_holds_the_lock() -> None:
    _requires()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, vnet.store as r\n"
         "with r.host_lock():\n"
         "    print('locked', flush=True)\n"
         "    sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        before = _kernel()
        with pytest.raises(vnet.LockError, match="another vnet process"):
            vnet.load_text(OWNED).apply()
        with pytest.raises(vnet.LockError):
            api.destroy("owned")
        assert _kernel() == before
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    topo = vnet.load_text(OWNED)
    topo.apply()  # the lock is free again
    topo.destroy()


LINK_ROUTE = """
name: linkroute
interfaces:
  - {name: lr0, kind: bridge, addresses: [192.0.2.1/24]}
routes:
  - {to: 10.9.0.0/16, dev: lr0}
  - {to: 10.8.0.0/16, via: 192.0.2.9}
"""


def test_a_route_to_a_link_where_vnet_runs_has_scope_link_and_destroy_removes_it() -> None:
    # `ip route add NET dev X` gives scope link; so does vnet, and its teardown (a route in a
    # namespace it does not own is deleted one by one) must find that route again
    require_kind("bridge")
    topo = vnet.load_text(LINK_ROUTE)
    topo.apply()
    routes = {r["dst"]: r for r in ip_json("route", "show")}
    assert routes["10.9.0.0/16"].get("scope") == "link"
    assert "scope" not in routes["10.8.0.0/16"]  # via a gateway: universe, as ip gives it
    assert not topo.plan().has_changes
    topo.destroy()
    left = {r["dst"] for r in ip_json("route", "show")}
    assert not left & {"10.9.0.0/16", "10.8.0.0/16"}
