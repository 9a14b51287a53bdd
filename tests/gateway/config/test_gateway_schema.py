"""The gateway configuration schema: the shipped examples, mistakes reported with file, line and
key, and the example gateways agreeing with the example PBXs they face."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.calls.causes import CauseProfile
from gateway.calls.translation import CallNumbers, PartyNumber
from gateway.config import ConfigErrors, describe_schema, dump_toml, load_file
from gateway.config.gateway_schema import GatewayConfig, load_gateway_config, load_gateway_text
from pbx_sim.config import PbxConfig

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

MINIMAL = """
name = "GW"
[sip]
listen = "127.0.0.1:5070"
"""


def load(text: str) -> GatewayConfig:
    return load_gateway_text(text, file="gw.toml")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load(text)
    return [error.render() for error in caught.value.errors]


@pytest.mark.parametrize("name", ["gw-a.toml", "gw-b.toml", "gw-a-station.toml",
                                  "gw-b-station.toml"])
def test_examples_load_and_round_trip(name: str) -> None:
    config = load_gateway_config(EXAMPLES / name)
    plan = config.plan()
    assert plan.node == config.name and plan.lines
    assert load(dump_toml(config)) == config


def test_a_minimal_file_gets_the_documented_defaults() -> None:
    config = load(MINIMAL)
    assert config.sip.transports == ("udp", "tcp") and config.toll_fraud.enabled
    plan = config.plan()
    assert plan.cause_map.profile == CauseProfile.RFC3398
    assert (plan.media.port_min, plan.media.port_max) == (16384, 32767)
    assert plan.timers.ring_no_answer == 180.0 and plan.registration is None


def test_every_mistake_names_file_line_and_key() -> None:
    found = problems(MINIMAL + """transports = ["udp", "sctp"]
t1 = "fast"

[media]
ports = "5000"

[[trunk]]
name = "pbx"
address = "localhost:38101"

[cause-map]
pstn-cause = { 17 = 200 }

[[dial-peer.voip]]
tag = 5
session-target = "ipv4:"
codecs = ["g711"]
""")
    assert found == [
        'gw.toml:5: sip.transports[1]: expected one of "tcp", "udp", got "sctp"',
        'gw.toml:6: sip.t1: expected a duration like "30s", "500ms", "2m", "1m30s" or a '
        'number of seconds, got "fast"',
        'gw.toml:9: media.ports: expected FIRST-LAST, e.g. "16384-32767", got \'5000\'',
        "gw.toml:13: trunk[0].address: 'localhost' is not a numeric IP address",
        "gw.toml:16: cause-map.pstn-cause.17: SIP status must be 400-699, got 200",
        "gw.toml:20: dial-peer.voip[0].session-target: session target 'ipv4:': expected ipv4:, "
        "ipv6:, dns:, registrar or sip-server",
        'gw.toml:21: dial-peer.voip[0].codecs[0]: expected one of "g711ulaw", "g711alaw", '
        '"g729r8", "g729br8", got "g711"; did you mean "g711ulaw"?',
    ]


def test_cross_references_are_checked() -> None:
    dangling = problems(MINIMAL + """
[[dial-peer.pots]]
tag = 1
destination-pattern = "1..."
port = "pbx-z"
""")
    assert dangling == ["gw.toml:9: dial-peer.pots[0].port: no trunk, station or modem line named "
                        "'pbx-z' (lines: none)"]
    duplicate = problems(MINIMAL + """
[[dial-peer.voip]]
tag = 7
session-target = "ipv4:127.0.0.1"
[[dial-peer.voip]]
tag = 7
session-target = "ipv4:127.0.0.1"
""")
    assert duplicate == ["gw.toml:6: dial-peer: dial-peer tag 7 is used twice"]
    registrar = problems(MINIMAL + """
[[dial-peer.voip]]
tag = 7
session-target = "registrar"
""")
    assert registrar == ["gw.toml:8: dial-peer.voip[0].session-target: session-target "
                         "registrar needs a [registration] section"]
    profile = problems(MINIMAL + """
