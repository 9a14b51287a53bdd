"""RFC 4733 telephone-events: payload values, the sender's packet sequence, the receiver's
deduplication and end detection, and the DTMF captures that SIPp ships."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.media.dtmf_events import (
    FLASH,
    MAX_DURATION,
    EventPacket,
    TelephoneEvent,
    TelephoneEventEnded,
    TelephoneEventReceiver,
    TelephoneEventSender,
    TelephoneEventStarted,
    digit_to_event,
    event_to_digit,
    packets_for_digit,
)
from gateway.trace import TraceRecorder

# --- the payload value ---------------------------------------------------------------------------


def test_known_answer_payload() -> None:
    # Digit 5, E bit, volume 10, duration 800 (RFC 4733 section 2.3 layout).
    event = TelephoneEvent.parse(bytes([0x05, 0x8A, 0x03, 0x20]))
    assert event == TelephoneEvent(5, True, 10, 800)
    assert event.digit == "5"
    assert bytes(TelephoneEvent(11, False, 63, 0xFFFF)) == b"\x0b\x3f\xff\xff"


@given(
    st.builds(
        TelephoneEvent,
        st.integers(0, 255),
        st.booleans(),
        st.integers(0, 63),
        st.integers(0, 0xFFFF),
        st.booleans(),
    )
)
def test_value_round_trip(event: TelephoneEvent) -> None:
    assert TelephoneEvent.parse(bytes(event)) == event


@given(st.binary(min_size=4, max_size=4))
def test_any_four_bytes_round_trip_byte_for_byte(data: bytes) -> None:
    assert bytes(TelephoneEvent.parse(data)) == data


@given(st.binary(max_size=24))
def test_payload_parse_raises_only_the_protocol_error(data: bytes) -> None:
    try:
        blocks = TelephoneEvent.parse_payload(data)
    except RemoteProtocolError as exc:
        assert exc.status_hint is None
        assert len(data) % 4 or not data
    else:
        assert b"".join(bytes(block) for block in blocks) == data


@pytest.mark.parametrize("size", [0, 1, 3, 5, 7])
def test_truncated_payloads_are_refused(size: int) -> None:
    with pytest.raises(RemoteProtocolError, match="4-byte"):
        TelephoneEvent.parse_payload(bytes(size))


def test_values_out_of_range_are_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        TelephoneEvent(5, False, 64, 0)
    with pytest.raises(LocalProtocolError):
        TelephoneEvent(5, False, 10, 0x10000)


def test_digit_mapping() -> None:
    assert [digit_to_event(d) for d in "0123456789*#ABCD"] == list(range(16))
    assert digit_to_event("b") == 13
    assert event_to_digit(11) == "#"
    assert event_to_digit(FLASH) == "!"
    assert event_to_digit(40) is None
    assert digit_to_event("!", flash=True) == FLASH
    with pytest.raises(LocalProtocolError, match="flash"):
        digit_to_event("!", flash=False)
    with pytest.raises(LocalProtocolError):
        digit_to_event("E")


# --- the sender ----------------------------------------------------------------------------------


def flat(ticks: list[list[EventPacket]]) -> list[EventPacket]:
    return [packet for tick in ticks for packet in tick]


def test_sender_sequence_for_a_100ms_digit() -> None:
    ticks = packets_for_digit("7", 800, 123456)
    assert [len(t) for t in ticks] == [1] * 7  # one packet per 20 ms interval
    packets = flat(ticks)
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert {p.timestamp for p in packets} == {123456}
    assert [p.event.duration for p in packets] == [160, 320, 480, 640, 800, 800, 800]
    assert [p.event.end for p in packets] == [False] * 4 + [True] * 3
    assert {p.event.event for p in packets} == {7}
    assert {p.event.volume for p in packets} == {10}
    assert packets[-1].payload == bytes([7, 0x80 | 10]) + struct.pack("!H", 800)


def test_sender_duration_not_a_multiple_of_the_interval() -> None:
    packets = flat(packets_for_digit("1", 500, 0, interval=160))
    assert [p.event.duration for p in packets] == [160, 320, 480, 500, 500, 500]


def test_sender_short_event_first_packet_is_also_the_end() -> None:
    packets = flat(packets_for_digit("1", 100, 0))
    assert [(p.marker, p.event.end, p.event.duration) for p in packets] == [
        (True, True, 100),
        (False, True, 100),
        (False, True, 100),
    ]


def test_sender_with_stop_and_wider_interval() -> None:
    sender = TelephoneEventSender(interval=400, volume=7)
    sender.start("#", 99)
    assert sender.busy
    first = sender.tick() + sender.tick()
    sender.stop()
    rest = []
    while sender.busy:
        rest.extend(sender.tick())
    assert [p.event.duration for p in first] == [400, 800]
    assert [(p.event.duration, p.event.end) for p in rest] == [(1200, True)] * 3
    assert {p.event.volume for p in first + rest} == {7}
    assert sender.tick() == []


def test_long_event_is_split_into_segments() -> None:
    start = 2**32 - 1000  # the second segment's timestamp wraps around
    ticks = packets_for_digit("9", 70000, start)
    packets = flat(ticks)
    first_segment = [p for p in packets if p.timestamp == start]
    second_segment = [p for p in packets if p.timestamp == (start + MAX_DURATION) % 2**32]
    assert len(first_segment) + len(second_segment) == len(packets)
    # The first segment ends at 0xFFFF without the E bit, three times (RFC 4733 2.5.1.3/2.5.1.4).
    closing = [p for p in first_segment if p.event.duration == MAX_DURATION]
    assert len(closing) == 3 and not any(p.event.end for p in first_segment)
    assert max(p.event.duration for p in first_segment) == MAX_DURATION
    # The second carries the rest, no marker, and ends normally.
    assert not any(p.marker for p in second_segment)
    assert [p.event.duration for p in second_segment if p.event.end] == [70000 - MAX_DURATION] * 3
    assert packets[0].marker and sum(p.marker for p in packets) == 1
    # Segment durations never decrease within a segment.
    durations = [p.event.duration for p in second_segment]
    assert durations == sorted(durations)


def test_flash_only_when_configured() -> None:
    with pytest.raises(LocalProtocolError):
        TelephoneEventSender().start("!", 0)
    with pytest.raises(LocalProtocolError, match="flash"):
        TelephoneEventSender().start(FLASH, 0)
    packets = flat(packets_for_digit("!", 480, 0, flash=True))
    assert {p.event.event for p in packets} == {FLASH}


def test_sender_misuse() -> None:
    sender = TelephoneEventSender()
    with pytest.raises(LocalProtocolError):
        sender.stop()
    sender.start("1", 0)
    with pytest.raises(LocalProtocolError, match="still"):
        sender.start("2", 0)
    with pytest.raises(LocalProtocolError):
        TelephoneEventSender(interval=0)
    with pytest.raises(LocalProtocolError):
        TelephoneEventSender().start("1", 0, duration=0)


# --- the receiver --------------------------------------------------------------------------------


def drain(receiver: TelephoneEventReceiver) -> list[TelephoneEventStarted | TelephoneEventEnded]:
    events = []
    while (event := receiver.next_event()) is not None:
        events.append(event)
    return events


def feed(receiver: TelephoneEventReceiver, packets: list[EventPacket], t0: float = 0.0) -> None:
    for index, packet in enumerate(packets):
        receiver.receive(packet.payload, packet.timestamp, t0 + index * 0.02, marker=packet.marker)


def test_receiver_reports_a_digit_once_with_its_duration() -> None:
    receiver = TelephoneEventReceiver()
    feed(receiver, flat(packets_for_digit("4", 960, 5000)))
    events = drain(receiver)
    assert [type(e) for e in events] == [TelephoneEventStarted, TelephoneEventEnded]
    started, ended = events
    assert started.digit == "4" and started.timestamp == 5000 and started.time == 0.0
    assert isinstance(ended, TelephoneEventEnded)
    assert (ended.digit, ended.duration, ended.end_seen, ended.timestamp) == ("4", 960, True, 5000)
    assert receiver.get_timer() is None


def test_receiver_lost_start_and_duplicates() -> None:
    packets = flat(packets_for_digit("8", 800, 0))
    receiver = TelephoneEventReceiver()
    feed(receiver, packets[2:] + packets[2:])  # first two lost, everything duplicated
    events = drain(receiver)
    assert [(type(e).__name__, e.digit) for e in events] == [
        ("TelephoneEventStarted", "8"),
        ("TelephoneEventEnded", "8"),
    ]


def test_receiver_all_end_packets_lost_then_a_new_digit() -> None:
    first = [p for p in flat(packets_for_digit("1", 800, 0)) if not p.event.end]
    second = flat(packets_for_digit("2", 800, 1600))
    receiver = TelephoneEventReceiver()
    feed(receiver, first + second)
    events = drain(receiver)
    assert [(type(e).__name__, e.digit) for e in events] == [
        ("TelephoneEventStarted", "1"),
        ("TelephoneEventEnded", "1"),
        ("TelephoneEventStarted", "2"),
        ("TelephoneEventEnded", "2"),
    ]
    ended_1 = events[1]
    assert isinstance(ended_1, TelephoneEventEnded)
    assert not ended_1.end_seen and ended_1.duration == 640


def test_receiver_end_on_timeout() -> None:
    receiver = TelephoneEventReceiver(end_timeout=0.25)
    packets = [p for p in flat(packets_for_digit("*", 800, 42)) if not p.event.end]
    feed(receiver, packets)
    assert [e.digit for e in drain(receiver)] == ["*"]
    deadline = receiver.get_timer()
    assert deadline == pytest.approx(0.06 + 0.25)
    receiver.handle_timer(deadline - 0.01)
    assert drain(receiver) == []
    receiver.handle_timer(deadline)
    (ended,) = drain(receiver)
    assert isinstance(ended, TelephoneEventEnded) and not ended.end_seen
    assert ended.time == deadline and ended.duration == 640
    # Late packets of that event change nothing.
    receiver.receive(packets[1].payload, 42, deadline + 0.1)
    assert drain(receiver) == [] and receiver.get_timer() is None


def test_receiver_late_packet_of_an_older_event_is_dropped() -> None:
    trace = TraceRecorder()
    receiver = TelephoneEventReceiver(trace=trace)
    receiver.receive(bytes(TelephoneEvent(3, False, 10, 160)), 8000, 0.0)
    receiver.receive(bytes(TelephoneEvent(1, False, 10, 160)), 7000, 0.02)  # older timestamp
    assert [e.digit for e in drain(receiver)] == ["3"]
    assert [e.direction for e in trace.events] == ["drop"]


def test_receiver_long_event_segments_make_one_digit() -> None:
    receiver = TelephoneEventReceiver()
    feed(receiver, flat(packets_for_digit("0", 140000, 2**32 - 50)))
    events = drain(receiver)
    assert [type(e).__name__ for e in events] == ["TelephoneEventStarted", "TelephoneEventEnded"]
    ended = events[1]
    assert isinstance(ended, TelephoneEventEnded)
    assert ended.duration == 140000 and ended.timestamp == 2**32 - 50


def test_receiver_long_event_survives_lost_segment_end_packets() -> None:
    packets = [
        p
        for p in flat(packets_for_digit("0", 70000, 0))
        if not (p.event.duration == MAX_DURATION and not p.event.end)
    ]
    receiver = TelephoneEventReceiver()
    feed(receiver, packets)
    assert [type(e).__name__ for e in drain(receiver)] == [
        "TelephoneEventStarted",
        "TelephoneEventEnded",
    ]


def test_receiver_multiple_events_in_one_packet() -> None:
    # RFC 4733 2.5.1.5: the earlier event's final block, then the next event's first block.
    payload = bytes(TelephoneEvent(1, True, 10, 800)) + bytes(TelephoneEvent(2, False, 10, 160))
    receiver = TelephoneEventReceiver()
    receiver.receive(payload, 1000, 0.0)
    receiver.receive(bytes(TelephoneEvent(2, True, 10, 480)), 1800, 0.04)
    events = drain(receiver)
    assert [(type(e).__name__, e.digit, e.timestamp) for e in events] == [
        ("TelephoneEventStarted", "1", 1000),
        ("TelephoneEventEnded", "1", 1000),
        ("TelephoneEventStarted", "2", 1800),
        ("TelephoneEventEnded", "2", 1800),
    ]


def test_receiver_flash_and_unknown_events() -> None:
    trace = TraceRecorder()
    plain = TelephoneEventReceiver(trace=trace)
    plain.receive(bytes(TelephoneEvent(FLASH, True, 10, 800)), 0, 0.0)
    plain.receive(bytes(TelephoneEvent(77, True, 10, 800)), 800, 0.1)
    assert drain(plain) == []
    assert len(trace.events) == 2 and all(e.direction == "drop" for e in trace.events)
    with_flash = TelephoneEventReceiver(flash=True)
    with_flash.receive(bytes(TelephoneEvent(FLASH, True, 10, 800)), 0, 0.0)
    assert [e.digit for e in drain(with_flash)] == ["!", "!"]


@given(st.lists(st.tuples(st.binary(max_size=16), st.integers(0, 2**32 - 1)), max_size=20))
@settings(max_examples=200)
def test_receiver_never_raises_on_garbage(packets: list[tuple[bytes, int]]) -> None:
    receiver = TelephoneEventReceiver()
    for index, (payload, timestamp) in enumerate(packets):
        receiver.receive(payload, timestamp, index * 0.02)
        receiver.handle_timer(index * 0.02)
    drain(receiver)
    receiver.handle_timer(1e9)
    assert receiver.get_timer() is None


# --- SIPp's captures -----------------------------------------------------------------------------

SIPP_CAPTURES = Path("/usr/share/sip-tester")
CAPTURE_DIGITS = {str(d): str(d) for d in range(10)} | {"star": "*", "pound": "#"}


def rtp_packets(path: Path) -> list[tuple[bool, int, int, int, bytes]]:
    """(marker, payload type, sequence, timestamp, payload) of each RTP packet in a pcap file,
    parsed by hand: pcap record, Ethernet (with optional 802.1Q tag), IPv4, UDP, RTP."""
    data = path.read_bytes()
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">"}.get(magic) or {
        b"\x4d\x3c\xb2\xa1": "<",
        b"\xa1\xb2\x3c\x4d": ">",
    }[magic]
    (link_type,) = struct.unpack_from(endian + "I", data, 20)
    assert link_type == 1, "Ethernet captures only"
    packets = []
    offset = 24
    while offset + 16 <= len(data):
        _sec, _frac, captured, _original = struct.unpack_from(endian + "IIII", data, offset)
        frame = data[offset + 16 : offset + 16 + captured]
        offset += 16 + captured
        ethertype_at = 12
        (ethertype,) = struct.unpack_from("!H", frame, ethertype_at)
        if ethertype == 0x8100:
            ethertype_at += 4
            (ethertype,) = struct.unpack_from("!H", frame, ethertype_at)
        if ethertype != 0x0800:
            continue
        ip = frame[ethertype_at + 2 :]
        header_length = (ip[0] & 0x0F) * 4
        total_length = struct.unpack_from("!H", ip, 2)[0]
        if ip[9] != 17:  # UDP
            continue
        udp = ip[header_length:total_length]
        rtp = udp[8:]
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        csrc_count = rtp[0] & 0x0F
        marker = bool(rtp[1] & 0x80)
        payload_type = rtp[1] & 0x7F
        sequence, timestamp = struct.unpack_from("!HI", rtp, 2)
        start = 12 + 4 * csrc_count
        if rtp[0] & 0x10:  # header extension
            (words,) = struct.unpack_from("!H", rtp, start + 2)
            start += 4 + 4 * words
        end = len(rtp) - (rtp[-1] if rtp[0] & 0x20 else 0)
        packets.append((marker, payload_type, sequence, timestamp, rtp[start:end]))
    return packets


@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(CAPTURE_DIGITS))
def test_sipp_dtmf_captures_decode_to_their_digit(
    name: str, require_tool: Callable[[str], str]
) -> None:
    require_tool("sipp")  # the captures come with it (Debian package sip-tester)
    path = SIPP_CAPTURES / f"dtmf_2833_{name}.pcap"
    packets = rtp_packets(path)
    assert packets, "no RTP in the capture"
    receiver = TelephoneEventReceiver()
    for index, (marker, payload_type, _seq, timestamp, payload) in enumerate(packets):
        assert payload_type == 101
        receiver.receive(payload, timestamp, index * 0.02, marker=marker)
    events = drain(receiver)
    assert [(type(e).__name__, e.digit) for e in events] == [
        ("TelephoneEventStarted", CAPTURE_DIGITS[name]),
        ("TelephoneEventEnded", CAPTURE_DIGITS[name]),
    ]
    ended = events[1]
    assert isinstance(ended, TelephoneEventEnded)
    assert ended.end_seen and ended.duration == 2240  # the capture's final duration
    assert receiver.get_timer() is None
