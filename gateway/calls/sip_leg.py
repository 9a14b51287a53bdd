"""The SIP leg: one INVITE dialog, as UAC (flow 1 at GW-A) or UAS (flow 1 at GW-B).

Its machine is a table (``SIP_STATES`` / ``SIP_TRANSITIONS``).  Callbacks only append
:data:`SipAction` values to the leg's ``outbox``; the core performs them on the
:class:`~gateway.sip.endpoint.SipEndpoint` right after the event (see
:func:`gateway.calls.core.GatewayCore`), so a machine never touches the network.

UAC path: ``invite`` -> ``trying`` (100) -> ``early`` (18x) -> ``answered`` (200; no ACK yet:
flow 1 acknowledges only after the line's CONNECT ACKNOWLEDGE) -> ``ack`` -> confirmed.
``cancel`` while unanswered; ``rejected`` on a final failure or a transaction timeout.

UAS path: ``invited`` (100 at once) -> ``ring`` (180) / ``progress`` (183 with SDP) ->
``answer`` (200 with SDP) -> ``acked`` (the ACK) -> confirmed; ``reject`` answers a failure,
``cancelled`` follows a CANCEL (the endpoint already answered 200 and 487).

Both: ``hangup`` sends BYE (after the ACK: a UAC in ``answered`` acknowledges first, a UAS in
``accepted`` waits for the ACK, RFC 3261 s15), ``bye_received`` holds the peer's BYE until the
line released (flow 1: 200 OK after RELEASE), ``close`` answers it, ``bye_done`` ends our BYE,
``lost`` forgets a dialog the network already ended.

Digest challenges (RFC 3261 s22.2): ``invite_challenged`` sends our INVITE again with
credentials (back to ``calling``: a new transaction), ``request_challenged`` does the same for
a BYE or INFO inside the dialog; the call decides whether a challenge is answered at all
(:mod:`gateway.calls.authentication`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

from transitions import EventData

from gateway.calls import q850
from gateway.calls.causes import Reason
from gateway.calls.machine import LegMachine
from gateway.sdp.description import SessionDescription
from gateway.sdp.offer_answer import NegotiatedStream
from gateway.sip.auth_client import DigestClient
from gateway.sip.events import ClientTransactionId, DialogId, ServerTransactionId
from gateway.sip.message import Request
from gateway.sip.routing import Hop
from gateway.trace import Address

__all__ = [
    "SIP_MACHINE",
    "SIP_STATES",
    "SIP_TRANSITIONS",
    "AnswerBye",
    "ResendAuthorized",
    "Respond",
    "RespondTo",
    "SendAck",
    "SendBye",
    "SendCancel",
    "SendInfo",
    "SendInvite",
    "SipAction",
    "SipLeg",
    "reason_value",
]

SIP_STATES: Final = (
    "idle",
    # UAC
    "calling",
    "proceeding",
    "early",
    "answered",
    "cancelling",
    # UAS
    "invited",
    "ringing",
    "accepted",
    # both
    "confirmed",
    "closing",
    "terminating",
    "terminated",
)
_UAC_PENDING: Final = ("calling", "proceeding", "early")
_UAS_PENDING: Final = ("invited", "ringing")

SIP_TRANSITIONS: Final = (
    # UAC
    {"trigger": "invite", "source": "idle", "dest": "calling", "after": "_send_invite"},
    {"trigger": "trying", "source": "calling", "dest": "proceeding"},
    {"trigger": "early", "source": list(_UAC_PENDING), "dest": "early"},
    {"trigger": "answered", "source": list(_UAC_PENDING), "dest": "answered"},
    # A 200 that crossed our CANCEL: acknowledge it and end the session (RFC 3261 s9.1).
    {
        "trigger": "answered",
        "source": "cancelling",
        "dest": "terminating",
        "after": ["_send_ack", "_send_bye"],
    },
    {"trigger": "ack", "source": "answered", "dest": "confirmed", "after": "_send_ack"},
    {
        "trigger": "cancel",
        "source": list(_UAC_PENDING),
        "dest": "cancelling",
        "after": "_send_cancel",
    },
    {"trigger": "rejected", "source": [*_UAC_PENDING, "cancelling"], "dest": "terminated"},
    {
        "trigger": "invite_challenged",
        "source": list(_UAC_PENDING),
        "dest": "calling",
        "after": "_resend_authorized",
    },
    {"trigger": "send_info", "source": "confirmed", "dest": None, "after": "_send_info"},
    {
        "trigger": "request_challenged",
        "source": ["confirmed", "terminating"],
        "dest": None,
        "after": "_resend_authorized",
    },
    # UAS
    {"trigger": "invited", "source": "idle", "dest": "invited", "after": "_send_trying"},
    {"trigger": "ring", "source": list(_UAS_PENDING), "dest": "ringing", "after": "_respond"},
    {"trigger": "progress", "source": list(_UAS_PENDING), "dest": "ringing", "after": "_respond"},
    {"trigger": "answer", "source": list(_UAS_PENDING), "dest": "accepted", "after": "_respond"},
    {
        "trigger": "acked",
        "source": "accepted",
        "dest": "terminating",
        "conditions": "bye_wanted",
        "after": "_send_bye",
    },
    {"trigger": "acked", "source": "accepted", "dest": "confirmed"},
    # No ACK for our 2xx within 64*T1: end the session (RFC 3261 s13.3.1.4).
    {"trigger": "ack_timeout", "source": "accepted", "dest": "terminating", "after": "_send_bye"},
    {"trigger": "reject", "source": list(_UAS_PENDING), "dest": "terminated", "after": "_respond"},
    {"trigger": "cancelled", "source": list(_UAS_PENDING), "dest": "terminated"},
    # both
    {"trigger": "hangup", "source": "confirmed", "dest": "terminating", "after": "_send_bye"},
    {
        "trigger": "hangup",
        "source": "answered",
        "dest": "terminating",
        "after": ["_send_ack", "_send_bye"],
    },
    {"trigger": "hangup", "source": "accepted", "dest": None, "after": "_want_bye"},
    {
        "trigger": "bye_received",
        "source": ["confirmed", "accepted", "answered", *_UAS_PENDING],
        "dest": "closing",
    },
    {"trigger": "close", "source": "closing", "dest": "terminated", "after": "_answer_bye"},
    {"trigger": "bye_done", "source": "terminating", "dest": "terminated"},
    {
        "trigger": "lost",
        "source": [s for s in SIP_STATES if s != "terminated"],
        "dest": "terminated",
    },
)


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class SendInvite:
    request: Request
    destination: Hop


@dataclass(frozen=True, slots=True)
class Respond:
    """Answer the leg's INVITE (UAS) with ``status``; ``sdp`` goes in the body when set."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    sdp: bytes = b""


