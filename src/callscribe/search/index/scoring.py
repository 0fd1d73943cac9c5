"""Exact int8 dot products with onnxruntime's `MatMulInteger` (uint8 x int8 -> int32).

The graph is one node, `Y = MatMulInteger(A, B)` with A the query (1 x 384 uint8) and
B a block of the matrix (384 x block columns int8, column = one turn). It is encoded here
as ONNX protobuf bytes by hand (a few fields; the `onnx` package is not a runtime
dependency), and run by one InferenceSession per process (`run` is thread-safe).

The float query is quantized to 7 bits (a in [-63, 63], scale = max |q| / 63); the
integer dot products are exact, so a score equals the float32 dot product of the int8
row with the dequantized query (a x scale) up to float rounding.
"""

from __future__ import annotations

import threading

import numpy as np

from callscribe.search.embedders.base import INDEX_DIM

# The query is uint8 in [1, 127] (7 bits, a + 64): MLAS's AVX2 u8 x s8 kernel adds pairs
# of u8 * s8 products in saturating int16 (vpmaddubsw), exact only while u8 <= 127
# (2 * 127 * 128 < 32768). A full 8-bit query would saturate; the zero point inputs of
# MatMulInteger, and more than one query row, leave its fast single-row path (4x slower,
# measured). So the offset is taken off here with the column sums the matrix keeps.
QUERY_LEVELS = 63
QUERY_OFFSET = 64

_session = None
_session_lock = threading.Lock()

_UINT8 = 2  # onnx TensorProto.UINT8
_INT8 = 3  # onnx TensorProto.INT8
_INT32 = 6  # onnx TensorProto.INT32


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number: int, payload: bytes | int | str) -> bytes:
    """One protobuf field: a varint (int) or a length-delimited one (bytes, str)."""
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _value_info(name: str, elem_type: int, dims: tuple[int | str, ...]) -> bytes:
    shape = b"".join(_field(1, _field(1, d) if isinstance(d, int) else _field(2, d)) for d in dims)
    tensor_type = _field(1, elem_type) + _field(2, shape)  # TypeProto.Tensor
    return _field(1, name) + _field(2, _field(1, tensor_type))  # ValueInfoProto


def model_bytes() -> bytes:
    """ModelProto of Y[1, n] = MatMulInteger(A[1, 384] uint8, B[384, n] int8) (opset 13)."""
    node = _field(1, "A") + _field(1, "B") + _field(2, "Y") + _field(4, "MatMulInteger")
    graph = (
        _field(1, node)
        + _field(2, "matmul_integer")
        + _field(11, _value_info("A", _UINT8, (1, INDEX_DIM)))
        + _field(11, _value_info("B", _INT8, (INDEX_DIM, "n")))
        + _field(12, _value_info("Y", _INT32, (1, "n")))
    )
    opset = _field(1, "") + _field(2, 13)
    return _field(1, 8) + _field(7, graph) + _field(8, opset)  # ir_version 8


def session():  # type: ignore[no-untyped-def]
    """The process's InferenceSession (built once)."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                import onnxruntime as ort

                from callscribe.settings import get_settings

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = get_settings().SEARCH_SCORE_THREADS
                opts.inter_op_num_threads = 1
                _session = ort.InferenceSession(
                    model_bytes(), opts, providers=["CPUExecutionProvider"]
                )
    return _session


def quantize_query(query: np.ndarray) -> tuple[np.ndarray, float]:
    """(1 x 384 uint8 = a + QUERY_OFFSET with a in [-63, 63], scale): query ~= a * scale."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    scale = max(float(np.abs(q).max()), 1e-12) / QUERY_LEVELS
    a = np.clip(np.rint(q / scale), -QUERY_LEVELS, QUERY_LEVELS).astype(np.int16)
    return (a + QUERY_OFFSET).astype(np.uint8).reshape(1, -1), scale


def dots(query_u8: np.ndarray, block: np.ndarray, column_sums: np.ndarray) -> np.ndarray:
    """Exact int32 a . column for every column of `block` (384 x n int8), a = query_u8 -
    QUERY_OFFSET; `column_sums` (int32, n) are the blocks' column sums."""
    y = np.asarray(session().run(None, {"A": query_u8, "B": block})[0]).reshape(-1)
    y -= QUERY_OFFSET * column_sums
    return y
