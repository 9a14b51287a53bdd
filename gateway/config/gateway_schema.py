"""The gateway's configuration file (``gwemu gateway --config gw-a.toml``), as a schema.

Every section is a frozen dataclass loaded by :mod:`gateway.config` (each mistake reported with
file, line and key); ``gwemu gateway --help-config`` prints them all with
:func:`~gateway.config.describe_schema`.  The dial-peers, translation rules and profiles load as
the very classes call control routes with (:mod:`gateway.calls.dialpeer`,
:mod:`gateway.calls.translation`); cross-references (a pots peer's ``port``, a peer's
translation profile, duplicate tags, line names) are checked when the file is loaded.  A
minimal file::

    name = "GW-A"

    [sip]
    listen = "127.0.0.1:38110"

    [[trunk]]
    name = "pbx-a"
    address = "127.0.0.1:38101"        # PBX-A listens; we connect as the Q.931 user side
    numbers = ["5551000"]

    [[dial-peer.voip]]
    tag = 100
    destination-pattern = "5551..."
    session-target = "ipv4:127.0.0.1:38120"

    [[dial-peer.pots]]
    tag = 1
    destination-pattern = "5551000"
    port = "pbx-a"
    forward-digits = "all"

:meth:`GatewayConfig.trunk_settings` gives the Q.931 trunk adapters their settings; the
runtime turns the rest into call control's plan.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, replace
from typing import Annotated, Final, Literal

from gateway.aio.bchannel import BChannelPlan
from gateway.aio.q931_trunk import Q931TrunkSettings
from gateway.calls.causes import CauseMap, CauseProfile
from gateway.calls.dialpeer import (
    DialPlan,
    PotsDialPeer,
    SessionTarget,
    VoipDialPeer,
)
from gateway.calls.digits import DEFAULT_INITIAL_TIMEOUT, DEFAULT_INTERDIGIT_TIMEOUT
from gateway.calls.plan import (
    SIP_PORT,
    CallTimers,
    ForwardRule,
    GatewayPlan,
    MediaSettings,
    RegistrationSettings,
    SipCredential,
    SipTarget,
)
from gateway.calls.translation import (
    TranslationProfile,
    TranslationRule,
    TranslationRuleSet,
    TranslationTables,
)
from gateway.config.files import read_document
from gateway.config.located import ConfigErrors, Located
from gateway.config.rules import Duration, InRange, setting
from gateway.config.schema import load
from gateway.config.toml_source import parse_toml
from gateway.errors import ConfigError
from gateway.line import LineInfo
from gateway.media.tones import TONE_PLANS
from gateway.sip.timers import TimerConfig
from hardware.protocols.fxs_line import FxsLineConfig
from hardware.protocols.quirks import PROFILES as MODEM_PROFILES
from hardware.protocols.voice_modem import VoiceModemConfig
from pbx_sim.q931 import NumberingPlan, NumberType, Q931Timers
from pbx_sim.q931.channels import INTERFACE_CHANNELS, Interface

Transport = Literal["udp", "tcp"]
NumberTypeName = Literal[
    "unknown", "international", "national", "network-specific", "subscriber", "abbreviated"
]
NumberingPlanName = Literal["unknown", "e164", "x121", "f69", "national", "private"]

NUMBER_TYPES: Final[dict[str, int]] = {
    "unknown": NumberType.UNKNOWN,
    "international": NumberType.INTERNATIONAL,
    "national": NumberType.NATIONAL,
    "network-specific": NumberType.NETWORK_SPECIFIC,
    "subscriber": NumberType.SUBSCRIBER,
    "abbreviated": NumberType.ABBREVIATED,
}
NUMBERING_PLANS: Final[dict[str, int]] = {
    "unknown": NumberingPlan.UNKNOWN,
    "e164": NumberingPlan.E164,
    "x121": NumberingPlan.X121,
    "f69": NumberingPlan.F69,
    "national": NumberingPlan.NATIONAL,
    "private": NumberingPlan.PRIVATE,
}
Q931_TIMER_NAMES: Final = frozenset(
    {"t301", "t302", "t303", "t304", "t305", "t308", "t310", "t313", "t316", "t322"}
)
DEVICE_SCHEMES: Final = ("socket://", "rfc2217://")
_NUMBER_CHARS: Final = frozenset("0123456789*#")


# --- value types ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SocketAddress:
    """A numeric IP address and a port: ``127.0.0.1:38110`` or ``[::1]:38110``."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> SocketAddress:
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"expected HOST:PORT with a numeric address, got {text!r}")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not a numeric IP address") from None
        if int(port) > 65535:
            raise ValueError(f"port {port} is not in 0..65535")
        return cls(host, int(port))

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PortSpan:
    """An RTP port range ``FIRST-LAST`` (even ports are used, RFC 3550 s11)."""

    first: int
    last: int

    @classmethod
    def parse(cls, text: str) -> PortSpan:
        first, sep, last = text.partition("-")
        if not sep or not first.strip().isdigit() or not last.strip().isdigit():
            raise ValueError(f"expected FIRST-LAST, e.g. \"16384-32767\", got {text!r}")
        span = cls(int(first), int(last))
        if not 1024 <= span.first < span.last <= 65535 or span.last - span.first < 3:
            raise ValueError(f"port range {text!r} must lie in 1024-65535 and hold two pairs")
        return span

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass(frozen=True, slots=True)
class IosTranslations:
    """``voice translation-rule`` / ``voice translation-profile`` blocks as IOS prints them."""

    text: str
    tables: TranslationTables

    @classmethod
    def parse(cls, text: str) -> IosTranslations:
        try:
            return cls(text, TranslationTables.parse_config(text))
        except ConfigError as exc:
            where = f"line {exc.line} of the text: " if exc.line is not None else ""
            raise ValueError(f"{where}{exc.message}") from None

    def __str__(self) -> str:
        return self.text


