"""MACsec secure channels and associations over the generic netlink family "macsec".

A mixin of `Netlink`: `_op_macsec_<verb>(self, netns, **args)` are reached through
`Netlink.execute(Request("macsec.<verb>", ...))`. pyroute2 0.9.7 has no macsec family, so the
messages are declared here with its genlmsg/nla classes; numbers are those of
include/uapi/linux/if_macsec.h. What `ip macsec add/set/del` does, minus the text parsing.

Keys arrive as `SecretStr` and are unwrapped only into the message. The kernel never reports
a key back, so after installing one the door records a salted fingerprint of it
(`vnet.secrets.fingerprint`) in /run/vnet/macsec-keys.json (mode 0600), keyed by namespace,
ifindex and SA; observation returns it with the SA so the planner can see a changed key.
"""

from __future__ import annotations

import json
import os
import struct
from typing import TYPE_CHECKING, Any

from ..datatypes import datatype, field
from ..observe import LinkState
from . import genl

if TYPE_CHECKING:  # keys arrive wrapped; the models (and vnet.secrets with them) are imported only
    from ..declare import SecretStr  # where a key is handled, never by reading the kernel

GENL_NAME = "macsec"
KEYID_LEN = 16

# enum macsec_nl_commands
CMD_GET_TXSC, CMD_ADD_RXSC, CMD_DEL_RXSC, CMD_UPD_RXSC = 0, 1, 2, 3
CMD_ADD_TXSA, CMD_DEL_TXSA, CMD_UPD_TXSA = 4, 5, 6
CMD_ADD_RXSA, CMD_DEL_RXSA, CMD_UPD_RXSA = 7, 8, 9

# enum macsec_attrs
ATTR_IFINDEX, ATTR_SECY, ATTR_TXSA_LIST, ATTR_RXSC_LIST = 1, 4, 5, 6
# enum macsec_secy_attrs
SECY_SCI, SECY_ENCODING_SA, SECY_WINDOW, SECY_CIPHER_SUITE, SECY_ICV_LEN = 1, 2, 3, 4, 5
SECY_PROTECT, SECY_REPLAY, SECY_VALIDATE, SECY_ENCRYPT = 6, 7, 9, 10
SECY_INC_SCI, SECY_ES, SECY_SCB = 11, 12, 13
# enum macsec_rxsc_attrs
RXSC_SCI, RXSC_ACTIVE, RXSC_SA_LIST = 1, 2, 3
# enum macsec_sa_attrs
SA_AN, SA_ACTIVE, SA_PN, SA_KEYID = 1, 2, 3, 5

#: where the key fingerprints live (beside vnet's record, on the same tmpfs)
KEYS_FILE = "/run/vnet/macsec-keys.json"


@datatype(frozen=True)
class MacsecSA:
    """One secure association as the kernel reports it (no key), plus vnet's fingerprint."""

    an: int
    pn: int
    key_id: str  # 32 hex digits
    active: bool
    fingerprint: str | None = None


@datatype
class MacsecRxSC:
    sci: int
    active: bool
    sas: dict[int, MacsecSA] = field(default_factory=dict)


@datatype
class MacsecState:
    """A MACsec device's SecY: its own SCI, TX SAs by AN, RX SCs by SCI."""

    ifname: str
    ifindex: int
    sci: int
    secy: dict[str, Any] = field(default_factory=dict)
    tx: dict[int, MacsecSA] = field(default_factory=dict)
    rx: dict[int, MacsecRxSC] = field(default_factory=dict)


_MSG: list[Any] = []


def _msg_class() -> Any:
    """The genlmsg class of the family, built on first use (pyroute2 loads lazily)."""
    if _MSG:
        return _MSG[0]
    from pyroute2.netlink import genlmsg, nla

    class macsec_msg(genlmsg):  # noqa: N801 - pyroute2's naming
        prefix = "MACSEC_ATTR_"
        nla_map = (
            ("MACSEC_ATTR_UNSPEC", "none"),
            ("MACSEC_ATTR_IFINDEX", "uint32"),
            ("MACSEC_ATTR_RXSC_CONFIG", "rxsc_config"),
            ("MACSEC_ATTR_SA_CONFIG", "sa_config"),
            ("MACSEC_ATTR_SECY", "cdata"),
            ("MACSEC_ATTR_TXSA_LIST", "cdata"),
            ("MACSEC_ATTR_RXSC_LIST", "cdata"),
            ("MACSEC_ATTR_TXSC_STATS", "cdata"),
            ("MACSEC_ATTR_SECY_STATS", "cdata"),
            ("MACSEC_ATTR_OFFLOAD", "cdata"),
        )

        class rxsc_config(nla):  # noqa: N801
            nla_map = (
                ("MACSEC_RXSC_ATTR_UNSPEC", "none"),
                ("MACSEC_RXSC_ATTR_SCI", "be64"),  # MAC then port, network order
                ("MACSEC_RXSC_ATTR_ACTIVE", "uint8"),
            )

        class sa_config(nla):  # noqa: N801
            nla_map = (
                ("MACSEC_SA_ATTR_UNSPEC", "none"),
                ("MACSEC_SA_ATTR_AN", "uint8"),
                ("MACSEC_SA_ATTR_ACTIVE", "uint8"),
                ("MACSEC_SA_ATTR_PN", "uint32"),  # u32 without XPN, which vnet does not offer
                ("MACSEC_SA_ATTR_KEY", "cdata"),
                ("MACSEC_SA_ATTR_KEYID", "cdata"),
            )

    _MSG.append(macsec_msg)
    return macsec_msg


