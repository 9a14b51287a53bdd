"""The SDP model: byte-exact round trip, typed views, field order, errors with line numbers."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sdp.description import (
    InvalidSdpLine,
    MediaDescription,
    SdpLine,
    SessionDescription,
    TimeDescription,
)
from gateway.sdp.fields import (
    Attribute,
    Bandwidth,
    Connection,
    MediaField,
    Origin,
    RepeatTimes,
    Timing,
    ZoneAdjustments,
)
from gateway.sdp.payload import PayloadFormat

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_NAMES = sorted(path.name for path in FIXTURES.glob("*.sdp"))


def fixture(name: str, eol: bytes = b"\r\n") -> bytes:
    """A fixture (stored with LF line ends) with the line ending a test wants."""
    return (FIXTURES / name).read_bytes().replace(b"\n", eol)


def sip_body(message: bytes) -> bytes:
    """The body of a SIP message: everything after the blank line that ends the headers."""
    return message.split(b"\r\n\r\n", 1)[1]


# ------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", FIXTURE_NAMES)
@pytest.mark.parametrize("eol", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_fixtures_round_trip_byte_for_byte(name: str, eol: bytes) -> None:
    data = fixture(name, eol)
    description = SessionDescription.parse(data)
    assert bytes(description) == data
    assert all(line.eol == eol for line in description.lines)
    assert SessionDescription.parse(bytes(description)) == description


def test_mixed_line_endings_missing_final_ending_and_trailing_blank_lines() -> None:
    data = fixture("sipp-uac-offer.sdp")
    mixed = data.replace(b"s=-\r\n", b"s=-\n")
    assert bytes(SessionDescription.parse(mixed)) == mixed
    unterminated = data[:-2]
    description = SessionDescription.parse(unterminated)
    assert description.media[0].lines[-1].eol == b""
    assert bytes(description) == unterminated
    padded = data + b"\r\n\n"
    description = SessionDescription.parse(padded)
    assert description.trailer == b"\r\n\n"
    assert bytes(description) == padded
    assert description.media[0].attribute("rtpmap") == "0 PCMU/8000"


def test_blank_runs_between_subfields_and_non_utf8_text_survive() -> None:
    data = (
        b"v=0\r\no=-  1 1 IN IP4 192.0.2.1\r\ns=caf\xe9\r\nc=IN IP4 192.0.2.1 \r\nt=0  0\r\n"
        b"m=audio 4000  RTP/AVP 0 8 \r\n"
    )
    description = SessionDescription.parse(data)
    assert bytes(description) == data
    assert description.origin.session_id == 1
    assert description.media[0].formats == ("0", "8")
    assert description.name.encode("utf-8", "surrogateescape") == b"caf\xe9"


# ------------------------------------------------------------------------------- typed views


def test_every_field_fixture_exposes_every_field() -> None:
    description = SessionDescription.parse(fixture("every-field.sdp"))
    assert description.origin == Origin(
        "planner", 3800000001, 3800000004, "IN", "IP4", "198.51.100.20"
    )
    assert description.name == "Weekly line test"
    assert description.information == "Loop-back audio for the weekly line test"
    assert description.uri == "https://example.net/line-test"
    assert description.emails == ("ops@example.net (Line Ops)", "noc@example.net")
    assert description.phones == ("+1 555 0100",)
    assert description.connection == Connection("IN", "IP4", "233.252.0.9", 64, 2)
    assert description.bandwidths == (Bandwidth("CT", 256),)
    first, second = description.times
    assert first.timing == Timing(3900000000, 3900086400)
    assert first.repeats == (
        RepeatTimes("7d", "2h", ("0", "1d")),
        RepeatTimes("7d", "30m", ("3h",)),
    )
    assert first.zone == ZoneAdjustments(((3900500000, "-1h"), (3901000000, "0")))
    assert second == TimeDescription(Timing(0, 0))
    assert description.key == "prompt"
    assert description.direction == "recvonly"
    assert description.attribute("x-lab-note") == "Ünïcode text stays as sent"
    assert [line.kind for line in description.lines].count("y") == 1  # unknown, kept

    audio, application, image = description.media
    assert (audio.media, audio.port, audio.port_count, audio.proto) == (
        "audio",
        49170,
        2,
        "RTP/AVP",
    )
    assert audio.information == "Line audio"
    assert [c.address for c in audio.connections] == ["233.252.0.9", "233.252.0.10"]
    assert audio.bandwidths == (Bandwidth("AS", 80), Bandwidth("TIAS", 64000))
    assert audio.key == "clear:c2VjcmV0"
    assert audio.payload_formats() == (
        PayloadFormat(0, "PCMU", 8000),
        PayloadFormat(96, "L16", 16000, 2, "channel-order=SMPTE2110.(ST)"),
    )
    assert audio.rtcp is not None and audio.rtcp.port == 49180
    assert (audio.ptime, audio.maxptime) == (20.5, 40.0)
    assert audio.direction == "sendrecv"
    assert description.direction_for(audio) == "sendrecv"  # media level overrides
    assert audio.attribute("x-unknown") == ""
    assert audio.attribute("x-empty") == ""
    assert audio.attribute("absent") is None
    assert audio.lines[-1].kind == "f"  # unknown type letter, kept in place
    assert application.port == 0 and application.formats == ("*",)
    assert application.payload_formats() == ()
    assert description.direction_for(application) == "recvonly"  # session default
    assert description.connection_for(application) == description.connection
    assert image.connection == Connection("IN", "IP6", "FF1E:db8::1:2", None, 3)


def test_static_payload_types_resolve_without_rtpmap() -> None:
    description = SessionDescription.parse(
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 0 3 4 8 9 18 96\r\na=fmtp:18 annexb=no\r\n"
    )
    audio = description.media[0]
    names = [fmt.encoding_name for fmt in audio.payload_formats()]
    assert names == ["PCMU", "GSM", "G723", "PCMA", "G722", "G729"]  # 96 has no rtpmap
    assert audio.payload_format(18) == PayloadFormat(18, "G729", 8000, 1, "annexb=no")
    assert audio.payload_format(96) is None
    assert audio.fmtp(18) == "annexb=no" and audio.fmtp("0") is None


def test_an_rtpmap_overrides_the_static_meaning() -> None:
    description = SessionDescription.parse(
        b"v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n"
        b"m=audio 4000 RTP/AVP 18\na=rtpmap:18 PCMA/8000\n"
    )
    assert description.media[0].payload_format(18) == PayloadFormat(18, "PCMA", 8000)


@pytest.mark.parametrize("name", ["ipv6-in-sdp", "mult-ip-in-sdp"])
def test_rfc5118_sdp_bodies(corpora: Path, name: str) -> None:
    message = (corpora / "rfc5118-ipv6-torture" / "wire-crlf" / name).read_bytes()
    body = sip_body(message)
    description = SessionDescription.parse(body)
    assert bytes(description) == body
    audio, video = description.media
    if name == "ipv6-in-sdp":
        assert description.origin.addrtype == "IP6"
        assert description.connection == Connection("IN", "IP6", "2001:db8::20")
        assert description.connection_for(audio) == description.connection_for(video)
        assert audio.payload_formats() == (PayloadFormat(2, "G726-32", 8000),)
    else:
        # RFC 5118 §4.7: one stream over IPv4, the other over IPv6, no session-level c=.
        assert description.connection is None
        assert description.name == ""
        assert description.connection_for(audio) == Connection("IN", "IP4", "192.0.2.1")
        assert description.connection_for(video) == Connection("IN", "IP6", "2001:db8::1")
        assert video.payload_formats() == (PayloadFormat(107, "H263-1998", 90000),)


def sipp_builtin_uac_sdp(sipp: str) -> bytes:
    """The SDP of SIPp's built-in uac scenario, with its keywords filled in as SIPp would."""
    scenario = subprocess.run(
        [sipp, "-sd", "uac"], capture_output=True, check=False, timeout=20
    ).stdout.decode()
    invite = scenario.split("<![CDATA[", 1)[1].split("]]>", 1)[0]
    lines = [line.strip() for line in invite.strip().splitlines()]
    sdp_lines = lines[lines.index("") + 1 :]
    keywords = {
        "[local_ip_type]": "4",
        "[media_ip_type]": "4",
        "[local_ip]": "127.0.0.1",
        "[media_ip]": "127.0.0.1",
        "[media_port]": "6000",
    }
    text = "\r\n".join(line for line in sdp_lines if line) + "\r\n"
    for keyword, value in keywords.items():
        text = text.replace(keyword, value)
    assert "[" not in text, text
    return text.encode()


