"""The voice modem line logic against a scripted modem built from the device-side codec."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from gateway.line import (
    AnswerCall,
    ClearCall,
    LineAnswerAcknowledged,
    LineAnswered,
    LineCleared,
    LineDigit,
    LineEvent,
    LineProgress,
    LineReleased,
    LineSeized,
    LineStatus,
    OfferCall,
    SendDigit,
)
from gateway.trace import TraceRecorder
from hardware.protocols.at import FinalResult, format_line
from hardware.protocols.at_device import AtCommandReader, CommandLine, HostAction, HostSamples
from hardware.protocols.caller_id import CallerId, encode_mdmf, formatted_lines
from hardware.protocols.dle import DleEvent, DleKind, escape
from hardware.protocols.line_audio import LineAudioFrame
from hardware.protocols.quirks import CONEXANT_CX930XX, GENERIC_V253, USR_5637, ModemQuirks
from hardware.protocols.voice_format import to_line
from hardware.protocols.voice_modem import VoiceModemConfig, VoiceModemLine

LINE = "fxo1"


class ScriptedModem:
    """A V.253 modem played from the device side with the protocol modules' encoders."""

    def __init__(self, quirks: ModemQuirks) -> None:
        self.quirks = quirks
        self.reader = AtCommandReader()
        self.out = bytearray()
        self.echo = True
        self.commands: list[str] = []
        self.heard = bytearray()
        self.actions: list[DleKind] = []
        self.voice: str | None = None
        self.off_hook = False
        self.answers: dict[str, str | None] = {}  # command prefix -> forced final code (None: mute)
        self.dial_result = "VCON"
        self.dial_pending = False
        self.tones_sent: list[str] = []

    # device -> host
    def send(self, data: bytes) -> None:
        self.out += data

    def line(self, text: str) -> None:
        self.send(format_line(text))

    def result(self, code: str) -> None:
        self.send(bytes(FinalResult.parse(code)))

    def ring(self) -> None:
        self.line("RING")

    def caller_id(self, cid: CallerId, separator: str = " = ") -> None:
        for line in formatted_lines(cid, separator):
            self.send(b"\r\n" + bytes(line))

    def dle(self, kind: DleKind) -> None:
        assert self.voice is not None
        self.send(bytes(DleEvent.of(kind)))

    def dtmf(self, digit: str) -> None:
        assert self.voice is not None
        event = bytes(DleEvent.dtmf(digit))
        if self.quirks.dtmf_shielding:
            event = b"\x10/" + event + b"\x10~"
        self.send(event)

    def audio(self, samples: bytes) -> None:
        assert self.voice is not None
        self.send(escape(samples))

    def end_stream(self) -> None:
        self.send(bytes(DleEvent.of(DleKind.END_OF_STREAM)) + bytes(FinalResult.parse("OK")))
        self.voice = None
        self.reader.leave_voice_data()

    def finish_dial(self) -> None:
        assert self.dial_pending
        self.dial_pending = False
        self.result(self.dial_result)

    # host -> device
    def feed(self, data: bytes) -> None:
        for item in self.reader.feed(data):
            if isinstance(item, CommandLine):
                if self.dial_pending:
                    self.dial_pending = False  # any character aborts a dial (V.250 6.3.1)
                    self.result("NO CARRIER")
                if item.is_command:
                    self.command(item)
            elif isinstance(item, HostSamples):
                self.heard += item.samples
            elif isinstance(item, HostAction):
                self.actions.append(item.event.kind)
                if item.event.ends_stream:
                    self.end_stream()

    def command(self, item: CommandLine) -> None:
        text = item.text.upper()
        self.commands.append(text)
        if self.echo:
            self.send(item.raw + b"\r")
        for prefix, forced in self.answers.items():
            if text.startswith(prefix):
                if forced is not None:
                    self.result(forced)
                return
        if text == "ATZ":
            self.echo, self.voice, self.off_hook = True, None, False
        elif text == "ATE0":
            self.echo = False
        elif text == "AT+VSM=?":
            for method in self.quirks.vsm_methods:
                self.send(b"\r\n" + bytes(method))
        elif text.startswith("AT+VSM="):
            code = int(text[7:].split(",")[0])
            if code not in {m.code for m in self.quirks.vsm_methods}:
                return self.result("ERROR")
        elif text.startswith("AT+VLS="):
            self.off_hook = text.endswith("1")
        elif text.startswith("ATD"):
            self.dial_pending = True
            return None
        elif text == "ATH":
            self.off_hook = False
        elif text.startswith("AT+VTS="):
            self.tones_sent.append(text[7:])
        elif text in ("AT+VTR", "AT+VRX", "AT+VTX"):
            if text == "AT+VTR" and not self.quirks.supports_vtr:
                return self.result("ERROR")
            self.result("CONNECT")
            self.voice = text[3:]
            self.reader.enter_voice_data()
            return None
        elif text.startswith("AT#CID") and "#CID=1" not in self.quirks.caller_id_commands[-1]:
            return self.result("ERROR")
        self.result("OK")
        return None


