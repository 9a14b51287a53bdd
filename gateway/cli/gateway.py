"""``gwemu gateway``: run a gateway (Q.931 trunks, station and modem lines <-> SIP), look inside.

    gwemu gateway --config examples/gw-a.toml           run (Ctrl-C or SIGTERM stops it cleanly)
    gwemu gateway --config examples/gw-a.toml --check   validate the file and exit
    gwemu gateway --help-config                         every configuration key
    gwemu gateway show calls --config examples/gw-a.toml            like show sip-ua calls
    gwemu gateway show trace --config examples/gw-a.toml --follow   like debug ccsip messages
    gwemu gateway show registrations|dial-peers|sip-ua-map|status --config ...

While it runs it prints one line per message and call event.  ``show`` asks the running gateway
over its control channel (the ``control`` key of the file, or ``--control``); ``gwemu ctl ADDRESS
calls`` reaches the same commands.  On SIGINT/SIGTERM the gateway clears its calls (DISCONNECT
toward the lines, BYE or CANCEL toward SIP), waits briefly for the answers and closes its sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from gateway.aio.control import ControlClient, ControlError, request
from gateway.cli._config_file import control_address, load_or_report
from gateway.config import describe_schema
from gateway.config.gateway_schema import GatewayConfig, load_gateway_config
from gateway.pcap import pcap_bytes
from gateway.runtime import GatewayNode
from gateway.runtime.show import (
    format_calls,
    format_dial_peers,
    format_registrations,
    format_status,
    format_trace,
)

SHOW = ("calls", "trace", "registrations", "dial-peers", "sip-ua-map", "status")
_FOLLOW_PERIOD = 0.2


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "gateway",
        help="run a gateway (Q.931 trunks, station and modem lines <-> SIP) or show a running one",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="the gateway's TOML or YAML file")
    parser.add_argument("--check", action="store_true", help="validate the file and exit")
    parser.add_argument("--help-config", action="store_true",
                        help="print every configuration key and exit")
    parser.add_argument("--markdown", action="store_true",
                        help="with --help-config: Markdown tables")
    parser.add_argument("--control", help="control channel address (overrides the config)")
    parser.add_argument("--no-media", action="store_true",
                        help="signalling only: SDP is sent, no RTP socket is bound")
    parser.add_argument("--pcap", help="write the trace (SIP, Q.931, RTP with --trace-rtp) "
                        "here when stopping")
    parser.add_argument("--trace-rtp", action="store_true", help="trace every RTP packet")
    parser.add_argument("--quiet", action="store_true", help="print no per-message lines")
    parser.set_defaults(handler=_run)
    commands = parser.add_subparsers(dest="gateway_command", metavar="show")
    show = commands.add_parser("show", help="ask a running gateway (calls, trace, ...)")
    show.add_argument("what", choices=SHOW, help="what to show")
    show.add_argument("--config", dest="show_config", help="read the control address here")
    show.add_argument("--control", dest="show_control",
                      help="control address HOST:PORT or unix:PATH")
    show.add_argument("--json", action="store_true", help="print the raw JSON records")
    show.add_argument("--follow", action="store_true",
                      help="trace: keep printing new messages until Ctrl-C")
    show.add_argument("--since", type=int, default=0, help="trace: from message number N on")
    show.add_argument("--brief", action="store_true", help="trace: one line per message")
    show.add_argument("--all", action="store_true",
                      help="trace: media, RTP and RTCP events too (default: SIP, Q.931, FXS)")
    show.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (10)")
    show.set_defaults(handler=_show)


def _load(path: str) -> GatewayConfig | None:
    return load_or_report(load_gateway_config, path)


def _run(args: argparse.Namespace) -> int:
    if args.help_config:
        print(describe_schema(GatewayConfig, markdown=args.markdown), end="")
        return 0
    if args.config is None:
        print("gwemu gateway: --config is required (--help-config lists the keys)",
              file=sys.stderr)
        return 2
    config = _load(args.config)
    if config is None:
        return 2
    if args.check:
        print(_summary(args.config, config))
        return 0
    try:
        return asyncio.run(_serve(config, args))
    except OSError as exc:
        print(f"gwemu gateway: {exc}", file=sys.stderr)
        return 1


def _summary(path: str, config: GatewayConfig) -> str:
    peers = len(config.dial_peer.pots) + len(config.dial_peer.voip)
    return (f"{path}: {config.name}: {len(config.trunk)} trunks, {len(config.station)} station "
            f"lines, {len(config.modem)} modem lines, {peers} dial-peers, "
            f"SIP on {config.sip.listen} "
            f"({'/'.join(config.sip.transports)})")


async def _serve(config: GatewayConfig, args: argparse.Namespace) -> int:
    console = None if args.quiet else _print_line
    node = GatewayNode(config, media=False if args.no_media else None, control=args.control,
                       trace_rtp=args.trace_rtp or None, console=console,
                       record=args.pcap is not None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await node.start()
        print(node.ready_line(), flush=True)
        await stop.wait()
        print(f"{config.name}: stopping", flush=True)
    finally:
        await node.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    recorded = node.trace.recorded
    if args.pcap is not None and recorded is not None:
        Path(args.pcap).write_bytes(pcap_bytes(recorded))
        print(f"{config.name}: trace written to {args.pcap}", flush=True)
    print(f"{config.name}: stopped", flush=True)
    return 0


def _print_line(text: str) -> None:
    print(text, flush=True)


def _show(args: argparse.Namespace) -> int:
    address = control_address(args.show_control or args.control, args.show_config or args.config,
                              load_gateway_config, "gwemu gateway show")
    if address is None:
        return 2
    try:
        if args.what == "trace":
            return asyncio.run(_trace(address, args))
        result = request(address, args.what, args.timeout)
    except ControlError as exc:
        print(f"gwemu gateway show: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(_render(args.what, result), end="")
    return 0


def _render(what: str, result: Any) -> str:
    if what == "calls":
        return format_calls(result["node"], result["calls"])
    if what == "registrations":
        return format_registrations(result)
    if what == "dial-peers":
        return format_dial_peers(result)
    if what == "status":
        return format_status(result)
    return str(result)  # sip-ua-map: the tables as IOS prints them


async def _trace(address: str, args: argparse.Namespace) -> int:
    client = await ControlClient.connect(address, args.timeout)
    since = args.since
    try:
        while True:
            page = await client.request("trace", args.timeout, since=since,
                                        full=not args.brief,
                                        protocols="all" if args.all else "sip,q931,fxs")
            advanced = page["next"] != since
            since = page["next"]
            events = page["events"]
            if args.json:
                for event in events:
                    print(json.dumps(event))
            else:
                print(format_trace(events, full=not args.brief), end="", flush=True)
            if advanced:
                continue  # more may be waiting (pages are bounded)
            if not args.follow:
                return 0
            await asyncio.sleep(_FOLLOW_PERIOD)
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 0
    finally:
        await client.close()
