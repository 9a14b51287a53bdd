"""The sans-IO RTP session on a virtual clock: pacing, wrap-around, statistics, RTCP, latching."""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import FrozenInstanceError, dataclass, field, fields
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError
from gateway.media.rtcp import (
    Goodbye,
    ReceiverReport,
    RtcpCompound,
    SenderReport,
    SourceDescription,
)
from gateway.media.rtp import RtpPacket
from gateway.media.rtp_session import (
    ByeReceived,
    Datagram,
    FrameDue,
    MediaTimeout,
    RemoteLatched,
    RtcpReceived,
    RtpReceived,
    RtpSession,
    RtpSessionConfig,
    RtpSessionEvent,
    SourceValidated,
    SsrcCollision,
)
from gateway.trace import Address, TraceRecorder

A: Address = ("192.0.2.1", 4000)
A_RTCP: Address = ("192.0.2.1", 4001)
B: Address = ("192.0.2.2", 5000)
B_RTCP: Address = ("192.0.2.2", 5001)
C: Address = ("198.51.100.7", 6000)
COMPENSATION = math.e - 1.5  # RFC 3550 A.7


def session(seed: int = 1, now: float = 0.0, **options: Any) -> RtpSession:
    options.setdefault("remote_rtp", B)
    return RtpSession(RtpSessionConfig(**options), random.Random(seed), now)


def drain(s: RtpSession) -> list[RtpSessionEvent]:
    events = []
    while (event := s.next_event()) is not None:
        events.append(event)
    return events


def rtp(seq: int, ts: int, ssrc: int = 0x5555, pt: int = 0, marker: bool = False) -> bytes:
    return bytes(RtpPacket(pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc, bytes(160), marker))


def sent_rtp(s: RtpSession, now: float = 0.0) -> list[RtpPacket]:
    return [RtpPacket.parse(d.data) for d in s.datagrams_to_send(now) if d.channel == "rtp"]


def received(events: list[RtpSessionEvent]) -> list[int]:
    return [e.packet.sequence for e in events if isinstance(e, RtpReceived)]


def rtcp_out(s: RtpSession, now: float) -> list[RtcpCompound]:
    return [RtcpCompound.parse(d.data) for d in s.datagrams_to_send(now) if d.channel == "rtcp"]


# --------------------------------------------------------------------------- sending


def test_a_datagram_is_a_frozen_value_with_a_hand_written_constructor() -> None:
    # Written out so that mypyc compiles it (see Datagram.__init__): the dataclass's fields,
    # in order, and still frozen.
    datagram = Datagram(b"x", A, "rtcp")
    assert [getattr(datagram, f.name) for f in fields(Datagram)] == [b"x", A, "rtcp"]
    assert Datagram(data=b"x", address=A, channel="rtcp") == datagram
    with pytest.raises(FrozenInstanceError):
        datagram.data = b"y"  # type: ignore[misc]


def test_pacing_raises_frame_due_every_ptime_and_frames_carry_the_media_clock() -> None:
    s = session(ssrc=0xABC, initial_sequence=100, initial_timestamp=1000, rtcp_enabled=False)
    s.start_pacing(0.0)
    for k in range(5):
        t = s.get_timer()
        assert t is not None
        assert t == pytest.approx(0.02 * k)
        s.handle_timer(t)
        assert drain(s) == [FrameDue(t, 1000 + 160 * k)]
        assert s.send_frame(b"\x55" * 160, t)
    datagrams = s.datagrams_to_send(0.1)
    assert {(d.address, d.channel) for d in datagrams} == {(B, "rtp")}
    packets = [RtpPacket.parse(d.data) for d in datagrams]
    assert [p.sequence for p in packets] == [100, 101, 102, 103, 104]
    assert [p.timestamp for p in packets] == [1000, 1160, 1320, 1480, 1640]
    assert [p.marker for p in packets] == [True, False, False, False, False]
    assert {p.ssrc for p in packets} == {0xABC}
    assert s.statistics().packets_sent == 5
    assert s.statistics().octets_sent == 800


def test_unanswered_deadlines_are_silence_and_the_next_packet_starts_a_talkspurt() -> None:
    s = session(initial_sequence=7, initial_timestamp=0, rtcp_enabled=False)
    s.start_pacing(10.0)
    for k in range(8):
        t = s.get_timer()
        assert t is not None
        s.handle_timer(t)
        (due,) = drain(s)
        assert isinstance(due, FrameDue)
        if k not in (2, 3, 4):  # three frames of silence suppression
            s.send_frame(bytes(160), t)
    packets = sent_rtp(s)
    assert [p.sequence for p in packets] == [7, 8, 9, 10, 11]
    assert [p.timestamp for p in packets] == [0, 160, 800, 960, 1120]
    assert [p.marker for p in packets] == [True, False, True, False, False]


