"""The PBX configuration: the examples load, and mistakes name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigErrors, load_file, load_toml
from pbx_sim.config import HostPort, PbxConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", ["pbx-a.toml", "pbx-b.toml"])
def test_the_examples_load(name: str) -> None:
    config = load_file(PbxConfig, EXAMPLES / name)
    assert config.extension and config.trunk
    trunk = config.trunk[0]
    assert trunk.rtp_local is not None and trunk.line_codec in ("pcma", "pcmu")


def test_defaults_follow_the_interface_and_side() -> None:
    config = load_toml(PbxConfig, '[[trunk]]\nname = "t"\naddress = "127.0.0.1:1"\n'
                       'interface = "e1"\nside = "user"\n')
    trunk = config.trunk[0]
    assert (trunk.line_codec, trunk.preference, trunk.order) == ("pcma", "preferred",
                                                                 "descending")
    assert len(trunk.b_channels()) == 30 and 16 not in trunk.b_channels()
    assert str(HostPort.parse("[::1]:5")) == "[::1]:5"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_toml(PbxConfig, text, file="pbx.toml")
    return [str(error) for error in caught.value.errors]


def test_mistakes_are_located() -> None:
    errors = errors_of(
        'tone-plan = "mars"\n'                       # 1
        '[[extension]]\n'                             # 2
        'number = "10a"\n'                            # 3
        '[[extension]]\n'                             # 4
        'number = "11"\n'                             # 5
        'play = "tone:abc"\n'                         # 6
        '[[trunk]]\n'                                 # 7
        'name = "t"\n'                                # 8
        'address = "localhost:4000"\n'                # 9
        '[[trunk]]\n'                                 # 10
        'name = "u"\n'                                # 11
        'address = "127.0.0.1:4000"\n'                # 12
        'rtp-local = "127.0.0.1:2001"\n'              # 13
        'rtp-remote = "127.0.0.1:3000"\n'             # 14
        'timers = { t999 = 1.0 }\n'                   # 15
    )
    text = "\n".join(errors)
    assert "pbx.toml:3: extension[0]" in text and "'a'" in text
    assert "pbx.toml:6: extension[1].play" in text and "tone frequencies" in text
    assert "pbx.toml:9: trunk[0].address" in text and "numeric" in text
    assert "pbx.toml:13: trunk[1].rtp-local" in text and "even" in text


def test_cross_checks() -> None:
    assert any("no trunk named 'x'" in e for e in errors_of(
        '[[route]]\npattern = "9T"\ntrunk = "x"\n'))
    assert any("appears twice" in e for e in errors_of(
        '[[extension]]\nnumber = "1"\n[[extension]]\nnumber = "1"\n'))
    assert any("either trunk or extension" in e for e in errors_of(
        '[[route]]\npattern = "9T"\n'))
    assert any("unix:PATH" in e for e in errors_of('control = "7001"\n'))
    assert any("script step" in e for e in errors_of(
        '[[extension]]\nnumber = "1"\nscript = "fly away"\n'))
