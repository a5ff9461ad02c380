"""tun / tap — L3 (tun) or L2 (tap) devices whose other side is a file descriptor: a VM's
NIC (QEMU), a VPN daemon. vnet makes them persistent so they exist without a process.

    ip tuntap add dev tap1 mode tap user 1000 multi_queue

They are created with the TUNSETIFF ioctl on /dev/net/tun, not rtnetlink; the kernel reports
both as IFLA_INFO_KIND "tun" and tells them apart by IFLA_TUN_TYPE (1 tun, 2 tap). None of the
options can change on a live device: a change re-creates it.
"""

from __future__ import annotations

import grp
import pwd
from typing import Any, ClassVar, Literal

from ..declare import Field
from . import register
from .base import InterfaceBase, Option, bool_option, int_option

IFF_TUN = 1
IFF_TAP = 2


def resolve_user(value: int | str) -> int | None:
    """A uid from a number or a user name (None: no such user here)."""
    if isinstance(value, int):
        return value
    if value.isdigit():
        return int(value)
    try:
        return pwd.getpwnam(value).pw_uid
    except KeyError:
        return None


def resolve_group(value: int | str) -> int | None:
    """A gid from a number or a group name (None: no such group here)."""
    if isinstance(value, int):
        return value
    if value.isdigit():
        return int(value)
    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        return None


class _TunTap(InterfaceBase):
    """What tun and tap share; `tun_type` is the kernel's IFLA_TUN_TYPE."""

    kernel_kind = "tun"
    tun_type: ClassVar[int] = 0
    #: `ip tuntap add dev NAME mode tap`: the file says `name:` and `kind: tap`
    ip_words = {"dev": "name", "mode": "kind"}

    user: int | str | None = Field(
        None, description="Owner allowed to attach without CAP_NET_ADMIN: uid or user name.")
    group: int | str | None = Field(
        None, description="Group allowed to attach: gid or group name.")
    multi_queue: bool | None = Field(None, description="Several queues (one fd per queue).")
    vnet_hdr: bool | None = Field(
        None, description="virtio-net header on each packet (QEMU vhost/virtio).")
    pi: bool | None = Field(
        None, description="Packet information header; off by default, as with `ip tuntap`.")

    options_map: ClassVar[dict[str, Option]] = {
        "user": int_option("IFLA_TUN_OWNER", replace=True),
        "group": int_option("IFLA_TUN_GROUP", replace=True),
        "multi_queue": bool_option("IFLA_TUN_MULTI_QUEUE", replace=True),
        "vnet_hdr": bool_option("IFLA_TUN_VNET_HDR", replace=True),
        "pi": bool_option("IFLA_TUN_PI", replace=True),
        # not a file option: vnet's devices are always persistent, a live one that is not
        # (made by a program, gone with it) is re-created
        "persist": bool_option("IFLA_TUN_PERSIST", replace=True),
    }

    @classmethod
    def matches_kernel(cls, kernel_kind: str | None, info_data: dict[str, Any]) -> bool:
        return kernel_kind == "tun" and info_data.get("IFLA_TUN_TYPE") == cls.tun_type

    def declared_options(self) -> dict[str, Any]:
        """Declared options with user/group as the numbers the kernel reports."""
        out: dict[str, Any] = {}
        for opt in ("user", "group", "multi_queue", "vnet_hdr", "pi"):
            value = getattr(self, opt)
            if opt not in self.model_fields_set or value is None:
                continue
            if opt == "user":
                value = resolve_user(value)
            elif opt == "group":
                value = resolve_group(value)
            out[opt] = value
        out["persist"] = True
        return out

    capture_defaults: ClassVar[dict[str, Any]] = {"multi_queue": False, "vnet_hdr": False,
                                                  "pi": False}

    def check(self, topo: Any, report: Any) -> None:
        if self.user is not None and resolve_user(self.user) is None:
            report("user", f"no user {self.user!r} on this machine",
                   "use a uid or an existing user name")
        if self.group is not None and resolve_group(self.group) is None:
            report("group", f"no group {self.group!r} on this machine",
                   "use a gid or an existing group name")
        for opt in ("user", "group"):
            value = getattr(self, opt)
            if isinstance(value, int) and not 0 <= value < 2**32 - 1:
                report(opt, f"{opt} {value} is not a valid id (0 to 4294967294)",
                       "use a uid/gid in range")

    def create_request(self) -> dict[str, Any]:
        tuntap: dict[str, Any] = {
            "mode": self.kind_name,
            "ifr": {"no_pi": int(not self.pi), "vnet_hdr": int(bool(self.vnet_hdr)),
                    "multi_queue": int(bool(self.multi_queue))},
        }
        if self.user is not None:
            tuntap["uid"] = resolve_user(self.user)
        if self.group is not None:
            tuntap["gid"] = resolve_group(self.group)
        return {"kind": "tun", "info_data": {}, "tuntap": tuntap}

    def ip_commands(self) -> list[list[str]]:
        cmd = ["ip", "-n", self.netns] if self.netns else ["ip"]
        cmd += ["tuntap", "add", "dev", self.name, "mode", self.kind_name]
        if self.user is not None:
            cmd += ["user", str(self.user)]
        if self.group is not None:
            cmd += ["group", str(self.group)]
        for flag in ("pi", "vnet_hdr", "multi_queue"):
            if getattr(self, flag):
                cmd.append(flag)
        return [cmd]


@register
class Tun(_TunTap):
    kind: Literal["tun"]
    listed = 180
    tun_type = IFF_TUN
    use_when = ("An L3 (IP packets) device whose other end is a program's file descriptor:\n"
                "a VPN daemon (OpenVPN, WireGuard-go) or a userspace router.")


@register
class Tap(_TunTap):
    kind: Literal["tap"]
    listed = 190
    tun_type = IFF_TAP
    use_when = ("An L2 (Ethernet frames) device backed by a file descriptor: the NIC of a\n"
                "QEMU/KVM guest, usually a port of a bridge.")
