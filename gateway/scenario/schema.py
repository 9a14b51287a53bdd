"""The scenario file format (TOML or YAML): nodes, a timeline of actions, and expectations.

Loaded through :mod:`gateway.config`, so every mistake is reported with its file, line and key.
docs/scenarios.md is the user documentation; in short::

    name = "gw-gw"
    title = "Flow 1: gateway to gateway"
    media = true                        # needs the audio clock (no fast mode)

    [nodes.PBX-A]                       # node order = ladder column order
    kind = "pbx"
    file = "pbx-a.toml"                 # or an inline [nodes.PBX-A.config] table

    [[action]]
    phone = "PBX-A/1000"
    do = "dial"
    number = "95552000"

    [[action]]
    on = "PBX-A/1000 frequency 697"     # wait for this ...
    delay = "1s"                        # ... then this long
    phone = "PBX-A/1000"
    do = "hang-up"

    [expect.ladder]
    steps = ["PBX-A -> GW-A SETUP", "GW-A -> PBX-A CALL PROC", "GW-A -> GW-B INVITE sdp"]

Actions run one after another: each waits for its ``at`` (seconds since the start), else its
``on`` trigger (after the previous action), then its ``delay``, and acts.  The run ends when
every action has run and every call has cleared (plus ``settle``), or at ``timeout``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from gateway.config import (
    ConfigErrors,
    Duration,
    FilePath,
    InRange,
    KeyPath,
    Located,
    load,
    read_document,
    setting,
)
from gateway.errors import ConfigError
from gateway.scenario.patterns import (
    ANY_NODE,
    EventPattern,
    PhoneRef,
    StepPattern,
    Trigger,
)
from pbx_sim.sources import parse_source_spec

__all__ = [
    "Action",
    "DialAction",
    "DigitsAction",
    "Expectations",
    "LadderExpectation",
    "LegExpectation",
    "LinkDownAction",
    "LinkRef",
    "MediaExpectation",
    "NodeKind",
    "NodeSpec",
    "PhoneAction",
    "PhoneExpectation",
    "PlayAction",
    "RegistrationExpectation",
    "RtpExpectation",
    "Scenario",
    "TimingExpectation",
    "WaitAction",
    "load_scenario",
]

NodeKind = Literal["pbx", "gateway"]
LadderProtocol = Literal["sip", "q931"]


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One node of the scenario's network; its config is loaded by the runner for its kind."""

    kind: NodeKind = setting(doc="pbx (a PBX simulator with phones) or gateway")
    file: FilePath | None = setting(default=None, doc="the node's config file (TOML or YAML)")
    config: Located | None = setting(default=None, doc="the node's config, inline")
    override: Located | None = setting(
        default=None, doc="keys that replace the file's (tables merge, arrays are replaced)")

    def __post_init__(self) -> None:
        if (self.file is None) == (self.config is None):
            raise ConfigError("give the node's config either as file = ... or as a config table",
                              key="file")
        if self.override is not None and self.override.as_table() is None:
            raise ConfigError("override is a table of the node's keys", key="override")


@dataclass(frozen=True, slots=True)
class LinkRef:
    """``A -> B`` (one way) or ``A <-> B`` (both ways) between two nodes."""

    source: str
    target: str
    both_ways: bool

    @classmethod
    def parse(cls, text: str) -> LinkRef:
        for arrow, both in (("<->", True), ("->", False)):
            left, sep, right = text.partition(arrow)
            if sep:
                source, target = left.strip(), right.strip()
                if source and target and " " not in source and " " not in target:
                    return cls(source, target, both)
                break
        raise ValueError(f"expected 'A -> B' or 'A <-> B', got {text!r}")

    def __str__(self) -> str:
        return f"{self.source} {'<->' if self.both_ways else '->'} {self.target}"


# ------------------------------------------------------------------------------------ actions


