"""Start-up stays lean: what a command imports before it does anything.

`vnet --help` must not pay for pydantic, PyYAML or the kinds, nor `vnet show`/`vnet list`,
nor `vnet destroy NAME` (its planner and the door ask the kind registry's trait sets, not the
kind classes); these tests hold the lazy imports in place (the benchmark's start-up row
measures what they save)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "yaml", "rich", "pyroute2", "vnet.kinds", "vnet.loader", "vnet.model")


def _imported(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of `names` a fresh interpreter has imported after running `code`."""
    probe = (f"{code}\nimport sys\n"
             f"print(' '.join(n for n in {names!r} if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout
    return out.split()


def _beyond_python(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of `names` running `code` imports that a bare interpreter has not (its site
    may import some already)."""
    return sorted(set(_imported(code, names)) - set(_imported("pass", names)))


def test_importing_the_cli_and_building_its_parser_imports_nothing_heavy() -> None:
    assert _imported("import vnet.cli; vnet.cli.build_parser()", HEAVY) == []


def test_the_cli_does_not_import_typing_or_dataclasses_unless_python_itself_did() -> None:
    # `typing` and `dataclasses` (which imports `inspect`) cost more than the rest of
    # `vnet --help`; compare with a bare interpreter, whose site may import them already
    assert _beyond_python("import vnet.cli; vnet.cli.build_parser()",
                          ("typing", "dataclasses", "inspect", "json")) == []


def test_validating_applying_and_destroying_import_neither_dataclasses_nor_inspect() -> None:
    # vnet's plain classes are vnet.datatypes: `dataclasses` (with `inspect`, `ast`, `dis`)
    # and making its classes were some 20 ms of a `vnet destroy` of 500 links, 34 of a
    # no-op apply
    names = ("dataclasses", "inspect", "ast", "dis")
    assert _beyond_python("import vnet.cli, vnet.loader, vnet.validate, vnet.api, vnet.plan, "
                          "vnet.apply, vnet.journal, vnet.door.netlink, vnet.sandbox, "
                          "vnet.render.plan_text, vnet.checks, vnet.kinds_probe", names) == []


def test_parsing_a_command_line_does_not_ask_the_terminal_for_its_width() -> None:
    # argparse sets up a help formatter for every option it adds, and setting one up imports
    # shutil to ask the terminal's width: only help and usage need it
    baseline = set(_imported("pass", ("shutil",)))
    for argv in (["validate", "x.yaml"], ["apply", "-y", "x.yaml"], ["destroy", "lab"],
                 ["show"], ["link", "lab", "h1/eth0", "down"]):
        after = set(_imported(f"import vnet.cli; vnet.cli.build_parser({argv[0]!r})"
                              f".parse_args({argv!r})", ("shutil",)))
        assert after <= baseline, argv
    # help still asks it (and is written as wide as the terminal, as argparse's own)
    assert _imported("import io, contextlib, vnet.cli\n"
                     "with contextlib.redirect_stdout(io.StringIO()):\n"
                     "    vnet.cli.build_parser('apply').print_help()", ("shutil",)) == ["shutil"]


#: what a teardown has no use for, each a millisecond or more of a `vnet destroy NAME` whose
#: kernel work at 500 links takes tens: teamd's and the sandbox holder's subprocess, the API's
#: pathlib, tempfile (a record is written without either), WireGuard's hashlib and
#: base64, rtnl's ipaddress (inet_pton and inet_ntop read and write the addresses), glob,
#: teamd's shutil (which finds the teamd program; with zlib, bz2 and lzma)
NOT_FOR_TEARDOWN = ("subprocess", "pathlib", "tempfile", "hashlib", "base64", "ipaddress",
                    "glob", "shutil")


def test_the_modules_of_a_teardown_import_nothing_it_does_not_use() -> None:
    # what `vnet destroy NAME` imports on its way (tests/live/test_destroy_imports.py holds
    # the whole command to it); compared with a bare interpreter, whose site may import some
    assert _beyond_python("import vnet.cli, vnet.sandbox, vnet.api, vnet.door.netlink, "
                          "vnet.plan, vnet.apply, vnet.journal, vnet.render.plan_text",
                          NOT_FOR_TEARDOWN) == []


def test_the_api_used_by_destroy_and_show_does_not_import_yaml() -> None:
    assert _imported("import vnet.api", ("yaml", "vnet.loader")) == []


def test_show_needs_neither_pydantic_nor_yaml_nor_the_kinds_to_start() -> None:
    # what `vnet show` and `vnet list` import before they read the kernel (the live test in
    # tests/live/test_show_live.py holds the whole command to it)
    assert _imported("import vnet.api, vnet.door.netlink, vnet.render.show_text",
                     ("pydantic", "yaml", "vnet.kinds", "vnet.model", "vnet.plan")) == []


def test_loading_still_works_through_the_lazy_names() -> None:
    out = subprocess.run([sys.executable, "-c", "import vnet; t = vnet.load_text("
                          "'name: t\\ninterfaces: [{name: d0, kind: dummy}]'); print(t.name)"],
                         check=True, capture_output=True, text=True).stdout
    assert out.strip() == "t"


def test_a_teardown_plan_of_veths_imports_neither_pydantic_nor_yaml() -> None:
    # what `vnet destroy NAME` runs between reading the kernel and deleting: the planner on
    # owned links (a veth pair, a bridge) and an owned namespace; the live test in
    # tests/live/test_destroy_imports.py holds the whole command to it
    code = (
        "from vnet.observe import LinkState, NetnsState, Observed\n"
        "from vnet.ownership import link_marker, netns_marker\n"
        "from vnet.plan import plan_teardown\n"
        "links = {n: LinkState(i, n, k, altnames=[link_marker('t', n)], up=True)\n"
        "         for i, n, k in [(2, 'va', 'veth'), (3, 'vb', 'veth'), (4, 'br0', 'bridge')]}\n"
        "links['lo'] = LinkState(1, 'lo', None)\n"
        "ns = NetnsState('n1', {'lo': LinkState(1, 'lo', None, altnames=[netns_marker('t')])})\n"
        "obs = Observed({None: NetnsState(None, links), 'n1': ns}, {'n1'})\n"
        "plan = plan_teardown('t', obs)\n"
        "print(sorted(a.subject for a in plan.actions))")
    probe = (f"{code}\nimport sys\n"
             f"print(' '.join(n for n in {HEAVY!r} if n in sys.modules and n != 'vnet.kinds'))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    assert out[0] == ("['link br0 (bridge)', 'link va (veth)', 'link vb (veth)', "
                      "'namespace n1']"), out
    assert out[1:] in ([""], []), out


#: what an apply has no use for: the record is written through os.open (tempfile's import
#: brings shutil, random, bz2 and lzma: ~3 ms), the source file's path is text (pathlib)
NOT_FOR_APPLY = ("tempfile", "pathlib", "shutil", "random")


def test_applying_and_applying_again_import_neither_tempfile_nor_pathlib(tmp_path: Path) -> None:
    code = ("from vnet import api, store\n"
            "from vnet.door.fake import FakeKernel\n"
            "from vnet.loader import load_file\n"
            f"store.STATE_DIR = {str(tmp_path)!r}\n"
            "topo, fake = load_file('examples/lab.yaml'), FakeKernel()\n"
            "assert api.apply(topo, backend=fake).has_changes\n"
            "assert not api.apply(topo, backend=fake).has_changes\n"
            "assert store.read_record('lab').source.endswith('examples/lab.yaml')")
    assert _beyond_python(code, NOT_FOR_APPLY) == []


#: what `vnet validate` of a good file has no use for: difflib (close-match hints of errors),
#: shutil (argparse's terminal width), importlib.metadata (pydantic's plugin loader, stood in
#: for), hosts.split (a file on one host)
NOT_FOR_VALIDATE = ("difflib", "shutil", "importlib.metadata", "email", "vnet.hosts.split")


def test_validating_a_good_file_imports_nothing_it_does_not_use() -> None:
    code = ("import contextlib, io, os, sys\n"
            "os.environ.pop('PYDANTIC_DISABLE_PLUGINS', None)\n"
            "import vnet.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    assert vnet.cli.main(['validate', 'examples/lab.yaml']) == 0\n"
            "assert 'valid' in out.getvalue()")
    assert _beyond_python(code, NOT_FOR_VALIDATE) == []


def test_planning_a_file_on_one_host_does_not_import_the_splitting_across_hosts() -> None:
    code = ("from vnet import api\n"
            "from vnet.door.fake import FakeKernel\n"
            "plan = api.plan(api.load_file('examples/lab.yaml'), backend=FakeKernel())\n"
            "assert plan.actions")
    assert _imported(code, ("vnet.hosts.split",)) == []
