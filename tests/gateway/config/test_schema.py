"""Declarative schemas: every kind of mistake gives one exact ``file:line: key: message`` line."""



from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import (
    NON_EMPTY,
    Check,
    ConfigErrors,
    Duration,
    InRange,
    Located,
    describe_schema,
    load,
    load_toml,
    load_yaml,
    parse_toml,
    record_of,
    setting,
    write_toml,
)
from gateway.errors import ConfigError, RemoteProtocolError

# --- the schema used throughout (shaped like the gateway's, declared here) ----------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A session target, parsed from ``ipv4:HOST[:PORT]``, ``dns:NAME[:PORT]`` or a keyword."""

    kind: str
    host: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        if text in ("registrar", "sip-server"):
            return cls(text)
        scheme, _, rest = text.partition(":")
        host, colon, port = rest.partition(":")
        if scheme not in ("ipv4", "dns") or not host or (colon and not port.isdigit()):
            raise ValueError(
                f'expected ipv4:HOST[:PORT], dns:NAME[:PORT], registrar or sip-server, got "{text}"'
            )
        return cls(scheme, host, int(port) if colon else None)

    def __str__(self) -> str:
        if self.host is None:
            return self.kind
        return f"{self.kind}:{self.host}" + ("" if self.port is None else f":{self.port}")


class Codec(StrEnum):
    PCMU = "g711ulaw"
    PCMA = "g711alaw"


@dataclass(frozen=True, slots=True)
class VoipPeer:
    tag: Annotated[int, InRange(1, 2147483647)]
    destination_pattern: str = setting(doc="IOS number pattern")
    session_target: Target = setting(doc="where calls go")
    session_transport: Literal["udp", "tcp"] = "udp"
    preference: Annotated[int, InRange(0, 10)] = setting(default=0, doc="lower is tried first")
    codecs: tuple[Codec, ...] = (Codec.PCMU,)
    huntstop: bool = False

    def __post_init__(self) -> None:
        if len(set(self.codecs)) != len(self.codecs):
            raise ValueError("codecs lists a value twice")


@dataclass(frozen=True, slots=True)
class PotsPeer:
    tag: int
    port: str
    forward_digits: Annotated[int, InRange(0, 32)] | Literal["all", "extra"] | None = None


@dataclass(frozen=True, slots=True)
class DialPeers:
    voip: tuple[VoipPeer, ...] = ()
    pots: tuple[PotsPeer, ...] = ()


@dataclass(frozen=True, slots=True)
class Timers:
    ring_no_answer: Duration = setting(default=30.0, check=InRange(1.0, 300.0))
    inter_digit: Duration = 5.0


CauseMap = dict[Annotated[int, InRange(1, 127)], Annotated[int, InRange(400, 699)]]


@dataclass(frozen=True, slots=True)
class Gateway:
    name: str = setting(check=NON_EMPTY, doc="node name in traces")
    listen_port: Annotated[int, InRange(1, 65535)] = 5060
    gain: float = 0.0
    trusted: tuple[str, ...] = ()
    timers: Timers = Timers()
    dial_peer: DialPeers = setting(default=DialPeers(), key="dial-peer")
    cause_map: CauseMap = setting(default_factory=dict)
    registrar: Target | None = None


def problems(text: str, schema: type = Gateway, file: str = "gw-a.toml") -> str:
    with pytest.raises(ConfigErrors) as caught:
        load_toml(schema, textwrap.dedent(text), file=file)
    return str(caught.value)


def yaml_problems(text: str, schema: type = Gateway, file: str = "gw-a.yaml") -> str:
    with pytest.raises(ConfigErrors) as caught:
        load_yaml(schema, textwrap.dedent(text), file=file)
    return str(caught.value)


