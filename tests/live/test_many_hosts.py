"""Many hosts on one machine: three SSH hosts (tests/live/sshhosts.py) that Ansible reaches
as real ones, and vnet's Ansible module applying a topology on one of them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import note_on_failure
from .sshhosts import (
    ECHO_REPLY,
    ECHO_REQUEST,
    Host,
    Hosts,
    UnderlayCapture,
    ssh_hosts,
    task_results,
)

pytestmark = pytest.mark.kind("veth")

#: the tests that prove vnet's and Ansible's work with kinds this machine's kernel has: under
#: the kernel tier's TCG every Ansible play costs a minute or more (Python over 9p on each
#: host: three of these tests took 13 minutes there), so that tier runs only what needs its
#: kernel: the GENEVE link here and the WireGuard link (test_many_hosts_wireguard.py)
ENGINE_ONLY = pytest.mark.live_tier_only(
    "proves vnet's and Ansible's work with this kernel's kinds; its Ansible plays take "
    "minutes under TCG (the kernel tier runs the GENEVE and WireGuard tests)")


@pytest.fixture
def three_hosts(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Hosts]:
    """Three hosts h1, h2, h3, each its own network and mount namespace with its sshd; a
    failing test's report ends with their sshd logs."""
    with ssh_hosts(tmp_path, 3) as hosts:
        note_on_failure(request.node, "sshd logs of the test hosts", hosts.sshd_logs)
        yield hosts


@ENGINE_ONLY
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


@pytest.mark.live_tier_only("the kernel tier's guest locks root itself (virtme-ng's "
                            "/etc/shadow): every many-hosts test there proves this")
def test_hosts_let_root_in_by_key_where_roots_password_is_locked(tmp_path: Path) -> None:
    # as in the kernel tier's VM: root's password field "!" (a locked account), which sshd
    # without PAM refuses even a key for; only this test's mount namespace sees it
    locked = tmp_path / "shadow"
    locked.write_text("".join(f"{line.split(':', 1)[0]}:!:::::::\n"
                              for line in Path("/etc/passwd").read_text().splitlines()))
    subprocess.run(["mount", "--bind", str(locked), "/etc/shadow"], check=True)
    assert Path("/etc/shadow").read_text().startswith("root:!:")
    with ssh_hosts(tmp_path / "hosts", 1) as hosts:
        runner = hosts.playbook("in", [{"hosts": "all", "gather_facts": False, "tasks": [
            {"name": "who", "command": "id -un", "changed_when": False}]}])
        assert runner.status == "successful", runner.stdout.read() + hosts.sshd_logs()
        assert task_results(runner, "who")["h1"]["stdout"] == "root"


SOLO = {
    "name": "solo",
    "namespaces": ["n1"],
    "interfaces": [{"name": "v1", "kind": "veth", "netns": "n1", "addresses": ["192.0.2.1/24"],
                    "peer": {"name": "v1h", "addresses": ["192.0.2.2/24"]}}],
}


def _topology_task(state: str) -> dict[str, object]:
    return {"hosts": "h1", "gather_facts": False, "tasks": [{
        "name": "solo", "vnet.net.vnet_topology": {"topology": SOLO, "state": state}}]}


def _links(host: object) -> str:
    return host.run("ip", "-o", "link", "show").stdout  # type: ignore[attr-defined]


