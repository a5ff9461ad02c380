"""The generic link attributes of features/link_attrs.py as fields of every interface end."""

from __future__ import annotations

from typing import Literal

from ..declare import BaseModel, ConfigDict, Field
from .link_attrs import GSO_LEGACY_MAX


class LinkAttrFields(BaseModel):
    """The generic attributes as fields of every interface end (`kinds.base.Common`)."""

    # a mixin of every interface's fields: its own validator is never used
    model_config = ConfigDict(defer_build=True)

    broadcast: str | None = Field(None, pattern=r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$",
                                  description="Link-layer broadcast address, lower case "
                                              "(Ethernet: ff:ff:ff:ff:ff:ff).")
    txqueuelen: int | None = Field(None, ge=0, le=4_294_967_295,
                                   description="Transmit queue length in packets.")
    alias: str | None = Field(None, min_length=1, max_length=255,
                              description="Free text the kernel keeps with the link "
                                          "(ifalias), at most 255 bytes.")
    numtxqueues: int | None = Field(None, ge=1, le=4096,
                                    description="Transmit queues, fixed at creation: a change "
                                                "re-creates the link.")
    numrxqueues: int | None = Field(None, ge=1, le=4096,
                                    description="Receive queues, fixed at creation: a change "
                                                "re-creates the link.")
    gso_max_size: int | None = Field(None, ge=0, le=GSO_LEGACY_MAX,
                                     description="Largest GSO packet the stack builds, bytes.")
    gso_max_segs: int | None = Field(None, ge=0, le=65535,
                                     description="Most segments of a GSO packet.")
    gro_max_size: int | None = Field(None, ge=0, le=GSO_LEGACY_MAX,
                                     description="Largest packet GRO assembles, bytes.")
    promisc: bool | None = Field(None, description="Promiscuous mode (receive every frame).")
    allmulticast: bool | None = Field(None, description="Receive all multicast frames.")
    multicast: bool | None = Field(None, description="The link does multicast (IFF_MULTICAST).")
    arp: bool | None = Field(None, description="false: the link does no ARP (IFF_NOARP).")
    addrgenmode: Literal["eui64", "none", "stable_secret", "random"] | None = Field(
        None, description="How IPv6 link-local addresses are made; none: no link-local.")
