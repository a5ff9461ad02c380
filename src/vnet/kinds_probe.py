"""`vnet kinds`: which kinds (and features of kinds) this kernel can create, probed in a
throwaway namespace, cached per boot (the kernel's kinds do not change while it runs); and
`lacking`, which `plan` and `apply` ask before any change."""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping
from typing import Any

from . import kinds as registry
from .datatypes import asdict, datatype
from .store import STATE_DIR

#: features a kernel may lack although it has their kind, probed like kinds (the door's
#: kind_probe.FEATURES says how), by name -> the words `vnet kinds` and errors use
FEATURES = {"bridge_vlan_filtering": "bridge VLAN filtering",
            "netem": "the netem qdisc (impair)"}
#: the cache's layout; a cache of another layout is probed again
_FORMAT = 2


@datatype
class KindInfo:
    name: str
    implemented: bool  # every kind listed is; kept for the JSON's readers
    available: bool | None  # None: could not probe (not root)
    reason: str
    use_when: str


@datatype
class FeatureInfo:
    name: str
    title: str
    available: bool | None  # None: could not probe (not root)
    reason: str


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return "unknown"


def _cache_path() -> str:
    return os.path.join(STATE_DIR, f"kinds-{_boot_id()}.json")


def _read_cache(path: str) -> dict[str, list[Any]]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT or \
            not isinstance(data.get("probed"), dict):
        return {}  # an older vnet's cache: probed again
    return dict(data["probed"])


def probed(names: list[str], refresh: bool = False, again: Collection[str] = (),
           specimens: Mapping[str, Any] | None = None) -> dict[str, tuple[bool | None, str]]:
    """(available, why not) of each kind, feature or option in `names`: from the per-boot
    cache, and what it lacks (or all of `names` when `refresh`, those in `again` too) probed
    now and added to it. None: could not probe (not root). An option's name is
    `option_name(kind, option)`; `specimens` gives, for each, the file's entry that sets it
    (the probe makes a copy of that entry)."""
    path = _cache_path()
    known = _read_cache(path)
    missing = [n for n in names if refresh or n in again or n not in known]
    if missing:
        from .door.kind_probe import probe_kinds
        fresh = {k: list(v) for k, v in probe_kinds(missing, specimens or {}).items()}
        definite = {k: v for k, v in fresh.items() if v[0] is not None}
        if definite:
            try:  # whole or not at all: a reader never sees half of it
                os.makedirs(STATE_DIR, exist_ok=True)
                part = f"{path}.{os.getpid()}"
                with open(part, "w", encoding="utf-8") as fh:
                    json.dump({"format": _FORMAT, "probed": {**known, **definite}}, fh)
                os.replace(part, path)
            except OSError:
                pass
        known.update(fresh)
    out: dict[str, tuple[bool | None, str]] = {}
    for name in names:
        available, reason = known.get(name, [None, "not probed"])
        out[name] = (available, str(reason))
    return out


def kind_table(refresh: bool = False) -> list[KindInfo]:
    """Every kind vnet implements, available on this kernel or not, and its use-when text.
    (Probes the features too, so `feature_table` then reads them from the cache.)"""
    from .errors import PermissionProblem, missing_capabilities
    missing = missing_capabilities()
    if missing:  # probing makes links in a namespace of its own: both capabilities
        raise PermissionProblem(" and ".join(missing))
    classes = registry.ordered()
    answers = probed([*(cls.kind_name for cls in classes), *FEATURES], refresh)
    return [KindInfo(cls.kind_name, True, *answers[cls.kind_name], cls.use_when)
            for cls in classes]


def feature_table(refresh: bool = False) -> list[FeatureInfo]:
    """Every feature of FEATURES, available on this kernel or not."""
    answers = probed(list(FEATURES), refresh)
    return [FeatureInfo(name, title, *answers[name]) for name, title in FEATURES.items()]


def kind_dicts(table: list[KindInfo]) -> list[dict[str, object]]:
    return [asdict(k) for k in table]


def option_name(kind: str, option: str) -> str:
    """The probe cache's name of one kind option."""
    return f"option:{kind}.{option}"