class Harness:
    def __init__(
        self,
        quirks: ModemQuirks = GENERIC_V253,
        *,
        byte_by_byte: bool = False,
        configure: Callable[[ScriptedModem], None] | None = None,
        **config: object,
    ) -> None:
        self.modem = ScriptedModem(quirks)
        if configure:
            configure(self.modem)
        self.trace = TraceRecorder()
        self.line = VoiceModemLine(
            VoiceModemConfig(line=LINE, number="2001", quirks=quirks, **config),  # type: ignore[arg-type]
            trace=self.trace,
        )
        self.byte_by_byte = byte_by_byte
        self.now = 0.0
        self.events: list[LineEvent | LineAudioFrame] = []

    def pump(self) -> None:
        for _ in range(1000):
            to_modem = self.line.data_to_send(self.now)
            if to_modem:
                self.modem.feed(to_modem)
            to_line = bytes(self.modem.out)
            self.modem.out.clear()
            if not to_modem and not to_line:
                break
            if self.byte_by_byte:
                for i in range(len(to_line)):
                    self.line.receive_data(to_line[i : i + 1], self.now)
            elif to_line:
                self.line.receive_data(to_line, self.now)
        while (event := self.line.next_event()) is not None:
            self.events.append(event)

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while (timer := self.line.get_timer()) is not None and timer <= end:
            self.now = max(self.now, timer)
            self.line.handle_timer(self.now)
            self.pump()
        self.now = end
        self.pump()

    def start(self) -> None:
        self.line.start(self.now)
        self.pump()
        assert LineStatus(LINE, True, "initialised") in self.take(), self.modem.commands

    def take(self, kind: type | None = None) -> list[LineEvent | LineAudioFrame]:
        taken = [e for e in self.events if kind is None or isinstance(e, kind)]
        self.events = [e for e in self.events if e not in taken]
        return taken

    def signalling(self) -> list[LineEvent | LineAudioFrame]:
        return [e for e in self.take() if not isinstance(e, LineAudioFrame)]

    def incoming_answered(self, cid: CallerId | None = None) -> str:
        self.modem.ring()
        if cid is not None:
            self.modem.caller_id(cid)
        self.pump()
        self.advance(5)
        seized = [e for e in self.take() if isinstance(e, LineSeized)]
        assert len(seized) == 1
        ref = seized[0].ref
        self.line.handle_command(AnswerCall(LINE, ref), self.now)
        self.pump()
        assert LineAnswerAcknowledged(LINE, ref) in self.take()
        return ref


# ---------------------------------------------------------------------------------- init


@pytest.mark.parametrize("quirks", [GENERIC_V253, USR_5637, CONEXANT_CX930XX])
def test_initialisation_sends_the_profile_commands(quirks: ModemQuirks) -> None:
    h = Harness(quirks, country_code="B5")
    h.start()
    commands = h.modem.commands
    assert commands[:3] == ["ATZ", "ATE0", "AT+FCLASS=8"]
    assert "AT+GCI=B5" in commands and "AT+VCID=1" in commands and "AT+VLS=0" in commands
    expected_format = {"v253": "pcmu", "usr5637": "pcmu", "cx930xx": "u8"}[quirks.name]
    assert h.line.sample_format == expected_format
    assert h.line.codec == ("l16" if expected_format == "u8" else "pcmu")
    assert any(c.startswith("AT+VSD=") for c in commands) == quirks.vsd_works
    assert h.line.in_service


