"""Plans are lists of Actions; an Action is requests to the kernel plus how to undo them.

Pure data: built by the planner (and by kind files for kind-specific extras), executed by
`vnet.apply` through the kernel door (`vnet.door`).
"""

from __future__ import annotations

from typing import Any, Literal

from .datatypes import datatype, field

Verb = Literal["create", "change", "replace", "remove"]


#: Every operation a Request may name, and what it asks of the kernel: the catalogue that each
#: kernel behind the door (vnet.door: the live one and the fake) implements in full.
OPERATIONS: dict[str, str] = {
    "netns.add": "create a named namespace, its loopback marked as the topology's and up",
    "netns.del": "delete a named namespace and every link in it",
    "link.add": "create a link (a pair's two ends at once; a team through its teamd), marked",
    "link.del": "delete a link, with what the kernel deletes along (a pair's other end)",
    "link.set": "change a link's MTU, MAC or kind options in place",
    "link.setref": "point a kind option at another link by name (a team's active port)",
    "link.master": "make a link a port of a master, or release it",
    "link.port_options": "set what a bridge or bond keeps about one of its ports",
    "sysctl.set": "write a sysctl file of a namespace (an interface's conf)",
    "link.state": "set a link up or down",
    "addr.add": "add an address to a link",
    "addr.del": "remove an address from a link",
    "route.add": "add a static route, marked as vnet's (proto 118)",
    "route.del": "remove a static route",
    "fdb.add": "append a static forwarding entry (bridge fdb append MAC dev DEV dst IP)",
    "fdb.del": "remove a static forwarding entry",
    "bridge_vlan.add": "add VLANs (with pvid/untagged flags) to a bridge port or a bridge",
    "bridge_vlan.del": "remove VLANs from a bridge port or a bridge",
    "tc.qdisc_add": "add a qdisc (root or ingress) to a link",
    "tc.qdisc_replace": "add or replace a link's root qdisc",
    "tc.qdisc_del": "delete a link's root or ingress qdisc",
    "tc.netem_set": "add, replace or change in place a link's root netem qdisc",
    "tc.class_add": "add an htb class",
    "tc.class_replace": "change an htb class",
    "tc.redirect_add": "redirect a link's ingress to another link (u32 match-all, mirred)",
    "tc.redirect_del": "remove such a redirect",
    "macsec.add_txsa": "add a MACsec transmit secure association",
    "macsec.del_txsa": "delete a MACsec transmit secure association",
    "macsec.upd_txsa": "switch a MACsec transmit secure association on or off",
    "macsec.add_rxsc": "add a MACsec receive secure channel",
    "macsec.del_rxsc": "delete a MACsec receive secure channel",
    "macsec.upd_rxsc": "switch a MACsec receive secure channel on or off",
    "macsec.add_rxsa": "add a MACsec receive secure association",
    "macsec.del_rxsa": "delete a MACsec receive secure association",
    "macsec.upd_rxsa": "switch a MACsec receive secure association on or off",
    "wireguard.set": "set a WireGuard link's private key, listen port or firewall mark",
    "wireguard.set_peer": "add a WireGuard peer, or set its endpoint, allowed IPs, keepalive "
                          "and preshared key",
    "wireguard.del_peer": "remove a WireGuard peer",
    "teamd.start": "start the teamd that drives a team (again, with its ports)",
    "teamd.stop": "stop the teamd of a team vnet owns",
}


@datatype
class Request:
    """One thing to ask of the kernel: an operation of OPERATIONS, the namespace it happens
    in, arguments. An operation outside the catalogue is refused here, when it is built."""

    op: str
    netns: str | None
    args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.op not in OPERATIONS:
            raise ValueError(f"unknown operation {self.op!r}: the kernel door's catalogue "
                             "(vnet.actions.OPERATIONS) has no such operation")

    def describe(self) -> str:
        where = f"{self.netns}/" if self.netns else ""
        target = self.args.get("ifname") or self.args.get("name") or self.args.get("to") or ""
        return f"{self.op} {where}{target}".rstrip()


@datatype
class Action:
    """One step of a plan: what it does to which object, why, and how to take it back."""

    verb: Verb
    subject: str  # "link net1/veth1 (veth)", "address 192.0.2.1/24 on br0", ...
    reason: str
    do: list[Request]
    undo: list[Request] = field(default_factory=list)
    #: when the step cannot be undone exactly, why (reported if a rollback needs it)
    undo_gap: str = ""
    #: field -> (old, new) for changes in place, shown in the plan
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: what the step deletes along that the topology did not make, in words (links made by
    #: hand inside a namespace it deletes, and their pairs' other ends elsewhere): apply and
    #: destroy refuse such a step unless forced
    takes_along: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {"verb": self.verb, "subject": self.subject, "reason": self.reason,
               "diff": {k: {"old": o, "new": n} for k, (o, n) in self.diff.items()},
               "requests": [{"op": r.op, "netns": r.netns} for r in self.do]}
        if self.takes_along:
            out["takes_along"] = list(self.takes_along)
        return out
