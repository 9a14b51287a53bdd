"""The codec conversions of the media bridge: line audio <-> RTP payloads, per direction.

The line speaks one of three formats (gateway/line.py): G.711 mu-law or A-law, or 16-bit linear.
The wire speaks whatever SDP negotiated.  When both are G.711 a payload changes law with one
``bytes.translate`` (G.711 Tables 3/4) or not at all -- no trip through linear PCM on the packet
path.  Everything else decodes to linear PCM and encodes again with the codec registry's encoders
and decoders (G.729 through bcg729).

Loss concealment needs linear PCM and history.  On the direct G.711 path the last few payloads
are kept as they came (one deque append per packet) and a concealer is built from them only when
a packet is actually missing; after the loss the first good payload is decoded once so that the
concealer can cross-fade into it (G.711 Appendix I), then the path is direct again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from gateway.errors import LocalProtocolError
from gateway.line import LineCodec
from gateway.media import g711
from gateway.media.audio import FRAME_SAMPLES, SAMPLE_WIDTH
from gateway.media.codecs import PCMA, PCMU, Codec, Decoder, Transcoder
from gateway.media.plc import PacketLossConcealer

__all__ = [
    "LINE_FORMATS",
    "DecodingToLine",
    "DirectToLine",
    "LineFormat",
    "WireToLine",
    "line_format",
    "line_to_wire",
    "wire_to_line",
]


def _identity(data: bytes) -> bytes:
    return data


@dataclass(frozen=True, slots=True)
class LineFormat:
    """How one line codec stores audio, and how to reach linear PCM from it and back."""

    codec: LineCodec
    bytes_per_sample: int
    to_linear: Callable[[bytes], bytes]
    from_linear: Callable[[bytes], bytes]
    silence_byte: int
    wire_codec: Codec | None  # the RTP codec with the same encoding (G.711 lines)

    @property
    def frame_bytes(self) -> int:
        return FRAME_SAMPLES * self.bytes_per_sample

    def silence(self, samples: int) -> bytes:
        return bytes((self.silence_byte,)) * (samples * self.bytes_per_sample)


LINE_FORMATS: Final[dict[LineCodec, LineFormat]] = {
    "pcmu": LineFormat("pcmu", 1, g711.ulaw_decode, g711.ulaw_encode, g711.ULAW_SILENCE, PCMU),
    "pcma": LineFormat("pcma", 1, g711.alaw_decode, g711.alaw_encode, g711.ALAW_SILENCE, PCMA),
    "l16": LineFormat("l16", SAMPLE_WIDTH, _identity, _identity, 0, None),
}


def line_format(codec: str) -> LineFormat:
    try:
        return LINE_FORMATS[codec]  # type: ignore[index]
    except KeyError:
        raise LocalProtocolError(f"line codec {codec!r} is not pcmu, pcma or l16") from None


# --------------------------------------------------------------------------- wire -> line


class WireToLine(Protocol):
    """Received payloads of one wire codec to line audio."""

    def samples(self, payload: bytes) -> int:
        """Samples the payload covers (raises RemoteProtocolError for a malformed one)."""

    def play(self, payload: bytes) -> bytes: ...

    def conceal(self, samples: int) -> bytes:
        """Line audio standing in for ``samples`` of lost audio after what was played."""

    def forget(self) -> None:
        """The stream went silent: the next payload starts afresh (no cross-fade)."""


_HISTORY_PAYLOADS: Final = 3  # >= 35 ms of G.711 even at 10 ms packets: a concealer's history


class DirectToLine:
    """G.711 on the wire to G.711 on the line: identity or one table translation."""

    __slots__ = ("_concealer", "_convert", "_decode", "_encode", "_recent")

    def __init__(self, wire: Codec, line: LineFormat) -> None:
        assert line.wire_codec is not None
        self._convert = Transcoder(wire, line.wire_codec).convert
        self._decode = g711.ulaw_decode if wire is PCMU else g711.alaw_decode
        self._encode = line.from_linear
        self._recent: deque[bytes] = deque(maxlen=_HISTORY_PAYLOADS)
        self._concealer: PacketLossConcealer | None = None

    def samples(self, payload: bytes) -> int:
        return len(payload)

    def play(self, payload: bytes) -> bytes:
        self._recent.append(payload)
        concealer = self._concealer
        if concealer is None:
            return self._convert(payload)
        pcm = concealer.good_frame(self._decode(payload))
        self._concealer = None  # merged: direct again until the next loss
        return self._encode(pcm)

    def conceal(self, samples: int) -> bytes:
        concealer = self._concealer
        if concealer is None:
            concealer = self._concealer = PacketLossConcealer()
            for payload in self._recent:
                concealer.good_frame(self._decode(payload))
        return self._encode(concealer.conceal(samples))

    def forget(self) -> None:
        self._concealer = None
        self._recent.clear()


class DecodingToLine:
    """Any wire codec through linear PCM (G.729, or G.711 toward a linear line)."""

    __slots__ = ("_codec", "_decoder", "_encode", "_fixed")

    def __init__(self, wire: Codec, line: LineFormat) -> None:
        self._codec = wire
        self._decoder: Decoder = wire.new_decoder()
        self._encode = line.from_linear
        # G.711 payloads are one byte per sample, whatever their length.
        self._fixed = wire is PCMU or wire is PCMA

    def samples(self, payload: bytes) -> int:
        return len(payload) if self._fixed else self._codec.samples_in(payload)

    def play(self, payload: bytes) -> bytes:
        return self._encode(self._decoder.decode(payload))

    def conceal(self, samples: int) -> bytes:
        return self._encode(self._decoder.conceal(samples))

    def forget(self) -> None:
        """The codec's own state carries across silence (G.729 predictors expect that)."""


def wire_to_line(wire: Codec, line: LineFormat) -> WireToLine:
    if line.wire_codec is not None and (wire is PCMU or wire is PCMA):
        return DirectToLine(wire, line)
    return DecodingToLine(wire, line)


# --------------------------------------------------------------------------- line -> wire


def line_to_wire(line: LineFormat, wire: Codec) -> Callable[[bytes], bytes]:
    """The function that turns line audio (whole codec frames) into one payload of ``wire``."""
    if line.wire_codec is not None and (wire is PCMU or wire is PCMA):
        return Transcoder(line.wire_codec, wire).convert
    encode = wire.new_encoder().encode
    to_linear = line.to_linear
    if to_linear is _identity:
        return encode
    return lambda audio: encode(to_linear(audio))
