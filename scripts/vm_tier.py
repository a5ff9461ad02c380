#!/usr/bin/env python3
"""The kernel tier: run tests/live inside a VM that boots Debian's distribution kernel.

On the host (default):
    vm_tier.py [--results DIR] [--timeout SECONDS] [--memory SIZE] [--workers N]
               [-- PYTEST_ARGS...]
fetches the kernel package that `linux-image-amd64` depends on (apt-get download, unpacked
with dpkg-deb into .cache/kernel/, cached), boots it with virtme-ng (vng, from .venv) under
TCG, and runs pytest once inside the guest, which writes its junit XML, log and exit status
into DIR (a --rwdir, the only directory the guest writes through to the host).

vng's exit status and console are not reliable here (the guest falls back to the serial
console and vng exits 255 even on success), so the verdict comes from DIR/kernel.xml and
DIR/kernel.rc only. Exit status 0 means: tests ran, none failed, and every skip is one that a
kind's `may_skip` allows (tests/live/conftest.py fails the others and tags these).

Inside the guest (`--guest`, passed by the host side): keeps module autoloading from adding
devices to the guest's root namespace, runs pytest with VNET_TEST_TIER=kernel (the live tests'
kernel-tier rules: a failing modprobe fails, a skip fails unless may_skip allows it), records
its exit status. pytest runs in pytest-xdist workers, one per guest CPU (vng gives the guest
as many as the host has; QEMU runs each in a host thread of its own), at most MAX_WORKERS;
`--workers N` (or VNET_VM_WORKERS) sets the number, 0 or 1 runs the suite in one process.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from junit_report import ReportError, failure_lines, read_run, summary_line, unallowed_skips

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
KERNEL_CACHE = REPO / ".cache" / "kernel"
META_PACKAGE = "linux-image-amd64"
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
MODPROBE_CONF = Path("/etc/modprobe.d/vnet-tests.conf")
# A boot reaches the guest command in ~7 s here; far past that, the VM is stuck.
BOOT_TIMEOUT = 600
# pytest-xdist workers in the guest at most: past the host's free cores more vCPUs only share
# the same cores, and each worker holds its own warm imports (~60 MB after warm_up).
MAX_WORKERS = 4
# pytest arguments by which a caller chooses xdist's workers (or no xdist) for itself
_XDIST_CHOICES = ("-n", "--numprocesses", "--dist", "no:xdist", "-pno:xdist")
_XDIST_PREFIXES = ("-n", "--numprocesses=", "--dist=")


class TierError(Exception):
    """The tier could not run or its results are unusable; the message says why."""


def _path_with(*first: Path | str) -> str:
    entries = [str(p) for p in first] + os.environ.get("PATH", "").split(os.pathsep)
    entries += [d for d in SYSTEM_PATH if d not in entries]
    return os.pathsep.join(dict.fromkeys(e for e in entries if e))


def _run(argv: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise TierError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def resolve_kernel_package() -> tuple[str, str]:
    """(package, version) of the versioned image that linux-image-amd64's candidate needs."""
    record = _run(["apt-cache", "show", "--no-all-versions", META_PACKAGE])
    match = re.search(r"^Depends:.*?(linux-image-[\w.+-]+)\s*\(=\s*([^)\s]+)\)", record, re.M)
    if not match:
        raise TierError(f"no versioned linux-image dependency in `apt-cache show {META_PACKAGE}`")
    return match[1], match[2]


def _modules_base(root: Path, kver: str) -> Path:
    """The directory that `depmod -b` needs: the one holding lib/modules/KVER."""
    for base in (root, root / "usr"):
        if (base / "lib" / "modules" / kver).is_dir():
            return base
    raise TierError(f"the kernel package has no lib/modules/{kver}")


def fetch_kernel(cache: Path) -> Path:
    """The vmlinuz of Debian's current distribution kernel, unpacked under `cache`.

    Each package version gets its own directory; a cached one is reused. If apt cannot
    resolve the package (no lists, no network) the newest cached kernel is used instead.
    """
    cache.mkdir(parents=True, exist_ok=True)
    try:
        package, version = resolve_kernel_package()
    except TierError as error:
        cached = sorted(cache.glob("*/boot/vmlinuz-*"), key=lambda p: p.stat().st_mtime)
        if not cached:
            raise TierError(
                f"cannot find the kernel package ({error}); run apt-get update"
            ) from None
        print(f"warning: {error}; using the cached {cached[-1]}")
        return cached[-1]
    kver = package.removeprefix("linux-image-")
    root = cache / f"{package}_{version}"
    vmlinuz = root / "boot" / f"vmlinuz-{kver}"
    if vmlinuz.is_file():
        print(f"kernel: {package} {version} (cached in {root.relative_to(REPO)})")
        return vmlinuz
    print(f"kernel: downloading {package} {version}")
    with tempfile.TemporaryDirectory(dir=cache, prefix=".partial-") as partial:
        work = Path(partial)
        _run(
            ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", f"{package}={version}"],
            cwd=work,
        )
        debs = list(work.glob("*.deb"))
        if len(debs) != 1:
            raise TierError(f"apt-get download left {len(debs)} .deb files, expected 1")
        unpacked = work / "root"
        _run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)])
        # Debian ships no modules.dep (postinst makes it); the guest's modprobe needs it.
        _run(["depmod", "-a", "-b", str(_modules_base(unpacked, kver)), kver])
        for old in cache.iterdir():
            if old.is_dir() and not old.name.startswith(".") and old != root:
                shutil.rmtree(old)
        try:
            unpacked.rename(root)
        except OSError:
            if not vmlinuz.is_file():  # else a concurrent run unpacked the same version first
                raise
    if not vmlinuz.is_file():
        raise TierError(f"{package} did not contain boot/vmlinuz-{kver}")
    return vmlinuz


