"""Parsing SIP messages from octets: datagrams here, streams in :mod:`gateway.sip.stream`.

The cheap path (:func:`_parse_common`): find the empty line, decode the header section once
(UTF-8 with ``surrogateescape``, so every octet survives), split it into lines, look each
header name up in a table, then check the few headers every element needs (see
:func:`gateway.sip.typed.check_required`), each with one linear regular expression.  Via,
CSeq, Call-ID, Max-Forwards and Content-Length are cached as values; From and To are cached
as their scanned groups, so their tags are read at once and the addresses are built on first
use.  Everything else waits until it is read; an unmodified message serializes as the octets
it came from.  Anything unusual takes the general path, which gives the same result or names
the error (tests/gateway/sip/test_fast_paths.py holds the two paths equal).

Line ends: RFC 3261 mandates CRLF.  A message whose lines all end in a bare LF (the RFC 5118
archive is written that way) is accepted too, as h11 does for HTTP; a header section that mixes
the two, or holds a bare CR, is rejected.
"""

from __future__ import annotations

import re
from typing import cast

from gateway.errors import RemoteProtocolError
from gateway.sip._values import unchecked_constructor
from gateway.sip.address import scan_common_address
from gateway.sip.fields import CALL_ID_RE, MAX_CSEQ, CSeq
from gateway.sip.grammar import SipSyntaxError, is_token
from gateway.sip.headers import _KNOWN_NAMES, Headers, canonical_name, parse_header_lines
from gateway.sip.headers import _make as _make_headers
from gateway.sip.message import KNOWN_METHODS, SIP_VERSION, Request, Response
from gateway.sip.status import reason_phrase
from gateway.sip.typed import FROM_SCAN, TO_SCAN, check_required, content_length_of
from gateway.sip.uri import COMMON_SIP_URI_PATTERN, check_uri_text
from gateway.sip.via import Via, parse_common_via

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
    head_end = data.find(b"\r\n\r\n")
    # (A bare LF before head_end -- LF-only lines -- fails the fast path's line-end check.)
    if head_end > 0 and data[0] not in (13, 10):
        message = _parse_common(data, head_end)
        if message is not None:
            return message
    return _parse_general(data)


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


# Headers the fast path parses; a repeat of any of them (but Via) leaves it.
_SINGLE = ("call-id", "cseq", "from", "to", "max-forwards", "content-length")
_check_common_uri = re.compile(COMMON_SIP_URI_PATTERN).fullmatch
_check_call_id = CALL_ID_RE.fullmatch
# Valid values as usually written, so that one lookup both checks and converts them.
_MAX_FORWARDS = {str(hops): hops for hops in range(256)}
_STATUS_CODES = {str(status): status for status in range(100, 1000)}


