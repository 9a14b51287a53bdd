"""The UA core of SipEndpoint, driven with raw messages from a scripted peer on a virtual clock."""

from __future__ import annotations

import random

import pytest

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.endpoint import EndpointConfig, SipEndpoint
from gateway.sip.events import (
    AckReceived,
    AckTimeout,
    CancelReceived,
    DialogTerminated,
    EndpointEvent,
    RequestReceived,
    ResponseReceived,
    TransactionFailed,
)
from gateway.sip.message import Request, Response
from gateway.sip.parser import parse_datagram
from gateway.sip.routing import Hop, Transmit
from gateway.sip.timers import TimerConfig
from gateway.sip.uas_checks import UasCapabilities
from gateway.trace import TraceRecorder

US = ("192.0.2.10", 5060)
PEER = ("192.0.2.20", 5070)
SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n"


def message(
    method: str,
    *,
    branch: str = "z9hG4bKpeer1",
    cseq: int = 1,
    cseq_method: str | None = None,
    to_tag: str | None = None,
    from_tag: str = "p1",
    call_id: str = "call-1@peer",
    via: str | None = None,
    extra: str = "",
    body: bytes = b"",
    uri: str = "sip:svc@192.0.2.10",
) -> bytes:
    via = via or f"SIP/2.0/UDP 192.0.2.20:5070;branch={branch}"
    to = "<sip:svc@192.0.2.10>" + (f";tag={to_tag}" if to_tag else "")
    head = (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: {via}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:peer@192.0.2.20>;tag={from_tag}\r\n"
        f"To: {to}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {cseq_method or method}\r\n"
        "Contact: <sip:peer@192.0.2.20:5070>\r\n"
        f"{extra}"
    )
    if body:
        head += "Content-Type: application/sdp\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


class Harness:
    """One endpoint, a scripted peer and a virtual clock."""

    def __init__(self, config: EndpointConfig | None = None, *, tcp: bool = False) -> None:
        self.trace = TraceRecorder()
        self.endpoint = SipEndpoint(config, rng=random.Random(7), trace=self.trace)
        self.endpoint.add_listener("udp", US)
        if tcp:
            self.endpoint.add_listener("tcp", US)
        self.now = 0.0
        self.sent: list[tuple[float, Transmit]] = []

    def deliver(self, data: bytes, source: tuple[str, int] = PEER) -> None:
        self.endpoint.receive_datagram(data, source, self.now, local=US)
        self.collect()

    def collect(self) -> None:
        for item in self.endpoint.datagrams_to_send(self.now):
            self.sent.append((self.now, item))

    def events(self) -> list[EndpointEvent]:
        found = []
        while (event := self.endpoint.next_event()) is not None:
            found.append(event)
        return found

    def advance(self, until: float) -> None:
        while True:
            deadline = self.endpoint.get_timer()
            if deadline is None or deadline > until:
                break
            self.now = deadline
            self.endpoint.handle_timer(deadline)
            self.collect()
        self.now = until

    def responses(self, status: int | None = None) -> list[Response]:
        found = []
        for _, item in self.sent:
            try:
                parsed = parse_datagram(item.data) if item.data else None
            except RemoteProtocolError:
                continue  # an answer to garbage copies the garbage's headers
            if isinstance(parsed, Response) and (status is None or parsed.status == status):
                found.append(parsed)
        return found

    def statuses(self) -> list[int]:
        return [int(item.data[8:11]) for _, item in self.sent if item.data.startswith(b"SIP/2.0 ")]

    def requests(self, method: str) -> list[Request]:
        found = []
        for _, item in self.sent:
            parsed = parse_datagram(item.data) if item.data else None
            if isinstance(parsed, Request) and parsed.method == method:
                found.append(parsed)
        return found

    def times(self, status: int) -> list[float]:
        return [
            round(t, 6)
            for t, item in self.sent
            if item.data.startswith(f"SIP/2.0 {status} ".encode())
        ]

    def incoming(self, data: bytes) -> RequestReceived:
        self.deliver(data)
        (event,) = self.events()
        assert isinstance(event, RequestReceived)
        return event


def answered_call(h: Harness) -> RequestReceived:
    event = h.incoming(message("INVITE", body=SDP))
    h.endpoint.respond(event.transaction, 200, h.now, body=SDP, content_type="application/sdp")
    h.collect()
    return event


