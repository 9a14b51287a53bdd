"""LineJoin: two lines' audio joined both ways, converted between codecs."""

from __future__ import annotations

from collections.abc import Callable

from gateway.line import LineCodec
from gateway.media import g711
from gateway.runtime.line_join import LineJoin


class FakeLine:
    def __init__(self, codec: LineCodec) -> None:
        self.codec: LineCodec = codec
        self.receiver: Callable[[bytes], None] | None = None
        self.written: list[bytes] = []

    def write(self, frame: bytes) -> None:
        self.written.append(frame)

    def set_receiver(self, receiver: Callable[[bytes], None] | None) -> None:
        self.receiver = receiver


def test_frames_cross_both_ways_and_stop_when_closed() -> None:
    alaw, ulaw = FakeLine("pcma"), FakeLine("pcmu")
    join = LineJoin(alaw, ulaw)
    assert alaw.receiver is not None and ulaw.receiver is not None
    speech = bytes(range(0, 256, 2)) * 2 + bytes(64)  # 160 samples (1 byte each)
    alaw.receiver(speech)
    ulaw.receiver(speech)
    assert ulaw.written == [g711.ulaw_encode(g711.alaw_decode(speech))]
    assert alaw.written == [g711.alaw_encode(g711.ulaw_decode(speech))]
    join.close()
    assert alaw.receiver is None and ulaw.receiver is None


def test_same_codec_frames_pass_untouched() -> None:
    first, second = FakeLine("l16"), FakeLine("l16")
    LineJoin(first, second)
    assert first.receiver is not None
    first.receiver(b"\x01\x02" * 160)
    assert second.written == [b"\x01\x02" * 160] and first.written == []