def _check_number(text: str, key: str) -> None:
    body = text[1:] if text.startswith("+") else text
    if not body or not set(body) <= _NUMBER_CHARS:
        raise ConfigError(f"{text!r} is not a number (digits, * and #, an optional leading +)",
                          key=key)


def _check_numbers(numbers: tuple[str, ...], key: str) -> None:
    for index, number in enumerate(numbers):
        _check_number(number, f"{key}[{index}]")


# --- sections ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SipSection:
    """The SIP side: where the gateway listens and how its transactions time out."""

    listen: SocketAddress = setting(doc="address the SIP endpoint listens on (HOST:PORT)")
    transports: tuple[Transport, ...] = setting(default=("udp", "tcp"),
                                                doc="transports to listen on")
    advertised_host: str | None = setting(default=None,
                                          doc="host written in Via/Contact instead of listen")
    user_agent: str = setting(default="gwemu", doc="User-Agent / Server header")
    t1: Duration = setting(default=0.5, doc="RFC 3261 T1 (round-trip estimate)")
    t2: Duration = setting(default=4.0, doc="RFC 3261 T2")
    t4: Duration = setting(default=5.0, doc="RFC 3261 T4")

    def __post_init__(self) -> None:
        if not self.transports or len(set(self.transports)) != len(self.transports):
            raise ConfigError("list udp and/or tcp, each once", key="transports")
        if not 0 < self.t1 <= self.t2:
            raise ConfigError("T1 must be positive and at most T2", key="t1")

    def timer_config(self) -> TimerConfig:
        return TimerConfig(t1=self.t1, t2=self.t2, t4=self.t4)


@dataclass(frozen=True, slots=True)
class MediaSection:
    """RTP on the IP side: the address SDP names, the port range, packetisation, DTMF."""

    address: str = setting(default="127.0.0.1", doc="numeric address RTP binds and SDP names")
    ports: PortSpan = setting(default=PortSpan(16384, 32767), doc="RTP port range FIRST-LAST")
    ptime: Literal[10, 20, 30, 40] = setting(default=20, doc="packetisation (ms)")
    digits_to_line: Literal["inband", "signal"] = setting(
        default="inband", doc="RFC 4733 digits: played in-band to the line, or signalled")
    media_timeout: Duration | None = setting(default=None,
                                             doc="clear a call after this long without RTP")
    enabled: bool = setting(default=True,
                            doc="false: signalling only (SDP is sent, no RTP socket is bound)")
    trace_rtp: bool = setting(default=False, doc="trace every RTP packet (show trace, pcap)")

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            raise ConfigError(f"{self.address!r} is not a numeric IP address",
                              key="address") from None

    def settings(self) -> MediaSettings:
        return MediaSettings(address=self.address, port_min=self.ports.first,
                             port_max=self.ports.last, digits_to_line=self.digits_to_line,
                             ptime=self.ptime)


