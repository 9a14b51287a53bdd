"""The asyncio adapter shared by the hardware lines: one sans-IO line core on one serial link.

A hardware line core (:class:`hardware.protocols.voice_modem.VoiceModemLine`,
:class:`hardware.protocols.fxs_line.FxsBoardLine`) speaks the sans-IO contract and emits
:mod:`gateway.line` events and 20 ms :class:`~hardware.protocols.line_audio.LineAudioFrame`
values.  :class:`SerialLineAdapter` makes it a :class:`gateway.line.LineAdapter`:

* the link comes from an injected :data:`hardware.serial_io.Opener` (a device path, ``socket://``,
  ``rfc2217://``, or anything a test hands in); after every input, command, audio frame or timer
  the adapter writes ``data_to_send``, delivers the events, and re-arms one ``loop.call_at`` at
  ``get_timer()``;
* losing the link (USB unplugged, pty closed, TCP reset) is the core's end of stream: calls clear
  with cause 38 and the line goes out of service (:class:`~gateway.line.LineStatus`); the adapter
  then reopens the same device with exponential back-off and restarts the core, which puts the line
  back in service once the device answers;
* a device that cannot be opened at all keeps the line out of service with the reason
  (:func:`hardware.serial_io.describe_open_error`: missing device, dialout group, port in use) and
  is retried the same way, so a gateway starts with its modem unplugged and picks it up later;
* each line call's voice is a :class:`gateway.line.LineAudio` in the core's codec.

Call control sees :class:`~gateway.line.LineStatus` only when the service state changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.aio.deadline import DeadlineTimer
from gateway.errors import ConfigError
from gateway.line import (
    LineCodec,
    LineCommand,
    LineEvent,
    LineInfo,
    LineReleased,
    LineSeized,
    LineStatus,
    OfferCall,
)
from hardware.protocols.line_audio import LineAudioFrame
from hardware.serial_io import ByteLink, Opener, SerialPortError

_log = logging.getLogger(__name__)


class LineCore(Protocol):
    """What the adapter needs from a hardware line core."""

    @property
    def in_service(self) -> bool: ...

    @property
    def codec(self) -> LineCodec | None: ...

    def start(self, now: float) -> None: ...

    def receive_data(self, data: bytes, now: float) -> None: ...

    def data_to_send(self, now: float) -> bytes: ...

    def next_event(self) -> LineEvent | LineAudioFrame | None: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...

    def handle_command(self, command: LineCommand, now: float) -> None: ...

    def send_audio(self, ref: str, frame: bytes, now: float) -> None: ...


@dataclass(frozen=True, slots=True)
class ReopenPolicy:
    """Back-off between attempts to (re)open a device: ``first``, then times ``factor`` up to
    ``longest``; back to ``first`` once a link stayed open."""

    first: float = 0.5
    longest: float = 30.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.longest or self.factor < 1:
            raise ConfigError("need 0 < first <= longest and factor >= 1", key="reopen")

    def delays(self) -> _Delays:
        return _Delays(self)


class _Delays:
    __slots__ = ("_next", "_policy")

    def __init__(self, policy: ReopenPolicy) -> None:
        self._policy = policy
        self._next = policy.first

    def take(self) -> float:
        delay = self._next
        self._next = min(self._policy.longest, delay * self._policy.factor)
        return delay

    def reset(self) -> None:
        self._next = self._policy.first


class _CallAudio:
    """One line call's :class:`gateway.line.LineAudio`."""

    __slots__ = ("_receiver", "_write", "codec", "ref")

    def __init__(self, ref: str, codec: LineCodec, write: Callable[[str, bytes], None]) -> None:
        self.ref = ref
        self.codec: LineCodec = codec
        self._write = write
        self._receiver: Callable[[bytes], None] | None = None

    def write(self, frame: bytes) -> None:
        self._write(self.ref, frame)

    def set_receiver(self, receiver: Callable[[bytes], None] | None) -> None:
        self._receiver = receiver

    def deliver(self, frame: bytes) -> None:
        receiver = self._receiver
        if receiver is not None:
            receiver(frame)


class _Session:
    """The receiver of one opened link; a stale one (after close) is ignored."""

    __slots__ = ("_adapter", "active", "lost")

    def __init__(self, adapter: SerialLineAdapter) -> None:
        self._adapter = adapter
        self.active = True
        self.lost = asyncio.Event()

    def link_data(self, data: bytes) -> None:
        if self.active:
            self._adapter._link_data(data)

    def link_lost(self, reason: str) -> None:
        if self.active:
            self.active = False
            self._adapter._link_lost(reason)
            self.lost.set()


