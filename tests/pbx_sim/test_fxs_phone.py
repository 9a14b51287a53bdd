"""A phone behind the simulated FXS board, driven by the host side of the serial protocol
(hardware/protocols/fxs_line.py) over an in-memory stream on a virtual clock."""

from __future__ import annotations

from gateway.line import (
    AnswerCall,
    ClearCall,
    DigitsDialled,
    IndicateProgress,
    LineAnswered,
    LineCleared,
    LineEvent,
    LineProgress,
    LineSeized,
    LineStatus,
    OfferCall,
)
from gateway.media.g711 import ulaw_decode, ulaw_encode
from gateway.media.tones import ToneDetector, ToneGenerator, tone_plan
from hardware.protocols.fxs_line import FxsBoardLine, FxsLineConfig
from hardware.protocols.line_audio import LineAudioFrame
from pbx_sim.config import FxsPhoneConfig, HostPort
from pbx_sim.fxs_phone import BoardPhone


class Rig:
    def __init__(self, *, media: bool, **settings: object) -> None:
        config = FxsPhoneConfig(name="fxs1", listen=HostPort.parse("127.0.0.1:0"),
                                **settings)  # type: ignore[arg-type]
        self.phone = BoardPhone(config, plan=tone_plan("us"), media=media)
        self.host = FxsBoardLine(FxsLineConfig(line="fxs1", audio="serial"))
        self.now = 0.0
        self.events: list[LineEvent | LineAudioFrame] = []
        self.phone.power_on(self.now)
        self.host.start(self.now)
        self.pump()

    def pump(self) -> None:
        for _ in range(20):
            to_board = self.host.data_to_send(self.now)
            to_host = self.phone.data_to_send(self.now)
            if to_board:
                self.phone.receive_data(to_board, self.now)
            if to_host:
                self.host.receive_data(to_host, self.now)
            while (event := self.host.next_event()) is not None:
                self.events.append(event)
            if not to_board and not to_host:
                return

    def advance(self, seconds: float, *, audio: bool = False) -> None:
        until = self.now + seconds
        while self.now < until:
            step = min(0.02, until - self.now)
            self.now += step
            for node in (self.host, self.phone):
                deadline = node.get_timer()
                while deadline is not None and deadline <= self.now:
                    node.handle_timer(self.now)
                    deadline = node.get_timer()
            if audio:
                self.phone.audio_tick(self.now)
            self.pump()

    def line_events(self) -> list[LineEvent]:
        return [e for e in self.events if not isinstance(e, LineAudioFrame)]


def test_dialling_reaches_the_host_as_seizure_and_digits() -> None:
    rig = Rig(media=False)
    assert LineStatus("fxs1", True, "board ready") in rig.events
    rig.phone.phone.dial("42", rig.now)
    rig.phone.poll(rig.now)
    rig.advance(1.0)
    seized = [e for e in rig.events if isinstance(e, LineSeized)]
    assert len(seized) == 1
    assert [e.digits for e in rig.events if isinstance(e, DigitsDialled)] == ["4", "2"]
    assert ("tone", "dial") in [(e.kind, e.value) for e in rig.phone.phone.events]
    rig.phone.phone.hang_up(rig.now)
    rig.phone.poll(rig.now)
    rig.advance(2.0)
    assert [e.cause for e in rig.events if isinstance(e, LineCleared)] == [16]


def test_ringing_with_caller_id_and_ring_trip() -> None:
    rig = Rig(media=False, answer_after_rings=1)
    rig.host.handle_command(OfferCall("fxs1", "c1", "5553000", calling="5551234",
                                      calling_name="ALICE"), rig.now)
    rig.pump()
    rig.advance(2.5)
    assert [type(e) for e in rig.line_events()][-2:] == [LineProgress, LineAnswered]
    kinds = [(e.kind, e.value) for e in rig.phone.phone.events]
    assert kinds[:4] == [("caller-id", "5551234 ALICE"), ("ring", "1"), ("off-hook", ""),
                         ("answered", "")]
    rig.host.handle_command(ClearCall("fxs1", "c1"), rig.now)
    rig.pump()
    kinds = [(e.kind, e.value) for e in rig.phone.phone.events]
    assert kinds[-2:] == [("cleared", ""), ("tone", "busy")]  # busy tone: the call is over
    rig.advance(1.0)
    assert not rig.phone.phone.off_hook  # hangup-on-clear


def test_ringback_turned_off_means_the_far_end_answered() -> None:
    rig = Rig(media=False, dial_delay=0.1)
    rig.phone.phone.dial("5", rig.now)
    rig.phone.poll(rig.now)
    rig.advance(0.5)
    (seized,) = [e for e in rig.events if isinstance(e, LineSeized)]
    rig.host.handle_command(IndicateProgress("fxs1", seized.ref, "alerting"), rig.now)
    rig.pump()
    rig.host.handle_command(AnswerCall("fxs1", seized.ref), rig.now)
    rig.pump()
    kinds = [(e.kind, e.value) for e in rig.phone.phone.events]
    assert kinds[-2:] == [("tone", "ringback"), ("far-end-answered", "")]


def test_serial_audio_both_ways() -> None:
    rig = Rig(media=True, answer_after_rings=0, play="tone:697", detect=(1004,))
    rig.host.handle_command(OfferCall("fxs1", "c1", "5553000"), rig.now)
    rig.pump()
    rig.advance(0.2, audio=True)
    rig.host.handle_command(AnswerCall("fxs1", "c1"), rig.now)
    tone = ToneGenerator([(1004, -13.0)])
    for _ in range(30):
        rig.host.send_audio("c1", ulaw_encode(tone.read_frame() or b""), rig.now)
        rig.advance(0.02, audio=True)
    assert ("frequency", "1004") in [(e.kind, e.value) for e in rig.phone.phone.events]
    frames = [e.data for e in rig.events if isinstance(e, LineAudioFrame)]
    detector = ToneDetector(697)
    assert sum(detector.feed(ulaw_decode(frame)) for frame in frames) >= 20
