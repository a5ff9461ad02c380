"""team's options beyond runner and link watch, without a kernel: teamd.conf(5)'s runner and
top-level options (tx_balancer, notify_peers, mcast_rejoin, link_watch vlanid) in the config
teamd starts with, re-created on a change; per-port options (`prio`, `sticky`, `queue_id`,
`lacp_prio`, `lacp_key`) under the port's `port_options:`, checked against the master's kind
and runner, set through teamd once the port joined, read back from teamd's config dump, and
changed in place; ranges and spellings."""

from __future__ import annotations

import gzip
import json
import re
import textwrap
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
from conftest import TOPO, link, netns, observed

import vnet
from vnet.declare import BaseModel
from vnet.door import teamd
from vnet.door.fake import FakeKernel
from vnet.door.protocol import Scope
from vnet.errors import TopologyError
from vnet.features.port_option_fields import PortOptions
from vnet.features.port_options import PORT_OPTIONS
from vnet.kinds.team import Team
from vnet.observe import TEAMD_KEY
from vnet.plan import plan_changes

HEAD = f"""\
name: {TOPO}
namespaces: [host]
interfaces:
  - name: eth0
    kind: veth
    netns: host
    master: team0
    peer: {{name: p0}}
PO_eth0  - name: eth1
    kind: veth
    netns: host
    master: team0
    peer: {{name: p1}}
PO_eth1  - name: team0
    kind: team
    netns: host
"""


def topo(options: str = "", eth0: str = "", eth1: str = "") -> vnet.Topology:
    head = HEAD
    for name, said in (("eth0", eth0), ("eth1", eth1)):
        head = head.replace(f"PO_{name}", f"    port_options: {{{said}}}\n" if said else "")
    return vnet.load_text(head + textwrap.indent(textwrap.dedent(options), "    "), "t.yaml")


def issues_of(options: str = "", eth0: str = "", eth1: str = "") -> list[str]:
    with pytest.raises(TopologyError) as info:
        topo(options, eth0, eth1)
    return [str(i) for i in info.value.issues]


def _team(t: vnet.Topology) -> Team:
    found = next(e for e in t.endpoints() if e.name == "team0")
    assert isinstance(found, Team)
    return found


FULL = ("runner: {name: lacp, active: false, fast_rate: true, sys_prio: 100, min_ports: 2,\n"
        "         agg_select_policy: port_config, tx_hash: [l3, l4],\n"
        "         tx_balancer: {name: basic, balancing_interval: 20}}\n"
        "link_watch: {name: arp_ping, target_host: 192.0.2.1, vlanid: 7}\n"
        "notify_peers: {count: 3, interval: 50}\n"
        "mcast_rejoin: {count: 2, interval: 40}\n")


def test_config_carries_every_teamd_option_the_file_says() -> None:
    assert _team(topo(FULL)).teamd_config() == {
        "runner": {"name": "lacp", "active": False, "fast_rate": True, "sys_prio": 100,
                   "min_ports": 2, "agg_select_policy": "port_config",
                   "tx_hash": ["l3", "l4"],
                   "tx_balancer": {"name": "basic", "balancing_interval": 20}},
        "link_watch": {"name": "arp_ping", "target_host": "192.0.2.1", "vlanid": 7},
        "notify_peers": {"count": 3, "interval": 50},
        "mcast_rejoin": {"count": 2, "interval": 40}}


