"""A topology that lives in a sandbox (sandbox.py) named by its directory: what the pytest
fixture `vnet_topology` returns. Its methods run the `vnet` command in a subprocess with
VNET_SANDBOX set, so the calling process (pytest, with its threads) never enters a namespace:
entering a user namespace needs a single-threaded process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from .api import CheckReport, Topology, cli_runner
from .datatypes import datatype
from .errors import VnetError


@datatype
class SandboxedTopology(Topology):
    """`vnet.Topology` whose kernel work happens in the sandbox at `sandbox_dir`: `apply`,
    `destroy`, `plan` (the plan as `vnet plan --json` gives it), `show` (`vnet show --json`),
    `check` (a CheckReport) and `exec` (a subprocess.CompletedProcess)."""

    sandbox_dir: str = ""
    file: str = ""

    def _cli_env(self) -> dict[str, str]:
        return {"VNET_SANDBOX": self.sandbox_dir}

    def _vnet(self, *argv: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self._cli_env()}
        env.pop("VNET_IN_SANDBOX", None)
        return subprocess.run([sys.executable, "-c", cli_runner(), *argv], env=env,
                              capture_output=True, text=True, check=False)

    def _ok(self, *argv: str) -> subprocess.CompletedProcess[str]:
        done = self._vnet(*argv)
        if done.returncode != 0:
            raise VnetError(f"vnet {' '.join(argv)} failed (exit {done.returncode}) in sandbox "
                            f"{self.sandbox_dir}: {(done.stderr or done.stdout).strip()}")
        return done

    def apply(self, progress: Any = None, *, backend: Any = None, wait: float | None = 0,
              replace: bool = False, force: bool = False) -> Any:
        """Apply the file in the sandbox (a VnetError with vnet's words if it fails), waiting
        for the sandbox's lock; `replace` and `force` as for `Topology.apply`. A progress
        callback or a backend cannot reach into the sandbox's process: they are refused."""
        _refuse_in_process(progress, backend)
        self._ok("apply", "-q", "--wait", *_flags(replace=replace, force=force), self.file)

    def destroy(self, progress: Any = None, *, backend: Any = None, wait: float | None = 0,
                force: bool = False) -> Any:
        """Destroy this topology in the sandbox; `force` as for `Topology.destroy`."""
        _refuse_in_process(progress, backend)
        self._ok("destroy", "-q", "--wait", *_flags(force=force), self.name)

    def plan(self, *args: Any, **kwargs: Any) -> Any:
        """What apply would change now, as `vnet plan --json` prints it (a dict)."""
        done = self._vnet("plan", "--json", self.file)
        if done.returncode not in (0, 2):
            raise VnetError(f"vnet plan failed in sandbox {self.sandbox_dir}: "
                            f"{(done.stderr or done.stdout).strip()}")
        return json.loads(done.stdout)

    def show(self, *args: Any, **kwargs: Any) -> Any:
        """What is live of this topology, as `vnet show --json NAME` prints it (a dict)."""
        return json.loads(self._ok("show", "--json", self.name).stdout)

    def check(self) -> CheckReport:
        """Run the file's checks in the sandbox: a CheckReport with `ok` and one CheckResult
        per check (`passed`, `observed`, `seconds`, `probe`)."""
        from .checks import CheckResult, resolve_checks
        from .errors import Collector
        probes = resolve_checks(self, Collector())
        done = self._vnet("check", "--json", self.file)
        try:
            rows = json.loads(done.stdout)["checks"]
        except (ValueError, KeyError):
            raise VnetError(f"vnet check failed in sandbox {self.sandbox_dir}: "
                            f"{(done.stderr or done.stdout).strip()}") from None
        return CheckReport(CheckResult(probe=probe, passed=row["passed"],
                                       observed=row["observed"], seconds=row["seconds"])
                           for probe, row in zip(probes, rows, strict=True))


def _flags(**flags: bool) -> list[str]:
    return [f"--{name}" for name, on in flags.items() if on]


def _refuse_in_process(progress: Any, backend: Any) -> None:
    if progress is not None or backend is not None:
        raise VnetError("a sandboxed topology runs vnet in the sandbox's own process: a "
                        "progress callback or a backend cannot reach it; leave them out")
