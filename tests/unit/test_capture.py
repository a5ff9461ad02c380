"""`vnet capture` without a kernel: examples applied to the in-memory FakeKernel are captured
and applied again (same state, the original plans nothing), kernel defaults are left out, pairs
become one entry, the YAML is stable and loads, and bad cases are clear errors. The live
round trips (every example, every kind, a network built by hand) are in
tests/live/test_capture.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from vnet import api, loader, ownership, secrets, store
from vnet.capture import CaptureError, _Reader, capture_owned, capture_unowned, to_yaml
from vnet.cli import EXIT_ERROR, EXIT_OK, main
from vnet.declare import SecretStr
from vnet.door.fake import FakeKernel, NotModelled
from vnet.door.macsec import MacsecRxSC, MacsecSA, MacsecState
from vnet.errors import ConflictError
from vnet.observe import AddressState, RouteState
from vnet.record import Record

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: examples whose apply the fake does not model (tc, teamd, MACsec SAs, setting a bond's
#: primary) or cannot hold (an InfiniBand NIC): their round trips are live only
LIVE_ONLY = {"bond", "ifb", "ipoib", "macsec", "macsec-wrong-key", "team", "wan"}
#: examples a capture refuses by design: vnet never writes a WireGuard key into a file
#: (test_wireguard_keys_are_never_written)
KEYS_NOT_CAPTURED = {"wireguard"}
FAKE_EXAMPLES = [p for p in sorted(EXAMPLES.glob("*.yaml"))
                 if p.stem not in LIVE_ONLY | KEYS_NOT_CAPTURED]


def applied(path: Path | str, kernel: FakeKernel | None = None) -> tuple[FakeKernel, Any]:
    kernel = kernel or FakeKernel()
    topo = api.load_file(path) if isinstance(path, Path) else api.load_text(path)
    api.apply(topo, backend=kernel)
    return kernel, topo


def state_of(kernel: FakeKernel, fixed_macs: set[str] = frozenset()) -> dict[str, Any]:
    """What the fake holds, without ifindexes (and what points by them, said by name instead)
    or MACs a file did not set. The fake keeps only the options a request gave, where the
    kernel fills in its defaults: kind options are compared as their effective values (the
    kernel's default where none was given), and an MTU at the kind's default as "default"."""
    out: dict[str, Any] = {}
    for ns, st in kernel.namespaces.items():
        by_index = {link.index: link for link in st.links.values()}
        links = {}
        for name, link in st.links.items():
            data = copy.deepcopy(vars(link))
            for key in ("index", "parent_index", "parent_netnsid", "info_data"):
                data.pop(key)
            parent = by_index.get(link.parent_index or -1)
            data["parent"] = parent.name if parent is not None else None
            if (link.mac or "") not in fixed_macs:
                data.pop("mac")
            cls = _Reader.kind_class(link)
            if cls is not None:
                options = cls.decode_info_data(link.info_data)
                data["options"] = {k: v for k, v in {**cls.capture_defaults, **options}.items()
                                   if k in cls.model_fields and k != cls.parent_field}
                if link.mtu in (1500, cls.capture_default_mtu(link, st, parent)):
                    data["mtu"] = "default"
            links[name] = data
        out[str(ns)] = {"links": links, "addresses": sorted(map(repr, st.addresses)),
                        "routes": sorted(map(repr, st.routes)),
                        "fdb": sorted(map(repr, st.fdb)),
                        "vlans": copy.deepcopy(st.bridge_vlans)}
    out["peers"] = sorted(map(repr, kernel.peers.items()))
    out["parents"] = sorted(map(repr, kernel.parents.items()))
    return out


def without_mtu(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_mtu(v) for k, v in value.items() if k != "mtu"}
    if isinstance(value, list):
        return [without_mtu(v) for v in value]
    return value


def declared_macs(topo: Any) -> set[str]:
    return {str(end.mac).lower() for end in topo.endpoints() if end.mac}


# ---- round trips on the fake ------------------------------------------------------------------

@pytest.mark.parametrize("path", FAKE_EXAMPLES, ids=lambda p: p.stem)
def test_round_trip_on_the_fake(path: Path, tmp_path: Path) -> None:
    kernel, original = applied(path)
    expected = state_of(kernel, declared_macs(original))
    data = capture_owned(original.name, kernel)
    loader.load_data(data)  # every capture loads
    captured = api.load_text(to_yaml(data))
    assert captured.name == original.name
    assert sorted(captured.namespaces) == sorted(original.namespaces)
    assert len(captured.endpoints()) == len(original.endpoints())

    api.destroy(original.name, backend=kernel)
    assert kernel.list_netns() == set() and list(kernel.namespaces[None].links) == ["lo"]
    file = tmp_path / "captured.yaml"  # applied from a file, as `vnet apply FILE` does
    file.write_text(to_yaml(data))
    captured = api.load_file(file)
    api.apply(captured, backend=kernel)
    assert state_of(kernel, declared_macs(original)) == expected
    assert not api.plan(captured, backend=kernel).has_changes
    # the same state, the same capture (the fake gives every new link MTU 1500, where the
    # kernel gives a tunnel less: an MTU at the kind's default differs on the fake alone)
    assert without_mtu(capture_owned(original.name, kernel)) == without_mtu(data)
    # that the ORIGINAL then plans nothing needs the kernel's defaults, which the fake does
    # not fill in: tests/live/test_capture.py holds it, for every example


@pytest.mark.parametrize("stem", sorted(LIVE_ONLY))
def test_live_only_examples_are_those_the_fake_cannot_apply(stem: str) -> None:
    with pytest.raises((NotModelled, ConflictError)):
        applied(EXAMPLES / f"{stem}.yaml")


# ---- what is left out -------------------------------------------------------------------------

def test_kernel_defaults_are_left_out() -> None:
    kernel, _ = applied("""
name: d
interfaces:
  - {name: br0, kind: bridge, stp_state: false, forward_delay: 1500, priority: 32768}
  - {name: br1, kind: bridge, stp_state: true, priority: 4096, mtu: 1400}
  - {name: vx0, kind: vxlan, id: 7, remote: 192.0.2.2, dstport: 8472, learning: true}
""")
    entries = {e["name"]: e for e in capture_owned("d", kernel)["interfaces"]}
    assert entries["br0"] == {"name": "br0", "kind": "bridge"}
    assert entries["br1"] == {"name": "br1", "kind": "bridge", "stp_state": True,
                              "priority": 4096, "mtu": 1400}
    assert entries["vx0"]["id"] == 7 and "dstport" not in entries["vx0"]
    assert "learning" not in entries["vx0"]


def test_interface_sysctls_other_than_the_namespaces_default_are_captured() -> None:
    """rp_filter, accept_ra, `ipv6: false` and forwarding are written where the interface's
    file differs from its namespace's conf/default (what a link made there now gets); a
    namespace whose default says the same leaves them out. The capture then plans nothing."""
    kernel, _ = applied("""
name: y
namespaces: [a]
interfaces:
  - {name: d0, kind: dummy, netns: a, rp_filter: 2, accept_ra: 0, ipv6: false,
     forwarding: true}
  - {name: d1, kind: dummy, netns: a, rp_filter: 0}
""")
    entries = {e["name"]: e for e in capture_owned("y", kernel)["interfaces"]}
    assert entries["d0"] == {"name": "d0", "kind": "dummy", "netns": "a", "rp_filter": 2,
                             "accept_ra": 0, "ipv6": False, "forwarding": True}
    assert entries["d1"] == {"name": "d1", "kind": "dummy", "netns": "a"}  # the default
    st = kernel.namespaces["a"]
    st.sysctls["net/ipv4/conf/default/rp_filter"] = "2"  # a namespace whose default is 2
    st.sysctls["net/ipv6/conf/d0/forwarding"] = "0"  # IPv4 on, IPv6 off: not sayable
    entries = {e["name"]: e for e in capture_owned("y", kernel)["interfaces"]}
    assert "rp_filter" not in entries["d0"] and entries["d1"]["rp_filter"] == 0
    assert "forwarding" not in entries["d0"]


def test_down_state_mtu_and_addresses_but_not_link_local() -> None:
    kernel, _ = applied("""
name: s
interfaces:
  - {name: d0, kind: dummy, state: down, mtu: 9000, addresses: [192.0.2.1/24, 2001:db8::1/64]}
""")
    kernel.namespaces[None].addresses.append(AddressState("d0", "fe80::1/64", scope=253))
    [entry] = capture_owned("s", kernel)["interfaces"]
    assert entry == {"name": "d0", "kind": "dummy", "addresses": ["192.0.2.1/24",
                                                                  "2001:db8::1/64"],
                     "mtu": 9000, "state": "down"}


def test_only_vnets_routes_of_an_owned_topology() -> None:
    kernel, _ = applied("""
name: r
namespaces: [a]
interfaces:
  - {name: e0, kind: dummy, netns: a, addresses: [192.0.2.1/24]}
routes:
  - {netns: a, to: 198.51.100.0/24, via: 192.0.2.254}
  - {netns: a, to: "2001:db8:1::/48", dev: e0}
""")
    kernel.namespaces["a"].routes.append(RouteState(2, 254, "203.0.113.0/24", None, "e0", 0,
                                                    proto=4))  # made by hand
    assert capture_owned("r", kernel)["routes"] == [
        {"netns": "a", "to": "198.51.100.0/24", "via": "192.0.2.254"},
        {"netns": "a", "to": "2001:db8:1::/48", "dev": "e0"}]


def test_random_macs_are_left_out_and_set_ones_kept() -> None:
    kernel = FakeKernel()
    kernel.add_netns("h")
    kernel.add_link("h", "e0", "dummy", link_type=1, mac="7a:1c:9e:45:3b:d2")  # random
    kernel.add_link("h", "e1", "dummy", link_type=1, mac="02:00:00:00:0a:01")  # numbered
    kernel.add_link("h", "e2", "dummy", link_type=1, mac="00:16:3e:12:34:56")  # a vendor's
    entries = {e["name"]: e for e in capture_unowned("m", ["h"], False, kernel)["interfaces"]}
    assert "mac" not in entries["e0"]
    assert entries["e1"]["mac"] == "02:00:00:00:0a:01"
    assert entries["e2"]["mac"] == "00:16:3e:12:34:56"


def test_external_interfaces_of_an_owned_topology(tmp_path: Path) -> None:
    """What vnet changed on a NIC (the record keeps its old values) and the NICs its links
    stand on come back as external entries, with only what vnet changed on them."""
    kernel = FakeKernel()
    kernel.add_link(None, "eth8", None, link_type=1, mac="00:16:3e:00:00:08", up=True)
    kernel.add_link(None, "eth9", None, link_type=1, mac="00:16:3e:00:00:09", up=True)
    kernel.namespaces[None].addresses.append(AddressState("eth9", "203.0.113.9/24"))
    _, original = applied("""
name: ext
interfaces:
  - {name: br0, kind: bridge, addresses: [192.0.2.1/24]}
  - {name: eth9, external: true, master: br0, state: down, addresses: [198.51.100.9/24]}
  - {name: mv0, kind: macvlan, link: eth8, mode: bridge}
  - {name: eth8, external: true}
""", kernel)
    data = capture_owned("ext", kernel)
    assert data["interfaces"] == [
        {"name": "br0", "kind": "bridge", "addresses": ["192.0.2.1/24"]},
        {"name": "mv0", "kind": "macvlan", "link": "eth8", "mode": "bridge"},
        {"name": "eth8", "external": True},
        {"name": "eth9", "external": True, "addresses": ["198.51.100.9/24"],
         "state": "down", "master": "br0"}]
    api.destroy("ext", backend=kernel)
    nic = kernel.namespaces[None].links["eth9"]
    assert (nic.up, nic.master) == (True, None)
    api.apply(api.load_data(data), backend=kernel)
    assert not api.plan(original, backend=kernel).has_changes
    api.destroy("ext", backend=kernel)  # and the NIC is put back again
    assert kernel.namespaces[None].addresses == [AddressState("eth9", "203.0.113.9/24")]


# ---- pairs ------------------------------------------------------------------------------------

def test_a_pair_is_one_entry_with_its_peer() -> None:
    kernel, _ = applied("""
name: p
namespaces: [a, b]
interfaces:
  - name: x
    kind: veth
    netns: b
    addresses: [192.0.2.2/24]
    peer: {name: y, netns: a, mtu: 1400, addresses: [192.0.2.1/24]}
  - {name: can-b, kind: vxcan, netns: b, mtu: 72, peer: {name: can-a, netns: a, mtu: 72}}
""")
    entries = capture_owned("p", kernel)["interfaces"]
    # the entry is the end in the first namespace (a, before b), whichever was made first
    assert entries == [
        {"name": "y", "kind": "veth", "netns": "a",
         "peer": {"name": "x", "netns": "b", "addresses": ["192.0.2.2/24"]},
         "addresses": ["192.0.2.1/24"], "mtu": 1400},
        {"name": "can-a", "kind": "vxcan", "netns": "a", "peer": {"name": "can-b",
                                                                 "netns": "b"}}]


def test_a_pair_in_one_namespace_is_named_by_its_first_end() -> None:
    for first, second in (("b0", "a0"), ("a0", "b0")):
        kernel, _ = applied(f"name: q\ninterfaces:\n  - {{name: {first}, kind: veth, "
                            f"peer: {{name: {second}}}}}\n")
        [entry] = capture_owned("q", kernel)["interfaces"]
        assert (entry["name"], entry["peer"]["name"]) == ("a0", "b0")


# ---- capturing what vnet does not own ---------------------------------------------------------

def hand_made() -> FakeKernel:
    """A namespace made by hand: a bridge, a veth into it, a NIC, and vnet's own topology
    beside them."""
    kernel = FakeKernel()
    kernel.add_netns("lab")
    kernel.send([])
    applied("name: mine\ninterfaces:\n  - {name: own0, kind: dummy, netns: lab}\n"
            "namespaces: [other]\n".replace("netns: lab", "netns: other"), kernel)
    kernel.add_link(None, "eth0", None, link_type=1, mac="00:16:3e:00:00:01", up=True)
    kernel.add_link("lab", "br0", "bridge", up=True)
    kernel.add_link("lab", "d1", "dummy", master="br0", up=True)
    kernel.add_link("lab", "sit0", "sit")  # the kernel's own fallback device
    kernel.namespaces["lab"].addresses.append(AddressState("br0", "192.0.2.1/24"))
    kernel.namespaces["lab"].routes.append(RouteState(2, 254, "198.51.100.0/24",
                                                      "192.0.2.9", "br0", 0, proto=3))
    kernel.namespaces["lab"].routes.append(RouteState(2, 254, "192.0.2.0/24", None, "br0",
                                                      0, proto=2))  # the kernel's
    return kernel


def test_unowned_capture_of_a_namespace_and_the_host() -> None:
    kernel = hand_made()
    data = capture_unowned("byhand", ["lab"], True, kernel)
    assert data == {
        "name": "byhand", "namespaces": ["lab"],
        "interfaces": [
            {"name": "br0", "kind": "bridge", "netns": "lab", "addresses": ["192.0.2.1/24"]},
            {"name": "d1", "kind": "dummy", "netns": "lab", "master": "br0"},
            {"name": "eth0", "external": True}],
        "routes": [{"netns": "lab", "to": "198.51.100.0/24", "via": "192.0.2.9"}]}
    loader.load_data(data)


def test_unowned_capture_errors() -> None:
    kernel = hand_made()
    with pytest.raises(CaptureError, match="namespace 'ghost' does not exist"):
        capture_unowned("x", ["lab", "ghost"], False, kernel)
    with pytest.raises(CaptureError, match="namespace 'other' belongs to vnet topology "
                                           "'mine': capture it with `vnet capture mine`"):
        capture_unowned("x", ["other"], False, kernel)
    with pytest.raises(CaptureError, match="name namespaces with --netns NS, or add --host"):
        capture_unowned("x", [], False, kernel)
    kernel.add_link("lab", "gre1", "gre")
    with pytest.raises(CaptureError, match="lab/gre1 is a gre link, a kind vnet does not "
                                           "implement .* with --skip-unknown"):
        capture_unowned("x", ["lab"], False, kernel)
    names = [e["name"] for e in capture_unowned("x", ["lab"], False, kernel,
                                                skip_unknown=True)["interfaces"]]
    assert names == ["br0", "d1"]


def test_a_parent_outside_the_capture_is_named() -> None:
    kernel = FakeKernel()
    kernel.add_netns("lab")
    parent = kernel.add_link(None, "dummy0", "dummy")
    kernel.add_link("lab", "mv0", "macvlan", parent_index=parent.index, parent_netnsid=0, up=True,
                    info_data={"IFLA_MACVLAN_MODE": 4})
    kernel.namespaces["lab"].netns_by_id[0] = None
    with pytest.raises(CaptureError, match=r"the parent of lab/mv0 \(macvlan\) is in the "
                                           r"namespace vnet runs in, which the capture does "
                                           r"not include; add it \(--netns NS, or --host\)"):
        capture_unowned("x", ["lab"], False, kernel)
    entries = capture_unowned("x", ["lab"], True, kernel)["interfaces"]
    assert entries[1] == {"name": "mv0", "kind": "macvlan", "netns": "lab", "link": "dummy0",
                          "mode": "bridge"}


# ---- errors of an owned capture ---------------------------------------------------------------

def test_nothing_live() -> None:
    with pytest.raises(CaptureError, match="nothing live for ghost; `vnet show` lists live "
                                           "topologies"):
        capture_owned("ghost", FakeKernel())


def test_macsec_keys_are_never_guessed() -> None:
    kernel, _ = applied("name: ms\ninterfaces:\n  - {name: w0, kind: veth, peer: {name: w1}}"
                        "\n  - {name: ms0, kind: macsec, link: w0, encrypt: true}\n")
    kernel.namespaces[None].macsec["ms0"] = MacsecState(
        "ms0", 9, 1, tx={0: MacsecSA(0, 1, "01" * 16, True)})
    with pytest.raises(CaptureError, match="the MACsec keys of ms0 cannot be read from the "
                                           "kernel"):
        capture_owned("ms", kernel)
    del kernel.namespaces[None].macsec["ms0"]  # a SecY without SAs holds no key
    entry = capture_owned("ms", kernel)["interfaces"][-1]
    entry.pop("mtu")  # the fake gives a macsec MTU 1500, the kernel its parent's less 32
    assert entry == {"name": "ms0", "kind": "macsec", "link": "w0", "encrypt": True}


def test_macsec_keys_by_the_key_files_of_the_file_last_applied(tmp_path: Path) -> None:
    key1, key2 = "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"
    for name, key in (("tx.hex", key1), ("rx.hex", key2)):
        (tmp_path / name).write_text(key)
        (tmp_path / name).chmod(0o600)
    file = tmp_path / "ms.yaml"
    file.write_text("""\
name: ms
interfaces:
  - {name: w0, kind: veth, peer: {name: w1}}
  - name: ms0
    kind: macsec
    link: w0
    tx_sa: [{an: 0, key_id: "01", key_file: tx.hex}]
    rx: [{address: "02:00:00:00:00:02", sa: [{an: 1, pn: 7, key_id: "02", key_file: rx.hex}]}]
""")
    # the fake does not model SAs: the SecY is made bare, its SAs put in place by hand
    kernel, _ = applied("name: ms\ninterfaces:\n  - {name: w0, kind: veth, peer: {name: w1}}"
                        "\n  - {name: ms0, kind: macsec, link: w0}\n")
    store.write_record(Record("ms", source=str(file)))
    sci = int("020000000002" + "0001", 16)
    kernel.namespaces[None].macsec["ms0"] = MacsecState(
        "ms0", 9, 1,
        tx={0: MacsecSA(0, 1, "01".ljust(32, "0"), True, secrets.fingerprint(SecretStr(key1)))},
        rx={sci: MacsecRxSC(sci, True, {1: MacsecSA(1, 40, "02".ljust(32, "0"), True,
                                                    secrets.fingerprint(SecretStr(key2)))})})
    entry = capture_owned("ms", kernel)["interfaces"][-1]
    assert entry["tx_sa"] == [{"an": 0, "key_id": "01", "key_file": str(tmp_path / "tx.hex")}]
    assert entry["rx"] == [{"address": "02:00:00:00:00:02", "sa": [
        {"an": 1, "pn": 7, "key_id": "02", "key_file": str(tmp_path / "rx.hex")}]}]
    (tmp_path / "rx.hex").write_text(key1)  # the file no longer holds the key in use
    with pytest.raises(CaptureError, match="the MACsec keys of ms0 cannot be read from the "
                                           "kernel .* no longer hold the keys in use"):
        capture_owned("ms", kernel)


# ---- YAML -------------------------------------------------------------------------------------

def test_yaml_is_ordered_stable_and_loads() -> None:
    kernel, _ = applied("""
name: y
namespaces: [b, a]
interfaces:
  - name: br0
    state: down
    kind: bridge
    netns: a
    vlan_filtering: true
    addresses: [192.0.2.1/24]
  - {name: e0, kind: veth, netns: b, addresses: [192.0.2.2/24],
     peer: {name: p0, netns: a, master: br0, vlans: [{vid: 10, pvid: true, untagged: true}]}}
routes:
  - {netns: b, to: default, via: 192.0.2.1}
""")
    data = capture_owned("y", kernel)
    text = to_yaml(data)
    assert text == """\
# Captured from the live kernel by `vnet capture y`.
# Apply it with `vnet apply FILE`; `vnet plan FILE` shows what it would change.
name: y
namespaces: [a, b]
interfaces:
  - name: br0
    kind: bridge
    netns: a
    vlan_filtering: true
    addresses: [192.0.2.1/24]
    state: down
  - name: p0
    kind: veth
    netns: a
    peer: {name: e0, netns: b, addresses: [192.0.2.2/24]}
    master: br0
    vlans: [{vid: 10, pvid: true, untagged: true}]
routes:
  - {netns: b, to: default, via: 192.0.2.1}
"""
    assert to_yaml(capture_owned("y", kernel)) == text
    assert api.load_text(text).name == "y"


def test_long_values_go_in_blocks() -> None:
    data = {"name": "z", "interfaces": [{"name": "vx0", "kind": "vxlan", "id": 1,
                                         "fdb": [{"mac": "00:00:00:00:00:00",
                                                  "dst": f"192.0.2.{i}"} for i in range(5)]}]}
    text = to_yaml(data)
    assert "    fdb:\n      - {mac: '00:00:00:00:00:00', dst: 192.0.2.0}\n" in text
    assert loader.load_text(text).interfaces[0].fdb[4].dst == "192.0.2.4"


# ---- the command ------------------------------------------------------------------------------

@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeKernel:
    kernel = FakeKernel()
    monkeypatch.setattr(api, "open_kernel", lambda: kernel)
    return kernel


def test_cli_capture(fake: FakeKernel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                     ) -> None:
    applied(EXAMPLES / "veth.yaml", fake)
    name = api.load_file(EXAMPLES / "veth.yaml").name
    assert main(["capture", name]) == EXIT_OK
    out, _ = capsys.readouterr()
    assert out.startswith(f"# Captured from the live kernel by `vnet capture {name}`.")
    assert main(["capture", name, "-o", str(tmp_path / "c.yaml")]) == EXIT_OK
    assert (tmp_path / "c.yaml").read_text() == out
    assert api.load_file(tmp_path / "c.yaml").name == name


def test_cli_capture_errors(fake: FakeKernel, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capture", "ghost"]) == EXIT_ERROR
    _, err = capsys.readouterr()
    assert err.strip().splitlines()[-1].strip() == (
        "vnet capture: nothing live for ghost; `vnet show` lists live topologies")
    assert main(["capture", "--name", "new", "--netns", "nope"]) == EXIT_ERROR
    _, err = capsys.readouterr()
    assert err.strip().splitlines()[-1].strip() == (
        "vnet capture: namespace 'nope' does not exist; `ip netns list` lists those that do")
    fake.add_link(None, "vrf0", "vrf")
    assert main(["capture", "--name", "new", "--host"]) == EXIT_ERROR
    _, err = capsys.readouterr()
    assert "vrf0 is a vrf link, a kind vnet does not implement" in err
    assert main(["capture", "--name", "new", "--host", "--skip-unknown"]) == EXIT_OK
    out, _ = capsys.readouterr()
    assert "vrf0" not in out and "name: new" in out
    assert main(["capture"]) == EXIT_ERROR
    assert main(["capture", "x", "--host"]) == EXIT_ERROR


def test_marks_are_not_captured() -> None:
    kernel, topo = applied(EXAMPLES / "veth.yaml")
    text = to_yaml(capture_owned(topo.name, kernel))
    assert ownership.link_marker(topo.name, "x").removesuffix(".x") not in text
    assert ownership.netns_marker(topo.name) not in text


def test_wireguard_keys_are_never_written() -> None:
    kernel, _ = applied(EXAMPLES / "wireguard.yaml")
    with pytest.raises(CaptureError, match="the WireGuard keys of wg0 are not written into a "
                                           "file by vnet"):
        capture_owned("wireguard-demo", kernel)
    kernel, _ = applied("name: wgc\ninterfaces:\n  - {name: wg1, kind: wireguard}\n")
    entry = capture_owned("wgc", kernel)["interfaces"][-1]
    assert entry["kind"] == "wireguard" and "private_key" not in entry
