"""Shell completion: `vnet completion bash|zsh|fish` prints a script that completes commands,
options, live topology and namespace names and topology files; `vnet __complete` gives the
live values cheaply. The bash script is driven as bash drives it (COMP_WORDS, COMP_CWORD and
the completion function); zsh and fish scripts are syntax-checked, and fish is driven with
`complete -C`, when those shells are installed (scripts/test-all.sh installs them)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vnet import completion, store
from vnet.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
#: names the stub `vnet` on PATH answers `vnet __complete ...` with
STUB_TOPOLOGIES = ["lab", "lab2", "zoo"]
STUB_NAMESPACES = ["h1", "h2"]


def _vnet(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vnet", *args], capture_output=True,
                          text=True, cwd=ROOT, **kw)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def scripts() -> dict[str, str]:
    out = {}
    for shell in completion.SHELLS:
        proc = _vnet("completion", shell)
        assert proc.returncode == 0, proc.stderr
        out[shell] = proc.stdout
    return out


@pytest.fixture
def stub_path(tmp_path: Path) -> str:
    """A PATH whose `vnet` answers `__complete` with fixed names (the live values are
    tested on their own below), and a work directory with files to complete."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    stub = bindir / "vnet"
    stub.write_text("#!/bin/sh\ncase \"$2\" in\n"
                    f"  topologies) printf '%s\\n' {' '.join(STUB_TOPOLOGIES)} ;;\n"
                    f"  namespaces) printf '%s\\n' {' '.join(STUB_NAMESPACES)} ;;\nesac\n")
    stub.chmod(0o755)
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    for name in ("lab.yaml", "other.yml", "notes.txt", "sub/inner.yaml"):
        (work / name).write_text("")
    return f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"


def _bash_complete(script: str, words: list[str], path: str, cwd: Path) -> list[str]:
    """COMPREPLY after the completion function runs for `words` (the last one is the word
    being completed), as bash's programmable completion calls it."""
    driver = ("source /dev/stdin <<'VNET_SCRIPT'\n" + script + "VNET_SCRIPT\n"
              "COMP_WORDS=(\"$@\"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()\n"
              "_shtab_vnet\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", driver, "bash", *words],
                          capture_output=True, text=True, cwd=cwd, env={"PATH": path},
                          timeout=30, check=True)
    return [line for line in proc.stdout.splitlines() if line]


