"""Hairpin: a line calls a number on a line of this same gateway -- pots to pots, no SIP.

Cisco gateways do this by default: when the best match for the dialled number is a pots
dial-peer, the call is offered on that peer's port and the two line calls are joined in the
gateway.  The originating line leg keeps its ``incoming`` path (CALL PROCEEDING, ALERTING,
CONNECT) and the far line leg its ``outgoing`` one (SETUP, then CONNECT ACKNOWLEDGE once the
caller's CONNECT ACKNOWLEDGE came -- at once for stations), exactly as if a SIP leg sat between
them: far ALERTING -> ALERTING (the in-band flag carried over, a station caller hears our
ringback otherwise), far CONNECT -> CONNECT, a clearing on either side -> the other side cleared
with the same cause.  Audio goes line to line (:class:`~gateway.calls.commands.JoinLines`),
out-of-band digits too.  The line the call came from is never offered the call back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.calls.call_state import CallBase
from gateway.calls.commands import JoinLines
from gateway.calls.dialpeer import PotsDialPeer, Route
from gateway.calls.line_leg import LineLeg
from gateway.line import LineAnswered, LineCleared, LineEvent, LineProgress, LineReleased

__all__ = ["Hairpin"]


class Hairpin(CallBase):
    __slots__ = ()

    if TYPE_CHECKING:  # FromLine's, which this mixin serves

        def attempt_failed(
            self, cause: int, now: float, *, status: int | None = None, timed_out: bool = False
        ) -> None: ...

    def offer_hairpin(self, route: Route, peer: PotsDialPeer, now: float) -> bool:
        """Offer the call on ``peer``'s line; False (``last_cause`` set) when it cannot be."""
        info = self.free_line_of(peer)
        if info is None:
            return False
        host = self.host
        leg = LineLeg(self.key, info.name, host.new_ref(), info.kind, "outgoing")
        leg.dial_peer = peer.tag
        self.far_line = leg
        self.line_legs[leg.ref] = leg
        host.attach_line(self, leg)
        self.offer_on_line(leg, route, peer, ", hairpin")
        return True

    def far_line_event(self, leg: LineLeg, event: LineEvent, now: float) -> None:
        """An event of the hairpin's far line leg."""
        if isinstance(event, LineReleased):
            self.line_released(leg, now)
        elif isinstance(event, LineCleared):
            self.far_line_cleared(leg, event.cause, now)
        elif leg is not self.far_line:
            return
        elif isinstance(event, LineProgress):
            self.far_line_progress(leg, event, now)
        elif isinstance(event, LineAnswered):
            self.far_line_answered(leg, now)
        else:
            self.notice(f"line sent {type(event).__name__} for a call we offered: ignored")

    def far_line_progress(self, leg: LineLeg, event: LineProgress, now: float) -> None:
        if event.stage == "proceeding":
            self.fire_line(leg, "line_proceeding")
            return
        trigger = "line_alerting" if event.stage == "alerting" else "line_progress"
        line = self.line
        if not self.fire_line(leg, trigger) or line is None or line.clearing:
            return
        if self.alerted is None:
            self.alerted = now
        if "ring" not in self.deadlines:
            self.set_timer("ring", now + self.host.plan.timers.ring_no_answer)
        if event.stage == "alerting" and line.state == "proceeding":
            self.fire_line(line, "alert", inband=event.inband)
        elif event.inband:
            self.fire_line(line, "progress")
        if event.inband:
            self.join_lines()  # early media: the caller hears the far line's tones

    def far_line_answered(self, leg: LineLeg, now: float) -> None:
        line = self.line
        if not self.fire_line(leg, "line_answered") or line is None or line.clearing:
            return
        self.cancel_timer("ring")
        self.answered = now
        self.fire_line(line, "connect")
        self.join_lines()
        if line.kind == "trunk":  # the far side is acknowledged after our caller's CONNECT ACK
            self.set_timer("connect", now + self.host.plan.timers.connect)
        else:
            self.fire_line(line, "acknowledged")
            self.fire_line(leg, "confirm")

    def far_line_cleared(self, leg: LineLeg, cause: int, now: float) -> None:
        if leg.clearing:
            return
        self.hangup_line(leg, cause, now)
        line = self.line
        if leg is not self.far_line or line is None or line.clearing:
            return
        if self.answered is None:
            self.far_line = None  # retired: a forwarded attempt must not meet it again
            self.attempt_failed(cause, now)  # busy, refused: the caller is told (or forwarded)
            return
        self.cause = cause
        self.stop_media()
        self.clear_line(line, cause, now)

    def retire_far_line(self, cause: int, now: float) -> None:
        """Clear the far line of an unanswered hairpin (no answer: the call may be forwarded)."""
        self.clear_line(self.far_line, cause, now)
        self.far_line = None

    def join_lines(self) -> None:
        """Join the two line calls' audio (once)."""
        line, far = self.line, self.far_line
        if self.media_used or line is None or far is None:
            return
        self.media = self.media_used = True
        self.out.append(JoinLines(self.key, line.line, line.ref, far.line, far.ref))
