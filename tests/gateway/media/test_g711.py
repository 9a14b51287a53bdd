"""G.711 against a reference written here from the Recommendation's segment formulas."""

from __future__ import annotations

import os
import struct
import timeit
from collections.abc import Callable
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.media import g711
from gateway.media.audio import FRAME_BYTES, audioop

# --- reference, from G.711 Tables 1 and 2 -------------------------------------------------------
# mu-law: 8 segments of 16 steps; segment s starts at 2**(s+5) - 33 (0 for s = 0) on the 14-bit
# scale and its steps are 2**(s+1) wide; the output is the middle of the step.
# A-law: segment 0 is [0, 32) in steps of 2, segment s >= 1 is [16 << s, 32 << s) in steps of
# 2**s on the 13-bit scale; output in the middle.


def mu_interval(code: int) -> tuple[int, int]:
    segment, step = code >> 4, code & 15
    low = (2 ** (segment + 5) - 33) + step * 2 ** (segment + 1)
    return max(0, low), low + 2 ** (segment + 1)


def a_interval(code: int) -> tuple[int, int]:
    segment, step = code >> 4, code & 15
    if segment == 0:
        return 2 * step, 2 * step + 2
    return (16 << segment) + step * 2**segment, (16 << segment) + (step + 1) * 2**segment


def mu_output(code: int) -> int:
    segment, step = code >> 4, code & 15
    low = (2 ** (segment + 5) - 33) + step * 2 ** (segment + 1)
    return low + 2**segment  # middle of the step (code 0: 0, the mid-tread zero)


def a_output(code: int) -> int:
    low, high = a_interval(code)
    return (low + high) // 2


def mu_byte(negative: bool, code: int) -> int:
    # mu-law sends the complement: sign bit 1 = positive, magnitude bits inverted.
    return (0x7F if negative else 0xFF) ^ code


def a_byte(negative: bool, code: int) -> int:
    # A-law inverts the even bits; sign bit 1 = positive.
    return (0x55 if negative else 0xD5) ^ code


def acceptable_codes(interval, top: int) -> list[frozenset[int]]:
    """For every magnitude 0..top: the codes whose decision interval holds it; both neighbours
    when it sits exactly on a decision value (the Recommendation leaves ties open)."""
    table = []
    for magnitude in range(top + 1):
        codes = set()
        for code in range(128):
            low, high = interval(code)
            if low <= magnitude < high or (code == 127 and magnitude >= low):
                codes.add(code)
            if magnitude == low and code > 0:
                codes.add(code - 1)
        table.append(frozenset(codes))
    return table


# --- the two implementations: gwemu's C extension and audioop behind a wrapper ------------------


class Law(NamedTuple):
    ulaw_encode: Callable[[bytes], bytes]
    ulaw_decode: Callable[[bytes], bytes]
    alaw_encode: Callable[[bytes], bytes]
    alaw_decode: Callable[[bytes], bytes]


AUDIOOP = Law(*g711.AUDIOOP_FUNCTIONS)
IN_USE = Law(g711.ulaw_encode, g711.ulaw_decode, g711.alaw_encode, g711.alaw_decode)


def extension() -> Law:
    """The C extension's functions; outside CI a machine without a compiler skips (and says so),
    in CI (where the test command builds it) its absence fails."""
    try:
        from gateway.media import _g711
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("gateway.media._g711 was not built (pip install -e . needs a C compiler)")
        pytest.skip("gateway.media._g711 not built here (no C compiler at install time)")
    return Law(_g711.ulaw_encode, _g711.ulaw_decode, _g711.alaw_encode, _g711.alaw_decode)


@pytest.fixture(params=["extension", "audioop"])
def law(request: pytest.FixtureRequest) -> Law:
    return extension() if request.param == "extension" else AUDIOOP


def test_the_extension_is_what_gwemu_uses() -> None:
    built = extension()
    assert g711.ACCELERATED
    assert built == IN_USE  # the C functions themselves, no wrapper around them


def test_extension_and_audioop_agree_on_every_input() -> None:
    built = extension()
    codes = bytes(range(256))
    assert built.ulaw_decode(codes) == AUDIOOP.ulaw_decode(codes)
    assert built.alaw_decode(codes) == AUDIOOP.alaw_decode(codes)
    assert built.ulaw_encode(ALL_PCM) == AUDIOOP.ulaw_encode(ALL_PCM)
    assert built.alaw_encode(ALL_PCM) == AUDIOOP.alaw_encode(ALL_PCM)


