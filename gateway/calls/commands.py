"""What the gateway call control core says to its runtime, and what the media side tells it.

:class:`~gateway.calls.core.GatewayCore` is sans-IO: it never touches a line, a socket or an audio
path.  It hands out :data:`GatewayCommand` values from ``next_command()``:

* :data:`gateway.line.LineCommand` -- unchanged line commands (``OfferCall``, ``ProceedCall``,
  ``ClearCall`` ...); the runtime routes each by ``command.line`` to the adapter serving it;
* :data:`MediaCommand` -- start, steer and stop the media bridge of one call, identified by the
  ``call`` key (a string unique within one core), or play a call-progress tone toward a line;
* :class:`Notice` -- one human line for the gateway's console log;
* :class:`ResolveHost` -- look a host name up (a ``dns:`` session target); the runtime answers
  with ``core.host_resolved(name, address, now)``.

The runtime reports media happenings back with ``core.media_event(call, event, now)`` using the
:data:`MediaEvent` values below.  Snapshots (:class:`CallSnapshot`, :class:`LegSnapshot`,
:class:`RegistrationSnapshot`) feed ``show calls`` / ``show sip-ua register status``.

Voice path directions: ``to_line`` is audio from RTP toward the line (what the line's user hears),
``to_rtp`` audio from the line toward RTP.  Early media on the originating gateway opens
``to_line`` only; on the terminating gateway ``to_rtp`` only; answer opens both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.line import LineCodec, LineCommand
from gateway.sdp.offer_answer import NegotiatedStream

__all__ = [
    "CallSnapshot",
    "DigitFromMedia",
    "DtmfMode",
    "GatewayCommand",
    "JoinLines",
    "LegSnapshot",
    "MediaCommand",
    "MediaEvent",
    "MediaFailed",
    "MediaTimedOut",
    "Notice",
    "PlayToLine",
    "RegistrationSnapshot",
    "ResolveHost",
    "SendDigit",
    "SetVoicePath",
    "StartMedia",
    "StopMedia",
    "ToneName",
    "UpdateMedia",
]

# "sip-info": digits the line signals go out as SIP INFO (Cisco dtmf-relay sip-info), sent by
# call control itself; the bridge leaves the audio as it is ("inband" to it).
DtmfMode = Literal["rfc4733", "inband", "sip-info"]
DigitDelivery = Literal["inband", "signal"]
# Names of gateway.media.tones plans' tones ("congestion" is North America's "reorder").
ToneName = Literal["dial", "ringback", "busy", "congestion"]


# --------------------------------------------------------------------------- media commands


@dataclass(frozen=True, slots=True)
class StartMedia:
    """Create the media bridge of ``call`` between line call ``(line, ref)`` and RTP.

    ``local_address``/``local_port`` is where the SDP we sent says we receive RTP: bind exactly
    that (even) port, RTCP on the next one; report :class:`MediaFailed` when it cannot be bound.
    ``stream`` is the negotiated audio stream (remote address, payload types, telephone-event).
    ``dtmf_mode``: ``rfc4733`` relays digits as telephone-events, ``inband`` leaves them in the
    audio, ``sip-info`` too (the core sends the line's digits as SIP INFO, never through the
    bridge).  ``digits_to_line``: digits received as RFC 4733 events are played in-band toward the
    line (``inband``) or reported as :class:`DigitFromMedia` for the core to signal out of band
    (``signal``).  ``to_line``/``to_rtp`` open the voice path (see the module docstring).
    ``line_codec`` is the frame format of the line's audio.
    """

    call: str
    line: str
    ref: str
    local_port: int
    stream: NegotiatedStream
    dtmf_mode: DtmfMode
    digits_to_line: DigitDelivery
    to_line: bool
    to_rtp: bool
    line_codec: LineCodec
    local_address: str


@dataclass(frozen=True, slots=True)
class UpdateMedia:
    """The stream of ``call`` changed (a re-INVITE: hold, resume, new address or codec)."""

    call: str
    stream: NegotiatedStream


@dataclass(frozen=True, slots=True)
class SetVoicePath:
    """Open or close the voice path of ``call`` in each direction (early media, answer)."""

    call: str
    to_line: bool
    to_rtp: bool


@dataclass(frozen=True, slots=True)
class PlayToLine:
    """Play a call-progress tone toward line call ``(line, ref)`` of ``call``; ``None`` stops it.

    Only station lines get tones from the core (dial tone on off-hook, ringback on alerting
    without in-band progress, busy/congestion on failure); a trunk's PBX plays its own.  The tone
    replaces the RTP audio toward the line while it plays (media bridge ``set_line_source``), or
    uses a line-only player when the call has no bridge yet.
    """

    call: str
    tone: ToneName | None
    line: str
    ref: str


@dataclass(frozen=True, slots=True)
class SendDigit:
    """Send a DTMF digit of ``call`` through the media bridge.

    ``toward="rtp"``: as an RFC 4733 event (or in-band when the call's ``dtmf_mode`` is
    ``inband``), for a digit the line signalled out of band.  ``toward="line"``: play it in-band
    toward the line, for a digit that arrived by SIP INFO.  (Not to be confused with
    :class:`gateway.line.SendDigit`, the line command that signals a digit out of band.)
    """

    call: str
    digit: str
    toward: Literal["rtp", "line"]
    duration_ms: int = 100


@dataclass(frozen=True, slots=True)
class StopMedia:
    """Tear down everything media of ``call`` (bridge, RTP socket, tone player)."""

    call: str


@dataclass(frozen=True, slots=True)
class JoinLines:
    """Join the audio of two line calls of ``call`` (a hairpin): what one line says the other
    hears, both ways, converted between their codecs; :class:`StopMedia` parts them."""

    call: str
    line: str
    ref: str
    far_line: str
    far_ref: str


MediaCommand = (
    StartMedia | UpdateMedia | SetVoicePath | PlayToLine | SendDigit | StopMedia | JoinLines
)


@dataclass(frozen=True, slots=True)
class Notice:
    """One line for the gateway's console log (routing decisions, refusals, failures)."""

    text: str
    call: str | None = None


