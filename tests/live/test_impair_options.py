"""impair's finer netem options on a kernel with netem: a `distribution` table (the kernel
keeps it but never reports it: the record does, re-apply plans nothing, a changed or dropped
table makes the netem again on the same link), and `ecn`, `gap` and the rate's overheads,
read back from the kernel exactly as tc sets them (compared with a netem tc made).

This machine's kernel has no netem: these skip here, and run in the kernel tier."""

from __future__ import annotations

import json
import re

import pytest

import vnet

from .helpers import sh
from .test_impair import ifindex, netem_of, pair, require_netem

pytestmark = pytest.mark.kind("veth")


def qdisc_text(netns: str, name: str) -> str:
    return sh("tc", "-s", "qdisc", "show", "dev", name, netns=netns)


def netem_options(netns: str | None, name: str) -> dict:
    """What `tc -j qdisc show` reads back of the root netem of `name`."""
    for q in json.loads(sh("tc", "-j", "qdisc", "show", "dev", name, netns=netns)):
        if q["kind"] == "netem" and q.get("root"):
            return dict(q["options"])
    raise AssertionError(f"no root netem on {name}")


def tc_made_netem(*args: str) -> dict:
    """The options of a netem `tc qdisc add ... netem ARGS` makes, on a veth of the test's own
    namespace: what vnet's netem must read back as."""
    sh("ip", "link", "add", "tcref0", "type", "veth", "peer", "name", "tcref1")
    try:
        sh("tc", "qdisc", "add", "dev", "tcref0", "root", "netem", *args)
        return netem_options(None, "tcref0")
    finally:
        sh("ip", "link", "del", "tcref0")


def test_a_distribution_is_kept_and_a_changed_table_makes_the_netem_again() -> None:
    require_netem()
    topo = vnet.load_text(pair("{delay: 20ms, jitter: 5ms, distribution: pareto}"))
    topo.apply()
    try:
        index = ifindex("na", "va")
        shown = qdisc_text("na", "va")
        assert re.search(r"netem .*delay 20ms\s+5ms", shown), shown
        assert netem_options("na", "va") == tc_made_netem("delay", "20ms", "5ms",
                                                          "distribution", "pareto")
        assert not topo.plan().has_changes  # the record knows the table
        # show and capture name it from the record too
        from vnet import api
        from vnet.capture import capture_owned
        shown = api.show_topology("imp")
        assert shown is not None
        [va] = [r for r in shown.interfaces if r.name == "va"]
        assert va.extra["impair"]["distribution"] == "pareto"
        kernel = api.open_kernel()
        try:
            [entry] = capture_owned("imp", kernel)["interfaces"]
        finally:
            kernel.close()
        assert entry["impair"] == {"delay": "20ms", "jitter": "5ms", "distribution": "pareto"}
        before = netem_of("na", "va")
        assert before is not None
        topo = vnet.load_text(pair("{delay: 20ms, jitter: 5ms, distribution: normal}"))
        plan = topo.plan()
        assert [(a.verb, a.subject) for a in plan.actions] == [
            ("replace", "netem on na/va"), ("replace", "netem on nb/vb")]
        assert "pareto -> normal" in plan.actions[0].reason
        topo.apply()
        after = netem_of("na", "va")
        assert after is not None and after["handle"] != before["handle"]  # a new netem
        assert ifindex("na", "va") == index  # on the same link
        assert not topo.plan().has_changes
        # dropped: made again without it; then the other values change in place
        topo = vnet.load_text(pair("{delay: 20ms, jitter: 5ms}"))
        assert [a.verb for a in topo.apply().actions] == ["replace", "replace"]
        assert not topo.plan().has_changes
        topo = vnet.load_text(pair("{delay: 30ms, jitter: 5ms}"))
        assert [a.verb for a in topo.apply().actions] == ["change", "change"]
        assert re.search(r"delay 30ms\s+5ms", qdisc_text("na", "va"))
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list") == ""


def test_ecn_gap_and_the_rates_overheads_read_back_as_tc_sets_them() -> None:
    require_netem()
    words = ("delay: 10ms, reorder: 25%, gap: 5, loss: 1%, ecn: true, rate: 10mbit, "
             "packet_overhead: 20, cell_size: 48, cell_overhead: 5")
    topo = vnet.load_text(pair("{" + words + "}"))
    topo.apply()
    try:
        assert netem_options("na", "va") == tc_made_netem(
            "delay", "10ms", "reorder", "25%", "gap", "5", "loss", "1%", "ecn",
            "rate", "10mbit", "20", "48", "5")
        shown = qdisc_text("na", "va")
        for text in ("gap 5", "ecn", "packetoverhead 20", "cellsize 48", "celloverhead 5"):
            assert text in shown, shown
        assert not topo.plan().has_changes
        topo = vnet.load_text(pair("{" + words.replace("gap: 5", "gap: 3").replace(
            ", ecn: true", "").replace("cell_size: 48", "cell_size: 53") + "}"))
        plan = topo.apply()
        assert [a.verb for a in plan.actions] == ["change", "change"]
        assert plan.actions[0].diff == {"gap": (5, 3), "ecn": (True, None),
                                        "cell_size": (48, 53)}
        shown = qdisc_text("na", "va")
        assert "gap 3" in shown and "cellsize 53" in shown and "ecn" not in shown, shown
        assert not topo.plan().has_changes
    finally:
        topo.destroy()


def test_vnet_impair_ingress_goes_through_an_ifb_it_makes_and_clears() -> None:
    import os
    import subprocess
    import sys

    from vnet import api

    from .test_impair import assert_rtt
    require_netem()
    topo = vnet.load_text(pair())
    topo.apply()
    try:
        index = ifindex("na", "va")
        done = api.impair("imp", "na/va", {"delay": "30ms", "direction": "ingress"})
        assert not isinstance(done, list)
        assert [(a.verb, a.subject) for a in done.actions] == [
            ("create", "link na/ifbva (ifb)"), ("create", "netem on na/ifbva"),
            ("create", "ingress redirect na/va -> ifbva")]
        assert_rtt("na", "192.0.2.2", 30)  # the replies va receives
        assert netem_of("na", "va") is None and netem_of("na", "ifbva") is not None
        # the file has no such IFB: the plan shows the drift
        assert ("remove", "link na/ifbva (ifb)") in [(a.verb, a.subject)
                                                     for a in topo.plan().actions]
        vnet_cli = os.path.join(os.path.dirname(sys.executable), "vnet")
        run = subprocess.run([vnet_cli, "impair", "imp", "na/va", "--direction", "both",
                              "--delay", "10ms"], capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stderr
        assert_rtt("na", "192.0.2.2", 20)  # 10 ms out of va, 10 ms into it
        assert ifindex("na", "va") == index
        run = subprocess.run([vnet_cli, "impair", "imp", "na/va", "--direction", "both",
                              "--clear"], capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stderr
        assert netem_of("na", "va") is None
        assert "ifbva" not in sh("ip", "-o", "link", "show", netns="na")
        assert not topo.plan().has_changes
    finally:
        topo.destroy()
    assert sh("ip", "netns", "list") == ""