@pytest.mark.interop
def test_sipp_builtin_uac_sdp(require_tool: Callable[[str], str]) -> None:
    body = sipp_builtin_uac_sdp(require_tool("sipp"))
    description = SessionDescription.parse(body)
    assert bytes(description) == body
    assert description.media[0].payload_formats() == (PayloadFormat(0, "PCMU", 8000),)
    # Our hand-written fixture is what SIPp sends.
    assert body == fixture("sipp-uac-offer.sdp")


# ------------------------------------------------------------------------------- errors

BASE = [
    "v=0",
    "o=- 1 1 IN IP4 192.0.2.1",
    "s=-",
    "c=IN IP4 192.0.2.1",
    "t=0 0",
    "a=sendrecv",
    "m=audio 4000 RTP/AVP 0 101",
    "c=IN IP4 192.0.2.2",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=ptime:20",
]


def with_line(index: int, text: str | None, *, insert: bool = False) -> bytes:
    """BASE with line ``index`` (0-based) replaced, removed (``None``) or inserted before."""
    lines = list(BASE)
    if insert:
        assert text is not None
        lines.insert(index, text)
    elif text is None:
        del lines[index]
    else:
        lines[index] = text
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "SDP body is empty"),
        (with_line(0, "v=1"), "SDP line 1: v= version must be 0"),
        (with_line(0, None), "SDP line 1: a session description must start with v="),
        (with_line(0, "v =0"), "SDP line 1: expected <type>=<value>"),
        (with_line(0, "V=0"), "SDP line 1: type 'V' is not a single lowercase letter"),
        (with_line(1, "o=- 1 1 IN IP4"), "SDP line 2: o= needs 6 fields"),
        (with_line(1, "o= - 1 1 IN IP4 192.0.2.1"), "SDP line 2: o= has whitespace after '='"),
        (with_line(1, None), "SDP line 2: o= line missing"),
        (with_line(2, None), "SDP line 3: s= line missing"),
        (with_line(2, "s=a\x00b"), "SDP line 3: s= value contains CR, LF or NUL"),
        (with_line(2, "s=a\rb"), "SDP line 3: s= value contains CR, LF or NUL"),
        (with_line(3, "c=IN IP4"), "SDP line 4: c= address missing"),
        (with_line(3, "c=IN IP4 192.0.2.256"), "SDP line 4: c= '192.0.2.256' is not a valid"),
        (with_line(4, None), "SDP line 5: t= line missing"),
        (with_line(4, "t=0"), "SDP line 5: t= needs <start-time> <stop-time>"),
        (with_line(5, "a=sendrecv:yes"), "SDP line 6: a=sendrecv takes no value"),
        (with_line(5, "a="), "SDP line 6: a= attribute name missing"),
        (with_line(5, "a=recvonly", insert=True), "SDP line 7: a=sendrecv conflicts"),
        (with_line(6, "m=audio RTP/AVP 0"), "SDP line 7: m= port must be a decimal number"),
        (with_line(6, "m=audio 4000 RTP/AVP"), "SDP line 7: m= needs at least one format"),
        (with_line(7, "c=IN IP6 2001:db8::g"), "SDP line 8: c= '2001:db8::g' is not a valid"),
        (with_line(8, "a=rtpmap:101"), "SDP line 9: a=rtpmap:101 needs <encoding name>"),
        (with_line(9, "a=fmtp:"), "SDP line 10: a=fmtp: format missing"),
        (with_line(10, "a=ptime:0"), "SDP line 11: a=ptime must not be 0"),
        (with_line(10, "a=ptime:20ms"), "SDP line 11: a=ptime must be a number"),
        (with_line(10, "a=maxptime:"), "SDP line 11: a=maxptime must be a number"),
        (with_line(10, "a=rtcp:port"), "SDP line 11: a=rtcp: port must be a decimal"),
        (with_line(9, ""), "SDP line 10: empty line"),
        (with_line(10, "garbage"), "SDP line 11: expected <type>=<value>"),
    ],
)
def test_malformed_sdp_in_each_position(data: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        SessionDescription.parse(data)
    assert caught.value.status_hint == 400
    assert caught.value.reason.startswith(message), caught.value.reason


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (with_line(3, "b=AS:64", insert=True), "SDP line 5: c= must come before b="),
        (with_line(1, "i=info", insert=True), "SDP line 2: o= line missing"),
        (with_line(4, "c=IN IP4 192.0.2.9", insert=True), "SDP line 5: c= may appear only once"),
        (with_line(3, "v=0", insert=True), "SDP line 4: v= may appear only once"),
        (with_line(6, "r=7d 1h 0", insert=True), "SDP line 7: r= must come before a="),
        (with_line(6, "k=prompt", insert=True), "SDP line 7: k= must come before a="),
        (with_line(6, "z=0 0", insert=True), "SDP line 7: z= must come before a="),
        (with_line(5, "z=0 0\r\nz=0 0", insert=True), "SDP line 7: z= must follow the t=/r="),
        (with_line(8, "i=late", insert=True), "SDP line 9: i= must come before c="),
        (with_line(9, "b=AS:64", insert=True), "SDP line 10: b= must come before a="),
        (with_line(7, "i=a\r\ni=b", insert=True), "SDP line 9: only one i= line"),
        (with_line(8, "t=0 0", insert=True), "SDP line 9: t= is not allowed in a media"),
        (
            with_line(8, "a=rtpmap:101 telephone-event/8000", insert=True),
            "SDP line 10: a=rtpmap for payload type 101 given twice",
        ),
        (with_line(9, "a=fmtp:101 0-16", insert=True), "SDP line 11: a=fmtp for format 101"),
        (with_line(11, "a=sendonly\r\na=inactive", insert=True), "SDP line 13: a=inactive"),
    ],
)
def test_field_order_rules(data: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        SessionDescription.parse(data)
    assert caught.value.reason.startswith(message), caught.value.reason


def test_errors_at_the_end_name_the_sdp() -> None:
    with pytest.raises(RemoteProtocolError, match=r"^SDP: t= line missing"):
        SessionDescription.parse(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n")


# ------------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_truncation_parses_or_raises_the_protocol_error(name: str) -> None:
    data = fixture(name)
    for end in range(len(data)):
        prefix = data[:end]
        try:
            description = SessionDescription.parse(prefix)
        except RemoteProtocolError as exc:
            assert exc.status_hint == 400
        else:
            assert bytes(description) == prefix


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_trailing_garbage_is_reported_on_its_line(name: str) -> None:
    data = fixture(name)
    line_count = data.count(b"\r\n")
    with pytest.raises(RemoteProtocolError, match=f"^SDP line {line_count + 1}: expected"):
        SessionDescription.parse(data + b"\x00\xff garbage")


def assert_parses_or_protocol_error(data: bytes) -> None:
    try:
        description = SessionDescription.parse(data)
    except RemoteProtocolError as exc:
        assert exc.status_hint == 400
        assert exc.reason.startswith("SDP")
    else:
        assert bytes(description) == data


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_the_protocol_error(data: bytes) -> None:
    assert_parses_or_protocol_error(data)


SDP_LETTERS = "vosiuepcbtrzkamxy"


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SDP_LETTERS),
            st.text(alphabet="0123456789 ./:-abcINPV46" + "\u00e9", max_size=25),
            st.sampled_from(["\r\n", "\n"]),
        ),
        max_size=14,
    )
)
def test_sdp_shaped_garbage_only_raises_the_protocol_error(
    lines: list[tuple[str, str, str]],
) -> None:
    data = "".join(f"{kind}={value}{eol}" for kind, value, eol in lines)
    assert_parses_or_protocol_error(("v=0\r\n" + data).encode())


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(FIXTURE_NAMES),
    st.lists(st.tuples(st.integers(0, 2000), st.binary(max_size=3)), min_size=1, max_size=4),
)
def test_mutated_fixtures_only_raise_the_protocol_error(
    name: str, edits: list[tuple[int, bytes]]
) -> None:
    data = bytearray(fixture(name))
    for position, replacement in edits:
        at = position % (len(data) + 1)
        data[at : at + len(replacement)] = replacement
    assert_parses_or_protocol_error(bytes(data))


