"""Forwarding-database operations (static FDB entries: VXLAN head-end replication).

A mixin of `Netlink`: methods named `_op_fdb_<verb>(self, netns, **args)` are reached through
`Netlink.execute(Request("fdb.<verb>", ...))`. Use `self._ipr(netns)` and `self._index(...)`.
"""

from __future__ import annotations


class FdbOps:
    pass
