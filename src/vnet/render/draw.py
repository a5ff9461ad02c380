"""A picture of a topology: Graphviz dot text and Mermaid text, from the model alone.

`dot(topo)` and `mermaid(topo)` draw one loaded `Topology` (a file's, or a live one that
`vnet.capture` read back); `compare(file, live)` finds what differs between a file and the
live topology, and both drawings take that `Diff` to mark it. `choose_format` picks the
output format of `vnet draw`. Pure: no kernel, no programs (svg and png are made from the dot
text by `vnet.render_image`), no printing. Stable: the same topology gives the same text byte
for byte (declaration order, no random ids, no dates), so golden files can hold it.

What the picture shows:

- one cluster per namespace: the namespace vnet runs in (labelled as the host) first, then
  the declared namespaces in the file's order, then any other named by an interface;
- one node per interface end (`Topology.endpoints()`: a veth is two), with its name, kind and
  addresses, filled with its kind's colour (`KIND_COLOURS`), greyed when it is down;
- external interfaces (`Topology.externals`) in a dashed box of their namespace: not vnet's;
- edges: the two ends of a pair (kinds with `paired`) as a cable, master -> port (`master`),
  stacked -> parent (each kind's `parent()` in `parent_netns()`), and what a kind adds itself
  through `draw_edges()` (a tunnel to its remote, a node for the address outside every
  namespace; an IFB from the interfaces whose ingress it takes);
- a name an interface refers to that the topology does not describe gets a dashed node;
- a legend of the kinds, looks and edges the picture uses.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from ..datatypes import datatype, field
from ..errors import VnetError
from ..kinds.base import Common
from ..model import External
from ..topology import Topology

#: (namespace, interface name); namespace None is the one vnet runs in
Key = tuple[str | None, str]

FORMATS = ("svg", "png", "dot", "mermaid")
#: formats that are not text: written to a file only
BINARY = ("png",)
SUFFIXES = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid",
            ".mermaid": "mermaid"}

#: fill colour of each kind's nodes; kinds of one family have neighbouring colours
KIND_COLOURS = {
    "bridge": "#a6cee3", "bond": "#b2df8a", "team": "#d9f0a3",
    "veth": "#fdbf6f", "vxcan": "#fee0b6", "vcan": "#f1e2cc",
    "vlan": "#cab2d6", "macsec": "#e0b0ff",
    "macvlan": "#fb9a99", "macvtap": "#fccde5", "ipvlan": "#ffff99", "ipvtap": "#f0e68c",
    "vxlan": "#80b1d3", "geneve": "#8dd3c7",
    "ifb": "#e5d8bd", "tun": "#d8b5a5", "tap": "#c7e9c0",
    "nlmon": "#ccece6", "dummy": "#e0e0ff", "ipoib": "#a1d99b",
}
#: colours for a kind missing from KIND_COLOURS, picked by a CRC of its name (stable)
SPARE_COLOURS = ("#ffcc99", "#99ccff", "#cc99ff", "#99ffcc", "#ff99cc", "#ccff99")
DOWN_FILL, DOWN_TEXT, DOWN_LINE = "#eeeeee", "#888888", "#aaaaaa"
DIFF_COLOUR = "#d62728"
LINE, TEXT, PORT_COLOUR, REMOTE_COLOUR, LINK_COLOUR = (
    "#555555", "#000000", "#1f78b4", "#ff7f00", "#6a3d9a")
HOST_LABEL = "host: the namespace vnet runs in"
FONT = "Helvetica"

#: the legend's words for each look of a node (in the legend's order) and each edge
STYLE_WORDS = {
    "external": "external: not vnet's",
    "down": "down",
    "placeholder": "named, not described here",
    "changed": "differs from the file",
    "only_live": "live, not in the file",
    "ghost": "in the file, not live",
}
EDGE_WORDS = {
    "pair": "── pair: the two ends of one link",
    "port": "→ master to its port",
    "parent": "⇢ on: stacked on its parent",
}


def colour_of(kind: str) -> str:
    """The fill colour of a kind's nodes."""
    return KIND_COLOURS.get(kind) or SPARE_COLOURS[zlib.crc32(kind.encode()) % len(SPARE_COLOURS)]


