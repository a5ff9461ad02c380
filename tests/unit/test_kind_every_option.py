"""The options issue 25 added to the tunnels and the rest, without a kernel: each one's range,
type and misspelling (with "did you mean"), its netlink encoding and decoding, whether a
change is made in place, and the rules between options."""

from __future__ import annotations

import pytest

import vnet
from vnet.errors import TopologyError
from vnet.kinds import lookup


def load(kind: str, **options: object) -> vnet.Topology:
    entry = {"name": "x0", "kind": kind, **options}
    if kind in ("macvlan", "macvtap", "macsec"):
        entry.setdefault("link", "nic0")
        return vnet.load_data({"name": "t", "interfaces": [
            {"name": "nic0", "kind": "veth", "peer": {"name": "nic1"}}, entry]})
    return vnet.load_data({"name": "t", "interfaces": [entry]})


def error_of(kind: str, **options: object) -> str:
    with pytest.raises(TopologyError) as info:
        load(kind, **options)
    return str(info.value)


V6 = {"id": 1, "local": "2001:db8::1", "remote": "2001:db8::2"}
V4 = {"id": 1, "remote": "192.0.2.2"}
#: (kind, base options, the option, a value out of range or of the wrong type, words of the error)
BAD = [
    ("vxlan", V6, "flowlabel", 1_048_576, "less than or equal to 1048575"),
    ("vxlan", V6, "flowlabel", -1, "greater than or equal to 0"),
    ("vxlan", V6, "df", "maybe", "'unset', 'set' or 'inherit'"),
    ("vxlan", V6, "maxaddress", 4_294_967_296, "less than or equal to 4294967295"),
    ("vxlan", V6, "rsc", "often", "boolean"),
    ("vxlan", V6, "gbp", 3, "boolean"),
    ("geneve", V4, "df", "sometimes", "'unset', 'set' or 'inherit'"),
    ("geneve", V4, "flowlabel", 2_000_000, "less than or equal to 1048575"),
    ("geneve", V4, "udp6zerocsumrx", "x", "boolean"),
    ("macvlan", {}, "flag", "nopromiscuous", "'null', 'nopromisc' or 'nodst'"),
    ("macsec", {}, "offload", "nic", "'off', 'phy' or 'mac'"),
    ("macsec", {}, "send_sci", "yes please", "boolean"),
    ("macsec", {}, "encodingsa", 4, "less than or equal to 3"),
]


@pytest.mark.parametrize(("kind", "base", "option", "value", "words"), BAD)
def test_a_value_out_of_range_or_of_the_wrong_type_is_refused(
        kind: str, base: dict[str, object], option: str, value: object, words: str) -> None:
    text = error_of(kind, **base, **{option: value})
    assert option in text and words in text, text


@pytest.mark.parametrize(("kind", "base", "typo", "meant"), [
    ("vxlan", V6, "flowlable", "flowlabel"),
    ("vxlan", V6, "udp6zerocsumxt", "udp6zerocsumtx"),
    ("vxlan", V6, "maxaddresses", "maxaddress"),
    ("geneve", V4, "innerprotoinherits", "innerprotoinherit"),
    ("macvlan", {}, "flags", "flag"),
    ("macsec", {}, "endstation", "end_station"),
    ("macsec", {}, "sendsci", "send_sci"),
])
def test_a_misspelt_option_gets_did_you_mean(kind: str, base: dict[str, object], typo: str,
                                             meant: str) -> None:
    assert f"did you mean '{meant}'" in error_of(kind, **base, **{typo: 1})


def test_vxlan_options_encode_as_the_kernel_reads_them_and_decode_back() -> None:
    vx = load("vxlan", **V6, df="inherit", flowlabel=77, maxaddress=7, rsc=True,
              udp6zerocsumtx=True, udp6zerocsumrx=False, remcsumtx=True, remcsumrx=True,
              gbp=True, gpe=False).interfaces[0]
    data = vx.info_data()
    assert data["IFLA_VXLAN_DF"] == 2
    assert data["IFLA_VXLAN_LABEL"] == 0x4D000000  # network byte order, as ip sends it
    assert data["IFLA_VXLAN_LIMIT"] == 7 and data["IFLA_VXLAN_GBP"] is True
    assert "IFLA_VXLAN_GPE" not in data  # a flag attribute: false is no attribute
    back = type(vx).decode_info_data(data)
    assert {k: back[k] for k in ("df", "flowlabel", "maxaddress", "gbp", "gpe")} == {
        "df": "inherit", "flowlabel": 77, "maxaddress": 7, "gbp": True, "gpe": False}
    assert vx.ip_type_args() == [
        "id", "1", "local", "2001:db8::1", "remote", "2001:db8::2", "df", "inherit",
        "flowlabel", "77", "maxaddress", "7", "rsc", "udp6zerocsumtx", "noudp6zerocsumrx",
        "remcsumtx", "remcsumrx", "gbp"]


@pytest.mark.parametrize(("kind", "in_place", "replaced"), [
    ("vxlan", {"df", "flowlabel", "ttl", "tos", "learning", "ageing"},
     {"maxaddress", "rsc", "udp6zerocsumtx", "udp6zerocsumrx", "remcsumtx", "remcsumrx",
      "gbp", "gpe"}),
    ("geneve", {"df", "flowlabel", "tos"},  # its ttl: test_kind_tunnel_ttl.py
     {"udp6zerocsumtx", "udp6zerocsumrx", "innerprotoinherit"}),
    ("macvlan", {"flag"}, set()),
    ("macsec", {"send_sci", "end_station", "scb", "protect", "replay", "encodingsa",
                "validate_", "offload"}, set()),
])
def test_what_the_kernel_changes_in_place(kind: str, in_place: set[str],
                                          replaced: set[str]) -> None:
    spec = lookup(kind).options_map
    assert {o for o in in_place if spec[o].replace} == set()
    assert {o for o in replaced if not spec[o].replace} == set()


