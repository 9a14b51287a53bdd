"""Durations, ranges, custom checks and file paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import (
    Check,
    ConfigErrors,
    Convert,
    Duration,
    FilePath,
    InRange,
    Located,
    format_duration,
    load_toml,
    parse_duration,
    setting,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("500ms", 0.5),
        ("100ms", 0.1),
        ("2m", 120.0),
        ("2min", 120.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("0s", 0.0),
    ],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "s", "1.2.3s", "5d", "-1s", "1 s", "1e3s", "..s", "٣s"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match='expected a duration like "30s"'):
        parse_duration(text)


def test_an_endless_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="is too long"):
        parse_duration("9" * 400 + "h")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (30.0, "30s"),
        (0.5, "500ms"),
        (0.1, "100ms"),
        (120.0, "2m"),
        (7200.0, "2h"),
        (90.0, "90s"),
        (0.0, "0ms"),
        (1e-4, 1e-4),
        (math_inf := float("inf"), math_inf),
    ],
)
def test_durations_format_exactly(seconds: float, text: str | float) -> None:
    assert format_duration(seconds) == text


@given(st.floats(0, 1e9, allow_nan=False) | st.integers(0, 10**9).map(lambda ms: ms / 1000))
def test_formatted_durations_parse_back_to_the_same_float(seconds: float) -> None:
    text = format_duration(seconds)
    assert (parse_duration(text) if isinstance(text, str) else text) == seconds


@dataclass(frozen=True, slots=True)
class Limits:
    timeout: Annotated[Duration, InRange(0.1, 60.0)] = 1.0
    low: Annotated[int, InRange(low=0)] = 0
    high: Annotated[float, InRange(high=1.5)] = 0.0
    even: int = setting(
        default=0, check=(InRange(0, 100), Check(lambda v: v % 2 == 0, "must be even"))
    )
    sound: FilePath | None = None
    upper: Annotated[str, Convert(lambda n: str(n.value).upper(), str.lower, "upper text")] = "A"


def problems(text: str) -> str:
    with pytest.raises(ConfigErrors) as caught:
        load_toml(Limits, text, file="l.toml")
    return str(caught.value)


def test_range_messages_show_bounds_in_config_syntax() -> None:
    assert problems('timeout = "90s"\nlow = -1\nhigh = 2\neven = 101\n') == (
        'l.toml:1: timeout: must be between 100ms and 1m, got "90s"\n'
        "l.toml:2: low: must be at least 0, got -1\n"
        "l.toml:3: high: must be at most 1.5, got 2\n"
        "l.toml:4: even: must be between 0 and 100, got 101"
    )
    assert problems("even = 3\n") == "l.toml:1: even: must be even, got 3"


def test_in_range_needs_a_bound() -> None:
    with pytest.raises(TypeError):
        InRange()


def test_file_paths_are_relative_to_the_file_that_names_them(tmp_path: Path) -> None:
    config = load_toml(Limits, 'sound = "tones/a.wav"\n', file=str(tmp_path / "s" / "x.toml"))
    assert config.sound == tmp_path / "s" / "tones" / "a.wav"
    absolute = load_toml(Limits, f'sound = "{tmp_path}/b.wav"\n', file="x.toml")
    assert absolute.sound == tmp_path / "b.wav"
    assert problems('sound = ""\n') == "l.toml:1: sound: expected a file path, got an empty string"
    assert problems("sound = 3\n") == "l.toml:1: sound: expected path, got 3"


def test_a_custom_converter() -> None:
    assert load_toml(Limits, 'upper = "abc"\n').upper == "ABC"
    assert problems("upper = 1\n") == "l.toml:1: upper: expected upper text, got 1"


SEEN: list[Located] = []
SPY = Convert(lambda node: SEEN.append(node) or 1, str, "anything", raw_types=(int,))


@dataclass(frozen=True, slots=True)
class Spied:
    value: Annotated[int, SPY]


def test_a_converter_sees_the_node() -> None:
    assert load_toml(Spied, "\nvalue = 5\n", file="c.toml").value == 1
    assert [Located(5, ("value",), "c.toml", 2, 1)] == SEEN


@dataclass(frozen=True, slots=True)
class Outer:
    inner: Inner  # noqa: F821  (deliberately unresolvable)


def test_annotations_must_resolve_at_module_level() -> None:
    # Inner exists only in this function: a schema's annotations are resolved from its module.
    @dataclass(frozen=True, slots=True)
    class Inner:
        x: int

    with pytest.raises(TypeError, match="Outer: cannot resolve an annotation"):
        load_toml(Outer, "[inner]\nx = 1\n")
