from __future__ import annotations

import pytest

from gateway.errors import RemoteProtocolError
from gateway.sip.address import (
    Address,
    parse_address,
    parse_address_list,
    parse_common_address,
    parse_contact_values,
)
from gateway.sip.grammar import Params
from gateway.sip.uri import SipUri, TelUri


@pytest.mark.parametrize(
    ("text", "display", "uri", "tag", "bracketed"),
    [
        ('"Alice" <sip:alice@atlanta.com>;tag=1928301774', "Alice", "sip:alice@atlanta.com",
         "1928301774", True),
        ("<sip:bob@biloxi.com>", None, "sip:bob@biloxi.com", None, True),
        ("sip:bob@biloxi.com;tag=x", None, "sip:bob@biloxi.com", "x", False),
        ("Bob <sip:bob@biloxi.com>", "Bob", "sip:bob@biloxi.com", None, True),
        ("caller<sip:caller@example.com>;tag=323", "caller", "sip:caller@example.com", "323",
         True),
        ('"J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\t;\ttag = 98asjd8',
         'J Rosenberg \\"', "sip:jdrosen@example.com", "98asjd8", True),
        ("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n", None,
         "sip:vivekg@chair-dnrc.example.com", "1918181833n", False),
        ('""<sip:a@b>', "", "sip:a@b", None, True),
        ("<tel:+1-201-555-0123>;tag=t", None, "tel:+1-201-555-0123", "t", True),
        ("isbn:2983792873", None, "isbn:2983792873", None, False),
        ("A B  C <sips:a@[2001:db8::1]:5061>", "A B  C", "sips:a@[2001:db8::1]:5061", None, True),
    ],
)  # fmt: skip
def test_address_forms(
    text: str, display: str | None, uri: str, tag: str | None, bracketed: bool
) -> None:
    address = parse_address(text)
    assert address.display_name == display
    assert address.uri_text == uri and str(address.uri) == uri
    assert address.tag == tag and address.bracketed is bracketed
    assert str(address) == text and bytes(address) == text.encode()


def test_addr_spec_params_belong_to_the_header() -> None:
    header_param = parse_address("sip:+19725552222@gw1.example.net;unknownparam")
    assert header_param.params.has("unknownparam")
    assert isinstance(header_param.uri, SipUri) and not header_param.uri.params
    uri_param = parse_address("<sip:+19725552222@gw1.example.net;unknownparam>")
    assert not uri_param.params
    assert isinstance(uri_param.uri, SipUri) and uri_param.uri.params.has("unknownparam")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('"Mr. J. User <sip:j.user@example.com>', "unterminated"),
        ('"Watson, Thomas" < sip:t.watson@example.org >', "whitespace"),
        ("Bell, Alexander <sip:a.g.bell@example.com>;tag=43", "display name"),
        ("sip:user@example.com?Route=%3Csip:sip.example.com%3E", "headers"),
        ("<sip:a@b>;;", "empty parameter"),
        ("<sip:a@b>;tag", "tag"),
        ("<sip:a@b>;tag=a:b", "tag"),
        ("<sip:a@b", "'<' without '>'"),
        ('"x" sip:a@b', "not followed by '<'"),
        ("<sip:a@b> junk", "unexpected"),
        ("", "empty"),
        ("<not a uri>", "URI"),
    ],
)
def test_invalid_addresses(text: str, reason: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_address(text, "To")
    assert caught.value.status_hint == 400
    assert caught.value.reason.startswith("To: ") and reason in caught.value.reason


def test_common_shapes_agree_with_the_general_scanner() -> None:
    from gateway.sip.address import _address_general

    for text in [
        '"Alice" <sip:alice@atlanta.com>;tag=1928301774',
        "<sip:+15551234567@gw.example.com;user=phone>",
        "sip:caller@example.net;tag=134161461246",
        "<sip:alice@192.0.2.101:5060;transport=udp>;expires=60",
        "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf",
        "Alice B Smith<sip:a@b>",
    ]:
        fast = parse_common_address(text)
        assert fast is not None
        assert fast == _address_general(text, bracketed_only=False)
    for unusual in ["Bob  <sip:bob@b>", "<sip:a@b>;tag", '"a\\"b" <sip:a@b>', "<sip:a@[::1]>"]:
        assert parse_common_address(unusual) is None  # left to the general path


def test_lists_and_contacts() -> None:
    routes = parse_address_list(["<sip:p1;lr>, <sip:p2;lr>", "<sip:p3;lr>"], "Route", True)
    assert [str(route.uri) for route in routes] == ["sip:p1;lr", "sip:p2;lr", "sip:p3;lr"]
    with pytest.raises(RemoteProtocolError, match="Route: the URI must be enclosed"):
        parse_address_list(["sip:p1;lr"], "Route", bracketed_only=True)
    wildcard, contacts = parse_contact_values(["*"])
    assert wildcard and contacts == ()
    wildcard, contacts = parse_contact_values(
        ['"A" <sip:a@h>;expires=3600;q=0.7, <sip:b@h>;q=1', "sip:c@h;expires=0"]
    )
    assert not wildcard and [c.expires for c in contacts] == [3600, None, 0]
    assert [c.q for c in contacts] == [0.7, 1.0, None]
    for bad in ["<sip:a@h>;expires=280297596632815", "<sip:a@h>;q=1.5", "*, <sip:a@h>"]:
        with pytest.raises(RemoteProtocolError):
            parse_contact_values([bad])


def test_building_and_rendering() -> None:
    address = Address.of(SipUri.parse("sip:alice@atlanta.com;transport=tcp"), "Alice Smith")
    assert str(address) == '"Alice Smith" <sip:alice@atlanta.com;transport=tcp>'
    tagged = address.with_tag("abc")
    assert str(tagged) == '"Alice Smith" <sip:alice@atlanta.com;transport=tcp>;tag=abc'
    assert tagged.tag == "abc" and address.tag is None
    plain = Address(uri_text="sip:a@b", bracketed=False, params=Params((("tag", "1"),)))
    assert str(plain) == "sip:a@b;tag=1"
    assert str(Address(uri_text="sip:a@b;lr", bracketed=False)) == "<sip:a@b;lr>"
    parsed = parse_address("sip:a@b;tag=1")
    moved = parsed.replace(uri_text="tel:+1")
    assert isinstance(moved.uri, TelUri) and str(moved) == "tel:+1;tag=1"
    assert Address.parse('"q" <sip:x@y>') == parse_address('"q" <sip:x@y>')
