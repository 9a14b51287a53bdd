"""Schema documentation and TOML output: exact text, and load -> dump -> load round trips."""



from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import (
    Duration,
    FilePath,
    InRange,
    describe_schema,
    dump_toml,
    load_toml,
    setting,
    to_plain,
    write_toml,
)


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> Address:
        host, colon, port = text.rpartition(":") if ":" in text else (text, "", "")
        if not host or (colon and not port.isdigit()):
            raise ValueError(f"expected HOST[:PORT], got {text!r}")
        return cls(host, int(port) if colon else None)

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


class Relay(StrEnum):
    NTE = "rtp-nte"
    INFO = "sip-info"


@dataclass(frozen=True, slots=True)
class Peer:
    """One voip dial-peer.

    More text that the docs leave out.
    """

    tag: Annotated[int, InRange(1, 1000)] = setting(doc="peer tag")
    target: Address = setting(doc="where calls go")
    relay: tuple[Relay, ...] = setting(default=(), doc="DTMF relay methods")
    transport: Literal["udp", "tcp"] = "udp"


@dataclass(frozen=True, slots=True)
class Dial:
    kind: Literal["dial"]
    digits: str


@dataclass(frozen=True, slots=True)
class Wait:
    kind: Literal["wait"]
    time: Duration = 1.0


@dataclass(frozen=True, slots=True)
class Phone:
    number: str
    script: tuple[Dial | Wait, ...] = ()


@dataclass(frozen=True, slots=True)
class Node:
    """A gateway node."""

    name: str = setting(doc="shown in ladders")
    ring_timeout: Duration = setting(default=30.0, doc="ring-no-answer timer")
    gain: float = 0.0
    enabled: bool = True
    peers: tuple[Peer, ...] = ()
    phones: dict[str, Phone] = setting(default_factory=dict, doc="phones by name")
    causes: dict[int, int] = setting(default_factory=dict)
    wav: FilePath | None = None
    codec: Literal["pcmu", "pcma"] | None = None


TEXT_DOC = """\
(top level)
  A gateway node.
  name          string             required   shown in ladders
  ring-timeout  duration           "30s"      ring-no-answer timer
  gain          number             0.0
  enabled       boolean            true
  peers         array of tables    see below
  phones        table of tables    see below  phones by name
  causes        table of integer = integer  {}
  wav           path               none
  codec         "pcma" | "pcmu"    none

[[peers]]
  One voip dial-peer.
  tag        integer (1 to 1000)  required  peer tag
  target     Address              required  where calls go
  relay      array of "rtp-nte" | "sip-info"  []        DTMF relay methods
  transport  "tcp" | "udp"        "udp"

[phones.<name>]
  number  string           required
  script  array of tables  see below

[[phones.<name>.script]]  with kind = "dial"
  kind    "dial"  required
  digits  string  required

[[phones.<name>.script]]  with kind = "wait"
  kind  "wait"    required
  time  duration  "1s"
"""


def test_the_schema_as_text() -> None:
    rendered = describe_schema(Node)
    # Columns are aligned per section; compare words so the test does not pin the padding.
    assert [line.split() for line in rendered.splitlines()] == [
        line.split() for line in TEXT_DOC.splitlines()
    ]
    assert (
        "[phones.<name>]\n"
        "  number  string           required\n"
        "  script  array of tables  see below\n"
    ) in rendered


def test_the_schema_as_markdown() -> None:
    rendered = describe_schema(Node, markdown=True)
    assert rendered.startswith(
        "#### Top level\n\nA gateway node.\n\n| key | type | default | description |\n"
        "|---|---|---|---|\n| `name` | string | required | shown in ladders |\n"
        '| `ring-timeout` | duration | `"30s"` | ring-no-answer timer |\n'
    )
    # Choices are listed sorted, whatever order the annotation wrote them in.
    assert '| `codec` | "pcma" \\| "pcmu" | none |  |' in rendered
    assert '#### `[[phones.<name>.script]]  with kind = "wait"`' in rendered


SAMPLE = """\
name = "GW-A"
ring-timeout = "90s"
causes = { 17 = 486 }

[[peers]]
tag = 7
target = "10.0.0.1:5060"
relay = ["sip-info"]

[phones.alice]
number = "1000"
script = [{ kind = "dial", digits = "5551234" }, { kind = "wait", time = "500ms" }]
"""