@dataclass(frozen=True, slots=True)
class TrunkSection:
    """A Q.931 trunk to a PBX over TCP/TPKT, B-channels on RTP (docs/pbx-trunk.md).

    The keys mirror the PBX simulator's ``[[trunk]]``: the gateway's ``side`` is the opposite of
    the PBX's, its ``rtp-local`` is the PBX's ``rtp-remote`` and the other way round.
    """

    name: str = setting(doc="line name (dial-peer pots ``port``, show calls)")
    address: SocketAddress = setting(doc="HOST:PORT to connect to or listen on")
    mode: Literal["listen", "connect"] = setting(default="connect")
    side: Literal["user", "network"] = setting(default="user",
                                               doc="the Q.931 side the gateway plays")
    interface: Interface = setting(default="e1", doc="e1 (30 B, A-law), t1 (23 B, mu-law), bri")
    channels: int | None = setting(default=None, doc="use only the first N B-channels")
    codec: Literal["pcmu", "pcma"] | None = setting(default=None,
                                                    doc="B-channel G.711 law (by interface)")
    rtp_local: SocketAddress | None = setting(default=None,
                                              doc="our B-channel base address (absent: no voice)")
    rtp_remote: SocketAddress | None = setting(default=None,
                                               doc="the PBX's B-channel base address")
    numbers: tuple[str, ...] = setting(default=(), doc="E.164 numbers reachable behind the trunk")
    reconnect: Duration = setting(default=1.0, doc="seconds between connection attempts")
    overlap: bool = setting(default=False, doc="accept overlap receiving (SETUP ACKNOWLEDGE)")
    channel_preference: Literal["exclusive", "preferred"] | None = setting(
        default=None, doc="how our SETUPs name the channel (network: exclusive)")
    channel_order: Literal["ascending", "descending"] | None = setting(
        default=None, doc="channel hunting order (network: ascending)")
    called_type: NumberTypeName = setting(default="unknown")
    called_plan: NumberingPlanName = setting(default="e164")
    calling_type: NumberTypeName = setting(default="unknown")
    calling_plan: NumberingPlanName = setting(default="e164")
    timers: dict[str, Duration] = setting(default_factory=dict,
                                          doc="Q.931 timers, e.g. { t303 = \"2s\" }")

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a trunk needs a name", key="name")
        if (self.rtp_local is None) != (self.rtp_remote is None):
            raise ConfigError("give both rtp-local and rtp-remote, or neither (no voice)",
                              key="rtp-local" if self.rtp_local is None else "rtp-remote")
        _check_numbers(self.numbers, "numbers")
        for name, value in self.timers.items():
            if name not in Q931_TIMER_NAMES:
                known = ", ".join(sorted(Q931_TIMER_NAMES))
                raise ConfigError(f"unknown timer {name!r} (known: {known})",
                                  key=f"timers.{name}")
            if value <= 0:
                raise ConfigError("a timer must be positive", key=f"timers.{name}")
        available = len(INTERFACE_CHANNELS[self.interface])
        if self.channels is not None and not 1 <= self.channels <= available:
            raise ConfigError(f"a {self.interface.upper()} interface has 1 to {available} "
                              "B-channels", key="channels")
        if self.rtp_local is not None and self.rtp_remote is not None:
            highest = INTERFACE_CHANNELS[self.interface][(self.channels or available) - 1]
            room = 2 * (highest - 1) + 1
            for key, base in (("rtp-local", self.rtp_local), ("rtp-remote", self.rtp_remote)):
                if base.port < 1024 or base.port % 2 or base.port + room > 65535:
                    raise ConfigError(f"the base port must be even, at least 1024, and leave "
                                      f"room for {room + 1} ports", key=key)
        if self.reconnect <= 0:
            raise ConfigError("must be positive", key="reconnect")

    def settings(self) -> Q931TrunkSettings:
        """What :class:`~gateway.aio.q931_trunk.Q931Trunk` runs with."""
        codec = self.codec or ("pcmu" if self.interface == "t1" else "pcma")
        media = None
        if self.rtp_local is not None and self.rtp_remote is not None:
            media = BChannelPlan(self.rtp_local.address, self.rtp_remote.address, codec)
        timers = Q931Timers.defaults(self.side)
        if self.timers:
            timers = replace(timers, **self.timers)
        return Q931TrunkSettings(
            name=self.name,
            address=self.address.address,
            mode=self.mode,
            side=self.side,
            interface=self.interface,
            channels=self.channels,
            codec=codec,
            media=media,
            numbers=self.numbers,
            reconnect=self.reconnect,
            timers=timers,
            channel_preference=self.channel_preference,
            channel_order=self.channel_order,
            called_type=NUMBER_TYPES[self.called_type],
            called_plan=NUMBERING_PLANS[self.called_plan],
            calling_type=NUMBER_TYPES[self.calling_type],
            calling_plan=NUMBERING_PLANS[self.calling_plan],
            overlap=self.overlap,
        )


