"""A file that spans hosts: its rules, the VNIs and MTUs vnet plans, and the split per host."""

from __future__ import annotations

import textwrap

import pytest

from vnet.errors import TopologyError
from vnet.hosts.split import allocate_vnis, refuse_spanning, split_topology
from vnet.loader import load_text
from vnet.model import json_schema

TWO_HOSTS = """\
name: two
hosts:
  - {name: a, underlay: 198.51.100.11}
  - {name: b, underlay: 198.51.100.12}
namespaces:
  - {name: n1, host: a}
  - {name: n2, host: b}
"""

ACROSS = TWO_HOSTS + """\
interfaces:
  - name: v1
    kind: veth
    netns: n1
    addresses: [192.0.2.1/24]
    peer: {name: v2, netns: n2, addresses: [192.0.2.2/24]}
  - name: g1
    kind: veth
    host: a
    via: geneve
    addresses: [192.0.2.5/30]
    peer: {name: g2, host: b, addresses: [192.0.2.6/30]}
routes:
  - {netns: n1, to: 203.0.113.0/24, via: 192.0.2.2}
checks:
  - {from: n2, ping: 192.0.2.1}
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        load_text(textwrap.dedent(text), "t.yaml")
    return [f"{i.field}: {i.message}" for i in info.value.issues]


def _links(topo: object) -> list[tuple[str, str, str | None, int | None]]:
    return sorted((e.kind, e.name, e.netns, e.mtu) for e in topo.endpoints())  # type: ignore[attr-defined]


def test_a_file_without_hosts_is_one_topology_unchanged() -> None:
    topo = load_text("name: one\ninterfaces:\n  - {name: d0, kind: bridge}\n")
    split = split_topology(topo)
    assert split.hosts == {"localhost": topo} and split.tunnels == []
    refuse_spanning(topo)  # a single host applies it as before


def test_a_veth_across_hosts_becomes_a_tunnel_on_each_side() -> None:
    split = split_topology(load_text(ACROSS, "t.yaml"))
    a, b = split.hosts["a"], split.hosts["b"]
    assert a.namespaces == ["n1"] and b.namespaces == ["n2"]
    vx, gn = split.tunnels
    tag = f"{vx.vni:06x}"
    # in a namespace: the end stays a veth there; its other end and the tunnel device meet
    # on a bridge in the host's own namespace, where the underlay is
    assert _links(a) == sorted([
        ("veth", "v1", "n1", 1450), ("veth", f"vnp{tag}", None, 1450),
        ("bridge", f"vnb{tag}", None, 1450), ("vxlan", f"vnt{tag}", None, 1450),
        ("geneve", "g1", None, 1450)])
    tunnel_a = next(e for e in a.interfaces if e.name == f"vnt{tag}")
    tunnel_b = next(e for e in b.interfaces if e.name == f"vnt{tag}")
    assert (tunnel_a.id, tunnel_a.local, tunnel_a.remote, tunnel_a.dstport) == (  # type: ignore[attr-defined]
        vx.vni, "198.51.100.11", "198.51.100.12", 4789)
    assert (tunnel_b.local, tunnel_b.remote) == ("198.51.100.12", "198.51.100.11")  # type: ignore[attr-defined]
    # in the host's namespace: the end is the tunnel device, with the end's addresses
    g2 = next(e for e in b.interfaces if e.name == "g2")
    assert (g2.kind, g2.remote, g2.id, g2.addresses) == (  # type: ignore[attr-defined]
        "geneve", "198.51.100.11", gn.vni, ["192.0.2.6/30"])
    assert [r.netns for r in a.routes] == ["n1"] and b.routes == []
    assert [c.from_ for c in b.checks] == ["n2"] and a.checks == []
    # each part is an ordinary single-host topology
    assert a.hosts == [] and b.hosts == []
    refuse_spanning(a)


def test_the_plan_says_the_tunnel_and_why_the_mtu_is_lowered() -> None:
    notes = split_topology(load_text(ACROSS, "t.yaml")).notes()
    assert notes[0].startswith("a:n1/v1 <-> b:n2/v2: VXLAN VNI ")
    assert "MTU of both ends lowered to 1450 (underlay MTU 1500 - 50 bytes of " \
           "encapsulation)" in notes[0]
    assert notes[1].startswith("a:g1 <-> b:g2: GENEVE VNI ")


def test_a_jumbo_underlay_keeps_the_default_mtu() -> None:
    text = ACROSS.replace("underlay: 198.51.100.11}", "underlay: 198.51.100.11, mtu: 9000}") \
        .replace("underlay: 198.51.100.12}", "underlay: 198.51.100.12, mtu: 9000}")
    split = split_topology(load_text(text))
    assert all(t.mtu is None and not t.lowered for t in split.tunnels)
    assert "lowered" not in " ".join(split.notes())


def test_an_ipv6_underlay_takes_70_bytes() -> None:
    text = ACROSS.replace("198.51.100.11", "2001:db8::11").replace("198.51.100.12",
                                                                     "2001:db8::12")
    assert {t.mtu for t in split_topology(load_text(text)).tunnels} == {1430}


def test_vnis_are_stable_and_collisions_resolve_the_same_way() -> None:
    first = [t.vni for t in split_topology(load_text(ACROSS)).tunnels]
    again = [t.vni for t in split_topology(load_text(ACROSS)).tunnels]
    assert first == again and len(set(first)) == 2
    # a collision (forced here by taking the derived number) moves to the next free one,
    # whatever order the keys come in
    derived = allocate_vnis(["x"])["x"]
    one = allocate_vnis(["x", "y"], taken={derived})
    other = allocate_vnis(["y", "x"], taken={derived})
    assert one == other and one["x"] == derived % (2**24 - 1) + 1
    # a VNI the file itself uses is not given to a tunnel
    assert allocate_vnis(["x"], taken={derived})["x"] != derived


def test_a_declared_mtu_too_big_for_the_tunnel_is_refused() -> None:
    errors = _errors(ACROSS.replace("addresses: [192.0.2.1/24]",
                                    "addresses: [192.0.2.1/24]\n    mtu: 1500"))
    assert errors == ["interfaces[0].mtu: mtu 1500 of 'v1' does not fit the tunnel between a "
                      "and b: the underlay carries 1500 bytes and the encapsulation takes 50"]


def test_a_declared_mtu_that_fits_is_kept_on_both_ends() -> None:
    text = ACROSS.replace("addresses: [192.0.2.1/24]", "addresses: [192.0.2.1/24]\n    mtu: 1400")
    vx = split_topology(load_text(text)).tunnels[0]
    assert (vx.mtu, vx.lowered) == (1400, False)


def test_vxcan_across_hosts_is_refused() -> None:
    errors = _errors(TWO_HOSTS + """\