def key_id_bytes(key_id: str) -> bytes:
    """A key identifier as the kernel stores it: 16 bytes, zero-padded at the end (as `ip`)."""
    raw = bytes.fromhex(key_id)
    return raw + b"\0" * (KEYID_LEN - len(raw))


def build_request(cmd: int, ifindex: int, sci: int | None = None, rx_active: bool | None = None,
                  sa: dict[str, Any] | None = None) -> Any:
    """One genl message of the family (not sent): what the ops send, testable without root."""
    msg = _msg_class()()
    msg["cmd"] = cmd
    msg["version"] = 1
    msg["attrs"] = [["MACSEC_ATTR_IFINDEX", ifindex]]
    if sci is not None:
        rxsc: list[list[Any]] = [["MACSEC_RXSC_ATTR_SCI", sci]]
        if rx_active is not None:
            rxsc.append(["MACSEC_RXSC_ATTR_ACTIVE", int(rx_active)])
        msg["attrs"].append(["MACSEC_ATTR_RXSC_CONFIG", {"attrs": rxsc}])
    if sa is not None:
        attrs: list[list[Any]] = [["MACSEC_SA_ATTR_AN", sa["an"]]]
        if sa.get("active") is not None:
            attrs.append(["MACSEC_SA_ATTR_ACTIVE", int(sa["active"])])
        if sa.get("pn") is not None:
            attrs.append(["MACSEC_SA_ATTR_PN", sa["pn"]])
        if sa.get("key") is not None:
            attrs.append(["MACSEC_SA_ATTR_KEY",
                          bytes.fromhex(sa["key"].get_secret_value())])
        if sa.get("key_id") is not None:
            attrs.append(["MACSEC_SA_ATTR_KEYID", key_id_bytes(sa["key_id"])])
        msg["attrs"].append(["MACSEC_ATTR_SA_CONFIG", {"attrs": attrs}])
    return msg


# ---- parsing dumps (nested lists are numbered entries: parsed here, not by pyroute2) -------
def parse_attrs(buf: bytes) -> list[tuple[int, bytes]]:
    """Netlink attributes of a payload: (type without flag bits, value)."""
    out = []
    off = 0
    while off + 4 <= len(buf):
        length, typ = struct.unpack_from("=HH", buf, off)
        if length < 4:
            break
        out.append((typ & 0x3FFF, bytes(buf[off + 4:off + length])))
        off += (length + 3) & ~3
    return out


def _uint(value: bytes) -> int:
    """u8/u16/u32/u64 in host order, by length."""
    fmt = {1: "=B", 2: "=H", 4: "=I", 8: "=Q"}.get(len(value))
    return struct.unpack(fmt, value)[0] if fmt else 0


def _sci(value: bytes) -> int:
    return int.from_bytes(value[:8], "big")  # sci_t is MAC then port, network order


def parse_sa(buf: bytes) -> MacsecSA:
    attrs = dict(parse_attrs(buf))
    return MacsecSA(an=_uint(attrs.get(SA_AN, b"\0")), pn=_uint(attrs.get(SA_PN, b"")),
                    key_id=attrs.get(SA_KEYID, b"").hex(),
                    active=bool(_uint(attrs.get(SA_ACTIVE, b"\0"))))