@dataclass(frozen=True, slots=True)
class StationSection:
    """An analog station line: a phone on a serial FXS board (docs/fxs-serial-protocol.md)."""

    name: str = setting(doc="line name (dial-peer pots ``port``, show calls)")
    device: str = setting(doc="socket://HOST:PORT, rfc2217://HOST:PORT or a serial device path")
    number: str = setting(doc="the E.164 number of the phone (caller ID, registration)")
    audio: Literal["serial", "external", "none"] = setting(
        default="serial", doc="voice framed on the serial link, on a sound card, or none")
    audio_codec: Literal["pcmu", "pcma"] = setting(default="pcmu",
                                                   doc="G.711 law of serial audio frames")
    ring_cadence: tuple[int, ...] = setting(default=(), doc="ms on/off pairs (board default)")
    raw_pulses: bool = setting(default=False,
                               doc="the board reports dial-pulse breaks; we count them")
    baud_rate: Annotated[int, InRange(1200, 4000000)] | None = setting(
        default=None, doc="serial speed (default 57600, 230400 with serial audio)")

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a station line needs a name", key="name")
        _check_device(self.device)
        _check_number(self.number, "number")
        if len(self.ring_cadence) % 2 or any(step <= 0 for step in self.ring_cadence):
            raise ConfigError("a cadence is on/off pairs of positive milliseconds",
                              key="ring-cadence")

    def line_config(self) -> FxsLineConfig:
        """What the FXS board driver (hardware/drivers/fxs_board.py) runs with."""
        return FxsLineConfig(line=self.name, ring_cadence=self.ring_cadence, audio=self.audio,
                             audio_codec=self.audio_codec, raw_pulses=self.raw_pulses)


def _check_device(device: str) -> None:
    """A serial line's ``device``: a path, or ``socket://`` / ``rfc2217://`` HOST:PORT."""
    if device.startswith(DEVICE_SCHEMES):
        try:
            SocketAddress.parse(device.split("://", 1)[1])
        except ValueError as exc:
            raise ConfigError(f"device {device!r}: {exc}", key="device") from None
    elif not device.startswith("/"):
        raise ConfigError("expected socket://HOST:PORT, rfc2217://HOST:PORT or /dev/...",
                          key="device")


@dataclass(frozen=True, slots=True)
class ModemSection:
    """An FXO line: a V.253 voice modem on a PBX extension or ATA port (docs/lab-guide.md).

    A call ringing on the line is routed to ``connection-plar`` (``number`` when absent), with
    the caller ID the modem reports as calling number; a pots dial-peer with ``port`` set to this
    line dials out on it."""

    name: str = setting(doc="line name (dial-peer pots ``port``, show calls)")
    device: str = setting(doc="serial device path, socket://HOST:PORT or rfc2217://HOST:PORT")
    number: str = setting(doc="the line's own number (pots dial-peers, registration)")
    connection_plar: str | None = setting(
        default=None, doc="where calls arriving on the line go (IOS connection plar); "
                          "default: number")
    profile: str = setting(default="v253",
                           doc=f"chipset quirks: {', '.join(sorted(MODEM_PROFILES))}")
    country_code: str | None = setting(default=None,
                                       doc="ITU-T T.35 country code for AT+GCI, two hex digits")
    prefer_alaw: bool = setting(default=False, doc="ask the modem for A-law before mu-law")
    caller_id_wait: Duration = setting(default=4.5,
                                       doc="after the first RING, wait this long for caller ID")
    silence_timeout: Duration | None = setting(
        default=20.0, doc="silence this long counts as the far end hanging up (none: never)")
    baud_rate: Annotated[int, InRange(1200, 4000000)] | None = setting(
        default=None, doc="serial speed (default: the profile's)")
    flow_control: Literal["none", "rtscts", "xonxoff"] = setting(default="none",
                                                                 doc="serial flow control")

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a modem line needs a name", key="name")
        _check_device(self.device)
        _check_number(self.number, "number")
        if self.connection_plar is not None:
            _check_number(self.connection_plar, "connection-plar")
        if self.profile.lower() not in MODEM_PROFILES:
            raise ConfigError(f"unknown modem profile (known: {', '.join(sorted(MODEM_PROFILES))})",
                              key="profile")
        self.line_config()

    def line_config(self) -> VoiceModemConfig:
        """What the voice-modem driver (hardware/drivers/voice_modem.py) runs with."""
        try:
            return VoiceModemConfig(line=self.name, number=self.connection_plar or self.number,
                                    quirks=MODEM_PROFILES[self.profile.lower()],
                                    country_code=self.country_code,
                                    prefer_alaw=self.prefer_alaw,
                                    caller_id_wait=self.caller_id_wait,
                                    silence_timeout=self.silence_timeout)
        except ConfigError as exc:
            key = {"country_code": "country-code"}.get(exc.key or "", "caller-id-wait")
            raise ConfigError(exc.message, key=key) from None