@dataclass(frozen=True, slots=True)
class RespondTo:
    """Answer another request of the leg's dialog (BYE, INFO, OPTIONS, a re-INVITE)."""

    transaction: ServerTransactionId
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    sdp: bytes = b""


@dataclass(frozen=True, slots=True)
class SendAck:
    sdp: bytes = b""


@dataclass(frozen=True, slots=True)
class SendCancel:
    reason: str


@dataclass(frozen=True, slots=True)
class SendBye:
    reason: str


@dataclass(frozen=True, slots=True)
class AnswerBye:
    """200 OK to the BYE the leg holds (flow 1: once the line released)."""


@dataclass(frozen=True, slots=True)
class SendInfo:
    """An INFO inside the dialog carrying ``body`` of type ``content_type``."""

    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class ResendAuthorized:
    """Send the request ``transaction`` carried again, with digest ``credentials``."""

    transaction: ClientTransactionId
    credentials: tuple[tuple[str, str], ...]


SipAction = (
    SendInvite
    | Respond
    | RespondTo
    | SendAck
    | SendCancel
    | SendBye
    | AnswerBye
    | SendInfo
    | ResendAuthorized
)


def reason_value(cause: int) -> str:
    """The RFC 3326 Reason header value for a Q.850 cause."""
    return str(Reason.q850(cause))


