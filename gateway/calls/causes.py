"""Q.850 cause <-> SIP status mapping, RFC 3326 Reason headers and ``show sip-ua map`` output.

Three profiles ship (tables in :mod:`gateway.calls.cause_tables`):

* ``rfc3398`` (default): ISUP-SIP, RFC 3398 s7.2.4.1 (cause -> status, unlisted -> 500) and
  s8.2.6.1 (status -> cause, unlisted -> 31; 6xx carry location 'user', 4xx/5xx 'network').
  Cause 16 has no status (the call is cleared with BYE/CANCEL; if an INVITE must still be answered
  the default applies, RFC 4497 NOTE 3); cause 44 must produce no status at all -- the switch
  re-selects a circuit (:meth:`CauseMap.needs_circuit_reselection`).  21 becomes 603 when the cause
  location is 'user' (the RFC's optional "(+)" rule, applied); 22 becomes 301 when the diagnostic
  carries a new number.  488/606 map to 65 when a Warning reports a media problem, else 31.
* ``rfc4497``: QSIG-SIP, Table 1/Table 2.  As RFC 3398 but 26/111/127 unlisted (so 500, the same
  value), 69 -> 501, no special treatment of 44, and 'private network serving the remote user' as
  the location of 4xx/5xx causes.
* ``cisco``: the Cisco IOS ``sip-ua`` default tables ("SIP - Configurable PSTN Cause Code
  Mapping").  Differences from RFC 3398, cause -> status: 18 -> 480 (not 408), 27 -> 404 (not 502),
  31 -> 404 (not 480), 58/65 -> 501, 70 -> 500, 87 -> 503, 88/95/111 -> 400, 102 -> 408 (not 504),
  23 -> 500 (unlisted), 127 -> 500 (same value, unlisted); status -> cause: 400/405/406/481-483/
  487/488 -> 127, 401/403 -> 57, 409 -> 41, 410 -> 1, 503 -> 63, 580 -> 47, 606 -> 58 and an
  assumed default of 127 for unlisted statuses.

Per-entry overrides (IOS ``set pstn-cause C sip-status S`` / ``set sip-status S pstn-cause C``)
apply on top of any profile and show in the "Configured" column of
:meth:`CauseMap.render_pstn_sip` and :meth:`CauseMap.render_sip_pstn`, which print the active
table like ``show sip-ua map``.

A Q.850 cause received in a ``Reason`` header (RFC 3326) wins over the table: it is the cause the
far side actually saw.  :class:`Reason` builds and parses those headers; parsing tolerates case,
spacing, unquoted text and unknown parameters and raises nothing but ``RemoteProtocolError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Final

from gateway.calls import cause_tables as tables
from gateway.errors import ConfigError, LocalProtocolError, RemoteProtocolError

NORMAL_CALL_CLEARING: Final = 16
REQUESTED_CIRCUIT_NOT_AVAILABLE: Final = 44
BEARER_CAPABILITY_NOT_IMPLEMENTED: Final = 65
# RFC 3261 s20.43 warn-codes that say the offered media cannot be carried -- the SIP counterpart of
# an unavailable bearer capability (RFC 3398 s8.2.6.1 / RFC 4497 NOTE 8).
MEDIA_WARNING_CODES: Final = frozenset({304, 305})
CLEARING_REQUESTS: Final = frozenset({"BYE", "CANCEL"})


class CauseLocation(IntEnum):
    """Q.850 s2.2.5 location field of a Cause information element."""

    USER = 0
    PRIVATE_NETWORK_LOCAL_USER = 1
    PUBLIC_NETWORK_LOCAL_USER = 2
    TRANSIT_NETWORK = 3
    PUBLIC_NETWORK_REMOTE_USER = 4
    PRIVATE_NETWORK_REMOTE_USER = 5
    INTERNATIONAL_NETWORK = 7
    BEYOND_INTERWORKING_POINT = 10


class CauseProfile(StrEnum):
    RFC3398 = "rfc3398"
    RFC4497 = "rfc4497"
    CISCO = "cisco"


def cause_name(cause: int) -> str:
    """The Q.850 name of ``cause`` ("Cause N" for values Q.850 does not assign)."""
    return tables.Q850_CAUSE_NAMES.get(cause, f"Cause {cause}")


@dataclass(frozen=True, slots=True)
class _ProfileTables:
    cause_to_status: Mapping[int, int]
    default_status: int
    status_to_cause: Mapping[int, int]
    by_warning: frozenset[int]
    default_cause: int
    network_location: CauseLocation
    # RFC-only refinements: 21 -> 603 for location 'user', 22 -> 301 with a diagnostic.
    rfc_refinements: bool
    reselect_on_44: bool


_PROFILES: Final = MappingProxyType(
    {
        CauseProfile.RFC3398: _ProfileTables(
            tables.RFC3398_CAUSE_TO_STATUS,
            tables.RFC3398_DEFAULT_STATUS,
            tables.RFC3398_STATUS_TO_CAUSE,
            tables.RFC3398_BY_WARNING,
            tables.RFC3398_DEFAULT_CAUSE,
            # RFC 3398 only says 'network'; the cause arose beyond the gateway's interworking point.
            CauseLocation.BEYOND_INTERWORKING_POINT,
            rfc_refinements=True,
            reselect_on_44=True,
        ),
        CauseProfile.RFC4497: _ProfileTables(
            tables.RFC4497_CAUSE_TO_STATUS,
            tables.RFC3398_DEFAULT_STATUS,
            tables.RFC4497_STATUS_TO_CAUSE,
            tables.RFC4497_BY_WARNING,
            tables.RFC3398_DEFAULT_CAUSE,
            CauseLocation.PRIVATE_NETWORK_REMOTE_USER,  # RFC 4497 s8.4.2
            rfc_refinements=True,
            reselect_on_44=False,
        ),
        CauseProfile.CISCO: _ProfileTables(
            tables.CISCO_CAUSE_TO_STATUS,
            tables.CISCO_DEFAULT_STATUS,
            tables.CISCO_STATUS_TO_CAUSE,
            frozenset(),
            tables.CISCO_DEFAULT_CAUSE,
            CauseLocation.BEYOND_INTERWORKING_POINT,
            rfc_refinements=False,
            reselect_on_44=False,
        ),
    }
)

# IOS accepts these ranges in "set pstn-cause" / "set sip-status".
CAUSE_RANGE: Final = range(1, 128)
STATUS_RANGE: Final = range(400, 700)


@dataclass(frozen=True, slots=True)
class CauseMap:
    """The active cause/status mapping: a profile plus per-entry overrides.

    ``pstn_cause_overrides`` holds ``(cause, status)`` pairs (IOS ``set pstn-cause``) and
    ``sip_status_overrides`` holds ``(status, cause)`` pairs (IOS ``set sip-status``).
    """

    profile: CauseProfile = CauseProfile.RFC3398
    pstn_cause_overrides: tuple[tuple[int, int], ...] = ()
    sip_status_overrides: tuple[tuple[int, int], ...] = ()
    _tables: _ProfileTables = field(init=False, repr=False, compare=False)
    _cause_override: Mapping[int, int] = field(init=False, repr=False, compare=False)
    _status_override: Mapping[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tables", _PROFILES[CauseProfile(self.profile)])
        for cause, status in self.pstn_cause_overrides:
            _check_pair(cause, status, key=f"pstn-cause.{cause}")
        for status, cause in self.sip_status_overrides:
            _check_pair(cause, status, key=f"sip-status.{status}")
        object.__setattr__(self, "_cause_override", dict(self.pstn_cause_overrides))
        object.__setattr__(self, "_status_override", dict(self.sip_status_overrides))

    @classmethod
    def from_config(
        cls,
        profile: str = "rfc3398",
        overrides: Mapping[str, Mapping[int | str, int | str]] | None = None,
    ) -> CauseMap:
        """Build from config values, e.g. ``{"pstn-cause": {17: 486}, "sip-status": {503: 34}}``.

        TOML keys are strings, so keys and values may be decimal strings.  Errors name the key.
        """
        try:
            chosen = CauseProfile(profile)
        except ValueError:
            names = ", ".join(p.value for p in CauseProfile)
            raise ConfigError(
                f"unknown cause-map profile {profile!r} (expected one of: {names})", key="profile"
            ) from None
        overrides = overrides or {}
        unknown = sorted(set(overrides) - {"pstn-cause", "sip-status"})
        if unknown:
            raise ConfigError(
                f"unknown override table {unknown[0]!r} (expected pstn-cause or sip-status)",
                key=unknown[0],
            )
        pstn = tuple(
            (_as_int(k, f"pstn-cause.{k}"), _as_int(v, f"pstn-cause.{k}"))
            for k, v in overrides.get("pstn-cause", {}).items()
        )
        sip = tuple(
            (_as_int(k, f"sip-status.{k}"), _as_int(v, f"sip-status.{k}"))
            for k, v in overrides.get("sip-status", {}).items()
        )
        return cls(chosen, tuple(sorted(pstn)), tuple(sorted(sip)))

    # --- PSTN -> SIP --------------------------------------------------------------------------

    def default_status_for_cause(
        self,
        cause: int,
        *,
        location: CauseLocation | None = None,
        new_number_known: bool = False,
    ) -> int:
        """The profile's status for ``cause``, ignoring overrides (the "Default" column)."""
        t = self._tables
        if t.rfc_refinements:
            if cause == 21 and location is CauseLocation.USER:
                return tables.CALL_REJECTED_BY_USER_STATUS
            if cause == 22 and new_number_known:
                return tables.RFC3398_NUMBER_CHANGED_WITH_DIAGNOSTIC
        return t.cause_to_status.get(cause, t.default_status)

    def status_for_cause(
        self,
        cause: int,
        *,
        location: CauseLocation | None = None,
        new_number_known: bool = False,
    ) -> int:
        """The SIP final status to answer an INVITE with when the line side clears with ``cause``.

        ``location`` is the Cause IE location (21 from the user becomes 603 in the RFC profiles);
        ``new_number_known`` says the cause-22 diagnostic gave a number for a Contact (-> 301).
        An established call cleared with cause 16 is a BYE, not a status: call this only when an
        INVITE is still unanswered.
        """
        override = self._cause_override.get(cause)
        if override is not None:
            return override
        return self.default_status_for_cause(
            cause, location=location, new_number_known=new_number_known
        )

    def needs_circuit_reselection(self, cause: int) -> bool:
        """True for cause 44 under RFC 3398: retry on another channel instead of answering SIP."""
        return self._tables.reselect_on_44 and cause == REQUESTED_CIRCUIT_NOT_AVAILABLE

    # --- SIP -> PSTN --------------------------------------------------------------------------

    def default_cause_for_status(self, status: int, *, warning_codes: Iterable[int] = ()) -> int:
        """The profile's cause for a final ``status`` >= 300, ignoring overrides and Reason."""
        if not 300 <= status <= 699:
            raise LocalProtocolError(f"only final non-2xx statuses map to causes, got {status}")
        t = self._tables
        if status in t.by_warning:
            if MEDIA_WARNING_CODES.intersection(warning_codes):
                return BEARER_CAPABILITY_NOT_IMPLEMENTED
            return t.default_cause
        return t.status_to_cause.get(status, t.default_cause)

    def cause_for_status(
        self,
        status: int,
        *,
        warning_codes: Iterable[int] = (),
        reasons: Iterable[Reason] = (),
    ) -> int:
        """The Q.850 cause to clear the line with when an INVITE fails with ``status``.

        A Q.850 cause in a ``Reason`` of the response wins (RFC 3326 s2); then the configured
        override; then the profile table (488/606 by ``warning_codes``); then the default.
        """
        from_reason = q850_cause_of(reasons)
        if from_reason is not None:
            return from_reason
        override = self._status_override.get(status)
        if override is not None:
            return override
        return self.default_cause_for_status(status, warning_codes=warning_codes)

    def cause_for_request(self, method: str, *, reasons: Iterable[Reason] = ()) -> int:
        """The cause for a call cleared by a BYE or CANCEL: 16, or the Reason's Q.850 cause."""
        if method.upper() not in CLEARING_REQUESTS:
            raise LocalProtocolError(f"{method} does not clear a call")
        from_reason = q850_cause_of(reasons)
        return NORMAL_CALL_CLEARING if from_reason is None else from_reason

    def location_for_status(self, status: int) -> CauseLocation:
        """Cause location for a status-derived cause: 'user' for 6xx, the network otherwise."""
        if 600 <= status <= 699:
            return CauseLocation.USER
        return self._tables.network_location

    # --- show sip-ua map ----------------------------------------------------------------------

    def render_pstn_sip(self) -> str:
        """The active cause -> status table, like IOS ``show sip-ua map pstn-sip``."""
        lines = [
            "PSTN-Cause   Configured        Default",
            "             SIP-Status       SIP-Status",
        ]
        for cause in CAUSE_RANGE:
            configured = self.status_for_cause(cause)
            default = self.default_status_for_cause(cause)
            lines.append(f"{cause:<16}{configured:<16}{default}")
        return "\n".join(lines) + "\n"

    def render_sip_pstn(self) -> str:
        """The active status -> cause table, like IOS ``show sip-ua map sip-pstn``."""
        t = self._tables
        statuses = sorted(
            set(t.status_to_cause) | t.by_warning | set(self._status_override) | {487}
        )
        lines = [
            "SIP-Status   Configured        Default",
            "             PSTN-Cause      PSTN-Cause",
        ]
        for status in statuses:
            marker = "*" if status in t.by_warning else ""
            configured = f"{self.cause_for_status(status)}{marker}"
            default = f"{self.default_cause_for_status(status)}{marker}"
            lines.append(f"{status:<16}{configured:<16}{default}")
        lines.append(f"Any other status: {t.default_cause}")
        if t.by_warning:
            lines.append(
                f"* {BEARER_CAPABILITY_NOT_IMPLEMENTED} when a Warning reports an unavailable "
                "media type or format (warn-code 304/305)"
            )
        return "\n".join(lines) + "\n"


