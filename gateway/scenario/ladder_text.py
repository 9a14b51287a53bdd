"""The ladder in a terminal: nodes as columns, one line per message, note or voice path.

::

      time  PBX-A                 GW-A                  GW-B                  PBX-B
     0.012  │──────── SETUP ──────▶│                     │                     │
     0.013  │◀── CALL PROCEEDING ──│                     │                     │
     0.013  │                      │── INVITE (SDP PCMU,PCMA,101) ─────────────▶│ ...

A label too long for its arrow goes to the right of the diagram.  :class:`LiveLadder` prints
lines as trace events arrive (the runner feeds it); :func:`render_ladder` draws a finished run
(and the excerpts of failure reports).  ``charset="ascii"`` draws with ``|-<>=`` for terminals
that cannot show box-drawing characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TextIO, TypeVar

from gateway.scenario.ladder import Arrow, LadderBuilder, Note
from gateway.scenario.rtp_stats import RtpStream
from gateway.trace import Address, TraceEvent

__all__ = ["LiveLadder", "TextLadder", "interleave", "render_ladder"]

Charset = Literal["unicode", "ascii"]
T = TypeVar("T")
_TIME_WIDTH: Final = 9
_MIN_WIDTH: Final = 16
_MAX_WIDTH: Final = 34
LIVE_WIDTH: Final = 26


@dataclass(frozen=True, slots=True)
class _Glyphs:
    lifeline: str
    line: str
    left: str
    right: str
    voice: str
    voice_left: str
    voice_right: str
    mark: str


_GLYPHS: Final = {
    "unicode": _Glyphs("│", "─", "◀", "▶", "═", "◀", "▶", "▸"),
    "ascii": _Glyphs("|", "-", "<", ">", "=", "<", ">", ">"),
}


class TextLadder:
    """Lays out lines for a fixed set of columns."""

    def __init__(
        self,
        columns: Sequence[str],
        *,
        width: int = LIVE_WIDTH,
        charset: Charset = "unicode",
        start: float = 0.0,
    ) -> None:
        self.columns = list(columns)
        self.width = width
        self.glyphs = _GLYPHS[charset]
        self.start = start

    def _x(self, node: str) -> int | None:
        try:
            return self.columns.index(node) * self.width
        except ValueError:
            return None

    def _canvas(self) -> list[str]:
        total = (len(self.columns) - 1) * self.width + 1
        canvas = [" "] * total
        for index in range(len(self.columns)):
            canvas[index * self.width] = self.glyphs.lifeline
        return canvas

    def _line(self, time: float | None, canvas: list[str], tail: str = "",
              marked: bool = False) -> str:
        stamp = "" if time is None else f"{time - self.start:.3f}"
        prefix = (self.glyphs.mark if marked else " ") + stamp.rjust(_TIME_WIDTH - 1)
        body = "".join(canvas).rstrip()
        return f"{prefix}  {body}{'  ' + tail if tail else ''}".rstrip()

    def header(self) -> str:
        names = [" "] * ((len(self.columns) - 1) * self.width + self.width)
        for index, name in enumerate(self.columns):
            x = index * self.width
            text = name[: self.width - 1]
            names[x : x + len(text)] = text
        return f"{'time'.rjust(_TIME_WIDTH)}  {''.join(names).rstrip()}"

    def arrow(self, arrow: Arrow, *, marked: bool = False) -> str:
        label = arrow.label
        if arrow.delivery == "dropped":
            label += " [dropped]"
        return self._span(arrow.time, arrow.source, arrow.target, label, marked=marked)

    def voice(self, time: float, a: str, b: str, label: str) -> str:
        return self._span(time, a, b, label, voice=True)

    def note(self, note: Note) -> str:
        canvas = self._canvas()
        x = self._x(note.node)
        text = f"* {note.text}"
        if x is None:
            return self._line(note.time, canvas, f"{note.node}: {note.text}")
        return self._line(note.time, canvas[: x + 1], text)

    def _span(self, time: float, source: str, target: str, label: str, *,
              voice: bool = False, marked: bool = False) -> str:
        canvas = self._canvas()
        start, end = self._x(source), self._x(target)
        if start is None or end is None or start == end:
            return self._line(time, canvas, f"{source} -> {target}  {label}", marked)
        glyphs = self.glyphs
        left, right = min(start, end), max(start, end)
        fill = glyphs.voice if voice else glyphs.line
        for x in range(left + 1, right):
            canvas[x] = fill
        if voice:
            canvas[left + 1], canvas[right - 1] = glyphs.voice_left, glyphs.voice_right
        elif end > start:
            canvas[right - 1] = glyphs.right
        else:
            canvas[left + 1] = glyphs.left
        room = right - left - 5  # two glyphs and a space each side of the label
        tail = ""
        text = f" {label} "
        if len(text) <= room:
            offset = left + 2 + (room - len(text)) // 2 + 1
            canvas[offset : offset + len(text)] = text
        else:
            tail = label
        return self._line(time, canvas, tail, marked)


def _auto_width(arrows: Iterable[Arrow], columns: Sequence[str]) -> int:
    widest = 0
    for arrow in arrows:
        if arrow.source in columns and arrow.target in columns:
            distance = abs(columns.index(arrow.source) - columns.index(arrow.target))
            if distance == 1:
                widest = max(widest, len(arrow.label) + 7)
    return max(_MIN_WIDTH, min(_MAX_WIDTH, widest))


def _voice_spans(streams: Iterable[RtpStream]) -> list[tuple[float, str, str, str]]:
    """One voice line per pair of nodes: (first packet time, a, b, label)."""
    links: dict[frozenset[str], list[RtpStream]] = {}
    for stream in streams:
        links.setdefault(frozenset((stream.source, stream.target)), []).append(stream)
    spans = []
    for group in links.values():
        first = min(group, key=lambda s: s.first)
        codecs = sorted({s.codec for s in group if s.codec})
        packets = sum(s.sent or (s.received or 0) for s in group)
        label = f"RTP {'/'.join(codecs) or '?'} ({packets} packets)"
        spans.append((first.first, first.source, first.target, label))
    return sorted(spans)


def render_ladder(
    arrows: Sequence[Arrow],
    columns: Sequence[str],
    *,
    notes: Sequence[Note] = (),
    streams: Sequence[RtpStream] = (),
    start: float = 0.0,
    charset: Charset = "unicode",
    width: int | None = None,
    marked: Arrow | None = None,
    retransmissions: bool = True,
) -> str:
    """The whole ladder as text (columns in order; nodes no column names are appended)."""
    names = list(columns)
    for arrow in arrows:
        for node in (arrow.source, arrow.target):
            if node not in names:
                names.append(node)
    ladder = TextLadder(names, width=width or _auto_width(arrows, names), charset=charset,
                        start=start)
    shown = [a for a in arrows if retransmissions or not a.retransmission]
    extras: list[tuple[float, str]] = [(note.time, ladder.note(note)) for note in notes]
    extras += [(time, ladder.voice(time, a, b, label))
               for time, a, b, label in _voice_spans(streams)]
    lines = [ladder.header()]
    for item in interleave(shown, extras):
        lines.append(ladder.arrow(item, marked=item is marked) if isinstance(item, Arrow)
                     else item)
    return "\n".join(lines)


def interleave(arrows: Sequence[Arrow], extras: Sequence[tuple[float, T]]) -> list[Arrow | T]:
    """Arrows in their (causal) order, each extra placed before the first later arrow."""
    pending = sorted(extras, key=lambda extra: extra[0])
    out: list[Arrow | T] = []
    position = 0
    for arrow in arrows:
        while position < len(pending) and pending[position][0] < arrow.time:
            out.append(pending[position][1])
            position += 1
        out.append(arrow)
    out.extend(item for _, item in pending[position:])
    return out


class LiveLadder:
    """Prints the ladder while a run goes: feed it every trace event."""

    def __init__(
        self,
        columns: Sequence[str],
        stream: TextIO,
        *,
        start: float = 0.0,
        charset: Charset = "unicode",
        aliases: Mapping[Address, str] = {},
        ports: Mapping[int, int] = {},
        width: int = LIVE_WIDTH,
    ) -> None:
        self._ladder = TextLadder(columns, width=width, charset=charset, start=start)
        self._builder = LadderBuilder(aliases, ports=ports)
        self._stream = stream
        self._voice: set[frozenset[int]] = set()
        self._started = False

    def begin(self, start: float) -> None:
        self._ladder.start = start
        self._write(self._ladder.header())
        self._started = True

    def feed(self, event: TraceEvent) -> None:
        if not self._started:
            return
        if event.protocol == "rtp" and event.local is not None and event.remote is not None:
            self._rtp(event)
            return
        for item in self._builder.feed(event):
            if isinstance(item, Note):
                self._write(self._ladder.note(item))
            elif not item.retransmission:
                self._write(self._ladder.arrow(item))

    def finish(self) -> None:
        for arrow in self._builder.flush():
            if not arrow.retransmission:
                self._write(self._ladder.arrow(arrow))

    def _rtp(self, event: TraceEvent) -> None:
        # The first packet *received* on a pair of ports names both ends for sure.
        assert event.local is not None and event.remote is not None
        self._builder.book.learn(event.local, event.node)
        if event.direction != "in":
            return
        key = frozenset((event.local[1], event.remote[1]))
        if key in self._voice:
            return
        self._voice.add(key)
        source = self._builder.book.name(event.remote)
        self._write(self._ladder.voice(event.time, source, event.node, "RTP"))

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()