def test_vxlan_rules_between_options() -> None:
    text = error_of("vxlan", **V4, flowlabel=5)
    assert "flowlabel" in text and "IPv6" in text
    text = error_of("vxlan", **V6, gpe=True)
    assert "gpe" in text and "collect_metadata" in text
    load("vxlan", **V4, flowlabel=0)  # 0 is the kernel's default: allowed anywhere


def test_geneve_options_encode_decode_and_rules() -> None:
    G6 = {"id": 1, "remote": "2001:db8::2"}
    gnv = load("geneve", **G6, df="set", flowlabel=5, udp6zerocsumtx=True,
               udp6zerocsumrx=True, innerprotoinherit=True).interfaces[0]
    data = gnv.info_data()
    assert {k: data[k] for k in ("IFLA_GENEVE_DF", "IFLA_GENEVE_LABEL",
                                 "IFLA_GENEVE_UDP_ZERO_CSUM6_TX",
                                 "IFLA_GENEVE_INNER_PROTO_INHERIT")} == {
        "IFLA_GENEVE_DF": 1, "IFLA_GENEVE_LABEL": 5, "IFLA_GENEVE_UDP_ZERO_CSUM6_TX": 1,
        "IFLA_GENEVE_INNER_PROTO_INHERIT": True}
    back = type(gnv).decode_info_data({**data, "IFLA_GENEVE_DF": "set"})  # pyroute2 names it
    assert (back["df"], back["flowlabel"], back["udp6zerocsumtx"],
            back["innerprotoinherit"]) == ("set", 5, True, True)
    assert gnv.ip_type_args()[4:] == ["df", "set", "flowlabel", "5", "udp6zerocsumtx",
                                      "udp6zerocsumrx", "innerprotoinherit"]
    assert "IFLA_GENEVE_INNER_PROTO_INHERIT" not in load(
        "geneve", **G6, innerprotoinherit=False).interfaces[0].info_data()
    for option in ("flowlabel", "udp6zerocsumtx"):
        text = error_of("geneve", **V4, **{option: 1 if option == "flowlabel" else True})
        assert f"{option}" in text and "IPv6 remote" in text, text
    text = error_of("geneve", **G6, udpcsum=True, udp6zerocsumtx=True)
    assert "udpcsum" in text and "keep one of them" in text


def test_macvlan_flag_decodes_pyroute2s_names_and_the_kernels_numbers() -> None:
    from vnet.kinds.macvlan import Macvlan
    assert [Macvlan.decode_info_data({"IFLA_MACVLAN_FLAGS": v})["flag"]
            for v in ("none", "nopromisc", 0, 1, 2)] == [
        "null", "nopromisc", "null", "nopromisc", "nodst"]


def test_macsec_sectag_bits_exclude_each_other_and_render_as_ip_says_them() -> None:
    text = error_of("macsec", send_sci=True, end_station=True)
    assert "send_sci and end_station cannot both be on" in text, text
    assert "interfaces[1].end_station" in text
    text = error_of("macsec", end_station=True, scb=True)
    assert "end_station and scb cannot both be on" in text
    ms = load("macsec", send_sci=False, scb=True, protect=False, offload="off", replay=True,
              window=8, encodingsa=1).interfaces[1]  # after the parent veth
    data = ms.info_data()
    assert {k: data[k] for k in ("IFLA_MACSEC_INC_SCI", "IFLA_MACSEC_SCB",
                                 "IFLA_MACSEC_PROTECT", "IFLA_MACSEC_OFFLOAD")} == {
        "IFLA_MACSEC_INC_SCI": 0, "IFLA_MACSEC_SCB": 1, "IFLA_MACSEC_PROTECT": 0,
        "IFLA_MACSEC_OFFLOAD": 0}
    assert ms.ip_type_args() == ["replay", "on", "window", "8", "encodingsa", "1",
                                 "send_sci", "off", "scb", "on", "protect", "off",
                                 "offload", "off"]
    back = type(ms).decode_info_data({**data, "IFLA_MACSEC_OFFLOAD": 2})
    assert (back["send_sci"], back["scb"], back["protect"], back["offload"]) == (
        False, True, False, "mac")


def test_macsec_offload_not_reported_reads_as_off() -> None:
    from vnet.kinds.macsec import Macsec
    assert Macsec.decode_info_data({"IFLA_MACSEC_ENCRYPT": 1})["offload"] == "off"
    assert Macsec.decode_info_data({"IFLA_MACSEC_OFFLOAD": 1})["offload"] == "phy"


@pytest.mark.parametrize(("kind", "old", "now"), [
    ("macsec", "replay_protect", "write replay instead"),
    ("macsec", "encoding_sa", "write encodingsa instead"),
    ("macvlan", "nopromisc", "write flag: nopromisc instead"),
])
def test_a_field_vnet_spelled_otherwise_before_names_ips_spelling(kind: str, old: str,
                                                                   now: str) -> None:
    text = error_of(kind, **{old: True})
    assert f"unknown field '{old}'" in text and now in text, text