def _print_new_lines(log: Path, offset: int) -> int:
    """Print the complete lines added to `log` since `offset`; return the new offset."""
    try:
        with log.open("rb") as stream:
            stream.seek(offset)
            chunk = stream.read()
    except FileNotFoundError:
        return offset
    complete = chunk[: chunk.rfind(b"\n") + 1]
    for line in complete.decode(errors="replace").splitlines():
        print(f"  [vm] {line}", flush=True)
    return offset + len(complete)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop vng and the qemu it started (its own session, so its process group)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"    ({path} does not exist)"
    return "\n".join(f"    {line}" for line in text[-lines:])


def precompile() -> None:
    """Write the bytecode of vnet and the tests on the host, where it is cheap: the guest sees
    the checkout read-only, so any module without a current .pyc is compiled again, under TCG,
    by every Python process there (pytest and each of its workers)."""
    _run([sys.executable, "-m", "compileall", "-q", "-j", "0", "src", "scripts", "tests"], cwd=REPO)


def xdist_args(pytest_args: list[str], cpus: int, workers: int | None) -> list[str]:
    """The pytest-xdist arguments for the guest's pytest: `workers` processes (None: one per
    guest CPU, at most MAX_WORKERS), each given tests as it frees up (`worksteal`: the kernel
    tier's tests take 1 to 70 s, so fixed shares would leave a worker idle at the end).
    None when one process would run them anyway, or when `pytest_args` already choose."""
    chosen = any(arg in _XDIST_CHOICES or arg.startswith(_XDIST_PREFIXES) for arg in pytest_args)
    count = min(cpus, MAX_WORKERS) if workers is None else workers
    if chosen or count < 2:
        return []
    return ["-n", str(count), "--dist", "worksteal"]


def boot_and_test(
    vmlinuz: Path,
    results: Path,
    memory: str,
    timeout: float,
    pytest_args: list[str],
    workers: int | None = None,
) -> None:
    """Boot the kernel, run the live suite once inside it, and judge the results."""
    results.mkdir(parents=True, exist_ok=True)
    xml, log, rc_file, vng_log = (
        results / n for n in ("kernel.xml", "kernel.log", "kernel.rc", "vng.log")
    )
    for stale in (xml, log, rc_file, vng_log):
        stale.unlink(missing_ok=True)
    command = [
        str(VENV_BIN / "vng"), "--run", str(vmlinuz), "--disable-kvm", "--memory", memory,
        "--rwdir", str(results), "--verbose", "--",
        str(VENV_BIN / "python"), str(Path(__file__).resolve()), "--guest",
        "--results", str(results),
        *(["--workers", str(workers)] if workers is not None else []),
        "--", *pytest_args,
    ]  # fmt: skip
    print(
        f"booting {vmlinuz.name} under TCG (timeout {timeout:.0f} s); console in {vng_log}",
        flush=True,
    )
    started = time.monotonic()
    offset = 0
    with vng_log.open("wb") as console:
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PATH": _path_with(VENV_BIN)},
            start_new_session=True,
        )
        try:
            while proc.poll() is None:
                elapsed = time.monotonic() - started
                if elapsed > BOOT_TIMEOUT and not log.exists():
                    raise TierError(
                        f"the VM did not start the tests within {BOOT_TIMEOUT} s (boot hung?); "
                        f"stopped it. End of its console ({vng_log}):\n{_tail(vng_log, 40)}"
                    )
                if elapsed > timeout:
                    raise TierError(f"the VM did not finish within {timeout:.0f} s; stopped it")
                offset = _print_new_lines(log, offset)
                time.sleep(2)
        except BaseException:
            _stop(proc)
            raise
    _print_new_lines(log, offset)
    print(
        f"VM ran {time.monotonic() - started:.0f} s (vng exit status {proc.returncode}: not used)"
    )
    if not xml.is_file():
        raise TierError(
            "the VM wrote no junit XML: it did not boot, or pytest did not run inside it.\n"
            f"  end of the guest's pytest log ({log}):\n{_tail(log, 15)}\n"
            f"  end of the VM console ({vng_log}):\n{_tail(vng_log, 40)}"
        )
    try:
        run = read_run(xml)
    except ReportError as error:
        raise TierError(str(error)) from None
    skips = [f"SKIPPED {case.name} - {case.message}" for case in run.cases
             if case.outcome == "skipped"]
    print("\n".join([*failure_lines(run), *skips, f"kernel tier: {summary_line(run)}"]))
    if not run.cases:
        raise TierError("zero tests ran in the VM")
    if run.count("failed"):
        raise TierError(f"{run.count('failed')} test(s) failed in the VM")
    # conftest turns every other skip into a failure; one without the tag got past that rule
    # (a collection-time skip, or a guest run without VNET_TEST_TIER): it is no pass either
    unexplained = unallowed_skips(run)
    if unexplained:
        listed = "\n".join(f"  SKIPPED {case.name} - {case.message}" for case in unexplained)
        raise TierError(
            f"{len(unexplained)} test(s) skipped in the VM without a kind's may_skip allowing "
            f"it (the distribution kernel has every other kind):\n{listed}"
        )
    rc = rc_file.read_text().strip() if rc_file.is_file() else None
    if rc != "0":
        raise TierError(
            f"pytest in the VM exited {rc or '(not recorded)'} though the XML shows no failure:\n"
            f"{_tail(log, 15)}"
        )


