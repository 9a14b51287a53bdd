"""A simulated phone exposed as a serial FXS board on TCP, driven with the documented protocol
by the host side of hardware/protocols/fxs_line.py over a raw asyncio connection."""

from __future__ import annotations

import asyncio

from gateway.line import DigitsDialled, LineAnswered, LineEvent, LineSeized, OfferCall
from gateway.media.g711 import ulaw_decode
from gateway.media.tones import ToneDetector
from hardware.protocols.fxs_board import FxsStreamReader
from hardware.protocols.fxs_line import FxsBoardLine, FxsLineConfig
from hardware.protocols.line_audio import LineAudioFrame
from pbx_sim.aio import PbxSimulator
from pbx_sim.config import FxsPhoneConfig, HostPort, PbxConfig


class Host:
    """The gateway's side of the serial link, pumped over a TCP connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.line = FxsBoardLine(FxsLineConfig(line="fxs1", audio="serial",
                                               ring_cadence=(200, 200)))
        self.raw = bytearray()
        self.events: list[LineEvent | LineAudioFrame] = []
        self.loop = asyncio.get_running_loop()
        self.task = self.loop.create_task(self._run())

    async def _run(self) -> None:
        self.line.start(self.loop.time())
        while True:
            self._flush()
            deadline = self.line.get_timer()
            timeout = 0.01 if deadline is None else max(0.0, min(0.01, deadline -
                                                                 self.loop.time()))
            try:
                data = await asyncio.wait_for(self.reader.read(4096), timeout)
            except TimeoutError:
                data = None
            now = self.loop.time()
            if data is not None:
                if not data:
                    return
                self.raw += data
                self.line.receive_data(data, now)
            deadline = self.line.get_timer()
            if deadline is not None and deadline <= now:
                self.line.handle_timer(now)

    def _flush(self) -> None:
        out = self.line.data_to_send(self.loop.time())
        if out:
            self.writer.write(out)
        while (event := self.line.next_event()) is not None:
            self.events.append(event)

    def lines(self, start: int = 0) -> list[str]:
        """The text lines the board sent (audio frames left out)."""
        reader = FxsStreamReader()
        return [item for item in reader.feed(bytes(self.raw[start:])) if isinstance(item, str)]

    def command(self, command: OfferCall) -> None:
        self.line.handle_command(command, self.loop.time())
        self._flush()

    async def until(self, test: object, timeout: float = 5.0) -> None:
        deadline = self.loop.time() + timeout
        while not test():  # type: ignore[operator]
            assert self.loop.time() < deadline, f"timed out; board said {bytes(self.raw)!r}"
            await asyncio.sleep(0.01)


def test_fxs_board_phone_over_tcp() -> None:
    config = PbxConfig(name="PBX-F", fxs_phone=(FxsPhoneConfig(
        name="fxs1", listen=HostPort("127.0.0.1", 0), answer_after_rings=1, play="tone:1004",
        dial_delay=0.1),))

    async def main() -> None:
        async with PbxSimulator(config) as sim:
            reader, writer = await asyncio.open_connection(*sim.fxs_address("fxs1"))
            host = Host(reader, writer)
            await host.until(lambda: host.line.in_service)
            assert b"READY\r\n" in host.raw
            sim.dial("fxs1", "42")
            await host.until(lambda: len([e for e in host.events
                                          if isinstance(e, DigitsDialled)]) == 2)
            lines = host.lines()
            assert lines[:3] == ["INFO gwemu simulated phone fxs1", "STATE IDLE", "READY"]
            assert "LINE OFFHOOK" in lines
            assert [line for line in lines if line.startswith("DIAL")] == ["DIAL 4", "DIAL 2"]
            assert [type(e) for e in host.events if isinstance(e, LineSeized)] == [LineSeized]
            assert [e.digits for e in host.events if isinstance(e, DigitsDialled)] == ["4", "2"]
            sim.hang_up("fxs1")
            await host.until(lambda: not host.line.off_hook and host.line.board_state == "IDLE")
            await asyncio.sleep(1.1)  # the host's hang-up timer: the call ends
            mark = len(host.raw)
            host.command(OfferCall("fxs1", "in-1", "5553000", calling="5551234"))
            await host.until(lambda: any(isinstance(e, LineAnswered) for e in host.events))
            assert "RING_TRIP" in host.lines(mark)
            ring = [e.kind for e in sim.phone_events("fxs1")
                    if e.kind in ("caller-id", "answered", "play")]
            assert ring == ["caller-id", "answered", "play"]  # answering connects: it speaks
            await asyncio.sleep(0.5)
            frames = [e.data for e in host.events if isinstance(e, LineAudioFrame)]
            detector = ToneDetector(1004)
            assert sum(detector.feed(ulaw_decode(frame)) for frame in frames) >= 10
            host.task.cancel()
            writer.close()

    asyncio.run(asyncio.wait_for(main(), 20))
