"""Schemas as documentation, and loaded configs back as TOML (``show running-config``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.config.schema import record_of
from gateway.config.shapes import (
    DictShape,
    RecordShape,
    SchemaField,
    Shape,
    TupleShape,
    UnionShape,
    base_shape,
    toml_key,
    toml_literal,
)

# --- documentation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Section:
    header: str
    doc: str
    rows: tuple[tuple[str, str, str, str], ...]  # key, type, default, doc


def describe_schema(schema: type, *, markdown: bool = False) -> str:
    """Every key of a schema with its type, default and doc, section by section.

    Plain text suits ``--help-config``; ``markdown=True`` gives tables for the README.
    """
    sections: list[_Section] = []
    _describe(record_of(schema), [], "", sections, ())
    render = _markdown_section if markdown else _text_section
    return "\n\n".join(render(section) for section in sections) + "\n"


def _describe(
    record: RecordShape,
    parts: list[str],
    header: str,
    out: list[_Section],
    active: tuple[RecordShape, ...],
) -> None:
    rows: list[tuple[str, str, str, str]] = []
    nested: list[tuple[RecordShape, list[str], str]] = []
    for field in record.fields:
        sub = _subsections(field, [*parts, toml_key(field.key)])
        kind = field.shape.description if not sub else sub[0][0]
        rows.append((field.key, kind, _default_text(field, bool(sub)), field.doc))
        nested.extend((rec, path, head) for _, rec, path, head in sub)
    out.append(_Section(header, _class_doc(record.cls), tuple(rows)))
    for rec, path, head in nested:
        if rec in active or rec is record:
            continue  # a recursive schema is described once
        _describe(rec, path, head, out, (*active, record))


def _subsections(
    field: SchemaField, parts: list[str]
) -> list[tuple[str, RecordShape, list[str], str]]:
    """(type text, record, key parts, header) for each table a field opens."""
    dotted = ".".join(parts)
    shape = base_shape(field.shape)
    if isinstance(shape, TupleShape):
        return [("array of tables", rec, parts, f"[[{dotted}]]{tag}")
                for rec, tag in _records_in(shape.item)]  # fmt: skip
    if isinstance(shape, DictShape):
        return [("table of tables", rec, [*parts, "<name>"], f"[{dotted}.<name>]{tag}")
                for rec, tag in _records_in(shape.value)]  # fmt: skip
    return [("table", rec, parts, f"[{dotted}]{tag}") for rec, tag in _records_in(shape)]


def _records_in(shape: Shape) -> list[tuple[RecordShape, str]]:
    shape = base_shape(shape)
    if isinstance(shape, RecordShape):
        return [(shape, "")]
    if isinstance(shape, UnionShape) and len(shape.records) > 1:
        key, by_tag = shape.discriminator()
        return [
            (record, f"  with {toml_key(key)} = {toml_literal(tag)}")
            for tag, record in by_tag.items()
        ]
    return []


_NOT_LITERAL = frozenset({"required", "none", "see below"})


def _default_text(field: SchemaField, is_table: bool) -> str:
    if field.required:
        return "required"
    value = field.default_value()
    if value is None:
        return "none"
    if is_table:
        return "see below"
    return toml_literal(field.shape.dump(value, True))


def _class_doc(cls: type) -> str:
    doc = cls.__doc__ or ""
    if doc.startswith(f"{cls.__name__}("):  # the signature dataclasses writes when none is given
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _text_section(section: _Section) -> str:
    lines = [section.header or "(top level)"]
    if section.doc:
        lines.append(f"  {section.doc}")
    widths = [max((len(row[i]) for row in section.rows), default=0) for i in range(3)]
    for row in section.rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append(("  " + "  ".join([*cells, row[3]])).rstrip())
    return "\n".join(lines)


def _markdown_section(section: _Section) -> str:
    title = f"`{section.header}`" if section.header else "Top level"
    lines = [f"#### {title}", ""]
    if section.doc:
        lines += [section.doc, ""]
    lines += ["| key | type | default | description |", "|---|---|---|---|"]
    for key, kind, default, doc in section.rows:
        shown = default if default in _NOT_LITERAL else f"`{default}`"
        cells = [f"`{key}`", kind, shown, doc]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


# --- TOML output --------------------------------------------------------------------------------


def to_plain(config: Any, *, include_defaults: bool = True) -> dict[str, object]:
    """A loaded config as plain dicts, lists and scalars under its external key names (the form
    a JSON report or :func:`write_toml` takes).  None values are left out."""
    plain = record_of(type(config)).dump(config, include_defaults)
    assert isinstance(plain, dict)
    return plain


def dump_toml(config: Any, *, include_defaults: bool = True) -> str:
    """A loaded config as a TOML file that loads back to an equal value.

    ``include_defaults=False`` leaves out settings equal to their default, like IOS
    ``show running-config``.
    """
    return write_toml(to_plain(config, include_defaults=include_defaults))


def write_toml(table: Mapping[str, object]) -> str:
    """Plain data as TOML: scalars and arrays first, then ``[tables]`` and ``[[arrays]]``."""
    lines: list[str] = []
    _write_table(table, [], None, lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _is_section(value: object) -> bool:
    if isinstance(value, Mapping):
        return True
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _write_table(
    table: Mapping[str, object], parts: list[str], header: str | None, lines: list[str]
) -> None:
    simple = [(k, v) for k, v in table.items() if v is not None and not _is_section(v)]
    sections = [(k, v) for k, v in table.items() if v is not None and _is_section(v)]
    # A table holding only sub-tables needs no header of its own: they create it.
    if header is not None and (simple or not sections):
        lines += ["", header]
    lines += [f"{toml_key(k)} = {toml_literal(v)}" for k, v in simple]
    for key, value in sections:
        path = [*parts, toml_key(key)]
        dotted = ".".join(path)
        if isinstance(value, Mapping):
            _write_table(value, path, f"[{dotted}]", lines)
            continue
        assert isinstance(value, list)
        for element in value:
            lines += ["", f"[[{dotted}]]"]
            _write_table(element, path, None, lines)
