"""A sans-IO RTP/RTCP session: one media stream between us and one peer (RFC 3550, RFC 4961).

The object follows the project's sans-IO contract: datagrams in through
:meth:`RtpSession.receive_datagram` (RTP port; RTCP too when multiplexed) and
:meth:`RtpSession.receive_rtcp_datagram` (RTCP port), datagrams out through
:meth:`RtpSession.datagrams_to_send` (each names the socket, ``rtp`` or ``rtcp``), happenings as
values from :meth:`RtpSession.next_event`, one deadline from :meth:`RtpSession.get_timer`.  Time
and randomness (SSRC, initial sequence and timestamp, RTCP interval) are injected.

Sending.  After :meth:`start_pacing` the session raises a :class:`FrameDue` event at every ptime
deadline; the application answers with :meth:`send_frame` (an encoded payload and the number of
samples it covers) or with nothing, which is silence suppression: the media clock moves on and the
next packet starts a talk-spurt (marker bit, RFC 3551 §4.1).  RFC 4733 events go through
:meth:`send_event`, which keeps the event's own timestamp for every packet of the event and puts
the marker on its first packet only.  Without pacing the application may call :meth:`send_frame`
on its own clock and :meth:`skip_frame` for suppressed frames.

Receiving follows RFC 3550 Appendix A (the per-source state is
:class:`gateway.media.rtp_reception.SourceReception`): source validation with probation (A.1;
the packets that carried a source through probation are held and delivered once it is valid,
rather than dropped as in the sample code), sequence wrap and cycles, resynchronisation after a
large jump, A.3 loss accounting and the A.8 interarrival jitter using the injected arrival time.
Duplicates (found in a 64-packet window) are counted and not delivered; packets older than that
window count as ``late`` and are not delivered either (more than a second old, no use to a voice
path).  RTCP arriving on the RTP port is dropped unless ``rtcp_mux`` is on (RFC 5761).

Symmetric RTP (RFC 4961, "comedia" latching): when ``symmetric`` is set the session sends to the
address the validated source sends from, accepts that source only from that address, and
re-latches when a new SSRC passes probation; RTCP is latched from the first compound the current
source sends.

RTCP: reports at the RFC 3550 §6.3 interval (A.7 with timer reconsideration, randomised with the
injected random source, half the minimum before the first report), an SR while we send and an RR
otherwise, SDES CNAME in each compound, BYE on :meth:`close`.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, Literal

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.media.rtcp import (
    SDES_CNAME,
    Goodbye,
    ReceiverReport,
    ReportBlock,
    RtcpCompound,
    RtcpPacket,
    SdesChunk,
    SdesItem,
    SenderReport,
    SourceDescription,
    ntp_from_unix,
    ntp_middle,
)
from gateway.media.rtcp_interval import rtcp_interval
from gateway.media.rtp import RtpPacket, pack_rtp
from gateway.media.rtp_reception import SourceReception, Verdict
from gateway.trace import Address, TraceEvent, TraceSink, discard

Channel = Literal["rtp", "rtcp"]

_TS_MASK: Final = 0xFFFFFFFF
UDP_IP_OVERHEAD: Final = 28  # §6.3.3 counts lower-layer headers in the average RTCP size
# After set_remote, packets still in flight from the old address must not re-latch to it (the
# source would then be refused from its new address for good); after this many in a row from
# there, the peer evidently did not move and the old address is accepted again.
STALE_ADDRESS_PACKETS: Final = 10


@dataclass(frozen=True, slots=True)
class RtpSessionConfig:
    """What SDP negotiated and how the session should behave.

    ``session_bandwidth`` is in bits/s including headers (SDP ``b=AS``); RTCP gets 5 % of it.
    ``wallclock_offset`` is the Unix time at ``now == 0`` (the adapter passes
    ``time.time() - time.monotonic()``) so SR packets carry true NTP timestamps.
    ``ssrc`` / ``initial_sequence`` / ``initial_timestamp`` override the random choices
    (deterministic scenarios, wrap-around tests).  ``trace_packets`` traces every RTP packet;
    RTCP compounds and drops are always traced.
    """

    payload_type: int = 0
    clock_rate: int = 8000
    ptime: float = 0.020
    event_payload_type: int | None = 101
    remote_rtp: Address | None = None
    remote_rtcp: Address | None = None
    local_rtp: Address | None = None
    local_rtcp: Address | None = None
    rtcp_mux: bool = False
    rtcp_enabled: bool = True
    rtcp_reduced_minimum: bool = False
    symmetric: bool = True
    cname: str = "gwemu@localhost"
    session_bandwidth: float = 80_000.0
    media_timeout: float | None = None
    min_sequential: int = 2
    wallclock_offset: float = 0.0
    trace_packets: bool = False
    node: str = "gwemu"
    call_id: str | None = None
    ssrc: int | None = None
    initial_sequence: int | None = None
    initial_timestamp: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= 127:
            raise LocalProtocolError(f"payload type {self.payload_type} is not in 0..127")
        if self.event_payload_type is not None and not 0 <= self.event_payload_type <= 127:
            raise LocalProtocolError(f"event payload type {self.event_payload_type} not in 0..127")
        if self.clock_rate <= 0 or self.ptime <= 0:
            raise LocalProtocolError("clock rate and ptime must be positive")
        if self.min_sequential < 1:
            raise LocalProtocolError("min_sequential must be at least 1")
        if self.session_bandwidth <= 0:
            raise LocalProtocolError("session bandwidth must be positive")
        if self.media_timeout is not None and self.media_timeout <= 0:
            raise LocalProtocolError("media timeout must be positive (or None)")

    @property
    def samples_per_frame(self) -> int:
        return round(self.ptime * self.clock_rate)


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class Datagram:
    """One datagram to send from the ``rtp`` or ``rtcp`` socket to ``address``."""

    data: bytes
    address: Address
    channel: Channel

    def __init__(self, data: bytes, address: Address, channel: Channel) -> None:
        # One per packet sent: compiled field stores (see RtpPacket.__init__ for why).
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "address", address)
        object.__setattr__(self, "channel", channel)


@dataclass(frozen=True, slots=True)
class RtpReceived:
    """A valid RTP packet of the current source, in arrival order."""

    packet: RtpPacket
    arrival: float


@dataclass(frozen=True, slots=True)
class FrameDue:
    """A send deadline passed: the frame for RTP timestamp ``timestamp`` should go now."""

    time: float
    timestamp: int


@dataclass(frozen=True, slots=True)
class SourceValidated:
    """A new remote SSRC passed probation and is now the source we receive."""

    ssrc: int
    address: Address
    previous_ssrc: int | None


@dataclass(frozen=True, slots=True)
class RemoteLatched:
    """Symmetric RTP moved our destination for ``channel`` to ``address`` (RFC 4961)."""

    channel: Channel
    address: Address


@dataclass(frozen=True, slots=True)
class RtcpReceived:
    """A valid RTCP compound arrived (reports are already folded into the statistics)."""

    compound: RtcpCompound
    address: Address
    arrival: float


@dataclass(frozen=True, slots=True)
class ByeReceived:
    """The current source said BYE (RFC 3550 §6.6)."""

    ssrc: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class MediaTimeout:
    """No RTP from the peer for ``media_timeout`` seconds (fires once per silence)."""

    time: float
    last_rtp: float | None
    last_rtcp: float | None


@dataclass(frozen=True, slots=True)
class SsrcCollision:
    """The peer uses our SSRC; we moved to a new one and said BYE for the old (§8.2)."""

    old_ssrc: int
    new_ssrc: int


RtpSessionEvent = (
    RtpReceived
    | FrameDue
    | SourceValidated
    | RemoteLatched
    | RtcpReceived
    | ByeReceived
    | MediaTimeout
    | SsrcCollision
)


@dataclass(frozen=True, slots=True)
class RtpStatistics:
    """A snapshot of the session's counters (octets are payload octets, as in an SR).

    ``packets_received`` counts unique packets delivered; ``packets_lost`` is the true loss
    (expected minus those), while the RR we send carries the RFC 3550 §6.4.1 figure, which counts
    duplicates as received.  ``out_of_order`` counts delivered packets that came after a higher
    sequence number; ``duplicates`` and ``late`` (older than the 64-packet window) were counted
    and not delivered; ``dropped`` counts datagrams refused outright (malformed, from an address
    other than the latched one, a sequence jump awaiting confirmation).  ``remote_*`` are what
    the peer last reported about our stream; ``round_trip_ms`` comes from LSR/DLSR (§6.4.1).
    """

    ssrc: int
    packets_sent: int
    octets_sent: int
    remote_ssrc: int | None
    packets_received: int
    octets_received: int
    packets_expected: int
    packets_lost: int
    jitter_ms: float
    out_of_order: int
    duplicates: int
    late: int
    dropped: int
    rtcp_sent: int
    rtcp_received: int
    round_trip_ms: float | None
    remote_fraction_lost: float | None
    remote_cumulative_lost: int | None
    remote_jitter_ms: float | None


# --------------------------------------------------------------------------- the session


class RtpSession:
    """One RTP stream each way plus its RTCP; see the module docstring for the contract."""

    def __init__(
        self,
        config: RtpSessionConfig,
        rng: random.Random,
        now: float,
        trace: TraceSink = discard,
    ) -> None:
        self._config = config
        self._rng = rng
        self._trace = trace
        self._rate = config.clock_rate
        self._samples_per_frame = config.samples_per_frame
        self._payload_type = config.payload_type
        self._event_pt = config.event_payload_type
        self._trace_packets = config.trace_packets
        self._mux = config.rtcp_mux
        self._symmetric = config.symmetric
        self._ssrc = config.ssrc if config.ssrc is not None else rng.getrandbits(32)
        self._sequence = (
            config.initial_sequence if config.initial_sequence is not None else rng.getrandbits(16)
        ) & 0xFFFF
        initial_ts = (
            config.initial_timestamp
            if config.initial_timestamp is not None
            else rng.getrandbits(32)
        )
        # The media clock as an unbounded integer; packets carry it modulo 2**32.
        self._media_ts = initial_ts & _TS_MASK
        self._talkspurt = True
        self._event_ts = 0
        self._remote_rtp = config.remote_rtp
        self._remote_rtcp = self._rtcp_address_for(config.remote_rtp, config.remote_rtcp)
        self._rtcp_latched = False
        self._events: deque[RtpSessionEvent] = deque()
        self._packet_sink: Callable[[RtpPacket, float], None] | None = None
        self._out: list[Datagram] = []
        self._closed = False
        # pacing
        self._pacing = False
        self._pace_start = 0.0
        self._pace_ts0 = 0
        self._next_slot = 0
        # sending statistics
        self._packets_sent = 0
        self._octets_sent = 0
        # The media clock of the last audio frame sent, and when: SR timestamps extrapolate it.
        self._last_audio_ts = self._media_ts
        self._last_audio_time: float | None = None
        self._sent_this_interval = False
        self._sent_last_interval = False
        # receiving
        self._source: SourceReception | None = None
        self._stale_address: Address | None = None
        self._stale_packets = 0
        self._candidate: SourceReception | None = None
        self._packets_received = 0
        self._octets_received = 0
        self._out_of_order = 0
        self._duplicates = 0
        self._late = 0
        self._dropped = 0
        self._prior_expected = 0
        self._prior_lost = 0
        self._timeout_base = now
        self._last_rtp: float | None = None
        self._last_rtcp: float | None = None
        self._timeout_reported = False
        # RTCP
        self._rtcp_sent = 0
        self._rtcp_received = 0
        self._rtcp_initial = True
        self._rtcp_prev = now
        self._round_trip: float | None = None
        self._remote_report: ReportBlock | None = None
        self._avg_rtcp_size = float(len(self._report_compound_bytes()) + UDP_IP_OVERHEAD)
        self._rtcp_next: float | None = (
            now + self._rtcp_interval(initial=True) if config.rtcp_enabled else None
        )

    # ------------------------------------------------------------------ properties

    @property
    def ssrc(self) -> int:
        return self._ssrc

    @property
    def sequence(self) -> int:
        """The sequence number the next new packet will carry."""
        return self._sequence

    @property
    def timestamp(self) -> int:
        """The RTP timestamp the next audio frame will carry."""
        return self._media_ts & _TS_MASK

    @property
    def remote_rtp(self) -> Address | None:
        return self._remote_rtp

    @property
    def remote_rtcp(self) -> Address | None:
        return self._remote_rtcp

    @property
    def remote_ssrc(self) -> int | None:
        return self._source.ssrc if self._source else None

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ configuration changes

    def set_remote(self, rtp: Address | None, rtcp: Address | None = None) -> None:
        """New destination from SDP (re-INVITE).  The current source may move with it: its next
        packet from any other address than the one it used so far is accepted and re-latched."""
        self._remote_rtp = rtp
        self._remote_rtcp = self._rtcp_address_for(rtp, rtcp)
        self._rtcp_latched = False
        if self._source is not None:
            old = self._source.address
            self._stale_address = None if old == rtp else old
            self._stale_packets = 0
            self._source.address = None

    def set_packet_sink(self, sink: Callable[[RtpPacket, float], None] | None) -> None:
        """Hand every delivered RTP packet to ``sink(packet, arrival)`` instead of queueing an
        :class:`RtpReceived` event for it (``None``: events again).  For an owner that consumes
        each packet at once (the media bridge): an event object per packet, queued and then
        dispatched by type, is pure overhead at 50 packets/s per call.  Every other event still
        comes from :meth:`next_event`."""
        self._packet_sink = sink

    def set_payload_type(self, payload_type: int) -> None:
        """The payload type :meth:`send_frame` uses by default from now on."""
        if not 0 <= payload_type <= 127:
            raise LocalProtocolError(f"payload type {payload_type} is not in 0..127")
        self._payload_type = payload_type

    def set_media_timeout(self, seconds: float | None, now: float) -> None:
        """Change or disable (``None``) the media timeout, e.g. while the peer holds the call."""
        self._config = replace(self._config, media_timeout=seconds)
        self._timeout_base = now
        self._timeout_reported = False

    # ------------------------------------------------------------------ sending

    def start_pacing(self, now: float) -> None:
        """Raise :class:`FrameDue` every ptime from ``now`` on (the first deadline is ``now``)."""
        self._check_open()
        self._pacing = True
        self._pace_start = now
        self._pace_ts0 = self._media_ts
        self._next_slot = 0

    def stop_pacing(self) -> None:
        self._pacing = False

    def send_frame(
        self,
        payload: bytes,
        now: float,
        *,
        samples: int | None = None,
        payload_type: int | None = None,
        marker: bool | None = None,
    ) -> bool:
        """Send one encoded frame covering ``samples`` (default: one ptime) at the media clock.

        The marker is set on the first packet of a talk-spurt unless ``marker`` overrides it.
        Returns ``False`` when no remote address is known yet (comedia before the first packet);
        nothing is sent then and the sequence number does not advance.
        """
        if self._closed:
            raise LocalProtocolError("send_frame on a closed RTP session")
        address = self._remote_rtp
        if address is None:
            return False
        mark = self._talkspurt if marker is None else marker
        timestamp = self._media_ts & _TS_MASK
        self._emit_rtp(
            self._payload_type if payload_type is None else payload_type,
            mark,
            self._sequence,
            timestamp,
            payload,
            address,
            now,
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._last_audio_ts = self._media_ts
        self._last_audio_time = now
        self._media_ts += self._samples_per_frame if samples is None else samples
        self._talkspurt = False
        return True

    def skip_frame(self, samples: int | None = None) -> None:
        """No packet for this frame (silence suppression, unpaced mode): the media clock
        advances and the next packet starts a talk-spurt."""
        self._media_ts += self._samples_per_frame if samples is None else samples
        self._talkspurt = True

    def send_event(
        self,
        payload: bytes,
        now: float,
        *,
        new_event: bool = False,
        timestamp: int | None = None,
        marker: bool | None = None,
        repeat: bool = False,
        payload_type: int | None = None,
    ) -> bool:
        """Send one RFC 4733 event packet (the payload is built by the DTMF module).

        ``new_event`` starts an event: its timestamp is the current media clock and its first
        packet carries the marker (RFC 4733 §2.5.1.1/2.5.1.3).  Later packets of the event keep
        that timestamp without marker.  ``timestamp`` overrides it (a long event's next segment,
        §2.5.2.2); ``repeat`` resends with the previous event packet's sequence number, the way
        some senders (SIPp's captures) repeat the final packet.  Audio after an event starts a new
        talk-spurt.
        """
        if self._closed:
            raise LocalProtocolError("send_event on a closed RTP session")
        pt = self._event_pt if payload_type is None else payload_type
        if pt is None:
            raise LocalProtocolError("no telephone-event payload type was negotiated")
        address = self._remote_rtp
        if address is None:
            return False
        if new_event:
            self._event_ts = self._media_ts & _TS_MASK
        if timestamp is not None:
            self._event_ts = timestamp & _TS_MASK
        mark = new_event if marker is None else marker
        if repeat:
            self._emit_rtp(
                pt,
                mark,
                (self._sequence - 1) & 0xFFFF,
                self._event_ts,
                payload,
                address,
                now,
                count=False,
            )
        else:
            self._emit_rtp(pt, mark, self._sequence, self._event_ts, payload, address, now)
            self._sequence = (self._sequence + 1) & 0xFFFF
        self._talkspurt = True
        return True

    def _emit_rtp(
        self,
        payload_type: int,
        marker: bool,
        sequence: int,
        timestamp: int,
        payload: bytes,
        address: Address,
        now: float,
        *,
        count: bool = True,
    ) -> None:
        data = pack_rtp(payload_type, marker, sequence, timestamp, self._ssrc, payload)
        self._out.append(Datagram(data, address, "rtp"))
        if count:
            self._packets_sent += 1
            self._octets_sent += len(payload)
        self._sent_this_interval = True
        if self._trace_packets:
            mark = ", Mark" if marker else ""
            self._emit_trace(
                now,
                "rtp",
                "out",
                f"RTP PT={payload_type}, SSRC=0x{self._ssrc:08X}, Seq={sequence}, "
                f"Time={timestamp}{mark}, {len(payload)} octets",
                data,
                address,
            )

    # ------------------------------------------------------------------ sans-IO outputs

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> RtpSessionEvent | None:
        events = self._events
        return events.popleft() if events else None

    def get_timer(self) -> float | None:
        if self._closed:
            return None
        deadlines = []
        if self._pacing:
            deadlines.append(self._pace_start + self._next_slot * self._config.ptime)
        if self._rtcp_next is not None:
            deadlines.append(self._rtcp_next)
        timeout = self._timeout_deadline()
        if timeout is not None:
            deadlines.append(timeout)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        if self._closed:
            return
        if self._pacing:
            self._pace(now)
        if self._rtcp_next is not None and now >= self._rtcp_next:
            self._rtcp_expired(now)
        timeout = self._timeout_deadline()
        if timeout is not None and now >= timeout:
            self._timeout_reported = True
            self._events.append(MediaTimeout(now, self._last_rtp, self._last_rtcp))
            self._emit_trace(now, "rtp", "note", "media timeout: no RTP received", b"", None)

    def _pace(self, now: float) -> None:
        ptime = self._config.ptime
        due = math.floor((now - self._pace_start) / ptime + 1e-9)
        if due < self._next_slot:
            return
        # One FrameDue, for the latest due slot: when the timer ran late, the missed slots
        # become a gap (the next packet starts a talk-spurt) rather than a burst the peer must
        # absorb; an application holding queued audio may still send several frames at once.
        clock = self._pace_ts0 + due * self._samples_per_frame
        if self._media_ts < clock:
            # Nothing was sent for the elapsed slot(s): silence, the media clock jumps.
            self._media_ts = clock
            self._talkspurt = True
        self._next_slot = due + 1
        self._events.append(FrameDue(self._pace_start + due * ptime, self._media_ts & _TS_MASK))

    def _timeout_deadline(self) -> float | None:
        timeout = self._config.media_timeout
        if timeout is None or self._timeout_reported:
            return None
        base = self._timeout_base
        if self._last_rtp is not None and self._last_rtp > base:
            base = self._last_rtp
        return base + timeout

    # ------------------------------------------------------------------ receiving RTP

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """A datagram arrived on the RTP socket (RTCP too when ``rtcp_mux``)."""
        if self._closed:
            return
        if len(data) > 1 and 192 <= data[1] <= 223:  # is_rtcp(), inlined on the packet path
            if self._mux:
                self.receive_rtcp_datagram(data, addr, now)
            else:
                self._drop(now, "rtp", data, addr, "RTCP on the RTP port without rtcp-mux")
            return
        try:
            packet = RtpPacket.parse(data)
        except RemoteProtocolError as error:
            self._drop(now, "rtp", data, addr, error.reason)
            return
        source = self._source
        if source is not None and packet.ssrc == source.ssrc:
            if addr != source.address:
                if source.address is not None and self._symmetric:
                    self._drop(
                        now, "rtp", data, addr, f"RTP from {addr}, latched to {source.address}"
                    )
                    return
                if addr == self._stale_address and self._stale_packets < STALE_ADDRESS_PACKETS:
                    self._stale_packets += 1
                    self._drop(now, "rtp", data, addr, f"RTP from {addr}, sent before the move")
                    return
                self._stale_address = None
                self._move_source(source, addr, now)
            self._accept(source, packet, now, data)
            return
        if packet.ssrc == self._ssrc:
            self._collision(now)
        self._probe(packet, addr, now, data)

    def _accept(self, source: SourceReception, packet: RtpPacket, now: float, data: bytes) -> None:
        """Sequence checks (RFC 3550 A.1), then delivery or a counted drop."""
        verdict = source.update(packet.sequence)
        if verdict is Verdict.IN_ORDER:
            pass
        elif verdict is Verdict.REORDERED:
            self._out_of_order += 1
        elif verdict is Verdict.RESYNCED:
            self._emit_trace(now, "rtp", "note", "RTP sequence resynchronised", b"", None)
        else:
            if verdict is Verdict.DUPLICATE:
                self._duplicates += 1
                reason = f"Seq={packet.sequence} duplicate"
            elif verdict is Verdict.LATE:
                self._late += 1
                reason = f"Seq={packet.sequence} older than the reorder window"
            else:
                self._dropped += 1
                reason = f"Seq={packet.sequence} jumped; waiting for a second packet"
            if self._trace_packets:
                self._emit_trace(now, "rtp", "drop", f"RTP dropped: {reason}", data, source.address)
            return
        self._deliver(source, packet, now)
        if self._trace_packets:
            self._emit_trace(now, "rtp", "in", packet.summary(), data, source.address)

    def _deliver(self, source: SourceReception, packet: RtpPacket, now: float) -> None:
        self._packets_received += 1
        self._octets_received += len(packet.payload)
        source.sent_since_report = True
        if packet.payload_type != self._event_pt:
            # Event packets repeat one timestamp over time and would read as jitter.
            source.observe_jitter(packet.timestamp, now, self._rate)
        self._last_rtp = now
        self._timeout_reported = False
        sink = self._packet_sink
        if sink is None:
            self._events.append(RtpReceived(packet, now))
        else:
            sink(packet, now)

    def _probe(self, packet: RtpPacket, addr: Address, now: float, data: bytes) -> None:
        """A.1 probation for an SSRC that is not (yet) our source."""
        if self._trace_packets:
            self._emit_trace(now, "rtp", "in", packet.summary() + " (probation)", data, addr)
        candidate = self._candidate
        if candidate is None or candidate.ssrc != packet.ssrc or candidate.address != addr:
            candidate = SourceReception(
                packet.ssrc, addr, packet.sequence, self._config.min_sequential
            )
            self._candidate = candidate
        if candidate.probe(packet, now, self._config.min_sequential):
            self._promote(candidate, now)

    def _promote(self, candidate: SourceReception, now: float) -> None:
        """The candidate passed probation: it becomes the source and its held packets flow."""
        held = candidate.validate()
        previous = self._source
        if previous is not None:
            self._retire_counts(previous)
        self._source = candidate
        self._candidate = None
        address = candidate.address
        assert address is not None
        self._events.append(
            SourceValidated(candidate.ssrc, address, previous.ssrc if previous else None)
        )
        self._emit_trace(
            now, "rtp", "note", f"RTP source 0x{candidate.ssrc:08X} validated", b"", address
        )
        if self._symmetric:
            self._latch(address, now)
        for packet, arrival in held:
            self._deliver(candidate, packet, arrival)

    def _move_source(self, source: SourceReception, addr: Address, now: float) -> None:
        source.address = addr
        if self._symmetric:
            self._latch(addr, now)

    def _latch(self, address: Address, now: float) -> None:
        if address != self._remote_rtp:
            self._remote_rtp = address
            self._events.append(RemoteLatched("rtp", address))
            self._emit_trace(now, "rtp", "note", f"RTP latched to {address}", b"", address)
        if not self._rtcp_latched:
            self._remote_rtcp = self._rtcp_address_for(address, None)

    def _retire_counts(self, source: SourceReception) -> None:
        self._prior_expected += source.retired_expected + source.expected()
        self._prior_lost += source.retired_lost + source.true_lost()

    def _collision(self, now: float) -> None:
        """RFC 3550 §8.2: the peer uses our SSRC; say BYE for it and pick another."""
        old = self._ssrc
        new = old
        while new == old:
            new = self._rng.getrandbits(32)
        if self._config.rtcp_enabled:
            self._send_compound(
                [*self._report_packets(now), Goodbye((old,), b"SSRC collision")], now
            )
        self._ssrc = new
        self._events.append(SsrcCollision(old, new))
        self._emit_trace(
            now, "rtp", "note", f"SSRC collision: 0x{old:08X} -> 0x{new:08X}", b"", None
        )

    # ------------------------------------------------------------------ receiving RTCP

    def receive_rtcp_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """A datagram arrived on the RTCP socket."""
        if self._closed:
            return
        try:
            compound = RtcpCompound.parse(data)
        except RemoteProtocolError as error:
            self._drop(now, "rtcp", data, addr, error.reason)
            return
        self._rtcp_received += 1
        self._last_rtcp = now
        # §6.3.3: the average RTCP size includes received packets.
        self._avg_rtcp_size += (len(data) + UDP_IP_OVERHEAD - self._avg_rtcp_size) / 16.0
        self._emit_trace(now, "rtcp", "in", compound.summary(), data, addr)
        source = self._source
        for packet in compound.packets:
            if isinstance(packet, SenderReport | ReceiverReport):
                if isinstance(packet, SenderReport) and source and packet.ssrc == source.ssrc:
                    source.last_sr = ntp_middle(packet.ntp_timestamp)
                    source.last_sr_arrival = now
                for block in packet.reports:
                    if block.ssrc == self._ssrc:
                        self._take_report(block, now)
            elif isinstance(packet, Goodbye) and source and source.ssrc in packet.ssrcs:
                self._events.append(ByeReceived(source.ssrc, packet.text))
        reporter = compound.packets[0]
        assert isinstance(reporter, SenderReport | ReceiverReport)
        if (
            self._symmetric
            and not self._mux
            and (source is None or reporter.ssrc == source.ssrc)
            and not self._rtcp_latched
        ):
            self._rtcp_latched = True
            if addr != self._remote_rtcp:
                self._remote_rtcp = addr
                self._events.append(RemoteLatched("rtcp", addr))
        self._events.append(RtcpReceived(compound, addr, now))

    def _take_report(self, block: ReportBlock, now: float) -> None:
        self._remote_report = block
        if block.last_sr:
            arrival = ntp_middle(ntp_from_unix(now + self._config.wallclock_offset))
            # RFC 3550 §6.4.1: RTT = A - LSR - DLSR, in 1/65536 s.
            rtt = (arrival - block.last_sr - block.delay_since_last_sr) & _TS_MASK
            if rtt < 0x80000000:
                self._round_trip = rtt / 65536.0

    # ------------------------------------------------------------------ sending RTCP

    def _rtcp_interval(self, *, initial: bool) -> float:
        """RFC 3550 A.7 for a unicast session: us and (once known) one peer."""
        we_sent = self._sent_this_interval or self._sent_last_interval
        remote_sent = self._source is not None and self._source.sent_since_report
        return rtcp_interval(
            members=2 if (self._source is not None or self._remote_rtp is not None) else 1,
            senders=int(we_sent) + int(remote_sent),
            we_sent=we_sent,
            avg_rtcp_size=self._avg_rtcp_size,
            session_bandwidth=self._config.session_bandwidth,
            initial=initial,
            reduced_minimum=self._config.rtcp_reduced_minimum,
            rng=self._rng,
        )

    def _rtcp_expired(self, now: float) -> None:
        """``OnExpire`` of RFC 3550 A.7 with timer reconsideration."""
        next_time = self._rtcp_prev + self._rtcp_interval(initial=self._rtcp_initial)
        if next_time <= now:
            self._send_compound(self._report_packets(now), now)
            self._rtcp_prev = now
            self._rtcp_initial = False
            self._rtcp_next = now + self._rtcp_interval(initial=False)
        else:
            self._rtcp_next = next_time

    def _report_packets(self, now: float) -> list[RtcpPacket]:
        """SR if we sent since the report before last (§6.4), RR otherwise, then SDES CNAME."""
        we_sent = self._sent_this_interval or self._sent_last_interval
        self._sent_last_interval = self._sent_this_interval
        self._sent_this_interval = False
        source = self._source
        blocks: tuple[ReportBlock, ...] = ()
        if source is not None:
            blocks = (source.report_block(now),)
            source.sent_since_report = False
        report: RtcpPacket
        if we_sent:
            # §6.4.1: the RTP timestamp of the same instant as the NTP timestamp, on the media
            # clock (event packets carry their event's start time, so they do not count).
            rtp_ts = self._last_audio_ts
            if self._last_audio_time is not None:
                rtp_ts += round((now - self._last_audio_time) * self._rate)
            report = SenderReport(
                self._ssrc,
                ntp_from_unix(now + self._config.wallclock_offset),
                rtp_ts & _TS_MASK,
                self._packets_sent & _TS_MASK,
                self._octets_sent & _TS_MASK,
                blocks,
            )
        else:
            report = ReceiverReport(self._ssrc, blocks)
        return [report, self._sdes()]

    def _sdes(self) -> SourceDescription:
        cname = self._config.cname.encode("utf-8")[:255]
        return SourceDescription((SdesChunk(self._ssrc, (SdesItem(SDES_CNAME, cname),)),))

    def _report_compound_bytes(self) -> bytes:
        """The size-model compound for the initial avg_rtcp_size (A.7), without side effects."""
        return bytes(RtcpCompound((ReceiverReport(self._ssrc), self._sdes())))

    def _send_compound(self, packets: list[RtcpPacket], now: float) -> None:
        address = self._remote_rtcp
        if address is None:
            return
        compound = RtcpCompound(tuple(packets))
        data = bytes(compound)
        channel: Channel = "rtp" if self._mux else "rtcp"
        self._out.append(Datagram(data, address, channel))
        self._rtcp_sent += 1
        self._avg_rtcp_size += (len(data) + UDP_IP_OVERHEAD - self._avg_rtcp_size) / 16.0
        self._emit_trace(now, "rtcp", "out", compound.summary(), data, address)

    def close(self, now: float, reason: str | None = None) -> None:
        """Leave the session: a final report with BYE (RFC 3550 §6.6), then no more timers."""
        if self._closed:
            return
        if self._config.rtcp_enabled:
            text = None if reason is None else reason.encode("utf-8")[:255]
            self._send_compound([*self._report_packets(now), Goodbye((self._ssrc,), text)], now)
        self._closed = True
        self._pacing = False
        self._rtcp_next = None

    def _check_open(self) -> None:
        if self._closed:
            raise LocalProtocolError("the RTP session is closed")

    # ------------------------------------------------------------------ statistics

    def statistics(self) -> RtpStatistics:
        source = self._source
        expected = self._prior_expected
        lost = self._prior_lost
        jitter_ms = 0.0
        if source is not None:
            expected += source.retired_expected + source.expected()
            lost += source.retired_lost + source.true_lost()
            jitter_ms = source.jitter / self._rate * 1000.0
        report = self._remote_report
        return RtpStatistics(
            ssrc=self._ssrc,
            packets_sent=self._packets_sent,
            octets_sent=self._octets_sent,
            remote_ssrc=source.ssrc if source else None,
            packets_received=self._packets_received,
            octets_received=self._octets_received,
            packets_expected=expected,
            packets_lost=lost,
            jitter_ms=jitter_ms,
            out_of_order=self._out_of_order,
            duplicates=self._duplicates,
            late=self._late,
            dropped=self._dropped,
            rtcp_sent=self._rtcp_sent,
            rtcp_received=self._rtcp_received,
            round_trip_ms=None if self._round_trip is None else self._round_trip * 1000.0,
            remote_fraction_lost=None if report is None else report.fraction_lost / 256.0,
            remote_cumulative_lost=None if report is None else report.cumulative_lost,
            remote_jitter_ms=None if report is None else report.jitter / self._rate * 1000.0,
        )

    # ------------------------------------------------------------------ tracing

    def _drop(
        self, now: float, protocol: Literal["rtp", "rtcp"], data: bytes, addr: Address, reason: str
    ) -> None:
        self._dropped += 1
        self._emit_trace(now, protocol, "drop", f"{protocol.upper()} dropped: {reason}", data, addr)

    def _emit_trace(
        self,
        now: float,
        protocol: Literal["rtp", "rtcp"],
        direction: Literal["in", "out", "drop", "note"],
        summary: str,
        raw: bytes,
        remote: Address | None,
    ) -> None:
        config = self._config
        local = config.local_rtp
        if protocol == "rtcp" and not config.rtcp_mux:
            local = config.local_rtcp
        self._trace(
            TraceEvent(
                time=now,
                node=config.node,
                protocol=protocol,
                direction=direction,
                summary=summary,
                raw=raw,
                local=local,
                remote=remote,
                transport="udp" if remote is not None and raw else "none",
                call_id=config.call_id,
            )
        )

    def _rtcp_address_for(self, rtp: Address | None, rtcp: Address | None) -> Address | None:
        """RTCP goes where SDP said (``a=rtcp``), else to the RTP address when multiplexed
        (RFC 5761), else to the next higher port (RFC 3550 §11)."""
        if rtcp is not None:
            return rtcp
        if rtp is None:
            return None
        return rtp if self._mux else (rtp[0], rtp[1] + 1)
