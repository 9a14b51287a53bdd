"""The board side of the serial FXS protocol, sans-IO: the behaviour docs/fxs-serial-protocol.md
asks of firmware, as a model a simulator drives (and a firmware author can read).

The host side of the serial link is :meth:`FxsBoard.receive_data` / :meth:`FxsBoard.data_to_send`;
the phone side is :meth:`FxsBoard.set_hook` (the hook switch, so dial pulses are quick on/off
changes), :meth:`FxsBoard.press_key` (DTMF) and :meth:`FxsBoard.phone_says` (microphone audio).
The board either counts dial pulses itself (``DIAL_BEGIN``, ``DIAL <digit>``) or reports every raw
break (``LINE ONHOOK`` / ``LINE OFFHOOK``) for the host to count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.errors import RemoteProtocolError
from gateway.trace import TraceEvent, TraceSink, discard
from hardware.protocols.fxs_board import (
    AudioCodec,
    AudioFrame,
    BoardReady,
    CommandInvalid,
    CommandOk,
    DialBegin,
    DialDigit,
    FxsEvent,
    FxsNoise,
    FxsStreamReader,
    LineReport,
    PlayTone,
    QueryLine,
    QueryState,
    RingOn,
    RingPause,
    RingTimeout,
    RingTrip,
    SendCallerId,
    SetAudio,
    StartRinging,
    StateReport,
    StopRinging,
    Sync,
    Tone,
    parse_command,
)

BoardState = Literal["INIT", "IDLE", "RING", "WAIT", "DIAL"]


@dataclass(frozen=True, slots=True)
class FxsBoardConfig:
    report_raw_pulses: bool = False
    # An idle phone must stay off hook this long before the board reports it.
    offhook_debounce: float = 0.05
    # A break up to this long is a dial pulse (counting mode).
    pulse_break_max: float = 0.12
    interdigit: float = 0.25
    # On hook this long: the phone hung up, the board is idle again (longer than the host's
    # flash window, so both sides agree on what a pick-up after a hang-up is).
    hangup_after: float = 1.5
    ring_timeout: float = 30.0
    default_cadence: tuple[int, ...] = (2000, 4000)
    serial_audio: bool = True
    # Telephone-box firmware prints READY after every command; this protocol only needs it at boot.
    prompt_after_commands: bool = False
    boot_messages: tuple[str, ...] = ("INFO gwemu FXS board model",)


class FxsBoard:
    """A microcontroller + SLIC board with one phone (see the module docstring)."""

    def __init__(self, config: FxsBoardConfig | None = None, *, trace: TraceSink = discard) -> None:
        self.config = config or FxsBoardConfig()
        self._trace = trace
        self._reader = FxsStreamReader(keep_empty=True)
        self._out = bytearray()
        self._now = 0.0
        self.state: BoardState = "INIT"
        self.tone: Tone = "OFF"
        self.caller_id: SendCallerId | None = None
        self.displayed_caller_id: SendCallerId | None = None
        self.audio_on = False
        self.audio_codec: AudioCodec = "PCMU"
        self.heard = bytearray()
        self.bell_on = False
        self.rings = 0
        self._seq = 0
        self._phone_off = False
        self._reported_off = False
        self._pulses = 0
        self._cadence: tuple[int, ...] = ()
        self._phase = 0
        self._debounce_at: float | None = None
        self._pulse_at: float | None = None
        self._digit_at: float | None = None
        self._hangup_at: float | None = None
        self._phase_at: float | None = None
        self._ring_end_at: float | None = None

    # ------------------------------------------------------------------------------ host side

    def power_on(self, now: float) -> None:
        self._now = now
        for message in self.config.boot_messages:
            self._write_text(message)
        self._set_state("IDLE")
        self._send(BoardReady())

    def receive_data(self, data: bytes, now: float) -> None:
        self._now = now
        if self.state == "INIT":
            return
        for item in self._reader.feed(data):
            if isinstance(item, AudioFrame):
                if self.audio_on:
                    self.heard += item.payload
            elif isinstance(item, FxsNoise):
                self._note("drop", item.reason)
            else:
                self._command(item)

    def data_to_send(self, now: float) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def get_timer(self) -> float | None:
        deadlines = [
            t
            for t in (
                self._debounce_at,
                self._pulse_at,
                self._digit_at,
                self._hangup_at,
                self._phase_at,
                self._ring_end_at,
            )
            if t is not None
        ]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        self._now = now
        if self._debounce_at is not None and now >= self._debounce_at:
            self._debounce_at = None
            if self._phone_off and self.state == "IDLE":
                self._report_hook(True)
                self._set_state("WAIT")
        if self._pulse_at is not None and now >= self._pulse_at:
            self._pulse_at = None
            self._pulses = 0
            self._report_hook(False)
        if self._digit_at is not None and now >= self._digit_at:
            self._digit_at = None
            pulses, self._pulses = self._pulses, 0
            if 1 <= pulses <= 10:
                self._send(DialDigit(str(pulses % 10)))
            self._set_state("WAIT")
        if self._hangup_at is not None and now >= self._hangup_at:
            self._hangup_at = None
            if not self._phone_off:
                self.tone = "OFF"
                self._set_state("IDLE")
        if self._ring_end_at is not None and now >= self._ring_end_at:
            self._stop_ringing()
            self._send(RingTimeout())
            self._set_state("IDLE")
        if self._phase_at is not None and now >= self._phase_at:
            self._next_ring_phase()

    # ------------------------------------------------------------------------------ phone side

    def set_hook(self, off_hook: bool, now: float) -> None:
        """The hook switch moved (lifting the handset, hanging up, or one dial pulse edge)."""
        self._now = now
        if off_hook == self._phone_off or self.state == "INIT":
            self._phone_off = off_hook
            return
        self._phone_off = off_hook
        if self.state == "RING":
            if off_hook:
                self._stop_ringing()
                self._send(RingTrip())
                self._report_hook(True)
                self._set_state("WAIT")
            return
        if self.state == "IDLE":
            self._debounce_at = now + self.config.offhook_debounce if off_hook else None
            return
        if self.config.report_raw_pulses:
            self._report_hook(off_hook)
            self._hangup_at = None if off_hook else now + self.config.hangup_after
            return
        if not off_hook:
            self._pulse_at = now + self.config.pulse_break_max
            self._hangup_at = now + self.config.hangup_after
            self._digit_at = None
        elif self._pulse_at is not None:
            self._pulse_at = None
            self._hangup_at = None
            self._pulses += 1
            if self._pulses == 1 and self.state != "DIAL":
                self._send(DialBegin())
                self._set_state("DIAL")
                self._stop_dial_tone()
            self._digit_at = now + self.config.interdigit
        else:
            self._hangup_at = None
            self._report_hook(True)

    def press_key(self, digit: str, now: float) -> None:
        """A DTMF key: the board's tone decoder reports it while the phone is off hook."""
        self._now = now
        if self._phone_off and self.state in ("WAIT", "DIAL"):
            self._send(DialDigit(digit))
            self._stop_dial_tone()

    def phone_says(self, audio: bytes, now: float) -> None:
        """Microphone audio: sent to the host in frames while the audio channel is on."""
        self._now = now
        if not self.audio_on or not self._phone_off or self.state == "RING":
            return
        for start in range(0, len(audio), 160):
            self._out += bytes(AudioFrame(self._seq, audio[start : start + 160]))
            self._seq = (self._seq + 1) & 0xFF

    # ------------------------------------------------------------------------------ internals

    def _command(self, line: str) -> None:
        self._note("in", line or "<empty line>")
        try:
            command = parse_command(line)
        except RemoteProtocolError as error:
            self._note("drop", error.reason)
            self._answer(False)
            return
        if isinstance(command, Sync):
            self._send(BoardReady())
        elif isinstance(command, QueryState):
            self._answer(True, StateReport(self.state))
        elif isinstance(command, QueryLine):
            self._answer(True, LineReport("OFFHOOK" if self._reported_off else "ONHOOK"))
        elif isinstance(command, StartRinging):
            if self.state == "IDLE" and not self._phone_off:
                self._answer(True)
                self._start_ringing(command.cadence or self.config.default_cadence)
            else:
                self._answer(False)
        elif isinstance(command, StopRinging):
            if self.state == "RING":
                self._answer(True)
                self._stop_ringing()
                self._set_state("IDLE")
            else:
                self._answer(False)
        elif isinstance(command, SendCallerId):
            if self.state == "IDLE":
                self.caller_id = command
            self._answer(self.state == "IDLE")
        elif isinstance(command, PlayTone):
            self.tone = command.tone
            self._answer(True)
        elif isinstance(command, SetAudio):
            if self.config.serial_audio:
                self.audio_on, self.audio_codec = command.enabled, command.codec
            self._answer(self.config.serial_audio)

    def _answer(self, ok: bool, report: FxsEvent | None = None) -> None:
        self._send(CommandOk() if ok else CommandInvalid())
        if report is not None:
            self._send(report)
        if self.config.prompt_after_commands:
            self._send(BoardReady())

    def _start_ringing(self, cadence: tuple[int, ...]) -> None:
        self._set_state("RING")
        self._cadence = cadence
        self._phase = -1
        self._ring_end_at = self._now + self.config.ring_timeout
        self.displayed_caller_id, self.caller_id = self.caller_id, None
        self._next_ring_phase()

    def _next_ring_phase(self) -> None:
        self._phase = (self._phase + 1) % len(self._cadence)
        self._phase_at = self._now + self._cadence[self._phase] / 1000
        self.bell_on = self._phase % 2 == 0
        if self.bell_on:
            self.rings += 1
            self._send(RingOn())
        else:
            self._send(RingPause())

    def _stop_dial_tone(self) -> None:
        if self.tone == "DIAL":
            self.tone = "OFF"

    def _stop_ringing(self) -> None:
        self.bell_on = False
        self._phase_at = self._ring_end_at = None

    def _report_hook(self, off: bool) -> None:
        self._reported_off = off
        self._send(LineReport("OFFHOOK" if off else "ONHOOK"))

    def _set_state(self, state: BoardState) -> None:
        if state != self.state:
            self.state = state
            self._send(StateReport(state))

    def _send(self, event: FxsEvent) -> None:
        self._write_text(event.text())

    def _write_text(self, text: str) -> None:
        self._out += text.encode("ascii") + b"\r\n"
        self._note("out", text)

    def _note(self, direction: Literal["in", "out", "drop"], summary: str) -> None:
        self._trace(
            TraceEvent(
                time=self._now,
                node="fxs-board",
                protocol="fxs",
                direction=direction,
                summary=summary[:120],
                transport="serial",
            )
        )