def test_the_bash_script_is_valid_bash(scripts: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "vnet.bash"
    path.write_text(scripts["bash"])
    subprocess.run(["bash", "-n", str(path)], check=True)
    assert "complete -o bashdefault -F _shtab_vnet vnet" in scripts["bash"]


@pytest.mark.parametrize(("words", "expected"), [
    (["vnet", "ap"], ["apply"]),
    (["vnet", "-q", "ap"], ["apply"]),
    (["vnet", "de"], ["destroy"]),
    (["vnet", "dow"], ["down"]),                                   # an alias
    (["vnet", "apply", "--ch"], ["--check"]),
    (["vnet", "validate", "--j"], ["--json"]),
    (["vnet", "apply", ""], ["lab.yaml", "other.yml", "sub"]),   # topology files and dirs
    (["vnet", "up", "sub/"], ["sub/inner.yaml"]),                  # the alias, too
    (["vnet", "validate", "la"], ["lab.yaml"]),
    (["vnet", "destroy", ""], sorted(STUB_TOPOLOGIES + ["lab.yaml", "other.yml", "sub"])),
    (["vnet", "down", "la"], ["lab", "lab.yaml", "lab2"]),
    (["vnet", "show", "z"], ["zoo"]),
    (["vnet", "capture", ""], STUB_TOPOLOGIES),
    (["vnet", "exec", ""], STUB_NAMESPACES),
    (["vnet", "capture", "--netns", "h"], STUB_NAMESPACES),
    (["vnet", "draw", "--format", ""], ["dot", "mermaid", "png", "svg"]),
    (["vnet", "export", "--to", ""], ["ip", "netplan", "networkd"]),
    (["vnet", "export", "la"], ["lab.yaml"]),
    (["vnet", "completion", ""], ["bash", "fish", "zsh"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0] == "vnet" else None)
def test_bash_completes(scripts: dict[str, str], stub_path: str, tmp_path: Path,
                        words: list[str], expected: list[str]) -> None:
    got = _bash_complete(scripts["bash"], words, stub_path, tmp_path / "work")
    assert sorted(got) == sorted(expected)


def test_bash_completes_with_the_real_vnet(scripts: dict[str, str], tmp_path: Path) -> None:
    """The script's calls reach `vnet __complete` itself: here a vnet whose state
    directories are made for the test (the host's own change while others work)."""
    netns, state = tmp_path / "netns", tmp_path / "vnet"
    netns.mkdir()
    state.mkdir()
    for name in ("ns-a", "ns-b"):
        (netns / name).write_text("")
    (state / "topo-a.json").write_text("{}")
    runner = ("import sys; from vnet import completion, store; "
              f"completion.NETNS_DIR = {str(netns)!r}; store.STATE_DIR = {str(state)!r}; "
              "completion._marked_owners = set; sys.argv[0] = 'vnet'; "
              "from vnet.cli import main; sys.exit(main())")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "vnet"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -c {shlex.quote(runner)} \"$@\"\n")
    wrapper.chmod(0o755)
    env_path = f"{bindir}:/usr/bin:/bin"
    assert _bash_complete(scripts["bash"], ["vnet", "exec", ""], env_path, ROOT) == \
        ["ns-a", "ns-b"]
    assert _bash_complete(scripts["bash"], ["vnet", "capture", ""], env_path, ROOT) == \
        ["topo-a"]


def test_the_hidden_helper_is_in_no_script_and_no_help(scripts: dict[str, str]) -> None:
    for text in scripts.values():
        assert "__complete topologies" in text  # called...
        assert "'__complete'" not in text and " __complete)" not in text  # ...not offered
    assert "__complete" not in _vnet("--help").stdout
    assert _vnet("__complete", "namespaces").returncode == 0


def test_an_unknown_shell_is_refused() -> None:
    proc = _vnet("completion", "tcsh")
    assert proc.returncode == 2 and "invalid choice: 'tcsh'" in proc.stderr


def test_every_positional_argument_completes_something() -> None:
    """A new command's arguments get a completion from their names; one that gets none
    must be listed in completion._EXPLICIT on purpose."""
    kinds = completion.annotate(build_parser())
    parser = build_parser()
    for name, sub in completion.commands(parser).items():
        if name.startswith("_") or sub.prog != f"vnet {name}":
            continue
        for action in sub._positionals._group_actions:
            kind = kinds[(name, action.dest)]
            assert kind is not None or (name, action.dest) in completion._EXPLICIT, \
                f"vnet {name} {action.metavar or action.dest}: no completion"
    assert kinds[("exec", "netns")] == "namespace"
    assert kinds[("destroy", "target")] == "topology_or_yaml"
    assert kinds[("apply", "file")] == "yaml"


# ---- the live values ----------------------------------------------------------------------

def test_namespaces_are_the_entries_of_run_netns(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("h2", "h1", ".hidden"):
        (tmp_path / name).write_text("")
    monkeypatch.setattr(completion, "NETNS_DIR", str(tmp_path))
    assert completion.namespaces() == ["h1", "h2"]
    monkeypatch.setattr(completion, "NETNS_DIR", str(tmp_path / "missing"))
    assert completion.namespaces() == []


def test_topologies_join_records_and_marks(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("lab.json", "kinds-" + "0" * 36 + ".json", "lock", "x.json.tmp"):
        (tmp_path / name).write_text("{}")
    monkeypatch.setattr(store, "STATE_DIR", str(tmp_path))
    monkeypatch.setattr(completion, "_marked_owners", lambda: {"marked", "lab"})
    assert completion.topologies() == ["lab", "marked"]

    def unreadable() -> set[str]:
        raise PermissionError(1, "setns: Operation not permitted")
    monkeypatch.setattr(completion, "_marked_owners", unreadable)
    assert completion.topologies() == ["lab"]  # what can be read, and no error


def test_the_helper_imports_nothing_heavy() -> None:
    heavy = ("pydantic", "yaml", "rich", "pyroute2", "vnet.kinds", "vnet.loader", "vnet.api",
             "shtab")
    probe = ("import sys\nsys.argv = ['vnet', '__complete', 'topologies']\n"
             "from vnet.cli import main\nmain()\n"
             f"print('loaded:', *[n for n in {heavy!r} if n in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1].split() == ["loaded:"]


_OWNERS_SCRIPT = r"""
set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/vnet && echo '{}' > /run/vnet/recorded.json
ip netns add na && ip -n na link property add dev lo altname vnet.bysetns
ip netns add nb
ip netns add nc && ip link add va type veth peer name vb && ip link set vb netns nc
ip -n nc link property add dev lo altname vnet.bynsid
ip link property add dev va altname vnet.hostlinks.va
"$PY" -m vnet __complete topologies
echo --
"$PY" -m vnet __complete namespaces
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
                    reason="needs root, unshare and ip (a throwaway network namespace)")
def test_live_topologies_from_records_namespace_marks_and_link_marks() -> None:
    """In a throwaway network and mount namespace: a record, a namespace whose loopback is
    marked (entered with setns), one the caller's namespace knows by id (a veth crosses),
    an unmarked one, and a marked link where vnet runs."""
    proc = subprocess.run(["unshare", "-n", "-m", "--propagation", "private", "sh", "-c",
                           _OWNERS_SCRIPT], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PY": sys.executable,
                               "PYTHONPATH": str(ROOT / "src")})
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip(f"no namespaces here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    topologies, namespaces = proc.stdout.split("--\n")
    assert topologies.split() == ["bynsid", "bysetns", "hostlinks", "recorded"]
    assert namespaces.split() == ["na", "nb", "nc"]


# ---- zsh and fish -------------------------------------------------------------------------

@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed (apt-get install zsh)")
def test_the_zsh_script_is_valid_and_defines_its_functions(scripts: dict[str, str],
                                                           tmp_path: Path) -> None:
    script = tmp_path / "_vnet"
    script.write_text(scripts["zsh"])
    subprocess.run(["zsh", "-n", str(script)], check=True)
    assert scripts["zsh"].startswith("#compdef vnet")
    probe = (f"autoload -Uz compinit && compinit -u -D && source {script} && "
             "whence -w _shtab_vnet _vnet_topologies _vnet_namespaces _vnet_topology_or_file")
    out = subprocess.run(["zsh", "-f", "-c", probe], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                         timeout=30).stdout
    assert out.count(": function") == 4, out


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed (apt-get install "
                    "fish)")
def test_the_fish_script_is_valid_and_completes(scripts: dict[str, str], stub_path: str,
                                                tmp_path: Path) -> None:
    script = tmp_path / "vnet.fish"
    script.write_text(scripts["fish"])
    subprocess.run(["fish", "--no-execute", str(script)], check=True)

    def complete(line: str) -> list[str]:
        out = subprocess.run(["fish", "--no-config", "-c",
                              f"source {script}; complete -C {line!r}"],
                             capture_output=True, text=True, check=True, timeout=30,
                             cwd=tmp_path / "work",
                             env={"PATH": stub_path, "HOME": str(tmp_path)}).stdout
        return sorted(row.split("\t")[0] for row in out.splitlines())

    assert complete("vnet ap") == ["apply"]
    assert complete("vnet exec ") == STUB_NAMESPACES
    assert complete("vnet destroy ") == sorted(STUB_TOPOLOGIES
                                               + ["lab.yaml", "other.yml", "sub/"])
    assert complete("vnet apply ") == ["lab.yaml", "other.yml", "sub/"]