interfaces:
  - {name: c1, kind: vxcan, netns: n1, peer: {name: c2, netns: n2}}
""")
    assert errors == ["interfaces[0].peer: the two ends of vxcan 'c1' are on different hosts "
                      "(a and b); CAN frames do not cross hosts"]


def test_the_rules_across_hosts() -> None:
    errors = _errors(TWO_HOSTS + """\
  - n3
  - {name: n4, host: c}
interfaces:
  - {name: br0, kind: bridge, netns: n1}
  - {name: p1, kind: veth, netns: n1, master: br0, via: geneve, peer: {name: p2, netns: n1}}
  - {name: x0, kind: bridge, host: a}
  - {name: y1, kind: veth, host: b, master: x0, peer: {name: y2, host: b}}
  - {name: h1, kind: bridge, netns: n2, host: a}
  - {name: free, kind: bridge}
routes:
  - {to: default, dev: free}
""")
    assert errors == [
        "namespaces[2]: namespace 'n3' has no host, and the file spans 2 hosts",
        "namespaces[3].host: host 'c' is not in the file's hosts (a, b)",
        "interfaces[1].via: via: geneve is for a veth whose ends are on different hosts; both "
        "ends of this one are on one host",
        "interfaces[3].master: interface 'y1' is on host 'b' but its master 'x0' is on host "
        "'a'",
        "interfaces[4].host: interface 'h1' says host 'a', but its namespace 'n2' is on host 'b'",
        "interfaces[5].host: interface 'free' has no host, and the file spans 2 hosts",
        "routes[0]: the route has no host, and the file spans 2 hosts",
    ]


def test_host_without_hosts_and_duplicate_hosts() -> None:
    assert _errors("name: x\ninterfaces:\n  - {name: b0, kind: bridge, host: a}\n") == [
        "interfaces[0].host: interface 'b0' says host 'a', but the file lists no hosts"]
    errors = _errors("name: x\nhosts:\n  - {name: a, underlay: 198.51.100.1}\n"
                     "  - {name: a, underlay: 198.51.100.1}\n")
    assert errors == ["hosts[1].name: host 'a' is listed twice",
                      "hosts[1].underlay: hosts 'a' and 'a' have the same underlay address "
                      "198.51.100.1"]
    assert _errors("name: x\nhosts:\n  - {name: 'a b', underlay: 224.0.0.1}\n")[0].startswith(
        "hosts[0].name: ")


def test_an_interface_underlay_needs_its_address_from_the_host() -> None:
    topo = load_text(ACROSS.replace("underlay: 198.51.100.12", "underlay: eth0"))
    with pytest.raises(TopologyError) as info:
        split_topology(topo)
    assert "the underlay of host 'b' is the interface 'eth0'" in str(info.value)
    split = split_topology(topo, underlays={"b": "198.51.100.99"})
    assert split.tunnels[0].ends[1].underlay == "198.51.100.99"


def test_one_host_cannot_apply_a_file_that_spans_hosts() -> None:
    with pytest.raises(TopologyError) as info:
        refuse_spanning(load_text(ACROSS, "t.yaml"))
    assert "spans 2 hosts (a, b); one host cannot apply it alone" in str(info.value)


def test_a_file_with_one_host_needs_no_host_anywhere() -> None:
    topo = load_text("name: x\nhosts: [{name: only, underlay: 198.51.100.1}]\nnamespaces: [n1]\n"
                     "interfaces:\n  - {name: v1, kind: veth, netns: n1, peer: {name: v2}}\n")
    split = split_topology(topo)
    assert list(split.hosts) == ["only"] and split.tunnels == []
    assert _links(split.hosts["only"]) == [("veth", "v1", "n1", None), ("veth", "v2", None, None)]
    refuse_spanning(topo)


def test_the_schema_knows_hosts() -> None:
    schema = json_schema()
    assert "hosts" in schema["properties"]
    assert "host" in schema["$defs"]["Veth"]["properties"]
    assert "via" in schema["$defs"]["Veth"]["properties"]


SPAN = """\
name: span
hosts:
  - {name: a, underlay: 198.51.100.11}
  - {name: b, underlay: 198.51.100.12}
  - {name: c, underlay: 198.51.100.13}
