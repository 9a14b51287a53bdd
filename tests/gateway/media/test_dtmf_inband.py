"""In-band DTMF: generation levels and timing, detection with its twist, level, duration and
talk-off checks, through G.711 and noise."""

from __future__ import annotations

import math
import random
import struct

import pytest

from gateway.media import g711
from gateway.media.audio import (
    FRAME_BYTES,
    audioop,
    dbm0_to_peak,
    frame_level_dbm0,
    split_frames,
)
from gateway.media.dtmf_inband import (
    DigitEnded,
    DigitStarted,
    DtmfDetector,
    DtmfDetectorConfig,
    DtmfGenerator,
    detect_digits,
    dtmf_frequencies,
    dtmf_pcm,
)
from gateway.media.tones import tone_power

ALL_DIGITS = "0123456789*#ABCD"


def two_tones(
    low: float, high: float, ms: int, low_dbm0: float, high_dbm0: float, offset: int = 0
) -> bytes:
    count = ms * 8
    low_peak, high_peak = dbm0_to_peak(low_dbm0), dbm0_to_peak(high_dbm0)
    values = [
        round(
            low_peak * math.sin(2 * math.pi * low * n / 8000)
            + high_peak * math.sin(2 * math.pi * high * n / 8000)
        )
        for n in range(count)
    ]
    return bytes(offset * 2) + struct.pack(f"<{count}h", *values) + bytes(1600)


def noise(samples: int, rms: float, seed: int) -> bytes:
    rng = random.Random(seed)
    return struct.pack(
        f"<{samples}h", *(max(-32768, min(32767, round(rng.gauss(0, rms)))) for _ in range(samples))
    )


def test_frequencies_of_the_keypad() -> None:
    assert dtmf_frequencies("1") == (697, 1209)
    assert dtmf_frequencies("0") == (941, 1336)
    assert dtmf_frequencies("#") == (941, 1477)
    assert dtmf_frequencies("d") == (941, 1633)
    with pytest.raises(ValueError):
        dtmf_frequencies("E")


def test_generator_levels_twist_and_timing() -> None:
    pcm = dtmf_pcm("5", tone_ms=100, pause_ms=60, level_dbm0=-10.0, twist_db=3.0)
    assert len(pcm) == 8 * FRAME_BYTES  # 160 ms, whole frames
    tone = pcm[: 100 * 16]
    row = 10 * math.log10(tone_power(tone, 770) / (dbm0_to_peak(0) ** 2 / 2))
    column = 10 * math.log10(tone_power(tone, 1336) / (dbm0_to_peak(0) ** 2 / 2))
    assert row == pytest.approx(-10.0, abs=0.2)
    assert column == pytest.approx(-7.0, abs=0.2)
    assert pcm[100 * 16 :] == bytes(60 * 16)  # sample-exact pause
    assert frame_level_dbm0(pcm[:FRAME_BYTES]) == pytest.approx(-5.2, abs=0.3)  # sum of both


def test_generator_reset_replays() -> None:
    generator = DtmfGenerator("12")
    first = generator.read_frame()
    generator.reset()
    assert generator.read_frame() == first


def test_every_digit_in_order() -> None:
    assert detect_digits(dtmf_pcm(ALL_DIGITS)) == ALL_DIGITS


@pytest.mark.parametrize("law", ["ulaw", "alaw", "ulaw_to_alaw"])
def test_through_g711(law: str) -> None:
    pcm = dtmf_pcm(ALL_DIGITS, tone_ms=60, pause_ms=60)
    if law == "ulaw":
        through = g711.ulaw_decode(g711.ulaw_encode(pcm))
    elif law == "alaw":
        through = g711.alaw_decode(g711.alaw_encode(pcm))
    else:
        through = g711.alaw_decode(g711.ulaw_to_alaw(g711.ulaw_encode(pcm)))
    assert detect_digits(through) == ALL_DIGITS


