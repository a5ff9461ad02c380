"""The bridge's options without a kernel: each one's range, type and spelling errors, the
kernel's own refusals said at load time (group_fwd_mask's restricted bits, a group address
that is not link-local, mcast_vlan_snooping without vlan_filtering), the shared attribute of
no_linklocal_learn and mcast_vlan_snooping, what changes in place and what re-creates, the
timers rounded to ticks, capture's defaults, `ip` words and the features a kernel may lack."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

import vnet
from vnet import kinds_probe
from vnet.door import kind_probe
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import TopologyError
from vnet.kind_options import option_rows
from vnet.kinds.bridge import BOOLOPTS_KEY, CLOCK_T_MAX, Bridge
from vnet.observe import LinkState
from vnet.plan import plan_changes

HEAD = """\
name: bo
namespaces: [a]
interfaces:
"""


def load(bridge: str) -> vnet.Topology:
    body = f"- {{name: br0, kind: bridge, netns: a, {bridge}}}\n" if bridge else \
        "- {name: br0, kind: bridge, netns: a}\n"
    return vnet.load_text(HEAD + textwrap.indent(body, "  "), "bo.yaml")


def issue_of(bridge: str) -> str:
    with pytest.raises(TopologyError) as info:
        load(bridge)
    assert len(info.value.issues) == 1, info.value.issues
    return str(info.value.issues[0])


def make(**options: object) -> Bridge:
    return Bridge.model_validate({"kind": "bridge", "name": "br0", **options})


def _plan(fake: FakeKernel, topo: vnet.Topology) -> Any:
    return plan_changes(topo, fake.observe(Scope([None, "a"])))


def _apply(fake: FakeKernel, topo: vnet.Topology) -> None:
    fake.send([r for a in _plan(fake, topo).actions for r in a.do])


# ---- range, type and spelling ---------------------------------------------------------------
@pytest.mark.parametrize(("option", "low", "high"), [
    ("group_fwd_mask", 0, 65535), ("mcast_router", 0, 2), ("mcast_hash_max", 0, 2**32 - 1),
    ("mcast_last_member_count", 0, 2**32 - 1), ("mcast_startup_query_count", 0, 2**32 - 1),
    ("mcast_last_member_interval", 0, CLOCK_T_MAX), ("mcast_membership_interval", 0, CLOCK_T_MAX),
    ("mcast_querier_interval", 0, CLOCK_T_MAX),
    ("mcast_query_response_interval", 0, CLOCK_T_MAX),
    ("mcast_query_interval", 100, 8_640_000), ("mcast_startup_query_interval", 100, 8_640_000),
    ("mcast_igmp_version", 2, 3), ("mcast_mld_version", 1, 2),
])
def test_each_number_takes_the_kernel_s_range(option: str, low: int, high: int) -> None:
    for value in (low, high):
        value = value & ~0x7 if option == "group_fwd_mask" else value
        assert getattr(load(f"{option}: {value}").interfaces[0], option) == value
    assert issue_of(f"{option}: {low - 1}").endswith(
        f"interfaces[0].{option}: Input should be greater than or equal to {low} "
        f"(got {low - 1}) (fix: use a value in the allowed range)")
    assert issue_of(f"{option}: {high + 1}").endswith(
        f"interfaces[0].{option}: Input should be less than or equal to {high} "
        f"(got {high + 1}) (fix: use a value in the allowed range)")
    assert "Input should be a valid integer" in issue_of(f"{option}: lots")


@pytest.mark.parametrize("option", [
    "no_linklocal_learn", "mcast_vlan_snooping", "mcast_query_use_ifaddr",
    "mcast_stats_enabled", "vlan_stats_enabled", "vlan_stats_per_port", "nf_call_iptables",
    "nf_call_ip6tables", "nf_call_arptables"])
def test_each_switch_is_a_boolean(option: str) -> None:
    assert "Input should be a valid boolean" in issue_of(f"{option}: sometimes")


@pytest.mark.parametrize(("typo", "meant"), [
    ("mcast_igmp_verison", "mcast_igmp_version"), ("group_addres", "group_address"),
    ("nf_call_iptable", "nf_call_iptables"), ("mcast_query_intervall", "mcast_query_interval"),
    ("no_link_local_learn", "no_linklocal_learn"), ("vlan_stat_enabled", "vlan_stats_enabled"),
])
def test_a_misspelt_option_gets_a_did_you_mean(typo: str, meant: str) -> None:
    assert f"did you mean '{meant}'" in issue_of(f"{typo}: 1")


def test_the_kernel_s_own_refusals_are_said_at_load_time() -> None:
    assert issue_of("group_fwd_mask: 0x4001").endswith(
        "interfaces[0].group_fwd_mask: group_fwd_mask 0x4001 has bits of 0x7 set "
        "(STP, MAC pause, LACP), which the kernel never forwards — clear them, e.g. 0x4000")
    for bad in ("01:80:c2:00:00:01", "01:80:c2:00:00:10", "01:00:5e:00:00:01", "nonsense"):
        assert "is not a link-local group the kernel takes: 01:80:c2:00:00:0X" in \
            issue_of(f'group_address: "{bad}"')
    assert load('group_address: "01-80-C2-00-00-0E"').interfaces[0].group_address == \
        "01:80:c2:00:00:0e"
    assert "the kernel turns on mcast_vlan_snooping only with vlan_filtering on" in \
        issue_of("mcast_vlan_snooping: true")
    load("mcast_vlan_snooping: true, vlan_filtering: true")


# ---- the shared attribute of no_linklocal_learn and mcast_vlan_snooping -----------------------
def test_the_shared_attribute_sends_and_compares_only_the_declared_options() -> None:
    one = make(no_linklocal_learn=True)
    assert one.declared_options() == {BOOLOPTS_KEY: {"no_linklocal_learn": True}}
    assert one.info_data() == {"IFLA_BR_MULTI_BOOLOPT": (1, 1)}
    both = make(no_linklocal_learn=False, mcast_vlan_snooping=True, vlan_filtering=True)
    assert both.info_data()["IFLA_BR_MULTI_BOOLOPT"] == (2, 3)
    # the kernel reports every option it has (MST's bit 2 too, in 6.x)
    live = Bridge.decode_info_data({"IFLA_BR_MULTI_BOOLOPT": (0b101, 0b111)})
    assert live == {BOOLOPTS_KEY: {"no_linklocal_learn": True, "mcast_vlan_snooping": False},
                    "no_linklocal_learn": True, "mcast_vlan_snooping": False}
    assert Bridge.keeps(BOOLOPTS_KEY, {"no_linklocal_learn": True}, live[BOOLOPTS_KEY], None)
    assert not Bridge.keeps(BOOLOPTS_KEY, {"mcast_vlan_snooping": True}, live[BOOLOPTS_KEY],
                            None)
    assert not Bridge.keeps(BOOLOPTS_KEY, {"no_linklocal_learn": True}, None, None)


# ---- plans against the in-memory kernel -------------------------------------------------------
EVERY = ("group_fwd_mask: 0x4000, group_address: 01:80:c2:00:00:0e, no_linklocal_learn: true, "
         "mcast_router: 2, mcast_query_use_ifaddr: true, mcast_hash_max: 8192, "
         "mcast_last_member_count: 3, mcast_startup_query_count: 4, "
         "mcast_last_member_interval: 201, mcast_membership_interval: 30001, "
         "mcast_querier_interval: 20001, mcast_query_interval: 6001, "
         "mcast_query_response_interval: 801, mcast_startup_query_interval: 1001, "
         "mcast_stats_enabled: true, mcast_igmp_version: 3, mcast_mld_version: 2, "
         "nf_call_iptables: true, nf_call_ip6tables: true, nf_call_arptables: true, "
         "vlan_filtering: true, vlan_stats_enabled: true, vlan_stats_per_port: true, "
         "mcast_vlan_snooping: true")


def test_every_option_applies_then_plans_nothing_with_timers_rounded_to_ticks() -> None:
    fake = FakeKernel(hz=250)
    topo = load(EVERY)
    plan = _plan(fake, topo)
    create = next(a for a in plan.actions if a.subject == "link a/br0 (bridge)")
    assert "the kernel keeps mcast_last_member_interval 201 as 200" in create.reason
    _apply(fake, topo)
    data = fake.namespaces["a"].links["br0"].info_data
    assert data["IFLA_BR_MCAST_QUERY_INTVL"] == 6000  # 6001 kept in ticks of 1/250 s
    assert data["IFLA_BR_GROUP_ADDR"] == "01:80:c2:00:00:0e"
    assert _plan(fake, topo).actions == []


def test_options_change_in_place_but_vlan_stats_per_port_re_creates() -> None:
    fake = FakeKernel()
    _apply(fake, load(EVERY))
    changed = _plan(fake, load(EVERY.replace("mcast_router: 2", "mcast_router: 0")
                               .replace("no_linklocal_learn: true", "no_linklocal_learn: false")
                               .replace("mcast_igmp_version: 3", "mcast_igmp_version: 2")))
    assert [(a.verb, a.subject) for a in changed.actions] == [("change", "link a/br0 (bridge)")]
    assert changed.actions[0].diff == {
        "mcast_router": (2, 0), "mcast_igmp_version": (3, 2),
        BOOLOPTS_KEY: ({"no_linklocal_learn": True, "mcast_vlan_snooping": True},
                       {"no_linklocal_learn": False, "mcast_vlan_snooping": True})}
    replaced = _plan(fake, load(EVERY.replace("vlan_stats_per_port: true",
                                              "vlan_stats_per_port: false")))
    assert ("replace", "link a/br0 (bridge)") in [(a.verb, a.subject)
                                                  for a in replaced.actions]
    assert "vlan_stats_per_port cannot change in place" in " ".join(
        a.reason for a in replaced.actions)


def test_vnet_kinds_says_which_change_in_place() -> None:
    rows = {row.name: row for row in option_rows(Bridge)}
    assert rows["vlan_stats_per_port"].change == "replace"
    assert rows["mcast_query_interval"].type == "integer 100-8640000"
    assert {rows[n].change for n in ("group_address", "no_linklocal_learn", "mcast_router",
                                     "mcast_vlan_snooping", "nf_call_arptables")} == {"in place"}


# ---- capture, ip, the features a kernel may lack -----------------------------------------------
def _live(**data: Any) -> LinkState:
    return LinkState(index=3, name="br0", kind="bridge", info_data=data, mtu=1500, mac=None,
                     up=True)


def test_capture_leaves_out_what_a_new_bridge_has() -> None:
    kernel_defaults = {
        "IFLA_BR_GROUP_FWD_MASK": 0, "IFLA_BR_GROUP_ADDR": "01:80:c2:00:00:00",
        "IFLA_BR_MULTI_BOOLOPT": (0, 7), "IFLA_BR_MCAST_ROUTER": 1,
        "IFLA_BR_MCAST_HASH_MAX": 4096, "IFLA_BR_MCAST_LAST_MEMBER_CNT": 2,
        "IFLA_BR_MCAST_STARTUP_QUERY_INTVL": 3124,  # a quarter of 12500 at 250 Hz
        "IFLA_BR_MCAST_QUERY_INTVL": 12500, "IFLA_BR_MCAST_IGMP_VERSION": 2,
        "IFLA_BR_NF_CALL_IPTABLES": 0, "IFLA_BR_VLAN_STATS_PER_PORT": 0}
    assert Bridge.capture_fields(_live(**kernel_defaults), None) == {}
    assert Bridge.capture_fields(_live(**{**kernel_defaults, "IFLA_BR_MULTI_BOOLOPT": (1, 7),
                                          "IFLA_BR_MCAST_STARTUP_QUERY_INTVL": 1000}), None) \
        == {"no_linklocal_learn": True, "mcast_startup_query_interval": 1000}


def test_ip_words() -> None:
    bridge = make(group_address="01:80:c2:00:00:0e", no_linklocal_learn=True,
                  mcast_query_interval=6000, nf_call_iptables=False)
    assert bridge.ip_type_args() == ["group_address", "01:80:c2:00:00:0e",
                                     "mcast_query_interval", "6000", "nf_call_iptables", "0",
                                     "no_linklocal_learn", "1"]


def test_a_kernel_without_vlan_filtering_stops_the_plan_naming_the_options(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setattr(kinds_probe, "STATE_DIR", str(tmp_path))
    monkeypatch.setattr(kind_probe, "probe_kinds", lambda names, specimens=None: {
        n: (False, "built without CONFIG_BRIDGE_VLAN_FILTERING")
        if n == "bridge_vlan_filtering" else (True, "") for n in names})
    assert make(vlan_stats_per_port=False).kernel_features() == {
        "bridge_vlan_filtering": ["vlan_stats_per_port"]}
    assert make(mcast_vlan_snooping=False, no_linklocal_learn=True).kernel_features() == {}
    assert kinds_probe.lacking(load("vlan_stats_enabled: true, mcast_router: 0")) == [
        "this kernel lacks bridge VLAN filtering (built without CONFIG_BRIDGE_VLAN_FILTERING),"
        " which a/br0 (vlan_stats_enabled) needs — see `vnet kinds`"]
    assert kinds_probe.lacking(load("mcast_router: 0")) == []


def test_changing_one_shared_option_leaves_the_other_as_it_is() -> None:
    fake = FakeKernel()
    _apply(fake, load("vlan_filtering: true, mcast_vlan_snooping: true"))
    _apply(fake, load("vlan_filtering: true, no_linklocal_learn: true"))
    both = load("vlan_filtering: true, no_linklocal_learn: true, mcast_vlan_snooping: true")
    assert _plan(fake, both).actions == []
