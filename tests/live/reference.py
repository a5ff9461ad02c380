"""Compare the kernel state vnet builds with the state the reference `ip` commands build.

Each live test states the iproute2 commands whose result `vnet apply` must equal (those each
kind file's docstring, src/vnet/kinds/KIND.py, names). A snapshot keeps everything
`ip -d -j link show` and `ip -j addr show` report about an interface except what is random or
changes with time on its own:

- ifindex, link_index and link_netnsid are numbers the kernel hands out in creation order; the
  peer/parent they point at is kept as a *name* (`link` = ifname, `link_netns` = namespace name)
- the MAC (`address`, `perm_address`, and the bridge/root ids that embed it) is random unless
  the test fixes it (`keep_mac=True`)
- carrier and operational state (LOWER_UP, NO-CARRIER, M-DOWN, operstate) follow the peer and
  STP timers, not the configuration: right after `up` they are still settling
- STP timers, port numbers and port STP states, statistics, altnames (vnet adds its ownership
  mark as an altname)
- the link group, where it is a topology's own (`ownership.link_group`, 0x76000000 and up:
  vnet puts the links it creates there, so that a teardown deletes them in one call); any
  other group counts. tests/live/test_backend_shortcuts.py checks the exact group. The
  altname and the group are vnet's only intended differences
- address lifetimes, DAD progress (tentative) and kernel-made fe80:: link-local addresses
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import vnet

from .helpers import CommandError, sh

# Link fields that are numbering, randomness or counters, never configuration.
_VOLATILE_LINK = {
    "ifindex", "link_index", "link_netnsid", "operstate", "altnames", "stats", "stats64",
    "carrier_changes", "carrier_up_count", "carrier_down_count", "perm_address",
}
_MAC_FIELDS = {"address"}
# Flags that report carrier, which settles asynchronously after `up`.
_VOLATILE_FLAGS = {"LOWER_UP", "NO-CARRIER", "M-DOWN", "DORMANT"}
# info_data keys that are STP runtime state or embed a random MAC (a bridge's own id).
_VOLATILE_INFO = {
    "bridge_id", "root_id", "root_port", "root_path_cost", "topology_change",
    "topology_change_detected",
}
# info_slave_data (a bridge port): its STP state and the port number given in enslaving order.
_VOLATILE_SLAVE_INFO = _VOLATILE_INFO | {"topology_change_ack", "config_pending", "state",
                                         "id", "no"}
# Address attributes that change by themselves (lifetimes, DAD progress).
_VOLATILE_ADDR = {"valid_life_time", "preferred_life_time", "tentative", "optimistic",
                  "dadfailed", "deprecated"}
_UNNAMED = "(the test's own namespace)"


def _topology_group(group: Any) -> bool:
    """Whether `ip -j` reports a topology's own link group (a number, 0x76xxxxxx)."""
    return str(group).isdigit() and 0x76000000 <= int(group) <= 0x76FFFFFF


def _ip(netns: str | None, *args: str) -> Any:
    ns = ["-n", netns] if netns else []
    return json.loads(sh("ip", *ns, "-j", *args) or "[]")


def _nsid_names(netns: str | None) -> dict[int, str]:
    """Namespace ids as seen from `netns` → namespace names (ids are per viewing namespace)."""
    return {entry["nsid"]: entry.get("name") or _UNNAMED
            for entry in _ip(netns, "netns", "list-id") if "nsid" in entry}


def _name_of_index(netns: str | None, index: int) -> str:
    for link in _ip(None if netns == _UNNAMED else netns, "link", "show"):
        if link.get("ifindex") == index:
            return str(link["ifname"])
    return f"(no link with index {index})"


def _clean_info(data: dict[str, Any], volatile: set[str]) -> dict[str, Any]:
    return {k: v for k, v in data.items()
            if k not in volatile and not k.endswith("_timer") and "designated" not in k}