def test_dump_writes_every_setting_and_loads_back() -> None:
    node = load_toml(Node, SAMPLE, file="/etc/gwemu/gw-a.toml")
    dumped = dump_toml(node)
    assert dumped == (
        'name = "GW-A"\n'
        'ring-timeout = "90s"\n'
        "gain = 0.0\n"
        "enabled = true\n"
        "\n"
        "[[peers]]\n"
        "tag = 7\n"
        'target = "10.0.0.1:5060"\n'
        'relay = ["sip-info"]\n'
        'transport = "udp"\n'
        "\n"
        "[phones.alice]\n"
        'number = "1000"\n'
        "\n"
        "[[phones.alice.script]]\n"
        'kind = "dial"\n'
        'digits = "5551234"\n'
        "\n"
        "[[phones.alice.script]]\n"
        'kind = "wait"\n'
        'time = "500ms"\n'
        "\n"
        "[causes]\n"
        "17 = 486\n"
    )
    assert load_toml(Node, dumped) == node


def test_dump_without_defaults_is_like_show_running_config() -> None:
    node = load_toml(Node, SAMPLE)
    assert dump_toml(node, include_defaults=False) == (
        'name = "GW-A"\n'
        'ring-timeout = "90s"\n'
        "\n"
        "[[peers]]\n"
        "tag = 7\n"
        'target = "10.0.0.1:5060"\n'
        'relay = ["sip-info"]\n'
        "\n"
        "[phones.alice]\n"
        'number = "1000"\n'
        "\n"
        "[[phones.alice.script]]\n"
        'kind = "dial"\n'
        'digits = "5551234"\n'
        "\n"
        "[[phones.alice.script]]\n"
        'kind = "wait"\n'
        'time = "500ms"\n'
        "\n"
        "[causes]\n"
        "17 = 486\n"
    )


def test_to_plain_uses_the_external_names() -> None:
    node = Node("n", wav=Path("/tmp/a.wav"), codec="pcma")
    assert to_plain(node, include_defaults=False) == {
        "name": "n",
        "wav": "/tmp/a.wav",
        "codec": "pcma",
    }


def test_write_toml_quotes_and_escapes() -> None:
    data = {
        "a.b": 'line\nbreak "q" \\ \x01 \x7f é',
        "": 1,
        "f": [math.inf, -math.inf, 1e300],
        "t": {"inner": {"x": [{"y": 1}, 2]}},
        "empty": {},
        "aot": [{"k": {"deep": True}}],
    }
    text = write_toml(data)
    assert text == (
        '"a.b" = "line\\nbreak \\"q\\" \\\\ \\u0001 \\u007F é"\n'
        '"" = 1\n'
        "f = [inf, -inf, 1e+300]\n"
        "\n"
        "[t.inner]\n"
        "x = [{ y = 1 }, 2]\n"
        "\n"
        "[empty]\n"
        "\n"
        "[[aot]]\n"
        "\n"
        "[aot.k]\n"
        "deep = true\n"
    )
    assert tomllib.loads(text) == data


def test_write_toml_refuses_null_inside_arrays() -> None:
    with pytest.raises(TypeError, match="TOML cannot write None"):
        write_toml({"a": [None]})


# --- round trips ------------------------------------------------------------------------------

NAMES = st.text(min_size=1, max_size=6)
DURATIONS = st.one_of(
    st.integers(0, 10**7).map(lambda ms: ms / 1000),
    st.floats(0, 1e6, allow_nan=False),
)
PEERS = st.builds(
    Peer,
    tag=st.integers(1, 1000),
    target=st.builds(
        Address,
        st.from_regex(r"[a-z0-9.]{1,10}", fullmatch=True),
        st.none() | st.integers(1, 65535),
    ),
    relay=st.lists(st.sampled_from(Relay), max_size=2).map(tuple),
    transport=st.sampled_from(["udp", "tcp"]),
)
STEPS = st.one_of(
    st.builds(Dial, kind=st.just("dial"), digits=st.text(max_size=5)),
    st.builds(Wait, kind=st.just("wait"), time=DURATIONS),
)
NODES = st.builds(
    Node,
    name=NAMES,
    ring_timeout=DURATIONS,
    gain=st.floats(allow_nan=False),
    enabled=st.booleans(),
    peers=st.lists(PEERS, max_size=3).map(tuple),
    phones=st.dictionaries(
        NAMES,
        st.builds(Phone, number=NAMES, script=st.lists(STEPS, max_size=3).map(tuple)),
        max_size=3,
    ),
    causes=st.dictionaries(st.integers(-(10**6), 10**6), st.integers(), max_size=3),
    wav=st.none() | st.just(Path("/tmp/x y/é.wav")),
    codec=st.none() | st.sampled_from(["pcmu", "pcma"]),
)


@settings(max_examples=150, deadline=None)
@given(NODES, st.booleans())
def test_load_dump_load_gives_an_equal_value(node: Node, include_defaults: bool) -> None:
    dumped = dump_toml(node, include_defaults=include_defaults)
    assert load_toml(Node, dumped) == node
