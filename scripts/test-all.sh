#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run). On a fresh Debian 12 machine, as
# root: installs the Debian packages and the .venv the tests need, then runs the tiers
#   unit    tests/unit, no root needed
#   live    tests/live on this machine's kernel, each test in its own network/mount namespace;
#           then tests/rootless: the pytest plugin's tests as root, and the rootless lifecycle
#           and plugin tests as an unprivileged user (vnet-test, made here if missing)
#   kernel  tests/live again, inside a VM booting Debian's distribution kernel (virtme-ng, TCG)
# and prints a kind x tier matrix. Every selected tier runs even if an earlier one failed; the
# exit status is non-zero if any failed, including one that could not run or ran no test, or
# (in a full run of both live tiers) if a registered kind passed no test in either.
# Details: docs/testing.md
# shellcheck disable=SC2317  # the tier_* functions are called indirectly, as "tier_$tier"
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/test-all.sh [--tier unit|live|kernel|all]... [--no-setup] [-- PYTEST_ARGS...]
  --tier T     run only tier T (repeatable; default: all three)
  --no-setup   skip apt-get and pip (reuse the machine's packages and .venv as they are)
  -- ARGS      extra arguments for every tier's pytest (e.g. -- -k bridge)
EOF
}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

APT_PACKAGES=(
  iproute2 iputils-ping kmod           # ip, ping, modprobe/depmod (the guest uses the host's)
  qemu-system-x86 busybox-static       # the kernel tier's VM and its initramfs
  libteam-utils                        # teamd/teamdctl for the team kind
  netplan.io                           # netplan generate: proves vnet export --to netplan
  graphviz                             # dot: vnet draw's svg and png pictures
  strace                               # reads tc's netem request, to compare vnet's bytes
  zsh fish groff-base                  # completion scripts and vnet(1) checked (unit tier)
  python3-venv                         # python3 -m venv on Debian's own python
  openssh-server openssh-client        # the many-hosts tests' hosts: an sshd each, Ansible's ssh
)
RESULTS=.cache/results
PY=.venv/bin/python

tiers=()
setup=1
pytest_args=()
while (($#)); do
  case "$1" in
    --tier | --tier=*)
      if [[ $1 == --tier ]]; then
        (($# >= 2)) || { usage >&2; exit 2; }
        tier=$2
        shift 2
      else
        tier=${1#--tier=}
        shift
      fi
      case "$tier" in
        unit | live | kernel) tiers+=("$tier") ;;
        all) tiers+=(unit live kernel) ;;
        *) echo "unknown tier: $tier" >&2; usage >&2; exit 2 ;;
      esac
      ;;
    --no-setup) setup=0; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; pytest_args=("$@"); break ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
((${#tiers[@]})) || tiers=(unit live kernel)

banner() { printf '\n=== %s ===\n' "$*"; }

# Runs a command with its output in a log file; on failure shows the log's end and stops.
logged() {
  local log=$1 rc=0
  shift
  "$@" >>"$log" 2>&1 || rc=$?
  if ((rc)); then
    echo "FAILED: $* (exit status $rc); end of $log:"
    tail -n 30 "$log" | sed 's/^/    /'
    exit 1
  fi
}

setup() {
  local log=$RESULTS/setup.log
  : >"$log"
  banner "setup"
  if ((EUID == 0)); then
    echo "apt-get: ${APT_PACKAGES[*]} (log: $log)"
    export DEBIAN_FRONTEND=noninteractive
    logged "$log" apt-get update -q
    # no package's service starts on this machine (openssh-server would start a host-wide
    # sshd): the many-hosts tests run their own, inside their namespaces
    local policy=/usr/sbin/policy-rc.d made_policy=
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT  # also when the install fails and we stop
    fi
    logged "$log" apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
    if [[ -n $made_policy ]]; then rm -f "$policy"; trap - EXIT; fi
  else
    echo "not root: skipping apt-get (the live and kernel tiers need root anyway)"
  fi
  [[ -f pyproject.toml ]] || { echo "FAILED: no pyproject.toml at $(pwd)"; exit 1; }
  echo "venv: .venv, pip install -e '.[test]' (log: $log)"
  logged "$log" python3 -m venv .venv
  logged "$log" .venv/bin/pip install -q -e '.[test]'
}

# Judges one pytest run by its exit status and its junit XML.
check_pytest() {
  local name=$1 rc=$2 xml=$3
  case $rc in
    0) ;;
    5) echo "FAILED: tier $name ran no tests (pytest exit status 5)"; return 1 ;;
    *) echo "FAILED: tier $name: pytest exit status $rc"; return 1 ;;
  esac
  [[ -f $xml ]] || { echo "FAILED: tier $name wrote no results file $xml"; return 1; }
}

