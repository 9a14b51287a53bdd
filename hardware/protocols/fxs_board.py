"""Wire format of the serial FXS board protocol (docs/fxs-serial-protocol.md), both directions.

Text lines of printable ASCII end with CR LF (CR, LF or CR LF are accepted).  The host sends
commands, the board answers ``OK`` / ``INVALID`` / ``ERROR`` and reports events on its own.  The
vocabulary follows the open "telephone box" firmware (57600-8-N-1; RING, STOP, STATE, LINE; READY,
OK, RING, RING_TRIP, DIAL_BEGIN, DIAL, STATE, LINE), extended with what a gateway needs: caller ID
before the first ring (``CID``), board-generated tones (``TONE``) and an optional audio channel
(``AUDIO``) whose binary frames are interleaved between text lines::

    0xA5  'A'  seq  len  payload[len]  check        check: all bytes after 0xA5 sum to 0 mod 256

Everything here is a value (``parse`` / ``__bytes__``) or the stream reader shared by both sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar

from gateway.errors import LocalProtocolError, RemoteProtocolError

BAUD_RATE = 57600
# G.711 in both directions needs 8000 bytes/s each way plus framing: 115200 baud is the minimum.
AUDIO_BAUD_RATE = 230400
MAX_LINE = 128
FRAME_MARKER = 0xA5
FRAME_AUDIO = 0x41
MAX_CADENCE_PAIRS = 4

HookStatus = Literal["ONHOOK", "OFFHOOK", "SHORT"]
Tone = Literal["DIAL", "BUSY", "RINGBACK", "CONGESTION", "OFF"]
AudioCodec = Literal["PCMU", "PCMA"]

_HOOK_TOKENS: dict[str, HookStatus] = {
    "ONHOOK": "ONHOOK",
    "ON_HOOK": "ONHOOK",
    "OFFHOOK": "OFFHOOK",
    "OFF_HOOK": "OFFHOOK",
    "SHORT": "SHORT",
}
_TONES: tuple[Tone, ...] = ("DIAL", "BUSY", "RINGBACK", "CONGESTION", "OFF")
_DIGITS = frozenset("0123456789*#ABCD")
_NUMBER = re.compile(r"[0-9*#+]{1,20}|[PO]")
_STATE = re.compile(r"[A-Z][A-Z0-9_]{0,19}")

_W = TypeVar("_W", bound="_Wire")


class _Wire:
    """Shared ``parse``/``__bytes__`` plumbing: each message is one text line."""

    __slots__ = ()
    _direction: ClassVar[Literal["command", "event"]]

    @classmethod
    def parse(cls: type[_W], line: str) -> _W:
        message = parse_command(line) if cls._direction == "command" else parse_event(line)
        if not isinstance(message, cls):
            raise RemoteProtocolError(f"{line[:40]!r} is not a {cls.__name__}", None)
        return message

    def text(self) -> str:
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        return self.text().encode("ascii") + b"\r\n"


MAX_NAME = 50


def _valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME and name.isascii() and name.isprintable()


# --------------------------------------------------------------------------- host -> board


class _Command(_Wire):
    __slots__ = ()
    _direction = "command"


@dataclass(frozen=True, slots=True)
class StartRinging(_Command):
    """``RING [on,off[,on,off]...]``: ring until answered, STOP, or the board's timeout."""

    cadence: tuple[int, ...] = ()

    def text(self) -> str:
        if not self.cadence:
            return "RING"
        return "RING " + ",".join(str(ms) for ms in self.cadence)


@dataclass(frozen=True, slots=True)
class StopRinging(_Command):
    def text(self) -> str:
        return "STOP"


@dataclass(frozen=True, slots=True)
class QueryState(_Command):
    def text(self) -> str:
        return "STATE"


@dataclass(frozen=True, slots=True)
class QueryLine(_Command):
    def text(self) -> str:
        return "LINE"