@pytest.mark.parametrize("options, expected", [
    ("runner: {name: activebackup, tx_balancer: {name: basic}}\n",
     "runner option tx_balancer is read only by the loadbalance and lacp runner(s), not "
     "activebackup"),
    ("runner: {name: lacp, tx_balancer: {name: fancy}}\n",
     "interfaces[2].runner.tx_balancer.name: Input should be 'basic'"),
    ("runner: {name: lacp, tx_balancer: {name: basic, balancing_interval: -1}}\n",
     "balancing_interval: Input should be greater than or equal to 0"),
    ("link_watch: {name: ethtool, vlanid: 3}\n",
     "link_watch option vlanid is read only by arp_ping, not ethtool"),
    ("link_watch: {name: arp_ping, target_host: 192.0.2.1, vlanid: 4096}\n",
     "link_watch.vlanid: Input should be less than or equal to 4095"),
    ("notify_peers: {count: 256}\n", "notify_peers.count: Input should be less than or equal "
                                     "to 255"),
    ("mcast_rejoin: {count: 1, intervall: 5}\n", "did you mean 'interval'"),
    ("notify_peer: {count: 1}\n", "did you mean 'notify_peers'"),
])
def test_team_option_ranges_spellings_and_runner_fit(options: str, expected: str) -> None:
    found = issues_of(options)
    assert any(expected in line for line in found), found


@pytest.mark.parametrize("options, eth0, expected", [
    ("runner: roundrobin\n", "prio: 10",
     "port option prio of eth0 is read only by the activebackup and lacp runner(s), not "
     "runner roundrobin"),
    ("", "sticky: true", "not runner roundrobin (teamd's default)"),
    ("runner: activebackup\n", "lacp_key: 3", "port option lacp_key of eth0 is read only by "
                                              "the lacp runner(s)"),
    ("runner: lacp\n", "lacp_prio: 65536", "port_options.lacp_prio: Input should be less "
                                           "than or equal to 65535"),
    ("runner: lacp\n", "lacp_keyy: 1", "did you mean 'lacp_key'"),
    ("runner: lacp\n", "cost: 4", "port option cost is a bridge-port option, but master "
                                  "'team0' is a team"),
])
def test_port_options_fit_the_master_and_its_runner(options: str, eth0: str,
                                                    expected: str) -> None:
    found = issues_of(options, eth0=eth0)
    assert any(expected in line for line in found), found


def _live(t: vnet.Topology, ports: dict[str, dict[str, Any]] | None = None) -> Any:
    teamd_state = {"pid": 4242, "running": True, "config": _team(t).teamd_config()}
    eth0 = link("eth0", "veth", master="team0", up=True)
    eth1 = link("eth1", "veth", master="team0", up=True)
    eth0.port_options = dict((ports or {}).get("eth0", {}))
    eth1.port_options = dict((ports or {}).get("eth1", {}))
    return observed(netns("host", link("team0", "team", info_data={TEAMD_KEY: teamd_state},
                                       up=True), eth0, eth1),
                    netns(None, link("p0", "veth", up=True), link("p1", "veth", up=True)))


def test_same_config_and_port_options_plan_nothing() -> None:
    t = topo(FULL, eth0="prio: 10, sticky: true, lacp_prio: 7, lacp_key: 2, queue_id: 1",
             eth1="lacp_prio: 9")
    live = _live(t, {"eth0": {"prio": 10, "sticky": True, "lacp_prio": 7, "lacp_key": 2,
                              "queue_id": 1}, "eth1": {"lacp_prio": 9}})
    assert plan_changes(t, live).actions == []


@pytest.mark.parametrize("old, new", [
    ("notify_peers: {count: 3, interval: 50}", "notify_peers: {count: 4, interval: 50}"),
    ("mcast_rejoin: {count: 2, interval: 40}", "mcast_rejoin: {count: 2, interval: 60}"),
    ("balancing_interval: 20", "balancing_interval: 30"),
    ("vlanid: 7", "vlanid: 8"),
])
def test_a_teamd_config_change_recreates_the_team(old: str, new: str) -> None:
    actions = plan_changes(topo(FULL.replace(old, new)), _live(topo(FULL))).actions
    replace = next(a for a in actions if a.verb == "replace")
    assert "cannot change in place" in replace.reason


