"""Voice translation rules: Cisco's documented examples (documents 61083 and 64020) with the
output IOS prints, the regex dialect's edge cases, profiles, config parsing and hostile input."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.calls.translation import (
    MAX_NUMBER_LENGTH,
    Blocked,
    CallNumbers,
    NumberingPlan,
    NumberType,
    PartyNumber,
    TranslationProfile,
    TranslationRule,
    TranslationRuleSet,
    TranslationTables,
)
from gateway.errors import ConfigError, LocalProtocolError


def rule_set(number: int, *lines: str) -> TranslationRuleSet:
    return TranslationRuleSet(number, tuple(TranslationRule.parse(line) for line in lines))


def translated(rules: TranslationRuleSet, digits: str) -> str | None:
    """The translated digits, or None when no rule matched."""
    outcome = rules.translate(PartyNumber(digits))
    return None if outcome.rule is None else outcome.number.digits


# --- Cisco document 61083, "Determine Voice Translation Rules" ------------------------------------


def test_simple_match_replaces_the_first_occurrence_with_ios_output() -> None:
    rules = rule_set(1, "rule 1 /123/ /456/")
    assert rules.test_output("123").splitlines()[:2] == [
        "Matched with rule 1",
        "Original number: 123\tTranslated number: 456",
    ]
    assert translated(rules, "1234") == "4564"
    assert translated(rules, "6123") == "6456"
    assert rules.test_output("6123123") == (
        "Matched with rule 1\n"
        "Original number: 6123123\tTranslated number: 6456123\n"
        "Original number type: none\tTranslated number type: none\n"
        "Original number plan: none\tTranslated number plan: none"
    )


def test_start_and_end_anchors() -> None:
    start = rule_set(1, "rule 1 /^123/ /456/")
    assert translated(start, "1234") == "4564"
    assert start.test_output("6123") == "6123 Didn't match with any of rules"
    exact = rule_set(1, "rule 1 /^123$/ /456/")
    assert translated(exact, "123") == "456"
    assert exact.test_output("1234") == "1234 Didn't match with any of rules"
    assert translated(exact, "6123") is None


def test_wildcards() -> None:
    assert translated(rule_set(1, "rule 1 /^40.../ /6666000/"), "40123") == "6666000"
    anything = rule_set(2, "rule 1 /.*/ /5554000/")
    assert translated(anything, "86573") == "5554000"
    assert (
        anything.test_output("").splitlines()[1] == "Original number: \tTranslated number: 5554000"
    )
    not_null = rule_set(2, "rule 1 /.+/ /5554000/")
    assert translated(not_null, "123") == "5554000"
    assert not_null.test_output("") == " Didn't match with any of rules"
    zeros = rule_set(5, "rule 1 /^0+/ /909/")
    assert [translated(zeros, n) for n in ("0123456", "00123456", "000123456", "123456")] == [
        "909123456",
        "909123456",
        "909123456",
        None,
    ]


def test_number_slices() -> None:
    assert translated(rule_set(1, r"rule 1 /^\(12\)3\(45\)$/ /6\1\2/"), "12345") == "61245"
    last_two = rule_set(9, r"rule 1 /^.*\(..\)/ /\1/")
    assert translated(last_two, "12345") == "45"
    assert translated(last_two, "123456") == "56"
    two_sets = rule_set(333, r"rule 1 /000\(111\)000\(222\)/ /\1\2/")
    assert translated(two_sets, "000111000222") == "111222"
    strip_9 = rule_set(9, r"rule 1 /^9\(.*\)/ /\1/")
    assert translated(strip_9, "918675309") == "18675309"


def test_number_type_selects_the_rule() -> None:
    rules = rule_set(
        7,
        "rule 1 /^4/ /904/ type national national",
        "rule 2 /^4/ /9004/ type international international",
    )
    assert rules.test_output("493456567", "national") == (
        "Matched with rule 1\n"
        "Original number: 493456567\tTranslated number: 90493456567\n"
        "Original number type: national\tTranslated number type: national\n"
        "Original number plan: none\tTranslated number plan: none"
    )
    assert rules.test_output("493456567", "international").splitlines()[:3] == [
        "Matched with rule 2",
        "Original number: 493456567\tTranslated number: 900493456567",
        "Original number type: international\tTranslated number type: international",
    ]
    # No type signalled: neither rule applies.
    assert translated(rules, "493456567") is None


def test_type_and_plan_are_rewritten() -> None:
    rules = rule_set(8, r"rule 1 /^2\(...$\)/ /01779345\1/ type unknown national plan unknown isdn")
    assert rules.test_output("2001", "unknown", "unknown") == (
        "Matched with rule 1\n"
        "Original number: 2001\tTranslated number: 01779345001\n"
        "Original number type: unknown\tTranslated number type: national\n"
        "Original number plan: unknown\tTranslated number plan: isdn"
    )
    assert translated(rules, "20011") is None  # '$' inside the group still anchors the end


def test_reject_rules_block() -> None:
    rules = rule_set(10, "rule 1 reject /^234/")
    assert rules.test_output("1234") == "1234 Didn't match with any of rules"
    assert rules.test_output("2345") == "blocked on rule 1"
    outcome = rules.translate(PartyNumber("2345"))
    assert outcome.blocked and outcome.rule == 1 and outcome.number.digits == "2345"


def test_removing_hyphens_with_escapes_and_optional_digit() -> None:
    rules = rule_set(
        12,
        r"rule 1 /^\(01...\)\-\(......?$\)/ /\1\2/",
        r"rule 2 /^\(0[12]..\)\-\(...\)\-\(....$\)/ /\1\2\3/",
    )
    assert rules.test_output("01208-333444").startswith("Matched with rule 1\n")
    assert translated(rules, "01208-333444") == "01208333444"
    assert translated(rules, "01208-72345") == "0120872345"
    assert rules.test_output("0161-333-4444").startswith("Matched with rule 2\n")
    assert translated(rules, "0161-333-4444") == "01613334444"
    assert translated(rules, "0208-123-4567") == "02081234567"


# --- Cisco document 64020, table of match/replace examples ------------------------------------


@pytest.mark.parametrize(
    ("line", "dialled", "expected"),
    [
        (r"rule 1 /^.*/ //", "9195551212", ""),
        ("rule 1 // //", "9195551212", "9195551212"),
        (r"rule 1 /^392\(.*\)/ /555\1/", "3921212", "5551212"),
        (r"rule 1 /^\(555\)\(....\)/ /444\2/", "5551212", "4441212"),
        (r"rule 1 /^555\(....\)/ /444\1/", "5551212", "4441212"),
        (r"rule 1 /\(^...\)555\(....\)/ /\1444\2/", "9195551212", "9194441212"),
        (r"rule 1 /\(^...\)\(555\)\(....\)/ /\1444\3/", "9195551212", "9194441212"),
        (r"rule 1 /\(.*\)1212$/ /\13434/", "9195551212", "9195553434"),
        (r"rule 1 /\(.*\)1212$/ /\13434/", "555121212", "555123434"),
        (r"rule 1 /\(.*\)1212/ /\13434/", "555121212", "555123434"),
        ("rule 1 /444/ /555/", "4441212", "5551212"),
        ("rule 1 /444/ /555/", "44441212", "55541212"),
        ("rule 1 /444/ /555/", "44414441212", "55514441212"),
        # Cisco's table prints 93245 for 32345, a typo: only the first digit is replaced.
        ("rule 1 /^[135]/ /9/", "32345", "92345"),
        ("rule 1 /^[135]/ /9/", "22345", None),
        ("rule 1 /^[1-35]/ /9/", "2345", "9345"),
        ("rule 1 /^[1-35]/ /9/", "4567", None),
        ("rule 1 /^[^1-35]/ /9/", "4567", "9567"),
        ("rule 1 /^[^1-35]/ /9/", "8456", "9456"),
        ("rule 1 /^[^1-35]/ /9/", "1234", None),
        ("rule 1 /^1#/ //", "1#456", "456"),
        (r"rule 1 /^1\#\(.*\)/ /\1/", "1#456", "456"),
        (r"rule 1 /^1\*/ //", "1*456", "456"),
        (r"rule 1 /^1\*\(.*\)/ /\1/", "1*456", "456"),
        ("rule 1 /^5+/ /9/", "5888", "9888"),
        ("rule 1 /^5+/ /9/", "555888", "9888"),
        ("rule 1 /^5+/ /9/", "5588855", "988855"),
        (r"rule 1 /^\(555\)+\(.*\)/ /444\2/", "5551212", "4441212"),
        (r"rule 1 /^\(555\)+\(.*\)/ /444\2/", "555551212", "444551212"),
        (r"rule 1 /^\(555\)+\(.*\)/ /444\2/", "5555551212", "4441212"),
        (r"rule 1 /^\(555\)+\(.*\)/ /444\2/", "5551212555", "4441212555"),
        (r"rule 1 /^9?1?\(919\)/ /\1/", "9195551212", "9195551212"),
        (r"rule 1 /^9?1?\(919\)/ /\1/", "19195551212", "9195551212"),
        (r"rule 1 /^9?1?\(919\)/ /\1/", "919195551212", "9195551212"),
        (r"rule 1 /^9?1?\(919\)/ /\1/", "99195551212", "9195551212"),
        ("rule 1 /1234/ /00&00/", "5551234", "55500123400"),
        (r"rule 1 /1234/ /00\000/", "5551234", "55500123400"),
    ],
)
def test_cisco_64020_examples(line: str, dialled: str, expected: str | None) -> None:
    assert translated(rule_set(1, line), dialled) == expected


# --- dialect edge cases -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "dialled", "expected"),
    [
        ("rule 1 /^$/ /5000/", "", "5000"),  # ^$ is the empty number
        ("rule 1 /^$/ /5000/", "1", None),
        ("rule 1 /9*/ /X/", "123", "X123"),  # an empty match at the start still matches
        ("rule 1 /1^2/ /X/", "71^2", "7X"),  # '^' in the middle is literal (POSIX BRE)
        ("rule 1 /1$2/ /X/", "1$2", "X"),  # '$' in the middle is literal
        ("rule 1 /^*1/ /X/", "*12", "X2"),  # '*' after '^' has nothing to repeat: literal
        (r"rule 1 /^\+1/ /011/", "+12125551234", "0112125551234"),
        ("rule 1 /+1/ /011/", "+1212", "011212"),  # leading '+': nothing to repeat, literal
        ("rule 1 /^5+?1/ /X/", "5551", "X"),  # stacked repeat: (5+)? , never lazy
        ("rule 1 /^5+?1/ /X/", "12", "X2"),
        (r"rule 1 /^\(1\)?\(2\)/ /[\1]/", "2", "[]"),  # an unmatched group copies nothing
        (r"rule 1 /^\(1\)?\(2\)/ /\2\1/", "12", "21"),
        (r"rule 1 /\// /-/", "1/2", "1-2"),  # escaped delimiter
        (r"rule 1 /[]1]/ /X/", "]", "X"),  # ']' first in a list is literal
        ("rule 1 /[0-]/ /X/", "-", "X"),  # '-' last is literal
        (r"rule 1 /a\&b/ /\&/", "a&b", "&"),  # escaped & is literal on both sides
        ("rule 1 /[^0-9]/ //", "12A3", "123"),
    ],
)
def test_dialect_edge_cases(line: str, dialled: str, expected: str | None) -> None:
    assert translated(rule_set(1, line), dialled) == expected


def test_first_matching_rule_wins_by_precedence_not_by_order() -> None:
    rules = TranslationRuleSet(
        4,
        (
            TranslationRule.parse("rule 5 /^9/ /B/"),
            TranslationRule.parse("rule 2 /^9/ /A/"),
            TranslationRule.parse("rule 9 reject /^8/"),
        ),
    )
    assert [r.precedence for r in rules.rules] == [2, 5, 9]
    assert translated(rules, "91") == "A1"
    assert rules.translate(PartyNumber("81")).blocked


def test_type_any_and_plan_matching() -> None:
    rules = rule_set(
        3,
        "rule 1 /^0/ // type national national",
        "rule 2 // // type any international plan isdn private",
    )
    national = rules.translate(PartyNumber("0301234", NumberType.NATIONAL))
    assert national.number == PartyNumber("301234", NumberType.NATIONAL)
    promoted = rules.translate(PartyNumber("491234", None, NumberingPlan.ISDN))
    assert promoted.rule == 2
    assert promoted.number == PartyNumber("491234", NumberType.INTERNATIONAL, NumberingPlan.PRIVATE)
    assert rules.translate(PartyNumber("491234", None, NumberingPlan.PRIVATE)).rule is None


@pytest.mark.parametrize(
    "line",
    [
        "rule 1 /123/ /456/",
        "rule 10 reject /^234/",
        "rule 3 /^4/ /904/ type national national",
        r"rule 4 /^2\(...$\)/ /01779345\1/ type unknown national plan unknown isdn",
        "rule 5 reject /^1/ type any plan isdn",
        r"rule 6 /\// /-/",
    ],
)
def test_rule_text_round_trips(line: str) -> None:
    rule = TranslationRule.parse(line)
    assert str(rule) == line
    assert TranslationRule.parse(str(rule)) == rule


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("rule 1 /a/", "replacement"),
        ("rule 1 /a/ /b", "no closing"),
        ("rule 1 a /b/", "'a'"),
        ("rule x /a/ /b/", "precedence"),
        ("rule 0 /a/ /b/", "1-100"),
        ("rule 101 /a/ /b/", "1-100"),
        ("rules 1 /a/ /b/", "expected 'rule"),
        (r"rule 2 /\(1\)/ /\2/", "\\2 refers to a group"),
        (r"rule 2 /1/ /\1/", "it has 0"),
        ("rule 2 /(12)/ /3/", "unescaped '('"),
        (r"rule 2 /\(1/ /3/", "without \\)"),
        (r"rule 2 /1\)/ /3/", "without \\("),
        ("rule 2 /[12/ /3/", "without ']'"),
        ("rule 2 /[9-1]/ /3/", "backwards"),
        ("rule 2 /12\\/ /3/", "expected the replacement"),
        (r"rule 2 /1\1/ /3/", "back-references"),
        (r"rule 2 /\(.*\)*/ /3/", "length varies"),
        (r"rule 2 /\(1+\)+/ /3/", "length varies"),
        (r"rule 2 /\(1?1?\)*/ /3/", "length varies"),
        (r"rule 2 /\(1\(2?\)\)+/ /3/", "length varies"),
        ("rule 2 /1?*/ /3/", "length varies"),
        ("rule 2 /1**/ /3/", "length varies"),
        ("rule 2 /1*2*3*4*/ /3/", "too many repeats"),
        ("rule 2 /1?2?3?4?5?6?7?/ /3/", "too many repeats"),
        (r"rule 2 /\(\(\(\(\(\(\(\(\(\(1\)\)\)\)\)\)\)\)\)\)/ /3/", "more than 9"),
        ("rule 2 /1/ /2/ type national", "unknown number type ''"),
        ("rule 2 /1/ /2/ type nationwide national", "unknown number type 'nationwide'"),
        ("rule 2 /1/ /2/ type national any", "unknown number type 'any'"),
        ("rule 2 /1/ /2/ plan isdn isdn", "'plan' must follow 'type'"),
        ("rule 2 /1/ /2/ type any national plan isdn", "unknown numbering plan ''"),
        ("rule 2 reject /1/ type any national", "unexpected 'national'"),
        ("rule 2 /1/ /2/ extra", "unexpected 'extra'"),
    ],
)
def test_bad_rules_say_which_rule_and_what(line: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TranslationRule.parse(line)
    message = caught.value.message
    assert says in message
    assert line.strip() in message


def test_rule_set_validation() -> None:
    with pytest.raises(ConfigError, match="rule 1 is defined twice"):
        rule_set(1, "rule 1 /1/ /2/", "rule 1 /3/ /4/")
    with pytest.raises(ConfigError, match="1-2147483647"):
        TranslationRuleSet(0)
    with pytest.raises(ConfigError, match="cannot change"):
        TranslationRule(1, "1", None, type_match="any", type_replace=NumberType.NATIONAL)


# --- profiles and configuration text ------------------------------------------------------------

CONFIG = r"""
!
voice translation-rule 1
 rule 1 /^9\(.*\)/ /\1/