@dataclass(frozen=True, slots=True)
class DialPeers:
    """Cisco dial-peers: ``pots`` reach a line (``port``), ``voip`` a SIP destination."""

    pots: tuple[PotsDialPeer, ...] = setting(default=(), doc="dial-peer voice N pots")
    voip: tuple[VoipDialPeer, ...] = setting(default=(), doc="dial-peer voice N voip")


@dataclass(frozen=True, slots=True)
class RuleSetSection:
    """``voice translation-rule <number>`` written as a table: its number and its rule lines."""

    number: int = setting(doc="rule set number")
    rules: tuple[TranslationRule, ...] = setting(
        default=(), doc='IOS rule lines, e.g. "rule 1 /^9/ //"')

    def __post_init__(self) -> None:
        self.rule_set()

    def rule_set(self) -> TranslationRuleSet:
        return TranslationRuleSet(self.number, self.rules)


@dataclass(frozen=True, slots=True)
class TranslationSection:
    """Voice translation rules and profiles, as IOS text (``ios``) or structured, or both."""

    ios: IosTranslations | None = setting(default=None,
                                          doc="IOS 'voice translation-rule/-profile' blocks")
    rule: tuple[RuleSetSection, ...] = setting(default=(),
                                               doc="rule sets: number, rules (IOS lines)")
    profile: tuple[TranslationProfile, ...] = setting(default=(),
                                                      doc="profiles: name, called, calling")

    def tables(self) -> TranslationTables:
        rule_sets = [section.rule_set() for section in self.rule]
        profiles = list(self.profile)
        if self.ios is not None:
            rule_sets += self.ios.tables.rule_sets.values()
            profiles += self.ios.tables.profiles.values()
        return TranslationTables(rule_sets, profiles)

    def __post_init__(self) -> None:
        self.tables()  # duplicates and dangling references, reported at this table


@dataclass(frozen=True, slots=True)
class CauseMapSection:
    """Q.850 cause <-> SIP status mapping: a profile and IOS-style per-entry overrides."""

    profile: CauseProfile = setting(default=CauseProfile.RFC3398,
                                    doc="rfc3398, rfc4497 or cisco")
    pstn_cause: dict[int, int] = setting(default_factory=dict,
                                         doc="set pstn-cause C sip-status S: { 17 = 486 }")
    sip_status: dict[int, int] = setting(default_factory=dict,
                                         doc="set sip-status S pstn-cause C: { 503 = 34 }")

    def __post_init__(self) -> None:
        self.cause_map()

    def cause_map(self) -> CauseMap:
        return CauseMap(self.profile, tuple(sorted(self.pstn_cause.items())),
                        tuple(sorted(self.sip_status.items())))


@dataclass(frozen=True, slots=True)
class TimersSection:
    """Call timers (IOS ``timeouts initial|interdigit|ringing``, ``sip-ua expires``)."""

    initial_digit: Duration = setting(default=DEFAULT_INITIAL_TIMEOUT,
                                      doc="station lines: off hook without a digit")
    inter_digit: Duration = setting(default=DEFAULT_INTERDIGIT_TIMEOUT,
                                    doc="station lines / T patterns: pause ending the number")
    ring_no_answer: Duration = setting(default=180.0,
                                       doc="ringing this long unanswered: forward or cause 19")
    invite_expiry: Duration = setting(default=180.0,
                                      doc="Expires of our INVITEs; longest wait for an answer")
    connect: Duration = setting(default=10.0,
                                doc="wait for the line's CONNECT ACKNOWLEDGE before ACK anyway")
    bye_answer: Duration = setting(default=4.0,
                                   doc="longest a received BYE waits for the line to release")
    release: Duration = setting(default=30.0,
                                doc="longest a line may take to release after we cleared it")
    station_lockout: Duration = setting(default=60.0,
                                        doc="busy tone on a failed station call before clearing")

    def __post_init__(self) -> None:
        self.call_timers()

    def call_timers(self) -> CallTimers:
        return CallTimers(initial_digit=self.initial_digit, interdigit=self.inter_digit,
                          ring_no_answer=self.ring_no_answer, invite_expiry=self.invite_expiry,
                          connect=self.connect, bye_answer=self.bye_answer,
                          release=self.release, station_lockout=self.station_lockout)