@dataclass(frozen=True, slots=True, kw_only=True)
class _Timing:
    at: Duration | None = setting(default=None, doc="seconds since the start of the run")
    on: Trigger | None = setting(default=None, doc="wait for this after the previous action")
    delay: Duration = setting(default=0.0, doc="then wait this long")

    def _check_timing(self) -> None:
        if self.at is not None and self.on is not None:
            raise ConfigError("give at or on, not both", key="on")


@dataclass(frozen=True, slots=True, kw_only=True)
class DialAction(_Timing):
    """The phone goes off hook and dials ``number``."""

    do: Literal["dial"]
    phone: PhoneRef
    number: str

    def __post_init__(self) -> None:
        self._check_timing()
        if not self.number or not set(self.number) <= set("0123456789*#"):
            raise ConfigError("a number is digits, * and #", key="number")


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneAction(_Timing):
    """A hook or key action of a phone."""

    do: Literal["answer", "hang-up", "off-hook", "flash", "stop-playing"]
    phone: PhoneRef

    def __post_init__(self) -> None:
        self._check_timing()


@dataclass(frozen=True, slots=True, kw_only=True)
class DigitsAction(_Timing):
    """The phone sends DTMF digits now (in-band or keypad, as the phone dials)."""

    do: Literal["digits"]
    phone: PhoneRef
    digits: str

    def __post_init__(self) -> None:
        self._check_timing()
        if not self.digits or not set(self.digits.upper()) <= set("0123456789*#ABCD"):
            raise ConfigError("digits are 0-9, *, #, A-D", key="digits")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayAction(_Timing):
    """The phone says something: ``tone:1004``, ``tone:350+440``, ``wav:file.wav``,
    ``dtmf:123``, ``silence``."""

    do: Literal["play"]
    phone: PhoneRef
    source: str

    def __post_init__(self) -> None:
        self._check_timing()
        try:
            parse_source_spec(self.source)
        except ValueError as exc:
            raise ConfigError(str(exc), key="source") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkDownAction(_Timing):
    """The TCP connection of a PBX trunk breaks: both ends see it close, and it cannot be
    made again until ``restore-after`` has passed (absent: for the rest of the run)."""

    do: Literal["link-down"]
    node: str
    trunk: str
    restore_after: Duration | None = None

    def __post_init__(self) -> None:
        self._check_timing()


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitAction(_Timing):
    """Nothing but the waiting: a point in the timeline later actions follow."""

    do: Literal["wait"]

    def __post_init__(self) -> None:
        self._check_timing()


Action = DialAction | PhoneAction | DigitsAction | PlayAction | LinkDownAction | WaitAction


# ------------------------------------------------------------------------------- expectations


@dataclass(frozen=True, slots=True)
class LadderExpectation:
    """The messages between nodes, in order.

    ``subsequence``: the steps occur in this order, other arrows may come between them;
    ``exact``: also no other arrow of ``protocols`` between the nodes the steps name.
    ``order = "causal"`` holds two steps to their written order when they share a link, when
    the first one's receiver sends the second, or when the first one's sender receives the
    second; other pairs may swap (legs progress independently: which of two messages a node
    sends at once goes first, which of two answers arrives first, is a race).  ``strict``
    holds every pair to the written order.  SIP retransmissions are ignored.
    """

    steps: tuple[StepPattern, ...] = setting(doc="'FROM -> TO MESSAGE [checks]', in order")
    match: Literal["subsequence", "exact"] = setting(default="subsequence")
    order: Literal["causal", "strict"] = setting(default="causal")
    protocols: tuple[LadderProtocol, ...] = setting(default=("sip", "q931"))

    def __post_init__(self) -> None:
        if not self.steps:
            raise ConfigError("a ladder expectation needs at least one step", key="steps")


@dataclass(frozen=True, slots=True)
class PhoneExpectation:
    """What a phone did and perceived: ``events`` in this order, none of ``absent``."""

    phone: PhoneRef
    events: tuple[EventPattern, ...] = ()
    absent: tuple[EventPattern, ...] = ()


