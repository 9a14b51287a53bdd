"""The voice modem adapter against the simulated modem over a real pty pair.

The adapter opens the pty slave (through a symlink) with pyserial like a real /dev/ttyACM0; the
simulator answers from the master side.  Every test runs on the real event loop in about a second.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.line import (
    AnswerCall,
    ClearCall,
    LineAnswerAcknowledged,
    LineAnswered,
    LineCleared,
    LineDigit,
    LineReleased,
    LineSeized,
    LineStatus,
    OfferCall,
    SendDigit,
)
from gateway.media.tones import ToneGenerator
from hardware.drivers.serial_line import ReopenPolicy
from hardware.drivers.voice_modem import VoiceModemAdapter
from hardware.protocols.caller_id import CallerId
from hardware.protocols.quirks import CONEXANT_CX930XX, GENERIC_V253, USR_5637, ModemQuirks
from hardware.protocols.voice_modem import VoiceModemConfig
from hardware.sim.modem import SimModemOptions, SimulatedModem
from hardware.sim.runner import DeviceRunner

LINE = "modem0"
FAST = ReopenPolicy(first=0.1, longest=0.4)


@dataclass
class Rig:
    sim: SimulatedModem
    runner: DeviceRunner
    adapter: VoiceModemAdapter
    events: Any  # helpers.Recorder

    def act(self, action: Callable[[float], object]) -> None:
        self.runner.act(action)

    async def incoming(self, caller: CallerId | None) -> LineSeized:
        mark = len(self.events.events)
        self.act(lambda now: self.sim.ring(caller, now))
        seized: LineSeized = await self.events.wait(LineSeized, timeout=3.0, since=mark)
        return seized

    async def answered_call(self, caller: CallerId | None = None) -> str:
        seized = await self.incoming(caller or CallerId(number="5551234", name="ALICE"))
        self.adapter.send(AnswerCall(LINE, seized.ref))
        await self.events.wait(LineAnswerAcknowledged)
        return seized.ref


def _config(quirks: ModemQuirks, **overrides: Any) -> VoiceModemConfig:
    settings: dict[str, Any] = {"line": LINE, "number": "5553000", "quirks": quirks,
                                "caller_id_wait": 1.0, "caller_id_settle": 0.2,
                                "command_timeout": 1.0, "silence_timeout": None}
    settings.update(overrides)
    return VoiceModemConfig(**settings)


RigFactory = Callable[..., Any]


@pytest.fixture
def rig(tmp_path: Path, helpers: Any) -> RigFactory:
    @asynccontextmanager
    async def make(quirks: ModemQuirks = GENERIC_V253, *, options: dict[str, Any] | None = None,
                   **config: Any) -> AsyncIterator[Rig]:
        sim_options = SimModemOptions(quirks=quirks, ring_interval=0.5, caller_id_delay=0.1,
                                      dial_delay=0.1, **(options or {}))
        sim = SimulatedModem(sim_options, rng=random.Random(7))
        runner = DeviceRunner(sim, link=tmp_path / "gwemu-modem0")
        path = await runner.start()
        events = helpers.Recorder()
        adapter = VoiceModemAdapter.open_device(_config(quirks, **config), path, reopen=FAST)
        adapter.set_event_handler(events)
        await adapter.start()
        try:
            await events.wait(LineStatus, lambda e: e.in_service, timeout=3.0)
            yield Rig(sim, runner, adapter, events)
        finally:
            await adapter.stop()
            await runner.stop()

    return make


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 20))  # type: ignore[arg-type]


@pytest.mark.parametrize("separator", [" = ", "="])
def test_ring_with_caller_id_becomes_a_seizure_with_the_number(
        rig: RigFactory, separator: str) -> None:
    async def main() -> None:
        async with rig(options={"caller_id_separator": separator}) as r:
            seized = await r.incoming(CallerId(number="5551234", name="ALICE", date="0314",
                                               time="1530"))
            assert (seized.calling, seized.calling_name, seized.called) == (
                "5551234", "ALICE", "5553000")
            assert seized.presentation_allowed and seized.codec == "pcmu"
            lines = [e.value for e in r.sim.events if e.kind == "command"]
            assert "AT+VCID=1" in lines and "AT+FCLASS=8" in lines
            assert r.adapter.lines()[0].kind == "fxo"

    run(main())


def test_private_caller_is_presented_as_withheld(rig: RigFactory) -> None:
    async def main() -> None:
        async with rig() as r:
            seized = await r.incoming(CallerId(number_absent="private", name_absent="private"))
            assert seized.calling is None and not seized.presentation_allowed

    run(main())


def test_answer_then_audio_both_ways_and_dtmf_both_ways(rig: RigFactory, helpers: Any) -> None:
    async def main() -> None:
        async with rig(USR_5637) as r:
            r.sim.play(ToneGenerator([(697, -10.0)]))
            ref = await r.answered_call()
            assert [e.value for e in r.sim.events if e.kind == "voice"] == ["duplex"]
            audio = r.adapter.audio(LINE, ref)
            assert audio is not None and audio.codec == "pcmu"
            probe = helpers.AudioProbe(audio, 1004)
            await asyncio.sleep(0.6)
            # Far end -> gateway: the far end's 697 Hz reaches the LineAudio receiver.
            assert helpers.tone_frames(probe.received, 697) >= 15
            # Gateway -> far end: what the LineAudio writes is what the simulated line hears.
            assert helpers.tone_frames(r.sim.heard, 1004) >= 15
            # DTMF from the line: USR shields it with duration marks.
            r.act(lambda now: r.sim.send_dtmf("5#", now, duration=0.12))
            first = await r.events.wait(LineDigit, lambda e: e.digit == "5")
            await r.events.wait(LineDigit, lambda e: e.digit == "#")
            assert 80 <= first.duration_ms <= 300
            # DTMF to the line: +VTS, then back into full-duplex voice.
            r.adapter.send(SendDigit(LINE, ref, "9"))
            await helpers.until(lambda: "9" in [e.value for e in r.sim.events
                                                if e.kind == "digit-to-line"])
            await helpers.until(lambda: [e.value for e in r.sim.events if e.kind == "voice"]
                                == ["duplex", "duplex"])
            mark = len(r.sim.heard)
            await asyncio.sleep(0.3)
            assert helpers.tone_frames(r.sim.heard[mark:], 1004) >= 5  # voice is back
            probe.stop()

    run(main())


@pytest.mark.parametrize(("signal", "quirks", "config"), [
    ("loop-break", GENERIC_V253, {}),
    ("busy", GENERIC_V253, {}),
    ("dial-tone", USR_5637, {}),
    ("silence", GENERIC_V253, {"silence_timeout": 0.4}),  # the modem's +VSD reports it
    ("silence", CONEXANT_CX930XX, {"silence_timeout": 0.4}),  # +VSD ignored: software timer
])
def test_remote_hangup_clears_the_call(rig: RigFactory, signal: str, quirks: ModemQuirks,
                                       config: dict[str, Any]) -> None:
    async def main() -> None:
        async with rig(quirks, **config) as r:
            r.sim.play(ToneGenerator([(697, -10.0)]))
            ref = await r.answered_call()
            await asyncio.sleep(0.2)
            r.act(lambda now: r.sim.hang_up(signal, now))  # type: ignore[arg-type]
            cleared = await r.events.wait(LineCleared, timeout=3.0)
            assert (cleared.ref, cleared.cause) == (ref, 16)
            await r.events.wait(LineReleased)
            await asyncio.sleep(0.05)
            assert not r.sim.off_hook  # the driver hung up (ATH)
            kinds = [e.value for e in r.sim.events if e.kind == "dle"]
            if signal == "silence" and quirks is CONEXANT_CX930XX:
                assert kinds == []  # nothing from the chip: detected in software
            elif signal == "silence":
                assert kinds == ["silence"]

    run(main())


def test_gateway_clears_an_answered_call(rig: RigFactory) -> None:
    async def main() -> None:
        async with rig(CONEXANT_CX930XX) as r:
            ref = await r.answered_call()
            r.adapter.send(ClearCall(LINE, ref))
            await r.events.wait(LineReleased)
            assert not r.sim.off_hook
            assert "host-hangup" in [e.kind for e in r.sim.events]
            assert r.events.of(LineCleared) == []  # we cleared: no LineCleared from the line

    run(main())


def test_outgoing_call_answered_with_vcon(rig: RigFactory, helpers: Any) -> None:
    async def main() -> None:
        async with rig() as r:
            r.sim.play(ToneGenerator([(697, -10.0)]))
            r.adapter.send(OfferCall(LINE, "out-1", "5550100"))
            await r.events.wait(LineAnswered, lambda e: e.ref == "out-1")
            assert "5550100" in [e.value for e in r.sim.events if e.kind == "dialled"]
            audio = r.adapter.audio(LINE, "out-1")
            assert audio is not None
            probe = helpers.AudioProbe(audio, 1004)
            await asyncio.sleep(0.5)
            assert helpers.tone_frames(probe.received, 697) >= 10
            assert helpers.tone_frames(r.sim.heard, 1004) >= 10
            probe.stop()

    run(main())


@pytest.mark.parametrize(("result", "cause"), [
    ("BUSY", 17), ("NO ANSWER", 19), ("NO DIALTONE", 41), ("NO CARRIER", 16),
])
def test_outgoing_failures_clear_with_the_cause(rig: RigFactory, result: str,
                                                cause: int) -> None:
    async def main() -> None:
        async with rig(options={"dial_result": result}) as r:
            r.adapter.send(OfferCall(LINE, "out-2", "5550100"))
            cleared = await r.events.wait(LineCleared)
            assert (cleared.ref, cleared.cause) == ("out-2", cause)
            await r.events.wait(LineReleased)
            assert r.adapter.audio(LINE, "out-2") is None  # the call is gone

    run(main())


def test_half_duplex_fallback_when_the_chip_refuses_vtr(rig: RigFactory, helpers: Any) -> None:
    async def main() -> None:
        async with rig(options={"refuse_vtr": True}) as r:
            r.sim.play(ToneGenerator([(697, -10.0)]))
            ref = await r.answered_call()
            assert [e.value for e in r.sim.events if e.kind == "voice"] == ["receive"]
            audio = r.adapter.audio(LINE, ref)
            assert audio is not None
            probe = helpers.AudioProbe(audio, 1004)
            await asyncio.sleep(0.4)
            assert helpers.tone_frames(probe.received, 697) >= 10
            probe.stop()

    run(main())


def test_linear_only_chip_gives_l16_line_audio(rig: RigFactory, helpers: Any) -> None:
    async def main() -> None:
        async with rig(CONEXANT_CX930XX) as r:
            r.sim.play(ToneGenerator([(697, -10.0)]))
            ref = await r.answered_call()
            audio = r.adapter.audio(LINE, ref)
            assert audio is not None and audio.codec == "l16"
            probe = helpers.AudioProbe(audio, 1004)
            await asyncio.sleep(0.5)
            assert helpers.tone_frames(probe.received, 697) >= 10
            assert helpers.tone_frames(r.sim.heard, 1004) >= 10
            probe.stop()

    run(main())


def test_device_lost_mid_call_and_back(rig: RigFactory) -> None:
    async def main() -> None:
        async with rig() as r:
            ref = await r.answered_call()
            mark = len(r.events.events)
            r.runner.unplug()
            cleared = await r.events.wait(LineCleared, since=mark)
            assert (cleared.ref, cleared.cause) == (ref, 38)
            down = await r.events.wait(LineStatus, lambda e: not e.in_service, since=mark)
            assert down.reason
            await r.events.wait(LineReleased, since=mark)
            assert r.adapter.audio(LINE, ref) is None
            await asyncio.sleep(0.3)  # a few reopen attempts fail: the link is dangling
            assert "does not exist" in (r.adapter.last_error or "")
            opens = r.adapter.opens
            mark = len(r.events.events)
            r.runner.replug()
            await r.events.wait(LineStatus, lambda e: e.in_service, since=mark, timeout=3.0)
            assert r.adapter.opens == opens + 1
            # ... and it takes calls again.
            seized = await r.incoming(CallerId(number="5559999", name="BOB"))
            assert seized.calling == "5559999" and seized.ref != ref

    run(main())


def test_garbage_and_partial_lines_never_break_the_driver(rig: RigFactory) -> None:
    async def main() -> None:
        async with rig() as r:
            rng = random.Random(1234)
            for _ in range(20):
                r.act(lambda _now: r.sim.inject_garbage(rng.randrange(1, 200)))
                r.act(lambda _now: r.sim.inject(b"\r\nNMBR = 55"))  # a partial line
                r.act(lambda _now: r.sim.inject(b"\x10\x10\x10" + bytes(rng.randrange(256)
                                                                    for _ in range(8))))
                await asyncio.sleep(0.01)
            r.act(lambda _now: r.sim.inject(b"\r\n"))
            await asyncio.sleep(0.3)
            # Still alive and still answering calls with the right caller ID.
            ref = await r.answered_call(CallerId(number="5557777", name="CAROL"))
            seized = r.events.of(LineSeized)[-1]
            assert seized.ref == ref and seized.calling == "5557777"

    run(main())