GOOD = """\
name = "GW-A"
listen-port = 5070
trusted = ["10.0.0.1", "10.0.0.2"]

[timers]
ring-no-answer = "45s"
inter-digit = 2.5

[[dial-peer.voip]]
tag = 100
destination-pattern = "555...."
session-target = "ipv4:127.0.0.1:5062"
codecs = ["g711alaw", "g711ulaw"]

[[dial-peer.pots]]
tag = 1
port = "0/0:1"
forward-digits = "all"

[cause-map]
17 = 486
"""


def test_a_good_file_loads_into_the_dataclasses() -> None:
    config = load_toml(Gateway, GOOD, file="gw-a.toml")
    assert config == Gateway(
        name="GW-A",
        listen_port=5070,
        trusted=("10.0.0.1", "10.0.0.2"),
        timers=Timers(ring_no_answer=45.0, inter_digit=2.5),
        dial_peer=DialPeers(
            voip=(
                VoipPeer(
                    100,
                    "555....",
                    Target("ipv4", "127.0.0.1", 5062),
                    codecs=(Codec.PCMA, Codec.PCMU),
                ),
            ),
            pots=(PotsPeer(1, "0/0:1", "all"),),
        ),
        cause_map={17: 486},
    )
    assert type(config.gain) is float and config.dial_peer.voip[0].codecs[0] is Codec.PCMA


def test_the_session_target_example_of_the_brief() -> None:
    text = """\
        name = "GW-A"
        [[dial-peer.voip]]
        tag = 1
        destination-pattern = "1..."
        session-target = "ipv4:10.0.0.1"
        [[dial-peer.voip]]
        tag = 2
        destination-pattern = "2..."
        session-target = "registrar"
        [[dial-peer.voip]]
        tag = 3
        session-target = "ipv4:"
        destination-pattern = "3..."
        """
    assert problems(text) == (
        "gw-a.toml:12: dial-peer.voip[2].session-target: expected ipv4:HOST[:PORT], "
        'dns:NAME[:PORT], registrar or sip-server, got "ipv4:"'
    )


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        (
            'name = "x"\nlisten-port = "5060"\n',
            'gw-a.toml:2: listen-port: expected an integer, got "5060"',
        ),
        (
            'name = "x"\nlisten-port = true\n',
            "gw-a.toml:2: listen-port: expected an integer, got true",
        ),
        (
            'name = "x"\nlisten-port = 5060.0\n',
            "gw-a.toml:2: listen-port: expected an integer, got 5060.0",
        ),
        ('name = "x"\ngain = false\n', "gw-a.toml:2: gain: expected a number, got false"),
        ("name = 1\n", "gw-a.toml:1: name: expected a string, got 1"),
        (
            'name = "x"\n[dial-peer.voip]\n',
            "gw-a.toml:2: dial-peer.voip: expected an array, got a table",
        ),
        ('name = "x"\ntimers = 5\n', "gw-a.toml:2: timers: expected a table, got 5"),
        ('name = "x"\ntrusted = ["a", 2]\n', "gw-a.toml:2: trusted[1]: expected a string, got 2"),
        (
            'name = "x"\ntrusted = [\n  "a",\n  ["b"],\n]\n',
            "gw-a.toml:4: trusted[1]: expected a string, got an array",
        ),
        (
            'name = "x"\nregistrar = 7\n',
            "gw-a.toml:2: registrar: expected a string (Target), got 7",
        ),
        (
            "name = 1979-05-27\n",
            "gw-a.toml:1: name: expected a string, got a date/time (1979-05-27)",
        ),
        (
            'name = "x"\nwhen = 1\n',
            "gw-a.toml:2: when: unknown key; expected one of: name, "
            "listen-port, gain, trusted, timers, dial-peer, cause-map, registrar",
        ),
    ],
)
def test_wrong_types(text: str, rendered: str) -> None:
    assert problems(text) == rendered


