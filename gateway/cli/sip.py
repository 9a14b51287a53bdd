"""``gwemu sip ...``: SIP tools.

This module only creates the ``sip`` command group.  Each subcommand lives in its own module
``gateway/cli/_sip_<name>.py`` exposing ``register(subparsers)`` (the same contract as the
top-level commands), so ``uas``/``uac`` can be added without touching this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from typing import Any

import gateway.cli

_PREFIX = "_sip_"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sip",
        help="SIP message tools (lint, ...)",
        description="SIP message tools.",
    )
    commands = parser.add_subparsers(dest="sip_command", metavar="SUBCOMMAND")
    for info in sorted(pkgutil.iter_modules(gateway.cli.__path__), key=lambda m: m.name):
        if info.name.startswith(_PREFIX):
            module = importlib.import_module(f"gateway.cli.{info.name}")
            module.register(commands)
    parser.set_defaults(handler=lambda _args: _no_subcommand(parser))


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
