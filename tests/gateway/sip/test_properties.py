"""Property tests: generated messages round-trip, garbage only ever raises the protocol error,
streams give the same messages however the octets are cut, and the one-pass fast path agrees
with the general parser."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import RemoteProtocolError
from gateway.sip.grammar import TOKEN_CHARS, quote
from gateway.sip.message import Request, Response
from gateway.sip.parser import _parse_common, _parse_general, error_response, parse_datagram
from gateway.sip.stream import RejectedMessage, StreamParser
from gateway.sip.uas_checks import UasCapabilities, check_request
from gateway.sip.validate import validate

TORTURE = Path(__file__).resolve().parents[4] / "shared" / "corpora" / "rfc4475-torture" / "dat"

tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=12)
words = st.text(alphabet=string.ascii_letters + string.digits + "-.!%*_+`'~()<>:\\\"/[]?{}",
                min_size=1, max_size=20)  # fmt: skip
hosts = st.sampled_from(
    ["example.com", "pc33.atlanta.example.com", "192.0.2.1", "[2001:db8::1]", "h", "1.2.3.4"]
)
ports = st.one_of(st.none(), st.integers(0, 65535))
user_chars = string.ascii_letters + string.digits + "-_.!~*'()&=+$,;?/"
paramchars = st.text(alphabet=string.ascii_letters + string.digits + "-_.!~*'()[]/:&+$",
                     min_size=1, max_size=8)  # fmt: skip
users = st.one_of(st.none(), st.text(alphabet=user_chars, min_size=1, max_size=10))
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=20
).map(str.strip)
display_names = st.one_of(
    st.none(),
    texts.map(quote),
    st.lists(tokens, min_size=1, max_size=3).map(" ".join),
)
spaces = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def sip_uris(draw: st.DrawFn) -> str:
    user = draw(users)
    port = draw(ports)
    params = draw(st.lists(st.tuples(paramchars, st.one_of(st.none(), paramchars)), max_size=2))
    text = "sip:" + (f"{user}@" if user else "") + draw(hosts)
    text += f":{port}" if port is not None else ""
    for name, value in params:
        text += f";{name}" + (f"={value}" if value else "")
    return text


@st.composite
def addresses(draw: st.DrawFn, tag: bool) -> str:
    display = draw(display_names)
    uri = draw(sip_uris())
    text = f"{display}{draw(spaces)}<{uri}>" if display is not None else f"<{uri}>"
    if display is None and draw(st.booleans()) and not any(c in uri for c in ";?,"):
        text = uri  # addr-spec form
    if tag:
        text += f"{draw(spaces)};{draw(spaces)}tag={draw(tokens)}"
    return text


@st.composite
def vias(draw: st.DrawFn) -> str:
    transport = draw(st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS", "unknown"]))
    port = draw(ports)
    text = f"SIP/2.0/{transport} {draw(hosts)}" + (f":{port}" if port is not None else "")
    text += f";branch=z9hG4bK{draw(tokens)}"
    if draw(st.booleans()):
        text += ";rport"
    if draw(st.booleans()):
        text += ";received=192.0.2.99"
    return text


@dataclass(frozen=True)
class Generated:
    data: bytes
    method: str | None
    status: int | None
    call_id: str
    cseq: int
    via_count: int
    body: bytes


@st.composite
def messages(draw: st.DrawFn, with_length: bool = True) -> Generated:
    method = draw(st.one_of(st.sampled_from(["INVITE", "OPTIONS", "BYE", "MESSAGE"]), tokens))
    is_response = draw(st.booleans())
    status = draw(st.integers(100, 699))
    lines = [
        f"SIP/2.0 {status} {draw(texts)}" if is_response else f"{method} {draw(sip_uris())} SIP/2.0"
    ]
    headers: list[tuple[str, str]] = []
    via_values = draw(st.lists(vias(), min_size=1, max_size=3))
    if len(via_values) > 1 and draw(st.booleans()):
        headers.append((draw(st.sampled_from(["Via", "v"])), " , ".join(via_values)))
    else:
        headers += [(draw(st.sampled_from(["Via", "v", "VIA"])), value) for value in via_values]
    call_id = draw(words) + (("@" + draw(words)) if draw(st.booleans()) else "")
    cseq = draw(st.integers(0, 2**32 - 1))
    headers += [
        (draw(st.sampled_from(["From", "f"])), draw(addresses(tag=True))),
        (draw(st.sampled_from(["To", "t"])), draw(addresses(tag=is_response))),
        (draw(st.sampled_from(["Call-ID", "i"])), call_id),
        ("CSeq", f"{cseq}{draw(st.sampled_from([' ', '  ', chr(9)]))}{method}"),
    ]
    if not is_response and draw(st.booleans()):
        headers.append(("Max-Forwards", str(draw(st.integers(0, 255)))))
    if draw(st.booleans()):
        headers.append((draw(st.sampled_from(["Contact", "m"])), draw(addresses(tag=False))))
    for _ in range(draw(st.integers(0, 3))):
        headers.append((f"X-{draw(tokens)}", draw(texts)))
    headers = draw(st.permutations(headers))
    body = draw(st.binary(max_size=40))
    if with_length:
        headers.append((draw(st.sampled_from(["Content-Length", "l"])), str(len(body))))
    for name, value in headers:
        separator = draw(st.sampled_from([": ", ":", " : ", ":\r\n "]))
        lines.append(f"{name}{separator}{value}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body
    return Generated(
        data, None if is_response else method, status if is_response else None,
        call_id, cseq, len(via_values), body,
    )  # fmt: skip


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_generated_messages_round_trip(generated: Generated) -> None:
    message = parse_datagram(generated.data)
    assert bytes(message) == generated.data
    assert message.call_id == generated.call_id and message.cseq.number == generated.cseq
    assert len(message.vias) == generated.via_count and message.body == generated.body
    if isinstance(message, Request):
        assert message.method == generated.method
    else:
        assert isinstance(message, Response) and message.status == generated.status
    validate(message)
    # The fast path, when it takes the message, builds exactly what the general path builds.
    fast = _parse_common(generated.data)
    if fast is not None:
        general = _parse_general(generated.data)
        assert fast == general
        for field in ("vias", "from_", "to", "call_id", "cseq", "max_forwards", "content_length"):
            assert getattr(fast, field) == getattr(general, field)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages(), min_size=1, max_size=4), st.data())
def test_stream_cut_anywhere_gives_the_same_messages(
    generated: list[Generated], data: st.DataObject
) -> None:
    stream = b"".join(item.data for item in generated)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    parser = StreamParser()
    received: list[bytes] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        if cut > previous:  # an empty feed would mean end of stream
            parser.feed(stream[previous:cut])
        previous = cut
        received += [bytes(event) for event in parser if isinstance(event, Request | Response)]
    assert received == [item.data for item in generated]


def exercise(data: bytes) -> None:
    """Everything a peer's octets can reach; only RemoteProtocolError may come out."""
    try:
        message = parse_datagram(data)
    except RemoteProtocolError as exc:
        error_response(data, exc, to_tag="t")
        return
    bytes(message)
    for accessor in (
        "vias", "from_", "to", "call_id", "cseq", "max_forwards", "content_length", "contacts",
        "routes", "record_routes", "content_type", "content_encodings", "expires", "accept",
        "require", "proxy_require", "supported", "unsupported", "allow",
    ):  # fmt: skip
        try:
            getattr(message, accessor)
        except RemoteProtocolError:
            pass
    try:
        validate(message)
    except RemoteProtocolError:
        pass
    if isinstance(message, Request):
        check_request(message, UasCapabilities())
        try:
            message.uri  # noqa: B018 - parsing is the point
        except RemoteProtocolError:
            pass