def test_alaw_is_chosen_where_the_country_uses_it() -> None:
    h = Harness(USR_5637, prefer_alaw=True)
    h.start()
    assert "AT+VSM=132,8000" in h.modem.commands and h.line.codec == "pcma"


def test_caller_id_falls_back_to_the_conexant_command() -> None:
    h = Harness(CONEXANT_CX930XX, configure=lambda m: m.answers.update({"AT+VCID": "ERROR"}))
    h.start()
    assert h.modem.commands.index("AT#CID=1") == h.modem.commands.index("AT+VCID=1") + 1


def test_vsm_query_refused_uses_the_profile_table() -> None:
    h = Harness(USR_5637, configure=lambda m: m.answers.update({"AT+VSM=?": "ERROR"}))
    h.start()
    assert "AT+VSM=131,8000" in h.modem.commands


def test_no_usable_format_takes_the_line_out_of_service() -> None:
    h = Harness(GENERIC_V253, configure=lambda m: m.answers.update({"AT+VSM=": "ERROR"}))
    h.line.start(0.0)
    h.pump()
    status = h.take(LineStatus)
    assert status == [LineStatus(LINE, False, "no usable voice sample format (+VSM)")]


def test_a_mute_modem_times_out_and_is_reinitialised_after_it_recovers() -> None:
    h = Harness()
    h.start()
    h.modem.answers["ATH"] = None  # never answered
    h.modem.answers["AT+VLS=1"] = None
    h.line.handle_command(OfferCall(LINE, "out-1", "5551234"), h.now)
    h.pump()
    h.advance(6)
    events = h.take()
    assert LineCleared(LINE, "out-1", 102) in events and LineReleased(LINE, "out-1") in events
    assert LineStatus(LINE, False, "no answer to AT+VLS=1") in events
    h.modem.answers.clear()
    h.modem.commands.clear()
    h.advance(6)  # retry_delay
    assert h.modem.commands[0] == "ATZ" and "AT+VCID=1" in h.modem.commands
    assert LineStatus(LINE, True, "initialised") in h.take()


def test_start_again_after_the_device_came_back_reinitialises() -> None:
    h = Harness()
    h.start()
    h.line.receive_data(b"", h.now)
    h.pump()
    assert h.take(LineStatus) == [LineStatus(LINE, False, "device closed")]
    h.modem = ScriptedModem(GENERIC_V253)
    h.start()
    assert "AT+VCID=1" in h.modem.commands


# ---------------------------------------------------------------------------------- incoming


@pytest.mark.parametrize("separator", [" = ", "="])
@pytest.mark.parametrize("byte_by_byte", [False, True])
def test_incoming_call_with_caller_id(separator: str, byte_by_byte: bool) -> None:
    h = Harness(byte_by_byte=byte_by_byte)
    h.start()
    h.modem.ring()
    h.pump()
    h.advance(1.0)
    assert h.take(LineSeized) == []
    cid = CallerId(number="5551234", name="JOHN DOE", date="0321", time="1405")
    h.modem.caller_id(cid, separator)
    h.pump()
    seized = h.take(LineSeized)
    assert seized == [
        LineSeized(
            LINE,
            "fxo1-1",
            called="2001",
            calling="5551234",
            calling_name="JOHN DOE",
            complete=True,
            codec="pcmu",
        )
    ]


def test_number_only_caller_id_settles_without_a_name() -> None:
    h = Harness()
    h.start()
    h.modem.ring()
    h.modem.caller_id(CallerId(number="5551234", date="0321", time="1405"))
    h.pump()
    assert h.take(LineSeized) == []
    h.advance(0.6)
    (seized,) = h.take(LineSeized)
    assert isinstance(seized, LineSeized)
    assert seized.calling == "5551234" and seized.calling_name is None and h.now < 1.0