def _as_int(value: int | str, key: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"expected a number, got {value!r}", key=key)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.isdigit() or len(text) > 3:
        raise ConfigError(f"expected a number, got {value!r}", key=key)
    return int(text)


def _check_pair(cause: int, status: int, *, key: str) -> None:
    if cause not in CAUSE_RANGE:
        raise ConfigError(f"PSTN cause must be 1-127, got {cause}", key=key)
    if status not in STATUS_RANGE:
        raise ConfigError(f"SIP status must be 400-699, got {status}", key=key)


# --- RFC 3326 Reason ----------------------------------------------------------------------------

_TOKEN_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
)
_MAX_CAUSE_DIGITS: Final = 6


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason-value of a ``Reason`` header (RFC 3326 s2).

    ``protocol`` is kept as written ("Q.850", "SIP", or another token); ``extensions`` are the
    other parameters in order.  ``raw`` holds the exact bytes a parsed value came from, so it
    serializes back byte for byte; built values (and ``dataclasses.replace`` copies, which drop
    ``raw``) serialize canonically.
    """

    protocol: str
    cause: int | None = None
    text: str | None = None
    extensions: tuple[tuple[str, str | None], ...] = ()
    raw: bytes | None = field(default=None, init=False, compare=False, repr=False)

    @classmethod
    def q850(cls, cause: int, text: str | None = None) -> Reason:
        """``Q.850;cause=N;text="<Q.850 name>"`` for a cause we send."""
        if not 0 <= cause <= 127:
            raise LocalProtocolError(f"Q.850 cause must be 0-127, got {cause}")
        return cls("Q.850", cause, cause_name(cause) if text is None else text)

    @property
    def is_q850(self) -> bool:
        return self.protocol.upper() == "Q.850"

    def __bytes__(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if not self.protocol or not _TOKEN_CHARS.issuperset(self.protocol):
            raise LocalProtocolError(f"Reason protocol must be a token, got {self.protocol!r}")
        out = [self.protocol]
        if self.cause is not None:
            out.append(f";cause={self.cause}")
        if self.text is not None:
            out.append(f";text={_quote(self.text)}")
        for name, value in self.extensions:
            out.append(f";{name}" if value is None else f";{name}={value}")
        return "".join(out).encode("utf-8")

    def __str__(self) -> str:
        return bytes(self).decode("utf-8", errors="replace")

    @classmethod
    def parse(cls, value: str | bytes) -> tuple[Reason, ...]:
        """All reason-values of one ``Reason`` header value (comma-separated).

        Raises ``RemoteProtocolError`` (``status_hint=None``: a bad Reason is logged, never a
        reason to reject the request it came in) and nothing else.
        """
        data = value.encode("utf-8", errors="replace") if isinstance(value, str) else bytes(value)
        # Parse over latin-1 (one character per byte) so every span maps back to its exact bytes.
        text = data.decode("latin-1")
        reasons: list[Reason] = []
        for start, end in _split_outside_quotes(text, ","):
            piece = text[start:end].strip()
            if piece:
                reasons.append(_parse_reason_value(piece))
        if not reasons:
            raise _reason_error("empty Reason header")
        return tuple(reasons)


def q850_cause_of(reasons: Iterable[Reason]) -> int | None:
    """The first Q.850 cause (0-127) among ``reasons``, or None."""
    for reason in reasons:
        if reason.is_q850 and reason.cause is not None and 0 <= reason.cause <= 127:
            return reason.cause
    return None


def q850_cause_from_headers(values: Iterable[str | bytes]) -> int | None:
    """The Q.850 cause of the first parseable ``Reason`` header value that has one.

    Unparseable values are skipped: a broken Reason never stops a call from clearing.
    """
    for value in values:
        try:
            cause = q850_cause_of(Reason.parse(value))
        except RemoteProtocolError:
            continue
        if cause is not None:
            return cause
    return None


def _reason_error(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"bad Reason header: {message}", status_hint=None)


def _quote(text: str) -> str:
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise LocalProtocolError("Reason text must not contain control characters")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _split_outside_quotes(text: str, separator: str) -> list[tuple[int, int]]:
    """Spans of ``text`` between ``separator`` characters that are not inside a quoted-string."""
    spans: list[tuple[int, int]] = []
    start = 0
    in_quotes = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_quotes:
            if ch == "\\":
                i += 1  # quoted-pair (RFC 3261 s25.1): the next character is literal
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == separator:
            spans.append((start, i))
            start = i + 1
        i += 1
    if in_quotes:
        raise _reason_error("unterminated quoted string")
    spans.append((start, len(text)))
    return spans


def _unquote(value: str) -> str:
    if len(value) < 2 or not (value.startswith('"') and value.endswith('"')):
        return value  # forgiving: an unquoted token is taken as the text itself
    body = value[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            i += 1
        out.append(body[i])
        i += 1
    return "".join(out)


def _parse_reason_value(piece: str) -> Reason:
    parts = [piece[s:e].strip() for s, e in _split_outside_quotes(piece, ";")]
    protocol = parts[0]
    if not protocol or not _TOKEN_CHARS.issuperset(protocol):
        raise _reason_error(f"protocol {protocol!r} is not a token")
    cause: int | None = None
    text: str | None = None
    extensions: list[tuple[str, str | None]] = []
    for part in parts[1:]:
        if not part:
            continue  # forgiving: stray ';'
        name, sep, raw_value = part.partition("=")
        name = name.strip()
        value = raw_value.strip() if sep else None
        if not name or not _TOKEN_CHARS.issuperset(name):
            raise _reason_error(f"parameter name {name!r} is not a token")
        lowered = name.lower()
        if lowered == "cause" and cause is None:
            if value is None or not value.isascii() or not value.isdigit():
                raise _reason_error(f"cause {value!r} is not a number")
            if len(value) > _MAX_CAUSE_DIGITS:
                raise _reason_error("cause out of range")
            cause = int(value)
        elif lowered == "text" and text is None and value is not None:
            text = _from_wire(_unquote(value))
        else:
            extensions.append((name, None if value is None else _from_wire(value)))
    reason = Reason(protocol, cause, text, tuple(extensions))
    object.__setattr__(reason, "raw", piece.encode("latin-1"))
    return reason


def _from_wire(latin1_text: str) -> str:
    """Text parsed over latin-1 back to the UTF-8 characters it encodes (RFC 3261 s7.3.1)."""
    return latin1_text.encode("latin-1").decode("utf-8", errors="replace")
