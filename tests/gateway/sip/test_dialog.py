"""RFC 3261 section 12 dialogs: creation, route sets, requests inside them, CSeq rules."""

from __future__ import annotations

import pytest

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.dialog import CONFIRMED, EARLY, Dialog
from gateway.sip.events import DialogId
from gateway.sip.message import Request, Response
from gateway.sip.uri import SipUri

VIA = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnew"


def invite(
    record_route: tuple[str, ...] = (), contact: str | None = "<sip:alice@192.0.2.1>"
) -> Request:
    headers = [
        ("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv"),
        ("Max-Forwards", "70"),
        ("From", '"Alice" <sip:alice@atlanta.example.com>;tag=a1'),
        ("To", "<sip:bob@biloxi.example.com>"),
        ("Call-ID", "c1@192.0.2.1"),
        ("CSeq", "10 INVITE"),
    ]
    headers += [("Record-Route", value) for value in record_route]
    if contact is not None:
        headers.append(("Contact", contact))
    return Request.build("INVITE", "sip:bob@biloxi.example.com", headers)


def answer(request: Request, status: int, record_route: tuple[str, ...] = ()) -> Response:
    extra = [("Contact", "<sip:bob@192.0.2.2:5070>")]
    extra += [("Record-Route", value) for value in record_route]
    return Response.for_request(request, status, to_tag="b1", extra_headers=extra)


ROUTES = ("<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>")


def test_uac_dialog_from_a_2xx_reverses_the_record_route() -> None:
    request = invite(ROUTES)
    dialog = Dialog.for_uac(request, answer(request, 200, ROUTES), "<sip:alice@192.0.2.1>")
    assert dialog.id == DialogId("c1@192.0.2.1", "a1", "b1")
    assert dialog.state == CONFIRMED and dialog.role == "uac"
    assert dialog.route_set == tuple(reversed(ROUTES))
    assert dialog.remote_target == "sip:bob@192.0.2.2:5070"
    assert (dialog.local_seq, dialog.remote_seq) == (10, None)
    assert dialog.remote_party == "<sip:bob@biloxi.example.com>;tag=b1"


def test_uac_early_dialog_confirms_and_recomputes_the_route_set_from_the_2xx() -> None:
    request = invite()
    dialog = Dialog.for_uac(request, answer(request, 180, ROUTES), "<sip:alice@192.0.2.1>")
    assert dialog.state == EARLY
    dialog.confirm(answer(request, 200, ROUTES[:1]))
    assert dialog.state == CONFIRMED and dialog.route_set == ROUTES[:1]


def test_uas_dialog_keeps_record_route_order_and_starts_with_no_local_cseq() -> None:
    request = invite(ROUTES)
    dialog = Dialog.for_uas(request, "b1", 200, "<sip:bob@192.0.2.2>")
    assert dialog.id == DialogId("c1@192.0.2.1", "b1", "a1")
    assert dialog.route_set == ROUTES
    assert dialog.remote_target == "sip:alice@192.0.2.1"
    assert (dialog.local_seq, dialog.remote_seq) == (None, 10)
    assert dialog.local_party == "<sip:bob@biloxi.example.com>;tag=b1"
    bye = dialog.build_request("BYE", VIA)
    assert bye.cseq.number == 1  # an empty local sequence number starts at 1 (8.1.1.5)


def test_uas_dialog_needs_a_contact_and_a_from_tag() -> None:
    with pytest.raises(RemoteProtocolError) as error:
        Dialog.for_uas(invite(contact=None), "b1", 200, "<sip:bob@192.0.2.2>")
    assert error.value.status_hint == 400


def test_loose_routing_keeps_the_remote_target_as_request_uri() -> None:
    request = invite(ROUTES)
    dialog = Dialog.for_uac(request, answer(request, 200, ROUTES), "<sip:alice@192.0.2.1>")
    bye = dialog.build_request("BYE", VIA)
    assert bye.uri_text == "sip:bob@192.0.2.2:5070"
    assert bye.headers.get_all("route") == list(reversed(ROUTES))
    assert bye.cseq.number == 11 and bye.cseq.method == "BYE"
    assert bye.from_tag == "a1" and bye.to_tag == "b1" and bye.call_id == "c1@192.0.2.1"
    hop = dialog.next_hop_uri()
    assert isinstance(hop, SipUri) and hop.host == "p2.example.com"


def test_strict_routing_puts_the_first_route_in_the_request_uri_rfc3261_12_2_1_1() -> None:
    strict = ("<sip:strict.example.com;transport=udp>", "<sip:p2.example.com;lr>")
    request = invite()
    dialog = Dialog.for_uac(
        request, answer(request, 200, tuple(reversed(strict))), "<sip:alice@192.0.2.1>"
    )
    info = dialog.build_request("INFO", VIA)
    assert info.uri_text == "sip:strict.example.com;transport=udp"
    assert info.headers.get_all("route") == ["<sip:p2.example.com;lr>", "<sip:bob@192.0.2.2:5070>"]
    hop = dialog.next_hop_uri()
    assert isinstance(hop, SipUri) and hop.host == "strict.example.com"


def test_ack_reuses_the_invite_cseq_and_reinvite_carries_contact() -> None:
    request = invite()
    dialog = Dialog.for_uac(request, answer(request, 200), "<sip:alice@192.0.2.1>")
    ack = dialog.build_request("ACK", VIA)
    assert (ack.cseq.number, ack.cseq.method) == (10, "ACK")
    reinvite = dialog.build_request("INVITE", VIA, body=b"v=0\r\n", content_type="application/sdp")
    assert reinvite.cseq.number == 11 and reinvite.contact is not None
    assert dialog.build_request("ACK", VIA).cseq.number == 11
    assert dialog.build_request("BYE", VIA).contact is None


def test_remote_cseq_rule_rfc3261_12_2_2() -> None:
    request = invite()
    dialog = Dialog.for_uas(request, "b1", 200, "<sip:bob@192.0.2.2>")

    def in_dialog(method: str, number: int) -> Request:
        return Request.build(
            method,
            "sip:bob@192.0.2.2",
            [
                ("Via", VIA),
                ("From", "<sip:alice@atlanta.example.com>;tag=a1"),
                ("To", "<sip:bob@biloxi.example.com>;tag=b1"),
                ("Call-ID", "c1@192.0.2.1"),
                ("CSeq", f"{number} {method}"),
            ],
        )

    assert dialog.accept_remote_cseq(in_dialog("INFO", 11))
    assert dialog.remote_seq == 11
    assert not dialog.accept_remote_cseq(in_dialog("INFO", 9))
    assert dialog.accept_remote_cseq(in_dialog("ACK", 10))  # ACK is exempt
    assert dialog.remote_seq == 11


def test_target_refresh_updates_the_remote_target() -> None:
    request = invite()
    dialog = Dialog.for_uac(request, answer(request, 200), "<sip:alice@192.0.2.1>")
    refreshed = Response.for_request(
        request, 200, to_tag="b1", extra_headers=[("Contact", "<sip:bob@192.0.2.9>")]
    )
    dialog.refresh_target(refreshed)
    assert dialog.remote_target == "sip:bob@192.0.2.9"


def test_terminated_dialog_refuses_new_requests() -> None:
    request = invite()
    dialog = Dialog.for_uac(request, answer(request, 200), "<sip:alice@192.0.2.1>")
    dialog.state = "terminated"
    with pytest.raises(LocalProtocolError):
        dialog.build_request("BYE", VIA)
