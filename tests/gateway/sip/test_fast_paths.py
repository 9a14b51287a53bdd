"""The parser's fast paths against the general scanners they stand in for.

Each fast path accepts a subset of the input (the common shapes) and must then build exactly
what the general path builds; on everything else it returns None and the general path decides.
Both are fed the same near-valid text: a valid value with one piece swapped for a tricky one
(every swap, exhaustively), then hypothesis mixes of such pieces plus random one-character
edits.  A fast "yes" must always be a general "yes" with an equal result, and deferring work
(From/To built on first use) must never change a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import RemoteProtocolError
from gateway.sip.address import (
    Address,
    _address_general,
    common_address_pattern,
    parse_common_address,
    parse_common_contact,
)
from gateway.sip.grammar import SipSyntaxError
from gateway.sip.headers import Headers
from gateway.sip.host import COMMON_HOST_PATTERN
from gateway.sip.message import Request
from gateway.sip.parser import _parse_common, _parse_general, parse_datagram
from gateway.sip.uri import (
    _COMMON_SIP_URI_RE,
    FAST_HOST_PATTERN,
    SipUri,
    _parse_sip_general,
    common_sip_uri,
)
from gateway.sip.via import _parse_via_parm_general, parse_common_via

# The From/To check of the parser's head pattern, with the first tag as group "tag".
COMMON_ADDRESS_TAG_RE = re.compile(common_address_pattern("tag"))
TORTURE = Path(__file__).resolve().parents[4] / "shared" / "corpora" / "rfc4475-torture" / "dat"
EDIT_CHARS = ' \t;:=,<>"@/.-%[]\\\r\nxX0\x00\xe9'


@dataclass(frozen=True)
class Slot:
    """One piece of a value: spellings the fast path should take, and tricky ones."""

    valid: Sequence[str]
    tricky: Sequence[str] = ()
    repeat: bool = False  # a parameter list: pieces are appended, not swapped

    def base(self) -> str:
        return "".join(self.valid[:2]) if self.repeat else self.valid[0]


def single_changes(slots: Sequence[Slot]) -> Iterator[str]:
    """The valid base, with each slot in turn taking each of its pieces."""
    bases = [slot.base() for slot in slots]
    for index, slot in enumerate(slots):
        for piece in (*slot.valid, *slot.tricky):
            pieces = list(bases)
            pieces[index] = bases[index] + piece if slot.repeat else piece
            yield "".join(pieces)
            if slot.repeat:
                pieces[index] = piece
                yield "".join(pieces)


def with_edits(draw: st.DrawFn, text: str) -> str:
    """``text``, now and then with random one-character edits (insert, replace or delete)."""
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        position = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from(EDIT_CHARS))
        kind = draw(st.sampled_from(["insert", "replace", "delete"]))
        if kind == "insert":
            text = text[:position] + char + text[position:]
        else:
            tail = text[position + 1 :]
            text = text[:position] + (char if kind == "replace" else "") + tail
    return text


def piece(slot: Slot) -> st.SearchStrategy[str]:
    """A valid piece about four times out of five, else a tricky one."""
    weight = max(1, 4 * len(slot.tricky) // len(slot.valid))
    choices = st.sampled_from([*slot.valid] * weight + [*slot.tricky])
    return st.lists(choices, max_size=4).map("".join) if slot.repeat else choices


@st.composite
def near_valid(draw: st.DrawFn, slots: Sequence[Slot]) -> str:
    return with_edits(draw, "".join(draw(piece(slot)) for slot in slots))


HOST = Slot(
    ["192.0.2.101", "example.com", "gw.example.com", "a", "a-b.c", "a--b.example.com",
     "0.0.0.0", "255.255.255.255", "1.2.3.4.example.com", "x9.Example-1.com"],
    ["-a.com", "a-.com", "a..b", "9abc.com", "a.9b", "example.com.", "256.1.1.1", "01.2.3.4",
     "1.2.3", "[2001:db8::1]", "[::1", "h_x", ""],
)  # fmt: skip
PORT = Slot(
    [":5060", "", ":0", ":65535", ":9", ":10000"],
    [":65536", ":05060", ":99999", ": 5060", ":", ":655350", ":6553a"],
)
VIA = [
    Slot(["SIP/2.0/"], ["sip/2.0/", "SIP/2.0 /", "SIP/3.0/", "SIP/2.0"]),
    Slot(["UDP", "udp", "TLS", "T-X"], ["", "U/DP"]),
    Slot([" "], ["  ", "\t", ""]),
    HOST,
    PORT,
    Slot(
        [";branch=z9hG4bK776asdhds", ";rport", ";BRANCH=x", ";rport=0", ";rport=65535",
         ";RPort=7", ";received=192.0.2.1", ";rportx", ";branchy=1", ";x=y", ";x", ";tag=1"],
        [";branch", ";branch=", ";branch=[x]", ";rport=", ";rport=65536", ";rport=5060x",
         ";rport=05060", ";received=1.2.3", ";received=[::1]", ";received=2001:db8::1",
         ";received=01.2.3.4", ";received", ";ttl=1", ";ttl=300", ";maddr=x.example", ";x=",
         ";;", "; x", ';x="q"'],
        repeat=True,
    ),
]  # fmt: skip
URI = [
    Slot(["sip:", "SIP:", "sIps:"], ["tel:", "sip", "http:"]),
    Slot(["alice@", "", "+15551234567@", "a;b@", "a:pw@", "a:@", "a?b@", "a,b@"],
         ["%41@", "a b@", "@", "a<b@"]),
    HOST,
    PORT,
    Slot([";user=phone", ";lr", ";transport=udp", ";x=[y]", ";maddr=1.2.3.4"],
         [";;", ";a=%41", ";t=", "?h=v", ";a b"], repeat=True),
]  # fmt: skip
DISPLAY = Slot(
    ['"Alice" ', "", '"Alice"', '"A, b" ', '"" ', "Bob ", "Alice B Smith", "Alice B Smith "],
    ['"a\\"b" ', "Bob  ", '"\t" ', "Bob\t", "B@b ", "<"],
)
HEADER_PARAMS = Slot(
    [";tag=1928301774", ";x", ";TAG=a", ";tags", ";expires=60", ";q=0.5", ";x=y"],
    [";tag", ";tag=", ';x="q"', " ;tag=1", ";tag=[a]", ";Tag;tag=1", ";q=2", ";expires=x"],
    repeat=True,
)
NAME_ADDR = [DISPLAY, Slot(["<"], ["", " <"]), *URI, Slot([">"], ["", "> "]), HEADER_PARAMS]
ADDR_SPEC = [*URI[:4], HEADER_PARAMS]


# -- Via -------------------------------------------------------------------------------------


def check_via(text: str) -> None:
    fast = parse_common_via(text)
    if fast is None:
        return
    assert fast == _parse_via_parm_general(text), text  # raises if the general path refuses


def test_via_single_changes() -> None:
    for text in single_changes(VIA):
        check_via(text)


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid(VIA))
def test_via_near_valid(text: str) -> None:
    check_via(text)


def test_common_via_takes_the_usual_shapes() -> None:
    for text in [
        "SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds;rport",
        "SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK7;rport=5060;received=192.0.2.101",
        "SIP/2.0/TCP proxy.example.com:65535;branch=z9hG4bKx;RPORT=65535;received=10.0.0.1",
        "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKasudf;alias",
    ]:
        fast = parse_common_via(text)
        assert fast is not None and fast == _parse_via_parm_general(text), text


# -- URIs and addresses ----------------------------------------------------------------------


def same_uri(built: object, parsed: SipUri) -> bool:
    """Field by field: SipUri's == is RFC 3261 equality, looser than identity of parts."""
    assert isinstance(built, SipUri)
    fields = ("host", "user", "password", "port", "params", "headers", "scheme", "raw")
    return all(getattr(built, name) == getattr(parsed, name) for name in fields)


