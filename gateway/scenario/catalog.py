"""Finding scenarios: the built-in ones by name, or any scenario file by path."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gateway.config import ConfigErrors
from gateway.scenario.schema import Scenario, load_scenario

__all__ = ["BUILTIN_DIR", "CatalogEntry", "builtin_files", "catalog", "find_scenario"]

BUILTIN_DIR: Final = Path(__file__).resolve().parent / "builtin"
_SUFFIXES: Final = (".toml", ".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    name: str
    path: Path
    scenario: Scenario | None
    problem: str = ""  # why it does not load (a broken file is listed, not hidden)

    @property
    def title(self) -> str:
        return self.scenario.title if self.scenario is not None else f"(invalid: {self.problem})"


def builtin_files() -> list[Path]:
    """The built-in scenario files, by name."""
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted((p for p in BUILTIN_DIR.iterdir() if p.suffix in _SUFFIXES and p.is_file()),
                  key=lambda path: path.stem)


def catalog() -> list[CatalogEntry]:
    entries = []
    for path in builtin_files():
        try:
            scenario = load_scenario(path)
        except ConfigErrors as exc:
            entries.append(CatalogEntry(path.stem, path, None, exc.render().splitlines()[0]))
            continue
        entries.append(CatalogEntry(scenario.name, path, scenario))
    return entries


def find_scenario(name: str) -> Path:
    """A scenario file: ``name`` as a path when it is one, else the built-in of that name."""
    if os.sep in name or "/" in name or name.endswith(_SUFFIXES):
        path = Path(name)
        if not path.is_file():
            raise LookupError(f"no scenario file {name!r}")
        return path
    for path in builtin_files():
        if path.stem == name:
            return path
    path = Path(name)
    if path.is_file():
        return path
    known = ", ".join(p.stem for p in builtin_files()) or "none"
    raise LookupError(f"no built-in scenario {name!r} (built-in: {known}); "
                      "give a file path to run your own")
