"""A TCP relay the runner puts into a trunk link so that a scenario can break it (``link-down``).

The connecting end of the trunk is pointed at the relay, which opens its own connection to the
listening end and copies bytes both ways.  :meth:`LinkRelay.cut` closes both connections -- each
end sees its peer go away, as when a cable is pulled -- and refuses new ones until
:meth:`LinkRelay.restore`.

Both ends trace the relay's addresses as their peer's, so the relay says which port stands for
which (:attr:`LinkRelay.port_aliases`): its listening port is the listening end's port, the port
of each outgoing connection is the connecting end's.  Ladders and pcaps use that to pair what one
end sent with what the other received.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from gateway.trace import Address

__all__ = ["LinkRelay"]


class _Half(asyncio.Protocol):
    """One of the relay's two connections; it writes what it receives into the other.

    An accepted (``inbound``) half opens its outgoing peer once it is connected itself, or
    hangs up at once while the link is cut.
    """

    def __init__(self, relay: LinkRelay, *, inbound: bool) -> None:
        self.relay = relay
        self.inbound = inbound
        self.transport: asyncio.Transport | None = None
        self.peer: _Half | None = None
        self.pending = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if not self.inbound:
            return
        if self.relay.up:
            self.relay.spawn(self)
        else:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)
        else:
            self.pending += data  # the other side is still connecting

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.close()
        self.relay.forget(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class LinkRelay:
    """Relays connections made to :attr:`address` to ``target``."""

    def __init__(self, target: Address, on_alias: Callable[[int, int], None]) -> None:
        self.target = target
        self._on_alias = on_alias
        self._server: asyncio.Server | None = None
        self._halves: set[_Half] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.address: Address = ("127.0.0.1", 0)
        self.up = True

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accept, "127.0.0.1", 0)
        name = self._server.sockets[0].getsockname()
        self.address = (name[0], name[1])
        self._on_alias(self.address[1], self.target[1])

    def _accept(self) -> _Half:
        half = _Half(self, inbound=True)
        self._halves.add(half)
        return half

    def spawn(self, inbound: _Half) -> None:
        task = asyncio.get_running_loop().create_task(self._connect(inbound))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, inbound: _Half) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, outbound = await loop.create_connection(lambda: _Half(self, inbound=False),
                                                       *self.target)
        except OSError:
            inbound.close()
            return
        assert outbound.transport is not None
        if inbound.transport is None or not self.up:  # gone, or cut, while connecting
            outbound.close()
            return
        self._halves.add(outbound)
        local = outbound.transport.get_extra_info("sockname")
        client = inbound.transport.get_extra_info("peername")
        self._on_alias(int(local[1]), int(client[1]))
        inbound.peer, outbound.peer = outbound, inbound
        if inbound.pending:
            outbound.transport.write(bytes(inbound.pending))
            inbound.pending.clear()

    def forget(self, half: _Half) -> None:
        self._halves.discard(half)

    def cut(self) -> None:
        """Break the link: both ends lose their connection; new ones are refused."""
        self.up = False
        for half in list(self._halves):
            half.close()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
