"""G.729 (Annex A compatible) through Belledonne's bcg729 library, loaded with ctypes on first use.

RTP payload type 18, 8 kbit/s: every 10 ms (80 samples) becomes one 10-byte frame (RFC 3551 section
4.5.6); a 20 ms packet carries two.  Annex B (VAD/DTX, 2-byte SID frames) is off unless asked for:
SDP then carries ``annexb=no`` (RFC 4856 section 2.1.9) and every frame is a full voice frame.

The library is Debian's ``libbcg729-0`` (``libbcg729.so.0``).  Nothing here touches it until a codec
object is created, so gwemu starts and offers PCMU/PCMA on a machine without it; only a call that
actually needs G.729 meets :class:`CodecUnavailableError`, whose message names the package.

bcg729's C interface (``bcg729/encoder.h``, ``bcg729/decoder.h``, version 1.1.1):

* ``initBcg729EncoderChannel(uint8 enableVAD) -> ctx``; ``closeBcg729EncoderChannel(ctx)``
* ``bcg729Encoder(ctx, const int16 in[80], uint8 bitStream[], uint8 *bitStreamLength)``
  (length 10 for voice, 2 for SID, 0 for an untransmitted frame when VAD is on)
* ``initBcg729DecoderChannel() -> ctx``; ``closeBcg729DecoderChannel(ctx)``
* ``bcg729Decoder(ctx, const uint8 bitStream[], uint8 bitStreamLength, uint8 frameErasureFlag,
  uint8 SIDFrameFlag, uint8 rfc3389PayloadFlag, int16 out[80])``
"""

from __future__ import annotations

import ctypes
import weakref
from typing import Final

from gateway.errors import GwemuError, RemoteProtocolError
from gateway.media.audio import SAMPLE_WIDTH

__all__ = [
    "G729_FRAME_BYTES",
    "G729_FRAME_SAMPLES",
    "G729_SID_BYTES",
    "LIBRARY_NAMES",
    "CodecUnavailableError",
    "G729Decoder",
    "G729Encoder",
    "g729_available",
]

G729_FRAME_SAMPLES: Final = 80  # 10 ms at 8 kHz
G729_FRAME_BYTES: Final = 10
G729_SID_BYTES: Final = 2  # Annex B comfort-noise frame
_PCM_CHUNK: Final = G729_FRAME_SAMPLES * SAMPLE_WIDTH

DEBIAN_PACKAGE: Final = "libbcg729-0"
LIBRARY_NAMES: Final = ("libbcg729.so.0", "libbcg729.so", "libbcg729.dylib")


class CodecUnavailableError(GwemuError):
    """A codec was asked for whose implementation is not installed on this machine."""


_Int16Frame = ctypes.c_int16 * G729_FRAME_SAMPLES
_BitStream = ctypes.c_uint8 * G729_FRAME_BYTES


class _Library:
    """The loaded shared object with argument types declared (so ctypes checks every call)."""

    __slots__ = ("close_decoder", "close_encoder", "decode", "encode", "new_decoder", "new_encoder")

    def __init__(self, cdll: ctypes.CDLL) -> None:
        self.new_encoder = cdll.initBcg729EncoderChannel
        self.new_encoder.argtypes = [ctypes.c_uint8]
        self.new_encoder.restype = ctypes.c_void_p
        self.close_encoder = cdll.closeBcg729EncoderChannel
        self.close_encoder.argtypes = [ctypes.c_void_p]
        self.close_encoder.restype = None
        self.encode = cdll.bcg729Encoder
        self.encode.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_int16),
            ctypes.POINTER(ctypes.c_uint8),
            ctypes.POINTER(ctypes.c_uint8),
        ]
        self.encode.restype = None
        self.new_decoder = cdll.initBcg729DecoderChannel
        self.new_decoder.argtypes = []
        self.new_decoder.restype = ctypes.c_void_p
        self.close_decoder = cdll.closeBcg729DecoderChannel
        self.close_decoder.argtypes = [ctypes.c_void_p]
        self.close_decoder.restype = None
        self.decode = cdll.bcg729Decoder
        self.decode.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_uint8),
            ctypes.c_uint8,
            ctypes.c_uint8,
            ctypes.c_uint8,
            ctypes.c_uint8,
            ctypes.POINTER(ctypes.c_int16),
        ]
        self.decode.restype = None