# -- UAS: 2xx, ACK, BYE ------------------------------------------------------------------------


def test_invite_answered_and_2xx_retransmitted_until_the_ack_rfc3261_13_3_1_4() -> None:
    h = Harness()
    event = answered_call(h)
    assert event.dialog is None and event.source == PEER and event.transport == "udp"
    (ok,) = h.responses(200)
    assert ok.to_tag is not None and ok.contact is not None
    assert ok.contact.uri_text == "sip:192.0.2.10:5060"
    h.advance(5.0)
    assert h.times(200) == [0.0, 0.5, 1.5, 3.5]
    ack = message("ACK", to_tag=ok.to_tag, branch="z9hG4bKack1")
    h.deliver(ack)
    (acked,) = h.events()
    assert isinstance(acked, AckReceived) and acked.dialog is not None
    h.advance(20.0)
    assert h.times(200) == [0.0, 0.5, 1.5, 3.5]
    h.deliver(ack)  # a retransmitted ACK is absorbed
    assert h.events() == []
    assert any(e.direction == "drop" and "ACK" in e.summary for e in h.trace.events)


def test_2xx_never_acked_reports_ack_timeout_at_64_t1() -> None:
    h = Harness()
    answered_call(h)
    h.advance(40.0)
    assert h.times(200) == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    (event,) = h.events()
    assert isinstance(event, AckTimeout)
    assert h.endpoint.dialog(event.dialog) is not None  # confirmed; the TU sends BYE


def test_retransmitted_invite_after_2xx_is_absorbed_rfc6026() -> None:
    h = Harness()
    answered_call(h)
    h.now = 0.2
    h.deliver(message("INVITE", body=SDP))
    assert h.events() == []
    assert h.times(200) == [0.0]


def test_bye_ends_the_dialog_and_a_second_bye_gets_481() -> None:
    h = Harness()
    answered_call(h)
    (ok,) = h.responses(200)
    h.deliver(message("ACK", to_tag=ok.to_tag, branch="z9hG4bKack"))
    h.events()
    bye = h.incoming(message("BYE", cseq=2, to_tag=ok.to_tag, branch="z9hG4bKbye"))
    assert bye.dialog is not None and h.endpoint.dialog(bye.dialog) is not None
    h.endpoint.respond(bye.transaction, 200, h.now)
    assert h.endpoint.dialog(bye.dialog) is None
    h.deliver(message("BYE", cseq=3, to_tag=ok.to_tag, branch="z9hG4bKbye2"))
    assert h.events() == []
    assert [r.status for r in h.responses() if r.cseq.method == "BYE"] == [200, 481]


def test_retransmitted_bye_gets_the_same_200_from_the_transaction() -> None:
    h = Harness()
    answered_call(h)
    (ok,) = h.responses(200)
    bye_data = message("BYE", cseq=2, to_tag=ok.to_tag, branch="z9hG4bKbye")
    bye = h.incoming(bye_data)
    h.endpoint.respond(bye.transaction, 200, h.now)
    h.collect()
    h.now = 1.0
    h.deliver(bye_data)
    assert h.events() == []
    assert [r.status for r in h.responses() if r.cseq.method == "BYE"] == [200, 200]


def test_out_of_order_cseq_in_a_dialog_gets_500() -> None:
    h = Harness()
    answered_call(h)
    (ok,) = h.responses(200)
    info = h.incoming(message("INFO", cseq=5, to_tag=ok.to_tag, branch="z9hG4bKi1"))
    h.endpoint.respond(info.transaction, 200, h.now)
    h.deliver(message("INFO", cseq=4, to_tag=ok.to_tag, branch="z9hG4bKi2"))
    assert h.events() == []
    assert [r.status for r in h.responses() if r.cseq.method == "INFO"] == [200, 500]


def test_bye_in_an_early_dialog_answers_the_invite_with_487_rfc3261_15_1_2() -> None:
    h = Harness()
    event = h.incoming(message("INVITE", body=SDP))
    ringing = h.endpoint.respond(event.transaction, 180, h.now)
    bye = h.incoming(message("BYE", cseq=2, to_tag=ringing.to_tag, branch="z9hG4bKbye"))
    h.endpoint.respond(bye.transaction, 200, h.now)
    h.collect()
    assert [r.status for r in h.responses()] == [180, 487, 200]
    (terminated,) = h.events()
    assert isinstance(terminated, DialogTerminated)


