"""Bad input from either side clears the call with the right cause and leaves no leg behind.

* Q.931 side: a hand-driven PBX (a :class:`~pbx_sim.q931.Q931Link` on a raw TCP server) takes
  PBX-A's place toward GW-A and sends a DISCONNECT without its mandatory Cause, then a stream
  whose TPKT framing is broken.
* SIP side: a hand-written peer takes GW-B's place toward GW-A: it answers without SDP
  (a 2xx the offer/answer state does not allow), or answers properly and then vanishes.
* And: a stray BYE, a garbage datagram.  Each time the live calls count back to zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

from gateway.aio.virtual_time import run_virtual
from gateway.errors import LocalProtocolError
from pbx_sim.q931 import (
    CalledPartyNumber,
    CallingPartyNumber,
    CallKey,
    ChannelIdentification,
    Message,
    MessageType,
    Q931Event,
    Q931Link,
    tpkt_frame,
)


class FakePbx:
    """A PBX driven step by step: the Q.931 network side on one TCP connection."""

    def __init__(self) -> None:
        self.link = Q931Link("network", node="FAKE-PBX")
        self.events: list[Q931Event] = []
        self.writer: asyncio.StreamWriter | None = None
        self.server: asyncio.Server | None = None
        self.closed = asyncio.Event()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        loop = asyncio.get_running_loop()
        while data := await reader.read(4096):
            self.link.receive_data(data, loop.time())
            self.flush()
        self.closed.set()

    def flush(self) -> None:
        while (event := self.link.next_event()) is not None:
            self.events.append(event)
        data = self.link.data_to_send(0.0)
        if data and self.writer is not None:
            self.writer.write(data)

    def setup(self, called: str) -> CallKey:
        key = self.link.setup(0.0, called=CalledPartyNumber(called),
                              calling=CallingPartyNumber("5551000", presentation=0, screening=0),
                              channel=ChannelIdentification.pri(1, exclusive=True))
        self.flush()
        return key

    def raw(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

    async def wait(self, kind: str, timeout: float = 20.0) -> Q931Event:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for event in self.events:
                if type(event).__name__ == kind:
                    return event
            assert loop.time() < deadline, f"no {kind}: {self.events}"
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@contextlib.asynccontextmanager
async def fake_world(flow: Any, **options: Any) -> AsyncIterator[tuple[Any, FakePbx]]:
    fake = FakePbx()
    await fake.start()
    try:
        async with flow.world(flow.Options(a_trunk_port=fake.port, **options)) as world:
            await world.until(lambda: fake.writer is not None, what="GW-A's trunk")
            yield world, fake
    finally:
        await fake.close()


async def answered_call(world: Any, fake: FakePbx) -> CallKey:
    """A call from the fake PBX to PBX-B's 1234, answered and acknowledged."""
    key = fake.setup("5551234")
    await fake.wait("CallConnected")
    fake.link.connect_ack(key, 0.0)
    fake.flush()
    await world.phone(world.pbx_b, "1234", "answered")
    await world.until(lambda: ("in", "ACK") in world.sip(world.gw_b), what="the ACK")
    return key


def test_a_disconnect_without_its_cause_still_clears_with_cause_31(flow: Any) -> None:
    """Q.931 s5.8.6.1: a DISCONNECT missing its mandatory Cause is acted on as if it said 31,
    and our RELEASE reports the error (cause 96, mandatory information element missing)."""

    async def main() -> None:
        async with fake_world(flow) as (w, fake):
            key = await answered_call(w, fake)
            reference = fake.link.calls()[0]
            assert reference == key
            bare = Message.build(MessageType.DISCONNECT, _reference(fake, key))
            fake.raw(tpkt_frame(bytes(bare)))
            cleared = await w.phone(w.pbx_b, "1234", "cleared")
            assert cleared.cause == 31
            await fake.wait("CallReleased")
            await w.idle()
            release = w.messages(w.gw_a, "q931", "RELEASE")
            assert len(release) == 1 and flow.q931_cause(release[0]) == 96
            assert w.sip(w.gw_a)[-2:] == [("out", "BYE"), ("in", "200 (BYE)")]
            bye = w.messages(w.gw_a, "sip", "BYE")[0]
            assert b"cause=31" in bye.raw

    run_virtual(asyncio.wait_for(main(), 120))


def test_broken_framing_mid_call_drops_the_link_and_clears_with_cause_27(flow: Any) -> None:
    async def main() -> None:
        async with fake_world(flow) as (w, fake):
            await answered_call(w, fake)
            fake.raw(b"\x09\x00\x00\x05\x00")  # TPKT version 9: no resynchronising
            cleared = await w.phone(w.pbx_b, "1234", "cleared")
            assert cleared.cause == 27  # the active call's link went down
            await asyncio.wait_for(fake.closed.wait(), 5)  # GW-A hung up the TCP side
            await w.until(lambda: w.gw_a.live_calls == 0 and w.gw_b.live_calls == 0)
            assert not w.gw_a.in_service["pbx-a"]
            assert w.sip(w.gw_a)[-2:] == [("out", "BYE"), ("in", "200 (BYE)")]
            assert b"cause=27" in w.messages(w.gw_a, "sip", "BYE")[0].raw
            assert w.gw_a.trunks["pbx-a"].live_calls == 0

    run_virtual(asyncio.wait_for(main(), 120))


