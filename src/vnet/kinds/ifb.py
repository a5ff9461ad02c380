"""ifb — intermediate functional block: ingress traffic redirected to it leaves it as egress,
where a qdisc can shape it (Linux shapes only what it sends).

    ip link add ifb0 type ifb
    tc qdisc add dev ifb0 root tbf rate 10mbit burst 32kbit latency 50ms
    tc qdisc add dev veth1 handle ffff: ingress
    tc filter add dev veth1 parent ffff: protocol all u32 match u32 0 0 \\
        action mirred egress redirect dev ifb0

Rates, sizes and times are written and parsed as tc writes them (`10mbit`, `32kbit`, `50ms`),
and turned into the kernel's units with tc's own arithmetic, so the kernel holds the same
numbers after vnet as after the commands above and a second plan finds nothing to change.
"""

from __future__ import annotations

from typing import Any, Literal

from ..actions import Action, Request
from ..declare import Field
from ..features.shaping import (
    HTB_CLASS,
    HTB_HANDLE,
    HTB_MTU,
    PSCHED_HZ,
    TC_H_ROOT,
    TIME_UNITS_PER_SEC,
    Shaping,
    describe_qdisc,
    format_rate,
    kernel_burst_ticks,
    xmittime,
)
from . import register
from .base import DrawEdge, IfName, InterfaceBase, empty_list, ends_by_key, topology_index


