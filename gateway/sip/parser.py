"""Parsing SIP messages from octets: datagrams here, streams in :mod:`gateway.sip.stream`.

The cheap path (:func:`_parse_common`): decode the datagram once (UTF-8 with
``surrogateescape``, so every octet survives) and match one linear regular expression over the
start line and the whole header section.  It checks the headers every element needs (see
:func:`gateway.sip.typed.check_required`) and captures what the transaction layer reads: Via
(its parameters split when read), CSeq, Call-ID, Max-Forwards and Content-Length become values
at once; From and To keep their text and tag, the addresses are built on first use; the
Contact line is kept for parsing when read.  The header lines themselves are split only when
someone asks for them, and an unmodified message serializes as the octets it came from.
Anything unusual takes the general path, which gives the same result or names the error
(tests/gateway/sip/test_fast_paths.py and test_properties.py hold the two paths equal).

Line ends: RFC 3261 mandates CRLF.  A message whose lines all end in a bare LF (the RFC 5118
archive is written that way) is accepted too, as h11 does for HTTP; a header section that mixes
the two, or holds a bare CR, is rejected.
"""

from __future__ import annotations

import re

from gateway.errors import RemoteProtocolError
from gateway.sip._values import unchecked_constructor
from gateway.sip.address import common_address_pattern
from gateway.sip.fields import CALL_ID_RE, MAX_CSEQ, CSeq
from gateway.sip.grammar import TOKEN_CHARS, SipSyntaxError, is_token
from gateway.sip.headers import Headers, canonical_name, lazy_headers, parse_header_lines
from gateway.sip.message import KNOWN_METHODS, SIP_VERSION, Request, Response
from gateway.sip.status import reason_phrase
from gateway.sip.typed import (
    CONTACT_LINE,
    FROM_SCAN,
    TO_SCAN,
    VIA_TOP,
    check_required,
    content_length_of,
)
from gateway.sip.uri import COMMON_SIP_URI_PATTERN, check_uri_text
from gateway.sip.via import common_via_pattern, via_from_groups

__all__ = [
    "error_response",
    "is_keepalive",
    "locate_head",
    "parse_datagram",
    "skip_leading_crlf",
]

_VERSION_RE = re.compile(r"SIP/[0-9]++\.[0-9]++", re.IGNORECASE)
_REASON_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_new_request = unchecked_constructor(Request)
_new_response = unchecked_constructor(Response)
_new_cseq = unchecked_constructor(CSeq)


def is_keepalive(data: bytes) -> bool:
    """True for a non-empty datagram holding nothing but CR/LF (a keep-alive, not a message)."""
    return bool(data) and not data.strip(b"\r\n")


def skip_leading_crlf(data: bytes, start: int = 0) -> int:
    """Index of the first octet at or after ``start`` that is not CR or LF.

    RFC 3261 section 7.5: CRLFs before the start line are ignored.
    """
    end = len(data)
    while start < end and data[start] in (13, 10):
        start += 1
    return start


def locate_head(data: bytes | bytearray, start: int) -> tuple[int, int, bool] | None:
    """``(head_end, body_start, lf_only)`` of the message starting at ``start``, or None.

    ``head_end`` is where the empty line begins; None means no empty line yet.
    """
    crlf = data.find(b"\r\n\r\n", start)
    lf = data.find(b"\n\n", start, crlf if crlf >= 0 else len(data))
    if lf >= 0:
        return lf, lf + 2, True
    if crlf >= 0:
        return crlf, crlf + 4, False
    return None


def split_head(text: str, lf_only: bool) -> tuple[str, Headers]:
    """Start line and headers of a decoded header section (without its empty line)."""
    if lf_only:
        if "\r" in text:
            raise RemoteProtocolError("header section mixes CRLF and bare LF line ends", 400)
        lines = text.split("\n")
        folded = "\n " in text or "\n\t" in text
    else:
        lines = text.split("\r\n")
        breaks = len(lines) - 1
        if text.count("\n") != breaks or text.count("\r") != breaks:
            raise RemoteProtocolError("bare CR or LF in the header section", 400)
        folded = "\r\n " in text or "\r\n\t" in text
    return lines[0], parse_header_lines(lines[1:], folded)


