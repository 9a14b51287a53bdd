"""Digest authentication: published vectors, header values, and client <-> challenger pairs."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.auth import (
    AuthVerdict,
    Challenge,
    Credentials,
    DigestChallenger,
    DigestClient,
    OtherScheme,
    Secret,
    StoredHA1,
    VerdictKind,
    answer_challenge,
    parse_challenges,
    parse_credentials,
)
from gateway.trace import TraceRecorder

# -- published vectors ---------------------------------------------------------------------

# RFC 7616 section 3.9.1 ("Example with SHA-256 and MD5"): the challenge, the inputs and the
# two Authorization values exactly as the RFC prints them (the password is "Circle of Life",
# lowercase "of", RFC 7616 erratum 4495).
RFC7616_CHALLENGE = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={alg}, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC7616_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}
RFC7616_AUTHORIZATION = (
    'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", '
    'algorithm={alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, '
    'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
    'response="{response}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)

# RFC 2617 section 3.5: qop=auth, password "Circle Of Life", cnonce 0a4f113b, nc 00000001.
RFC2617_CHALLENGE = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC2617_RESPONSE = "6629fae49393a05397450978507c4ef1"

# RFC 2069 section 2.4 (no qop), as corrected by RFC 2069 erratum 749: password "CircleOfLife".
RFC2069_CHALLENGE = (
    'Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC2069_RESPONSE = "1949323746fe6a43ef61f9606e7febea"


@pytest.mark.parametrize("alg", ["MD5", "SHA-256"])
def test_rfc7616_worked_example(alg: str) -> None:
    challenge = Challenge.parse(RFC7616_CHALLENGE.format(alg=alg))
    assert challenge.qop_options == ("auth", "auth-int")
    credentials = answer_challenge(
        challenge,
        username="Mufasa",
        secret="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce=RFC7616_CNONCE,
        nc=1,
    )
    assert credentials.response == RFC7616_RESPONSES[alg]
    printed = Credentials.parse(
        RFC7616_AUTHORIZATION.format(alg=alg, response=RFC7616_RESPONSES[alg])
    )
    # Same parameters as the RFC's header (our order differs, values must not).
    assert dict(credentials.params) == dict(printed.params)


def test_rfc2617_example() -> None:
    credentials = answer_challenge(
        Challenge.parse(RFC2617_CHALLENGE),
        username="Mufasa",
        secret="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce="0a4f113b",
        nc=1,
    )
    assert credentials.response == RFC2617_RESPONSE
    assert credentials.qop == "auth" and credentials.nc == 1
    assert "qop=auth, nc=00000001" in str(credentials)


def test_rfc2069_example_without_qop() -> None:
    credentials = answer_challenge(
        Challenge.parse(RFC2069_CHALLENGE),
        username="Mufasa",
        secret="CircleOfLife",
        method="GET",
        uri="/dir/index.html",
        cnonce="unused",
    )
    assert credentials.response == RFC2069_RESPONSE
    assert credentials.qop is None and credentials.nc is None and credentials.cnonce is None
    assert credentials.opaque == "5ccc069c403ebaf9f0171e9517f40e41"


def _h(name: str, text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.new(name, data).hexdigest()


@pytest.mark.parametrize(
    ("alg", "hash_name"),
    [("MD5-sess", "md5"), ("SHA-256-sess", "sha256"), ("SHA-512-256", "sha512_256")],
)
@pytest.mark.parametrize("qop", ["auth", "auth-int"])
def test_session_and_auth_int_follow_the_rfc_formulas(alg: str, hash_name: str, qop: str) -> None:
    # RFC 7616 sections 3.4.2 and 3.4.3, spelled out with hashlib.
    body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"
    challenge = Challenge.digest("r", "N", algorithm=alg, qop=(qop,))
    got = answer_challenge(
        challenge,
        username="u",
        secret="p",
        method="INVITE",
        uri="sip:b@x",
        cnonce="C",
        nc=7,
        body=body,
    )
    ha1 = _h(hash_name, "u:r:p")
    if alg.endswith("-sess"):
        ha1 = _h(hash_name, f"{ha1}:N:C")
    a2 = "INVITE:sip:b@x" + (f":{_h(hash_name, body)}" if qop == "auth-int" else "")
    expected = _h(hash_name, f"{ha1}:N:00000007:C:{qop}:{_h(hash_name, a2)}")
    assert got.response == expected
    assert got.algorithm == alg and got.qop == qop and got.nc == 7


def test_userhash_sends_the_hashed_username() -> None:
    # RFC 7616 section 3.4.4: username = H(unq(username) ":" unq(realm)).
    challenge = Challenge.digest("api@example.org", "N", algorithm="SHA-256", userhash=True)
    got = answer_challenge(
        challenge, username="Mufasa", secret="x", method="GET", uri="/", cnonce="c"
    )
    assert got.username == _h("sha256", "Mufasa:api@example.org")
    assert got.userhash
    assert "userhash=true" in str(got)


# -- header values -------------------------------------------------------------------------


def test_challenge_round_trips_and_exposes_fields() -> None:
    text = RFC7616_CHALLENGE.format(alg="SHA-256")
    challenge = Challenge.parse(text)
    assert str(challenge) == text and bytes(challenge) == text.encode()
    assert challenge.realm == "http-auth@example.org"
    assert challenge.nonce == "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
    assert challenge.opaque == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
    assert challenge.algorithm == "SHA-256" and not challenge.stale and not challenge.userhash


def test_challenge_defaults_and_flags() -> None:
    challenge = Challenge.parse(
        'Digest realm="r", nonce="n", stale=TRUE, domain="sip:a.example sip:b.example", '
        "charset=UTF-8, userhash=false"
    )
    assert challenge.algorithm == "MD5"  # absent means MD5 (RFC 7616 section 3.3)
    assert challenge.stale and not challenge.userhash
    assert challenge.domain == ("sip:a.example", "sip:b.example")
    assert challenge.charset == "UTF-8" and challenge.qop_options == ()


def test_builders_quote_exactly_as_rfc7616_prescribes() -> None:
    challenge = Challenge.digest(
        "r", "n", algorithm="SHA-256", qop=("auth", "auth-int"), opaque="o", stale=True
    )
    assert str(challenge) == (
        'Digest realm="r", nonce="n", opaque="o", stale=true, algorithm=SHA-256, '
        'qop="auth,auth-int"'
    )
    credentials = Credentials.digest(
        "bob", "r", "n", "sip:x", "ab", algorithm="MD5", cnonce="c", opaque="o", qop="auth", nc=1
    )
    assert str(credentials) == (
        'Digest username="bob", realm="r", nonce="n", uri="sip:x", response="ab", '
        'algorithm=MD5, cnonce="c", opaque="o", qop=auth, nc=00000001'
    )


def test_several_challenges_in_one_value_keep_their_text() -> None:
    first = 'Digest realm="a", nonce="1", algorithm=SHA-256'
    second = 'digest realm="a", nonce="1", algorithm=MD5, qop="auth"'
    third = 'Basic realm="b, c"'
    found = parse_challenges(f"{first},  {second} ,{third}, Negotiate")
    assert [type(item) for item in found] == [Challenge, Challenge, OtherScheme, OtherScheme]
    assert [str(item) for item in found] == [first, second, third, "Negotiate"]
    assert isinstance(found[1], Challenge)
    assert found[1].scheme == "digest" and found[1].qop_options == ("auth",)
    assert found[2] == OtherScheme("Basic", 'realm="b, c"')


def test_unknown_parameters_are_kept() -> None:
    text = 'Digest realm="r", nonce="n", x-token=abc, x-quoted="a,b\\"c"'
    challenge = Challenge.parse(text)
    assert challenge.params.get("x-token") == "abc"
    assert challenge.params.get_text("x-quoted") == 'a,b"c'
    assert str(challenge) == text
    assert Challenge(challenge.params).render() == text


def test_escaped_values_round_trip() -> None:
    credentials = Credentials.digest('a"b\\c', "r é", "n", "sip:x", "00")
    assert 'username="a\\"b\\\\c"' in str(credentials)
    again = Credentials.parse(str(credentials))
    assert again.username == 'a"b\\c' and again.realm == "r é" and again == credentials


def test_extended_username() -> None:
    # RFC 7616 section 3.4.4 with RFC 5987 encoding.
    text = (
        'Digest username*=UTF-8\'\'J%C3%A4s%C3%B8n%20Doe, realm="r", nonce="n", '
        'uri="/", response="00"'
    )
    assert Credentials.parse(text).username == "Jäsøn Doe"


def test_folded_and_padded_values() -> None:
    text = 'Digest username="bob",\r\n realm="r",\r\n\tnonce="n", uri="sip:x",  response="0a"  '
    credentials = Credentials.parse(text)
    assert credentials.realm == "r" and credentials.response == "0a"
    assert str(credentials) == text


def test_regaut01_unknown_scheme_is_not_an_error(corpora: Path) -> None:
    # RFC 4475 section 3.3.7: "Authorization: NoOneKnowsThisScheme opaque-data=here".
    data = (corpora / "rfc4475-torture" / "dat" / "regaut01.dat").read_bytes()
    lines = data.decode("utf-8").split("\r\n")
    value = next(line for line in lines if line.startswith("Authorization:")).split(":", 1)[1]
    found = parse_credentials(value.strip())
    assert found == OtherScheme("NoOneKnowsThisScheme", "opaque-data=here")
    assert str(found) == "NoOneKnowsThisScheme opaque-data=here"
    # The registrar ignores it and challenges (RFC 4475 "registrar: ignore or 401").
    challenger, _ = make_challenger()
    verdict = challenger.verify("REGISTER", "sip:example.com", [value.strip()], now=0.0)
    assert verdict.kind is VerdictKind.CHALLENGE and verdict.status == 401
    assert "NoOneKnowsThisScheme" in verdict.reason
    assert verdict.challenges


GOOD_CREDENTIALS = (
    'Digest username="bob", realm="example.com", nonce="abc", uri="sip:example.com", '
    'response="0123456789abcdef0123456789abcdef", algorithm=MD5, cnonce="x1", qop=auth, '
    'nc=0000000a, opaque="o"'
)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('Digest username="bob", realm="r", nonce="n", response="00"', "'uri'"),
        ('Digest username="bob", nonce="n", uri="u", response="00"', "'realm'"),
        ('Digest realm="r", nonce="n", uri="u", response="00"', "'username'"),
        ('Digest username="b", realm="r", nonce="n", uri="u", response="xyz"', "'response'"),
        (GOOD_CREDENTIALS.replace("nc=0000000a", "nc=a"), "'nc'"),
        (GOOD_CREDENTIALS.replace("nc=0000000a", "nc=0000000g"), "'nc'"),
        (GOOD_CREDENTIALS.replace(", nc=0000000a", ""), "'nc'"),
        (GOOD_CREDENTIALS.replace(', cnonce="x1"', ""), "'cnonce'"),
        (GOOD_CREDENTIALS + ', realm="again"', "'realm' repeated"),
        (GOOD_CREDENTIALS.replace("algorithm=MD5", 'algorithm="MD 5"'), "'algorithm'"),
        (GOOD_CREDENTIALS.replace("qop=auth", "qop"), "qop"),
        (GOOD_CREDENTIALS.replace('uri="sip:example.com"', "uri=sip:example.com"), "'uri'"),
        (GOOD_CREDENTIALS.replace('opaque="o"', 'opaque="o" trailing'), "'opaque'"),
        (GOOD_CREDENTIALS + ", userhash=maybe", "'userhash'"),
        (GOOD_CREDENTIALS + ", username*=latin1''x", "'username'"),
        (GOOD_CREDENTIALS + ",, x=y", "empty"),
        (GOOD_CREDENTIALS + ', Digest realm="r"', "'Digest'"),
        ('realm="r", nonce="n"', "scheme"),
        ('Digest, username="bob", realm="r", nonce="n", uri="u", response="00"', "','"),
        ("", "empty"),
        ("   ", "empty"),
        ('Digest username="bob, realm="r"', "quoted"),
    ],
)
def test_bad_credentials_name_the_problem(text: str, named: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        Credentials.parse(text)
    assert caught.value.status_hint == 400
    assert named in caught.value.reason


def test_good_credentials_fields() -> None:
    credentials = Credentials.parse(GOOD_CREDENTIALS)
    assert credentials.nc == 10 and credentials.cnonce == "x1" and credentials.qop == "auth"
    assert credentials.uri == "sip:example.com" and credentials.opaque == "o"
    assert str(credentials) == GOOD_CREDENTIALS


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('Digest nonce="n"', "'realm'"),
        ('Digest realm="r"', "'nonce'"),
        ('Digest realm="r", nonce="n", stale=perhaps', "'stale'"),
        ('Digest realm="r", nonce="n", qop="auth, a b"', "'qop'"),
        ('Digest realm="r", nonce="n", nonce="m"', "repeated"),
        ("Digest", "'realm'"),
        ('Digest, realm="r", nonce="n"', "','"),
    ],
)
def test_bad_challenges_are_remote_errors_without_status(text: str, named: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_challenges(text)
    assert caught.value.status_hint is None  # they arrive in responses, never answered
    assert named in caught.value.reason


def test_other_schemes_are_refused_by_the_typed_parsers() -> None:
    with pytest.raises(RemoteProtocolError):
        Challenge.parse('Basic realm="x"')
    with pytest.raises(RemoteProtocolError):
        Challenge.parse('Digest realm="x", nonce="n", Basic realm="y"')
    with pytest.raises(RemoteProtocolError) as caught:
        Credentials.parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    assert caught.value.status_hint == 400
    assert parse_credentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==") == OtherScheme(
        "Basic", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    )


def _parses_or_remote_error(parse: Callable[[str], object], text: str) -> object | None:
    """The parsed value, or None after a RemoteProtocolError (anything else fails the test)."""
    try:
        return parse(text)
    except RemoteProtocolError:
        return None


def _inside_quotes(text: str) -> bool:
    """True when ``text`` ends inside an unterminated quoted string."""
    inside = False
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif inside and char == "\\":
            escaped = True
        elif char == '"':
            inside = not inside
    return inside


@pytest.mark.parametrize(
    "text",
    [GOOD_CREDENTIALS, RFC7616_AUTHORIZATION.format(alg="MD5", response="00")],
)
def test_credentials_truncated_at_every_position(text: str) -> None:
    parsed_cuts = []
    for cut in range(len(text)):
        prefix = text[:cut]
        parsed = _parses_or_remote_error(Credentials.parse, prefix)
        if _inside_quotes(prefix):
            assert parsed is None, prefix
        if parsed is not None:
            # A prefix that parses is complete credentials on its own, and round-trips.
            assert str(parsed) == prefix
            parsed_cuts.append(cut)
    # In both texts 'response' completes the required set: no shorter prefix parses.
    response_end = text.index('"', text.index("response=") + len('response="')) + 1
    assert min(parsed_cuts) == response_end
    assert _parses_or_remote_error(Credentials.parse, text) is not None


def test_challenge_truncated_at_every_position() -> None:
    text = RFC7616_CHALLENGE.format(alg="SHA-256-sess")
    for cut in range(len(text)):
        prefix = text[:cut]
        found = _parses_or_remote_error(parse_challenges, prefix)
        if 0 < cut < len("Digest"):
            # "Dig" alone is a bare scheme of its own (HTTP allows "Negotiate"), not Digest.
            assert found == [OtherScheme(prefix)]
            continue
        if _inside_quotes(prefix) or "nonce" not in prefix:
            assert found is None, prefix
        if found is not None:
            assert isinstance(found, list) and isinstance(found[0], Challenge)
            if len(found) == 2:
                # Cut inside a parameter name: "..., op" reads as a bare second scheme.
                assert found[1] == OtherScheme(prefix.rsplit(", ", 1)[1])
            else:
                assert len(found) == 1 and str(found[0]) == prefix
    assert len(parse_challenges(text)) == 1


@pytest.mark.parametrize(
    "garbage",
    [
        "\x00\x01\x02",
        '"',
        "Digest ,,,,",
        "Digest =",
        "Digest realm",
        'Digest realm="r", nonce="n", <',
        'Digest realm="\\',
        'Digest realm="r\x7f", nonce="n"',
        ',Digest realm="r"',
        'Digest realm="r""", nonce="n"',
        "\udcff\udcfe",
    ],
)
def test_garbage_only_raises_remote_errors(garbage: str) -> None:
    for parse in (parse_challenges, parse_credentials, Challenge.parse, Credentials.parse):
        _parses_or_remote_error(parse, garbage)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('Digest realm=",\\ \t\r\n;<>xnc0aAé\x00'), max_size=60))
