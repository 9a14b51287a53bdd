"""SIP requests and responses as immutable values, parsed from datagrams and built by callers.

Parsing has two levels (see also :mod:`gateway.sip.uas_checks`):

* :func:`gateway.sip.parser.parse_datagram` (and :class:`gateway.sip.stream.StreamParser`)
  checks *syntax and framing*: the start line strictly, the header section layout, and the
  headers every element needs -- Via, From, To, Call-ID, CSeq (its method equal to the request
  method), Max-Forwards and Content-Length (each present once where required, well formed, in
  range).  Those are checked at once and cached (From and To as scanned text whose tags are
  read directly; the addresses are built on first access); every other header is parsed on
  first access, once.  The cheap path is one regular expression over the header section
  (see :mod:`gateway.sip.parser`); the header lines are split on first use.
* whether a UAS *accepts* the request (methods, URI schemes, extensions, body types) is
  decided by :func:`gateway.sip.uas_checks.check_request`.

Errors are :class:`RemoteProtocolError`: ``status_hint`` is what a UAS answers (400, 505, ...);
for a malformed *response* it is None -- a response is never answered, only dropped
(RFC 3261 section 18.1.2, RFC 4475 sections 3.1.2.5 and 3.1.2.19).

A parsed message keeps the exact octets it was parsed from: ``bytes(message)`` gives them back.
Derived messages (``with_header``, ``prepend_header``, ...) re-render the start line and header
lines, reusing the raw text of every line that did not change.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.grammar import SipSyntaxError, is_token
from gateway.sip.headers import Headers
from gateway.sip.status import reason_phrase
from gateway.sip.typed import MessageFields, check_required
from gateway.sip.uri import Uri, check_uri_text, parse_uri_text

__all__ = ["KNOWN_METHODS", "SIP_VERSION", "Message", "Request", "Response"]

SIP_VERSION = "SIP/2.0"
# Methods defined by RFC 3261 and the extensions registered with IANA that gwemu knows by name.
KNOWN_METHODS = frozenset(
    {
        "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
        "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
    }
)  # fmt: skip
# Reason-Phrase allows any UTF-8 text, SP and HTAB, but no other control character.
_REASON_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 3261 section 8.2.6.2: copied from the request into every response.
_COPIED_TO_RESPONSES = frozenset({"via", "from", "to", "call-id", "cseq"})


# -- values --------------------------------------------------------------------------------


def _render(start_line: str, headers: Headers, body: bytes) -> bytes:
    return (start_line + "\r\n" + headers.render() + "\r\n").encode(
        "utf-8", "surrogateescape"
    ) + body


def _with_length(headers: Headers, body: bytes) -> Headers:
    return headers.replace("Content-Length", str(len(body)))


def _as_headers(headers: Headers | Iterable[tuple[str, str]]) -> Headers:
    return headers if isinstance(headers, Headers) else Headers.of(headers)


def _check_built(message: Request | Response) -> None:
    """A message we build must satisfy what we demand of received ones."""
    try:
        check_required(message.headers, message.method if isinstance(message, Request) else None)
    except RemoteProtocolError as exc:
        raise LocalProtocolError(f"cannot build this message: {exc.reason}") from None


@dataclass(frozen=True, slots=True)
class Request(MessageFields):
    """A SIP request.  ``uri_text`` is the Request-URI as written, :attr:`uri` its parsed form."""

    method: str
    uri_text: str
    headers: Headers
    body: bytes = b""
    version: str = SIP_VERSION
    _raw: bytes | None = field(default=None, repr=False, compare=False)
    _uri: Uri | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        method: str,
        uri: Uri | str,
        headers: Headers | Iterable[tuple[str, str]],
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Request:
        """A new request; Content-Length is set from ``body`` (and Content-Type if given).

        Raises LocalProtocolError when the result would not be a valid request (bad method or
        URI, a missing or malformed Via/From/To/Call-ID/CSeq, CSeq method != ``method``).
        """
        if not is_token(method):
            raise LocalProtocolError(f"invalid method {method!r}")
        uri_text = str(uri)
        try:
            check_uri_text(uri_text, allow_headers=False)
        except SipSyntaxError as exc:
            raise LocalProtocolError(f"invalid Request-URI {uri_text!r}: {exc}") from None
        built = _as_headers(headers)
        if content_type is not None:
            built = built.replace("Content-Type", content_type)
        request = cls(method, uri_text, _with_length(built, body), body)
        _check_built(request)
        return request

    @classmethod
    def parse(cls, data: bytes) -> Request:
        """Parse a datagram that must hold a request."""
        from gateway.sip.parser import parse_datagram

        message = parse_datagram(data)
        if not isinstance(message, Request):
            raise RemoteProtocolError("expected a request, got a response", None)
        return message

    @property
    def uri(self) -> Uri:
        uri = self._uri
        if uri is None:
            try:
                uri = parse_uri_text(self.uri_text)
            except SipSyntaxError as exc:
                raise RemoteProtocolError(f"Request-URI: {exc}", 400) from None
            object.__setattr__(self, "_uri", uri)
        return uri

    @property
    def start_line(self) -> str:
        return f"{self.method} {self.uri_text} {self.version}"

    @property
    def summary(self) -> str:
        """One line for traces and logs: ``INVITE sip:bob@example.com``."""
        return f"{self.method} {self.uri_text}"

    def with_headers(self, headers: Headers) -> Request:
        return dataclasses.replace(self, headers=headers, _raw=None)

    def with_header(self, name: str, value: str) -> Request:
        return self.with_headers(self.headers.with_header(name, value))

    def prepend_header(self, name: str, value: str) -> Request:
        return self.with_headers(self.headers.prepend(name, value))

    def replace_header(self, name: str, value: str) -> Request:
        return self.with_headers(self.headers.replace(name, value))

    def without_header(self, name: str) -> Request:
        return self.with_headers(self.headers.without(name))

    def with_body(self, body: bytes, content_type: str | None = None) -> Request:
        headers = (
            self.headers
            if content_type is None
            else self.headers.replace("Content-Type", content_type)
        )
        return dataclasses.replace(self, headers=_with_length(headers, body), body=body, _raw=None)

    def with_uri(self, uri: Uri | str) -> Request:
        uri_text = str(uri)
        try:
            check_uri_text(uri_text, allow_headers=False)
        except SipSyntaxError as exc:
            raise LocalProtocolError(f"invalid Request-URI {uri_text!r}: {exc}") from None
        return dataclasses.replace(self, uri_text=uri_text, _raw=None, _uri=None)

    def __bytes__(self) -> bytes:
        raw = self._raw
        if raw is not None:
            return raw
        return _render(self.start_line, self.headers, self.body)


@dataclass(frozen=True, slots=True)
class Response(MessageFields):
    """A SIP response.  ``reason`` may be empty (``SIP/2.0 100 ``, RFC 4475 section 3.1.1.13)."""

    status: int
    reason: str
    headers: Headers
    body: bytes = b""
    version: str = SIP_VERSION
    _raw: bytes | None = field(default=None, repr=False, compare=False)

    is_response: ClassVar[bool] = True

    @classmethod
    def build(
        cls,
        status: int,
        headers: Headers | Iterable[tuple[str, str]],
        body: bytes = b"",
        reason: str | None = None,
        content_type: str | None = None,
    ) -> Response:
        """A new response with Content-Length set from ``body``."""
        _check_status(status, reason)
        built = _as_headers(headers)
        if content_type is not None:
            built = built.replace("Content-Type", content_type)
        phrase = reason if reason is not None else reason_phrase(status)
        response = cls(status, phrase, _with_length(built, body), body)
        _check_built(response)
        return response

    @classmethod
    def for_request(
        cls,
        request: Request,
        status: int,
        reason: str | None = None,
        to_tag: str | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Response:
        """The response a UAS sends to ``request`` (RFC 3261 section 8.2.6).

        Via lines (all, in order), From, Call-ID and CSeq are copied as received; To is
        copied and, when it has no tag, ``to_tag`` is added -- required for every status but
        100 (RFC 3261 section 8.2.6.2).  A 100 copies Timestamp (section 8.2.6.1).
        """
        _check_status(status, reason)
        if status != 100 and to_tag is None and request.to.tag is None:
            raise LocalProtocolError(f"a {status} response needs a To tag (RFC 3261 8.2.6.2)")
        if to_tag is not None and not is_token(to_tag):
            raise LocalProtocolError(f"invalid To tag {to_tag!r}")
        source = request.headers
        lines: list[str] = []
        keys: list[str] = []
        for index, key in enumerate(source.keys):
            line = source.lines[index]
            if key == "to" and to_tag is not None and request.to.tag is None:
                line = f"{source.name_at(index)}: {source.value_at(index)};tag={to_tag}"
            elif key not in _COPIED_TO_RESPONSES and not (key == "timestamp" and status == 100):
                continue
            lines.append(line)
            keys.append(key)
        headers = Headers(tuple(lines), tuple(keys))
        for name, value in extra_headers:
            headers = headers.with_header(name, value)
        if content_type is not None:
            headers = headers.replace("Content-Type", content_type)
        phrase = reason if reason is not None else reason_phrase(status)
        return cls(status, phrase, _with_length(headers, body), body)

    @classmethod
    def parse(cls, data: bytes) -> Response:
        """Parse a datagram that must hold a response."""
        from gateway.sip.parser import parse_datagram

        message = parse_datagram(data)
        if not isinstance(message, Response):
            raise RemoteProtocolError("expected a response, got a request", 400)
        return message

    @property
    def start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"

    @property
    def summary(self) -> str:
        """One line for traces and logs: ``200 OK (INVITE)``."""
        headers = self.headers  # (a parsed message has CSeq cached: no need to split lines)
        method = "?"
        if "cseq" in headers._cache or "cseq" in headers.keys:
            try:
                method = self.cseq.method
            except RemoteProtocolError:
                # Our 400 to a request whose CSeq is broken copies that CSeq (RFC 3261 8.2.6.2).
                method = "CSeq?"
        return f"{self.status} {self.reason} ({method})"

    def with_headers(self, headers: Headers) -> Response:
        return dataclasses.replace(self, headers=headers, _raw=None)

    def with_header(self, name: str, value: str) -> Response:
        return self.with_headers(self.headers.with_header(name, value))

    def prepend_header(self, name: str, value: str) -> Response:
        return self.with_headers(self.headers.prepend(name, value))

    def replace_header(self, name: str, value: str) -> Response:
        return self.with_headers(self.headers.replace(name, value))

    def without_header(self, name: str) -> Response:
        return self.with_headers(self.headers.without(name))

    def without_top_via(self) -> Response:
        """The response as forwarded upstream: topmost Via value removed (RFC 3261 16.7)."""
        return self.with_headers(self.headers.without_first_value("via"))

    def with_body(self, body: bytes, content_type: str | None = None) -> Response:
        headers = (
            self.headers
            if content_type is None
            else self.headers.replace("Content-Type", content_type)
        )
        return dataclasses.replace(self, headers=_with_length(headers, body), body=body, _raw=None)

    def __bytes__(self) -> bytes:
        raw = self._raw
        if raw is not None:
            return raw
        return _render(self.start_line, self.headers, self.body)


Message = Request | Response


def _check_status(status: int, reason: str | None) -> None:
    if not 100 <= status <= 699:
        raise LocalProtocolError(f"status {status} is not 100..699")
    if reason is not None and _REASON_CTL_RE.search(reason):
        raise LocalProtocolError("reason phrase contains a control character")
