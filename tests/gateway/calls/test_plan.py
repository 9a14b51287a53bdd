"""GatewayPlan validation, session targets and the trust list (toll-fraud protection)."""

from __future__ import annotations

import pytest

from gateway.calls.dialpeer import DialPlan, NumberPattern, SessionTarget, VoipDialPeer
from gateway.calls.plan import (
    CallTimers,
    ForwardRule,
    GatewayPlan,
    MediaSettings,
    RegistrationSettings,
    SipTarget,
    numeric_only,
)
from gateway.calls.targets import TrustList, Unreachable, target_hop
from gateway.errors import ConfigError
from gateway.line import LineInfo
from gateway.sip.routing import Hop


def peer(tag, target, **kw):
    return VoipDialPeer(
        tag,
        destination_pattern=NumberPattern.parse("5......"),
        session_target=None if target is None else SessionTarget.parse(target),
        **kw,
    )


def plan(peers=(), **kw):
    return GatewayPlan("gw", DialPlan(list(peers)), (LineInfo("pbx", "trunk", (), 30),), **kw)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CallTimers(ring_no_answer=0), "ring_no_answer"),
        (lambda: MediaSettings(address="gw.example"), "numeric"),
        (lambda: MediaSettings(port_min=70000), "port range"),
        (lambda: MediaSettings(ptime=25), "ptime"),
        (lambda: RegistrationSettings(expires=0), "expires"),
        (lambda: RegistrationSettings(retry_min=10, retry_max=5), "retry"),
        (lambda: SipTarget("reg.example", port=0), "port"),
        (lambda: plan(trusted_sources=("not-a-network",)), "trusted source"),
        (lambda: plan(registration=RegistrationSettings()), "registrar"),
        (
            lambda: GatewayPlan(
                "gw",
                DialPlan([]),
                (LineInfo("a", "trunk"), LineInfo("a", "station")),
            ),
            "same name",
        ),
    ],
)
def test_invalid_plans_are_refused(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_forwarding_rules():
    rules = (ForwardRule("", on_busy="9"), ForwardRule("5551234", on_no_answer="8"))
    p = plan(forwarding=rules)
    assert p.forwarding_for("5551234") == rules[1]
    assert p.forwarding_for("5559999") == rules[0]
    assert plan().forwarding_for("1") is None
    assert p.line("pbx") is not None and p.line("nope") is None


def test_session_targets_resolve_to_hops():
    resolver = {"gw.example.net": "192.0.2.7"}.get
    p = plan(
        registrar=SipTarget("192.0.2.9", 5070),
        resolver=resolver,
    )
    assert target_hop(peer(1, "ipv4:192.0.2.1"), p) == Hop("udp", ("192.0.2.1", 5060))
    assert target_hop(peer(1, "ipv6:[2001:db8::1]:5080"), p) == Hop("udp", ("2001:db8::1", 5080))
    assert target_hop(peer(1, "dns:gw.example.net:5062"), p) == Hop("udp", ("192.0.2.7", 5062))
    assert target_hop(peer(1, "registrar", session_transport="tcp"), p) == Hop(
        "tcp", ("192.0.2.9", 5070)
    )
    assert isinstance(target_hop(peer(1, "sip-server"), p), Unreachable)
    assert isinstance(target_hop(peer(1, "dns:other.example"), p), Unreachable)
    assert isinstance(target_hop(peer(1, None), p), Unreachable)
    assert numeric_only("10.0.0.1") == "10.0.0.1" and numeric_only("host") is None


def test_trust_list():
    resolved = {"gw.example.net": "192.0.2.7"}
    p = plan(
        [peer(1, "ipv4:192.0.2.1"), peer(2, "dns:gw.example.net"), peer(3, "ipv6:[2001:db8::1]")],
        trusted_sources=("198.51.100.0/24",),
        sip_server=SipTarget("192.0.2.20"),
        resolver=resolved.get,
    )
    trust = TrustList(p)
    assert trust.allows("192.0.2.1")
    assert trust.allows("192.0.2.7")  # a dns: target, through the resolver
    assert trust.allows("2001:0db8::0001")  # the same IPv6 address written differently
    assert trust.allows("[2001:db8::1]")
    assert trust.allows("198.51.100.77")
    assert trust.allows("192.0.2.20")
    assert not trust.allows("203.0.113.5")
    assert not trust.allows("not an address")
    resolved["gw.example.net"] = "192.0.2.8"  # names are resolved at check time
    assert trust.allows("192.0.2.8") and not trust.allows("192.0.2.7")
    assert TrustList(plan(toll_fraud_protection=False)).allows("203.0.113.5")
