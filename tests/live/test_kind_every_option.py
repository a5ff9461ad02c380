"""Every option of a kind on the real kernel, one lean test per kind: a file that sets each
option to a value other than the kernel's default is applied and read back from `ip -d -j link
show` field by field; each option is then changed once, the plan saying `change` for those the
kernel changes in place and `replace` for the others; a second plan is empty; destroy leaves
nothing. Kinds this kernel lacks skip here and run in the kernel tier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import vnet

from .helpers import ip_json, require_kind

#: reads the option's value back from `ip -d -j link show`'s linkinfo of the link
Reader = Callable[[dict[str, Any]], Any]


def _info(key: str, default: Any = None) -> Reader:
    return lambda link: link["linkinfo"]["info_data"].get(key, default)


def _links(netns: str | None) -> list[str]:
    return [link["ifname"] for link in ip_json("link", "show", netns=netns)]


def _link(name: str, netns: str | None) -> dict[str, Any]:
    return ip_json("-d", "link", "show", "dev", name, netns=netns)[0]


def _topology(base: dict[str, Any], entry: dict[str, Any], options: dict[str, Any]) -> Any:
    data = {**base, "interfaces": [*base.get("interfaces", []), {**entry, **options}]}
    return vnet.load_data(data)


def prove_every_option(base: dict[str, Any], entry: dict[str, Any], first: dict[str, Any],
                       in_place: dict[str, Any], replaced: dict[str, Any],
                       read: dict[str, tuple[Reader, Callable[[Any], Any]]]) -> None:
    """Apply `entry` (in topology `base`) with options `first`, read each back (`read`:
    option -> (reader, the value ip shows for the file's value)), change the `in_place`
    options (the plan: changes of that link only, the same ifindex after), then the
    `replaced` ones (the plan: a replace naming each), re-plan nothing, destroy."""
    name, netns = entry["name"], entry.get("netns")
    assert {*first, *in_place, *replaced} <= set(read), "an option is not read back"
    before = set(_links(netns))
    topo = _topology(base, entry, first)
    topo.apply()
    try:
        link = _link(name, netns)
        for option, value in first.items():
            reader, shown = read[option]
            assert reader(link) == shown(value), (option, reader(link), value)
        assert not topo.plan().has_changes
        index = link["ifindex"]

        step = {**first, **in_place}
        if in_place:
            topo = _topology(base, entry, step)
            plan = topo.plan()
            assert {a.verb for a in plan.actions} == {"change"}, \
                [(a.verb, a.subject, a.reason) for a in plan.actions]
            # macsec's `validate` is the field `validate_` (pydantic has a `validate`)
            changed = {k.rstrip("_") for a in plan.actions for k in a.diff}
            assert changed == set(in_place), changed
            topo.apply()
            link = _link(name, netns)
            assert link["ifindex"] == index, "an in-place change re-created the link"
            for option, value in in_place.items():
                reader, shown = read[option]
                assert reader(link) == shown(value), (option, reader(link), value)
            assert not topo.plan().has_changes

        for option, value in replaced.items():  # each alone: the plan names it
            step = {**step, option: value}
            topo = _topology(base, entry, step)
            plan = topo.plan()
            replaces = [a for a in plan.actions if a.verb == "replace"]
            assert replaces and any(option in a.reason for a in replaces), \
                [(a.verb, a.subject, a.reason) for a in plan.actions]
            topo.apply()
            reader, shown = read[option]
            assert reader(_link(name, netns)) == shown(value), option
        assert not topo.plan().has_changes
        assert not topo.apply().has_changes
    finally:
        topo.destroy()
    assert set(_links(netns)) == before


def _same(value: Any) -> Any:
    return value


def _ttl(link: dict[str, Any]) -> Any:
    """A tunnel's ttl as ip shows it: its JSON leaves `ttl inherit` out and gives auto as 0."""
    value = link["linkinfo"]["info_data"].get("ttl", "inherit")
    return "auto" if value == 0 else value


@pytest.mark.kind("vxlan")
def test_vxlan_every_option() -> None:
    require_kind("vxlan")
    flag = lambda key: _info(key, False)  # noqa: E731 - ip prints these only when set
    read: dict[str, tuple[Reader, Callable[[Any], Any]]] = {
        "local": (_info("local6"), _same), "remote": (_info("remote6"), _same),
        "dstport": (_info("port"), _same),
        "srcport": (_info("port_range"), lambda v: {"low": v[0], "high": v[1]}),
        "ttl": (_ttl, _same), "tos": (_info("tos"), hex),
        "df": (_info("df"), _same), "flowlabel": (_info("label"), lambda v: hex(v)),
        "learning": (_info("learning"), _same), "proxy": (flag("proxy"), _same),
        "rsc": (flag("rsc"), _same), "l2miss": (flag("l2miss"), _same),
        "l3miss": (flag("l3miss"), _same), "ageing": (_info("ageing"), _same),
        "maxaddress": (_info("limit"), _same), "udpcsum": (_info("udp_csum"), _same),
        "udp6zerocsumtx": (_info("udp_zero_csum6_tx"), _same),
        "udp6zerocsumrx": (_info("udp_zero_csum6_rx"), _same),
        "remcsumtx": (flag("remcsum_tx"), _same), "remcsumrx": (flag("remcsum_rx"), _same),
        "gbp": (flag("gbp"), _same), "id": (_info("id"), _same),
    }
    first = {"id": 100, "local": "2001:db8::1", "remote": "2001:db8::2", "dstport": 4789,
             "srcport": [5000, 6000], "ttl": 10, "tos": 8, "df": "set", "flowlabel": 77,
             "learning": False, "proxy": True, "rsc": True, "l2miss": True, "l3miss": True,
             "ageing": 100, "maxaddress": 7, "udpcsum": False, "udp6zerocsumtx": True,
             "udp6zerocsumrx": True, "remcsumtx": True, "remcsumrx": True, "gbp": True}
    in_place = {"ttl": "auto", "tos": 16, "df": "inherit", "flowlabel": 99, "learning": True,
                "ageing": 200}
    # the kernel refuses to set ttl inherit on a live vxlan
    replaced = {"id": 101, "dstport": 4790, "srcport": [5001, 6001], "proxy": False,
                "rsc": False, "l2miss": False, "l3miss": False, "maxaddress": 8,
                "udpcsum": True, "udp6zerocsumtx": False, "udp6zerocsumrx": False,
                "remcsumtx": False, "remcsumrx": False, "gbp": False, "ttl": "inherit"}
    prove_every_option({"name": "vxall"}, {"name": "vx0", "kind": "vxlan"}, first, in_place,
                       replaced, read)


@pytest.mark.kind("vxlan")
def test_vxlan_gpe_on_a_collect_metadata_vxlan() -> None:
    require_kind("vxlan")
    flag = lambda key: _info(key, False)  # noqa: E731
    prove_every_option({"name": "vxgpe"}, {"name": "vxg", "kind": "vxlan",
                                           "collect_metadata": True, "dstport": 4790},
                       {"gpe": True}, {}, {"gpe": False},
                       {"gpe": (flag("gpe"), _same)})


@pytest.mark.kind("geneve")
def test_geneve_every_option() -> None:
    require_kind("geneve")
    flag = lambda key: _info(key, False)  # noqa: E731 - ip prints these only when set
    read: dict[str, tuple[Reader, Callable[[Any], Any]]] = {
        "id": (_info("id"), _same), "remote": (_info("remote6"), _same),
        "ttl": (_ttl, _same), "tos": (_info("tos"), hex),
        "df": (_info("df", "unset"), _same), "flowlabel": (_info("label"), hex),
        "dstport": (_info("port"), _same),
        "udp6zerocsumtx": (_info("udp_zero_csum6_tx"), _same),
        "udp6zerocsumrx": (_info("udp_zero_csum6_rx"), _same),
        "innerprotoinherit": (flag("inner_proto_inherit"), _same),
    }
    first = {"id": 100, "remote": "2001:db8::2", "ttl": 10, "tos": 8, "df": "set",
             "flowlabel": 77, "dstport": 6082, "udp6zerocsumtx": True,
             "udp6zerocsumrx": True, "innerprotoinherit": True}
    in_place = {"ttl": "inherit", "tos": 16, "df": "inherit", "flowlabel": 99}
    replaced = {"id": 101, "dstport": 6083, "udp6zerocsumtx": False,
                "innerprotoinherit": False}
    prove_every_option({"name": "gnvall"}, {"name": "gnv0", "kind": "geneve"}, first,
                       in_place, replaced, read)


def _macvlan_flag(link: dict[str, Any]) -> str:
    data = link["linkinfo"]["info_data"]
    return next((word for word in ("nopromisc", "nodst") if data.get(word)), "null")


@pytest.mark.kind("macvlan", "veth")
@pytest.mark.parametrize("kind", ["macvlan", "macvtap"])
def test_macvlan_every_option(kind: str) -> None:
    require_kind(kind)
    require_kind("veth")
    base = {"name": "mvall", "interfaces": [
        {"name": "nic0", "kind": "veth", "peer": {"name": "nic1"}}]}
    read: dict[str, tuple[Reader, Callable[[Any], Any]]] = {
        "mode": (_info("mode"), _same), "flag": (_macvlan_flag, _same),
        # the kernel keeps the source MACs in a hash: their order is its own
        "macaddr": (lambda link: sorted(_info("macaddr_data", [])(link)), sorted),
        "bcqueuelen": (_info("bcqueuelen"), _same),
    }
    first = {"mode": "source", "flag": "nodst", "macaddr": ["02:00:00:00:00:01"],
             "bcqueuelen": 50}
    in_place = {"flag": "null", "macaddr": ["02:00:00:00:00:02", "02:00:00:00:00:03"],
                "bcqueuelen": 4_294_967_295}
    prove_every_option(base, {"name": "mv0", "kind": kind, "link": "nic0"}, first, in_place,
                       {}, read)
    passthru = {"mode": "passthru", "flag": "nopromisc"}
    in_place = {"flag": "null"}
    prove_every_option(base, {"name": "mv0", "kind": kind, "link": "nic0"}, passthru,
                       in_place, {}, read)


def _any(*keys: str, default: Any = None) -> Reader:
    """The first of `keys` ip prints (its JSON names for macsec's bits vary by version)."""
    def read(link: dict[str, Any]) -> Any:
        data = link["linkinfo"]["info_data"]
        return next((data[k] for k in keys if k in data), default)
    return read


@pytest.mark.kind("macsec", "veth")
def test_macsec_every_option() -> None:
    require_kind("macsec")
    require_kind("veth")
    base = {"name": "msall", "interfaces": [
        {"name": "nic0", "kind": "veth", "peer": {"name": "nic1"}}]}
    read: dict[str, tuple[Reader, Callable[[Any], Any]]] = {
        "port": (lambda link: int(str(_any("sci")(link))[-4:], 16), _same),
        "cipher": (lambda link: str(_any("cipher_suite", "cipher")(link)).lower(), _same),
        "icvlen": (_any("icv_len", "icvlen"), _same),
        "encrypt": (_any("encrypt"), _same),
        "send_sci": (_any("inc_sci", "send_sci"), _same),
        "end_station": (_any("es", "end_station"), _same),
        "scb": (_any("scb"), _same), "protect": (_any("protect"), _same),
        "replay": (_any("replay_protect", "replay"), _same),
        "window": (_any("window"), _same),
        "validate": (_any("validation", "validate"), _same),
        "encodingsa": (_any("encoding_sa", "encodingsa"), _same),
        "offload": (_any("offload", default="off"), _same),
    }
    first = {"port": 3, "cipher": "gcm-aes-128", "icvlen": 12, "encrypt": True,
             "send_sci": False, "end_station": True, "protect": True, "replay": True,
             "window": 8, "validate": "check", "encodingsa": 1, "offload": "off"}
    in_place = {"encrypt": False, "end_station": False, "scb": True, "protect": False,
                "window": 16, "validate": "disabled", "encodingsa": 2}
    replaced = {"port": 4, "cipher": "gcm-aes-256", "icvlen": 16}
    prove_every_option(base, {"name": "ms0", "kind": "macsec", "link": "nic0"}, first,
                       in_place, replaced, read)


@pytest.mark.kind("vxlan", "geneve")
@pytest.mark.parametrize(("kind", "verb"), [("vxlan", "replace"), ("geneve", "change")])
def test_tunnel_ttl_leaves_inherit(kind: str, verb: str) -> None:
    """Out of `ttl inherit`: in place on a geneve (a TTL alone clears it), by re-creating a
    vxlan (the kernel keeps inherit through any change of it)."""
    require_kind(kind)
    entry = {"name": "t0", "kind": kind, "id": 7, "remote": "192.0.2.2"}
    topo = _topology({"name": "ttlout"}, entry, {"ttl": "inherit"})
    topo.apply()
    try:
        link = _link("t0", None)
        assert _ttl(link) == "inherit"
        topo = _topology({"name": "ttlout"}, entry, {"ttl": 9})
        plan = topo.plan()
        assert [a.verb for a in plan.actions][:1] == [verb], \
            [(a.verb, a.reason) for a in plan.actions]
        topo.apply()
        after = _link("t0", None)
        assert _ttl(after) == 9
        assert (after["ifindex"] == link["ifindex"]) == (verb == "change")
        assert not topo.plan().has_changes
    finally:
        topo.destroy()
    assert "t0" not in _links(None)
