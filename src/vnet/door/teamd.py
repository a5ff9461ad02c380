"""What the master kinds need beyond plain rtnetlink: teamd processes for teams, and setting a
link attribute that names another link by ifindex (a bond's primary port).

A mixin of `Netlink`: `_op_teamd_<verb>` and `_op_link_setref` are reached through
`Netlink.execute(Request(...))`.

A team device is driven by the teamd daemon (Debian package libteam-utils). vnet starts one
teamd per team it owns, inside the team's namespace (setns in the child before exec; no shell),
with its config as a `-c` argument, and keeps, per topology, namespace and team, under
/run/vnet/teamd/TOPOLOGY/NETNS/TEAM:
  .pid   teamd's PID file (teamd writes it; vnet stops teamd by this PID, never by name)
  .json  the config vnet started it with (what `plan` compares with the file)
teamd's control socket stays where teamdctl looks for it (/run/teamd/TEAM.sock), so
`teamdctl TEAM state` works as usual; it is per team name, hence one team name per host.

Observed with Debian's 6.1 kernel and libteam 1.31: deleting a team device does not stop its
teamd (it would run on, holding the namespace), so a team is removed by stopping teamd, which
deletes the device; a port must be down to join a team ("Device is up. Set it down before
adding it as a team port"); ports enslaved with netlink (`ip link set X master team0`) are
taken up by teamd.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import time
from typing import Any

from ..errors import KernelError
from ..observe import TEAMD_KEY, LinkState

#: the directory name that stands for "the namespace vnet runs in" (':' is not allowed in a
#: namespace name, so it cannot clash with one)
HOST_NS_DIR = ":host"
_CLONE_NEWNET = 0x40000000
_STOP_WAIT = 30.0  # teamd takes seconds to quit under emulation (TCG)
#: how long teamd may take to report a port it added (seconds under TCG, milliseconds here)
PORT_WAIT = 30.0


def teamd_dir(owner: str, netns: str | None) -> str:
    from .. import store
    return os.path.join(store.STATE_DIR, "teamd", owner, netns or HOST_NS_DIR)


def _paths(owner: str, netns: str | None, ifname: str) -> tuple[str, str]:
    base = os.path.join(teamd_dir(owner, netns), ifname)
    return base + ".pid", base + ".json"


def _read_pid(pid_file: str) -> int | None:
    try:
        with open(pid_file) as f:
            return int(f.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def _is_teamd(pid: int) -> bool:
    """Is `pid` a live (not zombie) teamd? Checked before every signal: a PID can be reused."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    comm = stat[stat.find("(") + 1:stat.rfind(")")]
    state = stat[stat.rfind(")") + 2:stat.rfind(")") + 3]
    return comm == "teamd" and state not in ("Z", "X")


def teamd_state(owner: str, netns: str | None, ifname: str) -> dict[str, Any]:
    """{"pid", "running", "config"} of the teamd vnet recorded for a team."""
    pid_file, cfg_file = _paths(owner, netns, ifname)
    pid = _read_pid(pid_file)
    config = None
    try:
        with open(cfg_file) as f:
            config = json.load(f)
    except (OSError, ValueError):
        pass
    return {"pid": pid, "running": bool(pid and _is_teamd(pid)), "config": config}


def read_teamd(netns: str | None, links: dict[str, LinkState]) -> None:
    """Put the teamd facts of each owned team link into its info_data (a team has no kernel
    IFLA_INFO_DATA: its configuration lives in teamd), and the port options teamd keeps for
    each of its ports into the port's `port_options` (one `teamdctl TEAM config dump` per
    team that has ports, asked only of a running teamd vnet started)."""
    for link in links.values():
        if link.kind == "team" and link.owner:
            state = link.info_data[TEAMD_KEY] = teamd_state(link.owner, netns, link.name)
            ports = [port for port in links.values() if port.master == link.name]
            if ports and state["running"]:
                configs = _port_configs(netns, link.name)
                for port in ports:
                    port.port_options = team_port_options(configs.get(port.name) or {})