def _parse_common(data: bytes, head_end: int) -> Request | Response | None:
    """The one-pass parse of an ordinary message, or None to take the general path.

    It accepts a subset of what the general path accepts (CRLF lines, no folding, names
    spelled as in the table, no duplicated single-valued header, common shapes of every
    required header) and builds the same values; on anything unusual -- including every
    error -- it returns None and the general path decides, with a precise reason.  Every
    check the general path makes at parse time is made here too, only cheaper: the property
    tests hold the two paths equal.
    """
    text = data[:head_end].decode("utf-8", "surrogateescape")
    lines = text.split("\r\n")
    breaks = len(lines) - 1
    if text.count("\n") != breaks or text.count("\r") != breaks:
        return None  # a bare CR or LF
    start_line = lines[0]
    del lines[0]
    known = _KNOWN_NAMES.get
    # The canonical key of each line; None for a line without ':' (p[1] is the colon) or a
    # name not in the table (odd spelling, whitespace before ':', continuation, extension).
    maybe_keys = [known(p[0]) if (p := line.partition(":"))[1] else None for line in lines]
    present = set(maybe_keys)
    if None in present:
        return None
    keys = cast(list[str], maybe_keys)
    if len(present) != len(keys):  # a name repeats: make sure it is not a single-valued one
        for key in _SINGLE:
            if key in present and keys.count(key) > 1:
                return None
    try:  # the line of each required header (the only one: repeats were refused above)
        cseq_line = lines[keys.index("cseq")]
        call_id_line = lines[keys.index("call-id")]
        from_line = lines[keys.index("from")]
        to_line = lines[keys.index("to")]
        via_line = lines[keys.index("via")]
    except ValueError:
        return None  # a missing header: the general path names it

    number, space, cseq_method = cseq_line.partition(":")[2].strip(" \t").partition(" ")
    if not space or not number.isdigit() or not number.isascii() or len(number) > 10:
        return None
    cseq_number = int(number)
    if cseq_number > MAX_CSEQ:
        return None
    if start_line.startswith("SIP/2.0 "):
        method = None
        status = _STATUS_CODES.get(start_line[8:11])
        reason = start_line[12:]
        if (
            status is None
            or start_line[11:12] != " "
            or cseq_method not in KNOWN_METHODS  # else the general path checks the token
            # isprintable() is False for any control character (and for HTAB and some
            # non-ASCII text, which the regex then judges).
            or (not reason.isprintable() and _REASON_CTL_RE.search(reason) is not None)
        ):
            return None
    else:
        request_line = start_line.split(" ")
        if len(request_line) != 3 or request_line[2] != SIP_VERSION:
            return None
        method, uri_text, _ = request_line
        if (
            method not in KNOWN_METHODS
            or method != cseq_method
            or _check_common_uri(uri_text) is None
        ):
            return None

    call_id = call_id_line.partition(":")[2].strip(" \t")
    if _check_call_id(call_id) is None:
        return None
    # From and To are checked now, built when read (their tags are read from the groups).
    from_text = from_line.partition(":")[2].strip(" \t")
    from_groups = scan_common_address(from_text)
    if from_groups is None:
        return None
    to_text = to_line.partition(":")[2].strip(" \t")
    to_groups = scan_common_address(to_text)
    if to_groups is None:
        return None
    if len(present) == len(keys) or keys.count("via") == 1:
        via = parse_common_via(via_line.partition(":")[2].strip(" \t"))
        if via is None:
            return None
        vias: tuple[Via, ...] = (via,)
    else:
        via_list: list[Via] = []
        for key, line in zip(keys, lines, strict=True):
            if key == "via":
                via = parse_common_via(line.partition(":")[2].strip(" \t"))
                if via is None:
                    return None
                via_list.append(via)
        vias = tuple(via_list)
    body_start = head_end + 4
    end = len(data)
    length: int | None = None
    if "content-length" in present:
        value = lines[keys.index("content-length")].partition(":")[2].strip(" \t")
        if not value.isdigit() or not value.isascii() or len(value) > 10:
            return None
        length = int(value)
        end = body_start + length
        if end > len(data):
            return None
    cache: dict[str, object] = {
        "call-id": call_id,
        "cseq": _new_cseq(cseq_number, cseq_method),
        FROM_SCAN: (from_text, from_groups),
        TO_SCAN: (to_text, to_groups),
        "via": vias,
        "content-length": length,
    }
    headers = _make_headers(tuple(lines), tuple(keys), cache)
    raw = data if end == len(data) else data[:end]
    if method is None:
        return _new_response(status, reason, headers, data[body_start:end], SIP_VERSION, raw)
    max_forwards: int | None = None
    if "max-forwards" in present:
        value = lines[keys.index("max-forwards")].partition(":")[2].strip(" \t")
        max_forwards = _MAX_FORWARDS.get(value)
        if max_forwards is None:
            return None  # out of range, or written unusually ("070"): the general path decides
    cache["max-forwards"] = max_forwards
    return _new_request(method, uri_text, headers, data[body_start:end], SIP_VERSION, raw, None)
