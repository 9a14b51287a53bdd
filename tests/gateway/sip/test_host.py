from __future__ import annotations

import pytest

from gateway.sip.grammar import SipSyntaxError
from gateway.sip.host import (
    COMMON_HOST_PATTERN,
    is_host,
    is_hostname,
    is_ipv4,
    is_ipv6_address,
    is_ipv6_reference,
    parse_hostport,
    parse_port,
)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("192.0.2.1", True),
        ("255.255.255.255", True),
        ("0.0.0.0", True),
        ("256.1.1.1", False),
        ("1.2.3", False),
        ("1.2.3.4.5", False),
        ("1..2.3", False),
    ],
)
def test_ipv4(text: str, valid: bool) -> None:
    assert is_ipv4(text) is valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2001:db8::10", True),
        ("::", True),
        ("::1", True),
        ("1:2:3:4:5:6:7:8", True),
        ("::ffff:192.0.2.10", True),
        ("2001:db8::192.0.2.1", True),  # RFC 4291 spelling
        ("2001:db8:::192.0.2.1", True),  # RFC 3261 ABNF spelling, tolerated (RFC 5118 4.10)
        ("1:2:3:4:5:6:192.0.2.1", True),
        ("1:2:3:4:5:6:7:8:9", False),
        ("1::2::3", False),
        ("12345::", False),
        ("2001:db8::10:zz", False),
        (":1.2.3.4", False),
        ("2001:db8::300.1.1.1", False),
        ("1:::2", False),
        ("no-colons", False),
    ],
)
def test_ipv6(text: str, valid: bool) -> None:
    assert is_ipv6_address(text) is valid
    assert is_ipv6_reference(f"[{text}]") is valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("example.com", True),
        ("example.com.", True),
        ("a", True),
        ("host-of-the-hour.example.com", True),
        ("gw1.example.net", True),
        ("-a.com", False),
        ("a-.com", False),
        ("a..b", False),
        ("host.123", False),  # the top label starts with a letter
        ("ex_ample.com", False),
        ("", False),
        ("a" * 256, False),
    ],
)
def test_hostname(text: str, valid: bool) -> None:
    assert is_hostname(text) is valid


def test_hostname_check_is_linear_on_hostile_input() -> None:
    # A long run that almost matches must not make the regex backtrack exponentially.
    assert not is_hostname("a" * 200 + "-")
    assert not is_hostname(("a-" * 60) + ".")


def test_is_host_and_the_common_pattern_agree() -> None:
    import re

    common = re.compile(COMMON_HOST_PATTERN)
    for host in ["192.0.2.1", "example.com", "a-b.c", "x", "1.2.3.4.example.com"]:
        assert common.fullmatch(host) and is_host(host)
    # Hosts the common pattern leaves to the general path are still valid hosts.
    for host in ["001.2.3.4", "example.com.", "[::1]"]:
        assert common.fullmatch(host) is None and is_host(host)
    assert not is_host("") and not is_host("[::1") and not is_host("256.0.0.1")


def test_parse_hostport() -> None:
    assert parse_hostport("host") == ("host", None)
    assert parse_hostport("host:5060") == ("host", 5060)
    assert parse_hostport("[2001:db8::10]") == ("[2001:db8::10]", None)
    assert parse_hostport("[2001:db8::10]:5070") == ("[2001:db8::10]", 5070)
    for bad in ["2001:db8::10", "[::1", "[::1]x", "host:", "host:99999", "host:5x", "[zz]"]:
        with pytest.raises(SipSyntaxError):
            parse_hostport(bad)


def test_parse_port() -> None:
    assert parse_port("0") == 0 and parse_port("65535") == 65535 and parse_port("05060") == 5060
    for bad in ["", "65536", "123456", "-1", "٣"]:
        with pytest.raises(SipSyntaxError):
            parse_port(bad)
