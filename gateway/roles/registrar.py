"""A sans-IO SIP registrar and its location service (RFC 3261 s10.3).

:meth:`Registrar.process` decides the answer to one REGISTER -- authentication by Digest
(:class:`~gateway.sip.auth_server.DigestChallenger`), the authenticated user must own the
address of record, bindings added, refreshed and removed per Contact with their own expiry,
``Contact: *`` with ``Expires: 0`` removing them all, too brief an expiry refused with 423 and
Min-Expires, an out-of-order CSeq on the same Call-ID refused -- and :meth:`Registrar.respond`
answers it through a :class:`~gateway.sip.endpoint.SipEndpoint`.  :meth:`Registrar.lookup` is
the location service a proxy asks (flow 3).  Expired bindings are dropped when next touched;
nothing reads a clock.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from gateway.errors import RemoteProtocolError
from gateway.sip.address import Address
from gateway.sip.auth_digest import Secret
from gateway.sip.auth_server import DigestChallenger, UserLookup
from gateway.sip.endpoint import SipEndpoint
from gateway.sip.events import RequestReceived
from gateway.sip.message import Request
from gateway.sip.uri import SipUri, Uri
from gateway.trace import TraceEvent, TraceSink, discard

__all__ = ["Binding", "Registrar", "RegistrarAnswer"]

DEFAULT_EXPIRES: Final = 3600  # RFC 3261 s10.3 step 7 lets the registrar choose


@dataclass(frozen=True, slots=True)
class Binding:
    """One Contact bound to an address of record until ``expires_at``."""

    aor: str
    contact: str
    expires_at: float
    call_id: str
    cseq: int


@dataclass(frozen=True, slots=True)
class RegistrarAnswer:
    """The response to a REGISTER: ``status``, the headers it carries, and why (for logs)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    reason: str


def address_of_record(uri: Uri) -> str:
    """The canonical AOR of a To URI: ``sip:user@host`` (scheme and host lower case, no port
    or parameters; RFC 3261 s10.3 step 5)."""
    if isinstance(uri, SipUri):
        user = f"{uri.user}@" if uri.user else ""
        return f"{uri.scheme.lower()}:{user}{uri.host.lower()}"
    return str(uri)


