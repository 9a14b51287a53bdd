"""Digest challenge and credentials values (RFC 7616 section 3, RFC 3261 section 25.1).

``WWW-Authenticate`` / ``Proxy-Authenticate`` carry challenges and ``Authorization`` /
``Proxy-Authorization`` carry credentials::

    challenge   = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
    credentials = ("Digest" LWS digest-response) / other-response
    auth-param  = auth-param-name EQUAL ( token / quoted-string )

Parameters are kept in order with their values *as written* (a quoted-string keeps its quotes),
so unknown parameters survive and a parsed value serializes back byte for byte; the typed
properties unquote on access.  Receivers accept token or quoted-string for every parameter
(RFC 7235 section 2.1); the builders emit the form RFC 7616 sections 3.3 and 3.4 prescribe.

A header value may hold several challenges (HTTP style, ``Digest ..., Basic ...``): an item
that starts with ``token LWS`` not followed by ``=`` opens the next challenge.  Schemes other
than Digest become :class:`OtherScheme` values (RFC 4475 section 3.3.7: an unknown scheme is
not an error; the registrar ignores it and challenges).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.errors import RemoteProtocolError
from gateway.sip.grammar import (
    TOKEN_CHARS,
    Params,
    SipSyntaxError,
    is_token,
    percent_decode,
    quote,
    scan_quoted_string,
    skip_ws,
    split_commas,
    unfold,
    unquote,
)

__all__ = [
    "Challenge",
    "Credentials",
    "OtherScheme",
    "parse_challenges",
    "parse_credentials",
]

_TOKEN_SET = frozenset(TOKEN_CHARS)
_HEX = frozenset("0123456789abcdefABCDEF")
_WSP = " \t"
_DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class OtherScheme:
    """A challenge or credentials of a scheme other than Digest, kept as written.

    ``data`` is everything after the scheme (auth-params or a token68), unparsed: nobody in
    gwemu answers or verifies these, but a proxy forwards them and a registrar must notice them.
    """

    scheme: str
    data: str = ""
    raw: str | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        if self.raw is not None:
            return self.raw
        return f"{self.scheme} {self.data}" if self.data else self.scheme

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One Digest challenge.  ``params`` holds ``(name, value as written)`` pairs in order."""

    params: Params
    scheme: str = "Digest"
    raw: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Challenge:
        """Parse exactly one Digest challenge; RemoteProtocolError (status_hint None) if not."""
        found = parse_challenges(text)
        if len(found) != 1:
            raise RemoteProtocolError(
                f"expected one Digest challenge, found {len(found)}", status_hint=None
            )
        challenge = found[0]
        if not isinstance(challenge, Challenge):
            raise RemoteProtocolError(
                f"challenge scheme {challenge.scheme!r} is not Digest", status_hint=None
            )
        return challenge

    @classmethod
    def digest(
        cls,
        realm: str,
        nonce: str,
        *,
        algorithm: str | None = None,
        qop: Iterable[str] = ("auth",),
        opaque: str | None = None,
        stale: bool = False,
        domain: Iterable[str] = (),
        charset: str | None = None,
        userhash: bool = False,
        extra: Iterable[tuple[str, str]] = (),
    ) -> Challenge:
        """Build a challenge; realm, domain, nonce, opaque, qop quoted, the rest not (7616 s3.3)."""
        items: list[tuple[str, str | None]] = [("realm", quote(realm))]
        domains = tuple(domain)
        if domains:
            items.append(("domain", quote(" ".join(domains))))
        items.append(("nonce", quote(nonce)))
        if opaque is not None:
            items.append(("opaque", quote(opaque)))
        if stale:
            items.append(("stale", "true"))
        if algorithm is not None:
            items.append(("algorithm", algorithm))
        qops = tuple(qop)
        if qops:
            items.append(("qop", quote(",".join(qops))))
        if charset is not None:
            items.append(("charset", charset))
        if userhash:
            items.append(("userhash", "true"))
        items.extend(extra)
        return cls(Params(items))

    # -- typed access (values were validated when parsed) --------------------------------

    @property
    def realm(self) -> str:
        return _text(self.params, "realm") or ""

    @property
    def nonce(self) -> str:
        return _text(self.params, "nonce") or ""

    @property
    def opaque(self) -> str | None:
        return _text(self.params, "opaque")

    @property
    def domain(self) -> tuple[str, ...]:
        text = _text(self.params, "domain")
        return tuple(text.split()) if text else ()

    @property
    def stale(self) -> bool:
        return (_text(self.params, "stale") or "").lower() == "true"

    @property
    def algorithm(self) -> str:
        """The algorithm token as written; MD5 when absent (RFC 7616 section 3.3)."""
        return _text(self.params, "algorithm") or "MD5"

    @property
    def qop_options(self) -> tuple[str, ...]:
        """The offered qop values (empty: an RFC 2069 challenge without qop)."""
        text = _text(self.params, "qop")
        if text is None:
            return ()
        return tuple(item.strip(_WSP) for item in text.split(","))

    @property
    def charset(self) -> str | None:
        return _text(self.params, "charset")

    @property
    def userhash(self) -> bool:
        return (_text(self.params, "userhash") or "").lower() == "true"

    def render(self) -> str:
        return _render(self.scheme, self.params)

    def __str__(self) -> str:
        return self.raw if self.raw is not None else self.render()

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Credentials:
    """One Digest credentials value.  ``params`` holds ``(name, value as written)`` pairs."""

    params: Params
    scheme: str = "Digest"
    raw: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Credentials:
        """Parse Digest credentials; RemoteProtocolError(400) naming the bad parameter."""
        found = parse_credentials(text)
        if not isinstance(found, Credentials):
            raise RemoteProtocolError(f"credentials scheme {found.scheme!r} is not Digest")
        return found

    @classmethod
    def digest(
        cls,
        username: str,
        realm: str,
        nonce: str,
        uri: str,
        response: str,
        *,
        algorithm: str | None = None,
        cnonce: str | None = None,
        opaque: str | None = None,
        qop: str | None = None,
        nc: int | None = None,
        userhash: bool = False,
        extra: Iterable[tuple[str, str]] = (),
    ) -> Credentials:
        """Build credentials; algorithm, qop and nc unquoted, the rest quoted (RFC 7616 s3.4)."""
        items: list[tuple[str, str | None]] = [
            ("username", quote(username)),
            ("realm", quote(realm)),
            ("nonce", quote(nonce)),
            ("uri", quote(uri)),
            ("response", quote(response)),
        ]
        if algorithm is not None:
            items.append(("algorithm", algorithm))
        if cnonce is not None:
            items.append(("cnonce", quote(cnonce)))
        if opaque is not None:
            items.append(("opaque", quote(opaque)))
        if qop is not None:
            items.append(("qop", qop))
        if nc is not None:
            items.append(("nc", f"{nc:08x}"))
        if userhash:
            items.append(("userhash", "true"))
        items.extend(extra)
        return cls(Params(items))

    @property
    def username(self) -> str:
        """``username``, or the decoded ``username*`` (RFC 7616 section 3.4.4, RFC 5987)."""
        plain = _text(self.params, "username")
        if plain is not None:
            return plain
        extended = self.params.get("username*")
        return _decode_ext_value(extended) if extended is not None else ""

    @property
    def realm(self) -> str:
        return _text(self.params, "realm") or ""

    @property
    def nonce(self) -> str:
        return _text(self.params, "nonce") or ""

    @property
    def uri(self) -> str:
        return _text(self.params, "uri") or ""

    @property
    def response(self) -> str:
        return _text(self.params, "response") or ""

    @property
    def algorithm(self) -> str:
        """The algorithm token as written; MD5 when absent (RFC 7616 section 3.4)."""
        return _text(self.params, "algorithm") or "MD5"

    @property
    def cnonce(self) -> str | None:
        return _text(self.params, "cnonce")

    @property
    def opaque(self) -> str | None:
        return _text(self.params, "opaque")

    @property
    def qop(self) -> str | None:
        return _text(self.params, "qop")

    @property
    def nc(self) -> int | None:
        """The nonce-count as a number (its text is 8 hex digits, checked when parsed)."""
        text = _text(self.params, "nc")
        return int(text, 16) if text is not None else None

    @property
    def userhash(self) -> bool:
        return (_text(self.params, "userhash") or "").lower() == "true"

    def render(self) -> str:
        return _render(self.scheme, self.params)

    def __str__(self) -> str:
        return self.raw if self.raw is not None else self.render()

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8", "surrogateescape")


