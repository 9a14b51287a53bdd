"""The FXS board adapter against the simulated board and phone over a real pty pair, and against
the PBX simulator's FXS-board phone over ``socket://`` (TCP through the event loop)."""

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
    DigitsDialled,
    LineAnswered,
    LineCleared,
    LineProgress,
    LineReleased,
    LineSeized,
    LineStatus,
    OfferCall,
)
from gateway.media.tones import ToneGenerator
from hardware.drivers.fxs_board import FxsBoardAdapter
from hardware.drivers.serial_line import ReopenPolicy
from hardware.protocols.fxs_line import FxsLineConfig
from hardware.sim.fxs import SimFxsOptions, SimulatedFxsPhone
from hardware.sim.runner import DeviceRunner
from pbx_sim.aio import PbxSimulator
from pbx_sim.config import FxsPhoneConfig, HostPort, PbxConfig

LINE = "fxs0"
FAST = ReopenPolicy(first=0.1, longest=0.4)
US_DIAL_TONE = (350, 440)
US_BUSY = (480, 620)


@dataclass
class Rig:
    phone: SimulatedFxsPhone
    runner: DeviceRunner
    adapter: FxsBoardAdapter
    events: Any  # helpers.Recorder

    def act(self, action: Callable[[float], object]) -> None:
        self.runner.act(action)


RigFactory = Callable[..., Any]


@pytest.fixture
def rig(tmp_path: Path, helpers: Any) -> RigFactory:
    @asynccontextmanager
    async def make(*, raw_pulses: bool = False, **phone: Any) -> AsyncIterator[Rig]:
        sim = SimulatedFxsPhone(SimFxsOptions(report_raw_pulses=raw_pulses, **phone),
                                name="fxs-board")
        runner = DeviceRunner(sim, link=tmp_path / "gwemu-fxs0")
        path = await runner.start()
        events = helpers.Recorder()
        config = FxsLineConfig(line=LINE, audio="serial", raw_pulses=raw_pulses, flash_max=0.4,
                               ring_cadence=(300, 300))
        adapter = FxsBoardAdapter.open_device(config, path, numbers=("1001",), reopen=FAST)
        adapter.set_event_handler(events)
        await adapter.start()
        try:
            await events.wait(LineStatus, lambda e: e.in_service, timeout=3.0)
            await helpers.until(lambda: sim.board.audio_on, what="AUDIO ON")
            yield Rig(sim, runner, adapter, events)
        finally:
            await adapter.stop()
            await runner.stop()

    return make


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 20))  # type: ignore[arg-type]


def digits_of(events: Any, ref: str) -> str:
    return "".join(e.digits for e in events.of(DigitsDialled) if e.ref == ref)


@pytest.mark.parametrize(("mode", "raw", "number"),
                         [("dtmf", False, "42"), ("pulse", False, "31"), ("pulse", True, "31")])
def test_off_hook_dial_tone_digits_and_hang_up(rig: RigFactory, helpers: Any, mode: str,
                                               raw: bool, number: str) -> None:
    async def main() -> None:
        async with rig(raw_pulses=raw) as r:
            assert r.adapter.lines()[0].kind == "station"
            r.act(lambda now: r.phone.lift(now))
            seized = await r.events.wait(LineSeized)
            assert (seized.called, seized.calling, seized.codec) == ("", "1001", "pcmu")
            await asyncio.sleep(0.25)
            assert helpers.tone_frames(r.phone.heard, US_DIAL_TONE) >= 5  # the board's dial tone
            r.act(lambda now: r.phone.dial(number, now, mode=mode))  # type: ignore[arg-type]
            await helpers.until(lambda: digits_of(r.events, seized.ref) == number, timeout=4.0,
                                what=f"digits {number}")
            assert "off" in [e.value for e in r.phone.events if e.kind == "tone"]
            r.act(lambda now: r.phone.hang_up(now))
            cleared = await r.events.wait(LineCleared)
            assert (cleared.ref, cleared.cause) == (seized.ref, 16)
            await r.events.wait(LineReleased)

    run(main())


def test_offer_rings_with_caller_id_and_the_phone_answers(rig: RigFactory,
                                                          helpers: Any) -> None:
    async def main() -> None:
        async with rig() as r:
            r.adapter.send(OfferCall(LINE, "in-1", "1001", calling="5551234",
                                     calling_name="ALICE"))
            await r.events.wait(LineProgress, lambda e: e.stage == "alerting")
            await r.runner.wait_event("ring", "1")
            assert r.phone.events[-2:][0].kind in ("caller-id", "ring")
            assert "5551234 ALICE" in [e.value for e in r.phone.events if e.kind == "caller-id"]
            r.act(lambda now: r.phone.answer(now))
            answered = await r.events.wait(LineAnswered)
            assert answered.ref == "in-1"
            r.adapter.send(AnswerCall(LINE, "in-1"))
            audio = r.adapter.audio(LINE, "in-1")
            assert audio is not None and audio.codec == "pcmu"
            r.phone.play(ToneGenerator([(697, -10.0)]))
            mark = len(r.phone.heard)
            probe = helpers.AudioProbe(audio, 1004)
            await asyncio.sleep(0.5)
            # Framed serial audio both ways.
            assert helpers.tone_frames(probe.received, 697) >= 10
            assert helpers.tone_frames(r.phone.heard[mark:], 1004) >= 10
            probe.stop()
            # The gateway clears: the phone hears busy tone until it hangs up.
            r.adapter.send(ClearCall(LINE, "in-1"))
            await r.events.wait(LineReleased)
            await r.runner.wait_event("tone", "busy")
            mark = len(r.phone.heard)
            await asyncio.sleep(0.6)
            assert helpers.tone_frames(r.phone.heard[mark:], US_BUSY) >= 5

    run(main())


