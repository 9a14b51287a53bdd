"""The challenging side of Digest authentication: registrars and proxies (RFC 3261 s22.1-22.3).

A :class:`DigestChallenger` issues challenges and judges credentials, returning an
:class:`AuthVerdict` and never raising for anything the client sent.  It is sans-IO: the caller
passes ``now`` and a ``random.Random``; nothing reads a clock.

Nonces are self-verifying: ``base64url(issued-at(8) | random(10) | HMAC-SHA256(key)[:15])`` with
a key derived from the caller's secret and the realm, so any nonce this realm issued (even
before a restart, with the same secret) is recognised without storing it.  The only state is,
per nonce that has authenticated something, the highest nonce-count seen (replay detection,
RFC 7616 section 3.4), swept once the nonce has expired -- an expired nonce is never accepted,
so forgetting its count loses nothing.

The order of checks matters: a spent nonce (expired, or a repeated nonce-count) is reported
``stale=true`` only when the digest itself was right (RFC 7616 section 3.3), so a client with a
wrong password is told so instead of being invited to retry.
"""

from __future__ import annotations

import base64
import enum
import hmac
import math
import random
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.auth_digest import (
    Secret,
    find_algorithm,
    request_digest,
    user_secret_hex,
)
from gateway.sip.auth_header import Challenge, Credentials, OtherScheme, parse_credentials
from gateway.trace import TraceEvent, TraceSink, discard

__all__ = ["AuthVerdict", "DigestChallenger", "FailurePolicy", "UserLookup", "VerdictKind"]

# Given (username, realm): the user's password or StoredHA1, or None for an unknown user.
UserLookup = Callable[[str, str], Secret | None]
# How a wrong password or an unknown user is answered: 401/407 again, or 403.
FailurePolicy = Literal["challenge", "forbidden"]

_PAYLOAD = struct.Struct(">d")
_RANDOM_BYTES = 10
_MAC_BYTES = 15
_NONCE_CHARS = 4 * (_PAYLOAD.size + _RANDOM_BYTES + _MAC_BYTES) // 3
_SUPPORTED_QOP = ("auth", "auth-int")


class VerdictKind(enum.Enum):
    ACCEPTED = "accepted"
    CHALLENGE = "challenge"  # 401/407 with a fresh challenge (no or refused credentials)
    STALE = "stale"  # 401/407 with stale=true: the digest was right, the nonce is spent
    FORBIDDEN = "forbidden"  # 403 (failure_policy="forbidden")
    BAD_REQUEST = "bad-request"  # 400: malformed credentials or a digest uri that is not ours


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    """The judgement on one request.

    ``status`` is the SIP status to answer (None when accepted), ``reason`` says why for logs
    and traces (the status line keeps its standard phrase), ``challenges`` go into
    ``header_name`` header fields, one each, in order of preference (RFC 8760 section 2.3).
    """

    kind: VerdictKind
    reason: str
    status: int | None = None
    username: str | None = None
    challenges: tuple[Challenge, ...] = ()
    header_name: str = "WWW-Authenticate"

    @property
    def ok(self) -> bool:
        return self.kind is VerdictKind.ACCEPTED

    @property
    def headers(self) -> list[tuple[str, str]]:
        """``(name, value)`` header fields to add to the 401/407 (empty otherwise)."""
        return [(self.header_name, str(challenge)) for challenge in self.challenges]


