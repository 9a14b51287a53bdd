"""``gwemu hw-sim`` as a subprocess: it prints a tty path, and a driver opens that tty."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from pathlib import Path

from gateway.line import (
    AnswerCall,
    DigitsDialled,
    LineAnswerAcknowledged,
    LineEvent,
    LineSeized,
    LineStatus,
)
from gateway.media.g711 import ulaw_encode
from gateway.media.tones import ToneDetector, ToneGenerator
from gateway.media.wav import read_wav
from hardware.drivers.fxs_board import FxsBoardAdapter
from hardware.drivers.serial_line import ReopenPolicy
from hardware.drivers.voice_modem import VoiceModemAdapter
from hardware.protocols.fxs_line import FxsLineConfig
from hardware.protocols.quirks import USR_5637
from hardware.protocols.voice_modem import VoiceModemConfig

TTY_LINE = re.compile(r"hw-sim (modem|fxs): tty (/dev/pts/\d+) \(link (\S+)\)")


class Simulator:
    """One ``gwemu hw-sim`` process and the tty it printed."""

    def __init__(self, process: asyncio.subprocess.Process, tty: str, link: str) -> None:
        self.process = process
        self.tty = tty
        self.link = link

    @classmethod
    async def start(cls, *args: str) -> Simulator:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli", "hw-sim", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), 10)
        except TimeoutError:
            process.kill()
            raise
        match = TTY_LINE.match(line.decode())
        if match is None:
            process.kill()
            _, error = await process.communicate()
            raise AssertionError(f"no tty line: {line!r} {error.decode()[-2000:]}")
        return cls(process, match.group(2), match.group(3))

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        return self.process.returncode or 0


async def until(events: list[LineEvent], test: Callable[[LineEvent], bool],
                timeout: float = 5.0) -> LineEvent:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for event in events:
            if test(event):
                return event
        assert asyncio.get_running_loop().time() < deadline, f"got {events}"
        await asyncio.sleep(0.01)


def test_modem_simulator_rings_the_driver_and_records(tmp_path: Path) -> None:
    link = tmp_path / "gwemu-modem0"
    recording = tmp_path / "line.wav"

    async def main() -> None:
        sim = await Simulator.start("modem", "--profile", "usr5637", "--link", str(link),
                                    "--ring", "5551234", "--name", "ALICE",
                                    "--ring-interval", "1", "--record", str(recording))
        try:
            assert Path(sim.link).resolve() == Path(sim.tty)
            events: list[LineEvent] = []
            adapter = VoiceModemAdapter.open_device(
                VoiceModemConfig(line="m0", quirks=USR_5637, caller_id_wait=2.0), sim.link,
                reopen=ReopenPolicy(first=0.1))
            adapter.set_event_handler(events.append)
            await adapter.start()
            try:
                await until(events, lambda e: isinstance(e, LineStatus) and e.in_service)
                seized = await until(events, lambda e: isinstance(e, LineSeized))
                assert isinstance(seized, LineSeized)
                assert (seized.calling, seized.calling_name) == ("5551234", "ALICE")
                adapter.send(AnswerCall("m0", seized.ref))
                await until(events, lambda e: isinstance(e, LineAnswerAcknowledged))
                audio = adapter.audio("m0", seized.ref)
                assert audio is not None
                tone = ToneGenerator([(1004, -10.0)])
                for _ in range(25):
                    audio.write(ulaw_encode(tone.read_frame() or b""))
                    await asyncio.sleep(0.02)
            finally:
                await adapter.stop()
        finally:
            assert await sim.stop() == 0
        assert not link.is_symlink()  # the simulator cleans its link up
        pcm = read_wav(recording)
        detector = ToneDetector(1004)
        assert sum(detector.feed(pcm[i:i + 320]) for i in range(0, len(pcm) - 319, 320)) >= 15

    asyncio.run(asyncio.wait_for(main(), 30))


def test_fxs_simulator_dials_into_the_driver(tmp_path: Path) -> None:
    link = tmp_path / "gwemu-fxs0"

    async def main() -> None:
        sim = await Simulator.start("fxs", "--link", str(link), "--steps", "ready; dial 42")
        try:
            events: list[LineEvent] = []
            adapter = FxsBoardAdapter.open_device(FxsLineConfig(line="f0", audio="serial"),
                                                  sim.link, reopen=ReopenPolicy(first=0.1))
            adapter.set_event_handler(events.append)
            await adapter.start()
            try:
                await until(events, lambda e: isinstance(e, LineSeized))
                await until(events, lambda e: isinstance(e, DigitsDialled) and e.digits == "2")
                assert [e.digits for e in events if isinstance(e, DigitsDialled)] == ["4", "2"]
            finally:
                await adapter.stop()
        finally:
            assert await sim.stop() == 0

    asyncio.run(asyncio.wait_for(main(), 30))


def test_a_bad_script_is_refused_before_starting(tmp_path: Path) -> None:
    async def main() -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli", "hw-sim", "modem", "--link",
            str(tmp_path / "x"), "--steps", "ring 1; hangup softly",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, error = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 2
        assert "line 1: hangup is one of" in error.decode()
        assert not (tmp_path / "x").exists()

    asyncio.run(asyncio.wait_for(main(), 30))