def test_arbitrary_text_only_raises_remote_errors(text: str) -> None:
    for parse in (parse_challenges, Challenge.parse):
        _parses_or_remote_error(parse, text)
    for parse_one in (parse_credentials, Credentials.parse):
        parsed = _parses_or_remote_error(parse_one, text)
        assert parsed is None or str(parsed) == text


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_fully_arbitrary_text_only_raises_remote_errors(text: str) -> None:
    for parse in (parse_challenges, parse_credentials):
        _parses_or_remote_error(parse, text)


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n"),
    max_size=20,
)
_TOKEN = st.text(alphabet="abcXYZ019-.!%*_+`'~", min_size=1, max_size=12)
_HEXTEXT = st.text(alphabet="0123456789abcdef", min_size=1, max_size=64)


@settings(max_examples=150, deadline=None)
@given(
    realm=_TEXT,
    nonce=_TEXT,
    opaque=st.none() | _TEXT,
    stale=st.booleans(),
    algorithm=st.none() | st.sampled_from(["MD5", "SHA-256-sess", "SHA-512-256"]) | _TOKEN,
    qop=st.lists(_TOKEN, max_size=3),
    extra=st.lists(st.tuples(st.just("x-p"), _TOKEN), max_size=1),
)
def test_generated_challenges_round_trip(
    realm: str,
    nonce: str,
    opaque: str | None,
    stale: bool,
    algorithm: str | None,
    qop: list[str],
    extra: list[tuple[str, str]],
) -> None:
    built = Challenge.digest(
        realm, nonce, algorithm=algorithm, qop=qop, opaque=opaque, stale=stale, extra=extra
    )
    text = str(built)
    again = Challenge.parse(text)
    assert again == built and str(again) == text
    assert (again.realm, again.nonce, again.opaque, again.stale) == (realm, nonce, opaque, stale)
    assert again.algorithm == (algorithm or "MD5") and again.qop_options == tuple(qop)


