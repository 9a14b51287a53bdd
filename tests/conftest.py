"""Shared test fixtures.

* ``shared_dir``: the outside conformance material in ``../shared`` (``GWEMU_SHARED`` overrides).
* ``require_tool(name)``: the path of an external peer (sipp, tshark, baresip, kamailio).  Outside
  CI a missing peer skips the test; with ``CI=true`` it fails, so CI never passes by skipping.
* ``free_ports(count=1)``: the first of ``count`` consecutive loopback ports free for UDP and TCP.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
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


# Below Linux's ephemeral range (32768-60999): a port the kernel may hand to an outgoing
# connection at any moment is no port to give a listener that starts a moment later.
_FIXED_PORTS = range(20000, 32000, 2)


def find_free_ports(count: int = 1, rng: random.Random | None = None,
                    taken: set[int] | None = None) -> int:
    """The first (even) of ``count`` consecutive ports free for UDP and TCP on 127.0.0.1, none
    of them in ``taken`` (ports handed out earlier and perhaps not bound yet); adds them there."""
    rng = rng or random.Random()
    taken = set() if taken is None else taken
    for _ in range(500):
        base = rng.choice(_FIXED_PORTS)
        if taken.intersection(range(base, base + count)):
            continue
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    sock = socket.socket(socket.AF_INET, kind)
                    sockets.append(sock)
                    sock.bind(("127.0.0.1", port))
            taken.update(range(base, base + count))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


@pytest.fixture
def free_ports() -> Callable[[int], int]:
    """``free_ports(count)``: see :func:`find_free_ports`; never the same port twice in a test."""
    taken: set[int] = set()

    def free_ports(count: int = 1) -> int:
        return find_free_ports(count, taken=taken)

    return free_ports
