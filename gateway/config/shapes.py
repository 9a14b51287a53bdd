"""How one kind of value is read from a located node, written back, and described.

:mod:`gateway.config.schema` compiles each annotation of a schema dataclass into a tree of these
shapes once.  ``load`` never raises for bad input: it reports a located ConfigError to the
collector and returns :data:`FAILED`, so loading goes on and every mistake of a file is found.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import sys
from collections.abc import Callable
from typing import Any, Final

from gateway.config.located import ErrorCollector, Located, show_value
from gateway.config.rules import Check, Convert, InRange
from gateway.errors import ConfigError, GwemuError, RemoteProtocolError


class _Failed:
    __slots__ = ()

    def __repr__(self) -> str:
        return "FAILED"


FAILED: Final = _Failed()
"""What ``load`` returns after reporting an error."""


def is_raw(value: object, types: tuple[type, ...]) -> bool:
    """isinstance that never takes a boolean for a number (TOML/YAML ``true`` is not ``1``)."""
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def exception_text(exc: Exception) -> str:
    if isinstance(exc, ConfigError):
        return exc.message
    if isinstance(exc, RemoteProtocolError):
        return exc.reason
    return str(exc) or type(exc).__name__


def located_error(exc: Exception, node: Located) -> ConfigError:
    """An error raised by a parser or a dataclass check, placed at ``node``.

    A ConfigError that already names a file (a nested file failed to load) stays as it is; one
    with a relative ``key`` (``pstn-cause.17``) is placed at that key when the node has it.
    """
    if isinstance(exc, ConfigError) and exc.file is not None:
        return exc
    message = exception_text(exc)
    relative = exc.key if isinstance(exc, ConfigError) else None
    if not relative:
        return node.error(message)
    target = node.get(*relative.split("."))
    if target is not None:
        return target.error(message)
    key = ".".join(part for part in (node.key, relative) if part)
    return ConfigError(message, file=node.file, line=node.line, key=key)


def suggestion(word: str, choices: list[str]) -> str:
    """``; did you mean "x"?`` for a near miss (kebab/snake case included), else ``""``."""
    kebab = word.replace("_", "-")
    close = [kebab] if kebab in choices else difflib.get_close_matches(word, choices, n=1)
    return f'; did you mean "{close[0]}"?' if close else ""


def toml_literal(value: object) -> str:
    """A raw value as TOML writes it inline (used in messages, docs and the TOML writer)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = (f"{toml_key(k)} = {toml_literal(v)}" for k, v in value.items())
        return "{ " + ", ".join(items) + " }"
    raise TypeError(f"TOML cannot write {value!r}")


_BARE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_STRING_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                          "\f": "\\f", "\r": "\\r"}  # fmt: skip


def toml_key(key: str) -> str:
    return key if key and all(c in _BARE for c in key) else _toml_string(key)


def _toml_string(text: str) -> str:
    out = ['"']
    for char in text:
        escaped = _STRING_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char < " " or char == "\x7f":  # control characters (TOML v1.0.0 s"String")
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


class Shape:
    """Base of all shapes; ``description`` is the type as the docs show it."""

    __slots__ = ()

    @property
    def description(self) -> str:
        raise NotImplementedError

    def accepts(self, raw: object) -> bool:
        """Whether a raw value has the right type to be tried (used to pick a union member)."""
        raise NotImplementedError

    def load(self, node: Located, errors: ErrorCollector) -> object:
        raise NotImplementedError

    def owns(self, value: object) -> bool:
        """Whether a loaded value belongs to this shape (used to dump a union member)."""
        raise NotImplementedError

    def dump(self, value: Any, full: bool) -> object:
        """The raw value (str/int/float/bool/list/dict/None) that loads back as ``value``;
        ``full`` False leaves out record fields equal to their default."""
        raise NotImplementedError

    @property
    def detailed_errors(self) -> bool:
        """True when this shape's own errors say more than "expected X" (unions replay them)."""
        return True


_SCALAR_WORDS: Final[dict[type, tuple[str, str]]] = {
    str: ("string", "a string"),
    int: ("integer", "an integer"),
    float: ("number", "a number"),
    bool: ("boolean", "a boolean (true or false)"),
}