@dataclass(frozen=True, slots=True)
class MediaExpectation:
    """What reached a phone's ear: frequencies (Hz, each needs the phone's ``detect``), DTMF
    digits in order, call-progress tones in order; ``via = "audio"`` demands they were heard
    in the audio rather than told by the line."""

    phone: PhoneRef
    frequencies: tuple[Annotated[int, InRange(50, 3950)], ...] = ()
    digits: str = ""
    tones: tuple[Literal["dial", "ringback", "busy", "congestion"], ...] = ()
    via: Literal["", "audio", "signal"] = ""

    def __post_init__(self) -> None:
        if not (self.frequencies or self.digits or self.tones):
            raise ConfigError("expect frequencies, digits or tones", key="frequencies")
        if not set(self.digits.upper()) <= set("0123456789*#ABCD"):
            raise ConfigError("digits are 0-9, *, #, A-D", key="digits")


@dataclass(frozen=True, slots=True)
class RtpExpectation:
    """RTP between two nodes (from the packets in the trace): the codec, loss and
    interarrival jitter (RFC 3550 A.8) of each stream, and a minimum packet count."""

    between: LinkRef
    codec: str | None = None
    max_loss_percent: Annotated[float, InRange(0.0, 100.0)] | None = None
    max_jitter: Duration | None = None
    min_packets: Annotated[int, InRange(1, None)] = 1


@dataclass(frozen=True, slots=True)
class LegExpectation:
    """The outcome of one call leg between two nodes (``CALLER -> CALLEE``): the final SIP
    status of the INVITE, whether it was answered, the Q.850 cause of the clearing (Q.931
    Cause, or SIP ``Reason: Q.850;cause=N``) and which node cleared first."""

    between: LinkRef
    status: Annotated[int, InRange(100, 699)] | None = None
    answered: bool | None = None
    cause: Annotated[int, InRange(0, 127)] | None = None
    cleared_by: str | None = None

    def __post_init__(self) -> None:
        if self.between.both_ways:
            raise ConfigError("a leg has a direction: CALLER -> CALLEE", key="between")
        if self.status is None and self.answered is None and self.cause is None and (
            self.cleared_by is None
        ):
            raise ConfigError("expect status, answered, cause or cleared-by", key="status")


@dataclass(frozen=True, slots=True)
class TimingExpectation:
    """The time from one trigger to the next occurrence of another, within bounds."""

    start: Trigger = setting(key="from")
    end: Trigger = setting(key="to")
    max: Duration | None = None
    min: Duration = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        if self.max is not None and self.max < self.min:
            raise ConfigError("max is below min", key="max")


@dataclass(frozen=True, slots=True)
class RegistrationExpectation:
    """A gateway's registration of a number at the end of the run (the states of ``show
    sip-ua register status``)."""

    node: str
    number: str
    state: Literal["registered", "registering", "retrying", "rejected", "idle"] = "registered"


@dataclass(frozen=True, slots=True)
class Expectations:
    ladder: LadderExpectation | None = None
    idle: bool = setting(default=True, doc="at the end no call is left and phones are on hook")
    phone: tuple[PhoneExpectation, ...] = ()
    media: tuple[MediaExpectation, ...] = ()
    rtp: tuple[RtpExpectation, ...] = ()
    leg: tuple[LegExpectation, ...] = ()
    timing: tuple[TimingExpectation, ...] = ()
    registration: tuple[RegistrationExpectation, ...] = ()