# ------------------------------------------------------------------------------- generated


TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'+",
    min_size=1,
    max_size=12,
)
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00"),
    max_size=20,
)
IPV4 = st.ip_addresses(v=4).map(str)
IPV6 = st.ip_addresses(v=6).map(str)


@st.composite
def connections(draw: st.DrawFn) -> Connection:
    if draw(st.booleans()):
        return Connection("IN", "IP6", draw(IPV6), None, draw(st.none() | st.integers(1, 9)))
    ttl = draw(st.none() | st.integers(0, 255))
    count = draw(st.none() | st.integers(1, 9)) if ttl is not None else None
    return Connection("IN", "IP4", draw(IPV4), ttl, count)


@st.composite
def attributes(draw: st.DrawFn) -> Attribute:
    name = draw(TOKEN.filter(lambda t: t not in ("rtpmap", "fmtp", "ptime", "maxptime", "rtcp")))
    if name in ("sendrecv", "sendonly", "recvonly", "inactive"):
        return Attribute(name)
    return Attribute(name, draw(st.none() | TEXT))


@st.composite
def media_sections(draw: st.DrawFn) -> MediaDescription:
    rtp = draw(st.booleans())
    if rtp:
        numbers = draw(st.lists(st.integers(0, 127), min_size=1, max_size=6, unique=True))
        formats = tuple(str(n) for n in numbers)
        proto = draw(st.sampled_from(["RTP/AVP", "RTP/SAVP", "RTP/AVPF", "UDP/TLS/RTP/SAVPF"]))
    else:
        formats = tuple(draw(st.lists(TOKEN, min_size=1, max_size=3)))
        proto = draw(st.sampled_from(["udptl", "TCP/MSRP", "TCP"]))
    field = MediaField(
        draw(st.sampled_from(["audio", "video", "image", "application"])),
        draw(st.integers(0, 65535)),
        proto,
        formats,
        draw(st.none() | st.integers(1, 4)),
    )
    extra: list[Attribute] = []
    if rtp:
        for number in draw(st.lists(st.sampled_from(numbers), unique=True)):
            extra.append(
                Attribute("rtpmap", f"{number} {draw(TOKEN)}/{draw(st.integers(1, 96000))}")
            )
    direction = draw(st.sampled_from([None, "sendrecv", "sendonly", "recvonly", "inactive"]))
    if direction is not None:
        extra.append(Attribute(direction))
    others = draw(st.lists(attributes(), max_size=4))
    plain = [a for a in others if a.name not in ("sendrecv", "sendonly", "recvonly", "inactive")]
    return MediaDescription.build(
        field,
        information=draw(st.none() | TEXT),
        connections=draw(st.lists(connections(), max_size=2)),
        bandwidths=draw(
            st.lists(
                st.builds(Bandwidth, TOKEN.filter(lambda t: ":" not in t), st.integers(0, 10**6)),
                max_size=2,
            )
        ),
        key=draw(st.none() | TEXT),
        attributes=[*extra, *plain],
    )


