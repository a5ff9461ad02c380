"""Validation reports in one run all that can be known: an entry that fails its own schema
still has its namespace checked and does not make its references look broken; a route's
gateway must be reachable as the kernel requires (golden cases in tests/golden/errors)."""

from __future__ import annotations

import pytest

from vnet.errors import TopologyError
from vnet.loader import load_text

ROUTED = """
name: lab
namespaces: [h1]
interfaces:
  - {name: e0, kind: veth, netns: h1, addresses: [10.1.0.2/24], peer: {name: p0}}
routes:
"""


@pytest.mark.parametrize("route", [
    "{to: 10.9.0.0/24, via: 10.1.0.1, netns: h1}",                 # on e0's network
    "{to: 10.9.0.0/24, via: 10.1.0.1, dev: e0, netns: h1}",        # through the named dev
    "{to: '2001:db8:9::/48', via: 'fe80::1', dev: e0, netns: h1}",       # link-local: any link
    "{to: 10.9.0.0/24, via: 198.51.100.1}",                        # host namespace: unknown
])
def test_reachable_gateways_pass(route: str) -> None:
    load_text(ROUTED + f"  - {route}\n")


def test_a_gateway_behind_a_device_route_of_the_file_passes() -> None:
    load_text(ROUTED + "  - {to: 10.7.0.0/24, dev: e0, netns: h1}\n"
                       "  - {to: 10.9.0.0/24, via: 10.7.0.1, netns: h1}\n")


def test_an_unreachable_gateway_is_one_issue_with_the_networks_there() -> None:
    with pytest.raises(TopologyError) as exc:
        load_text(ROUTED + "  - {to: 10.9.0.0/24, via: 10.7.0.1, netns: h1}\n")
    (issue,) = exc.value.issues
    assert issue.field == "routes[0].via"
    assert "10.1.0.0/24 on e0" in issue.message


def test_a_namespace_with_an_external_interface_is_not_judged() -> None:
    # an external interface's addresses are not all in the file: the gateway may be on one
    text = ROUTED.replace("interfaces:\n", "interfaces:\n  - {name: eth9, external: true, "
                          "netns: h1}\n") + "  - {to: 10.9.0.0/24, via: 10.7.0.1, netns: h1}\n"
    load_text(text)


def test_an_invalid_master_does_not_make_its_ports_report_a_missing_master() -> None:
    with pytest.raises(TopologyError) as exc:
        load_text("name: lab\ninterfaces:\n  - {name: br0, kind: bridge, mtu: 10}\n"
                  "  - {name: v0, kind: veth, peer: {name: v1, master: br0}}\n")
    assert [i.field for i in exc.value.issues] == ["interfaces[0].mtu"]
