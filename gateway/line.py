"""The LineAdapter contract: how call control talks to the PBX side of a gateway.

Three kinds of line sit behind it and nothing above it knows which one it has:

* ``trunk``   -- a Q.931 link to a PBX (the PBX simulator, other PBXs later); many calls at once,
                 each on a B-channel;
* ``station`` -- an analog phone port with FXS behaviour (a simulated phone, a serial SLIC board):
                 off-hook, dial tone, digits, ringing with caller ID, on-hook;
* ``fxo``     -- a line the gateway answers or dials out on (a V.253 voice modem on an extension).

Line events flow up (line -> call control), line commands flow down (call control -> line).  Both
are frozen values.  Every call on a line has a ``ref`` chosen by whoever starts the call (the line
for incoming, call control for outgoing); ``(line, ref)`` names one line call.

Voice: each line call exposes a :class:`LineAudio` once it has a voice path: 20 ms frames of 8 kHz
audio in the line's native ``codec`` (``pcmu``/``pcma`` G.711 or ``l16`` 16-bit little-endian
linear).  The media bridge joins it to RTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

LineKind = Literal["trunk", "station", "fxo"]
LineCodec = Literal["pcmu", "pcma", "l16"]
ProgressStage = Literal["proceeding", "alerting", "progress"]


# --------------------------------------------------------------------------- events (line -> us)


@dataclass(frozen=True, slots=True)
class LineSeized:
    """A call starts on the line side.

    Trunk: a SETUP arrived (``called`` holds the digits so far, ``complete`` tells en-bloc /
    Sending complete).  Station: the phone went off-hook (``called`` is empty, digits follow as
    :class:`DigitsDialled`; call control plays dial tone and collects them).  FXO: the line rang
    (``calling`` from caller ID when it arrived, ``called`` is the line's own number).
    """

    line: str
    ref: str
    called: str = ""
    calling: str | None = None
    calling_name: str | None = None
    presentation_allowed: bool = True
    complete: bool = False
    channel: int | None = None
    codec: LineCodec | None = None


@dataclass(frozen=True, slots=True)
class DigitsDialled:
    """More digits of the called number (overlap sending, or a station phone dialling)."""

    line: str
    ref: str
    digits: str
    complete: bool = False


@dataclass(frozen=True, slots=True)
class LineProgress:
    """An outgoing call progresses on the line: CALL PROCEEDING, ALERTING or PROGRESS.

    ``inband`` is true when the line offers in-band information (progress indicator 1 or 8):
    call control must then cut the voice path through before answer (early media).
    """

    line: str
    ref: str
    stage: ProgressStage
    inband: bool = False


@dataclass(frozen=True, slots=True)
class LineAnswered:
    """The far side on the line answered (CONNECT, a ringing phone went off-hook, VCON)."""

    line: str
    ref: str


@dataclass(frozen=True, slots=True)
class LineAnswerAcknowledged:
    """The line acknowledged our answer (CONNECT ACKNOWLEDGE); flow 1 sends ACK only after it."""

    line: str
    ref: str


@dataclass(frozen=True, slots=True)
class LineDigit:
    """A digit received out of band during a call (keypad IE, modem DLE code, board event)."""

    line: str
    ref: str
    digit: str
    duration_ms: int = 100


@dataclass(frozen=True, slots=True)
class LineHookFlash:
    line: str
    ref: str


@dataclass(frozen=True, slots=True)
class LineCleared:
    """The line side cleared the call (DISCONNECT/RELEASE, on-hook, loop current drop).

    ``cause`` is a Q.850 cause value (16 normal clearing, 17 busy, ...).
    """

    line: str
    ref: str
    cause: int = 16


@dataclass(frozen=True, slots=True)
class LineReleased:
    """The line call is gone and its resources (call reference, channel) are free again."""

    line: str
    ref: str


@dataclass(frozen=True, slots=True)
class LineStatus:
    """The line went in or out of service (link up/down, device unplugged, modem reset)."""

    line: str
    in_service: bool
    reason: str = ""


LineEvent = (
    LineSeized
    | DigitsDialled
    | LineProgress
    | LineAnswered
    | LineAnswerAcknowledged
    | LineDigit
    | LineHookFlash
    | LineCleared
    | LineReleased
    | LineStatus
)


# ------------------------------------------------------------------------ commands (us -> line)


@dataclass(frozen=True, slots=True)
class OfferCall:
    """Start an outgoing call on the line: SETUP to the PBX, ring a station with caller ID, dial."""

    line: str
    ref: str
    called: str
    calling: str | None = None
    calling_name: str | None = None
    presentation_allowed: bool = True
    codec: LineCodec | None = None


@dataclass(frozen=True, slots=True)
class ProceedCall:
    """We accepted an incoming call for routing (CALL PROCEEDING; station: dial tone stops)."""

    line: str
    ref: str


@dataclass(frozen=True, slots=True)
class IndicateProgress:
    """Tell the line the far end is ringing (``alerting``) or has in-band information."""

    line: str
    ref: str
    stage: ProgressStage
    inband: bool = False


@dataclass(frozen=True, slots=True)
class AnswerCall:
    """The far end answered an incoming call: CONNECT to the PBX, the modem goes off-hook."""

    line: str
    ref: str


@dataclass(frozen=True, slots=True)
class AcknowledgeAnswer:
    """Acknowledge the line's answer of an outgoing call (CONNECT ACKNOWLEDGE)."""

    line: str
    ref: str


@dataclass(frozen=True, slots=True)
class ClearCall:
    """Clear the call with a Q.850 cause.

    When the line started clearing (after :class:`LineCleared`) this completes the clearing
    sequence (RELEASE); otherwise it starts it (DISCONNECT, busy tone on a station, on-hook).
    """

    line: str
    ref: str
    cause: int = 16


@dataclass(frozen=True, slots=True)
class SendDigit:
    """Send a digit toward the line out of band (where the line can; else the bridge plays it)."""

    line: str
    ref: str
    digit: str
    duration_ms: int = 100


LineCommand = (
    OfferCall
    | ProceedCall
    | IndicateProgress
    | AnswerCall
    | AcknowledgeAnswer
    | ClearCall
    | SendDigit
)


# ------------------------------------------------------------------------------ adapter interface


@dataclass(frozen=True, slots=True)
class LineInfo:
    """One line (or trunk) an adapter serves, with the E.164 numbers behind it."""

    name: str
    kind: LineKind
    numbers: tuple[str, ...] = ()
    channels: int = 1


class LineAudio(Protocol):
    """The voice path of one line call: 20 ms frames of 8 kHz audio in ``codec``."""

    codec: LineCodec

    def write(self, frame: bytes) -> None:
        """Send one frame toward the line (what the phone hears)."""

    def set_receiver(self, receiver: Callable[[bytes], None] | None) -> None:
        """Deliver each frame that comes from the line (what the phone says) to ``receiver``."""


class LineAdapter(Protocol):
    """What call control needs from any line: commands down, events up, audio per call."""

    name: str

    def lines(self) -> Sequence[LineInfo]: ...

    def set_event_handler(self, handler: Callable[[LineEvent], None]) -> None: ...

    def send(self, command: LineCommand) -> None: ...

    def audio(self, line: str, ref: str) -> LineAudio | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
