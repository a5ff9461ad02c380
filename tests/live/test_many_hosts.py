"""Many hosts on one machine: three SSH hosts (tests/live/sshhosts.py) that Ansible reaches
as real ones, and vnet's Ansible module applying a topology on one of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .sshhosts import Hosts, ssh_hosts, task_results

pytestmark = pytest.mark.kind("veth")


@pytest.fixture
def three_hosts(tmp_path: Path) -> Iterator[Hosts]:
    """Three hosts h1, h2, h3, each its own network and mount namespace with its sshd."""
    with ssh_hosts(tmp_path, 3) as hosts:
        yield hosts


def test_ansible_reaches_each_host_over_ssh_in_its_own_namespaces(three_hosts: Hosts) -> None:
    runner = three_hosts.playbook("look", [{
        "hosts": "all", "gather_facts": False,
        "tasks": [
            {"name": "address", "command": "ip -o -4 addr show dev eth0", "changed_when": False},
            {"name": "run", "shell": "touch /run/mark-{{ inventory_hostname }} && ls /run",
             "changed_when": False},
            {"name": "vnet", "command": "{{ ansible_python_interpreter }} -c 'import vnet'",
             "changed_when": False},
        ]}])
    assert runner.status == "successful", runner.stdout.read()
    addresses = task_results(runner, "address")
    runs = task_results(runner, "run")
    assert sorted(addresses) == ["h1", "h2", "h3"]
    for host in three_hosts.hosts:
        # each command ran inside its host's network namespace...
        assert f"inet {host.address}/24" in addresses[host.name]["stdout"]
        # ...and mount namespace: each /run is the host's own
        marks = [n for n in runs[host.name]["stdout"].split() if n.startswith("mark-")]
        assert marks == [f"mark-{host.name}"]
    # (a `local` connection would have run in the test's namespace, which has no eth0)
