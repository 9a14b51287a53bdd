"""Hosts and ports as SIP writes them (RFC 3261 section 25.1, RFC 5118 for IPv6).

``host = hostname / IPv4address / IPv6reference``.  IPv6 references are checked against
RFC 4291 text forms, with the one tolerance RFC 5118 section 4.10 asks for: the RFC 3261 ABNF
wrongly demands three colons before an embedded IPv4 address (``[2001:db8:::192.0.2.1]``), so
that spelling is accepted next to the correct ``[2001:db8::192.0.2.1]``.
"""

from __future__ import annotations

import re

from gateway.sip.grammar import SipSyntaxError

__all__ = [
    "COMMON_HOST_PATTERN",
    "COMMON_IPV4_PATTERN",
    "is_host",
    "is_hostname",
    "is_ipv4",
    "is_ipv6_address",
    "is_ipv6_reference",
    "parse_hostport",
    "parse_port",
]

_IPV4_RE = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
# hostname = *( domainlabel "." ) toplabel [ "." ]; labels are alphanum runs with inner "-",
# the toplabel starts with a letter.  Possessive quantifiers keep this linear in the input.
_HOSTNAME_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*+(?<=[A-Za-z0-9]))?\.)*+"
    r"[A-Za-z](?:[A-Za-z0-9-]*+(?<=[A-Za-z0-9]))?"
)
_HEX4_RE = re.compile(r"[0-9A-Fa-f]{1,4}")

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# Regex text for the hosts seen in practice -- a dotted-quad IPv4 address without leading
# zeros, or a hostname without a trailing dot -- for embedding in the parsers' single-step
# patterns.  Whatever it matches, is_host() accepts; anything else takes the general path.
COMMON_IPV4_PATTERN = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
COMMON_HOST_PATTERN = (
    rf"(?:{COMMON_IPV4_PATTERN}"
    r"|(?:[A-Za-z0-9](?:[A-Za-z0-9-]*+(?<=[A-Za-z0-9]))?\.)*+"
    r"[A-Za-z](?:[A-Za-z0-9-]*+(?<=[A-Za-z0-9]))?)"
)
_PORT_MAX = 65535


def is_ipv4(text: str) -> bool:
    """Dotted-quad IPv4 address with each octet in 0..255."""
    if _IPV4_RE.fullmatch(text) is None:
        return False
    return all(int(part) <= 255 for part in text.split("."))


def is_hostname(text: str) -> bool:
    """RFC 3261 hostname (a trailing dot is allowed); at most 255 characters."""
    if not text or len(text) > 255:
        return False
    if text.endswith("."):
        text = text[:-1]
    return _HOSTNAME_RE.fullmatch(text) is not None


def _hex_groups_ok(text: str) -> int:
    """Number of 16-bit groups in a colon-separated hex sequence, or -1 if malformed."""
    if not text:
        return 0
    groups = text.split(":")
    for group in groups:
        if _HEX4_RE.fullmatch(group) is None:
            return -1
    return len(groups)


def is_ipv6_address(text: str) -> bool:
    """Bare IPv6 address (no brackets), RFC 4291 section 2.2 forms."""
    if ":" not in text or len(text) > 64:
        return False
    groups_needed = 8
    if "." in text:
        # An embedded IPv4 address stands for the last two groups: check it, then replace it.
        head, _, tail = text.rpartition(":")
        if not is_ipv4(tail):
            return False
        # "2001:db8::" + ":" + IPv4 is the RFC 3261 ABNF spelling (three colons); RFC 5118
        # section 4.10 asks receivers to tolerate it next to the RFC 4291 "2001:db8::" + IPv4.
        text = head + "0:0" if head.endswith("::") else head + ":0:0"
    if text.count("::") > 1:
        return False
    if "::" in text:
        left, _, right = text.partition("::")
        count_left = _hex_groups_ok(left)
        count_right = _hex_groups_ok(right)
        if count_left < 0 or count_right < 0:
            return False
        return count_left + count_right <= groups_needed - 1
    return _hex_groups_ok(text) == groups_needed


def is_ipv6_reference(text: str) -> bool:
    """``[`` IPv6address ``]`` (RFC 3261 IPv6reference)."""
    return len(text) > 2 and text[0] == "[" and text[-1] == "]" and is_ipv6_address(text[1:-1])


def is_host(text: str) -> bool:
    """Any RFC 3261 host: hostname, IPv4 address or bracketed IPv6 reference."""
    if not text:
        return False
    first = text[0]
    if first == "[":
        return is_ipv6_reference(text)
    if first.isdigit() and is_ipv4(text):
        return True
    return is_hostname(text)


def parse_port(text: str) -> int:
    """``port = 1*DIGIT`` limited to 0..65535."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > 5:
        raise SipSyntaxError(f"invalid port {text!r}")
    port = int(text)
    if port > _PORT_MAX:
        raise SipSyntaxError(f"port {port} out of range")
    return port


def parse_hostport(text: str) -> tuple[str, int | None]:
    """Split ``host [ ":" port ]``; an IPv6 reference keeps its brackets.

    ``2001:db8::10`` without brackets is not a hostport (RFC 5118 section 4.2): the first colon
    would start the port.
    """
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise SipSyntaxError("'[' without ']' in host")
        host = text[: close + 1]
        rest = text[close + 1 :]
        if not is_ipv6_reference(host):
            raise SipSyntaxError(f"invalid IPv6 reference {host!r}")
        if not rest:
            return host, None
        if rest[0] != ":":
            raise SipSyntaxError(f"unexpected {rest!r} after IPv6 reference")
        return host, parse_port(rest[1:])
    host, colon, port_text = text.partition(":")
    if not is_host(host):
        raise SipSyntaxError(f"invalid host {host!r}")
    if not colon:
        return host, None
    return host, parse_port(port_text)