def test_extension_takes_any_bytes_like_and_refuses_the_rest() -> None:
    built = extension()
    pcm = struct.pack("<3h", 1000, -1000, 0)
    for form in (bytearray(pcm), memoryview(pcm), memoryview(b"xx" + pcm)[2:]):
        assert built.ulaw_encode(form) == built.ulaw_encode(pcm)
        assert built.alaw_decode(form) == built.alaw_decode(pcm)
    assert built.ulaw_decode(b"") == b"" and built.alaw_encode(b"") == b""
    for encode in (built.ulaw_encode, built.alaw_encode):
        with pytest.raises(ValueError, match="5 bytes of 16-bit PCM is not a whole number"):
            encode(b"12345")
    for function in IN_USE:
        with pytest.raises(TypeError):
            function("not bytes")  # type: ignore[arg-type]


# --- decoding: every code --------------------------------------------------------------------


def test_ulaw_decode_all_256_codes(law: Law) -> None:
    decoded = struct.unpack("<256h", law.ulaw_decode(bytes(range(256))))
    for byte, value in enumerate(decoded):
        negative = byte < 0x80
        code = byte ^ (0x7F if negative else 0xFF)
        expected = mu_output(code) * 4  # 14-bit scale to 16-bit
        assert value == (-expected if negative else expected), hex(byte)


def test_alaw_decode_all_256_codes(law: Law) -> None:
    decoded = struct.unpack("<256h", law.alaw_decode(bytes(range(256))))
    for byte, value in enumerate(decoded):
        negative = byte < 0x80
        code = byte ^ (0x55 if negative else 0xD5)
        expected = a_output(code) * 8  # 13-bit scale to 16-bit
        assert value == (-expected if negative else expected), hex(byte)


def test_extremes_and_silence_codes(law: Law) -> None:
    assert law.ulaw_decode(bytes([0x80, 0x00])) == struct.pack("<2h", 32124, -32124)
    assert law.alaw_decode(bytes([0xAA, 0x2A])) == struct.pack("<2h", 32256, -32256)
    assert law.ulaw_encode(bytes(2)) == bytes([g711.ULAW_SILENCE])
    assert law.alaw_encode(bytes(2)) == bytes([g711.ALAW_SILENCE])


# --- encoding: every 16-bit value ----------------------------------------------------------------

ALL_VALUES = list(range(-32768, 32768))
ALL_PCM = struct.pack(f"<{len(ALL_VALUES)}h", *ALL_VALUES)


LAWS = {
    # encoder, bits dropped to reach the law's uniform input, intervals, top magnitude, bytes
    "ulaw": ("ulaw_encode", 2, mu_interval, 8158, mu_byte),
    "alaw": ("alaw_encode", 3, a_interval, 4095, a_byte),
}


@pytest.mark.parametrize("name", sorted(LAWS))
def test_encode_sweep_of_all_16_bit_values(law: Law, name: str) -> None:
    # G.711 quantises 14-bit (mu) / 13-bit (A) uniform PCM: the 16-bit input first loses its low
    # bits (two's complement truncation), then each magnitude falls in one decision interval.
    encoder, shift, interval, top, to_byte = LAWS[name]
    encoded = getattr(law, encoder)(ALL_PCM)
    by_magnitude = acceptable_codes(interval, top)
    allowed = {
        (negative, magnitude): {to_byte(negative, code) for code in codes}
        for magnitude, codes in enumerate(by_magnitude)
        for negative in (False, True)
    }
    wrong = []
    ties = 0
    for value, byte in zip(ALL_VALUES, encoded, strict=True):
        uniform = value >> shift
        key = (uniform < 0, min(abs(uniform), top))
        if len(allowed[key]) > 1:
            ties += 1
        if byte not in allowed[key]:
            wrong.append(value)
    assert wrong == [], f"{len(wrong)} values encoded outside their G.711 interval: {wrong[:5]}"
    assert ties < len(ALL_VALUES) // 8  # ties are only the values sitting on decision levels


# --- direct transcoding (G.711 Tables 3 and 4) ---------------------------------------------------
# Entries of the Recommendation's tables, as (code number -> code number) in its numbering:
# mu-law magnitudes 0..127, A-law magnitudes 1..128.  Chosen where the table differs from a naive
# "double the A-law value" rule: low-level merges and the first codes of segments.
TABLE_3_MU_TO_A = {
    0: 1, 1: 1, 2: 2, 3: 2, 15: 8, 16: 9, 31: 24, 32: 25, 33: 27, 34: 29, 35: 31, 36: 33,
    47: 44, 48: 46, 49: 48, 50: 49, 63: 62, 64: 64, 65: 65, 79: 79, 80: 80, 81: 82, 127: 128,
}  # fmt: skip
TABLE_4_A_TO_MU = {
    1: 1, 2: 3, 8: 15, 9: 16, 24: 31, 25: 32, 26: 32, 27: 33, 28: 33, 44: 47, 45: 48, 46: 48,
    47: 49, 48: 49, 63: 64, 64: 64, 72: 72, 80: 80, 81: 80, 96: 95, 128: 127,
}  # fmt: skip


