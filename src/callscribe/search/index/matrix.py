"""A company's vectors as memory-mapped block files in the data dir (`<DATA_DIR>/search/
<company id>/block-00000.t8`, ...). A block holds BLOCK_ROWS rows (turns), TRANSPOSED:
`vectors` 384 x BLOCK_ROWS int8 (column = one turn: vector = int8 column x scale, scale =
max |component| / 127), then per column its int32 sum (for the query offset, see
scoring.py), its float32 scale and its turn id (int64): 400 bytes a turn, 1M turns in
about 380 MB. A block file is created at its full size (sparse until written).

Rows are written where the indexing transaction allocated them (`SearchMatrix.next_row`);
appending fills the columns of the last block and creates the next block file when it is
full. Readers map the blocks read-only, lazily, once per process, and map more when more
exist. Scoring is exact over the rows (integer dot products with onnxruntime's
MatMulInteger, one block at a time; no approximation besides the int8 rounding of rows and
the 7-bit one of the query).

Old layout (`vectors.i8` row-major, `scales.f4`, `turns.i8`, before the blocks): found on
first use, it is converted in place (a transpose; row numbers, hence `vec_row`, are
kept) and its files removed, with a log line. No re-embedding is needed.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from callscribe.search.embedders.base import INDEX_DIM
from callscribe.search.index import scoring
from callscribe.settings import get_settings

log = logging.getLogger(__name__)

BLOCK_ROWS = 65536  # turns per block file
_ROW_BYTES = INDEX_DIM + 4 + 4 + 8  # int8 column, int32 sum, float32 scale, int64 turn
LEGACY_FILES = ("vectors.i8", "scales.f4", "turns.i8")

_lock = threading.Lock()
_readers: dict[Path, Matrix] = {}


def company_dir(company_id: uuid.UUID) -> Path:
    return get_settings().DATA_DIR / "search" / str(company_id)


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vectors = np.asarray(vectors, dtype=np.float32)
    scales = np.maximum(np.abs(vectors).max(axis=1), 1e-12) / 127.0
    q = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return q, scales.astype(np.float32)


def block_path(directory: Path, k: int) -> Path:
    return directory / f"block-{k:05d}.t8"


@dataclass
class Block:
    vectors: np.ndarray  # INDEX_DIM x BLOCK_ROWS int8
    sums: np.ndarray  # int32 column sums
    scales: np.ndarray  # float32
    turns: np.ndarray  # int64

    @classmethod
    def open(cls, path: Path, mode: Literal["r", "r+"]) -> Block:
        mm = np.memmap(path, dtype=np.uint8, mode=mode, shape=(BLOCK_ROWS * _ROW_BYTES,))
        v_end = INDEX_DIM * BLOCK_ROWS
        return cls(
            vectors=mm[:v_end].view(np.int8).reshape(INDEX_DIM, BLOCK_ROWS),
            sums=mm[v_end : v_end + 4 * BLOCK_ROWS].view(np.int32),
            scales=mm[v_end + 4 * BLOCK_ROWS : v_end + 8 * BLOCK_ROWS].view(np.float32),
            turns=mm[v_end + 8 * BLOCK_ROWS :].view(np.int64),
        )

    def flush(self) -> None:
        base = self.vectors.base
        while base is not None and not isinstance(base, np.memmap):
            base = base.base
        if isinstance(base, np.memmap):
            base.flush()


class Matrix:
    """The block files of one company, mapped for `capacity` rows."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.capacity = 0
        self.blocks: list[Block] = []

    def _blocks_on_disk(self) -> int:
        """Complete block files 0..k-1 (a writer creates one at its full size)."""
        k = 0
        while True:
            path = block_path(self.directory, k)
            try:
                if path.stat().st_size < BLOCK_ROWS * _ROW_BYTES:
                    return k
            except FileNotFoundError:
                return k
            k += 1

    def _rows_on_disk(self) -> int:
        convert_legacy(self.directory)
        return self._blocks_on_disk() * BLOCK_ROWS

    def ensure_readable(self, rows: int) -> bool:
        """Map at least `rows` rows (mapping new blocks when more exist); False if they are
        not on disk (a writer that has not flushed: the caller treats it as empty)."""
        if rows <= self.capacity:
            return True
        with _lock:
            if rows > self.capacity:
                have = self._rows_on_disk() // BLOCK_ROWS
                need = -(-rows // BLOCK_ROWS)
                if have < need:
                    return False
                blocks = list(self.blocks)
                for k in range(len(blocks), have):
                    blocks.append(Block.open(block_path(self.directory, k), "r"))
                # the maps first, the capacity last: a query in another thread that reads
                # the new capacity finds the blocks it needs
                self.blocks = blocks
                self.capacity = len(blocks) * BLOCK_ROWS
        return rows <= self.capacity

    def write(self, start: int, vectors: np.ndarray, turn_ids: list[int]) -> None:
        """Write rows [start, start + n): creates the block files first when needed."""
        n = len(turn_ids)
        if n == 0:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        convert_legacy(self.directory)
        q, scales = quantize(vectors)
        sums = q.sum(axis=1, dtype=np.int32)
        turns = np.asarray(turn_ids, dtype=np.int64)
        row = start
        while row < start + n:
            k, col = divmod(row, BLOCK_ROWS)
            take = min(start + n - row, BLOCK_ROWS - col)
            path = block_path(self.directory, k)
            with open(path, "ab") as fh:  # creates it (sparse) at its full size
                if fh.tell() < BLOCK_ROWS * _ROW_BYTES:
                    fh.truncate(BLOCK_ROWS * _ROW_BYTES)
            block = Block.open(path, "r+")
            i = row - start
            block.vectors[:, col : col + take] = q[i : i + take].T
            block.sums[col : col + take] = sums[i : i + take]
            block.scales[col : col + take] = scales[i : i + take]
            block.turns[col : col + take] = turns[i : i + take]
            block.flush()
            row += take

    def vector(self, row: int) -> np.ndarray:
        """The float32 vector of one row (mapped)."""
        block, col = self.blocks[row // BLOCK_ROWS], row % BLOCK_ROWS
        return block.vectors[:, col].astype(np.float32) * block.scales[col]

    def turn_ids(self, rows: np.ndarray) -> np.ndarray:
        """The turn id written at each of `rows` (int64; mapped rows only)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty(len(rows), dtype=np.int64)
        ks = rows // BLOCK_ROWS
        for k in np.unique(ks):
            pick = np.nonzero(ks == k)[0]
            out[pick] = self.blocks[int(k)].turns[rows[pick] - int(k) * BLOCK_ROWS]
        return out

    def rows_int8(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows [0, rows) as a row-major int8 copy and their scales (benchmarks, tests)."""
        vecs = np.empty((rows, INDEX_DIM), dtype=np.int8)
        scales = np.empty(rows, dtype=np.float32)
        for k in range(0, rows, BLOCK_ROWS):
            end = min(rows, k + BLOCK_ROWS)
            block = self.blocks[k // BLOCK_ROWS]
            vecs[k:end] = block.vectors[:, : end - k].T
            scales[k:end] = block.scales[: end - k]
        return vecs, scales

    def scores(self, query: np.ndarray, rows: int, subset: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity of `query` with rows [0, rows) (or the rows in `subset`).

        A subset is scored by scoring the whole blocks it touches and picking its rows:
        one block costs ~2 ms through MatMulInteger's fast path, while gathering 2,000
        strided columns of one block (384 cache lines each) took ~20 ms (measured)."""
        qa, q_scale = scoring.quantize_query(query)
        if subset is not None:
            subset = np.asarray(subset, dtype=np.int64)
            out = np.empty(len(subset), dtype=np.float32)
            ks = subset // BLOCK_ROWS
            for k in np.unique(ks):
                pick = np.nonzero(ks == k)[0]
                cols = subset[pick] - int(k) * BLOCK_ROWS
                block = self.blocks[int(k)]
                full = scoring.dots(qa, block.vectors, block.sums)
                out[pick] = full[cols].astype(np.float32) * block.scales[cols]
            out *= np.float32(q_scale)
            return out
        out = np.empty(rows, dtype=np.float32)
        for start in range(0, rows, BLOCK_ROWS):
            end = min(rows, start + BLOCK_ROWS)
            block = self.blocks[start // BLOCK_ROWS]
            dots = scoring.dots(qa, block.vectors, block.sums)
            np.multiply(dots[: end - start], block.scales[: end - start], out=out[start:end])
        out *= np.float32(q_scale)
        return out


def convert_legacy(directory: Path) -> None:
    """Convert a row-major matrix of the old layout (if there) into blocks, in place."""
    vec_p = directory / LEGACY_FILES[0]
    if not vec_p.exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".convert.lock", "w") as lock_fh:
        fcntl.flock(lock_fh, fcntl.LOCK_EX)  # one process converts, the others wait
        if not vec_p.exists():
            return
        paths = [directory / name for name in LEGACY_FILES]
        rows = min(
            p.stat().st_size // w if p.exists() else 0
            for p, w in zip(paths, (INDEX_DIM, 4, 8), strict=True)
        )
        log.warning(
            "search: converting the old row-major vector matrix in %s (%d rows) to "
            "transposed blocks",
            directory,
            rows,
        )
        if rows:
            vectors = np.memmap(paths[0], dtype=np.int8, mode="r", shape=(rows, INDEX_DIM))
            scales = np.memmap(paths[1], dtype=np.float32, mode="r", shape=(rows,))
            turns = np.memmap(paths[2], dtype=np.int64, mode="r", shape=(rows,))
            for k in range(-(-rows // BLOCK_ROWS)):
                lo, hi = k * BLOCK_ROWS, min(rows, (k + 1) * BLOCK_ROWS)
                tmp = directory / f".block-{k:05d}.tmp"
                with open(tmp, "wb") as fh:
                    fh.truncate(BLOCK_ROWS * _ROW_BYTES)
                block = Block.open(tmp, "r+")
                chunk = np.asarray(vectors[lo:hi])
                block.vectors[:, : hi - lo] = chunk.T
                block.sums[: hi - lo] = chunk.sum(axis=1, dtype=np.int32)
                block.scales[: hi - lo] = scales[lo:hi]
                block.turns[: hi - lo] = turns[lo:hi]
                block.flush()
                del block
                os.replace(tmp, block_path(directory, k))
        for p in reversed(paths):  # vectors.i8 last: it marks the old layout
            p.unlink(missing_ok=True)
        log.warning("search: converted %s; the old files are removed", directory)


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
    rows; they map new blocks when more exist)."""
    return Matrix(company_dir(company_id))
