from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError
from gateway.sip.grammar import (
    TOKEN_CHARS,
    UNRESERVED,
    Params,
    SipSyntaxError,
    is_token,
    is_word,
    parse_params,
    percent_decode,
    percent_decode_bytes,
    percent_encode,
    quote,
    quote_if_needed,
    scan_quoted_string,
    skip_ws,
    split_commas,
    unfold,
    unquote,
)


def test_token_and_word_alphabets() -> None:
    assert is_token("INVITE") and is_token("!interesting-Method0123456789_*+`.%indeed'~")
    assert not is_token("") and not is_token("a b") and not is_token("a:b") and not is_token("é")
    assert is_word("a84b4c76e66710@pc33") is False  # '@' separates the two words of a Call-ID
    assert is_word('word`~)(><:\\/"][?}{')
    assert not is_word("a b")


def test_skip_ws_stops_at_non_blank() -> None:
    assert skip_ws("  \t x", 0) == 4
    assert skip_ws("x", 0) == 0
    assert skip_ws("  ", 0) == 2


def test_unfold_replaces_each_fold_with_one_space() -> None:
    assert unfold("a\r\n b") == "a b"
    assert unfold("a  \r\n\t\t b") == "a b"
    assert unfold("0009\r\n  INVITE") == "0009 INVITE"
    assert unfold("no fold") == "no fold"


def test_quoted_strings() -> None:
    assert unquote('"J Rosenberg \\\\\\""') == 'J Rosenberg \\"'
    assert unquote('"BEL:\\\x07 NUL:\\\x00"') == "BEL:\x07 NUL:\x00"
    assert unquote('""') == ""
    assert scan_quoted_string('x"ab"c', 1) == 5
    with pytest.raises(SipSyntaxError, match="unterminated"):
        unquote('"open')
    with pytest.raises(SipSyntaxError, match="after the closing quote"):
        unquote('"a"b')
    with pytest.raises(SipSyntaxError, match="control character"):
        unquote('"a\x01b"')
    with pytest.raises(SipSyntaxError, match="quoted-pair"):
        unquote('"a\\\r"')
    with pytest.raises(SipSyntaxError, match="expected a quoted string"):
        scan_quoted_string("abc", 0)


def test_quote_escapes_and_refuses_line_breaks() -> None:
    assert quote('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert quote_if_needed("alice") == "alice"
    assert quote_if_needed("Alice Smith") == '"Alice Smith"'
    with pytest.raises(LocalProtocolError):
        quote("two\r\nlines")


@given(st.text(alphabet=st.characters(blacklist_characters="\r\n", max_codepoint=0x7F)))
def test_quote_unquote_round_trip(text: str) -> None:
    assert unquote(quote(text)) == text


def test_percent_decoding_keeps_nul_and_odd_octets() -> None:
    assert percent_decode("null-%00-null") == "null-\x00-null"
    assert percent_decode("%00%00") == "\x00\x00"
    assert percent_decode("v%61lue%25%34%31") == "value%41"
    assert percent_decode_bytes("%ff%FE") == b"\xff\xfe"
    assert percent_decode("%C3%A9") == "é"
    assert percent_decode("%ff").encode("utf-8", "surrogateescape") == b"\xff"
    for bad in ("%", "%4", "%zz", "a%g0"):
        with pytest.raises(SipSyntaxError):
            percent_decode(bad)


@given(st.text())
def test_percent_encode_round_trip(text: str) -> None:
    encoded = percent_encode(text, UNRESERVED)
    assert all(char in UNRESERVED or char == "%" or char in "0123456789ABCDEF" for char in encoded)
    assert percent_decode(encoded) == text


def test_split_commas_respects_quotes_and_angle_brackets() -> None:
    assert split_commas("a, b ,c") == ["a", "b", "c"]
    assert split_commas('"Watson, Thomas" <sip:a@b>, <sip:c@d;x=",">') == [
        '"Watson, Thomas" <sip:a@b>',
        '<sip:c@d;x=",">',
    ]
    assert split_commas("<sip:a@b?x=1,2>, z") == ["<sip:a@b?x=1,2>", "z"]
    assert split_commas(";;,,;;,;") == [";;", "", ";;", ";"]
    assert split_commas("single") == ["single"]
    with pytest.raises(SipSyntaxError):
        split_commas('"open, b')
    with pytest.raises(SipSyntaxError):
        split_commas("<sip:a@b, c")


def test_parse_params_with_sws_and_quoted_values() -> None:
    params, stop = parse_params(" ;   tag    = 1918181833n ; x ; q = 0.33")
    assert params == Params((("tag", "1918181833n"), ("x", None), ("q", "0.33")))
    assert stop == len(" ;   tag    = 1918181833n ; x ; q = 0.33")
    params, stop = parse_params(';a="x;y,z";b=[::1], next', stop=",")
    assert params.get("a") == '"x;y,z"' and params.get_text("a") == "x;y,z"
    assert params.get("b") == "[::1]" and stop == len(';a="x;y,z";b=[::1]')


@pytest.mark.parametrize("text", [";;", ";", "; =x", ";a=", ";a b", "x"])
def test_parse_params_rejects_empty_or_malformed(text: str) -> None:
    with pytest.raises(SipSyntaxError):
        parse_params(text)


def test_params_lookup_and_building() -> None:
    params = Params((("Branch", "z9hG4bK1"), ("rport", None)))
    assert params.get("branch") == "z9hG4bK1" and params.get("BRANCH") == "z9hG4bK1"
    assert params.has("RPORT") and params.get("rport") is None
    assert params.get("missing", "default") == "default"
    assert params.names() == ["Branch", "rport"]
    updated = params.with_param("rport", "5060").with_param("received", "192.0.2.1")
    assert updated.render() == ";Branch=z9hG4bK1;rport=5060;received=192.0.2.1"
    assert params.render() == ";Branch=z9hG4bK1;rport"  # unchanged
    assert updated.without("branch").render() == ";rport=5060;received=192.0.2.1"


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=8),
            st.one_of(st.none(), st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=8)),
        ),
        max_size=5,
    )
)
def test_params_render_parse_round_trip(items: list[tuple[str, str | None]]) -> None:
    params = Params(items)
    parsed, stop = parse_params(params.render())
    assert parsed == params and stop == len(params.render())
