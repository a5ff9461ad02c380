"""Apply converges or says why: the kernel's rounding of bridge timers compares equal to what
it was asked (and the plan says so), a value the kernel accepts without keeping it (a vxlan
MTU clamped to its underlay's) is caught by the read-back after apply and rolled back, and
values no interface can hold are refused by validation."""

from __future__ import annotations

import errno
import gzip
from pathlib import Path

import pytest
from conftest import TOPO

import vnet
from vnet import api
from vnet.actions import Action
from vnet.apply import execute_plan, verify_kept
from vnet.door.fake import FakeKernel
from vnet.door.ticks import config_paths, hz_from
from vnet.errors import KernelError, NotKeptError, TopologyError
from vnet.kinds.base import clock_t_kept
from vnet.kinds.bridge import Bridge
from vnet.plan import Plan


@pytest.mark.parametrize(("hz", "asked", "kept"), [
    # measured on this machine's 250 Hz kernel (ip -d link show after ip link add ... type
    # bridge forward_delay 755 hello_time 101 max_age 2001 ageing_time 30001)
    (250, 755, 754), (250, 101, 100), (250, 2001, 2000), (250, 30001, 30000),
    (250, 1500, 1500), (250, 754, 754), (250, 0, 0),
    # 300 Hz: a tick is 3333333 ns, so jiffies_to_clock_t truncates every value one lower
    (300, 1500, 1499), (300, 755, 754),
    # 100 and 1000 Hz divide evenly: nothing changes
    (100, 755, 755), (1000, 755, 755), (1000, 1, 1),
])
def test_clock_t_round_trip(hz: int, asked: int, kept: int) -> None:
    assert clock_t_kept(asked, hz) == kept


def _bridge(delay: int) -> str:
    return f"""
name: {TOPO}
namespaces: [sw]
interfaces:
  - {{name: br0, kind: bridge, netns: sw, forward_delay: {delay}, hello_time: 200}}
"""


def test_rounded_timer_converges_and_the_plan_says_so() -> None:
    fake = FakeKernel(hz=250)
    topo = vnet.load_text(_bridge(755))
    first = api.plan(topo, backend=fake)
    [create] = [a for a in first.actions if a.subject.startswith("link sw/br0")]
    assert "keeps forward_delay 755 as 754 (ticks of 1/250 s)" in create.reason
    api.apply(topo, backend=fake)
    assert fake.namespaces["sw"].links["br0"].info_data["IFLA_BR_FORWARD_DELAY"] == 754
    assert not api.plan(topo, backend=fake).has_changes


def test_a_real_change_of_a_rounded_timer_is_still_a_change() -> None:
    fake = FakeKernel(hz=250)
    api.apply(vnet.load_text(_bridge(755)), backend=fake)
    # hello_time 201 is kept as 200, what the bridge has: no change
    again = api.plan(vnet.load_text(_bridge(753).replace("hello_time: 200",
                                                          "hello_time: 201")), backend=fake)
    [change] = again.actions
    assert change.diff == {"forward_delay": (754, 753)}
    # the note names only what the change sets
    assert change.reason.endswith("keeps forward_delay 753 as 752 (ticks of 1/250 s)")


@pytest.mark.parametrize(("hz", "changes"), [(100, True), (None, False)])
def test_timer_compared_at_the_kernels_rate(hz: int | None, changes: bool) -> None:
    """A 754 kept for 755 is a change on a kernel that keeps 755 exactly (100 Hz); with the
    rate unknown, a value some common rate would keep for 755 is not."""
    fake = FakeKernel(hz=250)
    api.apply(vnet.load_text(_bridge(755)), backend=fake)
    fake.hz = hz
    assert api.plan(vnet.load_text(_bridge(755)), backend=fake).has_changes is changes


def test_keeps_compares_through_the_option() -> None:
    assert Bridge.keeps("forward_delay", 755, 754, 250)
    assert not Bridge.keeps("forward_delay", 755, 754, 1000)
    assert not Bridge.keeps("priority", 755, 754, 250)  # not a timer: compared as is


CLAMPED = f"""
name: {TOPO}
namespaces: [n1]
interfaces:
  - {{name: under0, kind: veth, netns: n1, peer: {{name: under1, netns: n1}}}}
  - {{name: vx0, kind: vxlan, netns: n1, id: 5, dev: under0, remote: 10.0.0.2, mtu: 65500,
     addresses: [192.0.2.1/24]}}
"""


def test_a_value_not_kept_is_rolled_back_and_named() -> None:
    fake = FakeKernel()
    before = fake.state()
    with pytest.raises(NotKeptError) as caught:
        api.apply(vnet.load_text(CLAMPED), backend=fake)
    err = caught.value
    assert err.misses == ["link n1/vx0 (vxlan) mtu: asked 65500, kept 1450"]
    assert "rolled back" in str(err) and "the kernel is as it was before apply" in str(err)
    assert err.undone > 0 and not err.undo_failures
    assert fake.state() == before


def test_a_kept_apply_passes_the_read_back() -> None:
    fake = FakeKernel()
    applied = api.apply(vnet.load_text(CLAMPED.replace("65500", "1450")), backend=fake)
    assert applied.has_changes
    assert fake.namespaces["n1"].links["vx0"].mtu == 1450


def _issues(text: str) -> list[str]:
    with pytest.raises(TopologyError) as caught:
        vnet.load_text(text)
    return [f"{i.field}: {i.message}" for i in caught.value.issues]


@pytest.mark.parametrize("address", ["0.0.0.0/8", "0.0.0.0/32", "::/64", "ff02::5/64",
                                     "::1/128"])
