"""Cisco IOS voice translation rules and profiles (``voice translation-rule`` / ``-profile``).

A rule is ``rule <precedence> /<match>/ /<replace>/ [type <from> <to> [plan <from> <to>]]`` or
``rule <precedence> reject /<match>/ [type <from> [plan <from>]]``.  The match pattern is the
IOS (SED, POSIX basic regular expression) dialect: ``^`` and ``$`` anchor at the ends of the
pattern or of a ``\\( \\)`` group, ``.`` any character, ``[list]`` / ``[^list]`` with ranges,
``*`` ``+`` ``?`` repeat the previous item, ``\\( \\)`` group, ``\\x`` takes ``x`` literally.  The
first occurrence of the match in the number is replaced; in the replacement ``\\1``..``\\9`` copy a
group and ``\\0`` or ``&`` the whole match (Cisco document 64020).  Rules are tried by precedence
and the first whose pattern, number type and plan all match wins; a ``reject`` rule blocks the
call.  A profile names one rule set each for the called, calling and redirect-called numbers.

Two IOS-compatible restrictions keep matching fast on hostile input: unescaped ``(``/``)`` are
refused (IOS groups only with ``\\( \\)``; a literal parenthesis would silently match nothing in a
phone number), and patterns that could backtrack badly are refused when configured -- ``*``/``+``
on something whose length varies (``\\(1?1?\\)*``), more than three ``*``/``+`` or more than six
repeats in all.  Numbers longer than :data:`MAX_NUMBER_LENGTH` never match a rule (IOS numbers
have at most 32 digits), so matching time is bounded whatever a peer sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal

from gateway.errors import ConfigError, LocalProtocolError

MAX_NUMBER_LENGTH: Final = 64
MAX_PRECEDENCE: Final = 100
MAX_RULE_SET_NUMBER: Final = 2147483647
MAX_PROFILE_NAME: Final = 31
MAX_GROUPS: Final = 9
MAX_UNBOUNDED_REPEATS: Final = 3
MAX_REPEATS: Final = 6


class NumberType(StrEnum):
    """Type of number, as IOS spells it (Q.931 s4.5.10 type of number)."""

    ABBREVIATED = "abbreviated"
    INTERNATIONAL = "international"
    NATIONAL = "national"
    NETWORK = "network"
    RESERVED = "reserved"
    SUBSCRIBER = "subscriber"
    UNKNOWN = "unknown"


class NumberingPlan(StrEnum):
    """Numbering plan, as IOS spells it (Q.931 s4.5.10 numbering plan identification)."""

    DATA = "data"
    ERMES = "ermes"
    ISDN = "isdn"
    NATIONAL = "national"
    PRIVATE = "private"
    RESERVED = "reserved"
    TELEX = "telex"
    UNKNOWN = "unknown"


ANY: Final = "any"
TypeMatch = NumberType | Literal["any"]
PlanMatch = NumberingPlan | Literal["any"]
NumberField = Literal["called", "calling", "redirect-called"]


@dataclass(frozen=True, slots=True)
class PartyNumber:
    """A called/calling/redirecting number with its type and plan (None: not signalled)."""

    digits: str
    type: NumberType | None = None
    plan: NumberingPlan | None = None


@dataclass(frozen=True, slots=True)
class CallNumbers:
    """The numbers of one call leg that translation profiles act on."""

    called: PartyNumber
    calling: PartyNumber = PartyNumber("")
    redirect_called: PartyNumber | None = None

    def get(self, which: NumberField) -> PartyNumber | None:
        if which == "called":
            return self.called
        if which == "calling":
            return self.calling
        return self.redirect_called


# --- the IOS regular expression dialect ---------------------------------------------------------


class _PatternError(Exception):
    """A match/replace pattern is not valid IOS syntax (becomes a ConfigError naming the rule)."""


@dataclass(slots=True)
class _Item:
    regex: str
    quantifiable: bool = True
    quantified: bool = False
    variable: bool = False  # its length can vary: it is or contains a repeat


@dataclass(frozen=True, slots=True)
class _CompiledMatch:
    regex: re.Pattern[str]
    groups: int


def _compile_match(pattern: str) -> _CompiledMatch:
    stack: list[list[_Item]] = [[]]
    groups = 0
    unbounded_repeats = 0
    repeats = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        items = stack[-1]
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise _PatternError("trailing backslash")
            nxt = pattern[i + 1]
            i += 2
            if nxt == "(":
                groups += 1
                if groups > MAX_GROUPS:
                    raise _PatternError(f"more than {MAX_GROUPS} \\( \\) groups")
                stack.append([])
            elif nxt == ")":
                if len(stack) == 1:
                    raise _PatternError("\\) without \\(")
                body = stack.pop()
                stack[-1].append(
                    _Item(
                        "(" + "".join(item.regex for item in body) + ")",
                        variable=any(item.variable for item in body),
                    )
                )
            elif nxt.isdigit():
                raise _PatternError("back-references (\\1..\\9) belong in the replacement")
            else:
                items.append(_Item(re.escape(nxt)))
            continue
        if ch in "*+?" and items and items[-1].quantifiable:
            target = items[-1]
            unbounded = ch != "?"
            if unbounded and target.variable:
                # (1?1?)* or (1*)* can split a number in exponentially many ways.
                raise _PatternError(
                    f"'{ch}' repeats something whose length varies "
                    "(matching could take exponential time)"
                )
            repeats += 1
            unbounded_repeats += unbounded
            if unbounded_repeats > MAX_UNBOUNDED_REPEATS or repeats > MAX_REPEATS:
                raise _PatternError(
                    f"too many repeats (at most {MAX_UNBOUNDED_REPEATS} '*'/'+' and "
                    f"{MAX_REPEATS} repeats in all)"
                )
            # Stacked repeats ("a?*") need a group: Python would read "+?" as a lazy quantifier.
            regex = f"(?:{target.regex}){ch}" if target.quantified else target.regex + ch
            items[-1] = _Item(regex, quantified=True, variable=True)
        elif ch == "^" and not items:
            # POSIX BRE: '^' anchors at the start of the pattern or of a group, else is literal.
            items.append(_Item("^", quantifiable=False))
        elif ch == "$" and (i + 1 == len(pattern) or pattern.startswith("\\)", i + 1)):
            items.append(_Item("$", quantifiable=False))
        elif ch == ".":
            items.append(_Item("."))
        elif ch == "[":
            regex, i = _bracket(pattern, i)
            items.append(_Item(regex))
            continue
        elif ch in "()":
            raise _PatternError(f"unescaped '{ch}': IOS groups with \\( and \\)")
        else:
            # Includes '*', '+', '?' with nothing to repeat: literal, as in POSIX BRE.
            items.append(_Item(re.escape(ch)))
        i += 1
    if len(stack) > 1:
        raise _PatternError("\\( without \\)")
    regex = "".join(item.regex for item in stack[0])
    try:
        return _CompiledMatch(re.compile(regex, re.DOTALL), groups)
    except re.error as exc:  # pragma: no cover - the translation above only emits valid syntax
        raise _PatternError(str(exc)) from None


_CLASS_SPECIALS: Final = frozenset("\\]^-[&~|")


def _bracket(pattern: str, start: int) -> tuple[str, int]:
    """Translate ``[...]`` at ``start``; return the Python class and the index after ``]``."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] == "^"
    if negate:
        i += 1
    members: list[str] = []
    first = True
    while True:
        if i >= len(pattern):
            raise _PatternError("'[' without ']'")
        ch = pattern[i]
        if ch == "]" and not first:
            i += 1
            break
        if ch == "\\" and i + 1 < len(pattern):
            i += 1
            ch = pattern[i]
        low = ch
        i += 1
        if i + 1 < len(pattern) and pattern[i] == "-" and pattern[i + 1] != "]":
            high = pattern[i + 1]
            if high < low:
                raise _PatternError(f"range {low}-{high} is backwards")
            members.append(f"{_class_char(low)}-{_class_char(high)}")
            i += 2
        else:
            members.append(_class_char(low))
        first = False
    return "[" + ("^" if negate else "") + "".join(members) + "]", i


