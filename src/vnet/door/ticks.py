"""The kernel's tick rate (CONFIG_HZ): the kernel keeps some values in ticks (bridge timers,
in jiffies) and reports them back rounded, so comparing what was asked with what was kept needs
it. Userspace has no call that tells it; the kernel's build configuration does, from
/proc/config.gz (CONFIG_IKCONFIG_PROC) or the distribution's /boot/config-RELEASE."""

from __future__ import annotations

import functools
import gzip
import os
import re

_HZ = re.compile(rb"^CONFIG_HZ=(\d+)$", re.MULTILINE)


def _read(path: str) -> bytes | None:
    try:
        if path.endswith(".gz"):
            with gzip.open(path) as fh:
                return fh.read()
        with open(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError, gzip.BadGzipFile):
        return None


@functools.cache
def kernel_hz() -> int | None:
    """This kernel's CONFIG_HZ, or None when no readable build configuration says it (callers
    then allow the rounding of any common rate)."""
    for path in ("/proc/config.gz", f"/boot/config-{os.uname().release}"):
        text = _read(path)
        if text is not None:
            found = _HZ.search(text)
            if found and int(found.group(1)) > 0:
                return int(found.group(1))
    return None