# -- parsing ---------------------------------------------------------------------------------


def parse_challenges(text: str) -> list[Challenge | OtherScheme]:
    """Every challenge in one WWW-Authenticate / Proxy-Authenticate value, in order.

    Malformed Digest challenges raise RemoteProtocolError with ``status_hint=None``: they arrive
    in responses, which are never answered.
    """
    return [
        _challenge_of(scheme, items, raw) if scheme.lower() == _DIGEST else other
        for scheme, items, raw, other in _split_schemes(text, "challenge", None, True)
    ]


def parse_credentials(text: str) -> Credentials | OtherScheme:
    """The credentials of one Authorization / Proxy-Authorization value.

    Malformed Digest credentials raise RemoteProtocolError(400) naming the parameter.
    """
    scheme, items, raw, other = _split_schemes(text, "credentials", 400, False)[0]
    if scheme.lower() != _DIGEST:
        return other
    return _credentials_of(scheme, items, raw)


_Group = tuple[str, list[str], str, OtherScheme]


def _split_schemes(text: str, what: str, status: int | None, several: bool) -> list[_Group]:
    """Split a header value into (scheme, param items, raw text, as-OtherScheme) groups.

    Only challenge lists hold ``several`` schemes; credentials are one scheme and its
    parameters (RFC 7235 section 4.2), so a stray bare token there is a bad parameter.
    """
    whole = text if "\n" not in text else unfold(text)
    value = whole.strip(_WSP)
    if not value:
        raise RemoteProtocolError(f"empty {what}", status_hint=status)
    try:
        items = split_commas(value)
    except SipSyntaxError as exc:
        raise RemoteProtocolError(f"{what}: {exc}", status_hint=status) from None
    # Locate every (stripped) item in the value so each challenge keeps its exact text.
    spans: list[tuple[int, int]] = []
    cursor = 0
    for item in items:
        start = value.find(item, cursor)
        spans.append((start, start + len(item)))
        cursor = start + len(item) + 1
    groups: list[tuple[str, list[str], int, int]] = []
    for item, (start, end) in zip(items, spans, strict=True):
        opened = _scheme_prefix(item) if several or not groups else None
        if opened is not None:
            scheme, rest = opened
            groups.append((scheme, [rest] if rest else [], start, end))
        elif not groups:
            raise RemoteProtocolError(f"{what} does not start with a scheme", status_hint=status)
        else:
            scheme, params, first, _ = groups[-1]
            if not params:
                # "Digest, realm=..." -- the grammar wants LWS, not a comma, after the scheme.
                raise RemoteProtocolError(f"{what}: ',' right after {scheme!r}", status)
            params.append(item)
            groups[-1] = (scheme, params, first, end)
    single = len(groups) == 1
    found: list[_Group] = []
    for scheme, params, first, end in groups:
        raw = text if single else value[first:end]
        data = value[first + len(scheme) : end].strip(_WSP)
        found.append((scheme, params, raw, OtherScheme(scheme, data, raw)))
    return found


