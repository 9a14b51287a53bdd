"""The codec registry: lookup, availability for offers, per-stream codecs and transcoders."""

from __future__ import annotations

import os

import pytest

from gateway.errors import RemoteProtocolError
from gateway.media import codecs, g711, g729
from gateway.media.audio import FRAME_BYTES, read_all, split_frames
from gateway.media.codecs import (
    CODECS,
    G729,
    PCMA,
    PCMU,
    CodecUnavailableError,
    codec_for_payload_type,
    find_codec,
    offerable_codecs,
    transcoder,
)
from gateway.media.tones import ToneDetector, ToneGenerator


@pytest.fixture(scope="module")
def bcg729() -> None:
    """Skip without the library, except in CI where the test command installs it."""
    if g729.g729_available():
        return
    message = "libbcg729.so.0 is not installed (Debian package libbcg729-0)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def without_bcg729(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(g729, "LIBRARY_NAMES", ("libbcg729-not-here.so.0",))
    monkeypatch.setattr(g729, "_library", None)
    monkeypatch.setattr(g729, "_load_error", None)


def tone(ms: int = 300) -> bytes:
    return read_all(ToneGenerator([(1000, -12.0)], duration_ms=ms), 1000)


def test_lookup() -> None:
    assert find_codec("pcmu") is PCMU and find_codec("PCMA", 8000) is PCMA
    assert find_codec("g729") is G729
    assert find_codec("PCMU", 16000) is None and find_codec("opus", 48000) is None
    assert codec_for_payload_type(0) is PCMU
    assert codec_for_payload_type(8) is PCMA
    assert codec_for_payload_type(18) is G729
    assert codec_for_payload_type(101) is None
    assert [c.name for c in CODECS] == ["PCMU", "PCMA", "G729"]
    assert G729.fmtp == "annexb=no"


def test_sizes() -> None:
    assert PCMU.payload_size(20) == 160 and PCMA.payload_size(30) == 240
    assert G729.payload_size(20) == 20
    with pytest.raises(ValueError):
        G729.payload_size(25)
    assert PCMU.samples_in(bytes(160)) == 160
    assert G729.samples_in(bytes(20)) == 160
    assert G729.samples_in(bytes(22)) == 240  # two voice frames and an Annex B SID frame
    with pytest.raises(RemoteProtocolError):
        G729.samples_in(bytes(15))


def test_offers_include_g729_only_when_installed(without_bcg729: None) -> None:
    assert offerable_codecs() == (PCMU, PCMA)
    assert find_codec("G729") is G729  # still known, so an answer naming it is understood
    with pytest.raises(CodecUnavailableError, match="libbcg729-0"):
        G729.new_encoder()
    with pytest.raises(CodecUnavailableError, match="libbcg729-0"):
        transcoder(G729, PCMU)
    # G.711 is unaffected.
    assert transcoder(PCMU, PCMA).convert(b"\xff") == g711.ulaw_to_alaw(b"\xff")


def test_offers_with_bcg729(bcg729: None) -> None:
    assert offerable_codecs() == (PCMU, PCMA, G729)


@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_g711_stream_codecs(codec: codecs.Codec) -> None:
    pcm = tone()
    encoder, decoder = codec.new_encoder(), codec.new_decoder()
    decoded = b"".join(decoder.decode(encoder.encode(frame)) for frame in split_frames(pcm))
    assert ToneDetector(1000).feed(decoded[-FRAME_BYTES:])
    concealed = decoder.conceal(160)
    assert len(concealed) == FRAME_BYTES and concealed != bytes(FRAME_BYTES)


def test_transcoders() -> None:
    payload = g711.ulaw_encode(tone(20))
    assert transcoder(PCMU, PCMU).convert(payload) is payload
    assert transcoder(PCMU, PCMA).convert(payload) == g711.ulaw_to_alaw(payload)
    back = transcoder(PCMA, PCMU).convert(transcoder(PCMU, PCMA).convert(payload))
    assert back == g711.alaw_to_ulaw(g711.ulaw_to_alaw(payload))


def test_g729_to_g711_transcoding_carries_the_tone(bcg729: None) -> None:
    encoder = G729.new_encoder()
    to_pcma = transcoder(G729, PCMA)
    out = [to_pcma.convert(encoder.encode(frame)) for frame in split_frames(tone())]
    assert all(len(payload) == 160 for payload in out)
    decoded = g711.alaw_decode(b"".join(out[-5:]))
    assert all(ToneDetector(1000).feed(frame) for frame in split_frames(decoded))
    concealed = G729.new_decoder().conceal(160)
    assert len(concealed) == FRAME_BYTES
