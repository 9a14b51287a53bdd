"""G.711 mu-law (PCMU) and A-law (PCMA): encode, decode, and direct mu <-> A transcoding.

Encoding and decoding are one C call per frame: gwemu's own ``_g711`` extension (table look-ups
built from the G.711 segment formulas for 14-bit mu-law and 13-bit A-law uniform input, the 16-bit
frames being truncated to that precision first; byte-for-byte what ``audioop`` produces), bound
here as the public functions themselves so that a frame costs no Python call.  Where the extension
was not built (no C compiler at install time: it is optional), the same functions are ``audioop``
behind a thin wrapper, about 15 % slower per frame.  ``ACCELERATED`` says which is in use.

Transcoding between the laws does not go through linear PCM.  G.711 Tables 3 and 4 map each code of
one law to a code of the other, and a 256-entry ``bytes.translate`` table applies that mapping at C
speed.  The tables are derived here from the rule behind G.711's: each code goes to the code of
the other law whose decoded level is nearest, the two scales being tied by their overload points
(mu-law 8159 units = +3.17 dBm0, A-law 4096 units = +3.14 dBm0, G.711 Tables 1 and 2).  Tying the
scales by level rather than by a plain factor of two is what makes e.g. mu-law segment 3's first
code land on A-law code 46 as the Recommendation's Table 3 says.  A decode/re-encode round trip
through ``audioop`` disagrees with Tables 3/4 on 44 mu-law and 32 A-law codes (it even turns mu-law
-0 into A-law +1: -0 decodes to a plain 0, which A-law, having no zero, encodes as positive).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from gateway.media.audio import SAMPLE_WIDTH, audioop

__all__ = [
    "ACCELERATED",
    "ALAW_SILENCE",
    "ALAW_TO_ULAW",
    "ULAW_SILENCE",
    "ULAW_TO_ALAW",
    "alaw_decode",
    "alaw_encode",
    "alaw_to_ulaw",
    "ulaw_decode",
    "ulaw_encode",
    "ulaw_to_alaw",
]

# The code each law sends for a (near) zero input: what silence looks like on the wire.
ULAW_SILENCE: Final = 0xFF
ALAW_SILENCE: Final = 0xD5

# G.711: the mu-law magnitude bits (segment, step) are sent complemented, A-law inverts the even
# bits (XOR 0x55); the sign bit is 1 for positive values in both laws.
_ULAW_INVERT: Final = 0xFF
_ALAW_INVERT: Final = 0x55


def _ulaw_magnitude(code: int) -> int:
    """Decoded magnitude of a 7-bit mu-law (segment, step) code, 14-bit scale (max 8031)."""
    segment, step = code >> 4, code & 0x0F
    return ((2 * step + 33) << segment) - 33


def _alaw_magnitude(code: int) -> int:
    """Decoded magnitude of a 7-bit A-law (segment, step) code, 13-bit scale (max 4032)."""
    segment, step = code >> 4, code & 0x0F
    if segment == 0:
        return 2 * step + 1
    return (2 * step + 33) << (segment - 1)


# One A-law unit expressed in mu-law units: 8159 mu-law units sit at +3.17 dBm0 and 4096 A-law
# units at +3.14 dBm0 (the two overload points), so equal levels relate by this factor (~1.985).
_A_TO_MU_SCALE: Final = (8159 / 4096) * 10 ** ((3.14 - 3.17) / 20)


def _nearest(value: float, candidates: list[float]) -> int:
    return min(range(len(candidates)), key=lambda index: abs(candidates[index] - value))


def _build_transcoding_tables() -> tuple[bytes, bytes]:
    mu_levels = [float(_ulaw_magnitude(code)) for code in range(128)]
    a_levels = [_alaw_magnitude(code) * _A_TO_MU_SCALE for code in range(128)]
    mu_to_a = [_nearest(level, a_levels) for level in mu_levels]
    a_to_mu = [_nearest(level, mu_levels) for level in a_levels]
    ulaw_to_alaw = bytearray(256)
    alaw_to_ulaw = bytearray(256)
    for byte in range(256):
        # Bit 7 of the transmitted byte is the sign (1 = positive) in both laws; only the
        # magnitude bits are inverted differently.
        sign = byte & 0x80
        mu_code = (byte ^ _ULAW_INVERT) & 0x7F
        ulaw_to_alaw[byte] = sign | (mu_to_a[mu_code] ^ _ALAW_INVERT)
        a_code = (byte ^ _ALAW_INVERT) & 0x7F
        alaw_to_ulaw[byte] = sign | (a_to_mu[a_code] ^ (_ULAW_INVERT & 0x7F))
    return bytes(ulaw_to_alaw), bytes(alaw_to_ulaw)


ULAW_TO_ALAW, ALAW_TO_ULAW = _build_transcoding_tables()

_lin2ulaw = audioop.lin2ulaw
_ulaw2lin = audioop.ulaw2lin
_lin2alaw = audioop.lin2alaw
_alaw2lin = audioop.alaw2lin


def _audioop_ulaw_encode(pcm: bytes) -> bytes:
    """Linear PCM (16-bit LE) to mu-law, one byte per sample."""
    return _lin2ulaw(pcm, SAMPLE_WIDTH)


def _audioop_ulaw_decode(payload: bytes) -> bytes:
    """mu-law to linear PCM (16-bit LE)."""
    return _ulaw2lin(payload, SAMPLE_WIDTH)


def _audioop_alaw_encode(pcm: bytes) -> bytes:
    """Linear PCM (16-bit LE) to A-law, one byte per sample."""
    return _lin2alaw(pcm, SAMPLE_WIDTH)


def _audioop_alaw_decode(payload: bytes) -> bytes:
    """A-law to linear PCM (16-bit LE)."""
    return _alaw2lin(payload, SAMPLE_WIDTH)


ulaw_encode: Callable[[bytes], bytes]
ulaw_decode: Callable[[bytes], bytes]
alaw_encode: Callable[[bytes], bytes]
alaw_decode: Callable[[bytes], bytes]
ACCELERATED: bool
try:
    from gateway.media._g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
except ImportError:  # built without a C compiler: the extension is optional
    ulaw_encode, ulaw_decode = _audioop_ulaw_encode, _audioop_ulaw_decode
    alaw_encode, alaw_decode = _audioop_alaw_encode, _audioop_alaw_decode
    ACCELERATED = False
else:
    ACCELERATED = True

# The audioop path, whichever is in use (tests hold the two to the same output).
AUDIOOP_FUNCTIONS: Final = (
    _audioop_ulaw_encode,
    _audioop_ulaw_decode,
    _audioop_alaw_encode,
    _audioop_alaw_decode,
)


# The table is a default argument so that the per-frame call does no global lookup.
def ulaw_to_alaw(payload: bytes, _table: bytes = ULAW_TO_ALAW) -> bytes:
    """mu-law to A-law by G.711 Table 3, without a trip through linear PCM."""
    return payload.translate(_table)


def alaw_to_ulaw(payload: bytes, _table: bytes = ALAW_TO_ULAW) -> bytes:
    """A-law to mu-law by G.711 Table 4, without a trip through linear PCM."""
    return payload.translate(_table)