def test_a_missing_required_key_points_at_its_table() -> None:
    text = """\
        name = "GW-A"

        [[dial-peer.voip]]
        tag = 1
        """
    assert problems(text) == (
        "gw-a.toml:3: dial-peer.voip[0].destination-pattern: required key is missing\n"
        "gw-a.toml:3: dial-peer.voip[0].session-target: required key is missing"
    )
    assert problems("gain = 1\n") == "gw-a.toml: name: required key is missing"


def test_unknown_keys_get_suggestions() -> None:
    text = """\
        name = "GW-A"
        listen_port = 5060
        [timers]
        ring-no-anwser = 3
        [[dial-peer.voip]]
        tag = 1
        destination-pattern = "1"
        session-target = "registrar"
        prefrence = 2
        colour = "blue"
        """
    assert problems(text) == (
        'gw-a.toml:2: listen_port: unknown key; did you mean "listen-port"?\n'
        'gw-a.toml:4: timers.ring-no-anwser: unknown key; did you mean "ring-no-answer"?\n'
        'gw-a.toml:9: dial-peer.voip[0].prefrence: unknown key; did you mean "preference"?\n'
        "gw-a.toml:10: dial-peer.voip[0].colour: unknown key; expected one of: tag, "
        "destination-pattern, session-target, session-transport, preference, codecs, huntstop"
    )


def test_choices_ranges_and_checks() -> None:
    text = """\
        name = ""
        listen-port = 70000
        [timers]
        ring-no-answer = "500ms"
        [[dial-peer.voip]]
        tag = 0
        destination-pattern = "1"
        session-target = "registrar"
        session-transport = "tpc"
        preference = 11
        codecs = ["g711ulaw", "g729"]
        [[dial-peer.pots]]
        tag = 1
        port = "0/1"
        forward-digits = 40
        [[dial-peer.pots]]
        tag = 2
        port = "0/2"
        forward-digits = "some"
        """
    assert problems(text) == (
        'gw-a.toml:1: name: must not be empty, got ""\n'
        "gw-a.toml:2: listen-port: must be between 1 and 65535, got 70000\n"
        'gw-a.toml:4: timers.ring-no-answer: must be between 1s and 5m, got "500ms"\n'
        "gw-a.toml:6: dial-peer.voip[0].tag: must be between 1 and 2147483647, got 0\n"
        'gw-a.toml:9: dial-peer.voip[0].session-transport: expected one of "tcp", "udp", '
        'got "tpc"; did you mean "tcp"?\n'
        "gw-a.toml:10: dial-peer.voip[0].preference: must be between 0 and 10, got 11\n"
        'gw-a.toml:11: dial-peer.voip[0].codecs[1]: expected one of "g711ulaw", "g711alaw", '
        'got "g729"\n'
        "gw-a.toml:15: dial-peer.pots[0].forward-digits: must be between 0 and 32, got 40\n"
        "gw-a.toml:19: dial-peer.pots[1].forward-digits: expected integer (0 to 32) | "
        '"all" | "extra", got "some"'
    )


def test_durations() -> None:
    config = load_toml(Gateway, 'name = "x"\n[timers]\nring-no-answer = "1m30s"\ninter-digit = 3\n')
    assert (config.timers.ring_no_answer, config.timers.inter_digit) == (90.0, 3.0)
    assert problems('name = "x"\n[timers]\ninter-digit = "soon"\nring-no-answer = -1\n') == (
        'gw-a.toml:3: timers.inter-digit: expected a duration like "30s", "500ms", "2m", '
        '"1m30s" or a number of seconds, got "soon"\n'
        "gw-a.toml:4: timers.ring-no-answer: expected a duration like "
        '"30s", "500ms", "2m", "1m30s" or a number of seconds, got -1'
    )
    assert problems('name = "x"\n[timers]\ninter-digit = true\n') == (
        "gw-a.toml:3: timers.inter-digit: expected duration, got true"
    )


