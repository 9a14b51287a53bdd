"""Typed values of the SDP fields (RFC 8866 §5), each with ``parse(text)`` and ``__str__``.

A field value is the text after ``<type>=`` on one line.  ``parse`` reads text sent by a peer and
raises :class:`~gateway.errors.RemoteProtocolError` (status 400) naming the field and what is
wrong; ``str()`` renders the canonical form used when gwemu writes a description.  The exact text
received is kept by the line that holds it (``gateway.sdp.description.SdpLine``), so a value read
liberally (runs of blanks between sub-fields) still serializes back byte for byte.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from gateway.errors import RemoteProtocolError

# RFC 8866 §5.7: the address types this module understands; others are kept as opaque tokens.
IP4 = "IP4"
IP6 = "IP6"

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
_DIGITS = frozenset("0123456789")
_DOTTED_DIGITS = frozenset("0123456789.")
_TIME_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _error(field: str, detail: str) -> RemoteProtocolError:
    """``c= address missing`` for a line type, ``a=rtpmap: ...`` for an attribute."""
    separator = "=" if len(field) == 1 else ":"
    return RemoteProtocolError(f"{field}{separator} {detail}", 400)


def parse_decimal(text: str, field: str, what: str, *, maximum: int | None = None) -> int:
    """A non-negative decimal (``1*DIGIT``); ``int()`` alone would also take ``+1`` or ``1_0``."""
    if not text or not _DIGITS.issuperset(text):
        raise _error(field, f"{what} must be a decimal number, got {text!r}")
    value = int(text)
    if maximum is not None and value > maximum:
        raise _error(field, f"{what} {value} is out of range (0-{maximum})")
    return value


def _check_address(field: str, addrtype: str, address: str) -> None:
    """Validate an IPv4/IPv6 literal or a host name (RFC 8866 §9 ``unicast-address``).

    Unknown address types are kept as opaque tokens: RFC 8866 lets new ones be registered.
    """
    if addrtype == IP4:
        if _DOTTED_DIGITS.issuperset(address):
            try:
                ipaddress.IPv4Address(address)
            except ValueError:
                raise _error(field, f"{address!r} is not a valid IPv4 address") from None
        elif not _HOST_CHARS.issuperset(address):
            raise _error(field, f"{address!r} is neither an IPv4 address nor a host name")
    elif addrtype == IP6:
        if address.startswith("["):
            # RFC 5118 §4.7: SDP carries IPv6 addresses without the brackets SIP URIs use.
            raise _error(field, f"IPv6 address {address!r} must not be bracketed in SDP")
        if ":" in address:
            try:
                ipaddress.IPv6Address(address)
            except ValueError:
                raise _error(field, f"{address!r} is not a valid IPv6 address") from None
        elif not _HOST_CHARS.issuperset(address):
            raise _error(field, f"{address!r} is neither an IPv6 address nor a host name")


def address_type_of(address: str) -> str:
    """``IP6`` for an IPv6 literal, else ``IP4`` (for IPv4 literals and host names)."""
    return IP6 if ":" in address else IP4


def is_unspecified_address(address: str) -> bool:
    """True for ``0.0.0.0`` / ``::``: the RFC 2543 hold style, "send me nothing" (RFC 3264 §8.4)."""
    try:
        return ipaddress.ip_address(address).is_unspecified
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`` (§5.2)."""

    username: str
    session_id: int
    session_version: int
    nettype: str
    addrtype: str
    address: str

    @classmethod
    def for_address(
        cls, address: str, session_id: int, session_version: int, username: str = "gwemu"
    ) -> Origin:
        """An ``IN`` origin for ``address``, with ``IP4``/``IP6`` chosen from its form."""
        return cls(username, session_id, session_version, "IN", address_type_of(address), address)

    @classmethod
    def parse(cls, text: str) -> Origin:
        parts = text.split()
        if len(parts) != 6:
            raise _error(
                "o",
                "needs 6 fields (username sess-id sess-version nettype addrtype address), "
                f"got {len(parts)}",
            )
        username, sess_id, sess_version, nettype, addrtype, address = parts
        session_id = parse_decimal(sess_id, "o", "sess-id")
        session_version = parse_decimal(sess_version, "o", "sess-version")
        _check_address("o", addrtype, address)
        return cls(username, session_id, session_version, nettype, addrtype, address)

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """``c=<nettype> <addrtype> <connection-address>`` (§5.7).

    Multicast sub-fields are kept: IPv4 ``addr/ttl[/count]``, IPv6 ``addr[/count]``.
    """

    nettype: str
    addrtype: str
    address: str
    ttl: int | None = None
    count: int | None = None

    @classmethod
    def for_address(cls, address: str) -> Connection:
        """A unicast ``IN`` connection for ``address`` (``IP4``/``IP6`` from its form)."""
        return cls("IN", address_type_of(address), address)

    @classmethod
    def parse(cls, text: str) -> Connection:
        parts = text.split()
        if len(parts) < 3:
            missing = ("nettype", "addrtype", "address")[len(parts)]
            raise _error("c", f"{missing} missing")
        if len(parts) > 3:
            raise _error("c", f"unexpected text after the address: {' '.join(parts[3:])!r}")
        nettype, addrtype, spec = parts
        pieces = spec.split("/")
        address = pieces[0]
        if not address:
            raise _error("c", "address missing")
        ttl: int | None = None
        count: int | None = None
        if addrtype == IP4 and len(pieces) in (2, 3):
            ttl = parse_decimal(pieces[1], "c", "multicast TTL", maximum=255)
            if len(pieces) == 3:
                count = parse_decimal(pieces[2], "c", "address count")
        elif addrtype == IP6 and len(pieces) == 2:
            count = parse_decimal(pieces[1], "c", "address count")
        elif len(pieces) > 1:
            raise _error("c", f"malformed connection address {spec!r}")
        _check_address("c", addrtype, address)
        return cls(nettype, addrtype, address, ttl, count)

    @property
    def is_unspecified(self) -> bool:
        """``0.0.0.0``/``::``: RFC 2543-style hold, no RTP or RTCP to this peer (RFC 3264 §8.4)."""
        return is_unspecified_address(self.address)

    def __str__(self) -> str:
        spec = self.address
        if self.ttl is not None:
            spec += f"/{self.ttl}"
        if self.count is not None:
            spec += f"/{self.count}"
        return f"{self.nettype} {self.addrtype} {spec}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` (§5.8): ``CT``/``AS`` in kbit/s, ``TIAS`` (RFC 3890) in bit/s."""

    bwtype: str
    bandwidth: int

    @classmethod
    def parse(cls, text: str) -> Bandwidth:
        bwtype, colon, value = text.partition(":")
        if not colon or not bwtype or " " in bwtype:
            raise _error("b", f"must be <bwtype>:<bandwidth>, got {text!r}")
        return cls(bwtype, parse_decimal(value.strip(), "b", "bandwidth"))

    def __str__(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"


@dataclass(frozen=True, slots=True)
class Timing:
    """``t=<start-time> <stop-time>`` (§5.9), NTP seconds; ``t=0 0`` is a permanent session."""

    start: int
    stop: int

    @classmethod
    def parse(cls, text: str) -> Timing:
        parts = text.split()
        if len(parts) != 2:
            raise _error("t", f"needs <start-time> <stop-time>, got {text!r}")
        return cls(
            parse_decimal(parts[0], "t", "start-time"), parse_decimal(parts[1], "t", "stop-time")
        )

    def __str__(self) -> str:
        return f"{self.start} {self.stop}"


def typed_time_seconds(text: str, field: str) -> int:
    """Seconds of an RFC 8866 ``typed-time`` (``7d``, ``25h``, ``3600``); ``-`` allowed by z=."""
    negative = text.startswith("-")
    body = text[1:] if negative else text
    multiplier = 1
    if body and body[-1] in _TIME_UNITS:
        multiplier = _TIME_UNITS[body[-1]]
        body = body[:-1]
    seconds = parse_decimal(body, field, "time") * multiplier
    return -seconds if negative else seconds


@dataclass(frozen=True, slots=True)
class RepeatTimes:
    """``r=<repeat interval> <active duration> <offsets from start-time>`` (§5.10).

    Values are kept as written (``7d``, ``1h``) because the unit is part of the text; the
    ``*_seconds`` properties give the numbers.
    """

    interval: str
    duration: str
    offsets: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> RepeatTimes:
        parts = text.split()
        if len(parts) < 3:
            raise _error("r", "needs <interval> <duration> and at least one offset")
        for part in parts:
            if part.startswith("-"):
                raise _error("r", f"negative time {part!r}")
            typed_time_seconds(part, "r")
        return cls(parts[0], parts[1], tuple(parts[2:]))

    @property
    def interval_seconds(self) -> int:
        return typed_time_seconds(self.interval, "r")

    @property
    def duration_seconds(self) -> int:
        return typed_time_seconds(self.duration, "r")

    @property
    def offsets_seconds(self) -> tuple[int, ...]:
        return tuple(typed_time_seconds(offset, "r") for offset in self.offsets)

    def __str__(self) -> str:
        return " ".join((self.interval, self.duration, *self.offsets))


@dataclass(frozen=True, slots=True)
class ZoneAdjustments:
    """``z=<adjustment time> <offset> ...`` (§5.11): pairs of NTP time and signed typed-time."""

    adjustments: tuple[tuple[int, str], ...]

    @classmethod
    def parse(cls, text: str) -> ZoneAdjustments:
        parts = text.split()
        if not parts or len(parts) % 2:
            raise _error("z", "needs pairs of <adjustment time> <offset>")
        pairs: list[tuple[int, str]] = []
        for index in range(0, len(parts), 2):
            when = parse_decimal(parts[index], "z", "adjustment time")
            typed_time_seconds(parts[index + 1], "z")
            pairs.append((when, parts[index + 1]))
        return cls(tuple(pairs))

    def __str__(self) -> str:
        return " ".join(f"{when} {offset}" for when, offset in self.adjustments)


@dataclass(frozen=True, slots=True)
class MediaField:
    """``m=<media> <port>[/<number of ports>] <proto> <fmt> ...`` (§5.14)."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    port_count: int | None = None

    @classmethod
    def parse(cls, text: str) -> MediaField:
        parts = text.split()
        if len(parts) < 3:
            missing = ("media", "port", "proto")[len(parts)]
            raise _error("m", f"{missing} missing")
        media, port_spec, proto, *formats = parts
        port_text, slash, count_text = port_spec.partition("/")
        port = parse_decimal(port_text, "m", "port", maximum=65535)
        count = parse_decimal(count_text, "m", "number of ports") if slash else None
        if count == 0:
            raise _error("m", "number of ports must be at least 1")
        if not formats:
            raise _error("m", "needs at least one format after the proto")
        if is_rtp_proto(proto):
            # RFC 8866 §5.14: with an RTP profile the formats are RTP payload type numbers.
            for fmt in formats:
                parse_decimal(fmt, "m", "RTP payload type", maximum=127)
        return cls(media, port, proto, tuple(formats), count)

    def __str__(self) -> str:
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        return " ".join((self.media, port, self.proto, *self.formats))


def is_rtp_proto(proto: str) -> bool:
    """RTP/AVP, RTP/SAVP, RTP/AVPF, UDP/TLS/RTP/SAVPF, TCP/RTP/AVP ...: formats are RTP PTs."""
    return "RTP/" in proto.upper()


@dataclass(frozen=True, slots=True)
class Attribute:
    """``a=<name>`` (property) or ``a=<name>:<value>`` (value attribute), RFC 8866 §5.13.

    ``value`` is ``None`` for a property attribute and ``""`` for ``a=name:`` with nothing after
    the colon, so both forms round-trip.
    """

    name: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Attribute:
        name, colon, value = text.partition(":")
        if not name:
            raise _error("a", "attribute name missing")
        if " " in name or "\t" in name:
            raise _error("a", f"attribute name {name!r} contains a blank")
        return cls(name, value if colon else None)

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class RtcpAddress:
    """``a=rtcp:<port> [<nettype> <addrtype> <connection-address>]`` (RFC 3605 §2.1)."""

    port: int
    connection: Connection | None = None

    @classmethod
    def parse(cls, text: str) -> RtcpAddress:
        port_text, _, rest = text.strip().partition(" ")
        port = parse_decimal(port_text, "a=rtcp", "port", maximum=65535)
        if not rest.strip():
            return cls(port)
        try:
            connection = Connection.parse(rest)
        except RemoteProtocolError as exc:
            raise _error("a=rtcp", f"bad address: {exc.reason}") from None
        return cls(port, connection)

    def __str__(self) -> str:
        return str(self.port) if self.connection is None else f"{self.port} {self.connection}"