def test_port_options_change_in_place_through_teamd() -> None:
    t = topo("runner: activebackup\n", eth0="prio: 20, sticky: false")
    actions = plan_changes(t, _live(topo("runner: activebackup\n", eth0="prio: 10"),
                                    {"eth0": {"prio": 10, "sticky": True}})).actions
    assert [(a.verb, a.subject, a.diff) for a in actions] == [
        ("change", "port options of host/eth0 on team team0",
         {"prio": (10, 20), "sticky": (True, False)})]
    assert actions[0].do[0].args == {"ifname": "eth0", "master_kind": "team",
                                     "options": {"prio": 20, "sticky": False}}
    assert actions[0].undo[0].args["options"] == {"prio": 10, "sticky": True}


def test_first_apply_sets_port_options_once_the_ports_joined_and_are_up() -> None:
    # (the fake kernel does not model teamd: what teamd keeps is tested above and live)
    t = topo("runner: lacp\n", eth0="lacp_prio: 5, lacp_key: 3", eth1="queue_id: 2")
    plan = plan_changes(t, FakeKernel().observe(Scope([None, "host"])))
    subjects = [a.subject for a in plan.actions]
    assert subjects.index("port host/eth0 of team0") < subjects.index("set host/team0 up") < \
        subjects.index("port options of host/eth0 on team team0")
    sets = [(a.verb, r.args) for a in plan.actions for r in a.do
            if r.op == "link.port_options"]
    assert sets == [
        ("create", {"ifname": "eth0", "master_kind": "team",
                    "options": {"lacp_prio": 5, "lacp_key": 3}}),
        ("create", {"ifname": "eth1", "master_kind": "team", "options": {"queue_id": 2}})]


def test_teamd_config_dump_gives_each_port_its_options(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    dump = {"device": "team0", "runner": {"name": "lacp"},
            "ports": {"eth0": {"lacp_prio": 5, "lacp_key": 3, "link_watch": {"name": "x"}},
                      "eth1": {}}}
    asked: list[tuple[Any, ...]] = []

    def fake_teamdctl(ns: str | None, team: str, *args: str) -> str:
        asked.append((ns, team, *args))
        return json.dumps(dump)
    monkeypatch.setattr(teamd, "run_teamdctl", fake_teamdctl)
    monkeypatch.setattr(teamd, "teamd_state", lambda owner, ns, name: {
        "pid": 1, "running": True, "config": {}})
    team0 = link("team0", "team", info_data={})
    eth0, eth1 = link("eth0", "veth", master="team0"), link("eth1", "veth", master="team0")
    links = {"team0": team0, "eth0": eth0, "eth1": eth1, "x": link("x", "veth")}
    teamd.read_teamd("host", links)
    assert asked == [("host", "team0", "config", "dump")]
    assert eth0.port_options == {"lacp_prio": 5, "lacp_key": 3}
    assert eth1.port_options == {}


def test_a_team_without_ports_asks_teamd_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> str:
        raise AssertionError("teamdctl asked")
    monkeypatch.setattr(teamd, "run_teamdctl", refuse)
    monkeypatch.setattr(teamd, "teamd_state", lambda owner, ns, name: {
        "pid": 1, "running": True, "config": {}})
    team0 = link("team0", "team", info_data={})
    teamd.read_teamd(None, {"team0": team0})
    assert team0.info_data[TEAMD_KEY]["running"]


MAN = Path("/usr/share/man/man5/teamd.conf.5.gz")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "options.md"


def documented_options(groff: str) -> set[str]:
    """The options teamd.conf(5) documents: each `.TP` item's quoted dotted names
    (`.BR "link_watch.delay_up "| " ports.PORTIFNAME.link_watch.delay_up " (int)`)."""
    names: set[str] = set()
    lines = groff.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == ".TP" and lines[i + 1].startswith(".BR"):
            item = lines[i + 1].split("(")[0]
            names |= {n.strip() for n in re.findall(r'"([^"]+)"', item)} - {"|", ""}
    return names


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) in (Union, types.UnionType):
        return next((m for a in get_args(annotation) if (m := _model_of(a))), None)
    return annotation if isinstance(annotation, type) and issubclass(annotation,
                                                                     BaseModel) else None