@settings(max_examples=150, deadline=None)
@given(
    username=_TEXT,
    realm=_TEXT,
    nonce=_TEXT,
    uri=_TEXT,
    response=_HEXTEXT,
    cnonce=_TEXT,
    nc=st.integers(0, 0xFFFFFFFF),
    qop=st.none() | _TOKEN,
)
def test_generated_credentials_round_trip(
    username: str,
    realm: str,
    nonce: str,
    uri: str,
    response: str,
    cnonce: str,
    nc: int,
    qop: str | None,
) -> None:
    built = Credentials.digest(
        username,
        realm,
        nonce,
        uri,
        response,
        cnonce=cnonce if qop else None,
        qop=qop,
        nc=nc if qop else None,
    )
    text = str(built)
    again = Credentials.parse(text)
    assert again == built and bytes(again) == text.encode("utf-8")
    assert (again.username, again.realm, again.nonce, again.uri) == (username, realm, nonce, uri)
    assert again.nc == (nc if qop else None)


# -- client <-> challenger pairs -----------------------------------------------------------

REALM = "example.com"
REQUEST_URI = "sip:example.com"
USERS = {"alice": "wonderland", "bob": "builder"}


def make_challenger(**options: object) -> tuple[DigestChallenger, TraceRecorder]:
    recorder = TraceRecorder()
    users: dict[str, Secret] = dict(USERS)
    extra_users = options.pop("users", None)
    if isinstance(extra_users, dict):
        users.update(extra_users)
    challenger = DigestChallenger(
        REALM,
        b"0123456789abcdef-test-secret",
        lambda name, realm: users.get(name) if realm == REALM else None,
        rng=random.Random(7),
        trace=recorder,
        **options,  # type: ignore[arg-type]
    )
    return challenger, recorder


