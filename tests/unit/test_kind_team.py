"""team without a kernel: runner/link-watch option fit errors with file positions, the teamd
config built from the file, plans against the observed teamd (nothing to do when it runs with
the same config; restart when it died; re-create on a runner change, teamd stopped first),
ip commands."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
from conftest import TOPO, link, netns, observed

import vnet
from vnet.errors import Position, TopologyError
from vnet.kinds.team import Team
from vnet.observe import TEAMD_KEY
from vnet.plan import plan_changes, plan_teardown

HEAD = f"""\
name: {TOPO}
namespaces: [host]
interfaces:
  - name: eth0
    kind: veth
    netns: host
    master: team0
    peer: {{name: p0}}
  - name: eth1
    kind: veth
    netns: host
    master: team0
    peer: {{name: p1}}
  - name: team0
    kind: team
    netns: host
"""


def topo(options: str = "") -> vnet.Topology:
    return vnet.load_text(HEAD + textwrap.indent(textwrap.dedent(options), "    "), "t.yaml")


def _team(t: vnet.Topology) -> Team:
    found = next(e for e in t.endpoints() if e.name == "team0")
    assert isinstance(found, Team)
    return found


@pytest.mark.parametrize("options, expected", [
    ("runner: {name: activebackup, tx_hash: [eth]}\n",
     "t.yaml:17:43: interfaces[2].runner.tx_hash: runner option tx_hash is read only by the "
     "loadbalance and lacp runner(s), not activebackup"),
    ("runner: {name: loadbalance, fast_rate: true}\n",
     "t.yaml:17:44: interfaces[2].runner.fast_rate: runner option fast_rate is read only by "
     "the lacp runner(s), not loadbalance"),
    ("runner: {name: lacp, hwaddr_policy: by_active}\n",
     "t.yaml:17:41: interfaces[2].runner.hwaddr_policy: runner option hwaddr_policy is read "
     "only by the activebackup runner(s)"),
    ("link_watch: {name: ethtool, interval: 100}\n",
     "t.yaml:17:43: interfaces[2].link_watch.interval: link_watch option interval is read "
     "only by arp_ping and nsna_ping, not ethtool"),
    ("link_watch: {name: arp_ping, interval: 100}\n",
     "t.yaml:17:17: interfaces[2].link_watch: link_watch arp_ping needs the address to probe"),
    ("link_watch: {name: nsna_ping, target_host: 192.0.2.1}\n",
     "t.yaml:17:48: interfaces[2].link_watch.target_host: nsna_ping target_host must be an "
     "IPv6 address"),
    ("runner: bogus\n", "t.yaml:17:13: interfaces[2].runner"),
])
def test_bad_runner_and_link_watch_options_are_errors_with_positions(options: str,
                                                                     expected: str) -> None:
    with pytest.raises(TopologyError) as info:
        topo(options)
    found = [str(i) for i in info.value.issues]
    assert all(isinstance(i.where, Position) for i in info.value.issues), found
    assert any(line.startswith(expected) for line in found), found


def test_one_team_name_per_host() -> None:
    text = HEAD.replace("namespaces: [host]", "namespaces: [host, other]") + \
        "  - name: team0\n    kind: team\n    netns: other\n"
    with pytest.raises(TopologyError) as info:
        vnet.load_text(text, "t.yaml")
    assert any("/run/teamd/team0.sock is per name" in str(i) for i in info.value.issues)


def test_config_from_shorthand_and_full_forms() -> None:
    assert _team(topo("runner: activebackup\nlink_watch: ethtool\n")).teamd_config() == {
        "runner": {"name": "activebackup"}, "link_watch": {"name": "ethtool"}}
    lacp = _team(topo("runner: {name: lacp, active: true, fast_rate: true, tx_hash: [eth, "
                      "ipv4]}\nlink_watch: {name: arp_ping, target_host: 192.0.2.9, "
                      "interval: 100, missed_max: 3}\n"))
    assert lacp.teamd_config() == {
        "runner": {"name": "lacp", "active": True, "fast_rate": True, "tx_hash": ["eth", "ipv4"]},
        "link_watch": {"name": "arp_ping", "target_host": "192.0.2.9", "interval": 100,
                       "missed_max": 3}}
    assert _team(topo()).teamd_config() == {}


def test_create_request_starts_teamd_and_has_no_info_data() -> None:
    t = topo("runner: roundrobin\n")
    add = next(r for a in plan_changes(t, observed()).actions for r in a.do
               if r.op == "link.add" and r.args["ifname"] == "team0")
    assert add.args["teamd"] == {"config": {"runner": {"name": "roundrobin"}}}
    assert add.args["info_data"] == {} and add.args["marker"] == f"vnet.{TOPO}.team0"


def _live(t: vnet.Topology, running: bool = True,
          config: dict[str, Any] | None = None) -> Any:
    teamd = {"pid": 4242, "running": running,
             "config": _team(t).teamd_config() if config is None else config}
    return observed(netns("host", link("team0", "team", info_data={TEAMD_KEY: teamd}, up=True),
                          link("eth0", "veth", master="team0", up=True),
                          link("eth1", "veth", master="team0", up=True)),
                    netns(None, link("p0", "veth", up=True), link("p1", "veth", up=True)))


@pytest.mark.parametrize("options", ["", "runner: activebackup\nlink_watch: ethtool\n",
                                     "runner: {name: loadbalance, tx_hash: [l3, l4]}\n"])
def test_same_config_with_teamd_running_plans_nothing(options: str) -> None:
    t = topo(options)
    assert plan_changes(t, _live(t)).actions == []


def test_dead_teamd_is_planned_as_a_restart() -> None:
    t = topo("runner: activebackup\n")
    actions = plan_changes(t, _live(t, running=False)).actions
    assert [(a.verb, a.subject) for a in actions] == [("create", "teamd for team host/team0")]
    assert "pid 4242" in actions[0].reason and "not running" in actions[0].reason
    assert [(r.op, r.netns, r.args) for r in actions[0].do] == [
        ("teamd.start", "host", {"ifname": "team0", "owner": TOPO,
                                 "config": {"runner": {"name": "activebackup"}},
                                 "ports": [["eth0", True], ["eth1", True]]})]


def test_runner_change_stops_teamd_recreates_and_rejoins_ports() -> None:
    old = topo("runner: activebackup\n")
    new = topo("runner: roundrobin\n")
    actions = plan_changes(new, _live(old)).actions
    ops = [(a.verb, a.subject, [r.op for r in a.do]) for a in actions]
    stop = ops.index(("remove", "teamd for team host/team0", ["teamd.stop"]))
    delete = ops.index(("replace", "link host/team0 (team)", ["link.del"]))
    create = next(i for i, a in enumerate(actions) if a.do[0].op == "link.add")
    assert stop < delete < create
    assert "runner" in actions[delete].reason
    port = next(a for a in actions if a.subject == "port host/eth0 of team0")
    assert [(r.op, r.args.get("up", r.args.get("master"))) for r in port.do] == [
        ("link.state", False), ("link.master", "team0"), ("link.state", True)]


def test_teardown_stops_teamd_before_deleting_the_team() -> None:
    t = topo("runner: activebackup\n")
    live = _live(t)
    live.namespaces["host"].links["lo"].altnames = []  # a namespace vnet did not create
    actions = plan_teardown(TOPO, live).actions
    ops = [(a.subject, a.do[0].op) for a in actions]
    assert ops.index(("teamd for team host/team0", "teamd.stop")) < ops.index(
        ("link host/team0 (team)", "link.del"))


def test_ip_commands() -> None:
    cmds = _team(topo("runner: activebackup\nlink_watch: ethtool\n")).ip_commands()
    assert cmds[0][:8] == ["ip", "netns", "exec", "host", "teamd", "-d", "-t", "team0"]
    assert cmds[0][8] == "-c"
    assert json.loads(cmds[0][9]) == {"runner": {"name": "activebackup"},
                                      "link_watch": {"name": "ethtool"}}


def test_teamd_ports_read_from_its_state_dump() -> None:
    from vnet.door.teamd import teamd_ports
    dump = json.dumps({"ports": {"eth0": {"link": {"up": True}}, "eth1": {}},
                       "runner": {"name": "roundrobin"}})
    assert teamd_ports(dump) == {"eth0", "eth1"}
    assert teamd_ports(json.dumps({"runner": {}})) == set()  # no port yet
    assert teamd_ports("not json") == set()


class _Link:
    def __init__(self, master: int) -> None:
        self.master = master


class _Door:
    """TeamdOps with a kernel that gives the port its master only after `late` reads."""

    def __init__(self, late: int) -> None:
        from vnet.door.teamd import TeamdOps
        self.ops = TeamdOps()
        self.reads = 0
        self.ops._index = lambda netns, name: {"team0": 7, "eth1": 9}[name]  # type: ignore[attr-defined]
        self.ops._rt = lambda netns: self  # type: ignore[attr-defined]
        self.late = late

    def get_link(self, name: str) -> _Link:
        self.reads += 1
        return _Link(7 if self.reads > self.late else 0)


def test_a_team_port_joins_through_teamd_and_apply_waits_for_its_word(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vnet.door import teamd
    said: list[tuple[str, ...]] = []
    dumps = iter([json.dumps({"ports": {}}), json.dumps({"ports": {}}),
                  json.dumps({"ports": {"eth1": {}}}), json.dumps({"ports": {"eth1": {}}})])

    def teamdctl(netns: str | None, team: str, *args: str) -> str:
        said.append(args)
        return next(dumps) if args[0] == "state" else ""
    monkeypatch.setattr(teamd, "run_teamdctl", teamdctl)
    monkeypatch.setattr(teamd.time, "sleep", lambda s: None)
    door = _Door(late=1)
    door.ops._team_port_add("h", "eth1", "team0")
    assert said[0] == ("port", "add", "eth1")
    assert said.count(("state", "dump")) == 3  # not a fixed wait: until teamd lists it


def test_a_port_teamd_never_reports_is_an_error_at_the_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vnet.door import teamd
    from vnet.errors import KernelError
    monkeypatch.setattr(teamd, "run_teamdctl", lambda netns, team, *args: json.dumps(
        {"ports": {}}) if args[0] == "state" else "")
    monkeypatch.setattr(teamd, "PORT_WAIT", 0.05)
    with pytest.raises(KernelError, match=r"teamd does not list it among its ports and the "
                                          r"kernel gives eth1 no master \(team team0 is "
                                          r"ifindex 7\)"):
        _Door(late=10**6).ops._team_port_add("h", "eth1", "team0")