def parse_secy(buf: bytes) -> dict[str, Any]:
    """The SecY of a dump, as the IFLA_MACSEC_* attributes rtnetlink would report."""
    a = dict(parse_attrs(buf))
    names = {SECY_ENCODING_SA: "IFLA_MACSEC_ENCODING_SA", SECY_ICV_LEN: "IFLA_MACSEC_ICV_LEN",
             SECY_PROTECT: "IFLA_MACSEC_PROTECT", SECY_REPLAY: "IFLA_MACSEC_REPLAY_PROTECT",
             SECY_VALIDATE: "IFLA_MACSEC_VALIDATION", SECY_ENCRYPT: "IFLA_MACSEC_ENCRYPT",
             SECY_INC_SCI: "IFLA_MACSEC_INC_SCI", SECY_ES: "IFLA_MACSEC_ES",
             SECY_SCB: "IFLA_MACSEC_SCB", SECY_CIPHER_SUITE: "IFLA_MACSEC_CIPHER_SUITE"}
    out: dict[str, Any] = {name: _uint(a[n]) for n, name in names.items() if n in a}
    if SECY_SCI in a:
        out["IFLA_MACSEC_SCI"] = _sci(a[SECY_SCI])
    if out.get("IFLA_MACSEC_REPLAY_PROTECT") and SECY_WINDOW in a:
        out["IFLA_MACSEC_WINDOW"] = _uint(a[SECY_WINDOW])
    return out


def parse_dump(payload: dict[int, bytes], ifname: str) -> MacsecState:
    """One GET_TXSC dump message (its top-level attributes by number) → MacsecState."""
    secy = parse_secy(payload.get(ATTR_SECY, b""))
    state = MacsecState(ifname=ifname, ifindex=_uint(payload.get(ATTR_IFINDEX, b"")),
                        sci=secy.get("IFLA_MACSEC_SCI", 0), secy=secy)
    for _, entry in parse_attrs(payload.get(ATTR_TXSA_LIST, b"")):
        sa = parse_sa(entry)
        state.tx[sa.an] = sa
    for _, entry in parse_attrs(payload.get(ATTR_RXSC_LIST, b"")):
        attrs = parse_attrs(entry)
        by_type = dict(attrs)
        sc = MacsecRxSC(sci=_sci(by_type.get(RXSC_SCI, b"\0" * 8)),
                        active=bool(_uint(by_type.get(RXSC_ACTIVE, b"\0"))))
        for _, sa_entry in parse_attrs(by_type.get(RXSC_SA_LIST, b"")):
            sa = parse_sa(sa_entry)
            sc.sas[sa.an] = sa
        state.rx[sc.sci] = sc
    return state


# ---- fingerprints of installed keys --------------------------------------------------------
def _sa_key(netns: str | None, ifindex: int, sci: int | None, an: int) -> str:
    return f"{netns or ''}|{ifindex}|{'tx' if sci is None else f'{sci:016x}'}|{an}"


def _read_keys() -> dict[str, str]:
    try:
        with open(KEYS_FILE, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_keys(data: dict[str, str]) -> None:
    os.makedirs(os.path.dirname(KEYS_FILE), exist_ok=True)
    tmp = KEYS_FILE + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, KEYS_FILE)


def _remember(netns: str | None, ifindex: int, sci: int | None, an: int,
              key: SecretStr | None) -> None:
    data = _read_keys()
    name = _sa_key(netns, ifindex, sci, an)
    if key is None:
        data.pop(name, None)
    else:
        from .. import secrets
        data[name] = secrets.fingerprint(key)
    _write_keys(data)


#: what a kernel without the MACsec family is told it lacks
LACKING = "the kernel has no MACsec support"


