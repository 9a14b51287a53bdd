"""The gateway's REGISTER client: the E.164 numbers of its lines at a registrar (RFC 3261 s10.2).

One binding per number, as Cisco gateways register each directory number: address of record
``sip:<number>@<domain>``, Contact ``<sip:<number>@<our address>>``, one Call-ID per binding kept
across refreshes with the CSeq counting up (s10.2.4).  A 401/407 is answered with the
:class:`~gateway.sip.auth_client.DigestClient` (a refused password is not retried in a loop:
the binding becomes ``rejected`` and waits for the back-off).  A 423 takes the registrar's
Min-Expires (s10.2.8).  The binding is refreshed at half the granted lifetime or
``refresh_margin`` seconds before it runs out, whichever comes first; failures are retried
after ``retry_min`` seconds, doubling up to ``retry_max``, with a little jitter so a fleet of
gateways does not retry in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from gateway.calls.commands import RegistrationSnapshot, RegistrationState
from gateway.calls.plan import GatewayPlan, RegistrationSettings, SipTarget
from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.auth_client import DigestClient
from gateway.sip.endpoint import SipEndpoint
from gateway.sip.events import (
    ClientTransactionId,
    EndpointEvent,
    ResponseReceived,
    TransactionFailed,
)
from gateway.sip.message import Response
from gateway.sip.routing import Hop, bare_host, hostport, is_ip_address

__all__ = ["RegistrationClient"]

_JITTER = 0.1
# How often a REGISTER waiting for the registrar's name to be looked up checks again.
NAME_WAIT = 0.2


class NameSource(Protocol):
    """The core's host-name lookups (see GatewayCore.name_pending / resolve_name)."""

    def name_pending(self, name: str, now: float) -> bool: ...

    def resolve_name(self, name: str) -> str | None: ...


class _Binding:
    __slots__ = (
        "aor",
        "call_id",
        "contact",
        "cseq",
        "digest",
        "expires_at",
        "failures",
        "last_status",
        "next_attempt",
        "number",
        "reason",
        "requested",
        "sent_auth",
        "state",
        "transaction",
        "unregistering",
    )

    def __init__(self, number: str, aor: str, call_id: str, digest: DigestClient | None) -> None:
        self.number = number
        self.aor = aor
        self.call_id = call_id
        self.contact = ""
        self.cseq = 0
        self.digest = digest
        self.state: RegistrationState = "idle"
        self.expires_at: float | None = None
        self.next_attempt: float | None = None
        self.failures = 0
        self.last_status: int | None = None
        self.reason = "not registered yet"
        self.requested = 0
        self.sent_auth: list[tuple[str, str]] = []
        self.transaction: ClientTransactionId | None = None
        self.unregistering = False


