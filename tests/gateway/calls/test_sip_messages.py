"""Numbers out of INVITEs, our INVITEs, Reason and Warning reading."""

from __future__ import annotations

import random

import pytest

from gateway.calls.sip_messages import (
    build_invite,
    parties_of,
    reasons_of,
    sdp_of,
    warning_codes,
)
from gateway.errors import RemoteProtocolError
from gateway.sip.endpoint import SipEndpoint
from gateway.sip.message import Request, Response


@pytest.fixture
def endpoint():
    ep = SipEndpoint(rng=random.Random(1))
    ep.add_listener("udp", ("10.0.0.1", 5060))
    return ep


def invite(endpoint, uri, from_, headers=()):
    return endpoint.new_request("INVITE", uri, from_=from_, to=f"<{uri}>", headers=headers)


def test_parties_of_an_invite(endpoint):
    parties = parties_of(invite(endpoint, "sip:555-1234@gw", '"Alice" <sip:1000@pbx>'))
    assert (parties.called, parties.calling, parties.calling_name) == ("5551234", "1000", "Alice")
    assert parties.presentation_allowed
    tel = invite(endpoint, "tel:+1-408-555-1234", "<sip:1000;phone-context=x@pbx>")
    assert parties_of(tel).called == "+14085551234"
    assert parties_of(tel).calling == "1000"
    private = invite(
        endpoint,
        "sip:5551234@gw",
        '"Anonymous" <sip:anonymous@anonymous.invalid>',
        headers=[("P-Asserted-Identity", '"Bob" <sip:+14085551000@gw-a>'), ("Privacy", "id")],
    )
    parties = parties_of(private)
    assert (parties.calling, parties.calling_name, parties.presentation_allowed) == (
        "+14085551000",
        "Bob",
        False,
    )
    anonymous = invite(endpoint, "sip:5551234@gw", "<sip:anonymous@anonymous.invalid>")
    assert (parties_of(anonymous).calling, parties_of(anonymous).presentation_allowed) == (
        "",
        False,
    )
    broken_pai = invite(
        endpoint, "sip:5551234@gw", "<sip:1000@pbx>", headers=[("P-Asserted-Identity", "<<<")]
    )
    assert parties_of(broken_pai).calling == "1000"


def test_build_invite(endpoint):
    request = build_invite(
        endpoint,
        called="123#",
        calling="1000",
        calling_name='Al "the" Caller',
        presentation_allowed=True,
        target=("10.0.0.2", 5060),
        local_host="10.0.0.1",
        sdp=b"v=0\r\n",
        expires=180,
    )
    assert request.uri_text == "sip:123%23@10.0.0.2:5060"
    assert request.headers.get("from").startswith('"Al \\"the\\" Caller" <sip:1000@10.0.0.1>')
    assert request.headers.get("expires") == "180"
    assert request.headers.get("content-type") == "application/sdp"
    assert parties_of(Request.parse(bytes(request))).called == "123#"
    hidden = build_invite(
        endpoint,
        called="5551234",
        calling="1000",
        calling_name=None,
        presentation_allowed=False,
        target=("2001:db8::2", 5060),
        local_host="2001:db8::1",
        sdp=b"",
        expires=180,
    )
    assert hidden.uri_text == "sip:5551234@[2001:db8::2]:5060"
    assert hidden.from_.uri_text == "sip:anonymous@anonymous.invalid"
    assert hidden.headers.get("p-asserted-identity") == "<sip:1000@[2001:db8::1]>"
    assert hidden.headers.get("privacy") == "id"
    parties = parties_of(Request.parse(bytes(hidden)))
    assert (parties.calling, parties.presentation_allowed) == ("1000", False)


def test_reason_and_warning_reading(endpoint):
    request = invite(endpoint, "sip:5@gw", "<sip:1@x>")
    response = Response.for_request(
        request,
        488,
        to_tag="t",
        extra_headers=[
            ("Reason", 'SIP;cause=580, Q.850;cause=65;text="x"'),
            ("Reason", "garbage;;;=="),
            ("Warning", '305 gw "Incompatible media format", 399 gw "x"'),
            ("Warning", "bad"),
        ],
    )
    assert [r.cause for r in reasons_of(response)] == [580, 65]
    assert warning_codes(response) == (305, 399)


def test_sdp_of(endpoint):
    request = invite(endpoint, "sip:5@gw", "<sip:1@x>")
    assert sdp_of(request) is None
    with pytest.raises(RemoteProtocolError) as error:
        sdp_of(request.with_body(b"hello", "text/plain"))
    assert error.value.status_hint == 415
    with pytest.raises(RemoteProtocolError):
        sdp_of(request.with_body(b"not sdp", "application/sdp"))
