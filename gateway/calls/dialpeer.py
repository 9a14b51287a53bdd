"""Dial-peers in Cisco IOS terms: number patterns, pots/voip peers and call routing.

**Number patterns** (``destination-pattern``, ``incoming called-number``, ``answer-address``):
digits ``0-9``, ``A-D``, ``*``, ``#`` match themselves; ``.`` any one of those; ``[2-9]`` /
``[^1-3]`` a range or its complement; ``( )`` a group; ``?`` ``%`` ``+`` repeat the previous digit
or group 0-1, 0-n, 1-n times; ``\\x`` takes ``x`` literally; ``,`` (a dialling pause) is ignored.
A leading ``+`` is the E.164 plus and matches a ``+`` in the number; ``^`` may open the pattern
(patterns are anchored at the start anyway); ``$`` may close it and forbids extra digits; a final
``T`` accepts any further digits until the inter-digit timeout or ``#``.  Without ``$`` a pattern
matches a *prefix* of the number: ``555....`` matches ``55512345`` with extra digit ``5`` (what
``forward-digits extra`` forwards), as in IOS.

Patterns compile once to a position automaton (no epsilon moves) that is turned into a DFA lazily,
so matching is linear in the number and never backtracks.

**Outbound routing** (:meth:`DialPlan.outbound`): every peer whose ``destination-pattern`` matches
the called number, most specific first -- more explicitly matched digits, then narrower ranges,
then fixed-length before variable-length, then the longer pattern -- then lower ``preference``,
then lower tag (IOS picks randomly among equals; gwemu is deterministic), cut after the first peer
with ``huntstop``.  The call tries the list in order while :func:`should_hunt` says so.

**Inbound matching** (:meth:`DialPlan.inbound`), in IOS order: ``incoming called-number`` against
the called number, ``answer-address`` against the calling number, ``destination-pattern`` against
the calling number, for pots legs the ``port``, and finally the default peer 0.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Final, Literal

from gateway.calls.translation import (
    CallNumbers,
    NumberField,
    PartyNumber,
    ProfileOutcome,
    TranslationTables,
)
from gateway.errors import ConfigError, LocalProtocolError

DIAL_CHARS: Final = frozenset("0123456789*#ABCD")
MAX_TAG: Final = 2147483647
MAX_PREFERENCE: Final = 10
MAX_FORWARD_DIGITS: Final = 32
# Cap the lazily built DFA of one pattern; clearing it only costs recomputation.
_DFA_CACHE_LIMIT: Final = 4096

LegKind = Literal["pots", "voip"]
InboundRule = Literal[
    "incoming called-number", "answer-address", "destination-pattern", "port", "default"
]

# --- number patterns ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Chars:
    chars: frozenset[str]
    literal: bool


@dataclass(frozen=True, slots=True)
class _Seq:
    items: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Repeat:
    node: _Node
    minimum: int  # 0 or 1
    unbounded: bool


_Node = _Chars | _Seq | _Repeat


@dataclass(frozen=True, slots=True)
class Specificity:
    """How specific a pattern is; greater compares as more specific (IOS "longest match")."""

    explicit_digits: int
    range_narrowing: int
    fixed_length: bool
    minimum_length: int

    def key(self) -> tuple[int, int, bool, int]:
        return (self.explicit_digits, self.range_narrowing, self.fixed_length, self.minimum_length)


@dataclass(frozen=True, slots=True)
class PatternMatch:
    """A pattern matched ``matched``, the leading part of a number; ``extra`` is the rest."""

    matched: str
    extra: str


# A DFA state is the set of automaton positions reached; _START is the state before any digit.
_DfaState = frozenset[int]
_START: Final[_DfaState] = frozenset({-1})
_DEAD: Final[_DfaState] = frozenset()


@dataclass(frozen=True, slots=True)
class _Automaton:
    """Glushkov position automaton of a pattern: one position per digit class, no epsilons."""

    classes: tuple[frozenset[str], ...]
    first: frozenset[int]
    follow: tuple[frozenset[int], ...]
    last: frozenset[int]
    nullable: bool


class _AutomatonBuilder:
    __slots__ = ("classes", "follow")

    def __init__(self) -> None:
        self.classes: list[frozenset[str]] = []
        self.follow: list[set[int]] = []

    def build(self, root: _Node) -> _Automaton:
        nullable, first, last = self._visit(root)
        return _Automaton(
            tuple(self.classes),
            frozenset(first),
            tuple(frozenset(f) for f in self.follow),
            frozenset(last),
            nullable,
        )

    def _visit(self, node: _Node) -> tuple[bool, set[int], set[int]]:
        if isinstance(node, _Chars):
            position = len(self.classes)
            self.classes.append(node.chars)
            self.follow.append(set())
            return False, {position}, {position}
        if isinstance(node, _Repeat):
            nullable, first, last = self._visit(node.node)
            if node.unbounded:
                for position in last:
                    self.follow[position] |= first
            return nullable or node.minimum == 0, first, last
        nullable, first, last = True, set(), set()
        for item in node.items:
            item_nullable, item_first, item_last = self._visit(item)
            for position in last:
                self.follow[position] |= item_first
            if nullable:
                first |= item_first
            last = last | item_last if item_nullable else item_last
            nullable = nullable and item_nullable
        return nullable, first, last


@dataclass(frozen=True, slots=True)
class NumberPattern:
    """A compiled IOS number pattern; build with :meth:`parse`, print with ``str()``."""

    text: str
    e164: bool
    anchored_end: bool
    variable_length: bool
    explicit_prefix: str
    specificity: Specificity
    _automaton: _Automaton = field(repr=False, compare=False)
    _transitions: dict[tuple[_DfaState, str], _DfaState] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def parse(cls, text: str) -> NumberPattern:
        """Compile ``text``; a ``ConfigError`` says what is wrong and where."""
        return _PatternParser(text).parse()

    def __str__(self) -> str:
        return self.text

    # The automaton interface used by digit collection.

    def initial_state(self) -> _DfaState:
        return _START

    def advance(self, state: _DfaState, char: str) -> _DfaState:
        """The state after one more character (``_DEAD`` when nothing can match any more)."""
        if not state:
            return _DEAD
        key = (state, char)
        cached = self._transitions.get(key)
        if cached is not None:
            return cached
        automaton = self._automaton
        candidates: Iterable[int] = (
            automaton.first
            if state == _START
            else frozenset().union(*(automaton.follow[p] for p in state))
        )
        normalized = _normalize(char)
        nxt = frozenset(p for p in candidates if normalized in automaton.classes[p])
        if len(self._transitions) >= _DFA_CACHE_LIMIT:
            self._transitions.clear()
        self._transitions[key] = nxt
        return nxt

    def accepts(self, state: _DfaState) -> bool:
        """True when the characters consumed so far form a complete match."""
        if state == _START:
            return self._automaton.nullable
        return not self._automaton.last.isdisjoint(state)

    def can_extend(self, state: _DfaState) -> bool:
        """True when more characters could still be matched from ``state``."""
        if not state:
            return False
        automaton = self._automaton
        if state == _START:
            return bool(automaton.first)
        return any(automaton.follow[p] for p in state)

    def match(self, number: str) -> PatternMatch | None:
        """Match the start of ``number`` (all of it with ``$``); the longest match wins."""
        state = _START
        best = 0 if self.accepts(state) else -1
        for index, char in enumerate(number):
            state = self.advance(state, char)
            if not state:
                break
            if self.accepts(state):
                best = index + 1
        if best < 0 or (self.anchored_end and best != len(number)):
            return None
        return PatternMatch(number[:best], number[best:])


class _PatternParser:
    __slots__ = ("_pos", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0

    def _error(self, message: str) -> ConfigError:
        return ConfigError(f"number pattern {self._text!r}: {message}")

    def parse(self) -> NumberPattern:
        text = self._text
        if not text or text != text.strip():
            raise self._error("must be non-empty and without spaces")
        body_end = len(text)
        variable = text.endswith("T")
        if variable:
            body_end -= 1
        anchored_end = text[:body_end].endswith("$") and not text[:body_end].endswith("\\$")
        if anchored_end:
            if variable:
                raise self._error("'$' and 'T' contradict each other")
            body_end -= 1
        if text.startswith("^"):
            self._pos = 1
        items: list[_Node] = []
        e164 = text.startswith("+", self._pos)
        if e164:
            items.append(_Chars(frozenset("+"), literal=True))
            self._pos += 1
        items.extend(self._sequence(body_end, in_group=False))
        if variable:
            items.append(_Repeat(_Chars(DIAL_CHARS, literal=False), 0, unbounded=True))
        if not items:
            raise self._error("has no digits")
        root = _Seq(tuple(items))
        return NumberPattern(
            text=text,
            e164=e164,
            anchored_end=anchored_end,
            variable_length=variable,
            explicit_prefix=_explicit_prefix(items),
            specificity=_specificity(root),
            _automaton=_AutomatonBuilder().build(root),
        )

    def _sequence(self, end: int, *, in_group: bool) -> list[_Node]:
        items: list[_Node] = []
        text = self._text
        while self._pos < end:
            char = text[self._pos]
            self._pos += 1
            if char == ")":
                if not in_group:
                    raise self._error(f"')' without '(' at position {self._pos}")
                if not items:
                    raise self._error("empty group '()'")
                return items
            if char == "(":
                items.append(_Seq(tuple(self._sequence(end, in_group=True))))
            elif char in "?%+":
                if not items or isinstance(items[-1], _Repeat):
                    raise self._error(f"'{char}' at position {self._pos} has nothing to repeat")
                items[-1] = _Repeat(items[-1], 0 if char in "?%" else 1, unbounded=char != "?")
            elif char == ".":
                items.append(_Chars(DIAL_CHARS, literal=False))
            elif char == "[":
                items.append(self._bracket(end))
            elif char == "\\":
                if self._pos >= end:
                    raise self._error("ends with a backslash")
                items.append(_Chars(frozenset(_normalize(text[self._pos])), literal=True))
                self._pos += 1
            elif char == ",":
                continue  # a dialling pause: nothing to match
            elif char.upper() in DIAL_CHARS:
                items.append(_Chars(frozenset(char.upper()), literal=True))
            elif char in "T^$":
                raise self._error(f"'{char}' is only allowed at the {_PLACE[char]}")
            else:
                raise self._error(f"invalid character {char!r} at position {self._pos}")
        if in_group:
            raise self._error("'(' without ')'")
        return items

    def _bracket(self, end: int) -> _Chars:
        text = self._text
        negate = self._pos < end and text[self._pos] == "^"
        if negate:
            self._pos += 1
        chosen: set[str] = set()
        while True:
            if self._pos >= end:
                raise self._error("'[' without ']'")
            char = text[self._pos].upper()
            self._pos += 1
            if char == "]" and chosen:
                break
            if char not in DIAL_CHARS:
                raise self._error(f"invalid character {char!r} in a range")
            if self._pos + 1 < end and text[self._pos] == "-" and text[self._pos + 1] != "]":
                high = text[self._pos + 1].upper()
                self._pos += 2
                if not (char.isdigit() and high.isdigit()) or high < char:
                    raise self._error(f"range {char}-{high} is not an ascending digit range")
                chosen.update(str(d) for d in range(int(char), int(high) + 1))
            else:
                chosen.add(char)
        chars = frozenset(DIAL_CHARS - chosen if negate else chosen)
        if not chars:
            raise self._error("a range that matches nothing")
        return _Chars(chars, literal=len(chars) == 1 and not negate)


_PLACE: Final = {"T": "end", "^": "start", "$": "end"}


def _normalize(char: str) -> str:
    """Keypad letters compare case-insensitively; nothing else is folded."""
    return char.upper() if "a" <= char <= "d" else char


def _explicit_prefix(items: list[_Node]) -> str:
    """The leading explicitly matched digits: what IOS pots peers strip by default."""
    prefix: list[str] = []
    for item in items:
        if not (isinstance(item, _Chars) and item.literal):
            break
        prefix.extend(item.chars)
    return "".join(prefix)


def _specificity(root: _Node) -> Specificity:
    def walk(node: _Node) -> tuple[int, int, bool, int]:
        if isinstance(node, _Chars):
            if node.literal:
                return 1, 0, True, 1
            return 0, len(DIAL_CHARS - node.chars), True, 1
        if isinstance(node, _Repeat):
            explicit, narrowing, fixed, length = walk(node.node)
            m = node.minimum
            return explicit * m, narrowing * m, fixed and not node.unbounded and m == 1, length * m
        explicit = narrowing = length = 0
        fixed = True
        for item in node.items:
            e, n, f, ln = walk(item)
            explicit, narrowing = explicit + e, narrowing + n
            fixed, length = fixed and f, length + ln
        return explicit, narrowing, fixed, length

    return Specificity(*walk(root))


# --- peer attributes ----------------------------------------------------------------------------


class IosCodec(StrEnum):
    """IOS codec keywords for the codecs gwemu's media layer implements, with their RTP/SDP names
    (RFC 3551); ``gateway.media.codecs.find_codec(encoding_name)`` gives the implementation."""

    G711ULAW = "g711ulaw"
    G711ALAW = "g711alaw"
    G729R8 = "g729r8"
    G729BR8 = "g729br8"

    @property
    def encoding_name(self) -> str:
        return _CODEC_RTP[self][0]

    @property
    def payload_type(self) -> int:
        return _CODEC_RTP[self][1]

    @property
    def annexb(self) -> bool | None:
        """G.729 Annex B (VAD/CNG) as IOS signals it in ``a=fmtp:18 annexb=``; None otherwise."""
        return {IosCodec.G729R8: False, IosCodec.G729BR8: True}.get(self)


_CODEC_RTP: Final = {
    IosCodec.G711ULAW: ("PCMU", 0),
    IosCodec.G711ALAW: ("PCMA", 8),
    IosCodec.G729R8: ("G729", 18),
    IosCodec.G729BR8: ("G729", 18),
}


class DtmfRelay(StrEnum):
    """``dtmf-relay`` methods; a peer with none sends DTMF in-band in the audio."""

    RTP_NTE = "rtp-nte"  # RFC 4733 telephone-event
    SIP_NOTIFY = "sip-notify"
    SIP_INFO = "sip-info"


SessionTargetKind = Literal["ipv4", "ipv6", "dns", "registrar", "sip-server"]
Transport = Literal["udp", "tcp"]
ForwardDigits = int | Literal["all", "extra"] | None


@dataclass(frozen=True, slots=True)
class SessionTarget:
    """``session target``: ``ipv4:host[:port]``, ``ipv6:[addr][:port]``, ``dns:name[:port]``,
    ``registrar`` or ``sip-server``.  ``port`` None means the transport default (5060)."""

    kind: SessionTargetKind
    host: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> SessionTarget:
        where = f"session target {text!r}"
        if text == "registrar":
            return cls("registrar")
        if text == "sip-server":
            return cls("sip-server")
        scheme, sep, rest = text.partition(":")
        if not sep or not rest:
            raise ConfigError(f"{where}: expected ipv4:, ipv6:, dns:, registrar or sip-server")
        kind = _SCHEMES.get(scheme)
        if kind is None:
            raise ConfigError(f"{where}: unknown scheme {scheme!r}")
        if kind == "ipv6":
            if not rest.startswith("["):
                raise ConfigError(f"{where}: an IPv6 address goes in brackets, ipv6:[addr]:port")
            close = rest.find("]")
            if close < 0:
                raise ConfigError(f"{where}: missing ']'")
            host, tail = rest[1:close], rest[close + 1 :]
            if tail and not tail.startswith(":"):
                raise ConfigError(f"{where}: unexpected {tail!r} after the address")
            port_text = tail[1:] if tail else None
        else:
            host, colon, port_text_raw = rest.partition(":")
            port_text = port_text_raw if colon else None
        port = None if port_text is None else _parse_port(port_text, where)
        return cls(kind, host, port)

    def __post_init__(self) -> None:
        where = f"session target {self.kind}"
        if self.kind in ("registrar", "sip-server"):
            if self.host is not None or self.port is not None:
                raise ConfigError(f"{where}: takes no address")
            return
        if not self.host:
            raise ConfigError(f"{where}: needs an address")
        try:
            if self.kind == "ipv4":
                ipaddress.IPv4Address(self.host)
            elif self.kind == "ipv6":
                ipaddress.IPv6Address(self.host)
            elif not _is_dns_name(self.host):
                raise ValueError("not a DNS name")
        except ValueError:
            raise ConfigError(
                f"{where}: {self.host!r} is not a valid {self.kind} address"
            ) from None
        if self.port is not None and not 1 <= self.port <= 65535:
            raise ConfigError(f"{where}: port {self.port} is out of range 1-65535")

    def __str__(self) -> str:
        if self.host is None:
            return self.kind
        host = f"[{self.host}]" if self.kind == "ipv6" else self.host
        return f"{self.kind}:{host}" + ("" if self.port is None else f":{self.port}")


_SCHEMES: Final[dict[str, SessionTargetKind]] = {"ipv4": "ipv4", "ipv6": "ipv6", "dns": "dns"}


def _parse_port(text: str, where: str) -> int:
    if not text.isdigit() or len(text) > 5:
        raise ConfigError(f"{where}: port {text!r} is not a number")
    return int(text)


def _is_dns_name(host: str) -> bool:
    if len(host) > 253:
        return False
    labels = host.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
        for label in labels
    )


# --- dial peers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _DialPeerBase:
    kind: ClassVar[LegKind]
    tag: int
    destination_pattern: NumberPattern | None = None
    incoming_called_number: NumberPattern | None = None
    answer_address: NumberPattern | None = None
    preference: int = 0
    huntstop: bool = False
    translation_incoming: str | None = None
    translation_outgoing: str | None = None
    description: str = ""

    def _check_common(self) -> None:
        if not 0 <= self.tag <= MAX_TAG:
            raise ConfigError(f"dial-peer tag must be 1-{MAX_TAG}, got {self.tag}")
        if not 0 <= self.preference <= MAX_PREFERENCE:
            raise ConfigError(
                f"{self.name}: preference must be 0-{MAX_PREFERENCE}, got {self.preference}"
            )

    @property
    def name(self) -> str:
        return f"dial-peer voice {self.tag} {self.kind}"


@dataclass(frozen=True, slots=True)
class PotsDialPeer(_DialPeerBase):
    """A pots peer: a line (``port``) reached with the digits :meth:`outgoing_digits` gives.

    ``forward_digits`` None is the IOS default: strip the explicitly matched leading digits of the
    destination pattern (``digit_strip``, on by default); an int forwards that many right-most
    digits, ``"all"`` all of them, ``"extra"`` those beyond the pattern.  ``prefix`` is prepended
    last.  ``direct_inward_dial`` routes an inbound call on its called number at once; without it
    IOS gives the caller a second dial tone and collects digits (two-stage dialling).
    """

    kind: ClassVar[LegKind] = "pots"
    port: str | None = None
    digit_strip: bool = True
    forward_digits: ForwardDigits = None
    prefix: str = ""
    direct_inward_dial: bool = False

    def __post_init__(self) -> None:
        self._check_common()
        fd = self.forward_digits
        if isinstance(fd, bool) or not (
            fd is None
            or fd in ("all", "extra")
            or (isinstance(fd, int) and 0 <= fd <= MAX_FORWARD_DIGITS)
        ):
            raise ConfigError(
                f"{self.name}: forward-digits must be 0-{MAX_FORWARD_DIGITS}, all or extra, "
                f"got {fd!r}"
            )
        bad = [c for c in self.prefix if c.upper() not in DIAL_CHARS and c != ","]
        if bad:
            raise ConfigError(
                f"{self.name}: prefix {self.prefix!r} has invalid character {bad[0]!r}"
            )

    def outgoing_digits(self, number: str, match: PatternMatch | None) -> str:
        """The digits sent out of the port for a call routed here with ``number``.

        ``number`` is the called number after outgoing translation; ``match`` is how the
        destination pattern matched it before translation (for ``forward-digits extra``).
        """
        fd = self.forward_digits
        if fd == "all":
            digits = number
        elif fd == "extra":
            digits = match.extra if match is not None else ""
        elif isinstance(fd, int):
            digits = number[-fd:] if fd else ""
        elif self.digit_strip and self.destination_pattern is not None:
            explicit = self.destination_pattern.explicit_prefix
            # A translation may have rewritten the leading digits: strip only what is still there.
            digits = number[len(explicit) :] if number.startswith(explicit) else number
        else:
            digits = number
        return self.prefix + digits


@dataclass(frozen=True, slots=True)
class VoipDialPeer(_DialPeerBase):
    """A voip peer: a SIP destination with its codec preference list and DTMF relay methods.

    ``codecs`` is the ``voice-class codec`` order (or the single ``codec``).  IOS defaults to
    g729r8; gwemu defaults to G.711 u-law so an unconfigured peer works with any SIP endpoint.
    ``dtmf_relay`` lists methods in preference order; empty means in-band DTMF.
    """

    kind: ClassVar[LegKind] = "voip"
    session_target: SessionTarget | None = None
    session_transport: Transport = "udp"
    codecs: tuple[IosCodec, ...] = (IosCodec.G711ULAW,)
    dtmf_relay: tuple[DtmfRelay, ...] = ()

    def __post_init__(self) -> None:
        self._check_common()
        if self.session_transport not in ("udp", "tcp"):
            raise ConfigError(
                f"{self.name}: session transport must be udp or tcp, got {self.session_transport!r}"
            )
        if not self.codecs:
            raise ConfigError(f"{self.name}: needs at least one codec")
        for what, values in (("codec", self.codecs), ("dtmf-relay", self.dtmf_relay)):
            if len(set(values)) != len(values):
                raise ConfigError(f"{self.name}: {what} lists a value twice")

    @property
    def dtmf_inband(self) -> bool:
        return not self.dtmf_relay


DialPeer = PotsDialPeer | VoipDialPeer

# IOS dial-peer 0: what an inbound leg gets when no configured peer matches -- any codec, no
# DTMF relay, no translation.
DEFAULT_VOIP_PEER: Final = VoipDialPeer(0, codecs=tuple(IosCodec))
DEFAULT_POTS_PEER: Final = PotsDialPeer(0)

# Failures after which the call hunts to the next peer: SIP 503 and 408 (and a transaction
# timeout); on a pots peer, the causes saying the line side is out of circuits or resources.
HUNT_ON_STATUS: Final = frozenset({408, 503})
HUNT_ON_CAUSE: Final = frozenset({34, 38, 41, 42, 44, 47, 102})


def should_hunt(
    *, status: int | None = None, cause: int | None = None, timed_out: bool = False
) -> bool:
    """True when a failed attempt should move on to the next peer of the hunt list."""
    return timed_out or status in HUNT_ON_STATUS or cause in HUNT_ON_CAUSE


# --- routing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of a hunt list: the peer and the numbers to send to it."""

    peer: DialPeer
    match: PatternMatch
    numbers: CallNumbers

    @property
    def called_digits(self) -> str:
        return self.numbers.called.digits


