"""Byte links to serial devices for the hardware drivers: the only module that imports pyserial.

A driver never sees a port object.  It is handed an :data:`Opener` (a connection factory): an
awaitable callable that opens the link and returns a :class:`ByteLink` (``write`` / ``close``),
reporting what arrives and the loss of the link to a :class:`LinkReceiver`.  :func:`serial_opener`
builds the opener for a :class:`SerialSettings`, whose ``url`` is one of:

* a device path (``/dev/ttyACM0``, ``/dev/ttyUSB0``, ``/dev/serial/by-id/...``, a pty or a
  symlink to one): opened with pyserial (baud rate, 8-N-1, flow control, an exclusive ``flock``)
  and driven by pyserial-asyncio-fast's transport on the event loop's reader/writer callbacks;
* ``socket://HOST:PORT`` (ser2net's raw TCP mode, the PBX simulator's FXS boards): a plain TCP
  connection made by the event loop itself (``loop.create_connection``), no pyserial involved;
* ``rfc2217://HOST:PORT`` (ser2net/telnet COM port control, RFC 2217): pyserial's client, which
  has no file descriptor the loop could watch, so one reader and one writer thread carry its bytes
  to and from the loop.

``loop://`` is refused: it has no file descriptor either, and a loopback port is no device.

Opening failures raise :class:`SerialPortError` whose text says what to do about it (the device is
not plugged in, the user lacks the dialout group, ModemManager holds the port...):
:func:`describe_open_error` is the mapping from errno to that text.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import grp
import logging
import os
import queue
import threading
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol
from urllib.parse import urlsplit

import serial
import serial_asyncio_fast

from gateway.errors import ConfigError, GwemuError

__all__ = [
    "ByteLink",
    "FlowControl",
    "LinkReceiver",
    "Opener",
    "SerialPortError",
    "SerialSettings",
    "describe_open_error",
    "open_link",
    "serial_opener",
]

FlowControl = Literal["none", "rtscts", "xonxoff"]
_FLOW_CONTROLS: Final = ("none", "rtscts", "xonxoff")
_SUPPORTED_SCHEMES: Final = ("socket", "rfc2217")
_RFC2217_POLL: Final = 0.2  # how often the rfc2217 reader thread looks at its stop flag
_log = logging.getLogger(__name__)


class SerialPortError(GwemuError):
    """A link could not be opened; ``str()`` is the explanation for the user."""

    def __init__(self, url: str, reason: str, *, errno_value: int | None = None) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason
        self.errno = errno_value


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """Where a device is and how to talk to it.

    ``baud_rate`` and ``flow_control`` apply to device paths and rfc2217 (a USB CDC modem ignores
    the speed but needs one); ``exclusive`` takes an advisory lock so that a second program (or a
    second gwemu) cannot open the same device path; ``connect_timeout`` bounds TCP connects.
    """

    url: str
    baud_rate: int = 115200
    flow_control: FlowControl = "none"
    exclusive: bool = True
    connect_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.url:
            raise ConfigError("a serial device path or URL is required", key="device")
        scheme = _scheme(self.url)
        if scheme == "loop":
            raise ConfigError(
                "loop:// has no file descriptor for the event loop and is no device; "
                "use a simulator pty (gwemu hw-sim) for dry runs",
                key="device",
            )
        if scheme is not None and scheme not in _SUPPORTED_SCHEMES:
            raise ConfigError(
                f"unsupported serial URL scheme {scheme}:// (use a device path, socket:// "
                "or rfc2217://)",
                key="device",
            )
        if scheme is not None:
            _host_port(self.url)  # validates now rather than at the first open
        if self.flow_control not in _FLOW_CONTROLS:
            raise ConfigError("flow control is none, rtscts or xonxoff", key="flow-control")
        if not 50 <= self.baud_rate <= 4_000_000:
            raise ConfigError(f"baud rate {self.baud_rate} out of range", key="baud-rate")
        if self.connect_timeout <= 0:
            raise ConfigError("must be positive", key="connect-timeout")

    @property
    def scheme(self) -> str | None:
        """``socket``, ``rfc2217`` or ``None`` for a device path."""
        return _scheme(self.url)


class LinkReceiver(Protocol):
    """What a link reports to: bytes as they arrive, and the end of the link (once)."""

    def link_data(self, data: bytes) -> None: ...

    def link_lost(self, reason: str) -> None: ...


class ByteLink(Protocol):
    """An open link: writes never block (they are buffered); ``close`` ends it without a report."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


