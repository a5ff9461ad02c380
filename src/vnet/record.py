"""What vnet changed on objects it does not own, so destroy can put it back: pure data.

Owned objects need no record (their altname marks them); a record holds only the originals of
external interfaces and the routes vnet added in namespaces it does not own. The planner reads
and writes it as data; `store` keeps it on disk (and holds the host lock).
"""

from __future__ import annotations

from typing import Any

from .datatypes import datatype, field


@datatype
class Record:
    topology: str
    #: "netns|ifname" -> originals before vnet touched it: {"mtu": .., "master": .., "up": ..}
    externals: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: "netns|ifname" -> addresses vnet added to that external interface
    external_addresses: dict[str, list[str]] = field(default_factory=dict)
    #: routes vnet added in namespaces it does not own: [netns, table, family, to, metric]
    routes: list[list[Any]] = field(default_factory=list)
    #: the absolute path of the file last applied (None: unknown, e.g. applied from Python
    #: text, or by a vnet before records kept it); `vnet list` and `vnet show` name it
    source: str | None = None
    #: "sha256:HEX" of that file's bytes when it was applied (None: unknown, as `source`): a
    #: copy of the file, moved or renamed, is still the same file
    source_digest: str | None = None
    #: "netns|ifname" -> the root qdisc an interface had before vnet put netem on it (one vnet
    #: does not own, or one `vnet impair` changed): {} (the kernel's default) or
    #: {"kind": .., "params": ..}
    impairs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: "netns|ifname" -> the distribution table (`normal`, `pareto`...) of the netem vnet set
    #: there: the kernel keeps a table but never reports it, so this is how a plan knows it
    netem_tables: dict[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """Whether there is nothing to put back or to remember (the source file alone is no
        change)."""
        return not (self.externals or self.external_addresses or self.routes or self.impairs
                    or self.netem_tables)


def ext_key(netns: str | None, name: str) -> str:
    return f"{netns or ''}|{name}"


def parse_ext_key(key: str) -> tuple[str | None, str]:
    ns, name = key.split("|", 1)
    return (ns or None, name)


# ---- reading a record back -------------------------------------------------------------------
# A record is read from a file that a crash, a full disk or a person may have left damaged.
# Each field is checked for the type and shape the planner relies on; what is wrong is kept
# out (an entry at a time where the rest is sound) and said in words, so the caller can go on
# from the kernel's marks and name what it cannot put back.

def _is_int(value: Any) -> bool:
    return type(value) is int  # not bool, not float


def _check_original(value: Any) -> str | None:
    """Why an external's originals ({"mtu", "master", "up"}) are unusable, or None."""
    if not isinstance(value, dict):
        return f"{_shown(value)} is not an object"
    for name, item in value.items():
        if name == "mtu":
            if item is not None and not (_is_int(item) and 0 < item < 1 << 32):
                return f"mtu {_shown(item)} is not a positive number"
        elif name == "master":
            if item is not None and not (isinstance(item, str) and item):
                return f"master {_shown(item)} is not an interface name"
        elif name == "up":
            if item is not None and not isinstance(item, bool):
                return f"up {_shown(item)} is not true or false"
        else:
            return f"unknown field {_shown(name)}"
    return None


def _check_addresses(value: Any) -> str | None:
    """Why a list of addresses vnet added is unusable, or None."""
    import ipaddress
    if not isinstance(value, list):
        return f"{_shown(value)} is not a list of addresses"
    for item in value:
        try:
            if not isinstance(item, str) or "/" not in item:
                raise ValueError
            ipaddress.ip_interface(item)
        except ValueError:
            return f"{_shown(item)} is not an address with its prefix"
    return None


def _check_qdisc(value: Any) -> str | None:
    """Why a recorded root qdisc ({} or {"kind", "params"}) is unusable, or None."""
    if not isinstance(value, dict):
        return f"{_shown(value)} is not an object"
    if value and not (set(value) == {"kind", "params"} and isinstance(value["kind"], str)
                      and isinstance(value["params"], dict)):
        return f"{_shown(value)} is not {{}} or {{kind, params}}"
    return None


def _check_route(value: Any) -> str | None:
    """Why a recorded route ([netns, table, family, to, metric]) is unusable, or None."""
    if not (isinstance(value, list) and len(value) == 5):
        return f"{_shown(value)} is not [netns, table, family, to, metric]"
    netns, table, family, to, metric = value
    if not (netns is None or isinstance(netns, str) and netns):
        return f"namespace {_shown(netns)} is not a name"
    if not (_is_int(table) and _is_int(family) and _is_int(metric)):
        return f"{_shown(value)}: table, family and metric must be numbers"
    if not (isinstance(to, str) and to):
        return f"destination {_shown(to)} is not a prefix"
    return None


def _shown(value: Any) -> str:
    """A value of the file, cut short for a one-line message."""
    import json
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _ext_name(key: Any) -> str:
    if isinstance(key, str) and "|" in key:
        ns, name = parse_ext_key(key)
        return f"{ns}/{name}" if ns else name
    return _shown(key)


def record_from_data(topology: str, data: Any) -> tuple[Record, list[str]]:
    """The record of `topology` from a file's parsed JSON, checked field by field: the sound
    part of it, and one sentence per part that was left out (empty: the whole is sound).
    Fields this vnet does not know are ignored (a newer vnet may have written them)."""
    record = Record(topology)
    lost: list[str] = []
    if not isinstance(data, dict):
        return record, [f"it holds {_shown(data)}, not a record (a JSON object)"]
    named = data.get("topology", topology)
    if named != topology:
        lost.append(f"it says it is the record of {_shown(named)}")
        return record, lost
    externals = data.get("externals", {})
    if isinstance(externals, dict):
        for key, original in externals.items():
            why = "its key is not netns|ifname" if not (isinstance(key, str) and "|" in key) \
                else _check_original(original)
            if why is None:
                record.externals[key] = original
            else:
                lost.append(f"external {_ext_name(key)}: its original MTU, master and state "
                            f"are lost ({why})")
    else:
        lost.append(f"externals {_shown(externals)} is not an object: the original MTU, "
                    "master and state of every external interface are lost")
    addresses = data.get("external_addresses", {})
    if isinstance(addresses, dict):
        for key, added in addresses.items():
            why = "its key is not netns|ifname" if not (isinstance(key, str) and "|" in key) \
                else _check_addresses(added)
            if why is None:
                record.external_addresses[key] = list(added)
            else:
                lost.append(f"external {_ext_name(key)}: the addresses vnet added to it are "
                            f"lost ({why})")
    else:
        lost.append(f"external_addresses {_shown(addresses)} is not an object: the addresses "
                    "vnet added to external interfaces are lost")
    routes = data.get("routes", [])
    if isinstance(routes, list):
        for route in routes:
            why = _check_route(route)
            if why is None:
                record.routes.append(list(route))
            else:
                lost.append(f"a route vnet added is lost ({why})")
    else:
        lost.append(f"routes {_shown(routes)} is not a list: the routes vnet added in "
                    "namespaces it does not own are lost")
    impairs = data.get("impairs", {})
    if isinstance(impairs, dict):
        for key, original in impairs.items():
            why = "its key is not netns|ifname" if not (isinstance(key, str) and "|" in key) \
                else _check_qdisc(original)
            if why is None:
                record.impairs[key] = original
            else:
                lost.append(f"external {_ext_name(key)}: the root qdisc it had before vnet "
                            f"impaired it is lost ({why})")
    else:
        lost.append(f"impairs {_shown(impairs)} is not an object: the root qdiscs external "
                    "interfaces had before vnet impaired them are lost")
    tables = data.get("netem_tables", {})
    if isinstance(tables, dict):
        for key, table in tables.items():
            if isinstance(key, str) and "|" in key and isinstance(table, str) and table:
                record.netem_tables[key] = table
            else:
                lost.append(f"netem table {_shown(key)}: {_shown(table)} is not a table name "
                            "on a netns|ifname: the next apply sends that netem its table again")
    else:
        lost.append(f"netem_tables {_shown(tables)} is not an object: the next apply sends "
                    "each netem its distribution table again")
    source = data.get("source")
    if source is None or isinstance(source, str) and source:
        record.source = source
    else:
        lost.append(f"source {_shown(source)} is not a path: the file it came from is unknown")
    digest = data.get("source_digest")
    if digest is None or isinstance(digest, str) and digest.startswith("sha256:"):
        record.source_digest = digest
    else:
        lost.append(f"source_digest {_shown(digest)} is not a sha256 digest: whether a file "
                    "is the one applied is judged by its path alone")
    return record, lost
