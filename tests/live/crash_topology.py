"""The crash test's topology: many namespaces, each holding every kind this machine's kernel
has (veth, bridge, vxlan, macvlan, ifb, tun/tap), with pairs between namespaces and into the
namespace vnet runs in. Shared by tests/live/test_crash.py and its full run (see
benchmarks/README.md)."""

from __future__ import annotations


def crash_yaml(name: str, spaces: int) -> str:
    """A topology `name` of `spaces` namespaces, 6 interfaces each: a bridge, a veth whose
    other end is in the next namespace (every fifth: where vnet runs), a macvlan on it, an
    ifb (every fifth: where vnet runs, where the test turns IPv6 off so that its creations go
    in batches), and one more: a vxlan over the veth, enslaved to the bridge (every tenth
    namespace), a tap (every tenth, from the fifth), or a second ifb. (A vxlan's namespace
    costs a read of its FDB in every plan: a few keep the run short.)"""
    lines = [f"name: {name}", "namespaces: [" + ", ".join(f"c{i}" for i in range(spaces)) + "]",
             "interfaces:"]
    for i in range(spaces):
        ns, net = f"c{i}", i % 250
        peer = (f"{{name: r{i}, addresses: [172.16.{net}.2/30]}}" if i % 5 == 0 else
                f"{{name: dn{i}, netns: c{(i + 1) % spaces}, addresses: [172.16.{net}.2/30]}}")
        extra = (f"{{name: vx, kind: vxlan, netns: {ns}, id: {i + 1}, dstport: 4789, dev: up,"
                 f" local: 172.16.{net}.1, master: br}}" if i % 10 == 0 else
                 f"{{name: tp, kind: tap, netns: {ns}}}" if i % 10 == 5 else
                 f"{{name: ifb1, kind: ifb, netns: {ns}}}")
        lines += [
            f"  - {{name: br, kind: bridge, netns: {ns}, addresses: [10.0.{net}.1/24]}}",
            f"  - {{name: up, kind: veth, netns: {ns}, addresses: [172.16.{net}.1/30],"
            f" peer: {peer}}}",
            f"  - {{name: mv, kind: macvlan, netns: {ns}, link: up, link_netns: {ns},"
            f" mode: bridge}}",
            f"  - {{name: ifb0, kind: ifb, netns: {ns}}}" if i % 5 else
            f"  - {{name: rb{i}, kind: ifb}}",
            f"  - {extra}",
        ]
    return "\n".join(lines) + "\n"