@pytest.mark.parametrize("negative", [False, True])
def test_mu_to_a_follows_table_3(negative: bool) -> None:
    for mu_code, a_number in TABLE_3_MU_TO_A.items():
        byte = mu_byte(negative, mu_code)
        assert g711.ulaw_to_alaw(bytes([byte]))[0] == a_byte(negative, a_number - 1), mu_code


@pytest.mark.parametrize("negative", [False, True])
def test_a_to_mu_follows_table_4(negative: bool) -> None:
    for a_number, mu_code in TABLE_4_A_TO_MU.items():
        byte = a_byte(negative, a_number - 1)
        assert g711.alaw_to_ulaw(bytes([byte]))[0] == mu_byte(negative, mu_code), a_number


def level_nearest_tables() -> tuple[list[int], list[int]]:
    """Every entry, rebuilt from the tables' principle: the code of the other law whose decoded
    value is nearest once both are put on the same dBm0 scale (mu-law 8159 units = +3.17 dBm0,
    A-law 4096 units = +3.14 dBm0)."""
    # Amplitude relative to a 0 dBm0 peak: (value / overload value) * overload amplitude.
    mu_dbm0 = [mu_output(code) / 8159 * 10 ** (3.17 / 20) for code in range(128)]
    a_dbm0 = [a_output(code) / 4096 * 10 ** (3.14 / 20) for code in range(128)]
    mu_to_a = [min(range(128), key=lambda a, v=v: abs(a_dbm0[a] - v)) for v in mu_dbm0]
    a_to_mu = [min(range(128), key=lambda m, v=v: abs(mu_dbm0[m] - v)) for v in a_dbm0]
    return mu_to_a, a_to_mu


def test_transcoding_tables_entirely() -> None:
    mu_to_a, a_to_mu = level_nearest_tables()
    for negative in (False, True):
        for code in range(128):
            assert g711.ULAW_TO_ALAW[mu_byte(negative, code)] == a_byte(negative, mu_to_a[code])
            assert g711.ALAW_TO_ULAW[a_byte(negative, code)] == mu_byte(negative, a_to_mu[code])


def test_transcoding_keeps_sign_and_is_monotonic() -> None:
    for table, decode_source, decode_target in (
        (g711.ULAW_TO_ALAW, g711.ulaw_decode, g711.alaw_decode),
        (g711.ALAW_TO_ULAW, g711.alaw_decode, g711.ulaw_decode),
    ):
        source = struct.unpack("<256h", decode_source(bytes(range(256))))
        target = struct.unpack("<256h", decode_target(table))
        order = sorted(range(256), key=lambda b: (source[b], b))
        mapped = [target[b] for b in order]
        assert mapped == sorted(mapped)
        for byte in range(256):
            assert (byte >= 0x80) == (table[byte] >= 0x80)  # the sign bit survives, even for -0


def test_direct_transcoding_differs_from_a_linear_round_trip() -> None:
    codes = bytes(range(256))
    via_linear = g711.alaw_encode(g711.ulaw_decode(codes))
    assert g711.ulaw_to_alaw(codes) != via_linear
    assert g711.ulaw_to_alaw(b"\x7f") == b"\x55"  # mu-law -0 stays negative
    assert via_linear[0x7F] == 0xD5  # ...where the round trip flips it


@given(st.binary(max_size=400))
@settings(max_examples=200)
def test_transcoding_any_bytes(payload: bytes) -> None:
    assert len(g711.ulaw_to_alaw(payload)) == len(payload)
    assert g711.alaw_to_ulaw(g711.ulaw_to_alaw(payload)) == payload.translate(
        bytes(g711.ALAW_TO_ULAW[g711.ULAW_TO_ALAW[b]] for b in range(256))
    )
    assert len(g711.ulaw_decode(payload)) == 2 * len(payload)


def test_frame_sizes() -> None:
    frame = bytes(FRAME_BYTES)
    assert len(g711.ulaw_encode(frame)) == 160
    assert len(g711.alaw_decode(g711.alaw_encode(frame))) == FRAME_BYTES


def test_direct_transcoding_is_much_faster_than_a_linear_round_trip() -> None:
    payload = g711.ulaw_encode(struct.pack("<160h", *range(-8000, 8000, 100)))
    direct = min(timeit.repeat(lambda: g711.ulaw_to_alaw(payload), number=2000, repeat=3))
    linear = min(
        timeit.repeat(
            lambda: audioop.lin2alaw(audioop.ulaw2lin(payload, 2), 2), number=2000, repeat=3
        )
    )
    assert direct < linear
