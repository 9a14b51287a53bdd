"""A V.253 voice modem as an FXO line of the gateway: the sans-IO line logic over the AT engine.

The modem sits on a PBX extension or an ATA port.  This object turns its AT/DLE conversation into
the :mod:`gateway.line` events a LineAdapter passes up (it emits those values directly) and turns
line commands into AT work:

* initialisation, re-run after every reset: ``ATZ``, ``ATE0``, ``ATV1``, ``AT+FCLASS=8``, the
  country (``AT+GCI``), caller ID (``AT+VCID=1`` with the profile's fallbacks such as ``AT#CID=1``),
  the sample format (``AT+VSM=?`` parsed, G.711 preferred, else 8-bit linear), ``AT+VLS=0``,
  ``AT+VIT`` and ``AT+VSD`` (or software silence detection where the chip ignores it);
* an incoming call: RING, then caller ID or a timer (4.5 s by default) -> :class:`LineSeized`;
  :class:`AnswerCall` -> ``AT+VLS=1`` and ``AT+VTR`` (full duplex), falling back to ``AT+VRX`` /
  ``AT+VTX`` (half duplex) when ``+VTR`` gives ERROR;
* an outgoing call: ``AT+VLS=1``, ``ATD<digits>;``; VCON answers, BUSY/NO ANSWER/NO DIALTONE/...
  clear with the matching Q.850 cause;
* during the call: DTMF from ``<DLE>`` codes -> :class:`LineDigit`, DTMF to the line with ``AT+VTS``
  (leaving the voice state for it) or in-stream where the chip allows; remote hang-up from loop
  current interruption, busy or dial tone, or prolonged silence -> :class:`LineCleared`;
* local hang-up: the DLE code that ends the voice state, then ``ATH`` -> :class:`LineReleased`.

Line audio leaves as :class:`hardware.protocols.line_audio.LineAudioFrame` (20 ms frames in the
line codec) and enters through :meth:`VoiceModemLine.send_audio`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Literal

from gateway.errors import ConfigError
from gateway.line import (
    AnswerCall,
    ClearCall,
    LineAnswerAcknowledged,
    LineAnswered,
    LineCleared,
    LineCodec,
    LineCommand,
    LineDigit,
    LineEvent,
    LineProgress,
    LineReleased,
    LineSeized,
    LineStatus,
    OfferCall,
    SendDigit,
)
from gateway.trace import TraceEvent, TraceSink, discard
from hardware.protocols.at import (
    AtEngine,
    CommandCompleted,
    CommandTimedOut,
    LinkClosed,
    LinkMode,
    UnsolicitedResult,
    VoiceAudio,
    VoiceDataEnded,
    VoiceEvent,
    VoiceMode,
)
from hardware.protocols.caller_id import CallerIdCollector, CallerIdLine, match_unformatted
from hardware.protocols.dle import DleEvent, DleKind
from hardware.protocols.line_audio import FrameCutter, LineAudioFrame
from hardware.protocols.quirks import GENERIC_V253, ModemQuirks
from hardware.protocols.voice_format import (
    SampleFormat,
    VsmMethod,
    choose,
    from_line,
    is_silent,
    line_codec,
    parse_methods,
    to_line,
)

# Q.850 cause values this line produces.
CAUSE_NORMAL = 16
CAUSE_BUSY = 17
CAUSE_NO_ANSWER = 19
CAUSE_CALL_REJECTED = 21
CAUSE_INVALID_NUMBER = 28
CAUSE_NO_CIRCUIT = 34
CAUSE_OUT_OF_ORDER = 38
CAUSE_TEMPORARY_FAILURE = 41
CAUSE_RESOURCE_UNAVAILABLE = 47
CAUSE_TIMER_EXPIRY = 102

# Final result of ATD -> the cause the call clears with (NO DIALTONE comes from the config).
DIAL_FAILURE_CAUSES: dict[str, int] = {
    "BUSY": CAUSE_BUSY,
    "NO ANSWER": CAUSE_NO_ANSWER,
    "NO CARRIER": CAUSE_NORMAL,
    "ERROR": CAUSE_RESOURCE_UNAVAILABLE,
    "+CME ERROR": CAUSE_RESOURCE_UNAVAILABLE,
    "NO LINE": CAUSE_OUT_OF_ORDER,
    "LINE IN USE": CAUSE_NO_CIRCUIT,
    "DELAYED": CAUSE_TEMPORARY_FAILURE,
    "BLACKLISTED": CAUSE_CALL_REJECTED,
}
# In-call DLE reports that mean the far end hung up (V.253 Table 14).
_REMOTE_HANGUP: dict[DleKind, str] = {
    DleKind.LOOP_BREAK: "loop current interruption",
    DleKind.BUSY: "busy tone",
    DleKind.REORDER: "reorder tone",
    DleKind.DIAL_TONE: "dial tone",
    DleKind.SILENCE: "silence (modem +VSD)",
    DleKind.QUIET: "quiet after voice (modem +VSD)",
}
_DIAL_CHARACTERS = frozenset("0123456789*#ABCDabcdPpTtWw,!")
_DTMF = frozenset("0123456789*#ABCD")
_END_OF_VOICE: dict[VoiceMode, DleKind] = {
    "duplex": DleKind.DUPLEX_ABORT,
    "receive": DleKind.RECEIVE_ABORT,
    "transmit": DleKind.END_OF_STREAM,
}


@dataclass(frozen=True, slots=True)
class VoiceModemConfig:
    line: str = "modem"
    number: str = ""
    quirks: ModemQuirks = GENERIC_V253
    # ITU-T T.35 country code in hex for AT+GCI (e.g. "B5" United States, "FD" Germany); None: keep.
    country_code: str | None = None
    prefer_alaw: bool = False
    caller_id_wait: float = 4.5
    # A caller ID block is printed in one burst: this long after its last line it is complete.
    caller_id_settle: float = 0.5
    expect_caller_name: bool = True
    # No RING for this long: the caller gave up.
    ring_gone_after: float = 8.0
    silence_timeout: float | None = 20.0
    # AT+VIT seconds; 0 disables it (a half-duplex receive sends nothing that would refresh it).
    inactivity_timer: int = 0
    command_timeout: float = 5.0
    reset_timeout: float = 10.0
    dial_timeout: float = 90.0
    retry_delay: float = 5.0
    no_dialtone_cause: int = CAUSE_TEMPORARY_FAILURE
    half_duplex: Literal["receive", "transmit"] = "receive"

    def __post_init__(self) -> None:
        code = self.country_code
        if code is not None and (
            len(code) != 2 or not all(c in "0123456789ABCDEFabcdef" for c in code)
        ):
            raise ConfigError("a T.35 country code is two hex digits", key="country_code")
        if self.half_duplex not in ("receive", "transmit"):
            raise ConfigError("half_duplex is 'receive' or 'transmit'", key="half_duplex")
        if self.caller_id_wait <= 0 or self.command_timeout <= 0 or self.retry_delay <= 0:
            raise ConfigError("timers must be positive", key="caller_id_wait")


CallState = Literal[
    "ringing", "offered", "rejected", "answering", "dialing", "connected", "clearing", "released"
]


@dataclass(slots=True)
class _Call:
    ref: str
    incoming: bool
    state: CallState
    started: float = 0.0
    voice: VoiceMode | None = None
    cleared: bool = False
    rings: int = 0
    last_ring: float = 0.0
    last_caller_id: float = 0.0
    last_sound: float = 0.0
    collector: CallerIdCollector = field(default_factory=CallerIdCollector)


@dataclass(frozen=True, slots=True)
class _Cmd:
    text: str
    timeout: float


@dataclass(frozen=True, slots=True)
class _EndVoice:
    """Leave the voice data state (if the modem is in it) and wait until it is back."""


_Step = _Cmd | _EndVoice
_Outcome = CommandCompleted | VoiceDataEnded
_Flow = Generator[_Step, _Outcome | None, None]

ModemEvent = LineEvent | LineAudioFrame


def _in_state(call: _Call, state: CallState) -> bool:
    """A call's state, read through a function: flows check it again after every yield."""
    return call.state == state


