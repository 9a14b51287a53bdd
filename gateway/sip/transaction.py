"""RFC 3261 section 17 transactions as plain state tables, with RFC 6026's Accepted state.

Four machines, each a ``{(state, input): (next state, actions)}`` table written below as data:

* INVITE client (section 17.1.1, figure 5; RFC 6026 section 7.2 adds Accepted and Timer M),
* non-INVITE client (section 17.1.2, figure 6),
* INVITE server (section 17.2.1, figure 7; RFC 6026 section 7.1 adds Accepted and Timer L),
* non-INVITE server (section 17.2.2, figure 8).

A new server transaction does not pass its request up itself: the endpoint does, after deciding
whether the request is acceptable (it may answer it at once: 481, 482, 405 ...).

An input missing from a table is ignored, which is exactly what the RFC asks for the inputs its
figures leave out (a 1xx in Completed, a request retransmission while Trying, ...); a TU response
the table does not allow raises :class:`LocalProtocolError`.

Why RFC 6026: with plain RFC 3261 the INVITE server transaction ends on a 2xx, so a retransmitted
INVITE looks like a new request, and a client transaction ends on the first 2xx, so a forked 2xx
has nowhere to go.  The Accepted states absorb retransmitted INVITEs and pass later 2xx up for
64*T1.  The 2xx itself is still retransmitted by the UAS core until the ACK (section 13.3.1.4) and
the ACK for 2xx is still sent by the UAC core: those live in the endpoint, not here.

A transaction talks to its owner through :class:`TransactionHost` (the endpoint): it sends bytes
to its :class:`~gateway.sip.routing.Hop`, hands messages up, reports failures (408/503) and its
end.  Timers go through the owner's :class:`~gateway.sip.timers.TimerQueue`; a timer of zero
duration (D, I, J, K over TCP) fires at once, inside the same step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

from gateway.errors import LocalProtocolError
from gateway.sip.events import ClientTransactionId, DialogId, ServerTransactionId
from gateway.sip.headers import Headers
from gateway.sip.message import Request, Response
from gateway.sip.routing import Hop
from gateway.sip.timers import Timer, TimerConfig, TimerQueue

__all__ = [
    "CLIENT_INVITE",
    "CLIENT_NON_INVITE",
    "SERVER_INVITE",
    "SERVER_NON_INVITE",
    "ClientTransaction",
    "ServerTransaction",
    "Table",
    "TransactionHost",
    "ack_for_failure",
    "cancel_for",
    "server_transaction_id",
]

# -- states and inputs ---------------------------------------------------------------------

INITIAL: Final = "initial"
CALLING: Final = "calling"
TRYING: Final = "trying"
PROCEEDING: Final = "proceeding"
COMPLETED: Final = "completed"
CONFIRMED: Final = "confirmed"
ACCEPTED: Final = "accepted"
TERMINATED: Final = "terminated"

START: Final = "start"
PROVISIONAL: Final = "1xx"  # a response from the network (client) ...
SUCCESS: Final = "2xx"
FAILURE: Final = "3xx-6xx"
TU_PROVISIONAL: Final = "TU 1xx"  # ... or from the TU (server)
TU_SUCCESS: Final = "TU 2xx"
TU_FAILURE: Final = "TU 3xx-6xx"
REQUEST: Final = "request retransmission"
ACK: Final = "ACK"
TRANSPORT_ERROR: Final = "transport error"
CANCEL_SENT: Final = "CANCEL sent"
# Timer inputs are the timer names: "A" ... "M", "trying" (RFC 3261 17.2.1's 200 ms) and
# "cancel" (section 9.1: no final response 64*T1 after our CANCEL).

Action = tuple[str, str]
Transition = tuple[str, tuple[Action, ...]]
Table = dict[tuple[str, str], Transition]


def _go(state: str, *actions: str) -> Transition:
    """A transition; each action is ``"verb"`` or ``"verb argument"``."""
    parsed: list[Action] = []
    for action in actions:
        verb, _, argument = action.partition(" ")
        parsed.append((verb, argument))
    return state, tuple(parsed)


# -- the four machines ---------------------------------------------------------------------
# Verbs: send/resend the request, ack (a non-2xx), tu (pass the message up), respond (the TU's
# response), resend (the last response; "or-trying": a 100 when there is none yet), trying (100
# unless a response went out), fail
# timeout|transport, start/stop a timer, and the retransmission interval rules: double (A,
# uncapped), backoff (E, G: doubled, capped at T2), t2 (E in Proceeding).

CLIENT_INVITE: Table = {
    (INITIAL, START): _go(CALLING, "send", "start A", "start B"),
    (CALLING, "A"): _go(CALLING, "resend", "double A"),
    (CALLING, "B"): _go(TERMINATED, "fail timeout"),
    (CALLING, PROVISIONAL): _go(PROCEEDING, "stop A", "stop B", "tu"),
    (CALLING, SUCCESS): _go(ACCEPTED, "stop A", "stop B", "tu", "start M"),
    (CALLING, FAILURE): _go(COMPLETED, "stop A", "stop B", "ack", "tu", "start D"),
    (CALLING, TRANSPORT_ERROR): _go(TERMINATED, "fail transport"),
    (PROCEEDING, PROVISIONAL): _go(PROCEEDING, "tu"),
    (PROCEEDING, SUCCESS): _go(ACCEPTED, "stop cancel", "tu", "start M"),
    (PROCEEDING, FAILURE): _go(COMPLETED, "stop cancel", "ack", "tu", "start D"),
    (PROCEEDING, TRANSPORT_ERROR): _go(TERMINATED, "fail transport"),
    (PROCEEDING, CANCEL_SENT): _go(PROCEEDING, "start cancel"),
    (PROCEEDING, "cancel"): _go(TERMINATED, "fail timeout"),
    (ACCEPTED, SUCCESS): _go(ACCEPTED, "tu"),
    (ACCEPTED, "M"): _go(TERMINATED),
    (COMPLETED, FAILURE): _go(COMPLETED, "ack"),
    (COMPLETED, TRANSPORT_ERROR): _go(TERMINATED),
    (COMPLETED, "D"): _go(TERMINATED),
}

CLIENT_NON_INVITE: Table = {
    (INITIAL, START): _go(TRYING, "send", "start E", "start F"),
    (TRYING, "E"): _go(TRYING, "resend", "backoff E"),
    (TRYING, "F"): _go(TERMINATED, "fail timeout"),
    (TRYING, TRANSPORT_ERROR): _go(TERMINATED, "fail transport"),
    (TRYING, PROVISIONAL): _go(PROCEEDING, "tu"),
    (TRYING, SUCCESS): _go(COMPLETED, "stop E", "stop F", "tu", "start K"),
    (TRYING, FAILURE): _go(COMPLETED, "stop E", "stop F", "tu", "start K"),
    (PROCEEDING, "E"): _go(PROCEEDING, "resend", "t2 E"),
    (PROCEEDING, "F"): _go(TERMINATED, "fail timeout"),
    (PROCEEDING, TRANSPORT_ERROR): _go(TERMINATED, "fail transport"),
    (PROCEEDING, PROVISIONAL): _go(PROCEEDING, "tu"),
    (PROCEEDING, SUCCESS): _go(COMPLETED, "stop E", "stop F", "tu", "start K"),
    (PROCEEDING, FAILURE): _go(COMPLETED, "stop E", "stop F", "tu", "start K"),
    (COMPLETED, "K"): _go(TERMINATED),
}

SERVER_INVITE: Table = {
    (INITIAL, START): _go(PROCEEDING, "start trying"),
    (PROCEEDING, "trying"): _go(PROCEEDING, "trying"),
    (PROCEEDING, REQUEST): _go(PROCEEDING, "resend or-trying"),
    (PROCEEDING, TU_PROVISIONAL): _go(PROCEEDING, "stop trying", "respond"),
    (PROCEEDING, TU_SUCCESS): _go(ACCEPTED, "stop trying", "respond", "start L"),
    (PROCEEDING, TU_FAILURE): _go(COMPLETED, "stop trying", "respond", "start G", "start H"),
    (PROCEEDING, TRANSPORT_ERROR): _go(TERMINATED, "fail transport"),
    (COMPLETED, REQUEST): _go(COMPLETED, "resend"),
    (COMPLETED, "G"): _go(COMPLETED, "resend", "backoff G"),
    (COMPLETED, ACK): _go(CONFIRMED, "stop G", "stop H", "start I"),
    (COMPLETED, "H"): _go(TERMINATED, "fail timeout"),
    (COMPLETED, TRANSPORT_ERROR): _go(TERMINATED, "fail transport"),
    (CONFIRMED, "I"): _go(TERMINATED),
    (ACCEPTED, TU_SUCCESS): _go(ACCEPTED, "respond"),
    (ACCEPTED, ACK): _go(ACCEPTED, "tu"),
    (ACCEPTED, "L"): _go(TERMINATED),
}

SERVER_NON_INVITE: Table = {
    (INITIAL, START): _go(TRYING),
    (TRYING, TU_PROVISIONAL): _go(PROCEEDING, "respond"),
    (TRYING, TU_SUCCESS): _go(COMPLETED, "respond", "start J"),
    (TRYING, TU_FAILURE): _go(COMPLETED, "respond", "start J"),
    (PROCEEDING, TU_PROVISIONAL): _go(PROCEEDING, "respond"),
    (PROCEEDING, TU_SUCCESS): _go(COMPLETED, "respond", "start J"),
    (PROCEEDING, TU_FAILURE): _go(COMPLETED, "respond", "start J"),
    (PROCEEDING, REQUEST): _go(PROCEEDING, "resend"),
    (PROCEEDING, TRANSPORT_ERROR): _go(TERMINATED, "fail transport"),
    (COMPLETED, REQUEST): _go(COMPLETED, "resend"),
    (COMPLETED, TRANSPORT_ERROR): _go(TERMINATED),
    (COMPLETED, "J"): _go(TERMINATED),
}

_RETRANSMISSION_TIMERS = frozenset({"A", "E", "G"})  # unreliable transports only


def timer_duration(name: str, config: TimerConfig, reliable: bool) -> float | None:
    """How long timer ``name`` runs; None when it does not run on this transport."""
    if name in _RETRANSMISSION_TIMERS:
        return None if reliable else config.t1
    if name in ("B", "F", "H", "L", "M", "cancel"):
        return config.transaction_timeout
    if name == "D":
        return config.d(reliable)
    if name == "I":
        return config.i(reliable)
    if name == "J":
        return config.j(reliable)
    if name == "K":
        return config.k(reliable)
    if name == "trying":
        return config.trying_delay
    raise LocalProtocolError(f"unknown transaction timer {name!r}")


class TransactionHost(Protocol):
    """What a transaction needs from its owner (the endpoint)."""

    timers: TimerQueue
    timer_config: TimerConfig

    def transaction_transmit(
        self, transaction: Transaction, data: bytes, summary: str, now: float
    ) -> None: ...

    def transaction_deliver(
        self, transaction: Transaction, message: Request | Response, now: float
    ) -> None: ...

    def transaction_failed(
        self, transaction: Transaction, status: int, reason: str, now: float
    ) -> None: ...

    def transaction_terminated(self, transaction: Transaction, now: float) -> None: ...


class _Machine:
    """The table interpreter shared by client and server transactions."""

    __slots__ = ("_due_now", "_failure", "_interval", "_table", "_timers", "hop", "host", "state")

    _table: Table
    # Verb name -> method; each subclass adds its own (typed loosely: methods of subclasses).
    _verbs: dict[str, Callable[[Any, str, float], None]]

    def __init__(self, host: TransactionHost, hop: Hop) -> None:
        self.host = host
        self.hop = hop
        self.state: str = INITIAL
        self._timers: dict[str, Timer] = {}
        self._interval = 0.0
        self._due_now: list[str] = []
        self._failure = ""

    @property
    def reliable(self) -> bool:
        return self.hop.transport != "udp"

    @property
    def terminated(self) -> bool:
        return self.state == TERMINATED

    def _input(self, event: str, now: float) -> bool:
        """Run one transition; False when the table has none for this state and input."""
        transition = self._table.get((self.state, event))
        if transition is None:
            return False
        self.state, actions = transition
        verbs = self._verbs
        for verb, argument in actions:
            verbs[verb](self, argument, now)
        if self.state == TERMINATED:
            self._end(now)
            return True
        while self._due_now and self.state != TERMINATED:
            self._input(self._due_now.pop(0), now)
        return True

    def on_timer(self, name: str, now: float) -> None:
        self._timers.pop(name, None)
        self._input(name, now)

    def transport_error(self, reason: str, now: float) -> None:
        """The transport could not deliver what this transaction sent (RFC 3261 17.1.4)."""
        self._failure = reason
        self._input(TRANSPORT_ERROR, now)

    def _end(self, now: float) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._due_now.clear()
        self.host.transaction_terminated(self, now)  # type: ignore[arg-type]

    # -- timer verbs -------------------------------------------------------------------------

    def _start(self, name: str, now: float) -> None:
        config = self.host.timer_config
        duration = timer_duration(name, config, self.reliable)
        if duration is None:
            return
        if name in _RETRANSMISSION_TIMERS:
            self._interval = duration
        self._arm(name, duration, now)

    def _arm(self, name: str, duration: float, now: float) -> None:
        if duration <= 0:
            self._due_now.append(name)
            return
        old = self._timers.get(name)
        if old is not None:
            old.cancel()
        self._timers[name] = self.host.timers.schedule(self, name, duration, now)

    def _stop(self, name: str, now: float) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _double(self, name: str, now: float) -> None:
        # Timer A doubles without a cap (RFC 3261 17.1.1.2); Timer B ends the sequence.
        self._interval *= 2
        self._arm(name, self._interval, now)

    def _backoff(self, name: str, now: float) -> None:
        # Timers E and G double up to T2 (sections 17.1.2.2 and 17.2.1).
        self._interval = min(2 * self._interval, self.host.timer_config.t2)
        self._arm(name, self._interval, now)

    def _t2(self, name: str, now: float) -> None:
        # Timer E in Proceeding restarts at T2 (section 17.1.2.2).
        self._interval = self.host.timer_config.t2
        self._arm(name, self._interval, now)

    def _fail(self, kind: str, now: float) -> None:
        status = 503 if kind == "transport" else 408
        self.host.transaction_failed(self, status, self._failure or kind, now)  # type: ignore[arg-type]

    def timer(self, name: str) -> Timer | None:
        """The running timer called ``name`` (for tests and diagnostics)."""
        return self._timers.get(name)


_COMMON_VERBS: dict[str, Callable[[Any, str, float], None]] = {
    "start": _Machine._start,
    "stop": _Machine._stop,
    "double": _Machine._double,
    "backoff": _Machine._backoff,
    "t2": _Machine._t2,
    "fail": _Machine._fail,
}


class ClientTransaction(_Machine):
    """A request we sent and the responses it gets (RFC 3261 section 17.1).

    ``data`` are the request's octets (retransmitted as they are); ``dialog`` the dialog an
    in-dialog request belongs to, ``dialogs`` those an initial INVITE's responses created.
    ``provisional_seen`` / ``final_seen`` and ``cancel_wanted`` serve CANCEL (section 9.1: not
    before a provisional response, not after a final one).
    """

    __slots__ = (
        "_response",
        "ack_data",
        "cancel_wanted",
        "data",
        "dialog",
        "dialogs",
        "final_seen",
        "id",
        "provisional_seen",
        "request",
        "success_tags",
        "summary",
    )

    def __init__(
        self,
        host: TransactionHost,
        transaction_id: ClientTransactionId,
        request: Request,
        hop: Hop,
        dialog: DialogId | None = None,
        data: bytes | None = None,
    ) -> None:
        super().__init__(host, hop)
        self.id = transaction_id
        self.request = request
        self.data = bytes(request) if data is None else data
        self.summary = request.summary
        self.dialog = dialog
        self.ack_data: bytes | None = None
        self.provisional_seen = False
        self.final_seen = False
        self.cancel_wanted = False
        # INVITE only: dialogs its responses created (forking makes several) and the To tags
        # of the 2xx responses already passed up (a repeat is a retransmission).
        self.dialogs: list[DialogId] = []
        self.success_tags: set[str] = set()
        self._response: Response | None = None
        self._table = CLIENT_INVITE if request.method == "INVITE" else CLIENT_NON_INVITE

    @property
    def is_invite(self) -> bool:
        return self._table is CLIENT_INVITE

    def start(self, now: float) -> None:
        self._input(START, now)

    def receive_response(self, response: Response, now: float) -> bool:
        """Feed a matching response; False when the state machine ignored it."""
        status = response.status
        if status < 200:
            event = PROVISIONAL
            self.provisional_seen = True
        else:
            event = SUCCESS if status < 300 else FAILURE
            self.final_seen = True
        self._response = response
        return self._input(event, now)

    def cancel_sent(self, now: float) -> None:
        """Our CANCEL went out: give the INVITE 64*T1 to end (RFC 3261 section 9.1)."""
        self._failure = "no final response within 64*T1 of the CANCEL"
        self._input(CANCEL_SENT, now)

    def on_timer(self, name: str, now: float) -> None:
        if name in ("B", "F"):
            self._failure = f"Timer {name}: no final response within 64*T1"
        super().on_timer(name, now)

    # -- verbs ---------------------------------------------------------------------------------

    def _send(self, _argument: str, now: float) -> None:
        self.host.transaction_transmit(self, self.data, self.summary, now)

    def _ack(self, _argument: str, now: float) -> None:
        # Section 17.1.1.3: the ACK of a non-2xx goes where the INVITE went, in this transaction.
        response = self._response
        assert response is not None
        if self.ack_data is None:
            self.ack_data = bytes(ack_for_failure(self.request, response))
        self.host.transaction_transmit(self, self.ack_data, f"ACK {self.request.uri_text}", now)

    def _tu(self, _argument: str, now: float) -> None:
        response = self._response
        assert response is not None
        self.host.transaction_deliver(self, response, now)

    def __repr__(self) -> str:
        return f"<ClientTransaction {self.id.method} {self.id.branch} {self.state}>"


ClientTransaction._verbs = {
    **_COMMON_VERBS,
    "send": ClientTransaction._send,
    "resend": ClientTransaction._send,
    "ack": ClientTransaction._ack,
    "tu": ClientTransaction._tu,
}


class ServerTransaction(_Machine):
    """A request we received and our responses to it (RFC 3261 section 17.2).

    ``local_tag`` is the To tag every response of this transaction carries (one per INVITE, so
    all its provisional and final responses agree); ``dialog`` the dialog of an in-dialog
    request, or the one our responses created.  ``response`` is the last response sent.
    """

    __slots__ = (
        "_ack",
        "_response_data",
        "_response_summary",
        "cancelled",
        "dialog",
        "id",
        "local_tag",
        "request",
        "response",
        "source",
    )

    def __init__(
        self,
        host: TransactionHost,
        transaction_id: ServerTransactionId,
        request: Request,
        hop: Hop,
        source: tuple[str, int],
        local_tag: str,
        dialog: DialogId | None = None,
    ) -> None:
        super().__init__(host, hop)
        self.id = transaction_id
        self.request = request
        self.source = source
        self.local_tag = local_tag
        self.dialog = dialog
        self.response: Response | None = None
        self.cancelled = False
        self._response_data = b""
        self._response_summary = ""
        self._ack: Request | None = None
        self._table = SERVER_INVITE if request.method == "INVITE" else SERVER_NON_INVITE

    @property
    def is_invite(self) -> bool:
        return self._table is SERVER_INVITE

    @property
    def final_sent(self) -> bool:
        response = self.response
        return response is not None and response.status >= 200

    def start(self, now: float) -> None:
        self._input(START, now)

    def receive_request(self, request: Request, now: float) -> bool:
        """A retransmission of our request, or the ACK of an INVITE; False when ignored."""
        if request.method == "ACK":
            self._ack = request
            return self._input(ACK, now)
        return self._input(REQUEST, now)

    def respond(self, response: Response, now: float, data: bytes | None = None) -> None:
        """Send the TU's response; LocalProtocolError when the state does not allow it."""
        status = response.status
        event = TU_PROVISIONAL if status < 200 else TU_SUCCESS if status < 300 else TU_FAILURE
        if (self.state, event) not in self._table:
            raise LocalProtocolError(
                f"cannot send {status} on a {self.request.method} transaction in state {self.state}"
            )
        self.response = response
        self._response_data = bytes(response) if data is None else data
        self._response_summary = response.summary
        self._input(event, now)

    def on_timer(self, name: str, now: float) -> None:
        if name == "H":
            self._failure = "Timer H: no ACK for the final response within 64*T1"
        super().on_timer(name, now)

    # -- verbs ---------------------------------------------------------------------------------

    def _respond(self, _argument: str, now: float) -> None:
        self.host.transaction_transmit(self, self._response_data, self._response_summary, now)

    def _resend(self, argument: str, now: float) -> None:
        if self._response_data:
            self.host.transaction_transmit(self, self._response_data, self._response_summary, now)
        elif argument == "or-trying":
            self._trying(argument, now)

    def _trying(self, _argument: str, now: float) -> None:
        # Section 17.2.1: 100 Trying when the TU has not answered within 200 ms; a retransmitted
        # INVITE before any response gets one too.
        if self.response is None:
            trying = Response.for_request(self.request, 100)
            self.response = trying
            self._response_data = bytes(trying)
            self._response_summary = trying.summary
            self.host.transaction_transmit(self, self._response_data, trying.summary, now)

    def _tu(self, _argument: str, now: float) -> None:
        message = self.request if self._ack is None else self._ack
        self._ack = None
        self.host.transaction_deliver(self, message, now)

    def __repr__(self) -> str:
        return f"<ServerTransaction {self.id.method} {self.id.branch} {self.state}>"


