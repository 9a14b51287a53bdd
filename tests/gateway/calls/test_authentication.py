"""Digest challenges to the requests our calls send (RFC 3261 s22.2): INVITE, BYE, CANCEL after.

GW-B is a real gateway core behind a challenging front: every INVITE (and, when asked, BYE)
must carry credentials its :class:`~gateway.sip.auth_server.DigestChallenger` accepts, else it
is answered 401 or 407 before the core sees it.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from gateway.calls.authentication import challenged_realms, credential_for
from gateway.calls.commands import SendDigit
from gateway.calls.dialpeer import DialPlan, DtmfRelay
from gateway.calls.plan import RegistrationSettings, SipCredential, SipTarget
from gateway.errors import ConfigError, LocalProtocolError
from gateway.line import LineDigit
from gateway.sip.auth_server import DigestChallenger
from gateway.sip.events import ClientTransactionId, EndpointEvent, RequestReceived

REALM = "gw-b.example"
PASSWORD = "s3cret"


class ChallengingFront:
    """Wraps GW-B's event handling: challenged methods are judged before the core sees them."""

    def __init__(
        self,
        gateway: Any,
        *,
        proxy: bool = False,
        methods: tuple[str, ...] = ("INVITE",),
        stale_once: bool = False,
    ) -> None:
        self.gateway = gateway
        self.proxy = proxy
        self.methods = methods
        self.stale_once = stale_once
        self.challenges = 0
        self.accepted: list[str] = []
        self.challenger = DigestChallenger(
            REALM,
            b"0123456789abcdef0123",
            lambda user, realm: PASSWORD if (user, realm) == ("gw-a", REALM) else None,
            rng=random.Random(3),
            proxy=proxy,
        )
        gateway.after_input = self.after_input

    def after_input(self, now: float) -> None:
        endpoint = self.gateway.endpoint
        while (event := endpoint.next_event()) is not None:
            if not self._admit(event, now):
                continue
            self.gateway.core.sip_event(event, now)

    def _admit(self, event: EndpointEvent, now: float) -> bool:
        if not isinstance(event, RequestReceived) or event.request.method not in self.methods:
            return True
        request = event.request
        header = "proxy-authorization" if self.proxy else "authorization"
        values = request.headers.get_all(header)
        verdict = self.challenger.verify(
            request.method, request.uri_text, values, now, body=request.body
        )
        if verdict.ok and self.stale_once and values:
            self.stale_once = False
            name = "Proxy-Authenticate" if self.proxy else "WWW-Authenticate"
            stale = [(name, str(c)) for c in self.challenger.challenge(now, stale=True)]
            self.gateway.endpoint.respond(
                event.transaction, 407 if self.proxy else 401, now, headers=stale
            )
            self.challenges += 1
            return False
        if verdict.ok:
            self.accepted.append(request.method)
            return True
        assert verdict.status is not None
        self.gateway.endpoint.respond(
            event.transaction, verdict.status, now, headers=verdict.headers
        )
        self.challenges += 1
        return False


def credentials(password: str = PASSWORD) -> dict[str, Any]:
    return {"credentials": (SipCredential("gw-a", password, REALM),)}


def invites(bench: Any) -> list[Any]:
    return bench.a.messages("out", "INVITE")


def test_invite_answers_a_401_and_the_call_completes(bench):
    b = bench(credentials())
    front = ChallengingFront(b.b)
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: b.b.core.live_calls == 1 and b.a.core.calls()[0].phase == "active", 5)
    first, second = invites(b)
    assert first.headers.get("authorization") is None
    authorization = second.headers.get("authorization")
    assert authorization.startswith("Digest ")
    assert f'realm="{REALM}"' in authorization and 'username="gw-a"' in authorization
    assert "qop=auth" in authorization and "nc=00000001" in authorization
    # RFC 3261 s22.2 / s8.1.3.5: same Call-ID and From tag, no To tag, CSeq up, new branch.
    assert second.call_id == first.call_id
    assert second.from_tag == first.from_tag and second.to_tag is None
    assert second.cseq.number == first.cseq.number + 1
    assert second.via.branch != first.via.branch
    assert second.body == first.body
    assert second.headers.items()[-1][0].lower() == "content-length"
    # The 401 was acknowledged by its own transaction (same branch as the first INVITE).
    (ack,) = [m for m in b.a.messages("out", "ACK") if m.cseq.number == first.cseq.number]
    assert ack.via.branch == first.via.branch
    assert front.challenges == 1 and front.accepted == ["INVITE"]
    b.pbx_a.hang_up("a1")
    b.settle()
    assert b.pbx_b.view()[0] == ("<", "SETUP")
    assert ("<", "CONNECT") in b.pbx_a.view()
    assert b.a.core.live_calls == 0 == b.b.core.live_calls


