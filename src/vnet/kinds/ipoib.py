"""ipoib — IP over InfiniBand: a child interface of an InfiniBand port for one partition.

`ip link add link ib0 name ipoib0 type ipoib mode connected pkey 0x8001 umcast 1`.

The parent is an InfiniBand device (ib0, made by the HCA's driver): vnet cannot create one, so
the file lists it with `external: true`, and the plan refuses — before anything is touched —
when it is missing or is not InfiniBand (its hardware type, ARPHRD_INFINIBAND = 32). No VM or
virtual device provides InfiniBand, so vnet's tests prove validation, rendering and that error.

The kernel always sets the partition key's full-membership bit (0x8000) on a child, so vnet
does too: `pkey: 0x0001` and `pkey: 0x8001` are the same partition. What the kernel changes in
place: mode and umcast; the pkey is fixed at creation (re-created).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ..declare import BeforeValidator, Field
from . import register
from .base import (
    PROBE_PARENT,
    IfName,
    InterfaceBase,
    Option,
    bool_option,
    ends_by_key,
    enum_option,
)

ARPHRD_INFINIBAND = 32
FULL_MEMBER = 0x8000
MODES = {"datagram": 0, "connected": 1}
_ARPHRD_NAMES = {1: "Ethernet", 772: "loopback", 65534: "none (L3 tunnel)", 280: "CAN",
                 824: "netlink", 32: "InfiniBand"}


def _pkey_input(value: Any) -> Any:
    """0x8001, "0x8001" or 32769 → the partition key with the full-membership bit."""
    if isinstance(value, bool):
        raise ValueError("pkey is a number like 0x8001, not true/false")
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise ValueError(f"pkey {value!r} is not a number like 0x8001") from None
    if not isinstance(value, int):
        raise ValueError("pkey is a number like 0x8001")
    if not 0 <= value <= 0xFFFF or value & 0x7FFF == 0:
        raise ValueError(f"pkey {value:#06x} is out of range: the partition is 0x0001-0x7fff, "
                         "optionally with the full-membership bit 0x8000 (0x8001-0xffff); "
                         "0x0000 and 0x8000 are not valid partitions")
    return value | FULL_MEMBER


Pkey = Annotated[int | None, BeforeValidator(lambda v: None if v is None else _pkey_input(v))]


@register
class Ipoib(InterfaceBase):
    kind: Literal["ipoib"]
    listed = 140
    modules = ("ib_ipoib",)
    probe = {"link": PROBE_PARENT}
    requires = "an InfiniBand device as its parent"
    may_skip = "it needs an InfiniBand device, and a VM has none"
    use_when = ("IP over an InfiniBand port (datagram or connected mode), one child per\n"
                "partition key; needs an InfiniBand device (not available in VMs).")

    link: IfName = Field(description="The InfiniBand parent (e.g. ib0), listed with "
                                     "external: true, in the same namespace.")
    mode: Literal["datagram", "connected"] | None = Field(
        None, description="datagram (kernel default, MTU up to the IB MTU) or connected "
                          "(RC, MTU up to 65520).")
    pkey: Pkey = Field(None, description="Partition key 0x0001-0x7fff; the kernel sets the "
                                         "full-membership bit 0x8000.")
    umcast: bool | None = Field(None, description="Allow user-space multicast.")

    options_map = {
        "mode": enum_option("IFLA_IPOIB_MODE", MODES),
        "pkey": Option("IFLA_IPOIB_PKEY", encode=int, decode=lambda v: int(v) | FULL_MEMBER,
                       replace=True),
        "umcast": bool_option("IFLA_IPOIB_UMCAST"),
    }

    def parent(self) -> str | None:
        return self.link

    capture_defaults = {"mode": "datagram", "umcast": False}

    @classmethod
    def capture_default_mtu(cls, live: Any, netns_state: Any, parent: Any) -> int | None:
        return None  # set by the InfiniBand port and the mode: not known here

    # ---- checks ---------------------------------------------------------------------------
    def check(self, topo: Any, report: Any) -> None:
        parent = ends_by_key(topo).get((self.netns, self.link))
        if parent is not None:
            report("link", f"the parent {self.link!r} is a {parent.kind} that vnet creates; an "
                   "ipoib sits on an InfiniBand device, which only the HCA driver makes",
                   "name the InfiniBand port (e.g. ib0) and list it with "
                   "'- {name: ib0, external: true}'")

    def live_conflicts(self, observed: Any) -> list[tuple[str, str]]:
        """The parent must exist and be InfiniBand now: otherwise nothing is applied."""
        st = observed.namespaces.get(self.netns)
        where = f"namespace {self.netns}" if self.netns else "the namespace vnet runs in"
        parent = st.links.get(self.link) if st is not None else None
        if parent is None:
            return [(f"the InfiniBand parent {self.link!r} of ipoib {self.name!r} does not "
                     f"exist in {where}",
                     "ipoib needs an InfiniBand device (an HCA with its driver loaded, e.g. "
                     "ib0; `ip -d link show type ipoib` lists them); fix link:")]
        if parent.link_type != ARPHRD_INFINIBAND:
            what = _ARPHRD_NAMES.get(parent.link_type, f"link type {parent.link_type}")
            return [(f"the parent {self.link!r} of ipoib {self.name!r} is not an InfiniBand "
                     f"device: it is {parent.kind or 'a device'} with hardware type {what} "
                     f"(InfiniBand is {ARPHRD_INFINIBAND})",
                     "set link: to an InfiniBand port (e.g. ib0)")]
        return []

    # ---- rendering ------------------------------------------------------------------------
    def ip_type_args(self) -> list[str]:
        d = self.declared_options()
        args: list[str] = []
        if "mode" in d:
            args += ["mode", d["mode"]]
        if "pkey" in d:
            args += ["pkey", f"{d['pkey']:#06x}"]
        if "umcast" in d:
            args += ["umcast", "1" if d["umcast"] else "0"]
        return args

    def ip_commands(self) -> list[list[str]]:
        ns = ["-n", self.netns] if self.netns else []
        return [["ip", *ns, "link", "add", "link", self.link, "name", self.name, "type",
                 "ipoib", *self.ip_type_args()]]
