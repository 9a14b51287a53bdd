"""The UAC core of the endpoint (RFC 3261 sections 8.1, 9.1, 12.1.2, 12.2.1, 13.2 and 15.1.1).

Requests out of a dialog (:meth:`UacCore.new_request` / :meth:`UacCore.send_request`) and in one
(:meth:`UacCore.send_in_dialog`), CANCEL (held until a provisional response, section 9.1), the
ACK of a 2xx (:meth:`UacCore.send_ack`, re-sent for every retransmitted 2xx) and the dialogs the
responses to our INVITEs create -- several early ones when the request forks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gateway.errors import LocalProtocolError
from gateway.sip.address import Address as SipAddress
from gateway.sip.dialog import EARLY, TERMINATED, Dialog
from gateway.sip.endpoint_core import family_of
from gateway.sip.events import ClientTransactionId, DialogId, DialogTerminated, ResponseReceived
from gateway.sip.headers import Headers
from gateway.sip.message import Request, Response
from gateway.sip.routing import Hop, SipTransport, uri_hop, via_value
from gateway.sip.transaction import ClientTransaction, cancel_for
from gateway.sip.uas_core import UasCore

__all__ = ["UacCore"]

_ABSORBED = DialogId("", "", "")  # marker: a retransmitted 2xx, handled without an event


class UacCore(UasCore):
    """What the endpoint does as a UAC (see the module docstring)."""

    def new_request(
        self,
        method: str,
        uri: str,
        *,
        from_: str | SipAddress,
        to: str | SipAddress,
        call_id: str | None = None,
        cseq: int = 1,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        contact: str | None = None,
        transport: SipTransport = "udp",
    ) -> Request:
        """An out-of-dialog request (RFC 3261 section 8.1.1), ready for :meth:`send_request`.

        A From without a tag gets a fresh one; Call-ID is fresh unless given.  INVITE (and
        REGISTER, SUBSCRIBE, REFER) get our Contact unless ``contact`` is given.  The Via is a
        placeholder: ``send_request`` writes the real one.
        """
        from_text = str(from_)
        if ";tag=" not in from_text.lower():
            from_text = f"{from_text};tag={self.new_tag()}"
        pairs: list[tuple[str, str]] = [
            ("Via", via_value(transport, self._local_sent_by(transport, 4), "z9hG4bK.unsent")),
            ("Max-Forwards", "70"),
            ("From", from_text),
            ("To", str(to)),
            ("Call-ID", call_id or self.new_call_id()),
            ("CSeq", f"{cseq} {method}"),
        ]
        if contact is not None:
            pairs.append(("Contact", contact))
        elif method in ("INVITE", "REGISTER", "SUBSCRIBE", "REFER"):
            pairs.append(("Contact", self.local_contact(transport, 6 if "[" in uri else 4)))
        pairs += self._user_agent_header
        pairs += headers
        return Request.build(method, uri, Headers.of(pairs), body, content_type)

    def send_request(
        self, request: Request, now: float, *, destination: Hop | None = None
    ) -> ClientTransactionId:
        """Send an out-of-dialog request on a new client transaction.

        The top Via is replaced by ours (fresh branch, the transport actually used, ``rport``).
        Destination: ``destination`` if given, else the configured outbound proxy, else the
        first Route, else the Request-URI (numeric hosts only).  A UDP request over the size
        limit goes over TCP when a TCP listener exists (RFC 3261 section 18.1.1).
        """
        hop = destination or self.config.outbound_proxy or self._request_hop(request)
        branch = self.new_branch()
        headers = request.headers.without_first_value("via")

        def with_via(hop: Hop) -> Request:
            return request.with_headers(headers.prepend("Via", self._via(hop, branch)))

        return self._start_client(with_via, branch, hop, None, now)

    def _start_client(
        self,
        build: Callable[[Hop], Request],
        branch: str,
        hop: Hop,
        dialog: DialogId | None,
        now: float,
    ) -> ClientTransactionId:
        """Build the request for ``hop`` (again for TCP when too large for UDP) and send it."""
        request = build(hop)
        data = bytes(request)
        if (
            hop.transport == "udp"
            and len(data) > self.config.udp_size_limit
            and ("tcp", family_of(hop.address[0])) in self._listeners
        ):
            # RFC 3261 18.1.1: a request larger than the limit goes over a congestion-controlled
            # transport; the Via must say so.
            hop = Hop("tcp", hop.address)
            request = build(hop)
            data = bytes(request)
        transaction_id = ClientTransactionId(branch, request.method)
        if transaction_id in self._clients:
            raise LocalProtocolError(f"branch {branch} is already in use")
        transaction = ClientTransaction(self, transaction_id, request, hop, dialog, data)
        self._clients[transaction_id] = transaction
        transaction.start(now)
        return transaction_id

    def _request_hop(self, request: Request) -> Hop:
        routes = request.routes
        uri = routes[0].uri if routes else request.uri
        return uri_hop(uri)

    def cancel(
        self, transaction: ClientTransactionId, now: float, *, reason: str | None = None
    ) -> ClientTransactionId | None:
        """Cancel our pending INVITE (RFC 3261 section 9.1).

        Returns the CANCEL's transaction id, or None when the INVITE already has a final
        response or has ended (nothing to cancel).  Before any provisional response the CANCEL
        is held and sent when one arrives, as section 9.1 requires.  ``reason`` fills a Reason
        header (RFC 3326).
        """
        if transaction.method != "INVITE":
            raise LocalProtocolError(f"only an INVITE can be cancelled, not {transaction.method}")
        invite = self._clients.get(transaction)
        if invite is None or invite.final_seen or invite.terminated:
            return None
        cancel_id = ClientTransactionId(invite.id.branch, "CANCEL")
        if cancel_id in self._clients:
            return cancel_id
        if not invite.provisional_seen:
            invite.cancel_wanted = True
            self._held_cancels[transaction] = reason
            return cancel_id
        self._send_cancel(invite, reason, now)
        return cancel_id

    def _send_cancel(self, invite: ClientTransaction, reason: str | None, now: float) -> None:
        extra = () if reason is None else (("Reason", reason),)
        cancel = cancel_for(invite.request, extra)
        cancel_id = ClientTransactionId(invite.id.branch, "CANCEL")
        if cancel_id in self._clients:
            return
        transaction = ClientTransaction(self, cancel_id, cancel, invite.hop, invite.dialog)
        self._clients[cancel_id] = transaction
        transaction.start(now)
        invite.cancel_sent(now)

    def send_ack(
        self,
        dialog_id: DialogId,
        now: float,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Request:
        """The ACK of the 2xx to the dialog's last INVITE (RFC 3261 13.2.2.4).

        It may carry the SDP answer of a delayed offer.  The endpoint re-sends it whenever
        that 2xx is retransmitted.
        """
        dialog = self._live_dialog(dialog_id)
        hop = self._dialog_hop(dialog)
        ack = dialog.build_request(
            "ACK",
            self._via(hop, self.new_branch()),
            headers=headers,
            body=body,
            content_type=content_type,
        )
        data = bytes(ack)
        self._acks[dialog_id] = (dialog.invite_cseq, data, hop)
        self._send(hop, data, ack.summary, dialog_id.call_id, now)
        return ack

    def _resend_ack(self, dialog_id: DialogId, response: Response, now: float) -> bool:
        sent = self._acks.get(dialog_id)
        if sent is None or sent[0] != response.cseq.number:
            return False
        cseq, data, hop = sent
        self._send(hop, data, f"ACK (2xx retransmitted, CSeq {cseq})", dialog_id.call_id, now)
        return True

    def send_in_dialog(
        self,
        dialog_id: DialogId,
        method: str,
        now: float,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> ClientTransactionId:
        """A request inside a dialog: BYE, re-INVITE, INFO, UPDATE, ... (RFC 3261 12.2.1.1).

        BYE ends the dialog at once (section 15.1.1); its response still arrives as an event.
        """
        if method in ("ACK", "CANCEL"):
            raise LocalProtocolError(f"use send_ack / cancel for {method}")
        dialog = self._live_dialog(dialog_id)
        if dialog.state == EARLY and method == "BYE" and dialog.role == "uas":
            raise LocalProtocolError(
                "the callee must not send BYE in an early dialog (RFC 3261 15)"
            )
        branch = self.new_branch()
        extra = [*headers, *self._user_agent_header]
        cseq = dialog.next_cseq(method)

        def build(hop: Hop) -> Request:
            return dialog.build_request(
                method,
                self._via(hop, branch),
                cseq=cseq,
                headers=extra,
                body=body,
                content_type=content_type,
            )

        transaction_id = self._start_client(build, branch, self._dialog_hop(dialog), dialog_id, now)
        if method == "BYE":
            self._end_dialog(dialog_id)
        return transaction_id

    def resend_with_credentials(
        self,
        transaction: ClientTransactionId,
        credentials: Iterable[tuple[str, str]],
        now: float,
    ) -> ClientTransactionId:
        """Send again a request that a 401/407 refused, now carrying ``credentials``.

        RFC 3261 s22.2 / s8.1.3.5: the same request (Call-ID, From with its tag, To, Route,
        body) with the CSeq one higher -- the dialog's next CSeq when the request belongs to a
        live dialog, so later requests keep counting up -- a fresh branch, and the refused
        request's Authorization / Proxy-Authorization headers replaced by ``credentials``.  The
        ACK of the 401/407 to an INVITE was the old transaction's (s17.1.1.3).  Call it while
        handling the :class:`ResponseReceived` of the challenge: the refused transaction must
        still be known.  A CANCEL later sent for the new INVITE carries its branch and CSeq.
        """
        refused = self._clients.get(transaction)
        if refused is None or not refused.final_seen:
            raise LocalProtocolError(f"no challenged request {transaction.branch} to send again")
        request = refused.request
        method = request.method
        dialog = None if refused.dialog is None else self._dialogs.get(refused.dialog)
        if dialog is not None and dialog.state != TERMINATED:
            cseq = dialog.next_cseq(method)
        else:
            cseq = request.cseq.number + 1
        headers = (
            request.headers.without_first_value("via")
            .without("authorization")
            .without("proxy-authorization")
            .replace("CSeq", f"{cseq} {method}")
        )
        length = headers.get("content-length")
        headers = headers.without("content-length")  # stays the last header, as it was
        for name, value in credentials:
            headers = headers.with_header(name, value)
        if length is not None:
            headers = headers.with_header("Content-Length", length)
        branch = self.new_branch()

        def with_via(hop: Hop) -> Request:
            return request.with_headers(headers.prepend("Via", self._via(hop, branch)))

        return self._start_client(with_via, branch, refused.hop, refused.dialog, now)

    def _live_dialog(self, dialog_id: DialogId) -> Dialog:
        dialog = self._dialogs.get(dialog_id)
        if dialog is None or dialog.state == TERMINATED:
            raise LocalProtocolError(f"no live dialog {dialog_id}")
        return dialog

    def _dialog_hop(self, dialog: Dialog) -> Hop:
        uri = dialog.next_hop_uri()
        transport: SipTransport = "tcp" if dialog.transport == "tcp" else "udp"
        try:
            hop = uri_hop(uri, transport)
        except LocalProtocolError:
            # A host name in the peer's Contact: send where the dialog's messages came from.
            if dialog.peer is None:
                raise
            hop = Hop(transport, dialog.peer)
        if hop.transport == "tcp" and dialog.connection is not None:
            connection = self._connections.get(dialog.connection)
            if connection is not None:
                hop = Hop("tcp", hop.address, connection.id, connection.local)
        return hop

    def _client_response(
        self, transaction: ClientTransaction, response: Response, now: float
    ) -> None:
        """A response the client transaction passes up: dialogs, then the TU."""
        dialog_id = transaction.dialog
        status = response.status
        if transaction.is_invite and not self._proxy:
            dialog_id = self._invite_response_dialog(transaction, response, now)
            if dialog_id is _ABSORBED:
                return
            if status < 200 and transaction.cancel_wanted:
                transaction.cancel_wanted = False
                reason = self._held_cancels.pop(transaction.id, None)
                self._send_cancel(transaction, reason, now)
        elif dialog_id is not None and status in (481, 408):
            # RFC 3261 12.2.1.2: the peer no longer knows the dialog.
            self._events.append(ResponseReceived(transaction.id, response, dialog_id))
            if self._end_dialog(dialog_id):
                self._events.append(
                    DialogTerminated(dialog_id, f"{status} to {response.cseq.method}")
                )
            return
        elif dialog_id is not None and status < 300 and transaction.id.method == "UPDATE":
            dialog = self._dialogs.get(dialog_id)
            if dialog is not None:
                dialog.refresh_target(response)
        self._events.append(ResponseReceived(transaction.id, response, dialog_id))

    def _invite_response_dialog(
        self, transaction: ClientTransaction, response: Response, now: float
    ) -> DialogId | None:
        """Dialog bookkeeping for a response to our INVITE (RFC 3261 12.1.2, 13.2.2)."""
        status = response.status
        in_dialog = transaction.dialog
        if in_dialog is not None:  # a re-INVITE
            dialog = self._dialogs.get(in_dialog)
            if dialog is None:
                return in_dialog
            if 200 <= status < 300:
                if not self._first_success(transaction, response, dialog, now):
                    return _ABSORBED
                dialog.refresh_target(response)
            elif status in (481, 408):
                self._events.append(ResponseReceived(transaction.id, response, in_dialog))
                if self._end_dialog(in_dialog):
                    self._events.append(DialogTerminated(in_dialog, f"{status} to re-INVITE"))
                return _ABSORBED
            return in_dialog
        to_tag = response.to_tag
        if status == 100 or to_tag is None:
            if status >= 300:
                self._end_early_dialogs(transaction)
            return None
        dialog_id = DialogId(response.call_id, transaction.request.from_tag or "", to_tag)
        dialog = self._dialogs.get(dialog_id)
        if status < 200:
            if dialog is None:
                self._create_uac_dialog(transaction, response, dialog_id)
            return dialog_id
        if status < 300:
            if dialog is None and to_tag in transaction.success_tags:
                # A 2xx retransmitted after our BYE ended this dialog: the INVITE transaction
                # (RFC 6026 Accepted, until Timer M) absorbs it and our ACK goes out again
                # (RFC 3261 13.2.2.4) -- it must not bring the dialog back.
                self._resend_ack(dialog_id, response, now)
                return _ABSORBED
            if dialog is None:
                self._create_uac_dialog(transaction, response, dialog_id)
                transaction.success_tags.add(to_tag)
            elif not self._first_success(transaction, response, dialog, now):
                return _ABSORBED
            else:
                dialog.confirm(response)
            return dialog_id
        self._end_early_dialogs(transaction)
        return dialog_id if dialog is not None else None

    def _first_success(
        self, transaction: ClientTransaction, response: Response, dialog: Dialog, now: float
    ) -> bool:
        """False for a retransmitted 2xx (our ACK, if sent, goes out again)."""
        tag = response.to_tag or ""
        if tag in transaction.success_tags:
            self._resend_ack(dialog.id, response, now)
            return False
        transaction.success_tags.add(tag)
        return True

    def _create_uac_dialog(
        self, transaction: ClientTransaction, response: Response, dialog_id: DialogId
    ) -> None:
        hop = transaction.hop
        contact = transaction.request.headers.get("contact") or self.local_contact(
            hop.transport, family_of(hop.address[0])
        )
        dialog = Dialog.for_uac(
            transaction.request, response, contact, hop.transport, hop.connection
        )
        dialog.peer = hop.address
        self._dialogs[dialog_id] = dialog
        transaction.dialogs.append(dialog_id)

    def _end_early_dialogs(self, transaction: ClientTransaction) -> None:
        for early in transaction.dialogs:
            current = self._dialogs.get(early)
            if current is not None and current.state == EARLY:
                self._end_dialog(early)