@ENGINE_ONLY
def test_the_ansible_module_plans_applies_and_destroys_on_one_host(three_hosts: Hosts) -> None:
    h1, h2 = three_hosts.by_name("h1"), three_hosts.by_name("h2")
    # check mode: vnet's plan, changed, nothing made; --diff shows the plan
    runner = three_hosts.playbook("check", [_topology_task("present")], check=True, diff=True)
    assert runner.status == "successful", runner.stdout.read()
    result = task_results(runner, "solo")["h1"]
    assert result["changed"] is True
    assert result["plan"]["summary"]["create"] > 0
    assert "+ create  namespace n1" in result["plan_text"]
    diffs = result["diff"] if isinstance(result["diff"], list) else [result["diff"]]
    assert [d["prepared"] for d in diffs] == [result["plan_text"]]
    assert "v1h" not in _links(h1) and h1.run("ip", "netns", "list").stdout == ""

    # for real: made on h1, and only there
    runner = three_hosts.playbook("apply", [_topology_task("present")])
    assert runner.status == "successful", runner.stdout.read()
    assert task_results(runner, "solo")["h1"]["changed"] is True
    assert "v1h" in _links(h1) and "v1h" not in _links(h2)
    assert h1.run("ip", "netns", "list").stdout.split()[0] == "n1"
    assert h1.run("ping", "-c1", "-W2", "192.0.2.1").returncode == 0

    # again: nothing to do
    runner = three_hosts.playbook("again", [_topology_task("present")])
    assert runner.status == "successful", runner.stdout.read()
    assert task_results(runner, "solo")["h1"]["changed"] is False

    # absent: gone
    runner = three_hosts.playbook("absent", [_topology_task("absent")])
    assert runner.status == "successful", runner.stdout.read()
    assert task_results(runner, "solo")["h1"]["changed"] is True
    assert "v1h" not in _links(h1) and h1.run("ip", "netns", "list").stdout == ""


@ENGINE_ONLY
def test_the_ansible_module_fails_with_vnets_own_message(three_hosts: Hosts) -> None:
    bad = {**SOLO, "interfaces": [{**SOLO["interfaces"][0], "netns": "nope"}]}  # type: ignore[dict-item]
    runner = three_hosts.playbook("bad", [{"hosts": "h1", "gather_facts": False, "tasks": [{
        "name": "solo", "vnet.net.vnet_topology": {"topology": bad}}]}])
    assert runner.status == "failed"
    result = task_results(runner, "solo")["h1"]
    assert "namespace 'nope' is not declared" in result["msg"]
    assert "Traceback" not in result["msg"]


def _across_file(hosts: Hosts, tmp: Path, underlay2: str | None = None) -> Path:
    """Two hosts joined by one veth; h2's underlay is `underlay2` (default its address)."""
    h1, h2 = hosts.by_name("h1"), hosts.by_name("h2")
    underlay2 = underlay2 or h2.address
    path = tmp / "across.yaml"
    path.write_text(f"""\
name: across
hosts:
  - {{name: h1, underlay: {h1.address}}}
  - {{name: h2, underlay: {underlay2}}}
namespaces:
  - {{name: left, host: h1}}
  - {{name: right, host: h2}}
interfaces:
  - name: a1
    kind: veth
    netns: left
    addresses: [192.0.2.1/24]
    peer: {{name: a2, netns: right, addresses: [192.0.2.2/24]}}
checks:
  - {{from: left, ping: 192.0.2.2}}
  - {{from: right, ping: 192.0.2.1, name: back}}
""")
    return path