class DigestChallenger:
    """Challenges requests for one realm and verifies their Digest credentials."""

    __slots__ = (
        "_algorithms",
        "_allow_rfc2069",
        "_check_uri",
        "_domain",
        "_failure_policy",
        "_key",
        "_lifetime",
        "_lookup",
        "_next_sweep",
        "_node",
        "_opaque",
        "_proxy",
        "_qop",
        "_realm",
        "_rng",
        "_seen",
        "_trace",
    )

    def __init__(
        self,
        realm: str,
        secret: bytes,
        lookup: UserLookup,
        *,
        rng: random.Random,
        algorithms: Iterable[str] = ("SHA-256", "MD5"),
        qop: Iterable[str] = ("auth",),
        nonce_lifetime: float = 300.0,
        proxy: bool = False,
        failure_policy: FailurePolicy = "challenge",
        opaque: str | None = None,
        domain: Iterable[str] = (),
        check_uri: bool = True,
        allow_rfc2069: bool = False,
        trace: TraceSink = discard,
        node: str = "registrar",
    ) -> None:
        """``algorithms`` and ``qop`` are offered in that order of preference.

        ``secret`` (16 bytes or more) keys the nonces; ``opaque`` defaults to a value derived
        from it.  ``check_uri`` compares the digest ``uri`` with the Request-URI as text
        (RFC 7616 section 3.4.6).  ``allow_rfc2069`` accepts answers without qop, which have no
        replay protection.
        """
        if len(secret) < 16:
            raise LocalProtocolError("the nonce secret must have at least 16 bytes")
        if not nonce_lifetime > 0:
            raise LocalProtocolError("nonce_lifetime must be positive")
        names = []
        for name in algorithms:
            algorithm = find_algorithm(name)
            if algorithm is None:
                raise LocalProtocolError(f"unknown Digest algorithm {name!r}")
            names.append(algorithm.name)
        qops = tuple(value.lower() for value in qop)
        if not names or not qops or not set(qops) <= set(_SUPPORTED_QOP):
            raise LocalProtocolError("offer at least one algorithm and a qop of auth/auth-int")
        realm_bytes = realm.encode("utf-8", "surrogateescape")
        self._realm = realm
        self._key = hmac.digest(secret, b"gwemu digest nonce\x00" + realm_bytes, "sha256")
        self._lookup = lookup
        self._rng = rng
        self._algorithms = tuple(names)
        self._qop = qops
        self._lifetime = float(nonce_lifetime)
        self._proxy = proxy
        self._failure_policy: FailurePolicy = failure_policy
        self._opaque = (
            opaque
            if opaque is not None
            else hmac.digest(secret, b"gwemu digest opaque\x00" + realm_bytes, "sha256")[:16].hex()
        )
        self._domain = tuple(domain)
        self._check_uri = check_uri
        self._allow_rfc2069 = allow_rfc2069
        self._trace = trace
        self._node = node
        self._seen: dict[str, tuple[float, int]] = {}
        self._next_sweep = -math.inf

    @property
    def realm(self) -> str:
        return self._realm

    def challenge(self, now: float, *, stale: bool = False) -> tuple[Challenge, ...]:
        """Fresh challenges, one per offered algorithm, sharing one new nonce."""
        nonce = self._new_nonce(now)
        return tuple(
            Challenge.digest(
                self._realm,
                nonce,
                algorithm=name,
                qop=self._qop,
                opaque=self._opaque,
                stale=stale,
                domain=self._domain,
            )
            for name in self._algorithms
        )

    def verify(
        self,
        method: str,
        request_uri: str,
        authorization_values: Iterable[str],
        now: float,
        *,
        body: bytes = b"",
    ) -> AuthVerdict:
        """Judge a request from its Authorization (or Proxy-Authorization) header values.

        ``request_uri`` is the Request-URI as written on the request line; ``body`` is needed
        only when auth-int is offered.  No header values at all gets a plain challenge.
        """
        ours: Credentials | None = None
        unusable: list[str] = []
        for value in authorization_values:
            try:
                parsed = parse_credentials(value)
            except RemoteProtocolError as exc:
                return self._verdict(now, VerdictKind.BAD_REQUEST, exc.reason, status=400)
            if isinstance(parsed, OtherScheme):
                unusable.append(f"scheme {parsed.scheme}")
            elif parsed.realm != self._realm:
                unusable.append(f"realm {parsed.realm!r}")
            elif ours is None:
                ours = parsed
        if ours is None:
            if unusable:
                return self._challenge(now, f"no credentials for us ({', '.join(unusable)})")
            return self._challenge(now, "no credentials")
        return self._judge(ours, method, request_uri, body, now)

    # -- judging ---------------------------------------------------------------------------

    def _judge(
        self, credentials: Credentials, method: str, request_uri: str, body: bytes, now: float
    ) -> AuthVerdict:
        if self._check_uri and credentials.uri != request_uri:
            reason = f"digest uri {credentials.uri!r} is not the Request-URI {request_uri!r}"
            return self._verdict(now, VerdictKind.BAD_REQUEST, reason, status=400)
        issued = self._nonce_issued(credentials.nonce)
        if issued is None:
            return self._challenge(now, "nonce was not issued here")
        algorithm = find_algorithm(credentials.algorithm)
        if algorithm is None or algorithm.name not in self._algorithms:
            # Includes downgrade attempts: MD5 answered to a SHA-256-only challenge.
            return self._challenge(now, f"algorithm {credentials.algorithm} was not offered")
        qop = credentials.qop
        if qop is None and not self._allow_rfc2069:
            return self._challenge(now, "credentials lack qop (RFC 2069 answers are refused)")
        if qop is not None and qop.lower() not in self._qop:
            return self._challenge(now, f"qop {qop} was not offered")
        if algorithm.session and credentials.cnonce is None:
            reason = f"{algorithm.name} credentials lack 'cnonce'"
            return self._verdict(now, VerdictKind.BAD_REQUEST, reason, status=400)
        if credentials.userhash:
            return self._challenge(now, "userhash was not offered")
        if credentials.opaque != self._opaque:
            return self._challenge(now, "opaque does not match the challenge")
        username = credentials.username
        secret = self._lookup(username, self._realm)
        if secret is None:
            return self._failure(now, f"unknown user {username!r}")
        user_hex = user_secret_hex(algorithm, username, self._realm, secret)
        if user_hex is None:
            return self._challenge(now, f"no {algorithm.family} secret stored for {username!r}")
        nc = credentials.nc
        expected = request_digest(
            algorithm,
            user_hex,
            nonce=credentials.nonce,
            method=method,
            uri=credentials.uri,
            qop=qop,
            nc=nc,
            cnonce=credentials.cnonce,
            body=body,
        )
        if not hmac.compare_digest(expected, credentials.response.lower()):
            return self._failure(now, f"wrong response for {username!r} (password?)")
        age = now - issued
        if age < 0 or age > self._lifetime:
            return self._challenge(now, "nonce expired", stale=True)
        if nc is not None:
            last = self._seen.get(credentials.nonce, (issued, 0))[1]
            if nc <= last:
                reason = f"nonce-count {nc:08x} replayed (last {last:08x})"
                return self._challenge(now, reason, stale=True)
            self._seen[credentials.nonce] = (issued, nc)
        self._sweep(now)
        return self._verdict(
            now, VerdictKind.ACCEPTED, f"{username!r} authenticated", username=username
        )

    # -- nonces ----------------------------------------------------------------------------

    def _new_nonce(self, now: float) -> str:
        payload = _PAYLOAD.pack(now) + self._rng.randbytes(_RANDOM_BYTES)
        mac = hmac.digest(self._key, payload, "sha256")[:_MAC_BYTES]
        return base64.urlsafe_b64encode(payload + mac).decode("ascii")

    def _nonce_issued(self, nonce: str) -> float | None:
        """When this realm issued ``nonce``, or None when it did not."""
        if len(nonce) != _NONCE_CHARS:
            return None
        try:
            blob = base64.b64decode(nonce, altchars=b"-_", validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text
            return None
        payload, mac = blob[:-_MAC_BYTES], blob[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, hmac.digest(self._key, payload, "sha256")[:_MAC_BYTES]):
            return None
        issued: float = _PAYLOAD.unpack_from(payload)[0]
        return issued if math.isfinite(issued) else None

    def _sweep(self, now: float) -> None:
        """Forget the counts of expired nonces, at most once per nonce lifetime."""
        if now < self._next_sweep:
            return
        lifetime = self._lifetime
        self._seen = {
            nonce: entry for nonce, entry in self._seen.items() if 0 <= now - entry[0] <= lifetime
        }
        self._next_sweep = now + lifetime

    # -- verdicts --------------------------------------------------------------------------

    def _failure(self, now: float, reason: str) -> AuthVerdict:
        if self._failure_policy == "forbidden":
            return self._verdict(now, VerdictKind.FORBIDDEN, reason, status=403)
        return self._challenge(now, reason)

    def _challenge(self, now: float, reason: str, *, stale: bool = False) -> AuthVerdict:
        return self._verdict(
            now,
            VerdictKind.STALE if stale else VerdictKind.CHALLENGE,
            reason,
            status=407 if self._proxy else 401,
            challenges=self.challenge(now, stale=stale),
        )

    def _verdict(
        self,
        now: float,
        kind: VerdictKind,
        reason: str,
        *,
        status: int | None = None,
        username: str | None = None,
        challenges: tuple[Challenge, ...] = (),
    ) -> AuthVerdict:
        self._trace(TraceEvent(now, self._node, "sip", "note", f"digest {kind.value}: {reason}"))
        return AuthVerdict(
            kind,
            reason,
            status,
            username,
            challenges,
            "Proxy-Authenticate" if self._proxy else "WWW-Authenticate",
        )
