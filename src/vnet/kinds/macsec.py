"""macsec — IEEE 802.1AE: authenticate (and encrypt) everything on an Ethernet link.

`ip link add link eth1 macsec0 type macsec port 1 encrypt on cipher gcm-aes-128`, then
`ip macsec add macsec0 tx sa 0 pn 1 on key 01 <hex>` (what this end sends with),
`ip macsec add macsec0 rx port 1 address <peer MAC>` (a receive channel per peer SCI) and
`ip macsec add macsec0 rx port 1 address <peer MAC> sa 0 pn 1 on key 02 <hex>`.

Keys are written in the file (`key:`) or, better, read from a file it names (`key_file:`,
relative to the topology file, mode 0600). They are `SecretStr` from loading on: plans,
`show`, errors, `--json` and exports never contain them (exports write a placeholder unless
asked for keys explicitly). The kernel never reports keys, so the door keeps a salted
fingerprint of each key it installed (see vnet.secrets): a changed key is planned as a change,
shown as `key: (set) → (changed)`, and done by re-adding the SA (the kernel cannot update a
key in place). `pn` is where a new SA starts counting; the kernel advances it with traffic, so
it is not compared afterwards.

What the kernel changes in place: encrypt, validate, replay protection and window, encoding
SA, send_sci, end_station, scb, protect and offload; sci/port, cipher and icvlen are fixed at
creation (EINVAL), so changing them re-creates the link (and its SAs). Turning one of
send_sci, end_station and scb on turns the other two off (the kernel keeps at most one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from .. import secrets
from ..actions import Action, Request
from ..declare import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, SecretStr
from . import register
from .base import (
    PROBE_PARENT,
    IfName,
    InterfaceBase,
    Mac,
    NotCapturable,
    Option,
    bool_option,
    empty_list,
    enum_option,
    int_option,
)

#: IEEE 802.1AE cipher suite ids; the kernel reports GCM-AES-128 with the older id
CIPHERS = {"gcm-aes-128": 0x0080C20001000001, "gcm-aes-256": 0x0080C20001000002}
_CIPHER_NAMES = {0x0080020001000001: "gcm-aes-128", **{v: k for k, v in CIPHERS.items()}}
KEY_BYTES = {"gcm-aes-128": 16, "gcm-aes-256": 32}
VALIDATE = {"disabled": 0, "check": 1, "strict": 2}
#: enum macsec_offload
OFFLOAD = {"off": 0, "phy": 1, "mac": 2}
#: the SecTAG bits that exclude each other: the kernel refuses two of them on (EINVAL)
_TAG_BITS = ("send_sci", "end_station", "scb")
DEFAULT_PORT = 1
KEY_SHOWN = "(set)"
KEY_CHANGED = "(changed)"


def _key_input(value: Any) -> SecretStr | None:
    # before any type check: a failed union would quote the input in its error
    return None if value is None else SecretStr(secrets.clean_hex(value, "key"))


def _key_id_input(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:02d}"  # `key_id: 01` reads as the number 1: mean "01"
    text = secrets.clean_hex(value, "key_id")
    if len(text) > 32:
        raise ValueError(f"key_id is {len(text) // 2} bytes; the kernel keeps at most 16")
    return text


def _sci_input(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:016x}"
    text = secrets.clean_hex(value, "sci")
    if len(text) > 16:
        raise ValueError("sci is 64 bits: at most 16 hex digits (MAC, then port)")
    return text.rjust(16, "0")


Key = Annotated[SecretStr | None, BeforeValidator(_key_input)]
KeyId = Annotated[str, BeforeValidator(_key_id_input)]
Sci = Annotated[str, BeforeValidator(_sci_input)]


def sci_of(mac: str, port: int) -> int:
    """An SCI from a MAC and a port (MAC in the high 48 bits)."""
    return (int(mac.replace(":", ""), 16) << 16) | port


def sci_text(sci: int) -> str:
    return f"{sci:016x}"


class SA(BaseModel):
    """One secure association: an association number, where its packet numbers start, and its
    key (written here, or read from key_file)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    an: int = Field(ge=0, le=3, description="Association number 0-3.")
    pn: int = Field(1, ge=1, le=4_294_967_295, description="First packet number (default 1).")
    key_id: KeyId = Field(description="Key identifier, hex, up to 16 bytes (ip: key ID ...).")
    key: Key = Field(None, description="The key, hex: 16 bytes for gcm-aes-128, 32 for "
                                              "gcm-aes-256. Prefer key_file.",
                            json_schema_extra={"writeOnly": True})
    key_file: str | None = Field(None, description="File holding the key in hex (mode 0600), "
                                                   "relative to the topology file.")
    active: bool = Field(True, description="In use (ip: on/off; default on).")
    _key: SecretStr | None = PrivateAttr(default=None)

    @property
    def secret(self) -> SecretStr:
        """The key, resolved from key or key_file (at load time)."""
        key = self._key or self.key
        assert key is not None, "macsec SA key not resolved"
        return key

    @property
    def key_id_full(self) -> str:
        """As the kernel reports it: 16 bytes, zero-padded at the end."""
        return self.key_id.ljust(32, "0")


