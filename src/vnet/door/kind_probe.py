"""Which kinds this kernel can create: each kind's declared throwaway link (its class's
`probe`), created and deleted in a forked child's own network namespace. Features a kind may
lack on a kernel that has it (FEATURES: bridge VLAN filtering) are probed the same way, by a
throwaway link of the kind with the feature's options."""

from __future__ import annotations

import ctypes
import errno
import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

from ..actions import Request
from ..errors import KernelError
from .namespaces import CLONE_NEWNET, libc
from .netlink import Netlink

#: feature -> (the kind it belongs to, the options of its throwaway link, the kernel's name
#: for it); a feature is probed like its kind, with these options on the probe link
FEATURES: dict[str, tuple[str, dict[str, object], str]] = {
    "bridge_vlan_filtering": ("bridge", {"vlan_filtering": True},
                              "CONFIG_BRIDGE_VLAN_FILTERING"),
}


#: qdiscs a kernel may lack, probed on a throwaway veth: feature -> the kernel's config name
QDISC_FEATURES: dict[str, str] = {"netem": "CONFIG_NET_SCH_NETEM"}


def probe_kinds(names: list[str], specimens: Mapping[str, Any] | None = None
                ) -> dict[str, tuple[bool | None, str]]:
    """Try to create each kind (or feature of FEATURES) in a throwaway network namespace (a
    forked child that unshares its own); the host's namespaces are never touched. Each kind's
    class says what its throwaway link needs (`probe`, a parent when it has one) and what the
    kernel is asked. A name of `specimens` is a kind option (kinds_probe.option_name): a
    copy of its entry is made there and read back (`_probe_options`)."""
    specimens = specimens or {}
    if os.geteuid() != 0:
        return {n: (None, "probing needs root") for n in names}
    import json
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        result: dict[str, tuple[bool | None, str]] = {}
        try:
            if libc().unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            with Netlink() as nl:
                parent = functools.cache(lambda: _make_parent(nl))  # once, when first needed
                result = {name: _probe_feature(nl, name, parent) if name in FEATURES
                          else _probe_qdisc(nl, name, parent) if name in QDISC_FEATURES
                          else _probe_kind(nl, name, parent) for name in names
                          if name not in specimens}
                result.update(_probe_options(nl, {n: specimens[n] for n in names
                                                  if n in specimens}, parent))
        except Exception as exc:  # noqa: BLE001 - report, never crash the child silently
            result = {n: (None, f"probe failed: {exc}") for n in names}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    try:
        data = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        data = {}
    return {n: tuple(data.get(n, (None, "probe did not answer"))) for n in names}


def _make_parent(nl: Netlink) -> None:
    """The veth (PROBE_PARENT) that stacked kinds' probe links sit on."""
    from ..kinds import lookup
    from ..kinds.base import PROBE_PARENT

    parent = lookup("veth").model_validate(
        {"kind": "veth", "name": PROBE_PARENT, "peer": {"name": PROBE_PARENT + "p"}})
    nl.send([Request("link.add", None, {"ifname": parent.name, "marker": None,
                                        **parent.create_request()})])


def _probe_feature(nl: Netlink, name: str, make_parent: Callable[[], None]
                   ) -> tuple[bool | None, str]:
    """A feature of FEATURES: its kind's throwaway link made with the feature's options."""
    kind, options, config = FEATURES[name]
    has_kind, why = _probe_kind(nl, kind, make_parent)
    if not has_kind:
        return has_kind, f"no {kind}: {why}" if why else f"no {kind}"
    available, why = _probe_kind(nl, kind, make_parent, options)
    if available is False and why.startswith("not built in"):
        why = f"built without {config}"
    return available, why


def _probe_qdisc(nl: Netlink, name: str, make_parent: Callable[[], None]
                 ) -> tuple[bool | None, str]:
    """A qdisc of QDISC_FEATURES put on the throwaway veth and taken off again."""
    from ..features.impair import Impair
    from ..kinds.base import PROBE_PARENT
    try:
        make_parent()
        params = Impair.model_validate({"delay": "1ms"}).netem_params()
        nl.send([Request("tc.netem_set", None, {"ifname": PROBE_PARENT, "params": params})])
        nl.send([Request("tc.qdisc_del", None, {"ifname": PROBE_PARENT, "parent": "root"})])
    except KernelError as exc:
        if exc.errno == errno.ENOENT:
            return False, f"{QDISC_FEATURES[name]} not set, no module sch_{name}"
        return False, f"probe failed: {os.strerror(exc.errno) if exc.errno else exc}"
    return True, ""