def test_a_407_is_answered_with_proxy_authorization(bench):
    b = bench(credentials())
    ChallengingFront(b.b, proxy=True)
    b.pbx_a.seize("a1", "5551234")
    b.run(2.0)
    _, second = invites(b)
    assert second.headers.get("authorization") is None
    assert second.headers.get("proxy-authorization").startswith("Digest ")
    assert ("<", "CONNECT") in b.pbx_a.view()
    b.pbx_a.hang_up("a1")
    b.settle()


def test_a_challenged_bye_is_sent_again_with_credentials(bench):
    b = bench(credentials())
    front = ChallengingFront(b.b, methods=("INVITE", "BYE"))
    b.pbx_a.seize("a1", "5551234")
    b.run(2.0)
    b.pbx_a.hang_up("a1")
    b.settle()
    first, second = b.a.messages("out", "BYE")
    assert first.headers.get("authorization") is None
    authorization = second.headers.get("authorization")
    assert "nc=00000001" in authorization  # the 401 to the BYE brought a new nonce
    assert authorization != invites(b)[1].headers.get("authorization")
    assert second.cseq.number == first.cseq.number + 1
    assert second.headers.get("reason") == first.headers.get("reason")
    assert ("in", "200/BYE") in b.a.sip()
    assert front.accepted == ["INVITE", "BYE"]
    assert b.pbx_b.view()[-2:] == [("<", "DISCONNECT 16"), (">", "RELEASE")]


def test_a_stale_nonce_is_answered_again(bench):
    b = bench(credentials())
    front = ChallengingFront(b.b, stale_once=True)
    b.pbx_a.seize("a1", "5551234")
    b.run(2.0)
    assert len(invites(b)) == 3
    assert front.challenges == 2
    assert ("<", "CONNECT") in b.pbx_a.view()
    b.pbx_a.hang_up("a1")
    b.settle()


def test_a_wrong_password_fails_the_call_with_the_mapped_cause(bench):
    b = bench(credentials("wrong"))
    front = ChallengingFront(b.b)
    b.pbx_a.seize("a1", "5551234")
    b.settle()
    assert len(invites(b)) == 2  # answered once, never looped
    assert front.challenges == 2 and front.accepted == []
    assert b.a.sip().count(("out", "ACK")) == 2  # each 401 acknowledged
    cause = b.a.core.plan.cause_map.cause_for_status(401)
    assert cause == 21
    assert b.pbx_a.view() == [
        (">", "SETUP"),
        ("<", "CALL PROCEEDING"),
        ("<", f"DISCONNECT {cause}"),
        (">", "RELEASE"),
    ]
    assert any("refused our credentials" in notice for notice in b.a.notices)
    assert b.pbx_b.view() == []


def test_no_credentials_for_the_realm_fails_at_the_first_challenge(bench):
    b = bench({"credentials": (SipCredential("gw-a", PASSWORD, "elsewhere"),)})
    ChallengingFront(b.b, proxy=True)
    b.pbx_a.seize("a1", "5551234")
    b.settle()
    assert len(invites(b)) == 1
    assert ("<", "DISCONNECT 21") in b.pbx_a.view()
    assert any("no credentials" in notice for notice in b.a.notices)


