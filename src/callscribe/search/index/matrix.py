"""A company's vectors as memory-mapped files in the data dir (`<DATA_DIR>/search/
<company id>/`): `vectors.i8` (rows x 384 int8), `scales.f4` (one float32 per row:
vector = int8 row x scale, scale = max |component| / 127) and `turns.i8` (the turn id of
each row, int64). int8 keeps 1M turns in about 390 MB (float32 would be 1.5 GB).

Rows are written where the indexing transaction allocated them (`SearchMatrix.next_row`);
readers map the files read-only, lazily, once per process, and re-map when the files grew.
Scoring is exact over the rows (no approximation besides the int8 rounding).
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Literal

import numpy as np

from callscribe.search.embedders.base import INDEX_DIM
from callscribe.settings import get_settings

GROW_ROWS = 16384  # files grow by at least this many rows (and by half their size)
SCORE_CHUNK = 65536  # rows converted to float32 at a time while scoring

_lock = threading.Lock()
_readers: dict[Path, Matrix] = {}


def company_dir(company_id: uuid.UUID) -> Path:
    return get_settings().DATA_DIR / "search" / str(company_id)


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vectors = np.asarray(vectors, dtype=np.float32)
    scales = np.maximum(np.abs(vectors).max(axis=1), 1e-12) / 127.0
    q = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return q, scales.astype(np.float32)


class Matrix:
    """The three files of one company, mapped for `capacity` rows."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.capacity = 0
        self.vectors: np.ndarray = np.zeros((0, INDEX_DIM), dtype=np.int8)
        self.scales: np.ndarray = np.zeros(0, dtype=np.float32)
        self.turns: np.ndarray = np.zeros(0, dtype=np.int64)

    @property
    def _paths(self) -> tuple[Path, Path, Path]:
        d = self.directory
        return d / "vectors.i8", d / "scales.f4", d / "turns.i8"

    def _rows_on_disk(self) -> int:
        """Rows all three files hold (a writer grows them one after the other)."""
        rows = []
        for path, width in zip(self._paths, (INDEX_DIM, 4, 8), strict=True):
            rows.append(path.stat().st_size // width if path.exists() else 0)
        return min(rows)

    def _map(self, mode: Literal["r", "r+"]) -> None:
        rows = self._rows_on_disk()
        if rows == 0:
            return
        vec_p, sc_p, tu_p = self._paths
        vectors = np.memmap(vec_p, dtype=np.int8, mode=mode, shape=(rows, INDEX_DIM))
        scales = np.memmap(sc_p, dtype=np.float32, mode=mode, shape=(rows,))
        turns = np.memmap(tu_p, dtype=np.int64, mode=mode, shape=(rows,))
        # the maps first, the capacity last: a query in another thread that reads the new
        # capacity finds maps at least that large (old and new maps show the same files)
        self.vectors, self.scales, self.turns = vectors, scales, turns
        self.capacity = rows

    def ensure_readable(self, rows: int) -> bool:
        """Map at least `rows` rows (re-mapping when the files grew); False if they are not
        on disk (a writer that has not flushed: the caller treats it as empty)."""
        if rows <= self.capacity:
            return True
        with _lock:
            if rows > self.capacity:
                if self._rows_on_disk() < rows:
                    return False
                self._map("r")
        return rows <= self.capacity

    def write(self, start: int, vectors: np.ndarray, turn_ids: list[int]) -> None:
        """Write rows [start, start + n): grows the files first when needed."""
        n = len(turn_ids)
        if n == 0:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        need = start + n
        have = self._rows_on_disk()
        if need > have:
            rows = max(need, have + max(GROW_ROWS, have // 2))
            for path, width in zip(self._paths, (INDEX_DIM, 4, 8), strict=True):
                with open(path, "ab") as fh:
                    fh.truncate(rows * width)
        self._map("r+")
        q, scales = quantize(vectors)
        self.vectors[start:need] = q
        self.scales[start:need] = scales
        self.turns[start:need] = np.asarray(turn_ids, dtype=np.int64)
        for arr in (self.vectors, self.scales, self.turns):
            arr.flush()  # type: ignore[attr-defined]

    def scores(self, query: np.ndarray, rows: int, subset: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity of `query` with rows [0, rows) (or the rows in `subset`)."""
        q = np.asarray(query, dtype=np.float32)
        if subset is not None:
            return (self.vectors[subset].astype(np.float32) @ q) * self.scales[subset]
        out = np.empty(rows, dtype=np.float32)
        for start in range(0, rows, SCORE_CHUNK):
            end = min(rows, start + SCORE_CHUNK)
            out[start:end] = self.vectors[start:end].astype(np.float32) @ q
        out *= self.scales[:rows]
        return out


def reader(company_id: uuid.UUID) -> Matrix:
    """The process's read view of the company's matrix (mapped lazily)."""
    directory = company_dir(company_id)
    with _lock:
        matrix = _readers.get(directory)
        if matrix is None:
            matrix = _readers[directory] = Matrix(directory)
        return matrix


def writer(company_id: uuid.UUID) -> Matrix:
    """A read-write view of its own (readers' maps share the page cache, so they see the
    rows; they re-map when the files grew)."""
    return Matrix(company_dir(company_id))
