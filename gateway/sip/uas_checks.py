"""Would a UAS accept this request?  RFC 3261 section 8.2, as a reusable check.

:func:`gateway.sip.parser.parse_datagram` answers "is this a SIP message at all"; this module
answers "does *this* UAS take it", given what the UAS supports (:class:`UasCapabilities`).
The checks run in the order of RFC 3261 section 8.2:

1. method inspection (8.2.1): unknown method -> 501, known but not allowed -> 405, both with
   Allow;
2. header inspection (8.2.2): Request-URI scheme -> 416 (8.2.2.1), Require -> 420 with
   Unsupported listing the unknown option tags (8.2.2.3; ignored for CANCEL);
3. content processing (8.2.3): body type -> 415 with Accept, content coding -> 415 with
   Accept-Encoding; a response body the client refuses (Accept) -> 406 (RFC 4475 3.3.15).

ACK is never answered, so it never fails these checks.  A header that cannot be parsed while
checking gives 400 with the parser's reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.errors import RemoteProtocolError
from gateway.sip.message import KNOWN_METHODS, Request, Response
from gateway.sip.status import reason_phrase

__all__ = [
    "Rejection",
    "UasCapabilities",
    "check_proxy_require",
    "check_request",
]


def _lower_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(value.lower() for value in values)


@dataclass(frozen=True, slots=True)
class UasCapabilities:
    """What a UAS supports.  Media types and codings are compared case-insensitively."""

    methods: frozenset[str] = frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"})
    uri_schemes: frozenset[str] = frozenset({"sip", "sips", "tel"})
    # Option tags this UAS understands (RFC 3261 section 19.2), e.g. "100rel", "timer".
    extensions: frozenset[str] = frozenset()
    # Body types the UAS can process in requests (its Accept).
    content_types: frozenset[str] = frozenset({"application/sdp"})
    content_encodings: frozenset[str] = frozenset({"identity"})
    # The body type of the UAS's answers to ``answer_methods`` (an SDP answer to an INVITE);
    # a request whose Accept excludes it gets 406.
    answer_content_type: str | None = "application/sdp"
    answer_methods: frozenset[str] = frozenset({"INVITE"})

    def allow_header(self) -> tuple[str, str]:
        return ("Allow", ", ".join(sorted(self.methods)))

    @classmethod
    def of(
        cls,
        methods: Iterable[str] | None = None,
        uri_schemes: Iterable[str] | None = None,
        extensions: Iterable[str] = (),
        content_types: Iterable[str] | None = None,
        content_encodings: Iterable[str] | None = None,
    ) -> UasCapabilities:
        """Build from any iterables (schemes, media types and codings are lower-cased)."""
        default = cls()
        return cls(
            methods=frozenset(methods) if methods is not None else default.methods,
            uri_schemes=_lower_set(uri_schemes) if uri_schemes is not None else default.uri_schemes,
            extensions=frozenset(extensions),
            content_types=(
                _lower_set(content_types) if content_types is not None else default.content_types
            ),
            content_encodings=(
                _lower_set(content_encodings)
                if content_encodings is not None
                else default.content_encodings
            ),
        )


@dataclass(frozen=True, slots=True)
class Rejection:
    """The answer a UAS gives instead of processing the request."""

    status: int
    reason: str  # what was wrong, for logs and a Warning header
    headers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def phrase(self) -> str:
        """The standard reason phrase of ``status``."""
        return reason_phrase(self.status)

    def response(self, request: Request, to_tag: str) -> Response:
        """The response to send (RFC 3261 section 8.2.6), carrying ``headers``."""
        return Response.for_request(request, self.status, to_tag=to_tag, extra_headers=self.headers)


def check_request(request: Request, capabilities: UasCapabilities) -> Rejection | None:
    """The rejection a UAS with ``capabilities`` answers ``request`` with, or None to accept."""
    if request.method == "ACK":
        return None
    try:
        return _check(request, capabilities)
    except RemoteProtocolError as exc:
        return Rejection(exc.status_hint or 400, exc.reason, exc.extra_headers)


def _check(request: Request, capabilities: UasCapabilities) -> Rejection | None:
    method = request.method
    if method not in capabilities.methods:
        allow = (capabilities.allow_header(),)
        if method in KNOWN_METHODS:
            return Rejection(405, f"method {method} not allowed here", allow)
        return Rejection(501, f"method {method} not implemented", allow)
    scheme = request.uri.scheme
    if scheme not in capabilities.uri_schemes:
        return Rejection(416, f"unsupported URI scheme {scheme}")
    if method != "CANCEL":
        unknown = [tag for tag in request.require if tag not in capabilities.extensions]
        if unknown:
            listed = ", ".join(unknown)
            return Rejection(420, f"unsupported extension {listed}", (("Unsupported", listed),))
    if request.body:
        content_type = request.content_type
        if content_type is None:
            return Rejection(400, "body without Content-Type (RFC 3261 7.4.1)")
        if content_type.mime not in capabilities.content_types:
            accept = ", ".join(sorted(capabilities.content_types))
            return Rejection(
                415, f"unsupported body type {content_type.mime}", (("Accept", accept),)
            )
        unknown_codings = [
            coding
            for coding in request.content_encodings
            if coding not in capabilities.content_encodings
        ]
        if unknown_codings:
            accept_encoding = ", ".join(sorted(capabilities.content_encodings))
            return Rejection(
                415,
                f"unsupported content coding {', '.join(unknown_codings)}",
                (("Accept-Encoding", accept_encoding),),
            )
    answer_type = capabilities.answer_content_type
    if answer_type is not None and method in capabilities.answer_methods:
        ranges = request.accept
        if ranges is not None and not any(r.matches(answer_type) and r.q > 0 for r in ranges):
            return Rejection(406, f"Accept excludes {answer_type}")
    return None


def check_proxy_require(request: Request, extensions: Iterable[str]) -> Rejection | None:
    """A proxy's check (RFC 3261 section 16.3 step 5): 420 for unknown Proxy-Require tags."""
    if request.method in ("ACK", "CANCEL"):
        return None
    known = frozenset(extensions)
    try:
        unknown = [tag for tag in request.proxy_require if tag not in known]
    except RemoteProtocolError as exc:
        return Rejection(exc.status_hint or 400, exc.reason)
    if not unknown:
        return None
    listed = ", ".join(unknown)
    return Rejection(420, f"unsupported extension {listed}", (("Unsupported", listed),))
