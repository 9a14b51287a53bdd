"""Config and scenario files: located documents, declarative schemas, errors that name the line.

Declare a section as a frozen dataclass, load a file, get every mistake at once::

    from dataclasses import dataclass
    from typing import Annotated, Literal

    from gateway.calls.dialpeer import SessionTarget  # any class with parse(text) and str()
    from gateway.config import Duration, InRange, load_file, setting

    @dataclass(frozen=True, slots=True)
    class VoipPeer:
        'A voip dial-peer.'

        tag: Annotated[int, InRange(1, 2147483647)] = setting(doc="dial-peer tag")
        destination_pattern: str = setting(doc="IOS number pattern")
        session_target: SessionTarget = setting(doc="ipv4:HOST[:PORT], dns:NAME[:PORT], registrar")
        transport: Literal["udp", "tcp"] = setting(default="udp", key="session-transport")
        preference: Annotated[int, InRange(0, 10)] = setting(default=0, doc="lower is tried first")

    @dataclass(frozen=True, slots=True)
    class DialPeers:
        voip: tuple[VoipPeer, ...] = ()

    @dataclass(frozen=True, slots=True)
    class GatewayConfig:
        'One gateway.'

        name: str = setting(doc="node name in traces")
        ring_timeout: Duration = setting(default=30.0, doc="ring-no-answer timer")
        dial_peer: DialPeers = setting(default=DialPeers(), key="dial-peer")

    config = load_file(GatewayConfig, "gw-a.toml")  # raises ConfigErrors (a ConfigError)

reads ``gw-a.toml``::

    name = "GW-A"
    ring-timeout = "45s"

    [[dial-peer.voip]]
    tag = 100
    destination-pattern = "555...."
    session-target = "ipv4:127.0.0.1:5062"

and a bad file gives one line per problem::

    bad.toml:2: ring-timeout: expected a duration like "30s", "500ms", "2m", "1m30s" or a ...
    bad.toml:7: dial-peer.voip[0].session-target: session target 'ipv4:': expected ipv4:, ...
    bad.toml:8: dial-peer.voip[0].prefrence: unknown key; did you mean "preference"?
    bad.toml:9: dial-peer.voip[0].session-transport: expected one of "udp", "tcp", got "sctp"

``describe_schema(GatewayConfig)`` documents the keys; ``dump_toml(config)`` writes it back.
"""

from gateway.config.files import load_file, load_toml, load_yaml, read_document
from gateway.config.located import (
    ConfigErrors,
    ErrorCollector,
    KeyPath,
    Located,
    format_key_path,
    show_value,
)
from gateway.config.render import describe_schema, dump_toml, to_plain, write_toml
from gateway.config.rules import (
    DURATION,
    FILE_PATH,
    NON_EMPTY,
    Check,
    Convert,
    Duration,
    FilePath,
    InRange,
    format_duration,
    parse_duration,
    setting,
)
from gateway.config.schema import load, record_of
from gateway.config.toml_source import parse_toml

__all__ = [
    "DURATION",
    "FILE_PATH",
    "NON_EMPTY",
    "Check",
    "ConfigErrors",
    "Convert",
    "Duration",
    "ErrorCollector",
    "FilePath",
    "InRange",
    "KeyPath",
    "Located",
    "describe_schema",
    "dump_toml",
    "format_duration",
    "format_key_path",
    "load",
    "load_file",
    "load_toml",
    "load_yaml",
    "parse_duration",
    "parse_toml",
    "read_document",
    "record_of",
    "setting",
    "show_value",
    "to_plain",
    "write_toml",
]
