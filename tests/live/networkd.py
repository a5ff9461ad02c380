"""Run Debian's systemd-networkd on a directory of .netdev/.network files inside a fresh
network and mount namespace, and read back what it configured (tests of `vnet export`).

networkd runs there without PID 1, D-Bus or udev: the directory is bind-mounted on
/etc/systemd/network (an empty tmpfs hides the distribution's /usr/lib/systemd/network), /run
is a fresh tmpfs with /run/systemd/netif owned by `systemd-network`, and /sys is a read-only
sysfs, which networkd takes (as in a container) to mean that no udev will announce the links.
/dev/net/tun is shown with mode 0666, as udev makes it on a booted Debian (networkd drops
root before it opens it). The process is started and stopped here, by its PID.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .helpers import MS_NODEV, MS_NOEXEC, MS_NOSUID, _mount, enter_sandbox, ip_json, sh
from .reference import snapshot_all

NETWORKD = "/lib/systemd/systemd-networkd"
MS_BIND, MS_RDONLY, MS_REMOUNT = 0x1000, 0x1, 0x20
#: networkd's states of a link it has finished with (systemd's link_state_to_string)
_DONE = {"configured", "failed", "unmanaged", "linger"}


def links_here(netns: str | None = None) -> list[str]:
    """The links of this namespace (or named `netns`) but `lo`, by name."""
    return sorted(link["ifname"] for link in ip_json("link", "show", netns=netns)
                  if link["ifname"] != "lo")


Normalise = Callable[[dict[str, Any]], dict[str, Any]]
#: route fields that are configuration (the protocol is who added it: vnet, networkd)
_ROUTE_FIELDS = ("dst", "gateway", "dev", "metric", "table", "scope", "type", "prefsrc")


def state_of(netns: str | None, normalise: Normalise = lambda links: links) -> dict[str, Any]:
    """What an export must reproduce in `netns` (None: here): every link but `lo`
    (reference.snapshot_all, keyed by name, through `normalise`), the routes not made by the
    kernel itself, and the bridge VLANs of every port and bridge."""
    names = links_here(netns)
    links = {key.split("/", 1)[-1]: value for key, value in
             snapshot_all([(netns, name) for name in names]).items()}
    routes = [{k: r[k] for k in _ROUTE_FIELDS if k in r}
              for family in ("-4", "-6")
              for r in ip_json(family, "route", "show", "table", "all", netns=netns)
              if r.get("protocol") != "kernel"]
    ns = ["-n", netns] if netns else []
    vlans = {entry["ifname"]: entry.get("vlans", [])
             for entry in json.loads(sh("bridge", *ns, "-j", "vlan", "show") or "[]")}
    return {"links": normalise(links),
            "routes": sorted(routes, key=lambda r: json.dumps(r, sort_keys=True)),
            "bridge_vlans": vlans}


def _admin_states() -> dict[str, str]:
    states: dict[str, str] = {}
    by_index = {str(link["ifindex"]): link["ifname"] for link in ip_json("link", "show")}
    folder = Path("/run/systemd/netif/links")
    for file in folder.iterdir() if folder.is_dir() else []:
        if file.name not in by_index:  # networkd's temporary files among them
            continue
        try:
            text = file.read_text()
        except FileNotFoundError:  # networkd replaced or removed it meanwhile: next poll
            continue
        for line in text.splitlines():
            if line.startswith("ADMIN_STATE="):
                states[by_index[file.name]] = line.split("=", 1)[1]
    return states


def _prepare(config: Path, scratch: Path) -> None:
    enter_sandbox()
    # the sandbox's own sysfs, made read-only for this mount only
    _mount(None, "/sys", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
           | MS_NOEXEC)
    _mount(str(config), "/etc/systemd/network", None, MS_BIND)
    _mount("tmpfs", "/usr/lib/systemd/network", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    netif = Path("/run/systemd/netif")
    netif.mkdir(parents=True)
    user = pwd.getpwnam("systemd-network")
    os.chown(netif, user.pw_uid, user.pw_gid)
    if os.path.exists("/dev/net/tun"):  # it appears with the tun module (a VM loads it late)
        tun = scratch / "tun"
        os.mknod(tun, 0o666 | 0o020000, os.makedev(10, 200))
        os.chmod(tun, 0o666)
        _mount(str(tun), "/dev/net/tun", None, MS_BIND)


def _run_networkd(expected: list[str], wanted: dict[str, Any], timeout: float, log: Path,
                  normalise: Normalise) -> dict[str, Any]:
    with open(log, "wb") as out:
        proc = subprocess.Popen([NETWORKD], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            # done: networkd says so, or the state is the one wanted (an IPv6 address on a
            # link without carrier keeps networkd "configuring" while DAD cannot finish)
            states = _admin_states()
            snapshot = state_of(None, normalise)
            settled = all(states.get(name) in _DONE for name in expected)
            working = all(states.get(name) in _DONE | {"configuring"} for name in expected)
            if settled or (working and snapshot == wanted) or proc.poll() is not None or \
                    time.monotonic() > deadline:
                return {"states": states, "state": snapshot}
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def networkd_result(files: dict[str, str], expected: list[str], wanted: dict[str, Any],
                    timeout: float = 60, normalise: Normalise = lambda links: links
                    ) -> dict[str, Any]:
    """Write `files` into a directory, run networkd on them in a fresh sandbox (a forked
    child) until every link of `expected` is done (configured, or failed) or the links are
    as `wanted` (a `state_of`), and return what it left: {"states": name -> networkd's
    admin state, "state": `state_of` this namespace, "log": networkd's output}."""
    with tempfile.TemporaryDirectory(prefix="vnet-networkd-") as tmp:
        config, scratch = Path(tmp, "network"), Path(tmp)
        os.chmod(tmp, 0o755)  # networkd reads its files as systemd-network
        config.mkdir()
        for name, text in files.items():
            (config / name).write_text(text)
        os.chmod(config, 0o755)
        for file in config.iterdir():
            os.chmod(file, 0o644)
        log, answer = scratch / "networkd.log", scratch / "result.json"
        pid = os.fork()
        if pid == 0:  # the child: its own namespaces, networkd, the answer in a file
            code = 1
            try:
                _prepare(config, scratch)
                state = _run_networkd(expected, wanted, timeout, log, normalise)
                answer.write_text(json.dumps(state))
                code = 0
            except BaseException as error:  # noqa: BLE001 - nothing may escape a forked child
                answer.write_text(json.dumps({"error": repr(error)}))
            finally:
                os._exit(code)
        os.waitpid(pid, 0)
        result = json.loads(answer.read_text())
        result["log"] = log.read_text(errors="replace") if log.exists() else ""
    if "error" in result:
        raise AssertionError(f"running networkd failed: {result['error']}\n{result['log']}")
    return dict(result)
