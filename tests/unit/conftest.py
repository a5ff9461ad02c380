"""Shared pieces of the pure tests: a test-only stacked kind, hand-built kernel states, and
record files kept in a temporary directory (never /run/vnet)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pytest

from vnet import api, declare, kinds, kinds_probe, ownership, store
from vnet.declare import Field
from vnet.door.fake import FakeKernel
from vnet.kinds.base import IfName, InterfaceBase, bool_option, int_option
from vnet.observe import AddressState, LinkState, NetnsState, Observed, RouteState

TOPO = "lab"

#: every model validation of the pure tests is also done by pydantic (the model's twin), and
#: any difference fails the test: the lean validator is proven on everything the tests load
declare.ORACLE = True


class Stacked(InterfaceBase):
    """A kind that exists only in tests: stacked on a parent link (like macvlan), with one
    option the kernel changes in place and one it cannot (the link is re-created)."""

    kind: Literal["stacked"]
    kind_name = "stacked"
    use_when = "Tests only."

    link: IfName = Field(description="Parent link.")
    mode: int | None = Field(None, ge=0, le=9, description="Fixed at creation.")
    learning: bool | None = Field(None, description="Changeable in place.")

    options_map = {
        "mode": int_option("IFLA_STACKED_MODE", replace=True),
        "learning": bool_option("IFLA_STACKED_LEARNING"),
    }

    def parent(self) -> str | None:
        return self.link


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeKernel:
    """The kernel every command of a CLI test talks to (`api.open_kernel` gives it). It has
    every kind, so plan and apply ask nothing of the probe cache of `vnet kinds`."""
    kernel = FakeKernel()
    monkeypatch.setattr(api, "open_kernel", lambda: kernel)
    monkeypatch.setattr(kinds_probe, "lacking", lambda topo: [])
    return kernel


@pytest.fixture
def stacked_kind() -> Iterator[type[InterfaceBase]]:
    """Register the test-only `stacked` kind for one test, and take it away after."""
    assert "stacked" not in kinds.REGISTRY
    kinds.REGISTRY["stacked"] = Stacked
    try:
        yield Stacked
    finally:
        kinds.REGISTRY.pop("stacked", None)


@pytest.fixture(autouse=True)
def private_state_dir(tmp_path_factory: pytest.TempPathFactory,
                      monkeypatch: pytest.MonkeyPatch) -> str:
    """Records and the host lock go to a temporary directory, never to /run/vnet."""
    path = str(tmp_path_factory.mktemp("run-vnet"))
    monkeypatch.setattr(store, "STATE_DIR", path)
    return path


# ---- hand-built kernel states ----------------------------------------------------------------

_index = iter(range(100, 100_000))


def link(name: str, kind: str | None, owner: str | None = TOPO, **fields: Any) -> LinkState:
    """A live link; `owner` puts vnet's altname marker on it (None: not vnet's)."""
    alts = [ownership.link_marker(owner, name)] if owner else []
    fields.setdefault("index", next(_index))
    fields.setdefault("mtu", 1500)
    return LinkState(name=name, kind=kind, altnames=alts, **fields)


def netns(name: str | None, *links: LinkState, owner: str | None = TOPO,
          addresses: tuple[tuple[str, str], ...] = (),
          routes: tuple[RouteState, ...] = ()) -> NetnsState:
    """A namespace with a loopback (marked as `owner`'s when named and owned) and links."""
    lo_alts = [ownership.netns_marker(owner)] if owner and name is not None else []
    lo = LinkState(index=next(_index), name="lo", kind=None, up=True, mtu=65536,
                   altnames=lo_alts)
    st = NetnsState(name=name, links={"lo": lo, **{ln.name: ln for ln in links}})
    st.addresses = [AddressState(ifname, addr) for ifname, addr in addresses]
    st.routes = list(routes)
    return st


def observed(*spaces: NetnsState) -> Observed:
    """The live state: the given namespaces (the root one added, empty, when not given)."""
    obs = Observed()
    for st in spaces:
        obs.namespaces[st.name] = st
    obs.namespaces.setdefault(None, netns(None))
    obs.existing_netns = {n for n in obs.namespaces if n is not None}
    return obs


def route(to: str, via: str | None = None, dev: str | None = None, metric: int = 0,
          proto: int = 118, family: int = 4, table: int = 254) -> RouteState:
    return RouteState(family=family, table=table, to=to, via=via, dev=dev, metric=metric,
                      proto=proto)
