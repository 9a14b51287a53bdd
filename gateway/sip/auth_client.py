"""The answering side of Digest authentication: a UAC that meets 401/407 (RFC 3261 s22.2-22.3).

A :class:`DigestClient` holds one username and secret and, per (WWW or proxy, realm), the
challenge it currently answers with its cnonce and nonce-count.  The caller (the REGISTER
client, a call leg) feeds it every 401/407 together with the credentials the refused request
carried, and adds :meth:`DigestClient.authorization_headers` to each new request.  It is
sans-IO: randomness comes from an injected ``random.Random``, time only stamps trace notes.

Deciding whether to retry (RFC 7616 section 3.3, RFC 3261 section 22.2):

* ``stale=true`` -- our digest was right but the nonce is spent: answer the new nonce without
  asking for the password again.  A server that calls every brand-new nonce stale is given up
  on after ``max_stale_retries`` such answers in a row.
* not stale, and the refused request carried our credentials on a nonce used only once -- the
  server rejected the password itself: give up instead of looping.
* not stale, but the refused request reused a nonce we had been using pre-emptively -- the
  server rotated its nonce without saying stale: answer the new one (its first use decides).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.auth_digest import (
    ALGORITHMS,
    DigestAlgorithm,
    Secret,
    StoredHA1,
    answer_challenge,
    choose_qop,
    find_algorithm,
)
from gateway.sip.auth_header import Challenge, Credentials, parse_challenges, parse_credentials
from gateway.trace import TraceEvent, TraceSink, discard

__all__ = ["ChallengeOutcome", "DigestClient"]

_AUTHORIZATION = "Authorization"
_PROXY_AUTHORIZATION = "Proxy-Authorization"
_ALL_ALGORITHMS = tuple(algorithm.name for algorithm in ALGORITHMS.values())


@dataclass(frozen=True, slots=True)
class ChallengeOutcome:
    """What to do after a 401/407: ``retry`` with fresh credentials, or give up (``reason``)."""

    retry: bool
    reason: str


@dataclass(slots=True)
class _Session:
    """The challenge answered for one (WWW or proxy, realm) and how often its nonce was used."""

    challenge: Challenge
    algorithm: DigestAlgorithm
    qop: str | None
    cnonce: str
    uses: int = 0


class DigestClient:
    """Answers Digest challenges for one user; see the module docstring for the retry rules."""

    __slots__ = (
        "_allowed",
        "_max_stale_retries",
        "_node",
        "_rng",
        "_secret",
        "_sessions",
        "_stale_streak",
        "_trace",
        "_username",
    )

    def __init__(
        self,
        username: str,
        secret: Secret,
        *,
        rng: random.Random,
        algorithms: Iterable[str] = _ALL_ALGORITHMS,
        max_stale_retries: int = 2,
        trace: TraceSink = discard,
        node: str = "uac",
    ) -> None:
        allowed = set()
        for name in algorithms:
            algorithm = find_algorithm(name)
            if algorithm is None:
                raise LocalProtocolError(f"unknown Digest algorithm {name!r}")
            allowed.add(algorithm.name)
        self._username = username
        self._secret = secret
        self._rng = rng
        self._allowed = frozenset(allowed)
        self._max_stale_retries = max_stale_retries
        self._trace = trace
        self._node = node
        self._sessions: dict[tuple[bool, str], _Session] = {}
        self._stale_streak = 0

    @property
    def realms(self) -> list[tuple[bool, str]]:
        """``(is_proxy, realm)`` of every challenge currently answered, in order."""
        return list(self._sessions)

    def reset(self) -> None:
        """Forget every challenge (the next request goes out without credentials)."""
        self._sessions.clear()
        self._stale_streak = 0

    def on_challenge(
        self,
        status: int,
        challenge_values: Iterable[str],
        now: float,
        sent: Iterable[tuple[str, str]] | None = None,
    ) -> ChallengeOutcome:
        """Take in a 401 (WWW-Authenticate values) or 407 (Proxy-Authenticate values).

        ``sent`` is the ``(name, value)`` header list the refused request carried (as returned
        by :meth:`authorization_headers`; ``[]`` for a request sent without credentials).  It
        tells a first challenge from a refusal.  When omitted, the refused request is assumed to
        be the latest one, carrying credentials for every realm already answered -- right for a
        client with one request in flight, and never a reason to loop.
        """
        if status not in (401, 407):
            raise LocalProtocolError(f"status {status} carries no challenge to answer")
        proxy = status == 407
        offered, problems = self._answerable(challenge_values)
        if not offered:
            detail = "; ".join(problems) if problems else "none offered"
            return self._give_up(now, f"no Digest challenge we can answer ({detail})")
        refused = self._refused_nonces(sent, proxy)
        for realm, (challenge, algorithm, qop) in offered.items():
            key = (proxy, realm)
            session = self._sessions.get(key)
            if session is not None and refused.get(realm) == session.challenge.nonce:
                first_use = session.uses <= 1
                if challenge.stale:
                    self._stale_streak = self._stale_streak + 1 if first_use else 0
                    if self._stale_streak > self._max_stale_retries:
                        self._sessions.pop(key, None)
                        return self._give_up(now, f"realm {realm!r} calls every new nonce stale")
                elif first_use:
                    self._sessions.pop(key, None)
                    return self._give_up(
                        now, f"realm {realm!r} refused our credentials (wrong user or password)"
                    )
            self._sessions[key] = _Session(challenge, algorithm, qop, self._new_cnonce())
        answered = ", ".join(f"{realm!r} {entry[1].name}" for realm, entry in offered.items())
        self._note(now, f"digest: answering {status} for {answered}")
        return ChallengeOutcome(True, f"answering {answered}")

    def authorization_headers(
        self, method: str, uri: str, body: bytes = b""
    ) -> list[tuple[str, str]]:
        """``(header name, value)`` credentials for a new request, one per answered realm.

        Each call counts one use of each nonce (nc 00000001, 00000002, ...).
        """
        headers: list[tuple[str, str]] = []
        for (proxy, _realm), session in self._sessions.items():
            session.uses += 1
            credentials = answer_challenge(
                session.challenge,
                username=self._username,
                secret=self._secret,
                method=method,
                uri=uri,
                cnonce=session.cnonce,
                nc=session.uses,
                body=body,
                qop=session.qop,
            )
            name = _PROXY_AUTHORIZATION if proxy else _AUTHORIZATION
            headers.append((name, str(credentials)))
        return headers

    # -- internals -------------------------------------------------------------------------

    def _answerable(
        self, values: Iterable[str]
    ) -> tuple[dict[str, tuple[Challenge, DigestAlgorithm, str | None]], list[str]]:
        """Per realm, the strongest challenge we can answer (ties: the topmost), and why not."""
        best: dict[str, tuple[Challenge, DigestAlgorithm, str | None]] = {}
        problems: list[str] = []
        for value in values:
            try:
                parsed = parse_challenges(value)
            except RemoteProtocolError as exc:
                problems.append(exc.reason)
                continue
            for challenge in parsed:
                if not isinstance(challenge, Challenge):
                    problems.append(f"scheme {challenge.scheme}")
                    continue
                usable = self._usable(challenge)
                if isinstance(usable, str):
                    problems.append(usable)
                    continue
                current = best.get(challenge.realm)
                if current is None or usable[0].strength > current[1].strength:
                    best[challenge.realm] = (challenge, *usable)
        return best, problems

    def _usable(self, challenge: Challenge) -> tuple[DigestAlgorithm, str | None] | str:
        """The algorithm and qop to answer ``challenge`` with, or why we cannot."""
        algorithm = find_algorithm(challenge.algorithm)
        if algorithm is None or algorithm.name not in self._allowed:
            return f"algorithm {challenge.algorithm}"
        try:
            qop = choose_qop(challenge.qop_options)
        except LocalProtocolError as exc:
            return str(exc)
        secret = self._secret
        if isinstance(secret, StoredHA1) and (
            secret.realm != challenge.realm or secret.for_family(algorithm.family) is None
        ):
            return f"no stored {algorithm.family} secret for realm {challenge.realm!r}"
        return algorithm, qop

    def _refused_nonces(
        self, sent: Iterable[tuple[str, str]] | None, proxy: bool
    ) -> dict[str, str]:
        """Realm -> nonce of the credentials the refused request carried."""
        if sent is None:
            return {
                realm: session.challenge.nonce
                for (is_proxy, realm), session in self._sessions.items()
                if is_proxy == proxy and session.uses > 0
            }
        wanted = (_PROXY_AUTHORIZATION if proxy else _AUTHORIZATION).lower()
        found: dict[str, str] = {}
        for name, value in sent:
            if name.lower() != wanted:
                continue
            try:
                credentials = parse_credentials(value)
            except RemoteProtocolError:
                continue
            if isinstance(credentials, Credentials):
                found.setdefault(credentials.realm, credentials.nonce)
        return found

    def _new_cnonce(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def _give_up(self, now: float, reason: str) -> ChallengeOutcome:
        self._note(now, f"digest: giving up: {reason}")
        return ChallengeOutcome(False, reason)

    def _note(self, now: float, summary: str) -> None:
        self._trace(TraceEvent(now, self._node, "sip", "note", summary))
