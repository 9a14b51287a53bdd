"""The host side of a serial FXS board: hook state and digits -> station-line events, sans-IO.

The board (docs/fxs-serial-protocol.md) reports hook changes (``LINE``), digits it decoded
(``DIAL``) and ringing progress; this object debounces hook flicker, tells dial pulses, hook flashes
and hang-ups apart by the length of each on-hook period, assembles pulse-dialled digits when the
board reports raw breaks, and emits :mod:`gateway.line` values for a ``station`` line:

* off-hook -> :class:`LineSeized` (call control wants dial tone: the board plays it on ``TONE``);
* each digit -> :class:`DigitsDialled` (during a call: :class:`LineDigit`);
* a short on-hook -> :class:`LineHookFlash`; a long one -> LineCleared and LineReleased;
* :class:`OfferCall` -> ``CID`` and ``RING``; ``RING_TRIP`` (or off hook) -> :class:`LineAnswered`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from gateway.errors import ConfigError, RemoteProtocolError
from gateway.line import (
    AnswerCall,
    ClearCall,
    DigitsDialled,
    IndicateProgress,
    LineAnswered,
    LineCleared,
    LineCodec,
    LineCommand,
    LineDigit,
    LineEvent,
    LineHookFlash,
    LineProgress,
    LineReleased,
    LineSeized,
    LineStatus,
    OfferCall,
    ProceedCall,
)
from gateway.trace import TraceEvent, TraceSink, discard
from hardware.protocols.fxs_board import (
    AudioFrame,
    BoardError,
    BoardReady,
    CommandInvalid,
    CommandOk,
    DialBegin,
    DialDigit,
    DialError,
    FxsCommand,
    FxsNoise,
    FxsStreamReader,
    LineReport,
    PlayTone,
    QueryLine,
    QueryState,
    RingOn,
    RingTimeout,
    RingTrip,
    SendCallerId,
    SetAudio,
    StartRinging,
    StateReport,
    StopRinging,
    Sync,
    Tone,
    parse_event,
)
from hardware.protocols.line_audio import LineAudioFrame

CAUSE_NORMAL = 16
CAUSE_BUSY = 17
CAUSE_NO_ANSWER = 19
CAUSE_OUT_OF_ORDER = 38

AudioPath = Literal["serial", "external", "none"]


@dataclass(frozen=True, slots=True)
class FxsLineConfig:
    line: str = "fxs"
    ring_cadence: tuple[int, ...] = ()
    # Where the call audio travels: framed on this serial link, a sound card, or nowhere.
    audio: AudioPath = "external"
    audio_codec: Literal["pcmu", "pcma"] = "pcmu"
    # The board reports every dial-pulse break as LINE ONHOOK/OFFHOOK and the host counts them
    # (else it counts them itself and sends DIAL <digit>).
    raw_pulses: bool = False
    # Hook changes shorter than this are contact bounce and ignored.
    flicker: float = 0.03
    # With raw pulses, an on-hook up to this long is a dial pulse (10 pps: 60 ms break, 40 make).
    pulse_break_max: float = 0.12
    # Up to this long it is a hook flash; longer, the phone hung up.
    flash_max: float = 1.0
    # Off-hook this long after a pulse train ends the digit.
    interdigit: float = 0.3
    command_timeout: float = 2.0
    # Telephone-box firmware prints READY after every command: such a READY is then a prompt, not
    # a restart (a restart in that instant goes unnoticed until the next STATE/LINE report).
    board_prompts: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.flicker < self.pulse_break_max < self.flash_max:
            raise ConfigError("need 0 < flicker < pulse_break_max < flash_max", key="flicker")
        if self.audio not in ("serial", "external", "none"):
            raise ConfigError("audio is 'serial', 'external' or 'none'", key="audio")


StationState = Literal["originating", "ringing", "connected", "lockout"]


@dataclass(slots=True)
class _Station:
    ref: str
    state: StationState
    progress_sent: bool = False


@dataclass(slots=True)
class _Pending:
    command: FxsCommand
    ref: str | None
    deadline: float = 0.0


FxsLineEvent = LineEvent | LineAudioFrame
_CID_NUMBER_CHARACTERS = frozenset("0123456789*#+")


def _caller_id(offer: OfferCall) -> SendCallerId:
    """The CID command for an offered call: the number, P (withheld) or O (unavailable)."""
    if not offer.presentation_allowed:
        return SendCallerId("P")
    number = offer.calling or ""
    if not number or len(number) > 20 or not _CID_NUMBER_CHARACTERS.issuperset(number):
        number = "O"
    name = "".join(c for c in offer.calling_name or "" if c.isascii() and c.isprintable())
    return SendCallerId(number, name.strip()[:50])


class FxsBoardLine:
    """One phone on one serial FXS board (see the module docstring)."""

    def __init__(self, config: FxsLineConfig, *, trace: TraceSink = discard) -> None:
        self.config = config
        self._trace = trace
        self._reader = FxsStreamReader()
        self._out = bytearray()
        self._events: deque[FxsLineEvent] = deque()
        self._commands: deque[_Pending] = deque()
        self._inflight: _Pending | None = None
        self._now = 0.0
        self._in_service: bool | None = None
        self._starting = False
        self._syncs = 0
        self._prompts_expected = 0
        self._board_state = ""
        self._call: _Station | None = None
        self._calls_made = 0
        self._tone: Tone = "OFF"
        self._audio_seq = 0
        self.noise = 0
        # Hook: the debounced (logical) state and the timers that decide what a change means.
        self._raw_off: bool | None = None
        self._hook_off = False
        self._seize_at: float | None = None
        self._break_started: float | None = None
        self._pulses = 0
        self._digit_at: float | None = None

    # ------------------------------------------------------------------------------ queries

    @property
    def in_service(self) -> bool:
        return self._in_service is True

    @property
    def off_hook(self) -> bool:
        return self._hook_off

    @property
    def board_state(self) -> str:
        return self._board_state

    @property
    def codec(self) -> LineCodec | None:
        return self.config.audio_codec if self.config.audio == "serial" else None

    # ------------------------------------------------------------------------------ sans-IO

    def start(self, now: float) -> None:
        """Find the board (empty-line sync), read its state, switch the audio channel on."""
        self._now = now
        self._commands.clear()
        self._inflight = None
        self._reader = FxsStreamReader()
        self._starting = True
        self._syncs = 0
        self._prompts_expected = 0
        self._raw_off = None
        self._queue(Sync(), None)

    def receive_data(self, data: bytes, now: float) -> None:
        self._now = now
        if not data:
            self._note("in", "device closed")
            self._board_lost("device closed")
            return
        for item in self._reader.feed(data):
            if isinstance(item, AudioFrame):
                self._audio_in(item)
            elif isinstance(item, FxsNoise):
                self._drop(item.reason, item.raw)
            else:
                self._line(item)

    def data_to_send(self, now: float) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def next_event(self) -> FxsLineEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        deadlines = [
            t for t in (self._seize_at, self._digit_at, self._hangup_at()) if t is not None
        ]
        if self._inflight is not None:
            deadlines.append(self._inflight.deadline)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        self._now = now
        if self._inflight is not None and now >= self._inflight.deadline:
            pending = self._inflight
            self._inflight = None
            self._note("note", f"no answer to {pending.command.text() or 'sync'}")
            self._board_lost(f"no answer to {pending.command.text() or 'sync'}", retry=True)
        if self._seize_at is not None and now >= self._seize_at:
            self._seize_at = None
            self._went_off_hook()
        hangup_at = self._hangup_at()
        if hangup_at is not None and now >= hangup_at:
            self._break_started = None
            self._pulses = 0
            self._digit_at = None
            self._went_on_hook()
        if self._digit_at is not None and now >= self._digit_at:
            self._digit_at = None
            self._pulse_digit()

    def handle_command(self, command: LineCommand, now: float) -> None:
        self._now = now
        if command.line != self.config.line:
            return
        call = self._call
        if isinstance(command, OfferCall):
            self._offer(command)
            return
        if call is None or call.ref != command.ref:
            self._note("note", f"{type(command).__name__} for {command.ref} ignored")
            return
        if isinstance(command, (ProceedCall, AnswerCall)):
            if isinstance(command, AnswerCall) and call.state == "originating":
                call.state = "connected"
            self._set_tone("OFF")
        elif isinstance(command, IndicateProgress):
            self._set_tone("OFF" if command.inband or command.stage != "alerting" else "RINGBACK")
        elif isinstance(command, ClearCall):
            self._clear(call)

    def send_audio(self, ref: str, frame: bytes, now: float) -> None:
        """A frame for the phone's earpiece (serial audio channel only)."""
        call = self._call
        if self.config.audio != "serial" or call is None or call.ref != ref or not frame:
            return
        for start in range(0, len(frame), 255):
            self._out += bytes(AudioFrame(self._audio_seq, frame[start : start + 255]))
            self._audio_seq = (self._audio_seq + 1) & 0xFF

    # ------------------------------------------------------------------------------ board input

    def _line(self, text: str) -> None:
        try:
            event = parse_event(text)
        except RemoteProtocolError as error:
            self._drop(error.reason, text.encode("latin-1", "replace"))
            return
        self._note("in", text)
        if isinstance(event, (CommandOk, CommandInvalid)):
            self._answered(event)
        elif isinstance(event, BoardReady):
            self._ready()
        elif isinstance(event, LineReport):
            self._hook_report(event.off_hook)
        elif isinstance(event, RingTrip):
            self._ring_trip()
        elif isinstance(event, RingOn):
            self._ringing()
        elif isinstance(event, RingTimeout):
            self._ring_timeout()
        elif isinstance(event, DialDigit):
            self._digit(event.digit)
        elif isinstance(event, DialBegin):
            self._set_tone("OFF")
        elif isinstance(event, DialError):
            self._set_tone("CONGESTION")
        elif isinstance(event, StateReport):
            self._board_state = event.state
        elif isinstance(event, BoardError):
            self._board_lost(f"board error: {event.reason or 'unspecified'}", retry=True)
        # RING_PAUSE, INFO and TEST are traced and need nothing else.

    def _answered(self, event: CommandOk | CommandInvalid) -> None:
        pending = self._inflight
        if pending is None:
            self._drop("answer with no command outstanding", event.text().encode())
            return
        self._inflight = None
        self._prompts_expected += 1 if self.config.board_prompts else 0
        command = pending.command
        call = self._call
        ok = isinstance(event, CommandOk)
        if isinstance(command, StartRinging) and call is not None and call.ref == pending.ref:
            if ok:
                self._ringing()
            elif call.state == "ringing":
                self._end_call(call, CAUSE_BUSY)
        elif isinstance(command, SetAudio) and not ok:
            self._note("note", "the board has no serial audio channel")
        elif isinstance(command, QueryLine) and not ok and self._starting:
            self._initial_hook(False)  # a board that cannot tell: assume the phone is hung up
        self._send_next()

    def _ready(self) -> None:
        if self._syncs:
            self._syncs -= 1
            if self._inflight is not None and isinstance(self._inflight.command, Sync):
                self._inflight = None
            self._read_board()
            return
        if self._prompts_expected:
            self._prompts_expected -= 1  # telephone-box firmware prompts after each command
            return
        # An unprompted READY: the board restarted and lost whatever it was doing.
        call = self._call
        if call is not None and call.state != "lockout":
            self._board_lost("board restarted", resync=True)
        else:
            self._note("note", "board restarted while idle: reading its state again")
            self._starting = True
            self._raw_off = None
            self._read_board()

    def _read_board(self) -> None:
        self._queue(QueryState(), None)
        self._queue(QueryLine(), None)
        if self.config.audio == "serial":
            codec: Literal["PCMU", "PCMA"] = "PCMA" if self.config.audio_codec == "pcma" else "PCMU"
            self._queue(SetAudio(True, codec), None)

    def _initial_hook(self, off: bool) -> None:
        """The hook state found when (re)connecting to the board."""
        self._starting = False
        self._raw_off = off
        self._hook_off = off
        if off:
            self._lockout()  # off hook already: the phone must be hung up before a new call
        self._set_service(True, "board ready")

    # ------------------------------------------------------------------------------ hook logic

    def _hook_report(self, off: bool) -> None:
        if self._starting:
            self._initial_hook(off)
            return
        if off == self._raw_off:
            return
        self._raw_off = off
        now = self._now
        if off:
            if self._break_started is not None:
                gap = now - self._break_started
                self._break_started = None
                if gap < self.config.flicker:
                    pass
                elif self.config.raw_pulses and gap <= self.config.pulse_break_max:
                    self._pulses += 1
                    self._digit_at = now + self.config.interdigit
                    self._set_tone("OFF")
                else:
                    self._flash()
            elif not self._hook_off:
                self._seize_at = now + self.config.flicker
        elif self._hook_off:
            self._break_started = now
            self._digit_at = None  # a pulse train continues through this break
        else:
            self._seize_at = None  # the pick-up was only a flicker

    def _hangup_at(self) -> float | None:
        if self._break_started is None:
            return None
        return self._break_started + self.config.flash_max

    def _went_off_hook(self) -> None:
        self._hook_off = True
        call = self._call
        if call is not None and call.state == "ringing":
            self._ring_trip()
            return
        if call is not None:
            return
        self._calls_made += 1
        call = _Station(f"{self.config.line}-{self._calls_made}", "originating")
        self._call = call
        self._emit(LineSeized(self.config.line, call.ref, codec=self.codec))
        self._set_tone("DIAL")

    def _went_on_hook(self) -> None:
        self._hook_off = False
        self._set_tone("OFF")
        call = self._call
        if call is None:
            return
        if call.state == "lockout":
            self._call = None
            return
        if call.state != "ringing":
            self._end_call(call, CAUSE_NORMAL)

    def _flash(self) -> None:
        call = self._call
        if call is not None and call.state in ("originating", "connected"):
            self._emit(LineHookFlash(self.config.line, call.ref))

    def _pulse_digit(self) -> None:
        pulses, self._pulses = self._pulses, 0
        if 1 <= pulses <= 10:
            self._digit(str(pulses % 10))
        else:
            self._drop(f"{pulses} dial pulses are no digit", b"")

    def _digit(self, digit: str) -> None:
        call = self._call
        if call is None or not self._hook_off:
            return
        if call.state == "originating":
            self._set_tone("OFF")
            self._emit(DigitsDialled(self.config.line, call.ref, digit))
        elif call.state == "connected":
            self._emit(LineDigit(self.config.line, call.ref, digit))

    # ------------------------------------------------------------------------------ calls

    def _offer(self, command: OfferCall) -> None:
        line = self.config.line
        if self._call is not None or self._hook_off or not self.in_service:
            self._emit(LineCleared(line, command.ref, CAUSE_BUSY))
            self._emit(LineReleased(line, command.ref))
            return
        self._call = _Station(command.ref, "ringing")
        if command.calling or not command.presentation_allowed:
            self._queue(_caller_id(command), command.ref)
        self._queue(StartRinging(self.config.ring_cadence), command.ref)

    def _ringing(self) -> None:
        call = self._call
        if call is not None and call.state == "ringing" and not call.progress_sent:
            call.progress_sent = True
            self._emit(LineProgress(self.config.line, call.ref, "alerting"))

    def _ring_trip(self) -> None:
        call = self._call
        self._hook_off = True
        self._seize_at = None
        if call is not None and call.state == "ringing":
            call.state = "connected"
            self._emit(LineAnswered(self.config.line, call.ref))

    def _ring_timeout(self) -> None:
        call = self._call
        if call is not None and call.state == "ringing":
            self._end_call(call, CAUSE_NO_ANSWER)

    def _clear(self, call: _Station) -> None:
        """Call control cleared: stop ringing, or give busy tone until the phone hangs up."""
        line = self.config.line
        if call.state == "ringing":
            self._queue(StopRinging(), None)
            self._call = None
        elif call.state in ("originating", "connected"):
            self._lockout()
        self._emit(LineReleased(line, call.ref))

    def _lockout(self) -> None:
        self._call = _Station("", "lockout")
        self._set_tone("BUSY")

    def _end_call(self, call: _Station, cause: int) -> None:
        self._emit(LineCleared(self.config.line, call.ref, cause))
        self._emit(LineReleased(self.config.line, call.ref))
        if self._call is call:
            self._call = None

    # ------------------------------------------------------------------------------ board link

    def _board_lost(self, reason: str, *, retry: bool = False, resync: bool = False) -> None:
        call = self._call
        if call is not None and call.state != "lockout":
            self._end_call(call, CAUSE_OUT_OF_ORDER)
        self._call = None
        self._commands.clear()
        self._inflight = None
        self._tone = "OFF"
        self._raw_off = None
        self._hook_off = False
        self._seize_at = self._break_started = self._digit_at = None
        self._pulses = 0
        self._set_service(False, reason)
        if retry or resync:
            self.start(self._now)

    def _set_service(self, in_service: bool, reason: str) -> None:
        if self._in_service is in_service:
            return
        self._in_service = in_service
        self._emit(LineStatus(self.config.line, in_service, reason))

    def _set_tone(self, tone: Tone) -> None:
        if tone != self._tone:
            self._tone = tone
            self._queue(PlayTone(tone), None)

    def _queue(self, command: FxsCommand, ref: str | None) -> None:
        self._commands.append(_Pending(command, ref))
        self._send_next()

    def _send_next(self) -> None:
        if self._inflight is not None or not self._commands:
            return
        pending = self._commands.popleft()
        pending.deadline = self._now + self.config.command_timeout
        self._inflight = pending
        if isinstance(pending.command, Sync):
            self._syncs += 1
        wire = bytes(pending.command)
        self._out += wire
        self._trace(self._event("out", pending.command.text() or "<sync>", wire))

    def _audio_in(self, frame: AudioFrame) -> None:
        call = self._call
        codec = self.codec
        if call is None or codec is None or not self._hook_off or call.state == "lockout":
            return
        self._events.append(LineAudioFrame(self.config.line, call.ref, codec, frame.payload))

    # ------------------------------------------------------------------------------ trace

    def _emit(self, event: FxsLineEvent) -> None:
        self._events.append(event)
        self._note("note", type(event).__name__)

    def _drop(self, reason: str, raw: bytes) -> None:
        self.noise += 1
        self._trace(self._event("drop", reason, raw))

    def _note(self, direction: Literal["in", "note"], summary: str) -> None:
        self._trace(self._event(direction, summary, b""))

    def _event(
        self, direction: Literal["in", "out", "drop", "note"], summary: str, raw: bytes
    ) -> TraceEvent:
        return TraceEvent(
            time=self._now,
            node=self.config.line,
            protocol="fxs",
            direction=direction,
            summary=summary[:120],
            raw=raw,
            transport="serial",
        )
