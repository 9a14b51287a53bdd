"""``gwemu pbx``: run the PBX simulator, and drive a running one.

    gwemu pbx --config examples/pbx-a.toml            run (SIGTERM or Ctrl-C stops it)
    gwemu pbx ctl --config examples/pbx-a.toml dial 1000 5551234
    gwemu pbx ctl --control 127.0.0.1:7001 status
    gwemu pbx check --config examples/pbx-a.toml      validate the file and exit

While it runs it prints one line per call and phone event.  ``ctl`` commands: dial PHONE NUMBER,
answer PHONE, hangup PHONE, offhook PHONE, play PHONE SPEC, stop PHONE, digits PHONE DIGITS,
flash PHONE, script PHONE STEPS, status, events [SINCE [PHONE]], help.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from gateway.cli._config_file import control_address, load_or_report
from gateway.cli.ctl import add_command_arguments, run_command
from gateway.config import load_file
from gateway.pcap import pcap_bytes
from gateway.trace import TraceRecorder, TraceSink, discard
from pbx_sim.aio import PbxSimulator
from pbx_sim.aio.commands import COMMAND_ARGUMENTS
from pbx_sim.config import PbxConfig
from pbx_sim.events import SimEvent


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pbx",
        help="run the PBX simulator (Q.931 trunks, phones) or drive a running one",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="the PBX's TOML or YAML file")
    parser.add_argument("--control", help="control channel address (overrides the config)")
    parser.add_argument("--no-media", action="store_true",
                        help="signalling only: no RTP, tones signalled to the phones")
    parser.add_argument("--pcap", help="write the Q.931 trace (and RTP with --trace-rtp) here "
                        "when stopping")
    parser.add_argument("--trace-rtp", action="store_true", help="trace every RTP packet")
    parser.add_argument("--quiet", action="store_true", help="do not print events")
    parser.set_defaults(handler=_run)
    commands = parser.add_subparsers(dest="pbx_command", metavar="{ctl,check}")
    ctl = commands.add_parser("ctl", help="send a command to a running PBX simulator")
    ctl.add_argument("--config", dest="ctl_config", help="read the control address here")
    ctl.add_argument("--control", dest="ctl_control", help="control address HOST:PORT or "
                     "unix:PATH")
    add_command_arguments(ctl)
    ctl.set_defaults(handler=_ctl)
    check = commands.add_parser("check", help="validate a configuration file")
    check.add_argument("--config", dest="check_config", required=True)
    check.set_defaults(handler=_check)


def _load_pbx(path: str) -> PbxConfig:
    return load_file(PbxConfig, path)


def _load(path: str) -> PbxConfig | None:
    return load_or_report(_load_pbx, path)


def _check(args: argparse.Namespace) -> int:
    config = _load(args.check_config)
    if config is None:
        return 2
    print(f"{args.check_config}: {config.name}: {len(config.extension)} extensions, "
          f"{len(config.trunk)} trunks, {len(config.route)} routes, "
          f"{len(config.fxs_phone)} FXS phones")
    return 0


def _ctl(args: argparse.Namespace) -> int:
    address = control_address(args.ctl_control or args.control, args.ctl_config or args.config,
                              _load_pbx, "gwemu pbx ctl")
    if address is None:
        return 2
    return run_command(address, args, COMMAND_ARGUMENTS)


def _run(args: argparse.Namespace) -> int:
    if args.config is None:
        print("gwemu pbx: --config is required", file=sys.stderr)
        return 2
    config = _load(args.config)
    if config is None:
        return 2
    try:
        return asyncio.run(_serve(config, args))
    except OSError as exc:
        print(f"gwemu pbx: {exc}", file=sys.stderr)
        return 1


async def _serve(config: PbxConfig, args: argparse.Namespace) -> int:
    recorder = TraceRecorder() if args.pcap else None
    trace: TraceSink = recorder if recorder is not None else discard
    observer = None if args.quiet else _print_event
    simulator = PbxSimulator(config, media=not args.no_media, trace=trace, observer=observer,
                             control=args.control, trace_rtp=args.trace_rtp)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await simulator.start()
    print(_ready_line(simulator), flush=True)
    try:
        await stop.wait()
    finally:
        await simulator.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    if recorder is not None:
        Path(args.pcap).write_bytes(pcap_bytes(recorder.events))
        print(f"{config.name}: trace written to {args.pcap}", flush=True)
    print(f"{config.name}: stopped", flush=True)
    return 0


def _ready_line(simulator: PbxSimulator) -> str:
    parts = []
    for trunk in simulator.config.trunk:
        if trunk.mode == "listen":
            host, port = simulator.trunk_address(trunk.name)
            parts.append(f"trunk {trunk.name} listening on {host}:{port}")
        else:
            parts.append(f"trunk {trunk.name} connecting to {trunk.address}")
    for phone in simulator.config.fxs_phone:
        host, port = simulator.fxs_address(phone.name)
        parts.append(f"FXS phone {phone.name} on socket://{host}:{port}")
    if simulator.control_address is not None:
        parts.append(f"control {simulator.control_address}")
    media = "with media" if simulator.media else "signalling only"
    return f"{simulator.name}: ready ({media}); " + "; ".join(parts)


def _print_event(event: SimEvent) -> None:
    print(event, flush=True)
