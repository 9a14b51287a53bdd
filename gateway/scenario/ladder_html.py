"""A self-contained HTML page of a run: the ladder as SVG, the expectations, the RTP streams.

No external assets: styles and the few lines of script are inline.  Every arrow has the whole
message as its tooltip and, on click, in the side panel (headers and SDP for SIP, every decoded
information element for Q.931).  Voice paths are drawn as double lines between the nodes whose
RTP the trace holds; the table below gives each stream's codec, packets, loss and jitter.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Final

from gateway.scenario.expect import Result
from gateway.scenario.ladder import Arrow, Note
from gateway.scenario.ladder_text import interleave
from gateway.scenario.rtp_stats import RtpStream

__all__ = ["render_html"]

_LEFT: Final = 90
_COLUMN: Final = 260
_TOP: Final = 70
_ROW: Final = 30

_STYLE: Final = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:12px 20px;background:#24364b;color:#fff}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;font-size:13px;opacity:.85}
.verdict{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:bold;margin-left:8px}
.pass{background:#2e7d32;color:#fff} .fail{background:#c62828;color:#fff}
main{display:flex;gap:16px;padding:16px 20px;align-items:flex-start}
#ladder{background:#fff;border:1px solid #ddd;overflow:auto;flex:0 1 auto;max-height:85vh}
#panel{flex:1 1 380px;min-width:320px;background:#fff;border:1px solid #ddd;padding:10px;
position:sticky;top:10px;max-height:85vh;overflow:auto}
#panel pre{white-space:pre-wrap;font-size:12px;background:#f4f4f4;padding:8px}
svg text{font-size:12px} .node{font-weight:bold;font-size:13px}
.life{stroke:#9aa;stroke-width:1}
.msg{cursor:pointer} .msg:hover line{stroke-width:3} .msg:hover text{font-weight:bold}
.sip line{stroke:#1565c0} .sip text{fill:#0d47a1}
.q931 line{stroke:#6a1b9a} .q931 text{fill:#4a148c}
.rtx line{stroke-dasharray:4 3;opacity:.6} .dropped line{stroke:#c62828}
.failed line{stroke:#c62828;stroke-width:3} .failed text{fill:#c62828;font-weight:bold}
.voice{stroke:#2e7d32;stroke-width:5;opacity:.35} .voicetext{fill:#1b5e20;font-size:11px}
.time{fill:#777;font-size:11px;font-family:monospace} .note{fill:#8d6e63;font-size:11px}
section{padding:0 20px 16px} table{border-collapse:collapse;font-size:13px;background:#fff}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
td.ok{color:#2e7d32;font-weight:bold} td.bad{color:#c62828;font-weight:bold}
td pre{margin:0;white-space:pre-wrap;font-size:12px}
"""

_SCRIPT: Final = """
const data = JSON.parse(document.getElementById('messages').textContent);
const panel = document.getElementById('detail');
document.querySelectorAll('.msg').forEach(el => el.addEventListener('click', () => {
  const m = data[Number(el.dataset.index)];
  panel.textContent = '';
  const title = document.createElement('h3');
  title.textContent = m.time + ' s  ' + m.from + ' \u2192 ' + m.to + '  ' + m.label;
  const info = document.createElement('p');
  info.textContent = m.protocol.toUpperCase() + ' over ' + m.transport + ', ' + m.delivery +
    (m.drop ? ' (' + m.drop + ')' : '') + (m.rtx ? ', retransmission' : '');
  const text = document.createElement('pre');
  text.textContent = m.text;
  panel.append(title, info, text);
}));
"""


# Arrowheads per colour (an SVG 1.1 marker cannot take its colour from the line it ends).
_HEADS: Final = {"sip": "#1565c0", "q931": "#6a1b9a", "failed": "#c62828"}


