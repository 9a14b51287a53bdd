"""TOML documents with positions: every construct of TOML v1.0.0 that defines a key, checked on
whole files, plus a generator of random documents that records where it wrote each key."""

from __future__ import annotations

import datetime
import json
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import ConfigErrors, Located, parse_toml
from gateway.config.toml_positions import toml_positions
from gateway.errors import ConfigError

DOCUMENT = textwrap.dedent(
    '''\
    # gateway A  (line 1)
    name = "GW-A"            # trailing comment with key = 1
    "quoted.key" = 1
    'literal key' = 2
    a.b.c = 3
    a . "d.e" . f = 4
    motd = """
    fake = 1
    [not.a.table]
    """
    raw = \'\'\'
    [[also.not]]
    \'\'\'
    codecs = [
      "g711ulaw",  # first
      # a comment line with [x] and y = 1
      "g729r8",
    ]
    peers = [
      { tag = 1, target.host = "10.0.0.1" },
      {tag=2},
    ]
    nested = [[1, 2], [3]]
    when = [1979-05-27 07:32:00Z, 1979-05-27]
    tricky = """a\\"""b"""
    quotes = """x""""
    ends = \'\'\'y\'\'\'\'
    "esc\\u00e9\\"key" = 5
    1234 = "numeric key"

    [server]
    port = 5060

    [[dial-peer.voip]]
    tag = 1
    [[dial-peer.voip]]
    tag = 2
      [dial-peer.voip.extra]
      x = 1
      [[dial-peer.voip.hunt]]
      y = 1
    [[dial-peer.pots]]
    tag = 3
    [ spaced . "header" ]  # comment
    z = { inline = { deep = true }, s = """
    multi""" }
    '''
)

EXPECTED = {
    ("name",): (2, 1),
    ("quoted.key",): (3, 1),
    ("literal key",): (4, 1),
    ("a",): (5, 1),
    ("a", "b"): (5, 1),
    ("a", "b", "c"): (5, 1),
    ("a", "d.e"): (6, 1),
    ("a", "d.e", "f"): (6, 1),
    ("motd",): (7, 1),
    ("raw",): (11, 1),
    ("codecs",): (14, 1),
    ("codecs", 0): (15, 3),
    ("codecs", 1): (17, 3),
    ("peers",): (19, 1),
    ("peers", 0): (20, 3),
    ("peers", 0, "tag"): (20, 5),
    ("peers", 0, "target"): (20, 14),
    ("peers", 0, "target", "host"): (20, 14),
    ("peers", 1): (21, 3),
    ("peers", 1, "tag"): (21, 4),
    ("nested",): (23, 1),
    ("nested", 0): (23, 11),
    ("nested", 0, 0): (23, 12),
    ("nested", 0, 1): (23, 15),
    ("nested", 1): (23, 19),
    ("nested", 1, 0): (23, 20),
    ("when",): (24, 1),
    ("when", 0): (24, 9),
    ("when", 1): (24, 31),
    ("tricky",): (25, 1),
    ("quotes",): (26, 1),
    ("ends",): (27, 1),
    ('esc\u00e9"key',): (28, 1),
    ("1234",): (29, 1),
    ("server",): (31, 1),
    ("server", "port"): (32, 1),
    ("dial-peer",): (34, 1),
    ("dial-peer", "voip"): (34, 1),
    ("dial-peer", "voip", 0): (34, 1),
    ("dial-peer", "voip", 0, "tag"): (35, 1),
    ("dial-peer", "voip", 1): (36, 1),
    ("dial-peer", "voip", 1, "tag"): (37, 1),
    ("dial-peer", "voip", 1, "extra"): (38, 3),
    ("dial-peer", "voip", 1, "extra", "x"): (39, 3),
    ("dial-peer", "voip", 1, "hunt"): (40, 3),
    ("dial-peer", "voip", 1, "hunt", 0): (40, 3),
    ("dial-peer", "voip", 1, "hunt", 0, "y"): (41, 3),
    ("dial-peer", "pots"): (42, 1),
    ("dial-peer", "pots", 0): (42, 1),
    ("dial-peer", "pots", 0, "tag"): (43, 1),
    ("spaced",): (44, 1),
    ("spaced", "header"): (44, 1),
    ("spaced", "header", "z"): (45, 1),
    ("spaced", "header", "z", "inline"): (45, 7),
    ("spaced", "header", "z", "inline", "deep"): (45, 18),
    ("spaced", "header", "z", "s"): (45, 33),
}


def nodes(node: Located) -> Iterator[Located]:
    yield node
    table, array = node.as_table(), node.as_array()
    for child in (table or {}).values() if table is not None else (array or ()):
        yield from nodes(child)


