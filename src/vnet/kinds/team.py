"""team — like bond, ports aggregated into one link, but driven by the teamd daemon.

    teamd -d -t team0 -c '{"runner":{"name":"activebackup"},"link_watch":{"name":"ethtool"}}'
    teamdctl team0 port add eth0          (ports down first)

vnet starts teamd for each team it owns, in the team's namespace, and stops it (by the PID it
recorded) when the team goes; teamd creates the team device, vnet marks it. Ports join with
`master: team0` on the port, enslaved over netlink (teamd takes them up), down first as the
team driver requires. The runner and link watch (and notify_peers, mcast_rejoin) are teamd's
config, spelled as teamd.conf(5) spells them: teamd cannot change them while it runs, so a
change re-creates the team (teamd restarted, ports enslaved again). A port's options (`prio`,
`sticky`, `queue_id`, `lacp_prio`, `lacp_key`, teamd's `ports.PORT.*`) are said under the port's
`port_options:` and set in place with `teamdctl TEAM port config update` once it has joined;
they are read back from `teamdctl TEAM config dump`.
A team whose teamd has died is reported by `plan` and its teamd restarted by `apply`.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal, get_args

from ..actions import Action, Request
from ..declare import BaseModel, ConfigDict, Field, field_validator
from ..observe import TEAMD_KEY
from . import register
from .base import IP, InterfaceBase, NotCapturable, Option, topology_index

RunnerName = Literal["activebackup", "loadbalance", "lacp", "roundrobin", "broadcast", "random"]
LinkWatchName = Literal["ethtool", "arp_ping", "nsna_ping"]
TxHash = Literal["eth", "vlan", "ipv4", "ipv6", "ip", "l3", "tcp", "udp", "sctp", "l4"]

#: runner option -> the runners that read it (teamd(8) / teamd.conf(5))
_RUNNER_OPTIONS: dict[str, tuple[str, ...]] = {
    "hwaddr_policy": ("activebackup",),
    "tx_hash": ("loadbalance", "lacp"),
    "active": ("lacp",),
    "fast_rate": ("lacp",),
    "sys_prio": ("lacp",),
    "min_ports": ("lacp",),
    "agg_select_policy": ("lacp",),
    "tx_balancer": ("loadbalance", "lacp"),
}
#: port option (features/port_options.py) -> the runners that read it (teamd.conf(5))
_PORT_OPTIONS: dict[str, tuple[str, ...]] = {
    "prio": ("activebackup", "lacp"),
    "sticky": ("activebackup", "lacp"),
    "lacp_prio": ("lacp",),
    "lacp_key": ("lacp",),
}
#: link watch option -> the watchers that read it
_WATCH_OPTIONS: dict[str, tuple[str, ...]] = {
    "delay_up": ("ethtool",),
    "delay_down": ("ethtool",),
    "interval": ("arp_ping", "nsna_ping"),
    "init_wait": ("arp_ping", "nsna_ping"),
    "missed_max": ("arp_ping", "nsna_ping"),
    "target_host": ("arp_ping", "nsna_ping"),
    "source_host": ("arp_ping",),
    "validate_active": ("arp_ping",),
    "validate_inactive": ("arp_ping",),
    "send_always": ("arp_ping",),
    "vlanid": ("arp_ping",),
}




class TeamTxBalancer(BaseModel):
    """teamd's active Tx balancer (loadbalance, lacp): moves hashes between ports by load."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Literal["basic"] = Field(description="basic (the only balancer teamd has).")
    balancing_interval: int | None = Field(
        None, ge=0, le=2**31 - 1, description="Tenths of a second between rebalancing "
                                              "(teamd's default: 50).")


