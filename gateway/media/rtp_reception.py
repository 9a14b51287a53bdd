"""Reception state of one RTP source: RFC 3550 Appendix A.1 (validation and sequence numbers),
A.3 (expected and lost packets) and A.8 (interarrival jitter).

One :class:`SourceReception` per remote SSRC.  It starts on probation: ``probe`` holds packets
until ``min_sequential`` of them arrived in sequence, then ``validate`` hands them back for
delivery (the A.1 sample code discards them; a voice path would rather keep the first 20 ms).
After that ``update`` classifies every sequence number with a :class:`Verdict`.

Counting follows the RFC where it speaks: ``received`` includes duplicates, as §6.4.1 defines the
cumulative loss; ``true_lost`` subtracts them for the statistics a person reads.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

from gateway.media.rtcp import ReportBlock, clamp_cumulative_lost
from gateway.media.rtp import RtpPacket, timestamp_delta
from gateway.trace import Address

MAX_DROPOUT: Final = 3000
MAX_MISORDER: Final = 100
SEQUENCE_MODULO: Final = 1 << 16
# Duplicate detection window: how many packets behind the highest one we remember.
# 62 packets (1.24 s of 20 ms packets): the bitmap then stays within the integers that compiled
# code keeps unboxed (62 bits and a sign); 64 made every packet allocate a long.
REORDER_WINDOW: Final = 62
_WINDOW_MASK: Final = (1 << REORDER_WINDOW) - 1
_U32: Final = 0xFFFFFFFF


class Verdict(IntEnum):
    """What ``update`` made of a sequence number; the first three are delivered."""

    IN_ORDER = 0
    REORDERED = 1  # behind the highest sequence number, not seen before
    RESYNCED = 2  # confirmed restart after a large jump: the state started over
    DUPLICATE = 3
    LATE = 4  # older than the duplicate window
    JUMPED = 5  # a large jump, dropped until the next packet confirms it


class SourceReception:
    """The ``source`` structure of RFC 3550 A.1 plus jitter and the SR echo."""

    __slots__ = (
        "address",
        "bad_seq",
        "base_seq",
        "cycles",
        "duplicates",
        "expected_prior",
        "held",
        "jitter",
        "jitter_arrival",
        "jitter_timestamp",
        "last_sr",
        "last_sr_arrival",
        "max_seq",
        "probation",
        "received",
        "received_prior",
        "recent",
        "retired_expected",
        "retired_lost",
        "sent_since_report",
        "ssrc",
    )

    def __init__(
        self, ssrc: int, address: Address | None, first_sequence: int, min_sequential: int
    ) -> None:
        self.ssrc = ssrc
        self.address = address
        self.probation = min_sequential
        self.held: list[tuple[RtpPacket, float]] = []
        self.jitter = 0.0
        self.jitter_arrival: float | None = None
        self.jitter_timestamp = 0
        self.last_sr = 0
        self.last_sr_arrival = 0.0
        self.sent_since_report = False
        self.retired_expected = 0
        self.retired_lost = 0
        self._init_sequence(first_sequence)
        self.max_seq = (first_sequence - 1) & 0xFFFF  # A.1: the first packet is "in sequence"

    def _init_sequence(self, sequence: int) -> None:
        """``init_seq`` of RFC 3550 A.1."""
        self.base_seq = sequence
        self.max_seq = sequence
        self.bad_seq = SEQUENCE_MODULO + 1  # so that sequence == bad_seq is false
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0
        self.duplicates = 0
        self.recent = 1

    # ------------------------------------------------------------------ probation

    def probe(self, packet: RtpPacket, arrival: float, min_sequential: int) -> bool:
        """The probation branch of A.1's ``update_seq``; ``True`` once the source is valid."""
        sequence = packet.sequence
        if sequence == (self.max_seq + 1) & 0xFFFF:
            self.probation -= 1
            self.held.append((packet, arrival))
        else:
            self.probation = min_sequential - 1
            self.held = [(packet, arrival)]
        self.max_seq = sequence
        return self.probation <= 0

    def validate(self) -> list[tuple[RtpPacket, float]]:
        """Leave probation: count the held packets as received and return them for delivery."""
        held, self.held = self.held, []
        first = held[0][0].sequence
        self._init_sequence(first)
        self.max_seq = held[-1][0].sequence
        if self.max_seq < first:
            self.cycles = SEQUENCE_MODULO  # the probation run itself wrapped
        self.recent = (1 << len(held)) - 1
        self.received = len(held)
        return held

    # ------------------------------------------------------------------ per packet

    def update(self, sequence: int) -> Verdict:
        """``update_seq`` of RFC 3550 A.1 for a valid source, plus duplicate detection."""
        udelta = (sequence - self.max_seq) & 0xFFFF
        if 0 < udelta < MAX_DROPOUT:
            if sequence < self.max_seq:
                self.cycles += SEQUENCE_MODULO  # the sequence number wrapped
            self.max_seq = sequence
            # Masked before the shift, so that no intermediate outgrows the window either.
            self.recent = ((self.recent & (_WINDOW_MASK >> udelta)) << udelta) | 1
            self.received += 1
            return Verdict.IN_ORDER
        if udelta == 0:
            return self._duplicate()
        if udelta <= SEQUENCE_MODULO - MAX_MISORDER:
            if sequence != self.bad_seq:
                self.bad_seq = (sequence + 1) & 0xFFFF
                return Verdict.JUMPED
            # Two sequential packets after a jump: the sender restarted; start over.
            self.retired_expected += self.expected()
            self.retired_lost += self.true_lost()
            self._init_sequence(sequence)
            self.jitter_arrival = None
            self.received = 1
            return Verdict.RESYNCED
        behind = SEQUENCE_MODULO - udelta
        if behind >= REORDER_WINDOW:
            self.received += 1  # too old to deliver, but it arrived (§6.4.1)
            return Verdict.LATE
        bit = 1 << behind
        if self.recent & bit:
            return self._duplicate()
        self.recent |= bit
        self.received += 1
        return Verdict.REORDERED

    def _duplicate(self) -> Verdict:
        self.received += 1  # §6.4.1 counts duplicates as received
        self.duplicates += 1
        return Verdict.DUPLICATE

    def observe_jitter(self, timestamp: int, arrival: float, clock_rate: int) -> None:
        """A.8: J += (|D(i-1,i)| - J) / 16, in timestamp units, arrival on the injected clock."""
        if self.jitter_arrival is not None:
            transit_change = (arrival - self.jitter_arrival) * clock_rate - timestamp_delta(
                timestamp, self.jitter_timestamp
            )
            self.jitter += (abs(transit_change) - self.jitter) / 16.0
        self.jitter_arrival = arrival
        self.jitter_timestamp = timestamp

    # ------------------------------------------------------------------ figures

    def expected(self) -> int:
        """A.3: packets expected from the base to the extended highest sequence number."""
        return self.cycles + self.max_seq - self.base_seq + 1

    def true_lost(self) -> int:
        return max(0, self.expected() - (self.received - self.duplicates))

    def report_block(self, now: float) -> ReportBlock:
        """A.3 interval and cumulative loss, jitter, and the LSR/DLSR echo (§6.4.1)."""
        expected = self.expected()
        expected_interval = expected - self.expected_prior
        self.expected_prior = expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        delay = 0
        if self.last_sr:
            delay = min(_U32, int((now - self.last_sr_arrival) * 65536.0))
        return ReportBlock(
            self.ssrc,
            fraction,
            clamp_cumulative_lost(expected - self.received),
            (self.cycles + self.max_seq) & _U32,
            min(_U32, int(self.jitter)),
            self.last_sr,
            delay,
        )
