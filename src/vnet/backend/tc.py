"""Traffic-control operations (qdiscs, filters, mirred redirect to an IFB).

A mixin of `Netlink`: methods named `_op_tc_<verb>(self, netns, **args)` are reached through
`Netlink.execute(Request("tc.<verb>", ...))`. Use `self._ipr(netns)` and `self._index(...)`.
"""

from __future__ import annotations


class TcOps:
    pass
