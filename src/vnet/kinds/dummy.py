"""dummy — a device that sends nothing anywhere; its addresses answer locally.

`ip link add dummy1 type dummy; ip addr add 1.1.1.1/24 dev dummy1; ip link set dummy1 up`.
No kind options: the common fields (addresses, mtu, mac, state) are all it takes.
"""

from __future__ import annotations

from typing import Literal

from . import register
from .base import InterfaceBase


@register
class Dummy(InterfaceBase):
    kind: Literal["dummy"]
    listed = 160
    modules = ("dummy numdummies=0",)  # no dummy0 made as it loads
    use_when = ("Give a namespace addresses that always answer and never go down (service or\n"
                "router IDs, routing tests) without any cable behind them.")
