"""GatewayCore: the sans-IO call control of one gateway (flow 1 of REFERENCE_FLOWS.md).

The runtime feeds it line events (``line_event``), lets it drain the SIP endpoint after feeding
that (``poll``), reports media happenings (``media_event``) and fires its timers
(``get_timer`` / ``handle_timer``); the core answers with :data:`GatewayCommand` values from
``next_command`` and drives the :class:`~gateway.sip.endpoint.SipEndpoint` itself (the runtime
still moves the endpoint's datagrams and fires the endpoint's own timers).

Calls are independent: every input reaches exactly one :class:`~gateway.calls.call.Call`, and
an exception while one call handles it is caught, logged as a :class:`Notice`, and that call
alone is cleared with cause 41 (temporary failure) and forgotten -- the core never crashes on
one call's behalf.  Inputs that belong to no call get the answer the protocol wants: an unknown
line call reference is cleared (cause 81), an INVITE from an untrusted address is refused (403,
cause 21: toll-fraud protection), an in-dialog request for a forgotten call gets 481, a late
2xx is acknowledged and ended with BYE.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Final

from gateway.calls import q850
from gateway.calls.call import Call
from gateway.calls.call_state import CallBase
from gateway.calls.causes import cause_name
from gateway.calls.commands import (
    CallSnapshot,
    GatewayCommand,
    MediaEvent,
    Notice,
    RegistrationSnapshot,
    ResolveHost,
)
from gateway.calls.line_leg import LineLeg
from gateway.calls.media_plan import PortPool
from gateway.calls.names import NameCache
from gateway.calls.plan import GatewayPlan, SipCredential
from gateway.calls.registration import RegistrationClient
from gateway.calls.sip_leg import (
    AnswerBye,
    ResendAuthorized,
    Respond,
    RespondTo,
    SendAck,
    SendBye,
    SendCancel,
    SendInfo,
    SendInvite,
    SipAction,
    SipLeg,
    reason_value,
)
from gateway.calls.sip_messages import ALLOW, SDP
from gateway.calls.targets import TrustList
from gateway.errors import LocalProtocolError
from gateway.line import (
    ClearCall,
    LineCleared,
    LineEvent,
    LineInfo,
    LineReleased,
    LineSeized,
    LineStatus,
)
from gateway.sip.auth_client import DigestClient
from gateway.sip.endpoint import SipEndpoint
from gateway.sip.events import (
    AckTimeout,
    ClientTransactionId,
    DialogId,
    EndpointEvent,
    RequestReceived,
    ResponseReceived,
    ServerTransactionId,
)
from gateway.sip.routing import bare_host, is_ip_address
from gateway.trace import TraceEvent, TraceSink, discard

__all__ = ["GatewayCore"]

_CLEARING_SIP_STATES: Final = frozenset({"terminating", "cancelling", "terminated"})


class GatewayCore:
    """The call control core of one gateway; see the module docstring."""

    def __init__(
        self,
        plan: GatewayPlan,
        endpoint: SipEndpoint,
        *,
        rng: random.Random,
        trace: TraceSink = discard,
        node: str = "gw",
    ) -> None:
        self._plan = plan
        self._endpoint = endpoint
        self._rng = rng
        self._trace = trace
        self._node = node
        self._lines: dict[str, LineInfo] = {line.name: line for line in plan.lines}
        self._in_service: dict[str, bool] = {name: True for name in self._lines}
        self._occupancy: dict[str, int] = dict.fromkeys(self._lines, 0)
        self._attached: set[tuple[str, str]] = set()
        self._calls: dict[str, Call] = {}
        self._by_line: dict[tuple[str, str], Call] = {}
        self._by_sip: dict[str, Call] = {}
        self._timers: list[tuple[float, int, str]] = []
        self._sequence = 0
        self._commands: deque[GatewayCommand] = deque()
        self._ports = PortPool(plan.media.port_min, plan.media.port_max)
        # Dialogs of calls we forgot: a late retransmission of their 2xx is no new answer.
        self._names = NameCache(plan.resolver, plan.name_ttl)
        self._trust = TrustList(plan, self._names.lookup)
        self._registration = (
            RegistrationClient(plan, endpoint, rng=rng, notice=self._notice, names=self)
            if plan.registration is not None
            else None
        )

    # ================================================================== runtime interface

    def start(self, now: float) -> None:
        """Begin work that needs no input: the first REGISTERs."""
        if self._registration is not None:
            self._registration.start(now)

    def shutdown(self, now: float) -> None:
        """Clear every call (cause 41) and remove our registrations (Expires: 0)."""
        for call in list(self._calls.values()):
            self._run(call, partial(call.clear_all, q850.TEMPORARY_FAILURE, now), now)
        if self._registration is not None:
            self._registration.stop(now)
        self.poll(now)

    def line_event(self, event: LineEvent, now: float) -> None:
        """An event from a line adapter."""
        if isinstance(event, LineStatus):
            self._line_status(event, now)
        else:
            call = self._by_line.get((event.line, event.ref))
            if call is None:
                self._stray_line_event(event, now)
            elif isinstance(event, LineSeized):
                self._notice(f"line {event.line}: SETUP for ref {event.ref}, already in use")
            else:
                self._run(call, partial(call.line_event, event, now), now)
        self.poll(now)

    def poll(self, now: float) -> None:
        """Handle everything the SIP endpoint has to say (call after feeding it)."""
        endpoint = self._endpoint
        while (event := endpoint.next_event()) is not None:
            self.sip_event(event, now)

    def media_event(self, call: str, event: MediaEvent, now: float) -> None:
        """Something happened in the media of ``call`` (a digit, an RTP timeout, a failure)."""
        found = self._calls.get(call)
        if found is not None:
            self._run(found, partial(found.media_event, event, now), now)
            self.poll(now)

    def host_resolved(self, name: str, address: str | None, now: float) -> None:
        """The runtime's answer to :class:`ResolveHost`: ``name``'s address, None when it has
        none; the calls waiting for it go on (and hunt on when it has none)."""
        usable = self._names.store(name, address, now)
        self._notice(f"{name} resolved to {usable}" if usable else f"{name} does not resolve")
        for call in list(self._calls.values()):
            if call.awaiting_name is not None and call.awaiting_name.lower() == name.lower():
                self._run(call, partial(call.name_resolved, now), now)
        self.poll(now)

    def get_timer(self) -> float | None:
        """The core's next deadline (its own timers only, not the endpoint's)."""
        heap = self._timers
        while heap and heap[0][2] not in self._calls:
            heapq.heappop(heap)
        deadlines = [heap[0][0]] if heap else []
        if self._registration is not None:
            registration = self._registration.get_timer()
            if registration is not None:
                deadlines.append(registration)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        heap = self._timers
        while heap and heap[0][0] <= now:
            deadline, _, key = heapq.heappop(heap)
            call = self._calls.get(key)
            if call is None:
                continue
            if call.scheduled == deadline:
                call.scheduled = None
            due = call.next_deadline()
            if due is None or due > now:
                self._settle(call, now)
            else:
                self._run(call, partial(call.fire_timers, now), now)
        if self._registration is not None:
            self._registration.handle_timer(now)
        self.poll(now)

    def next_command(self) -> GatewayCommand | None:
        commands = self._commands
        return commands.popleft() if commands else None

    def calls(self) -> tuple[CallSnapshot, ...]:
        return tuple(call.snapshot() for call in self._calls.values())

    def registrations(self) -> tuple[RegistrationSnapshot, ...]:
        return () if self._registration is None else self._registration.snapshots()

    @property
    def live_calls(self) -> int:
        return len(self._calls)

    # ================================================================== CallHost

    @property
    def plan(self) -> GatewayPlan:
        return self._plan

    @property
    def endpoint(self) -> SipEndpoint:
        return self._endpoint

    def line_info(self, name: str) -> LineInfo | None:
        return self._lines.get(name)

    def line_available(self, name: str) -> bool:
        info = self._lines.get(name)
        if info is None or not self._in_service.get(name, False):
            return False
        capacity = 1 if info.kind == "station" else info.channels
        return self._occupancy[name] < capacity

    def attach_line(self, call: CallBase, leg: LineLeg) -> None:
        key = (leg.line, leg.ref)
        assert isinstance(call, Call)
        self._by_line[key] = call
        if key not in self._attached and leg.line in self._occupancy:
            self._attached.add(key)
            self._occupancy[leg.line] += 1

    def detach_line(self, leg: LineLeg) -> None:
        key = (leg.line, leg.ref)
        self._by_line.pop(key, None)
        if key in self._attached:
            self._attached.discard(key)
            self._occupancy[leg.line] -= 1

    def attach_sip(self, call: CallBase, leg: SipLeg) -> None:
        assert isinstance(call, Call)
        self._by_sip[leg.sip_call_id] = call

    def new_ref(self) -> str:
        self._sequence += 1
        return f"{self._node}:{self._sequence}"

    def name_pending(self, name: str, now: float) -> bool:
        """True when ``name`` must be looked up before a call can use it (the runtime has been
        asked, now or by an earlier call); False when its answer is known or nobody looks names
        up (``plan.lookup_names`` off: a name the resolver does not know stays unresolved)."""
        names = self._names
        if not self._plan.lookup_names or is_ip_address(name) or names.known(name, now):
            return False
        if names.ask(name):
            self._commands.append(ResolveHost(name))
        return True

    def resolve_name(self, name: str) -> str | None:
        return self._names.lookup(name)

    def allocate_port(self) -> int | None:
        return self._ports.allocate()

    def new_session_id(self) -> int:
        return self._rng.randrange(1, 2**31)

    def local_host(self) -> str:
        advertised = self._endpoint.config.advertised_host
        if advertised:
            return advertised
        for address in self._endpoint.listeners.values():
            return bare_host(address[0])
        return self._plan.media.address

    def digest_client(self, credential: SipCredential) -> DigestClient:
        return DigestClient(
            credential.username,
            credential.password,
            rng=self._rng,
            trace=self._trace,
            node=self._node,
        )

    def note(self, text: str, call_id: str | None, now: float) -> None:
        if self._trace is not discard:
            self._trace(TraceEvent(now, self._node, "sip", "note", text, call_id=call_id))

    def perform(self, leg: SipLeg, now: float) -> None:
        """Carry out the SIP actions a leg's machine queued."""
        actions = list(leg.outbox)
        leg.outbox.clear()
        for action in actions:
            try:
                self._perform(leg, action, now)
            except LocalProtocolError as exc:
                # The endpoint no longer has the transaction or dialog: the peer's side of
                # this leg is gone already.
                self._notice(f"{type(action).__name__} not sent: {exc}", leg.call)
                if leg.accepts("lost"):
                    leg.fire("lost")

    def drop_dialog(self, dialog: DialogId, now: float) -> None:
        """Acknowledge and end a dialog nobody wants (a late or forked 2xx)."""
        try:
            self._endpoint.send_ack(dialog, now)
            self._endpoint.send_in_dialog(
                dialog, "BYE", now, headers=[("Reason", reason_value(q850.TIMER_EXPIRY))]
            )
        except LocalProtocolError as exc:
            self._notice(f"cannot end stray dialog {dialog.call_id}: {exc}")

    # ================================================================== internals

    def _perform(self, leg: SipLeg, action: SipAction, now: float) -> None:
        endpoint = self._endpoint
        if isinstance(action, SendInvite):
            leg.invite = endpoint.send_request(action.request, now, destination=action.destination)
        elif isinstance(action, Respond):
            transaction = leg.invite
            if not isinstance(transaction, ServerTransactionId):
                raise LocalProtocolError("the leg has no INVITE to answer")
            response = endpoint.respond(
                transaction,
                action.status,
                now,
                headers=action.headers,
                body=action.sdp,
                content_type=SDP if action.sdp else None,
            )
            request = leg.request
            to_tag = response.to_tag
            if leg.dialog is None and 100 < action.status < 300 and request and to_tag:
                leg.dialog = DialogId(request.call_id, to_tag, request.from_tag or "")
        elif isinstance(action, RespondTo):
            endpoint.respond(
                action.transaction,
                action.status,
                now,
                headers=action.headers,
                body=action.sdp,
                content_type=SDP if action.sdp else None,
            )
        elif isinstance(action, SendAck):
            if leg.dialog is None:
                raise LocalProtocolError("no dialog to acknowledge")
            endpoint.send_ack(
                leg.dialog, now, body=action.sdp, content_type=SDP if action.sdp else None
            )
        elif isinstance(action, SendCancel):
            if isinstance(leg.invite, ClientTransactionId):
                endpoint.cancel(leg.invite, now, reason=action.reason)
        elif isinstance(action, SendBye):
            if leg.dialog is None:
                raise LocalProtocolError("no dialog to end")
            leg.bye_out = endpoint.send_in_dialog(
                leg.dialog, "BYE", now, headers=[("Reason", action.reason)]
            )
        elif isinstance(action, AnswerBye) and leg.bye is not None:
            endpoint.respond(leg.bye, 200, now)
        elif isinstance(action, ResendAuthorized):
            resent = endpoint.resend_with_credentials(action.transaction, action.credentials, now)
            leg.auth_sent[resent] = action.credentials
            if leg.invite == action.transaction:
                leg.invite = resent
            elif leg.bye_out == action.transaction:
                leg.bye_out = resent
            elif leg.info_out == action.transaction:
                leg.info_out = resent
        elif isinstance(action, SendInfo):
            if leg.dialog is None:
                raise LocalProtocolError("no dialog for INFO")
            leg.info_out = endpoint.send_in_dialog(
                leg.dialog, "INFO", now, body=action.body, content_type=action.content_type
            )

    def _run(self, call: Call, handler: Callable[[], None], now: float) -> None:
        """Let one call handle one input; its failure stays its own (cleared with cause 41)."""
        try:
            handler()
        except Exception as exc:
            self._abort(call, exc, now)
        self._settle(call, now)

    def _settle(self, call: Call, now: float) -> None:
        if call.out:
            self._commands.extend(call.out)
            call.out.clear()
        if self._calls.get(call.key) is not call:
            return
        if call.finished:
            self._forget(call, now)
            return
        deadline = call.next_deadline()
        if deadline is not None and deadline != call.scheduled:
            self._sequence += 1
            heapq.heappush(self._timers, (deadline, self._sequence, call.key))
        call.scheduled = deadline

    def _forget(self, call: Call, now: float) -> None:
        del self._calls[call.key]
        call.stop_media()
        self._commands.extend(call.out)
        call.out.clear()
        for leg in call.line_legs.values():
            self.detach_line(leg)
        for call_id in call.sip_legs:
            if self._by_sip.get(call_id) is call:
                del self._by_sip[call_id]
        if call.port is not None:
            self._ports.release(call.port)
        cause = call.cause
        ending = "normal" if cause is None else f"cause {cause} ({cause_name(cause)})"
        self._notice(f"call {call.key} ended: {ending}", call.key)
        self.note(f"call {call.key} ended: {ending}", None, now)

    def _abort(self, call: Call, error: Exception, now: float) -> None:
        self._notice(
            f"call {call.key}: internal error ({type(error).__name__}: {error}); "
            f"clearing it with cause {q850.TEMPORARY_FAILURE}",
            call.key,
        )
        try:
            call.clear_all(q850.TEMPORARY_FAILURE, now)
        except Exception as again:
            self._notice(f"call {call.key}: clearing failed too ({again!r})", call.key)
        self._commands.extend(call.out)
        call.out.clear()
        # Whatever the machines could not clear is cleared by hand, then the call is forgotten.
        for leg in call.line_legs.values():
            if not leg.clearing:
                self._commands.append(ClearCall(leg.line, leg.ref, q850.TEMPORARY_FAILURE))
        for sip in call.sip_legs.values():
            if sip.state not in _CLEARING_SIP_STATES:
                self._force_clear(sip, now)
        if self._calls.get(call.key) is call:
            self._forget(call, now)

    def _force_clear(self, leg: SipLeg, now: float) -> None:
        endpoint = self._endpoint
        reason = [("Reason", reason_value(q850.TEMPORARY_FAILURE))]
        try:
            if isinstance(leg.invite, ServerTransactionId) and leg.pending:
                endpoint.respond(leg.invite, 503, now, headers=reason)
            elif isinstance(leg.invite, ClientTransactionId) and leg.pending:
                endpoint.cancel(leg.invite, now, reason=reason[0][1])
            elif leg.state == "closing" and leg.bye is not None:
                endpoint.respond(leg.bye, 200, now)
            elif leg.dialog is not None and leg.state in ("answered", "confirmed", "accepted"):
                if leg.state == "answered":
                    endpoint.send_ack(leg.dialog, now)
                endpoint.send_in_dialog(leg.dialog, "BYE", now, headers=reason)
        except Exception as exc:  # the endpoint refused: nothing more can be done for it
            self._notice(f"SIP leg {leg.sip_call_id} left as it was: {exc}", leg.call)

    def _notice(self, text: str, call: str | None = None) -> None:
        self._commands.append(Notice(text, call))

    def _next_key(self) -> str:
        self._sequence += 1
        return f"{self._node}/{self._sequence}"

    # -- inputs that belong to no call -----------------------------------------------------

    def _stray_line_event(self, event: LineEvent, now: float) -> None:
        assert not isinstance(event, LineStatus)
        if isinstance(event, LineSeized):
            self._new_line_call(event, now)
        elif isinstance(event, LineCleared):
            # Complete the line's clearing of a call we no longer know.
            self._commands.append(ClearCall(event.line, event.ref, event.cause))
        elif not isinstance(event, LineReleased):
            self._notice(
                f"line {event.line}: {type(event).__name__} for unknown call ref {event.ref}"
            )
            self._commands.append(ClearCall(event.line, event.ref, q850.INVALID_CALL_REFERENCE))

    def _new_line_call(self, seized: LineSeized, now: float) -> None:
        info = self._lines.get(seized.line)
        if info is None:
            self._notice(f"SETUP on unknown line {seized.line!r} refused")
            self._commands.append(ClearCall(seized.line, seized.ref, q850.RESOURCE_UNAVAILABLE))
            return
        self._in_service[info.name] = True
        if not self.line_available(info.name):
            self._notice(f"line {info.name}: no free channel for ref {seized.ref}")
            self._commands.append(ClearCall(seized.line, seized.ref, q850.NO_CIRCUIT))
            return
        call = Call(self._next_key(), self, "line-to-sip", now)
        self._calls[call.key] = call
        self._run(call, partial(call.start_from_line, seized, info, now), now)

    def _line_status(self, event: LineStatus, now: float) -> None:
        if event.line not in self._lines:
            return
        self._in_service[event.line] = event.in_service
        state = "in service" if event.in_service else "out of service"
        self._notice(f"line {event.line} {state}" + (f": {event.reason}" if event.reason else ""))
        if event.in_service:
            return
        for call in list(self._calls.values()):
            if any(leg.line == event.line and not leg.done for leg in call.line_legs.values()):
                self._run(call, partial(call.line_lost, event.line, now), now)

    def sip_event(self, event: EndpointEvent, now: float) -> None:
        """One endpoint event, for a runtime that drains the endpoint itself (else ``poll``)."""
        registration = self._registration
        call_id = event.call_id
        if registration is not None and registration.owns(call_id):
            try:
                registration.handle(event, now)
            except Exception as exc:
                self._notice(f"registration: internal error ({exc!r})")
            return
        call = self._by_sip.get(call_id)
        if call is not None:
            self._run(call, partial(call.sip_event, event, now), now)
            return
        try:
            self._stray_sip_event(event, now)
        except LocalProtocolError as exc:
            self._notice(f"{type(event).__name__} for no call not answered: {exc}")

    def _stray_sip_event(self, event: EndpointEvent, now: float) -> None:
        endpoint = self._endpoint
        if isinstance(event, RequestReceived):
            method = event.request.method
            if event.dialog is None and method == "INVITE":
                self._new_invite(event, now)
            elif event.dialog is None and method == "OPTIONS":
                endpoint.respond(
                    event.transaction,
                    200,
                    now,
                    headers=[("Allow", ALLOW), ("Accept", SDP)],
                )
            elif event.dialog is None and method not in ("BYE", "INFO", "UPDATE"):
                endpoint.respond(event.transaction, 405, now, headers=[("Allow", ALLOW)])
            else:
                endpoint.respond(event.transaction, 481, now)
        elif isinstance(event, ResponseReceived):
            response = event.response
            dialog = event.dialog
            if event.transaction.method == "INVITE" and 200 <= response.status < 300 and dialog:
                self.drop_dialog(dialog, now)  # a late or forked answer: ACK and BYE
        elif isinstance(event, AckTimeout):
            endpoint.send_in_dialog(
                event.dialog, "BYE", now, headers=[("Reason", reason_value(q850.TIMER_EXPIRY))]
            )

    def _new_invite(self, event: RequestReceived, now: float) -> None:
        source = event.source[0]
        if not self._trust.allows(source):
            # Toll-fraud protection: refuse, log, and do nothing else.
            self._endpoint.respond(
                event.transaction, 403, now, headers=[("Reason", reason_value(q850.CALL_REJECTED))]
            )
            text = (
                f"toll-fraud protection: INVITE from untrusted {source} "
                f"for {event.request.uri_text} refused (403, cause {q850.CALL_REJECTED})"
            )
            self._notice(text)
            self.note(text, event.call_id, now)
            return
        call = Call(self._next_key(), self, "sip-to-line", now)
        self._calls[call.key] = call
        self._run(call, partial(call.start_from_invite, event, now), now)
