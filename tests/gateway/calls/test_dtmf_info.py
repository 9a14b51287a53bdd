"""Cisco ``dtmf-relay sip-info`` sent: the line's digits leave as in-dialog INFO
(``application/dtmf-relay``), one at a time, and reach the far line in order."""

from __future__ import annotations

from typing import Any

from gateway.calls.commands import DigitFromMedia, SendDigit, StartMedia
from gateway.calls.dialpeer import DialPlan, DtmfRelay, IosCodec, VoipDialPeer
from gateway.calls.media_plan import dtmf_mode_for
from gateway.calls.plan import MediaSettings
from gateway.line import LineDigit
from gateway.line import SendDigit as LineSendDigit
from gateway.sdp.offer_answer import (
    DTMF_EVENTS,
    Capabilities,
    Codec,
    NegotiatedStream,
    create_answer,
    create_offer,
)
from gateway.sip.events import RequestReceived

DIGITS = "159#*0"


def sip_info_bench(bench: Any, a_relay: tuple[DtmfRelay, ...] = (DtmfRelay.SIP_INFO,)) -> Any:
    """GW-A's peer 10 and GW-B's incoming peer 30 relay DTMF as ``a_relay`` / sip-info."""
    probe = bench()
    a_peers = [
        VoipDialPeer(
            10,
            destination_pattern=p.destination_pattern,
            session_target=p.session_target,
            codecs=p.codecs,
            dtmf_relay=a_relay,
        )
        if p.tag == 10
        else p
        for p in probe.a.core.plan.dial_plan.peers
    ]
    b_peers = [
        VoipDialPeer(
            30,
            incoming_called_number=p.incoming_called_number,
            codecs=(IosCodec.G711ULAW,),
            dtmf_relay=(DtmfRelay.SIP_INFO,),
        )
        if p.tag == 30
        else p
        for p in probe.b.core.plan.dial_plan.peers
    ]
    b_media = MediaSettings(
        address="10.0.0.2", port_min=30000, port_max=30199, digits_to_line="signal"
    )
    return bench(
        {"dial_plan": DialPlan(a_peers, probe.a.core.plan.dial_plan.translations)},
        {"dial_plan": DialPlan(b_peers), "media": b_media},
    )


def connect(b: Any) -> None:
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: bool(b.a.core.calls()) and b.a.core.calls()[0].phase == "active", 5)
    b.run(0.1)  # CONNECT ACKNOWLEDGE -> ACK: the dialog is confirmed


def press(b: Any, digits: str) -> None:
    for digit in digits:  # all at one instant: the queue must keep them apart and in order
        b.pbx_a.send(LineDigit("pbx-a", "a1", digit, 160))


def keypad(side: Any) -> list[str]:
    return [c.digit for c in side.commands if isinstance(c, LineSendDigit)]


def test_line_digits_go_out_as_info_one_at_a_time_and_arrive_in_order(bench):
    b = sip_info_bench(bench)
    connect(b)
    (start,) = [m for m in b.a.media if isinstance(m, StartMedia)]
    assert start.dtmf_mode == "sip-info"
    assert b.a.core.calls()[0].dtmf == "sip-info"
    press(b, DIGITS)
    b.run(2.0)
    infos = b.a.messages("out", "INFO")
    assert [m.body for m in infos] == [f"Signal={d}\r\nDuration=160\r\n".encode() for d in DIGITS]
    assert all(m.content_type.mime == "application/dtmf-relay" for m in infos)
    cseqs = [m.cseq.number for m in infos]
    assert cseqs == sorted(cseqs) and len(set(cseqs)) == len(cseqs)
    # One at a time: every INFO after the first leaves after the 200 to the one before.
    journal = [(w, d, label) for (w, d, label) in b.world.journal if w == "gw-a"]
    flow = [(d, label) for (_, d, label) in journal if label.endswith("INFO")]
    assert flow == [("out", "INFO"), ("in", "200/INFO")] * len(DIGITS)
    # Not also in-band or RFC 4733: no digit went to GW-A's bridge.
    assert not [m for m in b.a.media if isinstance(m, SendDigit)]
    assert keypad(b.pbx_b) == list(DIGITS)
    assert [c.duration_ms for c in b.pbx_b.commands if isinstance(c, LineSendDigit)] == [160] * len(
        DIGITS
    )
    b.pbx_a.hang_up("a1")
    b.settle()


