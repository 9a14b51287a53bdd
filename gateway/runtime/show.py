"""The gateway's show commands: JSON records for the control channel, and their text forms.

The running node answers ``calls``, ``trace``, ``registrations``, ``dial-peers``,
``sip-ua-map`` and ``status`` with JSON-friendly records (:func:`call_record`,
:func:`trace_record`, ...); ``gwemu gateway show ...`` prints them the way IOS would
(:func:`format_calls` like ``show sip-ua calls``, :func:`format_trace` like ``debug ccsip
messages``, :func:`format_dial_peers` like ``show dial-peer voice summary``,
:func:`format_registrations` like ``show sip-ua register status``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from gateway.calls.commands import CallSnapshot, RegistrationSnapshot
from gateway.calls.dialpeer import DialPlan, PotsDialPeer, VoipDialPeer
from gateway.media.bridge import BridgeStatistics
from gateway.runtime.trace_hub import event_text
from gateway.trace import Address, TraceEvent

__all__ = [
    "call_record",
    "dial_peer_records",
    "format_calls",
    "format_dial_peers",
    "format_registrations",
    "format_status",
    "format_trace",
    "registration_record",
    "trace_record",
]

Record = dict[str, Any]


def _address(address: Address | tuple[str, int] | None) -> str | None:
    if address is None:
        return None
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --------------------------------------------------------------------------- records


def call_record(snapshot: CallSnapshot, now: float, media: BridgeStatistics | None,
                line_info: Mapping[str, object] | None) -> Record:
    """One call of ``show calls``: the core's snapshot, the bridge's counters, the trunk's."""
    record: Record = {
        "call": snapshot.call,
        "direction": snapshot.direction,
        "phase": snapshot.phase,
        "calling": snapshot.calling,
        "called": snapshot.called,
        "age": round(now - snapshot.started, 3),
        "alerted": None if snapshot.alerted is None else round(snapshot.alerted, 3),
        "answered": None if snapshot.answered is None else round(snapshot.answered, 3),
        "cause": snapshot.cause,
        "codec": snapshot.codec,
        "local_rtp": _address(snapshot.local_rtp),
        "remote_rtp": _address(snapshot.remote_rtp),
        "dtmf": snapshot.dtmf,
        "attempts": snapshot.attempts,
        "legs": [asdict(leg) for leg in snapshot.legs],
        "media": None if media is None else _media_record(media),
        "line": None if line_info is None else dict(line_info),
    }
    return record


def _media_record(stats: BridgeStatistics) -> Record:
    rtp = stats.rtp
    return {
        "send_codec": stats.send_codec,
        "receive_codec": stats.receive_codec,
        "line_codec": stats.line_codec,
        "ptime_ms": stats.ptime_ms,
        "direction": stats.direction,
        "sending": stats.sending,
        "receiving": stats.receiving,
        "packets_sent": rtp.packets_sent,
        "packets_received": rtp.packets_received,
        "packets_lost": rtp.packets_lost,
        "jitter_ms": round(rtp.jitter_ms, 2),
        "rtcp_sent": rtp.rtcp_sent,
        "rtcp_received": rtp.rtcp_received,
        "frames_from_line": stats.frames_from_line,
        "frames_to_line": stats.frames_to_line,
        "digits_to_rtp": stats.digits_to_rtp,
        "digits_from_rtp": stats.digits_from_rtp,
    }


def trace_record(number: int, event: TraceEvent, *, full: bool) -> Record:
    record: Record = {
        "n": number,
        "time": round(event.time, 6),
        "node": event.node,
        "protocol": event.protocol,
        "direction": event.direction,
        "summary": event.summary,
        "local": _address(event.local),
        "remote": _address(event.remote),
        "transport": event.transport,
        "call_id": event.call_id,
    }
    if full:
        record["text"] = event_text(event)
    return record


def registration_record(snapshot: RegistrationSnapshot, now: float) -> Record:
    record = asdict(snapshot)
    for key in ("expires_at", "next_attempt"):
        value = record[key]
        record[key.replace("_at", "").replace("next_attempt", "next_in")] = \
            None if value is None else round(value - now, 1)
    del record["expires_at"], record["next_attempt"]
    return record


def dial_peer_records(plan: DialPlan) -> list[Record]:
    records = []
    for peer in sorted(plan.peers, key=lambda p: p.tag):
        record: Record = {
            "tag": peer.tag,
            "type": peer.kind,
            "destination_pattern": _text(peer.destination_pattern),
            "incoming_called_number": _text(peer.incoming_called_number),
            "answer_address": _text(peer.answer_address),
            "preference": peer.preference,
            "huntstop": peer.huntstop,
            "translation_incoming": peer.translation_incoming,
            "translation_outgoing": peer.translation_outgoing,
            "description": peer.description,
        }
        if isinstance(peer, PotsDialPeer):
            record.update(port=peer.port, forward_digits=peer.forward_digits,
                          prefix=peer.prefix, digit_strip=peer.digit_strip)
        elif isinstance(peer, VoipDialPeer):
            record.update(
                session_target=None if peer.session_target is None else str(peer.session_target),
                session_transport=peer.session_transport,
                codecs=[codec.value for codec in peer.codecs],
                dtmf_relay=[method.value for method in peer.dtmf_relay],
            )
        records.append(record)
    return records


def _text(value: object) -> str | None:
    return None if value is None else str(value)


# --------------------------------------------------------------------------- text


