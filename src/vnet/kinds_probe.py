"""`vnet kinds`: which kinds (and features of kinds) this kernel can create, probed in a
throwaway namespace, cached per boot (the kernel's kinds do not change while it runs); and
`lacking`, which `plan` and `apply` ask before any change."""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from . import kinds as registry
from .store import STATE_DIR

#: features a kernel may lack although it has their kind, probed like kinds (the door's
#: kind_probe.FEATURES says how), by name -> the words `vnet kinds` and errors use
FEATURES = {"bridge_vlan_filtering": "bridge VLAN filtering",
            "netem": "the netem qdisc (impair)"}
#: the cache's layout; a cache of another layout is probed again
_FORMAT = 2


@dataclass
class KindInfo:
    name: str
    implemented: bool  # every kind listed is; kept for the JSON's readers
    available: bool | None  # None: could not probe (not root)
    reason: str
    use_when: str


@dataclass
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


def probed(names: list[str], refresh: bool = False,
           again: Collection[str] = ()) -> dict[str, tuple[bool | None, str]]:
    """(available, why not) of each kind or feature in `names`: from the per-boot cache, and
    what it lacks (or all of `names` when `refresh`, those in `again` too) probed now and
    added to it. None: could not probe (not root)."""
    path = _cache_path()
    known = _read_cache(path)
    missing = [n for n in names if refresh or n in again or n not in known]
    if missing:
        from .door.kind_probe import probe_kinds
        fresh = {k: list(v) for k, v in probe_kinds(missing).items()}
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


def lacking(topo: Any) -> list[str]:
    """One sentence per kind or feature that `topo` uses and this kernel lacks, as far as the
    probe cache (or a probe of just those, made now) knows; empty when nothing is known to be
    missing. Kinds that need hardware (`requires`) are left to the planner, which names the
    missing device."""
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
    # a "no" of the cache is asked again (a module may have been installed since), which
    # costs a probe only when the plan would stop anyway
    stale = [n for n, (ok, _) in answers.items() if ok is False and n in cached]
    if stale:
        answers.update(probed(stale, again=stale))
    out = []
    for name, (available, reason) in answers.items():
        if available is not False or reason.startswith("probe failed"):
            continue  # only what the kernel says it lacks stops the plan: apply says the rest
        who = users[name]
        named = ", ".join(who[:3]) + (f" and {len(who) - 3} more" if len(who) > 3 else "")
        what = FEATURES.get(name, name)
        out.append(f"this kernel lacks {what} ({reason}), which {named} "
                   f"need{'s' if len(who) == 1 else ''} — see `vnet kinds`")
    return out