@pytest.mark.parametrize(
    ("cid", "calling", "allowed"),
    [
        (CallerId(number_absent="private", name_absent="private"), None, False),
        (CallerId(number_absent="unavailable", name_absent="unavailable"), None, True),
    ],
)
def test_private_and_out_of_area(cid: CallerId, calling: str | None, allowed: bool) -> None:
    h = Harness()
    h.start()
    h.modem.ring()
    h.modem.caller_id(cid)
    h.pump()
    (seized,) = h.take(LineSeized)
    assert isinstance(seized, LineSeized)
    assert seized.calling == calling and seized.presentation_allowed is allowed


def test_unformatted_mdmf_caller_id() -> None:
    h = Harness()
    h.start()
    h.modem.ring()
    h.modem.line(
        encode_mdmf(CallerId(number="8005551212", name="ACME", date="0324", time="0902"))
        .hex()
        .upper()
    )
    h.pump()
    (seized,) = h.take(LineSeized)
    assert isinstance(seized, LineSeized)
    assert seized.calling == "8005551212" and seized.calling_name == "ACME"


def test_no_caller_id_offers_after_the_wait() -> None:
    h = Harness()
    h.start()
    h.modem.ring()
    h.pump()
    h.advance(4.4)
    assert h.take(LineSeized) == []
    h.advance(0.2)
    (seized,) = h.take(LineSeized)
    assert isinstance(seized, LineSeized) and seized.calling is None


def test_second_ring_closes_the_caller_id_block() -> None:
    h = Harness(caller_id_wait=10.0)
    h.start()
    h.modem.ring()
    h.pump()
    h.advance(3)
    h.modem.ring()
    h.pump()
    assert len(h.take(LineSeized)) == 1


def test_caller_gives_up_before_answer() -> None:
    h = Harness()
    h.start()
    h.modem.ring()
    h.pump()
    h.advance(5)
    (seized,) = h.take(LineSeized)
    h.advance(9)
    assert h.take() == [LineCleared(LINE, seized.ref, 16), LineReleased(LINE, seized.ref)]  # type: ignore[union-attr]


def test_answer_with_full_duplex_and_audio_both_ways() -> None:
    h = Harness(USR_5637)
    h.start()
    ref = h.incoming_answered(CallerId(number="5551234", name="X"))
    assert h.modem.voice == "VTR" and h.modem.off_hook
    h.modem.audio(bytes(range(256)) + b"\x10" * 64)
    h.pump()
    frames = h.take(LineAudioFrame)
    assert b"".join(f.data for f in frames) == (bytes(range(256)) + b"\x10" * 64)[:320]  # type: ignore[union-attr]
    h.line.send_audio(ref, b"\x10\xff" * 80, h.now)
    h.pump()
    assert bytes(h.modem.heard) == b"\x10\xff" * 80


@pytest.mark.parametrize("byte_by_byte", [False, True])
@pytest.mark.parametrize("quirks", [GENERIC_V253, USR_5637, CONEXANT_CX930XX])
def test_full_incoming_call_on_every_profile(quirks: ModemQuirks, byte_by_byte: bool) -> None:
    h = Harness(quirks, byte_by_byte=byte_by_byte)
    h.start()
    ref = h.incoming_answered(CallerId(number="5551234", name="ACME", date="0101", time="0000"))
    h.modem.audio(b"\x10\x7f\x80\x81" * 100)
    h.modem.dtmf("1")
    h.modem.audio(b"\x80" * 80)
    h.pump()
    frames = [e for e in h.take() if isinstance(e, LineAudioFrame)]
    codec, fmt = h.line.codec, h.line.sample_format
    assert codec is not None and fmt is not None
    assert {f.codec for f in frames} == {codec} and len(frames) == 3
    assert b"".join(f.data for f in frames) == to_line(
        fmt, b"\x10\x7f\x80\x81" * 100 + b"\x80" * 80
    )
    h.modem.dtmf("2")
    h.pump()
    assert [e.digit for e in h.take(LineDigit)] == ["2"]  # type: ignore[union-attr]
    h.line.send_audio(ref, to_line(fmt, b"\x10" * 160), h.now)
    h.pump()
    assert bytes(h.modem.heard) == b"\x10" * 160
    h.modem.dle(DleKind.LOOP_BREAK)
    h.pump()
    assert h.signalling()[-2:] == [LineCleared(LINE, ref, 16), LineReleased(LINE, ref)]
    assert not h.modem.off_hook


