"""What every interface kind shares: the common fields and the hooks a kind file fills in.

A kind file subclasses `InterfaceBase`, declares its own fields (spelled as `ip link ... type KIND`
spells them), the netlink attribute each option maps to, and registers itself with `@register`.
Nothing outside a kind file knows a kind's options.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, get_args, get_origin

from ..datatypes import datatype
from ..declare import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
)
from ..features.bridge_vlans import BridgeVlan
from ..features.impair import Impair
from ..features.link_attr_fields import LinkAttrFields
from ..features.port_option_fields import PortOptions
from ..features.sysctl_fields import SysctlFields

if TYPE_CHECKING:  # only in signatures: loading a file imports no pathlib
    from pathlib import Path

IFNAMSIZ = 15
#: names of the throwaway links that probe the kernel for a kind (and of their parent)
PROBE_NAME, PROBE_PEER, PROBE_PARENT = "vnetprobe0", "vnetprobe1", "vnetprobep0"
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def empty_list() -> list[Any]:
    """A new empty list: the default factory of the models' list fields. pydantic reads the
    signature of each field's factory when it builds a model (a twin, vnet.declare), and the
    builtin `list`'s is parsed from text by the tokenizer; a function's is not."""
    return []


#: the characters a name may use: printable ASCII but '/' and ':' (the kernel refuses them),
#: '%' (the kernel reads `name%d` as a pattern and picks a name of its own) and the space. No
#: other character: the kernel reads some bytes of UTF-8 text (0xa0, as in 'à') as whitespace,
#: and systemd-networkd (an export target) accepts only these
_NAME_CHARS = re.compile(r"[!-$&-.0-9;-~]+")
NAME_RULE = ("ASCII letters, digits and punctuation except '/', ':' and '%' (no spaces, no "
             "accented or other non-ASCII letters)")


def _bad_char(value: str) -> str | None:
    """The first character of `value` outside `_NAME_CHARS`, as a name's error shows it."""
    if _NAME_CHARS.fullmatch(value):
        return None
    char = next(c for c in value if not _NAME_CHARS.fullmatch(c))
    if char == " ":
        return "' ' (a space)"
    return repr(char) if char.isprintable() and not char.isspace() else \
        f"U+{ord(char):04X}"


def _shown(value: str, most: int = 40) -> str:
    """A name as an error quotes it: whole, or its start when it is long (a file may hold a
    name of megabytes)."""
    return repr(value) if len(value) <= most else f"{value[:most]!r}... ({len(value)} chars)"


def check_ifname(value: str) -> str:
    """An interface name as the kernel (dev_valid_name), `ip` and networkd accept it."""
    if not value:
        raise ValueError("interface name is empty")
    if len(value.encode()) > IFNAMSIZ:
        raise ValueError(
            f"interface name {_shown(value)} is {len(value.encode())} bytes; the kernel allows "
            f"at most {IFNAMSIZ} — use a shorter name"
        )
    bad = _bad_char(value)
    if bad is not None:
        raise ValueError(f"interface name {_shown(value)} has the character {bad}: use only "
                         f"{NAME_RULE}")
    if value in (".", ".."):
        raise ValueError("interface name cannot be '.' or '..'")
    if value.isdigit():
        raise ValueError(f"interface name {value!r} is only digits, which `ip` and networkd "
                         "read as an interface index — add a letter")
    return value


def check_netns_name(value: str) -> str:
    """A namespace name usable as a file under /run/netns, with the characters of a link's."""
    if not value or value in (".", "..") or len(value) > 64:
        raise ValueError(
            f"namespace name {_shown(value)} must be 1-64 characters (it becomes "
            "/run/netns/NAME), not '.' or '..'"
        )
    bad = _bad_char(value)
    if bad is not None:
        raise ValueError(f"namespace name {_shown(value)} has the character {bad}: use only "
                         f"{NAME_RULE}")
    return value


