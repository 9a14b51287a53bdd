"""Reading config files: the format follows the suffix (``.toml``, ``.yaml``/``.yml``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

from gateway.config.located import DEFAULT_ERROR_LIMIT, ConfigErrors, Located
from gateway.config.schema import load
from gateway.config.toml_source import parse_toml
from gateway.errors import ConfigError

T = TypeVar("T")

YAML_SUFFIXES = (".yaml", ".yml")


def read_document(path: str | os.PathLike[str]) -> Located:
    """Read and parse a TOML or YAML file; every failure is a :class:`ConfigErrors`.

    The file name in errors is ``path`` as given (what the user typed).
    """
    name = os.fspath(path)
    try:
        data = Path(name).read_bytes()
    except OSError as exc:
        raise ConfigErrors(
            [ConfigError(f"cannot read the file: {exc.strerror}", file=name)]
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        error = ConfigError(f"not UTF-8 text (byte {exc.start})", file=name, line=line)
        raise ConfigErrors([error]) from None
    if name.lower().endswith(YAML_SUFFIXES):
        return _parse_yaml(text, name)
    return parse_toml(text, file=name)


def _parse_yaml(text: str, file: str) -> Located:
    try:
        from gateway.config.yaml_source import parse_yaml
    except ImportError:  # PyYAML is only needed by those who write YAML
        message = "reading YAML needs PyYAML (pip install pyyaml)"
        raise ConfigErrors([ConfigError(message, file=file)]) from None
    return parse_yaml(text, file=file)


def load_file(
    schema: type[T], path: str | os.PathLike[str], *, limit: int = DEFAULT_ERROR_LIMIT
) -> T:
    """Read a TOML or YAML file and load it as ``schema``; errors are :class:`ConfigErrors`."""
    return load(schema, read_document(path), limit=limit)


def load_toml(schema: type[T], text: str, *, file: str = "<config>") -> T:
    return load(schema, parse_toml(text, file=file))


def load_yaml(schema: type[T], text: str, *, file: str = "<config>") -> T:
    return load(schema, _parse_yaml(text, file))
