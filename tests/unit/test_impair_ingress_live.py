"""`vnet impair --direction ingress|both` without a kernel: the IFB that takes what an
interface receives is planned as the file's would be (made, marked as the topology's, up,
netem on it, then the redirect), changed in place when there, removed with its redirect when
cleared, and never taken over when it is not the topology's."""

from __future__ import annotations

import pytest

import vnet
from vnet import ownership
from vnet.door.fake import FakeKernel
from vnet.features.impair import Impair
from vnet.kinds.ifb import plan_ingress_impair
from vnet.observe import LinkState, NetnsState, TcFilterState, TcState

ROOT, INGRESS = 0xFFFFFFFF, 0xFFFFFFF1


def state(ifb: str | None = None, netem: bool = False) -> NetnsState:
    links = {"va": LinkState(index=2, name="va", kind="veth", up=True,
                             altnames=[ownership.link_marker("imp", "va")])}
    st = NetnsState("na", links=links)
    if ifb is not None:
        links["ifbva"] = LinkState(index=3, name="ifbva", kind="ifb", up=True,
                                   altnames=[ifb] if ifb else [])
        st.tc_filters.append(TcFilterState("va", 0xFFFF0000, "u32", 49152, 3, True, 3,
                                           "ifbva"))
        st.qdiscs.append(TcState("va", "ingress", 0xFFFF0000, INGRESS, {}))
        if netem:
            st.qdiscs.append(TcState("ifbva", "netem", 0x80010000, ROOT,
                                     Impair(delay="30ms").netem_params()))
    return st


def test_a_missing_ifb_is_made_marked_up_impaired_then_redirected() -> None:
    actions, conflict = plan_ingress_impair("imp", state(), "na", "va", Impair(delay="30ms"))
    assert conflict is None
    assert [(a.verb, a.subject) for a in actions] == [
        ("create", "link na/ifbva (ifb)"), ("create", "netem on na/ifbva"),
        ("create", "ingress redirect na/va -> ifbva")]
    add, up = actions[0].do
    assert add.op == "link.add" and add.args["kind"] == "ifb"
    assert add.args["marker"] == ownership.link_marker("imp", "ifbva")
    assert add.args["group"] == ownership.link_group("imp")
    assert (up.op, up.args["up"]) == ("link.state", True)
    assert actions[0].undo[0].op == "link.del"


def test_the_topologys_ifb_is_changed_in_place() -> None:
    mark = ownership.link_marker("imp", "ifbva")
    actions, conflict = plan_ingress_impair("imp", state(mark, netem=True), "na", "va",
                                            Impair(delay="50ms"))
    assert conflict is None
    [action] = actions
    assert action.verb == "change" and action.diff == {"delay": ("30ms", "50ms")}
    assert plan_ingress_impair("imp", state(mark, netem=True), "na", "va",
                               Impair(delay="30ms")) == ([], None)


def test_cleared_the_ifb_goes_with_its_redirect() -> None:
    mark = ownership.link_marker("imp", "ifbva")
    actions, _ = plan_ingress_impair("imp", state(mark, netem=True), "na", "va", None)
    assert [(a.verb, a.subject) for a in actions] == [
        ("remove", "ingress redirect na/va -> ifbva"), ("remove", "link na/ifbva (ifb)")]
    assert plan_ingress_impair("imp", state(), "na", "va", None) == ([], None)


def test_an_ifb_of_someone_else_is_left_alone() -> None:
    actions, conflict = plan_ingress_impair("imp", state(""), "na", "va", Impair(delay="1ms"))
    assert actions == [] and conflict is not None
    assert "na/ifbva is not an IFB of topology imp" in conflict


def test_api_impair_says_when_the_link_is_not_live() -> None:
    from vnet import api
    with pytest.raises(vnet.errors.VnetError, match="no interface na/va is live"):
        api.impair("imp", "na/va", {"delay": "1ms", "direction": "both"},
                   backend=FakeKernel())