def check_uri(text: str) -> None:
    common = _COMMON_SIP_URI_RE.fullmatch(text)
    if common is not None:
        assert same_uri(common_sip_uri(text, *common.groups()), _parse_sip_general(text)), text


def test_uri_single_changes() -> None:
    for text in single_changes(URI):
        check_uri(text)


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid(URI))
def test_uri_near_valid(text: str) -> None:
    check_uri(text)


def general_address(text: str, bracketed_only: bool = False) -> Address | None:
    try:
        return _address_general(text, bracketed_only)
    except SipSyntaxError:
        return None


def check_address(text: str) -> None:
    general = general_address(text)
    fast = parse_common_address(text)
    if fast is not None:
        assert general is not None and fast == general and str(fast) == str(general), text
    scanned = COMMON_ADDRESS_TAG_RE.fullmatch(text)
    assert (scanned is not None) == (fast is not None), text  # the same shapes
    if scanned is not None:
        assert general is not None and scanned["tag"] == general.tag, text
    bracketed = parse_common_address(text, bracketed_only=True)
    if bracketed is not None:
        assert bracketed == general_address(text, bracketed_only=True), text
    contact = parse_common_contact(text)
    if contact is not None:
        assert general is not None and contact == general, text
        assert same_uri(contact.uri, _parse_sip_general(contact.uri_text)), text


