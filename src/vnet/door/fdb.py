"""Forwarding-database operations (static FDB entries: VXLAN head-end replication).

A mixin of `Netlink`: methods named `_op_fdb_<verb>(self, netns, **args)` are reached through
`Netlink.execute(Request("fdb.<verb>", ...))`. Use `self._ipr(netns)` and `self._index(...)`.

Entries are what `bridge fdb append MAC dev DEV dst IP` makes: permanent, on the device itself
(NTF_SELF). `append`, not `add`: several entries may share a MAC (the all-zeros MAC once per
remote VTEP), which `add` would refuse or overwrite.
"""

from __future__ import annotations

import errno
import functools
from typing import Any

from ..observe import FdbState, LinkState


@functools.cache
def keeps_fdb(kernel_kind: str | None) -> bool:
    """Whether the kind declares static FDB entries (its class has an `fdb` field): only
    links of such kinds have their entries read (others are never asked: a dump costs time)."""
    from ..kinds import KEEPS_FDB
    return kernel_kind in KEEPS_FDB


class FdbOps:
    """FDB entries over rtnetlink (AF_BRIDGE neighbours). Refusals reach `execute`."""

    _ipr: Any
    _index: Any

    def _op_fdb_add(self, netns: str | None, ifname: str, mac: str, dst: str) -> None:
        self._ipr(netns).fdb("append", ifindex=self._index(netns, ifname), lladdr=mac, dst=dst)

    def _op_fdb_del(self, netns: str | None, ifname: str, mac: str, dst: str) -> None:
        ipr = self._ipr(netns)
        found = ipr.link_lookup(ifname=ifname)
        if not found:  # gone with its device: the goal holds
            return
        from pyroute2.netlink.exceptions import NetlinkError
        try:
            ipr.fdb("del", ifindex=found[0], lladdr=mac, dst=dst)
        except NetlinkError as exc:
            if exc.code != errno.ENOENT:
                raise


def read_fdb(rt: Any, links: dict[str, LinkState]) -> list[FdbState]:
    """The FDB entries with a destination of the links whose kind keeps static entries (vxlan);
    no dump at all when a namespace has no such link. Read over the lean socket `rt`
    (rtnl.dump_fdb): pyroute2's dump imported its IPRoute (40 ms) for a plan of a VXLAN."""
    names = {link.index: link.name for link in links.values() if keeps_fdb(link.kind)}
    if not names:
        return []
    from .rtnl import dump_fdb
    return [FdbState(ifname=names[index], mac=mac, dst=dst, state=state)
            for index, mac, dst, state in dump_fdb(rt)
            if index in names and dst is not None]