class TeamBursts(BaseModel):
    """notify_peers or mcast_rejoin: bursts sent after a port is enabled or disabled."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    count: int | None = Field(None, ge=0, le=255,
                              description="Bursts sent (0: off; teamd's default 0, 1 for "
                                          "activebackup).")
    interval: int | None = Field(None, ge=0, le=2**31 - 1,
                                 description="ms between bursts (default 0).")


class TeamRunner(BaseModel):
    """teamd's runner: how ports are used. Options as teamd.conf(5) spells them."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: RunnerName = Field(description="activebackup, loadbalance, lacp, roundrobin, "
                                         "broadcast or random.")
    hwaddr_policy: Literal["same_all", "by_active", "only_active"] | None = Field(
        None, description="activebackup: which MAC the team and ports carry.")
    tx_hash: list[TxHash] | None = Field(
        None, min_length=1, description="loadbalance, lacp: packet fields hashed to pick a "
                                        "port, e.g. [eth, ipv4, ipv6].")
    active: bool | None = Field(None, description="lacp: send LACPDUs (active mode).")
    fast_rate: bool | None = Field(None, description="lacp: ask the partner for fast LACPDUs.")
    sys_prio: int | None = Field(None, ge=0, le=65535, description="lacp: system priority.")
    min_ports: int | None = Field(None, ge=1, le=255,
                                  description="lacp: ports needed for the team to be up.")
    agg_select_policy: Literal["lacp_prio", "lacp_prio_stable", "bandwidth", "count",
                               "port_config"] | None = Field(
        None, description="lacp: aggregator selection policy.")
    tx_balancer: TeamTxBalancer | None = Field(
        None, description="loadbalance, lacp: active Tx balancing, e.g. {name: basic, "
                          "balancing_interval: 20}; omitted: off.")



