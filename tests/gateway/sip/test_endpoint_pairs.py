"""UAC endpoint <-> UAS endpoint over a hostile simulated UDP link, fixed seeds.

The link loses, duplicates and reorders datagrams (each one gets its own random delay).  Every
call -- INVITE, 180, 200, ACK, hold, BYE, 200 -- must complete through the retransmissions of
RFC 3261 sections 13.3.1.4 and 17, and afterwards both endpoints must be empty: no dialog, no
transaction, no timer left.
"""

from __future__ import annotations

import gc
import heapq
import random
from dataclasses import dataclass, field

import pytest

from gateway.sip.endpoint import EndpointConfig, SipEndpoint
from gateway.sip.events import (
    AckReceived,
    DialogId,
    EndpointEvent,
    RequestReceived,
    ResponseReceived,
    TransactionFailed,
)
from gateway.sip.routing import Hop

UAC_ADDRESS = ("10.0.0.1", 5060)
UAS_ADDRESS = ("10.0.0.2", 5060)
SDP = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"


@dataclass(order=True)
class Packet:
    arrival: float
    sequence: int
    data: bytes = field(compare=False)
    source: tuple[str, int] = field(compare=False)
    destination: tuple[str, int] = field(compare=False)


class Link:
    """Loss, duplication and reordering (random delay per datagram), seeded."""

    def __init__(self, seed: int, loss: float, duplicate: float, max_delay: float) -> None:
        self.rng = random.Random(seed)
        self.loss = loss
        self.duplicate = duplicate
        self.max_delay = max_delay
        self.queue: list[Packet] = []
        self.sequence = 0
        self.sent = 0
        self.lost = 0

    def send(
        self, data: bytes, source: tuple[str, int], destination: tuple[str, int], now: float
    ) -> None:
        copies = 2 if self.rng.random() < self.duplicate else 1
        for _ in range(copies):
            self.sent += 1
            if self.rng.random() < self.loss:
                self.lost += 1
                continue
            self.sequence += 1
            arrival = now + 0.001 + self.rng.random() * self.max_delay
            heapq.heappush(self.queue, Packet(arrival, self.sequence, data, source, destination))


class Uas:
    def __init__(self, endpoint: SipEndpoint) -> None:
        self.endpoint = endpoint
        self.acked: set[DialogId] = set()
        self.byes = 0

    def handle(self, event: EndpointEvent, now: float) -> None:
        if isinstance(event, RequestReceived):
            if event.request.method == "INVITE":
                self.endpoint.respond(event.transaction, 180, now)
                self.endpoint.respond(
                    event.transaction, 200, now, body=SDP, content_type="application/sdp"
                )
            elif event.request.method == "BYE":
                self.byes += 1
                self.endpoint.respond(event.transaction, 200, now)
        elif isinstance(event, AckReceived):
            assert event.dialog is not None
            self.acked.add(event.dialog)


class Uac:
    def __init__(self, endpoint: SipEndpoint, calls: int, hold: float) -> None:
        self.endpoint = endpoint
        self.hold = hold
        self.pending_byes: list[tuple[float, DialogId]] = []
        self.completed = 0
        self.failed: list[str] = []
        self.calls = calls

    def start(self, now: float) -> None:
        for _ in range(self.calls):
            request = self.endpoint.new_request(
                "INVITE",
                "sip:svc@10.0.0.2",
                from_="<sip:uac@10.0.0.1>",
                to="<sip:svc@10.0.0.2>",
                body=SDP,
                content_type="application/sdp",
            )
            self.endpoint.send_request(request, now, destination=Hop("udp", UAS_ADDRESS))

    def handle(self, event: EndpointEvent, now: float) -> None:
        if isinstance(event, ResponseReceived):
            status, method = event.response.status, event.response.cseq.method
            if method == "INVITE" and 200 <= status < 300:
                assert event.dialog is not None
                self.endpoint.send_ack(event.dialog, now)
                self.pending_byes.append((now + self.hold, event.dialog))
            elif method == "BYE" and status >= 200:
                if status == 200:
                    self.completed += 1
                else:
                    self.failed.append(f"BYE {status}")
            elif status >= 300:
                self.failed.append(f"{method} {status}")
        elif isinstance(event, TransactionFailed):
            self.failed.append(f"{event.transaction} {event.status} {event.reason}")

    def due_byes(self, now: float) -> None:
        ready = [item for item in self.pending_byes if item[0] <= now]
        self.pending_byes = [item for item in self.pending_byes if item[0] > now]
        for _, dialog in ready:
            self.endpoint.send_in_dialog(dialog, "BYE", now)

    def next_bye(self) -> float | None:
        return min((when for when, _ in self.pending_byes), default=None)