def takes(path: str) -> bool:
    """Does the file take teamd's option `path` (a team's field, or a team port's option)?"""
    parts = path.split(".")
    if parts[0] == "ports" and len(parts) == 3:
        return parts[2] in PORT_OPTIONS["team"] and parts[2] in PortOptions.model_fields
    model: type[BaseModel] | None = Team
    for part in parts:
        if model is None or part not in model.model_fields:
            return False
        model = _model_of(model.model_fields[part].annotation)
    return True


def _left_out() -> set[str]:
    block = DOCS.read_text().split("<!-- left-out: team -->", 1)[1].split("\n\n", 1)[0]
    return {line.split("|")[1].strip() for line in block.splitlines()[2:]
            if line.startswith("| ")}


def test_every_option_teamd_conf_documents_is_taken_or_left_out_with_a_reason() -> None:
    if not MAN.exists():
        pytest.skip("teamd.conf(5) is not installed (Debian package libteam-utils)")
    documented = documented_options(gzip.decompress(MAN.read_bytes()).decode())
    assert {"runner.name", "runner.tx_balancer.balancing_interval", "ports.PORTIFNAME.prio",
            "ports.PORTIFNAME.link_watch.vlanid", "mcast_rejoin.count"} <= documented
    skipped = _left_out()
    missing = sorted(o for o in documented if not takes(o)
                     and not any(o == s or o.startswith(s + ".") for s in skipped))
    assert not missing, f"teamd.conf(5) documents {missing}: neither taken nor left out"
    stale = sorted(s for s in skipped if takes(s))
    assert not stale, f"docs/options.md leaves out {stale}, which the file takes"


def test_the_coverage_check_can_fail() -> None:
    assert not takes("runner.shiny_new") and not takes("ports.PORTIFNAME.cost")
    assert takes("runner.tx_balancer.name") and takes("ports.PORTIFNAME.lacp_key")
    assert documented_options('.TP\n.BR "a.b "| " ports.X.a.b " (int)\n') == {
        "a.b", "ports.X.a.b"}


class _Msg:
    def get_attr(self, name: str) -> str:
        assert name == "IFLA_IFNAME"
        return "team0"


class _Kernel:
    """What TeamdOps asks of the kernel to find a port's team: its master's ifindex, then
    that link's name."""

    def __init__(self, master: int) -> None:
        self.master = master

    def get_link(self, name: str) -> Any:
        return types.SimpleNamespace(master=self.master)

    def link(self, verb: str, index: int) -> list[_Msg]:
        assert (verb, index) == ("get", 7)
        return [_Msg()]


def test_a_team_port_s_options_are_merged_into_what_teamd_keeps(
        monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[tuple[str, ...]] = []

    def fake_teamdctl(ns: str | None, team: str, *args: str) -> str:
        said.append(args)
        return json.dumps({"ports": {"eth0": {"prio": 1, "link_watch": {"name": "ethtool"}}}})
    monkeypatch.setattr(teamd, "run_teamdctl", fake_teamdctl)
    ops = teamd.TeamdOps()
    kernel = _Kernel(7)
    ops._rt = lambda netns: kernel  # type: ignore[method-assign]
    ops._ipr = lambda netns: kernel  # type: ignore[method-assign]
    ops._team_port_options("host", "eth0", {"prio": 5, "lacp_key": 2})
    assert said[0] == ("config", "dump")
    assert said[1][:4] == ("port", "config", "update", "eth0")
    # update replaces the port's whole object: what teamd had and vnet did not name stays
    assert json.loads(said[1][4]) == {"prio": 5, "lacp_key": 2,
                                      "link_watch": {"name": "ethtool"}}


def test_options_for_a_port_of_no_team_are_a_clear_error() -> None:
    from vnet.errors import KernelError
    ops = teamd.TeamdOps()
    kernel = _Kernel(0)
    ops._rt = lambda netns: kernel  # type: ignore[method-assign]
    with pytest.raises(KernelError, match="eth0 is not a port of any team"):
        ops._team_port_options("host", "eth0", {"prio": 5})
