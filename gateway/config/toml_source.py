"""TOML config files as located documents (``tomllib`` for the values, a scanner for the lines)."""

from __future__ import annotations

import ast
import datetime
import re
import tomllib
from typing import Final

from gateway.config.located import ConfigErrors, KeyPath, Located, format_key_path
from gateway.config.toml_positions import Position, toml_positions
from gateway.errors import ConfigError

# tomllib (Python 3.11) puts the place into the message text: "... (at line 3, column 7)".
_DECLARED_TWICE: Final = re.compile(r"Cannot declare (\(.*\)) twice")
_TOMLLIB_WHERE: Final = re.compile(r" \(at line (\d+), column (\d+)\)$| \(at end of document\)$")


def parse_toml(text: str, *, file: str = "<config>") -> Located:
    """Parse TOML text into a located document; syntax errors raise :class:`ConfigErrors`."""
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigErrors([_syntax_error(str(exc), text, file)]) from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise ConfigErrors([ConfigError(f"invalid TOML: {exc}", file=file)]) from None
    except RecursionError:
        raise ConfigErrors([ConfigError("invalid TOML: nested too deeply", file=file)]) from None
    positions = toml_positions(text)
    try:
        return _build(data, (), file, None, positions)
    except RecursionError:
        raise ConfigErrors([ConfigError("invalid TOML: nested too deeply", file=file)]) from None


def _syntax_error(message: str, text: str, file: str) -> ConfigError:
    match = _TOMLLIB_WHERE.search(message)
    if match is None:
        return ConfigError(f"invalid TOML: {message}", file=file)
    reason = _readable(message[: match.start()])
    if match.group(1) is None:
        return ConfigError(
            f"invalid TOML: {reason} (at end of file)",
            file=file,
            line=max(1, len(text.splitlines())),
        )
    column = match.group(2)
    return ConfigError(
        f"invalid TOML: {reason} (column {column})", file=file, line=int(match.group(1))
    )


def _readable(reason: str) -> str:
    """tomllib names a table as a Python tuple; say ``[a.b]`` as the file does."""
    match = _DECLARED_TWICE.fullmatch(reason)
    if match is None:
        return reason
    try:
        parts = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return reason
    return f"table [{format_key_path(parts)}] is declared twice"


def _build(
    value: object,
    path: KeyPath,
    file: str,
    fallback: Position | None,
    positions: dict[KeyPath, Position],
) -> Located:
    where = positions.get(path, fallback)
    line, column = where if where is not None else (None, None)
    if isinstance(value, dict):
        table = {
            str(key): _build(child, (*path, str(key)), file, where, positions)
            for key, child in value.items()
        }
        return Located(table, path, file, line, column)
    if isinstance(value, list):
        items = tuple(
            _build(child, (*path, index), file, where, positions)
            for index, child in enumerate(value)
        )
        return Located(items, path, file, line, column)
    assert isinstance(value, str | int | float | datetime.date | datetime.time)
    return Located(value, path, file, line, column)
