"""Key paths, value rendering and the error aggregate."""

from __future__ import annotations

import datetime

import pytest

from gateway.config import ConfigErrors, ErrorCollector, Located, format_key_path, show_value
from gateway.errors import ConfigError


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("dial-peer", "voip", 2, "session-target"), "dial-peer.voip[2].session-target"),
        (("servers", "a.b", "port"), 'servers."a.b".port'),
        (("", 0), '""[0]'),
        (("x y", "é"), '"x y"."é"'),
        (("list", 0, 1), "list[0][1]"),
    ],
)
def test_key_paths_are_written_as_users_write_keys(path: tuple[str | int, ...], text: str) -> None:
    assert format_key_path(path) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("ipv4:", '"ipv4:"'),
        ("x" * 70, '"' + "x" * 60 + '..."'),
        (True, "true"),
        (None, "null"),
        (5, "5"),
        (0.5, "0.5"),
        ({}, "a table"),
        ((), "an array"),
        (datetime.date(1979, 5, 27), "a date/time (1979-05-27)"),
    ],
)
def test_values_are_shown_briefly(value: object, text: str) -> None:
    assert show_value(value) == text


def test_nodes_navigate_and_unwrap() -> None:
    leaf = Located(1, ("a", 0, "b"), "f.toml", 3, 5)
    array = Located((Located({"b": leaf}, ("a", 0), "f.toml", 2, 1),), ("a",), "f.toml", 1, 1)
    root = Located({"a": array}, (), "f.toml", None)
    assert root.get("a", 0, "b") is leaf
    assert root.get("a", 1) is None and root.get("a", "b") is None and root.get("x", 0) is None
    assert root.plain() == {"a": [{"b": 1}]}
    assert str(leaf.error("bad")) == "f.toml:3: a[0].b: bad"
    assert str(root.error("bad")) == "f.toml: bad"


def test_the_aggregate_renders_one_line_per_problem_in_file_order() -> None:
    collector = ErrorCollector(limit=10)
    collector.add(ConfigError("second", file="f", line=9, key="b"))
    collector.add(
        ConfigErrors(
            [ConfigError("first", file="f", line=2, key="a"), ConfigError("whole file", file="f")]
        )
    )
    with pytest.raises(ConfigErrors) as caught:
        collector.raise_if_any()
    assert str(caught.value) == "f: whole file\nf:2: a: first\nf:9: b: second"
    assert len(caught.value.errors) == 3


def test_the_collector_stops_at_its_limit() -> None:
    collector = ErrorCollector(limit=2)
    collector.add(ConfigError("one", file="f", line=1))
    with pytest.raises(ConfigErrors) as caught:
        collector.add(ConfigError("two", file="f", line=2))
    assert caught.value.truncated and str(caught.value).endswith("(stopped after 2 errors)")


def test_an_empty_aggregate_is_a_bug() -> None:
    with pytest.raises(ValueError):
        ConfigErrors([])
    ErrorCollector().raise_if_any()  # nothing collected: no exception
