"""Adaptive jitter buffer for the line direction (RTP in, one frame at a time out to the line).

Packets go in with their arrival time (:meth:`JitterBuffer.put`); the line's clock pulls one unit
per call of :meth:`JitterBuffer.pop` and gets

* :class:`PlayoutFrame` -- the packet due now (its payload still encoded);
* :class:`MissingFrame` -- nothing to play although the stream is talking: the decoder conceals
  (packet loss concealment).  ``reason`` says why: ``lost`` (a later packet is already here),
  ``underrun`` (nothing buffered yet) or ``stretch`` (inserted on purpose to grow the delay);
* :class:`SilentFrame` -- the stream is not talking (before the start, between talk-spurts,
  after a long outage): play silence or comfort noise.

:meth:`JitterBuffer.pop_fields` is the same with the packet due handed out as a plain tuple of
the :class:`PlayoutFrame` fields, the way the buffer stores it: the media bridge's line clock
takes that path 50 times a second per call.  (A tuple of numbers and bytes also leaves the
garbage collector's books at its first collection, where a packet object held for the jitter
delay would be promoted and walked by every full collection.)

A missing frame never consumes the packet behind it: the next good packet plays on the next pop.

Model.  Every packet's *transit* is ``arrival - timestamp / rate``.  The smallest transit seen in
a sliding window is the network's base delay (the window lets it follow clock drift); a packet's
*spread* is how much later than that it came.  The jitter estimate is the peak spread, which
rises at once (so a late packet grows the delay immediately) and decays exponentially (so the
delay shrinks slowly).  The target delay is that peak plus one frame, within ``min_delay`` and
``max_delay``.  The timestamp that should play at ``now`` is
``(now - base - target) * rate``; the buffer compares it with what it is about to play:

* between talk-spurts (a gap whose next packet carries the marker or follows the last one played
  without a sequence gap, i.e. silence suppression) the next spurt simply starts when it is due,
  which moves the delay to the target for free;
* while talking, a buffer that runs more than a frame ahead of the target inserts one concealed
  frame (at most once per ``stretch_interval``: growing is urgent, late packets are being lost),
  and one that lags more than a frame behind drops one frame (at most once per
  ``compress_interval``: shrinking is a comfort, not a need), so continuous streams without
  silence suppression still converge.

Timestamps are unwrapped to unbounded integers, so 32-bit wrap-around is invisible here.  A new
SSRC, or a timestamp jump that disagrees with the arrival time by more than ``resync_after``
(the sender restarted its clock), starts the buffer afresh.  The buffer indexes by timestamp:
put audio only (RFC 4733 events, which repeat a timestamp, go to the event decoder).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Literal

from gateway.errors import LocalProtocolError
from gateway.media.rtp import RtpPacket, sequence_delta

MissingReason = Literal["lost", "underrun", "stretch"]


@dataclass(frozen=True, slots=True)
class JitterBufferConfig:
    """Delays in seconds; ``frame_samples`` is the line's frame (160 = 20 ms at 8 kHz).

    ``jitter_decay`` is the time constant of the peak-jitter estimate (how slowly the delay
    shrinks); ``base_window`` how long a minimum transit is trusted (clock drift);
    ``max_concealment`` how long a talking stream is concealed before it counts as silent;
    ``resync_after`` how far a timestamp may disagree with the arrival clock before the stream
    is taken as restarted; ``capacity`` bounds the packets held.
    """

    clock_rate: int = 8000
    frame_samples: int = 160
    min_delay: float = 0.020
    max_delay: float = 0.200
    initial_delay: float = 0.060
    jitter_decay: float = 4.0
    stretch_interval: float = 0.06
    compress_interval: float = 0.5
    base_window: float = 4.0
    max_concealment: float = 0.100
    resync_after: float = 1.0
    capacity: int = 256

    def __post_init__(self) -> None:
        if self.clock_rate <= 0 or self.frame_samples <= 0:
            raise LocalProtocolError("clock rate and frame size must be positive")
        if not 0 <= self.min_delay <= self.initial_delay <= self.max_delay:
            raise LocalProtocolError("jitter buffer delays need min <= initial <= max")
        if self.capacity < 1 or self.jitter_decay <= 0 or self.base_window <= 0:
            raise LocalProtocolError("capacity, jitter_decay and base_window must be positive")


@dataclass(frozen=True, slots=True)
class PlayoutFrame:
    timestamp: int
    samples: int
    payload: bytes
    payload_type: int
    sequence: int
    marker: bool


@dataclass(frozen=True, slots=True)
class MissingFrame:
    timestamp: int
    samples: int
    reason: MissingReason


@dataclass(frozen=True, slots=True)
class SilentFrame:
    samples: int


JitterOutput = PlayoutFrame | MissingFrame | SilentFrame
# A buffered packet as pop_fields hands it out: the PlayoutFrame fields in their order,
# (timestamp, samples, payload, payload_type, sequence, marker).
PlayoutFields = tuple[int, int, bytes, int, int, bool]
FieldsOutput = PlayoutFields | MissingFrame | SilentFrame


@dataclass(frozen=True, slots=True)
class JitterBufferStatistics:
    """Counters since creation.  ``frames_lost``/``underruns``/``stretched`` count the
    :class:`MissingFrame` outputs by reason; ``compressed`` counts packets dropped to shrink the
    delay; ``late_discarded`` packets that came after their turn; ``jitter_ms`` is the current
    peak-spread estimate and ``target_delay_ms`` the delay the buffer steers to."""

    packets_in: int
    frames_played: int
    frames_lost: int
    underruns: int
    stretched: int
    compressed: int
    late_discarded: int
    duplicates: int
    overflow_discarded: int
    resyncs: int
    ssrc_changes: int
    buffered: int
    target_delay_ms: float
    jitter_ms: float


class JitterBuffer:
    """See the module docstring."""

    def __init__(self, config: JitterBufferConfig | None = None) -> None:
        self._config = config or JitterBufferConfig()
        cfg = self._config
        self._rate = float(cfg.clock_rate)
        self._frame = cfg.frame_samples
        self._frame_time = cfg.frame_samples / cfg.clock_rate
        self._units: dict[int, PlayoutFields] = {}
        self._heap: list[int] = []
        self._ssrc: int | None = None
        self._ref_ext: int | None = None
        self._ref_ts = 0
        self._playout: int | None = None
        self._talking = False
        self._last_sequence: int | None = None
        self._concealed_run = 0
        self._last_stretch = -math.inf
        self._last_compress = -math.inf
        # delay estimation
        self._window_start: float | None = None
        self._window_min = math.inf
        self._previous_min = math.inf
        self._peak = max(0.0, cfg.initial_delay - self._frame_time)
        self._peak_time: float | None = None
        # Derived from the estimates above and refreshed whenever they change (on put), so that
        # the line clock's pop reads them instead of recomputing them every 20 ms.
        self._base_transit: float | None = None
        self._target = self._target_for(self._peak)
        self._silent = SilentFrame(self._frame)
        # counters
        self._packets_in = 0
        self._played = 0
        self._lost = 0
        self._underruns = 0
        self._stretched = 0
        self._compressed = 0
        self._late = 0
        self._duplicates = 0
        self._overflow = 0
        self._resyncs = 0
        self._ssrc_changes = 0

    # ------------------------------------------------------------------ input

    def put(self, packet: RtpPacket, arrival: float, samples: int | None = None) -> None:
        """Add one audio packet that covers ``samples`` (default: one line frame)."""
        self._packets_in += 1
        if self._ssrc is not None and packet.ssrc != self._ssrc:
            self._ssrc_changes += 1
            self._restart()
        self._ssrc = packet.ssrc
        ext = self._extend(packet.timestamp)
        transit = arrival - ext / self._rate
        base = self._base_transit
        if base is not None and abs(transit - base) > self._config.resync_after:
            # The timestamp moved in a way the clock did not: the sender restarted its media
            # clock.  Start again; the old base delay means nothing for the new timeline.
            self._resyncs += 1
            self._restart()
            ext = self._extend(packet.timestamp)
            transit = arrival - ext / self._rate
        self._observe(transit, arrival)
        playout = self._playout
        if playout is not None and ext < playout:
            self._late += 1
            return
        units = self._units
        if ext in units:
            self._duplicates += 1
            return
        if len(units) >= self._config.capacity:
            self._overflow += 1
            return
        units[ext] = (
            packet.timestamp,
            self._frame if samples is None else samples,
            packet.payload,
            packet.payload_type,
            packet.sequence,
            packet.marker,
        )
        heapq.heappush(self._heap, ext)

    def _extend(self, timestamp: int) -> int:
        """Unwrap a 32-bit timestamp against the newest one seen."""
        ref = self._ref_ext
        if ref is None:
            ext = timestamp
        else:
            # ref + timestamp_delta(timestamp, ref_ts), inlined: this runs for every packet.
            ext = ref + ((timestamp - self._ref_ts + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            if ext <= ref:
                return ext
        self._ref_ext = ext
        self._ref_ts = timestamp
        return ext

    def _observe(self, transit: float, arrival: float) -> None:
        cfg = self._config
        window_start = self._window_start
        if window_start is None or arrival - window_start >= cfg.base_window:
            self._previous_min = self._window_min
            self._window_min = transit
            self._window_start = arrival
        elif transit < self._window_min:
            self._window_min = transit
        previous = self._previous_min
        base = self._window_min if self._window_min < previous else previous
        self._base_transit = base  # finite: this transit is in the window
        spread = transit - base
        peak = self._peak
        if self._peak_time is not None:
            peak *= math.exp(-(arrival - self._peak_time) / cfg.jitter_decay)
        self._peak_time = arrival
        if spread > peak:
            peak = spread
        self._peak = peak
        # _target_for(peak), inlined (min_delay <= max_delay is a config invariant).
        target = peak + self._frame_time
        if target < cfg.min_delay:
            target = cfg.min_delay
        elif target > cfg.max_delay:
            target = cfg.max_delay
        self._target = target

    def _target_for(self, peak: float) -> float:
        cfg = self._config
        return min(cfg.max_delay, max(cfg.min_delay, peak + self._frame_time))

    def _restart(self) -> None:
        """Forget the stream (not the jitter estimate: the network is still the same one)."""
        self._units.clear()
        self._heap.clear()
        self._ref_ext = None
        self._playout = None
        self._talking = False
        self._last_sequence = None
        self._concealed_run = 0
        self._window_start = None
        self._window_min = math.inf
        self._previous_min = math.inf
        self._base_transit = None

    def reset(self) -> None:
        """Drop what is buffered and wait for a new stream (hold, re-INVITE, new media path)."""
        self._restart()
        self._ssrc = None

    # ------------------------------------------------------------------ output

    def target_delay(self) -> float:
        return self._target

    def pop(self, now: float) -> JitterOutput:
        """The next unit for the line at ``now``; call once per unit the decoder needs."""
        unit = self.pop_fields(now)
        if isinstance(unit, tuple):
            return PlayoutFrame(*unit)
        return unit

    def pop_fields(self, now: float) -> FieldsOutput:
        """:meth:`pop`, with the packet due as a tuple of the :class:`PlayoutFrame` fields."""
        heap = self._heap
        playout = self._playout
        if playout is not None:
            while heap and heap[0] < playout:
                # Overlapping timestamps: the packet would replay audio already played.
                self._units.pop(heapq.heappop(heap))
                self._late += 1
        base = self._base_transit
        if base is None or (not heap and not self._talking):
            return self._silent
        ideal = (now - base - self._target) * self._rate
        if self._talking:
            assert playout is not None
            lag = ideal - playout
            frame = self._frame
            if heap and heap[0] - playout < frame and -frame <= lag <= frame:
                # The usual pop: the next packet is due and the delay is on target.
                self._concealed_run = 0
                return self._release(heap[0])
            return self._pop_talking(now, playout, lag)
        return self._pop_silent(ideal)

    def _pop_silent(self, ideal: float) -> FieldsOutput:
        next_ts = self._heap[0]
        if ideal < next_ts - self._frame / 2:
            return self._silent
        # The next talk-spurt is due: start it here, at the current target delay.
        self._talking = True
        self._concealed_run = 0
        return self._release(next_ts)

    def _pop_talking(self, now: float, playout: int, lag: float) -> FieldsOutput:
        heap = self._heap
        frame = self._frame
        cfg = self._config
        if heap and heap[0] - playout < frame:
            next_ts = heap[0]
            if (
                lag > frame
                and now - self._last_compress >= cfg.compress_interval
                and self._has_successor(next_ts)
            ):
                # Playing too far behind the target: drop one frame to catch up.
                self._discard(next_ts)
                self._compressed += 1
                self._last_compress = now
                next_ts = heap[0]
            elif lag < -frame and now - self._last_stretch >= cfg.stretch_interval:
                self._stretched += 1
                self._last_stretch = now
                return MissingFrame(playout & 0xFFFFFFFF, frame, "stretch")
            self._concealed_run = 0
            return self._release(next_ts)
        if heap:
            _ts, _samples, _payload, _pt, sequence, marker = self._units[heap[0]]
            follows = (
                self._last_sequence is not None
                and sequence_delta(sequence, self._last_sequence) == 1
            )
            if marker or follows:
                # No sequence gap: the sender went silent (talk-spurt end), not a loss.
                self._talking = False
                return self._pop_silent(playout + lag)
            if lag < -frame:
                # The missing packet is not due yet by the target delay: wait for it.
                return self._conceal(playout, "underrun", advance=False)
            return self._conceal(playout, "lost", advance=True)
        stall_room = (lag + frame) / self._rate + self._target <= self._config.max_delay
        return self._conceal(playout, "underrun", advance=not stall_room)

    def _conceal(self, playout: int, reason: MissingReason, *, advance: bool) -> FieldsOutput:
        self._concealed_run += 1
        if self._concealed_run * self._frame_time > self._config.max_concealment:
            # A long outage is silence, not something to conceal; the next packet re-anchors.
            self._talking = False
            return self._silent
        if advance:
            self._playout = playout + self._frame
        if reason == "lost":
            self._lost += 1
        else:
            self._underruns += 1
        return MissingFrame(playout & 0xFFFFFFFF, self._frame, reason)

    def _has_successor(self, ext: int) -> bool:
        return ext + self._units[ext][1] in self._units

    def _discard(self, ext: int) -> None:
        heapq.heappop(self._heap)
        unit = self._units.pop(ext)
        self._playout = ext + unit[1]
        self._last_sequence = unit[4]

    def _release(self, ext: int) -> PlayoutFields:
        heapq.heappop(self._heap)
        unit = self._units.pop(ext)
        self._playout = ext + unit[1]
        self._last_sequence = unit[4]
        self._played += 1
        return unit

    # ------------------------------------------------------------------ statistics

    def statistics(self) -> JitterBufferStatistics:
        return JitterBufferStatistics(
            packets_in=self._packets_in,
            frames_played=self._played,
            frames_lost=self._lost,
            underruns=self._underruns,
            stretched=self._stretched,
            compressed=self._compressed,
            late_discarded=self._late,
            duplicates=self._duplicates,
            overflow_discarded=self._overflow,
            resyncs=self._resyncs,
            ssrc_changes=self._ssrc_changes,
            buffered=len(self._units),
            target_delay_ms=self.target_delay() * 1000.0,
            jitter_ms=self._peak * 1000.0,
        )
