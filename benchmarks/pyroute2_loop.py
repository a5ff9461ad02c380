"""What a user would write by hand with pyroute2: create-N as one IPRoute call per step.

    python3 pyroute2_loop.py PAIRS      (run by bench.py, inside its private namespace)
"""

from __future__ import annotations

import sys

from bench import GROUP, pair_addrs
from pyroute2 import IPRoute


def main() -> None:
    pairs = int(sys.argv[1])
    with IPRoute() as ipr:
        for i in range(pairs):
            a, b = pair_addrs(i)
            ipr.link("add", ifname=f"va{i}", kind="veth", peer={"ifname": f"vb{i}", "group": GROUP},
                     group=GROUP)
            for name, addr in ((f"va{i}", a), (f"vb{i}", b)):
                idx = ipr.link_lookup(ifname=name)[0]
                ip, plen = addr.split("/")
                ipr.addr("add", index=idx, address=ip, prefixlen=int(plen))
                ipr.link("set", index=idx, state="up")


if __name__ == "__main__":
    main()
