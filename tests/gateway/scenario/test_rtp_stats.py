"""RTP streams from the trace: packets, loss, jitter (RFC 3550 A.8), codec, RFC 4733 digits."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest

from gateway.scenario.ladder import extract_ladder
from gateway.scenario.rtp_stats import rtp_streams
from gateway.trace import TraceEvent

A = ("127.0.0.1", 41000)
B = ("127.0.0.1", 42000)


def packet(seq: int, stamp: int, payload_type: int = 0, payload: bytes = b"\xff" * 160) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, seq & 0xFFFF, stamp, 0xABC) + payload


def sent_and_received(arrivals: list[tuple[int, int, float]]) -> list[TraceEvent]:
    events = []
    for seq, stamp, arrival in arrivals:
        raw = packet(seq, stamp)
        events.append(TraceEvent(stamp / 8000, "X", "rtp", "out", "", raw, A, B, "udp"))
        events.append(TraceEvent(arrival, "Y", "rtp", "in", "", raw, B, A, "udp"))
    return events


def test_a_clean_stream() -> None:
    streams = rtp_streams(sent_and_received([(i, 160 * i, 0.02 * i + 0.001)
                                             for i in range(100)]))
    (stream,) = streams
    assert (stream.source, stream.target, stream.codec) == ("X", "Y", "PCMU")
    assert stream.sent == stream.received == 100 and stream.lost == 0
    assert stream.jitter == pytest.approx(0.0, abs=1e-9)
    assert stream.loss_percent == 0.0


def test_loss_counts_gaps_across_the_sequence_wrap() -> None:
    arrivals = [(65530 + i, 160 * i, 0.02 * i) for i in range(12) if i not in (3, 8)]
    (stream,) = rtp_streams(sent_and_received(arrivals))
    assert stream.received == 10 and stream.lost == 2
    assert stream.loss_percent == pytest.approx(100 * 2 / 12)


def test_jitter_follows_rfc3550_a8() -> None:
    # Every other packet is 10 ms late: |D| alternates 10 ms; J converges towards 10 ms.
    arrivals = [(i, 160 * i, 0.02 * i + (0.010 if i % 2 else 0.0)) for i in range(400)]
    (stream,) = rtp_streams(sent_and_received(arrivals))
    expected = 0.0
    for _ in range(399):
        expected += (0.010 - expected) / 16
    assert stream.jitter == pytest.approx(expected, rel=1e-6)


def test_duplicates_and_reordering() -> None:
    arrivals = [(0, 0, 0.0), (2, 320, 0.04), (1, 160, 0.041), (2, 320, 0.05), (3, 480, 0.06)]
    (stream,) = rtp_streams(sent_and_received(arrivals))
    assert stream.received == 4 and stream.lost == 0


def test_codec_from_sdp_and_rfc4733_digits(flow: Callable[..., Any]) -> None:
    tracer = flow(rtp_packets=20, lost=frozenset({5, 6}))
    # Add two RFC 4733 digits (PT 101, negotiated in the SDP) from GW-A, end bit repeated.
    for digit, stamp in ((1, 9000), (11, 9800)):
        for end in (0, 0x80, 0x80, 0x80):
            raw = struct.pack("!BBHII", 0x80, 101, 5000 + stamp + end, stamp, 0x1111) + bytes(
                (digit, end | 10, 0, 160))
            tracer.send("rtp", "GW-A", "GW-B", raw)
    arrows, _ = extract_ladder(tracer.events)
    streams = {(s.source, s.target): s for s in rtp_streams(tracer.events, arrows)}
    forward = streams[("GW-A", "GW-B")]
    assert forward.codec == "PCMU" and forward.events == "1#"
    assert forward.sent == 28 and forward.payload_types == (0, 101)
    back = streams[("GW-B", "GW-A")]
    assert back.sent == back.received == 20 and back.lost == 0


def test_garbage_is_not_a_stream() -> None:
    events = [TraceEvent(0.0, "X", "rtp", "out", "", b"\x00\x01", A, B, "udp"),
              TraceEvent(0.0, "X", "rtp", "out", "", b"\x80\xc8" + bytes(30), A, B, "udp")]
    assert rtp_streams(events) == []
