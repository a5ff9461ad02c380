"""plan(desired, observed) → ordered Actions. Pure: no kernel, no files.

Order of a plan: removals (routes, addresses, ports released, links children-first,
namespaces), then namespaces → in-place changes of existing links → new links (parents
before children), each with its addresses right after it → masters → addresses of existing
links → state → kind extras → routes. Every Action carries its undo, computed from what was
observed.

Why addresses follow each creation while states wait for all: bringing many links up costs
the kernel far less with IPv6 on when each got its addresses as it was made than when every
address came after all creations, or when each link also came up at once (figures:
docs/performance-notes.md). Ports join their masters before they or their
masters come up, as bond and team ports must. Where new links get no IPv6 the kernel's cost
runs the other way, and a new link that stands alone (no master, no ports, no parent) comes
up right after its addresses (_Planner._up_as_made).
"""

from __future__ import annotations

import graphlib
from typing import TYPE_CHECKING, Any

from . import kinds, ownership
from .actions import Action, Request, Verb
from .datatypes import datatype, field
from .errors import ConflictError, Issue
from .features.link_attrs import create_only, declared_link_attrs, link_attrs_diff
from .features.port_options import declared_port_options
from .features.sysctls import (
    NAMESPACE_FORWARDING,
    declared_sysctls,
    sysctl_word,
    sysctl_writes,
)
from .observe import LinkState, NetnsState, Observed, RouteState
from .record import Record, ext_key, parse_ext_key
from .topology import Topology

if TYPE_CHECKING:  # the file's models: a teardown (`vnet destroy NAME`) imports none of them
    from .kinds.base import InterfaceBase
    from .model import External, Route

Key = tuple[str | None, str]


def _at(ns: str | None, name: str) -> str:
    return f"{ns}/{name}" if ns else name


@datatype
class Plan:
    """The ordered actions that converge the kernel to a topology, and the record after them."""

    topology: str
    actions: list[Action] = field(default_factory=list)
    record: Record | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "change": 0, "replace": 0, "remove": 0}
        for action in self.actions:
            out[action.verb] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"topology": self.topology, "changes": self.has_changes,
                "summary": self.counts(), "actions": [a.as_dict() for a in self.actions]}


#: the kernel's kinds of links made as a pair, one end deleting the other
PAIRED_KINDS = frozenset({"veth", "vxcan"})


def removals(plan: Plan) -> list[Action]:
    """The actions of `plan` that delete something live: removals, and the deleting half of
    a re-creation (its route or link goes first)."""
    return [a for a in plan.actions if a.verb == "remove" or (
        a.verb == "replace" and any(r.op.endswith(".del") for r in a.do))]


def takes_along(plan: Plan) -> list[Action]:
    """The actions of `plan` that delete along what the topology did not make."""
    return [a for a in plan.actions if a.takes_along]


def unseen_pair_namespaces(observed: Observed, topology: str) -> set[str]:
    """Named namespaces not observed that hold the other end of a pair made by hand inside a
    namespace `topology` owns: planning names that end when it deletes the namespace."""
    out: set[str] = set()
    for ns, st in observed.namespaces.items():
        if ns is None or st.owner != topology:
            continue
        for link in st.links.values():
            if link.kind in PAIRED_KINDS and link.parent_netnsid is not None \
                    and link.owner != topology:
                peer_ns = st.netns_by_id.get(link.parent_netnsid)
                if peer_ns is not None and peer_ns not in observed.namespaces:
                    out.add(peer_ns)
    return out


def namespaces_to_observe(topo: Topology, record: Record) -> list[str | None]:
    """Which namespaces the planner needs to see (owned ones are found by the caller)."""
    wanted: list[str | None] = [None, *topo.namespaces]
    for key in [*record.externals, *record.external_addresses]:
        wanted.append(parse_ext_key(key)[0])
    wanted += [r[0] for r in record.routes]
    wanted += [parse_ext_key(key)[0] for key in record.impairs]
    return list(dict.fromkeys(wanted))


def plan_changes(topo: Topology, observed: Observed, record: Record | None = None) -> Plan:
    """Compare a topology with the live state; raise ConflictError if something unowned is in
    the way, else return the plan (empty when the kernel already matches)."""
    return _Planner(topo, observed, record or Record(topo.name)).run()


def plan_teardown(name: str, observed: Observed, record: Record | None = None) -> Plan:
    """Everything topology `name` owns removed, and what it changed on others put back."""
    return plan_changes(Topology(name=name), observed, record)