def _clean_link(link: dict[str, Any], netns: str | None, keep_mac: bool) -> dict[str, Any]:
    out = {k: v for k, v in link.items()
           if k not in _VOLATILE_LINK and (keep_mac or k not in _MAC_FIELDS)}
    if _topology_group(out.get("group")):
        out["group"] = "default"
    out["flags"] = sorted(f for f in link.get("flags", []) if f not in _VOLATILE_FLAGS)
    # The peer or parent, by name: for a same-namespace link `ip` already prints `link`.
    if "link_index" in link and "link" not in link:
        if "link_netnsid" in link:
            other = _nsid_names(netns).get(link["link_netnsid"], _UNNAMED)
            out["link_netns"] = other
            out["link"] = _name_of_index(other, link["link_index"])
        else:
            out["link"] = _name_of_index(netns, link["link_index"])
    info = dict(link.get("linkinfo", {}))
    for key, volatile in (("info_data", _VOLATILE_INFO),
                          ("info_slave_data", _VOLATILE_SLAVE_INFO)):
        if isinstance(info.get(key), dict):
            info[key] = _clean_info(info[key], volatile)
    if info:
        out["linkinfo"] = info
    return out


def _clean_addresses(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for addr in entries:
        if addr.get("family") == "inet6" and addr.get("scope") == "link" and \
                str(addr.get("local", "")).startswith("fe80:"):
            continue  # made by the kernel from the (random) MAC
        out.append({k: v for k, v in addr.items() if k not in _VOLATILE_ADDR})
    return sorted(out, key=lambda a: json.dumps(a, sort_keys=True))


def snapshot(netns: str | None, names: list[str], keep_mac: bool = False) -> dict[str, dict]:
    """The configuration of interfaces `names` in namespace `netns` (None: the test's own).

    Each value is {"link": ..., "addresses": [...]}, or {"absent": True} for a missing one.
    """
    result: dict[str, dict] = {}
    for name in names:
        try:
            links = _ip(netns, "-d", "link", "show", "dev", name)
            addrs = _ip(netns, "addr", "show", "dev", name)
        except CommandError as error:
            result[name] = {"absent": True, "error": error.stderr.strip()}
            continue
        result[name] = {
            "link": _clean_link(links[0], netns, keep_mac),
            "addresses": _clean_addresses(addrs[0].get("addr_info", []) if addrs else []),
        }
    return result


def snapshot_all(ifaces: Sequence[tuple[str | None, str]], keep_mac: bool = False
                 ) -> dict[str, dict]:
    """`snapshot` of several (netns, name) pairs, keyed "netns/name" (or "name")."""
    out: dict[str, dict] = {}
    for ns, name in ifaces:
        out[f"{ns}/{name}" if ns else name] = snapshot(ns, [name], keep_mac)[name]
    return out


def diff_text(expected: Any, actual: Any, expected_label: str = "reference (ip commands)",
              actual_label: str = "vnet apply") -> str:
    """A unified diff of two JSON-able values; empty when equal."""
    left = json.dumps(expected, indent=1, sort_keys=True).splitlines()
    right = json.dumps(actual, indent=1, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(left, right, expected_label, actual_label, lineterm=""))


def _remove(netns_names: Sequence[str], ifaces: Sequence[tuple[str | None, str]]) -> None:
    """Delete what the reference commands made: the links here, then the namespaces."""
    for ns, name in ifaces:
        if ns is None:
            try:
                sh("ip", "link", "del", "dev", name)
            except CommandError:
                pass  # a veth end goes with its peer
    for ns in netns_names:
        sh("ip", "netns", "del", ns)
    leftover = [name for ns, name in ifaces if ns is None and name in
                {link["ifname"] for link in _ip(None, "link", "show")}]
    assert not leftover, f"the reference objects could not be removed: {leftover}"


def assert_matches_reference(vnet_yaml: str, reference_cmds: list[list[str]],
                             netns_names: list[str], ifaces: list[tuple[str | None, str]],
                             keep_mac: bool = False) -> None:
    """Kernel state after `vnet apply` of `vnet_yaml` equals the state after `reference_cmds`.

    `netns_names` are created before the reference commands run (unless a command adds them
    itself) and deleted after; `ifaces` are the (netns, name) pairs compared. vnet's topology
    is destroyed at the end, whatever the outcome.
    """
    made_by_cmds = {cmd[3] for cmd in reference_cmds if cmd[:3] == ["ip", "netns", "add"]}
    for ns in netns_names:
        if ns not in made_by_cmds:
            sh("ip", "netns", "add", ns)
    try:
        for cmd in reference_cmds:
            sh(*cmd)
        expected = snapshot_all(ifaces, keep_mac)
    finally:
        _remove(netns_names, ifaces)
    topo = vnet.load_text(vnet_yaml)
    try:
        topo.apply()
        actual = snapshot_all(ifaces, keep_mac)
    finally:
        topo.destroy()
    if expected != actual:
        raise AssertionError("kernel state after vnet apply differs from the reference ip "
                             "commands:\n" + diff_text(expected, actual))


def kernel_snapshot() -> dict[str, Any]:
    """Everything observable here and in every named namespace: links (MACs kept: nothing is
    re-created between two snapshots of one test), addresses, routes of every table, and the
    named namespaces. For "the kernel is exactly as before" checks."""
    spaces: list[str | None] = [None, *sorted(ns["name"] for ns in _ip(None, "netns", "list"))]
    out: dict[str, Any] = {"netns": spaces[1:]}
    for ns in spaces:
        links = {link["ifname"]: _clean_link(link, ns, keep_mac=True)
                 for link in _ip(ns, "-d", "link", "show")}
        for link in _ip(ns, "addr", "show"):
            links[link["ifname"]]["addresses"] = _clean_addresses(link.get("addr_info", []))
        # without the local routes of kernel-made link-local addresses, as the addresses
        # themselves: a link set down and up gets one from its MAC of that moment (a bridge's
        # follows its ports), and only after duplicate address detection
        routes = [r for family in ("-4", "-6")
                  for r in _ip(ns, family, "route", "show", "table", "all")
                  if not _kernel_made(r)]
        out[ns or "(here)"] = {
            "links": links,
            "routes": sorted(json.dumps(_steady(r), sort_keys=True) for r in routes),
        }
    return out


#: route protocols that say who added a route, not what it is: vnet's own mark (118) and
#: what `ip route add` gives by default (boot)
_ROUTE_MAKERS = {"118", "boot"}
#: a bond's and its ports' runtime, not configuration (as tests/live/test_bond.py says): which
#: port is active now, a port's link and failure count as miimon last saw them, and a port's
#: own (random) MAC
_BOND_RUNTIME = {"active_slave", "mii_status", "link_failure_count", "perm_hwaddr"}
#: FDB states of entries someone configured (the others are learned from traffic)
_STATIC_FDB = {"permanent", "static", "noarp"}


def _json(argv: Sequence[str]) -> Any:
    """`argv`'s JSON answer, or its lines where it prints text though asked for JSON (tc
    1.x prints a tbf class so)."""
    try:
        text = sh(*argv).strip()
    except CommandError as error:
        return [{"error": error.stderr.strip()}]
    try:
        return json.loads(text or "[]")
    except json.JSONDecodeError:
        return [{"text": line.strip()} for line in text.splitlines()]


def _kernel_made(route: dict[str, Any]) -> bool:
    """The local route of a link-local address the kernel made from a (random) MAC, and
    IPv6's own per-link routes (fe80::/64, ff00::/8), which addrconf adds when it gets to a
    link that came up: read right after the links are made, one may be there yet and not
    another (the link-local addresses are left out as well)."""
    dst = str(route.get("dst", ""))
    if route.get("type") == "local" and dst.startswith("fe80:"):
        return True
    return route.get("protocol") == "kernel" and (dst == "fe80::/64" or dst == "ff00::/8")


def _auto_handles(text: str) -> str:
    """tc handles the kernel picks (8000: and up, in creation order across the machine)."""
    return re.sub(r"\b8[0-9a-f]{3}:", "(auto):", text)


def _steady(route: dict[str, Any]) -> dict[str, Any]:
    """`route` without what changes by itself: its remaining lifetime, and the `linkdown`
    flag, the kernel's note of its device's carrier at the last carrier event (the carrier
    is volatile on the link too, _VOLATILE_FLAGS; how the note ends up after a bridge's ports
    come and go depends on the order of those events)."""
    cleaned = {k: v for k, v in route.items() if k != "expires"}
    if "flags" in cleaned:
        cleaned["flags"] = [f for f in cleaned["flags"] if f != "linkdown"]
    return cleaned


def _route_key(route: dict[str, Any]) -> str:
    cleaned = _steady(route)
    if str(cleaned.get("protocol")) in _ROUTE_MAKERS:
        del cleaned["protocol"]
    return json.dumps(cleaned, sort_keys=True)


def _tc_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in ("stats", "stats64", "xstats")}


