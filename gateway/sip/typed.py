"""Typed, cached access to the headers of a SIP message.

:class:`MessageFields` is the mixin behind ``Request``/``Response`` accessors (``via``,
``from_``, ``cseq``, ``contacts``, ...): each header is parsed on first access and the value is
cached on the message's :class:`Headers`.  :func:`check_required` parses, at once, the headers
every element needs; the parsers call it (or, on the fast path, make the same checks) so that a
message they return is known to have them.  The fast path leaves some values half-done under
the cache keys below (``FROM_SCAN``, ``TO_SCAN``, ``VIA_TOP``, ``CONTACT_LINE``); the
accessors finish them when asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar, cast

from gateway.errors import RemoteProtocolError
from gateway.sip.address import (
    Address,
    check_contact_params,
    parse_address,
    parse_address_list,
    parse_common_address,
    parse_common_contact,
    parse_contact_values,
)
from gateway.sip.fields import (
    ContentType,
    CSeq,
    MediaRange,
    check_call_id,
    parse_content_length,
    parse_delta_seconds,
    parse_max_forwards,
    parse_method_list,
    parse_option_tags,
)
from gateway.sip.headers import Headers, display_name
from gateway.sip.via import Via, parse_via_values

__all__ = [
    "CONTACT_LINE",
    "FROM_SCAN",
    "TO_SCAN",
    "VIA_TOP",
    "MessageFields",
    "check_required",
    "content_length_of",
]

T = TypeVar("T")

_REQUIRED = (("call-id", "Call-ID"), ("cseq", "CSeq"), ("from", "From"), ("to", "To"))


def _single(headers: Headers, key: str, required: bool) -> str | None:
    keys = headers.keys
    count = keys.count(key)
    if count == 1:
        return headers.value_at(keys.index(key))
    if count == 0:
        if required:
            raise RemoteProtocolError(f"missing {display_name(key)} header", 400)
        return None
    raise RemoteProtocolError(f"{display_name(key)} header appears {count} times", 400)


def _required(headers: Headers, key: str) -> str:
    value = _single(headers, key, True)
    assert value is not None
    return value


def _vias(headers: Headers) -> tuple[Via, ...]:
    lines = headers.get_all("via")
    if not lines:
        raise RemoteProtocolError("missing Via header", 400)
    return parse_via_values(lines)


# Cache keys under which the parser's fast path leaves half-done values.  A '/' never occurs in
# a header name, and Headers drops "<key>/..." entries together with "<key>" when that header
# changes.
#  FROM_SCAN, TO_SCAN: ``(text, tag)`` of a From/To of a common shape (address.common_address_
#    pattern): the tag is read at once, the Address built from the text on first use.
#  VIA_TOP: the topmost Via when there are several lines (the others are parsed when asked).
#  CONTACT_LINE: the value of the only Contact line (not yet stripped on the right).
FROM_SCAN = "from/scan"
TO_SCAN = "to/scan"
VIA_TOP = "via/top"
CONTACT_LINE = "contact/line"


def _scanned_address(headers: Headers, scan_key: str, key: str, name: str) -> Address:
    scanned = headers._cache.get(scan_key)
    if scanned is not None:
        address = parse_common_address(scanned[0])  # the same shapes: it cannot be None
        if address is not None:
            return address
    return parse_address(_required(headers, key), name)


def _from(headers: Headers) -> Address:
    return _scanned_address(headers, FROM_SCAN, "from", "From")


def _to(headers: Headers) -> Address:
    return _scanned_address(headers, TO_SCAN, "to", "To")


def _call_id(headers: Headers) -> str:
    return check_call_id(_required(headers, "call-id"))


def _cseq(headers: Headers) -> CSeq:
    return CSeq.parse(_required(headers, "cseq"))


def _max_forwards(headers: Headers) -> int | None:
    value = _single(headers, "max-forwards", False)
    return None if value is None else parse_max_forwards(value)


def _content_length(headers: Headers) -> int | None:
    value = _single(headers, "content-length", False)
    return None if value is None else parse_content_length(value)


def _contacts(headers: Headers) -> tuple[bool, tuple[Address, ...]]:
    # One line holding one address of a common shape (the INVITE/200/REGISTER case).  The
    # shape has no comma outside quotes or '<>', so it is the single item of the list;
    # expires and q are checked as parse_contact_values checks them.
    line = headers._cache.get(CONTACT_LINE)
    if line is not None:
        address = parse_common_contact(line.rstrip(" \t"))
    elif headers.keys.count("contact") == 1:
        address = parse_common_contact(headers.value_at(headers.keys.index("contact")))
    else:
        address = None
    if address is not None:
        if address.params:
            check_contact_params(address)
        return False, (address,)
    lines = headers.get_all("contact")
    if not lines:
        return False, ()
    return parse_contact_values(lines)


def _routes(headers: Headers) -> tuple[Address, ...]:
    return parse_address_list(headers.get_all("route"), "Route", bracketed_only=True)


def _record_routes(headers: Headers) -> tuple[Address, ...]:
    return parse_address_list(headers.get_all("record-route"), "Record-Route", True)


def _content_type(headers: Headers) -> ContentType | None:
    value = _single(headers, "content-type", False)
    return None if value is None else ContentType.parse(value)


def _expires(headers: Headers) -> int | None:
    value = _single(headers, "expires", False)
    return None if value is None else parse_delta_seconds(value, "Expires")


def _accept(headers: Headers) -> tuple[MediaRange, ...] | None:
    if "accept" not in headers.keys:
        return None
    return MediaRange.parse_list(headers.values("accept"))


def _option_tags(key: str) -> Callable[[Headers], tuple[str, ...]]:
    def parse(headers: Headers) -> tuple[str, ...]:
        return parse_option_tags(headers.values(key), display_name(key))

    return parse


def _content_encodings(headers: Headers) -> tuple[str, ...]:
    return tuple(tag.lower() for tag in _option_tags("content-encoding")(headers))


_REQUIRE = _option_tags("require")
_PROXY_REQUIRE = _option_tags("proxy-require")
_SUPPORTED = _option_tags("supported")
_UNSUPPORTED = _option_tags("unsupported")


def _allow(headers: Headers) -> tuple[str, ...] | None:
    if "allow" not in headers.keys:
        return None
    return parse_method_list(headers.values("allow"))


class MessageFields:
    """Typed, cached accessors shared by requests and responses."""

    __slots__ = ()
    is_response: ClassVar[bool] = False

    headers: Headers
    body: bytes

    def _typed(self, key: str, parser: Callable[[Headers], T]) -> T:
        """``parser(headers)``, computed once (the cache is the one of ``Headers.parsed``)."""
        headers = self.headers
        cache = headers._cache
        if key in cache:
            return cast(T, cache[key])
        try:
            value = parser(headers)
        except RemoteProtocolError as exc:
            if self.is_response and exc.status_hint is not None:
                raise RemoteProtocolError(exc.reason, None) from None
            raise
        cache[key] = value
        return value

    # The accessors below try the cache first: a parsed message already holds these values.

    @property
    def vias(self) -> tuple[Via, ...]:
        """Every Via value, topmost first (comma-separated values split)."""
        try:
            return self.headers._cache["via"]  # type: ignore[no-any-return]
        except KeyError:
            return self._typed("via", _vias)

    @property
    def via(self) -> Via:
        """The topmost Via: branch, sent-by, received, rport, transport."""
        cache = self.headers._cache
        try:
            return cache["via"][0]  # type: ignore[no-any-return]
        except KeyError:
            top = cache.get(VIA_TOP)
            return top if top is not None else self._typed("via", _vias)[0]

    @property
    def from_(self) -> Address:
        try:
            return self.headers._cache["from"]  # type: ignore[no-any-return]
        except KeyError:
            return self._typed("from", _from)

    @property
    def to(self) -> Address:
        try:
            return self.headers._cache["to"]  # type: ignore[no-any-return]
        except KeyError:
            return self._typed("to", _to)

    @property
    def from_tag(self) -> str | None:
        scanned = self.headers._cache.get(FROM_SCAN)
        if scanned is not None:
            tag: str | None = scanned[1]  # the first tag, as from_.tag finds it
            return tag
        return self.from_.params.get_lowered("tag")

    @property
    def to_tag(self) -> str | None:
        scanned = self.headers._cache.get(TO_SCAN)
        if scanned is not None:
            tag: str | None = scanned[1]
            return tag
        return self.to.params.get_lowered("tag")

    @property
    def call_id(self) -> str:
        try:
            return self.headers._cache["call-id"]  # type: ignore[no-any-return]
        except KeyError:
            return self._typed("call-id", _call_id)

    @property
    def cseq(self) -> CSeq:
        try:
            return self.headers._cache["cseq"]  # type: ignore[no-any-return]
        except KeyError:
            return self._typed("cseq", _cseq)

    @property
    def max_forwards(self) -> int | None:
        return self._typed("max-forwards", _max_forwards)

    @property
    def content_length(self) -> int | None:
        """The Content-Length header value (None when absent; see ``len(body)``)."""
        return self._typed("content-length", _content_length)

    @property
    def contacts(self) -> tuple[Address, ...]:
        """Contact addresses in order (empty for ``Contact: *``, see ``contact_is_wildcard``)."""
        return self._typed("contact", _contacts)[1]

    @property
    def contact(self) -> Address | None:
        contacts = self._typed("contact", _contacts)[1]
        return contacts[0] if contacts else None

    @property
    def contact_is_wildcard(self) -> bool:
        return self._typed("contact", _contacts)[0]

    @property
    def routes(self) -> tuple[Address, ...]:
        return self._typed("route", _routes)

    @property
    def record_routes(self) -> tuple[Address, ...]:
        return self._typed("record-route", _record_routes)

    @property
    def content_type(self) -> ContentType | None:
        return self._typed("content-type", _content_type)

    @property
    def content_encodings(self) -> tuple[str, ...]:
        return self._typed("content-encoding", _content_encodings)

    @property
    def expires(self) -> int | None:
        return self._typed("expires", _expires)

    @property
    def accept(self) -> tuple[MediaRange, ...] | None:
        """Accept media ranges; None when the header is absent, () when it is empty."""
        return self._typed("accept", _accept)

    @property
    def require(self) -> tuple[str, ...]:
        return self._typed("require", _REQUIRE)

    @property
    def proxy_require(self) -> tuple[str, ...]:
        return self._typed("proxy-require", _PROXY_REQUIRE)

    @property
    def supported(self) -> tuple[str, ...]:
        return self._typed("supported", _SUPPORTED)

    @property
    def unsupported(self) -> tuple[str, ...]:
        return self._typed("unsupported", _UNSUPPORTED)

    @property
    def allow(self) -> tuple[str, ...] | None:
        """Allowed methods; None when the header is absent."""
        return self._typed("allow", _allow)


def check_required(headers: Headers, method: str | None) -> None:
    """Parse (and cache) the headers every element needs; raise on the first problem.

    ``method`` is the request method, or None for a response.  Max-Forwards is optional
    (RFC 2543 peers omit it, RFC 4475 section 3.4.1) but must be valid when present.
    """
    keys = headers.keys
    missing = [name for key, name in _REQUIRED if key not in keys]
    if "via" not in keys:
        missing.append("Via")
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise RemoteProtocolError(f"missing {', '.join(missing)} header{plural}", 400)
    parsed = headers.parsed
    parsed("call-id", _call_id)
    cseq = parsed("cseq", _cseq)
    if method is not None and cseq.method != method:
        raise RemoteProtocolError(
            f"CSeq method {cseq.method} does not match the request method {method}", 400
        )
    parsed("from", _from)
    parsed("to", _to)
    parsed("via", _vias)
    if method is not None:
        parsed("max-forwards", _max_forwards)
    parsed("content-length", _content_length)


def content_length_of(headers: Headers) -> int | None:
    """Content-Length for framing (parsed and cached)."""
    return headers.parsed("content-length", _content_length)
