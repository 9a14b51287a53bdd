"""The codec registry: what gwemu can send, how to make encoders and decoders, how to transcode.

The SDP layer offers :func:`offerable_codecs` (only codecs whose implementation is installed: an
offer simply leaves G.729 out on a machine without bcg729) and looks answers up with
:func:`find_codec`; the media bridge asks for :meth:`Codec.new_encoder` / :meth:`Codec.new_decoder`
per stream and for a :func:`transcoder` when the two legs negotiated different codecs.

Encoders take line audio (8 kHz mono 16-bit PCM) in whole multiples of the codec's frame
(``Codec.frame_ms``) and return a payload; decoders take a payload and return PCM, and
``conceal(samples)`` stands in for a lost packet (G.711: pitch repetition, G.729: the codec's own
frame-erasure concealment).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from gateway.errors import RemoteProtocolError
from gateway.media import g711
from gateway.media.audio import SAMPLE_RATE, SAMPLE_WIDTH
from gateway.media.g729 import (
    G729_FRAME_BYTES,
    G729_FRAME_SAMPLES,
    G729_SID_BYTES,
    CodecUnavailableError,
    G729Decoder,
    G729Encoder,
    g729_available,
)
from gateway.media.plc import PacketLossConcealer

__all__ = [
    "CODECS",
    "G729",
    "PCMA",
    "PCMU",
    "Codec",
    "CodecUnavailableError",
    "Decoder",
    "Encoder",
    "Transcoder",
    "codec_for_payload_type",
    "find_codec",
    "offerable_codecs",
    "transcoder",
]


class Encoder(Protocol):
    def encode(self, pcm: bytes) -> bytes: ...


class Decoder(Protocol):
    def decode(self, payload: bytes) -> bytes: ...

    def conceal(self, samples: int) -> bytes: ...


class G711Encoder:
    """Stateless; one object can serve any number of streams."""

    __slots__ = ("encode",)

    def __init__(self, encode: Callable[[bytes], bytes]) -> None:
        self.encode = encode


class G711Decoder:
    """G.711 decoding with loss concealment (one per stream: the concealer keeps history)."""

    __slots__ = ("_concealer", "_expand")

    def __init__(self, expand: Callable[[bytes], bytes]) -> None:
        # g711.ulaw_decode / alaw_decode: one C call per packet (see gateway.media.g711).
        self._expand = expand
        self._concealer = PacketLossConcealer()

    def decode(self, payload: bytes) -> bytes:
        return self._concealer.good_frame(self._expand(payload))

    def conceal(self, samples: int) -> bytes:
        return self._concealer.conceal(samples)


class G729StreamDecoder:
    """Adapts :class:`G729Decoder` to the :class:`Decoder` protocol (concealment in samples)."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = G729Decoder()

    def decode(self, payload: bytes) -> bytes:
        return self._decoder.decode(payload)

    def conceal(self, samples: int) -> bytes:
        frames = -(-samples // G729_FRAME_SAMPLES)
        return self._decoder.conceal(frames)[: samples * SAMPLE_WIDTH]


@dataclass(frozen=True, slots=True)
class Codec:
    """One audio codec as SDP names it (RFC 3551 section 6, RFC 4566 rtpmap)."""

    name: str  # encoding name as registered (case-insensitive on the wire)
    clock_rate: int
    payload_type: int  # static payload type (RFC 3551 Table 4)
    frame_ms: int  # the codec's frame: payloads are whole multiples of it
    payload_bytes_per_frame: int
    fmtp: str | None  # what gwemu puts in a=fmtp when offering it
    make_encoder: Callable[[], Encoder]
    make_decoder: Callable[[], Decoder]
    is_available: Callable[[], bool]
    sid_frame_bytes: int = 0  # a comfort-noise frame that may end a payload (G.729 Annex B)

    @property
    def available(self) -> bool:
        return self.is_available()

    def new_encoder(self) -> Encoder:
        """An encoder for one stream; :class:`CodecUnavailableError` when not installed."""
        return self.make_encoder()

    def new_decoder(self) -> Decoder:
        """A decoder for one stream; :class:`CodecUnavailableError` when not installed."""
        return self.make_decoder()

    def payload_size(self, ptime_ms: int) -> int:
        """Payload bytes in a packet of ``ptime_ms``."""
        if ptime_ms <= 0 or ptime_ms % self.frame_ms:
            raise ValueError(f"{self.name}: ptime {ptime_ms} ms is not a multiple of its frame")
        return ptime_ms // self.frame_ms * self.payload_bytes_per_frame

    def samples_in(self, payload: bytes) -> int:
        """Audio samples a payload holds (for the RTP timestamp increment)."""
        frames, remainder = divmod(len(payload), self.payload_bytes_per_frame)
        if remainder and remainder == self.sid_frame_bytes:
            frames += 1  # the SID frame stands for one frame of comfort noise
        elif remainder:
            raise RemoteProtocolError(
                f"{self.name} payload of {len(payload)} bytes is not whole frames",
                status_hint=None,
            )
        return frames * self.frame_ms * self.clock_rate // 1000


def _always() -> bool:
    return True


_ULAW_ENCODER: Final = G711Encoder(g711.ulaw_encode)
_ALAW_ENCODER: Final = G711Encoder(g711.alaw_encode)

PCMU: Final = Codec(
    "PCMU",
    SAMPLE_RATE,
    0,
    frame_ms=1,  # G.711 has no framing: any whole millisecond works
    payload_bytes_per_frame=SAMPLE_RATE // 1000,
    fmtp=None,
    make_encoder=lambda: _ULAW_ENCODER,
    make_decoder=lambda: G711Decoder(g711.ulaw_decode),
    is_available=_always,
)
PCMA: Final = Codec(
    "PCMA",
    SAMPLE_RATE,
    8,
    frame_ms=1,
    payload_bytes_per_frame=SAMPLE_RATE // 1000,
    fmtp=None,
    make_encoder=lambda: _ALAW_ENCODER,
    make_decoder=lambda: G711Decoder(g711.alaw_decode),
    is_available=_always,
)
G729: Final = Codec(
    "G729",
    SAMPLE_RATE,
    18,
    frame_ms=10,
    payload_bytes_per_frame=G729_FRAME_BYTES,
    fmtp="annexb=no",  # RFC 4856 2.1.9: Annex B (VAD/DTX) is off in gwemu unless configured
    make_encoder=G729Encoder,
    make_decoder=G729StreamDecoder,
    is_available=g729_available,
    sid_frame_bytes=G729_SID_BYTES,
)

# Default preference order for offers.
CODECS: Final = (PCMU, PCMA, G729)


def find_codec(name: str, clock_rate: int = SAMPLE_RATE) -> Codec | None:
    """The codec with this encoding name (case-insensitive, RFC 4566 6) and clock rate."""
    for codec in CODECS:
        if codec.name.lower() == name.lower() and codec.clock_rate == clock_rate:
            return codec
    return None


def codec_for_payload_type(payload_type: int) -> Codec | None:
    """The codec a static payload type stands for (m= lines without rtpmap)."""
    for codec in CODECS:
        if codec.payload_type == payload_type:
            return codec
    return None


def offerable_codecs() -> tuple[Codec, ...]:
    """Codecs this machine can actually run, in preference order."""
    return tuple(codec for codec in CODECS if codec.available)


class Transcoder:
    """Converts payloads of one codec into another, for one stream direction.

    mu-law <-> A-law is a byte translation (G.711 Tables 3/4); identical codecs pass through;
    anything else decodes to PCM and encodes again (with the state that G.729 needs).
    """

    __slots__ = ("convert", "source", "target")

    def __init__(self, source: Codec, target: Codec) -> None:
        self.source = source
        self.target = target
        self.convert: Callable[[bytes], bytes]
        if source is target:
            self.convert = _identity
        elif source is PCMU and target is PCMA:
            self.convert = _TableTranscoding(g711.ULAW_TO_ALAW)
        elif source is PCMA and target is PCMU:
            self.convert = _TableTranscoding(g711.ALAW_TO_ULAW)
        else:
            decoder = source.new_decoder()
            encoder = target.new_encoder()
            self.convert = lambda payload: encoder.encode(decoder.decode(payload))


class _TableTranscoding:
    """mu <-> A-law by one of G.711's tables (what ``g711.ulaw_to_alaw`` does), as a callable of
    this compiled module: every frame of a transcoded call goes through it, and calling the
    interpreted g711 function cost more than the translation itself."""

    __slots__ = ("table",)

    def __init__(self, table: bytes) -> None:
        self.table = table

    def __call__(self, payload: bytes) -> bytes:
        return payload.translate(self.table)


def _identity(payload: bytes) -> bytes:
    return payload


def transcoder(source: Codec, target: Codec) -> Transcoder:
    return Transcoder(source, target)
