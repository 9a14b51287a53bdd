"""Small structured header values: CSeq, Call-ID, Content-Length, Max-Forwards, Content-Type,
Accept media ranges, option tags and delta-seconds (RFC 3261 section 20 and section 25).

Every parser raises :class:`RemoteProtocolError` (status 400) whose reason starts with the
header name, so a UAS can answer with a phrase that says what was wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.errors import RemoteProtocolError
from gateway.sip.grammar import (
    Params,
    SipSyntaxError,
    is_token,
    parse_params,
    skip_ws,
    split_commas,
)

__all__ = [
    "CSeq",
    "ContentType",
    "MediaRange",
    "check_call_id",
    "parse_content_length",
    "parse_delta_seconds",
    "parse_max_forwards",
    "parse_method_list",
    "parse_option_tags",
    "parse_qvalue",
]

MAX_CSEQ = 2**32 - 1  # RFC 3261 section 8.1.1.5: a 32-bit unsigned integer
MAX_DELTA_SECONDS = 2**32 - 1
CSEQ_RE = re.compile(r"([0-9]++)[ \t]++([A-Za-z0-9\-.!%*_+`'~]++)")
# callid = word [ "@" word ]
CALL_ID_RE = re.compile(
    r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]++(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]++)?"
)
_TYPE_RE = re.compile(r"([A-Za-z0-9\-.!%*_+`'~]++)[ \t]*+/[ \t]*+([A-Za-z0-9\-.!%*_+`'~]++)")
_QVALUE_RE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def _bounded_int(text: str, limit: int) -> int | None:
    """``1*DIGIT`` as int when it is <= limit, else None (no huge int conversions)."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(limit)):
        return None
    value = int(significant)
    return value if value <= limit else None


@dataclass(frozen=True, slots=True)
class CSeq:
    """``CSeq: number method`` (RFC 3261 section 20.16)."""

    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        match = CSEQ_RE.fullmatch(text)
        if match is None:
            raise RemoteProtocolError(f"CSeq: malformed value {text[:60]!r}", 400)
        number = _bounded_int(match.group(1), MAX_CSEQ)
        if number is None:
            raise RemoteProtocolError(
                f"CSeq: sequence number {match.group(1)[:40]} exceeds 2**32-1", 400
            )
        return cls(number, match.group(2))

    def render(self) -> str:
        return f"{self.number} {self.method}"

    def __str__(self) -> str:
        return self.render()


def check_call_id(text: str) -> str:
    """``callid = word [ "@" word ]`` (RFC 3261 section 25.1); returns the value."""
    if CALL_ID_RE.fullmatch(text) is None:
        raise RemoteProtocolError(f"Call-ID: malformed value {text[:60]!r}", 400)
    return text


def parse_content_length(text: str) -> int:
    """``Content-Length: 1*DIGIT`` (RFC 3261 section 20.14); negative or junk is an error."""
    value = _bounded_int(text, MAX_DELTA_SECONDS)
    if value is None:
        raise RemoteProtocolError(f"Content-Length: invalid value {text[:40]!r}", 400)
    return value


def parse_max_forwards(text: str) -> int:
    """``Max-Forwards: 1*DIGIT``, 0..255 (RFC 3261 section 20.22); leading zeros allowed."""
    value = _bounded_int(text, 255)
    if value is None:
        raise RemoteProtocolError(f"Max-Forwards: {text[:40]!r} is not 0..255", 400)
    return value


def parse_delta_seconds(text: str, what: str) -> int:
    """``delta-seconds = 1*DIGIT`` limited to 2**32-1 (RFC 3261 sections 20.19, 20.10)."""
    value = _bounded_int(text, MAX_DELTA_SECONDS)
    if value is None:
        raise RemoteProtocolError(f"{what}: {text[:40]!r} is not 0..2**32-1 seconds", 400)
    return value


