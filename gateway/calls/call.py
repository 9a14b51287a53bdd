"""A gateway call: the two directions joined, plus what both share inside a SIP dialog.

:class:`Call` routes each input to the leg it names -- line events by ``ref``, SIP events by
Call-ID (every hunting attempt has its own) -- and handles the in-dialog requests both
directions meet: BYE (held until the line released, flow 1), re-INVITE (hold/resume, RFC 3264
s8), INFO (``application/dtmf-relay`` digits), OPTIONS, CANCEL, the ACK and its timeout, and a
dialog the network ended.  Media events come from the runtime's bridge.
"""

from __future__ import annotations

from gateway.calls import q850
from gateway.calls.call_from_line import FromLine
from gateway.calls.call_from_sip import FromSip
from gateway.calls.commands import (
    DigitFromMedia,
    MediaEvent,
    MediaFailed,
    MediaTimedOut,
    SendDigit,
    UpdateMedia,
)
from gateway.calls.media_plan import capabilities_for
from gateway.calls.sip_leg import RespondTo, SipLeg
from gateway.calls.sip_messages import DTMF_RELAY, reasons_of, sdp_of
from gateway.errors import RemoteProtocolError
from gateway.line import LineCleared, LineDigit, LineEvent, LineHookFlash, LineReleased
from gateway.line import SendDigit as LineSendDigit
from gateway.sdp.offer_answer import MediaNotAcceptable, create_answer, create_offer
from gateway.sip.events import (
    AckReceived,
    AckTimeout,
    CancelReceived,
    ClientTransactionId,
    DialogTerminated,
    EndpointEvent,
    RequestReceived,
    ResponseReceived,
    ServerTransactionId,
    TransactionFailed,
)

__all__ = ["Call"]