def is_status_line(start_line: str) -> bool:
    """A start line beginning with ``SIP/`` is a Status-Line (a method is a token: no '/')."""
    return start_line[:4].upper() == "SIP/"


def _parse_request_line(line: str) -> tuple[str, str, str]:
    parts = line.split(" ")
    if len(parts) != 3 or "" in parts:
        raise RemoteProtocolError(_diagnose_request_line(line, parts), 400)
    method, uri_text, version = parts
    if version != SIP_VERSION and version.upper() != SIP_VERSION:
        if _VERSION_RE.fullmatch(version):
            raise RemoteProtocolError(f"unsupported version {version}", 505)
        raise RemoteProtocolError(f"Request-Line: {version[:20]!r} is not a SIP version", 400)
    if method not in KNOWN_METHODS and not is_token(method):
        raise RemoteProtocolError(f"Request-Line: method {method[:40]!r} is not a token", 400)
    if uri_text.startswith("<"):
        raise RemoteProtocolError("Request-URI enclosed in '<>' (RFC 3261 8.1.1.1)", 400)
    try:
        check_uri_text(uri_text, allow_headers=False)
    except SipSyntaxError as exc:
        raise RemoteProtocolError(f"Request-URI: {exc}", 400) from None
    return method, uri_text, version


def _diagnose_request_line(line: str, parts: list[str]) -> str:
    if not line.strip(" "):
        return "empty Request-Line"
    if line.endswith(" "):
        return "Request-Line: trailing whitespace"
    if line.startswith(" "):
        return "Request-Line: leading whitespace"
    if "" in parts:
        return "Request-Line: elements separated by more than one SP"
    if len(parts) > 3:
        return "Request-Line: whitespace inside the Request-URI"
    return "Request-Line: expected 'Method SP Request-URI SP SIP-Version'"


def _parse_status_line(line: str) -> tuple[str, int, str]:
    version, _, rest = line.partition(" ")
    if version != SIP_VERSION and version.upper() != SIP_VERSION:
        raise RemoteProtocolError(f"Status-Line: unsupported version {version[:20]}", None)
    code, separator, reason = rest.partition(" ")
    if len(code) != 3 or not code.isascii() or not code.isdigit():
        raise RemoteProtocolError(f"Status-Line: status code {code[:20]!r} is not 3 digits", None)
    status = int(code)
    if status < 100:
        raise RemoteProtocolError(f"Status-Line: status code {status} below 100", None)
    if not separator:
        raise RemoteProtocolError("Status-Line: no SP after the status code", None)
    if _REASON_CTL_RE.search(reason):
        raise RemoteProtocolError("Status-Line: control character in the reason phrase", None)
    return version, status, reason


def _body_end(length: int | None, data: bytes, body_start: int, stream: bool) -> int:
    """Where the body ends (RFC 3261 section 18.3)."""
    if length is None:
        if stream:
            raise RemoteProtocolError(
                "missing Content-Length (mandatory on stream transports, RFC 3261 18.3)", 400
            )
        return len(data)  # UDP: without Content-Length the body runs to the datagram's end
    end = body_start + length
    if end > len(data):
        raise RemoteProtocolError(
            f"Content-Length {length} exceeds the {len(data) - body_start} body octets received",
            400,
        )
    return end


def build_message(
    start_line: str,
    headers: Headers,
    data: bytes,
    start: int,
    body_start: int,
    stream: bool = False,
) -> Request | Response:
    """Finish parsing: start line, framing by Content-Length, required headers.

    Octets after the Content-Length body are not part of the message (RFC 3261 section 18.3,
    RFC 4475 section 3.1.1.8).
    """
    if is_status_line(start_line):
        try:
            return _finish_response(start_line, headers, data, start, body_start, stream)
        except RemoteProtocolError as exc:
            if exc.status_hint is None:
                raise
            raise RemoteProtocolError(exc.reason, None) from None
    method, uri_text, version = _parse_request_line(start_line)
    end = _body_end(content_length_of(headers), data, body_start, stream)
    check_required(headers, method)
    raw = data if start == 0 and end == len(data) else data[start:end]
    return _new_request(method, uri_text, headers, data[body_start:end], version, raw, None)


