"""Static FDB entries (`bridge fdb append MAC dev DEV dst IP`): head-end replication of a
tunnel to several remote endpoints. A kind that keeps them declares a field `fdb:` of
FdbEntry (vxlan does) and plans them with `plan_fdb` from its `plan_extras`; the door reads
the entries of such kinds only (NetnsState.fdb)."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..actions import Action, Request
from ..declare import BaseModel, ConfigDict, Field
from ..kinds.base import IP, Mac

#: the all-zeros MAC: an FDB entry for it sends broadcast/unknown traffic to its dst
ZERO_MAC = "00:00:00:00:00:00"
NUD_PERMANENT = 0x80


class FdbEntry(BaseModel):
    """One static forwarding entry: frames for `mac` go to the VTEP at `dst`."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    mac: Mac = Field(description="Destination MAC; 00:00:00:00:00:00 = broadcast/unknown "
                                 "(head-end replication).")
    dst: IP = Field(description="Remote VTEP address (underlay IP).")

    @property
    def key(self) -> tuple[str, str]:
        return (self.mac, self.dst)


def plan_fdb(iface: Any, netns_state: Any, live: Any, default_dst: str | None) -> list[Action]:
    """Add the declared entries missing, remove the vnet-made ones no longer declared (only
    permanent entries count; learned ones come and go). `default_dst`: the entry the kernel
    makes itself for the link's own remote or group, never planned."""
    want = {e.key: e for e in iface.fdb}
    have: set[tuple[str, str]] = set()
    if live is not None and netns_state is not None:
        for entry in getattr(netns_state, "fdb", []):
            if entry.ifname != iface.name or not entry.state & NUD_PERMANENT:
                continue
            if entry.mac == ZERO_MAC and entry.dst == default_dst:
                continue  # the kernel's own entry for `remote`/`group`
            have.add((entry.mac, entry.dst))
    ns, name = iface.key
    where = f"{ns}/{name}" if ns else name
    actions: list[Action] = []
    for key in [k for k in want if k not in have]:
        args = {"ifname": name, "mac": key[0], "dst": key[1]}
        actions.append(Action(
            "create", f"fdb {key[0]} dst {key[1]} on {where}", "declared",
            [Request("fdb.add", ns, args)], [Request("fdb.del", ns, args)]))
    for key in sorted(have - want.keys()):
        args = {"ifname": name, "mac": key[0], "dst": key[1]}
        actions.append(Action(
            "remove", f"fdb {key[0]} dst {key[1]} on {where}", "not in the file",
            [Request("fdb.del", ns, args)], [Request("fdb.add", ns, args)]))
    return actions


def check_fdb(entries: list[FdbEntry], remote: str | None, local: str | None,
              report: Any) -> None:
    """Each entry once, none the kernel makes itself (for `remote`), of the underlay's family."""
    seen: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(entries):
        if entry.key in seen:
            report(f"fdb[{i}]", f"fdb entry {entry.mac} dst {entry.dst} is listed twice",
                   f"remove it (the other is fdb[{seen[entry.key]}])")
        seen.setdefault(entry.key, i)
        if entry.mac == ZERO_MAC and entry.dst == remote:
            report(f"fdb[{i}]", f"the kernel already makes this entry for remote "
                   f"{remote}", "remove it from fdb")
        if local is not None and _is_v6(entry.dst) != _is_v6(local):
            report(f"fdb[{i}].dst", f"fdb dst {entry.dst} and local {local} are of "
                   "different IP versions", "use the underlay's address family")


def _is_v6(value: str) -> bool:
    return ipaddress.ip_address(value).version == 6