class Call(FromLine, FromSip):
    """One gateway call; built by the core, fed line, SIP, media and timer events."""

    __slots__ = ()

    # -- line ------------------------------------------------------------------------------

    def line_event(self, event: LineEvent, now: float) -> None:
        leg = self.line_legs.get(getattr(event, "ref", ""))
        if leg is None:
            return
        if isinstance(event, LineReleased) and not leg.clearing and leg.state != "idle":
            # The line call vanished without clearing first (RELEASE COMPLETE straight away,
            # a device gone): take it as the line's clearing, then as its release.
            cause = q850.NORMAL_CLEARING if self.answered is not None else q850.TEMPORARY_FAILURE
            self.line_event(LineCleared(event.line, event.ref, cause), now)
        if isinstance(event, LineDigit):
            if leg is self.line:
                self.digit_from_line(event.digit, event.duration_ms, now)
            elif leg is self.far_line and self.line is not None and self.line.state == "active":
                line = self.line  # a hairpin: the far line's keypad reaches the caller
                self.out.append(LineSendDigit(line.line, line.ref, event.digit, event.duration_ms))
        elif isinstance(event, LineHookFlash):
            self.notice("hook flash ignored (no supplementary services)")
        elif self.direction == "line-to-sip":
            self.line_event_from_line(leg, event, now)
        else:
            self.line_event_from_sip(leg, event, now)

    # -- SIP -------------------------------------------------------------------------------

    def sip_event(self, event: EndpointEvent, now: float) -> None:
        leg = self.sip_legs.get(event.call_id)
        if leg is None:
            return
        if isinstance(event, RequestReceived):
            if event.dialog is None:
                # Same Call-ID, no dialog: a second INVITE path or a confused peer.
                status = 482 if event.request.method == "INVITE" else 481
                self.respond_to(leg, event.transaction, status, now)
            else:
                self.in_dialog_request(leg, event, now)
        elif isinstance(event, ResponseReceived):
            method = event.transaction.method
            if method == "INVITE" and leg.role == "uac" and event.transaction == leg.invite:
                self.invite_response(leg, event, now)
            elif method == "INFO" and event.transaction == leg.info_out:
                self.info_answered(leg, event, now)
            elif method == "BYE" and event.transaction == leg.bye_out:
                status = event.response.status
                if status in (401, 407) and self.answer_challenge(leg, event, now):
                    return  # our BYE again, with credentials (RFC 3261 s22.2)
                if status >= 200:
                    self.fire_sip(leg, "bye_done", now)
        elif isinstance(event, CancelReceived):
            self.cancel_received(leg, event, now)
        elif isinstance(event, AckReceived):
            self.ack_received(leg, event, now)
        elif isinstance(event, AckTimeout):
            self.ack_timeout(leg, now)
        elif isinstance(event, TransactionFailed):
            self.transaction_failed(leg, event, now)
        elif isinstance(event, DialogTerminated):
            self.dialog_lost(leg, event.reason, now)

    def respond_to(
        self,
        leg: SipLeg,
        transaction: ServerTransactionId,
        status: int,
        now: float,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        sdp: bytes = b"",
    ) -> None:
        leg.outbox.append(RespondTo(transaction, status, headers, sdp))
        self.host.perform(leg, now)

    def in_dialog_request(self, leg: SipLeg, event: RequestReceived, now: float) -> None:
        method = event.request.method
        if method == "BYE":
            self.bye_received(leg, event, now)
        elif method == "INVITE":
            self.reinvite(leg, event, now)
        elif method == "INFO":
            self.info(leg, event, now)
        elif method == "OPTIONS":
            self.respond_to(leg, event.transaction, 200, now)
        else:
            self.respond_to(leg, event.transaction, 501, now)

    def bye_received(self, leg: SipLeg, event: RequestReceived, now: float) -> None:
        cause = self.host.plan.cause_map.cause_for_request("BYE", reasons=reasons_of(event.request))
        if leg is not self.sip or not leg.accepts("bye_received"):
            self.respond_to(leg, event.transaction, 200, now)
            if leg is self.sip and leg.pending:
                # A BYE where the peer may not send one (the callee, before answering): the
                # dialog is over all the same.
                self.notice(f"BYE in state {leg.state}: clearing with cause {cause}")
                self.fire_sip(leg, "lost", now)
                self.clear_all(cause, now)
            return
        leg.bye = event.transaction
        self.fire_sip(leg, "bye_received", now)
        self.cause = cause
        self.collector = None
        self.cancel_timer("ring", "expiry", "connect", "digits")
        self.stop_media()
        line = self.line
        if line is None or line.done:
            self.fire_sip(leg, "close", now)
            return
        # Flow 1: BYE -> DISCONNECT; the 200 OK waits for the line's RELEASE, but never past
        # the safety timer (the peer's Timer F gives up after 32 s).
        self.clear_line(line, cause, now)
        self.set_timer("bye_answer", now + self.host.plan.timers.bye_answer)

    def reinvite(self, leg: SipLeg, event: RequestReceived, now: float) -> None:
        """A re-INVITE in an established call: hold, resume, a new address (RFC 3264 s8)."""
        transaction = event.transaction
        if leg is not self.sip or leg.state != "confirmed":
            self.respond_to(leg, transaction, 491, now)  # RFC 3261 s14.2
            return
        plan = self.host.plan
        peer, port = self.voip_peer, self.port
        assert peer is not None and port is not None
        capabilities = capabilities_for(peer, plan.media.address, port, plan.media.ptime, plan.node)
        try:
            offer = sdp_of(event.request)
            if offer is None:  # the peer wants our offer; its answer comes in the ACK
                leg.offer = leg.local_sdp = create_offer(capabilities, previous=leg.local_sdp)
                self.respond_to(leg, transaction, 200, now, sdp=bytes(leg.local_sdp))
                return
            answer = create_answer(offer, capabilities, previous=leg.local_sdp)
        except MediaNotAcceptable as exc:
            # A refused re-offer leaves the session as it was (RFC 3261 s14.2).
            warning = (("Warning", exc.warning_header(self.host.local_host())),)
            self.respond_to(leg, transaction, 488, now, headers=warning)
            return
        except RemoteProtocolError as exc:
            self.respond_to(leg, transaction, exc.status_hint or 400, now)
            return
        leg.remote_sdp = offer
        leg.local_sdp = answer.description
        self.respond_to(leg, transaction, 200, now, sdp=bytes(answer.description))
        audio = answer.negotiated.audio
        if audio is not None:
            self.stream = leg.stream = audio
            if self.media:
                self.out.append(UpdateMedia(self.key, audio))

    def info(self, leg: SipLeg, event: RequestReceived, now: float) -> None:
        """INFO: ``application/dtmf-relay`` (Cisco ``dtmf-relay sip-info``) gives the digit to
        the line -- signalled out of band when the plan says so (``digits_to_line="signal"``:
        Q.931 keypad, a board's digit command), else played in-band by the bridge; other bodies
        are acknowledged and ignored."""
        request = event.request
        content_type = request.content_type
        if content_type is not None and content_type.mime == DTMF_RELAY:
            digit, duration = _dtmf_relay(request.body)
            if digit is not None:
                self.digit_to_line(digit, duration)
        self.respond_to(leg, event.transaction, 200, now)

    def digit_to_line(self, digit: str, duration_ms: int) -> None:
        line = self.line
        if (
            self.host.plan.media.digits_to_line == "signal"
            and line is not None
            and line.state == "active"
        ):
            self.out.append(LineSendDigit(line.line, line.ref, digit, duration_ms))
        elif self.media:
            self.out.append(SendDigit(self.key, digit, "line", duration_ms))

    def cancel_received(self, leg: SipLeg, event: CancelReceived, now: float) -> None:
        if not self.fire_sip(leg, "cancelled", now):
            return
        cause = self.host.plan.cause_map.cause_for_request(
            "CANCEL", reasons=reasons_of(event.request)
        )
        self.notice(f"caller abandoned (CANCEL, cause {cause})")
        self.cause = cause
        self.cancel_timer("ring", "expiry")
        self.stop_media()
        self.clear_line(self.line, cause, now)

    def ack_timeout(self, leg: SipLeg, now: float) -> None:
        if self.fire_sip(leg, "ack_timeout", now, cause=q850.TIMER_EXPIRY):
            self.notice("no ACK for our 200: ending the call")
            self.cause = q850.TIMER_EXPIRY
            self.stop_media()
            self.clear_line(self.line, q850.TIMER_EXPIRY, now)

    def transaction_failed(self, leg: SipLeg, event: TransactionFailed, now: float) -> None:
        transaction = event.transaction
        if not isinstance(transaction, ClientTransactionId):
            return  # our final response was never acknowledged (Timer H): nothing to clear
        if transaction.method == "INVITE" and transaction == leg.invite:
            self.invite_timed_out(leg, event.status, now)
        elif transaction.method == "INFO" and transaction == leg.info_out:
            leg.info_out = None
            self.notice(f"INFO unanswered ({event.reason}): a DTMF digit may be lost")
            self.send_next_info(leg, now)
        elif transaction.method == "BYE" and transaction == leg.bye_out:
            self.fire_sip(leg, "bye_done", now)

    def dialog_lost(self, leg: SipLeg, reason: str, now: float) -> None:
        if leg.done:
            return
        state = leg.state
        self.fire_sip(leg, "lost", now)
        if leg is not self.sip or state in ("terminating", "closing", "cancelling"):
            return
        cause = (
            q850.TIMER_EXPIRY
            if ("408" in reason or "timed out" in reason)
            else q850.TEMPORARY_FAILURE
        )
        self.notice(f"dialog ended by the network ({reason}): clearing with cause {cause}")
        self.clear_all(cause, now)

    # -- DTMF relay by SIP INFO (Cisco ``dtmf-relay sip-info``) ----------------------------

    def digit_from_line(self, digit: str, duration_ms: int, now: float) -> None:
        """A digit the line signalled during the call (Q.931 keypad, a station's key, a modem's
        DTMF report): SIP INFO on ``sip-info`` calls, else RFC 4733 or in-band via the bridge."""
        far = self.far_line
        if far is not None:  # a hairpin: straight to the other line
            if far.state == "active":
                self.out.append(LineSendDigit(far.line, far.ref, digit, duration_ms))
            return
        if self.dtmf != "sip-info":
            if self.media:
                self.out.append(SendDigit(self.key, digit, "rtp", duration_ms))
            return
        sip = self.sip
        if sip is None or sip.state != "confirmed":
            self.notice(f"DTMF {digit} not relayed: the call is not connected")
            return
        sip.info_queue.append((digit, duration_ms))
        self.send_next_info(sip, now)

    def send_next_info(self, leg: SipLeg, now: float) -> None:
        """One INFO at a time: the next digit leaves when the previous INFO was answered, so
        digits cannot overtake one another on the way (UDP reorders, RFC 6086 s4.2.1)."""
        if leg.info_out is not None or not leg.info_queue or not leg.accepts("send_info"):
            return
        digit, duration_ms = leg.info_queue.popleft()
        body = f"Signal={digit}\r\nDuration={duration_ms}\r\n".encode("ascii")
        self.fire_sip(leg, "send_info", now, content_type=DTMF_RELAY, body=body)

    def info_answered(self, leg: SipLeg, event: ResponseReceived, now: float) -> None:
        status = event.response.status
        if status < 200:
            return
        if status in (401, 407) and self.answer_challenge(leg, event, now):
            return  # the same INFO again, with credentials (RFC 3261 s22.2)
        leg.info_out = None
        if status >= 300:
            self.notice(f"INFO refused with {status}: a DTMF digit is lost")
        self.send_next_info(leg, now)

    # -- media -----------------------------------------------------------------------------

    def media_event(self, event: MediaEvent, now: float) -> None:
        line = self.line
        if isinstance(event, DigitFromMedia):
            if event.origin == "line" and self.dtmf == "sip-info":
                self.digit_from_line(event.digit, event.duration_ms, now)
            elif (
                event.origin == "rtp"
                and self.host.plan.media.digits_to_line == "signal"
                and line is not None
                and line.state == "active"
            ):
                self.out.append(LineSendDigit(line.line, line.ref, event.digit, event.duration_ms))
        elif isinstance(event, MediaTimedOut):
            self.notice("no RTP from the far end: clearing the call")
            self.clear_all(q850.TIMER_EXPIRY, now)
        elif isinstance(event, MediaFailed):
            self.notice(f"media failed: {event.reason}")
            self.clear_all(q850.RESOURCE_UNAVAILABLE, now)

    # -- timers ----------------------------------------------------------------------------

    def fire_timers(self, now: float) -> None:
        for name in self.due_timers(now):
            if name.startswith("release:"):
                leg = self.line_legs.get(name.partition(":")[2])
                if leg is not None and not leg.done:
                    self.notice(f"line {leg.line} never released {leg.ref}: forgetting it")
                    self.line_released(leg, now)
            elif name == "bye_answer":
                sip = self.sip
                if sip is not None and sip.state == "closing":
                    self.fire_sip(sip, "close", now)
            elif self.direction == "line-to-sip":
                self.timer_from_line(name, now)
            else:
                self.timer_from_sip(name, now)


def _dtmf_relay(body: bytes) -> tuple[str | None, int]:
    """``Signal=5`` / ``Duration=160`` of an application/dtmf-relay body (Cisco format)."""
    digit: str | None = None
    duration = 100
    for line in body.decode("ascii", "replace").splitlines():
        name, _, value = line.partition("=")
        name, value = name.strip().lower(), value.strip()
        if name == "signal" and len(value) == 1 and value.upper() in "0123456789*#ABCD":
            digit = value.upper()
        elif name == "duration" and value.isdigit() and len(value) <= 5:
            duration = int(value)
    return digit, duration