class RegistrationClient:
    """Registers every configured number; sans-IO, driven by the core."""

    __slots__ = (
        "_bindings",
        "_by_call_id",
        "_endpoint",
        "_names",
        "_notice",
        "_plan",
        "_rng",
        "_settings",
        "_target",
    )

    def __init__(
        self,
        plan: GatewayPlan,
        endpoint: SipEndpoint,
        *,
        rng: random.Random,
        notice: Callable[[str], None],
        names: NameSource | None = None,
    ) -> None:
        if plan.registration is None or plan.registrar is None:
            raise LocalProtocolError("the plan has no registration settings")
        self._plan = plan
        self._settings: RegistrationSettings = plan.registration
        self._target: SipTarget = plan.registrar
        self._endpoint = endpoint
        self._rng = rng
        self._notice = notice
        self._names = names
        numbers = self._settings.numbers or tuple(
            dict.fromkeys(number for line in plan.lines for number in line.numbers)
        )
        domain = self._settings.domain or self._target.host
        self._bindings: list[_Binding] = []
        self._by_call_id: dict[str, _Binding] = {}
        for number in numbers:
            digest = None
            if self._settings.password is not None:
                digest = DigestClient(
                    self._settings.username or number,
                    self._settings.password,
                    rng=rng,
                    node=plan.node,
                )
            binding = _Binding(
                number, f"sip:{number}@{hostport(domain)}", endpoint.new_call_id(), digest
            )
            binding.requested = self._settings.expires
            self._bindings.append(binding)
            self._by_call_id[binding.call_id] = binding

    def start(self, now: float) -> None:
        """Register every number now (the first REGISTERs go out on this call)."""
        for binding in self._bindings:
            binding.unregistering = False
            self._send(binding, now)

    def stop(self, now: float) -> None:
        """Remove our bindings (Expires: 0) and stop refreshing."""
        for binding in self._bindings:
            binding.next_attempt = None
            if binding.state == "registered":
                binding.unregistering = True
                self._send(binding, now)
            else:
                binding.state = "idle"

    def owns(self, call_id: str) -> bool:
        return call_id in self._by_call_id

    def get_timer(self) -> float | None:
        deadlines = [b.next_attempt for b in self._bindings if b.next_attempt is not None]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        for binding in self._bindings:
            due = binding.next_attempt
            if due is not None and due <= now and binding.transaction is None:
                self._send(binding, now)

    def handle(self, event: EndpointEvent, now: float) -> None:
        binding = self._by_call_id.get(event.call_id)
        if binding is None:
            return
        if isinstance(event, ResponseReceived):
            if event.transaction != binding.transaction or event.response.status < 200:
                return
            binding.transaction = None
            self._response(binding, event.response, now)
        elif isinstance(event, TransactionFailed) and event.transaction == binding.transaction:
            binding.transaction = None
            binding.last_status = event.status
            self._failed(binding, f"no response ({event.reason})", now)

    def snapshots(self) -> tuple[RegistrationSnapshot, ...]:
        return tuple(
            RegistrationSnapshot(
                number=b.number,
                aor=b.aor,
                registrar=str(self._target),
                state=b.state,
                expires_at=b.expires_at if b.state == "registered" else None,
                next_attempt=b.next_attempt,
                last_status=b.last_status,
                reason=b.reason,
                failures=b.failures,
            )
            for b in self._bindings
        )

    # -- internals -------------------------------------------------------------------------

    def _destination(self) -> Hop | None:
        target = self._target
        host = target.host
        if is_ip_address(host):
            address: str | None = bare_host(host)
        elif self._names is not None:
            address = self._names.resolve_name(host)
        else:
            address = self._plan.resolver(host)
        if address is None or not is_ip_address(address):
            return None
        return Hop(target.transport, (bare_host(address), target.port))

    def _send(self, binding: _Binding, now: float) -> None:
        binding.next_attempt = None
        names = self._names
        if names is not None and names.name_pending(self._target.host, now):
            # The runtime is looking the registrar's name up: try again in a moment.
            binding.next_attempt = now + NAME_WAIT
            return
        destination = self._destination()
        if destination is None:
            self._failed(binding, f"cannot resolve registrar {self._target.host!r}", now)
            return
        endpoint = self._endpoint
        target = self._target
        uri = f"sip:{hostport(target.host, target.port)}"
        if target.transport == "tcp":
            uri += ";transport=tcp"
        if not binding.contact:
            binding.contact = _contact_for(endpoint.local_contact(target.transport), binding.number)
        expires = 0 if binding.unregistering else binding.requested
        binding.cseq += 1
        digest = binding.digest
        auth = [] if digest is None else digest.authorization_headers("REGISTER", uri)
        binding.sent_auth = auth
        try:
            request = endpoint.new_request(
                "REGISTER",
                uri,
                from_=f"<{binding.aor}>",
                to=f"<{binding.aor}>",
                call_id=binding.call_id,
                cseq=binding.cseq,
                contact=binding.contact,
                headers=[("Expires", str(expires)), *auth],
                transport=target.transport,
            )
            binding.transaction = endpoint.send_request(request, now, destination=destination)
        except LocalProtocolError as exc:
            self._failed(binding, f"cannot send REGISTER: {exc}", now)
            return
        if binding.state in ("idle", "rejected"):
            binding.state = "registering"

    def _response(self, binding: _Binding, response: Response, now: float) -> None:
        status = response.status
        binding.last_status = status
        if 200 <= status < 300:
            self._registered(binding, response, now)
        elif status in (401, 407) and binding.digest is not None:
            header = "www-authenticate" if status == 401 else "proxy-authenticate"
            outcome = binding.digest.on_challenge(
                status, response.headers.get_all(header), now, sent=binding.sent_auth
            )
            if outcome.retry:
                self._send(binding, now)
            else:
                self._failed(binding, f"{status}: {outcome.reason}", now, rejected=True)
        elif status == 423:
            minimum = response.headers.get("min-expires") or ""
            if minimum.strip().isdigit() and int(minimum) > binding.requested:
                binding.requested = int(minimum)
                self._send(binding, now)
            else:
                self._failed(binding, "423 without a usable Min-Expires", now)
        else:
            self._failed(
                binding, f"{status} {response.reason}", now, rejected=status in (401, 403, 407)
            )

    def _registered(self, binding: _Binding, response: Response, now: float) -> None:
        binding.failures = 0
        if binding.unregistering:
            binding.unregistering = False
            binding.state = "idle"
            binding.expires_at = binding.next_attempt = None
            binding.reason = "unregistered"
            return
        granted = _granted_expires(response, binding.contact, binding.requested)
        if granted <= 0:
            self._failed(binding, "the registrar kept no binding for our Contact", now)
            return
        was = binding.state
        binding.state = "registered"
        binding.reason = f"registered for {granted} s"
        binding.expires_at = now + granted
        refresh = min(granted / 2, granted - self._settings.refresh_margin)
        binding.next_attempt = now + max(1.0, refresh)
        if was != "registered":
            self._notice(f"registration {binding.number} at {self._target}: {binding.reason}")

    def _failed(
        self, binding: _Binding, reason: str, now: float, *, rejected: bool = False
    ) -> None:
        settings = self._settings
        binding.failures += 1
        binding.reason = reason
        binding.state = "rejected" if rejected else "retrying"
        if binding.expires_at is not None and binding.expires_at > now and not rejected:
            binding.state = "registered"  # the old binding still holds until it runs out
        delay = min(settings.retry_max, settings.retry_min * 2 ** (binding.failures - 1))
        delay *= 1 + _JITTER * (2 * self._rng.random() - 1)
        binding.next_attempt = now + delay
        if binding.digest is not None and rejected:
            binding.digest.reset()
        self._notice(
            f"registration {binding.number} at {self._target} failed: {reason}; "
            f"retrying in {delay:.0f} s"
        )


def _contact_for(local_contact: str, number: str) -> str:
    """Our Contact with ``number`` as the user part: ``<sip:5551234@10.0.0.2:5060>``."""
    inner = local_contact.strip().removeprefix("<").removesuffix(">")
    scheme, _, rest = inner.partition(":")
    host = rest.rpartition("@")[2]
    return f"<{scheme}:{number}@{host}>"


def _granted_expires(response: Response, contact: str, requested: int) -> int:
    """The lifetime the registrar granted our Contact (its expires param, else the Expires
    header, else what we asked for; RFC 3261 s10.2.4)."""
    ours = contact.strip("<>").lower()
    try:
        contacts = response.contacts
        header = response.expires
    except RemoteProtocolError:
        return requested
    for address in contacts:
        if address.uri_text.lower() == ours:
            value = address.expires
            if value is not None:
                return value
            break
    return header if header is not None else requested
