"""Diarization of mono recordings: DER (collar 0.25 s either side of every reference
boundary, overlap scored, md-eval style) and agent/customer roles, next to baselines.

    python bench/bench_diarization.py [--data ../shared/testdata/audio] [--no-roles]

DER on sample.wav (sample.rttm, a two-party phone call), on the AMI clips (debug.test.rttm,
meetings, speaker count estimated, scored inside debug.test.uem), and on the stereo calls
mixed down to mono (truth: Silero VAD on each channel: the parties' own tracks). The
baselines, in the same run: "one speaker" (every speech region one speaker) and
"alternate at every pause" (a new speaker after every VAD pause).

Roles: the SpokenWOZ call is transcribed mixed to mono, diarized and given roles from
text cues (speech.diarization.roles); each turn's truth is the party whose channel is
louder over it; which channel is the customer is fixed below (CUSTOMER_CHANNEL), read
once by a person from the per-channel transcripts, not guessed by the code under test. Printed: the share of turns with the right
role, the share left unknown and the share wrong; baseline: "the first speaker is the
agent" applied to the same diarization.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from callscribe.speech.audio import decode_mono  # noqa: E402
from callscribe.speech.diarization import get_diarizer  # noqa: E402
from callscribe.speech.diarization.base import split_by_speaker  # noqa: E402
from callscribe.speech.diarization.classic import HOP, speech_regions  # noqa: E402
from callscribe.speech.diarization.metrics import der, read_rttm  # noqa: E402
from callscribe.speech.diarization.roles import assign_speaker_roles  # noqa: E402
from callscribe.speech.service import (  # noqa: E402
    SAMPLE_RATE,
    SpeechConfig,
    get_engine,
    iter_audio_windows,
    transcribe_file,
)

Turns = list[tuple[float, float, str]]
# MUL1011.opus: channel 0 opens "Hello … I'm looking for a train" (SpokenWOZ's user
# speaks first), channel 1 answers "Yes, well, can I help you?" (the agent)
CUSTOMER_CHANNEL = 0


def baselines(audio: np.ndarray) -> tuple[Turns, Turns]:
    regions = [(a * HOP / SAMPLE_RATE, b * HOP / SAMPLE_RATE) for a, b in speech_regions(audio)]
    one = [(a, b, "A") for a, b in regions]
    alternate = [(a, b, "AB"[i % 2]) for i, (a, b) in enumerate(regions)]
    return one, alternate


def row(name: str, ref: Turns, audio: np.ndarray, num: int | None, uem=None) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = get_diarizer().diarize(audio, num_speakers=num)
    took = time.perf_counter() - t0
    hyp = [(t.start_s, t.end_s, t.speaker) for t in result.turns]
    one, alternate = baselines(audio)
    ours = der(ref, hyp, uem=uem)
    print(
        f"{name:<22} {len({r[2] for r in ref}):>3} {len(result.speakers):>4}  "
        f"{ours.der:6.1%} (miss {ours.miss:5.1f}s fa {ours.false_alarm:4.1f}s "
        f"conf {ours.confusion:5.1f}s)  one speaker {der(ref, one, uem=uem).der:6.1%}  "
        f"alternate {der(ref, alternate, uem=uem).der:6.1%}  {took:5.2f}s "
        f"for {len(audio) / SAMPLE_RATE:.0f}s"
    )


def stereo(path: Path) -> np.ndarray:
    return np.concatenate([w for _o, w in iter_audio_windows(path, 600)], axis=1)


def channel_truth(both: np.ndarray) -> Turns:
    ref: Turns = []
    for ch in (0, 1):
        for a, b in speech_regions(np.ascontiguousarray(both[ch])):
            ref.append((a * HOP / SAMPLE_RATE, b * HOP / SAMPLE_RATE, f"ch{ch}"))
    return ref


def roles(data: Path) -> None:
    opus = data / "spokenwoz" / "MUL1011.opus"
    both = stereo(opus)
    customer_channel = CUSTOMER_CHANNEL
    mono_path = Path("/tmp/bench_diarization_mono.wav")
    from callscribe.speech.audio import encode_wav

    mono = np.ascontiguousarray(both.mean(axis=0), dtype=np.float32)
    mono_path.write_bytes(encode_wav((mono * 32767).astype(np.int16)))
    engine = get_engine(SpeechConfig())
    result = get_diarizer().diarize(mono, num_speakers=2)
    pieces = [
        p
        for s in transcribe_file(mono_path, engine)
        for p in split_by_speaker(result, s.start_s, s.end_s, s.text.strip(), s.words)
    ]
    guess = assign_speaker_roles([(sp, a, t) for a, _b, t, sp in pieces if sp])
    first = next((sp for _a, _b, _t, sp in pieces if sp), None)
    right = unknown = wrong = base_right = 0
    for a, b, _t, sp in pieces:
        i, j = int(a * SAMPLE_RATE), max(int(b * SAMPLE_RATE), int(a * SAMPLE_RATE) + 1)
        louder = int(np.argmax([np.mean(both[ch, i:j] ** 2) for ch in (0, 1)]))
        truth = "customer" if louder == customer_channel else "agent"
        said = guess.roles.get(sp or "", "unknown")
        right += said == truth
        unknown += said == "unknown"
        wrong += said not in (truth, "unknown")
        base_right += ("agent" if sp == first else "customer") == truth
    n = max(len(pieces), 1)
    print(
        f"roles on {opus.name} mixed to mono: {len(pieces)} turns, right {right / n:.0%}, "
        f"unknown {unknown / n:.0%}, wrong {wrong / n:.0%} (confidence "
        f"{guess.confidence:.2f}); baseline first speaker = agent: right {base_right / n:.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/testdata/audio")
    parser.add_argument("--no-roles", action="store_true")
    args = parser.parse_args()
    data: Path = args.data if args.data.exists() else ROOT / "tests/data/audio"
    print(f"{'file':<22} ref  hyp  DER (ours)                               baselines")
    audio = decode_mono(data / "sample.wav").astype(np.float32) / 32768
    row("sample.wav", read_rttm(data / "sample.rttm")["sample"], audio, 2)
    ami = read_rttm(data / "ami" / "debug.test.rttm")
    uems = {
        p[0]: (float(p[2]), float(p[3]))
        for p in (line.split() for line in (data / "ami/debug.test.uem").read_text().splitlines())
    }
    for key in sorted(ami):
        audio = decode_mono(data / "ami" / f"{key}.wav").astype(np.float32) / 32768
        row(f"ami/{key}.wav (N est.)", ami[key], audio, None, uems.get(key))
    for path in (data / "stereo_diarization.wav", data / "spokenwoz" / "MUL1011.opus"):
        if path.exists():
            both = stereo(path)
            mono = np.ascontiguousarray(both.mean(axis=0), dtype=np.float32)
            row(f"{path.name} (mono mix)", channel_truth(both), mono, 2)
    if not args.no_roles and (data / "spokenwoz").exists():
        roles(data)


if __name__ == "__main__":
    main()