# -- CANCEL -----------------------------------------------------------------------------------


def test_cancel_gets_200_and_the_invite_487_rfc3261_9_2() -> None:
    h = Harness()
    event = h.incoming(message("INVITE", body=SDP))
    h.endpoint.respond(event.transaction, 180, h.now)
    h.deliver(message("CANCEL"))
    (cancelled,) = h.events()
    assert isinstance(cancelled, CancelReceived) and cancelled.transaction == event.transaction
    statuses = [(r.status, r.cseq.method) for r in h.responses()]
    assert statuses == [(180, "INVITE"), (200, "CANCEL"), (487, "INVITE")]
    # The 487 is retransmitted until its ACK, which the INVITE transaction absorbs.
    (final,) = h.responses(487)
    h.advance(0.6)
    assert h.times(487) == [0.0, 0.5]
    h.deliver(message("ACK", to_tag=final.to_tag))
    h.advance(10.0)
    assert h.times(487) == [0.0, 0.5] and h.events() == []
    with pytest.raises(LocalProtocolError):
        h.endpoint.respond(event.transaction, 200, h.now)


def test_cancel_for_an_unknown_transaction_gets_481_and_after_the_final_has_no_effect() -> None:
    h = Harness()
    h.deliver(message("CANCEL", branch="z9hG4bKnothing"))
    assert h.events() == [] and [r.status for r in h.responses()] == [481]
    answered_call(h)
    h.deliver(message("CANCEL"))
    assert h.events() == []
    assert [r.status for r in h.responses() if r.cseq.method == "CANCEL"] == [481, 200]
    assert h.responses(487) == []


# -- rejections -------------------------------------------------------------------------------


def test_merged_request_gets_482_rfc3261_8_2_2_2() -> None:
    h = Harness()
    h.incoming(message("INVITE", body=SDP))
    h.deliver(message("INVITE", body=SDP, branch="z9hG4bKotherpath"))
    assert h.events() == []
    (merged,) = h.responses(482)
    assert merged.via.branch == "z9hG4bKotherpath"


def test_request_for_an_unknown_dialog_gets_481_and_an_unknown_ack_is_dropped() -> None:
    h = Harness()
    h.deliver(message("INFO", to_tag="nosuch", branch="z9hG4bKinfo"))
    h.deliver(message("ACK", to_tag="nosuch", branch="z9hG4bKack"))
    assert h.events() == []
    assert [r.status for r in h.responses()] == [481]
    drops = [e.summary for e in h.trace.events if e.direction == "drop"]
    assert "ACK matches no dialog or transaction" in drops


def test_unknown_method_gets_501_and_a_disallowed_one_405_with_allow() -> None:
    h = Harness()
    h.deliver(message("FROBNICATE", branch="z9hG4bKf"))
    h.deliver(message("SUBSCRIBE", branch="z9hG4bKs"))
    assert h.events() == []
    statuses = [(r.status, r.headers.get("allow")) for r in h.responses()]
    allow = "ACK, BYE, CANCEL, INFO, INVITE, OPTIONS, UPDATE"
    assert statuses == [(501, allow), (405, allow)]


def test_capabilities_decide_what_the_ua_accepts() -> None:
    config = EndpointConfig(capabilities=UasCapabilities.of(methods=["REGISTER", "OPTIONS"]))
    h = Harness(config)
    h.incoming(message("REGISTER", branch="z9hG4bKreg"))
    h.deliver(message("INVITE", branch="z9hG4bKinv", body=SDP))
    assert [r.status for r in h.responses()] == [405]


