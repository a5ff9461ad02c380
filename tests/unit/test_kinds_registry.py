"""The kind registry's lazy imports give the answers a full import gives."""

from __future__ import annotations

import json
import subprocess
import sys

from vnet import kinds


def test_each_kernel_kind_lives_in_one_kind_file() -> None:
    # by_kernel_kind trusts the first match among the files imported so far
    files: dict[str, set[str]] = {}
    for cls in kinds.registry().values():
        files.setdefault(cls.kernel_kind or cls.kind_name, set()).add(cls.__module__)
    assert {k: m for k, m in files.items() if len(m) > 1} == {}


def _in_fresh_process(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def test_by_kernel_kind_imports_only_the_file_named_after_it() -> None:
    seen = _in_fresh_process(
        "import json, sys\n"
        "from vnet import kinds\n"
        "assert kinds.by_kernel_kind(None) is None  # lo: no kind, no import\n"
        "cls = kinds.by_kernel_kind('veth')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('vnet.kinds.')\n"
        "                and m != 'vnet.kinds.base')\n"
        "print(json.dumps({'cls': cls.__qualname__, 'loaded': loaded}))\n")
    assert seen == {"cls": kinds.by_kernel_kind("veth").__qualname__,
                    "loaded": ["vnet.kinds.veth"]}


def test_by_kernel_kind_agrees_with_a_scan_of_every_kind() -> None:
    every = list(kinds.registry().values())
    names = {cls.kernel_kind or cls.kind_name for cls in every} | {"no-such-kind", None}
    for name in names:
        first = next((cls for cls in every if (cls.kernel_kind or cls.kind_name) == name), None)
        assert kinds.by_kernel_kind(name) is first, name
    # a kernel kind whose file has another name ("tun" lives in tuntap.py)
    fresh = _in_fresh_process(
        "import json\n"
        "from vnet import kinds\n"
        "print(json.dumps([kinds.by_kernel_kind(k).kind_name for k in ('tun', 'ipvtap')]))\n")
    assert fresh == [kinds.by_kernel_kind("tun").kind_name, "ipvtap"]


def test_the_registry_s_trait_sets_say_what_each_kind_s_class_says() -> None:
    # the door and a teardown read these sets instead of importing a kind's pydantic class
    by_kernel = {cls.kernel_kind or cls.kind_name for cls in kinds.registry().values()}
    classes = {k: kinds.by_kernel_kind(k) for k in by_kernel}
    from vnet.kinds.base import InterfaceBase
    base_removal = InterfaceBase.plan_removal
    assert {k for k, c in classes.items() if c.paired} == kinds.PAIRED
    assert {k for k, c in classes.items() if c.reads_tc} == kinds.READS_TC
    assert {k for k, c in classes.items() if "fdb" in c.model_fields} == kinds.KEEPS_FDB
    assert {k for k, c in classes.items()
            if c.plan_removal.__func__ is not base_removal.__func__} == kinds.REMOVAL_HOOKS


def test_every_kind_and_kernel_kind_not_named_after_its_file_is_in_files() -> None:
    # kinds.FILES names, for each such name, the class's own file
    expected = {}
    for cls in kinds.registry().values():
        for name in {cls.kind_name, cls.kernel_kind or cls.kind_name}:
            expected[name] = cls.__module__
    assert {n: m for n, m in expected.items() if m != f"vnet.kinds.{n}"} == \
        {n: f"vnet.kinds.{f}" for n, f in kinds.FILES.items()}


def test_a_kind_not_named_after_its_file_imports_that_file_alone() -> None:
    # lookup("tap") and by_kernel_kind("tun") imported every kind file before FILES
    seen = _in_fresh_process(
        "import json, sys\n"
        "from vnet import kinds\n"
        "out = {}\n"
        "for ask, name in [('lookup', 'tap'), ('lookup', 'tun'), ('lookup', 'ipvtap'),\n"
        "                  ('by_kernel_kind', 'tun'), ('by_kernel_kind', 'ipvtap')]:\n"
        "    for m in [m for m in sys.modules if m.startswith('vnet.kinds.')]:\n"
        "        del sys.modules[m]\n"
        "    kinds.REGISTRY.clear()\n"
        "    kinds._ALL_IMPORTED.clear()\n"
        "    cls = getattr(kinds, ask)(name)\n"
        "    out[f'{ask} {name}'] = [cls.kind_name, sorted(\n"
        "        m for m in sys.modules\n"
        "        if m.startswith('vnet.kinds.') and m != 'vnet.kinds.base')]\n"
        "print(json.dumps(out))\n")
    assert seen == {"lookup tap": ["tap", ["vnet.kinds.tuntap"]],
                    "lookup tun": ["tun", ["vnet.kinds.tuntap"]],
                    "lookup ipvtap": ["ipvtap", ["vnet.kinds.ipvlan"]],
                    "by_kernel_kind tun": [kinds.by_kernel_kind("tun").kind_name,
                                           ["vnet.kinds.tuntap"]],
                    "by_kernel_kind ipvtap": ["ipvtap", ["vnet.kinds.ipvlan"]]}


def test_a_kernel_kind_vnet_does_not_implement_imports_no_kind_file() -> None:
    # a host's sit0, gre0 or VRF, decoded while observing: no class, and no kind file
    seen = _in_fresh_process(
        "import json, sys\n"
        "from vnet import kinds\n"
        "found = [kinds.by_kernel_kind(k) for k in ('sit', 'gre', 'vrf', 'ip6tnl')]\n"
        "print(json.dumps({'found': [c for c in found if c is not None], 'loaded': sorted(\n"
        "    m for m in sys.modules if m.startswith('vnet.kinds.'))}))\n")
    assert seen == {"found": [], "loaded": []}