@dataclass(frozen=True, slots=True)
class TollFraudSection:
    """Toll-fraud prevention: INVITEs from elsewhere than the voip peers' targets, the
    registrar and the SIP server are refused (403, cause 21) -- IOS ``ip address trusted``."""

    enabled: bool = setting(default=True, doc="refuse untrusted sources")
    trusted: tuple[str, ...] = setting(default=(), doc="extra trusted addresses or networks")

    def __post_init__(self) -> None:
        for index, entry in enumerate(self.trusted):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ConfigError(f"{entry!r} is not an IP address or network",
                                  key=f"trusted[{index}]") from None


@dataclass(frozen=True, slots=True)
class ServerTarget:
    """A SIP server by address: ``ipv4:HOST[:PORT]``, ``ipv6:[ADDR][:PORT]``, ``dns:NAME``."""

    target: SessionTarget = setting(doc="ipv4:HOST[:PORT], ipv6:[ADDR][:PORT] or dns:NAME[:PORT]")
    transport: Transport = setting(default="udp")

    def __post_init__(self) -> None:
        if self.target.host is None:
            raise ConfigError("needs an address (ipv4:, ipv6: or dns:)", key="target")

    def sip_target(self) -> SipTarget:
        assert self.target.host is not None
        return SipTarget(self.target.host, self.target.port or SIP_PORT, self.transport)


@dataclass(frozen=True, slots=True)
class RegistrationSection:
    """REGISTER the lines' E.164 numbers with a registrar (digest auth, refresh, back-off)."""

    registrar: SessionTarget = setting(doc="ipv4:HOST[:PORT], ipv6:[ADDR][:PORT] or dns:NAME")
    transport: Transport = setting(default="udp")
    numbers: tuple[str, ...] = setting(default=(),
                                       doc="numbers to register (default: every line's)")
    domain: str | None = setting(default=None, doc="host part of the AoR (default: registrar)")
    username: str | None = setting(default=None,
                                   doc="digest user name (default: each number)")
    password: str | None = setting(default=None, doc="digest password")
    expires: Annotated[int, InRange(1, 2**31 - 1)] = setting(
        default=3600, doc="requested binding lifetime (s)")
    refresh_margin: Duration = setting(default=32.0,
                                       doc="refresh this long before the binding runs out")
    retry_min: Duration = setting(default=5.0, doc="first retry after a failure")
    retry_max: Duration = setting(default=300.0, doc="retries double up to this")

    def __post_init__(self) -> None:
        if self.registrar.host is None:
            raise ConfigError("the registrar needs an address (ipv4:, ipv6: or dns:)",
                              key="registrar")
        _check_numbers(self.numbers, "numbers")
        if self.password is not None and not self.password:
            raise ConfigError("an empty password: leave the key out instead", key="password")
        if not 0 < self.retry_min <= self.retry_max:
            raise ConfigError("needs 0 < retry-min <= retry-max", key="retry-min")

    def sip_target(self) -> SipTarget:
        assert self.registrar.host is not None
        return SipTarget(self.registrar.host, self.registrar.port or SIP_PORT, self.transport)

    def settings(self) -> RegistrationSettings:
        return RegistrationSettings(
            numbers=self.numbers, domain=self.domain, username=self.username,
            password=self.password, expires=self.expires, refresh_margin=self.refresh_margin,
            retry_min=self.retry_min, retry_max=self.retry_max)


@dataclass(frozen=True, slots=True)
class CredentialSection:
    """IOS ``sip-ua`` / ``authentication username U password P realm R``: digest credentials
    for 401/407 challenges to the gateway's INVITEs, BYEs and INFOs.  An entry without realm
    answers any realm no other entry names; without a fitting entry the ``[registration]``
    user name and password are used."""

    username: str = setting(doc="digest user name")
    password: str = setting(doc="digest password")
    realm: str | None = setting(default=None, doc="the challenge realm it answers (default: any)")

    def __post_init__(self) -> None:
        for key, value in (("username", self.username), ("password", self.password),
                           ("realm", self.realm)):
            if value is not None and (not value or any(c in value for c in '"\r\n')):
                raise ConfigError("must be non-empty text without quotes or line breaks",
                                  key=key)

    def credential(self) -> SipCredential:
        return SipCredential(self.username, self.password, self.realm)