def _class_char(ch: str) -> str:
    return "\\" + ch if ch in _CLASS_SPECIALS else ch


# A compiled replacement: literal text, or the number of a group to copy (0 = the whole match).
_Template = tuple[str | int, ...]


def _compile_replace(replace: str, groups: int) -> _Template:
    parts: list[str | int] = []
    literal: list[str] = []
    i = 0
    while i < len(replace):
        ch = replace[i]
        group: int | None = None
        if ch == "\\":
            if i + 1 >= len(replace):
                raise _PatternError("trailing backslash in the replacement")
            nxt = replace[i + 1]
            i += 2
            if nxt.isdigit():
                group = int(nxt)
                if group > groups:
                    raise _PatternError(
                        f"\\{group} refers to a group the match pattern does not have "
                        f"(it has {groups})"
                    )
            else:
                literal.append(nxt)
        elif ch == "&":
            group = 0
            i += 1
        else:
            literal.append(ch)
            i += 1
        if group is not None:
            if literal:
                parts.append("".join(literal))
                literal.clear()
            parts.append(group)
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _expand(template: _Template, match: re.Match[str]) -> str:
    return "".join(
        part if isinstance(part, str) else (match.group(part) or "") for part in template
    )


# --- rules --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TranslationRule:
    """One ``rule`` line.  ``replace`` is None exactly for reject rules."""

    precedence: int
    match: str
    replace: str | None
    type_match: TypeMatch | None = None
    type_replace: NumberType | None = None
    plan_match: PlanMatch | None = None
    plan_replace: NumberingPlan | None = None
    _compiled: _CompiledMatch = field(init=False, repr=False, compare=False)
    _template: _Template = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"rule {self.precedence}"
        if not 1 <= self.precedence <= MAX_PRECEDENCE:
            raise ConfigError(f"{where}: precedence must be 1-{MAX_PRECEDENCE}")
        if self.reject and (self.type_replace is not None or self.plan_replace is not None):
            raise ConfigError(f"{where}: a reject rule cannot change the number type or plan")
        if self.plan_match is not None and self.type_match is None:
            raise ConfigError(f"{where}: 'plan' must follow 'type' (IOS syntax)")
        if not self.reject and (self.type_match is None) != (self.type_replace is None):
            raise ConfigError(f"{where}: 'type' needs a match type and a replacement type")
        if not self.reject and (self.plan_match is None) != (self.plan_replace is None):
            raise ConfigError(f"{where}: 'plan' needs a match plan and a replacement plan")
        try:
            compiled = _compile_match(self.match)
            template = _compile_replace(self.replace or "", compiled.groups)
        except _PatternError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        object.__setattr__(self, "_compiled", compiled)
        object.__setattr__(self, "_template", template)

    @property
    def reject(self) -> bool:
        return self.replace is None

    @classmethod
    def parse(cls, line: str) -> TranslationRule:
        """Parse a rule exactly as IOS shows it in the running configuration."""
        return _RuleParser(line).parse()

    def __str__(self) -> str:
        head = f"rule {self.precedence}"
        if self.reject:
            text = f"{head} reject /{_slash(self.match)}/"
            if self.type_match is not None:
                text += f" type {self.type_match}"
                if self.plan_match is not None:
                    text += f" plan {self.plan_match}"
            return text
        text = f"{head} /{_slash(self.match)}/ /{_slash(self.replace or '')}/"
        if self.type_match is not None:
            text += f" type {self.type_match} {self.type_replace}"
            if self.plan_match is not None:
                text += f" plan {self.plan_match} {self.plan_replace}"
        return text

    def applies_to(self, number: PartyNumber) -> re.Match[str] | None:
        """The regex match when type, plan and pattern all match ``number``, else None."""
        if not _selector_matches(self.type_match, number.type):
            return None
        if not _selector_matches(self.plan_match, number.plan):
            return None
        if len(number.digits) > MAX_NUMBER_LENGTH:
            return None
        return self._compiled.regex.search(number.digits)

    def rewrite(self, number: PartyNumber, found: re.Match[str]) -> PartyNumber:
        """Apply this (non-reject) rule to ``number`` given its match."""
        digits = number.digits
        new_digits = (
            digits[: found.start()] + _expand(self._template, found) + digits[found.end() :]
        )
        return PartyNumber(
            new_digits,
            self.type_replace if self.type_replace is not None else number.type,
            self.plan_replace if self.plan_replace is not None else number.plan,
        )


