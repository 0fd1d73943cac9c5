"""Shapes of the customers API."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from callscribe.kit.schemas import OutModel

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


class CrmObjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    connection_id: str = Field(..., min_length=1, max_length=100)
    object_type: str = Field(..., min_length=1, max_length=60)
    object_id: str = Field(..., min_length=1, max_length=200)


class CustomerIn(BaseModel):
    """One customer. `phone`/`email` are shorthands for one-element `phones`/`emails`."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Crystal Minh",
                    "phones": ["(977) 625-2661"],
                    "emails": ["cminh730@email.com"],
                    "company": "Minh Imports",
                    "stage": "lead",
                    "tags": ["vip"],
                    "custom_fields": {"plan": "bronze"},
                    "crm_objects": [
                        {
                            "connection_id": "hubspot-main",
                            "object_type": "contact",
                            "object_id": "C-1",
                        }
                    ],
                }
            ]
        },
    )

    name: str | None = Field(None, max_length=200)
    phones: list[str] = Field(default_factory=list, max_length=20)
    emails: list[str] = Field(default_factory=list, max_length=20)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=320)
    company: str | None = Field(None, max_length=200)
    stage: str | None = Field(None, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=50)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    crm_objects: list[CrmObjectIn] = Field(default_factory=list, max_length=50)

    @field_validator("phones", "emails", "tags")
    @classmethod
    def short_items(cls, v: list[str]) -> list[str]:
        out = [str(x).strip() for x in v if str(x).strip()]
        if any(len(x) > 320 for x in out):
            raise ValueError("items are at most 320 characters")
        return out

    @field_validator("custom_fields")
    @classmethod
    def plain_values(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, value in v.items():
            if isinstance(value, (dict, list)):
                raise ValueError(f"custom field {key!r} must be a plain value")
        return v

    @model_validator(mode="after")
    def fold_single(self) -> CustomerIn:
        if self.phone:
            self.phones = [self.phone, *[p for p in self.phones if p != self.phone]]
        if self.email:
            self.emails = [self.email, *[e for e in self.emails if e != self.email]]
        self.phone = self.email = None
        if self.name == "":
            self.name = None
        return self


class CrmObjectOut(OutModel):
    connection_id: str
    object_type: str
    object_id: str


class CustomerOut(OutModel):
    id: uuid.UUID
    name: str | None
    phones: list[str]
    emails: list[str]
    company: str | None = Field(validation_alias=AliasChoices("company_name", "company"))
    stage: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    crm_objects: list[CrmObjectOut] = []
    created_at: datetime
    updated_at: datetime

    @field_validator("phones", "emails", "tags", mode="before")
    @classmethod
    def no_list_is_empty(cls, v: Any) -> Any:
        return v or []

    @field_validator("custom_fields", mode="before")
    @classmethod
    def no_fields_is_empty(cls, v: Any) -> Any:
        return v or {}


class SuggestionOut(OutModel):
    customer_id: uuid.UUID
    name: str | None
    score: float = Field(description="0-1 name similarity (1 for the same phone)")


class RowResultOut(OutModel):
    row: int
    status: Literal["created", "updated", "skipped", "error"]
    customer_id: uuid.UUID | None = None
    duplicate_of: uuid.UUID | None = Field(
        None, description="The existing customer this row matched exactly"
    )
    matched_on: list[str] = Field(default_factory=list, description="phone and/or email")
    suggestions: list[SuggestionOut] = Field(
        default_factory=list, description="Near matches (similar names) for a person to check"
    )
    error: str | None = None


class ImportResult(BaseModel):
    success: bool = True
    created: int
    updated: int
    skipped: int
    errors: int
    results: list[RowResultOut]


class CustomerPage(BaseModel):
    success: bool = True
    total: int
    page: int
    page_size: int
    customers: list[CustomerOut]


class StagesIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"stages": ["lead", "trial", "customer", "churned"]}]},
    )
    stages: list[str] = Field(..., min_length=1, max_length=50)

    @field_validator("stages")
    @classmethod
    def names(cls, v: list[str]) -> list[str]:
        out = [s.strip() for s in v]
        if any(not s or len(s) > 100 for s in out):
            raise ValueError("stage names are 1-100 characters")
        return out


class StagesOut(BaseModel):
    stages: list[str]


class FieldDefIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = Field(..., description="lower_snake_case, up to 60 characters")
    label: str | None = Field(None, max_length=100)
    type: Literal["text", "number", "date", "choice"]
    choices: list[str] | None = Field(None, max_length=100)

    @field_validator("key")
    @classmethod
    def key_format(cls, v: str) -> str:
        if not KEY_RE.match(v):
            raise ValueError("use lower_snake_case letters, digits and _ (max 60)")
        return v

    @field_validator("choices")
    @classmethod
    def choice_names(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and any(not c.strip() or len(c) > 100 for c in v):
            raise ValueError("choices are 1-100 characters")
        return v


class FieldDefsIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fields": [
                        {"key": "plan", "type": "choice", "choices": ["bronze", "gold"]},
                        {"key": "seats", "type": "number"},
                        {"key": "renewal", "type": "date"},
                    ]
                }
            ]
        },
    )
    fields: list[FieldDefIn] = Field(..., max_length=200)


class FieldDefOut(OutModel):
    key: str
    label: str
    type: str
    choices: list[str] | None


class FieldDefsOut(BaseModel):
    fields: list[FieldDefOut]


class LinkOut(OutModel):
    id: uuid.UUID
    call_id: uuid.UUID = Field(validation_alias=AliasChoices("engagement_id", "call_id"))
    kind: str
    reason: str | None
    score: float | None
    customer_id: uuid.UUID | None
    customer_name: str | None = None