@register
class Ifb(InterfaceBase):
    kind: Literal["ifb"]
    listed = 170
    modules = ("ifb numifbs=0",)  # no ifb0, ifb1 made as it loads
    reads_tc = True  # its shaping qdisc, and the ingress redirects of its sources
    use_when = ("Shape or police what an interface receives: redirect its ingress to an IFB\n"
                "and put a shaping qdisc (tbf, htb) on the IFB's egress.")

    redirect_from: list[IfName] = Field(
        default_factory=empty_list,
        description="Interfaces (same namespace) whose incoming traffic is redirected here.")
    shaping: Shaping | None = Field(
        None, description="Root qdisc of the IFB, e.g. {qdisc: tbf, rate: 10mbit, burst: "
                          "32kbit, latency: 50ms}.")

    # ---- capture --------------------------------------------------------------------------
    @classmethod
    def capture_fields(cls, live: Any, netns_state: Any) -> dict[str, Any]:
        """The sources whose ingress is redirected here, and the root qdisc in tc's words
        (the kernel's numbers turned back into sizes and times that give the same ones)."""
        out: dict[str, Any] = {}
        sources = sorted({f.ifname for f in netns_state.tc_filters
                          if f.redirect_ifindex == live.index})
        if sources:
            out["redirect_from"] = sources
        shaping = _captured_shaping(netns_state, live.name)
        if shaping is not None:
            out["shaping"] = shaping
        return out

    # ---- checks ---------------------------------------------------------------------------
    def check(self, topo: Any, report: Any) -> None:
        known = topology_index(topo, "keys", lambda t: {*ends_by_key(t),
                                                         *(e.key for e in t.externals)})
        seen: set[str] = set()
        for i, src in enumerate(self.redirect_from):
            field = f"redirect_from[{i}]"
            where = self.netns or "the namespace vnet runs in"
            if src == self.name:
                report(field, "an IFB cannot redirect its own ingress to itself",
                       "name the interface whose incoming traffic should be shaped")
            elif (self.netns, src) not in known:
                report(field, f"redirect source {src!r} is not an interface of this topology "
                              f"in {where}",
                       "define it in the same namespace as the IFB, or list an existing one "
                       "with external: true")
            elif src in seen:
                report(field, f"redirect source {src!r} is listed twice", "remove one")
            seen.add(src)
        first = topology_index(topo, "ifb_sources", _first_ifbs)
        owners: dict[int, tuple[Ifb, str]] = {}  # each earlier IFB, with the first source
        for src in sorted(set(self.redirect_from)):
            owner = first.get((self.netns, src), self)
            if owner is not self:
                owners.setdefault(id(owner), (owner, src))
        for other, src in owners.values():
            i = self.redirect_from.index(src)
            report(f"redirect_from[{i}]",
                   f"{src!r} is already redirected to IFB {other.name!r}; the first "
                   "redirect takes every packet, so a second one never sees any",
                   "redirect each interface to one IFB")

    # ---- plan -----------------------------------------------------------------------------
    def _at(self, name: str | None = None) -> str:
        return f"{self.netns}/{name or self.name}" if self.netns else (name or self.name)

    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        """Root shaping qdisc on the IFB and the ingress redirect on each source; stale
        redirects (sources dropped from the file) removed."""
        st = netns_state
        actions = self._plan_shaping(st if live is not None else None)
        for src in self.redirect_from:
            actions += self._plan_redirect(st, live, src)
        if live is not None and st is not None:
            actions += _unredirect(st, self.netns, live, keep=set(self.redirect_from))
        return actions

    @classmethod
    def plan_removal(cls, netns_state: Any, live: Any) -> list[Any]:
        """The IFB goes (with its root qdisc); put back the sources it took ingress from."""
        if netns_state is None:
            return []
        return _unredirect(netns_state, netns_state.name, live, keep=set())

    def _plan_shaping(self, st: Any) -> list[Action]:
        ns, name = self.netns, self.name
        root = None
        if st is not None:
            root = next((q for q in st.qdiscs if q.ifname == name and q.parent == TC_H_ROOT),
                        None)
        mine = root is not None and root.kind in ("tbf", "htb", "sfq")
        if self.shaping is None:
            if root is None or not mine:
                return []
            return [Action("remove", f"qdisc {root.kind} on {self._at()}",
                           "no shaping in the file any more",
                           [Request("tc.qdisc_del", ns, {"ifname": name, "parent": "root"})],
                           [Request("tc.qdisc_replace", ns, {
                               "ifname": name, "kind": root.kind, "handle": root.handle,
                               "params": root.params})])]
        sh = self.shaping
        want = sh.qdisc_params()
        # an impairment hangs its netem under the shaping (class 1:1): tbf needs handle 1:
        handle = HTB_HANDLE if self.impair is not None else sh.root_handle()
        qargs = {"ifname": name, "kind": sh.qdisc, "parent": "root",
                 "handle": handle, "params": want}
        del_root = [Request("tc.qdisc_del", ns, {"ifname": name, "parent": "root"})]
        subject = f"qdisc {sh.qdisc} on {self._at()}"
        actions: list[Action] = []
        same_kind = root is not None and root.kind == sh.qdisc and \
            (not handle or root.handle == handle)
        if root is None or not mine:
            actions.append(Action("create", subject, "declared",
                                  [Request("tc.qdisc_add" if root is None or st is None
                                           else "tc.qdisc_replace", ns, qargs)], del_root))
        elif not same_kind:
            actions.append(Action("replace", subject, f"live root qdisc is {root.kind}",
                                  [Request("tc.qdisc_replace", ns, qargs)], del_root,
                                  diff={"qdisc": (root.kind, sh.qdisc)}))
        elif {k: root.params.get(k) for k in want} != want:
            diff = {k: (root.params.get(k), v) for k, v in want.items()
                    if root.params.get(k) != v}
            # buffer and limit follow from the rate: a new rate shows as just that
            shown = {"rate": (format_rate(diff["rate"][0]), format_rate(diff["rate"][1]))} \
                if "rate" in diff else {("burst" if k == "buffer" else k): v
                                        for k, v in diff.items()}
            actions.append(Action(
                "change", subject, "shaping differs from the file",
                [Request("tc.qdisc_replace", ns, qargs)],
                [Request("tc.qdisc_replace", ns, {**qargs, "params": root.params})],
                diff=shown))
        cls_want = sh.class_params()
        if cls_want is not None:
            fresh = not (same_kind and mine)
            live_cls = None if fresh or st is None else next(
                (c for c in st.tc_classes if c.ifname == name and c.handle == HTB_CLASS), None)
            cargs = {"ifname": name, "classid": HTB_CLASS, "parent": HTB_HANDLE,
                     "params": cls_want}
            csubject = f"htb class 1:1 on {self._at()} ({describe_qdisc('htb', cls_want)})"
            if live_cls is None:
                actions.append(Action("create", csubject, "declared",
                                      [Request("tc.class_add", ns, cargs)]))
            elif {k: live_cls.params.get(k) for k in cls_want} != cls_want:
                diff = {k: (live_cls.params.get(k), v) for k, v in cls_want.items()
                        if live_cls.params.get(k) != v}
                actions.append(Action(
                    "change", csubject, "shaping differs from the file",
                    [Request("tc.class_replace", ns, {**cargs, "params": cls_want})],
                    [Request("tc.class_replace", ns, {**cargs, "params": live_cls.params})],
                    diff={k: (format_rate(o), format_rate(n)) if k in ("rate", "ceil")
                          else (o, n) for k, (o, n) in diff.items()}))
        return actions

    def _plan_redirect(self, st: Any, live: Any, src: str) -> list[Action]:
        ns = self.netns
        qdiscs = st.qdiscs if st is not None else []
        filters = st.tc_filters if st is not None else []
        has_ingress = any(q.ifname == src and q.kind == "ingress" for q in qdiscs)
        ours = live is not None and any(
            f.ifname == src and f.redirect_ifindex == live.index for f in filters)
        if ours:
            return []
        subject = f"ingress redirect {self._at(src)} -> {self.name}"
        redirect = Request("tc.redirect_add", ns, {"ifname": src, "to": self.name})
        if not has_ingress:
            return [Action("create", subject, "declared",
                           [Request("tc.qdisc_add", ns, {"ifname": src, "kind": "ingress",
                                                         "parent": "ingress"}), redirect],
                           [Request("tc.qdisc_del", ns, {"ifname": src, "parent": "ingress"})])]
        return [Action("create", subject, "declared (ingress qdisc already there)", [redirect],
                       [Request("tc.redirect_del", ns, {"ifname": src, "to": self.name})])]

    # ---- rendering ------------------------------------------------------------------------
    def draw_edges(self) -> list[DrawEdge]:
        return [DrawEdge("ingress", "ingress redirected into the IFB", name=src,
                         netns=self.netns, inward=True) for src in self.redirect_from]

    def ip_commands(self) -> list[list[str]]:
        cmds = super().ip_commands()
        tc = ["tc", "-n", self.netns] if self.netns else ["tc"]
        sh = self.shaping
        if sh is not None and sh.qdisc == "htb":
            cmds.append([*tc, "qdisc", "add", "dev", self.name, "root", "handle", "1:", "htb",
                         "default", "1"])
            cmds.append([*tc, "class", "add", "dev", self.name, "parent", "1:", "classid",
                         "1:1", "htb", *sh.class_args()])
        elif sh is not None:
            handle = ["handle", "1:"] if self.impair is not None else []
            cmds.append([*tc, "qdisc", "add", "dev", self.name, "root", *handle, sh.qdisc,
                         *sh.tc_args()])
        for src in self.redirect_from:
            cmds.append([*tc, "qdisc", "add", "dev", src, "handle", "ffff:", "ingress"])
            cmds.append([*tc, "filter", "add", "dev", src, "parent", "ffff:", "protocol", "all",
                         "u32", "match", "u32", "0", "0", "action", "mirred", "egress",
                         "redirect", "dev", self.name])
        return cmds


