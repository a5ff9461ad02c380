"""Every examples/*.yaml, for real: apply, show, plan (no change), apply again (nothing done),
destroy (nothing left). New example files are covered as they are added."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import vnet
from vnet import api
from vnet.kinds import registry

from .helpers import ip_json, require_kind, sh

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _kinds_of(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text()) or {}
    kinds = [str(i["kind"]) for i in data.get("interfaces", []) if i.get("kind")]
    if data.get("namespaces"):
        kinds.append("netns")
    return sorted(set(kinds))


def _param(path: Path) -> object:
    return pytest.param(path, id=path.stem, marks=[pytest.mark.kind(*_kinds_of(path))])


ALL_EXAMPLES = [_param(p) for p in sorted(EXAMPLES.glob("*.yaml"))]

#: the kinds this machine's kernel has (docs/testing.md)
HOST_KINDS = {"bridge", "veth", "vxlan", "macvlan", "macvtap", "ifb", "tun", "tap", "netns"}


def host_proven(path: Path) -> bool:
    """Whether example `path` needs nothing this machine's kernel lacks (no other kind, no
    netem, no bridge VLAN filtering): the live tier proves it on this machine's kernel."""
    text = path.read_text()
    return (set(_kinds_of(path)) <= HOST_KINDS and "impair:" not in text
            and "vlan_filtering: true" not in text)


def kernel_tier_param(path: Path) -> object:
    """`_param(path)`, run by the kernel tier only when the example needs its kernel: for
    the tests that cost half a minute an example there (each `vnet` start costs seconds
    under TCG), where an example of this machine's kinds would prove nothing the live tier
    has not."""
    param = _param(path)
    if not host_proven(path):
        return param
    return pytest.param(*param.values, id=param.id, marks=[  # type: ignore[attr-defined]
        *param.marks,  # type: ignore[attr-defined]
        pytest.mark.live_tier_only("its kinds are this machine's own: the live tier proves "
                                   "it")])


#: every example; those of this machine's kinds alone in the live tier only (`kernel_tier_param`)
EXAMPLES_FOR_THE_KERNEL = [kernel_tier_param(p) for p in sorted(EXAMPLES.glob("*.yaml"))]


def _require_kinds(path: Path) -> None:
    for kind in _kinds_of(path):
        if kind == "netns":
            continue  # every kernel here has namespaces; `ip link add type netns` is no probe
        if kind not in registry():
            pytest.skip(f"vnet does not implement {kind} yet ({path.name} uses it)")
        require_kind(kind)
    if "impair:" in path.read_text():
        from .test_impair import require_netem
        require_netem()
    if "vlan_filtering: true" in path.read_text():
        from .test_bridge_vlan import require_vlan_filtering
        require_vlan_filtering()


def _assert_clean() -> None:
    assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]
    assert ip_json("netns", "list") == []


def test_examples_found() -> None:
    assert ALL_EXAMPLES, f"no examples under {EXAMPLES}"


@pytest.mark.parametrize("path", ALL_EXAMPLES)
def test_example_lifecycle(path: Path) -> None:
    _require_kinds(path)
    topo = vnet.load_file(path)
    try:
        applied = topo.apply()
        assert applied.has_changes

        rows = {(row.netns, row.name) for row in api.show(topo.name)}
        missing = [end.key for end in topo.endpoints() if end.key not in rows]
        assert not missing, f"vnet show {topo.name} lacks {missing}"

        again = topo.plan()
        assert not again.has_changes, [f"{a.verb} {a.subject}: {a.reason}" for a in again.actions]
        second = topo.apply()
        assert second.actions == [], [f"{a.verb} {a.subject}" for a in second.actions]
    finally:
        topo.destroy()
    _assert_clean()


def _ping(netns: str, address: str) -> None:
    sh("ping", "-c", "2", "-i", "0.2", "-W", "1", address, netns=netns)


@pytest.mark.kind("bridge", "veth", "netns")
def test_bridge_example_hosts_reach_each_other() -> None:
    path = EXAMPLES / "bridge.yaml"
    _require_kinds(path)
    with vnet.load_file(path):
        for peer in (2, 3):
            _ping("h1", f"192.0.2.{peer}")
            _ping("h1", f"2001:db8::{peer}")
        _ping("h3", "192.0.2.2")
    _assert_clean()


@pytest.mark.kind("bridge", "veth", "vxlan", "netns")
def test_lab_example_overlay_reaches_remote() -> None:
    path = EXAMPLES / "lab.yaml"
    _require_kinds(path)
    with vnet.load_file(path):
        _ping("h1", "192.0.2.3")
        _ping("h3", "198.51.100.2")   # the underlay
        _ping("h3", "203.0.113.2")    # the overlay, through the tunnel
        _ping("remote", "203.0.113.1")
    _assert_clean()
