"""name-addr / addr-spec values: From, To, Contact, Route, Record-Route, Reply-To, ...

RFC 3261 section 25.1::

    name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
    display-name = *(token LWS) / quoted-string
    addr-spec    = SIP-URI / SIPS-URI / absoluteURI

followed by ``*( SEMI generic-param )`` belonging to the *header*.  In addr-spec form (no angle
brackets) every ``;param`` after the URI is a header parameter, never a URI parameter
(RFC 3261 section 20; RFC 4475 sections 3.3.12 and 3.3.13), and a URI with ``?headers`` must
be bracketed (RFC 4475 section 3.1.2.13).

The URI is validated when the address is parsed but only built on first use of ``.uri``:
the transaction layer reads tags, not URIs, and should not pay for them.  For the same reason
the parser only checks From and To (with :func:`common_address_pattern`, which captures the
tag) and builds the Address on first use.  A Contact's URI is the dialog's remote target, so
:func:`parse_common_contact` builds it from the same match.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import RemoteProtocolError
from gateway.sip._values import split_checked_params, unchecked_constructor
from gateway.sip.fields import parse_delta_seconds, parse_qvalue
from gateway.sip.grammar import (
    TOKEN_CHARS,
    Params,
    SipSyntaxError,
    is_token,
    parse_params,
    quote,
    scan_quoted_string,
    skip_ws,
    split_commas,
    unquote,
)
from gateway.sip.uri import (
    ADDR_SPEC_SIP_URI_PATTERN,
    COMMON_SIP_URI_GROUPS_PATTERN,
    COMMON_SIP_URI_PATTERN,
    Uri,
    check_uri_text,
    common_sip_uri,
    parse_uri_text,
)

__all__ = [
    "Address",
    "common_address_pattern",
    "parse_address",
    "parse_address_list",
    "parse_contact_values",
]

_DISPLAY_TOKEN_CHARS = frozenset(TOKEN_CHARS + " \t")
_ADDR_SPEC_END = frozenset("; \t,")
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]++"
# Header parameters with token values, as two kinds of ";name[=value]": any but one named
# "tag", and any but a "tag" without a value (the general scanner rejects that: a tag is a
# token).  The lookaheads compare whole names: "tags" is another parameter.
_NOT_TAG = rf";(?!(?i:tag)(?![A-Za-z0-9\-.!%*_+`'~])){_TOKEN}(?:={_TOKEN})?"
_NOT_BARE_TAG = rf";(?!(?i:tag)(?![A-Za-z0-9\-.!%*_+`'~=])){_TOKEN}(?:={_TOKEN})?"
# The parameter list, with the value of its first tag captured: the tag is what the
# transaction layer reads, and it can be had without building the address.
_PARAMS = rf"((?:{_NOT_TAG})*+(?:;(?i:tag)=({_TOKEN})(?:{_NOT_BARE_TAG})*+)?)"
_DISPLAY = r'(?:"([^"\\\x00-\x1f\x7f]*+)"' rf"|({_TOKEN}(?: {_TOKEN})*+))? ?"
# The common shapes, validated in one step (URI included):
#   ["display" |Display Name ]<sip-uri>;params   or   sip-uri;params
# Groups: quoted display, token display, bracketed URI, addr-spec URI, params, first tag.
# Anything else -- escapes, IPv6, tel: or other schemes, folding, odd spacing, quoted-pairs,
# quoted parameter values -- takes the general scanner below, which decides (and accepts
# everything this accepts, with the same result).
_COMMON_ADDRESS_RE = re.compile(
    rf"(?:{_DISPLAY}<({COMMON_SIP_URI_PATTERN})>|({ADDR_SPEC_SIP_URI_PATTERN})){_PARAMS}"
)


def common_address_pattern(tag_group: str) -> str:
    """The common shapes above as regex text for embedding, with one group: the first tag.

    The parser's one-pass head pattern (:mod:`gateway.sip.parser`) checks From and To with it
    and reads their tags from group ``tag_group``; the Address is built on first use.
    """
    # _PARAMS and _DISPLAY without their groups, but for the tag.
    params = rf"(?:{_NOT_TAG})*+(?:;(?i:tag)=(?P<{tag_group}>{_TOKEN})(?:{_NOT_BARE_TAG})*+)?"
    display = r'(?:"[^"\\\x00-\x1f\x7f]*+"' rf"|{_TOKEN}(?: {_TOKEN})*+)? ?"
    return rf"(?:{display}<{COMMON_SIP_URI_PATTERN}>|{ADDR_SPEC_SIP_URI_PATTERN}){params}"


# The name-addr shape again, with the URI's components captured too: a Contact's URI is the
# dialog's remote target, read at once, so it is built from the same match.
_COMMON_CONTACT_RE = re.compile(rf"{_DISPLAY}<({COMMON_SIP_URI_GROUPS_PATTERN})>{_PARAMS}")

AddressGroups = tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class Address:
    """A name-addr or addr-spec with its header parameters.

    ``display_name`` is unquoted (None when absent); ``uri_text`` is the URI as written and
    :attr:`uri` its parsed form; ``bracketed`` tells name-addr (``<...>``) from addr-spec.
    ``raw`` is the text as received, used to render an unmodified address exactly.
    """

    uri_text: str
    display_name: str | None = None
    params: Params = field(default_factory=Params)
    bracketed: bool = True
    raw: str | None = field(default=None, repr=False, compare=False)
    _uri: Uri | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Address:
        """Parse one address value; RemoteProtocolError(400) naming the problem."""
        return parse_address(text)

    @classmethod
    def of(
        cls,
        uri: Uri,
        display_name: str | None = None,
        params: Params | None = None,
    ) -> Address:
        """Build a name-addr around ``uri`` (always bracketed, so URI params stay in the URI)."""
        return cls(
            uri_text=str(uri),
            display_name=display_name,
            params=params if params is not None else Params(),
            bracketed=True,
            _uri=uri,
        )

    @property
    def uri(self) -> Uri:
        uri = self._uri
        if uri is None:
            try:
                uri = parse_uri_text(self.uri_text)
            except SipSyntaxError as exc:
                raise RemoteProtocolError(f"invalid URI {self.uri_text!r}: {exc}", 400) from None
            object.__setattr__(self, "_uri", uri)
        return uri

    @property
    def tag(self) -> str | None:
        return self.params.get_lowered("tag")

    @property
    def expires(self) -> int | None:
        """The Contact ``expires`` parameter (delta-seconds, 0..2**32-1)."""
        value = self.params.get("expires")
        if value is None:
            return None
        return parse_delta_seconds(value, "Contact expires")

    @property
    def q(self) -> float | None:
        """The Contact ``q`` parameter (qvalue 0..1)."""
        value = self.params.get("q")
        if value is None:
            return None
        return parse_qvalue(value)

    def replace(self, **changes: Any) -> Address:
        if "uri_text" in changes and "_uri" not in changes:
            changes["_uri"] = None
        return dataclasses.replace(self, raw=None, **changes)

    def with_param(self, name: str, value: str | None = None) -> Address:
        return self.replace(params=self.params.with_param(name, value))

    def with_tag(self, tag: str) -> Address:
        return self.with_param("tag", tag)

    def render(self) -> str:
        """Canonical text: ``"Display" <uri>;params`` (or addr-spec when that is safe)."""
        parts: list[str] = []
        if self.display_name is not None:
            parts += [quote(self.display_name), " "]
        uri_text = self.uri_text
        needs_brackets = (
            self.bracketed
            or self.display_name is not None
            or any(char in uri_text for char in ",;?")
        )
        parts.append(f"<{uri_text}>" if needs_brackets else uri_text)
        parts.append(self.params.render())
        return "".join(parts)

    def __str__(self) -> str:
        return self.raw if self.raw is not None else self.render()

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8", "surrogateescape")


def _check_header_params(params: Params) -> None:
    for name, value in params:
        if name.lower() == "tag" and (value is None or not is_token(value)):
            raise SipSyntaxError("tag must be a token")


_build_address = unchecked_constructor(Address)


def address_from_groups(text: str, groups: AddressGroups) -> Address:
    """The Address of ``text``, given the groups of ``_COMMON_ADDRESS_RE`` for it."""
    quoted, tokens, bracketed_uri, spec_uri, params_text, _ = groups
    params = split_checked_params(params_text or "")
    if bracketed_uri is not None:
        display = quoted if quoted is not None else tokens
        return _build_address(bracketed_uri, display, params, True, text, None)
    assert spec_uri is not None  # one of the two alternatives matched
    return _build_address(spec_uri, None, params, False, text, None)


def parse_common_address(text: str, bracketed_only: bool = False) -> Address | None:
    """The address when ``text`` has one of the common shapes, else None (no error raised)."""
    match = _COMMON_ADDRESS_RE.fullmatch(text)
    if match is None or (bracketed_only and match.group(3) is None):
        return None
    return address_from_groups(text, match.groups())


def parse_common_contact(text: str) -> Address | None:
    """Like :func:`parse_common_address`, with the URI of a name-addr built at once."""
    match = _COMMON_CONTACT_RE.fullmatch(text)
    if match is None:
        return parse_common_address(text)
    quoted, tokens, uri_text, scheme, user, password, host, port, uri_params, params, _ = (
        match.groups()
    )
    return _build_address(
        uri_text,
        quoted if quoted is not None else tokens,
        split_checked_params(params),
        True,
        text,
        common_sip_uri(uri_text, scheme, user, password, host, port, uri_params),
    )


def _address_from_text(text: str, bracketed_only: bool = False) -> Address:
    """Parse one stripped value; raises SipSyntaxError."""
    address = parse_common_address(text, bracketed_only)
    if address is not None:
        return address
    return _address_general(text, bracketed_only)


def _check_uri(uri_text: str, allow_headers: bool = True) -> None:
    try:
        check_uri_text(uri_text, allow_headers)
    except SipSyntaxError as exc:
        raise SipSyntaxError(f"invalid URI {uri_text[:60]!r}: {exc}") from None


def _address_general(text: str, bracketed_only: bool) -> Address:
    if not text:
        raise SipSyntaxError("empty value")
    end = len(text)
    display: str | None = None
    if text[0] == '"':
        quoted_end = scan_quoted_string(text, 0)
        display = unquote(text[:quoted_end])
        pos = skip_ws(text, quoted_end)
        if pos >= end or text[pos] != "<":
            raise SipSyntaxError("quoted display name not followed by '<'")
    else:
        pos = 0
        while pos < end and text[pos] in _DISPLAY_TOKEN_CHARS:
            pos += 1
        if pos < end and text[pos] == "<":
            # display-name = *(token LWS); "caller<sip:..>" (no LWS) is accepted, RFC 4475
            # section 3.1.1.6 calls the missing LWS a grammar bug.
            display = text[:pos].strip(" \t") or None
        else:
            return _addr_spec_general(text, bracketed_only)
    close = text.find(">", pos + 1)
    if close < 0:
        raise SipSyntaxError("'<' without '>'")
    uri_text = text[pos + 1 : close]
    if uri_text != uri_text.strip(" \t"):
        raise SipSyntaxError("whitespace inside '<' '>' around the URI")
    _check_uri(uri_text)
    params, stop = parse_params(text, close + 1)
    if stop != end:
        raise SipSyntaxError(f"unexpected {text[stop]!r} after the address")
    _check_header_params(params)
    return Address(uri_text, display, params, True, text)


def _addr_spec_general(text: str, bracketed_only: bool) -> Address:
    end = len(text)
    uri_end = 0
    while uri_end < end and text[uri_end] not in _ADDR_SPEC_END:
        uri_end += 1
    uri_text = text[:uri_end]
    if "<" in text[: text.find(";") if ";" in text else end]:
        raise SipSyntaxError("display name is neither tokens nor a quoted string")
    if bracketed_only:
        raise SipSyntaxError("the URI must be enclosed in '<' '>'")
    _check_uri(uri_text, allow_headers=False)
    params, stop = parse_params(text, uri_end)
    if stop != end:
        raise SipSyntaxError(f"unexpected {text[stop]!r} after the address")
    _check_header_params(params)
    return Address(uri_text, None, params, False, text)


def parse_address(text: str, header: str = "Address") -> Address:
    """Parse a single address value (From, To, Reply-To, Refer-To ...)."""
    try:
        return _address_from_text(text.strip(" \t"))
    except SipSyntaxError as exc:
        raise RemoteProtocolError(f"{header}: {exc}", 400) from None


def parse_address_list(
    lines: list[str], header: str, bracketed_only: bool = False
) -> tuple[Address, ...]:
    """Every address of a list header (Route, Record-Route, Path ...), split on commas.

    ``bracketed_only`` enforces name-addr form (Route/Record-Route: ``route-param =
    name-addr *( SEMI rr-param )``).
    """
    out: list[Address] = []
    try:
        for line in lines:
            items = split_commas(line) if "," in line else [line.strip(" \t")]
            for item in items:
                out.append(_address_from_text(item, bracketed_only))
    except SipSyntaxError as exc:
        raise RemoteProtocolError(f"{header}: {exc}", 400) from None
    return tuple(out)


def parse_contact_values(lines: list[str]) -> tuple[bool, tuple[Address, ...]]:
    """Contact lines -> ``(is_wildcard, addresses)``.

    ``Contact: *`` (REGISTER removal, RFC 3261 section 10.2.2) must stand alone.
    """
    if len(lines) == 1 and lines[0].strip(" \t") == "*":
        return True, ()
    addresses = parse_address_list(lines, "Contact")
    for address in addresses:
        check_contact_params(address)
    return False, addresses


def check_contact_params(address: Address) -> None:
    """RemoteProtocolError(400) when the ``expires`` or ``q`` parameter is malformed."""
    expires = address.params.get("expires")
    if expires is not None:
        parse_delta_seconds(expires, "Contact expires")
    q = address.params.get("q")
    if q is not None:
        parse_qvalue(q)