def run_in_guest(results: Path, pytest_args: list[str], workers: int | None = None) -> int:
    """Inside the VM: run the live suite once (in pytest-xdist workers as `xdist_args`
    decides), writing XML, log and exit status to `results`."""
    if "virtme" not in Path("/proc/cmdline").read_text():
        print("error: --guest runs only inside the virtme-ng VM", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    from tests.live.helpers import TIER_ENV, module_options

    # /etc is a throwaway overlay in the guest. Autoloaded modules get these options too.
    MODPROBE_CONF.write_text(
        "".join(f"options {module} {' '.join(opts)}\n" for module, opts in module_options().items())
    )
    env = {
        **os.environ,
        TIER_ENV: "kernel",
        "PATH": _path_with(VENV_BIN),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    cpus = os.cpu_count() or 1
    parallel = xdist_args(pytest_args, cpus, workers)
    command = [
        sys.executable, "-m", "pytest", "tests/live", "-p", "no:cacheprovider", "-v", "-rfEs",
        "--durations=15", f"--junitxml={results / 'kernel.xml'}", *parallel, *pytest_args,
    ]  # fmt: skip
    with (results / "kernel.log").open("w") as log:
        log.write(
            f"guest kernel {os.uname().release}, {cpus} CPUs, "
            + (f"{parallel[1]} pytest-xdist workers\n" if parallel else "one pytest process\n")
        )
        log.flush()
        rc = subprocess.run(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        ).returncode
    (results / "kernel.rc").write_text(f"{rc}\n")
    os.sync()
    return rc


def _workers(text: str) -> int:
    """A worker count from the command line or VNET_VM_WORKERS: a whole number, 0 or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(
            f"a whole number of workers is needed (also in VNET_VM_WORKERS; 0 or 1: one "
            f"pytest process), not {text!r}"
        )
    return int(text)


def exit_on_termination() -> None:
    """SIGTERM and SIGHUP (a CI's timeout, a closed terminal) end this process by SystemExit,
    as Ctrl-C does by KeyboardInterrupt, so boot_and_test stops the VM it started: by default
    those signals end Python at once and leave qemu running."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, leave)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=REPO / ".cache" / "results" / "kernel")
    parser.add_argument(
        "--timeout", type=float, default=float(os.environ.get("VNET_VM_TIMEOUT", 3900))
    )
    parser.add_argument("--memory", default="2G")
    parser.add_argument(
        "--workers",
        type=_workers,
        default=os.environ.get("VNET_VM_WORKERS"),  # argparse converts a string default
        help=f"pytest-xdist workers in the VM (default: one per guest CPU, at most "
        f"{MAX_WORKERS}; 0 or 1: one pytest process)",
    )
    parser.add_argument("--guest", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest inside the VM (after --)")
    args = parser.parse_args(argv)
    results = args.results.resolve()
    if args.guest:
        return run_in_guest(results, args.pytest_args, args.workers)
    exit_on_termination()
    try:
        precompile()
        boot_and_test(
            fetch_kernel(KERNEL_CACHE), results, args.memory, args.timeout, args.pytest_args,
            args.workers,
        )
    except TierError as error:
        print(f"KERNEL TIER FAILED: {error}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