def test_modest_noise_does_not_hide_digits() -> None:
    pcm = dtmf_pcm(ALL_DIGITS, level_dbm0=-12.0)
    noisy = audioop.add(pcm, noise(len(pcm) // 2, 1500.0, seed=4733), 2)  # ~12 dB SNR per tone
    assert detect_digits(noisy) == ALL_DIGITS


def test_noise_alone_is_no_digit() -> None:
    for seed in range(3):
        assert detect_digits(noise(8000 * 2, 3000.0, seed)) == ""


def test_sweep_does_not_false_trigger() -> None:
    samples = 8000 * 4
    # 300 -> 3400 Hz over 4 s, sliding through every DTMF frequency.
    rate = (3400 - 300) / (samples / 8000)
    phase = [2 * math.pi * (300 * n / 8000 + rate * (n / 8000) ** 2 / 2) for n in range(samples)]
    sweep = struct.pack(f"<{samples}h", *(round(12000 * math.sin(p)) for p in phase))
    assert detect_digits(sweep) == ""
    assert detect_digits(g711.ulaw_decode(g711.ulaw_encode(sweep))) == ""


def test_voiced_speech_like_harmonics_do_not_false_trigger() -> None:
    # A vowel-like buzz: harmonics of a 100-160 Hz gliding pitch with formant-ish weights; some
    # harmonics pass right over row and column frequencies.
    samples = 8000 * 3
    values = []
    phase = 0.0
    for n in range(samples):
        pitch = 100 + 60 * n / samples
        phase += 2 * math.pi * pitch / 8000
        value = sum(
            (1.0 / k) * (2.0 if 5 <= k <= 8 else 1.0) * math.sin(k * phase) for k in range(1, 25)
        )
        values.append(round(4000 * value))
    buzz = struct.pack(f"<{samples}h", *(max(-32768, min(32767, v)) for v in values))
    assert detect_digits(buzz) == ""


def test_strong_second_harmonics_are_rejected() -> None:
    clean = two_tones(770, 1336, 200, -10, -8)
    assert detect_digits(clean) == "5"
    # Harmonics 9 dB down: the tones still hold ~89 % of the power, but a DTMF generator does
    # not make harmonics like that, a voice does.
    harmonics = two_tones(2 * 770, 2 * 1336, 200, -19, -17)
    assert detect_digits(audioop.add(clean, harmonics, 2)) == ""
    lenient = DtmfDetectorConfig(min_harmonic_rejection_db=6.0)  # the harmonic check decided
    assert detect_digits(audioop.add(clean, harmonics, 2), lenient) == "5"
    weak = two_tones(2 * 770, 2 * 1336, 200, -30, -28)
    assert detect_digits(audioop.add(clean, weak, 2)) == "5"


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (-10, -4, "8"),  # +6 dB normal twist: accepted
        (-10, -1, ""),  # +9 dB normal twist: rejected
        (-10, -13, "8"),  # 3 dB reverse twist: accepted
        (-10, -15, ""),  # 5 dB reverse twist: rejected
    ],
)
def test_twist_limits(low: float, high: float, expected: str) -> None:
    assert detect_digits(two_tones(852, 1336, 100, low, high)) == expected


@pytest.mark.parametrize(("level", "expected"), [(-25.0, "3"), (-28.0, "3"), (-36.0, "")])
def test_level_limits(level: float, expected: str) -> None:
    assert detect_digits(two_tones(697, 1477, 100, level, level)) == expected


@pytest.mark.parametrize("offset", range(0, 160, 20))
def test_minimum_duration_at_every_alignment(offset: int) -> None:
    assert detect_digits(dtmf_pcm("9", tone_ms=40, pause_ms=100), None) == "9"
    shifted_40 = bytes(offset * 2) + dtmf_pcm("9", tone_ms=40, pause_ms=100)
    assert detect_digits(shifted_40) == "9"
    shifted_20 = bytes(offset * 2) + dtmf_pcm("9", tone_ms=20, pause_ms=100)
    assert detect_digits(shifted_20) == ""


def test_one_long_tone_is_one_digit_with_its_duration() -> None:
    detector = DtmfDetector()
    events = []
    for frame in split_frames(dtmf_pcm("7", tone_ms=2000, pause_ms=200)):
        events.extend(detector.feed(frame))
    assert [type(e) for e in events] == [DigitStarted, DigitEnded]
    ended = events[1]
    assert isinstance(ended, DigitEnded)
    assert ended.digit == "7"
    assert ended.duration_ms == pytest.approx(2000, abs=20)
    assert detector.digit is None


def test_short_dropout_does_not_split_and_a_pause_separates() -> None:
    tone = dtmf_pcm("2", tone_ms=200, pause_ms=0)
    dropout = tone[: 100 * 16] + bytes(10 * 16) + tone[110 * 16 :] + bytes(1600)
    assert detect_digits(dropout) == "2"
    repeated = dtmf_pcm("22", tone_ms=60, pause_ms=40)
    assert detect_digits(repeated) == "22"


def test_digit_change_without_pause() -> None:
    pcm = dtmf_pcm("4", tone_ms=100, pause_ms=0) + dtmf_pcm("6", tone_ms=100, pause_ms=100)
    assert detect_digits(pcm) == "46"


def test_configuration_limits() -> None:
    with pytest.raises(ValueError):
        DtmfDetectorConfig(min_on_ms=10)
    with pytest.raises(ValueError):
        DtmfDetectorConfig(min_off_ms=10)
    strict = DtmfDetectorConfig(min_on_ms=80)
    assert detect_digits(dtmf_pcm("1", tone_ms=60), strict) == ""
    assert detect_digits(dtmf_pcm("1", tone_ms=120), strict) == "1"
    with pytest.raises(ValueError, match="320-byte"):
        DtmfDetector().feed(bytes(100))