class TeamLinkWatch(BaseModel):
    """teamd's link watcher: how a port's link is judged up."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: LinkWatchName = Field(description="ethtool, arp_ping or nsna_ping.")
    delay_up: int | None = Field(None, ge=0, description="ethtool: ms before link up counts.")
    delay_down: int | None = Field(None, ge=0,
                                   description="ethtool: ms before link down counts.")
    interval: int | None = Field(None, ge=1, description="arp_ping, nsna_ping: ms between "
                                                         "probes.")
    init_wait: int | None = Field(None, ge=0, description="arp_ping, nsna_ping: ms before the "
                                                          "first probe.")
    missed_max: int | None = Field(None, ge=1, description="arp_ping, nsna_ping: missed "
                                                           "replies before link down.")
    target_host: IP | None = Field(None, description="arp_ping: IPv4, nsna_ping: IPv6 address "
                                                     "to probe.")
    source_host: IP | None = Field(None, description="arp_ping: IPv4 source of the probes.")
    validate_active: bool | None = Field(None, description="arp_ping: check replies on the "
                                                           "active port.")
    validate_inactive: bool | None = Field(None, description="arp_ping: check replies on "
                                                             "inactive ports.")
    send_always: bool | None = Field(None, description="arp_ping: probe from inactive ports "
                                                       "too.")
    vlanid: int | None = Field(None, ge=0, le=4095, description="arp_ping: send the probes "
                                                                "tagged with this VLAN id.")



def _or_name(names: Any) -> Any:
    """The JSON Schema also takes the bare name (`runner: lacp`), which the model's
    before-validator turns into {name: lacp}."""
    def extend(schema: dict[str, Any]) -> None:
        schema.setdefault("anyOf", []).append({"enum": list(get_args(names))})
    return extend


def _config_part(model: BaseModel | None) -> dict[str, Any] | None:
    return None if model is None else model.model_dump(exclude_none=True)


@register
class Team(InterfaceBase):
    kind: Literal["team"]
    listed = 30
    modules = ("team", "team_mode_activebackup", "team_mode_broadcast",
               "team_mode_loadbalance", "team_mode_random", "team_mode_roundrobin")
    can_be_master = True
    ports_down_to_enslave: ClassVar[bool] = True
    use_when = ("Like bond, but driven by the teamd daemon and its runners;\n"
                "use it when you need teamd's link watchers or a userspace LACP.")

    # `runner: lacp` stands for `runner: {name: lacp}` (and so for link_watch)
    runner: TeamRunner | None = Field(
        None, json_schema_extra=_or_name(RunnerName),
        description="teamd runner, e.g. activebackup or {name: lacp, fast_rate: true}; "
                          "omitted: teamd's default (roundrobin).")
    link_watch: TeamLinkWatch | None = Field(
        None, json_schema_extra=_or_name(LinkWatchName),
        description="Link watcher, e.g. ethtool or {name: arp_ping, target_host: "
                          "192.0.2.1, interval: 100}; omitted: teamd's default (ethtool).")

    notify_peers: TeamBursts | None = Field(
        None, description="Gratuitous ARPs and unsolicited NAs after a port change: {count, "
                          "interval}.")
    mcast_rejoin: TeamBursts | None = Field(
        None, description="Multicast rejoin requests after a port change: {count, "
                          "interval}.")

    @field_validator("runner", "link_watch", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    # the config lives in teamd, not in IFLA_INFO_DATA: changing it restarts teamd, which
    # re-creates the device (replace)
    options_probed = False  # teamd's config, not the kernel's (see team_every_option)
    options_map: ClassVar[dict[str, Option]] = {
        "runner": Option(TEAMD_KEY, replace=True),
        "link_watch": Option(TEAMD_KEY, replace=True),
        "notify_peers": Option(TEAMD_KEY, replace=True),
        "mcast_rejoin": Option(TEAMD_KEY, replace=True),
    }
    #: the parts of teamd's config the file speaks (the ports join by netlink, each one's
    #: options set with `teamdctl port config update`)
    config_keys: ClassVar[tuple[str, ...]] = ("runner", "link_watch", "notify_peers",
                                              "mcast_rejoin")

    # ---- teamd config -----------------------------------------------------------------------
    def teamd_config(self) -> dict[str, Any]:
        """The JSON config teamd is started with (ports are not in it: they join by netlink)."""
        parts = ((key, _config_part(getattr(self, key))) for key in self.config_keys)
        return {k: v for k, v in parts if v is not None}

    def declared_options(self) -> dict[str, Any]:
        return self.teamd_config()

    def info_data(self) -> dict[str, Any]:
        return {}

    @classmethod
    def decode_info_data(cls, attrs: dict[str, Any]) -> dict[str, Any]:
        config = (attrs.get(TEAMD_KEY) or {}).get("config") or {}
        return {k: config[k] for k in cls.config_keys if k in config}

    def create_request(self) -> dict[str, Any]:
        return {"kind": "team", "info_data": {}, "teamd": {"config": self.teamd_config()}}

    def probe_request(self) -> dict[str, Any]:
        """The kernel's team driver alone: probing starts no teamd."""
        return {"kind": "team", "info_data": {}}

    # ---- a dead teamd -----------------------------------------------------------------------
    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        if live is None or live.owner is None:
            return []
        teamd = live.info_data.get(TEAMD_KEY) or {}
        if teamd.get("running"):
            return []
        ns, name = self.key
        where = f"{ns}/{name}" if ns else name
        args = {"ifname": name, "owner": live.owner}
        pid = teamd.get("pid")
        why = (f"its teamd (pid {pid}) is not running: it crashed or was killed" if pid else
               "no teamd is running for it")
        ports = sorted([link.name, link.up] for link in netns_state.links.values()
                       if link.master == name) if netns_state is not None else []
        # no undo: a running teamd for a team that exists changes nothing a rollback restores
        return [Action("create", f"teamd for team {where}", why + "; restart it",
                       [Request("teamd.start", ns, {**args, "config": self.teamd_config(),
                                                    "ports": ports})])]

    # ---- capture --------------------------------------------------------------------------
    @classmethod
    def capture_fields(cls, live: Any, netns_state: Any) -> dict[str, Any]:
        """runner and link_watch from the config of the team's teamd (`runner: NAME` when the
        name is all of it)."""
        teamd = live.info_data.get(TEAMD_KEY) or {}
        if teamd.get("config") is None:
            raise NotCapturable(
                f"the teamd configuration of team {live.name} cannot be read: vnet reads it "
                "only for teams it started (and from their config files)")
        out: dict[str, Any] = {}
        for opt, value in cls.decode_info_data(live.info_data).items():
            out[opt] = value["name"] if isinstance(value, dict) and list(value) == ["name"] \
                else value
        return out

    @classmethod
    def plan_removal(cls, netns_state: Any, live: Any) -> list[Any]:
        """teamd goes first: deleting the device would leave teamd running."""
        if live.owner is None:
            return []
        ns = netns_state.name if netns_state is not None else None
        where = f"{ns}/{live.name}" if ns else live.name
        return [Action("remove", f"teamd for team {where}", "its team is removed",
                       [Request("teamd.stop", ns, {"ifname": live.name, "owner": live.owner})],
                       undo_gap=f"teamd of {where} cannot be restarted with its old state")]

    # ---- checks ---------------------------------------------------------------------------
    def check(self, topo: Any, report: Any) -> None:
        if self.runner is not None:
            for opt, runners in _RUNNER_OPTIONS.items():
                if getattr(self.runner, opt) is not None and self.runner.name not in runners:
                    report(f"runner.{opt}", f"runner option {opt} is read only by the "
                           f"{' and '.join(runners)} runner(s), not {self.runner.name}",
                           f"remove {opt}, or use runner {runners[0]}")
        watch = self.link_watch
        if watch is not None:
            for opt, watchers in _WATCH_OPTIONS.items():
                if getattr(watch, opt) is not None and watch.name not in watchers:
                    report(f"link_watch.{opt}", f"link_watch option {opt} is read only by "
                           f"{' and '.join(watchers)}, not {watch.name}",
                           f"remove {opt}, or use link_watch {watchers[0]}")
            if watch.name in ("arp_ping", "nsna_ping") and watch.target_host is None:
                report("link_watch", f"link_watch {watch.name} needs the address to probe",
                       "add target_host: ADDRESS")
            want_v6 = watch.name == "nsna_ping"
            for opt in ("target_host", "source_host"):
                value = getattr(watch, opt)
                if value is not None and (":" in value) != want_v6:
                    report(f"link_watch.{opt}", f"{watch.name} {opt} must be an "
                           f"{'IPv6' if want_v6 else 'IPv4'} address, not {value}",
                           "use arp_ping for IPv4, nsna_ping for IPv6")
        self._check_port_options(topo, report)
        # teamd's control socket is /run/teamd/NAME.sock: one team of a name per host
        teams = topology_index(topo, "teams_by_name", _teams_by_name)
        for other in teams.get(self.name, ()):
            if other is not self and other.netns != self.netns and other.path < self.path:
                report("name", f"team {self.name!r} is also defined in "
                       f"{other.netns or 'the namespace vnet runs in'} ({other.path}); teamd's "
                       f"control socket /run/teamd/{self.name}.sock is per name",
                       "give each team a name unique on this host")

    def _check_port_options(self, topo: Any, report: Any) -> None:
        """Port options teamd reads only in some runners, said on this team's ports."""
        from ..features.port_options import declared_port_options
        runner = self.runner.name if self.runner is not None else "roundrobin"
        said = f"runner {runner}" + ("" if self.runner else " (teamd's default)")
        for end in topo.endpoints():
            if end.master != self.name or end.netns != self.netns:
                continue
            for opt in declared_port_options(end):
                runners = _PORT_OPTIONS.get(opt)
                if runners and runner not in runners:
                    report("runner", f"port option {opt} of {end.name} is read only by the "
                           f"{' and '.join(runners)} runner(s), not {said}",
                           f"use runner {runners[0]}, or remove {opt} from {end.name}")

    # ---- rendering ------------------------------------------------------------------------
    def ip_enslave_command(self, port: str) -> list[str]:
        """teamd adds the port (it must be down): `teamdctl TEAM port add PORT`."""
        cmd = ["teamdctl", self.name, "port", "add", port]
        return ["ip", "netns", "exec", self.netns, *cmd] if self.netns else cmd

    def ip_commands(self) -> list[list[str]]:
        cmd = ["teamd", "-d", "-t", self.name, "-c",
               json.dumps(self.teamd_config(), separators=(",", ":"))]
        return [["ip", "netns", "exec", self.netns, *cmd] if self.netns else cmd]


def _teams_by_name(topo: Any) -> dict[str, list[Any]]:
    """Name -> the teams of the file of that name, in any namespace."""
    out: dict[str, list[Any]] = {}
    for end in topo.endpoints():
        if end.kind == "team":
            out.setdefault(end.name, []).append(end)
    return out