def _slash(text: str) -> str:
    return text.replace("/", "\\/")


def _selector_matches(selector: str | None, value: str | None) -> bool:
    return selector is None or selector in (ANY, value)


_TYPE_NAMES: Final = {t.value: t for t in NumberType}
_PLAN_NAMES: Final = {p.value: p for p in NumberingPlan}


class _RuleParser:
    """A tiny scanner for one ``rule`` line; errors name the rule and what was expected."""

    __slots__ = ("_line", "_pos", "_where")

    def __init__(self, line: str) -> None:
        self._line = line.strip()
        self._pos = 0
        self._where = "rule"

    def parse(self) -> TranslationRule:
        if self._word() != "rule":
            raise self._error("expected 'rule <precedence> ...'")
        precedence_text = self._word()
        if not precedence_text.isdigit() or len(precedence_text) > 3:
            raise self._error(f"precedence must be a number, got {precedence_text!r}")
        precedence = int(precedence_text)
        self._where = f"rule {precedence}"
        reject = False
        self._skip_spaces()
        if not self._line.startswith("/", self._pos):
            word = self._word()
            if word != "reject":
                raise self._error(f"expected '/match/' or 'reject', got {word!r}")
            reject = True
        match = self._delimited("match pattern")
        replace = None if reject else self._delimited("replacement")
        type_match: TypeMatch | None = None
        type_replace: NumberType | None = None
        plan_match: PlanMatch | None = None
        plan_replace: NumberingPlan | None = None
        word = self._word()
        if word == "type":
            type_match = self._type_match(self._word())
            if not reject:
                type_replace = self._type(self._word())
            word = self._word()
        if word == "plan":
            if type_match is None:
                raise self._error("'plan' must follow 'type' (IOS syntax)")
            plan_match = self._plan_match(self._word())
            if not reject:
                plan_replace = self._plan(self._word())
            word = self._word()
        if word:
            raise self._error(f"unexpected {word!r}")
        try:
            return TranslationRule(
                precedence,
                match,
                replace,
                type_match,
                type_replace,
                plan_match,
                plan_replace,
            )
        except ConfigError as exc:
            raise ConfigError(f"{exc.message} (in '{self._line}')") from None

    def _error(self, message: str) -> ConfigError:
        return ConfigError(f"{self._where}: {message} (in '{self._line}')")

    def _skip_spaces(self) -> None:
        while self._pos < len(self._line) and self._line[self._pos].isspace():
            self._pos += 1

    def _word(self) -> str:
        self._skip_spaces()
        start = self._pos
        while self._pos < len(self._line) and not self._line[self._pos].isspace():
            self._pos += 1
        return self._line[start : self._pos]

    def _delimited(self, what: str) -> str:
        self._skip_spaces()
        if not self._line.startswith("/", self._pos):
            raise self._error(f"expected the {what} in slashes (/.../)")
        i = self._pos + 1
        while i < len(self._line):
            if self._line[i] == "\\":
                i += 2
                continue
            if self._line[i] == "/":
                text = self._line[self._pos + 1 : i]
                self._pos = i + 1
                return text.replace("\\/", "/")
            i += 1
        raise self._error(f"the {what} has no closing '/'")

    def _type_match(self, word: str) -> TypeMatch:
        return ANY if word == ANY else self._type(word, "any, ")

    def _type(self, word: str, also: str = "") -> NumberType:
        found = _TYPE_NAMES.get(word)
        if found is None:
            names = also + ", ".join(_TYPE_NAMES)
            raise self._error(f"unknown number type {word!r} (expected one of: {names})")
        return found

    def _plan_match(self, word: str) -> PlanMatch:
        return ANY if word == ANY else self._plan(word, "any, ")

    def _plan(self, word: str, also: str = "") -> NumberingPlan:
        found = _PLAN_NAMES.get(word)
        if found is None:
            names = also + ", ".join(_PLAN_NAMES)
            raise self._error(f"unknown numbering plan {word!r} (expected one of: {names})")
        return found


