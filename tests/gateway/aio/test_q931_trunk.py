"""The Q.931 trunk line adapter against the PBX simulator over real TCP on 127.0.0.1.

Signalling runs on the virtual-time loop (no media); one test carries voice over the B-channel
RTP convention on the real loop.  The message sequences are read from the adapter's own Q.931
trace: the PBX sees exactly those messages on the same connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import pytest

from gateway.aio.bchannel import BChannelPlan
from gateway.aio.q931_trunk import Q931Trunk, Q931TrunkSettings, TrunkNote
from gateway.aio.virtual_time import run_virtual
from gateway.line import (
    AcknowledgeAnswer,
    AnswerCall,
    ClearCall,
    IndicateProgress,
    LineAnswerAcknowledged,
    LineAnswered,
    LineCleared,
    LineDigit,
    LineEvent,
    LineProgress,
    LineReleased,
    LineSeized,
    LineStatus,
    OfferCall,
    ProceedCall,
    SendDigit,
)
from gateway.media.audio import FRAME_SAMPLES
from gateway.media.bridge_paths import line_format
from gateway.media.tones import sine, tone_power
from gateway.trace import TraceRecorder
from pbx_sim.aio import PbxSimulator
from pbx_sim.config import ExtensionConfig, HostPort, PbxConfig, RouteConfig, TrunkConfig
from pbx_sim.events import PbxEvent
from pbx_sim.q931 import CallingPartyNumber, CallReference, Message, MessageType, tpkt_frame
from pbx_sim.q931.constants import NumberingPlan, NumberType


def pbx_config(*, side: Literal["user", "network"], mode: Literal["listen", "connect"],
               port: int, channels: int = 4, rtp: tuple[int, int] | None = None,
               **trunk: Any) -> PbxConfig:
    media = {} if rtp is None else {"rtp_local": HostPort("127.0.0.1", rtp[0]),
                                    "rtp_remote": HostPort("127.0.0.1", rtp[1])}
    return PbxConfig(
        name="PBX",
        tone_plan="us",
        ring_cadence=(300, 300),
        ring_timeout=5.0,
        extension=(
            ExtensionConfig(number="1000", name="Alice", dial_delay=0.05, play="tone:1004",
                            detect=(697,), hangup_on_clear=None),
            ExtensionConfig(number="2000", answer_after_rings=1, play="tone:697",
                            detect=(1004,)),
            ExtensionConfig(number="2001", busy=True),
            ExtensionConfig(number="2002"),
        ),
        trunk=(TrunkConfig(name="gw", address=HostPort("127.0.0.1", port), mode=mode,
                           side=side, interface="e1", channels=channels, reconnect=0.05,
                           **media, **trunk),),  # type: ignore[arg-type]
        route=(RouteConfig(pattern="9T", trunk="gw", strip=1),),
    )


class Recorder:
    """The adapter's event handler: keeps events and notes, and lets a test act on them."""

    def __init__(self, trunk: Q931Trunk) -> None:
        self.trunk = trunk
        self.events: list[LineEvent] = []
        self.notes: list[str] = []
        self.reaction: Callable[[LineEvent], None] | None = None
        trunk.set_event_handler(self.on_event)

    def on_event(self, event: LineEvent) -> None:
        self.events.append(event)
        if self.reaction is not None:
            self.reaction(event)

    def on_note(self, note: TrunkNote) -> None:
        self.notes.append(note.text)

    async def wait(self, kind: type, timeout: float = 10.0, since: int = 0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for event in self.events[since:]:
                if isinstance(event, kind):
                    return event
            assert asyncio.get_running_loop().time() < deadline, f"no {kind.__name__}"
            await asyncio.sleep(0.01)


def q931_sequence(trace: TraceRecorder) -> list[tuple[str, str]]:
    """(direction, message name) of every Q.931 message the gateway sent or received."""
    return [(e.direction, e.summary.split(" cr=")[0]) for e in trace.of("q931")
            if e.direction in ("in", "out")]


def settings(port: int, **overrides: Any) -> Q931TrunkSettings:
    values: dict[str, Any] = {"name": "pbx", "address": ("127.0.0.1", port), "mode": "connect",
                              "side": "user", "channels": 4, "reconnect": 0.05,
                              "numbers": ("1000",)}
    values.update(overrides)
    return Q931TrunkSettings(**values)


def link_up(trunk: Q931Trunk) -> bool:
    return trunk.connected


async def up(trunk: Q931Trunk, recorder: Recorder) -> None:
    event = await recorder.wait(LineStatus)
    assert event.in_service and trunk.connected


@contextlib.asynccontextmanager
async def pbx_behind(trunk: Q931Trunk) -> AsyncIterator[tuple[Recorder, PbxSimulator]]:
    """Start a listening trunk, connect a user-side PBX simulator to it, wait for service."""
    recorder = Recorder(trunk)
    await trunk.start()
    assert trunk.listening is not None
    config = pbx_config(side="user", mode="connect", port=trunk.listening[1])
    try:
        async with PbxSimulator(config, media=False) as pbx:
            await up(trunk, recorder)
            yield recorder, pbx
    finally:
        await trunk.stop()


def test_a_call_from_the_pbx_follows_flow_1() -> None:
    """PBX-A's side of flow 1, the gateway playing the Q.931 user side."""
    trace = TraceRecorder()

    async def main() -> None:
        async with PbxSimulator(pbx_config(side="network", mode="listen", port=0),
                                media=False) as pbx:
            trunk = Q931Trunk(settings(pbx.trunk_address("gw")[1]), node="GW-A", trace=trace)
            recorder = Recorder(trunk)
            await trunk.start()
            try:
                await up(trunk, recorder)
                pbx.dial("1000", "95551234")
                seized = await recorder.wait(LineSeized)
                assert (seized.called, seized.calling, seized.calling_name) == \
                    ("5551234", "1000", "Alice")
                assert seized.complete and seized.codec == "pcma" and seized.channel == 1
                ref = seized.ref
                trunk.send(ProceedCall("pbx", ref))
                trunk.send(IndicateProgress("pbx", ref, "alerting"))
                tone = await pbx.wait_phone("1000", "tone", "ringback")
                assert tone.via == "signal"  # no PI: the PBX rings back itself
                trunk.send(AnswerCall("pbx", ref))
                await recorder.wait(LineAnswerAcknowledged)
                await pbx.wait_phone("1000", "far-end-answered")
                trunk.send(SendDigit("pbx", ref, "5"))
                await pbx.wait_phone("1000", "digit", "5")
                pbx.hang_up("1000")
                cleared = await recorder.wait(LineCleared)
                assert cleared.cause == 16
                trunk.send(ClearCall("pbx", ref, 16))
                await recorder.wait(LineReleased)
                assert trunk.live_calls == 0 and not trunk.busy_channels
            finally:
                await trunk.stop()
        assert q931_sequence(trace) == [
            ("in", "SETUP"), ("out", "CALL PROCEEDING"), ("out", "ALERTING"),
            ("out", "CONNECT"), ("in", "CONNECT ACKNOWLEDGE"), ("out", "INFORMATION"),
            ("in", "DISCONNECT"), ("out", "RELEASE"), ("in", "RELEASE COMPLETE"),
        ]

    run_virtual(asyncio.wait_for(main(), 60))


def test_a_call_to_the_pbx_as_network_side_and_clearing_from_our_side() -> None:
    """PBX-B's side of flow 1: SETUP out, CONNECT ACK only when told, DISCONNECT first."""
    trace = TraceRecorder()

    async def main() -> None:
        listener = Q931Trunk(settings(0, mode="listen", side="network"), node="GW-B",
                             trace=trace)
        async with pbx_behind(listener) as (recorder, pbx):
            listener.send(OfferCall("pbx", "out-1", "2000", calling="5551000",
                                    calling_name="Alice"))
            proceeding = await recorder.wait(LineProgress)
            assert proceeding.stage == "proceeding"
            caller_id = await pbx.wait_phone("2000", "caller-id")
            assert caller_id.value == "5551000 Alice"
            await recorder.wait(LineAnswered)
            alerting = [e for e in recorder.events if isinstance(e, LineProgress)]
            assert [(e.stage, e.inband) for e in alerting] == \
                [("proceeding", False), ("alerting", False)]
            await asyncio.sleep(0.5)
            assert ("in", "CONNECT ACKNOWLEDGE") not in q931_sequence(trace)
            listener.send(AcknowledgeAnswer("pbx", "out-1"))
            await pbx.wait_for(lambda e: isinstance(e, PbxEvent) and e.kind == "connected")
            listener.send(ClearCall("pbx", "out-1", 16))
            await recorder.wait(LineReleased)
            cleared = await pbx.wait_phone("2000", "cleared")
            assert cleared.cause == 16
            # our clearing needs no LineCleared: call control started it
            assert not any(isinstance(e, LineCleared) for e in recorder.events)
        assert q931_sequence(trace) == [
            ("out", "SETUP"), ("in", "CALL PROCEEDING"), ("in", "ALERTING"),
            ("in", "CONNECT"), ("out", "CONNECT ACKNOWLEDGE"), ("out", "DISCONNECT"),
            ("in", "RELEASE"), ("out", "RELEASE COMPLETE"),
        ]

    run_virtual(asyncio.wait_for(main(), 60))


@pytest.mark.parametrize(("number", "cause"), [("2001", 17), ("2099", 1)])
def test_refusals_come_back_as_cleared_with_the_pbx_cause(number: str, cause: int) -> None:
    async def main() -> None:
        trunk = Q931Trunk(settings(0, mode="listen", side="network"))
        async with pbx_behind(trunk) as (recorder, _pbx):
            trunk.send(OfferCall("pbx", "x", number))
            released = await recorder.wait(LineReleased)
            cleared = [e for e in recorder.events if isinstance(e, LineCleared)]
            assert [e.cause for e in cleared] == [cause]
            assert recorder.events.index(cleared[0]) < recorder.events.index(released)
            assert trunk.live_calls == 0

    run_virtual(asyncio.wait_for(main(), 60))


def test_sip_style_parties_are_converted_or_refused_never_stuck() -> None:
    """Found by fuzzing the gateway: a '+' in the calling number or an 81-character name made
    the SETUP unbuildable and the call hung in 'offered'.  Now '+E.164' goes as type
    international, the name as printable IA5 cut to 80, an unsendable calling number is
    left out, and an unsendable called number is refused with cause 28."""
    trace = TraceRecorder()
    name = "José Müller 李" + "x" * 100

    async def main() -> None:
        notes: list[TrunkNote] = []
        trunk = Q931Trunk(settings(0, mode="listen", side="network"), trace=trace,
                          on_note=notes.append)
        async with pbx_behind(trunk) as (recorder, pbx):
            trunk.send(OfferCall("pbx", "e164", "2000", calling="+15551000",
                                 calling_name=name))
            caller_id = await pbx.wait_phone("2000", "caller-id")
            expected_name = ("Jose Muller ?" + "x" * 100)[:80]
            assert caller_id.value == f"15551000 {expected_name}"
            setup = next(e for e in trace.of("q931") if e.summary.startswith("SETUP"))
            calling = Message.parse(setup.raw[4:]).get(CallingPartyNumber)  # TPKT off
            assert calling is not None
            assert (calling.digits, calling.number_type, calling.numbering_plan) == (
                "15551000", NumberType.INTERNATIONAL, NumberingPlan.E164)
            trunk.send(ClearCall("pbx", "e164", 16))
            await recorder.wait(LineReleased)
            mark, pbx_mark = len(recorder.events), len(pbx.events)
            trunk.send(OfferCall("pbx", "junk-cli", "2000", calling="555<1>"))
            caller_id = await pbx.wait_phone("2000", "caller-id", since=pbx_mark)
            assert caller_id.value == ""
            trunk.send(ClearCall("pbx", "junk-cli", 16))
            await recorder.wait(LineReleased, since=mark)
            mark = len(recorder.events)
            trunk.send(OfferCall("pbx", "junk-called", "20;00"))
            released = await recorder.wait(LineReleased, since=mark)
            assert released.ref == "junk-called"
            cleared = [e for e in recorder.events[mark:] if isinstance(e, LineCleared)]
            assert [(e.ref, e.cause) for e in cleared] == [("junk-called", 28)]
            assert trunk.live_calls == 0
        assert any("calling number '555<1>' cannot be sent" in note.text for note in notes)

    run_virtual(asyncio.wait_for(main(), 60))


def test_no_answer_and_a_down_link_and_exhausted_channels() -> None:
    async def main() -> None:
        trunk = Q931Trunk(settings(0, mode="listen", side="network", channels=1))
        recorder = Recorder(trunk)
        await trunk.start()
        assert trunk.listening is not None
        # before the PBX connects: the call cannot be offered (cause 38)
        trunk.send(OfferCall("pbx", "early", "2000"))
        assert [type(e).__name__ for e in recorder.events] == ["LineCleared", "LineReleased"]
        assert isinstance(recorder.events[0], LineCleared) and recorder.events[0].cause == 38
        config = pbx_config(side="user", mode="connect", port=trunk.listening[1], channels=1)
        try:
            async with PbxSimulator(config, media=False):
                await up(trunk, recorder)
                mark = len(recorder.events)
                trunk.send(OfferCall("pbx", "ring", "2002"))  # never answers: 5 s
                trunk.send(OfferCall("pbx", "second", "2000"))  # the only channel is taken
                second = [e for e in recorder.events[mark:]
                          if getattr(e, "ref", None) == "second"]
                assert [(type(e).__name__, getattr(e, "cause", None)) for e in second] == \
                    [("LineCleared", 34), ("LineReleased", None)]
                cleared = await recorder.wait(LineCleared, timeout=30, since=mark + 2)
                assert cleared.ref == "ring" and cleared.cause == 19
                trunk.send(ClearCall("pbx", "ring", 16))
                await recorder.wait(LineReleased, since=mark + 2)
                # a live call when the PBX goes away: released with cause 41
                mark = len(recorder.events)
                trunk.send(OfferCall("pbx", "lost", "2002"))
                await recorder.wait(LineProgress, since=mark)
            status = await recorder.wait(LineStatus, since=mark)
            assert not status.in_service
            lost = [e for e in recorder.events[mark:] if getattr(e, "ref", None) == "lost"]
            assert [type(e).__name__ for e in lost][-2:] == ["LineCleared", "LineReleased"]
            assert [e.cause for e in lost if isinstance(e, LineCleared)] == [41]
            assert trunk.live_calls == 0 and not trunk.busy_channels
        finally:
            await trunk.stop()

    run_virtual(asyncio.wait_for(main(), 120))


def test_malformed_q931_is_answered_and_broken_framing_drops_the_link() -> None:
    """A hostile 'PBX': the link answers per Q.931 s5.8; garbage framing closes TCP."""
    trace = TraceRecorder()

    async def main() -> None:
        trunk = Q931Trunk(settings(0, mode="listen", side="network"), trace=trace)
        recorder = Recorder(trunk)
        await trunk.start()
        assert trunk.listening is not None
        try:
            reader, writer = await asyncio.open_connection(*trunk.listening)
            await up(trunk, recorder)
            # CONNECT for a call reference nobody knows: RELEASE COMPLETE cause 81
            stray = Message.build(MessageType.CONNECT, CallReference(7, flag=False, length=2))
            writer.write(tpkt_frame(bytes(stray)))
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(100), 5)
            reply = Message.parse(answer[4:])
            assert reply.message_type == MessageType.RELEASE_COMPLETE
            assert reply.cause is not None and reply.cause.value == 81
            # a SETUP missing its mandatory Bearer capability: refused, no LineSeized
            bad = bytes([0x08, 0x02, 0x00, 0x09, 0x05])
            writer.write(tpkt_frame(bad))
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(100), 5)
            assert Message.parse(answer[4:]).message_type == MessageType.RELEASE_COMPLETE
            assert not any(isinstance(e, LineSeized) for e in recorder.events)
            # a second connection is refused while one is up
            _, second = await asyncio.open_connection(*trunk.listening)
            await asyncio.sleep(0.1)
            assert link_up(trunk)
            second.close()
            # TPKT version 9: the stream cannot be resynchronised -> link down, TCP closed
            writer.write(b"\x09\x00\x00\x05\x00")
            await writer.drain()
            assert await asyncio.wait_for(reader.read(100), 5) == b""
            status = await recorder.wait(LineStatus, since=1)
            assert not status.in_service and not link_up(trunk)
            writer.close()
        finally:
            await trunk.stop()
        drops = [e.summary for e in trace.of("q931") if e.direction == "drop"]
        assert drops and "TPKT" in drops[-1]

    run_virtual(asyncio.wait_for(main(), 60))