def test_dict_keys_are_read_from_their_text() -> None:
    text = """\
        name = "x"
        [cause-map]
        17 = 486
        200 = 486
        x = 486
        21 = 800
        """
    assert problems(text) == (
        "gw-a.toml:4: cause-map.200: invalid key: must be between 1 and 127, got 200\n"
        'gw-a.toml:5: cause-map.x: invalid key: expected an integer, got "x"\n'
        "gw-a.toml:6: cause-map.21: must be between 400 and 699, got 800"
    )


def test_dataclass_checks_are_placed_at_their_table() -> None:
    text = """\
        name = "x"
        [[dial-peer.voip]]
        tag = 1
        destination-pattern = "1"
        session-target = "registrar"
        codecs = [
          "g711ulaw",
          "g711ulaw",
        ]
        """
    assert problems(text) == "gw-a.toml:2: dial-peer.voip[0]: codecs lists a value twice"


@dataclass(frozen=True, slots=True)
class Overrides:
    pstn_cause: dict[str, int] = setting(default_factory=dict)

    def __post_init__(self) -> None:
        for key, status in self.pstn_cause.items():
            if status == 200:
                raise ConfigError("200 is not a failure", key=f"pstn-cause.{key}")
            if status == 100:
                raise ConfigError("100 is not final", key="elsewhere")
            if status == 180:
                raise RemoteProtocolError("ringing is not a failure")


def test_relative_keys_of_dataclass_errors_are_located() -> None:
    assert problems("[pstn-cause]\n1 = 404\n17 = 200\n", Overrides) == (
        "gw-a.toml:3: pstn-cause.17: 200 is not a failure"
    )
    assert problems("\n[pstn-cause]\n17 = 100\n", Overrides) == (
        "gw-a.toml: elsewhere: 100 is not final"
    )
    assert problems("[pstn-cause]\n17 = 180\n", Overrides) == (
        "gw-a.toml: ringing is not a failure"
    )


def test_a_file_with_many_mistakes_reports_them_all_in_file_order() -> None:
    text = """\
        listen-port = "x"
        gain = "loud"
        [timers]
        inter-digit = "fast"
        [[dial-peer.voip]]
        tag = -1
        [[dial-peer.voip]]
        tag = 2
        destination-pattern = 5
        session-target = "dns:"
        """
    rendered = problems(text)
    assert rendered.splitlines() == [
        "gw-a.toml: name: required key is missing",
        'gw-a.toml:1: listen-port: expected an integer, got "x"',
        'gw-a.toml:2: gain: expected a number, got "loud"',
        'gw-a.toml:4: timers.inter-digit: expected a duration like "30s", "500ms", "2m", '
        '"1m30s" or a number of seconds, got "fast"',
        "gw-a.toml:5: dial-peer.voip[0].destination-pattern: required key is missing",
        "gw-a.toml:5: dial-peer.voip[0].session-target: required key is missing",
        "gw-a.toml:6: dial-peer.voip[0].tag: must be between 1 and 2147483647, got -1",
        "gw-a.toml:9: dial-peer.voip[1].destination-pattern: expected a string, got 5",
        "gw-a.toml:10: dial-peer.voip[1].session-target: expected ipv4:HOST[:PORT], "
        'dns:NAME[:PORT], registrar or sip-server, got "dns:"',
    ]


def test_the_aggregate_is_a_config_error_carrying_each_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        load_toml(Gateway, 'name = 1\ngain = "x"\n', file="gw-a.toml")
    error = caught.value
    assert isinstance(error, ConfigErrors)
    assert [(e.file, e.line, e.key, e.message) for e in error.errors] == [
        ("gw-a.toml", 1, "name", "expected a string, got 1"),
        ("gw-a.toml", 2, "gain", 'expected a number, got "x"'),
    ]
    assert (error.file, error.line, error.key) == ("gw-a.toml", 1, "name")


