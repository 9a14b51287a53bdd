"""Line audio leaving a hardware line core, cut into the 20 ms frames of the LineAudio contract."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.line import LineCodec

FRAME_MS = 20


def frame_bytes(codec: LineCodec) -> int:
    """Bytes in one 20 ms frame of 8 kHz audio (G.711: 160, 16-bit linear: 320)."""
    return 320 if codec == "l16" else 160


@dataclass(frozen=True, slots=True)
class LineAudioFrame:
    """20 ms of audio from the line (what the far end of the analog line says)."""

    line: str
    ref: str
    codec: LineCodec
    data: bytes


class FrameCutter:
    """Collect audio arriving in arbitrary chunks and hand it out in whole frames."""

    __slots__ = ("_buffer", "_size")

    def __init__(self, codec: LineCodec) -> None:
        self._size = frame_bytes(codec)
        self._buffer = bytearray()

    def push(self, audio: bytes) -> list[bytes]:
        self._buffer += audio
        size = self._size
        whole = len(self._buffer) - len(self._buffer) % size
        frames = [bytes(self._buffer[i : i + size]) for i in range(0, whole, size)]
        del self._buffer[:whole]
        return frames

    def clear(self) -> None:
        self._buffer.clear()