Opener = Callable[[LinkReceiver], Awaitable[ByteLink]]


def serial_opener(settings: SerialSettings) -> Opener:
    """The connection factory a driver is given for ``settings``."""

    async def opener(receiver: LinkReceiver) -> ByteLink:
        return await open_link(settings, receiver)

    return opener


async def open_link(settings: SerialSettings, receiver: LinkReceiver) -> ByteLink:
    """Open the link ``settings`` names; raise :class:`SerialPortError` when it cannot be."""
    scheme = settings.scheme
    if scheme == "socket":
        return await _open_socket(settings, receiver)
    if scheme == "rfc2217":
        return await _open_rfc2217(settings, receiver)
    return await _open_device(settings, receiver)


# ----------------------------------------------------------------------------- error texts


def _group_of(path: str) -> str | None:
    try:
        gid = os.stat(path).st_gid
        return grp.getgrgid(gid).gr_name
    except (OSError, KeyError):
        return None


def describe_open_error(url: str, code: int | None, detail: str = "", *,
                        group: str | None = None) -> str:
    """What went wrong opening ``url`` with errno ``code``, and what the user can do about it.

    ``group`` is the group owning the device node (looked up by the caller when it exists);
    without it the usual ``dialout`` is named.
    """
    if code in (errno.ENOENT, errno.ENOTDIR):
        return (
            f"serial device {url} does not exist: is the device plugged in and powered? "
            "`ls -l /dev/serial/by-id/` lists the ports present; a USB port can change its "
            "ttyACM/ttyUSB number on replug, so name it by /dev/serial/by-id/... or a udev symlink"
        )
    if code in (errno.EACCES, errno.EPERM):
        owner = group or "dialout"
        return (
            f"permission denied opening {url}: add your user to the '{owner}' group "
            f"(`sudo usermod -aG {owner} $USER`, then log in again) or give the device a udev "
            'rule such as SUBSYSTEM=="tty", ATTRS{idVendor}=="VVVV", ATTRS{idProduct}=="PPPP", '
            'MODE="0660", GROUP="dialout" in /etc/udev/rules.d/99-gwemu.rules'
        )
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK):
        return (
            f"serial device {url} is in use by another program (another gwemu, minicom, or "
            "ModemManager, which probes modems: stop it or tag the device "
            'ENV{ID_MM_DEVICE_IGNORE}="1" in a udev rule); `fuser -v DEVICE` shows who holds it'
        )
    if code in (errno.ENXIO, errno.ENODEV, errno.EIO):
        return (
            f"serial device {url} is not responding (unplugged, or its USB adapter reset): "
            "gwemu retries until it comes back"
        )
    if code == errno.ECONNREFUSED:
        return (
            f"nothing listens at {url}: is ser2net (or the simulator) running on that port?"
        )
    if code in (errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"cannot reach {url}: {os.strerror(code)}"
    text = detail or (os.strerror(code) if code is not None else "unknown error")
    return f"cannot open {url}: {text}"


def _error(url: str, exc: BaseException, *, path: str | None = None) -> SerialPortError:
    code = getattr(exc, "errno", None)
    if not isinstance(code, int):
        code = None
    group = _group_of(path) if path is not None and code in (errno.EACCES, errno.EPERM) else None
    return SerialPortError(url, describe_open_error(url, code, str(exc), group=group),
                           errno_value=code)


# ----------------------------------------------------------------------------- device paths


class _NonBlockingSerial(serial.Serial):  # type: ignore[misc]
    """pyserial's POSIX port with a write that never spins.

    With a zero write timeout pyserial retries ``EAGAIN`` in a loop, which never ends when the
    reader of the other end runs on the same event loop (a simulator pty).  Raising
    BlockingIOError instead lets the asyncio transport buffer the rest and wait for the fd.
    """

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if not self.is_open or self.fd is None:
            raise serial.PortNotOpenError()
        try:
            return os.write(self.fd, data)
        except InterruptedError:
            return 0
        except BlockingIOError:
            raise
        except OSError as exc:
            raise serial.SerialException(f"write failed: {exc}") from exc


def _settings_kwargs(settings: SerialSettings) -> dict[str, Any]:
    return {
        "baudrate": settings.baud_rate,
        "bytesize": serial.EIGHTBITS,
        "parity": serial.PARITY_NONE,
        "stopbits": serial.STOPBITS_ONE,
        "rtscts": settings.flow_control == "rtscts",
        "xonxoff": settings.flow_control == "xonxoff",
    }


def _open_port(settings: SerialSettings) -> _NonBlockingSerial:
    port = _NonBlockingSerial(**_settings_kwargs(settings), exclusive=settings.exclusive)
    port.port = settings.url
    try:
        port.open()
    except serial.SerialException as exc:
        raise _error(settings.url, exc, path=settings.url) from exc
    except OSError as exc:
        raise _error(settings.url, exc, path=settings.url) from exc
    return port


def _close_opened(opening: asyncio.Future[_NonBlockingSerial]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


class _StreamProtocol(asyncio.Protocol):
    """Carries a transport's callbacks to a :class:`LinkReceiver` and tells the loss once."""

    def __init__(self, receiver: LinkReceiver, url: str) -> None:
        self._receiver = receiver
        self._url = url
        self.transport: asyncio.Transport | None = None
        self.closed_by_us = False
        self._reported = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.closed_by_us and data:
            self._receiver.link_data(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed_by_us or self._reported:
            return
        self._reported = True
        reason = f"{self._url}: {exc}" if exc is not None else f"{self._url}: closed by the peer"
        self._receiver.link_lost(reason)


class _TransportLink:
    """A :class:`ByteLink` over an asyncio transport (serial or TCP)."""

    def __init__(self, protocol: _StreamProtocol, transport: asyncio.BaseTransport) -> None:
        self._protocol = protocol
        self._transport: Any = transport

    def write(self, data: bytes) -> None:
        if data and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._protocol.closed_by_us = True
        if self._transport.is_closing():
            return
        if isinstance(self._transport, serial_asyncio_fast.SerialTransport):
            # close() would first drain the output (tcdrain), which never returns while
            # hardware flow control holds the port: drop what is queued instead.
            self._transport.abort()
        else:
            self._transport.close()


async def _open_device(settings: SerialSettings, receiver: LinkReceiver) -> ByteLink:
    loop = asyncio.get_running_loop()
    opening = loop.run_in_executor(None, _open_port, settings)
    try:
        port = await asyncio.shield(opening)
    except asyncio.CancelledError:
        # The open goes on in its thread: close the port it yields rather than leak it.
        opening.add_done_callback(_close_opened)
        raise
    protocol = _StreamProtocol(receiver, settings.url)
    transport, _ = await serial_asyncio_fast.connection_for_serial(loop, lambda: protocol, port)
    return _TransportLink(protocol, transport)


# ----------------------------------------------------------------------------- socket://


def _scheme(url: str) -> str | None:
    head, separator, _ = url.partition("://")
    return head.lower() if separator and head.isalnum() else None


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ConfigError(f"{url}: expected {parts.scheme}://HOST:PORT", key="device")
    return parts.hostname, port


async def _open_socket(settings: SerialSettings, receiver: LinkReceiver) -> ByteLink:
    host, port = _host_port(settings.url)
    loop = asyncio.get_running_loop()
    protocol = _StreamProtocol(receiver, settings.url)
    try:
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: protocol, host, port), settings.connect_timeout)
    except TimeoutError as exc:
        raise SerialPortError(settings.url, describe_open_error(settings.url, errno.ETIMEDOUT),
                              errno_value=errno.ETIMEDOUT) from exc
    except OSError as exc:
        raise _error(settings.url, exc) from exc
    return _TransportLink(protocol, transport)


# ----------------------------------------------------------------------------- rfc2217://


class _ThreadedLink:
    """pyserial's RFC 2217 client carried to the loop by a reader and a writer thread."""

    def __init__(self, port: Any, receiver: LinkReceiver, url: str,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._port = port
        self._receiver = receiver
        self._url = url
        self._loop = loop
        self._closed = threading.Event()
        self._outgoing: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._reported = False
        self._reader = threading.Thread(target=self._read_loop, name=f"rfc2217-rx {url}",
                                        daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name=f"rfc2217-tx {url}",
                                        daemon=True)
        self._reader.start()
        self._writer.start()

    def write(self, data: bytes) -> None:
        if data and not self._closed.is_set():
            self._outgoing.put(bytes(data))

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._outgoing.put(None)
        self._loop.run_in_executor(None, self._shutdown)

    def _shutdown(self) -> None:
        self._reader.join(2 * _RFC2217_POLL + 1.0)
        self._writer.join(1.0)
        with contextlib.suppress(Exception):
            self._port.close()

    def _read_loop(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._port.read(max(1, self._port.in_waiting))
            except Exception as exc:  # pyserial raises SerialException or socket errors
                self._lost(f"{self._url}: {exc}")
                return
            if data:
                self._post(self._deliver, data)

    def _write_loop(self) -> None:
        while True:
            data = self._outgoing.get()
            if data is None or self._closed.is_set():
                return
            try:
                self._port.write(data)
            except Exception as exc:
                self._lost(f"{self._url}: {exc}")
                return

    def _deliver(self, data: bytes) -> None:
        if not self._closed.is_set():
            self._receiver.link_data(data)

    def _lost(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self._post(self._report_lost, reason)

    def _report_lost(self, reason: str) -> None:
        if self._reported or self._closed.is_set():
            return
        self._reported = True
        self._closed.set()
        self._outgoing.put(None)
        self._loop.run_in_executor(None, self._shutdown)
        self._receiver.link_lost(reason)

    def _post(self, callback: Callable[[Any], None], argument: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop already closed
            self._loop.call_soon_threadsafe(callback, argument)


def _open_rfc2217_port(settings: SerialSettings) -> Any:
    try:
        with warnings.catch_warnings():
            # pyserial 3.5 starts its reader thread with the deprecated Thread.setDaemon().
            warnings.simplefilter("ignore", DeprecationWarning)
            return serial.serial_for_url(settings.url, **_settings_kwargs(settings),
                                         timeout=_RFC2217_POLL)
    except serial.SerialException as exc:
        cause = exc.__cause__ or exc.__context__
        code = getattr(cause, "errno", None) or getattr(exc, "errno", None)
        text = describe_open_error(settings.url, code if isinstance(code, int) else None,
                                   str(exc))
        raise SerialPortError(settings.url, text,
                              errno_value=code if isinstance(code, int) else None) from exc
    except OSError as exc:
        raise _error(settings.url, exc) from exc


async def _open_rfc2217(settings: SerialSettings, receiver: LinkReceiver) -> ByteLink:
    loop = asyncio.get_running_loop()
    port = await loop.run_in_executor(None, _open_rfc2217_port, settings)
    return _ThreadedLink(port, receiver, settings.url, loop)