def make_client(
    username: str = "alice", secret: Secret = "wonderland", **options: object
) -> DigestClient:
    return DigestClient(username, secret, rng=random.Random(11), **options)  # type: ignore[arg-type]


def values(headers: list[tuple[str, str]]) -> list[str]:
    return [value for _, value in headers]


def register(
    client: DigestClient,
    challenger: DigestChallenger,
    now: float,
    *,
    uri: str = REQUEST_URI,
    body: bytes = b"",
) -> tuple[AuthVerdict, list[tuple[str, str]]]:
    """Send one REGISTER with whatever credentials the client has; return the verdict."""
    sent = client.authorization_headers("REGISTER", uri, body)
    return challenger.verify("REGISTER", uri, values(sent), now, body=body), sent


def login(client: DigestClient, challenger: DigestChallenger, now: float) -> AuthVerdict:
    """The usual two-step exchange: 401, then credentials."""
    verdict, sent = register(client, challenger, now)
    assert verdict.kind is VerdictKind.CHALLENGE and verdict.status == 401
    outcome = client.on_challenge(401, values(verdict.headers), now, sent)
    assert outcome.retry, outcome.reason
    return register(client, challenger, now)[0]


def test_success_prefers_the_strongest_algorithm() -> None:
    challenger, recorder = make_challenger()
    client = make_client()
    first, _ = register(client, challenger, 0.0)
    assert [c.algorithm for c in first.challenges] == ["SHA-256", "MD5"]  # RFC 8760 s2.3 order
    assert {name for name, _ in first.headers} == {"WWW-Authenticate"}
    assert len({c.nonce for c in first.challenges}) == 1
    client.on_challenge(401, values(first.headers), 0.0)
    sent = client.authorization_headers("REGISTER", REQUEST_URI)
    assert [name for name, _ in sent] == ["Authorization"]
    assert Credentials.parse(sent[0][1]).algorithm == "SHA-256"
    verdict = challenger.verify("REGISTER", REQUEST_URI, values(sent), 1.0)
    assert verdict.ok and verdict.username == "alice" and verdict.status is None
    assert verdict.headers == []
    assert recorder.events[-1].direction == "note" and recorder.events[-1].time == 1.0


