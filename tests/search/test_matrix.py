"""The embedded index's vector matrix: transposed blocks scored with MatMulInteger give
the scores of the old row-major NumPy scan; blocks grow by appending; old-layout
directories are converted in place."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from callscribe.search.embedders.base import INDEX_DIM
from callscribe.search.index import matrix as matrices
from callscribe.search.index import scoring


@pytest.fixture()
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(matrices, "BLOCK_ROWS", 1000)  # several blocks from a few rows
    return 1000


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, INDEX_DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _old_scores(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The previous version's scan: int8 rows to float32, @ query, x row scale."""
    q8, scales = matrices.quantize(vectors)
    return (q8.astype(np.float32) @ np.asarray(query, dtype=np.float32)) * scales


def _dequantized(query: np.ndarray) -> np.ndarray:
    qa, scale = scoring.quantize_query(query)
    return (qa.astype(np.float32).reshape(-1) - scoring.QUERY_OFFSET) * np.float32(scale)


def _written(tmp_path: Path, vectors: np.ndarray, batches: list[int]) -> matrices.Matrix:
    writer = matrices.Matrix(tmp_path / "m")
    start = 0
    for n in batches:
        writer.write(start, vectors[start : start + n], list(range(1, n + 1)))
        start += n
    reader = matrices.Matrix(tmp_path / "m")
    assert reader.ensure_readable(start)
    return reader


def test_integer_dot_products_are_exact_at_the_extremes() -> None:
    # all components at the extremes: a saturating u8 x s8 kernel would clip these sums
    block = np.empty((INDEX_DIM, 4), dtype=np.int8)
    block[:, 0], block[:, 1] = 127, -127
    block[:, 2] = np.where(np.arange(INDEX_DIM) % 2, 127, -127)
    block[:, 3] = np.random.default_rng(1).integers(-127, 128, INDEX_DIM)
    sums = block.astype(np.int32).sum(axis=0)
    for query in (np.ones(INDEX_DIM), -np.ones(INDEX_DIM), np.linspace(-1, 1, INDEX_DIM)):
        qa, _scale = scoring.quantize_query(query)
        a = qa.astype(np.int32).reshape(-1) - scoring.QUERY_OFFSET
        got = scoring.dots(qa, np.ascontiguousarray(block), sums)
        assert np.array_equal(got, a @ block.astype(np.int32))


def test_scores_equal_the_old_numpy_scan_over_several_blocks(
    tmp_path: Path, small_blocks: int
) -> None:
    vectors = _vectors(2500)  # two full blocks and a part of the third
    m = _written(tmp_path, vectors, [2500])
    for seed in range(3):
        query = _vectors(1, seed=10 + seed)[0]
        got = m.scores(query, 2500)
        # exact integer products: equal to the old scan with the same (7-bit) query up to
        # the float rounding of the scale multiply
        np.testing.assert_allclose(got, _old_scores(vectors, _dequantized(query)), atol=1e-6)
        # and close to the old scan with the float query (the query's 7-bit rounding)
        np.testing.assert_allclose(got, _old_scores(vectors, query), atol=0.02)


def test_subset_scores_are_the_full_scores_of_those_rows(tmp_path: Path, small_blocks: int) -> None:
    vectors = _vectors(2500)
    m = _written(tmp_path, vectors, [2500])
    query = _vectors(1, seed=5)[0]
    full = m.scores(query, 2500)
    subset = np.array([2499, 3, 1000, 999, 1500, 3], dtype=np.int64)
    np.testing.assert_array_equal(m.scores(query, 0, subset=subset), full[subset])


def test_appends_fill_the_last_block_then_start_a_new_one(
    tmp_path: Path, small_blocks: int
) -> None:
    vectors = _vectors(2300)
    writer = matrices.Matrix(tmp_path / "m")
    reader = matrices.Matrix(tmp_path / "m")
    writer.write(0, vectors[:700], list(range(700)))
    assert reader.ensure_readable(700)
    assert len(reader.blocks) == 1
    assert not reader.ensure_readable(1001)  # not on disk yet: the caller sees it empty
    writer.write(700, vectors[700:2300], list(range(700, 2300)))  # crosses two boundaries
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "block-00000.t8",
        "block-00001.t8",
        "block-00002.t8",
    ]
    assert reader.ensure_readable(2300)
    assert len(reader.blocks) == 3
    query = vectors[1234]
    np.testing.assert_allclose(
        reader.scores(query, 2300), _old_scores(vectors, _dequantized(query)), atol=1e-6
    )
    assert int(np.argmax(reader.scores(query, 2300))) == 1234
    np.testing.assert_allclose(reader.vector(1234), vectors[1234], atol=0.01)
    # a row rewritten in place (a rolled-back transaction's rows are written over)
    writer.write(1234, vectors[:1], [99])
    assert int(np.argmax(reader.scores(vectors[0], 2300))) in (0, 1234)
    assert reader.blocks[1].turns[234] == 99


def test_an_old_row_major_matrix_is_converted_in_place(
    tmp_path: Path, small_blocks: int, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = _vectors(1300)
    q8, scales = matrices.quantize(vectors)
    d = tmp_path / "m"
    d.mkdir()
    # the old writer grew its files ahead of the rows written (zeros after them)
    pad = 200
    (d / "vectors.i8").write_bytes(q8.tobytes() + bytes(pad * INDEX_DIM))
    (d / "scales.f4").write_bytes(scales.tobytes() + bytes(pad * 4))
    (d / "turns.i8").write_bytes(np.arange(1, 1301, dtype=np.int64).tobytes() + bytes(pad * 8))
    reader = matrices.Matrix(d)
    with caplog.at_level(logging.WARNING, logger=matrices.__name__):
        assert reader.ensure_readable(1300)
    assert "converting the old row-major vector matrix" in caplog.text
    assert not any((d / name).exists() for name in matrices.LEGACY_FILES)
    query = vectors[1100]
    np.testing.assert_allclose(
        reader.scores(query, 1300), _old_scores(vectors, _dequantized(query)), atol=1e-6
    )
    assert reader.blocks[1].turns[299] == 1300
    # appending goes on after the converted rows
    more = _vectors(10, seed=3)
    matrices.Matrix(d).write(1500, more, list(range(2000, 2010)))
    assert reader.ensure_readable(1510)
    assert int(np.argmax(reader.scores(more[4], 1510))) == 1504


def test_the_hand_encoded_graph_loads_in_onnxruntime() -> None:
    import onnxruntime as ort

    sess = ort.InferenceSession(scoring.model_bytes(), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["A", "B"]
    assert sess.get_outputs()[0].type == "tensor(int32)"
