"""``gwemu ctl ADDRESS COMMAND [ARGS...]``: send one command to a running simulator.

Any process serving :mod:`gateway.aio.control` (the PBX simulator, later the gateway) answers.
Arguments are ``name=value`` pairs (a value that reads as JSON -- a number, ``true``, a quoted
string -- is sent as such); ``gwemu pbx ctl`` adds positional arguments for the PBX's commands.
``ADDRESS`` is ``HOST:PORT`` or ``unix:PATH``.  ``help`` lists what the server offers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.aio.control import ControlError, request


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ctl",
        help="send a command to a running simulator's control channel",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("address", help="control address: HOST:PORT or unix:PATH")
    add_command_arguments(parser)
    parser.set_defaults(handler=lambda args: run_command(args.address, args, {}))


def add_command_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the raw JSON result")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (10)")
    parser.add_argument("command", help="command name (help lists them)")
    parser.add_argument("arguments", nargs="*", help="arguments: positional or name=value")


def run_command(address: str, args: argparse.Namespace,
                positional: Mapping[str, Sequence[str]]) -> int:
    """Send ``args.command``; positional arguments are named by ``positional[command]``."""
    try:
        named = command_arguments(args.command, args.arguments, positional.get(args.command, ()))
        result = request(address, args.command, args.timeout, **named)
    except (ControlError, ValueError) as exc:
        print(f"gwemu ctl: {exc}", file=sys.stderr)
        return 1
    print_result(args.command, result, as_json=args.json)
    return 0


def command_arguments(command: str, words: Sequence[str], names: Sequence[str]) -> dict[str, Any]:
    named: dict[str, Any] = {}
    position = 0
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key.isidentifier():
            named[key] = _value(value)
            continue
        if position >= len(names):
            raise ValueError(f"{command}: unexpected argument {word!r} "
                             f"(takes {' '.join(n.upper() for n in names) or 'none'})")
        named[names[position]] = word  # positional arguments stay strings (numbers, digits)
        position += 1
    return named


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def print_result(command: str, result: Any, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
        return
    if result is None:
        print("ok")
    elif command == "events" and isinstance(result, dict):
        for event in result.get("events", []):
            print(format_event(event))
        print(f"(next: {result.get('next')})")
    elif isinstance(result, str):
        print(result)
    else:
        print(json.dumps(result, indent=2))


def format_event(event: dict[str, Any]) -> str:
    """One line for an event record of pbx_sim.events.event_record."""
    cause = f" cause {event['cause']}" if event.get("cause") is not None else ""
    if event.get("type") == "phone":
        value = f" {event['value']}" if event.get("value") else ""
        via = f" [{event['via']}]" if event.get("via") else ""
        return f"{event['time']:9.3f} phone {event['phone']}: {event['kind']}{value}{cause}{via}"
    where = f" call {event['call']}" if event.get("call") is not None else ""
    trunk = f" [{event['trunk']}]" if event.get("trunk") else ""
    detail = f" {event['detail']}" if event.get("detail") else ""
    return f"{event['time']:9.3f} {event.get('node', '')}{where}{trunk}: {event['kind']}" \
        f"{detail}{cause}"
