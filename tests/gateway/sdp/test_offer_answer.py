"""RFC 3264 offer/answer against realistic peers: Cisco IOS, Asterisk, baresip, SIPp, Linphone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.sdp.description import SessionDescription
from gateway.sdp.offer_answer import (
    DTMF_EVENTS,
    G722,
    G729,
    PCMA,
    PCMU,
    Capabilities,
    Codec,
    MediaNotAcceptable,
    NegotiatedStream,
    answer_direction,
    capabilities_of,
    create_answer,
    create_offer,
    hold_direction,
    process_answer,
)
from gateway.sdp.payload import PayloadFormat

FIXTURES = Path(__file__).parent / "fixtures"
GATEWAY = Capabilities("192.0.2.10", 16384)


def load(name: str) -> SessionDescription:
    return SessionDescription.parse((FIXTURES / name).read_bytes().replace(b"\n", b"\r\n"))


def sdp(*lines: str) -> SessionDescription:
    return SessionDescription.parse(("\r\n".join(lines) + "\r\n").encode())


def text_of(description: SessionDescription) -> list[str]:
    return bytes(description).decode().splitlines()


def audio(stream: NegotiatedStream | None) -> NegotiatedStream:
    assert stream is not None
    return stream


TE = "telephone-event"


# ------------------------------------------------------------------------------- offers


def test_first_offer_lists_our_codecs_with_fixed_numbers() -> None:
    offer = create_offer(GATEWAY, session_id=4242, session_version=7)
    assert text_of(offer) == [
        "v=0",
        "o=gwemu 4242 7 IN IP4 192.0.2.10",
        "s=gwemu",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 16384 RTP/AVP 0 8 18 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:18 G729/8000",
        "a=fmtp:18 annexb=no",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=ptime:20",
        "a=sendrecv",
    ]
    assert SessionDescription.parse(bytes(offer)) == offer


def test_ipv6_offer_and_dynamic_payload_type_assignment() -> None:
    caps = Capabilities(
        "2001:db8::10",
        5004,
        codecs=(Codec("opus", 48000, 2), G722, Codec("iLBC", fmtp="mode=30")),
        telephone_event=Codec(TE, fmtp="0-16"),
        ptime=None,
        direction="recvonly",
    )
    lines = text_of(create_offer(caps, session_id=1))
    assert "o=gwemu 1 0 IN IP6 2001:db8::10" in lines
    assert "c=IN IP6 2001:db8::10" in lines
    assert "m=audio 5004 RTP/AVP 96 9 97 98" in lines
    assert "a=rtpmap:96 opus/48000/2" in lines and "a=fmtp:97 mode=30" in lines
    assert "a=rtpmap:98 telephone-event/8000" in lines and "a=fmtp:98 0-16" in lines
    assert not any(line.startswith("a=ptime") for line in lines)
    assert lines[-1] == "a=recvonly"


def test_preferred_payload_type_clashing_with_another_codec_gets_a_free_one() -> None:
    caps = Capabilities(
        "192.0.2.10", 4000, codecs=(Codec("AMR", payload_type=101),), telephone_event=DTMF_EVENTS
    )
    offer = create_offer(caps, session_id=1)
    assert offer.media[0].formats == ("101", "96")
    too_many = tuple(Codec(f"X{n}") for n in range(33))
    with pytest.raises(LocalProtocolError, match="dynamic payload types"):
        create_offer(dataclasses.replace(caps, codecs=too_many), session_id=1)


def test_reoffer_keeps_session_id_and_bumps_the_version_only_when_changed() -> None:
    offer = create_offer(GATEWAY, session_id=4242, session_version=7)
    # RFC 3264 §8: an unchanged re-offer (a session refresh) carries the same version.
    assert create_offer(GATEWAY, previous=offer) is offer
    held = create_offer(GATEWAY, previous=offer, hold=True)
    assert str(held.origin) == "gwemu 4242 8 IN IP4 192.0.2.10"
    assert held.media[0].direction == "sendonly"
    assert text_of(held)[5:-1] == text_of(offer)[5:-1]
    resumed = create_offer(GATEWAY, previous=held)
    assert resumed.origin.session_version == 9
    assert resumed.media[0].direction == "sendrecv"
    moved = create_offer(dataclasses.replace(GATEWAY, port=16500), previous=resumed)
    assert moved.origin.session_version == 10 and moved.media[0].port == 16500


def test_reoffer_keeps_payload_numbers_of_the_session() -> None:
    # We answered an offer that used 96 for telephone-event; our later offer keeps 96.
    offer = load("polycom-g729-annexb-offer.sdp")
    answer = create_answer(offer, GATEWAY, session_id=5).description
    reoffer = create_offer(GATEWAY, previous=answer)
    assert reoffer.media[0].formats == ("0", "8", "18", "96")
    assert reoffer.origin.session_version == 1


def test_reoffer_after_rejecting_video_keeps_the_video_line_disabled() -> None:
    offer = load("linphone-audio-video-offer.sdp")
    answer = create_answer(offer, GATEWAY, session_id=77).description
    reoffer = create_offer(GATEWAY, previous=answer, hold=True)
    assert [(m.media, m.port) for m in reoffer.media] == [("audio", 16384), ("video", 0)]
    assert reoffer.media[1].formats == ("96", "97")
    assert reoffer.times == offer.times


def test_offer_misuse_is_a_local_error() -> None:
    offer = create_offer(GATEWAY, session_id=1)
    with pytest.raises(LocalProtocolError, match="session_id for the first SDP"):
        create_offer(GATEWAY)
    with pytest.raises(LocalProtocolError, match="session_id for the first SDP"):
        create_offer(GATEWAY, session_id=2, previous=offer)
    for bad in (
        {"port": 0},
        {"address": ""},
        {"codecs": ()},
        {"codecs": (PCMU, DTMF_EVENTS)},
        {"telephone_event": PCMU},
        {"ptime": 0},
        {"direction": "both"},
    ):
        with pytest.raises(LocalProtocolError):
            dataclasses.replace(GATEWAY, **bad)


# ------------------------------------------------------------------------------- answers


def test_asterisk_pcmu_pcma_offer_to_a_pcma_only_answerer() -> None:
    offer = load("asterisk-offer.sdp")
    caps = dataclasses.replace(GATEWAY, codecs=(PCMA,))
    answer = create_answer(offer, caps, session_id=900, session_version=1)
    assert text_of(answer.description) == [
        "v=0",
        "o=gwemu 900 1 IN IP4 192.0.2.10",
        "s=gwemu",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 16384 RTP/AVP 8 101",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",  # Asterisk offered 0-16, we do 0-15
        "a=ptime:20",
        "a=sendrecv",
    ]
    stream = audio(answer.negotiated.audio)
    assert stream.send_format == PayloadFormat(8, "PCMA", 8000)
    assert stream.receive_formats == (PayloadFormat(8, "PCMA", 8000),)
    assert stream.send_telephone_event == PayloadFormat(101, TE, 8000, 1, "0-15")
    assert stream.receive_telephone_event == PayloadFormat(101, TE, 8000, 1, "0-15")
    assert stream.remote_rtp == ("198.51.100.7", 10044)
    assert stream.remote_rtcp == ("198.51.100.7", 10045)
    assert (stream.local_port, stream.ptime, stream.direction) == (16384, 20, "sendrecv")
    assert stream.may_send and stream.must_receive
    # The answer we built is a valid answer by our own checker, with the same outcome.
    assert process_answer(offer, answer.description).audio is not None


def test_telephone_event_0_16_when_we_support_it() -> None:
    caps = dataclasses.replace(GATEWAY, telephone_event=Codec(TE, fmtp="0-16"))
    answer = create_answer(load("asterisk-offer.sdp"), caps, session_id=1)
    assert "a=fmtp:101 0-16" in text_of(answer.description)


def test_offerer_order_by_default_answerer_order_on_request() -> None:
    offer = load("cisco-ios-offer.sdp")  # G729, PCMU, PCMA, telephone-event, CN
    default = create_answer(offer, GATEWAY, session_id=1).description
    assert default.media[0].formats == ("18", "0", "8", "101")  # CN 19 dropped
    own = dataclasses.replace(GATEWAY, prefer_own_order=True)
    assert create_answer(offer, own, session_id=1).description.media[0].formats == (
        "0",
        "8",
        "18",
        "101",
    )
    single = dataclasses.replace(GATEWAY, single_codec=True)
    assert create_answer(offer, single, session_id=1).description.media[0].formats == (
        "18",
        "101",
    )
    stream = audio(create_answer(offer, GATEWAY, session_id=1).negotiated.audio)
    assert stream.send_format == PayloadFormat(18, "G729", 8000, 1, "annexb=no")
    assert stream.remote_rtp == ("192.0.2.45", 17426)


def test_g729_annexb_yes_offer_against_our_annexb_no() -> None:
    offer = load("polycom-g729-annexb-offer.sdp")
    answer = create_answer(offer, GATEWAY, session_id=1)
    lines = text_of(answer.description)
    assert "m=audio 16384 RTP/AVP 18 96" in lines
    assert "a=fmtp:18 annexb=no" in lines
    stream = audio(answer.negotiated.audio)
    assert stream.send_format == PayloadFormat(18, "G729", 8000, 1, "annexb=no")
    # With Annex B enabled locally both sides agree on it.
    annex_b = dataclasses.replace(GATEWAY, codecs=(Codec("G729"),))
    agreed = create_answer(offer, annex_b, session_id=1)
    assert not any(line.startswith("a=fmtp:18") for line in text_of(agreed.description))
    assert audio(agreed.negotiated.audio).send_format == PayloadFormat(
        18, "G729", 8000, 1, "annexb=yes"
    )


def test_dynamic_telephone_event_number_of_the_offer_is_kept() -> None:
    offer = load("polycom-g729-annexb-offer.sdp")  # telephone-event is 96, no fmtp
    answer = create_answer(offer, GATEWAY, session_id=1)
    lines = text_of(answer.description)
    assert "a=rtpmap:96 telephone-event/8000" in lines
    assert "a=fmtp:96 0-15" in lines  # no events list means 0-15 (RFC 4733)
    stream = audio(answer.negotiated.audio)
    assert stream.send_telephone_event == PayloadFormat(96, TE, 8000, 1, "0-15")
    assert stream.receive_telephone_event == PayloadFormat(96, TE, 8000, 1, "0-15")


def test_answerer_renumbering_telephone_event_is_followed() -> None:
    offer = create_offer(GATEWAY, session_id=1)
    answer = sdp(
        "v=0", "o=peer 5 5 IN IP4 192.0.2.99", "s=-", "c=IN IP4 192.0.2.99", "t=0 0",
        "m=audio 7000 RTP/AVP 0 97", "a=rtpmap:97 telephone-event/8000", "a=fmtp:97 0-11",
    )  # fmt: skip
    stream = audio(process_answer(offer, answer).audio)
    assert stream.send_format == PayloadFormat(0, "PCMU", 8000)
    assert stream.send_telephone_event == PayloadFormat(97, TE, 8000, 1, "0-11")
    assert stream.receive_telephone_event == PayloadFormat(101, TE, 8000, 1, "0-11")
    assert stream.receive_formats == (PayloadFormat(0, "PCMU", 8000),)


def test_answer_reusing_offer_numbers_without_rtpmap_is_understood() -> None:
    offer = create_offer(GATEWAY, session_id=1)
    answer = sdp(
        "v=0", "o=peer 5 5 IN IP4 192.0.2.99", "s=-", "c=IN IP4 192.0.2.99", "t=0 0",
        "m=audio 7000 RTP/AVP 18 101",
    )  # fmt: skip
    stream = audio(process_answer(offer, answer).audio)
    # No fmtp in the answer means Annex B allowed there; we said no, so no.
    assert stream.send_format == PayloadFormat(18, "G729", 8000, 1, "annexb=no")
    assert stream.send_telephone_event == PayloadFormat(101, TE, 8000, 1, "0-15")


def test_linphone_video_rejected_audio_accepted() -> None:
    offer = load("linphone-audio-video-offer.sdp")
    answer = create_answer(offer, GATEWAY, session_id=1)
    audio_answer, video_answer = answer.description.media
    # Offerer order among common codecs; telephone-event at the voice codec's 8000 Hz (PT 100).
    assert audio_answer.formats == ("0", "8", "18", "100")
    assert audio_answer.fmtp(18) == "annexb=no"  # the offer said annexb=yes
    assert (video_answer.media, video_answer.port, video_answer.formats) == (
        "video",
        0,
        ("96", "97"),
    )
    assert answer.description.times == offer.times
    streams = answer.negotiated.streams
    assert [s.accepted for s in streams] == [True, False]
    assert not streams[1].may_send and not streams[1].must_receive


def test_offered_port_zero_stream_stays_rejected() -> None:
    offer = load("every-field.sdp")  # audio L16/PCMU, application port 0, image udptl
    answer = create_answer(offer, GATEWAY, session_id=1)
    ports = [(m.media, m.port) for m in answer.description.media]
    assert ports == [("audio", 16384), ("application", 0), ("image", 0)]
    assert answer.description.media[0].formats == ("0",)


def test_only_video_offered_is_488_with_warning_304() -> None:
    with pytest.raises(MediaNotAcceptable) as caught:
        create_answer(load("video-only-offer.sdp"), GATEWAY, session_id=1)
    error = caught.value
    assert isinstance(error, RemoteProtocolError)
    assert error.status_hint == 488
    assert error.warning_code == 304
    assert "video stream not supported" in error.reason
    assert error.warning_header("gw1.example.net") == (
        '304 gw1.example.net "Media type not available"'
    )
    assert error.extra_headers == (("Warning", '304 gwemu "Media type not available"'),)


def test_no_common_codec_is_488_with_warning_305() -> None:
    offer = load("baresip-offer.sdp")
    caps = dataclasses.replace(GATEWAY, codecs=(G729,))
    with pytest.raises(MediaNotAcceptable) as caught:
        create_answer(offer, caps, session_id=1)
    assert caught.value.reason == "no common codec: offered G722/PCMU/PCMA, local G729"
    assert caught.value.warning_code == 305
    only_g722 = sdp(
        "v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", "c=IN IP4 192.0.2.5", "t=0 0",
        "m=audio 4000 RTP/AVP 9 101", "a=rtpmap:101 telephone-event/8000",
        "m=video 4002 RTP/AVP 31",
    )  # fmt: skip
    pcm = dataclasses.replace(GATEWAY, codecs=(PCMU, PCMA))
    with pytest.raises(MediaNotAcceptable) as caught:
        create_answer(only_g722, pcm, session_id=1)
    assert caught.value.reason.startswith("no common codec: offered G722, local PCMU/PCMA")
    assert caught.value.warning_code == 305


def test_unsupported_transport_and_addresses() -> None:
    def offer(proto: str, connection: str) -> SessionDescription:
        return sdp(
            "v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", f"c={connection}", "t=0 0",
            f"m=audio 4000 {proto} 0",
        )  # fmt: skip

    cases = [
        (
            "RTP/SAVP",
            "IN IP4 192.0.2.5",
            302,
            "audio over RTP/SAVP not supported (gwemu uses RTP/AVP)",
        ),
        ("RTP/AVP", "ATM NSAP 47.0005", 300, "network type ATM not supported"),
        ("RTP/AVP", "IN E164 +15550100", 301, "address type E164 not supported"),
    ]
    for proto, connection, code, reason in cases:
        with pytest.raises(MediaNotAcceptable) as caught:
            create_answer(offer(proto, connection), GATEWAY, session_id=1)
        assert (caught.value.warning_code, caught.value.reason) == (code, reason)
    avpf = create_answer(offer("RTP/AVPF", "IN IP4 192.0.2.5"), GATEWAY, session_id=1)
    assert avpf.description.media[0].proto == "RTP/AVPF"


def test_accepted_stream_without_any_connection_is_a_400() -> None:
    offer = sdp("v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0")
    with pytest.raises(RemoteProtocolError, match="no c= line") as caught:
        create_answer(offer, GATEWAY, session_id=1)
    assert caught.value.status_hint == 400


def test_offer_without_media_or_with_everything_disabled_is_answered_in_kind() -> None:
    bare = sdp("v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", "c=IN IP4 192.0.2.5", "t=0 0")
    answer = create_answer(bare, GATEWAY, session_id=1)
    assert answer.description.media == () and answer.negotiated.audio is None
    disabled = sdp(
        "v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", "c=IN IP4 192.0.2.5", "t=0 0",
        "m=audio 0 RTP/AVP 0",
    )  # fmt: skip
    answer = create_answer(disabled, GATEWAY, session_id=1)
    assert answer.description.media[0].port == 0 and answer.negotiated.audio is None


def test_second_audio_stream_is_rejected() -> None:
    offer = sdp(
        "v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", "c=IN IP4 192.0.2.5", "t=0 0",
        "m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 8",
    )  # fmt: skip
    answer = create_answer(offer, GATEWAY, session_id=1)
    assert [m.port for m in answer.description.media] == [16384, 0]


def test_ipv6_offer_from_asterisk() -> None:
    offer = load("ipv6-asterisk-offer.sdp")
    caps = dataclasses.replace(GATEWAY, address="2001:db8::10")
    answer = create_answer(offer, caps, session_id=1)
    lines = text_of(answer.description)
    assert "c=IN IP6 2001:db8::10" in lines and "o=gwemu 1 0 IN IP6 2001:db8::10" in lines
    stream = audio(answer.negotiated.audio)
    assert stream.remote_rtp == ("2001:db8:0:1::7", 13570)
    assert stream.remote_rtcp == ("2001:db8:0:1::8", 13575)  # RFC 3605 a=rtcp
    assert stream.ptime == 30
    assert stream.send_format == PayloadFormat(8, "PCMA", 8000)


def test_sipp_default_uac_offer() -> None:
    answer = create_answer(load("sipp-uac-offer.sdp"), GATEWAY, session_id=1)
    assert answer.description.media[0].formats == ("0",)  # SIPp offers no telephone-event
    stream = audio(answer.negotiated.audio)
    assert stream.send_telephone_event is None and stream.receive_telephone_event is None
    no_dtmf = dataclasses.replace(GATEWAY, telephone_event=None)
    answer = create_answer(load("asterisk-offer.sdp"), no_dtmf, session_id=1)
    assert answer.description.media[0].formats == ("0", "8")


# ------------------------------------------------------------------------------- directions


@pytest.mark.parametrize(
    ("offered", "wanted", "answered"),
    [
        ("sendrecv", "sendrecv", "sendrecv"),
        ("sendonly", "sendrecv", "recvonly"),
        ("recvonly", "sendrecv", "sendonly"),
        ("inactive", "sendrecv", "inactive"),
        ("sendonly", "sendonly", "inactive"),
        ("sendrecv", "recvonly", "recvonly"),
    ],
)
def test_answer_direction(offered: str, wanted: str, answered: str) -> None:
    assert answer_direction(offered, wanted) == answered  # type: ignore[arg-type]


def test_hold_direction() -> None:
    assert [hold_direction(d) for d in ("sendrecv", "sendonly", "recvonly", "inactive")] == [
        "sendonly",
        "sendonly",
        "inactive",
        "inactive",
    ]


def test_held_by_the_peer_with_sendonly_and_resumed() -> None:
    offer = load("asterisk-offer.sdp")
    first = create_answer(offer, GATEWAY, session_id=50, session_version=1).description
    hold = offer.replace_media(0, offer.media[0].with_direction("sendonly"))
    hold = hold.with_origin(dataclasses.replace(hold.origin, session_version=1700000001))
    held = create_answer(hold, GATEWAY, previous=first)
    assert held.description.media[0].direction == "recvonly"
    assert held.description.origin.session_version == 2
    stream = audio(held.negotiated.audio)
    assert (stream.direction, stream.may_send, stream.must_receive) == ("recvonly", False, True)
    resumed = create_answer(offer, GATEWAY, previous=held.description)
    assert resumed.description.origin.session_version == 3
    assert audio(resumed.negotiated.audio).may_send


def test_inactive_offer_is_answered_inactive() -> None:
    offer = load("asterisk-offer.sdp")
    inactive = offer.replace_media(0, offer.media[0].with_direction("inactive"))
    answer = create_answer(inactive, GATEWAY, session_id=1)
    assert answer.description.media[0].direction == "inactive"
    stream = audio(answer.negotiated.audio)
    assert not stream.may_send and not stream.must_receive


def test_session_level_direction_applies_to_media() -> None:
    offer = sdp(
        "v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", "c=IN IP4 192.0.2.5", "t=0 0",
        "a=sendonly", "m=audio 4000 RTP/AVP 0",
    )  # fmt: skip
    assert create_answer(offer, GATEWAY, session_id=1).description.media[0].direction == "recvonly"


def test_legacy_hold_with_connection_0_0_0_0() -> None:
    reoffer = load("rfc2543-hold-reoffer.sdp")
    answer = create_answer(reoffer, GATEWAY, session_id=1)
    # RFC 3264 §8.4: nothing may be sent to 0.0.0.0; we answer as to a sendonly offer.
    assert answer.description.media[0].direction == "recvonly"
    stream = audio(answer.negotiated.audio)
    assert stream.remote_rtp is None and stream.remote_rtcp is None
    assert not stream.may_send and stream.must_receive


def test_our_hold_answered_recvonly() -> None:
    offer = create_offer(GATEWAY, session_id=1)
    held = create_offer(GATEWAY, previous=offer, hold=True)
    peer = Capabilities("192.0.2.80", 30000)
    peer_answer = create_answer(held, peer, session_id=9)
    assert peer_answer.description.media[0].direction == "recvonly"
    ours = audio(process_answer(held, peer_answer.description).audio)
    assert (ours.direction, ours.may_send, ours.must_receive) == ("sendonly", True, False)
    theirs = audio(peer_answer.negotiated.audio)
    assert (theirs.may_send, theirs.must_receive) == (False, True)


def test_peer_answering_sendrecv_to_our_hold_still_gets_no_rtp_from_us_to_receive() -> None:
    held = create_offer(GATEWAY, session_id=1, hold=True)
    answer = sdp(
        "v=0", "o=peer 5 5 IN IP4 192.0.2.99", "s=-", "c=IN IP4 192.0.2.99", "t=0 0",
        "m=audio 7000 RTP/AVP 0", "a=sendrecv",
    )  # fmt: skip
    stream = audio(process_answer(held, answer).audio)
    assert (stream.direction, stream.must_receive) == ("sendonly", False)


def test_answer_with_connection_0_0_0_0_means_do_not_send() -> None:
    offer = create_offer(GATEWAY, session_id=1)
    answer = sdp(
        "v=0", "o=peer 5 5 IN IP4 0.0.0.0", "s=-", "c=IN IP4 0.0.0.0", "t=0 0",
        "m=audio 7000 RTP/AVP 0",
    )  # fmt: skip
    stream = audio(process_answer(offer, answer).audio)
    assert not stream.may_send and stream.must_receive


# ------------------------------------------------------------------------------- bad answers


def bad_answer(*media: str, connection: str = "c=IN IP4 192.0.2.99") -> SessionDescription:
    return sdp("v=0", "o=peer 5 5 IN IP4 192.0.2.99", "s=-", connection, "t=0 0", *media)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (bad_answer(), "SDP answer has 0 m= line(s), the offer had 1"),
        (
            bad_answer("m=audio 7000 RTP/AVP 0", "m=video 0 RTP/AVP 31"),
            "SDP answer has 2 m= line(s), the offer had 1",
        ),
        (bad_answer("m=video 7000 RTP/AVP 31"), "m= line 1 is video, the offer's is audio"),
        (bad_answer("m=audio 7000 RTP/SAVP 0"), "m= line 1 uses RTP/SAVP, the offer RTP/AVP"),
        (bad_answer("m=audio 7000 RTP/AVP 9"), "m= line 1 lists 9 (G722/8000) which was not"),
        (
            bad_answer("m=audio 7000 RTP/AVP 0 100"),
            "m= line 1 lists payload type 100 without rtpmap, which was not offered",
        ),
        (bad_answer("m=audio 7000 RTP/AVP 101"), "accepts audio without any voice codec"),
        (bad_answer("m=audio 7000 RTP/AVP 0", connection="b=AS:64"), "has no c= line"),
    ],
)
def test_answers_that_do_not_fit_the_offer(answer: SessionDescription, message: str) -> None:
    offer = create_offer(GATEWAY, session_id=1)
    with pytest.raises(RemoteProtocolError) as caught:
        process_answer(offer, answer)
    assert message in caught.value.reason
    assert caught.value.status_hint in (400, 488)


def test_answer_accepting_a_disabled_stream_is_refused() -> None:
    offer = create_offer(GATEWAY, previous=create_answer(
        load("linphone-audio-video-offer.sdp"), GATEWAY, session_id=1
    ).description)  # fmt: skip
    answer = bad_answer(
        "m=audio 7000 RTP/AVP 0", "m=video 7002 RTP/AVP 96", "a=rtpmap:96 VP8/90000"
    )
    with pytest.raises(RemoteProtocolError, match="accepts a stream the offer disabled"):
        process_answer(offer, answer)
    rejected = bad_answer("m=audio 0 RTP/AVP 0", "m=video 0 RTP/AVP 96")
    assert process_answer(offer, rejected).audio is None


# ------------------------------------------------------------------------------- flows


def test_delayed_offer_we_offer_in_200_ok_and_the_answer_comes_in_the_ack() -> None:
    # INVITE without SDP -> gwemu (UAS) offers in its 200 OK; the caller answers in the ACK.
    uas = Capabilities("192.0.2.10", 16384, codecs=(G729, PCMU))
    offer_in_200 = create_offer(uas, session_id=3001, session_version=3001)
    caller = Capabilities("192.0.2.20", 20000, codecs=(PCMU, PCMA))
    ack = create_answer(offer_in_200, caller, session_id=8)
    negotiated_uas = audio(process_answer(offer_in_200, ack.description).audio)
    negotiated_caller = audio(ack.negotiated.audio)
    assert (
        negotiated_uas.send_format
        == negotiated_caller.send_format
        == PayloadFormat(0, "PCMU", 8000)
    )
    assert negotiated_uas.remote_rtp == ("192.0.2.20", 20000)
    assert negotiated_caller.remote_rtp == ("192.0.2.10", 16384)
    assert negotiated_uas.send_telephone_event == negotiated_caller.receive_telephone_event


def test_b2bua_flow_4_codec_intersection_and_crossed_connection_lines() -> None:
    """REFERENCE_FLOWS.md flow 4: phone offers PCMU+G729, GW-B (G.729 only) offers in 183."""
    phone = Capabilities("198.51.100.50", 40000, codecs=(PCMU, G729))
    phone_offer = create_offer(phone, session_id=111)
    gw_b = Capabilities("192.0.2.30", 18000, codecs=(G729,))
    gw_b_offer = create_offer(gw_b, session_id=222)  # in the 183/200 to the trunk INVITE
    # To the phone: what GW-B offered, intersected with the phone's offer, c= naming GW-B.
    to_phone = create_answer(phone_offer, capabilities_of(gw_b_offer), session_id=333)
    assert to_phone.description.connection == gw_b_offer.connection
    assert to_phone.description.media[0].formats == ("18", "101")
    # To GW-B in the ACK: what the phone offered, c= naming the phone.
    to_gw_b = create_answer(gw_b_offer, capabilities_of(phone_offer), session_id=444)
    assert to_gw_b.description.connection == phone_offer.connection
    gw_side = audio(process_answer(gw_b_offer, to_gw_b.description).audio)
    phone_side = audio(process_answer(phone_offer, to_phone.description).audio)
    assert gw_side.remote_rtp == ("198.51.100.50", 40000)
    assert phone_side.remote_rtp == ("192.0.2.30", 18000)
    assert (
        gw_side.send_format
        == phone_side.send_format
        == PayloadFormat(18, "G729", 8000, 1, "annexb=no")
    )


def test_capabilities_of_needs_an_audio_stream() -> None:
    with pytest.raises(LocalProtocolError, match="no audio stream"):
        capabilities_of(load("video-only-offer.sdp"))
    caps = capabilities_of(load("ipv6-asterisk-offer.sdp"))
    assert (caps.address, caps.port, caps.ptime) == ("2001:db8:0:1::7", 13570, 30)
    assert [c.encoding_name for c in caps.codecs] == ["PCMA", "PCMU"]
    assert caps.telephone_event == Codec(TE, 8000, 1, "0-16", 96)
    # Linphone offers telephone-event at 48, 16 and 8 kHz: the 8 kHz one goes with G.711.
    linphone = capabilities_of(load("linphone-audio-video-offer.sdp"))
    assert linphone.codecs[0] == Codec("opus", 48000, 2, "useinbandfec=1", 96)
    assert linphone.telephone_event == Codec(TE, 48000, 1, None, 101)
    pcm_only = SessionDescription.parse(
        bytes(load("linphone-audio-video-offer.sdp")).replace(b" 96 97 98 0", b" 0")
    )
    assert capabilities_of(pcm_only).telephone_event == Codec(TE, 8000, 1, None, 100)
    with pytest.raises(LocalProtocolError, match="telephone_event fmtp"):
        dataclasses.replace(GATEWAY, telephone_event=Codec(TE, fmtp="0-x"))


# ------------------------------------------------------------------------------- properties

AUDIO_CODECS = [PCMU, PCMA, G729, G722, Codec("G729", fmtp="annexb=yes"), Codec("GSM")]


@st.composite
def capabilities(draw: st.DrawFn, address: str) -> Capabilities:
    codecs = draw(
        st.lists(
            st.sampled_from(AUDIO_CODECS),
            min_size=1,
            max_size=4,
            unique_by=lambda c: c.encoding_name,
        )
    )
    events = draw(st.none() | st.sampled_from(["0-15", "0-16", "0-11", "16"]))
    return Capabilities(
        address,
        draw(st.integers(1024, 65534)),
        codecs=tuple(codecs),
        telephone_event=None if events is None else Codec(TE, fmtp=events),
        ptime=draw(st.sampled_from([None, 10, 20, 30])),
        direction=draw(st.sampled_from(["sendrecv", "sendonly", "recvonly", "inactive"])),
        prefer_own_order=draw(st.booleans()),
        single_codec=draw(st.booleans()),
    )


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(capabilities("192.0.2.10"), capabilities("2001:db8::20"), st.booleans())
def test_both_ends_agree_on_what_was_negotiated(
    offerer: Capabilities, answerer: Capabilities, hold: bool
) -> None:
    offer = create_offer(offerer, session_id=1, hold=hold)
    try:
        answer = create_answer(offer, answerer, session_id=2)
    except MediaNotAcceptable as exc:
        assert exc.warning_code == 305
        assert not {c.encoding_name for c in offerer.codecs} & {
            c.encoding_name for c in answerer.codecs
        }
        return
    ours = audio(process_answer(offer, answer.description).audio)
    theirs = audio(answer.negotiated.audio)
    assert ours.send_format is not None and theirs.send_format is not None
    # Each side sends a codec the other listed for receiving, under the receiver's number.
    assert ours.send_format.payload_type in {f.payload_type for f in theirs.receive_formats}
    assert theirs.send_format.payload_type in {f.payload_type for f in ours.receive_formats}
    assert ours.may_send == theirs.must_receive
    assert theirs.may_send == ours.must_receive
    assert (ours.send_telephone_event is None) == (theirs.receive_telephone_event is None)
    if ours.send_telephone_event is not None:
        assert ours.send_telephone_event.fmtp == theirs.receive_telephone_event.fmtp  # type: ignore[union-attr]
    assert SessionDescription.parse(bytes(answer.description)) == answer.description


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(["0", "8", "9", "18", "13", "96", "97", "101"]),
        min_size=1,
        max_size=6,
        unique=True,
    ),
    st.lists(
        st.sampled_from(
            [
                "a=rtpmap:96 telephone-event/8000",
                "a=rtpmap:97 G729/8000",
                "a=fmtp:18 annexb=yes",
                "a=fmtp:96 0-15",
                "a=fmtp:96 junk",
                "a=rtpmap:101 PCMA/8000",
                "a=sendonly",
                "a=ptime:30",
                "a=rtcp:9",
                "a=fmtp:101 0-16",
            ]
        ),
        unique_by=lambda attribute: attribute.split(" ")[0],
    ),
    st.sampled_from(["c=IN IP4 192.0.2.5", "c=IN IP4 0.0.0.0", "c=IN IP6 ::1", "b=AS:64"]),
)
def test_any_offer_is_answered_or_refused_with_a_protocol_error(
    formats: list[str], attributes: list[str], connection: str
) -> None:
    offer = sdp(
        "v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", connection, "t=0 0",
        f"m=audio 4000 RTP/AVP {' '.join(formats)}", *attributes,
    )  # fmt: skip
    try:
        answer = create_answer(offer, GATEWAY, session_id=1)
    except RemoteProtocolError as exc:
        assert exc.status_hint in (400, 488)
        return
    # Whatever we answer passes our own answer checks.
    assert process_answer(offer, answer.description).audio is not None
