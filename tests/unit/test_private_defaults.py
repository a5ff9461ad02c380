"""Each interface model's private attributes start as pydantic's own `model_post_init` sets
them (`kinds.base._private_init` sets them in one step): the same values, a dict of its own
for every model, and the values kept when a model is built again from another."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from pydantic._internal._model_construction import init_private_attributes

from vnet import kinds
from vnet.kinds.base import Common, _private_init
from vnet.kinds.veth import PairPeer
from vnet.model import External

_MODELS: list[tuple[type[Any], dict[str, Any]]] = [
    *((cls, {"kind": cls.kind_name, "name": "t0", **cls.probe})
      for cls in kinds.registry().values()),
    (PairPeer, {"name": "p0", "addresses": ["192.0.2.1/24"]}),
    (External, {"name": "eth0", "external": True}),
]


def _by_pydantic(model: BaseModel) -> dict[str, Any] | None:
    fresh = type(model).model_construct()
    object.__setattr__(fresh, "__pydantic_private__", None)
    init_private_attributes(fresh, None)
    return fresh.__pydantic_private__


@pytest.mark.parametrize(("cls", "data"), _MODELS, ids=lambda v: getattr(v, "__name__", ""))
def test_private_values_start_as_pydantics(cls: type[Any], data: dict[str, Any]) -> None:
    one, two = cls.model_validate(data), cls.model_validate(data)
    assert getattr(cls.model_post_init, "_sets_private_defaults", False), cls
    assert one.__pydantic_private__ == _by_pydantic(one)
    assert one.__pydantic_private__ is not two.__pydantic_private__
    one._path = "interfaces[3]"
    assert one.path == "interfaces[3]" and two.path == ""
    assert one.model_copy().path == "interfaces[3]"


def test_a_model_with_its_own_post_init_or_a_mutable_default_keeps_pydantics() -> None:
    from pydantic import PrivateAttr

    class Own(Common):
        def model_post_init(self, context: Any, /) -> None:
            self._path = "set"

    class Listed(Common):
        _seen: list[str] = PrivateAttr(default_factory=list)

    class Paired(Common):
        _pair: tuple[list[str], int] = PrivateAttr(default=([], 1))

    for cls in (Own, Listed, Paired):
        assert not getattr(cls.model_post_init, "_sets_private_defaults", False), cls
        _private_init(cls)  # asked again: still pydantic's
        assert not getattr(cls.model_post_init, "_sets_private_defaults", False), cls
    assert Own.model_validate({"name": "a"}).path == "set"
    first, second = Listed.model_validate({"name": "a"}), Listed.model_validate({"name": "b"})
    assert first._seen == [] and first._seen is not second._seen
    one, two = Paired.model_validate({"name": "a"}), Paired.model_validate({"name": "b"})
    assert one._pair == ([], 1) and one._pair[0] is not two._pair[0]