def choose_format(fmt: str | None, output: str | None) -> str:
    """`vnet draw`'s format: `--format`, else the suffix of `-o` (a name without one: dot),
    else dot. png needs `-o`; svg is text (XML) and, like dot and mermaid, may go to standard
    output."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise VnetError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    elif output is not None and PurePath(output).suffix:
        suffix = PurePath(output).suffix.lower()
        if suffix not in SUFFIXES:
            raise VnetError(f"cannot tell the format from {output!r}: give --format "
                            f"{'|'.join(FORMATS)}, or a name ending in "
                            f"{' '.join(SUFFIXES)}")
        fmt = SUFFIXES[suffix]
    else:
        fmt = "dot"
    if fmt in BINARY and output is None:
        raise VnetError(f"vnet draw --format {fmt} writes binary data, not text: give "
                        f"-o FILE.{fmt}")
    return fmt


# ---- the file against the live topology --------------------------------------------------------

@datatype(frozen=True)
class Diff:
    """What differs between a topology's file and the live topology (as `compare` finds it)."""

    #: interfaces in both, with one line per difference ("state: file up, live down")
    changed: dict[Key, tuple[str, ...]] = field(default_factory=dict)
    #: live interfaces the file does not have
    only_live: frozenset[Key] = frozenset()
    #: the file's interfaces that are not live, in the file's order (drawn as ghosts)
    only_file: tuple[Common, ...] = ()
    netns_only_live: frozenset[str] = frozenset()
    netns_only_file: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.changed or self.only_live or self.only_file or self.netns_only_live
                    or self.netns_only_file)


def _words(values: Sequence[str] | str | int | None) -> str:
    if values is None or values == []:
        return "-"
    if isinstance(values, (list, tuple)):
        return ", ".join(values)
    return str(values)


def _differences(mine: Common, live: Common, external: bool) -> list[str]:
    out = []

    def differ(what: str, want: Any, have: Any) -> None:
        out.append(f"{what}: file {_words(want)}, live {_words(have)}")

    want_kind = getattr(mine, "kind", None)
    if want_kind is not None and want_kind != getattr(live, "kind", None):
        differ("kind", want_kind, getattr(live, "kind", None))
    if external:  # only what the file sets on it: the rest is not vnet's
        missing = [a for a in mine.addresses if a not in live.addresses]
        if missing:
            differ("addresses", mine.addresses, live.addresses)
    elif sorted(mine.addresses) != sorted(live.addresses):
        differ("addresses", mine.addresses, live.addresses)
    if mine.state is not None and (mine.state or "up") != (live.state or "up"):
        differ("state", mine.state, live.state or "up")
    if (mine.master is not None or not external) and mine.master != live.master:
        differ("master", mine.master, live.master)
    if mine.mtu is not None and mine.mtu != live.mtu:
        differ("mtu", mine.mtu, live.mtu)
    return out


def compare(file: Topology, live: Topology) -> Diff:
    """What differs between a topology's file and the live topology: interfaces only in one of
    them, and for those in both their kind, addresses, state, master and (when the file sets
    it) MTU. External interfaces are compared when both list them."""
    theirs: dict[Key, Common] = {e.key: e for e in live.endpoints()}
    their_ext: dict[Key, External] = {e.key: e for e in live.externals}
    changed: dict[Key, tuple[str, ...]] = {}
    only_file: list[Common] = []
    mine_keys = set()
    for end in file.endpoints():
        mine_keys.add(end.key)
        other = theirs.get(end.key)
        if other is None:
            only_file.append(end)
            continue
        found = _differences(end, other, external=False)
        if found:
            changed[end.key] = tuple(found)
    for ext in file.externals:
        mine_keys.add(ext.key)
        other_ext = their_ext.get(ext.key) or theirs.get(ext.key)
        if other_ext is not None:
            found = _differences(ext, other_ext, external=True)
            if found:
                changed[ext.key] = tuple(found)
    only_live = frozenset(k for k in theirs if k not in mine_keys)
    return Diff(changed=changed, only_live=only_live, only_file=tuple(only_file),
                netns_only_live=frozenset(n for n in live.namespaces
                                          if n not in file.namespaces),
                netns_only_file=tuple(n for n in file.namespaces if n not in live.namespaces))