def format_calls(node: str, records: Sequence[Record]) -> str:
    """``show sip-ua calls``: every call with its legs, media and RTP counters."""
    if not records:
        return f"{node}: no active calls\n"
    lines = [f"{node}: {len(records)} call{'s' if len(records) != 1 else ''}"]
    for call in records:
        cause = f", cause {call['cause']}" if call.get("cause") is not None else ""
        lines.append(f"call {call['call']}  {call['direction']}  {call['phase']}  "
                     f"{call['calling'] or '?'} -> {call['called'] or '?'}  "
                     f"age {call['age']:.1f} s{cause}")
        for leg in call["legs"]:
            peer = leg.get("dial_peer")
            codec = f"  codec {leg['codec']}" if leg.get("codec") else ""
            name = "Call-ID" if leg["kind"] == "sip" else "ref"
            lines.append(f"  {leg['kind']:<4} {leg['role']:<8} {leg['state']:<12} "
                         f"{leg['peer']}  {name} {leg['ident']}"
                         f"{'' if peer is None else f'  dial-peer {peer}'}{codec}")
        media = call.get("media")
        if call.get("local_rtp") or media:
            lines.append(f"  media    {call.get('codec') or '-'}  local {call.get('local_rtp')}"
                         f"  remote {call.get('remote_rtp')}  DTMF {call.get('dtmf')}")
        if media:
            lines.append(
                f"           RTP sent {media['packets_sent']} received "
                f"{media['packets_received']} lost {media['packets_lost']} jitter "
                f"{media['jitter_ms']} ms  RTCP {media['rtcp_sent']}/{media['rtcp_received']}"
                f"  {media['direction']}  to-line {_onoff(media['receiving'])} to-RTP "
                f"{_onoff(media['sending'])}")
            lines.append(
                f"           line frames in {media['frames_from_line']} out "
                f"{media['frames_to_line']}  digits to RTP {media['digits_to_rtp']} from RTP "
                f"{media['digits_from_rtp']}")
        line = call.get("line")
        if line:
            extra = ""
            channel = line.get("b_channel")
            if channel:
                extra = (f"  B-channel RTP sent {channel['packets_sent']} received "
                         f"{channel['packets_received']}")
            lines.append(f"  trunk    channel {line.get('channel')}  call reference "
                         f"{line.get('call_ref')}  Q.931 state {line.get('state')}{extra}")
    return "\n".join(lines) + "\n"


def _onoff(flag: object) -> str:
    return "open" if flag else "closed"


def format_trace(records: Iterable[Record], *, full: bool = True) -> str:
    """``debug ccsip messages``: a header line per message, then its full text."""
    out = []
    for record in records:
        arrow = {"in": "<-", "out": "->", "drop": "xx", "note": "--"}.get(record["direction"],
                                                                         "  ")
        where = record.get("remote") or ""
        head = (f"{record['time']:12.6f} {record['node']} {record['protocol'].upper():<5} "
                f"{arrow} {where:<21} {record['summary']}")
        out.append(head)
        text = record.get("text")
        if full and text and text != record["summary"]:
            out.extend(f"    {line}" for line in text.rstrip("\r\n").splitlines())
    return "\n".join(out) + ("\n" if out else "")


def format_dial_peers(records: Sequence[Record]) -> str:
    """``show dial-peer voice summary``."""
    header = ("TAG", "TYPE", "DEST-PATTERN", "PREF", "TARGET/PORT", "CODECS", "DTMF",
              "IN-CALLED", "DESCRIPTION")
    rows = [header]
    for peer in records:
        target = peer.get("session_target") or peer.get("port") or "-"
        rows.append((
            str(peer["tag"]), peer["type"], peer["destination_pattern"] or "-",
            str(peer["preference"]), target, ",".join(peer.get("codecs", [])) or "-",
            ",".join(peer.get("dtmf_relay", [])) or "-",
            peer["incoming_called_number"] or "-", peer["description"] or "",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     .rstrip() for row in rows) + "\n"


def format_registrations(records: Sequence[Record]) -> str:
    """``show sip-ua register status``."""
    if not records:
        return "no registrations configured\n"
    lines = ["NUMBER        STATE        REGISTRAR              EXPIRES  NEXT   STATUS  REASON"]
    for reg in records:
        expires = "-" if reg.get("expires") is None else f"{reg['expires']:.0f}"
        next_in = "-" if reg.get("next_in") is None else f"{reg['next_in']:.0f}"
        status = "-" if reg.get("last_status") is None else str(reg["last_status"])
        lines.append(f"{reg['number']:<13} {reg['state']:<12} {reg['registrar']:<22} "
                     f"{expires:<8} {next_in:<6} {status:<7} {reg.get('reason') or ''}".rstrip())
    return "\n".join(lines) + "\n"


def format_status(status: Mapping[str, Any]) -> str:
    lines = [f"{status['node']}: {status['live_calls']} live calls, media "
             f"{'on' if status['media'] else 'off'}"]
    for listener in status["sip"]:
        lines.append(f"  SIP {listener}")
    for line in status["lines"]:
        state = "in service" if line["in_service"] else "out of service"
        numbers = ", ".join(line["numbers"]) or "-"
        lines.append(f"  line {line['name']} ({line['kind']}, {line['channels']} ch): {state}; "
                     f"numbers {numbers}")
    if status.get("control"):
        lines.append(f"  control {status['control']}")
    return "\n".join(lines) + "\n"