class _Planner:
    def __init__(self, topo: Topology, obs: Observed, record: Record):
        self.topo = topo
        self.obs = obs
        self.old = record
        self.new = Record(topo.name)
        self.T = topo.name
        #: the link group of what this topology creates (ownership.link_group)
        self.group = ownership.link_group(topo.name)
        self.conflicts: list[Issue] = []
        self.phase: dict[str, list[Action]] = {p: [] for p in (
            "del_routes", "del_addrs", "release", "del_links", "del_ns", "add_ns", "set_links",
            "add_links", "masters", "addrs", "state", "ports", "extras", "routes")}
        #: the creations, in order: (what is created, its action)
        self.creations: list[tuple[InterfaceBase, Action]] = []
        #: addresses of the links this plan creates, by link: each follows its link's creation
        self.follow: dict[Key, list[Action]] = {}
        self.desired = {end.key: end for end in topo.endpoints()}
        self.externals = {ext.key: ext for ext in topo.externals}
        #: links that will be (re)created: later phases see nothing live for them
        self.fresh: set[Key] = set()
        self.removed_ns: set[str] = set()
        #: why a link is re-created, for the plan's text
        self._reasons: dict[Key, str] = {}
        #: the options that make a link re-created: (live, declared)
        self._replaced_diff: dict[Key, dict[str, tuple[Any, Any]]] = {}

    # ---- helpers --------------------------------------------------------------------------
    def conflict(self, message: str, where: str, hint: str) -> None:
        self.conflicts.append(Issue(message=message, where=where, hint=hint))

    def live(self, key: Key) -> LinkState | None:
        if key in self.fresh:
            return None
        # Observed.link, inline: planning asks it several times for every interface
        st = self.obs.namespaces.get(key[0])
        return st.links.get(key[1]) if st is not None else None

    def owned(self, link: LinkState) -> bool:
        """Whether this topology owns a live link. Its own mark is looked for first, which spares
        parsing every altname of every link for its owner."""
        return ownership.link_marker(self.T, link.name) in link.altnames or \
            link.owner == self.T

    def _queue_address(self, key: Key, action: Action) -> None:
        """An address of link `key`: right after the link's creation when this plan creates
        it, else in the addresses' phase."""
        if key in self.fresh:
            self.follow.setdefault(key, []).append(action)
        else:
            self.phase["addrs"].append(action)

    def declared(self) -> list[tuple[Key, InterfaceBase | External]]:
        """The file's interfaces, those vnet makes and then the external ones, by key."""
        return [*self.desired.items(), *self.externals.items()]

    def ns_state(self, ns: str | None) -> NetnsState | None:
        return self.obs.namespaces.get(ns)

    def owned_ns(self) -> set[str]:
        return {n for n, st in self.obs.namespaces.items() if n is not None and st.owner == self.T}

    # ---- run ------------------------------------------------------------------------------
    def run(self) -> Plan:
        self.plan_namespaces()
        self.plan_links()
        self.plan_externals()
        self.plan_masters()
        self.plan_addresses()
        self.plan_state()
        self.plan_port_options()
        self.plan_sysctls()
        self.plan_extras()
        self.plan_routes()
        base = _base_hooks("live_conflicts") if self.desired else None
        for key, iface in self.desired.items():
            if type(iface).live_conflicts is base:
                continue  # InterfaceBase's says there are none
            for message, hint in iface.live_conflicts(self.obs):
                self.conflict(message, _at(*key), hint)
        if self.conflicts:
            raise ConflictError(self.conflicts)
        return Plan(self.T, self._ordered(), self.new)

    def _ordered(self) -> list[Action]:
        actions: list[Action] = []
        for name, phase in self.phase.items():
            if name == "add_links":
                for iface, action in self.creations:
                    actions.append(action)
                    for end in iface.expand():
                        actions += self.follow.pop(end.key, [])
            elif name == "addrs":  # none expected: fresh links are all created
                actions += [a for follow in self.follow.values() for a in follow]
            actions += phase
        return actions

    # ---- namespaces -----------------------------------------------------------------------
    def plan_namespaces(self) -> None:
        owned = self.owned_ns()
        for ns in self.topo.namespaces:
            if ns not in self.obs.existing_netns:
                self.phase["add_ns"].append(Action(
                    "create", f"namespace {ns}", "declared, not present",
                    [Request("netns.add", None, {"name": ns,
                                                 "marker": ownership.netns_marker(self.T)})],
                    [Request("netns.del", None, {"name": ns, "group": self.group})]))
            elif ns not in owned:
                st = self.ns_state(ns)
                other = st.owner if st else None
                who = f"topology {other!r}" if other else "no vnet topology (created by hand?)"
                self.conflict(f"namespace {ns} exists and belongs to {who}", f"netns {ns}",
                              "pick another namespace name, or destroy what owns it")
        self._plan_namespace_forwarding()
        self.removed_ns = owned - set(self.topo.namespaces)
        for ns in sorted(self.removed_ns):
            self.phase["del_ns"].append(Action(
                "remove", f"namespace {ns}", "owned, no longer declared (with all inside it)",
                [Request("netns.del", None, {"name": ns, "group": self.group})],
                undo_gap=f"namespace {ns} and what was inside it cannot be restored",
                takes_along=self._not_ours_inside(ns)))

    def _plan_namespace_forwarding(self) -> None:
        """A namespace's `forwarding` (IPv4 and IPv6), written once it exists: a router
        namespace. Compared with what a live one has."""
        for ns, options in self.topo.namespace_options.items():
            if options.get("forwarding") is None:
                continue
            text = "1" if options["forwarding"] else "0"
            st = self.ns_state(ns) if ns in self.obs.existing_netns else None
            writes, undo, diff = [], [], {}
            for path in NAMESPACE_FORWARDING:
                have = st.sysctl(path) if st is not None else None
                if have == text:
                    continue
                writes.append(Request("sysctl.set", ns, {"path": path, "value": text}))
                if have is not None:
                    undo.append(Request("sysctl.set", ns, {"path": path, "value": have}))
                    diff["forwarding"] = (have == "1", options["forwarding"])
            if writes:
                self.phase["set_links"].append(Action(
                    "change" if st is not None else "create", f"forwarding in namespace {ns}",
                    "differs from the file" if st is not None else "declared", writes, undo,
                    diff=diff))

    def _not_ours_inside(self, ns: str) -> list[str]:
        """What deleting namespace `ns` deletes that this topology did not make: its links
        without the topology's mark (made by hand, or by another topology), and for those that
        are one end of a pair (veth, vxcan), the other end where it lives outside."""
        st = self.ns_state(ns)
        if st is None:
            return []
        out: list[str] = []
        for link in sorted(st.links.values(), key=lambda ln: ln.name):
            if link.name == "lo" or self.owned(link):
                continue
            owner = link.owner
            whose = f"topology {owner!r}'s" if owner else "not vnet's"
            out.append(f"link {ns}/{link.name} ({link.kind or 'device'}, {whose})")
            if link.kind in PAIRED_KINDS and link.parent_netnsid is not None \
                    and link.parent_index:
                peer = self._other_end(st, link)
                if peer:
                    out.append(peer)
        return out

    def _other_end(self, st: NetnsState, link: LinkState) -> str | None:
        """The other end of a pair whose end `link` is in namespace `st` and whose other end is
        in another namespace, in words; None when that namespace goes too (its own links are
        listed there)."""
        ids = st.netns_by_id
        end = f"the other end of {st.name}/{link.name}"
        if link.parent_netnsid not in ids:
            return (f"link with ifindex {link.parent_index} ({link.kind}, {end}, in a "
                    "namespace that has no name under /run/netns)")
        pns = ids[link.parent_netnsid]
        if pns in self.removed_ns:
            return None
        pst = self.ns_state(pns)
        peer = next((ln for ln in pst.links.values() if ln.index == link.parent_index),
                    None) if pst is not None else None
        name = _at(pns, peer.name) if peer is not None else f"with ifindex {link.parent_index}"
        where = f"in namespace {pns}" if pns else "in the namespace vnet runs in"
        return f"link {name} ({link.kind}, {end}, {where})"

    # ---- links ----------------------------------------------------------------------------
    def plan_links(self) -> None:
        # keyed by Key: comparing models for membership made planning quadratic
        to_create: dict[Key, InterfaceBase] = {}
        replaced: set[Key] = set()
        for key, iface in self.desired.items():
            if iface.created_by is not None:
                continue  # its twin creates it
            state = self._link_state(iface)
            if state == "create":
                to_create[key] = iface
            elif state == "replace":
                replaced.add(key)
                to_create[key] = iface
        # a replaced twin (veth peer) means replacing its creator: both ends go together
        for iface in self.desired.values():
            if iface.created_by is not None and self._link_state(iface) in ("create", "replace"):
                creator = self.desired[iface.created_by]
                if creator.key not in to_create:
                    to_create[creator.key] = creator
                    if self.obs.link(*creator.key) is not None:
                        replaced.add(creator.key)
        for iface in to_create.values():
            for end in iface.expand():
                self.fresh.add(end.key)
        for key in sorted(replaced, key=str):
            # what a kind undoes before its link goes (a team's teamd) holds for a re-creation
            self.phase["del_links"] += kinds.plan_removal(self.ns_state(key[0]),
                                                          self.obs.link(*key))
            self.phase["del_links"].append(self._remove_link(key, "replace"))
        self._remove_stale_links()
        for iface in self._creation_order(list(to_create.values())):
            self.creations.append((iface, self._create_link(iface, iface.key in replaced)))

    def _link_state(self, iface: InterfaceBase) -> str:
        """'create', 'replace', 'ok' or 'conflict' for one desired end; queues in-place sets."""
        ns, name = iface.key
        if ns is not None and ns not in self.obs.existing_netns:
            return "create"
        st = self.obs.namespaces.get(ns)  # Observed.link, inline (asked for every end)
        live = st.links.get(name) if st is not None else None
        if live is None:
            return "create"
        if not self.owned(live):
            owner = live.owner
            who = f"topology {owner!r}" if owner else "nothing vnet knows (not marked as vnet's)"
            self.conflict(f"interface {_at(*iface.key)} already exists and belongs to {who}",
                          _at(*iface.key), "rename it in the file, or mark it external: true "
                          "to use the existing interface")
            return "conflict"
        cls = type(iface)
        if not cls.matches_kernel(live.kind, live.info_data):
            self._reasons[iface.key] = f"kind differs (live: {live.kind})"
            return "replace"
        hz = self.obs.hz
        declared = iface.declared_options()
        if declared:
            current = cls.decode_info_data(live.info_data)
            # compared as the kernel keeps them: a timer it rounds equals what it was rounded
            # from
            diff = {k: (current.get(k), v) for k, v in declared.items()
                    if not cls.keeps(k, v, current.get(k), hz)}
        else:
            diff = {}
        wanted = declared_link_attrs(iface)
        attr_diff = link_attrs_diff(wanted, live.attrs) if wanted else {}
        fixed = create_only(attr_diff) if attr_diff else []
        if fixed and iface.created_by is not None:
            self.conflict(f"{', '.join(fixed)} of {_at(*iface.key)} cannot change in place, and "
                          "it is the second end of a pair, re-created only with the first",
                          _at(*iface.key), "destroy the topology and apply it again")
            return "conflict"
        if fixed:
            self._reasons[iface.key] = (f"{', '.join(fixed)} cannot change in place (fixed "
                                        "when the kernel creates the link)")
            self._replaced_diff[iface.key] = {k: attr_diff[k] for k in fixed}
            return "replace"
        if diff and any(cls.needs_replace(k) for k in diff):
            fields = ", ".join(k for k in diff if cls.needs_replace(k))
            self._reasons[iface.key] = f"{fields} cannot change in place"
            self._replaced_diff[iface.key] = {k: d for k, d in diff.items()
                                              if cls.needs_replace(k)}
            return "replace"
        if iface.created_by is None and not self._same_parent(iface, live):
            self._reasons[iface.key] = "parent link differs"
            return "replace"
        sets: dict[str, Any] = {}
        undo: dict[str, Any] = {}
        if diff:
            sets["info_data"] = {cls.options_map[k].nla: cls.options_map[k].encode(v)
                                 for k, (_, v) in diff.items()}
            undo["info_data"] = {cls.options_map[k].nla: cls.options_map[k].encode(o)
                                 for k, (o, _) in diff.items() if o is not None}
            sets["kind"] = undo["kind"] = live.kind
        if iface.mtu is not None and iface.mtu != live.mtu:
            diff["mtu"] = (live.mtu, iface.mtu)
            sets["mtu"], undo["mtu"] = iface.mtu, live.mtu
        if iface.mac is not None and iface.mac != (live.mac or "").lower():
            diff["mac"] = (live.mac, iface.mac)
            sets["mac"], undo["mac"] = iface.mac, live.mac
        if attr_diff:
            diff.update(attr_diff)
            sets["attrs"] = {k: v for k, (_, v) in attr_diff.items()}
            undo["attrs"] = {k: o for k, (o, _) in attr_diff.items() if o is not None}
        if sets:
            ns, name = iface.key
            self.phase["set_links"].append(Action(
                "change", f"link {_at(ns, name)} ({iface.kind_name})",
                "differs from the file" + _rounding_note(iface, hz, diff),
                [Request("link.set", ns, {"ifname": name, **sets})],
                [Request("link.set", ns, {"ifname": name, **undo})], diff=diff))
        return "ok"

    def _same_parent(self, iface: InterfaceBase, live: LinkState) -> bool:
        parent = iface.parent()
        if parent is None or iface.parent_netns() != iface.netns:
            return True  # cross-namespace parents are not compared (the kernel reports an id)
        plive = self.obs.link(iface.netns, parent)
        return plive is None or type(iface).live_parent_index(live) == plive.index

    def _creation_order(self, ifaces: list[InterfaceBase]) -> list[InterfaceBase]:
        """Parents before the links stacked on them (a pair's end counts as the link that
        creates both); in the file's order otherwise."""
        keys = {i.key: i for i in ifaces}

        def creator(key: Key) -> Key:
            end = self.desired.get(key)
            return end.created_by if end is not None and end.created_by is not None else key
        graph = {i.key: ({creator((i.parent_netns(), p))} & keys.keys()) - {i.key}
                 if (p := i.parent()) else set() for i in ifaces}
        return [keys[k] for k in graphlib.TopologicalSorter(graph).static_order()]

    def _create_link(self, iface: InterfaceBase, replacing: bool) -> Action:
        ns, name = iface.key
        req_args: dict[str, Any] = {"ifname": name, "marker": ownership.link_marker(self.T, name),
                                    "group": self.group,
                                    **iface.create_request()}
        if iface.parent() is not None:
            req_args.setdefault("parent", iface.parent())
            req_args.setdefault("parent_netns", iface.parent_netns())
        if iface.mtu is not None:
            req_args["mtu"] = iface.mtu
        if iface.mac is not None:
            req_args["mac"] = iface.mac
        if attrs := declared_link_attrs(iface):
            req_args["attrs"] = attrs
        peer = req_args.get("peer")
        if peer is not None:
            peer["marker"] = ownership.link_marker(self.T, peer["ifname"])
            peer["group"] = self.group
            peer_end = self.desired.get((peer.get("netns"), peer["ifname"]))
            if peer_end is not None and (peer_attrs := declared_link_attrs(peer_end)):
                peer["attrs"] = peer_attrs
        reason = self._reasons.get(iface.key, "") if replacing else "declared, not present"
        reason = (reason or "declared, not present") + _rounding_note(iface, self.obs.hz)
        verb: Verb = "replace" if replacing else "create"
        subject = f"link {_at(ns, name)} ({iface.kind_name})"
        if peer is not None:
            subject += f" with peer {_at(peer.get('netns'), peer['ifname'])}"
        return Action(verb, subject, reason,
                      [Request("link.add", ns, req_args)],
                      [Request("link.del", ns, {"ifname": name, "missing_ok": True})],
                      diff=self._replaced_diff.get(iface.key, {}) if replacing else {})

    def _remove_link(self, key: Key, why: str) -> Action:
        live = self.obs.link(*key)
        assert live is not None
        reason = ("re-created: " + self._reasons.get(key, "")) if why == "replace" else \
            "owned, no longer declared"
        return Action("remove" if why != "replace" else "replace",
                      f"link {_at(*key)} ({live.kind})", reason,
                      [Request("link.del", key[0], {"ifname": key[1], "missing_ok": True})],
                      undo_gap=f"deleted link {_at(*key)} cannot be re-created exactly")

    def _remove_stale_links(self) -> None:
        stale: list[tuple[Key, LinkState]] = []
        for ns, st in self.obs.namespaces.items():
            if ns in self.removed_ns:
                continue
            for link in st.links.values():
                key = (ns, link.name)
                if key not in self.desired and link.name != "lo" and self.owned(link):
                    stale.append((key, link))
        # children (stacked on a parent in the same namespace) before their parents
        def stacked(item: tuple[Key, LinkState]) -> int:
            link = item[1]
            return 0 if (link.parent_index and link.parent_index != link.index
                         and link.kind != "veth") else 1
        for key, link in sorted(stale, key=lambda it: (stacked(it), str(it[0]))):
            self.phase["del_links"] += kinds.plan_removal(self.ns_state(key[0]), link)
            self.phase["del_links"].append(self._remove_link(key, "remove"))

    # ---- external interfaces --------------------------------------------------------------
    def plan_externals(self) -> None:
        for key, ext in self.externals.items():
            live = self.live(key)
            if live is None:
                self.conflict(f"external interface {_at(*key)} does not exist",
                              _at(*key), "create it first, or remove external: true so vnet "
                              "creates it")
                continue
            if ext.kind is not None and live.kind != ext.kind:
                self.conflict(f"external interface {_at(*key)} is a {live.kind or 'device'}, "
                              f"the file says {ext.kind}", _at(*key), "fix the kind")
            original = dict(self.old.externals.get(ext_key(*key), {}))
            if not original:
                original = {"mtu": live.mtu, "master": live.master, "up": live.up}
            self.new.externals[ext_key(*key)] = original
            if ext.mtu is not None and ext.mtu != live.mtu:
                self.phase["set_links"].append(Action(
                    "change", f"external link {_at(*key)}", "MTU differs from the file",
                    [Request("link.set", key[0], {"ifname": key[1], "mtu": ext.mtu})],
                    [Request("link.set", key[0], {"ifname": key[1], "mtu": live.mtu})],
                    diff={"mtu": (live.mtu, ext.mtu)}))
        # externals the file no longer names: put back what vnet changed
        for skey, original in self.old.externals.items():
            key = parse_ext_key(skey)
            if key in self.externals:
                continue
            live = self.live(key)
            if live is None:
                continue
            self._restore_external(key, live, original)

    def _restore_external(self, key: Key, live: LinkState, original: dict[str, Any]) -> None:
        ns, name = key
        if original.get("mtu") and original["mtu"] != live.mtu:
            self.phase["set_links"].append(Action(
                "change", f"external link {_at(ns, name)}", "put back the MTU it had",
                [Request("link.set", ns, {"ifname": name, "mtu": original["mtu"]})],
                [Request("link.set", ns, {"ifname": name, "mtu": live.mtu})],
                diff={"mtu": (live.mtu, original["mtu"])}))
        master = original.get("master")
        if live.master != master and (master is None or self.live((ns, master)) is not None):
            # a release comes before link removals: a port leaves its master before the
            # master is deleted (teardown is creation reversed)
            self.phase["release" if master is None else "masters"].append(
                self._master_action(key, live.master, master, "put back its master"))
        if original.get("up") is not None and bool(original["up"]) != live.up:
            self.phase["state"].append(self._state_action(key, live.up, bool(original["up"]),
                                                          "put back its state"))

    # ---- masters --------------------------------------------------------------------------
    def _master_action(self, key: Key, old: str | None, new: str | None, why: str,
                       bounce: tuple[bool, bool] | None = None) -> Action:
        """`bounce` (was up, ends up): the new master takes only ports that are down (bond,
        team), so a live port goes down, joins, and comes back up."""
        ns, name = key
        text = f"port {_at(ns, name)} of {new}" if new else f"release {_at(ns, name)} from {old}"

        def steps(master: str | None, up: bool) -> list[Request]:
            req = Request("link.master", ns, {"ifname": name, "master": master})
            if bounce is None:
                return [req]
            return [Request("link.state", ns, {"ifname": name, "up": False}), req] + (
                [Request("link.state", ns, {"ifname": name, "up": True})] if up else [])
        return Action("change" if old else "create", text, why,
                      steps(new, bounce[1] if bounce else False),
                      steps(old, bounce[0] if bounce else False),
                      diff={"master": (old, new)})

    def plan_masters(self) -> None:
        for key, obj in self.declared():
            live = self.live(key)
            current = live.master if live else None
            if current is not None and (key[0], current) in self.fresh:
                current = None  # its master is re-created: the port joins the new one
            if obj.master != current and not (obj.master is None and live is None):
                if obj.master is None and obj is self.externals.get(key):
                    continue  # externals keep whatever master the file does not mention
                master = self.desired.get((key[0], obj.master or ""))
                bounce = None
                if live is not None and getattr(master, "ports_down_to_enslave", False):
                    bounce = (live.up, obj.state == "up" or (obj.state is None and live.up))
                self.phase["release" if obj.master is None else "masters"].append(
                    self._master_action(key, current, obj.master, "master differs from the file"
                                        if live else "declared", bounce))

    # ---- addresses ------------------------------------------------------------------------
    def plan_addresses(self) -> None:
        for key, obj in self.declared():
            ns, name = key
            live = self.live(key)
            st = self.ns_state(ns)
            have = set(st.addresses_of(name)) if (live and st) else set()
            if have == set(obj.addresses) and key not in self.externals:
                continue  # most interfaces of a file applied before: nothing to add or remove
            want = list(dict.fromkeys(obj.addresses))
            for addr in want:
                if addr not in have:
                    self._queue_address(key, Action(
                        "create", f"address {addr} on {_at(ns, name)}", "declared",
                        [Request("addr.add", ns, {"ifname": name, "address": addr})],
                        [Request("addr.del", ns, {"ifname": name, "address": addr})]))
            if obj is self.externals.get(key):
                added = [a for a in self.old.external_addresses.get(ext_key(*key), [])
                         if a not in want]
                mine = [a for a in want if a not in have] + \
                    [a for a in self.old.external_addresses.get(ext_key(*key), []) if a in want]
                if mine:
                    self.new.external_addresses[ext_key(*key)] = sorted(set(mine))
                extra = [a for a in added if a in have]
            else:
                extra = sorted(have - set(want))
            for addr in extra:
                self.phase["del_addrs"].append(Action(
                    "remove", f"address {addr} on {_at(ns, name)}", "not in the file",
                    [Request("addr.del", ns, {"ifname": name, "address": addr})],
                    [Request("addr.add", ns, {"ifname": name, "address": addr})]))
        for skey, addrs in self.old.external_addresses.items():
            key = parse_ext_key(skey)
            if key in self.externals or self.live(key) is None:
                continue
            st = self.ns_state(key[0])
            have = set(st.addresses_of(key[1])) if st else set()
            for addr in addrs:
                if addr in have:
                    self.phase["del_addrs"].append(Action(
                        "remove", f"address {addr} on {_at(*key)}", "vnet added it; the file no "
                        "longer names the interface",
                        [Request("addr.del", key[0], {"ifname": key[1], "address": addr})],
                        [Request("addr.add", key[0], {"ifname": key[1], "address": addr})]))

    # ---- state ----------------------------------------------------------------------------
    def _state_action(self, key: Key, old: bool | None, up: bool, why: str) -> Action:
        ns, name = key
        undo = [] if old is None else [Request("link.state", ns, {"ifname": name, "up": old})]
        return Action("change" if old is not None else "create",
                      f"set {_at(ns, name)} {'up' if up else 'down'}", why,
                      [Request("link.state", ns, {"ifname": name, "up": up})], undo,
                      diff={} if old is None else {"state": ("up" if old else "down",
                                                             "up" if up else "down")})

    def plan_state(self) -> None:
        declared = self.declared()
        masters = {(obj.netns, obj.master) for _, obj in declared if obj.master}
        for key, obj in declared:
            if obj.state is None:
                continue
            live = self.live(key)
            up = obj.state == "up"
            if live is None:
                if up:
                    action = self._state_action(key, None, True, "declared")
                    if self._up_as_made(key, obj, masters):
                        self.follow.setdefault(key, []).append(action)
                    else:
                        self.phase["state"].append(action)
            elif live.up != up:
                self.phase["state"].append(self._state_action(key, live.up, up,
                                                              "state differs from the file"))

    def plan_port_options(self) -> None:
        """A port's `port_options`, set once it has joined its master; compared with what
        the master keeps, unless the port, its master or their bond is new."""
        for key, obj in self.declared():
            want = declared_port_options(obj)
            if not want or obj.master is None:
                continue
            mkey = (key[0], obj.master)
            master = self.desired.get(mkey)
            master_live = self.obs.link(*mkey)
            master_kind = (master.kind_name if master is not None else
                           master_live.kind if master_live is not None else None)
            if master_kind is None:
                continue  # validation reports a master that is nowhere
            live = self.live(key)
            joined = (live is not None and mkey not in self.fresh
                      and live.master == obj.master)
            have = live.port_options if live is not None and joined else {}
            diff = {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v}
            if not diff:
                continue
            old = {k: o for k, (o, _) in diff.items() if o is not None}
            undo = [Request("link.port_options", key[0], {
                "ifname": key[1], "master_kind": master_kind, "options": old})] if old else []
            self.phase["ports"].append(Action(
                "change" if joined else "create",
                f"port options of {_at(*key)} on {master_kind} {obj.master}",
                "differ from the file" if joined else "declared",
                [Request("link.port_options", key[0], {
                    "ifname": key[1], "master_kind": master_kind,
                    "options": {k: v for k, (_, v) in diff.items()}})],
                undo, diff=diff))

    def plan_sysctls(self) -> None:
        """The sysctls an interface declares: right after its creation for a new link (each
        follows its link), else where the live value differs, in the links' change phase."""
        for key, obj in self.desired.items():
            declared = declared_sysctls(obj)
            if not declared:
                continue
            live = self.live(key)
            st = self.ns_state(key[0]) if live is not None else None
            diff: dict[str, tuple[Any, Any]] = {}
            writes, undo = [], []
            for path, (option, text) in sysctl_writes(key[1], declared).items():
                have = st.sysctl(path) if st is not None else None
                if have == text:
                    continue
                diff[option] = (None if have is None else
                                sysctl_word(option, have), declared[option])
                writes.append(Request("sysctl.set", key[0], {"path": path, "value": text}))
                if have is not None:
                    undo.append(Request("sysctl.set", key[0], {"path": path, "value": have}))
            if not writes:
                continue
            action = Action("change" if live is not None else "create",
                            f"sysctls of {_at(*key)}",
                            "differ from the file" if live is not None else "declared",
                            writes, undo, diff=diff)
            if live is None:
                self.follow.setdefault(key, []).append(action)
            else:
                self.phase["set_links"].append(action)

    def _up_as_made(self, key: Key, obj: InterfaceBase | External, masters: set[Key]) -> bool:
        """Whether a link this plan creates comes up right after its creation and addresses,
        rather than once every link is made and every port has joined its master.

        Only a link that stands alone (no master, no ports, no parent) and only where new
        links get no IPv6. There, links brought up as they are made cost the kernel much
        less than bringing them all up at the end, and the gap grows with the count; with
        IPv6 the opposite holds: each link up starts IPv6 work that then contends with the
        creations."""
        st = self.ns_state(key[0])
        return (obj is self.desired.get(key) and key in self.fresh and st is not None
                and obj.master is None and key not in masters and obj.parent() is None
                and not st.new_links_get_ipv6)  # last: the backend may read it only now

    # ---- kind extras (qdiscs, fdb entries...) ----------------------------------------------
    def plan_extras(self) -> None:
        base = _base_hooks("plan_extras") if self.desired else None
        for key, iface in self.desired.items():
            if type(iface).plan_extras is base:
                continue  # the kind has no extras (most): InterfaceBase's says []
            live = self.live(key)
            self.phase["extras"] += iface.plan_extras(self.ns_state(key[0]), live)
        declared = self.declared()
        if declared:
            from .features.bridge_vlans import plan_vlans
        for key, obj in declared:
            if obj.vlans is None:
                continue  # plan_vlans has nothing to say (most interfaces)
            # bridge VLAN filtering: the `vlans` of a port (or of a bridge itself)
            br_key = (key[0], obj.master or key[1])
            bridge = self.desired.get(br_key) or self.externals.get(br_key)
            self.phase["extras"] += plan_vlans(obj, self.live(key), bridge, self.live(br_key),
                                               self.ns_state(key[0]))
        self.plan_impairs()

    # ---- impairments (features/impair.py) --------------------------------------------------
    def plan_impairs(self) -> None:
        entries = self.declared()
        if not entries and not self.old.impairs:
            return  # a teardown imports no model (features/impair.py is one)
        from .features.impair import SHAPED_PARENT, plan_impair
        from .features.shaping import TC_H_ROOT
        # the links that carry a netem now: one of vnet's may have to go
        netems = {(ns, q.ifname) for ns, st in self.obs.namespaces.items() for q in st.qdiscs
                  if q.kind == "netem"}
        declared = set()
        for key, obj in entries:
            declared.add(key)
            if obj.impair is None and key not in netems and \
                    (not self.old.impairs or ext_key(*key) not in self.old.impairs):
                continue  # most interfaces: no impairment, none to take away or put back
            live = self.live(key)
            owned = obj is self.desired.get(key)
            if live is None and not owned:
                continue  # a missing external: plan_externals says so
            skey = ext_key(*key)
            shaped = getattr(obj, "shaping", None) is not None  # netem under the shaping
            actions, record, conflict = plan_impair(
                key, obj.impair, self.ns_state(key[0]), live, owned,
                self.old.impairs.get(skey),
                obj is self.externals.get(key) and obj.replace_qdisc,
                SHAPED_PARENT if shaped else TC_H_ROOT, self.old.netem_tables.get(skey))
            if conflict is not None:
                self.conflict(conflict, _at(*key),
                              "add replace_qdisc: true to its external entry to let vnet "
                              "replace it (destroy puts it back), or remove impair")
            elif obj.impair is not None and obj.impair.direction != "ingress" \
                    and obj.impair.distribution is not None:
                self.new.netem_tables[skey] = obj.impair.distribution
            if record is not None:
                self.new.impairs[skey] = record
            self.phase["extras"] += actions
        # interfaces the file no longer names that vnet impaired (an external dropped from
        # the file, or one `vnet impair` changed): put back what they had
        for skey, original in self.old.impairs.items():
            key = parse_ext_key(skey)
            live = self.live(key)
            if key in declared or live is None:
                continue
            if self.owned(live):
                continue  # removed with its link, or kept: its own entry decides
            self.phase["extras"] += plan_impair(key, None, self.ns_state(key[0]), live, False,
                                                original, False)[0]

    # ---- routes ---------------------------------------------------------------------------
    def plan_routes(self) -> None:
        owned_ns = self.owned_ns() | {ns for ns in self.topo.namespaces}
        recorded = {tuple(r) for r in self.old.routes}
        desired: dict[tuple[Any, ...], Route] = {r.key: r for r in self.topo.routes}
        observed: dict[tuple[Any, ...], RouteState] = {}
        for ns, st in self.obs.namespaces.items():
            for seen in st.routes:
                observed[(ns, *seen.key)] = seen
        for key, route in desired.items():
            rs = observed.get(key)
            ns = route.netns
            args = _route_args(route)
            if rs is not None and rs.proto != 118:
                self.conflict(f"route to {route.to} in {ns or 'the namespace vnet runs in'} "
                              f"exists and is not vnet's (proto {rs.proto})",
                              f"route {route.to}", "remove it by hand or choose another metric")
                continue
            if rs is not None and (rs.via == route.via) and \
                    (route.dev is None or rs.dev == route.dev) and (ns, rs.dev) not in self.fresh:
                if ns not in owned_ns:
                    self.new.routes.append(list(key))
                continue
            if rs is not None:
                self.phase["del_routes"].append(Action(
                    "replace", _route_subject(route.to, ns), "gateway/device differs",
                    [Request("route.del", ns, _observed_route_args(rs))],
                    [Request("route.add", ns, _observed_route_args(rs))],
                    diff={"via": (rs.via, route.via), "dev": (rs.dev, route.dev)}))
            self.phase["routes"].append(Action(
                "create" if rs is None else "replace", _route_subject(route.to, ns),
                "declared", [Request("route.add", ns, args)], [Request("route.del", ns, args)]))
            if ns not in owned_ns:
                self.new.routes.append(list(key))
        for key, rs in observed.items():
            ns = key[0]
            if key in desired or rs.proto != 118 or ns in self.removed_ns:
                continue
            if ns in owned_ns or key in recorded:
                if rs.dev is not None and self.obs.link(ns, rs.dev) is not None and \
                        (ns, rs.dev) in self.fresh:
                    continue  # goes with its device
                self.phase["del_routes"].append(Action(
                    "remove", _route_subject(rs.to, ns), "not in the file",
                    [Request("route.del", ns, _observed_route_args(rs))],
                    [Request("route.add", ns, _observed_route_args(rs))]))


