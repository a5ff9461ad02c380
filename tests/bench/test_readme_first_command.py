"""The README's first command works as printed: it installs vnet from a copy of this
checkout into a fresh venv, applies examples/lab.yaml and shows it.

Host only, like the benchmark's smoke run (scripts/test-all.sh runs tests/bench in the live
tier): the install half needs the package registry, which the kernel tier's VM cannot reach.
The install runs as printed in the copy; the half that touches the kernel runs, as printed,
inside a private network and mount namespace, as every live test does."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _first_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.search(r"^```sh\n(.*?)\n```", readme, re.S | re.M).group(1)  # type: ignore[union-attr]


def _copy_checkout(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


@pytest.mark.kind("bridge", "veth", "vxlan")
def test_the_readmes_first_command_installs_applies_and_shows_the_lab(tmp_path: Path) -> None:
    command = _first_command()
    # install as printed (needs the registry: outside the private namespace), then the rest
    install, sep, rest = command.partition(" && .venv/bin/vnet ")
    assert sep and "pip install" in install, command
    rest = ".venv/bin/vnet " + rest
    copy = tmp_path / "vnet"
    copy.mkdir()
    _copy_checkout(copy)
    done = subprocess.run(["sh", "-ec", install], cwd=copy, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    inside = ("mount -t tmpfs tmpfs /run && ip link set lo up && "
              f"{rest} && .venv/bin/vnet destroy lab")
    proc = subprocess.run(["unshare", "-n", "-m", "--propagation", "private", "sh", "-ec",
                           inside], cwd=copy, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    for name in ("h1", "br0"):  # the lab's namespaces and bridge, as `show` lists them
        assert name in proc.stdout, proc.stdout[-3000:]
