"""``gwemu sip uac``: place calls, like SIPp's built-in ``uac``, on gwemu's own stack.

    gwemu sip uac 127.0.0.1:5060 [--calls 100] [--rate 10] [--hold 1] [--transport tcp]

TARGET is ``HOST[:PORT]`` (the Request-URI becomes ``sip:service@HOST:PORT``) or a SIP URI.
Each call sends an INVITE with an SDP offer (PCMU/PCMA/telephone-event; no RTP is sent), ACKs
the 200, holds ``--hold`` seconds and hangs up with BYE.  At the end a summary gives the calls
attempted, answered, completed and the failures by status; the exit status is 1 when any call
failed (or SIGINT/SIGTERM stopped the run early), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
from typing import Any, TextIO

from gateway.aio.loop import run, signalling_gc
from gateway.aio.sip_peers import CallRecord
from gateway.aio.sip_transport import SipTransport
from gateway.aio.sip_uac_peer import UacOptions, UacPeer
from gateway.cli._sip_uas import add_common_options, make_endpoint, parse_hostport, use_uvloop
from gateway.sip.routing import Hop, hostport, is_ip_address
from gateway.sip.routing import SipTransport as TransportName
from gateway.sip.uri import SipUri, parse_uri

__all__ = ["place_calls", "register"]

EXIT_FAILED = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "uac",
        help="place calls to a target (a quick SIP UAC peer)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", metavar="TARGET", help="HOST[:PORT] or sip:user@host[:port]")
    parser.add_argument("--calls", type=int, default=1, help="calls to place (default: 1)")
    parser.add_argument(
        "--rate", type=float, default=10.0, metavar="CPS", help="calls per second (default: 10)"
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="hang up this long after the answer (default: %(default)s)",
    )
    parser.add_argument(
        "--transport", choices=("udp", "tcp"), default="udp", help="default: %(default)s"
    )
    parser.add_argument(
        "--local",
        default=None,
        metavar="HOST:PORT",
        help="our address (default: the one the system would send to the target from, any port)",
    )
    parser.add_argument(
        "--service", default="service", help="user part of the Request-URI (default: service)"
    )
    parser.add_argument(
        "--setup-timeout",
        type=float,
        default=32.0,
        metavar="SECONDS",
        help="CANCEL calls not answered by then (default: %(default)s)",
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep the sockets open this long after the last call, for a peer still in its"
        " time-wait (SIPp's uas counts a call failed if TCP closes within its 4 s)",
    )
    parser.add_argument("--verbose", action="store_true", help="print a line per call")
    add_common_options(parser)
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    try:
        return run(place_calls(args, sys.stdout, sys.stderr), use_uvloop=use_uvloop(args))
    except (ValueError, OSError) as exc:
        print(f"gwemu sip uac: {exc}", file=sys.stderr)
        return EXIT_USAGE


def target_of(text: str, service: str, transport: TransportName) -> tuple[str, Hop]:
    """Request-URI and first hop for TARGET (host names are resolved here, once)."""
    if text.lower().startswith("sip:"):
        uri = parse_uri(text)
        if not isinstance(uri, SipUri):
            raise ValueError(f"{text!r} is not a sip: URI")
        host, port = uri.host.strip("[]"), uri.port or 5060
        request_uri = text
    else:
        host, port = parse_hostport(text, 5060)
        request_uri = f"sip:{service}@{hostport(host, port)}"
    if not is_ip_address(host):
        host = str(socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][4][0])
    return request_uri, Hop(transport, (host, port))


def source_address_for(destination: tuple[str, int]) -> str:
    """The address the system sends to ``destination`` from (what SIPp's -i defaults to).

    Connecting a UDP socket sends nothing; it only asks the routing table.  Without a route,
    the loopback address of the destination's family.
    """
    host, port = destination
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((host, port))
            return str(probe.getsockname()[0])
    except OSError:
        return "::1" if family == socket.AF_INET6 else "127.0.0.1"


async def place_calls(args: argparse.Namespace, out: TextIO, errors: TextIO) -> int:
    if args.calls < 1 or args.rate <= 0:
        raise ValueError("--calls must be >= 1 and --rate > 0")
    loop = asyncio.get_running_loop()
    request_uri, hop = target_of(args.target, args.service, args.transport)
    if args.local is None:
        local_host, local_port = source_address_for(hop.address), 0
    else:
        local_host, local_port = parse_hostport(args.local, 0)
    endpoint = make_endpoint(args, "uac", errors)

    def report(record: CallRecord) -> None:
        if args.verbose:
            out.write(record.line() + "\n")

    options = UacOptions(
        target=request_uri,
        destination=hop,
        calls=args.calls,
        rate=args.rate,
        hold=args.hold,
        setup_timeout=args.setup_timeout,
        caller=f"<sip:gwemu@{hostport(args.advertise or local_host)}>",
        media_address=args.advertise or local_host,
    )
    peer = UacPeer(endpoint, options, report)
    transport = SipTransport(endpoint, peer)
    local = await transport.listen_udp(local_host, local_port)
    if args.transport == "tcp":
        await transport.listen_tcp(local_host, local[1])
    finished = asyncio.Event()
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            peer.stop(loop.time())
            transport.pump()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt)

    class Watch:
        """Wakes the command when the last call has ended (checked after every pump)."""

        def handle_event(self, event: Any, now: float) -> None:
            peer.handle_event(event, now)
            if peer.done:
                finished.set()

        def get_timer(self) -> float | None:
            return peer.get_timer()

        def handle_timer(self, now: float) -> None:
            peer.handle_timer(now)
            if peer.done:
                finished.set()

    transport.application = Watch()
    # The longest a run can take: placing every call, the setup and CANCEL time, the hold and
    # a BYE transaction timing out; then whatever is left is counted as failed.
    budget = args.calls / args.rate + args.setup_timeout + 64 * args.t1 * 2 + args.hold + 5.0
    peer.start(loop.time())
    transport.pump()
    try:
        with signalling_gc():
            await asyncio.wait_for(finished.wait(), budget)
            if args.linger > 0 and not interrupted:
                await asyncio.sleep(args.linger)
    except TimeoutError:
        pass
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await transport.aclose()
    summary = peer.summary
    unfinished = len(peer.calls)
    if unfinished:
        summary.failures["unfinished"] += unfinished
    for line in summary.lines():
        out.write(line + "\n")
    out.flush()
    if interrupted or summary.failed:
        return EXIT_FAILED
    return 0
