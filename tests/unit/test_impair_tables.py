"""netem's distribution tables without a kernel: found where tc finds them (TC_LIB_DIR, or
iproute2's directories), validated with the names there are, sent as tc sends them
(TCA_NETEM_DELAY_DIST), and planned from the record, since the kernel never reports them."""

from __future__ import annotations

import struct
import textwrap
from pathlib import Path

import pytest

import vnet
from vnet import ownership
from vnet.door.netem import TCA_NETEM_DELAY_DIST, _attrs, encode_netem
from vnet.errors import TopologyError
from vnet.features.impair import Impair, describe
from vnet.features.netem_tables import available_tables, load_table
from vnet.observe import LinkState, NetnsState, Observed, TcState
from vnet.plan import plan_changes
from vnet.record import Record

ROOT = 0xFFFFFFFF
TABLE = "# a small table\n -3 -2 -1\n 0 1 2\n# end\n"


@pytest.fixture
def tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tc library directory holding `small` and `wide` (tc reads only TC_LIB_DIR when set)."""
    (tmp_path / "small.dist").write_text(TABLE)
    (tmp_path / "wide.dist").write_text(" ".join(str(i) for i in range(-100, 100)) + "\n")
    (tmp_path / "q_atm.so").write_text("not a table")
    monkeypatch.setenv("TC_LIB_DIR", str(tmp_path))
    return tmp_path


def impair(**fields: object) -> Impair:
    return Impair.model_validate({"delay": "40ms", "jitter": "5ms", **fields})


def test_tables_are_found_where_tc_looks(tables: Path) -> None:
    assert sorted(available_tables()) == ["small", "wide"]
    assert load_table("small") == (-3, -2, -1, 0, 1, 2)


@pytest.mark.parametrize("fields, message", [
    ({"distribution": "gaussian"}, "is not a table tc has here; use one of small, wide"),
    ({"jitter": None, "distribution": "small"}, "it needs jitter (e.g. delay: 40ms, jitter: "
                                                "5ms, distribution: normal)"),
])
def test_a_bad_distribution_says_what_to_write(tables: Path, fields: dict,
                                               message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        impair(**{k: v for k, v in fields.items()})


def test_a_table_tc_could_not_send_is_refused(tables: Path) -> None:
    (tables / "big.dist").write_text("40000\n")
    with pytest.raises(ValueError, match="does not fit in 16 bits; regenerate the table"):
        impair(distribution="big")
    (tables / "empty.dist").write_text("# nothing\n")
    with pytest.raises(ValueError, match="holds 0 values; the kernel takes 1 to 16384"):
        impair(distribution="empty")


def test_no_tables_at_all_says_to_install_iproute2(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TC_LIB_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="no distribution tables were found .* install "
                                         "iproute2"):
        impair(distribution="normal")


def test_the_error_points_at_the_field_in_the_file(tables: Path) -> None:
    text = textwrap.dedent("""\
        name: imp
        interfaces:
          - name: va
            kind: veth
            impair: {delay: 40ms, jitter: 5ms, distribution: pareto}
            peer: {name: vb}
        """)
    with pytest.raises(TopologyError) as info:
        vnet.load_text(text, "i.yaml")
    [issue] = [str(i) for i in info.value.issues]
    assert issue.startswith("i.yaml:5:") and "impair.distribution" in issue
    assert "use one of small, wide" in issue


def test_the_table_goes_to_the_kernel_as_tc_sends_it(tables: Path) -> None:
    want = impair(distribution="small")
    payload = encode_netem(want.netem_params())
    # after the struct tc_netem_qopt, one TCA_NETEM_DELAY_DIST of s16 values
    attrs = _attrs(payload, 24)
    raw = attrs[TCA_NETEM_DELAY_DIST]
    assert struct.unpack(f"={len(raw) // 2}h", raw) == (-3, -2, -1, 0, 1, 2)
    assert TCA_NETEM_DELAY_DIST not in _attrs(encode_netem(impair().netem_params()), 24)
    assert want.tc_args() == ["delay", "40ms", "5ms", "distribution", "small"]
    assert describe(want.netem_params()) == "delay 40ms jitter 5ms distribution small"


def test_iproute2s_own_tables_encode_whole_when_present() -> None:
    names = available_tables()
    if "normal" not in names:
        pytest.skip("iproute2's tables are not installed here")
    values = load_table("normal")
    assert len(values) == 4096 and values[0] == -32768
    raw = _attrs(encode_netem(impair(distribution="normal").netem_params()), 24)
    assert len(raw[TCA_NETEM_DELAY_DIST]) == 2 * 4096


# ---- planning: the record knows the table ---------------------------------------------------
FILE = """\
name: imp
namespaces: [na]
interfaces:
  - {name: va, kind: veth, netns: na, impair: IMPAIR, peer: {name: vb, netns: na}}
