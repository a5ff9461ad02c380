"""`vnet capture`, for real: every example round-trips through a capture, and a network built
by hand with `ip` becomes a file that builds it again.

Round trip of an example: apply it, snapshot the kernel, capture it, destroy it, apply the
capture, snapshot again: the two snapshots are equal (every namespace's `ip -d -j link`,
`ip -j addr`, every routing table, bridge VLANs, static FDB entries toward a destination, qdiscs,
tc classes and ingress filters; ignoring only ifindexes, random MACs and vnet's own marks),
then the ORIGINAL file plans nothing against the capture's state, and capturing again gives
the same data. Everything runs in-process (the kernel tier's VM is slow to start programs).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import vnet
from vnet import api
from vnet.capture import CaptureError, capture_owned, capture_unowned, to_yaml

from .helpers import CommandError, ip_json, require_kind, sh
from .reference import diff_text, kernel_snapshot
from .test_examples import ALL_EXAMPLES, EXAMPLES, EXAMPLES_FOR_THE_KERNEL, _require_kinds

#: examples the kernel cannot give back exactly, and the error capture must raise for them
UNCAPTURABLE = {
    "macsec": r"the MACsec keys of macsec-a cannot be read from the kernel .* writes them "
              r"inline, not by key_file",
    "macsec-wrong-key": r"the MACsec keys of macsec-c cannot be read from the kernel .* "
                        r"writes them inline, not by key_file",
    "wireguard": r"the WireGuard keys of wg0 are not written into a file by vnet",
}
#: routing protocols of routes made by hand (boot, static) and by vnet (118): the protocol is
#: vnet's mark on its routes, not configuration
_ROUTE_MARKS = {"boot", "static", "118"}


def _declared_macs(data: dict[str, Any]) -> set[str]:
    """The MACs a file sets (its ends' `mac:`): kept in the comparison, all others are
    random (or taken from a random one) and left out."""
    macs = set()
    for entry in data.get("interfaces", []):
        for end in (entry, entry.get("peer") or {}):
            if end.get("mac"):
                macs.add(str(end["mac"]).lower())
    return macs


_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_NOT_RANDOM = {"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"}


def _scrub_macs(value: Any, fixed_macs: set[str]) -> Any:
    """Every MAC in `value` (a bond port's perm_hwaddr, a MAC taken from a port) that is not
    one a file set, said as "(random)"."""
    if isinstance(value, dict):
        return {k: _scrub_macs(v, fixed_macs) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_macs(v, fixed_macs) for v in value]
    if isinstance(value, str) and _MAC.match(value.lower()) and \
            value.lower() not in fixed_macs | _NOT_RANDOM:
        return "(random)"
    return value


def _tc(netns: str | None, *args: str) -> Any:
    ns = ["-n", netns] if netns else []
    return json.loads(sh("tc", *ns, "-j", *args) or "[]")


def _bridge(netns: str | None, *args: str) -> Any:
    ns = ["-n", netns] if netns else []
    return json.loads(sh("bridge", *ns, "-j", *args) or "[]")


def kernel_state(fixed_macs: set[str]) -> dict[str, Any]:
    """reference.kernel_snapshot without what is random (MACs not in `fixed_macs`, IPv6's
    link-local and multicast routes, which addrconf adds when it gets to a link) or vnet's
    mark (a route's protocol), with bridge VLANs, static FDB entries toward a destination,
    qdiscs, classes and ingress filters added."""
    snap = _scrub_macs(kernel_snapshot(), fixed_macs)
    for space, state in snap.items():
        if space == "netns":
            continue
        ns = None if space == "(here)" else space
        routes = []
        for text in state["routes"]:
            route = json.loads(text)
            dst = str(route.get("dst", ""))
            if route.get("protocol") == "kernel" and (dst.startswith("fe80:")
                                                       or dst == "ff00::/8"):
                continue  # IPv6's own per-link routes, made as addrconf gets to each link (as
                # its link-local address, which reference.py leaves out too)
            if route.get("protocol", "boot") in _ROUTE_MARKS:  # ip -j leaves boot out
                route["protocol"] = "(made by hand or by vnet)"
            routes.append(json.dumps(route, sort_keys=True))
        state["routes"] = sorted(routes)
        state["bridge_vlans"] = sorted(_bridge(ns, "vlan", "show"),  # by name: not ifindex
                                       key=lambda entry: str(entry.get("ifname")))
        state["fdb"] = sorted(json.dumps(_scrub_macs(e, fixed_macs), sort_keys=True)
                              for e in _bridge(ns, "fdb", "show")
                              if e.get("dst") and e.get("state") in ("permanent", "static"))
        qdiscs = _tc(ns, "qdisc", "show")
        state["qdiscs"] = sorted(json.dumps(_kernel_handle(q), sort_keys=True) for q in qdiscs)
        state["classes"] = sorted(json.dumps(c, sort_keys=True)
                                  for c in _tc(ns, "class", "show"))
        state["ingress_filters"] = {
            q["dev"]: _tc(ns, "filter", "show", "dev", q["dev"], "ingress")
            for q in qdiscs if q.get("kind") in ("ingress", "clsact")}
    return snap


def _kernel_handle(qdisc: dict[str, Any]) -> dict[str, Any]:
    """A qdisc with the handle the kernel numbered it with (8001: and on, when none is
    asked) said as such: the number goes up with each qdisc made."""
    handle = str(qdisc.get("handle", ""))
    if len(handle) == 5 and handle.startswith("8") and handle.endswith(":"):
        return {**qdisc, "handle": "(numbered by the kernel)"}
    return qdisc


def _capture(name: str) -> dict[str, Any]:
    kernel = api.open_kernel()
    try:
        return capture_owned(name, kernel)
    finally:
        kernel.close()


def _assert_clean() -> None:
    assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]
    assert ip_json("netns", "list") == []


def _same(expected: dict[str, Any], actual: dict[str, Any], what: str) -> None:
    if expected != actual:
        raise AssertionError(f"kernel state after applying the capture differs from {what}:\n"
                             + diff_text(expected, actual, what, "the capture applied"))


@pytest.mark.parametrize("path", EXAMPLES_FOR_THE_KERNEL)
def test_capture_round_trip(path: Path, tmp_path: Path) -> None:
    _require_kinds(path)
    _round_trip(path, tmp_path, UNCAPTURABLE.get(path.stem))


def _round_trip(path: Path, tmp_path: Path, refusal: str | None = None) -> dict[str, Any]:
    """Apply the file at `path`, capture it, destroy it, apply the capture (written to a file
    in `tmp_path`, as `vnet capture -o` does): the same kernel state, and the file plans
    nothing. With `refusal`, the capture must fail saying so."""
    original = vnet.load_file(path)
    fixed = _declared_macs(yaml.safe_load(path.read_text()))
    original.apply()
    try:
        expected = kernel_state(fixed)
        if refusal is not None:
            with pytest.raises(CaptureError, match=refusal):
                _capture(original.name)
            return {}
        data = _capture(original.name)
    finally:
        original.destroy()
    _assert_clean()
    text = to_yaml(data)
    assert text.startswith("# Captured from the live kernel")
    file = tmp_path / f"captured-{path.name}"
    file.write_text(text)
    captured = api.load_file(file)
    assert captured.name == original.name
    captured.apply()
    try:
        _same(expected, kernel_state(fixed), f"{path.name} applied")
        again = original.plan()
        assert not again.has_changes, [f"{a.verb} {a.subject}: {a.reason}"
                                       for a in again.actions]
        assert not captured.plan().has_changes
        assert _capture(original.name) == data, "a second capture differs from the first"
    finally:
        captured.destroy()
    _assert_clean()
    return data


@pytest.mark.kind("macsec", "veth", "netns")
def test_capture_names_macsec_keys_by_their_key_files(tmp_path: Path) -> None:
    """examples/macsec.yaml with its keys in files: the capture names each by its key_file
    (the kernel never returns keys), and round-trips."""
    example = EXAMPLES / "macsec.yaml"
    _require_kinds(example)
    text = example.read_text()
    (tmp_path / "keys").mkdir()
    for n, key in enumerate(sorted(set(re.findall(r'key: "([0-9a-f]+)"', text)))):
        file = tmp_path / "keys" / f"k{n}.hex"
        file.write_text(key + "\n")
        file.chmod(0o600)
        text = text.replace(f'key: "{key}"', f"key_file: keys/k{n}.hex")
    path = tmp_path / "macsec-files.yaml"
    path.write_text(text)
    data = _round_trip(path, tmp_path)
    [secy] = [e for e in data["interfaces"] if e["name"] == "macsec-a"]
    assert secy["tx_sa"] == [{"an": 0, "key_id": "01",
                              "key_file": str(tmp_path / "keys" / "k0.hex")}]
    assert secy["rx"][0]["sa"][0]["key_file"] == str(tmp_path / "keys" / "k1.hex")


def test_capture_of_nothing_live_is_a_clear_error() -> None:
    with pytest.raises(CaptureError, match="nothing live for nosuch; `vnet show` lists live"):
        _capture("nosuch")


# ---- a network built by hand -----------------------------------------------------------------

#: what a tutorial would type: a switch namespace with a bridge (VLAN 10 on it), taps and veths
#: to two hosts, a bond of two veths toward a router namespace, a vxlan from the router over a
#: veth to a remote, macvlans in two namespaces on one parent here, a CAN bus
HAND_BUILT = """
ip netns add sw
ip -n sw link set lo up
ip netns add h1
ip -n h1 link set lo up
ip netns add h2
ip -n h2 link set lo up
ip netns add rtr
ip -n rtr link set lo up
ip netns add remote
ip -n remote link set lo up
ip -n sw link add br0 type bridge
ip -n sw link set br0 up
ip -n sw addr add 192.0.2.254/24 dev br0
ip -n sw tuntap add dev tap0 mode tap
ip -n sw link set tap0 master br0
ip -n sw link set tap0 up
ip -n sw link add veth-h1 type veth peer name eth0 netns h1
ip -n sw link set veth-h1 master br0
ip -n sw link set veth-h1 up
ip -n h1 addr add 192.0.2.1/24 dev eth0
ip -n h1 link set eth0 up
ip -n h1 route add 198.51.100.0/24 via 192.0.2.254
ip -n sw link add veth-h2 type veth peer name eth0 netns h2
ip -n sw link set veth-h2 master br0
ip -n sw link set veth-h2 up
ip -n h2 link set eth0 mtu 1400
ip -n h2 link set eth0 up
ip -n h2 link add link eth0 name eth0.10 type vlan id 10
ip -n h2 addr add 10.10.0.2/24 dev eth0.10
ip -n h2 link set eth0.10 up
ip -n sw link add link br0 name br0.10 type vlan id 10
ip -n sw addr add 10.10.0.254/24 dev br0.10
ip -n sw link set br0.10 up
ip -n sw link add bond0 type bond mode active-backup miimon 100
ip -n sw link add up1 type veth peer name up1 netns rtr
ip -n sw link add up2 type veth peer name up2 netns rtr
ip -n sw link set up1 master bond0
ip -n sw link set up2 master bond0
ip -n sw link set bond0 up
ip -n sw addr add 198.51.100.254/24 dev bond0
ip -n rtr link set up1 up
ip -n rtr link set up2 up
ip -n rtr addr add 198.51.100.1/24 dev up1
ip -n rtr link add wan type veth peer name wan netns remote
ip -n rtr addr add 203.0.113.1/24 dev wan
ip -n rtr link set wan up
ip -n remote addr add 203.0.113.2/24 dev wan
ip -n remote link set wan up
ip -n rtr link add vx42 type vxlan id 42 local 203.0.113.1 remote 203.0.113.2 dstport 4789 \
  dev wan
ip -n rtr addr add 172.16.42.1/24 dev vx42
ip -n rtr link set vx42 up
ip -n remote link add vx42 type vxlan id 42 local 203.0.113.2 remote 203.0.113.1 dstport 4789 \
  dev wan
ip -n remote addr add 172.16.42.2/24 dev vx42
ip -n remote link set vx42 up
ip link add lan0 type dummy
ip link set lan0 up
ip link add mv1 link lan0 type macvlan mode bridge
ip link set mv1 netns h1
ip -n h1 addr add 192.168.7.1/24 dev mv1
ip -n h1 link set mv1 up
ip link add mv2 link lan0 type macvlan mode bridge
ip link set mv2 netns h2
ip -n h2 addr add 192.168.7.2/24 dev mv2
ip -n h2 link set mv2 up
ip -n remote link add can0 type vcan
ip -n remote link set can0 up
"""
HAND_NETNS = ["sw", "h1", "h2", "rtr", "remote"]


def _run_script(script: str) -> None:
    for line in script.strip().replace("\\\n", " ").splitlines():
        sh(*line.split())


@pytest.mark.kind("bridge", "tap", "veth", "vlan", "vxlan", "macvlan", "bond", "vcan", "dummy",
                  "netns")
def test_capture_of_a_network_built_by_hand() -> None:
    for kind in ("bridge", "tap", "veth", "vlan", "vxlan", "macvlan", "bond", "vcan", "dummy"):
        require_kind(kind)
    _run_script(HAND_BUILT)
    expected = kernel_state(set())
    kernel = api.open_kernel()
    try:
        data = capture_unowned("byhand", HAND_NETNS, True, kernel, skip_unknown=False)
    finally:
        kernel.close()
    text = to_yaml(data)
    topo = api.load_text(text, "<capture of the hand-built network>")
    kinds = sorted({type(i).kind_name for i in topo.interfaces})
    assert kinds == ["bond", "bridge", "dummy", "macvlan", "tap", "vcan", "veth", "vlan",
                     "vxlan"], text
    # remove it by hand
    for ns in HAND_NETNS:
        sh("ip", "netns", "del", ns)
    sh("ip", "link", "del", "lan0")
    _assert_clean()
    topo.apply()
    try:
        _same(expected, kernel_state(set()), "the network built by hand")
        assert not topo.plan().has_changes
    finally:
        topo.destroy()
    _assert_clean()


def _unowned(name: str, netns: list[str], skip_unknown: bool = False) -> dict[str, Any]:
    kernel = api.open_kernel()
    try:
        return capture_unowned(name, netns, False, kernel, skip_unknown=skip_unknown)
    finally:
        kernel.close()


@pytest.mark.kind("veth", "netns")
def test_capture_unowned_names_a_missing_namespace() -> None:
    require_kind("veth")
    sh("ip", "netns", "add", "hand")
    sh("ip", "-n", "hand", "link", "add", "a0", "type", "veth", "peer", "name", "b0")
    with pytest.raises(CaptureError, match="namespace 'ghost' does not exist"):
        _unowned("x", ["hand", "ghost"])
    data = _unowned("x", ["hand"])
    assert data == {"name": "x", "namespaces": ["hand"], "routes": [], "interfaces": [
        {"name": "a0", "kind": "veth", "netns": "hand",
         "peer": {"name": "b0", "netns": "hand", "state": "down"}, "state": "down"}]}
    api.load_data(data)
    sh("ip", "netns", "del", "hand")


@pytest.mark.kind("veth", "netns")
def test_capture_unowned_names_an_unknown_kind() -> None:
    """A VRF is a kind vnet does not implement; the kernel tier's kernel has it (this
    machine's may not). (Not a tunnel such as sit: loading its module would add its fallback
    device to every namespace made after, the machine's own included.)"""
    require_kind("veth")
    sh("ip", "netns", "add", "hand")
    sh("ip", "-n", "hand", "link", "add", "a0", "type", "veth", "peer", "name", "b0")
    try:
        sh("ip", "-n", "hand", "link", "add", "red", "type", "vrf", "table", "10")
    except CommandError as error:
        pytest.skip(f"kernel lacks vrf, the unknown kind of this test: {error.stderr.strip()}")
    with pytest.raises(CaptureError, match=r"hand/red is a vrf link, a kind vnet does not "
                                           r"implement.*--skip-unknown"):
        _unowned("x", ["hand"])
    data = _unowned("x", ["hand"], skip_unknown=True)
    assert [i["name"] for i in data["interfaces"]] == ["a0"]
    api.load_data(data)
    sh("ip", "netns", "del", "hand")


def test_examples_are_all_covered() -> None:
    assert {p.id for p in ALL_EXAMPLES} == {p.stem for p in EXAMPLES.glob("*.yaml")}
    for stem in UNCAPTURABLE:
        assert (EXAMPLES / f"{stem}.yaml").exists()


ROUTER = """name: router
namespaces:
  - left
  - {name: mid, forwarding: true}
  - right
interfaces:
  - {name: l0, kind: veth, netns: left, addresses: [192.0.2.1/24],
     peer: {name: m0, netns: mid, addresses: [192.0.2.254/24]}}
  - {name: r0, kind: veth, netns: right, addresses: [198.51.100.1/24],
     peer: {name: m1, netns: mid, addresses: [198.51.100.254/24]}}
routes:
  - {netns: left, to: default, via: 192.0.2.254}
  - {netns: right, to: default, via: 198.51.100.254}
checks:
  - {from: left, ping: 198.51.100.1}
"""


@pytest.mark.kind("veth", "netns")
def test_capture_keeps_a_router_namespaces_forwarding(tmp_path: Path) -> None:
    """A namespace that forwards is captured as {name, forwarding: true}, so the capture
    applied builds a router again (and the file plans nothing)."""
    require_kind("veth")
    path = tmp_path / "router.yaml"
    path.write_text(ROUTER)
    data = _round_trip(path, tmp_path)
    assert {"name": "mid", "forwarding": True} in data["namespaces"], data["namespaces"]
    assert "left" in data["namespaces"] and "right" in data["namespaces"]
