"""Shapes of the ZIP ingest API (camelCase, as the issue gives them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SourceIn(_In):
    name: str = Field(min_length=1, max_length=200, examples=["Legacy PBX export"])


class SourceOut(BaseModel):
    ingestion_source_id: str = Field(serialization_alias="ingestionSourceId")
    name: str


class KeyIn(_In):
    name: str | None = Field(None, max_length=200, examples=["Nightly export job"])


class KeyOut(BaseModel):
    secret: str = Field(description="Shown once: it is stored hashed.")


class UploadUrlIn(_In):
    ingestion_source_id: str = Field(
        alias="ingestionSourceId", examples=["0b7f2c1e-4a8d-4e2f-9c51-6a3d2b1f0e9a"]
    )


class UploadUrlOut(BaseModel):
    upload_url: str = Field(serialization_alias="uploadUrl")
    batch_id: str = Field(serialization_alias="batchId")
    expires_at: datetime = Field(serialization_alias="expiresAt")


class BatchCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0


class BatchFileOut(BatchCounts):
    name: str
    data_set: str | None = Field(serialization_alias="dataSet")
    status: str
    lines: int


class BatchMessage(BaseModel):
    level: str
    code: str
    message: str
    data_set: str | None = Field(None, serialization_alias="dataSet")
    file: str | None = None
    line: int | None = None
    id: str | None = None


class BatchOut(BaseModel):
    """A batch's status: pending (URL handed out), uploaded, processing, completed,
    completed_with_warnings, failed."""

    batch_id: str = Field(serialization_alias="batchId")
    ingestion_source_id: str = Field(serialization_alias="ingestionSourceId")
    status: str
    error: dict[str, Any] | None = None
    size: int | None = None
    created_at: str = Field(serialization_alias="createdAt")
    uploaded_at: str | None = Field(None, serialization_alias="uploadedAt")
    finished_at: str | None = Field(None, serialization_alias="finishedAt")
    data_sets: dict[str, BatchCounts] = Field(serialization_alias="dataSets")
    files: list[BatchFileOut]
    messages: list[dict[str, Any]]
    message_count: int = Field(serialization_alias="messageCount")