namespaces:
  - {name: s1, host: a}
  - {name: s2, host: b}
interfaces:
  - {name: br0, kind: bridge, span: [a, b]}
  - {name: e1, kind: veth, netns: s1, addresses: [192.0.2.1/24],
     peer: {name: p1, host: a, master: br0}}
  - {name: e2, kind: veth, netns: s2, addresses: [192.0.2.2/24],
     peer: {name: p2, host: b, master: br0}}
routes:
  - {host: a, to: 203.0.113.0/24, dev: br0}
"""


def test_a_bridge_across_hosts_gets_a_flooding_vxlan_port_on_each() -> None:
    split = split_topology(load_text(SPAN, "t.yaml"))
    assert sorted(split.hosts) == ["a", "b", "c"] and split.hosts["c"].interfaces == []
    (span,) = split.spans
    port = f"vns{span.vni:06x}"
    assert split.notes() == [
        f"bridge br0 spans a, b: VXLAN VNI {span.vni}, UDP 4789, port {port} on each, flooding "
        "to the others; MTU of its ports lowered to 1450 (what the VXLAN port carries)"]
    a = split.hosts["a"]
    assert _links(a) == sorted([("bridge", "br0", None, None), ("vxlan", port, None, 1450),
                                ("veth", "e1", "s1", 1450), ("veth", "p1", None, 1450)])
    vx = next(e for e in a.interfaces if e.name == port)
    assert (vx.local, vx.master, [(f.mac, f.dst) for f in vx.fdb]) == (  # type: ignore[attr-defined]
        "198.51.100.11", "br0", [("00:00:00:00:00:00", "198.51.100.12")])
    # each host's part is an ordinary file: no host:, no span:
    assert all(getattr(e, "host", None) is None and getattr(e, "span", None) is None
               for part in split.hosts.values() for e in part.endpoints())
    assert [r.host for r in a.routes] == [None]


def test_the_rules_of_a_bridge_across_hosts() -> None:
    errors = _errors(SPAN.replace("span: [a, b]}", "span: [a, d], netns: s1}")
                     .replace("peer: {name: p2, host: b, master: br0}",
                              "peer: {name: p2, host: c, master: br0}"))
    assert "interfaces[0].span: bridge 'br0' spans hosts but is in namespace 's1', which is " \
           "on one host" in errors
    assert "interfaces[0].span: host 'd' is not in the file's hosts (a, b, c)" in errors
    errors = _errors(SPAN.replace("peer: {name: p2, host: b, master: br0}",
                                  "peer: {name: p2, host: c, master: br0}"))
    assert errors == ["interfaces[2].peer.master: interface 'p2' is on host 'c', which bridge "
                      "'br0' does not span (a, b)"]
    errors = _errors(SPAN.replace("peer: {name: p1, host: a, master: br0}",
                                  "peer: {name: p1, host: a, master: br0, mtu: 1500}"))
    assert errors == ["interfaces[1].peer.mtu: mtu 1500 of 'p1' does not fit bridge 'br0' "
                      "across hosts: its VXLAN port carries at most 1450"]


def test_a_file_without_hosts_may_not_say_host_via_or_span() -> None:
    errors = _errors("name: x\nnamespaces: [{name: n, host: a}]\ninterfaces:\n"
                     "  - {name: b0, kind: bridge, span: [a, b]}\n"
                     "  - {name: v, kind: veth, via: geneve, peer: {name: w}}\n"
                     "routes:\n  - {to: default, dev: b0, host: z}\n")
    assert errors == [
        "namespaces[0].host: namespace 'n' says host 'a', but the file lists no hosts",
        "interfaces[0].span: bridge 'b0' spans hosts, but the file lists no hosts",
        "interfaces[1].via: via: geneve is for a veth whose ends are on different hosts, and "
        "the file lists no hosts",
        "routes[0].host: the route says host 'z', but the file lists no hosts",
    ]


def test_the_api_refuses_a_file_that_spans_hosts_before_any_kernel_work() -> None:
    # api.plan/apply/check import hosts.split only for a file naming several hosts: the
    # refusal still comes first, with the verb of the call
    from vnet import api
    from vnet.door.fake import FakeKernel

    topo = load_text(ACROSS, "t.yaml")
    kernel = FakeKernel()
    for call, doing in ((lambda: api.plan(topo, backend=kernel), "apply"),
                        (lambda: api.apply(topo, backend=kernel), "apply"),
                        (lambda: api.check(topo), "check")):
        with pytest.raises(TopologyError) as info:
            call()
        assert f"spans 2 hosts (a, b); one host cannot {doing} it alone" in str(info.value)
    assert kernel.namespaces.keys() == FakeKernel().namespaces.keys()
