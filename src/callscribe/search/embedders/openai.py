"""Any OpenAI-compatible `/v1/embeddings` endpoint, through the guarded outbound client.

Texts go in batches of BATCH; each request asks for INDEX_DIM dimensions (the index's
width: models that can shorten their vectors, like text-embedding-3-*, do; an endpoint
that answers another width is refused with a clear error rather than stored). Texts are
cut to MAX_CHARS characters before sending: the endpoint's own token limit would
otherwise refuse the whole batch; that truncation is explicit here, not the server's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from callscribe.errors import CallscribeError, ErrorCode
from callscribe.search.embedders.base import INDEX_DIM, l2_normalise
from callscribe.security import http

BATCH = 64  # texts per request
MAX_CHARS = 8000  # about 2,000 tokens: within every common embedding model's limit
TIMEOUT_S = 60.0


class EmbeddingFailed(CallscribeError):
    code = ErrorCode.EMBEDDING_FAILED
    status = 502


class OpenAIEmbedder:
    dim = INDEX_DIM

    def __init__(self, *, base_url: str, model: str, api_key: str | None) -> None:
        self.base_url = base_url.rstrip("/")  # ends before /embeddings, e.g. .../v1
        self.model = model
        self.name = f"openai:{model}"[:80]
        self._api_key = (api_key or "").strip()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        url = f"{self.base_url}/embeddings"
        with http.OutboundClient(timeout=TIMEOUT_S, secrets=[self._api_key]) as client:
            for start in range(0, len(texts), BATCH):
                batch = [(t or " ")[:MAX_CHARS] for t in texts[start : start + BATCH]]
                payload = {"model": self.model, "input": batch, "dimensions": self.dim}
                # embeddings are idempotent: retried on 429/5xx with backoff
                response = client.request("POST", url, json=payload, headers=headers, retries=2)
                if response.status_code in (401, 403):
                    raise EmbeddingFailed(
                        "The embeddings endpoint refused the API key.",
                        code=ErrorCode.EMBEDDING_KEY_REFUSED,
                    )
                if response.status_code >= 400:
                    raise EmbeddingFailed(
                        f"The embeddings endpoint answered HTTP {response.status_code}."
                    )
                out[start : start + len(batch)] = self._vectors(response, len(batch))
        return l2_normalise(out)

    def _vectors(self, response: object, n: int) -> np.ndarray:
        try:
            data = response.json()["data"]  # type: ignore[attr-defined]
            rows = sorted(data, key=lambda d: int(d.get("index", 0)))
            vectors = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EmbeddingFailed(
                "The embeddings endpoint answered something else than embeddings."
            ) from exc
        if vectors.shape != (n, self.dim):
            raise EmbeddingFailed(
                f"The embeddings endpoint answered vectors of shape {vectors.shape}, "
                f"expected ({n}, {self.dim}): choose a model that gives {self.dim} dimensions."
            )
        return vectors
