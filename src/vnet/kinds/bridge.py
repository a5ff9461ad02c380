"""bridge — a software switch. `ip link add br0 type bridge [stp_state 1 ...]`.

Timers are in hundredths of a second, as `ip` spells them (forward_delay 1500 = 15 s).

VLAN filtering: `vlan_filtering: true` on the bridge, and `vlans:` (a common field) on each
port — `bridge vlan add vid 10 dev veth1 pvid untagged` — or on the bridge itself for its own
VLANs (`bridge vlan add vid 10 dev br0 self`). A declared `vlans` list is the whole truth for
that port: the default PVID the kernel gives every new port (vlan_default_pvid, 1 unless set)
is removed unless listed, so `vlans: [{vid: 10, pvid: true, untagged: true}]` makes an access
port of VLAN 10 only. Omitting `vlans` leaves the port's VLANs as the kernel has them.
Entries are planned one action per vid (or run of vids), so a second apply plans nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..actions import Action, Request
from . import register
from .base import InterfaceBase, Option, bool_option, int_option

BRIDGE_VLAN_INFO_PVID = 0x2
BRIDGE_VLAN_INFO_UNTAGGED = 0x4
_DEFAULT_ENTRY = BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED
#: the kernel's vlan_default_pvid of a new bridge
KERNEL_DEFAULT_PVID = 1

_VLAN_PROTOCOLS = {"802.1Q": 0x8100, "802.1ad": 0x88A8}
_VLAN_PROTOCOL_NAMES = {v: k for k, v in _VLAN_PROTOCOLS.items()}


@register
class Bridge(InterfaceBase):
    kind: Literal["bridge"]
    listed = 10
    can_be_master = True
    use_when = ("Join several interfaces (veths of namespaces, taps of VMs) into one L2 segment;\n"
                "the switch of a lab. Adds STP, VLAN filtering and IGMP/MLD snooping.")

    stp_state: bool | None = Field(None, description="Spanning tree on (true) or off.")
    forward_delay: int | None = Field(
        None, ge=0, le=3000, description="STP forward delay, 1/100 s (kernel: 200-3000 with STP).")
    hello_time: int | None = Field(None, ge=100, le=1000, description="STP hello time, 1/100 s.")
    max_age: int | None = Field(None, ge=600, le=4000, description="STP max age, 1/100 s.")
    priority: int | None = Field(None, ge=0, le=65535, description="Bridge priority for STP.")
    ageing_time: int | None = Field(
        None, ge=0, le=100_000_000, description="FDB ageing time, 1/100 s (default 30000).")
    mcast_snooping: bool | None = Field(None, description="IGMP/MLD snooping.")
    mcast_querier: bool | None = Field(None, description="Act as IGMP/MLD querier.")
    vlan_filtering: bool | None = Field(None, description="802.1Q VLAN filtering on ports.")
    vlan_default_pvid: int | None = Field(
        None, ge=0, le=4094, description="PVID given to new ports (0: none).")
    vlan_protocol: Literal["802.1Q", "802.1ad"] | None = Field(
        None, description="Tag protocol when VLAN filtering.")

    options_map = {
        "stp_state": bool_option("IFLA_BR_STP_STATE"),
        "forward_delay": int_option("IFLA_BR_FORWARD_DELAY"),
        "hello_time": int_option("IFLA_BR_HELLO_TIME"),
        "max_age": int_option("IFLA_BR_MAX_AGE"),
        "priority": int_option("IFLA_BR_PRIORITY"),
        "ageing_time": int_option("IFLA_BR_AGEING_TIME"),
        "mcast_snooping": bool_option("IFLA_BR_MCAST_SNOOPING"),
        "mcast_querier": bool_option("IFLA_BR_MCAST_QUERIER"),
        "vlan_filtering": bool_option("IFLA_BR_VLAN_FILTERING"),
        "vlan_default_pvid": int_option("IFLA_BR_VLAN_DEFAULT_PVID"),
        "vlan_protocol": Option("IFLA_BR_VLAN_PROTOCOL", encode=lambda v: _VLAN_PROTOCOLS[v],
                                decode=lambda v: _VLAN_PROTOCOL_NAMES.get(v, v)),
    }

    def check(self, topo: Any, report: Any) -> None:
        if self.stp_state and self.forward_delay is not None and not (
                200 <= self.forward_delay <= 3000):
            report("forward_delay",
                   "with stp_state on, the kernel accepts forward_delay 200-3000 (2-30 s)",
                   "set forward_delay between 200 and 3000, or turn STP off")
        if (self.vlan_default_pvid is not None or self.vlan_protocol is not None) and \
                not self.vlan_filtering:
            field = "vlan_default_pvid" if self.vlan_default_pvid is not None else "vlan_protocol"
            report(field, f"{field} only has an effect with vlan_filtering: true",
                   "add vlan_filtering: true or remove the option")
        if self.vlans is not None and not self.vlan_filtering:
            report("vlans", "the bridge's own vlans only filter with vlan_filtering: true",
                   "add vlan_filtering: true, or remove vlans")


# ---- per-port VLANs (the common field `vlans`), planned for ports of any kind -----------------
def _flags(pvid: bool, untagged: bool) -> int:
    return (BRIDGE_VLAN_INFO_PVID if pvid else 0) | (BRIDGE_VLAN_INFO_UNTAGGED if untagged else 0)


def _flag_words(flags: int) -> str:
    words = [w for bit, w in ((BRIDGE_VLAN_INFO_PVID, "pvid"),
                              (BRIDGE_VLAN_INFO_UNTAGGED, "untagged")) if flags & bit]
    return " ".join(words) if words else "tagged"


def wanted_vlans(obj: Any) -> dict[int, int]:
    """The file's `vlans` of one port (or bridge) as {vid: PVID|UNTAGGED flags}."""
    out: dict[int, int] = {}
    for entry in obj.vlans or []:
        for vid in entry.vids:
            out[vid] = _flags(entry.pvid, entry.untagged)
    return out