class ScalarShape(Shape):
    __slots__ = ("kind", "raw_types")

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.raw_types: tuple[type, ...] = (int, float) if kind is float else (kind,)

    @property
    def description(self) -> str:
        return _SCALAR_WORDS[self.kind][0]

    @property
    def detailed_errors(self) -> bool:
        return False

    def accepts(self, raw: object) -> bool:
        return is_raw(raw, self.raw_types)

    def load(self, node: Located, errors: ErrorCollector) -> object:
        raw = node.value
        if not self.accepts(raw):
            errors.add(node.error(f"expected {_SCALAR_WORDS[self.kind][1]}, got {show_value(raw)}"))
            return FAILED
        if self.kind is float:
            assert isinstance(raw, int | float)
            return float(raw)
        return raw

    def owns(self, value: object) -> bool:
        return is_raw(value, self.raw_types)

    def dump(self, value: Any, full: bool) -> object:
        return value


class ChoiceShape(Shape):
    """``Literal[...]`` values, or the values of an Enum (``enum_type``)."""

    __slots__ = ("enum_type", "members", "values")

    def __init__(self, values: tuple[object, ...], enum_type: type[enum.Enum] | None = None):
        self.values = values
        self.enum_type = enum_type
        self.members: tuple[object, ...] = tuple(enum_type) if enum_type else values

    @property
    def description(self) -> str:
        return " | ".join(toml_literal(v) for v in self.values)

    @property
    def detailed_errors(self) -> bool:
        return False

    def accepts(self, raw: object) -> bool:
        return any(type(raw) is type(value) for value in self.values)

    def load(self, node: Located, errors: ErrorCollector) -> object:
        raw = node.value
        for value, member in zip(self.values, self.members, strict=True):
            if type(raw) is type(value) and raw == value:
                return member
        names = [v for v in self.values if isinstance(v, str)]
        hint = suggestion(raw, names) if isinstance(raw, str) else ""
        choices = ", ".join(toml_literal(v) for v in self.values)
        errors.add(node.error(f"expected one of {choices}, got {show_value(raw)}{hint}"))
        return FAILED

    def owns(self, value: object) -> bool:
        if self.enum_type is not None:
            return isinstance(value, self.enum_type)
        return any(type(value) is type(v) and value == v for v in self.values)

    def dump(self, value: Any, full: bool) -> object:
        return value.value if self.enum_type is not None else value


class ParsedShape(Shape):
    """A value class with a ``parse(text)`` classmethod; written back with ``str()``."""

    __slots__ = ("cls", "parse")

    def __init__(self, cls: type, parse: Callable[[str], object]) -> None:
        self.cls = cls
        self.parse = parse

    @property
    def description(self) -> str:
        return self.cls.__name__

    def accepts(self, raw: object) -> bool:
        return isinstance(raw, str)

    def load(self, node: Located, errors: ErrorCollector) -> object:
        raw = node.value
        if not isinstance(raw, str):
            message = f"expected a string ({self.cls.__name__}), got {show_value(raw)}"
            errors.add(node.error(message))
            return FAILED
        try:
            return self.parse(raw)
        except (ValueError, GwemuError) as exc:
            errors.add(located_error(exc, node))
            return FAILED

    def owns(self, value: object) -> bool:
        return isinstance(value, self.cls)

    def dump(self, value: Any, full: bool) -> object:
        return str(value)


class ConvertedShape(Shape):
    __slots__ = ("convert",)

    def __init__(self, convert: Convert) -> None:
        self.convert = convert

    @property
    def description(self) -> str:
        return self.convert.description

    def accepts(self, raw: object) -> bool:
        return is_raw(raw, self.convert.raw_types)

    def load(self, node: Located, errors: ErrorCollector) -> object:
        if not self.accepts(node.value):
            message = f"expected {self.convert.description}, got {show_value(node.value)}"
            errors.add(node.error(message))
            return FAILED
        try:
            return self.convert.load(node)
        except (ValueError, GwemuError) as exc:
            errors.add(located_error(exc, node))
            return FAILED

    def owns(self, value: object) -> bool:
        return isinstance(value, self.convert.python_type)

    def dump(self, value: Any, full: bool) -> object:
        return self.convert.dump(value)


