"""A phone's ear: what it hears, named -- call-progress tones, watched frequencies, DTMF digits.

Tones of the national plan are told apart first by their frequencies (one
:class:`~gateway.media.tones.ToneDetector` per distinct frequency set), then, where several tones
share frequencies (ETSI uses 425 Hz for all of them), by the length of the first complete burst:
a burst that ends within tolerance of one of a tone's "on" steps names that tone, a tone that
stays on longer than any cadenced burst is the continuous one (dial tone), and so is a tone heard
from the moment the handset is lifted (only dial tone starts then; dialling may cut it short).
A frequency set used by one tone only is named after 100 ms, without waiting for the cadence.
Each name is reported once per episode: again only after a different tone was heard or
:meth:`Ear.reset` (a hook change).  Detection uses :meth:`ToneDetector.measure` frame by frame
(no history kept: a long call does not grow anything).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from gateway.media.audio import FRAME_MS
from gateway.media.dtmf_inband import DigitStarted, DtmfDetector
from gateway.media.tones import Tone, ToneDetector

Perception = Literal["tone", "frequency", "digit"]

_CONFIRM_MS = 100  # a tone must last this long before it counts (speech rarely holds a pitch)
_TOLERANCE = 0.2  # cadence steps may be this much off (Q.35 allows generous tolerances)
_REARM_MS = 500  # a watched frequency absent this long is reported again when it returns
_MIN_RATIO = 0.5  # share of the frame's power at the tone's frequencies


@dataclass(frozen=True, slots=True)
class Heard:
    kind: Perception
    value: str


class _ToneGroup:
    """One frequency set of the plan and the tones made of it."""

    __slots__ = ("continuous", "continuous_after", "detector", "frequencies", "from_start",
                 "named", "on_frames", "supersets", "tones")

    def __init__(self, frequencies: tuple[int, ...], tones: list[Tone]) -> None:
        self.frequencies = frozenset(frequencies)
        self.supersets: list[_ToneGroup] = []  # groups whose tones contain all of ours
        self.detector = ToneDetector(frequencies, min_ratio=_MIN_RATIO)
        self.tones = tones
        self.continuous = next((t for t in tones if t.continuous), None)
        longest = max((max(t.cadence_ms[::2]) for t in tones if t.cadence_ms), default=0)
        # On longer than any cadenced burst could last: the continuous tone.
        self.continuous_after = max(_CONFIRM_MS, int(longest * (1 + _TOLERANCE)) + FRAME_MS)
        self.on_frames = 0
        self.named = False  # the current burst was already named
        self.from_start = True  # the current burst began with the episode (off hook)

    def reset(self) -> None:
        self.on_frames = 0
        self.named = False
        self.from_start = True

    def present(self, frame: bytes) -> bool:
        return self.detector.measure(frame) >= _MIN_RATIO

    def feed(self, present: bool) -> str | None:
        """The tone named by this frame (``present``: our frequencies are in it), if any."""
        if present:
            self.on_frames += 1
            on_ms = self.on_frames * FRAME_MS
            name = None
            if len(self.tones) == 1:
                name = self.tones[0].name if on_ms >= _CONFIRM_MS else None
            elif self.continuous is not None and (
                on_ms >= self.continuous_after
                # A tone there from the moment the handset was lifted is the dial tone: the
                # only tone a line starts at once (the first digit may cut it short).
                or (self.from_start and on_ms >= 2 * _CONFIRM_MS)
            ):
                name = self.continuous.name
            if name is None or self.named:
                return None
            self.named = True
            return name
        burst_ms = self.on_frames * FRAME_MS
        named = self.named
        self.on_frames = 0
        self.named = False
        self.from_start = False
        if not burst_ms or named or len(self.tones) == 1:
            return None
        best: tuple[float, str] | None = None
        for tone in self.tones:
            for step in tone.cadence_ms[::2]:
                miss = abs(burst_ms - step)
                fits = miss <= max(2 * FRAME_MS, _TOLERANCE * step)
                if fits and (best is None or miss < best[0]):
                    best = (miss, tone.name)
        return best[1] if best is not None else None


class _FrequencyWatch:
    __slots__ = ("absent_ms", "detector", "frequency", "on_ms", "reported")

    def __init__(self, frequency: int) -> None:
        self.frequency = frequency
        self.detector = ToneDetector(frequency, min_ratio=_MIN_RATIO)
        self.on_ms = 0
        self.absent_ms = 0
        self.reported = False

    def feed(self, frame: bytes) -> bool:
        if self.detector.measure(frame) >= _MIN_RATIO:
            self.on_ms += FRAME_MS
            self.absent_ms = 0
            if not self.reported and self.on_ms >= _CONFIRM_MS:
                self.reported = True
                return True
            return False
        self.on_ms = 0
        self.absent_ms += FRAME_MS
        if self.absent_ms >= _REARM_MS:
            self.reported = False
        return False


class Ear:
    """Feed 20 ms frames of linear PCM; get back what was recognised in each."""

    __slots__ = ("_digits", "_groups", "_last_tone", "_watches")

    def __init__(self, plan: Mapping[str, Tone], watch: tuple[int, ...] = ()) -> None:
        by_frequencies: dict[tuple[int, ...], list[Tone]] = {}
        for tone in plan.values():
            by_frequencies.setdefault(tuple(sorted(tone.frequencies)), []).append(tone)
        self._groups = [_ToneGroup(freqs, tones) for freqs, tones in by_frequencies.items()]
        for group in self._groups:
            group.supersets = [other for other in self._groups
                               if other.frequencies > group.frequencies]
        self._watches = [_FrequencyWatch(f) for f in watch]
        self._digits = DtmfDetector()
        self._last_tone: str | None = None

    def reset(self) -> None:
        """A new episode (hook change): every tone may be reported again."""
        self._last_tone = None
        for group in self._groups:
            group.reset()

    def hear(self, frame: bytes) -> list[Heard]:
        heard: list[Heard] = []
        present = {group: group.present(frame) for group in self._groups}
        for group in self._groups:
            # UK ringback (400+450 Hz) also carries busy tone's 400 Hz: the fuller set wins.
            alone = present[group] and not any(present[other] for other in group.supersets)
            name = group.feed(alone)
            if name is not None and name != self._last_tone:
                self._last_tone = name
                heard.append(Heard("tone", name))
        for watch in self._watches:
            if watch.feed(frame):
                heard.append(Heard("frequency", str(watch.frequency)))
        for event in self._digits.feed(frame):
            if isinstance(event, DigitStarted):
                heard.append(Heard("digit", event.digit))
        return heard
