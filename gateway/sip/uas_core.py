"""The UAS core of the endpoint (RFC 3261 sections 8.2, 9.2, 12.1.1, 13.3 and 15.1.2).

It decides what happens to a new request before the TU sees it -- merged requests (482),
unknown dialogs (481), what :func:`~gateway.sip.uas_checks.check_request` refuses, out-of-order
CSeqs (500), CANCEL (200, and 487 for its INVITE) -- builds our responses
(:meth:`UasCore.respond`), keeps the UAS side of dialogs and retransmits our 2xx to an INVITE
until its ACK (:class:`AwaitingAck`).
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.errors import LocalProtocolError
from gateway.sip.dialog import CONFIRMED, EARLY, Dialog
from gateway.sip.endpoint_core import EndpointCore, family_of
from gateway.sip.events import (
    AckReceived,
    AckTimeout,
    CancelReceived,
    DialogId,
    DialogTerminated,
    RequestReceived,
    ServerTransactionId,
)
from gateway.sip.message import Request, Response
from gateway.sip.routing import Hop, SipTransport
from gateway.sip.timers import Timer
from gateway.sip.transaction import ServerTransaction
from gateway.sip.uas_checks import check_request
from gateway.trace import Address

__all__ = ["AwaitingAck", "UasCore"]

_DIALOG_METHODS = frozenset({"INVITE"})


class AwaitingAck:
    """Our 2xx to an INVITE, retransmitted until its ACK (RFC 3261 section 13.3.1.4).

    The interval starts at T1 and doubles up to T2; after 64*T1 the endpoint gives up and
    reports :class:`AckTimeout`.  One timer runs at a time (retransmission or give-up).
    """

    __slots__ = (
        "cseq",
        "data",
        "deadline",
        "dialog",
        "endpoint",
        "hop",
        "interval",
        "summary",
        "timer",
        "transaction",
    )

    def __init__(
        self,
        endpoint: UasCore,
        dialog: DialogId,
        transaction: ServerTransactionId,
        response: Response,
        data: bytes,
        hop: Hop,
        now: float,
    ) -> None:
        config = endpoint.timer_config
        self.endpoint = endpoint
        self.dialog = dialog
        self.transaction = transaction
        self.cseq = response.cseq.number
        self.data = data
        self.summary = response.summary
        self.hop = hop
        self.interval = config.t1
        self.deadline = now + config.transaction_timeout
        self.timer: Timer | None = endpoint.timers.schedule(self, "2xx", config.t1, now)

    def on_timer(self, name: str, now: float) -> None:
        self.timer = None
        self.endpoint.retransmit_2xx(self, now)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class UasCore(EndpointCore):
    """What the endpoint does as a UAS (see the module docstring)."""

    def _new_server(
        self,
        request: Request,
        transaction_id: ServerTransactionId,
        hop: Hop,
        source: Address,
        now: float,
        dialog: DialogId | None = None,
    ) -> ServerTransaction:
        to_tag = request.to_tag
        transaction = ServerTransaction(
            self,
            transaction_id,
            request,
            hop,
            source,
            to_tag if to_tag is not None else self.new_tag(),
            dialog,
        )
        self._servers[transaction_id] = transaction
        if to_tag is None:
            key = (request.call_id, request.from_tag, request.cseq.number, request.method)
            self._merge[key] = transaction_id
        transaction.start(now)
        return transaction

    def _ua_request(
        self,
        request: Request,
        transaction_id: ServerTransactionId,
        hop: Hop,
        source: Address,
        transport: SipTransport,
        now: float,
    ) -> None:
        to_tag = request.to_tag
        dialog: Dialog | None = None
        rejection: tuple[int, str, tuple[tuple[str, str], ...]] | None = None
        if to_tag is not None:
            dialog = self._dialogs.get(DialogId(request.call_id, to_tag, request.from_tag or ""))
            if dialog is None:
                # RFC 3261 12.2.2: a request for a dialog we do not know.
                rejection = (481, "no such dialog", ())
        else:
            key = (request.call_id, request.from_tag, request.cseq.number, request.method)
            if key in self._merge:
                # RFC 3261 8.2.2.2: same request arriving by a second path (a fork, a loop).
                rejection = (482, "merged request", ())
        if rejection is None:
            refused = check_request(request, self._capabilities)
            if refused is not None:
                rejection = (refused.status, refused.reason, refused.headers)
            elif dialog is not None and not dialog.accept_remote_cseq(request):
                rejection = (500, "CSeq lower than the dialog's", (("Retry-After", "0"),))
            elif dialog is None and request.method in _DIALOG_METHODS and request.contact is None:
                rejection = (400, "INVITE without Contact (RFC 3261 8.1.1.8)", ())
        transaction = self._new_server(
            request, transaction_id, hop, source, now, None if dialog is None else dialog.id
        )
        if rejection is not None:
            status, reason, headers = rejection
            if self._tracing:
                self._emit(
                    now,
                    "note",
                    f"rejected with {status}: {reason}",
                    b"",
                    source,
                    hop.local,
                    transport,
                    request.call_id,
                )
            self.respond(transaction_id, status, now, headers=headers)
            return
        self._events.append(
            RequestReceived(transaction_id, request, transaction.dialog, source, transport)
        )

    def _receive_cancel(
        self,
        request: Request,
        transaction_id: ServerTransactionId,
        hop: Hop,
        source: Address,
        transport: SipTransport,
        now: float,
    ) -> None:
        """RFC 3261 section 9.2 (UA) and 16.10 (proxy)."""
        invite_id = ServerTransactionId(transaction_id.branch, transaction_id.sent_by, "INVITE")
        invite = self._servers.get(invite_id)
        self._new_server(request, transaction_id, hop, source, now)
        if invite is None:
            if self._proxy:
                # 16.10: no matching transaction -- the TU forwards the CANCEL statelessly.
                self._events.append(
                    RequestReceived(transaction_id, request, None, source, transport)
                )
                return
            self.respond(transaction_id, 481, now)
            return
        self.respond(transaction_id, 200, now)
        if invite.final_sent or invite.cancelled:
            return  # section 9.2: a CANCEL after the final response has no effect
        invite.cancelled = True
        if not self._proxy:
            self.respond(invite_id, 487, now)
        self._events.append(CancelReceived(invite_id, request, invite.dialog))

    def _receive_ack(
        self,
        request: Request,
        source: Address,
        transport: SipTransport,
        local: Address | None,
        now: float,
    ) -> None:
        """An ACK matching no server transaction: the ACK of a 2xx (RFC 3261 13.3.1.4)."""
        if self._proxy:
            self._events.append(AckReceived(None, request, source, transport))
            return
        to_tag = request.to_tag
        dialog_id = DialogId(request.call_id, to_tag or "", request.from_tag or "")
        self._ack_for_2xx(dialog_id, request, source, transport, local, now)

    def _ack_for_2xx(
        self,
        dialog_id: DialogId,
        request: Request,
        source: Address,
        transport: SipTransport,
        local: Address | None,
        now: float,
    ) -> None:
        waiting = self._awaiting_ack.get(dialog_id)
        if waiting is None or waiting.cseq != request.cseq.number:
            reason = (
                "retransmitted ACK"
                if dialog_id in self._dialogs
                else "ACK matches no dialog or transaction"
            )
            self._drop(now, reason, b"", source, local, transport, request.call_id)
            return
        waiting.stop()
        del self._awaiting_ack[dialog_id]
        self._events.append(AckReceived(dialog_id, request, source, transport))

    def respond(
        self,
        transaction: ServerTransactionId,
        status: int,
        now: float,
        *,
        reason: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        to_tag: str | None = None,
        contact: str | None = None,
    ) -> Response:
        """Answer a request we received (RFC 3261 section 8.2.6).

        The To tag is the transaction's (one per INVITE) unless ``to_tag`` is given.  A 101-299
        to an INVITE gets our Contact (or ``contact``) and the request's Record-Route, and
        makes or confirms the UAS dialog; our 2xx is then retransmitted until the ACK.  A 2xx to
        BYE ends the dialog (and answers a still unanswered INVITE of it with 487, section
        15.1.2).
        """
        server = self._servers.get(transaction)
        if server is None:
            raise LocalProtocolError(f"no server transaction {transaction} (already ended?)")
        request = server.request
        extra: list[tuple[str, str]] = list(headers)
        if 100 < status < 300 and server.is_invite and not self._proxy:
            if not any(name.lower() in ("contact", "m") for name, _ in extra):
                hop = server.hop
                extra.append(
                    (
                        "Contact",
                        contact or self.local_contact(hop.transport, family_of(hop.address[0])),
                    )
                )
            if request.to_tag is None:
                extra += [
                    ("Record-Route", value) for value in request.headers.get_all("record-route")
                ]
        if self._server_header:
            extra += self._server_header
        tag = to_tag or (server.local_tag if request.to_tag is None and status != 100 else None)
        response = Response.for_request(request, status, reason, tag, extra, body, content_type)
        self._send_response(server, response, now)
        return response

    def send_response(
        self, transaction: ServerTransactionId, response: Response, now: float
    ) -> None:
        """Send a response built by the TU (a B2BUA or proxy relaying one) on ``transaction``."""
        server = self._servers.get(transaction)
        if server is None:
            raise LocalProtocolError(f"no server transaction {transaction} (already ended?)")
        self._send_response(server, response, now)

    def _send_response(self, server: ServerTransaction, response: Response, now: float) -> None:
        if not self._proxy:
            self._uas_dialog_rules(server, response, now)
        data = bytes(response)
        server.respond(response, now, data)
        if (
            not self._proxy
            and server.is_invite
            and 200 <= response.status < 300
            and server.dialog is not None
        ):
            previous = self._awaiting_ack.pop(server.dialog, None)
            if previous is not None:
                previous.stop()
            self._awaiting_ack[server.dialog] = AwaitingAck(
                self, server.dialog, server.id, response, data, server.hop, now
            )

    def _uas_dialog_rules(self, server: ServerTransaction, response: Response, now: float) -> None:
        status = response.status
        request = server.request
        method = request.method
        if method == "INVITE":
            to_tag = response.to_tag
            if server.dialog is None and 100 < status < 300 and to_tag is not None:
                dialog_id = DialogId(request.call_id, to_tag, request.from_tag or "")
                dialog = self._dialogs.get(dialog_id)
                if dialog is None:
                    hop = server.hop
                    contact = response.contact
                    dialog = Dialog.for_uas(
                        request,
                        to_tag,
                        status,
                        str(contact)
                        if contact is not None
                        else self.local_contact(hop.transport, family_of(hop.address[0])),
                        hop.transport,
                        hop.connection,
                    )
                    dialog.peer = server.source
                    self._dialogs[dialog_id] = dialog
                server.dialog = dialog_id
            dialog = None if server.dialog is None else self._dialogs.get(server.dialog)
            if dialog is None:
                return
            if status < 200:
                if dialog.state == EARLY:
                    self._unanswered_invites[dialog.id] = server.id
                return
            self._unanswered_invites.pop(dialog.id, None)
            if status < 300:
                dialog.state = CONFIRMED
                dialog.refresh_target(request)
            elif dialog.state == EARLY:
                self._end_dialog(dialog.id)
        elif method == "BYE" and 200 <= status < 300 and server.dialog is not None:
            dialog_id = server.dialog
            unanswered = self._unanswered_invites.pop(dialog_id, None)
            invite = None if unanswered is None else self._servers.get(unanswered)
            if invite is not None and not invite.final_sent:
                self.respond(invite.id, 487, now)
                self._end_dialog(dialog_id)
                self._events.append(DialogTerminated(dialog_id, "BYE in an early dialog"))
            else:
                self._end_dialog(dialog_id)
        elif method == "UPDATE" and 200 <= status < 300 and server.dialog is not None:
            dialog = self._dialogs.get(server.dialog)
            if dialog is not None:
                dialog.refresh_target(request)

    def retransmit_2xx(self, waiting: AwaitingAck, now: float) -> None:
        """Timer of a 2xx awaiting its ACK: re-send it, or give up after 64*T1."""
        if self._awaiting_ack.get(waiting.dialog) is not waiting:
            return
        if now >= waiting.deadline:
            del self._awaiting_ack[waiting.dialog]
            self._events.append(AckTimeout(waiting.dialog, waiting.transaction))
            return
        server = self._servers.get(waiting.transaction)
        if server is not None:
            waiting.hop = server.hop
        waiting.hop = self._send(
            waiting.hop, waiting.data, waiting.summary, waiting.dialog.call_id, now
        )
        waiting.interval = min(2 * waiting.interval, self.timer_config.t2)
        delay = min(waiting.interval, waiting.deadline - now)
        waiting.timer = self.timers.schedule(waiting, "2xx", delay, now)
