"""``gwemu sip uac``'s call logic: place calls (see :mod:`gateway.aio.sip_peers`).

:class:`UacPeer` places N calls at a rate, ACKs, holds, hangs up, and counts the outcomes
(:class:`UacSummary`, failures by status).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.aio.sip_peers import SDP_TYPE, CallRecord, MediaPorts, capabilities
from gateway.errors import RemoteProtocolError
from gateway.sdp import (
    SessionDescription,
    create_offer,
    process_answer,
)
from gateway.sip.endpoint import SipEndpoint
from gateway.sip.events import (
    ClientTransactionId,
    DialogId,
    DialogTerminated,
    EndpointEvent,
    RequestReceived,
    ResponseReceived,
    TransactionFailed,
)
from gateway.sip.routing import Hop, SipTransport
from gateway.sip.timers import Timer, TimerQueue

__all__ = ["UacOptions", "UacPeer", "UacSummary"]


@dataclass(frozen=True, slots=True)
class UacOptions:
    """``target``: Request-URI; ``destination``: where to send (None: from the URI).
    ``calls`` at ``rate`` per second, each held ``hold`` seconds after the 2xx, then BYE.
    ``setup_timeout``: CANCEL a call that has no final response after that long."""

    target: str
    destination: Hop | None = None
    calls: int = 1
    rate: float = 10.0
    hold: float = 1.0
    setup_timeout: float = 32.0
    caller: str = "<sip:gwemu@127.0.0.1>"
    media_address: str = "127.0.0.1"


@dataclass(slots=True)
class UacSummary:
    attempted: int = 0
    answered: int = 0
    completed: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def lines(self) -> list[str]:
        lines = [
            f"calls: {self.attempted} attempted, {self.answered} answered, "
            f"{self.completed} completed, {self.failed} failed"
        ]
        if self.failures:
            by_status = ", ".join(f"{key} x{count}" for key, count in sorted(self.failures.items()))
            lines.append(f"failures: {by_status}")
        return lines


class _UacCall:
    __slots__ = ("dialog", "invite", "offer", "peer", "record", "timer")

    def __init__(self, peer: UacPeer, record: CallRecord) -> None:
        self.peer = peer
        self.record = record
        self.invite: ClientTransactionId | None = None
        self.dialog: DialogId | None = None
        self.offer: bytes = b""
        self.timer: Timer | None = None

    def on_timer(self, name: str, now: float) -> None:
        self.peer.call_timer(self, name, now)


class UacPeer:
    """Places calls (see the module docstring); ``done`` once every call has ended."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        options: UacOptions,
        report: Callable[[CallRecord], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.options = options
        self.report = report
        self.timers = TimerQueue()
        self.summary = UacSummary()
        self.calls: dict[str, _UacCall] = {}  # by Call-ID
        self._ports = MediaPorts()
        # Our Contact names the transport the calls use (the peer's requests come back on it).
        destination = options.destination
        self._transport: SipTransport = "udp" if destination is None else destination.transport
        self._start = 0.0
        self._stopping = False

    @property
    def done(self) -> bool:
        return not self.calls and (self._stopping or self.summary.attempted >= self.options.calls)

    def start(self, now: float) -> None:
        self._start = now
        self.launch_due(now)

    def stop(self, now: float) -> None:
        """Place no more calls; hang up or cancel the ones in progress."""
        self._stopping = True
        for call in list(self.calls.values()):
            if call.dialog is not None and self.endpoint.dialog(call.dialog) is not None:
                self.endpoint.send_in_dialog(call.dialog, "BYE", now)
            elif call.invite is not None:
                self.endpoint.cancel(call.invite, now)

    # -- SipApplication -----------------------------------------------------------------------

    def get_timer(self) -> float | None:
        return self.timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        self.timers.fire_due(now)

    def handle_event(self, event: EndpointEvent, now: float) -> None:
        if isinstance(event, ResponseReceived):
            self._response(event, now)
        elif isinstance(event, TransactionFailed):
            call = self.calls.get(event.call_id)
            if call is not None and event.transaction.method in ("INVITE", "BYE"):
                method = event.transaction.method
                key = str(event.status) if method == "INVITE" else f"BYE {event.status}"
                self._fail(call, now, key, event.reason)
        elif isinstance(event, DialogTerminated):
            call = self.calls.get(event.call_id)
            if call is not None:
                self._fail(call, now, "dialog ended", event.reason)
        elif isinstance(event, RequestReceived):
            self._request(event, now)

    # -- calls --------------------------------------------------------------------------------

    def on_timer(self, name: str, now: float) -> None:
        """The launch timer: place the calls that are due."""
        self.launch_due(now)

    def launch_due(self, now: float) -> None:
        options = self.options
        while not self._stopping and self.summary.attempted < options.calls:
            due = self._start + self.summary.attempted / options.rate
            if due > now:
                self.timers.schedule(self, "launch", due - now, now)
                return
            self._place(now)

    def _place(self, now: float) -> None:
        options = self.options
        self.summary.attempted += 1
        number = self.summary.attempted
        offer = bytes(
            create_offer(capabilities(options.media_address, self._ports.take()), session_id=number)
        )
        request = self.endpoint.new_request(
            "INVITE",
            options.target,
            from_=options.caller,
            to=f"<{options.target}>",
            body=offer,
            content_type=SDP_TYPE,
            transport=self._transport,
        )
        record = CallRecord(number, request.call_id, options.target, now)
        call = _UacCall(self, record)
        call.offer = offer
        self.calls[request.call_id] = call
        call.invite = self.endpoint.send_request(request, now, destination=options.destination)
        call.timer = self.timers.schedule(call, "setup", options.setup_timeout, now)

    def _response(self, event: ResponseReceived, now: float) -> None:
        call = self.calls.get(event.call_id)
        if call is None:
            return
        response = event.response
        status = response.status
        method = response.cseq.method
        if method == "INVITE":
            if status < 200:
                return
            if status >= 300:
                call.record.status = status
                self._fail(call, now, str(status), response.reason)
                return
            assert event.dialog is not None
            self.endpoint.send_ack(event.dialog, now)
            if call.dialog is not None:
                # A second 2xx from a fork: this UAC keeps one call (RFC 3261 13.2.2.4).
                if event.dialog != call.dialog:
                    self.endpoint.send_in_dialog(event.dialog, "BYE", now)
                return
            call.dialog = event.dialog
            call.record.status = status
            call.record.answered = now
            self.summary.answered += 1
            self._cancel_timer(call)
            try:
                process_answer(
                    SessionDescription.parse(call.offer), SessionDescription.parse(response.body)
                )
            except RemoteProtocolError as exc:
                self.endpoint.send_in_dialog(event.dialog, "BYE", now)
                self._fail(call, now, "bad SDP answer", exc.reason)
                return
            call.timer = self.timers.schedule(call, "hangup", self.options.hold, now)
        elif method == "BYE" and status >= 200:
            if status < 300:
                self._end(call, now, "completed")
            else:
                self._fail(call, now, f"BYE {status}", response.reason)

    def _request(self, event: RequestReceived, now: float) -> None:
        if event.request.method == "BYE":
            self.endpoint.respond(event.transaction, 200, now)
            call = self.calls.get(event.call_id)
            if call is not None:
                self._end(call, now, "completed (BYE from the callee)")
        elif event.request.method == "INVITE" and event.dialog is None:
            self.endpoint.respond(event.transaction, 486, now)
        else:
            self.endpoint.respond(event.transaction, 200, now)

    def call_timer(self, call: _UacCall, name: str, now: float) -> None:
        call.timer = None
        if self.calls.get(call.record.call_id) is not call:
            return
        if name == "hangup" and call.dialog is not None:
            if self.endpoint.dialog(call.dialog) is not None:
                self.endpoint.send_in_dialog(call.dialog, "BYE", now)
        elif (
            name == "setup"
            and call.invite is not None
            and self.endpoint.cancel(call.invite, now) is None
        ):
            self._fail(call, now, "setup timeout", "no final response")

    def _cancel_timer(self, call: _UacCall) -> None:
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None

    def _end(self, call: _UacCall, now: float, outcome: str) -> None:
        self.summary.completed += 1
        self._close(call, now, outcome)

    def _fail(self, call: _UacCall, now: float, key: str, detail: str) -> None:
        """Count a failed call under ``key`` (the status, or what went wrong)."""
        self.summary.failures[key] += 1
        self._close(call, now, f"failed: {key} {detail}".rstrip())

    def _close(self, call: _UacCall, now: float, outcome: str) -> None:
        if self.calls.pop(call.record.call_id, None) is None:
            return
        self._cancel_timer(call)
        call.record.ended = now
        call.record.outcome = outcome
        if self.report is not None:
            self.report(call.record)
