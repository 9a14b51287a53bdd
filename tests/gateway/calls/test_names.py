"""``session-target dns:NAME`` looked up at call time: the core asks (ResolveHost), the runtime
answers (``host_resolved``), answers are cached for a fixed TTL, failures hunt on to the next
dial-peer and end in cause 3 (no route)."""

from __future__ import annotations

from typing import Any

from gateway.calls.commands import ResolveHost
from gateway.calls.dialpeer import DialPlan
from gateway.calls.names import NameCache
from gateway.calls.plan import CallTimers

SETUP_A = [(">", "SETUP"), ("<", "CALL PROCEEDING")]


def lookup_bench(bench: Any, kit: Any, *, fallback: bool, ttl: float = 30.0) -> Any:
    """GW-A routes 333.... to dns:gw-b.dyn.example:5060 (and, with ``fallback``, to GW-B's
    address at a lower preference)."""
    plan = kit.plan_a()
    peers = [
        *plan.dial_plan.peers,
        kit.voip(17, "333....", "dns:gw-b.dyn.example:5060", preference=0),
    ]
    if fallback:
        peers.append(kit.voip(18, "333....", "ipv4:10.0.0.2:5060", preference=1))
    return bench(
        {
            "dial_plan": DialPlan(peers, plan.dial_plan.translations),
            "lookup_names": True,
            "name_ttl": ttl,
            "timers": CallTimers(ring_no_answer=20.0, invite_expiry=60.0, name_lookup=2.0),
        },
        {"dial_plan": DialPlan([*kit.plan_b().dial_plan.peers, kit.pots(24, "333....", "pbx-b")])},
    )


def asked(gateway: Any) -> list[str]:
    return [c.name for c in gateway.media if isinstance(c, ResolveHost)]


def test_a_name_is_asked_once_and_every_waiting_call_goes_on(bench, kit):
    b = lookup_bench(bench, kit, fallback=False)
    b.pbx_a.seize("a1", "3331234")
    b.pbx_a.seize("a2", "3335678")
    b.run(0.5)
    assert asked(b.a) == ["gw-b.dyn.example"]  # one question for both calls
    assert b.a.messages("out", "INVITE") == []
    assert b.pbx_a.view("a1") == SETUP_A
    b.a.core.host_resolved("gw-b.dyn.example", "10.0.0.2", b.world.now)
    b.run(2.0)
    invites = b.a.messages("out", "INVITE")
    assert sorted(i.uri_text for i in invites) == [
        "sip:3331234@10.0.0.2:5060",
        "sip:3335678@10.0.0.2:5060",
    ]
    assert ("<", "CONNECT") in b.pbx_a.view("a1") and ("<", "CONNECT") in b.pbx_a.view("a2")
    b.pbx_a.hang_up("a1")
    b.pbx_a.hang_up("a2")
    b.settle()


def test_answers_are_cached_for_the_ttl_only(bench, kit):
    b = lookup_bench(bench, kit, fallback=False, ttl=10.0)
    b.pbx_a.seize("a1", "3331234")
    b.run(0.1)
    b.a.core.host_resolved("gw-b.dyn.example", "10.0.0.2", b.world.now)
    b.run(1.0)
    b.pbx_a.hang_up("a1")
    b.settle()
    b.pbx_a.seize("a2", "3331234")  # within 10 s: no new question
    b.run(1.0)
    assert asked(b.a) == ["gw-b.dyn.example"]
    assert len(b.a.messages("out", "INVITE")) == 2
    b.pbx_a.hang_up("a2")
    b.settle()
    b.run(10.0)
    b.pbx_a.seize("a3", "3331234")  # expired: asked again
    b.run(0.1)
    assert asked(b.a) == ["gw-b.dyn.example"] * 2
    b.pbx_a.hang_up("a3")
    b.settle()


def test_a_name_that_does_not_resolve_hunts_to_the_next_peer(bench, kit):
    b = lookup_bench(bench, kit, fallback=True)
    b.pbx_a.seize("a1", "3331234")
    b.run(0.1)
    b.a.core.host_resolved("gw-b.dyn.example", None, b.world.now)
    b.run(2.0)
    (invite,) = b.a.messages("out", "INVITE")
    assert invite.uri_text == "sip:3331234@10.0.0.2:5060"  # dial-peer 18
    assert any("cannot resolve 'gw-b.dyn.example'" in n for n in b.a.notices)
    b.pbx_a.hang_up("a1")
    b.settle()


def test_no_answer_in_time_hunts_on_and_finally_fails_with_no_route(bench, kit):
    b = lookup_bench(bench, kit, fallback=True)
    b.pbx_a.seize("a1", "3331234")
    b.run(1.9)
    assert b.a.messages("out", "INVITE") == []
    b.run(0.2)  # the 2 s name_lookup timer: dial-peer 18 is tried
    assert len(b.a.messages("out", "INVITE")) == 1
    b.pbx_a.hang_up("a1")
    b.settle()
    alone = lookup_bench(bench, kit, fallback=False)
    alone.pbx_a.seize("a1", "3331234")
    alone.settle()
    assert alone.pbx_a.view("a1") == [*SETUP_A, ("<", "DISCONNECT 3"), (">", "RELEASE")]
    # The late answer still fills the cache; the next call uses it at once.
    alone.a.core.host_resolved("gw-b.dyn.example", "10.0.0.2", alone.world.now)
    alone.pbx_a.seize("a2", "3331234")
    alone.run(1.0)
    assert asked(alone.a) == ["gw-b.dyn.example"]
    assert len(alone.a.messages("out", "INVITE")) == 1
    alone.pbx_a.hang_up("a2")
    alone.settle()


def test_a_caller_who_hangs_up_during_the_lookup_leaves_nothing_behind(bench, kit):
    b = lookup_bench(bench, kit, fallback=False)
    b.pbx_a.seize("a1", "3331234")
    b.run(0.1)
    b.pbx_a.hang_up("a1")
    b.settle()
    b.a.core.host_resolved("gw-b.dyn.example", "10.0.0.2", b.world.now)
    b.run(1.0)
    assert b.a.messages("out", "INVITE") == []
    assert b.a.core.live_calls == 0


def test_the_cache_itself():
    cache = NameCache({"static.example": "192.0.2.1"}.get, ttl=5.0)
    assert cache.known("static.example", 0.0) and cache.lookup("static.example") == "192.0.2.1"
    assert not cache.known("dyn.example", 0.0)
    assert cache.ask("dyn.example") and not cache.ask("DYN.example")
    assert cache.store("dyn.example", "[2001:db8::1]", 1.0) == "2001:db8::1"
    assert cache.lookup("Dyn.Example") == "2001:db8::1"
    assert cache.known("dyn.example", 6.0) and not cache.known("dyn.example", 6.1)
    assert cache.lookup("dyn.example") is None
    assert cache.store("bad.example", "not an address", 0.0) is None
    assert cache.known("bad.example", 1.0) and cache.lookup("bad.example") is None
    assert cache.ask("dyn.example")  # asked again once the answer expired
