"""What the Ansible module `vnet.net.vnet_topology` does on its target host: load a topology,
then plan it (check mode), apply it, or destroy it, through vnet's Python API.

Kept in vnet (the module is a thin shell around `converge`) so that the module and any other
caller behave the same, and so that it is tested without Ansible against the fake kernel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from .. import api
from ..datatypes import datatype, field
from ..door.protocol import Kernel
from ..errors import VnetError, listen_warnings
from ..render.plan_text import plan_lines, plan_summary
from ..topology import Topology


@datatype
class Outcome:
    """The module's result: whether the host changed (or would), the plan as text and data."""

    changed: bool
    topology: str
    plan_text: str
    plan: dict[str, Any] = field(default_factory=dict)
    failed: bool = False
    msg: str = ""
    warnings: list[str] = field(default_factory=list)
    #: whether anything of the topology was live on the host before (state present)
    existed: bool | None = None

    def as_result(self) -> dict[str, Any]:
        """The module's return values (and `diff`, the plan text, as Ansible shows it)."""
        out: dict[str, Any] = {"changed": self.changed, "topology": self.topology,
                               "plan": self.plan, "plan_text": self.plan_text,
                               "diff": {"prepared": self.plan_text}}
        if self.existed is not None:
            out["existed"] = self.existed
        if self.failed:
            out.update(failed=True, msg=self.msg)
        return out


def with_secrets(value: Any, secrets: dict[str, str]) -> Any:
    """`value` (a host's part, as `runner.part_data` makes it) with each secret placeholder
    ({"vnet_secret": id}) replaced by the secret of that id. VnetError for an unknown id."""
    if isinstance(value, dict):
        if set(value) == {"vnet_secret"}:
            ref = value["vnet_secret"]
            if ref not in secrets:
                raise VnetError(f"the topology names secret {ref!r}, which the module's "
                                "secrets parameter does not hold; pass the secrets vnet made "
                                "with the topology")
            return secrets[ref]
        return {k: with_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [with_secrets(v, secrets) for v in value]
    return value


def load(src: str | None = None, topology: Any = None,
         secrets: dict[str, str] | None = None) -> Topology:
    """The topology from a file on this host (`src`), or given inline: a mapping or YAML
    text; in a mapping, `secrets` fill the placeholders of keys sent apart (a file across
    hosts: `runner.part_data`). TopologyError (every issue with its place) when it is not
    valid."""
    if src is not None:
        return api.load_file(Path(src))
    if isinstance(topology, dict):
        return api.load_data(with_secrets(topology, secrets or {}), "<inline topology>")
    if isinstance(topology, str):
        return api.load_text(topology, "<inline topology>")
    raise VnetError("give the topology as src (a file on the host) or topology (a mapping "
                    "or YAML text)")


def _text(plan: Any, only_some: bool = False) -> str:
    lines = [plan_summary(plan, only_some)] + [line for _, line in plan_lines(plan)]
    return "\n".join(lines) + "\n"


def converge(state: Literal["present", "absent"], topo: Topology | None = None,
             name: str | None = None, check: bool = False,
             backend: Kernel | None = None) -> Outcome:
    """Bring this host to `state` for topology `topo` (or, for absent, the topology `name`).
    `check`: change nothing; say what would change. A vnet error becomes a failed Outcome
    whose message is vnet's own (what, where, the fix); vnet's warnings are in `warnings`."""
    heard: list[str] = []
    with listen_warnings(heard.append):
        outcome = _converge(state, topo, name, check, backend)
    outcome.warnings = heard
    return outcome


def _converge(state: str, topo: Topology | None, name: str | None, check: bool,
              backend: Kernel | None) -> Outcome:
    label = topo.name if topo is not None else (name or "?")
    try:
        if state == "present":
            if topo is None:
                raise VnetError("state present needs the topology (src or topology)")
            existed = any(t.name == topo.name for t in api.live_topologies(backend))
            if check:
                plan = api.plan(topo, backend)
            else:
                plan = api.apply(topo, backend)
            return Outcome(plan.has_changes, topo.name, _text(plan), plan.as_dict(),
                           existed=existed)
        target = topo.name if topo is not None else name
        if target is None:
            raise VnetError("state absent needs the topology or its name")
        if check:
            live = {t.name: t for t in api.live_topologies(backend)}
            summary = live.get(target)
            if summary is None:
                return Outcome(False, target, f"{target}: nothing live; nothing to remove.\n")
            text = (f"Would destroy {target}: {len(summary.namespaces)} namespaces, "
                    f"{summary.interfaces} interfaces, {summary.routes} routes\n")
            return Outcome(True, target, text, summary.as_dict())
        plan = api.destroy(target, backend,
                           declared=topo.namespaces if topo is not None else ())
        return Outcome(plan.has_changes, target, _text(plan, only_some=True), plan.as_dict())
    except VnetError as err:
        return Outcome(False, label, "", failed=True, msg=str(err))


def run_checks(probes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run probes resolved elsewhere (a file across hosts: `runner.check_across`) on this
    host; each result as `vnet check --json` shows it."""
    from ..api import check_probes
    from ..checks import Probe
    return [r.as_dict() for r in check_probes([Probe(**p) for p in probes])]
