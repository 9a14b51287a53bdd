"""Dialogs (RFC 3261 section 12): their state, and the requests sent inside them.

A :class:`Dialog` is created by the endpoint from the INVITE and the response that establishes
it -- a 1xx with a To tag makes an *early* dialog, a 2xx a *confirmed* one (section 12.1) -- on
either side.  It holds what section 12 lists: Call-ID and tags (the :class:`DialogId`), local and
remote sequence numbers, local and remote URIs (kept as the header text, tags included), the
remote target (the peer's Contact) and the route set (Record-Route; reversed on the UAC side).

:meth:`Dialog.build_request` makes a request inside the dialog (section 12.2.1.1), with loose or
strict routing as the first route says; :meth:`Dialog.accept_remote_cseq` applies the
section 12.2.2 sequence rule to a request received in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.address import Address, parse_address
from gateway.sip.events import DialogId
from gateway.sip.headers import Headers
from gateway.sip.message import Request, Response
from gateway.sip.uri import Uri, parse_uri_text

__all__ = ["CONFIRMED", "EARLY", "TARGET_REFRESH_METHODS", "TERMINATED", "Dialog"]

EARLY: Final = "early"
CONFIRMED: Final = "confirmed"
TERMINATED: Final = "terminated"
# Requests that update the remote target (RFC 3261 section 12.2; RFC 3311 UPDATE).
TARGET_REFRESH_METHODS: Final = frozenset({"INVITE", "UPDATE"})
_FIRST_LOCAL_CSEQ: Final = 1


def _route_set(addresses: Iterable[Address]) -> tuple[str, ...]:
    return tuple(str(address) for address in addresses)


def _contact_uri(message: Request | Response) -> str | None:
    contact = message.contact
    return None if contact is None else contact.uri_text


class Dialog:
    """One dialog's state (RFC 3261 section 12.1); owned and updated by the endpoint.

    ``transport`` is the transport the dialog was set up over (used for requests whose target
    URI names none) and ``connection`` the TCP connection it came in on, reused while open.
    ``invite_cseq`` is the CSeq of the last INVITE in the dialog (its ACK carries the number).
    """

    __slots__ = (
        "connection",
        "id",
        "invite_cseq",
        "local_contact",
        "local_party",
        "local_seq",
        "peer",
        "remote_party",
        "remote_seq",
        "remote_target",
        "role",
        "route_set",
        "state",
        "transport",
    )

    def __init__(
        self,
        dialog_id: DialogId,
        role: str,
        state: str,
        *,
        local_party: str,
        remote_party: str,
        local_seq: int | None,
        remote_seq: int | None,
        remote_target: str,
        route_set: tuple[str, ...],
        local_contact: str,
        invite_cseq: int,
        transport: str = "udp",
        connection: int | None = None,
    ) -> None:
        self.id = dialog_id
        self.role = role
        self.state = state
        self.local_party = local_party
        self.remote_party = remote_party
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.remote_target = remote_target
        self.route_set = route_set
        self.local_contact = local_contact
        self.invite_cseq = invite_cseq
        self.transport = transport
        self.connection = connection
        # Where the dialog's first message came from: the fallback next hop when the remote
        # target names a host we cannot resolve here.
        self.peer: tuple[str, int] | None = None

    # -- creation (RFC 3261 sections 12.1.1 and 12.1.2) ----------------------------------------

    @classmethod
    def for_uac(
        cls,
        request: Request,
        response: Response,
        local_contact: str,
        transport: str = "udp",
        connection: int | None = None,
    ) -> Dialog:
        """The UAC's dialog from our INVITE and a 1xx-with-tag or 2xx (section 12.1.2).

        Route set: the response's Record-Route in reverse order; remote target: its Contact.
        """
        remote_tag = response.to_tag
        local_tag = request.from_tag
        if remote_tag is None or local_tag is None:
            raise LocalProtocolError("a UAC dialog needs the From tag and a To tag in the response")
        remote_target = _contact_uri(response) or request.uri_text
        return cls(
            DialogId(request.call_id, local_tag, remote_tag),
            "uac",
            EARLY if response.status < 200 else CONFIRMED,
            local_party=_header_value(request, "from"),
            remote_party=_header_value(response, "to"),
            local_seq=request.cseq.number,
            remote_seq=None,
            remote_target=remote_target,
            route_set=_route_set(reversed(response.record_routes)),
            local_contact=local_contact,
            invite_cseq=request.cseq.number,
            transport=transport,
            connection=connection,
        )

    @classmethod
    def for_uas(
        cls,
        request: Request,
        local_tag: str,
        status: int,
        local_contact: str,
        transport: str = "udp",
        connection: int | None = None,
    ) -> Dialog:
        """The UAS's dialog from a received INVITE and our 1xx/2xx status (section 12.1.1).

        Route set: the request's Record-Route in order; remote target: its Contact; the local
        sequence number starts empty.
        """
        remote_tag = request.from_tag
        if remote_tag is None:
            raise RemoteProtocolError("From without a tag: cannot form a dialog", 400)
        remote_target = _contact_uri(request)
        if remote_target is None:
            raise RemoteProtocolError("INVITE without Contact (RFC 3261 8.1.1.8)", 400)
        to_value = _header_value(request, "to")
        local_party = to_value if request.to_tag is not None else f"{to_value};tag={local_tag}"
        return cls(
            DialogId(request.call_id, local_tag, remote_tag),
            "uas",
            EARLY if status < 200 else CONFIRMED,
            local_party=local_party,
            remote_party=_header_value(request, "from"),
            local_seq=None,
            remote_seq=request.cseq.number,
            remote_target=remote_target,
            route_set=_route_set(request.record_routes),
            local_contact=local_contact,
            invite_cseq=request.cseq.number,
            transport=transport,
            connection=connection,
        )

    # -- updates ---------------------------------------------------------------------------------

    def confirm(self, response: Response) -> None:
        """A 2xx confirms the dialog; the UAC recomputes the route set from it (13.2.2.4)."""
        self.state = CONFIRMED
        if self.role == "uac":
            self.route_set = _route_set(reversed(response.record_routes))
        self.refresh_target(response)

    def refresh_target(self, message: Request | Response) -> None:
        """Target refresh: the remote target becomes the message's Contact (section 12.2)."""
        target = _contact_uri(message)
        if target is not None:
            self.remote_target = target

    def accept_remote_cseq(self, request: Request) -> bool:
        """Section 12.2.2: a request whose CSeq is lower than the remote sequence number is out
        of order (answer 500); otherwise the number is remembered.  ACK and CANCEL carry the
        number of the request they belong to and are exempt.
        """
        method = request.method
        if method in ("ACK", "CANCEL"):
            return True
        number = request.cseq.number
        if self.remote_seq is not None and number < self.remote_seq:
            return False
        self.remote_seq = number
        return True

    # -- requests in the dialog (section 12.2.1.1) ---------------------------------------------

    def next_cseq(self, method: str) -> int:
        """The CSeq for a new request: the local number plus one (ACK: the INVITE's)."""
        if method == "ACK":
            return self.invite_cseq
        number = _FIRST_LOCAL_CSEQ if self.local_seq is None else self.local_seq + 1
        self.local_seq = number
        if method == "INVITE":
            self.invite_cseq = number
        return number

    def target_and_routes(self) -> tuple[str, tuple[str, ...]]:
        """Request-URI and Route values: loose routing when the first route has ``lr``,
        strict routing (first route as Request-URI, remote target appended) otherwise."""
        routes = self.route_set
        if not routes:
            return self.remote_target, ()
        first = parse_address(routes[0], "Route")
        uri = first.uri
        if getattr(uri, "lr", False):
            return self.remote_target, routes
        return _strict_request_uri(first), (*routes[1:], f"<{self.remote_target}>")

    def next_hop_uri(self) -> Uri:
        """Where the request goes (RFC 3261 8.1.2): the first route when it is a loose router,
        else the Request-URI (the remote target, or a strict router put there)."""
        routes = self.route_set
        if routes:
            first = parse_address(routes[0], "Route").uri
            if getattr(first, "lr", False):
                return first
        return parse_uri_text(self.target_and_routes()[0])

    def build_request(
        self,
        method: str,
        via: str,
        *,
        cseq: int | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        max_forwards: int = 70,
    ) -> Request:
        """A request in this dialog; CSeq from :meth:`next_cseq` unless ``cseq`` is given."""
        if self.state == TERMINATED:
            raise LocalProtocolError(f"dialog {self.id} is terminated")
        number = self.next_cseq(method) if cseq is None else cseq
        target, routes = self.target_and_routes()
        pairs = [
            ("Via", via),
            ("Max-Forwards", str(max_forwards)),
            ("From", self.local_party),
            ("To", self.remote_party),
            ("Call-ID", self.id.call_id),
            ("CSeq", f"{number} {method}"),
        ]
        pairs += [("Route", route) for route in routes]
        if method in TARGET_REFRESH_METHODS or method in ("SUBSCRIBE", "NOTIFY", "REFER"):
            pairs.append(("Contact", self.local_contact))
        pairs += headers
        return Request.build(method, target, Headers.of(pairs), body, content_type)

    def __repr__(self) -> str:
        return f"<Dialog {self.role} {self.state} {self.id}>"


def _header_value(message: Request | Response, key: str) -> str:
    value = message.headers.get(key)
    assert value is not None  # the parser guarantees From/To
    return value


def _strict_request_uri(route: Address) -> str:
    """A strict router's Route URI as a Request-URI: no ``?headers`` (RFC 3261 12.2.1.1)."""
    return route.uri_text.partition("?")[0]