def _marker(name: str, colour: str) -> str:
    return (f'<marker id="head-{name}" viewBox="0 0 10 10" refX="10" refY="5" '
            f'markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>')


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _svg(
    arrows: Sequence[Arrow],
    notes: Sequence[Note],
    streams: Sequence[RtpStream],
    columns: Sequence[str],
    start: float,
    failed: Arrow | None,
) -> str:
    names = list(columns)
    for arrow in arrows:
        for node in (arrow.source, arrow.target):
            if node not in names:
                names.append(node)
    x_of = {name: _LEFT + index * _COLUMN for index, name in enumerate(names)}
    extras: list[tuple[float, Note | list[RtpStream]]] = [(n.time, n) for n in notes]
    voice: dict[frozenset[str], list[RtpStream]] = {}
    for stream in streams:
        voice.setdefault(frozenset((stream.source, stream.target)), []).append(stream)
    extras += [(min(s.first for s in group), group) for group in voice.values()]
    rows = interleave(arrows, extras)
    height = _TOP + _ROW * (len(rows) + 1)
    width = _LEFT + _COLUMN * max(len(names) - 1, 0) + 160
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">',
           "<defs>", *(_marker(name, colour) for name, colour in _HEADS.items()), "</defs>"]
    for name, x in x_of.items():
        out.append(f'<text class="node" x="{x}" y="{_TOP - 30}" text-anchor="middle">'
                   f'{_attr(name)}</text>')
        out.append(f'<line class="life" x1="{x}" y1="{_TOP - 20}" x2="{x}" y2="{height}"/>')
    index_of = {id(arrow): index for index, arrow in enumerate(arrows)}
    for row, item in enumerate(rows):
        y = _TOP + _ROW * row
        if isinstance(item, Arrow):
            time = item.time
            out.append(_arrow_svg(item, index_of[id(item)], x_of, y, item is failed))
        elif isinstance(item, Note):
            time = item.time
            x = x_of.get(item.node, _LEFT)
            out.append(f'<text class="note" x="{x + 6}" y="{y + 4}">* {_attr(item.text)}'
                       '</text>')
        else:
            time = min(s.first for s in item)
            out.append(_voice_svg(item, x_of, y))
        out.append(f'<text class="time" x="4" y="{y + 4}">{time - start:.3f}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _arrow_svg(arrow: Arrow, index: int, x_of: dict[str, int], y: int, failed: bool) -> str:
    x1, x2 = x_of[arrow.source], x_of[arrow.target]
    classes = ["msg", arrow.protocol]
    if arrow.retransmission:
        classes.append("rtx")
    if arrow.delivery == "dropped":
        classes.append("dropped")
    if failed:
        classes.append("failed")
    middle = (x1 + x2) / 2
    tooltip = _attr(arrow.text)
    head = "failed" if failed or arrow.delivery == "dropped" else arrow.protocol
    return (
        f'<g class="{" ".join(classes)}" data-index="{index}"><title>{tooltip}</title>'
        f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" marker-end="url(#head-{head})"/>'
        f'<rect x="{min(x1, x2)}" y="{y - 14}" width="{abs(x2 - x1)}" height="18" '
        'fill="transparent"/>'
        f'<text x="{middle}" y="{y - 4}" text-anchor="middle">{_attr(arrow.label)}</text></g>'
    )


def _voice_svg(group: list[RtpStream], x_of: dict[str, int], y: int) -> str:
    first = group[0]
    x1, x2 = x_of.get(first.source), x_of.get(first.target)
    if x1 is None or x2 is None:
        return ""
    codecs = "/".join(sorted({s.codec for s in group if s.codec})) or "?"
    packets = sum(s.sent or (s.received or 0) for s in group)
    summary = "\n".join(
        f"{s.source} -> {s.target}: {s.codec} {s.sent} sent, {s.received} received, "
        f"lost {s.lost}, jitter "
        f"{'?' if s.jitter is None else f'{s.jitter * 1000:.2f} ms'}" for s in group
    )
    return (
        f'<g><title>{_attr(summary)}</title><line class="voice" x1="{x1}" y1="{y}" x2="{x2}" '
        f'y2="{y}"/><text class="voicetext" x="{(x1 + x2) / 2}" y="{y - 6}" '
        f'text-anchor="middle">RTP {_attr(codecs)} ({packets} packets)</text></g>'
    )


def _results_table(results: Sequence[Result]) -> str:
    rows = ["<table><tr><th></th><th>expectation</th><th>where</th><th>result</th></tr>"]
    for result in results:
        mark = '<td class="ok">pass</td>' if result.passed else '<td class="bad">FAIL</td>'
        rows.append(f"<tr>{mark}<td>{_attr(result.description)}</td><td>{_attr(result.key)}"
                    f"</td><td><pre>{_attr(result.message)}</pre></td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _streams_table(streams: Sequence[RtpStream]) -> str:
    if not streams:
        return "<p>No RTP packets in the trace.</p>"
    head = ("<table><tr><th>from</th><th>to</th><th>SSRC</th><th>codec</th><th>sent</th>"
            "<th>received</th><th>lost</th><th>jitter</th><th>DTMF events</th>"
            "<th>duration</th></tr>")
    rows = [head]
    for s in streams:
        loss = s.loss_percent
        rows.append(
            f"<tr><td>{_attr(s.source)}</td><td>{_attr(s.target)}</td>"
            f"<td>0x{s.ssrc:08x}</td><td>{_attr(s.codec)}</td><td>{s.sent}</td>"
            f"<td>{'?' if s.received is None else s.received}</td>"
            f"<td>{'?' if s.lost is None else s.lost}"
            f"{'' if loss is None else f' ({loss:.2f}%)'}</td>"
            f"<td>{'?' if s.jitter is None else f'{s.jitter * 1000:.2f} ms'}</td>"
            f"<td>{_attr(s.events) or '-'}</td><td>{s.last - s.first:.2f} s</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def render_html(
    *,
    title: str,
    description: str,
    arrows: Sequence[Arrow],
    notes: Sequence[Note],
    streams: Sequence[RtpStream],
    columns: Sequence[str],
    results: Sequence[Result],
    start: float,
    duration: float,
) -> str:
    """The page as one string."""
    passed = all(result.passed for result in results)
    failed = next((r.marked for r in results if not r.passed and r.marked is not None), None)
    messages = [
        {"time": f"{a.time - start:.3f}", "from": a.source, "to": a.target, "label": a.label,
         "protocol": a.protocol, "transport": a.transport, "delivery": a.delivery,
         "drop": a.drop_reason, "rtx": a.retransmission, "text": a.text}
        for a in arrows
    ]
    # "</" inside a script element would end it early: JSON allows escaping the slash.
    payload = json.dumps(messages).replace("</", "<\\/")
    verdict = ('<span class="verdict pass">PASS</span>' if passed
               else '<span class="verdict fail">FAIL</span>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_attr(title)}</title>
<style>{_STYLE}</style></head><body>
<header><h1>{_attr(title)} {verdict}</h1><p>{_attr(description)}</p>
<p>{len(arrows)} messages, {len(streams)} RTP streams, {duration:.3f} s.
Click a message for its full text; hover for a tooltip.</p></header>
<main><div id="ladder">{_svg(arrows, notes, streams, columns, start, failed)}</div>
<div id="panel"><div id="detail"><p>Select a message in the ladder.</p></div></div></main>
<section><h2>Expectations</h2>{_results_table(results)}</section>
<section><h2>RTP streams</h2>{_streams_table(streams)}</section>
<script type="application/json" id="messages">{payload}</script>
<script>{_SCRIPT}</script>
</body></html>
"""
