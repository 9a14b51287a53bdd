"""The virtual-time loop jumps idle waits yet still moves real loopback traffic."""

from __future__ import annotations

import asyncio
import time
from typing import cast

from gateway.aio.virtual_time import VirtualTimeEventLoop, run_virtual


def test_sleep_advances_virtual_time_not_wall_time() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(30.0)
        return loop.time() - start

    wall = time.monotonic()
    elapsed = run_virtual(main())
    assert 30.0 <= elapsed < 30.01
    assert time.monotonic() - wall < 1.0


def test_timers_fire_in_order_at_their_virtual_deadlines() -> None:
    fired: list[tuple[str, float]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.call_later(5.0, lambda: fired.append(("b", loop.time())))
        loop.call_later(0.5, lambda: fired.append(("a", loop.time())))
        loop.call_later(64.0, lambda: done.set_result(None))
        await done

    run_virtual(main(), start=100.0)
    assert [name for name, _ in fired] == ["a", "b"]
    assert abs(fired[0][1] - 100.5) < 1e-6 and abs(fired[1][1] - 105.0) < 1e-6


def test_udp_ping_pong_on_loopback_between_long_sleeps() -> None:
    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            # asyncio's selector datagram transport does not subclass DatagramTransport on 3.11.
            self.transport = cast(asyncio.DatagramTransport, transport)

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(data.upper(), addr)

    class Client(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.replies: asyncio.Queue[bytes] = asyncio.Queue()

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.replies.put_nowait(data)

    async def main() -> list[tuple[bytes, float]]:
        loop = asyncio.get_running_loop()
        server, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        port = server.get_extra_info("sockname")[1]
        client_transport, client = await loop.create_datagram_endpoint(
            Client, remote_addr=("127.0.0.1", port)
        )
        got = []
        for word in (b"invite", b"bye"):
            client_transport.sendto(word)
            reply = await asyncio.wait_for(client.replies.get(), timeout=1.0)
            got.append((reply, loop.time()))
            await asyncio.sleep(32.0)
        server.close()
        client_transport.close()
        return got

    got = run_virtual(main())
    assert [g[0] for g in got] == [b"INVITE", b"BYE"]
    # The reply came back without the clock moving; the sleep then jumped 32 s.
    assert got[0][1] < 0.01 and 32.0 <= got[1][1] < 32.01


def test_tcp_round_trip_on_loopback() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.readexactly(4)
        writer.write(data[::-1])
        await writer.drain()
        writer.close()

    async def main() -> bytes:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"abcd")
        await writer.drain()
        reply = await asyncio.wait_for(reader.readexactly(4), timeout=5.0)
        writer.close()
        server.close()
        await server.wait_closed()
        return reply

    loop = VirtualTimeEventLoop()
    try:
        assert loop.run_until_complete(main()) == b"dcba"
        # A 5 s wait_for that was satisfied at once must not have consumed virtual time.
        assert loop.time() < 1.0
    finally:
        loop.close()


def test_the_clock_stands_still_while_a_thread_works() -> None:
    """A slow executor job (a name lookup) is not overtaken by a timer the jump would fire."""
    seen: dict[str, float] = {}

    def slow_lookup() -> str:
        time.sleep(0.3)  # real time: the resolver is slow
        return "127.0.0.1"

    async def main() -> str:
        loop = asyncio.get_running_loop()
        start = loop.time()
        loop.call_later(1.0, lambda: seen.setdefault("timer", loop.time() - start))
        answer = await asyncio.wait_for(loop.run_in_executor(None, slow_lookup), 0.5)
        seen["answer"] = loop.time() - start
        await asyncio.sleep(2.0)  # and afterwards the clock jumps again
        return answer

    wall = time.monotonic()
    assert run_virtual(main()) == "127.0.0.1"
    assert seen["answer"] < 0.01 and abs(seen["timer"] - 1.0) < 1e-6
    assert 0.3 <= time.monotonic() - wall < 1.5


def test_a_real_name_lookup_on_the_virtual_loop() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, lambda: None)  # a pending timer the clock would jump to
        infos = await asyncio.wait_for(loop.getaddrinfo("localhost", 5060), 4.0)
        return [str(info[4][0]) for info in infos]

    assert {"127.0.0.1", "::1"} & set(run_virtual(main()))