@dataclass(frozen=True, slots=True)
class TranslationOutcome:
    """What a rule set did to a number: the rule that matched (None: none did) and the result.

    ``blocked`` is True when that rule is a reject rule; ``number`` is then the input unchanged.
    """

    number: PartyNumber
    rule: int | None = None
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class TranslationRuleSet:
    """``voice translation-rule <number>`` with its rules, kept in precedence order."""

    number: int
    rules: tuple[TranslationRule, ...] = ()

    def __post_init__(self) -> None:
        where = f"voice translation-rule {self.number}"
        if not 1 <= self.number <= MAX_RULE_SET_NUMBER:
            raise ConfigError(f"{where}: the number must be 1-{MAX_RULE_SET_NUMBER}")
        seen: set[int] = set()
        for rule in self.rules:
            if rule.precedence in seen:
                raise ConfigError(f"{where}: rule {rule.precedence} is defined twice")
            seen.add(rule.precedence)
        object.__setattr__(self, "rules", tuple(sorted(self.rules, key=lambda r: r.precedence)))

    @classmethod
    def parse(cls, text: str) -> TranslationRuleSet:
        """Parse a ``voice translation-rule N`` block as ``show running-config`` prints it."""
        tables = TranslationTables.parse_config(text)
        if len(tables.rule_sets) != 1 or tables.profiles:
            raise ConfigError("expected exactly one 'voice translation-rule' block")
        return next(iter(tables.rule_sets.values()))

    def __str__(self) -> str:
        return "\n".join([f"voice translation-rule {self.number}"] + [f" {r}" for r in self.rules])

    def translate(self, number: PartyNumber) -> TranslationOutcome:
        """Apply the first rule (by precedence) that matches ``number``."""
        for rule in self.rules:
            found = rule.applies_to(number)
            if found is None:
                continue
            if rule.reject:
                return TranslationOutcome(number, rule.precedence, blocked=True)
            return TranslationOutcome(rule.rewrite(number, found), rule.precedence)
        return TranslationOutcome(number)

    def test_output(
        self,
        digits: str,
        number_type: TypeMatch | None = None,
        plan: PlanMatch | None = None,
    ) -> str:
        """What IOS prints for ``test voice translation-rule <n> <digits> [type T [plan P]]``.

        ``any`` as the test type or plan means "not signalled" (IOS prints it as ``none``).
        """
        original = PartyNumber(
            digits,
            None if number_type in (None, ANY) else NumberType(number_type),
            None if plan in (None, ANY) else NumberingPlan(plan),
        )
        outcome = self.translate(original)
        if outcome.rule is None:
            return f"{digits} Didn't match with any of rules"
        if outcome.blocked:
            return f"blocked on rule {outcome.rule}"
        result = outcome.number
        # IOS separates the columns with a tab.
        return "\n".join(
            [
                f"Matched with rule {outcome.rule}",
                f"Original number: {digits}\tTranslated number: {result.digits}",
                f"Original number type: {original.type or 'none'}\t"
                f"Translated number type: {result.type or 'none'}",
                f"Original number plan: {original.plan or 'none'}\t"
                f"Translated number plan: {result.plan or 'none'}",
            ]
        )


