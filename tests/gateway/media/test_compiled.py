"""The compiled media hot path (setup.py, mypyc) and the guard against stale compiled modules
(gateway/media/__init__.py)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gateway.media
from gateway.media import compiled_modules, stale_compiled_modules

MEDIA = Path(gateway.media.__file__).parent
# The modules every RTP packet passes through: compiled wherever gwemu was built with mypyc.
HOT_PATH = {"rtp", "rtp_session", "rtp_reception", "jitter_buffer", "plc", "bridge", "codecs"}


def require_compiled() -> dict[str, str]:
    """The compiled set; in CI (whose test command compiles it) anything else fails."""
    modules = compiled_modules()
    problem = None
    if not modules:
        problem = (
            "the media hot path was not compiled (pip install -e . without mypyc or a C compiler)"
        )
    elif stale := stale_compiled_modules():
        problem = f"compiled media modules are stale: {', '.join(stale)} changed since"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    return modules


def test_the_hot_path_runs_compiled() -> None:
    modules = require_compiled()
    assert set(modules) >= HOT_PATH
    for name in modules:
        module = importlib.import_module(f"gateway.media.{name}")
        assert isinstance(module.__loader__, importlib.machinery.ExtensionFileLoader), name


def write_package(directory: Path, sources: dict[str, bytes], manifest: str) -> Path:
    for name, text in sources.items():
        (directory / f"{name}.py").write_bytes(text)
    path = directory / "_compiled.txt"
    path.write_text(manifest)
    return path


def test_stale_sources_are_found_by_their_hash(tmp_path: Path) -> None:
    sources = {"alpha": b"x = 1\n", "beta": b"y = 2\n"}
    digests = {name: hashlib.sha256(text).hexdigest() for name, text in sources.items()}
    manifest = write_package(
        tmp_path, sources, "".join(f"{name} {digest}\n" for name, digest in digests.items())
    )
    assert compiled_modules(manifest) == digests
    assert stale_compiled_modules(manifest) == []
    (tmp_path / "beta.py").write_bytes(b"y = 3\n")
    assert stale_compiled_modules(manifest) == ["beta"]
    (tmp_path / "alpha.py").unlink()
    assert stale_compiled_modules(manifest) == ["alpha", "beta"]


def test_no_manifest_means_nothing_compiled(tmp_path: Path) -> None:
    assert compiled_modules(tmp_path / "_compiled.txt") == {}
    assert stale_compiled_modules(tmp_path / "_compiled.txt") == []


def copy_of_gateway(directory: Path) -> Path:
    """A copy of the built ``gateway`` package (compiled modules and all) under ``directory``."""
    shutil.copytree(MEDIA.parent, directory / "gateway", ignore=shutil.ignore_patterns("*.pyc"))
    return directory / "gateway" / "media"


def python_in(directory: Path, code: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *options, "-c", code],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(directory)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_changed_source_runs_instead_of_its_stale_compiled_module(tmp_path: Path) -> None:
    # One source edited after the build: every module of the compiled set must then come from
    # its source (compiled modules call each other natively), with a warning.
    require_compiled()
    copy = copy_of_gateway(tmp_path)
    plc = copy / "plc.py"
    plc.write_text(plc.read_text() + "\nEDITED_AFTER_THE_BUILD = True\n")
    result = python_in(
        tmp_path,
        "import gateway.media.plc as plc, gateway.media.bridge as bridge\n"
        "print(plc.EDITED_AFTER_THE_BUILD, plc.__file__, bridge.__file__)\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", str(copy / "plc.py"), str(copy / "bridge.py")]
    assert "plc changed since compiled" in result.stderr


def test_an_unchanged_copy_keeps_its_compiled_modules(tmp_path: Path) -> None:
    require_compiled()
    copy_of_gateway(tmp_path)
    result = python_in(tmp_path, "import gateway.media.bridge as b; print(b.__file__)", "-We")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(".so")
