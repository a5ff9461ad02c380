"""vnet against iproute2 on the same work, in one run: medians and ratios.

    python3 benchmarks/bench.py                 # full sizes (10k interfaces, 1k namespaces)
    python3 benchmarks/bench.py --size 50       # smoke: every scenario at 50 interfaces

Each vnet measurement is a whole `vnet` process (`vnet apply FILE`, as a user runs it) on a
topology file this script writes; each reference is a whole `ip -batch FILE` (or `ip -j ...`).
vnet and the reference alternate, round after round, so both see the same machine noise;
targets are judged on ratios of medians from the same run. The script re-executes itself inside
a private network and mount namespace (with private /run/netns and /run/vnet): nothing reaches
the machine's own network. Details: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INNER_FLAG = "--inside-private-namespace"
GROUP = 4242  # the reference's link group, for its bulk `ip link del group`
#: the floor's rows (floor.py), and each scenario's target against `ip`, which a floor's own
#: ratio to `ip` shows to be in reach of a Python program or not
FLOOR = "floor: a Python program, no checks"
TARGETS = {"create": 1.2, "noop": 2.0, "destroy": 1.3}
NET = ipaddress.IPv4Address("10.0.0.0")


def vnet_exe() -> list[str]:
    """The `vnet` a user of this checkout runs: its .venv's, else this Python's `-m vnet` on
    this checkout's src (PYTHONPATH, set in main)."""
    venv = ROOT / ".venv" / "bin" / "vnet"
    if venv.exists():
        return [str(venv)]
    return [sys.executable, "-m", "vnet"]


def venv_python() -> str:
    """The Python that has vnet's dependencies (pyroute2): the checkout's .venv's if any."""
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


#: the user of the rootless rows (VNET_BENCH_UID; default nobody)
ROOTLESS_UID = int(os.environ.get("VNET_BENCH_UID", "65534"))


def rootless_vnet(sandbox: str) -> tuple[list[str], list[str]]:
    """`vnet` as user ROOTLESS_UID in the sandbox at `sandbox`, and the same `vnet` as root
    outside it: the .venv's interpreter if that user may run it, else this machine's python3
    on the .venv's packages (the same minor version), for both, so the ratio is the
    sandbox's cost alone."""
    python = venv_python()
    drop = ["setpriv", f"--reuid={ROOTLESS_UID}", f"--regid={ROOTLESS_UID}", "--clear-groups"]
    if subprocess.run([*drop, "env", python, "-c", "import pyroute2"],
                      capture_output=True).returncode != 0:
        python = "/usr/bin/python3"
    site = subprocess.run([venv_python(), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True,
                          check=True).stdout.strip()
    same = ["env", f"PYTHONPATH={ROOT / 'src'}:{site}"]
    return ([*drop, *same, f"VNET_SANDBOX={sandbox}", python, "-m", "vnet"],
            [*same, python, "-m", "vnet"])


def compile_vnet() -> None:
    """Write the bytecode of the vnet that runs, as `pip install .` does at install time. An
    editable install under PYTHONDONTWRITEBYTECODE (set on these machines) never gets any, so
    every process would compile vnet's source again: 40 ms of `startup`, which a user's
    install does not pay."""
    where = subprocess.run([venv_python(), "-c", "import os, vnet; print(os.path.dirname("
                            "vnet.__file__))"], check=True, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT / "src")}).stdout.strip()
    subprocess.run([venv_python(), "-m", "compileall", "-q", where], check=True)


# ---- the work -------------------------------------------------------------------------------
def pair_addrs(i: int) -> tuple[str, str]:
    """Pair i's two ends: one /30 each, so every address is distinct."""
    base = NET + 4 * i
    return f"{base + 1}/30", f"{base + 2}/30"