def test_answer_falls_back_to_half_duplex_when_vtr_is_refused() -> None:
    quirks = dataclasses.replace(GENERIC_V253, supports_vtr=True)
    h = Harness(quirks, configure=lambda m: m.answers.update({"AT+VTR": "ERROR"}))
    h.start()
    ref = h.incoming_answered()
    assert h.modem.commands[-2:] == ["AT+VTR", "AT+VRX"] and h.modem.voice == "VRX"
    h.line.send_audio(ref, b"\x00" * 160, h.now)
    assert h.line.dropped_audio_frames == 1
    h.line.handle_command(ClearCall(LINE, ref), h.now)
    h.pump()
    assert h.modem.actions == [DleKind.RECEIVE_ABORT]
    assert h.take() == [LineReleased(LINE, ref)] and not h.modem.off_hook


def test_half_duplex_profile_never_tries_vtr() -> None:
    quirks = dataclasses.replace(GENERIC_V253, supports_vtr=False, vsd_works=False)
    h = Harness(quirks, half_duplex="transmit", silence_timeout=5.0)
    h.start()
    ref = h.incoming_answered()
    assert "AT+VTR" not in h.modem.commands and h.modem.voice == "VTX"
    h.line.send_audio(ref, b"\x00" * 160, h.now)
    h.advance(30)  # transmit-only: no audio comes back, which must not read as silence
    h.pump()
    assert h.signalling() == [] and h.modem.heard == b"\x00" * 160


@pytest.mark.parametrize("quirks", [GENERIC_V253, USR_5637])
def test_dtmf_from_the_line(quirks: ModemQuirks) -> None:
    h = Harness(quirks)
    h.start()
    ref = h.incoming_answered()
    h.modem.dtmf("5")
    h.modem.dtmf("#")
    h.pump()
    digits = h.take(LineDigit)
    assert [d.digit for d in digits] == ["5", "#"]  # type: ignore[union-attr]
    assert all(d.ref == ref for d in digits)  # type: ignore[union-attr]


def test_dtmf_duration_from_shielding_marks() -> None:
    h = Harness(USR_5637)
    h.start()
    h.incoming_answered()
    h.modem.send(b"\x10/\x107")
    h.pump()
    h.now += 0.15
    h.modem.send(b"\x10~")
    h.pump()
    (digit,) = h.take(LineDigit)
    assert digit == LineDigit(LINE, digit.ref, "7", 150)  # type: ignore[union-attr]


def test_dtmf_to_the_line_leaves_voice_and_comes_back() -> None:
    h = Harness(USR_5637)
    h.start()
    ref = h.incoming_answered()
    h.line.handle_command(SendDigit(LINE, ref, "9"), h.now)
    h.pump()
    assert h.modem.actions == [DleKind.DUPLEX_ABORT]
    assert h.modem.tones_sent == ["9"] and h.modem.voice == "VTR"
    assert h.modem.commands[-2:] == ["AT+VTS=9", "AT+VTR"]
    assert h.signalling() == []


