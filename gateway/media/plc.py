"""Packet loss concealment for G.711 streams, after G.711 Appendix I (simplified).

When a frame is lost the concealer repeats the last pitch period of what was played, instead of
inserting silence (a hard click and a hole) or repeating the whole last frame (a buzz with a
discontinuity every 20 ms).  As in Appendix I:

* the pitch period is the lag (5..15 ms) where the most recent 20 ms of history best matches an
  earlier stretch (normalised cross-correlation, each dot product computed in C by ``audioop``);
* the period is made loopable by overlap-adding its last quarter with the quarter period that
  preceded it, so repetition has no seam;
* the synthetic signal starts with a short offset ramp so that its first step is the waveform's
  own step at the matched position, not a jump from the last played sample;
* after 10 ms the output is attenuated by 20 % per 10 ms and is silent from 60 ms on;
* when frames come back, the first good frame is cross-faded with the continuing synthetic signal
  over a quarter period plus 4 ms per 10 ms lost (at most one frame).

Simplifications against Appendix I: no 3.75 ms output delay (the join is smoothed by the
correction ramp instead of by rewriting already-played samples), and the pitch buffer does not grow
to two and three periods during long erasures.

This code runs per lost frame only; the good-frame path costs one deque append.  The periodic
copy is array slicing and the fade a precomputed gain table, so that a lost frame costs tens of
microseconds rather than a Python loop over every sample with a function call each.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from typing import Final

from gateway.media.audio import FRAME_SAMPLES, SAMPLE_WIDTH, audioop

__all__ = ["PacketLossConcealer"]

MIN_PITCH: Final = 40  # 5 ms = 200 Hz
MAX_PITCH: Final = 120  # 15 ms = 66 Hz
CORRELATION_SAMPLES: Final = 160  # 20 ms matched against the past
HISTORY_SAMPLES: Final = CORRELATION_SAMPLES + MAX_PITCH
_HISTORY_BYTES: Final = HISTORY_SAMPLES * SAMPLE_WIDTH
# Frames kept to cover the history when packets carry 10 ms or more.
_HISTORY_CHUNKS: Final = -(-HISTORY_SAMPLES // 80)

UNATTENUATED_SAMPLES: Final = 80  # the first 10 ms of an erasure play at full level
SILENT_AFTER_SAMPLES: Final = 480  # 60 ms: -20 % per 10 ms reaches zero
_FADE_SAMPLES: Final = SILENT_AFTER_SAMPLES - UNATTENUATED_SAMPLES
# The gain of the n-th sample of the fade: -20 % per 10 ms from 10 ms on.
_FADE_GAINS: Final = tuple(1.0 - n / _FADE_SAMPLES for n in range(_FADE_SAMPLES))
_MERGE_PER_10MS: Final = 32  # 4 ms of cross-fade per 10 ms lost


def _clip(value: float) -> int:
    return -32768 if value < -32768 else 32767 if value > 32767 else round(value)


def estimate_pitch(history: bytes) -> int:
    """Pitch period (samples) at the end of ``history``: the lag in 40..120 whose stretch best
    matches the last 20 ms, by normalised cross-correlation (in phase: anti-phase lags lose)."""
    width = SAMPLE_WIDTH
    end = len(history)
    reference = history[end - CORRELATION_SAMPLES * width :]
    reference_energy = _energy(reference)
    if reference_energy == 0:
        return MIN_PITCH
    best_lag, best_score = MIN_PITCH, 0.0
    for lag in range(MIN_PITCH, MAX_PITCH + 1):
        stop = end - lag * width
        candidate = history[stop - CORRELATION_SAMPLES * width : stop]
        energy = _energy(candidate)
        if energy == 0:
            continue
        # findfactor = sum(c*r) / sum(r*r): a dot product computed in C.
        dot = audioop.findfactor(candidate, reference) * reference_energy
        score = dot / math.sqrt(energy * reference_energy)
        if score > best_score:
            best_lag, best_score = lag, score
    return best_lag


def _energy(pcm: bytes) -> float:
    rms = audioop.rms(pcm, SAMPLE_WIDTH)
    return float(rms * rms * (len(pcm) // SAMPLE_WIDTH))


class PacketLossConcealer:
    """Per-stream concealment state; feed every good frame, ask for a frame for each lost one."""

    __slots__ = ("_correction", "_erased", "_period", "_position", "_recent")

    def __init__(self) -> None:
        # The last few frames as received: joined into a history only when a loss needs it,
        # so a good frame costs one append.
        self._recent: deque[bytes] = deque(maxlen=_HISTORY_CHUNKS)
        self._erased = 0  # samples synthesized in the current erasure
        self._period: array[int] = array("h")
        self._position = 0
        self._correction = 0.0

    @property
    def concealing(self) -> bool:
        return self._erased > 0

    def good_frame(self, pcm: bytes) -> bytes:
        """Record a received frame; returns what to play (cross-faded right after a loss)."""
        if self._erased:
            pcm = self._merge(pcm)
        self._recent.append(pcm)
        return pcm

    def conceal(self, samples: int = FRAME_SAMPLES) -> bytes:
        """Synthesize ``samples`` samples standing in for lost audio."""
        if not self._erased:
            self._start()
        pcm = self._synthesize(samples).tobytes()
        self._erased += samples
        self._recent.append(pcm)
        return pcm

    def _start(self) -> None:
        recent = b"".join(self._recent)[-_HISTORY_BYTES:]
        recent = bytes(_HISTORY_BYTES - len(recent)) + recent
        history = array("h", recent)
        pitch = estimate_pitch(recent)
        quarter = max(1, pitch // 4)
        period = history[-pitch:]
        before = history[-pitch - quarter : -pitch]
        # Blend the period's tail into what preceded its head, so period[-1] -> period[0] is as
        # smooth as history[-pitch-1] -> history[-pitch] was (the loop has no seam).
        for k in range(quarter):
            weight = (k + 1) / (quarter + 1)
            index = pitch - quarter + k
            period[index] = _clip(period[index] * (1 - weight) + before[k] * weight)
        self._period = period
        self._position = 0
        # The copy starts after history[-pitch-1]; offsetting it by the difference between that
        # sample and the last one played makes the first step the waveform's own step there.
        # The offset decays to nothing over a quarter period.
        self._correction = float(history[-1] - history[-pitch - 1])

    def _synthesize(self, samples: int) -> array[int]:
        """The next ``samples`` of the erasure: the period repeated from where it stopped, the
        start offset ramp, then the fade (each sample's gain as in Appendix I)."""
        period = self._period
        length = len(period)
        position = self._position
        out = (period * ((position + samples) // length + 1))[position : position + samples]
        self._position = (position + samples) % length
        erased = self._erased
        quarter = max(1, length // 4)
        correction = self._correction
        for k in range(min(samples, quarter - erased)):  # none once a quarter period is out
            out[k] = _clip(out[k] + correction * (1 - (erased + k) / quarter))
        if erased + samples > UNATTENUATED_SAMPLES:
            first = max(0, UNATTENUATED_SAMPLES - erased)
            gains = _FADE_GAINS[erased + first - UNATTENUATED_SAMPLES :]
            # Past the fade (60 ms) the erasure is silent: zip stops with the gains.
            faded = [round(value * gain) for value, gain in zip(out[first:], gains, strict=False)]
            faded += [0] * (samples - first - len(faded))
            out[first:] = array("h", faded)
        return out

    def _merge(self, pcm: bytes) -> bytes:
        good = array("h", pcm)
        merge = min(
            len(good),
            max(1, len(self._period) // 4) + _MERGE_PER_10MS * -(-self._erased // 80),
        )
        synthetic = self._synthesize(merge)
        steps = merge + 1
        # A convex mix of two 16-bit samples: always in range, no clipping needed.
        good[:merge] = array(
            "h",
            [
                round(fake * (1 - weight) + real * weight)
                for fake, real, weight in zip(
                    synthetic, good, [(k + 1) / steps for k in range(merge)], strict=False
                )
            ],
        )
        self._erased = 0
        return good.tobytes()