ServerTransaction._verbs = {
    **_COMMON_VERBS,
    "respond": ServerTransaction._respond,
    "resend": ServerTransaction._resend,
    "trying": ServerTransaction._trying,
    "tu": ServerTransaction._tu,
}

Transaction = ClientTransaction | ServerTransaction


# -- matching (RFC 3261 sections 17.1.3 and 17.2.3) ------------------------------------------


def server_transaction_id(request: Request) -> ServerTransactionId:
    """The server transaction ``request`` belongs to; an ACK maps to its INVITE.

    With an RFC 3261 branch: branch, sent-by and method.  Without one (RFC 2543 peers), the
    section 17.2.3 fields stand in for the branch: Request-URI, From tag, Call-ID, CSeq number
    and the top Via (the To tag is left out so an ACK, whose To carries our tag, matches its
    INVITE).
    """
    via = request.via
    method = request.method
    if method == "ACK":
        method = "INVITE"
    port = via.port
    sent_by = via.host.lower() if port is None else f"{via.host.lower()}:{port}"
    if via.is_rfc3261_branch:
        branch = via.branch
        assert branch is not None
        return ServerTransactionId(branch, sent_by, method)
    legacy = (
        f"rfc2543|{request.uri_text}|{request.from_tag}|{request.call_id}|"
        f"{request.cseq.number}|{via.render()}"
    )
    return ServerTransactionId(legacy, sent_by, method)