tier_unit() {
  local rc=0
  "$PY" -m pytest tests/unit -q --junitxml="$RESULTS/unit.xml" "${pytest_args[@]}" || rc=$?
  check_pytest unit "$rc" "$RESULTS/unit.xml"
}

tier_live() {
  if ((EUID != 0)); then
    echo "FAILED: the live tier needs root (it creates interfaces in private namespaces)"
    return 1
  fi
  local rc=0
  # tests/bench: the benchmark's smoke run, host only (see its docstring). Two pytest-xdist
  # workers (VNET_LIVE_WORKERS; 0 or 1: one process): most live tests wait on the kernel or on
  # a vnet start, so two at once take the run's wall time down by about a third on 2 cores.
  local workers=${VNET_LIVE_WORKERS:-2} xdist=()
  if [[ ! $workers =~ ^[0-9]+$ ]]; then
    echo "FAILED: VNET_LIVE_WORKERS must be a whole number, not '$workers'"
    return 1
  fi
  if ((workers > 1)); then xdist=(-n "$workers" --dist worksteal); fi
  "$PY" -m pytest tests/live tests/bench -q -rfEs "${xdist[@]}" --junitxml="$RESULTS/live.xml" \
    "${pytest_args[@]}" || rc=$?
  check_pytest live "$rc" "$RESULTS/live.xml" || rc=1
  echo "--- rootless (tests/rootless; docs/testing.md: Rootless)"
  if ! rootless_steps; then
    echo "FAILED: the rootless tests (tests/rootless) failed"
    rc=1
  fi
  return "$((rc != 0))"
}

ROOTLESS_USER=${VNET_TEST_USER:-vnet-test}

# The python the unprivileged user runs: the .venv's own if that user may run it (and import
# vnet and pytest with it); otherwise (a .venv whose interpreter lives under a directory closed
# to others, e.g. pyenv under /root) Debian's python3 in a small venv of its own that reads the
# .venv's packages (same Python minor version, so the same compiled wheels).
rootless_python() {
  if runuser -u "$ROOTLESS_USER" -- "$PWD/$PY" -c 'import vnet, pytest' >/dev/null 2>&1; then
    echo "$PWD/$PY"
    return
  fi
  local venv=$PWD/.cache/rootless-venv site
  site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  rm -rf "$venv"
  /usr/bin/python3 -m venv --without-pip "$venv" >&2
  "$venv/bin/python" -c "import sys; assert sys.version_info[:2] == $("$PY" -c 'import sys; print(tuple(sys.version_info[:2]))')" >&2
  echo "import site; site.addsitedir('$site')" >"$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/vnet-dot-venv.pth"
  chmod -R o+rX "$venv"
  echo "$venv/bin/python"
}