def test_unparsable_requests_get_the_parser_status_and_are_traced() -> None:
    h = Harness()
    bad_version = message("OPTIONS").replace(b"SIP/2.0\r\n", b"SIP/7.0\r\n", 1)
    h.deliver(bad_version)
    no_cseq = message("OPTIONS", branch="z9hG4bKx").replace(b"CSeq: 1 OPTIONS\r\n", b"")
    h.deliver(no_cseq)
    assert h.statuses() == [505, 400]
    drops = [e for e in h.trace.events if e.direction == "drop"]
    assert len(drops) == 2 and drops[0].summary.startswith("rejected with 505")
    assert drops[0].raw == bad_version and drops[0].remote == PEER and drops[0].transport == "udp"


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\r\n\r\n",
        b"\x00\xff garbage",
        b"SIP/2.0 200 OK\r\n\r\n",
        b"INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n",
        b"SIP/2.0 999999 What\r\nVia: SIP/2.0/UDP 192.0.2.10\r\n\r\n",
    ],
)
def test_garbage_on_the_wire_never_breaks_the_endpoint(garbage: bytes) -> None:
    h = Harness()
    h.deliver(garbage)
    assert h.events() == []
    assert all(not item.data.startswith(b"SIP/2.0 2") for _, item in h.sent)
    answered_call(h)  # still works
    assert h.responses(200)


@pytest.mark.parametrize(
    "cseq", [b"CSeq: 1 INV<>ITE\r\n", b"CSeq: 4 1 OPTIONS\r\n", b"CSeq: 1\r\n", b"CSeq: x\r\n"]
)
def test_a_broken_cseq_gets_400_with_the_cseq_copied(cseq: bytes) -> None:
    """Found by fuzzing: tracing our 400 read the copied, broken CSeq and raised."""
    h = Harness()
    bad = message("OPTIONS", branch="z9hG4bKbad").replace(b"CSeq: 1 OPTIONS\r\n", cseq)
    h.deliver(bad)
    bad_twice = message("OPTIONS", branch="z9hG4bKtwo").replace(
        b"CSeq: 1 OPTIONS\r\n", b"CSeq: 1 OPTIONS\r\nCSeq: 2 OPTIONS\r\n"
    )
    h.deliver(bad_twice)
    assert h.statuses() == [400, 400]
    assert cseq in h.sent[0][1].data
    outgoing = [e.summary for e in h.trace.events if e.direction == "out"]
    assert outgoing == ["400 Bad Request (CSeq?)", "400 Bad Request (CSeq?)"]
    answered_call(h)  # and the endpoint goes on
    assert h.responses(200)


def test_malformed_lazily_parsed_header_gets_400() -> None:
    h = Harness()
    h.deliver(message("OPTIONS", extra="Require: bad tag\r\n"))
    assert h.events() == []
    assert [r.status for r in h.responses()] == [400]


def test_stray_response_and_multi_via_response_are_dropped_with_a_trace() -> None:
    h = Harness()
    stray = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnever\r\n"
        b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: stray\r\n"
        b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    h.deliver(stray)
    two_vias = stray.replace(b"Via:", b"Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKo\r\nVia:", 1)
    h.deliver(two_vias)
    assert h.events() == [] and h.sent == []
    drops = [e.summary for e in h.trace.events if e.direction == "drop"]
    assert drops == ["response matches no transaction", "response with more than one Via"]


# -- RFC 3581 and response routing ------------------------------------------------------------


def test_rport_sends_responses_to_the_source_port_and_stamps_received() -> None:
    h = Harness()
    data = message("OPTIONS", via="SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKnat;rport")
    h.deliver(data, source=("203.0.113.7", 40000))
    event = h.events()[0]
    assert isinstance(event, RequestReceived)
    assert event.request.via.received == "203.0.113.7" and event.request.via.rport == 40000
    h.endpoint.respond(event.transaction, 200, h.now)
    h.collect()
    (_, item) = h.sent[0]
    assert item.destination == ("203.0.113.7", 40000) and item.local == US
    assert parse_datagram(item.data).via.rport == 40000  # type: ignore[union-attr]


def test_without_rport_responses_go_to_the_received_address_and_sent_by_port() -> None:
    h = Harness()
    h.deliver(
        message("OPTIONS", via="SIP/2.0/UDP 10.0.0.5:5080;branch=z9hG4bKno"),
        source=("203.0.113.7", 40000),
    )
    (event,) = h.events()
    assert isinstance(event, RequestReceived)
    assert event.request.via.received == "203.0.113.7"
    h.endpoint.respond(event.transaction, 200, h.now)
    h.collect()
    assert h.sent[0][1].destination == ("203.0.113.7", 5080)


