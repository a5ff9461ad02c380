"""nlmon — a capture point for the netlink messages of its namespace.

`ip link add nlmon0 type nlmon; ip link set nlmon0 up`, then `tcpdump -i nlmon0`: every
netlink message any socket of that namespace sends or receives shows up as a packet (the
kernel taps netlink per namespace). No kind options.
"""

from __future__ import annotations

from typing import Any, Literal

from . import register
from .base import InterfaceBase


@register
class Nlmon(InterfaceBase):
    kind: Literal["nlmon"]
    listed = 150
    no_netem = ("an nlmon device only shows netlink messages to a capture; it sends "
                "nothing to impair")
    use_when = ("Watch what tools say to the kernel over netlink: capture on it with\n"
                "tcpdump or wireshark to debug ip, NetworkManager or vnet itself.")

    @classmethod
    def capture_default_mtu(cls, live: Any, netns_state: Any, parent: Any) -> int | None:
        return 3776  # NLMSG_GOODSIZE with 4 KiB pages