@dataclass(frozen=True, slots=True)
class ResolveHost:
    """Look ``name`` up (A/AAAA) and answer ``core.host_resolved(name, address or None, now)``.

    Asked once per name while no answer is cached; the core gives up on it after its
    ``name_lookup`` timer (the runtime's late answer still fills the cache).
    """

    name: str


GatewayCommand = LineCommand | MediaCommand | Notice | ResolveHost


# --------------------------------------------------------------------------- media events


@dataclass(frozen=True, slots=True)
class DigitFromMedia:
    """The bridge received a digit: from the ``line`` (heard in-band) or from ``rtp``."""

    digit: str
    origin: Literal["line", "rtp"]
    method: Literal["inband", "rfc4733"]
    duration_ms: int = 100


@dataclass(frozen=True, slots=True)
class MediaTimedOut:
    """No RTP arrived for the configured media timeout: the far end is gone."""


@dataclass(frozen=True, slots=True)
class MediaFailed:
    """The runtime could not set up or run the media of a call (port in use, device gone)."""

    reason: str


MediaEvent = DigitFromMedia | MediaTimedOut | MediaFailed


# --------------------------------------------------------------------------- snapshots


@dataclass(frozen=True, slots=True)
class LegSnapshot:
    """One leg of a call as ``show sip-ua calls`` lists it.

    ``kind`` line: ``peer`` is the line name, ``ident`` the line call ref.  ``kind`` sip:
    ``peer`` is the remote transport address (``host:port``), ``ident`` the SIP Call-ID.
    ``role``: ``incoming`` for the leg the call arrived on, ``outgoing`` for the one it went out
    on.  ``dial_peer`` is the matched dial-peer tag (0: the default peer).
    """

    kind: Literal["line", "sip"]
    role: Literal["incoming", "outgoing"]
    state: str
    peer: str
    ident: str
    dial_peer: int | None
    codec: str | None = None


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    """One call: its legs, numbers, media and timestamps (``now`` values of the core).

    ``phase`` is ``setup``, ``alerting``, ``active``, ``failed`` (a station hears busy tone until
    on-hook) or ``clearing``.  ``cause`` is the Q.850 cause the call is clearing with.
    """

    call: str
    direction: Literal["line-to-sip", "sip-to-line"]
    phase: str
    calling: str
    called: str
    legs: tuple[LegSnapshot, ...]
    started: float
    alerted: float | None
    answered: float | None
    cause: int | None
    codec: str | None
    local_rtp: tuple[str, int] | None
    remote_rtp: tuple[str, int] | None
    dtmf: DtmfMode | None
    attempts: int


RegistrationState = Literal["idle", "registering", "registered", "retrying", "rejected"]


@dataclass(frozen=True, slots=True)
class RegistrationSnapshot:
    """One registered number (like ``show sip-ua register status``).

    ``expires_at`` is when the registrar's binding runs out (while ``registered``);
    ``next_attempt`` when the client sends its next REGISTER (refresh or retry).
    """

    number: str
    aor: str
    registrar: str
    state: RegistrationState
    expires_at: float | None
    next_attempt: float | None
    last_status: int | None
    reason: str
    failures: int