@dataclass(frozen=True, slots=True)
class SendCallerId(_Command):
    """``CID <number|P|O> [name]``: caller ID the board sends with the next ringing."""

    number: str
    name: str = ""

    def text(self) -> str:
        if not _NUMBER.fullmatch(self.number):
            raise LocalProtocolError(f"caller ID number {self.number!r}: 1-20 of 0-9*#+, P or O")
        if not _valid_name(self.name):
            raise LocalProtocolError(f"a caller ID name is up to {MAX_NAME} printable ASCII")
        return f"CID {self.number} {self.name}" if self.name else f"CID {self.number}"


@dataclass(frozen=True, slots=True)
class PlayTone(_Command):
    tone: Tone

    def text(self) -> str:
        return f"TONE {self.tone}"


@dataclass(frozen=True, slots=True)
class SetAudio(_Command):
    """``AUDIO ON [PCMU|PCMA]`` / ``AUDIO OFF``: the framed audio channel on this link."""

    enabled: bool
    codec: AudioCodec = "PCMU"

    def text(self) -> str:
        return f"AUDIO ON {self.codec}" if self.enabled else "AUDIO OFF"


@dataclass(frozen=True, slots=True)
class Sync(_Command):
    """An empty line: the board answers READY (used to find the board after opening the port)."""

    def text(self) -> str:
        return ""


FxsCommand = (
    StartRinging | StopRinging | QueryState | QueryLine | SendCallerId | PlayTone | SetAudio | Sync
)


def _cadence(argument: str) -> tuple[int, ...]:
    parts = argument.split(",")
    if len(parts) % 2 or len(parts) > 2 * MAX_CADENCE_PAIRS:
        raise RemoteProtocolError("RING cadence is 1 to 4 on,off pairs", None)
    values = []
    for part in parts:
        if not part.isdigit() or len(part) > 5 or not 1 <= int(part) <= 10000:
            raise RemoteProtocolError(f"RING cadence value {part!r} not in 1..10000 ms", None)
        values.append(int(part))
    return tuple(values)


def parse_command(line: str) -> FxsCommand:
    """One host command line (without its terminator)."""
    text = line.strip("\r\n")
    if len(text) > MAX_LINE:
        raise RemoteProtocolError("command line too long", None)
    if text.strip() == "":
        return Sync()
    keyword, _, argument = text.partition(" ")
    if keyword == "RING":
        return StartRinging(_cadence(argument) if argument else ())
    if keyword == "CID":
        number, _, name = argument.partition(" ")
        if not _NUMBER.fullmatch(number) or not _valid_name(name):
            raise RemoteProtocolError(f"bad CID arguments {argument[:30]!r}", None)
        return SendCallerId(number, name)
    if keyword == "TONE" and argument in _TONES:
        return PlayTone(argument)
    if keyword == "AUDIO":
        if argument in ("ON", "ON PCMU", "ON PCMA"):
            return SetAudio(True, "PCMA" if argument.endswith("PCMA") else "PCMU")
        if argument == "OFF":
            return SetAudio(False)
    if not argument:
        simple: dict[str, FxsCommand] = {
            "STOP": StopRinging(),
            "STATE": QueryState(),
            "LINE": QueryLine(),
        }
        if keyword in simple:
            return simple[keyword]
    raise RemoteProtocolError(f"unknown or malformed command {text[:40]!r}", None)


# --------------------------------------------------------------------------- board -> host


class _Event(_Wire):
    __slots__ = ()
    _direction = "event"


@dataclass(frozen=True, slots=True)
class BoardReady(_Event):
    def text(self) -> str:
        return "READY"


@dataclass(frozen=True, slots=True)
class CommandOk(_Event):
    def text(self) -> str:
        return "OK"


@dataclass(frozen=True, slots=True)
class CommandInvalid(_Event):
    def text(self) -> str:
        return "INVALID"


