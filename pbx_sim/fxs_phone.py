"""A simulated phone behind a simulated serial FXS board (docs/fxs-serial-protocol.md), sans-IO.

The gateway attaches analog *station* lines through such boards; this wires a
:class:`~pbx_sim.phone.Phone` to the board model of :mod:`hardware.protocols.fxs_device`, so the
gateway's host side can drive a phone that behaves like the PBX's extensions: the board's bell
rings the phone (it answers after N rings, or never), lifting the handset trips the ring, keys
become ``DIAL`` events, and the board's ``TONE`` plays the national tone in the earpiece.  With
the serial audio channel on, audio frames carry what the phone says and hears.  The protocol has
no answer or clearing signal, so the tones stand in for them, as they do for a person: ringback
turned off means the far end answered, busy or congestion tone that the call ended.

The host side of the board is :meth:`BoardPhone.receive_data` / :meth:`BoardPhone.data_to_send`
(the adapter puts them on a TCP connection, which the gateway opens as ``socket://HOST:PORT``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway.media.audio import FRAME_SAMPLES, SILENCE_FRAME, AudioSource
from gateway.media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from gateway.media.tones import Tone, ToneGenerator
from gateway.trace import TraceSink, discard
from hardware.protocols.fxs_device import FxsBoard, FxsBoardConfig
from pbx_sim.config import FxsPhoneConfig
from pbx_sim.events import PhoneEvent
from pbx_sim.phone import HookFlash, KeyPress, OffHook, OnHook, Phone

# Board TONE names -> tone plan names.
BOARD_TONES: dict[str, str] = {"DIAL": "dial", "BUSY": "busy", "RINGBACK": "ringback",
                               "CONGESTION": "congestion"}
FLASH_SECONDS = 0.3  # a hook flash: on hook long enough to count, short of a hang-up
_MAX_BACKLOG = 5 * FRAME_SAMPLES  # audio from the host beyond this (100 ms) is dropped


class BoardPhone:
    """A phone wired to an :class:`FxsBoard` (see the module docstring)."""

    def __init__(
        self,
        config: FxsPhoneConfig,
        *,
        plan: Mapping[str, Tone],
        media: bool = True,
        observer: Callable[[PhoneEvent], None] | None = None,
        trace: TraceSink = discard,
    ) -> None:
        self.config = config
        self.name = config.name
        self.media = media
        self._plan = plan
        self.phone = Phone(config.name, config, plan=plan, observer=observer)
        self.board = FxsBoard(
            FxsBoardConfig(
                ring_timeout=config.ring_timeout,
                serial_audio=config.serial_audio,
                boot_messages=(f"INFO gwemu simulated phone {config.name}",),
            ),
            trace=trace,
        )
        self._bell = False
        self._ringing = False  # the board is in its RING state
        self._tone = "OFF"
        self._tone_source: AudioSource | None = None
        self._flash_until: float | None = None

    # ------------------------------------------------------------------------ host side

    def power_on(self, now: float) -> None:
        """The board boots (the port was opened): boot lines, ``STATE IDLE``, ``READY``."""
        self.board.power_on(now)
        if self.config.busy:
            self.phone.lift(now)  # an always-busy phone is a handset left off hook
        self._sync(now)

    def start(self, now: float) -> None:
        """Run the phone's configured script."""
        if self.config.script:
            self.phone.run_script(self.config.script, now)
        self._sync(now)

    def receive_data(self, data: bytes, now: float) -> None:
        self.board.receive_data(data, now)
        self._sync(now)

    def data_to_send(self, now: float) -> bytes:
        return self.board.data_to_send(now)

    def get_timer(self) -> float | None:
        deadlines = [t for t in (self.board.get_timer(), self.phone.get_timer(),
                                 self._flash_until) if t is not None]
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        if self._flash_until is not None and now >= self._flash_until:
            self._flash_until = None
            self.board.set_hook(True, now)
        self.board.handle_timer(now)
        self.phone.handle_timer(now)
        self._sync(now)

    def poll(self, now: float) -> None:
        """Act on whatever the phone was told to do directly."""
        self._sync(now)

    # ------------------------------------------------------------------------ audio

    def audio_tick(self, now: float) -> None:
        """One 20 ms frame each way between the phone and the board's serial audio channel."""
        board = self.board
        phone = self.phone
        if not phone.off_hook:
            board.heard.clear()
            return
        pcma = board.audio_codec == "PCMA"
        heard = board.heard
        if len(heard) > _MAX_BACKLOG:
            del heard[: len(heard) - _MAX_BACKLOG]
        frame = SILENCE_FRAME
        if len(heard) >= FRAME_SAMPLES:
            payload = bytes(heard[:FRAME_SAMPLES])
            del heard[:FRAME_SAMPLES]
            frame = alaw_decode(payload) if pcma else ulaw_decode(payload)
        if self._tone_source is not None:
            frame = self._tone_source.read_frame() or SILENCE_FRAME
        phone.hear(frame, now)
        spoken = phone.speak(now)
        board.phone_says(alaw_encode(spoken) if pcma else ulaw_encode(spoken), now)
        self._sync(now)

    # ------------------------------------------------------------------------ wiring

    def _sync(self, now: float) -> None:
        """Carry the phone's actions to the board and the board's signals to the phone."""
        board = self.board
        phone = self.phone
        for _ in range(16):  # a signal may cause an action (answering at the end of a ring)
            action = phone.next_action()
            while action is not None:
                if isinstance(action, OffHook):
                    board.set_hook(True, now)
                elif isinstance(action, OnHook):
                    self._flash_until = None
                    board.set_hook(False, now)
                elif isinstance(action, KeyPress):
                    board.press_key(action.digit, now)
                elif isinstance(action, HookFlash) and self._flash_until is None:
                    board.set_hook(False, now)
                    self._flash_until = now + FLASH_SECONDS
                action = phone.next_action()
            ringing = board.state == "RING"
            if ringing and not self._ringing:
                cid = board.displayed_caller_id
                if cid is not None:
                    phone.caller_id(cid.number, cid.name, now)
            elif not ringing and self._ringing and phone.off_hook:
                phone.connected(now, far_end_answered=False)  # ring trip: the phone answered
            elif not ringing and phone.alerted:
                # First: a phone told "bell off" after its Nth ring would answer a dead line.
                phone.alerting_ended(now)
            self._ringing = ringing
            if board.bell_on != self._bell:
                self._bell = board.bell_on
                phone.ring(self._bell, now)
            if board.tone != self._tone:
                self._set_tone(board.tone, now)
            if not phone.has_actions:
                break

    def _set_tone(self, tone: str, now: float) -> None:
        """The host switched the board's tone; it also tells the phone what happened, since
        the serial protocol has no answer or clearing signal of its own (section 3.7)."""
        previous, self._tone = self._tone, tone
        phone = self.phone
        if phone.off_hook and tone == "OFF" and previous == "RINGBACK":
            phone.connected(now, far_end_answered=True)  # gwemu stops ringback at answer
        elif phone.off_hook and tone in ("BUSY", "CONGESTION") and previous != tone:
            phone.cleared(None, now)  # the far end hung up, or the call failed
        name = BOARD_TONES.get(tone)
        if self.media:
            self._tone_source = (ToneGenerator.for_tone(self._plan[name])
                                 if name is not None else None)
        elif name is not None:
            phone.signal_tone(name, now)
