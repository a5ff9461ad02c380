"""macvtap — a macvlan with a /dev/tapN character device (N = its ifindex) for QEMU/KVM.

`ip link add link eth0 name macvtap0 type macvtap mode bridge`. Same modes and options as
macvlan (see macvlan.py), `bcqueuelen` among them; a VM opens /dev/tapN and its frames
leave through the parent.
"""

from __future__ import annotations

from typing import Literal

from . import register
from .base import PROBE_PARENT
from .macvlan import MacvlanLike, _layout


@register
class Macvtap(MacvlanLike):
    kind: Literal["macvtap"]
    listed = 80
    probe = {"link": PROBE_PARENT}
    nla_prefix = "IFLA_MACVTAP_"
    info_nla = _layout("IFLA_MACVTAP_")
    use_when = ("Plug a VM straight into a host NIC: QEMU opens /dev/tapN and the guest gets\n"
                "its own MAC on the wire, no bridge or tap+bridge pair needed.")
    options_map = MacvlanLike._options("IFLA_MACVTAP_")