"""


def _plan(tables: Path, file_impair: str, live: Impair | None, recorded: str | None):
    topo = vnet.load_text(FILE.replace("IMPAIR", file_impair), "i.yaml")
    links = {"lo": LinkState(index=1, name="lo", kind=None, up=True,
                             altnames=[ownership.netns_marker("imp")])}
    for i, name in enumerate(("va", "vb"), start=2):
        links[name] = LinkState(index=i, name=name, kind="veth", up=True,
                                altnames=[ownership.link_marker("imp", name)])
    st = NetnsState("na", links=links)
    if live is not None:
        # the kernel reports no table: what it reads back has none
        params = {**live.netem_params(), "distribution": None}
        st.qdiscs += [TcState(end, "netem", 0x80010000, ROOT, params) for end in ("va", "vb")]
    record = Record("imp", netem_tables={f"na|{end}": recorded for end in ("va", "vb")}
                    if recorded else {})
    obs = Observed(namespaces={None: NetnsState(None), "na": st}, existing_netns={"na"})
    # a pair-level impairment is on both ends: each is planned alike, va stands for both
    plan = plan_changes(topo, obs, record)
    assert [a.subject for a in plan.actions if a.subject.endswith("/vb")] == [
        a.subject.replace("/va", "/vb") for a in plan.actions if a.subject.endswith("/va")]
    plan.actions = [a for a in plan.actions if not a.subject.endswith("/vb")]
    return plan


def test_a_new_netem_records_its_table(tables: Path) -> None:
    plan = _plan(tables, "{delay: 40ms, jitter: 5ms, distribution: small}", None, None)
    [action] = [a for a in plan.actions if a.subject == "netem on na/va"]
    assert action.do[0].args["params"]["distribution"] == "small"
    assert plan.record is not None
    assert plan.record.netem_tables == {"na|va": "small", "na|vb": "small"}


def test_the_recorded_table_plans_nothing(tables: Path) -> None:
    live = impair(distribution="small")
    plan = _plan(tables, "{delay: 40ms, jitter: 5ms, distribution: small}", live, "small")
    assert [a.subject for a in plan.actions] == []
    assert plan.record is not None
    assert plan.record.netem_tables == {"na|va": "small", "na|vb": "small"}


def test_a_changed_table_makes_the_netem_again(tables: Path) -> None:
    live = impair(distribution="small")
    plan = _plan(tables, "{delay: 40ms, jitter: 5ms, distribution: wide}", live, "small")
    [action] = plan.actions
    assert action.verb == "replace" and "keeps its table when changed" in action.reason
    assert [(r.op, r.args.get("how")) for r in action.do] == [
        ("tc.qdisc_del", None), ("tc.netem_set", "replace")]
    assert action.diff == {"distribution": ("small", "wide")}
    # the undo makes the old netem, its table included
    assert action.undo[1].args["params"]["distribution"] == "small"
    assert plan.record is not None
    assert plan.record.netem_tables == {"na|va": "wide", "na|vb": "wide"}


def test_a_dropped_table_makes_the_netem_again(tables: Path) -> None:
    live = impair(distribution="small")
    plan = _plan(tables, "{delay: 40ms, jitter: 5ms}", live, "small")
    [action] = plan.actions
    assert action.verb == "replace" and "small -> none" in action.reason
    assert plan.record is not None and plan.record.netem_tables == {}


def test_a_table_added_is_sent_in_place(tables: Path) -> None:
    plan = _plan(tables, "{delay: 40ms, jitter: 5ms, distribution: small}", impair(), None)
    [action] = plan.actions
    assert action.verb == "change" and action.do[0].args["how"] == "change"
    assert action.diff == {"distribution": (None, "small")}
    # the kernel would keep the table through a change back: the undo makes a new netem
    assert [r.op for r in action.undo] == ["tc.qdisc_del", "tc.netem_set"]


def test_another_value_with_the_same_table_changes_in_place(tables: Path) -> None:
    live = impair(distribution="small")
    plan = _plan(tables, "{delay: 80ms, jitter: 5ms, distribution: small}", live, "small")
    [action] = plan.actions
    assert action.verb == "change" and action.diff == {"delay": ("40ms", "80ms")}
    assert action.undo[0].args["params"]["distribution"] == "small"


# ---- show and capture: the table from the record ----------------------------------------------
def test_show_names_the_recorded_table() -> None:
    from vnet.api import _row
    st = NetnsState("na", links={"va": LinkState(index=2, name="va", kind="veth", up=True)})
    live = {**Impair.model_validate({"delay": "40ms", "jitter": "5ms"}).netem_params()}
    st.qdiscs.append(TcState("va", "netem", 0x80010000, ROOT, live))
    row = _row("na", st, st.links["va"], "imp", True, {"na|va": "pareto"})
    assert row.extra["impair"] == {"delay": "40ms", "jitter": "5ms", "distribution": "pareto"}
    assert _row("na", st, st.links["va"], "imp", True).extra["impair"] == {
        "delay": "40ms", "jitter": "5ms"}


def test_capture_writes_the_recorded_table_back(tables: Path) -> None:
    from vnet import api, store
    from vnet.capture import capture_owned
    from vnet.door.fake import FakeKernel
    kernel = FakeKernel()
    api.apply(vnet.load_text(FILE.replace("impair: IMPAIR, ", ""), "i.yaml"), backend=kernel)
    live = impair(distribution="small").netem_params()
    # the fake models no tc: the netem is put there, and the record as apply leaves it
    kernel._ns("na", "").qdiscs.append(TcState("va", "netem", 0x80010000, ROOT,
                                               {**live, "distribution": None}))
    store.write_record(Record("imp", netem_tables={"na|va": "small"}))
    [entry] = capture_owned("imp", kernel)["interfaces"]
    assert entry["impair"] == {"delay": "40ms", "jitter": "5ms", "distribution": "small"}
    assert Impair.model_validate(entry["impair"]).netem_params() == live
