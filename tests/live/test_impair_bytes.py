"""vnet's netem request against tc's own, byte for byte: what `tc qdisc add ... netem` sends
is read with strace (so no netem is needed: where the kernel lacks it, it refuses the request
tc has already sent), and its struct and every attribute tc sends are compared with
door/netem.py's encoding of the same impairment, the distribution table (which the kernel
never reports back) included."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from vnet.door.netem import _attrs, encode_netem
from vnet.features.impair import Impair

from .helpers import require_kind, sh

pytestmark = pytest.mark.kind("veth")

QOPT = 24  # struct tc_netem_qopt, before the attributes

CASES = [
    (["delay", "20ms", "5ms", "distribution", "pareto"],
     {"delay": "20ms", "jitter": "5ms", "distribution": "pareto"}),
    (["delay", "40ms", "5ms", "25%", "distribution", "normal", "loss", "2%", "25%"],
     {"delay": "40ms", "jitter": "5ms", "correlation": "25%", "distribution": "normal",
      "loss": "2% 25%"}),
    (["delay", "10ms", "reorder", "25%", "gap", "5", "loss", "1%", "ecn", "rate", "10mbit",
      "20", "48", "5"],
     {"delay": "10ms", "reorder": "25%", "gap": 5, "loss": "1%", "ecn": True,
      "rate": "10mbit", "packet_overhead": 20, "cell_size": 48, "cell_overhead": 5}),
]


def tc_options(args: list[str]) -> bytes:
    """The TCA_OPTIONS payload `tc qdisc add dev tcref0 root netem ARGS` sends."""
    proc = subprocess.run(["strace", "-e", "trace=sendmsg", "-xx", "-s", "70000", "tc",
                           "qdisc", "add", "dev", "tcref0", "root", "netem", *args],
                          capture_output=True, text=True, check=False, timeout=60)
    found = re.search(r'nla_type=TCA_OPTIONS\}, "((?:\\x[0-9a-f]{2})+)"', proc.stderr)
    assert found, f"no TCA_OPTIONS in tc's request: {proc.stderr[-2000:]}"
    return bytes(int(h, 16) for h in re.findall(r"\\x([0-9a-f]{2})", found.group(1)))


@pytest.mark.parametrize("args, fields", CASES, ids=["pareto", "normal-loss", "ecn-gap-rate"])
def test_netem_request_matches_tcs(args: list[str], fields: dict) -> None:
    require_kind("veth")
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (scripts/test-all.sh installs it)")
    sh("ip", "link", "add", "tcref0", "type", "veth", "peer", "name", "tcref1")
    theirs = tc_options(args)
    ours = encode_netem(Impair.model_validate(fields).netem_params())
    assert ours[:QOPT] == theirs[:QOPT]
    sent, mine = _attrs(theirs, QOPT), _attrs(ours, QOPT)
    assert sent, "tc sent no attribute"
    # vnet sends every attribute the kernel would keep from before; tc's are among them
    for kind, payload in sent.items():
        assert mine.get(kind) == payload, f"attribute {kind} differs from tc's"
