"""The port options of features/port_options.py as the fields of `port_options:`."""

from __future__ import annotations

from ..declare import BaseModel, ConfigDict, Field


class PortOptions(BaseModel):
    """What the master (a bridge, a bond or a team) is told about this port."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    # a bridge's port (IFLA_BRPORT_*)
    priority: int | None = Field(None, ge=0, le=63, description="bridge: STP port priority.")
    cost: int | None = Field(None, ge=1, le=65535, description="bridge: STP path cost.")
    hairpin: bool | None = Field(None, description="bridge: send frames back out the port "
                                                   "they came in by.")
    guard: bool | None = Field(None, description="bridge: BPDU guard (STP frames received "
                                                 "disable the port).")
    root_block: bool | None = Field(None, description="bridge: the port may not become the "
                                                      "root port.")
    fastleave: bool | None = Field(None, description="bridge: IGMP/MLD fast leave.")
    learning: bool | None = Field(None, description="bridge: learn source MACs on the port.")
    flood: bool | None = Field(None, description="bridge: flood unknown unicast to the port.")
    proxy_arp: bool | None = Field(None, description="bridge: answer ARP for known hosts.")
    mcast_router: int | None = Field(None, ge=0, le=3, description="bridge: multicast router "
                                     "port: 0 never, 1 learned, 2 always, 3 temporarily.")
    proxy_arp_wifi: bool | None = Field(None, description="bridge: proxy ARP as 802.11 "
                                                          "access points need it.")
    mcast_to_unicast: bool | None = Field(None, description="bridge: send multicast to this "
                                                            "port as unicast to each member.")
    vlan_tunnel: bool | None = Field(None, description="bridge: map VLANs to tunnel ids on "
                                                       "this port (a metadata-mode tunnel).")
    group_fwd_mask: int | None = Field(None, ge=0, le=65535,
                                       description="bridge: which link-local groups "
                                                   "(01:80:c2:00:00:0X, bit X) the port "
                                                   "forwards.")
    mcast_flood: bool | None = Field(None, description="bridge: flood unknown multicast.")
    bcast_flood: bool | None = Field(None, description="bridge: flood broadcast.")
    neigh_suppress: bool | None = Field(None, description="bridge: answer ARP/ND for the "
                                                          "port (EVPN).")
    isolated: bool | None = Field(None, description="bridge: isolated ports reach only "
                                                    "ports that are not.")
    locked: bool | None = Field(None, description="bridge: only hosts with static FDB "
                                                  "entries may send (802.1X).")
    # a bond's port (IFLA_BOND_SLAVE_*) and a team's (teamd's ports.PORT.*)
    queue_id: int | None = Field(None, ge=0, le=65535,
                                 description="bond, team: the transmit queue this port "
                                             "serves.")
    prio: int | None = Field(None, ge=-2_147_483_648, le=2_147_483_647,
                             description="bond (Linux 6.0 and later), team (activebackup, "
                                         "lacp): priority when a new active port is chosen.")
    sticky: bool | None = Field(None, description="team (activebackup, lacp): the port stays "
                                                  "active when a better one comes up.")
    lacp_prio: int | None = Field(None, ge=0, le=65535,
                                  description="team (lacp): LACP port priority, lower wins "
                                              "(default 255).")
    lacp_key: int | None = Field(None, ge=0, le=65535,
                                 description="team (lacp): LACP port key; only ports with the "
                                             "same key aggregate.")
