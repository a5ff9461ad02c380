"""Not destroying what another file or a person made, on the live kernel: a copy of another
file that still says `name: lab` cannot remove lab without --replace, and destroy does not
take hand-made links (and their peers outside) with a namespace without --force."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from vnet import cli

from .helpers import ip_json, require_kind, sh

pytestmark = pytest.mark.kind("bridge", "veth", "vxlan", "netns")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _kernel() -> dict[str, Any]:
    """Every named namespace, and every link here and in each (name, kind, altnames)."""
    spaces = [None, *sorted(ns["name"] for ns in ip_json("netns", "list"))]
    return {ns or "-": sorted((ln["ifname"], ln.get("linkinfo", {}).get("info_kind"),
                               tuple(ln.get("altnames", [])))
                              for ln in ip_json("-d", "link", "show", netns=ns))
            for ns in spaces}


def test_a_copy_of_veth_yaml_named_lab_does_not_remove_lab(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for kind in ("bridge", "veth", "vxlan"):
        require_kind(kind)
    code, _, err = _run(capsys, "apply", str(EXAMPLES / "lab.yaml"))
    assert code == 0, err
    copy = tmp_path / "veth-copy.yaml"
    copy.write_text((EXAMPLES / "veth.yaml").read_text().replace("name: veth-demo",
                                                                 "name: lab"))
    before = _kernel()
    assert {"h1", "h2", "h3", "sw", "remote"} <= before.keys()

    code, _, err = _run(capsys, "apply", str(copy))
    assert code != 0
    assert _kernel() == before  # nothing changed
    assert str(EXAMPLES / "lab.yaml") in err and str(copy) in err and "--replace" in err
    for ns in ("h1", "h2", "h3", "sw", "remote"):
        assert f"namespace {ns}" in err

    code, _, err = _run(capsys, "apply", "--replace", str(copy))
    assert code == 0, err
    assert sorted(ns["name"] for ns in ip_json("netns", "list")) == ["left", "right"]
    code, _, err = _run(capsys, "destroy", "lab")
    assert code == 0, err
    assert ip_json("netns", "list") == []


def test_destroy_does_not_take_hand_made_links_without_force(
        capsys: pytest.CaptureFixture[str]) -> None:
    require_kind("veth")
    code, _, err = _run(capsys, "apply", str(EXAMPLES / "veth.yaml"))
    assert code == 0, err
    # made by hand: a pair inside `left`, and one whose other end `handx` is out here
    sh("ip", "-n", "left", "link", "add", "hand0", "type", "veth", "peer", "name", "hand0p")
    sh("ip", "link", "add", "handx", "type", "veth", "peer", "name", "hand1", "netns", "left")
    before = _kernel()

    code, _, err = _run(capsys, "destroy", "veth-demo")
    assert code != 0
    assert _kernel() == before  # nothing changed: not even vnet's own right namespace
    for what in ("link left/hand0 (veth, not vnet's)", "link left/hand0p (veth, not vnet's)",
                 "link left/hand1 (veth, not vnet's)",
                 "link handx (veth, the other end of left/hand1, in the namespace vnet runs "
                 "in)"):
        assert what in err
    assert "--force" in err

    code, _, err = _run(capsys, "destroy", "--force", "veth-demo")
    assert code == 0, err
    assert "--force: deleting namespace left also deletes" in err
    assert "link left/hand1 (veth, not vnet's)" in err and "link handx" in err
    assert ip_json("netns", "list") == []
    # the kernel tears a namespace down (and the pairs' other ends with it) after its last
    # user is gone, a moment after the unmount
    deadline = time.monotonic() + 10
    while "handx" in {ln["ifname"] for ln in ip_json("link", "show")}:
        assert time.monotonic() < deadline, "handx outlived its peer's namespace"
        time.sleep(0.05)


@pytest.mark.kind("vxcan", "veth", "netns")
def test_destroy_names_the_other_end_of_a_hand_made_vxcan_pair(
        capsys: pytest.CaptureFixture[str]) -> None:
    require_kind("veth")
    require_kind("vxcan")
    code, _, err = _run(capsys, "apply", str(EXAMPLES / "veth.yaml"))
    assert code == 0, err
    sh("ip", "link", "add", "vxout", "type", "vxcan", "peer", "name", "vxh", "netns", "right")
    before = _kernel()
    code, _, err = _run(capsys, "destroy", "veth-demo")
    assert code != 0 and _kernel() == before
    assert "link right/vxh (vxcan, not vnet's)" in err
    assert "link vxout (vxcan, the other end of right/vxh, in the namespace vnet runs in)" in err
    code, _, err = _run(capsys, "destroy", "--force", "veth-demo")
    assert code == 0, err
    assert ip_json("netns", "list") == []
