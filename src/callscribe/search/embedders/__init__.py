"""Embedders behind one Protocol and a registry: `local` (bundled MiniLM, the default)
and `openai` (any OpenAI-compatible /v1/embeddings endpoint, a company setting)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from callscribe.search.embedders.base import INDEX_DIM, Embedder, l2_normalise
from callscribe.search.models import SearchSettings

__all__ = ["INDEX_DIM", "REGISTRY", "Embedder", "get_embedder", "l2_normalise"]


def _local(_settings: SearchSettings | None) -> Embedder:
    from callscribe.search.embedders.minilm import MiniLMEmbedder

    return MiniLMEmbedder()


def _openai(settings: SearchSettings | None) -> Embedder:
    from callscribe.errors import ValidationFailed
    from callscribe.search.embedders.openai import OpenAIEmbedder
    from callscribe.search.settings import embedding_key

    if settings is None or not settings.embedding_base_url or not settings.embedding_model:
        raise ValidationFailed("The OpenAI-compatible embedder needs a base URL and a model.")
    return OpenAIEmbedder(
        base_url=settings.embedding_base_url,
        model=settings.embedding_model,
        api_key=embedding_key(settings),
    )


# name -> factory(company settings row or None)
REGISTRY: dict[str, Callable[[SearchSettings | None], Embedder]] = {
    "local": _local,
    "openai": _openai,
}


def get_embedder(session: Session, company_id: uuid.UUID) -> Embedder:
    """The company's embedder (the bundled local one unless its settings say otherwise)."""
    settings = session.get(SearchSettings, company_id)
    name = settings.embedder if settings is not None else "local"
    factory = REGISTRY.get(name or "local")
    if factory is None:
        from callscribe.errors import ValidationFailed

        raise ValidationFailed(f"Unknown embedder {name!r}; choose one of {sorted(REGISTRY)}.")
    return factory(settings)