def _ping_through_the_tunnel(h1: Host, h2: Host, dstport: int, vni: int) -> None:
    """left (on h1) pings right (on h2): the echoes and replies all arrive, and each crossed
    the underlay as UDP to `dstport` with the tunnel's VNI (seen on h2's underlay port)."""
    with UnderlayCapture(h2) as wire:
        ping = h1.run("ip", "netns", "exec", "left", "ping", "-c3", "-i", "0.2", "-W3",
                      "192.0.2.2", check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert wire.count(dstport=dstport, vni=vni, src="192.0.2.1", dst="192.0.2.2",
                      icmp_type=ECHO_REQUEST) >= 3, wire.summary()
    assert wire.count(dstport=dstport, vni=vni, src="192.0.2.2", dst="192.0.2.1",
                      icmp_type=ECHO_REPLY) >= 3, wire.summary()


def _vnet(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vnet", *argv], capture_output=True,
                          text=True, timeout=600)


@ENGINE_ONLY
@pytest.mark.kind("vxlan", "bridge")
def test_a_veth_across_two_hosts_is_a_vxlan_tunnel_applied_in_two_phases(
        three_hosts: Hosts, tmp_path: Path) -> None:
    from vnet.hosts.runner import destroy_across
    from vnet.hosts.split import split_topology
    from vnet.loader import load_file

    from .helpers import require_kind
    require_kind("vxlan")
    h1, h2, h3 = (three_hosts.by_name(n) for n in ("h1", "h2", "h3"))
    # h2's underlay is named by its interface: vnet reads its address there, over Ansible
    path = _across_file(three_hosts, tmp_path, underlay2="eth0")
    inventory = str(three_hosts.inventory)
    # vnet's commands run with a read-only home (as in the kernel tier's VM): Ansible's
    # scratch files and SSH control sockets must go elsewhere (this test's mounts only)
    home = tmp_path / "home"
    (home / ".ansible").mkdir(parents=True)
    subprocess.run(["mount", "--bind", "-o", "ro", str(home), str(home)], check=True)
    os.environ["HOME"] = str(home)

    planned = _vnet("plan", str(path), "--inventory", inventory)
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "== h1 ==" in planned.stdout and "== h2 ==" in planned.stdout
    assert "VXLAN VNI" in planned.stdout and f"{h1.address} <-> {h2.address}" in planned.stdout
    assert "MTU of both ends lowered to 1450" in planned.stdout
    assert h1.run("ip", "netns", "list").stdout == ""  # check mode made nothing

    applied = _vnet("apply", str(path), "--inventory", inventory)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    # the ends reach each other through the tunnel, across the underlay bridge
    vni = split_topology(load_file(path), {"h2": h2.address}).tunnels[0].vni
    _ping_through_the_tunnel(h1, h2, dstport=4789, vni=vni)
    # the tunnel device is in each host's own namespace, to the other host's address
    link = h1.run("ip", "-d", "link", "show", "type", "vxlan").stdout
    assert f"remote {h2.address}" in link and "dstport 4789" in link
    assert h3.run("ip", "netns", "list").stdout == ""  # not part of the file

    # again: nothing to change on any host
    again = _vnet("plan", str(path), "--inventory", inventory)
    assert again.returncode == 0, again.stdout + again.stderr

    # the file's checks, each on the host it starts from, across the tunnel: their echoes
    # (two a check) and the replies cross h1's underlay port inside the tunnel
    with UnderlayCapture(h1) as wire:
        checked = _vnet("check", str(path), "--inventory", inventory)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "PASS back: right -> 192.0.2.1" in checked.stdout
    assert checked.stdout.count("PASS") == 2
    for src, dst in (("192.0.2.1", "192.0.2.2"), ("192.0.2.2", "192.0.2.1")):
        for icmp_type, source in ((ECHO_REQUEST, src), (ECHO_REPLY, dst)):
            assert wire.count(dstport=4789, vni=vni, src=source, icmp_type=icmp_type,
                              dst=dst if source == src else src) >= 2, wire.summary()

    gone = destroy_across(load_file(path), three_hosts.inventory)
    assert not gone.failed, gone.text()
    for host in (h1, h2):
        assert host.run("ip", "netns", "list").stdout == ""
        assert "vxlan" not in host.run("ip", "-d", "link", "show").stdout


def _kernel_state(host: Host) -> dict[str, str]:
    """What a host's kernel holds, as ip prints it: links (with details, no counters),
    addresses, routes of every table, rules, named namespaces."""
    reads = {"links": ("ip", "-d", "-o", "link", "show"), "addresses": ("ip", "-o", "address"),
             "routes": ("ip", "route", "show", "table", "all"),
             "routes6": ("ip", "-6", "route", "show", "table", "all"),
             "rules": ("ip", "rule", "show"), "namespaces": ("ip", "netns", "list")}
    return {what: host.run(*argv).stdout for what, argv in reads.items()}


@ENGINE_ONLY
@pytest.mark.kind("vxlan", "bridge")
def test_a_failure_on_the_third_host_rolls_back_the_other_two(
        three_hosts: Hosts, tmp_path: Path) -> None:
    from vnet.hosts.runner import apply_across
    from vnet.hosts.split import split_topology
    from vnet.loader import load_file

    from .helpers import require_kind
    require_kind("vxlan")
    h1, h2, h3 = three_hosts.hosts
    path = tmp_path / "sites.yaml"
    path.write_text(THREE_SITES.format(a1=h1.address, a2=h2.address, a3=h3.address))
    topo = load_file(path)
    vni = split_topology(topo).tunnels[0].vni  # r/w1 on h1 <-> t3/w3 on h3
    # a vxlan vnet does not own, on h3, already receives that tunnel's VNI on its port: every
    # host plans clean (a plan compares what vnet owns), and h3's kernel refuses the tunnel
    h3.run("ip", "link", "add", "blocker", "type", "vxlan", "id", str(vni), "dstport", "4789",
           "local", h3.address)
    before = {host.name: _kernel_state(host) for host in three_hosts.hosts}
    result = apply_across(topo, three_hosts.inventory)
    assert not any(r.failed for r in result.planned.values()), result.text()
    assert [r.host for r in result.failed] == ["h3"], result.text()
    # the action and the kernel's error, as vnet said them on h3
    assert f"apply failed at create link vnt{vni:06x} (vxlan): File exists [EEXIST]" in \
        result.applied["h3"].msg
    # h1 (a bridge, its VXLAN port, two namespaces, the tunnel's end) and h2 (its part of
    # the bridge) applied, then were rolled back: each kernel holds what it held before
    assert result.applied["h1"].changed and result.applied["h2"].changed, result.text()
    assert sorted(result.rolled_back) == ["h1", "h2"], result.text()
    assert not any(r.failed for r in result.rolled_back.values()), result.text()
    for host in three_hosts.hosts:  # h3 rolled itself back: vnet's all-or-nothing apply
        assert _kernel_state(host) == before[host.name], host.name
    text = result.text()
    assert "FAILED on h3" in text and "rolled back on h1: done" in text and \
        "rolled back on h2: done" in text


@pytest.mark.runs_first("about 5 minutes of Ansible plays in the kernel tier")
@pytest.mark.kind("geneve", "bridge")
def test_a_veth_across_hosts_via_geneve(three_hosts: Hosts, tmp_path: Path) -> None:
    from vnet.hosts.runner import apply_across, destroy_across
    from vnet.hosts.split import split_topology
    from vnet.loader import load_file

    from .helpers import require_kind
    require_kind("geneve")  # this machine's kernel lacks it: proven in the kernel tier
    h1, h2 = three_hosts.by_name("h1"), three_hosts.by_name("h2")
    path = _across_file(three_hosts, tmp_path)
    path.write_text(path.read_text().replace("    kind: veth\n",
                                             "    kind: veth\n    via: geneve\n"))
    topo = load_file(path)
    applied = apply_across(topo, three_hosts.inventory)
    assert not applied.failed, applied.text()
    assert "GENEVE VNI" in applied.text()
    _ping_through_the_tunnel(h1, h2, dstport=6081, vni=split_topology(topo).tunnels[0].vni)
    link = h2.run("ip", "-d", "link", "show", "type", "geneve").stdout
    assert f"remote {h1.address}" in link and "dstport 6081" in link
    gone = destroy_across(topo, three_hosts.inventory)
    assert not gone.failed, gone.text()
    assert h1.run("ip", "netns", "list").stdout == ""


@ENGINE_ONLY
@pytest.mark.kind("vxlan", "bridge")
def test_a_bridge_across_three_hosts(three_hosts: Hosts, tmp_path: Path) -> None:
    from vnet.hosts.runner import apply_across, destroy_across, plan_across
    from vnet.loader import load_file

    from .helpers import require_kind
    require_kind("vxlan")
    hosts = three_hosts.hosts
    path = tmp_path / "span.yaml"
    path.write_text("name: span\nhosts:\n" + "".join(
        f"  - {{name: {h.name}, underlay: {h.address}}}\n" for h in hosts) +
        "namespaces:\n" + "".join(f"  - {{name: s{i}, host: {h.name}}}\n"
                                  for i, h in enumerate(hosts, 1)) +
        "interfaces:\n  - {name: br0, kind: bridge, span: [h1, h2, h3]}\n" + "".join(
            f"  - {{name: e{i}, kind: veth, netns: s{i}, addresses: [192.0.2.{i}/24], "
            f"peer: {{name: p{i}, host: {h.name}, master: br0}}}}\n"
            for i, h in enumerate(hosts, 1)))
    topo = load_file(path)
    applied = apply_across(topo, three_hosts.inventory)
    assert not applied.failed, applied.text()
    assert "bridge br0 spans h1, h2, h3" in applied.text()
    # one L2 segment: every namespace reaches the others, on other hosts
    for i, host in enumerate(hosts, 1):
        for j in (1, 2, 3):
            if j != i:
                ping = host.run("ip", "netns", "exec", f"s{i}", "ping", "-c1", "-W3",
                                f"192.0.2.{j}", check=False)
                assert ping.returncode == 0, (i, j, ping.stdout, ping.stderr)
    again = plan_across(topo, three_hosts.inventory)
    assert not again.failed and not again.changed, again.text()
    gone = destroy_across(topo, three_hosts.inventory)
    assert not gone.failed, gone.text()
    for host in hosts:
        assert host.run("ip", "netns", "list").stdout == ""
        assert "br0" not in host.run("ip", "-o", "link", "show").stdout


@pytest.mark.live_tier_only("a benchmark of the engine (600 interfaces twice), not of the "
                            "kernel: minutes under TCG for a ratio that means nothing there")
def test_three_hosts_of_200_interfaces_against_one_host_of_600(
        three_hosts: Hosts, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's many-hosts benchmark row: the cost of going through Ansible, as the ratio
    of applying 3 hosts x 200 interfaces across hosts to applying the same 600 interfaces on
    one host (here, in the test's own namespace). Both must make every interface."""
    import time

    import vnet
    from vnet.hosts.runner import apply_across
    from vnet.loader import load_file, load_text
    hosts = three_hosts.hosts

    def pairs(ns: str, prefix: str) -> str:
        return "".join(f"  - {{name: {prefix}{i}, kind: veth, netns: {ns}, "
                       f"peer: {{name: {prefix}{i}p, netns: {ns}}}}}\n" for i in range(100))

    path = tmp_path / "bench.yaml"
    path.write_text("name: bench\nhosts:\n" + "".join(
        f"  - {{name: {h.name}, underlay: {h.address}}}\n" for h in hosts) +
        "namespaces:\n" + "".join(f"  - {{name: b{i}, host: {h.name}}}\n"
                                  for i, h in enumerate(hosts)) +
        "interfaces:\n" + "".join(pairs(f"b{i}", f"x{i}v") for i in range(3)))
    started = time.monotonic()
    result = apply_across(load_file(path), three_hosts.inventory)
    across = time.monotonic() - started
    assert not result.failed, result.text()
    for i, host in enumerate(hosts):
        links = host.run("ip", "-n", f"b{i}", "-o", "link", "show").stdout
        assert links.count(f": x{i}v") == 200

    single = load_text("name: single\nnamespaces: [b0, b1, b2]\ninterfaces:\n" +
                       "".join(pairs(f"b{i}", f"x{i}v") for i in range(3)))
    started = time.monotonic()
    vnet.api.apply(single)
    alone = time.monotonic() - started
    assert [t.interfaces for t in vnet.api.live_topologies() if t.name == "single"] == [600]
    vnet.api.destroy("single")
    with capsys.disabled():
        print(f"\nmany hosts: 3 x 200 interfaces across hosts {across:.2f} s, 600 on one host "
              f"{alone:.2f} s, ratio {across / alone:.1f}x")


THREE_SITES = """\
name: sites
hosts:
  - {{name: h1, underlay: {a1}}}
  - {{name: h2, underlay: {a2}}}
  - {{name: h3, underlay: {a3}}}
namespaces:
  - {{name: s1, host: h1}}
  - {{name: r, host: h1}}
  - {{name: s2, host: h2}}
  - {{name: t3, host: h3}}
interfaces:
  - {{name: br0, kind: bridge, span: [h1, h2]}}
  - {{name: e1, kind: veth, netns: s1, addresses: [192.0.2.1/24],
     peer: {{name: p1, host: h1, master: br0}}}}
  - {{name: rl, kind: veth, netns: r, addresses: [192.0.2.254/24],
     peer: {{name: rp, host: h1, master: br0}}}}
  - {{name: e2, kind: veth, netns: s2, addresses: [192.0.2.2/24],
     peer: {{name: p2, host: h2, master: br0}}}}
  - {{name: w1, kind: veth, netns: r, addresses: [198.18.0.1/30],
     peer: {{name: w3, netns: t3, addresses: [198.18.0.2/30]}}}}
routes:
  - {{netns: s1, to: default, via: 192.0.2.254}}
  - {{netns: s2, to: default, via: 192.0.2.254}}
  - {{netns: t3, to: 192.0.2.0/24, via: 198.18.0.1}}
checks:
  - {{from: t3, ping: 192.0.2.2, name: third-to-second}}
  - {{from: s1, ping: 192.0.2.2, name: across-the-bridge}}
"""


@ENGINE_ONLY
@pytest.mark.kind("vxlan", "bridge")
def test_three_sites_a_bridge_across_two_hosts_and_a_routed_link_to_the_third(
        three_hosts: Hosts, tmp_path: Path) -> None:
    from .helpers import require_kind
    require_kind("vxlan")
    h1, h2, h3 = three_hosts.hosts
    path = tmp_path / "sites.yaml"
    path.write_text(THREE_SITES.format(a1=h1.address, a2=h2.address, a3=h3.address))
    inventory = str(three_hosts.inventory)
    applied = _vnet("apply", str(path), "--inventory", inventory)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "bridge br0 spans h1, h2" in applied.stdout and "r/w1 <-> h3:t3/w3" in applied.stdout
    # the router namespace forwards (a sysctl vnet does not set)
    h1.run("ip", "netns", "exec", "r", "sysctl", "-qw", "net.ipv4.ip_forward=1")
    checked = _vnet("check", str(path), "--inventory", inventory)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "PASS third-to-second: t3 -> 192.0.2.2" in checked.stdout
    # each host holds its own part only
    def names(host: object) -> list[str]:
        listed = host.run("ip", "netns", "list").stdout  # type: ignore[attr-defined]
        return sorted(line.split()[0] for line in listed.splitlines())
    assert (names(h1), names(h2), names(h3)) == (["r", "s1"], ["s2"], ["t3"])
    # again: every host plans nothing
    again = _vnet("plan", str(path), "--inventory", inventory, "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    planned = json.loads(again.stdout)["planned"]
    assert {h: (r["changed"], r["failed"]) for h, r in planned.items()} == {
        h: (False, False) for h in ("h1", "h2", "h3")}, planned
    # one view, grouped by host, of what is live on each
    shown = _vnet("show", str(path), "--inventory", inventory)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    sections = dict(re.findall(r"^== (h\d) ==\n(.*?)(?=^== |\Z)", shown.stdout, re.M | re.S))
    assert sorted(sections) == ["h1", "h2", "h3"], shown.stdout
    for host, names in (("h1", ("br0", "e1", "rl", "w1")), ("h2", ("br0", "e2", "p2")),
                        ("h3", ("w3",))):
        assert all(re.search(rf"\b{n}\b", sections[host]) for n in names), shown.stdout
    assert not re.search(r"\b(e1|w1)\b", sections["h2"] + sections["h3"]), shown.stdout
    as_json = json.loads(_vnet("show", str(path), "--inventory", inventory, "--json").stdout)
    assert "198.18.0.2/30" in {a for row in as_json["hosts"]["h3"]["interfaces"]
                               for a in row["addresses"]}
    gone = _vnet("destroy", str(path), "--inventory", inventory)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    for host in three_hosts.hosts:
        assert host.run("ip", "netns", "list").stdout == ""
        assert "vxlan" not in host.run("ip", "-d", "link", "show").stdout
    # nothing is live anywhere: show says so for each host, and fails
    shown = _vnet("show", str(path), "--inventory", inventory)
    assert shown.returncode == 1 and shown.stdout.count("FAILED on h") == 3, shown.stdout
    assert "Traceback" not in shown.stdout + shown.stderr
