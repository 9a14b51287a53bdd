"""The simulator script language: parsing with line numbers, and scripts driving a real driver."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.line import (
    AnswerCall,
    DigitsDialled,
    LineCleared,
    LineDigit,
    LineEvent,
    LineSeized,
    LineStatus,
)
from hardware.drivers.fxs_board import FxsBoardAdapter
from hardware.drivers.serial_line import ReopenPolicy
from hardware.drivers.voice_modem import VoiceModemAdapter
from hardware.protocols.fxs_line import FxsLineConfig
from hardware.protocols.voice_modem import VoiceModemConfig
from hardware.sim.fxs import SimulatedFxsPhone
from hardware.sim.modem import SimModemOptions, SimulatedModem
from hardware.sim.runner import DeviceRunner
from hardware.sim.script import ScriptError, Step, caller_id, parse_script, run_script


def test_parse_steps_comments_and_separators() -> None:
    steps = parse_script("ready  # set up\nring 5551234 'ALICE SMITH'; wait-for answered "
                         "timeout=5\n\nplay tone:697,1209 0.5\nhangup busy\n", "modem")
    assert steps == [
        Step("ready", (), 1),
        Step("ring", ("5551234", "ALICE SMITH"), 2),
        Step("wait-for", ("answered", "timeout=5"), 2),
        Step("play", ("tone:697,1209", "0.5"), 4),
        Step("hangup", ("busy",), 5),
    ]


@pytest.mark.parametrize(("text", "device", "message"), [
    ("ready\ndial 42", "modem", "line 2: 'dial' is not a modem step"),
    ("ring 1\nhangup softly", "modem", "line 2: hangup is one of"),
    ("play tone:abc", "fxs", "line 1: bad tone"),
    ("play music", "fxs", "line 1: play takes tone"),
    ("play wav:/nonexistent/x.wav", "modem", "line 1: "),
    ("wait -1", "fxs", "line 1: negative time"),
    ("wait-for", "fxs", "line 1: wait-for takes 1 to 3 arguments"),
    ("wait-for a b c", "modem", "line 1: wait-for KIND"),
    ("dial 12 twice", "fxs", "line 1: dial DIGITS"),
    ("ring 'unclosed", "modem", "line 1: No closing quotation"),
])
def test_script_errors_name_the_line(text: str, device: str, message: str) -> None:
    with pytest.raises(ScriptError) as caught:
        parse_script(text, device)
    assert message in str(caught.value)


def test_caller_id_arguments() -> None:
    assert caller_id(("5551234", "AL", "B")).name == "AL B"
    assert caller_id(("P",)).number_absent == "private"
    assert caller_id(("O",)).number is None


def test_modem_script_drives_a_call_through_the_driver(tmp_path: Path, helpers: Any) -> None:
    script = parse_script("ready\nring 5551234 ALICE\nwait-for answered timeout=5\n"
                          "play tone:697 1\nwait 0.2\ndtmf 5\nwait 0.4\nhangup busy", "modem")

    async def main() -> None:
        sim = SimulatedModem(SimModemOptions(ring_interval=0.5, caller_id_delay=0.1))
        async with DeviceRunner(sim, link=tmp_path / "m0") as runner:
            events = helpers.Recorder()
            adapter = VoiceModemAdapter.open_device(
                VoiceModemConfig(line="m0", caller_id_wait=1.0), runner.path,
                reopen=ReopenPolicy(first=0.1))

            def answer(event: LineEvent) -> None:
                events(event)
                if isinstance(event, LineSeized):
                    adapter.send(AnswerCall("m0", event.ref))

            adapter.set_event_handler(answer)
            await adapter.start()
            try:
                await run_script(runner, script)
                cleared = await events.wait(LineCleared)
                assert cleared.cause == 16
                assert [s.calling for s in events.of(LineSeized)] == ["5551234"]
                assert [d.digit for d in events.of(LineDigit)] == ["5"]
            finally:
                await adapter.stop()

    asyncio.run(asyncio.wait_for(main(), 15))


def test_fxs_script_and_replug(tmp_path: Path, helpers: Any) -> None:
    script = parse_script("ready\ndial 42\nwait 0.8\nonhook\nunplug\nwait 0.3\nreplug\n"
                          "ready\noffhook", "fxs")

    async def main() -> None:
        async with DeviceRunner(SimulatedFxsPhone(), link=tmp_path / "f0") as runner:
            events = helpers.Recorder()
            adapter = FxsBoardAdapter.open_device(FxsLineConfig(line="f0", audio="serial"),
                                                  runner.path, reopen=ReopenPolicy(first=0.1))
            adapter.set_event_handler(events)
            await adapter.start()
            try:
                await run_script(runner, script)
                await helpers.until(lambda: len(events.of(LineSeized)) == 2)
                assert "".join(d.digits for d in events.of(DigitsDialled)) == "42"
                assert [s.in_service for s in events.of(LineStatus)] == [True, False, True]
            finally:
                await adapter.stop()

    asyncio.run(asyncio.wait_for(main(), 15))
