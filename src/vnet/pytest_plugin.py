"""vnet's pytest plugin (registered through the `pytest11` entry point): the fixture
`vnet_topology`, a factory that applies a topology in a sandbox of the test's own and
destroys it afterwards.

    def test_ping(vnet_topology):
        lab = vnet_topology("lab.yaml")          # or a mapping: the file's data
        assert lab.check().ok
        assert lab.exec("h1", ["ping", "-c1", "192.0.2.2"]).returncode == 0

Each test gets a fresh sandbox (a new network and mount namespace, and for a user other than
root a user namespace: README "Rootless"), started here and entered only by `vnet`
subprocesses, so pytest itself never changes namespace. At teardown, also after a failure or
Ctrl-C, the topologies are destroyed and the sandbox stopped; if pytest is killed, the
sandbox's holder notices and ends, and its namespaces with it.

Importing this module must stay cheap (pytest loads it in every run of every project where
vnet is installed): vnet's model is imported when the fixture is first used.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .sandboxed import SandboxedTopology


def _sandbox_base() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.access(runtime, os.W_OK | os.X_OK):
        return runtime
    return tempfile.gettempdir()


@pytest.fixture
def vnet_topology(tmp_path: Path) -> Iterator[Callable[[str | Path | Mapping[str, Any]],
                                                       SandboxedTopology]]:
    """A factory: `vnet_topology(path_or_mapping)` applies that topology in this test's
    sandbox and returns it (a `vnet.Topology`: `check()`, `exec()`, `show()`, `plan()`);
    several per test are allowed. All are destroyed, and the sandbox stopped, at teardown."""
    from . import sandbox
    directory = tempfile.mkdtemp(prefix="vnet-test-", dir=_sandbox_base())
    sandbox.start_holder(directory, until=os.getpid())
    made: list[SandboxedTopology] = []

    def make(source: str | Path | Mapping[str, Any]) -> SandboxedTopology:
        from .api import load_data, load_file
        from .sandboxed import SandboxedTopology
        if isinstance(source, Mapping):
            import yaml
            path = tmp_path / f"vnet-{source.get('name', 'topology')}-{len(made)}.yaml"
            path.write_text(yaml.safe_dump(dict(source), sort_keys=False), encoding="utf-8")
            data = load_data(dict(source), file=str(path))
        else:
            path = Path(source).resolve()
            data = load_file(path)
        topo = SandboxedTopology(**{**vars(data), "sandbox_dir": directory, "file": str(path)})
        topo.apply()
        made.append(topo)
        return topo

    try:
        yield make
    finally:
        problems = []
        for topo in reversed(made):
            try:
                topo.destroy()
            except Exception as exc:  # every topology is tried; the first problem is raised
                problems.append(exc)
        holder = sandbox.find_holder(directory)
        if holder is not None:
            sandbox.stop(holder)
        shutil.rmtree(directory, ignore_errors=True)
        if problems:
            raise problems[0]