@dataclass(frozen=True, slots=True)
class ForwardingSection:
    """IOS ``call-forward busy|noan``: calls to ``number`` (empty: any of ours) that meet a busy
    line or ring unanswered go on to another number."""

    number: str = setting(default="", doc="called number (after translation); empty: all")
    busy: str | None = setting(default=None, doc="forward here when the line is busy")
    no_answer: str | None = setting(default=None, doc="forward here when ringing times out")

    def __post_init__(self) -> None:
        if self.number:
            _check_number(self.number, "number")
        if self.busy is None and self.no_answer is None:
            raise ConfigError("give busy and/or no-answer", key="busy")
        for key, target in (("busy", self.busy), ("no-answer", self.no_answer)):
            if target is not None:
                _check_number(target, key)

    def rule(self) -> ForwardRule:
        return ForwardRule(self.number, self.busy, self.no_answer)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """One gateway: SIP, media, lines, dial-peers and call-control policy."""

    name: str = setting(doc="node name in traces, logs and SIP headers")
    sip: SipSection = setting(doc="SIP endpoint")
    control: str | None = setting(default=None,
                                  doc="control channel HOST:PORT or unix:PATH (show commands)")
    tone_plan: str = setting(default="us", doc="us, etsi, uk, de: tones for station lines")
    media: MediaSection = setting(default=MediaSection(), doc="RTP")
    trunk: tuple[TrunkSection, ...] = setting(default=(), doc="Q.931 trunks")
    station: tuple[StationSection, ...] = setting(default=(), doc="analog station lines")
    modem: tuple[ModemSection, ...] = setting(default=(), doc="voice-modem (FXO) lines")
    dial_peer: DialPeers = setting(default=DialPeers(), key="dial-peer")
    translation: TranslationSection = setting(default=TranslationSection())
    cause_map: CauseMapSection = setting(default=CauseMapSection(), key="cause-map")
    timers: TimersSection = setting(default=TimersSection())
    toll_fraud: TollFraudSection = setting(default=TollFraudSection(), key="toll-fraud")
    registration: RegistrationSection | None = setting(default=None)
    sip_server: ServerTarget | None = setting(default=None, key="sip-server",
                                              doc="session-target sip-server (IOS sip-ua)")
    forwarding: tuple[ForwardingSection, ...] = setting(default=(), doc="call-forward rules")
    authentication: tuple[CredentialSection, ...] = setting(
        default=(), doc="digest credentials for challenged INVITEs (IOS sip-ua authentication)")
    forward_limit: Annotated[int, InRange(0, 10)] = setting(
        default=3, doc="times one call may be forwarded")

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a gateway needs a name", key="name")
        if self.tone_plan.lower() not in TONE_PLANS:
            raise ConfigError(f"unknown tone plan (known: {', '.join(sorted(TONE_PLANS))})",
                              key="tone-plan")
        if self.control is not None and not _control_address(self.control):
            raise ConfigError("expected HOST:PORT or unix:PATH", key="control")
        names: list[tuple[str, str]] = [(f"trunk[{i}].name", t.name)
                                        for i, t in enumerate(self.trunk)]
        names += [(f"station[{i}].name", s.name) for i, s in enumerate(self.station)]
        names += [(f"modem[{i}].name", m.name) for i, m in enumerate(self.modem)]
        seen: set[str] = set()
        for key, name in names:
            if name in seen:
                raise ConfigError(f"line name {name!r} is used twice", key=key)
            seen.add(name)
        for index, peer in enumerate(self.dial_peer.pots):
            if peer.port is not None and peer.port not in seen:
                raise ConfigError(f"no trunk, station or modem line named {peer.port!r} (lines: "
                                  f"{', '.join(sorted(seen)) or 'none'})",
                                  key=f"dial-peer.pots[{index}].port")
        for index, voip in enumerate(self.dial_peer.voip):
            if voip.session_target is None:
                raise ConfigError("a voip dial-peer needs a session-target",
                                  key=f"dial-peer.voip[{index}]")
            if voip.session_target.kind == "registrar" and self.registration is None:
                raise ConfigError("session-target registrar needs a [registration] section",
                                  key=f"dial-peer.voip[{index}].session-target")
            if voip.session_target.kind == "sip-server" and self.sip_server is None:
                raise ConfigError("session-target sip-server needs a [sip-server] section",
                                  key=f"dial-peer.voip[{index}].session-target")
        try:
            self.dial_plan()
        except ConfigError as exc:
            raise ConfigError(exc.message, key="dial-peer") from None
        realms: set[str | None] = set()
        for index, entry in enumerate(self.authentication):
            if entry.realm in realms:
                what = f"realm {entry.realm!r}" if entry.realm else "any realm (no realm given)"
                raise ConfigError(f"a second credential for {what}",
                                  key=f"authentication[{index}].realm")
            realms.add(entry.realm)
        self.plan()  # the core's own checks, at this table

    # --- what the runtime builds from it ------------------------------------------------------

    def dial_plan(self) -> DialPlan:
        peers: list[PotsDialPeer | VoipDialPeer] = [*self.dial_peer.pots, *self.dial_peer.voip]
        return DialPlan(peers, self.translation.tables())

    def plan(self, lines: tuple[LineInfo, ...] | None = None) -> GatewayPlan:
        """Call control's plan; ``lines`` are the adapters' own (default: from this file)."""
        return GatewayPlan(
            node=self.name,
            dial_plan=self.dial_plan(),
            lines=self.lines() if lines is None else lines,
            cause_map=self.cause_map.cause_map(),
            timers=self.timers.call_timers(),
            media=self.media.settings(),
            toll_fraud_protection=self.toll_fraud.enabled,
            trusted_sources=self.toll_fraud.trusted,
            registrar=None if self.registration is None else self.registration.sip_target(),
            registration=None if self.registration is None else self.registration.settings(),
            sip_server=None if self.sip_server is None else self.sip_server.sip_target(),
            forwarding=tuple(rule.rule() for rule in self.forwarding),
            forward_limit=self.forward_limit,
            credentials=tuple(entry.credential() for entry in self.authentication),
        )

    def lines(self) -> tuple[LineInfo, ...]:
        trunks = [LineInfo(t.name, "trunk", t.numbers, len(t.settings().b_channels()))
                  for t in self.trunk]
        stations = [LineInfo(s.name, "station", (s.number,)) for s in self.station]
        modems = [LineInfo(m.name, "fxo", (m.number,)) for m in self.modem]
        return (*trunks, *stations, *modems)

    def trunk_settings(self) -> tuple[Q931TrunkSettings, ...]:
        return tuple(trunk.settings() for trunk in self.trunk)

    def line_numbers(self) -> tuple[str, ...]:
        """Every E.164 number behind the gateway's lines, in configuration order."""
        numbers = [n for trunk in self.trunk for n in trunk.numbers]
        numbers += [station.number for station in self.station]
        numbers += [modem.number for modem in self.modem]
        return tuple(dict.fromkeys(numbers))


