"""The compiled media hot path (setup.py, mypyc) and the guard against stale compiled modules
(gateway/_compiled.py)."""

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

import gateway
from gateway._compiled import compiled_modules, source_of, stale_compiled_modules

GATEWAY = Path(gateway.__file__).parent
# The modules every RTP packet passes through: compiled wherever gwemu was built with mypyc.
HOT_PATH = {
    f"gateway.media.{name}"
    for name in ("rtp", "rtp_session", "rtp_reception", "jitter_buffer", "plc", "bridge", "codecs")
} | {"gateway.aio.rtp"}


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
        module = importlib.import_module(name)
        assert isinstance(module.__loader__, importlib.machinery.ExtensionFileLoader), name


def write_package(directory: Path, sources: dict[str, bytes], manifest: str) -> Path:
    """Package ``pkg`` in ``directory``: ``sources`` by dotted name, and its manifest."""
    package = directory / "pkg"
    for name, text in sources.items():
        path = package.joinpath(*name.split(".")[1:]).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text)
    path = package / "_compiled.txt"
    path.write_text(manifest)
    return path


def test_stale_sources_are_found_by_their_hash(tmp_path: Path) -> None:
    sources = {"pkg.alpha": b"x = 1\n", "pkg.sub.beta": b"y = 2\n"}
    digests = {name: hashlib.sha256(text).hexdigest() for name, text in sources.items()}
    manifest = write_package(
        tmp_path, sources, "".join(f"{name} {digest}\n" for name, digest in digests.items())
    )
    assert compiled_modules(manifest) == digests
    assert source_of("pkg.sub.beta", manifest) == tmp_path / "pkg" / "sub" / "beta.py"
    assert stale_compiled_modules(manifest) == []
    (tmp_path / "pkg" / "sub" / "beta.py").write_bytes(b"y = 3\n")
    assert stale_compiled_modules(manifest) == ["pkg.sub.beta"]
    (tmp_path / "pkg" / "alpha.py").unlink()
    assert stale_compiled_modules(manifest) == ["pkg.alpha", "pkg.sub.beta"]


def test_no_manifest_means_nothing_compiled(tmp_path: Path) -> None:
    assert compiled_modules(tmp_path / "_compiled.txt") == {}
    assert stale_compiled_modules(tmp_path / "_compiled.txt") == []


def copy_of_gateway(directory: Path) -> Path:
    """A copy of the built ``gateway`` package (compiled modules and all) under ``directory``."""
    shutil.copytree(GATEWAY, directory / "gateway", ignore=shutil.ignore_patterns("*.pyc"))
    return directory / "gateway"


def python_in(directory: Path, code: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *options, "-c", code],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(directory)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("edited", ["gateway.media.plc", "gateway.aio.rtp"])
def test_a_changed_source_runs_instead_of_its_stale_compiled_module(
    tmp_path: Path, edited: str
) -> None:
    # One source edited after the build: every module of the compiled set must then come from
    # its source (compiled modules call each other natively), with a warning -- whichever of
    # them is imported first (here the adapter, which imports the media core).
    require_compiled()
    copy = copy_of_gateway(tmp_path)
    source = copy.joinpath(*edited.split(".")[1:]).with_suffix(".py")
    source.write_text(source.read_text() + "\nEDITED_AFTER_THE_BUILD = True\n")
    result = python_in(
        tmp_path,
        "import gateway.aio.rtp, gateway.media.plc, gateway.media.bridge, sys\n"
        f"print(sys.modules[{edited!r}].EDITED_AFTER_THE_BUILD)\n"
        "for name in ('gateway.aio.rtp', 'gateway.media.plc', 'gateway.media.bridge'):\n"
        "    print(sys.modules[name].__file__)\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        str(copy / "aio" / "rtp.py"),
        str(copy / "media" / "plc.py"),
        str(copy / "media" / "bridge.py"),
    ]
    assert f"{edited} changed since compiled" in result.stderr


def test_an_unchanged_copy_keeps_its_compiled_modules(tmp_path: Path) -> None:
    require_compiled()
    copy_of_gateway(tmp_path)
    result = python_in(
        tmp_path,
        "import gateway.aio.rtp as a, gateway.media.bridge as b; print(a.__file__, b.__file__)",
        "-We",
    )
    assert result.returncode == 0, result.stderr
    assert [path.endswith(".so") for path in result.stdout.split()] == [True, True]
