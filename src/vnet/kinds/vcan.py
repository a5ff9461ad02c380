"""vcan — a local virtual CAN bus: every frame written to it is read back by the other sockets
bound to it (the CAN core loops it back), with no hardware.

`ip link add dev vcan1 type vcan`. No kind options; the MTU is 72 (CAN FD) as the kernel
makes it.
"""

from __future__ import annotations

from typing import Any, Literal

from . import register
from .base import InterfaceBase


@register
class Vcan(InterfaceBase):
    kind: Literal["vcan"]
    listed = 120
    no_netem = ("a CAN bus carries CAN frames, not the IP traffic netem delays and drops; "
                "impair the IP link instead")
    use_when = ("Test CAN software (SocketCAN, can-utils) without a CAN adapter: a bus in\n"
                "one namespace that every local CAN socket on it shares.")

    @classmethod
    def capture_default_mtu(cls, live: Any, netns_state: Any, parent: Any) -> int | None:
        return 72  # CANFD_MTU

    def ip_commands(self) -> list[list[str]]:
        cmd = ["ip", "link", "add", "dev", self.name]
        if self.netns:
            cmd += ["netns", self.netns]
        return [[*cmd, "type", "vcan"]]
