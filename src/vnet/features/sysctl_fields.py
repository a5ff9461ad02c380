"""The per-interface sysctls of features/sysctls.py as fields of every interface end."""

from __future__ import annotations

from ..declare import BaseModel, ConfigDict, Field


class SysctlFields(BaseModel):
    """ipv6, forwarding, rp_filter, accept_ra (net.{ipv4,ipv6}.conf.IFNAME.*)."""

    # a mixin of every interface's fields: its own validator is never used
    model_config = ConfigDict(defer_build=True)

    ipv6: bool | None = Field(None, description="false: no IPv6 on this interface "
                                                "(net.ipv6.conf.IF.disable_ipv6 = 1).")
    forwarding: bool | None = Field(None, description="Forward packets received here, IPv4 "
                                                      "and IPv6 (net.ipv{4,6}.conf.IF."
                                                      "forwarding).")
    rp_filter: int | None = Field(None, ge=0, le=2, description="Reverse path filter: 0 off, "
                                                                "1 strict, 2 loose.")
    accept_ra: int | None = Field(None, ge=0, le=2, description="IPv6 router advertisements: "
                                                                "0 ignore, 1 accept unless "
                                                                "forwarding, 2 accept always.")