def test_strength_beats_order_and_ties_go_to_the_topmost() -> None:
    client = make_client()
    md5_first = [
        'Digest realm="r", nonce="n1", algorithm=MD5, qop="auth"',
        'Digest realm="r", nonce="n2", algorithm=SHA-256, qop="auth"',
        'Digest realm="r", nonce="n3", algorithm=SHA-256-sess, qop="auth"',
    ]
    assert client.on_challenge(401, md5_first, 0.0).retry
    credentials = Credentials.parse(client.authorization_headers("OPTIONS", "sip:r")[0][1])
    assert (credentials.algorithm, credentials.nonce) == ("SHA-256", "n2")


def test_md5_only_server_and_client_restrictions() -> None:
    challenger, _ = make_challenger(algorithms=("MD5",))
    assert login(make_client(), challenger, 0.0).ok
    sha_only, _ = make_challenger(algorithms=("SHA-256",))
    client = make_client(algorithms=("MD5",))
    verdict, sent = register(client, sha_only, 0.0)
    outcome = client.on_challenge(401, values(verdict.headers), 0.0, sent)
    assert not outcome.retry and "algorithm SHA-256" in outcome.reason


def test_wrong_password_is_reported_not_looped() -> None:
    challenger, _ = make_challenger()
    client = make_client(secret="guess")
    first, sent = register(client, challenger, 0.0)
    assert sent == []
    assert client.on_challenge(401, values(first.headers), 0.0, sent).retry
    refused, sent = register(client, challenger, 0.5)
    assert refused.kind is VerdictKind.CHALLENGE and refused.status == 401
    assert "wrong response" in refused.reason
    assert not any(c.stale for c in refused.challenges)
    # The caller hands back what the refused request carried: the client gives up.
    outcome = client.on_challenge(401, values(refused.headers), 0.5, sent)
    assert not outcome.retry and "refused our credentials" in outcome.reason
    assert client.authorization_headers("REGISTER", REQUEST_URI) == []


def test_wrong_password_is_detected_without_being_told_what_was_sent() -> None:
    challenger, _ = make_challenger()
    client = make_client(secret="guess")
    attempts = 0
    outcome = client.on_challenge(401, [str(c) for c in challenger.challenge(0.0)], 0.0)
    while outcome.retry:
        attempts += 1
        assert attempts < 5
        verdict, _ = register(client, challenger, float(attempts))
        outcome = client.on_challenge(401, values(verdict.headers), float(attempts))
    assert attempts == 1 and "refused our credentials" in outcome.reason


def test_wrong_password_under_the_forbidden_policy() -> None:
    challenger, _ = make_challenger(failure_policy="forbidden")
    verdict = login(make_client(secret="guess"), challenger, 0.0)
    assert verdict.kind is VerdictKind.FORBIDDEN and verdict.status == 403
    assert verdict.challenges == ()


