"""Framing SIP messages on a stream transport (TCP/TLS), sans-IO.

Feed octets as they arrive, then drain events::

    parser = StreamParser()
    parser.feed(chunk)            # b"" means the peer closed its side
    for event in parser:          # stops when more data is needed
        ...

Events are :class:`Request` / :class:`Response` values, :class:`Ping` / :class:`Pong`
keep-alives, :class:`RejectedMessage` (a well-framed but invalid message: answer it, the
stream goes on) and :class:`ConnectionClosed`.

Framing follows RFC 3261 section 18.3: the header section ends at the empty line and
Content-Length -- mandatory on streams -- gives the body size.  When framing itself fails
(no or bad Content-Length, oversized message, garbage where a message must start) the stream
cannot be resynchronised: the parser raises :class:`RemoteProtocolError`, stays dead (every
later call raises the same error) and the transport answers if it can, then closes.

Keep-alives (RFC 5626 section 4.4.1): between messages, CRLFCRLF is a client's ping -- the
transport answers with one CRLF -- and a lone CRLF is the server's pong.  A lone CRLF is
reported as soon as it is seen (a client waits for it); when the next octets complete a
CRLFCRLF, that second half is reported as a Ping, so a server never misses a ping that
arrived in two pieces.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.message import Request, Response
from gateway.sip.parser import _parse_common, build_message, locate_head, split_head
from gateway.sip.typed import content_length_of

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "ConnectionClosed",
    "Ping",
    "Pong",
    "RejectedMessage",
    "StreamEvent",
    "StreamParser",
]

DEFAULT_MAX_MESSAGE_SIZE = 65535


@dataclass(frozen=True, slots=True)
class Ping:
    """CRLFCRLF between messages: the peer probes the flow; answer with a single CRLF."""


@dataclass(frozen=True, slots=True)
class Pong:
    """A lone CRLF between messages: the answer to our ping."""


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    """A message framed correctly but invalid; ``data`` is exactly its octets.

    Answer with ``error.status_hint`` when it is set (see
    :func:`gateway.sip.parser.error_response`); the stream itself is fine.
    """

    data: bytes
    error: RemoteProtocolError


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed its side between two messages."""


StreamEvent = Request | Response | Ping | Pong | RejectedMessage | ConnectionClosed


class StreamParser:
    """Incremental SIP framing over one stream connection (see the module docstring)."""

    __slots__ = (
        "_buffer",
        "_close_reported",
        "_closed",
        "_error",
        "_lone_crlf",
        "_max_size",
        "_searched",
    )

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if max_message_size < 64:
            raise LocalProtocolError("max_message_size must allow at least a small message")
        self._buffer = bytearray()
        self._max_size = max_message_size
        self._closed = False
        self._close_reported = False
        self._error: RemoteProtocolError | None = None
        self._lone_crlf = False  # a lone CRLF was just reported as a Pong
        self._searched = 0  # how far the current header section was searched for its end

    @property
    def dead(self) -> bool:
        """True after a framing error; the connection must be closed."""
        return self._error is not None

    @property
    def error(self) -> RemoteProtocolError | None:
        return self._error

    @property
    def buffered(self) -> int:
        """Octets received but not yet turned into events."""
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        """Add received octets; ``b""`` means the peer closed its side."""
        if self._closed:
            if data:
                raise LocalProtocolError("data fed after end of stream")
            return
        if not data:
            self._closed = True
            return
        if self._error is None:
            self._buffer += data

    def __iter__(self) -> Iterator[StreamEvent]:
        while True:
            event = self.next_event()
            if event is None:
                return
            yield event

    def next_event(self) -> StreamEvent | None:
        """The next event, or None when more data is needed (or the stream has ended).

        Raises RemoteProtocolError on a framing error (and on every call after it).
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except RemoteProtocolError as exc:
            self._error = exc
            self._buffer.clear()
            raise

    def _next(self) -> StreamEvent | None:
        buffer = self._buffer
        event = self._keepalive(buffer)
        if event is not None:
            return event
        if not buffer or buffer[0] == 13:  # nothing, or the start of a keep-alive
            if not self._closed:
                return None
            if self._close_reported:
                return None
            self._close_reported = True
            buffer.clear()
            return ConnectionClosed()
        return self._message(buffer)

    def _keepalive(self, buffer: bytearray) -> StreamEvent | None:
        """Consume a CRLF keep-alive at a message boundary; stray LFs there are skipped."""
        while buffer[:1] == b"\n":
            del buffer[0]
        if not buffer:
            return None
        if buffer[0] != 13:
            self._lone_crlf = False  # a message starts
            return None
        if len(buffer) == 1:
            return None
        if buffer[1] != 10:
            raise RemoteProtocolError("bare CR between messages", 400)
        if buffer[:4] == b"\r\n\r\n" or self._lone_crlf:
            # CRLFCRLF, possibly in two pieces: the previous lone CRLF was its first half.
            del buffer[: 2 if self._lone_crlf else 4]
            self._lone_crlf = False
            return Ping()
        if len(buffer) == 3 and buffer[2] == 13:
            return None  # "\r\n\r": wait to see whether a ping completes
        del buffer[:2]
        self._lone_crlf = not buffer
        return Pong()

    def _message(self, buffer: bytearray) -> StreamEvent | None:
        is_response = buffer[:4].upper() == b"SIP/"
        located = locate_head(buffer, max(0, self._searched - 3))
        if located is None:
            self._searched = len(buffer)
            if len(buffer) > self._max_size:
                raise self._framing_error(
                    f"header section exceeds {self._max_size} octets", 513, is_response
                )
            if self._closed:
                raise RemoteProtocolError("connection closed in the middle of a message", None)
            return None
        head_end, body_start, lf_only = located
        if head_end > self._max_size:
            raise self._framing_error(
                f"header section exceeds {self._max_size} octets", 513, is_response
            )
        text = bytes(buffer[:head_end]).decode("utf-8", "surrogateescape")
        try:
            start_line, headers = split_head(text, lf_only)
            length = content_length_of(headers)
        except RemoteProtocolError as exc:
            raise self._framing_error(exc.reason, exc.status_hint, is_response) from None
        if length is None:
            raise self._framing_error(
                "missing Content-Length (mandatory on stream transports, RFC 3261 18.3)",
                400,
                is_response,
            )
        total = body_start + length
        if total > self._max_size:
            raise self._framing_error(
                f"message of {total} octets exceeds the {self._max_size} octet limit",
                413,
                is_response,
            )
        if len(buffer) < total:
            if self._closed:
                raise RemoteProtocolError("connection closed in the middle of a message", None)
            return None
        data = bytes(buffer[:total])
        del buffer[:total]
        self._searched = 0
        try:
            message = None if lf_only else _parse_common(data)
            if message is None:
                message = build_message(start_line, headers, data, 0, body_start, stream=True)
        except RemoteProtocolError as exc:
            return RejectedMessage(data, exc)
        return message

    @staticmethod
    def _framing_error(reason: str, status: int | None, is_response: bool) -> RemoteProtocolError:
        return RemoteProtocolError(reason, None if is_response else status)