def test_cancel_after_an_authenticated_invite_carries_its_branch_and_cseq(bench):
    b = bench(credentials())
    ChallengingFront(b.b)
    b.pbx_b.behaviour.answer_after = None
    b.pbx_a.seize("a1", "5551234")
    b.run(1.0)
    assert ("<", "ALERTING") in b.pbx_a.view()
    b.pbx_a.hang_up("a1")
    b.settle()
    _, second = invites(b)
    (cancel,) = b.a.messages("out", "CANCEL")
    assert cancel.via.branch == second.via.branch  # RFC 3261 s9.1
    assert cancel.cseq.number == second.cseq.number
    assert ("in", "487/INVITE") in b.a.sip()


def test_registration_credentials_are_the_default(bench):
    registration = {
        "registrar": SipTarget("10.0.0.9"),
        "registration": RegistrationSettings(numbers=("9999",), username="gw-a", password=PASSWORD),
    }
    b = bench(registration)
    ChallengingFront(b.b)
    b.pbx_a.seize("a1", "5551234")
    b.run(2.0)
    assert len(invites(b)) == 2
    assert ("<", "CONNECT") in b.pbx_a.view()
    b.pbx_a.hang_up("a1")
    b.run(1.0)


# --------------------------------------------------------------------------- choosing


def plan_with(kit: Any, **changes: Any) -> Any:
    return kit.plan_a(**changes)


def test_credential_choice_by_realm_then_default_then_registration(kit):
    exact = SipCredential("a", "pa", "one")
    default = SipCredential("b", "pb")
    plan = plan_with(kit, credentials=(default, exact))
    assert credential_for(plan, ["two", "one"], "1000") == exact
    assert credential_for(plan, ["two"], "1000") == default
    registration = plan_with(
        kit,
        registrar=SipTarget("10.0.0.9"),
        registration=RegistrationSettings(password="reg"),
    )
    assert credential_for(registration, ["any"], "1000") == SipCredential("1000", "reg")
    assert credential_for(registration, ["any"], "") is None
    assert credential_for(plan_with(kit), ["any"], "1000") is None


def test_challenged_realms_skips_garbage_and_other_schemes():
    values = [
        'Digest realm="a", nonce="1"',
        'Basic realm="b"',
        "Digest realm=",
        'Digest realm="a", nonce="2", Digest realm="c", nonce="3"',
    ]
    assert challenged_realms(values) == ["a", "c"]


def test_credentials_are_checked(kit):
    with pytest.raises(ConfigError):
        SipCredential("", "x")
    with pytest.raises(ConfigError):
        SipCredential("u", "")
    with pytest.raises(ConfigError):
        SipCredential("u", "x", "")
    with pytest.raises(ConfigError, match="same realm"):
        plan_with(kit, credentials=(SipCredential("u", "x"), SipCredential("v", "y")))


def test_resending_an_unknown_transaction_is_our_mistake(bench):
    b = bench()
    with pytest.raises(LocalProtocolError):
        b.a.endpoint.resend_with_credentials(ClientTransactionId("z9hG4bKnone", "INVITE"), (), 0.0)


def test_a_challenged_info_is_sent_again_with_credentials(bench):
    probe = bench()
    plan = probe.a.core.plan
    peers = [
        replace(p, dtmf_relay=(DtmfRelay.SIP_INFO,)) if p.tag == 10 else p
        for p in plan.dial_plan.peers
    ]
    b = bench({**credentials(), "dial_plan": DialPlan(peers, plan.dial_plan.translations)})
    front = ChallengingFront(b.b, methods=("INVITE", "INFO"))
    b.pbx_a.seize("a1", "5551234")
    b.run(2.0)
    b.pbx_a.send(LineDigit("pbx-a", "a1", "5"))
    b.pbx_a.send(LineDigit("pbx-a", "a1", "6"))
    b.run(2.0)
    infos = b.a.messages("out", "INFO")
    assert [m.body[:8] for m in infos] == [b"Signal=5", b"Signal=5", b"Signal=6", b"Signal=6"]
    assert [m.headers.get("authorization") is None for m in infos] == [True, False] * 2
    assert front.accepted == ["INVITE", "INFO", "INFO"]
    played = [m.digit for m in b.b.media if isinstance(m, SendDigit)]
    assert played == ["5", "6"]
    b.pbx_a.hang_up("a1")
    b.settle()