def _option_users(topo: Any, kinds: Mapping[str, tuple[bool | None, str]]
                  ) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Who sets each kind option the kernel is told at creation (kinds in `kinds` known to
    be available only), and one entry that sets it: the probe makes a copy of that entry."""
    users: dict[str, list[str]] = {}
    specimens: dict[str, Any] = {}
    for iface in topo.interfaces:
        cls = type(iface)
        if not cls.options_probed or kinds.get(cls.kind_name, (None,))[0] is not True:
            continue
        declared = iface.declared_options()
        if not declared:
            continue
        where = f"{iface.netns}/{iface.name}" if iface.netns else iface.name
        features = {o for opts in iface.kernel_features().values() for o in opts}
        for opt in declared:
            if opt in cls.probe or opt in features or " " in opt:
                # the kind's own probe link has it, or a feature's probe does, or it is the
                # planner's view of another option (macvlan's "mode (to or from passthru)")
                continue
            name = option_name(cls.kind_name, opt)
            users.setdefault(name, []).append(where)
            specimens.setdefault(name, iface)
    return users, specimens


def _stop_reasons(answers: Mapping[str, tuple[bool | None, str]]) -> dict[str, str]:
    """What the kernel says it lacks: only a definite "no" stops the plan (apply says the
    rest)."""
    return {name: reason for name, (available, reason) in answers.items()
            if available is False and not reason.startswith("probe failed")}


def _again_if_cached(answers: dict[str, tuple[bool | None, str]], cached: Mapping[str, Any],
                     specimens: Mapping[str, Any] | None = None) -> None:
    """A "no" of the cache is asked again (a module may have been installed since), which
    costs a probe only when the plan would stop anyway."""
    stale = [n for n, (ok, _) in answers.items() if ok is False and n in cached]
    if stale:
        answers.update(probed(stale, again=stale, specimens=specimens))


def _named(who: list[str]) -> str:
    return ", ".join(who[:3]) + (f" and {len(who) - 3} more" if len(who) > 3 else "")


def lacking(topo: Any) -> list[str]:
    """One sentence per kind, feature or kind option that `topo` uses and this kernel lacks,
    as far as the probe cache (or a probe of just those, made now) knows; empty when nothing
    is known to be missing. Kinds that need hardware (`requires`) are left to the planner,
    which names the missing device. An option counts as lacking when a copy of an entry that
    sets it, made in a throwaway namespace, does not read back as set: a kernel older than
    the option ignores it without an error."""
    users: dict[str, list[str]] = {}
    for iface in topo.interfaces:
        cls = type(iface)
        where = f"{iface.netns}/{iface.name}" if iface.netns else iface.name
        if not cls.requires:
            users.setdefault(cls.kind_name, []).append(where)
        for feature, options in iface.kernel_features().items():
            users.setdefault(feature, []).append(f"{where} ({', '.join(options)})")
    for obj in [*topo.endpoints(), *topo.externals]:
        if obj.impair is not None:
            users.setdefault("netem", []).append(
                f"{obj.netns}/{obj.name}" if obj.netns else obj.name)
    if not users:
        return []
    cached = _read_cache(_cache_path())
    answers = probed(list(users))
    _again_if_cached(answers, cached)
    out = []
    for name, reason in _stop_reasons(answers).items():
        who = users[name]
        what = FEATURES.get(name, name)
        out.append(f"this kernel lacks {what} ({reason}), which {_named(who)} "
                   f"need{'s' if len(who) == 1 else ''} — see `vnet kinds`")
    option_users, specimens = _option_users(topo, answers)
    if option_users:
        options = probed(list(option_users), specimens=specimens)
        _again_if_cached(options, cached, specimens)
        release = os.uname().release
        for name, reason in _stop_reasons(options).items():
            kind, opt = name.removeprefix("option:").split(".", 1)
            value = specimens[name].declared_options().get(opt)
            spelled = ", ".join(f"`{k}`" for k in value) if isinstance(value, dict) \
                else f"`{opt}`"  # options sharing one attribute (the bridge's boolopts)
            who = option_users[name]
            sets = f"which {_named(who)} set{'s' if len(who) == 1 else ''}"
            if reason.startswith("the kernel refused"):
                out.append(f"this kernel (Linux {release}) does not support the {kind} option "
                           f"{spelled} ({reason}), {sets} — leave it out, or use a kernel "
                           "built with it")
            else:
                out.append(f"this kernel (Linux {release}) does not keep the {kind} option "
                           f"{spelled} ({reason}), {sets}: a kernel older than the option "
                           "ignores it — leave it out, or use a newer kernel")
    return out
