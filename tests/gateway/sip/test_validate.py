from __future__ import annotations

import pytest

from gateway.errors import RemoteProtocolError
from gateway.sip.parser import parse_datagram
from gateway.sip.validate import validate

HEAD = (
    "{start}\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    "To: <sip:bob@biloxi.example.com>;tag=9\r\n"
    "From: <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710\r\n"
    "CSeq: 1 OPTIONS\r\n"
)


def message(extra: str, start: str = "OPTIONS sip:bob@biloxi.example.com SIP/2.0") -> bytes:
    return (HEAD.format(start=start) + extra + "Content-Length: 0\r\n\r\n").encode(
        "utf-8", "surrogateescape"
    )


@pytest.mark.parametrize(
    "extra",
    [
        "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n",
        "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n",
        "Contact: *\r\nExpires: 0\r\n",
        'Warning: 399 gw.example.com "Incompatible, but \\"tolerated\\""\r\n',
        "Retry-After: 18000;duration=3600\r\nRetry-After: 120 (I'm in a meeting)\r\n",
        "Accept: application/sdp;level=1, */*;q=0.1\r\nAccept-Encoding: gzip;q=1.0, identity\r\n",
        "Content-Disposition: session;handling=optional\r\nEvent: presence;id=1\r\n",
        'Authorization: Digest username="bob", realm="biloxi.com"\r\n',
        "Timestamp: 54.3 0.1\r\nMIME-Version: 1.0\r\nRSeq: 988789\r\nRAck: 776656 1 INVITE\r\n",
        "Subject: caf\u00e9 \u2615\r\nUser-Agent: gwemu/0.1\r\n"
        "In-Reply-To: 70710@saturn.bell-tel.com\r\n",
        "Supported:\r\nAllow: INVITE, ACK\r\nReply-To: Bob <sip:bob@biloxi.com>\r\n",
    ],
)
def test_valid_headers_pass(extra: str) -> None:
    validate(parse_datagram(message(extra)))


@pytest.mark.parametrize(
    ("extra", "word"),
    [
        ("Date: Fri, 01 Jan 2010 16:00:00 EST\r\n", "Date"),
        ("Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\r\n", "Contact"),
        ("Contact: <sip:a@b>;expires=280297596632815\r\n", "expires"),
        ('Warning: 1812 overture "In Progress"\r\n', "Warning"),
        ("Retry-After: 949302838503028349304023988\r\n", "Retry-After"),
        ("Route: sip:p1.example.com;lr\r\n", "Route"),
        ("Expires: soon\r\n", "Expires"),
        ("Require: a b\r\n", "Require"),
        ("X-Custom: bell\x07\r\n", "control character"),
        ("X-Custom: \udcff\r\n", "UTF-8"),
        ("Authorization: =broken\r\n", "auth scheme"),
        ("RAck: 1 INVITE\r\n", "RAck"),
        ("Event: ;x\r\n", "Event"),
        ("Timestamp: later\r\n", "Timestamp"),
        ("In-Reply-To: a b\r\n", "In-Reply-To"),
        ("Reply-To: <sip:a@b\r\n", "Reply-To"),
    ],
)
def test_invalid_headers_fail_with_400(extra: str, word: str) -> None:
    parsed = parse_datagram(message(extra))
    with pytest.raises(RemoteProtocolError) as caught:
        validate(parsed)
    assert caught.value.status_hint == 400 and word in caught.value.reason


def test_responses_fail_without_status() -> None:
    parsed = parse_datagram(message('Warning: 1812 overture "x"\r\n', start="SIP/2.0 503 Busy"))
    with pytest.raises(RemoteProtocolError) as caught:
        validate(parsed)
    assert caught.value.status_hint is None


def test_request_uri_and_max_forwards_are_checked() -> None:
    validate(parse_datagram(message("Max-Forwards: 0\r\n")))