def check_address(value: str) -> str:
    """An address with prefix, IPv4 or IPv6, normalised (`192.0.2.1/24`)."""
    # already spelled as ipaddress writes it: return it without ipaddress's parsing, which
    # shows when a large file loads
    if _CANONICAL_V4.fullmatch(value) and not value.startswith("0.0.0.0/"):
        return value
    if "/" not in value:
        try:
            bare = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{_shown(value)} is not an IPv4 or IPv6 address with "
                             "prefix") from None
        # the usual prefix of a LAN of the address's family: /24 for IPv4, /64 for IPv6
        raise ValueError(f"address {value!r} has no prefix length — write it as "
                         f"{value}/{24 if bare.version == 4 else 64}")
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(f"{_shown(value)} is not an IPv4 or IPv6 address with prefix") from None
    unusable = _unusable(iface.ip)
    if unusable:
        raise ValueError(f"address {iface.with_prefixlen} is {unusable} — give the interface "
                         f"a host address, e.g. "
                         f"{'192.0.2.1/24' if iface.version == 4 else '2001:db8::1/64'}")
    return iface.with_prefixlen


def _unusable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why the kernel will not keep `ip` on an interface vnet makes ('' if it will): it
    drops 0.0.0.0 silently, and refuses ::, ::1 (lo's alone) and IPv6 multicast."""
    if ip.is_unspecified:
        what = "drops it without an error" if ip.version == 4 else "refuses it"
        return f"the unspecified address, not an address of a host: the kernel {what}"
    if ip.version == 6 and ip.is_loopback:
        return "the loopback address, which the kernel keeps only on lo"
    if ip.version == 6 and ip.is_multicast:
        return ("a multicast group, which an interface joins but cannot have as its "
                "address (the kernel refuses it)")
    return ""


#: 0-255 and 0-32 written without leading zeros, as ipaddress writes them
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}/(?:3[0-2]|[12]?[0-9])")


def check_ip(value: str) -> str:
    """A bare IPv4 or IPv6 address, normalised."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{_shown(value)} is not an IPv4 or IPv6 address") from None


def check_mac(value: str) -> str:
    """A unicast Ethernet MAC address, normalised to lower case."""
    mac = value.lower().replace("-", ":")
    if not _MAC.match(mac):
        raise ValueError(f"{_shown(value)} is not a MAC address like 02:00:00:00:00:01")
    if int(mac[:2], 16) & 1:
        raise ValueError(f"{value!r} is a multicast MAC; an interface needs a unicast one "
                         "(first octet even, e.g. 02:...)")
    return mac


#: a host as an Ansible inventory names it (a file that spans hosts, see vnet.hosts): a
#: hostname or an alias; no '/' (a check's place says HOST/NAMESPACE) and no spaces
_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def check_host_name(value: str) -> str:
    """A host name as the inventory knows it."""
    if not _HOST_NAME.match(value):
        raise ValueError(f"host name {_shown(value)} must be 1-63 letters, digits, '.', '_' "
                         "or '-', starting with a letter or digit (as the Ansible inventory "
                         "names the host)")
    return value


IfName = Annotated[str, AfterValidator(check_ifname)]
NetnsName = Annotated[str, AfterValidator(check_netns_name)]
Address = Annotated[str, AfterValidator(check_address)]
IP = Annotated[str, AfterValidator(check_ip)]
Mac = Annotated[str, AfterValidator(check_mac)]
HostName = Annotated[str, AfterValidator(check_host_name)]
State = Literal["up", "down"]

#: the words a tunnel's `ttl` takes besides a number, as ip writes them
TTL_WORDS = ("auto", "inherit")


def tunnel_ttl(value: Any) -> Any:
    """A tunnel's `ttl` in one spelling: 1-255, `auto` (also written 0, the kernel's value for
    it: the route's hop limit) or `inherit` (the inner packet's TTL)."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if value in TTL_WORDS or value is None:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return "auto" if value == 0 else value
    import difflib  # only for an error
    close = difflib.get_close_matches(str(value), TTL_WORDS, n=1) \
        if isinstance(value, str) else []
    shown = _shown(value) if isinstance(value, str) else repr(value)
    raise ValueError(f"ttl {shown} is none of 1-255, auto (the route's hop limit; "
                     "0 says it too) or inherit (the inner packet's TTL)"
                     + (f"; did you mean {close[0]!r}?" if close else ""))


