"""Quirk profiles are consistent data."""

from __future__ import annotations

import pytest

from hardware.protocols.dle import DleKind, encode_action
from hardware.protocols.quirks import CONEXANT_CX930XX, PROFILES, USR_5637, profile
from hardware.protocols.voice_format import VsmMethod, choose


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_is_usable(name: str) -> None:
    quirks = profile(name)
    assert choose(quirks.vsm_methods), "a profile must offer a usable sample format"
    assert encode_action(DleKind.RECEIVE_ABORT, quirks.dle_prefix_count).endswith(b"\x10!")
    assert quirks.caller_id_commands and quirks.baud_rate > 0
    for method in quirks.vsm_methods:
        assert VsmMethod.parse(str(method)) == method


def test_profiles_encode_the_known_quirks() -> None:
    assert profile("ZOOM3095") is CONEXANT_CX930XX
    assert not CONEXANT_CX930XX.vsd_works and CONEXANT_CX930XX.dle_prefix_count == 3
    assert "AT#CID=1" in CONEXANT_CX930XX.caller_id_commands
    assert choose(USR_5637.vsm_methods)[0].sample_format == "pcmu"
    assert choose(CONEXANT_CX930XX.vsm_methods)[0].sample_format == "u8"
    with pytest.raises(KeyError, match="known: "):
        profile("hayes")
