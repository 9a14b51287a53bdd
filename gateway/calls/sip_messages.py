"""Reading and writing the SIP side of a gateway call: numbers, INVITEs, SDP bodies, causes.

* :func:`parties_of` -- the called and calling numbers of a received INVITE (Request-URI user
  part; From, or P-Asserted-Identity under ``Privacy: id``, RFC 3325 s9.3);
* :func:`build_invite` -- our INVITE for an outbound route, with the SDP offer, ``Expires``
  (RFC 3261 s13.2.1) and, for a caller who withheld the number, an anonymous From plus
  ``P-Asserted-Identity`` and ``Privacy: id`` (RFC 3323 s4.1.1.3, RFC 3325);
* :func:`sdp_of` -- the session description a message carries, if any;
* :func:`reasons_of` / :func:`warning_codes` -- what a response or BYE/CANCEL says about why
  (RFC 3326 Reason, RFC 3261 s20.43 Warning).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from gateway.calls.causes import Reason
from gateway.errors import RemoteProtocolError
from gateway.sdp.description import SessionDescription
from gateway.sip.address import Address
from gateway.sip.message import Request, Response
from gateway.sip.routing import hostport
from gateway.sip.uas_checks import UasCapabilities
from gateway.sip.uri import SipUri, TelUri, Uri

__all__ = [
    "ALLOW",
    "DTMF_RELAY",
    "GATEWAY_CAPABILITIES",
    "SDP",
    "Parties",
    "build_invite",
    "parties_of",
    "reasons_of",
    "sdp_of",
    "warning_codes",
]

SDP: Final = "application/sdp"
DTMF_RELAY: Final = "application/dtmf-relay"  # Cisco ``dtmf-relay sip-info`` bodies
ALLOW: Final = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
# What a gateway's SipEndpoint should accept (EndpointConfig.capabilities): the methods the
# core answers and the bodies it reads.
GATEWAY_CAPABILITIES: Final = UasCapabilities.of(
    methods=("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO"),
    content_types=(SDP, DTMF_RELAY),
)
ANONYMOUS_FROM: Final = '"Anonymous" <sip:anonymous@anonymous.invalid>'
_VISUAL_SEPARATORS: Final = str.maketrans("", "", "-.() ")


class InviteFactory(Protocol):
    """What :func:`build_invite` needs from the endpoint (``SipEndpoint.new_request``)."""

    def new_request(
        self,
        method: str,
        uri: str,
        *,
        from_: str,
        to: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Request: ...


@dataclass(frozen=True, slots=True)
class Parties:
    called: str
    calling: str
    calling_name: str | None
    presentation_allowed: bool


def _number_of(uri: Uri) -> str:
    """The dialled digits a URI names: the user part (visual separators dropped)."""
    if isinstance(uri, TelUri):
        return uri.digits
    if isinstance(uri, SipUri) and uri.user is not None:
        user = uri.user.partition(";")[0]  # user-params (RFC 3261 s19.1.6: ;phone-context)
        return user.translate(_VISUAL_SEPARATORS)
    return ""


def parties_of(request: Request) -> Parties:
    """Called/calling numbers of a received INVITE; RemoteProtocolError for broken URIs."""
    called = _number_of(request.uri)
    sender = request.from_
    calling = _number_of(sender.uri)
    name = sender.display_name
    privacy = {
        token.strip().lower()
        for value in request.headers.get_all("privacy")
        for token in value.split(";")
    }
    withheld = "id" in privacy or calling == "anonymous"
    asserted = request.headers.get("p-asserted-identity")
    if asserted is not None:
        try:
            identity = Address.parse(asserted.split(",")[0].strip())
            calling = _number_of(identity.uri) or calling
            name = identity.display_name or name
        except RemoteProtocolError:
            pass  # an unreadable assertion is ignored, never a reason to refuse the call
    if calling == "anonymous":
        calling = ""
    return Parties(called, calling, name, not withheld)


def build_invite(
    endpoint: InviteFactory,
    *,
    called: str,
    calling: str,
    calling_name: str | None,
    presentation_allowed: bool,
    target: tuple[str, int],
    local_host: str,
    sdp: bytes,
    expires: int,
) -> Request:
    """Our INVITE to ``called`` at ``target`` with the SDP offer ``sdp``."""
    host = hostport(target[0], target[1])
    uri = f"sip:{_user(called)}@{host}"
    identity = f"<sip:{_user(calling)}@{hostport(local_host)}>" if calling else None
    display = f'"{_quoted(calling_name)}" ' if calling_name else ""
    headers: list[tuple[str, str]] = [("Expires", str(expires)), ("Allow", ALLOW)]
    if presentation_allowed:
        from_ = f"{display}{identity}" if identity else ANONYMOUS_FROM
    else:
        from_ = ANONYMOUS_FROM
        if identity:
            headers += [("P-Asserted-Identity", f"{display}{identity}"), ("Privacy", "id")]
    return endpoint.new_request(
        "INVITE",
        uri,
        from_=from_,
        to=f"<{uri}>",
        headers=headers,
        body=sdp,
        content_type=SDP,
    )


def _user(digits: str) -> str:
    """Digits as a SIP URI user part: '#' is not allowed there unescaped (RFC 3261 s25.1)."""
    return digits.replace("#", "%23")


def _quoted(text: str) -> str:
    cleaned = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    return cleaned.replace("\\", "\\\\").replace('"', '\\"')


def sdp_of(message: Request | Response) -> SessionDescription | None:
    """The SDP in a message body; None without one.  RemoteProtocolError when it is broken."""
    if not message.body:
        return None
    content_type = message.content_type
    if content_type is not None and content_type.mime != SDP:
        raise RemoteProtocolError(f"body is {content_type.mime}, not {SDP}", 415)
    return SessionDescription.parse(message.body)


def reasons_of(message: Request | Response) -> tuple[Reason, ...]:
    """Every readable reason-value of a message's Reason headers (RFC 3326); a broken Reason
    is skipped, never a reason to refuse or keep a call."""
    found: list[Reason] = []
    for value in message.headers.get_all("reason"):
        try:
            found.extend(Reason.parse(value))
        except RemoteProtocolError:
            continue
    return tuple(found)


def warning_codes(message: Response) -> tuple[int, ...]:
    """The warn-codes of a response's Warning headers (RFC 3261 s20.43), unreadable ones left
    out."""
    codes: list[int] = []
    for value in message.headers.get_all("warning"):
        for item in value.split(","):
            code = item.strip()[:3]
            if len(code) == 3 and code.isdigit():
                codes.append(int(code))
    return tuple(codes)