@pytest.mark.parametrize(
    ("policy", "kind", "status"),
    [("challenge", VerdictKind.CHALLENGE, 401), ("forbidden", VerdictKind.FORBIDDEN, 403)],
)
def test_unknown_user(policy: str, kind: VerdictKind, status: int) -> None:
    challenger, _ = make_challenger(failure_policy=policy)
    verdict = login(make_client("mallory", "x"), challenger, 0.0)
    assert verdict.kind is kind and verdict.status == status
    assert "unknown user 'mallory'" in verdict.reason


def test_expired_nonce_goes_stale_and_the_retry_succeeds() -> None:
    challenger, _ = make_challenger(nonce_lifetime=60.0)
    client = make_client()
    assert login(client, challenger, 0.0).ok
    old = Credentials.parse(client.authorization_headers("REGISTER", REQUEST_URI)[0][1])
    verdict, sent = register(client, challenger, 61.0)
    assert verdict.kind is VerdictKind.STALE and verdict.status == 401
    assert all(c.stale for c in verdict.challenges)
    assert "stale=true" in verdict.headers[0][1]
    outcome = client.on_challenge(401, values(verdict.headers), 61.0, sent)
    assert outcome.retry
    retry, sent = register(client, challenger, 61.5)
    assert retry.ok
    fresh = Credentials.parse(sent[0][1])
    assert fresh.nonce != old.nonce and fresh.nc == 1 and fresh.cnonce != old.cnonce


def test_expired_nonce_with_a_wrong_password_is_not_stale() -> None:
    challenger, _ = make_challenger(nonce_lifetime=60.0)
    client = make_client(secret="guess")
    _, sent = register(client, challenger, 0.0)
    first = challenger.verify("REGISTER", REQUEST_URI, [], 0.0)
    client.on_challenge(401, values(first.headers), 0.0, sent)
    late, _ = register(client, challenger, 100.0)
    assert late.kind is VerdictKind.CHALLENGE and not any(c.stale for c in late.challenges)


def test_nonce_count_increments_and_replays_are_rejected() -> None:
    challenger, _ = make_challenger()
    client = make_client()
    assert login(client, challenger, 0.0).ok
    counts = []
    for step in range(1, 4):
        verdict, sent = register(client, challenger, float(step))
        assert verdict.ok
        counts.append(Credentials.parse(sent[0][1]).nc)
    assert counts == [2, 3, 4]
    # The same request again (a replay): the digest is right, the count is spent.
    replay = challenger.verify("REGISTER", REQUEST_URI, values(sent), 5.0)
    assert replay.kind is VerdictKind.STALE and "replayed" in replay.reason
    # An older count is a replay too.
    credentials = Credentials.parse(sent[0][1])
    older = answer_challenge(
        Challenge.digest(REALM, credentials.nonce, algorithm="SHA-256", opaque=credentials.opaque),
        username="alice",
        secret="wonderland",
        method="REGISTER",
        uri=REQUEST_URI,
        cnonce="other",
        nc=2,
    )
    assert challenger.verify("REGISTER", REQUEST_URI, [str(older)], 5.0).kind is VerdictKind.STALE


def test_uri_mismatch_is_a_bad_request() -> None:
    challenger, _ = make_challenger()
    client = make_client()
    first, sent = register(client, challenger, 0.0)
    client.on_challenge(401, values(first.headers), 0.0, sent)
    sent = client.authorization_headers("REGISTER", "sip:elsewhere.example")
    verdict = challenger.verify("REGISTER", REQUEST_URI, values(sent), 0.0)
    assert verdict.kind is VerdictKind.BAD_REQUEST and verdict.status == 400
    assert "sip:elsewhere.example" in verdict.reason
    relaxed, _ = make_challenger(check_uri=False)
    first = relaxed.verify("REGISTER", REQUEST_URI, [], 0.0)
    client.on_challenge(401, values(first.headers), 0.0, sent=[])
    sent = client.authorization_headers("REGISTER", "sip:elsewhere.example")
    assert relaxed.verify("REGISTER", REQUEST_URI, values(sent), 0.0).ok


def test_realm_mismatch_is_challenged() -> None:
    challenger, _ = make_challenger()
    issued = challenger.challenge(0.0)[0]
    foreign = answer_challenge(
        Challenge.digest("other.example", issued.nonce, algorithm="SHA-256", opaque=issued.opaque),
        username="alice",
        secret="wonderland",
        method="REGISTER",
        uri=REQUEST_URI,
        cnonce="c",
    )
    verdict = challenger.verify("REGISTER", REQUEST_URI, [str(foreign)], 0.0)
    assert verdict.kind is VerdictKind.CHALLENGE and "'other.example'" in verdict.reason


@pytest.mark.parametrize("algorithm", ["MD5", None, "MD5-sess"])
def test_algorithm_downgrade_is_rejected(algorithm: str | None) -> None:
    challenger, _ = make_challenger(algorithms=("SHA-256",))
    issued = challenger.challenge(0.0)[0]
    assert issued.algorithm == "SHA-256"
    # The same nonce answered with MD5 (explicitly, or by omitting the algorithm).
    downgraded = Challenge.digest(REALM, issued.nonce, algorithm=algorithm, opaque=issued.opaque)
    credentials = answer_challenge(
        downgraded,
        username="alice",
        secret="wonderland",
        method="REGISTER",
        uri=REQUEST_URI,
        cnonce="c",
    )
    verdict = challenger.verify("REGISTER", REQUEST_URI, [str(credentials)], 0.0)
    assert verdict.kind is VerdictKind.CHALLENGE
    assert f"algorithm {algorithm or 'MD5'} was not offered" in verdict.reason