@dataclass(frozen=True, slots=True)
class BoardError(_Event):
    """``ERROR [text]``: the board failed; it needs attention (or a reset) before more calls."""

    reason: str = ""

    def text(self) -> str:
        return f"ERROR {self.reason}" if self.reason else "ERROR"


@dataclass(frozen=True, slots=True)
class RingOn(_Event):
    """``RING``: an active (bell) period of the ringing cadence begins."""

    def text(self) -> str:
        return "RING"


@dataclass(frozen=True, slots=True)
class RingPause(_Event):
    def text(self) -> str:
        return "RING_PAUSE"


@dataclass(frozen=True, slots=True)
class RingTimeout(_Event):
    def text(self) -> str:
        return "RING_TIMEOUT"


@dataclass(frozen=True, slots=True)
class RingTrip(_Event):
    """``RING_TRIP``: the ringing phone went off hook (answered)."""

    def text(self) -> str:
        return "RING_TRIP"


@dataclass(frozen=True, slots=True)
class DialBegin(_Event):
    def text(self) -> str:
        return "DIAL_BEGIN"


@dataclass(frozen=True, slots=True)
class DialDigit(_Event):
    digit: str

    def text(self) -> str:
        return f"DIAL {self.digit}"


@dataclass(frozen=True, slots=True)
class DialError(_Event):
    def text(self) -> str:
        return "DIAL_ERROR"


@dataclass(frozen=True, slots=True)
class StateReport(_Event):
    state: str

    def text(self) -> str:
        return f"STATE {self.state}"


@dataclass(frozen=True, slots=True)
class LineReport(_Event):
    """``LINE ONHOOK|OFFHOOK|SHORT`` (``ON_HOOK``/``OFF_HOOK`` from telephone-box firmware)."""

    status: HookStatus
    underscore: bool = False

    @property
    def off_hook(self) -> bool:
        return self.status != "ONHOOK"

    def text(self) -> str:
        token = {"ONHOOK": "ON_HOOK", "OFFHOOK": "OFF_HOOK"}.get(self.status, self.status)
        return f"LINE {token if self.underscore else self.status}"


@dataclass(frozen=True, slots=True)
class BoardInfo(_Event):
    message: str

    def text(self) -> str:
        return f"INFO {self.message}"


@dataclass(frozen=True, slots=True)
class SelfTest(_Event):
    result: str

    def text(self) -> str:
        return f"TEST {self.result}"


FxsEvent = (
    BoardReady
    | CommandOk
    | CommandInvalid
    | BoardError
    | RingOn
    | RingPause
    | RingTimeout
    | RingTrip
    | DialBegin
    | DialDigit
    | DialError
    | StateReport
    | LineReport
    | BoardInfo
    | SelfTest
)

_BARE_EVENTS: dict[str, FxsEvent] = {
    event.text(): event
    for event in (
        BoardReady(),
        CommandOk(),
        CommandInvalid(),
        BoardError(),
        RingOn(),
        RingPause(),
        RingTimeout(),
        RingTrip(),
        DialBegin(),
        DialError(),
    )
}


def parse_event(line: str) -> FxsEvent:
    """One board event line (without its terminator)."""
    text = line.strip("\r\n")
    if len(text) > MAX_LINE:
        raise RemoteProtocolError("event line too long", None)
    bare = _BARE_EVENTS.get(text)
    if bare is not None:
        return bare
    keyword, _, argument = text.partition(" ")
    if keyword == "DIAL" and len(argument) == 1 and argument in _DIGITS:
        return DialDigit(argument)
    if keyword == "STATE" and _STATE.fullmatch(argument):
        return StateReport(argument)
    if keyword == "LINE" and argument in _HOOK_TOKENS:
        return LineReport(_HOOK_TOKENS[argument], "_" in argument)
    if keyword == "ERROR" and argument:
        return BoardError(argument)
    if keyword == "INFO" and argument:
        return BoardInfo(argument)
    if keyword == "TEST" and argument:
        return SelfTest(argument)
    raise RemoteProtocolError(f"unknown or malformed board event {text[:40]!r}", None)


