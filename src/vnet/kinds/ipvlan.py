"""ipvlan and ipvtap — many endpoints behind one parent, all with the parent's MAC.

`ip link add name ipv1 link eth0 type ipvlan mode l2 [bridge|private|vepa]`, and
`ip link add name ipvt0 link eth0 type ipvtap ...` for the variant with a /dev/tapN character
device (N = its ifindex) that QEMU opens. The parent is named by `link:` (and `link_netns:`
when it sits in another namespace), as for macvlan: see `OnParent` in base.py.

Modes: l2 (the endpoints ARP and switch among themselves), l3 (the parent routes: no ARP, no
broadcast), l3s (l3 with netfilter/conntrack on the way). Flags: bridge (the kernel's
default: endpoints reach each other inside the host), private (they do not), vepa (traffic
between them goes out to the switch and back).

The kernel keeps the mode and flags per *parent* (its ipvlan port), not per endpoint: each new
ipvlan on a parent sets the port's mode (l3 unless given), so every ipvlan/ipvtap on one parent
must agree — `check` says so rather than letting each apply undo the previous one. Both change
in place (IFLA_IPVLAN_MODE/FLAGS on an existing link).

pyroute2 0.9.7 knows IFLA_IPVLAN_MODE only (for ipvlan, nothing for ipvtap): the attribute
layout is declared in `info_nla`, which the door codes itself (door/decode.py).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from ..declare import Field
from . import register
from .base import PROBE_PARENT, OnParent, Option, topology_index

MODES = {"l2": 0, "l3": 1, "l3s": 2}
FLAGS = {"bridge": 0, "private": 1, "vepa": 2}
#: the mode the kernel gives an ipvlan created without one
DEFAULT_MODE = "l3"

Mode = Literal["l2", "l3", "l3s"]
Flag = Literal["bridge", "private", "vepa"]


def _named(names: dict[str, int], prefix: str) -> Any:
    back = {v: k for k, v in names.items()}

    def decode(value: Any) -> Any:
        if isinstance(value, str):  # a name, possibly pyroute2's IPVLAN_MODE_L2 spelling
            return value.lower().removeprefix(prefix)
        return back.get(value, value)
    return decode


class IpvlanLike(OnParent):
    """What ipvlan and ipvtap share: the same attributes (IFLA_IPVLAN_*), modes and flags."""

    ipvlan_family: ClassVar[tuple[str, ...]] = ("ipvlan", "ipvtap")
    #: ip writes the flag as a bare word after the mode (`mode l2 private`)
    ip_words = {"bridge": "flag", "private": "flag", "vepa": "flag"}

    mode: Mode | None = Field(
        None, description="l2, l3 (the kernel's default) or l3s; shared by every ipvlan on "
                          "the same parent.")
    flag: Flag | None = Field(
        None, description="bridge (the kernel's default), private or vepa (ip: the word "
                          "after the mode); shared by every ipvlan on the same parent.")

    info_nla = (("IFLA_IPVLAN_UNSPEC", "none"), ("IFLA_IPVLAN_MODE", "uint16"),
                ("IFLA_IPVLAN_FLAGS", "uint16"))
    options_map = {
        "mode": Option("IFLA_IPVLAN_MODE", encode=lambda v: MODES[v],
                       decode=_named(MODES, "ipvlan_mode_")),
        "flag": Option("IFLA_IPVLAN_FLAGS", encode=lambda v: FLAGS[v],
                       decode=_named(FLAGS, "ipvlan_f_")),
    }

    capture_defaults: ClassVar[dict[str, Any]] = {"mode": DEFAULT_MODE, "flag": "bridge"}

    # ---- checks ---------------------------------------------------------------------------
    def check(self, topo: Any, report: Any) -> None:
        if self.mac is not None:
            report("mac", f"an {self.kind_name} has its parent's MAC; it cannot have its own",
                   "remove mac (use macvlan/macvtap for a MAC of its own)")
        # earlier siblings on the same parent: the kernel keeps one mode and flag per parent;
        # the first earlier one that differs in either is named
        siblings = topology_index(topo, "ipvlan_siblings", _Siblings)
        mine = self.mode or DEFAULT_MODE
        other_mode = siblings.first_before(self, "mode", lambda v: v != mine)
        other_flag = siblings.first_before(self, "flag", lambda v: v is not None and
                                           self.flag is not None and v != self.flag)
        if other_mode is not None and (other_flag is None or other_mode[0] <= other_flag[0]):
            other = other_mode[1]
            theirs = other.mode or DEFAULT_MODE
            report("mode", f"mode {mine} differs from mode {theirs} of {other.name!r} on the "
                   f"same parent {self.link!r}; the kernel keeps one mode per parent",
                   f"give every ipvlan on {self.link!r} the same mode (omitted means "
                   f"{DEFAULT_MODE})")
        elif other_flag is not None:
            other = other_flag[1]
            report("flag", f"flag {self.flag} differs from flag {other.flag} of "
                   f"{other.name!r} on the same parent {self.link!r}; the kernel keeps "
                   "one flag per parent", f"give every ipvlan on {self.link!r} one flag")
        super().check(topo, report)

    # ---- rendering ------------------------------------------------------------------------
    def ip_type_args(self) -> list[str]:
        args: list[str] = []
        if self.mode is not None:
            args += ["mode", self.mode]
        if self.flag is not None:
            args.append(self.flag)
        return args


@register
class Ipvlan(IpvlanLike):
    kind: Literal["ipvlan"]
    listed = 70
    probe = {"link": PROBE_PARENT}
    use_when = ("Put many namespaces on one NIC where the switch allows a single MAC per port:\n"
                "they share the parent's MAC; l2 switches among them, l3 routes.")


@register
class Ipvtap(IpvlanLike):
    kind: Literal["ipvtap"]
    listed = 90
    probe = {"link": PROBE_PARENT}
    use_when = ("Give a VM (QEMU opens /dev/tapN) a place on a host NIC that must keep a\n"
                "single MAC: ipvlan with a tap character device.")


class _Siblings:
    """The ipvlans and ipvtaps of a topology by parent, indexed for `IpvlanLike.check`: the
    position of each, and per parent the first position of each mode and of each flag (a
    few values each), so that "the first earlier sibling that differs" is a lookup."""

    def __init__(self, topo: Any) -> None:
        self.order: dict[int, int] = {}
        #: (parent key, "mode" | "flag", value) -> (position, first sibling with it)
        self.first: dict[tuple[Any, ...], tuple[int, IpvlanLike]] = {}
        self.values: dict[tuple[Any, ...], set[Any]] = {}
        for i, end in enumerate(topo.endpoints()):
            if not isinstance(end, IpvlanLike) or end.kind_name not in end.ipvlan_family:
                continue
            self.order[id(end)] = i
            parent = (end.ipvlan_family, end.link_netns, end.link)
            for what, value in (("mode", end.mode or DEFAULT_MODE), ("flag", end.flag)):
                self.first.setdefault((parent, what, value), (i, end))
                self.values.setdefault((parent, what), set()).add(value)

    def first_before(self, me: IpvlanLike, what: str,
                     differs: Any) -> tuple[int, IpvlanLike] | None:
        """The first sibling before `me` on its parent whose `what` satisfies `differs`."""
        parent = (me.ipvlan_family, me.link_netns, me.link)
        mine = self.order[id(me)]
        found = [self.first[(parent, what, value)]
                 for value in self.values.get((parent, what), ()) if differs(value)]
        found = [entry for entry in found if entry[0] < mine]
        return min(found, key=lambda entry: entry[0]) if found else None
