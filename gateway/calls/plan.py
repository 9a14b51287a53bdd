"""The gateway plan: everything the call control core needs to know, as one frozen value.

The runtime builds a :class:`GatewayPlan` from the configuration file; the core never reads
configuration itself.  Defaults follow Cisco IOS where IOS has one (``timeouts initial`` and
``timeouts interdigit`` 10 s, ``timeouts ringing`` 180 s, ``sip-ua expires`` 180 s,
``retry register`` back-off).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

from gateway.calls.causes import CauseMap
from gateway.calls.dialpeer import DialPlan
from gateway.calls.digits import DEFAULT_INITIAL_TIMEOUT, DEFAULT_INTERDIGIT_TIMEOUT
from gateway.errors import ConfigError
from gateway.line import LineCodec, LineInfo
from gateway.sip.routing import is_ip_address

__all__ = [
    "CallTimers",
    "ForwardRule",
    "GatewayPlan",
    "MediaSettings",
    "RegistrationSettings",
    "Resolver",
    "SipCredential",
    "SipTarget",
    "numeric_only",
]

# Maps a host name to a numeric address, or None when it cannot be resolved.  The sans-IO core
# never does DNS; the runtime may pass a resolver backed by a cache it fills asynchronously.
Resolver = Callable[[str], str | None]
SIP_PORT: Final = 5060


def numeric_only(host: str) -> str | None:
    """The default resolver: numeric addresses resolve to themselves, names to nothing."""
    return host if is_ip_address(host) else None


@dataclass(frozen=True, slots=True)
class SipTarget:
    """A SIP server the gateway talks to: ``sip-ua registrar`` / ``sip-server`` (IOS)."""

    host: str
    port: int = SIP_PORT
    transport: Literal["udp", "tcp"] = "udp"

    def __post_init__(self) -> None:
        if not self.host or " " in self.host:
            raise ConfigError(f"SIP server host {self.host!r} is not a host")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"SIP server port {self.port} is out of range 1-65535")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class CallTimers:
    """Call timers, in seconds.

    ``initial_digit`` / ``interdigit``: station digit collection (IOS ``timeouts initial`` /
    ``interdigit``).  ``ring_no_answer``: how long a call may ring before it is forwarded or
    cleared with cause 19 (IOS ``timeouts ringing``).  ``invite_expiry``: the ``Expires`` we put
    on INVITEs and the most we wait for their final response; also the cap on a received
    INVITE's own Expires (RFC 3261 s13.3.1: unanswered at expiry -> 487).  ``connect``: how long
    the originating gateway waits for its line's CONNECT ACKNOWLEDGE before it acknowledges the
    200 anyway and clears with cause 102 (the far side retransmits its 200 for 32 s only).
    ``bye_answer``: the most a received BYE waits for the line to release before it is answered
    (well inside the peer's 32 s Timer F).  ``release``: the most a line may take to report
    :class:`~gateway.line.LineReleased` after we cleared it before the core forgets the call.
    ``station_lockout``: how long a failed station call plays busy tone before the core clears
    the line (the adapter's own lock-out takes over).  ``name_lookup``: how long a call waits
    for the runtime to resolve a ``dns:`` session target before it hunts on.
    """

    initial_digit: float = DEFAULT_INITIAL_TIMEOUT
    interdigit: float = DEFAULT_INTERDIGIT_TIMEOUT
    ring_no_answer: float = 180.0
    invite_expiry: float = 180.0
    connect: float = 10.0
    bye_answer: float = 4.0
    release: float = 30.0
    station_lockout: float = 60.0
    name_lookup: float = 5.0

    def __post_init__(self) -> None:
        for name in (
            "initial_digit",
            "interdigit",
            "ring_no_answer",
            "invite_expiry",
            "connect",
            "bye_answer",
            "release",
            "station_lockout",
            "name_lookup",
        ):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(f"timer {name} must be positive, got {value!r}")


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """Where and how the gateway carries RTP.

    ``address`` goes in our SDP ``c=`` line; RTP ports are taken round robin from the even ports
    of ``port_min``..``port_max`` (RTCP on port + 1).  ``line_codec`` is the line audio format
    when the line does not say.  ``digits_to_line``: ``inband`` plays received RFC 4733 digits
    into the line audio, ``signal`` sends them as :class:`gateway.line.SendDigit`.
    """

    address: str = "127.0.0.1"
    port_min: int = 16384
    port_max: int = 32767
    line_codec: LineCodec = "pcmu"
    digits_to_line: Literal["inband", "signal"] = "inband"
    ptime: int = 20

    def __post_init__(self) -> None:
        if not is_ip_address(self.address):
            raise ConfigError(f"media address {self.address!r} must be a numeric IP address")
        if not (1024 <= self.port_min < self.port_max <= 65535):
            raise ConfigError(
                f"RTP port range {self.port_min}-{self.port_max} must lie within 1024-65535"
            )
        if self.ptime not in (10, 20, 30, 40):
            raise ConfigError(f"ptime {self.ptime} must be 10, 20, 30 or 40 ms")


@dataclass(frozen=True, slots=True)
class RegistrationSettings:
    """REGISTER the numbers of the gateway's lines with ``plan.registrar``.

    ``numbers``: the E.164 numbers to register (empty: every number of every line).
    ``domain``: the host part of the address of record (default: the registrar's host).
    ``username``/``password``: Digest credentials (``username`` None: each number is its own
    user name).  ``expires``: the binding lifetime we ask for; the client refreshes at half the
    granted time or ``refresh_margin`` seconds before it runs out, whichever comes first.
    Failures are retried after ``retry_min`` seconds, doubling up to ``retry_max``.
    """

    numbers: tuple[str, ...] = ()
    domain: str | None = None
    username: str | None = None
    password: str | None = None
    expires: int = 3600
    refresh_margin: float = 32.0
    retry_min: float = 5.0
    retry_max: float = 300.0

    def __post_init__(self) -> None:
        if not 1 <= self.expires <= 2**31 - 1:
            raise ConfigError(f"registration expires {self.expires} must be positive")
        if not 0 < self.retry_min <= self.retry_max:
            raise ConfigError("registration retry needs 0 < retry-min <= retry-max")
        if self.refresh_margin < 0:
            raise ConfigError("registration refresh margin cannot be negative")


@dataclass(frozen=True, slots=True)
class SipCredential:
    """Digest credentials for requests the gateway originates (IOS ``sip-ua`` /
    ``authentication username U password P realm R``).

    ``realm`` None: used for any realm no other credential names.
    """

    username: str
    password: str
    realm: str | None = None

    def __post_init__(self) -> None:
        if not self.username:
            raise ConfigError("a SIP credential needs a user name")
        if not self.password:
            raise ConfigError(f"SIP credential {self.username!r} needs a password")
        if self.realm is not None and not self.realm:
            raise ConfigError(f"SIP credential {self.username!r}: empty realm")


@dataclass(frozen=True, slots=True)
class ForwardRule:
    """Cisco ``call-forward``: a call to ``number`` that meets a busy line or is not answered
    goes on to another number.  ``number`` is the called number after inbound translation;
    an empty ``number`` applies to every call.

    The gateway re-routes by itself, no 3xx is sent: on the terminating gateway the INVITE
    stays pending (it sees 181 Call Is Being Forwarded) while the call is offered on the line
    the forward number routes to; on the originating gateway a new INVITE goes to the voip
    peer of the forward number.  Forwarding stays on the same side (pots to pots, voip to
    voip) and happens at most ``GatewayPlan.forward_limit`` times per call.
    """

    number: str = ""
    on_busy: str | None = None
    on_no_answer: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayPlan:
    """Everything the core knows about its gateway (built by the runtime from configuration).

    ``lines``: every line the adapters serve (name, kind, numbers, channels).
    ``trusted_sources``: addresses or networks (``10.0.0.0/24``) besides the dial-peer session
    targets, the registrar and the SIP server from which INVITEs are accepted while
    ``toll_fraud_protection`` is on (IOS ``ip address trusted list``).  ``forward_limit`` caps
    how many times one call is forwarded.  ``credentials`` answer digest challenges to the
    requests of our calls (by realm; the registration's user and password are the default).
    ``resolver`` answers host names at once (a static table; numeric addresses only by
    default); with ``lookup_names`` the names it does not know are asked of the runtime
    (:class:`~gateway.calls.commands.ResolveHost`) at call time and its answers, found or not,
    are kept ``name_ttl`` seconds.
    """

    node: str
    dial_plan: DialPlan
    lines: tuple[LineInfo, ...]
    cause_map: CauseMap = field(default_factory=CauseMap)
    timers: CallTimers = field(default_factory=CallTimers)
    media: MediaSettings = field(default_factory=MediaSettings)
    toll_fraud_protection: bool = True
    trusted_sources: tuple[str, ...] = ()
    registrar: SipTarget | None = None
    registration: RegistrationSettings | None = None
    sip_server: SipTarget | None = None
    forwarding: tuple[ForwardRule, ...] = ()
    forward_limit: int = 3
    resolver: Resolver = numeric_only
    credentials: tuple[SipCredential, ...] = ()
    lookup_names: bool = False
    name_ttl: float = 30.0

    def __post_init__(self) -> None:
        names = [line.name for line in self.lines]
        if len(set(names)) != len(names):
            raise ConfigError("two lines have the same name")
        for line in self.lines:
            if line.channels < 1:
                raise ConfigError(f"line {line.name}: channels must be at least 1")
        for source in self.trusted_sources:
            try:
                ipaddress.ip_network(source, strict=False)
            except ValueError:
                raise ConfigError(
                    f"trusted source {source!r} is not an address or network"
                ) from None
        if self.registration is not None and self.registrar is None:
            raise ConfigError("registration needs a registrar")
        if self.forward_limit < 0:
            raise ConfigError("forward_limit cannot be negative")
        if not self.name_ttl >= 0:
            raise ConfigError("name_ttl cannot be negative")
        realms = [credential.realm for credential in self.credentials]
        if len(set(realms)) != len(realms):
            raise ConfigError("two SIP credentials are for the same realm")

    def line(self, name: str) -> LineInfo | None:
        for line in self.lines:
            if line.name == name:
                return line
        return None

    def forwarding_for(self, number: str) -> ForwardRule | None:
        """The forwarding rule for a called number (an exact rule wins over the catch-all)."""
        fallback = None
        for rule in self.forwarding:
            if rule.number == number:
                return rule
            if not rule.number and fallback is None:
                fallback = rule
        return fallback
