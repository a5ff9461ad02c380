"""Coverage of each kind measured, not claimed: every option iproute2's own help prints for a
kind (`ip link add type KIND help`; `ip tuntap help` for tun and tap) is an option `vnet kinds
KIND` lists, or is listed with its reason in docs/options.md's `<!-- left-out: KIND -->`
table. A left-out entry that the kind accepts, or that ip no longer prints, fails too.

The help is a small grammar: `[ ttl TTL ]`, `[ [no]learning ]`, `[ { group | remote } IP ]`,
`[ replay { on | off } window { 0..2^32-1 } ]`, `[ FLAGS ]` with `FLAGS: bridge | private`.
An option is a lowercase word where an option may stand; what follows an option up to the
next option (a placeholder, `{ on | off }`, `active-backup`, `l2`) is its value."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from vnet import kinds
from vnet.kind_options import option_rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "options.md"

#: the kinds measured, and the help that prints their options (the bridge, bond, vlan and
#: team are added by their own work)
KINDS = ["bridge", "vlan", "bond", "vxlan", "geneve", "macvlan", "macvtap", "ipvlan", "ipvtap",
         "macsec", "ipoib", "veth", "vxcan", "tun", "tap"]
_TUNTAP = ["ip", "tuntap", "help"]

pytestmark = pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 is not installed")

_TOKEN = re.compile(r"\[no\]|[\[\]{}|]|[^\s\[\]{}|]+")
_OPTION = re.compile(r"[a-z][a-z0-9_-]*")
_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_-]*")


def help_text(kind: str) -> str:
    """What ip prints when asked for `kind`'s help (it prints it on stdout or stderr)."""
    argv = _TUNTAP if kind in ("tun", "tap") else ["ip", "link", "add", "type", kind, "help"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.stdout + proc.stderr


def _usage(text: str, kind: str) -> str:
    """The usage block: the Usage line and the indented lines that continue it, from the word
    after which options stand (the kind's name; for tuntap, after its list of commands)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Usage:")), None)
    if start is None:
        return ""
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line[:1].isspace() or not line.strip():
            break
        block.append(line)
    usage = "\n".join(block)
    marker = re.search(r"tuntap \{[^}]*\}" if kind in ("tun", "tap") else rf"\b{kind}\b", usage)
    return usage[marker.end():] if marker else ""


def _definitions(text: str) -> dict[str, str]:
    """`NAME: a | b` and `NAME := a | b` lines (and their indented continuations)."""
    found: dict[str, str] = {}
    name = None
    for line in text.splitlines():
        head = re.match(r"^([A-Z][A-Z0-9_-]*)\s*:=?\s*(.*)$", line)
        if head and not line.startswith("Usage"):
            name = head.group(1)
            # "for mode "source":" says when the definition applies, it is no option
            found[name] = re.sub(r'^for [^:]*:', "", head.group(2)).strip()
        elif name and line[:1].isspace() and line.strip():
            found[name] += " " + line.strip()
        else:
            name = None
    return found


def printed_options(text: str, kind: str) -> set[str]:
    """The option words of `kind`'s help text `text`."""
    definitions = _definitions(text)
    options: set[str] = set()

    def walk(tokens: list[str], expect: str) -> str:
        groups: list[str] = []  # each open group: "opt" (alternatives are options) or "val"
        for token in tokens:
            in_value = "val" in groups
            if token in ("[", "{"):
                groups.append("val" if in_value or expect == "val" else "opt")
                expect = "val" if groups[-1] == "val" else "opt"
            elif token in ("]", "}"):
                closed = groups.pop() if groups else "opt"
                if closed == "val" or token == "]":
                    expect = "opt"
            elif token == "|":
                if groups and groups[-1] == "opt" and not in_value:
                    expect = "opt"
            elif token == "[no]":
                expect = "opt"
            elif in_value:
                continue
            elif expect == "opt" and _OPTION.fullmatch(token):
                options.add(token)
                expect = "val"
            elif expect == "opt" and _PLACEHOLDER.fullmatch(token):
                # a placeholder where an option stands is a list of options (ipvlan's FLAGS)
                if token in definitions:
                    walk(["{", *_TOKEN.findall(definitions[token]), "}"], "opt")
            else:
                expect = "opt"  # a value: an option may follow
        return expect

    walk(_TOKEN.findall(_usage(text, kind)), "opt")
    return options


def left_out(kind: str) -> dict[str, str]:
    """docs/options.md's table of what `kind` deliberately leaves out: option -> reason."""
    text = DOC.read_text()
    marker = f"<!-- left-out: {kind} -->"
    if marker not in text:
        return {}
    block = text.split(marker, 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1:3] for line in block.splitlines()[2:] if line.startswith("| ")]
    return {name.strip().strip("`"): why.strip() for name, why in rows}


def accepted(kind: str) -> set[str]:
    """The options `vnet kinds KIND` lists, and ip's words for those it spells otherwise."""
    cls = kinds.lookup(kind)
    names = {row.name for row in option_rows(cls)} | {"kind"}
    return names | {word for word, field in cls.ip_words.items() if field in names}