def test_ptime_from_sdp_sets_the_deadline_and_the_timestamp_step() -> None:
    s = session(ptime=0.030, initial_timestamp=0, rtcp_enabled=False)
    s.start_pacing(0.0)
    times = []
    for _ in range(3):
        t = s.get_timer()
        assert t is not None
        times.append(t)
        s.handle_timer(t)
        drain(s)
        s.send_frame(bytes(240), t)
    assert times == pytest.approx([0.0, 0.03, 0.06])
    assert [p.timestamp for p in sent_rtp(s)] == [0, 240, 480]


def test_a_late_timer_asks_once_and_leaves_a_gap() -> None:
    s = session(initial_timestamp=0, rtcp_enabled=False)
    s.start_pacing(0.0)
    s.handle_timer(0.0)
    drain(s)
    s.send_frame(bytes(160), 0.0)
    s.handle_timer(0.105)  # the loop stalled through four deadlines
    [due] = drain(s)
    assert isinstance(due, FrameDue)
    assert (due.time, due.timestamp) == (pytest.approx(0.1), 800)
    s.send_frame(bytes(160), 0.105)
    assert s.get_timer() == pytest.approx(0.12)
    assert [(p.timestamp, p.marker) for p in sent_rtp(s)] == [(0, True), (800, True)]


def test_unpaced_sending_and_skip_frame() -> None:
    s = session(initial_timestamp=50, rtcp_enabled=False)
    s.send_frame(bytes(160), 0.0)
    s.send_frame(bytes(160), 0.02)
    s.skip_frame()
    s.send_frame(bytes(80), 0.06, samples=80)
    s.send_frame(bytes(160), 0.07, marker=True, payload_type=8)
    packets = sent_rtp(s)
    assert [(p.timestamp, p.marker, p.payload_type) for p in packets] == [
        (50, True, 0),
        (210, False, 0),
        (530, True, 0),
        (610, True, 8),
    ]


def test_sequence_and_timestamp_wrap_around_on_both_sides() -> None:
    sender = session(initial_sequence=65534, initial_timestamp=2**32 - 320, rtcp_enabled=False)
    for k in range(4):
        sender.send_frame(bytes(160), 0.02 * k)
    packets = sent_rtp(sender)
    assert [p.sequence for p in packets] == [65534, 65535, 0, 1]
    assert [p.timestamp for p in packets] == [2**32 - 320, 2**32 - 160, 0, 160]
    receiver = session(seed=2, remote_rtp=A)
    for k, packet in enumerate(packets):
        receiver.receive_datagram(bytes(packet), B, 0.02 * k + 0.01)
    assert received(drain(receiver)) == [65534, 65535, 0, 1]
    stats = receiver.statistics()
    assert (stats.packets_expected, stats.packets_lost, stats.packets_received) == (4, 0, 4)
    assert stats.jitter_ms == pytest.approx(0.0, abs=1e-6)
    receiver.handle_timer(10.0)
    (report, _) = rtcp_out(receiver, 10.0)[0].packets
    assert isinstance(report, ReceiverReport)
    assert report.reports[0].highest_sequence == 65536 + 1  # one cycle, max 1
    assert report.reports[0].cumulative_lost == 0


def test_event_packets_keep_their_timestamp_and_audio_resumes_as_a_talkspurt() -> None:
    s = session(initial_sequence=0, initial_timestamp=0, rtcp_enabled=False)
    s.start_pacing(0.0)

    def tick() -> float:
        t = s.get_timer()
        assert t is not None
        s.handle_timer(t)
        drain(s)
        return t

    s.send_frame(bytes(160), tick())
    s.send_event(b"\x05\x0a\x00\xa0", tick(), new_event=True)
    s.send_event(b"\x05\x0a\x01\x40", tick())
    t = tick()
    s.send_event(b"\x05\x8a\x01\xe0", t)
    s.send_event(b"\x05\x8a\x01\xe0", t, repeat=True)
    s.send_event(b"\x05\x8a\x01\xe0", t, repeat=True)
    s.send_frame(bytes(160), tick())
    rows = [(p.payload_type, p.sequence, p.timestamp, p.marker) for p in sent_rtp(s)]
    assert rows == [
        (0, 0, 0, True),
        (101, 1, 160, True),
        (101, 2, 160, False),
        (101, 3, 160, False),
        (101, 3, 160, False),
        (101, 3, 160, False),
        (0, 4, 640, True),
    ]
    assert s.statistics().packets_sent == 5  # intentional repeats are not new packets


