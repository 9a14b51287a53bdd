"""asyncio UDP and TCP transports for a :class:`~gateway.sip.endpoint.SipEndpoint`.

:class:`SipTransport` owns the sockets of one endpoint and does what ARCHITECTURE.md asks of an
adapter, nothing more:

* input -- a datagram, TCP octets, an accepted / lost connection -- goes into the endpoint with
  ``now = loop.time()``;
* then :meth:`SipTransport.pump` hands the endpoint's events to the application, sends what the
  endpoint queued (:class:`~gateway.sip.routing.Transmit`) and re-arms **one** ``loop.call_at``
  at the earliest of the endpoint's and the application's deadlines.  No task or sleep per
  transaction: the only tasks are TCP connection attempts.

Datagrams received in one loop iteration are processed before one pump (uvloop delivers them in
batches), so responses to a burst leave together.  The application is any object with
``handle_event(event, now)``, ``get_timer()`` and ``handle_timer(now)`` (:class:`SipApplication`);
it may call the endpoint's ``send_*``/``respond`` at any time and then call ``pump()``.

TCP: the endpoint frames streams and decides about reuse and idle close; this module opens the
connections it asks for (a connection id it has not seen yet), queues octets until the
connection is up and reports failures back (``connection_lost(..., error=...)``), which the
endpoint turns into 503 events.  UDP sockets are picked by the ``local`` address of each
transmission (responses leave from the socket the request reached) or by address family; a
send error, or a destination no socket can reach, becomes ``transport_error``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from typing import Any, Protocol, cast

from gateway.sip.endpoint import SipEndpoint
from gateway.sip.events import EndpointEvent
from gateway.sip.routing import Transmit
from gateway.trace import Address

__all__ = ["SipApplication", "SipTransport"]


class SipApplication(Protocol):
    """The transaction user driven by a :class:`SipTransport`."""

    def handle_event(self, event: EndpointEvent, now: float) -> None: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


def _family(host: str) -> int:
    return 6 if ":" in host else 4


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, driver: SipTransport) -> None:
        self._driver = driver
        self.local: Address = ("", 0)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        name = transport.get_extra_info("sockname")
        self.local = (name[0], name[1])

    def datagram_received(self, data: bytes, addr: Any) -> None:
        driver = self._driver
        driver.endpoint.receive_datagram(
            data, (addr[0], addr[1]), driver.loop.time(), local=self.local
        )
        driver.schedule_pump()

    def error_received(self, exc: Exception) -> None:
        self._driver.udp_error(exc)


class _Stream(asyncio.Protocol):
    """One TCP connection (accepted, or opened for the endpoint)."""

    def __init__(self, driver: SipTransport, connection_id: int | None = None) -> None:
        self._driver = driver
        self.connection_id = connection_id
        self.transport: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.close_after_pending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        driver = self._driver
        peer = transport.get_extra_info("peername")
        name = transport.get_extra_info("sockname")
        if self.connection_id is None:
            self.connection_id = driver.endpoint.connection_accepted(
                (peer[0], peer[1]), (name[0], name[1]), driver.loop.time()
            )
        driver.streams[self.connection_id] = self
        for data in self.pending:
            self.transport.write(data)
        self.pending.clear()
        if self.close_after_pending:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        driver = self._driver
        assert self.connection_id is not None
        driver.endpoint.receive_data(self.connection_id, data, driver.loop.time())
        driver.schedule_pump()

    def eof_received(self) -> bool:
        driver = self._driver
        assert self.connection_id is not None
        driver.endpoint.receive_data(self.connection_id, b"", driver.loop.time())
        driver.schedule_pump()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        driver = self._driver
        if self.connection_id is None:
            return
        driver.streams.pop(self.connection_id, None)
        error = None if exc is None else str(exc) or type(exc).__name__
        driver.endpoint.connection_lost(self.connection_id, driver.loop.time(), error)
        driver.schedule_pump()


class SipTransport:
    """The sockets and the single timer of one endpoint (see the module docstring)."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        application: SipApplication,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.application = application
        self.loop = loop or asyncio.get_running_loop()
        self.streams: dict[int, _Stream] = {}
        self._udp: dict[Address, asyncio.DatagramTransport] = {}
        self._udp_by_family: dict[int, asyncio.DatagramTransport] = {}
        self._servers: list[asyncio.base_events.Server] = []
        self._connecting: dict[int, _Stream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._pump_scheduled = False
        self._sending_to: Address | None = None
        self._closed = False

    # -- listening --------------------------------------------------------------------------

    async def listen_udp(self, host: str, port: int = 0) -> Address:
        """Bind a UDP socket (port 0: any); returns the bound address."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        transport, protocol = await self.loop.create_datagram_endpoint(
            lambda: _Datagrams(self), local_addr=(host, port), family=family
        )
        local = protocol.local
        self._udp[local] = transport
        self._udp_by_family.setdefault(_family(local[0]), self._udp[local])
        self.endpoint.add_listener("udp", local)
        return local

    async def listen_tcp(self, host: str, port: int = 0) -> Address:
        """Accept TCP connections on ``host:port`` (port 0: any); returns the bound address."""
        server = await self.loop.create_server(
            lambda: _Stream(self), host, port, reuse_address=True
        )
        self._servers.append(server)
        name = server.sockets[0].getsockname()
        local = (name[0], name[1])
        self.endpoint.add_listener("tcp", local)
        return local

    # -- the pump ---------------------------------------------------------------------------

    def schedule_pump(self) -> None:
        """Pump once after the input of this loop iteration (datagrams come in bursts)."""
        if not self._pump_scheduled:
            self._pump_scheduled = True
            self.loop.call_soon(self._scheduled_pump)

    def _scheduled_pump(self) -> None:
        self._pump_scheduled = False
        self.pump()

    def pump(self) -> None:
        """Events to the application, output to the sockets, the timer re-armed."""
        if self._closed:
            return
        endpoint = self.endpoint
        application = self.application
        now = self.loop.time()
        while True:
            event = endpoint.next_event()
            if event is None:
                out = endpoint.datagrams_to_send(now)
                if not out:
                    break
                self._transmit(out, now)
                continue
            application.handle_event(event, now)
        self._rearm()

    def _rearm(self) -> None:
        if self._closed:
            return
        deadline = self.endpoint.get_timer()
        application_deadline = self.application.get_timer()
        if application_deadline is not None and (
            deadline is None or application_deadline < deadline
        ):
            deadline = application_deadline
        armed = self._timer_at
        if deadline is None or (armed is not None and armed <= deadline):
            # Nothing to do, or an earlier wake-up is already armed (it will re-arm).
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        deadline = self._timer_at
        self._timer = None
        self._timer_at = None
        # asyncio may run a handle a clock tick early: never fire before the deadline asked for.
        now = self.loop.time()
        if deadline is not None and now < deadline:
            now = deadline
        self.endpoint.handle_timer(now)
        self.application.handle_timer(now)
        self.pump()

    # -- output -----------------------------------------------------------------------------

    def _transmit(self, items: Iterable[Transmit], now: float) -> None:
        for item in items:
            if item.transport == "udp":
                self._send_datagram(item, now)
            else:
                self._send_stream(item)

    def _send_datagram(self, item: Transmit, now: float) -> None:
        transport = self._udp.get(item.local) if item.local is not None else None
        destination = item.destination
        if transport is None:
            transport = self._udp_by_family.get(_family(destination[0]))
            if transport is None:
                self.endpoint.transport_error(destination, now, "no UDP socket for this address")
                return
        self._sending_to = destination
        try:
            transport.sendto(item.data, destination)
        except OSError as exc:  # uvloop raises some errors; asyncio reports them (udp_error)
            self.endpoint.transport_error(destination, now, str(exc))
        finally:
            self._sending_to = None

    def udp_error(self, exc: Exception) -> None:
        """A UDP error: reported while we were sending, it belongs to that destination."""
        destination = self._sending_to
        if destination is not None:
            self.endpoint.transport_error(destination, self.loop.time(), str(exc))

    def _send_stream(self, item: Transmit) -> None:
        connection_id = item.connection
        assert connection_id is not None
        stream = self.streams.get(connection_id) or self._connecting.get(connection_id)
        if stream is None:
            if item.close:
                return  # never opened, nothing to close
            stream = _Stream(self, connection_id)
            self._connecting[connection_id] = stream
            task = self.loop.create_task(self._connect(stream, item.destination))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        transport = stream.transport
        if transport is None:
            if item.data:
                stream.pending.append(item.data)
            if item.close:
                stream.close_after_pending = True
            return
        if item.data:
            transport.write(item.data)
        if item.close:
            transport.close()

    async def _connect(self, stream: _Stream, destination: Address) -> None:
        assert stream.connection_id is not None
        try:
            await self.loop.create_connection(lambda: stream, destination[0], destination[1])
        except OSError as exc:
            self._connecting.pop(stream.connection_id, None)
            self.endpoint.connection_lost(stream.connection_id, self.loop.time(), str(exc))
            self.pump()
        else:
            self._connecting.pop(stream.connection_id, None)

    # -- shutdown ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close every socket and the timer."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()
        for stream in list(self.streams.values()):
            if stream.transport is not None:
                stream.transport.close()
        for transport in self._udp.values():
            transport.close()
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        await asyncio.sleep(0)
