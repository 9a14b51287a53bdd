"""The PBX simulator's asyncio adapter: it feeds the sans-IO core and carries out what it asks.

Inputs: trunk bytes, FXS-board bytes, timer deadlines, the 20 ms audio clock (with media), API
calls and control commands.  After each, :meth:`PbxSimulator._service` writes what the core
and the boards want to send, opens and closes B-channel RTP streams
(:class:`gateway.aio.bchannel.BChannel`), closes connections whose link gave up, and re-arms one
timer at the earliest deadline.  Trunks listen or connect (reconnecting every ``reconnect``
seconds); a trunk or board takes one connection at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any, Final

from gateway.aio.bchannel import BChannel, BChannelPlan
from gateway.aio.control import ControlAddress, ControlServer
from gateway.aio.deadline import DeadlineTimer
from gateway.errors import LocalProtocolError
from gateway.trace import Address, TraceSink, discard
from pbx_sim.aio.connections import Connection
from pbx_sim.config import PbxConfig, TrunkConfig
from pbx_sim.events import PhoneEvent, SimEvent
from pbx_sim.fxs_phone import BoardPhone
from pbx_sim.pbx import Pbx
from pbx_sim.phone import Phone
from pbx_sim.ports import CloseChannel, OpenChannel

AUDIO_PERIOD: Final = 0.020
_MAX_AUDIO_CATCH_UP: Final = 5  # late audio ticks made up at once; beyond, time slips
_log = logging.getLogger(__name__)

EventPredicate = Callable[[SimEvent], bool]


class PbxSimulator:
    """One simulated PBX and its FXS-board phones, running in the current event loop.

    ``media=False`` runs signalling only (no audio clock, no RTP; phones are told the tones).
    ``trace`` receives every Q.931 message in and out (with the TCP addresses) and the media
    notes; ``observer`` sees every :class:`PbxEvent` and :class:`PhoneEvent` as it happens
    (:attr:`events` keeps them all).  ``control`` overrides the config's control address.
    """

    def __init__(
        self,
        config: PbxConfig,
        *,
        media: bool = True,
        trace: TraceSink = discard,
        observer: Callable[[SimEvent], None] | None = None,
        rng: random.Random | None = None,
        control: str | None = None,
        trace_rtp: bool = False,
    ) -> None:
        self.config = config
        self.name = config.name
        self.media = media
        self._trace = trace
        self._observer = observer
        self._rng = rng or random.Random()
        self._trace_rtp = trace_rtp
        self._control_address = control if control is not None else config.control
        self.events: list[SimEvent] = []
        self.pbx = Pbx(config, media=media, trace=trace, observer=self._record)
        self.boards: dict[str, BoardPhone] = {
            phone.name: BoardPhone(phone, plan=self.pbx.plan, media=media, observer=self._record,
                                   trace=trace)
            for phone in config.fxs_phone
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_now = 0.0
        self._connections: dict[tuple[str, str], Connection] = {}
        self._servers: list[asyncio.Server] = []
        self._listening: dict[tuple[str, str], Address] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._channels: dict[tuple[str, int], BChannel | asyncio.Task[None]] = {}
        self._timer = DeadlineTimer(self._on_timer)
        self._audio: asyncio.TimerHandle | None = None
        self._audio_due = 0.0
        self._waiters: list[tuple[EventPredicate, asyncio.Future[SimEvent]]] = []
        self._control: ControlServer | None = None
        self._running = False
        self._in_service = False

    # ------------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        if self._running:
            raise LocalProtocolError("the simulator is already running")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._last_now = loop.time()
        self._running = True
        try:
            for trunk in self.config.trunk:
                if trunk.mode == "listen":
                    await self._listen("trunk", trunk.name, trunk.address.address)
                else:
                    self._spawn(self._connect_forever(trunk))
            for board in self.config.fxs_phone:
                await self._listen("fxs", board.name, board.listen.address)
            if self._control_address is not None:
                from pbx_sim.aio.commands import control_handlers

                self._control = ControlServer(control_handlers(self),
                                              ControlAddress.parse(self._control_address))
                await self._control.start()
        except BaseException:
            await self.stop()
            raise
        now = self.now()
        self.pbx.start(now)
        for phone in self.boards.values():
            phone.start(now)
        if self.media:
            self._audio_due = now + AUDIO_PERIOD
            self._audio = loop.call_at(self._audio_due, self._audio_tick)
        self._service()

    async def stop(self) -> None:
        """Close every connection, stream and server; calls are released (no clearing sent)."""
        if self._loop is None:
            return
        self._running = False
        for task in list(self._tasks):
            task.cancel()
        for server in self._servers:
            server.close()
        now = self.now()
        for (kind, name), connection in list(self._connections.items()):
            connection.close()
            del self._connections[(kind, name)]
            if kind == "trunk":
                self.pbx.trunk_closed(name, now, "simulator stopped")
        for key in list(self._channels):
            self._close_channel(key)
        self._timer.cancel()
        if self._audio is not None:
            self._audio.cancel()
            self._audio = None
        if self._control is not None:
            await self._control.close()
            self._control = None
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for waiter in self._waiters:
            waiter[1].cancel()
        self._waiters.clear()
        self._loop = None

    async def __aenter__(self) -> PbxSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------ inspection

    def now(self) -> float:
        """The loop's clock, never going backwards (what every core call is given)."""
        loop = self._loop
        if loop is None:
            return self._last_now
        now = loop.time()
        if now < self._last_now:
            return self._last_now
        self._last_now = now
        return now

    def trunk_address(self, name: str) -> Address:
        """Where trunk ``name`` listens (the real port when 0 was configured)."""
        return self._listening[("trunk", name)]

    def fxs_address(self, name: str) -> Address:
        return self._listening[("fxs", name)]

    @property
    def control_address(self) -> ControlAddress | None:
        return self._control.address if self._control is not None else None

    def trunk_connected(self, name: str) -> bool:
        return ("trunk", name) in self._connections and self.pbx.trunk_up(name)

    def phone(self, name: str) -> Phone:
        """An extension's phone (by number) or an FXS-board phone (by name)."""
        station = self.pbx.stations.get(name)
        if station is not None:
            return station.phone
        board = self.boards.get(name)
        if board is not None:
            return board.phone
        raise LocalProtocolError(f"no phone {name!r} (extensions: "
                                 f"{', '.join(self.pbx.stations) or 'none'}; fxs phones: "
                                 f"{', '.join(self.boards) or 'none'})")

    def phone_events(self, name: str) -> list[PhoneEvent]:
        return list(self.phone(name).events)

    def status(self) -> dict[str, object]:
        status = self.pbx.status()
        status["connections"] = sorted(f"{kind} {name}" for kind, name in self._connections)
        status["fxs_phones"] = [
            {"name": board.name, "connected": ("fxs", board.name) in self._connections,
             "board_state": board.board.state, "off_hook": board.phone.off_hook}
            for board in self.boards.values()
        ]
        status["control"] = str(self.control_address) if self.control_address else None
        return status

    # ------------------------------------------------------------------------ phone API

    def dial(self, phone: str, number: str) -> None:
        """Lift ``phone`` and dial ``number``."""
        self._act(phone, lambda p, now: p.dial(number, now))

    def answer(self, phone: str) -> None:
        def answer(p: Phone, now: float) -> None:
            if not p.alerted:
                raise LocalProtocolError(f"phone {phone} is not ringing")
            p.answer(now)

        self._act(phone, answer)

    def hang_up(self, phone: str) -> None:
        self._act(phone, lambda p, now: p.hang_up(now))

    def lift(self, phone: str) -> None:
        self._act(phone, lambda p, now: p.lift(now))

    def play(self, phone: str, spec: str) -> None:
        self._act(phone, lambda p, now: p.play(spec, now))

    def stop_playing(self, phone: str) -> None:
        self._act(phone, lambda p, now: p.stop_playing(now))

    def send_digits(self, phone: str, digits: str) -> None:
        self._act(phone, lambda p, now: p.send_digits(digits, now))

    def flash(self, phone: str) -> None:
        self._act(phone, lambda p, now: p.flash(now))

    def run_script(self, phone: str, script: str) -> None:
        self._act(phone, lambda p, now: p.run_script(script, now))

    def _act(self, name: str, action: Callable[[Phone, float], None]) -> None:
        phone = self.phone(name)
        now = self.now()
        action(phone, now)
        board = self.boards.get(name)
        if board is not None:
            board.poll(now)
        else:
            self.pbx.poll(now)
        self._service()

    async def wait_for(
        self, predicate: EventPredicate, timeout: float = 10.0, *, since: int = 0
    ) -> SimEvent:
        """The first event (from index ``since`` of :attr:`events` on) matching ``predicate``."""
        for event in self.events[since:]:
            if predicate(event):
                return event
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SimEvent] = loop.create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    async def wait_phone(
        self, phone: str, kind: str, value: str | None = None, *, timeout: float = 10.0,
        since: int = 0,
    ) -> PhoneEvent:
        """The first event ``kind`` (with ``value``) of ``phone``."""

        def wanted(event: SimEvent) -> bool:
            return (isinstance(event, PhoneEvent) and event.phone == phone
                    and event.kind == kind and (value is None or event.value == value))

        event = await self.wait_for(wanted, timeout, since=since)
        assert isinstance(event, PhoneEvent)
        return event

    def _record(self, event: SimEvent) -> None:
        self.events.append(event)
        if self._observer is not None:
            self._observer(event)
        if self._waiters:
            for predicate, future in list(self._waiters):
                if not future.done() and predicate(event):
                    future.set_result(event)

    # ------------------------------------------------------------------------ connections

    async def _listen(self, kind: str, name: str, address: Address) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Connection(self, kind, name), *address)
        self._servers.append(server)
        sockname = server.sockets[0].getsockname()
        self._listening[(kind, name)] = (sockname[0], sockname[1])

    async def _connect_forever(self, trunk: TrunkConfig) -> None:
        loop = asyncio.get_running_loop()
        while self._running:
            if ("trunk", trunk.name) not in self._connections:
                with contextlib.suppress(OSError):
                    await loop.create_connection(
                        lambda: Connection(self, "trunk", trunk.name), *trunk.address.address)
            await asyncio.sleep(trunk.reconnect)

    def connection_up(self, kind: str, name: str, link: Connection) -> bool:
        if not self._running or (kind, name) in self._connections:
            return False
        self._connections[(kind, name)] = link
        now = self.now()
        if kind == "trunk":
            self.pbx.trunk_connected(name, now, local=link.local, remote=link.remote)
        else:
            self.boards[name].power_on(now)
        self._service()
        return True

    def connection_data(self, kind: str, name: str, link: Connection, data: bytes) -> None:
        now = self.now()
        if kind == "trunk":
            self.pbx.trunk_receive(name, data, now)
        else:
            self.boards[name].receive_data(data, now)
        self._service()

    def connection_down(self, kind: str, name: str, link: Connection, reason: str) -> None:
        if self._connections.get((kind, name)) is not link:
            return
        del self._connections[(kind, name)]
        if kind == "trunk":
            self.pbx.trunk_closed(name, self.now(), reason)
        self._service()

    # ------------------------------------------------------------------------ the pump

    def _service(self) -> None:
        """Send what is queued, start/stop B-channels, close failed links, re-arm the timer."""
        if self._in_service or self._loop is None:
            return
        self._in_service = True
        try:
            now = self.now()
            for (kind, name), link in list(self._connections.items()):
                if kind == "trunk":
                    data = self.pbx.trunk_data_to_send(name, now)
                    if data:
                        link.write(data)
                    if self.pbx.trunk_failed(name):
                        # The link gave up on the stream (framing lost): hang up the TCP side.
                        del self._connections[(kind, name)]
                        link.accepted = False
                        link.close()
                else:
                    data = self.boards[name].data_to_send(now)
                    if data:
                        link.write(data)
            for board in self.boards.values():
                if ("fxs", board.name) not in self._connections:
                    board.data_to_send(now)  # nobody is connected: the bytes go nowhere
            request = self.pbx.next_media_request()
            while request is not None:
                if isinstance(request, OpenChannel):
                    self._open_channel(request)
                elif isinstance(request, CloseChannel):
                    self._close_channel((request.trunk, request.channel))
                request = self.pbx.next_media_request()
            self._arm()
        finally:
            self._in_service = False

    def _arm(self) -> None:
        if not self._running:
            return
        deadlines = [t for t in (self.pbx.get_timer(), *(b.get_timer() for b in
                                 self.boards.values())) if t is not None]
        self._timer.arm(min(deadlines, default=None), self._loop)

    def _on_timer(self, deadline: float) -> None:
        now = self.now()
        if deadline > now:
            # The loop rounds its clock (uvloop: milliseconds): when it calls, the time has come.
            now = self._last_now = deadline
        self.pbx.handle_timer(now)
        for board in self.boards.values():
            board_deadline = board.get_timer()
            if board_deadline is not None and board_deadline <= now:
                board.handle_timer(now)
        self._service()

    def _audio_tick(self) -> None:
        loop = self._loop
        if loop is None or not self._running:
            return
        now = self.now()
        due = self._audio_due
        ticks = 0
        while due <= now + 1e-6 and ticks < _MAX_AUDIO_CATCH_UP:
            self.pbx.audio_tick(now)
            for board in self.boards.values():
                board.audio_tick(now)
            due += AUDIO_PERIOD
            ticks += 1
        if due <= now:  # too far behind: let those timeslots go
            due = now + AUDIO_PERIOD
        self._audio_due = due
        self._service()
        self._audio = loop.call_at(due, self._audio_tick)

    # ------------------------------------------------------------------------ B-channels

    def _open_channel(self, request: OpenChannel) -> None:
        key = (request.trunk, request.channel)
        self._close_channel(key)
        trunk = self.config.find_trunk(request.trunk)
        if trunk.rtp_local is None or trunk.rtp_remote is None:
            return
        plan = BChannelPlan(trunk.rtp_local.address, trunk.rtp_remote.address, request.codec)
        task = self._spawn(self._start_channel(key, plan))
        self._channels[key] = task

    async def _start_channel(self, key: tuple[str, int], plan: BChannelPlan) -> None:
        trunk, number = key
        try:
            channel = await BChannel.open(
                plan, number, line_codec="l16", rng=self._rng, trace=self._trace,
                node=self.name, call_id=f"{trunk}/B{number}", trace_packets=self._trace_rtp)
        except OSError as exc:
            self._channels.pop(key, None)
            _log.warning("%s: trunk %s channel %d: no voice path: %s", self.name, trunk, number,
                         exc)
            return
        if self._channels.get(key) is not asyncio.current_task():
            channel.close("no longer needed")
            return
        self._channels[key] = channel
        if not self.pbx.attach_channel_media(trunk, number, channel):
            del self._channels[key]
            channel.close("the call ended")

    def _close_channel(self, key: tuple[str, int]) -> None:
        entry = self._channels.pop(key, None)
        if isinstance(entry, BChannel):
            entry.close("call released")
        elif entry is not None:
            entry.cancel()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