def test_every_construct_is_placed_on_its_line_and_column() -> None:
    doc = parse_toml(DOCUMENT, file="gw-a.toml")
    found = {n.path: (n.line, n.column) for n in nodes(doc) if n.path}
    assert found == EXPECTED


def test_values_are_those_of_tomllib() -> None:
    doc = parse_toml(DOCUMENT)
    assert doc.get("motd") is not None and doc.get("motd").value == "fake = 1\n[not.a.table]\n"  # type: ignore[union-attr]
    assert doc.get("raw").value == "[[also.not]]\n"  # type: ignore[union-attr]
    assert doc.get("tricky").value == 'a"""b'  # type: ignore[union-attr]
    assert doc.get("quotes").value == 'x"'  # type: ignore[union-attr]
    assert doc.get("ends").value == "y'"  # type: ignore[union-attr]
    assert doc.get("spaced", "header", "z", "s").value == "multi"  # type: ignore[union-attr]
    assert doc.get("dial-peer", "voip", 1, "hunt", 0, "y").value == 1  # type: ignore[union-attr]
    assert doc.file == "<config>" and doc.line is None and doc.key == ""


def test_crlf_line_endings_give_the_same_positions() -> None:
    doc = parse_toml(DOCUMENT.replace("\n", "\r\n"))
    found = {n.path: (n.line, n.column) for n in nodes(doc) if n.path}
    assert found == EXPECTED


def test_a_byte_order_mark_is_ignored() -> None:
    doc = parse_toml("\ufeffa = 1\n")
    assert doc.get("a") == Located(1, ("a",), "<config>", 1, 1)


def test_a_super_table_defined_after_its_child_points_at_its_own_header() -> None:
    text = "[a.b]\nx = 1\n[a]\ny = 2\n"
    doc = parse_toml(text)
    assert (doc.get("a").line, doc.get("a", "b").line) == (3, 1)  # type: ignore[union-attr]


def test_dotted_keys_inside_a_table_extend_the_table() -> None:
    text = "[t]\nx.y = 1\nx.z = 2\n"
    doc = parse_toml(text)
    assert [doc.get("t", "x").line, doc.get("t", "x", "z").line] == [2, 3]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("a = \n", "bad.toml:1: invalid TOML: Invalid value (column 5)"),
        ("a = 1\nb = [1,\n", "bad.toml:2: invalid TOML: Invalid value (at end of file)"),
        ("a = 1\na = 2\n", "bad.toml:2: invalid TOML: Cannot overwrite a value (column 6)"),
        ("[t]\n[t]\n", "bad.toml:2: invalid TOML: table [t] is declared twice (column 3)"),
        (
            '[a."b.c"]\n[a."b.c"]\n',
            'bad.toml:2: invalid TOML: table [a."b.c"] is declared twice (column 9)',
        ),
        ('x = "\x01"\n', "bad.toml:1: invalid TOML: Illegal character '\\x01' (column 6)"),
        (
            "x = 1" + "0" * 5000 + "\n",
            "bad.toml: invalid TOML: Exceeds the limit (4300 digits) "
            "for integer string conversion: value has 5001 digits; use "
            "sys.set_int_max_str_digits() to increase the limit",
        ),
    ],
)
def test_syntax_errors_name_file_and_line(text: str, rendered: str) -> None:
    with pytest.raises(ConfigErrors) as caught:
        parse_toml(text, file="bad.toml")
    assert str(caught.value) == rendered
    assert isinstance(caught.value, ConfigError) and caught.value.file == "bad.toml"


def test_nesting_too_deep_is_a_config_error() -> None:
    with pytest.raises(ConfigErrors, match=r"nested too deeply|Invalid"):
        parse_toml("a = " + "[" * 5000 + "]" * 5000)


def test_the_scanner_keeps_what_it_found_on_text_tomllib_rejects() -> None:
    # Defensive path: never reached through parse_toml, but it must not loop or raise.
    assert toml_positions("a = 1\nb = [1, 2") == {("a",): (1, 1), ("b",): (2, 1), ("b", 0): (2, 6),
                                                   ("b", 1): (2, 9)}  # fmt: skip
    assert toml_positions('x = { y = "unterminated') == {("x",): (1, 1), ("x", "y"): (1, 7)}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_only_ever_raises_config_errors(text: str) -> None:
    try:
        parse_toml(text)
    except ConfigErrors as exc:
        assert exc.errors and all(e.file == "<config>" for e in exc.errors)


TOMLISH = st.text(alphabet="ab=[]{}.\"'#,\n 1\\t", max_size=80)


@settings(max_examples=300, deadline=None)
@given(TOMLISH)
def test_toml_shaped_garbage_only_ever_raises_config_errors(text: str) -> None:
    try:
        doc = parse_toml(text)
    except ConfigErrors:
        return
    for node in nodes(doc):  # whatever parsed has a line for every key
        assert not node.path or node.line is not None


