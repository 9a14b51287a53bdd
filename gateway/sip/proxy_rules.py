"""Rules a stateful proxy applies to a request it forwards (RFC 3261 section 16).

* :func:`loop_key` -- the part of a forwarded request's branch that lets the proxy tell a loop
  from a spiral (section 16.6 step 8, section 16.3 step 4);
* :func:`detects_loop` -- section 16.3 step 4 on a received request;
* :func:`decrement_max_forwards` -- section 16.6 step 3;
* :func:`without_own_route` -- section 16.4: drop the top Route when it names this proxy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from gateway.sip.message import Request
from gateway.sip.routing import DEFAULT_PORT, bare_host
from gateway.sip.uri import SipUri
from gateway.trace import Address

__all__ = ["decrement_max_forwards", "detects_loop", "loop_key", "without_own_route"]

DEFAULT_MAX_FORWARDS = 70


def loop_key(request: Request) -> str:
    """A digest of what identifies the request as this proxy received it.

    Section 16.6 step 8 lists the inputs: Request-URI as received, To tag, From tag, Call-ID,
    CSeq number, Proxy-Require, Proxy-Authorization and Route.  A request that comes back with
    the same digest has looped; one whose Request-URI changed (a spiral) has not.
    """
    parts = [
        request.uri_text,
        request.to_tag or "",
        request.from_tag or "",
        request.call_id,
        str(request.cseq.number),
        *request.headers.get_all("proxy-require"),
        *request.headers.get_all("proxy-authorization"),
        *request.headers.get_all("route"),
    ]
    return hashlib.blake2s(
        "\n".join(parts).encode("utf-8", "surrogateescape"), digest_size=8
    ).hexdigest()


def detects_loop(request: Request, own_sent_by: Iterable[str]) -> bool:
    """Section 16.3 step 4: a Via we wrote whose branch carries this request's loop key."""
    own = {sent_by.lower() for sent_by in own_sent_by}
    key: str | None = None
    for via in request.vias:
        sent_by = via.host.lower() if via.port is None else f"{via.host.lower()}:{via.port}"
        if sent_by not in own:
            continue
        if key is None:
            key = loop_key(request)
        branch = via.branch or ""
        if branch.endswith("." + key):
            return True
    return False


def decrement_max_forwards(request: Request) -> Request:
    """Max-Forwards minus one, or 70 when absent (section 16.6 step 3)."""
    value = request.max_forwards
    new = DEFAULT_MAX_FORWARDS if value is None else value - 1
    return request.replace_header("Max-Forwards", str(new))


def without_own_route(request: Request, own: Iterable[Address]) -> Request:
    """The request without its top Route value when that value names us (section 16.4)."""
    routes = request.routes
    if not routes:
        return request
    uri = routes[0].uri
    if not isinstance(uri, SipUri):
        return request
    target = (bare_host(uri.host).lower(), uri.port or DEFAULT_PORT)
    if any((host.lower(), port) == target for host, port in own):
        return request.with_headers(request.headers.without_first_value("route"))
    return request
