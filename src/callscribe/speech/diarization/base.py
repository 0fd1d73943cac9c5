"""The Diarizer protocol: audio in, speaker turns out. The classic diarizer is the one
that ships; a model-based one registers under its own name (register_diarizer)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from callscribe.errors import CallscribeError


@dataclass(frozen=True)
class SpeakerTurn:
    start_s: float
    end_s: float
    speaker: str  # "S1", "S2", … in order of first appearance


@dataclass(frozen=True)
class Diarization:
    turns: list[SpeakerTurn] = field(default_factory=list)
    method: str = ""

    @property
    def speakers(self) -> list[str]:
        seen: list[str] = []
        for turn in self.turns:
            if turn.speaker not in seen:
                seen.append(turn.speaker)
        return seen

    def speaker_of(self, start_s: float, end_s: float) -> str | None:
        """The speaker who talks most within [start_s, end_s] (None: nobody does)."""
        overlap: dict[str, float] = {}
        for turn in self.turns:
            shared = min(end_s, turn.end_s) - max(start_s, turn.start_s)
            if shared > 0:
                overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
        if not overlap:
            # a segment in a VAD gap: the nearest turn's speaker within half a second
            nearest = min(
                self.turns,
                key=lambda t: max(t.start_s - end_s, start_s - t.end_s),
                default=None,
            )
            if nearest and max(nearest.start_s - end_s, start_s - nearest.end_s) < 0.5:
                return nearest.speaker
            return None
        return max(overlap, key=lambda s: overlap[s])


class Diarizer(Protocol):
    name: str

    def diarize(self, audio: np.ndarray, *, num_speakers: int | None = None) -> Diarization:
        """audio: float32 mono 16 kHz. num_speakers: the count when known (2 on a phone
        call); None estimates it (a meeting)."""
        ...


def relabel(turns: Iterable[tuple[float, float, int]], method: str) -> Diarization:
    """Cluster ids -> "S1", "S2", … in order of first appearance; adjacent turns of one
    speaker merged."""
    ordered = sorted(turns)
    names: dict[int, str] = {}
    out: list[SpeakerTurn] = []
    for start, end, cluster in ordered:
        name = names.setdefault(cluster, f"S{len(names) + 1}")
        if out and out[-1].speaker == name and start - out[-1].end_s < 0.05:
            out[-1] = SpeakerTurn(out[-1].start_s, max(end, out[-1].end_s), name)
        else:
            out.append(SpeakerTurn(round(start, 3), round(end, 3), name))
    return Diarization(turns=out, method=method)


DiarizerFactory = Callable[[], Diarizer]


def _classic() -> Diarizer:
    from callscribe.speech.diarization.classic import ClassicDiarizer

    return ClassicDiarizer()


DIARIZERS: dict[str, DiarizerFactory] = {"classic": _classic}
_lock = threading.Lock()


def register_diarizer(name: str, factory: DiarizerFactory) -> None:
    with _lock:
        DIARIZERS[name] = factory


def get_diarizer(name: str = "classic") -> Diarizer:
    factory = DIARIZERS.get(name)
    if factory is None:
        known = ", ".join(sorted(DIARIZERS))
        raise CallscribeError(
            f"Unknown diarizer {name!r}; choose one of: {known}.",
            code="diarizer_unknown",
            status=400,
        )
    return factory()


def split_by_speaker(
    diarization: Diarization,
    start_s: float,
    end_s: float,
    text: str,
    words: tuple[tuple[float, float, str], ...] = (),
) -> list[tuple[float, float, str, str | None]]:
    """A transcribed segment as (start_s, end_s, text, speaker) pieces: its words
    grouped where the diarization's speaker changes (a segment without words, or all of
    one speaker, stays whole). A word in no speaker's time keeps its neighbour's."""
    if not words or not diarization.turns:
        return [(start_s, end_s, text, diarization.speaker_of(start_s, end_s))]
    labels = [diarization.speaker_of(a, b) for a, b, _w in words]
    for i in range(1, len(labels)):
        labels[i] = labels[i] or labels[i - 1]
    for i in range(len(labels) - 2, -1, -1):
        labels[i] = labels[i] or labels[i + 1]
    pieces: list[tuple[float, float, str, str | None]] = []
    group: list[tuple[float, float, str]] = []
    current: str | None = None
    for word, label in zip(words, labels, strict=True):
        if group and label != current:
            pieces.append((group[0][0], group[-1][1], _join(group), current))
            group = []
        group.append(word)
        current = label
    if group:
        pieces.append((group[0][0], group[-1][1], _join(group), current))
    return [p for p in pieces if p[2]]


def _join(words: list[tuple[float, float, str]]) -> str:
    return "".join(w[2] for w in words).strip()