def parse_qvalue(text: str) -> float:
    """``qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )``."""
    if _QVALUE_RE.fullmatch(text) is None:
        raise RemoteProtocolError(f"q={text[:20]!r} is not a qvalue", 400)
    return float(text)


def parse_option_tags(values: list[str], header: str) -> tuple[str, ...]:
    """Option tags of Require/Supported/Proxy-Require/Unsupported (already comma-split)."""
    tags: list[str] = []
    for value in values:
        if not value and len(values) == 1:
            continue  # "Supported:" with no tag at all is allowed
        if not is_token(value):
            raise RemoteProtocolError(f"{header}: {value[:40]!r} is not an option tag", 400)
        tags.append(value)
    return tuple(tags)


def parse_method_list(values: list[str], header: str = "Allow") -> tuple[str, ...]:
    """Methods of an Allow header (already comma-split); an empty header is allowed."""
    return parse_option_tags(values, header)


def _parse_media(text: str, header: str, allow_wildcards: bool) -> tuple[str, str, Params]:
    text = text.strip(" \t")
    semicolon = text.find(";")
    type_text = text if semicolon < 0 else text[:semicolon]
    match = _TYPE_RE.fullmatch(type_text.rstrip(" \t"))
    if match is None:
        raise RemoteProtocolError(f"{header}: malformed media type {text[:60]!r}", 400)
    major, minor = match.group(1).lower(), match.group(2).lower()
    if not allow_wildcards and "*" in (major, minor):
        raise RemoteProtocolError(f"{header}: wildcard in {text[:60]!r}", 400)
    if major == "*" and minor != "*":
        raise RemoteProtocolError(f"{header}: '*/{minor}' is not a media range", 400)
    params = Params()
    if semicolon >= 0:
        try:
            params, stop = parse_params(text, skip_ws(text, semicolon))
        except SipSyntaxError as exc:
            raise RemoteProtocolError(f"{header}: {exc}", 400) from None
        if stop != len(text):
            raise RemoteProtocolError(f"{header}: trailing text in {text[:60]!r}", 400)
    return major, minor, params


@dataclass(frozen=True, slots=True)
class ContentType:
    """``media-type = m-type SLASH m-subtype *(SEMI m-parameter)``; type/subtype lower-cased."""

    type: str
    subtype: str
    params: Params = field(default_factory=Params)

    @classmethod
    def parse(cls, text: str) -> ContentType:
        major, minor, params = _parse_media(text, "Content-Type", allow_wildcards=False)
        return cls(major, minor, params)

    @property
    def mime(self) -> str:
        """``type/subtype`` without parameters, lower case (``application/sdp``)."""
        return f"{self.type}/{self.subtype}"

    def render(self) -> str:
        return f"{self.type}/{self.subtype}{self.params.render()}"

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One Accept entry: ``*/*``, ``type/*`` or ``type/subtype`` with parameters."""

    type: str
    subtype: str
    params: Params = field(default_factory=Params)

    @classmethod
    def parse(cls, text: str) -> MediaRange:
        major, minor, params = _parse_media(text, "Accept", allow_wildcards=True)
        return cls(major, minor, params)

    @classmethod
    def parse_list(cls, values: list[str]) -> tuple[MediaRange, ...]:
        """Accept values (already comma-split); ``Accept:`` with nothing means none."""
        if values == [""]:
            return ()
        return tuple(cls.parse(value) for value in values)

    def matches(self, mime: str) -> bool:
        """True when this range accepts ``mime`` (``type/subtype``, compared caselessly)."""
        major, _, minor = mime.lower().partition("/")
        if self.type == "*":
            return True
        return self.type == major and self.subtype in ("*", minor)

    @property
    def q(self) -> float:
        value = self.params.get("q")
        return parse_qvalue(value) if value is not None else 1.0


def split_list(value: str, header: str) -> list[str]:
    """Comma items of one header value, with the header named on error."""
    try:
        return split_commas(value)
    except SipSyntaxError as exc:
        raise RemoteProtocolError(f"{header}: {exc}", 400) from None
