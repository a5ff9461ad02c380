"""Apply converges or says why, on the real kernel: bridge timers it rounds to its ticks plan
nothing afterwards; a vxlan MTU it clamps to its underlay's fails the apply with the field, the
value asked and the value kept, and leaves nothing behind. And the property behind it: for
generated valid files of this machine's kinds, apply, then plan is empty, then destroy leaves
nothing."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vnet import cli

from .helpers import ip_json, kernel_tier, require_kind, sh


def _vnet(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _leftovers() -> list[str]:
    """What is there besides a fresh namespace's lo: links and named namespaces."""
    links = [link["ifname"] for link in ip_json("link", "show") if link["ifname"] != "lo"]
    spaces = sh("ip", "netns", "list").split()
    return links + [f"netns {n}" for n in spaces]


ROUNDED = """
name: ticks
namespaces: [sw]
interfaces:
  - {name: br0, kind: bridge, netns: sw, forward_delay: 755, hello_time: 101, max_age: 2001,
     ageing_time: 30001}
"""


@pytest.mark.kind("bridge")
def test_rounded_bridge_timers_converge(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    require_kind("bridge")
    path = tmp_path / "ticks.yaml"
    path.write_text(ROUNDED)
    from vnet.door.ticks import kernel_hz
    from vnet.kinds.base import COMMON_HZ, clock_t_kept
    hz = kernel_hz()  # None where no build configuration is readable: any common rate
    code, out, err = _vnet(capsys, "plan", "-v", str(path))
    assert code == 2, err
    if hz is not None and clock_t_kept(755, hz) != 755:  # it rounds: the plan says so
        assert "the kernel keeps forward_delay 755 as" in out + err
    code, _, err = _vnet(capsys, "apply", str(path))
    assert code == 0, err
    data = ip_json("-d", "link", "show", "br0", netns="sw")[0]["linkinfo"]["info_data"]
    for option, asked in (("forward_delay", 755), ("hello_time", 101), ("max_age", 2001),
                          ("ageing_time", 30001)):
        assert data[option] in {clock_t_kept(asked, rate) for rate in
                                ((hz,) if hz else COMMON_HZ)}, option
    code, out, err = _vnet(capsys, "plan", str(path))
    assert code == 0, out + err  # nothing to change: the rounded values compare equal
    assert _vnet(capsys, "destroy", "ticks")[0] == 0
    assert _leftovers() == []


CLAMPED = """
name: clamp
namespaces: [n1]
interfaces:
  - {name: under0, kind: veth, netns: n1, peer: {name: under1, netns: n1}}
  - {name: vx0, kind: vxlan, netns: n1, id: 5, dev: under0, remote: 10.0.0.2, dstport: 4789,
     mtu: 65500, addresses: [192.0.2.1/24]}
"""


@pytest.mark.kind("vxlan", "veth")
def test_clamped_vxlan_mtu_fails_and_rolls_back(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    require_kind("vxlan")
    path = tmp_path / "clamp.yaml"
    path.write_text(CLAMPED)
    code, _, err = _vnet(capsys, "apply", str(path))
    assert code == 1
    assert "apply failed" in err and "link n1/vx0 (vxlan) mtu: asked 65500, kept 1450" in err
    assert "the kernel is as it was before apply" in err
    assert _leftovers() == []
    code, out, _ = _vnet(capsys, "apply", "--json", str(path))
    assert code == 1 and json.loads(out)["undo_failures"] == []
    # told the underlay's MTU, validation refuses it before anything is done
    path.write_text(CLAMPED.replace("under0, kind: veth,", "under0, kind: veth, mtu: 1500,")
                    .replace("65500", "1460"))
    code, _, err = _vnet(capsys, "apply", str(path))
    assert code == 1 and "the kernel would keep 1450" in err
    assert _leftovers() == []


@pytest.mark.kind("veth")
def test_unspecified_address_is_refused_before_apply(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "zero.yaml"
    path.write_text("name: zero\ninterfaces:\n  - {name: v0, kind: veth, peer: {name: v1},"
                    " addresses: [0.0.0.0/8]}\n")
    code, _, err = _vnet(capsys, "apply", str(path))
    assert code == 1 and "unspecified address" in err
    assert _leftovers() == []


# ---- the property: generated valid files converge ------------------------------------------

NAMESPACES = ["n0", "n1", "n2"]


@st.composite
def topologies(draw: st.DrawFn) -> dict[str, Any]:
    """A small valid topology of this machine's kinds: namespaces, bridges with options and
    ports, veth pairs with MTUs and addresses, a vxlan over a veth, a macvlan on one, an IFB,
    a tun or tap, routes through the addresses."""
    spaces = NAMESPACES[:draw(st.integers(1, 3))]
    where = st.sampled_from([None, *spaces])
    subnets = iter(range(1, 250))
    names = iter(f"if{i}" for i in range(100))
    interfaces: list[dict[str, Any]] = []
    #: (netns, name, mtu, has_v4_subnet) of ends that can carry something
    ends: list[tuple[str | None, str, int, int | None]] = []
    bridges: dict[str | None, list[str]] = {}

    def common(entry: dict[str, Any], ns: str | None, mtu_max: int = 9000) -> int:
        if ns is not None:
            entry["netns"] = ns
        mtu = draw(st.one_of(st.none(), st.integers(min(1280, mtu_max), mtu_max)))
        if mtu is not None:
            entry["mtu"] = mtu
        if draw(st.booleans()):
            entry["state"] = "down"
        return mtu or 1500

    for _ in range(draw(st.integers(0, 2))):
        ns = draw(where)
        br: dict[str, Any] = {"name": next(names), "kind": "bridge"}
        stp = draw(st.booleans())
        br["stp_state"] = stp
        br["forward_delay"] = draw(st.integers(200 if stp else 0, 3000))
        br["hello_time"] = draw(st.integers(100, 1000))
        br["max_age"] = draw(st.integers(600, 4000))
        br["ageing_time"] = draw(st.integers(10, 100_000))
        br["priority"] = draw(st.integers(0, 65535))
        br["mcast_snooping"] = draw(st.booleans())
        common(br, ns)
        interfaces.append(br)
        bridges.setdefault(ns, []).append(br["name"])

    def address(entry: dict[str, Any]) -> int | None:
        if not draw(st.booleans()):
            return None
        net = next(subnets)
        entry["addresses"] = [f"10.{net}.0.1/24"]
        if draw(st.booleans()):
            entry["addresses"].append(f"2001:db8:{net:x}::1/64")
        return net

    for _ in range(draw(st.integers(1, 3))):
        ns, pns = draw(where), draw(where)
        veth: dict[str, Any] = {"name": next(names), "kind": "veth"}
        mtu = common(veth, ns)
        net = address(veth)
        peer: dict[str, Any] = {"name": next(names)}
        pmtu = common(peer, pns)
        if bridges.get(pns) and draw(st.booleans()):
            peer["master"] = draw(st.sampled_from(bridges[pns]))
        veth["peer"] = peer
        interfaces.append(veth)
        ends.append((ns, veth["name"], mtu, net if veth.get("state") != "down" else None))
        ends.append((pns, peer["name"], pmtu, None))

    # a bridge port cannot be a macvlan's parent too (both take the device's receive
    # handler: EBUSY, which validation does not yet say; the kernel refuses, apply rolls back)
    ports = {(i["peer"].get("netns"), i["peer"]["name"]) for i in interfaces
             if i["kind"] == "veth" and i["peer"].get("master")}
    stacked = list(ends)
    parents = [e for e in ends if e[:2] not in ports]
    if stacked and draw(st.booleans()):
        ns, dev, mtu, _ = draw(st.sampled_from(stacked))
        vx: dict[str, Any] = {"name": next(names), "kind": "vxlan", "id": draw(
            st.integers(0, 16_777_215)), "dev": dev, "remote": "10.255.0.2",
            "dstport": draw(st.sampled_from([4789, 8472]))}
        common(vx, ns, mtu_max=mtu - 50)
        address(vx)
        interfaces.append(vx)
    if parents and draw(st.booleans()):
        ns, parent, mtu, _ = draw(st.sampled_from(parents))
        mv: dict[str, Any] = {"name": next(names), "kind": "macvlan", "link": parent,
                              "mode": draw(st.sampled_from(["bridge", "private", "vepa"]))}
        if ns is not None:
            mv["link_netns"] = ns
        common(mv, draw(where), mtu_max=mtu)
        interfaces.append(mv)
    if draw(st.booleans()):
        ifb: dict[str, Any] = {"name": next(names), "kind": "ifb"}
        common(ifb, draw(where))
        interfaces.append(ifb)
    if draw(st.booleans()):
        tun: dict[str, Any] = {"name": next(names), "kind": draw(st.sampled_from(["tun", "tap"]))}
        common(tun, draw(where))
        address(tun)
        interfaces.append(tun)

    routes = []
    for ns, _dev, _, net in ends:
        if net is not None and draw(st.booleans()):
            route: dict[str, Any] = {"to": f"198.51.{net}.0/24", "via": f"10.{net}.0.2"}
            if ns is not None:
                route["netns"] = ns
            routes.append(route)
    return {"name": "prop", "namespaces": spaces, "interfaces": interfaces, "routes": routes}


@pytest.mark.kind("bridge", "veth", "vxlan", "macvlan", "ifb", "tun", "tap")
def test_generated_files_converge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind in ("bridge", "veth", "vxlan", "macvlan", "ifb", "tun", "tap"):
        require_kind(kind)
    path = tmp_path / "prop.yaml"

    # VNET_CONVERGE_EXAMPLES runs more (a deeper search than CI's, by hand)
    examples = int(os.environ.get("VNET_CONVERGE_EXAMPLES", 6 if kernel_tier() else 25))

    @settings(max_examples=examples, deadline=None, derandomize=True,
              database=None, suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.function_scoped_fixture])
    @given(topologies())
    def converges(topology: dict[str, Any]) -> None:
        text = yaml.safe_dump(topology, sort_keys=False)
        path.write_text(text)
        try:
            code, out, err = _vnet(capsys, "apply", str(path))
            assert code == 0, f"apply failed:\n{text}\n{err}"
            code, out, err = _vnet(capsys, "plan", str(path))
            assert code == 0, f"plan after apply is not empty:\n{text}\n{out}{err}"
        finally:
            code, _, err = _vnet(capsys, "destroy", "prop")
        assert code == 0, err
        assert _leftovers() == [], text

    converges()


def test_generator_makes_valid_files() -> None:
    """Pure: every generated file loads (the property's premise), without a kernel."""
    import vnet

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(topologies())
    def loads(topology: dict[str, Any]) -> None:
        vnet.load_data(topology)
        for entry in topology["interfaces"]:
            for text in entry.get("addresses", []):
                assert not ipaddress.ip_interface(text).ip.is_unspecified

    loads()
