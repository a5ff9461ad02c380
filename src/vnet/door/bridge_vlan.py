"""Bridge VLAN filtering: the VLANs of bridge ports and of bridges themselves.

A mixin of `Netlink`: `_op_bridge_vlan_<verb>(self, netns, **args)` are reached through
`Netlink.execute(Request("bridge_vlan.<verb>", ...))`. They speak what `bridge vlan add|del
vid V dev X [pvid] [untagged] [self]` sends: RTM_SETLINK / RTM_DELLINK of family AF_BRIDGE
with IFLA_AF_SPEC { IFLA_BRIDGE_VLAN_INFO {flags, vid} [, IFLA_BRIDGE_FLAGS SELF] }. A port's
request goes to its master; `self` addresses the bridge device's own VLANs.

Both ops are idempotent (add over an existing vid sets its flags; del of an absent vid or
device is done), so a plan made before a port joined its bridge, or before the kernel gave it
the default PVID, still converges and undoes cleanly.
"""

from __future__ import annotations

import errno
from typing import Any

from ..observe import LinkState

BRIDGE_VLAN_INFO_PVID = 0x2
BRIDGE_VLAN_INFO_UNTAGGED = 0x4
#: the flags a VLAN entry keeps in vnet's state (MASTER/BRENTRY/range bits are transport)
VLAN_FLAG_MASK = BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED
BRIDGE_FLAGS_SELF = 2
RTEXT_FILTER_BRVLAN = 2
AF_BRIDGE = 7


class BridgeVlanOps:
    """Per-port (and bridge `self`) VLAN entries over rtnetlink. Refusals reach `execute`."""

    _ipr: Any
    _index: Any

    def _vlan_request(self, command: str, netns: str | None, ifname: str, vids: list[int],
                      flags: int, self_: bool) -> None:
        from pyroute2.netlink.exceptions import NetlinkError
        ipr = self._ipr(netns)
        found = ipr.link_lookup(ifname=ifname)
        if not found and command == "del":
            return  # gone with its device: the goal holds
        index = found[0] if found else self._index(netns, ifname)
        extra: dict[str, Any] = {"vlan_flags": BRIDGE_FLAGS_SELF} if self_ else {}
        # one message per vid: pyroute2 0.9.7 drops the flags of a range request
        for vid in range(vids[0], vids[-1] + 1):
            try:
                ipr.vlan_filter(command, index=index, vlan_info={"vid": vid, "flags": flags},
                                **extra)
            except NetlinkError as exc:
                if command == "del" and exc.code == errno.ENOENT:
                    continue
                raise

    def _op_bridge_vlan_add(self, netns: str | None, ifname: str, vids: list[int],
                            pvid: bool = False, untagged: bool = False,
                            self_: bool = False) -> None:
        flags = (BRIDGE_VLAN_INFO_PVID if pvid else 0) | \
            (BRIDGE_VLAN_INFO_UNTAGGED if untagged else 0)
        self._vlan_request("add", netns, ifname, vids, flags, self_)

    def _op_bridge_vlan_del(self, netns: str | None, ifname: str, vids: list[int],
                            self_: bool = False) -> None:
        self._vlan_request("del", netns, ifname, vids, 0, self_)


def read_bridge_vlans(ipr: Any, links: dict[str, LinkState]) -> dict[str, dict[int, int]]:
    """ifname -> {vid: PVID|UNTAGGED flags} of every bridge port and bridge in a namespace
    (`bridge vlan show`); no dump at all when the namespace has no bridge."""
    if not any(link.kind == "bridge" for link in links.values()):
        return {}
    names = {link.index: link.name for link in links.values()}
    out: dict[str, dict[int, int]] = {}
    for msg in ipr.get_vlans():
        name = names.get(msg["index"])
        spec = msg.get_attr("IFLA_AF_SPEC")
        if name is None or spec is None:
            continue
        entries = out.setdefault(name, {})
        for info in spec.get_attrs("IFLA_BRIDGE_VLAN_INFO"):
            entries[int(info["vid"])] = int(info["flags"]) & VLAN_FLAG_MASK
    return out