@st.composite
def descriptions(draw: st.DrawFn) -> SessionDescription:
    address = draw(IPV4 | IPV6)
    origin = Origin.for_address(address, draw(st.integers(0, 2**70)), draw(st.integers(0, 2**40)))
    times = draw(
        st.lists(
            st.builds(
                TimeDescription,
                st.builds(Timing, st.integers(0, 2**33), st.integers(0, 2**33)),
                st.lists(st.just(RepeatTimes("7d", "1h", ("0", "25h"))), max_size=2).map(tuple),
                st.none() | st.just(ZoneAdjustments(((2882844526, "-1h"), (2898848070, "0")))),
            ),
            min_size=1,
            max_size=2,
        )
    )
    session_attributes = [
        a for a in draw(st.lists(attributes(), max_size=3))
        if a.name not in ("sendrecv", "sendonly", "recvonly", "inactive")
    ]  # fmt: skip
    return SessionDescription.build(
        origin,
        draw(TEXT),
        information=draw(st.none() | TEXT),
        uri=draw(st.none() | TEXT),
        emails=draw(st.lists(TEXT, max_size=2)),
        phones=draw(st.lists(TEXT, max_size=2)),
        connection=draw(st.none() | connections()),
        bandwidths=draw(
            st.lists(
                st.builds(Bandwidth, st.sampled_from(["AS", "CT", "TIAS"]), st.integers(0, 10**6)),
                max_size=2,
            )
        ),
        times=times,
        key=draw(st.none() | TEXT),
        attributes=session_attributes,
        media=draw(st.lists(media_sections(), max_size=3)),
        eol=draw(st.sampled_from([b"\r\n", b"\n"])),
    )


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(descriptions())
def test_generated_descriptions_round_trip(description: SessionDescription) -> None:
    data = bytes(description)
    parsed = SessionDescription.parse(data)
    assert parsed == description
    assert bytes(parsed) == data
    assert parsed.origin == description.origin
    assert parsed.times == description.times
    for ours, theirs in zip(parsed.media, description.media, strict=True):
        assert ours.media_field == theirs.media_field
        assert ours.connections == theirs.connections
        assert ours.attributes == theirs.attributes
        assert ours.rtpmaps == theirs.rtpmaps


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(descriptions(), st.integers(0, 2), st.sampled_from([" ", "  "]))
def test_generated_descriptions_with_odd_spacing_round_trip(
    description: SessionDescription, which: int, blanks: str
) -> None:
    # Runs of blanks inside structured fields are read liberally and written back unchanged.
    text = bytes(description).decode("utf-8", "surrogateescape")
    prefix = ("c=IN ", "m=audio ", "t=")[which]
    data = re.sub(rf"(?m)^{re.escape(prefix)}(\S+) ", rf"{prefix}\1{blanks} ", text)
    encoded = data.encode("utf-8", "surrogateescape")
    assert bytes(SessionDescription.parse(encoded)) == encoded


