"""geneve without a kernel: the registry derives it from its one file; options to netlink
attributes (through pyroute2's own encoder) and back; validation with positions; ip commands;
plans against the fake kernel (create, nothing twice, ttl in place, dstport re-created)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

import vnet
from vnet import kinds
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import Position, TopologyError
from vnet.kinds.geneve import Geneve
from vnet.plan import plan_changes

ROOT = Path(__file__).resolve().parents[2]

HEAD = """\
name: gn
namespaces: [h1, h2]
interfaces:
"""


def geneve(**options: object) -> Geneve:
    return Geneve.model_validate({"kind": "geneve", "name": "gnv0", **options})


def load_gn(body: str) -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "), "gn.yaml")


def issues_of(body: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        load_gn(body)
    for issue in info.value.issues:
        assert isinstance(issue.where, Position) and issue.where.file == "gn.yaml", issue
    return [str(i) for i in info.value.issues]


# ---- the registry knows it from its file alone -------------------------------------------------
def test_registry_lists_it_right_after_vxlan() -> None:
    names = [cls.kind_name for cls in kinds.ordered()]
    assert names[names.index("vxlan") + 1] == "geneve"
    assert kinds.lookup("geneve") is Geneve
    assert kinds.by_kernel_kind("geneve") is Geneve
    assert Geneve.kernel_modules() == [["geneve"]]  # the module is named as the kernel kind


def test_schema_offers_it() -> None:
    defs = vnet.json_schema()["$defs"]
    found = [d for d in defs.values() if d.get("properties", {}).get("kind", {}).get("const")
             == "geneve"]
    assert len(found) == 1
    assert set(found[0]["properties"]) >= {"id", "remote", "ttl", "tos", "dstport", "udpcsum",
                                           "collect_metadata"}


def test_probe_link_is_a_valid_geneve() -> None:
    link = Geneve.probe_link()
    assert link.probe_request() == {"kind": "geneve", "info_data": {
        "IFLA_GENEVE_ID": 42, "IFLA_GENEVE_REMOTE": "192.0.2.1"}}
    topo = vnet.load_data({"name": "probe", "interfaces": [
        {"kind": "geneve", "name": link.name, **Geneve.probe}]})
    assert topo.interfaces[0].info_data() == link.info_data()


def test_use_when_is_two_lines() -> None:
    assert len(Geneve.use_when.splitlines()) == 2


# ---- encode / decode --------------------------------------------------------------------------
def test_ipv4_options_encode_to_kernel_attributes() -> None:
    gn = geneve(id=100, remote="198.51.100.2", ttl=64, tos=1, dstport=6082, udpcsum=True)
    assert gn.info_data() == {
        "IFLA_GENEVE_ID": 100, "IFLA_GENEVE_REMOTE": "198.51.100.2", "IFLA_GENEVE_TTL": 64,
        "IFLA_GENEVE_TOS": 1, "IFLA_GENEVE_PORT": 6082, "IFLA_GENEVE_UDP_CSUM": 1}


def test_ipv6_remote_uses_the_6_attribute() -> None:
    data = geneve(id=7, remote="2001:DB8::2").info_data()
    assert data == {"IFLA_GENEVE_ID": 7, "IFLA_GENEVE_REMOTE6": "2001:db8::2"}


def test_collect_metadata_is_a_flag_sent_only_when_true() -> None:
    assert geneve(collect_metadata=True).info_data() == {"IFLA_GENEVE_COLLECT_METADATA": True}
    # a flag attribute is "on" by its presence: false must send nothing
    assert geneve(id=1, remote="198.51.100.2", collect_metadata=False).info_data() == {
        "IFLA_GENEVE_ID": 1, "IFLA_GENEVE_REMOTE": "198.51.100.2"}


#: what a kernel reports beyond what was asked (geneve_fill_info), by remote family
_V4_EXTRA = {"IFLA_GENEVE_TTL": 0, "IFLA_GENEVE_TOS": 0, "IFLA_GENEVE_LABEL": 0,
             "IFLA_GENEVE_DF": "unset", "IFLA_GENEVE_PORT": 6081, "IFLA_GENEVE_UDP_CSUM": 0,
             "IFLA_GENEVE_UDP_ZERO_CSUM6_RX": 1, "IFLA_GENEVE_TTL_INHERIT": 0}
_V6_EXTRA = {**{k: v for k, v in _V4_EXTRA.items() if k != "IFLA_GENEVE_UDP_CSUM"},
             "IFLA_GENEVE_UDP_ZERO_CSUM6_TX": 0, "IFLA_GENEVE_UDP_ZERO_CSUM6_RX": 0}


def _kernel_report(gn: Geneve) -> dict[str, Any]:
    """The IFLA_INFO_DATA a kernel reports for a link made from `gn`."""
    sent = gn.info_data()
    if gn.collect_metadata:
        extra = {k: v for k, v in _V4_EXTRA.items() if k != "IFLA_GENEVE_UDP_CSUM"}
        return {"IFLA_GENEVE_ID": 0, **extra, **sent}
    if "IFLA_GENEVE_REMOTE6" in sent:
        sent.pop("IFLA_GENEVE_UDP_CSUM", None)  # over IPv6 reported as ZERO_CSUM6_TX
        return {**_V6_EXTRA, **sent}
    return {**_V4_EXTRA, **sent}


ROUND_TRIPS = [
    {"id": 100, "remote": "198.51.100.2"},
    {"id": 0, "remote": "198.51.100.2", "ttl": 5, "tos": 1, "dstport": 6082, "udpcsum": True},
    {"id": 16777215, "remote": "198.51.100.2", "udpcsum": False, "collect_metadata": False},
    {"id": 9, "remote": "2001:db8::2", "ttl": 64, "udpcsum": True},
    {"collect_metadata": True, "dstport": 6081},
    {"collect_metadata": True, "udpcsum": False, "ttl": 0},
]


@pytest.mark.parametrize("options", ROUND_TRIPS)
def test_round_trip_through_kernel_attributes(options: dict[str, object]) -> None:
    gn = geneve(**options)
    decoded = Geneve.decode_info_data(_kernel_report(gn))
    assert {k: decoded.get(k) for k in gn.declared_options()} == gn.declared_options()


@pytest.mark.parametrize("options", ROUND_TRIPS)
def test_pyroute2_encodes_and_decodes_every_attribute(options: dict[str, object]) -> None:
    """The names and value types match pyroute2's IFLA_GENEVE_* layout: a message encoded by
    pyroute2 from `info_data()` decodes to the same attributes, and back to the file."""
    gn = geneve(**options)
    msg = ifinfmsg()
    msg["index"] = 1
    msg["attrs"] = [["IFLA_LINKINFO", {"attrs": [
        ["IFLA_INFO_KIND", "geneve"],
        ["IFLA_INFO_DATA", {"attrs": list(gn.info_data().items())}]]}]]
    msg.encode()
    back = ifinfmsg(msg.data)
    back.decode()
    data = back.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")
    attrs = dict(data["attrs"])
    assert "UNKNOWN" not in attrs
    assert attrs == gn.info_data()
    decoded = Geneve.decode_info_data(_kernel_report(gn) | attrs)
    assert {k: decoded.get(k) for k in gn.declared_options()} == gn.declared_options()


def test_decode_spells_the_kernels_defaults_as_the_file_does() -> None:
    v4 = Geneve.decode_info_data({"IFLA_GENEVE_ID": 100, "IFLA_GENEVE_REMOTE": "198.51.100.2",
                                  **_V4_EXTRA})
    assert v4 == {"id": 100, "remote": "198.51.100.2", "ttl": "auto", "tos": 0, "dstport": 6081,
                  "udpcsum": False, "collect_metadata": False, "df": "unset", "flowlabel": 0,
                  "udp6zerocsumrx": True, "innerprotoinherit": False}
    v6 = Geneve.decode_info_data({"IFLA_GENEVE_ID": 9, "IFLA_GENEVE_REMOTE6": "2001:db8::2",
                                  **_V6_EXTRA})
    assert (v6["remote"], v6["udpcsum"]) == ("2001:db8::2", True)
    md = Geneve.decode_info_data({"IFLA_GENEVE_ID": 0, "IFLA_GENEVE_PORT": 6081,
                                  "IFLA_GENEVE_COLLECT_METADATA": True})
    assert md == {"id": 0, "dstport": 6081, "collect_metadata": True, "udpcsum": False,
                  "innerprotoinherit": False}


def test_what_the_kernel_cannot_change_in_place() -> None:
    fixed = {o for o in Geneve.options_map if Geneve.needs_replace(o)}
    assert fixed == {"id", "remote", "dstport", "udpcsum", "collect_metadata", "udp6zerocsumtx",
                     "udp6zerocsumrx", "innerprotoinherit"}
    assert not {o for o in ("tos", "df", "flowlabel") if Geneve.needs_replace(o)}
    assert "ttl" not in Geneve.options_map  # in place, by plan_extras (test_kind_tunnel_ttl.py)


def test_it_has_no_parent() -> None:
    assert geneve(id=1, remote="198.51.100.2", netns="h1").parent() is None


# ---- validation -------------------------------------------------------------------------------
def test_valid_geneves_load() -> None:
    topo = load_gn("""
        - {name: gnv0, kind: geneve, netns: h1, id: 100, remote: 198.51.100.2, ttl: 64,
           tos: 1, dstport: 6081, udpcsum: true, collect_metadata: false}
        - {name: gnv0, kind: geneve, netns: h2, id: 100, remote: "2001:db8::1", udpcsum: true}
        - {name: gnv1, kind: geneve, netns: h2, collect_metadata: true, dstport: 6082}
    """)
    assert [i.kind for i in topo.interfaces] == ["geneve"] * 3
    assert topo.interfaces[0].remote == "198.51.100.2"


@pytest.mark.parametrize(("body", "expected"), [
    # neither id nor collect_metadata
    ("- {name: gnv0, kind: geneve, remote: 198.51.100.2}",
     "gn.yaml:4:5: interfaces[0].id: a geneve needs its VNI (or collect_metadata: true, ip's "
     "external, to take it from each packet) (fix: add id: 100 (0-16777215))"),
    # no remote without collect_metadata
    ("- {name: gnv0, kind: geneve, id: 5}",
     "gn.yaml:4:5: interfaces[0].remote: a geneve without collect_metadata is point-to-point: "
     "the kernel needs the address of the remote tunnel endpoint (fix: add remote: ADDRESS "
     "(the other host's underlay address), or collect_metadata: true)"),
    # collect_metadata with id, with remote, with what each packet's metadata carries
    ("- {name: gnv0, kind: geneve, collect_metadata: true, id: 5}",
     "gn.yaml:4:60: interfaces[0].id: a collect_metadata (ip: external) geneve takes the VNI "
     "from each packet's metadata, so it has no id (fix: remove id, or remove "
     "collect_metadata: true)"),
    ("- {name: gnv0, kind: geneve, collect_metadata: true, remote: 198.51.100.2}",
     "gn.yaml:4:64: interfaces[0].remote: a collect_metadata (ip: external) geneve takes the "
     "remote from each packet's metadata, so it has no remote (fix: remove remote, or remove "
     "collect_metadata: true)"),
    ("- {name: gnv0, kind: geneve, collect_metadata: true, ttl: 5}",
     "gn.yaml:4:61: interfaces[0].ttl: the kernel refuses ttl on a collect_metadata (ip: "
     "external) geneve: each packet's metadata carries it (fix: remove ttl, or remove "
     "collect_metadata: true)"),
    ("- {name: gnv0, kind: geneve, collect_metadata: true, udpcsum: true}",
     "gn.yaml:4:65: interfaces[0].udpcsum: the kernel refuses udpcsum on a collect_metadata"),
    # the schema's ranges
    ("- {name: gnv0, kind: geneve, id: 16777216, remote: 198.51.100.2}",
     "gn.yaml:4:36: interfaces[0].id: Input should be less than or equal to 16777215"),
    ("- {name: gnv0, kind: geneve, id: 1, remote: 198.51.100.2, ttl: 256}",
     "gn.yaml:4:66: interfaces[0].ttl: ttl 256 is none of 1-255, auto"),
    ("- {name: gnv0, kind: geneve, id: 1, remote: 198.51.100.2, tos: -1}",
     "gn.yaml:4:66: interfaces[0].tos: Input should be greater than or equal to 0"),
    ("- {name: gnv0, kind: geneve, id: 1, remote: 198.51.100.2, dstport: 65536}",
     "gn.yaml:4:70: interfaces[0].dstport: Input should be less than or equal to 65535"),
    ("- {name: gnv0, kind: geneve, id: 1, remote: nope}",
     "gn.yaml:4:47: interfaces[0].remote: 'nope' is not an IPv4 or IPv6 address"),
    # remotes the kernel refuses
    ("- {name: gnv0, kind: geneve, id: 1, remote: 239.1.1.1}",
     "gn.yaml:4:47: interfaces[0].remote: remote 239.1.1.1 is a multicast address; the kernel "
     "refuses it (geneve has no multicast groups)"),
    ("- {name: gnv0, kind: geneve, id: 1, remote: 'fe80::1'}",
     "gn.yaml:4:47: interfaces[0].remote: remote fe80::1 is an IPv6 link-local address"),
    ("- {name: gnv0, kind: geneve, id: 1, remote: 0.0.0.0}",
     "gn.yaml:4:47: interfaces[0].remote: remote 0.0.0.0 is the unspecified address"),
    ("- {name: gnv0, kind: geneve, id: 1, remote: '2001:db8::2', udpcsum: false}",
     "gn.yaml:4:71: interfaces[0].udpcsum: over an IPv6 underlay the kernel always sends UDP "
     "checksums (noudpcsum has no effect there) (fix: remove udpcsum: false, or use an IPv4 "
     "remote)"),
    # ip's spelling of collect_metadata is not this file's
    ("- {name: gnv0, kind: geneve, id: 1, remote: 198.51.100.2, dev: eth0}",
     "gn.yaml:4:61: interfaces[0].dev: unknown field 'dev'"),
    # what the kernel refuses between the geneves of one namespace
    ("- {name: gnv0, kind: geneve, id: 1, remote: 198.51.100.2}\n"
     "- {name: gnv1, kind: geneve, id: 1, remote: 198.51.100.2}",
     "gn.yaml:5:36: interfaces[1].id: geneve 'gnv0' already tunnels VNI 1 to 198.51.100.2 on "
     "UDP port 6081; the kernel refuses a second one (fix: use another id, remote or dstport)"),
    ("- {name: gnv0, kind: geneve, netns: h1, collect_metadata: true}\n"
     "- {name: gnv1, kind: geneve, netns: h1, id: 1, remote: 198.51.100.2}",
     "gn.yaml:5:5: interfaces[1].dstport: geneve 'gnv0' in h1 already uses UDP port 6081, and "
     "a collect_metadata geneve must have its port to itself (fix: give one of them another "
     "dstport (e.g. dstport: 6082))"),
])
def test_bad_geneves_are_reported_at_their_position(body: str, expected: str) -> None:
    got = issues_of(body)
    assert any(line.startswith(expected) for line in got), got


def test_same_tunnel_in_two_namespaces_is_fine() -> None:
    load_gn("""
        - {name: gnv0, kind: geneve, netns: h1, id: 1, remote: 198.51.100.2}
        - {name: gnv0, kind: geneve, netns: h2, id: 1, remote: 198.51.100.2}
        - {name: gnv1, kind: geneve, netns: h2, collect_metadata: true, dstport: 6082}
    """)


def test_every_problem_at_once() -> None:
    got = issues_of("- {name: gnv0, kind: geneve, collect_metadata: true, id: 1, "
                    "remote: 198.51.100.2, tos: 4}")
    assert [line.split(": ")[1] for line in got] == [
        "interfaces[0].id", "interfaces[0].remote", "interfaces[0].tos"]


# ---- rendering --------------------------------------------------------------------------------
def test_ip_commands_match_the_reference_spelling() -> None:
    gn = geneve(id=100, remote="198.51.100.2", ttl=64, tos=1, dstport=6082, udpcsum=False)
    assert gn.ip_commands() == [["ip", "link", "add", "gnv0", "type", "geneve", "id", "100",
                                 "remote", "198.51.100.2", "ttl", "64", "tos", "1", "dstport",
                                 "6082", "noudpcsum"]]


def test_ip_commands_in_a_namespace_and_external() -> None:
    assert [" ".join(c) for c in geneve(netns="h1", id=5, remote="2001:db8::2",
                                        udpcsum=True).ip_commands()] == [
        "ip -n h1 link add gnv0 type geneve id 5 remote 2001:db8::2 udpcsum"]
    assert [" ".join(c) for c in geneve(collect_metadata=True, dstport=6081).ip_commands()] == [
        "ip link add gnv0 type geneve dstport 6081 external"]


def test_the_example_renders_as_its_reference_commands() -> None:
    topo = vnet.load_file(ROOT / "examples" / "geneve.yaml")
    cmds = [" ".join(c) for i in topo.interfaces if i.kind == "geneve" for c in i.ip_commands()]
    assert cmds == [
        "ip -n host1 link add gnv0 type geneve id 100 remote 198.51.100.2",
        "ip -n host2 link add gnv0 type geneve id 100 remote 198.51.100.1"]


# ---- plans against a fake kernel ---------------------------------------------------------------
EXAMPLE = """\
name: gn
namespaces: [h1]
interfaces:
  - name: ul
    kind: veth
    netns: h1
    addresses: [198.51.100.1/24]
    peer: {{name: ul-peer}}
  - name: gnv0
    kind: geneve
    netns: h1
    id: {id}
    remote: {remote}
    dstport: {dstport}
    ttl: {ttl}
    udpcsum: false
    collect_metadata: false
    addresses: [192.0.2.1/24]
