"""The PBX's ports: extension stations, trunks and their B-channels, and the legs of calls.

Mutable bookkeeping records for :class:`pbx_sim.pbx.Pbx` (they hold no logic of their own beyond
small helpers).  Media is modelled the way a TDM switch does it: every 20 ms each port with a
voice path produces one frame and each listener takes one -- a station hears a tone, another
station or a B-channel; a B-channel carries a tone or a station's voice toward the trunk.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Protocol

from gateway.media.audio import AudioSource
from gateway.media.dtmf_inband import DtmfDetector
from gateway.trace import Address, TraceSink
from pbx_sim.config import (
    NUMBER_TYPES,
    NUMBERING_PLANS,
    ExtensionConfig,
    TrunkCodec,
    TrunkConfig,
)
from pbx_sim.phone import Phone
from pbx_sim.q931 import (
    BearerCapability,
    CallKey,
    Layer1Protocol,
    Location,
    Q931Config,
    Q931Link,
    Q931Timers,
)
from pbx_sim.q931.channels import ChannelPool

StationState = Literal["idle", "dialing", "calling", "ringing", "talking", "lockout"]
TrunkLegState = Literal["setup", "overlap", "proceeding", "alerting", "connected",
                        "offered", "overlap-receiving", "clearing"]


class ChannelMedia(Protocol):
    """A B-channel's voice path, provided by the adapter (gateway/aio/bchannel.py over RTP).

    ``exchange`` is one 20 ms timeslot: a frame of linear PCM toward the trunk in, the frame
    that came from the trunk out.
    """

    def exchange(self, frame: bytes, now: float) -> bytes: ...


@dataclass(frozen=True, slots=True)
class OpenChannel:
    """The adapter should start the voice path of ``channel`` on ``trunk`` and attach it."""

    trunk: str
    channel: int
    codec: TrunkCodec


@dataclass(frozen=True, slots=True)
class CloseChannel:
    trunk: str
    channel: int


MediaRequest = OpenChannel | CloseChannel


class Station:
    """One extension: its phone and the PBX's view of that line."""

    __slots__ = ("config", "digit_deadline", "digit_tail", "dtmf", "ear", "leg", "phone",
                 "ring_deadline", "ring_index", "state", "tone", "tone_source")

    def __init__(self, config: ExtensionConfig, phone: Phone) -> None:
        self.config = config
        self.phone = phone
        self.state: StationState = "idle"
        self.leg: StationLeg | None = None
        self.tone: str | None = None
        self.tone_source: AudioSource | None = None
        self.ear: Station | ChannelPort | None = None  # what the phone hears (no tone playing)
        self.dtmf: DtmfDetector | None = None  # in-band dialling detection
        # The last in-band key is still sounding when its start completes the number: the
        # digit receiver keeps the phone off the trunk until the key ends (deadline), as a
        # switch does, so no dialling tone leaks into the call.
        self.digit_tail: tuple[DtmfDetector, float] | None = None
        self.digit_deadline: float | None = None
        self.ring_deadline: float | None = None  # next ring on/off edge
        self.ring_index = 0

    @property
    def number(self) -> str:
        return self.config.number


class ChannelPort:
    """A B-channel in use by a call."""

    __slots__ = ("heard", "media", "number", "talker", "tone_source", "trunk")

    def __init__(self, trunk: str, number: int) -> None:
        self.trunk = trunk
        self.number = number
        self.media: ChannelMedia | None = None
        self.talker: Station | None = None  # whose voice goes toward the trunk
        self.tone_source: AudioSource | None = None  # an in-band tone toward the trunk
        self.heard: bytes = b""  # the last frame from the trunk


class Trunk:
    """One trunk: its configuration, its current Q.931 link and its B-channels."""

    __slots__ = ("config", "legs", "link", "pool", "ports", "q931")

    def __init__(self, config: TrunkConfig) -> None:
        self.config = config
        self.pool = ChannelPool(config.b_channels(), config.order,
                                primary_rate=config.interface != "bri")
        self.link: Q931Link | None = None
        self.legs: dict[CallKey, TrunkLeg] = {}
        self.ports: dict[int, ChannelPort] = {}
        timers = Q931Timers.defaults(config.side)
        if config.timers:
            timers = replace(timers, **config.timers)
        layer1 = Layer1Protocol.G711_ALAW if config.line_codec == "pcma" else \
            Layer1Protocol.G711_ULAW
        self.q931 = Q931Config(
            timers=timers,
            bearer=BearerCapability.speech(layer1),
            call_ref_length=1 if config.interface == "bri" else 2,
            # A PBX is a private network serving its local users, on either side (Q.850 Table 1).
            cause_location=Location.PRIVATE_NETWORK_LOCAL,
        )

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def up(self) -> bool:
        return self.link is not None and not self.link.closed

    def new_link(self, trace: TraceSink, node: str, local: Address | None,
                 remote: Address | None) -> Q931Link:
        self.link = Q931Link(self.config.side, config=self.q931, trace=trace, node=node,
                             local=local, remote=remote)
        return self.link

    def number_format(self, which: Literal["called", "calling"]) -> tuple[int, int]:
        config = self.config
        if which == "called":
            return NUMBER_TYPES[config.called_type], NUMBERING_PLANS[config.called_plan]
        return NUMBER_TYPES[config.calling_type], NUMBERING_PLANS[config.calling_plan]


class Call:
    """One call through the PBX: the originating leg ``a`` and, once routed, the leg ``b``."""

    __slots__ = ("a", "b", "calling", "calling_name", "dialled", "id", "no_answer_at", "state")

    def __init__(self, call_id: int, a: Leg | None = None) -> None:
        self.id = call_id
        self.a: Leg | None = a
        self.b: Leg | None = None
        self.state: Literal["dialing", "routing", "alerting", "connected", "ended"] = "dialing"
        self.dialled = ""
        self.calling = ""
        self.calling_name = ""
        self.no_answer_at: float | None = None

    def other(self, leg: Leg) -> Leg | None:
        return self.b if leg is self.a else self.a


class StationLeg:
    __slots__ = ("call", "station")

    def __init__(self, call: Call, station: Station) -> None:
        self.call: Call | None = call
        self.station = station

    def describe(self) -> str:
        return f"extension {self.station.number}"


class TrunkLeg:
    __slots__ = ("call", "channel", "complete", "complete_sent", "exclusive", "key", "pending",
                 "sent", "state", "trunk")

    def __init__(self, call: Call, trunk: Trunk, key: CallKey, channel: int | None,
                 state: TrunkLegState) -> None:
        self.call: Call | None = call
        self.trunk = trunk
        self.key = key
        self.channel = channel
        self.state: TrunkLegState = state
        self.exclusive = False  # we named our channel exclusively
        self.sent = 0  # called digits sent so far (overlap sending)
        self.pending = ""  # digits waiting for SETUP ACKNOWLEDGE
        self.complete = False  # overlap sending: the number is complete
        self.complete_sent = False  # ... and Sending complete went out

    def describe(self) -> str:
        where = f" ch {self.channel}" if self.channel is not None else ""
        return f"trunk {self.trunk.name}{where}"


Leg = StationLeg | TrunkLeg

