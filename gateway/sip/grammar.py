"""RFC 3261 section 25 lexical rules, shared by every SIP-family parser in gwemu.

This module is the one place for SIP character classes and the small scanners built on them:
token/word checks, quoted strings (with quoted-pair), %-escaping, LWS/SWS handling, comma lists
that respect quotes and angle brackets, and generic ``;name=value`` parameter lists.  The SIP
message parser, digest authentication and SDP all call these functions.

Scanners raise :class:`SipSyntaxError` (a ``ValueError``); the header parsers that call them turn
it into :class:`gateway.errors.RemoteProtocolError` naming the header, because only they know
which header (and so which status) is at stake.

Text is ``str``: messages are decoded as UTF-8 with ``surrogateescape``, so any octet survives a
decode/encode round trip and non-UTF-8 input still reaches the validators intact.
"""

from __future__ import annotations

import re

from gateway.errors import LocalProtocolError

__all__ = [
    "ALPHANUM",
    "TOKEN_CHARS",
    "UNRESERVED",
    "WORD_CHARS",
    "Params",
    "SipSyntaxError",
    "is_token",
    "is_word",
    "parse_params",
    "percent_decode",
    "percent_decode_bytes",
    "percent_encode",
    "quote",
    "quote_if_needed",
    "scan_quoted_string",
    "skip_ws",
    "split_commas",
    "unfold",
    "unquote",
]


class SipSyntaxError(ValueError):
    """Text does not match the RFC 3261 grammar rule it was scanned with."""


# -- character classes (RFC 3261 section 25.1) ---------------------------------------------

ALPHANUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS = ALPHANUM + "-.!%*_+`'~"
# word additionally allows ( ) < > : \ DQUOTE / [ ] ? { }  (used by Call-ID)
WORD_CHARS = TOKEN_CHARS + '()<>:\\"/[]?{}'
# unreserved = alphanum / mark; mark = - _ . ! ~ * ' ( )
UNRESERVED = ALPHANUM + "-_.!~*'()"
WSP = " \t"

_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_WORD_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+")
_TOKEN_SET = frozenset(TOKEN_CHARS)
# gen-value = token / host / quoted-string; a host adds ":" "[" "]" (IPv6) to the token set.
_GEN_VALUE_SET = frozenset(TOKEN_CHARS + ":[]")
_FOLD_RE = re.compile(r"[ \t]*\r?\n[ \t]+")
_QUOTE_CTL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def is_token(text: str) -> bool:
    """True when ``text`` is a non-empty RFC 3261 ``token``."""
    return _TOKEN_RE.fullmatch(text) is not None


def is_word(text: str) -> bool:
    """True when ``text`` is a non-empty RFC 3261 ``word`` (the Call-ID alphabet)."""
    return _WORD_RE.fullmatch(text) is not None


def skip_ws(text: str, pos: int) -> int:
    """Index of the first character at or after ``pos`` that is not SP or HTAB."""
    end = len(text)
    while pos < end and text[pos] in WSP:
        pos += 1
    return pos


def unfold(value: str) -> str:
    """Replace each line fold (optional WSP, CRLF, WSP) by one SP (RFC 3261 section 7.3.1)."""
    if "\n" not in value:
        return value
    return _FOLD_RE.sub(" ", value)


# -- quoted strings ------------------------------------------------------------------------


def scan_quoted_string(text: str, pos: int) -> int:
    """Return the index just after the quoted-string that starts at ``text[pos] == '"'``.

    qdtext is LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII; a quoted-pair is a backslash
    followed by any octet %x00-09 / %x0B-0C / %x0E-7F (RFC 3261 section 25.1).  Control
    characters outside a quoted-pair are rejected.
    """
    if pos >= len(text) or text[pos] != '"':
        raise SipSyntaxError("expected a quoted string")
    end = len(text)
    i = pos + 1
    while i < end:
        char = text[i]
        if char == '"':
            return i + 1
        if char == "\\":
            if i + 1 >= end:
                break
            escaped = text[i + 1]
            if escaped in "\r\n" or ord(escaped) > 0x7F:
                raise SipSyntaxError("invalid quoted-pair in quoted string")
            i += 2
            continue
        code = ord(char)
        if (code < 0x20 and char != "\t") or code == 0x7F:
            raise SipSyntaxError(f"control character {code:#04x} in quoted string")
        i += 1
    raise SipSyntaxError("unterminated quoted string")


