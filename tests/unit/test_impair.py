"""impair without a kernel: netem's units and ranges, the kernel's numbers (checked against
pyroute2's netem encoder), validation with positions, planning in place, externals and their
recorded qdisc, ingress through an IFB, the exports."""

from __future__ import annotations

import struct
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

import vnet
from vnet import ownership
from vnet.door.netem import decode_netem, encode_netem
from vnet.errors import ConflictError, Position, TopologyError
from vnet.features.impair import MAX_PERCENT, Impair, describe, impair_from_params
from vnet.observe import LinkState, NetnsState, Observed, TcState
from vnet.plan import plan_changes, plan_teardown
from vnet.record import Record

ROOT = 0xFFFFFFFF
HEAD = """\
name: imp
namespaces: [na, nb]
interfaces:
"""


def load(body: str) -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "), "i.yaml")


def issues_of(body: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        load(body)
    for issue in info.value.issues:
        assert isinstance(issue.where, Position) and issue.where.file == "i.yaml", issue
    return [str(i) for i in info.value.issues]


def params(**fields: object) -> dict:
    return Impair.model_validate(fields).netem_params()


VETH = """\
- name: va
  kind: veth
  netns: na
  impair: {IMPAIR}
  peer: {name: vb, netns: nb}
"""


# ---- units and ranges, as tc reads them ---------------------------------------------------
def test_kernel_numbers_are_what_tc_sends() -> None:
    p = params(delay="40ms", jitter="5ms", correlation="25%", loss="2% 10%", duplicate=1,
               corrupt="0.1%", reorder="25% 50%", rate="10mbit", limit=5000)
    assert p["latency"] == 40_000_000 and p["jitter"] == 5_000_000
    assert p["delay_corr"] == round(0.25 * MAX_PERCENT)
    assert (p["loss"], p["loss_corr"]) == (round(0.02 * MAX_PERCENT), round(0.1 * MAX_PERCENT))
    assert p["duplicate"] == round(0.01 * MAX_PERCENT)  # a bare number is a percentage
    assert p["corrupt"] == round(0.001 * MAX_PERCENT)
    assert (p["reorder"], p["gap"]) == (round(0.25 * MAX_PERCENT), 1)
    assert p["rate"] == 1_250_000 and p["limit"] == 5000
    assert params(delay=500)["latency"] == 500_000  # a bare time is µs, as tc reads it
    assert params(delay="1s")["limit"] == 1000  # netem's default queue


def test_loss_models_take_tcs_defaults_and_its_1_minus_h() -> None:
    ge = params(loss_model="gemodel 1% 10% 70% 0.1%")["ge"]
    assert ge == [round(0.01 * MAX_PERCENT), round(0.1 * MAX_PERCENT),
                  MAX_PERCENT - round(0.7 * MAX_PERCENT), round(0.001 * MAX_PERCENT)]
    # tc's defaults: r 100%, 1-h 100% (h 0), 1-k 0
    assert params(loss_model="gemodel 5%")["ge"] == [round(0.05 * MAX_PERCENT), MAX_PERCENT, 0,
                                                     0]
    gi = params(loss_model="state 2%")["gi"]  # p13 p31 p32 p14 p23
    assert gi == [round(0.02 * MAX_PERCENT), round(0.98 * MAX_PERCENT), 0, 0, MAX_PERCENT]


def test_ecn_gap_and_the_rates_overheads_are_what_tc_sends() -> None:
    fields = dict(delay="10ms", reorder="25%", gap=5, loss="2%", ecn=True, rate="10mbit",
                  packet_overhead=-4, cell_size=48, cell_overhead=5)
    p = params(**fields)
    assert (p["gap"], p["ecn"]) == (5, 1)
    assert (p["packet_overhead"], p["cell_size"], p["cell_overhead"]) == (-4, 48, 5)
    assert params(delay="10ms", reorder="25%")["gap"] == 1  # tc's default with reorder
    assert params(loss="2%", ecn=False)["ecn"] == 0
    assert Impair.model_validate(fields).tc_args() == [
        "delay", "10ms", "loss", "2%", "ecn", "reorder", "25%", "gap", "5",
        "rate", "10mbit", "-4", "48", "5"]
    # positional in tc: a cell size alone brings a zero packet overhead before it
    assert Impair.model_validate({"rate": "1mbit", "cell_size": 53}).tc_args() == [
        "rate", "1mbit", "0", "53"]
    # and back in the file's words, through the kernel's bytes
    words = impair_from_params(decode_netem(encode_netem(p)))
    assert {k: words[k] for k in ("gap", "ecn", "packet_overhead", "cell_size",
                                  "cell_overhead")} == {"gap": 5, "ecn": True,
                                                        "packet_overhead": -4, "cell_size": 48,
                                                        "cell_overhead": 5}
    assert Impair.model_validate(words).netem_params() == p


def test_slot_reads_as_tc_does() -> None:
    assert params(slot="800us 1ms packets 10")["slot"] == [800_000, 1_000_000, 10, 0]
    assert params(slot="2ms bytes 64000")["slot"] == [2_000_000, 2_000_000, 0, 64000]


@pytest.mark.parametrize("fields, message", [
    ({"loss": "120%"}, "outside 0%-100%"),
    ({"loss": "-1%"}, "is not a percentage"),
    ({"delay": "40 parsecs"}, "unknown unit"),
    ({"jitter": "5ms"}, "give a delay too"),
    ({"delay": "10ms", "correlation": "25%"}, "needs jitter"),
    ({"reorder": "5%"}, "needs a delay"),
    ({"loss": "1%", "loss_model": "gemodel 1%"}, "keep one"),
    ({"loss_model": "bursty 3%"}, "is not 'gemodel"),
    ({"loss_model": "gemodel 1% 2% 3% 4% 5%"}, "takes 1 to 4"),
    ({"slot": "2ms 1ms"}, "below the smallest"),
    ({"rate": "fast"}, "not a number with a unit"),
    ({"limit": 0}, "greater than or equal to 1"),
    ({"direction": "ingress"}, "at least one of"),
    ({"lag": "1ms"}, "Extra inputs"),
    ({"delay": "10ms", "gap": 5}, r"needs reorder \(e.g. delay: 10ms, reorder: 25%, gap: 5\)"),
    ({"delay": "10ms", "reorder": "5%", "gap": 0}, "greater than or equal to 1"),
    ({"delay": "10ms", "ecn": True}, r"needs loss or loss_model \(e.g. loss: 2%, ecn: true\)"),
    ({"delay": "10ms", "packet_overhead": 20}, "give a rate too"),
    ({"delay": "10ms", "cell_size": 48}, "give a rate too"),
    ({"rate": "1mbit", "cell_overhead": 5}, r"give cell_size too \(e.g. cell_size: 48"),
    ({"rate": "1mbit", "packet_overhead": 2**31}, "less than or equal to 2147483647"),
    ({"rate": "1mbit", "cell_size": -1}, "greater than or equal to 0"),
])
def test_bad_values_say_what_tc_accepts(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Impair.model_validate(fields)


def test_loss_above_100_is_an_error_at_its_position() -> None:
    [issue] = issues_of(VETH.replace("{IMPAIR}", "{loss: 120%}"))
    assert issue.startswith("i.yaml:7:")
    assert "interfaces[0].impair.loss" in issue and "between 0% and 100%" in issue


def test_delay_on_a_vcan_is_an_error_naming_the_kind() -> None:
    [issue] = issues_of("""\
    - name: can0
      kind: vcan
      impair: {delay: 10ms}
    """)
    assert "interfaces[0].impair" in issue and "a vcan cannot be impaired" in issue
    assert "remove impair from this vcan" in issue


def test_an_ifb_shaped_by_sfq_cannot_impair() -> None:
    [issue] = issues_of("""\
    - name: ifb0
      kind: ifb
      shaping: {qdisc: sfq}
      impair: {delay: 10ms}
    """)
    assert "sfq has no class to hang netem under" in issue and "tbf or htb" in issue


@pytest.mark.parametrize("shaping", [
    "{qdisc: tbf, rate: 10mbit, burst: 32kbit, latency: 50ms}",
    "{qdisc: htb, rate: 10mbit}"])
def test_netem_hangs_under_an_ifbs_shaping(shaping: str) -> None:
    from vnet.export import Options, export
    topo = load(f"""\
    - name: ifb0
      kind: ifb
      netns: na
      shaping: {shaping}
      impair: {{delay: 10ms}}
    """)
    plan = plan_changes(topo, Observed(namespaces={None: NetnsState(None)}))
    root = next(a for a in plan.actions if a.subject.startswith(("qdisc", "netem")))
    assert root.subject.startswith(("qdisc tbf", "qdisc htb"))
    assert root.do[0].args["handle"] == 0x10000  # 1:, so that its class 1:1 is known
    [netem] = [a for a in plan.actions if a.subject == "netem on na/ifb0"]
    assert netem.do[0].args["parent"] == 0x10001 and netem.do[0].args["handle"] == 0x100000
    assert netem.undo[0].args == {"ifname": "ifb0", "parent": 0x10001}
    assert [a.subject for a in plan.actions].index("netem on na/ifb0") > \
        [a.subject for a in plan.actions].index(root.subject)
    text = export(topo, "ip", Options()).files["imp.sh"]
    assert "tc -n na qdisc add dev ifb0 parent 1:1 handle 10: netem delay 10ms" in text
    # live as planned: nothing to do; a new delay changes the child in place
    tc = [TcState("ifb0", "netem", 0x100000, 0x10001, params(delay="10ms"))]
    st_ = NetnsState("na", links={
        "lo": LinkState(index=1, name="lo", kind=None, up=True,
                        altnames=[ownership.netns_marker("imp")]),
        "ifb0": LinkState(index=2, name="ifb0", kind="ifb", up=True,
                          altnames=[ownership.link_marker("imp", "ifb0")])})
    st_.qdiscs = tc
    obs = Observed(namespaces={None: NetnsState(None), "na": st_}, existing_netns={"na"})
    shaped = [a for a in plan_changes(topo, obs).actions if a.subject.startswith("netem")]
    assert shaped == []


# ---- the kernel's bytes --------------------------------------------------------------------
def test_encoding_matches_pyroute2s_netem_encoder_where_it_has_the_fields() -> None:
    from pyroute2.netlink.rtnl.tcmsg.sched_netem import options
    p = params(delay="40ms", jitter="5ms", correlation="25%", loss="2% 10%",
               duplicate="1% 5%", corrupt="0.5% 1%", reorder="25% 50%", gap=5, rate="10mbit",
               packet_overhead=-20, cell_size=48, cell_overhead=5)
    ours = encode_netem(p)
    theirs = options()
    theirs.setvalue({
        "delay": int(40_000 * 1000 / 64), "limit": 1000, "loss": p["loss"], "gap": 5,
        "duplicate": p["duplicate"], "jitter": int(5_000 * 1000 / 64),
        "attrs": [["TCA_NETEM_CORR", {"delay_corr": p["delay_corr"],
                                      "loss_corr": p["loss_corr"],
                                      "dup_corr": p["dup_corr"]}],
                  ["TCA_NETEM_REORDER", {"prob_reorder": p["reorder"],
                                         "corr_reorder": p["reorder_corr"]}],
                  ["TCA_NETEM_CORRUPT", {"prob_corrupt": p["corrupt"],
                                         "corr_corrupt": p["corrupt_corr"]}],
                  ["TCA_NETEM_RATE", {"rate": 1_250_000, "packet_overhead": -20,
                                      "cell_size": 48, "cell_overhead": 5}]]})
    theirs.encode()
    payload = bytes(theirs.data[4:theirs.length])  # without TCA_OPTIONS's own header
    # the struct and the four attributes pyroute2 knows, byte for byte, in tc's order
    assert ours[:len(payload)] == payload
    # then what pyroute2 lacks: LATENCY64 (10), JITTER64 (11) in ns, SLOT (12)
    rest = ours[len(payload):]
    assert struct.unpack_from("=HHq", rest, 0) == (12, 10, 40_000_000)
    assert struct.unpack_from("=HHq", rest, 12) == (12, 11, 5_000_000)
    assert struct.unpack_from("=HH", rest, 24) == (44, 12)


_percent = st.integers(0, MAX_PERCENT)


@given(latency=st.integers(0, 2**40), jitter=st.integers(0, 2**33), loss=_percent,
       corr=_percent, rate=st.integers(0, 2**36), limit=st.integers(1, 2**32 - 1),
       model=st.sampled_from([None, "ge", "gi"]), slot=st.booleans())
def test_decoding_gives_back_what_was_encoded(latency: int, jitter: int, loss: int, corr: int,
                                              rate: int, limit: int, model: str | None,
                                              slot: bool) -> None:
    p = {"limit": limit, "latency": latency, "jitter": jitter, "delay_corr": corr,
         "loss": 0 if model else loss, "loss_corr": corr, "duplicate": loss, "dup_corr": 0,
         "corrupt": corr, "corrupt_corr": loss, "reorder": loss, "reorder_corr": corr,
         "gap": 1 if loss else 0, "rate": rate, "ecn": int(slot),
         "packet_overhead": -corr // 2, "cell_size": loss, "cell_overhead": corr // 2,
         "ge": [loss, corr, 0, loss] if model == "ge" else None,
         "gi": [loss, corr, 0, 1, loss] if model == "gi" else None,
         "slot": [1000, 2000, 5, 0] if slot else None}
    assert decode_netem(encode_netem(p)) == p


def test_a_netem_reads_back_in_the_files_words() -> None:
    p = params(delay="40ms", jitter="5ms", loss="2% 25%", rate="10mbit",
               loss_model=None, slot="800us 1ms packets 10")
    assert impair_from_params(p) == {"delay": "40ms", "jitter": "5ms", "loss": "2% 25%",
                                     "rate": "10mbit", "slot": "800us 1ms packets 10"}
    assert describe(params(loss_model="gemodel 1% 10% 70% 0.1%")) == \
        "loss_model gemodel 1% 10% 70% 0.1%"


# ---- planning ----------------------------------------------------------------------------
def _observed(topo: vnet.Topology, roots: dict[str, TcState], owned: bool = True) -> Observed:
    spaces = {None: NetnsState(None)}
    for i, (ns, name) in enumerate([("na", "va"), ("nb", "vb")], start=2):
        alt = [ownership.link_marker(topo.name, name)] if owned else []
        links = {"lo": LinkState(index=1, name="lo", kind=None, up=True,
                                 altnames=[ownership.netns_marker(topo.name)]),
                 name: LinkState(index=i, name=name, kind="veth", up=True, altnames=alt)}
        spaces[ns] = NetnsState(ns, links=links)
        if name in roots:
            spaces[ns].qdiscs.append(roots[name])
    return Observed(namespaces=spaces, existing_netns={"na", "nb"})


def _netem(ifname: str, **fields: object) -> TcState:
    return TcState(ifname, "netem", 0x80010000, ROOT, params(**fields))


def test_fresh_pair_gets_netem_on_both_ends() -> None:
    topo = load(VETH.replace("{IMPAIR}", "{delay: 40ms, loss: 2%}"))
    plan = plan_changes(topo, Observed(namespaces={None: NetnsState(None)}))
    netem = [a for a in plan.actions if a.subject.startswith("netem")]
    assert [a.subject for a in netem] == ["netem on na/va", "netem on nb/vb"]
    assert [r.op for r in netem[0].do] == ["tc.netem_set"]
    assert netem[0].do[0].args["params"] == params(delay="40ms", loss="2%")
    assert netem[0].undo[0].op == "tc.qdisc_del"


def test_a_peer_may_have_its_own_impairment() -> None:
    topo = load(VETH.replace("{IMPAIR}", "{delay: 40ms}").replace(
        "netns: nb}", "netns: nb, impair: {loss: 1%}}"))
    va, vb = topo.interfaces[0].expand()
    assert va.impair.delay == "40ms" and vb.impair.loss == "1%" and vb.impair.delay is None


def test_matching_kernel_plans_nothing() -> None:
    topo = load(VETH.replace("{IMPAIR}", "{delay: 40ms, loss: 2%}"))
    live = {n: _netem(n, delay="40ms", loss="2%") for n in ("va", "vb")}
    assert plan_changes(topo, _observed(topo, live)).actions == []


def test_a_changed_value_is_changed_in_place_with_its_undo() -> None:
    topo = load(VETH.replace("{IMPAIR}", "{delay: 80ms, loss: 2%}"))
    live = {n: _netem(n, delay="40ms", loss="2%") for n in ("va", "vb")}
    plan = plan_changes(topo, _observed(topo, live))
    assert [a.subject for a in plan.actions] == ["netem on na/va", "netem on nb/vb"]
    action = plan.actions[0]
    assert action.verb == "change" and action.diff == {"delay": ("40ms", "80ms")}
    assert [(r.op, r.args["how"]) for r in action.do] == [("tc.netem_set", "change")]
    assert action.undo[0].args["params"] == live["va"].params
    assert not any(r.op in ("tc.qdisc_del", "link.del") for a in plan.actions for r in a.do)


def test_netem_dropped_from_the_file_is_removed() -> None:
    topo = load(VETH.replace("  impair: {IMPAIR}\n", ""))
    live = {"va": _netem("va", delay="40ms")}
    [action] = plan_changes(topo, _observed(topo, live)).actions
    assert action.verb == "remove" and action.do[0].op == "tc.qdisc_del"
    assert action.undo[0].op == "tc.netem_set"


EXTERNAL = """\
- {name: va, netns: na, external: true, impair: {delay: 10ms}REPLACE}
"""


def _external(root: TcState | None, replace: bool = False) -> tuple[vnet.Topology, Observed]:
    topo = load(EXTERNAL.replace("REPLACE", ", replace_qdisc: true" if replace else ""))
    return topo, _observed(topo, {"va": root} if root else {}, owned=False)


TBF = TcState("va", "tbf", 0x80020000, ROOT, {"rate": 125000, "buffer": 1000, "limit": 3000})


def test_an_externals_qdisc_is_not_replaced_without_permission() -> None:
    topo, obs = _external(TBF)
    with pytest.raises(ConflictError) as info:
        plan_changes(topo, obs)
    assert "tbf root qdisc vnet did not make" in str(info.value)
    assert "replace_qdisc: true" in str(info.value)


def test_with_permission_the_old_qdisc_is_recorded_and_put_back() -> None:
    topo, obs = _external(TBF, replace=True)
    plan = plan_changes(topo, obs)
    [action] = [a for a in plan.actions if a.subject == "netem on na/va"]
    assert action.do[0].args["how"] == "replace"
    assert action.undo[0].op == "tc.qdisc_replace" and action.undo[0].args["kind"] == "tbf"
    assert plan.record.impairs == {"na|va": {"kind": "tbf", "params": TBF.params}}
    # destroy: the tbf comes back
    record = Record("imp", impairs=plan.record.impairs)
    _, after = _external(_netem("va", delay="10ms"))
    teardown = plan_teardown("imp", after, record)
    [back] = [a for a in teardown.actions if a.subject == "netem on na/va"]
    assert back.verb == "remove" and back.do[0].op == "tc.qdisc_replace"
    assert back.do[0].args["params"] == TBF.params


def test_an_external_with_the_kernels_default_qdisc_needs_no_permission() -> None:
    topo, obs = _external(TcState("va", "noqueue", 0, ROOT))
    plan = plan_changes(topo, obs)
    assert plan.record.impairs == {"na|va": {}}
    record = Record("imp", impairs={"na|va": {}})
    _, after = _external(_netem("va", delay="10ms"))
    [back] = [a for a in plan_teardown("imp", after, record).actions
              if a.subject.startswith("netem")]
    assert back.do[0].op == "tc.qdisc_del"


def test_plan_after_vnet_impair_shows_the_drift_back_to_the_file() -> None:
    # `vnet impair` put netem on va, which the file leaves unimpaired: the record says so
    topo = load(VETH.replace("  impair: {IMPAIR}\n", ""))
    live = {"va": _netem("va", delay="100ms")}
    plan = plan_changes(topo, _observed(topo, live), Record("imp", impairs={"na|va": {}}))
    [action] = plan.actions
    assert action.subject == "netem on na/va" and action.verb == "remove"
    assert plan.record.impairs == {}


# ---- ingress, through an IFB ---------------------------------------------------------------
def test_ingress_is_impaired_on_an_ifb_vnet_makes() -> None:
    topo = load(VETH.replace("{IMPAIR}", "{delay: 40ms, direction: ingress}"))
    ends = {e.key: e for e in topo.endpoints()}
    ifb = ends[("na", "ifbva")]
    assert ifb.kind == "ifb" and ifb.redirect_from == ["va"]
    assert ifb.impair.direction == "egress" and ifb.impair.delay == "40ms"
    plan = plan_changes(topo, Observed(namespaces={None: NetnsState(None)}))
    subjects = [a.subject for a in plan.actions]
    assert "ingress redirect na/va -> ifbva" in subjects
    assert "netem on na/ifbva" in subjects
    assert "netem on na/va" not in subjects  # ingress only: va's own egress is left alone


def test_both_directions_impair_the_interface_and_its_ifb() -> None:
    topo = load(VETH.replace("{IMPAIR}", "{loss: 1%, direction: both}"))
    plan = plan_changes(topo, Observed(namespaces={None: NetnsState(None)}))
    subjects = [a.subject for a in plan.actions]
    for where in ("na/va", "na/ifbva", "nb/vb", "nb/ifbvb"):
        assert f"netem on {where}" in subjects


# ---- exports ----------------------------------------------------------------------------
def test_ip_export_writes_the_tc_netem_lines() -> None:
    from vnet.export import Options, export
    topo = load(VETH.replace("{IMPAIR}", "{delay: 40ms, jitter: 5ms, correlation: 25%, "
                                         "loss: 2%, rate: 10mbit}"))
    text = export(topo, "ip", Options()).files["imp.sh"]
    assert "tc -n na qdisc add dev va root netem delay 40ms 5ms 25% loss 2% rate 10mbit" in text
    assert "tc -n nb qdisc add dev vb root netem delay 40ms 5ms 25% loss 2% rate 10mbit" in text


def test_networkd_has_a_network_emulator_and_netplan_none() -> None:
    from vnet.export import Options, export
    topo = load("""\
    - name: va
      kind: veth
      impair: {delay: 40ms, loss: 2%, rate: 10mbit}
      peer: {name: vb}
    """)
    out = export(topo, "networkd", Options())
    network = next(t for n, t in out.files.items() if n.endswith("va.network"))
    assert "[NetworkEmulator]\nDelaySec=40ms\nLossRate=2%" in network
    assert [o.path for o in out.left_out if ".impair" in o.path] == [
        "interfaces[0].impair.rate", "interfaces[0].peer.impair.rate"]
    out = export(topo, "netplan", Options())
    assert "interfaces[0].impair" in [o.path for o in out.left_out]


# ---- vnet show --------------------------------------------------------------------------------
def test_show_lists_each_impaired_interface_in_the_files_words() -> None:
    from vnet import api
    from vnet.api import _row
    from vnet.render.show_text import topology_lines
    st_ = NetnsState("na", links={"va": LinkState(index=2, name="va", kind="veth", up=True)})
    st_.qdiscs.append(_netem("va", delay="40ms", loss="2%"))
    row = _row("na", st_, st_.links["va"], "imp", True)
    assert row.extra == {"impair": {"delay": "40ms", "loss": "2%"}}
    shown = api.Shown("imp", None, ["na"], [row], [])
    text = "\n".join(topology_lines(shown, 100))
    assert "IMPAIRED (netem)" in text and "delay 40ms loss 2%" in text
    assert "impair\nna\tva\tdelay 40ms loss 2%" in "\n".join(topology_lines(shown, None))
    assert shown.as_dict()["interfaces"][0]["extra"]["impair"]["delay"] == "40ms"


# ---- vnet capture ---------------------------------------------------------------------------
def test_capture_writes_an_impairment_back_and_an_unimpaired_peer_as_null() -> None:
    from vnet import api
    from vnet.capture import capture_owned, to_yaml
    from vnet.door.fake import FakeKernel
    kernel = FakeKernel()
    api.apply(load(VETH.replace("  impair: {IMPAIR}\n", "")), backend=kernel)
    # what `vnet impair` leaves: netem on va alone (the fake models no tc: put it there)
    kernel._ns("na", "").qdiscs.append(_netem("va", delay="40ms", loss="2% 25%"))
    data = capture_owned("imp", kernel)
    [entry] = data["interfaces"]
    assert entry["impair"] == {"delay": "40ms", "loss": "2% 25%"}
    assert entry["peer"]["impair"] is None
    again = vnet.load_text(to_yaml(data))
    va, vb = again.interfaces[0].expand()
    assert va.impair.netem_params() == params(delay="40ms", loss="2% 25%")
    assert vb.impair is None


# ---- vnet impair: what it refuses before reaching the kernel ------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--delay", "40ms", "--clear"], "give it alone"),
    ([], "say what to change"),
    (["--delay", "40ms", "--gap", "5"], "gap says among how many packets"),
    (["--delay", "40ms", "--ecn"], "ecn marks the packets loss would drop"),
    (["--rate", "1mbit", "--cell-overhead", "-3"], "give cell_size too"),
    (["--delay", "4ms", "--jitter", "1ms", "--distribution", "x/y"], "distribution 'x/y'"),
])
def test_vnet_impair_says_what_it_needs(capsys: pytest.CaptureFixture[str], argv: list[str],
                                        message: str) -> None:
    from clirun import run
    code, _, err = run(capsys, "impair", "imp", "na/va", *argv)
    assert code == 1 and message in err


def test_api_impair_refuses_bad_values_before_the_kernel() -> None:
    from vnet import api
    from vnet.door.fake import FakeKernel
    with pytest.raises(TopologyError, match="outside 0%-100%"):
        api.impair("imp", "na/va", {"loss": "120%"}, backend=FakeKernel())
    with pytest.raises(TopologyError, match="direction"):
        api.impair("imp", "na/va", {"delay": "1ms", "direction": "inwards"},
                   backend=FakeKernel())
