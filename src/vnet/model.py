"""The topology model: what a file describes, after loading and validation.

Interfaces are instances of the kind classes in `vnet.kinds`; this module holds what is not a
kind: routes, external interfaces, and the JSON Schema of the whole file. The topology itself
(`Topology`, plain data) is in `vnet.topology`.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal, Union

from .declare import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
    twin,
)
from .hosts.spec import Host
from .kinds import registry
from .kinds.base import IP, Common, HostName, IfName, NetnsName, empty_list

#: typing.TYPE_CHECKING without importing `typing`'s name: the checks and the events are
#: imported only by a file that has them (see `_TopologyFile`)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .checks import Check
    from .events import Event

TOPOLOGY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"


def check_destination(value: str) -> str:
    if value == "default":
        return value
    try:
        return ipaddress.ip_network(value, strict=True).with_prefixlen
    except ValueError as exc:
        if "has host bits set" in str(exc):
            net = ipaddress.ip_network(value, strict=False)
            raise ValueError(f"{value!r} has host bits set; the network is {net}") from None
        raise ValueError(f"{value!r} is not 'default' or a network like 198.51.100.0/24") from None


Destination = Annotated[str, AfterValidator(check_destination)]


class Route(BaseModel):
    """A static route in a namespace: `ip route add TO [via GW] [dev DEV] [metric M] [table T]`."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    to: Destination = Field(description="'default' or a network with prefix.")
    via: IP | None = Field(None, description="Gateway address.")
    dev: IfName | None = Field(None, description="Output interface.")
    metric: int | None = Field(None, ge=0, le=4294967295, description="Route priority.")
    table: int | None = Field(None, ge=1, le=4294967295, description="Routing table (254 = main).")
    netns: NetnsName | None = Field(None, description="Namespace of the route.")
    host: HostName | None = Field(None, description="In a file that spans hosts: the host of "
                                  "the route; omitted: its namespace's host.")

    @model_validator(mode="after")
    def _needs_target(self) -> Route:
        if self.via is None and self.dev is None:
            raise ValueError("a route needs 'via' (a gateway) or 'dev' (an interface), or both")
        if self.via is not None and self.to != "default":
            fam_to = ipaddress.ip_network(self.to).version
            if ipaddress.ip_address(self.via).version != fam_to:
                raise ValueError(f"gateway {self.via} and destination {self.to} are of different "
                                 "IP versions")
        return self

    @property
    def family(self) -> int:
        if self.to != "default":
            return ipaddress.ip_network(self.to).version
        if self.via:
            return ipaddress.ip_address(self.via).version
        return 4

    @property
    def key(self) -> tuple[Any, ...]:
        """Identity of a route in the kernel: namespace, table, destination, metric."""
        return (self.netns, self.table or 254, self.family, self.to, self.metric or 0)


class External(Common):
    """An interface that exists already (a host NIC) and that vnet references without owning:
    it may enslave it, give it addresses, set its MTU or state; destroy puts those back."""

    external: Literal[True] = Field(description="Marks an interface vnet does not create.")
    kind: str | None = Field(None, description="Optional: the kind it must have.")
    state: Literal["up", "down"] | None = Field(
        None, description="Administrative state; omitted: left as it is.")
    replace_qdisc: bool = Field(
        False, description="impair may replace a root qdisc it finds here that is not the "
                           "kernel's default (tbf, netem); destroy puts it back.")

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.netns, self.name)


class NamespaceSpec(BaseModel):
    """A namespace with settings: `- {name: router, forwarding: true}` (a bare name is one
    without)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: NetnsName = Field(description="Namespace name (it becomes /run/netns/NAME).")
    host: HostName | None = Field(
        None, description="In a file that spans hosts: the host (from `hosts:`) the namespace "
                          "is made on.")
    forwarding: bool | None = Field(
        None, description="Route between its interfaces, IPv4 and IPv6 (net.ipv4.ip_forward "
                          "and net.ipv6.conf.all.forwarding); omitted: the kernel's default, "
                          "off.")


#: the tags of a namespace entry's two forms, left out of error paths (loader._report)
NAMESPACE_TAGS = ("netns-name", "netns-settings")

#: a namespace entry: a bare name, or a mapping with settings; told apart by their shape, so
#: an error speaks of the form written (a union would report both)
NamespaceEntry = Annotated[
    Annotated[NetnsName, Tag(NAMESPACE_TAGS[0])] | Annotated[NamespaceSpec,
                                                             Tag(NAMESPACE_TAGS[1])],
    Discriminator(lambda v: NAMESPACE_TAGS[1] if isinstance(v, dict | NamespaceSpec)
                  else NAMESPACE_TAGS[0])]


class _FileHead(BaseModel):
    """What the loader validates of the file as a whole: its name, hosts and namespaces (the
    interfaces, routes, checks and events are validated one by one, for clearer errors)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(pattern=TOPOLOGY_NAME_PATTERN,
                      description="Owner tag of every object the file creates.")
    hosts: list[Host] = Field(default_factory=empty_list,
                              description="The hosts a file spans (as the Ansible inventory "
                                          "names them); omitted: the host vnet runs on.")
    namespaces: list[NamespaceEntry] = Field(
        default_factory=empty_list, description="Network namespaces vnet creates and owns: a name, "
                                          "or {name: NAME, forwarding: true, host: HOST}.")


class _TopologyFile(_FileHead):
    """The whole file, for the JSON Schema (loading dispatches per kind for clearer errors)."""

    # `Check` and `Event` are named here only: `json_schema` imports them and completes the
    # class, so that loading a file without checks or events imports neither
    model_config = ConfigDict(title="vnet topology")

    interfaces: list[Any] = Field(default_factory=empty_list)
    routes: list[Route] = Field(default_factory=empty_list)
    checks: list[Check] = Field(default_factory=empty_list,
                                description="Reachability and isolation to prove with packets.")
    events: list[Event] = Field(default_factory=empty_list,
                                description="A timeline of link failures and impairments "
                                "that `vnet run` plays while the checks run.")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the topology file, generated from the model."""
    import pydantic

    from .checks import Check
    from .events import Event
    _TopologyFile.model_rebuild(_types_namespace={"Check": Check, "Event": Event})
    kinds = tuple(twin(kind) for kind in registry().values())
    # the kinds are known at run time only: no static type to check
    iface_union = Annotated[Union[kinds], pydantic.Field(discriminator="kind")]  # type: ignore[valid-type]  # noqa: UP007
    schema = _TopologyFile.model_json_schema()
    item = pydantic.TypeAdapter(Union[iface_union, twin(External)]).json_schema(  # type: ignore[arg-type]  # noqa: UP007
        ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    defs.update(item.pop("$defs", {}))
    schema["properties"]["interfaces"] = {"type": "array", "items": item,
                                          "description": "Interfaces, in any order."}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def json_schema_text() -> str:
    import json
    return json.dumps(json_schema(), indent=2, sort_keys=True)