def test_no_audio_goes_out_between_our_abort_and_the_modems_end_of_stream() -> None:
    """Samples after <DLE>^ would reach the modem in command mode and garble the +VTS line."""
    h = Harness(USR_5637)
    h.start()
    ref = h.incoming_answered()
    heard = len(h.modem.heard)
    h.line.handle_command(SendDigit(LINE, ref, "9"), h.now)
    in_flight = h.line.data_to_send(h.now)  # the abort, not yet at the modem
    dropped = h.line.dropped_audio_frames
    h.line.send_audio(ref, b"\x55" * 160, h.now)  # a frame from the far end meanwhile
    assert h.line.dropped_audio_frames == dropped + 1
    h.modem.feed(in_flight)
    h.pump()
    assert h.modem.commands[-2:] == ["AT+VTS=9", "AT+VTR"] and h.modem.tones_sent == ["9"]
    assert len(h.modem.heard) == heard
    h.line.send_audio(ref, b"\x55" * 160, h.now)  # voice is back: frames flow again
    h.pump()
    assert len(h.modem.heard) == heard + 160


def test_dtmf_in_stream_where_the_chip_allows_it() -> None:
    quirks = dataclasses.replace(GENERIC_V253, dtmf_via_dle=True)
    h = Harness(quirks)
    h.start()
    ref = h.incoming_answered()
    h.line.handle_command(SendDigit(LINE, ref, "4"), h.now)
    h.pump()
    assert h.modem.actions == [DleKind.DTMF] and h.modem.voice == "VTR"


@pytest.mark.parametrize(
    "kind", [DleKind.LOOP_BREAK, DleKind.BUSY, DleKind.DIAL_TONE, DleKind.SILENCE, DleKind.QUIET]
)
def test_remote_hangup_is_detected(kind: DleKind) -> None:
    h = Harness(USR_5637)
    h.start()
    ref = h.incoming_answered()
    h.modem.dle(kind)
    h.pump()
    assert h.take() == [LineCleared(LINE, ref, 16), LineReleased(LINE, ref)]
    assert not h.modem.off_hook and h.modem.commands[-1] == "ATH"
    h.line.handle_command(ClearCall(LINE, ref), h.now)  # completing the clearing is harmless
    h.pump()
    assert h.take() == []


def test_software_silence_detection_on_conexant() -> None:
    h = Harness(CONEXANT_CX930XX, silence_timeout=5.0)
    h.start()
    ref = h.incoming_answered()
    for _ in range(3):
        h.modem.audio(bytes([128, 200, 60]) * 200)  # speech-like
        h.advance(2)
    assert h.take(LineCleared) == []
    h.modem.audio(b"\x80" * 4000)  # silence
    h.advance(5.1)
    assert h.take(LineCleared) == [LineCleared(LINE, ref, 16)]
    assert h.modem.actions == [DleKind.DUPLEX_ABORT]
    assert any("silence" in e.summary for e in h.trace.events)


def test_conexant_sends_stream_actions_with_three_dles() -> None:
    h = Harness(CONEXANT_CX930XX)
    h.start()
    ref = h.incoming_answered()
    h.line.handle_command(ClearCall(LINE, ref), h.now)
    h.pump()
    # The strict decoder sees one 0x10 sample, then <DLE>^ .
    assert h.modem.heard.endswith(b"\x10") and h.modem.actions == [DleKind.DUPLEX_ABORT]
    assert h.take() == [LineReleased(LINE, ref)]


def test_modem_closing_voice_with_a_bare_ok() -> None:
    def bare_ok(modem: ScriptedModem) -> None:
        def end_stream() -> None:  # no <DLE><ETX>, only the final result
            modem.send(bytes(FinalResult.parse("OK")))
            modem.voice = None
            modem.reader.leave_voice_data()

        modem.end_stream = end_stream  # type: ignore[method-assign]

    h = Harness(configure=bare_ok)
    h.start()
    ref = h.incoming_answered()
    h.line.handle_command(ClearCall(LINE, ref), h.now)
    h.pump()
    assert h.take() == [LineReleased(LINE, ref)] and h.modem.commands[-1] == "ATH"


def test_ring_during_a_command_response_is_not_lost() -> None:
    h = Harness()
    h.start()
    h.line.handle_command(OfferCall(LINE, "o", "123"), h.now)
    h.modem.answers["ATD"] = None
    h.pump()
    # The scripted modem interleaves an unsolicited RING before the final result.
    h.modem.ring()
    h.modem.result("BUSY")
    h.pump()
    assert h.take() == [LineCleared(LINE, "o", 17), LineReleased(LINE, "o")]