def _size_for(ticks: Any, target: int) -> int:
    """A size (bytes) that `ticks` (monotonic in the size) turns into `target`: the roundest
    of those that do (a multiple of 128 bytes, tc's kbit, where one does)."""
    def first(at_least: int) -> int:
        lo, hi = 1, 1 << 32
        while lo < hi:
            mid = (lo + hi) // 2
            if ticks(mid) >= at_least:
                hi = mid
            else:
                lo = mid + 1
        return lo
    low, high = first(target), first(target + 1) - 1
    if low > high:
        return low  # no size gives exactly this number: the nearest above
    round_ = (low + 127) // 128 * 128
    return round_ if round_ <= high else low


def _size_text(size: int) -> str:
    return f"{size // 128}kbit" if size % 128 == 0 else f"{size}b"


def _captured_shaping(st: Any, name: str) -> dict[str, Any] | None:
    """The `shaping` of an IFB from its live root qdisc (None: none vnet would make)."""
    root = next((q for q in st.qdiscs if q.ifname == name and q.parent == TC_H_ROOT), None)
    if root is None:
        return None
    params = root.params
    if root.kind == "tbf":
        rate, limit = int(params["rate"]), int(params["limit"])
        burst = _size_for(lambda s: kernel_burst_ticks(rate, s), int(params["buffer"]))
        out: dict[str, Any] = {"qdisc": "tbf", "rate": format_rate(rate),
                               "burst": _size_text(burst)}
        ms = round((limit - burst) * 1000 / rate)
        if ms > 0 and int(rate * float(ms * 1000) / TIME_UNITS_PER_SEC + burst) == limit:
            out["latency"] = f"{ms}ms"
        else:
            out["limit"] = limit
        return out
    if root.kind == "htb":
        klass = next((c for c in st.tc_classes if c.ifname == name and c.handle == HTB_CLASS),
                     None)
        if klass is None:
            return None
        rate, ceil = int(klass.params["rate"]), int(klass.params["ceil"])
        out = {"qdisc": "htb", "rate": format_rate(rate)}
        if ceil != rate:
            out["ceil"] = format_rate(ceil)
        for key, buffer, speed in (("burst", "buffer", rate), ("cburst", "cbuffer", ceil)):
            size = _size_for(lambda s, r=speed: xmittime(r, s), int(klass.params[buffer]))
            if size != speed // PSCHED_HZ + HTB_MTU:
                out[key] = _size_text(size)
        return out
    if root.kind == "sfq":
        perturb = int(params.get("perturb") or 0)
        return {"qdisc": "sfq", **({"perturb": perturb} if perturb else {})}
    return None