def run(
    seed: int, *, calls: int, loss: float, duplicate: float, max_delay: float
) -> tuple[Uac, Uas, Link]:
    uac_endpoint = SipEndpoint(EndpointConfig(node="uac"), rng=random.Random(seed))
    uas_endpoint = SipEndpoint(EndpointConfig(node="uas"), rng=random.Random(seed + 1))
    uac_endpoint.add_listener("udp", UAC_ADDRESS)
    uas_endpoint.add_listener("udp", UAS_ADDRESS)
    uac, uas = Uac(uac_endpoint, calls, hold=2.0), Uas(uas_endpoint)
    link = Link(seed, loss, duplicate, max_delay)
    by_address = {UAC_ADDRESS: (uac_endpoint, uac), UAS_ADDRESS: (uas_endpoint, uas)}
    now = 0.0
    uac.start(now)

    def flush() -> None:
        for address, (endpoint, user) in by_address.items():
            while (event := endpoint.next_event()) is not None:
                user.handle(event, now)
            for item in endpoint.datagrams_to_send(now):
                link.send(item.data, address, item.destination, now)

    flush()
    for _ in range(200_000):
        candidates = [link.queue[0].arrival] if link.queue else []
        candidates += [t for e, _ in by_address.values() if (t := e.get_timer()) is not None]
        if (bye := uac.next_bye()) is not None:
            candidates.append(bye)
        if not candidates:
            break
        now = max(now, min(candidates))
        while link.queue and link.queue[0].arrival <= now:
            packet = heapq.heappop(link.queue)
            endpoint, _ = by_address[packet.destination]
            endpoint.receive_datagram(packet.data, packet.source, now, local=packet.destination)
            flush()
        for endpoint, _ in by_address.values():
            endpoint.handle_timer(now)
        uac.due_byes(now)
        flush()
    else:
        raise AssertionError("the simulation did not settle")
    return uac, uas, link


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_every_call_completes_over_a_lossy_duplicating_reordering_link(seed: int) -> None:
    calls = 25
    uac, uas, link = run(seed, calls=calls, loss=0.2, duplicate=0.1, max_delay=0.3)
    assert link.lost > 0  # the link really was hostile
    assert uac.failed == []
    assert uac.completed == calls
    # An ACK may be lost for good when the BYE overtakes it: the BYE ends the dialog anyway.
    assert 0 < len(uas.acked) <= calls and uas.byes >= calls
    for endpoint in (uac.endpoint, uas.endpoint):
        assert endpoint.dialog_count == 0
        assert endpoint.transaction_count == 0
        assert endpoint.get_timer() is None


def test_a_clean_link_needs_no_retransmission() -> None:
    uac, _, link = run(9, calls=10, loss=0.0, duplicate=0.0, max_delay=0.01)
    assert uac.completed == 10
    # INVITE, 180, 200, ACK, BYE, 200 per call: nothing more.
    assert link.sent == 10 * 6


def test_calls_through_retransmissions_leave_no_reference_cycles() -> None:
    # Lingering transactions make the heap large; a full collection would stall the loop, so
    # the adapters make those rare (gateway.aio.loop.signalling_gc).  That is only safe while
    # the endpoint itself leaves no cyclic garbage behind.
    gc.collect()
    gc.disable()
    try:
        uac, _, _ = run(11, calls=10, loss=0.2, duplicate=0.1, max_delay=0.3)
        assert uac.completed == 10
        del uac
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0
