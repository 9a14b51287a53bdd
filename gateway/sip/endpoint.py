"""The SIP endpoint: transport framing, transactions, dialogs and the UA core, sans-IO.

One :class:`SipEndpoint` serves every SIP role of gwemu -- gateway legs, ``gwemu sip uas`` /
``uac``, the B2BUA, the registrar and redirect server (``role="ua"``) and the stateful proxy
(``role="proxy"``).  The contract is ARCHITECTURE.md's:

* input: :meth:`~SipEndpoint.receive_datagram` (UDP), :meth:`~SipEndpoint.connection_accepted`
  / :meth:`~SipEndpoint.receive_data` / :meth:`~SipEndpoint.connection_lost` (TCP; the
  endpoint frames the stream), :meth:`~SipEndpoint.transport_error`;
* output: :meth:`~SipEndpoint.datagrams_to_send` (:class:`~gateway.sip.routing.Transmit`
  items), :meth:`~SipEndpoint.next_event` (:mod:`gateway.sip.events`);
* time: :meth:`~SipEndpoint.get_timer` / :meth:`~SipEndpoint.handle_timer`; every entry point
  takes ``now``; branches, tags and Call-IDs come from the injected ``random.Random``.

What the UA core does on its own (RFC 3261 sections 8, 9, 12, 13, 17, 18; RFC 3581; RFC 6026):
stamps ``received``/``rport`` on incoming Vias and routes responses back (symmetric port); absorbs
retransmissions in the transactions; answers a request that fails to parse with the parser's
status; rejects what :func:`~gateway.sip.uas_checks.check_request` refuses (405/501/416/420/
415/406), merged requests (482), requests for unknown dialogs (481), out-of-order CSeqs (500),
CANCELs for unknown transactions (481); answers a CANCEL with 200 and its INVITE with 487;
retransmits our 2xx to an INVITE until the ACK comes (reporting :class:`AckTimeout` after
64*T1); re-sends our ACK when a 2xx is retransmitted; keeps dialogs (early, confirmed, forked),
their route sets, remote targets and sequence numbers; ends a dialog on BYE, and on a 481/408
to a request inside it.  Everything else is the TU's: it answers requests with
:meth:`~SipEndpoint.respond`, sends the ACK of a 2xx with :meth:`~SipEndpoint.send_ack`.

The proxy role skips the dialog layer and the UAS checks: requests reach the TU as they are
(after the Max-Forwards 483 and loop 482 checks of section 16.3), unmatched ACKs and responses
arrive as :class:`AckReceived` / :class:`StrayResponse`, a CANCEL is answered 200 and reported
but its INVITE is left to the TU, which forwards with :meth:`~SipEndpoint.forward_request` and
relays responses with :meth:`~SipEndpoint.relay_response`.

Every message in or out, and every drop, becomes a :class:`~gateway.trace.TraceEvent`.

The class is assembled in layers, each a module: :mod:`~gateway.sip.endpoint_core` (state,
identifiers, output), :mod:`~gateway.sip.uas_core`, :mod:`~gateway.sip.uac_core`,
:mod:`~gateway.sip.proxy_core`; this module adds the input side and the transaction callbacks.
Transactions are :mod:`~gateway.sip.transaction`, dialogs :mod:`~gateway.sip.dialog`, TCP
framing state :mod:`~gateway.sip.connections`, hops and response routing
:mod:`~gateway.sip.routing`.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.errors import RemoteProtocolError
from gateway.sip.endpoint_core import UDP_SIZE_LIMIT, EndpointConfig
from gateway.sip.events import (
    AckReceived,
    ClientTransactionId,
    DialogId,
    DialogTerminated,
    EndpointEvent,
    StrayResponse,
    TransactionFailed,
)
from gateway.sip.message import Request, Response
from gateway.sip.parser import error_response, is_keepalive, parse_datagram
from gateway.sip.proxy_core import ProxyCore
from gateway.sip.routing import Hop, SipTransport, Transmit, response_hop, stamp_received
from gateway.sip.stream import ConnectionClosed, Ping, RejectedMessage
from gateway.sip.transaction import ClientTransaction, Transaction, server_transaction_id
from gateway.trace import Address

__all__ = ["UDP_SIZE_LIMIT", "EndpointConfig", "SipEndpoint"]


class SipEndpoint(ProxyCore):
    """The sans-IO SIP endpoint (see the module docstring for what it does by itself)."""

    def datagrams_to_send(self, now: float) -> list[Transmit]:
        """Everything queued for the network since the last call, in order."""
        out = self._out
        if not out:
            return []
        self._out = []
        return out

    def next_event(self) -> EndpointEvent | None:
        events = self._events
        return events.popleft() if events else None

    def get_timer(self) -> float | None:
        return self.timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        self.timers.fire_due(now)

    def receive_datagram(
        self, data: bytes, source: Address, now: float, *, local: Address | None = None
    ) -> None:
        """One UDP datagram from ``source`` (received on our socket ``local``)."""
        if len(data) > self.config.max_message_size:
            error = RemoteProtocolError(
                f"datagram of {len(data)} octets exceeds {self.config.max_message_size}", 513
            )
            self._reject_unparsable(data, error, Hop("udp", source, None, local), now)
            return
        try:
            message = parse_datagram(data)
        except RemoteProtocolError as exc:
            if is_keepalive(data):
                self._drop(now, "keep-alive (CRLF)", data, source, local, "udp")
                return
            self._reject_unparsable(data, exc, Hop("udp", source, None, local), now)
            return
        self._receive(message, source, "udp", None, local, now)

    def connection_accepted(self, remote: Address, local: Address | None, now: float) -> int:
        """The adapter accepted a TCP connection; returns its id for ``receive_data``."""
        connection = self._connections.open(self, remote, local, False, now)
        self._arm_idle(connection, now)
        return connection.id

    def receive_data(self, connection_id: int, data: bytes, now: float) -> None:
        """Octets from TCP connection ``connection_id``; ``b""`` when the peer closed it."""
        connection = self._connections.get(connection_id)
        if connection is None:
            return  # closed on our side already; late data is of no use
        connection.last_activity = now
        parser = connection.parser
        parser.feed(data)
        remote, local = connection.remote, connection.local
        while True:
            try:
                event = parser.next_event()
            except RemoteProtocolError as exc:
                self._drop(now, f"stream framing error: {exc.reason}", b"", remote, local, "tcp")
                self._close(connection, now)
                return
            if event is None:
                return
            if isinstance(event, Request | Response):
                self._receive(event, remote, "tcp", connection_id, local, now)
            elif isinstance(event, RejectedMessage):
                hop = Hop("tcp", remote, connection_id, local)
                self._reject_unparsable(event.data, event.error, hop, now)
            elif isinstance(event, Ping):
                # RFC 5626 section 4.4.1: a CRLFCRLF ping is answered with one CRLF (pong).
                self._out.append(Transmit("tcp", remote, b"\r\n", connection_id, local))
            elif isinstance(event, ConnectionClosed):
                self._close(connection, now)
                return
            # a Pong needs nothing: our keep-alive was answered

    def connection_lost(self, connection_id: int, now: float, error: str | None = None) -> None:
        """The adapter's connection ended: closed by the peer, reset, or never established.

        With ``error``, client transactions that sent on it and have no final response fail
        with 503 (RFC 3261 section 8.1.3.1); server transactions answer later responses on a
        new connection (section 18.2.2).
        """
        connection = self._connections.get(connection_id)
        if connection is None:
            return
        if connection.parser.buffered:
            self._drop(
                now,
                f"connection ended inside a message ({connection.parser.buffered} octets)",
                b"",
                connection.remote,
                connection.local,
                "tcp",
            )
        self._connections.remove(connection)
        if error is not None:
            self._fail_transactions(
                lambda hop: hop.connection == connection_id, f"transport error: {error}", now
            )

    def transport_error(self, destination: Address, now: float, reason: str) -> None:
        """The adapter could not send to ``destination`` (UDP): fail what was sent there."""
        self._fail_transactions(
            lambda hop: hop.transport == "udp" and hop.address == destination,
            f"transport error: {reason}",
            now,
        )

    def _fail_transactions(self, affected: Callable[[Hop], bool], reason: str, now: float) -> None:
        # Transport errors are rare: scanning every transaction is cheaper than an index.
        for transaction in list(self._clients.values()) + list(self._servers.values()):
            if not transaction.terminated and affected(transaction.hop):
                transaction.transport_error(reason, now)

    def _receive(
        self,
        message: Request | Response,
        source: Address,
        transport: SipTransport,
        connection: int | None,
        local: Address | None,
        now: float,
    ) -> None:
        if self._tracing:
            self._emit(
                now,
                "in",
                message.summary,
                bytes(message),
                source,
                local,
                transport,
                message.call_id,
            )
        try:
            if isinstance(message, Response):
                self._receive_response(message, source, transport, now)
            else:
                self._receive_request(message, source, transport, connection, local, now)
        except RemoteProtocolError as exc:
            # A header read lazily (Contact, Route, Require ...) turned out malformed.
            if isinstance(message, Request) and exc.status_hint is not None:
                hop = Hop(transport, source, connection, local)
                self._reject_unparsable(bytes(message), exc, hop, now)
            else:
                self._drop(
                    now,
                    f"invalid {message.summary}: {exc.reason}",
                    bytes(message),
                    source,
                    local,
                    transport,
                )

    def _reject_unparsable(
        self, data: bytes, error: RemoteProtocolError, hop: Hop, now: float
    ) -> None:
        """A request we cannot process: answer with the parser's status, or drop it."""
        response = error_response(data, error, self.new_tag())
        if response is None:
            self._drop(now, f"dropped: {error.reason}", data, hop.address, hop.local, hop.transport)
            return
        self._drop(
            now,
            f"rejected with {error.status_hint}: {error.reason}",
            data,
            hop.address,
            hop.local,
            hop.transport,
        )
        try:
            hop = response_hop(response.via, hop.address, hop.transport, hop.connection, hop.local)
        except RemoteProtocolError:
            pass  # the Via itself is broken: answer to where the request came from
        self._send(hop, bytes(response), response.summary, None, now)

    def _receive_request(
        self,
        request: Request,
        source: Address,
        transport: SipTransport,
        connection: int | None,
        local: Address | None,
        now: float,
    ) -> None:
        request = stamp_received(request, source)
        transaction_id = server_transaction_id(request)
        method = request.method
        existing = self._servers.get(transaction_id)
        if existing is not None and (method == "ACK" or method == existing.request.method):
            # A retransmission, or the ACK of a non-2xx: the transaction handles it.
            if not existing.receive_request(request, now):
                self._drop(
                    now,
                    f"{method} retransmission absorbed",
                    b"",
                    source,
                    local,
                    transport,
                    request.call_id,
                )
            return
        if method == "ACK":
            self._receive_ack(request, source, transport, local, now)
            return
        hop = response_hop(request.via, source, transport, connection, local)
        if self._proxy:
            self._proxy_request(request, transaction_id, hop, source, transport, now)
            return
        if method == "CANCEL":
            self._receive_cancel(request, transaction_id, hop, source, transport, now)
            return
        self._ua_request(request, transaction_id, hop, source, transport, now)

    def _receive_response(
        self, response: Response, source: Address, transport: SipTransport, now: float
    ) -> None:
        via = response.via
        if not self._proxy and len(response.vias) > 1:
            # RFC 3261 8.1.3.3: a UAC discards a response with more than one Via.
            self._drop(
                now,
                "response with more than one Via",
                b"",
                source,
                None,
                transport,
                response.call_id,
            )
            return
        branch = via.branch
        transaction = (
            None
            if branch is None
            else self._clients.get(ClientTransactionId(branch, response.cseq.method))
        )
        if transaction is not None:
            if not transaction.receive_response(response, now):
                self._drop(
                    now,
                    "response retransmission absorbed",
                    b"",
                    source,
                    None,
                    transport,
                    response.call_id,
                )
            return
        if self._proxy:
            self._events.append(StrayResponse(response, source, transport))
            return
        if 200 <= response.status < 300 and response.cseq.method == "INVITE":
            # A 2xx retransmitted after our INVITE transaction ended: re-send our ACK.
            dialog_id = DialogId(response.call_id, response.from_tag or "", response.to_tag or "")
            if self._resend_ack(dialog_id, response, now):
                return
        self._drop(
            now, "response matches no transaction", b"", source, None, transport, response.call_id
        )

    def transaction_deliver(
        self, transaction: Transaction, message: Request | Response, now: float
    ) -> None:
        if isinstance(transaction, ClientTransaction):
            assert isinstance(message, Response)
            self._client_response(transaction, message, now)
        else:
            assert isinstance(message, Request)  # an ACK in the Accepted state (RFC 6026)
            if self._proxy:
                self._events.append(
                    AckReceived(None, message, transaction.source, transaction.hop.transport)
                )
                return
            dialog_id = DialogId(message.call_id, message.to_tag or "", message.from_tag or "")
            self._ack_for_2xx(
                dialog_id,
                message,
                transaction.source,
                transaction.hop.transport,
                transaction.hop.local,
                now,
            )

    def transaction_failed(
        self, transaction: Transaction, status: int, reason: str, now: float
    ) -> None:
        dialog = transaction.dialog
        self._events.append(
            TransactionFailed(transaction.id, status, reason, transaction.request.call_id, dialog)
        )
        if self._proxy or not isinstance(transaction, ClientTransaction):
            return
        if transaction.is_invite and dialog is None:
            self._end_early_dialogs(transaction)
        elif dialog is not None and status == 408 and self._end_dialog(dialog):
            # RFC 3261 12.2.1.2: no response at all to a request inside a dialog ends it.
            self._events.append(DialogTerminated(dialog, f"{transaction.id.method} timed out"))

    def transaction_terminated(self, transaction: Transaction, now: float) -> None:
        if isinstance(transaction, ClientTransaction):
            self._clients.pop(transaction.id, None)
            self._held_cancels.pop(transaction.id, None)
            self._end_early_dialogs(transaction)  # forks that never answered (RFC 6026 Timer M)
            cseq = transaction.request.cseq.number
            for dialog_id in (*transaction.dialogs, transaction.dialog):
                if dialog_id is None:
                    continue
                sent = self._acks.get(dialog_id)
                if sent is not None and sent[0] == cseq:  # not a later re-INVITE's ACK
                    del self._acks[dialog_id]
            return
        self._servers.pop(transaction.id, None)
        request = transaction.request
        if request.to_tag is None:
            key = (request.call_id, request.from_tag, request.cseq.number, request.method)
            if self._merge.get(key) == transaction.id:
                del self._merge[key]
