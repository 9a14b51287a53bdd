from __future__ import annotations

import pytest

from gateway.errors import RemoteProtocolError
from gateway.sip.grammar import Params
from gateway.sip.via import (
    BRANCH_MAGIC_COOKIE,
    Via,
    _parse_via_parm_general,
    parse_common_via,
    parse_via,
    parse_via_values,
)


def test_common_via() -> None:
    via = parse_via("SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds;rport")
    assert (via.protocol, via.transport, via.host, via.port) == (
        "SIP/2.0",
        "UDP",
        "192.0.2.101",
        5060,
    )
    assert via.sent_by == ("192.0.2.101", 5060)
    assert via.branch == "z9hG4bK776asdhds" and via.is_rfc3261_branch
    assert via.rport_requested and via.rport is None
    assert via.received is None and via.maddr is None and via.ttl is None


def test_server_side_parameters() -> None:
    via = parse_via(
        "SIP/2.0/udp host.example.com;branch=z9hG4bKx;rport=5061;received=192.0.2.7;"
        "maddr=224.2.0.1;ttl=16"
    )
    assert via.transport == "UDP" and via.rport == 5061 and via.received == "192.0.2.7"
    assert via.maddr == "224.2.0.1" and via.ttl == 16


def test_whitespace_everywhere_and_unknown_transports() -> None:
    via = parse_via("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw")
    assert via.transport == "UDP" and via.host == "192.0.2.2" and via.branch == "390skdjuw"
    assert not via.is_rfc3261_branch
    via = parse_via("SIP  / 2.0  / TCP     spindle.example.com   ;   branch  =   z9hG4bK9ikj8")
    assert (via.transport, via.host, via.branch) == ("TCP", "spindle.example.com", "z9hG4bK9ikj8")
    assert parse_via("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKa").transport == "UNKNOWN"
    assert parse_via("SIP/2.0/TCP host : 5060").port == 5060
    assert parse_via("sip/2.0/tls h").protocol == "SIP/2.0"


def test_ipv6_sent_by_and_received() -> None:
    via = parse_via("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111")
    assert (via.host, via.port) == ("[2001:db8::9:1]", 6050)
    assert parse_via("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255").received == (
        "2001:db8::9:255"
    )
    assert parse_via("SIP/2.0/UDP h;received=[2001:db8::9:255]").received == "[2001:db8::9:255]"


def test_branch_cookie() -> None:
    assert BRANCH_MAGIC_COOKIE == "z9hG4bK"
    assert not parse_via("SIP/2.0/UDP h;branch=z9hG4bK").is_rfc3261_branch
    assert not parse_via("SIP/2.0/UDP h").is_rfc3261_branch
    assert parse_via("SIP/2.0/UDP h;branch=z9hG4bK1").is_rfc3261_branch


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("SIP/2.0/UDP 192.0.2.15;;", "empty parameter"),
        ("SIP/2.0/UDP", "no whitespace"),
        ("SIP/2.0 host", "expected '/'"),
        ("SIP/2.0/UDP -host-", "invalid sent-by host"),
        ("SIP/2.0/UDP host:70000", "out of range"),
        ("SIP/2.0/UDP host;received=nowhere", "received"),
        ("SIP/2.0/UDP host;received", "received"),
        ("SIP/2.0/UDP host;ttl=256", "ttl"),
        ("SIP/2.0/UDP host;maddr=-x-", "maddr"),
        ("SIP/2.0/UDP host;rport=x", "port"),
        ("SIP/2.0/UDP host;branch", "branch"),
        ("SIP/2.0/UDP host;branch=[x]", "branch"),
        ("SIP/2.0/UDP 2001:db8::1", "invalid sent-by host"),
        ("", "empty"),
    ],
)
def test_invalid_vias(text: str, reason: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_via(text)
    assert caught.value.reason.startswith("Via: ") and reason in caught.value.reason


def test_lists_split_on_commas() -> None:
    vias = parse_via_values(
        ["SIP/2.0/TCP a.example.com;branch=z9hG4bK1 , SIP/2.0/UDP b.example.com", "SIP/2.0/SCTP c"]
    )
    assert [via.host for via in vias] == ["a.example.com", "b.example.com", "c"]
    with pytest.raises(RemoteProtocolError, match="Via"):
        parse_via_values(["SIP/2.0/UDP 192.0.2.15;;,;,,"])
    with pytest.raises(RemoteProtocolError, match="empty Via value"):
        parse_via_values(["SIP/2.0/UDP a,,SIP/2.0/UDP b"])


def test_common_path_agrees_with_the_general_scanner() -> None:
    for text in [
        "SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds;rport",
        "SIP/2.0/TLS host.example.com;branch=z9hG4bKx;received=192.0.2.1;rport=7",
        "SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKasudf",
    ]:
        assert parse_common_via(text) == _parse_via_parm_general(text)
    assert parse_common_via("SIP/2.0/UDP h;received=bad") is None
    assert parse_common_via("SIP/2.0/UDP h:99999") is None


def test_building() -> None:
    via = Via(
        "udp".upper(), "proxy.example.com", None, Params((("branch", "z9hG4bKp1"), ("rport", None)))
    )
    assert str(via) == "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1;rport"
    stamped = via.with_received("192.0.2.9", 40000)
    assert stamped.received == "192.0.2.9" and stamped.rport == 40000
    assert (
        bytes(stamped)
        == b"SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1;rport=40000;received=192.0.2.9"
    )
    no_rport = parse_via("SIP/2.0/UDP h:5060;branch=z9hG4bKq").with_received("192.0.2.9", 1)
    assert no_rport.rport is None and not no_rport.rport_requested
    assert parse_via(str(stamped)) == stamped
    assert Via.parse(str(via)).replace(port=5070).port == 5070


def test_common_vias_know_their_first_branch_and_split_parameters_when_read() -> None:
    for text, branch in [
        ("SIP/2.0/UDP h;rport;branch=z9hG4bKa;x=1", "z9hG4bKa"),
        ("SIP/2.0/UDP h;BRANCH=one;branch=two", "one"),  # the first one, as params.get has it
        ("SIP/2.0/UDP h:5060;rport=7", None),
    ]:
        via = parse_common_via(text)
        assert via is not None and via.branch == branch, text
        general = _parse_via_parm_general(text)
        assert via == general and hash(via) == hash(general) and str(via) == str(general)
        assert via.params == general.params and via.branch == general.branch
    via = parse_common_via("SIP/2.0/UDP h;branch=z9hG4bKa")
    assert via is not None
    moved = via.replace(host="g")  # a copy built by __init__: parameters given, branch read
    assert moved.branch == "z9hG4bKa" and moved.params == Params((("branch", "z9hG4bKa"),))
