"""The classic diarizer: no speaker model, only signal processing.

1. Speech regions from Silero VAD (the ONNX model faster-whisper bundles).
2. Per 10 ms frame: 19 MFCCs (c1..c19 of a 40-band mel spectrum, 25 ms Hann window),
   normalised over the recording's speech (mean and variance).
3. Change points inside each region: where a 1 s window before a frame and one after it
   differ most (a symmetric Gaussian divergence of their MFCC statistics), as peaks
   above a threshold; regions are also cut every MAX_SEGMENT_S.
4. Each segment is one vector (the mean and standard deviation of its frames);
   agglomerative clustering (Ward) into two speakers (a phone call) or into N chosen by
   the silhouette (a meeting, num_speakers=None), one speaker when no split separates
   (silhouette below ONE_SPEAKER_SILHOUETTE, or a cluster under MIN_SPEAKER_S).
5. Resegmentation: a diagonal Gaussian per speaker over its frames, every frame scored,
   the scores smoothed over SMOOTH_S, so a turn boundary lands on the frame where the
   voice changes rather than on a segment edge.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.fft import dct
from scipy.signal import find_peaks
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import silhouette_score

from callscribe.speech.diarization.base import Diarization, relabel

SAMPLE_RATE = 16_000
HOP = 160  # 10 ms
WIN = 400  # 25 ms
N_FFT = 512
N_MELS = 40
N_MFCC = 20  # c0 (loudness) dropped: 19 used
BLOCK = 6000  # frames per MFCC block (60 s)
CHANGE_WINDOW = 100  # frames each side of a candidate change point (1 s)
CHANGE_THRESHOLD = 2.0  # divergence peak height (in standardised units) that is a change
MAX_SEGMENT_S = 1.5
CLUSTER_FRAMES = 100  # 1 s
RESEGMENT = True
MIN_SEGMENT_FRAMES = 30  # 0.3 s: shorter pieces are too noisy to cluster on their own
SMOOTH_S = 1.0
MIN_TURN_S = 0.3
ONE_SPEAKER_SILHOUETTE = 0.12  # below this no split of the segments is real
MAX_SPEAKERS = 8
MIN_SPEAKER_S = 3.0  # estimating the count: each speaker holds at least this much


@functools.cache
def _mel_filterbank() -> np.ndarray:
    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    mels = np.linspace(hz_to_mel(np.array(20.0)), hz_to_mel(np.array(7600.0)), N_MELS + 2)
    bins = np.floor((N_FFT + 1) * mel_to_hz(mels) / SAMPLE_RATE).astype(int)
    bank = np.zeros((N_MELS, N_FFT // 2 + 1))
    for i in range(N_MELS):
        left, centre, right = bins[i], bins[i + 1], bins[i + 2]
        for k in range(left, centre):
            bank[i, k] = (k - left) / max(centre - left, 1)
        for k in range(centre, right):
            bank[i, k] = (right - k) / max(right - centre, 1)
    return bank


def mfcc(audio: np.ndarray) -> np.ndarray:
    """(frames, 19) MFCCs, one frame per 10 ms; computed BLOCK frames at a time, so an
    hour costs the memory of a minute's spectra, not 1.5 GB."""
    if len(audio) < WIN:
        return np.zeros((0, N_MFCC - 1))
    emphasised = np.append(audio[0], audio[1:] - 0.97 * audio[:-1]).astype(np.float32)
    n = 1 + (len(emphasised) - WIN) // HOP
    window = np.hanning(WIN).astype(np.float32)
    bank = _mel_filterbank().T
    out = np.empty((n, N_MFCC - 1), dtype=np.float32)
    for first in range(0, n, BLOCK):
        count = min(BLOCK, n - first)
        idx = np.arange(WIN)[None, :] + HOP * (first + np.arange(count))[:, None]
        power = np.abs(np.fft.rfft(emphasised[idx] * window, N_FFT)) ** 2
        logmel = np.log(power @ bank + 1e-8)
        out[first : first + count] = dct(logmel, type=2, axis=1, norm="ortho")[:, 1:N_MFCC]
    return out


