"""Loss concealment: no hard click where concealment starts or ends, pitch repetition, fade-out."""

from __future__ import annotations

import math
import random
import struct
from array import array

import pytest

from gateway.media.audio import FRAME_BYTES, FRAME_SAMPLES, split_frames
from gateway.media.plc import PacketLossConcealer, estimate_pitch
from gateway.media.tones import signal_power, tone_power


def voiced(seconds: float, pitch_hz: float, seed: int = 1) -> bytes:
    """A vowel-like signal: decaying harmonics of a pitch with a little noise."""
    rng = random.Random(seed)
    count = int(8000 * seconds)
    values = []
    for n in range(count):
        phase = 2 * math.pi * pitch_hz * n / 8000
        value = sum(math.sin(k * phase + k) / k for k in range(1, 12))
        values.append(round(5000 * value + rng.gauss(0, 100)))
    return struct.pack(f"<{count}h", *values)


def sine_wave(seconds: float, frequency: float, peak: float = 9000.0) -> bytes:
    count = int(8000 * seconds)
    step = 2 * math.pi * frequency / 8000
    return struct.pack(f"<{count}h", *(round(peak * math.sin(step * n)) for n in range(count)))


def play_with_loss(signal: bytes, lost: set[int]) -> array[int]:
    concealer = PacketLossConcealer()
    out = []
    for index, frame in enumerate(split_frames(signal)):
        out.append(concealer.conceal() if index in lost else concealer.good_frame(frame))
    return array("h", b"".join(out))


def steps_around(samples: array[int], boundary: int, width: int = 4) -> int:
    return max(abs(samples[i] - samples[i - 1]) for i in range(boundary - width, boundary + width))


def natural_step(signal: bytes, boundary: int) -> int:
    """The steepest step the undamaged signal takes within 10 ms of ``boundary``."""
    return steps_around(array("h", signal), boundary, width=80)


@pytest.mark.parametrize(
    ("name", "signal"),
    [
        ("sine 440", sine_wave(0.5, 440)),
        ("sine 1000", sine_wave(0.5, 1000)),
        ("voice 110 Hz", voiced(0.5, 110)),
        ("voice 190 Hz", voiced(0.5, 190, seed=2)),
    ],
)
@pytest.mark.parametrize("lost_frames", [1, 2, 5])
def test_no_click_where_concealment_starts_or_ends(
    name: str, signal: bytes, lost_frames: int
) -> None:
    first_lost = 10
    lost = set(range(first_lost, first_lost + lost_frames))
    samples = play_with_loss(signal, lost)
    start = first_lost * FRAME_SAMPLES
    end = (first_lost + lost_frames) * FRAME_SAMPLES
    # A join is no steeper than the signal itself is around there (a hard click jumps by the
    # full amplitude).
    assert steps_around(samples, start) <= 1.05 * natural_step(signal, start), name
    assert steps_around(samples, end) <= 1.05 * natural_step(signal, end), name
    # And the whole concealed stretch stays within the signal's own range.
    assert max(abs(v) for v in samples) <= max(abs(v) for v in array("h", signal)) * 1.05


def test_zero_insertion_would_click() -> None:
    # What the bound above is meant to catch: a hole of silence in the voiced signal.
    signal = voiced(0.5, 110)
    samples = array("h", signal)
    holed = samples[:1600] + array("h", bytes(FRAME_BYTES)) + samples[1760:]
    assert steps_around(holed, 1600) > 1.05 * natural_step(signal, 1600)


def test_concealment_repeats_the_pitch_then_fades_out() -> None:
    signal = sine_wave(0.4, 500)
    concealer = PacketLossConcealer()
    for frame in list(split_frames(signal))[:10]:
        concealer.good_frame(frame)
    first = concealer.conceal()
    assert concealer.concealing
    # The first 20 ms still carries the 500 Hz tone at (nearly) full level...
    assert tone_power(first, 500) > 0.8 * signal_power(signal)
    # ...then the level drops 20 % per 10 ms and is silent from 60 ms on.
    second, third, fourth = concealer.conceal(), concealer.conceal(), concealer.conceal()
    assert signal_power(first) > signal_power(second) > signal_power(third) > 0
    assert fourth == bytes(FRAME_BYTES)
    # Coming back cross-fades into the good frame and leaves concealment.
    back = concealer.good_frame(list(split_frames(signal))[14])
    assert not concealer.concealing
    assert len(back) == FRAME_BYTES


def test_good_frames_pass_through_untouched() -> None:
    concealer = PacketLossConcealer()
    for frame in split_frames(voiced(0.2, 120)):
        assert concealer.good_frame(frame) == frame


@pytest.mark.parametrize("period", [40, 57, 80, 119])
def test_pitch_estimate(period: int) -> None:
    pulses = array("h", [0] * 800)
    for start in range(0, 800, period):
        for k, value in enumerate((9000, -4000, 2000, -1000)):
            if start + k < 800:
                pulses[start + k] = value
    assert estimate_pitch(pulses.tobytes()) == period


def test_silence_history_conceals_silence() -> None:
    concealer = PacketLossConcealer()
    assert concealer.conceal() == bytes(FRAME_BYTES)
    assert concealer.conceal(80) == bytes(160)
