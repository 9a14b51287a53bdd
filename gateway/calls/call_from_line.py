"""A call the line starts: the originating gateway of flow 1 (line -> SIP, we are the UAC).

SETUP (or off-hook and dialled digits) -> inbound pots dial-peer, digit collection, incoming
translation -> the voip hunt list -> CALL PROCEEDING + INVITE with our SDP offer.  Then:
100 -> nothing; 180 -> ALERTING without progress indicator (ringback: the PBX's, or ours on a
station); 18x with SDP -> early media cut through toward the line, PROGRESS / ALERTING with the
in-band flag; 200 -> CONNECT, and the ACK only after the line's CONNECT ACKNOWLEDGE (at once on
lines that have none).  Failures map through the cause map, hunt on 503/408/timeouts, forward
on busy or no answer; a station hears busy or congestion tone until it hangs up.
"""

from __future__ import annotations

from gateway.calls import q850
from gateway.calls.call_hairpin import Hairpin
from gateway.calls.commands import UpdateMedia
from gateway.calls.dialpeer import DIAL_CHARS, LegKind, PotsDialPeer, VoipDialPeer, should_hunt
from gateway.calls.digits import Collect, DigitCollector, DigitDecision
from gateway.calls.line_leg import LineLeg
from gateway.calls.media_plan import capabilities_for, dtmf_mode_for
from gateway.calls.sip_leg import SipLeg
from gateway.calls.sip_messages import build_invite, reasons_of, sdp_of, warning_codes
from gateway.calls.targets import Unreachable, target_hop, target_host
from gateway.calls.translation import CallNumbers, PartyNumber
from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.line import (
    DigitsDialled,
    LineAnswerAcknowledged,
    LineCleared,
    LineEvent,
    LineInfo,
    LineReleased,
    LineSeized,
)
from gateway.sdp.offer_answer import create_offer, process_answer
from gateway.sip.events import ResponseReceived

__all__ = ["FromLine"]

VOIP: tuple[LegKind] = ("voip",)
# A line's call may go to SIP or, hairpinned, to another line (Cisco's default for pots peers).
ANY: tuple[LegKind, LegKind] = ("voip", "pots")


