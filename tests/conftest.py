"""Shared test fixtures.

* ``shared_dir``: the outside conformance material in ``../shared`` (``GWEMU_SHARED`` overrides).
* ``require_tool(name)``: the path of an external peer (sipp, tshark, baresip, kamailio).  Outside
  CI a missing peer skips the test; with ``CI=true`` it fails, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shared_dir() -> Path:
    override = os.environ.get("GWEMU_SHARED")
    return Path(override) if override else REPO_ROOT.parent / "shared"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = _shared_dir()
    if not (path / "corpora").is_dir():
        message = f"shared conformance material not found at {path} (set GWEMU_SHARED)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def corpora(shared_dir: Path) -> Path:
    return shared_dir / "corpora"


def find_tool(name: str) -> str:
    """Return the path of an external tool, failing in CI and skipping elsewhere when missing."""
    candidates = [name, f"/usr/sbin/{name}", f"/usr/bin/{name}"]
    for candidate in candidates:
        path = shutil.which(candidate)
        if path:
            return path
    message = f"external peer {name!r} is not installed (the test command installs it as root)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def require_tool() -> Callable[[str], str]:
    return find_tool
