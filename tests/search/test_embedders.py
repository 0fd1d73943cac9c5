"""The embedder contract, one class over every registered embedder: the bundled MiniLM
and an OpenAI-compatible endpoint (a local server speaking the /v1/embeddings protocol)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import numpy as np
import pytest

from callscribe.search.embedders import REGISTRY, Embedder
from callscribe.search.embedders.base import INDEX_DIM
from tests.httpservers import send_bytes, serve

KEY = "sk-test-embeddings-0123456789"


def _hash_vector(text: str, dim: int) -> list[float]:
    """A bag of hashed words: texts sharing words point the same way (not normalised, as
    real endpoints need not be)."""
    v = np.zeros(dim)
    for word in text.lower().split():
        h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big")
        v[h % dim] += 1.0 + (h >> 16) % 3
    return (v * 3.0 + 0.01).tolist()


def embeddings_server(batches: list[int], *, dim: int | None = None, key: str = KEY):  # type: ignore[no-untyped-def]
    def handle(h: BaseHTTPRequestHandler) -> None:
        body = json.loads(h.rfile.read(int(h.headers["Content-Length"])))
        if h.headers.get("Authorization") != f"Bearer {key}":
            send_bytes(h, b'{"error": {"message": "Incorrect API key"}}', "application/json", 401)
            return
        texts = body["input"]
        batches.append(len(texts))
        width = dim or int(body.get("dimensions") or 1536)
        data = [
            {"object": "embedding", "index": i, "embedding": _hash_vector(t, width)}
            for i, t in enumerate(texts)
        ]
        data.reverse()  # the protocol orders by "index", not by position
        answer = {"object": "list", "data": data, "model": body["model"], "usage": {}}
        send_bytes(h, json.dumps(answer).encode(), "application/json")

    return serve({"/v1/embeddings": handle})


@pytest.fixture(params=sorted(REGISTRY))
def embedder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Embedder]:
    if request.param == "local":
        from callscribe.search.embedders.minilm import MiniLMEmbedder

        yield MiniLMEmbedder()
        return
    from callscribe.search.embedders.openai import OpenAIEmbedder
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "true")  # the server is on 127.0.0.1
    reset_settings()
    batches: list[int] = []
    with embeddings_server(batches) as url:
        e = OpenAIEmbedder(base_url=f"{url}/v1", model="text-embedding-3-small", api_key=KEY)
        e.batches = batches  # type: ignore[attr-defined]
        yield e
    reset_settings()


TEXTS = [
    "I would like a refund for my order",
    "Hi!",
    "",
    "The promo code expires after seven days",
    "I would like a refund for my order",
]


class TestEmbedderContract:
    def test_gives_one_normalised_float32_vector_per_text(self, embedder: Embedder) -> None:
        vectors = embedder.embed(TEXTS)
        assert vectors.shape == (len(TEXTS), INDEX_DIM) and embedder.dim == INDEX_DIM
        assert vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert embedder.name

    def test_nothing_in_gives_nothing_out(self, embedder: Embedder) -> None:
        assert embedder.embed([]).shape == (0, INDEX_DIM)

    def test_a_batch_gives_each_text_the_vector_it_gets_alone(self, embedder: Embedder) -> None:
        from callscribe.search.embedders.minilm import clear_cache

        together = embedder.embed(TEXTS)
        for i, text in enumerate(TEXTS):
            clear_cache()  # computed again, alone (not the remembered vector)
            assert np.allclose(together[i], embedder.embed([text])[0], atol=1e-4)
        assert np.allclose(together[0], together[4])

    def test_more_texts_than_a_batch_keep_their_order(self, embedder: Embedder) -> None:
        from callscribe.search.embedders.minilm import clear_cache

        texts = [f"customer {i} asks about order number {i * 7}" for i in range(150)]
        vectors = embedder.embed(texts)
        assert vectors.shape == (150, INDEX_DIM)
        for i in (0, 63, 64, 149):
            clear_cache()
            assert np.allclose(vectors[i], embedder.embed([texts[i]])[0], atol=1e-4)
        if hasattr(embedder, "batches"):
            assert max(embedder.batches) <= 64 and len(embedder.batches) >= 3

    def test_texts_sharing_words_are_nearer_than_unrelated_ones(self, embedder: Embedder) -> None:
        a, b, c = embedder.embed(
            ["refund for my order please", "please refund my order", "the weather in Paris"]
        )
        assert float(a @ b) > float(a @ c)


def test_minilm_truncates_explicitly_at_256_tokens() -> None:
    """Words past MAX_TOKENS do not change the vector (the truncation is ours, declared)."""
    from callscribe.search.embedders.minilm import MAX_TOKENS, MiniLMEmbedder

    assert MAX_TOKENS == 256
    head = " ".join(["refund"] * 300)
    a, b, c = MiniLMEmbedder().embed([head, head + " the weather in Paris is lovely", "refund"])
    assert np.allclose(a, b, atol=1e-6)
    assert not np.allclose(a, c, atol=1e-3)


def test_openai_endpoint_refusing_the_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from callscribe.search.embedders.openai import EmbeddingFailed, OpenAIEmbedder
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "true")
    reset_settings()
    with embeddings_server([]) as url:
        e = OpenAIEmbedder(base_url=f"{url}/v1", model="m", api_key="sk-wrong-key-00000000")
        with pytest.raises(EmbeddingFailed) as err:
            e.embed(["hello"])
    assert "refused the API key" in err.value.message
    assert "sk-wrong" not in err.value.message
    reset_settings()


def test_openai_endpoint_answering_another_width_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from callscribe.search.embedders.openai import EmbeddingFailed, OpenAIEmbedder
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "true")
    reset_settings()
    with embeddings_server([], dim=1536) as url:
        e = OpenAIEmbedder(base_url=f"{url}/v1", model="ada", api_key=KEY)
        with pytest.raises(EmbeddingFailed) as err:
            e.embed(["hello"])
    assert "384 dimensions" in err.value.message
    reset_settings()


def test_company_setting_picks_the_openai_embedder_and_keeps_the_key_encrypted(
    session,
    company,  # type: ignore[no-untyped-def]
) -> None:
    from callscribe.errors import ValidationFailed
    from callscribe.search import settings as search_settings
    from callscribe.search.embedders import get_embedder
    from callscribe.search.embedders.openai import OpenAIEmbedder
    from callscribe.search.models import SearchSettings

    assert get_embedder(session, company.id).name.startswith("minilm")
    with embeddings_server([]) as url:
        row = search_settings.get_search_settings(session, company.id)
        with pytest.raises(ValidationFailed):
            search_settings.update_search_settings(row, {"embedder": "openai"})
        changed = search_settings.update_search_settings(
            row,
            {
                "embedder": "openai",
                "embedding_base_url": f"{url}/v1/",
                "embedding_model": "m",
                "embedding_api_key": KEY,
            },
        )
        session.flush()
        assert changed
        stored = session.get(SearchSettings, company.id)
        assert KEY not in (stored.embedding_api_key_enc or "")
        view = search_settings.search_settings_view(stored)
        assert view["embedding_api_key_set"] and KEY not in json.dumps(view)
        embedder = get_embedder(session, company.id)
        assert isinstance(embedder, OpenAIEmbedder) and embedder.base_url == f"{url}/v1"
        assert embedder.embed(["hello there"]).shape == (1, INDEX_DIM)
    with pytest.raises(ValidationFailed):
        search_settings.update_search_settings(row, {"embedder": "word2vec"})
