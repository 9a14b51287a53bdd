"""A call SIP starts: the terminating gateway of flow 1 (SIP -> line, we are the UAS).

INVITE -> 100 Trying at once, inbound voip dial-peer, incoming translation, our SDP answer (488
with a Warning when no codec fits), the pots hunt list -> SETUP / ring with caller ID on a free
channel.  Then: CALL PROCEEDING -> nothing; ALERTING -> 180 (183 with SDP and the voice path
toward RTP when the line signals in-band progress); CONNECT -> 200 with SDP; the SIP ACK ->
CONNECT ACKNOWLEDGE.  Failures before answer map through the cause map to the final response
(with ``Reason: Q.850``), hunt on circuit shortage, forward on busy or no answer (the INVITE
stays pending and sees 181; a new line call is offered -- Cisco ``call-forward`` style).
"""

from __future__ import annotations

from gateway.calls import q850
from gateway.calls.call_state import CallBase
from gateway.calls.commands import UpdateMedia
from gateway.calls.dialpeer import LegKind, PotsDialPeer, VoipDialPeer, should_hunt
from gateway.calls.line_leg import LineLeg
from gateway.calls.media_plan import capabilities_for, dtmf_mode_for
from gateway.calls.sip_leg import SipLeg
from gateway.calls.sip_messages import parties_of, sdp_of
from gateway.calls.translation import CallNumbers, PartyNumber
from gateway.errors import RemoteProtocolError
from gateway.line import (
    LineAnswered,
    LineCleared,
    LineEvent,
    LineProgress,
    LineReleased,
)
from gateway.sdp.offer_answer import (
    MediaNotAcceptable,
    create_answer,
    create_offer,
    process_answer,
)
from gateway.sip.events import AckReceived, RequestReceived

__all__ = ["FromSip"]

POTS: tuple[LegKind] = ("pots",)

_MEDIA_WARNINGS = frozenset({304, 305})


