"""The asyncio SIP transports on loopback sockets: stdlib loop, uvloop and virtual time."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gateway.aio.loop import new_event_loop, uvloop_available
from gateway.aio.sip_transport import SipTransport
from gateway.aio.sip_uac_peer import UacOptions, UacPeer
from gateway.aio.sip_uas_peer import UasOptions, UasPeer
from gateway.aio.virtual_time import run_virtual
from gateway.sip.endpoint import EndpointConfig, SipEndpoint
from gateway.sip.events import EndpointEvent, RequestReceived, TransactionFailed
from gateway.sip.routing import Hop, hostport
from gateway.sip.routing import SipTransport as TransportName
from gateway.sip.timers import TimerConfig
from gateway.trace import TraceRecorder

LOOPS = [
    "asyncio",
    pytest.param(
        "uvloop", marks=pytest.mark.skipif(not uvloop_available(), reason="uvloop not installed")
    ),
]


def run_on(kind: str, main: Callable[[], Awaitable[Any]]) -> Any:
    loop = new_event_loop(kind == "uvloop")
    try:
        return loop.run_until_complete(asyncio.wait_for(main(), 20))
    finally:
        loop.close()


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


class Collector:
    """An application that keeps every event (and answers requests with a fixed status)."""

    def __init__(self, endpoint: SipEndpoint, status: int = 200) -> None:
        self.endpoint = endpoint
        self.status = status
        self.events: list[EndpointEvent] = []
        self.changed = asyncio.Event()

    def handle_event(self, event: EndpointEvent, now: float) -> None:
        self.events.append(event)
        if isinstance(event, RequestReceived) and event.request.method != "ACK":
            self.endpoint.respond(event.transaction, self.status, now)
        self.changed.set()

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        """No timers of its own."""

    async def wait_for(self, test: Callable[[], bool]) -> None:
        while not test():
            self.changed.clear()
            await self.changed.wait()


def endpoint(node: str, trace: TraceRecorder | None = None, **timers: float) -> SipEndpoint:
    config = EndpointConfig(node=node, timers=TimerConfig(**timers))
    if trace is None:
        return SipEndpoint(config, rng=random.Random(node))
    return SipEndpoint(config, rng=random.Random(node), trace=trace)


async def call_pair(
    host: str, transport: TransportName, calls: int, hold: float
) -> tuple[UacPeer, UasPeer, SipTransport, SipTransport]:
    uas_endpoint = endpoint("uas")
    uas = UasPeer(uas_endpoint, UasOptions(hold=None, media_address=host), lambda record: None)
    uas_transport = SipTransport(uas_endpoint, uas)
    listen = uas_transport.listen_udp if transport == "udp" else uas_transport.listen_tcp
    address = await listen(host, 0)
    uac_endpoint = endpoint("uac")
    options = UacOptions(
        target=f"sip:svc@{hostport(*address)}",
        destination=Hop(transport, address),
        calls=calls,
        rate=50.0,
        hold=hold,
        media_address=host,
        caller=f"<sip:uac@{hostport(host)}>",
    )
    uac = UacPeer(uac_endpoint, options)
    uac_transport = SipTransport(uac_endpoint, uac)
    await uac_transport.listen_udp(host, 0)
    if transport == "tcp":
        await uac_transport.listen_tcp(host, 0)
    loop = asyncio.get_running_loop()
    uac.start(loop.time())
    uac_transport.pump()
    while not uac.done:
        await asyncio.sleep(0.02)
    await uac_transport.aclose()
    await uas_transport.aclose()
    return uac, uas, uac_transport, uas_transport


@pytest.mark.parametrize("loop_kind", LOOPS)
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_calls_complete_over_ipv4(loop_kind: str, transport: TransportName) -> None:
    uac, uas, _, _ = run_on(loop_kind, lambda: call_pair("127.0.0.1", transport, 5, 0.05))
    assert uac.summary.completed == 5 and uac.summary.failed == 0
    assert uas.started == 5 and uas.finished["BYE from the caller"] == 5


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
@pytest.mark.parametrize("loop_kind", LOOPS)
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_calls_complete_over_ipv6(loop_kind: str, transport: TransportName) -> None:
    uac, _, _, _ = run_on(loop_kind, lambda: call_pair("::1", transport, 3, 0.05))
    assert uac.summary.completed == 3 and uac.summary.failed == 0


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_tcp_connection_is_reused_for_every_call(loop_kind: str) -> None:
    async def main() -> int:
        trace = TraceRecorder()
        uas_endpoint = endpoint("uas", trace)
        uas = UasPeer(uas_endpoint, UasOptions(), lambda record: None)
        uas_transport = SipTransport(uas_endpoint, uas)
        address = await uas_transport.listen_tcp("127.0.0.1", 0)
        uac_endpoint = endpoint("uac")
        options = UacOptions(
            f"sip:svc@{hostport(*address)}", Hop("tcp", address), calls=4, rate=100.0, hold=0.01
        )
        uac = UacPeer(uac_endpoint, options)
        uac_transport = SipTransport(uac_endpoint, uac)
        await uac_transport.listen_tcp("127.0.0.1", 0)
        uac.start(asyncio.get_running_loop().time())
        uac_transport.pump()
        while not uac.done:
            await asyncio.sleep(0.02)
        assert uac.summary.completed == 4
        remotes = {e.remote for e in trace.events if e.direction == "in"}
        await uac_transport.aclose()
        await uas_transport.aclose()
        return len(remotes)

    assert run_on(loop_kind, main) == 1  # one connection carried all four calls


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_garbage_and_truncated_streams_do_not_break_a_live_endpoint(loop_kind: str) -> None:
    options = (
        b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKok;rport\r\n"
        b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: ok@1\r\n"
        b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )

    async def main() -> tuple[bytes, bytes, bytes]:
        ep = endpoint("uas", tcp_idle=0.3)
        transport = SipTransport(ep, Collector(ep))
        udp_address = await transport.listen_udp("127.0.0.1", 0)
        tcp_address = await transport.listen_tcp("127.0.0.1", udp_address[1])
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.setblocking(False)
            for junk in (b"\x00\x01\x02", b"SIP/2.0 200 OK\r\n\r\n", b"\r\n\r\n", options[:50]):
                client.sendto(junk, udp_address)
            client.sendto(options, udp_address)
            # The truncated request gets a 400 (it has a Via line), the rest nothing.
            answers = [await asyncio.wait_for(loop.sock_recv(client, 4096), 5) for _ in range(2)]
            assert answers[0].startswith(b"SIP/2.0 400 Bad Request\r\n")
            udp_answer = answers[1]
        # A truncated message then EOF on one connection, a keep-alive and a request on another.
        reader, writer = await asyncio.open_connection(*tcp_address)
        writer.write(options.replace(b"UDP", b"TCP")[:70])
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        reader, writer = await asyncio.open_connection(*tcp_address)
        writer.write(b"\r\n\r\n")
        pong = await asyncio.wait_for(reader.readexactly(2), 5)
        writer.write(
            options.replace(b"UDP", b"TCP")
            .replace(b"z9hG4bKok", b"z9hG4bKtcp")
            .replace(b"ok@1", b"tcp@1")
        )
        tcp_answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        # The idle connection is closed by the endpoint (tcp_idle=0.3 s).
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await transport.aclose()
        return udp_answer, pong, tcp_answer

    udp_answer, pong, tcp_answer = run_on(loop_kind, main)
    assert udp_answer.startswith(b"SIP/2.0 200 OK\r\n") and b"z9hG4bKok" in udp_answer
    assert pong == b"\r\n"
    assert tcp_answer.startswith(b"SIP/2.0 200 OK\r\n") and b"z9hG4bKtcp" in tcp_answer


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_transport_errors_become_503_events(loop_kind: str) -> None:
    async def main() -> list[TransactionFailed]:
        with socket.socket() as placeholder:  # a port that surely refuses connections
            placeholder.bind(("127.0.0.1", 0))
            refused = placeholder.getsockname()
        ep = endpoint("uac")
        collector = Collector(ep)
        transport = SipTransport(ep, collector)
        await transport.listen_udp("127.0.0.1", 0)
        await transport.listen_tcp("127.0.0.1", 0)
        now = asyncio.get_running_loop().time()
        for hop in (Hop("tcp", refused), Hop("udp", ("::1", 5060))):  # no IPv6 socket here
            request = ep.new_request(
                "OPTIONS", "sip:x@127.0.0.1", from_="<sip:a@127.0.0.1>", to="<sip:x@127.0.0.1>"
            )
            ep.send_request(request, now, destination=hop)
        transport.pump()
        await collector.wait_for(lambda: len(collector.events) >= 2)
        await transport.aclose()
        return [e for e in collector.events if isinstance(e, TransactionFailed)]

    failures = run_on(loop_kind, main)
    assert sorted(f.status for f in failures) == [503, 503]


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_large_request_goes_over_tcp_on_real_sockets(loop_kind: str) -> None:
    async def main() -> list[EndpointEvent]:
        server_ep = endpoint("uas")
        server = Collector(server_ep)
        server_transport = SipTransport(server_ep, server)
        address = await server_transport.listen_udp("127.0.0.1", 0)
        await server_transport.listen_tcp("127.0.0.1", address[1])
        client_ep = endpoint("uac")
        client = Collector(client_ep)
        client_transport = SipTransport(client_ep, client)
        await client_transport.listen_udp("127.0.0.1", 0)
        await client_transport.listen_tcp("127.0.0.1", 0)
        request = client_ep.new_request(
            "OPTIONS",
            f"sip:x@{hostport(*address)}",
            from_="<sip:a@127.0.0.1>",
            to="<sip:x@127.0.0.1>",
            body=b"x" * 3000,
            content_type="application/sdp",
        )
        client_ep.send_request(request, asyncio.get_running_loop().time())
        client_transport.pump()
        await client.wait_for(lambda: bool(client.events))
        await client_transport.aclose()
        await server_transport.aclose()
        return server.events

    (received,) = run_on(loop_kind, main)
    assert isinstance(received, RequestReceived) and received.transport == "tcp"
    assert len(received.request.body) == 3000


def test_a_call_on_virtual_time_where_timer_b_and_a_long_hold_elapse_instantly() -> None:
    async def main() -> tuple[float, UacPeer, list[EndpointEvent]]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        # Nobody answers at this port: Timer B (64*T1 = 32 s) ends the INVITE with 408.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            ep = endpoint("uac")
            collector = Collector(ep)
            transport = SipTransport(ep, collector)
            await transport.listen_udp("127.0.0.1", 0)
            request = ep.new_request(
                "INVITE",
                f"sip:x@{hostport(*silent.getsockname())}",
                from_="<sip:a@127.0.0.1>",
                to="<sip:x@127.0.0.1>",
            )
            ep.send_request(request, loop.time())
            transport.pump()
            await collector.wait_for(lambda: bool(collector.events))
            await transport.aclose()
        uac, _, _, _ = await call_pair("127.0.0.1", "udp", 2, 30.0)  # held 30 s each
        return loop.time() - start, uac, collector.events

    wall = time.monotonic()
    elapsed, uac, events = run_virtual(main())
    assert time.monotonic() - wall < 5.0
    (failed,) = events
    assert isinstance(failed, TransactionFailed) and failed.status == 408
    assert uac.summary.completed == 2
    assert elapsed >= 32.0 + 30.0
