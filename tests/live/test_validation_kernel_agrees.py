"""The validation rules that stand in for the kernel's own refusals agree with the kernel:
what vnet refuses at `validate` the kernel refuses (or silently drops), and what vnet lets
through the kernel keeps. Each case is tried with `ip` in the test's own namespace, beside
vnet's verdict on the same thing written in a file."""

from __future__ import annotations

import pytest

import vnet
from vnet.errors import TopologyError

from .helpers import CommandError, ip_json, require_kind, sh


def _refused_by_vnet(text: str, words: str) -> bool:
    try:
        vnet.load_text(text, "t.yaml")
    except TopologyError as exc:
        return any(words in issue.message for issue in exc.issues)
    return False


# ---- two vxlans in one namespace -----------------------------------------------------------

#: (the first vxlan's `ip` arguments, its fields in a file, the second's likewise)
VXLAN_CASES = {
    "same VNI and port, other local": (
        "id 100 dstport 4789 local 198.51.100.1", "id: 100, dstport: 4789, local: 198.51.100.1",
        "id 100 dstport 4789 local 198.51.100.2", "id: 100, dstport: 4789, local: 198.51.100.2"),
    "same VNI, other port": (
        "id 100 dstport 4789", "id: 100, dstport: 4789",
        "id 100 dstport 4790", "id: 100, dstport: 4790"),
    "same VNI and port, other family": (
        "id 100 dstport 4789 local 198.51.100.1", "id: 100, dstport: 4789, local: 198.51.100.1",
        "id 100 dstport 4789 local 2001:db8::1", "id: 100, dstport: 4789, local: '2001:db8::1'"),
    "no port and the kernel's default port": (
        "id 7", "id: 7",
        "id 7 dstport 8472", "id: 7, dstport: 8472"),
    "two collect_metadata on one port": (
        "dstport 4789 external", "dstport: 4789, collect_metadata: true",
        "dstport 4789 external", "dstport: 4789, collect_metadata: true"),
    "link-local local on the same device": (
        "id 9 dstport 4789 local fe80::1 dev u0",
        "id: 9, dstport: 4789, local: 'fe80::1', dev: u0",
        "id 9 dstport 4789 local fe80::2 dev u0",
        "id: 9, dstport: 4789, local: 'fe80::2', dev: u0"),
    "link-local local on another device": (
        "id 9 dstport 4789 local fe80::1 dev u0",
        "id: 9, dstport: 4789, local: 'fe80::1', dev: u0",
        "id 9 dstport 4789 local fe80::1 dev u1",
        "id: 9, dstport: 4789, local: 'fe80::1', dev: u1"),
}


@pytest.mark.kind("vxlan")
@pytest.mark.parametrize("case", sorted(VXLAN_CASES))
def test_vnet_refuses_two_vxlans_exactly_when_the_kernel_does(case: str) -> None:
    require_kind("vxlan")
    ip_a, file_a, ip_b, file_b = VXLAN_CASES[case]
    sh("ip", "link", "add", "u0", "type", "veth", "peer", "name", "u1")
    sh("ip", "link", "add", "vxa", "type", "vxlan", *ip_a.split())
    try:
        sh("ip", "link", "add", "vxb", "type", "vxlan", *ip_b.split())
        kernel_refused = False
    except CommandError as exc:
        assert "exists" in str(exc), exc  # EEXIST, not some other refusal
        kernel_refused = True
    text = ("name: t\ninterfaces:\n  - {name: u0, external: true}\n"
            "  - {name: u1, external: true}\n"
            f"  - {{name: vxa, kind: vxlan, {file_a}}}\n"
            f"  - {{name: vxb, kind: vxlan, {file_b}}}\n")
    assert _refused_by_vnet(text, "the kernel refuses a second") == kernel_refused, case


# ---- addresses -----------------------------------------------------------------------------

@pytest.mark.kind("veth")
@pytest.mark.parametrize(("address", "usable"), [
    ("0.0.0.0/8", False), ("0.0.0.0/0", False), ("::/50", False), ("::1/128", False),
    ("ff02::5/64", False),
    ("192.0.2.0/24", True), ("0.1.2.3/8", True), ("224.0.0.5/24", True),
    ("2001:db8::/64", True), ("fe80::/64", True),
])
def test_vnet_refuses_an_address_exactly_when_the_kernel_does_not_keep_it(
        address: str, usable: bool) -> None:
    sh("ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    try:
        sh("ip", "addr", "add", address, "dev", "v0")
    except CommandError:
        pass
    kept = {f"{a['local']}/{a['prefixlen']}" for link in ip_json("addr", "show", "dev", "v0")
            for a in link.get("addr_info", [])}
    assert (address in kept) == usable, kept
    text = f"name: t\ninterfaces:\n  - {{name: v0, kind: veth, addresses: ['{address}']}}\n"
    assert _refused_by_vnet(text, f"address {address} is") != usable


# ---- names ---------------------------------------------------------------------------------

@pytest.mark.kind("veth")
@pytest.mark.parametrize(("name", "what_the_kernel_does"), [
    ("a\u00e0", "refuses"),   # 'à' is c3 a0 in UTF-8, and the kernel reads a0 as a space
    ("c%d", "renames"),       # the kernel reads %d as a pattern and picks c0
])
def test_names_vnet_refuses_are_names_the_kernel_mishandles(name: str,
                                                            what_the_kernel_does: str) -> None:
    try:
        sh("ip", "link", "add", name, "type", "veth", "peer", "name", "p0")
        made = [link["ifname"] for link in ip_json("link", "show")]
        assert what_the_kernel_does == "renames" and name not in made, made
    except CommandError:
        assert what_the_kernel_does == "refuses"
    text = f"name: t\ninterfaces:\n  - {{name: '{name}', kind: veth}}\n"
    assert _refused_by_vnet(text, "use only ASCII letters")