# --------------------------------------------------------------------------- audio frames


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One binary audio frame: ``seq`` counts frames modulo 256, ``payload`` is G.711 at 8 kHz."""

    seq: int
    payload: bytes

    @classmethod
    def parse(cls, data: bytes) -> AudioFrame:
        if len(data) < 6 or data[0] != FRAME_MARKER or data[1] != FRAME_AUDIO:
            raise RemoteProtocolError("not an audio frame", None)
        length = data[3]
        if length == 0 or len(data) != length + 5:
            raise RemoteProtocolError("audio frame length mismatch", None)
        if sum(data[1:]) & 0xFF:
            raise RemoteProtocolError("audio frame checksum error", None)
        return cls(data[2], bytes(data[4 : 4 + length]))

    def __bytes__(self) -> bytes:
        if not 0 <= self.seq <= 255 or not 1 <= len(self.payload) <= 255:
            raise LocalProtocolError("an audio frame has seq 0..255 and 1..255 payload bytes")
        head = bytes((FRAME_AUDIO, self.seq, len(self.payload))) + self.payload
        return bytes((FRAME_MARKER,)) + head + bytes((-sum(head) & 0xFF,))


@dataclass(frozen=True, slots=True)
class FxsNoise:
    """Input the reader discarded, and why."""

    reason: str
    raw: bytes = b""


FxsInput = str | AudioFrame | FxsNoise
_TERMINATOR = re.compile(rb"[\r\n]")


class FxsStreamReader:
    """Split a byte stream, fed in arbitrary chunks, into text lines and audio frames.

    A frame may only start where a line could (after a terminator); inside a line the marker byte is
    garbage.  Lines come out stripped; empty lines are kept only when ``keep_empty`` (a board must
    see the host's empty-line sync, a host ignores blank lines).
    """

    __slots__ = ("_buffer", "_frame", "_keep_empty", "_max_line", "_overflow")

    def __init__(self, *, max_line: int = MAX_LINE, keep_empty: bool = False) -> None:
        self._max_line = max_line
        self._keep_empty = keep_empty
        self._buffer = bytearray()
        self._frame: bytearray | None = None
        self._overflow = False

    def feed(self, data: bytes) -> list[FxsInput]:
        found: list[FxsInput] = []
        index = 0
        size = len(data)
        while index < size:
            frame = self._frame
            if frame is not None:
                need = (4 if len(frame) < 4 else frame[3] + 5) - len(frame)
                frame += data[index : index + need]
                index += min(need, size - index)
                if len(frame) >= 4 and frame[3] == 0:
                    found.append(FxsNoise("audio frame of length 0", bytes(frame)))
                    self._frame = None
                elif len(frame) >= 4 and len(frame) == frame[3] + 5:
                    self._frame = None
                    try:
                        found.append(AudioFrame.parse(bytes(frame)))
                    except RemoteProtocolError as error:
                        found.append(FxsNoise(error.reason, bytes(frame[:16])))
                continue
            if data[index] == FRAME_MARKER and not self._buffer and not self._overflow:
                self._frame = bytearray((FRAME_MARKER,))
                index += 1
                continue
            match = _TERMINATOR.search(data, index)
            end = match.start() if match else size
            if not self._overflow:
                self._buffer += data[index:end]
                if len(self._buffer) > self._max_line:
                    found.append(FxsNoise("line too long", bytes(self._buffer[:32])))
                    self._buffer.clear()
                    self._overflow = True
            if match is None:
                break
            index = end + 1
            if self._overflow:
                self._overflow = False
                continue
            raw = bytes(self._buffer)
            self._buffer.clear()
            text = raw.decode("latin-1").strip()
            if not raw.isascii() or not text.isprintable():
                found.append(FxsNoise("binary garbage in a text line", raw[:32]))
            elif text or (self._keep_empty and data[end] == 0x0D):
                found.append(text)
        return found
