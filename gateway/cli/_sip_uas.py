"""``gwemu sip uas``: answer every call, like SIPp's built-in ``uas``, on gwemu's own stack.

    gwemu sip uas --listen 127.0.0.1:5060 [--transport udp|tcp|both] [--ring 2] [--hold 30]

Every INVITE is answered 200 with an SDP answer (PCMU/PCMA/telephone-event; no RTP is sent),
after a 180 and ``--ring`` seconds when asked.  The call is held until the caller's BYE, or for
``--hold`` seconds after the ACK and then hung up.  OPTIONS, INFO and UPDATE get 200.  One line
per call is printed (``--quiet``: none); SIGINT/SIGTERM, ``--calls`` or ``--duration`` stop it
with a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
from typing import Any, TextIO

from gateway.aio.loop import loop_name, run, signalling_gc
from gateway.aio.sip_peers import CallRecord
from gateway.aio.sip_transport import SipTransport
from gateway.aio.sip_uas_peer import UasOptions, UasPeer
from gateway.sip.endpoint import EndpointConfig, SipEndpoint
from gateway.sip.routing import bare_host, hostport
from gateway.sip.timers import TimerConfig
from gateway.trace import TraceEvent, TraceSink, discard

__all__ = [
    "add_common_options",
    "make_endpoint",
    "parse_hostport",
    "register",
    "serve",
    "show_address",
]


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "uas",
        help="answer every INVITE (a quick SIP UAS peer)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--listen",
        default="127.0.0.1:5060",
        metavar="HOST:PORT",
        help="address to listen on (default: %(default)s; [::1]:5060 for IPv6)",
    )
    parser.add_argument(
        "--transport",
        choices=("udp", "tcp", "both"),
        default="udp",
        help="transport(s) to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--ring",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="send 180 Ringing and answer after this long (default: answer at once)",
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=None,
        metavar="SECONDS",
        help="hang up this long after the ACK (default: wait for the caller's BYE)",
    )
    parser.add_argument("--calls", type=int, default=None, help="stop after this many calls ended")
    parser.add_argument(
        "--duration", type=float, default=None, metavar="SECONDS", help="stop after this long"
    )
    parser.add_argument("--quiet", action="store_true", help="no line per call, summary only")
    add_common_options(parser)
    parser.set_defaults(handler=main)


# -- options shared with ``gwemu sip uac`` ------------------------------------------------------


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loop",
        choices=("auto", "uvloop", "asyncio"),
        default="auto",
        help="event loop (default: uvloop when installed)",
    )
    parser.add_argument(
        "--t1", type=float, default=0.5, metavar="SECONDS", help="SIP T1 (default: %(default)s)"
    )
    parser.add_argument(
        "--advertise", default=None, metavar="HOST", help="address to write in Via and Contact"
    )
    parser.add_argument(
        "--trace", action="store_true", help="print every SIP message on standard error"
    )


def parse_hostport(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` -> ``(host, port)``."""
    host, port_text = text, ""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise ValueError(f"{text!r}: unterminated IPv6 reference")
        host, port_text = text[1:close], text[close + 1 :].removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: port {port_text!r} is not 0-65535")
    return host, int(port_text)


def show_address(address: tuple[str, int]) -> str:
    return hostport(address[0], address[1])


def _trace_printer(stream: TextIO) -> TraceSink:
    def emit(event: TraceEvent) -> None:
        where = "" if event.remote is None else show_address(event.remote)
        line = f"{event.time:.3f} {event.direction:4} {event.transport} {where} {event.summary}"
        stream.write(line + "\n")

    return emit


def make_endpoint(args: argparse.Namespace, node: str, errors: TextIO) -> SipEndpoint:
    config = EndpointConfig(
        timers=TimerConfig(t1=args.t1, t2=max(4.0, args.t1)),
        node=node,
        advertised_host=args.advertise,
    )
    trace = _trace_printer(errors) if args.trace else discard
    return SipEndpoint(config, rng=random.Random(), trace=trace)


def use_uvloop(args: argparse.Namespace) -> bool | None:
    return {"auto": None, "uvloop": True, "asyncio": False}[args.loop]


# -- the command --------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> int:
    try:
        return run(serve(args, sys.stdout, sys.stderr), use_uvloop=use_uvloop(args))
    except (ValueError, OSError) as exc:
        print(f"gwemu sip uas: {exc}", file=sys.stderr)
        return 2


async def serve(args: argparse.Namespace, out: TextIO, errors: TextIO) -> int:
    loop = asyncio.get_running_loop()
    host, port = parse_hostport(args.listen, 5060)
    endpoint = make_endpoint(args, "uas", errors)
    stop = asyncio.Event()
    ended = 0

    def report(record: CallRecord) -> None:
        nonlocal ended
        ended += 1
        if not args.quiet:
            out.write(record.line() + "\n")
            out.flush()  # a line per call as it ends, also through a pipe (tee, grep, tests)
        if args.calls is not None and ended >= args.calls:
            stop.set()

    media_host = args.advertise or bare_host(host)
    if media_host in ("0.0.0.0", "::"):
        media_host = "127.0.0.1"
    peer = UasPeer(endpoint, UasOptions(args.ring, args.hold, media_host), report)
    transport = SipTransport(endpoint, peer)
    addresses = []
    try:
        if args.transport in ("udp", "both"):
            addresses.append(f"udp:{show_address(await transport.listen_udp(host, port))}")
        if args.transport in ("tcp", "both"):
            addresses.append(f"tcp:{show_address(await transport.listen_tcp(host, port))}")
    except OSError as exc:
        await transport.aclose()
        where = show_address((host, port))
        raise OSError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    out.write(f"uas listening on {' '.join(addresses)} ({loop_name(loop)})\n")
    out.flush()
    try:
        with signalling_gc():
            await asyncio.wait_for(stop.wait(), args.duration)
    except TimeoutError:
        pass
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await transport.aclose()
    outcomes = ", ".join(f"{name} x{count}" for name, count in sorted(peer.finished.items()))
    out.write(
        f"uas: {peer.started} calls received, {ended} ended, {len(peer.calls)} in progress"
        + (f"; {outcomes}" if outcomes else "")
        + "\n"
    )
    out.flush()
    return 0
