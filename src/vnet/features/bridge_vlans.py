"""Bridge VLAN filtering, for ports of any kind: the common field `vlans` of a bridge port
(`bridge vlan add vid 10 dev veth1 pvid untagged`) or of a bridge itself (`... dev br0 self`).

A declared `vlans` list is the whole truth for that port: the default PVID the kernel gives
every new port (the bridge's vlan_default_pvid, 1 unless set) is removed unless listed, so
`vlans: [{vid: 10, pvid: true, untagged: true}]` makes an access port of VLAN 10 only. Omitting
`vlans` leaves the port's VLANs as the kernel has them. Entries are planned one action per vid
(or run of vids), so a second apply plans nothing. What observe keeps: NetnsState.bridge_vlans.

The bridge is recognised by what its class declares (`filters_vlans`), not by the class: the
kind files import this module, not the other way round.
"""

from __future__ import annotations

from typing import Any

from ..actions import Action, Request
from ..declare import BaseModel, ConfigDict, Field, field_validator, model_validator

BRIDGE_VLAN_INFO_PVID = 0x2
BRIDGE_VLAN_INFO_UNTAGGED = 0x4
_DEFAULT_ENTRY = BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED
#: the kernel's vlan_default_pvid of a new bridge
KERNEL_DEFAULT_PVID = 1
VLAN_MIN, VLAN_MAX = 1, 4094


class BridgeVlan(BaseModel):
    """One VLAN of a bridge port, or of the bridge itself (`bridge vlan add vid V dev X
    [pvid] [untagged] [self]`). `vid` is one id or a range "100-110" (not with pvid)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    vid: int | str = Field(description="VLAN id 1-4094, or a range like \"100-110\".")
    pvid: bool = Field(False, description="Untagged frames entering the port join this VLAN.")
    untagged: bool = Field(False, description="Frames of this VLAN leave the port untagged.")

    @field_validator("vid")
    @classmethod
    def _vid(cls, value: int | str) -> int | str:
        text = str(value).strip()
        parts = text.split("-") if isinstance(value, str) else [text]
        try:
            ids = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"vid {value!r} is not a VLAN id or a range like 100-110") from None
        if len(ids) > 2 or any(not VLAN_MIN <= i <= VLAN_MAX for i in ids):
            raise ValueError(f"vid {value!r}: VLAN ids are {VLAN_MIN}-{VLAN_MAX}")
        if len(ids) == 2 and ids[0] >= ids[1]:
            raise ValueError(f"vid range {value!r} must go from low to high, e.g. 100-110")
        return ids[0] if len(ids) == 1 else f"{ids[0]}-{ids[1]}"

    @model_validator(mode="after")
    def _pvid_single(self) -> BridgeVlan:
        if self.pvid and isinstance(self.vid, str):
            raise ValueError("pvid names one VLAN; a range cannot be the PVID")
        return self

    @property
    def vids(self) -> range:
        if isinstance(self.vid, int):
            return range(self.vid, self.vid + 1)
        low, high = (int(p) for p in self.vid.split("-"))
        return range(low, high + 1)


def _flags(pvid: bool, untagged: bool) -> int:
    return (BRIDGE_VLAN_INFO_PVID if pvid else 0) | (BRIDGE_VLAN_INFO_UNTAGGED if untagged else 0)


def _flag_words(flags: int) -> str:
    words = [w for bit, w in ((BRIDGE_VLAN_INFO_PVID, "pvid"),
                              (BRIDGE_VLAN_INFO_UNTAGGED, "untagged")) if flags & bit]
    return " ".join(words) if words else "tagged"


def _is_bridge(obj: Any) -> bool:
    """A bridge of the file (whose own VLANs and ports' VLANs this feature plans)."""
    return bool(getattr(obj, "filters_vlans", False))


def wanted_vlans(obj: Any) -> dict[int, int]:
    """The file's `vlans` of one port (or bridge) as {vid: PVID|UNTAGGED flags}."""
    out: dict[int, int] = {}
    for entry in obj.vlans or []:
        for vid in entry.vids:
            out[vid] = _flags(entry.pvid, entry.untagged)
    return out


def _default_pvid(bridge: Any, bridge_live: Any) -> int:
    """The bridge's vlan_default_pvid once the plan's in-place changes are done."""
    if _is_bridge(bridge) and bridge.vlan_default_pvid is not None:
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
    if obj.master is None and not _is_bridge(obj) and getattr(obj, "kind", None) != "bridge":
        report("vlans", f"vlans are the VLANs of a bridge port, and {obj.name!r} has no master",
               "add master: BRIDGE (a bridge with vlan_filtering: true), or remove vlans")
    elif obj.master is not None:
        target: Any = by_key.get((obj.netns, obj.master))
        if _is_bridge(target) and not target.vlan_filtering:
            report("vlans", f"bridge {obj.master!r} does not filter VLANs, so port VLANs "
                   "have no effect", f"add vlan_filtering: true to bridge {obj.master!r}")
        elif hasattr(target, "kind_name") and not _is_bridge(target):  # another kind
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


def vlan_commands(obj: Any, bridge: Any) -> list[list[str]]:
    """The `bridge vlan` commands that give a new port (or a new bridge itself) its `vlans`,
    once it is enslaved to `bridge`: the same steps `plan_vlans` plans against a kernel that
    has just made it (the default PVID removed unless listed, then each run of vids added)."""
    ns = ["-n", obj.netns] if obj.netns else []
    cmds: list[list[str]] = []
    for action in plan_vlans(obj, None, bridge, None, None):
        for req in action.do:
            first, last = req.args["vids"]
            verb = req.op.split(".")[1]
            cmd = ["bridge", *ns, "vlan", verb, "vid",
                   str(first) if first == last else f"{first}-{last}", "dev", obj.name]
            cmd += [word for word in ("pvid", "untagged") if req.args.get(word)]
            if req.args.get("self_"):
                cmd.append("self")
            cmds.append(cmd)
    return cmds