class CheckedShape(Shape):
    __slots__ = ("checks", "inner")

    def __init__(self, inner: Shape, checks: tuple[Check, ...]) -> None:
        self.inner = inner
        self.checks = checks

    def show_bound(self, bound: object) -> str:
        raw = self.inner.dump(bound, True)
        return raw if isinstance(raw, str) else toml_literal(raw)

    @property
    def description(self) -> str:
        rules = "; ".join(_check_summary(check, self.show_bound) for check in self.checks)
        return f"{self.inner.description} ({rules})"

    def accepts(self, raw: object) -> bool:
        return self.inner.accepts(raw)

    def load(self, node: Located, errors: ErrorCollector) -> object:
        value = self.inner.load(node, errors)
        if value is FAILED:
            return FAILED
        for check in self.checks:
            problem = check.problem(value, self.show_bound)
            if problem is not None:
                errors.add(node.error(f"{problem}, got {show_value(node.value)}"))
                return FAILED
        return value

    def owns(self, value: object) -> bool:
        return self.inner.owns(value)

    def dump(self, value: Any, full: bool) -> object:
        return self.inner.dump(value, full)


def _check_summary(check: Check, show: Callable[[object], str]) -> str:
    if isinstance(check, InRange):
        if check.high is None:
            return f">= {show(check.low)}"
        if check.low is None:
            return f"<= {show(check.high)}"
        return f"{show(check.low)} to {show(check.high)}"
    return check.requirement


class OptionalShape(Shape):
    """``X | None``: YAML ``null`` loads as None; None is written by leaving the key out."""

    __slots__ = ("inner",)

    def __init__(self, inner: Shape) -> None:
        self.inner = inner

    @property
    def description(self) -> str:
        return self.inner.description

    def accepts(self, raw: object) -> bool:
        return raw is None or self.inner.accepts(raw)

    def load(self, node: Located, errors: ErrorCollector) -> object:
        return None if node.value is None else self.inner.load(node, errors)

    def owns(self, value: object) -> bool:
        return value is None or self.inner.owns(value)

    def dump(self, value: Any, full: bool) -> object:
        return None if value is None else self.inner.dump(value, full)


class TupleShape(Shape):
    __slots__ = ("item",)

    def __init__(self, item: Shape) -> None:
        self.item = item

    @property
    def description(self) -> str:
        return f"array of {self.item.description}"

    def accepts(self, raw: object) -> bool:
        return isinstance(raw, tuple)

    def load(self, node: Located, errors: ErrorCollector) -> object:
        items = node.as_array()
        if items is None:
            errors.add(node.error(f"expected an array, got {show_value(node.value)}"))
            return FAILED
        loaded = [self.item.load(child, errors) for child in items]
        return FAILED if any(v is FAILED for v in loaded) else tuple(loaded)

    def owns(self, value: object) -> bool:
        return isinstance(value, tuple)

    def dump(self, value: Any, full: bool) -> object:
        return [self.item.dump(item, full) for item in value]


def base_shape(shape: Shape) -> Shape:
    while isinstance(shape, CheckedShape | OptionalShape):
        shape = shape.inner
    return shape


