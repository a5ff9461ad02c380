"""netem's delay distribution tables: the `.dist` files iproute2 ships (normal, pareto,
paretonormal, ...), found where tc looks for them and read as tc reads them.

tc sends a table to the kernel as TCA_NETEM_DELAY_DIST, an array of signed 16-bit values;
the kernel uses it to shape the jitter but never reports it back, so vnet keeps the name of
the table it set (record.py's `netem_tables`). Plain files and arithmetic: no pydantic, so the
door encodes a table without the model.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pathlib and glob are imported where a table is looked for, not by loading
    from pathlib import Path

#: the most values the kernel takes in one table (NETEM_DIST_MAX)
NETEM_DIST_MAX = 16384
#: where iproute2's packages put the tables (Debian: its multiarch directory; Fedora and
#: others /usr/lib64/tc, /usr/lib/tc or /usr/share/tc); tc looks only in $TC_LIB_DIR if set
_PLACES = ("/usr/lib/*/tc", "/usr/lib64/tc", "/usr/lib/tc", "/usr/share/tc")


def table_dirs() -> list[Path]:
    """The directories searched for `NAME.dist`, in order ($TC_LIB_DIR alone when set, as
    tc does)."""
    import glob
    from pathlib import Path
    env = os.environ.get("TC_LIB_DIR")
    if env:
        return [Path(env)]
    return [Path(p) for pattern in _PLACES for p in sorted(glob.glob(pattern))
            if os.path.isdir(p)]


def available_tables() -> dict[str, Path]:
    """Every table tc would find, by name (the first directory that has a name wins)."""
    out: dict[str, Path] = {}
    for directory in table_dirs():
        for path in sorted(directory.glob("*.dist")):
            out.setdefault(path.stem, path)
    return out


def find_table(name: str) -> Path:
    """The file of table `name`; ValueError naming the tables there are when there is none."""
    tables = available_tables()
    if name in tables:
        return tables[name]
    if not tables:
        where = ", ".join(str(d) for d in table_dirs()) or ", ".join(_PLACES)
        raise ValueError(f"distribution {name!r}: no distribution tables were found (looked "
                         f"in {where}); install iproute2, which ships them, or leave "
                         "distribution out")
    raise ValueError(f"distribution {name!r} is not a table tc has here; use one of "
                     f"{', '.join(sorted(tables))}")


@lru_cache(maxsize=16)
def _read(path: str, mtime_ns: int) -> tuple[int, ...]:
    try:
        from pathlib import Path
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"distribution table {path} cannot be read ({exc}); reinstall "
                         "iproute2 or choose another distribution") from None
    values: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        for word in line.split():
            try:
                value = int(word)
            except ValueError:
                raise ValueError(f"distribution table {path} line {number}: {word!r} is not "
                                 "a number; reinstall iproute2 or choose another "
                                 "distribution") from None
            if not -32768 <= value <= 32767:
                raise ValueError(f"distribution table {path} line {number}: {value} does "
                                 "not fit in 16 bits; regenerate the table or choose another "
                                 "distribution")
            values.append(value)
    if not 1 <= len(values) <= NETEM_DIST_MAX:
        raise ValueError(f"distribution table {path} holds {len(values)} values; the kernel "
                         f"takes 1 to {NETEM_DIST_MAX}: regenerate it or choose another "
                         "distribution")
    return tuple(values)


def load_table(name: str) -> tuple[int, ...]:
    """The values of table `name` as tc sends them (ValueError, with the fix, when it cannot
    be found or read)."""
    path = find_table(name)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = 0
    return _read(str(path), mtime)
