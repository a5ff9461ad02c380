"""Port options: what a bridge, a bond or a team is told about one of its ports, said on the
port (`port_options:` beside `master:`), as `ip link set DEV type bridge_slave|bond_slave ...`
says it (a team's: as teamd.conf(5) spells `ports.PORT.*`). Each option belongs to the master
kinds that take it: a bridge-port option on a bond's port is an error that names the master.
Pure data; the door encodes and decodes (door/port_options.py, door/teamd.py), the fields are
in port_option_fields.py (this table is read by `vnet show`, which starts without pydantic).

The kernel keeps a bridge's and a bond's in IFLA_INFO_SLAVE_DATA (IFLA_BRPORT_*,
IFLA_BOND_SLAVE_*); a team's live in its teamd's config (type "teamd": plain JSON values, set
with `teamdctl TEAM port config update` and read from `teamdctl TEAM config dump`). All change
in place. Left out on purpose: a bridge port's `state`. Linux 6.1 keeps it only under a
user-space STP daemon: with STP off the bridge chooses its ports' states again right after
setting one (br_set_port_state calls br_port_state_selection; measured here, `ip link set
DEV type bridge_slave state 4` leaves the port forwarding), with kernel STP it refuses
(EBUSY), and vnet's `stp_state` is on or off.
"""

from __future__ import annotations

from typing import Any

from ..datatypes import datatype, field


@datatype(frozen=True)
class PortOption:
    """One port option: its attribute in IFLA_INFO_SLAVE_DATA and its netlink type."""

    nla: int
    type: str  # "u8", "u16", "u32", "s32", "flag" (a u8 0/1 shown as a boolean), "teamd"
    names: dict[str, int] = field(default_factory=dict)  # named values (a bridge port's state)

    def encode(self, value: Any) -> int:
        """The file's value as the kernel takes it."""
        if self.names:
            return self.names[value]
        if self.type == "teamd":  # JSON as teamd keeps it
            return value
        return int(bool(value)) if self.type == "flag" else int(value)

    def decode(self, value: int) -> Any:
        """The kernel's value in the file's words."""
        if self.names:
            return {v: k for k, v in self.names.items()}.get(value, value)
        return bool(value) if self.type == "flag" else value


#: master kind (IFLA_INFO_SLAVE_KIND) -> option -> how the kernel holds it
PORT_OPTIONS: dict[str, dict[str, PortOption]] = {
    "bridge": {
        "priority": PortOption(2, "u16"),
        "cost": PortOption(3, "u32"),
        "hairpin": PortOption(4, "flag"),
        "guard": PortOption(5, "flag"),
        "root_block": PortOption(6, "flag"),
        "fastleave": PortOption(7, "flag"),
        "learning": PortOption(8, "flag"),
        "flood": PortOption(9, "flag"),
        "proxy_arp": PortOption(10, "flag"),
        "proxy_arp_wifi": PortOption(12, "flag"),
        "mcast_router": PortOption(25, "u8"),
        "mcast_flood": PortOption(27, "flag"),
        "mcast_to_unicast": PortOption(28, "flag"),
        "vlan_tunnel": PortOption(29, "flag"),
        "bcast_flood": PortOption(30, "flag"),
        "group_fwd_mask": PortOption(31, "u16"),
        "neigh_suppress": PortOption(32, "flag"),
        "isolated": PortOption(33, "flag"),
        "locked": PortOption(39, "flag"),
    },
    "bond": {
        "queue_id": PortOption(5, "u16"),
        "prio": PortOption(9, "s32"),
    },
    # teamd's ports.PORT.* (no netlink attribute: nla 0)
    "team": {
        "queue_id": PortOption(0, "teamd"),
        "prio": PortOption(0, "teamd"),
        "sticky": PortOption(0, "teamd"),
        "lacp_prio": PortOption(0, "teamd"),
        "lacp_key": PortOption(0, "teamd"),
    },
}


def master_kind_of(option: str) -> str:
    """The master kinds whose ports take `option` ("bond or team")."""
    return " or ".join(kind for kind, options in PORT_OPTIONS.items() if option in options)


def declared_port_options(end: Any) -> dict[str, Any]:
    """The port options an interface end declares, in the file's words."""
    opts = getattr(end, "port_options", None)
    if opts is None:
        return {}
    return {k: getattr(opts, k) for k in opts.model_fields_set if getattr(opts, k) is not None}
