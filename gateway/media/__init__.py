"""Media: sans-IO RTP/RTCP, codecs, DTMF, tones, jitter buffer and the line-to-IP media bridge.

The modules every packet passes through are compiled by mypyc when gwemu is installed (see
``setup.py``); the ``.py`` sources are the only implementation, and run as they are where nothing
was compiled.  ``_compiled.txt`` beside the compiled modules lists each with the SHA-256 of the
source it was compiled from.  When a source no longer matches (an editable install whose code is
being changed), a compiled module would silently run the old code: instead, every module of the
compiled set is then loaded from its source, with a warning, until ``pip install -e .`` compiles
them again.  (All of them, not just the changed one: compiled modules call each other directly.)
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

__all__ = ["COMPILED_MANIFEST", "compiled_modules", "stale_compiled_modules"]

COMPILED_MANIFEST = Path(__file__).with_name("_compiled.txt")


def compiled_modules(manifest: Path = COMPILED_MANIFEST) -> dict[str, str]:
    """Compiled module name -> SHA-256 of its source, from ``manifest`` (empty when absent)."""
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


def stale_compiled_modules(manifest: Path = COMPILED_MANIFEST) -> list[str]:
    """The compiled modules whose ``.py`` source changed (or vanished) since they were built."""
    stale = []
    for name, digest in compiled_modules(manifest).items():
        try:
            source = manifest.with_name(f"{name}.py").read_bytes()
        except OSError:
            stale.append(name)
            continue
        if hashlib.sha256(source).hexdigest() != digest:
            stale.append(name)
    return stale


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Loads the named modules of this package from their ``.py`` files, never compiled."""

    def __init__(self, names: set[str], directory: Path) -> None:
        self._names = names
        self._directory = directory

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in self._names:
            return None
        return importlib.util.spec_from_file_location(fullname, self._directory / f"{name}.py")


def _prefer_changed_sources() -> None:
    stale = stale_compiled_modules()
    if not stale:
        return
    warnings.warn(
        f"gateway/media: {', '.join(sorted(stale))} changed since compiled; running the compiled "
        "media modules from source (slower) until `pip install -e .` compiles them again",
        RuntimeWarning,
        stacklevel=2,
    )
    sys.meta_path.insert(0, _SourceFirst(set(compiled_modules()), COMPILED_MANIFEST.parent))


_prefer_changed_sources()
