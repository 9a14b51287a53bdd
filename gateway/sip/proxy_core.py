"""The stateful proxy core of the endpoint (RFC 3261 section 16).

With ``role="proxy"`` the endpoint skips the dialog layer: after the Max-Forwards (483) and loop
(482) checks of section 16.3 a request goes to the TU, which forwards it on a client transaction
(:meth:`ProxyCore.forward_request`: our Via with a loop-detecting branch, Max-Forwards minus
one, optional Record-Route), relays responses upstream without our Via
(:meth:`ProxyCore.relay_response`) and forwards the ACK of a 2xx or a stray 2xx statelessly
(:meth:`ProxyCore.forward_stateless`).
"""

from __future__ import annotations

from gateway.sip.endpoint_core import family_of
from gateway.sip.events import ClientTransactionId, RequestReceived, ServerTransactionId
from gateway.sip.message import Request, Response
from gateway.sip.proxy_rules import (
    decrement_max_forwards,
    detects_loop,
    loop_key,
    without_own_route,
)
from gateway.sip.routing import DEFAULT_PORT, Hop, SipTransport, bare_host, response_hop
from gateway.sip.uac_core import UacCore
from gateway.trace import Address

__all__ = ["ProxyCore"]


class ProxyCore(UacCore):
    """What the endpoint does as a stateful proxy (see the module docstring)."""

    def _proxy_request(
        self,
        request: Request,
        transaction_id: ServerTransactionId,
        hop: Hop,
        source: Address,
        transport: SipTransport,
        now: float,
    ) -> None:
        """Section 16.3: Max-Forwards and loop checks, then the request goes to the TU."""
        method = request.method
        if method == "CANCEL":
            self._receive_cancel(request, transaction_id, hop, source, transport, now)
            return
        transaction = self._new_server(request, transaction_id, hop, source, now)
        max_forwards = request.max_forwards
        if max_forwards == 0 and method != "OPTIONS":
            self.respond(transaction_id, 483, now)
            return
        if detects_loop(request, self._sent_by.values()):
            self.respond(transaction_id, 482, now)
            return
        if transaction.is_invite:
            # Section 16.2: a stateful proxy answers an INVITE with 100 at once.
            self.respond(transaction_id, 100, now)
        self._events.append(RequestReceived(transaction_id, request, None, source, transport))

    def relay_response(
        self, transaction: ServerTransactionId, response: Response, now: float
    ) -> None:
        """Proxy: pass a downstream response upstream without our Via (RFC 3261 16.7)."""
        self.send_response(transaction, response.without_top_via(), now)

    def forward_request(
        self,
        request: Request,
        now: float,
        *,
        destination: Hop | None = None,
        record_route: bool = False,
    ) -> ClientTransactionId:
        """Forward a received request on a new client transaction (section 16.6).

        Our own top Route is removed (16.4), Max-Forwards decremented, Record-Route added when
        asked, our Via pushed on top with a branch that carries the loop key.  Destination: as
        in :meth:`send_request`.
        """
        request = without_own_route(request, self._listeners.values())
        request = decrement_max_forwards(request)
        hop = destination or self.config.outbound_proxy or self._request_hop(request)
        family = family_of(hop.address[0])
        if record_route:
            uri = f"sip:{self._local_sent_by(hop.transport, family)};lr"
            if hop.transport == "tcp":
                uri += ";transport=tcp"
            request = request.prepend_header("Record-Route", f"<{uri}>")
        branch = f"{self.new_branch()}.{loop_key(request)}"
        forwarded = request

        def with_via(hop: Hop) -> Request:
            return forwarded.prepend_header("Via", self._via(hop, branch))

        return self._start_client(with_via, branch, hop, None, now)

    def forward_stateless(
        self, message: Request | Response, now: float, *, destination: Hop | None = None
    ) -> None:
        """Forward without a transaction: the ACK of a 2xx, or a stray 2xx (sections 16.11, 16.7).

        A request gets our Via with a branch derived from its own (so retransmissions keep
        it); a response loses our Via and goes where the next Via says (section 18.2.2).
        """
        if isinstance(message, Request):
            request = decrement_max_forwards(without_own_route(message, self._listeners.values()))
            hop = destination or self._request_hop(request)
            branch = f"z9hG4bK{loop_key(request)}.{message.via.branch or ''}"[:64]
            request = request.prepend_header("Via", self._via(hop, branch))
            self._send(hop, bytes(request), request.summary, request.call_id, now)
            return
        response = message.without_top_via()
        if destination is None:
            next_via = response.via
            source = (
                bare_host(next_via.received or next_via.host),
                next_via.rport or next_via.port or DEFAULT_PORT,
            )
            transport: SipTransport = "tcp" if next_via.transport == "TCP" else "udp"
            destination = response_hop(next_via, source, transport, None, None)
        self._send(destination, bytes(response), response.summary, response.call_id, now)
