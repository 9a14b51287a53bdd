"""DigitCatchingLine: DTMF in a line's audio is reported and muted (dtmf-relay sip-info)."""

from __future__ import annotations

from collections.abc import Callable

from gateway.line import LineCodec
from gateway.media import g711
from gateway.media.audio import FRAME_BYTES
from gateway.media.dtmf_inband import detect_digits, dtmf_pcm
from gateway.media.tones import Tone, ToneGenerator
from gateway.runtime.line_digits import DigitCatchingLine


class FakeLine:
    def __init__(self, codec: LineCodec = "pcmu") -> None:
        self.codec: LineCodec = codec
        self.receiver: Callable[[bytes], None] | None = None
        self.written: list[bytes] = []

    def write(self, frame: bytes) -> None:
        self.written.append(frame)

    def set_receiver(self, receiver: Callable[[bytes], None] | None) -> None:
        self.receiver = receiver


def frames(pcm: bytes) -> list[bytes]:
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def run(codec: LineCodec, pcm: bytes) -> tuple[list[tuple[str, int]], bytes]:
    line = FakeLine(codec)
    reported: list[tuple[str, int]] = []
    catcher = DigitCatchingLine(line, lambda digit, ms: reported.append((digit, ms)))
    passed: list[bytes] = []
    catcher.set_receiver(passed.append)
    assert line.receiver is not None
    encode = g711.ulaw_encode if codec == "pcmu" else (lambda data: data)
    for frame in frames(pcm):
        line.receiver(encode(frame))
    decode = g711.ulaw_decode if codec == "pcmu" else (lambda data: data)
    return reported, b"".join(decode(frame) for frame in passed)


def test_digits_are_reported_with_their_duration_and_never_passed_on() -> None:
    pcm = dtmf_pcm("159#", tone_ms=120, pause_ms=100)
    reported, passed = run("pcmu", pcm)
    assert [digit for digit, _ in reported] == list("159#")
    assert all(100 <= ms <= 140 for _, ms in reported)
    assert detect_digits(passed) == ""  # the far end hears no tone at all
    assert len(passed) == len(pcm)  # every frame went on (silence in place of the tones)


def test_voice_passes_unchanged_and_writes_go_to_the_line() -> None:
    generator = ToneGenerator.for_tone(Tone("dial", (350, 440)), duration_ms=2000)
    voice = b"".join(iter(generator.read_frame, None))
    reported, passed = run("l16", voice)
    assert reported == []
    assert passed == voice
    line = FakeLine()
    catcher = DigitCatchingLine(line, lambda digit, ms: None)
    catcher.write(b"\xff" * 160)
    assert line.written == [b"\xff" * 160] and catcher.codec == "pcmu"
    catcher.set_receiver(None)
    assert line.receiver is None
