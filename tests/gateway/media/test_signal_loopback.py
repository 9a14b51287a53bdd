"""Loopback of signals through the codec chain a gateway call uses: line PCM -> mu-law on the
wire -> transcoded to A-law -> decoded on the far line side, where a 1 kHz tone and the in-band
digits "159#" must arrive intact (frequency right, digits in order, each once)."""

from __future__ import annotations

from gateway.media.audio import ConcatSource, SilenceSource, split_frames
from gateway.media.codecs import PCMA, PCMU, transcoder
from gateway.media.dtmf_inband import DigitStarted, DtmfDetector, DtmfGenerator
from gateway.media.tones import ToneDetector, ToneGenerator


def test_tone_and_digits_through_ulaw_and_alaw() -> None:
    source = ConcatSource(
        [
            ToneGenerator([(1000, -10.0)], duration_ms=400),
            SilenceSource(100),
            DtmfGenerator("159#", tone_ms=80, pause_ms=80),
            SilenceSource(100),
        ]
    )
    wire_encoder = PCMU.new_encoder()
    to_alaw = transcoder(PCMU, PCMA)
    line_decoder = PCMA.new_decoder()
    tone_1k = ToneDetector(1000)
    wrong_tone = ToneDetector(1100)
    digits = DtmfDetector()
    heard: list[str] = []
    tone_frames = 0
    index = 0
    while (frame := source.read_frame()) is not None:
        payload = wire_encoder.encode(frame)
        assert len(payload) == 160
        received = line_decoder.decode(to_alaw.convert(payload))
        if index < 20:  # the 400 ms of tone
            tone_frames += tone_1k.feed(received)
            assert not wrong_tone.feed(received)
        heard.extend(e.digit for e in digits.feed(received) if isinstance(e, DigitStarted))
        index += 1
    assert tone_frames == 20
    assert "".join(heard) == "159#"
    assert digits.digit is None
    assert not any(ToneDetector(1000).feed(f) for f in split_frames(bytes(640)))