def test_addresses_no_interface_holds(address: str) -> None:
    [issue] = _issues(f"""
name: {TOPO}
interfaces:
  - {{name: br0, kind: bridge, addresses: [192.0.2.1/24, "{address}"]}}
""")
    assert issue.startswith(f"interfaces[0].addresses[1]: address {address} is ")


@pytest.mark.parametrize("address", ["0.0.0.1/8", "192.0.2.0/24", "192.0.2.255/24",
                                     "2001:db8::/64"])
def test_addresses_the_kernel_keeps_are_accepted(address: str) -> None:
    vnet.load_text(f"""
name: {TOPO}
interfaces:
  - {{name: br0, kind: bridge, addresses: ["{address}"]}}
""")


@pytest.mark.parametrize(("remote", "mtu", "limit"), [("10.0.0.2", 1460, 1450),
                                                      ("fd00::2", 1431, 1430)])
def test_vxlan_mtu_above_what_its_underlay_carries(remote: str, mtu: int, limit: int) -> None:
    text = f"""
name: {TOPO}
namespaces: [n1]
interfaces:
  - {{name: under0, kind: veth, netns: n1, mtu: 1500, peer: {{name: under1, netns: n1}}}}
  - {{name: vx0, kind: vxlan, netns: n1, id: 5, dev: under0, remote: "{remote}", mtu: {mtu}}}
"""
    [issue] = _issues(text)
    assert issue.startswith("interfaces[1].mtu: ") and f"would keep {limit}" in issue
    vnet.load_text(text.replace(f"mtu: {mtu}", f"mtu: {limit}"))


def _journal(text: str) -> list[Action]:
    fake = FakeKernel()
    return execute_plan(api.plan(vnet.load_text(text), backend=fake), fake)


def test_read_back_skipped_when_nothing_asked_could_differ() -> None:
    """Plain pairs with addresses, up: the kernel does exactly that or refuses; no second
    observation of 10,000 interfaces for it."""
    journal = _journal(f"""
name: {TOPO}
namespaces: [n1]
interfaces:
  - {{name: a0, kind: veth, netns: n1, addresses: [192.0.2.1/24, 2001:db8::1/64],
     peer: {{name: a1}}}}
routes:
  - {{netns: n1, to: 198.51.100.0/24, via: 192.0.2.2}}
""")
    def replan() -> Plan:
        raise AssertionError("read back although nothing could differ")
    verify_kept(journal, FakeKernel(), replan)


@pytest.mark.parametrize("entry", [
    "{name: a0, kind: veth, mtu: 1400, peer: {name: a1}}",
    "{name: a0, kind: veth, peer: {name: a1, mac: '02:00:00:00:00:01'}}",
    "{name: br0, kind: bridge, forward_delay: 755}",
])
def test_read_back_made_when_a_value_could_differ(entry: str) -> None:
    journal = _journal(f"name: {TOPO}\ninterfaces:\n  - {entry}\n")
    asked = []

    def replan() -> Plan:
        asked.append(True)
        return Plan(TOPO)
    verify_kept(journal, FakeKernel(), replan)
    assert asked


def test_new_bridge_mtu_is_set_again_after_its_ports_join() -> None:
    """The kernel brings a bridge made with an MTU to its ports' smallest as they join; set
    once they have, the MTU is the user's and stays (the read-back caught 9000 kept as 1500)."""
    text = f"""
name: {TOPO}
interfaces:
  - {{name: br0, kind: bridge, mtu: 9000}}
  - {{name: a0, kind: veth, peer: {{name: a1, master: br0}}}}
"""
    fake = FakeKernel()
    subjects = [a.subject for a in api.plan(vnet.load_text(text), backend=fake).actions]
    assert subjects.index("link br0 (bridge) MTU") > subjects.index("port a1 of br0")
    api.apply(vnet.load_text(text), backend=fake)
    assert not api.plan(vnet.load_text(text), backend=fake).has_changes
    assert not any(a.subject.endswith("MTU") for a in api.plan(
        vnet.load_text(text.replace(", mtu: 9000", "")), backend=FakeKernel()).actions)


def test_a_read_back_that_fails_rolls_back() -> None:
    fake = FakeKernel()
    before = fake.state()
    journal = execute_plan(api.plan(vnet.load_text(CLAMPED), backend=fake), fake)

    def replan() -> Plan:
        raise KernelError("dump links in n1", errno.EIO)
    with pytest.raises(NotKeptError) as caught:
        verify_kept(journal, fake, replan)
    assert "reading the kernel back failed: dump links in n1" in str(caught.value)
    assert fake.state() == before


def test_kernel_hz_read_from_the_first_configuration_that_says_it(tmp_path: Path) -> None:
    plain = tmp_path / "config-plain"
    plain.write_text("CONFIG_HZ_300=y\nCONFIG_HZ=300\n")
    packed = tmp_path / "config.gz"
    packed.write_bytes(gzip.compress(b"# CONFIG_HZ_100 is not set\nCONFIG_HZ=1000\n"))
    silent = tmp_path / "config-silent"
    silent.write_text("CONFIG_NET=y\n")
    missing = str(tmp_path / "none")
    assert hz_from([missing, str(silent), str(packed), str(plain)]) == 1000
    assert hz_from([missing, str(plain), str(packed)]) == 300
    assert hz_from([missing, str(silent)]) is None
    assert config_paths("6.1.0-57-amd64")[:2] == ["/proc/config.gz",
                                                  "/boot/config-6.1.0-57-amd64"]
