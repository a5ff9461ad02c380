"""`vnet draw` shows impairments where they are: on a pair's cable (once when both ends have
the same), on the node of any other interface, with `(in)` for what it receives."""

from __future__ import annotations

import vnet
from vnet.features.netem_words import short_label
from vnet.render.draw import dot, mermaid

FILE = """\
name: d
namespaces: [na, nb]
interfaces:
  - name: va
    kind: veth
    netns: na
    IMPAIR
    peer: {name: vb, netns: nb PEER}
  - {name: tap0, kind: tap, netns: na, impair: {rate: 10mbit, direction: ingress}}
"""


def draw(impair: str = "", peer: str = "") -> str:
    text = FILE.replace("IMPAIR", f"impair: {impair}" if impair else "")
    return dot(vnet.load_text(text.replace("PEER", f", impair: {peer}" if peer else "")))


def test_the_short_label_says_the_heart_of_it() -> None:
    assert short_label({"delay": "40ms", "loss": "2% 25%"}) == "40ms 2% loss"
    assert short_label({"delay": "40ms", "jitter": "5ms", "duplicate": 1, "rate": "1mbit",
                        "loss_model": "gemodel 1%", "slot": "1ms"}) == \
        "40ms±5ms bursty loss 1% dup 1mbit slotted"


def test_a_pair_alike_on_both_ends_says_it_once() -> None:
    out = draw("{delay: 40ms, loss: 2%}")
    assert '"na/va" -> "nb/vb" [dir=none, penwidth=2, color="#444444", ' \
           'label="40ms 2% loss each way"]' in out


def test_each_end_of_a_pair_says_its_own() -> None:
    out = draw("{delay: 40ms}", "{loss: 1%}")
    assert 'label="va: 40ms; vb: 1% loss"' in out
    out = draw(peer="{loss: 1%}")
    assert 'label="vb: 1% loss"' in out


def test_an_unimpaired_pair_has_no_label_and_another_interface_a_line() -> None:
    out = draw()
    assert '"na/va" -> "nb/vb" [dir=none, penwidth=2, color="#444444"];' in out
    assert "impaired: 10mbit (in)" in out  # the tap's node
    assert "impaired: 10mbit (in)" in mermaid(vnet.load_text(
        FILE.replace("IMPAIR", "").replace("PEER", "")))
