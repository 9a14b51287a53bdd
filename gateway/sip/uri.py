"""SIP, SIPS and tel URIs; any other absolute URI is kept opaque.

* :class:`SipUri` -- RFC 3261 section 19.1 (``sip:``/``sips:``): user, password, host (names,
  IPv4, bracketed IPv6 per RFC 5118), port, ordered parameters and ``?`` headers.  Components
  are stored *unescaped* (``%00`` stays a NUL character, never a string terminator); the text as
  received is kept, so an unmodified URI renders back exactly.  ``==`` is RFC 3261 section
  19.1.4 URI equality.
* :class:`TelUri` -- RFC 3966 global and local numbers with parameters; ``==`` follows
  RFC 3966 section 4.
* :class:`AbsoluteUri` -- any other scheme (``isbn:``, ``soap.beep:``): syntax-checked against
  RFC 3261's ``absoluteURI`` and carried verbatim.

The regular expressions below use possessive quantifiers, so matching is linear in the input.
The scheme is matched as ``[Ss][Ii][Pp][Ss]?``, not with ``(?i)``: Unicode case-insensitive
matching would take U+017F (long s) for "s", which is no ASCII letter (RFC 3261 section 25.1).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.errors import RemoteProtocolError
from gateway.sip._values import params_on_first_read, unchecked_constructor
from gateway.sip.grammar import (
    UNRESERVED,
    Params,
    SipSyntaxError,
    percent_decode,
    percent_encode,
)
from gateway.sip.host import COMMON_IPV4_PATTERN, is_host, is_hostname, parse_port

__all__ = [
    "ADDR_SPEC_SIP_URI_PATTERN",
    "COMMON_PORT_PATTERN",
    "COMMON_SIP_URI_GROUPS_PATTERN",
    "COMMON_SIP_URI_PATTERN",
    "FAST_HOST_PATTERN",
    "AbsoluteUri",
    "SipUri",
    "TelUri",
    "Uri",
    "check_uri_text",
    "common_sip_uri",
    "parse_uri",
    "parse_uri_text",
]

_ESC = r"%[0-9A-Fa-f]{2}"
# user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = & = + $ , ; ? /
_USER = rf"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|{_ESC})++"
# password = *( unreserved / escaped / & = + $ , )
_PASSWORD = rf"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|{_ESC})*+"
_HOST = r"[A-Za-z0-9.\-]++|\[[0-9A-Fa-f:.]++\]"
# paramchar = param-unreserved / unreserved / escaped; param-unreserved = [ ] / : & + $
_PARAMCHAR = rf"(?:[A-Za-z0-9\-_.!~*'()\[\]/:&+$]|{_ESC})"
# hname/hvalue chars: hnv-unreserved / unreserved / escaped; hnv-unreserved = [ ] / ? : + $
_HCHAR = rf"(?:[A-Za-z0-9\-_.!~*'()\[\]/?:+$]|{_ESC})"
_SIP_URI_RE = re.compile(
    rf"([Ss][Ii][Pp][Ss]?):(?:({_USER})(?::({_PASSWORD}))?@)?({_HOST})(?::([0-9]++))?"
    rf"((?:;{_PARAMCHAR}++(?:={_PARAMCHAR}++)?)*+)"
    rf"(\?{_HCHAR}++={_HCHAR}*+(?:&{_HCHAR}++={_HCHAR}*+)*+)?"
)
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*+")

# Single-step patterns for the URIs seen in practice: no %-escapes, no IPv6, no headers, port in
# range.  Whatever they match is a valid SIP URI with nothing to unescape; anything else takes
# the general path above.  ADDR_SPEC excludes ";", "?" and "," from the user and password
# parts: an unbracketed URI ends at the first ";", and one holding "," or "?" must be
# bracketed (RFC 3261 section 20).
#
# A port 0..65535 without leading zeros, longest alternatives first so that the first one that
# matches is the whole number even where no backtracking follows (inside possessive loops).
COMMON_PORT_PATTERN = (
    r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
)
# The language of host.COMMON_HOST_PATTERN (dotted-quad IPv4 without leading zeros, or a
# hostname without a trailing dot), written without lookbehinds, which cost about a third of
# a URI match: a label is alphanumeric runs joined by hyphen runs, so it can neither start nor
# end with '-'; the top label starts with a letter.  Every step is forced, nothing backtracks.
_LABEL = r"[A-Za-z0-9]++(?:-++[A-Za-z0-9]++)*+"
FAST_HOST_PATTERN = (
    rf"(?:{COMMON_IPV4_PATTERN}|(?:{_LABEL}\.)*+[A-Za-z][A-Za-z0-9]*+(?:-++[A-Za-z0-9]++)*+)"
)
_COMMON_PARAMCHARS = r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$]++"
_COMMON_PASSWORD = r"[A-Za-z0-9\-_.!~*'()&=+$,]*+"
COMMON_SIP_URI_PATTERN = (
    rf"[Ss][Ii][Pp][Ss]?:(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]++(?::{_COMMON_PASSWORD})?@)?"
    rf"{FAST_HOST_PATTERN}(?::{COMMON_PORT_PATTERN})?"
    rf"(?:;{_COMMON_PARAMCHARS}(?:={_COMMON_PARAMCHARS})?)*+"
)
ADDR_SPEC_SIP_URI_PATTERN = (
    rf"[Ss][Ii][Pp][Ss]?:(?:[A-Za-z0-9\-_.!~*'()&=+$/]++(?::[A-Za-z0-9\-_.!~*'()&=+$]*+)?@)?"
    rf"{FAST_HOST_PATTERN}(?::{COMMON_PORT_PATTERN})?"
)
# COMMON_SIP_URI_PATTERN with six groups -- scheme, user, password, host, port, ";params" --
# for building a SipUri from the match (see common_sip_uri).
COMMON_SIP_URI_GROUPS_PATTERN = (
    rf"([Ss][Ii][Pp][Ss]?):(?:([A-Za-z0-9\-_.!~*'()&=+$,;?/]++)(?::({_COMMON_PASSWORD}))?@)?"
    rf"({FAST_HOST_PATTERN})(?::({COMMON_PORT_PATTERN}))?"
    rf"((?:;{_COMMON_PARAMCHARS}(?:={_COMMON_PARAMCHARS})?)*+)"
)
_COMMON_SIP_URI_RE = re.compile(COMMON_SIP_URI_GROUPS_PATTERN)
# absoluteURI body: uric = reserved / unreserved / escaped (RFC 2396 via RFC 3261 section 25.1)
_URIC_RE = re.compile(rf"(?:[A-Za-z0-9\-_.!~*'();/?:@&=+$,]|{_ESC})++")
_TEL_GLOBAL_RE = re.compile(r"\+[0-9\-.()]++")
_TEL_LOCAL_RE = re.compile(r"[0-9A-Fa-f*#\-.()]++")
_TEL_PARAMS_RE = re.compile(rf"(?:;[A-Za-z0-9\-]++(?:={_PARAMCHAR}++)?)*+")
_VISUAL_SEPARATORS = str.maketrans("", "", "-.()")


_USER_SAFE = UNRESERVED + "&=+$,;?/"
_PASSWORD_SAFE = UNRESERVED + "&=+$,"
_PARAM_SAFE = UNRESERVED + "[]/:&+$"
_HEADER_SAFE = UNRESERVED + "[]/?:+$"
# RFC 3261 section 19.1.4: these parameters, present in only one URI, make the URIs differ.
# The rules name user, ttl, method and maddr; the section's examples add transport
# ("sip:bob@biloxi.com" != "sip:bob@biloxi.com;transport=udp").
_DECISIVE_PARAMS = ("user", "ttl", "method", "maddr", "transport")
_CASELESS_VALUE_PARAMS = frozenset({"transport", "user", "maddr", "ttl", "lr"})


def _invalid(text: str, problem: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"invalid URI {text!r}: {problem}", 400)


def _split_uri_params(text: str, decode: bool) -> Params:
    """``;a=b;c`` (already syntax-checked) into Params, unescaped when ``decode``."""
    if not text:
        return Params()
    if not decode and text.count(";") == 1:
        name, equals, value = text[1:].partition("=")
        return Params(((name, value if equals else None),))
    items: list[tuple[str, str | None]] = []
    for item in text[1:].split(";"):
        name, equals, value = item.partition("=")
        if decode:
            items.append((percent_decode(name), percent_decode(value) if equals else None))
        else:
            items.append((name, value if equals else None))
    return Params(items)


@dataclass(frozen=True, slots=True, eq=False)
class SipUri:
    """A ``sip:`` or ``sips:`` URI; components unescaped, ``raw`` = text as received."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = field(default_factory=Params)
    headers: tuple[tuple[str, str], ...] = ()
    scheme: str = "sip"
    raw: str | None = field(default=None, repr=False)
    # Set by common_sip_uri only: params unset until read, split then from this text (a
    # Contact's URI is mostly rendered as received, its parameters seldom read).
    _params_text: str | None = field(default=None, init=False, repr=False)

    if not TYPE_CHECKING:  # (hidden from mypy, which would otherwise accept any attribute)

        def __getattr__(self, name: str) -> Any:
            # Called only for an unset slot: the params of common_sip_uri, split now.
            return params_on_first_read(self, name)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a SIP/SIPS URI; raise RemoteProtocolError(400) naming the problem."""
        try:
            return _parse_sip(text)
        except SipSyntaxError as exc:
            raise _invalid(text, str(exc)) from None

    # -- derived views ---------------------------------------------------------------------

    @property
    def is_secure(self) -> bool:
        return self.scheme == "sips"

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def lr(self) -> bool:
        return self.params.has("lr")

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def user_param(self) -> str | None:
        """The ``user=`` URI parameter (``phone`` for telephone numbers)."""
        return self.params.get("user")

    @property
    def escaped_user(self) -> str | None:
        """The user part as it appears on the wire (escapes preserved)."""
        if self.user is None:
            return None
        if self.raw is not None:
            match = _SIP_URI_RE.fullmatch(self.raw)
            if match is not None and match.group(2) is not None:
                return match.group(2)
        return percent_encode(self.user, _USER_SAFE)

    @property
    def host_key(self) -> str:
        """Host in the form used for comparisons (case-insensitive)."""
        return self.host.lower()

    # -- building --------------------------------------------------------------------------

    def replace(self, **changes: Any) -> SipUri:
        """A modified copy (rendered canonically, since it no longer matches the raw text)."""
        return dataclasses.replace(self, raw=None, **changes)

    def with_param(self, name: str, value: str | None = None) -> SipUri:
        return self.replace(params=self.params.with_param(name, value))

    def without_param(self, name: str) -> SipUri:
        return self.replace(params=self.params.without(name))

    def render(self) -> str:
        """Canonical text from the components (escaping what must be escaped)."""
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(percent_encode(self.user, _USER_SAFE))
            if self.password is not None:
                parts += [":", percent_encode(self.password, _PASSWORD_SAFE)]
            parts.append("@")
        parts.append(self.host)
        if self.port is not None:
            parts.append(f":{self.port}")
        for name, value in self.params:
            parts += [";", percent_encode(name, _PARAM_SAFE)]
            if value is not None:
                parts += ["=", percent_encode(value, _PARAM_SAFE)]
        if self.headers:
            rendered = (
                f"{percent_encode(n, _HEADER_SAFE)}={percent_encode(v, _HEADER_SAFE)}"
                for n, v in self.headers
            )
            parts += ["?", "&".join(rendered)]
        return "".join(parts)

    def __str__(self) -> str:
        return self.raw if self.raw is not None else self.render()

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8", "surrogateescape")

    # -- RFC 3261 section 19.1.4 equality --------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SipUri):
            return NotImplemented
        if (
            self.scheme != other.scheme
            or self.user != other.user
            or self.password != other.password
            or self.host.lower() != other.host.lower()
            or self.port != other.port
        ):
            return False
        mine = {name.lower(): value for name, value in self.params}
        theirs = {name.lower(): value for name, value in other.params}
        for name in mine.keys() & theirs.keys():
            a, b = mine[name], theirs[name]
            if name in _CASELESS_VALUE_PARAMS:
                a = a.lower() if a is not None else None
                b = b.lower() if b is not None else None
            if a != b:
                return False
        for name in _DECISIVE_PARAMS:
            if (name in mine) != (name in theirs):
                return False
        # Header components are never ignored: both sides must carry the same set.
        own_headers = {(n.lower(), v) for n, v in self.headers}
        other_headers = {(n.lower(), v) for n, v in other.headers}
        return own_headers == other_headers

    def __hash__(self) -> int:
        return hash((self.scheme, self.user, self.password, self.host.lower(), self.port))


_build_lazy_sip_uri = unchecked_constructor(
    SipUri, ("host", "user", "password", "port", "headers", "scheme", "raw", "_params_text")
)


def common_sip_uri(
    text: str,
    scheme: str,
    user: str | None,
    password: str | None,
    host: str,
    port_text: str | None,
    params_text: str,
) -> SipUri:
    """The SipUri of ``text``, which matched COMMON_SIP_URI_GROUPS_PATTERN into these groups.

    Such a URI is valid and has nothing to unescape, so the groups are its components.
    """
    return _build_lazy_sip_uri(
        host,
        user,
        password,
        int(port_text) if port_text is not None else None,
        (),
        "sip" if len(scheme) == 3 else "sips",
        text,
        params_text,
    )


def _match_sip(text: str) -> re.Match[str]:
    match = _SIP_URI_RE.fullmatch(text)
    if match is None:
        raise SipSyntaxError(_diagnose_sip(text))
    host = match.group(4)
    if not is_host(host):
        raise SipSyntaxError(f"invalid host {host!r}")
    port_text = match.group(5)
    if port_text is not None:
        parse_port(port_text)
    return match


def _diagnose_sip(text: str) -> str:
    """A specific reason for a SIP URI the grammar rejected (cheap, only on failure)."""
    if any(char in text for char in " \t\r\n"):
        return "whitespace inside the URI"
    if any(char in text for char in '<>"'):
        return "'<', '>' or '\"' inside the URI"
    rest = text.partition(":")[2]
    hostport = rest.rpartition("@")[2].partition(";")[0].partition("?")[0]
    if hostport.count(":") > 1 and not hostport.startswith("["):
        return "IPv6 address not enclosed in [] (RFC 5118)"
    if ";;" in text or text.endswith(";"):
        return "empty URI parameter"
    if not hostport:
        return "no host"
    return "not a well-formed SIP URI"


def _parse_sip(text: str) -> SipUri:
    common = _COMMON_SIP_URI_RE.fullmatch(text)
    if common is not None:
        return common_sip_uri(text, *common.groups())
    return _parse_sip_general(text)


def _parse_sip_general(text: str) -> SipUri:
    scheme, user, password, host, port_text, params_text, headers_text = _match_sip(text).groups()
    has_escape = "%" in text
    headers: tuple[tuple[str, str], ...] = ()
    if headers_text:
        pairs = []
        for item in headers_text[1:].split("&"):
            name, _, value = item.partition("=")
            pairs.append((percent_decode(name), percent_decode(value)))
        headers = tuple(pairs)
    if has_escape:
        if user is not None:
            user = percent_decode(user)
        if password is not None:
            password = percent_decode(password)
    return SipUri(
        host=host,
        user=user,
        password=password,
        port=int(port_text) if port_text is not None else None,
        params=_split_uri_params(params_text, has_escape),
        headers=headers,
        scheme=scheme.lower(),
        raw=text,
    )


def check_uri_text(text: str, allow_headers: bool = True) -> str:
    """Validate a URI without building it; return its lower-case scheme.

    Raises :class:`SipSyntaxError`.  ``allow_headers=False`` rejects a ``?headers`` part (a
    Request-URI, RFC 3261 section 19.1.1; an addr-spec, RFC 3261 section 20).  A URI that passes
    here is guaranteed to parse with :func:`parse_uri_text`.
    """
    prefix = text[:5].lower()
    if prefix.startswith("sip:") or prefix == "sips:":
        if _COMMON_SIP_URI_RE.fullmatch(text) is not None:
            return "sips" if prefix == "sips:" else "sip"
        match = _match_sip(text)
        if not allow_headers and match.group(7):
            raise SipSyntaxError("URI headers ('?') are not allowed here")
        return "sips" if prefix == "sips:" else "sip"
    uri = parse_uri_text(text)
    return uri.scheme


@dataclass(frozen=True, slots=True, eq=False)
class TelUri:
    """A ``tel:`` URI (RFC 3966); ``number`` is written with its visual separators."""

    number: str
    params: Params = field(default_factory=Params)
    raw: str | None = field(default=None, repr=False)

    scheme = "tel"

    @classmethod
    def parse(cls, text: str) -> TelUri:
        try:
            return _parse_tel(text)
        except SipSyntaxError as exc:
            raise _invalid(text, str(exc)) from None

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")

    @property
    def digits(self) -> str:
        """The number without visual separators (``+1-201-555`` -> ``+1201555``)."""
        return self.number.translate(_VISUAL_SEPARATORS)

    @property
    def phone_context(self) -> str | None:
        return self.params.get("phone-context")

    @property
    def extension(self) -> str | None:
        return self.params.get("ext")

    def render(self) -> str:
        parts = ["tel:", self.number]
        for name, value in self.params:
            parts += [";", name]
            if value is not None:
                parts += ["=", percent_encode(value, _PARAM_SAFE)]
        return "".join(parts)

    def __str__(self) -> str:
        return self.raw if self.raw is not None else self.render()

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8", "surrogateescape")

    def _comparison_key(self) -> tuple[str, frozenset[tuple[str, str | None]]]:
        params = []
        for name, value in self.params:
            lowered = name.lower()
            if value is not None and lowered == "phone-context" and value.startswith("+"):
                value = value.translate(_VISUAL_SEPARATORS)
            params.append((lowered, value.lower() if value is not None else None))
        return self.digits.lower(), frozenset(params)

    def __eq__(self, other: object) -> bool:
        # RFC 3966 section 4: separators ignored, hex digits and parameter names caseless,
        # parameters compared as a set.
        if not isinstance(other, TelUri):
            return NotImplemented
        return self._comparison_key() == other._comparison_key()

    def __hash__(self) -> int:
        return hash(self._comparison_key())


def _parse_tel(text: str) -> TelUri:
    if text[:4].lower() != "tel:":
        raise SipSyntaxError("not a tel URI")
    body = text[4:]
    semicolon = body.find(";")
    number = body if semicolon < 0 else body[:semicolon]
    params_text = "" if semicolon < 0 else body[semicolon:]
    if number.startswith("+"):
        if _TEL_GLOBAL_RE.fullmatch(number) is None or not any(c.isdigit() for c in number):
            raise SipSyntaxError("invalid global number")
    elif _TEL_LOCAL_RE.fullmatch(number) is None or number.strip("-.()") == "":
        raise SipSyntaxError("invalid local number")
    if _TEL_PARAMS_RE.fullmatch(params_text) is None:
        raise SipSyntaxError("invalid tel URI parameters")
    params = _split_uri_params(params_text, "%" in params_text)
    if not number.startswith("+"):
        context = params.get("phone-context")
        # RFC 3966 section 5.1.5: a local number needs a phone-context (domain or +digits).
        if not context:
            raise SipSyntaxError("local number without phone-context")
        if not context.startswith("+") and not is_hostname(context):
            raise SipSyntaxError(f"invalid phone-context {context!r}")
    return TelUri(number=number, params=params, raw=text)


@dataclass(frozen=True, slots=True, eq=False)
class AbsoluteUri:
    """Any other ``scheme:rest`` URI, carried verbatim (RFC 3261 ``absoluteURI``)."""

    scheme: str
    rest: str
    raw: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str) -> AbsoluteUri:
        try:
            return _parse_absolute(text)
        except SipSyntaxError as exc:
            raise _invalid(text, str(exc)) from None

    def __str__(self) -> str:
        return self.raw if self.raw is not None else f"{self.scheme}:{self.rest}"

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8", "surrogateescape")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AbsoluteUri):
            return NotImplemented
        return self.scheme == other.scheme and self.rest == other.rest

    def __hash__(self) -> int:
        return hash((self.scheme, self.rest))


def _parse_absolute(text: str) -> AbsoluteUri:
    scheme, colon, rest = text.partition(":")
    if not colon or _SCHEME_RE.fullmatch(scheme) is None:
        raise SipSyntaxError("no scheme")
    if _URIC_RE.fullmatch(rest) is None:
        raise SipSyntaxError("characters not allowed in a URI")
    return AbsoluteUri(scheme=scheme.lower(), rest=rest, raw=text)


Uri = SipUri | TelUri | AbsoluteUri


def parse_uri_text(text: str) -> Uri:
    """Like :func:`parse_uri` but raising :class:`SipSyntaxError` (for header parsers)."""
    if text.startswith("sip:"):
        return _parse_sip(text)
    prefix = text[:5].lower()
    if prefix.startswith("sip:") or prefix == "sips:":
        return _parse_sip(text)
    if prefix.startswith("tel:"):
        return _parse_tel(text)
    return _parse_absolute(text)


def parse_uri(text: str) -> Uri:
    """Parse any URI SIP carries: sip/sips -> SipUri, tel -> TelUri, else AbsoluteUri."""
    try:
        return parse_uri_text(text)
    except SipSyntaxError as exc:
        raise _invalid(text, str(exc)) from None
