"""SIP Digest authentication (RFC 7616 with RFC 2617 / RFC 3261 section 22 compatibility, RFC 8760).

The one import for callers; the work is split by concern:

* :mod:`gateway.sip.auth_header` -- :class:`Challenge`, :class:`Credentials` and
  :class:`OtherScheme` values (parse / ``str`` / ``bytes``, byte-for-byte round trip);
* :mod:`gateway.sip.auth_digest` -- algorithms (MD5, SHA-256, SHA-512-256 and their -sess
  forms), the request-digest arithmetic and :func:`answer_challenge`;
* :mod:`gateway.sip.auth_client` -- :class:`DigestClient`, the answering side of a UAC;
* :mod:`gateway.sip.auth_server` -- :class:`DigestChallenger`, the registrar / proxy side.
"""

from __future__ import annotations

from gateway.sip.auth_client import ChallengeOutcome, DigestClient
from gateway.sip.auth_digest import (
    ALGORITHMS,
    DigestAlgorithm,
    Secret,
    StoredHA1,
    answer_challenge,
    find_algorithm,
    hash_user_secret,
    request_digest,
)
from gateway.sip.auth_header import (
    Challenge,
    Credentials,
    OtherScheme,
    parse_challenges,
    parse_credentials,
)
from gateway.sip.auth_server import (
    AuthVerdict,
    DigestChallenger,
    FailurePolicy,
    UserLookup,
    VerdictKind,
)

__all__ = [
    "ALGORITHMS",
    "AuthVerdict",
    "Challenge",
    "ChallengeOutcome",
    "Credentials",
    "DigestAlgorithm",
    "DigestChallenger",
    "DigestClient",
    "FailurePolicy",
    "OtherScheme",
    "Secret",
    "StoredHA1",
    "UserLookup",
    "VerdictKind",
    "answer_challenge",
    "find_algorithm",
    "hash_user_secret",
    "parse_challenges",
    "parse_credentials",
    "request_digest",
]