def _finish_response(
    start_line: str,
    headers: Headers,
    data: bytes,
    start: int,
    body_start: int,
    stream: bool,
) -> Response:
    version, status, reason = _parse_status_line(start_line)
    end = _body_end(content_length_of(headers), data, body_start, stream)
    check_required(headers, None)
    raw = data if start == 0 and end == len(data) else data[start:end]
    return _new_response(status, reason, headers, data[body_start:end], version, raw)


def parse_datagram(data: bytes) -> Request | Response:
    """Parse one UDP datagram (RFC 3261 section 18.3).

    Raises :class:`RemoteProtocolError`: ``status_hint`` is the status a UAS answers (None
    when the datagram is a response, which is dropped).  Nothing else escapes for any input.
    """
    message = _parse_common(data)
    return message if message is not None else _parse_general(data)


def _parse_general(data: bytes) -> Request | Response:
    start = skip_leading_crlf(data) if data[:1] in (b"\r", b"\n") else 0
    located = locate_head(data, start)
    if located is None:
        raise _without_status_if_response(
            data, start, RemoteProtocolError("header section not terminated by an empty line", 400)
        )
    head_end, body_start, lf_only = located
    text = data[start:head_end].decode("utf-8", "surrogateescape")
    try:
        start_line, headers = split_head(text, lf_only)
    except RemoteProtocolError as exc:
        raise _without_status_if_response(data, start, exc) from None
    return build_message(start_line, headers, data, start, body_start)


def _without_status_if_response(
    data: bytes, start: int, error: RemoteProtocolError
) -> RemoteProtocolError:
    if data[start : start + 4].upper() == b"SIP/":
        return RemoteProtocolError(error.reason, None)
    return error


def error_response(data: bytes, error: RemoteProtocolError, to_tag: str) -> Response | None:
    """The response a UAS sends for a request that failed to parse, or None.

    None when ``error`` has no status (a response, or nothing to answer) or when the octets
    carry no Via line to route the answer by.  Via, From, To, Call-ID and CSeq lines are copied
    as received (RFC 3261 section 8.2.6.2) -- they may be the malformed part, which is why this
    works on raw lines -- and a To tag is added when none is visible.
    """
    if error.status_hint is None:
        return None
    start = skip_leading_crlf(data)
    located = locate_head(data, start)
    head_end = located[0] if located is not None else len(data)
    text = data[start:head_end].decode("utf-8", "surrogateescape").replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines or is_status_line(lines[0]):
        return None
    copied: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and copied:
            name, value = copied[-1]
            copied[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        key = canonical_name(name)
        if colon and key in ("via", "from", "to", "call-id", "cseq") and "\r" not in line:
            copied.append((key, value.strip(" \t")))
    if not any(key == "via" for key, _ in copied):
        return None
    rendered: list[str] = []
    keys: list[str] = []
    for key, value in copied:
        if key == "to" and "tag=" not in value.lower():
            value = f"{value};tag={to_tag}"
        rendered.append(f"{_SPELLING[key]}: {value}")
        keys.append(key)
    rendered.append("Content-Length: 0")
    keys.append("content-length")
    status = error.status_hint
    headers = Headers(tuple(rendered), tuple(keys))
    for name, value in error.extra_headers:
        headers = headers.with_header(name, value)
    return Response(status, reason_phrase(status), headers)


_SPELLING = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq"}


# -- the fast path: one regular expression over the whole header section ---------------------
#
# Python's regex engine runs in C; a Python loop over header lines does not.  So the common
# message is checked by one pattern: the start line, then a possessive loop of header lines,
# each either one of the headers every element needs (its value in a common shape, which is
# thereby validated) or any other header (a token name, a colon and a value without CR or LF,
# which is all the general path demands of it).  Values the transaction layer reads are
# captured; the header lines themselves are split only if someone asks for them.
#
# Checked headers must not repeat (but Via and Contact): "(?(@name)(?!)|...)" fails the line
# when group ``name`` already matched on an earlier line, so the general path names the
# repeat.  Python accepts such a test only as a group *number* when the group is defined
# further right, which :func:`_compile_with_conditions` resolves.  Names are spelled as
# character classes, not with (?i): IGNORECASE is Unicode-aware and would take "ſ" or "K"
# (Kelvin sign) for "s" or "k", which canonical_name does not.

_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]++"
_HCOLON = r"[ \t]*+:[ \t]*+"
_EOL = r"[ \t]*+\r\n"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # 0..255, no leading zero
_CONDITION = re.compile(r"\(\?\(@(\w+)\)")