# -- UAC --------------------------------------------------------------------------------------


def uac_invite(h: Harness) -> tuple[Request, object]:
    request = h.endpoint.new_request(
        "INVITE",
        "sip:svc@192.0.2.20:5070",
        from_="<sip:gw@192.0.2.10>",
        to="<sip:svc@192.0.2.20>",
        body=SDP,
        content_type="application/sdp",
    )
    transaction = h.endpoint.send_request(request, h.now)
    h.collect()
    (sent,) = h.requests("INVITE")
    return sent, transaction


def reply(h: Harness, request: Request, status: int, tag: str | None, extra: str = "") -> None:
    response = Response.for_request(
        request,
        status,
        to_tag=tag,
        extra_headers=[("Contact", f"<sip:svc@192.0.2.20:5070>{extra}")],
    )
    h.deliver(bytes(response))


def test_uac_call_forked_into_two_dialogs_each_acked_and_acks_resent_on_2xx_retransmission() -> (
    None
):
    h = Harness()
    invite, _ = uac_invite(h)
    assert invite.via.rport_requested and invite.via.is_rfc3261_branch
    assert invite.contact is not None and h.endpoint.dialog_count == 0
    reply(h, invite, 180, "fork1")
    reply(h, invite, 180, "fork2")
    reply(h, invite, 200, "fork1")
    reply(h, invite, 200, "fork2")
    events = h.events()
    assert [type(e) for e in events] == [ResponseReceived] * 4
    dialogs = [e.dialog for e in events if isinstance(e, ResponseReceived)]
    assert dialogs[0] == dialogs[2] and dialogs[1] == dialogs[3] and dialogs[0] != dialogs[1]
    for dialog in dialogs[2:]:
        assert dialog is not None
        h.endpoint.send_ack(dialog, h.now)
        h.collect()
    reply(h, invite, 200, "fork1")  # retransmission: the ACK again, no event
    assert h.events() == []
    acks = h.requests("ACK")
    assert [a.to_tag for a in acks] == ["fork1", "fork2", "fork1"]
    assert acks[0].cseq.number == invite.cseq.number and acks[0].via.branch != invite.via.branch


def test_uac_2xx_retransmitted_after_our_bye_is_acked_and_does_not_revive_the_dialog() -> None:
    h = Harness()
    invite, _ = uac_invite(h)
    reply(h, invite, 200, "callee")
    (answer,) = h.events()
    assert isinstance(answer, ResponseReceived) and answer.dialog is not None
    h.endpoint.send_ack(answer.dialog, h.now)
    h.endpoint.send_in_dialog(answer.dialog, "BYE", h.now)
    h.collect()
    assert h.endpoint.dialog_count == 0
    h.now += 1.0
    reply(h, invite, 200, "callee")  # our ACK was lost: the callee retransmits its 2xx
    assert h.events() == []  # absorbed by the INVITE transaction (RFC 6026 Accepted)
    assert h.endpoint.dialog_count == 0
    assert [a.to_tag for a in h.requests("ACK")] == ["callee", "callee"]


def test_uac_cancel_before_any_provisional_is_held_until_one_arrives_rfc3261_9_1() -> None:
    h = Harness()
    invite, transaction = uac_invite(h)
    assert h.endpoint.cancel(transaction, h.now) is not None  # type: ignore[arg-type]
    h.collect()
    assert h.requests("CANCEL") == []
    reply(h, invite, 180, "t1")
    (cancel,) = h.requests("CANCEL")
    assert cancel.via.branch == invite.via.branch
    reply(h, invite, 487, "t1")
    events = h.events()
    assert [e.response.status for e in events if isinstance(e, ResponseReceived)] == [180, 487]
    (ack,) = h.requests("ACK")
    assert ack.via.branch == invite.via.branch  # the ACK of a non-2xx is in the transaction
    assert h.endpoint.dialog_count == 0  # the early dialog died with the 487
    assert h.endpoint.cancel(transaction, h.now) is None  # type: ignore[arg-type]