# ------------------------------------------------------------------------------- building


def test_build_writes_fields_in_rfc_order() -> None:
    description = SessionDescription.build(
        Origin.for_address("192.0.2.1", 5, 6),
        "call",
        connection=Connection.for_address("192.0.2.1"),
        attributes=[Attribute("sendrecv")],
        media=[
            MediaDescription.build(
                MediaField("audio", 4000, "RTP/AVP", ("0",)),
                attributes=[Attribute("rtpmap", "0 PCMU/8000"), Attribute("ptime", "20")],
            )
        ],
    )
    assert bytes(description) == (
        b"v=0\r\no=gwemu 5 6 IN IP4 192.0.2.1\r\ns=call\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"a=sendrecv\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n"
    )
    assert SessionDescription.parse(bytes(description)) == description


def test_building_invalid_descriptions_is_a_local_error() -> None:
    origin = SdpLine.of("o", Origin.for_address("192.0.2.1", 1, 1))
    with pytest.raises(InvalidSdpLine, match="t= line missing"):
        SessionDescription((SdpLine("v", "0"), origin, SdpLine("s", "-")))
    with pytest.raises(LocalProtocolError, match="value contains CR"):
        SdpLine("s", "two\r\nlines")
    with pytest.raises(LocalProtocolError, match="not a single lowercase letter"):
        SdpLine("ab", "x")
    with pytest.raises(LocalProtocolError, match="line ending"):
        SdpLine("s", "x", b"\r")
    with pytest.raises(LocalProtocolError, match="must start with m="):
        MediaDescription((SdpLine("a", "sendrecv"),))
    lines = (SdpLine("v", "0", b""), origin, SdpLine("s", "-"), SdpLine("t", "0 0"))
    with pytest.raises(LocalProtocolError, match="no line ending but is not last"):
        SessionDescription(lines)
    good = (SdpLine("v", "0"), origin, SdpLine("s", "-"), SdpLine("t", "0 0"))
    with pytest.raises(LocalProtocolError, match="trailer may only hold blank lines"):
        SessionDescription(good, (), b"x\r\n")


