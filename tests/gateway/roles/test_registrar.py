"""The sans-IO registrar (RFC 3261 s10.3): bindings, expiry, removal, ordering, digest."""

from __future__ import annotations

import random

import pytest

from gateway.roles.registrar import Registrar
from gateway.sip.auth_client import DigestClient
from gateway.sip.endpoint import SipEndpoint


@pytest.fixture
def endpoint():
    ep = SipEndpoint(rng=random.Random(5))
    ep.add_listener("udp", ("10.0.0.1", 5060))
    return ep


def register(endpoint, aor, contact, *, cseq=1, call_id="c1", expires=None, extra=()):
    headers = [("Expires", str(expires))] if expires is not None else []
    return endpoint.new_request(
        "REGISTER",
        "sip:example.com",
        from_=f"<{aor}>",
        to=f"<{aor}>",
        call_id=call_id,
        cseq=cseq,
        contact=contact,
        headers=[*headers, *extra],
    )


def open_registrar(**kw):
    return Registrar("example.com", None, rng=random.Random(1), secret=b"x" * 16, **kw)


def test_bindings_expiry_and_removal(endpoint):
    registrar = open_registrar(domain="example.com")
    aor = "sip:alice@example.com"
    answer = registrar.process(register(endpoint, aor, "<sip:alice@10.0.0.1>", expires=300), 0.0)
    assert answer.status == 200
    assert answer.headers == (("Contact", "<sip:alice@10.0.0.1>;expires=300"),)
    second = register(endpoint, aor, "<sip:alice@10.0.0.5>;expires=100", cseq=2)
    assert registrar.process(second, 10.0).status == 200
    assert {b.contact for b in registrar.lookup(aor, 50.0)} == {
        "sip:alice@10.0.0.1",
        "sip:alice@10.0.0.5",
    }
    assert {b.contact for b in registrar.lookup("alice", 150.0)} == {"sip:alice@10.0.0.1"}
    # Same Call-ID, CSeq not higher: refused (RFC 3261 s10.3 step 7).
    stale = register(endpoint, aor, "<sip:alice@10.0.0.1>", cseq=1, expires=0)
    assert registrar.process(stale, 160.0).status == 500
    too_short = register(endpoint, aor, "<sip:alice@10.0.0.1>", cseq=3, expires=5)
    refused = registrar.process(too_short, 160.0)
    assert (refused.status, refused.headers) == (423, (("Min-Expires", "60"),))
    wildcard = register(endpoint, aor, "*", cseq=4, expires=0)
    assert registrar.process(wildcard, 170.0).status == 200
    assert registrar.lookup(aor, 170.0) == ()
    bad_wildcard = register(endpoint, aor, "*", cseq=5, expires=10)
    assert registrar.process(bad_wildcard, 171.0).status == 400
    assert registrar.lookup(aor, 400.0) == ()
    other = endpoint.new_request(
        "REGISTER", "sip:elsewhere.net", from_=f"<{aor}>", to=f"<{aor}>", contact="<sip:a@h>"
    )
    assert registrar.process(other, 0.0).status == 404


def test_digest_challenge_and_answer(endpoint):
    registrar = Registrar("example.com", {"alice": "pw"}, rng=random.Random(2), secret=b"s" * 16)
    aor = "sip:alice@example.com"
    request = register(endpoint, aor, "<sip:alice@10.0.0.1>", expires=600)
    challenge = registrar.process(request, 0.0)
    assert challenge.status == 401
    values = [value for name, value in challenge.headers if name == "WWW-Authenticate"]
    client = DigestClient("alice", "pw", rng=random.Random(4))
    assert client.on_challenge(401, values, 0.0, sent=[]).retry
    auth = client.authorization_headers("REGISTER", "sip:example.com")
    answered = register(endpoint, aor, "<sip:alice@10.0.0.1>", cseq=2, expires=600, extra=auth)
    accepted = registrar.process(answered, 1.0)
    assert accepted.status == 200
    assert registrar.lookup(aor, 2.0)[0].contact == "sip:alice@10.0.0.1"
    wrong = DigestClient("alice", "nope", rng=random.Random(4))
    wrong.on_challenge(401, values, 0.0, sent=[])
    bad = register(
        endpoint,
        aor,
        "<sip:alice@10.0.0.1>",
        cseq=3,
        extra=wrong.authorization_headers("REGISTER", "sip:example.com"),
    )
    assert registrar.process(bad, 2.0).status == 401
    garbage = register(endpoint, aor, "<sip:a@h>", cseq=4, extra=[("Authorization", "Digest ,,,")])
    assert registrar.process(garbage, 2.0).status == 400
