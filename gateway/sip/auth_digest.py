"""Digest arithmetic: algorithms, H(A1), H(A2) and the request-digest (RFC 7616 section 3.4).

::

    A1       = unq(username) ":" unq(realm) ":" passwd                    (algorithm X)
    A1       = H(unq(username) ":" unq(realm) ":" passwd) ":" nonce ":" cnonce   (X-sess)
    A2       = Method ":" request-uri                                      (qop=auth or none)
    A2       = Method ":" request-uri ":" H(entity-body)                   (qop=auth-int)
    response = KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2))       (with qop)
    response = KD(H(A1), nonce ":" H(A2))                                  (RFC 2069, no qop)

with ``KD(secret, data) = H(secret ":" data)``.  Strings are hashed as UTF-8 (RFC 7616 section
3.4.1; SIP text is UTF-8).  SIP uses SHA-256 and SHA-512/256 exactly as HTTP does (RFC 8760
section 2).  The request body of auth-int is the message body as sent; an empty body hashes the
empty string (RFC 3261 section 22.4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.errors import LocalProtocolError
from gateway.sip.auth_header import Challenge, Credentials

__all__ = [
    "ALGORITHMS",
    "DigestAlgorithm",
    "Secret",
    "StoredHA1",
    "answer_challenge",
    "choose_qop",
    "find_algorithm",
    "hash_user_secret",
    "request_digest",
    "user_secret_hex",
]


@dataclass(frozen=True, slots=True)
class DigestAlgorithm:
    """One registered Digest algorithm (IANA "HTTP Digest Algorithm Values")."""

    name: str
    family: str
    hash_name: str
    session: bool
    strength: int

    def hex(self, text: str | bytes) -> str:
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
        return hashlib.new(self.hash_name, data).hexdigest()


def _algorithm(family: str, hash_name: str, strength: int) -> list[DigestAlgorithm]:
    return [
        DigestAlgorithm(family, family, hash_name, False, strength),
        DigestAlgorithm(f"{family}-sess", family, hash_name, True, strength),
    ]


# Strength orders the choice among several challenges (RFC 8760 section 2.4 allows a local
# policy to override "topmost"; section 3 explains why: the order is not integrity protected).
ALGORITHMS: dict[str, DigestAlgorithm] = {
    algorithm.name.upper(): algorithm
    for algorithm in (
        *_algorithm("MD5", "md5", 1),
        *_algorithm("SHA-256", "sha256", 2),
        *_algorithm("SHA-512-256", "sha512_256", 3),
    )
}


def find_algorithm(token: str) -> DigestAlgorithm | None:
    """The algorithm called ``token`` (compared case-insensitively), None when unknown."""
    return ALGORITHMS.get(token.upper())


@dataclass(frozen=True, slots=True)
class StoredHA1:
    """Precomputed ``H(username ":" realm ":" password)`` per hash family for one realm.

    Lets a user database (or a client configuration) hold no plaintext password.  ``values``
    maps a family name (``MD5``, ``SHA-256``, ``SHA-512-256``) to lowercase hex.
    """

    realm: str
    values: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, realm: str, values: Mapping[str, str]) -> StoredHA1:
        return cls(realm, tuple((family.upper(), hexa.lower()) for family, hexa in values.items()))

    @classmethod
    def compute(
        cls,
        username: str,
        realm: str,
        password: str,
        families: Iterable[str] = ("MD5", "SHA-256", "SHA-512-256"),
    ) -> StoredHA1:
        values = {}
        for family in families:
            algorithm = find_algorithm(family)
            if algorithm is None or algorithm.session:
                raise LocalProtocolError(f"{family!r} is not a Digest hash family")
            values[algorithm.family] = hash_user_secret(algorithm, username, realm, password)
        return cls.of(realm, values)

    def for_family(self, family: str) -> str | None:
        wanted = family.upper()
        return next((hexa for name, hexa in self.values if name == wanted), None)


# What a client is configured with, or what a challenger's user lookup returns.
Secret = str | StoredHA1


def hash_user_secret(algorithm: DigestAlgorithm, username: str, realm: str, password: str) -> str:
    """``H(username ":" realm ":" password)``: the storable, non-session H(A1)."""
    return algorithm.hex(f"{username}:{realm}:{password}")


def user_secret_hex(
    algorithm: DigestAlgorithm, username: str, realm: str, secret: Secret
) -> str | None:
    """The non-session H(A1) for ``secret``; None when a StoredHA1 cannot provide it."""
    if isinstance(secret, str):
        return hash_user_secret(algorithm, username, realm, secret)
    if secret.realm != realm:
        return None
    return secret.for_family(algorithm.family)


def request_digest(
    algorithm: DigestAlgorithm,
    user_hex: str,
    *,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None,
    nc: int | None,
    cnonce: str | None,
    body: bytes = b"",
) -> str:
    """The ``response`` value, from the non-session H(A1) ``user_hex``."""
    ha1 = user_hex
    if algorithm.session:
        if cnonce is None:
            raise LocalProtocolError(f"{algorithm.name} needs a cnonce")
        ha1 = algorithm.hex(f"{user_hex}:{nonce}:{cnonce}")
    if qop is not None and qop.lower() == "auth-int":
        ha2 = algorithm.hex(f"{method}:{uri}:{algorithm.hex(body)}")
    else:
        ha2 = algorithm.hex(f"{method}:{uri}")
    if qop is None:
        return algorithm.hex(f"{ha1}:{nonce}:{ha2}")
    if nc is None or cnonce is None:
        raise LocalProtocolError("qop needs nc and cnonce")
    return algorithm.hex(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}")


def choose_qop(offered: tuple[str, ...]) -> str | None:
    """``auth`` when offered, else ``auth-int``; None for an RFC 2069 challenge.

    Raises LocalProtocolError when only unknown qop values are offered (nothing we can answer).
    """
    if not offered:
        return None
    lowered = [value.lower() for value in offered]
    for preferred in ("auth", "auth-int"):
        if preferred in lowered:
            return preferred
    raise LocalProtocolError(f"no supported qop among {', '.join(offered)}")


def answer_challenge(
    challenge: Challenge,
    *,
    username: str,
    secret: Secret,
    method: str,
    uri: str,
    cnonce: str,
    nc: int = 1,
    body: bytes = b"",
    qop: str | None = None,
) -> Credentials:
    """Credentials answering ``challenge`` (a pure function: the caller supplies cnonce and nc).

    ``qop`` defaults to :func:`choose_qop` of the challenge.  Raises LocalProtocolError when the
    challenge cannot be answered (unknown algorithm or qop, a StoredHA1 of another realm).
    """
    algorithm = find_algorithm(challenge.algorithm)
    if algorithm is None:
        raise LocalProtocolError(f"unsupported Digest algorithm {challenge.algorithm!r}")
    realm = challenge.realm
    user_hex = user_secret_hex(algorithm, username, realm, secret)
    if user_hex is None:
        raise LocalProtocolError(f"no {algorithm.family} secret for realm {realm!r}")
    chosen_qop = qop if qop is not None else choose_qop(challenge.qop_options)
    # RFC 2069 answers carry no cnonce, unless a -sess key needs one (RFC 2617 section 3.2.2.2).
    sent_cnonce = cnonce if chosen_qop is not None or algorithm.session else None
    response = request_digest(
        algorithm,
        user_hex,
        nonce=challenge.nonce,
        method=method,
        uri=uri,
        qop=chosen_qop,
        nc=nc if chosen_qop is not None else None,
        cnonce=sent_cnonce,
        body=body,
    )
    # RFC 7616 section 3.4.4: with userhash the username is H(username ":" realm).
    shown_name = algorithm.hex(f"{username}:{realm}") if challenge.userhash else username
    return Credentials.digest(
        shown_name,
        realm,
        challenge.nonce,
        uri,
        response,
        algorithm=challenge.algorithm if challenge.params.has("algorithm") else None,
        cnonce=sent_cnonce,
        opaque=challenge.opaque,
        qop=chosen_qop,
        nc=nc if chosen_qop is not None else None,
        userhash=challenge.userhash,
    )
