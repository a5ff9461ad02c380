"""Traffic-control operations (qdiscs, classes, filters, mirred redirect to an IFB).

A mixin of `Netlink`: methods named `_op_tc_<verb>(self, netns, **args)` are reached through
`Netlink.execute(Request("tc.<verb>", ...))`. Use `self._ipr(netns)` and `self._index(...)`.

Shaping parameters arrive already in the kernel's units (bytes/s, psched ticks, bytes), worked
out by the kind file exactly as `tc` works them out, so the kernel holds the same numbers after
vnet as after the reference `tc` commands, and a plan can compare them with a dump. That is why
tbf/htb messages are built here rather than through pyroute2's `tc("add", "tbf", ...)`, which
rounds the buffer differently from tc (4093 instead of 4095 bytes of burst for 32kbit).
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from ..errors import KernelError
from ..observe import TcFilterState, TcState

TC_H_ROOT = 0xFFFFFFFF
TC_H_INGRESS = 0xFFFFFFF1
INGRESS_HANDLE = 0xFFFF0000
ETH_P_ALL = 0x0003
TC_LINKLAYER_ETHERNET = 1
TCA_EGRESS_REDIR = 1
TC_ACT_STOLEN = 4

_NLM_F_REQUEST = 0x1
_NLM_F_ACK = 0x4
_NLM_F_REPLACE = 0x100
_NLM_F_EXCL = 0x200
_NLM_F_CREATE = 0x400
_CREATE = _NLM_F_REQUEST | _NLM_F_ACK | _NLM_F_CREATE | _NLM_F_EXCL
_REPLACE = _NLM_F_REQUEST | _NLM_F_ACK | _NLM_F_CREATE | _NLM_F_REPLACE
_RTM_NEWQDISC = 36
_RTM_DELQDISC = 37
_RTM_NEWTCLASS = 40
_RTM_NEWTFILTER = 44
_RTM_DELTFILTER = 45


def _ratespec(rate: int) -> dict[str, int]:
    """The leading struct tc_ratespec fields as tc fills them (linklayer ethernet)."""
    return {"rate": min(rate, 0xFFFFFFFF), "rate___reserved": TC_LINKLAYER_ETHERNET}


def _qdisc_options(kind: str, params: dict[str, Any]) -> dict[str, Any] | None:
    if kind == "tbf":
        parms = {**_ratespec(params["rate"]), "buffer": params["buffer"],
                 "limit": params["limit"], "mtu": 0}
        return {"attrs": [["TCA_TBF_PARMS", parms], ["TCA_TBF_RTAB", True]]}
    if kind == "htb":
        return {"attrs": [["TCA_HTB_INIT", {"version": 3, "rate2quantum": 10,
                                            "defcls": params["defcls"], "debug": 0,
                                            "direct_pkts": 0}]]}
    return None


class TcOps:
    """tc over rtnetlink. Every op raises KernelError (through `execute`) on refusal."""

    _ipr: Any
    _rt: Any
    _index: Any

    # ---- sending -------------------------------------------------------------------------
    def _tc_send(self, netns: str | None, msg_type: int, flags: int, ifname: str,
                 handle: int, parent: int, kind: str | None,
                 options: dict[str, Any] | None = None, info: int = 0) -> None:
        from pyroute2.netlink.rtnl.tcmsg import tcmsg
        msg = tcmsg()
        msg["family"] = socket.AF_UNSPEC
        msg["index"] = self._index(netns, ifname)
        msg["handle"] = handle
        msg["parent"] = parent
        msg["info"] = info
        attrs: list[list[Any]] = []
        if kind is not None:
            attrs.append(["TCA_KIND", kind])
        if options is not None:
            attrs.append(["TCA_OPTIONS", options])
        msg["attrs"] = attrs
        msg["header"]["type"] = msg_type
        msg["header"]["flags"] = flags
        # the batch call: IPRoute's sync nlm_request trips over its own status in 0.9.7
        self._ipr(netns).nlm_request_batch([msg])

    def _qdisc(self, netns: str | None, flags: int, ifname: str, kind: str, parent: str,
               handle: int, params: dict[str, Any]) -> None:
        where = TC_H_INGRESS if parent == "ingress" else TC_H_ROOT
        if kind == "ingress":
            handle = INGRESS_HANDLE
        options = _qdisc_options(kind, params)
        try:
            if kind == "sfq":
                # sfq is classless with plain fields: pyroute2's own encoder matches tc here
                cmd = "replace" if flags == _REPLACE else "add"
                self._ipr(netns).tc(cmd, "sfq", self._index(netns, ifname), handle,
                                    parent=where, perturb=params.get("perturb", 0))
            else:
                self._tc_send(netns, _RTM_NEWQDISC, flags, ifname, handle, where, kind, options)
        except Exception as exc:
            if getattr(exc, "code", None) == errno.ENOENT:
                raise KernelError(
                    f"add {kind} qdisc on {netns + '/' if netns else ''}{ifname}", errno.ENOENT,
                    f"this kernel has no {kind!r} qdisc (not built in, no module); "
                    "use tbf or htb") from None
            raise

    # ---- qdiscs --------------------------------------------------------------------------
    def _op_tc_qdisc_add(self, netns: str | None, ifname: str, kind: str,
                         parent: str = "root", handle: int = 0,
                         params: dict[str, Any] | None = None) -> None:
        """`tc qdisc add dev IFNAME root|ingress [handle H] KIND PARAMS`."""
        self._qdisc(netns, _CREATE, ifname, kind, parent, handle, params or {})

    def _op_tc_qdisc_replace(self, netns: str | None, ifname: str, kind: str,
                             parent: str = "root", handle: int = 0,
                             params: dict[str, Any] | None = None) -> None:
        """`tc qdisc replace ...`: changes parameters in place, or swaps the qdisc."""
        self._qdisc(netns, _REPLACE, ifname, kind, parent, handle, params or {})

    def _op_tc_qdisc_del(self, netns: str | None, ifname: str, parent: str | int = "root",
                         missing_ok: bool = True) -> None:
        """`tc qdisc del dev IFNAME root|ingress|parent CLASSID` (gone already, or the link
        gone: fine)."""
        if missing_ok and not self._ipr(netns).link_lookup(ifname=ifname):
            return
        where = parent if isinstance(parent, int) else \
            TC_H_INGRESS if parent == "ingress" else TC_H_ROOT
        handle = INGRESS_HANDLE if parent == "ingress" else 0
        try:
            self._tc_send(netns, _RTM_DELQDISC, _NLM_F_REQUEST | _NLM_F_ACK, ifname, handle,
                          where, None)
        except Exception as exc:
            # ENOENT: no such qdisc; EINVAL: deleting the default root qdisc
            if not (missing_ok and getattr(exc, "code", None) in (errno.ENOENT, errno.EINVAL)):
                raise

    # ---- netem (impairments) -----------------------------------------------------------------
    def _op_tc_netem_set(self, netns: str | None, ifname: str, params: dict[str, Any],
                         how: str = "replace", parent: int = TC_H_ROOT,
                         handle: int = 0) -> None:
        """`tc qdisc replace dev IFNAME root netem ...` (how="replace": made, or swapped for
        the root qdisc there) or `tc qdisc change ...` (how="change": the live netem's
        parameters changed in place, no NLM_F_CREATE/NLM_F_EXCL)."""
        from . import rtnl
        from .netem import encode_netem
        flags = _NLM_F_CREATE | _NLM_F_REPLACE if how == "replace" else 0
        where = f"{netns + '/' if netns else ''}{ifname}"
        try:
            options = encode_netem(params)
        except ValueError as exc:  # a distribution table gone or changed since validation
            raise KernelError(f"set netem qdisc on {where}", None, str(exc)) from None
        body = (rtnl._TCM.pack(socket.AF_UNSPEC, self._index(netns, ifname), handle, parent, 0)
                + rtnl.attr_str(rtnl.TCA_KIND, "netem") + rtnl.attr(rtnl.TCA_OPTIONS, options))
        try:
            self._rt(netns).request((_RTM_NEWQDISC, flags, body))
        except rtnl.RtnlError as exc:
            if exc.code == errno.ENOENT and how == "replace":
                raise KernelError(
                    f"add netem qdisc on {where}", errno.ENOENT,
                    "this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM not set, no module "
                    "sch_netem); impairments need a kernel with it") from None
            raise

    # ---- classes -------------------------------------------------------------------------
    def _class(self, netns: str | None, flags: int, ifname: str, classid: int, parent: int,
               params: dict[str, Any]) -> None:
        parms = {**_ratespec(params["rate"]), "ceil": min(params["ceil"], 0xFFFFFFFF),
                 "ceil___reserved": TC_LINKLAYER_ETHERNET, "buffer": params["buffer"],
                 "cbuffer": params["cbuffer"], "quantum": 0, "level": 0, "prio": 0,
                 "mtu": 1600}
        attrs: list[list[Any]] = [["TCA_HTB_PARMS", parms], ["TCA_HTB_RTAB", True],
                                  ["TCA_HTB_CTAB", True]]
        if params["rate"] > 0xFFFFFFFF:
            attrs.append(["TCA_HTB_RATE64", params["rate"]])
        if params["ceil"] > 0xFFFFFFFF:
            attrs.append(["TCA_HTB_CEIL64", params["ceil"]])
        self._tc_send(netns, _RTM_NEWTCLASS, flags, ifname, classid, parent, "htb",
                      {"attrs": attrs})

    def _op_tc_class_add(self, netns: str | None, ifname: str, classid: int, parent: int,
                         params: dict[str, Any]) -> None:
        """`tc class add dev IFNAME parent P classid C htb rate R ceil C burst B cburst CB`."""
        self._class(netns, _CREATE, ifname, classid, parent, params)

    def _op_tc_class_replace(self, netns: str | None, ifname: str, classid: int, parent: int,
                             params: dict[str, Any]) -> None:
        self._class(netns, _REPLACE, ifname, classid, parent, params)

    # ---- the ingress redirect --------------------------------------------------------------
    def _op_tc_redirect_add(self, netns: str | None, ifname: str, to: str) -> None:
        """`tc filter add dev IFNAME parent ffff: protocol all u32 match u32 0 0
        action mirred egress redirect dev TO`."""
        self._ipr(netns).tc(
            "add-filter", "u32", self._index(netns, ifname), parent=INGRESS_HANDLE,
            protocol=ETH_P_ALL, keys=["0x0/0x0+0"], target=0,
            action=[{"kind": "mirred", "direction": "egress", "action": "redirect",
                     "ifindex": self._index(netns, to)}])

    def _op_tc_redirect_del(self, netns: str | None, ifname: str, to: str,
                            missing_ok: bool = True) -> None:
        """Delete the ingress filters of IFNAME that redirect to TO (by their preference)."""
        ipr = self._ipr(netns)
        if not ipr.link_lookup(ifname=ifname) or not ipr.link_lookup(ifname=to):
            if missing_ok:
                return
        index, target = self._index(netns, ifname), self._index(netns, to)
        prios = {f.prio for f in read_filters(ipr, {index: ifname}, [index])
                 if f.redirect_ifindex == target}
        for prio in sorted(prios):
            self._tc_send(netns, _RTM_DELTFILTER, _NLM_F_REQUEST | _NLM_F_ACK, ifname, 0,
                          INGRESS_HANDLE, "u32", info=(prio << 16) | socket.htons(ETH_P_ALL))


# ---- reading (used by Netlink.read_netns) --------------------------------------------------
def read_tc(ipr: Any, names: dict[int, str]) -> tuple[list[TcState], list[TcState],
                                                       list[TcFilterState]]:
    """Qdiscs of a namespace, htb classes of links with an htb root, and the ingress filters
    of links with an ingress qdisc — decoded only as far as vnet compares them."""
    qdiscs: list[TcState] = []
    for msg in ipr.get_qdiscs():
        if msg["index"] not in names:
            continue
        kind = msg.get_attr("TCA_KIND") or ""
        params = _decode_netem(msg) if kind == "netem" else _decode_params(msg)
        qdiscs.append(TcState(names[msg["index"]], kind, msg["handle"], msg["parent"], params))
    index_of = {v: k for k, v in names.items()}
    classes: list[TcState] = []
    for q in qdiscs:
        if q.kind == "htb" and q.parent == TC_H_ROOT:
            for msg in ipr.get_classes(index=index_of[q.ifname]):
                if msg.get_attr("TCA_KIND") == "htb":
                    classes.append(TcState(q.ifname, "htb", msg["handle"], msg["parent"],
                                           _decode_params(msg)))
    ingress = [index_of[q.ifname] for q in qdiscs if q.kind == "ingress"]
    return qdiscs, classes, read_filters(ipr, names, ingress)


def read_filters(ipr: Any, names: dict[int, str], indexes: list[int]) -> list[TcFilterState]:
    out: list[TcFilterState] = []
    for index in indexes:
        for msg in ipr.get_filters(index=index, parent=INGRESS_HANDLE):
            opts = msg.get_attr("TCA_OPTIONS")
            if opts is None or opts.get_attr("TCA_U32_SEL") is None and \
                    msg.get_attr("TCA_KIND") == "u32":
                continue  # u32's hash-table nodes: not a filter of their own
            sel = opts.get_attr("TCA_U32_SEL") if msg.get_attr("TCA_KIND") == "u32" else None
            match_all = sel is not None and all(
                k.get("key_mask", 1) == 0 for k in sel.get("keys", [])) if sel else False
            target = None
            acts = opts.get_attr("TCA_U32_ACT") if msg.get_attr("TCA_KIND") == "u32" else None
            for _, act in (acts.get("attrs", []) if acts is not None else []):
                if not hasattr(act, "get_attr") or act.get_attr("TCA_ACT_KIND") != "mirred":
                    continue
                parms = act.get_attr("TCA_ACT_OPTIONS").get_attr("TCA_MIRRED_PARMS")
                if parms["eaction"] == TCA_EGRESS_REDIR:
                    target = parms["ifindex"]
            info = msg["info"]
            out.append(TcFilterState(
                ifname=names.get(index, str(index)), parent=msg["parent"],
                kind=msg.get_attr("TCA_KIND") or "", prio=info >> 16,
                protocol=socket.ntohs(info & 0xFFFF), match_all=match_all,
                redirect_ifindex=target, redirect_dev=names.get(target) if target else None))
    return out


def _decode_netem(msg: Any) -> dict[str, Any]:
    """A netem's parameters from its raw message (door/netem.py decodes what pyroute2 does
    not: the 64-bit delays, loss models, slots)."""
    from .netem import decode_netem
    from .rtnl import TCA_OPTIONS, attrs
    raw = msg.raw
    for kind, start, end in attrs(raw, 36, len(raw)):
        if kind & 0x7FFF == TCA_OPTIONS:
            return decode_netem(raw[start:end])
    return {}


def _decode_params(msg: Any) -> dict[str, Any]:
    kind = msg.get_attr("TCA_KIND")
    opts = msg.get_attr("TCA_OPTIONS")
    if opts is None or not hasattr(opts, "get_attr"):
        return {}
    if kind == "tbf":
        p = opts.get_attr("TCA_TBF_PARMS") or {}
        return {"rate": opts.get_attr("TCA_TBF_RATE64") or p.get("rate"),
                "buffer": p.get("buffer"), "limit": p.get("limit")}
    if kind == "htb":
        init = opts.get_attr("TCA_HTB_INIT")
        if init is not None:
            return {"defcls": init.get("defcls")}
        p = opts.get_attr("TCA_HTB_PARMS") or {}
        return {"rate": opts.get_attr("TCA_HTB_RATE64") or p.get("rate"),
                "ceil": opts.get_attr("TCA_HTB_CEIL64") or p.get("ceil"),
                "buffer": p.get("buffer"), "cbuffer": p.get("cbuffer")}
    if kind == "sfq":
        return {"perturb": opts.get("perturb_period")} if hasattr(opts, "get") else {}
    return {}
