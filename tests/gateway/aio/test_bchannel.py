"""Trunk B-channels on RTP: the port convention, and voice both ways between two ends."""

from __future__ import annotations

import asyncio
import random
import socket

import pytest

from gateway.aio.bchannel import BChannel, BChannelPlan
from gateway.errors import LocalProtocolError
from gateway.media.audio import SILENCE_FRAME
from gateway.media.g711 import alaw_decode, alaw_encode
from gateway.media.tones import ToneDetector, ToneGenerator


def free_base(rng: random.Random, ports: int) -> int:
    for _ in range(200):
        base = rng.randrange(20000, 60000) & ~1
        sockets = []
        try:
            for port in range(base, base + ports):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free ports")


def test_the_port_convention() -> None:
    plan = BChannelPlan(("127.0.0.1", 30000), ("127.0.0.2", 40000), "pcma")
    assert plan.local_rtp(1) == ("127.0.0.1", 30000)
    assert plan.local_rtp(17) == ("127.0.0.1", 30032)
    assert plan.remote_rtp(17) == ("127.0.0.2", 40032)
    stream = plan.stream(17)
    assert stream.remote_rtcp == ("127.0.0.2", 40033) and stream.ptime == 20
    assert stream.send_format is not None and stream.send_format.payload_type == 8
    assert BChannelPlan(("::1", 2000), ("::1", 2000), "pcmu").stream(1).send_format.payload_type \
        == 0  # type: ignore[union-attr]
    for bad in (lambda: BChannelPlan(("127.0.0.1", 30001), ("127.0.0.1", 4000), "pcma"),
                lambda: BChannelPlan(("127.0.0.1", 1000), ("127.0.0.1", 4000), "pcma"),
                lambda: BChannelPlan(("127.0.0.1", 3000), ("127.0.0.1", 4000), "g729"),  # type: ignore[arg-type]
                lambda: plan.local_rtp(0)):
        with pytest.raises(LocalProtocolError):
            bad()


def test_voice_both_ways_and_the_channel_reopens() -> None:
    rng = random.Random(3)
    a_base, b_base = free_base(rng, 8), free_base(rng, 8)
    a_plan = BChannelPlan(("127.0.0.1", a_base), ("127.0.0.1", b_base), "pcma")
    b_plan = BChannelPlan(("127.0.0.1", b_base), ("127.0.0.1", a_base), "pcma")

    async def call(channel: int) -> tuple[int, int]:
        a = await BChannel.open(a_plan, channel, rng=random.Random(1))
        b = await BChannel.open(b_plan, channel, line_codec="pcma", rng=random.Random(2))
        assert a.local == a_plan.local_rtp(channel) and b.local == b_plan.local_rtp(channel)
        heard_at_b: list[bytes] = []
        b.set_receiver(heard_at_b.append)  # B is used as a LineAudio (A-law frames)
        a_tone = ToneGenerator([(1004, -13.0)])
        b_tone = ToneGenerator([(697, -13.0)])
        at_a, at_b = ToneDetector(697), ToneDetector(1004)
        heard_a = 0
        loop = asyncio.get_running_loop()
        start = loop.time()
        for tick in range(30):
            await asyncio.sleep(max(0.0, start + tick * 0.02 - loop.time()))
            heard_a += at_a.feed(a.exchange(a_tone.read_frame() or SILENCE_FRAME))
            b.write(alaw_encode(b_tone.read_frame() or SILENCE_FRAME))
        heard_b = sum(at_b.feed(alaw_decode(frame)) for frame in heard_at_b)
        assert a.statistics().rtp.packets_sent >= 20  # type: ignore[attr-defined]
        a.close()
        b.close()
        assert a.closed and a.exchange(SILENCE_FRAME) == SILENCE_FRAME
        return heard_a, heard_b

    async def main() -> None:
        for channel in (3, 3, 4):  # channel 3 twice: the port is bound again at once
            heard_a, heard_b = await call(channel)
            assert heard_a >= 15 and heard_b >= 15

    asyncio.run(asyncio.wait_for(main(), 15))