def test_uac_request_timeout_is_reported_as_408_and_transport_error_as_503() -> None:
    h = Harness()
    uac_invite(h)
    h.advance(40.0)
    (failed,) = h.events()
    assert isinstance(failed, TransactionFailed) and failed.status == 408
    assert failed.call_id == h.requests("INVITE")[0].call_id
    request = h.endpoint.new_request(
        "OPTIONS", "sip:svc@192.0.2.20:5070", from_="<sip:gw@192.0.2.10>", to="<sip:svc@x>"
    )
    h.endpoint.send_request(request, h.now)
    h.endpoint.transport_error(("192.0.2.20", 5070), h.now, "host unreachable")
    (failed,) = h.events()
    assert isinstance(failed, TransactionFailed) and failed.status == 503


def test_uac_in_dialog_481_terminates_the_dialog_rfc3261_12_2_1_2() -> None:
    h = Harness()
    invite, _ = uac_invite(h)
    reply(h, invite, 200, "t1")
    (answered,) = h.events()
    assert isinstance(answered, ResponseReceived) and answered.dialog is not None
    h.endpoint.send_ack(answered.dialog, h.now)
    h.endpoint.send_in_dialog(answered.dialog, "INFO", h.now, body=b"x", content_type="text/plain")
    h.collect()
    (info,) = h.requests("INFO")
    assert info.cseq.number == invite.cseq.number + 1 and info.uri_text == "sip:svc@192.0.2.20:5070"
    h.deliver(bytes(Response.for_request(info, 481)))
    events = h.events()
    assert [type(e) for e in events] == [ResponseReceived, DialogTerminated]
    assert h.endpoint.dialog(answered.dialog) is None
    with pytest.raises(LocalProtocolError):
        h.endpoint.send_in_dialog(answered.dialog, "BYE", h.now)


def test_uac_reinvite_refreshes_the_target_and_its_ack_carries_the_new_cseq() -> None:
    h = Harness()
    invite, _ = uac_invite(h)
    reply(h, invite, 200, "t1")
    (answered,) = h.events()
    assert isinstance(answered, ResponseReceived) and answered.dialog is not None
    dialog_id = answered.dialog
    h.endpoint.send_ack(dialog_id, h.now)
    h.endpoint.send_in_dialog(dialog_id, "INVITE", h.now, body=SDP, content_type="application/sdp")
    h.collect()
    reinvite = h.requests("INVITE")[1]
    assert reinvite.to_tag == "t1" and reinvite.contact is not None
    ok = Response.for_request(reinvite, 200, extra_headers=[("Contact", "<sip:svc@192.0.2.21>")])
    h.deliver(bytes(ok))
    (event,) = h.events()
    assert isinstance(event, ResponseReceived) and event.dialog == dialog_id
    dialog = h.endpoint.dialog(dialog_id)
    assert dialog is not None and dialog.remote_target == "sip:svc@192.0.2.21"
    h.endpoint.send_ack(dialog_id, h.now)
    h.collect()
    ack = h.requests("ACK")[-1]
    assert ack.cseq.number == reinvite.cseq.number and ack.uri_text == "sip:svc@192.0.2.21"
    assert h.sent[-1][1].destination == ("192.0.2.21", 5060)


def test_uac_bye_follows_the_record_route_set() -> None:
    h = Harness()
    invite, _ = uac_invite(h)
    response = Response.for_request(
        invite,
        200,
        to_tag="t1",
        extra_headers=[
            ("Record-Route", "<sip:192.0.2.30;lr>"),
            ("Record-Route", "<sip:192.0.2.31;lr>"),
            ("Contact", "<sip:svc@192.0.2.20:5070>"),
        ],
    )
    h.deliver(bytes(response))
    (answered,) = h.events()
    assert isinstance(answered, ResponseReceived) and answered.dialog is not None
    h.endpoint.send_in_dialog(answered.dialog, "BYE", h.now)
    h.collect()
    (bye,) = h.requests("BYE")
    assert bye.headers.get_all("route") == ["<sip:192.0.2.31;lr>", "<sip:192.0.2.30;lr>"]
    assert h.sent[-1][1].destination == ("192.0.2.31", 5060)
    assert h.endpoint.dialog(answered.dialog) is None  # BYE ends the dialog at once