def team_port_options(config: dict[str, Any]) -> dict[str, Any]:
    """The port options vnet knows in a port's teamd config (`ports.PORT`)."""
    from ..features.port_options import PORT_OPTIONS
    return {k: v for k, v in config.items() if k in PORT_OPTIONS["team"]}


def _port_configs(netns: str | None, team: str) -> dict[str, Any]:
    """Port name -> its config, from teamd's running config (empty when teamd does not
    answer: the plan then sets the declared options again, which is harmless)."""
    try:
        config = json.loads(run_teamdctl(netns, team, "config", "dump"))
    except (KernelError, ValueError):
        return {}
    ports = config.get("ports") if isinstance(config, dict) else None
    return ports if isinstance(ports, dict) else {}


def _entering(netns: str | None) -> Any:
    """A preexec_fn that moves the child into `netns` before exec (None: stay)."""
    ns_path = None if netns is None else os.path.join("/run/netns", netns)

    def enter_netns() -> None:  # runs in the child, before exec
        if ns_path is None:
            return
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(ns_path, os.O_RDONLY)
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            os._exit(126)
        os.close(fd)
    return enter_netns


def run_teamdctl(netns: str | None, team: str, *args: str) -> str:
    """`teamdctl TEAM ARGS...` inside the team's namespace; its stdout. teamd's refusal (or
    a missing teamdctl) is a KernelError naming the team."""
    import shutil  # (with zlib, bz2, lzma) only where a team is asked
    where = f"{netns}/{team}" if netns else team
    exe = shutil.which("teamdctl")
    if exe is None:
        raise KernelError(f"ask teamd of team {where}", errno.ENOENT,
                          "teamdctl is not installed: install the Debian package "
                          "libteam-utils (it provides teamd and teamdctl)")
    import subprocess  # here: every run imports the door, few run teamd
    try:
        proc = subprocess.run([exe, team, *args], preexec_fn=_entering(netns),
                              capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        raise KernelError(f"teamdctl {team} {' '.join(args)}", errno.ETIMEDOUT,
                          "teamd did not answer within 60 s") from None
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split()) or f"teamdctl exited {proc.returncode}"
        raise KernelError(f"teamdctl {team} {' '.join(args)}", errno.EIO, detail)
    return proc.stdout


def teamd_ports(state_dump: str) -> set[str]:
    """The ports teamd itself holds, from `teamdctl TEAM state dump` (JSON); a text that is
    not teamd's state holds none."""
    try:
        state = json.loads(state_dump)
    except ValueError:
        return set()
    ports = state.get("ports") if isinstance(state, dict) else None
    return set(ports) if isinstance(ports, dict) else set()


def vnet_runs_teamd(netns: str | None, team: str) -> bool:
    """Does a teamd that vnet started drive team `team` of `netns` (any topology)?"""
    import glob

    from .. import store
    pattern = os.path.join(store.STATE_DIR, "teamd", "*", glob.escape(netns or HOST_NS_DIR),
                           glob.escape(team) + ".pid")
    return any((pid := _read_pid(path)) and _is_teamd(pid) for path in glob.glob(pattern))


def _owner_of(marker: str, ifname: str) -> str:
    from ..ownership import PREFIX
    return marker[len(PREFIX):-len(ifname) - 1]


