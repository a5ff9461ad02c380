"""Batched requests: many independent requests (new links, their addresses, markers and
states) encoded first and sent many to a system call, in two rounds. A mixin of `Netlink`
(netlink.py), for its sockets and index caches."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from ..actions import Request
from ..errors import KernelError
from ..journal import crash_point
from . import rtnl
from .decode import kernel_error

#: requests `send_batched` encodes before sending (a few kB each way; refusals, which carry
#: the refused request back, stay far below the socket's buffer)
_BATCH = 256


class _Batched(NamedTuple):
    """One message of a batched run: the action it belongs to, its request, its round."""

    action: int
    req: Request
    netns: str | None
    round: int
    msg: tuple[int, int, bytes]


def lean_newlink(ifname: str, kind: str, mtu: int | None, mac: str | None,
                  peer: dict[str, Any] | None, peer_fd: int | None, group: int | None,
                  index: int = 0, peer_index: int = 0) -> tuple[int, int, bytes]:
    """The RTM_NEWLINK of a link the lean path creates, with its pair's other end if any
    (in the namespace `peer_fd` when given); `index`, `peer_index`: ifindexes asked for."""
    peer_body = None
    if peer is not None:
        peer_body = rtnl.veth_peer(peer["ifname"], peer.get("mtu") or None,
                                   peer.get("mac") or None, peer_fd, peer.get("group"),
                                   index=peer_index)
    return rtnl.newlink(ifname, kind, mtu, mac, peer=peer_body, group=group, index=index)


def _read_ipv6_default(netns_fd: int | None) -> bool:
    """Whether new links of the namespace `netns_fd` (None: vnet's own) get IPv6; closes the
    fd. /proc/sys/net shows the namespace of the thread that opens it."""
    path = "/proc/sys/net/ipv6/conf/default/disable_ipv6"
    try:
        if netns_fd is None:
            with open(path, "rb") as f:
                return f.read().strip() == b"0"
        with rtnl.inside(netns_fd), open(path, "rb") as f:
            return f.read().strip() == b"0"
    except FileNotFoundError:  # a kernel without IPv6
        return False
    finally:
        if netns_fd is not None:
            os.close(netns_fd)


class BatchOps:
    """`batchable` and `send_batched` of the door's Protocol."""

    _dumps: dict[str | None, Any]
    _indexes: dict[str | None, dict[str, int]]
    _index_misses: dict[str | None, int]
    _next_index: dict[str | None, int]
    _ipv6: dict[str | None, bool]
    _rt: Any
    _index: Any
    _open_netns: Any
    _forget_cached: Any

    # ---- batches of independent requests ------------------------------------------------
    def batchable(self, req: Request) -> bool:
        """Whether `send_batched` can carry out `req`: an address added, a link set up or
        down, or a link the lean path creates (no parent, no options, both ends of a pair in
        one namespace) in a namespace whose new links get no IPv6."""
        if req.op in ("addr.add", "link.state"):
            return True
        args = req.args
        peer = args.get("peer")
        return (req.op == "link.add" and args.get("teamd") is None
                and not args.get("attrs") and not (peer or {}).get("attrs")
                and args.get("tuntap") is None and args.get("parent") is None
                and not args.get("info_data")
                and (peer is None or (peer.get("nla") in rtnl.PEER_NLAS
                                      and peer.get("netns") == req.netns))
                and not self._new_links_get_ipv6(req.netns))

    def _new_links_get_ipv6(self, netns: str | None) -> bool:
        """Whether links made in the namespace get IPv6 (its default.disable_ipv6 is 0).

        There, creations go one by one: the kernel's IPv6 work for each new link runs in
        workers that take the lock the requests take, and creations sent back to back made
        them contend, slowing both the creations and bringing the links up afterwards.
        Without IPv6 the batches save a good share of the apply."""
        known = self._ipv6.get(netns)
        if known is None:
            try:
                known = _read_ipv6_default(None if netns is None else self._open_netns(netns))
            except (KernelError, OSError):  # the one-by-one path says what is wrong
                return True
            self._ipv6[netns] = known
        return known

    def send_batched(self, batches: Sequence[Sequence[Request]],
                     progress: Callable[[int], None] | None = None,
                     ) -> tuple[list[int], tuple[int, KernelError] | None]:
        """Carry out consecutive actions made only of `batchable` requests, many requests to
        a system call. Returns the actions done, by position (an action counts as done once
        its first request is: a link created whose marking failed is there to be rolled
        back), and the first action that failed with its error (None: none failed).
        `progress(n)` hears how many actions have been sent so far.

        One request at a time costs a sendmsg, a recv and the Python around them: a real
        share of what the kernel itself needs. Here the requests of a slice of
        actions are encoded first (a new link gets an ifindex chosen here, one past the
        namespace's highest, so its addresses, markers and state can be encoded before it
        exists) and go in two rounds, each in the plan's order (see _send_rounds): first the
        creations and the requests on links that existed before, then the requests on the
        links just made, only when every request of the first round was carried out. Inside
        a sendmsg the kernel carries on after a refusal, so a round holds only requests that
        are harmless whatever became of the others: a creation never touches an existing link
        (a name or index taken is refused), the rest touch links that exist and are declared.
        A refusal ends the run after its sendmsg; the caller rolls back what was done."""
        self._dumps.clear()
        done: list[int] = []
        start = 0
        try:
            while start < len(batches):
                msgs: list[_Batched] = []
                fresh: dict[tuple[str | None, str], int] = {}
                failure: tuple[int, KernelError] | None = None
                end = start
                while end < len(batches) and len(msgs) < _BATCH and failure is None:
                    mark = len(msgs)
                    for req in batches[end]:
                        try:
                            self._encode_batched(req, end, fresh, msgs)
                        except KernelError as err:
                            del msgs[mark:]  # none of this action's requests go
                            failure = (end, err)
                            break
                    else:
                        end += 1
                answers = self._send_rounds(msgs)
                refused: tuple[int, KernelError] | None = None
                seen = -1
                for msg, answer in zip(msgs, answers, strict=True):
                    if msg.action != seen:  # the action's first request: done when it is
                        seen = msg.action
                        if answer is None:
                            done.append(seen)
                    if isinstance(answer, BaseException) and refused is None:
                        refused = (seen, kernel_error(msg.req, answer))
                refused = refused or failure
                if refused is not None:
                    self._forget_cached()
                    return done, refused
                for (netns, ifname), index in fresh.items():
                    known = self._indexes.get(netns)
                    if known is not None:
                        known[ifname] = index
                start = end
                if progress is not None:
                    progress(start)
        finally:
            self._dumps.clear()
        return done, None

    def _encode_batched(self, req: Request, position: int,
                        fresh: dict[tuple[str | None, str], int], out: list[_Batched]) -> None:
        """Append the messages of one batchable request to `out`; `fresh` holds the indexes
        given to the links this slice creates (requests on them go in the second round)."""
        netns, args = req.netns, req.args
        self._rt(netns)  # a missing namespace fails this action, before anything is sent
        if req.op == "link.add":
            index = self._free_index(netns)
            peer = args.get("peer")
            peer_index = self._free_index(netns) if peer is not None else 0
            out.append(_Batched(position, req, netns, 0, lean_newlink(
                args["ifname"], args["kind"], args.get("mtu"), args.get("mac"), peer, None,
                args.get("group"), index, peer_index)))
            fresh[(netns, args["ifname"])] = index
            if peer is not None:
                fresh[(netns, peer["ifname"])] = peer_index
            if args.get("marker"):
                out.append(_Batched(position, req, netns, 1,
                                    rtnl.add_altname(args["ifname"], args["marker"], index)))
                if peer is not None and peer.get("marker"):
                    out.append(_Batched(position, req, netns, 1, rtnl.add_altname(
                        peer["ifname"], peer["marker"], peer_index)))
            return
        made = fresh.get((netns, args["ifname"]))
        second = made is not None
        index = made if made is not None else self._index(netns, args["ifname"])
        msg = (rtnl.address(True, index, args["address"]) if req.op == "addr.add"
               else rtnl.setlink(index, up=args["up"]))
        out.append(_Batched(position, req, netns, 1 if second else 0, msg))

    def _free_index(self, netns: str | None) -> int:
        """An ifindex no link of the namespace has: one past the highest. The highest is read
        once and then followed (`_follow_index`): reading it again for each run cost a dump
        of the namespace per run, quadratic where lean creations alternate with others."""
        index = self._next_index.get(netns)
        if index is None:
            known = self._indexes[netns] = rtnl.dump_indexes(self._rt(netns))
            self._index_misses[netns] = 0
            index = max(known.values(), default=0) + 1
        self._next_index[netns] = index + 1
        return index

    def _follow_index(self, netns: str | None, ifname: str) -> None:
        """Keep `_free_index` past a link the kernel just numbered in the namespace: it numbers
        on from where it last did, skipping taken indexes, so it lands on vnet's next pick."""
        next_free = self._next_index.get(netns)
        if next_free is not None:
            self._next_index[netns] = max(next_free, self._index(netns, ifname) + 1)

    def _send_rounds(self, msgs: list[_Batched]) -> list[BaseException | bool | None]:
        """Each message's answer: None done, an exception refused, False not sent.

        A round goes in the plan's order, one sendmsg per stretch of messages for the same
        namespace: a VLAN is brought up after its parent in another namespace, never before
        (the kernel refuses it, ENETDOWN). The first stretch with a refusal is the last."""
        answers: list[BaseException | bool | None] = [False] * len(msgs)
        for round_ in (0, 1):
            stretches: list[list[int]] = []
            for i, msg in enumerate(msgs):
                if msg.round == round_:
                    if stretches and msgs[stretches[-1][0]].netns == msg.netns:
                        stretches[-1].append(i)
                    else:
                        stretches.append([i])
            for positions in stretches:
                try:
                    got: list[Any] = self._rt(msgs[positions[0]].netns).request_many(
                        [msgs[i].msg for i in positions])
                except (KernelError, OSError) as exc:  # the socket itself failed
                    got = [exc] * len(positions)
                refused = False
                for i, answer in zip(positions, got, strict=True):
                    answers[i] = answer
                    refused = refused or answer is not None
                if refused:
                    return answers
            if round_ == 0 and any(msg.req.op == "link.add" for msg in msgs):
                crash_point("batch: links made, not yet marked")
        return answers
