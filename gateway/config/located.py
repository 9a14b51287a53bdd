"""The located document: a parsed config file whose every value knows where it was written.

TOML and YAML sources both become a tree of :class:`Located` nodes, so the schema loader and any
hand-written check can point a :class:`~gateway.errors.ConfigError` at the file, line and key of
the offending value.  Tables map keys to nodes, arrays hold nodes, scalars hold plain values.

Errors are collected rather than raised one by one (:class:`ErrorCollector`) so a user sees every
mistake of a file at once; they surface as one :class:`ConfigErrors`, itself a ``ConfigError``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from gateway.errors import ConfigError

KeyPath: TypeAlias = tuple[str | int, ...]
Scalar: TypeAlias = (
    str | int | float | bool | datetime.datetime | datetime.date | datetime.time | None
)
NodeValue: TypeAlias = "Scalar | dict[str, Located] | tuple[Located, ...]"

DEFAULT_ERROR_LIMIT: Final = 50
_BARE_KEY_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
)
_SHOWN_TEXT_LIMIT: Final = 60


def format_key_path(path: KeyPath) -> str:
    """``("dial-peer", "voip", 2, "session-target")`` -> ``dial-peer.voip[2].session-target``.

    Keys that are not bare TOML keys are quoted (``servers."a.b".port``) so the text stays
    unambiguous; array indexes count from 0.
    """
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
            continue
        bare = part and all(c in _BARE_KEY_CHARS for c in part)
        text = part if bare else json.dumps(part, ensure_ascii=False)
        out.append(f".{text}" if out else text)
    return "".join(out)


def show_value(value: object) -> str:
    """A raw config value, short, for error messages: ``"ipv4:"``, ``5``, ``a table``."""
    if isinstance(value, str):
        text = value if len(value) <= _SHOWN_TEXT_LIMIT else value[:_SHOWN_TEXT_LIMIT] + "..."
        return json.dumps(text, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, tuple | list):
        return "an array"
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return f"a date/time ({value.isoformat()})"
    return type(value).__name__


@dataclass(frozen=True, slots=True)
class Located:
    """One value of a config document and where it was defined.

    ``value`` is a scalar, a ``dict[str, Located]`` (table / mapping) or a ``tuple[Located, ...]``
    (array / sequence).  ``line`` and ``column`` are 1-based and point at the key that defines
    the value (or at the array element); the document root has none.
    """

    value: NodeValue
    path: KeyPath
    file: str
    line: int | None
    column: int | None = None

    @property
    def key(self) -> str:
        """The key path as users write it, e.g. ``dial-peer.voip[2].session-target``."""
        return format_key_path(self.path)

    def as_table(self) -> dict[str, Located] | None:
        return self.value if isinstance(self.value, dict) else None

    def as_array(self) -> tuple[Located, ...] | None:
        return self.value if isinstance(self.value, tuple) else None

    def get(self, *keys: str | int) -> Located | None:
        """The node at a relative path, or None when any step is missing."""
        node: Located | None = self
        for key in keys:
            if node is None:
                return None
            if isinstance(key, str):
                table = node.as_table()
                node = None if table is None else table.get(key)
            else:
                array = node.as_array()
                node = array[key] if array is not None and 0 <= key < len(array) else None
        return node

    def plain(self) -> object:
        """The value with every node unwrapped: dicts, lists and scalars."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, tuple):
            return [v.plain() for v in self.value]
        return self.value

    def error(self, message: str, *, path: KeyPath | None = None) -> ConfigError:
        """A ConfigError at this node (or at ``path``, still on this node's line)."""
        return ConfigError(
            message, file=self.file, line=self.line, key=format_key_path(path or self.path) or None
        )


class ConfigErrors(ConfigError):
    """Every problem found in one config file, in file order.

    It is a :class:`ConfigError` (file, line and key are those of the first problem), and
    ``str()`` gives one ``file:line: key: message`` line per problem, so a user fixes everything
    in one go.  ``truncated`` says that more problems were left unreported.
    """

    def __init__(self, errors: Sequence[ConfigError], *, truncated: bool = False) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        self.errors: tuple[ConfigError, ...] = tuple(errors)
        self.truncated = truncated
        first = self.errors[0]
        super().__init__(first.message, file=first.file, line=first.line, key=first.key)

    def render(self) -> str:
        lines = [ConfigError.render(error) for error in self.errors]
        if self.truncated:
            lines.append(f"(stopped after {len(self.errors)} errors)")
        return "\n".join(lines)


def _file_order(error: ConfigError) -> tuple[int, int]:
    return (0, 0) if error.line is None else (1, error.line)


class ErrorCollector:
    """Gathers ConfigErrors of one file; stops with ConfigErrors once ``limit`` are found."""

    __slots__ = ("errors", "limit")

    def __init__(self, limit: int = DEFAULT_ERROR_LIMIT) -> None:
        self.errors: list[ConfigError] = []
        self.limit = limit

    def add(self, error: ConfigError) -> None:
        self.errors.append(error)
        if len(self.errors) >= self.limit:
            raise self.combined(truncated=True)

    def extend(self, errors: Iterable[ConfigError]) -> None:
        for error in errors:
            self.add(error)

    def combined(self, *, truncated: bool = False) -> ConfigErrors:
        flat: list[ConfigError] = []
        for error in self.errors:
            flat.extend(error.errors if isinstance(error, ConfigErrors) else (error,))
        return ConfigErrors(sorted(flat, key=_file_order), truncated=truncated)

    def raise_if_any(self) -> None:
        if self.errors:
            raise self.combined()
