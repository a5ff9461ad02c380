"""dummy on the real kernel: the reference `ip` commands, and the address answering locally."""

from __future__ import annotations

from pathlib import Path

import pytest

import vnet

from .helpers import ip_json, require_kind, sh
from .reference import assert_matches_reference

pytestmark = pytest.mark.kind("dummy")

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "dummy.yaml").read_text()

REFERENCE_CMDS = [
    ["ip", "-n", "lab", "link", "add", "dummy1", "type", "dummy"],
    ["ip", "-n", "lab", "addr", "add", "198.51.100.1/24", "dev", "dummy1"],
    ["ip", "-n", "lab", "link", "set", "dummy1", "up"],
]


def test_dummy_matches_ip_reference() -> None:
    require_kind("dummy")
    assert_matches_reference(EXAMPLE, REFERENCE_CMDS, ["lab"], [("lab", "dummy1")])


def test_address_answers_locally() -> None:
    require_kind("dummy")
    topo = vnet.load_text(EXAMPLE)
    topo.apply()
    try:
        assert not topo.plan().has_changes
        link = ip_json("-d", "link", "show", "dummy1", netns="lab")[0]
        assert link["linkinfo"]["info_kind"] == "dummy"
        sh("ping", "-c", "1", "-W", "2", "198.51.100.1", netns="lab")
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list").strip() == ""
    assert [link["ifname"] for link in ip_json("link", "show")] == ["lo"]
