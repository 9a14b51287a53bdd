"""The media bridge: one line call's audio joined to one RTP session, as SDP negotiated it.

Sans-IO like every core: it owns its :class:`~gateway.media.rtp_session.RtpSession` and offers the
same contract (``receive_datagram``, ``receive_rtcp_datagram``, ``datagrams_to_send``,
``next_event``, ``get_timer``, ``handle_timer``), so an adapter pumps the bridge alone.  The line
side is the :class:`~gateway.line.LineAudio` shape: 20 ms frames in the line's codec come in
through :meth:`MediaBridge.receive_line_frame` and go out through the ``line_writer`` callable.

Two clocks, both derived from ``now`` at creation and never from arrival times:

* the *line clock* ticks every 20 ms: it pops the jitter buffer (whose packets may carry any
  ptime: their audio is re-cut into line frames), conceals what is missing, and writes one frame
  toward the line;
* the *send clock* ticks every ptime: it takes ptime of line audio, converts it and sends one
  packet through the session (unpaced mode: :meth:`RtpSession.send_frame` /
  :meth:`RtpSession.skip_frame`, so a re-INVITE may change the ptime mid-call).  When there is
  nothing to send (voice path closed, hold, no line audio yet, an RFC 4733 event going out
  instead) the media clock still advances and the next packet starts a talk-spurt with the
  marker bit (RFC 3551 §4.1).  Silence is sent as audio: there is no voice activity detection.

At equal deadlines the line tick runs first, so a line that answers each written frame with one of
its own (a TDM timeslot, :class:`gateway.aio.rtp.LocalLine`) has its frame sent in the same slot.
A timer that fires late catches up at most ``max_catch_up`` of media, then skips.

DTMF, per call (``BridgeConfig.dtmf_mode``):

* ``rfc4733`` (Cisco ``dtmf-relay rtp-nte``) when telephone-event was negotiated: digits heard
  in-band on the line become RFC 4733 events and the tone is cut from the RTP audio from the
  first analysis that hears it (at most 20 ms leaks, shorter than a Q.24 receiver accepts); RFC
  4733 events received are played in-band toward the line (``digits_to_line="inband"``) or only
  reported for a line that can signal digits out of band (``"signal"``: Q.931 keypad, modem
  ``+VTS``); either way a :class:`DigitReceived` event tells call control.
* ``inband`` (or no telephone-event negotiated): audio passes untouched both ways.

:meth:`MediaBridge.send_digit_to_rtp` (a SIP INFO, a line keypad event) and
:meth:`MediaBridge.send_digit_to_line` inject digits in whichever way the call uses.

Voice path: ``to_line``/``to_rtp`` say whether voice is cut through (closed before answer, opened
for early media or at answer: :meth:`MediaBridge.set_voice_path`); SDP direction narrows it
further (``may_send``/``must_receive``: hold stops sending, and received RTP is still counted and
latched but not played).  RTCP runs regardless.  The media timeout only runs while receiving.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.line import LineCodec
from gateway.media.audio import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, AudioSource
from gateway.media.bridge_paths import (
    LineFormat,
    WireToLine,
    line_format,
    line_to_wire,
    wire_to_line,
)
from gateway.media.codecs import Codec, CodecUnavailableError, find_codec
from gateway.media.dtmf_events import (
    DEFAULT_VOLUME,
    FLASH_DIGIT,
    TelephoneEventEnded,
    TelephoneEventReceiver,
    TelephoneEventStarted,
)
from gateway.media.dtmf_inband import DigitStarted, DtmfDetector, DtmfDetectorConfig
from gateway.media.dtmf_relay import DigitTonePlayer, EventSendQueue
from gateway.media.jitter_buffer import (
    JitterBuffer,
    JitterBufferConfig,
    JitterBufferStatistics,
    MissingFrame,
)
from gateway.media.rtp import RtpPacket
from gateway.media.rtp_session import (
    ByeReceived,
    Datagram,
    MediaTimeout,
    RemoteLatched,
    RtpSession,
    RtpSessionConfig,
    RtpStatistics,
    SourceValidated,
    SsrcCollision,
)
from gateway.sdp.description import Direction
from gateway.sdp.offer_answer import NegotiatedStream
from gateway.sdp.payload import PayloadFormat
from gateway.trace import Address, TraceEvent, TraceSink, discard

__all__ = [
    "LINE_PERIOD",
    "BridgeConfig",
    "BridgeEvent",
    "BridgeStatistics",
    "DigitReceived",
    "MediaBridge",
    "session_config_for",
]

LINE_PERIOD: Final = FRAME_MS / 1000
_INFINITY: Final = float("inf")

DtmfMode = Literal["rfc4733", "inband"]
DigitDelivery = Literal["inband", "signal"]


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """How one call's media is bridged.

    ``line_codec`` is the line's frame format (:attr:`gateway.line.LineAudio.codec`).
    ``to_line``/``to_rtp``: the voice path at creation (``False`` until early media or answer).
    ``media_timeout``: seconds without RTP before :class:`MediaTimeout` (while receiving).
    ``flash``: hook flash as RFC 4733 event 16 both ways.  ``digit_level_dbm0``: the low-group
    level of generated DTMF.  ``max_catch_up``: how much media a late timer makes up for.
    ``line_clock``: the bridge writes a frame toward the line every 20 ms; ``False`` for a line
    that runs its own clock and pulls each frame with :meth:`MediaBridge.line_frame_due`.
    """

    line_codec: LineCodec = "pcmu"
    line_clock: bool = True
    dtmf_mode: DtmfMode = "rfc4733"
    digits_to_line: DigitDelivery = "inband"
    to_line: bool = True
    to_rtp: bool = True
    media_timeout: float | None = None
    flash: bool = False
    jitter_buffer: JitterBufferConfig = field(default_factory=JitterBufferConfig)
    dtmf_detector: DtmfDetectorConfig = field(default_factory=DtmfDetectorConfig)
    digit_level_dbm0: float = -9.0
    event_volume: int = DEFAULT_VOLUME
    event_end_timeout: float = 0.5
    max_catch_up: float = 0.1

    def __post_init__(self) -> None:
        line_format(self.line_codec)
        if self.dtmf_mode not in ("rfc4733", "inband"):
            raise LocalProtocolError(f"dtmf_mode {self.dtmf_mode!r} is not rfc4733 or inband")
        if self.digits_to_line not in ("inband", "signal"):
            raise LocalProtocolError(f"digits_to_line {self.digits_to_line!r} is not inband/signal")
        if self.jitter_buffer.frame_samples != FRAME_SAMPLES:
            raise LocalProtocolError("the jitter buffer must hand out 20 ms line frames")
        if self.jitter_buffer.clock_rate != SAMPLE_RATE:
            raise LocalProtocolError("the jitter buffer runs at the 8 kHz line rate")
        if self.media_timeout is not None and self.media_timeout <= 0:
            raise LocalProtocolError("media timeout must be positive (or None)")
        if self.max_catch_up < 0:
            raise LocalProtocolError("max_catch_up cannot be negative")


@dataclass(frozen=True, slots=True)
class DigitReceived:
    """A digit came in: from the ``line`` (heard in-band, relayed as RFC 4733) or from ``rtp``
    (an RFC 4733 event, played in-band toward the line unless ``digits_to_line="signal"``).
    ``"!"`` is a hook flash (event 16)."""

    digit: str
    origin: Literal["line", "rtp"]
    method: Literal["inband", "rfc4733"]
    duration_ms: int
    time: float


BridgeEvent = (
    DigitReceived | MediaTimeout | RemoteLatched | SourceValidated | ByeReceived | SsrcCollision
)


@dataclass(frozen=True, slots=True)
class BridgeStatistics:
    """A call-table snapshot: codecs, state, RTP counters both ways, jitter buffer, digits."""

    send_codec: str | None
    receive_codec: str | None
    line_codec: LineCodec
    ptime_ms: int
    direction: Direction
    sending: bool
    receiving: bool
    rtp: RtpStatistics
    jitter_buffer: JitterBufferStatistics
    frames_from_line: int
    frames_to_line: int
    digits_to_rtp: int
    digits_from_rtp: int
    unknown_payload: int


def session_config_for(
    stream: NegotiatedStream, base: RtpSessionConfig | None = None
) -> RtpSessionConfig:
    """The RTP session settings for a negotiated stream (addresses, payload types, ptime); the
    rest (local addresses, CNAME, tracing, bandwidth, ...) comes from ``base``."""
    base = base or RtpSessionConfig()
    send = stream.send_format
    if send is not None:
        payload_type = send.payload_type
    elif stream.receive_formats:
        payload_type = stream.receive_formats[0].payload_type
    else:
        payload_type = base.payload_type
    events = stream.receive_telephone_event or stream.send_telephone_event
    return replace(
        base,
        payload_type=payload_type,
        ptime=stream.ptime / 1000,
        event_payload_type=None if events is None else events.payload_type,
        remote_rtp=stream.remote_rtp,
        remote_rtcp=stream.remote_rtcp,
    )


def _codec_of(fmt: PayloadFormat) -> Codec | None:
    if fmt.channels != 1:
        return None
    return find_codec(fmt.encoding_name, fmt.clock_rate)


class MediaBridge:
    """See the module docstring."""

    def __init__(
        self,
        stream: NegotiatedStream,
        now: float,
        rng: random.Random,
        config: BridgeConfig | None = None,
        *,
        rtp: RtpSessionConfig | None = None,
        line_writer: Callable[[bytes], None] | None = None,
        trace: TraceSink = discard,
    ) -> None:
        if not stream.accepted or stream.media != "audio":
            raise LocalProtocolError("the media bridge needs an accepted audio stream")
        self._config = config = config or BridgeConfig()
        rtp_config = session_config_for(stream, rtp)
        self._session = RtpSession(rtp_config, rng, now, trace)
        self._session.set_packet_sink(self._on_rtp)
        self._trace = trace
        self._node = rtp_config.node
        self._call_id = rtp_config.call_id
        self._trace_packets = rtp_config.trace_packets
        self._line: LineFormat = line_format(config.line_codec)
        self._line_frame_bytes = self._line.frame_bytes
        self._line_silence = self._line.silence(FRAME_SAMPLES)
        self._line_writer: Callable[[bytes], None] = line_writer or _discard_frame
        self._line_source: AudioSource | None = None
        self._events: deque[BridgeEvent] = deque()
        self._closed = False
        # IP -> line
        self._jitter = JitterBuffer(config.jitter_buffer)
        self._paths: dict[int, WireToLine] = {}
        self._path_codecs: dict[int, Codec] = {}
        self._receive_codecs: dict[int, Codec] = {}
        self._last_path: WireToLine | None = None
        self._last_codec: Codec | None = None
        self._to_line = bytearray()
        self._line_quiet = True
        self._receiver = TelephoneEventReceiver(
            flash=config.flash, end_timeout=config.event_end_timeout, trace=trace, node=self._node
        )
        self._tones_to_line = DigitTonePlayer(level_dbm0=config.digit_level_dbm0)
        # line -> IP
        self._from_line = bytearray()
        self._encode: Callable[[bytes], bytes] | None = None
        self._send_codec: Codec | None = None
        self._send_samples = 0
        self._send_bytes = 0
        self._fifo_limit = 0
        self._detector: DtmfDetector | None = None
        self._events_out = EventSendQueue(
            FRAME_SAMPLES, volume=config.event_volume, flash=config.flash
        )
        self._tones_to_rtp = DigitTonePlayer(level_dbm0=config.digit_level_dbm0)
        # Cheap flags for the per-frame path: is anything to be mixed in or sent instead?
        self._line_override = False  # a line source or digits toward the line
        self._rtp_override = False  # in-band digits toward RTP
        self._events_pending = False  # RFC 4733 digits queued or being sent
        self._te_send_pt: int | None = None
        self._te_receive_pt: int | None = None
        # state
        self._stream = stream
        self._path_to_line = config.to_line
        self._path_to_rtp = config.to_rtp
        self._sending = False
        self._receiving = False
        self._timeout_running: bool | None = None
        # clocks
        self._max_catch_up = int(config.max_catch_up / LINE_PERIOD + 1e-9)
        self._line_origin = now
        self._line_index = 0
        self._line_due = now if config.line_clock else _INFINITY
        self._send_origin = now
        self._send_index = 0
        self._send_due = now
        self._send_period = 0.0
        self._session_due = _INFINITY
        self._events_in_due = _INFINITY  # the RFC 4733 receiver's end timeout
        # counters
        self._frames_from_line = 0
        self._frames_to_line = 0
        self._digits_to_rtp = 0
        self._digits_from_rtp = 0
        self._unknown_payload = 0
        self._apply(stream, now)

    # ------------------------------------------------------------------ properties

    @property
    def session(self) -> RtpSession:
        return self._session

    @property
    def config(self) -> BridgeConfig:
        return self._config

    @property
    def stream(self) -> NegotiatedStream:
        return self._stream

    @property
    def sending(self) -> bool:
        """Voice goes to RTP: the path toward RTP is open and SDP lets us send."""
        return self._sending

    @property
    def receiving(self) -> bool:
        """RTP is played to the line: the path toward the line is open and SDP receives."""
        return self._receiving

    @property
    def relaying_digits(self) -> bool:
        """Digits travel as RFC 4733 events (rfc4733 mode and telephone-event negotiated)."""
        return self._detector is not None

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ negotiation

    def renegotiate(self, stream: NegotiatedStream, now: float) -> None:
        """A new offer/answer (re-INVITE, UPDATE): new address, codec, ptime or direction."""
        if self._closed:
            raise LocalProtocolError("renegotiate on a closed media bridge")
        if not stream.accepted or stream.media != "audio":
            raise LocalProtocolError("the media bridge needs an accepted audio stream")
        old = self._stream
        if stream.remote_rtp != old.remote_rtp or stream.remote_rtcp != old.remote_rtcp:
            self._session.set_remote(stream.remote_rtp, stream.remote_rtcp)
        self._stream = stream
        self._apply(stream, now)
        self._note(now, f"media renegotiated: {self._describe(stream)}")

    def _apply(self, stream: NegotiatedStream, now: float) -> None:
        """Take the codecs, payload types, ptime and direction of ``stream``."""
        send = stream.send_format
        send_codec = None if send is None else _codec_of(send)
        if send is not None and send_codec is None:
            raise LocalProtocolError(f"negotiated codec {send} has no implementation in gwemu")
        ptime = stream.ptime
        if send_codec is not None:
            try:
                send_codec.payload_size(ptime)
            except ValueError as exc:
                raise LocalProtocolError(str(exc)) from None
            if send_codec is not self._send_codec:
                # May raise CodecUnavailableError (G.729 without bcg729), naming the package.
                self._encode = line_to_wire(self._line, send_codec)
            assert send is not None
            self._session.set_payload_type(send.payload_type)
        else:
            self._encode = None
        self._send_codec = send_codec
        receive = {}
        for fmt in stream.receive_formats:
            codec = _codec_of(fmt)
            if codec is not None:
                receive[fmt.payload_type] = codec
        self._receive_codecs = receive
        for pt in list(self._paths):
            if self._path_codecs[pt] is not receive.get(pt):
                del self._paths[pt], self._path_codecs[pt]
        te_send = stream.send_telephone_event
        te_receive = stream.receive_telephone_event
        self._te_send_pt = None if te_send is None else te_send.payload_type
        self._te_receive_pt = None if te_receive is None else te_receive.payload_type
        self._set_ptime(ptime)
        relay = self._config.dtmf_mode == "rfc4733" and self._te_send_pt is not None
        if relay and self._detector is None:
            self._detector = DtmfDetector(self._config.dtmf_detector)
        elif not relay:
            self._detector = None
            self._events_out.clear()
            self._events_pending = False
        self._update_paths(now)

    def _set_ptime(self, ptime_ms: int) -> None:
        samples = ptime_ms * SAMPLE_RATE // 1000
        if samples == self._send_samples:
            return
        # The new packet size starts at the next send slot.
        self._send_origin = self._send_due
        self._send_index = 0
        self._send_period = ptime_ms / 1000
        self._send_samples = samples
        self._send_bytes = samples * self._line.bytes_per_sample
        self._fifo_limit = self._send_bytes + 3 * self._line_frame_bytes
        self._events_out.set_interval(samples)

    def set_voice_path(self, now: float, *, to_line: bool, to_rtp: bool) -> None:
        """Cut the voice through (early media, answer) or close it, per direction."""
        self._path_to_line = to_line
        self._path_to_rtp = to_rtp
        self._update_paths(now)

    def _update_paths(self, now: float) -> None:
        stream = self._stream
        sending = self._path_to_rtp and stream.may_send and self._encode is not None
        receiving = self._path_to_line and stream.must_receive
        if sending != self._sending or receiving != self._receiving:
            self._note(now, f"voice path: to RTP {_onoff(sending)}, to line {_onoff(receiving)}")
        if not sending:
            self._from_line.clear()
            self._events_out.clear()
            self._tones_to_rtp.clear()
            self._events_pending = self._rtp_override = False
        if receiving and not self._receiving:
            self._jitter.reset()
            self._to_line.clear()
            self._line_quiet = True
        self._sending = sending
        self._receiving = receiving
        if receiving is not self._timeout_running:
            self._timeout_running = receiving
            timeout = self._config.media_timeout if receiving else None
            self._session.set_media_timeout(timeout, now)
            self._refresh_session_timer()

    # ------------------------------------------------------------------ the line side

    def set_line_writer(self, writer: Callable[[bytes], None] | None) -> None:
        """Where frames toward the line go (``LineAudio.write``); ``None`` discards them."""
        self._line_writer = writer or _discard_frame

    def set_line_source(self, source: AudioSource | None) -> None:
        """Play ``source`` (linear PCM frames: ringback, an announcement) toward the line instead
        of the RTP audio until it ends; ``None`` stops it."""
        self._line_source = source
        self._line_override = True

    def receive_line_frame(self, frame: bytes, now: float) -> None:
        """One 20 ms frame from the line, in the line codec."""
        if len(frame) != self._line_frame_bytes:
            raise LocalProtocolError(
                f"a {self._config.line_codec} line frame is {self._line_frame_bytes} bytes, "
                f"not {len(frame)}"
            )
        self._frames_from_line += 1
        if not self._sending:
            return
        detector = self._detector
        if detector is not None:
            for event in detector.feed(self._line.to_linear(frame)):
                if isinstance(event, DigitStarted):
                    self._events_out.start(event.digit)
                    self._events_pending = True
                    self._note(now, f"DTMF {event.digit} heard on the line: RFC 4733 starts")
                else:
                    self._events_out.end()
                    self._digits_to_rtp += 1
                    self._events.append(
                        DigitReceived(event.digit, "line", "inband", round(event.duration_ms), now)
                    )
            if detector.digit is not None or detector.pending is not None:
                # Cisco rtp-nte: the digit travels as events only, its tone is cut.
                frame = self._line_silence
        if self._rtp_override:
            tone = self._tones_to_rtp.next_frame()
            if tone is not None:
                frame = self._line.from_linear(tone)
            self._rtp_override = self._tones_to_rtp.active
        fifo = self._from_line
        fifo += frame
        if len(fifo) > self._fifo_limit:
            # The line delivers faster than we send (a clock faster than ours): slip.
            del fifo[: len(fifo) - self._fifo_limit]

    def line_frame_due(self, now: float) -> bytes:
        """Produce the next frame toward the line now (lines that run their own clock call
        this instead of relying on the bridge's line clock; see :meth:`handle_timer`)."""
        frame = self._frame_from_rtp(now) if self._receiving else self._line_silence
        if self._line_override:
            frame = self._override_line(frame)
        self._frames_to_line += 1
        return frame

    def _override_line(self, frame: bytes) -> bytes:
        """What the line hears instead of the RTP audio: a line source, then digits."""
        source = self._line_source
        if source is not None:
            pcm = source.read_frame()
            if pcm is None:
                self._line_source = None
            else:
                frame = self._line.from_linear(pcm)
        tones = self._tones_to_line
        tone = tones.next_frame()
        if tone is not None:
            frame = self._line.from_linear(tone)
        self._line_override = self._line_source is not None or tones.active
        return frame

    def _frame_from_rtp(self, now: float) -> bytes:
        need = self._line_frame_bytes
        pending = self._to_line
        jitter = self._jitter
        while len(pending) < need:
            unit = jitter.pop_fields(now)
            if isinstance(unit, tuple):  # (timestamp, samples, payload, payload_type, ...)
                path = self._paths.get(unit[3])
                if path is None:  # a payload type the last re-negotiation removed
                    audio = self._line.silence(unit[1])
                else:
                    self._last_path = path
                    audio = path.play(unit[2])
                self._line_quiet = False
            elif isinstance(unit, MissingFrame):
                path = self._last_path
                if path is None:
                    audio = self._line.silence(unit.samples)
                else:
                    audio = path.conceal(unit.samples)
                if self._trace_packets:
                    self._note(now, f"concealed {unit.samples} samples ({unit.reason})")
            else:
                if not self._line_quiet:
                    self._line_quiet = True
                    if self._last_path is not None:
                        self._last_path.forget()
                audio = self._line_silence
            if not pending and len(audio) == need:
                return audio
            pending += audio
        frame = bytes(pending[:need])
        del pending[:need]
        return frame

    # ------------------------------------------------------------------ digits

    def send_digit_to_rtp(self, digit: str, now: float, duration_ms: int = 100) -> bool:
        """Send a digit toward the IP side: as an RFC 4733 event when relaying, else in-band.
        Returns ``False`` (nothing sent) while the path toward RTP is closed or on hold."""
        if not self._sending:
            return False
        if duration_ms <= 0:
            raise LocalProtocolError("a digit lasts a positive time")
        if self._detector is not None:
            self._events_out.send(digit, duration_ms * SAMPLE_RATE // 1000)
            self._events_pending = True
        else:
            self._tones_to_rtp.play(digit, duration_ms)
            self._rtp_override = True
        self._digits_to_rtp += 1
        self._note(now, f"DTMF {digit} sent toward RTP ({self._dtmf_method()})")
        return True

    def send_digit_to_line(self, digit: str, now: float, duration_ms: int = 100) -> None:
        """Play a digit in-band toward the line (after any digit still playing)."""
        if duration_ms <= 0:
            raise LocalProtocolError("a digit lasts a positive time")
        self._tones_to_line.play(digit, duration_ms)
        self._line_override = True
        self._note(now, f"DTMF {digit} played toward the line")

    def _dtmf_method(self) -> str:
        return "rfc4733" if self._detector is not None else "inband"

    # ------------------------------------------------------------------ the IP side

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """A datagram arrived on the RTP socket (RTCP too with rtcp-mux)."""
        self._session.receive_datagram(data, addr, now)
        self._drain_session(now)

    def receive_rtcp_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self._session.receive_rtcp_datagram(data, addr, now)
        self._drain_session(now)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        return self._session.datagrams_to_send(now)

    def next_event(self) -> BridgeEvent | None:
        events = self._events
        return events.popleft() if events else None

    def _drain_session(self, now: float) -> None:
        next_event = self._session.next_event
        while (event := next_event()) is not None:
            if isinstance(
                event, MediaTimeout | RemoteLatched | SourceValidated | ByeReceived | SsrcCollision
            ):
                self._events.append(event)
            # RTP packets come through _on_rtp (the session's packet sink); RtcpReceived is
            # folded into the statistics; FrameDue cannot occur (no pacing).

    def _on_rtp(self, packet: RtpPacket, arrival: float) -> None:
        pt = packet.payload_type
        path = self._paths.get(pt)
        if path is None and pt in self._receive_codecs:
            path = self._new_path(pt, arrival)
        if path is not None:
            if self._receiving:
                try:
                    samples = path.samples(packet.payload)
                except RemoteProtocolError as exc:
                    self._drop(arrival, exc.reason)
                    return
                self._jitter.put(packet, arrival, samples)
            return
        if pt == self._te_receive_pt:
            if self._receiving:
                receiver = self._receiver
                receiver.receive(packet.payload, packet.timestamp, arrival, marker=packet.marker)
                self._drain_receiver(arrival)
                deadline = receiver.get_timer()
                self._events_in_due = _INFINITY if deadline is None else deadline
            return
        self._unknown_payload += 1
        if self._trace_packets:
            self._drop(arrival, f"RTP payload type {pt} was not negotiated")

    def _new_path(self, pt: int, now: float) -> WireToLine | None:
        codec = self._receive_codecs[pt]
        try:
            path = wire_to_line(codec, self._line)
        except CodecUnavailableError as exc:  # the peer sends what this machine cannot play
            del self._receive_codecs[pt]
            self._drop(now, f"cannot decode {codec.name}: {exc}")
            return None
        self._paths[pt] = path
        self._path_codecs[pt] = codec
        self._last_codec = codec
        return path

    def _drain_receiver(self, now: float) -> None:
        receiver = self._receiver
        while (event := receiver.next_event()) is not None:
            digit = event.digit
            if digit is None:
                continue
            to_line = self._config.digits_to_line == "inband" and digit != FLASH_DIGIT
            if isinstance(event, TelephoneEventStarted):
                if to_line:
                    self._tones_to_line.start(digit)
                    self._line_override = True
                self._note(now, f"RFC 4733 event {digit} started")
            elif isinstance(event, TelephoneEventEnded):
                duration_ms = event.duration * 1000 // SAMPLE_RATE
                if to_line:
                    self._tones_to_line.end(duration_ms)
                self._digits_from_rtp += 1
                self._events.append(DigitReceived(digit, "rtp", "rfc4733", duration_ms, now))

    # ------------------------------------------------------------------ timers

    def get_timer(self) -> float | None:
        if self._closed:
            return None
        deadline = self._line_due
        if self._send_due < deadline:
            deadline = self._send_due
        if self._session_due < deadline:
            deadline = self._session_due
        if self._events_in_due < deadline:
            deadline = self._events_in_due
        return deadline

    def handle_timer(self, now: float) -> None:
        """Run the line clock (one frame written per tick) and the send clock, then the
        session's own timers (RTCP, media timeout) and the RFC 4733 end timeout."""
        if self._closed:
            return
        due = self._line_due
        if now >= due:
            if now < due + LINE_PERIOD:  # the usual case: exactly one frame is due
                self._line_index += 1
                self._line_due = self._line_origin + self._line_index * LINE_PERIOD
                self._line_writer(self.line_frame_due(now))
            else:
                self._run_line_clock(now)
        due = self._send_due
        if now >= due:
            if now < due + self._send_period:
                self._send_index += 1
                self._send_due = self._send_origin + self._send_index * self._send_period
                self._send_slot(now)
            else:
                self._run_send_clock(now)
        if now >= self._session_due:
            self._session.handle_timer(now)
            self._refresh_session_timer()
            self._drain_session(now)
        if now >= self._events_in_due:
            receiver = self._receiver
            receiver.handle_timer(now)
            self._drain_receiver(now)
            deadline = receiver.get_timer()
            self._events_in_due = _INFINITY if deadline is None else deadline

    def _refresh_session_timer(self) -> None:
        # Cached: between two handle_timer calls the session's deadline can only move later
        # (more RTP pushes the media timeout out), so a stale value merely wakes us early.
        deadline = self._session.get_timer()
        self._session_due = _INFINITY if deadline is None else deadline

    def _run_line_clock(self, now: float) -> None:
        index = self._line_index
        behind = int((now - self._line_due) / LINE_PERIOD)
        if behind > self._max_catch_up:
            index += behind - self._max_catch_up  # those frames never reach the line
        origin = self._line_origin
        writer = self._line_writer
        while origin + index * LINE_PERIOD <= now:
            index += 1
            writer(self.line_frame_due(now))
        self._line_index = index
        self._line_due = origin + index * LINE_PERIOD

    def _run_send_clock(self, now: float) -> None:
        index = self._send_index
        period = self._send_period
        behind = int((now - self._send_due) / period)
        catch_up = int(self._config.max_catch_up / period + 1e-9)
        if behind > catch_up:
            skipped = behind - catch_up
            index += skipped
            self._session.skip_frame(skipped * self._send_samples)
            del self._from_line[: skipped * self._send_bytes]
        origin = self._send_origin
        while origin + index * period <= now:
            index += 1
            self._send_slot(now)
        self._send_index = index
        self._send_due = origin + index * period

    def _send_slot(self, now: float) -> None:
        session = self._session
        samples = self._send_samples
        need = self._send_bytes
        fifo = self._from_line
        if self._events_pending:
            # While an event is on its packets replace the audio (as Cisco rtp-nte does).
            queue = self._events_out
            for packet in queue.tick(session.timestamp):
                session.send_event(
                    packet.payload,
                    now,
                    timestamp=packet.timestamp,
                    marker=packet.marker,
                    payload_type=self._te_send_pt,
                )
            self._events_pending = queue.busy
            session.skip_frame(samples)
            del fifo[:need]
            return
        encode = self._encode
        if encode is None or len(fifo) < need or not self._sending:
            session.skip_frame(samples)
            return
        if len(fifo) == need:  # the usual slot: one line frame in, one packet out
            chunk = bytes(fifo)
            fifo.clear()
        else:
            chunk = bytes(fifo[:need])
            del fifo[:need]
        if not session.send_frame(encode(chunk), now, samples=samples):
            session.skip_frame(samples)  # no address yet (comedia): keep the clock running

    # ------------------------------------------------------------------ end and figures

    def close(self, now: float, reason: str | None = None) -> None:
        """Stop both clocks and leave the RTP session (RTCP BYE: drain datagrams_to_send)."""
        if self._closed:
            return
        self._closed = True
        self._session.close(now, reason)
        self._note(now, "media bridge closed")

    def statistics(self) -> BridgeStatistics:
        stream = self._stream
        send = self._send_codec
        last = self._last_codec
        return BridgeStatistics(
            send_codec=None if send is None else send.name,
            receive_codec=None if last is None else last.name,
            line_codec=self._config.line_codec,
            ptime_ms=self._send_samples * 1000 // SAMPLE_RATE,
            direction=stream.direction,
            sending=self._sending,
            receiving=self._receiving,
            rtp=self._session.statistics(),
            jitter_buffer=self._jitter.statistics(),
            frames_from_line=self._frames_from_line,
            frames_to_line=self._frames_to_line,
            digits_to_rtp=self._digits_to_rtp,
            digits_from_rtp=self._digits_from_rtp,
            unknown_payload=self._unknown_payload,
        )

    # ------------------------------------------------------------------ tracing

    def _describe(self, stream: NegotiatedStream) -> str:
        send = stream.send_format
        return (
            f"{stream.direction}, send {send if send else 'nothing'} every {stream.ptime} ms "
            f"to {stream.remote_rtp}, DTMF {self._dtmf_method()}"
        )

    def _note(self, now: float, summary: str) -> None:
        self._emit(now, "note", summary)

    def _drop(self, now: float, summary: str) -> None:
        self._emit(now, "drop", summary)

    def _emit(self, now: float, direction: Literal["note", "drop"], summary: str) -> None:
        self._trace(TraceEvent(now, self._node, "media", direction, summary, call_id=self._call_id))


def _discard_frame(_frame: bytes) -> None:
    """The line writer when nobody listens."""


def _onoff(flag: bool) -> str:
    return "open" if flag else "closed"