def test_b2bua_rewrites_connection_lines_keeping_everything_else() -> None:
    data = fixture("cisco-ios-offer.sdp", b"\n")
    description = SessionDescription.parse(data)
    moved = description.with_connection(Connection.for_address("2001:db8::5"))
    moved = moved.replace_media(0, moved.media[0].with_connection(None).with_port(30000))
    expected = (
        data.replace(b"c=IN IP4 192.0.2.45\nt=", b"c=IN IP6 2001:db8::5\nt=")
        .replace(b"c=IN IP4 192.0.2.45\na=", b"a=")
        .replace(b"m=audio 17426 ", b"m=audio 30000 ")
    )
    assert bytes(moved) == expected  # LF-only stays LF-only
    assert moved.connection_for(moved.media[0]) == Connection("IN", "IP6", "2001:db8::5")
    # Adding a c= where there was none puts it where RFC 8866 §5 says.
    five_118 = SessionDescription.parse(
        b"v=0\no=bob 1 2 IN IP4 h.example.com\ns=\nt=0 0\nm=audio 1 RTP/AVP 0\na=sendonly"
    )
    added = five_118.with_connection(Connection.for_address("192.0.2.7"))
    assert [line.kind for line in added.lines] == ["v", "o", "s", "c", "t"]
    media = added.media[0].with_connection(Connection.for_address("192.0.2.8"))
    assert [line.kind for line in media.lines] == ["m", "c", "a"]
    # The unterminated last line gets a line ending once something follows it.
    redirected = added.replace_media(0, added.media[0].with_direction("recvonly"))
    assert bytes(redirected).endswith(b"m=audio 1 RTP/AVP 0\na=recvonly\n")
    assert redirected.media[0].direction == "recvonly"
    assert added.media[0].with_direction(None).direction is None


def test_with_origin_replaces_only_the_origin() -> None:
    data = fixture("asterisk-offer.sdp")
    description = SessionDescription.parse(data)
    bumped = description.with_origin(
        Origin("-", 1700000000, 1700000001, "IN", "IP4", "198.51.100.7")
    )
    assert bytes(bumped) == data.replace(b"1700000000 1700000000", b"1700000000 1700000001")
    assert bytes(description.with_media(description.media)) == data