def test_phone_left_ringing_clears_with_no_answer(rig: RigFactory) -> None:
    async def main() -> None:
        async with rig(ring_timeout=0.8) as r:
            r.adapter.send(OfferCall(LINE, "in-2", "1001", calling="5551234"))
            cleared = await r.events.wait(LineCleared, timeout=3.0)
            assert (cleared.ref, cleared.cause) == ("in-2", 19)

    run(main())


def test_device_lost_mid_call_and_back(rig: RigFactory) -> None:
    async def main() -> None:
        async with rig() as r:
            r.act(lambda now: r.phone.dial("7", now))
            seized = await r.events.wait(LineSeized)
            mark = len(r.events.events)
            r.runner.unplug()
            cleared = await r.events.wait(LineCleared, since=mark)
            assert (cleared.ref, cleared.cause) == (seized.ref, 38)
            await r.events.wait(LineStatus, lambda e: not e.in_service, since=mark)
            await asyncio.sleep(0.3)
            assert "does not exist" in (r.adapter.last_error or "")
            mark = len(r.events.events)
            r.runner.replug()
            await r.events.wait(LineStatus, lambda e: e.in_service, since=mark, timeout=3.0)
            r.act(lambda now: r.phone.lift(now))
            again = await r.events.wait(LineSeized, since=mark)
            assert again.ref != seized.ref

    run(main())


def test_garbage_and_partial_lines_never_break_the_driver(rig: RigFactory) -> None:
    async def main() -> None:
        async with rig() as r:
            rng = random.Random(99)
            for _ in range(20):
                r.act(lambda _now: r.phone.inject_garbage(rng.randrange(1, 300)))
                r.act(lambda _now: r.phone.inject(b"DIAL"))  # a partial line
                r.act(lambda _now: r.phone.inject(b"\xa5A\x07\xff"))  # a truncated frame
                await asyncio.sleep(0.01)
            r.act(lambda _now: r.phone.inject(b"\r\n"))
            await asyncio.sleep(0.2)
            assert r.adapter.core.noise > 0
            mark = len(r.events.events)
            r.act(lambda now: r.phone.dial("5", now))
            seized = await r.events.wait(LineSeized, since=mark, timeout=3.0)
            await r.events.wait(DigitsDialled, lambda e: e.ref == seized.ref and e.digits == "5",
                                since=mark, timeout=3.0)

    run(main())


def test_socket_url_reaches_the_pbx_simulator_fxs_phone(helpers: Any) -> None:
    """The gateway's station line to a simulated phone the PBX simulator serves over TCP."""
    config = PbxConfig(name="PBX-F", fxs_phone=(FxsPhoneConfig(
        name="fxs1", listen=HostPort("127.0.0.1", 0), dial_delay=0.1, answer_after_rings=1),))

    async def main() -> None:
        async with PbxSimulator(config, media=False) as sim:
            host, port = sim.fxs_address("fxs1")
            events = helpers.Recorder()
            adapter = FxsBoardAdapter.open_device(
                FxsLineConfig(line="fxs1", audio="serial", ring_cadence=(200, 200)),
                f"socket://{host}:{port}", reopen=FAST)
            adapter.set_event_handler(events)
            await adapter.start()
            try:
                await events.wait(LineStatus, lambda e: e.in_service)
                sim.dial("fxs1", "42")
                seized = await events.wait(LineSeized)
                await helpers.until(lambda: digits_of(events, seized.ref) == "42")
                await sim.wait_phone("fxs1", "tone", "dial", timeout=2.0)
                sim.hang_up("fxs1")
                await events.wait(LineCleared, timeout=3.0)
                # The board takes its hang-up time before it is IDLE and can ring again.
                await helpers.until(lambda: adapter.core.board_state == "IDLE", timeout=3.0)
                adapter.send(OfferCall("fxs1", "in-9", "1001", calling="5551234"))
                answered = await events.wait(LineAnswered, timeout=3.0)
                assert answered.ref == "in-9"
                await sim.wait_phone("fxs1", "caller-id", timeout=2.0)
            finally:
                await adapter.stop()

    run(main())