def speech_regions(audio: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) frame indices of speech (Silero VAD)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=250, speech_pad_ms=30, min_speech_duration_ms=200)
    stamps = get_speech_timestamps(audio, options)
    return [(s["start"] // HOP, s["end"] // HOP) for s in stamps if s["end"] > s["start"]]


def _divergence(feats: np.ndarray) -> np.ndarray:
    """Per frame: how different the second before it is from the second after."""
    n, w = len(feats), CHANGE_WINDOW
    out = np.zeros(n)
    if n < 2 * MIN_SEGMENT_FRAMES:
        return out
    csum = np.vstack([np.zeros((1, feats.shape[1])), np.cumsum(feats, axis=0)])
    csq = np.vstack([np.zeros((1, feats.shape[1])), np.cumsum(feats**2, axis=0)])
    for t in range(MIN_SEGMENT_FRAMES, n - MIN_SEGMENT_FRAMES):
        a0, b1 = max(0, t - w), min(n, t + w)
        na, nb = t - a0, b1 - t
        ma, mb = (csum[t] - csum[a0]) / na, (csum[b1] - csum[t]) / nb
        va = np.maximum((csq[t] - csq[a0]) / na - ma**2, 1e-3)
        vb = np.maximum((csq[b1] - csq[t]) / nb - mb**2, 1e-3)
        d2 = (ma - mb) ** 2
        # symmetric KL of two diagonal Gaussians, per dimension averaged
        out[t] = float(np.mean(0.5 * (va / vb + vb / va - 2) + 0.5 * d2 * (1 / va + 1 / vb)))
    return out


def segment(feats: np.ndarray, regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Speech regions cut at change points and every MAX_SEGMENT_S."""
    max_len = int(MAX_SEGMENT_S * 100)
    pieces: list[tuple[int, int]] = []
    for start, end in regions:
        cuts = [start]
        div = _divergence(feats[start:end])
        if div.any():
            peaks, _ = find_peaks(div, height=CHANGE_THRESHOLD, distance=MIN_SEGMENT_FRAMES)
            cuts.extend(start + int(p) for p in peaks)
        cuts.append(end)
        for a, b in zip(cuts, cuts[1:], strict=False):
            count = max(1, round((b - a) / max_len))
            edges = np.linspace(a, b, count + 1).astype(int)
            pieces.extend((int(x), int(y)) for x, y in zip(edges, edges[1:], strict=False))
    return [(a, b) for a, b in pieces if b > a]


def _embed(feats: np.ndarray, pieces: list[tuple[int, int]]) -> np.ndarray:
    """A segment's vector: the mean of its frames (the speaker's average spectral shape)."""
    return np.array([feats[a:b].mean(axis=0) for a, b in pieces])


def cluster(vectors: np.ndarray, lengths: np.ndarray, num_speakers: int | None) -> np.ndarray:
    """A cluster id per segment: num_speakers of them, or a count chosen by silhouette.

    Only segments of at least CLUSTER_FRAMES shape the clusters (short ones are mostly
    one phone and scatter); each shorter one joins the nearest centre."""
    n = len(vectors)
    if n < 2 or num_speakers == 1:
        return np.zeros(n, dtype=int)
    core = lengths >= CLUSTER_FRAMES
    if core.sum() < 4:
        core = np.ones(n, dtype=bool)
    x = vectors[core]

    def fit(k: int) -> np.ndarray:
        return np.asarray(AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x))

    if num_speakers is not None:
        labels = fit(min(num_speakers, len(x)))
    else:
        best_score, labels = ONE_SPEAKER_SILHOUETTE, np.zeros(len(x), dtype=int)
        for k in range(2, min(MAX_SPEAKERS, len(x) - 1) + 1):
            candidate = fit(k)
            held = [int(lengths[core][candidate == c].sum()) for c in range(k)]
            if min(held) < MIN_SPEAKER_S * 100:
                continue  # a "speaker" this short is more likely a change of tone
            score = float(silhouette_score(x, candidate))
            if score > best_score:
                best_score, labels = score, candidate
    ids = sorted(set(labels.tolist()))
    centres = np.array([x[labels == k].mean(axis=0) for k in ids])
    nearest = np.argmin(((vectors[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    out = np.array(ids)[nearest]
    out[core] = labels
    return out


def resegment(
    feats: np.ndarray,
    regions: list[tuple[int, int]],
    pieces: list[tuple[int, int]],
    labels: np.ndarray,
) -> list[tuple[float, float, int]]:
    """Frame-level reassignment by per-speaker diagonal Gaussians, smoothed."""
    speakers = sorted(set(int(x) for x in labels))
    if len(speakers) < 2:
        return [(a / 100, b / 100, speakers[0] if speakers else 0) for a, b in regions]
    frame_label = np.full(len(feats), -1)
    for (a, b), label in zip(pieces, labels, strict=True):
        frame_label[a:b] = label
    models = []
    for s in speakers:
        own = feats[frame_label == s]
        models.append((own.mean(axis=0), own.var(axis=0) + 1e-3))
    width = max(1, int(SMOOTH_S * 100))
    kernel = np.ones(width) / width
    out: list[tuple[float, float, int]] = []
    for start, end in regions:
        chunk = feats[start:end]
        scores = np.stack(
            [-0.5 * np.sum(np.log(v) + (chunk - m) ** 2 / v, axis=1) for m, v in models]
        )
        smooth = np.stack([np.convolve(row, kernel, mode="same") for row in scores])
        best = np.array(speakers)[np.argmax(smooth, axis=0)]
        change = np.flatnonzero(np.diff(best)) + 1
        edges = [0, *change.tolist(), len(best)]
        for a, b in zip(edges, edges[1:], strict=False):
            out.append(((start + a) / 100, (start + b) / 100, int(best[a])))
    return _absorb_short(out)


def _absorb_short(turns: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """Turns shorter than MIN_TURN_S given to the neighbour they touch."""
    out: list[tuple[float, float, int]] = []
    for start, end, spk in turns:
        if out and end - start < MIN_TURN_S and abs(out[-1][1] - start) < 0.02:
            out[-1] = (out[-1][0], end, out[-1][2])
        elif out and out[-1][1] - out[-1][0] < MIN_TURN_S and abs(out[-1][1] - start) < 0.02:
            out[-1] = (out[-1][0], end, spk)
        else:
            out.append((start, end, spk))
    return out


class ClassicDiarizer:
    name = "classic"

    def diarize(self, audio: np.ndarray, *, num_speakers: int | None = None) -> Diarization:
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        if len(audio) < WIN or float(np.max(np.abs(audio))) < 1e-4:
            return Diarization(turns=[], method=self.name)
        regions = speech_regions(audio)
        if not regions:
            return Diarization(turns=[], method=self.name)
        feats = mfcc(audio)
        regions = [(a, min(b, len(feats))) for a, b in regions if a < len(feats)]
        speech = np.concatenate([feats[a:b] for a, b in regions])
        feats = (feats - speech.mean(axis=0)) / (speech.std(axis=0) + 1e-6)
        pieces = [(a, b) for a, b in segment(feats, regions) if b - a >= MIN_SEGMENT_FRAMES]
        if not pieces:
            return relabel([(a / 100, b / 100, 0) for a, b in regions], self.name)
        lengths = np.array([b - a for a, b in pieces])
        labels = cluster(_embed(feats, pieces), lengths, num_speakers)
        if not RESEGMENT:
            return relabel(
                [(a / 100, b / 100, int(k)) for (a, b), k in zip(pieces, labels, strict=True)],
                self.name,
            )
        return relabel(resegment(feats, regions, pieces, labels), self.name)