def test_digits_keep_their_order_over_a_lossy_reordering_link(bench):
    b = sip_info_bench(bench)
    connect(b)
    b.world.link.hostile(4, loss=0.2, duplicate=0.2, jitter=0.05)
    press(b, DIGITS * 2)
    b.run(30.0)
    assert keypad(b.pbx_b) == list(DIGITS * 2)
    b.world.link.hostile(0, loss=0.0, duplicate=0.0, jitter=0.0)
    b.pbx_a.hang_up("a1")
    b.settle()


def test_rtp_nte_wins_when_telephone_event_was_negotiated(bench):
    b = sip_info_bench(bench, (DtmfRelay.RTP_NTE, DtmfRelay.SIP_INFO))
    # GW-B's incoming peer offers no telephone-event: nothing to negotiate, INFO it is.
    connect(b)
    press(b, "4")
    b.run(1.0)
    assert len(b.a.messages("out", "INFO")) == 1
    b.pbx_a.hang_up("a1")
    b.settle()
    plain = bench()  # both sides rtp-nte: telephone-event negotiated, RFC 4733
    plain.pbx_a.seize("a1", "5551234")
    plain.run(2.0)
    plain.pbx_a.send(LineDigit("pbx-a", "a1", "4"))
    plain.run(1.0)
    assert plain.a.messages("out", "INFO") == []
    assert [m for m in plain.a.media if isinstance(m, SendDigit)] == [
        SendDigit(plain.a.core.calls()[0].call, "4", "rtp", 100)
    ]
    plain.pbx_a.hang_up("a1")
    plain.settle()


def test_a_digit_before_the_answer_is_not_relayed(bench):
    b = sip_info_bench(bench)
    b.pbx_b.behaviour.answer_after = None
    b.pbx_a.seize("a1", "5551234")
    b.run(1.0)
    press(b, "7")
    b.run(1.0)
    assert b.a.messages("out", "INFO") == []
    assert not [m for m in b.a.media if isinstance(m, SendDigit)]
    b.pbx_a.hang_up("a1")
    b.settle()


def test_an_info_refused_moves_on_to_the_next_digit(bench):
    b = sip_info_bench(bench)
    connect(b)
    refused: list[int] = []

    def after_input(now: float) -> None:  # GW-B refuses its first INFO (415), then is itself
        while (event := b.b.endpoint.next_event()) is not None:
            is_info = isinstance(event, RequestReceived) and event.request.method == "INFO"
            if is_info and not refused:
                refused.append(415)
                assert isinstance(event, RequestReceived)
                b.b.endpoint.respond(event.transaction, 415, now)
                continue
            b.b.core.sip_event(event, now)

    b.b.after_input = after_input
    press(b, "12")
    b.run(2.0)
    assert refused == [415]
    assert keypad(b.pbx_b) == ["2"]
    assert any("INFO refused with 415" in n for n in b.a.notices)
    b.pbx_a.hang_up("a1")
    b.settle()


def test_the_mode_follows_the_peer_and_the_negotiation():
    info = VoipDialPeer(1, dtmf_relay=(DtmfRelay.SIP_INFO,))
    both = VoipDialPeer(2, dtmf_relay=(DtmfRelay.RTP_NTE, DtmfRelay.SIP_INFO))
    none = VoipDialPeer(3, dtmf_relay=())
    stream = _stream(telephone_event=False)
    assert dtmf_mode_for(info, stream) == "sip-info"
    assert dtmf_mode_for(both, stream) == "sip-info"
    assert dtmf_mode_for(both, _stream(telephone_event=True)) == "rfc4733"
    assert dtmf_mode_for(none, stream) == "inband"


def _stream(*, telephone_event: bool) -> NegotiatedStream:
    events = DTMF_EVENTS if telephone_event else None
    ours = Capabilities(
        address="10.0.0.1", port=20000, codecs=(Codec("PCMU"),), telephone_event=events
    )
    theirs = Capabilities(
        address="10.0.0.2", port=30000, codecs=(Codec("PCMU"),), telephone_event=events
    )
    answer = create_answer(create_offer(ours, session_id=1), theirs, session_id=2)
    audio = answer.negotiated.audio
    assert audio is not None
    return audio


def test_in_band_digits_caught_on_the_line_go_out_as_info(bench):
    b = sip_info_bench(bench)
    connect(b)
    key = b.a.core.calls()[0].call
    b.a.core.media_event(key, DigitFromMedia("8", "line", "inband", 120), b.world.now)
    b.run(1.0)
    assert [m.body for m in b.a.messages("out", "INFO")] == [b"Signal=8\r\nDuration=120\r\n"]
    assert keypad(b.pbx_b) == ["8"]
    b.pbx_a.hang_up("a1")
    b.settle()