!
voice translation-rule 2
 rule 1 /^\(....\)$/ /555\1/ type any subscriber
 rule 2 reject /^666/
voice translation-rule 3
 rule 1 /.*/ /5550000/
!
voice translation-profile OUT
 translate called 1
 translate calling 2
 translate redirect-called 3
voice translation-profile ONLY-CALLED
 translate called 1
"""


def test_parse_config_and_apply_a_profile() -> None:
    tables = TranslationTables.parse_config(CONFIG)
    assert sorted(tables.rule_sets) == [1, 2, 3]
    assert tables.profiles["OUT"] == TranslationProfile("OUT", 1, 2, 3)
    numbers = CallNumbers(PartyNumber("95551234"), PartyNumber("1000"), PartyNumber("2000"))
    outcome = tables.apply("OUT", numbers)
    assert outcome.blocked is None
    assert outcome.numbers == CallNumbers(
        PartyNumber("5551234"),
        PartyNumber("5551000", NumberType.SUBSCRIBER),
        PartyNumber("5550000"),
    )
    blocked = tables.apply("OUT", CallNumbers(PartyNumber("91"), PartyNumber("66612")))
    assert blocked.blocked == Blocked("calling", 2, 2)
    assert blocked.numbers.called.digits == "91"  # a blocked call keeps its numbers
    # A profile without a calling rule leaves the calling number alone; None means no profile.
    only = tables.apply("ONLY-CALLED", CallNumbers(PartyNumber("91"), PartyNumber("66612")))
    assert only.numbers == CallNumbers(PartyNumber("1"), PartyNumber("66612"))
    assert tables.apply(None, numbers).numbers is numbers
    with pytest.raises(LocalProtocolError):
        tables.apply("MISSING", numbers)
    # Printing gives back the configuration.
    assert str(tables.rule_sets[2]) == (
        "voice translation-rule 2\n"
        " rule 1 /^\\(....\\)$/ /555\\1/ type any subscriber\n"
        " rule 2 reject /^666/"
    )
    assert str(tables.profiles["OUT"]) == (
        "voice translation-profile OUT\n translate called 1\n translate calling 2\n"
        " translate redirect-called 3"
    )
    assert TranslationRuleSet.parse(str(tables.rule_sets[2])) == tables.rule_sets[2]


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("voice translation-rule 1\n rule 1 /(/ /2/\n", 2, "voice translation-rule 1: rule 1"),
        ("voice translation-rule 1\n rule 1 /1/ /2/\n rule 2 /3/\n", 3, "rule 2"),
        ("voice translation-rule x\n", 1, "must be numeric"),
        ("voice translation-profile P\n translate callee 1\n", 2, "translate called"),
        ("voice translation-profile P\n translate called 7\n", 1, "no voice translation-rule 7"),
        (" rule 1 /1/ /2/\n", 1, "outside a block"),
        ("dial-peer voice 1 pots\n", 1, "unexpected line"),
        ("voice translation-rule 1\nvoice translation-rule 1\n", 2, "defined twice"),
        ("voice translation-profile " + "P" * 32 + "\n", 1, "1-31 characters"),
    ],
)
def test_config_errors_carry_line_numbers(text: str, line: int | None, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TranslationTables.parse_config(text)
    assert says in caught.value.message
    assert caught.value.line == line


# --- hostile input --------------------------------------------------------------------------------


def test_worst_allowed_pattern_on_hostile_numbers_is_fast() -> None:
    rules = rule_set(
        1,
        r"rule 1 /\(.*\)\(.*\)\(.*\)1?2?3?x/ /y/",
        r"rule 2 /.*.*.*9$/ /y/",
    )
    start = time.perf_counter()
    for digits in ("0" * MAX_NUMBER_LENGTH, "1" * MAX_NUMBER_LENGTH, "123" * 21):
        assert rules.translate(PartyNumber(digits)).rule is None
    assert time.perf_counter() - start < 2.0


def test_numbers_longer_than_the_limit_never_match() -> None:
    rules = rule_set(1, "rule 1 /.*/ /X/")
    assert translated(rules, "1" * MAX_NUMBER_LENGTH) == "X"
    assert translated(rules, "1" * (MAX_NUMBER_LENGTH + 1)) is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789*#+-ABCD", max_size=40))
def test_identity_and_strip_rules_on_arbitrary_numbers(digits: str) -> None:
    identity = rule_set(1, r"rule 1 /^\(.*\)$/ /\1/")
    assert translated(identity, digits) == digits
    strip = rule_set(2, r"rule 1 /^9\(.*\)/ /\1/")
    expected = digits[1:] if digits.startswith("9") else None
    assert translated(strip, digits) == expected