@dataclass(frozen=True, slots=True)
class BlockedRoute:
    """A matching peer whose outgoing translation profile rejected the call."""

    peer: DialPeer
    field: NumberField
    rule_set: int
    rule: int


@dataclass(frozen=True, slots=True)
class HuntList:
    """The peers a call tries, in order, and the ones an outgoing reject rule removed."""

    routes: tuple[Route, ...]
    blocked: tuple[BlockedRoute, ...] = ()

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)

    @property
    def tags(self) -> tuple[int, ...]:
        return tuple(route.peer.tag for route in self.routes)


@dataclass(frozen=True, slots=True)
class InboundMatch:
    """The inbound peer of a call leg and the IOS rule that chose it."""

    peer: DialPeer
    rule: InboundRule
    match: PatternMatch | None = None


_RankKey = tuple[int, int, int, int, int, int]


def _rank(peer: DialPeer, pattern: NumberPattern) -> _RankKey:
    """Sort key: most specific pattern first, then lower preference, then lower tag."""
    explicit, narrowing, fixed, length = pattern.specificity.key()
    return (-explicit, -narrowing, -int(fixed), -length, peer.preference, peer.tag)


class DialPlan:
    """All dial peers of a gateway plus its translation tables: the routing engine."""

    __slots__ = ("_by_tag", "_peers", "_translations")

    def __init__(
        self,
        peers: Iterable[DialPeer],
        translations: TranslationTables | None = None,
    ) -> None:
        self._peers = tuple(peers)
        self._translations = TranslationTables() if translations is None else translations
        self._by_tag: dict[int, DialPeer] = {}
        for peer in self._peers:
            if peer.tag < 1:
                raise ConfigError(f"{peer.name}: tag 0 is the built-in default peer")
            if peer.tag in self._by_tag:
                raise ConfigError(f"dial-peer tag {peer.tag} is used twice")
            self._by_tag[peer.tag] = peer
            for direction, profile in (
                ("incoming", peer.translation_incoming),
                ("outgoing", peer.translation_outgoing),
            ):
                if profile is not None and not self._translations.has_profile(profile):
                    raise ConfigError(
                        f"{peer.name}: translation-profile {direction} {profile}: "
                        "no such voice translation-profile"
                    )

    @property
    def peers(self) -> tuple[DialPeer, ...]:
        return self._peers

    @property
    def translations(self) -> TranslationTables:
        return self._translations

    def peer(self, tag: int) -> DialPeer:
        try:
            return self._by_tag[tag]
        except KeyError:
            raise LocalProtocolError(f"there is no dial-peer {tag}") from None

    def destination_patterns(
        self, kinds: Collection[LegKind] = ("pots", "voip")
    ) -> tuple[NumberPattern, ...]:
        """The outbound patterns digit collection matches against."""
        return tuple(
            p.destination_pattern
            for p in self._peers
            if p.kind in kinds and p.destination_pattern is not None
        )

    def outbound(
        self,
        numbers: CallNumbers,
        *,
        kinds: Collection[LegKind] = ("pots", "voip"),
        exclude_port: str | None = None,
    ) -> HuntList:
        """The hunt list for ``numbers`` (already translated by the inbound peer).

        Each route carries the numbers after the peer's outgoing translation profile and, for pots
        peers, digit stripping/forwarding and prefix.  ``exclude_port`` leaves out pots peers on the
        line the call came from.
        """
        called = numbers.called.digits
        ranked: list[tuple[_RankKey, DialPeer, PatternMatch]] = []
        for peer in self._peers:
            pattern = peer.destination_pattern
            if pattern is None or peer.kind not in kinds:
                continue
            if _on_port(peer, exclude_port):
                continue
            found = pattern.match(called)
            if found is not None:
                ranked.append((_rank(peer, pattern), peer, found))
        ranked.sort(key=lambda entry: entry[0])
        routes: list[Route] = []
        blocked: list[BlockedRoute] = []
        for _, peer, found in ranked:
            outcome = self._translations.apply(peer.translation_outgoing, numbers)
            if outcome.blocked is not None:
                b = outcome.blocked
                blocked.append(BlockedRoute(peer, b.field, b.rule_set, b.rule))
            else:
                routes.append(Route(peer, found, self._dialled(peer, outcome.numbers, found)))
            if peer.huntstop:
                break
        return HuntList(tuple(routes), tuple(blocked))

    @staticmethod
    def _dialled(peer: DialPeer, numbers: CallNumbers, found: PatternMatch) -> CallNumbers:
        if not isinstance(peer, PotsDialPeer):
            return numbers
        called = numbers.called
        digits = peer.outgoing_digits(called.digits, found)
        return CallNumbers(
            PartyNumber(digits, called.type, called.plan), numbers.calling, numbers.redirect_called
        )

    def inbound(
        self, leg: LegKind, numbers: CallNumbers, *, port: str | None = None
    ) -> InboundMatch:
        """The inbound peer for a call arriving on a ``leg`` (IOS matching order)."""
        pool = [p for p in self._peers if p.kind == leg]
        steps: tuple[tuple[InboundRule, str], ...] = (
            ("incoming called-number", numbers.called.digits),
            ("answer-address", numbers.calling.digits),
            ("destination-pattern", numbers.calling.digits),
        )
        for rule, digits in steps:
            best: tuple[_RankKey, DialPeer, PatternMatch] | None = None
            for peer in pool:
                pattern = _inbound_pattern(peer, rule)
                if pattern is None:
                    continue
                found = pattern.match(digits)
                if found is None:
                    continue
                rank = _rank(peer, pattern)
                if best is None or rank < best[0]:
                    best = (rank, peer, found)
            if best is not None:
                return InboundMatch(best[1], rule, best[2])
        if leg == "pots" and port is not None:
            on_port = [p for p in pool if _on_port(p, port)]
            if on_port:
                return InboundMatch(min(on_port, key=lambda p: (p.preference, p.tag)), "port")
        return InboundMatch(DEFAULT_POTS_PEER if leg == "pots" else DEFAULT_VOIP_PEER, "default")

    def translate_incoming(self, peer: DialPeer, numbers: CallNumbers) -> ProfileOutcome:
        """Apply the inbound peer's incoming translation profile."""
        return self._translations.apply(peer.translation_incoming, numbers)


def _on_port(peer: DialPeer, port: str | None) -> bool:
    return port is not None and isinstance(peer, PotsDialPeer) and peer.port == port


def _inbound_pattern(peer: DialPeer, rule: InboundRule) -> NumberPattern | None:
    if rule == "incoming called-number":
        return peer.incoming_called_number
    if rule == "answer-address":
        return peer.answer_address
    return peer.destination_pattern
