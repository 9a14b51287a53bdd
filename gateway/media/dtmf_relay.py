"""The two halves of DTMF interworking that the media bridge runs per call.

* :class:`DigitTonePlayer` renders digits as in-band DTMF, one 20 ms frame of linear PCM per call
  of :meth:`DigitTonePlayer.next_frame`.  A digit either has a known duration (a SIP INFO, a line
  keypad event) or is open-ended: an RFC 4733 event is heard to start and only later to end, and
  the tone must already be playing meanwhile.  Each digit lasts at least ``min_tone_ms`` and is
  followed by at least ``min_gap_ms`` of silence, so that a Q.24 receiver (typically 40 ms on,
  40 ms off) hears every digit once, even when the events that announced them were short or came
  back to back.
* :class:`EventSendQueue` turns digits into RFC 4733 packets, one send slot at a time, on top of
  :class:`~gateway.media.dtmf_events.TelephoneEventSender`.  Digits detected in-band on the line
  arrive open-ended too (the detector reports the start, then the end); digits that arrive while
  an event (or its three final packets, RFC 4733 §2.5.1.4) is still going out wait their turn.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from gateway.errors import LocalProtocolError
from gateway.media.audio import FRAME_MS, FRAME_SAMPLES, SILENCE_FRAME, audioop, dbm0_to_peak
from gateway.media.dtmf_events import (
    DEFAULT_VOLUME,
    EventPacket,
    TelephoneEventSender,
    digit_to_event,
)
from gateway.media.dtmf_inband import dtmf_frequencies
from gateway.media.tones import sine

__all__ = ["DigitTonePlayer", "EventSendQueue"]

_SAMPLE_WIDTH: Final = 2


class _ToneJob:
    __slots__ = ("column", "digit", "frames", "row")

    def __init__(self, digit: str, frames: int | None) -> None:
        self.digit = digit
        self.row, self.column = dtmf_frequencies(digit)
        self.frames = frames  # None while open-ended


class DigitTonePlayer:
    """In-band DTMF frames for queued digits; see the module docstring."""

    __slots__ = (
        "_column_peak",
        "_current",
        "_gap",
        "_min_gap",
        "_min_tone",
        "_played",
        "_queue",
        "_row_peak",
    )

    def __init__(
        self,
        *,
        level_dbm0: float = -9.0,
        twist_db: float = 2.0,
        min_tone_ms: int = 60,
        min_gap_ms: int = 60,
    ) -> None:
        if min_tone_ms <= 0 or min_gap_ms < 0:
            raise LocalProtocolError("DTMF tone time must be positive and the gap not negative")
        self._row_peak = dbm0_to_peak(level_dbm0)
        # Q.23: the high group may be sent a little louder (pre-emphasis against line loss).
        self._column_peak = dbm0_to_peak(level_dbm0 + twist_db)
        self._min_tone = _frames(min_tone_ms)
        self._min_gap = _frames(min_gap_ms)
        self._queue: deque[_ToneJob] = deque()
        self._current: _ToneJob | None = None
        self._played = 0
        self._gap = 0

    @property
    def active(self) -> bool:
        """True while a tone, a queued digit or the gap after a tone is still to be played."""
        return self._current is not None or bool(self._queue) or self._gap > 0

    def play(self, digit: str, duration_ms: int) -> None:
        """Queue a digit of known duration (raises :class:`LocalProtocolError` for a non-digit)."""
        self._queue.append(self._job(digit, max(self._min_tone, _frames(duration_ms))))

    def start(self, digit: str) -> None:
        """Queue a digit whose end is not known yet; :meth:`end` closes it."""
        self._queue.append(self._job(digit, None))

    def end(self, duration_ms: int | None = None) -> None:
        """The open-ended digit ended after ``duration_ms`` (``None``: now).  It keeps playing
        until it lasted that long (the start may have been heard late) and the minimum tone."""
        job = self._open_job()
        if job is None:
            return
        played = self._played if job is self._current else 0
        wanted = played if duration_ms is None else max(played, _frames(duration_ms))
        job.frames = max(self._min_tone, wanted)

    def clear(self) -> None:
        self._queue.clear()
        self._current = None
        self._gap = 0

    def next_frame(self) -> bytes | None:
        """The next 20 ms of linear PCM, or ``None`` when nothing is to be played (audio from
        elsewhere passes)."""
        if self._current is None:
            if self._gap:
                self._gap -= 1
                return SILENCE_FRAME
            if not self._queue:
                return None
            self._current = self._queue.popleft()
            self._played = 0
        job = self._current
        start = self._played * FRAME_SAMPLES
        frame = audioop.add(
            sine(job.row, start, FRAME_SAMPLES, self._row_peak),
            sine(job.column, start, FRAME_SAMPLES, self._column_peak),
            _SAMPLE_WIDTH,
        )
        self._played += 1
        if job.frames is not None and self._played >= job.frames:
            self._current = None
            self._gap = self._min_gap
        return frame

    def _job(self, digit: str, frames: int | None) -> _ToneJob:
        try:
            return _ToneJob(digit, frames)
        except ValueError as exc:
            raise LocalProtocolError(str(exc)) from None

    def _open_job(self) -> _ToneJob | None:
        if self._current is not None and self._current.frames is None:
            return self._current
        return next((job for job in self._queue if job.frames is None), None)


def _frames(duration_ms: int) -> int:
    return max(1, -(-duration_ms // FRAME_MS))


class _EventJob:
    __slots__ = ("duration", "event")

    def __init__(self, event: int, duration: int | None) -> None:
        self.event = event
        self.duration = duration  # timestamp units; None while open-ended


class EventSendQueue:
    """RFC 4733 packets for queued digits, one :meth:`tick` per send slot."""

    __slots__ = ("_flash", "_interval", "_live", "_queue", "_sender", "_volume")

    def __init__(self, interval: int, *, volume: int = DEFAULT_VOLUME, flash: bool = False) -> None:
        self._interval = interval
        self._volume = volume
        self._flash = flash
        self._sender = TelephoneEventSender(interval=interval, volume=volume, flash=flash)
        self._queue: deque[_EventJob] = deque()
        self._live = False  # the event being sent is open-ended and not stopped yet

    @property
    def busy(self) -> bool:
        """True while an event is being sent (final packets included) or digits wait."""
        return self._sender.busy or bool(self._queue)

    def send(self, digit: str, duration: int) -> None:
        """Queue a digit lasting ``duration`` timestamp units."""
        if duration <= 0:
            raise LocalProtocolError("a telephone-event lasts a positive time")
        self._queue.append(_EventJob(digit_to_event(digit, flash=self._flash), duration))

    def start(self, digit: str) -> None:
        """Queue a digit whose end is not known yet (it is still being heard on the line)."""
        self._queue.append(_EventJob(digit_to_event(digit, flash=self._flash), None))

    def end(self) -> None:
        """The open-ended digit ended: its final packet goes out at the next tick."""
        if self._live:
            self._sender.stop()
            self._live = False
            return
        for job in self._queue:
            if job.duration is None:
                job.duration = self._interval
                return

    def set_interval(self, interval: int) -> None:
        """A new packet interval (ptime changed); applies from the next event on."""
        self._interval = interval

    def clear(self) -> None:
        """Forget everything (hold, path closed): no more packets for these digits."""
        self._queue.clear()
        self._live = False
        self._sender = self._new_sender()

    def tick(self, timestamp: int) -> list[EventPacket]:
        """The packets of this send slot; ``timestamp`` is the slot's media clock, which a
        starting event takes as its own (RFC 4733 §2.5.1.1)."""
        sender = self._sender
        if not sender.busy and self._queue:
            job = self._queue.popleft()
            sender = self._sender = self._new_sender()
            sender.start(job.event, timestamp, duration=job.duration)
            self._live = job.duration is None
        return sender.tick()

    def _new_sender(self) -> TelephoneEventSender:
        return TelephoneEventSender(interval=self._interval, volume=self._volume, flash=self._flash)