@pytest.mark.parametrize("kind", KINDS)
def test_every_option_ip_prints_for_the_kind_is_accepted_or_left_out_with_a_reason(
        kind: str) -> None:
    text = help_text(kind)
    printed = printed_options(text, kind)
    assert printed, f"ip printed no options for {kind}: {text[:300]}"
    skipped = left_out(kind)
    assert all(skipped.values()), f"docs/options.md: a {kind} entry without its reason"
    takes = accepted(kind)
    missing = sorted(o for o in printed
                     if o not in takes and o.replace("-", "_") not in takes and o not in skipped)
    assert not missing, (f"{kind}: iproute2 prints {missing}, which the file does not accept "
                         f"and docs/options.md's `left-out: {kind}` table does not list")
    stale = sorted(o for o in skipped if o in takes or o.replace("-", "_") in takes)
    assert not stale, f"docs/options.md lists {stale} as left out of {kind}, but it accepts them"
    gone = sorted(o for o in skipped if o not in printed)
    assert not gone, f"docs/options.md lists {gone} as left out of {kind}; ip prints no such option"


@pytest.mark.parametrize("kind", KINDS)
def test_ip_words_name_fields_of_the_kind(kind: str) -> None:
    cls = kinds.lookup(kind)
    names = {row.name for row in option_rows(cls)} | {"kind"}
    assert set(cls.ip_words.values()) <= names, cls.ip_words


#: help texts of iproute2 6.1 in each of the shapes the parser meets, and what it finds
_SHAPES = [
    ("Usage: ... vxlan id VNI\n\t\t[ { group | remote } IP_ADDRESS ]\n\t\t[ [no]learning ]\n"
     "\t\t[ srcport MIN MAX ]\n\t\t[ [no]remcsumtx ] [ [no]remcsumrx ]\n\t\t[ [no]external ] "
     "[ gbp ] [ gpe ]\n\nWhere:\tTTL\t:= { 1..255 | auto | inherit }\n",
     "vxlan", {"id", "group", "remote", "learning", "srcport", "remcsumtx", "remcsumrx",
               "external", "gbp", "gpe"}),
    ("Usage: ... geneve id VNI\n\t\tremote ADDR\n\t\t[ ttl TTL ]\n", "geneve",
     {"id", "remote", "ttl"}),
    ("Usage: ... macvlan mode MODE [flag MODE_FLAG] MODE_OPTS [bcqueuelen BC_QUEUE_LEN]\n\n"
     "MODE: private | vepa | bridge | passthru | source\nMODE_FLAG: null | nopromisc | nodst\n"
     'MODE_OPTS: for mode "source":\n\tmacaddr { { add | del } <macaddr> | set [ <macaddr> '
     "[ <macaddr>  ... ] ] | flush }\nBC_QUEUE_LEN: Length of the rx queue: [0-4294967295]\n",
     "macvlan", {"mode", "flag", "macaddr", "bcqueuelen"}),
    ("Usage: ... ipvlan [ mode MODE ] [ FLAGS ]\n\nMODE: l3 | l3s | l2\n"
     "FLAGS: bridge | private | vepa\n", "ipvlan", {"mode", "bridge", "private", "vepa"}),
    ('macsec: unknown command "help"?\nUsage: ... macsec [ [ address <lladdr> ] port '
     "{ 1..2^16-1 } | sci <u64> ]\n                  [ cipher { default | gcm-aes-128 } ]\n"
     "                  [ replay { on | off} window { 0..2^32-1 } ]\n", "macsec",
     {"address", "port", "sci", "cipher", "replay", "window"}),
    ("Usage: ... bond [ mode BONDMODE ] [ active_slave SLAVE_DEV ]\n"
     "                [ clear_active_slave ] [ miimon MIIMON ]\n"
     "                [ arp_ip_target [ ARP_IP_TARGET, ... ] ]\n"
     "                [ num_grat_arp|num_unsol_na NUM_GRAT_ARP|NUM_UNSOL_NA ]\n\n"
     "BONDMODE := balance-rr|active-backup\n", "bond",
     {"mode", "active_slave", "clear_active_slave", "miimon", "arp_ip_target", "num_grat_arp",
      "num_unsol_na"}),
    ("Usage: ... vlan id VLANID\n\t\t[ reorder_hdr { on | off } ]\n"
     "\t\t[ ingress-qos-map QOS-MAP ]\n\nVLANID := 0-4095\n", "vlan",
     {"id", "reorder_hdr", "ingress-qos-map"}),
    ("Usage: ip link <options> type veth [peer <options>]\nTo get <options> type "
     "'ip link add help'\n", "veth", {"peer"}),
    ("Usage: ip tuntap { add | del | show | list | lst | help } [ dev PHYS_DEV ]\n"
     "       [ mode { tun | tap } ] [ user USER ] [ one_queue ] [ name NAME ]\n\n"
     "Where: USER  := { STRING | NUMBER }\n", "tap",
     {"dev", "mode", "user", "one_queue", "name"}),
]


@pytest.mark.parametrize(("text", "kind", "options"), _SHAPES)
def test_the_parser_finds_options_and_not_their_values(text: str, kind: str,
                                                       options: set[str]) -> None:
    assert printed_options(text, kind) == options


def test_an_option_no_kind_accepts_is_found_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # the check can fail: a help text that prints an option ipoib does not take is reported
    text = "Usage: ... ipoib [ pkey PKEY ]\n\t\t [ mode {datagram | connected} ]\n" \
           "\t\t [ shiny_new_option N ]\n"
    printed = printed_options(text, "ipoib")
    assert "shiny_new_option" in printed
    assert "shiny_new_option" not in accepted("ipoib") | set(left_out("ipoib"))
