"""Hostile peers: whatever arrives, a link raises nothing, answers in valid Q.931, and its timers
always run down to an empty call table."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pbx_sim.q931 import (
    ChannelIdentification,
    Message,
    MessageType,
    Q931Link,
    TpktDecoder,
    tpkt_frame,
)

TYPES = [*sorted(int(m) for m in MessageType), 0x00, 0x24, 0x62, 0x7F]
# Octets that make plausible elements: known identifiers, shifts, sending complete, lengths.
ELEMENT_OCTETS = st.sampled_from(
    [0x04, 0x08, 0x14, 0x18, 0x1E, 0x27, 0x28, 0x2C, 0x34, 0x6C, 0x70, 0x79, 0x7E, 0x02,
     0x96, 0x9D, 0xA1, 0xB2, 0x00, 0x01, 0x02, 0x03, 0x80, 0x81, 0x83, 0x88, 0x90, 0xA3]
)


def busy_link(role: str) -> Q931Link:
    """A link with calls in several states for the garbage to land on."""
    link = Q931Link(role)  # type: ignore[arg-type]
    channel = ChannelIdentification.pri(1)
    link.setup(0.0, called="1", channel=channel)
    link.setup(0.0, called="2", channel=channel, sending_complete=False)
    link.data_to_send(0.0)
    return link


@st.composite
def q931_like(draw: st.DrawFn) -> bytes:
    flag = draw(st.booleans())
    value = draw(st.sampled_from([0, 1, 2, 3, 0x7FFF]))
    ref = (value | (0x8000 if flag else 0)).to_bytes(2, "big")
    kind = draw(st.sampled_from(TYPES))
    body = bytes(draw(st.lists(ELEMENT_OCTETS, max_size=24)))
    return b"\x08\x02" + ref + bytes((kind,)) + body


def check_output(link: Q931Link) -> None:
    decoder = TpktDecoder()
    for packet in decoder.feed(link.data_to_send(0.0)):
        Message.parse(packet[4:])  # everything we send is strictly valid Q.931
    assert decoder.failure is None and decoder.buffered == 0


def run_down(link: Q931Link) -> None:
    for _ in range(20):
        deadline = link.get_timer()
        if deadline is None:
            break
        link.handle_timer(deadline)
    check_output(link)
    assert link.get_timer() is None
    while link.next_event() is not None:
        pass


@settings(max_examples=250, deadline=None)
@given(role=st.sampled_from(["user", "network"]), messages=st.lists(q931_like(), max_size=6))
def test_q931_like_garbage(role: str, messages: list[bytes]) -> None:
    link = busy_link(role)
    for message in messages:
        link.receive_data(tpkt_frame(message), 1.0)
        check_output(link)
    assert not link.closed
    run_down(link)


@settings(max_examples=150, deadline=None)
@given(role=st.sampled_from(["user", "network"]), data=st.binary(max_size=120),
       chunk=st.integers(min_value=1, max_value=9))
def test_raw_stream_garbage(role: str, data: bytes, chunk: int) -> None:
    link = busy_link(role)
    for index in range(0, len(data), chunk):
        link.receive_data(data[index : index + chunk], 1.0)
    check_output(link)
    link.receive_data(b"", 2.0)
    assert link.closed and link.calls() == ()
    run_down(link)
