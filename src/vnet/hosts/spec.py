"""What a file says about its hosts: the `hosts:` list and the `host:` of a namespace.

Pure data (models of vnet.declare), imported by `vnet.model` for the file's schema and by the
loader; the rules across hosts and the splitting are in `vnet.hosts.split`.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from ..declare import AfterValidator, BaseModel, ConfigDict, Field
from ..kinds.base import HostName, check_ifname

#: the tunnel kinds a veth across hosts may become
Via = Literal["vxlan", "geneve", "wireguard"]


def underlay_address(value: str) -> str | None:
    """The address `underlay:` names, or None when it names an interface instead."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def check_underlay(value: str) -> str:
    """An IPv4/IPv6 address (normalised) or an interface name to take the address from."""
    address = underlay_address(value)
    if address is not None:
        ip = ipaddress.ip_address(address)
        if ip.is_multicast or ip.is_unspecified or ip.is_loopback:
            raise ValueError(f"underlay {value} is not a unicast address another host can "
                             "reach; give the host's own address on the network between "
                             "the hosts")
        return address
    try:
        return check_ifname(value)
    except ValueError:
        raise ValueError(f"underlay {value[:40]!r} is neither an IP address nor an interface "
                         "name; write the host's address (198.51.100.11) or the interface "
                         "to take it from (eth0)") from None


class Host(BaseModel):
    """One host of a file that spans several: how the inventory names it, and how the other
    hosts reach it (its underlay)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: HostName = Field(description="The host as the Ansible inventory names it.")
    underlay: Annotated[str, AfterValidator(check_underlay)] = Field(
        description="Address the other hosts reach this one at (198.51.100.11), or the "
                    "interface to take it from (eth0); tunnels between hosts use it.")
    mtu: int = Field(1500, ge=1280, le=65535,
                     description="MTU of the underlay network; tunnel ends get it minus the "
                                 "encapsulation's overhead (default 1500).")


__all__ = ["Host", "HostName", "Via", "underlay_address"]
