"""Dial-peers: IOS pattern examples from Cisco documentation, a differential test of the
automaton against a reference regex, peer attributes, hunting order and inbound matching."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.calls.dialpeer import (
    DEFAULT_POTS_PEER,
    DEFAULT_VOIP_PEER,
    DialPlan,
    DtmfRelay,
    IosCodec,
    NumberPattern,
    PatternMatch,
    PotsDialPeer,
    SessionTarget,
    VoipDialPeer,
    should_hunt,
)
from gateway.calls.translation import (
    CallNumbers,
    NumberType,
    PartyNumber,
    TranslationTables,
)
from gateway.errors import ConfigError, LocalProtocolError


def pattern(text: str) -> NumberPattern:
    return NumberPattern.parse(text)


def matches(text: str, number: str) -> bool:
    return pattern(text).match(number) is not None


def full(text: str, number: str) -> bool:
    """The pattern matches the whole number (no extra digits)."""
    found = pattern(text).match(number)
    return found is not None and found.extra == ""


def call(called: str, calling: str = "1000") -> CallNumbers:
    return CallNumbers(PartyNumber(called), PartyNumber(calling))


def voip(tag: int, dest: str | None = None, **kwargs: object) -> VoipDialPeer:
    return VoipDialPeer(tag, destination_pattern=pattern(dest) if dest else None, **kwargs)  # type: ignore[arg-type]


def pots(tag: int, dest: str | None = None, **kwargs: object) -> PotsDialPeer:
    return PotsDialPeer(tag, destination_pattern=pattern(dest) if dest else None, **kwargs)  # type: ignore[arg-type]


# --- patterns: Cisco documentation examples -----------------------------------------------------


def test_command_reference_examples() -> None:
    # destination-pattern 555(43)+ : "43" one or more times after 555.
    assert full("555(43)+", "55543") and full("555(43)+", "5554343")
    assert not matches("555(43)+", "555") and not matches("555(43)+", "5554")
    # destination-pattern 555% : the preceding digit zero or more times.
    assert full("555%", "55") and full("555%", "555") and full("555%", "55555")
    assert not matches("555%", "5")
    # 55501[0-9]9 : 5550109 through 5550199.
    assert all(full("55501[0-9]9", f"55501{d}9") for d in "0123456789")
    assert not matches("55501[0-9]9", "5550100")
    # 555[03579]439
    candidates = ("5550439", "5551439", "5553439", "5555439", "5557439", "5559439")
    hits = [n for n in candidates if matches("555[03579]439", n)]
    assert hits == ["5550439", "5553439", "5555439", "5557439", "5559439"]
    # 555T: any further digits.
    assert full("555T", "5550179") and full("555T", "555")
    # +5550179: an E.164 number, the plus is matched.
    assert full("+5550179", "+5550179") and not matches("+5550179", "5550179")


def test_wildcard_table_examples() -> None:
    assert all(full("20..", f"20{n:02d}") for n in range(100))
    assert full("5+23", "523") and full("5+23", "5523") and full("5+23", "555523")
    assert [n for n in ("122", "222", "322", "422") if matches("[1-3]22", n)] == [
        "122",
        "222",
        "322",
    ]
    assert [n for n in ("022", "122", "422", "922", "*22") if matches("[^1-3]22", n)] == [
        "022", "422", "922", "*22",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        (".T", True), ("33T", True), ("....", True), ("333.", True), ("3+[123]", True),
        ("333[^49]", True), ("333(123)", False),
    ],
)  # fmt: skip
def test_which_patterns_match_3331_3332_3333(text: str, hit: bool) -> None:
    assert all(full(text, n) is hit for n in ("3331", "3332", "3333"))


def test_grouped_repeats_and_brackets() -> None:
    assert full("333(123)", "333123")
    assert all(full("333(123)%", n) for n in ("333", "333123", "333123123"))
    assert [n for n in ("1777", "3777", "5777") if matches("[13]777", n)] == ["1777", "3777"]
    allowed = [n for n in "0123456789" if matches("[^01479]777", n + "777")]
    assert allowed == ["2", "3", "5", "6", "8"]
    assert full(".777", "1777") and full(".777", "*777")
    assert full("9,1T", "915551234")  # a pause is not a digit
    assert full("1(2(34)?)+5", "12342345") and full("1(2(34)?)+5", "1225")
    assert not matches("1(2(34)?)+5", "15")
    assert full("\\#1", "#1") and full("*67T", "*675551234")
    assert full("[a]bC", "ABC") and full("AbC", "aBc")  # keypad letters fold


def test_prefix_matching_extra_digits_and_anchors() -> None:
    assert pattern("555....").match("55512345") == PatternMatch("5551234", "5")
    assert pattern("555").match("5550124") == PatternMatch("555", "0124")
    assert pattern("555....$").match("55512345") is None
    assert pattern("^555....$").match("5551234") == PatternMatch("5551234", "")
    assert pattern("T").match("") == PatternMatch("", "")
    assert pattern(".T").match("") is None
    assert pattern("9T").match("95551234#") == PatternMatch("95551234#", "")
    # Greedy: the longest matching prefix.
    assert pattern("55%").match("55551") == PatternMatch("5555", "1")


def test_static_pattern_properties() -> None:
    p = pattern("+1[2-9]..[2-9]......")
    assert p.e164 and not p.anchored_end and not p.variable_length
    assert p.explicit_prefix == "+1"
    assert p.specificity.explicit_digits == 2
    assert p.specificity.minimum_length == 12
    assert pattern("9T").explicit_prefix == "9" and pattern("9T").variable_length
    assert pattern("[5]55").explicit_prefix == "555"  # a one-digit range is explicit
    assert pattern("5+5").explicit_prefix == ""
    assert str(pattern("^555....$")) == "^555....$"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "non-empty"),
        (" 555", "without spaces"),
        ("55T5", "'T' is only allowed at the end"),
        ("5^5", "'^' is only allowed at the start"),
        ("5$5", "'$' is only allowed at the end"),
        ("555$T", "contradict"),
        ("[", "'[' without ']'"),
        ("[]", "invalid character ']'"),
        ("[9-1]", "ascending digit range"),
        ("[1-A]", "ascending digit range"),
        ("[x]", "invalid character 'X'"),
        ("[^0-9*#ABCD]", "matches nothing"),
        ("(55", "'(' without ')'"),
        ("55)", "')' without '('"),
        ("5()", "empty group"),
        ("?5", "nothing to repeat"),
        ("5?%", "nothing to repeat"),
        ("x12", "invalid character 'x'"),
        ("12\\", "backslash"),
        ("^", "no digits"),
        ("$", "no digits"),
    ],
)
def test_bad_patterns(text: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        NumberPattern.parse(text)
    assert says in caught.value.message
    assert repr(text) in caught.value.message


# Reference semantics: an IOS pattern as a Python regex, longest matching prefix by brute force.
_REF_ATOMS = {".": "[0-9*#ABCD]", "%": "*", "T": "[0-9*#ABCD]*"}


def _reference(text: str) -> re.Pattern[str]:
    out = "".join(
        _REF_ATOMS.get(c, "\\+" if c == "+" and i == 0 else c) for i, c in enumerate(text)
    )
    return re.compile(out)


def _reference_match(text: str, number: str) -> PatternMatch | None:
    regex = _reference(text)
    for end in range(len(number), -1, -1):
        if regex.fullmatch(number[:end]):
            return PatternMatch(number[:end], number[end:])
    return None


_pattern_atoms = st.sampled_from(["1", "2", "3", ".", "[12]", "[^1]", "(12)", "(1.)", "(2[13])"])
_patterns = st.builds(
    lambda parts, tail: "".join(parts) + tail,
    st.lists(
        st.tuples(_pattern_atoms, st.sampled_from(["", "", "?", "%", "+"])).map("".join),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(["", "T"]),
).filter(lambda t: not t.startswith("+"))


@settings(max_examples=400, deadline=None)
@given(_patterns, st.text(alphabet="123*", max_size=12))
def test_automaton_agrees_with_a_reference_regex(text: str, number: str) -> None:
    assert pattern(text).match(number) == _reference_match(text, number)


def test_matching_is_linear_and_fast() -> None:
    p = pattern("(1%2%)%(12)+1?T")
    number = "12" * 16
    start = time.perf_counter()
    for _ in range(2000):
        assert p.match(number) is not None
    assert time.perf_counter() - start < 2.0


# --- peer attributes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "host", "port"),
    [
        ("ipv4:192.0.2.10", "ipv4", "192.0.2.10", None),
        ("ipv4:192.0.2.10:5070", "ipv4", "192.0.2.10", 5070),
        ("ipv6:[2001:db8::1]:5060", "ipv6", "2001:db8::1", 5060),
        ("ipv6:[::1]", "ipv6", "::1", None),
        ("dns:gw-b.example.com", "dns", "gw-b.example.com", None),
        ("dns:gw-b.example.com:5080", "dns", "gw-b.example.com", 5080),
        ("registrar", "registrar", None, None),
        ("sip-server", "sip-server", None, None),
    ],
)
def test_session_targets(text: str, kind: str, host: str | None, port: int | None) -> None:
    target = SessionTarget.parse(text)
    assert (target.kind, target.host, target.port) == (kind, host, port)
    assert str(target) == text


@pytest.mark.parametrize(
    "text",
    [
        "ipv4:999.1.1.1",
        "ipv4:192.0.2.1:0",
        "ipv4:192.0.2.1:70000",
        "ipv4:192.0.2.1:50x",
        "ipv4:",
        "ipv6:2001:db8::1",
        "ipv6:[2001:db8::1",
        "ipv6:[zz::1]",
        "ipv6:[::1]x",
        "dns:-bad.example",
        "dns:bad..example",
        "dns:" + "a" * 64,
        "sip:host",
        "192.0.2.1",
        "registrar:1",
    ],
)
def test_bad_session_targets(text: str) -> None:
    with pytest.raises(ConfigError, match="session target"):
        SessionTarget.parse(text)


def test_peer_attribute_validation() -> None:
    with pytest.raises(ConfigError, match="preference must be 0-10"):
        pots(1, "5...", preference=11)
    with pytest.raises(ConfigError, match="forward-digits"):
        pots(1, "5...", forward_digits=33)
    with pytest.raises(ConfigError, match="forward-digits"):
        pots(1, "5...", forward_digits=True)
    with pytest.raises(ConfigError, match="prefix"):
        pots(1, "5...", prefix="9x")
    with pytest.raises(ConfigError, match="udp or tcp"):
        voip(1, "5...", session_transport="tls")
    with pytest.raises(ConfigError, match="at least one codec"):
        voip(1, "5...", codecs=())
    with pytest.raises(ConfigError, match="twice"):
        voip(1, "5...", codecs=(IosCodec.G711ULAW, IosCodec.G711ULAW))
    with pytest.raises(ConfigError, match="twice"):
        voip(1, "5...", dtmf_relay=(DtmfRelay.RTP_NTE, DtmfRelay.RTP_NTE))
    with pytest.raises(ConfigError, match="tag"):
        pots(-1)


def test_codecs_and_dtmf() -> None:
    assert [(c.encoding_name, c.payload_type) for c in IosCodec] == [
        ("PCMU", 0), ("PCMA", 8), ("G729", 18), ("G729", 18),
    ]  # fmt: skip
    assert IosCodec.G729R8.annexb is False and IosCodec.G729BR8.annexb is True
    assert IosCodec.G711ULAW.annexb is None
    peer = voip(
        1, "5...", codecs=(IosCodec.G729R8, IosCodec.G711ALAW), dtmf_relay=(DtmfRelay.RTP_NTE,)
    )
    assert peer.codecs[0] is IosCodec.G729R8 and not peer.dtmf_inband
    assert voip(2, "6...").dtmf_inband
    assert voip(2, "6...").codecs == (IosCodec.G711ULAW,)


@pytest.mark.parametrize(
    ("peer", "dialled", "sent"),
    [
        (pots(1, "9T"), "95551234", "5551234"),  # explicit leading digits are stripped
        (pots(1, "555...."), "5551234", "1234"),
        (pots(1, "1[2-9]..[2-9]......"), "12125551234", "2125551234"),
        (pots(1, "1..."), "1234", "234"),
        (pots(1, "1...", forward_digits=4), "1234", "1234"),  # right-justified digits
        (pots(1, "1...", forward_digits=9), "1234", "1234"),
        (pots(1, "1...", forward_digits=0), "1234", ""),
        (pots(1, "1...", forward_digits="all"), "1234", "1234"),
        (pots(1, "555....", forward_digits="extra"), "55512345", "5"),
        (pots(1, "9T", digit_strip=False), "95551234", "95551234"),
        (pots(1, "9T", prefix="0,"), "95551234", "0,5551234"),
        (pots(1, "[2-9]......"), "5551234", "5551234"),  # nothing explicit to strip
    ],
)
def test_pots_digit_manipulation(peer: PotsDialPeer, dialled: str, sent: str) -> None:
    (route,) = DialPlan([peer]).outbound(call(dialled))
    assert route.called_digits == sent


def test_pots_digit_manipulation_after_outgoing_translation() -> None:
    # dial-peer voice 1 pots / destination-pattern ^7......$ : strip 7 by default; an outgoing
    # translation to 8222222 leaves nothing explicit to strip; forward-digits 6 then cuts the 8.
    tables = TranslationTables.parse_config(
        "voice translation-rule 1\n rule 1 /^7\\(.*\\)$/ /8\\1/\n"
        "voice translation-profile POTS\n translate called 1\n"
    )
    plain = pots(1, "^7......$")
    assert DialPlan([plain]).outbound(call("7222222")).routes[0].called_digits == "222222"
    translated = pots(1, "^7......$", translation_outgoing="POTS")
    assert DialPlan([translated], tables).outbound(call("7222222")).routes[0].called_digits == (
        "8222222"
    )
    forwarded = pots(1, "^7......$", translation_outgoing="POTS", forward_digits=6)
    assert DialPlan([forwarded], tables).outbound(call("7222222")).routes[0].called_digits == (
        "222222"
    )


# --- outbound hunting -------------------------------------------------------------------------


def test_most_specific_pattern_first() -> None:
    plan = DialPlan(
        [
            voip(1, "555...."),
            voip(2, "5551..."),
            voip(3, "555T"),
            voip(4, ".T"),
            voip(5, "6...."),
            voip(6, "555[0-4]..."),
            voip(7, "5551234"),
            voip(8, "555"),
        ]
    )
    assert plan.outbound(call("5551234")).tags == (7, 2, 6, 1, 8, 3, 4)
    # The Cisco scenario: 2001 against 2... and 200. picks 200. (longest exact sequence).
    plan = DialPlan([voip(1, "2..."), voip(2, "200.")])
    assert plan.outbound(call("2001")).tags == (2, 1)


def test_preference_then_tag_among_equally_specific_peers() -> None:
    plan = DialPlan(
        [
            voip(10, "555....", preference=2),
            voip(30, "555....", preference=1),
            voip(20, "555....", preference=1),
            voip(40, "555....", preference=0),
        ]
    )
    assert plan.outbound(call("5551234")).tags == (40, 20, 30, 10)


def test_huntstop_truncates_the_list_after_its_peer() -> None:
    peers = [
        voip(10, "555....", preference=0),
        voip(20, "555....", preference=1, huntstop=True),
        voip(30, "555....", preference=2),
        voip(40, "5.......", preference=0),
    ]
    assert DialPlan(peers).outbound(call("5551234")).tags == (10, 20)
    peers[0] = voip(10, "555....", preference=0, huntstop=True)
    assert DialPlan(peers).outbound(call("5551234")).tags == (10,)


def test_kinds_and_port_filters() -> None:
    plan = DialPlan(
        [pots(1, "5...", port="line-1"), pots(2, "5...", port="line-2"), voip(3, "5...")]
    )
    assert plan.outbound(call("5000")).tags == (1, 2, 3)
    assert plan.outbound(call("5000"), kinds=("voip",)).tags == (3,)
    assert plan.outbound(call("5000"), exclude_port="line-1").tags == (2, 3)
    assert plan.outbound(call("6000")).routes == ()
    assert [p.text for p in plan.destination_patterns(("pots",))] == ["5...", "5..."]


def test_outgoing_translation_per_peer_and_reject() -> None:
    tables = TranslationTables.parse_config(
        "voice translation-rule 1\n rule 1 /^555/ /+1212555/ type any international\n"
        "voice translation-rule 2\n rule 1 reject /^5559/\n"
        "voice translation-profile E164\n translate called 1\n"
        "voice translation-profile BLOCK\n translate called 2\n"
    )
    plan = DialPlan(
        [
            voip(1, "555....", translation_outgoing="E164", preference=0),
            voip(2, "555....", translation_outgoing="BLOCK", preference=1),
            voip(3, "555....", preference=2),
        ],
        tables,
    )
    hunt = plan.outbound(call("5559876"))
    assert hunt.tags == (1, 3)
    assert hunt.routes[0].numbers.called == PartyNumber("+12125559876", NumberType.INTERNATIONAL)
    assert hunt.routes[1].numbers.called == PartyNumber("5559876")
    assert [(b.peer.tag, b.field, b.rule_set, b.rule) for b in hunt.blocked] == [
        (2, "called", 2, 1)
    ]
    # Calling numbers pass through untouched when the profile has no calling rule.
    assert hunt.routes[0].numbers.calling == PartyNumber("1000")


def test_dial_plan_validation() -> None:
    with pytest.raises(ConfigError, match="used twice"):
        DialPlan([voip(1, "5..."), pots(1, "6...")])
    with pytest.raises(ConfigError, match="tag 0"):
        DialPlan([voip(0, "5...")])
    with pytest.raises(ConfigError, match="no such voice translation-profile"):
        DialPlan([voip(1, "5...", translation_incoming="NOPE")])
    plan = DialPlan([voip(7, "5...")])
    assert plan.peer(7).tag == 7
    with pytest.raises(LocalProtocolError):
        plan.peer(8)


def test_should_hunt_on_503_408_timeout_and_resource_causes() -> None:
    assert should_hunt(status=503) and should_hunt(status=408) and should_hunt(timed_out=True)
    assert not should_hunt(status=486) and not should_hunt(status=404) and not should_hunt()
    assert should_hunt(cause=34) and should_hunt(cause=44) and not should_hunt(cause=17)


# --- inbound matching ---------------------------------------------------------------------------


def test_inbound_order_called_number_then_answer_address_then_destination_pattern() -> None:
    by_dnis = VoipDialPeer(1, incoming_called_number=pattern("555...."))
    by_ani = VoipDialPeer(2, answer_address=pattern("1..."))
    by_dest = VoipDialPeer(3, destination_pattern=pattern("1..."))
    plan = DialPlan([by_dest, by_ani, by_dnis])
    first = plan.inbound("voip", call("5551234", "1000"))
    assert (first.peer.tag, first.rule) == (1, "incoming called-number")
    assert first.match == PatternMatch("5551234", "")
    second = plan.inbound("voip", call("6001234", "1000"))
    assert (second.peer.tag, second.rule) == (2, "answer-address")
    # destination-pattern is tried against the *calling* number.
    third = DialPlan([by_dest]).inbound("voip", call("1000", "2000"))
    assert third.rule == "default"
    fourth = DialPlan([by_dest]).inbound("voip", call("9999", "1234"))
    assert (fourth.peer.tag, fourth.rule) == (3, "destination-pattern")


def test_inbound_prefers_the_most_specific_then_preference() -> None:
    plan = DialPlan(
        [
            VoipDialPeer(1, incoming_called_number=pattern(".")),
            VoipDialPeer(2, incoming_called_number=pattern("555....")),
            VoipDialPeer(3, incoming_called_number=pattern("555...."), preference=0),
            VoipDialPeer(4, incoming_called_number=pattern("555....$"), preference=1),
        ]
    )
    assert plan.inbound("voip", call("5551234")).peer.tag == 2
    assert plan.inbound("voip", call("7")).peer.tag == 1


def test_inbound_only_considers_peers_of_the_leg_kind_and_falls_back_to_port_then_peer_0() -> None:
    plan = DialPlan(
        [
            PotsDialPeer(1, incoming_called_number=pattern("5...")),
            PotsDialPeer(2, port="fxs-1", preference=3),
            PotsDialPeer(3, port="fxs-1", preference=1),
            VoipDialPeer(4, incoming_called_number=pattern("6...")),
        ]
    )
    assert plan.inbound("voip", call("5000")).peer is DEFAULT_VOIP_PEER
    assert plan.inbound("pots", call("5000")).peer.tag == 1
    by_port = plan.inbound("pots", call("7000"), port="fxs-1")
    assert (by_port.peer.tag, by_port.rule) == (3, "port")
    default = plan.inbound("pots", call("7000"), port="fxs-9")
    assert (default.peer, default.rule) == (DEFAULT_POTS_PEER, "default")
    assert default.peer.tag == 0
    # Dial-peer 0 offers every codec and no DTMF relay.
    assert DEFAULT_VOIP_PEER.codecs == tuple(IosCodec) and DEFAULT_VOIP_PEER.dtmf_inband


def test_incoming_translation_of_the_inbound_peer() -> None:
    tables = TranslationTables.parse_config(
        "voice translation-rule 1\n rule 1 /^0/ /+49/\n"
        "voice translation-profile IN\n translate calling 1\n"
    )
    peer = VoipDialPeer(1, incoming_called_number=pattern("."), translation_incoming="IN")
    plan = DialPlan([peer], tables)
    inbound = plan.inbound("voip", call("5551234", "0301234"))
    outcome = plan.translate_incoming(inbound.peer, call("5551234", "0301234"))
    assert outcome.numbers.calling.digits == "+49301234"
    assert plan.translate_incoming(DEFAULT_VOIP_PEER, call("1")).numbers == call("1")
