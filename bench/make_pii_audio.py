"""Write tests/data/pii/card_call.wav and card_call.json: a two-channel 8 kHz call made
with espeak-ng (agent on channel 0, customer on channel 1) in which the customer reads
a card number, its expiry and its security code, with the turns' times.

    python bench/make_pii_audio.py   # needs espeak-ng (Debian: apt-get install espeak-ng)

Run once; the output is checked in, so tests need no TTS.
"""

from __future__ import annotations

import io
import json
import subprocess
import wave
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii"
RATE = 8000
GAP_S = 0.6

# (channel, role, text as a transcript has it, what the TTS is told to say): digits are
# said one by one, as a customer reads a card
SCRIPT = [
    (0, "agent", "Can I have the card number, please?", None),
    (
        1,
        "customer",
        "Sure. It is 4111 1111 1111 1111.",
        "Sure. It is 4 1 1 1, 1 1 1 1, 1 1 1 1, 1 1 1 1.",
    ),
    (0, "agent", "And the security code on the back?", None),
    (1, "customer", "The security code is 737, thanks.", "The security code is 7 3 7, thanks."),
    (0, "agent", "Thank you, the payment went through.", None),
]


def speak(text: str) -> np.ndarray:
    wav = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "165", "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    # to 8 kHz by linear interpolation (espeak speaks at 22050 Hz)
    n = int(len(pcm) * RATE / rate)
    return np.interp(np.arange(n) * rate / RATE, np.arange(len(pcm)), pcm).astype(np.int16)


def main() -> None:
    clips = [(ch, role, text, speak(say or text)) for ch, role, text, say in SCRIPT]
    total = sum(len(c[3]) for c in clips) + int(GAP_S * RATE) * (len(clips) + 1)
    stereo = np.zeros((total, 2), dtype=np.int16)
    pos = int(GAP_S * RATE)
    turns = []
    for ch, role, text, pcm in clips:
        stereo[pos : pos + len(pcm), ch] = pcm
        turns.append(
            {
                "role": role,
                "channel": ch,
                "text": text,
                "start_ms": pos * 1000 // RATE,
                "end_ms": (pos + len(pcm)) * 1000 // RATE,
            }
        )
        pos += len(pcm) + int(GAP_S * RATE)
    OUT.mkdir(parents=True, exist_ok=True)
    with wave.open(str(OUT / "card_call.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(stereo.tobytes())
    (OUT / "card_call.json").write_text(json.dumps({"turns": turns}, indent=1) + "\n")
    print(f"{total / RATE:.1f} s -> {OUT / 'card_call.wav'}")


if __name__ == "__main__":
    main()
