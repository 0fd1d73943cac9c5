"""OutModel reads a response straight from an ORM row; Page[T] is the list shape of new
endpoints, usable as a FastAPI response model."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import AliasChoices, Field

from callscribe.calls.models import Engagement, Turn
from callscribe.kit.schemas import OutModel, Page


class TurnShape(OutModel):
    seq: int
    role: str
    text: str


class CallShape(OutModel):
    id: uuid.UUID
    status: str
    duration_seconds: float | None = Field(validation_alias=AliasChoices("duration_s"))
    created_at: datetime | None = None


def test_out_model_reads_attributes_of_a_row() -> None:
    turn = Turn(seq=3, role="agent", text="Hello", start_ms=0, end_ms=10)
    assert TurnShape.model_validate(turn).model_dump() == {
        "seq": 3,
        "role": "agent",
        "text": "Hello",
    }
    call = Engagement(id=uuid.uuid4(), status="completed", duration_s=12.5)
    out = CallShape.model_validate(call)
    assert out.duration_seconds == 12.5 and out.model_dump(mode="json")["status"] == "completed"


def test_page_of_out_models_is_a_response_model() -> None:
    app = FastAPI()

    @app.get("/turns", response_model=Page[TurnShape])
    def turns() -> Page[TurnShape]:
        rows = [Turn(seq=i, role="customer", text=f"t{i}") for i in range(3)]
        return Page[Turn](items=rows, total=7, page=2, page_size=3).map(TurnShape.model_validate)

    with TestClient(app) as client:
        body = client.get("/turns").json()
        schema = client.get("/openapi.json").json()
    assert body == {
        "items": [{"seq": i, "role": "customer", "text": f"t{i}"} for i in range(3)],
        "total": 7,
        "page": 2,
        "page_size": 3,
    }
    page_schema = schema["components"]["schemas"]["Page_TurnShape_"]
    assert set(page_schema["required"]) == {"items", "total", "page", "page_size"}
    assert page_schema["properties"]["page_size"]["maximum"] == 200
    assert page_schema["properties"]["items"]["items"] == {"$ref": "#/components/schemas/TurnShape"}