def _reference(fake: FakePbx, key: CallKey) -> Any:
    from pbx_sim.q931 import CallReference

    return CallReference(key.value, flag=not key.ours, length=2)


class RawPeer:
    """A SIP 'gateway' written by hand on one UDP socket: answers INVITEs as told."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.received: list[bytes] = []

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    async def receive(self, method: bytes, timeout: float = 40.0) -> bytes:
        loop = asyncio.get_running_loop()
        while True:
            data, source = await asyncio.wait_for(loop.sock_recvfrom(self.sock, 65535), timeout)
            self.received.append(data)
            self.source = source
            if data.startswith(method):
                return data

    async def answer(self, request: bytes, status: str, body: bytes = b"") -> None:
        head, _, _ = request.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        keep = [line for line in lines[1:] if line.split(b":")[0].lower() in
                (b"via", b"from", b"call-id", b"cseq", b"to")]
        keep = [line + b";tag=peer1" if line.lower().startswith(b"to:") else line
                for line in keep]
        extra = [f"Contact: <sip:peer@127.0.0.1:{self.port}>".encode()]
        if body:
            extra.append(b"Content-Type: application/sdp")
        message = b"\r\n".join([f"SIP/2.0 {status}".encode(), *keep, *extra,
                                f"Content-Length: {len(body)}".encode(), b"", body])
        await asyncio.get_running_loop().sock_sendto(self.sock, message, self.source)

    def close(self) -> None:
        self.sock.close()


SDP = (b"v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def test_a_2xx_without_the_sdp_answer_is_acknowledged_and_ended(flow: Any) -> None:
    """The peer answers our offer with a 200 carrying no SDP (RFC 3264 forbids it): GW-A
    acknowledges, ends the dialog with BYE, and clears its PBX's call."""
    peer = RawPeer()

    async def main() -> None:
        async with flow.world(flow.Options(b_target=f"127.0.0.1:{peer.port}")) as w:
            mark = len(w.pbx_a.events)
            w.pbx_a.dial("1000", "5551234")
            invite = await peer.receive(b"INVITE")
            await peer.answer(invite, "200 OK")
            await peer.receive(b"ACK")
            bye = await peer.receive(b"BYE")
            await peer.answer(bye, "200 OK")
            cleared = await w.phone(w.pbx_a, "1000", "cleared")
            await w.until(lambda: w.gw_a.live_calls == 0)
            assert cleared.cause == 111  # protocol error, unspecified
            assert w.cleared(w.pbx_a, "1000", mark) == [cleared.cause]
            disconnect = w.messages(w.gw_a, "q931", "DISCONNECT")
            assert [flow.q931_cause(e) for e in disconnect] == [cleared.cause]
            assert f"cause={cleared.cause}".encode() in bye

    try:
        run_virtual(asyncio.wait_for(main(), 120))
    finally:
        peer.close()


def test_a_peer_that_vanishes_after_answering_is_cleared_by_the_media_timeout(
        flow: Any) -> None:
    """The peer answers with SDP and never sends RTP or anything else again: GW-A's media
    timeout (1 s) ends the call toward both sides (cause 102); its BYE goes unanswered and
    times out (Timer F, 64*T1 with T1 = 50 ms)."""
    peer = RawPeer()

    async def main() -> None:
        options = flow.Options(b_target=f"127.0.0.1:{peer.port}", media=True,
                               a_media='media-timeout = "1s"',
                               a_sip='t1 = "50ms"\nt2 = "400ms"')  # Timer F: 3.2 s
        async with flow.world(options) as w:
            mark = len(w.pbx_a.events)
            w.pbx_a.dial("1000", "5551234")
            invite = await peer.receive(b"INVITE")
            await peer.answer(invite, "200 OK", SDP)
            await peer.receive(b"ACK")
            peer.close()  # gone
            cleared = await w.phone(w.pbx_a, "1000", "cleared", timeout=10)
            assert cleared.cause == 102  # recovery on timer expiry
            assert w.cleared(w.pbx_a, "1000", mark) == [cleared.cause]
            disconnect = w.messages(w.gw_a, "q931", "DISCONNECT")
            assert [flow.q931_cause(e) for e in disconnect] == [cleared.cause]
            assert ("out", "BYE") in w.sip(w.gw_a)
            await w.until(lambda: w.gw_a.live_calls == 0, timeout=10)

    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        peer.close()