def test_address_single_changes() -> None:
    for text in (*single_changes(NAME_ADDR), *single_changes(ADDR_SPEC)):
        check_address(text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(near_valid(NAME_ADDR), near_valid(ADDR_SPEC)))
def test_address_near_valid(text: str) -> None:
    check_address(text)


def test_common_addresses_take_the_usual_shapes() -> None:
    for text in [
        '"Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
        "<sip:+15551234567@gw.example.com;user=phone>",
        "<sip:+15551234567@gw.example.com;user=phone>;tag=a6c85cf",
        "sip:caller@example.net;tag=134161461246",
        "Bob <sip:bob@biloxi.example.com:5061;transport=tcp>;tag=a;x=y",
    ]:
        scanned = COMMON_ADDRESS_TAG_RE.fullmatch(text)
        general = _address_general(text, False)
        assert scanned is not None and scanned["tag"] == general.tag, text
        contact = parse_common_contact(text)
        assert contact is not None and contact == general
        assert same_uri(contact.uri, _parse_sip_general(contact.uri_text))


@settings(max_examples=300)
@given(st.text(alphabet="a1Z9-.:[]", max_size=14))
def test_fast_host_pattern_is_the_common_host_pattern(text: str) -> None:
    assert bool(re.fullmatch(FAST_HOST_PATTERN, text)) == bool(
        re.fullmatch(COMMON_HOST_PATTERN, text)
    )


def test_fast_host_pattern_on_the_host_pieces() -> None:
    for text in (*HOST.valid, *HOST.tricky):
        assert bool(re.fullmatch(FAST_HOST_PATTERN, text)) == bool(
            re.fullmatch(COMMON_HOST_PATTERN, text)
        ), text


# -- whole messages --------------------------------------------------------------------------

SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
INVITE = (
    b"INVITE sip:+15551234567@gw.example.com;user=phone SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"t: <sip:+15551234567@gw.example.com;user=phone>\r\n"
    b'f: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"i: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"m: <sip:alice@192.0.2.101:5060;transport=udp>\r\n"
    b"User-Agent: gwemu-test\r\n"
    b"c: application/sdp\r\n"
    b"l: 63\r\n\r\n" + SDP
)
RINGING = (
    b"SIP/2.0 180 Ringing\r\n"
    b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds;rport=5060\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    b"From: sip:alice@atlanta.example.com;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:bob@192.0.2.4>;expires=60\r\n"
    b"Content-Length: 0\r\n\r\n"
)
# (old, new) swaps, each applied alone to the messages holding ``old``.
MESSAGE_SWAPS = [
    (b"314159 INVITE", b"4294967295 INVITE"), (b"314159 INVITE", b"4294967296 INVITE"),
    (b"314159 INVITE", b"00000000314159 INVITE"), (b"314159 INVITE", b"314159  INVITE"),
    (b"314159 INVITE", b"314159\tINVITE"), (b"314159 INVITE", b"314159 BYE"),
    (b"314159 INVITE", b"3\xef\xbc\x91 INVITE"), (b"314159 INVITE", b"314159 INV@TE"),
    (b"314159 INVITE", b"314159 FOO"), (b"Max-Forwards: 70", b"Max-Forwards: 255"),
    (b"Max-Forwards: 70", b"Max-Forwards: 256"), (b"Max-Forwards: 70", b"Max-Forwards: 0070"),
    (b"Max-Forwards: 70", b"Max-Forwards: \xd9\xa7"), (b"Max-Forwards: 70", b"Max-Forwards:"),
    (b"l: 63", b"l: 64"), (b"l: 63", b"l: 0"), (b"l: 63", b"l: 99999999999"),
    (b"l: 63", b"l: \xd9\xa6"), (b"Content-Length: 0", b"Content-Length: -0"),
    (b"180 Ringing", b"180 Ring\x01ing"), (b"180 Ringing", b"180 Ring\ting"),
    (b"180 Ringing", b"180 "), (b"180 Ringing", b"180"), (b"180 Ringing", b"099 Low"),
    (b"180 Ringing", b"\xef\xbc\x91\xef\xbc\x98\xef\xbc\x90 Ringing"),
    (b"180 Ringing", b"180 R\xc3\xa9sonne"), (b"180 Ringing", b"180 \xff\xfe"),
    (b"gwemu-test", b"gwemu\rtest"), (b"gwemu-test", b"gwemu\ntest"),
    (b"User-Agent:", b"User-Agent :"), (b"User-Agent:", b"USER-AGENT:"),
    (b"User-Agent:", b"User-Agent"), (b"User-Agent: gwemu-test\r\n", b""),
    (b"User-Agent: gwemu-test", b"User-Agent: a\r\n b"), (b"User-Agent:", b"X-Bad Name:"),
    (b"User-Agent: gwemu-test", b"Via"), (b"User-Agent: gwemu-test", b"i: x@y"),
    (b"User-Agent: gwemu-test", b"CSeq: 1 INVITE"), (b"User-Agent: gwemu-test", b"l: 0"),
    (b"User-Agent: gwemu-test", b"Max-Forwards: 70"), (b"User-Agent: gwemu-test", b"To: <sip:a@b>"),
    (b"User-Agent: gwemu-test", b"Via: SIP/2.0/UDP h;branch=z9hG4bKa"),
    (b"User-Agent: gwemu-test", b"Via: SIP/2.0/UDP h;branch"),
    (b"i: a84b4c76e66710@pc33.atlanta.example.com", b"i: a@b@c"),
    (b"i: a84b4c76e66710@pc33.atlanta.example.com", b"i: "),
    (b"Call-ID: a84b4c76e66710", b"Call-ID: a\xc3\xa9"),
    (b";tag=1928301774", b";tag"), (b";tag=1928301774", b";TAG=x;tag=y"),
    (b";user=phone>\r\n", b";user=phone>;tag=\r\n"), (b"SIP/2.0\r\n", b"SIP/2.1\r\n"),
    (b"INVITE sip:", b"INVITE  sip:"), (b"INVITE sip:", b"INVITE <sip:"),
    (b"INVITE sip:", b"FOO sip:"), (b"INVITE sip:+1555", b"INVITE sip:%41"),
    (b"@gw.example.com;user=phone SIP", b"@gw.example.com;user=phone?x=y SIP"),
    (b"\r\nv: ", b"\r\nVia : "), (b"\r\nv: ", b"\r\nv:"), (b"\r\nv: ", b"\r\nv:\t"),
    (b"SIP/2.0/UDP 192.0.2.101", b"SIP/2.0/UDP [2001:db8::1]"),
    (b"SIP/2.0/UDP proxy", b"SIP/2.0/UDP 256.0.0.1 x"),
    (b"From: sip:alice", b"From: <sip:alice"), (b"To: Bob", b"To: Bob  "),
    (b"Contact: <sip:bob@192.0.2.4>;expires=60", b"Contact: <sip:bob@192.0.2.4>;expires=x"),
    (b"m: <sip:alice@", b"m: <sip:bob@192.0.2.9>\r\nM: <sip:alice@"),
    (b"Contact: <sip:bob@192.0.2.4>;expires=60", b"Contact: *"),
    (b"Contact: <sip:bob@192.0.2.4>;expires=60", b"Contact: <tel:+1555>"),
    (b"Contact: <sip:bob@192.0.2.4>;expires=60\r\n", b""),
    (b"i: a84b4c76e66710@pc33.atlanta.example.com", b"CALL-ID: a84b@x"),
    (b"CSeq: 314159 INVITE", b"cseq: 314159 INVITE"), (b"l: 63", b"L: 63"),
    (b"\r\nv: ", b"\r\nVIA: "), (b"\r\nv: ", b"\r\nvia:  "), (b"c: app", b"c : app"),
    (b"User-Agent: gwemu-test", b"f: <sip:x@y>;tag=2"),
    (b"User-Agent: gwemu-test", b"t: <sip:x@y>"),
    (b"User-Agent: gwemu-test", b"Content-Type: text/plain"),
    (b"User-Agent:", b"Call-Info:"), (b"User-Agent:", b"Contact-X:"), (b"User-Agent:", b"Vias:"),
    (b"User-Agent:", b"Max-Forwards-X:"), (b"User-Agent:", b"L-X:"), (b"User-Agent:", b"m:"),
    (b"User-Agent: gwemu-test", b"v: SIP/2.0/UDP h;branch=z9hG4bKb, SIP/2.0/UDP g"),
    (b"User-Agent: gwemu-test", b"v: SIP/2.0/UDP [2001:db8::1];branch=z9hG4bKb"),
    (b";branch=z9hG4bK776asdhds", b";branch=z9hG4bK776asdhds;BRANCH=second"),
    (b";branch=z9hG4bK776asdhds", b";rport;Branch=first;branch=second"),
    (b"INVITE sip:", "INVITE \u017fip:".encode()), (b"<sip:alice@", "<\u017fip:alice@".encode()),
    (b"Max-Forwards: 70", b"Max-Forwards: 7"), (b"Max-Forwards: 70", b"Max-Forwards: 0"),
    (b"Max-Forwards: 70\r\n", b""), (b"l: 63\r\n", b""),
]  # fmt: skip
CORPUS = [path.read_bytes() for path in sorted(TORTURE.glob("*.dat"))] if TORTURE.is_dir() else []
FIELDS = ("vias", "from_", "to", "from_tag", "to_tag", "call_id", "cseq", "content_length")


