"""The rootless tests: run by scripts/test-all.sh as an unprivileged user (test_lifecycle.py,
test_plugin.py) and as root (test_plugin.py), never inside the live tier's forked namespaces:
what they prove is that vnet itself keeps a user's (or a test's) network away from the host's.

So the session compares the host's links and named namespaces before and after (any difference
fails the run, as the live tier's HOST NETWORK CHANGED does), and checks that no sandbox
holder of this user is left running."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def host_network() -> tuple[list[tuple[int, str]], list[str]]:
    """The links (index, name) of the namespace pytest runs in, and the named namespaces."""
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True,
                         check=True).stdout
    links = sorted((link["ifindex"], link["ifname"]) for link in json.loads(out))
    try:
        named = sorted(os.listdir("/run/netns"))
    except OSError:
        named = []
    return links, named


def holders() -> list[int]:
    """This user's vnet sandbox holders still running."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if proc.stat().st_uid == os.geteuid() and \
                    b"vnet-sandbox-hold" in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="session", autouse=True)
def host_untouched() -> Iterator[None]:
    before = host_network()
    earlier = set(holders())
    yield
    assert host_network() == before, "HOST NETWORK CHANGED by the rootless tests"
    assert set(holders()) <= earlier, "a sandbox holder was left running"
