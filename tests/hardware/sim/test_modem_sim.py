"""The simulated modem against the host's line core in memory, on a virtual clock.

The pty tests (tests/hardware/drivers) show the same pair over a real tty; these pin down the
simulator's protocol behaviour per quirk profile quickly and deterministically.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.line import (
    AnswerCall,
    ClearCall,
    LineAnswerAcknowledged,
    LineAnswered,
    LineCleared,
    LineDigit,
    LineEvent,
    LineReleased,
    LineSeized,
    LineStatus,
    OfferCall,
    SendDigit,
)
from gateway.media.bridge_paths import line_format
from gateway.media.tones import ToneDetector, ToneGenerator
from hardware.protocols.caller_id import CallerId
from hardware.protocols.line_audio import LineAudioFrame
from hardware.protocols.quirks import CONEXANT_CX930XX, GENERIC_V253, USR_5637, ModemQuirks
from hardware.protocols.voice_modem import VoiceModemConfig, VoiceModemLine
from hardware.sim.modem import SimModemOptions, SimulatedModem

LINE = "m"


class Pair:
    """Host core and simulated modem joined by an in-memory byte stream."""

    def __init__(self, quirks: ModemQuirks = GENERIC_V253, *, byte_by_byte: bool = False,
                 config: dict[str, object] | None = None, **options: object) -> None:
        self.sim = SimulatedModem(SimModemOptions(quirks=quirks, ring_interval=1.0,
                                                  caller_id_delay=0.2, **options))  # type: ignore[arg-type]
        settings: dict[str, object] = {"line": LINE, "quirks": quirks, "silence_timeout": None}
        settings.update(config or {})
        self.host = VoiceModemLine(VoiceModemConfig(**settings))  # type: ignore[arg-type]
        self.byte_by_byte = byte_by_byte
        self.now = 0.0
        self.events: list[LineEvent] = []
        self.audio: list[LineAudioFrame] = []
        self.to_sim = bytearray()
        self.to_host = bytearray()
        self.sim.plugged(self.now)
        self.host.start(self.now)
        self.pump()

    def pump(self) -> None:
        for _ in range(200):
            a = self.host.data_to_send(self.now)
            b = self.sim.data_to_send(self.now)
            self.to_sim += a
            self.to_host += b
            if a:
                self._feed(self.sim.receive_data, a)
            if b:
                self._feed(self.host.receive_data, b)
            while (event := self.host.next_event()) is not None:
                if isinstance(event, LineAudioFrame):
                    self.audio.append(event)
                else:
                    self.events.append(event)
            if not a and not b:
                return

    def _feed(self, receive: object, data: bytes) -> None:
        if self.byte_by_byte:
            for i in range(len(data)):
                receive(data[i:i + 1], self.now)  # type: ignore[operator]
        else:
            receive(data, self.now)  # type: ignore[operator]

    def advance(self, seconds: float, *, tone: int | None = None) -> None:
        until = self.now + seconds
        generator = ToneGenerator([(tone, -10.0)]) if tone else None
        while self.now < until - 1e-9:
            self.now = min(until, self.now + 0.02)
            for node in (self.host, self.sim):
                deadline = node.get_timer()
                while deadline is not None and deadline <= self.now:
                    node.handle_timer(self.now)
                    deadline = node.get_timer()
            self.sim.audio_tick(self.now)
            call = self.host.call_ref
            codec = self.host.codec
            if generator is not None and call is not None and codec is not None:
                frame = line_format(codec).from_linear(generator.read_frame() or b"")
                self.host.send_audio(call, frame, self.now)
            self.pump()

    def do(self, command: object) -> None:
        self.host.handle_command(command, self.now)  # type: ignore[arg-type]
        self.pump()

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]


def detected(pcm: bytes, frequency: int) -> int:
    detector = ToneDetector(frequency)
    return sum(detector.feed(pcm[i:i + 320]) for i in range(0, len(pcm) - 319, 320))


@pytest.mark.parametrize("quirks", [GENERIC_V253, USR_5637, CONEXANT_CX930XX])
@pytest.mark.parametrize("separator", [" = ", "="])
def test_every_profile_takes_a_call_with_caller_id(quirks: ModemQuirks, separator: str) -> None:
    pair = Pair(quirks, caller_id_separator=separator)
    assert pair.of(LineStatus) == [LineStatus(LINE, True, "initialised")]
    pair.sim.play(ToneGenerator([(697, -10.0)]))
    pair.sim.ring(CallerId(number="5551234", name="ALICE"), pair.now)
    pair.advance(0.5)
    assert f"NMBR{separator}5551234".encode() in pair.to_host
    (seized,) = pair.of(LineSeized)
    assert (seized.calling, seized.calling_name) == ("5551234", "ALICE")
    pair.do(AnswerCall(LINE, seized.ref))
    pair.advance(0.6, tone=1004)
    assert pair.of(LineAnswerAcknowledged)
    heard_on_line = bytes(pair.sim.heard)
    assert detected(heard_on_line, 1004) >= 15
    codec = pair.host.codec
    assert codec == ("l16" if quirks is CONEXANT_CX930XX else "pcmu")
    pcm = line_format(codec).to_linear(b"".join(frame.data for frame in pair.audio))
    assert detected(pcm, 697) >= 15
    pair.do(ClearCall(LINE, seized.ref))
    pair.advance(0.2)
    assert pair.of(LineReleased) and not pair.sim.off_hook
    if quirks is CONEXANT_CX930XX:
        assert b"\x10\x10\x10^" in pair.to_sim  # three DLEs before the stream action


def test_byte_by_byte_link_still_works() -> None:
    pair = Pair(USR_5637, byte_by_byte=True)
    pair.sim.ring(CallerId(number="5550000", name="X"), pair.now)
    pair.advance(0.5)
    (seized,) = pair.of(LineSeized)
    pair.do(AnswerCall(LINE, seized.ref))
    pair.advance(0.2)
    pair.sim.send_dtmf("7", pair.now, duration=0.15)
    pair.advance(0.4)
    (digit,) = pair.of(LineDigit)
    assert digit.digit == "7" and abs(digit.duration_ms - 150) <= 20  # 20 ms clock steps


def test_echo_after_reset_is_swallowed_by_the_host() -> None:
    pair = Pair()
    assert pair.to_host.startswith(b"ATZ\r\r\nOK\r\n")  # echoed until ATE0
    assert b"ATE0\r" in pair.to_host and b"AT+FCLASS=8\r\r\n" not in pair.to_host
    assert pair.host.in_service


def test_refused_caller_id_command_falls_back_to_the_next_one() -> None:
    pair = Pair(CONEXANT_CX930XX, refused_commands=("AT+VCID",))
    assert "AT#CID=1" in pair.sim._log.values("command")
    pair.sim.ring(CallerId(number="5551111", name="Y"), pair.now)
    pair.advance(0.5)
    assert [s.calling for s in pair.of(LineSeized)] == ["5551111"]


def test_no_caller_id_without_the_host_enabling_it() -> None:
    pair = Pair(refused_commands=("AT+VCID",), config={"caller_id_wait": 1.5})
    pair.sim.ring(CallerId(number="5551111"), pair.now)
    pair.advance(2.0)
    assert b"NMBR" not in pair.to_host
    assert [s.calling for s in pair.of(LineSeized)] == [None]


def test_refused_vtr_gives_half_duplex_and_bare_ok_after_abort() -> None:
    pair = Pair(refuse_vtr=True, bare_ok_after_abort=True)
    pair.sim.ring(CallerId(number="5552222", name="Z"), pair.now)
    pair.advance(0.5)
    (seized,) = pair.of(LineSeized)
    pair.do(AnswerCall(LINE, seized.ref))
    pair.advance(0.2)
    assert pair.sim.voice_state == "receive"
    pair.do(SendDigit(LINE, seized.ref, "3"))
    pair.advance(0.3)
    assert pair.sim._log.values("digit-to-line") == ["3"]
    assert pair.sim.voice_state == "receive"  # back in voice after the +VTS
    pair.do(ClearCall(LINE, seized.ref))
    pair.advance(0.3)
    assert pair.of(LineReleased) and not pair.sim.off_hook


@pytest.mark.parametrize(("result", "cause"), [("BUSY", 17), ("NO ANSWER", 19),
                                               ("NO DIALTONE", 41)])
def test_dial_results(result: str, cause: int) -> None:
    pair = Pair(dial_result=result)
    pair.do(OfferCall(LINE, "o1", "5550100"))
    pair.advance(1.0)
    assert [(c.ref, c.cause) for c in pair.of(LineCleared)] == [("o1", cause)]
    assert pair.sim._log.values("dialled") == ["5550100"]


def test_gateway_hangs_up_while_dialling() -> None:
    pair = Pair(dial_delay=5.0)
    pair.do(OfferCall(LINE, "o2", "5550100"))
    pair.advance(0.3)
    pair.do(ClearCall(LINE, "o2"))
    pair.advance(0.3)
    assert pair.sim._log.values("dial-result") == ["aborted"]
    assert pair.of(LineReleased) and not pair.sim.off_hook and not pair.of(LineAnswered)


def test_vcon_answers_the_outgoing_call() -> None:
    pair = Pair()
    pair.do(OfferCall(LINE, "o3", "5550100"))
    pair.advance(1.0)
    assert [a.ref for a in pair.of(LineAnswered)] == ["o3"]
    assert pair.sim.in_call and pair.sim.voice_state == "duplex"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=12))
def test_host_garbage_never_breaks_the_simulator(chunks: list[bytes]) -> None:
    sim = SimulatedModem(rng=random.Random(1))
    sim.plugged(0.0)
    for index, chunk in enumerate(chunks):
        sim.receive_data(chunk, index * 0.1)
        sim.handle_timer(index * 0.1)
        sim.audio_tick(index * 0.1)
        sim.data_to_send(index * 0.1)
    sim.receive_data(b"\r\x10\x03\rATZ\r", 9.0)
    assert sim.data_to_send(9.0).endswith(b"\r\nOK\r\n")
