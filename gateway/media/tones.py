"""Call-progress tones: the national plans, a frame generator, and a detector tests rely on.

Generation reads precomputed sine tables (one full period of each integer frequency at 8 kHz) and
scales and mixes them with ``audioop``, so a 20 ms frame costs a few slices and C calls, and the
phase runs on continuously from frame to frame and across cadence breaks.

Measurement is the single-bin DFT that the Goertzel algorithm computes: the power of the component
of a block at one frequency.  It is evaluated here as two dot products (with a cosine and a sine
reference) that ``audioop.findfactor`` computes in C; a Goertzel recursion in Python would be a
per-sample loop.  The value is the mean power of the sinusoid, in squared sample units (a sine of
peak A measures A**2 / 2), directly comparable with :func:`signal_power`.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from gateway.media.audio import (
    FRAME_MS,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    audioop,
    dbm0_to_peak,
)

__all__ = [
    "TONE_PLANS",
    "CadenceMatch",
    "Tone",
    "ToneDetector",
    "ToneGenerator",
    "signal_power",
    "sine",
    "tone_plan",
    "tone_power",
]

_TABLE_PEAK: Final = 32767
_REFERENCE_PEAK: Final = 16384


@functools.lru_cache(maxsize=64)
def _sine_table(frequency: int) -> tuple[bytes, int]:
    """One period (plus a frame of wrap-around) of a full-scale sine, and the period in samples."""
    period = SAMPLE_RATE // math.gcd(frequency, SAMPLE_RATE)
    count = period + FRAME_SAMPLES
    step = 2 * math.pi * frequency / SAMPLE_RATE
    values = [round(_TABLE_PEAK * math.sin(step * n)) for n in range(count)]
    return struct.pack(f"<{count}h", *values), period


def sine(frequency: int, start: int, count: int, peak: float) -> bytes:
    """``count`` samples of ``peak * sin(2 pi f n / 8000)`` for n = start, start + 1, ...

    Frequencies are whole hertz (every tone plan and DTMF frequency is), which makes the waveform
    periodic in whole samples and lets a table serve any phase.
    """
    if not 0 < frequency < SAMPLE_RATE // 2 or int(frequency) != frequency:
        raise ValueError(f"tone frequency {frequency!r} must be whole hertz in 1..3999")
    table, period = _sine_table(int(frequency))
    chunks = []
    position = start % period
    remaining = count
    while remaining > 0:
        take = min(remaining, period + FRAME_SAMPLES - position)
        chunks.append(table[position * SAMPLE_WIDTH : (position + take) * SAMPLE_WIDTH])
        remaining -= take
        position = (position + take) % period
    samples = b"".join(chunks)
    return audioop.mul(samples, SAMPLE_WIDTH, peak / _TABLE_PEAK)


@functools.lru_cache(maxsize=256)
def _references(frequency: float, samples: int) -> tuple[bytes, float, bytes, float]:
    step = 2 * math.pi * frequency / SAMPLE_RATE
    cosine = [round(_REFERENCE_PEAK * math.cos(step * n)) for n in range(samples)]
    sine_ = [round(_REFERENCE_PEAK * math.sin(step * n)) for n in range(samples)]
    return (
        struct.pack(f"<{samples}h", *cosine),
        float(sum(v * v for v in cosine)),
        struct.pack(f"<{samples}h", *sine_),
        float(sum(v * v for v in sine_)),
    )


def tone_power(pcm: bytes, frequency: float) -> float:
    """Mean power of the component of ``pcm`` at ``frequency`` (what Goertzel measures)."""
    samples = len(pcm) // SAMPLE_WIDTH
    if samples == 0:
        return 0.0
    cosine, cosine_energy, sine_, sine_energy = _references(frequency, samples)
    # findfactor(x, r) = sum(x*r) / sum(r*r); multiplying back gives the dot product.
    real = audioop.findfactor(pcm, cosine) * cosine_energy if cosine_energy else 0.0
    imaginary = audioop.findfactor(pcm, sine_) * sine_energy if sine_energy else 0.0
    scale = samples * _REFERENCE_PEAK
    return 2.0 * (real * real + imaginary * imaginary) / (scale * scale)


def signal_power(pcm: bytes) -> float:
    """Mean power of ``pcm`` (squared sample units)."""
    if not pcm:
        return 0.0
    rms = audioop.rms(pcm, SAMPLE_WIDTH)
    return float(rms * rms)


@dataclass(frozen=True, slots=True)
class Tone:
    """A call-progress tone: frequencies mixed at one level, switched by a cadence.

    ``cadence_ms`` alternates on and off times and repeats; empty means continuous.
    """

    name: str
    frequencies: tuple[int, ...]
    cadence_ms: tuple[int, ...] = ()
    level_dbm0: float = -13.0

    def __post_init__(self) -> None:
        if len(self.cadence_ms) % 2:
            raise ValueError(f"tone {self.name!r}: a cadence is on/off pairs")
        if any(step <= 0 for step in self.cadence_ms):
            raise ValueError(f"tone {self.name!r}: cadence steps must be positive")

    @property
    def continuous(self) -> bool:
        return not self.cadence_ms


def _plan(*tones: Tone) -> Mapping[str, Tone]:
    return {tone.name: tone for tone in tones}


# Levels are per frequency.  US: ANSI T1.401 / Bellcore "precise tone plan".  ETSI: the
# harmonised 425 Hz tones (ETSI TR 101 041, CEPT recommendation).  UK: BT SIN 350.
# DE: Deutsche Telekom 1TR110.
TONE_PLANS: Final[Mapping[str, Mapping[str, Tone]]] = {
    "us": _plan(
        Tone("dial", (350, 440), (), -13.0),
        Tone("ringback", (440, 480), (2000, 4000), -19.0),
        Tone("busy", (480, 620), (500, 500), -24.0),
        Tone("congestion", (480, 620), (250, 250), -24.0),  # "reorder" in North America
    ),
    "etsi": _plan(
        Tone("dial", (425,), (), -10.0),
        Tone("ringback", (425,), (1000, 4000), -10.0),
        Tone("busy", (425,), (500, 500), -10.0),
        Tone("congestion", (425,), (200, 300), -10.0),
    ),
    "uk": _plan(
        Tone("dial", (350, 440), (), -13.0),
        Tone("ringback", (400, 450), (400, 200, 400, 2000), -19.0),
        Tone("busy", (400,), (375, 375), -13.0),
        Tone("congestion", (400,), (400, 350, 225, 525), -13.0),
    ),
    "de": _plan(
        Tone("dial", (425,), (), -10.0),
        Tone("ringback", (425,), (1000, 4000), -10.0),
        Tone("busy", (425,), (480, 480), -10.0),
        Tone("congestion", (425,), (240, 240), -10.0),
    ),
}


def tone_plan(country: str) -> Mapping[str, Tone]:
    """The tone plan of ``country`` (``us``, ``etsi``, ``uk``, ``de``; case-insensitive)."""
    try:
        return TONE_PLANS[country.lower()]
    except KeyError:
        known = ", ".join(sorted(TONE_PLANS))
        raise ValueError(f"unknown tone plan {country!r} (known: {known})") from None


class ToneGenerator:
    """An :class:`~gateway.media.audio.AudioSource` playing a tone with its cadence.

    ``duration_ms=None`` plays forever.  Each component is ``(frequency, level_dbm0)``.
    """

    __slots__ = ("_cadence", "_components", "_cycle", "_sample", "_total")

    def __init__(
        self,
        components: Sequence[tuple[int, float]],
        *,
        cadence_ms: Sequence[int] = (),
        duration_ms: int | None = None,
    ) -> None:
        if not components:
            raise ValueError("a tone needs at least one frequency")
        self._components = tuple((freq, dbm0_to_peak(level)) for freq, level in components)
        for frequency, _peak in self._components:
            sine(frequency, 0, 0, 0.0)  # validates the frequency now, not at the first frame
        if len(cadence_ms) % 2 or any(step <= 0 for step in cadence_ms):
            raise ValueError("a cadence is positive on/off pairs")
        # Cumulative sample boundaries of each cadence step.
        boundaries = []
        total = 0
        for step in cadence_ms:
            total += step * SAMPLE_RATE // 1000
            boundaries.append(total)
        self._cadence = tuple(boundaries)
        self._cycle = total
        self._total = None if duration_ms is None else duration_ms * SAMPLE_RATE // 1000
        self._sample = 0

    @classmethod
    def for_tone(cls, tone: Tone, *, duration_ms: int | None = None) -> ToneGenerator:
        return cls(
            [(freq, tone.level_dbm0) for freq in tone.frequencies],
            cadence_ms=tone.cadence_ms,
            duration_ms=duration_ms,
        )

    def read_frame(self) -> bytes | None:
        start = self._sample
        if self._total is not None and start >= self._total:
            return None
        count = FRAME_SAMPLES
        if self._total is not None:
            count = min(count, self._total - start)
        self._sample = start + count
        frame = self._render(start, count)
        if count < FRAME_SAMPLES:
            frame += bytes((FRAME_SAMPLES - count) * SAMPLE_WIDTH)
        return frame

    def reset(self) -> None:
        self._sample = 0

    def _render(self, start: int, count: int) -> bytes:
        if not self._cadence:
            return self._mix(start, count)
        parts = []
        position = start
        end = start + count
        while position < end:
            in_cycle = position % self._cycle
            step = next(i for i, edge in enumerate(self._cadence) if in_cycle < edge)
            run = min(end - position, self._cadence[step] - in_cycle)
            if step % 2 == 0:
                parts.append(self._mix(position, run))
            else:
                parts.append(bytes(run * SAMPLE_WIDTH))
            position += run
        return b"".join(parts)

    def _mix(self, start: int, count: int) -> bytes:
        mixed = b""
        for frequency, peak in self._components:
            samples = sine(frequency, start, count, peak)
            mixed = samples if not mixed else audioop.add(mixed, samples, SAMPLE_WIDTH)
        return mixed


@dataclass(frozen=True, slots=True)
class CadenceMatch:
    name: str
    error_ms: int  # summed deviation of the heard steps from the tone's cadence


class ToneDetector:
    """Tells, frame by frame, whether a tone made of ``frequencies`` is present, and its cadence.

    A frame counts as tone when the power at the tone's frequencies is at least ``min_ratio`` of
    the frame's total power, each frequency carries a fair share of it, and the frame is louder
    than ``min_level_dbm0``.  Run lengths of tone/no tone give the cadence.
    """

    __slots__ = ("_frequencies", "_min_power", "_min_ratio", "_runs")

    def __init__(
        self,
        frequencies: int | Sequence[int],
        *,
        min_ratio: float = 0.5,
        min_level_dbm0: float = -40.0,
    ) -> None:
        self._frequencies = (frequencies,) if isinstance(frequencies, int) else tuple(frequencies)
        if not self._frequencies:
            raise ValueError("a tone detector needs at least one frequency")
        self._min_ratio = min_ratio
        # A sine at min_level_dbm0 has mean power peak**2 / 2.
        self._min_power = dbm0_to_peak(min_level_dbm0) ** 2 / 2
        self._runs: list[list[int]] = []  # [present (0/1), frames]

    def measure(self, frame: bytes) -> float:
        """Share of the frame's power found at the tone's frequencies (0.0 for silence)."""
        total = signal_power(frame)
        if total < self._min_power:
            return 0.0
        shares = [tone_power(frame, freq) / total for freq in self._frequencies]
        # Every component must be there: a single 440 Hz is not US dial tone.
        if min(shares) < self._min_ratio / (4 * len(shares)):
            return 0.0
        return sum(shares)

    def feed(self, frame: bytes) -> bool:
        present = self.measure(frame) >= self._min_ratio
        flag = 1 if present else 0
        if self._runs and self._runs[-1][0] == flag:
            self._runs[-1][1] += 1
        else:
            self._runs.append([flag, 1])
        return present

    def present_ms(self) -> int:
        """Total time the tone was present."""
        return sum(frames for flag, frames in self._runs if flag) * FRAME_MS

    def cadence_ms(self) -> tuple[int, ...]:
        """Completed on/off durations, starting with the first on-time whose start was seen.

        The run in progress and a leading run that may have started before the first frame are
        left out, so the result only holds whole steps.
        """
        # The first run began before we listened, the last one has not ended: neither is whole.
        runs = self._runs[1:-1]
        while runs and runs[0][0] == 0:
            runs = runs[1:]
        return tuple(frames * FRAME_MS for _flag, frames in runs)

    def match(self, candidates: Mapping[str, Tone], tolerance: float = 0.15) -> CadenceMatch | None:
        """The candidate made of this detector's frequencies whose cadence fits what was heard
        (each step within ``tolerance``, at least one frame), best fit first; ``None`` when none
        fits or nothing complete was heard.  A continuous tone matches when the tone never
        stopped."""
        heard = self.cadence_ms()
        best: CadenceMatch | None = None
        for name, tone in candidates.items():
            if sorted(tone.frequencies) != sorted(self._frequencies):
                continue
            error = self._fit(heard, tone.cadence_ms, tolerance)
            if error is not None and (best is None or error < best.error_ms):
                best = CadenceMatch(name, error)
        return best

    def _fit(
        self, heard: tuple[int, ...], cadence: tuple[int, ...], tolerance: float
    ) -> int | None:
        if not cadence:
            always_on = len(self._runs) == 1 and self._runs[0][0] == 1
            return 0 if always_on else None
        if len(heard) < 2:
            return None
        # The first heard on-time may be any "on" step of the cadence: try each alignment.
        best: int | None = None
        for offset in range(0, len(cadence), 2):
            error = 0
            for index, duration in enumerate(heard):
                expected = cadence[(offset + index) % len(cadence)]
                miss = abs(duration - expected)
                if miss > max(FRAME_MS, tolerance * expected):
                    break
                error += miss
            else:
                if best is None or error < best:
                    best = error
        return best
