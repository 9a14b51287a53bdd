"""Cause mapping: the RFC 3398/4497 tables row by row against the corpus, the Cisco profile against
Cisco's documented defaults and ``show sip-ua map`` samples, overrides, and the Reason header."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.calls import cause_tables
from gateway.calls.causes import (
    CauseLocation,
    CauseMap,
    CauseProfile,
    Reason,
    cause_name,
    q850_cause_from_headers,
    q850_cause_of,
)
from gateway.errors import ConfigError, LocalProtocolError, RemoteProtocolError

RFC3398 = CauseMap()
RFC4497 = CauseMap(CauseProfile.RFC4497)
CISCO = CauseMap(CauseProfile.CISCO)


def rows(corpora: Path, name: str) -> list[dict[str, str]]:
    with (corpora / "rfc3398-isup-sip-mapping" / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- RFC 3398 ---------------------------------------------------------------------------------


def test_rfc3398_cause_to_status_agrees_with_the_rfc_table_row_by_row(corpora: Path) -> None:
    table = rows(corpora, "isup_cause_to_sip_status_rfc3398_s7.2.4.1.csv")
    assert len(table) == 33
    listed: set[int] = set()
    for row in table:
        cause = int(row["q850_cause"])
        listed.add(cause)
        if not row["sip_status"]:
            # Only 16 has no status (BYE/CANCEL); it is absent from the table, so an INVITE that
            # must still be answered gets the default.
            assert cause == 16
            assert cause not in cause_tables.RFC3398_CAUSE_TO_STATUS
            assert RFC3398.status_for_cause(cause) == 500
        elif "w/ diagnostic" in row["cause_text_as_in_rfc"]:
            assert RFC3398.status_for_cause(cause, new_number_known=True) == int(row["sip_status"])
        else:
            assert RFC3398.status_for_cause(cause) == int(row["sip_status"]), row
    assert set(cause_tables.RFC3398_CAUSE_TO_STATUS) == listed - {16}


def test_rfc3398_special_causes() -> None:
    # (+) 21 from the user may become 603; 44 produces no status at all (re-select a circuit).
    assert RFC3398.status_for_cause(21, location=CauseLocation.USER) == 603
    assert RFC3398.status_for_cause(21, location=CauseLocation.PUBLIC_NETWORK_LOCAL_USER) == 403
    assert RFC3398.needs_circuit_reselection(44)
    assert not RFC3398.needs_circuit_reselection(34)
    assert 44 not in cause_tables.RFC3398_CAUSE_TO_STATUS
    # Unlisted causes: 500 (s7.2.4.1).
    assert RFC3398.status_for_cause(100) == 500
    assert RFC3398.status_for_cause(0) == 500


def test_rfc3398_status_to_cause_agrees_with_the_rfc_table_row_by_row(corpora: Path) -> None:
    table = rows(corpora, "sip_status_to_isup_cause_rfc3398_s8.2.6.1.csv")
    assert len(table) == 37
    listed: set[int] = set()
    for row in table:
        status = int(row["sip_status"])
        if row["sip_reason_as_in_rfc"] == "Version Not Supported":
            assert status == 504  # the RFC's typo: Version Not Supported is 505 (RFC 3261)
            status = 505
        listed.add(status)
        if "by Warning" in row["note"]:
            assert status in cause_tables.RFC3398_BY_WARNING
            assert RFC3398.cause_for_status(status) == 31
            assert RFC3398.cause_for_status(status, warning_codes=[305]) == 65
            assert RFC3398.cause_for_status(status, warning_codes=[399]) == 31
        elif not row["q850_cause"]:
            assert status == 487  # "no mapping": the default applies if a cause is needed
            assert status not in cause_tables.RFC3398_STATUS_TO_CAUSE
            assert RFC3398.cause_for_status(status) == 31
        else:
            assert RFC3398.cause_for_status(status) == int(row["q850_cause"]), row
    assert set(cause_tables.RFC3398_STATUS_TO_CAUSE) | cause_tables.RFC3398_BY_WARNING == (
        listed - {487}
    )
    # 504 Server time-out keeps its own row.
    assert RFC3398.cause_for_status(504) == 102


def test_rfc3398_defaults_and_locations() -> None:
    assert RFC3398.cause_for_status(499) == 31
    assert RFC3398.cause_for_status(302) == 31
    assert RFC3398.location_for_status(603) is CauseLocation.USER
    assert RFC3398.location_for_status(486) is CauseLocation.BEYOND_INTERWORKING_POINT
    assert RFC3398.location_for_status(503) is CauseLocation.BEYOND_INTERWORKING_POINT
    with pytest.raises(LocalProtocolError):
        RFC3398.cause_for_status(200)
    with pytest.raises(LocalProtocolError):
        RFC3398.cause_for_status(180)


# --- RFC 4497 ---------------------------------------------------------------------------------


def test_rfc4497_table1_row_by_row(corpora: Path) -> None:
    table = rows(corpora, "rfc4497_qsig_cause_to_sip_table1.csv")
    assert len(table) == 30
    for row in table:
        cause = int(row["q850_cause"])
        statuses = row["sip_status_codes"].split()
        if not statuses:
            assert cause == 16
            assert cause not in cause_tables.RFC4497_CAUSE_TO_STATUS
        elif cause == 21:
            assert statuses == ["603", "403"]
            assert RFC4497.status_for_cause(21, location=CauseLocation.USER) == 603
            assert RFC4497.status_for_cause(21, location=CauseLocation.TRANSIT_NETWORK) == 403
        elif cause == 22:
            assert statuses == ["301", "410"]
            assert RFC4497.status_for_cause(22, new_number_known=True) == 301
            assert RFC4497.status_for_cause(22) == 410
        else:
            assert RFC4497.status_for_cause(cause) == int(statuses[0]), row
    assert set(cause_tables.RFC4497_CAUSE_TO_STATUS) == {int(r["q850_cause"]) for r in table} - {16}
    assert not RFC4497.needs_circuit_reselection(44)


def test_rfc4497_table2_row_by_row(corpora: Path) -> None:
    table = rows(corpora, "rfc4497_sip_to_qsig_cause_table2.csv")
    assert len(table) == 37
    for row in table:
        status = int(row["sip_status"])
        causes = row["q850_causes"].split()
        if not causes:
            assert status == 487
            assert RFC4497.cause_for_status(487) == 31  # NOTE 7: the default
        elif causes == ["65", "31"]:
            assert RFC4497.cause_for_status(status, warning_codes=[304]) == 65
            assert RFC4497.cause_for_status(status) == 31
        else:
            assert RFC4497.cause_for_status(status) == int(causes[0]), row
    assert RFC4497.location_for_status(604) is CauseLocation.USER
    assert RFC4497.location_for_status(404) is CauseLocation.PRIVATE_NETWORK_REMOTE_USER


def test_differences_between_rfc3398_and_rfc4497_match_the_corpus(corpora: Path) -> None:
    for row in rows(corpora, "rfc3398_vs_rfc4497_differences.csv"):
        key = int(row["key"])
        if row["direction"] == "cause->sip":
            in_3398 = cause_tables.RFC3398_CAUSE_TO_STATUS.get(key)
            in_4497 = cause_tables.RFC4497_CAUSE_TO_STATUS.get(key)
            for value, expected in ((in_3398, row["rfc3398"]), (in_4497, row["rfc4497"])):
                if expected == "(not listed)":
                    assert value is None, row
                else:
                    # "403 603": the table holds the first, location 'user' gives 603.
                    assert str(value) == expected.split()[0], row
        else:
            assert key in cause_tables.RFC3398_BY_WARNING and key in cause_tables.RFC4497_BY_WARNING
    # Nothing else differs.
    rfc3398, rfc4497 = cause_tables.RFC3398_CAUSE_TO_STATUS, cause_tables.RFC4497_CAUSE_TO_STATUS
    different = {c for c in set(rfc3398) | set(rfc4497) if rfc3398.get(c) != rfc4497.get(c)}
    assert different == {26, 69, 111, 127}


# --- Cisco ------------------------------------------------------------------------------------

# Rows of the "SIP - Configurable PSTN Cause Code Mapping" default tables, written out here as
# documented (18-20 share "480 Temporarily unavailable"; 405/406 and 413/414 and 481-483 share 127).
CISCO_DOCUMENTED_PSTN_SIP = {
    1: 404, 2: 404, 3: 404, 17: 486, 18: 480, 19: 480, 20: 480, 21: 403, 22: 410, 26: 404,
    27: 404, 28: 484, 29: 501, 31: 404, 34: 503, 38: 503, 41: 503, 42: 503, 47: 503, 55: 403,
    57: 403, 58: 501, 65: 501, 79: 501, 87: 503, 88: 400, 95: 400, 102: 408, 111: 400,
}  # fmt: skip
CISCO_DOCUMENTED_SIP_PSTN = {
    400: 127, 401: 57, 402: 21, 403: 57, 404: 1, 405: 127, 406: 127, 407: 21, 408: 102, 409: 41,
    410: 1, 411: 127, 413: 127, 414: 127, 415: 79, 420: 127, 480: 18, 481: 127, 482: 127,
    483: 127, 484: 28, 485: 1, 486: 17, 487: 127, 488: 127, 500: 41, 501: 79, 502: 38, 503: 63,
    504: 102, 505: 127, 580: 47, 600: 17, 603: 21, 604: 1, 606: 58,
}  # fmt: skip


def test_cisco_profile_is_ios_default_table() -> None:
    for cause in range(1, 128):
        assert CISCO.status_for_cause(cause) == CISCO_DOCUMENTED_PSTN_SIP.get(cause, 500), cause
    for status, cause in CISCO_DOCUMENTED_SIP_PSTN.items():
        assert CISCO.cause_for_status(status) == cause, status
    # Cisco has no RFC refinements: 21 stays 403 even from the user, 44 is just unlisted.
    assert CISCO.status_for_cause(21, location=CauseLocation.USER) == 403
    assert not CISCO.needs_circuit_reselection(44)
    assert CISCO.cause_for_status(606, warning_codes=[304]) == 58


def test_cisco_differs_from_rfc3398_where_documented() -> None:
    differs = {c for c in range(1, 128) if CISCO.status_for_cause(c) != RFC3398.status_for_cause(c)}
    assert differs == {18, 23, 27, 31, 58, 65, 70, 87, 88, 95, 102, 111}
    assert (CISCO.status_for_cause(18), RFC3398.status_for_cause(18)) == (480, 408)
    assert (CISCO.status_for_cause(102), RFC3398.status_for_cause(102)) == (408, 504)


def test_show_sip_ua_map_pstn_sip_matches_the_ios_sample_lines() -> None:
    text = CISCO.render_pstn_sip()
    lines = text.splitlines()
    assert lines[0] == "PSTN-Cause   Configured        Default"
    assert lines[1] == "             SIP-Status       SIP-Status"
    assert len(lines) == 2 + 127
    # Lines of the IOS command reference sample output.
    for sample in (
        "1               404             404",
        "4               500             500",
        "102             408             408",
        "103             500             500",
        "111             400             400",
        "127             500             500",
    ):
        assert sample in lines


def test_show_sip_ua_map_sip_pstn_matches_the_ios_sample_lines() -> None:
    lines = CISCO.render_sip_pstn().splitlines()
    assert lines[:2] == [
        "SIP-Status   Configured        Default",
        "             PSTN-Cause      PSTN-Cause",
    ]
    for sample in (
        "400             127             127",
        "401             57              57",
        "402             21              21",
        "410             1               1",
        "606             58              58",
    ):
        assert sample in lines


# --- overrides ----------------------------------------------------------------------------------


def test_overrides_change_the_configured_column_only() -> None:
    mapping = CauseMap.from_config(
        "rfc3398", {"pstn-cause": {"17": "503", 18: 480}, "sip-status": {503: 34}}
    )
    assert mapping.status_for_cause(17) == 503
    assert mapping.default_status_for_cause(17) == 486
    assert mapping.status_for_cause(18) == 480
    assert mapping.cause_for_status(503) == 34
    assert mapping.default_cause_for_status(503) == 41
    pstn = mapping.render_pstn_sip().splitlines()
    assert "17              503             486" in pstn
    sip = mapping.render_sip_pstn().splitlines()
    assert "503             34              41" in sip
    assert "488             31*             31*" in sip
    assert sip[-2] == "Any other status: 31"
    # A Reason header still wins over an override: it is what the far side saw.
    assert mapping.cause_for_status(503, reasons=Reason.parse("Q.850;cause=42")) == 42


@pytest.mark.parametrize(
    ("profile", "overrides", "key"),
    [
        ("rfc9999", None, "profile"),
        ("rfc3398", {"pstn-cause": {0: 486}}, "pstn-cause.0"),
        ("rfc3398", {"pstn-cause": {128: 486}}, "pstn-cause.128"),
        ("rfc3398", {"pstn-cause": {17: 399}}, "pstn-cause.17"),
        ("rfc3398", {"sip-status": {700: 17}}, "sip-status.700"),
        ("rfc3398", {"sip-status": {"abc": 17}}, "sip-status.abc"),
        ("rfc3398", {"sip-status": {486: True}}, "sip-status.486"),
        ("cisco", {"pstn-causes": {}}, "pstn-causes"),
    ],
)
def test_bad_override_config_names_the_key(
    profile: str, overrides: dict[str, dict[int | str, int | str]] | None, key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        CauseMap.from_config(profile, overrides)
    assert caught.value.key == key


def test_requests_clear_with_16_unless_a_reason_says_otherwise() -> None:
    assert RFC3398.cause_for_request("BYE") == 16
    assert CISCO.cause_for_request("cancel") == 16
    assert RFC3398.cause_for_request("BYE", reasons=Reason.parse("Q.850;cause=17")) == 17
    # A SIP-protocol reason is not a Q.850 cause.
    assert RFC3398.cause_for_request("BYE", reasons=Reason.parse("SIP;cause=200")) == 16
    with pytest.raises(LocalProtocolError):
        RFC3398.cause_for_request("INVITE")


def test_cause_names() -> None:
    assert cause_name(16) == "Normal call clearing"
    assert cause_name(17) == "User busy"
    assert cause_name(200) == "Cause 200"
    for cause in set(cause_tables.RFC3398_CAUSE_TO_STATUS) | {16, 44, 63, 25}:
        assert cause in cause_tables.Q850_CAUSE_NAMES
    assert all(1 <= c <= 127 for c in cause_tables.Q850_CAUSE_NAMES)


# --- RFC 3326 Reason ----------------------------------------------------------------------------


def test_reason_build() -> None:
    assert bytes(Reason.q850(16)) == b'Q.850;cause=16;text="Normal call clearing"'
    assert str(Reason.q850(17, "Busy")) == 'Q.850;cause=17;text="Busy"'
    assert bytes(Reason("Q.850", 41)) == b"Q.850;cause=41"
    quoted = Reason.q850(31, 'say "hi" \\ bye')
    assert bytes(quoted) == b'Q.850;cause=31;text="say \\"hi\\" \\\\ bye"'
    assert Reason.parse(bytes(quoted)) == (quoted,)
    with pytest.raises(LocalProtocolError):
        Reason.q850(128)
    with pytest.raises(LocalProtocolError):
        bytes(Reason.q850(16, "line\r\nInjected: yes"))
    with pytest.raises(LocalProtocolError):
        bytes(Reason("Q 850", 16))


@pytest.mark.parametrize(
    "value",
    [
        'Q.850;cause=16;text="Normal call clearing"',
        'SIP ;cause=200 ;text="Call completed elsewhere"',  # RFC 3326 s2 example spacing
        'Q.850 ;cause=16 ;text="Terminated"',
        "q.850;CAUSE=17",
        'Q.850;cause=16;text="a, b; c"',
        'Q.850;cause=34;text="\xe9t\xe9"',
        "preemption;cause=1;text=UnQuoted;foo;bar=baz",
    ],
)
def test_reason_parse_round_trips_byte_for_byte(value: str) -> None:
    (reason,) = Reason.parse(value)
    assert bytes(reason) == value.encode("utf-8")
    assert Reason.parse(bytes(reason)) == (reason,)


def test_a_changed_copy_of_a_parsed_reason_serializes_canonically() -> None:
    (parsed,) = Reason.parse("q.850 ; cause=17")
    assert bytes(parsed) == b"q.850 ; cause=17"
    assert bytes(dataclasses.replace(parsed, cause=21)) == b"q.850;cause=21"


def test_reason_parse_fields_and_lists() -> None:
    sip, q850 = Reason.parse('SIP;cause=580;text="Precondition Failure", Q.850 ; cause=47')
    assert (sip.protocol, sip.cause, sip.text, sip.is_q850) == (
        "SIP",
        580,
        "Precondition Failure",
        False,
    )
    assert (q850.protocol, q850.cause, q850.text, q850.is_q850) == ("Q.850", 47, None, True)
    assert q850_cause_of([sip, q850]) == 47
    (lower,) = Reason.parse('q.850;Cause=21;TEXT="Call rejected";x-extra=1')
    assert lower.is_q850 and lower.cause == 21 and lower.text == "Call rejected"
    assert lower.extensions == (("x-extra", "1"),)
    (utf8,) = Reason.parse('Q.850;cause=34;text="\xe9t\xe9"'.encode())
    assert utf8.text == "\xe9t\xe9"
    # Forgiving: empty list elements and stray semicolons are skipped.
    assert [r.cause for r in Reason.parse(",Q.850;;cause=17;, ,")] == [17]


@pytest.mark.parametrize(
    "value",
    [
        "",
        " , ",
        "Q.850;cause=abc",
        "Q.850;cause=",
        "Q.850;cause",
        "Q.850;cause=99999999999999999999",
        'Q.850;cause=16;text="unterminated',
        ";cause=16",
        "Q 850;cause=16",
        "Q.850;=16",
        "Q.850;cause=\u0661\u0666",  # Arabic-Indic digits are not DIGIT
    ],
)
def test_reason_garbage_raises_remote_protocol_error(value: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        Reason.parse(value)
    assert caught.value.status_hint is None


def test_q850_cause_from_headers_skips_broken_values() -> None:
    assert q850_cause_from_headers([b"Q.850;cause=x", "SIP;cause=487", "Q.850;cause=19"]) == 19
    assert q850_cause_from_headers(["Q.850;cause=200"]) is None  # not a Q.850 value
    assert q850_cause_from_headers([]) is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.binary(max_size=80)))
def test_reason_parse_only_ever_raises_remote_protocol_error(value: str | bytes) -> None:
    try:
        reasons = Reason.parse(value)
    except RemoteProtocolError:
        return
    for reason in reasons:
        assert Reason.parse(bytes(reason))[0] == reason


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 127), st.text(max_size=40).filter(lambda t: t.isprintable()))
def test_reason_build_parse_round_trip(cause: int, text: str) -> None:
    reason = Reason.q850(cause, text)
    assert Reason.parse(bytes(reason)) == (reason,)
    assert q850_cause_of(Reason.parse(bytes(reason))) == cause
