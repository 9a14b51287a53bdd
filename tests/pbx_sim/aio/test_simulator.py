"""Two simulators back to back over real TCP (Q.931/TPKT) and RTP on 127.0.0.1: voice both
ways proven by tone detection at each phone, DTMF crossing, busy, no answer, both clearing
directions; the same signalling on a virtual clock; a hostile TCP peer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gateway.aio.virtual_time import run_virtual
from gateway.trace import TraceRecorder
from pbx_sim.aio import PbxSimulator
from pbx_sim.events import PhoneEvent
from pbx_sim.q931 import (
    CallReference,
    Cause,
    ChannelIdentification,
    Message,
    MessageType,
    TpktDecoder,
    tpkt_frame,
)


async def connected(a: PbxSimulator, b: PbxSimulator, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (a.trunk_connected("gw") and b.trunk_connected("gw")):
        assert asyncio.get_running_loop().time() < deadline, "the trunk never came up"
        await asyncio.sleep(0.01)


def cleared_causes(sim: PbxSimulator, phone: str, since: int = 0) -> list[int | None]:
    return [e.cause for e in sim.events[since:]
            if isinstance(e, PhoneEvent) and e.phone == phone and e.kind == "cleared"]


def test_back_to_back_calls_with_voice(pbx_pair: Callable[..., Any]) -> None:
    pair = pbx_pair()

    async def main() -> None:
        async with PbxSimulator(pair.b(inband_ringback=True)) as b:
            port = b.trunk_address("gw")[1]
            async with PbxSimulator(pair.a(port)) as a:
                await connected(a, b)
                # 1. A calls B: in-band dialling, B's in-band ringback, voice both ways,
                #    DTMF from A to B, A hangs up.
                mark_a, mark_b = len(a.events), len(b.events)
                a.dial("1000", "2000")
                await a.wait_phone("1000", "tone", "dial", since=mark_a)
                heard = await a.wait_phone("1000", "tone", "ringback", since=mark_a)
                assert heard.via == "audio"
                await a.wait_phone("1000", "far-end-answered", since=mark_a)
                await a.wait_phone("1000", "frequency", "697", since=mark_a)
                await b.wait_phone("2000", "frequency", "1004", since=mark_b)
                a.send_digits("1000", "159#")
                for digit in "159#":
                    event = await b.wait_phone("2000", "digit", digit, since=mark_b)
                    assert event.via == "audio"
                # and back: B's phone plays digits toward A
                b.send_digits("2000", "7")
                await a.wait_phone("1000", "digit", "7", since=mark_a)
                a.hang_up("1000")
                await b.wait_phone("2000", "cleared", since=mark_b)
                assert cleared_causes(b, "2000", mark_b) == [16]
                await b.wait_phone("2000", "on-hook", since=mark_b)
                # 2. B's phone clears first: A hears busy tone in-band from its own PBX.
                mark_a, mark_b = len(a.events), len(b.events)
                a.dial("1000", "2000")
                await b.wait_phone("2000", "answered", since=mark_b)
                await a.wait_phone("1000", "frequency", "697", since=mark_a)
                b.hang_up("2000")
                await a.wait_phone("1000", "cleared", since=mark_a)
                tone = await a.wait_phone("1000", "tone", "busy", since=mark_a)
                assert tone.via == "audio" and cleared_causes(a, "1000", mark_a) == [16]
                await a.wait_phone("1000", "on-hook", since=mark_a)
                # 3. busy: cause 17 and busy tone.
                mark_a = len(a.events)
                a.dial("1000", "2001")
                await a.wait_phone("1000", "tone", "busy", since=mark_a)
                assert cleared_causes(a, "1000", mark_a) == [17]
                await a.wait_phone("1000", "on-hook", since=mark_a)
                # 4. no answer: cause 19 after PBX-B's ring timeout, congestion tone.
                mark_a = len(a.events)
                a.dial("1000", "2002")
                await a.wait_phone("1000", "tone", "congestion", since=mark_a, timeout=5.0)
                assert cleared_causes(a, "1000", mark_a) == [19]
                await a.wait_phone("1000", "on-hook", since=mark_a)
                await asyncio.sleep(0.1)
                assert not a.pbx.calls and not b.pbx.calls
                assert not a.pbx.trunks["gw"].pool.busy and not b.pbx.trunks["gw"].pool.busy

    start = time.monotonic()
    asyncio.run(asyncio.wait_for(main(), 30))
    assert time.monotonic() - start < 20


def test_signalling_only_on_a_virtual_clock(pbx_pair: Callable[..., Any]) -> None:
    pair = pbx_pair()
    trace = TraceRecorder()

    async def main() -> tuple[float, float]:
        b_config = replace(pair.b(media=False), ring_timeout=60.0)
        async with PbxSimulator(b_config, media=False, trace=trace) as b:
            a_config = pair.a(b.trunk_address("gw")[1], media=False)
            async with PbxSimulator(a_config, media=False) as a:
                await connected(a, b)
                start = asyncio.get_running_loop().time()
                a.dial("1000", "2002")  # never answers: 60 s of ringing
                event = await a.wait_phone("1000", "cleared", timeout=120.0)
                assert event.cause == 19
                tones = [e.value for e in a.phone_events("1000") if e.kind == "tone"]
                assert tones == ["dial", "ringback", "congestion"]
                assert all(e.via == "signal" for e in a.phone_events("1000") if e.kind == "tone")
                return start, event.time

    wall = time.monotonic()
    start, cleared = run_virtual(main())
    assert 60.0 <= cleared - start < 62.0
    assert time.monotonic() - wall < 10.0
    q931 = [e for e in trace.events if e.protocol == "q931" and e.direction in ("in", "out")]
    assert q931 and all(e.local is not None and e.remote is not None for e in q931)
    assert q931[0].summary.startswith("SETUP")


def test_a_hostile_peer_gets_standard_answers_while_other_calls_go_on(
    pbx_pair: Callable[..., Any],
) -> None:
    pair = pbx_pair()

    async def main() -> None:
        async with PbxSimulator(pair.b(media=False), media=False) as b:
            host, port = b.trunk_address("gw")
            reader, writer = await asyncio.open_connection(host, port)
            decoder = TpktDecoder()

            async def send(message: Message | bytes) -> None:
                writer.write(message if isinstance(message, bytes) else tpkt_frame(bytes(message)))
                await writer.drain()

            async def answers(count: int) -> list[Message]:
                got: list[Message] = []
                while len(got) < count:
                    data = await asyncio.wait_for(reader.read(4096), 5.0)
                    assert data, "the PBX closed the connection"
                    got += [Message.parse(p[4:], lenient=True) for p in decoder.feed(data)]
                return got

            def setup(value: int, channel: int, called: str) -> Message:
                from pbx_sim.q931 import BearerCapability, CalledPartyNumber, SendingComplete

                return Message.build(MessageType.SETUP, CallReference(value), SendingComplete(),
                                     BearerCapability.speech(),
                                     ChannelIdentification.pri(channel),
                                     CalledPartyNumber(called))

            await send(setup(1, 1, "2002"))
            await send(setup(2, 2, "2002"))  # 2002 is ringing already: busy
            first = await answers(3)
            assert [m.name for m in first] == ["CALL PROCEEDING", "ALERTING", "RELEASE COMPLETE"]
            assert first[2].cause == Cause(17, 1)
            mark = len(b.events)
            await send(setup(3, 3, "2000"))  # a second call, answered
            got = await answers(3)
            assert [m.name for m in got] == ["CALL PROCEEDING", "ALERTING", "CONNECT"]
            reply = CallReference(1, flag=False)
            await send(Message.build(MessageType.DISCONNECT, CallReference(77), Cause(16)))
            await send(Message.build(MessageType.CONNECT_ACKNOWLEDGE, reply))  # wrong state
            await send(bytes((3, 0, 0, 5, 0x08)))  # a TPKT too short for any Q.931 message
            frame = tpkt_frame(bytes(Message.build(MessageType.STATUS_ENQUIRY, reply)))
            for octet in frame:  # one octet at a time
                await send(bytes((octet,)))
                await asyncio.sleep(0)
            got = await answers(3)
            assert [(m.name, m.cause.value if m.cause else None) for m in got] == [
                ("RELEASE COMPLETE", 81), ("STATUS", 101), ("STATUS", 30)]
            assert [e.kind for e in b.events[mark:] if getattr(e, "kind", "") ==
                    "protocol-error"] == ["protocol-error"] * 3
            assert b.phone("2002").alerted and b.phone("2000").in_call
            # garbage framing: the PBX gives up on this connection, calls are released
            await send(b"\x16\x03\x01 not TPKT at all")
            assert await asyncio.wait_for(reader.read(4096), 5.0) == b""
            writer.close()
            await b.wait_phone("2000", "cleared")
            assert not b.phone("2002").alerted
            # a new connection is served
            reader, writer = await asyncio.open_connection(host, port)
            decoder = TpktDecoder()
            await asyncio.sleep(0.6)  # phone 2000 hangs up after being cleared
            await send(setup(1, 1, "2002"))
            assert [m.name for m in await answers(2)] == ["CALL PROCEEDING", "ALERTING"]
            writer.close()

    asyncio.run(asyncio.wait_for(main(), 20))
