"""A file across the hosts of an Ansible inventory: plan, apply (two-phase), destroy.

vnet plans centrally (`split.split_topology`), then Ansible carries each host's part to it
and runs the module `vnet.net.vnet_topology` there (ansible-runner drives ansible-playbook:
the inventory, SSH, privilege escalation and forks are Ansible's). Apply is two-phase: every
host plans its part in check mode; only when every host planned clean does every host apply;
when a host fails to apply, the hosts that applied are taken back (their part destroyed) and
the report names the host and vnet's message there (the action and the kernel's error).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import weakref
from pathlib import Path
from typing import Any

from ..datatypes import datatype, field
from ..declare import SecretStr
from ..errors import VnetError
from ..kinds.base import InterfaceBase
from ..topology import Topology
from .rules import crosses
from .spec import underlay_address
from .split import Split, split_topology

#: the module every host runs, from the collection in the repository's `ansible/` directory
MODULE = "vnet.net.vnet_topology"
COLLECTIONS_ENV = "VNET_ANSIBLE_COLLECTIONS"


@datatype
class HostResult:
    """What one host answered."""

    host: str
    changed: bool = False
    failed: bool = False
    msg: str = ""
    plan_text: str = ""
    #: the module's plan (`vnet plan --json`'s shape)
    plan: dict[str, Any] = field(default_factory=dict)
    #: nothing of the topology was live on the host before
    fresh: bool = False


@datatype
class AcrossResult:
    """The outcome across hosts: per phase, per host."""

    topology: str
    notes: list[str] = field(default_factory=list)
    planned: dict[str, HostResult] = field(default_factory=dict)
    applied: dict[str, HostResult] = field(default_factory=dict)
    rolled_back: dict[str, HostResult] = field(default_factory=dict)
    #: hosts that applied but held an earlier version of the topology: not rolled back
    kept: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[HostResult]:
        """The hosts that failed, in the last phase that ran."""
        last = self.applied or self.planned
        return [r for r in last.values() if r.failed]

    @property
    def changed(self) -> bool:
        return any(r.changed for r in (self.applied or self.planned).values())

    def text(self) -> str:
        """The report, grouped by host."""
        lines = [f"Topology {self.topology} across {len(self.planned)} hosts."]
        lines += [f"tunnel {note}" for note in self.notes]
        phase = self.applied or self.planned
        for host, res in phase.items():
            lines.append(f"== {host} ==")
            if res.failed:
                lines.append(f"FAILED on {host}: {res.msg}")
            else:
                lines.append(res.plan_text.rstrip("\n") or "(nothing)")
        for host, res in self.rolled_back.items():
            state = f"failed: {res.msg}" if res.failed else "done"
            lines.append(f"rolled back on {host}: {state}")
        for host in self.kept:
            lines.append(f"not rolled back on {host}: it held an earlier version of "
                         f"{self.topology}, which vnet cannot put back across hosts yet; "
                         "apply the file again when the failure is fixed")
        return "\n".join(lines) + "\n"


def _collections() -> Path:
    given = os.environ.get(COLLECTIONS_ENV)
    path = Path(given) if given else Path(__file__).resolve().parents[3] / "ansible"
    if not (path / "ansible_collections" / "vnet" / "net").is_dir():
        raise VnetError(f"the Ansible collection vnet.net is not at {path}; set "
                        f"{COLLECTIONS_ENV} to the directory that holds ansible_collections/"
                        "vnet/net (the repository's ansible/ directory)")
    return path


#: the key of the placeholder that stands for a secret in a host's part (`part_data`)
SECRET_REF = "vnet_secret"


def _plain(value: Any, secrets: dict[str, str] | None = None) -> Any:
    """`value` as plain data; each secret moved into `secrets` (when given) and replaced by
    a placeholder {SECRET_REF: id}, which the module on the host fills from its no_log
    parameter `secrets`."""
    if isinstance(value, SecretStr):
        if secrets is None:
            raise VnetError("a file that spans hosts cannot carry MACsec keys yet; put the "
                            "MACsec links in a single-host file")
        ref = f"s{len(secrets)}"
        secrets[ref] = value.get_secret_value()
        return {SECRET_REF: ref}
    if isinstance(value, dict):
        return {k: _plain(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, secrets) for v in value]
    return value


def _iface_data(iface: InterfaceBase, secrets: dict[str, str] | None = None) -> dict[str, Any]:
    data = iface.model_dump(exclude_unset=True, by_alias=True, exclude={"host", "via", "span"})
    peer = getattr(iface, "peer", None)
    if peer is not None:
        data["peer"] = peer.model_dump(exclude_unset=True, by_alias=True, exclude={"host"})
    # the keys vnet derives for a WireGuard link between hosts travel apart, hidden
    return dict(_plain(data, secrets if iface.kind_name == "wireguard" else None))


def part_data(part: Topology, secrets: dict[str, str] | None = None) -> dict[str, Any]:
    """One host's topology as file data, for the module on that host; the keys of its
    WireGuard links go into `secrets` (id -> key), placeholders standing for them. Its
    checks stay behind: they may name addresses on other hosts (checks across hosts are
    not run yet)."""
    return {
        "name": part.name,
        "namespaces": list(part.namespaces),
        "interfaces": [_iface_data(i, secrets) for i in part.interfaces] +
                      [_plain(e.model_dump(exclude_unset=True, exclude={"host"}))
                       for e in part.externals],
        "routes": [_plain(r.model_dump(exclude_unset=True, exclude={"host"}))
                   for r in part.routes],
    }


def _results(runner: Any) -> dict[str, HostResult]:
    out: dict[str, HostResult] = {}
    for event in runner.events:
        data = event.get("event_data", {})
        kind = event.get("event")
        if data.get("task") != "vnet" or kind not in (
                "runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            continue
        res = data.get("res", {})
        failed = kind != "runner_on_ok"
        msg = str(res.get("msg", "")) if failed else ""
        if kind == "runner_on_unreachable":
            msg = f"unreachable: {msg}"
        plan = res.get("plan")
        out[data["host"]] = HostResult(data["host"], bool(res.get("changed")), failed, msg,
                                       str(res.get("plan_text", "")),
                                       plan if isinstance(plan, dict) else {},
                                       res.get("existed") is False)
    return out


#: the longest directory for SSH control sockets: a socket's name holds 108 bytes, and Ansible
#: adds a 10-character name and ssh a 17-character temporary suffix
_CONTROL_DIR_MAX = 108 - 1 - 10 - 17


class _Playbooks:
    """Plays run through one inventory, each in its own directory of a work directory."""

    def __init__(self, inventory: Path, workdir: Path | None = None) -> None:
        if not inventory.exists():
            raise VnetError(f"inventory {inventory} does not exist; give the Ansible "
                            "inventory that names the file's hosts")
        self.inventory = inventory
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="vnet-across-"))
        self._runs = 0
        # SSH control sockets, reused from one play to the next: beside the plays, unless
        # that path is too long for a socket's name (108 bytes, with Ansible's 10-character
        # name and ssh's 17-character temporary suffix), then in a short directory of the
        # temporary directory (/tmp if that one's name is long too), removed with this object
        self.control_dir = self.workdir / "cp"
        if len(str(self.control_dir)) > _CONTROL_DIR_MAX:
            short = tempfile.gettempdir()
            self.control_dir = Path(tempfile.mkdtemp(
                prefix="vnet-cp-", dir=short if len(short) <= _CONTROL_DIR_MAX - 20 else "/tmp"))
            weakref.finalize(self, shutil.rmtree, self.control_dir, True)

    def play(self, hosts: list[str], task: dict[str, Any], extravars: dict[str, Any],
             check: bool = False, secret_vars: dict[str, Any] | None = None) -> Any:
        """One play of one task named "vnet" on `hosts`; the ansible-runner Runner.
        `secret_vars` reach Ansible in a file only its owner reads (env/extravars, removed
        after the play), never on a command line (extravars go there)."""
        try:
            import ansible_runner
        except ImportError:
            raise VnetError("--inventory runs Ansible, which is not installed for this "
                            "Python; install it: pip install 'vnet[hosts]' (ansible-core and "
                            "ansible-runner)") from None
        self._runs += 1
        private = self.workdir / f"run{self._runs}"
        private.mkdir(parents=True)
        playbook = private / "vnet.yml"
        hidden = private / "env" / "extravars"
        if secret_vars:
            hidden.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(secret_vars, fh)
        playbook.write_text(json.dumps([{"hosts": ",".join(hosts), "gather_facts": False,
                                         "tasks": [{"name": "vnet", **task}]}]))
        envvars = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_COLLECTIONS_PATH": str(_collections()),
            "ANSIBLE_NOCOLOR": "1",
            # Ansible's own scratch files beside the run's, and its SSH control sockets beside
            # this command's plays (reused from one play to the next), not under ~/.ansible:
            # a home that is read-only, as in a VM over the host's files, stops every play
            "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": os.environ.get("ANSIBLE_SSH_CONTROL_PATH_DIR")
                                            or str(self.control_dir),
        }
        try:
            return ansible_runner.run(
                private_data_dir=str(private), playbook=str(playbook),
                inventory=str(self.inventory), extravars=extravars, envvars=envvars,
                quiet=True, cmdline="--check" if check else None)
        finally:
            hidden.unlink(missing_ok=True)


def read_underlays(topo: Topology, books: _Playbooks) -> dict[str, str]:
    """The address of each host whose `underlay:` names an interface, read on that host
    (its first global address, IPv4 first)."""
    devices = {h.name: h.underlay for h in topo.hosts if underlay_address(h.underlay) is None}
    if not devices:
        return {}
    runner = books.play(list(devices), {"ansible.builtin.command": {"argv": [
        "ip", "-j", "address", "show", "dev", "{{ vnet_underlays[inventory_hostname] }}"]},
        "changed_when": False}, {"vnet_underlays": devices})
    found: dict[str, str] = {}
    problems: list[str] = []
    for event in runner.events:
        data = event.get("event_data", {})
        if data.get("task") != "vnet" or "host" not in data:
            continue
        host, res = data["host"], data.get("res", {})
        if event.get("event") != "runner_on_ok":
            if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
                problems.append(f"{host}: {res.get('stderr') or res.get('msg', '')}".strip())
            continue
        infos = [a for link in json.loads(res.get("stdout") or "[]")
                 for a in link.get("addr_info", []) if a.get("scope") == "global"]
        infos.sort(key=lambda a: a.get("family") != "inet")
        if infos:
            found[host] = infos[0]["local"]
        else:
            problems.append(f"{host}: {devices[host]} has no global address")
    for host in devices:
        if host not in found and not any(p.startswith(f"{host}:") for p in problems):
            problems.append(f"{host}: no answer (is it in the inventory {books.inventory}?)")
    if problems:
        raise VnetError("cannot read the underlay address of " + "; ".join(problems) +
                        "; give the hosts' underlay addresses in the file instead")
    return found


def _ansible_said(runner: Any, lines: int = 6) -> str:
    """The last lines ansible-playbook printed (its own error when no task ran)."""
    try:
        text = runner.stdout.read()
    except (AttributeError, OSError, ValueError):
        return f"(no output; status {getattr(runner, 'status', '?')})"
    said = [line.strip() for line in str(text).splitlines() if line.strip()]
    return " | ".join(said[-lines:]) or f"(no output; status {runner.status})"


class Across:
    """Runs the module on the hosts of a split file through one inventory."""

    def __init__(self, split: Split, books: _Playbooks) -> None:
        self.split = split
        self.books = books
        self.inventory = books.inventory
        #: per host, the keys its part's placeholders stand for (sent as a no_log parameter)
        self.secrets: dict[str, dict[str, str]] = {host: {} for host in split.hosts}
        self.parts = {host: part_data(part, self.secrets[host])
                      for host, part in split.hosts.items()}

    def run(self, hosts: list[str], state: str, check: bool) -> dict[str, HostResult]:
        """The module on `hosts` (each with its part); host -> result. A host that gives no
        answer at all is a failure."""
        args: dict[str, Any] = {"state": state}
        secret_vars = None
        if state == "present":
            args["topology"] = "{{ vnet_parts[inventory_hostname] }}"
            if any(self.secrets.values()):
                args["secrets"] = "{{ vnet_secrets[inventory_hostname] }}"
                secret_vars = {"vnet_secrets": self.secrets}
        else:
            args["name"] = next(iter(self.parts.values()))["name"]
        runner = self.books.play(hosts, {MODULE: args}, {"vnet_parts": self.parts}, check,
                                 secret_vars)
        found = _results(runner)
        for host in hosts:
            if host not in found:
                found[host] = HostResult(host, failed=True,
                                         msg="no answer from the host (is it in the "
                                             f"inventory {self.inventory}?); Ansible said: "
                                             f"{_ansible_said(runner)}")
        return {h: found[h] for h in hosts}


def secret_file(topo: Topology, inventory: Path) -> Path:
    """Where the secret of `topo`'s WireGuard keys lives: beside the inventory (a file the
    user controls and keeps as long as the hosts keep the topology), hidden, mode 0600."""
    return inventory.resolve().parent / f".vnet-{topo.name}.wireguard-secret"


def read_wireguard_secret(topo: Topology, inventory: Path) -> bytes | None:
    """The secret the keys of `topo`'s WireGuard links between hosts are derived from, made
    (32 random bytes, in hex) the first time; None when the file has no such link."""
    if not any(getattr(i, "via", None) == "wireguard" and crosses(topo, i)
               for i in topo.interfaces):
        return None
    path = secret_file(topo, inventory)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise VnetError(f"cannot make the WireGuard secret file {path}: {exc.strerror}; make "
                        "the inventory's folder writable, or write 64 random hex digits into "
                        "that file (mode 0600)") from None
    else:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(os.urandom(32).hex() + "\n")
    from ..secrets import read_key_file
    try:
        secret = read_key_file(path)
    except ValueError as exc:
        raise VnetError(f"{exc} (the secret vnet derives the WireGuard keys of "
                        f"{topo.name!r} from)") from None
    return bytes.fromhex(secret.get_secret_value())


def _across(topo: Topology, inventory: Path) -> Across:
    books = _Playbooks(inventory)
    return Across(split_topology(topo, read_underlays(topo, books),
                                 read_wireguard_secret(topo, inventory)), books)


def plan_across(topo: Topology, inventory: Path) -> AcrossResult:
    """Every host plans its part in check mode; nothing changes."""
    across = _across(topo, inventory)
    split = across.split
    result = AcrossResult(topo.name, split.notes())
    result.planned = across.run(list(split.hosts), "present", check=True)
    return result


def apply_across(topo: Topology, inventory: Path) -> AcrossResult:
    """Two-phase: every host plans clean, then every host applies; when one fails, the
    hosts that applied are rolled back: their part destroyed when it was new there (a host
    that held an earlier version keeps what it applied, and the report says so)."""
    across = _across(topo, inventory)
    split = across.split
    hosts = list(split.hosts)
    result = AcrossResult(topo.name, split.notes())
    result.planned = across.run(hosts, "present", check=True)
    if any(r.failed for r in result.planned.values()):
        return result
    result.applied = across.run(hosts, "present", check=False)
    if any(r.failed for r in result.applied.values()):
        done = [h for h, r in result.applied.items() if not r.failed and r.changed]
        fresh = [h for h in done if result.planned[h].fresh]
        result.kept = [h for h in done if h not in fresh]
        if fresh:
            result.rolled_back = across.run(fresh, "absent", check=False)
    return result


def destroy_across(topo: Topology, inventory: Path) -> AcrossResult:
    """Every host destroys its part."""
    across = _across(topo, inventory)
    split = across.split
    result = AcrossResult(topo.name, split.notes())
    result.planned = across.run(list(split.hosts), "absent", check=False)
    return result


#: the probes that need something of their target's namespace (a listener, a receiver)
_NEEDS_TARGET = frozenset({"tcp", "udp", "rate", "can", "nlmon"})


@datatype
class AcrossChecks:
    """The file's checks across hosts: per host, vnet check --json's results."""

    topology: str
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # host -> why it gave no results

    @property
    def passed(self) -> bool:
        return not self.problems and all(r["passed"] for rs in self.results.values()
                                         for r in rs)

    def text(self) -> str:
        """The report, grouped by host."""
        lines = [f"Checks of {self.topology} across {len(self.results)} hosts."]
        for host, results in self.results.items():
            lines.append(f"== {host} ==")
            for r in results:
                verdict = "PASS" if r["passed"] else "FAIL"
                lines.append(f"{verdict} {r['check']}: {r['from']} -> {r['to']} "
                             f"(expected {r['expected']}, observed {r['observed']})")
            if host in self.problems:
                lines.append(f"FAILED on {host}: {self.problems[host]}")
        return "\n".join(lines) + "\n"


def probes_by_host(topo: Topology) -> dict[str, list[dict[str, Any]]]:
    """The file's checks resolved against the whole file, each to run on the host of the
    namespace it starts from. A check whose other end must be on that host too (a listener,
    a receiver, a watched or failed-over interface) and is not: VnetError."""
    from ..checks import resolve_checks
    from ..datatypes import asdict
    from ..errors import Collector
    from .rules import netns_host
    issues = Collector()
    probes = resolve_checks(topo, issues)
    issues.raise_if_any()
    out: dict[str, list[dict[str, Any]]] = {}
    for probe in probes:
        host = netns_host(topo, probe.src_ns)
        assert host is not None
        others = [probe.encap_ns, probe.failover_ns] + (
            [probe.dst_ns] if probe.probe in _NEEDS_TARGET else [])
        elsewhere = [ns for ns in others if ns is not None and netns_host(topo, ns) != host]
        if elsewhere:
            raise VnetError(f"check {probe.label!r} starts on host {host} but needs namespace "
                            f"{elsewhere[0]} on host {netns_host(topo, elsewhere[0])}; across "
                            "hosts vnet runs pings and mtu checks only for now")
        out.setdefault(host, []).append(asdict(probe))
    return out


def check_across(topo: Topology, inventory: Path) -> AcrossChecks:
    """Every check runs on the host of the namespace it starts from, with real packets (the
    module vnet.net.vnet_check)."""
    by_host = probes_by_host(topo)
    result = AcrossChecks(topo.name)
    if not by_host:
        return result
    books = _Playbooks(inventory)
    runner = books.play(list(by_host), {"vnet.net.vnet_check": {
        "probes": "{{ vnet_probes[inventory_hostname] }}"}}, {"vnet_probes": by_host})
    for event in runner.events:
        data = event.get("event_data", {})
        if data.get("task") != "vnet" or event.get("event") not in (
                "runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            continue
        res = data.get("res", {})
        if "results" in res:
            result.results[data["host"]] = list(res["results"])
        else:
            result.problems[data["host"]] = str(res.get("msg", "no results"))
    for host in by_host:
        if host not in result.results and host not in result.problems:
            result.problems[host] = f"no answer (is it in the inventory {inventory}?)"
    return result


@datatype
class AcrossShow:
    """`vnet show` of a file's topology on each of its hosts: per host, what `vnet show NAME
    --json` printed there (parsed), or why it printed nothing."""

    topology: str
    shown: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # host -> vnet's (or Ansible's) message


def show_across(topo: Topology, inventory: Path, counters: bool = False,
                options: bool = False) -> AcrossShow:
    """Every host of `topo` shows its part of it live (`vnet show NAME --json` run there by
    Ansible with the host's Python: vnet must be importable by it, as for the module), with
    each interface's options as that host's kernel holds them if `options`."""
    hosts = [h.name for h in topo.hosts]
    result = AcrossShow(topo.name)
    if not hosts:
        raise VnetError(f"{topo.source or topo.name} names no hosts: show it without "
                        "--inventory")
    argv = ["{{ ansible_python_interpreter | default('python3') }}", "-m", "vnet", "show",
            topo.name, "--json", *(["--stats"] if counters else []),
            *(["--options"] if options else [])]
    runner = _Playbooks(inventory).play(hosts, {"ansible.builtin.command": {"argv": argv},
                                                "changed_when": False}, {})
    for event in runner.events:
        data = event.get("event_data", {})
        if data.get("task") != "vnet" or event.get("event") not in (
                "runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            continue
        host, res = data["host"], data.get("res", {})
        try:
            said = dict(json.loads(res["stdout"]))
        except (KeyError, TypeError, ValueError):  # no vnet there, or unreachable
            said = {"messages": [str(res.get("stderr") or res.get("msg") or "no answer")]}
        if "topology" in said:
            result.shown[host] = said
        else:  # vnet's error as --json gives it
            result.problems[host] = " ".join(str(m) for m in said.get("messages", [said]))
    for host in hosts:
        if host not in result.shown and host not in result.problems:
            result.problems[host] = (f"no answer (is it in the inventory {inventory}?); "
                                     f"Ansible said: {_ansible_said(runner)}")
    return result
