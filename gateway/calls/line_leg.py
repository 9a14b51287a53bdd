"""The line leg: one call on a PBX trunk channel, a station (FXS) port or an FXO line.

Its machine is a table (``LINE_STATES`` / ``LINE_TRANSITIONS``).  Callbacks only append commands
to the leg's ``outbox`` -- :mod:`gateway.line` commands for the adapter and, for station lines,
:class:`~gateway.calls.commands.PlayToLine` tones -- and call control hands them out in order.

Two paths through the table:

* **incoming** (the line starts the call; flow 1 at GW-A): ``seize`` (station: dial tone) ->
  ``proceed`` (CALL PROCEEDING) -> ``alert`` / ``progress`` (ALERTING / PROGRESS with the
  in-band flag) -> ``connect`` (CONNECT) -> ``acknowledged`` (CONNECT ACKNOWLEDGE, or at once on
  lines without one);
* **outgoing** (we offer a call to the line; flow 1 at GW-B): ``offer`` (SETUP / ring with
  caller ID) -> ``line_alerting`` / ``line_progress`` -> ``line_answered`` (CONNECT) ->
  ``confirm`` (CONNECT ACKNOWLEDGE once the SIP ACK came).

Clearing: ``clear`` when we clear (DISCONNECT, or RELEASE when the line started), ``hangup``
when the line cleared first (we complete with RELEASE), ``fail`` on a station (busy or
congestion tone until on-hook), and ``released`` when the line says the call is gone.
"""

from __future__ import annotations

from typing import Final

from transitions import EventData

from gateway.calls.commands import GatewayCommand, PlayToLine, ToneName
from gateway.calls.machine import LegMachine
from gateway.line import (
    AcknowledgeAnswer,
    AnswerCall,
    ClearCall,
    IndicateProgress,
    LineCodec,
    LineKind,
    ProceedCall,
)

__all__ = ["LINE_MACHINE", "LINE_STATES", "LINE_TRANSITIONS", "LineLeg"]

LINE_STATES: Final = (
    "idle",
    "collecting",
    "proceeding",
    "alerting",
    "connecting",
    "offered",
    "ringing",
    "answered",
    "active",
    "failed",
    "clearing",
    "released",
)
_LIVE: Final = (
    "collecting",
    "proceeding",
    "alerting",
    "connecting",
    "offered",
    "ringing",
    "answered",
    "active",
    "failed",
)

LINE_TRANSITIONS: Final = (
    # incoming call from the line
    {"trigger": "seize", "source": "idle", "dest": "collecting", "after": "_dial_tone"},
    {"trigger": "dialled", "source": "collecting", "dest": None, "after": "_quiet"},
    {"trigger": "proceed", "source": "collecting", "dest": "proceeding", "after": "_proceed"},
    {
        "trigger": "alert",
        "source": ["proceeding", "alerting"],
        "dest": "alerting",
        "after": "_alerting",
    },
    {
        "trigger": "progress",
        "source": ["proceeding", "alerting"],
        "dest": None,
        "after": "_progress",
    },
    {
        "trigger": "connect",
        "source": ["proceeding", "alerting"],
        "dest": "connecting",
        "after": "_answer",
    },
    {"trigger": "acknowledged", "source": "connecting", "dest": "active"},
    # outgoing call to the line
    {"trigger": "offer", "source": "idle", "dest": "offered", "after": "_offer"},
    {"trigger": "line_proceeding", "source": "offered", "dest": None},
    {"trigger": "line_alerting", "source": ["offered", "ringing"], "dest": "ringing"},
    {"trigger": "line_progress", "source": ["offered", "ringing"], "dest": None},
    {"trigger": "line_answered", "source": ["offered", "ringing"], "dest": "answered"},
    {"trigger": "confirm", "source": "answered", "dest": "active", "after": "_acknowledge"},
    # failure and clearing
    {
        "trigger": "fail",
        "source": ["collecting", "proceeding", "alerting"],
        "dest": "failed",
        "after": "_failure_tone",
    },
    {"trigger": "clear", "source": list(_LIVE), "dest": "clearing", "after": "_clear"},
    {"trigger": "hangup", "source": list(_LIVE), "dest": "clearing", "after": "_clear"},
    {
        "trigger": "released",
        "source": ["idle", *_LIVE, "clearing"],
        "dest": "released",
        "after": "_silence",
    },
)


