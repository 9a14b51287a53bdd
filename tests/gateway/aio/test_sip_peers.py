"""The call logic of ``gwemu sip uas`` / ``uac`` driven sans-IO on a virtual clock."""

from __future__ import annotations

import gc
import random
from collections.abc import Callable

from gateway.aio.sip_peers import Answerer, CallRecord
from gateway.aio.sip_uac_peer import UacOptions, UacPeer
from gateway.aio.sip_uas_peer import UasOptions, UasPeer
from gateway.sip.endpoint import EndpointConfig, SipEndpoint
from gateway.sip.events import AckReceived, EndpointEvent, ResponseReceived
from gateway.sip.routing import Hop

UAC = ("10.0.0.1", 5060)
UAS = ("10.0.0.2", 5060)


class Sim:
    """Two endpoints joined by a perfect link; applications on both; a virtual clock."""

    def __init__(self, uas_options: UasOptions, uac_options: UacOptions | None = None) -> None:
        self.now = 0.0
        self.uas_records: list[CallRecord] = []
        self.uac_records: list[CallRecord] = []
        self.uac_endpoint = SipEndpoint(EndpointConfig(node="uac"), rng=random.Random(1))
        self.uas_endpoint = SipEndpoint(EndpointConfig(node="uas"), rng=random.Random(2))
        self.uac_endpoint.add_listener("udp", UAC)
        self.uas_endpoint.add_listener("udp", UAS)
        self.uas = UasPeer(self.uas_endpoint, uas_options, self.uas_records.append)
        options = uac_options or UacOptions(
            "sip:svc@10.0.0.2", Hop("udp", UAS), calls=3, rate=10.0, hold=2.0
        )
        self.uac = UacPeer(self.uac_endpoint, options, self.uac_records.append)
        self.apps: list[tuple[SipEndpoint, object, tuple[str, int]]] = [
            (self.uac_endpoint, self.uac, UAC),
            (self.uas_endpoint, self.uas, UAS),
        ]
        self.seen: list[EndpointEvent] = []

    def flush(self) -> None:
        moved = True
        while moved:
            moved = False
            for endpoint, app, address in self.apps:
                while (event := endpoint.next_event()) is not None:
                    self.seen.append(event)
                    app.handle_event(event, self.now)  # type: ignore[attr-defined]
                for item in endpoint.datagrams_to_send(self.now):
                    target = self.uas_endpoint if item.destination == UAS else self.uac_endpoint
                    target.receive_datagram(item.data, address, self.now, local=item.destination)
                    moved = True

    def run(self, until: float = 200.0) -> None:
        self.flush()
        while self.now < until:
            deadlines = [
                t
                for endpoint, app, _ in self.apps
                for t in (endpoint.get_timer(), app.get_timer())  # type: ignore[attr-defined]
                if t is not None
            ]
            if not deadlines:
                return
            self.now = max(self.now, min(deadlines))
            for endpoint, app, _ in self.apps:
                endpoint.handle_timer(self.now)
                app.handle_timer(self.now)  # type: ignore[attr-defined]
            self.flush()


def test_calls_are_placed_answered_held_and_hung_up() -> None:
    sim = Sim(UasOptions(ring=0.5))
    sim.uac.start(0.0)
    sim.run()
    assert sim.uac.done
    assert sim.uac.summary.lines() == ["calls: 3 attempted, 3 answered, 3 completed, 0 failed"]
    assert [r.outcome for r in sim.uas_records] == ["BYE from the caller"] * 3
    first = sim.uac_records[0]
    assert first.answered == 0.5 and first.ended == 2.5 and first.status == 200
    assert first.line().startswith("call 1 sip:svc@10.0.0.2 200 completed held 2.000 s")
    # The answers carried real SDP: PCMU/PCMA/telephone-event offered, an answer with a port.
    ok = next(e for e in sim.seen if isinstance(e, ResponseReceived) and e.response.status == 200)
    assert b"m=audio " in ok.response.body and b"a=rtpmap:0 PCMU/8000" in ok.response.body