def _unredirect(st: Any, ns: str | None, live: Any, keep: set[str]) -> list[Action]:
    """Remove redirects to the IFB `live` from sources not in `keep`: the whole ingress qdisc
    when only such redirects hang on it, else just those filters."""
    actions: list[Action] = []
    at = (lambda n: f"{ns}/{n}") if ns else (lambda n: n)
    sources = sorted({f.ifname for f in st.tc_filters
                      if f.redirect_ifindex == live.index and f.ifname not in keep})
    for src in sources:
        if src not in st.links:
            continue
        on_src = [f for f in st.tc_filters if f.ifname == src]
        readd = Request("tc.redirect_add", ns, {"ifname": src, "to": live.name})
        subject = f"ingress redirect {at(src)} -> {live.name}"
        if all(f.redirect_ifindex == live.index for f in on_src):
            actions.append(Action(
                "remove", subject, "vnet added it; the IFB no longer redirects from it",
                [Request("tc.qdisc_del", ns, {"ifname": src, "parent": "ingress"})],
                [Request("tc.qdisc_add", ns, {"ifname": src, "kind": "ingress",
                                              "parent": "ingress"}), readd]))
        else:
            actions.append(Action(
                "remove", subject, "vnet added it; other ingress filters stay",
                [Request("tc.redirect_del", ns, {"ifname": src, "to": live.name})], [readd]))
    return actions