def test_sending_needs_a_destination_and_an_open_session() -> None:
    s = session(remote_rtp=None, rtcp_enabled=False)
    assert not s.send_frame(bytes(160), 0.0)
    assert not s.send_event(bytes(4), 0.0, new_event=True)
    assert s.datagrams_to_send(0.0) == []
    assert s.sequence == session(remote_rtp=None, rtcp_enabled=False).sequence
    no_events = session(event_payload_type=None, rtcp_enabled=False)
    with pytest.raises(LocalProtocolError, match="telephone-event"):
        no_events.send_event(bytes(4), 0.0, new_event=True)
    s.close(0.0)
    with pytest.raises(LocalProtocolError):
        s.send_frame(bytes(160), 0.0)
    with pytest.raises(LocalProtocolError):
        s.start_pacing(0.0)


def test_random_choices_come_from_the_injected_source() -> None:
    one, two, other = session(seed=5), session(seed=5), session(seed=6)
    assert (one.ssrc, one.sequence, one.timestamp) == (two.ssrc, two.sequence, two.timestamp)
    assert (one.ssrc, one.sequence, one.timestamp) != (other.ssrc, other.sequence, other.timestamp)


@pytest.mark.parametrize(
    "options",
    [{"payload_type": 128}, {"ptime": 0}, {"min_sequential": 0}, {"media_timeout": -1.0}],
)
def test_bad_configuration_is_a_local_error(options: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        RtpSessionConfig(**options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- receiving


def test_jitter_matches_a_hand_computed_value() -> None:
    s = session(remote_rtp=A, rtcp_enabled=False)
    arrivals = [0.0, 0.020, 0.045, 0.060, 0.080]
    for k, arrival in enumerate(arrivals):
        s.receive_datagram(rtp(10 + k, 160 * k), A, arrival)
    # D(i-1,i) in samples: 0, +40, -40, 0 -> J = 0, 40/16, then J += (|D| - J) / 16 twice.
    j = 0.0
    j += (40 - j) / 16
    j += (40 - j) / 16
    j += (0 - j) / 16
    assert j == pytest.approx(4.541015625)
    assert s.statistics().jitter_ms == pytest.approx(j / 8)


def test_loss_duplicates_and_reordering_against_hand_counts() -> None:
    s = session(remote_rtp=A)
    order = [100, 101, 102, 104, 105, 105, 106, 107, 109, 108, *range(112, 120)]
    for k, seq in enumerate(order):
        s.receive_datagram(rtp(seq, 160 * (seq - 100)), A, 0.02 * k)
    events = drain(s)
    assert isinstance(events[0], SourceValidated)
    assert received(events) == [100, 101, 102, 104, 105, 106, 107, 109, 108, *range(112, 120)]
    stats = s.statistics()
    assert stats.packets_expected == 20
    assert stats.packets_received == 17
    assert stats.packets_lost == 3  # 103, 110, 111
    assert stats.duplicates == 1
    assert stats.out_of_order == 1
    assert stats.octets_received == 17 * 160
    t = s.get_timer()
    assert t is not None
    s.handle_timer(t)
    report = rtcp_out(s, t)[0].packets[0]
    assert isinstance(report, ReceiverReport)
    (block,) = report.reports
    # RFC 3550 §6.4.1 counts the duplicate as received: 20 expected - 18 received.
    assert block.cumulative_lost == 2
    assert block.fraction_lost == (2 << 8) // 20
    assert block.highest_sequence == 119
    # The next interval sees nothing new: no fresh loss.
    t = s.get_timer()
    assert t is not None
    while not (reports := rtcp_out(s, t)):
        s.handle_timer(t)
        t = s.get_timer()
        assert t is not None
    assert reports[0].packets[0].reports[0].fraction_lost == 0  # type: ignore[union-attr]


def test_probation_holds_packets_until_the_source_is_valid() -> None:
    s = session(remote_rtp=A)
    s.receive_datagram(rtp(500, 0, ssrc=0xBAD), A, 0.0)  # a lone stray packet
    s.receive_datagram(rtp(10, 0, ssrc=7), A, 0.01)
    assert drain(s) == []
    s.receive_datagram(rtp(12, 320, ssrc=7), A, 0.02)  # not in sequence: probation restarts
    assert drain(s) == []
    s.receive_datagram(rtp(13, 480, ssrc=7), A, 0.03)
    events = drain(s)
    assert events[0] == SourceValidated(7, A, None)
    assert received(events) == [12, 13]
    assert [e.arrival for e in events if isinstance(e, RtpReceived)] == [0.02, 0.03]
    assert s.remote_ssrc == 7
    assert s.statistics().packets_expected == 2


def test_min_sequential_one_validates_at_once() -> None:
    s = session(remote_rtp=A, min_sequential=1)
    s.receive_datagram(rtp(0, 0, ssrc=9), A, 0.0)
    events = drain(s)
    assert events[0] == SourceValidated(9, A, None)
    assert received(events) == [0]


def test_a_large_jump_resynchronises_after_two_sequential_packets() -> None:
    s = session(remote_rtp=A)
    for k in range(3):
        s.receive_datagram(rtp(100 + k, 160 * k), A, 0.02 * k)
    drain(s)
    s.receive_datagram(rtp(9000, 0), A, 0.1)
    assert received(drain(s)) == []
    assert s.statistics().dropped == 1
    s.receive_datagram(rtp(9001, 160), A, 0.12)
    s.receive_datagram(rtp(9002, 320), A, 0.14)
    assert received(drain(s)) == [9001, 9002]
    stats = s.statistics()
    assert stats.packets_expected == 3 + 2
    assert stats.packets_lost == 0


def test_packets_older_than_the_window_are_late_and_not_delivered() -> None:
    s = session(remote_rtp=A)
    for seq in range(100, 201):
        s.receive_datagram(rtp(seq, 160 * seq), A, seq * 0.02)
    drain(s)
    s.receive_datagram(rtp(120, 160 * 120), A, 5.0)  # 80 behind
    s.receive_datagram(rtp(190, 160 * 190), A, 5.0)  # within the window, already seen
    assert received(drain(s)) == []
    stats = s.statistics()
    assert (stats.late, stats.duplicates, stats.out_of_order) == (1, 1, 0)


def test_garbage_is_dropped_and_traced() -> None:
    trace = TraceRecorder()
    s = RtpSession(RtpSessionConfig(remote_rtp=A, local_rtp=B), random.Random(1), 0.0, trace)
    s.receive_datagram(b"\x00" * 20, A, 1.0)
    s.receive_datagram(b"\x80", A, 1.0)
    s.receive_rtcp_datagram(b"\x80\xc8\x00\x09", A_RTCP, 1.0)
    assert drain(s) == []
    assert s.statistics().dropped == 3
    drops = [e for e in trace.events if e.direction == "drop"]
    assert [e.protocol for e in drops] == ["rtp", "rtp", "rtcp"]
    assert "version 0 is not 2" in drops[0].summary
    assert drops[0].raw == b"\x00" * 20
    assert (drops[0].local, drops[0].remote, drops[0].time) == (B, A, 1.0)


@given(st.binary(max_size=80), st.booleans())
@settings(max_examples=300)
def test_arbitrary_datagrams_never_raise(data: bytes, on_rtcp_port: bool) -> None:
    s = session(remote_rtp=A, rtcp_mux=not on_rtcp_port)
    s.receive_datagram(rtp(1, 0), A, 0.0)
    s.receive_datagram(rtp(2, 160), A, 0.02)
    if on_rtcp_port:
        s.receive_rtcp_datagram(data, A_RTCP, 0.03)
    else:
        s.receive_datagram(data, A, 0.03)
    drain(s)
    s.handle_timer(100.0)
    s.statistics()


# --------------------------------------------------------------------------- latching


def test_comedia_latches_to_the_first_valid_source_and_relatches_on_a_new_ssrc() -> None:
    s = session(remote_rtp=None)
    s.receive_datagram(rtp(1, 0, ssrc=1), C, 0.0)
    s.receive_datagram(rtp(2, 160, ssrc=1), C, 0.02)
    events = drain(s)
    assert events[:2] == [SourceValidated(1, C, None), RemoteLatched("rtp", C)]
    assert (s.remote_rtp, s.remote_rtcp) == (C, ("198.51.100.7", 6001))
    assert s.send_frame(bytes(160), 0.03)
    assert [d.address for d in s.datagrams_to_send(0.03)] == [C]
    # The same SSRC from elsewhere is not accepted once latched.
    s.receive_datagram(rtp(3, 320, ssrc=1), A, 0.04)
    assert received(drain(s)) == []
    assert s.statistics().dropped == 1
    # A new SSRC that passes probation moves the latch (the peer moved, RFC 4961).
    s.receive_datagram(rtp(70, 0, ssrc=2), A, 0.05)
    assert drain(s) == []
    s.receive_datagram(rtp(71, 160, ssrc=2), A, 0.07)
    events = drain(s)
    assert events[:2] == [SourceValidated(2, A, 1), RemoteLatched("rtp", A)]
    assert received(events) == [70, 71]
    assert s.remote_rtp == A
    stats = s.statistics()
    assert (stats.packets_expected, stats.packets_received, stats.packets_lost) == (4, 4, 0)


def test_rtcp_latches_from_the_current_source() -> None:
    s = session(remote_rtp=A)
    s.receive_datagram(rtp(1, 0, ssrc=1), A, 0.0)
    s.receive_datagram(rtp(2, 160, ssrc=1), A, 0.02)
    drain(s)
    assert s.remote_rtcp == A_RTCP
    stranger = bytes(RtcpCompound((ReceiverReport(99),)))
    s.receive_rtcp_datagram(stranger, ("203.0.113.9", 9), 0.1)
    assert s.remote_rtcp == A_RTCP  # a receive-only peer's report is read but not latched to
    assert [type(e) for e in drain(s)] == [RtcpReceived]
    nat = ("192.0.2.1", 30001)
    s.receive_rtcp_datagram(bytes(RtcpCompound((ReceiverReport(1),))), nat, 0.2)
    events = drain(s)
    assert RemoteLatched("rtcp", nat) in events
    assert sum(isinstance(e, RtcpReceived) for e in events) == 1
    s.handle_timer(30.0)
    assert {d.address for d in s.datagrams_to_send(30.0)} == {nat}


def test_without_symmetric_rtp_the_source_may_move_and_we_keep_the_sdp_address() -> None:
    s = session(remote_rtp=A, symmetric=False)
    s.receive_datagram(rtp(1, 0), C, 0.0)
    s.receive_datagram(rtp(2, 160), C, 0.02)
    s.receive_datagram(rtp(3, 320), B, 0.04)
    events = drain(s)
    assert received(events) == [1, 2, 3]
    assert not any(isinstance(e, RemoteLatched) for e in events)
    assert s.remote_rtp == A


def test_set_remote_lets_the_current_source_move() -> None:
    s = session(remote_rtp=A)
    s.receive_datagram(rtp(1, 0), A, 0.0)
    s.receive_datagram(rtp(2, 160), A, 0.02)
    drain(s)
    s.set_remote(C)
    s.receive_datagram(rtp(3, 320), C, 0.04)
    s.receive_datagram(rtp(4, 480), A, 0.06)  # the old address is no longer the latch
    assert received(drain(s)) == [3]
    assert s.remote_rtp == C


# --------------------------------------------------------------------------- timeout


def test_media_timeout_fires_once_per_silence() -> None:
    s = session(remote_rtp=A, media_timeout=2.0, rtcp_enabled=False)
    assert s.get_timer() == 2.0
    s.handle_timer(2.0)
    assert drain(s) == [MediaTimeout(2.0, None, None)]
    assert s.get_timer() is None
    s.receive_datagram(rtp(1, 0), A, 3.0)
    s.receive_datagram(rtp(2, 160), A, 3.02)
    drain(s)
    assert s.get_timer() == pytest.approx(5.02)
    s.handle_timer(4.0)
    assert drain(s) == []
    s.handle_timer(5.02)
    assert drain(s) == [MediaTimeout(5.02, 3.02, None)]
    s.set_media_timeout(None, 6.0)
    assert s.get_timer() is None
    s.set_media_timeout(1.0, 6.0)
    assert s.get_timer() == 7.0


# --------------------------------------------------------------------------- RTCP


def _report_times(seed: int, horizon: float, **options: Any) -> list[float]:
    s = session(seed=seed, **options)
    times = []
    while (t := s.get_timer()) is not None and t < horizon:
        s.handle_timer(t)
        if s.datagrams_to_send(t):
            times.append(t)
    return times


def test_rtcp_interval_follows_rfc3550_bounds_with_the_injected_random() -> None:
    lo, hi = 0.5 / COMPENSATION, 1.5 / COMPENSATION
    firsts: list[float] = []
    gaps: list[float] = []
    for seed in range(150):
        times = _report_times(seed, 60.0)
        firsts.append(times[0])
        gaps.extend(b - a for a, b in itertools.pairwise(times))
    assert 2.5 * lo <= min(firsts) and max(firsts) <= 2.5 * hi  # initial: half the minimum
    assert 5 * lo <= min(gaps) and max(gaps) <= 5 * hi
    # The randomisation really spreads the reports over the range.
    assert min(gaps) < 5 * (lo + 0.1 * (hi - lo)) and max(gaps) > 5 * (hi - 0.1 * (hi - lo))
    assert _report_times(3, 60.0) == _report_times(3, 60.0)


def test_reduced_minimum_interval() -> None:
    # RFC 3550 §6.2: 360 / (session bandwidth in kb/s) seconds; 720 kb/s gives 0.5 s.
    times = _report_times(4, 20.0, session_bandwidth=720_000.0, rtcp_reduced_minimum=True)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.5 * 0.5 / COMPENSATION
    assert max(gaps) <= 0.5 * 1.5 / COMPENSATION


@dataclass(order=True)
class _InFlight:
    due: float
    order: int
    target: str = field(compare=False)
    datagram: Datagram = field(compare=False)


@dataclass
class Network:
    """Two sessions joined by a link; impairs RTP from A to B with a seeded random source."""

    a: RtpSession
    b: RtpSession
    rng: random.Random
    delay: float = 0.03
    jitter: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    queue: list[_InFlight] = field(default_factory=list)
    arrivals: list[tuple[float, RtpPacket]] = field(default_factory=list)
    log: list[tuple[float, str, Datagram]] = field(default_factory=list)
    lost: set[int] = field(default_factory=set)
    duplicated: int = 0
    counter: int = 0

    def send(self, target: str, datagram: Datagram, now: float) -> None:
        self.log.append((now, target, datagram))
        copies = 1
        if datagram.channel == "rtp" and target == "b":
            packet = RtpPacket.parse(datagram.data)
            # Keep the first packets and the last one clean so the expected range is fixed.
            impair = 5 <= packet.sequence - FIRST_SEQ < FRAMES - 1
            if impair and self.rng.random() < self.loss:
                self.lost.add(packet.sequence)
                return
            if impair and self.rng.random() < self.duplicate:
                copies = 2
                self.duplicated += 1
        for _ in range(copies):
            due = now + self.delay + self.rng.uniform(0, self.jitter)
            if datagram.channel == "rtp" and self.rng.random() < self.reorder:
                due += self.rng.uniform(0.025, 0.045)
            self.counter += 1
            heapq.heappush(self.queue, _InFlight(due, self.counter, target, datagram))

    def run(self, until: float, feed: bool) -> None:
        while True:
            timers = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
            if self.queue:
                timers.append(self.queue[0].due)
            now = min(timers)
            if now > until:
                return
            if self.queue and self.queue[0].due == now:
                item = heapq.heappop(self.queue)
                self.deliver(item, now)
            for s in (self.a, self.b):
                timer = s.get_timer()
                if timer is not None and timer <= now:
                    s.handle_timer(now)
            for event in drain(self.a):
                if isinstance(event, FrameDue) and feed:
                    self.a.send_frame(bytes(160), now)
            self.flush(now)

    def flush(self, now: float) -> None:
        for datagram in self.a.datagrams_to_send(now):
            self.send("b", datagram, now)
        for datagram in self.b.datagrams_to_send(now):
            self.send("a", datagram, now)

    def deliver(self, item: _InFlight, now: float) -> None:
        datagram = item.datagram
        target, source = (self.b, (A, A_RTCP)) if item.target == "b" else (self.a, (B, B_RTCP))
        if datagram.channel == "rtp":
            if item.target == "b":
                self.arrivals.append((now, RtpPacket.parse(datagram.data)))
            target.receive_datagram(datagram.data, source[0], now)
        else:
            target.receive_rtcp_datagram(datagram.data, source[1], now)


FIRST_SEQ = 1000
FRAMES = 500


def _pair(**options: Any) -> tuple[RtpSession, RtpSession]:
    wall = 1_700_000_000.0
    a = session(
        seed=11, remote_rtp=B, initial_sequence=FIRST_SEQ, wallclock_offset=wall, cname="a@x"
    )
    b = session(seed=12, remote_rtp=A, wallclock_offset=wall, cname="b@y", **options)
    return a, b


def test_sender_and_receiver_reports_carry_lsr_dlsr_and_give_the_round_trip() -> None:
    a, b = _pair()
    wall = 1_700_000_000.0
    first_ts = a.timestamp
    net = Network(a, b, random.Random(0), delay=0.03)
    a.start_pacing(0.0)
    net.run(15.0, feed=True)
    reports = [
        (t, target, RtcpCompound.parse(d.data)) for t, target, d in net.log if d.channel == "rtcp"
    ]
    rr_time, _, rr_compound = next(
        r
        for r in reports
        if r[1] == "a" and r[2].packets[0].reports[0].last_sr  # type: ignore[union-attr]
    )
    # The SR that report echoes: the last one that reached B before it.
    echoed = [r for r in reports if r[1] == "b" and r[0] + net.delay < rr_time]
    sr_time, _, sr_compound = echoed[-1]
    sr = sr_compound.packets[0]
    assert isinstance(sr, SenderReport)
    assert sr.ssrc == a.ssrc
    expected_ntp = int((sr_time + wall + 2_208_988_800) * 2**32)
    assert abs(sr.ntp_timestamp - expected_ntp) < 2**32 * 1e-6
    frames_sent = math.floor(sr_time / 0.02 + 1e-9) + 1
    assert sr.packet_count == frames_sent
    assert sr.octet_count == 160 * frames_sent
    last_frame_time = (frames_sent - 1) * 0.02
    assert (
        sr.rtp_timestamp
        == (first_ts + 160 * (frames_sent - 1) + round((sr_time - last_frame_time) * 8000)) % 2**32
    )
    rr = rr_compound.packets[0]
    assert isinstance(rr, ReceiverReport)  # B never sent RTP
    (block,) = rr.reports
    assert block.ssrc == a.ssrc
    assert block.last_sr == (sr.ntp_timestamp >> 16) & 0xFFFFFFFF
    sr_arrival = sr_time + net.delay
    assert abs(block.delay_since_last_sr - (rr_time - sr_arrival) * 65536) <= 1
    stats = a.statistics()
    assert stats.round_trip_ms == pytest.approx(2 * net.delay * 1000, abs=0.05)
    assert stats.remote_cumulative_lost == 0
    assert stats.remote_fraction_lost == 0.0


def test_cname_is_in_every_compound_and_reports_switch_from_sr_to_rr() -> None:
    s = session(cname="gw-a@192.0.2.1", initial_timestamp=0)
    s.send_frame(bytes(160), 0.0)
    kinds: list[str] = []
    t = 0.0
    while len(kinds) < 4:
        t = s.get_timer() or 0.0
        s.handle_timer(t)
        for compound in rtcp_out(s, t):
            kinds.append(type(compound.packets[0]).__name__)
            sdes = compound.packets[1]
            assert isinstance(sdes, SourceDescription)
            assert sdes.cname(s.ssrc) == "gw-a@192.0.2.1"
    # SR while we have sent within the last two report intervals, RR afterwards (§6.4).
    assert kinds == ["SenderReport", "SenderReport", "ReceiverReport", "ReceiverReport"]


def test_close_sends_bye_and_the_peer_reports_it() -> None:
    a, b = _pair()
    net = Network(a, b, random.Random(0))
    a.start_pacing(0.0)
    net.run(1.0, feed=True)
    a.close(1.0, "call ended")
    closing = rtcp_out(a, 1.0)
    assert len(closing) == 1
    packets = closing[0].packets
    assert isinstance(packets[0], SenderReport)
    assert packets[-1] == Goodbye((a.ssrc,), b"call ended")
    b.receive_rtcp_datagram(bytes(closing[0]), A_RTCP, 1.03)
    assert ByeReceived(a.ssrc, "call ended") in drain(b)
    assert a.closed and a.get_timer() is None
    a.receive_datagram(rtp(1, 0), B, 1.1)
    assert drain(a) == []


def test_ssrc_collision_moves_to_a_new_ssrc_and_says_bye() -> None:
    s = session(remote_rtp=A, ssrc=0x1234)
    s.receive_datagram(rtp(1, 0, ssrc=0x1234), A, 0.0)
    events = drain(s)
    assert isinstance(events[0], SsrcCollision)
    assert events[0].old_ssrc == 0x1234 != s.ssrc == events[0].new_ssrc
    (compound,) = rtcp_out(s, 0.0)
    assert compound.packets[-1] == Goodbye((0x1234,), b"SSRC collision")


def test_rtcp_mux_shares_the_rtp_port() -> None:
    s = session(remote_rtp=A, rtcp_mux=True)
    assert s.remote_rtcp == A
    s.receive_datagram(bytes(RtcpCompound((ReceiverReport(77),))), A, 0.5)
    assert isinstance(drain(s)[0], RtcpReceived)
    s.handle_timer(30.0)
    assert {(d.address, d.channel) for d in s.datagrams_to_send(30.0)} == {(A, "rtp")}


def test_rtcp_on_the_rtp_port_without_mux_is_dropped() -> None:
    s = session(remote_rtp=A)
    s.receive_datagram(bytes(RtcpCompound((ReceiverReport(77),))), A, 0.5)
    assert drain(s) == []
    assert s.statistics().dropped == 1


def test_packet_tracing_is_switchable() -> None:
    quiet, loud = TraceRecorder(), TraceRecorder()
    for recorder, on in ((quiet, False), (loud, True)):
        config = RtpSessionConfig(
            remote_rtp=A, local_rtp=B, local_rtcp=B_RTCP, trace_packets=on, call_id="c1"
        )
        s = RtpSession(config, random.Random(1), 0.0, recorder)
        s.send_frame(bytes(160), 0.0)
        s.receive_datagram(rtp(1, 0), A, 0.01)
        s.receive_datagram(rtp(2, 160), A, 0.03)
        s.close(0.05)
        out = s.datagrams_to_send(0.05)
        if on:
            rtp_events = [e for e in recorder.events if e.protocol == "rtp" and e.raw]
            assert [e.direction for e in rtp_events] == ["out", "in", "in"]
            assert rtp_events[0].raw == out[0].data
            assert (rtp_events[0].local, rtp_events[0].remote) == (B, A)
            assert rtp_events[1].raw == rtp(1, 0)
            assert {e.transport for e in rtp_events} == {"udp"}
            assert {e.call_id for e in recorder.events} == {"c1"}
    assert not [e for e in quiet.events if e.protocol == "rtp" and e.raw]
    (bye,) = [e for e in quiet.events if e.protocol == "rtcp"]
    assert (bye.direction, bye.local, bye.remote) == ("out", B_RTCP, A_RTCP)
    assert "BYE" in bye.summary


# --------------------------------------------------------------------------- pair over a bad link


def test_pair_over_a_lossy_duplicating_reordering_link() -> None:
    a, b = _pair()
    net = Network(
        a, b, random.Random(2024), delay=0.02, jitter=0.008, loss=0.05, duplicate=0.03, reorder=0.1
    )
    a.start_pacing(0.0)
    net.run(FRAMES * 0.02 - 0.001, feed=True)
    a.stop_pacing()
    net.run(FRAMES * 0.02 + 0.5, feed=False)
    stats = b.statistics()
    assert a.statistics().packets_sent == FRAMES
    assert net.lost and net.duplicated  # the link really misbehaved

    # What the link did, counted from its own log.
    unique_order: list[int] = []
    first_arrivals: list[tuple[float, RtpPacket]] = []
    seen: set[int] = set()
    for arrival, packet in net.arrivals:
        if packet.sequence not in seen:
            seen.add(packet.sequence)
            unique_order.append(packet.sequence)
            first_arrivals.append((arrival, packet))
    reordered = sum(1 for k, seq in enumerate(unique_order) if k and seq < max(unique_order[:k]))
    assert stats.packets_expected == FRAMES
    assert stats.packets_received == len(seen) == FRAMES - len(net.lost)
    assert stats.packets_lost == len(net.lost)
    assert stats.duplicates == net.duplicated
    assert stats.out_of_order == reordered > 0
    assert stats.late == 0
    # RFC 3550 A.8 recomputed here over the arrivals, in arrival order.
    jitter = 0.0
    for (t0, p0), (t1, p1) in itertools.pairwise(first_arrivals):
        jitter += (abs((t1 - t0) * 8000 - (p1.timestamp - p0.timestamp)) - jitter) / 16
    assert stats.jitter_ms == pytest.approx(jitter / 8)
    assert 1.0 < stats.jitter_ms < 10.0

    # B's closing report tells A the RFC figure: lost minus duplicates.
    end = FRAMES * 0.02 + 0.5
    b.close(end)
    net.flush(end)
    net.run(end + 1.0, feed=False)
    assert a.statistics().remote_cumulative_lost == len(net.lost) - net.duplicated
    assert a.statistics().rtcp_received >= 2