def test_new_request_needs_a_numeric_destination_or_an_explicit_hop() -> None:
    h = Harness()
    request = h.endpoint.new_request(
        "OPTIONS", "sip:svc@example.com", from_="<sip:gw@192.0.2.10>", to="<sip:svc@example.com>"
    )
    with pytest.raises(LocalProtocolError):
        h.endpoint.send_request(request, h.now)
    h.endpoint.send_request(request, h.now, destination=Hop("udp", ("192.0.2.50", 5060)))
    h.collect()
    assert h.sent[0][1].destination == ("192.0.2.50", 5060)


# -- TCP --------------------------------------------------------------------------------------


def test_tcp_stream_framed_byte_by_byte_and_answered_on_the_same_connection() -> None:
    h = Harness(tcp=True)
    endpoint = h.endpoint
    connection = endpoint.connection_accepted(PEER, US, h.now)
    data = message("OPTIONS", via="SIP/2.0/TCP 192.0.2.20:5070;branch=z9hG4bKtcp")
    for index in range(len(data)):
        endpoint.receive_data(connection, data[index : index + 1], h.now)
    (event,) = h.events()
    assert isinstance(event, RequestReceived) and event.transport == "tcp"
    endpoint.respond(event.transaction, 200, h.now)
    endpoint.receive_data(connection, b"\r\n\r\n", h.now)  # a keep-alive ping
    h.collect()
    items = [item for _, item in h.sent]
    assert [(i.transport, i.connection) for i in items] == [("tcp", connection)] * 2
    assert items[1].data == b"\r\n"  # the pong (RFC 5626 4.4.1)
    # Timer J is zero on TCP: the transaction is gone at once.
    assert endpoint.transaction_count == 0


def test_tcp_truncated_stream_is_traced_and_framing_errors_close_the_connection() -> None:
    h = Harness(tcp=True)
    endpoint = h.endpoint
    first = endpoint.connection_accepted(PEER, US, h.now)
    endpoint.receive_data(first, message("OPTIONS")[:60], h.now)
    endpoint.receive_data(first, b"", h.now)
    second = endpoint.connection_accepted(("192.0.2.21", 4000), US, h.now)
    endpoint.receive_data(second, b"OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\n", h.now)
    h.collect()
    assert h.events() == []
    closes = [item.connection for _, item in h.sent if item.close]
    assert closes == [first, second]
    drops = [e.summary for e in h.trace.events if e.direction == "drop"]
    assert len(drops) == 2 and all("framing" in d or "closed" in d for d in drops)


def test_large_request_switches_to_tcp_rfc3261_18_1_1() -> None:
    h = Harness(tcp=True)
    big = b"a=x-padding:" + b"x" * 1400 + b"\r\n"
    request = h.endpoint.new_request(
        "INVITE",
        "sip:svc@192.0.2.20:5070",
        from_="<sip:gw@192.0.2.10>",
        to="<sip:svc@192.0.2.20>",
        body=SDP + big,
        content_type="application/sdp",
    )
    h.endpoint.send_request(request, h.now)
    h.collect()
    (_, item) = h.sent[0]
    assert item.transport == "tcp" and item.connection is not None
    assert b"Via: SIP/2.0/TCP 192.0.2.10:5060;" in item.data
    h.endpoint.connection_lost(item.connection, h.now, "connection refused")
    (failed,) = h.events()
    assert isinstance(failed, TransactionFailed) and failed.status == 503


def test_tcp_idle_connections_are_closed() -> None:
    h = Harness(EndpointConfig(timers=TimerConfig(tcp_idle=10.0)), tcp=True)
    connection = h.endpoint.connection_accepted(PEER, US, h.now)
    h.advance(25.0)
    assert [item.connection for _, item in h.sent if item.close] == [connection]


# -- traces -----------------------------------------------------------------------------------


def test_every_message_in_and_out_is_traced_with_addresses_and_call_id() -> None:
    h = Harness()
    answered_call(h)
    in_event, out_event = h.trace.events[:2]
    assert (in_event.direction, in_event.summary) == ("in", "INVITE sip:svc@192.0.2.10")
    assert in_event.remote == PEER and in_event.local == US and in_event.call_id == "call-1@peer"
    assert in_event.raw == message("INVITE", body=SDP)
    assert (out_event.direction, out_event.summary) == ("out", "200 OK (INVITE)")
    assert out_event.raw == h.sent[0][1].data and out_event.remote == PEER
    assert all(e.node == "gwemu" and e.protocol == "sip" for e in h.trace.events)