def test_reporting_stops_at_the_limit() -> None:
    text = 'name = "x"\n' + "".join(f"k{i} = 1\n" for i in range(100))
    with pytest.raises(ConfigErrors) as caught:
        load(Gateway, parse_toml(text, file="gw-a.toml"), limit=5)
    assert len(caught.value.errors) == 5 and caught.value.truncated
    assert str(caught.value).splitlines()[-1] == "(stopped after 5 errors)"


def test_yaml_files_get_the_same_messages() -> None:
    text = """\
        name: GW-A
        listen-port: "5060"
        registrar: ~
        timers:
          ring-no-answer: 45s
          inter-digit: no
        dial-peer:
          voip:
            - tag: 1
              destination-pattern: "1..."
              session-target: "ipv4:"
              prefrence: 1
        """
    assert yaml_problems(text) == (
        'gw-a.yaml:2: listen-port: expected an integer, got "5060"\n'
        'gw-a.yaml:6: timers.inter-digit: expected a duration like "30s", "500ms", "2m", '
        '"1m30s" or a number of seconds, got "no"\n'
        "gw-a.yaml:11: dial-peer.voip[0].session-target: expected ipv4:HOST[:PORT], "
        'dns:NAME[:PORT], registrar or sip-server, got "ipv4:"\n'
        'gw-a.yaml:12: dial-peer.voip[0].prefrence: unknown key; did you mean "preference"?'
    )
    good = load_yaml(Gateway, "name: GW-A\nregistrar: null\ngain: 3\n")
    assert good.registrar is None and good.gain == 3.0
    assert (
        yaml_problems("name: GW-A\ngain: null\n")
        == "gw-a.yaml:2: gain: expected a number, got null"
    )


# --- unions of tables, recursion, raw nodes ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dial:
    action: Literal["dial"]
    phone: str
    digits: str


@dataclass(frozen=True, slots=True)
class Hangup:
    action: Literal["hangup", "onhook"]
    phone: str


@dataclass(frozen=True, slots=True)
class Wait:
    action: Literal["wait"]
    time: Duration


@dataclass(frozen=True, slots=True)
class Scenario:
    timeline: tuple[Dial | Hangup | Wait | str, ...]
    extra: Located | None = None


def test_a_union_of_tables_is_told_apart_by_a_literal_key() -> None:
    text = """\
        timeline:
          - {action: dial, phone: "1000", digits: "5551234"}
          - {action: wait, time: 2s}
          - {action: onhook, phone: "1000"}
          - note
        extra: {anything: [1, 2]}
        """
    scenario = load_yaml(Scenario, textwrap.dedent(text))
    assert scenario.timeline == (
        Dial("dial", "1000", "5551234"),
        Wait("wait", 2.0),
        Hangup("onhook", "1000"),
        "note",
    )
    assert scenario.extra is not None and scenario.extra.plain() == {"anything": [1, 2]}
    assert scenario.extra.line == 6
    bad = """\
        timeline:
          - {action: dail, phone: "1000", digits: "1"}
          - {phone: "1000"}
          - {action: wait, time: later}
          - 5
          - {action: dial, phone: "1000"}
        """
    assert yaml_problems(bad, Scenario, "s.yaml") == (
        's.yaml:2: timeline[0].action: expected one of "dial", "hangup", "onhook", "wait", '
        'got "dail"; did you mean "dial"?\n'
        's.yaml:3: timeline[1].action: required key is missing (one of "dial", "hangup", '
        '"onhook", "wait")\n'
        's.yaml:4: timeline[2].time: expected a duration like "30s", "500ms", "2m", '
        '"1m30s" or a number of seconds, got "later"\n'
        "s.yaml:5: timeline[3]: expected table | string, got 5\n"
        "s.yaml:6: timeline[4].digits: required key is missing"
    )


@dataclass(frozen=True, slots=True)
class Menu:
    label: str
    children: tuple[Menu, ...] = ()


