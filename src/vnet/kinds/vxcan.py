"""vxcan — a CAN tunnel pair: a frame sent on one end is received on the other, like a veth
for CAN. It gives a namespace (a container) its own CAN bus.

`ip link add vxcan1 netns net1 type vxcan peer name vxcan2 netns net2`. The other end is
described under `peer:`, as for veth (see veth.py); both ends are made by one request, the
peer's ifinfomsg carried in VXCAN_INFO_PEER (pyroute2 knows this only for veth, so the layout
is declared here in `info_nla`).
"""

from __future__ import annotations

from typing import Any, Literal

from . import register
from .base import PROBE_PEER
from .veth import Paired


@register
class Vxcan(Paired):
    kind: Literal["vxcan"]
    listed = 130
    no_netem = ("a CAN tunnel carries CAN frames, not the IP traffic netem delays and "
                "drops; impair the IP link instead")
    probe = {"peer": {"name": PROBE_PEER}}
    peer_nla = "VXCAN_INFO_PEER"
    info_nla = (("VXCAN_INFO_UNSPEC", "none"), ("VXCAN_INFO_PEER", "peer"))
    use_when = ("Give a namespace or container its own CAN bus that reaches another\n"
                "namespace (often a host-side vcan gateway): the veth of CAN.")

    @classmethod
    def capture_default_mtu(cls, live: Any, netns_state: Any, parent: Any) -> int | None:
        return 72  # CANFD_MTU