def _scheme_prefix(item: str) -> tuple[str, str] | None:
    """``(scheme, rest)`` when ``item`` opens a challenge (``token [LWS not-"=" ...]``)."""
    end = len(item)
    pos = 0
    while pos < end and item[pos] in _TOKEN_SET:
        pos += 1
    if pos == 0:
        return None
    if pos == end:
        return item, ""
    after = skip_ws(item, pos)
    if after == pos or (after < end and item[after] == "="):
        return None
    return item[:pos], item[after:]


def _auth_param(item: str, what: str, status: int | None) -> tuple[str, str]:
    """``auth-param-name EQUAL ( token / quoted-string )`` -> (name, value as written)."""
    end = len(item)
    pos = 0
    while pos < end and item[pos] in _TOKEN_SET:
        pos += 1
    if pos == 0:
        shown = item[:20] or "an empty item"
        raise RemoteProtocolError(f"{what}: expected a parameter at {shown!r}", status)
    name = item[:pos]
    pos = skip_ws(item, pos)
    if pos >= end or item[pos] != "=":
        raise RemoteProtocolError(f"{what}: parameter {name!r} has no '=value'", status)
    pos = skip_ws(item, pos + 1)
    value = item[pos:]
    if value.startswith('"'):
        try:
            closed = scan_quoted_string(item, pos)
        except SipSyntaxError as exc:
            raise RemoteProtocolError(f"{what}: parameter {name!r}: {exc}", status) from None
        if closed != end:
            raise RemoteProtocolError(f"{what}: text after the quoted {name!r} value", status)
    elif not is_token(value):
        raise RemoteProtocolError(f"{what}: parameter {name!r} has an invalid value", status)
    return name, value


