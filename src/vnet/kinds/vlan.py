"""vlan — an 802.1Q (or 802.1ad) tagged sub-interface of a parent: `eth0.2`.

`ip link add link eth0 name eth0.2 type vlan id 2 [protocol 802.1ad] [reorder_hdr off]
[gvrp on] [mvrp on] [loose_binding on] [bridge_binding on] [ingress-qos-map 1:2 ...]
[egress-qos-map 2:3 ...]`

The id is 0-4094 as the kernel takes it (vlan_validate; `ip` prints 0-4095, but the kernel
refuses 4095): VLAN 0 is a priority-tagged link, frames that carry only a priority.

The parent is named by `link:` and lives in the vlan's own namespace unless `link_netns:`
names another (`link_netns: null`: the namespace vnet runs in) — so a container's vlan can sit
on a host NIC, as `ip link add link eth0 name eth0.2 netns ctr1 type vlan id 2` does.

QinQ is a vlan whose parent is a vlan: the outer one (the parent) is usually `protocol:
802.1ad` (S-tag, 0x88a8) and the inner one 802.1Q (C-tag). vnet accepts an 802.1Q outer tag
too (0x8100 twice), as the kernel and many switches do: older provider networks use it.

What the kernel changes in place (vlan_changelink): the five flags and both QoS maps. It
ignores id and protocol on an existing link, so changing them re-creates it. A QoS map entry
is removed by mapping it to 0 (the kernel reports only non-zero entries), which is what vnet
sends for entries the file no longer lists.
"""

from __future__ import annotations

from typing import Any, Literal

from ..actions import Action, Request
from ..declare import Field, field_validator
from . import register
from .base import (
    PROBE_PARENT,
    VLAN_MAX,
    IfName,
    InterfaceBase,
    NetnsName,
    Option,
    check_link_netns,
    int_option,
    topology_index,
)

PROTOCOLS = {"802.1Q": 0x8100, "802.1ad": 0x88A8}
_PROTOCOL_NAMES = {v: k for k, v in PROTOCOLS.items()}
#: VLAN_FLAG_* bits, in the order `ip -d link` prints them
FLAGS = {"reorder_hdr": 0x1, "gvrp": 0x2, "loose_binding": 0x4, "mvrp": 0x8,
         "bridge_binding": 0x10}
FLAG_MASK = sum(FLAGS.values())
#: the kernel's flags for a new vlan (vlan_newlink sets REORDER_HDR)
DEFAULT_FLAGS = {"reorder_hdr": True, "gvrp": False, "loose_binding": False, "mvrp": False,
                 "bridge_binding": False}
#: the option names the planner compares for the flags and the maps (set together)
FLAGS_KEY = "flags"
QOS = {"ingress_qos_map": "IFLA_VLAN_INGRESS_QOS", "egress_qos_map": "IFLA_VLAN_EGRESS_QOS"}
#: a QoS map's side that is a VLAN priority (PCP, 0-7): ingress maps from it, egress to it
_PCP_SIDE = {"ingress_qos_map": 0, "egress_qos_map": 1}


def _parse_map(entries: list[str]) -> list[tuple[int, int]]:
    """["1:2", "3:4"] -> sorted [(1, 2), (3, 4)] without the 0-valued entries (the kernel
    drops them), the last one winning per `from`."""
    out: dict[int, int] = {}
    for entry in entries:
        a, b = entry.split(":")
        out[int(a)] = int(b)
    return sorted((a, b) for a, b in out.items() if b != 0)


def _encode_map(pairs: list[tuple[int, int]]) -> dict[str, Any]:
    return {"attrs": [("IFLA_VLAN_QOS_MAPPING", {"from": a, "to": b}) for a, b in pairs]}


def _decode_map(value: Any) -> list[str]:
    attrs = value.get("attrs", []) if hasattr(value, "get") else []
    pairs = []
    for name, mapping in attrs:
        if name == "IFLA_VLAN_QOS_MAPPING" and int(mapping["to"]) != 0:
            pairs.append((int(mapping["from"]), int(mapping["to"])))
    return [f"{a}:{b}" for a, b in sorted(pairs)]


def _decode_flags(value: Any) -> list[str]:
    bits = int(value["flags"]) if hasattr(value, "__getitem__") else int(value)
    return [name for name, bit in FLAGS.items() if bits & bit]


def _canon_map(entries: list[str] | None) -> list[str] | None:
    return None if entries is None else [f"{a}:{b}" for a, b in _parse_map(entries)]


