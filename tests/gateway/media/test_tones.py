"""Call-progress tones: measurement against a textbook Goertzel, plans, generator phase
continuity and cadences, and the detector that other tests use as proof."""

from __future__ import annotations

import math
import random
import struct

import pytest

from gateway.media import g711
from gateway.media.audio import FRAME_BYTES, dbm0_to_peak, read_all, split_frames
from gateway.media.tones import (
    TONE_PLANS,
    Tone,
    ToneDetector,
    ToneGenerator,
    signal_power,
    sine,
    tone_plan,
    tone_power,
)


def goertzel_power(samples: list[int], frequency: float) -> float:
    """The Goertzel recursion (mean sinusoid power, A**2 / 2 for a sine of peak A)."""
    coefficient = 2 * math.cos(2 * math.pi * frequency / 8000)
    previous = before = 0.0
    for sample in samples:
        previous, before = sample + coefficient * previous - before, previous
    power = previous * previous + before * before - coefficient * previous * before
    return 2 * power / len(samples) ** 2


@pytest.mark.parametrize("frequency", [350.0, 425.0, 697.0, 1000.0, 1633.0, 2954.5])
def test_tone_power_equals_goertzel(frequency: float) -> None:
    rng = random.Random(int(frequency))
    samples = [
        round(
            9000 * math.sin(2 * math.pi * 1000 * n / 8000 + 0.4)
            + 3000 * math.cos(2 * math.pi * 697 * n / 8000)
            + rng.gauss(0, 500)
        )
        for n in range(160)
    ]
    pcm = struct.pack("<160h", *samples)
    expected = goertzel_power(samples, frequency)
    assert tone_power(pcm, frequency) == pytest.approx(expected, rel=1e-3, abs=1.0)


def test_power_scale() -> None:
    pcm = sine(1000, 0, 160, 10000.0)
    assert tone_power(pcm, 1000) == pytest.approx(10000.0**2 / 2, rel=0.01)
    assert signal_power(pcm) == pytest.approx(10000.0**2 / 2, rel=0.01)
    assert tone_power(b"", 1000) == 0.0 and signal_power(b"") == 0.0