def _collect(items: list[str], what: str, status: int | None) -> Params:
    pairs: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for item in items:
        name, value = _auth_param(item, what, status)
        lowered = name.lower()
        # RFC 7235 section 2.1: each parameter name occurs only once per challenge/credentials.
        if lowered in seen:
            raise RemoteProtocolError(f"{what}: parameter {name!r} repeated", status)
        seen.add(lowered)
        pairs.append((name, value))
    return Params(pairs)


def _challenge_of(scheme: str, items: list[str], raw: str) -> Challenge:
    what = "Digest challenge"
    params = _collect(items, what, None)
    for required in ("realm", "nonce"):
        if not params.has(required):
            raise RemoteProtocolError(f"{what} lacks {required!r}", status_hint=None)
    _check_flag(params, "stale", what, None)
    _check_flag(params, "userhash", what, None)
    _check_token(params, "algorithm", what, None)
    qop = _text(params, "qop")
    if qop is not None and not all(is_token(v.strip(_WSP)) for v in qop.split(",")):
        raise RemoteProtocolError(f"{what}: 'qop' is not a list of tokens", status_hint=None)
    return Challenge(params, scheme, raw)


def _credentials_of(scheme: str, items: list[str], raw: str) -> Credentials:
    what = "Digest credentials"
    params = _collect(items, what, 400)
    for required in ("realm", "nonce", "uri", "response"):
        if not params.has(required):
            raise RemoteProtocolError(f"{what} lack {required!r}")
    if params.has("username") == params.has("username*"):
        raise RemoteProtocolError(f"{what} need exactly one of 'username' and 'username*'")
    extended = params.get("username*")
    if extended is not None:
        try:
            _decode_ext_value(extended)
        except SipSyntaxError as exc:
            raise RemoteProtocolError(f"{what}: 'username*': {exc}") from None
    response = _text(params, "response") or ""
    if not response or not _HEX.issuperset(response):
        raise RemoteProtocolError(f"{what}: 'response' is not hexadecimal")
    nc = _text(params, "nc")
    # RFC 3261 section 25.1: nc-value = 8LHEX.
    if nc is not None and (len(nc) != 8 or not _HEX.issuperset(nc)):
        raise RemoteProtocolError(f"{what}: 'nc' must be 8 hex digits")
    _check_token(params, "algorithm", what, 400)
    _check_token(params, "qop", what, 400)
    _check_flag(params, "userhash", what, 400)
    if params.has("qop"):
        # RFC 7616 section 3.4: cnonce and nc MUST accompany qop.
        for required in ("cnonce", "nc"):
            if not params.has(required):
                raise RemoteProtocolError(f"{what} carry 'qop' but lack {required!r}")
    return Credentials(params, scheme, raw)


def _check_flag(params: Params, name: str, what: str, status: int | None) -> None:
    value = _text(params, name)
    if value is not None and value.lower() not in ("true", "false"):
        raise RemoteProtocolError(f"{what}: {name!r} must be true or false", status)


def _check_token(params: Params, name: str, what: str, status: int | None) -> None:
    value = _text(params, name)
    if value is not None and not is_token(value):
        raise RemoteProtocolError(f"{what}: {name!r} is not a token", status)


def _text(params: Params, name: str) -> str | None:
    """Value of ``name`` with a quoted-string unquoted (both forms accepted, RFC 7235 s2.1)."""
    value = params.get(name)
    if value is not None and value.startswith('"'):
        return unquote(value)
    return value


def _decode_ext_value(value: str) -> str:
    """RFC 5987 ``charset'[language]'value-chars``; RFC 7616 section 3.4.4 allows only UTF-8."""
    charset, sep, rest = value.partition("'")
    _language, sep2, encoded = rest.partition("'")
    if not sep or not sep2:
        raise SipSyntaxError("not an RFC 5987 extended value")
    if charset.lower() != "utf-8":
        raise SipSyntaxError(f"charset {charset!r} is not UTF-8")
    return percent_decode(encoded)


def _render(scheme: str, params: Params) -> str:
    if not params:
        return scheme
    body = ", ".join(name if value is None else f"{name}={value}" for name, value in params)
    return f"{scheme} {body}"
