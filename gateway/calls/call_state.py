"""What every gateway call has: its legs, numbers, media, timers, clearing and its snapshot.

A call joins one line leg and one SIP leg (flow 1).  Hunting to the next dial-peer and call
forwarding replace the *outgoing* leg; the replaced leg is *retired*: it keeps clearing on its
own (CANCEL/487, RELEASE) until done, and the call ends when every leg it ever had is done.

The two directions live in :mod:`gateway.calls.call_from_line` (line -> SIP, the originating
gateway) and :mod:`gateway.calls.call_from_sip` (SIP -> line, the terminating gateway);
:mod:`gateway.calls.call` joins them.  The core (:class:`CallHost`) performs SIP actions,
indexes legs, owns ports and line occupancy.
"""

from __future__ import annotations

from typing import Literal, Protocol

from gateway.calls import q850
from gateway.calls.authentication import challenge_values, challenged_realms, credential_for
from gateway.calls.commands import (
    CallSnapshot,
    DtmfMode,
    GatewayCommand,
    LegSnapshot,
    Notice,
    PlayToLine,
    SetVoicePath,
    StartMedia,
    StopMedia,
)
from gateway.calls.dialpeer import DialPeer, LegKind, PotsDialPeer, Route, VoipDialPeer
from gateway.calls.digits import DigitCollector
from gateway.calls.line_leg import LineLeg
from gateway.calls.plan import GatewayPlan, SipCredential
from gateway.calls.sip_leg import SipLeg, reason_value
from gateway.calls.translation import CallNumbers, PartyNumber
from gateway.line import LineInfo, OfferCall
from gateway.sdp.offer_answer import NegotiatedStream
from gateway.sip.auth_client import DigestClient
from gateway.sip.endpoint import SipEndpoint
from gateway.sip.events import DialogId, ResponseReceived

__all__ = ["CallBase", "CallHost", "Direction"]

Direction = Literal["line-to-sip", "sip-to-line"]
# Timers that belong to the call as a whole; per-leg ones are "release:<ref>".
_SETUP_TIMERS = ("digits", "ring", "expiry", "connect", "lockout", "lookup")


class CallHost(Protocol):
    """What a call needs from the core (:class:`gateway.calls.core.GatewayCore`)."""

    @property
    def plan(self) -> GatewayPlan: ...

    @property
    def endpoint(self) -> SipEndpoint: ...

    def line_info(self, name: str) -> LineInfo | None: ...

    def line_available(self, name: str) -> bool: ...

    def attach_line(self, call: CallBase, leg: LineLeg) -> None: ...

    def detach_line(self, leg: LineLeg) -> None: ...

    def attach_sip(self, call: CallBase, leg: SipLeg) -> None: ...

    def perform(self, leg: SipLeg, now: float) -> None: ...

    def drop_dialog(self, dialog: DialogId, now: float) -> None: ...

    def digest_client(self, credential: SipCredential) -> DigestClient: ...

    def name_pending(self, name: str, now: float) -> bool: ...

    def resolve_name(self, name: str) -> str | None: ...

    def new_ref(self) -> str: ...

    def allocate_port(self) -> int | None: ...

    def new_session_id(self) -> int: ...

    def local_host(self) -> str: ...

    def note(self, text: str, call_id: str | None, now: float) -> None: ...


