"""The README's fixture example runs as written: its `# test_lab.py` block, saved as that
file and run by a pytest subprocess (scripts/test-all.sh runs this as root and as its
unprivileged user)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_readme_fixture_example_passes(tmp_path: Path) -> None:
    blocks = [body for body in re.findall(r"^```python\n(.*?)^```", README, re.S | re.M)
              if body.startswith("# test_lab.py\n")]
    assert len(blocks) == 1, "the README's fixture example (a python block opening with " \
        "`# test_lab.py`) is missing"
    (tmp_path / "test_lab.py").write_text(blocks[0], encoding="utf-8")
    env = {**os.environ}
    env.pop("VNET_SANDBOX", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "test_lab.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout
