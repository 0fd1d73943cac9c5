"""Batches for the ZIP ingest tests, built from the real transcripts in tests/data: the
ABCD chats, a Harper Valley call and the start of a QMSum meeting, with their agents,
customers and a few transactions."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import DATA

ABCD = DATA / "transcripts" / "abcd" / "abcd_sample.json"
HARPER = DATA / "transcripts" / "harper_valley" / "0002f70f7386445b.transcript.json"
QMSUM = DATA / "transcripts" / "qmsum" / "ES2004a.json"
T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
MEETING_TURNS = 40  # the start of the meeting keeps the test fast


def data_sets() -> dict[str, list[dict[str, Any]]]:
    agents = [
        {
            "id": "a-sam",
            "name": "Sam Agent",
            "email": "sam@example.com",
            "team": "Chat",
            "department": "Support",
            "location": "Lisbon",
        },
        {"id": "a-hv", "name": "Harper Agent", "team": "Cards", "department": "Banking"},
        {"id": "a-pm", "name": "Project Manager", "team": "Design", "is_technical": False},
    ]
    customers: list[dict[str, Any]] = []
    engagements: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for n, convo in enumerate(json.loads(ABCD.read_text())):
        person = convo["scenario"]["personal"]
        cid = f"c-{convo['convo_id']}"
        customers.append(
            {
                "id": cid,
                "name": person["customer_name"].title(),
                "phones": [p for p in [person.get("phone")] if p],
                "emails": [e for e in [person.get("email")] if e],
            }
        )
        eid = f"abcd-{convo['convo_id']}"
        engagements.append(
            {
                "id": eid,
                "channel": "chat",
                "direction": "inbound",
                "started_at": (T0 + timedelta(hours=n)).isoformat(),
                "agent_id": "a-sam",
                "customer_id": cid,
                "queue": "chat-support",
                "outcome": "resolved",
                "attributes": {"member_level": person.get("member_level") or "none"},
                "facts": {"csat": 4 + n % 2},
            }
        )
        for seq, (role, text) in enumerate(convo["original"]):
            turns.append(
                {
                    "id": f"{eid}-{seq}",
                    "engagement_id": eid,
                    "seq": seq,
                    "role": "bot" if role == "action" else role,
                    "text": text,
                    "start_ms": seq * 20_000,
                }
            )
    customers.append({"id": "c-harper", "name": "Harper Caller", "phones": ["+1 415 555 0100"]})
    engagements.append(
        {
            "id": "hv-0002f70f7386445b",
            "channel": "voice",
            "direction": "inbound",
            "started_at": (T0 + timedelta(days=1)).isoformat(),
            "agent_id": "a-hv",
            "customer_id": "c-harper",
            "queue": "cards",
            "talk_s": 64.5,
            "hold_s": 0,
            "recording_url": "https://recordings.example.com/hv/0002f70f7386445b.wav",
        }
    )
    for seq, t in enumerate(sorted(json.loads(HARPER.read_text()), key=lambda t: t["start_ms"])):
        turns.append(
            {
                "id": f"hv-{t['index']}",
                "engagement_id": "hv-0002f70f7386445b",
                "seq": seq,
                "role": t["speaker_role"] if t["speaker_role"] in ("agent", "customer") else "bot",
                "text": t["human_transcript"] or t["transcript"] or "(inaudible)",
                "start_ms": t["start_ms"],
                "end_ms": t["start_ms"] + t["duration_ms"],
            }
        )
    meeting = json.loads(QMSUM.read_text())["meeting_transcripts"][:MEETING_TURNS]
    engagements.append(
        {
            "id": "qmsum-ES2004a",
            "channel": "voice",
            "direction": "internal",
            "started_at": (T0 + timedelta(days=2)).isoformat(),
            "agent_id": "a-pm",
            "subject": "Remote control design kick-off",
        }
    )
    for seq, t in enumerate(meeting):
        turns.append(
            {
                "id": f"es-{seq}",
                "engagement_id": "qmsum-ES2004a",
                "seq": seq,
                "role": "agent" if t["speaker"] == "Project Manager" else "customer",
                "speaker": t["speaker"],
                "text": t["content"],
                "start_ms": seq * 6000,
            }
        )
    transactions = [
        {
            "id": "t-1",
            "engagement_id": engagements[0]["id"],
            "customer_id": customers[0]["id"],
            "agent_id": "a-sam",
            "kind": "refund",
            "revenue": -25.0,
            "currency": "USD",
            "occurred_at": (T0 + timedelta(minutes=7, seconds=42)).isoformat(),
        },
        {
            "id": "t-2",
            "engagement_id": "hv-0002f70f7386445b",
            "customer_id": "c-harper",
            "kind": "card_replacement",
            "cost": 5,
            "currency": "USD",
            "facts": {"cards": 1},
        },
        {
            "id": "t-3",
            "customer_id": customers[1]["id"],
            "kind": "sale",
            "revenue": 120.5,
            "currency": "eur",
            "service_id": "s-premium",
        },
    ]
    services = [{"id": "s-premium", "name": "Premium membership", "category": "membership"}]
    # the source's QA: two questions, a person's scored review and `Reviewed` tag on the
    # first chat, and its AI's flag on that chat's third turn
    questions = [
        {
            "id": "q-greet",
            "text": "Did the agent greet the customer?",
            "kind": "binary",
            "weight": 2,
        },
        {
            "id": "q-tone",
            "text": "The agent's tone",
            "kind": "single_choice",
            "choices": ["Warm", "Neutral", "Cold"],
        },
    ]
    first_chat = engagements[0]["id"]
    reviews = [
        {"id": "r-1", "engagement_id": first_chat, "tag": "Reviewed", "reviewer": "QA Lead"},
        {
            "id": "r-2",
            "engagement_id": first_chat,
            "answers": {"q-greet": True, "q-tone": "Warm"},
            "score": 92.5,
            "comment": "Friendly and quick.",
            "reviewer": "QA Lead",
            "created_at": (T0 + timedelta(hours=3)).isoformat(),
        },
        {
            "id": "r-3",
            "engagement_id": first_chat,
            "turn_seq": 2,
            "tag": "Return request",
            "reviewer_kind": "ai",
            "confidence": 0.81,
        },
    ]
    return {
        "agents": agents,
        "customers": customers,
        "services": services,
        "questions": questions,
        "engagements": engagements,
        "turns": turns,
        "reviews": reviews,
        "transactions": transactions,
    }


def jsonl(items: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


def build_zip(
    sets: dict[str, list[dict[str, Any]]], *, gz: tuple[str, ...] = ("turns",), split_turns: int = 2
) -> bytes:
    """The data sets as a ZIP: turns in `split_turns` parts, the `gz` ones gzipped."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, items in sets.items():
            parts = [items]
            if name == "turns" and split_turns > 1:
                size = -(-len(items) // split_turns)
                parts = [items[i : i + size] for i in range(0, len(items), size)]
            for p, part in enumerate(parts):
                base = name if len(parts) == 1 else f"{name}-{p + 1}"
                body = jsonl(part)
                if name in gz:
                    archive.writestr(f"{base}.jsonl.gz", gzip.compress(body))
                else:
                    archive.writestr(f"{base}.jsonl", body)
    return out.getvalue()


class Api:
    """The ingest API through the app in process: an ingest key and a source of the
    company, and the three upload steps."""

    def __init__(self, client: Any, company: Any) -> None:
        self.client = client
        self.company = company
        r = client.post(
            "/api/v1/ingest/sources", json={"name": "Legacy export"}, headers=company.headers
        )
        assert r.status_code == 201, r.text
        self.source_id = r.json()["ingestionSourceId"]
        r = client.post("/api/v1/ingest/keys", json={"name": "tests"}, headers=company.headers)
        assert r.status_code == 201, r.text
        self.secret = r.json()["secret"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def upload_url(
        self, source_id: str | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        return self.client.post(
            "/api/v1/ingest/upload-url",
            json={"ingestionSourceId": source_id or self.source_id},
            headers=self.headers if headers is None else headers,
        )

    def put(self, url: str, body: bytes) -> Any:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        return self.client.put(
            f"{parts.path}?{parts.query}", content=body, headers={"Content-Type": "application/zip"}
        )

    def send(self, body: bytes) -> str:
        r = self.upload_url()
        assert r.status_code == 200, r.text
        answer = r.json()
        assert set(answer) == {"uploadUrl", "batchId", "expiresAt"}
        put = self.put(answer["uploadUrl"], body)
        assert put.status_code == 202, put.text
        return str(answer["batchId"])

    def batch(self, batch_id: str) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/ingest/batches/{batch_id}", headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()
