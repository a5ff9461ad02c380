"""Every option teamd.conf(5) documents that the file takes, on a full kernel with teamd: two
teams (lacp, and activebackup with the arp_ping link watcher) and their ports' options set
to values other than teamd's defaults, applied; teamd's own config (`teamdctl TEAM config
dump`) compared field by field; the ports' options changed in place through teamd, then the
teams' config changed, which re-creates them as the plan says; each time a second plan is
empty; destroy leaves none of its teamds and no namespace. Lean on purpose: three applies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import vnet

from .helpers import ip_json, require_kind, sh
from .test_team import _live_teamds

pytestmark = pytest.mark.kind("team")

FILE = """
name: teamall
namespaces: [host, far]
interfaces:
  - name: tlacp
    kind: team
    netns: host
    runner:
      name: lacp
      active: false
      fast_rate: true
      sys_prio: 100
      min_ports: 2
      agg_select_policy: port_config
      tx_hash: [l3, l4]
      tx_balancer: {name: basic, balancing_interval: 20}
    link_watch: {name: ethtool, delay_up: 100, delay_down: 200}
    notify_peers: {count: 3, interval: 50}
    mcast_rejoin: {count: 2, interval: 40}
  - name: tab
    kind: team
    netns: host
    runner: {name: activebackup, hwaddr_policy: by_active}
    link_watch:
      name: arp_ping
      interval: 150
      init_wait: 10
      missed_max: 4
      source_host: 192.0.2.1
      target_host: 192.0.2.2
      validate_active: true
      validate_inactive: true
      send_always: true
      vlanid: 7
  - name: l0
    kind: veth
    netns: host
    master: tlacp
    port_options: {prio: 10, sticky: true, queue_id: 1, lacp_prio: 7, lacp_key: 3}
    peer: {name: fl0, netns: far}
  - name: b0
    kind: veth
    netns: host
    master: tab
    port_options: {prio: -3, sticky: true}
    peer: {name: fb0, netns: far}
"""

PORTS_IN_PLACE = [
    ("port_options: {prio: 10, sticky: true, queue_id: 1, lacp_prio: 7, lacp_key: 3}",
     "port_options: {prio: 11, sticky: false, queue_id: 2, lacp_prio: 8, lacp_key: 4}"),
    ("port_options: {prio: -3, sticky: true}", "port_options: {prio: 5, sticky: false}"),
]
CONFIG_REPLACED = [
    ("sys_prio: 100", "sys_prio: 200"),
    ("notify_peers: {count: 3, interval: 50}", "notify_peers: {count: 4, interval: 60}"),
    ("vlanid: 7", "vlanid: 8"),
]


def _edited(text: str, edits: list[tuple[str, str]]) -> str:
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return text


def _teamd_pid(team: str) -> int:
    return int(Path(f"/run/vnet/teamd/teamall/host/{team}.pid").read_text().strip())


def _dump(team: str) -> dict[str, Any]:
    return json.loads(sh("teamdctl", team, "config", "dump", netns="host"))


def _contains(want: Any, got: Any) -> bool:
    """Every key the file says is in teamd's config with the same value (teamd may add its
    own keys, such as the device name)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(_contains(v, got.get(k)) for k, v in want.items())
    return bool(want == got)


def _check_against_teamd(topo: vnet.Topology) -> None:
    wrong = []
    for end in topo.endpoints():
        if end.kind_name == "team":
            config = _dump(end.name)
            for key, want in end.teamd_config().items():
                if not _contains(want, config.get(key)):
                    wrong.append(f"{end.name}.{key}: file {want!r}, teamd {config.get(key)!r}")
    for end in topo.endpoints():
        said = getattr(end, "port_options", None)
        if said is not None and end.master is not None:
            want = said.model_dump(exclude_none=True)
            got = _dump(end.master).get("ports", {}).get(end.name, {})
            if not _contains(want, got):
                wrong.append(f"{end.name}.port_options: file {want!r}, teamd {got!r}")
    assert not wrong, "\n".join(wrong)


def test_every_team_option_is_applied_read_back_and_changed_once() -> None:
    require_kind("team")
    topo = vnet.load_text(FILE)
    topo.apply()
    started: set[int] = set()
    try:
        started |= {_teamd_pid(t) for t in ("tlacp", "tab")}
        _check_against_teamd(topo)
        assert not topo.plan().has_changes

        ports = vnet.load_text(_edited(FILE, PORTS_IN_PLACE))
        plan = ports.plan()
        assert [(a.verb, a.subject) for a in plan.actions] == [
            ("change", "port options of host/l0 on team tlacp"),
            ("change", "port options of host/b0 on team tab")], plan.actions
        assert plan.actions[0].diff == {"prio": (10, 11), "sticky": (True, False),
                                        "queue_id": (1, 2), "lacp_prio": (7, 8),
                                        "lacp_key": (3, 4)}
        pids = {t: _teamd_pid(t) for t in ("tlacp", "tab")}
        ports.apply()
        _check_against_teamd(ports)
        assert {t: _teamd_pid(t) for t in pids} == pids  # the same teamds, told in place
        assert not ports.plan().has_changes

        config = vnet.load_text(_edited(_edited(FILE, PORTS_IN_PLACE), CONFIG_REPLACED))
        plan = config.plan()
        remade = {a.subject: a.reason for a in plan.actions if a.verb == "replace"}
        assert set(remade) == {"link host/tlacp (team)", "link host/tab (team)"}, plan.actions
        assert "runner, notify_peers cannot change in place" in remade["link host/tlacp (team)"]
        assert "link_watch cannot change in place" in remade["link host/tab (team)"]
        config.apply()
        started |= {_teamd_pid(t) for t in ("tlacp", "tab")}
        assert len(started) == 4, started  # re-created: two new teamds
        _check_against_teamd(config)
        for port, team in (("l0", "tlacp"), ("b0", "tab")):
            assert ip_json("link", "show", "dev", port, netns="host")[0].get("master") == team
        assert not config.plan().has_changes
    finally:
        topo.destroy()
    # this test's teamds, not every teamd: other workers' tests run teams at the same time
    assert not started & set(_live_teamds()), started
    assert sh("ip", "netns", "list").strip() == ""
