"""The kernel's tick rate (CONFIG_HZ): the kernel keeps some values in ticks (bridge timers,
in jiffies) and reports them back rounded, so comparing what was asked with what was kept needs
it. Userspace has no call that tells it; the kernel's build configuration does, from
/proc/config.gz (CONFIG_IKCONFIG_PROC), the distribution's /boot/config-RELEASE, the `config`
some distributions install with the modules, or the `boot/config-RELEASE` of the package tree
the modules directory belongs to (a kernel unpacked and booted in a VM, as the kernel test
tier does)."""

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


def config_paths(release: str) -> list[str]:
    """Where a kernel of `release` may have its build configuration, most direct first."""
    modules = os.path.realpath(f"/lib/modules/{release}")
    return ["/proc/config.gz", f"/boot/config-{release}", f"/usr/lib/modules/{release}/config",
            os.path.join(modules, "..", "..", "..", "boot", f"config-{release}")]


def hz_from(paths: list[str]) -> int | None:
    """CONFIG_HZ of the first readable configuration among `paths` that says it."""
    for path in paths:
        text = _read(path)
        if text is not None:
            found = _HZ.search(text)
            if found and int(found.group(1)) > 0:
                return int(found.group(1))
    return None


@functools.cache
def kernel_hz() -> int | None:
    """This kernel's CONFIG_HZ, or None when no readable build configuration says it (callers
    then allow the rounding of any common rate)."""
    return hz_from(config_paths(os.uname().release))