# --- profiles -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TranslationProfile:
    """``voice translation-profile <name>``: a rule set for each kind of number (None: keep)."""

    name: str
    called: int | None = None
    calling: int | None = None
    redirect_called: int | None = None

    def __post_init__(self) -> None:
        name = self.name
        if not name or len(name) > MAX_PROFILE_NAME or any(c.isspace() for c in name):
            raise ConfigError(
                f"voice translation-profile {self.name!r}: the name must be 1-{MAX_PROFILE_NAME} "
                "characters without spaces"
            )

    def rule_for(self, which: NumberField) -> int | None:
        if which == "called":
            return self.called
        if which == "calling":
            return self.calling
        return self.redirect_called

    def __str__(self) -> str:
        lines = [f"voice translation-profile {self.name}"]
        for which in _FIELDS:
            rule = self.rule_for(which)
            if rule is not None:
                lines.append(f" translate {which} {rule}")
        return "\n".join(lines)


_FIELDS: Final[tuple[NumberField, ...]] = ("called", "calling", "redirect-called")


@dataclass(frozen=True, slots=True)
class Blocked:
    """A reject rule stopped the call: which number, which rule set, which rule."""

    field: NumberField
    rule_set: int
    rule: int


@dataclass(frozen=True, slots=True)
class ProfileOutcome:
    numbers: CallNumbers
    blocked: Blocked | None = None