class DictShape(Shape):
    """``dict[K, V]``: a table with free keys; K is read from the key text (str, int, a choice or
    a parsed value), so ``[pstn-cause] 17 = 486`` loads as ``{17: 486}``."""

    __slots__ = ("key", "value")

    def __init__(self, key: Shape, value: Shape) -> None:
        self.key = key
        self.value = value

    @property
    def description(self) -> str:
        if base_shape(self.key) is STRING:
            return f"table of {self.value.description}"
        return f"table of {self.key.description} = {self.value.description}"

    def accepts(self, raw: object) -> bool:
        return isinstance(raw, dict)

    def load(self, node: Located, errors: ErrorCollector) -> object:
        table = node.as_table()
        if table is None:
            errors.add(node.error(f"expected a table, got {show_value(node.value)}"))
            return FAILED
        numeric_keys = base_shape(self.key) is INTEGER
        result: dict[object, object] = {}
        failed = False
        for text, child in table.items():
            raw_key: str | int = text
            if numeric_keys and _is_decimal(text):
                raw_key = int(text)
            key_node = Located(raw_key, child.path, child.file, child.line, child.column)
            key_errors = ErrorCollector(limit=sys.maxsize)
            key = self.key.load(key_node, key_errors)
            for error in key_errors.errors:
                message = f"invalid key: {error.message}"
                errors.add(ConfigError(message, file=error.file, line=error.line, key=error.key))
            value = self.value.load(child, errors)
            if key is FAILED or value is FAILED:
                failed = True
            else:
                result[key] = value
        return FAILED if failed else result

    def owns(self, value: object) -> bool:
        return isinstance(value, dict)

    def dump(self, value: Any, full: bool) -> object:
        out: dict[str, object] = {}
        for key, item in value.items():
            raw_key = self.key.dump(key, full)
            out[raw_key if isinstance(raw_key, str) else toml_literal(raw_key)] = self.value.dump(
                item, full
            )
        return out


def _is_decimal(text: str) -> bool:
    digits = text.removeprefix("-")
    return 0 < len(digits) <= 19 and digits.isascii() and digits.isdigit()


@dataclasses.dataclass(frozen=True, slots=True)
class SchemaField:
    """One field of a schema dataclass as the loader sees it."""

    name: str
    key: str
    shape: Shape
    doc: str
    default: object = dataclasses.MISSING
    default_factory: Callable[[], object] | None = None

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING and self.default_factory is None

    def default_value(self) -> object:
        if self.default_factory is not None:
            return self.default_factory()
        return self.default


class RecordShape(Shape):
    """A schema dataclass read from a table; ``fields`` is filled in by the schema compiler."""

    __slots__ = ("by_key", "cls", "fields")

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.fields: tuple[SchemaField, ...] = ()
        self.by_key: dict[str, SchemaField] = {}

    def set_fields(self, fields: tuple[SchemaField, ...]) -> None:
        self.fields = fields
        self.by_key = {f.key: f for f in fields}

    @property
    def description(self) -> str:
        return "table"

    def accepts(self, raw: object) -> bool:
        return isinstance(raw, dict)

    def load(self, node: Located, errors: ErrorCollector) -> object:
        table = node.as_table()
        if table is None:
            errors.add(node.error(f"expected a table, got {show_value(node.value)}"))
            return FAILED
        known = list(self.by_key)
        for key, entry in table.items():
            if key not in self.by_key:
                errors.add(entry.error(f"unknown key{_unknown_hint(key, known)}"))
        values: dict[str, object] = {}
        failed = False
        for field in self.fields:
            child = table.get(field.key)
            if child is None:
                if field.required:
                    errors.add(node.error("required key is missing", path=(*node.path, field.key)))
                    failed = True
                continue
            value = field.shape.load(child, errors)
            if value is FAILED:
                failed = True
            else:
                values[field.name] = value
        if failed:
            return FAILED
        try:
            return self.cls(**values)
        except (ValueError, GwemuError) as exc:
            errors.add(located_error(exc, node))
            return FAILED

    def owns(self, value: object) -> bool:
        return isinstance(value, self.cls)

    def dump(self, value: Any, full: bool) -> object:
        out: dict[str, object] = {}
        for field in self.fields:
            item = getattr(value, field.name)
            if item is None:
                continue
            if not full and not field.required and item == field.default_value():
                continue
            out[field.key] = field.shape.dump(item, full)
        return out


def _unknown_hint(key: str, known: list[str]) -> str:
    hint = suggestion(key, known)
    if hint or not known or len(known) > 12:
        return hint
    return f"; expected one of: {', '.join(known)}"