def test_voice_crosses_the_b_channel_both_ways(free_ports: Callable[[int], int]) -> None:
    """With media: the PBX phone's 1004 Hz reaches the call's TrunkAudio, and what the gateway
    writes (697 Hz) is heard by the phone."""
    rng = random.Random(7)
    pbx_base, gw_base = free_ports(8), free_ports(8)
    heard: list[bytes] = []

    async def main() -> None:
        config = pbx_config(side="network", mode="listen", port=0, rtp=(pbx_base, gw_base))
        async with PbxSimulator(config) as pbx:
            plan = BChannelPlan(("127.0.0.1", gw_base), ("127.0.0.1", pbx_base), "pcma")
            trunk = Q931Trunk(settings(pbx.trunk_address("gw")[1], media=plan), rng=rng)
            recorder = Recorder(trunk)
            await trunk.start()
            try:
                await up(trunk, recorder)
                pbx.dial("1000", "92000#")
                seized = await recorder.wait(LineSeized)
                audio = trunk.audio("pbx", seized.ref)
                assert audio is not None and audio.codec == "pcma"
                audio.set_receiver(heard.append)
                trunk.send(ProceedCall("pbx", seized.ref))
                trunk.send(AnswerCall("pbx", seized.ref))
                await recorder.wait(LineAnswerAcknowledged)
                fmt = line_format("pcma")
                loop = asyncio.get_running_loop()
                start = loop.time()
                for index in range(75):  # 1.5 s of 697 Hz, paced at 20 ms
                    pcm = sine(697, index * FRAME_SAMPLES, FRAME_SAMPLES, 8000.0)
                    audio.write(fmt.from_linear(pcm))
                    await asyncio.sleep(max(0.0, start + (index + 1) * 0.02 - loop.time()))
                await pbx.wait_phone("1000", "frequency", "697", timeout=2.0)
                info = trunk.call_info(seized.ref)
                assert info is not None and info["channel"] == 1
                pbx.hang_up("1000")
                await recorder.wait(LineCleared)
                trunk.send(ClearCall("pbx", seized.ref))
                await recorder.wait(LineReleased)
                assert trunk.audio("pbx", seized.ref) is None
            finally:
                await trunk.stop()

    asyncio.run(asyncio.wait_for(main(), 30))
    tail = b"".join(heard[-25:])
    pcm = line_format("pcma").to_linear(tail)
    assert tone_power(pcm, 1004) > 100 * tone_power(pcm, 697)


def test_keypad_digits_from_the_pbx_become_line_digits() -> None:
    async def main() -> None:
        async with PbxSimulator(pbx_config(side="network", mode="listen", port=0),
                                media=False) as pbx:
            trunk = Q931Trunk(settings(pbx.trunk_address("gw")[1]))
            recorder = Recorder(trunk)
            await trunk.start()
            try:
                await up(trunk, recorder)
                pbx.dial("1000", "95551234")
                seized = await recorder.wait(LineSeized)
                trunk.send(ProceedCall("pbx", seized.ref))
                trunk.send(AnswerCall("pbx", seized.ref))
                await recorder.wait(LineAnswerAcknowledged)
                pbx.send_digits("1000", "42")
                await recorder.wait(LineDigit)
                await asyncio.sleep(1.0)
                digits = [e.digit for e in recorder.events if isinstance(e, LineDigit)]
                assert digits == ["4", "2"]
            finally:
                await trunk.stop()

    start = time.monotonic()
    run_virtual(asyncio.wait_for(main(), 60))
    assert time.monotonic() - start < 10