class TranslationTables:
    """All configured rule sets and profiles; checks that every profile's rule sets exist."""

    __slots__ = ("_profiles", "_rule_sets")

    def __init__(
        self,
        rule_sets: Iterable[TranslationRuleSet] = (),
        profiles: Iterable[TranslationProfile] = (),
    ) -> None:
        self._rule_sets: dict[int, TranslationRuleSet] = {}
        for rule_set in rule_sets:
            if rule_set.number in self._rule_sets:
                raise ConfigError(f"voice translation-rule {rule_set.number} is defined twice")
            self._rule_sets[rule_set.number] = rule_set
        self._profiles: dict[str, TranslationProfile] = {}
        for profile in profiles:
            if profile.name in self._profiles:
                raise ConfigError(f"voice translation-profile {profile.name} is defined twice")
            _check_references(profile, self._rule_sets)
            self._profiles[profile.name] = profile

    @property
    def rule_sets(self) -> Mapping[int, TranslationRuleSet]:
        return dict(self._rule_sets)

    @property
    def profiles(self) -> Mapping[str, TranslationProfile]:
        return dict(self._profiles)

    def has_profile(self, name: str) -> bool:
        return name in self._profiles

    def rule_set(self, number: int) -> TranslationRuleSet:
        try:
            return self._rule_sets[number]
        except KeyError:
            raise LocalProtocolError(f"there is no voice translation-rule {number}") from None

    def apply(self, profile_name: str | None, numbers: CallNumbers) -> ProfileOutcome:
        """Translate ``numbers`` with the named profile (None: unchanged)."""
        if profile_name is None:
            return ProfileOutcome(numbers)
        profile = self._profiles.get(profile_name)
        if profile is None:
            raise LocalProtocolError(f"there is no voice translation-profile {profile_name}")
        called, calling, redirect = numbers.called, numbers.calling, numbers.redirect_called
        for which in _FIELDS:
            rule_set_number = profile.rule_for(which)
            number = numbers.get(which)
            if rule_set_number is None or number is None:
                continue
            outcome = self._rule_sets[rule_set_number].translate(number)
            if outcome.blocked:
                assert outcome.rule is not None
                return ProfileOutcome(numbers, Blocked(which, rule_set_number, outcome.rule))
            if which == "called":
                called = outcome.number
            elif which == "calling":
                calling = outcome.number
            else:
                redirect = outcome.number
        return ProfileOutcome(CallNumbers(called, calling, redirect))

    @classmethod
    def parse_config(cls, text: str) -> TranslationTables:
        """Parse IOS configuration text holding translation-rule and -profile blocks.

        Blank lines and ``!`` comments are skipped; other top-level lines are an error.  Errors
        carry the line number.
        """
        rule_sets: dict[int, TranslationRuleSet] = {}
        profiles: dict[str, TranslationProfile] = {}
        for header, header_line, body in _blocks(text):
            words = header.split()
            try:
                if words[:2] == ["voice", "translation-rule"] and len(words) == 3:
                    rule_set = _parse_rule_set(words[2], body)
                    if rule_set.number in rule_sets:
                        raise ConfigError(
                            f"voice translation-rule {rule_set.number} is defined twice"
                        )
                    rule_sets[rule_set.number] = rule_set
                elif words[:2] == ["voice", "translation-profile"] and len(words) == 3:
                    profile = _parse_profile(words[2], body)
                    if profile.name in profiles:
                        raise ConfigError(
                            f"voice translation-profile {profile.name} is defined twice"
                        )
                    _check_references(profile, rule_sets)
                    profiles[profile.name] = profile
                else:
                    raise ConfigError(f"unexpected line {header!r}", line=header_line)
            except ConfigError as exc:
                if exc.line is not None:
                    raise
                raise ConfigError(exc.message, line=header_line) from None
        return cls(rule_sets.values(), profiles.values())


