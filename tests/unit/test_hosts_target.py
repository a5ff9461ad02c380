"""What the Ansible module does on its target (vnet.hosts.target), against the fake kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from vnet.door.fake import FakeKernel
from vnet.errors import TopologyError
from vnet.hosts.target import converge, load

SOLO = {"name": "solo", "namespaces": ["n1"],
        "interfaces": [{"name": "v1", "kind": "veth", "netns": "n1",
                        "addresses": ["192.0.2.1/24"], "peer": {"name": "v1h"}}]}


def test_check_mode_plans_and_changes_nothing_then_apply_then_absent(
        fake: FakeKernel) -> None:
    topo = load(topology=SOLO)
    checked = converge("present", topo, check=True)
    assert checked.changed and not checked.failed and checked.existed is False
    assert checked.plan_text.startswith("Plan for solo: ")
    assert "+ create  namespace n1" in checked.plan_text
    assert checked.as_result()["diff"] == {"prepared": checked.plan_text}
    assert converge("present", topo, check=True).changed  # still nothing made
    applied = converge("present", topo)
    assert applied.changed and applied.plan == checked.plan
    again = converge("present", topo)
    assert not again.changed and again.existed is True
    assert converge("absent", name="solo", check=True).changed
    gone = converge("absent", topo)
    assert gone.changed and not converge("absent", name="solo").changed
    assert not converge("absent", name="solo", check=True).changed


def test_yaml_text_and_a_file_load_too(tmp_path: Path) -> None:
    text = "name: t\ninterfaces:\n  - {name: b0, kind: bridge}\n"
    assert load(topology=text).name == "t"
    path = tmp_path / "t.yaml"
    path.write_text(text)
    assert load(src=str(path)).name == "t"
    with pytest.raises(TopologyError):
        load(topology="name: t\ninterfaces: 3\n")


def test_a_vnet_error_is_a_failed_outcome_with_vnets_message(fake: FakeKernel) -> None:
    spanning = load(topology={**SOLO, "hosts": [{"name": "a", "underlay": "198.51.100.1"},
                                                {"name": "b", "underlay": "198.51.100.2"}],
                              "namespaces": [{"name": "n1", "host": "a"}],
                              "interfaces": [{**SOLO["interfaces"][0], "peer": {  # type: ignore[dict-item]
                                  "name": "v1h", "host": "a"}}]})
    outcome = converge("present", spanning)
    assert outcome.failed and not outcome.changed
    assert "one host cannot apply it alone" in outcome.as_result()["msg"]


def test_one_host_does_not_check_a_file_that_spans_hosts() -> None:
    from vnet import api
    topo = load(topology={"name": "x", "hosts": [{"name": "a", "underlay": "198.51.100.1"},
                                                 {"name": "b", "underlay": "198.51.100.2"}],
                          "namespaces": [{"name": "n1", "host": "a"}]})
    with pytest.raises(TopologyError, match="one host cannot check it alone") as info:
        api.check(topo)
    assert "checks across hosts are not run yet" in str(info.value)
