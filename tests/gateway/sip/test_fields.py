from __future__ import annotations

import pytest

from gateway.errors import RemoteProtocolError
from gateway.sip.fields import (
    MAX_CSEQ,
    ContentType,
    CSeq,
    MediaRange,
    check_call_id,
    parse_content_length,
    parse_delta_seconds,
    parse_max_forwards,
    parse_method_list,
    parse_option_tags,
    parse_qvalue,
)


def test_cseq() -> None:
    assert CSeq.parse("314159 INVITE") == CSeq(314159, "INVITE")
    assert CSeq.parse("0009 \t INVITE") == CSeq(9, "INVITE")
    assert CSeq.parse("4294967295 ACK").number == MAX_CSEQ == 2**32 - 1
    assert CSeq.parse("00000000000000000001 BYE").number == 1  # leading zeros are not size
    assert str(CSeq(1, "BYE")) == "1 BYE"
    for bad, word in [
        ("4294967296 INVITE", "exceeds"),
        ("36893488147419103232 REGISTER", "exceeds"),
        ("1", "malformed"),
        ("-1 INVITE", "malformed"),
        ("1 IN VITE", "malformed"),
        ("INVITE 1", "malformed"),
        ("١ INVITE", "malformed"),
    ]:
        with pytest.raises(RemoteProtocolError, match=word):
            CSeq.parse(bad)


def test_call_id() -> None:
    assert check_call_id("a84b4c76e66710@pc33.atlanta.com") == "a84b4c76e66710@pc33.atlanta.com"
    assert check_call_id("word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
    for bad in ["", "a b", "a@b@c", "@b", "a@", "a,b", "é"]:
        with pytest.raises(RemoteProtocolError, match="Call-ID"):
            check_call_id(bad)


def test_scalars() -> None:
    assert parse_content_length("0") == 0 and parse_content_length("0150") == 150
    assert parse_max_forwards("0068") == 68 and parse_max_forwards("0") == 0
    assert parse_delta_seconds("4294967295", "Expires") == 2**32 - 1
    for bad in ["-999", "", "1.0", "99999999999", " 1"]:
        with pytest.raises(RemoteProtocolError, match="Content-Length"):
            parse_content_length(bad)
    for bad in ["256", "300", "-1", "x"]:
        with pytest.raises(RemoteProtocolError, match="Max-Forwards"):
            parse_max_forwards(bad)
    with pytest.raises(RemoteProtocolError, match="Expires"):
        parse_delta_seconds("1" + "0" * 100, "Expires")
    assert parse_qvalue("0.33") == 0.33 and parse_qvalue("1.000") == 1.0 and parse_qvalue("0") == 0
    for bad in ["1.001", "2", ".5", "0.1234"]:
        with pytest.raises(RemoteProtocolError):
            parse_qvalue(bad)


def test_content_type() -> None:
    content_type = ContentType.parse("Multipart/Mixed ; boundary=7a9cbec02ceef655")
    assert content_type.mime == "multipart/mixed"
    assert content_type.params.get("boundary") == "7a9cbec02ceef655"
    assert str(ContentType.parse('text/plain;charset="utf-8"')) == 'text/plain;charset="utf-8"'
    assert ContentType.parse("application / sdp").mime == "application/sdp"
    for bad in ["application", "*/*", "text/*", "a/b;", "a/b c", "/sdp"]:
        with pytest.raises(RemoteProtocolError, match="Content-Type"):
            ContentType.parse(bad)


def test_media_ranges() -> None:
    ranges = MediaRange.parse_list(["application/sdp", "multipart/*;q=0.5", "*/*;q=0"])
    assert ranges[0].matches("application/SDP") and not ranges[0].matches("text/plain")
    assert ranges[1].matches("multipart/mixed") and ranges[1].q == 0.5
    assert ranges[2].matches("anything/at-all") and ranges[2].q == 0
    assert MediaRange.parse_list([""]) == ()
    with pytest.raises(RemoteProtocolError, match="Accept"):
        MediaRange.parse("*/sdp")


def test_option_tags_and_methods() -> None:
    assert parse_option_tags(["100rel", "timer"], "Require") == ("100rel", "timer")
    assert parse_option_tags([""], "Supported") == ()
    with pytest.raises(RemoteProtocolError, match="Require"):
        parse_option_tags(["100rel", ""], "Require")
    with pytest.raises(RemoteProtocolError, match="Supported"):
        parse_option_tags(["a b"], "Supported")
    assert parse_method_list(["INVITE", "ACK"]) == ("INVITE", "ACK")