# tests/rootless: the pytest plugin's tests as root, then the rootless lifecycle of the host's
# kinds and the plugin's tests as the unprivileged user; each pytest summary is printed.
rootless_steps() {
  local rc=0 upy scratch
  rm -f "$RESULTS"/rootless-*.xml
  if ! id -u "$ROOTLESS_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      "$ROOTLESS_USER"
  fi
  # the user reads the checkout (CI clones it as root): open it to reading
  chmod -R o+rX src tests examples .venv README.md pyproject.toml 2>/dev/null || true
  echo "--- tests/rootless (the plugin and the README example) as root"
  "$PY" -m pytest tests/rootless/test_plugin.py tests/rootless/test_readme_fixture.py -q \
    -p no:cacheprovider -rfE \
    --junitxml="$RESULTS/rootless-root.xml" || rc=1
  scratch=$(mktemp -d)
  chmod 0755 "$scratch"
  local tree=$PWD pythonpath=
  if ! runuser -u "$ROOTLESS_USER" -- test -r "$PWD/tests/rootless/conftest.py"; then
    # a directory above the checkout is closed to others (a clone under /root): the user runs
    # a copy of the tree (hard links, so no space) with the .venv's packages beside it
    tree=$scratch/tree
    mkdir -p "$tree"
    cp -al src tests examples README.md pyproject.toml "$tree/"
    cp -al "$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
      "$tree/site-packages"
    chmod -R o+rX "$tree"
    pythonpath=$tree/src:$tree/site-packages
    echo "(user $ROOTLESS_USER cannot read $PWD: running a linked copy in $tree)"
  fi
  if [[ -n $pythonpath ]]; then
    upy=/usr/bin/python3
  else
    upy=$(rootless_python) || { echo "FAILED: no python that $ROOTLESS_USER may run"; return 1; }
  fi
  mkdir -p "$scratch/home"
  chown "$ROOTLESS_USER" "$scratch/home"
  echo "--- tests/rootless as user $ROOTLESS_USER ($upy)"
  (cd "$tree" && runuser -u "$ROOTLESS_USER" -- env -i PATH="/usr/bin:/bin:/usr/sbin:/sbin" \
    LANG=C.UTF-8 HOME="$scratch/home" TMPDIR="$scratch/home" PYTHONPATH="$pythonpath" \
    "$upy" -m pytest tests/rootless -q -p no:cacheprovider \
    -rfE --junitxml="$scratch/home/rootless-user.xml") || rc=1
  cp "$scratch/home/rootless-user.xml" "$RESULTS/rootless-user.xml" 2>/dev/null || rc=1
  rm -rf "$scratch"
  return "$rc"
}

tier_kernel() {
  "$PY" scripts/vm_tier.py --results "$RESULTS/kernel" -- "${pytest_args[@]}"
}

mkdir -p "$RESULTS"
if ((setup)); then
  setup
fi
[[ -x $PY ]] || { echo "FAILED: $PY missing: run without --no-setup"; exit 1; }

declare -A xml=([unit]=$RESULTS/unit.xml [live]=$RESULTS/live.xml [kernel]=$RESULTS/kernel/kernel.xml)
declare -A verdict=()
failed=0
for tier in unit live kernel; do
  [[ " ${tiers[*]} " == *" $tier "* ]] || continue
  rm -f "${xml[$tier]}"
  banner "tier: $tier"
  start=$SECONDS
  if "tier_$tier"; then
    verdict[$tier]="ok in $((SECONDS - start)) s"
  else
    verdict[$tier]="FAILED after $((SECONDS - start)) s"
    failed=1
  fi
done

banner "results"
matrix=()
for tier in live kernel; do
  if [[ -n ${verdict[$tier]:-} ]]; then
    matrix+=("$tier=${xml[$tier]}")
  fi
done
if ((${#matrix[@]})); then
  # every registered kind gets a row and must pass a test in a tier that ran
  kinds_rc=0
  kinds=$("$PY" -c 'from vnet.kinds import ordered; print(",".join(c.kind_name for c in ordered()))') ||
    kinds_rc=$?
  echo "kind x tier (a test with several kinds counts under each; '-': tier not run)"
  if ((kinds_rc)) || [[ -z $kinds ]]; then
    echo "FAILED: could not list the registered kinds from vnet.kinds (exit status $kinds_rc)"
    failed=1
    "$PY" scripts/junit_report.py matrix "${matrix[@]}" || failed=1
  elif [[ -n ${verdict[live]:-} && -n ${verdict[kernel]:-} ]] && ((${#pytest_args[@]} == 0)); then
    "$PY" scripts/junit_report.py matrix --kinds "$kinds" "${matrix[@]}" || failed=1
  else  # a partial run (one tier, or -- -k ...) cannot prove every kind: shown, not judged
    "$PY" scripts/junit_report.py matrix --kinds "$kinds" "${matrix[@]}" ||
      echo "(not judged: kinds are judged when both live tiers run in full)"
  fi
  echo
fi
files=()
for tier in unit live kernel; do
  if [[ -n ${verdict[$tier]:-} ]]; then
    echo "tier $tier: ${verdict[$tier]}"
    files+=("${xml[$tier]}")
  fi
done
if [[ -n ${verdict[live]:-} ]]; then  # the rootless runs of the live tier count too
  for extra in "$RESULTS"/rootless-root.xml "$RESULTS"/rootless-user.xml; do
    [[ -f $extra ]] && files+=("$extra")
  done
fi
"$PY" scripts/junit_report.py total "${files[@]}" || failed=1
exit "$failed"
