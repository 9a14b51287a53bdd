"""``gwemu sip uas``'s call logic: answer every call (see :mod:`gateway.aio.sip_peers`).

:class:`UasPeer` answers every INVITE (optionally 180 and a ring time first), holds the call for
a set time (then sends BYE) or until the caller's BYE, answers OPTIONS, INFO and UPDATE, and
reports one :class:`~gateway.aio.sip_peers.CallRecord` per call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from gateway.aio.sip_peers import SDP_TYPE, Answerer, CallRecord, MediaPorts, capabilities
from gateway.errors import RemoteProtocolError
from gateway.sdp import (
    MediaNotAcceptable,
    SessionDescription,
    create_offer,
    process_answer,
)
from gateway.sip.endpoint import SipEndpoint
from gateway.sip.events import (
    AckReceived,
    AckTimeout,
    CancelReceived,
    DialogId,
    DialogTerminated,
    EndpointEvent,
    RequestReceived,
    ServerTransactionId,
    TransactionFailed,
)
from gateway.sip.message import Request
from gateway.sip.timers import Timer, TimerQueue

__all__ = ["UasOptions", "UasPeer"]


@dataclass(frozen=True, slots=True)
class UasOptions:
    """``ring``: seconds of 180 Ringing before the 200 (0: answer at once, no 180).
    ``hold``: seconds after the ACK before we send BYE (None: wait for the caller's BYE).
    ``media_address``: the address written in our SDP."""

    ring: float = 0.0
    hold: float | None = None
    media_address: str = "127.0.0.1"


class _UasCall:
    __slots__ = ("dialog", "invite", "offer", "peer", "record", "timer")

    def __init__(self, peer: UasPeer, record: CallRecord, invite: ServerTransactionId) -> None:
        self.peer = peer
        self.record = record
        self.invite = invite
        self.dialog: DialogId | None = None
        self.offer: bytes | None = None  # our offer, when the INVITE had none (delayed offer)
        self.timer: Timer | None = None

    def on_timer(self, name: str, now: float) -> None:
        self.peer.call_timer(self, name, now)


class UasPeer:
    """Answers every call (see the module docstring)."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        options: UasOptions,
        report: Callable[[CallRecord], None],
    ) -> None:
        self.endpoint = endpoint
        self.options = options
        self.report = report
        self.timers = TimerQueue()
        self.calls: dict[str, _UasCall] = {}  # by Call-ID
        self.finished: Counter[str] = Counter()
        self.started = 0
        self._ports = MediaPorts()
        self._answerer = Answerer(options.media_address)

    # -- SipApplication -----------------------------------------------------------------------

    def get_timer(self) -> float | None:
        return self.timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        self.timers.fire_due(now)

    def handle_event(self, event: EndpointEvent, now: float) -> None:
        if isinstance(event, RequestReceived):
            self._request(event, now)
        elif isinstance(event, AckReceived):
            self._ack(event, now)
        elif isinstance(event, CancelReceived):
            self._finish(event.call_id, now, "cancelled by the caller", 487)
        elif isinstance(event, AckTimeout):
            call = self.calls.get(event.call_id)
            if call is not None:
                self.endpoint.send_in_dialog(event.dialog, "BYE", now)
                self._finish(event.call_id, now, "no ACK: BYE sent")
        elif isinstance(event, TransactionFailed | DialogTerminated):
            self._finish(event.call_id, now, f"failed: {event.reason}")

    # -- requests -----------------------------------------------------------------------------

    def _request(self, event: RequestReceived, now: float) -> None:
        method = event.request.method
        endpoint = self.endpoint
        if method == "INVITE" and event.dialog is None:
            self._invite(event, now)
        elif method == "INVITE":
            self._reinvite(event, now)
        elif method == "BYE":
            endpoint.respond(event.transaction, 200, now)
            self._finish(event.call_id, now, "BYE from the caller")
        elif method == "OPTIONS":
            endpoint.respond(
                event.transaction,
                200,
                now,
                headers=[endpoint.config.capabilities.allow_header(), ("Accept", SDP_TYPE)],
            )
        else:
            endpoint.respond(event.transaction, 200, now)

    def _invite(self, event: RequestReceived, now: float) -> None:
        request = event.request
        self.started += 1
        record = CallRecord(self.started, request.call_id, request.from_.uri_text, now)
        call = _UasCall(self, record, event.transaction)
        self.calls[request.call_id] = call
        if self.options.ring > 0:
            self.endpoint.respond(event.transaction, 180, now)
            call.timer = self.timers.schedule(call, "answer", self.options.ring, now)
        else:
            self._answer(call, request, now)

    def _answer(self, call: _UasCall, request: Request, now: float) -> None:
        port = self._ports.take()
        try:
            if request.body:
                body = self._answerer.answer(request.body, port, call.record.number)
            else:
                body = bytes(
                    create_offer(
                        capabilities(self.options.media_address, port),
                        session_id=call.record.number,
                    )
                )
                call.offer = body
        except RemoteProtocolError as exc:
            status = exc.status_hint or 488
            extra = exc.extra_headers if isinstance(exc, MediaNotAcceptable) else ()
            self.endpoint.respond(call.invite, status, now, headers=extra)
            self._finish(call.record.call_id, now, f"rejected: {exc.reason}", status)
            return
        response = self.endpoint.respond(call.invite, 200, now, body=body, content_type=SDP_TYPE)
        call.record.status = 200
        call.record.answered = now
        call.dialog = DialogId(request.call_id, response.to_tag or "", request.from_tag or "")

    def call_timer(self, call: _UasCall, name: str, now: float) -> None:
        call.timer = None
        if self.calls.get(call.record.call_id) is not call:
            return
        if name == "answer":
            server = self.endpoint.server_transaction(call.invite)
            if server is not None and not server.final_sent:
                self._answer(call, server.request, now)
        elif name == "bye" and call.dialog is not None and self.endpoint.dialog(call.dialog):
            self.endpoint.send_in_dialog(call.dialog, "BYE", now)
            self._finish(call.record.call_id, now, "BYE sent after the hold time")

    def _reinvite(self, event: RequestReceived, now: float) -> None:
        body = b""
        if event.request.body:
            try:
                body = self._answerer.answer(event.request.body, self._ports.take(), 1)
            except RemoteProtocolError as exc:
                self.endpoint.respond(event.transaction, exc.status_hint or 488, now)
                return
        self.endpoint.respond(
            event.transaction, 200, now, body=body, content_type=SDP_TYPE if body else None
        )

    def _ack(self, event: AckReceived, now: float) -> None:
        call = self.calls.get(event.call_id)
        if call is None:
            return
        if call.offer is not None and event.request.body:
            try:
                process_answer(
                    SessionDescription.parse(call.offer),
                    SessionDescription.parse(event.request.body),
                )
            except RemoteProtocolError as exc:
                if event.dialog is not None:
                    self.endpoint.send_in_dialog(event.dialog, "BYE", now)
                self._finish(event.call_id, now, f"bad SDP answer in ACK ({exc.reason}): BYE sent")
                return
        if self.options.hold is not None:
            call.timer = self.timers.schedule(call, "bye", self.options.hold, now)

    def _finish(self, call_id: str, now: float, outcome: str, status: int | None = None) -> None:
        call = self.calls.pop(call_id, None)
        if call is None:
            return
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None  # the timer refers back to the call: no cycle left behind
        record = call.record
        record.ended = now
        record.outcome = outcome
        if status is not None:
            record.status = status
        self.finished[outcome.split(":")[0]] += 1
        self.report(record)
