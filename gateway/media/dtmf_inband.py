"""In-band DTMF (ITU-T Q.23 signals, Q.24 reception): generation and detection on 8 kHz PCM.

Detection analyses 20 ms windows every 10 ms (each 20 ms frame yields two analyses: the window
ending mid-frame reuses the second half of the previous frame).  An analysis accepts a digit when:

* the frame is loud enough and each of its two tones is above ``min_level_dbm0``;
* the strongest row (697-941 Hz) and column (1209-1633 Hz) frequency carry at least
  ``min_tone_share`` of the window's power - noise, speech, music and a tone still rising or
  already cut off inside the window do not (a window three-quarters covered by the tone measures
  about 0.75);
* each beats the other frequencies of its group by ``min_peak_ratio_db``;
* the twist is within limits: the column (high group) tone may be up to ``max_twist_db`` louder
  than the row tone (normal twist, the usual pre-emphasis of a telephone set) and up to
  ``max_reverse_twist_db`` quieter (reverse twist);
* the second harmonic of each tone is at least ``min_harmonic_rejection_db`` below it (voiced
  speech is rich in harmonics, a DTMF generator is not).

A digit starts after ``(min_on_ms - 20) / 10`` consecutive accepting analyses (a tone lasting
``min_on_ms`` fills at least that many whole windows, whatever its alignment; with the default
40 ms a tone of 22 ms or less is never accepted), and ends after ``min_off_ms / 10`` consecutive
analyses without it, so one long tone is one digit and a 10 ms dropout does not split it.  Tone
powers come from :func:`gateway.media.tones.tone_power` (the Goertzel single-bin DFT computed in C).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from gateway.media.audio import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    audioop,
    dbm0_to_peak,
    split_frames,
)
from gateway.media.tones import signal_power, sine, tone_power

__all__ = [
    "DTMF_COLUMNS",
    "DTMF_DIGITS",
    "DTMF_ROWS",
    "DigitEnded",
    "DigitStarted",
    "DtmfDetector",
    "DtmfDetectorConfig",
    "DtmfGenerator",
    "detect_digits",
    "dtmf_frequencies",
    "dtmf_pcm",
]

DTMF_ROWS: Final = (697, 770, 852, 941)
DTMF_COLUMNS: Final = (1209, 1336, 1477, 1633)
_KEYPAD: Final = ("123A", "456B", "789C", "*0#D")
DTMF_DIGITS: Final = "0123456789*#ABCD"

_HOP_SAMPLES: Final = FRAME_SAMPLES // 2  # 10 ms
_HOP_BYTES: Final = _HOP_SAMPLES * SAMPLE_WIDTH
_HOP_MS: Final = _HOP_SAMPLES * 1000 // SAMPLE_RATE
_WINDOW_MS: Final = FRAME_SAMPLES * 1000 // SAMPLE_RATE


def dtmf_frequencies(digit: str) -> tuple[int, int]:
    """(row, column) frequencies of a DTMF digit (0-9, *, #, A-D; a-d accepted)."""
    key = digit.upper()
    for row, keys in enumerate(_KEYPAD):
        column = keys.find(key)
        if len(key) == 1 and column >= 0:
            return DTMF_ROWS[row], DTMF_COLUMNS[column]
    raise ValueError(f"{digit!r} is not a DTMF digit (0-9, *, #, A-D)")


class DtmfGenerator:
    """An :class:`~gateway.media.audio.AudioSource` that dials ``digits`` in-band.

    Each digit plays for ``tone_ms`` followed by ``pause_ms`` of silence.  ``level_dbm0`` is the
    low-group (row) level; the high-group (column) tone is ``twist_db`` louder (Q.23 allows the
    high group to be sent somewhat louder to make up for line loss).  Timing is sample exact:
    tones need not fill whole frames.
    """

    __slots__ = ("_column_peak", "_plan", "_row_peak", "_sample", "_total")

    def __init__(
        self,
        digits: str,
        *,
        tone_ms: int = 100,
        pause_ms: int = 100,
        level_dbm0: float = -9.0,
        twist_db: float = 2.0,
    ) -> None:
        if tone_ms <= 0 or pause_ms < 0:
            raise ValueError("DTMF tone time must be positive and pause time not negative")
        tone = tone_ms * SAMPLE_RATE // 1000
        pause = pause_ms * SAMPLE_RATE // 1000
        plan = []
        start = 0
        for digit in digits:
            plan.append((start, start + tone, dtmf_frequencies(digit)))
            start += tone + pause
        self._plan: tuple[tuple[int, int, tuple[int, int]], ...] = tuple(plan)
        self._total = start
        self._row_peak = dbm0_to_peak(level_dbm0)
        self._column_peak = dbm0_to_peak(level_dbm0 + twist_db)
        self._sample = 0

    def read_frame(self) -> bytes | None:
        start = self._sample
        if start >= self._total:
            return None
        self._sample = start + FRAME_SAMPLES
        end = start + FRAME_SAMPLES
        frame = bytearray(FRAME_BYTES)
        for tone_start, tone_end, (row, column) in self._plan:
            lo, hi = max(start, tone_start), min(end, tone_end)
            if lo >= hi:
                continue
            # Phase runs from the tone's own start, so every digit begins at zero crossing.
            first = lo - tone_start
            count = hi - lo
            mixed = _mix(
                sine(row, first, count, self._row_peak),
                sine(column, first, count, self._column_peak),
            )
            frame[(lo - start) * SAMPLE_WIDTH : (hi - start) * SAMPLE_WIDTH] = mixed
        return bytes(frame)

    def reset(self) -> None:
        self._sample = 0


def _mix(first: bytes, second: bytes) -> bytes:
    return audioop.add(first, second, SAMPLE_WIDTH)


def dtmf_pcm(
    digits: str,
    *,
    tone_ms: int = 100,
    pause_ms: int = 100,
    level_dbm0: float = -9.0,
    twist_db: float = 2.0,
) -> bytes:
    """The whole PCM of a :class:`DtmfGenerator` with these options, in whole frames."""
    generator = DtmfGenerator(
        digits, tone_ms=tone_ms, pause_ms=pause_ms, level_dbm0=level_dbm0, twist_db=twist_db
    )
    frames = []
    while (frame := generator.read_frame()) is not None:
        frames.append(frame)
    return b"".join(frames)


@dataclass(frozen=True, slots=True)
class DtmfDetectorConfig:
    """Detection thresholds (defaults in the spirit of Q.24: accept -25 dBm0 and 40 ms)."""

    min_level_dbm0: float = -30.0
    min_tone_share: float = 0.8
    min_peak_ratio_db: float = 8.0
    max_twist_db: float = 8.0
    max_reverse_twist_db: float = 4.0
    min_harmonic_rejection_db: float = 10.0
    min_on_ms: int = 40
    min_off_ms: int = 40

    def __post_init__(self) -> None:
        if self.min_on_ms < _WINDOW_MS:
            raise ValueError(f"min_on_ms below the {_WINDOW_MS} ms analysis window")
        if self.min_off_ms < 2 * _HOP_MS:
            raise ValueError(f"min_off_ms below {2 * _HOP_MS} ms cannot separate digits")


@dataclass(frozen=True, slots=True)
class DigitStarted:
    digit: str
    sample: int  # stream position (samples since the detector started) where it was confirmed


@dataclass(frozen=True, slots=True)
class DigitEnded:
    digit: str
    sample: int  # stream position where the end was confirmed
    duration_samples: int  # from the first accepting window's start to the last one's end

    @property
    def duration_ms(self) -> float:
        return self.duration_samples * 1000 / SAMPLE_RATE


DtmfEvent = DigitStarted | DigitEnded


class DtmfDetector:
    """Feed 20 ms frames, get :class:`DigitStarted` / :class:`DigitEnded` events back."""

    __slots__ = (
        "_candidate",
        "_candidate_first",
        "_candidate_hits",
        "_config",
        "_current",
        "_current_first",
        "_current_last",
        "_hits_needed",
        "_limits",
        "_min_power",
        "_misses",
        "_misses_needed",
        "_previous_half",
        "_sample",
    )

    def __init__(self, config: DtmfDetectorConfig | None = None) -> None:
        self._config = config or DtmfDetectorConfig()
        cfg = self._config
        self._hits_needed = max(1, (cfg.min_on_ms - _WINDOW_MS) // _HOP_MS)
        self._misses_needed = math.ceil(cfg.min_off_ms / _HOP_MS)
        self._min_power = dbm0_to_peak(cfg.min_level_dbm0) ** 2 / 2
        self._limits = (
            10 ** (cfg.min_peak_ratio_db / 10),
            10 ** (cfg.max_twist_db / 10),
            10 ** (cfg.max_reverse_twist_db / 10),
            10 ** (-cfg.min_harmonic_rejection_db / 10),
        )
        self._previous_half = bytes(_HOP_BYTES)
        self._sample = 0  # samples consumed
        self._candidate: str | None = None
        self._candidate_hits = 0
        self._candidate_first = 0
        self._current: str | None = None
        self._current_first = 0
        self._current_last = 0
        self._misses = 0

    @property
    def digit(self) -> str | None:
        """The digit being heard right now, if any."""
        return self._current

    @property
    def pending(self) -> str | None:
        """The digit the latest analysis heard but timing has not confirmed yet (a relay mutes
        the audio from here on, so the start of a tone does not leak onto the wire)."""
        return self._candidate

    def feed(self, frame: bytes) -> list[DtmfEvent]:
        """Analyse one 20 ms frame (320 bytes)."""
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"DTMF detection works on {FRAME_BYTES}-byte frames, got {len(frame)}")
        events: list[DtmfEvent] = []
        first_half = frame[:_HOP_BYTES]
        self._step(self._previous_half + first_half, events)
        self._step(frame, events)
        self._previous_half = frame[_HOP_BYTES:]
        return events

    def classify(self, window: bytes) -> str | None:
        """The digit a single 20 ms window carries, or ``None`` (no timing rules applied)."""
        total = signal_power(window)
        if total < 2 * self._min_power:
            return None
        peak_ratio, max_twist, max_reverse, max_harmonic = self._limits
        rows = [tone_power(window, freq) for freq in DTMF_ROWS]
        columns = [tone_power(window, freq) for freq in DTMF_COLUMNS]
        row = max(range(4), key=rows.__getitem__)
        column = max(range(4), key=columns.__getitem__)
        row_power, column_power = rows[row], columns[column]
        if row_power < self._min_power or column_power < self._min_power:
            return None
        if row_power + column_power < self._config.min_tone_share * total:
            return None
        if column_power > row_power * max_twist or row_power > column_power * max_reverse:
            return None
        for powers, best in ((rows, row), (columns, column)):
            runner_up = max(p for index, p in enumerate(powers) if index != best)
            if powers[best] < runner_up * peak_ratio:
                return None
        row_freq, column_freq = DTMF_ROWS[row], DTMF_COLUMNS[column]
        if tone_power(window, 2 * row_freq) > row_power * max_harmonic:
            return None
        if 2 * column_freq < SAMPLE_RATE // 2 and (
            tone_power(window, 2 * column_freq) > column_power * max_harmonic
        ):
            return None
        return _KEYPAD[row][column]

    def _step(self, window: bytes, events: list[DtmfEvent]) -> None:
        self._sample += _HOP_SAMPLES
        window_start = self._sample - FRAME_SAMPLES
        digit = self.classify(window)
        if digit is not None and digit == self._current:
            self._current_last = self._sample
            self._misses = 0
            return
        if self._current is not None:
            self._misses += 1
            if self._misses >= self._misses_needed or digit is not None:
                self._end(events)
        if digit is None:
            self._candidate = None
            return
        if digit != self._candidate:
            self._candidate = digit
            self._candidate_hits = 0
            self._candidate_first = window_start
        self._candidate_hits += 1
        if self._candidate_hits >= self._hits_needed and self._current is None:
            self._current = digit
            self._current_first = self._candidate_first
            self._current_last = self._sample
            self._misses = 0
            self._candidate = None
            events.append(DigitStarted(digit, self._sample))

    def _end(self, events: list[DtmfEvent]) -> None:
        assert self._current is not None
        events.append(
            DigitEnded(self._current, self._sample, self._current_last - self._current_first)
        )
        self._current = None
        self._misses = 0


def detect_digits(pcm: bytes, config: DtmfDetectorConfig | None = None) -> str:
    """All digits heard in a block of PCM, in order (a digit still on at the end counts)."""
    detector = DtmfDetector(config)
    digits: list[str] = []
    for frame in split_frames(pcm):
        digits.extend(e.digit for e in detector.feed(frame) if isinstance(e, DigitStarted))
    return "".join(digits)