def test_sine_phase_runs_on_across_calls() -> None:
    whole = sine(440, 0, 1000, 20000.0)
    pieces = b"".join(sine(440, start, 37, 20000.0) for start in range(0, 1000, 37))
    assert pieces[: len(whole)] == whole
    expected = [round(20000 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(1000)]
    actual = struct.unpack("<1000h", whole)
    assert max(abs(a - e) for a, e in zip(actual, expected, strict=True)) <= 1


@pytest.mark.parametrize("frequency", [0, 4000, 5000, 440.5])
def test_sine_refuses_frequencies_it_cannot_make(frequency: float) -> None:
    with pytest.raises(ValueError):
        sine(frequency, 0, 10, 1000.0)  # type: ignore[arg-type]


def test_generator_frames_are_continuous() -> None:
    generator = ToneGenerator([(425, -10.0)], duration_ms=200)
    frames = [generator.read_frame() for _ in range(10)]
    assert generator.read_frame() is None
    pcm = b"".join(f for f in frames if f is not None)
    assert pcm == sine(425, 0, 1600, dbm0_to_peak(-10.0))
    generator.reset()
    assert generator.read_frame() == frames[0]


def test_generator_cadence_is_sample_exact() -> None:
    busy = ToneGenerator([(480, -24.0), (620, -24.0)], cadence_ms=(500, 500), duration_ms=2000)
    pcm = read_all(busy, 1000)
    assert len(pcm) == 16000 * 2
    assert pcm[500 * 16 : 1000 * 16] == bytes(500 * 16)  # off exactly from 500 to 1000 ms
    assert pcm[3990 * 2 : 4000 * 2] != bytes(20) and pcm[8000 * 2 : 8010 * 2] != bytes(20)
    on = pcm[: 500 * 16]
    share = (tone_power(on, 480) + tone_power(on, 620)) / signal_power(on)
    assert share == pytest.approx(1.0, abs=0.05)


def test_generator_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        ToneGenerator([])
    with pytest.raises(ValueError):
        ToneGenerator([(440, -10.0)], cadence_ms=(100,))
    with pytest.raises(ValueError):
        ToneGenerator([(44000, -10.0)])
    with pytest.raises(ValueError):
        Tone("odd", (425,), (100, 0))


def test_plans() -> None:
    us, etsi = tone_plan("US"), tone_plan("etsi")
    assert us["dial"].frequencies == (350, 440) and us["dial"].continuous
    assert us["ringback"] == Tone("ringback", (440, 480), (2000, 4000), -19.0)
    assert us["busy"].cadence_ms == (500, 500) and us["congestion"].cadence_ms == (250, 250)
    assert etsi["dial"].frequencies == (425,) and etsi["ringback"].cadence_ms == (1000, 4000)
    assert etsi["busy"].cadence_ms == (500, 500)
    for plan in TONE_PLANS.values():
        assert set(plan) >= {"dial", "ringback", "busy", "congestion"}
    with pytest.raises(ValueError, match="known: de, etsi, uk, us"):
        tone_plan("xx")


def listen(tone: Tone, ms: int, detector: ToneDetector, *, start_ms: int = 0) -> None:
    """Play ``tone`` from ``start_ms`` into its cadence, through mu-law, into ``detector``."""
    generator = ToneGenerator.for_tone(tone, duration_ms=start_ms + ms)
    pcm = read_all(generator, 10_000)[start_ms * 16 : (start_ms + ms) * 16]
    for frame in split_frames(g711.ulaw_decode(g711.ulaw_encode(pcm))):
        detector.feed(frame)


@pytest.mark.parametrize("country", sorted(TONE_PLANS))
@pytest.mark.parametrize("name", ["dial", "ringback", "busy", "congestion"])
def test_detector_tells_each_tone_by_its_cadence(country: str, name: str) -> None:
    plan = tone_plan(country)
    tone = plan[name]
    detector = ToneDetector(tone.frequencies)
    # Start listening part-way into the cadence, like a caller would.
    listen(tone, 13_000 if name == "ringback" else 3_000, detector, start_ms=130)
    match = detector.match(plan)
    assert match is not None and match.name == name
    assert detector.present_ms() > 0


def test_detector_needs_every_component_and_enough_level() -> None:
    dial = tone_plan("us")["dial"]
    only_350 = ToneGenerator([(350, -13.0)], duration_ms=200)
    detector = ToneDetector(dial.frequencies)
    assert not any(detector.feed(f) for f in split_frames(read_all(only_350, 100)))
    quiet = ToneDetector(1000, min_level_dbm0=-30.0)
    assert not quiet.feed(read_all(ToneGenerator([(1000, -40.0)], duration_ms=20), 1))
    assert quiet.feed(read_all(ToneGenerator([(1000, -20.0)], duration_ms=20), 1))
    assert not quiet.feed(bytes(FRAME_BYTES))


def test_detector_proves_a_frequency_arrived() -> None:
    detector = ToneDetector(1000)
    tone = read_all(ToneGenerator([(1000, -20.0)], duration_ms=100), 100)
    assert all(detector.feed(f) for f in split_frames(tone))
    assert not ToneDetector(1100).feed(tone[:FRAME_BYTES])
    rng = random.Random(7)
    noise = struct.pack("<160h", *(round(rng.gauss(0, 3000)) for _ in range(160)))
    assert not ToneDetector(1000).feed(noise)
    assert ToneDetector(1000).measure(noise) < 0.1


def test_continuous_tone_does_not_match_a_cadence() -> None:
    us = tone_plan("us")
    detector = ToneDetector(us["busy"].frequencies)
    listen(Tone("steady", (480, 620), (), -24.0), 3000, detector)
    match = detector.match(us)
    assert match is None  # busy's frequencies, but no cadence: not busy, not congestion
    assert detector.cadence_ms() == ()
