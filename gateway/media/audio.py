"""Line audio as gwemu represents it, and the sources and sinks that move it.

Every piece of media code agrees on one representation: 8 kHz mono, 16-bit signed little-endian
linear PCM in ``bytes``, cut into 20 ms frames of 160 samples (320 bytes).  Codecs turn frames into
payloads and back, the line side produces and consumes frames, sources yield them.

Sample arithmetic goes through the C ``audioop`` module (stdlib up to Python 3.12, the PyPI
``audioop-lts`` package from 3.13): a pure-Python per-sample loop is 10-20 times slower and has no
place on a per-packet path.  It is imported here once, with its 3.11/3.12 DeprecationWarning
silenced, and every media module takes it from here.

Levels are given in dBm0.  G.711 places its overload point (the largest representable sine peak) at
+3.17 dBm0 for the mu-law 14-bit range of 8159 (G.711 section 3, Table 2); on the 16-bit scale that
peak is 4 * 8159, so a 0 dBm0 sine peaks at about 22 650.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Final, Protocol

with warnings.catch_warnings():
    # "audioop is deprecated" (PEP 594) on 3.11/3.12; from 3.13 the audioop-lts wheel provides it.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "SAMPLE_WIDTH",
    "SILENCE_FRAME",
    "AudioSink",
    "AudioSource",
    "ConcatSource",
    "FrameCollector",
    "LoopSource",
    "PcmSource",
    "SilenceSource",
    "audioop",
    "dbm0_to_peak",
    "frame_level_dbm0",
    "read_all",
    "samples_to_ms",
    "split_frames",
]

SAMPLE_RATE: Final = 8000
SAMPLE_WIDTH: Final = 2  # bytes per sample, signed little-endian
FRAME_MS: Final = 20
FRAME_SAMPLES: Final = SAMPLE_RATE * FRAME_MS // 1000  # 160
FRAME_BYTES: Final = FRAME_SAMPLES * SAMPLE_WIDTH  # 320
SILENCE_FRAME: Final = bytes(FRAME_BYTES)

# audioop, ctypes and array('h') all work in host byte order, and gwemu's PCM is little-endian
# (the WAV order, and every platform gwemu targets): refuse to run where the two would differ
# rather than turn every sample into noise.
if sys.byteorder != "little":  # pragma: no cover - no big-endian CI host
    raise ImportError("gwemu's media code needs a little-endian host")

_MU_LAW_OVERLOAD_16BIT: Final = 8159 * 4
_MU_LAW_OVERLOAD_DBM0: Final = 3.17
ZERO_DBM0_PEAK: Final = _MU_LAW_OVERLOAD_16BIT * 10 ** (-_MU_LAW_OVERLOAD_DBM0 / 20)


def dbm0_to_peak(level_dbm0: float) -> float:
    """Peak amplitude (16-bit scale) of a sine at ``level_dbm0``."""
    return ZERO_DBM0_PEAK * 10 ** (level_dbm0 / 20)


def frame_level_dbm0(pcm: bytes) -> float:
    """Power level of a PCM fragment in dBm0 (a 0 dBm0 sine reads 0.0); -inf for silence."""
    if not pcm:
        return -math.inf
    rms = audioop.rms(pcm, SAMPLE_WIDTH)
    if rms == 0:
        return -math.inf
    return 20 * math.log10(rms * math.sqrt(2) / ZERO_DBM0_PEAK)


def samples_to_ms(samples: int) -> float:
    return samples * 1000 / SAMPLE_RATE


def split_frames(pcm: bytes) -> Iterator[bytes]:
    """Cut PCM into 20 ms frames; a short tail is padded with silence."""
    for start in range(0, len(pcm), FRAME_BYTES):
        frame = pcm[start : start + FRAME_BYTES]
        if len(frame) < FRAME_BYTES:
            frame += bytes(FRAME_BYTES - len(frame))
        yield frame


class AudioSource(Protocol):
    """Something that yields 20 ms frames: WAV files, tones, silence, sequences of those.

    ``read_frame`` returns exactly :data:`FRAME_BYTES` bytes, or ``None`` once the source is
    exhausted; ``reset`` starts it again from the beginning (loops use it).
    """

    def read_frame(self) -> bytes | None: ...

    def reset(self) -> None: ...


class AudioSink(Protocol):
    """Something that consumes 20 ms frames (a recorder, a line)."""

    def write_frame(self, frame: bytes) -> None: ...


class PcmSource:
    """Plays a block of PCM once; the last partial frame is padded with silence."""

    __slots__ = ("_pcm", "_position")

    def __init__(self, pcm: bytes) -> None:
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"PCM length {len(pcm)} is not a whole number of 16-bit samples")
        self._pcm = pcm
        self._position = 0

    @property
    def duration_ms(self) -> float:
        return samples_to_ms(len(self._pcm) // SAMPLE_WIDTH)

    def read_frame(self) -> bytes | None:
        start = self._position
        if start >= len(self._pcm):
            return None
        self._position = start + FRAME_BYTES
        frame = self._pcm[start : start + FRAME_BYTES]
        if len(frame) < FRAME_BYTES:
            frame += bytes(FRAME_BYTES - len(frame))
        return frame

    def reset(self) -> None:
        self._position = 0


class SilenceSource:
    """Silence for ``duration_ms`` (rounded up to whole frames), or forever when ``None``."""

    __slots__ = ("_frames", "_remaining")

    def __init__(self, duration_ms: int | None = None) -> None:
        if duration_ms is not None and duration_ms < 0:
            raise ValueError("a silence cannot last a negative time")
        self._frames = None if duration_ms is None else -(-duration_ms // FRAME_MS)
        self._remaining = self._frames

    def read_frame(self) -> bytes | None:
        if self._remaining is None:
            return SILENCE_FRAME
        if self._remaining == 0:
            return None
        self._remaining -= 1
        return SILENCE_FRAME

    def reset(self) -> None:
        self._remaining = self._frames


class ConcatSource:
    """Plays several sources one after the other."""

    __slots__ = ("_index", "_sources")

    def __init__(self, sources: Iterable[AudioSource]) -> None:
        self._sources: Sequence[AudioSource] = tuple(sources)
        self._index = 0

    def read_frame(self) -> bytes | None:
        while self._index < len(self._sources):
            frame = self._sources[self._index].read_frame()
            if frame is not None:
                return frame
            self._index += 1
        return None

    def reset(self) -> None:
        for source in self._sources:
            source.reset()
        self._index = 0


class LoopSource:
    """Plays a source from its start ``times`` times, or forever when ``times`` is ``None``."""

    __slots__ = ("_played", "_source", "_times")

    def __init__(self, source: AudioSource, times: int | None = None) -> None:
        if times is not None and times < 1:
            raise ValueError("a loop plays its source at least once")
        source.reset()
        self._source = source
        self._times = times
        self._played = 0

    def read_frame(self) -> bytes | None:
        frame = self._source.read_frame()
        if frame is not None:
            return frame
        self._played += 1
        if self._times is not None and self._played >= self._times:
            return None
        self._source.reset()
        # An empty source would loop forever without producing a frame: end instead.
        return self._source.read_frame()

    def reset(self) -> None:
        self._source.reset()
        self._played = 0


class FrameCollector:
    """A sink that keeps every frame in memory (tests, and the WAV recorder's buffer)."""

    __slots__ = ("frames",)

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def write_frame(self, frame: bytes) -> None:
        self.frames.append(frame)

    def pcm(self) -> bytes:
        return b"".join(self.frames)


def read_all(source: AudioSource, max_frames: int) -> bytes:
    """Drain a source into one PCM block (at most ``max_frames`` frames, for endless sources)."""
    frames: list[bytes] = []
    for _ in range(max_frames):
        frame = source.read_frame()
        if frame is None:
            break
        frames.append(frame)
    return b"".join(frames)