def create_yaml(pairs: int, change_one: bool = False) -> str:
    lines = ["name: bench", "interfaces:"]
    for i in range(pairs):
        a, b = pair_addrs(i)
        if change_one and i == pairs // 2:
            b = f"{ipaddress.IPv4Interface(b).ip + 1}/30"  # .3 instead of .2: one address moves
        lines.append(f"  - {{name: va{i}, kind: veth, addresses: [{a}], "
                     f"peer: {{name: vb{i}, addresses: [{b}]}}}}")
    return "\n".join(lines) + "\n"


def create_batch(pairs: int) -> str:
    out = []
    for i in range(pairs):
        a, b = pair_addrs(i)
        out.append(f"link add va{i} group {GROUP} type veth peer name vb{i} group {GROUP}")
        out.append(f"addr add {a} dev va{i}")
        out.append(f"addr add {b} dev vb{i}")
        out.append(f"link set va{i} up")
        out.append(f"link set vb{i} up")
    return "\n".join(out) + "\n"


def star_yaml(spokes: int) -> str:
    lines = ["name: star", "namespaces:"]
    lines += [f"  - s{i}" for i in range(spokes)]
    lines += ["interfaces:", "  - {name: br0, kind: bridge}"]
    for i in range(spokes):
        a, b = pair_addrs(i)
        lines.append(f"  - {{name: e{i}, kind: veth, netns: s{i}, addresses: [{a}], "
                     f"peer: {{name: p{i}, master: br0, addresses: [{b}]}}}}")
    return "\n".join(lines) + "\n"


def star_batches(spokes: int) -> tuple[str, dict[str, str]]:
    """The root namespace's batch, and one small batch per namespace (`ip -batch` has no
    per-line namespace option, so the namespace ends are addressed by `ip -n NS -batch`)."""
    root = ["link add br0 type bridge", "link set br0 up"]
    per_ns: dict[str, str] = {}
    for i in range(spokes):
        a, b = pair_addrs(i)
        root.append(f"netns add s{i}")
        root.append(f"link add p{i} type veth peer name e{i} netns s{i}")
        root.append(f"link set p{i} master br0")
        root.append(f"addr add {b} dev p{i}")
        root.append(f"link set p{i} up")
        per_ns[f"s{i}"] = f"link set lo up\naddr add {a} dev e{i}\nlink set e{i} up\n"
    return "\n".join(root) + "\n", per_ns


# ---- running and timing ---------------------------------------------------------------------
class Failed(RuntimeError):
    pass


#: the files past the loader's limits for a file of unknown origin (100,000 values, 4 MiB):
#: only a vnet given one of these runs with the limits raised, as a user would raise them
LARGE: set[str] = set()
RAISED = {"VNET_MAX_NODES": "100000000", "VNET_MAX_FILE_BYTES": str(1 << 30)}


def env_for(argv: list[str]) -> dict[str, str]:
    """The environment of one command: the limits raised when it reads a file of LARGE."""
    if LARGE.intersection(argv):
        return {**RAISED, **os.environ}
    return dict(os.environ)