def _default_pvid(bridge: Any, bridge_live: Any) -> int:
    """The bridge's vlan_default_pvid once the plan's in-place changes are done."""
    if isinstance(bridge, Bridge) and bridge.vlan_default_pvid is not None:
        return bridge.vlan_default_pvid
    if bridge_live is not None:
        return int(bridge_live.info_data.get("IFLA_BR_VLAN_DEFAULT_PVID", KERNEL_DEFAULT_PVID))
    return KERNEL_DEFAULT_PVID


def expected_vlans(obj: Any, live: Any, bridge: Any, bridge_live: Any,
                   netns_state: Any) -> dict[int, int]:
    """The VLANs the port (or bridge) will have when the extras phase starts: what the kernel
    gives a new port or bridge (the default PVID, untagged), or the observed ones, moved as
    the kernel moves them when the plan changes the bridge's vlan_default_pvid."""
    new = _default_pvid(bridge, bridge_live)
    own = obj.master is None
    if live is None or bridge_live is None or (not own and live.master != obj.master):
        return {new: _DEFAULT_ENTRY} if new else {}
    have = dict((netns_state.bridge_vlans if netns_state else {}).get(obj.name, {}))
    old = int(bridge_live.info_data.get("IFLA_BR_VLAN_DEFAULT_PVID", new))
    if old != new:  # br_vlan_set_default_pvid: only where the old default is untouched
        untouched = not old or have.get(old) == _DEFAULT_ENTRY
        if untouched and new and new not in have:
            have[new] = _DEFAULT_ENTRY
            have.pop(old, None)
        elif untouched and not new:
            have.pop(old, None)
    return have


def _runs(items: list[tuple[int, Any]]) -> list[tuple[int, int, Any]]:
    """[(vid, key)] sorted by vid -> [(first, last, key)] over consecutive vids of one key."""
    runs: list[tuple[int, int, Any]] = []
    for vid, key in items:
        if runs and runs[-1][1] == vid - 1 and runs[-1][2] == key:
            runs[-1] = (runs[-1][0], vid, key)
        else:
            runs.append((vid, vid, key))
    return runs