def test_foreign_and_forged_nonces_are_challenged() -> None:
    challenger, _ = make_challenger()
    other = DigestChallenger(
        REALM, b"another-secret-of-16+", lambda n, r: None, rng=random.Random()
    )
    for challenge in (other.challenge(0.0)[0], Challenge.digest(REALM, "made-up", opaque="x")):
        credentials = answer_challenge(
            Challenge.digest(
                REALM,
                challenge.nonce,
                algorithm="SHA-256",
                opaque=challenger.challenge(0.0)[0].opaque,
            ),
            username="alice",
            secret="wonderland",
            method="REGISTER",
            uri=REQUEST_URI,
            cnonce="c",
        )
        verdict = challenger.verify("REGISTER", REQUEST_URI, [str(credentials)], 0.0)
        assert verdict.kind is VerdictKind.CHALLENGE and "not issued here" in verdict.reason


def test_opaque_must_come_back() -> None:
    challenger, _ = make_challenger()
    issued = challenger.challenge(0.0)[0]
    credentials = answer_challenge(
        Challenge.digest(REALM, issued.nonce, algorithm="SHA-256", opaque="tampered"),
        username="alice",
        secret="wonderland",
        method="REGISTER",
        uri=REQUEST_URI,
        cnonce="c",
    )
    verdict = challenger.verify("REGISTER", REQUEST_URI, [str(credentials)], 0.0)
    assert verdict.kind is VerdictKind.CHALLENGE and "opaque" in verdict.reason


def test_rfc2069_answers_are_refused_unless_allowed() -> None:
    for allowed, ok in ((False, False), (True, True)):
        challenger, _ = make_challenger(allow_rfc2069=allowed)
        issued = challenger.challenge(0.0)[0]
        no_qop = Challenge.digest(
            REALM, issued.nonce, algorithm="SHA-256", qop=(), opaque=issued.opaque
        )
        credentials = answer_challenge(
            no_qop,
            username="alice",
            secret="wonderland",
            method="REGISTER",
            uri=REQUEST_URI,
            cnonce="c",
        )
        verdict = challenger.verify("REGISTER", REQUEST_URI, [str(credentials)], 1.0)
        assert verdict.ok is ok, verdict.reason


def test_auth_int_protects_the_body() -> None:
    challenger, _ = make_challenger(qop=("auth-int",))
    client = make_client()
    body = b"<xml>contact list</xml>"
    first, _ = register(client, challenger, 0.0, body=body)
    client.on_challenge(401, values(first.headers), 0.0)
    sent = client.authorization_headers("REGISTER", REQUEST_URI, body)
    assert Credentials.parse(sent[0][1]).qop == "auth-int"
    assert challenger.verify("REGISTER", REQUEST_URI, values(sent), 0.0, body=body).ok
    sent = client.authorization_headers("REGISTER", REQUEST_URI, body)
    tampered = challenger.verify("REGISTER", REQUEST_URI, values(sent), 0.0, body=body + b"!")
    assert tampered.kind is VerdictKind.CHALLENGE and "wrong response" in tampered.reason


@pytest.mark.parametrize("algorithm", ["MD5-sess", "SHA-256-sess", "SHA-512-256"])
def test_other_algorithms_pair(algorithm: str) -> None:
    challenger, _ = make_challenger(algorithms=(algorithm,))
    assert login(make_client(), challenger, 0.0).ok


def test_stored_ha1_on_both_sides() -> None:
    stored = StoredHA1.compute("carol", REALM, "s3cret", families=("SHA-256",))
    challenger, _ = make_challenger(users={"carol": stored})
    assert login(make_client("carol", stored), challenger, 0.0).ok
    # The server holds only SHA-256: an MD5 answer cannot be checked, so it is challenged.
    md5_client = make_client("carol", "s3cret", algorithms=("MD5",))
    verdict = login(
        md5_client, make_challenger(users={"carol": stored}, algorithms=("MD5",))[0], 0.0
    )
    assert verdict.kind is VerdictKind.CHALLENGE and "no MD5 secret" in verdict.reason
    # A client holding HA1 for another realm cannot answer.
    client = make_client("carol", StoredHA1.compute("carol", "elsewhere", "s3cret"))
    first = challenger.verify("REGISTER", REQUEST_URI, [], 0.0)
    outcome = client.on_challenge(401, values(first.headers), 0.0)
    assert not outcome.retry and "no stored" in outcome.reason


def test_proxy_authentication_uses_407_and_proxy_headers() -> None:
    challenger, _ = make_challenger(proxy=True)
    client = make_client()
    first, _ = register(client, challenger, 0.0)
    assert first.status == 407
    assert {name for name, _ in first.headers} == {"Proxy-Authenticate"}
    assert client.on_challenge(407, values(first.headers), 0.0).retry
    sent = client.authorization_headers("REGISTER", REQUEST_URI)
    assert [name for name, _ in sent] == ["Proxy-Authorization"]
    assert challenger.verify("REGISTER", REQUEST_URI, values(sent), 0.0).ok
    assert client.realms == [(True, REALM)]


