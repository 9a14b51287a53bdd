"""gwemu's compiled parts; everything else about the package is in pyproject.toml.

Two kinds of extension module, both optional (a machine without a C compiler still installs a
working, slower, pure-Python gwemu):

* ``gateway.media._g711`` -- G.711 encode/decode written in C (see gateway/media/_g711.c);
* the media hot path -- the modules every RTP packet goes through (the sans-IO media core and its
  asyncio adapter), compiled from their own (unchanged, type-checked) Python source by mypyc, the
  compiler that ships with mypy.  One source serves both: without the compiled modules the same
  ``.py`` files run.  ``scripts/bench_media.py`` measures what it buys in bridged calls per core.

``GWEMU_PURE_PYTHON=1`` skips mypyc (and removes modules a previous in-place build left behind,
which would otherwise shadow the sources).  After a build, ``gateway/_compiled.txt`` lists the
compiled modules with the hash of the source each was compiled from: gwemu refuses to load a
compiled module whose source has changed since (see gateway/_compiled.py).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
MANIFEST = ROOT / "gateway" / "_compiled.txt"
GROUP = "gateway._hot"  # mypyc's shared library: gateway/_hot__mypyc.*.so
MYPYC_EXTENSIONS: set[str] = set()  # the names of the extensions mypyc made

# Every RTP packet and line frame passes through these (receive, jitter buffer, concealment,
# transcoding, DTMF relay, send, and the asyncio adapter that pumps them).  One build: they call
# each other natively.  tones.py stays interpreted: mypyc's NaN check trips -Werror.
COMPILED_MODULES = (
    "gateway.media.rtp",
    "gateway.media.rtp_reception",
    "gateway.media.rtp_session",
    "gateway.media.rtcp_interval",
    "gateway.media.jitter_buffer",
    "gateway.media.plc",
    "gateway.media.codecs",
    "gateway.media.bridge",
    "gateway.media.bridge_paths",
    "gateway.media.dtmf_events",
    "gateway.media.dtmf_relay",
    "gateway.media.dtmf_inband",
    "gateway.aio.rtp",
)
# What builds before this layout (the shared library in gateway/media) left in a tree.
LEGACY_BUILD_OUTPUTS = ("gateway/media/_hot__mypyc.*.so", "gateway/media/_compiled.txt")


def source_of(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def remove_legacy_build_outputs() -> None:
    for pattern in LEGACY_BUILD_OUTPUTS:
        for built in ROOT.glob(pattern):
            built.unlink()


def remove_compiled_modules() -> None:
    """Delete compiled modules an earlier in-place (editable) build left in the tree."""
    for module in (*COMPILED_MODULES, f"{GROUP}__mypyc"):
        path = source_of(module)
        for built in path.parent.glob(f"{path.stem}.*.so"):
            built.unlink()
    MANIFEST.unlink(missing_ok=True)


def write_manifest(path: Path) -> None:
    lines = [
        f"{module} {hashlib.sha256(source_of(module).read_bytes()).hexdigest()}"
        for module in COMPILED_MODULES
    ]
    path.write_text("\n".join(lines) + "\n")


class BuildExt(build_ext):
    """Builds what it can: a failed optional module leaves the pure-Python source in charge.

    The mypyc modules are all or nothing: each module's stub imports the shared library, so if
    any part fails, the parts already built are removed again."""

    def run(self) -> None:
        self._mypyc_failed = False
        super().run()  # builds, then (in-place builds) copies what was built into the tree
        mypyc = [ext for ext in self.extensions if ext.name in MYPYC_EXTENSIONS]
        if not mypyc:
            return
        if self._mypyc_failed:
            for ext in mypyc:
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            remove_compiled_modules()
            return
        # Beside the compiled modules: in the tree for an editable install, else in the wheel.
        shared = next(ext for ext in mypyc if ext.name.endswith("__mypyc"))
        write_manifest(Path(self.get_ext_fullpath(shared.name)).with_name(MANIFEST.name))

    def build_extension(self, ext: Extension) -> None:
        is_mypyc = ext.name in MYPYC_EXTENSIONS
        if is_mypyc and self._mypyc_failed:
            return
        try:
            super().build_extension(ext)
        except Exception as exc:  # a compiler error of any kind: fall back to the source
            if not (is_mypyc or ext.optional):
                raise
            self._mypyc_failed |= is_mypyc
            print(f"warning: building {ext.name} failed ({exc}); gwemu runs it as Python")

    def copy_extensions_to_source(self) -> None:
        # In-place (editable) builds copy every extension into the tree: one that failed has
        # nothing to copy (setuptools would only skip it if it were marked optional).
        build_py = self.get_finalized_command("build_py")
        original = self.extensions
        self.extensions = [
            ext for ext in original if Path(self._get_inplace_equivalent(build_py, ext)[1]).exists()
        ]
        try:
            super().copy_extensions_to_source()
        finally:
            self.extensions = original


def extensions() -> list[Any]:
    remove_legacy_build_outputs()
    modules: list[Any] = [
        Extension(
            "gateway.media._g711",
            sources=["gateway/media/_g711.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
    if os.environ.get("GWEMU_PURE_PYTHON") == "1" or sys.implementation.name != "cpython":
        remove_compiled_modules()
        return modules
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("warning: mypyc is not installed; the media hot path runs as Python")
        return modules
    compiled = mypycify(
        [str(source_of(module).relative_to(ROOT)) for module in COMPILED_MODULES],
        group_name=GROUP,
    )
    MYPYC_EXTENSIONS.update(ext.name for ext in compiled)
    return modules + compiled


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
