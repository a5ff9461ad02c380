"""veth — a pair of connected ends; what enters one leaves the other. It joins namespaces.

`ip link add veth1 netns net1 type veth peer name veth2 netns net2`
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr

from . import register
from .base import PROBE_PEER, Common, InterfaceBase


class PairPeer(Common):
    """The other end: its own name, namespace, addresses, MTU, MAC, state and master."""


class Paired(InterfaceBase):
    """A kind made as two ends in one request (veth, vxcan): `peer:` describes the other end,
    which `expand` turns into an interface of the same kind, created by this one."""

    paired = True
    #: the IFLA_INFO_DATA attribute that carries the peer's ifinfomsg (VETH_INFO_PEER...)
    peer_nla: ClassVar[str] = ""

    peer: PairPeer | None = Field(None, description="The other end of the pair (required).")
    _twin: tuple[PairPeer, InterfaceBase] | None = PrivateAttr(default=None)

    def check(self, topo: Any, report: Any) -> None:
        if self.peer is None and self.created_by is None:
            report("peer", f"a {self.kind_name} needs its other end",
                   "add peer: {name: NAME} (and netns: NS to put it in another namespace)")

    def expand(self) -> list[InterfaceBase]:
        if self.peer is None:
            return [self]
        # made once per peer (the planner and validation expand a topology several times)
        mine = self.__pydantic_private__  # not self._twin: see Common.path
        assert mine is not None
        cached = mine["_twin"]
        if cached is not None and cached[0] is self.peer and cached[1].created_by == self.key:
            return [self, cached[1]]
        # the peer's fields were validated as the peer's (PairPeer is Common, whose fields
        # the twin's kind has unchanged), so the twin is built from them without validating
        # again: validating each peer a second time showed in the planning of large files
        values = {f: getattr(self.peer, f) for f in self.peer.model_fields_set}
        if self.impair is not None and "impair" not in values:
            values["impair"] = self.impair  # at the pair level: both ends, a symmetric link
        twin = _new_twin(type(self), values)
        private = twin.__pydantic_private__
        assert private is not None
        private["_created_by"] = self.key
        private["_path"] = f"{mine['_path']}.peer"
        mine["_twin"] = (self.peer, twin)
        return [self, twin]

    def create_request(self) -> dict[str, Any]:
        req = super().create_request()
        if self.peer is not None:
            req["peer"] = {"ifname": self.peer.name, "netns": self.peer.netns,
                           "mtu": self.peer.mtu, "mac": self.peer.mac, "nla": self.peer_nla}
        return req

    def ip_commands(self) -> list[list[str]]:
        if self.peer is None:
            return []
        cmd = ["ip", "link", "add", self.name]
        if self.netns:
            cmd += ["netns", self.netns]
        cmd += ["type", self.kind_name, "peer", "name", self.peer.name]
        if self.peer.netns:
            cmd += ["netns", self.peer.netns]
        return [cmd]


#: per kind: a blank end made once by model_construct, and its fields with their default
#: factories
_BLANKS: dict[type[Paired], tuple[Paired, list[tuple[str, Any]]]] = {}


def _new_twin(cls: type[Paired], values: dict[str, Any]) -> Paired:
    """`cls.model_construct(kind=..., **values)`, as a copy of a blank end: model_construct
    fills every default through pydantic's field machinery, slow enough per end to show
    when a large file loads. A default factory's value is made fresh for each end (no list is
    shared between two ends); the fields set are `kind` and `values`, as model_construct's."""
    entry = _BLANKS.get(cls)
    if entry is None:
        blank = cls.model_construct({"kind"}, kind=cls.kind_name)
        # no factory here takes the validated data (default_factory_takes_data)
        made: list[tuple[str, Any]] = [(name, info.default_factory)
                                       for name, info in cls.model_fields.items()]
        entry = _BLANKS[cls] = (blank, made)
    blank, fields = entry
    twin = copy.copy(blank)
    defaults = blank.__dict__
    state = {}
    for name, factory in fields:  # in the fields' order, as model_construct lays them out
        if name in values:
            state[name] = values[name]
        elif factory is not None:
            state[name] = factory()
        elif name in defaults:
            state[name] = defaults[name]
    object.__setattr__(twin, "__dict__", state)
    twin.__pydantic_fields_set__.update(values)
    return twin


@register
class Veth(Paired):
    kind: Literal["veth"]
    listed = 110
    probe = {"peer": {"name": PROBE_PEER}}
    peer_nla = "VETH_INFO_PEER"
    use_when = ("Connect two namespaces (or a namespace and a bridge) with a virtual cable;\n"
                "the basic link of every container or lab network.")

    via: Literal["vxlan", "geneve", "wireguard"] | None = Field(
        None, description="In a file that spans hosts, when the two ends are on different "
                          "hosts: the tunnel that carries the pair between them (default "
                          "vxlan; wireguard: encrypted, IP only). vnet plans it (VNI, MTU, "
                          "keys).")