def _probe_kind(nl: Netlink, name: str, make_parent: Callable[[], None],
                options: dict[str, object] | None = None) -> tuple[bool | None, str]:
    """Create and delete a throwaway link of kind `name` in this (private) namespace, with
    `options` besides its class's `probe` fields."""
    from ..kinds import lookup
    from ..kinds.base import PROBE_NAME

    cls = lookup(name)
    if cls.requires:
        return False, f"needs {cls.requires}"
    link = cls.probe_link() if not options else cls.model_validate(
        {"kind": cls.kind_name, "name": PROBE_NAME, **cls.probe, **options})
    try:
        _add_throwaway(nl, link, make_parent)
        nl.send([Request("link.del", None, {"ifname": PROBE_NAME})])
    except KernelError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            return False, f"not built in, no module {cls.kernel_modules()[0][0]}"
        return False, f"probe failed: {os.strerror(exc.errno) if exc.errno else exc}"
    return True, ""


def _add_throwaway(nl: Netlink, link: Any, make_parent: Callable[[], None]) -> None:
    """Create `link` (an instance of a kind, named PROBE_NAME) in this private namespace; a
    kind with a parent gets the throwaway veth, made first."""
    from ..kinds.base import PROBE_NAME, PROBE_PARENT

    request = {"ifname": PROBE_NAME, "marker": None, **link.probe_request()}
    if link.parent() is not None:
        make_parent()
        request.update(parent=PROBE_PARENT, parent_netns=None)
    nl.send([Request("link.add", None, request)])


def _probe_options(nl: Netlink, specimens: Mapping[str, Any],
                   make_parent: Callable[[], None]) -> dict[str, tuple[bool | None, str]]:
    """Each kind option of `specimens` (probe name -> an entry of the file that sets it): a
    copy of the entry, with its kind's fields and options alone (no addresses, master or
    namespace; a parent is the throwaway veth), created here and read back as `plan` reads a
    link. An option the kernel ignores (a kernel older than it takes the link without it)
    does not read back as set: (False, what it reported). A copy the kernel refuses as not
    supported is tried again with one option at a time, naming the one it refuses; any other
    refusal answers nothing definite (apply will say why)."""
    from ..kinds.base import InterfaceBase
    from .ticks import kernel_hz

    hz = kernel_hz()
    by_entry: dict[int, tuple[Any, dict[str, str]]] = {}
    for name, iface in specimens.items():
        option = name.split(".", 1)[1]
        by_entry.setdefault(id(iface), (iface, {}))[1][option] = name
    out: dict[str, tuple[bool | None, str]] = {}
    for iface, options in by_entry.values():
        own = {k: v for k, v in iface.model_dump(exclude_unset=True).items()
               if k not in InterfaceBase.model_fields}
        answers = _read_back_copy(nl, type(iface), own, list(options), make_parent, hz)
        if answers is None:  # not supported, said of the whole: one option at a time
            answers = {}
            for option in options:
                alone = {k: v for k, v in own.items()
                         if k == option or k not in type(iface).options_map}
                refused = (False, f"the kernel refused it: {os.strerror(errno.EOPNOTSUPP)}")
                answers.update(_read_back_copy(nl, type(iface), alone, [option], make_parent,
                                               hz) or {option: refused})
        out.update({options[option]: answer for option, answer in answers.items()})
    return out


def _read_back_copy(nl: Netlink, cls: Any, own: dict[str, Any], options: list[str],
                    make_parent: Callable[[], None], hz: int | None
                    ) -> dict[str, tuple[bool | None, str]] | None:
    """Make a throwaway link of `cls` from the entry's own fields `own`, read it back and
    delete it: option -> (kept, why not) for each of `options` (`hz`: this kernel's, for
    the options kept in ticks); None when the kernel refuses it as not supported."""
    from ..kinds.base import PROBE_NAME

    try:
        copy = cls.model_validate({**own, **cls.probe, "kind": cls.kind_name,
                                   "name": PROBE_NAME})
        _add_throwaway(nl, copy, make_parent)
        live = nl.read_netns(None, counters=False, foreign_routes=False, tc=False,
                             vlans=False, kind_state=False,
                             addresses=False).links.get(PROBE_NAME)
        nl.send([Request("link.del", None, {"ifname": PROBE_NAME})])
    except KernelError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            return None
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        return {option: (None, f"probe failed: {why}") for option in options}
    except ValueError as exc:
        return {option: (None, f"probe failed: {str(exc).splitlines()[0]}")
                for option in options}
    if live is None:
        return {option: (None, "probe failed: the copy was not there") for option in options}
    current = cls.decode_info_data(live.info_data)
    declared = copy.declared_options()
    out: dict[str, tuple[bool | None, str]] = {}
    for option in options:
        value, kept = declared.get(option), current.get(option)
        if option not in declared or cls.keeps(option, value, kept, hz):
            out[option] = (True, "")
        else:
            out[option] = (False, "the kernel reported nothing for it" if kept is None
                           else f"set to {value!r}, the kernel reported {kept!r}")
    return out