#: a tunnel's outer TTL as ip writes it (`ttl 1..255|auto|inherit`)
TunnelTtl = Annotated[Annotated[int, Field(ge=1, le=255)] | Literal["auto", "inherit"],
                      BeforeValidator(tunnel_ttl)]


@datatype(frozen=True)
class Option:
    """How one user-facing option maps to a netlink attribute of IFLA_INFO_DATA.

    `encode` turns the file's value into the kernel's, `decode` the kernel's back into the
    file's spelling, so plans compare and print values as the user wrote them.
    """

    nla: str
    encode: Callable[[Any], Any] = lambda v: v
    decode: Callable[[Any], Any] = lambda v: v
    replace: bool = False  # the kernel cannot change it in place: the link is re-created
    #: the value the kernel keeps for a declared one, given the kernel's tick rate (HZ), when
    #: it stores the option in other units than it takes it (bridge timers); None: kept as is
    kept: Callable[[Any, int], Any] | None = None

    def keeps(self, declared: Any, live: Any, hz: int | None) -> bool:
        """Whether `live` is what the kernel keeps when asked for `declared`. With the tick rate
        unknown (None), any rate Linux is commonly built with is allowed."""
        if self.kept is None or declared is None:
            return declared == live
        rates = (hz,) if hz else COMMON_HZ
        return any(self.kept(declared, rate) == live for rate in rates)


#: the kernel's USER_HZ: the unit of clock_t values it reports (1/100 s)
USER_HZ = 100
#: tick rates (CONFIG_HZ) Linux is commonly built with, for when this kernel's is unknown
COMMON_HZ = (100, 250, 300, 1000)