class CallBase:
    """State and shared behaviour of one call (see the module docstring)."""

    __slots__ = (
        "alerted",
        "answered",
        "attempts",
        "awaiting_name",
        "calling_name",
        "cause",
        "collector",
        "deadlines",
        "direction",
        "dtmf",
        "early_media",
        "far_line",
        "forwards",
        "host",
        "hunt",
        "inbound_peer",
        "key",
        "last_cause",
        "line",
        "line_legs",
        "media",
        "media_used",
        "numbers",
        "out",
        "port",
        "presentation",
        "ringing_sent",
        "route_index",
        "scheduled",
        "sip",
        "sip_legs",
        "started",
        "stream",
        "voice",
        "voip_peer",
    )

    def __init__(self, key: str, host: CallHost, direction: Direction, now: float) -> None:
        self.key = key
        self.host = host
        self.direction: Direction = direction
        self.started = now
        self.alerted: float | None = None
        self.answered: float | None = None
        self.cause: int | None = None
        self.last_cause: int | None = None
        self.numbers = CallNumbers(PartyNumber(""))
        self.calling_name: str | None = None
        self.presentation = True
        self.inbound_peer: DialPeer | None = None
        self.voip_peer: VoipDialPeer | None = None
        self.line: LineLeg | None = None
        self.far_line: LineLeg | None = None  # the line a hairpin call was offered on
        self.sip: SipLeg | None = None
        self.line_legs: dict[str, LineLeg] = {}
        self.sip_legs: dict[str, SipLeg] = {}
        self.hunt: tuple[Route, ...] = ()
        self.route_index = 0
        self.attempts = 0
        self.awaiting_name: str | None = None
        self.forwards = 0
        self.collector: DigitCollector | None = None
        self.deadlines: dict[str, float] = {}
        self.scheduled: float | None = None
        self.port: int | None = None
        self.stream: NegotiatedStream | None = None
        self.dtmf: DtmfMode | None = None
        self.media = False
        self.media_used = False
        self.voice = (False, False)
        self.early_media = False
        self.ringing_sent = False
        self.out: list[GatewayCommand] = []

    # -- numbers ---------------------------------------------------------------------------

    @property
    def called(self) -> str:
        return self.numbers.called.digits

    @property
    def calling(self) -> str:
        return self.numbers.calling.digits

    # -- legs ------------------------------------------------------------------------------

    def fire_line(self, leg: LineLeg, trigger: str, **data: object) -> bool:
        fired = leg.fire(trigger, **data)
        if leg.outbox:
            for command in leg.outbox:
                if isinstance(command, PlayToLine) and command.tone is not None:
                    self.media_used = True
            self.out.extend(leg.outbox)
            leg.outbox.clear()
        if fired and trigger == "released":
            self.deadlines.pop(f"release:{leg.ref}", None)
            self.host.detach_line(leg)
        return fired

    def fire_sip(self, leg: SipLeg, trigger: str, now: float, **data: object) -> bool:
        fired = leg.fire(trigger, **data)
        if leg.outbox:
            self.host.perform(leg, now)
        return fired

    def add_line_leg(self, leg: LineLeg) -> None:
        self.line = leg
        self.line_legs[leg.ref] = leg
        self.host.attach_line(self, leg)

    def forward_routes(self, condition: str, kinds: tuple[LegKind, ...]) -> bool:
        """IOS call-forward on ``condition`` (busy / no-answer): when a rule and the forward
        limit allow, renumber the call to the forward target (the old called number becomes
        the redirecting one) and hunt afresh over the peers of ``kinds``; False otherwise."""
        plan = self.host.plan
        rule = plan.forwarding_for(self.called)
        target = None
        if rule is not None:
            target = rule.on_busy if condition == "busy" else rule.on_no_answer
        if target is None or self.forwards >= plan.forward_limit:
            return False
        self.forwards += 1
        self.notice(f"forwarding {self.called} on {condition} to {target}")
        self.numbers = CallNumbers(
            PartyNumber(target), self.numbers.calling, redirect_called=self.numbers.called
        )
        self.hunt = plan.dial_plan.outbound(self.numbers, kinds=kinds).routes
        self.route_index = 0
        return True

    def free_line_of(self, peer: PotsDialPeer) -> LineInfo | None:
        """The line of pots ``peer`` when it can take a call; None (``last_cause`` set) else."""
        host = self.host
        info = None if peer.port is None else host.line_info(peer.port)
        if info is None:
            self.notice(f"dial-peer {peer.tag}: port {peer.port!r} is not a line here")
            self.last_cause = q850.NO_ROUTE
            return None
        if not host.line_available(info.name):
            self.last_cause = q850.USER_BUSY if info.kind == "station" else q850.NO_CIRCUIT
            return None
        return info

    def offer_on_line(self, leg: LineLeg, route: Route, peer: PotsDialPeer,
                      how: str = "") -> None:
        """Offer the call on ``leg`` (a new outgoing line leg) with ``route``'s numbers."""
        self.attempts += 1
        called = route.called_digits
        self.notice(
            f"{self.calling or 'anonymous'} -> {called} on line {leg.line} "
            f"(dial-peer {peer.tag}{how})"
        )
        command = OfferCall(
            leg.line,
            leg.ref,
            called,
            route.numbers.calling.digits or None,
            self.calling_name,
            self.presentation,
            None,
        )
        self.fire_line(leg, "offer", command=command)

    def add_sip_leg(self, leg: SipLeg) -> None:
        self.sip = leg
        self.sip_legs[leg.sip_call_id] = leg
        self.host.attach_sip(self, leg)

    @property
    def finished(self) -> bool:
        return all(leg.done for leg in self.line_legs.values()) and all(
            leg.done for leg in self.sip_legs.values()
        )

    def notice(self, text: str) -> None:
        self.out.append(Notice(f"call {self.key}: {text}", self.key))

    # -- timers ----------------------------------------------------------------------------

    def set_timer(self, name: str, deadline: float) -> None:
        self.deadlines[name] = deadline

    def cancel_timer(self, *names: str) -> None:
        for name in names:
            self.deadlines.pop(name, None)

    def next_deadline(self) -> float | None:
        return min(self.deadlines.values()) if self.deadlines else None

    def due_timers(self, now: float) -> list[str]:
        """Remove and return the timers due at ``now``, earliest first."""
        due = sorted(
            (deadline, name) for name, deadline in self.deadlines.items() if deadline <= now
        )
        for _, name in due:
            del self.deadlines[name]
        return [name for _, name in due]

    # -- media -----------------------------------------------------------------------------

    def media_port(self) -> int | None:
        if self.port is None:
            self.port = self.host.allocate_port()
        return self.port

    def start_media(self, to_line: bool, to_rtp: bool) -> None:
        """Open the voice path (creating the bridge the first time)."""
        line, stream, port = self.line, self.stream, self.port
        if line is None or stream is None or port is None:
            return
        media = self.host.plan.media
        if not self.media:
            self.media = self.media_used = True
            self.voice = (to_line, to_rtp)
            self.out.append(
                StartMedia(
                    self.key,
                    line.line,
                    line.ref,
                    port,
                    stream,
                    self.dtmf or "inband",
                    media.digits_to_line,
                    to_line,
                    to_rtp,
                    line.codec or media.line_codec,
                    media.address,
                )
            )
        elif self.voice != (to_line, to_rtp):
            self.voice = (to_line, to_rtp)
            self.out.append(SetVoicePath(self.key, to_line, to_rtp))

    def stop_media(self) -> None:
        if self.media_used:
            self.out.append(StopMedia(self.key))
        self.media = self.media_used = False
        self.voice = (False, False)

    # -- clearing --------------------------------------------------------------------------

    def clear_line(self, leg: LineLeg | None, cause: int, now: float) -> None:
        """We clear the line call (DISCONNECT; RELEASE when the line started clearing)."""
        if leg is None or leg.clearing:
            return
        if leg.state == "idle":
            self.fire_line(leg, "released")
            return
        if self.fire_line(leg, "clear", cause=cause):
            self.set_timer(f"release:{leg.ref}", now + self.host.plan.timers.release)

    def hangup_line(self, leg: LineLeg, cause: int, now: float) -> None:
        """The line cleared first: complete its clearing (RELEASE)."""
        if self.fire_line(leg, "hangup", cause=cause):
            self.set_timer(f"release:{leg.ref}", now + self.host.plan.timers.release)

    def line_released(self, leg: LineLeg, now: float) -> None:
        """The line call is gone; a BYE we hold is answered now (flow 1: 200 OK after
        RELEASE)."""
        self.fire_line(leg, "released")
        sip = self.sip
        if leg is self.line and sip is not None and sip.state == "closing":
            self.cancel_timer("bye_answer")
            self.fire_sip(sip, "close", now)

    def answer_challenge(self, leg: SipLeg, event: ResponseReceived, now: float) -> bool:
        """A 401/407 to a request of ``leg``: send it again with credentials (RFC 3261 s22.2).

        False when it is not answered: no credentials for the realm, nothing we can answer, or
        a second challenge to credentials already sent (a wrong password -- never a loop).
        """
        response = event.response
        refused = self.host.endpoint.client_transaction(event.transaction)
        if refused is None or not leg.accepts(
            "invite_challenged" if event.transaction.method == "INVITE" else "request_challenged"
        ):
            return False
        request = refused.request
        values = challenge_values(response)
        digest = leg.digest
        if digest is None:
            realms = challenged_realms(values)
            # Registration credentials name no user: ours is the number we act for.
            user = self.calling if leg.role == "uac" else self.called
            credential = credential_for(self.host.plan, realms, user)
            if credential is None:
                self.notice(
                    f"{request.method} challenged ({response.status}, realm "
                    f"{', '.join(map(repr, realms)) or 'none'}): no credentials for it"
                )
                return False
            digest = leg.digest = self.host.digest_client(credential)
        outcome = digest.on_challenge(
            response.status, values, now, sent=leg.auth_sent.get(event.transaction, ())
        )
        if not outcome.retry:
            self.notice(f"{request.method} refused with {response.status}: {outcome.reason}")
            return False
        credentials = tuple(
            digest.authorization_headers(request.method, request.uri_text, request.body)
        )
        trigger = "invite_challenged" if request.method == "INVITE" else "request_challenged"
        fired = self.fire_sip(
            leg, trigger, now, transaction=event.transaction, credentials=credentials
        )
        return fired and not leg.done  # done: the endpoint could not send it (leg lost)

    def clear_sip(self, leg: SipLeg | None, cause: int, now: float) -> None:
        """End the SIP leg with ``cause`` in whatever way its state needs (RFC 3326 Reason on
        CANCEL, BYE and failure responses)."""
        if leg is None or leg.done:
            return
        if leg.accepts("cancel"):
            self.fire_sip(leg, "cancel", now, cause=cause)
        elif leg.accepts("reject"):
            self.reject(leg, cause, now)
        elif leg.accepts("hangup"):
            self.fire_sip(leg, "hangup", now, cause=cause)

    def reject(
        self,
        leg: SipLeg,
        cause: int,
        now: float,
        *,
        status: int | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Answer the leg's INVITE with the status the cause map gives for ``cause``."""
        chosen = status or self.host.plan.cause_map.status_for_cause(cause)
        self.cause = cause
        self.host.note(f"rejecting with {chosen} (cause {cause})", leg.sip_call_id, now)
        self.fire_sip(
            leg,
            "reject",
            now,
            status=chosen,
            headers=(("Reason", reason_value(cause)), *headers),
        )

    def clear_all(self, cause: int, now: float) -> None:
        """Clear every leg with ``cause`` (failures, timeouts, internal errors)."""
        if self.cause is None:
            self.cause = cause
        self.collector = None
        self.cancel_timer(*_SETUP_TIMERS)
        self.stop_media()
        for line in list(self.line_legs.values()):
            self.clear_line(line, cause, now)
        for sip in list(self.sip_legs.values()):
            self.clear_sip(sip, cause, now)

    def line_lost(self, line: str, now: float) -> None:
        """The adapter of ``line`` went out of service: its calls are gone (cause 38)."""
        for leg in list(self.line_legs.values()):
            if leg.line == line and not leg.done:
                self.fire_line(leg, "released")
        self.clear_all(q850.NETWORK_OUT_OF_ORDER, now)

    # -- snapshot --------------------------------------------------------------------------

    @property
    def phase(self) -> str:
        line, sip = self.line, self.sip
        if line is not None and line.state == "failed":
            return "failed"
        if (line is not None and line.clearing) or (
            sip is not None and sip.state in ("terminating", "closing", "cancelling", "terminated")
        ):
            return "clearing"
        if self.answered is not None:
            return "active"
        if self.alerted is not None:
            return "alerting"
        return "setup"

    def snapshot(self) -> CallSnapshot:
        legs: list[LegSnapshot] = []
        incoming_kind = "line" if self.direction == "line-to-sip" else "sip"
        codec = self._codec()
        for line in self.line_legs.values():
            if line is self.line or not line.done:
                legs.append(
                    LegSnapshot(
                        "line",
                        "incoming" if incoming_kind == "line" else "outgoing",
                        line.state,
                        line.line,
                        line.ref,
                        line.dial_peer,
                        line.codec or self.host.plan.media.line_codec,
                    )
                )
        for sip in self.sip_legs.values():
            if sip is self.sip or not sip.done:
                host, port = sip.remote
                shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                legs.append(
                    LegSnapshot(
                        "sip",
                        "incoming" if incoming_kind == "sip" else "outgoing",
                        sip.state,
                        shown,
                        sip.sip_call_id,
                        sip.dial_peer,
                        codec,
                    )
                )
        stream = self.stream
        media = self.host.plan.media
        return CallSnapshot(
            call=self.key,
            direction=self.direction,
            phase=self.phase,
            calling=self.calling,
            called=self.called,
            legs=tuple(legs),
            started=self.started,
            alerted=self.alerted,
            answered=self.answered,
            cause=self.cause,
            codec=codec,
            local_rtp=None if self.port is None else (media.address, self.port),
            remote_rtp=None if stream is None else stream.remote_rtp,
            dtmf=self.dtmf,
            attempts=self.attempts,
        )

    def _codec(self) -> str | None:
        stream = self.stream
        if stream is None or stream.send_format is None:
            return None
        return stream.send_format.encoding_name
