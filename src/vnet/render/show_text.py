"""`vnet show` and `vnet list` as text: rows in, lines out. Pure: the rows are api's `Shown`
and `TopologySummary`, read by attribute; nothing here reads the kernel.

Two forms, both linear in the number of rows:

- for a terminal (`width` given): aligned columns fitting `width` characters. The last column
  (an interface's addresses, a topology's file, a check's label) is never cut: its items wrap
  onto continuation lines under it, or, when the longest item does not fit beside the other
  columns, go on lines of their own below each row, indented. Sections (interfaces, routes,
  checks) are separated by a blank line.
- for a pipe (`width` None): tab-separated lines for grep, cut and awk. Each section is a
  header line and one line per row; an empty line separates sections; the interfaces come
  first. No cell holds a tab or a line break, an empty cell is "-", several addresses share
  their cell separated by commas (no spaces).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

GAP = "  "
INDENT = "    "
#: iproute2's names of the routing tables it names
TABLES = {253: "default", 254: "main", 255: "local"}
CHECKS_NOTE = "checks of the file (show runs none: `vnet check FILE` does)"
EXTERNAL_NOTE = "* external: not vnet's; destroy undoes vnet's changes to it"

#: (cells of the fixed columns, items of the last column)
Row = tuple[Sequence[str], Sequence[str]]


def _dash(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _clean(text: str) -> str:
    """A cell of free text (a check's label, a path) on one line, without tabs."""
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _pack(items: Sequence[str], room: int) -> list[str]:
    """The items joined by ", ", in lines of at most `room` characters where they fit; a line
    breaks only between items, never inside one."""
    lines: list[str] = []
    line = ""
    last = len(items) - 1
    for i, item in enumerate(items):
        piece = item + ("," if i < last else "")
        if line and len(line) + 1 + len(piece) > room:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    if line:
        lines.append(line)
    return lines


def _table(header: Sequence[str], rows: Sequence[Row], width: int,
           right: Collection[int] = ()) -> list[str]:
    """Aligned columns; the last one's items wrap (see the module's docstring)."""
    n = len(header) - 1
    widths = [len(h) for h in header[:n]]
    longest = len(header[n])
    for cells, items in rows:
        for i, cell in enumerate(cells):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
        for i, item in enumerate(items):  # a comma follows each item but the last
            size = len(item) + (i < len(items) - 1)
            if size > longest:
                longest = size
    start = sum(widths) + len(GAP) * n
    room = width - start
    beside = longest <= room

    def fixed(cells: Sequence[str]) -> str:
        return GAP.join(cell.rjust(w) if i in right else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)))

    out: list[str] = []
    if beside:
        pad = " " * start
        out.append(fixed(header[:n]) + GAP + header[n])
        for cells, items in rows:
            lines = _pack(items, room) or ["-"]
            out.append(fixed(cells) + GAP + lines[0])
            out.extend(pad + line for line in lines[1:])
    else:
        out.append(fixed(header[:n]).rstrip())
        out.append(INDENT + header[n])
        for cells, items in rows:
            out.append(fixed(cells).rstrip())
            out.extend(INDENT + line for line in _pack(items, width - len(INDENT)))
    return out


def _tsv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["\t".join(header), *("\t".join(cells) for cells in rows)]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# ---- vnet show NAME ---------------------------------------------------------------------------

