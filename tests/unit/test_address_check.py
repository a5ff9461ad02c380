"""check_address's fast path for canonical IPv4 agrees with ipaddress on every input, and so
does inet_ntop's IPv6 spelling, which the lean dumps use (rtnl.py), except where it writes a
dotted quad."""

from __future__ import annotations

import ipaddress
import itertools
import random
import socket

import pytest

from vnet.kinds.base import check_address

OCTETS = ["0", "1", "01", "9", "10", "99", "100", "199", "255", "256", "300", "000", "1000"]
PREFIXES = ["", "0", "00", "8", "024", "24", "32", "33", "99", "x"]


def _reference(value: str) -> str | None:
    if "/" not in value:
        return None
    try:
        return ipaddress.ip_interface(value).with_prefixlen
    except ValueError:
        return None


def _checked(value: str) -> str | None:
    try:
        return check_address(value)
    except ValueError:
        return None


@pytest.mark.parametrize("prefix", PREFIXES)
def test_ipv4_agrees_with_ipaddress(prefix: str) -> None:
    for octets in itertools.product(OCTETS, ["0", "255", "01"], ["2"], OCTETS):
        value = ".".join(octets) + "/" + prefix
        assert _checked(value) == _reference(value), value


@pytest.mark.parametrize("value", ["2001:db8::1/64", "2001:DB8:0:0::1/64", "::ffff:1.2.3.4/96",
                                   "192.0.2.1", "192.0.2.1/24 ", " 192.0.2.1/24", "fe80::1/64"])
def test_other_spellings_go_through_ipaddress(value: str) -> None:
    assert _checked(value) == _reference(value)


def test_inet_ntop_spells_ipv6_as_ipaddress_does() -> None:
    rng = random.Random(5952)
    groups = [b"\x00\x00", b"\x00\x01", b"\xff\xff", b"\x20\x01", b"\x0d\xb8", b"\xfe\x80"]
    for _ in range(20000):
        packed = b"".join(rng.choice(groups) for _ in range(8))
        text = socket.inet_ntop(socket.AF_INET6, packed)
        if "." not in text:
            assert text == str(ipaddress.IPv6Address(packed)), text
