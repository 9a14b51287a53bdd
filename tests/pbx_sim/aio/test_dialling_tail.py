"""In-band dialling: the last key of the number never reaches the trunk.

A phone that dials with DTMF completes its number at the *start* of the last key (that is when
the digit receiver recognises it), while the key still sounds for a while.  A switch keeps the
caller off the B-channel until the key ends; otherwise the gateway behind the trunk hears the
tail of the dialling as a digit pressed in the call and relays it (RFC 4733) to the far end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gateway.media.dtmf_inband import DigitStarted, DtmfDetector
from pbx_sim.aio import PbxSimulator


def test_the_last_dialled_key_is_not_sent_down_the_b_channel(
        pbx_pair: Callable[..., Any]) -> None:
    pair = pbx_pair()
    b_config = pair.b(inband_ringback=False)
    # The far end answers at once (a softphone on auto-answer): the call connects while the
    # caller's last key still sounds.
    b_config = replace(b_config, extension=(
        replace(b_config.extension[0], answer_after_rings=0), *b_config.extension[1:]))

    async def main() -> None:
        async with PbxSimulator(b_config) as b:
            port = b.trunk_address("gw")[1]
            async with PbxSimulator(pair.a(port)) as a:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 5
                while not (a.trunk_connected("gw") and b.trunk_connected("gw")):
                    assert loop.time() < deadline, "trunk never came up"
                    await asyncio.sleep(0.01)
                # What PBX-B receives on its B-channels, each 20 ms frame once.
                detector = DtmfDetector()
                digits: list[str] = []
                frames = 0
                seen: dict[int, bytes] = {}

                async def listen() -> None:
                    nonlocal frames
                    while True:
                        for index, channel in b.pbx.trunks["gw"].ports.items():
                            frame = channel.heard
                            if frame and seen.get(index) is not frame:
                                seen[index] = frame
                                frames += 1
                                digits.extend(e.digit for e in detector.feed(frame)
                                              if isinstance(e, DigitStarted))
                        await asyncio.sleep(0.004)

                listener = asyncio.create_task(listen())
                try:
                    mark = len(b.events)
                    a.dial("1000", "2000")
                    await b.wait_phone("2000", "answered", since=mark)
                    await asyncio.sleep(0.3)
                finally:
                    listener.cancel()
                assert frames >= 10, "the B-channel carried nothing to check"
                assert digits == []
                a.hang_up("1000")
                await b.wait_phone("2000", "cleared", since=mark)

    asyncio.run(asyncio.wait_for(main(), 20))
