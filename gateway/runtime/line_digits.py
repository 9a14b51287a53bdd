"""DTMF heard in a line's audio, for calls that relay digits by SIP INFO.

With ``dtmf-relay sip-info`` the media bridge runs in-band mode: it would carry the line's DTMF
tones inside the voice.  :class:`DigitCatchingLine` sits between the line's audio and the bridge:
it runs the same detector the bridge uses for RFC 4733 relay
(:class:`~gateway.media.dtmf_inband.DtmfDetector`), reports each digit once it ends (with its
measured duration, for the INFO's ``Duration=``), and puts silence in place of the tone from
the moment the detector suspects one -- Cisco's behaviour: the digit travels out of band only.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.line import LineAudio
from gateway.media.audio import FRAME_SAMPLES
from gateway.media.bridge_paths import line_format
from gateway.media.dtmf_inband import DigitEnded, DtmfDetector

__all__ = ["DigitCatchingLine"]

Receiver = Callable[[bytes], None]


class DigitCatchingLine:
    """A :class:`~gateway.line.LineAudio` around ``inner`` whose received frames lose their
    DTMF; ``report(digit, duration_ms)`` hears about every digit."""

    __slots__ = ("_detector", "_format", "_inner", "_receiver", "_report", "_silence", "codec")

    def __init__(self, inner: LineAudio, report: Callable[[str, int], None]) -> None:
        self.codec = inner.codec
        self._inner = inner
        self._report = report
        self._format = line_format(inner.codec)
        self._silence = self._format.silence(FRAME_SAMPLES)
        self._detector = DtmfDetector()
        self._receiver: Receiver | None = None

    def write(self, frame: bytes) -> None:
        self._inner.write(frame)

    def set_receiver(self, receiver: Receiver | None) -> None:
        self._receiver = receiver
        self._inner.set_receiver(None if receiver is None else self._heard)

    def _heard(self, frame: bytes) -> None:
        receiver = self._receiver
        if receiver is None:
            return
        if len(frame) == self._format.frame_bytes:
            detector = self._detector
            for event in detector.feed(self._format.to_linear(frame)):
                if isinstance(event, DigitEnded):
                    self._report(event.digit, round(event.duration_ms))
            if detector.digit is not None or detector.pending is not None:
                frame = self._silence
        receiver(frame)
