"""The runtime's media execution: call control's MediaCommands on real UDP sockets (127.0.0.1).

Two MediaManagers stand for the two gateways of a call: their bridges exchange RTP, a digit sent
toward RTP on one comes back as a DigitFromMedia on the other, tones play toward a line with or
without a bridge, a port that cannot be bound is reported, and StopMedia frees everything.
"""

from __future__ import annotations

import asyncio
import random
import socket
from typing import Any

from gateway.aio.rtp import LocalLine
from gateway.calls.commands import (
    DigitFromMedia,
    MediaEvent,
    MediaFailed,
    PlayToLine,
    SendDigit,
    SetVoicePath,
    StartMedia,
    StopMedia,
)
from gateway.line import LineAudio
from gateway.media.audio import FrameCollector
from gateway.media.tones import tone_plan, tone_power
from gateway.runtime.media import MediaManager, MediaOptions
from gateway.sdp.offer_answer import NegotiatedStream
from gateway.sdp.payload import PayloadFormat

PCMU = PayloadFormat(0, "PCMU", 8000)
EVENTS = PayloadFormat(101, "telephone-event", 8000, fmtp="0-15")


def free_pair(rng: random.Random) -> int:
    for _ in range(200):
        port = rng.randrange(20000, 60000) & ~1
        sockets = []
        try:
            for offset in (0, 1):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free port pair")


def stream(local: int, remote: int) -> NegotiatedStream:
    return NegotiatedStream(
        index=0, media="audio", accepted=True, direction="sendrecv", local_port=local,
        remote_rtp=("127.0.0.1", remote), remote_rtcp=("127.0.0.1", remote + 1),
        send_format=PCMU, receive_formats=(PCMU,), send_telephone_event=EVENTS,
        receive_telephone_event=EVENTS, ptime=20)


class Side:
    """One gateway's media manager with one in-process line (a LocalLine recording)."""

    def __init__(self, name: str, rng: random.Random) -> None:
        self.heard = FrameCollector()
        self.line = LocalLine("l16", sink=self.heard)
        self.events: list[tuple[str, MediaEvent]] = []
        self.manager = MediaManager(audio=self.audio, report=self.report,
                                    tones=tone_plan("us"), options=MediaOptions(node=name),
                                    rng=rng)

    def audio(self, line: str, ref: str) -> LineAudio | None:
        return self.line if (line, ref) == ("station", "r1") else None

    def report(self, call: str, event: MediaEvent) -> None:
        self.events.append((call, event))


def start(port: int, remote: int, *, to_line: bool = True) -> StartMedia:
    return StartMedia(call="c1", line="station", ref="r1", local_port=port,
                      stream=stream(port, remote), dtmf_mode="rfc4733",
                      digits_to_line="inband", to_line=to_line, to_rtp=True, line_codec="l16",
                      local_address="127.0.0.1")


async def until(condition: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_two_bridges_carry_voice_digits_and_tones() -> None:
    rng = random.Random(5)
    a_port, b_port = free_pair(rng), free_pair(rng)

    async def main() -> None:
        a, b = Side("A", random.Random(1)), Side("B", random.Random(2))
        # dial tone before any SDP: the line-only player
        a.manager.execute(PlayToLine("c1", "dial", "station", "r1"))
        await asyncio.sleep(0.3)
        assert len(a.heard.frames) >= 10
        assert tone_power(a.heard.pcm()[-1600:], 350) > 1000
        a.manager.execute(PlayToLine("c1", None, "station", "r1"))
        a.manager.execute(start(a_port, b_port, to_line=False))
        b.manager.execute(start(b_port, a_port))
        await until(lambda: all(s.manager.calls["c1"].transport is not None for s in (a, b)))
        stats = a.manager.calls["c1"].statistics()
        assert stats is not None and stats.sending and not stats.receiving
        a.manager.execute(SetVoicePath("c1", to_line=True, to_rtp=True))
        a.manager.execute(SendDigit("c1", "5", "rtp", 120))
        await until(lambda: any(isinstance(e, DigitFromMedia) for _, e in b.events))
        digit = next(e for _, e in b.events if isinstance(e, DigitFromMedia))
        assert (digit.digit, digit.origin, digit.method) == ("5", "rtp", "rfc4733")
        # ringback toward B's line while the bridge runs: set_line_source
        mark = len(b.heard.frames)
        b.manager.execute(PlayToLine("c1", "ringback", "station", "r1"))
        await asyncio.sleep(0.4)
        pcm = b"".join(b.heard.frames[mark + 2:])
        assert tone_power(pcm, 440) > 1000 and tone_power(pcm, 480) > 1000
        stats = b.manager.calls["c1"].statistics()
        assert stats is not None and stats.rtp.packets_received > 10
        for side in (a, b):
            side.manager.execute(StopMedia("c1"))
            assert "c1" not in side.manager.calls
            await side.manager.close()
        await asyncio.sleep(0.05)
        for port in (a_port, b_port):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
                again.bind(("127.0.0.1", port))  # freed

    asyncio.run(asyncio.wait_for(main(), 20))


def test_a_port_in_use_is_reported_as_media_failed() -> None:
    rng = random.Random(9)
    port = free_pair(rng)

    async def main() -> None:
        side = Side("A", random.Random(1))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", port))
            side.manager.execute(start(port, port + 2))
            await until(lambda: bool(side.events))
        ((call, event),) = side.events
        assert call == "c1" and isinstance(event, MediaFailed) and str(port) in event.reason
        await side.manager.close()

    asyncio.run(asyncio.wait_for(main(), 10))


def test_signalling_only_binds_nothing() -> None:
    rng = random.Random(11)
    port = free_pair(rng)

    async def main() -> None:
        manager = MediaManager(audio=lambda line, ref: None, report=lambda c, e: None,
                               tones=tone_plan("us"), options=MediaOptions(enabled=False),
                               rng=random.Random(1))
        manager.execute(start(port, port + 2))
        manager.execute(PlayToLine("c1", "busy", "station", "r1"))
        await asyncio.sleep(0.05)
        media = manager.calls["c1"]
        assert media.transport is None and media.player is None and media.local_port == port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", port))  # never bound by the manager
        manager.execute(StopMedia("c1"))
        assert not manager.calls
        await manager.close()

    asyncio.run(asyncio.wait_for(main(), 10))