def test_a_schema_may_refer_to_itself() -> None:
    text = 'label = "a"\n[[children]]\nlabel = "b"\n[[children.children]]\nlabel = "c"\n'
    assert load_toml(Menu, text) == Menu("a", (Menu("b", (Menu("c"),)),))
    assert problems(text.replace('"c"', "1"), Menu, "m.toml") == (
        "m.toml:5: children[0].children[0].label: expected a string, got 1"
    )


@dataclass(frozen=True, slots=True)
class Bad1:
    items: list[int]


@dataclass(frozen=True, slots=True)
class Bad2:
    choice: Dial | Target | Wait | Menu


@dataclass(frozen=True, slots=True)
class Bad3:
    table: dict[float, int]


@dataclass(frozen=True, slots=True)
class Bad4:
    pair: tuple[int, int]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (Bad1, "Bad1.items: list.int. is not supported"),
        (Bad3, "Bad3.table: dict keys must be"),
        (Bad4, r"Bad4.pair: use tuple\[X, ...\]"),
    ],
)
def test_schema_mistakes_are_type_errors_at_compile_time(schema: type, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        record_of(schema)


def test_a_union_of_tables_without_a_literal_key_is_a_type_error_when_used() -> None:
    with pytest.raises(TypeError, match="needs a key that every member declares"):
        load_toml(Bad2, "[choice]\nlabel = 1\n")


def test_non_dataclasses_are_refused() -> None:
    with pytest.raises(TypeError, match="is not a dataclass"):
        record_of(int)


# --- properties -------------------------------------------------------------------------------

RAW_SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=10),
    st.sampled_from(["ipv4:", "ipv4:10.0.0.1:5060", "registrar", "30s", "udp", "g711ulaw"]),
)
RAW_KEYS = st.sampled_from(
    [
        "name",
        "listen-port",
        "gain",
        "trusted",
        "timers",
        "dial-peer",
        "voip",
        "pots",
        "tag",
        "cause-map",
        "17",
        "ring-no-answer",
        "session-target",
        "codecs",
        "x",
        "forward-digits",
    ]
)
RAW_VALUES = st.recursive(
    RAW_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(RAW_KEYS, inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(RAW_KEYS, RAW_VALUES, max_size=6))
def test_any_valid_toml_only_ever_raises_config_errors(data: dict[str, object]) -> None:
    try:
        load_toml(Gateway, write_toml(data))
    except ConfigErrors as exc:
        assert all(e.file == "<config>" for e in exc.errors)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="name=[]{}\"'.tag\n1#-", max_size=80))
def test_arbitrary_text_only_ever_raises_config_errors(text: str) -> None:
    try:
        load_toml(Gateway, text)
    except ConfigErrors as exc:
        assert exc.errors


@dataclass(frozen=True, slots=True)
class WithFactory:
    values: tuple[int, ...] = field(default_factory=tuple)
    checked: Annotated[int, Check(lambda v: v % 20 == 0, "must be a multiple of 20")] = 20


def test_plain_dataclass_fields_and_custom_checks() -> None:
    assert load_toml(WithFactory, "values = [1, 2]\n") == WithFactory((1, 2))
    assert problems("checked = 30\n", WithFactory, "w.toml") == (
        "w.toml:1: checked: must be a multiple of 20, got 30"
    )


@dataclass(frozen=True, slots=True)
class _LawFirst:
    law: Literal["ulaw", "alaw"] | None = None


@dataclass(frozen=True, slots=True)
class _LawSecond:
    law: Literal["alaw", "ulaw"] | None = None


def test_choices_do_not_depend_on_the_order_typing_cached_first() -> None:
    # typing caches ``X | None`` by equality and Literals equal as sets, so the second class's
    # annotation may come back with the first one's order: the rendering must not care.
    first, second = describe_schema(_LawFirst), describe_schema(_LawSecond)
    assert first == second
    assert '"alaw" | "ulaw"' in first
