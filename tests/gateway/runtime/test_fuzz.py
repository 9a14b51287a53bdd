"""Mutated SIP at a running gateway: every message gets its answer, nothing raises, no call stays.

A seeded mutator breaks a valid INVITE (bytes flipped, cut, inserted; header lines repeated,
dropped or re-spelled; hostile tokens) and GW-B of flow 1 takes the lot over UDP, then over
TCP in small chunks, while PBX-B behind it answers, rings or refuses as its phones do.  Found
this way before: a 400 that raised while being traced (a broken CSeq), calls stuck 'offered'
(a '+' or a long name the SETUP could not carry), a B-channel port left bound (a cancelled
open).  The checks: no exception reaches the event loop, the gateway still completes a normal
call, and once the timers have run every call is gone on both gateways and both PBXs.
"""

from __future__ import annotations

import asyncio
import random
import socket
from typing import Any

from gateway.aio.virtual_time import run_virtual

MESSAGES = 300
CONNECTIONS = 40
HOSTILE = (b"0", b"-1", b"99999999999999999999", b"", b"\x00", b";;;", b"<>", b"[::", b"%",
           b"\xff\xfe", b"+", b"a" * 300, b"\r\n", b" ,")


def invite(host: str, port: int, source: int, number: int, transport: str = "UDP") -> bytes:
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
           "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n")
    return (f"INVITE sip:5551234@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:{source};branch=z9hG4bKfuzz{number}\r\n"
            f'Max-Forwards: 70\r\nFrom: "Fuzz" <sip:5551000@127.0.0.1>;tag=f{number}\r\n'
            f"To: <sip:5551234@{host}>\r\nCall-ID: fuzz-{number}@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:5551000@127.0.0.1:{source}>\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(sdp)}\r\n\r\n{sdp}").encode()


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        operation = rng.randrange(7)
        lines = bytes(out).split(b"\r\n")
        if operation == 0 and out:
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif operation == 1 and out:
            start = rng.randrange(len(out))
            del out[start:start + rng.randint(1, 40)]
        elif operation == 2:
            at = rng.randrange(len(out) + 1)
            out[at:at] = rng.choice(HOSTILE)
        elif operation == 3:
            lines.insert(rng.randrange(len(lines)), rng.choice(lines))
            out = bytearray(b"\r\n".join(lines))
        elif operation == 4 and len(lines) > 2:
            del lines[rng.randrange(len(lines))]
            out = bytearray(b"\r\n".join(lines))
        elif operation == 5:
            out = out[:rng.randrange(len(out) + 1)]
        else:
            index = rng.randrange(len(lines))
            lines[index] = lines[index].upper() if rng.random() < 0.5 else \
                lines[index].replace(b":", b" :", 1)
            out = bytearray(b"\r\n".join(lines))
    return bytes(out)


def test_mutated_invites_never_break_the_gateway(flow: Any) -> None:
    rng = random.Random(2026)
    failures: list[dict[str, Any]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: failures.append(context))
        async with flow.world() as w:
            host, port = w.gw_b.sip_address("udp")
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            source = sock.getsockname()[1]
            answered = 0
            try:
                for number in range(MESSAGES):
                    await loop.sock_sendto(sock, mutate(invite(host, port, source, number), rng),
                                           (host, port))
                    await asyncio.sleep(0.01)
                    while True:
                        try:
                            sock.recv(65536)
                        except BlockingIOError:
                            break
                        answered += 1
            finally:
                sock.close()
            for number in range(CONNECTIONS):
                _, writer = await asyncio.open_connection(host, port)
                blob = b"".join(
                    mutate(invite(host, port, source, 10_000 + 10 * number + k, "TCP"), rng)
                    for k in range(rng.randint(1, 4)))
                for start in range(0, len(blob), 97):
                    writer.write(blob[start:start + 97])
                    await writer.drain()
                writer.close()
                await asyncio.sleep(0.05)
            assert answered >= MESSAGES // 2  # most mutations are answered (400, 486 ...)
            # Calls answered by PBX-B are never ACKed: 64*T1 later GW-B hangs up on them.
            await w.idle(timeout=120)
            # And a normal call still goes through end to end.
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            w.pbx_a.hang_up("1000")
            await w.idle()
        assert failures == []

    run_virtual(asyncio.wait_for(main(), 300))