class Registrar:
    """Bindings per address of record, maintained by REGISTER (see the module docstring).

    ``users`` maps user names to passwords (or a lookup callable); None accepts every REGISTER
    without authentication.  ``domain`` (when set) is the only Request-URI host served.
    """

    __slots__ = (
        "_bindings",
        "_challenger",
        "_default_expires",
        "_domain",
        "_max_expires",
        "_min_expires",
        "_node",
        "_trace",
    )

    def __init__(
        self,
        realm: str,
        users: Mapping[str, Secret] | UserLookup | None,
        *,
        rng: random.Random,
        secret: bytes,
        domain: str | None = None,
        min_expires: int = 60,
        max_expires: int = 7200,
        default_expires: int = DEFAULT_EXPIRES,
        trace: TraceSink = discard,
        node: str = "registrar",
    ) -> None:
        lookup: UserLookup | None
        if users is None:
            lookup = None
        elif isinstance(users, Mapping):
            table = dict(users)

            def lookup(username: str, _realm: str) -> Secret | None:
                return table.get(username)

        else:
            lookup = users
        self._challenger = (
            None
            if lookup is None
            else DigestChallenger(realm, secret, lookup, rng=rng, trace=trace, node=node)
        )
        self._domain = None if domain is None else domain.lower()
        self._min_expires = min_expires
        self._max_expires = max_expires
        self._default_expires = default_expires
        self._bindings: dict[str, dict[str, Binding]] = {}
        self._trace = trace
        self._node = node

    # -- location service ------------------------------------------------------------------

    def lookup(self, target: str, now: float) -> tuple[Binding, ...]:
        """Live bindings of an AOR (``sip:5551234@example.com``) or of a bare user name."""
        if ":" in target:
            found = self._live(target.lower() if "@" not in target else _lower_host(target), now)
            return tuple(found.values())
        result: list[Binding] = []
        for aor in list(self._bindings):
            if aor.partition(":")[2].partition("@")[0] == target:
                result.extend(self._live(aor, now).values())
        return tuple(result)

    def aors(self, now: float) -> tuple[str, ...]:
        return tuple(aor for aor in list(self._bindings) if self._live(aor, now))

    # -- REGISTER --------------------------------------------------------------------------

    def respond(self, endpoint: SipEndpoint, event: RequestReceived, now: float) -> bool:
        """Answer ``event`` if it is a REGISTER; False (nothing sent) otherwise."""
        if event.request.method != "REGISTER":
            return False
        answer = self.process(event.request, now)
        endpoint.respond(event.transaction, answer.status, now, headers=answer.headers)
        return True

    def process(self, request: Request, now: float) -> RegistrarAnswer:
        try:
            return self._process(request, now)
        except RemoteProtocolError as exc:
            return self._answer(now, exc.status_hint or 400, (), exc.reason)

    def _process(self, request: Request, now: float) -> RegistrarAnswer:
        uri = request.uri
        if self._domain is not None and (
            not isinstance(uri, SipUri) or uri.host.lower() != self._domain
        ):
            return self._answer(now, 404, (), f"domain {uri} is not served here")
        aor = address_of_record(request.to.uri)
        challenger = self._challenger
        if challenger is not None:
            verdict = challenger.verify(
                "REGISTER", request.uri_text, request.headers.get_all("authorization"), now
            )
            if not verdict.ok:
                return self._answer(
                    now, verdict.status or 403, tuple(verdict.headers), verdict.reason
                )
            owner = aor.partition(":")[2].partition("@")[0]
            if verdict.username != owner:
                return self._answer(now, 403, (), f"{verdict.username!r} may not register {aor}")
        header_expires = request.expires
        current = self._live(aor, now)
        if request.contact_is_wildcard:
            if header_expires != 0 or len(request.contacts) > 1:
                return self._answer(now, 400, (), "Contact: * needs Expires: 0 and no other")
            for binding in current.values():
                if binding.call_id == request.call_id and request.cseq.number <= binding.cseq:
                    return self._answer(now, 500, (), "CSeq not above the binding's")
            self._bindings.pop(aor, None)
            return self._answer(now, 200, (), f"{aor}: every binding removed")
        changes: list[tuple[str, int]] = []
        for contact in request.contacts:
            expires = contact.expires
            if expires is None:
                expires = self._default_expires if header_expires is None else header_expires
            if 0 < expires < self._min_expires:
                return self._answer(
                    now, 423, (("Min-Expires", str(self._min_expires)),), "expiry too brief"
                )
            changes.append((_contact_key(contact), min(expires, self._max_expires)))
        for contact_uri, _ in changes:
            existing = current.get(contact_uri)
            if (
                existing is not None
                and existing.call_id == request.call_id
                and request.cseq.number <= existing.cseq
            ):
                return self._answer(now, 500, (), "CSeq not above the binding's")
        for contact_uri, expires in changes:
            if expires == 0:
                current.pop(contact_uri, None)
            else:
                current[contact_uri] = Binding(
                    aor, contact_uri, now + expires, request.call_id, request.cseq.number
                )
        if current:
            self._bindings[aor] = current
        else:
            self._bindings.pop(aor, None)
        listed = tuple(
            ("Contact", f"<{b.contact}>;expires={max(0, int(b.expires_at - now))}")
            for b in current.values()
        )
        return self._answer(now, 200, listed, f"{aor}: {len(current)} binding(s)")

    # -- internals -------------------------------------------------------------------------

    def _live(self, aor: str, now: float) -> dict[str, Binding]:
        bindings = self._bindings.get(aor)
        if bindings is None:
            return {}
        live = {key: b for key, b in bindings.items() if b.expires_at > now}
        if len(live) != len(bindings):
            if live:
                self._bindings[aor] = live
            else:
                del self._bindings[aor]
        return dict(live)

    def _answer(
        self, now: float, status: int, headers: tuple[tuple[str, str], ...], reason: str
    ) -> RegistrarAnswer:
        if self._trace is not discard:
            self._trace(TraceEvent(now, self._node, "sip", "note", f"REGISTER {status}: {reason}"))
        return RegistrarAnswer(status, headers, reason)


def _contact_key(contact: Address) -> str:
    return contact.uri_text


def _lower_host(aor: str) -> str:
    scheme, _, rest = aor.partition(":")
    user, _, host = rest.rpartition("@")
    return f"{scheme.lower()}:{user}@{host.lower()}"
