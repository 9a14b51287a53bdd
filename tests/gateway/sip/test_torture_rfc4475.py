"""RFC 4475 torture messages: every file gets the verdict and handling its index entry names.

* ``valid``: parses, serializes back byte for byte, passes full validation, and exposes what
  ``parser_must_notice`` asks for (one specific test per file below);
* ``invalid``: rejected with the status a UAS answers -- by the parser where the problem is
  in what every element needs, by :func:`validate` where it is in a header only some
  elements read (Date, an addr-spec Contact);
* ``invalid-drop``: a malformed response, rejected with ``status_hint=None``;
* ``valid-unusual``: parses, then gets the specific handling through the UAS checks, or is a
  400 where the index says so.
* ``test.dat`` is not described by the RFC: nothing is asserted about it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.errors import RemoteProtocolError
from gateway.sip.message import Request, Response
from gateway.sip.parser import parse_datagram
from gateway.sip.stream import StreamParser
from gateway.sip.uas_checks import UasCapabilities, check_request
from gateway.sip.uri import AbsoluteUri, SipUri
from gateway.sip.validate import validate

# Status expected for every invalid file, and the level that rejects it.
INVALID: dict[str, tuple[int | None, str, str]] = {
    # file: (status, "parse" | "validate", a word the reason must contain)
    "badinv01.dat": (400, "parse", "Via"),
    "clerr.dat": (400, "parse", "Content-Length"),
    "ncl.dat": (400, "parse", "Content-Length"),
    "scalar02.dat": (400, "parse", "CSeq"),
    "scalarlg.dat": (None, "parse", "CSeq"),
    "quotbal.dat": (400, "parse", "To"),
    "ltgtruri.dat": (400, "parse", "Request-URI"),
    "lwsruri.dat": (400, "parse", "Request-URI"),
    "lwsstart.dat": (400, "parse", "Request-Line"),
    "trws.dat": (400, "parse", "Request-Line"),
    "escruri.dat": (400, "parse", "Request-URI"),
    "baddate.dat": (400, "validate", "Date"),
    "regbadct.dat": (400, "validate", "Contact"),
    "badaspec.dat": (400, "parse", "To"),
    "baddn.dat": (400, "parse", "empty line"),
    "badvers.dat": (505, "parse", "SIP/7.0"),
    "mismatch01.dat": (400, "parse", "CSeq"),
    "mismatch02.dat": (400, "parse", "CSeq"),
    "bigcode.dat": (None, "parse", "status code"),
}


@pytest.fixture(scope="module")
def torture(corpora: Path) -> dict[str, tuple[dict[str, str], bytes]]:
    base = corpora / "rfc4475-torture"
    entries = json.loads((base / "index.json").read_text())
    return {
        Path(entry["file"]).name: (entry, (base / entry["file"]).read_bytes()) for entry in entries
    }


def parsed(torture: dict[str, tuple[dict[str, str], bytes]], name: str) -> Request | Response:
    return parse_datagram(torture[name][1])


def request(torture: dict[str, tuple[dict[str, str], bytes]], name: str) -> Request:
    message = parsed(torture, name)
    assert isinstance(message, Request)
    return message


def test_index_covers_every_file(
    torture: dict[str, tuple[dict[str, str], bytes]], corpora: Path
) -> None:
    on_disk = {path.name for path in (corpora / "rfc4475-torture" / "dat").glob("*.dat")}
    assert set(torture) == on_disk
    assert len(on_disk) == 50
    invalid = {name for name, (entry, _) in torture.items() if entry["verdict"].startswith("inv")}
    assert invalid == set(INVALID)


def test_valid_messages_parse_validate_and_round_trip(
    torture: dict[str, tuple[dict[str, str], bytes]],
) -> None:
    for name, (entry, data) in torture.items():
        if entry["verdict"] != "valid":
            continue
        message = parse_datagram(data)
        validate(message)
        expected = data if name != "dblreq.dat" else data[: data.index(b"\r\n\r\n") + 4]
        assert bytes(message) == expected, name


def test_invalid_messages_get_the_indexed_status(
    torture: dict[str, tuple[dict[str, str], bytes]],
) -> None:
    for name, (status, level, word) in INVALID.items():
        data = torture[name][1]
        if level == "parse":
            with pytest.raises(RemoteProtocolError) as caught:
                parse_datagram(data)
        else:
            message = parse_datagram(data)
            with pytest.raises(RemoteProtocolError) as caught:
                validate(message)
        assert caught.value.status_hint == status, name
        assert word in caught.value.reason, (name, caught.value.reason)


def test_invalid_drop_entries_are_responses(
    torture: dict[str, tuple[dict[str, str], bytes]],
) -> None:
    for name, (entry, data) in torture.items():
        if entry["verdict"] == "invalid-drop":
            assert data.startswith(b"SIP/2.0 ")
            assert INVALID[name][0] is None


def test_invalid_messages_on_a_stream_are_rejected_or_kill_the_stream(
    torture: dict[str, tuple[dict[str, str], bytes]],
) -> None:
    # Over TCP a framing problem (bad Content-Length) closes the stream; a message with sound
    # framing but bad content is rejected and the stream continues.
    for name in ("clerr.dat", "ncl.dat", "mcl01.dat"):
        parser = StreamParser()
        parser.feed(torture[name][1])
        if name == "clerr.dat":
            assert parser.next_event() is None  # waits for the 9999 octets announced
            parser.feed(b"")
        with pytest.raises(RemoteProtocolError):
            parser.next_event()
        assert parser.dead
    parser = StreamParser()
    parser.feed(torture["mismatch01.dat"][1] + torture["zeromf.dat"][1])
    events = list(parser)
    assert [type(event).__name__ for event in events] == ["RejectedMessage", "Request"]


# -- valid: what each file asks the parser to notice ----------------------------------------


def test_wsinv(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "wsinv.dat")
    assert message.method == "INVITE"
    assert message.uri_text == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert isinstance(message.uri, SipUri) and message.uri.params.has("unknownparam")
    # "Via  :" (folded over three lines) plus a "v:" line holding two comma-separated values.
    assert len(message.headers.get_all("via")) == 2
    assert [via.transport for via in message.vias] == ["UDP", "TCP", "UDP"]
    assert [via.host for via in message.vias] == [
        "192.0.2.2",
        "spindle.example.com",
        "192.168.255.111",
    ]
    assert message.vias[1].branch == "z9hG4bK9ikj8"
    assert message.vias[2].branch == "z9hG4bK30239"
    assert message.max_forwards == 68  # "0068"
    assert (message.cseq.number, message.cseq.method) == (9, "INVITE")  # "0009\r\n  INVITE"
    assert message.to.tag == "1918181833n"
    assert message.from_.display_name == 'J Rosenberg \\"'
    assert message.from_.tag == "98asjd8"
    assert message.headers.get("s") == ""  # empty Subject
    assert message.headers.get("NewFangledHeader") == (
        "newfangled value continued newfangled value"
    )
    assert message.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert message.headers.values("UnknownHeaderWithUnusualValue") == [";;,,;;,;"]
    contact = message.contact
    assert contact is not None and contact.display_name == 'Quoted string ""'
    assert contact.params.get("newparam") == "newvalue"
    assert contact.params.has("secondparam") and contact.q == 0.33
    route = message.routes[0].uri
    assert isinstance(route, SipUri) and route.lr
    assert route.params.get("unknownwith") == "value" and route.params.has("unknown-no-value")
    assert message.content_length == 150 and len(message.body) == 150
    assert message.content_type is not None and message.content_type.mime == "application/sdp"


def test_intmeth(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "intmeth.dat")
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    assert message.method == method and message.cseq.method == method
    uri = message.uri
    assert isinstance(uri, SipUri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert message.via.branch == "z9hG4bK-.!%66*_+`'~"
    assert message.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert message.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert message.from_.tag == "_token~1'+`*%!-."
    # A quoted parameter value in UTF-8 ("работающий") and a raw UTF-8 header value.
    working = "\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"
    assert message.from_.params.get_text("fromParam''~+*_!.-%") == working
    assert message.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert message.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff\u5927\u505c\u96fb"
    assert check_request(message, UasCapabilities()) is not None
    assert check_request(message, UasCapabilities()).status == 501  # type: ignore[union-attr]


def test_esc01(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "esc01.dat")
    uri = message.uri
    assert isinstance(uri, SipUri)
    assert uri.user == "sips:user@example.com" and uri.escaped_user == "sips%3Auser%40example.com"
    to_uri, from_uri = message.to.uri, message.from_.uri
    assert isinstance(to_uri, SipUri) and to_uri.user == "user"
    assert isinstance(from_uri, SipUri) and from_uri.user == "I have spaces"
    assert to_uri == SipUri.parse("sip:user@example.com")
    contact = message.contact
    assert contact is not None
    contact_uri = contact.uri
    assert isinstance(contact_uri, SipUri)
    assert contact_uri.user == "caller" and contact_uri.lr
    assert contact_uri.params.get("name") == "value%41"  # unescaped once, not twice


def test_escnull(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "escnull.dat")
    to_uri = message.to.uri
    assert isinstance(to_uri, SipUri) and to_uri.user == "null-\x00-null"
    users = [contact.uri.user for contact in message.contacts]  # type: ignore[union-attr]
    assert users == ["\x00", "\x00\x00"]
    first, second = (contact.uri for contact in message.contacts)
    assert first != second  # two distinct bindings, not one truncated to ""


def test_esc02(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "esc02.dat")
    assert message.method == "RE%47IST%45R" and message.method != "REGISTER"
    assert message.to.display_name == "%Z%45" and message.from_.display_name == "%Z%45"
    assert message.via.branch == "z9hG4bK209%fzsnel234"
    assert len(message.contacts) == 2
    assert message.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert "C%6Fntact".lower() in message.headers.keys
    rejection = check_request(message, UasCapabilities())
    assert rejection is not None and rejection.status == 501


def test_lwsdisp(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "lwsdisp.dat")
    assert message.from_.display_name == "caller"
    assert str(message.from_.uri) == "sip:caller@example.com" and message.from_.tag == "323"


def test_longreq(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "longreq.dat")
    assert len(message.vias) == 34
    assert message.headers.count("via") == 34
    assert [via.host for via in message.vias[:3]] == [
        "sip33.example.com",
        "sip32.example.com",
        "sip31.example.com",
    ]
    assert message.vias[-1].received == "192.0.2.5"
    assert message.vias[-1].branch is not None and message.vias[-1].branch.endswith("branchvalue")
    assert message.to.display_name is not None and "extremeextreme" in message.to.display_name
    to_uri = message.to.uri
    assert isinstance(to_uri, SipUri) and to_uri.port == 6000 and len(to_uri.params) == 3
    assert message.from_.tag is not None and len(message.from_.tag) > 150
    assert message.call_id.startswith("longreq.onereally")
    long_name = "Unknown-" + "Long" * 20 + "-Name"
    assert message.headers.get(long_name) is not None


def test_dblreq(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    data = torture["dblreq.dat"][1]
    message = request(torture, "dblreq.dat")
    assert message.method == "REGISTER" and message.body == b""
    assert b"INVITE" not in bytes(message)
    assert bytes(message) == data[: data.index(b"\r\n\r\n") + 4]


def test_semiuri(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    uri = request(torture, "semiuri.dat").uri
    assert isinstance(uri, SipUri)
    assert uri.user == "user;par=u@example.net" and uri.host == "example.com"
    assert len(uri.params) == 0


def test_transports(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "transports.dat")
    assert [via.transport for via in message.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert all(via.is_rfc3261_branch for via in message.vias)


def test_mpart01(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    data = torture["mpart01.dat"][1]
    message = request(torture, "mpart01.dat")
    assert len(message.body) == 553 == message.content_length
    assert message.body == data[-553:]
    assert b"\x00" in message.body and b"\r\n--7a9cbec02ceef655--" in message.body
    content_type = message.content_type
    assert content_type is not None and content_type.mime == "multipart/mixed"
    assert content_type.params.get("boundary") == "7a9cbec02ceef655"
    assert message.via.rport_requested and message.via.rport is None


def test_unreason(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = parsed(torture, "unreason.dat")
    assert isinstance(message, Response) and message.status == 200
    assert message.reason.startswith("= 2**3 * 5**2 ")
    assert message.reason.endswith(" - \u043f\u0440\u043e\u0441\u0442\u043e\u0435")  # "простое"


def test_noreason(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = parsed(torture, "noreason.dat")
    assert isinstance(message, Response)
    assert (message.status, message.reason) == (100, "")
    assert bytes(message).startswith(b"SIP/2.0 100 \r\n")


def test_zeromf(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "zeromf.dat")
    assert message.max_forwards == 0
    assert check_request(message, UasCapabilities()) is None  # a UAS processes it


def test_cparam01_and_cparam02(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    header_param = request(torture, "cparam01.dat").contacts[0]
    assert not header_param.bracketed
    assert header_param.params.has("unknownparam")
    assert isinstance(header_param.uri, SipUri) and not header_param.uri.params.has("unknownparam")
    uri_param = request(torture, "cparam02.dat").contacts[0]
    assert uri_param.bracketed and not uri_param.params.has("unknownparam")
    assert isinstance(uri_param.uri, SipUri) and uri_param.uri.params.has("unknownparam")


def test_regescrt(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    contact = request(torture, "regescrt.dat").contacts[0]
    assert isinstance(contact.uri, SipUri)
    assert contact.uri.headers == (("Route", "<sip:sip.example.com>"),)
    assert contact.uri_text == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"


def test_inv2543(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "inv2543.dat")
    assert message.via.branch is None and not message.via.is_rfc3261_branch
    assert message.from_.tag is None
    assert message.max_forwards is None and message.content_length is None
    assert message.body.startswith(b"v=0") and bytes(message) == torture["inv2543.dat"][1]
    assert isinstance(message.record_routes[0].uri, SipUri)
    assert message.record_routes[0].uri.maddr == "ss1.example.com"
    # From is bracketed, so ";user=phone" is a URI parameter; To is an addr-spec, so the same
    # text is a header parameter (RFC 3261 section 20).
    from_uri = message.from_.uri
    assert isinstance(from_uri, SipUri) and from_uri.user_param == "phone"
    assert message.to.params.get("user") == "phone"
    assert isinstance(message.to.uri, SipUri) and message.to.uri.user_param is None


# -- valid-unusual: the specific handling ----------------------------------------------------


def test_badbranch(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "badbranch.dat")
    assert message.via.branch == "z9hG4bK"
    assert not message.via.is_rfc3261_branch


@pytest.mark.parametrize("name", ["insuf.dat", "multi01.dat", "mcl01.dat"])
def test_missing_or_repeated_required_headers_are_400(
    torture: dict[str, tuple[dict[str, str], bytes]], name: str
) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_datagram(torture[name][1])
    assert caught.value.status_hint == 400
    if name == "insuf.dat":
        assert caught.value.reason == "missing Call-ID, From, To headers"


@pytest.mark.parametrize("name", ["unkscm.dat", "novelsc.dat"])
def test_unknown_request_uri_scheme_is_416(
    torture: dict[str, tuple[dict[str, str], bytes]], name: str
) -> None:
    message = request(torture, name)
    assert isinstance(message.uri, AbsoluteUri)
    rejection = check_request(message, UasCapabilities())
    assert rejection is not None and rejection.status == 416


def test_unksm2(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "unksm2.dat")
    assert message.to.uri == AbsoluteUri("isbn", "2983792873")
    assert message.from_.uri.scheme == "http" and message.from_.tag == "3234233"
    assert str(message.contacts[0].uri) == "name:John_Smith"


def test_bext01(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "bext01.dat")
    rejection = check_request(message, UasCapabilities())
    assert rejection is not None and rejection.status == 420
    # A UAS lists what it does not support of Require; Proxy-Require is a proxy's business.
    assert rejection.headers == (("Unsupported", "nothingSupportsThis, nothingSupportsThisEither"),)
    response = rejection.response(message, to_tag="t1")
    assert response.headers.get("Unsupported") == "nothingSupportsThis, nothingSupportsThisEither"


def test_invut(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    rejection = check_request(request(torture, "invut.dat"), UasCapabilities())
    assert rejection is not None and rejection.status == 415
    assert rejection.headers == (("Accept", "application/sdp"),)


def test_regaut01(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = request(torture, "regaut01.dat")
    assert message.headers.get("Authorization") == "NoOneKnowsThisScheme opaque-data=here"
    rejection = check_request(message, UasCapabilities())  # not a registrar: 405
    assert rejection is not None and rejection.status == 405
    assert ("Allow", "ACK, BYE, CANCEL, INVITE, OPTIONS") in rejection.headers


def test_bcast(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    message = parsed(torture, "bcast.dat")
    assert isinstance(message, Response)
    assert message.vias[1].host == "255.255.255.255"


def test_sdp01(torture: dict[str, tuple[dict[str, str], bytes]]) -> None:
    rejection = check_request(request(torture, "sdp01.dat"), UasCapabilities())
    assert rejection is not None and rejection.status in (406, 400)


def test_baddn_display_names_are_rejected_even_with_the_empty_line(
    torture: dict[str, tuple[dict[str, str], bytes]],
) -> None:
    # The archive's baddn.dat lacks the empty line; with it restored, the From display name
    # with a comma is what fails.
    with pytest.raises(RemoteProtocolError) as caught:
        parse_datagram(torture["baddn.dat"][1] + b"\r\n")
    assert caught.value.status_hint == 400 and "From" in caught.value.reason


def test_test_dat_is_carried_but_not_judged(
    torture: dict[str, tuple[dict[str, str], bytes]],
) -> None:
    entry, data = torture["test.dat"]
    assert entry["verdict"] == "n/a" and data.startswith(b"INVITE")
