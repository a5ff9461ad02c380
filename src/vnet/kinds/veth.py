"""veth — a pair of connected ends; what enters one leaves the other. It joins namespaces.

`ip link add veth1 netns net1 type veth peer name veth2 netns net2`
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from ..declare import Field, PrivateAttr
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


#: a field without a default in `_Blank.template` (no value unless the peer gives one)
_MISSING: Any = object()


class _Blank:
    """What every second end of one kind starts from, made once from a blank end (pydantic's
    `model_construct` with only `kind`): its values in the fields' order (`_MISSING` for a
    field without a default), the fields whose default a factory makes, and its set fields,
    extra and private values."""

    def __init__(self, cls: type[Paired]) -> None:
        blank = cls.model_construct({"kind"}, kind=cls.kind_name)
        defaults = blank.__dict__
        self.template = {name: defaults.get(name, _MISSING) for name in cls.model_fields}
        # no factory here takes the validated data (default_factory_takes_data)
        self.factories: list[tuple[str, Any]] = [
            (name, info.default_factory) for name, info in cls.model_fields.items()
            if info.default_factory is not None]
        self.missing = [name for name, value in self.template.items() if value is _MISSING]
        self.fields_set = frozenset(blank.__pydantic_fields_set__)
        self.extra = blank.__pydantic_extra__
        private = blank.__pydantic_private__
        self.private = None if private is None else dict(private)


_BLANKS: dict[type[Paired], _Blank] = {}


def _new_twin(cls: type[Paired], values: dict[str, Any]) -> Paired:
    """`cls.model_construct(kind=..., **values)`, made from the kind's `_Blank`:
    model_construct fills every default through pydantic's field machinery, and even a copy
    of a blank end went through every field in Python, slow enough per end to show when a
    large file loads. A default factory's value is made fresh for each end (no list is
    shared between two ends); the fields set are `kind` and `values`, as model_construct's;
    the values keep the fields' order."""
    blank = _BLANKS.get(cls)
    if blank is None:
        blank = _BLANKS[cls] = _Blank(cls)
    state = blank.template.copy()
    if blank.template.keys() >= values.keys():
        state.update(values)
    else:  # not a field of this kind: left out, as model_construct leaves it
        state.update((k, v) for k, v in values.items() if k in blank.template)
    for name, factory in blank.factories:
        if name not in values:
            state[name] = factory()
    for name in blank.missing:
        if state[name] is _MISSING:
            del state[name]
    twin = cls.__new__(cls)
    object.__setattr__(twin, "__dict__", state)
    object.__setattr__(twin, "__pydantic_fields_set__", {*blank.fields_set, *values})
    object.__setattr__(twin, "__pydantic_extra__",
                       None if blank.extra is None else dict(blank.extra))
    object.__setattr__(twin, "__pydantic_private__",
                       None if blank.private is None else dict(blank.private))
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
