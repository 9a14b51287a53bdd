from __future__ import annotations

import pytest

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.fields import CSeq
from gateway.sip.headers import Headers
from gateway.sip.message import Request, Response
from gateway.sip.parser import (
    _parse_common,
    _parse_general,
    error_response,
    is_keepalive,
    parse_datagram,
)
from gateway.sip.uri import SipUri

SDP = (
    b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
)
INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Timestamp: 54\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)
OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bK4b43c2ff8.1\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    b'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_request_fields() -> None:
    message = parse_datagram(INVITE)
    assert isinstance(message, Request)
    assert message.method == "INVITE" and message.uri == SipUri.parse("sip:bob@biloxi.example.com")
    assert message.via.branch == "z9hG4bK776asdhds" and len(message.vias) == 1
    assert message.from_tag == "1928301774" and message.to_tag is None
    assert message.to.display_name == "Bob"
    assert message.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    assert message.cseq == CSeq(314159, "INVITE")
    assert message.max_forwards == 70 and message.content_length == len(SDP) == len(message.body)
    assert (
        message.contact is not None
        and str(message.contact.uri) == "sip:alice@pc33.atlanta.example.com"
    )
    assert message.content_type is not None and message.content_type.mime == "application/sdp"
    assert message.require == () and message.supported == () and message.allow is None
    assert message.expires is None and message.accept is None and message.routes == ()
    assert message.summary == "INVITE sip:bob@biloxi.example.com"
    assert bytes(message) == INVITE


def test_response_fields() -> None:
    message = parse_datagram(OK)
    assert isinstance(message, Response)
    assert (message.status, message.reason, message.version) == (200, "OK", "SIP/2.0")
    assert [via.host for via in message.vias] == [
        "server10.biloxi.example.com",
        "pc33.atlanta.example.com",
    ]
    assert message.to_tag == "a6c85cf" and message.summary == "200 OK (INVITE)"
    assert bytes(message) == OK and Response.parse(OK) == message
    with pytest.raises(RemoteProtocolError):
        Response.parse(INVITE)
    with pytest.raises(RemoteProtocolError) as caught:
        Request.parse(OK)
    assert caught.value.status_hint is None


def test_fast_and_general_paths_build_equal_messages() -> None:
    for data in (INVITE, OK):
        fast = _parse_common(data)
        general = _parse_general(data)
        assert fast is not None and fast == general and bytes(fast) == bytes(general)
        assert fast.headers.keys == general.headers.keys
        for field in ("vias", "from_", "to", "call_id", "cseq", "max_forwards", "content_length"):
            assert getattr(fast, field) == getattr(general, field), field


def test_trailing_octets_are_not_part_of_the_message() -> None:
    message = parse_datagram(INVITE + b"garbage after the body")
    assert bytes(message) == INVITE and message.body == SDP
    assert bytes(parse_datagram(b"\r\n\r\n" + INVITE)) == INVITE  # leading CRLFs skipped


def test_truncated_datagrams_are_400() -> None:
    for cut in (10, INVITE.index(b"\r\n\r\n"), len(INVITE) - 1):
        with pytest.raises(RemoteProtocolError) as caught:
            parse_datagram(INVITE[:cut])
        assert caught.value.status_hint == 400
    with pytest.raises(RemoteProtocolError) as caught:
        parse_datagram(OK[:-10])
    assert caught.value.status_hint is None  # a response is dropped, never answered


def test_without_content_length_the_body_runs_to_the_end() -> None:
    data = INVITE.replace(b"Content-Length: " + str(len(SDP)).encode() + b"\r\n", b"")
    message = parse_datagram(data)
    assert message.body == SDP and message.content_length is None and bytes(message) == data