def test_the_uas_hangs_up_after_its_hold_time() -> None:
    sim = Sim(UasOptions(hold=1.0))
    sim.uac.start(0.0)
    sim.run()
    assert sim.uac.summary.completed == 3
    assert {r.outcome for r in sim.uac_records} == {"completed (BYE from the callee)"}
    assert {r.outcome for r in sim.uas_records} == {"BYE sent after the hold time"}


def test_unanswered_calls_are_cancelled_after_the_setup_timeout() -> None:
    options = UacOptions("sip:svc@10.0.0.2", Hop("udp", UAS), calls=2, rate=10.0, setup_timeout=2.0)
    sim = Sim(UasOptions(ring=10.0), options)
    sim.uac.start(0.0)
    sim.run()
    assert sim.uac.summary.failures == {"487": 2}
    assert {r.outcome for r in sim.uas_records} == {"cancelled by the caller"}
    assert all(r.status == 487 for r in sim.uas_records)


def test_an_offer_without_common_codecs_gets_488() -> None:
    sim = Sim(UasOptions())
    endpoint = sim.uac_endpoint
    offer = (
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n"
    )
    request = endpoint.new_request(
        "INVITE",
        "sip:svc@10.0.0.2",
        from_="<sip:a@10.0.0.1>",
        to="<sip:svc@10.0.0.2>",
        body=offer,
        content_type="application/sdp",
    )
    endpoint.send_request(request, 0.0, destination=Hop("udp", UAS))
    sim.run()
    (record,) = sim.uas_records
    assert record.status == 488 and record.outcome.startswith("rejected")
    final = [e.response for e in sim.seen if isinstance(e, ResponseReceived)]
    assert final[-1].status == 488 and final[-1].headers.get("warning", "").startswith("305")


def test_delayed_offer_gets_an_offer_in_the_200_and_reads_the_answer_in_the_ack() -> None:
    sim = Sim(UasOptions(hold=0.5))
    endpoint = sim.uac_endpoint
    request = endpoint.new_request(
        "INVITE", "sip:svc@10.0.0.2", from_="<sip:a@10.0.0.1>", to="<sip:svc@10.0.0.2>"
    )

    class Answering:
        def handle_event(self, event: EndpointEvent, now: float) -> None:
            if isinstance(event, ResponseReceived) and event.response.status == 200:
                assert event.dialog is not None and b"m=audio" in event.response.body
                answer = event.response.body.replace(b"o=gwemu", b"o=peer")
                endpoint.send_ack(event.dialog, now, body=answer, content_type="application/sdp")

        def get_timer(self) -> float | None:
            return None

        def handle_timer(self, now: float) -> None:
            """No timers."""

    sim.apps[0] = (endpoint, Answering(), UAC)
    endpoint.send_request(request, 0.0, destination=Hop("udp", UAS))
    sim.run()
    ack = next(e for e in sim.seen if isinstance(e, AckReceived))
    assert b"o=peer" in ack.request.body
    (record,) = sim.uas_records
    assert record.outcome == "BYE sent after the hold time"


def test_a_run_of_calls_leaves_no_reference_cycles() -> None:
    collect: Callable[[], int] = gc.collect
    collect()
    gc.disable()
    try:
        sim = Sim(UasOptions(ring=0.2, hold=0.5))
        sim.uac.start(0.0)
        sim.run()
        assert sim.uac.summary.completed == 3
        del sim
        found = collect()
    finally:
        gc.enable()
    assert found == 0


def test_cached_answers_carry_each_calls_port_and_session_id() -> None:
    offer = (
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    )
    answerer = Answerer("10.0.0.2")
    first, second = answerer.answer(offer, 20000, 1), answerer.answer(offer, 20002, 2)
    assert b"o=gwemu 1 0 IN IP4 10.0.0.2\r\n" in first and b"m=audio 20000 RTP/AVP 8 0" in first
    assert b"o=gwemu 2 0 IN IP4 10.0.0.2\r\n" in second and b"m=audio 20002 RTP/AVP 8 0" in second
    assert first.replace(b"20000", b"20002").replace(b"gwemu 1", b"gwemu 2") == second