def _caseless(name: str, compact: str = "") -> str:
    """Any ASCII-case spelling of header ``name`` or its ``compact`` form.

    It starts with a character class, so that the engine skips the alternative at once when
    the line starts with another letter: ``[CcIi](?:(?<=[Cc])[Aa][Ll][Ll]-[Ii][Dd]|(?<=[Ii]))``.
    """

    def spelled(text: str) -> str:
        return "".join(
            f"[{char.upper()}{char.lower()}]" if char.isalpha() else re.escape(char)
            for char in text
        )

    first = name[0].upper() + name[0].lower()
    if not compact:
        return f"[{first}]{spelled(name[1:])}"
    both = first if compact.lower() == name[0].lower() else first + compact.upper() + compact
    return (
        f"[{both}](?:(?<=[{first}]){spelled(name[1:])}|(?<=[{compact.upper()}{compact.lower()}]))"
    )


_NAMES = {
    "via": _caseless("via", "v"),
    "from": _caseless("from", "f"),
    "to": _caseless("to", "t"),
    "call-id": _caseless("call-id", "i"),
    "cseq": _caseless("cseq"),
    "max-forwards": _caseless("max-forwards"),
    "content-length": _caseless("content-length", "l"),
    "contact": _caseless("contact", "m"),
}


# The first character of a header name that cannot be one of _NAMES nor Content-Type.
_OTHER_FIRST = f"[{re.escape(''.join(sorted(set(TOKEN_CHARS) - set('VvFfTtIiCcMmLl'))))}]"


def _once(group: str, name: str, value: str) -> str:
    """A header line that may appear once; its value pattern holds group ``group``."""
    return rf"{_NAMES[name]}{_HCOLON}(?(@{group})(?!)|{value}){_EOL}"


_HEADER_LINES = [
    # A header whose name cannot be one of the checked ones (nor Content-Type): a token name
    # (RFC 3261 7.3.1) and a value without CR or LF.  First, as the most frequent kind.
    rf"{_OTHER_FIRST}[A-Za-z0-9\-.!%*_+`'~]*+[ \t]*+:[^\r\n]*+\r\n",
    # Content-Type, as frequent, spares the lookahead of the last alternative.
    rf"{_caseless('content-type', 'c')}{_HCOLON}[^\r\n]*+\r\n",
    # Via: the first line captured, later ones validated (RFC 3261 8.1.1.7, 18.2.1).
    rf"{_NAMES['via']}{_HCOLON}(?(@via_transport){common_via_pattern(groups=False)}"
    rf"(?P<more_vias>)|{common_via_pattern(groups=True)}){_EOL}",
    _once("from", "from", f"(?P<from>{common_address_pattern('from_tag')})"),
    _once("to", "to", f"(?P<to>{common_address_pattern('to_tag')})"),
    _once("call_id", "call-id", f"(?P<call_id>{CALL_ID_RE.pattern})"),
    _once("cseq", "cseq", rf"(?P<cseq>[0-9]{{1,10}}) (?P<cseq_method>{_TOKEN})"),
    _once("max_forwards", "max-forwards", f"(?P<max_forwards>{_OCTET})"),
    _once("content_length", "content-length", "(?P<content_length>[0-9]{1,10})"),
    # Contact is parsed when read: the value of the first line is kept, more lines noted.
    rf"{_NAMES['contact']}{_HCOLON}"
    r"(?(@contact)(?P<more_contacts>)[^\r\n]*+|(?P<contact>[^\r\n]*+))\r\n",
    # Any other header (its name starts like a checked one).
    rf"(?!(?:{'|'.join(_NAMES.values())}){_HCOLON}){_TOKEN}[ \t]*+:[^\r\n]*+\r\n",
]
_HEAD_PATTERN = (
    # Request-Line (RFC 3261 7.1) or Status-Line (7.2) in their usual spelling.
    rf"(?:(?P<method>{_TOKEN}) (?P<uri>{COMMON_SIP_URI_PATTERN}) SIP/2\.0"
    r"|SIP/2\.0 (?P<status>[1-9][0-9][0-9]) (?P<reason>[^\x00-\x08\x0a-\x1f\x7f]*+))\r\n"
    f"(?:{'|'.join(_HEADER_LINES)})*+"
)