# --- random documents written with known positions ---------------------------------------------

SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x7f"), max_size=8
)
ODD_KEYS = st.sampled_from(["", " ", ".", "a.b", "x y", '"', "'", "#", "=", "[t]", "é", "\n", "1"])
KEYS = st.one_of(st.from_regex(r"[A-Za-z0-9_-]{1,6}", fullmatch=True), ODD_KEYS, SAFE_TEXT)
EVIL_LINES = ["k = 1", "[t]", "[[a.b]]", '  c.d = "x"', "# c", "{ x = 1 }", "]", "'"]
UTC = datetime.UTC


@dataclass
class Table:
    entries: dict[str, object]
    style: str  # header | skip-header | inline | dotted


@dataclass
class ArrayOfTables:
    tables: list[Table]
    style: str  # headers | inline


@dataclass
class Scalar:
    text: str
    value: object


@dataclass
class Array:
    items: list[object]  # Scalar or Array
    multiline: bool


def scalars() -> st.SearchStrategy[Scalar]:
    evil = st.lists(st.sampled_from(EVIL_LINES), min_size=1, max_size=3).map("\n".join)
    return st.one_of(
        st.integers(-(10**6), 10**6).map(lambda i: Scalar(str(i), i)),
        st.booleans().map(lambda b: Scalar("true" if b else "false", b)),
        st.sampled_from([Scalar("6.25", 6.25), Scalar("1e3", 1000.0), Scalar("-0.5", -0.5)]),
        SAFE_TEXT.map(lambda s: Scalar(json.dumps(s, ensure_ascii=False), s)),
        st.text(alphabet="ab #=[]{},.", max_size=6).map(lambda s: Scalar(f"'{s}'", s)),
        evil.map(lambda s: Scalar(f'"""\n{s}"""', s)),
        evil.filter(lambda s: "'''" not in s).map(lambda s: Scalar(f"'''\n{s}'''", s)),
        st.just(Scalar("1979-05-27 07:32:00Z", datetime.datetime(1979, 5, 27, 7, 32, tzinfo=UTC))),
    )


def arrays() -> st.SearchStrategy[Array]:
    inner = st.builds(Array, st.lists(scalars(), max_size=3), st.just(False))
    items = st.lists(st.one_of(scalars(), inner), max_size=4)
    return st.builds(Array, items, st.booleans())


@st.composite
def tables(draw: st.DrawFn, depth: int = 0, simple: bool = False) -> Table:
    keys = draw(st.lists(KEYS, unique=True, max_size=4 if depth < 2 else 2))
    entries: dict[str, object] = {}
    for key in keys:
        kinds = ["scalar", "array"] if simple or depth >= 2 else ["scalar", "array", "table", "aot"]
        kind = draw(st.sampled_from(kinds))
        if kind == "scalar":
            entries[key] = draw(scalars())
        elif kind == "array":
            entries[key] = draw(arrays())
        elif kind == "table":
            entries[key] = draw(tables(depth + 1))
        else:
            elements = st.lists(tables(depth + 1), min_size=1, max_size=3)
            entries[key] = ArrayOfTables(draw(elements), "headers")
    styles = ["header"]
    if all(isinstance(v, Scalar | Array) for v in entries.values()):
        styles += ["inline"] + (["dotted"] if entries else [])
    elif not any(_inline_entry(v) for v in entries.values()):
        styles.append("skip-header")  # only sub-tables: they create this one implicitly
    return Table(entries, draw(st.sampled_from(styles)))


@st.composite
def documents(draw: st.DrawFn) -> Table:
    root = draw(tables())
    # Arrays of simple tables may also be written as arrays of inline tables.
    for value in root.entries.values():
        if isinstance(value, ArrayOfTables) and all(
            t.style in ("inline", "dotted") for t in value.tables
        ):
            value.style = draw(st.sampled_from(["headers", "inline"]))
            for table in value.tables:
                table.style = "inline" if value.style == "inline" else "header"
    return root