class SerialLineAdapter:
    """A :class:`gateway.line.LineAdapter` for one hardware line (see the module docstring)."""

    def __init__(self, core: LineCore, info: LineInfo, opener: Opener, *,
                 reopen: ReopenPolicy | None = None, device: str = "") -> None:
        self.core = core
        self.info = info
        self.name = info.name
        self.device = device
        self._opener = opener
        self._reopen = reopen or ReopenPolicy()
        self._handler: Callable[[LineEvent], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: _Session | None = None
        self._link: ByteLink | None = None
        self._timer = DeadlineTimer(self._on_timer)
        self._last_now = 0.0
        self._servicing = False
        self._again = False
        self._reported: bool | None = None
        self._calls: dict[str, _CallAudio | None] = {}
        self.last_error: str | None = None
        self.opens = 0

    # ------------------------------------------------------------------------------ LineAdapter

    def lines(self) -> Sequence[LineInfo]:
        return (self.info,)

    def set_event_handler(self, handler: Callable[[LineEvent], None]) -> None:
        self._handler = handler

    @property
    def in_service(self) -> bool:
        return self._link is not None and self.core.in_service

    def send(self, command: LineCommand) -> None:
        if command.line != self.name:
            return
        if isinstance(command, OfferCall):
            self._calls.setdefault(command.ref, None)
        self.core.handle_command(command, self._now())
        self._service()

    def audio(self, line: str, ref: str) -> _CallAudio | None:
        codec = self.core.codec
        if line != self.name or ref not in self._calls or codec is None:
            return None
        audio = self._calls[ref]
        if audio is None or audio.codec != codec:
            audio = _CallAudio(ref, codec, self._audio_out)
            self._calls[ref] = audio
        return audio

    async def start(self) -> None:
        """Open the device in the background: the line reports in service once it answers."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._last_now = self._loop.time()
        self._task = self._loop.create_task(self._supervise(), name=f"line {self.name}")

    async def stop(self) -> None:
        """Close the device; calls still up are cleared (cause 38) and the line goes out of
        service."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._close_link("adapter stopped")
        self._timer.cancel()

    # ------------------------------------------------------------------------------ link life

    async def _supervise(self) -> None:
        delays = self._reopen.delays()
        while True:
            session = _Session(self)
            try:
                link = await self._opener(session)
            except SerialPortError as exc:
                session.active = False
                self._open_failed(str(exc))
                await asyncio.sleep(delays.take())
                continue
            except Exception as exc:  # an opener's bug must not end the retries
                session.active = False
                _log.exception("%s: opening %s failed", self.name, self.device or "the device")
                self._open_failed(f"{self.device or self.name}: {exc}")
                await asyncio.sleep(delays.take())
                continue
            self.opens += 1
            self._session, self._link = session, link
            self.last_error = None
            _log.info("%s: opened %s", self.name, self.device or "the device")
            self.core.start(self._now())
            self._service()
            opened_at = self._now()
            await session.lost.wait()
            if self._now() - opened_at > self._reopen.first:
                delays.reset()
            await asyncio.sleep(delays.take())

    def _link_data(self, data: bytes) -> None:
        self.core.receive_data(data, self._now())
        self._service()

    def _link_lost(self, reason: str) -> None:
        _log.warning("%s: device lost: %s", self.name, reason)
        self.last_error = reason
        self._session = None
        self._link = None
        self.core.receive_data(b"", self._now())
        self._service()
        self._report_status(False, f"device lost: {reason}")

    def _close_link(self, reason: str) -> None:
        session, link = self._session, self._link
        self._session = self._link = None
        if session is not None:
            session.active = False
        if link is not None:
            link.close()
            self.core.receive_data(b"", self._now())
            self._service()
            self._report_status(False, reason)

    def _open_failed(self, reason: str) -> None:
        if reason != self.last_error:
            _log.warning("%s: %s", self.name, reason)
        self.last_error = reason
        self._report_status(False, reason)

    # ------------------------------------------------------------------------------ pump

    def _now(self) -> float:
        loop = self._loop
        if loop is not None:
            self._last_now = max(self._last_now, loop.time())
        return self._last_now

    def _audio_out(self, ref: str, frame: bytes) -> None:
        self.core.send_audio(ref, frame, self._now())
        link = self._link
        data = self.core.data_to_send(self._now())
        if data and link is not None:
            link.write(data)

    def _service(self) -> None:
        """Write what the core queued, deliver its events, re-arm the timer (re-entrant safe:
        a handler that sends a command from inside an event is served by the same loop)."""
        if self._servicing:
            self._again = True
            return
        self._servicing = True
        try:
            while True:
                self._again = False
                now = self._now()
                data = self.core.data_to_send(now)
                if data and self._link is not None:
                    self._link.write(data)
                while (event := self.core.next_event()) is not None:
                    self._dispatch(event)
                if not self._again:
                    break
            self._arm()
        finally:
            self._servicing = False

    def _dispatch(self, event: LineEvent | LineAudioFrame) -> None:
        if isinstance(event, LineAudioFrame):
            audio = self._calls.get(event.ref)
            if audio is not None:
                audio.deliver(event.data)
            return
        if isinstance(event, LineStatus):
            self._report_status(event.in_service, event.reason)
            return
        if isinstance(event, LineSeized):
            self._calls.setdefault(event.ref, None)
            event = self._seized(event)
        elif isinstance(event, LineReleased):
            self._calls.pop(event.ref, None)
        self._deliver(event)

    def _seized(self, event: LineSeized) -> LineSeized:
        """What the line knows about a new call beyond the core (a subclass may add to it)."""
        return event

    def _report_status(self, in_service: bool, reason: str) -> None:
        if in_service == self._reported:
            return
        self._reported = in_service
        self._deliver(LineStatus(self.name, in_service, reason))

    def _deliver(self, event: LineEvent) -> None:
        handler = self._handler
        if handler is None:
            return
        try:
            handler(event)
        except Exception:  # a bug in call control must not take the device link down
            _log.exception("%s: the line event handler failed on %s", self.name, event)

    def _arm(self) -> None:
        self._timer.arm(self.core.get_timer(), self._loop)

    def _on_timer(self, deadline: float) -> None:
        now = self._now()
        if deadline > now:
            # The loop's clock may round (uvloop: milliseconds): when it calls, the time has come.
            now = self._last_now = deadline
        self.core.handle_timer(now)
        self._service()