def topology_lines(shown: Any, width: int | None, stats: bool = False) -> list[str]:
    """One topology (api.Shown): for a terminal of `width` columns, or tab-separated (None).
    Packet and byte counters only with `stats`."""
    if width is None:
        return _topology_tsv(shown, stats)
    ifaces = [r for r in shown.interfaces if r.kind != "loopback"]
    up = sum(r.state == "up" for r in ifaces)
    title = (f"{shown.topology}: {_plural(len(shown.namespaces), 'namespace')}, "
             f"{_plural(len(ifaces), 'interface')} ({up} up, {len(ifaces) - up} down), "
             f"{_plural(len(shown.routes), 'route')}")
    out = [title, f"file: {shown.file or 'unknown'}", ""]
    header = ["NETNS", "INTERFACE", "KIND", "STATE", "MASTER", "MTU",
              *(["RX-PKTS", "TX-PKTS", "RX-BYTES", "TX-BYTES"] if stats else []), "ADDRESSES"]
    rows: list[Row] = []
    for r in shown.interfaces:
        cells = [_dash(r.netns), r.name if r.owned else r.name + "*", _dash(r.kind), r.state,
                 _dash(r.master), str(r.mtu)]
        if stats:
            cells += [str(r.rx_packets), str(r.tx_packets), str(r.rx_bytes), str(r.tx_bytes)]
        rows.append((cells, r.addresses))
    if rows:
        out += _table(header, rows, width, right={5, 6, 7, 8, 9})
    else:
        out.append("no interface to show")
    if not all(r.owned for r in shown.interfaces):
        out.append(EXTERNAL_NOTE)
    impaired = [r for r in shown.interfaces if r.extra.get("impair")]
    if impaired:
        out.append("")
        out += _table(["NETNS", "INTERFACE", "IMPAIRED (netem)"],
                      [([_dash(r.netns), r.name], [_impair_text(r.extra["impair"])])
                       for r in impaired], width)
    optioned = [r for r in shown.interfaces if r.extra.get("options")]
    if optioned:
        out.append("")
        out += _table(["NETNS", "INTERFACE", "OPTIONS (as the file says them)"],
                      [([_dash(r.netns), r.name], [_options_text(r.extra["options"])])
                       for r in optioned], width)
    if shown.routes:
        out.append("")
        out += _table(["NETNS", "TO", "VIA", "DEV", "METRIC", "TABLE"],
                      [(cells[:-1], cells[-1:]) for cells in map(_route_cells, shown.routes)],
                      width, right={4})
    if shown.checks:
        out += ["", CHECKS_NOTE]
        out += _table(["FROM", "PROBE", "TO", "EXPECT", "CHECK"],
                      [([c.source, c.probe, c.target, c.expect], [c.check])
                       for c in shown.checks], width)
    return out


def _impair_text(words: dict[str, Any]) -> str:
    return " ".join(f"{k} {v}" for k, v in words.items())


def _options_text(options: dict[str, Any]) -> str:
    """`stp_state: true, priority: 4096` on one line (lists and mappings as JSON)."""
    import json

    def word(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)
    return ", ".join(f"{k}: {word(v)}" for k, v in options.items())


def _route_cells(route: Any) -> list[str]:
    return [_dash(route.netns), route.to, _dash(route.via), _dash(route.dev), str(route.metric),
            TABLES.get(route.table, str(route.table))]


def _topology_tsv(shown: Any, stats: bool) -> list[str]:
    header = ["netns", "interface", "kind", "state", "master", "mtu", "addresses", "owned",
              *(["rx_packets", "tx_packets", "rx_bytes", "tx_bytes"] if stats else [])]
    rows = []
    for r in shown.interfaces:
        cells = [_dash(r.netns), r.name, _dash(r.kind), r.state, _dash(r.master), str(r.mtu),
                 ",".join(r.addresses) or "-", "yes" if r.owned else "no"]
        if stats:
            cells += [str(r.rx_packets), str(r.tx_packets), str(r.rx_bytes), str(r.tx_bytes)]
        rows.append(cells)
    out = _tsv(header, rows)
    impaired = [r for r in shown.interfaces if r.extra.get("impair")]
    if impaired:
        out += ["", *_tsv(["netns", "interface", "impair"],
                          [[_dash(r.netns), r.name, _impair_text(r.extra["impair"])]
                           for r in impaired])]
    optioned = [r for r in shown.interfaces if r.extra.get("options")]
    if optioned:
        out += ["", *_tsv(["netns", "interface", "options"],
                          [[_dash(r.netns), r.name, _options_text(r.extra["options"])]
                           for r in optioned])]
    if shown.routes:
        out += ["", *_tsv(["netns", "to", "via", "dev", "metric", "table"],
                          [_route_cells(r) for r in shown.routes])]
    if shown.checks:
        out += ["", *_tsv(["from", "probe", "to", "expected", "check"],
                          [[c.source, c.probe, c.target, c.expect, _clean(c.check)]
                           for c in shown.checks])]
    return out


# ---- vnet list --------------------------------------------------------------------------------

def list_lines(summaries: Sequence[Any], width: int | None) -> list[str]:
    """Every live topology (api.TopologySummary), one line each."""
    if width is None:
        return _tsv(["name", "namespaces", "interfaces", "up", "down", "routes", "file"],
                    [[t.name, str(len(t.namespaces)), str(t.interfaces), str(t.up),
                      str(t.down), str(t.routes), _clean(_dash(t.file))] for t in summaries])
    if not summaries:
        return ["no vnet topology is live here"]
    return _table(["NAME", "NAMESPACES", "INTERFACES", "UP", "DOWN", "ROUTES", "FILE"],
                  [([t.name, str(len(t.namespaces)), str(t.interfaces), str(t.up), str(t.down),
                     str(t.routes)], [_dash(t.file)]) for t in summaries],
                  width, right={1, 2, 3, 4, 5})
