"""macvlan — extra MAC addresses on one parent link, each its own interface.

`ip link add macv1 link eth0 type macvlan mode bridge`, then (optionally) move it into a
namespace. vnet creates it in the parent's namespace and moves it in the same request.

The parent is named by `link:`; it lives where vnet runs unless `link_netns:` names the
namespace it is in — so a macvlan can sit in a container's namespace while its parent (the
host NIC) stays outside, as `ip link add macv1 link eth0 netns ctr1 type macvlan` does.

What the kernel (6.18, observed) changes in place: mode among private/vepa/bridge/source, the
flag (nopromisc, nodst), the source-MAC list and `bcqueuelen`; entering or leaving passthru is
refused (EINVAL), so that re-creates the link.

`bcqueuelen` (Linux 5.11 and later) is what this macvlan asks of the queue its parent keeps
for broadcast and multicast frames: the parent's queue is as long as the longest any of its
macvlans asks for (the kernel reports that too, IFLA_MACVLAN_BC_QUEUE_LEN_USED, read-only).
pyroute2 0.9.7 has no IFLA_MACVLAN_BC_QUEUE_LEN, so vnet speaks to macvlan and macvtap in
their own attribute layout (`info_nla`, if_link.h's numbering), which the door encodes and
decodes itself (door/decode.py).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from ..actions import Action, Request
from ..declare import Field
from . import register
from .base import PROBE_PARENT, Mac, OnParent, Option, int_option

MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8, "source": 16}
_MODE_NAMES = {v: k for k, v in MODES.items()}
MACVLAN_FLAG_NOPROMISC = 1
#: ip's `flag` words: the bits of IFLA_MACVLAN_FLAGS (ip sets one of them, or none: null)
FLAGS = {"null": 0, "nopromisc": MACVLAN_FLAG_NOPROMISC, "nodst": 2}
_FLAG_NAMES = {v: k for k, v in FLAGS.items()}
#: the mode each flag means something in
_FLAG_MODE = {"nopromisc": "passthru", "nodst": "source"}
MACADDR_FLUSH = 2
MACADDR_SET = 3
#: a derived option: entering or leaving passthru cannot happen in place
PASSTHRU_KEY = "mode (to or from passthru)"
#: the broadcast queue length a macvlan asks for when given none (MACVLAN_DEFAULT_BC_QUEUE_LEN)
DEFAULT_BC_QUEUE_LEN = 1000


def _layout(prefix: str) -> tuple[tuple[str, str], ...]:
    """IFLA_MACVLAN_* by number, as Linux 6.1 has them (include/uapi/linux/if_link.h); macvtap
    takes the same attributes, here under its own prefix."""
    return tuple((prefix + name, kind) for name, kind in (
        ("UNSPEC", "none"), ("MODE", "uint32"), ("FLAGS", "uint16"),
        ("MACADDR_MODE", "uint32"), ("MACADDR", "l2addr"), ("MACADDR_DATA", "nested"),
        ("MACADDR_COUNT", "uint32"), ("BC_QUEUE_LEN", "uint32"),
        ("BC_QUEUE_LEN_USED", "uint32")))

Mode = Literal["private", "vepa", "bridge", "passthru", "source"]


def _decode_mode(value: Any) -> Any:
    if isinstance(value, str):  # pyroute2 names the mode already
        return value
    return _MODE_NAMES.get(value, value)


def _decode_flags(value: Any) -> Any:
    if isinstance(value, str):  # pyroute2 names 0 and 1 itself (0: "none", ip's null)
        return "null" if value == "none" else value
    return _FLAG_NAMES.get(int(value), int(value))


def _mac_list(value: Any) -> list[str]:
    """IFLA_MACVLAN_MACADDR_DATA (a nested list of MACADDR attributes) → sorted MACs."""
    attrs = value.get("attrs", []) if hasattr(value, "get") else []
    return sorted(str(mac).lower() for _, mac in attrs)


class MacvlanLike(OnParent):
    """What macvlan and macvtap share: the same modes and attributes under another prefix."""

    #: IFLA_MACVLAN_ or IFLA_MACVTAP_
    nla_prefix: ClassVar[str] = "IFLA_MACVLAN_"

    mode: Mode | None = Field(
        None, description="private, vepa (kernel default), bridge, passthru or source.")
    flag: Literal["null", "nopromisc", "nodst"] | None = Field(
        None, description="nopromisc (passthru: do not put the parent into promiscuous "
                          "mode), nodst (source: take frames by source MAC only, not also "
                          "by destination), or null (kernel default: neither).")
    macaddr: list[Mac] | None = Field(
        None, description="source mode: the source MACs whose frames it receives "
                          "(ip: macaddr set MAC...).")
    bcqueuelen: int | None = Field(
        None, ge=0, le=2**32 - 1,
        description=f"Broadcast/multicast frames its parent may queue for it, 0-4294967295 "
                    f"(default {DEFAULT_BC_QUEUE_LEN}; 0 drops them all); the parent's queue "
                    "is as long as the longest any macvlan on it asks for (Linux 5.11).")

    # ---- options --------------------------------------------------------------------------
    @classmethod
    def _options(cls, prefix: str) -> dict[str, Option]:
        return {
            "mode": Option(prefix + "MODE", encode=lambda v: MODES[v], decode=_decode_mode),
            "flag": Option(prefix + "FLAGS", encode=lambda v: FLAGS[v], decode=_decode_flags),
            "bcqueuelen": int_option(prefix + "BC_QUEUE_LEN"),
            # set in place by plan_extras (it needs two attributes), compared there
            PASSTHRU_KEY: Option("", replace=True),
        }

    def declared_options(self) -> dict[str, Any]:
        out = {k: v for k, v in super().declared_options().items() if k != PASSTHRU_KEY}
        if self.mode is not None:
            out[PASSTHRU_KEY] = self.mode == "passthru"
        return out

    def info_data(self) -> dict[str, Any]:
        p = self.nla_prefix
        out: dict[str, Any] = {}
        if self.mode is not None:
            out[p + "MODE"] = MODES[self.mode]
        if self.flag is not None:
            out[p + "FLAGS"] = FLAGS[self.flag]
        if self.bcqueuelen is not None:
            out[p + "BC_QUEUE_LEN"] = self.bcqueuelen
        if self.macaddr:
            out.update(self._macaddr_attrs(self.macaddr))
        return out

    def _macaddr_attrs(self, macs: list[str]) -> dict[str, Any]:
        p = self.nla_prefix
        if not macs:
            return {p + "MACADDR_MODE": MACADDR_FLUSH}
        return {p + "MACADDR_MODE": MACADDR_SET,
                p + "MACADDR_DATA": {"attrs": [(p + "MACADDR", m) for m in macs]}}

    @classmethod
    def decode_info_data(cls, attrs: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in super().decode_info_data(attrs).items() if k != PASSTHRU_KEY}
        if "mode" in out:
            out[PASSTHRU_KEY] = out["mode"] == "passthru"
        if out.get("mode") == "source":
            out["macaddr"] = _mac_list(attrs.get(cls.nla_prefix + "MACADDR_DATA"))
        return out

    capture_defaults: ClassVar[dict[str, Any]] = {"mode": "vepa", "flag": "null",
                                                  "macaddr": [],
                                                  "bcqueuelen": DEFAULT_BC_QUEUE_LEN}

    # ---- the source-MAC list, changed in place ---------------------------------------------
    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        if live is None or self.macaddr is None:
            return []  # created with its list, or no list declared
        current = self.decode_info_data(live.info_data).get("macaddr", [])
        want = sorted(self.macaddr)
        if current == want:
            return []
        ns, name = self.key
        kernel_kind = self.kernel_kind or self.kind_name
        return [Action(
            "change", f"link {ns + '/' if ns else ''}{name} ({self.kind_name}) source MACs",
            "differs from the file",
            [Request("link.set", ns, {"ifname": name, "kind": kernel_kind,
                                      "info_data": self._macaddr_attrs(want)})],
            [Request("link.set", ns, {"ifname": name, "kind": kernel_kind,
                                      "info_data": self._macaddr_attrs(current)})],
            diff={"macaddr": (current, want)})]

    # ---- checks ---------------------------------------------------------------------------
    def check(self, topo: Any, report: Any) -> None:
        if self.macaddr is not None and self.mode != "source":
            report("macaddr", "macaddr lists the allowed source MACs of mode source only",
                   "add mode: source, or remove macaddr")
        if self.macaddr:
            seen: set[str] = set()
            for i, mac in enumerate(self.macaddr):
                if mac in seen:
                    report(f"macaddr[{i}]", f"MAC {mac} is listed twice", "remove the duplicate")
                seen.add(mac)
        needs = _FLAG_MODE.get(self.flag or "")
        if needs is not None and self.mode != needs:
            report("flag", f"flag {self.flag} only applies to mode {needs}",
                   f"add mode: {needs}, or remove flag")
        super().check(topo, report)  # the parent and its namespace

    # ---- rendering ------------------------------------------------------------------------
    def ip_type_args(self) -> list[str]:
        args: list[str] = []
        if self.mode is not None:
            args += ["mode", self.mode]
        if self.flag is not None:
            args += ["flag", self.flag]
        if self.bcqueuelen is not None:
            args += ["bcqueuelen", str(self.bcqueuelen)]
        if self.macaddr:
            args += ["macaddr", "set", *self.macaddr]
        return args

@register
class Macvlan(MacvlanLike):
    kind: Literal["macvlan"]
    listed = 60
    probe = {"link": PROBE_PARENT}
    nla_prefix = "IFLA_MACVLAN_"
    info_nla = _layout("IFLA_MACVLAN_")
    use_when = ("Give a container or namespace its own MAC and IP on an existing NIC, with no\n"
                "bridge; bridge mode lets siblings talk, private mode isolates them.")
    options_map = MacvlanLike._options("IFLA_MACVLAN_")
