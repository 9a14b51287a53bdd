"""The Via header (RFC 3261 sections 18.2.1 and 20.42, RFC 3581 rport, RFC 5118 IPv6).

``via-parm = sent-protocol LWS sent-by *( SEMI via-params )``; SWS may surround the slashes of
``SIP / 2.0 / UDP``, the colon of sent-by and every ``;``/``=``.  Unknown transports are kept
(``SIP/2.0/UNKNOWN`` parses, RFC 4475 section 3.1.1.10).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.errors import RemoteProtocolError
from gateway.sip._values import params_on_first_read, unchecked_constructor
from gateway.sip.grammar import (
    TOKEN_CHARS,
    Params,
    SipSyntaxError,
    is_token,
    parse_params,
    skip_ws,
    split_commas,
)
from gateway.sip.host import (
    COMMON_IPV4_PATTERN,
    is_host,
    is_ipv4,
    is_ipv6_address,
    is_ipv6_reference,
    parse_port,
)
from gateway.sip.uri import COMMON_PORT_PATTERN, FAST_HOST_PATTERN

__all__ = [
    "BRANCH_MAGIC_COOKIE",
    "Via",
    "common_via_pattern",
    "parse_via",
    "parse_via_values",
    "via_from_groups",
]

# RFC 3261 section 8.1.1.7: branches of RFC 3261 elements start with this cookie.
BRANCH_MAGIC_COOKIE = "z9hG4bK"

_TOKEN_SET = frozenset(TOKEN_CHARS)
_HOST_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]++"
# One parameter of the common shape, its value checked here rather than in Python:
# branch=token, rport[=port], received=IPv4, or any other token[=token] parameter except
# ttl and maddr (rare; their values need the general checks) and the names above without the
# value they need.  (?!...) compares whole names: "rportx" is another parameter.
_NOT_BRANCH_PARAM = (
    rf";(?:(?i:rport)(?:={COMMON_PORT_PATTERN})?"
    rf"|(?i:received)={COMMON_IPV4_PATTERN}"
    rf"|(?!(?i:branch|rport|received|ttl|maddr)(?![A-Za-z0-9\-.!%*_+`'~])){_TOKEN}(?:={_TOKEN})?)"
)
_COMMON_VIA_PARAM = rf"(?:;(?i:branch)={_TOKEN}|{_NOT_BRANCH_PARAM})"


def common_via_pattern(groups: bool) -> str:
    """Regex text of the common shape: "SIP/2.0/UDP host:port;a=b;c" (IPv4 or hostname).

    Whatever it matches the general scanner accepts, with the same result; anything else
    (IPv6, spaces around '/', ':' or ';', quoted values, ttl/maddr) takes that scanner.  With
    ``groups``, it captures ``via_transport``, ``via_host``, ``via_port``, ``via_params`` and
    the value of the first branch parameter, ``via_branch`` (the arguments of
    :func:`via_from_groups`); without, it only validates (a Via below the top one).
    """

    def group(name: str, pattern: str) -> str:
        return f"(?P<via_{name}>{pattern})" if groups else f"(?:{pattern})"

    # The parameters before the first branch, that branch, then any parameters.
    params = (
        rf"(?:{_NOT_BRANCH_PARAM})*+"
        rf"(?:;(?i:branch)={group('branch', _TOKEN)}(?:{_COMMON_VIA_PARAM})*+)?"
    )
    return (
        rf"SIP/2\.0/{group('transport', _TOKEN)} {group('host', FAST_HOST_PATTERN)}"
        rf"(?::{group('port', COMMON_PORT_PATTERN)})?{group('params', params)}"
    )


_COMMON_VIA_RE = re.compile(common_via_pattern(groups=True))


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value.  ``transport`` is upper-cased; everything else is as written."""

    transport: str
    host: str
    port: int | None = None
    params: Params = field(default_factory=Params)
    protocol: str = "SIP/2.0"
    # Set by via_from_groups only: params unset until read, split then from _params_text
    # (the transaction layer reads the branch, which the parser captured, and nothing else).
    _params_text: str | None = field(default=None, init=False, repr=False, compare=False)
    _branch: str | None = field(default=None, init=False, repr=False, compare=False)

    if not TYPE_CHECKING:  # (hidden from mypy, which would otherwise accept any attribute)

        def __getattr__(self, name: str) -> Any:
            # Called only for an unset slot: the params of via_from_groups, split now.
            return params_on_first_read(self, name)

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one via-parm; RemoteProtocolError(400) names what is wrong."""
        return parse_via(text)

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.host, self.port

    @property
    def branch(self) -> str | None:
        known = self._branch
        return known if known is not None else self.params.get_lowered("branch")

    @property
    def is_rfc3261_branch(self) -> bool:
        """True when the branch carries the magic cookie *and* an identifier after it.

        A bare ``z9hG4bK`` (RFC 4475 section 3.2.1) cannot identify a transaction; the element
        must fall back to RFC 2543 matching or reject the request.
        """
        branch = self.branch
        return (
            branch is not None
            and branch.startswith(BRANCH_MAGIC_COOKIE)
            and len(branch) > len(BRANCH_MAGIC_COOKIE)
        )

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport_requested(self) -> bool:
        """The ``rport`` parameter is present (RFC 3581), with or without a value."""
        return self.params.has("rport")

    @property
    def rport(self) -> int | None:
        """The ``rport`` value filled in by the server, None when absent or a bare flag."""
        value = self.params.get("rport")
        return int(value) if value else None

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.params.get("ttl")
        return int(value) if value is not None else None

    def replace(self, **changes: Any) -> Via:
        return dataclasses.replace(self, **changes)

    def with_param(self, name: str, value: str | None = None) -> Via:
        return self.replace(params=self.params.with_param(name, value))

    def with_received(self, address: str, port: int | None = None) -> Via:
        """Server-side stamping (RFC 3261 18.2.1 received; RFC 3581 rport when requested)."""
        via = self.with_param("received", address)
        if port is not None and self.rport_requested:
            via = via.with_param("rport", str(port))
        return via

    def render(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.protocol}/{self.transport} {self.host}{port}{self.params.render()}"

    def __str__(self) -> str:
        return self.render()

    def __bytes__(self) -> bytes:
        return self.render().encode("utf-8", "surrogateescape")


_build_lazy_via = unchecked_constructor(
    Via, ("transport", "host", "port", "protocol", "_params_text", "_branch")
)


def _check_params(params: Params) -> None:
    for name, value in params:
        lowered = name.lower()
        if lowered == "branch":
            if value is None or not is_token(value):
                raise SipSyntaxError("branch must be a token")
        elif lowered == "received":
            # RFC 3261: IPv4address / IPv6address.  RFC 5118 section 4.5: also accept [IPv6].
            if value is None or not (
                is_ipv4(value) or is_ipv6_address(value) or is_ipv6_reference(value)
            ):
                raise SipSyntaxError(f"received={value!r} is not an IP address")
        elif lowered == "rport":
            if value is not None:
                parse_port(value)
        elif lowered == "ttl":
            if value is None or not value.isdigit() or len(value) > 3 or int(value) > 255:
                raise SipSyntaxError(f"ttl={value!r} is not 0..255")
        elif lowered == "maddr" and (value is None or not is_host(value)):
            raise SipSyntaxError(f"maddr={value!r} is not a host")


def _scan_token(text: str, pos: int, what: str) -> tuple[str, int]:
    start = pos
    end = len(text)
    while pos < end and text[pos] in _TOKEN_SET:
        pos += 1
    if pos == start:
        raise SipSyntaxError(f"expected {what}")
    return text[start:pos], pos


def _expect(text: str, pos: int, char: str) -> int:
    pos = skip_ws(text, pos)
    if pos >= len(text) or text[pos] != char:
        raise SipSyntaxError(f"expected {char!r} in sent-protocol")
    return skip_ws(text, pos + 1)


def _parse_via_parm(text: str) -> Via:
    via = parse_common_via(text)
    return via if via is not None else _parse_via_parm_general(text)


def parse_common_via(text: str) -> Via | None:
    """The Via when ``text`` has the common shape and is valid, else None (no error raised)."""
    match = _COMMON_VIA_RE.fullmatch(text)
    if match is None:
        return None
    return via_from_groups(*match.groups())


def via_from_groups(
    transport: str, host: str, port_text: str | None, params_text: str, branch: str | None
) -> Via:
    """The Via whose text matched :func:`common_via_pattern` into these groups.

    Its parameters are split when first read; the branch is known at once.
    """
    return _build_lazy_via(
        transport.upper(),
        host,
        int(port_text) if port_text is not None else None,
        "SIP/2.0",
        params_text,
        branch,
    )


def _parse_via_parm_general(text: str) -> Via:
    if not text:
        raise SipSyntaxError("empty Via value")
    name, pos = _scan_token(text, 0, "protocol name")
    pos = _expect(text, pos, "/")
    version, pos = _scan_token(text, pos, "protocol version")
    pos = _expect(text, pos, "/")
    transport, pos = _scan_token(text, pos, "transport")
    after = skip_ws(text, pos)
    if after == pos:
        raise SipSyntaxError("no whitespace between sent-protocol and sent-by")
    pos = after
    end = len(text)
    if pos < end and text[pos] == "[":
        close = text.find("]", pos)
        if close < 0:
            raise SipSyntaxError("unterminated IPv6 reference")
        host_end = close + 1
    else:
        host_end = pos
        while host_end < end and text[host_end] in _HOST_CHARS:
            host_end += 1
    host = text[pos:host_end]
    if not is_host(host):
        raise SipSyntaxError(f"invalid sent-by host {host!r}")
    pos = skip_ws(text, host_end)
    port: int | None = None
    if pos < end and text[pos] == ":":
        pos = skip_ws(text, pos + 1)
        digits_end = pos
        while digits_end < end and text[digits_end].isdigit():
            digits_end += 1
        port = parse_port(text[pos:digits_end])
        pos = digits_end
    params, pos = parse_params(text, pos)
    _check_params(params)
    protocol = f"{name.upper()}/{version}"
    return Via(transport.upper(), host, port, params, protocol)


def parse_via(text: str) -> Via:
    """Parse one via-parm (no commas); RemoteProtocolError(400) naming the problem."""
    try:
        return _parse_via_parm(text.strip(" \t"))
    except SipSyntaxError as exc:
        raise RemoteProtocolError(f"Via: {exc}", 400) from None


def parse_via_values(lines: list[str]) -> tuple[Via, ...]:
    """Every Via value of the given (unfolded) Via header lines, topmost first."""
    vias: list[Via] = []
    try:
        for line in lines:
            if "," in line:
                for item in split_commas(line):
                    vias.append(_parse_via_parm(item))
            else:
                vias.append(_parse_via_parm(line))
    except SipSyntaxError as exc:
        raise RemoteProtocolError(f"Via: {exc}", 400) from None
    return tuple(vias)