def _first_ifbs(topo: Any) -> dict[tuple[str | None, str], Ifb]:
    """(netns, source) -> the first IFB of the file that redirects it."""
    first: dict[tuple[str | None, str], Ifb] = {}
    for iface in topo.interfaces:
        if isinstance(iface, Ifb):
            for src in iface.redirect_from:
                first.setdefault((iface.netns, src), iface)
    return first


def ingress_ifb_name(name: str) -> str:
    """The name of the IFB vnet makes to impair what interface `name` receives."""
    return ("ifb" + name)[:15]


def ingress_ifbs(objs: list[Any]) -> list[Ifb]:
    """The IFBs vnet makes for the interfaces (ends or externals) impaired on ingress
    (`impair: {direction: ingress|both}`): each in the interface's namespace, taking its
    ingress, with the same netem on the IFB's egress. Errors about one point at the
    interface's `impair`."""
    out: list[Ifb] = []
    for obj in objs:
        impair = obj.impair
        if impair is None or impair.direction == "egress":
            continue
        ifb = Ifb.model_validate({
            "kind": "ifb", "name": ingress_ifb_name(obj.name), "netns": obj.netns,
            "redirect_from": [obj.name],
            "impair": impair.model_copy(update={"direction": "egress"})})
        private = ifb.__pydantic_private__
        assert private is not None
        private["_path"] = f"{obj.path}.impair"
        out.append(ifb)
    return out


def plan_ingress_impair(topology: str, netns_state: Any, netns: str | None, ifname: str,
                        impair: Any, table: str | None = None
                        ) -> tuple[list[Action], str | None]:
    """What `vnet impair --direction ingress|both` does to the IFB that takes what `ifname`
    receives (named as the file's would be, `ingress_ifb_name`): made (marked as the
    topology's, up, netem on its egress, then the redirect) when missing, its netem changed
    in place when there, removed with its redirect when `impair` is None. `impair` is the
    IFB's egress impairment; `table` the distribution table recorded for its netem.
    Returns (actions, a conflict message or None)."""
    from .. import ownership
    from ..features.impair import plan_impair
    name = ingress_ifb_name(ifname)
    where = f"{netns}/{name}" if netns else name
    live = netns_state.links.get(name) if netns_state is not None else None
    if live is not None and ownership.link_marker(topology, name) not in live.altnames \
            and live.owner != topology:
        return [], (f"{where} is not an IFB of topology {topology}: vnet impair needs that name "
                    f"for the IFB that takes what {ifname} receives")
    if impair is None:
        if live is None:
            return [], None
        return [*_unredirect(netns_state, netns, live, keep=set()),
                Action("remove", f"link {where} (ifb)",
                       f"what {ifname} receives is no longer impaired",
                       [Request("link.del", netns, {"ifname": name, "missing_ok": True})],
                       undo_gap=f"deleted link {where} cannot be re-created exactly")], None
    ifb = Ifb.model_validate({"kind": "ifb", "name": name, "netns": netns,
                              "redirect_from": [ifname], "impair": impair})
    if live is None:
        made = Action(
            "create", f"link {where} (ifb)", f"what {ifname} receives is impaired here",
            [Request("link.add", netns, {"ifname": name,
                                         "marker": ownership.link_marker(topology, name),
                                         "group": ownership.link_group(topology),
                                         **ifb.create_request()}),
             Request("link.state", netns, {"ifname": name, "up": True})],
            [Request("link.del", netns, {"ifname": name, "missing_ok": True})])
        netem = plan_impair((netns, name), impair, netns_state, None, True, None, True)[0]
        # the redirect last: what arrives goes to an IFB that already impairs it
        return [made, *netem, *ifb._plan_redirect(netns_state, None, ifname)], None
    netem, _, conflict = plan_impair((netns, name), impair, netns_state, live, True, {}, True,
                                     table=table)
    return [*netem, *ifb._plan_redirect(netns_state, live, ifname)], conflict
