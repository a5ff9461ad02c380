"""Which link groups a run of link deletions becomes: pure, shared by every kernel behind the
door, so the choice is tested without root.

Deleting links one by one costs the kernel a synchronisation each; `ip link del group N`
removes many in one go, and only exactness decides which group:
- a group whose every link is going (a topology's own group, which vnet gives the links it
  creates, when the whole topology goes) is deleted as it is;
- the other links are first moved into a group no link of the namespace uses, then that group
  is deleted. Of a pair whose ends are both here and both going, one end moves: the kernel
  deletes its peer with it.
A group that also holds a link not going is never deleted whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..actions import Request
from ..datatypes import datatype, field

#: where the search for a free deletion group starts (far from the groups people pick)
FREE_GROUP_BASE = 0x7F000000


@datatype(slots=True)
class Member:
    """What the choice needs to know of one link of the namespace."""

    index: int
    name: str
    group: int
    #: the ifindex of its pair's other end when that end is in this namespace
    peer: int | None = None
    #: the ifindex of its master, if any
    master: int | None = None
    up: bool = False


@datatype
class GroupDeletion:
    """The run of deletions as group deletions."""

    #: how many of the actions are carried out (the first naming a missing link ends the run)
    actions: int
    #: the request naming a link that is not there (and must be), if one ends the run
    missing: Request | None
    #: ifindexes of every link that goes (pairs' other ends included)
    going: set[int] = field(default_factory=set)
    #: groups deleted as they are
    whole: list[int] = field(default_factory=list)
    #: links moved into `free_group` first, in order
    move: list[int] = field(default_factory=list)
    #: the group no link of the namespace uses
    free_group: int = 0
    #: masters going with their ports, set down first (a running bridge recomputes its state
    #: for each port it loses)
    quiet: list[int] = field(default_factory=list)


def choose_groups(links: Sequence[Member], batches: Sequence[Sequence[Request]],
                  seed: int = 0) -> GroupDeletion:
    """The group deletions that remove exactly the links `batches` (actions of `link.del`
    requests in one namespace) name, and what the kernel deletes along with them."""
    by_name = {link.name: link for link in links}
    by_index = {link.index: link for link in links}
    missing: Request | None = None
    count = len(batches)
    for pos, batch in enumerate(batches):
        missing = next((req for req in batch if req.args["ifname"] not in by_name
                        and not req.args.get("missing_ok")), None)
        if missing is not None:
            count = pos
            break
    going = {by_name[req.args["ifname"]].index for batch in batches[:count] for req in batch
             if req.args["ifname"] in by_name}
    # a pair's other end here goes with it, whatever it was asked
    going |= {peer for i in going if (peer := by_index[i].peer) is not None and peer in by_index}
    members: dict[int, set[int]] = {}
    for link in links:
        members.setdefault(link.group, set()).add(link.index)
    whole = sorted(g for g in {by_index[i].group for i in going}
                   if g != 0 and members[g] <= going)
    covered = {i for g in whole for i in members[g]}
    free = next(g for g in range(FREE_GROUP_BASE + seed % 65536, 0xFFFFFFFF) if g not in members)
    move: dict[int, None] = {}  # in order, and a set: membership is asked per link
    for index in sorted(going - covered):
        peer = by_index[index].peer
        if peer is not None and (peer in covered or peer in move):
            continue  # its other end is deleted by group: the kernel deletes both ends
        move[index] = None
    masters = {m for i in going if (m := by_index[i].master) is not None and m in going}
    quiet = sorted(masters & {i for i in going if by_index[i].up})
    return GroupDeletion(count, missing, going, whole, list(move), free, quiet)


def runs(batches: Sequence[Sequence[Request]]) -> Iterator[tuple[str, str | None, int, int]]:
    """(operation, namespace, start, end) of each stretch of actions whose requests are all of
    one operation in one namespace: what a kernel's `send_bulk` carries out together."""
    start = 0
    while start < len(batches):
        op, netns = batches[start][0].op, batches[start][0].netns
        end = start
        while end < len(batches) and all(r.op == op and r.netns == netns for r in batches[end]):
            end += 1
        yield op, netns, start, end
        start = end
