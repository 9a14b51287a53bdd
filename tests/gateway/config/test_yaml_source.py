"""YAML documents with positions, YAML 1.2 core scalars, and the features refused or capped."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import ConfigErrors, Located
from gateway.config.yaml_source import MAX_NODES, parse_yaml

DOCUMENT = textwrap.dedent(
    """\
    # scenario (line 1)
    name: flow-1
    nodes:
      gw-a:
        config: gw-a.toml
      "quoted: key": 1
    timeline:
      - action: dial
        digits: "5551234"
      - {action: hangup, at: 5s}
      -
        action: wait
    flow: [INVITE, 100, 180]
    text: |
      key: not a key
      - nor an item
    after: true
    """
)

EXPECTED = {
    ("name",): (2, 1),
    ("nodes",): (3, 1),
    ("nodes", "gw-a"): (4, 3),
    ("nodes", "gw-a", "config"): (5, 5),
    ("nodes", "quoted: key"): (6, 3),
    ("timeline",): (7, 1),
    ("timeline", 0): (8, 5),
    ("timeline", 0, "action"): (8, 5),
    ("timeline", 0, "digits"): (9, 5),
    ("timeline", 1): (10, 5),
    ("timeline", 1, "action"): (10, 6),
    ("timeline", 1, "at"): (10, 22),
    ("timeline", 2): (12, 5),
    ("timeline", 2, "action"): (12, 5),
    ("flow",): (13, 1),
    ("flow", 0): (13, 8),
    ("flow", 1): (13, 16),
    ("flow", 2): (13, 21),
    ("text",): (14, 1),
    ("after",): (17, 1),
}


def nodes(node: Located) -> Iterator[Located]:
    yield node
    table, array = node.as_table(), node.as_array()
    for child in (table or {}).values() if table is not None else (array or ()):
        yield from nodes(child)


def test_every_value_is_placed_on_its_line_and_column() -> None:
    doc = parse_yaml(DOCUMENT, file="flow.yaml")
    assert {n.path: (n.line, n.column) for n in nodes(doc) if n.path} == EXPECTED
    assert doc.get("text").value == "key: not a key\n- nor an item\n"  # type: ignore[union-attr]
    assert doc.get("flow").plain() == ["INVITE", 100, 180]  # type: ignore[union-attr]
    assert doc.get("nodes", "gw-a", "config").file == "flow.yaml"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("true", True),
        ("False", False),
        ("~", None),
        ("", None),
        ("null", None),
        ("010", 10),
        ("0o17", 15),
        ("0x1F", 31),
        ("-5", -5),
        ("1:30", "1:30"),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("2001-12-14", "2001-12-14"),
        ('"true"', "true"),
        ("'5'", "5"),
        ("!!str 5", "5"),
        ("!!float 5", 5.0),
        ("!!int '7'", 7),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    loaded = parse_yaml(f"v: {text}\n").get("v")
    assert loaded is not None
    assert loaded.value == value and type(loaded.value) is type(value)


def test_nan_is_a_float() -> None:
    loaded = parse_yaml("v: .nan\n").get("v")
    assert loaded is not None and isinstance(loaded.value, float) and math.isnan(loaded.value)


def test_keys_are_strings_as_written() -> None:
    doc = parse_yaml("1: a\ntrue: b\nnull: c\n")
    assert list(doc.as_table() or {}) == ["1", "true", "null"]


def test_anchors_aliases_and_merge_keys() -> None:
    text = textwrap.dedent(
        """\
        base: &base
          codec: pcmu
          ptime: 20
        extra: &extra
          dtmf: rfc4733
        peer:
          <<: [*base, *extra]
          ptime: 30
        copy: *base
        """
    )
    doc = parse_yaml(text, file="m.yaml")
    assert doc.get("peer").plain() == {"ptime": 30, "codec": "pcmu", "dtmf": "rfc4733"}  # type: ignore[union-attr]
    # The explicit key keeps its own line; merged keys point where they were written.
    assert (doc.get("peer", "ptime").line, doc.get("peer", "codec").line) == (8, 2)  # type: ignore[union-attr]
    assert doc.get("copy", "codec").path == ("copy", "codec")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("a: 1\nb: 2\na: 3\n", "bad.yaml:3: a: duplicate key (first defined at line 1)"),
        (
            "t:\n  x: 1\n  x: 2\n  x: 3\n",
            "bad.yaml:3: t.x: duplicate key (first defined at line 2)\n"
            "bad.yaml:4: t.x: duplicate key (first defined at line 2)",
        ),
        (
            "a: [1\n",
            "bad.yaml:2: invalid YAML: while parsing a flow sequence, expected ',' or ']', "
            "but got '<stream end>' (column 1)",
        ),
        (
            "a: !!python/object:os.system x\n",
            "bad.yaml:1: a: unsupported YAML tag !!python/object:os.system",
        ),
        ("a: !!binary aGk=\n", "bad.yaml:1: a: unsupported YAML tag !!binary"),
        ("a: !!set {x}\n", "bad.yaml:1: a: unsupported YAML tag !!set"),
        ("a: !custom 1\n", "bad.yaml:1: a: unsupported YAML tag !custom"),
        ("a: !!int x\n", "bad.yaml:1: a: 'x' is not a valid int"),
        ("a: &x [*x]\n", "bad.yaml:1: a[0]: an alias refers to a value that contains it"),
        ("a: *nowhere\n", "bad.yaml:1: invalid YAML: found undefined alias 'nowhere' (column 4)"),
        ("- 1\n", "bad.yaml: the document must be a mapping of keys"),
        ("just text\n", "bad.yaml: the document must be a mapping of keys"),
        ("? [a]\n: 1\n", "bad.yaml:1: a key must be a plain string, not a mapping or sequence"),
        ("a: 1\n<<: 5\n", "bad.yaml:2: << merges a mapping or a sequence of mappings"),
        (
            "--- a\n--- b\n",
            "bad.yaml:2: invalid YAML: expected a single document in the "
            "stream, but found another document (column 1)",
        ),
        (
            "a: 1\nb: \x01\n",
            "bad.yaml:2: invalid YAML: character U+0001 is not allowed "
            "(special characters are not allowed)",
        ),
        (
            "a:\n\tb: 1\n",
            "bad.yaml:2: invalid YAML: while scanning for the next token, found "
            "character '\\t' that cannot start any token (column 1)",
        ),
    ],
)
def test_problems_name_file_line_and_key(text: str, rendered: str) -> None:
    with pytest.raises(ConfigErrors) as caught:
        parse_yaml(text, file="bad.yaml")
    assert str(caught.value) == rendered


def test_empty_documents_are_empty_mappings() -> None:
    assert parse_yaml("").value == {}
    assert parse_yaml("# only a comment\n").value == {}


def test_billion_laughs_is_capped() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for index in range(1, 7):
        prev = chr(ord("a") + index - 1)
        name = chr(ord("a") + index)
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(ConfigErrors) as caught:
        parse_yaml("\n".join(levels) + "\n", file="lol.yaml")
    assert str(caught.value) == f"lol.yaml: more than {MAX_NODES} values once aliases are expanded"


def test_deep_nesting_is_a_config_error() -> None:
    with pytest.raises(ConfigErrors, match="nested too deeply"):
        parse_yaml("a: " + "[" * 3000 + "]" * 3000)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_only_ever_raises_config_errors(text: str) -> None:
    try:
        parse_yaml(text)
    except ConfigErrors as exc:
        assert exc.errors


YAMLISH = st.text(alphabet="ab:-[]{}&*!<>|'\"#,?\n 1~", max_size=60)


@settings(max_examples=400, deadline=None)
@given(YAMLISH)
def test_yaml_shaped_garbage_only_ever_raises_config_errors(text: str) -> None:
    try:
        doc = parse_yaml(text)
    except ConfigErrors:
        return
    for node in nodes(doc):
        assert not node.path or node.line is not None