# ---- the scene: what is drawn, for both languages ---------------------------------------------

@datatype
class _Node:
    id: str
    netns: str | None
    lines: list[str]
    #: iface, external, placeholder, ghost, remote (outside every namespace), empty
    role: str
    kind: str = ""
    down: bool = False
    mark: str = ""  # "", "changed", "only_live"
    listed: int = 0  # the kind's place in `vnet kinds`: the legend's order


@datatype(frozen=True)
class _Edge:
    tail: str
    head: str
    style: str  # pair, port, parent, remote, link
    label: str = ""


@datatype
class _Scene:
    title: str
    clusters: list[tuple[str | None, str]]
    nodes: list[_Node]
    edges: list[_Edge]
    kinds: list[str]
    looks: list[str]
    edge_words: list[tuple[str, str]]  # (style, legend words)


def _id(netns: str | None, name: str) -> str:
    # interface and namespace names hold no '/' and no whitespace: these ids never collide
    return f"{netns}/{name}" if netns else name


def _remote_id(address: str) -> str:
    return f"remote {address}"


def _holders(topo: Topology) -> dict[str, str]:
    """Bare address -> the interface of the topology that holds it (first in order)."""
    out: dict[str, str] = {}
    for end in [*topo.endpoints(), *topo.externals]:
        for addr in end.addresses:
            out.setdefault(addr.split("/")[0], _id(end.netns, end.name))
    return out


#: how an impairment's direction reads after its label
_DIRECTION_WORDS = {"egress": "", "ingress": " (in)", "both": " (in+out)"}


def impair_label(item: Any) -> str:
    """The short label of an interface's `impair:` (`40ms 2% loss`; `(in)` when it is
    what the interface receives), or "" when it has none."""
    impair = getattr(item, "impair", None)
    if impair is None:
        return ""
    from ..features.netem_words import short_label
    return short_label(impair.model_dump(exclude_none=True)) \
        + _DIRECTION_WORDS.get(impair.direction, "")


def _pair_label(one: Any, other: Any) -> str:
    """The label of a pair's cable: its impairment, once when both ends have the same."""
    mine, theirs = impair_label(one), impair_label(other)
    if mine and mine == theirs:
        return f"{mine} each way"
    return "; ".join(f"{end.name}: {text}" for end, text in ((one, mine), (other, theirs))
                     if text)