def _succeeded(outcome: _Outcome | None, *codes: str) -> bool:
    if not isinstance(outcome, CommandCompleted):
        return False
    return outcome.result.code in codes if codes else outcome.result.success


class VoiceModemLine:
    """One voice modem line (see the module docstring); drive it like every sans-IO core."""

    def __init__(self, config: VoiceModemConfig, *, trace: TraceSink = discard) -> None:
        self.config = config
        self.quirks = config.quirks
        self._trace = trace
        self._at = AtEngine(node=config.line, trace=trace)
        self._events: deque[ModemEvent] = deque()
        self._flows: deque[_Flow] = deque()
        self._flow: _Flow | None = None
        self._waiting_tag: int | None = None
        self._waiting_voice_end = False
        self._call: _Call | None = None
        self._calls_made = 0
        self._now = 0.0
        self._state: Literal["down", "initialising", "idle"] = "down"
        self._in_service: bool | None = None
        self._retry_at: float | None = None
        self._format: VsmMethod | None = None
        self._software_silence = False
        self._duplex_ok = self.quirks.supports_vtr
        self._cutter: FrameCutter | None = None
        self._cutter_codec: LineCodec = "pcmu"
        self._dtmf_started: float | None = None
        self._dtmf_pending: str | None = None
        self.dropped_audio_frames = 0

    # ------------------------------------------------------------------------------ queries

    @property
    def in_service(self) -> bool:
        return self._in_service is True

    @property
    def sample_format(self) -> SampleFormat | None:
        return self._format.sample_format if self._format else None

    @property
    def codec(self) -> LineCodec | None:
        return line_codec(self._format.sample_format) if self._format else None

    @property
    def call_ref(self) -> str | None:
        call = self._call
        return call.ref if call and call.state not in ("rejected", "released") else None

    # ------------------------------------------------------------------------------ sans-IO

    def start(self, now: float) -> None:
        """(Re)initialise the modem: after opening the port, or when the device came back."""
        self._now = now
        self._drop_call(CAUSE_OUT_OF_ORDER)
        self._at.reset()
        self._flows.clear()
        self._flow = None
        self._waiting_tag = None
        self._waiting_voice_end = False
        self._retry_at = None
        self._state = "initialising"
        self._run(self._init_flow())

    def receive_data(self, data: bytes, now: float) -> None:
        self._now = now
        self._at.receive_data(data, now)
        self._pump()

    def data_to_send(self, now: float) -> bytes:
        return self._at.data_to_send(now)

    def next_event(self) -> ModemEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        deadlines = [t for t in (self._at.get_timer(), self._retry_at) if t is not None]
        call = self._call
        if call is not None:
            deadlines.extend(self._call_deadlines(call))
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        self._now = now
        self._at.handle_timer(now)
        self._pump()
        if self._retry_at is not None and now >= self._retry_at:
            self.start(now)
        call = self._call
        if call is None:
            return
        if call.state == "ringing" and now >= self._offer_deadline(call):
            self._offer(call)
        elif (
            call.state in ("offered", "rejected")
            and now >= call.last_ring + self.config.ring_gone_after
        ):
            self._ring_gone(call)
        elif call.state == "connected" and self._silence_deadline(call) is not None:
            deadline = self._silence_deadline(call)
            if deadline is not None and now >= deadline:
                self._remote_hangup(call, "silence (software detection)")

    def handle_command(self, command: LineCommand, now: float) -> None:
        """Apply a line command from call control (commands for other lines are ignored)."""
        self._now = now
        if command.line != self.config.line:
            return
        if isinstance(command, OfferCall):
            self._offer_call(command)
        elif isinstance(command, AnswerCall):
            self._answer(command.ref)
        elif isinstance(command, ClearCall):
            self._clear(command.ref)
        elif isinstance(command, SendDigit):
            self._send_digit(command.ref, command.digit)
        # ProceedCall, IndicateProgress and AcknowledgeAnswer need nothing from an FXO modem.

    def send_audio(self, ref: str, frame: bytes, now: float) -> None:
        """One frame of line-codec audio for the far end of the analog line."""
        call = self._call
        if (
            call is None
            or call.ref != ref
            or call.state != "connected"
            or self._format is None
            or not self._at.accepts_samples  # also while our end of the stream is under way
        ):
            self.dropped_audio_frames += 1
            return
        self._at.send_voice(from_line(self._format.sample_format, frame), now)

    # ------------------------------------------------------------------------------ flows

    def _run(self, flow: _Flow) -> None:
        self._flows.append(flow)
        if self._flow is None:
            self._advance(None)

    def _advance(self, outcome: _Outcome | None) -> None:
        while True:
            if self._flow is None:
                if not self._flows:
                    return
                self._flow = self._flows.popleft()
                outcome = None
            try:
                step = self._flow.send(outcome)
            except StopIteration:
                self._flow = None
                continue
            if isinstance(step, _Cmd):
                self._waiting_tag = self._at.send_command(step.text, step.timeout, self._now)
                return
            if self._at.mode is LinkMode.COMMAND:
                outcome = VoiceDataEnded(self._at.voice_mode or "duplex", None, "not in voice data")
                continue
            self._waiting_voice_end = True
            mode = self._at.voice_mode
            if mode is not None:
                self._at.send_voice_action(
                    _END_OF_VOICE[mode], self._now, prefix_count=self.quirks.dle_prefix_count
                )
            return

    def _cmd(self, text: str, timeout: float | None = None) -> _Cmd:
        return _Cmd(text, timeout or self.config.command_timeout)

    def _init_flow(self) -> _Flow:
        config = self.config
        result = yield self._cmd("ATZ", config.reset_timeout)
        if not _succeeded(result):
            return self._line_down("the modem refused ATZ", retry=True)
        for command in ("ATE0", "AT+FCLASS=8"):
            result = yield self._cmd(command)
            if not _succeeded(result):
                return self._line_down(f"the modem refused {command}", retry=True)
        result = yield self._cmd("ATV1")
        if config.country_code is not None:
            result = yield self._cmd(f"AT+GCI={config.country_code.upper()}")
            if not _succeeded(result):
                self._note(f"AT+GCI={config.country_code} refused: line keeps its country")
        for command in self.quirks.caller_id_commands:
            result = yield self._cmd(command)
            if _succeeded(result):
                break
        else:
            self._note("no caller ID command accepted: calls arrive without caller ID")
        result = yield self._cmd("AT+VSM=?")
        offered = parse_methods(result.lines) if isinstance(result, CommandCompleted) else []
        if not offered:
            offered = list(self.quirks.vsm_methods)
        self._format = None
        for method in choose(offered, prefer_alaw=config.prefer_alaw):
            result = yield self._cmd(f"AT+VSM={method.code},8000")
            if _succeeded(result):
                self._format = method
                break
        if self._format is None:
            return self._line_down("no usable voice sample format (+VSM)", retry=True)
        result = yield self._cmd("AT+VLS=0")
        result = yield self._cmd(f"AT+VIT={config.inactivity_timer}")
        self._software_silence = config.silence_timeout is not None
        if config.silence_timeout is not None and self.quirks.vsd_works:
            tenths = min(255, max(1, round(config.silence_timeout * 10)))
            result = yield self._cmd(f"AT+VSD={self.quirks.vsd_sensitivity},{tenths}")
            self._software_silence = not _succeeded(result)
        self._duplex_ok = self.quirks.supports_vtr
        self._state = "idle"
        self._set_service(True, "initialised")

    def _voice_flow(self, call: _Call) -> Generator[_Step, _Outcome | None, bool]:
        """Enter a voice data state: +VTR, or the configured half-duplex direction."""
        if self._duplex_ok:
            result = yield self._cmd("AT+VTR")
            if _succeeded(result, "CONNECT"):
                call.voice = "duplex"
                return True
            if _succeeded(result, "ERROR"):
                self._duplex_ok = False
                self._note("+VTR refused: half-duplex voice from now on")
            else:
                return False
        command = "AT+VRX" if self.config.half_duplex == "receive" else "AT+VTX"
        result = yield self._cmd(command)
        if _succeeded(result, "CONNECT"):
            call.voice = self.config.half_duplex
            return True
        return False

    def _answer_flow(self, call: _Call) -> _Flow:
        result = yield self._cmd("AT+VLS=1")
        if not _in_state(call, "answering"):
            return
        if not _succeeded(result):
            self._clear_from_line(call, CAUSE_TEMPORARY_FAILURE, "the modem refused to go off hook")
            return
        voice = yield from self._voice_flow(call)
        if not _in_state(call, "answering"):
            return
        if not voice:
            self._clear_from_line(call, CAUSE_RESOURCE_UNAVAILABLE, "no voice data state")
            return
        self._connected(call)
        self._emit(LineAnswerAcknowledged(self.config.line, call.ref))

    def _dial_flow(self, call: _Call, digits: str) -> _Flow:
        result = yield self._cmd("AT+VLS=1")
        if not _in_state(call, "dialing"):
            return
        if not _succeeded(result):
            self._clear_from_line(call, CAUSE_TEMPORARY_FAILURE, "the modem refused to go off hook")
            return
        result = yield self._cmd(f"ATD{digits};", self.config.dial_timeout)
        if not _in_state(call, "dialing"):
            return
        code = result.result.code if isinstance(result, CommandCompleted) else "none"
        if code == "OK":
            # Dialled without answer supervision: cut through and treat the call as answered.
            self._emit(LineProgress(self.config.line, call.ref, "progress", inband=True))
        elif code not in ("VCON", "CONNECT"):
            cause = (
                self.config.no_dialtone_cause
                if code == "NO DIALTONE"
                else DIAL_FAILURE_CAUSES.get(code, CAUSE_RESOURCE_UNAVAILABLE)
            )
            self._clear_from_line(call, cause, f"dial result {code}")
            return
        self._emit(LineAnswered(self.config.line, call.ref))
        voice = yield from self._voice_flow(call)
        if not _in_state(call, "dialing"):
            return
        if not voice:
            self._clear_from_line(call, CAUSE_RESOURCE_UNAVAILABLE, "no voice data state")
            return
        self._connected(call)

    def _digit_flow(self, call: _Call, digit: str) -> _Flow:
        if not _in_state(call, "connected"):
            return
        yield _EndVoice()
        result = yield self._cmd(f"AT+VTS={digit}")
        if not _succeeded(result):
            self._note(f"AT+VTS={digit} refused")
        if not _in_state(call, "connected"):
            return
        voice = yield from self._voice_flow(call)
        if not voice and _in_state(call, "connected"):
            self._clear_from_line(call, CAUSE_RESOURCE_UNAVAILABLE, "voice lost after +VTS")

    def _hangup_flow(self, call: _Call) -> _Flow:
        yield _EndVoice()
        yield self._cmd("ATH")
        call.state = "released"
        self._emit(LineReleased(self.config.line, call.ref))
        if self._call is call:
            self._call = None
            self._reset_call_audio()

    # ------------------------------------------------------------------------------ engine events

    def _pump(self) -> None:
        while (event := self._at.next_event()) is not None:
            if isinstance(event, CommandCompleted):
                if event.tag == self._waiting_tag:
                    self._waiting_tag = None
                    self._advance(event)
            elif isinstance(event, CommandTimedOut):
                self._waiting_tag = None
                self._line_down(f"no answer to {event.command}", retry=True)
            elif isinstance(event, VoiceAudio):
                self._voice_audio(event.samples)
            elif isinstance(event, VoiceEvent):
                self._voice_event(event.event)
            elif isinstance(event, VoiceDataEnded):
                if self._waiting_voice_end:
                    self._waiting_voice_end = False
                    self._advance(event)
                else:
                    call = self._call
                    if call is not None and call.state == "connected":
                        self._remote_hangup(call, f"modem left voice data: {event.reason}")
            elif isinstance(event, UnsolicitedResult):
                self._unsolicited(event.text)
            elif isinstance(event, LinkClosed):
                self._line_down("device closed", retry=False, cause=CAUSE_OUT_OF_ORDER)

    def _unsolicited(self, text: str) -> None:
        upper = text.upper()
        if upper == "RING" or upper.startswith("RING "):
            self._ring()
            return
        tag_line = CallerIdLine.match(text)
        packet = None if tag_line else match_unformatted(text)
        if tag_line is None and packet is None:
            return
        call = self._call
        if call is None and self._state == "idle":
            # Caller ID before the first ring (ETSI/BT style): the call starts with it.
            call = self._new_incoming()
        if call is None or call.state != "ringing":
            return
        if tag_line is not None:
            call.collector.add_line(tag_line)
        elif packet is not None:
            call.collector.add_packet(packet)
        call.last_caller_id = self._now
        if call.collector.complete:
            self._offer(call)

    def _ring(self) -> None:
        call = self._call
        if call is None:
            if self._state != "idle":
                return
            call = self._new_incoming()
        if call.state not in ("ringing", "offered", "rejected"):
            return
        call.rings += 1
        call.last_ring = self._now
        if call.state == "ringing" and call.rings >= 2:
            self._offer(call)  # the next RING closes the caller ID block

    def _new_incoming(self) -> _Call:
        self._calls_made += 1
        call = _Call(f"{self.config.line}-{self._calls_made}", True, "ringing", started=self._now)
        call.collector = CallerIdCollector(self.config.expect_caller_name)
        self._call = call
        return call

    def _offer_deadline(self, call: _Call) -> float:
        deadline = call.started + self.config.caller_id_wait
        if call.collector.has_number:
            deadline = min(deadline, call.last_caller_id + self.config.caller_id_settle)
        return deadline

    def _offer(self, call: _Call) -> None:
        cid = call.collector.result()
        call.state = "offered"
        if not call.rings:
            call.last_ring = self._now
        self._emit(
            LineSeized(
                self.config.line,
                call.ref,
                called=self.config.number,
                calling=cid.number,
                calling_name=cid.name,
                presentation_allowed=cid.presentation_allowed,
                complete=True,
                codec=self.codec,
            )
        )

    def _ring_gone(self, call: _Call) -> None:
        if call.state == "offered":
            self._emit(LineCleared(self.config.line, call.ref, CAUSE_NORMAL))
            self._emit(LineReleased(self.config.line, call.ref))
        self._note("ringing stopped")
        self._call = None

    def _voice_audio(self, samples: bytes) -> None:
        call = self._call
        fmt = self._format
        if call is None or call.state != "connected" or fmt is None or self._cutter is None:
            return
        if self._software_silence and not is_silent(fmt.sample_format, samples):
            call.last_sound = self._now
        for frame in self._cutter.push(to_line(fmt.sample_format, samples)):
            self._emit(LineAudioFrame(self.config.line, call.ref, self._cutter_codec, frame))

    def _voice_event(self, event: DleEvent) -> None:
        call = self._call
        if call is None or call.state != "connected":
            return
        kind = event.kind
        if kind is DleKind.DTMF_START:
            self._dtmf_started = self._now
        elif kind is DleKind.DTMF and event.digit is not None:
            if self._dtmf_started is not None:
                self._dtmf_pending = event.digit
            else:
                self._emit(LineDigit(self.config.line, call.ref, event.digit))
        elif kind is DleKind.DTMF_END:
            digit, started = self._dtmf_pending, self._dtmf_started
            self._dtmf_pending = self._dtmf_started = None
            if digit is not None and started is not None:
                duration = round((self._now - started) * 1000)
                # Marks delivered together carry no timing: report the usual 100 ms.
                self._emit(
                    LineDigit(
                        self.config.line, call.ref, digit, duration if duration >= 40 else 100
                    )
                )
        elif kind in _REMOTE_HANGUP:
            self._remote_hangup(call, _REMOTE_HANGUP[kind])

    # ------------------------------------------------------------------------------ commands

    def _offer_call(self, command: OfferCall) -> None:
        line = self.config.line
        digits = command.called
        if self._state != "idle" or self._call is not None:
            self._emit(LineCleared(line, command.ref, CAUSE_NO_CIRCUIT))
            self._emit(LineReleased(line, command.ref))
            return
        if not digits or not _DIAL_CHARACTERS.issuperset(digits) or len(digits) > 40:
            self._emit(LineCleared(line, command.ref, CAUSE_INVALID_NUMBER))
            self._emit(LineReleased(line, command.ref))
            return
        call = _Call(command.ref, False, "dialing")
        self._call = call
        self._run(self._dial_flow(call, digits))

    def _answer(self, ref: str) -> None:
        call = self._call
        if call is None or call.ref != ref or call.state != "offered":
            self._note(f"answer for {ref} ignored")
            return
        call.state = "answering"
        self._run(self._answer_flow(call))

    def _clear(self, ref: str) -> None:
        call = self._call
        if call is None or call.ref != ref or (call.cleared and call.state == "clearing"):
            return
        call.cleared = True
        if call.state in ("ringing", "offered"):
            # An analog call cannot be refused: let it ring out, but it is gone for call control.
            call.state = "rejected"
            self._emit(LineReleased(self.config.line, ref))
        elif call.state in ("answering", "dialing", "connected"):
            if call.state == "dialing":
                self._at.abort_command(self._now)
            call.state = "clearing"
            self._run(self._hangup_flow(call))

    def _send_digit(self, ref: str, digit: str) -> None:
        call = self._call
        if call is None or call.ref != ref or call.state != "connected" or digit not in _DTMF:
            self._note(f"digit {digit!r} for {ref} ignored")
            return
        if self.quirks.dtmf_via_dle and self._at.accepts_samples:
            self._at.send_voice_digit(digit, self._now)
        else:
            self._run(self._digit_flow(call, digit))

    # ------------------------------------------------------------------------------ helpers

    def _connected(self, call: _Call) -> None:
        call.state = "connected"
        call.last_sound = self._now
        codec = self.codec
        if codec is not None:
            self._cutter = FrameCutter(codec)
            self._cutter_codec = codec

    def _reset_call_audio(self) -> None:
        self._cutter = None
        self._dtmf_started = self._dtmf_pending = None

    def _remote_hangup(self, call: _Call, reason: str) -> None:
        self._note(f"remote hang-up: {reason}")
        self._clear_from_line(call, CAUSE_NORMAL, reason)

    def _clear_from_line(self, call: _Call, cause: int, reason: str) -> None:
        """The line side cleared the call: tell call control, then hang up."""
        if call.state in ("clearing", "released"):
            return
        self._note(f"clearing {call.ref}: {reason} (cause {cause})")
        call.cleared = True
        call.state = "clearing"
        self._emit(LineCleared(self.config.line, call.ref, cause))
        self._run(self._hangup_flow(call))

    def _drop_call(self, cause: int) -> None:
        """The call cannot go on (device lost or reset): clear and release it at once."""
        call = self._call
        if call is not None and call.state not in ("ringing", "rejected", "released"):
            if call.state != "clearing":
                self._emit(LineCleared(self.config.line, call.ref, cause))
            self._emit(LineReleased(self.config.line, call.ref))
        self._call = None
        self._reset_call_audio()

    def _line_down(self, reason: str, *, retry: bool, cause: int = CAUSE_TIMER_EXPIRY) -> None:
        self._drop_call(cause)
        self._flows.clear()
        self._flow = None
        self._waiting_tag = None
        self._waiting_voice_end = False
        self._at.reset()
        self._state = "down"
        self._retry_at = self._now + self.config.retry_delay if retry else None
        self._set_service(False, reason)

    def _set_service(self, in_service: bool, reason: str) -> None:
        if self._in_service is in_service:
            return
        self._in_service = in_service
        self._emit(LineStatus(self.config.line, in_service, reason))

    def _call_deadlines(self, call: _Call) -> list[float]:
        if call.state == "ringing":
            return [self._offer_deadline(call)]
        if call.state in ("offered", "rejected"):
            return [call.last_ring + self.config.ring_gone_after]
        deadline = self._silence_deadline(call)
        return [deadline] if deadline is not None else []

    def _silence_deadline(self, call: _Call) -> float | None:
        timeout = self.config.silence_timeout
        if call.state != "connected" or not self._software_silence or timeout is None:
            return None
        if call.voice == "transmit":
            return None  # nothing is received in a half-duplex transmit: silence cannot be told
        return call.last_sound + timeout

    def _emit(self, event: ModemEvent) -> None:
        self._events.append(event)
        if not isinstance(event, LineAudioFrame):
            self._trace(
                TraceEvent(
                    time=self._now,
                    node=self.config.line,
                    protocol="at",
                    direction="note",
                    summary=type(event).__name__,
                    transport="serial",
                )
            )

    def _note(self, summary: str) -> None:
        self._trace(
            TraceEvent(
                time=self._now,
                node=self.config.line,
                protocol="at",
                direction="note",
                summary=summary,
                transport="serial",
            )
        )
