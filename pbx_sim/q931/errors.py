"""The Q.931 flavour of :class:`gateway.errors.RemoteProtocolError`.

A Q.931 parse error carries, besides the Q.850 cause to answer with, whatever of the message it
could still read (call reference, message type, the offending IE identifier), because the answer
Q.931 s5.8 prescribes depends on them: a broken SETUP gets RELEASE COMPLETE, a broken PROGRESS
gets STATUS, a message with an unreadable call reference is ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.errors import RemoteProtocolError

if TYPE_CHECKING:
    from pbx_sim.q931.message import CallReference


class Q931Error(RemoteProtocolError):
    """A peer sent a Q.931 message (or IE) we must not act on as it stands.

    ``status_hint`` is always ``None`` (there is no SIP answer to a Q.931 error); ``cause`` is
    the Q.850 cause Q.931 s5.8 answers with (95/97 message-level, 96 missing IE, 100 bad IE
    contents, 81 bad call reference).  ``ie_identifier`` goes into the Cause diagnostics.
    """

    def __init__(
        self,
        reason: str,
        *,
        cause: int,
        ie_identifier: int | None = None,
        call_ref: CallReference | None = None,
        message_type: int | None = None,
    ) -> None:
        super().__init__(reason, None, cause=cause)
        self.ie_identifier = ie_identifier
        self.call_ref = call_ref
        self.message_type = message_type
