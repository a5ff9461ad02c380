"""`checks:` validation: every mistake is reported with its position, and only the
topology's own addresses can be targets."""

from __future__ import annotations

import pytest

import vnet
from vnet.checks import resolve_checks
from vnet.errors import Collector

BASE = """\
name: chk
namespaces: [a, b, c]
interfaces:
  - {name: va, kind: veth, netns: a, addresses: [192.0.2.1/24, "2001:db8::1/64"],
     peer: {name: vb, netns: b, addresses: [192.0.2.2/24]}}
  - {name: br0, kind: bridge, netns: c, addresses: [198.51.100.1/24]}
checks:
"""


def _errors(checks: str) -> list[str]:
    with pytest.raises(vnet.TopologyError) as info:
        vnet.load_text(BASE + checks, "f.yaml")
    return [str(i) for i in info.value.issues]


def test_good_checks_resolve_to_probes() -> None:
    topo = vnet.load_text(BASE + """\
  - {from: a, ping: 192.0.2.2}
  - {from: a/va, tcp: "[2001:db8::1]:22", expect: fail}
  - {from: b, mtu: 1400, to: 192.0.2.1, count: 3}
  - {from: b, rate: "198.51.100.1:5001", expect_rate: 10mbit, tolerance: 25}
  - {from: a, ping: 192.0.2.2, count: 9, failover: b/vb}
  - {name: watched, from: a, udp: "192.0.2.2:53", encap: {watch: b/vb, udp: 4789}}
""")
    issues = Collector()
    probes = resolve_checks(topo, issues)
    assert not issues.issues
    assert [p.probe for p in probes] == ["ping", "tcp", "mtu", "rate", "ping", "udp"]
    assert (probes[0].src_ns, probes[0].dst_ns, probes[0].dst_dev) == ("a", "b", "vb")
    assert (probes[1].src_dev, probes[1].dst_addr, probes[1].port) == ("va", "2001:db8::1", 22)
    assert probes[1].target == "[2001:db8::1]:22"
    assert probes[3].expect_rate == 1_250_000 and probes[3].tolerance == 25
    assert (probes[4].failover_ns, probes[4].failover_dev) == ("b", "vb")
    assert (probes[5].label, probes[5].encap_dev, probes[5].encap_port) == ("watched", "vb", 4789)


@pytest.mark.parametrize(("check", "expected"), [
    ("{from: z, ping: 192.0.2.2}",
     "f.yaml:8:12: checks[0].from: namespace 'z' is not one of this topology's namespaces"),
    ("{from: a/eth9, ping: 192.0.2.2}",
     "f.yaml:8:12: checks[0].from: interface 'eth9' is not defined in namespace 'a'"),
    ("{from: a, ping: 203.0.113.9}",
     "f.yaml:8:21: checks[0].ping: 203.0.113.9 is not an address of this topology's namespaces"),
    ("{from: a, ping: 192.0.2.2, tcp: '192.0.2.2:1'}",
     "f.yaml:8:5: checks[0]: a check needs exactly one of ping, tcp, udp, mtu, can, rate, "
     "nlmon (got ping, tcp)"),
    ("{from: a, nlmon: c/br0}", "checks[0].nlmon: c/br0 is a bridge, not an nlmon device"),
    ("{from: a, nlmon: c}", "checks[0].nlmon: an nlmon check names the device"),
    ("{from: a}", "f.yaml:8:5: checks[0]: a check needs exactly one of"),
    ("{from: a, mtu: 1400}", "f.yaml:8:5: checks[0]: an mtu check needs 'to'"),
    ("{from: a, ping: 192.0.2.2, to: 192.0.2.2}", "'to' is only used with mtu"),
    ("{from: a, tcp: '192.0.2.2'}", "checks[0].tcp: '192.0.2.2' is not ADDRESS:PORT"),
    ("{from: a, udp: 'x:53'}", "checks[0].udp: 'x' in 'x:53' is not an IP address"),
    ("{from: a, tcp: '192.0.2.2:70000'}", "is not ADDRESS:PORT"),
    ("{from: a, ping: 192.0.2.2, expect: maybe}", "checks[0].expect: Input should be 'ok' or "
     "'fail'"),
    ("{from: a, ping: 192.0.2.2, count: 500}", "checks[0]: count 500 is for a measuring ping"),
    ("{from: a, ping: 192.0.2.2, count: 1001, expect_loss: 2%}", "checks[0].count: Input "
     "should be less than or equal to 1000"),
    ("{from: a, ping: 192.0.2.2, timeout: 99}", "checks[0].timeout: Input should be less than "
     "or equal to 30"),
    ("{from: a, rate: '192.0.2.2:9'}", "a rate check needs both 'rate'"),
    ("{from: a, rate: '192.0.2.2:9', expect_rate: fast}", "rate 'fast' is not a number"),
    ("{from: a, tcp: '192.0.2.2:9', failover: b/vb}", "'failover' is only used with ping"),
    ("{from: a, ping: 192.0.2.2, failover: b/vb}", "a failover ping needs count of at least 6"),
    ("{from: a, ping: 192.0.2.2, count: 6, failover: b/nope}",
     "checks[0].failover: interface 'nope' is not defined in namespace 'b'"),
    ("{from: a, ping: 192.0.2.2, encap: {watch: c/zz, udp: 4789}}",
     "checks[0].encap.watch: interface 'zz' is not defined in namespace 'c'"),
    ("{from: a, ping: 192.0.2.2, encap: {on: c/br0, udp: 4789}}",
     "checks[0].encap.on: unknown field 'on'"),
    ("{from: a/va, can: b/vb}", "checks[0].from: a/va is a veth, not a CAN interface"),
    ("{from: a, can: b/vb}", "checks[0].from: a CAN check names an interface"),
    ("{from: a, ping: 192.0.2.2, colour: red}", "checks[0].colour: unknown field 'colour'"),
    ("just a string", "f.yaml:8:5: checks[0]: a check must be a mapping"),
])
def test_bad_check_is_reported_with_its_position(check: str, expected: str) -> None:
    errors = _errors(f"  - {check}\n")
    assert any(expected in e for e in errors), errors


def test_checks_must_be_a_list() -> None:
    with pytest.raises(vnet.TopologyError) as info:
        vnet.load_text(BASE + "  {from: a}\n", "f.yaml")
    assert "'checks' must be a list" in str(info.value)


def test_every_bad_check_is_reported_at_once() -> None:
    errors = _errors("  - {from: z, ping: 192.0.2.2}\n  - {from: a, ping: 203.0.113.1}\n")
    assert len(errors) == 2
