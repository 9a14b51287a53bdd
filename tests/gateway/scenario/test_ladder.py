"""Ladder extraction: one arrow per message, out/in pairs collapsed, nodes named, details
decoded, retransmissions marked, outside peers shown by address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.scenario.ladder import LadderBuilder, extract_ladder, sdp_codecs
from gateway.trace import TraceEvent


def test_flow_one_becomes_one_arrow_per_message(flow: Callable[..., Any],
                                                flow_one_steps: list[str]) -> None:
    tracer = flow()
    arrows, notes = extract_ladder(tracer.events)
    assert notes == []
    assert len(arrows) == len(flow_one_steps)  # 46 trace events, 23 messages; RTP is no arrow
    texts = [f"{a.source} -> {a.target} {a.name}" for a in arrows]
    assert texts[:4] == ["PBX-A -> GW-A SETUP", "GW-A -> PBX-A CALL PROCEEDING",
                         "GW-A -> GW-B INVITE", "GW-B -> GW-A 100"]
    assert all(a.delivery == "received" and not a.retransmission for a in arrows)
    invite = arrows[2]
    assert invite.label == "INVITE (SDP PCMU,PCMA,101)"
    assert invite.codecs == ("PCMU", "PCMA", "101") and invite.call_id is not None
    assert invite.text.startswith("INVITE sip:5552000@127.0.0.1:40120 SIP/2.0")
    ok = next(a for a in arrows if a.name == "200" and a.cseq_method == "INVITE")
    assert ok.label == "200 OK (SDP PCMU,101)" and ok.status == 200
    bye = next(a for a in arrows if a.name == "BYE")
    assert bye.cause == 16 and bye.label == "BYE cause=16"
    bye_ok = arrows[-3]
    assert bye_ok.label == "200 OK (BYE)" and bye_ok.cseq_method == "BYE"
    alerting = next(a for a in arrows if a.name == "ALERTING" and a.source == "PBX-B")
    assert alerting.progress == (8,) and alerting.label == "ALERTING pi=8"
    disconnect = next(a for a in arrows if a.name == "DISCONNECT")
    assert disconnect.label == "DISCONNECT cause=16" and disconnect.call_ref == 1
    assert "Cause: 16" in disconnect.text  # the decoded elements, for the HTML panel
    assert arrows[0].called == "5552000"


def test_retransmissions_are_marked_and_unreceived_copies_named_by_address(
    flow: Callable[..., Any],
) -> None:
    tracer = flow(retransmit_invite=True)
    arrows, _ = extract_ladder(tracer.events)
    invites = [a for a in arrows if a.name == "INVITE"]
    assert [a.retransmission for a in invites] == [False, True]
    assert invites[1].label.endswith("(retransmission)")
    # The first copy was lost: it is still GW-B's, named from the address GW-B traces.
    assert invites[0].target == "GW-B" and invites[0].delivery == "unknown"
    assert invites[1].delivery == "received"


def test_an_outside_peer_and_a_drop(flow: Callable[..., Any]) -> None:
    tracer = flow()
    garbage = b"OPTIONS sip:x SIP/2.0\r\n\r\n"
    tracer.events.append(TraceEvent(9.0, "GW-B", "sip", "drop", "400: no Via", garbage,
                                    ("127.0.0.1", 40120), ("10.9.8.7", 5060), "udp"))
    arrows, _ = extract_ladder(tracer.events)
    last = arrows[-1]
    assert (last.source, last.target, last.delivery) == ("10.9.8.7:5060", "GW-B", "dropped")
    assert last.name == "?" and last.drop_reason == "400: no Via"


def test_the_live_builder_completes_arrows_when_the_receiver_reports(
    flow: Callable[..., Any],
) -> None:
    tracer = flow()
    builder = LadderBuilder()
    first = builder.feed(tracer.events[0])
    assert first == []  # the sender's sighting waits for the receiver's
    completed = builder.feed(tracer.events[1])
    assert len(completed) == 1 and completed[0].target == "GW-A"
    # An out nobody reports receiving is completed by flush, named from the address book.
    builder.feed(tracer.events[2])
    flushed = builder.flush()
    assert [a.name for a in flushed] == ["CALL PROCEEDING"] and flushed[0].target == "PBX-A"


def test_notes_and_unreadable_bytes() -> None:
    events = [
        TraceEvent(1.0, "PBX-A", "q931", "note", "T303 expired (1) cr=0x0001"),
        TraceEvent(1.1, "PBX-A", "q931", "out", "garbage", b"\x03\x00\x00\x05\xff",
                   ("127.0.0.1", 1), ("127.0.0.1", 2), "tcp"),
    ]
    arrows, notes = extract_ladder(events)
    assert notes[0].text == "T303 expired (1) cr=0x0001" and notes[0].node == "PBX-A"
    assert arrows[0].name == "?" and arrows[0].label == "garbage"
    assert arrows[0].target == "127.0.0.1:2"


def test_sdp_codecs_of_odd_bodies() -> None:
    assert sdp_codecs(b"not sdp") is None
    body = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            b"m=audio 0 RTP/AVP 0\r\n")
    assert sdp_codecs(body) == ()  # a refused stream