def _check_references(profile: TranslationProfile, rule_sets: Mapping[int, object]) -> None:
    for which in _FIELDS:
        number = profile.rule_for(which)
        if number is not None and number not in rule_sets:
            raise ConfigError(
                f"voice translation-profile {profile.name}: translate {which} {number}: "
                f"there is no voice translation-rule {number}"
            )


def _blocks(text: str) -> Iterator[tuple[str, int, list[tuple[int, str]]]]:
    header: tuple[str, int] | None = None
    body: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("!"):
            continue
        if raw[0].isspace():
            if header is None:
                raise ConfigError(f"indented line {stripped!r} outside a block", line=number)
            body.append((number, stripped))
            continue
        if header is not None:
            yield header[0], header[1], body
        header, body = (stripped, number), []
    if header is not None:
        yield header[0], header[1], body


def _parse_rule_set(number_text: str, body: list[tuple[int, str]]) -> TranslationRuleSet:
    if not number_text.isdigit() or len(number_text) > 10:
        raise ConfigError(f"voice translation-rule {number_text!r}: the number must be numeric")
    number = int(number_text)
    rules: list[TranslationRule] = []
    for line_number, line in body:
        try:
            rules.append(TranslationRule.parse(line))
        except ConfigError as exc:
            raise ConfigError(
                f"voice translation-rule {number}: {exc.message}", line=line_number
            ) from None
    return TranslationRuleSet(number, tuple(rules))


def _parse_profile(name: str, body: list[tuple[int, str]]) -> TranslationProfile:
    chosen: dict[str, int] = {}
    for line_number, line in body:
        words = line.split()
        if (
            len(words) != 3
            or words[0] != "translate"
            or words[1] not in _FIELDS
            or not words[2].isdigit()
            or len(words[2]) > 10
        ):
            raise ConfigError(
                f"voice translation-profile {name}: expected "
                f"'translate called|calling|redirect-called <rule>', got {line!r}",
                line=line_number,
            )
        chosen[words[1]] = int(words[2])
    return TranslationProfile(
        name, chosen.get("called"), chosen.get("calling"), chosen.get("redirect-called")
    )