def test_client_answers_a_www_and_a_proxy_realm_together() -> None:
    registrar, _ = make_challenger()
    proxy = DigestChallenger(
        "proxy.example",
        b"0123456789abcdef-proxy",
        lambda n, r: USERS.get(n),
        rng=random.Random(3),
        proxy=True,
    )
    client = make_client()
    client.on_challenge(407, values(proxy.verify("REGISTER", REQUEST_URI, [], 0.0).headers), 0.0)
    client.on_challenge(
        401, values(registrar.verify("REGISTER", REQUEST_URI, [], 0.0).headers), 0.0
    )
    sent = client.authorization_headers("REGISTER", REQUEST_URI)
    by_name = {name: value for name, value in sent}
    assert proxy.verify("REGISTER", REQUEST_URI, [by_name["Proxy-Authorization"]], 1.0).ok
    assert registrar.verify("REGISTER", REQUEST_URI, [by_name["Authorization"]], 1.0).ok


def test_client_bounds_a_server_that_calls_everything_stale() -> None:
    client = make_client(max_stale_retries=2)
    outcome = client.on_challenge(401, ['Digest realm="r", nonce="n0", qop="auth"'], 0.0)
    retries = 0
    while outcome.retry:
        sent = client.authorization_headers("REGISTER", "sip:r")
        stale = f'Digest realm="r", nonce="n{retries + 1}", qop="auth", stale=true'
        outcome = client.on_challenge(401, [stale], 0.0, sent)
        retries += 1
        assert retries < 10
    assert retries == 3 and "stale" in outcome.reason


def test_client_answers_a_rotated_nonce_once() -> None:
    client = make_client()
    client.on_challenge(401, ['Digest realm="r", nonce="n1", qop="auth"'], 0.0)
    client.authorization_headers("REGISTER", "sip:r")  # accepted (nc=1)
    sent = client.authorization_headers("REGISTER", "sip:r")  # nc=2, refused without stale
    rotated = client.on_challenge(401, ['Digest realm="r", nonce="n2", qop="auth"'], 1.0, sent)
    assert rotated.retry
    sent = client.authorization_headers("REGISTER", "sip:r")
    assert Credentials.parse(sent[0][1]).nc == 1
    again = client.on_challenge(401, ['Digest realm="r", nonce="n3", qop="auth"'], 2.0, sent)
    assert not again.retry


def test_client_gives_up_on_unanswerable_or_garbage_challenges() -> None:
    client = make_client()
    for challenges in (
        [],
        ['Basic realm="x"'],
        ['Digest realm="x", nonce="n", algorithm=SHA-1024'],
        ['Digest realm="x", nonce="n", qop="auth-conf"'],
        ['Digest realm="unterminated'],
    ):
        outcome = client.on_challenge(401, challenges, 0.0)
        assert not outcome.retry and outcome.reason.startswith("no Digest challenge")
    assert client.authorization_headers("REGISTER", "sip:x") == []
    with pytest.raises(LocalProtocolError):
        client.on_challenge(403, [], 0.0)


def test_everything_is_deterministic_under_injected_time_and_randomness() -> None:
    def run() -> list[str]:
        challenger, _ = make_challenger()
        client = make_client()
        first, _ = register(client, challenger, 12.5)
        client.on_challenge(401, values(first.headers), 12.5)
        return values(first.headers) + values(client.authorization_headers("REGISTER", REQUEST_URI))

    assert run() == run()


def test_challenger_never_raises_for_bad_credentials() -> None:
    challenger, _ = make_challenger()
    for value in ('Digest username="a"', 'Digest realm="', "\x00", "Digest , ,"):
        verdict = challenger.verify("REGISTER", REQUEST_URI, [value], 0.0)
        assert verdict.kind is VerdictKind.BAD_REQUEST and verdict.status == 400


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=st.sampled_from(
                'Digest username="alice", realm=example.com nonce uri '
                "response=00 qop=auth nc=00000001 cnonce\\"
            ),
            max_size=80,
        ),
        max_size=3,
    )
)
def test_arbitrary_authorization_values_get_a_verdict(header_values: list[str]) -> None:
    challenger, _ = make_challenger()
    verdict = challenger.verify("REGISTER", REQUEST_URI, header_values, 0.0)
    assert verdict.kind is not VerdictKind.ACCEPTED


def test_challenger_configuration_errors_are_local() -> None:
    with pytest.raises(LocalProtocolError):
        DigestChallenger(REALM, b"short", lambda n, r: None, rng=random.Random())
    with pytest.raises(LocalProtocolError):
        DigestChallenger(
            REALM, b"x" * 16, lambda n, r: None, rng=random.Random(), algorithms=("SHA-1",)
        )
    with pytest.raises(LocalProtocolError):
        DigestChallenger(
            REALM, b"x" * 16, lambda n, r: None, rng=random.Random(), qop=("auth-conf",)
        )
    with pytest.raises(LocalProtocolError):
        make_client(algorithms=("SHA-1",))