def load_gateway_config(path: str | os.PathLike[str]) -> GatewayConfig:
    """Read and validate a gateway file; every problem is a :class:`ConfigErrors` line."""
    return _load(read_document(path))


def load_gateway_text(text: str, *, file: str = "<config>") -> GatewayConfig:
    return _load(parse_toml(text, file=file))


def _load(document: Located) -> GatewayConfig:
    try:
        return load(GatewayConfig, document)
    except ConfigErrors as exc:
        placed = sorted((_place(error, document) for error in exc.errors),
                        key=lambda error: (error.line is not None, error.line or 0))
        raise ConfigErrors(placed, truncated=exc.truncated) from None


def _place(error: ConfigError, document: Located) -> ConfigError:
    """A cross-field error names its key (``dial-peer.pots[0].port``) but, raised from a
    table's check, carries that table's line: point it at the key's own line."""
    if error.key is None or error.file != document.file:
        return error
    node = document.get(*_key_parts(error.key))
    return node.error(error.message) if node is not None else error


def _key_parts(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for word in key.split("."):
        name, _, rest = word.partition("[")
        parts.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            if not index.isdigit():
                return []
            parts.append(int(index))
            rest = rest.removeprefix("[")
    return parts


def _control_address(text: str) -> bool:
    """The forms gateway/aio/control.py accepts: unix:PATH, HOST:PORT, tcp:HOST:PORT."""
    if text.startswith("unix:"):
        return len(text) > 5
    host, sep, port = text.removeprefix("tcp:").rpartition(":")
    return bool(sep and host and port.isdigit() and int(port) <= 65535)
