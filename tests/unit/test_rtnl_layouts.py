"""A link message whose layout was seen before is decoded from that layout
(`rtnl._link_wanted`): every field must be what walking the message finds, whatever the
messages before it were (same length and first attribute, other layouts included)."""

from __future__ import annotations

import ipaddress
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from vnet.door import rtnl

_FIELDS = rtnl.RawLink.__slots__

#: attributes a link message may carry: wanted ones and others, of several sizes
_ATTRS = st.one_of(
    st.builds(lambda name: rtnl.attr_str(rtnl.IFLA_IFNAME, name), st.text("abv0123", min_size=1,
                                                                        max_size=14)),
    st.builds(lambda v: rtnl.attr_u32(rtnl.IFLA_MTU, v), st.integers(0, 2**32 - 1)),
    st.builds(lambda v: rtnl.attr_u32(rtnl.IFLA_MASTER, v), st.integers(0, 9)),
    st.builds(lambda v: rtnl.attr_u32(rtnl.IFLA_LINK, v), st.integers(0, 9)),
    st.builds(lambda v: rtnl.attr_u32(rtnl.IFLA_GROUP, v), st.integers(0, 9)),
    st.builds(lambda v: rtnl.attr(rtnl.IFLA_LINK_NETNSID, struct.pack("=i", v)),
              st.integers(-1, 3)),
    st.builds(lambda v: rtnl.attr(rtnl.IFLA_OPERSTATE, bytes([v])), st.integers(0, 6)),
    st.builds(lambda mac: rtnl.attr(rtnl.IFLA_ADDRESS, mac), st.binary(min_size=6, max_size=6)),
    st.builds(lambda v: rtnl.attr(rtnl.IFLA_STATS64, struct.pack("=QQQQ", *v) + bytes(168)),
              st.tuples(*[st.integers(0, 99)] * 4)),
    st.builds(lambda kind, data: rtnl.nested(rtnl.IFLA_LINKINFO, rtnl.attr_str(
        rtnl.IFLA_INFO_KIND, kind), *([rtnl.nested(rtnl.IFLA_INFO_DATA)] if data else [])),
              st.sampled_from(["veth", "bridge"]), st.booleans()),
    st.builds(lambda names: rtnl.nested(rtnl.IFLA_PROP_LIST, *[
        rtnl.attr_str(rtnl.IFLA_ALT_IFNAME, n) for n in names]),
              st.lists(st.text("vnet.ab", min_size=1, max_size=20), max_size=2)),
    st.builds(rtnl.attr, st.sampled_from([6, 13, 17, 26, 30, 33, 43, 62]),
              st.binary(max_size=12)),
)


def _message(parts: list[bytes], index: int) -> bytes:
    body = rtnl.ifinfo(index, 1) + b"".join(parts)
    return struct.pack("=IHHII", 16 + len(body), rtnl.RTM_NEWLINK, 2, 1, 0) + body


def _fields(raw: rtnl.RawLink) -> tuple[object, ...]:
    return tuple(getattr(raw, name) for name in _FIELDS)


def _walked(data: bytes, offset: int) -> tuple[object, ...]:
    """The fields of the message decoded by walking it (no layout known)."""
    rtnl._LAYOUTS.clear()
    return _fields(rtnl.RawLink(data, offset))


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(messages=st.lists(st.lists(_ATTRS, max_size=8), min_size=1, max_size=6),
       lead=st.integers(0, 3))
def test_a_known_layout_decodes_as_the_walk(messages: list[list[bytes]], lead: int) -> None:
    # the messages back to back in one buffer, as a dump's part holds them, after `lead`
    # words of another message: each is decoded at its own offset
    frames = [_message(parts, i) for i, parts in enumerate(messages)]
    frames += frames  # the second time, each layout is known
    buffer = bytes(4 * lead) + b"".join(frames)
    offsets = []
    at = 4 * lead
    for frame in frames:
        offsets.append(at)
        at += len(frame)
    expected = [_walked(buffer, at) for at in offsets]
    rtnl._LAYOUTS.clear()
    assert [_fields(rtnl.RawLink(buffer, at)) for at in offsets] == expected


def test_a_layout_of_the_same_length_and_first_attribute_is_not_taken_for_another() -> None:
    name = rtnl.attr_str(rtnl.IFLA_IFNAME, "va0")
    one = _message([name, rtnl.attr_u32(rtnl.IFLA_MTU, 1500), rtnl.attr_u32(13, 7)], 1)
    two = _message([name, rtnl.attr_u32(13, 7), rtnl.attr_u32(rtnl.IFLA_MASTER, 4)], 2)
    assert len(one) == len(two)
    rtnl._LAYOUTS.clear()
    first, second = rtnl.RawLink(one, 0), rtnl.RawLink(two, 0)
    assert (first.mtu, first.master) == (1500, 0)
    assert (second.mtu, second.master) == (0, 4)


def test_the_layouts_kept_are_bounded() -> None:
    rtnl._LAYOUTS.clear()
    for n in range(3 * rtnl._LAYOUTS_KEPT):
        rtnl.RawLink(_message([rtnl.attr_str(rtnl.IFLA_IFNAME, "x"), bytes(4 * n)], n), 0)
        assert len(rtnl._LAYOUTS) <= rtnl._LAYOUTS_KEPT


@settings(max_examples=100, derandomize=True, database=None, deadline=None)
@given(addrs=st.lists(st.tuples(st.integers(1, 99), st.one_of(
    st.ip_addresses(v=4).map(lambda a: f"{a}/{24}"),
    st.ip_addresses(v=6).map(lambda a: f"{a}/{64}"))), max_size=5),
    label=st.booleans())
def test_addresses_read_as_their_encoding_says(addrs: list[tuple[int, str]],
                                               label: bool) -> None:
    frames = []
    for index, addr in addrs:
        _, _, body = rtnl.address(True, index, addr)
        if label:  # an attribute the reader skips, after those it reads
            body += rtnl.attr_str(3, "x")  # IFA_LABEL
        frames.append(struct.pack("=IHHII", 16 + len(body), rtnl.RTM_NEWADDR, 2, 1, 0) + body)
    buffer = b"".join(frames)
    offsets = [sum(len(f) for f in frames[:i]) for i in range(len(frames))]
    assert rtnl._parse_addresses([(buffer, at) for at in offsets]) == [
        (index, ipaddress.ip_interface(addr).with_prefixlen, 0) for index, addr in addrs]