# ------------------------------------------------------------------------------- the scenario


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario file."""

    nodes: dict[str, NodeSpec] = setting(doc="the network, in ladder column order")
    name: str = setting(default="", doc="what `gwemu scenario run NAME` calls it (file stem)")
    title: str = ""
    description: str = ""
    reference: str = setting(default="", doc="the flow it reproduces, e.g. RFC 3666 2.2")
    media: bool = setting(default=False, doc="needs real time: voice, tones, DTMF, RTP")
    timeout: Duration = setting(default=60.0, doc="the longest the run may take (scenario time)")
    settle: Duration = setting(default=0.5, doc="how long to keep running once all is idle")
    action: tuple[Action, ...] = ()
    expect: Expectations = Expectations()
    source: str = setting(default="", doc="(set by the loader: the file)")

    def __post_init__(self) -> None:
        if not self.nodes:
            raise ConfigError("a scenario needs nodes", key="nodes")
        if self.timeout <= 0:
            raise ConfigError("must be positive", key="timeout")
        for name in self.nodes:
            if not name or any(c.isspace() or c in "/*" for c in name) or "->" in name:
                raise ConfigError(f"node name {name!r} must not contain spaces, '/', '*' or "
                                  "'->'", key=f"nodes.{name}")

    def node_names(self, kind: NodeKind | None = None) -> tuple[str, ...]:
        return tuple(n for n, spec in self.nodes.items() if kind is None or spec.kind == kind)


def reference_problems(scenario: Scenario) -> list[tuple[KeyPath, str]]:
    """Names that point nowhere (nodes, phones' PBXs), as (key path, message) pairs."""
    pbxs = set(scenario.node_names("pbx"))
    gateways = set(scenario.node_names("gateway"))
    nodes = set(scenario.nodes)
    problems: list[tuple[KeyPath, str]] = []

    def node(name: str, key: KeyPath, allowed: set[str] = nodes, what: str = "node") -> None:
        if name not in allowed and name != ANY_NODE:
            known = ", ".join(sorted(allowed)) or "none"
            problems.append((key, f"no {what} named {name!r} (known: {known})"))

    def step(value: StepPattern, key: KeyPath) -> None:
        node(value.source, key)
        node(value.target, key)

    def trigger(value: Trigger, key: KeyPath) -> None:
        if value.step is not None:
            step(value.step, key)
        else:
            node(value.node, key, pbxs, "pbx node")

    for index, action in enumerate(scenario.action):
        if action.on is not None:
            trigger(action.on, ("action", index, "on"))
        if isinstance(action, LinkDownAction):
            node(action.node, ("action", index, "node"), pbxs, "pbx node")
        elif not isinstance(action, WaitAction):
            node(action.phone.node, ("action", index, "phone"), pbxs, "pbx node")
    expect = scenario.expect
    if expect.ladder is not None:
        for index, value in enumerate(expect.ladder.steps):
            step(value, ("expect", "ladder", "steps", index))
    for index, item in enumerate(expect.phone):
        node(item.phone.node, ("expect", "phone", index, "phone"), pbxs, "pbx node")
    for index, media in enumerate(expect.media):
        node(media.phone.node, ("expect", "media", index, "phone"), pbxs, "pbx node")
    for index, rtp in enumerate(expect.rtp):
        node(rtp.between.source, ("expect", "rtp", index, "between"))
        node(rtp.between.target, ("expect", "rtp", index, "between"))
    for index, leg in enumerate(expect.leg):
        node(leg.between.source, ("expect", "leg", index, "between"))
        node(leg.between.target, ("expect", "leg", index, "between"))
        if leg.cleared_by is not None:
            node(leg.cleared_by, ("expect", "leg", index, "cleared-by"))
    for index, timing in enumerate(expect.timing):
        trigger(timing.start, ("expect", "timing", index, "from"))
        trigger(timing.end, ("expect", "timing", index, "to"))
    for index, registration in enumerate(expect.registration):
        node(registration.node, ("expect", "registration", index, "node"), gateways,
             "gateway node")
    return problems


def error_at(document: Located, path: KeyPath, message: str) -> ConfigError:
    """A ConfigError at the deepest node of ``path`` the document has."""
    for end in range(len(path), -1, -1):
        found = document.get(*path[:end])
        if found is not None:
            return found.error(message, path=path)
    return document.error(message, path=path)


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and check a scenario file; :class:`ConfigErrors` name the file, line and key."""
    document = read_document(path)
    scenario = load(Scenario, document)
    problems = reference_problems(scenario)
    if problems:
        raise ConfigErrors([error_at(document, key, message) for key, message in problems])
    name = scenario.name or Path(os.fspath(path)).stem
    return dataclasses.replace(scenario, name=name, source=os.fspath(path))