def _scene(topo: Topology, diff: Diff | None, title: str | None) -> _Scene:
    nodes: dict[str, _Node] = {}
    edges: dict[_Edge, None] = {}
    edge_words: dict[str, str] = {}
    ends = topo.endpoints()
    changed = diff.changed if diff else {}
    only_live = diff.only_live if diff else frozenset()

    def iface_node(item: Common, role: str, kind: str, first: list[str]) -> None:
        nid = _id(item.netns, item.name)
        if nid in nodes:
            return  # a topology that did not validate: the first one is drawn
        key = (item.netns, item.name)
        lines = [item.name, *first, *item.addresses]
        if not getattr(item, "paired", False) and impair_label(item):
            # a pair's impairment labels its cable; any other interface's is on its node
            lines.append(f"impaired: {impair_label(item)}")
        down = item.state == "down"
        if down:
            lines.append("down")
        mark = ""
        if key in changed:
            mark = "changed"
            lines += [f"≠ {line}" for line in changed[key]]
        elif key in only_live:
            mark = "only_live"
            lines.append("not in the file")
        nodes[nid] = _Node(nid, item.netns, lines, role, kind, down, mark,
                           getattr(type(item), "listed", 0))

    for end in ends:
        iface_node(end, "iface", end.kind_name or end.kind, [end.kind_name or end.kind])
    for ext in topo.externals:
        iface_node(ext, "external", "", [ext.kind or "external"])
    for ghost in (diff.only_file if diff else ()):
        nid = _id(ghost.netns, ghost.name)
        if nid not in nodes:
            kind = getattr(ghost, "kind", None)
            nodes[nid] = _Node(nid, ghost.netns, [ghost.name, *([kind] if kind else []),
                                                  *ghost.addresses, "in the file, not live"],
                               "ghost")

    def target(netns: str | None, name: str) -> str:
        nid = _id(netns, name)
        if nid not in nodes:
            nodes[nid] = _Node(nid, netns, [name, "not described here"], "placeholder")
        return nid

    def add(edge: _Edge, words: str) -> None:
        edges.setdefault(edge, None)
        edge_words.setdefault(edge.style if edge.style in EDGE_WORDS else
                              f"{edge.style} {edge.label}", words)

    holders = _holders(topo)
    by_key = {(end.netns, end.name): end for end in ends}
    for end in ends:  # pairs: the end made by its twin, to its twin, labelled by impairments
        if end.paired and end.created_by is not None:
            twin = by_key.get(end.created_by)
            label = _pair_label(twin, end) if twin is not None else impair_label(end)
            add(_Edge(target(*end.created_by), _id(end.netns, end.name), "pair", label),
                EDGE_WORDS["pair"])
    for item in [*ends, *topo.externals]:
        if item.master:
            add(_Edge(target(item.netns, item.master), _id(item.netns, item.name), "port"),
                EDGE_WORDS["port"])
    for end in ends:
        me = _id(end.netns, end.name)
        parent = end.parent()
        if parent:
            add(_Edge(me, target(end.parent_netns(), parent), "parent", "on"),
                EDGE_WORDS["parent"])
        for extra in end.draw_edges():
            if extra.address is not None:
                rid = _remote_id(extra.address)
                if rid not in nodes:
                    held = holders.get(extra.address)
                    nodes[rid] = _Node(rid, None, [extra.address, f"held by {held}" if held
                                                   else "outside the topology"], "remote")
                other, style, arrow = rid, "remote", "⇢"
            elif extra.name is not None:
                other, style, arrow = target(extra.netns, extra.name), "link", "→"
            else:
                continue
            tail, head = (other, me) if extra.inward else (me, other)
            add(_Edge(tail, head, style, extra.label), f"{arrow} {extra.label}: {extra.meaning}")

    # namespaces: the host first, the declared ones in order, the file's own not live, others
    named: list[str | None] = []
    if any(n.netns is None for n in nodes.values() if n.role != "remote"):
        named.append(None)
    named += topo.namespaces
    named += [n for n in (diff.netns_only_file if diff else ()) if n not in named]
    named += sorted({n.netns for n in nodes.values() if n.netns is not None
                     and n.role != "remote"} - set(named), key=str)
    clusters: list[tuple[str | None, str]] = []
    for ns in named:
        if ns is None:
            label = HOST_LABEL
        elif diff and ns in diff.netns_only_file:
            label = f"netns {ns}: in the file, not live"
        elif diff and ns in diff.netns_only_live:
            label = f"netns {ns}: not in the file"
        elif ns in topo.namespaces:
            label = f"netns {ns}"
        else:
            label = f"netns {ns} (not vnet's)"
        clusters.append((ns, label))
        if not any(n.netns == ns and n.role != "remote" for n in nodes.values()):
            eid = f"netns {ns} empty"
            nodes[eid] = _Node(eid, ns, ["(no interfaces)"], "empty")

    node_list = list(nodes.values())
    kinds = [kind for _, kind in sorted({(n.listed, n.kind) for n in node_list
                                         if n.role == "iface"})]
    present = {n.role for n in node_list} | {n.mark for n in node_list} | \
        ({"down"} if any(n.down for n in node_list) else set())
    looks = [look for look in STYLE_WORDS if look in present]
    return _Scene(title if title is not None else topo.name, clusters, node_list, list(edges),
                  kinds, looks, list(edge_words.items()))


# ---- Graphviz dot ---------------------------------------------------------------------------

def _q(text: str) -> str:
    """A dot double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _attrs(pairs: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs.items())


def _html_lines(node: _Node) -> str:
    """A node's label as a Graphviz HTML label: the name in bold, differences in red."""
    out = []
    for i, line in enumerate(node.lines):
        text = _html(line)
        if i == 0 and node.role != "empty":
            text = f"<b>{text}</b>"
        elif line.startswith("≠ "):
            text = f'<font color="{DIFF_COLOUR}">{text}</font>'
        out.append(text)
    return "<" + "<br/>".join(out) + ">"


