"""The SIP header section as an ordered multimap that never loses what the peer wrote.

Each header *line* is kept as its raw text (``"v:  SIP/2.0/UDP ..."``, a folded line keeps its
folds), so repeated Via/Record-Route lines, odd name spellings and unusual spacing survive and an
unmodified header renders back byte for byte.  Next to each line sits its canonical key: the
lower-case long name, with compact forms (RFC 3261 section 7.3.3 and the IANA registry)
resolved, so ``v``, ``V``, ``VIA`` and ``Via  `` all answer to ``"via"``.

Values are unfolded (RFC 3261 section 7.3.1) and stripped on access.  Splitting a line into
comma-separated values is only done for headers whose grammar is a ``#`` list (RFC 3261
section 7.3.1: Via, Route, Contact, Allow, ...); never for Date, WWW-Authenticate,
Authorization and friends, whose single values contain commas.

The parser hands over the header section as one text (:func:`lazy_headers`): a message that
is only routed by the fields the parser cached never needs its lines split, so ``lines`` and
``keys`` are split from that text on first use.

``Headers`` is immutable: ``with_header`` / ``prepend`` / ``without`` / ``replace`` return new
objects; lines not touched keep their raw text.  Parsed typed values are cached per object (see
:meth:`Headers.parsed`) and carried over to derived objects for the headers that did not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip._values import unchecked_constructor
from gateway.sip.grammar import SipSyntaxError, is_token, split_commas, unfold

__all__ = [
    "COMPACT_FORMS",
    "LIST_HEADERS",
    "Headers",
    "canonical_name",
    "display_name",
    "parse_header_lines",
]

T = TypeVar("T")

# IANA "Header Fields" registry: the nineteen single-letter compact forms.
COMPACT_FORMS: dict[str, str] = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}

# Headers whose grammar is a comma-separated list, so several values may share one line.
LIST_HEADERS: frozenset[str] = frozenset(
    {
        "via",
        "route",
        "record-route",
        "contact",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "accept",
        "accept-encoding",
        "accept-language",
        "content-encoding",
        "content-language",
        "alert-info",
        "call-info",
        "error-info",
        "in-reply-to",
        "warning",
        "allow-events",
        "path",
        "service-route",
        "p-asserted-identity",
        "p-preferred-identity",
        "accept-contact",
        "reject-contact",
        "request-disposition",
        "security-client",
        "security-server",
        "security-verify",
        "reason",
        "history-info",
        "accept-resource-priority",
        "resource-priority",
    }
)

# Preferred spellings for headers we create; anything else is title-cased per '-' part.
_SPELLINGS = [
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "History-Info",
    "Identity", "In-Reply-To", "Max-Forwards", "MIME-Version", "Min-Expires", "Min-SE",
    "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "Path", "Priority",
    "Privacy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason",
    "Record-Route", "Refer-To", "Referred-By", "Reject-Contact", "Replaces", "Reply-To",
    "Request-Disposition", "Require", "Retry-After", "Route", "RSeq", "Server",
    "Service-Route", "Session-Expires", "SIP-ETag", "SIP-If-Match", "Subject",
    "Subscription-State", "Supported", "Timestamp", "To", "Unsupported", "User-Agent", "Via",
    "Warning", "WWW-Authenticate",
]  # fmt: skip
_DISPLAY: dict[str, str] = {name.lower(): name for name in _SPELLINGS}


def _spellings(name: str) -> set[str]:
    return {name, name.lower(), name.upper(), name.title()}


# Usual spellings -> canonical key, so that splitting header lines takes one lookup per line.
_KNOWN_NAMES: dict[str, str] = {}
for _name in _SPELLINGS:
    for _variant in _spellings(_name):
        _KNOWN_NAMES[_variant] = _name.lower()
for _letter, _long in COMPACT_FORMS.items():
    _KNOWN_NAMES[_letter] = _long
    _KNOWN_NAMES[_letter.upper()] = _long


def canonical_name(name: str) -> str:
    """The lookup key of a header name: lower-case long form (``"v"`` -> ``"via"``)."""
    known = _KNOWN_NAMES.get(name)
    if known is not None:
        return known
    lowered = name.strip(" \t").lower()
    return COMPACT_FORMS.get(lowered, lowered)


def display_name(key: str) -> str:
    """The conventional spelling for a canonical key (``"call-id"`` -> ``"Call-ID"``)."""
    known = _DISPLAY.get(key)
    if known is not None:
        return known
    return "-".join(part.capitalize() for part in key.split("-"))


def _line_value(line: str) -> str:
    value = line[line.index(":") + 1 :]
    if "\n" in value:
        value = unfold(value)
    return value.strip(" \t")


def _check_new_header(name: str, value: str) -> None:
    if not is_token(name):
        raise LocalProtocolError(f"invalid header name {name!r}")
    if "\r" in value or "\n" in value:
        raise LocalProtocolError(f"header {name} value contains CR or LF")


@dataclass(frozen=True, slots=True, eq=False)
class Headers:
    """Ordered header lines with their canonical keys; see the module docstring."""

    lines: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    # Set by lazy_headers only: the message text and where its header lines end.
    _section: tuple[str, int] | None = field(default=None, repr=False)

    if not TYPE_CHECKING:  # (hidden from mypy, which would otherwise accept any attribute)

        def __getattr__(self, name: str) -> Any:
            # Called only for an unset slot: lines and keys of lazy_headers, split now.
            if name not in ("lines", "keys") or self._section is None:
                raise AttributeError(name)
            text, end = self._section
            split = parse_header_lines(text[:end].split("\r\n")[1:], folded=False)
            object.__setattr__(self, "lines", split.lines)
            object.__setattr__(self, "keys", split.keys)
            return split.lines if name == "lines" else split.keys

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> Headers:
        """Build from ``(name, value)`` pairs, rendered as ``Name: value``."""
        lines: list[str] = []
        keys: list[str] = []
        for name, value in pairs:
            _check_new_header(name, value)
            lines.append(f"{name}: {value}")
            keys.append(canonical_name(name))
        return _make(tuple(lines), tuple(keys), {}, None)

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """``(name as written, unfolded value)`` per line, in order."""
        for line in self.lines:
            yield line[: line.index(":")].rstrip(" \t"), _line_value(line)

    def items(self) -> list[tuple[str, str]]:
        return list(self)

    def name_at(self, index: int) -> str:
        line = self.lines[index]
        return line[: line.index(":")].rstrip(" \t")

    def value_at(self, index: int) -> str:
        return _line_value(self.lines[index])

    def indexes(self, name: str) -> list[int]:
        """Positions of every line of header ``name`` (any spelling or compact form)."""
        key = canonical_name(name)
        keys = self.keys
        found: list[int] = []
        start = 0
        try:
            while True:
                start = keys.index(key, start)
                found.append(start)
                start += 1
        except ValueError:
            return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical_name(name) in self.keys

    def count(self, name: str) -> int:
        """Number of *lines* of header ``name``."""
        return self.keys.count(canonical_name(name))

    def get(self, name: str, default: str | None = None) -> str | None:
        """Value of the first line of header ``name``."""
        try:
            index = self.keys.index(canonical_name(name))
        except ValueError:
            return default
        return _line_value(self.lines[index])

    def get_all(self, name: str) -> list[str]:
        """Values of every line of header ``name``, in order (lines are not comma-split)."""
        return [_line_value(self.lines[i]) for i in self.indexes(name)]

    def values(self, name: str) -> list[str]:
        """Every value of header ``name``: lines, and for list headers their comma items.

        Raises RemoteProtocolError when a list line cannot be split (an unterminated quote).
        """
        key = canonical_name(name)
        lines = self.get_all(key)
        if key not in LIST_HEADERS:
            return lines
        out: list[str] = []
        for line in lines:
            try:
                out.extend(split_commas(line))
            except SipSyntaxError as exc:
                raise RemoteProtocolError(f"{display_name(key)}: {exc}", 400) from None
        return out

    def parsed(self, key: str, parser: Callable[[Headers], T]) -> T:
        """``parser(self)`` computed once per object and cached under ``key``."""
        cache = self._cache
        if key in cache:
            return cast(T, cache[key])
        value = parser(self)
        cache[key] = value
        return value

    # -- building (each returns a new Headers) ---------------------------------------------

    def _derive(self, lines: list[str], keys: list[str], changed: str) -> Headers:
        # What was parsed from the changed header goes: its value under its key, and any
        # intermediate form under "<key>/..." (see typed.FROM_SCAN).
        partial = changed + "/"
        cache = {k: v for k, v in self._cache.items() if k != changed and not k.startswith(partial)}
        return _make(tuple(lines), tuple(keys), cache, None)

    def with_header(self, name: str, value: str) -> Headers:
        """Append a ``name: value`` line."""
        _check_new_header(name, value)
        key = canonical_name(name)
        return self._derive([*self.lines, f"{name}: {value}"], [*self.keys, key], key)

    def prepend(self, name: str, value: str) -> Headers:
        """Insert a line above the first line of the same header (or at the top).

        This is how a proxy adds its Via or Record-Route (RFC 3261 sections 16.6, 16.7).
        """
        _check_new_header(name, value)
        key = canonical_name(name)
        lines, keys = list(self.lines), list(self.keys)
        position = keys.index(key) if key in keys else 0
        lines.insert(position, f"{name}: {value}")
        keys.insert(position, key)
        return self._derive(lines, keys, key)

    def without(self, name: str) -> Headers:
        """Drop every line of header ``name``."""
        key = canonical_name(name)
        kept = [(line, k) for line, k in zip(self.lines, self.keys, strict=True) if k != key]
        return self._derive([line for line, _ in kept], [k for _, k in kept], key)

    def replace(self, name: str, value: str) -> Headers:
        """One ``name: value`` line where the first line of ``name`` was (appended if absent)."""
        _check_new_header(name, value)
        key = canonical_name(name)
        if key not in self.keys:
            return self.with_header(name, value)
        first = self.keys.index(key)
        lines: list[str] = []
        keys: list[str] = []
        for index, (line, k) in enumerate(zip(self.lines, self.keys, strict=True)):
            if k != key:
                lines.append(line)
                keys.append(k)
            elif index == first:
                lines.append(f"{name}: {value}")
                keys.append(key)
        return self._derive(lines, keys, key)

    def without_first_value(self, name: str) -> Headers:
        """Remove the topmost value of a list header (a proxy popping its Via, RFC 3261 16.7).

        When the first line holds several comma-separated values, that line is rewritten with
        the remaining ones; otherwise the line is dropped.
        """
        key = canonical_name(name)
        if key not in self.keys:
            return self
        first = self.keys.index(key)
        try:
            items = split_commas(_line_value(self.lines[first]))
        except SipSyntaxError as exc:
            raise RemoteProtocolError(f"{display_name(key)}: {exc}", 400) from None
        lines, keys = list(self.lines), list(self.keys)
        if len(items) <= 1:
            del lines[first], keys[first]
        else:
            lines[first] = f"{self.name_at(first)}: {', '.join(items[1:])}"
        return self._derive(lines, keys, key)

    # -- rendering -------------------------------------------------------------------------

    def render(self) -> str:
        """Every line followed by CRLF (no terminating empty line)."""
        if not self.lines:
            return ""
        return "\r\n".join(self.lines) + "\r\n"

    def __bytes__(self) -> bytes:
        return self.render().encode("utf-8", "surrogateescape")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self.lines == other.lines

    def __hash__(self) -> int:
        return hash(self.lines)


# Build a Headers from (lines, keys, cache, None) without the dataclass __init__ (hot paths).
_make: Callable[[tuple[str, ...], tuple[str, ...], dict[str, Any], None], Headers] = (
    unchecked_constructor(Headers)
)
# lazy_headers(cache, (text, end)): Headers whose lines are split from ``text[:end]`` when
# first needed: the start line and the header lines, CRLF between them, no continuation line,
# every name a token (the parser checked that).
lazy_headers: Callable[[dict[str, Any], tuple[str, int]], Headers] = unchecked_constructor(
    Headers, ("_cache", "_section")
)


def _slow_key(line: str) -> str:
    colon = line.find(":")
    if colon < 0:
        raise RemoteProtocolError(f"header line without ':': {line[:40]!r}", 400)
    # HCOLON = *( SP / HTAB ) ":" SWS -- whitespace may precede the colon.
    name = line[:colon].rstrip(" \t")
    if not is_token(name):
        raise RemoteProtocolError(f"invalid header name {name[:40]!r}", 400)
    return canonical_name(name)


def parse_header_lines(lines: list[str], folded: bool = True) -> Headers:
    """Headers from the physical lines of a header section (start line and blank line excluded).

    Continuation lines (starting with SP or HTAB) are joined to the line above with CRLF kept,
    so the raw text is preserved and values unfold on access.  A caller that already knows the
    section has no continuation line passes ``folded=False`` to skip that scan.
    """
    if not lines:
        return _make((), (), {}, None)
    if folded and any(line[:1] in (" ", "\t") for line in lines):
        lines = _merge_continuations(lines)
    known = _KNOWN_NAMES.get
    # The key of each line, None for a line without ':' or a name not in the table (p[1] is
    # the colon; partition is the cheapest way to cut the name off in Python).
    keys = [known(p[0]) if (p := line.partition(":"))[1] else None for line in lines]
    if None in keys:
        keys = [
            _slow_key(line) if key is None else key for line, key in zip(lines, keys, strict=True)
        ]
    return _make(tuple(lines), tuple(cast(list[str], keys)), {}, None)


def _merge_continuations(lines: list[str]) -> list[str]:
    merged: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not merged:
                raise RemoteProtocolError("header section starts with a continuation line", 400)
            merged[-1] = merged[-1] + "\r\n" + line
        else:
            merged.append(line)
    return merged