def _compile_with_conditions(pattern: str) -> re.Pattern[str]:
    """Compile ``pattern``, in which ``(?(@name)`` tests whether group ``name`` has matched."""
    numbers = re.compile(_CONDITION.sub("(?(1)", pattern)).groupindex
    return re.compile(_CONDITION.sub(lambda match: f"(?({numbers[match[1]]})", pattern))


_HEAD_RE = _compile_with_conditions(_HEAD_PATTERN + r"\r\n")  # ... and the empty line
_read_head = _HEAD_RE.match
# match.groups() is the cheapest way to read them all; they come in pattern order.
_GROUPS = (
    "method", "uri", "status", "reason", "more_vias", "via_transport", "via_host", "via_port",
    "via_params", "via_branch", "from", "from_tag", "to", "to_tag", "call_id", "cseq",
    "cseq_method", "max_forwards", "content_length", "more_contacts", "contact",
)  # fmt: skip
if tuple(sorted(_HEAD_RE.groupindex, key=_HEAD_RE.groupindex.__getitem__)) != _GROUPS:
    raise ImportError("_GROUPS must list the groups of _HEAD_PATTERN in their order")
_NO_CONTACT = (False, ())


def _parse_common(data: bytes) -> Request | Response | None:
    """The one-pass parse of an ordinary message, or None to take the general path.

    It accepts a subset of what the general path accepts (CRLF lines, no folding, the usual
    shapes of the checked headers, no repeated single-valued header) and builds the same
    message; on anything unusual -- including every error -- it returns None and the general
    path decides, with a precise reason.  tests/gateway/sip/test_fast_paths.py and
    test_properties.py hold the paths equal.
    """
    # Decoding the whole datagram at once is cheaper than finding the head's end first; the
    # pattern finds it (its first empty line).
    text = data.decode("utf-8", "surrogateescape")
    match = _read_head(text)
    if match is None:
        return None
    (
        method, uri_text, status_text, reason, more_vias, via_transport, via_host, via_port,
        via_params, via_branch, from_text, from_tag, to_text, to_tag, call_id, number,
        cseq_method, max_forwards, length_text, more_contacts, contact,
    ) = match.groups()  # fmt: skip
    if number is None or call_id is None or from_text is None or to_text is None:
        return None  # a missing header: the general path names it
    if via_transport is None:
        return None
    cseq_number = int(number)
    if cseq_number > MAX_CSEQ or (method is not None and method != cseq_method):
        return None
    body_start = match.end()
    section = (text, body_start - 4)  # the start line and header lines, for lazy_headers
    size = len(data)
    if len(text) != size:  # non-ASCII text: offsets in text are not octet offsets
        body_start = len(text[:body_start].encode("utf-8", "surrogateescape"))
    end = size
    length: int | None = None
    if length_text is not None:
        length = int(length_text)
        end = body_start + length
        if end > size:
            return None
    cache: dict[str, object] = {
        "call-id": call_id,
        "cseq": _new_cseq(cseq_number, cseq_method),
        FROM_SCAN: (from_text, from_tag),
        TO_SCAN: (to_text, to_tag),
        "content-length": length,
    }
    via = via_from_groups(via_transport, via_host, via_port, via_params, via_branch)
    if more_vias is None:
        cache["via"] = (via,)
    else:
        cache[VIA_TOP] = via
    if contact is None:
        cache["contact"] = _NO_CONTACT
    elif more_contacts is None:
        cache[CONTACT_LINE] = contact
    headers = lazy_headers(cache, section)
    raw = data if end == size else data[:end]
    if method is None:
        return _new_response(
            int(status_text), reason, headers, data[body_start:end], SIP_VERSION, raw
        )
    cache["max-forwards"] = int(max_forwards) if max_forwards is not None else None
    return _new_request(method, uri_text, headers, data[body_start:end], SIP_VERSION, raw, None)