def _dot_node(node: _Node) -> str:
    a: dict[str, str] = {"label": _html_lines(node)}
    if node.role == "iface":
        a["fillcolor"] = _q(colour_of(node.kind))
    elif node.role == "external":
        a["style"] = _q("rounded,dashed,filled")
        a["fillcolor"] = _q("#ffffff")
    elif node.role == "placeholder":
        a["style"] = _q("rounded,dashed")
        a["color"] = _q(DOWN_LINE)
        a["fontcolor"] = _q(DOWN_TEXT)
    elif node.role == "ghost":
        a["style"] = _q("rounded,dotted")
        a["color"] = _q(DIFF_COLOUR)
        a["fontcolor"] = _q(DIFF_COLOUR)
    elif node.role == "remote":
        a["shape"] = "ellipse"
        a["style"] = _q("dashed")
        a["color"] = _q(REMOTE_COLOUR)
    elif node.role == "empty":
        a["shape"] = "plaintext"
        a["fontcolor"] = _q(DOWN_TEXT)
    if node.down:
        a["fillcolor"] = _q(DOWN_FILL)
        a["fontcolor"] = _q(DOWN_TEXT)
        a["color"] = _q(DOWN_LINE)
    if node.mark:
        a["color"] = _q(DIFF_COLOUR)
        a["penwidth"] = "2.5"
    return f"{_q(node.id)} [{_attrs(a)}];"


_DOT_EDGE = {
    "pair": {"dir": "none", "penwidth": "2", "color": _q("#444444")},
    "port": {"color": _q(PORT_COLOUR)},
    "parent": {"style": "dashed"},
    "remote": {"style": "dashed", "color": _q(REMOTE_COLOUR), "fontcolor": _q(REMOTE_COLOUR)},
    "link": {"style": "dotted", "penwidth": "1.5", "color": _q(LINK_COLOUR),
             "fontcolor": _q(LINK_COLOUR)},
}


def _dot_legend(sc: _Scene) -> list[str]:
    rows = ['<tr><td colspan="2"><b>legend</b></td></tr>']
    for kind in sc.kinds:
        rows.append(f'<tr><td bgcolor="{colour_of(kind)}" width="24"> </td>'
                    f'<td align="left">{_html(kind)}</td></tr>')
    look_cell = {"external": '<td border="1" style="dashed" bgcolor="#ffffff"> </td>',
                 "down": f'<td bgcolor="{DOWN_FILL}"> </td>',
                 "placeholder": '<td border="1" style="dashed"> </td>',
                 "changed": f'<td border="3" color="{DIFF_COLOUR}"> </td>',
                 "only_live": f'<td border="3" color="{DIFF_COLOUR}"> </td>',
                 "ghost": f'<td border="1" style="dotted" color="{DIFF_COLOUR}"> </td>'}
    for look in sc.looks:
        rows.append(f'<tr>{look_cell[look]}<td align="left">{_html(STYLE_WORDS[look])}</td></tr>')
    for style, words in sc.edge_words:
        colour = _DOT_EDGE[style.split()[0]].get("color", _q(LINE))
        rows.append(f'<tr><td colspan="2" align="left"><font color={colour}>{_html(words)}'
                    "</font></td></tr>")
    table = ('<table border="0" cellborder="0" cellspacing="2" cellpadding="2">'
             + "".join(rows) + "</table>")
    return [f'  "vnet legend" [shape=box, style="rounded", color={_q(DOWN_LINE)}, '
            f'label=<{table}>];']


