"""The state every part of the SIP endpoint shares, and its output path.

:class:`EndpointCore` holds the endpoint's tables -- transactions, dialogs, TCP connections,
listeners -- the identifiers it makes (branches, tags, Call-IDs from the injected
``random.Random``), and the one way out: ``_send`` queues a :class:`~gateway.sip.routing.Transmit`
and emits the trace event.  The UAS core (:mod:`gateway.sip.uas_core`), the UAC core
(:mod:`gateway.sip.uac_core`), the proxy core (:mod:`gateway.sip.proxy_core`) and the input side
(:mod:`gateway.sip.endpoint`) build on it, in that order, each using only what lies below it.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from gateway.errors import LocalProtocolError
from gateway.sip.connections import Connection, ConnectionTable
from gateway.sip.dialog import TERMINATED, Dialog
from gateway.sip.events import ClientTransactionId, DialogId, EndpointEvent, ServerTransactionId
from gateway.sip.message import Request, Response
from gateway.sip.routing import Hop, SipTransport, Transmit, hostport, via_value
from gateway.sip.timers import TimerConfig, TimerQueue
from gateway.sip.transaction import ClientTransaction, ServerTransaction, Transaction
from gateway.sip.uas_checks import UasCapabilities
from gateway.trace import Address, TraceEvent, TraceSink, discard

if TYPE_CHECKING:
    from gateway.sip.uas_core import AwaitingAck

__all__ = ["UDP_SIZE_LIMIT", "EndpointConfig", "EndpointCore", "family_of"]

# RFC 3261 section 18.1.1: without a known path MTU, requests over 1300 octets go over TCP.
UDP_SIZE_LIMIT = 1300
_UA_METHODS = frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "UPDATE"})


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """How an endpoint behaves.

    ``role``: ``"ua"`` (user agent, B2BUA, registrar, redirect server) or ``"proxy"``.
    ``capabilities``: what the UAS core accepts (methods, extensions, body types; RFC 3261
    section 8.2).  ``node`` names this endpoint in traces.  ``user_agent`` goes into
    User-Agent / Server headers (None: none).  ``contact_user`` is the user part of our Contact.
    ``advertised_host`` replaces the listener's address in Via and Contact (NAT, wildcard
    binds).  ``outbound_proxy`` receives every out-of-dialog request sent without an explicit
    destination.  ``udp_size_limit``: larger requests switch to TCP when a TCP listener exists
    (RFC 3261 section 18.1.1).
    """

    role: Literal["ua", "proxy"] = "ua"
    timers: TimerConfig = field(default_factory=TimerConfig)
    capabilities: UasCapabilities = field(
        default_factory=lambda: UasCapabilities(methods=_UA_METHODS)
    )
    node: str = "gwemu"
    user_agent: str | None = "gwemu"
    contact_user: str | None = None
    advertised_host: str | None = None
    outbound_proxy: Hop | None = None
    max_message_size: int = 65535
    udp_size_limit: int = UDP_SIZE_LIMIT


class EndpointCore(ABC):
    """Shared state, identifiers and output of the endpoint (see the module docstring).

    It is the host of every transaction (:class:`~gateway.sip.transaction.TransactionHost`):
    what a transaction sends goes out here; what it passes up, its failures and its end are
    handled by :class:`~gateway.sip.endpoint.SipEndpoint`, which sees every layer.
    """

    def __init__(
        self,
        config: EndpointConfig | None = None,
        *,
        rng: random.Random,
        trace: TraceSink = discard,
    ) -> None:
        self.config = config = config or EndpointConfig()
        self.timer_config: TimerConfig = config.timers
        self.timers = TimerQueue()
        self._rng = rng
        self._trace = trace
        self._tracing = trace is not discard
        self._node = config.node
        self._proxy = config.role == "proxy"
        self._capabilities = config.capabilities
        self._events: deque[EndpointEvent] = deque()
        self._out: list[Transmit] = []
        self._clients: dict[ClientTransactionId, ClientTransaction] = {}
        self._servers: dict[ServerTransactionId, ServerTransaction] = {}
        # RFC 3261 8.2.2.2: (Call-ID, From tag, CSeq number, method) of ongoing transactions.
        self._merge: dict[tuple[str, str | None, int, str], ServerTransactionId] = {}
        self._dialogs: dict[DialogId, Dialog] = {}
        self._awaiting_ack: dict[DialogId, AwaitingAck] = {}
        # UAS side: an INVITE still without a final response, by the dialog its 1xx created.
        self._unanswered_invites: dict[DialogId, ServerTransactionId] = {}
        # UAC side: the ACK we sent for each dialog's last 2xx (CSeq, octets, hop).
        self._acks: dict[DialogId, tuple[int, bytes, Hop]] = {}
        # CANCELs asked for before any provisional response (RFC 3261 9.1), with their Reason.
        self._held_cancels: dict[ClientTransactionId, str | None] = {}
        self._connections = ConnectionTable(config.max_message_size)
        self._listeners: dict[tuple[SipTransport, int], Address] = {}
        self._sent_by: dict[tuple[SipTransport, int], str] = {}
        self._user_agent_header = (
            () if config.user_agent is None else (("User-Agent", config.user_agent),)
        )
        self._server_header = () if config.user_agent is None else (("Server", config.user_agent),)

    def add_listener(self, transport: SipTransport, address: Address) -> None:
        """Tell the endpoint where it listens (the adapter's bound, numeric address).

        The first listener of each transport and IP version writes our Via sent-by and
        Contact; ``advertised_host`` from the config replaces its host.
        """
        family = family_of(address[0])
        key = (transport, family)
        if key in self._listeners:
            return
        self._listeners[key] = address
        host = self.config.advertised_host or address[0]
        self._sent_by[key] = hostport(host, address[1])

    @property
    def listeners(self) -> dict[tuple[SipTransport, int], Address]:
        return dict(self._listeners)

    def dialog(self, dialog_id: DialogId) -> Dialog | None:
        """The live dialog ``dialog_id`` (read it; the endpoint updates it), or None."""
        return self._dialogs.get(dialog_id)

    @property
    def dialog_count(self) -> int:
        return len(self._dialogs)

    @property
    def transaction_count(self) -> int:
        return len(self._clients) + len(self._servers)

    def client_transaction(self, transaction: ClientTransactionId) -> ClientTransaction | None:
        return self._clients.get(transaction)

    def server_transaction(self, transaction: ServerTransactionId) -> ServerTransaction | None:
        return self._servers.get(transaction)

    def terminate_dialog(self, dialog_id: DialogId) -> None:
        """Forget a dialog without signalling (the TU ended it some other way)."""
        self._end_dialog(dialog_id)

    # -- identifiers ----------------------------------------------------------------------------

    def new_branch(self) -> str:
        """A fresh RFC 3261 branch (section 8.1.1.7: the magic cookie, then 64 random bits)."""
        return f"z9hG4bK{self._rng.getrandbits(64):016x}"

    def new_tag(self) -> str:
        """A From/To tag: 32 random bits (section 19.3)."""
        return f"{self._rng.getrandbits(32):08x}"

    def new_call_id(self) -> str:
        """A Call-ID: 128 random bits at our host (section 8.1.1.4)."""
        host = self.config.advertised_host or self._any_host()
        return f"{self._rng.getrandbits(128):032x}@{host}"

    def _any_host(self) -> str:
        for address in self._listeners.values():
            return hostport(address[0])
        return "gwemu.invalid"

    def connection_idle(self, connection: Connection, now: float) -> None:
        """Idle timer of a connection: close it when nothing moved for ``tcp_idle``."""
        if now - connection.last_activity >= self.timer_config.tcp_idle:
            self._close(connection, now)
        else:
            self._arm_idle(connection, now)

    def _arm_idle(self, connection: Connection, now: float) -> None:
        # Re-armed for the full idle time, so a connection closes between one and two idle
        # periods after its last use (one lane in the timer queue).
        connection.idle_timer = self.timers.schedule(
            connection, "idle", self.timer_config.tcp_idle, now
        )

    def _close(self, connection: Connection, now: float) -> None:
        self._connections.remove(connection)
        self._out.append(
            Transmit("tcp", connection.remote, b"", connection.id, connection.local, True)
        )

    def _end_dialog(self, dialog_id: DialogId) -> bool:
        """Remove a dialog and what hangs on it; False when it was not there."""
        dialog = self._dialogs.pop(dialog_id, None)
        waiting = self._awaiting_ack.pop(dialog_id, None)
        if waiting is not None:
            waiting.stop()
        # The ACK we sent stays with its INVITE transaction (dropped when that terminates), so
        # a 2xx retransmitted after the dialog ended is still acknowledged.
        self._unanswered_invites.pop(dialog_id, None)
        if dialog is None:
            return False
        dialog.state = TERMINATED
        return True

    def transaction_transmit(
        self, transaction: Transaction, data: bytes, summary: str, now: float
    ) -> None:
        transaction.hop = self._send(
            transaction.hop, data, summary, transaction.request.call_id, now
        )

    @abstractmethod
    def transaction_deliver(
        self, transaction: Transaction, message: Request | Response, now: float
    ) -> None:
        """A response (client) or an ACK in the Accepted state (server) for the cores."""

    @abstractmethod
    def transaction_failed(
        self, transaction: Transaction, status: int, reason: str, now: float
    ) -> None:
        """A transaction timed out (408) or met a transport error (503)."""

    @abstractmethod
    def transaction_terminated(self, transaction: Transaction, now: float) -> None:
        """A transaction ended: forget it."""

    def local_contact(self, transport: SipTransport = "udp", family: int = 4) -> str:
        """Our Contact header value for ``transport`` (``<sip:user@host:port;transport=tcp>``)."""
        sent_by = self._local_sent_by(transport, family)
        user = self.config.contact_user
        param = ";transport=tcp" if transport == "tcp" else ""
        return f"<sip:{user}@{sent_by}{param}>" if user else f"<sip:{sent_by}{param}>"

    def _local_sent_by(self, transport: SipTransport, family: int) -> str:
        sent_by = self._sent_by.get((transport, family))
        if sent_by is not None:
            return sent_by
        for (_, other_family), value in self._sent_by.items():
            if other_family == family:
                return value
        for value in self._sent_by.values():
            return value
        raise LocalProtocolError("the endpoint has no listener: call add_listener first")

    def _via(self, hop: Hop, branch: str) -> str:
        return via_value(
            hop.transport, self._local_sent_by(hop.transport, family_of(hop.address[0])), branch
        )

    def _send(self, hop: Hop, data: bytes, summary: str, call_id: str | None, now: float) -> Hop:
        """Queue ``data`` for ``hop``; returns the hop actually used (a new TCP connection)."""
        transport = hop.transport
        if transport == "udp":
            local = hop.local
            if local is None:
                local = self._listeners.get(("udp", family_of(hop.address[0])))
            self._out.append(Transmit("udp", hop.address, data, None, local))
            if self._tracing:
                self._emit(now, "out", summary, data, hop.address, local, "udp", call_id)
            return hop
        connections = self._connections
        connection = connections.get(hop.connection)
        if connection is None:
            connection = connections.to(hop.address)
            if connection is None:
                connection = connections.open(self, hop.address, None, True, now)
                self._arm_idle(connection, now)
            hop = Hop("tcp", hop.address, connection.id, connection.local)
        connection.last_activity = now
        self._out.append(Transmit("tcp", connection.remote, data, connection.id, connection.local))
        if self._tracing:
            self._emit(
                now, "out", summary, data, connection.remote, connection.local, "tcp", call_id
            )
        return hop

    def _emit(
        self,
        now: float,
        direction: Literal["in", "out", "drop", "note"],
        summary: str,
        data: bytes,
        remote: Address | None,
        local: Address | None,
        transport: SipTransport,
        call_id: str | None,
    ) -> None:
        self._trace(
            TraceEvent(
                now, self._node, "sip", direction, summary, data, local, remote, transport, call_id
            )
        )

    def _drop(
        self,
        now: float,
        reason: str,
        data: bytes,
        remote: Address | None,
        local: Address | None,
        transport: SipTransport,
        call_id: str | None = None,
    ) -> None:
        if self._tracing:
            self._emit(now, "drop", reason, data, remote, local, transport, call_id)


def family_of(host: str) -> int:
    """4 or 6: the IP version of a numeric host."""
    return 6 if ":" in host else 4
