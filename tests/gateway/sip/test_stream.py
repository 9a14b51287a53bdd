from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.message import Request, Response
from gateway.sip.stream import (
    ConnectionClosed,
    Ping,
    Pong,
    RejectedMessage,
    StreamEvent,
    StreamParser,
)

OPTIONS = (
    b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 63104 OPTIONS\r\n"
    b"Content-Length: 4\r\n\r\nbody"
)
RESPONSE = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877\r\n"
    b"To: <sip:bob@biloxi.example.com>;tag=93810874\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 63104 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def drain(parser: StreamParser) -> list[StreamEvent]:
    return list(parser)


def messages(events: list[StreamEvent]) -> list[bytes]:
    return [bytes(event) for event in events if isinstance(event, Request | Response)]


def feed_whole(data: bytes) -> list[StreamEvent]:
    parser = StreamParser()
    parser.feed(data)
    events = drain(parser)
    parser.feed(b"")
    return events + drain(parser)


def feed_bytewise(data: bytes) -> list[StreamEvent]:
    parser = StreamParser()
    events: list[StreamEvent] = []
    for index in range(len(data)):
        parser.feed(data[index : index + 1])
        events.extend(parser)
    parser.feed(b"")
    return events + drain(parser)


def test_whole_and_byte_at_a_time_give_the_same_messages() -> None:
    stream = OPTIONS + RESPONSE + OPTIONS
    whole = feed_whole(stream)
    assert [type(event) for event in whole] == [Request, Response, Request, ConnectionClosed]
    assert messages(whole) == [OPTIONS, RESPONSE, OPTIONS]
    assert messages(feed_bytewise(stream)) == messages(whole)


def test_torture_messages_over_a_stream(corpora: Path) -> None:
    base = corpora / "rfc4475-torture" / "dat"
    names = ["wsinv.dat", "mpart01.dat", "longreq.dat", "noreason.dat", "esc01.dat", "unreason.dat"]
    data = [(base / name).read_bytes() for name in names]
    stream = b"".join(data)
    assert messages(feed_whole(stream)) == data
    assert messages(feed_bytewise(stream)) == data


def test_keepalives() -> None:
    events = feed_whole(b"\r\n\r\n" + OPTIONS + b"\r\n" + RESPONSE + b"\r\n\r\n\r\n")
    kinds = [type(event) for event in events]
    assert kinds == [Ping, Request, Pong, Response, Ping, Pong, ConnectionClosed]


def test_a_ping_split_across_reads_is_still_a_ping() -> None:
    parser = StreamParser()
    parser.feed(b"\r\n")
    assert drain(parser) == [Pong()]  # a client waiting for its pong sees it at once
    parser.feed(b"\r\n")
    assert drain(parser) == [Ping()]  # ...and a server still answers the ping
    parser.feed(b"\r\n\r")
    assert drain(parser) == []  # could become a ping: wait
    parser.feed(b"\n")
    assert drain(parser) == [Ping()]


def test_stray_line_feeds_are_skipped_but_bare_cr_is_garbage() -> None:
    assert messages(feed_whole(b"\n\n" + OPTIONS)) == [OPTIONS]
    parser = StreamParser()
    parser.feed(b"\r\n\rX")
    assert parser.next_event() == Pong()
    with pytest.raises(RemoteProtocolError, match="bare CR"):
        parser.next_event()


def test_content_length_is_mandatory_on_streams() -> None:
    parser = StreamParser()
    parser.feed(OPTIONS.replace(b"Content-Length: 4\r\n", b""))
    with pytest.raises(RemoteProtocolError, match="Content-Length") as caught:
        parser.next_event()
    assert caught.value.status_hint == 400 and parser.dead
    with pytest.raises(RemoteProtocolError):
        parser.next_event()  # dead for good
    assert parser.error is caught.value
    parser.feed(OPTIONS)  # ignored: nothing more is parsed on a dead stream
    assert parser.buffered == 0


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (OPTIONS.replace(b"Content-Length: 4", b"Content-Length: -4"), 400),
        (OPTIONS.replace(b"Content-Length: 4", b"Content-Length: 4\r\nl: 4"), 400),
        (b"NOT A SIP MESSAGE\r\nbad header line\r\n\r\n", 400),
        (RESPONSE.replace(b"Content-Length: 0", b"Content-Length: x"), None),
    ],
)
def test_framing_errors_kill_the_stream(data: bytes, status: int | None) -> None:
    parser = StreamParser()
    parser.feed(data)
    with pytest.raises(RemoteProtocolError) as caught:
        parser.next_event()
    assert caught.value.status_hint == status and parser.dead


def test_oversized_messages() -> None:
    parser = StreamParser(max_message_size=200)
    parser.feed(OPTIONS)  # 280 octets of header
    with pytest.raises(RemoteProtocolError) as caught:
        parser.next_event()
    assert caught.value.status_hint == 513
    parser = StreamParser(max_message_size=300)
    parser.feed(OPTIONS.replace(b"Content-Length: 4", b"Content-Length: 9000"))
    with pytest.raises(RemoteProtocolError) as caught:
        parser.next_event()
    assert caught.value.status_hint == 413
    parser = StreamParser(max_message_size=100)
    parser.feed(b"INVITE sip:a@b SIP/2.0\r\n" + b"X-Long: " + b"x" * 200)  # no end in sight
    with pytest.raises(RemoteProtocolError) as caught:
        parser.next_event()
    assert caught.value.status_hint == 513
    with pytest.raises(LocalProtocolError):
        StreamParser(max_message_size=10)


def test_a_bad_message_with_sound_framing_is_rejected_and_the_stream_goes_on() -> None:
    bad = OPTIONS.replace(b"CSeq: 63104 OPTIONS", b"CSeq: 63104 INVITE")
    events = feed_whole(bad + OPTIONS)
    assert isinstance(events[0], RejectedMessage)
    assert events[0].data == bad and events[0].error.status_hint == 400
    assert messages(events) == [OPTIONS]
    response = RESPONSE.replace(b"CSeq: 63104 OPTIONS", b"CSeq: 99999999999 OPTIONS")
    rejected = feed_whole(response)[0]
    assert isinstance(rejected, RejectedMessage) and rejected.error.status_hint is None


def test_end_of_stream() -> None:
    parser = StreamParser()
    parser.feed(OPTIONS[:50])
    assert parser.next_event() is None and parser.buffered == 50
    parser.feed(b"")
    with pytest.raises(RemoteProtocolError, match="closed in the middle") as caught:
        parser.next_event()
    assert caught.value.status_hint is None
    parser = StreamParser()
    parser.feed(OPTIONS[:-2])
    parser.feed(b"")
    with pytest.raises(RemoteProtocolError, match="closed in the middle"):
        parser.next_event()
    parser = StreamParser()
    parser.feed(b"")
    assert drain(parser) == [ConnectionClosed()]
    assert parser.next_event() is None  # reported once
    parser.feed(b"")  # closing twice is harmless
    with pytest.raises(LocalProtocolError):
        parser.feed(b"more")


def test_lf_only_messages_on_a_stream() -> None:
    lf = OPTIONS.replace(b"\r\n", b"\n")
    assert messages(feed_whole(lf)) == [lf]
    assert messages(feed_bytewise(lf + lf)) == [lf, lf]
