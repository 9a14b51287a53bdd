"""The session description model (RFC 8866, compatible with RFC 4566) that round-trips exactly.

A description is its lines: :class:`SessionDescription` holds the session-level lines and a
tuple of :class:`MediaDescription` (each starting at its ``m=`` line), and every
:class:`SdpLine` keeps its type letter, its value text and its own line ending.  ``bytes(sd)``
is therefore exactly what ``SessionDescription.parse`` read, whatever the spacing, line endings
(CRLF, or LF as RFC 8866 §5 asks parsers to accept) or unknown lines and attributes.

Typed views (origin, connection, media port, rtpmap, direction...) are computed once, when the
value is built, by the same code that enforces the field order of RFC 8866 §5.  Building an
invalid description raises :class:`InvalidSdpLine` (a LocalProtocolError: our caller's bug);
``parse`` turns that into ``RemoteProtocolError(..., status_hint=400)`` with the line number:
``SDP line 4: c= address missing``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar, cast

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sdp.fields import (
    Attribute,
    Bandwidth,
    Connection,
    MediaField,
    Origin,
    RepeatTimes,
    RtcpAddress,
    Timing,
    ZoneAdjustments,
    is_rtp_proto,
)
from gateway.sdp.payload import STATIC_PAYLOAD_TYPES, Fmtp, PayloadFormat, RtpMap

T = TypeVar("T")

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
DIRECTIONS: frozenset[str] = frozenset(("sendrecv", "sendonly", "recvonly", "inactive"))

CRLF = b"\r\n"
_LINE_ENDINGS = (b"\r\n", b"\n", b"")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
# Field order of RFC 8866 §5; a line may follow another of equal or higher rank only.
_SESSION_RANK = {k: r for r, k in enumerate("vosiuepcbtrzka")}
_MEDIA_RANK = {k: r for r, k in enumerate("micbka")}
_SESSION_SINGLE = frozenset("osiuck")
_MEDIA_SINGLE = frozenset("ik")
# Fields with structured values: RFC 8866 §5 forbids whitespace on either side of '='.
_STRUCTURED = frozenset("voctbrzm")
_SESSION_ORDER_TEXT = "v o s i u e p c b t r z k a"
_MEDIA_ORDER_TEXT = "m i c b k a"


class InvalidSdpLine(LocalProtocolError):
    """A description was built from lines that break RFC 8866.

    ``index`` is the offending line's position in the section being built (``None`` when the
    problem is not tied to one line); :meth:`SessionDescription.parse` adds the line number.
    """

    def __init__(self, index: int | None, detail: str) -> None:
        super().__init__(detail if index is None else f"line {index + 1}: {detail}")
        self.index = index
        self.detail = detail


def _encode(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class SdpLine:
    """One ``<type>=<value>`` line with its own line ending (``\\r\\n``, ``\\n``, or ``b""`` last).

    ``value`` is the text after ``=``; bytes that are not UTF-8 survive as surrogate escapes so
    the line serializes back unchanged.
    """

    kind: str
    value: str
    eol: bytes = CRLF

    def __post_init__(self) -> None:
        problem = _line_problem(self.kind, self.value, self.eol)
        if problem:
            raise InvalidSdpLine(None, problem)

    @classmethod
    def of(cls, kind: str, value: object, eol: bytes = CRLF) -> SdpLine:
        """A line from a typed value (``SdpLine.of("c", Connection.for_address(ip))``)."""
        return cls(kind, str(value), eol)

    def __bytes__(self) -> bytes:
        return self.kind.encode("ascii") + b"=" + _encode(self.value) + self.eol

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


def _line_problem(kind: str, value: str, eol: bytes) -> str | None:
    if len(kind) != 1 or kind not in _LOWER:
        return f"type {kind!r} is not a single lowercase letter"
    if eol not in _LINE_ENDINGS:
        return f"line ending {eol!r} is not CRLF or LF"
    if "\r" in value or "\n" in value or "\0" in value:
        return f"{kind}= value contains CR, LF or NUL"
    if not value.isascii():
        try:
            _encode(value)
        except UnicodeEncodeError:
            return f"{kind}= value is not encodable text"
    if kind in _STRUCTURED and value[:1].isspace():
        return f"{kind}= has whitespace after '=' (RFC 8866 §5)"
    return None


@dataclass(frozen=True, slots=True)
class TimeDescription:
    """One ``t=`` line with its ``r=`` lines and the ``z=`` line that follows them, if any."""

    timing: Timing
    repeats: tuple[RepeatTimes, ...] = ()
    zone: ZoneAdjustments | None = None


def _parse_field(index: int, parse: Callable[[str], T], text: str) -> T:
    """Run a field parser, reporting its error against line ``index``."""
    try:
        return parse(text)
    except RemoteProtocolError as exc:
        raise InvalidSdpLine(index, exc.reason) from None


def _positive_number(index: int, name: str, value: str | None) -> float:
    """``a=ptime``/``a=maxptime`` values: RFC 8866 §9 ``non-zero-int-or-real`` milliseconds."""
    text = (value or "").strip()
    whole, dot, fraction = text.partition(".")
    if not _is_digits(whole) or (dot and not _is_digits(fraction)):
        raise InvalidSdpLine(index, f"a={name} must be a number of milliseconds, got {value!r}")
    number = float(text)
    if number <= 0:
        raise InvalidSdpLine(index, f"a={name} must not be 0")
    return number


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _check_property(index: int, attribute: Attribute) -> Direction:
    if attribute.value is not None:
        raise InvalidSdpLine(index, f"a={attribute.name} takes no value")
    return cast("Direction", attribute.name)


def _merge_direction(index: int, current: Direction | None, new: Direction) -> Direction:
    # RFC 3264 §5.1 / RFC 8866 §6.7: one direction per section; repeating the same one is harmless.
    if current is not None and current != new:
        raise InvalidSdpLine(index, f"a={new} conflicts with a={current} in the same section")
    return new


def _order_error(kind: str, previous: str, order: str) -> str:
    return f"{kind}= must come before {previous}= (RFC 8866 §5 order: {order})"


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One media section: the ``m=`` line and the ``i= c= b= k= a=`` lines that follow it.

    Typed views are plain attributes computed when the value is built; ``lines`` is the truth.
    """

    lines: tuple[SdpLine, ...]
    media_field: MediaField = field(init=False, repr=False, compare=False)
    information: str | None = field(init=False, repr=False, compare=False)
    connections: tuple[Connection, ...] = field(init=False, repr=False, compare=False)
    bandwidths: tuple[Bandwidth, ...] = field(init=False, repr=False, compare=False)
    key: str | None = field(init=False, repr=False, compare=False)
    attributes: tuple[Attribute, ...] = field(init=False, repr=False, compare=False)
    rtpmaps: tuple[RtpMap, ...] = field(init=False, repr=False, compare=False)
    fmtps: tuple[Fmtp, ...] = field(init=False, repr=False, compare=False)
    direction: Direction | None = field(init=False, repr=False, compare=False)
    ptime: float | None = field(init=False, repr=False, compare=False)
    maxptime: float | None = field(init=False, repr=False, compare=False)
    rtcp: RtcpAddress | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lines = self.lines
        if not lines or lines[0].kind != "m":
            raise InvalidSdpLine(0, "a media section must start with m=")
        media_field: MediaField = _parse_field(0, MediaField.parse, lines[0].value)
        information: str | None = None
        key: str | None = None
        connections: list[Connection] = []
        bandwidths: list[Bandwidth] = []
        attributes: list[Attribute] = []
        rtpmaps: dict[int, RtpMap] = {}
        fmtps: dict[str, Fmtp] = {}
        direction: Direction | None = None
        ptime: float | None = None
        maxptime: float | None = None
        rtcp: RtcpAddress | None = None
        rank = 0
        previous = "m"
        for index in range(1, len(lines)):
            line = lines[index]
            kind = line.kind
            new_rank = _MEDIA_RANK.get(kind)
            if kind == "m":
                raise InvalidSdpLine(index, "a media section has only one m= line")
            if new_rank is None:
                if kind in _SESSION_RANK:
                    raise InvalidSdpLine(index, f"{kind}= is not allowed in a media section")
                continue  # an unknown type letter: kept verbatim, takes no part in the order
            if new_rank < rank:
                raise InvalidSdpLine(index, _order_error(kind, previous, _MEDIA_ORDER_TEXT))
            if new_rank == rank and kind in _MEDIA_SINGLE:
                raise InvalidSdpLine(index, f"only one {kind}= line is allowed per media section")
            rank, previous = new_rank, kind
            value = line.value
            if kind == "i":
                information = value
            elif kind == "c":
                connections.append(_parse_field(index, Connection.parse, value))
            elif kind == "b":
                bandwidths.append(_parse_field(index, Bandwidth.parse, value))
            elif kind == "k":
                key = value
            else:
                attribute: Attribute = _parse_field(index, Attribute.parse, value)
                attributes.append(attribute)
                name = attribute.name
                if name == "rtpmap":
                    rtpmap: RtpMap = _parse_field(index, RtpMap.parse, attribute.value or "")
                    if rtpmap.payload_type in rtpmaps:
                        raise InvalidSdpLine(
                            index, f"a=rtpmap for payload type {rtpmap.payload_type} given twice"
                        )
                    rtpmaps[rtpmap.payload_type] = rtpmap
                elif name == "fmtp":
                    fmtp: Fmtp = _parse_field(index, Fmtp.parse, attribute.value or "")
                    if fmtp.format in fmtps:
                        raise InvalidSdpLine(index, f"a=fmtp for format {fmtp.format} given twice")
                    fmtps[fmtp.format] = fmtp
                elif name in DIRECTIONS:
                    direction = _merge_direction(
                        index, direction, _check_property(index, attribute)
                    )
                elif name == "ptime":
                    ptime = _positive_number(index, name, attribute.value)
                elif name == "maxptime":
                    maxptime = _positive_number(index, name, attribute.value)
                elif name == "rtcp":
                    rtcp = _parse_field(index, RtcpAddress.parse, attribute.value or "")
        set_ = object.__setattr__
        set_(self, "media_field", media_field)
        set_(self, "information", information)
        set_(self, "connections", tuple(connections))
        set_(self, "bandwidths", tuple(bandwidths))
        set_(self, "key", key)
        set_(self, "attributes", tuple(attributes))
        set_(self, "rtpmaps", tuple(rtpmaps.values()))
        set_(self, "fmtps", tuple(fmtps.values()))
        set_(self, "direction", direction)
        set_(self, "ptime", ptime)
        set_(self, "maxptime", maxptime)
        set_(self, "rtcp", rtcp)

    # ----------------------------------------------------------------------------- building

    @classmethod
    def build(
        cls,
        media_field: MediaField,
        *,
        information: str | None = None,
        connections: Iterable[Connection] = (),
        bandwidths: Iterable[Bandwidth] = (),
        key: str | None = None,
        attributes: Iterable[Attribute] = (),
        eol: bytes = CRLF,
    ) -> MediaDescription:
        """A media section with its lines in RFC 8866 order."""
        lines = [SdpLine.of("m", media_field, eol)]
        if information is not None:
            lines.append(SdpLine("i", information, eol))
        lines += [SdpLine.of("c", connection, eol) for connection in connections]
        lines += [SdpLine.of("b", bandwidth, eol) for bandwidth in bandwidths]
        if key is not None:
            lines.append(SdpLine("k", key, eol))
        lines += [SdpLine.of("a", attribute, eol) for attribute in attributes]
        return cls(tuple(lines))

    def with_media_field(self, media_field: MediaField) -> MediaDescription:
        """The same section with a new ``m=`` line (its line ending kept)."""
        first = self.lines[0]
        return MediaDescription((SdpLine.of("m", media_field, first.eol), *self.lines[1:]))

    def with_port(self, port: int) -> MediaDescription:
        """The same section on another port (``0`` rejects/disables it, RFC 3264 §6)."""
        return self.with_media_field(dataclasses.replace(self.media_field, port=port))

    def with_connection(self, connection: Connection | None) -> MediaDescription:
        """Replace every media-level ``c=`` line by ``connection`` (or drop them for ``None``)."""
        return MediaDescription(_replace_kind(self.lines, "c", connection, _MEDIA_RANK))

    def with_direction(self, direction: Direction | None) -> MediaDescription:
        """Replace the direction attribute (``None`` leaves the session default in force)."""
        kept = tuple(
            line
            for line in self.lines
            if not (line.kind == "a" and line.value.partition(":")[0] in DIRECTIONS)
        )
        if direction is not None:
            kept += (SdpLine("a", direction, _eol_for_new_line(kept)),)
        return MediaDescription(kept)

    # ----------------------------------------------------------------------------- reading

    @property
    def media(self) -> str:
        return self.media_field.media

    @property
    def port(self) -> int:
        return self.media_field.port

    @property
    def port_count(self) -> int | None:
        return self.media_field.port_count

    @property
    def proto(self) -> str:
        return self.media_field.proto

    @property
    def formats(self) -> tuple[str, ...]:
        return self.media_field.formats

    @property
    def is_rtp(self) -> bool:
        return is_rtp_proto(self.proto)

    @property
    def connection(self) -> Connection | None:
        """The first media-level ``c=`` (several only occur for layered multicast)."""
        return self.connections[0] if self.connections else None

    def attribute(self, name: str) -> str | None:
        """The value of the first ``a=<name>:<value>`` ('' for a property), or ``None``."""
        for attribute in self.attributes:
            if attribute.name == name:
                return "" if attribute.value is None else attribute.value
        return None

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        for rtpmap in self.rtpmaps:
            if rtpmap.payload_type == payload_type:
                return rtpmap
        return None

    def fmtp(self, fmt: str | int) -> str | None:
        """The format-specific parameters for ``fmt``, or ``None`` when there is no a=fmtp."""
        wanted = str(fmt)
        for fmtp in self.fmtps:
            if fmtp.format == wanted:
                return fmtp.parameters
        return None

    def payload_format(self, payload_type: int) -> PayloadFormat | None:
        """The codec behind an RTP payload type: its ``a=rtpmap``, else RFC 3551's static table."""
        rtpmap = self.rtpmap(payload_type)
        fmtp = self.fmtp(payload_type)
        if rtpmap is not None:
            return PayloadFormat(
                payload_type,
                rtpmap.encoding_name,
                rtpmap.clock_rate,
                rtpmap.channels or 1,
                fmtp,
            )
        static = STATIC_PAYLOAD_TYPES.get(payload_type)
        if static is None:
            return None
        return dataclasses.replace(static, fmtp=fmtp)

    def payload_formats(self) -> tuple[PayloadFormat, ...]:
        """Every format of an RTP ``m=`` line that resolves to a codec, in ``m=`` order."""
        if not self.is_rtp:
            return ()
        resolved = (self.payload_format(int(fmt)) for fmt in self.formats)
        return tuple(fmt for fmt in resolved if fmt is not None)

    def __bytes__(self) -> bytes:
        return b"".join(bytes(line) for line in self.lines)


