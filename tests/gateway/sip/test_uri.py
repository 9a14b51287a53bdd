from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import RemoteProtocolError
from gateway.sip.grammar import Params, SipSyntaxError
from gateway.sip.uri import AbsoluteUri, SipUri, TelUri, check_uri_text, parse_uri, parse_uri_text


def test_sip_uri_components() -> None:
    uri = SipUri.parse("sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr?Subject=hi&X=")
    assert uri.scheme == "sips" and uri.is_secure
    assert (uri.user, uri.password, uri.host, uri.port) == (
        "alice",
        "secret",
        "atlanta.example.com",
        5061,
    )
    assert uri.transport == "tcp" and uri.lr and uri.maddr is None
    assert uri.headers == (("Subject", "hi"), ("X", ""))
    assert str(uri) == "sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr?Subject=hi&X="


def test_escaped_and_unescaped_views() -> None:
    uri = SipUri.parse("sip:%75se%72@example.com;n%61me=v%61lue%25%34%31")
    assert uri.user == "user" and uri.escaped_user == "%75se%72"
    assert uri.params.get("name") == "value%41"
    assert str(uri) == "sip:%75se%72@example.com;n%61me=v%61lue%25%34%31"
    assert uri == SipUri.parse("sip:user@example.com;name=value%2541")
    built = SipUri(host="example.com", user="a b@c")
    assert built.escaped_user == "a%20b%40c" and str(built) == "sip:a%20b%40c@example.com"


def test_nul_in_user_is_not_a_terminator() -> None:
    one = SipUri.parse("sip:%00@host5.example.com")
    two = SipUri.parse("sip:%00%00@host5.example.com")
    assert one.user == "\x00" and two.user == "\x00\x00" and one != two
    assert str(SipUri(host="h", user="a\x00b")) == "sip:a%00b@h"


def test_user_part_may_hold_semicolons_and_question_marks() -> None:
    uri = SipUri.parse("sip:user;par=u%40example.net@example.com")
    assert uri.user == "user;par=u@example.net" and not uri.params
    uri = SipUri.parse("sip:+1-212-555-1212;phone-context=example.com@gw.example.com;user=phone")
    assert uri.user == "+1-212-555-1212;phone-context=example.com" and uri.user_param == "phone"


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("sip:[2001:db8::10]", "[2001:db8::10]", None),
        ("sip:[2001:db8::10]:5070", "[2001:db8::10]", 5070),
        ("sip:[2001:db8::10:5070]", "[2001:db8::10:5070]", None),
        ("sip:u@[::ffff:192.0.2.10]:19823", "[::ffff:192.0.2.10]", 19823),
        ("sip:192.0.2.1:0", "192.0.2.1", 0),
        ("sip:example.com.", "example.com.", None),
    ],
)
def test_hosts_and_ports(text: str, host: str, port: int | None) -> None:
    uri = SipUri.parse(text)
    assert (uri.host, uri.port) == (host, port)
    assert str(uri) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("sip:2001:db8::10", "IPv6"),
        ("sip:user@example.com; lr", "whitespace"),
        ("sip:<x>", "'<'"),
        ("sip:x@y;;lr", "empty URI parameter"),
        ("sip:", "no host"),
        ("sip:x@y:65536", "out of range"),
        ("sip:a@b@c", "not a well-formed"),
        ("sip:x@-bad-.com", "invalid host"),
        ("sip:x@[zz::1]", "not a well-formed"),
        ("sip:x@[1::2::3]", "invalid host"),
        ("sip:x@y%zz", "not a well-formed"),
    ],
)
def test_invalid_sip_uris_name_the_problem(text: str, reason: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        SipUri.parse(text)
    assert caught.value.status_hint == 400 and reason in caught.value.reason


# RFC 3261 section 19.1.4: equal pairs, then pairs that are not equal.
EQUAL = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
     "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
    ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
     "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
]  # fmt: skip
NOT_EQUAL = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
    ("sip:a@b", "sips:a@b"),
    ("sip:a@b;maddr=x", "sip:a@b"),
    ("sip:a@b;user=phone", "sip:a@b"),
]


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_rfc3261_equal_uris(a: str, b: str) -> None:
    first, second = parse_uri(a), parse_uri(b)
    assert first == second and second == first
    assert hash(first) == hash(second)


@pytest.mark.parametrize(("a", "b"), NOT_EQUAL)
def test_rfc3261_unequal_uris(a: str, b: str) -> None:
    assert parse_uri(a) != parse_uri(b)


def test_the_transport_example_that_differs_only_by_default_port() -> None:
    # Not in the RFC list, but it follows from it: an explicit default port is still a port.
    assert parse_uri("sip:a@b") != parse_uri("sip:a@b:5060")


def test_modification_renders_canonically() -> None:
    uri = SipUri.parse("sip:Alice@Example.COM;lr")
    moved = uri.replace(port=5070)
    assert str(moved) == "sip:Alice@Example.COM:5070;lr" and moved.raw is None
    assert str(uri.with_param("transport", "tcp")) == "sip:Alice@Example.COM;lr;transport=tcp"
    assert str(uri.without_param("LR")) == "sip:Alice@Example.COM"
    assert bytes(uri) == b"sip:Alice@Example.COM;lr"
    assert uri.host_key == "example.com"
    assert str(SipUri(host="h", params=Params((("x", "a b"),)))) == "sip:h;x=a%20b"