@pytest.mark.parametrize(
    ("data", "status", "word"),
    [
        (b"", 400, "empty line"),
        (b"garbage", 400, "empty line"),
        (b"\x00\xff\r\n\r\n", 400, "Request-Line"),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\n\r\n", 400, "mixes"),
        (b"INVITE sip:a@b SIP/2.0\r\nX: a\rb\r\n\r\n", 400, "bare CR or LF"),
        (b"INVITE sip:a@b SIP/2.0\r\nX: a\nb: c\r\n\r\n", 400, "bare CR or LF"),
        (b"INVITE sip:a@b HTTP/1.1\r\n\r\n", 400, "not a SIP version"),
        (b"INVITE sip:a@b SIP/3.0\r\n\r\n", 505, "SIP/3.0"),
        (b"INV@TE sip:a@b SIP/2.0\r\n\r\n", 400, "method"),
        (b" INVITE sip:a@b SIP/2.0\r\n\r\n", 400, "leading"),
        (b"SIP/2.0 099 Low\r\n\r\n", None, "below 100"),
        (b"SIP/2.0 200\r\n\r\n", None, "no SP"),
        (b"SIP/2.0 2000 OK\r\n\r\n", None, "3 digits"),
        (b"SIP/2.0 200 O\x01K\r\n\r\n", None, "control"),
        (b"SIP/3.0 200 OK\r\n\r\n", None, "version"),
        (b"SIP/2.0 200 OK\r\nBad Header: x\r\n\r\n", None, "header name"),
        (b"SIP/2.0 200 OK\r\nVia: x", None, "empty line"),
    ],
)
def test_malformed_start_and_header_sections(data: bytes, status: int | None, word: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_datagram(data)
    assert caught.value.status_hint == status and word in caught.value.reason


def test_lf_only_messages_round_trip() -> None:
    data = INVITE.replace(b"\r\n", b"\n")
    data = data[: data.index(b"\n\n") + 2] + SDP
    message = parse_datagram(data)
    assert isinstance(message, Request) and message.body == SDP and bytes(message) == data
    assert message.call_id == "a84b4c76e66710@pc33.atlanta.example.com"


def test_required_header_problems() -> None:
    def without(name: bytes) -> bytes:
        lines = INVITE.split(b"\r\n")
        return b"\r\n".join(line for line in lines if not line.startswith(name))

    with pytest.raises(RemoteProtocolError, match="missing Via header"):
        parse_datagram(without(b"Via:"))
    with pytest.raises(RemoteProtocolError, match="missing To header"):
        parse_datagram(without(b"To:"))
    doubled = INVITE.replace(b"CSeq: 314159 INVITE\r\n", b"CSeq: 1 INVITE\r\nCSeq: 2 INVITE\r\n")
    with pytest.raises(RemoteProtocolError, match="CSeq header appears 2 times"):
        parse_datagram(doubled)
    with pytest.raises(RemoteProtocolError, match="Max-Forwards"):
        parse_datagram(INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: 256"))
    with pytest.raises(RemoteProtocolError, match="does not match"):
        parse_datagram(INVITE.replace(b"314159 INVITE", b"314159 BYE"))
    # A response's CSeq method is the request's: no comparison with anything.
    assert parse_datagram(OK).cseq.method == "INVITE"


def test_building_a_request_sets_content_length() -> None:
    request = Request.build(
        "OPTIONS",
        SipUri.parse("sip:bob@biloxi.example.com"),
        [
            ("Via", "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds7"),
            ("Max-Forwards", "70"),
            ("To", "<sip:bob@biloxi.example.com>"),
            ("From", "<sip:alice@atlanta.example.com>;tag=88"),
            ("Call-ID", "opt1@pc33"),
            ("CSeq", "1 OPTIONS"),
            ("Content-Length", "999"),
        ],
        body=b"hello",
        content_type="text/plain",
    )
    assert request.headers.get("Content-Length") == "5" and request.headers.count("l") == 1
    assert request.content_type is not None and request.content_type.mime == "text/plain"
    data = bytes(request)
    assert data.endswith(b"\r\n\r\nhello") and data.startswith(
        b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"
    )
    reparsed = parse_datagram(data)
    assert reparsed == request and bytes(reparsed) == data


@pytest.mark.parametrize(
    ("method", "uri", "headers", "word"),
    [
        ("BAD METHOD", "sip:a@b", [], "method"),
        ("OPTIONS", "<sip:a@b>", [], "Request-URI"),
        ("OPTIONS", "sip:a@b?x=y", [], "Request-URI"),
        ("OPTIONS", "sip:a@b", [("Via", "SIP/2.0/UDP h")], "missing"),
        ("OPTIONS", "sip:a@b", [("Via", "SIP/2.0/UDP h"), ("To", "<sip:a@b>"),
                                ("From", "<sip:c@d>;tag=1"), ("Call-ID", "x"),
                                ("CSeq", "1 INVITE")], "does not match"),
    ],
)  # fmt: skip
def test_building_invalid_requests_is_our_bug(
    method: str, uri: str, headers: list[tuple[str, str]], word: str
) -> None:
    with pytest.raises(LocalProtocolError, match=word):
        Request.build(method, uri, headers)


def test_response_for_request_copies_per_rfc3261_8_2_6() -> None:
    request = parse_datagram(INVITE)
    assert isinstance(request, Request)
    ringing = Response.for_request(request, 180, to_tag="a6c85cf")
    assert ringing.reason == "Ringing"
    assert ringing.headers.get_all("via") == request.headers.get_all("via")
    assert ringing.headers.get("from") == request.headers.get("from")
    assert ringing.to.tag == "a6c85cf" and str(ringing.to.uri) == str(request.to.uri)
    assert ringing.call_id == request.call_id and ringing.cseq == request.cseq
    assert ringing.headers.get("Content-Length") == "0" and "timestamp" not in ringing.headers
    trying = Response.for_request(request, 100)
    assert trying.to.tag is None and trying.headers.get("Timestamp") == "54"
    ok = Response.for_request(
        request,
        200,
        to_tag="x",
        extra_headers=[("Contact", "<sip:bob@192.0.2.4>")],
        body=SDP,
        content_type="application/sdp",
    )
    assert ok.headers.get("Content-Length") == str(len(SDP)) and ok.body == SDP
    reparsed = parse_datagram(bytes(ok))
    assert reparsed == ok and isinstance(reparsed, Response) and reparsed.to_tag == "x"
    with pytest.raises(LocalProtocolError, match="To tag"):
        Response.for_request(request, 486)
    with pytest.raises(LocalProtocolError):
        Response.for_request(request, 700, to_tag="x")
    with pytest.raises(LocalProtocolError):
        Response.for_request(request, 200, to_tag="bad tag")
    # A request that already has a To tag keeps it (in-dialog request).
    in_dialog = parse_datagram(
        OK.replace(b"SIP/2.0 200 OK", b"BYE sip:a@b SIP/2.0").replace(b"314159 INVITE", b"2 BYE")
    )
    assert isinstance(in_dialog, Request)
    assert Response.for_request(in_dialog, 200, to_tag="other").to_tag == "a6c85cf"


def test_derived_messages_rerender_only_what_changed() -> None:
    original = INVITE.replace(b"To: Bob", b"t:   Bob")
    request = parse_datagram(original)
    assert isinstance(request, Request)
    forwarded = (
        request.prepend_header("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1")
        .replace_header("Max-Forwards", str((request.max_forwards or 0) - 1))
        .prepend_header("Record-Route", "<sip:proxy.example.com;lr>")
    )
    data = bytes(forwarded)
    assert data.startswith(
        b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
        b"Record-Route: <sip:proxy.example.com;lr>\r\n"
        b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1\r\n"
        b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport\r\n"
        b"Max-Forwards: 69\r\n"
        b"t:   Bob <sip:bob@biloxi.example.com>\r\n"
    )
    assert data.endswith(b"\r\n\r\n" + SDP)
    reparsed = parse_datagram(data)
    assert [via.host for via in reparsed.vias] == ["proxy.example.com", "pc33.atlanta.example.com"]
    assert reparsed.max_forwards == 69 and bytes(request) == original  # original untouched
    retargeted = request.with_uri("sip:bob@192.0.2.4")
    assert bytes(retargeted).startswith(b"INVITE sip:bob@192.0.2.4 SIP/2.0\r\n")
    assert retargeted.uri == SipUri.parse("sip:bob@192.0.2.4")
    with pytest.raises(LocalProtocolError):
        request.with_uri("not a uri")
    emptied = request.with_body(b"").without_header("Content-Type")
    assert (
        emptied.headers.get("Content-Length") == "0" and parse_datagram(bytes(emptied)).body == b""
    )
    response = parse_datagram(OK)
    assert isinstance(response, Response)
    upstream = response.without_top_via()
    assert [via.host for via in upstream.vias] == ["pc33.atlanta.example.com"]
    assert bytes(upstream).count(b"Via:") == 1
    assert response.with_header("Server", "gwemu").headers.get("server") == "gwemu"
    assert response.replace_header("Content-Length", "0").headers.count("content-length") == 1
    assert response.without_header("Via").headers.count("via") == 0
    assert response.prepend_header("Via", "SIP/2.0/UDP x").vias[0].host == "x"
    with_body = response.with_body(b"abc", "text/plain")
    assert parse_datagram(bytes(with_body)).body == b"abc"


def test_response_build() -> None:
    response = Response.build(
        404,
        Headers.of(
            [
                ("Via", "SIP/2.0/UDP h;branch=z9hG4bK1"),
                ("To", "<sip:a@b>;tag=1"),
                ("From", "<sip:c@d>;tag=2"),
                ("Call-ID", "x"),
                ("CSeq", "1 INVITE"),
            ]
        ),
    )
    assert bytes(response).startswith(b"SIP/2.0 404 Not Found\r\n")
    assert Response.build(499, response.headers).reason == "Client Error"
    with pytest.raises(LocalProtocolError):
        Response.build(200, response.headers, reason="bad\r\nphrase")


def test_error_response_for_unparsable_requests() -> None:
    bad = INVITE.replace(
        b"To: Bob <sip:bob@biloxi.example.com>", b'To: "Bob <sip:bob@biloxi.example.com>'
    )
    with pytest.raises(RemoteProtocolError) as caught:
        parse_datagram(bad)
    response = error_response(bad, caught.value, to_tag="e1")
    assert response is not None and response.status == 400
    data = bytes(response)
    assert data.startswith(b"SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/UDP pc33.atlanta.example.com")
    assert b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" in data
    assert b";tag=e1\r\n" in data and data.endswith(b"Content-Length: 0\r\n\r\n")
    extension = RemoteProtocolError("unsupported", 420, extra_headers=(("Unsupported", "foo"),))
    answered = error_response(INVITE, extension, to_tag="t")
    assert answered is not None and answered.headers.get("Unsupported") == "foo"
    assert error_response(OK, RemoteProtocolError("x", None), to_tag="t") is None
    assert error_response(b"garbage", RemoteProtocolError("x", 400), to_tag="t") is None
    no_via = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n"
    assert error_response(no_via, RemoteProtocolError("missing Via header", 400), "t") is None


def test_keepalive_detection() -> None:
    assert is_keepalive(b"\r\n\r\n") and is_keepalive(b"\r\n")
    assert not is_keepalive(b"") and not is_keepalive(INVITE)
