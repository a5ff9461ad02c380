"""ifb without a kernel: tc units, validation with positions, planned shaping and redirects,
the ip/tc commands."""

from __future__ import annotations

import textwrap

import pytest

import vnet
from vnet.errors import Position, TopologyError
from vnet.features.shaping import format_rate, parse_rate, parse_size, parse_time, xmittime
from vnet.kinds.ifb import Ifb
from vnet.observe import LinkState, NetnsState, Observed, TcFilterState, TcState
from vnet.plan import plan_changes, plan_teardown

ROOT = 0xFFFFFFFF
HEAD = """\
name: shape
namespaces: [nb]
interfaces:
  - name: va
    kind: veth
    netns: nb
    peer: {name: vb, netns: nb}
"""
TBF = {"qdisc": "tbf", "rate": "10mbit", "burst": "32kbit", "latency": "50ms"}


def load(body: str) -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "), "s.yaml")


def issues_of(body: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        load(body)
    for issue in info.value.issues:
        assert isinstance(issue.where, Position) and issue.where.file == "s.yaml", issue
    return [str(i) for i in info.value.issues]


def ifb(**fields: object) -> Ifb:
    return Ifb.model_validate({"kind": "ifb", "name": "ifb0", "netns": "nb", **fields})


# ---- units, as tc reads them ---------------------------------------------------------------
@pytest.mark.parametrize("text, bytes_per_s", [
    ("10mbit", 1_250_000), ("10Mbit", 1_250_000), ("1gbit", 125_000_000), ("800kbit", 100_000),
    ("8bit", 1), ("80000", 10_000), (80000, 10_000), ("1mibit", 131_072), ("125kbps", 125_000),
    ("1mbps", 1_000_000), ("1.5mbit", 187_500), ("34gbit", 4_250_000_000)])
def test_rates_parse_as_tc_does(text: object, bytes_per_s: int) -> None:
    assert parse_rate(text) == bytes_per_s


@pytest.mark.parametrize("text, message", [
    ("10 furlongs", "unknown unit"), ("fast", "not a number"), ("0mbit", "greater than zero"),
    ("40gbit", "above 34gbit"), ("1bit", "below 8bit"), (True, "not a number")])
def test_bad_rates_say_why(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rate(text)


def test_sizes_and_times_parse_as_tc_does() -> None:
    assert parse_size("32kbit") == 4096
    assert parse_size("4kb") == parse_size("4k") == 4096
    assert parse_size("1500") == parse_size("1500b") == 1500
    assert parse_size("1mbit") == 131072
    assert parse_time("50ms") == 50_000
    assert parse_time("1s") == 1_000_000
    assert parse_time("250") == 250
    with pytest.raises(ValueError, match="unknown unit"):
        parse_size("3 parsecs")


def test_kernel_numbers_match_what_tc_gives_the_kernel() -> None:
    # read back from the kernel after `tc qdisc add ... tbf rate 10mbit burst 32kbit
    # latency 50ms` and `tbf rate 7mbit burst 10000 latency 33ms`
    assert ifb(shaping=TBF).shaping.qdisc_params() == {  # type: ignore[union-attr]
        "rate": 1_250_000, "buffer": 51200, "limit": 66596}
    odd = {"qdisc": "tbf", "rate": "7mbit", "burst": "10000", "latency": "33ms"}
    assert ifb(shaping=odd).shaping.qdisc_params() == {  # type: ignore[union-attr]
        "rate": 875_000, "buffer": 178571, "limit": 38875}
    # `tc class add ... htb rate 10mbit ceil 20mbit` (default bursts)
    htb = ifb(shaping={"qdisc": "htb", "rate": "10mbit", "ceil": "20mbit"}).shaping
    assert htb.class_params() == {"rate": 1_250_000, "ceil": 2_500_000,  # type: ignore
                                  "buffer": 20000, "cbuffer": 10000}
    assert xmittime(1_250_000, 1600) == 20000
    assert format_rate(1_250_000) == "10mbit" and format_rate(1000) == "8kbit"


# ---- validation with positions ---------------------------------------------------------------
def test_unknown_redirect_source_is_an_error_at_its_position() -> None:
    found = issues_of("""
        - name: ifb0
          kind: ifb
          netns: nb
          redirect_from: [vb, nope]
        """)
    assert len(found) == 1
    assert found[0].startswith("s.yaml:12:25: interfaces[1].redirect_from[1]: redirect source "
                               "'nope' is not an interface of this topology in nb")


def test_source_in_another_namespace_does_not_resolve() -> None:
    found = issues_of("""
        - name: ifb0
          kind: ifb
          redirect_from: [vb]
        """)
    assert "redirect source 'vb' is not an interface of this topology in the namespace vnet " \
           "runs in" in found[0]


def test_bad_rate_is_reported_at_the_rate() -> None:
    found = issues_of("""
        - name: ifb0
          kind: ifb
          netns: nb
          shaping: {qdisc: tbf, rate: 10 furlongs, burst: 32kbit, latency: 50ms}
        """)
    assert found == ["s.yaml:12:33: interfaces[1].shaping.rate: rate '10 furlongs' has an "
                     "unknown unit 'furlongs'; tc knows bit, kbit, mbit, gbit, tbit, kibit, "
                     "mibit, gibit, tibit, bps, kbps, mbps, gbps, tbps, kibps, mibps, gibps, "
                     "tibps"]


@pytest.mark.parametrize("shaping, message", [
    ("{qdisc: tbf, rate: 10mbit}", "tbf needs burst"),
    ("{qdisc: tbf, rate: 10mbit, burst: 4kb}", "exactly one of latency"),
    ("{qdisc: htb, ceil: 10mbit}", "htb needs a rate"),
    ("{qdisc: htb, rate: 10mbit, ceil: 5mbit}", "ceil 5mbit is below rate 10mbit"),
    ("{qdisc: sfq, rate: 10mbit}", "rate do(es) not apply to sfq"),
    ("{qdisc: fq, rate: 10mbit}", "'tbf', 'htb' or 'sfq'"),
])
def test_shaping_fits_its_qdisc(shaping: str, message: str) -> None:
    found = issues_of(f"""
        - name: ifb0
          kind: ifb
          netns: nb
          shaping: {shaping}
        """)
    assert len(found) == 1 and message in found[0], found
    assert found[0].startswith("s.yaml:12:")


def test_one_source_redirected_to_two_ifbs_is_refused() -> None:
    found = issues_of("""
        - {name: ifb0, kind: ifb, netns: nb, redirect_from: [vb]}
        - {name: ifb1, kind: ifb, netns: nb, redirect_from: [vb]}
        """)
    assert len(found) == 1 and "already redirected to IFB 'ifb0'" in found[0]


# ---- planning ----------------------------------------------------------------------------------
def _topo(shaping: dict | None = None) -> vnet.Topology:
    body = "- {name: ifb0, kind: ifb, netns: nb, redirect_from: [vb]}\n"
    topo = load(body)
    if shaping is not None:
        topo.interfaces[1] = ifb(redirect_from=["vb"], shaping=shaping)
        topo.interfaces[1]._path = "interfaces[1]"
    return topo


def _observed(topo: vnet.Topology, root: TcState | None, redirect: bool = True,
              classes: list[TcState] | None = None) -> Observed:
    from vnet import ownership
    links = {}
    for i, name in enumerate(["lo", "va", "vb", "ifb0"], start=1):
        kind = {"va": "veth", "vb": "veth", "ifb0": "ifb"}.get(name)
        alt = [ownership.netns_marker(topo.name)] if name == "lo" else \
            [ownership.link_marker(topo.name, name)]
        links[name] = LinkState(index=i, name=name, kind=kind, up=True, altnames=alt)
    st = NetnsState("nb", links=links)
    if root is not None:
        st.qdiscs.append(root)
    st.tc_classes = classes or []
    if redirect:
        st.qdiscs.append(TcState("vb", "ingress", 0xFFFF0000, 0xFFFFFFF1))
        st.tc_filters.append(TcFilterState("vb", 0xFFFF0000, "u32", 49152, 3, True, 4, "ifb0"))
    return Observed(namespaces={"nb": st, None: NetnsState(None)}, existing_netns={"nb"})


def _tbf(rate: int = 1_250_000) -> TcState:
    return TcState("ifb0", "tbf", 0x80010000, ROOT,
                   {"rate": rate, "buffer": 51200, "limit": 66596})


def test_fresh_ifb_plans_its_qdisc_and_the_redirect() -> None:
    topo = _topo(TBF)
    plan = plan_changes(topo, Observed(namespaces={None: NetnsState(None)}))
    extras = [a for a in plan.actions if "qdisc" in a.subject or "redirect" in a.subject]
    assert [a.subject for a in extras] == ["qdisc tbf on nb/ifb0",
                                           "ingress redirect nb/vb -> ifb0"]
    assert [r.op for r in extras[0].do] == ["tc.qdisc_add"]
    assert extras[0].do[0].args["params"] == {"rate": 1_250_000, "buffer": 51200,
                                              "limit": 66596}
    assert [r.op for r in extras[1].do] == ["tc.qdisc_add", "tc.redirect_add"]
    assert extras[1].do[1].args == {"ifname": "vb", "to": "ifb0"}
    assert [r.op for r in extras[1].undo] == ["tc.qdisc_del"]


def test_matching_kernel_plans_nothing() -> None:
    topo = _topo(TBF)
    assert plan_changes(topo, _observed(topo, _tbf())).actions == []


def test_changed_rate_plans_a_replace_with_its_undo() -> None:
    topo = _topo(TBF)
    plan = plan_changes(topo, _observed(topo, _tbf(rate=625_000)))
    assert len(plan.actions) == 1
    action = plan.actions[0]
    assert action.verb == "change" and action.diff == {"rate": ("5mbit", "10mbit")}
    assert action.do[0].op == "tc.qdisc_replace"
    assert action.undo[0].args["params"]["rate"] == 625_000


def test_htb_plans_qdisc_and_class_then_a_class_change() -> None:
    htb = {"qdisc": "htb", "rate": "10mbit", "ceil": "20mbit"}
    topo = _topo(htb)
    plan = plan_changes(topo, _observed(topo, None))
    ops = [r.op for a in plan.actions for r in a.do]
    assert ops == ["tc.qdisc_add", "tc.class_add"]
    root = TcState("ifb0", "htb", 0x10000, ROOT, {"defcls": 1})
    cls = TcState("ifb0", "htb", 0x10001, 0x10000,
                  {"rate": 1_250_000, "ceil": 2_500_000, "buffer": 20000, "cbuffer": 10000})
    assert plan_changes(topo, _observed(topo, root, classes=[cls])).actions == []
    slower = TcState("ifb0", "htb", 0x10001, 0x10000, {**cls.params, "ceil": 1_250_000,
                                                        "cbuffer": 20000})
    plan = plan_changes(topo, _observed(topo, root, classes=[slower]))
    assert [a.do[0].op for a in plan.actions] == ["tc.class_replace"]
    assert plan.actions[0].diff["ceil"] == ("10mbit", "20mbit")


def test_missing_redirect_is_added_to_an_existing_ingress_qdisc() -> None:
    topo = _topo(TBF)
    obs = _observed(topo, _tbf())
    obs.namespaces["nb"].tc_filters.clear()
    plan = plan_changes(topo, obs)
    assert [r.op for r in plan.actions[0].do] == ["tc.redirect_add"]
    assert [r.op for r in plan.actions[0].undo] == ["tc.redirect_del"]


def test_dropped_source_and_dropped_shaping_are_removed() -> None:
    topo = vnet.load_text(HEAD + "  - {name: ifb0, kind: ifb, netns: nb}\n", "s.yaml")
    plan = plan_changes(topo, _observed(topo, _tbf()))
    assert [(a.verb, a.subject) for a in plan.actions] == [
        ("remove", "qdisc tbf on nb/ifb0"), ("remove", "ingress redirect nb/vb -> ifb0")]
    assert plan.actions[1].do[0].op == "tc.qdisc_del"


def test_teardown_puts_back_an_external_source() -> None:
    # the ifb in the namespace vnet runs in, redirecting from an interface it does not own
    topo = _topo(TBF)
    obs = _observed(topo, _tbf())
    st = obs.namespaces.pop("nb")
    st.name = None
    st.links["vb"].altnames = []
    obs.namespaces = {None: st}
    obs.existing_netns = set()
    plan = plan_teardown("shape", obs)
    subjects = [a.subject for a in plan.actions]
    assert subjects.index("ingress redirect vb -> ifb0") < subjects.index("link ifb0 (ifb)")
    undo_first = plan.actions[subjects.index("ingress redirect vb -> ifb0")]
    assert undo_first.do[0].op == "tc.qdisc_del" and undo_first.do[0].args["parent"] == "ingress"


# ---- rendering ------------------------------------------------------------------------------
def test_ip_and_tc_commands() -> None:
    assert ifb(redirect_from=["vb"], shaping=TBF).ip_commands() == [
        ["ip", "link", "add", "name", "ifb0", "netns", "nb", "type", "ifb"],
        ["tc", "-n", "nb", "qdisc", "add", "dev", "ifb0", "root", "tbf", "rate", "10mbit",
         "burst", "32kbit", "latency", "50ms"],
        ["tc", "-n", "nb", "qdisc", "add", "dev", "vb", "handle", "ffff:", "ingress"],
        ["tc", "-n", "nb", "filter", "add", "dev", "vb", "parent", "ffff:", "protocol", "all",
         "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev",
         "ifb0"]]
    htb = Ifb.model_validate({"kind": "ifb", "name": "ifb1", "shaping": {
        "qdisc": "htb", "rate": "10mbit", "ceil": "20mbit"}})
    assert htb.ip_commands()[1:] == [
        ["tc", "qdisc", "add", "dev", "ifb1", "root", "handle", "1:", "htb", "default", "1"],
        ["tc", "class", "add", "dev", "ifb1", "parent", "1:", "classid", "1:1", "htb",
         "rate", "10mbit", "ceil", "20mbit"]]