def _base_hooks(name: str) -> Any:
    """InterfaceBase's hook `name`, which a kind without its own inherits: planning skips
    the call for such ends (a file of thousands of veths). Imported only when a file has
    interfaces: a teardown plans without the kinds' classes."""
    from .kinds.base import InterfaceBase
    return getattr(InterfaceBase, name)


def _rounding_note(iface: InterfaceBase, hz: int | None,
                   only: dict[str, Any] | None = None) -> str:
    """The plan's word on declared values the kernel keeps rounded (bridge timers in its
    ticks), e.g. "; the kernel keeps forward_delay 755 as 754 (ticks of 1/250 s)"; of the
    options in `only` when given (those a change sets)."""
    rounded = {k: v for k, v in iface.rounded_options(hz).items()
               if only is None or k in only}
    if not rounded:
        return ""
    said = ", ".join(f"{opt} {asked} as {kept}" for opt, (asked, kept) in rounded.items())
    return f"; the kernel keeps {said} (ticks of 1/{hz} s)"


def _route_subject(to: str, ns: str | None) -> str:
    return f"route {to} in {ns}" if ns else f"route {to} (in the namespace vnet runs in)"


def _route_args(route: Route) -> dict[str, Any]:
    return {"to": route.to, "via": route.via, "dev": route.dev, "metric": route.metric or 0,
            "table": route.table or 254, "family": route.family}


def _observed_route_args(rs: RouteState) -> dict[str, Any]:
    return {"to": rs.to, "via": rs.via, "dev": rs.dev, "metric": rs.metric, "table": rs.table,
            "family": rs.family}