# -- requests the transaction layer builds ---------------------------------------------------


def ack_for_failure(request: Request, response: Response) -> Request:
    """The ACK for a non-2xx final response to ``request`` (RFC 3261 section 17.1.1.3).

    Request-URI, Call-ID, From, CSeq number and Route as in the INVITE; To from the response
    (its tag); the INVITE's top Via only.
    """
    lines = [f"Via: {request.via.render()}", "Max-Forwards: 70"]
    keys = ["via", "max-forwards"]
    for line, key in zip(request.headers.lines, request.headers.keys, strict=True):
        if key in ("from", "call-id", "route"):
            lines.append(line)
            keys.append(key)
    to_index = response.headers.keys.index("to")
    lines.append(response.headers.lines[to_index])
    keys.append("to")
    lines.append(f"CSeq: {request.cseq.number} ACK")
    keys.append("cseq")
    lines.append("Content-Length: 0")
    keys.append("content-length")
    return Request("ACK", request.uri_text, Headers(tuple(lines), tuple(keys)))


def cancel_for(request: Request, extra_headers: tuple[tuple[str, str], ...] = ()) -> Request:
    """The CANCEL of ``request`` (RFC 3261 section 9.1).

    Request-URI, Call-ID, To, From, CSeq number and Route as in the request; only its top Via
    (so the branch matches and the CANCEL takes the same path).
    """
    lines = [f"Via: {request.via.render()}", "Max-Forwards: 70"]
    keys = ["via", "max-forwards"]
    for line, key in zip(request.headers.lines, request.headers.keys, strict=True):
        if key in ("from", "to", "call-id", "route"):
            lines.append(line)
            keys.append(key)
    lines.append(f"CSeq: {request.cseq.number} CANCEL")
    keys.append("cseq")
    headers = Headers(tuple(lines), tuple(keys))
    for name, value in extra_headers:
        headers = headers.with_header(name, value)
    return Request.build("CANCEL", request.uri_text, headers)
