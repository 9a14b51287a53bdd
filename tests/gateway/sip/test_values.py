from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from gateway.sip._values import unchecked_constructor


class Base:
    __slots__ = ()

    def describe(self) -> str:
        return "base"


@dataclass(frozen=True, slots=True)
class Point(Base):
    x: int
    y: int = 0


def test_built_values_equal_init_built_ones_and_stay_frozen() -> None:
    build = unchecked_constructor(Point)
    point = build(1, 2)
    assert type(point) is Point and point == Point(1, 2) and hash(point) == hash(Point(1, 2))
    assert point.describe() == "base" and repr(point) == "Point(x=1, y=2)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 5  # type: ignore[misc]
    assert dataclasses.replace(point, y=3) == Point(1, 3)


@dataclass(frozen=True, slots=True)
class Lazy:
    text: str
    length: int = 0

    def __getattr__(self, name: str) -> int:
        # Only "length" can be unset: computed from text on first use.
        if name != "length":
            raise AttributeError(name)
        object.__setattr__(self, "length", len(self.text))
        return len(self.text)


def test_a_partial_constructor_leaves_the_other_fields_to_the_class() -> None:
    build = unchecked_constructor(Lazy, ("text",))
    value = build("abc")
    assert type(value) is Lazy and value.length == 3 and value == Lazy("abc", 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.length = 5  # type: ignore[misc]