class LineLeg:
    """One line call ``(line, ref)`` of call ``call``; see the module docstring."""

    __slots__ = (
        "call",
        "cause",
        "channel",
        "codec",
        "dial_peer",
        "kind",
        "line",
        "outbox",
        "ref",
        "role",
        "state",
        "tone",
    )

    def __init__(
        self,
        call: str,
        line: str,
        ref: str,
        kind: LineKind,
        role: str,
        *,
        codec: LineCodec | None = None,
        channel: int | None = None,
    ) -> None:
        self.state = LINE_MACHINE.initial
        self.call = call
        self.line = line
        self.ref = ref
        self.kind: LineKind = kind
        self.role = role
        self.codec: LineCodec | None = codec
        self.channel = channel
        self.cause: int | None = None
        self.dial_peer: int | None = None
        self.tone: ToneName | None = None
        self.outbox: list[GatewayCommand] = []

    @property
    def station(self) -> bool:
        return self.kind == "station"

    @property
    def done(self) -> bool:
        return self.state == "released"

    @property
    def clearing(self) -> bool:
        return self.state in ("clearing", "released")

    def fire(self, trigger: str, **data: object) -> bool:
        return LINE_MACHINE.fire(self, trigger, **data)

    def accepts(self, trigger: str) -> bool:
        return LINE_MACHINE.accepts(self, trigger)

    # -- callbacks: append commands, nothing else ------------------------------------------

    def _play(self, tone: ToneName | None) -> None:
        if self.station and tone != self.tone:
            self.tone = tone
            self.outbox.append(PlayToLine(self.call, tone, self.line, self.ref))

    def _dial_tone(self, event: EventData) -> None:
        if event.kwargs.get("dial_tone", False):
            self._play("dial")

    def _quiet(self, event: EventData) -> None:
        self._play(None)

    def _proceed(self, event: EventData) -> None:
        self._play(None)
        self.outbox.append(ProceedCall(self.line, self.ref))

    def _alerting(self, event: EventData) -> None:
        inband = bool(event.kwargs.get("inband", False))
        self.outbox.append(IndicateProgress(self.line, self.ref, "alerting", inband))
        # Without in-band progress from the far end, the caller must hear ringback from us.
        self._play(None if inband else "ringback")

    def _progress(self, event: EventData) -> None:
        self.outbox.append(IndicateProgress(self.line, self.ref, "progress", True))
        self._play(None)

    def _answer(self, event: EventData) -> None:
        self._play(None)
        self.outbox.append(AnswerCall(self.line, self.ref))

    def _offer(self, event: EventData) -> None:
        self.outbox.append(event.kwargs["command"])

    def _acknowledge(self, event: EventData) -> None:
        if self.kind == "trunk":  # CONNECT ACKNOWLEDGE exists on Q.931 trunks only
            self.outbox.append(AcknowledgeAnswer(self.line, self.ref))

    def _failure_tone(self, event: EventData) -> None:
        self.cause = int(event.kwargs["cause"])
        self._play(event.kwargs["tone"])

    def _clear(self, event: EventData) -> None:
        cause = int(event.kwargs["cause"])
        self.cause = cause
        self._play(None)
        self.outbox.append(ClearCall(self.line, self.ref, cause))

    def _silence(self, event: EventData) -> None:
        self._play(None)


LINE_MACHINE: Final = LegMachine(LINE_STATES, LINE_TRANSITIONS, "idle")
