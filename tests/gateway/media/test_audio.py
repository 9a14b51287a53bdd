"""Line-audio constants, levels and the basic sources."""

from __future__ import annotations

import math

import pytest

from gateway.media import audio
from gateway.media.audio import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    SILENCE_FRAME,
    ConcatSource,
    FrameCollector,
    LoopSource,
    PcmSource,
    SilenceSource,
    dbm0_to_peak,
    frame_level_dbm0,
    read_all,
    split_frames,
)
from gateway.media.tones import sine


def test_frame_constants() -> None:
    assert (audio.SAMPLE_RATE, audio.SAMPLE_WIDTH, audio.FRAME_MS) == (8000, 2, 20)
    assert (FRAME_SAMPLES, FRAME_BYTES, len(SILENCE_FRAME)) == (160, 320, 320)


def test_dbm0_scale_matches_the_mu_law_overload_point() -> None:
    # G.711: a sine at +3.17 dBm0 just reaches the mu-law maximum (8159 units, x4 in 16 bits).
    assert dbm0_to_peak(3.17) == pytest.approx(8159 * 4, rel=1e-6)
    assert frame_level_dbm0(sine(1000, 0, 160, dbm0_to_peak(-10.0))) == pytest.approx(-10, abs=0.05)
    assert frame_level_dbm0(SILENCE_FRAME) == -math.inf
    assert frame_level_dbm0(b"") == -math.inf


def test_pcm_source_pads_and_resets() -> None:
    source = PcmSource(b"\x01\x00" * 200)
    first, second = source.read_frame(), source.read_frame()
    assert first == b"\x01\x00" * 160
    assert second == b"\x01\x00" * 40 + bytes(240)
    assert source.read_frame() is None
    assert source.duration_ms == 25.0
    source.reset()
    assert source.read_frame() == first
    with pytest.raises(ValueError):
        PcmSource(b"\x00")


def test_silence_sources() -> None:
    assert read_all(SilenceSource(50), 100) == bytes(3 * FRAME_BYTES)  # rounded up to frames
    assert read_all(SilenceSource(0), 100) == b""
    assert read_all(SilenceSource(), 7) == bytes(7 * FRAME_BYTES)  # endless
    with pytest.raises(ValueError):
        SilenceSource(-1)


def test_concat_and_loop() -> None:
    tone = PcmSource(b"\x07\x00" * 160)
    sequence = ConcatSource([tone, SilenceSource(20), PcmSource(b"\x09\x00" * 160)])
    pcm = read_all(sequence, 10)
    assert pcm == b"\x07\x00" * 160 + bytes(320) + b"\x09\x00" * 160
    assert read_all(LoopSource(sequence, times=2), 100) == pcm * 2
    assert read_all(LoopSource(PcmSource(b"\x05\x00" * 160)), 5) == b"\x05\x00" * 800
    assert read_all(LoopSource(PcmSource(b"")), 5) == b""  # an empty loop ends
    with pytest.raises(ValueError):
        LoopSource(tone, times=0)


def test_split_frames_and_collector() -> None:
    frames = list(split_frames(bytes(700)))
    assert [len(f) for f in frames] == [320, 320, 320]
    sink = FrameCollector()
    for frame in frames:
        sink.write_frame(frame)
    assert sink.pcm() == bytes(960)
