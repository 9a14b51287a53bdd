"""Where SIP messages go: hops, outgoing items, Via stamping and response routing.

* :class:`Hop` -- a transport destination (transport, address, TCP connection, local socket);
* :class:`Transmit` -- one item of ``SipEndpoint.datagrams_to_send``;
* :func:`uri_hop` -- the next hop of a request from a SIP URI (RFC 3261 section 8.1.2; gwemu
  needs numeric hosts here: name resolution belongs to the caller, outside the sans-IO core);
* :func:`stamp_received` -- the server transport's Via ``received``/``rport`` (RFC 3261
  section 18.2.1, RFC 3581 section 4);
* :func:`response_hop` -- where a response goes (RFC 3261 section 18.2.2, RFC 3581 section 4).

Addresses are ``(host, port)`` tuples with a bare IPv6 host (``("::1", 5060)``); on the wire an
IPv6 host is bracketed (RFC 5118): :func:`hostport` does that.
"""

from __future__ import annotations

import ipaddress
from typing import Literal, NamedTuple

from gateway.errors import LocalProtocolError
from gateway.sip.message import Request
from gateway.sip.uri import SipUri, Uri
from gateway.sip.via import Via
from gateway.trace import Address

__all__ = [
    "DEFAULT_PORT",
    "Hop",
    "SipTransport",
    "Transmit",
    "bare_host",
    "hostport",
    "is_ip_address",
    "response_hop",
    "stamp_received",
    "uri_hop",
    "via_value",
]

SipTransport = Literal["udp", "tcp"]
DEFAULT_PORT = 5060  # RFC 3261 section 19.1.2 for sip: over UDP and TCP
_TRANSPORTS: dict[str, SipTransport] = {"udp": "udp", "tcp": "tcp"}
_ip_cache: dict[str, bool] = {}


class Hop(NamedTuple):
    """A transport destination.

    ``connection`` names the TCP connection to use while it is open (the one a request came
    in on); ``local`` the socket to send from, so responses leave from the address and port
    the request reached (symmetric signalling, RFC 3581 section 4).
    """

    transport: SipTransport
    address: Address
    connection: int | None = None
    local: Address | None = None


class Transmit(NamedTuple):
    """One thing for the transport adapter to do.

    UDP: send ``data`` from the socket bound to ``local`` (any socket of the right family when
    None) to ``destination``.  TCP: write ``data`` on ``connection``; a connection id the
    adapter has never seen means "connect to ``destination`` first" (and report the outcome
    with ``connection_lost`` on failure).  ``close=True`` closes the connection after ``data``.
    """

    transport: SipTransport
    destination: Address
    data: bytes
    connection: int | None = None
    local: Address | None = None
    close: bool = False


def is_ip_address(host: str) -> bool:
    """True for a numeric IPv4 or IPv6 address (brackets allowed around IPv6)."""
    known = _ip_cache.get(host)
    if known is not None:
        return known
    try:
        ipaddress.ip_address(bare_host(host))
        numeric = True
    except ValueError:
        numeric = False
    if len(_ip_cache) < 4096:
        _ip_cache[host] = numeric
    return numeric


def bare_host(host: str) -> str:
    """``[::1]`` -> ``::1``; anything else unchanged."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def hostport(host: str, port: int | None = None) -> str:
    """``host:port`` as written in a Via or URI, IPv6 bracketed (RFC 5118)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


def via_value(transport: SipTransport, sent_by: str, branch: str) -> str:
    """Our Via: RFC 3261 branch, and ``rport`` asking for symmetric responses (RFC 3581)."""
    return f"SIP/2.0/{transport.upper()} {sent_by};branch={branch};rport"


def uri_hop(uri: Uri, transport: SipTransport | None = None) -> Hop:
    """The hop a request to ``uri`` goes to: maddr or host, port (5060), transport param.

    ``transport`` applies when the URI has no ``transport`` parameter (default UDP).
    Raises LocalProtocolError for a non-SIP URI, ``sips:`` (no TLS here) or a host name.
    """
    if not isinstance(uri, SipUri):
        raise LocalProtocolError(f"cannot route to {uri}: not a sip: URI (give a destination)")
    if uri.is_secure:
        raise LocalProtocolError(f"cannot route to {uri}: sips needs TLS, which gwemu lacks")
    host = uri.maddr or uri.host
    if not is_ip_address(host):
        raise LocalProtocolError(
            f"cannot route to {uri}: host {host!r} is not numeric (resolve it, give a destination)"
        )
    param = uri.transport
    chosen: SipTransport
    if param is not None:
        found = _TRANSPORTS.get(param)
        if found is None:
            raise LocalProtocolError(f"cannot route to {uri}: transport {param} is not supported")
        chosen = found
    else:
        chosen = transport or "udp"
    return Hop(chosen, (bare_host(host), uri.port or DEFAULT_PORT))


def stamp_received(request: Request, source: Address) -> Request:
    """The request with ``received`` (and a filled ``rport``) on its top Via when needed.

    RFC 3261 section 18.2.1: add ``received`` when sent-by's host differs from the packet's
    source address.  RFC 3581 section 4: when ``rport`` is present without a value, fill it in
    with the source port and always add ``received``.
    """
    via = request.via
    source_ip = source[0]
    rport = via.rport_requested and via.rport is None
    if not rport and bare_host(via.host) == source_ip:
        return request
    stamped = via.with_received(source_ip, source[1] if rport else None)
    headers = request.headers.without_first_value("via").prepend("Via", stamped.render())
    return request.with_headers(headers)


def response_hop(
    via: Via,
    source: Address,
    transport: SipTransport,
    connection: int | None,
    local: Address | None,
) -> Hop:
    """Where responses to a request that arrived from ``source`` go (RFC 3261 18.2.2).

    Reliable transports answer on the connection the request came in on; if it has closed,
    a new one to the source address and sent-by port.  Over UDP: ``maddr`` when present, else
    the source address, at the source port when ``rport`` was asked for (RFC 3581), else at
    the sent-by port.
    """
    port = via.port or DEFAULT_PORT
    if transport == "tcp":
        return Hop("tcp", (source[0], port), connection, local)
    maddr = via.maddr
    if maddr is not None and is_ip_address(maddr):
        return Hop("udp", (bare_host(maddr), port), None, local)
    if via.rport_requested:
        return Hop("udp", source, None, local)
    return Hop("udp", (source[0], port), None, local)
