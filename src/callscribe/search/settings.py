"""A company's search settings (which embedder; the OpenAI-compatible endpoint's URL,
model and key): the view shown to admins and the update that validates it. The key is
Fernet-encrypted at rest and shown only as "set" and its last 4 characters."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from callscribe.errors import ValidationFailed
from callscribe.search.models import SearchSettings
from callscribe.security.crypto import decrypt_secret, encrypt_secret, secret_last4
from callscribe.security.outbound import check_url

EMBEDDERS = ("local", "openai")


def get_search_settings(session: Session, company_id: uuid.UUID) -> SearchSettings:
    row = session.get(SearchSettings, company_id)
    if row is None:
        row = SearchSettings(company_id=company_id, embedder="local")
        session.add(row)
        session.flush()
    return row


def embedding_key(row: SearchSettings) -> str | None:
    return decrypt_secret(row.embedding_api_key_enc) if row.embedding_api_key_enc else None


def search_settings_view(row: SearchSettings) -> dict[str, Any]:
    return {
        "embedder": row.embedder or "local",
        "embedding_base_url": row.embedding_base_url,
        "embedding_model": row.embedding_model,
        "embedding_api_key_set": bool(row.embedding_api_key_enc),
        "embedding_api_key_last4": row.embedding_api_key_last4,
    }


def update_search_settings(row: SearchSettings, changes: dict[str, Any]) -> bool:
    """Apply the fields present in `changes`; returns True when the embedder changed
    (vectors of the old one do not compare with the new one's: reindex the company)."""
    before = (row.embedder, row.embedding_base_url, row.embedding_model)
    for key, value in changes.items():
        if key == "embedder":
            if value not in EMBEDDERS:
                raise ValidationFailed(f"embedder must be one of {', '.join(EMBEDDERS)}.")
            row.embedder = value
        elif key == "embedding_base_url":
            if value:
                check_url(value)
                value = str(value).rstrip("/")
            row.embedding_base_url = value or None
        elif key == "embedding_model":
            row.embedding_model = (str(value).strip() or None) if value else None
        elif key == "embedding_api_key":
            if value:
                row.embedding_api_key_enc = encrypt_secret(value)
                row.embedding_api_key_last4 = secret_last4(value)
            else:
                row.embedding_api_key_enc = None
                row.embedding_api_key_last4 = None
        else:
            raise ValidationFailed(f"Unknown search setting {key!r}.")
    if row.embedder == "openai" and not (row.embedding_base_url and row.embedding_model):
        raise ValidationFailed("The OpenAI-compatible embedder needs a base URL and a model.")
    return before != (row.embedder, row.embedding_base_url, row.embedding_model)
