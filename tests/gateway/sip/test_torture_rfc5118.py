"""RFC 5118 IPv6 torture messages, in both forms the corpus carries.

* ``wire-crlf/``: what a correct sender puts on the wire; verdicts as in ``index.json``.
* ``raw/``: the RFC archive's bytes -- bare-LF line ends, which the parser accepts (like h11),
  but also the archive's own defects that the corpus README lists: wrong Content-Length in
  two files and no terminating empty line in the two section 4.10 files.  Those four are 400s
  naming the defect; every other raw file gets the same result as its wire form.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.errors import RemoteProtocolError
from gateway.sip.message import Request
from gateway.sip.parser import parse_datagram
from gateway.sip.uri import SipUri
from gateway.sip.validate import validate

RAW_DEFECTS = {
    "raw/ipv6-in-sdp": "Content-Length 268",
    "raw/mult-ip-in-sdp": "Content-Length 181",
    "raw/ipv6-bug-abnf-3-colons": "empty line",
    "raw/ipv6-correct-abnf-2-colons": "empty line",
}


@pytest.fixture(scope="module")
def ipv6(corpora: Path) -> tuple[Path, list[dict[str, str]]]:
    base = corpora / "rfc5118-ipv6-torture"
    return base, json.loads((base / "index.json").read_text())


def _request(base: Path, name: str) -> Request:
    message = parse_datagram((base / name).read_bytes())
    assert isinstance(message, Request)
    return message


def test_every_message_gets_its_verdict(ipv6: tuple[Path, list[dict[str, str]]]) -> None:
    base, entries = ipv6
    assert len(entries) == 12
    for entry in entries:
        for form in ("file_wire", "file_raw"):
            name = entry[form]
            data = (base / name).read_bytes()
            if entry["verdict"] == "invalid" or name in RAW_DEFECTS:
                with pytest.raises(RemoteProtocolError) as caught:
                    parse_datagram(data)
                assert caught.value.status_hint == 400, name
                assert RAW_DEFECTS.get(name, "Request-URI") in caught.value.reason, name
                continue
            message = parse_datagram(data)
            validate(message)
            assert bytes(message) == data, name
            assert (b"\r\n" in data) == (form == "file_wire")


def test_ipv6_good(ipv6: tuple[Path, list[dict[str, str]]]) -> None:
    message = _request(ipv6[0], "wire-crlf/ipv6-good")
    assert message.uri == SipUri(host="[2001:db8::10]")
    assert message.via.host == "[2001:db8::9:1]" and message.via.port is None
    contact_uri = message.contacts[0].uri
    assert isinstance(contact_uri, SipUri) and contact_uri.host == "[2001:db8::1]"


def test_ipv6_bad_says_why(ipv6: tuple[Path, list[dict[str, str]]]) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_datagram((ipv6[0] / "wire-crlf/ipv6-bad").read_bytes())
    assert "IPv6" in caught.value.reason


def test_port_ambiguous_keeps_the_colon_inside_the_brackets(
    ipv6: tuple[Path, list[dict[str, str]]],
) -> None:
    uri = _request(ipv6[0], "wire-crlf/port-ambiguous").uri
    assert isinstance(uri, SipUri)
    assert (uri.host, uri.port) == ("[2001:db8::10:5070]", None)


def test_port_unambiguous(ipv6: tuple[Path, list[dict[str, str]]]) -> None:
    uri = _request(ipv6[0], "wire-crlf/port-unambiguous").uri
    assert isinstance(uri, SipUri)
    assert (uri.host, uri.port) == ("[2001:db8::10]", 5070)


@pytest.mark.parametrize(
    ("name", "received"),
    [
        ("via-received-param-with-delim", "[2001:db8::9:255]"),
        ("via-received-param-no-delim", "2001:db8::9:255"),
    ],
)
def test_via_received_with_and_without_brackets(
    ipv6: tuple[Path, list[dict[str, str]]], name: str, received: str
) -> None:
    via = _request(ipv6[0], f"wire-crlf/{name}").via
    assert via.received == received
    assert via.host == "[2001:db8::9:1]" and via.port is None


def test_multiple_addresses_in_headers(ipv6: tuple[Path, list[dict[str, str]]]) -> None:
    vias = _request(ipv6[0], "wire-crlf/mult-ip-in-header").vias
    assert [(via.host, via.port) for via in vias] == [
        ("[2001:db8::9:1]", 6050),
        ("192.0.2.1", None),
        ("[2001:db8::9:255]", None),
    ]
    assert vias[2].received == "192.0.2.200" and vias[2].transport == "TCP"


def test_sdp_bodies_are_framed_by_content_length(
    ipv6: tuple[Path, list[dict[str, str]]],
) -> None:
    for name, length in (("ipv6-in-sdp", 251), ("mult-ip-in-sdp", 189), ("ipv4-mapped-ipv6", 245)):
        message = _request(ipv6[0], f"wire-crlf/{name}")
        assert len(message.body) == length == message.content_length
        assert message.body.startswith(b"v=0\r\n")


def test_ipv4_mapped(ipv6: tuple[Path, list[dict[str, str]]]) -> None:
    message = _request(ipv6[0], "wire-crlf/ipv4-mapped-ipv6")
    assert (message.via.host, message.via.port) == ("[::ffff:192.0.2.10]", 19823)
    contact_uri = message.contacts[0].uri
    assert isinstance(contact_uri, SipUri) and contact_uri.host == "[::ffff:192.0.2.2]"
    raw = _request(ipv6[0], "raw/ipv4-mapped-ipv6")
    assert len(raw.body) == 236 and b"\r" not in raw.body


@pytest.mark.parametrize(
    ("name", "host"),
    [
        ("ipv6-bug-abnf-3-colons", "[2001:db8:::192.0.2.1]"),  # tolerated (RFC 5118 4.10)
        ("ipv6-correct-abnf-2-colons", "[2001:db8::192.0.2.1]"),
    ],
)
def test_ipv4_suffix_spellings(
    ipv6: tuple[Path, list[dict[str, str]]], name: str, host: str
) -> None:
    message = _request(ipv6[0], f"wire-crlf/{name}")
    assert isinstance(message.uri, SipUri) and message.uri.host == host
    assert isinstance(message.to.uri, SipUri) and message.to.uri.host == host


def test_raw_form_differs_only_in_line_ends(ipv6: tuple[Path, list[dict[str, str]]]) -> None:
    base = ipv6[0]
    wire = _request(base, "wire-crlf/mult-ip-in-header")
    raw = _request(base, "raw/mult-ip-in-header")
    assert raw.vias == wire.vias and raw.call_id == wire.call_id
    assert raw.headers.items() == wire.headers.items()