[[dial-peer.voip]]
tag = 7
session-target = "ipv4:127.0.0.1"
translation-outgoing = "nope"
""")
    assert profile == ["gw.toml:6: dial-peer: dial-peer voice 7 voip: translation-profile "
                       "outgoing nope: no such voice translation-profile"]


def test_translations_as_ios_text_and_structured_tables_meet_in_one_plan() -> None:
    config = load(MINIMAL + '''
[translation]
ios = """
voice translation-rule 1
 rule 1 /^9/ //
voice translation-profile strip9
 translate called 1
"""

[[translation.rule]]
number = 2
rules = ["rule 1 /^555/ /+1555/"]

[[translation.profile]]
name = "e164"
called = 2

[[dial-peer.voip]]
tag = 1
destination-pattern = "9T"
session-target = "ipv4:127.0.0.1:5080"
translation-outgoing = "strip9"
''')
    plan = config.plan()
    route = next(iter(plan.dial_plan.outbound(
        CallNumbers(PartyNumber("95551234"), PartyNumber("1000")))))
    assert route.called_digits == "5551234"
    assert set(plan.dial_plan.translations.profiles) == {"strip9", "e164"}
    bad = problems(MINIMAL + '''
[translation]
ios = """
voice translation-rule 1
 rule 1 /^9/
"""
''')
    assert len(bad) == 1 and bad[0].startswith("gw.toml:7: translation.ios: line 2 of the text: ")


def test_registration_forwarding_and_toll_fraud_reach_the_plan() -> None:
    config = load(MINIMAL + """
[registration]
registrar = "ipv4:127.0.0.1:5090"
username = "gw"
password = "secret"
expires = 600

[toll-fraud]
trusted = ["10.0.0.0/8", "192.0.2.7"]