def test_stray_sip_gets_the_protocol_answer_and_creates_nothing(flow: Any) -> None:
    async def main() -> None:
        async with flow.world() as w:
            target = w.gw_b.sip_address("udp")
            loop = asyncio.get_running_loop()
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            port = sock.getsockname()[1]
            bye = (f"BYE sip:x@{target[0]}:{target[1]} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKstray1\r\n"
                   "Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=a1\r\n"
                   "To: <sip:b@127.0.0.1>;tag=b1\r\nCall-ID: stray-1@127.0.0.1\r\n"
                   "CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n").encode()
            await loop.sock_sendto(sock, bye, target)
            answer = await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)
            assert answer.startswith(b"SIP/2.0 481")
            await loop.sock_sendto(sock, b"\x00\xffnot sip at all\r\n\r\n", target)
            await loop.sock_sendto(sock, b"INVITE sip:x SIP/2.0\r\nVia: broken\r\n\r\n", target)
            await asyncio.sleep(0.2)
            sock.close()
            assert w.gw_b.live_calls == 0 and w.q931(w.gw_b) == []
            # and the gateway still works
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            w.pbx_a.hang_up("1000")
            await w.idle()

    run_virtual(asyncio.wait_for(main(), 120))


class SipPeer:
    """A hand-written caller on a UDP socket toward GW-B (INVITE, CANCEL, ACK of the final)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def request(self, method: str, call_id: str, *, from_: str, body: str = "",
                to_tag: str = "", cseq: int = 1) -> bytes:
        host, port = self.target
        to = f"<sip:5551234@{host}>" + (f";tag={to_tag}" if to_tag else "")
        content = "Content-Type: application/sdp\r\n" if body else ""
        return (f"{method} sip:5551234@{host}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{call_id}\r\n"
                f"Max-Forwards: 70\r\nFrom: {from_};tag=peer\r\nTo: {to}\r\n"
                f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
                f"Contact: <sip:peer@127.0.0.1:{self.port}>\r\n{content}"
                f"Content-Length: {len(body.encode())}\r\n\r\n{body}").encode()

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendto(self.sock, data, self.target)

    async def until_status(self, status: int, timeout: float = 10.0) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536),
                                          max(0.01, deadline - loop.time()))
            if data.startswith(f"SIP/2.0 {status} ".encode()):
                return data

    def close(self) -> None:
        self.sock.close()


OFFER = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
         "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def to_tag_of(response: bytes) -> str:
    to = next(line for line in response.split(b"\r\n") if line.lower().startswith(b"to:"))
    return to.split(b";tag=")[1].decode()


def test_an_e164_caller_with_a_long_foreign_name_rings_the_pbx(flow: Any) -> None:
    """Found by fuzzing: '+' in the From user or a display name Q.931 cannot carry left the
    call stuck in 'offered' with the caller hearing nothing after 100 Trying."""
    name = "José Müller " + "x" * 100

    async def main() -> None:
        async with flow.world() as w:
            peer = SipPeer(w.gw_b.sip_address("udp"))
            try:
                invite = peer.request("INVITE", "e164-1", body=OFFER,
                                      from_=f'"{name}" <sip:+15551000@127.0.0.1>')
                await peer.send(invite)
                caller_id = await w.phone(w.pbx_b, "1234", "caller-id")
                assert caller_id.value == "15551000 " + ("Jose Muller " + "x" * 100)[:80]
                ringing = await peer.until_status(180)
                await peer.send(peer.request("CANCEL", "e164-1", from_="<sip:+15551000@x>"))
                final = await peer.until_status(487)
                await peer.send(peer.request("ACK", "e164-1", from_="<sip:+15551000@x>",
                                             to_tag=to_tag_of(final)))
                assert to_tag_of(ringing) == to_tag_of(final)
                await w.idle()
            finally:
                peer.close()

    run_virtual(asyncio.wait_for(main(), 120))


def test_a_line_that_refuses_the_offer_fails_the_call_with_500(flow: Any) -> None:
    """Should any adapter refuse an OfferCall, the call is cleared (cause 111), not left."""

    async def main() -> None:
        async with flow.world() as w:
            trunk = w.gw_b.adapters["pbx-b"]
            send = trunk.send

            def refusing(command: Any) -> None:
                if type(command).__name__ == "OfferCall":
                    raise LocalProtocolError("this line cannot take that call")
                send(command)

            trunk.send = refusing
            peer = SipPeer(w.gw_b.sip_address("udp"))
            try:
                await peer.send(peer.request("INVITE", "refused-1", body=OFFER,
                                             from_="<sip:5551000@127.0.0.1>"))
                final = await peer.until_status(500)
                await peer.send(peer.request("ACK", "refused-1", from_="<sip:5551000@x>",
                                             to_tag=to_tag_of(final)))
                await w.idle()
                assert any("OfferCall refused: this line cannot take that call" in line
                           for line in w.console)
            finally:
                peer.close()

    run_virtual(asyncio.wait_for(main(), 120))
