from __future__ import annotations

import pytest

from gateway.sip.message import Request
from gateway.sip.parser import parse_datagram
from gateway.sip.uas_checks import Rejection, UasCapabilities, check_proxy_require, check_request


def make(
    method: str = "INVITE",
    uri: str = "sip:bob@biloxi.example.com",
    extra: str = "",
    body: bytes = b"",
    cseq_method: str | None = None,
) -> Request:
    data = (
        f"{method} {uri} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
        "To: <sip:bob@biloxi.example.com>\r\n"
        "From: <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
        "Call-ID: a84b4c76e66710\r\n"
        f"CSeq: 1 {cseq_method or method}\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    message = parse_datagram(data)
    assert isinstance(message, Request)
    return message


CAPS = UasCapabilities.of(
    methods=["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"], extensions=["100rel", "timer"]
)


def test_acceptable_requests_pass() -> None:
    assert check_request(make(), CAPS) is None
    assert check_request(make(extra="Require: 100rel, timer\r\n"), CAPS) is None
    sdp = "Content-Type: application/sdp\r\nAccept: application/sdp, text/plain\r\n"
    assert check_request(make(extra=sdp, body=b"v=0\r\n"), CAPS) is None
    assert check_request(make(extra="Accept: */*\r\n"), CAPS) is None
    assert check_request(make(uri="tel:+15551234567"), CAPS) is None


def test_methods() -> None:
    rejection = check_request(make("REGISTER", "sip:example.com"), CAPS)
    assert rejection == Rejection(
        405, "method REGISTER not allowed here", (("Allow", "ACK, BYE, CANCEL, INVITE, OPTIONS"),)
    )
    assert rejection.phrase == "Method Not Allowed"
    unknown = check_request(make("FOO"), CAPS)
    assert unknown is not None and unknown.status == 501 and unknown.headers[0][0] == "Allow"


def test_ack_is_never_answered() -> None:
    ack = make("ACK", extra="Require: nothing-known\r\n", body=b"x")
    assert check_request(ack, CAPS) is None


def test_uri_schemes() -> None:
    rejection = check_request(make(uri="nobodyKnowsThisScheme:totallyopaquecontent"), CAPS)
    assert rejection is not None and rejection.status == 416
    sips_only = UasCapabilities.of(uri_schemes=["SIPS"])
    assert check_request(make(uri="sips:bob@b"), sips_only) is None
    assert check_request(make(uri="sip:bob@b"), sips_only).status == 416  # type: ignore[union-attr]


def test_require() -> None:
    rejection = check_request(make(extra="Require: 100rel, foo\r\nRequire: bar\r\n"), CAPS)
    assert rejection is not None and rejection.status == 420
    assert rejection.headers == (("Unsupported", "foo, bar"),)
    # RFC 3261 8.2.2.3: Require in a CANCEL is ignored.
    assert check_request(make("CANCEL", extra="Require: foo\r\n"), CAPS) is None
    # Proxy-Require is not the UAS's business...
    assert check_request(make(extra="Proxy-Require: foo\r\n"), CAPS) is None
    # ...but a proxy rejects what it does not know.
    proxy = check_proxy_require(make(extra="Proxy-Require: foo, sec-agree\r\n"), ["sec-agree"])
    assert proxy == Rejection(420, "unsupported extension foo", (("Unsupported", "foo"),))
    assert check_proxy_require(make(extra="Proxy-Require: foo\r\n"), ["foo"]) is None
    assert check_proxy_require(make("CANCEL", extra="Proxy-Require: foo\r\n"), []) is None
    assert check_proxy_require(make(extra="Proxy-Require: a b\r\n"), []).status == 400  # type: ignore[union-attr]


def test_bodies() -> None:
    unknown_type = make(extra="Content-Type: application/unknownformat\r\n", body=b"<a/>")
    rejection = check_request(unknown_type, CAPS)
    assert rejection == Rejection(
        415, "unsupported body type application/unknownformat", (("Accept", "application/sdp"),)
    )
    gzip = make(extra="Content-Type: application/sdp\r\nContent-Encoding: gzip\r\n", body=b"x")
    rejection = check_request(gzip, CAPS)
    assert rejection is not None and rejection.status == 415
    assert rejection.headers == (("Accept-Encoding", "identity"),)
    untyped = check_request(make(body=b"v=0\r\n"), CAPS)
    assert untyped is not None and untyped.status == 400
    # An empty body needs no type at all.
    assert check_request(make(extra="Content-Type: application/unknownformat\r\n"), CAPS) is None


def test_accept_excluding_the_answer_type_is_406() -> None:
    rejection = check_request(make(extra="Accept: text/nobodyKnowsThis\r\n"), CAPS)
    assert rejection is not None and rejection.status == 406
    refused = check_request(make(extra="Accept: application/sdp;q=0\r\n"), CAPS)
    assert refused is not None and refused.status == 406
    # OPTIONS answers need no body: a narrow Accept is fine there.
    assert check_request(make("OPTIONS", extra="Accept: text/plain\r\n"), CAPS) is None


def test_unparsable_headers_give_400() -> None:
    rejection = check_request(make(extra="Require: a b\r\n"), CAPS)
    assert rejection is not None and rejection.status == 400 and "Require" in rejection.reason
    broken = check_request(make(extra="Content-Type: nonsense\r\n", body=b"x"), CAPS)
    assert broken is not None and broken.status == 400


@pytest.mark.parametrize("status", [405, 420])
def test_rejection_builds_the_response(status: int) -> None:
    request = make("REGISTER" if status == 405 else "INVITE", extra="Require: foo\r\n")
    rejection = check_request(request, CAPS)
    assert rejection is not None and rejection.status == status
    response = rejection.response(request, to_tag="r1")
    assert response.status == status and response.to_tag == "r1"
    for name, value in rejection.headers:
        assert response.headers.get(name) == value
