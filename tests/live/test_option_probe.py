"""A kind option the running kernel ignores stops `plan` and `apply` before any change, with
the option and the kernel's version named (kinds_probe.lacking, door/kind_probe.py's
_probe_options): an older kernel takes a link with an attribute newer than itself and drops
the attribute without an error, so the probe makes a copy of the entry in a throwaway
namespace and reads it back.

No kernel here is older than an option vnet speaks, so the test makes the real kernel ignore
one the way an older kernel would: the bridge's declared attribute layout (info_nla) is moved
so that `mcast_igmp_version` goes out as an attribute number above the kernel's last bridge
attribute, which the kernel's parser skips (as it skips an attribute of a newer kernel). The
rest of the path is the real one: the forked probe, the throwaway namespace, the kernel's
answer, the read-back."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import vnet
from vnet import api
from vnet.door import decode
from vnet.errors import UnsupportedError
from vnet.kinds.bridge import Bridge

from .helpers import CommandError, ip_json, require_kind, sh

pytestmark = pytest.mark.kind("bridge", "vxlan", "macvlan", "veth")

TEXT = """
name: optprobe
namespaces: [{name: op}]
interfaces:
  - {kind: bridge, name: br0, netns: op, stp_state: true, forward_delay: 400,
     mcast_igmp_version: 3, no_linklocal_learn: true}
  - {kind: vxlan, name: vx0, netns: op, id: 7, dstport: 4789, ttl: 9, learning: false,
     gbp: true}
  - {kind: veth, name: v0, netns: op, peer: {name: v1, netns: op}}
  - {kind: macvlan, name: mv0, netns: op, link: v0, link_netns: op, mode: private}
"""


@pytest.fixture
def future_igmp_version(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The bridge's layout with IFLA_BR_MCAST_IGMP_VERSION sent as attribute 200 (the
    kernel's parser skips numbers above its last); its real number still decodes as the
    option, so the read-back sees what the kernel kept: its own default."""
    layout = list(Bridge.info_nla)
    kind = dict(layout)["IFLA_BR_MCAST_IGMP_VERSION"]
    layout += [(f"IFLA_BR_UNUSED_{n}", "none") for n in range(len(layout), 200)]
    layout.append(("IFLA_BR_MCAST_IGMP_VERSION", kind))
    monkeypatch.setattr(Bridge, "info_nla", tuple(layout))
    decode.info_layout.cache_clear()
    yield
    decode.info_layout.cache_clear()


def test_options_the_kernel_keeps_pass_the_probe() -> None:
    """Every option of the file reads back from the throwaway copy: the plan goes on, and
    the probe's answers are cached per boot (a second plan does not probe them again)."""
    for kind in ("bridge", "vxlan", "macvlan", "veth"):
        require_kind(kind)
    topo = vnet.load_text(TEXT)
    plan = api.plan(topo)
    assert plan.has_changes  # planned, not stopped
    from vnet import kinds_probe
    cached = kinds_probe._read_cache(kinds_probe._cache_path())
    for name in ("bridge.mcast_igmp_version", "bridge.stp_state", "vxlan.gbp",
                 "vxlan.ttl", "macvlan.mode"):
        assert cached[kinds_probe.option_name(*name.split("."))] == [True, ""], name
    # the probe left nothing: not in the throwaway namespace's parent, not here
    assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]


def test_an_option_the_kernel_ignores_stops_plan_and_apply(future_igmp_version: None) -> None:
    require_kind("bridge")
    topo = vnet.load_text(TEXT)
    with pytest.raises(UnsupportedError) as caught:
        api.plan(topo)
    message = str(caught.value)
    assert f"this kernel (Linux {os.uname().release}) does not keep the bridge option " \
           "`mcast_igmp_version` (set to 3, the kernel reported 2), which op/br0 sets" \
           in message, message
    assert "leave it out, or use a newer kernel" in message
    # only that option: the others of the same entry, and of the other kinds, read back
    for other in ("stp_state", "forward_delay", "gbp", "ttl", "mode"):
        assert f"`{other}`" not in message, message
    with pytest.raises(UnsupportedError):
        api.apply(topo)
    assert not os.path.exists("/run/netns/op")  # apply stopped before any change
    assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]


def test_an_option_the_kernel_refuses_as_unsupported_is_named_at_plan() -> None:
    """`vlan_filtering: false` on a kernel built without bridge VLAN filtering (this
    machine's): the kernel refuses the attribute itself (EOPNOTSUPP), even set to 0; the
    probe names the option. On a kernel that has it (the kernel tier's) the plan goes on."""
    require_kind("bridge")
    topo = vnet.load_text("name: vf\ninterfaces:\n"
                          "  - {kind: bridge, name: br0, vlan_filtering: false}\n")
    try:
        sh("ip", "link", "add", "vnetprobebr0", "type", "bridge", "vlan_filtering", "0")
    except CommandError:
        with pytest.raises(UnsupportedError) as caught:
            api.plan(topo)
        assert "does not support the bridge option `vlan_filtering` (the kernel refused " \
               "it: Operation not supported), which br0 sets" in str(caught.value)
    else:
        sh("ip", "link", "del", "vnetprobebr0")
        assert api.plan(topo).has_changes
