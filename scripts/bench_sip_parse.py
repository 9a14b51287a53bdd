"""Messages per second: parse + read transaction fields + serialize, gwemu vs baselines.

Three parsers run side by side in one process on the same two messages -- a typical INVITE
with SDP (compact header names, ~750 octets) and its 200 OK:

* ``gwemu``    -- :func:`gateway.sip.parser.parse_datagram` (validating, byte-exact);
* ``minimal``  -- the smallest useful hand-written parser: split lines, partition on ':', no
                  validation at all (written below, as a floor for what Python costs);
* ``sippy``    -- PyPI ``sippy`` (``SipRequest``/``SipResponse``), if installed.

Each one reads the fields a transaction layer needs -- top Via branch, From tag, To tag,
Call-ID, CSeq number and method, Contact URI -- and serializes the message back to bytes.
Rounds alternate between parsers so machine load hits them alike; the best round counts.

    python scripts/bench_sip_parse.py [--seconds 3] [--breakdown]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from gateway.sip.parser import parse_datagram

SDP = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.101\r\n"
    b"t=0 0\r\n"
    b"m=audio 49172 RTP/AVP 0 8 18 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:18 G729/8000\r\n"
    b"a=fmtp:18 annexb=no\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=ptime:20\r\n"
    b"a=sendrecv\r\n"
)

INVITE = (
    "INVITE sip:+15551234567@gw.example.com;user=phone SIP/2.0\r\n"
    "v: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    "t: <sip:+15551234567@gw.example.com;user=phone>\r\n"
    'f: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    "i: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "m: <sip:alice@192.0.2.101:5060;transport=udp>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE\r\n"
    "k: replaces, timer\r\n"
    "User-Agent: gwemu-bench/1.0\r\n"
    "c: application/sdp\r\n"
    f"l: {len(SDP)}\r\n"
    "\r\n"
).encode() + SDP

OK = (
    "SIP/2.0 200 OK\r\n"
    "v: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.101\r\n"
    "t: <sip:+15551234567@gw.example.com;user=phone>;tag=a6c85cf\r\n"
    'f: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    "i: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "m: <sip:gw@192.0.2.200:5060>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE\r\n"
    "k: replaces, timer\r\n"
    "c: application/sdp\r\n"
    f"l: {len(SDP)}\r\n"
    "\r\n"
).encode() + SDP

Fields = tuple[object, ...]


def gwemu(data: bytes) -> tuple[Fields, bytes]:
    message = parse_datagram(data)
    contact = message.contact
    fields = (
        message.via.branch,
        message.from_tag,
        message.to_tag,
        message.call_id,
        message.cseq.number,
        message.cseq.method,
        str(contact.uri) if contact is not None else None,
    )
    return fields, bytes(message)


_COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
}


def _param(value: str, name: str) -> str | None:
    for item in value.split(";")[1:]:
        key, _, param = item.partition("=")
        if key.strip().lower() == name:
            return param.strip()
    return None


def minimal(data: bytes) -> tuple[Fields, bytes]:
    """Split lines, partition on ':', read the fields; nothing is validated.

    What that leaves out, and gwemu does on every message: a bare CR or LF, a malformed
    start line or Request-URI, an invalid header name, a missing or repeated Call-ID, CSeq,
    From, To, a malformed Via, From, To (URI included), Call-ID, CSeq (and its method against
    the request's), Max-Forwards or Content-Length -- all pass here, or raise an arbitrary
    Python exception.  Values are strings (the Contact "URI" is whatever sits between '<'
    and '>'); folded lines, odd spellings and whitespace are lost on re-rendering.
    """
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "surrogateescape").split("\r\n")
    headers: list[tuple[str, str]] = []
    index: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip()
        value = value.strip()
        headers.append((name, value))
        key = name.lower()
        index.setdefault(_COMPACT.get(key, key), []).append(value)
    via = index["via"][0]
    cseq_number, cseq_method = index["cseq"][0].split()
    contact = index["contact"][0]
    fields = (
        _param(via, "branch"),
        _param(index["from"][0], "tag"),
        _param(index["to"][0], "tag"),
        index["call-id"][0],
        int(cseq_number),
        cseq_method,
        contact[contact.index("<") + 1 : contact.index(">")],
    )
    rendered = lines[0] + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    return fields, rendered.encode("utf-8", "surrogateescape") + body


def _sippy() -> Callable[[bytes], tuple[Fields, bytes]] | None:
    try:
        from sippy.SipRequest import SipRequest
        from sippy.SipResponse import SipResponse
    except ImportError:
        return None

    def sippy(data: bytes) -> tuple[Fields, bytes]:
        text = data.decode("utf-8", "surrogateescape")
        message = SipResponse(text) if text.startswith("SIP/") else SipRequest(text)
        message.init_body()
        cseq = message.getHFBody("cseq")
        fields = (
            message.getHFBody("via").getBranch(),
            message.getHFBody("from").getTag(),
            message.getHFBody("to").getTag(),
            str(message.getHFBody("call-id")),
            cseq.getCSeqNum(),
            cseq.getCSeqMethod(),
            str(message.getHFBody("contact").getUrl()),
        )
        return fields, str(message).encode("utf-8", "surrogateescape")

    return sippy


def rate(parse: Callable[[bytes], tuple[Fields, bytes]], data: bytes, seconds: float) -> float:
    """Messages per second over about ``seconds`` of work."""
    batch = 200
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            parse(data)
        done += batch
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def _parse_only(data: bytes) -> tuple[Fields, bytes]:
    parse_datagram(data)
    return (), data


def _parse_and_fields(data: bytes) -> tuple[Fields, bytes]:
    message = parse_datagram(data)
    fields = (
        message.via.branch,
        message.from_tag,
        message.to_tag,
        message.call_id,
        message.cseq.number,
        message.cseq.method,
    )
    return fields, data


def _parse_and_contact(data: bytes) -> tuple[Fields, bytes]:
    contact = parse_datagram(data).contact
    return (str(contact.uri) if contact is not None else None,), data


def _parse_and_lines(data: bytes) -> tuple[Fields, bytes]:
    return (len(parse_datagram(data).headers.lines),), data


def breakdown(seconds: float) -> None:
    """Microseconds per message for gwemu's steps (differences of cumulative timings)."""
    steps = [
        ("parse_datagram (checks Via/From/To/Call-ID/CSeq/...)", _parse_only, None),
        ("+ Via branch, tags, Call-ID, CSeq", _parse_and_fields, _parse_only),
        ("+ Contact and its URI (parsed on first read)", _parse_and_contact, _parse_only),
        ("whole gwemu() (all of the above + bytes())", gwemu, None),
        ("(header lines split on first use: not needed above)", _parse_and_lines, _parse_only),
        ("whole minimal()", minimal, None),
    ]
    for label, data in (("INVITE", INVITE), ("200 OK", OK)):
        print(f"{label}: microseconds per message")
        for step, function, minus in steps:
            micros = 1e6 / rate(function, data, seconds)
            if minus is not None:
                micros -= 1e6 / rate(minus, data, seconds)
            print(f"  {micros:6.2f}  {step}")


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--seconds", type=float, default=3.0, help="time per parser and message")
    options.add_argument("--rounds", type=int, default=3, help="alternating rounds (best counts)")
    options.add_argument(
        "--breakdown", action="store_true", help="also show where gwemu's time goes"
    )
    args = options.parse_args()

    parsers: dict[str, Callable[[bytes], tuple[Fields, bytes]]] = {
        "gwemu": gwemu,
        "minimal": minimal,
    }
    sippy = _sippy()
    if sippy is not None:
        parsers["sippy"] = sippy

    # Every parser must read the same fields before its speed means anything.
    for label, data in (("INVITE", INVITE), ("200 OK", OK)):
        expected = gwemu(data)[0]
        for name, parse in parsers.items():
            got = parse(data)[0]
            if got != expected:
                print(f"{name} reads {got} from the {label}, gwemu {expected}", file=sys.stderr)
                return 1
        if gwemu(data)[1] != data:
            print(f"gwemu did not serialize the {label} back byte for byte", file=sys.stderr)
            return 1

    print(f"INVITE {len(INVITE)} octets, 200 OK {len(OK)} octets; {args.rounds} rounds")
    share = args.seconds / args.rounds
    results: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for label, data in (("INVITE", INVITE), ("200 OK", OK)):
            for name, parse in parsers.items():
                key = (name, label)
                results[key] = max(results.get(key, 0.0), rate(parse, data, share))

    print(f"{'parser':<10}{'INVITE/s':>12}{'200 OK/s':>12}{'vs minimal':>12}{'vs sippy':>10}")
    for name in parsers:
        invite, ok = results[(name, "INVITE")], results[(name, "200 OK")]
        vs_minimal = invite / results[("minimal", "INVITE")]
        vs_sippy = f"{invite / results[('sippy', 'INVITE')]:.2f}x" if sippy is not None else "-"
        print(f"{name:<10}{invite:>12,.0f}{ok:>12,.0f}{vs_minimal:>11.2f}x{vs_sippy:>10}")
    if args.breakdown:
        breakdown(args.seconds / 6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
