"""Per-frame cost of gwemu's codec and signal work, against the C ``audioop`` baseline.

One 20 ms frame (160 samples) of speech-like audio goes through each operation; the table gives
microseconds per frame and, for G.711, gwemu's speed as a fraction of calling ``audioop``
directly (1.00 = the same; the issue asks for >= 0.90).  The mu <-> A rows compare gwemu's
direct table translation with the only thing ``audioop`` offers: decode to linear and re-encode.
Rounds alternate between gwemu and baseline so machine load hits both alike; the best round
counts.

    python scripts/bench_codecs.py [--rounds 7] [--number 20000]
"""

from __future__ import annotations

import argparse
import math
import sys
import timeit
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.media import g711, g729
from gateway.media.audio import FRAME_BYTES, SAMPLE_WIDTH, audioop
from gateway.media.codecs import PCMA, PCMU, transcoder
from gateway.media.dtmf_inband import DtmfDetector, dtmf_pcm
from gateway.media.plc import PacketLossConcealer
from gateway.media.tones import ToneDetector, ToneGenerator, tone_plan


def speech_like_frame() -> bytes:
    values = []
    for n in range(160):
        phase = 2 * math.pi * 130 * n / 8000
        values.append(round(6000 * sum(math.sin(k * phase + k) / k for k in range(1, 20))))
    return b"".join(max(-32768, min(32767, v)).to_bytes(2, "little", signed=True) for v in values)


@dataclass
class Row:
    name: str
    ours: str
    baseline: str | None
    number: int


def best_us(statement: str, scope: dict[str, object], number: int) -> float:
    return timeit.timeit(statement, globals=scope, number=number) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000, help="calls per round (G.711)")
    args = parser.parse_args()

    frame = speech_like_frame()
    ulaw, alaw = g711.ulaw_encode(frame), g711.alaw_encode(frame)
    dtmf_frames = [
        dtmf_pcm("5", tone_ms=200)[i : i + FRAME_BYTES] for i in range(0, 320 * 10, FRAME_BYTES)
    ]
    dial = ToneGenerator.for_tone(tone_plan("us")["dial"])
    scope: dict[str, object] = {
        "audioop": audioop,
        "g711": g711,
        "frame": frame,
        "ulaw": ulaw,
        "alaw": alaw,
        "W": SAMPLE_WIDTH,
        "dtmf": DtmfDetector(),
        "dtmf_frame": dtmf_frames[3],
        "dial": dial,
        "dial_frame": dial.read_frame(),
        "dial_detector": ToneDetector((350, 440)),
        "plc": PacketLossConcealer(),
        "pcmu_decoder": PCMU.new_decoder(),
        "pcmu_to_pcma": transcoder(PCMU, PCMA),
    }
    number = args.number
    rows = [
        Row("mu-law encode", "g711.ulaw_encode(frame)", "audioop.lin2ulaw(frame, W)", number),
        Row("mu-law decode", "g711.ulaw_decode(ulaw)", "audioop.ulaw2lin(ulaw, W)", number),
        Row("A-law encode", "g711.alaw_encode(frame)", "audioop.lin2alaw(frame, W)", number),
        Row("A-law decode", "g711.alaw_decode(alaw)", "audioop.alaw2lin(alaw, W)", number),
        Row(
            "mu -> A transcode",
            "g711.ulaw_to_alaw(ulaw)",
            "audioop.lin2alaw(audioop.ulaw2lin(ulaw, W), W)",
            number,
        ),
        Row(
            "A -> mu transcode",
            "g711.alaw_to_ulaw(alaw)",
            "audioop.lin2ulaw(audioop.alaw2lin(alaw, W), W)",
            number,
        ),
        Row("PCMU stream decode + PLC", "pcmu_decoder.decode(ulaw)", None, number),
        Row("PCMU->PCMA Transcoder", "pcmu_to_pcma.convert(ulaw)", None, number),
        Row("DTMF detect (speech)", "dtmf.feed(frame)", None, number // 10),
        Row("DTMF detect (digit on)", "dtmf.feed(dtmf_frame)", None, number // 10),
        Row("tone detect (US dial)", "dial_detector.feed(dial_frame)", None, number // 10),
        Row("tone generate (US dial)", "dial.read_frame()", None, number // 10),
        Row("PLC: good frame", "plc.good_frame(frame)", None, number // 10),
    ]
    if g729.g729_available():
        scope["g729_encoder"] = g729.G729Encoder()
        scope["g729_decoder"] = g729.G729Decoder()
        scope["g729"] = scope["g729_encoder"].encode(frame)  # type: ignore[attr-defined]
        rows += [
            Row("G.729 encode (20 ms)", "g729_encoder.encode(frame)", None, number // 100),
            Row("G.729 decode (20 ms)", "g729_decoder.decode(g729)", None, number // 100),
        ]
    else:
        print("(G.729 rows skipped: libbcg729 not installed)")

    if g711.ACCELERATED:
        print("G.711 through gwemu's C extension (gateway/media/_g711.c)")
    else:
        print("G.711 through audioop behind a Python wrapper: the C extension was not built")
    print(f"{'operation':26s} {'gwemu us':>9s} {'audioop us':>11s} {'ratio':>6s}")
    for row in rows:
        ours, baseline = math.inf, math.inf
        for _ in range(args.rounds):
            ours = min(ours, best_us(row.ours, scope, row.number))
            if row.baseline:
                baseline = min(baseline, best_us(row.baseline, scope, row.number))
        if row.baseline:
            print(f"{row.name:26s} {ours:9.3f} {baseline:11.3f} {baseline / ours:6.2f}")
        else:
            print(f"{row.name:26s} {ours:9.3f} {'':>11s} {'':>6s}")

    # PLC on loss is stateful (each call continues the erasure): time a fresh 1-frame loss.
    setup_scope = {"PacketLossConcealer": PacketLossConcealer, "frame": frame}
    conceal = min(
        timeit.repeat(
            "plc.good_frame(frame); plc.conceal()",
            setup="plc = PacketLossConcealer()",
            globals=setup_scope,
            number=1,
            repeat=200,
        )
    )
    print(f"{'PLC: first lost frame':26s} {conceal * 1e6:9.3f}")


if __name__ == "__main__":
    main()
