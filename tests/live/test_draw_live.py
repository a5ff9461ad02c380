"""`vnet draw NAME`: the picture of a live topology (read back by vnet.capture), and with
`--file` what differs from its file, on examples/lab.yaml applied in the test's sandbox."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vnet import cli
from vnet.loader import load_file

from .helpers import require_kind, sh

pytestmark = pytest.mark.kind("bridge", "veth", "vxlan", "netns")

LAB = Path(__file__).resolve().parents[2] / "examples" / "lab.yaml"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_draw_lab_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind in ("bridge", "veth", "vxlan"):
        require_kind(kind)
    code, out, err = _run(capsys, "draw", "lab")
    assert code == cli.EXIT_ERROR and out == "" and "nothing live for lab" in err

    assert _run(capsys, "apply", str(LAB))[0] == cli.EXIT_OK
    try:
        code, out, err = _run(capsys, "draw", "lab")
        assert code == cli.EXIT_OK, err
        assert 'label="lab (live)"' in out
        for end in load_file(LAB).endpoints():  # every end of the file is drawn, live
            node = f'"{end.netns}/{end.name}" [label=<<b>{end.name}</b><br/>{end.kind}'
            assert node in out, f"{end.netns}/{end.name} is not drawn:\n{out}"
        assert '"h3/vx100" -> "remote 198.51.100.2"' in out
        assert '"sw/br0" -> "sw/sw-h1"' in out and '"h3/vx100" -> "h3/wan0"' in out

        code, out, err = _run(capsys, "draw", "lab", "--file", str(LAB))
        assert code == cli.EXIT_OK, err
        assert "≠" not in out and "not in the file" not in out and "not live" not in out

        sh("ip", "link", "set", "eth0", "down", netns="h1")
        sh("ip", "addr", "add", "192.0.2.51/24", "dev", "eth0", netns="h2")
        code, out, err = _run(capsys, "draw", "lab", "--file", str(LAB), "--format", "mermaid")
        assert code == cli.EXIT_OK, err
        assert "≠ state: file up, live down" in out
        assert "≠ addresses: file 192.0.2.2/24, live 192.0.2.2/24, 192.0.2.51/24" in out

        if shutil.which("dot"):
            picture = tmp_path / "lab.svg"
            code, out, err = _run(capsys, "draw", "lab", "-o", str(picture))
            assert code == cli.EXIT_OK, err
            texts = {t.text for t in ET.fromstring(picture.read_bytes()).iter(
                "{http://www.w3.org/2000/svg}text")}
            assert {"vx100", "sw-h3", "netns remote"} <= texts
    finally:
        assert _run(capsys, "destroy", "lab")[0] == cli.EXIT_OK