@dataclass(frozen=True)
class Failed:
    reason: str
    status_hint: int | None


def accessors(message: object) -> dict[str, object]:
    """Every typed field, with the error in place of the value where reading it fails."""
    values: dict[str, object] = {}
    for name in (*FIELDS, "max_forwards", "contacts"):
        try:
            values[name] = getattr(message, name)
        except RemoteProtocolError as exc:
            values[name] = Failed(exc.reason, exc.status_hint)
    return values


def check_message(data: bytes) -> bool:
    """Compare the paths on ``data``; True when the fast path took it."""
    fast = _parse_common(data)
    if fast is None:
        return False
    general = _parse_general(data)  # must not raise: the fast path accepted the message
    assert fast == general and bytes(fast) == bytes(general)
    assert fast.headers.keys == general.headers.keys
    fast_fields = accessors(fast)  # From/To are built here, after the verdict
    assert fast_fields == accessors(general)
    for name in FIELDS:  # what the fast path checked can never fail later
        assert not isinstance(fast_fields[name], Failed), name
    return True


def test_message_single_changes() -> None:
    taken = 0
    for old, new in MESSAGE_SWAPS:
        for data in (INVITE, RINGING):
            if old in data:
                taken += check_message(data.replace(old, new, 1))
    assert taken > len(MESSAGE_SWAPS) // 4  # the fast path is exercised, not only refused


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([INVITE, RINGING, *CORPUS])))
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(data)))
        replacement = draw(st.sampled_from(EDIT_CHARS)).encode("utf-8")
        data[position : position + draw(st.integers(0, 2))] = replacement
    return bytes(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_messages())
def test_mutated_messages_agree(data: bytes) -> None:
    check_message(data)


def test_usual_messages_take_the_fast_path() -> None:
    for data in (INVITE, RINGING):
        assert check_message(data)


def test_tags_are_read_without_building_the_addresses_and_follow_changes() -> None:
    message = parse_datagram(INVITE)
    assert isinstance(message, Request)
    assert "from" not in message.headers._cache and "to" not in message.headers._cache
    assert (message.from_tag, message.to_tag) == ("1928301774", None)
    assert "from" not in message.headers._cache  # still not built
    assert message.from_.tag == "1928301774" and message.from_.display_name == "Alice"
    changed = message.replace_header("From", "<sip:carol@example.com>;tag=other")
    assert changed.from_tag == "other" and changed.from_.uri_text == "sip:carol@example.com"
    assert changed.to_tag is None
    tagged = message.replace_header("t", "<sip:+15551234567@gw.example.com>;tag=x1")
    assert tagged.to_tag == "x1" and tagged.from_tag == "1928301774"
    assert message.to_tag is None  # the original is untouched


def test_a_long_s_is_no_sip_scheme() -> None:
    # U+017F folds to "s" under Unicode IGNORECASE; a URI scheme is ASCII (RFC 3261 25.1).
    for old, new in [(b"INVITE sip:", "INVITE \u017fip:"), (b"<sip:alice@", "<\u017fip:alice@")]:
        with pytest.raises(RemoteProtocolError) as caught:
            parse_datagram(INVITE.replace(old, new.encode(), 1))
        assert caught.value.status_hint == 400 and "no scheme" in caught.value.reason


def test_routing_a_message_does_not_split_its_header_lines() -> None:
    message = parse_datagram(RINGING)
    unset = Headers.__dict__["lines"]  # the slot: raises AttributeError until it is set
    assert message.via.branch == "z9hG4bK4b43c2ff8.1" and message.to_tag == "a6c85cf"
    assert (message.call_id, message.cseq.number) == ("a84b4c76e66710", 314159)
    assert bytes(message) == RINGING
    assert message.contact is not None and str(message.contact.uri) == "sip:bob@192.0.2.4"
    with pytest.raises(AttributeError):
        unset.__get__(message.headers, Headers)
    assert len(message.vias) == 2 and message.vias[0] == message.via  # the lines, split now
    assert unset.__get__(message.headers, Headers)[0].startswith("Via: SIP/2.0/UDP proxy")