"""


def _text(id: int = 100, remote: str = "198.51.100.2", dstport: int = 6081,
          ttl: int = 10) -> str:
    return EXAMPLE.format(id=id, remote=remote, dstport=dstport, ttl=ttl)


def _plan(fake: FakeKernel, text: str) -> Any:
    return plan_changes(vnet.load_text(text), fake.observe(Scope([None, "h1"])))


def _applied(fake: FakeKernel, text: str) -> None:
    fake.send([r for a in _plan(fake, text).actions for r in a.do])


def test_create_sends_the_attributes_and_a_second_plan_is_empty() -> None:
    fake = FakeKernel()
    plan = _plan(fake, _text())
    add = next(r for a in plan.actions for r in a.do
               if r.op == "link.add" and r.args["ifname"] == "gnv0")
    assert add.netns == "h1" and add.args["kind"] == "geneve"
    assert add.args["info_data"] == {
        "IFLA_GENEVE_ID": 100, "IFLA_GENEVE_REMOTE": "198.51.100.2", "IFLA_GENEVE_PORT": 6081,
        "IFLA_GENEVE_TTL": 10, "IFLA_GENEVE_UDP_CSUM": 0}
    assert "parent" not in add.args  # no underlay device: the kernel routes to remote
    _applied(fake, _text())
    assert _plan(fake, _text()).actions == []


def test_ttl_changes_in_place() -> None:
    fake = FakeKernel()
    _applied(fake, _text(ttl=10))
    change = _plan(fake, _text(ttl=20))
    assert [(a.verb, a.diff) for a in change.actions] == [("change", {"ttl": (10, 20)})]
    # only the changed attribute: the kernel refuses any IFLA_GENEVE_PORT in a change
    assert change.actions[0].do[0].args["info_data"] == {"IFLA_GENEVE_TTL": 20}
    assert change.actions[0].undo[0].args["info_data"] == {"IFLA_GENEVE_TTL": 10}
    fake.send([r for a in change.actions for r in a.do])
    assert _plan(fake, _text(ttl=20)).actions == []


@pytest.mark.parametrize(("changed", "field"), [
    ({"dstport": 6082}, "dstport"),
    ({"id": 101}, "id"),
    ({"remote": "198.51.100.3"}, "remote"),
])
def test_what_the_kernel_refuses_to_change_re_creates(changed: dict[str, Any],
                                                      field: str) -> None:
    fake = FakeKernel()
    _applied(fake, _text())
    before = fake.namespaces["h1"].links["gnv0"].index
    plan = _plan(fake, _text(**changed))
    replaced = [a for a in plan.actions if a.verb == "replace"]
    assert replaced and all("gnv0" in a.subject for a in replaced), plan.actions
    assert any(f"{field} cannot change in place" in a.reason for a in replaced)
    # the re-created link gets its addresses back
    assert any(r.op == "addr.add" and r.args["ifname"] == "gnv0"
               for a in plan.actions for r in a.do)
    fake.send([r for a in plan.actions for r in a.do])
    assert fake.namespaces["h1"].links["gnv0"].index != before
    assert _plan(fake, _text(**changed)).actions == []