class TeamdOps:
    """teamd processes and by-name link attributes. Refusals reach `execute` as KernelError."""

    _ipr: Any
    _rt: Any
    _index: Any

    # ---- a link attribute that holds another link's ifindex -------------------------------
    def _op_link_setref(self, netns: str | None, ifname: str, kind: str, attr: str,
                        ref: str | None) -> None:
        """Set info_data `attr` of `ifname` to the ifindex of link `ref` (0 when None).

        A bond takes an active port only once the bond has chosen one and the port's link is
        up by its own monitor (EINVAL before): right after ports join and come up, miimon
        needs an interval or more to see them (longer under emulation), so EINVAL is retried
        until a deadline."""
        target = self._index(netns, ref) if ref else 0
        index = self._index(netns, ifname)
        deadline = time.monotonic() + PORT_WAIT
        while True:
            try:
                self._ipr(netns).link("set", index=index, kind=kind, **{attr: target})
                return
            except Exception as exc:  # pyroute2's NetlinkError, kept on the KernelError
                code = getattr(exc, "code", None)
                if (attr != "IFLA_BOND_ACTIVE_SLAVE" or code != errno.EINVAL or not target
                        or time.monotonic() >= deadline):
                    raise
            time.sleep(0.1)

    # ---- team ports ---------------------------------------------------------------------------
    def _team_port_add(self, netns: str | None, port: str, team: str) -> None:
        """Make `port` (down) a port of `team` through its teamd, and return once teamd
        reports it among its ports and the kernel names `team` as its master.

        teamd is told, not left to notice: a port enslaved behind its back over netlink was
        seen, on Debian's 6.1 kernel under emulation, to lack its master after apply had
        read it back. teamd learns of ports from events it reads in its own time, so `apply`
        waits for teamd's own word (`state dump`), with a deadline, not a fixed sleep."""
        where = f"{netns}/{team}" if netns else team
        run_teamdctl(netns, team, "port", "add", port)
        team_index = self._index(netns, team)
        deadline = time.monotonic() + PORT_WAIT
        while True:
            held = port in teamd_ports(run_teamdctl(netns, team, "state", "dump"))
            link = self._rt(netns).get_link(port)
            master = link.master if link is not None else None
            if held and master == team_index:
                return
            if time.monotonic() >= deadline:
                said = "lists it" if held else "does not list it"
                raise KernelError(
                    f"add port {port} to team {where}", errno.ETIMEDOUT,
                    f"after {PORT_WAIT:.0f} s teamd {said} among its ports and the kernel "
                    f"gives {port} {'master ifindex ' + str(master) if master else 'no master'}"
                    f" (team {team} is ifindex {team_index})")
            time.sleep(0.05)

    def _team_port_options(self, netns: str | None, port: str,
                           options: dict[str, Any]) -> None:
        """Set `options` (teamd's ports.PORT.* keys) of `port` in the teamd of its team, keeping
        the rest of the port's config: `port config update` replaces the whole object."""
        master = self._rt(netns).get_link(port)
        index = master.master if master is not None else None
        if not index:
            raise KernelError(f"set team port options of {port}", errno.ENODEV,
                              f"{port} is not a port of any team")
        team = self._ipr(netns).link("get", index=index)[0].get_attr("IFLA_IFNAME")
        merged = {**(_port_configs(netns, team).get(port) or {}), **options}
        run_teamdctl(netns, team, "port", "config", "update", port,
                     json.dumps(merged, sort_keys=True))

    # ---- teamd ------------------------------------------------------------------------------
    def _teamd_start(self, netns: str | None, ifname: str, marker: str,
                     config: dict[str, Any], take_over: bool = False) -> None:
        owner = _owner_of(marker, ifname)
        import shutil
        where = f"{netns}/{ifname}" if netns else ifname
        exe = shutil.which("teamd")
        if exe is None:
            raise KernelError(f"start teamd for team {where}", errno.ENOENT,
                              "teamd is not installed: install the Debian package "
                              "libteam-utils (it provides teamd and teamdctl)")
        pid_file, cfg_file = _paths(owner, netns, ifname)
        os.makedirs(os.path.dirname(pid_file), exist_ok=True)
        # a teamd left from an earlier run (its device deleted under it) holds the PID file
        # and the control socket: stop it first
        self._teamd_stop(netns, ifname, owner, wait_device=False)
        argv = [exe, "-d", "-t", ifname, "-p", pid_file,
                "-c", json.dumps(config, sort_keys=True)] + (["-o"] if take_over else [])
        import subprocess
        try:
            proc = subprocess.run(argv, preexec_fn=_entering(netns), capture_output=True,
                                  text=True, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            raise KernelError(f"start teamd for team {where}", errno.ETIMEDOUT,
                              "teamd did not report ready within 60 s") from None
        if proc.returncode != 0:
            detail = " ".join(line for line in proc.stderr.splitlines()
                              if "not intended to be run as root" not in line).strip()
            if "Operation not permitted" in detail:
                # the team driver takes teamd's settings (its generic netlink) only from
                # CAP_NET_ADMIN over the host: a user namespace (vnet's rootless sandbox)
                # cannot give that
                raise KernelError(f"start teamd for team {where}", errno.EPERM,
                                  f"teamd exited {proc.returncode}: {detail}; the team driver "
                                  "accepts teamd's settings only from CAP_NET_ADMIN over the "
                                  "host")
            raise KernelError(f"start teamd for team {where}", errno.EIO,
                              f"teamd exited {proc.returncode}: {detail or 'no message'}")
        with open(cfg_file, "w") as f:
            json.dump(config, f, sort_keys=True)

    def _teamd_stop(self, netns: str | None, ifname: str, owner: str,
                    wait_device: bool = True) -> None:
        """SIGTERM the recorded teamd (it deletes its device and releases the ports), wait for
        it, and forget its files."""
        pid_file, cfg_file = _paths(owner, netns, ifname)
        pid = _read_pid(pid_file)
        if pid and _is_teamd(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + _STOP_WAIT
            while time.monotonic() < deadline and _is_teamd(pid):
                time.sleep(0.05)
            try:  # reap it if it is our child (a subreaper's)
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if _is_teamd(pid):
                raise KernelError(f"stop teamd of team {ifname}", errno.ETIMEDOUT,
                                  f"teamd (pid {pid}) did not exit within {_STOP_WAIT:.0f} s "
                                  "of SIGTERM")
        if wait_device and netns_exists(netns):
            deadline = time.monotonic() + _STOP_WAIT
            while time.monotonic() < deadline and self._ipr(netns).link_lookup(ifname=ifname):
                time.sleep(0.05)
        for path in (pid_file, cfg_file):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def _op_teamd_start(self, netns: str | None, ifname: str, owner: str,
                        config: dict[str, Any], ports: list[list[Any]] | None = None) -> None:
        """Restart teamd for an existing team device (take it over). teamd releases the ports
        it finds as it takes over (observed), so `ports` ([name, was_up] pairs) join again:
        down, enslaved, and up again if they were."""
        from ..ownership import link_marker
        self._teamd_start(netns, ifname, link_marker(owner, ifname), config, take_over=True)
        ipr = self._ipr(netns)
        team = self._index(netns, ifname)
        for name, was_up in ports or []:
            index = self._index(netns, name)
            if ipr.link("get", index=index)[0].get_attr("IFLA_MASTER") == team:
                continue
            ipr.link("set", index=index, state="down")
            self._team_port_add(netns, name, ifname)
            if was_up:
                ipr.link("set", index=index, state="up")

    def _op_teamd_stop(self, netns: str | None, ifname: str, owner: str) -> None:
        self._teamd_stop(netns, ifname, owner)

    def _stop_teamds_in(self, netns: str) -> None:
        """Stop every teamd vnet runs in a namespace about to be deleted: a running teamd
        keeps the namespace (and its team) alive after the bind mount is gone."""
        from .. import store
        top = os.path.join(store.STATE_DIR, "teamd")
        if not os.path.isdir(top):  # no teamd ever ran: no glob per namespace of a big star
            return
        import glob
        pattern = os.path.join(top, "*", glob.escape(netns), "*.pid")
        for pid_file in glob.glob(pattern):
            owner = os.path.basename(os.path.dirname(os.path.dirname(pid_file)))
            self._teamd_stop(netns, os.path.basename(pid_file)[:-4], owner, wait_device=False)


def netns_exists(netns: str | None) -> bool:
    return netns is None or os.path.exists(os.path.join("/run/netns", netns))
