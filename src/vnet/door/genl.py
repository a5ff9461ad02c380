"""Generic netlink families the door speaks (MACsec's SAs, WireGuard's keys and peers): a
socket bound to the family inside a namespace, and one request sent with an acknowledgement.
Refusals reach `execute` as pyroute2's NetlinkError."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import KernelError


@contextmanager
def family_socket(netns: str | None, family: str, msg_class: Any,
                  lacking: str) -> Iterator[Any]:
    """A generic netlink socket bound to `family` in `netns`, closed after use (an open
    socket would keep a deleted namespace alive). A kernel without the family: KernelError
    EOPNOTSUPP saying `lacking` ("the kernel has no MACsec support")."""
    from pyroute2.netlink.generic import GenericNetlinkSocket
    sock = GenericNetlinkSocket(netns=netns, flags=0) if netns else GenericNetlinkSocket()
    try:
        try:
            sock.bind(family, msg_class)
        except Exception:  # noqa: BLE001 - NetlinkError ENOENT: the family is not there
            raise KernelError(f"open generic netlink family {family}", errno.EOPNOTSUPP,
                              lacking) from None
        yield sock
    finally:
        sock.close()


def send(netns: str | None, family: str, msg_class: Any, lacking: str, msg: Any) -> None:
    """`msg` sent to `family` in `netns`, waiting for the kernel's acknowledgement."""
    from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
    with family_socket(netns, family, msg_class, lacking) as sock:
        sock.nlm_request(msg, msg_type=sock.prid, msg_flags=NLM_F_REQUEST | NLM_F_ACK)