def test_tel_uris() -> None:
    tel = TelUri.parse("tel:+1-201-555-0123;ext=42")
    assert tel.is_global and tel.digits == "+12015550123" and tel.extension == "42"
    assert tel == TelUri.parse("tel:+1.201.555.0123;EXT=42")
    assert tel != TelUri.parse("tel:+1-201-555-0123")
    local = TelUri.parse("tel:7042;phone-context=example.com")
    assert not local.is_global and local.phone_context == "example.com"
    assert TelUri.parse("tel:7042;phone-context=+1-201") == TelUri.parse(
        "tel:7042;phone-context=+1201"
    )
    assert str(local) == "tel:7042;phone-context=example.com"
    assert TelUri(number="+123", params=Params((("ext", "1"),))).render() == "tel:+123;ext=1"
    assert hash(tel) == hash(TelUri.parse("tel:+1.201.555.0123;EXT=42"))
    for bad in [
        "tel:7042",
        "tel:+",
        "tel:+1;=x",
        "tel:ghi;phone-context=x",
        "tel:12;phone-context=_",
    ]:
        with pytest.raises(RemoteProtocolError):
            TelUri.parse(bad)


def test_other_schemes_stay_opaque() -> None:
    uri = parse_uri("soap.beep://192.0.2.103:3002")
    assert uri == AbsoluteUri("soap.beep", "//192.0.2.103:3002")
    assert parse_uri("ISBN:2983792873") == AbsoluteUri("isbn", "2983792873")
    assert str(parse_uri("name:John_Smith")) == "name:John_Smith"
    assert bytes(AbsoluteUri("urn", "x")) == b"urn:x"
    for bad in ["nocolon", "1abc:x", "http:has space", "x:"]:
        with pytest.raises(RemoteProtocolError):
            parse_uri(bad)


def test_parse_uri_dispatches_by_scheme() -> None:
    assert isinstance(parse_uri("SIP:a@b"), SipUri)
    assert isinstance(parse_uri("sips:a@b"), SipUri)
    assert isinstance(parse_uri("TEL:+1"), TelUri)
    assert isinstance(parse_uri("mailto:a@b"), AbsoluteUri)
    with pytest.raises(SipSyntaxError):
        parse_uri_text("sip:bad uri")


def test_check_uri_text_matches_parsing() -> None:
    assert check_uri_text("sip:a@b") == "sip" and check_uri_text("SIPS:a@b") == "sips"
    assert check_uri_text("tel:+1") == "tel" and check_uri_text("urn:x") == "urn"
    assert check_uri_text("sip:a@b?x=y") == "sip"
    with pytest.raises(SipSyntaxError, match="headers"):
        check_uri_text("sip:a@b?x=y", allow_headers=False)


_PART = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
_HOSTS = st.sampled_from(["example.com", "192.0.2.1", "[2001:db8::1]", "a-b.c", "x"])


@settings(max_examples=150)
@given(
    user=st.one_of(st.none(), _PART),
    password=st.one_of(st.none(), _PART),
    host=_HOSTS,
    port=st.one_of(st.none(), st.integers(0, 65535)),
    params=st.lists(st.tuples(_PART, st.one_of(st.none(), _PART)), max_size=3),
    headers=st.lists(st.tuples(_PART, st.text(max_size=6)), max_size=2),
    secure=st.booleans(),
)
def test_built_uris_render_and_parse_back(
    user: str | None,
    password: str | None,
    host: str,
    port: int | None,
    params: list[tuple[str, str | None]],
    headers: list[tuple[str, str]],
    secure: bool,
) -> None:
    uri = SipUri(
        host=host,
        user=user,
        password=password if user is not None else None,
        port=port,
        params=Params(params),
        headers=tuple(headers),
        scheme="sips" if secure else "sip",
    )
    parsed = SipUri.parse(str(uri))
    assert (parsed.user, parsed.password, parsed.host, parsed.port) == (
        uri.user,
        uri.password,
        uri.host,
        uri.port,
    )
    assert parsed.params == uri.params and parsed.headers == uri.headers
    assert str(parsed) == str(uri)


def test_common_uris_split_their_parameters_when_read() -> None:
    uri = SipUri.parse("sip:alice@192.0.2.101:5060;transport=UDP;lr")
    assert str(uri) == "sip:alice@192.0.2.101:5060;transport=UDP;lr"
    assert uri.params == Params((("transport", "UDP"), ("lr", None)))
    assert uri.transport == "udp" and uri.lr and uri.port == 5060
    assert uri == SipUri.parse("sip:alice@192.0.2.101:5060;lr;transport=udp")
    assert uri.replace(port=5070).params == uri.params
    assert repr(uri).startswith("SipUri(host='192.0.2.101', user='alice'")


def test_a_long_s_is_no_sip_scheme() -> None:
    # U+017F folds to "s" under Unicode IGNORECASE, but a scheme is ASCII (RFC 3261 25.1).
    for text in ("\u017fip:alice@example.com", "sip\u017f:alice@example.com"):
        with pytest.raises(SipSyntaxError):
            check_uri_text(text)
    assert check_uri_text("SiPs:alice@example.com") == "sips"
