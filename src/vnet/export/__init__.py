"""`vnet export`: the same topology in another tool's terms (an `ip` script, systemd-networkd
files, a netplan file). Pure: reads a loaded topology, touches no kernel.

Each target is one module here with a function `export(topo, options) -> Exported`. A target
never drops anything silently: what it cannot express goes into `Exported.left_out`, one entry
a field, with that field's place in the file; the command then exits 1 unless `--partial`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..datatypes import datatype, field
from ..declare import BaseModel
from ..errors import VnetError

if TYPE_CHECKING:
    from ..topology import Topology

#: target name -> the module (under vnet.export) that writes it
TARGETS = {"ip": "ip", "networkd": "networkd", "netplan": "netplan"}
#: the targets whose output is a directory of files (`-o DIR`, required); the others write
#: one file (`-o FILE`, or standard output)
DIRECTORY_TARGETS = frozenset({"networkd"})


@datatype(frozen=True)
class LeftOut:
    """One thing of the file the target cannot say. `path` is the topology field path
    (`interfaces[2].options.stp`), `why` one short sentence."""

    path: str
    why: str

    def line(self, topo: Topology) -> str:
        """`file:line:col: path: why`, the form every listing of left-out fields uses."""
        where = topo.where(self.path)
        place = f"{where.file}:{where.line}:{where.col}" if where else topo.source
        return f"{place}: {self.path}: {self.why}"


@datatype(frozen=True)
class Options:
    """What the command line says beyond the target: the namespace to export (networkd,
    netplan: one namespace; None means the one vnet runs in) and whether inline secrets may
    be written."""

    netns: str | None = None
    include_secrets: bool = False


@datatype
class Exported:
    """A target's output: `files` maps a relative path to its text (a single-file target
    uses one entry whose path is the target's default file name); `left_out` lists what the
    target could not express, in file order."""

    files: dict[str, str] = field(default_factory=dict)
    left_out: list[LeftOut] = field(default_factory=list)


class ExportError(VnetError):
    """The export cannot be written at all (an inline secret without --include-secrets, an
    unknown --netns): a clear message, nothing written."""


def inline_secrets(topo: Topology) -> list[str]:
    """Field paths of the secrets written inline in the file (MACsec `key`s), in file order.

    A secret is any field the model marks write-only (`json_schema_extra={"writeOnly":
    True}`), so a new kind with a secret is found without a change here."""
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, BaseModel):
            for name, info in type(value).model_fields.items():
                extra = info.json_schema_extra
                inner = getattr(value, name)
                if isinstance(extra, dict) and extra.get("writeOnly") and inner is not None:
                    found.append(f"{path}.{info.alias or name}")
                else:
                    walk(inner, f"{path}.{info.alias or name}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")

    for i, iface in enumerate(topo.interfaces):
        walk(iface, iface.path or f"interfaces[{i}]")
    return found


def refuse_inline_secrets(topo: Topology, options: Options) -> None:
    """Raise ExportError naming every inline secret, unless `--include-secrets` allows them."""
    if options.include_secrets:
        return
    found = inline_secrets(topo)
    if not found:
        return
    places = []
    for path in found:
        where = topo.where(path)
        places.append(f"{where.file}:{where.line}:{where.col}: {path}" if where else path)
    raise ExportError(
        f"{len(found)} key(s) written inline in the file would be copied into the export: "
        + "; ".join(places) + ". Put each key in its own file (hex, chmod 600) and write "
        "key_file: PATH instead of key: (the export then refers to the file), or pass "
        "--include-secrets to write the keys into the output")


def export(topo: Topology, target: str, options: Options | None = None) -> Exported:
    """Write `topo` for `target` (one of TARGETS)."""
    if target not in TARGETS:
        raise ExportError(f"unknown export target {target!r}; choose one of "
                          f"{', '.join(TARGETS)}")
    module = importlib.import_module(f"{__name__}.{TARGETS[target]}")
    result: Exported = module.export(topo, options or Options())
    return result
