from __future__ import annotations

import pytest

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sip.headers import (
    COMPACT_FORMS,
    LIST_HEADERS,
    Headers,
    canonical_name,
    display_name,
    lazy_headers,
    parse_header_lines,
)


def sample() -> Headers:
    return parse_header_lines(
        [
            "v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com",
            "Via  : SIP/2.0/TCP c.example.com;branch=z9hG4bK3",
            "Record-Route: <sip:p1.example.com;lr>",
            "record-route: <sip:p2.example.com;lr>",
            "Date: Sat, 13 Nov 2010 23:29:00 GMT",
            'WWW-Authenticate: Digest realm="a, b", nonce="x"',
            "Max-Forwards: 70",
            "X-Custom:  spaced value  ",
        ]
    )


def test_compact_forms_cover_the_iana_registry() -> None:
    assert set(COMPACT_FORMS) == set("abcdefijklmorstuvxy")
    for letter, long_name in COMPACT_FORMS.items():
        assert canonical_name(letter) == canonical_name(letter.upper()) == long_name
        assert canonical_name(long_name) == long_name


def test_canonical_names_are_case_insensitive() -> None:
    for spelling in ("Via", "VIA", "via", "ViA", "v", "V", "Via  "):
        assert canonical_name(spelling) == "via"
    assert canonical_name("Call-ID") == canonical_name("call-id") == canonical_name("i")
    assert canonical_name("X-Odd-Name") == "x-odd-name"
    assert display_name("call-id") == "Call-ID" and display_name("cseq") == "CSeq"
    assert display_name("www-authenticate") == "WWW-Authenticate"
    assert display_name("x-odd-name") == "X-Odd-Name"