class UnionShape(Shape):
    """``A | B``: the member whose raw type fits is tried; several schema dataclasses in one
    union are told apart by a key every one of them has with a ``Literal`` value (the
    *discriminator*, e.g. ``action = "dial"``)."""

    __slots__ = ("_tags", "members")

    def __init__(self, members: tuple[Shape, ...]) -> None:
        self.members = members
        self._tags: tuple[str, dict[object, RecordShape]] | None = None

    @property
    def records(self) -> tuple[RecordShape, ...]:
        return tuple(m for m in self.members if isinstance(m, RecordShape))

    def discriminator(self) -> tuple[str, dict[object, RecordShape]]:
        """The key telling the records apart and which record each of its values selects."""
        if self._tags is None:
            self._tags = find_discriminator(self.records)
        return self._tags

    @property
    def description(self) -> str:
        return " | ".join(dict.fromkeys(m.description for m in self.members))

    def accepts(self, raw: object) -> bool:
        return any(m.accepts(raw) for m in self.members)

    def load(self, node: Located, errors: ErrorCollector) -> object:
        raw = node.value
        candidates = [m for m in self.members if m.accepts(raw)]
        records = [m for m in candidates if isinstance(m, RecordShape)]
        if len(records) > 1:
            chosen = self._select_record(node, errors)
            if chosen is None:
                return FAILED
            candidates = [m for m in candidates if m is chosen or m not in records]
        if not candidates:
            errors.add(node.error(f"expected {self.description}, got {show_value(raw)}"))
            return FAILED
        attempts: list[ErrorCollector] = []
        for member in candidates:
            # Unbounded: a failed attempt must not stop the load while another may succeed.
            scratch = ErrorCollector(limit=sys.maxsize)
            value = member.load(node, scratch)
            if value is not FAILED:
                return value
            attempts.append(scratch)
        if len(candidates) == 1 and candidates[0].detailed_errors:
            errors.extend(attempts[0].errors)
        else:
            errors.add(node.error(f"expected {self.description}, got {show_value(raw)}"))
        return FAILED

    def _select_record(self, node: Located, errors: ErrorCollector) -> RecordShape | None:
        key, by_tag = self.discriminator()
        choices = ", ".join(toml_literal(tag) for tag in by_tag)
        tag_node = node.get(key)
        if tag_node is None:
            message = f"required key is missing (one of {choices})"
            errors.add(node.error(message, path=(*node.path, key)))
            return None
        tag = tag_node.value
        for value, record in by_tag.items():
            if type(value) is type(tag) and value == tag:
                return record
        names = [t for t in by_tag if isinstance(t, str)]
        hint = suggestion(tag, names) if isinstance(tag, str) else ""
        errors.add(tag_node.error(f"expected one of {choices}, got {show_value(tag)}{hint}"))
        return None

    def owns(self, value: object) -> bool:
        return any(m.owns(value) for m in self.members)

    def dump(self, value: Any, full: bool) -> object:
        for member in self.members:
            if member.owns(value):
                return member.dump(value, full)
        raise TypeError(f"{value!r} is none of {self.description}")


def find_discriminator(records: tuple[RecordShape, ...]) -> tuple[str, dict[object, RecordShape]]:
    """The first key (in the first record's order) that every record declares as a ``Literal``
    with values no other record shares."""
    first = records[0]
    for field in first.fields:
        by_tag: dict[object, RecordShape] = {}
        for record in records:
            other = record.by_key.get(field.key)
            shape = base_shape(other.shape) if other is not None else None
            if not isinstance(shape, ChoiceShape) or shape.enum_type is not None:
                break
            if any(value in by_tag for value in shape.values):
                break
            by_tag.update(dict.fromkeys(shape.values, record))
        else:
            return field.key, by_tag
    names = ", ".join(r.cls.__name__ for r in records)
    raise TypeError(
        f"the union of {names} needs a key that every member declares as a distinct Literal "
        '(e.g. kind: Literal["dial"]) to tell them apart'
    )


class LocatedShape(Shape):
    """A field annotated ``Located`` keeps the raw node, for parts interpreted later."""

    __slots__ = ()

    @property
    def description(self) -> str:
        return "any"

    def accepts(self, raw: object) -> bool:
        return True

    def load(self, node: Located, errors: ErrorCollector) -> object:
        return node

    def owns(self, value: object) -> bool:
        return isinstance(value, Located)

    def dump(self, value: Any, full: bool) -> object:
        return value.plain()


STRING: Final = ScalarShape(str)
INTEGER: Final = ScalarShape(int)
NUMBER: Final = ScalarShape(float)
BOOLEAN: Final = ScalarShape(bool)
LOCATED: Final = LocatedShape()
