"""The gateway registers its lines' numbers with a digest-challenging registrar; refresh, retry,
back-off, Min-Expires, a wrong password, unregistering."""

from __future__ import annotations

import itertools
import random

from gateway.calls.plan import RegistrationSettings, SipTarget
from gateway.roles.registrar import Registrar

USERS = {"5551234": "secret", "5555678": "secret", "5550100": "secret"}


def setup(kit, *, password="secret", expires=120, registrar=True, min_expires=60, **settings):
    world = kit.World()
    plan = kit.plan_b(
        registrar=SipTarget("10.0.0.9"),
        registration=RegistrationSettings(password=password, expires=expires, **settings),
    )
    gateway = kit.Gateway(world, kit.GW_B, plan)
    node = None
    if registrar:
        node = kit.RegistrarNode(
            world,
            Registrar(
                "gwemu",
                USERS,
                rng=random.Random(3),
                secret=b"0123456789abcdef0123",
                min_expires=min_expires,
            ),
        )
    gateway.core.start(world.now)
    return world, gateway, node


def states(gateway):
    return {r.number: r.state for r in gateway.core.registrations()}


def test_register_with_digest_challenge(kit):
    world, gateway, node = setup(kit)
    world.run(1.0)
    assert states(gateway) == dict.fromkeys(USERS, "registered")
    registers = gateway.messages("out", "REGISTER")
    assert len(registers) == 6  # each number: without credentials, then answering the 401
    by_call = {}
    for request in registers:
        by_call.setdefault(request.call_id, []).append(request)
    for first, second in by_call.values():
        assert first.headers.get("authorization") is None
        assert second.headers.get("authorization").startswith("Digest ")
        assert second.cseq.number == first.cseq.number + 1
        assert first.headers.get("expires") == "120"
    assert len(gateway.messages("in", "401/REGISTER")) == 3
    (binding,) = node.registrar.lookup("5551234", world.now)
    assert binding.contact == "sip:5551234@10.0.0.2:5060"
    assert binding.aor == "sip:5551234@10.0.0.9"
    (snapshot,) = [r for r in gateway.core.registrations() if r.number == "5550100"]
    assert snapshot.aor == "sip:5550100@10.0.0.9"
    assert snapshot.registrar == "10.0.0.9:5060"
    assert snapshot.last_status == 200
    assert snapshot.expires_at is not None and 120 < snapshot.expires_at <= 121
    # Refresh at half the 120 s granted (the 32 s margin would be later).
    assert snapshot.next_attempt is not None and 60 < snapshot.next_attempt <= 61
    assert any("registration 5550100" in notice for notice in gateway.notices)


def test_refresh_before_expiry_keeps_the_binding(kit):
    world, gateway, node = setup(kit)
    world.run(1.0)
    first = {r.number: r.expires_at for r in gateway.core.registrations()}
    world.run(60.0)
    registers = gateway.messages("out", "REGISTER")
    assert len(registers) == 9  # one refresh each, the nonce is still good: no new 401
    refreshed = {r.number: r.expires_at for r in gateway.core.registrations()}
    assert all(refreshed[n] > first[n] + 59 for n in USERS)
    call_ids = {r.call_id for r in registers}
    assert len(call_ids) == 3  # RFC 3261 s10.2.4: the same Call-ID, CSeq counting up
    world.run(600.0)  # many refreshes, stale nonces answered on the way
    assert states(gateway) == dict.fromkeys(USERS, "registered")
    assert len(node.registrar.lookup("5550100", world.now)) == 1


def test_wrong_password_is_not_retried_in_a_loop(kit):
    world, gateway, node = setup(kit, password="wrong")
    world.run(2.0)
    assert states(gateway) == dict.fromkeys(USERS, "rejected")
    (snapshot,) = [r for r in gateway.core.registrations() if r.number == "5551234"]
    assert "refused our credentials" in snapshot.reason
    assert snapshot.failures == 1 and snapshot.last_status == 401
    assert snapshot.next_attempt is not None and 4.5 <= snapshot.next_attempt <= 5.6
    assert len(gateway.messages("out", "REGISTER")) == 6
    assert node.registrar.aors(world.now) == ()
    world.run(6.0)  # retried after the back-off, refused again, back-off doubled
    (snapshot,) = [r for r in gateway.core.registrations() if r.number == "5551234"]
    assert snapshot.failures == 2
    assert snapshot.next_attempt is not None and snapshot.next_attempt - world.now > 3


def test_registrar_unreachable_retries_with_back_off(kit):
    world, gateway, _ = setup(kit, registrar=False, retry_min=10.0, retry_max=40.0)
    world.run(33.0)  # Timer F: 64*T1 without an answer
    (snapshot,) = [r for r in gateway.core.registrations() if r.number == "5551234"]
    assert (snapshot.state, snapshot.last_status, snapshot.failures) == ("retrying", 408, 1)
    attempts = []
    for _ in range(4):
        world.run_until(
            lambda: (
                next(r for r in gateway.core.registrations() if r.number == "5551234").failures
                > len(attempts) + 1
            ),
            200,
        )
        attempts.append(world.now)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # Each retry waits retry_min doubling (10, 20, 40, 40: capped) +-10 %, then 32 s of Timer F.
    assert 32 + 18 <= gaps[0] <= 32 + 22
    assert 32 + 36 <= gaps[1] <= 32 + 44
    assert 32 + 36 <= gaps[2] <= 32 + 44


def test_interval_too_brief_takes_min_expires(kit):
    world, gateway, node = setup(kit, expires=120, min_expires=600)
    world.run(1.0)
    assert states(gateway) == dict.fromkeys(USERS, "registered")
    assert len(gateway.messages("in", "423/REGISTER")) == 3
    last = gateway.messages("out", "REGISTER")[-1]
    assert last.headers.get("expires") == "600"
    (binding,) = node.registrar.lookup("5555678", world.now)
    assert 599 <= binding.expires_at - world.now <= 600


def test_shutdown_unregisters(kit):
    world, gateway, node = setup(kit)
    world.run(1.0)
    assert len(node.registrar.aors(world.now)) == 3
    gateway.core.shutdown(world.now)
    world.run(1.0)
    assert node.registrar.aors(world.now) == ()
    assert states(gateway) == dict.fromkeys(USERS, "idle")
    assert gateway.messages("out", "REGISTER")[-1].headers.get("expires") == "0"


# --------------------------------------------------------------------------- authorization


def test_registrar_authenticated_user_must_own_the_address(kit):
    world = kit.World()
    gateway_plan = kit.plan_b(
        registrar=SipTarget("10.0.0.9"),
        registration=RegistrationSettings(
            numbers=("5555678",), username="5551234", password="secret"
        ),
    )
    gateway = kit.Gateway(world, kit.GW_B, gateway_plan)
    kit.RegistrarNode(world, Registrar("gwemu", USERS, rng=random.Random(3), secret=b"k" * 16))
    gateway.core.start(world.now)
    world.run(1.0)
    (snapshot,) = gateway.core.registrations()
    assert (snapshot.state, snapshot.last_status) == ("rejected", 403)
    assert snapshot.aor == "sip:5555678@10.0.0.9"
