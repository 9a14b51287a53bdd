"""The words a schema is declared with: :func:`setting`, checks, converters and value types.

A config section is a frozen dataclass; each field may carry a :func:`setting` (external key,
doc, checks) and its annotation says how the raw value is read::

    preference: Annotated[int, InRange(0, 10)] = setting(default=0, doc="lower is tried first")
    ring_timeout: Duration = setting(default=30.0, doc="ring-no-answer timer")

Checks and converters work both as ``Annotated`` metadata (reusable in type aliases, inside
``tuple[...]`` and ``dict[...]``) and, for checks, as ``setting(check=...)``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Final, TypeAlias, TypeVar, overload

from gateway.config.located import Located, show_value

T = TypeVar("T")

SETTING_METADATA: Final = "gwemu.config"


@dataclasses.dataclass(frozen=True, slots=True)
class SettingInfo:
    """What :func:`setting` attaches to a dataclass field."""

    key: str | None
    doc: str
    checks: tuple[Check, ...]


@overload
def setting(
    *,
    default: T,
    key: str | None = None,
    doc: str = "",
    check: Check | Sequence[Check] = (),
) -> T: ...


@overload
def setting(
    *,
    default_factory: Callable[[], T],
    key: str | None = None,
    doc: str = "",
    check: Check | Sequence[Check] = (),
) -> T: ...


@overload
def setting(
    *, key: str | None = None, doc: str = "", check: Check | Sequence[Check] = ()
) -> Any: ...


def setting(
    *,
    default: Any = dataclasses.MISSING,
    default_factory: Any = dataclasses.MISSING,
    key: str | None = None,
    doc: str = "",
    check: Check | Sequence[Check] = (),
) -> Any:
    """A dataclass field with config metadata.

    ``key`` is the name in the file (default: the field name in kebab-case, ``ring_timeout`` ->
    ``ring-timeout``); ``doc`` is shown by :func:`~gateway.config.describe_schema`; ``check``
    adds rules on the loaded value.  Without ``default``/``default_factory`` the key is required.
    """
    checks = (check,) if isinstance(check, Check) else tuple(check)
    info = SettingInfo(key, doc, checks)
    metadata = {SETTING_METADATA: info}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class Check:
    """A rule on a loaded value, e.g. ``Check(lambda v: v % 20 == 0, "must be a multiple of 20")``.

    When ``test`` returns false the error reads ``<requirement>, got <value as written>``.
    """

    __slots__ = ("requirement", "test")

    def __init__(self, test: Callable[[Any], bool], requirement: str) -> None:
        self.test = test
        self.requirement = requirement

    def problem(self, value: Any, show: Callable[[Any], str]) -> str | None:
        """None when ``value`` passes, else what is required (``show`` renders bounds)."""
        return None if self.test(value) else self.requirement


class InRange(Check):
    """``low <= value <= high`` (either bound may be None); bounds are shown in config syntax."""

    __slots__ = ("high", "low")

    def __init__(self, low: Any = None, high: Any = None) -> None:
        if low is None and high is None:
            raise TypeError("InRange needs a low or a high bound")
        self.low = low
        self.high = high
        super().__init__(self._within, "")

    def _within(self, value: Any) -> bool:
        return (self.low is None or self.low <= value) and (self.high is None or value <= self.high)

    def problem(self, value: Any, show: Callable[[Any], str]) -> str | None:
        if self._within(value):
            return None
        if self.high is None:
            return f"must be at least {show(self.low)}"
        if self.low is None:
            return f"must be at most {show(self.high)}"
        return f"must be between {show(self.low)} and {show(self.high)}"


NON_EMPTY: Final = Check(lambda value: len(value) > 0, "must not be empty")


@dataclasses.dataclass(frozen=True, slots=True)
class Convert:
    """A custom way to read and write a value, used as ``Annotated`` metadata.

    ``load`` gets the node (``node.value`` is the raw value, already one of ``raw_types``;
    ``node.file`` helps resolve relative paths) and raises ``ValueError(message)`` on bad input:
    the message becomes the error text as is.  ``dump`` gives back a raw value that ``load``
    reads as the same value.  ``python_type`` lets a union tell whose value it is when dumping.
    """

    load: Callable[[Located], Any]
    dump: Callable[[Any], Any]
    description: str
    raw_types: tuple[type, ...] = (str,)
    python_type: type = object


# --- durations ----------------------------------------------------------------------------------

# unit -> (multiplier, divisor); ms divides so "100ms" is exactly 100 / 1000 == 0.1.
_DURATION_UNITS: Final = {
    "ms": (1, 1000),
    "s": (1, 1),
    "m": (60, 1),
    "min": (60, 1),
    "h": (3600, 1),
}
_DURATION_HELP: Final = 'a duration like "30s", "500ms", "2m", "1m30s" or a number of seconds'


def parse_duration(text: str) -> float:
    """``"1m30s"`` -> 90.0; units ``ms``, ``s``, ``m``/``min``, ``h``; ValueError when invalid."""
    total = 0.0
    pos = 0
    while pos < len(text) or pos == 0:
        start = pos
        while pos < len(text) and text[pos] in "0123456789.":
            pos += 1
        number = text[start:pos]
        unit_start = pos
        while pos < len(text) and text[pos].isascii() and text[pos].isalpha():
            pos += 1
        scale = _DURATION_UNITS.get(text[unit_start:pos])
        if not number.strip(".") or number.count(".") > 1 or scale is None:
            raise ValueError(f"expected {_DURATION_HELP}, got {show_value(text)}")
        multiplier, divisor = scale
        total += float(number) * multiplier / divisor
    if not math.isfinite(total):
        raise ValueError(f"duration {show_value(text)} is too long")
    return total


def format_duration(seconds: float) -> str | float:
    """The shortest exact text for a duration (``"90s"``, ``"100ms"``, ``"2h"``), or the number
    of seconds itself when no whole unit fits."""
    if not math.isfinite(seconds):
        return seconds
    millis = round(seconds * 1000)
    if millis / 1000 != seconds:
        return seconds
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis % size == 0 and millis:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


def _load_duration(node: Located) -> float:
    raw = node.value
    if isinstance(raw, str):
        return parse_duration(raw)
    assert isinstance(raw, int | float)
    if not math.isfinite(raw) or raw < 0:
        raise ValueError(f"expected {_DURATION_HELP}, got {show_value(raw)}")
    return float(raw)


DURATION: Final = Convert(
    _load_duration, format_duration, "duration", raw_types=(str, int, float), python_type=float
)
Duration: TypeAlias = Annotated[float, DURATION]
"""Seconds as a float, written ``"30s"``, ``"500ms"``, ``"1m30s"`` or as a number of seconds."""


# --- paths --------------------------------------------------------------------------------------


def _load_path(node: Located) -> Path:
    raw = node.value
    assert isinstance(raw, str)
    if not raw:
        raise ValueError("expected a file path, got an empty string")
    # Relative to the file that names it, so a scenario works from any working directory.
    base = Path(node.file).parent
    return Path(os.path.abspath(base / os.path.expanduser(raw)))


FILE_PATH: Final = Convert(_load_path, str, "path", python_type=Path)
FilePath: TypeAlias = Annotated[Path, FILE_PATH]
"""A file path; a relative one is taken relative to the config file that contains it."""
