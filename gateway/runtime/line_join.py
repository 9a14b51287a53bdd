"""Two line calls' audio joined in the gateway, for a hairpin (pots to pots, no RTP).

Each 20 ms frame one line delivers is written to the other line at once -- the lines' own
clocks pace it, no jitter buffer is needed between two local lines -- converted through linear
PCM when their codecs differ (an A-law E1 trunk and a mu-law station, say).
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.line import LineAudio
from gateway.media.bridge_paths import line_format

__all__ = ["LineJoin"]


class LineJoin:
    """What ``first`` says ``second`` hears, and the other way round, until :meth:`close`."""

    __slots__ = ("_first", "_second")

    def __init__(self, first: LineAudio, second: LineAudio) -> None:
        self._first = first
        self._second = second
        first.set_receiver(_carry(first, second))
        second.set_receiver(_carry(second, first))

    def close(self) -> None:
        self._first.set_receiver(None)
        self._second.set_receiver(None)


def _carry(source: LineAudio, sink: LineAudio) -> Callable[[bytes], None]:
    if source.codec == sink.codec:
        return sink.write
    decode = line_format(source.codec).to_linear
    encode = line_format(sink.codec).from_linear
    write = sink.write

    def convert(frame: bytes) -> None:
        write(encode(decode(frame)))

    return convert
