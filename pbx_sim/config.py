"""The PBX simulator's configuration: frozen dataclasses that :mod:`gateway.config` loads.

The classes are plain stdlib dataclasses (the simulator core imports no config machinery), so a
scenario can also build them in code.  Keys in files are the field names in kebab-case
(``ring-timeout``); ``[[extension]]``, ``[[trunk]]``, ``[[route]]`` and ``[[fxs-phone]]`` are arrays
of tables.  Durations are seconds (numbers).  Cross-field rules raise :class:`ConfigError` with a
relative key, which the loader places at the right line.  docs/pbx-trunk.md lists every key.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

from gateway.errors import ConfigError
from gateway.media.tones import TONE_PLANS
from pbx_sim.q931.channels import INTERFACE_CHANNELS, ChannelOrder, Interface
from pbx_sim.q931.constants import NumberingPlan, NumberType
from pbx_sim.script import parse_script
from pbx_sim.sources import parse_source_spec

Side = Literal["user", "network"]
TrunkMode = Literal["listen", "connect"]
TrunkCodec = Literal["pcma", "pcmu"]
ChannelPreference = Literal["exclusive", "preferred", "any"]
DialMode = Literal["keypad", "dtmf"]
NumberTypeName = Literal[
    "unknown", "international", "national", "network-specific", "subscriber", "abbreviated"
]
NumberingPlanName = Literal["unknown", "e164", "x121", "f69", "national", "private"]

NUMBER_TYPES: dict[str, int] = {
    "unknown": NumberType.UNKNOWN,
    "international": NumberType.INTERNATIONAL,
    "national": NumberType.NATIONAL,
    "network-specific": NumberType.NETWORK_SPECIFIC,
    "subscriber": NumberType.SUBSCRIBER,
    "abbreviated": NumberType.ABBREVIATED,
}
NUMBERING_PLANS: dict[str, int] = {
    "unknown": NumberingPlan.UNKNOWN,
    "e164": NumberingPlan.E164,
    "x121": NumberingPlan.X121,
    "f69": NumberingPlan.F69,
    "national": NumberingPlan.NATIONAL,
    "private": NumberingPlan.PRIVATE,
}

# E1 trunks speak A-law, T1 trunks mu-law (G.711 s1; the usual national choices).
INTERFACE_CODEC: dict[str, TrunkCodec] = {"e1": "pcma", "t1": "pcmu", "bri": "pcma"}
TIMER_NAMES = frozenset({"t301", "t302", "t303", "t304", "t305", "t308", "t310", "t313", "t316",
                         "t322"})
_DIGITS = frozenset("0123456789*#")
_PATTERN_CHARACTERS = frozenset("0123456789*#X")


@dataclass(frozen=True, slots=True)
class HostPort:
    """A numeric address and a port, written ``127.0.0.1:4000`` or ``[::1]:4000``."""

    host: str
    port: int

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise ValueError(f"{self.host!r} is not a numeric IP address") from None
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not in 0..65535")

    @classmethod
    def parse(cls, text: str) -> HostPort:
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:4000), got {text!r}")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        return cls(host, int(port))

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _check_digits(text: str, key: str, allowed: frozenset[str] = _DIGITS) -> None:
    bad = sorted(set(text) - allowed)
    if bad:
        raise ConfigError(f"{text!r} contains {''.join(bad)!r}, only digits, * and # are allowed",
                          key=key)


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneSettings:
    """How a simulated analog phone behaves (shared by extensions and FXS-board phones).

    ``answer-after-rings``: answer at the end of that many rings (0: at once); absent, the phone
    only answers when told to (control channel, script) -- so it never answers on its own.
    ``busy``: the phone is always busy (extensions: the PBX refuses calls with cause 17; an FXS
    board phone sits off hook).  ``reject-cause``: refuse every offered call with this Q.850 cause.
    ``play``: what the phone says once a call is connected (``tone:1004``, ``wav:file.wav``,
    ``dtmf:123``, ``silence``; see pbx_sim.sources).  ``record``: a WAV file of everything the
    phone hears while off hook (written at each hang-up).  ``detect``: frequencies (Hz) whose
    presence is reported as events.  ``dial-mode``: ``keypad`` (digits signalled to the line) or
    ``dtmf`` (digits played in-band; needs media).  ``hangup-after``: hang up that long after the
    call is connected.  ``digits-after-answer``: DTMF digits sent that long (``digits-delay``)
    after connection.  ``hangup-on-clear``: hang up that long after the far end cleared
    (absent: stay off hook).  ``script``: steps run at start (see pbx_sim.script).
    """

    answer_after_rings: int | None = None
    busy: bool = False
    reject_cause: int | None = None
    play: str | None = None
    record: str | None = None
    detect: tuple[int, ...] = ()
    dial_mode: DialMode = "keypad"
    dial_delay: float = 0.3
    digit_interval: float = 0.15
    hangup_after: float | None = None
    digits_after_answer: str = ""
    digits_delay: float = 0.5
    hangup_on_clear: float | None = 0.5
    script: str = ""

    def __post_init__(self) -> None:
        if self.answer_after_rings is not None and not 0 <= self.answer_after_rings <= 100:
            raise ConfigError("must be between 0 and 100", key="answer-after-rings")
        if self.reject_cause is not None and not 1 <= self.reject_cause <= 127:
            raise ConfigError("a Q.850 cause is between 1 and 127", key="reject-cause")
        for frequency in self.detect:
            if not 50 <= frequency <= 3950:
                raise ConfigError(f"frequency {frequency} Hz is outside 50..3950", key="detect")
        for name, value in (("dial-delay", self.dial_delay), ("digit-interval",
                            self.digit_interval), ("digits-delay", self.digits_delay)):
            if value < 0:
                raise ConfigError("must not be negative", key=name)
        if self.digit_interval < 0.05:
            raise ConfigError("keys need at least 0.05 s each", key="digit-interval")
        for name, optional in (("hangup-after", self.hangup_after),
                               ("hangup-on-clear", self.hangup_on_clear)):
            if optional is not None and optional < 0:
                raise ConfigError("must not be negative", key=name)
        _check_digits(self.digits_after_answer, "digits-after-answer",
                      _DIGITS | frozenset("ABCD"))
        # Parsed now so that a typo is reported with the file's line, not at the first call.
        try:
            if self.play is not None:
                parse_source_spec(self.play)
        except ValueError as exc:
            raise ConfigError(str(exc), key="play") from None
        try:
            parse_script(self.script)
        except ValueError as exc:
            raise ConfigError(str(exc), key="script") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtensionConfig(PhoneSettings):
    """An analog extension of the PBX with its simulated phone."""

    number: str
    name: str = ""

    def __post_init__(self) -> None:
        PhoneSettings.__post_init__(self)
        if not self.number:
            raise ConfigError("an extension needs a number", key="number")
        _check_digits(self.number, "number")


@dataclass(frozen=True, slots=True, kw_only=True)
class FxsPhoneConfig(PhoneSettings):
    """A simulated phone wired to a simulated serial FXS board, served on a TCP port.

    The gateway opens it as ``socket://HOST:PORT`` and speaks docs/fxs-serial-protocol.md.
    """

    name: str
    listen: HostPort
    number: str = ""
    ring_timeout: float = 30.0
    serial_audio: bool = True

    def __post_init__(self) -> None:
        PhoneSettings.__post_init__(self)
        if not self.name:
            raise ConfigError("an FXS phone needs a name", key="name")
        if self.ring_timeout <= 0:
            raise ConfigError("must be positive", key="ring-timeout")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrunkConfig:
    """A Q.931 trunk over TCP/TPKT to a gateway, with its B-channels on RTP.

    ``mode`` listen/connect on ``address``; ``side`` is the Q.931 side this PBX plays.
    ``channels`` limits the trunk to its first N B-channels.  ``rtp-local``/``rtp-remote`` are the
    base addresses of the B-channel convention (docs/pbx-trunk.md: channel N uses port
    ``base + 2*(N-1)`` at each end).  ``overlap`` sends outgoing numbers digit by digit (SETUP
    without Sending complete, then INFORMATION) and accepts overlap receiving.
    """

    name: str
    address: HostPort
    mode: TrunkMode = "listen"
    side: Side = "network"
    interface: Interface = "t1"
    channels: int | None = None
    codec: TrunkCodec | None = None
    rtp_local: HostPort | None = None
    rtp_remote: HostPort | None = None
    overlap: bool = False
    channel_preference: ChannelPreference | None = None
    channel_order: ChannelOrder | None = None
    called_type: NumberTypeName = "unknown"
    called_plan: NumberingPlanName = "e164"
    calling_type: NumberTypeName = "unknown"
    calling_plan: NumberingPlanName = "e164"
    calling_prefix: str = ""
    incoming_strip: int = 0
    incoming_prepend: str = ""
    inband_ringback: bool = False
    early_progress: bool = False
    send_display: bool = True
    reconnect: float = 1.0
    timers: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a trunk needs a name", key="name")
        available = len(INTERFACE_CHANNELS[self.interface])
        if self.channels is not None and not 1 <= self.channels <= available:
            raise ConfigError(f"a {self.interface.upper()} interface has 1 to {available} "
                              "B-channels", key="channels")
        if (self.rtp_local is None) != (self.rtp_remote is None):
            raise ConfigError("give both rtp-local and rtp-remote, or neither (no voice)",
                              key="rtp-local" if self.rtp_local is None else "rtp-remote")
        if self.rtp_local is not None:
            last = 2 * (max(self.b_channels()) - 1) + 1
            for key, base in (("rtp-local", self.rtp_local), ("rtp-remote", self.rtp_remote)):
                assert base is not None
                if base.port < 1024 or base.port % 2 or base.port + last > 65535:
                    raise ConfigError(f"the base port must be even, at least 1024, and leave "
                                      f"room for {last + 1} ports", key=key)
        if self.incoming_strip < 0:
            raise ConfigError("must not be negative", key="incoming-strip")
        _check_digits(self.calling_prefix, "calling-prefix")
        _check_digits(self.incoming_prepend, "incoming-prepend")
        if self.reconnect <= 0:
            raise ConfigError("must be positive", key="reconnect")
        for name, value in self.timers.items():
            if name not in TIMER_NAMES:
                raise ConfigError(f"unknown timer {name!r} (known: "
                                  f"{', '.join(sorted(TIMER_NAMES))})", key=f"timers.{name}")
            if value <= 0:
                raise ConfigError("a timer must be positive", key=f"timers.{name}")

    def b_channels(self) -> tuple[int, ...]:
        numbers = INTERFACE_CHANNELS[self.interface]
        return numbers if self.channels is None else numbers[: self.channels]

    @property
    def line_codec(self) -> TrunkCodec:
        return self.codec or INTERFACE_CODEC[self.interface]

    @property
    def preference(self) -> ChannelPreference:
        if self.channel_preference is not None:
            return self.channel_preference
        # The network always names the channel it offers (Q.931 s5.2.3.1); a user proposes one.
        return "exclusive" if self.side == "network" else "preferred"

    @property
    def order(self) -> ChannelOrder:
        # Opposite hunting directions make glare on a channel rare.
        if self.channel_order is not None:
            return self.channel_order
        return "ascending" if self.side == "network" else "descending"


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteConfig:
    """One dial-plan entry: a number pattern and where it goes.

    ``pattern``: digits, ``X`` for any digit, and an optional trailing ``T`` for "any number of
    further digits" (complete after the inter-digit timeout or ``#``).  ``trunk`` or
    ``extension`` names the destination; ``strip`` leading digits are removed and ``prepend``
    added to form the number sent (or the extension rung).
    """

    pattern: str
    trunk: str = ""
    extension: str = ""
    strip: int = 0
    prepend: str = ""

    def __post_init__(self) -> None:
        body = self.pattern[:-1] if self.pattern.endswith("T") else self.pattern
        if not self.pattern or not set(body) <= _PATTERN_CHARACTERS:
            raise ConfigError("a pattern is digits, * # and X, optionally ending in T",
                              key="pattern")
        if bool(self.trunk) == bool(self.extension):
            raise ConfigError("give either trunk or extension", key="trunk")
        if self.strip < 0:
            raise ConfigError("must not be negative", key="strip")
        _check_digits(self.prepend, "prepend")


@dataclass(frozen=True, slots=True, kw_only=True)
class PbxConfig:
    """One simulated PBX: its extensions, trunks, dial plan and the phones it exposes."""

    name: str = "PBX"
    tone_plan: str = "us"
    control: str | None = None
    ring_cadence: tuple[int, ...] = (2000, 4000)
    ring_timeout: float = 60.0
    first_digit_timeout: float = 15.0
    interdigit_timeout: float = 4.0
    extension: tuple[ExtensionConfig, ...] = ()
    trunk: tuple[TrunkConfig, ...] = ()
    route: tuple[RouteConfig, ...] = ()
    fxs_phone: tuple[FxsPhoneConfig, ...] = ()

    def __post_init__(self) -> None:
        if self.control is not None and not _control_address(self.control):
            raise ConfigError("expected HOST:PORT or unix:PATH", key="control")
        if self.tone_plan.lower() not in TONE_PLANS:
            raise ConfigError(f"unknown tone plan (known: {', '.join(sorted(TONE_PLANS))})",
                              key="tone-plan")
        cadence = self.ring_cadence
        if not cadence or len(cadence) % 2 or any(step <= 0 for step in cadence):
            raise ConfigError("a cadence is on/off pairs of positive milliseconds",
                              key="ring-cadence")
        for key, value in (("ring-timeout", self.ring_timeout),
                           ("first-digit-timeout", self.first_digit_timeout),
                           ("interdigit-timeout", self.interdigit_timeout)):
            if value <= 0:
                raise ConfigError("must be positive", key=key)
        numbers = [e.number for e in self.extension]
        _unique(numbers, "extension", "number")
        _unique([t.name for t in self.trunk], "trunk", "name")
        _unique([p.name for p in self.fxs_phone], "fxs-phone", "name")
        trunks = {t.name for t in self.trunk}
        for index, route in enumerate(self.route):
            if route.trunk and route.trunk not in trunks:
                raise ConfigError(f"no trunk named {route.trunk!r}", key=f"route[{index}].trunk")
            if route.extension and route.extension not in numbers:
                raise ConfigError(f"no extension {route.extension!r}",
                                  key=f"route[{index}].extension")

    def find_trunk(self, name: str) -> TrunkConfig:
        for trunk in self.trunk:
            if trunk.name == name:
                return trunk
        raise KeyError(name)


def _control_address(text: str) -> bool:
    """The forms gateway/aio/control.py accepts: unix:PATH, HOST:PORT, tcp:HOST:PORT."""
    if text.startswith("unix:"):
        return len(text) > 5
    host, sep, port = text.removeprefix("tcp:").rpartition(":")
    return bool(sep and host and port.isdigit() and int(port) <= 65535)


def _unique(values: list[str], table: str, key: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise ConfigError(f"{value!r} appears twice", key=f"{table}[{index}].{key}")
        seen.add(value)
