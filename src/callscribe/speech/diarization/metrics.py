"""Diarization error rate, NIST style: (missed + false alarm + speaker confusion) /
reference speech, scored on 10 ms frames, overlapped speech included, the reference
and hypothesis speakers mapped one to one to maximise their shared time (Hungarian),
and `collar` seconds either side of every reference boundary left out (md-eval's
`-c 0.25` is collar=0.25 here; pyannote.metrics' collar=0.5 is the same)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

STEP = 0.01


@dataclass(frozen=True)
class DER:
    der: float
    miss: float
    false_alarm: float
    confusion: float
    total: float  # scored reference speech, seconds


def read_rttm(path: str | Path) -> dict[str, list[tuple[float, float, str]]]:
    """{file id: [(start_s, end_s, speaker), …]}."""
    out: dict[str, list[tuple[float, float, str]]] = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            start, dur = float(parts[3]), float(parts[4])
            out.setdefault(parts[1], []).append((start, start + dur, parts[7]))
    return out


def _matrix(turns: Iterable[tuple[float, float, str]], n: int) -> tuple[np.ndarray, list[str]]:
    turns = list(turns)
    names = sorted({t[2] for t in turns})
    m = np.zeros((len(names), n), dtype=bool)
    for start, end, name in turns:
        a, b = round(start / STEP), min(round(end / STEP), n)
        if b > a:
            m[names.index(name), a:b] = True
    return m, names


def der(
    reference: list[tuple[float, float, str]],
    hypothesis: list[tuple[float, float, str]],
    *,
    collar: float = 0.25,
    uem: tuple[float, float] | None = None,
) -> DER:
    end = max([t[1] for t in reference + hypothesis] + [uem[1] if uem else 0.0])
    n = int(np.ceil(end / STEP)) + 1
    ref, _ = _matrix(reference, n)
    hyp, _ = _matrix(hypothesis, n)
    scored = np.ones(n, dtype=bool)
    if uem:
        scored[:] = False
        scored[round(uem[0] / STEP) : round(uem[1] / STEP)] = True
    c = round(collar / STEP)
    if c:
        for start, stop, _name in reference:
            for edge in (round(start / STEP), round(stop / STEP)):
                scored[max(0, edge - c) : edge + c] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    correct = np.zeros(ref.shape[1])
    if len(ref) and len(hyp):
        shared = ref.astype(np.int64) @ hyp.T.astype(np.int64)
        rows, cols = linear_sum_assignment(-shared)
        for r, h in zip(rows, cols, strict=True):
            correct += ref[r] & hyp[h]
    miss = np.maximum(n_ref - n_hyp, 0).sum() * STEP
    fa = np.maximum(n_hyp - n_ref, 0).sum() * STEP
    conf = (np.minimum(n_ref, n_hyp) - correct).sum() * STEP
    total = n_ref.sum() * STEP
    rate = (miss + fa + conf) / total if total else 0.0
    return DER(float(rate), float(miss), float(fa), float(conf), float(total))