[[forwarding]]
number = "5551234"
busy = "5552000"
""")
    plan = config.plan()
    assert plan.registrar is not None and (plan.registrar.host, plan.registrar.port) == \
        ("127.0.0.1", 5090)
    assert plan.registration is not None and plan.registration.expires == 600
    assert plan.trusted_sources == ("10.0.0.0/8", "192.0.2.7")
    rule = plan.forwarding_for("5551234")
    assert rule is not None and rule.on_busy == "5552000"
    assert problems(MINIMAL + '[toll-fraud]\ntrusted = ["10.0.0.300"]\n') == [
        "gw.toml:6: toll-fraud.trusted[0]: '10.0.0.300' is not an IP address or network"]


def test_help_config_documents_every_section() -> None:
    text = describe_schema(GatewayConfig)
    for header in ("[sip]", "[media]", "[[trunk]]", "[[station]]", "[[dial-peer.pots]]",
                   "[[dial-peer.voip]]", "[translation]", "[cause-map]", "[timers]",
                   "[toll-fraud]", "[registration]", "[[forwarding]]"):
        assert header in text


@pytest.mark.parametrize(("gateway", "pbx", "trunk"), [
    ("gw-a.toml", "pbx-a.toml", "gw-a"),
    ("gw-b.toml", "pbx-b.toml", "gw-b"),
])
def test_the_example_gateways_mirror_their_pbx(gateway: str, pbx: str, trunk: str) -> None:
    """Both ends of each example trunk agree: address, opposite modes and sides, interface,
    channels and the B-channel RTP bases crossed over."""
    ours = load_file(GatewayConfig, EXAMPLES / gateway).trunk[0]
    theirs = load_file(PbxConfig, EXAMPLES / pbx).find_trunk(trunk)
    assert ours.address.address == theirs.address.address
    assert {ours.mode, theirs.mode} == {"listen", "connect"}
    assert {ours.side, theirs.side} == {"user", "network"}
    assert (ours.interface, ours.channels) == (theirs.interface, theirs.channels)
    assert ours.rtp_local is not None and ours.rtp_remote is not None
    assert theirs.rtp_local is not None and theirs.rtp_remote is not None
    assert ours.rtp_local.address == theirs.rtp_remote.address
    assert ours.rtp_remote.address == theirs.rtp_local.address
    assert ours.overlap or not theirs.overlap  # the PBX's overlap SETUPs are understood


def test_flow_1_numbers_route_through_both_example_gateways() -> None:
    """5551234 dialled at PBX-A: GW-A sends it to GW-B (voip 100), GW-B to PBX-B (pots 1) with
    all digits, which PBX-B strips to its extension 1234."""
    gw_a = load_file(GatewayConfig, EXAMPLES / "gw-a.toml").plan()
    gw_b = load_file(GatewayConfig, EXAMPLES / "gw-b.toml").plan()
    numbers = CallNumbers(PartyNumber("5551234"), PartyNumber("5551000"))
    assert gw_a.dial_plan.outbound(numbers, exclude_port="pbx-a").tags == (100,)
    routes = list(gw_b.dial_plan.outbound(numbers))
    assert [r.peer.tag for r in routes] == [1] and routes[0].called_digits == "5551234"
    pbx_b = load_file(PbxConfig, EXAMPLES / "pbx-b.toml")
    assert "1234" in {e.number for e in pbx_b.extension}
    assert pbx_b.find_trunk("gw-b").incoming_strip == 3
    # and back: GW-B sends 55510xx to GW-A, which reaches PBX-A's extension with 4 digits
    back = CallNumbers(PartyNumber("5551000"), PartyNumber("5551234"))
    assert gw_b.dial_plan.outbound(back, exclude_port="pbx-b").tags == (200,)
    assert next(r.called_digits for r in gw_a.dial_plan.outbound(back)) == "1000"


MODEM = MINIMAL + """
[[modem]]
name = "modem0"
device = "/dev/ttyACM0"
number = "5553000"
connection-plar = "2001"
profile = "USR5637"
country-code = "b5"
[[dial-peer.pots]]
tag = 1
destination-pattern = "9T"
port = "modem0"
"""


def test_a_modem_line_becomes_an_fxo_line_with_its_driver_settings() -> None:
    config = load(MODEM)
    (modem,) = config.modem
    assert [(info.name, info.kind, info.numbers) for info in config.lines()] == [
        ("modem0", "fxo", ("5553000",))]
    assert config.line_numbers() == ("5553000",)
    driver = modem.line_config()
    assert driver.number == "2001"  # calls ringing on the line go to the PLAR number
    assert driver.quirks.name == "usr5637"
    assert driver.country_code == "b5"
    assert load(MODEM.replace('connection-plar = "2001"\n', "")).modem[0].line_config().number \
        == "5553000"


@pytest.mark.parametrize(("edit", "expected"), [
    (('profile = "USR5637"', 'profile = "hayes"'),
     "gw.toml:11: modem[0].profile: unknown modem profile (known: cx930xx, usr5637, v253, "
     "zoom3095)"),
    (('device = "/dev/ttyACM0"', 'device = "ttyACM0"'),
     "gw.toml:8: modem[0].device: expected socket://HOST:PORT, rfc2217://HOST:PORT or /dev/..."),
    (('country-code = "b5"', 'country-code = "US"'),
     "gw.toml:12: modem[0].country-code: a T.35 country code is two hex digits"),
    (('connection-plar = "2001"', 'connection-plar = "20x1"'),
     "gw.toml:10: modem[0].connection-plar: '20x1' is not a number (digits, * and #, an optional "
     "leading +)"),
])
def test_modem_mistakes_name_file_line_and_key(edit: tuple[str, str], expected: str) -> None:
    assert problems(MODEM.replace(*edit)) == [expected]


def test_a_modem_and_a_station_cannot_share_a_name() -> None:
    clash = problems(MODEM + """
[[station]]
name = "modem0"
device = "socket://127.0.0.1:4000"
number = "5551000"
""")
    assert clash == ["gw.toml:7: modem[0].name: line name 'modem0' is used twice"]