def unquote(text: str) -> str:
    """Content of a complete quoted-string, quoted-pairs resolved (``"a\\"b"`` -> ``a"b``)."""
    if scan_quoted_string(text, 0) != len(text):
        raise SipSyntaxError("text after the closing quote")
    inner = text[1:-1]
    if "\\" not in inner:
        return inner
    out: list[str] = []
    i = 0
    while i < len(inner):
        char = inner[i]
        if char == "\\":
            i += 1
            char = inner[i]
        out.append(char)
        i += 1
    return "".join(out)


def quote(text: str) -> str:
    """Render ``text`` as a quoted-string, escaping backslash, double quote and controls.

    Control characters other than HTAB travel as quoted-pairs; CR and LF cannot be carried in
    a quoted-string at all (quoted-pair excludes them), so passing them is a caller bug.
    """
    if "\r" in text or "\n" in text:
        raise LocalProtocolError("a quoted string cannot carry CR or LF")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    if _QUOTE_CTL_RE.search(escaped):
        escaped = _QUOTE_CTL_RE.sub(lambda match: "\\" + match.group(), escaped)
    return '"' + escaped + '"'


def quote_if_needed(text: str) -> str:
    """``text`` itself when it is a token, else its quoted-string form."""
    return text if is_token(text) else quote(text)


# -- %-escaping (RFC 3261 section 19.1.2, RFC 3986 section 2.1) ------------------------------


def percent_decode_bytes(text: str) -> bytes:
    """Octets denoted by ``text`` with every ``%HH`` replaced by its octet (``%00`` included)."""
    raw = text.encode("utf-8", "surrogateescape")
    if b"%" not in raw:
        return raw
    out = bytearray()
    i = 0
    end = len(raw)
    while i < end:
        octet = raw[i]
        if octet == 0x25:  # "%"
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or not all(c in b"0123456789abcdefABCDEF" for c in pair):
                raise SipSyntaxError("'%' not followed by two hex digits")
            out.append(int(pair, 16))
            i += 3
        else:
            out.append(octet)
            i += 1
    return bytes(out)


def percent_decode(text: str) -> str:
    """Unescaped text: ``%HH`` sequences decoded as UTF-8 (``surrogateescape`` keeps odd octets).

    The result may contain NUL (``%00``); it is a Python ``str``, never truncated.
    """
    if "%" not in text:
        return text
    return percent_decode_bytes(text).decode("utf-8", "surrogateescape")


def percent_encode(text: str, safe: str) -> str:
    """Escape every character of ``text`` outside ``safe`` as ``%HH`` of its UTF-8 octets."""
    if all(char in safe for char in text):
        return text
    safe_set = frozenset(safe)
    out: list[str] = []
    for char in text:
        if char in safe_set:
            out.append(char)
        else:
            out.extend(f"%{octet:02X}" for octet in char.encode("utf-8", "surrogateescape"))
    return "".join(out)


# -- comma lists ---------------------------------------------------------------------------


def split_commas(text: str) -> list[str]:
    """Split a ``#rule`` list on commas outside quoted strings and ``<...>``.

    Items are stripped of surrounding whitespace; empty items are kept (the caller decides
    whether ``a,,b`` is an error), so ``len(result) - 1`` is the number of separators.
    """
    if "," not in text:
        return [text.strip(WSP)]
    if '"' not in text and "<" not in text:
        return [item.strip(WSP) for item in text.split(",")]
    items: list[str] = []
    start = 0
    i = 0
    end = len(text)
    while i < end:
        char = text[i]
        if char == '"':
            i = scan_quoted_string(text, i)
            continue
        if char == "<":
            close = text.find(">", i + 1)
            if close < 0:
                raise SipSyntaxError("'<' without '>'")
            i = close + 1
            continue
        if char == ",":
            items.append(text[start:i].strip(WSP))
            start = i + 1
        i += 1
    items.append(text[start:].strip(WSP))
    return items


