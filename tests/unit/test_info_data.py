"""The IFLA_INFO_DATA layouts kinds declare (`info_nla`) are encoded and decoded by vnet itself,
without registering anything into pyroute2 (whose tables are global to the process): here both
directions are held against pyroute2's own coding of the same layouts."""

from __future__ import annotations

from typing import Any

import pytest
from pyroute2.netlink import nla

from vnet import kinds
from vnet.door import rtnl
from vnet.door.decode import decode_info_data, encode_info_data, info_layout

SAMPLE = {"uint8": 1, "uint16": 3, "uint32": 70000, "uint64": 0x0080C20001000001,
          "be16": 4789, "be32": 0x01020304, "be64": 0x0200000000000001}
DECLARED = sorted((cls.kernel_kind or cls.kind_name, cls) for cls in kinds.registry().values()
                  if any(kind in SAMPLE for _, kind in cls.info_nla))


def _values(layout: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {name: SAMPLE[kind] for name, kind in layout if kind in SAMPLE}


def _pyroute2(layout: tuple[tuple[str, str], ...]) -> type[nla]:
    """pyroute2's coder for the layout: a class of its own, registered nowhere. vnet's own
    address-list types (a bond's targets) are nothing pyroute2 names: left out here, their
    coding is tested byte by byte in test_bond_all_options.py."""
    mine = {"ipv4list", "ipv6list"}
    return type("declared", (nla,), {"prefix": "IFLA_", "nla_map": tuple(
        (name, "none" if kind in mine else kind) for name, kind in layout)})


def test_kinds_declare_layouts_to_test() -> None:
    assert {name for name, _ in DECLARED} >= {"ipvlan", "macsec"}


@pytest.mark.parametrize(("kind", "cls"), DECLARED)
def test_encoding_matches_pyroute2(kind: str, cls: Any) -> None:
    values = _values(cls.info_nla)
    theirs = _pyroute2(cls.info_nla)()
    theirs["attrs"] = list(values.items())
    theirs.encode()
    assert encode_info_data(cls.info_nla, values) == bytes(theirs.data[4:theirs["header"]
                                                                       ["length"]])


@pytest.mark.parametrize(("kind", "cls"), DECLARED)
def test_decoding_matches_pyroute2_and_round_trips(kind: str, cls: Any) -> None:
    values = _values(cls.info_nla)
    payload = encode_info_data(cls.info_nla, values)
    theirs = _pyroute2(cls.info_nla)(rtnl.attr(2, payload))
    theirs.decode()
    assert decode_info_data(cls.info_nla, payload) == dict(theirs["attrs"]) == values
    assert info_layout(kind) == cls.info_nla


def test_a_message_s_info_data_is_found() -> None:
    layout = kinds.lookup("ipvlan").info_nla
    _, _, body = rtnl.newlink("ipv1", "ipvlan", link=7,
                              info_data=encode_info_data(layout, {"IFLA_IPVLAN_MODE": 1}))
    message = rtnl._HDR.pack(16 + len(body), rtnl.RTM_NEWLINK, 0, 0, 0) + body
    assert decode_info_data(layout, rtnl.info_data_of(message)) == {"IFLA_IPVLAN_MODE": 1}


def test_unknown_attributes_and_types_are_left_out() -> None:
    layout = (("X_UNSPEC", "none"), ("X_A", "uint32"), ("X_PEER", "peer"))
    payload = rtnl.attr(1, (5).to_bytes(4, "little")) + rtnl.attr(2, b"\0" * 16) + \
        rtnl.attr(9, b"\1\0\0\0")
    assert decode_info_data(layout, payload) == {"X_A": 5}
    with pytest.raises(ValueError, match="cannot encode X_PEER"):
        encode_info_data(layout, {"X_PEER": 1})
