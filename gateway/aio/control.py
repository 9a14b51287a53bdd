"""A small live-control channel: JSON lines over a Unix socket or a loopback TCP port.

A running simulator (the PBX simulator, later the gateway) serves named commands; a client (the
CLI ``gwemu pbx ctl ...``, a test, a script) sends one request per line and reads one response
per line, in order, on the same connection::

    -> {"id": 1, "command": "dial", "args": {"extension": "1000", "number": "5551234"}}
    <- {"id": 1, "ok": true, "result": null}
    -> {"id": 2, "command": "nope"}
    <- {"id": 2, "ok": false, "error": "unknown command 'nope' (commands: dial, help, ...)"}

Addresses are ``unix:/path/to.sock``, ``HOST:PORT`` or ``tcp:HOST:PORT`` (a numeric address;
port 0 picks a free one, see :attr:`ControlServer.address`).  A handler is a callable taking the
``args`` object as keyword arguments and returning (or, when a coroutine function, awaiting) a
JSON-serialisable result; a :class:`ControlError`, ``LocalProtocolError``, ``ValueError``,
``KeyError`` or ``TypeError`` (bad arguments) becomes an error response, anything else too but
is also logged as a bug.  ``help`` is built in: the commands and the first line of their
docstrings.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any, Final

from gateway.errors import GwemuError

__all__ = [
    "ControlAddress",
    "ControlClient",
    "ControlError",
    "ControlServer",
    "Handler",
    "request",
]

Handler = Callable[..., Any]
MAX_LINE: Final = 1 << 20
_log = logging.getLogger(__name__)


class ControlError(GwemuError):
    """A control request failed (the server's message), or the channel did."""


@dataclass(frozen=True, slots=True)
class ControlAddress:
    """Where a control server listens: a Unix socket ``path`` or a TCP ``host``/``port``."""

    path: str | None = None
    host: str = "127.0.0.1"
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> ControlAddress:
        if text.startswith("unix:"):
            path = text[5:]
            if not path:
                raise ValueError("unix: needs a socket path")
            return cls(path=path)
        spec = text.removeprefix("tcp:")
        host, sep, port = spec.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"control address {text!r}: expected unix:PATH or HOST:PORT")
        return cls(host=host.strip("[]"), port=int(port))

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class ControlServer:
    """Serves ``handlers`` (command name -> handler) on one address."""

    def __init__(self, handlers: Mapping[str, Handler], address: ControlAddress | str) -> None:
        self._handlers = dict(handlers)
        self._handlers.setdefault("help", self._help)
        self._requested = address if isinstance(address, ControlAddress) else \
            ControlAddress.parse(address)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self.address = self._requested

    async def start(self) -> ControlAddress:
        """Listen; returns the address in use (the real port when 0 was asked for)."""
        requested = self._requested
        if requested.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(requested.path)  # a socket file left by a previous run
            self._server = await asyncio.start_unix_server(self._serve, requested.path,
                                                           limit=MAX_LINE)
            self.address = requested
        else:
            self._server = await asyncio.start_server(self._serve, requested.host,
                                                      requested.port, limit=MAX_LINE)
            port = self._server.sockets[0].getsockname()[1]
            self.address = ControlAddress(host=requested.host, port=port)
        return self.address

    async def close(self) -> None:
        server = self._server
        if server is None:
            return
        self._server = None
        server.close()
        for writer in list(self._connections):
            writer.close()
        await server.wait_closed()
        if self.address.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._reply(writer, {"id": None, "ok": False,
                                               "error": f"request longer than {MAX_LINE} bytes"})
                    return
                except ConnectionError:
                    return
                if not line:
                    return
                if not line.strip():
                    continue
                response = await self.dispatch(line)
                await self._reply(writer, response)
        finally:
            self._connections.discard(writer)
            writer.close()

    async def dispatch(self, line: bytes) -> dict[str, Any]:
        """Carry out one request line and build its response."""
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            return {"id": None, "ok": False, "error": f"not JSON: {exc}"}
        if not isinstance(request, dict):
            return {"id": None, "ok": False, "error": "a request is a JSON object"}
        ident = request.get("id")
        command = request.get("command")
        args = request.get("args", {})
        if not isinstance(command, str) or not isinstance(args, dict):
            return {"id": ident, "ok": False,
                    "error": "a request needs a command (string) and args (object)"}
        handler = self._handlers.get(command)
        if handler is None:
            known = ", ".join(sorted(self._handlers))
            return {"id": ident, "ok": False,
                    "error": f"unknown command {command!r} (commands: {known})"}
        try:
            result = handler(**args)
            if inspect.isawaitable(result):
                result = await result
            json.dumps(result)
        except (ControlError, GwemuError, ValueError, KeyError, TypeError) as exc:
            return {"id": ident, "ok": False, "error": _message(exc)}
        except Exception as exc:  # a handler bug must not take the server down
            _log.exception("control command %s failed", command)
            return {"id": ident, "ok": False, "error": f"internal error: {_message(exc)}"}
        return {"id": ident, "ok": True, "result": result}

    async def _reply(self, writer: asyncio.StreamWriter, response: dict[str, Any]) -> None:
        writer.write(json.dumps(response).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    def _help(self) -> dict[str, str]:
        """List the commands."""
        return {name: _first_line(handler) for name, handler in sorted(self._handlers.items())}


class ControlClient:
    """One connection to a control server; requests are answered in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = count(1)
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, address: ControlAddress | str, timeout: float = 5.0) -> ControlClient:
        where = address if isinstance(address, ControlAddress) else ControlAddress.parse(address)
        try:
            if where.path is not None:
                opening: Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = \
                    asyncio.open_unix_connection(where.path, limit=MAX_LINE)
            else:
                opening = asyncio.open_connection(where.host, where.port, limit=MAX_LINE)
            reader, writer = await asyncio.wait_for(opening, timeout)
        except (OSError, TimeoutError) as exc:
            raise ControlError(f"cannot reach the control channel at {where}: {exc}") from None
        return cls(reader, writer)

    async def request(self, command: str, timeout: float = 10.0, **args: Any) -> Any:
        """Send one command; its result, or :class:`ControlError` with the server's message."""
        async with self._lock:
            ident = next(self._ids)
            line = json.dumps({"id": ident, "command": command, "args": args}).encode() + b"\n"
            try:
                self._writer.write(line)
                await self._writer.drain()
                answer = await asyncio.wait_for(self._reader.readline(), timeout)
            except (OSError, TimeoutError) as exc:
                raise ControlError(f"control channel failed: {exc or 'timeout'}") from None
        if not answer:
            raise ControlError("the control channel closed")
        response = json.loads(answer)
        if response.get("id") != ident:
            raise ControlError(f"response for request {response.get('id')}, expected {ident}")
        if not response.get("ok"):
            raise ControlError(str(response.get("error")))
        return response.get("result")

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


def request(address: ControlAddress | str, command: str, timeout: float = 10.0,
            **args: Any) -> Any:
    """One request from synchronous code (the CLI): connect, ask, close."""

    async def ask() -> Any:
        client = await ControlClient.connect(address, timeout)
        try:
            return await client.request(command, timeout, **args)
        finally:
            await client.close()

    return asyncio.run(ask())


def _message(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str):
        return reason
    if isinstance(exc, KeyError) and exc.args:
        return f"unknown {exc.args[0]}"
    if isinstance(exc, TypeError):
        return f"bad arguments: {exc}"
    return str(exc) or type(exc).__name__


def _first_line(handler: Handler) -> str:
    doc = inspect.getdoc(handler) or ""
    return doc.splitlines()[0] if doc else ""