def _eol_for_new_line(lines: Sequence[SdpLine]) -> bytes:
    """The line ending to give an added line: the section's own (LF-only stays LF-only)."""
    for line in lines:
        if line.eol:
            return line.eol
    return CRLF


def _replace_kind(
    lines: tuple[SdpLine, ...], kind: str, value: object | None, ranks: dict[str, int]
) -> tuple[SdpLine, ...]:
    """Drop every ``kind`` line and, unless ``value`` is None, put one back where it belongs.

    The new line takes the place of the first dropped one, else the first place the field
    order of RFC 8866 §5 allows.
    """
    position: int | None = None
    kept: list[SdpLine] = []
    for line in lines:
        if line.kind == kind:
            if position is None:
                position = len(kept)
            continue
        kept.append(line)
    if value is None:
        return tuple(kept)
    if position is None:
        rank = ranks[kind]
        position = len(kept)
        for index in range(1, len(kept)):
            other = ranks.get(kept[index].kind)
            if other is not None and other > rank:
                position = index
                break
    kept.insert(position, SdpLine.of(kind, value, _eol_for_new_line(lines)))
    return tuple(kept)


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A whole SDP body: session-level lines, media sections, and trailing blank lines.

    ``trailer`` keeps blank lines some stacks append after the last line (only ``\\r\\n``/``\\n``).
    """

    lines: tuple[SdpLine, ...]
    media: tuple[MediaDescription, ...] = ()
    trailer: bytes = b""
    version: int = field(init=False, repr=False, compare=False)
    origin: Origin = field(init=False, repr=False, compare=False)
    name: str = field(init=False, repr=False, compare=False)
    information: str | None = field(init=False, repr=False, compare=False)
    uri: str | None = field(init=False, repr=False, compare=False)
    emails: tuple[str, ...] = field(init=False, repr=False, compare=False)
    phones: tuple[str, ...] = field(init=False, repr=False, compare=False)
    connection: Connection | None = field(init=False, repr=False, compare=False)
    bandwidths: tuple[Bandwidth, ...] = field(init=False, repr=False, compare=False)
    times: tuple[TimeDescription, ...] = field(init=False, repr=False, compare=False)
    key: str | None = field(init=False, repr=False, compare=False)
    attributes: tuple[Attribute, ...] = field(init=False, repr=False, compare=False)
    direction: Direction | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lines = self.lines
        if not lines or lines[0].kind != "v":
            raise InvalidSdpLine(0, "a session description must start with v=")
        self._check_framing()
        if lines[0].value != "0":
            raise InvalidSdpLine(0, f"v= version must be 0, got {lines[0].value!r}")
        seen: set[str] = set()
        origin: Origin | None = None
        name = ""
        values: dict[str, str] = {}
        emails: list[str] = []
        phones: list[str] = []
        connection: Connection | None = None
        bandwidths: list[Bandwidth] = []
        times: list[TimeDescription] = []
        attributes: list[Attribute] = []
        direction: Direction | None = None
        rank = 0
        previous = "v"
        for index in range(1, len(lines)):
            line = lines[index]
            kind = line.kind
            new_rank = _SESSION_RANK.get(kind)
            if kind == "v":
                raise InvalidSdpLine(index, "v= may appear only once, as the first line")
            if new_rank is None:
                if kind == "m":
                    raise InvalidSdpLine(index, "m= lines belong to media sections")
                continue  # an unknown type letter: kept verbatim, takes no part in the order
            _check_required(index, seen, new_rank)
            if new_rank < rank and not (kind == "t" and previous in "trz"):
                raise InvalidSdpLine(index, _order_error(kind, previous, _SESSION_ORDER_TEXT))
            if kind in seen and kind in _SESSION_SINGLE:
                raise InvalidSdpLine(index, f"{kind}= may appear only once at session level")
            if kind == "z" and previous not in "tr":
                raise InvalidSdpLine(index, "z= must follow the t=/r= lines of its time")
            rank, previous = new_rank, kind
            seen.add(kind)
            value = line.value
            if kind == "o":
                origin = _parse_field(index, Origin.parse, value)
            elif kind == "s":
                name = value
            elif kind in "iuk":
                values[kind] = value
            elif kind == "e":
                emails.append(value)
            elif kind == "p":
                phones.append(value)
            elif kind == "c":
                connection = _parse_field(index, Connection.parse, value)
            elif kind == "b":
                bandwidths.append(_parse_field(index, Bandwidth.parse, value))
            elif kind == "t":
                times.append(TimeDescription(_parse_field(index, Timing.parse, value)))
            elif kind == "r":
                repeat: RepeatTimes = _parse_field(index, RepeatTimes.parse, value)
                times[-1] = dataclasses.replace(times[-1], repeats=(*times[-1].repeats, repeat))
            elif kind == "z":
                zone: ZoneAdjustments = _parse_field(index, ZoneAdjustments.parse, value)
                times[-1] = dataclasses.replace(times[-1], zone=zone)
            else:
                attribute: Attribute = _parse_field(index, Attribute.parse, value)
                attributes.append(attribute)
                if attribute.name in DIRECTIONS:
                    direction = _merge_direction(
                        index, direction, _check_property(index, attribute)
                    )
        _check_required(len(lines), seen, len(_SESSION_RANK))
        assert origin is not None  # _check_required saw the o= line
        set_ = object.__setattr__
        set_(self, "version", 0)
        set_(self, "origin", origin)
        set_(self, "name", name)
        set_(self, "information", values.get("i"))
        set_(self, "uri", values.get("u"))
        set_(self, "emails", tuple(emails))
        set_(self, "phones", tuple(phones))
        set_(self, "connection", connection)
        set_(self, "bandwidths", tuple(bandwidths))
        set_(self, "times", tuple(times))
        set_(self, "key", values.get("k"))
        set_(self, "attributes", tuple(attributes))
        set_(self, "direction", direction)

    def _check_framing(self) -> None:
        """Only the very last line may lack a line ending; the trailer holds only blank lines."""
        every = [*self.lines, *(line for media in self.media for line in media.lines)]
        for index, line in enumerate(every[:-1]):
            if not line.eol:
                raise InvalidSdpLine(index, f"{line.kind}= has no line ending but is not last")
        if self.trailer:
            if not every[-1].eol:
                raise InvalidSdpLine(None, "blank lines cannot follow a line without line ending")
            if self.trailer.replace(b"\r\n", b"").replace(b"\n", b""):
                raise InvalidSdpLine(None, "the trailer may only hold blank lines")

    # ----------------------------------------------------------------------------- parsing

    @classmethod
    def parse(cls, data: bytes) -> SessionDescription:
        """Read an SDP body; malformed input raises ``RemoteProtocolError(status_hint=400)``.

        Lines may end in CRLF or in LF alone (RFC 8866 §5); the last line may lack an ending,
        and blank lines after it are kept in ``trailer``.  Each line keeps its own ending.
        """
        if not data:
            raise RemoteProtocolError("SDP body is empty", 400)
        pieces = data.split(b"\n")
        entries: list[tuple[bytes, bytes]] = []
        for piece in pieces[:-1]:
            if piece.endswith(b"\r"):
                entries.append((piece[:-1], b"\r\n"))
            else:
                entries.append((piece, b"\n"))
        if pieces[-1]:
            entries.append((pieces[-1], b""))
        trailer_parts: list[bytes] = []
        while len(entries) > 1 and not entries[-1][0] and entries[-1][1]:
            trailer_parts.append(entries.pop()[1])
        trailer = b"".join(reversed(trailer_parts))
        lines = [_read_line(number, content, eol) for number, (content, eol) in enumerate(entries)]
        starts = [index for index, line in enumerate(lines) if line.kind == "m"]
        bounds = [*starts, len(lines)]
        offset = 0
        try:
            media = []
            for start, end in itertools.pairwise(bounds):
                offset = start
                media.append(MediaDescription(tuple(lines[start:end])))
            offset = 0
            return cls(tuple(lines[: bounds[0]]), tuple(media), trailer)
        except InvalidSdpLine as exc:
            if exc.index is None or offset + exc.index >= len(lines):
                where = "SDP"
            else:
                where = f"SDP line {offset + exc.index + 1}"
            raise RemoteProtocolError(f"{where}: {exc.detail}", 400) from None

    def __bytes__(self) -> bytes:
        parts = [bytes(line) for line in self.lines]
        parts += [bytes(line) for media in self.media for line in media.lines]
        parts.append(self.trailer)
        return b"".join(parts)

    # ----------------------------------------------------------------------------- building

    @classmethod
    def build(
        cls,
        origin: Origin,
        name: str = "-",
        *,
        information: str | None = None,
        uri: str | None = None,
        emails: Iterable[str] = (),
        phones: Iterable[str] = (),
        connection: Connection | None = None,
        bandwidths: Iterable[Bandwidth] = (),
        times: Iterable[TimeDescription] = (TimeDescription(Timing(0, 0)),),
        key: str | None = None,
        attributes: Iterable[Attribute] = (),
        media: Iterable[MediaDescription] = (),
        eol: bytes = CRLF,
    ) -> SessionDescription:
        """A description with its session-level lines in RFC 8866 §5 order."""
        lines = [SdpLine("v", "0", eol), SdpLine.of("o", origin, eol), SdpLine("s", name, eol)]
        for kind, text in (("i", information), ("u", uri)):
            if text is not None:
                lines.append(SdpLine(kind, text, eol))
        lines += [SdpLine("e", email, eol) for email in emails]
        lines += [SdpLine("p", phone, eol) for phone in phones]
        if connection is not None:
            lines.append(SdpLine.of("c", connection, eol))
        lines += [SdpLine.of("b", bandwidth, eol) for bandwidth in bandwidths]
        for time in times:
            lines.append(SdpLine.of("t", time.timing, eol))
            lines += [SdpLine.of("r", repeat, eol) for repeat in time.repeats]
            if time.zone is not None:
                lines.append(SdpLine.of("z", time.zone, eol))
        if key is not None:
            lines.append(SdpLine("k", key, eol))
        lines += [SdpLine.of("a", attribute, eol) for attribute in attributes]
        return cls(tuple(lines), tuple(media))

    def with_origin(self, origin: Origin) -> SessionDescription:
        return self._with_session_lines(_replace_kind(self.lines, "o", origin, _SESSION_RANK))

    def with_connection(self, connection: Connection | None) -> SessionDescription:
        """Replace (or with ``None`` drop) the session-level ``c=`` line."""
        return self._with_session_lines(_replace_kind(self.lines, "c", connection, _SESSION_RANK))

    def with_media(self, media: Iterable[MediaDescription]) -> SessionDescription:
        return self._with(self.lines, tuple(media))

    def replace_media(self, index: int, media: MediaDescription) -> SessionDescription:
        streams = list(self.media)
        streams[index] = media
        return self._with(self.lines, tuple(streams))

    def _with_session_lines(self, lines: tuple[SdpLine, ...]) -> SessionDescription:
        return self._with(lines, self.media)

    def _with(
        self, lines: tuple[SdpLine, ...], media: tuple[MediaDescription, ...]
    ) -> SessionDescription:
        """A copy with new parts, every line but the last one terminated."""
        lines, media = _terminate(lines, media)
        last = media[-1].lines[-1] if media else lines[-1]
        return SessionDescription(lines, media, self.trailer if last.eol else b"")

    # ----------------------------------------------------------------------------- reading

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """The connection a media section uses: its own ``c=``, else the session-level one."""
        return media.connection or self.connection

    def direction_for(self, media: MediaDescription) -> Direction:
        """A section's direction: its own attribute, else the session's, else ``sendrecv``.

        RFC 8866 §6.7: a media-level direction attribute overrides the session-level one.
        """
        return media.direction or self.direction or "sendrecv"

    def attribute(self, name: str) -> str | None:
        """The value of the first session-level ``a=<name>`` ('' for a property), or ``None``."""
        for attribute in self.attributes:
            if attribute.name == name:
                return "" if attribute.value is None else attribute.value
        return None


def _terminate(
    lines: tuple[SdpLine, ...], media: tuple[MediaDescription, ...]
) -> tuple[tuple[SdpLine, ...], tuple[MediaDescription, ...]]:
    """Give a line ending to every line that lacks one, except the very last line."""

    def fixed(section: tuple[SdpLine, ...], is_last_section: bool) -> tuple[SdpLine, ...] | None:
        open_lines = [i for i, line in enumerate(section) if not line.eol]
        if not open_lines or (is_last_section and open_lines == [len(section) - 1]):
            return None
        eol = _eol_for_new_line(section)
        end = len(section) - 1 if is_last_section else len(section)
        return tuple(
            dataclasses.replace(line, eol=eol) if not line.eol and i < end else line
            for i, line in enumerate(section)
        )

    new_lines = fixed(lines, not media) or lines
    new_media = tuple(
        MediaDescription(repaired)
        if (repaired := fixed(section.lines, index == len(media) - 1)) is not None
        else section
        for index, section in enumerate(media)
    )
    return new_lines, new_media


def _check_required(index: int, seen: set[str], rank: int) -> None:
    """o=, s= and t= are mandatory (RFC 8866 §5): report the first line that comes too early."""
    for required in "ost":
        if rank > _SESSION_RANK[required] and required not in seen:
            raise InvalidSdpLine(index, f"{required}= line missing")


def _read_line(number: int, content: bytes, eol: bytes) -> SdpLine:
    """One raw line -> SdpLine, with RemoteProtocolError naming the 1-based line number."""
    where = f"SDP line {number + 1}"
    if len(content) < 2 or content[1] != 0x3D:  # "="
        if not content:
            raise RemoteProtocolError(f"{where}: empty line", 400)
        raise RemoteProtocolError(f"{where}: expected <type>=<value>, got {content[:24]!r}", 400)
    try:
        return SdpLine(chr(content[0]), content[2:].decode("utf-8", "surrogateescape"), eol)
    except InvalidSdpLine as exc:
        raise RemoteProtocolError(f"{where}: {exc.detail}", 400) from None
