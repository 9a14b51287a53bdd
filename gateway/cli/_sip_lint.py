"""``gwemu sip lint FILE...``: say what a SIP stack makes of captured messages.

Each file (or ``-`` for standard input) holds one message, as one UDP datagram.  One line per
file: what was parsed, or the status and reason a UAS would answer (``dropped: ...`` for a
malformed response, which is never answered).  A valid request that the UAS described by the
options would still refuse (RFC 3261 section 8.2: 405/501/416/420/415/406) gets the answer
appended after ``=>``.

Exit status: 0 when every message is valid, 1 when any is invalid, 2 when a file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.errors import RemoteProtocolError
from gateway.sip.message import Request, Response
from gateway.sip.parser import is_keepalive, parse_datagram, skip_leading_crlf
from gateway.sip.status import reason_phrase
from gateway.sip.uas_checks import UasCapabilities, check_request
from gateway.sip.validate import validate

EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "lint",
        help="parse SIP message files and report what a UAS would do",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="message file, or - for stdin")
    parser.add_argument(
        "--methods",
        default="INVITE,ACK,BYE,CANCEL,OPTIONS",
        help="methods the UAS allows (default: %(default)s)",
    )
    parser.add_argument(
        "--supported", default="", help="option tags the UAS understands, comma-separated"
    )
    parser.add_argument(
        "--content-types",
        default="application/sdp",
        help="body types the UAS accepts (default: %(default)s)",
    )
    parser.set_defaults(handler=run)


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def run(args: argparse.Namespace) -> int:
    capabilities = UasCapabilities.of(
        methods=_split(args.methods),
        extensions=_split(args.supported),
        content_types=_split(args.content_types),
    )
    status = 0
    for name in args.files:
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            print(f"{name}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            status = max(status, EXIT_UNREADABLE)
            continue
        valid, line = lint(data, capabilities)
        print(f"{'<stdin>' if name == '-' else name}: {line}")
        if not valid:
            status = max(status, EXIT_INVALID)
    return status


def lint(data: bytes, capabilities: UasCapabilities) -> tuple[bool, str]:
    """``(valid, one-line report)`` for one datagram."""
    if not data:
        return False, "empty file"
    if is_keepalive(data):
        return True, "keep-alive (CR/LF only), no message"
    try:
        message = parse_datagram(data)
        validate(message)
    except RemoteProtocolError as exc:
        if exc.status_hint is None:
            return False, f"dropped: {exc.reason}"
        return False, f"{exc.status_hint} {reason_phrase(exc.status_hint)}: {exc.reason}"
    line = describe(message)
    trailing = len(data) - skip_leading_crlf(data) - len(bytes(message))
    if trailing > 0:
        line += f" (+{trailing} trailing octets ignored)"
    if isinstance(message, Request):
        rejection = check_request(message, capabilities)
        if rejection is not None:
            extra = "".join(f"; {name}: {value}" for name, value in rejection.headers)
            line += f" => {rejection.status} {rejection.phrase}: {rejection.reason}{extra}"
    return True, line


def describe(message: Request | Response) -> str:
    """``INVITE sip:... Call-ID=... CSeq=9 INVITE Via=2 body=150B`` (or ``200 OK ...``)."""
    if isinstance(message, Request):
        start = f"{message.method} {message.uri_text}"
    else:
        start = f"{message.status} {message.reason}".rstrip()
    cseq = message.cseq
    return (
        f"{start} Call-ID={message.call_id} CSeq={cseq.number} {cseq.method} "
        f"Via={len(message.vias)} body={len(message.body)}B"
    )
