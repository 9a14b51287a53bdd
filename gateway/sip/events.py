"""What a :class:`~gateway.sip.endpoint.SipEndpoint` tells its transaction user, as values.

Handles are named tuples (frozen, hashable at C speed, usable as dict keys by the TU):

* :class:`ClientTransactionId` -- a request we sent (``send_request``, ``send_in_dialog``,
  ``cancel``, ``forward_request``): its responses come back as :class:`ResponseReceived`;
* :class:`ServerTransactionId` -- a request we received: answer it with ``respond``;
* :class:`DialogId` -- a dialog (RFC 3261 section 12.1: Call-ID, local tag, remote tag).

Events are frozen dataclasses; each carries what a TU needs to route it (``call_id`` and, where
there is one, ``dialog``).  A timeout or transport failure arrives as
:class:`TransactionFailed` with the status RFC 3261 section 8.1.3.1 says to treat it as
(408 or 503), never as silence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from gateway.sip.message import Request, Response
from gateway.trace import Address, Transport

__all__ = [
    "AckReceived",
    "AckTimeout",
    "CancelReceived",
    "ClientTransactionId",
    "DialogId",
    "DialogTerminated",
    "EndpointEvent",
    "RequestReceived",
    "ResponseReceived",
    "ServerTransactionId",
    "StrayResponse",
    "TransactionFailed",
]


class ClientTransactionId(NamedTuple):
    """A client transaction: top Via branch and CSeq method (RFC 3261 section 17.1.3)."""

    branch: str
    method: str


class ServerTransactionId(NamedTuple):
    """A server transaction: branch, sent-by and method (RFC 3261 section 17.2.3).

    ``method`` is INVITE for the ACK of an INVITE; requests without an RFC 3261 branch get a
    ``branch`` computed from the RFC 2543 matching fields.
    """

    branch: str
    sent_by: str
    method: str


class DialogId(NamedTuple):
    """RFC 3261 section 12: Call-ID, local tag, remote tag (seen from this endpoint)."""

    call_id: str
    local_tag: str
    remote_tag: str


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request for the TU: answer it with ``respond(transaction, ...)``.

    ``dialog`` is set for a request inside a known dialog (BYE, re-INVITE, INFO, UPDATE ...).
    """

    transaction: ServerTransactionId
    request: Request
    dialog: DialogId | None
    source: Address
    transport: Transport

    @property
    def call_id(self) -> str:
        return self.request.call_id


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response to one of our requests.

    For an INVITE, ``dialog`` names the early (1xx with a To tag) or confirmed (2xx) dialog the
    response created or belongs to; after a 2xx the TU sends the ACK with ``send_ack``.
    """

    transaction: ClientTransactionId
    response: Response
    dialog: DialogId | None

    @property
    def call_id(self) -> str:
        return self.response.call_id


@dataclass(frozen=True, slots=True)
class AckReceived:
    """The ACK of a 2xx we sent (it may carry the SDP answer of a delayed offer).

    In the proxy role ``dialog`` is None: the ACK is for the TU to forward.
    """

    dialog: DialogId | None
    request: Request
    source: Address
    transport: Transport

    @property
    def call_id(self) -> str:
        return self.request.call_id


@dataclass(frozen=True, slots=True)
class CancelReceived:
    """A CANCEL for the INVITE ``transaction``; the endpoint already answered it 200.

    In the UA role the endpoint has also answered the INVITE with 487 (RFC 3261 section 9.2);
    in the proxy role the TU cancels its branches and relays their final responses.
    """

    transaction: ServerTransactionId
    request: Request
    dialog: DialogId | None

    @property
    def call_id(self) -> str:
        return self.request.call_id


@dataclass(frozen=True, slots=True)
class TransactionFailed:
    """A transaction ended without a response: treat it as ``status`` (RFC 3261 8.1.3.1).

    408 for a timeout (Timer B, F, H, or no final response 64*T1 after a CANCEL), 503 for a
    transport error.  For a server transaction it means our final response was never
    acknowledged (Timer H) or could not be sent.
    """

    transaction: ClientTransactionId | ServerTransactionId
    status: int
    reason: str
    call_id: str
    dialog: DialogId | None


@dataclass(frozen=True, slots=True)
class AckTimeout:
    """Our 2xx to an INVITE was retransmitted for 64*T1 without an ACK (RFC 3261 13.3.1.4).

    The dialog stays confirmed; the TU should end the session with a BYE.
    """

    dialog: DialogId
    transaction: ServerTransactionId

    @property
    def call_id(self) -> str:
        return self.dialog.call_id


@dataclass(frozen=True, slots=True)
class DialogTerminated:
    """The endpoint ended a dialog the TU did not end itself, and why.

    Reasons: a 481 or 408 (or no response at all) to a request inside the dialog (RFC 3261
    section 12.2.1.2); a BYE answered in an early dialog, which also answered its INVITE 487
    (section 15.1.2).  Early dialogs that end with their INVITE's non-2xx final response are
    not reported separately: the TU sees that response.
    """

    dialog: DialogId
    reason: str

    @property
    def call_id(self) -> str:
        return self.dialog.call_id


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """Proxy role: a response matching no client transaction (a 2xx to forward statelessly)."""

    response: Response
    source: Address
    transport: Transport

    @property
    def call_id(self) -> str:
        return self.response.call_id


EndpointEvent = (
    RequestReceived
    | ResponseReceived
    | AckReceived
    | CancelReceived
    | TransactionFailed
    | AckTimeout
    | DialogTerminated
    | StrayResponse
)
