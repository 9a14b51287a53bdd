"""YAML config files as located documents, built on PyYAML's composer (node marks give lines).

YAML has features that make a config file mean something other than what its author sees, so
this reader is stricter than ``yaml.safe_load``:

* plain scalars follow the YAML 1.2 core schema: only ``true``/``false`` are booleans (``no``,
  ``on``, ``yes`` stay strings), ``010`` is ten, ``1:30`` is a string, not sexagesimal;
* a key written twice in one mapping is an error naming both lines (PyYAML keeps the last);
* keys are strings as written; a mapping or sequence as a key is refused;
* only the core tags (``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``, ``!!map``,
  ``!!seq``) are accepted, nothing that builds Python objects, sets or timestamps;
* anchors, aliases and ``<<`` merge keys are allowed; a recursive alias is refused and alias
  expansion is capped, so a "billion laughs" file fails instead of eating memory.
"""

from __future__ import annotations

import math
import re
from typing import Final

import yaml

from gateway.config.located import (
    ConfigErrors,
    ErrorCollector,
    KeyPath,
    Located,
    Scalar,
    format_key_path,
)
from gateway.errors import ConfigError

_TAG: Final = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null"))
MAP, SEQ, MERGE = f"{_TAG}map", f"{_TAG}seq", f"{_TAG}merge"
MAX_NODES: Final = 100_000

# YAML 1.2.2 s10.3.2 (core schema tag resolution).
_NULL_FORMS: Final = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE_FORMS: Final = frozenset({"true", "True", "TRUE"})
_FALSE_FORMS: Final = frozenset({"false", "False", "FALSE"})
_INT: Final = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT: Final = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF: Final = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN: Final = frozenset({".nan", ".NaN", ".NAN"})


def _core_tag(text: str) -> str:
    if text in _NULL_FORMS:
        return NULL
    if text in _TRUE_FORMS or text in _FALSE_FORMS:
        return BOOL
    if _INT.fullmatch(text):
        return INT
    if _FLOAT.fullmatch(text) or _INF.fullmatch(text) or text in _NAN:
        return FLOAT
    if text == "<<":
        return MERGE
    return STR


