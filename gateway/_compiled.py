"""Which gwemu modules run compiled, and the guard that keeps a stale compiled module from running.

The modules every RTP packet passes through (the media core and its asyncio adapter) are
compiled by mypyc when gwemu is installed (see ``setup.py``); their ``.py`` sources are the only
implementation and run as they are where nothing was compiled.  ``gateway/_compiled.txt``, beside
the compiled modules, lists each by its dotted name with the SHA-256 of the source it was compiled
from.

When a source no longer matches (an editable install whose code is being changed), its compiled
module would silently run the old code.  Instead, every module of the compiled set is then loaded
from its source, with a warning, until ``pip install -e .`` compiles them again.  All of them, not
just the changed one: compiled modules of one build call each other's compiled code directly, so
a changed module loaded from source would be bypassed by the others.  ``gateway/__init__.py`` runs
the check, so it is in place before any of those modules is imported.

This module is plain Python on purpose (never compiled): it decides what the compiled ones may do.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = [
    "COMPILED_MANIFEST",
    "compiled_modules",
    "prefer_changed_sources",
    "stale_compiled_modules",
]

COMPILED_MANIFEST = Path(__file__).with_name("_compiled.txt")


def compiled_modules(manifest: Path = COMPILED_MANIFEST) -> dict[str, str]:
    """Compiled module (dotted name) -> SHA-256 of its source, from ``manifest`` (empty when
    absent)."""
    try:
        text = manifest.read_text(encoding="ascii")
    except OSError:
        return {}
    modules = {}
    for line in text.splitlines():
        name, _, digest = line.partition(" ")
        if name and digest:
            modules[name] = digest
    return modules


def source_of(name: str, manifest: Path = COMPILED_MANIFEST) -> Path:
    """The ``.py`` file of module ``name``; the manifest lies in the top package's directory."""
    return manifest.parent.joinpath(*name.split(".")[1:]).with_suffix(".py")


def stale_compiled_modules(manifest: Path = COMPILED_MANIFEST) -> list[str]:
    """The compiled modules whose ``.py`` source changed (or vanished) since they were built."""
    stale = []
    for name, digest in compiled_modules(manifest).items():
        try:
            source = source_of(name, manifest).read_bytes()
        except OSError:
            stale.append(name)
            continue
        if hashlib.sha256(source).hexdigest() != digest:
            stale.append(name)
    return stale


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Loads the named modules from their ``.py`` files, never compiled."""

    def __init__(self, manifest: Path) -> None:
        self._manifest = manifest
        self._names = set(compiled_modules(manifest))

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._names:
            return None
        return importlib.util.spec_from_file_location(fullname, source_of(fullname, self._manifest))


def prefer_changed_sources(manifest: Path = COMPILED_MANIFEST) -> None:
    """If any compiled module is stale, load the whole compiled set from source (with a warning)."""
    stale = stale_compiled_modules(manifest)
    if not stale:
        return
    warnings.warn(
        f"{', '.join(sorted(stale))} changed since compiled; running the compiled modules from "
        "source (slower) until `pip install -e .` compiles them again",
        RuntimeWarning,
        stacklevel=2,
    )
    sys.meta_path.insert(0, _SourceFirst(manifest))