class SipLeg:
    """One INVITE dialog of call ``call``; see the module docstring.

    ``sip_call_id`` is the SIP Call-ID; ``invite`` the INVITE transaction (client for a UAC,
    server for a UAS); ``dialog`` the dialog once a response created one; ``bye`` the server
    transaction of a BYE we hold.  ``local_sdp`` / ``remote_sdp`` are the last descriptions each
    side sent, ``offer`` our pending offer, ``stream`` the negotiated audio stream.
    ``info_out`` is our INFO awaiting its answer, ``info_queue`` the DTMF digits (and their
    durations) waiting for it (Cisco sends one INFO at a time).
    ``digest`` answers the challenges of this leg's requests (created at the first one);
    ``auth_sent`` keeps the credentials each re-sent request carried (a second challenge to
    them is a refusal).
    """

    __slots__ = (
        "ack_sdp",
        "auth_sent",
        "bye",
        "bye_out",
        "bye_wanted",
        "call",
        "cause",
        "dial_peer",
        "dialog",
        "digest",
        "info_out",
        "info_queue",
        "invite",
        "local_port",
        "local_sdp",
        "offer",
        "outbox",
        "remote",
        "remote_sdp",
        "request",
        "role",
        "sip_call_id",
        "state",
        "status",
        "stream",
    )

    def __init__(
        self,
        call: str,
        role: Literal["uac", "uas"],
        sip_call_id: str,
        remote: Address,
        dial_peer: int | None,
    ) -> None:
        self.state = SIP_MACHINE.initial
        self.call = call
        self.role = role
        self.sip_call_id = sip_call_id
        self.remote = remote
        self.dial_peer = dial_peer
        self.invite: ClientTransactionId | ServerTransactionId | None = None
        self.dialog: DialogId | None = None
        self.bye: ServerTransactionId | None = None
        self.bye_out: ClientTransactionId | None = None
        self.request: Request | None = None
        self.local_sdp: SessionDescription | None = None
        self.remote_sdp: SessionDescription | None = None
        self.offer: SessionDescription | None = None
        self.stream: NegotiatedStream | None = None
        self.local_port: int | None = None
        self.ack_sdp = b""
        self.bye_wanted = False
        self.cause: int | None = None
        self.status: int | None = None
        self.outbox: list[SipAction] = []
        self.digest: DigestClient | None = None
        self.info_out: ClientTransactionId | None = None
        self.info_queue: deque[tuple[str, int]] = deque()
        self.auth_sent: dict[ClientTransactionId, tuple[tuple[str, str], ...]] = {}

    @property
    def done(self) -> bool:
        return self.state == "terminated"

    @property
    def pending(self) -> bool:
        """No final answer yet (either role)."""
        return self.state in _UAC_PENDING or self.state in _UAS_PENDING or self.state == "idle"

    def fire(self, trigger: str, **data: object) -> bool:
        return SIP_MACHINE.fire(self, trigger, **data)

    def accepts(self, trigger: str) -> bool:
        return SIP_MACHINE.accepts(self, trigger)

    # -- callbacks append actions, nothing else (the condition ``bye_wanted`` is an attribute)

    def _send_invite(self, event: EventData) -> None:
        self.outbox.append(SendInvite(event.kwargs["request"], event.kwargs["destination"]))

    def _send_trying(self, event: EventData) -> None:
        self.outbox.append(Respond(100))

    def _respond(self, event: EventData) -> None:
        status = int(event.kwargs["status"])
        if status >= 300:
            self.status = status
        self.outbox.append(
            Respond(status, tuple(event.kwargs.get("headers", ())), event.kwargs.get("sdp", b""))
        )

    def _send_ack(self, event: EventData) -> None:
        self.outbox.append(SendAck(self.ack_sdp))

    def _send_cancel(self, event: EventData) -> None:
        self.cause = int(event.kwargs["cause"])
        self.outbox.append(SendCancel(reason_value(self.cause)))

    def _send_bye(self, event: EventData) -> None:
        cause = event.kwargs.get("cause", self.cause)
        self.cause = q850.NORMAL_CLEARING if cause is None else int(cause)
        self.outbox.append(SendBye(reason_value(self.cause)))

    def _want_bye(self, event: EventData) -> None:
        self.bye_wanted = True
        self.cause = int(event.kwargs["cause"])

    def _answer_bye(self, event: EventData) -> None:
        self.outbox.append(AnswerBye())

    def _send_info(self, event: EventData) -> None:
        self.outbox.append(SendInfo(event.kwargs["content_type"], event.kwargs["body"]))

    def _resend_authorized(self, event: EventData) -> None:
        self.outbox.append(
            ResendAuthorized(event.kwargs["transaction"], event.kwargs["credentials"])
        )


SIP_MACHINE: Final = LegMachine(SIP_STATES, SIP_TRANSITIONS, "idle")
