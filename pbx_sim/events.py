"""What the simulator reports: phone events and PBX call events, as frozen timestamped values.

The scenario runner asserts on these, the CLI prints them one per line, the control channel
returns them as JSON (:func:`event_record`).

Phone event kinds (``value`` in brackets):

=====================  =========================================================================
``off-hook``           the phone went off hook (lifted to dial, or to answer)
``on-hook``            the phone hung up
``dial``               the phone dialled a digit [digit] (``via`` keypad or dtmf)
``ring``               a ring burst started [ring count]
``caller-id``          caller ID arrived with the ringing [number]
``answered``           the phone answered a ringing call
``far-end-answered``   the called party answered the phone's call
``tone``               a call-progress tone was heard [dial|ringback|busy|congestion]
                       (``via`` audio: detected in what the phone hears; signal: told by the line)
``frequency``          a watched frequency was heard [Hz]
``digit``              a DTMF digit was heard in-band (``via`` audio) or signalled [digit]
``cleared``            the line cleared the call (``cause``: the Q.850 cause, when known)
``rejected``           the phone refused an offered call (``cause``)
``play``               the phone started saying something [source spec]
``play-done``          what it said ended
``recorded``           the recording was written [path]
``script``             a script step ran or failed [text]
=====================  =========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pbx_sim.q931.constants import cause_text

PhoneEventKind = Literal[
    "off-hook",
    "on-hook",
    "dial",
    "ring",
    "caller-id",
    "answered",
    "far-end-answered",
    "tone",
    "frequency",
    "digit",
    "cleared",
    "rejected",
    "play",
    "play-done",
    "recorded",
    "script",
]
Via = Literal["", "audio", "signal", "keypad", "dtmf"]


@dataclass(frozen=True, slots=True)
class PhoneEvent:
    """One thing a phone did or perceived, at ``time`` (the injected clock)."""

    time: float
    phone: str
    kind: PhoneEventKind
    value: str = ""
    cause: int | None = None
    via: Via = ""

    def __str__(self) -> str:
        text = f"{self.time:9.3f} phone {self.phone}: {self.kind}"
        if self.value:
            text += f" {self.value}"
        if self.cause is not None:
            text += f" cause {self.cause} ({cause_text(self.cause)})"
        if self.via:
            text += f" [{self.via}]"
        return text


PbxEventKind = Literal[
    "call",
    "route",
    "setup",
    "proceeding",
    "alerting",
    "progress",
    "connected",
    "digits",
    "flash",
    "disconnect",
    "released",
    "failed",
    "link-up",
    "link-down",
    "protocol-error",
    "timer",
    "status",
    "restart",
]


@dataclass(frozen=True, slots=True)
class PbxEvent:
    """One call-level event of the PBX (``call`` numbers the PBX's calls from 1)."""

    time: float
    node: str
    kind: PbxEventKind
    detail: str = ""
    call: int | None = None
    trunk: str | None = None
    cause: int | None = None

    def __str__(self) -> str:
        where = f" call {self.call}" if self.call is not None else ""
        trunk = f" [{self.trunk}]" if self.trunk else ""
        text = f"{self.time:9.3f} {self.node}{where}{trunk}: {self.kind}"
        if self.detail:
            text += f" {self.detail}"
        if self.cause is not None:
            text += f" cause {self.cause} ({cause_text(self.cause)})"
        return text


SimEvent = PhoneEvent | PbxEvent


def event_record(event: SimEvent) -> dict[str, object]:
    """A JSON-friendly dict of an event (``type`` says which)."""
    if isinstance(event, PhoneEvent):
        return {"type": "phone", "time": event.time, "phone": event.phone, "kind": event.kind,
                "value": event.value, "cause": event.cause, "via": event.via}
    return {"type": "pbx", "time": event.time, "node": event.node, "kind": event.kind,
            "detail": event.detail, "call": event.call, "trunk": event.trunk,
            "cause": event.cause}