# -- generic parameters --------------------------------------------------------------------


class Params(tuple[tuple[str, str | None], ...]):
    """An ordered, immutable list of ``(name, value)`` parameters; ``value`` is None for a flag.

    Names keep their spelling; lookups compare names case-insensitively (RFC 3261 section 7.3.1).
    Header parameter values are kept as written (a quoted-string keeps its quotes, see
    :meth:`get_text`); URI parameters are stored unescaped by the URI parser.
    """

    __slots__ = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        """Value of the first parameter called ``name`` (None for a flag), else ``default``."""
        lowered = name.lower()
        for key, value in self:
            if key == lowered or key.lower() == lowered:
                return value
        return default

    def get_lowered(self, lowered: str) -> str | None:
        """:meth:`get` for a name the caller already lower-cased (hot paths: tag, branch)."""
        for key, value in self:
            if key == lowered or key.lower() == lowered:
                return value
        return None

    def get_text(self, name: str) -> str | None:
        """Like :meth:`get`, with a quoted-string value unquoted."""
        value = self.get(name)
        if value is not None and value.startswith('"'):
            return unquote(value)
        return value

    def has(self, name: str) -> bool:
        """True when a parameter called ``name`` is present (with or without a value)."""
        lowered = name.lower()
        return any(key.lower() == lowered for key, _ in self)

    def names(self) -> list[str]:
        return [key for key, _ in self]

    def with_param(self, name: str, value: str | None = None) -> Params:
        """A copy where ``name`` has ``value``: replaced in place if present, else appended."""
        lowered = name.lower()
        items = list(self)
        for index, (key, _) in enumerate(items):
            if key.lower() == lowered:
                items[index] = (key, value)
                return Params(items)
        items.append((name, value))
        return Params(items)

    def without(self, name: str) -> Params:
        """A copy without any parameter called ``name``."""
        lowered = name.lower()
        return Params(item for item in self if item[0].lower() != lowered)

    def render(self) -> str:
        """``;name=value;flag`` as written (values are emitted verbatim)."""
        return "".join(f";{key}" if value is None else f";{key}={value}" for key, value in self)


def parse_params(text: str, pos: int = 0, stop: str = "") -> tuple[Params, int]:
    """Parse ``*( SEMI generic-param )`` starting at ``pos``.

    ``generic-param = token [ EQUAL gen-value ]``, ``gen-value = token / host / quoted-string``,
    with SWS allowed around ``;`` and ``=`` (RFC 3261 section 25.1, SEMI and EQUAL).  Scanning
    ends at the end of ``text`` or at a character in ``stop`` (outside a value); the index where
    it stopped is returned.  Empty parameters (``;;``) are errors.
    """
    items: list[tuple[str, str | None]] = []
    end = len(text)
    token_set = _TOKEN_SET
    value_set = _GEN_VALUE_SET
    while True:
        pos = skip_ws(text, pos)
        if pos >= end or text[pos] in stop:
            return Params(items), pos
        if text[pos] != ";":
            raise SipSyntaxError(f"unexpected {text[pos]!r} where ';' or the end was expected")
        pos = skip_ws(text, pos + 1)
        start = pos
        while pos < end and text[pos] in token_set:
            pos += 1
        if pos == start:
            raise SipSyntaxError("empty parameter")
        name = text[start:pos]
        after_name = skip_ws(text, pos)
        if after_name < end and text[after_name] == "=":
            pos = skip_ws(text, after_name + 1)
            if pos < end and text[pos] == '"':
                value_end = scan_quoted_string(text, pos)
            else:
                value_end = pos
                while value_end < end and text[value_end] in value_set:
                    value_end += 1
                if value_end == pos:
                    raise SipSyntaxError(f"parameter {name!r} has '=' but no value")
            items.append((name, text[pos:value_end]))
            pos = value_end
        else:
            items.append((name, None))
            pos = after_name
