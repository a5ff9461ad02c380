"""Every example, as user nobody in a sandbox of its own (issue 20): each kind this kernel has
either works rootless (apply, check, plan = nothing, destroy) or is refused with one sentence
naming what the user namespace lacks, rolled back, nothing left. In the kernel tier this
covers the kinds this machine's kernel lacks (bond, team with its teamd, vlan, macsec...)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_examples import EXAMPLES_FOR_THE_KERNEL, _require_kinds

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = Path("/run/rootless-kinds/sandbox")
#: the sentences a refusal inside a sandbox may end with (cli._deny, cli._errno_hint)
REFUSALS = ("was refused by the kernel inside the sandbox",
            "not permitted inside the sandbox", "/dev/net/tun open to your user",
            "which the rootless sandbox cannot reach")


def _nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    drop = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PYTHONPATH": str(ROOT / "src"),
           "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8", "VNET_SANDBOX": str(SANDBOX)}
    return subprocess.run([*drop, sys.executable, "-m", "vnet", *argv], cwd="/", env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize("path", EXAMPLES_FOR_THE_KERNEL)
def test_example_rootless(path: Path) -> None:
    if not shutil.which("setpriv"):
        pytest.fail("setpriv (util-linux) is not installed", pytrace=False)
    _require_kinds(path)  # as root: loads the kind's modules, which a user cannot
    SANDBOX.parent.mkdir(mode=0o755)
    SANDBOX.mkdir(mode=0o700)
    os.chown(SANDBOX, 65534, 65534)
    try:
        applied = _nobody("apply", str(path))
        said = applied.stdout + applied.stderr
        assert "Traceback" not in said, said
        if applied.returncode != 0:
            assert applied.returncode == 1, said
            assert any(words in said for words in REFUSALS), said
        else:
            if "checks:" in path.read_text():
                checked = _nobody("check", str(path))
                assert checked.returncode == 0, checked.stdout + checked.stderr
            planned = _nobody("plan", str(path))
            assert planned.returncode == 0 and "no changes" in planned.stdout, planned
            gone = _nobody("destroy", str(path))
            assert gone.returncode == 0, gone.stdout + gone.stderr
        listed = _nobody("list", "--json")
        assert listed.returncode == 0 and '"topologies": []' in listed.stdout, listed
    finally:
        _nobody("sandbox", "stop")
    assert not (SANDBOX / "holder.pid").exists()