def dot(topo: Topology, diff: Diff | None = None, title: str | None = None) -> str:
    """The topology as Graphviz dot text (`dot -Tsvg` draws it)."""
    sc = _scene(topo, diff, title)
    out = [f"// {sc.title}: drawn by `vnet draw`; edit the topology, not this file",
           f"digraph {_q('vnet ' + topo.name)} {{",
           f"  graph [rankdir=LR, label={_q(sc.title)}, labelloc=t, fontname={_q(FONT)}, "
           f"fontsize=16, newrank=true, nodesep=0.3, ranksep=0.6];",
           f"  node [shape=box, style={_q('rounded,filled')}, color={_q(LINE)}, "
           f"fontcolor={_q(TEXT)}, fontname={_q(FONT)}, fontsize=10];",
           f"  edge [color={_q(LINE)}, fontname={_q(FONT)}, fontsize=9];"]
    for i, (ns, label) in enumerate(sc.clusters):
        out += [f"  subgraph {_q(f'cluster_{i}')} {{",
                f"    label={_q(label)}; style={_q('rounded' if ns else 'rounded,bold')}; "
                f"color={_q('#999999')}; fontsize=12;"]
        mine = [n for n in sc.nodes if n.netns == ns and n.role != "remote"]
        out += [f"    {_dot_node(n)}" for n in mine if n.role != "external"]
        outside = [n for n in mine if n.role == "external"]
        if outside:
            out += [f"    subgraph {_q(f'cluster_{i}_external')} {{",
                    f"      label={_q(STYLE_WORDS['external'])}; style={_q('rounded,dashed')}; "
                    f"fontsize=10;"]
            out += [f"      {_dot_node(n)}" for n in outside]
            out.append("    }")
        out.append("  }")
    out += [f"  {_dot_node(n)}" for n in sc.nodes if n.role == "remote"]
    for e in sc.edges:
        a = dict(_DOT_EDGE[e.style])
        if e.label:
            a["label"] = _q(e.label)
        out.append(f"  {_q(e.tail)} -> {_q(e.head)} [{_attrs(a)}];")
    out += _dot_legend(sc)
    out.append("}")
    return "\n".join(out) + "\n"


# ---- Mermaid --------------------------------------------------------------------------------

