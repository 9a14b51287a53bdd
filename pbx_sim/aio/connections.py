"""Stream protocols: one per trunk connection (Q.931/TPKT) and per FXS-board connection.

They only move bytes; the simulator (:mod:`pbx_sim.aio.simulator`) owns all the logic.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, cast

from gateway.trace import Address


class StreamOwner(Protocol):
    """What a connection reports to (the simulator)."""

    def connection_up(self, kind: str, name: str, link: Connection) -> bool: ...

    def connection_data(self, kind: str, name: str, link: Connection, data: bytes) -> None: ...

    def connection_down(self, kind: str, name: str, link: Connection, reason: str) -> None: ...


class Connection(asyncio.Protocol):
    """A TCP connection of a trunk (``kind`` "trunk") or an FXS board (``kind`` "fxs")."""

    def __init__(self, owner: StreamOwner, kind: str, name: str) -> None:
        self._owner = owner
        self.kind = kind
        self.name = name
        self.transport: asyncio.Transport | None = None
        self.local: Address | None = None
        self.remote: Address | None = None
        self.accepted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.local = _address(transport.get_extra_info("sockname"))
        self.remote = _address(transport.get_extra_info("peername"))
        self.accepted = self._owner.connection_up(self.kind, self.name, self)
        if not self.accepted:
            self.transport.close()  # one connection at a time per trunk / board

    def data_received(self, data: bytes) -> None:
        if self.accepted:
            self._owner.connection_data(self.kind, self.name, self, data)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.accepted:
            self.accepted = False
            reason = f"connection lost: {exc}" if exc else "peer closed the connection"
            self._owner.connection_down(self.kind, self.name, self, reason)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _address(name: object) -> Address | None:
    if isinstance(name, tuple) and len(name) >= 2:
        return (str(name[0]), int(name[1]))
    return None
