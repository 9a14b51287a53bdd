"""TPKT framing (RFC 1006 s6): any chunking gives the same packets; garbage kills the stream."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError
from pbx_sim.q931 import Q931Error, TpktDecoder, tpkt_frame

PAYLOADS = [bytes.fromhex("0802000105"), b"\x08\x02\x80\x01\x02", b"", b"x" * 300]
STREAM = b"".join(tpkt_frame(p) for p in PAYLOADS)
PACKETS = [tpkt_frame(p) for p in PAYLOADS]


def test_frame_layout() -> None:
    assert tpkt_frame(b"\x08\x02\x00\x01\x05") == bytes.fromhex("030000090802000105")
    assert tpkt_frame(b"") == bytes.fromhex("03000004")
    with pytest.raises(LocalProtocolError):
        tpkt_frame(b"x" * 65532)


def test_whole_stream() -> None:
    decoder = TpktDecoder()
    assert decoder.feed(STREAM) == PACKETS
    assert decoder.buffered == 0 and decoder.failure is None


def test_one_byte_at_a_time() -> None:
    decoder = TpktDecoder()
    packets = [p for octet in STREAM for p in decoder.feed(bytes((octet,)))]
    assert packets == PACKETS


@pytest.mark.parametrize("seed", range(5))
def test_random_chunks(seed: int) -> None:
    rng = random.Random(seed)
    decoder = TpktDecoder()
    packets, index = [], 0
    while index < len(STREAM):
        size = rng.randint(0, 40)
        packets += decoder.feed(STREAM[index : index + size])
        index += size
    assert packets == PACKETS


def test_truncated_stream_keeps_the_tail_buffered() -> None:
    decoder = TpktDecoder()
    assert decoder.feed(STREAM[:-10]) == PACKETS[:-1]
    assert decoder.buffered == len(PACKETS[-1]) - 10
    assert decoder.feed(STREAM[-10:]) == PACKETS[-1:]


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (b"\x02\x00\x00\x09", "version 2"),
        (b"GET / HTTP/1.1\r\n", "version 71"),
        (b"\x03\x01\x00\x09", "reserved octet"),
        (b"\x03\x00\x00\x03", "shorter than its own header"),
        (b"\x03\x00\x10\x00", "exceeds the limit"),
    ],
)
def test_garbage_fails_for_good_after_the_good_packets(garbage: bytes, reason: str) -> None:
    decoder = TpktDecoder()
    assert decoder.feed(PACKETS[0] + garbage + PACKETS[1]) == PACKETS[:1]
    assert decoder.failure is not None
    assert reason in decoder.failure.reason
    assert decoder.failure.cause == 95
    assert decoder.feed(PACKETS[1]) == []  # nothing more comes out of a broken stream


def test_max_length_is_configurable() -> None:
    decoder = TpktDecoder(max_length=8)
    assert decoder.feed(tpkt_frame(b"1234")) == [tpkt_frame(b"1234")]
    decoder.feed(tpkt_frame(b"12345"))
    assert decoder.failure is not None
    with pytest.raises(LocalProtocolError):
        TpktDecoder(max_length=4)
    with pytest.raises(LocalProtocolError):
        TpktDecoder(max_length=70000)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=1, max_value=17))
def test_arbitrary_bytes_never_raise(data: bytes, chunk: int) -> None:
    decoder = TpktDecoder()
    out = []
    for index in range(0, len(data), chunk):
        out += decoder.feed(data[index : index + chunk])
    for packet in out:
        assert packet[0] == 3 and packet[1] == 0
        assert int.from_bytes(packet[2:4], "big") == len(packet)
    assert decoder.failure is None or isinstance(decoder.failure, Q931Error)
    consumed = sum(len(p) for p in out)
    if decoder.failure is None:
        assert consumed + decoder.buffered == len(data)
        assert b"".join(out) == data[:consumed]