def clock_t_kept(value: int, hz: int) -> int:
    """What the kernel reports back for a clock_t value (1/100 s) it stores in jiffies: it
    converts with clock_t_to_jiffies on the way in and jiffies_to_clock_t on the way out
    (kernel/time/time.c), both truncating. On a 250 Hz kernel an odd value comes back one
    lower (755 -> 1887 jiffies -> 754); on 300 Hz every value but 0 does; at 100 or 1000 Hz
    nothing changes."""
    if hz % USER_HZ == 0:
        jiffies = value * (hz // USER_HZ)
    else:
        jiffies = value * hz // USER_HZ
    tick_nsec = (1_000_000_000 + hz // 2) // hz
    per_clock_t = 1_000_000_000 // USER_HZ
    if tick_nsec % per_clock_t == 0:
        return jiffies * (USER_HZ // hz) if hz < USER_HZ else jiffies // (hz // USER_HZ)
    return jiffies * tick_nsec // per_clock_t


def tick_option(nla: str) -> Option:
    """A timer in 1/100 s (clock_t) that the kernel keeps in jiffies: read back rounded."""
    return Option(nla, encode=int, decode=int, kept=clock_t_kept)


def bool_option(nla: str, replace: bool = False) -> Option:
    """A 0/1 kernel attribute shown to the user as true/false."""
    return Option(nla, encode=lambda v: int(bool(v)), decode=lambda v: bool(v), replace=replace)


def int_option(nla: str, replace: bool = False) -> Option:
    return Option(nla, encode=int, decode=int, replace=replace)


def enum_option(nla: str, names: dict[str, int], replace: bool = False) -> Option:
    """A kernel integer that the user names (e.g. macvlan mode 'bridge' = 4)."""
    back = {v: k for k, v in names.items()}
    return Option(nla, encode=lambda v: names[v], decode=lambda v: back.get(v, v), replace=replace)


VLAN_MIN, VLAN_MAX = 1, 4094


@datatype(frozen=True)
class DrawEdge:
    """An edge `vnet draw` shows for a kind beyond what every kind has (pairs, masters and
    parents are drawn from `paired`, `master` and `parent()`): to an interface of the topology
    (`name` in `netns`) or to an address outside it (`address`: a tunnel's remote)."""

    label: str  # on the edge: "remote", "ingress"
    meaning: str  # the legend's words for it: "tunnel to its remote endpoint"
    name: str | None = None
    netns: str | None = None
    address: str | None = None
    #: the edge points at this interface (traffic flows from the other end into it)
    inward: bool = False


class Common(LinkAttrFields, SysctlFields):
    """Fields every interface end has, whatever its kind (also a veth's peer end)."""

    model_config = ConfigDict(extra="forbid", frozen=False, defer_build=True)
    #: field path of the file entry this came from (e.g. `interfaces[3]`), for error positions
    _path: str = PrivateAttr(default="")

    name: IfName = Field(description="Interface name, at most 15 bytes.")
    netns: NetnsName | None = Field(
        None, description="Namespace the interface lives in; omitted: where vnet runs.")
    addresses: list[Address] = Field(
        default_factory=empty_list, description="Addresses with prefix, IPv4 or IPv6.")
    mtu: int | None = Field(None, ge=68, le=65535, description="MTU in bytes.")
    mac: Mac | None = Field(None, description="MAC address; omitted: the kernel picks one.")
    state: State | None = Field("up", description="Administrative state; default up.")
    master: IfName | None = Field(
        None, description="Bridge (or other master) this interface is a port of.")
    host: HostName | None = Field(
        None, description="In a file that spans hosts: the host (from `hosts:`) this end is "
                          "made on; omitted: its namespace's host, or the only host.")
    port_options: PortOptions | None = Field(
        None, description="What the master (a bridge or a bond) is told about this port, as "
                          "`ip link set DEV type bridge_slave|bond_slave ...` says it, e.g. "
                          "{cost: 10, hairpin: true}; needs master.")
    vlans: list[BridgeVlan] | None = Field(
        None, description="Bridge VLAN filtering: the VLANs of this port (or, on a bridge, of "
                          "the bridge itself), the whole list — VLAN 1 the kernel adds is "
                          "removed unless listed. Omitted: left as the kernel has them.")
    impair: Impair | None = Field(
        None, description="Impair what it sends (netem): {delay: 40ms, loss: 2%, rate: 10mbit, "
                          "...}; direction: ingress or both impairs what it receives too.")

    @property
    def path(self) -> str:
        """Field path of the file entry (`_path`), read from the slot of private values:
        `self._path` goes through the slow BaseModel.__getattr__, and validation reads the
        path several times per interface."""
        private = self.__pydantic_private__
        return private.get("_path", "") if private else ""


class InterfaceBase(Common):
    """An interface of some kind. Kind files subclass it and fill the class variables."""

    kind: str

    #: name as `vnet kinds` and the file spell it; taken from the class's `kind: Literal[...]`
    kind_name: ClassVar[str] = ""
    #: IFLA_INFO_KIND the kernel reports (tap/tun report "tun")
    kernel_kind: ClassVar[str] = ""
    #: the netlink attribute that names the parent link (IFLA_LINK for most stacked kinds)
    parent_attr: ClassVar[str] = "IFLA_LINK"
    #: two lines: what it is for
    use_when: ClassVar[str] = ""
    #: the kind's options: file name -> netlink attribute
    options_map: ClassVar[dict[str, Option]] = {}
    #: ip's word for an option -> the field that says it in the file, where the two differ
    #: (a file's `external:` marks an interface vnet does not make, so a tunnel's `external`
    #: is `collect_metadata`); tests/unit/test_kind_option_coverage.py reads it
    ip_words: ClassVar[dict[str, str]] = {}
    #: kinds that can be a master (bridge, bond, team)
    can_be_master: ClassVar[bool] = False
    #: a bridge: its own VLANs and its ports' are planned (features/bridge_vlans.py)
    filters_vlans: ClassVar[bool] = False
    #: a master that refuses ports that are up (bond, team): vnet takes a port down to
    #: enslave it and brings it back up
    ports_down_to_enslave: ClassVar[bool] = False
    #: IFLA_INFO_DATA layout for a kind pyroute2 does not know, or knows only in part: (name,
    #: netlink type) by attribute number, index 0 being UNSPEC. The door encodes and decodes
    #: them itself (door/decode.py); type "peer" is a nested ifinfomsg (a pair's other end),
    #: "l2addr" a MAC address given as text, "u32pair" a (value, mask) pair of 32-bit words,
    #: "nested" attributes of the same layout inside one, as {"attrs": [(name, value), ...]}.
    info_nla: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: attributes of IFLA_INFO_DATA that pyroute2 decodes, but wrongly, for a kind it knows:
    #: number -> (name, type as in `info_nla`), read again by the door from the kernel's bytes
    info_nla_misread: ClassVar[dict[int, tuple[str, str]]] = {}
    #: planning this kind reads its namespace's traffic control (qdiscs, htb classes, ingress
    #: filters): only namespaces with such a kind, declared or live, have it read
    reads_tc: ClassVar[bool] = False
    #: where `vnet kinds` lists it, lowest first (kinds of one family sit side by side)
    listed: ClassVar[int] = 1000
    #: the kernel modules that provide it on a modular kernel, each as `modprobe` takes it
    #: ("bonding max_bonds=0": options that keep the module from making devices of its own);
    #: empty: one module named as the kernel kind
    modules: ClassVar[tuple[str, ...]] = ()
    #: the fields, in the file's words, of a throwaway link of this kind: probing the kernel
    #: for the kind creates one (`vnet kinds`, the live tests). A parent is named PROBE_PARENT
    probe: ClassVar[dict[str, Any]] = {}
    #: its options reach the kernel with the link's creation and are read back from the
    #: link (IFLA_INFO_DATA, or the kind's own reading): `plan` then probes each option a
    #: file sets, on a throwaway copy of the entry, and stops when the kernel ignores one (a
    #: kernel older than the option). False: the options go elsewhere (team's to teamd)
    options_probed: ClassVar[bool] = True
    #: why a full distribution kernel (the kernel test tier) may still be unable to create it,
    #: e.g. hardware a VM lacks; empty: its live tests must pass there, never skip
    may_skip: ClassVar[str] = ""
    #: hardware it needs that probing cannot make (IPoIB: an InfiniBand device); `vnet kinds`
    #: reports the kind unavailable, saying so, without trying
    requires: ClassVar[str] = ""
    #: made as two ends in one request (veth, vxcan): deleting one end deletes the other
    paired: ClassVar[bool] = False
    #: it can carry a netem qdisc (`impair:`); a kind that cannot says why (a CAN device
    #: has no use for netem's IP-sized packets and times): that text names it in the error
    no_netem: ClassVar[str] = ""
    #: set when this end is created together with another (a veth peer): (netns, name)
    _created_by: tuple[str | None, str] | None = PrivateAttr(default=None)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "kind_name" not in cls.__dict__:  # a class of one kind: `kind: Literal["veth"]`
            field = cls.model_fields.get("kind")
            names = get_args(field.annotation) if field is not None else ()
            if field is not None and get_origin(field.annotation) is Literal and \
                    len(names) == 1:
                cls.kind_name = names[0]

    @classmethod
    def kernel_modules(cls) -> list[list[str]]:
        """`modprobe` arguments (module, options...) for each module the kind needs."""
        return [spec.split() for spec in cls.modules or (cls.kernel_kind or cls.kind_name,)]

    @classmethod
    def probe_link(cls) -> InterfaceBase:
        """A throwaway link of this kind named PROBE_NAME, for probing the kernel."""
        return cls.model_validate({"kind": cls.kind_name, "name": PROBE_NAME, **cls.probe})

    def probe_request(self) -> dict[str, Any]:
        """What creating this throwaway link asks of the kernel: by default what `apply`
        would ask. A kind made by a program (team: teamd) asks the kernel's driver alone."""
        return self.create_request()

    # ---- identity -------------------------------------------------------------------------
    @property
    def key(self) -> tuple[str | None, str]:
        return (self.netns, self.name)

    @property
    def created_by(self) -> tuple[str | None, str] | None:
        # straight from the slot of private values: reading `self._created_by` goes
        # through the slow BaseModel.__getattr__, and planning asks several times per interface
        private = self.__pydantic_private__
        return private.get("_created_by") if private else None

    # ---- options --------------------------------------------------------------------------
    def declared_options(self) -> dict[str, Any]:
        """The kind options the user wrote, in the file's spelling (only those: verification
        compares what the user declared, nothing else)."""
        out = {}
        for opt in self.options_map:
            if opt in self.model_fields_set and getattr(self, opt) is not None:
                out[opt] = getattr(self, opt)
        return out

    def info_data(self) -> dict[str, Any]:
        """IFLA_INFO_DATA attributes for creating the link: declared options, encoded."""
        return {self.options_map[k].nla: self.options_map[k].encode(v)
                for k, v in self.declared_options().items()}

    @classmethod
    def decode_info_data(cls, attrs: dict[str, Any]) -> dict[str, Any]:
        """Kernel IFLA_INFO_DATA → options in the file's spelling (every option the kernel
        reported; the planner picks the declared ones)."""
        out = {}
        for opt, spec in cls.options_map.items():
            if spec.nla in attrs:
                out[opt] = spec.decode(attrs[spec.nla])
        return out

    @classmethod
    def matches_kernel(cls, kernel_kind: str | None, info_data: dict[str, Any]) -> bool:
        """Is a live link of this kind? (tun and tap share one kernel kind, for example.)"""
        return kernel_kind == (cls.kernel_kind or cls.kind_name)

    def kernel_features(self) -> dict[str, list[str]]:
        """The features of this kind a kernel may lack (kinds_probe.FEATURES) that this entry
        uses, each with the options that use it: `plan` and `apply` stop before any change
        when the kernel lacks one."""
        return {}

    @classmethod
    def needs_replace(cls, option: str) -> bool:
        return cls.options_map[option].replace

    @classmethod
    def keeps(cls, option: str, declared: Any, live: Any, hz: int | None) -> bool:
        """Whether the live value of `option` is what the kernel keeps for the declared one
        (compared in the kernel's units: a rounded timer equals what it was rounded from)."""
        return cls.options_map[option].keeps(declared, live, hz)

    def rounded_options(self, hz: int | None) -> dict[str, tuple[Any, Any]]:
        """The declared options the kernel keeps as another value on a kernel of tick rate
        `hz` (unknown: None, and nothing is said): option -> (declared, kept)."""
        out = {}
        if hz:
            for opt, value in self.declared_options().items():
                spec = self.options_map[opt]
                if spec.kept is not None and spec.kept(value, hz) != value:
                    out[opt] = (value, spec.kept(value, hz))
        return out

    # ---- graph ----------------------------------------------------------------------------
    def parent(self) -> str | None:
        """Name of the lower link this one is stacked on (VLAN, VXLAN dev, macvlan), same
        namespace at creation time, or None."""
        return None

    @classmethod
    def live_parent_index(cls, live: Any) -> int | None:
        """The ifindex of a live link's parent, read where this kind reports it."""
        if cls.parent_attr == "IFLA_LINK":
            return live.parent_index
        return live.info_data.get(cls.parent_attr) or None

    def parent_netns(self) -> str | None:
        """Namespace the parent lives in (defaults to this interface's own)."""
        return self.netns

    def expand(self) -> list[InterfaceBase]:
        """The interface ends this entry stands for (a veth is two)."""
        return [self]

    # ---- create ---------------------------------------------------------------------------
    def create_request(self) -> dict[str, Any]:
        """What the door needs to create the link (kind-specific extras may be added)."""
        req: dict[str, Any] = {"kind": self.kernel_kind or self.kind_name,
                               "info_data": self.info_data()}
        if self.parent_attr != "IFLA_LINK":
            req["parent_attr"] = self.parent_attr
        return req

    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        """Kind-specific Actions beyond the link itself (qdiscs, FDB entries), planned after
        links, masters, addresses and state. `live` is None when the link is (re)created."""
        return []

    @classmethod
    def plan_removal(cls, netns_state: Any, live: Any) -> list[Any]:
        """Kind-specific Actions when an owned link of this kind is removed (no longer
        declared): put back what it changed on interfaces that outlive it (an IFB's ingress
        redirect on an external source). Planned just before the link's removal."""
        return []

    # ---- capture (`vnet capture`: a live link back into a file entry) ----------------------
    #: each option's value on a link made without it (the kernel's default): a capture
    #: leaves those out, so it reads like a file a person wrote
    capture_defaults: ClassVar[dict[str, Any]] = {}
    #: the field that names the parent link (`link`; vxlan: `dev`)
    parent_field: ClassVar[str] = "link"

    @classmethod
    def capture_fields(cls, live: Any, netns_state: Any) -> dict[str, Any]:
        """The kind's own fields of live link `live` (`netns_state`: its namespace), in the
        file's spelling: every option the kernel reports but those at the kernel's default.
        The common fields, the parent and a pair's peer are the capture's business. A kind
        whose entry holds more than its kernel options (an IFB's shaping, a vxlan's FDB)
        adds it here; one whose entry cannot be read back raises NotCapturable."""
        out: dict[str, Any] = {}
        for opt, value in cls.decode_info_data(live.info_data).items():
            field = cls.model_fields.get(opt)
            if field is None:
                continue  # a derived key (what the planner compares), not a file field
            if opt in cls.capture_defaults and cls.capture_defaults[opt] == value:
                continue
            out[field.alias or opt] = value
        return out

    @classmethod
    def capture_from_file(cls, live: Any, netns_state: Any, declared: Any, folder: Any
                          ) -> dict[str, Any]:
        """The fields of live link `live` that the kernel never gives back (MACsec keys), by
        reference to the file last applied: `declared` is this link's entry in it (None when
        that file is not known or lacks it), `folder` the file's folder. Raises NotCapturable
        when such fields exist and `declared` cannot vouch for them."""
        return {}

    @classmethod
    def capture_default_mtu(cls, live: Any, netns_state: Any, parent: Any) -> int | None:
        """The MTU a new link of this kind gets (`parent`: the live link it is stacked on, if
        any); a capture writes `mtu` only when the live one differs. None: cannot tell."""
        return parent.mtu if parent is not None else 1500

    # ---- checks across objects ------------------------------------------------------------
    def live_conflicts(self, observed: Any) -> list[tuple[str, str]]:
        """Kind-specific reasons the live kernel cannot hold this interface (a parent that is
        missing or of the wrong hardware type), as (message, hint) pairs: the planner reports
        them as conflicts, so apply never starts."""
        return []

    def check(self, topo: Any, report: Callable[..., None]) -> None:
        """Kind-specific semantic checks (mode/option fit, parent kind). Call
        `report(field, message, hint="")` for each problem; it adds the file position."""

    def read_files(self, base: Path, report: Callable[..., None]) -> None:
        """Read the files the entry names (MACsec key files), relative to `base`, the topology
        file's folder, reporting problems as `check` does. The loader calls it after
        validation: reading files is the loader's job, and validation stays pure."""

    # ---- rendering ------------------------------------------------------------------------
    def draw_edges(self) -> list[DrawEdge]:
        """What `vnet draw` links this interface to beyond pairs, masters and parents (a
        tunnel's remote, an IFB's redirect sources); render/draw.py draws them."""
        return []

    def ip_type_args(self) -> list[str]:
        """`ip link add NAME [link P] type KIND <these>`: the options as iproute2 spells them."""
        args: list[str] = []
        for opt, value in self.declared_options().items():
            args += [opt, _ip_value(value)]
        return args

    def not_exported(self) -> list[tuple[str, str]]:
        """Fields of this entry that no exporter writes (`vnet export` lists them as left
        out), as (field, why) pairs: configuration set by another tool than iproute2
        (WireGuard's keys and peers)."""
        return []

    def ip_enslave_command(self, port: str) -> list[str]:
        """The command that makes link `port` (in this master's namespace) a port of this
        master: `ip link set dev PORT master NAME`."""
        ns = ["-n", self.netns] if self.netns else []
        return ["ip", *ns, "link", "set", "dev", port, "master", self.name]

    def ip_commands(self) -> list[list[str]]:
        """The iproute2 commands that create this interface (without addresses/master/up).
        The first creates the link; any others (what needs the link's ports, peers or up
        state: a bond's primary, FDB entries, qdiscs, MACsec SAs) come after it, and
        `vnet export --to ip` runs them once links, masters, addresses and states are set."""
        cmd = ["ip", "link", "add"]
        if self.parent():
            cmd += ["link", self.parent() or ""]
        cmd += ["name", self.name]
        if self.netns:
            cmd += ["netns", self.netns]
        cmd += ["type", self.kind_name, *self.ip_type_args()]
        return [cmd]


class NotCapturable(Exception):
    """A live link whose file entry cannot be read back from the kernel (MACsec keys, which
    the kernel never returns): `vnet capture` stops with this message rather than write a
    wrong file."""


def topology_index(topo: Any, name: str, build: Callable[[Any], Any]) -> Any:
    """`build(topo)`, an index of the topology's interfaces, computed once per validation run
    when `topo` keeps `indexes` (validation hands the kinds' `check` hooks a topology that
    does; anything else builds it on each call): a check looks a name up instead of scanning
    every interface, so a file of thousands of interfaces is checked in linear time."""
    memo = getattr(topo, "indexes", None)
    if memo is None:
        return build(topo)
    if name not in memo:
        memo[name] = build(topo)
    return memo[name]


def ends_by_key(topo: Any) -> dict[tuple[str | None, str], Any]:
    """(netns, name) -> the first interface end of that key the topology creates."""
    return topology_index(topo, "ends_by_key", lambda t: {
        e.key: e for e in reversed(t.endpoints())})


def namespaces_by_name(topo: Any) -> dict[str, set[str | None]]:
    """Interface name -> the namespaces where an end or an external of that name is."""
    def build(t: Any) -> dict[str, set[str | None]]:
        out: dict[str, set[str | None]] = {}
        for netns, name in [*(e.key for e in t.endpoints()), *(x.key for x in t.externals)]:
            out.setdefault(name, set()).add(netns)
        return out
    return topology_index(topo, "namespaces_by_name", build)


def check_link_netns(iface: Any, topo: Any, report: Callable[..., None]) -> None:
    """For kinds whose parent (`link`) may live in another namespace (`link_netns`): that
    namespace must be declared, and a parent that is not where vnet looks for it but in one
    other namespace gets the link_netns that finds it."""
    ns, parent = iface.parent_netns(), iface.parent()
    if "link_netns" in iface.model_fields_set and ns is not None:
        if ns not in topology_index(topo, "declared", lambda t: set(t.namespaces)):
            report("link_netns", f"namespace {ns!r} is not declared",
                   f"add {ns!r} to 'namespaces', or fix the name")
        return
    found = sorted(namespaces_by_name(topo).get(parent, ()), key=str)
    if ns in found or len(found) != 1 or "link_netns" in iface.model_fields_set:
        return
    other = found[0]
    report("link_netns",
           f"the parent {parent!r} is in "
           f"{'namespace ' + other if other else 'the namespace vnet runs in'}, but without "
           f"link_netns vnet looks for it {'in namespace ' + ns if ns else 'where vnet runs'}",
           f"add link_netns: {other if other else 'null'}")


class OnParent(InterfaceBase):
    """A kind stacked on a parent link that may sit in another namespace (macvlan, ipvlan...).

    The parent is named by `link:`; it lives where vnet runs unless `link_netns:` names its
    namespace. vnet creates the link where the parent is and moves it into `netns` in the same
    request, as `ip -n PNS link add link P name X netns NS type KIND` does.
    """

    link: IfName = Field(description="Parent link (the NIC whose traffic it shares).")
    link_netns: NetnsName | None = Field(
        None, description="Namespace the parent is in; omitted: where vnet runs.")

    def parent(self) -> str | None:
        return self.link

    def parent_netns(self) -> str | None:
        return self.link_netns

    def check(self, topo: Any, report: Callable[..., None]) -> None:
        check_link_netns(self, topo, report)

    def ip_commands(self) -> list[list[str]]:
        # created where the parent is, moved into its namespace by the same command
        cmd = ["ip"] + (["-n", self.link_netns] if self.link_netns else [])
        cmd += ["link", "add", "link", self.link, "name", self.name]
        if self.netns != self.link_netns and self.netns is not None:
            cmd += ["netns", self.netns]
        cmd += ["type", self.kind_name, *self.ip_type_args()]
        return [cmd]


def _ip_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
