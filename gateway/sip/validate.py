"""Full validation of a parsed message: every header gwemu knows the grammar of.

:func:`gateway.sip.parser.parse_datagram` checks only what every element needs; a lint tool,
a registrar or a strict test wants the rest too -- Contact, Route, Date (RFC 4475 3.1.2.12),
Warning, Retry-After (3.1.2.5), the character set of every value (no control characters
outside quoted-pairs, valid UTF-8).  :func:`validate` raises the first problem found as
:class:`RemoteProtocolError` (status None for a response, as always).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gateway.errors import RemoteProtocolError
from gateway.sip.address import parse_address, parse_address_list
from gateway.sip.fields import (
    ContentType,
    CSeq,
    MediaRange,
    check_call_id,
    parse_delta_seconds,
    parse_option_tags,
    split_list,
)
from gateway.sip.grammar import SipSyntaxError, is_token, parse_params, scan_quoted_string
from gateway.sip.headers import LIST_HEADERS, display_name
from gateway.sip.message import Request, Response

__all__ = ["validate"]

# rfc1123-date = wkday "," SP date1 SP time SP "GMT"  (RFC 3261 section 20.17: GMT only)
_DATE_RE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    r"[0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
)
# warning-value = warn-code SP warn-agent SP warn-text  (warn-code = 3DIGIT)
_WARNING_RE = re.compile(r'[0-9]{3} [^\s"]++ "')
_TIMESTAMP_RE = re.compile(r"[0-9]++(?:\.[0-9]*+)?(?:[ \t]++[0-9]++(?:\.[0-9]*+)?)?")
_MIME_VERSION_RE = re.compile(r"[0-9]++\.[0-9]++")
_RACK_RE = re.compile(r"([0-9]++)[ \t]++([0-9]++)[ \t]++([A-Za-z0-9\-.!%*_+`'~]++)")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_INVALID_UTF8_RE = re.compile(r"[\udc80-\udcff]")
_AUTH_SCHEME_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]++[ \t]")

Checker = Callable[[list[str], str], None]


def _fail(header: str, problem: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"{header}: {problem}", 400)


def _addresses(values: list[str], header: str) -> None:
    parse_address_list(values, header)


def _name_addresses(values: list[str], header: str) -> None:
    parse_address_list(values, header, bracketed_only=True)


def _single_address(values: list[str], header: str) -> None:
    for value in values:
        parse_address(value, header)


def _option_tags(values: list[str], header: str) -> None:
    parse_option_tags(values, header)


def _delta_seconds(values: list[str], header: str) -> None:
    for value in values:
        parse_delta_seconds(value, header)


def _content_type(values: list[str], header: str) -> None:
    for value in values:
        ContentType.parse(value)


def _media_ranges(values: list[str], header: str) -> None:
    MediaRange.parse_list(values)


def _token_with_params(values: list[str], header: str) -> None:
    """``token *( SEMI generic-param )`` per value (Event, Content-Disposition, codings ...)."""
    for value in values:
        if value == "" and len(values) == 1:
            continue
        head, semicolon, _ = value.partition(";")
        if not is_token(head.strip(" \t")) and head.strip(" \t") != "*":
            raise _fail(header, f"{value[:40]!r} is not a token")
        if semicolon:
            try:
                _, stop = parse_params(value, len(head))
            except SipSyntaxError as exc:
                raise _fail(header, str(exc)) from None
            if stop != len(value):
                raise _fail(header, f"trailing text in {value[:40]!r}")


def _date(values: list[str], header: str) -> None:
    for value in values:
        if _DATE_RE.fullmatch(value) is None:
            raise _fail(header, f"{value[:40]!r} is not an RFC 1123 date in GMT")


def _retry_after(values: list[str], header: str) -> None:
    for value in values:
        digits = value
        for index, char in enumerate(value):
            if not char.isdigit():
                digits = value[:index]
                break
        parse_delta_seconds(digits, header)
        rest = value[len(digits) :].lstrip(" \t")
        if rest.startswith("("):
            close = rest.find(")")
            if close < 0:
                raise _fail(header, "unterminated comment")
            rest = rest[close + 1 :]
        try:
            _, stop = parse_params(rest)
        except SipSyntaxError as exc:
            raise _fail(header, str(exc)) from None
        if stop != len(rest):
            raise _fail(header, f"trailing text in {value[:40]!r}")


def _warning(values: list[str], header: str) -> None:
    for value in values:
        match = _WARNING_RE.match(value)
        if match is None:
            raise _fail(header, f"{value[:40]!r} is not 'code agent \"text\"' (3-digit code)")
        try:
            end = scan_quoted_string(value, match.end() - 1)
        except SipSyntaxError as exc:
            raise _fail(header, str(exc)) from None
        if end != len(value):
            raise _fail(header, f"trailing text in {value[:40]!r}")


def _call_ids(values: list[str], header: str) -> None:
    for value in values:
        try:
            check_call_id(value)
        except RemoteProtocolError:
            raise _fail(header, f"{value[:40]!r} is not a Call-ID") from None


def _pattern(regex: re.Pattern[str], what: str) -> Checker:
    def check(values: list[str], header: str) -> None:
        for value in values:
            if regex.fullmatch(value) is None:
                raise _fail(header, f"{value[:40]!r} is not {what}")

    return check


def _rack(values: list[str], header: str) -> None:
    for value in values:
        match = _RACK_RE.fullmatch(value)
        if match is None:
            raise _fail(header, f"{value[:40]!r} is not 'response-num CSeq-num method'")
        for number in match.group(1, 2):
            parse_delta_seconds(number, header)


def _credentials(values: list[str], header: str) -> None:
    """``auth-scheme LWS ...``: the scheme must be a token; the rest belongs to digest auth."""
    for value in values:
        if _AUTH_SCHEME_RE.match(value) is None:
            raise _fail(header, "credentials must start with an auth scheme token")


def _cseq(values: list[str], header: str) -> None:
    for value in values:
        CSeq.parse(value)


_CHECKERS: dict[str, Checker] = {
    "route": _name_addresses,
    "record-route": _name_addresses,
    "path": _name_addresses,
    "service-route": _name_addresses,
    "reply-to": _single_address,
    "refer-to": _single_address,
    "referred-by": _single_address,
    "p-asserted-identity": _addresses,
    "p-preferred-identity": _addresses,
    "alert-info": _name_addresses,
    "call-info": _name_addresses,
    "error-info": _name_addresses,
    "content-type": _content_type,
    "accept": _media_ranges,
    "accept-encoding": _token_with_params,
    "accept-language": _token_with_params,
    "content-encoding": _token_with_params,
    "content-language": _token_with_params,
    "content-disposition": _token_with_params,
    "event": _token_with_params,
    "allow-events": _token_with_params,
    "subscription-state": _token_with_params,
    "priority": _token_with_params,
    "require": _option_tags,
    "proxy-require": _option_tags,
    "supported": _option_tags,
    "unsupported": _option_tags,
    "allow": _option_tags,
    "expires": _delta_seconds,
    "min-expires": _delta_seconds,
    "rseq": _delta_seconds,
    "date": _date,
    "retry-after": _retry_after,
    "warning": _warning,
    "in-reply-to": _call_ids,
    "timestamp": _pattern(_TIMESTAMP_RE, "a timestamp"),
    "mime-version": _pattern(_MIME_VERSION_RE, "a MIME version"),
    "rack": _rack,
    "authorization": _credentials,
    "proxy-authorization": _credentials,
    "www-authenticate": _credentials,
    "proxy-authenticate": _credentials,
    "cseq": _cseq,
}
# Values the typed parsers above scan themselves (quoted-pairs may hold control characters).
_STRUCTURED = frozenset(
    {"from", "to", "contact", "route", "record-route", "reply-to", "refer-to", "referred-by"}
)


def _check_text(key: str, value: str) -> None:
    if _INVALID_UTF8_RE.search(value):
        raise _fail(display_name(key), "invalid UTF-8")
    if key not in _STRUCTURED and _CONTROL_RE.search(value):
        raise _fail(display_name(key), "control character in the value")


def validate(message: Request | Response) -> None:
    """Check every header of ``message``; raise RemoteProtocolError on the first problem."""
    try:
        _validate(message)
    except RemoteProtocolError as exc:
        if isinstance(message, Response) and exc.status_hint is not None:
            raise RemoteProtocolError(exc.reason, None) from None
        raise


def _validate(message: Request | Response) -> None:
    # Reading these typed values parses them, which is the check.
    if isinstance(message, Request):
        _ = (message.uri, message.max_forwards)
    _ = (message.vias, message.from_, message.to, message.contacts)
    headers = message.headers
    seen: set[str] = set()
    for index, key in enumerate(headers.keys):
        _check_text(key, headers.value_at(index))
        if key in seen:
            continue
        seen.add(key)
        checker = _CHECKERS.get(key)
        if checker is None:
            continue
        lines = headers.get_all(key)
        values: list[str] = []
        for line in lines:
            values.extend(split_list(line, display_name(key)) if key in LIST_HEADERS else [line])
        checker(values, display_name(key))