def exercise_stream(data: bytes) -> None:
    parser = StreamParser(max_message_size=4096)
    for index in range(0, len(data), 7):
        parser.feed(data[index : index + 7])
        try:
            for event in parser:
                if isinstance(event, RejectedMessage):
                    assert event.error.status_hint in (None, 400, 505)
        except RemoteProtocolError:
            return
    parser.feed(b"")
    try:
        list(parser)
    except RemoteProtocolError:
        pass


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_the_protocol_error(data: bytes) -> None:
    exercise(data)
    exercise_stream(data)


def _corpus() -> list[bytes]:
    return [path.read_bytes() for path in sorted(TORTURE.glob("*.dat"))] if TORTURE.is_dir() else []


CORPUS = _corpus()


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.sampled_from(CORPUS) if CORPUS else st.nothing(),
        messages().map(lambda generated: generated.data),
    ),
    st.lists(st.tuples(st.integers(0, 4000), st.binary(min_size=0, max_size=3)), max_size=4),
)
def test_mutated_messages_only_raise_the_protocol_error(
    data: bytes, edits: list[tuple[int, bytes]]
) -> None:
    mutated = bytearray(data)
    for position, replacement in edits:
        position %= len(mutated) + 1
        mutated[position : position + len(replacement)] = replacement
    exercise(bytes(mutated))
    exercise_stream(bytes(mutated))
