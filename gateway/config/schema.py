"""Declarative schemas: frozen dataclasses loaded from located documents.

A schema is a ``@dataclass(frozen=True, slots=True)``; its annotations say how each value is
read (see :mod:`gateway.config.shapes` for the kinds) and :func:`~gateway.config.rules.setting`
adds the key name, doc and checks.  Supported annotations:

* ``str``, ``int``, ``float`` (an integer is accepted), ``bool`` -- a boolean is never a number;
* ``Literal["udp", "tcp"]`` and Enum classes (by value);
* ``tuple[X, ...]`` (an array), ``dict[K, V]`` (a table with free keys; K is str, int, a choice or
  a parsed type), ``X | None``, unions (several dataclasses in a union need a Literal key to tell
  them apart, e.g. ``action = "dial"``);
* nested schema dataclasses (a table; a ``tuple`` of them is an array of tables);
* any class with a ``parse(text)`` classmethod (``SessionTarget.parse("ipv4:10.0.0.1:5060")``):
  its ``ValueError`` / ConfigError message becomes the error text, ``str(value)`` writes it back;
* ``Annotated[T, ...]`` with :class:`~gateway.config.rules.Convert` (``Duration``, ``FilePath``)
  and :class:`~gateway.config.rules.Check` (``InRange(0, 10)``) metadata;
* ``Located``, to keep a raw node for later interpretation.

Cross-field rules go in ``__post_init__``: raise ``ValueError("message")`` or
``ConfigError("message", key="relative.key")`` and the error is placed at that table (or key).
Fields with ``init=False`` or a leading underscore are not read from files.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, Final, Literal, TypeVar

from gateway.config.located import DEFAULT_ERROR_LIMIT, ErrorCollector, Located
from gateway.config.rules import SETTING_METADATA, Check, Convert, SettingInfo
from gateway.config.shapes import (
    BOOLEAN,
    FAILED,
    INTEGER,
    LOCATED,
    NUMBER,
    STRING,
    CheckedShape,
    ChoiceShape,
    ConvertedShape,
    DictShape,
    OptionalShape,
    ParsedShape,
    RecordShape,
    SchemaField,
    Shape,
    TupleShape,
    UnionShape,
    base_shape,
)

T = TypeVar("T")

_SCALARS: Final[dict[object, Shape]] = {str: STRING, int: INTEGER, float: NUMBER, bool: BOOLEAN}
_RECORDS: dict[type, RecordShape] = {}


def load(schema: type[T], document: Located, *, limit: int = DEFAULT_ERROR_LIMIT) -> T:
    """Validate ``document`` (usually a whole file) against the schema dataclass.

    Raises :class:`~gateway.config.located.ConfigErrors` listing every problem found (up to
    ``limit``), each with file, line and key path.
    """
    errors = ErrorCollector(limit)
    value = record_of(schema).load(document, errors)
    errors.raise_if_any()
    assert value is not FAILED
    return typing.cast(T, value)


def record_of(schema: type) -> RecordShape:
    """The compiled schema of a dataclass (compiled once, then cached)."""
    record = _RECORDS.get(schema)
    if record is not None:
        return record
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        raise TypeError(f"{schema!r} is not a dataclass")
    record = RecordShape(schema)
    _RECORDS[schema] = record  # before the fields, so a schema may refer to itself
    try:
        record.set_fields(_fields_of(schema))
    except BaseException:
        del _RECORDS[schema]
        raise
    return record


def shape_of(annotation: object, *, owner: str = "") -> Shape:
    """Compile one annotation; ``owner`` names the field in TypeErrors about the schema itself."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _annotated(args[0], args[1:], owner)
    if origin is Literal:
        # Sorted: typing caches unions by equality, and Literals with the same values in another
        # order are equal, so the order written in the annotation may not be the one we get.
        return ChoiceShape(tuple(sorted(args, key=lambda value: (str(type(value)), value))))
    if origin is types.UnionType or origin is typing.Union:
        return _union(args, owner)
    if origin is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"{owner}: use tuple[X, ...] for arrays, not {annotation}")
        return TupleShape(shape_of(args[0], owner=owner))
    if origin is dict:
        key = shape_of(args[0], owner=owner)
        if not _usable_as_key(key):
            raise TypeError(f"{owner}: dict keys must be str, int, a Literal, an Enum or parsed")
        return DictShape(key, shape_of(args[1], owner=owner))
    if origin is not None:
        raise TypeError(f"{owner}: {annotation} is not supported (use tuple[X, ...] or dict)")
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if annotation is Located:
        return LOCATED
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return ChoiceShape(tuple(m.value for m in annotation), annotation)
        parse = getattr(annotation, "parse", None)
        if callable(parse):
            return ParsedShape(annotation, parse)
        if dataclasses.is_dataclass(annotation):
            return record_of(annotation)
    raise TypeError(f"{owner}: {annotation!r} is not supported in a config schema")


def _annotated(base: object, metadata: tuple[object, ...], owner: str) -> Shape:
    converts = [m for m in metadata if isinstance(m, Convert)]
    checks = tuple(m for m in metadata if isinstance(m, Check))
    if len(converts) > 1:
        raise TypeError(f"{owner}: more than one Convert in {base}")
    shape: Shape = ConvertedShape(converts[0]) if converts else shape_of(base, owner=owner)
    return CheckedShape(shape, checks) if checks else shape


def _union(args: tuple[object, ...], owner: str) -> Shape:
    members = tuple(shape_of(arg, owner=owner) for arg in args if arg is not type(None))
    shape = members[0] if len(members) == 1 else UnionShape(members)
    return OptionalShape(shape) if len(members) < len(args) else shape


def _usable_as_key(shape: Shape) -> bool:
    base = base_shape(shape)
    if isinstance(base, ChoiceShape):
        return all(isinstance(v, str | int) and not isinstance(v, bool) for v in base.values)
    return base is STRING or base is INTEGER or isinstance(base, ParsedShape)


def _fields_of(schema: type) -> tuple[SchemaField, ...]:
    try:
        hints = typing.get_type_hints(schema, include_extras=True)
    except NameError as exc:
        raise TypeError(f"{schema.__name__}: cannot resolve an annotation ({exc})") from None
    fields: list[SchemaField] = []
    for field in dataclasses.fields(schema):
        if not field.init or field.name.startswith("_"):
            continue
        owner = f"{schema.__name__}.{field.name}"
        info = field.metadata.get(SETTING_METADATA)
        if info is not None and not isinstance(info, SettingInfo):
            raise TypeError(f"{owner}: unexpected {SETTING_METADATA} metadata")
        shape = shape_of(hints[field.name], owner=owner)
        checks = info.checks if info is not None else ()
        if checks:
            shape = CheckedShape(shape, checks)
        key = (info.key if info is not None else None) or _kebab(field.name)
        factory: Any = field.default_factory
        fields.append(
            SchemaField(
                name=field.name,
                key=key,
                shape=shape,
                doc=info.doc if info is not None else "",
                default=field.default,
                default_factory=None if factory is dataclasses.MISSING else factory,
            )
        )
    keys = [f.key for f in fields]
    if len(set(keys)) != len(keys):
        raise TypeError(f"{schema.__name__}: two fields use the same key")
    return tuple(fields)


def _kebab(name: str) -> str:
    return name.rstrip("_").replace("_", "-")