def full_state(keep_macs: Iterable[tuple[str | None, str]] = ()) -> dict[str, Any]:
    """The whole configuration this sandbox holds, here and in every named namespace, for
    "built the same way" comparisons: links (kinds, every kind option, masters, MTUs,
    states), addresses, routes of every table, bridge VLANs, static FDB entries with a
    remote `dst` (the kernel's own entries carry random MACs, learned ones follow traffic),
    qdiscs, tc classes and filters. MACs are kept only for the links in `keep_macs`
    ((netns, name): the file fixes them); vnet's ownership marks (altnames, link group, route
    protocol 118) are left out."""
    keep = set(keep_macs)
    spaces: list[str | None] = [None, *sorted(ns["name"] for ns in _ip(None, "netns", "list"))]
    out: dict[str, Any] = {"netns": spaces[1:]}
    for ns in spaces:
        n = ["-n", ns] if ns else []
        raw = _ip(ns, "-d", "link", "show")
        links = {link["ifname"]: _clean_link(link, ns, keep_mac=(ns, link["ifname"]) in keep)
                 for link in raw}
        for link in links.values():
            info = link.get("linkinfo", {})
            for key in ("info_data", "info_slave_data"):
                if isinstance(info.get(key), dict):
                    info[key] = {k: v for k, v in info[key].items() if k not in _BOND_RUNTIME}
        for link in _ip(ns, "addr", "show"):
            links[link["ifname"]]["addresses"] = _clean_addresses(link.get("addr_info", []))
        for name in links:
            links[name]["qdiscs"] = sorted(
                _auto_handles(json.dumps(_tc_entry(q), sort_keys=True))
                for q in _json(["tc", *n, "-j", "qdisc", "show", "dev", name]))
            links[name]["classes"] = sorted(
                _auto_handles(json.dumps(_tc_entry(c), sort_keys=True))
                for c in _json(["tc", *n, "-j", "class", "show", "dev", name]))
            links[name]["ingress_filters"] = sorted(
                _auto_handles(json.dumps(_tc_entry(f), sort_keys=True))
                for f in _json(["tc", *n, "-j", "filter", "show", "dev", name, "ingress"]))
        routes = [r for family in ("-4", "-6")
                  for r in _ip(ns, family, "route", "show", "table", "all")
                  if not _kernel_made(r)]
        fdb = [e for e in _json(["bridge", *n, "-j", "fdb", "show"])
               if "dst" in e and e.get("state") in _STATIC_FDB]
        out[ns or "(here)"] = {
            "links": links,
            "routes": sorted(_route_key(r) for r in routes),
            "bridge_vlans": _json(["bridge", *n, "-j", "vlan", "show"]),
            "fdb": sorted(json.dumps(e, sort_keys=True) for e in fdb),
        }
    return out
