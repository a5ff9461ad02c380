"""pyroute2's package imported without its `__init__` once the door is imported
(vnet.door.pyroute2_package): the saving, and pyroute2 whole for whoever asks more of it."""

from __future__ import annotations

import subprocess
import sys

#: what pyroute2's `__init__` imports that the door never uses
UNUSED = ("pyroute2.ndb.main", "pyroute2.ipdb", "pyroute2.conntrack", "pyroute2.ipset",
          "pyroute2.netlink.nl80211", "pyroute2.plan9.server")


def _run(code: str) -> list[str]:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True).stdout.splitlines()


def _loaded(names: tuple[str, ...]) -> str:
    return f"print(' '.join(n for n in {names!r} if n in sys.modules))\n"


def test_the_door_imports_pyroute2s_iproute_without_the_rest_of_the_library() -> None:
    out = _run("import sys, vnet.door.netlink\n"
               "from pyroute2.iproute import IPRoute\n"
               "from pyroute2.netlink.exceptions import NetlinkError\n"
               "from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg\n"
               "print(IPRoute.__name__, NetlinkError.__name__, ifinfmsg.__name__)\n"
               + _loaded(UNUSED))
    assert out[0] == "IPRoute NetlinkError ifinfmsg"
    assert out[1:] in ([""], []), out


def test_without_the_door_pyroute2_imports_as_usual() -> None:
    # the same imports in a process that never imported the door: the whole library
    out = _run("import sys\nfrom pyroute2.iproute import IPRoute\n" + _loaded(UNUSED))
    assert out == [" ".join(UNUSED)]


def test_any_name_of_the_package_gives_pyroute2_whole() -> None:
    out = _run("import sys, vnet.door\n"
               "import pyroute2, pyroute2.iproute\n"
               + _loaded(("pyroute2.ndb.main",)) +
               "print(pyroute2.IPRoute is pyroute2.iproute.IPRoute, pyroute2.__version__)\n"
               + _loaded(UNUSED) +
               "from pyroute2 import NDB, IPRoute\n"
               "print(NDB.__name__, len(pyroute2.__all__))\n"
               "try:\n"
               "    pyroute2.no_such_name\n"
               "except AttributeError as exc:\n"
               "    print(exc)\n")
    whole = _run("import pyroute2\nprint(pyroute2.__version__, len(pyroute2.__all__))")[0]
    version, names = whole.split()
    assert out[0] == ""
    assert out[1] == f"True {version}"
    assert out[2] == " ".join(UNUSED)
    assert out[3] == f"NDB {names}"
    assert out[4] == "module 'pyroute2' has no attribute 'no_such_name'"


def test_a_submodule_asked_of_the_package_is_imported_alone() -> None:
    # `from pyroute2 import config` (as pyroute2's own modules write it) imports the module
    out = _run("import sys, vnet.door\n"
               "from pyroute2 import config\n"
               "print(config.__name__)\n" + _loaded(UNUSED))
    assert out[0] == "pyroute2.config"
    assert out[1:] in ([""], []), out


def test_another_pyroute2_series_or_one_imported_first_is_left_alone() -> None:
    # a series the finder was not made with: pyroute2's own `__init__` runs at once
    out = _run("import sys\n"
               "from vnet.door import pyroute2_package\n"
               "pyroute2_package.SERIES = '0.10.'\n"
               "from pyroute2.iproute import IPRoute\n" + _loaded(("pyroute2.ndb.main",)))
    assert out == ["pyroute2.ndb.main"]
    # pyroute2 imported before the door: the finder is not installed
    out = _run("import sys, pyroute2\n"
               "import vnet.door\n"
               "from vnet.door import pyroute2_package\n"
               "print(any(f is pyroute2_package._Finder for f in sys.meta_path))\n")
    assert out == ["False"]


def test_the_package_keeps_its_files_and_its_loaders_answers() -> None:
    out = _run("import sys, importlib.resources, vnet.door\n"
               "import pyroute2.iproute\n"
               "package = sys.modules['pyroute2']\n"
               "print(package.__spec__.loader.is_package('pyroute2'),\n"
               "      importlib.resources.files('pyroute2').joinpath('iproute').is_dir(),\n"
               "      package.__file__.endswith('__init__.py'))\n" + _loaded(UNUSED))
    assert out[0] == "True True True"
    assert out[1:] in ([""], []), out