class FromSip(CallBase):
    __slots__ = ()

    # -- set-up ----------------------------------------------------------------------------

    def start_from_invite(self, event: RequestReceived, now: float) -> None:
        plan = self.host.plan
        request = event.request
        leg = SipLeg(self.key, "uas", request.call_id, event.source, None)
        leg.invite = event.transaction
        leg.request = request
        self.add_sip_leg(leg)
        self.fire_sip(leg, "invited", now)  # flow 1: 100 Trying with the SETUP
        try:
            parties = parties_of(request)
            expires = request.expires
            offer = sdp_of(request)
        except RemoteProtocolError as exc:
            self.notice(f"INVITE refused: {exc.reason}")
            self.reject(leg, q850.PROTOCOL_ERROR, now, status=exc.status_hint or 400)
            return
        self.numbers = CallNumbers(PartyNumber(parties.called), PartyNumber(parties.calling))
        self.calling_name = parties.calling_name
        self.presentation = parties.presentation_allowed
        inbound = plan.dial_plan.inbound("voip", self.numbers)
        peer = inbound.peer
        assert isinstance(peer, VoipDialPeer)
        self.inbound_peer = self.voip_peer = peer
        leg.dial_peer = peer.tag
        outcome = plan.dial_plan.translate_incoming(peer, self.numbers)
        if outcome.blocked is not None:
            self.notice(f"{self.called} refused by translation rule {outcome.blocked.rule_set}")
            self.reject(leg, q850.CALL_REJECTED, now)
            return
        self.numbers = outcome.numbers
        # RFC 3261 s13.3.1: an INVITE unanswered when its Expires runs out gets 487.
        limit = plan.timers.invite_expiry
        self.set_timer("expiry", now + (limit if expires is None else min(expires, limit)))
        port = self.media_port()
        if port is None:
            self.notice("no free RTP port")
            self.reject(leg, q850.RESOURCE_UNAVAILABLE, now)
            return
        capabilities = capabilities_for(peer, plan.media.address, port, plan.media.ptime, plan.node)
        session_id = self.host.new_session_id()
        if offer is None:  # delayed offer: ours goes in the 200, the answer comes in the ACK
            leg.offer = leg.local_sdp = create_offer(capabilities, session_id=session_id)
        else:
            try:
                answer = create_answer(offer, capabilities, session_id=session_id)
            except MediaNotAcceptable as exc:
                cause = (
                    q850.BEARER_NOT_IMPLEMENTED
                    if exc.warning_code in _MEDIA_WARNINGS
                    else q850.SERVICE_NOT_IMPLEMENTED
                )
                self.notice(f"no common codec with {leg.remote[0]}: {exc.reason}")
                warning = exc.warning_header(self.host.local_host())
                self.reject(leg, cause, now, status=488, headers=(("Warning", warning),))
                return
            except RemoteProtocolError as exc:
                self.notice(f"SDP offer refused: {exc.reason}")
                self.reject(leg, q850.PROTOCOL_ERROR, now, status=exc.status_hint or 400)
                return
            leg.remote_sdp = offer
            leg.local_sdp = answer.description
            audio = answer.negotiated.audio
            if audio is not None:
                self.stream = leg.stream = audio
                self.dtmf = dtmf_mode_for(peer, audio)
        hunt = plan.dial_plan.outbound(self.numbers, kinds=POTS)
        if not hunt.routes:
            self.notice(f"no pots dial-peer for {self.called}")
            self.reject(leg, q850.CALL_REJECTED if hunt.blocked else q850.UNALLOCATED_NUMBER, now)
            return
        self.hunt = hunt.routes
        self.route_index = 0
        if not self.offer_next(now):
            self.reject(leg, self.last_cause or q850.NO_ROUTE, now)

    def offer_next(self, now: float) -> bool:
        """Offer the call on the next route with a free channel; False when none is left."""
        host = self.host
        while self.route_index < len(self.hunt):
            route = self.hunt[self.route_index]
            self.route_index += 1
            peer = route.peer
            if not isinstance(peer, PotsDialPeer):
                continue
            info = self.free_line_of(peer)
            if info is None:
                continue
            leg = LineLeg(self.key, info.name, host.new_ref(), info.kind, "outgoing")
            leg.dial_peer = peer.tag
            self.add_line_leg(leg)
            self.offer_on_line(leg, route, peer)
            return True
        return False

    def forward_to_line(self, condition: str, now: float) -> bool:
        if not self.forward_routes(condition, POTS):
            return False
        sip = self.sip
        if sip is not None and sip.pending:
            self.fire_sip(sip, "ring", now, status=181)  # RFC 3261 s21.1.3
        if not self.offer_next(now) and sip is not None and sip.pending:
            self.reject(sip, self.last_cause or q850.UNALLOCATED_NUMBER, now)
        return True

    # -- line events -----------------------------------------------------------------------

    def line_event_from_sip(self, leg: LineLeg, event: LineEvent, now: float) -> None:
        if isinstance(event, LineReleased):
            self.line_released(leg, now)
            return
        if isinstance(event, LineCleared):
            self.line_cleared_from_sip(leg, event.cause, now)
            return
        if leg is not self.line:
            return  # a retired attempt has nothing more to say
        if isinstance(event, LineProgress):
            self.line_progress(leg, event, now)
        elif isinstance(event, LineAnswered):
            self.line_answered(leg, now)
        else:
            self.notice(f"line sent {type(event).__name__} for a call we offered: ignored")

    def line_progress(self, leg: LineLeg, event: LineProgress, now: float) -> None:
        sip = self.sip
        if event.stage == "proceeding":
            self.fire_line(leg, "line_proceeding")  # flow 1: CALL PROCEEDING maps to nothing
            return
        trigger = "line_alerting" if event.stage == "alerting" else "line_progress"
        if not self.fire_line(leg, trigger) or sip is None or not sip.pending:
            return
        if self.alerted is None:
            self.alerted = now
        if "ring" not in self.deadlines:
            self.set_timer("ring", now + self.host.plan.timers.ring_no_answer)
        if event.inband and self.stream is not None and sip.local_sdp is not None:
            if not self.early_media:
                self.early_media = True
                self.fire_sip(sip, "progress", now, status=183, sdp=bytes(sip.local_sdp))
            self.start_media(to_line=False, to_rtp=True)
        elif event.stage == "alerting" and not self.ringing_sent:
            self.ringing_sent = True
            self.fire_sip(sip, "ring", now, status=180)

    def line_answered(self, leg: LineLeg, now: float) -> None:
        sip = self.sip
        if sip is None or not sip.accepts("answer"):
            self.clear_line(leg, self.cause or q850.NORMAL_CLEARING, now)
            return
        self.fire_line(leg, "line_answered")
        self.cancel_timer("ring", "expiry")
        assert sip.local_sdp is not None
        self.fire_sip(sip, "answer", now, status=200, sdp=bytes(sip.local_sdp))
        self.answered = now
        self.start_media(to_line=True, to_rtp=True)

    def line_cleared_from_sip(self, leg: LineLeg, cause: int, now: float) -> None:
        if leg.clearing:
            return
        self.hangup_line(leg, cause, now)  # complete the line's clearing: RELEASE
        sip = self.sip
        if leg is not self.line or sip is None:
            return
        if sip.pending:
            self.stop_media()
            self.early_media = False
            if cause == q850.USER_BUSY and self.forward_to_line("busy", now):
                return
            if should_hunt(cause=cause) and self.offer_next(now):
                return
            self.cancel_timer("ring", "expiry")
            self.reject(sip, cause, now)
            return
        self.cause = cause
        self.stop_media()
        self.clear_sip(sip, cause, now)

    # -- SIP events (UAS) ------------------------------------------------------------------

    def ack_received(self, leg: SipLeg, event: AckReceived, now: float) -> None:
        if leg.state == "accepted":
            self.fire_sip(leg, "acked", now)
            line = self.line
            if line is not None and line.accepts("confirm"):
                self.fire_line(line, "confirm")  # flow 1: ACK -> CONNECT ACKNOWLEDGE
        if leg.offer is None:
            return
        problem = self.ack_answer(leg, event)
        if problem is not None:
            self.notice(f"SDP answer in the ACK unusable: clearing with cause {problem}")
            self.clear_all(problem, now)

    def ack_answer(self, leg: SipLeg, event: AckReceived) -> int | None:
        """The answer to our offer (delayed offer, or a re-INVITE without SDP) in the ACK."""
        offer, leg.offer = leg.offer, None
        assert offer is not None
        try:
            sdp = sdp_of(event.request)
            if sdp is None:
                return q850.PROTOCOL_ERROR
            audio = process_answer(offer, sdp).audio
        except RemoteProtocolError:
            return q850.BEARER_NOT_IMPLEMENTED
        if audio is None:
            return q850.BEARER_NOT_IMPLEMENTED
        leg.remote_sdp = sdp
        first = self.stream is None
        self.stream = leg.stream = audio
        assert self.voip_peer is not None
        self.dtmf = dtmf_mode_for(self.voip_peer, audio)
        if first:
            self.start_media(to_line=True, to_rtp=True)
        elif self.media:
            self.out.append(UpdateMedia(self.key, audio))
        return None

    # -- timers ----------------------------------------------------------------------------

    def timer_from_sip(self, name: str, now: float) -> None:
        sip, line = self.sip, self.line
        if name == "ring":
            self.notice(f"{self.called} did not answer in time")
            if line is not None and not line.clearing:
                self.clear_line(line, q850.NO_ANSWER, now)
            if not self.forward_to_line("no-answer", now) and sip is not None and sip.pending:
                self.cancel_timer("expiry")
                self.stop_media()
                self.reject(sip, q850.NO_ANSWER, now)
        elif name == "expiry":
            self.notice("the INVITE expired before the line answered")
            self.cancel_timer("ring")
            self.stop_media()
            if sip is not None and sip.pending:
                self.reject(sip, q850.TIMER_EXPIRY, now, status=487)
            self.clear_line(line, q850.TIMER_EXPIRY, now)