class FromLine(Hairpin):
    __slots__ = ()

    # -- set-up ----------------------------------------------------------------------------

    def start_from_line(self, seized: LineSeized, info: LineInfo, now: float) -> None:
        plan = self.host.plan
        leg = LineLeg(
            self.key,
            seized.line,
            seized.ref,
            info.kind,
            "incoming",
            codec=seized.codec,
            channel=seized.channel,
        )
        self.add_line_leg(leg)
        self.numbers = CallNumbers(PartyNumber(seized.called), PartyNumber(seized.calling or ""))
        self.calling_name = seized.calling_name
        self.presentation = seized.presentation_allowed
        inbound = plan.dial_plan.inbound("pots", self.numbers, port=seized.line)
        self.inbound_peer = inbound.peer
        leg.dial_peer = inbound.peer.tag
        self.fire_line(leg, "seize", dial_tone=info.kind == "station" and not seized.called)
        timers = plan.timers
        self.collector = DigitCollector(
            plan.dial_plan.destination_patterns(ANY),
            now=now,
            initial_timeout=timers.initial_digit,
            interdigit_timeout=timers.interdigit,
        )
        self.collect(seized.called, seized.complete, now)

    def collect(self, digits: str, complete: bool, now: float) -> None:
        collector = self.collector
        if collector is None:
            return
        if digits and self.line is not None:
            self.fire_line(self.line, "dialled")  # the first digit stops dial tone
        decision = collector.decision
        before = collector.digits
        for digit in digits:
            if collector.finished:
                break
            if digit.upper() not in DIAL_CHARS:
                self.notice(f"ignoring {digit!r}: not a keypad digit")
                continue
            decision = collector.receive_digit(digit, now)
        if complete and not collector.finished:
            decision = collector.sending_complete()
        self.digits_decided(decision, now, before + digits)

    def digits_decided(self, decision: DigitDecision, now: float, dialled: str = "") -> None:
        """Act on the collector's decision; ``dialled`` is everything the line sent, so an
        en-bloc number refused at its first digit is still reported whole."""
        if decision.outcome is Collect.NEED_MORE:
            if decision.deadline is not None:
                self.set_timer("digits", decision.deadline)
            return
        self.cancel_timer("digits")
        self.collector = None
        number = decision.number
        if decision.outcome is Collect.NO_MATCH and len(dialled) > len(number):
            number = dialled
        self.numbers = CallNumbers(PartyNumber(number), self.numbers.calling)
        if decision.outcome is Collect.NO_MATCH:
            cause = decision.cause or q850.UNALLOCATED_NUMBER
            self.notice(f"{number or 'nothing'} dialled matches no dial-peer")
            self.originating_failed(cause, now)
            return
        self.route_from_line(now)

    def route_from_line(self, now: float) -> None:
        plan = self.host.plan
        assert self.inbound_peer is not None
        outcome = plan.dial_plan.translate_incoming(self.inbound_peer, self.numbers)
        if outcome.blocked is not None:
            self.notice(f"{self.called} refused by translation rule {outcome.blocked.rule_set}")
            self.originating_failed(q850.CALL_REJECTED, now)
            return
        self.numbers = outcome.numbers
        assert self.line is not None
        hunt = plan.dial_plan.outbound(self.numbers, kinds=ANY, exclude_port=self.line.line)
        if not hunt.routes:
            self.notice(f"no dial-peer for {self.called}")
            self.originating_failed(
                q850.CALL_REJECTED if hunt.blocked else q850.UNALLOCATED_NUMBER, now
            )
            return
        self.hunt = hunt.routes
        self.route_index = 0
        self.fire_line(self.line, "proceed")  # flow 1: CALL PROCEEDING as the INVITE goes out
        if not self.invite_next(now):
            self.originating_failed(self.last_cause or q850.NO_ROUTE, now)

    def invite_next(self, now: float) -> bool:
        """Try the next route of the hunt list -- an INVITE, or a hairpin offer on a line of
        ours; False when none is left."""
        plan = self.host.plan
        while self.route_index < len(self.hunt):
            route = self.hunt[self.route_index]
            peer = route.peer
            if isinstance(peer, VoipDialPeer) and self.lookup_first(peer, now):
                return True  # the INVITE waits for the name: name_resolved goes on
            self.route_index += 1
            if isinstance(peer, PotsDialPeer):
                if self.offer_hairpin(route, peer, now):
                    return True
                continue
            hop = target_hop(peer, plan, self.host.resolve_name)
            if isinstance(hop, Unreachable):
                self.notice(hop.reason)
                self.last_cause = q850.NO_ROUTE
                continue
            port = self.media_port()
            if port is None:
                self.notice("no free RTP port")
                self.last_cause = q850.RESOURCE_UNAVAILABLE
                return False
            capabilities = capabilities_for(
                peer, plan.media.address, port, plan.media.ptime, plan.node
            )
            offer = create_offer(capabilities, session_id=self.host.new_session_id())
            try:
                request = build_invite(
                    self.host.endpoint,
                    called=route.called_digits,
                    calling=route.numbers.calling.digits,
                    calling_name=self.calling_name,
                    presentation_allowed=self.presentation,
                    target=hop.address,
                    local_host=self.host.local_host(),
                    sdp=bytes(offer),
                    expires=max(1, int(plan.timers.invite_expiry)),
                )
            except LocalProtocolError as exc:
                self.notice(f"dial-peer {peer.tag}: cannot build the INVITE: {exc}")
                self.last_cause = q850.INVALID_NUMBER_FORMAT
                continue
            leg = SipLeg(self.key, "uac", request.call_id, hop.address, peer.tag)
            leg.offer = leg.local_sdp = offer
            leg.request = request
            leg.local_port = port
            self.voip_peer = peer
            self.stream = None
            self.dtmf = None
            self.early_media = False
            self.add_sip_leg(leg)
            self.attempts += 1
            self.notice(
                f"{self.calling or 'anonymous'} -> {route.called_digits} via dial-peer "
                f"{peer.tag} ({hop.address[0]}:{hop.address[1]}), attempt {self.attempts}"
            )
            self.fire_sip(leg, "invite", now, request=request, destination=hop)
            self.set_timer("expiry", now + plan.timers.invite_expiry)
            return True
        return False

    def lookup_first(self, peer: VoipDialPeer, now: float) -> bool:
        """True when ``peer``'s ``dns:`` target must be looked up first (the runtime answers,
        at call time); the call waits at most the ``name_lookup`` timer."""
        found = target_host(peer, self.host.plan)
        if isinstance(found, Unreachable) or not self.host.name_pending(found[0], now):
            return False
        self.awaiting_name = found[0]
        self.set_timer("lookup", now + self.host.plan.timers.name_lookup)
        self.notice(f"dial-peer {peer.tag}: looking up {found[0]}")
        return True

    def name_resolved(self, now: float) -> None:
        """The name this call waited for has an answer (or none): try the route again."""
        if self.awaiting_name is None:
            return
        self.awaiting_name = None
        self.cancel_timer("lookup")
        line = self.line
        if line is None or line.clearing:
            return
        if not self.invite_next(now):
            self.originating_failed(self.last_cause or q850.NO_ROUTE, now)

    def originating_failed(self, cause: int, now: float) -> None:
        """No call could be placed: tell the line (a station hears busy/congestion tone)."""
        self.cause = cause
        self.cancel_timer("ring", "expiry", "connect", "digits", "lookup")
        self.awaiting_name = None
        self.collector = None
        self.stop_media()
        self.clear_line(self.far_line, cause, now)
        leg = self.line
        if leg is None or leg.clearing:
            return
        if leg.station and leg.accepts("fail"):
            tone = "busy" if cause == q850.USER_BUSY else "congestion"
            self.fire_line(leg, "fail", cause=cause, tone=tone)
            self.set_timer("lockout", now + self.host.plan.timers.station_lockout)
        else:
            self.clear_line(leg, cause, now)

    def attempt_failed(
        self, cause: int, now: float, *, status: int | None = None, timed_out: bool = False
    ) -> None:
        """The current INVITE failed: forward, hunt on, or give up."""
        self.last_cause = cause
        self.cancel_timer("ring", "expiry")
        self.stop_media()
        if cause == q850.USER_BUSY and self.forward_from_line("busy", now):
            return
        if should_hunt(status=status, timed_out=timed_out) and self.invite_next(now):
            return
        self.originating_failed(cause, now)

    def forward_from_line(self, condition: str, now: float) -> bool:
        if not self.forward_routes(condition, VOIP):
            return False
        if not self.invite_next(now):
            self.originating_failed(self.last_cause or q850.UNALLOCATED_NUMBER, now)
        return True

    # -- line events -----------------------------------------------------------------------

    def line_event_from_line(self, leg: LineLeg, event: LineEvent, now: float) -> None:
        if leg is not self.line:
            self.far_line_event(leg, event, now)  # the line a hairpin call went to
            return
        if isinstance(event, DigitsDialled):
            if self.collector is not None:
                self.collect(event.digits, event.complete, now)
        elif isinstance(event, LineAnswerAcknowledged):
            if self.fire_line(leg, "acknowledged"):
                self.cancel_timer("connect")
                sip, far = self.sip, self.far_line
                if sip is not None and sip.accepts("ack"):
                    self.fire_sip(sip, "ack", now)
                if far is not None and far.accepts("confirm"):
                    self.fire_line(far, "confirm")
        elif isinstance(event, LineCleared):
            self.line_cleared_from_line(leg, event.cause, now)
        elif isinstance(event, LineReleased):
            self.line_released(leg, now)
        else:
            self.notice(f"line sent {type(event).__name__} for a call it started: ignored")

    def line_cleared_from_line(self, leg: LineLeg, cause: int, now: float) -> None:
        if leg.clearing:
            return
        if leg.state == "failed":  # a station hung up during busy/congestion tone
            self.cancel_timer("lockout")
            self.hangup_line(leg, leg.cause or cause, now)
            return
        self.cause = cause
        self.collector = None
        self.cancel_timer(*("digits", "ring", "expiry", "connect", "lookup"))
        self.awaiting_name = None
        # Flow 1: DISCONNECT from the PBX -> BYE and RELEASE at once.
        self.hangup_line(leg, cause, now)
        self.stop_media()
        self.clear_sip(self.sip, cause, now)
        self.clear_line(self.far_line, cause, now)

    # -- SIP events (UAC) ------------------------------------------------------------------

    def invite_response(self, leg: SipLeg, event: ResponseReceived, now: float) -> None:
        response = event.response
        status = response.status
        if status == 100:
            self.fire_sip(leg, "trying", now)
            return
        if 200 <= status < 300 and leg.state == "cancelling":
            leg.dialog = event.dialog
            self.fire_sip(leg, "answered", now)  # crossed our CANCEL: ACK and BYE
            return
        if leg is not self.sip:
            if status >= 300:
                self.fire_sip(leg, "rejected", now)
            return
        if status < 200:
            if leg.dialog is None and event.dialog is not None:
                leg.dialog = event.dialog
            if not self.fire_sip(leg, "early", now):
                return
            if status == 181:  # being forwarded: the new target gets its own ringing time
                self.cancel_timer("ring")
            elif status in (180, 183):
                self.remote_alerting(leg, status, self.early_answer(leg, event), now)
            return
        if status < 300:
            self.remote_answered(leg, event, now)
            return
        plan = self.host.plan
        cause = plan.cause_map.cause_for_status(
            status, warning_codes=warning_codes(response), reasons=reasons_of(response)
        )
        if status in (401, 407) and leg.state != "cancelling":
            if self.answer_challenge(leg, event, now):
                return  # sent again with credentials, on a new transaction (RFC 3261 s22.2)
            if leg.done:  # the endpoint could not send it again: this attempt failed
                leg.status = status
                self.attempt_failed(cause, now, status=status)
                return
        leg.status = status
        was_cancelling = leg.state == "cancelling"
        if not self.fire_sip(leg, "rejected", now) or was_cancelling:
            return  # a CANCEL of ours ended it: the call is clearing already
        self.host.note(f"{status} -> cause {cause}", leg.sip_call_id, now)
        self.attempt_failed(cause, now, status=status)

    def invite_timed_out(self, leg: SipLeg, status: int, now: float) -> None:
        """No final response (Timer B) or a transport error: 408 / 503 (RFC 3261 8.1.3.1)."""
        was_cancelling = leg.state == "cancelling"
        self.fire_sip(leg, "rejected", now) or self.fire_sip(leg, "lost", now)
        if was_cancelling or leg is not self.sip:
            return
        cause = self.host.plan.cause_map.cause_for_status(status)
        self.notice(f"no answer from {leg.remote[0]}:{leg.remote[1]} ({status}, cause {cause})")
        self.attempt_failed(cause, now, status=status, timed_out=status == 408)

    def early_answer(self, leg: SipLeg, event: ResponseReceived) -> bool:
        """Take the SDP answer of a provisional response (early media); True when we have one."""
        if self.stream is not None:
            return True
        try:
            sdp = sdp_of(event.response)
            if sdp is None or leg.offer is None:
                return False
            audio = process_answer(leg.offer, sdp).audio
        except RemoteProtocolError as exc:
            self.notice(f"early SDP ignored: {exc.reason}")
            return False
        if audio is None:
            return False
        leg.remote_sdp = sdp
        self.stream = leg.stream = audio
        assert self.voip_peer is not None
        self.dtmf = dtmf_mode_for(self.voip_peer, audio)
        return True

    def remote_alerting(self, leg: SipLeg, status: int, early: bool, now: float) -> None:
        line = self.line
        if line is None or line.clearing:
            return
        if self.alerted is None:
            self.alerted = now
        if "ring" not in self.deadlines:
            self.set_timer("ring", now + self.host.plan.timers.ring_no_answer)
        if early:
            if not self.early_media:
                self.early_media = True
                if status == 180 and line.state == "proceeding":
                    self.fire_line(line, "alert", inband=True)
                else:
                    self.fire_line(line, "progress")
            self.start_media(to_line=True, to_rtp=False)
        elif status == 180 and line.state == "proceeding":
            self.fire_line(line, "alert", inband=False)

    def remote_answered(self, leg: SipLeg, event: ResponseReceived, now: float) -> None:
        if not leg.accepts("answered"):
            if event.dialog is None:
                return
            if event.dialog != leg.dialog:
                self.host.note("second 2xx from another fork: ACK and BYE", leg.sip_call_id, now)
                self.host.drop_dialog(event.dialog, now)
            return
        leg.dialog = event.dialog
        self.cancel_timer("ring", "expiry")
        problem = self.final_answer(leg, event)
        self.fire_sip(leg, "answered", now)
        leg.offer = None
        if problem is not None:
            self.notice(f"unusable answer from {leg.remote[0]}: clearing with cause {problem}")
            self.fire_sip(leg, "hangup", now, cause=problem)
            self.originating_failed(problem, now)
            return
        self.answered = now
        line = self.line
        if line is None:
            return
        self.fire_line(line, "connect")
        self.start_media(to_line=True, to_rtp=True)
        if line.kind == "trunk":
            self.set_timer("connect", now + self.host.plan.timers.connect)
        else:  # stations and FXO lines have no CONNECT ACKNOWLEDGE
            self.fire_line(line, "acknowledged")
            self.fire_sip(leg, "ack", now)

    def final_answer(self, leg: SipLeg, event: ResponseReceived) -> int | None:
        """Take the SDP of the 2xx; the cause to clear with when it cannot be used."""
        try:
            sdp = sdp_of(event.response)
        except RemoteProtocolError as exc:
            self.notice(f"SDP of the 200 unreadable: {exc.reason}")
            return q850.PROTOCOL_ERROR
        if sdp is None:
            return None if self.stream is not None else q850.PROTOCOL_ERROR
        if leg.remote_sdp is not None and bytes(sdp) == bytes(leg.remote_sdp):
            return None
        if leg.offer is None:
            return q850.PROTOCOL_ERROR
        try:
            audio = process_answer(leg.offer, sdp).audio
        except RemoteProtocolError as exc:
            self.notice(f"SDP answer refused: {exc.reason}")
            return q850.BEARER_NOT_IMPLEMENTED
        if audio is None:
            return q850.BEARER_NOT_IMPLEMENTED
        leg.remote_sdp = sdp
        self.stream = leg.stream = audio
        assert self.voip_peer is not None
        self.dtmf = dtmf_mode_for(self.voip_peer, audio)
        if self.media:
            # A different answer in the 200 than in the 183: the bridge follows it.
            self.out.append(UpdateMedia(self.key, audio))
        return None

    # -- timers ----------------------------------------------------------------------------

    def timer_from_line(self, name: str, now: float) -> None:
        sip, line = self.sip, self.line
        if name == "digits":
            collector = self.collector
            decision = None if collector is None else collector.handle_timer(now)
            if decision is not None:
                self.digits_decided(decision, now)
        elif name == "ring":
            self.notice(f"no answer from {self.called} in time")
            self.clear_sip(sip, q850.NO_ANSWER, now)
            self.retire_far_line(q850.NO_ANSWER, now)
            if not self.forward_from_line("no-answer", now):
                self.originating_failed(q850.NO_ANSWER, now)
        elif name == "expiry":
            self.notice("INVITE expired without a final response")
            self.clear_sip(sip, q850.TIMER_EXPIRY, now)
            self.originating_failed(q850.TIMER_EXPIRY, now)
        elif name == "connect":
            # The PBX never acknowledged CONNECT; the far end stops retransmitting its 200 after
            # 64*T1, so acknowledge it now and end the call.
            self.notice("no CONNECT ACKNOWLEDGE from the line")
            self.clear_all(q850.TIMER_EXPIRY, now)
        elif name == "lookup" and self.awaiting_name is not None:
            self.notice(f"no address for {self.awaiting_name} in time: next dial-peer")
            self.awaiting_name = None
            self.route_index += 1
            self.last_cause = q850.NO_ROUTE
            if not self.invite_next(now):
                self.originating_failed(q850.NO_ROUTE, now)
        elif name == "lockout" and line is not None:
            self.clear_line(line, line.cause or self.cause or q850.NORMAL_CLEARING, now)
