"""Error types shared by every layer.

Every protocol error says which side broke the protocol (ARCHITECTURE.md, "Values, errors, traces"):

* :class:`LocalProtocolError` -- our own caller misused an API (a bug on this side).
* :class:`RemoteProtocolError` -- the peer sent something invalid; it carries the answer a
  well-behaved implementation gives: a SIP status (``status_hint``) and/or a Q.850 cause
  (``cause``), plus a reason phrase that says what was wrong.
* :class:`ConfigError` -- a configuration or scenario file is wrong; it names file, line and key.
"""

from __future__ import annotations


class GwemuError(Exception):
    """Base class of every error gwemu raises on purpose."""


class LocalProtocolError(GwemuError):
    """Our side misused a protocol object (wrong state, bad argument)."""


class RemoteProtocolError(GwemuError):
    """The remote side violated a protocol.

    ``status_hint`` is the SIP status a UAS should answer (400, 505, 420, 416, 413, ...) or
    ``None`` when no response is possible (a malformed response is simply dropped).
    ``cause`` is the Q.850 cause value a line protocol answers with (Q.931 STATUS 96/100/101...).
    ``reason`` is a short phrase suitable for a SIP reason phrase or a log line.
    """

    def __init__(
        self,
        reason: str,
        status_hint: int | None = 400,
        *,
        cause: int | None = None,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_hint = status_hint
        self.cause = cause
        # Headers the answer must carry, e.g. Unsupported for 420 (RFC 3261 s8.2.2.3).
        self.extra_headers = extra_headers

    def __repr__(self) -> str:
        return (
            f"RemoteProtocolError({self.reason!r}, status_hint={self.status_hint!r}, "
            f"cause={self.cause!r})"
        )


class ConfigError(GwemuError):
    """A configuration or scenario file is invalid.

    The message always names the file, and where known the line and the key, so a user can go
    straight to the mistake: ``gw-a.toml:12: dial-peer.voip[2].session-target: expected ...``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.message = message
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            where += f": {self.key}"
        return f"{where}: {self.message}"