def _m(text: str) -> str:
    """Text inside a Mermaid quoted label, entity-coded where Mermaid would read syntax."""
    return (text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;"))


def _m_label(lines: list[str]) -> str:
    return '"' + "<br/>".join(_m(line) for line in lines) + '"'


_M_SHAPE = {"remote": ('(["', '"])'), "empty": ('["', '"]'), "placeholder": ('["', '"]')}
_M_EDGE = {"pair": "===", "port": "-->", "parent": "-.->", "remote": "-.->", "link": "==>"}
_M_EDGE_STYLE = {"pair": "stroke:#444444,stroke-width:2px", "port": f"stroke:{PORT_COLOUR}",
                 "parent": f"stroke:{LINE}", "remote": f"stroke:{REMOTE_COLOUR}",
                 "link": f"stroke:{LINK_COLOUR}"}


def _m_style(node: _Node) -> str:
    s: dict[str, str] = {}
    if node.role == "external":
        s = {"fill": "#ffffff", "stroke": LINE, "stroke-dasharray": "5 5"}
    elif node.role == "placeholder":
        s = {"fill": "#ffffff", "stroke": DOWN_LINE, "color": DOWN_TEXT,
             "stroke-dasharray": "5 5"}
    elif node.role == "ghost":
        s = {"fill": "#ffffff", "stroke": DIFF_COLOUR, "color": DIFF_COLOUR,
             "stroke-dasharray": "2 2"}
    elif node.role == "remote":
        s = {"fill": "#ffffff", "stroke": REMOTE_COLOUR, "stroke-dasharray": "5 5"}
    elif node.role == "empty":
        s = {"fill": "none", "stroke": "none", "color": DOWN_TEXT}
    if node.down:
        s.update({"fill": DOWN_FILL, "stroke": DOWN_LINE, "color": DOWN_TEXT})
    if node.mark:
        s.update({"stroke": DIFF_COLOUR, "stroke-width": "3px"})
    return ",".join(f"{k}:{v}" for k, v in s.items())


def mermaid(topo: Topology, diff: Diff | None = None, title: str | None = None) -> str:
    """The topology as a Mermaid flowchart (for Markdown pages that render Mermaid)."""
    sc = _scene(topo, diff, title)
    # ids in the order the nodes are written: namespace by namespace, then the remotes
    order = [n for ns, _ in sc.clusters for external in (False, True) for n in sc.nodes
             if n.netns == ns and n.role != "remote" and (n.role == "external") == external]
    order += [n for n in sc.nodes if n.role == "remote"]
    ids = {n.id: f"n{i}" for i, n in enumerate(order)}
    out = ["---", f"title: {_m_title(sc.title)}", "---", "flowchart LR",
           "  %% drawn by `vnet draw`; edit the topology, not this file"]

    def node_line(n: _Node) -> str:
        if n.role in ("iface", "external", "ghost"):
            opening, closing = '("', '")'
        else:
            opening, closing = _M_SHAPE[n.role]
        lines = [_m(line) for line in n.lines]
        if n.role != "empty":
            lines[0] = f"<b>{lines[0]}</b>"
        return f"{ids[n.id]}{opening}{'<br/>'.join(lines)}{closing}"

    for i, (ns, label) in enumerate(sc.clusters):
        out.append(f"  subgraph c{i}[{_m_label([label])}]")
        mine = [n for n in sc.nodes if n.netns == ns and n.role != "remote"]
        out += [f"    {node_line(n)}" for n in mine if n.role != "external"]
        outside = [n for n in mine if n.role == "external"]
        if outside:
            out.append(f"    subgraph c{i}x[{_m_label([STYLE_WORDS['external']])}]")
            out += [f"      {node_line(n)}" for n in outside]
            out.append("    end")
        out.append("  end")
    out += [f"  {node_line(n)}" for n in sc.nodes if n.role == "remote"]
    for e in sc.edges:
        label = f"|{_m_label([e.label])}|" if e.label else ""
        out.append(f"  {ids[e.tail]} {_M_EDGE[e.style]}{label} {ids[e.head]}")
    # the legend: a box of sample nodes
    out.append(f"  subgraph legend[{_m_label(['legend'])}]")
    out.append("    direction TB")
    legend: list[tuple[str, str, str]] = []  # (id, words, style or class)
    for i, kind in enumerate(sc.kinds):
        legend.append((f"lk{i}", kind, f":::k_{kind}"))
    for i, look in enumerate(sc.looks):
        legend.append((f"ll{i}", STYLE_WORDS[look], ""))
    for i, (_style, words) in enumerate(sc.edge_words):
        legend.append((f"le{i}", words, ""))
    out += [f"    {lid}[{_m_label([words])}]{cls}" for lid, words, cls in legend]
    out.append("  end")
    for i, (ns, _label) in enumerate(sc.clusters):
        if any(n.netns == ns and n.role == "external" for n in sc.nodes):
            out.append(f"  style c{i}x stroke-dasharray:5 5")
    for kind in dict.fromkeys([*sc.kinds, *(n.kind for n in sc.nodes if n.role == "iface")]):
        out.append(f"  classDef k_{kind} fill:{colour_of(kind)},stroke:{LINE},color:{TEXT}")
    by_kind: dict[str, list[str]] = {}
    for n in sc.nodes:
        if n.role == "iface":
            by_kind.setdefault(n.kind, []).append(ids[n.id])
    out += [f"  class {','.join(members)} k_{kind}" for kind, members in by_kind.items()]
    for n in sc.nodes:
        style = _m_style(n)
        if style:
            out.append(f"  style {ids[n.id]} {style}")
    look_style = {"external": _m_style(_Node("", None, [], "external")),
                  "down": _m_style(_Node("", None, [], "iface", down=True)),
                  "placeholder": _m_style(_Node("", None, [], "placeholder")),
                  "changed": _m_style(_Node("", None, [], "iface", mark="changed")),
                  "only_live": _m_style(_Node("", None, [], "iface", mark="only_live")),
                  "ghost": _m_style(_Node("", None, [], "ghost"))}
    for i, look in enumerate(sc.looks):
        out.append(f"  style ll{i} {look_style[look]}")
    for i in range(len(sc.edge_words)):
        out.append(f"  style le{i} fill:#ffffff,stroke:none")
    for i, e in enumerate(sc.edges):
        out.append(f"  linkStyle {i} {_M_EDGE_STYLE[e.style]}")
    return "\n".join(out) + "\n"


def _m_title(text: str) -> str:
    """A title for Mermaid's front matter (YAML): quoted."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
