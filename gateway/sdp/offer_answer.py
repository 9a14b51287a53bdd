"""SDP offer/answer (RFC 3264) for gwemu's audio calls.

Three functions carry the whole model; they are pure (no clock, no randomness: the caller gives
the ``o=`` session id and version):

* :func:`create_offer` -- our offer, first or later (re-offer, hold, resume: RFC 3264 §8);
* :func:`create_answer` -- our answer to the peer's offer, with what was negotiated;
* :func:`process_answer` -- check the peer's answer to our offer and say what was negotiated.

Delayed offer (an INVITE without SDP) uses the same functions: we :func:`create_offer` in the
200 OK and :func:`process_answer` the SDP of the ACK.

gwemu terminates one audio stream per call: the first acceptable ``m=audio`` is answered, every
other offered stream is rejected with port 0 (RFC 3264 §6).  When nothing can be accepted the
offer fails with :class:`MediaNotAcceptable` -- a RemoteProtocolError with ``status_hint=488``
and the Warning code (RFC 3261 §20.43) the 488 should carry.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sdp.description import (
    DIRECTIONS,
    Direction,
    MediaDescription,
    SessionDescription,
    TimeDescription,
)
from gateway.sdp.fields import (
    IP4,
    IP6,
    Attribute,
    Connection,
    MediaField,
    Origin,
    Timing,
)
from gateway.sdp.payload import (
    DEFAULT_TELEPHONE_EVENTS,
    DYNAMIC_PAYLOAD_TYPES,
    TELEPHONE_EVENT,
    PayloadFormat,
    format_event_list,
    g729_annex_b,
    parse_event_list,
    static_payload_type,
)

RTP_AVP = "RTP/AVP"
# Profiles we can answer: plain RTP.  AVPF without rtcp-fb behaves as AVP (RFC 4585 §3.1);
# SAVP needs SRTP keys we do not have, so such streams are rejected (Warning 302).
ANSWERABLE_PROTOS = frozenset((RTP_AVP, "RTP/AVPF"))
DEFAULT_PTIME = 20  # ms; RFC 3551 §4.5 default packetization for G.711 and G.729

# RFC 3261 §20.43 warning codes for a 488 answer to an offer.
WARNING_TEXTS = {
    300: "Incompatible network protocol",
    301: "Incompatible network address formats",
    302: "Incompatible transport protocol",
    304: "Media type not available",
    305: "Incompatible media format",
}


class MediaNotAcceptable(RemoteProtocolError):
    """Nothing in an offer can be accepted: answer ``488 Not Acceptable Here``.

    ``warning_code`` is the RFC 3261 §20.43 code the 488 should carry in a Warning header
    (304 media type not available, 305 incompatible media format, 302 transport, 300/301
    network); ``extra_headers`` holds a ready Warning with the pseudonym agent ``gwemu``, and
    :meth:`warning_header` builds one for another agent (the UA's host name).
    """

    def __init__(self, reason: str, warning_code: int) -> None:
        self.warning_code = warning_code
        self.warning_text = WARNING_TEXTS[warning_code]
        super().__init__(reason, 488, extra_headers=(("Warning", self.warning_header("gwemu")),))

    def warning_header(self, agent: str) -> str:
        return f'{self.warning_code} {agent} "{self.warning_text}"'


# ----------------------------------------------------------------------------------- directions


def _flags(direction: Direction) -> tuple[bool, bool]:
    """(sends, receives) for a direction attribute."""
    return direction in ("sendrecv", "sendonly"), direction in ("sendrecv", "recvonly")


def _direction(sends: bool, receives: bool) -> Direction:
    if sends:
        return "sendrecv" if receives else "sendonly"
    return "recvonly" if receives else "inactive"


def hold_direction(direction: Direction) -> Direction:
    """The direction that puts a stream on hold: stop receiving (RFC 3264 §8.4).

    sendrecv -> sendonly, recvonly -> inactive; sendonly and inactive stay as they are.
    """
    sends, _ = _flags(direction)
    return _direction(sends, False)


def answer_direction(offered: Direction, wanted: Direction) -> Direction:
    """Our direction in an answer (RFC 3264 §6.1): what the offer allows and we want.

    We may send only if the offerer receives, and receive only if the offerer sends, so
    sendonly is answered recvonly (or inactive), recvonly sendonly, inactive inactive.
    """
    offer_sends, offer_receives = _flags(offered)
    want_send, want_receive = _flags(wanted)
    return _direction(offer_receives and want_send, offer_sends and want_receive)


def _remote_direction(description: SessionDescription, media: MediaDescription) -> Direction:
    """The peer's direction; ``c=0.0.0.0`` (RFC 2543 hold) means it receives nothing.

    RFC 3264 §8.4: such a connection address means neither RTP nor RTCP is sent to the peer.
    """
    declared = description.direction_for(media)
    connection = description.connection_for(media)
    if connection is not None and connection.is_unspecified:
        return hold_direction(declared)
    return declared


# ----------------------------------------------------------------------------------- capabilities


@dataclass(frozen=True, slots=True)
class Codec:
    """A codec we can send and receive, as an offer or answer lists it.

    ``fmtp`` is what we declare (``"annexb=no"``); ``payload_type`` the number we would like
    when we offer it (``None``: its RFC 3551 static number, else the first free dynamic one).
    Matching against a peer's format uses encoding name (case-insensitive), clock and channels.
    """

    encoding_name: str
    clock_rate: int = 8000
    channels: int = 1
    fmtp: str | None = None
    payload_type: int | None = None

    @classmethod
    def from_format(cls, fmt: PayloadFormat) -> Codec:
        """The codec behind a peer's payload format, keeping its number as our preference."""
        return cls(fmt.encoding_name, fmt.clock_rate, fmt.channels, fmt.fmtp, fmt.payload_type)

    def matches(self, fmt: PayloadFormat) -> bool:
        return fmt.same_codec(self.encoding_name, self.clock_rate, self.channels)

    @property
    def is_g729(self) -> bool:
        return self.encoding_name.upper() == "G729"

    def __str__(self) -> str:
        return self.encoding_name


PCMU = Codec("PCMU")
PCMA = Codec("PCMA")
# gwemu's G.729 runs without Annex B (VAD/CNG) by default, and says so (RFC 4856 §2.1.9).
G729 = Codec("G729", fmtp="annexb=no")
G722 = Codec("G722")
# RFC 4733 DTMF; 101 is the number Cisco IOS and Asterisk use, any free dynamic one works.
DTMF_EVENTS = Codec(TELEPHONE_EVENT, fmtp="0-15", payload_type=101)
DEFAULT_CODECS = (PCMU, PCMA, G729)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What our side of one call can do and where it receives media.

    ``codecs`` are voice codecs in our preference order; ``telephone_event`` is negotiated
    separately (``None`` disables RFC 4733).  ``prefer_own_order`` orders an answer's codecs by
    our preference instead of the offerer's (RFC 3264 §6.1 lets the answerer choose);
    ``single_codec`` answers only the best common codec, as Cisco IOS gateways do.
    """

    address: str
    port: int
    codecs: tuple[Codec, ...] = DEFAULT_CODECS
    telephone_event: Codec | None = DTMF_EVENTS
    ptime: int | None = DEFAULT_PTIME
    direction: Direction = "sendrecv"
    prefer_own_order: bool = False
    single_codec: bool = False
    username: str = "gwemu"
    session_name: str = "gwemu"

    def __post_init__(self) -> None:
        if not self.address or " " in self.address:
            raise LocalProtocolError(f"media address {self.address!r} is not an address")
        if not 0 < self.port <= 65535:
            raise LocalProtocolError(f"media port {self.port} is not in 1-65535")
        if not self.codecs:
            raise LocalProtocolError("at least one voice codec is needed")
        if any(codec.encoding_name.lower() == TELEPHONE_EVENT for codec in self.codecs):
            raise LocalProtocolError("telephone-event goes in telephone_event, not in codecs")
        te = self.telephone_event
        if te is not None and te.encoding_name.lower() != TELEPHONE_EVENT:
            raise LocalProtocolError(f"telephone_event must be telephone-event, not {te}")
        if self.ptime is not None and self.ptime <= 0:
            raise LocalProtocolError(f"ptime {self.ptime} must be positive")
        if self.direction not in DIRECTIONS:
            raise LocalProtocolError(f"{self.direction!r} is not an SDP direction")
        if te is not None and te.fmtp is not None:
            try:
                parse_event_list(te.fmtp)
            except RemoteProtocolError as exc:
                raise LocalProtocolError(f"telephone_event fmtp: {exc.reason}") from None

    def codec_for(self, fmt: PayloadFormat) -> Codec | None:
        """Our codec matching a peer's payload format, if any."""
        for codec in self.codecs:
            if codec.matches(fmt):
                return codec
        return None


def capabilities_of(
    description: SessionDescription, media_index: int | None = None
) -> Capabilities:
    """A peer's audio stream seen as capabilities: its address, port, codecs, DTMF, ptime.

    For a B2BUA that joins two legs: answering leg A with ``capabilities_of(offer_from_b)``
    yields the codec intersection of both legs and a ``c=`` naming leg B's media address.
    """
    index = media_index if media_index is not None else _first_audio(description)
    if index is None:
        raise LocalProtocolError("the description has no audio stream")
    media = description.media[index]
    connection = description.connection_for(media)
    if connection is None:
        raise LocalProtocolError(f"media {index + 1} has no connection address")
    voice = tuple(
        Codec.from_format(fmt)
        for fmt in media.payload_formats()
        if not fmt.is_telephone_event and not fmt.is_comfort_noise
    )
    # RFC 4733 §2.5.1.2: the telephone-event that goes with the voice codecs has their clock.
    clock_rate = voice[0].clock_rate if voice else 8000
    events = next(
        (
            fmt
            for fmt in media.payload_formats()
            if fmt.is_telephone_event and fmt.clock_rate == clock_rate and _events_of(fmt)
        ),
        None,
    )
    return Capabilities(
        address=connection.address,
        port=media.port,
        codecs=voice,
        telephone_event=None if events is None else Codec.from_format(events),
        ptime=None if media.ptime is None else max(1, round(media.ptime)),
        direction=description.direction_for(media),
    )


def _first_audio(description: SessionDescription) -> int | None:
    fallback: int | None = None
    for index, media in enumerate(description.media):
        if media.media == "audio":
            if media.port:
                return index
            fallback = index if fallback is None else fallback
    return fallback


# ----------------------------------------------------------------------------------- negotiated


@dataclass(frozen=True, slots=True)
class NegotiatedStream:
    """What one ``m=`` line came to, for the media layer.

    ``send_format`` is the codec to send with the payload type *the peer* listed;
    ``receive_formats`` the payload types *we* listed that may arrive.  Telephone events
    likewise.  ``remote_rtp`` is ``None`` when the peer gave ``c=0.0.0.0`` (nothing to send
    to).  ``direction`` is our side's, after hold and the peer's direction were applied.
    """

    index: int
    media: str
    accepted: bool
    direction: Direction = "inactive"
    local_port: int = 0
    remote_rtp: tuple[str, int] | None = None
    remote_rtcp: tuple[str, int] | None = None
    send_format: PayloadFormat | None = None
    receive_formats: tuple[PayloadFormat, ...] = ()
    send_telephone_event: PayloadFormat | None = None
    receive_telephone_event: PayloadFormat | None = None
    ptime: int = DEFAULT_PTIME

    @property
    def may_send(self) -> bool:
        """We send RTP: accepted, our direction sends, and the peer gave an address."""
        return (
            self.accepted
            and _flags(self.direction)[0]
            and self.remote_rtp is not None
            and self.send_format is not None
        )

    @property
    def must_receive(self) -> bool:
        """We must be ready for RTP: accepted and our direction receives."""
        return self.accepted and _flags(self.direction)[1]


@dataclass(frozen=True, slots=True)
class NegotiatedMedia:
    """Every stream of one offer/answer exchange, in ``m=`` order."""

    streams: tuple[NegotiatedStream, ...]

    @property
    def audio(self) -> NegotiatedStream | None:
        """The accepted audio stream (gwemu terminates one), or ``None``."""
        for stream in self.streams:
            if stream.accepted and stream.media == "audio":
                return stream
        return None


@dataclass(frozen=True, slots=True)
class Answer:
    """Our answer and what it negotiated."""

    description: SessionDescription
    negotiated: NegotiatedMedia


# ----------------------------------------------------------------------------------- offer


def create_offer(
    capabilities: Capabilities,
    *,
    session_id: int | None = None,
    session_version: int = 0,
    previous: SessionDescription | None = None,
    hold: bool = False,
) -> SessionDescription:
    """Our offer: one audio stream with our codecs, DTMF events, ptime and direction.

    A first offer takes ``session_id``/``session_version`` for its ``o=`` line.  A later
    offer in the same session takes ``previous`` (the last SDP we sent, offer or answer) and
    follows RFC 3264 §8: same ``o=`` username and session id, version + 1 only if something
    changed, every earlier ``m=`` line kept in place (streams other than ours stay port 0),
    payload type numbers kept.  ``hold=True`` stops our receiving (sendrecv -> sendonly,
    RFC 3264 §8.4); offering again without it resumes.
    """
    direction = hold_direction(capabilities.direction) if hold else capabilities.direction
    previous_audio = None if previous is None else _first_audio(previous)
    audio = _audio_offer_section(
        capabilities,
        direction,
        None if previous is None or previous_audio is None else previous.media[previous_audio],
    )
    media: list[MediaDescription] = []
    if previous is not None:
        media = [_disabled(section) for section in previous.media]
    if previous_audio is None:
        media.append(audio)
    else:
        media[previous_audio] = audio
    return _finish(capabilities, media, None, session_id, session_version, previous)


def _audio_offer_section(
    capabilities: Capabilities, direction: Direction, previous: MediaDescription | None
) -> MediaDescription:
    wanted = [*capabilities.codecs]
    if capabilities.telephone_event is not None:
        wanted.append(capabilities.telephone_event)
    numbers = _assign_payload_types(wanted, previous)
    formats = [
        PayloadFormat(pt, codec.encoding_name, codec.clock_rate, codec.channels, codec.fmtp)
        for pt, codec in zip(numbers, wanted, strict=True)
    ]
    return _audio_section(capabilities.port, RTP_AVP, formats, capabilities.ptime, direction)


def _assign_payload_types(codecs: list[Codec], previous: MediaDescription | None) -> list[int]:
    """Payload type numbers for an offer (RFC 3551 §3, RFC 3264 §8.3.2).

    In order of precedence: the number the previous SDP of this session used for the codec
    (a mapping must not change within a session), the codec's preferred number, its static
    number, then the lowest free dynamic number.
    """
    previous_formats = () if previous is None else previous.payload_formats()
    taken = {fmt.payload_type for fmt in previous_formats}
    chosen: list[int | None] = []
    used: set[int] = set()
    for codec in codecs:
        number = next(
            (
                fmt.payload_type
                for fmt in previous_formats
                if codec.matches(fmt) and fmt.payload_type not in used
            ),
            None,
        )
        if number is None:
            for candidate in (
                codec.payload_type,
                static_payload_type(codec.encoding_name, codec.clock_rate, codec.channels),
            ):
                if candidate is not None and candidate not in used and candidate not in taken:
                    number = candidate
                    break
        chosen.append(number)
        if number is not None:
            used.add(number)
    free = (pt for pt in DYNAMIC_PAYLOAD_TYPES if pt not in used and pt not in taken)
    numbers: list[int] = []
    for number in chosen:
        if number is None:
            number = next(free, None)
            if number is None:
                raise LocalProtocolError("more codecs than free dynamic payload types")
        numbers.append(number)
    return numbers


def _audio_section(
    port: int,
    proto: str,
    formats: list[PayloadFormat],
    ptime: int | None,
    direction: Direction,
) -> MediaDescription:
    attributes: list[Attribute] = []
    for fmt in formats:
        attributes.append(Attribute("rtpmap", str(fmt)))
        if fmt.fmtp is not None:
            attributes.append(Attribute("fmtp", f"{fmt.payload_type} {fmt.fmtp}"))
    if ptime is not None:
        attributes.append(Attribute("ptime", str(ptime)))
    attributes.append(Attribute(direction))
    field = MediaField("audio", port, proto, tuple(str(fmt.payload_type) for fmt in formats))
    return MediaDescription.build(field, attributes=attributes)


def _disabled(section: MediaDescription) -> MediaDescription:
    """A stream turned down: same media, proto and formats on port 0 (RFC 3264 §6, §8.2)."""
    field = section.media_field
    return MediaDescription.build(MediaField(field.media, 0, field.proto, field.formats))


def _finish(
    capabilities: Capabilities,
    media: list[MediaDescription],
    offer: SessionDescription | None,
    session_id: int | None,
    session_version: int,
    previous: SessionDescription | None,
) -> SessionDescription:
    """Wrap media sections in session-level lines, with the ``o=`` line RFC 3264 §8 asks for."""
    if (session_id is None) == (previous is None):
        raise LocalProtocolError(
            "give session_id for the first SDP of a session, or previous for a later one"
        )
    if previous is not None:
        origin = previous.origin
    else:
        assert session_id is not None
        origin = Origin.for_address(
            capabilities.address, session_id, session_version, capabilities.username
        )
    # RFC 3264 §6: the answer's t= line equals the offer's; later SDPs keep the session's.
    times: tuple[TimeDescription, ...] = (TimeDescription(Timing(0, 0)),)
    if offer is not None:
        times = offer.times
    elif previous is not None:
        times = previous.times
    description = SessionDescription.build(
        origin,
        capabilities.session_name,
        connection=Connection.for_address(capabilities.address),
        times=times,
        media=media,
    )
    if previous is None:
        return description
    if _body(description) == _body(previous):
        return previous
    bumped = Origin(
        origin.username,
        origin.session_id,
        origin.session_version + 1,
        origin.nettype,
        origin.addrtype,
        origin.address,
    )
    return description.with_origin(bumped)


def _body(description: SessionDescription) -> tuple[str, ...]:
    """Everything but the o= line, line endings ignored: what a version number tracks."""
    lines = [str(line) for line in description.lines if line.kind != "o"]
    lines += [str(line) for media in description.media for line in media.lines]
    return tuple(lines)


# ----------------------------------------------------------------------------------- answer


@dataclass(frozen=True, slots=True)
class _Refusal:
    warning_code: int
    reason: str


def create_answer(
    offer: SessionDescription,
    capabilities: Capabilities,
    *,
    session_id: int | None = None,
    session_version: int = 0,
    previous: SessionDescription | None = None,
) -> Answer:
    """Answer a peer's offer (RFC 3264 §6) and say what was negotiated.

    One answer ``m=`` line per offered one, in order.  The first audio stream we can use is
    accepted: the common voice codecs in the offerer's order (or ours with
    ``prefer_own_order``), keeping the offerer's payload type numbers (§6.1), plus
    telephone-event when both sides have common events.  Other streams get port 0.  When the
    offer had streams but none can be accepted, :class:`MediaNotAcceptable` (488) is raised.
    ``session_id``/``previous`` work as in :func:`create_offer` (``previous`` for an answer to
    a re-offer).
    """
    media: list[MediaDescription] = []
    refusals: list[_Refusal] = []
    accepted = False
    for index, section in enumerate(offer.media):
        if section.port == 0:
            media.append(_disabled(section))
            continue
        if accepted:
            media.append(_disabled(section))  # gwemu terminates one audio stream per call
            continue
        result = _answer_audio(offer, index, section, capabilities)
        if isinstance(result, _Refusal):
            refusals.append(result)
            media.append(_disabled(section))
        else:
            media.append(result)
            accepted = True
    if refusals and not accepted:
        code = 305 if any(r.warning_code == 305 for r in refusals) else refusals[0].warning_code
        raise MediaNotAcceptable("; ".join(r.reason for r in refusals), code)
    description = _finish(capabilities, media, offer, session_id, session_version, previous)
    return Answer(description, _negotiate(offer, description, we_offered=False))


def _answer_audio(
    offer: SessionDescription, index: int, section: MediaDescription, capabilities: Capabilities
) -> MediaDescription | _Refusal:
    """Our answer ``m=`` section for one offered stream, or why it cannot be accepted."""
    if section.media != "audio":
        return _Refusal(304, f"{section.media} stream not supported (gwemu answers audio only)")
    if section.proto not in ANSWERABLE_PROTOS:
        return _Refusal(302, f"audio over {section.proto} not supported (gwemu uses RTP/AVP)")
    connection = _connection_of(offer, index, section)
    if connection.nettype != "IN":
        return _Refusal(300, f"network type {connection.nettype} not supported")
    if connection.addrtype not in (IP4, IP6):
        return _Refusal(301, f"address type {connection.addrtype} not supported")
    offered = section.payload_formats()
    voice = _common_voice(offered, capabilities)
    if not voice:
        names = _format_names(section)
        local = "/".join(str(codec) for codec in capabilities.codecs)
        return _Refusal(305, f"no common codec: offered {names}, local {local}")
    formats = [
        PayloadFormat(
            fmt.payload_type,
            fmt.encoding_name,
            fmt.clock_rate,
            fmt.channels,
            _answer_fmtp(codec, fmt),
        )
        for fmt, codec in voice
    ]
    events = _common_events(offered, capabilities.telephone_event, formats[0].clock_rate)
    if events is not None:
        formats.append(events)
    direction = answer_direction(_remote_direction(offer, section), capabilities.direction)
    return _audio_section(capabilities.port, section.proto, formats, capabilities.ptime, direction)


def _connection_of(
    description: SessionDescription, index: int, section: MediaDescription
) -> Connection:
    connection = description.connection_for(section)
    if connection is None:
        raise RemoteProtocolError(
            f"SDP m= line {index + 1} ({section.media}) has no c= line and there is no "
            "session-level c= (RFC 8866 §5.7)",
            400,
        )
    return connection


def _common_voice(
    offered: tuple[PayloadFormat, ...], capabilities: Capabilities
) -> list[tuple[PayloadFormat, Codec]]:
    """Offered voice formats we support, one per codec, in the order the answer lists them."""
    pairs: list[tuple[PayloadFormat, Codec]] = []
    for fmt in offered:
        if fmt.is_telephone_event or fmt.is_comfort_noise:
            continue
        codec = capabilities.codec_for(fmt)
        if codec is not None and all(codec is not other for _, other in pairs):
            pairs.append((fmt, codec))
    if capabilities.prefer_own_order:
        pairs.sort(key=lambda pair: capabilities.codecs.index(pair[1]))
    if capabilities.single_codec:
        del pairs[1:]
    return pairs


def _answer_fmtp(codec: Codec, offered: PayloadFormat) -> str | None:
    """The fmtp our answer declares for a codec we accepted.

    G.729: Annex B only if both sides allow it -- an offer with ``annexb=yes`` (or none, which
    means yes) is answered ``annexb=no`` when we run without it (RFC 4856 §2.1.9).
    Otherwise our own parameters: an answer's fmtp describes what we receive.
    """
    if codec.is_g729 and not (g729_annex_b(codec.fmtp) and g729_annex_b(offered.fmtp)):
        return "annexb=no"
    return codec.fmtp


def _events_of(fmt: PayloadFormat) -> frozenset[int]:
    """A telephone-event format's events; a list we cannot read counts as none offered."""
    try:
        return parse_event_list(fmt.fmtp)
    except RemoteProtocolError:
        return frozenset()


def _common_events(
    offered: tuple[PayloadFormat, ...], local: Codec | None, clock_rate: int
) -> PayloadFormat | None:
    """The offered telephone-event we accept, listing only events both sides support.

    RFC 4733 §2.5.1.2: its clock rate must be the voice codec's; the offerer's number is kept.
    """
    if local is None:
        return None
    local_events = DEFAULT_TELEPHONE_EVENTS if local.fmtp is None else parse_event_list(local.fmtp)
    for fmt in offered:
        if fmt.is_telephone_event and fmt.clock_rate == clock_rate:
            common = _events_of(fmt) & local_events
            if common:
                return PayloadFormat(
                    fmt.payload_type,
                    fmt.encoding_name,
                    fmt.clock_rate,
                    fmt.channels,
                    format_event_list(common),
                )
    return None


def _format_names(section: MediaDescription) -> str:
    names: list[str] = []
    for text in section.formats:
        fmt = section.payload_format(int(text)) if section.is_rtp else None
        if fmt is None:
            names.append(f"PT {text}")
        elif not (fmt.is_telephone_event or fmt.is_comfort_noise):
            names.append(fmt.encoding_name)
    return "/".join(names) or "no voice codec"


# ----------------------------------------------------------------------------------- process


def process_answer(offer: SessionDescription, answer: SessionDescription) -> NegotiatedMedia:
    """Check the peer's answer to our offer (RFC 3264 §6) and say what was negotiated.

    The answer is the peer's fault when it has another number of ``m=`` lines, changes a
    stream's media type or transport, accepts a stream we disabled, or lists a codec we did
    not offer: ``RemoteProtocolError(status_hint=488)``.  (An answer arrives in a response or
    an ACK, where the SIP layer cannot answer 488: it ends the call with BYE instead.)
    Direction is read leniently (robustness): a peer answering sendrecv to our sendonly hold is
    taken as recvonly, since we only ever listen when both the offer and answer allow it.
    """
    if len(answer.media) != len(offer.media):
        raise RemoteProtocolError(
            f"SDP answer has {len(answer.media)} m= line(s), the offer had "
            f"{len(offer.media)} (RFC 3264 §6)",
            488,
        )
    for index, (ours, theirs) in enumerate(zip(offer.media, answer.media, strict=True)):
        _check_answer_stream(index, ours, answer, theirs)
    return _negotiate(offer, answer, we_offered=True)


def _check_answer_stream(
    index: int,
    ours: MediaDescription,
    answer: SessionDescription,
    theirs: MediaDescription,
) -> None:
    where = f"SDP answer m= line {index + 1}"
    if theirs.media != ours.media:
        raise RemoteProtocolError(
            f"{where} is {theirs.media}, the offer's is {ours.media} (RFC 3264 §6)", 488
        )
    if theirs.port == 0:
        return
    if ours.port == 0:
        raise RemoteProtocolError(f"{where} accepts a stream the offer disabled (§8.2)", 488)
    if theirs.proto != ours.proto:
        raise RemoteProtocolError(
            f"{where} uses {theirs.proto}, the offer {ours.proto} (RFC 3264 §6)", 488
        )
    _connection_of(answer, index, theirs)
    if not theirs.is_rtp:
        return
    offered = ours.payload_formats()
    voice = 0
    for number, fmt in zip(theirs.formats, _answer_formats(ours, theirs), strict=True):
        if fmt is None:
            raise RemoteProtocolError(
                f"{where} lists payload type {number} without rtpmap, which was not offered",
                488,
            )
        if not any(_same(fmt, offered_format) for offered_format in offered):
            raise RemoteProtocolError(
                f"{where} lists {number} ({fmt.encoding_name}/{fmt.clock_rate}) which was not "
                "offered (RFC 3264 §6.1)",
                488,
            )
        voice += not (fmt.is_telephone_event or fmt.is_comfort_noise)
    if ours.media == "audio" and not voice:
        raise RemoteProtocolError(f"{where} accepts audio without any voice codec", 488)


def _answer_formats(ours: MediaDescription, theirs: MediaDescription) -> list[PayloadFormat | None]:
    """The answer's formats resolved; a dynamic number without rtpmap means what we offered.

    RFC 3264 §6.1 has the answerer reuse the offer's numbers, and some omit the rtpmap then.
    """
    return [
        theirs.payload_format(int(text)) or ours.payload_format(int(text))
        for text in theirs.formats
    ]


# ----------------------------------------------------------------------------------- negotiate


def _negotiate(
    offer: SessionDescription, answer: SessionDescription, *, we_offered: bool
) -> NegotiatedMedia:
    """What each stream of a completed exchange came to, seen from our side."""
    return NegotiatedMedia(
        tuple(
            _negotiate_stream(index, offer, answer, we_offered) for index in range(len(offer.media))
        )
    )


def _negotiate_stream(
    index: int, offer: SessionDescription, answer: SessionDescription, we_offered: bool
) -> NegotiatedStream:
    offered, answered = offer.media[index], answer.media[index]
    local, remote = (offer, answer) if we_offered else (answer, offer)
    ours, theirs = (offered, answered) if we_offered else (answered, offered)
    if offered.port == 0 or answered.port == 0:
        return NegotiatedStream(index, offered.media, accepted=False)
    connection = _connection_of(remote, index, theirs)
    remote_rtp: tuple[str, int] | None = None
    remote_rtcp: tuple[str, int] | None = None
    if not connection.is_unspecified:
        remote_rtp = (connection.address, theirs.port)
        rtcp = theirs.rtcp
        if rtcp is None:
            remote_rtcp = (connection.address, theirs.port + 1)  # RFC 3550 §11
        else:  # RFC 3605: an explicit RTCP port, and perhaps address
            where = connection if rtcp.connection is None else rtcp.connection
            remote_rtcp = (where.address, rtcp.port)
    local_sends, local_receives = _flags(local.direction_for(ours))
    remote_sends, remote_receives = _flags(_remote_direction(remote, theirs))
    direction = _direction(local_sends and remote_receives, local_receives and remote_sends)
    # The answer's formats decide what was agreed; each side's own list gives its numbers.
    chosen = [fmt for fmt in _answer_formats(offered, answered) if fmt is not None]
    our_formats = offered.payload_formats() if we_offered else tuple(chosen)
    their_formats = tuple(chosen) if we_offered else offered.payload_formats()
    voice = [fmt for fmt in chosen if not (fmt.is_telephone_event or fmt.is_comfort_noise)]
    send_format = receive_events = send_events = None
    if voice:
        send_format = _negotiated_format(voice[0], their_formats, our_formats)
    receive_formats = tuple(
        fmt
        for fmt in our_formats
        if not fmt.is_telephone_event and any(_same(fmt, agreed) for agreed in voice)
    )
    events = next((fmt for fmt in chosen if fmt.is_telephone_event), None)
    if events is not None and send_format is not None:
        send_events = _negotiated_format(events, their_formats, our_formats)
        receive_events = _counterpart(events, our_formats)
        if receive_events is not None and send_events is not None:
            receive_events = _with_fmtp(receive_events, send_events.fmtp)
    return NegotiatedStream(
        index,
        offered.media,
        accepted=True,
        direction=direction,
        local_port=ours.port,
        remote_rtp=remote_rtp,
        remote_rtcp=remote_rtcp,
        send_format=send_format,
        receive_formats=receive_formats,
        send_telephone_event=send_events,
        receive_telephone_event=receive_events,
        ptime=_ptime(remote, theirs),
    )


def _ptime(description: SessionDescription, section: MediaDescription) -> int:
    """The packet time the peer asked for (a media-level a=ptime, else a session-level one)."""
    ptime = section.ptime
    if ptime is None:
        session_ptime = description.attribute("ptime")
        ptime = float(session_ptime) if session_ptime and _is_number(session_ptime) else None
    return DEFAULT_PTIME if not ptime else max(1, round(ptime))


def _same(a: PayloadFormat, b: PayloadFormat) -> bool:
    return a.same_codec(b.encoding_name, b.clock_rate, b.channels)


def _counterpart(fmt: PayloadFormat, formats: tuple[PayloadFormat, ...]) -> PayloadFormat | None:
    """The format of ``formats`` for the same codec, preferring the same payload type number."""
    candidates = [other for other in formats if _same(other, fmt)]
    for other in candidates:
        if other.payload_type == fmt.payload_type:
            return other
    return candidates[0] if candidates else None


def _negotiated_format(
    fmt: PayloadFormat, theirs: tuple[PayloadFormat, ...], ours: tuple[PayloadFormat, ...]
) -> PayloadFormat | None:
    """The format we send: the peer's payload type, with parameters both sides agree on."""
    remote = _counterpart(fmt, theirs)
    if remote is None:
        return None
    local = _counterpart(fmt, ours)
    local_fmtp = None if local is None else local.fmtp
    if remote.encoding_name.upper() == "G729":
        annex_b = g729_annex_b(remote.fmtp) and g729_annex_b(local_fmtp)
        return _with_fmtp(remote, "annexb=yes" if annex_b else "annexb=no")
    if remote.is_telephone_event:
        local_events = DEFAULT_TELEPHONE_EVENTS if local is None else _events_of(local)
        return _with_fmtp(remote, format_event_list(_events_of(remote) & local_events))
    return remote


def _with_fmtp(fmt: PayloadFormat, fmtp: str | None) -> PayloadFormat:
    return PayloadFormat(fmt.payload_type, fmt.encoding_name, fmt.clock_rate, fmt.channels, fmtp)


def _is_number(text: str) -> bool:
    whole, _, fraction = text.strip().partition(".")
    return whole.isascii() and whole.isdigit() and (not fraction or fraction.isdigit())