# ---------------------------------------------------------------------------------- outgoing


@pytest.mark.parametrize(
    ("result", "cause"),
    [("BUSY", 17), ("NO ANSWER", 19), ("NO DIALTONE", 41), ("NO CARRIER", 16), ("ERROR", 47)],
)
def test_outgoing_failures_map_to_causes(result: str, cause: int) -> None:
    h = Harness()
    h.start()
    h.modem.dial_result = result
    h.line.handle_command(OfferCall(LINE, "out-7", "5551234"), h.now)
    h.pump()
    assert h.modem.commands[-2:] == ["AT+VLS=1", "ATD5551234;"]
    h.modem.finish_dial()
    h.pump()
    assert h.take() == [LineCleared(LINE, "out-7", cause), LineReleased(LINE, "out-7")]
    assert h.modem.commands[-1] == "ATH"


def test_no_dialtone_cause_is_configurable() -> None:
    h = Harness(no_dialtone_cause=34)
    h.start()
    h.modem.dial_result = "NO DIAL TONE"
    h.line.handle_command(OfferCall(LINE, "o", "1"), h.now)
    h.pump()
    h.modem.finish_dial()
    h.pump()
    assert LineCleared(LINE, "o", 34) in h.take()


def test_outgoing_answered_with_vcon() -> None:
    h = Harness()
    h.start()
    h.line.handle_command(OfferCall(LINE, "o", "5551234"), h.now)
    h.pump()
    h.modem.finish_dial()
    h.pump()
    assert h.take() == [LineAnswered(LINE, "o")]
    assert h.modem.voice == "VTR"
    h.modem.audio(b"\xff" * 160)
    h.pump()
    assert h.take() == [LineAudioFrame(LINE, "o", "pcmu", b"\xff" * 160)]


def test_outgoing_without_answer_supervision() -> None:
    h = Harness()
    h.start()
    h.modem.dial_result = "OK"
    h.line.handle_command(OfferCall(LINE, "o", "5551234"), h.now)
    h.pump()
    h.modem.finish_dial()
    h.pump()
    assert h.take() == [LineProgress(LINE, "o", "progress", inband=True), LineAnswered(LINE, "o")]


def test_outgoing_cancelled_while_dialling() -> None:
    h = Harness()
    h.start()
    h.line.handle_command(OfferCall(LINE, "o", "5551234"), h.now)
    h.pump()
    h.line.handle_command(ClearCall(LINE, "o"), h.now)
    h.pump()
    assert h.take() == [LineReleased(LINE, "o")] and h.modem.commands[-1] == "ATH"


@pytest.mark.parametrize(("called", "cause"), [("", 28), ("55+1", 28)])
def test_invalid_numbers_are_refused(called: str, cause: int) -> None:
    h = Harness()
    h.start()
    h.line.handle_command(OfferCall(LINE, "o", called), h.now)
    h.pump()
    assert h.take() == [LineCleared(LINE, "o", cause), LineReleased(LINE, "o")]


def test_second_call_on_a_busy_line_is_refused() -> None:
    h = Harness()
    h.start()
    h.incoming_answered()
    h.line.handle_command(OfferCall(LINE, "o2", "123"), h.now)
    assert h.line.next_event() == LineCleared(LINE, "o2", 34)


def test_device_lost_mid_call_clears_with_out_of_order() -> None:
    h = Harness()
    h.start()
    ref = h.incoming_answered()
    h.line.receive_data(b"", h.now)
    h.pump()
    assert h.take() == [
        LineCleared(LINE, ref, 38),
        LineReleased(LINE, ref),
        LineStatus(LINE, False, "device closed"),
    ]


def test_garbage_from_the_modem_never_raises() -> None:
    h = Harness()
    h.start()
    for junk in (b"\x00\xff\xfe\r\n", b"X" * 5000 + b"\r\n", b"\r\r\r\nOK\r\n", b"+VCID:\r\n"):
        h.line.receive_data(junk, h.now)
    h.pump()
    assert h.line.in_service
