"""G.729 through bcg729: a tone survives the round trip, erasures are concealed, garbage is refused,
and a machine without the library gets a message naming the Debian package."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import RemoteProtocolError
from gateway.media import g729
from gateway.media.audio import FRAME_BYTES, read_all, split_frames
from gateway.media.tones import ToneDetector, ToneGenerator, signal_power


@pytest.fixture(scope="module")
def bcg729() -> None:
    """Skip without the library, except in CI where the test command installs it."""
    if g729.g729_available():
        return
    message = "libbcg729.so.0 is not installed (Debian package libbcg729-0)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


def tone_pcm(frequency: int, ms: int, level: float = -10.0) -> bytes:
    return read_all(ToneGenerator([(frequency, level)], duration_ms=ms), 1000)


def test_round_trip_keeps_a_1khz_tone(bcg729: None) -> None:
    pcm = tone_pcm(1000, 400)
    encoder, decoder = g729.G729Encoder(), g729.G729Decoder()
    payloads = [encoder.encode(frame) for frame in split_frames(pcm)]
    assert all(len(p) == 20 for p in payloads)  # 2 x 10-byte frames per 20 ms
    decoded = b"".join(decoder.decode(p) for p in payloads)
    assert len(decoded) == len(pcm)
    detector = ToneDetector(1000)
    heard = [detector.feed(frame) for frame in split_frames(decoded)]
    assert all(heard[5:])  # after the codec's start-up, every frame carries the tone
    assert not ToneDetector(1500).feed(decoded[-FRAME_BYTES:])
    # and the level is about right (within 3 dB)
    ratio = signal_power(decoded[FRAME_BYTES * 5 :]) / signal_power(pcm[FRAME_BYTES * 5 :])
    assert 0.5 < ratio < 2.0


def test_frame_erasure_conceals_with_the_codecs_own_plc(bcg729: None) -> None:
    pcm = tone_pcm(1000, 200)
    encoder, decoder = g729.G729Encoder(), g729.G729Decoder()
    frames = list(split_frames(pcm))
    for frame in frames[:8]:
        last_good = decoder.decode(encoder.encode(frame))
    concealed = [decoder.conceal(2) for _ in range(4)]
    assert all(len(c) == FRAME_BYTES for c in concealed)
    # The first lost packet is filled with signal, neither silence nor a burst...
    assert 0.1 < signal_power(concealed[0]) / signal_power(last_good) < 2.0
    # ...and a long erasure fades out (G.729 section 4.4 attenuates the excitation).
    assert signal_power(concealed[3]) < signal_power(concealed[0]) / 10
    # Decoding picks up again afterwards.
    later = b"".join(decoder.decode(encoder.encode(frame)) for frame in frames[8:])
    assert ToneDetector(1000).feed(later[-FRAME_BYTES:])


def test_sid_frame_is_accepted_at_the_end_of_a_payload(bcg729: None) -> None:
    decoder = g729.G729Decoder()
    assert len(decoder.decode(bytes(10) + bytes(2))) == 2 * 160


@pytest.mark.parametrize("size", [0, 1, 3, 9, 11, 13, 25])
def test_malformed_payload_length_is_the_peers_fault(bcg729: None, size: int) -> None:
    with pytest.raises(RemoteProtocolError) as raised:
        g729.G729Decoder().decode(bytes(size))
    assert raised.value.status_hint is None


@given(st.binary(max_size=64))
@settings(max_examples=60, deadline=None)
def test_arbitrary_payloads_decode_or_raise_the_protocol_error(
    bcg729: None, payload: bytes
) -> None:
    try:
        out = g729.G729Decoder().decode(payload)
    except RemoteProtocolError:
        return
    assert len(out) % 160 == 0


def test_encoder_refuses_partial_blocks(bcg729: None) -> None:
    with pytest.raises(ValueError, match="10 ms blocks"):
        g729.G729Encoder().encode(bytes(100))


def test_missing_library_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(g729, "LIBRARY_NAMES", ("libbcg729-definitely-missing.so.9",))
    monkeypatch.setattr(g729, "_library", None)
    monkeypatch.setattr(g729, "_load_error", None)
    assert g729.g729_available() is False
    with pytest.raises(g729.CodecUnavailableError, match="libbcg729-0"):
        g729.G729Encoder()
    with pytest.raises(g729.CodecUnavailableError, match="apt-get install libbcg729-0"):
        g729.G729Decoder()


def test_importing_the_codec_registry_does_not_load_the_library() -> None:
    probe = (
        "import gateway.media.codecs, pathlib; "
        "maps = pathlib.Path('/proc/self/maps').read_text(); "
        "print('loaded' if 'bcg729' in maps else 'not loaded')"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "not loaded"
