"""The endpoint in the proxy role: UAC -> stateful proxy -> UAS (RFC 3261 section 16)."""

from __future__ import annotations

import random

from gateway.sip.endpoint import EndpointConfig, SipEndpoint
from gateway.sip.events import (
    AckReceived,
    CancelReceived,
    ClientTransactionId,
    EndpointEvent,
    RequestReceived,
    ResponseReceived,
    ServerTransactionId,
    StrayResponse,
)
from gateway.sip.message import Request
from gateway.sip.parser import parse_datagram
from gateway.sip.routing import Hop
from gateway.trace import Address

UAC = ("10.0.0.1", 5060)
PROXY = ("10.0.0.5", 5060)
UAS = ("10.0.0.2", 5060)


class ProxyLogic:
    """The smallest stateful proxy TU: forward everything to the UAS, relay back."""

    def __init__(self, endpoint: SipEndpoint, record_route: bool) -> None:
        self.endpoint = endpoint
        self.record_route = record_route
        self.upstream: dict[ClientTransactionId, ServerTransactionId] = {}
        self.downstream: dict[ServerTransactionId, ClientTransactionId] = {}

    def handle(self, event: EndpointEvent, now: float) -> None:
        ep = self.endpoint
        if isinstance(event, RequestReceived):
            client = ep.forward_request(
                event.request, now, destination=Hop("udp", UAS), record_route=self.record_route
            )
            self.upstream[client] = event.transaction
            self.downstream[event.transaction] = client
        elif isinstance(event, ResponseReceived):
            # 16.7: a 100 is not forwarded; 16.10: neither are responses to our CANCELs.
            upstream = self.upstream.get(event.transaction)
            if upstream is not None and event.response.status != 100:
                ep.relay_response(upstream, event.response, now)
        elif isinstance(event, CancelReceived):
            ep.cancel(self.downstream[event.transaction], now)
        elif isinstance(event, AckReceived):
            ep.forward_stateless(event.request, now, destination=Hop("udp", UAS))
        elif isinstance(event, StrayResponse):
            ep.forward_stateless(event.response, now)


class Net:
    def __init__(self, record_route: bool = True) -> None:
        self.now = 0.0
        self.uac = SipEndpoint(EndpointConfig(node="uac"), rng=random.Random(1))
        self.proxy = SipEndpoint(EndpointConfig(role="proxy", node="proxy"), rng=random.Random(2))
        self.uas = SipEndpoint(EndpointConfig(node="uas"), rng=random.Random(3))
        for endpoint, address in ((self.uac, UAC), (self.proxy, PROXY), (self.uas, UAS)):
            endpoint.add_listener("udp", address)
        self.logic = ProxyLogic(self.proxy, record_route)
        self.wire: list[tuple[Address, Address, bytes]] = []
        self.uac_events: list[EndpointEvent] = []
        self.uas_events: list[EndpointEvent] = []

    def run(self) -> None:
        nodes = {UAC: self.uac, PROXY: self.proxy, UAS: self.uas}
        moved = True
        while moved:
            moved = False
            while (event := self.proxy.next_event()) is not None:
                self.logic.handle(event, self.now)
            for event_list, endpoint in ((self.uac_events, self.uac), (self.uas_events, self.uas)):
                while (event := endpoint.next_event()) is not None:
                    event_list.append(event)
            for address, endpoint in nodes.items():
                for item in endpoint.datagrams_to_send(self.now):
                    self.wire.append((address, item.destination, item.data))
                    nodes[item.destination].receive_datagram(
                        item.data, address, self.now, local=item.destination
                    )
                    moved = True

    def uas_request(self) -> RequestReceived:
        event = self.uas_events.pop(0)
        assert isinstance(event, RequestReceived)
        return event

    def uac_response(self) -> ResponseReceived:
        event = self.uac_events.pop(0)
        assert isinstance(event, ResponseReceived)
        return event


def invite(net: Net, max_forwards: int = 70) -> ClientTransactionId:
    request = net.uac.new_request(
        "INVITE",
        "sip:svc@10.0.0.2",
        from_="<sip:uac@10.0.0.1>",
        to="<sip:svc@10.0.0.2>",
        headers=[("Route", "<sip:10.0.0.5;lr>")],
    )
    request = request.replace_header("Max-Forwards", str(max_forwards))
    transaction = net.uac.send_request(request, net.now)
    net.run()
    return transaction


def test_call_through_a_record_routing_proxy() -> None:
    net = Net(record_route=True)
    invite(net)
    arrived = net.uas_request()
    request = arrived.request
    assert len(request.vias) == 2 and request.max_forwards == 69
    assert request.headers.get_all("route") == []  # our own Route was consumed (16.4)
    assert request.headers.get("record-route") == "<sip:10.0.0.5:5060;lr>"
    net.uas.respond(arrived.transaction, 180, net.now)
    net.uas.respond(arrived.transaction, 200, net.now)
    net.run()
    trying, ringing, ok = net.uac_response(), net.uac_response(), net.uac_response()
    assert [e.response.status for e in (trying, ringing, ok)] == [100, 180, 200]
    assert len(ok.response.vias) == 1  # the proxy removed its Via (16.7)
    assert ok.dialog is not None
    dialog = net.uac.dialog(ok.dialog)
    assert dialog is not None and dialog.route_set == ("<sip:10.0.0.5:5060;lr>",)
    net.uac.send_ack(ok.dialog, net.now)
    net.run()
    assert isinstance(net.uas_events.pop(0), AckReceived)
    net.uac.send_in_dialog(ok.dialog, "BYE", net.now)
    net.run()
    bye = net.uas_request()
    assert bye.request.method == "BYE" and bye.dialog is not None
    net.uas.respond(bye.transaction, 200, net.now)
    net.run()
    assert net.uac_response().response.status == 200
    # The ACK and the BYE went through the proxy, as the route set says.
    hops = [(s, d) for s, d, data in net.wire if data.startswith((b"ACK", b"BYE"))]
    assert hops == [(UAC, PROXY), (PROXY, UAS), (UAC, PROXY), (PROXY, UAS)]


def test_cancel_is_answered_by_the_proxy_and_propagated_downstream() -> None:
    net = Net()
    transaction = invite(net)
    arrived = net.uas_request()
    net.uas.respond(arrived.transaction, 180, net.now)
    net.run()
    assert [net.uac_response().response.status for _ in range(2)] == [100, 180]
    net.uac.cancel(transaction, net.now)
    net.run()
    assert isinstance(net.uas_events.pop(0), CancelReceived)
    statuses = [net.uac_response().response for _ in range(2)]
    assert [(r.status, r.cseq.method) for r in statuses] == [(200, "CANCEL"), (487, "INVITE")]
    assert net.proxy.transaction_count > 0 and net.uas.transaction_count > 0


def test_max_forwards_zero_gets_483_and_a_loop_gets_482() -> None:
    net = Net()
    invite(net, max_forwards=0)
    assert net.uas_events == []
    assert net.uac_response().response.status == 483
    assert not any(s == PROXY and d.startswith(b"INVITE") for s, _, d in net.wire)
    # A request the proxy already forwarded comes back to it unchanged: a loop (16.3 step 4).
    invite(net)
    looped = next(
        data for source, _, data in net.wire if source == PROXY and data.startswith(b"INVITE")
    )
    request = parse_datagram(looped)
    assert isinstance(request, Request)
    routed_back = request.prepend_header("Via", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKuas")
    net.proxy.receive_datagram(bytes(routed_back), UAS, net.now, local=PROXY)
    out = net.proxy.datagrams_to_send(net.now)
    assert [int(item.data[8:11]) for item in out] == [482]
