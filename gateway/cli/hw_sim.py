"""``gwemu hw-sim``: a simulated voice modem or FXS board on a pty, for lab dry runs.

    gwemu hw-sim modem [--profile usr5637] [--ring 5551234 --name ALICE] [--script FILE]
    gwemu hw-sim fxs [--dial 1001] [--answer-after 2] [--raw-pulses] [--script FILE]

The first line printed names the tty (and the stable symlink, /tmp/gwemu-modem0 or
/tmp/gwemu-fxs0 unless --link says otherwise): point a gateway line's ``device`` at it.  Then
one line per device event.  The simulator stays up until SIGTERM or Ctrl-C (``--exit`` ends it
after its script).  Flags are shorthands for script steps (``--ring N`` is ``ready; ring N``);
``--steps "ready; ring 5551234; wait-for answered; play tone:1004 3; hangup busy"`` and
``--script FILE`` take the language of :mod:`hardware.sim.script` (one step per line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

from gateway.media.wav import wav_bytes
from hardware.protocols.fxs_board import AUDIO_BAUD_RATE, BAUD_RATE
from hardware.protocols.quirks import PROFILES, profile
from hardware.sim.events import DeviceEvent
from hardware.sim.fxs import SimFxsOptions, SimulatedFxsPhone
from hardware.sim.modem import SimModemOptions, SimulatedModem
from hardware.sim.runner import DeviceRunner
from hardware.sim.script import ScriptError, Step, parse_script, run_script

DEFAULT_LINKS = {"modem": "/tmp/gwemu-modem0", "fxs": "/tmp/gwemu-fxs0"}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "hw-sim", help="run a simulated voice modem or FXS board on a pty (lab dry runs)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    devices = parser.add_subparsers(dest="hw_device", metavar="{modem,fxs}", required=True)

    modem = devices.add_parser("modem", help="a V.253 voice modem on an analog line")
    _common(modem)
    modem.add_argument("--profile", default="v253", choices=sorted(PROFILES),
                       help="chipset quirk profile (default v253)")
    modem.add_argument("--ring", metavar="NUMBER",
                       help="once the gateway has set the modem up, ring with this caller ID "
                       "(P: private, O: unavailable)")
    modem.add_argument("--name", default="", help="caller name for --ring")
    modem.add_argument("--compact-caller-id", action="store_true",
                       help="print NMBR=5551234 instead of NMBR = 5551234")
    modem.add_argument("--ring-interval", type=float, default=6.0, metavar="SECONDS")
    modem.add_argument("--dial-result", default="VCON",
                       help="how calls the gateway dials end: VCON, OK, BUSY, 'NO ANSWER', "
                       "'NO DIALTONE', 'NO CARRIER'")
    modem.add_argument("--refuse-vtr", action="store_true",
                       help="answer AT+VTR with ERROR (half-duplex modem)")
    modem.set_defaults(handler=_run, hw_device="modem")

    fxs = devices.add_parser("fxs", help="a serial FXS board with one phone")
    _common(fxs)
    fxs.add_argument("--dial", metavar="DIGITS",
                     help="once the gateway has found the board, lift the phone and dial")
    fxs.add_argument("--pulse", action="store_true", help="dial --dial with rotary pulses")
    fxs.add_argument("--answer-after", type=int, metavar="RINGS",
                     help="answer incoming calls after this many rings")
    fxs.add_argument("--raw-pulses", action="store_true",
                     help="report every dial pulse break (the host counts them)")
    fxs.add_argument("--no-serial-audio", action="store_true",
                     help="refuse AUDIO ON (a board with a sound card instead)")
    fxs.add_argument("--tone-plan", default="us", help="tones in the earpiece (us, etsi, uk, de)")
    fxs.set_defaults(handler=_run, hw_device="fxs")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--link", help="stable symlink to the tty (default /tmp/gwemu-modem0 "
                        "or /tmp/gwemu-fxs0)")
    parser.add_argument("--no-link", action="store_true", help="no symlink, only the pty")
    parser.add_argument("--play", metavar="SPEC",
                        help="what the far end / the person says once a call is up: "
                        "tone:FREQ[,FREQ] or wav:PATH (default silence)")
    parser.add_argument("--script", metavar="FILE", help="steps to run (hardware.sim.script)")
    parser.add_argument("--steps", help="steps inline, separated by ';'")
    parser.add_argument("--record", metavar="WAV",
                        help="when stopping, write what the gateway sent toward the line "
                        "(modem) or the earpiece heard (fxs) to this WAV file")
    parser.add_argument("--exit", action="store_true", help="exit when the script ends")
    parser.add_argument("--quiet", action="store_true", help="print only the tty line")


def _steps(args: argparse.Namespace) -> list[Step]:
    device = args.hw_device
    text = ""
    if args.play:
        text += f"play {args.play}\n"
    if device == "modem" and args.ring:
        text += f"ready\nring {args.ring} {args.name}\n"
    if device == "fxs" and args.dial:
        text += f"ready\ndial {args.dial} {'pulse' if args.pulse else 'dtmf'}\n"
    if args.steps:
        text += args.steps + "\n"
    if args.script:
        text += Path(args.script).read_text(encoding="utf-8")
    return parse_script(text, device)


def _device(args: argparse.Namespace) -> tuple[SimulatedModem | SimulatedFxsPhone, str]:
    if args.hw_device == "modem":
        quirks = profile(args.profile)
        options = SimModemOptions(
            quirks=quirks, caller_id_separator="=" if args.compact_caller_id else " = ",
            ring_interval=args.ring_interval, dial_result=args.dial_result.upper(),
            refuse_vtr=args.refuse_vtr)
        return (SimulatedModem(options, name="modem"),
                f"profile {quirks.name}, {quirks.baud_rate} baud")
    fxs_options = SimFxsOptions(
        report_raw_pulses=args.raw_pulses, serial_audio=not args.no_serial_audio,
        tone_plan=args.tone_plan, answer_after_rings=args.answer_after)
    speed = BAUD_RATE if args.no_serial_audio else AUDIO_BAUD_RATE
    return SimulatedFxsPhone(fxs_options, name="fxs"), f"{speed} baud"


def _run(args: argparse.Namespace) -> int:
    try:
        steps = _steps(args)
        device, summary = _device(args)
    except (ScriptError, ValueError, OSError) as exc:
        print(f"gwemu hw-sim: {exc}", file=sys.stderr)
        return 2
    link = None if args.no_link else (args.link or DEFAULT_LINKS[args.hw_device])
    try:
        return asyncio.run(_serve(device, summary, link, steps, args))
    except OSError as exc:
        print(f"gwemu hw-sim: {exc}", file=sys.stderr)
        return 1


def _print_event(event: DeviceEvent) -> None:
    print(event, flush=True)


async def _serve(device: SimulatedModem | SimulatedFxsPhone, summary: str, link: str | None,
                 steps: list[Step], args: argparse.Namespace) -> int:
    runner = DeviceRunner(device, link=link)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await runner.start()
    where = runner.slave_path + (f" (link {link})" if link else "")
    print(f"hw-sim {args.hw_device}: tty {where}, {summary}", flush=True)
    if not args.quiet:
        runner.set_observer(_print_event, replay=True)
    script = loop.create_task(run_script(runner, steps))
    status = 0
    try:
        waiter = loop.create_task(stop.wait())
        done, _ = await asyncio.wait({script, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if script in done:
            error = script.exception()
            if error is not None:
                print(f"gwemu hw-sim: script failed: {error}", file=sys.stderr)
                status = 1
            if args.exit or error is not None:
                waiter.cancel()
            else:
                await waiter
        waiter.cancel()
    finally:
        script.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await script
        await runner.stop()
        if args.record:
            Path(args.record).write_bytes(wav_bytes(bytes(device.heard)))
    return status