def plan_vlans(obj: Any, live: Any, bridge: Any, bridge_live: Any,
               netns_state: Any) -> list[Action]:
    """Actions that make a port's (or a bridge's own) VLANs equal its `vlans` list: removals,
    then additions and flag changes, one action per run of vids."""
    if obj.vlans is None:
        return []
    want = wanted_vlans(obj)
    have = expected_vlans(obj, live, bridge, bridge_live, netns_state)
    ns, name = obj.netns, obj.name
    where = f"{ns}/{name}" if ns else name
    own = {"self_": True} if obj.master is None else {}
    actions: list[Action] = []

    def req(op: str, first: int, last: int, flags: int | None = None) -> Request:
        args: dict[str, Any] = {"ifname": name, "vids": [first, last], **own}
        if flags is not None:
            args.update(pvid=bool(flags & BRIDGE_VLAN_INFO_PVID),
                        untagged=bool(flags & BRIDGE_VLAN_INFO_UNTAGGED))
        return Request(f"bridge_vlan.{op}", ns, args)

    def label(first: int, last: int) -> str:
        return f"{first}" if first == last else f"{first}-{last}"

    gone = [(vid, have[vid]) for vid in sorted(have) if vid not in want]
    for first, last, old in _runs(gone):
        actions.append(Action(
            "remove", f"bridge vlan {label(first, last)} on {where}", "not in the file's vlans",
            [req("del", first, last)], [req("add", first, last, old)],
            diff={"vlan": (_flag_words(old), None)}))
    changed = [(vid, (have.get(vid), flags)) for vid, flags in sorted(want.items())
               if have.get(vid) != flags]
    for first, last, (old, new) in _runs(changed):
        undo = [req("del", first, last)] if old is None else [req("add", first, last, old)]
        actions.append(Action(
            "create" if old is None else "change",
            f"bridge vlan {label(first, last)} {_flag_words(new)} on {where}",
            "declared" if old is None else "flags differ from the file",
            [req("add", first, last, new)], undo,
            diff={"vlan": (None if old is None else _flag_words(old), _flag_words(new))}))
    return actions


def check_vlans(obj: Any, by_key: dict[Any, Any], report: Any) -> None:
    """`vlans` needs VLAN filtering: on a port, its master must be a bridge with
    vlan_filtering: true; entries may not overlap and one at most is the PVID."""
    if obj.vlans is None:
        return
    if obj.master is None and not isinstance(obj, Bridge) and \
            getattr(obj, "kind", None) != "bridge":
        report("vlans", f"vlans are the VLANs of a bridge port, and {obj.name!r} has no master",
               "add master: BRIDGE (a bridge with vlan_filtering: true), or remove vlans")
    elif obj.master is not None:
        target = by_key.get((obj.netns, obj.master))
        if isinstance(target, Bridge) and not target.vlan_filtering:
            report("vlans", f"bridge {obj.master!r} does not filter VLANs, so port VLANs "
                   "have no effect", f"add vlan_filtering: true to bridge {obj.master!r}")
        elif target is not None and isinstance(target, InterfaceBase) and \
                not isinstance(target, Bridge):
            report("vlans", f"master {obj.master!r} is a {target.kind_name}; only a bridge "
                   "port has VLANs", "remove vlans, or make the master a bridge")
    seen: dict[int, int] = {}
    pvid_at: int | None = None
    for i, entry in enumerate(obj.vlans):
        clash = next((seen[v] for v in entry.vids if v in seen), None)
        if clash is not None:
            report(f"vlans[{i}].vid", f"VLAN {entry.vid} overlaps vlans[{clash}]",
                   "list each VLAN once")
        for vid in entry.vids:
            seen.setdefault(vid, i)
        if entry.pvid:
            if pvid_at is not None:
                report(f"vlans[{i}].pvid", f"a port has one PVID, and vlans[{pvid_at}] is "
                       "already it", "keep pvid: true on one entry")
            pvid_at = i if pvid_at is None else pvid_at