class _CoreLoader(yaml.SafeLoader):  # type: ignore[misc]
    """PyYAML's safe loader with YAML 1.2 core resolution of plain scalars; used to compose only."""

    def resolve(self, kind: object, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _core_tag(value)
        resolved: str = super().resolve(kind, value, implicit)
        return resolved


def parse_yaml(text: str, *, file: str = "<config>") -> Located:
    """Parse one YAML document into a located document; problems raise :class:`ConfigErrors`.

    An empty document is an empty mapping; any other top level than a mapping is an error.
    """
    loader: _CoreLoader | None = None
    try:
        loader = _CoreLoader(text)
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise ConfigErrors([_syntax_error(exc, file)]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"invalid YAML: character U+{character:04X} is not allowed ({exc.reason})"
        error = ConfigError(message, file=file, line=line)
        raise ConfigErrors([error]) from None
    except yaml.YAMLError as exc:
        raise ConfigErrors([ConfigError(f"invalid YAML: {exc}", file=file)]) from None
    except RecursionError:
        raise ConfigErrors([ConfigError("invalid YAML: nested too deeply", file=file)]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        return Located({}, (), file, None)
    builder = _Builder(file)
    try:
        document = builder.build(root, (), None, None)
    except RecursionError:
        builder.errors.add(ConfigError("nested too deeply", file=file))
        document = Located({}, (), file, None)
    builder.errors.raise_if_any()
    if not isinstance(document.value, dict):
        raise ConfigErrors([ConfigError("the document must be a mapping of keys", file=file)])
    return document


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    parts = [part for part in (exc.context, exc.problem) if part]
    message = "invalid YAML: " + (", ".join(parts) or "syntax error")
    if mark is None:
        return ConfigError(message, file=file)
    return ConfigError(f"{message} (column {mark.column + 1})", file=file, line=mark.line + 1)


class _Builder:
    __slots__ = ("active", "errors", "file", "nodes")

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors = ErrorCollector()
        self.nodes = 0
        # Collection nodes on the current branch: an alias back to one of them is a cycle.
        self.active: set[int] = set()

    def error(self, message: str, path: KeyPath, line: int | None) -> None:
        self.errors.add(
            ConfigError(message, file=self.file, line=line, key=format_key_path(path) or None)
        )

    def build(self, node: yaml.Node, path: KeyPath, line: int | None, col: int | None) -> Located:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            message = f"more than {MAX_NODES} values once aliases are expanded"
            raise ConfigErrors([ConfigError(message, file=self.file)])
        if isinstance(node, yaml.ScalarNode):
            return Located(self.scalar(node, path, line), path, self.file, line, col)
        if id(node) in self.active:
            self.error("an alias refers to a value that contains it", path, line)
            return Located(None, path, self.file, line, col)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                self.check_tag(node, SEQ, path, line)
                items = tuple(
                    self.build(item, (*path, index), *_mark(item))
                    for index, item in enumerate(node.value)
                )
                return Located(items, path, self.file, line, col)
            self.check_tag(node, MAP, path, line)
            return Located(self.mapping(node, path), path, self.file, line, col)
        finally:
            self.active.discard(id(node))

    def check_tag(self, node: yaml.Node, expected: str, path: KeyPath, line: int | None) -> None:
        if node.tag != expected:
            self.error(f"unsupported YAML tag {_short(node.tag)}", path, line)

    def mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Located]:
        entries: dict[str, Located] = {}
        first_line: dict[str, int] = {}
        merged: list[Located] = []
        for key_node, value_node in node.value:
            line, col = _mark(key_node)
            if not isinstance(key_node, yaml.ScalarNode):
                self.error("a key must be a plain string, not a mapping or sequence", path, line)
                continue
            if key_node.tag == MERGE:
                merged.extend(self.merge_sources(value_node, path, line))
                continue
            key = key_node.value
            if key in entries:
                self.error(
                    f"duplicate key (first defined at line {first_line[key]})",
                    (*path, key),
                    line,
                )
                continue
            first_line[key] = line
            entries[key] = self.build(value_node, (*path, key), line, col)
        # YAML merge keys (yaml.org/type/merge.html): explicit keys win, then earlier sources.
        for source in merged:
            table = source.as_table() or {}
            for key, value in table.items():
                entries.setdefault(key, value)
        return entries

    def merge_sources(self, node: yaml.Node, path: KeyPath, line: int) -> list[Located]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        built: list[Located] = []
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self.error("<< merges a mapping or a sequence of mappings", path, line)
                continue
            built.append(self.build(source, path, line, None))
        return built

    def scalar(self, node: yaml.ScalarNode, path: KeyPath, line: int | None) -> Scalar:
        text: str = node.value
        tag: str = node.tag
        if tag == STR:
            return text
        if tag == NULL and text in _NULL_FORMS:
            return None
        if tag == BOOL and (text in _TRUE_FORMS or text in _FALSE_FORMS):
            return text in _TRUE_FORMS
        if tag == INT and _INT.fullmatch(text):
            try:
                return _int(text)
            except ValueError:
                self.error(f"integer {text[:20]}... is too long", path, line)
                return None
        if tag == FLOAT and (_FLOAT.fullmatch(text) or _INF.fullmatch(text) or text in _NAN):
            return _float(text)
        if tag in (NULL, BOOL, INT, FLOAT):
            self.error(f"{text!r} is not a valid {tag.removeprefix(_TAG)}", path, line)
        else:
            self.error(f"unsupported YAML tag {_short(tag)}", path, line)
        return None


def _int(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def _float(text: str) -> float:
    if text in _NAN:
        return math.nan
    if _INF.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    return float(text)


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
