"""The endpoint's TCP connections: framing state, reuse by remote address, idle time.

Each :class:`Connection` owns a :class:`~gateway.sip.stream.StreamParser` (RFC 3261 section 18.3
framing: the empty line, then Content-Length octets; CRLF keep-alives between messages).  The
:class:`ConnectionTable` hands out connection ids -- for connections the adapter accepted and
for the ones the endpoint asks the adapter to open -- and finds an open connection to a remote
address so requests and responses reuse it (RFC 3261 section 18.1.1, 18.2.2).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Protocol

from gateway.sip.stream import StreamParser
from gateway.sip.timers import Timer
from gateway.trace import Address

__all__ = ["Connection", "ConnectionHost", "ConnectionTable"]


class ConnectionHost(Protocol):
    def connection_idle(self, connection: Connection, now: float) -> None: ...


class Connection:
    """One TCP connection as the endpoint sees it (the socket lives in the adapter)."""

    __slots__ = (
        "host",
        "id",
        "idle_timer",
        "last_activity",
        "local",
        "outbound",
        "parser",
        "remote",
    )

    def __init__(
        self,
        host: ConnectionHost,
        connection_id: int,
        remote: Address,
        local: Address | None,
        outbound: bool,
        max_message_size: int,
        now: float,
    ) -> None:
        self.host = host
        self.id = connection_id
        self.remote = remote
        self.local = local
        self.outbound = outbound
        self.parser = StreamParser(max_message_size)
        self.last_activity = now
        self.idle_timer: Timer | None = None

    def on_timer(self, name: str, now: float) -> None:
        self.idle_timer = None
        self.host.connection_idle(self, now)

    def __repr__(self) -> str:
        direction = "to" if self.outbound else "from"
        return f"<Connection {self.id} {direction} {self.remote}>"


class ConnectionTable:
    """Open connections by id and by remote address (the most recent one wins)."""

    __slots__ = ("_by_id", "_by_remote", "_ids", "_max_size")

    def __init__(self, max_message_size: int) -> None:
        self._by_id: dict[int, Connection] = {}
        self._by_remote: dict[Address, Connection] = {}
        self._ids = count(1)
        self._max_size = max_message_size

    def open(
        self,
        host: ConnectionHost,
        remote: Address,
        local: Address | None,
        outbound: bool,
        now: float,
    ) -> Connection:
        connection = Connection(host, next(self._ids), remote, local, outbound, self._max_size, now)
        self._by_id[connection.id] = connection
        self._by_remote[remote] = connection
        return connection

    def get(self, connection_id: int | None) -> Connection | None:
        if connection_id is None:
            return None
        return self._by_id.get(connection_id)

    def to(self, remote: Address) -> Connection | None:
        """An open connection whose far end is ``remote``."""
        return self._by_remote.get(remote)

    def remove(self, connection: Connection) -> None:
        self._by_id.pop(connection.id, None)
        if self._by_remote.get(connection.remote) is connection:
            del self._by_remote[connection.remote]
        if connection.idle_timer is not None:
            connection.idle_timer.cancel()
            connection.idle_timer = None

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._by_id.values()))
