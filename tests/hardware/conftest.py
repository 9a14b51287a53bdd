"""Helpers for the hardware driver and simulator tests: line events, waiting, line audio."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from gateway.line import LineAudio, LineEvent
from gateway.media.audio import FRAME_SAMPLES
from gateway.media.bridge_paths import line_format
from gateway.media.tones import ToneDetector, ToneGenerator

E = TypeVar("E")


class Recorder:
    """A line event handler that keeps every event; ``wait`` polls for one."""

    def __init__(self) -> None:
        self.events: list[LineEvent] = []

    def __call__(self, event: LineEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait(self, kind: type[E], test: Callable[[E], bool] = lambda _e: True,
                   timeout: float = 3.0, since: int = 0) -> E:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for event in self.events[since:]:
                if isinstance(event, kind) and test(event):
                    return event
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {kind.__name__} within {timeout} s; got {self.events}")
            await asyncio.sleep(0.005)


class AudioProbe:
    """Speaks a tone into a LineAudio every 20 ms and keeps what comes back as linear PCM."""

    def __init__(self, audio: LineAudio, frequency: int) -> None:
        self.audio = audio
        self._format = line_format(audio.codec)
        self._tone = ToneGenerator([(frequency, -10.0)])
        self.received = bytearray()
        audio.set_receiver(self._receive)
        self._task = asyncio.get_running_loop().create_task(self._speak())

    def _receive(self, frame: bytes) -> None:
        self.received += self._format.to_linear(frame)

    async def _speak(self) -> None:
        while True:
            pcm = self._tone.read_frame() or bytes(2 * FRAME_SAMPLES)
            self.audio.write(self._format.from_linear(pcm))
            await asyncio.sleep(0.02)

    def stop(self) -> None:
        self._task.cancel()
        self.audio.set_receiver(None)


def tone_frames(pcm: bytes | bytearray, frequency: int | tuple[int, ...]) -> int:
    """How many 20 ms frames of ``pcm`` carry ``frequency``."""
    detector = ToneDetector(frequency)
    size = 2 * FRAME_SAMPLES
    return sum(detector.feed(bytes(pcm[i:i + size]))
               for i in range(0, len(pcm) - size + 1, size))


async def until(test: Callable[[], Any], timeout: float = 3.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not test():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class Helpers:
    Recorder = Recorder
    AudioProbe = AudioProbe
    tone_frames = staticmethod(tone_frames)
    until = staticmethod(until)


@pytest.fixture
def helpers() -> type[Helpers]:
    return Helpers