@dataclass
class Writer:
    draw: Callable[[st.SearchStrategy[object]], object]
    text: str = ""
    expected: dict[tuple[str | int, ...], tuple[int, int]] = field(default_factory=dict)

    def mark(self, path: tuple[str | int, ...]) -> None:
        line = self.text.count("\n") + 1
        self.expected[path] = (line, len(self.text) - (self.text.rfind("\n") + 1) + 1)

    def write(self, text: str) -> None:
        self.text += text

    def key(self, key: str) -> str:
        forms = [json.dumps(key, ensure_ascii=False)]
        if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key):
            forms.append(key)
        if "'" not in key and all(c >= " " and c != "\x7f" for c in key):
            forms.append(f"'{key}'")
        return str(self.draw(st.sampled_from(forms)))

    def dotted(self, parts: list[str]) -> str:
        separator = str(self.draw(st.sampled_from([".", " . ", ". "])))
        return separator.join(self.key(p) for p in parts)

    def end_line(self) -> None:
        comment = self.draw(st.sampled_from(["", "  # note: k = 1 [t]", "#"]))
        self.write(f"{comment}\n")
        if self.draw(st.booleans()):
            self.write(str(self.draw(st.sampled_from(["\n", "# full-line comment\n", "  \n"]))))

    def value(self, value: object, path: tuple[str | int, ...], inline: bool) -> None:
        if isinstance(value, Scalar):
            self.write(value.text)
        elif isinstance(value, Array):
            self.array(value, path, inline)
        elif isinstance(value, Table):
            self.inline_table(value, path)
        else:
            assert isinstance(value, ArrayOfTables)
            self.write("[\n")
            for index, table in enumerate(value.tables):
                self.write("  ")
                self.mark((*path, index))
                self.inline_table(table, (*path, index))
                self.write(",\n")
            self.write("]")

    def array(self, array: Array, path: tuple[str | int, ...], inline: bool) -> None:
        multiline = array.multiline and not inline
        self.write("[")
        for index, item in enumerate(array.items):
            if multiline:
                self.write("\n    ")
            elif index:
                self.write(", ")
            self.mark((*path, index))
            self.value(item, (*path, index), inline=True)
            if multiline:
                self.write(",  # element")
        self.write("\n]" if multiline else "]")

    def inline_table(self, table: Table, path: tuple[str | int, ...]) -> None:
        self.write("{")
        for index, (key, value) in enumerate(table.entries.items()):
            self.write(", " if index else " ")
            self.mark((*path, key))
            self.write(f"{self.key(key)} = ")
            self.value(value, (*path, key), inline=True)
        self.write(" }" if table.entries else "}")

    def body(self, table: Table, path: tuple[str | int, ...], parts: list[str]) -> None:
        simple = {k: v for k, v in table.entries.items() if _inline_entry(v)}
        nested = {k: v for k, v in table.entries.items() if not _inline_entry(v)}
        for key, value in simple.items():
            indent = str(self.draw(st.sampled_from(["", "  "])))
            self.write(indent)
            if isinstance(value, Table) and value.style == "dotted":
                self.dotted_table(value, (*path, key), key, indent)
                continue
            self.mark((*path, key))
            self.write(f"{self.key(key)} = ")
            self.value(value, (*path, key), inline=False)
            self.end_line()
        for key, value in nested.items():
            self.section(value, (*path, key), [*parts, key])

    def dotted_table(
        self, table: Table, path: tuple[str | int, ...], key: str, indent: str
    ) -> None:
        for index, (child, value) in enumerate(table.entries.items()):
            if index:
                self.write(indent)
            if not index:
                self.mark(path)
            self.mark((*path, child))
            self.write(f"{self.dotted([key, child])} = ")
            self.value(value, (*path, child), inline=False)
            self.end_line()

    def section(self, value: object, path: tuple[str | int, ...], parts: list[str]) -> None:
        if isinstance(value, ArrayOfTables):
            for index, table in enumerate(value.tables):
                self.mark((*path, index))
                if not index:
                    self.mark(path)
                self.write(f"[[{self.dotted(parts)}]]")
                self.end_line()
                self.body(table, (*path, index), parts)
            return
        assert isinstance(value, Table)
        if value.style == "skip-header":
            self.body(value, path, parts)
            first = next(iter(value.entries))
            self.expected[path] = self.expected[(*path, first)]
            return
        self.mark(path)
        self.write(f"[{self.dotted(parts)}]")
        self.end_line()
        self.body(value, path, parts)


def _inline_entry(value: object) -> bool:
    if isinstance(value, Table):
        return value.style in ("inline", "dotted")
    if isinstance(value, ArrayOfTables):
        return value.style == "inline"
    return True


def plain(value: object) -> object:
    if isinstance(value, Scalar):
        return value.value
    if isinstance(value, Array):
        return [plain(v) for v in value.items]
    if isinstance(value, Table):
        return {k: plain(v) for k, v in value.entries.items()}
    assert isinstance(value, ArrayOfTables)
    return [plain(t) for t in value.tables]


@settings(max_examples=150, deadline=None)
@given(documents(), st.data())
def test_random_documents_place_every_key_where_it_was_written(
    root: Table, data: st.DataObject
) -> None:
    writer = Writer(data.draw)
    writer.body(root, (), [])
    doc = parse_toml(writer.text)
    assert doc.plain() == plain(root)
    found = {n.path: (n.line, n.column) for n in nodes(doc) if n.path}
    assert found == writer.expected, writer.text