class MacsecOps:
    """SCs and SAs of MACsec devices; refusals reach `execute` as NetlinkError."""

    _index: Any

    def _macsec(self, netns: str | None) -> Any:
        """MACsec's generic netlink family in `netns` (door/genl.py)."""
        return genl.family_socket(netns, GENL_NAME, _msg_class(), LACKING)

    def _macsec_send(self, netns: str | None, msg: Any) -> None:
        genl.send(netns, GENL_NAME, _msg_class(), LACKING, msg)

    # ---- TX SAs -----------------------------------------------------------------------------
    def _op_macsec_add_txsa(self, netns: str | None, ifname: str, an: int, pn: int,
                            key_id: str, key: SecretStr, active: bool) -> None:
        index = self._index(netns, ifname)
        self._macsec_send(netns, build_request(CMD_ADD_TXSA, index, sa={
            "an": an, "pn": pn, "key": key, "key_id": key_id, "active": active}))
        _remember(netns, index, None, an, key)

    def _op_macsec_del_txsa(self, netns: str | None, ifname: str, an: int) -> None:
        index = self._index(netns, ifname)
        # the kernel refuses to delete an active SA (EBUSY): take it out of use first
        self._macsec_send(netns, build_request(CMD_UPD_TXSA, index,
                                               sa={"an": an, "active": False}))
        self._macsec_send(netns, build_request(CMD_DEL_TXSA, index, sa={"an": an}))
        _remember(netns, index, None, an, None)

    def _op_macsec_upd_txsa(self, netns: str | None, ifname: str, an: int, active: bool) -> None:
        index = self._index(netns, ifname)
        self._macsec_send(netns, build_request(CMD_UPD_TXSA, index,
                                               sa={"an": an, "active": active}))

    # ---- RX SCs -----------------------------------------------------------------------------
    def _op_macsec_add_rxsc(self, netns: str | None, ifname: str, sci: int,
                            active: bool) -> None:
        self._macsec_send(netns, build_request(CMD_ADD_RXSC, self._index(netns, ifname), sci,
                                               active))

    def _op_macsec_del_rxsc(self, netns: str | None, ifname: str, sci: int) -> None:
        index = self._index(netns, ifname)
        self._macsec_send(netns, build_request(CMD_DEL_RXSC, index, sci))
        for an in range(4):
            _remember(netns, index, sci, an, None)

    def _op_macsec_upd_rxsc(self, netns: str | None, ifname: str, sci: int,
                            active: bool) -> None:
        self._macsec_send(netns, build_request(CMD_UPD_RXSC, self._index(netns, ifname), sci,
                                               active))

    # ---- RX SAs -----------------------------------------------------------------------------
    def _op_macsec_add_rxsa(self, netns: str | None, ifname: str, sci: int, an: int, pn: int,
                            key_id: str, key: SecretStr, active: bool) -> None:
        index = self._index(netns, ifname)
        self._macsec_send(netns, build_request(CMD_ADD_RXSA, index, sci, sa={
            "an": an, "pn": pn, "key": key, "key_id": key_id, "active": active}))
        _remember(netns, index, sci, an, key)

    def _op_macsec_del_rxsa(self, netns: str | None, ifname: str, sci: int, an: int) -> None:
        index = self._index(netns, ifname)
        self._macsec_send(netns, build_request(CMD_UPD_RXSA, index, sci,
                                               sa={"an": an, "active": False}))
        self._macsec_send(netns, build_request(CMD_DEL_RXSA, index, sci, sa={"an": an}))
        _remember(netns, index, sci, an, None)

    def _op_macsec_upd_rxsa(self, netns: str | None, ifname: str, sci: int, an: int,
                            active: bool) -> None:
        self._macsec_send(netns, build_request(CMD_UPD_RXSA, self._index(netns, ifname), sci,
                                               sa={"an": an, "active": active}))

    # ---- reading ----------------------------------------------------------------------------
    def read_macsec(self, netns: str | None,
                    links: dict[str, LinkState]) -> dict[str, MacsecState]:
        """Every MACsec device's SecY, SCs and SAs (one dump; none when there is no macsec
        link). Fills a link's info_data from the SecY when pyroute2 could not decode it."""
        names = {link.index: link for link in links.values() if link.kind == "macsec"}
        if not names:
            return {}
        from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST
        msg = _msg_class()()
        msg["cmd"] = CMD_GET_TXSC
        msg["version"] = 1
        out: dict[str, MacsecState] = {}
        keys = _read_keys()
        with self._macsec(netns) as sock:
            replies = sock.nlm_request(msg, msg_type=sock.prid,
                                       msg_flags=NLM_F_REQUEST | NLM_F_DUMP)
            for reply in replies:
                payload = {ATTR_IFINDEX: struct.pack("=I", reply.get_attr("MACSEC_ATTR_IFINDEX")
                                                     or 0)}
                for number, name in ((ATTR_SECY, "MACSEC_ATTR_SECY"),
                                     (ATTR_TXSA_LIST, "MACSEC_ATTR_TXSA_LIST"),
                                     (ATTR_RXSC_LIST, "MACSEC_ATTR_RXSC_LIST")):
                    value = reply.get_attr(name)
                    if value is not None:
                        payload[number] = bytes(value)
                link = names.get(_uint(payload[ATTR_IFINDEX]))
                if link is None:
                    continue
                state = parse_dump(payload, link.name)
                state.tx = {an: _with_fp(sa, keys.get(_sa_key(netns, link.index, None, an)))
                            for an, sa in state.tx.items()}
                for sc in state.rx.values():
                    sc.sas = {an: _with_fp(sa, keys.get(_sa_key(netns, link.index, sc.sci, an)))
                              for an, sa in sc.sas.items()}
                if not link.info_data:
                    link.info_data = dict(state.secy)
                out[link.name] = state
        return out


def _with_fp(sa: MacsecSA, fp: str | None) -> MacsecSA:
    return MacsecSA(sa.an, sa.pn, sa.key_id, sa.active, fp)