class RxSC(BaseModel):
    """A receive channel: the peer's SCI (or its MAC address and port) and its SAs."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    sci: Sci | None = Field(None, description="The peer's SCI, 16 hex digits (MAC then port).")
    address: Mac | None = Field(None, description="The peer's MAC (with port).")
    port: int | None = Field(None, ge=1, le=65535, description="The peer's port (default 1).")
    active: bool = Field(True, description="In use (ip: on/off; default on).")
    sa: list[SA] = Field(default_factory=empty_list, description="Receive SAs, one per AN.")

    @property
    def sci_value(self) -> int:
        if self.sci is not None:
            return int(self.sci, 16)
        return sci_of(self.address or "00:00:00:00:00:00", self.port or DEFAULT_PORT)


def _decode_cipher(value: Any) -> Any:
    return _CIPHER_NAMES.get(int(value), value) if not isinstance(value, str) else value


@register
class Macsec(InterfaceBase):
    kind: Literal["macsec"]
    listed = 100
    probe = {"link": PROBE_PARENT}
    use_when = ("Encrypt and authenticate everything on an Ethernet segment (802.1AE), ARP\n"
                "and DHCP included: a secure link between hosts that share a LAN.")

    link: IfName = Field(description="Parent Ethernet link, in the same namespace.")
    port: int | None = Field(None, ge=1, le=65535,
                             description="Port of this end's SCI (default 1); or sci.")
    sci: Sci | None = Field(None, description="This end's SCI, 16 hex digits (instead of port).")
    encrypt: bool | None = Field(None, description="Encrypt (default off: authenticate only).")
    cipher: Literal["gcm-aes-128", "gcm-aes-256"] | None = Field(
        None, description="Cipher suite (default gcm-aes-128); sets the key length.")
    icvlen: int | None = Field(None, ge=8, le=16, description="ICV length in bytes (default 16).")
    replay: bool | None = Field(None, description="Drop replayed frames (default off).")
    window: int | None = Field(None, ge=0, le=4_294_967_295,
                               description="Replay window in packets (with replay).")
    validate_: Literal["strict", "check", "disabled"] | None = Field(
        None, alias="validate", description="Checks on received frames (default strict).")
    encodingsa: int | None = Field(None, ge=0, le=3,
                                   description="AN of the TX SA in use (default 0).")
    send_sci: bool | None = Field(
        None, description="Put the SCI in every frame (kernel default on); off with "
                          "end_station or scb.")
    end_station: bool | None = Field(
        None, description="ES bit: this end is an end station, its SCI is its MAC and port 1 "
                          "(default off).")
    scb: bool | None = Field(None, description="SCB bit: single copy broadcast (default off).")
    protect: bool | None = Field(None, description="Protect the frames it sends (kernel "
                                                   "default on); off sends them unprotected.")
    offload: Literal["off", "phy", "mac"] | None = Field(
        None, description="Where MACsec runs: off (the kernel, default), or in the parent "
                          "NIC's phy or mac, if it offloads MACsec.")
    tx_sa: list[SA] = Field(default_factory=empty_list, description="Transmit SAs, one per AN.")
    rx: list[RxSC] = Field(default_factory=empty_list,
                           description="Receive channels, one per peer.")

    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    options_map = {
        "port": Option("IFLA_MACSEC_PORT", replace=True),
        "sci": Option("IFLA_MACSEC_SCI", encode=lambda v: int(v, 16), decode=sci_text,
                      replace=True),
        "encrypt": bool_option("IFLA_MACSEC_ENCRYPT"),
        "cipher": Option("IFLA_MACSEC_CIPHER_SUITE", encode=lambda v: CIPHERS[v],
                         decode=_decode_cipher, replace=True),
        "icvlen": int_option("IFLA_MACSEC_ICV_LEN", replace=True),
        "replay": bool_option("IFLA_MACSEC_REPLAY_PROTECT"),
        "window": int_option("IFLA_MACSEC_WINDOW"),
        "validate_": enum_option("IFLA_MACSEC_VALIDATION", VALIDATE),
        "encodingsa": int_option("IFLA_MACSEC_ENCODING_SA"),
        "send_sci": bool_option("IFLA_MACSEC_INC_SCI"),
        "end_station": bool_option("IFLA_MACSEC_ES"),
        "scb": bool_option("IFLA_MACSEC_SCB"),
        "protect": bool_option("IFLA_MACSEC_PROTECT"),
        "offload": enum_option("IFLA_MACSEC_OFFLOAD", OFFLOAD),
    }
    #: pyroute2 0.9.7 does not know macsec's IFLA_INFO_DATA (if_link.h numbering)
    info_nla = (
        ("IFLA_MACSEC_UNSPEC", "none"),
        ("IFLA_MACSEC_SCI", "be64"),
        ("IFLA_MACSEC_PORT", "be16"),
        ("IFLA_MACSEC_ICV_LEN", "uint8"),
        ("IFLA_MACSEC_CIPHER_SUITE", "uint64"),
        ("IFLA_MACSEC_WINDOW", "uint32"),
        ("IFLA_MACSEC_ENCODING_SA", "uint8"),
        ("IFLA_MACSEC_ENCRYPT", "uint8"),
        ("IFLA_MACSEC_PROTECT", "uint8"),
        ("IFLA_MACSEC_INC_SCI", "uint8"),
        ("IFLA_MACSEC_ES", "uint8"),
        ("IFLA_MACSEC_SCB", "uint8"),
        ("IFLA_MACSEC_REPLAY_PROTECT", "uint8"),
        ("IFLA_MACSEC_VALIDATION", "uint8"),
        ("IFLA_MACSEC_PAD", "none"),
        ("IFLA_MACSEC_OFFLOAD", "uint8"),
    )

    # ---- graph ----------------------------------------------------------------------------
    def parent(self) -> str | None:
        return self.link

    # ---- options --------------------------------------------------------------------------
    @classmethod
    def decode_info_data(cls, attrs: dict[str, Any]) -> dict[str, Any]:
        out = super().decode_info_data(attrs)
        # Linux 6.1 takes IFLA_MACSEC_OFFLOAD but reports it over generic netlink only (`ip
        # macsec show`): a link it reports without it was made where offload is off (a NIC
        # that offloads MACsec on such a kernel reads back as off)
        out.setdefault("offload", "off")
        if "IFLA_MACSEC_SCI" in attrs:
            out["port"] = int(attrs["IFLA_MACSEC_SCI"]) & 0xFFFF
        return out

    def info_data(self) -> dict[str, Any]:
        out = super().info_data()
        if self.replay and self.window is None:
            out["IFLA_MACSEC_WINDOW"] = 0  # the kernel wants a window with replay on
        return out

    # ---- keys -----------------------------------------------------------------------------
    def _all_sas(self) -> list[tuple[str, SA]]:
        out = [(f"tx_sa[{i}]", sa) for i, sa in enumerate(self.tx_sa)]
        for i, sc in enumerate(self.rx):
            out += [(f"rx[{i}].sa[{j}]", sa) for j, sa in enumerate(sc.sa)]
        return out

    def _check_keys(self, report: Any) -> None:
        """Each SA has its key one way; a key written here has the cipher's length."""
        for path, sa in self._all_sas():
            if (sa.key is None) == (sa.key_file is None):
                report(path, "an SA needs its key: exactly one of key or key_file",
                       "add key_file: PATH (a file holding the hex key, mode 0600)")
            elif sa.key is not None:
                self._check_length(path, sa, report)

    def _check_length(self, path: str, sa: SA, report: Any) -> None:
        want = KEY_BYTES[self.cipher or "gcm-aes-128"]
        got = len(sa.secret.get_secret_value()) // 2
        if got != want:
            field = f"{path}.key_file" if sa.key_file else f"{path}.key"
            report(field, f"the key is {got} bytes; cipher {self.cipher or 'gcm-aes-128'} "
                   f"needs {want} bytes ({want * 2} hex digits)",
                   "use a key of that length, or change cipher")

    def read_files(self, base: Path, report: Any) -> None:
        """Read each SA's key_file (relative to the topology file's folder)."""
        for path, sa in self._all_sas():
            if sa.key_file is None or sa.key is not None:
                continue
            file = Path(sa.key_file)
            try:
                sa._key = secrets.read_key_file(file if file.is_absolute() else base / file)
            except ValueError as exc:
                report(f"{path}.key_file", str(exc))
                continue
            self._check_length(path, sa, report)

    # ---- capture --------------------------------------------------------------------------
    capture_defaults = {"encrypt": False, "cipher": "gcm-aes-128", "icvlen": 16,
                        "replay": False, "window": 0, "validate_": "strict",
                        "encodingsa": 0, "send_sci": True, "end_station": False, "scb": False,
                        "protect": True, "offload": "off"}

    @classmethod
    def capture_fields(cls, live: Any, netns_state: Any) -> dict[str, Any]:
        """The options (the SCI as `port` when it is this end's MAC and a port); the SAs,
        whose keys the kernel never returns, come from `capture_from_file`."""
        out = super().capture_fields(live, netns_state)
        sci = out.pop("sci", None)
        out.pop("port", None)
        if sci is not None and live.mac:
            port = int(sci, 16) & 0xFFFF
            if int(sci, 16) != sci_of(live.mac, port):
                out["sci"] = sci
            elif port != DEFAULT_PORT:
                out["port"] = port
        if out.get("replay") and "window" not in out:
            out["window"] = 0  # the file says the window whenever replay protection is on
        return out

    @classmethod
    def capture_from_file(cls, live: Any, netns_state: Any, declared: Any, folder: Any
                          ) -> dict[str, Any]:
        """TX SAs and RX channels, with each key by the key_file the file last applied names
        for it, once the key in that file is the one the kernel holds (its fingerprint);
        otherwise NotCapturable: the kernel never returns keys, and a capture never writes a
        wrong one."""
        state = (getattr(netns_state, "macsec", None) or {}).get(live.name)
        if state is None or not (state.tx or state.rx):
            return {}
        why = _unvouched(state, declared)
        if why:
            raise NotCapturable(
                f"the MACsec keys of {live.name} cannot be read from the kernel (it never "
                f"returns them, and vnet keeps only salted fingerprints of the keys it "
                f"installed), and {why}; write its SAs by hand, naming each key with "
                "key_file:, rather than capture a wrong key")
        base = Path(folder) if folder is not None else Path.cwd()

        def sa_entry(sa: SA) -> dict[str, Any]:
            out: dict[str, Any] = {"an": sa.an}
            if sa.pn != 1:
                out["pn"] = sa.pn
            out["key_id"] = sa.key_id
            path = Path(str(sa.key_file))
            out["key_file"] = str(path if path.is_absolute() else (base / path).absolute())
            if not sa.active:
                out["active"] = False
            return out

        out: dict[str, Any] = {}
        if declared.tx_sa:
            out["tx_sa"] = [sa_entry(sa) for sa in declared.tx_sa]
        channels = []
        for sc in declared.rx:
            channel: dict[str, Any] = {k: v for k, v in (("sci", sc.sci), ("address", sc.address),
                                                         ("port", sc.port)) if v is not None}
            if not sc.active:
                channel["active"] = False
            channel["sa"] = [sa_entry(sa) for sa in sc.sa]
            channels.append(channel)
        if channels:
            out["rx"] = channels
        return out

    @classmethod
    def capture_default_mtu(cls, live: Any, netns_state: Any, parent: Any) -> int | None:
        """The parent's MTU less the SecTAG with SCI (16 bytes) and the ICV."""
        if parent is None:
            return None
        icv = cls.decode_info_data(live.info_data).get("icvlen", 16)
        return int(parent.mtu) - 16 - int(icv)

    # ---- checks ---------------------------------------------------------------------------
    def check(self, topo: Any, report: Any) -> None:
        if self.port is not None and self.sci is not None:
            report("sci", "port and sci both name this end's SCI", "keep one of them")
        on = [bit for bit in _TAG_BITS if getattr(self, bit)]
        if len(on) > 1:
            report(on[1], f"{' and '.join(on)} cannot both be on: the kernel sets at most one "
                   "of send_sci, end_station and scb", f"keep one of {', '.join(on)}")
        if self.window is not None and not self.replay:
            report("window", "a replay window needs replay: true",
                   "add replay: true, or remove window")
        if self.replay and self.window is None:
            report("replay", "replay protection needs a window (ip: replay on window N)",
                   "add window: 0 (strict ordering) or a packet count like 32")
        self._check_keys(report)
        seen: dict[int, int] = {}
        for i, sa in enumerate(self.tx_sa):
            if sa.an in seen:
                report(f"tx_sa[{i}].an", f"TX SA {sa.an} is listed twice",
                       f"remove one (the other is tx_sa[{seen[sa.an]}])")
            seen.setdefault(sa.an, i)
        if self.encodingsa is not None and self.tx_sa and self.encodingsa not in seen:
            report("encodingsa", f"encodingsa {self.encodingsa} has no TX SA",
                   f"add a tx_sa with an: {self.encodingsa}, or use one of {sorted(seen)}")
        scis: dict[int, int] = {}
        for i, sc in enumerate(self.rx):
            if sc.sci is not None and (sc.address is not None or sc.port is not None):
                report(f"rx[{i}].sci", "an RX channel is named by sci or by address (+port), "
                       "not both", "keep one")
            elif sc.sci is None and sc.address is None:
                report(f"rx[{i}]", "an RX channel needs the peer's sci or address",
                       "add address: PEER_MAC (and port:, default 1)")
                continue
            if sc.sci_value in scis:
                report(f"rx[{i}]", f"RX channel {sci_text(sc.sci_value)} is listed twice",
                       f"merge it with rx[{scis[sc.sci_value]}]")
            scis.setdefault(sc.sci_value, i)
            ans: set[int] = set()
            for j, sa in enumerate(sc.sa):
                if sa.an in ans:
                    report(f"rx[{i}].sa[{j}].an", f"RX SA {sa.an} is listed twice",
                           "keep one per AN")
                ans.add(sa.an)

    # ---- SCs and SAs ----------------------------------------------------------------------
    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        """TX SAs, RX SCs and RX SAs: add what is missing, re-add an SA whose key or key id
        changed, set `active` in place, remove what the file no longer has."""
        state = None
        if live is not None and netns_state is not None:
            state = getattr(netns_state, "macsec", {}).get(self.name)
        ns, name = self.key
        where = f"{ns}/{name}" if ns else name
        acts: list[Any] = []
        have_tx = state.tx if state is not None else {}
        for sa in self.tx_sa:
            acts += self._plan_sa(ns, where, None, sa, have_tx.get(sa.an))
        for an in sorted(set(have_tx) - {sa.an for sa in self.tx_sa}):
            acts.append(self._remove_sa(ns, where, None, an))
        have_rx = state.rx if state is not None else {}
        for sc in self.rx:
            sci = sc.sci_value
            cur = have_rx.get(sci)
            base = {"ifname": name, "sci": sci}
            label = f"macsec rx channel {sci_text(sci)} on {where}"
            if cur is None:
                acts.append(Action("create", label, "declared",
                                   [Request("macsec.add_rxsc", ns, {**base, "active": sc.active})],
                                   [Request("macsec.del_rxsc", ns, base)]))
            elif cur.active != sc.active:
                acts.append(Action("change", label, "differs from the file",
                                   [Request("macsec.upd_rxsc", ns, {**base, "active": sc.active})],
                                   [Request("macsec.upd_rxsc", ns, {**base, "active": cur.active})],
                                   diff={"active": (cur.active, sc.active)}))
            have = cur.sas if cur is not None else {}
            for sa in sc.sa:
                acts += self._plan_sa(ns, where, sci, sa, have.get(sa.an))
            for an in sorted(set(have) - {sa.an for sa in sc.sa}):
                acts.append(self._remove_sa(ns, where, sci, an))
        for sci in sorted(set(have_rx) - {sc.sci_value for sc in self.rx}):
            acts.append(Action(
                "remove", f"macsec rx channel {sci_text(sci)} on {where}", "not in the file",
                [Request("macsec.del_rxsc", ns, {"ifname": name, "sci": sci})],
                undo_gap=f"the keys of rx channel {sci_text(sci)} on {where} are not known to "
                         "vnet (the kernel never reports keys): it cannot be put back"))
        return acts

    def _sa_label(self, where: str, sci: int | None, an: int) -> str:
        if sci is None:
            return f"macsec tx sa {an} on {where}"
        return f"macsec rx sa {an} of channel {sci_text(sci)} on {where}"

    def _sa_args(self, sci: int | None, an: int) -> dict[str, Any]:
        args: dict[str, Any] = {"ifname": self.name, "an": an}
        if sci is not None:
            args["sci"] = sci
        return args

    def _plan_sa(self, ns: str | None, where: str, sci: int | None, sa: SA,
                 cur: Any) -> list[Any]:
        side = "txsa" if sci is None else "rxsa"
        label = self._sa_label(where, sci, sa.an)
        ident = self._sa_args(sci, sa.an)
        add = Request(f"macsec.add_{side}", ns, {**ident, "pn": sa.pn, "key_id": sa.key_id,
                                                 "key": sa.secret, "active": sa.active})
        delete = Request(f"macsec.del_{side}", ns, ident)
        if cur is None:
            return [Action("create", label, "declared", [add], [delete])]
        diff: dict[str, tuple[Any, Any]] = {}
        if cur.key_id != sa.key_id_full:
            diff["key_id"] = (cur.key_id.rstrip("0") or "0", sa.key_id)
        if not secrets.matches(sa.secret, cur.fingerprint):
            diff["key"] = (KEY_SHOWN if cur.fingerprint else "(unknown)", KEY_CHANGED)
        if diff:
            if cur.active != sa.active:
                diff["active"] = (cur.active, sa.active)
            # the kernel cannot change a key in place: the SA is added again
            return [Action("replace", label, "key differs from the file", [delete, add],
                           undo_gap=f"the previous key of {label} is not known to vnet (the "
                                    "kernel never reports keys): it cannot be put back",
                           diff=diff)]
        if cur.active != sa.active:
            upd = f"macsec.upd_{side}"
            return [Action("change", label, "differs from the file",
                           [Request(upd, ns, {**ident, "active": sa.active})],
                           [Request(upd, ns, {**ident, "active": cur.active})],
                           diff={"active": (cur.active, sa.active)})]
        return []

    def _remove_sa(self, ns: str | None, where: str, sci: int | None, an: int) -> Any:
        side = "txsa" if sci is None else "rxsa"
        label = self._sa_label(where, sci, an)
        return Action("remove", label, "not in the file",
                      [Request(f"macsec.del_{side}", ns, self._sa_args(sci, an))],
                      undo_gap=f"the key of {label} is not known to vnet (the kernel never "
                               "reports keys): it cannot be put back")

    # ---- rendering ------------------------------------------------------------------------
    def ip_type_args(self) -> list[str]:
        d = self.declared_options()
        args: list[str] = []
        if "port" in d:
            args += ["port", str(d["port"])]
        if "sci" in d:
            args += ["sci", d["sci"]]
        if "cipher" in d:
            args += ["cipher", d["cipher"]]
        if "icvlen" in d:
            args += ["icvlen", str(d["icvlen"])]
        if "encrypt" in d:
            args += ["encrypt", "on" if d["encrypt"] else "off"]
        if "replay" in d:
            args += ["replay", "on" if d["replay"] else "off"]
            if "window" in d:
                args += ["window", str(d["window"])]
        if "validate_" in d:
            args += ["validate", d["validate_"]]
        if "encodingsa" in d:
            args += ["encodingsa", str(d["encodingsa"])]
        for opt in (*_TAG_BITS, "protect"):
            if opt in d:
                args += [opt, "on" if d[opt] else "off"]
        if "offload" in d:
            args += ["offload", d["offload"]]
        return args

    def ip_commands(self, reveal_keys: bool = False,
                    key_word: Callable[[str, SA], str] | None = None) -> list[list[str]]:
        """The iproute2 commands; keys are written as `<key of PATH>` placeholders unless
        `reveal_keys` (a user asked for them explicitly). `key_word(path, sa)`, when given,
        writes each key instead (`vnet export --to ip`: a key file read when the script runs);
        `path` is the SA's place in this entry (`tx_sa[0]`, `rx[1].sa[0]`)."""
        ns = ["-n", self.netns] if self.netns else []
        cmds = [["ip", *ns, "link", "add", "link", self.link, "name", self.name, "type",
                 "macsec", *self.ip_type_args()]]

        def key(path: str, sa: SA) -> str:
            if key_word is not None:
                return key_word(path, sa)
            return sa.secret.get_secret_value() if reveal_keys else f"<key of {path}>"

        for i, sa in enumerate(self.tx_sa):
            cmds.append(["ip", *ns, "macsec", "add", self.name, "tx", "sa", str(sa.an), "pn",
                         str(sa.pn), "on" if sa.active else "off", "key", sa.key_id,
                         key(f"tx_sa[{i}]", sa)])
        for i, sc in enumerate(self.rx):
            peer = ["sci", sci_text(sc.sci_value)] if sc.sci is not None else \
                ["port", str(sc.port or DEFAULT_PORT), "address", sc.address or ""]
            cmds.append(["ip", *ns, "macsec", "add", self.name, "rx", *peer,
                         "on" if sc.active else "off"])
            for j, sa in enumerate(sc.sa):
                cmds.append(["ip", *ns, "macsec", "add", self.name, "rx", *peer, "sa",
                             str(sa.an), "pn", str(sa.pn), "on" if sa.active else "off", "key",
                             sa.key_id, key(f"rx[{i}].sa[{j}]", sa)])
        return cmds


def _unvouched(state: Any, declared: Any) -> str:
    """Why the file last applied cannot stand for the SAs of live SecY `state` (empty: it
    can): it is not known, names a key inline, or its SAs or keys are not the live ones."""
    if not isinstance(declared, Macsec):
        return "no file applied for it is known that names them by key_file"
    live: dict[tuple[int | None, int], Any] = {(None, an): sa for an, sa in state.tx.items()}
    live.update({(sci, an): sa for sci, sc in state.rx.items() for an, sa in sc.sas.items()})
    mine: dict[tuple[int | None, int], SA] = {(None, sa.an): sa for sa in declared.tx_sa}
    mine.update({(sc.sci_value, sa.an): sa for sc in declared.rx for sa in sc.sa})
    if set(live) != set(mine) or set(state.rx) != {sc.sci_value for sc in declared.rx}:
        return "the file last applied lists other SAs than the kernel holds"
    for key, sa in mine.items():
        if sa.key_file is None or sa.key is not None:
            return "the file last applied writes them inline, not by key_file"
        have = live[key]
        if have.key_id != sa.key_id_full or not secrets.matches(sa.secret, have.fingerprint):
            return "the key files the file last applied names no longer hold the keys in use"
    return ""