@register
class Vlan(InterfaceBase):
    kind: Literal["vlan"]
    listed = 40
    modules = ("8021q",)
    probe = {"link": PROBE_PARENT, "id": 2}
    use_when = ("Carry several isolated L2 networks over one link with 802.1Q/802.1ad\n"
                "tags: one sub-interface per VLAN id on a parent (QinQ: a vlan on a vlan).")

    link: IfName = Field(description="Parent link (the trunk that carries the tagged frames).")
    link_netns: NetnsName | None = Field(
        None, description="Namespace the parent is in; omitted: the vlan's own namespace; "
                          "null: the namespace vnet runs in.")
    id: int = Field(ge=0, le=VLAN_MAX,
                    description="VLAN id, 0-4094 (0: priority-tagged frames only).")
    protocol: Literal["802.1Q", "802.1ad"] | None = Field(
        None, description="Tag protocol: 802.1Q (default, C-tag) or 802.1ad (S-tag, the outer "
                          "tag of QinQ).")
    reorder_hdr: bool | None = Field(
        None, description="Present frames to the stack untagged (kernel default on).")
    gvrp: bool | None = Field(None, description="Register the VLAN with GVRP (default off).")
    mvrp: bool | None = Field(None, description="Register the VLAN with MVRP (default off).")
    loose_binding: bool | None = Field(
        None, description="Do not follow the parent's operational state (default off).")
    bridge_binding: bool | None = Field(
        None, description="On a bridge: up only while a bridge port in its VLAN is up, not "
                          "with the bridge (default off; Linux 5.4 and later).")
    ingress_qos_map: list[str] | None = Field(
        None, description='Received VLAN priority -> skb priority, "FROM:TO" with FROM 0-7 '
                          '(ip: ingress-qos-map 1:2 3:4).')
    egress_qos_map: list[str] | None = Field(
        None, description='skb priority -> sent VLAN priority, "FROM:TO" with TO 0-7 '
                          '(ip: egress-qos-map 1:2 3:4).')

    options_map = {
        "id": int_option("IFLA_VLAN_ID", replace=True),
        "protocol": Option("IFLA_VLAN_PROTOCOL", encode=lambda v: PROTOCOLS[v],
                           decode=lambda v: _PROTOCOL_NAMES.get(v, v), replace=True),
        FLAGS_KEY: Option("IFLA_VLAN_FLAGS",
                          encode=lambda v: {"flags": sum(FLAGS[f] for f in v),
                                            "mask": FLAG_MASK},
                          decode=_decode_flags),
    }
    # the QoS maps are not in options_map: plan_extras compares and sets them (an entry the
    # file drops must be sent as 0, which needs the live map)

    @field_validator("ingress_qos_map", "egress_qos_map")
    @classmethod
    def _qos_entries(cls, value: list[str] | None, info: Any) -> list[str] | None:
        if value is None:
            return value
        pcp_side = _PCP_SIDE[info.field_name]
        for entry in value:
            parts = str(entry).split(":")
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                raise ValueError(f"QoS map entry {entry!r} is not FROM:TO, e.g. 1:2")
            nums = [int(p) for p in parts]
            if nums[pcp_side] > 7:
                side = "FROM" if pcp_side == 0 else "TO"
                raise ValueError(f"QoS map entry {entry!r}: {side} is a VLAN priority, 0-7")
            if nums[1 - pcp_side] > 0xFFFFFFFF:
                raise ValueError(f"QoS map entry {entry!r}: skb priority is at most 4294967295")
        return [str(e) for e in value]

    # ---- graph ----------------------------------------------------------------------------
    def parent(self) -> str | None:
        return self.link

    def parent_netns(self) -> str | None:
        return self.link_netns if "link_netns" in self.model_fields_set else self.netns

    # ---- options --------------------------------------------------------------------------
    def flags(self) -> list[str]:
        """The flags that will be on, the kernel's defaults where the file says nothing."""
        return [f for f, default in DEFAULT_FLAGS.items()
                if (getattr(self, f) if getattr(self, f) is not None else default)]

    def declared_options(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.protocol is not None:
            out["protocol"] = self.protocol
        if any(getattr(self, f) is not None for f in FLAGS):
            out[FLAGS_KEY] = self.flags()
        return out

    def info_data(self) -> dict[str, Any]:
        out = super().info_data()
        for opt, nla in QOS.items():
            pairs = _parse_map(getattr(self, opt) or [])
            if pairs:
                out[nla] = _encode_map(pairs)
        return out

    @classmethod
    def decode_info_data(cls, attrs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for opt in ("id", "protocol", FLAGS_KEY):
            spec = cls.options_map[opt]
            if spec.nla in attrs:
                out[opt] = spec.decode(attrs[spec.nla])
        for opt, nla in QOS.items():
            out[opt] = _decode_map(attrs.get(nla))
        return out

    # ---- QoS maps, changed in place ---------------------------------------------------------
    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        if live is None:
            return []  # created with its maps
        current = self.decode_info_data(live.info_data)
        sets: dict[str, Any] = {}
        undo: dict[str, Any] = {}
        diff: dict[str, Any] = {}
        for opt, nla in QOS.items():
            want = _canon_map(getattr(self, opt))
            have = current.get(opt, [])
            if want is None or want == have:
                continue
            want_pairs, have_pairs = _parse_map(want), _parse_map(have)
            sets[nla] = _encode_map(_with_zeros(want_pairs, have_pairs))
            undo[nla] = _encode_map(_with_zeros(have_pairs, want_pairs))
            diff[opt] = (have, want)
        if not sets:
            return []
        ns, name = self.key
        return [Action(
            "change", f"link {ns + '/' if ns else ''}{name} (vlan) QoS maps",
            "differs from the file",
            [Request("link.set", ns, {"ifname": name, "kind": "vlan", "info_data": sets})],
            [Request("link.set", ns, {"ifname": name, "kind": "vlan", "info_data": undo})],
            diff=diff)]

    # ---- capture --------------------------------------------------------------------------
    @classmethod
    def capture_fields(cls, live: Any, netns_state: Any) -> dict[str, Any]:
        """id, protocol unless 802.1Q, each flag that differs from a new vlan's, the QoS
        maps that have entries."""
        data = cls.decode_info_data(live.info_data)
        out: dict[str, Any] = {"id": data.get("id")}
        if data.get("protocol", "802.1Q") != "802.1Q":
            out["protocol"] = data["protocol"]
        flags = set(data.get(FLAGS_KEY, [f for f, on in DEFAULT_FLAGS.items() if on]))
        for flag, default in DEFAULT_FLAGS.items():
            if (flag in flags) != default:
                out[flag] = flag in flags
        for opt, nla in QOS.items():
            entries = _decode_map(live.info_data.get(nla) or {})
            if entries:
                out[opt] = entries
        return out

    # ---- checks ---------------------------------------------------------------------------
    def _parent_key(self) -> tuple[Any, ...]:
        """What the kernel allows one VLAN of: parent (and its namespace), id, protocol."""
        return (self.parent_netns(), self.link, self.id, self.protocol or "802.1Q")

    def check(self, topo: Any, report: Any) -> None:
        check_link_netns(self, topo, report)
        mine = self._parent_key()
        same = topology_index(topo, "vlans_by_parent", _vlans_by_parent).get(mine, [])
        other = next((v for v in same[:2] if v is not self), None)
        if other is not None:
            report("id", f"VLAN {self.id} ({mine[3]}) on {self.link!r} is also "
                   f"{other.name!r}; the kernel allows one per parent and protocol",
                   "remove one of them, or use another id")
        for opt in QOS:
            seen: dict[int, int] = {}
            for i, entry in enumerate(getattr(self, opt) or []):
                src = int(entry.split(":")[0])
                if src in seen:
                    report(f"{opt}[{i}]", f"{opt} maps {src} twice",
                           f"keep one of {opt}[{seen[src]}] and {opt}[{i}]")
                seen.setdefault(src, i)

    # ---- rendering ------------------------------------------------------------------------
    def ip_type_args(self) -> list[str]:
        args = ["id", str(self.id)]
        if self.protocol is not None:
            args += ["protocol", self.protocol]
        for flag in FLAGS:
            value = getattr(self, flag)
            if value is not None:
                args += [flag, "on" if value else "off"]
        for opt in QOS:
            pairs = _parse_map(getattr(self, opt) or [])
            if pairs:
                args += [opt.replace("_", "-"), *(f"{a}:{b}" for a, b in pairs)]
        return args

    def ip_commands(self) -> list[list[str]]:
        # created where the parent is, moved into the vlan's namespace by the same command
        pns = self.parent_netns()
        cmd = ["ip"] + (["-n", pns] if pns else [])
        cmd += ["link", "add", "link", self.link, "name", self.name]
        if self.netns != pns:
            cmd += ["netns", self.netns or "1"]  # pid 1's namespace: where vnet runs
        cmd += ["type", "vlan", *self.ip_type_args()]
        return [cmd]


def _with_zeros(want: list[tuple[int, int]],
                have: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The entries to send so the kernel ends with `want`: `have`'s others mapped to 0."""
    keys = {a for a, _ in want}
    return sorted(want + [(a, 0) for a, _ in have if a not in keys])


def _vlans_by_parent(topo: Any) -> dict[tuple[Any, ...], list[Vlan]]:
    """Each (parent netns, parent, id, protocol) -> its VLANs, in the file's order."""
    out: dict[tuple[Any, ...], list[Vlan]] = {}
    for end in topo.endpoints():
        if isinstance(end, Vlan):
            out.setdefault(end._parent_key(), []).append(end)
    return out