_library: _Library | None = None
_load_error: str | None = None


def _load() -> _Library:
    global _library, _load_error
    if _library is not None:
        return _library
    if _load_error is None:
        failures = []
        for name in LIBRARY_NAMES:
            try:
                _library = _Library(ctypes.CDLL(name))
                return _library
            except (OSError, AttributeError) as exc:
                failures.append(f"{name}: {exc}")
        _load_error = "; ".join(failures)
    raise CodecUnavailableError(
        f"G.729 needs the bcg729 library, which is not installed "
        f"(install the Debian package {DEBIAN_PACKAGE}: apt-get install {DEBIAN_PACKAGE}); "
        f"tried {_load_error}"
    )


def g729_available() -> bool:
    """True when bcg729 can be loaded (SDP offers leave G.729 out otherwise)."""
    try:
        _load()
    except CodecUnavailableError:
        return False
    return True


class G729Encoder:
    """One encoding channel (G.729 is stateful: one per stream direction)."""

    __slots__ = ("__weakref__", "_bits", "_context", "_length", "_lib", "vad")

    def __init__(self, *, vad: bool = False) -> None:
        self._lib = _load()
        self.vad = vad
        context = self._lib.new_encoder(1 if vad else 0)
        if not context:
            raise MemoryError("bcg729 could not allocate an encoder channel")
        self._context: int = context
        self._bits = _BitStream()
        self._length = ctypes.c_uint8()
        weakref.finalize(self, self._lib.close_encoder, context)

    def encode(self, pcm: bytes) -> bytes:
        """Encode a whole number of 10 ms blocks (160 bytes of PCM each) into G.729 frames."""
        if len(pcm) % _PCM_CHUNK:
            raise ValueError(f"G.729 encodes 10 ms blocks of {_PCM_CHUNK} bytes, got {len(pcm)}")
        lib_encode = self._lib.encode
        bits, length, context = self._bits, self._length, self._context
        out = []
        for start in range(0, len(pcm), _PCM_CHUNK):
            samples = _Int16Frame.from_buffer_copy(pcm, start)
            lib_encode(context, samples, bits, ctypes.byref(length))
            out.append(bytes(bits)[: length.value])
        return b"".join(out)


class G729Decoder:
    """One decoding channel; ``conceal`` runs the codec's own frame-erasure concealment."""

    __slots__ = ("__weakref__", "_context", "_lib", "_out")

    def __init__(self) -> None:
        self._lib = _load()
        context = self._lib.new_decoder()
        if not context:
            raise MemoryError("bcg729 could not allocate a decoder channel")
        self._context: int = context
        self._out = _Int16Frame()
        weakref.finalize(self, self._lib.close_decoder, context)

    def decode(self, payload: bytes) -> bytes:
        """Decode an RTP payload: N voice frames of 10 bytes, optionally ending in a 2-byte SID.

        A length that fits neither shape is the peer's fault: :class:`RemoteProtocolError`
        (no SIP status: a bad media packet is dropped, never answered).
        """
        voice, remainder = divmod(len(payload), G729_FRAME_BYTES)
        if remainder not in (0, G729_SID_BYTES) or not payload:
            raise RemoteProtocolError(
                f"G.729 payload of {len(payload)} bytes is not 10-byte frames "
                "plus an optional 2-byte SID frame",
                status_hint=None,
            )
        pcm = []
        for index in range(voice):
            frame = payload[index * G729_FRAME_BYTES : (index + 1) * G729_FRAME_BYTES]
            pcm.append(self._run(frame, erased=False, sid=False))
        if remainder:
            pcm.append(self._run(payload[-G729_SID_BYTES:], erased=False, sid=True))
        return b"".join(pcm)

    def conceal(self, frames: int = 2) -> bytes:
        """Synthesize ``frames`` lost 10 ms frames (G.729 section 4.4 frame erasure)."""
        return b"".join(self._run(b"", erased=True, sid=False) for _ in range(frames))

    def _run(self, frame: bytes, *, erased: bool, sid: bool) -> bytes:
        bits = _BitStream.from_buffer_copy(frame.ljust(G729_FRAME_BYTES, b"\x00"))
        self._lib.decode(
            self._context, bits, len(frame), 1 if erased else 0, 1 if sid else 0, 0, self._out
        )
        return bytes(self._out)
