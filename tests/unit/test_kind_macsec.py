"""macsec without a kernel: options to netlink, keys from files (permissions, lengths, clear
errors with positions), SA planning against observed state (a changed key is a change shown as
"(changed)"), genl messages, dump parsing, and no key in any text."""

from __future__ import annotations

import os
import struct
import textwrap
from pathlib import Path

import pytest

import vnet
from vnet import secrets
from vnet.door import macsec as backend
from vnet.door.macsec import MacsecRxSC, MacsecSA, MacsecState
from vnet.errors import Position, TopologyError
from vnet.kinds.macsec import Macsec, sci_of
from vnet.observe import LinkState, NetnsState
from vnet.render.plan_text import plan_lines

KEY1 = "00112233445566778899aabbccddeeff"
KEY2 = "ffeeddccbbaa99887766554433221100"
KEY256 = KEY1 * 2
HEAD = """\
name: ms
interfaces:
  - name: wire0
    kind: veth
    peer: {name: wire1}
"""
BODY = f"""\
- name: ms0
  kind: macsec
  link: wire0
  port: 1
  encrypt: true
  tx_sa:
    - {{an: 0, key_id: "01", key: "{KEY1}"}}
  rx:
    - address: 02:00:00:00:00:02
      sa:
        - {{an: 0, key_id: "02", key: "{KEY2}"}}
"""


def load(body: str = BODY, file: str = "ms.yaml") -> Macsec:
    topo = vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "), file)
    iface = topo.interfaces[1]
    assert isinstance(iface, Macsec)
    return iface


def issues_of(body: str, file: str = "ms.yaml") -> list[str]:
    with pytest.raises(TopologyError) as info:
        load(body, file)
    for issue in info.value.issues:
        assert isinstance(issue.where, Position), issue
    return [str(i) for i in info.value.issues]


def no_key(text: str) -> None:
    for key in (KEY1, KEY2, KEY256):
        assert key not in text and key.upper() not in text


# ---- options ---------------------------------------------------------------------------------
def test_options_encode_as_ifla_macsec() -> None:
    m = load(BODY.replace("encrypt: true", "encrypt: true\n  cipher: gcm-aes-256\n  icvlen: 16"
                          "\n  replay: true\n  window: 32\n  validate: check\n"
                          "  encodingsa: 0").replace(KEY1, KEY256).replace(KEY2, KEY256))
    assert m.info_data() == {
        "IFLA_MACSEC_PORT": 1, "IFLA_MACSEC_ENCRYPT": 1,
        "IFLA_MACSEC_CIPHER_SUITE": 0x0080C20001000002, "IFLA_MACSEC_ICV_LEN": 16,
        "IFLA_MACSEC_REPLAY_PROTECT": 1, "IFLA_MACSEC_WINDOW": 32, "IFLA_MACSEC_VALIDATION": 1,
        "IFLA_MACSEC_ENCODING_SA": 0}


def test_kernel_attributes_decode_to_the_files_spelling() -> None:
    sci = sci_of("02:00:00:00:00:01", 1)
    decoded = Macsec.decode_info_data({
        "IFLA_MACSEC_SCI": sci, "IFLA_MACSEC_CIPHER_SUITE": 0x0080020001000001,
        "IFLA_MACSEC_ENCRYPT": 1, "IFLA_MACSEC_VALIDATION": 2, "IFLA_MACSEC_ICV_LEN": 16})
    assert decoded["port"] == 1 and decoded["sci"] == "0200000000010001"
    assert decoded["cipher"] == "gcm-aes-128"  # the kernel reports the older id
    assert decoded["encrypt"] is True and decoded["validate_"] == "strict"


def test_sci_port_cipher_icvlen_re_create_the_rest_change_in_place() -> None:
    assert all(Macsec.needs_replace(o) for o in ("port", "sci", "cipher", "icvlen"))
    assert not any(Macsec.needs_replace(o) for o in ("encrypt", "validate_", "window",
                                                      "replay", "encodingsa"))


def test_ip_commands_hide_keys_unless_asked() -> None:
    m = load()
    text = "\n".join(" ".join(c) for c in m.ip_commands())
    assert "ip link add link wire0 name ms0 type macsec port 1 encrypt on" in text
    assert "ip macsec add ms0 tx sa 0 pn 1 on key 01 <key of tx_sa[0]>" in text
    assert "ip macsec add ms0 rx port 1 address 02:00:00:00:00:02 on" in text
    assert "rx port 1 address 02:00:00:00:00:02 sa 0 pn 1 on key 02 <key of rx[0].sa[0]>" in text
    no_key(text)
    shown = "\n".join(" ".join(c) for c in m.ip_commands(reveal_keys=True))
    assert f"key 01 {KEY1}" in shown and f"key 02 {KEY2}" in shown


