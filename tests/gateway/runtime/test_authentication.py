"""GW-A's INVITE meets a digest challenge on real sockets (RFC 3261 s22.2).

GW-B's place is taken by a gwemu UAS (:class:`~gateway.aio.sip_uas_peer.UasPeer` on its own
SIP endpoint and UDP socket) that challenges every INVITE with
:class:`~gateway.sip.auth_server.DigestChallenger` before answering it.  GW-A's credentials come
from its configuration file (``[[authentication]]``).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from gateway.aio.sip_peers import CallRecord
from gateway.aio.sip_transport import SipTransport
from gateway.aio.sip_uas_peer import UasOptions, UasPeer
from gateway.aio.virtual_time import run_virtual
from gateway.calls.plan import SipCredential
from gateway.config import ConfigErrors
from gateway.config.gateway_schema import load_gateway_text
from gateway.sip.auth_header import parse_credentials
from gateway.sip.auth_server import DigestChallenger
from gateway.sip.endpoint import EndpointConfig, SipEndpoint
from gateway.sip.events import EndpointEvent, RequestReceived
from gateway.sip.message import Request
from gateway.sip.parser import parse_datagram

REALM = "itsp.example"


class ChallengingUas:
    """A UAS that wants digest credentials on every INVITE, then answers it."""

    def __init__(self, password: str = "s3cret") -> None:
        self.endpoint = SipEndpoint(EndpointConfig(node="ITSP"), rng=random.Random(5))
        self.records: list[CallRecord] = []
        self.peer = UasPeer(self.endpoint, UasOptions(ring=0.2), self.records.append)
        self.challenger = DigestChallenger(
            REALM,
            b"itsp-nonce-secret-0123",
            lambda user, realm: password if user == "gw-a" else None,
            rng=random.Random(6),
        )
        self.invites: list[Request] = []
        self.transport: SipTransport | None = None
        self.port = 0

    async def start(self) -> None:
        self.transport = SipTransport(self.endpoint, self, asyncio.get_running_loop())
        self.port = (await self.transport.listen_udp("127.0.0.1", 0))[1]

    async def stop(self) -> None:
        if self.transport is not None:
            await self.transport.aclose()

    # -- SipApplication

    def get_timer(self) -> float | None:
        return self.peer.get_timer()

    def handle_timer(self, now: float) -> None:
        self.peer.handle_timer(now)

    def handle_event(self, event: EndpointEvent, now: float) -> None:
        if isinstance(event, RequestReceived) and event.request.method == "INVITE":
            request = event.request
            self.invites.append(request)
            if event.dialog is None:
                verdict = self.challenger.verify(
                    "INVITE", request.uri_text, request.headers.get_all("authorization"), now
                )
                if not verdict.ok:
                    assert verdict.status is not None
                    self.endpoint.respond(
                        event.transaction, verdict.status, now, headers=verdict.headers
                    )
                    return
        self.peer.handle_event(event, now)


def config(port: int, password: str) -> dict[str, str]:
    credentials = (
        f'[[authentication]]\nusername = "gw-a"\npassword = "{password}"\nrealm = "{REALM}"\n'
    )
    return {"b_target": f"127.0.0.1:{port}", "a_extra": credentials}


def test_the_challenged_invite_is_sent_again_and_the_call_completes(flow: Any) -> None:
    uas = ChallengingUas()

    async def main() -> None:
        await uas.start()
        try:
            async with flow.world(flow.Options(**config(uas.port, "s3cret"))) as w:
                w.pbx_a.dial("1000", "5551234")
                await w.phone(w.pbx_a, "1000", "far-end-answered")
                first, second = uas.invites
                assert first.headers.get("authorization") is None
                credentials = parse_credentials(second.headers.get("authorization") or "")
                assert credentials.username == "gw-a" and credentials.realm == REALM
                assert credentials.uri == second.uri_text and credentials.qop == "auth"
                assert second.call_id == first.call_id and second.from_tag == first.from_tag
                assert second.cseq.number == first.cseq.number + 1
                assert second.via.branch != first.via.branch
                sip = w.sip(w.gw_a)
                assert sip[:4] == [
                    ("out", "INVITE"),
                    ("in", "401 (INVITE)"),
                    ("out", "ACK"),
                    ("out", "INVITE"),
                ]
                w.pbx_a.hang_up("1000")
                await w.until(lambda: w.gw_a.live_calls == 0 and bool(uas.records))
                assert ("in", "200 (BYE)") in w.sip(w.gw_a)
                assert uas.records[0].status == 200
                assert uas.records[0].outcome == "BYE from the caller"
        finally:
            await uas.stop()

    run_virtual(asyncio.wait_for(main(), 60))


def test_a_wrong_password_fails_the_call_once_with_cause_21(flow: Any) -> None:
    uas = ChallengingUas(password="other")

    async def main() -> None:
        await uas.start()
        try:
            async with flow.world(flow.Options(**config(uas.port, "s3cret"))) as w:
                w.pbx_a.dial("1000", "5551234")
                cleared = await w.phone(w.pbx_a, "1000", "cleared")
                await w.until(lambda: w.gw_a.live_calls == 0)
                await asyncio.sleep(2.0)  # nothing more goes out: no loop
                assert len(uas.invites) == 2
                assert cleared.cause == 21  # 401 -> call rejected (RFC 3398)
                disconnect = w.messages(w.gw_a, "q931", "DISCONNECT")
                assert [flow.q931_cause(e) for e in disconnect] == [21]
                invites = [parse_datagram(e.raw) for e in w.messages(w.gw_a, "sip", "INVITE")]
                assert len(invites) == 2
        finally:
            await uas.stop()

    run_virtual(asyncio.wait_for(main(), 60))


def test_authentication_entries_are_validated() -> None:
    base = 'name = "GW"\n[sip]\nlisten = "127.0.0.1:5070"\n'
    entry = '[[authentication]]\nusername = "{u}"\npassword = "{p}"\n'
    plan = load_gateway_text(
        base + entry.format(u="gw", p="pw") + 'realm = "r"\n' + entry.format(u="any", p="x")
    ).plan()
    assert plan.credentials == (SipCredential("gw", "pw", "r"), SipCredential("any", "x"))
    for text, where in (
        (entry.format(u="gw", p=""), "gw.toml:6: authentication[0].password"),
        (entry.format(u="a", p="b") + entry.format(u="c", p="d"), "authentication[1].realm"),
    ):
        try:
            load_gateway_text(base + text, file="gw.toml")
        except ConfigErrors as exc:
            assert where in str(exc)
        else:
            raise AssertionError(f"{text!r} was accepted")
