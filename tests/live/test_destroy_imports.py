"""`vnet destroy NAME` on the live kernel starts lean: it reads the kernel, plans the teardown
and deletes without the file's model (pydantic, PyYAML) or a kind class of the kinds it
deletes (only kinds that undo something first, team and ifb, import theirs), nor the modules
a teardown has no use for (tests/unit/test_startup.py's NOT_FOR_TEARDOWN)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import vnet

from .helpers import ip_json, require_kind

pytestmark = pytest.mark.kind("veth", "bridge", "netns")

#: as tests/unit/test_startup.py's NOT_FOR_TEARDOWN: modules a teardown has no use for
NOT_FOR_TEARDOWN = ("subprocess", "pathlib", "tempfile", "hashlib", "base64", "ipaddress",
                    "glob")

TOPOLOGY = """
name: lean
namespaces: [n1]
interfaces:
  - {name: br0, kind: bridge, addresses: [192.0.2.1/24]}
  - {name: va, kind: veth, netns: n1, addresses: [192.0.2.2/24],
     peer: {name: vb, master: br0}}
  - {name: vc, kind: veth, addresses: [198.51.100.1/30],
     peer: {name: vd, addresses: [198.51.100.2/30]}}
"""


def test_destroy_by_name_imports_neither_pydantic_nor_yaml_nor_a_kind_class() -> None:
    require_kind("veth")
    require_kind("bridge")
    vnet.load_text(TOPOLOGY).apply()
    before = subprocess.run([sys.executable, "-c", "import sys; print(sorted(sys.modules))"],
                            check=True, capture_output=True, text=True).stdout
    unused = [m for m in NOT_FOR_TEARDOWN if f"'{m}'" not in before]  # the bare interpreter's
    probe = ("import sys, vnet.cli\n"
             "assert vnet.cli.main(['destroy', 'lean']) == 0\n"
             "heavy = ('pydantic', 'yaml', 'vnet.kinds.base', 'vnet.kinds.veth', 'vnet.model',"
             f" 'vnet.loader', *{unused!r})\n"
             "print('imported:', [m for m in heavy if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    assert out.splitlines()[-1] == "imported: []", out[-2000:]
    # and it did its work: only the loopback is left, and no namespace
    assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]
    assert not Path("/run/netns/n1").exists()
