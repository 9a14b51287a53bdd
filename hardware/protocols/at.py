"""The AT command engine of a host driving a modem (ITU-T V.250 / V.253), sans-IO.

One command is in flight at a time (V.250: a DTE waits for the final result code);
later ones queue.  Each command gets a deadline when it is written (``now + timeout``); the engine
reports :class:`CommandCompleted` with the intermediate lines it collected, or
:class:`CommandTimedOut`.  Echo (``ATE1``) is recognised and swallowed, unsolicited result codes
(RING, caller ID lines) are reported whenever they arrive, also in the middle of a response.

Voice data is an explicit mode: the CONNECT that answers ``AT+VTX``/``AT+VRX``/``AT+VTR`` switches
the link to :attr:`LinkMode.VOICE`; bytes then go through the DLE decoder (samples and shielded
events) until ``<DLE><ETX>``, after which the modem's final result code closes the voice session
(:class:`VoiceDataEnded`).  A modem that answers the DTE's abort with a bare ``OK`` and no
``<DLE><ETX>`` is handled too.  Line noise (over-long lines, binary garbage, NULs) becomes
:class:`LinkNoise`, never an exception.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.trace import TraceEvent, TraceSink, discard
from hardware.protocols.caller_id import CallerIdLine
from hardware.protocols.dle import DleDecoder, DleEvent, DleKind, encode_action, escape

VoiceMode = Literal["transmit", "receive", "duplex"]

_VOICE_COMMANDS: tuple[tuple[str, VoiceMode], ...] = (
    ("+VTX", "transmit"),
    ("+VRX", "receive"),
    ("+VTR", "duplex"),
)
# Final result codes (V.250, V.253 VCON, 3GPP +CME ERROR, Si24xx line checks).
_FINAL_CODES = {
    "OK": "OK",
    "ERROR": "ERROR",
    "VCON": "VCON",
    "NO CARRIER": "NO CARRIER",
    "BUSY": "BUSY",
    "NO ANSWER": "NO ANSWER",
    "NO DIALTONE": "NO DIALTONE",
    "NO DIAL TONE": "NO DIALTONE",
    "NO LINE": "NO LINE",
    "LINE IN USE": "LINE IN USE",
    "DELAYED": "DELAYED",
    "BLACKLISTED": "BLACKLISTED",
}
SUCCESS_CODES = frozenset({"OK", "CONNECT", "VCON"})
_TERMINATOR = re.compile(rb"[\r\n]")
_MAX_LINES_PER_COMMAND = 256


@dataclass(frozen=True, slots=True)
class FinalResult:
    """A final result code: ``code`` is canonical, ``text`` exactly as the modem printed it."""

    code: str
    text: str
    cme_error: int | None = None

    @property
    def success(self) -> bool:
        return self.code in SUCCESS_CODES

    @classmethod
    def match(cls, line: str) -> FinalResult | None:
        text = line.strip()
        upper = text.upper()
        code = _FINAL_CODES.get(upper)
        if code is not None:
            return cls(code, text)
        if upper == "CONNECT" or upper.startswith("CONNECT "):
            return cls("CONNECT", text)
        if upper.startswith("+CME ERROR:"):
            detail = text[11:].strip()
            return cls("+CME ERROR", text, int(detail) if detail.isdigit() else None)
        return None

    @classmethod
    def parse(cls, line: str) -> FinalResult:
        found = cls.match(line)
        if found is None:
            raise RemoteProtocolError(f"not a final result code: {line[:40]!r}", None)
        return found

    def __str__(self) -> str:
        return self.text

    def __bytes__(self) -> bytes:
        """The verbose wire form, ``<CR><LF>text<CR><LF>`` (V.250 verbose result codes)."""
        return format_line(self.text)


def format_line(text: str) -> bytes:
    """An information or result line as a modem sends it in verbose mode (``ATV1``)."""
    return b"\r\n" + text.encode("latin-1", "replace") + b"\r\n"


def is_unsolicited(line: str) -> bool:
    """Lines a modem sends on its own, whatever command is in flight."""
    upper = line.upper()
    if upper == "RING" or upper.startswith(("RING ", "+CRING", "DRON", "DROF")):
        return True
    return CallerIdLine.match(line) is not None


# ----------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class CommandCompleted:
    tag: int
    command: str
    result: FinalResult
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandTimedOut:
    tag: int
    command: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UnsolicitedResult:
    text: str


@dataclass(frozen=True, slots=True)
class VoiceDataStarted:
    tag: int
    command: str
    mode: VoiceMode


@dataclass(frozen=True, slots=True)
class VoiceAudio:
    samples: bytes


@dataclass(frozen=True, slots=True)
class VoiceEvent:
    event: DleEvent


@dataclass(frozen=True, slots=True)
class VoiceDataEnded:
    """The modem is back in command mode; ``result`` is its closing code (None if it sent none)."""

    mode: VoiceMode
    result: FinalResult | None
    reason: str


@dataclass(frozen=True, slots=True)
class LinkNoise:
    reason: str
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class LinkClosed:
    """The byte stream ended (``receive_data(b"")``): the device went away."""


AtEvent = (
    CommandCompleted
    | CommandTimedOut
    | UnsolicitedResult
    | VoiceDataStarted
    | VoiceAudio
    | VoiceEvent
    | VoiceDataEnded
    | LinkNoise
    | LinkClosed
)


class LinkMode(enum.Enum):
    COMMAND = "command"
    VOICE = "voice"
    CLOSING = "closing"  # <DLE><ETX> seen, waiting for the final result code


@dataclass(slots=True)
class _Command:
    tag: int
    text: str
    timeout: float
    voice_mode: VoiceMode | None
    deadline: float = 0.0
    echo_checked: bool = False
    lines: list[str] = field(default_factory=list)


def _overlap(data: bytes, needle: bytes) -> int:
    """The length of the longest end of ``data`` that begins ``needle`` (shorter than it)."""
    for size in range(min(len(needle) - 1, len(data)), 0, -1):
        if data.endswith(needle[:size]):
            return size
    return 0


def voice_mode_of(command: str) -> VoiceMode | None:
    upper = command.upper()
    for marker, mode in _VOICE_COMMANDS:
        if marker in upper:
            return mode
    return None


class AtEngine:
    """The host side of an AT command link (see the module docstring)."""

    _BARE_OK = b"\r\nOK\r\n"

    def __init__(
        self,
        *,
        node: str = "modem",
        trace: TraceSink = discard,
        max_line: int = 512,
        stream_close_timeout: float = 2.0,
        abort_timeout: float = 3.0,
        unsolicited: Callable[[str], bool] = is_unsolicited,
    ) -> None:
        self._node = node
        self._trace = trace
        self._max_line = max_line
        self._stream_close_timeout = stream_close_timeout
        self._abort_timeout = abort_timeout
        self._unsolicited = unsolicited
        self._next_tag = 1
        self._events: deque[AtEvent] = deque()
        self._out = bytearray()
        self._decoder = DleDecoder("dce")
        self.reset()

    # ------------------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget every queued command, partial line and voice session (after a modem reset)."""
        self._queue: deque[_Command] = deque()
        self._current: _Command | None = None
        self._buffer = bytearray()
        self._overflow = False
        self._skip_lf = False
        self._mode = LinkMode.COMMAND
        self._voice_mode: VoiceMode = "duplex"
        self._abort_requested = False
        self._held = b""
        self._close_deadline: float | None = None
        self._decoder.reset()

    @property
    def mode(self) -> LinkMode:
        return self._mode

    @property
    def voice_mode(self) -> VoiceMode | None:
        return self._voice_mode if self._mode is LinkMode.VOICE else None

    @property
    def accepts_samples(self) -> bool:
        """A +VTX or +VTR session runs and we have not asked to end it.

        After our end-of-stream or abort code (V.253 Table 15) the modem goes back to command
        mode; samples written after that code would reach it as a garbled command line.
        """
        return (
            self._mode is LinkMode.VOICE
            and self._voice_mode != "receive"
            and not self._abort_requested
        )

    @property
    def idle(self) -> bool:
        """No command in flight or queued and the link is in command mode."""
        return self._mode is LinkMode.COMMAND and self._current is None and not self._queue

    # ------------------------------------------------------------------------------ output

    def send_command(self, command: str, timeout: float, now: float) -> int:
        """Queue ``command`` (without CR); returns the tag its completion event carries."""
        if not command or "\r" in command or "\n" in command:
            raise LocalProtocolError(f"an AT command is one non-empty line: {command!r}")
        if timeout <= 0:
            raise LocalProtocolError("a command timeout must be positive")
        tag = self._next_tag
        self._next_tag += 1
        self._queue.append(_Command(tag, command, timeout, voice_mode_of(command)))
        self._send_next(now)
        return tag

    def abort_command(self, now: float) -> None:
        """Abort the command in flight (a dial): per V.250 any character from the DTE aborts it."""
        if self._current is not None and self._mode is LinkMode.COMMAND:
            self._out += b"\r"
            self._note("out", f"abort {self._current.text}", b"\r", now)

    def send_voice(self, samples: bytes, now: float) -> None:
        """Samples for the line, shielded; only while a transmit or duplex session runs."""
        if not self.accepts_samples:
            raise LocalProtocolError("voice samples need a +VTX or +VTR session not ending")
        self._out += escape(samples)

    def send_voice_digit(self, digit: str, now: float) -> None:
        """A DTMF digit shielded in the transmit stream (modems with ``dtmf_via_dle``)."""
        if not self.accepts_samples:
            raise LocalProtocolError("an in-stream digit needs a +VTX or +VTR session not ending")
        code = bytes(DleEvent.dtmf(digit))
        self._out += code
        self._note("out", f"<DLE>{digit}", code, now)

    def send_voice_action(self, kind: DleKind, now: float, *, prefix_count: int = 1) -> None:
        """A DTE action (end of stream, abort, volume...) into the voice session."""
        if self._mode is not LinkMode.VOICE:
            raise LocalProtocolError(f"{kind.value} needs a voice data session")
        code = encode_action(kind, prefix_count)
        self._out += code
        if kind in (
            DleKind.END_OF_STREAM,
            DleKind.RECEIVE_ABORT,
            DleKind.DUPLEX_ABORT,
            DleKind.CLEAR_AND_COMMAND,
        ):
            self._abort_requested = True
            if self._close_deadline is None:
                self._close_deadline = now + self._abort_timeout
        self._note("out", f"<DLE> {kind.value}", code, now)

    def data_to_send(self, now: float) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def next_event(self) -> AtEvent | None:
        return self._events.popleft() if self._events else None

    # ------------------------------------------------------------------------------ timers

    def get_timer(self) -> float | None:
        deadlines = []
        if self._current is not None:
            deadlines.append(self._current.deadline)
        if self._close_deadline is not None:
            deadlines.append(self._close_deadline)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        current = self._current
        if current is not None and now >= current.deadline:
            self._current = None
            self._events.append(CommandTimedOut(current.tag, current.text, tuple(current.lines)))
            self._note("note", f"timeout {current.text}", b"", now)
            self._send_next(now)
        if self._close_deadline is not None and now >= self._close_deadline:
            if self._mode is LinkMode.CLOSING:
                self._end_voice(None, "no final result after <DLE><ETX>", now)
            else:
                self._end_voice(None, "the modem did not end the stream after the abort", now)

    # ------------------------------------------------------------------------------ input

    def receive_data(self, data: bytes, now: float) -> None:
        if not data:
            self._note("note", "link closed", b"", now)
            self.reset()
            self._events.append(LinkClosed())
            return
        index = 0
        while index < len(data):
            if self._mode is LinkMode.VOICE:
                if self._skip_lf:
                    # The LF of the CONNECT line's CR LF is not a sample (it may come later).
                    self._skip_lf = False
                    if data[index] == 0x0A:
                        index += 1
                        continue
                index += self._feed_voice(data[index:] if index else data, now)
            else:
                index = self._feed_lines(data, index, now)

    def _feed_lines(self, data: bytes, index: int, now: float) -> int:
        end_of_data = len(data)
        while index < end_of_data:
            if self._skip_lf:
                self._skip_lf = False
                if data[index] == 0x0A:
                    index += 1
                    continue
            found = _TERMINATOR.search(data, index)
            end = found.start() if found else end_of_data
            if not self._overflow:
                self._buffer += data[index:end]
                if len(self._buffer) > self._max_line:
                    self._overflow = True
                    raw = bytes(self._buffer[:64])
                    self._buffer.clear()
                    self._noise("line too long", raw, now)
            if found is None:
                return end_of_data
            index = end + 1
            self._skip_lf = data[end] == 0x0D
            if self._overflow:
                self._overflow = False
                continue
            raw = bytes(self._buffer)
            self._buffer.clear()
            self._line(raw, now)
            if self._mode is LinkMode.VOICE:
                return index
        return index

    def _line(self, raw: bytes, now: float) -> None:
        if b"\x00" in raw:
            raw = raw.replace(b"\x00", b"")
        text = raw.decode("latin-1").strip()
        if not text:
            return
        if any((ord(char) < 0x20 and char != "\t") or 0x7F <= ord(char) < 0xA0 for char in text):
            self._noise("binary garbage", raw[:64], now)
            return
        self._trace(self._event(now, "in", text, raw))
        final = FinalResult.match(text)
        if self._mode is LinkMode.CLOSING and final is not None:
            self._end_voice(final, "end of stream", now)
            return
        if self._unsolicited(text):
            self._events.append(UnsolicitedResult(text))
            return
        current = self._current
        if current is None:
            self._events.append(UnsolicitedResult(text))
            return
        if not current.echo_checked:
            current.echo_checked = True
            if text.upper() == current.text.upper():
                return
        if final is None:
            if len(current.lines) < _MAX_LINES_PER_COMMAND:
                current.lines.append(text)
            else:
                self._noise("too many response lines", raw[:64], now)
            return
        self._current = None
        self._events.append(
            CommandCompleted(current.tag, current.text, final, tuple(current.lines))
        )
        if final.code == "CONNECT" and current.voice_mode is not None:
            self._start_voice(current, now)
        else:
            self._send_next(now)

    def _start_voice(self, command: _Command, now: float) -> None:
        self._mode = LinkMode.VOICE
        self._voice_mode = command.voice_mode or "duplex"
        self._abort_requested = False
        self._held = b""
        self._decoder.reset()
        self._events.append(VoiceDataStarted(command.tag, command.text, self._voice_mode))
        self._note("note", f"voice data ({self._voice_mode})", b"", now)

    def _feed_voice(self, data: bytes, now: float) -> int:
        """Decode voice data; returns how many bytes of ``data`` belonged to the voice session."""
        held = self._held
        after_ok = -1
        if self._abort_requested:
            # After our abort some modems answer OK without <DLE><ETX> (see module docstring).
            # Bytes that may start that OK are held back instead of being passed on as samples.
            window = held + data
            found = window.find(self._BARE_OK)
            if found >= 0:
                chunk = window[:found]
                after_ok = found + len(self._BARE_OK) - len(held)
                self._held = b""
            else:
                keep = _overlap(window, self._BARE_OK)
                chunk = window[: len(window) - keep]
                self._held = window[len(window) - keep :]
        else:
            chunk, held = data, b""
        items, used = self._decoder.feed(chunk)
        for item in items:
            if isinstance(item, bytes):
                self._events.append(VoiceAudio(item))
            else:
                self._events.append(VoiceEvent(item))
                self._trace(self._event(now, "in", f"<DLE> {item.kind.value}", bytes(item)))
        if self._decoder.ended:
            self._held = b""
            self._mode = LinkMode.CLOSING
            self._close_deadline = now + self._stream_close_timeout
            return max(used - len(held), 0)
        if after_ok >= 0:
            self._end_voice(FinalResult("OK", "OK"), "final result without <DLE><ETX>", now)
            return after_ok
        return len(data)

    def _end_voice(self, result: FinalResult | None, reason: str, now: float) -> None:
        self._mode = LinkMode.COMMAND
        self._close_deadline = None
        self._abort_requested = False
        self._events.append(VoiceDataEnded(self._voice_mode, result, reason))
        self._note("note", f"voice data ended: {reason}", b"", now)
        self._send_next(now)

    def _send_next(self, now: float) -> None:
        if self._mode is not LinkMode.COMMAND or self._current is not None or not self._queue:
            return
        command = self._queue.popleft()
        command.deadline = now + command.timeout
        self._current = command
        wire = command.text.encode("latin-1", "replace") + b"\r"
        self._out += wire
        self._trace(self._event(now, "out", command.text, wire))

    # ------------------------------------------------------------------------------ trace

    def _noise(self, reason: str, raw: bytes, now: float) -> None:
        self._events.append(LinkNoise(reason, raw))
        self._trace(self._event(now, "drop", reason, raw))

    def _note(
        self, direction: Literal["in", "out", "note"], summary: str, raw: bytes, now: float
    ) -> None:
        self._trace(self._event(now, direction, summary, raw))

    def _event(
        self, now: float, direction: Literal["in", "out", "drop", "note"], summary: str, raw: bytes
    ) -> TraceEvent:
        return TraceEvent(
            time=now,
            node=self._node,
            protocol="at",
            direction=direction,
            summary=summary[:120],
            raw=raw,
            transport="serial",
        )