def test_lookup_keeps_order_and_raw_names() -> None:
    headers = sample()
    assert headers.count("via") == 2 and headers.count("v") == 2
    assert (
        headers.get("Via") == "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com"
    )
    assert headers.name_at(1) == "Via" and headers.name_at(0) == "v"
    assert headers.get_all("record-route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert headers.get("x-custom") == "spaced value"
    assert headers.get("missing") is None and headers.get("missing", "d") == "d"
    assert "RECORD-ROUTE" in headers and "Route" not in headers and 5 not in headers
    assert headers.indexes("via") == [0, 1]
    assert len(headers) == 8
    assert list(headers)[6] == ("Max-Forwards", "70")


def test_values_split_only_list_headers() -> None:
    headers = sample()
    assert headers.values("via") == [
        "SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
        "SIP/2.0/UDP b.example.com",
        "SIP/2.0/TCP c.example.com;branch=z9hG4bK3",
    ]
    assert "date" not in LIST_HEADERS and "www-authenticate" not in LIST_HEADERS
    assert headers.values("Date") == ["Sat, 13 Nov 2010 23:29:00 GMT"]
    assert headers.values("WWW-Authenticate") == ['Digest realm="a, b", nonce="x"']
    broken = Headers.of([("Contact", '"open, <sip:a@b>')])
    with pytest.raises(RemoteProtocolError, match="Contact"):
        broken.values("contact")


def test_folded_lines_keep_raw_text_and_unfold_values() -> None:
    headers = parse_header_lines(["Subject: first", "  second", "\tthird", "To: <sip:a@b>"])
    assert headers.lines[0] == "Subject: first\r\n  second\r\n\tthird"
    assert headers.get("subject") == "first second third"
    assert headers.render() == "Subject: first\r\n  second\r\n\tthird\r\nTo: <sip:a@b>\r\n"


def test_parse_errors() -> None:
    with pytest.raises(RemoteProtocolError, match="without ':'"):
        parse_header_lines(["Foobar roobar"])
    with pytest.raises(RemoteProtocolError, match="invalid header name"):
        parse_header_lines(["Bad Name: x"])
    with pytest.raises(RemoteProtocolError, match="invalid header name"):
        parse_header_lines([": x"])
    with pytest.raises(RemoteProtocolError, match="continuation"):
        parse_header_lines([" folded: first"])
    # A known name without its colon is not a header.
    with pytest.raises(RemoteProtocolError, match="without ':'"):
        parse_header_lines(["Via"])


def test_building_returns_new_objects_and_keeps_untouched_lines() -> None:
    headers = sample()
    added = headers.with_header("Supported", "timer")
    assert added.lines[-1] == "Supported: timer" and len(headers) == 8
    prepended = headers.prepend("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp")
    assert (
        prepended.lines[0].startswith("Via: SIP/2.0/UDP proxy")
        and prepended.lines[1:] == headers.lines
    )
    top = headers.prepend("Route", "<sip:r@x;lr>")
    assert top.lines[0] == "Route: <sip:r@x;lr>"
    rr = headers.prepend("Record-Route", "<sip:p0.example.com;lr>")
    assert rr.get_all("record-route")[0] == "<sip:p0.example.com;lr>"
    replaced = headers.replace("max-forwards", "69")
    assert replaced.get("Max-Forwards") == "69" and replaced.lines[6] == "max-forwards: 69"
    assert headers.replace("Expires", "60").lines[-1] == "Expires: 60"
    assert headers.without("via").count("via") == 0 and len(headers.without("via")) == 6
    single = Headers.of([("Route", "<sip:a>, <sip:b>"), ("Route", "<sip:c>")])
    assert single.replace("route", "<sip:z>").lines == ("route: <sip:z>",)


def test_without_first_value_pops_the_top_via() -> None:
    headers = sample()
    popped = headers.without_first_value("via")
    assert popped.lines[0] == "v: SIP/2.0/UDP b.example.com"
    popped_twice = popped.without_first_value("via")
    assert popped_twice.get_all("via") == ["SIP/2.0/TCP c.example.com;branch=z9hG4bK3"]
    assert popped_twice.without_first_value("via").count("via") == 0
    assert headers.without_first_value("route") is headers


def test_invalid_new_headers_are_our_bug() -> None:
    headers = Headers()
    with pytest.raises(LocalProtocolError):
        headers.with_header("Bad Name", "x")
    with pytest.raises(LocalProtocolError):
        headers.with_header("X-Ok", "line\r\nInjected: yes")
    with pytest.raises(LocalProtocolError):
        Headers.of([("X", "a\nb")])


def test_typed_cache_survives_unrelated_changes() -> None:
    headers = sample()
    calls: list[str] = []

    def parse_mf(h: Headers) -> int:
        calls.append("mf")
        return int(h.get("max-forwards") or 0)

    assert headers.parsed("max-forwards", parse_mf) == 70
    assert headers.parsed("max-forwards", parse_mf) == 70
    assert calls == ["mf"]
    assert headers.with_header("X-Other", "1").parsed("max-forwards", parse_mf) == 70
    assert calls == ["mf"]
    assert headers.replace("Max-Forwards", "5").parsed("max-forwards", parse_mf) == 5
    assert calls == ["mf", "mf"]


def test_render_equality_and_bytes() -> None:
    headers = Headers.of([("Via", "SIP/2.0/UDP h"), ("l", "0")])
    assert bytes(headers) == b"Via: SIP/2.0/UDP h\r\nl: 0\r\n"
    assert headers == Headers.of([("Via", "SIP/2.0/UDP h"), ("l", "0")])
    assert headers != Headers.of([("Via", "SIP/2.0/UDP h"), ("Content-Length", "0")])
    assert hash(headers) == hash(Headers.of([("Via", "SIP/2.0/UDP h"), ("l", "0")]))
    assert Headers().render() == "" and headers.items() == [("Via", "SIP/2.0/UDP h"), ("l", "0")]


def test_lazy_headers_split_their_lines_on_first_use() -> None:
    text = "INVITE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\nVia : x\r\nX-A:\r\nl: 2\r\n\r\nhi"
    lazy = lazy_headers({"cached": 1}, (text, text.index("\r\n\r\n")))
    assert lazy._cache == {"cached": 1}
    eager = parse_header_lines(["v: SIP/2.0/UDP h", "Via : x", "X-A:", "l: 2"])
    assert lazy.keys == eager.keys == ("via", "via", "x-a", "content-length")
    assert lazy.lines == eager.lines and lazy == eager and lazy.get("X-A") == ""
    assert lazy.with_header("X-B", "1").lines == (*eager.lines, "X-B: 1")
    with pytest.raises(AttributeError):
        lazy.missing  # type: ignore[attr-defined]  # noqa: B018
