"""Digest authentication of the requests our calls send: INVITE, BYE, INFO (RFC 3261 s22.2-22.3).

A gateway behind an ITSP or a PBX meets 401/407 on its INVITEs, and some servers challenge
requests inside the dialog too.  A SIP leg answers each challenge once with the
:class:`~gateway.sip.auth_client.DigestClient` the REGISTER client uses; the retry rules
(``stale=true`` answered again, a refused password never looped on) are the DigestClient's.

Which credentials: :func:`credential_for` takes the first that fits the realms the server
named -- a configured credential for exactly that realm, then a configured credential without
realm, then the ``[registration]`` user name and password (its user name defaulting to the
calling number, as each number registers as its own user).
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.calls.plan import GatewayPlan, SipCredential
from gateway.errors import RemoteProtocolError
from gateway.sip.auth_header import Challenge, parse_challenges
from gateway.sip.message import Response

__all__ = ["challenge_values", "challenged_realms", "credential_for"]


def challenge_values(response: Response) -> list[str]:
    """The challenge header values of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate)."""
    name = "proxy-authenticate" if response.status == 407 else "www-authenticate"
    return response.headers.get_all(name)


def challenged_realms(values: Iterable[str]) -> list[str]:
    """The realms of the Digest challenges among ``values``, in order, each once; unreadable
    values are skipped (the DigestClient reports them when nothing is left)."""
    realms: list[str] = []
    for value in values:
        try:
            parsed = parse_challenges(value)
        except RemoteProtocolError:
            continue
        for challenge in parsed:
            if isinstance(challenge, Challenge) and challenge.realm not in realms:
                realms.append(challenge.realm)
    return realms


def credential_for(plan: GatewayPlan, realms: Iterable[str], user: str) -> SipCredential | None:
    """The credential to answer a challenge for ``realms`` with; ``user`` is the calling
    number, the user name of registration credentials that name none."""
    wanted = list(realms)
    for realm in wanted:
        for credential in plan.credentials:
            if credential.realm == realm:
                return credential
    for credential in plan.credentials:
        if credential.realm is None:
            return credential
    registration = plan.registration
    if registration is None or registration.password is None:
        return None
    username = registration.username or user
    if not username:
        return None
    return SipCredential(username, registration.password)
