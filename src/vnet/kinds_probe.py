"""`vnet kinds`: which kinds this kernel can create, probed in a throwaway namespace, cached
per boot (the kernel's kinds do not change while it runs)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from . import kinds as registry
from .store import STATE_DIR


@dataclass
class KindInfo:
    name: str
    implemented: bool  # every kind listed is; kept for the JSON's readers
    available: bool | None  # None: could not probe (not root)
    reason: str
    use_when: str


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return "unknown"


def kind_table(refresh: bool = False) -> list[KindInfo]:
    """Every kind vnet implements, available on this kernel or not, and its use-when text."""
    classes = registry.ordered()
    names = [cls.kind_name for cls in classes]
    cache = os.path.join(STATE_DIR, f"kinds-{_boot_id()}.json")
    probed: dict[str, list[object]] | None = None
    if not refresh:
        try:
            with open(cache, encoding="utf-8") as fh:
                probed = json.load(fh)
        except (OSError, ValueError):
            probed = None
    if probed is None or set(probed) != set(names):
        from .door.kind_probe import probe_kinds
        probed = {k: list(v) for k, v in probe_kinds(names).items()}
        if all(v[0] is not None for v in probed.values()):
            try:
                os.makedirs(STATE_DIR, exist_ok=True)
                with open(cache, "w", encoding="utf-8") as fh:
                    json.dump(probed, fh)
            except OSError:
                pass
    out = []
    for cls in classes:
        available, reason = probed.get(cls.kind_name, [None, "not probed"])
        out.append(KindInfo(cls.kind_name, True, available, str(reason),  # type: ignore[arg-type]
                            cls.use_when))
    return out


def kind_dicts(table: list[KindInfo]) -> list[dict[str, object]]:
    return [asdict(k) for k in table]