# ---- keys ------------------------------------------------------------------------------------
def test_key_never_in_repr_dump_or_json() -> None:
    m = load()
    no_key(repr(m) + str(m) + m.model_dump_json() + str(m.model_dump()))
    assert m.tx_sa[0].secret.get_secret_value() == KEY1


def test_key_file_is_read_relative_to_the_topology(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    key = tmp_path / "k" / "tx.hex"
    key.write_text(KEY1.upper() + "\n")
    os.chmod(key, 0o600)
    m = load(BODY.replace(f'key: "{KEY1}"', "key_file: k/tx.hex"), str(tmp_path / "ms.yaml"))
    assert m.tx_sa[0].secret.get_secret_value() == KEY1


def test_key_file_readable_by_others_is_refused_with_position(tmp_path: Path) -> None:
    key = tmp_path / "tx.hex"
    key.write_text(KEY1)
    os.chmod(key, 0o644)
    [issue] = issues_of(BODY.replace(f'key: "{KEY1}"', "key_file: tx.hex"),
                        str(tmp_path / "ms.yaml"))
    assert "tx_sa[0].key_file: key file" in issue and "mode 0644" in issue
    assert f"chmod 600 {key}" in issue and "ms.yaml:12:41:" in issue


def test_missing_key_file(tmp_path: Path) -> None:
    [issue] = issues_of(BODY.replace(f'key: "{KEY1}"', "key_file: nope.hex"),
                        str(tmp_path / "ms.yaml"))
    assert "cannot read key file" in issue and "No such file" in issue


@pytest.mark.parametrize("cipher,key,needs", [("gcm-aes-128", KEY256, 16),
                                              ("gcm-aes-256", KEY1, 32)])
def test_key_length_must_fit_the_cipher(cipher: str, key: str, needs: int) -> None:
    body = BODY.replace("encrypt: true", f"encrypt: true\n  cipher: {cipher}").replace(KEY1, key)
    issues = issues_of(body)
    assert any(f"tx_sa[0].key: the key is {len(key) // 2} bytes; cipher {cipher} needs "
               f"{needs} bytes" in i for i in issues), issues
    no_key("\n".join(issues))


@pytest.mark.parametrize("bad,words", [
    (KEY1[:-1], "odd number of hex digits"),
    (KEY1[:-2] + "zz", "hex digits only"),
])
def test_bad_key_text_is_said_without_quoting_it(bad: str, words: str) -> None:
    [issue] = issues_of(BODY.replace(KEY1, bad))
    assert "interfaces[1].tx_sa[0].key: key" in issue and words in issue
    assert bad not in issue and bad[:10] not in issue


def test_unquoted_numeric_key_is_refused_without_echo() -> None:
    digits = "12345678901234567890123456789012"
    [issue] = issues_of(BODY.replace(f'"{KEY1}"', digits))
    assert "quoted string" in issue and digits not in issue


def test_sa_needs_exactly_one_of_key_and_key_file() -> None:
    [issue] = issues_of(BODY.replace(f', key: "{KEY1}"', ""))
    assert "tx_sa[0]: an SA needs its key: exactly one of key or key_file" in issue


def test_cross_field_checks() -> None:
    issues = "\n".join(issues_of(BODY.replace("port: 1", "port: 1\n  sci: 0200000000010001\n"
                                              "  window: 8\n  encodingsa: 2")))
    assert "port and sci both name this end's SCI" in issues
    assert "a replay window needs replay: true" in issues
    assert "encodingsa 2 has no TX SA" in issues
    issues = "\n".join(issues_of(BODY.replace("encrypt: true", "replay: true")))
    assert "replay protection needs a window" in issues


def test_duplicate_an_and_channel() -> None:
    body = BODY.replace(f'    - {{an: 0, key_id: "01", key: "{KEY1}"}}\n',
                        f'    - {{an: 0, key_id: "01", key: "{KEY1}"}}\n'
                        f'    - {{an: 0, key_id: "03", key: "{KEY1}"}}\n')
    assert any("TX SA 0 is listed twice" in i for i in issues_of(body))


def test_key_id_padding_and_numbers() -> None:
    m = load(BODY.replace('key_id: "01"', "key_id: 1"))
    assert m.tx_sa[0].key_id == "01"
    assert m.tx_sa[0].key_id_full == "01" + "0" * 30
    assert backend.key_id_bytes("01") == b"\x01" + b"\0" * 15


# ---- planning SAs ----------------------------------------------------------------------------
def observed(m: Macsec, tx_key: str = KEY1, rx_key: str = KEY2, tx_active: bool = True,
             extra_tx: bool = False) -> NetnsState:
    sci = sci_of("02:00:00:00:00:02", 1)
    tx = {0: MacsecSA(0, 5, "01".ljust(32, "0"), tx_active,
                      secrets.fingerprint(secrets.SecretStr(tx_key)))}
    if extra_tx:
        tx[1] = MacsecSA(1, 1, "07".ljust(32, "0"), True, None)
    rx = {sci: MacsecRxSC(sci, True, {0: MacsecSA(0, 9, "02".ljust(32, "0"), True,
                                                  secrets.fingerprint(secrets.SecretStr(rx_key)))})}
    st = NetnsState(name=None)
    st.links["ms0"] = LinkState(index=3, name="ms0", kind="macsec")
    st.macsec = {"ms0": MacsecState("ms0", 3, sci_of("02:00:00:00:00:01", 1), tx=tx, rx=rx)}
    return st


def test_fresh_link_gets_every_sa() -> None:
    m = load()
    acts = m.plan_extras(None, None)
    assert [(a.verb, a.subject) for a in acts] == [
        ("create", "macsec tx sa 0 on ms0"),
        ("create", "macsec rx channel 0200000000020001 on ms0"),
        ("create", "macsec rx sa 0 of channel 0200000000020001 on ms0")]
    assert acts[0].do[0].op == "macsec.add_txsa" and acts[0].undo[0].op == "macsec.del_txsa"
    assert acts[2].do[0].args["sci"] == sci_of("02:00:00:00:00:02", 1)


def test_matching_state_plans_nothing_even_when_pn_advanced() -> None:
    m = load()
    st = observed(m)
    assert m.plan_extras(st, st.links["ms0"]) == []


def test_changed_key_is_a_replace_shown_without_values() -> None:
    m = load()
    st = observed(m, rx_key=KEY1)
    [act] = m.plan_extras(st, st.links["ms0"])
    assert (act.verb, act.subject) == ("replace",
                                       "macsec rx sa 0 of channel 0200000000020001 on ms0")
    assert act.diff == {"key": ("(set)", "(changed)")}
    assert [r.op for r in act.do] == ["macsec.del_rxsa", "macsec.add_rxsa"]
    assert act.undo == [] and "not known to vnet" in act.undo_gap
    from vnet.plan import Plan
    text = "\n".join(line for _, line in plan_lines(Plan("ms", [act])))
    assert "key: (set) → (changed)" in text
    no_key(text + repr(act) + str(act.as_dict()))


def test_unknown_fingerprint_is_planned_as_a_key_change() -> None:
    m = load()
    st = observed(m)
    st.macsec["ms0"].tx[0] = MacsecSA(0, 5, "01".ljust(32, "0"), True, None)
    [act] = m.plan_extras(st, st.links["ms0"])
    assert act.diff == {"key": ("(unknown)", "(changed)")}


def test_active_changes_in_place_and_extra_sas_are_removed() -> None:
    m = load()
    st = observed(m, tx_active=False, extra_tx=True)
    acts = m.plan_extras(st, st.links["ms0"])
    assert [(a.verb, a.subject, a.do[0].op) for a in acts] == [
        ("change", "macsec tx sa 0 on ms0", "macsec.upd_txsa"),
        ("remove", "macsec tx sa 1 on ms0", "macsec.del_txsa")]
    assert acts[0].diff == {"active": (False, True)}
    assert acts[0].undo[0].args["active"] is False


def test_undeclared_rx_channel_is_removed() -> None:
    m = load(BODY.split("  rx:")[0])
    st = observed(m)
    [act] = m.plan_extras(st, st.links["ms0"])
    assert (act.verb, act.do[0].op) == ("remove", "macsec.del_rxsc")


# ---- backend: messages and dumps -------------------------------------------------------------
def test_add_txsa_message_layout() -> None:
    msg = backend.build_request(backend.CMD_ADD_TXSA, 7, sa={
        "an": 0, "pn": 1, "key": secrets.SecretStr(KEY1), "key_id": "01", "active": True})
    msg.encode()
    data = bytes(msg.data)
    assert data[16] == 4  # genl cmd MACSEC_CMD_ADD_TXSA after the 16-byte nlmsghdr
    attrs = dict(backend.parse_attrs(data[20:]))
    assert struct.unpack("=I", attrs[1]) == (7,)  # MACSEC_ATTR_IFINDEX
    sa = dict(backend.parse_attrs(attrs[3]))  # MACSEC_ATTR_SA_CONFIG
    assert sa[1] == b"\0" and sa[2] == b"\x01" and struct.unpack("=I", sa[3]) == (1,)
    assert sa[4] == bytes.fromhex(KEY1) and sa[5] == b"\x01" + b"\0" * 15


def test_rxsc_sci_is_mac_then_port_in_network_order() -> None:
    msg = backend.build_request(backend.CMD_ADD_RXSC, 7, sci_of("02:00:00:00:00:02", 1), True)
    msg.encode()
    attrs = dict(backend.parse_attrs(bytes(msg.data)[20:]))
    rxsc = dict(backend.parse_attrs(attrs[2]))
    assert rxsc[1] == bytes.fromhex("0200000000020001") and rxsc[2] == b"\x01"


def _nla(typ: int, value: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(value), typ) + value
    return raw + b"\0" * ((4 - len(raw) % 4) % 4)


def test_dump_parsing() -> None:
    sa = _nla(1, b"\0") + _nla(3, struct.pack("=I", 42)) + _nla(5, b"\x01" + b"\0" * 15) + \
        _nla(2, b"\x01")
    secy = _nla(1, bytes.fromhex("0200000000010001")) + _nla(7, b"\x01") + \
        _nla(3, struct.pack("=I", 32)) + _nla(10, b"\x01") + \
        _nla(4, struct.pack("=Q", 0x0080020001000001))
    rxsc = _nla(2, b"\x01") + _nla(1, bytes.fromhex("0200000000020001")) + _nla(3, _nla(1, sa))
    state = backend.parse_dump({1: struct.pack("=I", 5), 4: secy, 5: _nla(1, sa),
                                6: _nla(1, rxsc)}, "ms0")
    assert state.ifindex == 5 and state.tx[0] == MacsecSA(0, 42, "01" + "0" * 30, True)
    assert list(state.rx) == [sci_of("02:00:00:00:00:02", 1)]
    assert state.rx[sci_of("02:00:00:00:00:02", 1)].sas[0].pn == 42
    decoded = Macsec.decode_info_data(state.secy)
    assert decoded["port"] == 1 and decoded["replay"] is True
    assert decoded["window"] == 32 and decoded["cipher"] == "gcm-aes-128"


def test_fingerprints_match_only_their_key() -> None:
    fp = secrets.fingerprint(secrets.SecretStr(KEY1))
    assert secrets.matches(secrets.SecretStr(KEY1), fp)
    assert not secrets.matches(secrets.SecretStr(KEY2), fp)
    assert not secrets.matches(secrets.SecretStr(KEY1), None)
    no_key(fp)


def test_a_schema_error_quoting_an_sa_hides_its_key() -> None:
    # a mistyped tx_sa (a mapping where a list goes) is quoted in the error: never its key
    text = textwrap.dedent("""\
        name: sec
        namespaces: [a]
        interfaces:
          - {name: w0, kind: veth, netns: a, peer: {name: w1}}
          - name: m0
            kind: macsec
            netns: a
            link: w0
            tx_sa: {an: 0, pn: 1, key_id: "01", key: "00112233445566778899aabbccddeeff"}
        """)
    with pytest.raises(TopologyError) as caught:
        vnet.load_text(text)
    said = str(caught.value)
    assert "tx_sa" in said and "'key': '(hidden)'" in said
    assert "00112233" not in said


def test_hidden_replaces_secret_fields_at_any_depth() -> None:
    assert secrets.hidden("abcd", "key") == "(hidden)"
    assert secrets.hidden([{"an": 0, "key": "abcd"}, {"sa": {"key": "ef"}}]) == \
        [{"an": 0, "key": "(hidden)"}, {"sa": {"key": "(hidden)"}}]
    assert secrets.hidden({"key_id": "01"}) == {"key_id": "01"}