def run(argv: list[str], stdin: str | None = None) -> tuple[float, int]:
    """Run one whole process; (wall seconds, 0). Raises Failed on a non-zero exit."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else None,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env_for(argv))
    _, err = proc.communicate(stdin)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise Failed(f"{' '.join(argv)} exited {proc.returncode}: {err.strip()[-2000:]}")
    return elapsed, 0


def run_rss(argv: list[str]) -> tuple[float, int]:
    """Like run(), and the child's own peak RSS (wait4 gives exactly this child's rusage)."""
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, env_for(argv), file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise Failed(f"{' '.join(argv)} exited {code}")
    return elapsed, usage.ru_maxrss


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, stdout=subprocess.DEVNULL)


def netns_list() -> list[str]:
    try:
        return sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []


def link_count() -> int:
    out = subprocess.run(["ip", "-o", "link", "show"], check=True, capture_output=True,
                         text=True).stdout
    return len(out.splitlines())


def links_here() -> int:
    """How many links this process's namespace has, from /proc/self/net/dev: cheap enough to
    ask every few milliseconds (no netlink dump, no process), while the kernel works."""
    with open("/proc/self/net/dev", "rb") as f:
        return len(f.read().splitlines()) - 2  # two header lines


def until_gone(t0: float, links: int = 1, limit: float = 120) -> float:
    """Seconds from `t0` until this namespace is back to `links` links: when a teardown that
    returned early (`ip netns del` leaves veth peers to the kernel's asynchronous cleanup)
    is really done. Polled every 2 ms, so it reads up to that much late."""
    while links_here() > links:
        if time.perf_counter() - t0 > limit:
            raise Failed(f"{links_here()} links still here {limit:.0f} s after a teardown")
        time.sleep(0.002)
    return time.perf_counter() - t0


def wait_clean(links: int = 1) -> None:
    """Wait until only lo (and nothing in /run/netns) is left: namespaces die asynchronously,
    and their veth peers in this namespace with them."""
    deadline = time.time() + 120
    while time.time() < deadline:
        if link_count() <= links and not netns_list():
            return
        time.sleep(0.2)
    raise Failed(f"leftovers after teardown: {link_count()} links, {netns_list()}")


def settle(limit: float = 60) -> float:
    """Wait until no IPv6 address is tentative (duplicate address detection done); returns the
    seconds waited. For ~10 s after 10k links come up the kernel keeps adding and confirming
    their link-local addresses: reading the state then costs `ip` twice as long, and its
    dumps come back interrupted. A noop or a teardown measured in that churn measures the
    kernel's DAD: vnet and the reference both wait for it before each."""
    t0 = time.time()
    while time.time() - t0 < limit:
        out = subprocess.run(["ip", "-6", "-o", "addr", "show", "tentative"], check=True,
                             capture_output=True, text=True).stdout
        if not out.strip():
            break
        time.sleep(0.5)
    return time.time() - t0


def vnet_says_nothing(argv: list[str]) -> float:
    """Time a `vnet apply` that must change nothing, and make sure it did not: a reference
    that moved an address back would time a change, not a no-op."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env_for(argv))
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise Failed(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    if "no changes" not in proc.stdout:
        raise Failed(f"the no-op reference changed something: {proc.stdout[-500:]}")
    return elapsed


class Bench:
    def __init__(self, sizes: list[int], stars: list[int], rounds: int, scale_sizes: list[int],
                 scale_rounds: int, workdir: Path, only: set[str] | None) -> None:
        self.sizes = sizes
        self.stars = stars
        self.rounds = rounds
        self.scale_sizes = scale_sizes
        self.scale_rounds = scale_rounds
        self.dir = workdir
        self.only = only
        self.samples: dict[str, dict[str, list[float]]] = {}
        self.rss_kib: dict[int, list[int]] = {}
        #: seconds waited for the kernel to settle (see settle) before a noop or a teardown
        self.settled: dict[str, list[float]] = {"noop": [], "destroy": []}
        self.vnet = vnet_exe()

    def want(self, name: str) -> bool:
        return self.only is None or name in self.only

    def record(self, scenario: str, who: str, seconds: float) -> None:
        self.samples.setdefault(scenario, {}).setdefault(who, []).append(seconds)

    def file(self, name: str, text: str) -> str:
        """Write a file; a topology file past the loader's default limits (its `vnet
        validate` says so) goes into LARGE."""
        path = self.dir / name
        path.write_text(text)
        if name.endswith(".yaml") and len(text) > 100_000:  # a smaller one is within them
            check = subprocess.run([*self.vnet, "validate", str(path)], capture_output=True,
                                   text=True, env=env_for([]))
            if check.returncode != 0:
                if "VNET_MAX_" not in check.stderr:
                    raise Failed(f"vnet validate {path}: {check.stderr.strip()[-2000:]}")
                LARGE.add(str(path))
        return str(path)

    @staticmethod
    def in_turn(round_: int, *runs: Callable[[], None]) -> None:
        """Run one round's measurements, the first one first in even rounds and the order
        turned round in odd ones: neither tool always meets the machine first."""
        for step in (runs if round_ % 2 == 0 else tuple(reversed(runs))):
            step()

    # -- create-N, noop-N, change-1, destroy-N (and the pyroute2 loop) --
    def create_family(self) -> None:
        for size in self.sizes:
            self.create_size(size)

    def create_size(self, size: int) -> None:
        pairs = size // 2
        y = self.file(f"create-{size}.yaml", create_yaml(pairs))
        y_changed = self.file(f"create-{size}-changed.yaml", create_yaml(pairs, change_one=True))
        batch = self.file(f"create-{size}.batch", create_batch(pairs))
        n = f"{pairs * 2}"

        def mine() -> None:
            t, rss = run_rss([*self.vnet, "apply", y])
            self.record(f"create-{n}", "vnet", t)
            self.rss_kib.setdefault(size, []).append(rss)
            if self.want("noop"):
                self.settled["noop"].append(settle())
                self.record(f"noop-{n}", "vnet", vnet_says_nothing([*self.vnet, "apply", y]))
                self.record(f"noop-{n}", "ip -j (read state)", self.read_state())
            if self.want("show"):  # `vnet show` in a pipe: read the kernel, print N lines
                self.record(f"show-{n}", "vnet", run([*self.vnet, "show", "bench"])[0])
                self.record(f"show-{n}", "ip -j (read state)", self.read_state())
            if self.want("change"):
                # another file than the one applied: its removal needs --replace
                self.record(f"change-1 (in {n})", "vnet",
                            run([*self.vnet, "apply", "--replace", y_changed])[0])
                # the reference: a true no-op on the same state (the changed file again)
                self.record(f"change-1 (in {n})", "vnet noop",
                            vnet_says_nothing([*self.vnet, "apply", y_changed]))
            self.settled["destroy"].append(settle())
            self.record(f"destroy-{n}", "vnet", run([*self.vnet, "destroy", "bench"])[0])
            wait_clean()

        def reference() -> None:
            self.record(f"create-{n}", "ip -batch", run(["ip", "-batch", batch])[0])
            self.settled["destroy"].append(settle())
            self.record(f"destroy-{n}", "ip link del group",
                        run(["ip", "link", "del", "group", str(GROUP)])[0])
            wait_clean()

        def floor() -> None:
            # the least a Python program reading the file with PyYAML does (floor.py): a
            # target below the floor's ratio to `ip` is out of any such program's reach
            if not self.want("floor"):
                return
            script = str(Path(__file__).parent / "floor.py")
            self.record(f"create-{n}", FLOOR, run([venv_python(), script, "create", y,
                                                   str(GROUP)])[0])
            if self.want("noop"):
                self.settled["noop"].append(settle())
                self.record(f"noop-{n}", FLOOR, run([venv_python(), script, "noop", y])[0])
            self.settled["destroy"].append(settle())
            self.record(f"destroy-{n}", FLOOR,
                        run([venv_python(), script, "destroy", str(GROUP)])[0])
            wait_clean()

        def loop() -> None:
            if self.want("pyroute2"):
                script = str(Path(__file__).parent / "pyroute2_loop.py")
                self.record(f"create-{n}", "pyroute2 loop",
                            run([venv_python(), script, str(pairs)])[0])
                run(["ip", "link", "del", "group", str(GROUP)])
                wait_clean()

        for r in range(self.rounds):
            self.in_turn(r, mine, reference, floor, loop)

    def read_state(self) -> float:
        t0 = time.perf_counter()
        subprocess.run(["ip", "-j", "-d", "link", "show"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["ip", "-j", "addr", "show"], check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0

    # -- star-S, destroy-star-S --
    def star_family(self) -> None:
        for spokes in self.stars:
            self.star_size(spokes)

    def star_size(self, spokes: int) -> None:
        y = self.file(f"star-{spokes}.yaml", star_yaml(spokes))
        root, per_ns = star_batches(spokes)
        root_batch = self.file(f"star-{spokes}.batch", root)
        del_batch = self.file(f"star-{spokes}-del.batch", "".join(
            f"netns del s{i}\n" for i in range(spokes)) + "link del br0\n")
        one_process = [venv_python(), str(Path(__file__).parent / "star_ref.py"), str(spokes)]
        n = f"{spokes}"

        def mine() -> None:
            self.record(f"star-{n}", "vnet", run([*self.vnet, "apply", y])[0])
            self.settled["destroy"].append(settle())
            self.record(f"destroy-star-{n}", "vnet", run([*self.vnet, "destroy", "star"])[0])
            wait_clean()

        def teardown_reference() -> None:
            self.settled["destroy"].append(settle())
            t0 = time.perf_counter()
            self.record(f"destroy-star-{n}", "ip netns del", run(["ip", "-batch", del_batch])[0])
            # vnet returns once its links are gone (the names are free again); `ip netns del`
            # returns before, the kernel deleting the veths in the background: both are shown
            self.record(f"destroy-star-{n}", "ip netns del, until its links are gone",
                        until_gone(t0))
            wait_clean()

        def processes() -> None:
            t = run(["ip", "-batch", root_batch])[0]
            for ns, text in per_ns.items():
                t += run(["ip", "-n", ns, "-batch", "-"], stdin=text)[0]
            self.record(f"star-{n}", "ip -batch + ip -n NS per namespace", t)
            teardown_reference()

        def single() -> None:
            self.record(f"star-{n}", "one process, raw netlink", run(one_process)[0])
            teardown_reference()

        for r in range(self.rounds):
            self.in_turn(r, mine, processes, single)

    # -- scale --
    def scale(self) -> None:
        # ip -batch at each size too: whether the kernel itself keeps a constant cost per
        # interface decides what "linear" can mean for vnet on this machine
        for size in self.scale_sizes:
            y = self.file(f"scale-{size}.yaml", create_yaml(size // 2))
            batch = self.file(f"scale-{size}.batch", create_batch(size // 2))

            def mine(size: int = size, y: str = y) -> None:
                self.record(f"scale-{size}", "vnet", run([*self.vnet, "apply", y])[0])
                run([*self.vnet, "destroy", "bench"])
                wait_clean()

            def reference(size: int = size, batch: str = batch) -> None:
                self.record(f"scale-{size}", "ip -batch", run(["ip", "-batch", batch])[0])
                run(["ip", "link", "del", "group", str(GROUP)])
                wait_clean()

            for r in range(self.scale_rounds):
                self.in_turn(r, mine, reference)

    # -- rootless: create-1000 applied and destroyed in a user's sandbox, against root --
    def rootless(self) -> None:
        size = 1000
        y = self.file(f"rootless-{size}.yaml", create_yaml(size // 2))
        os.chmod(self.dir, 0o755)  # the user reads the file
        os.chmod(y, 0o644)
        sandbox = tempfile.mkdtemp(prefix="vnet-bench-sandbox-")
        os.chown(sandbox, ROOTLESS_UID, ROOTLESS_UID)
        user, root = rootless_vnet(sandbox)

        def rootless() -> None:
            self.record(f"rootless apply create-{size}", "vnet", run([*user, "apply", y])[0])
            self.record(f"rootless destroy create-{size}", "vnet",
                        run([*user, "destroy", "bench"])[0])

        def as_root() -> None:
            self.record(f"rootless apply create-{size}", "vnet as root",
                        run([*root, "apply", y])[0])
            self.settled["destroy"].append(settle())
            self.record(f"rootless destroy create-{size}", "vnet as root",
                        run([*root, "destroy", "bench"])[0])
            wait_clean()

        try:
            run([*user, "list"])  # the holder starts here, not inside a measurement
            for r in range(self.rounds):
                self.in_turn(r, rootless, as_root)
        finally:
            subprocess.run([*user, "sandbox", "stop"], capture_output=True, check=False)
            subprocess.run(["rm", "-rf", sandbox], check=False)

    # -- startup --
    def startup(self) -> None:
        lab = str(ROOT / "examples" / "lab.yaml")
        python = venv_python()  # the interpreter vnet runs on: the same start-up cost
        for r in range(max(self.rounds, 5)):
            self.in_turn(
                r,
                lambda: self.record("startup: vnet --help", "vnet",
                                    run([*self.vnet, "--help"])[0]),
                lambda: self.record("startup: vnet validate lab.yaml", "vnet",
                                    run([*self.vnet, "validate", lab])[0]),
                lambda: self.record("startup: python -c pass", "python -c pass",
                                    run([python, "-c", "pass"])[0]))

    def run_all(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("startup", self.startup), ("create", self.create_family),
            ("star", self.star_family), ("scale", self.scale), ("rootless", self.rootless)]
        for name, step in steps:
            if self.want(name):
                print(f"# {name} ...", file=sys.stderr, flush=True)
                step()

    def results(self) -> dict[str, Any]:
        table: dict[str, Any] = {}
        for scenario, by_who in self.samples.items():
            table[scenario] = {who: {"median": statistics.median(v), "samples": v}
                               for who, v in by_who.items()}
        python = table.pop("startup: python -c pass", None)
        for name in [k for k in table if k.startswith("startup: ")]:
            if python:  # the reference of both start-up rows
                table[name].update(python)
        return {"sizes": self.sizes, "stars": self.stars, "rounds": self.rounds,
                "scenarios": table,
                "peak_rss_apply_create_mib": {
                    str(size): max(v) / 1024 for size, v in self.rss_kib.items()},
                "marginal_us_per_interface": marginal(table, self.scale_sizes),
                "settled_s": self.settled,
                "cpus": os.cpu_count(), "kernel": os.uname().release}


def marginal(table: dict[str, Any], sizes: list[int]) -> dict[str, dict[str, float]]:
    """Cost of each interface added between two scale sizes, in µs: (t(b) - t(a)) / (b - a).
    A per-interface average includes the start-up, which hides growth at small sizes; the
    marginal cost is what grows if a step grows faster than the kernel's own."""
    out: dict[str, dict[str, float]] = {}
    for a, b in zip(sizes, sizes[1:], strict=False):
        lo, hi = table.get(f"scale-{a}", {}), table.get(f"scale-{b}", {})
        for who in hi:
            if who in lo:
                step = (hi[who]["median"] - lo[who]["median"]) / (b - a)
                out.setdefault(f"{a}→{b}", {})[who] = step * 1e6
    return out


def table(res: dict[str, Any]) -> str:
    """A markdown table: each scenario, vnet's median, the reference's, and their ratio."""
    rows = ["| scenario | vnet (median) | reference | reference (median) | ratio |",
            "|---|---|---|---|---|"]
    for scenario, by_who in res["scenarios"].items():
        mine = by_who.get("vnet")
        if mine is None:
            continue
        others = [(w, d) for w, d in by_who.items() if w != "vnet"]
        if not others:
            rows.append(f"| {scenario} | {mine['median']:.3f} s | | | |")
        for who, d in others:
            ratio = mine["median"] / d["median"] if d["median"] else float("inf")
            rows.append(f"| {scenario} | {mine['median']:.3f} s | {who} | {d['median']:.3f} s "
                        f"| {ratio:.2f}× |")
    for step, by_who in res.get("marginal_us_per_interface", {}).items():
        if "vnet" in by_who and "ip -batch" in by_who:
            ratio = by_who["vnet"] / by_who["ip -batch"] if by_who["ip -batch"] else float("inf")
            rows.append(f"| scale {step}: each added interface | {by_who['vnet']:.0f} µs | "
                        f"ip -batch | {by_who['ip -batch']:.0f} µs | {ratio:.2f}× |")
    for size, mib in res.get("peak_rss_apply_create_mib", {}).items():
        rows.append(f"| peak RSS of `vnet apply` (create-{size}) | {mib:.0f} MiB | | | |")
    floors = floor_rows(res)
    if floors:
        rows += ["", "| scenario | floor (median) | reference | reference (median) | floor's "
                 "ratio | target | in reach of a Python program |",
                 "|---|---|---|---|---|---|---|", *floors]
    return "\n".join(rows)


def floor_rows(res: dict[str, Any]) -> list[str]:
    """Each floor against the `ip` reference of its scenario, beside the scenario's target."""
    rows = []
    for scenario, by_who in res["scenarios"].items():
        target = TARGETS.get(scenario.split("-")[0])
        floor = by_who.get(FLOOR)
        refs = [(w, d) for w, d in by_who.items() if w not in ("vnet", FLOOR, "pyroute2 loop")]
        if floor is None or target is None or len(refs) != 1:
            continue
        who, ref = refs[0]
        ratio = floor["median"] / ref["median"] if ref["median"] else float("inf")
        rows.append(f"| {scenario} | {floor['median']:.3f} s | {who} | {ref['median']:.3f} s "
                    f"| {ratio:.2f}× | ≤ {target}× | {'yes' if ratio <= target else 'no'} |")
    return rows


# ---- the private namespace ------------------------------------------------------------------
def reexec_private(argv: list[str]) -> int:
    """Run this script again inside `unshare -n -m`, with private /run/netns and /run/vnet."""
    if os.geteuid() != 0:
        print("bench.py needs root (it creates namespaces and links, in a private namespace)",
              file=sys.stderr)
        return 2
    return subprocess.run(["unshare", "-n", "-m", "--propagation", "private", sys.executable,
                           str(Path(__file__).resolve()), INNER_FLAG, *argv]).returncode


def enter_private_dirs() -> None:
    for d in ("/run/netns", "/run/vnet"):
        os.makedirs(d, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", d], check=True)
    ip("link", "set", "lo", "up")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if INNER_FLAG not in argv:
        return reexec_private(argv)
    argv = [a for a in argv if a != INNER_FLAG]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    # the benchmark's own files reach 50,000 interfaces, past the loader's defaults for a
    # file of unknown origin: only a vnet given such a file runs with them raised (env_for)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", default="500,2000,10000",
                   help="comma-separated interface counts of create/noop/change/destroy (pairs "
                        "= size/2)")
    p.add_argument("--star", default="",
                   help="comma-separated namespace counts of star (default: size/10 of each "
                        "size of at least 2000, else of the largest)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--scale", default="1000,10000,50000",
                   help="comma-separated sizes for the scale scenario ('' to skip)")
    p.add_argument("--scale-rounds", type=int, default=1)
    p.add_argument("--only", default="",
                   help="comma-separated steps: startup,create,noop,show,change,floor,pyroute2,"
                        "star,scale,rootless")
    p.add_argument("--ipv6", choices=("on", "off"), default="on",
                   help="IPv6 in the benchmark's namespace: on (the kernel's default) or off, "
                        "where this kernel's own cost per interface stays nearly constant")
    p.add_argument("--json", default=str(ROOT / ".cache" / "bench.json"))
    args = p.parse_args(argv)
    enter_private_dirs()
    if args.ipv6 == "off":  # this private namespace's own sysctls (and its new links')
        subprocess.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                        "net.ipv6.conf.default.disable_ipv6=1"], check=True)
    compile_vnet()
    only = set(args.only.split(",")) if args.only else None
    if only and "create" not in only and ({"noop", "show", "change", "floor",
                                           "pyroute2"} & only):
        only.add("create")
    scale_sizes = [int(s) for s in args.scale.split(",") if s]
    sizes = [int(s) for s in args.size.split(",") if s]
    stars = [int(s) for s in args.star.split(",") if s] or \
        [max(1, s // 10) for s in sizes if s >= 2000] or [max(1, max(sizes) // 10)]
    with tempfile.TemporaryDirectory(prefix="vnet-bench-") as tmp:
        bench = Bench(sizes, stars, args.rounds, scale_sizes, args.scale_rounds, Path(tmp),
                      only)
        try:
            bench.run_all()
        except Failed as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
        res = bench.results()
    res["ipv6"] = args.ipv6
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    print(table(res))
    print(f"\n(JSON: {args.json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
