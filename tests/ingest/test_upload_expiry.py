"""Abandoned uploads expire (issue 17 #15): tus advertises the Expiration extension and
sends Upload-Expires; the worker's sweep deletes expired tus uploads and unused signed
uploads with their bytes, and keeps live and completed ones."""

from __future__ import annotations

import base64
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from tests.conftest import AUDIO, CompanyCtx, LiveServer

WAV = (AUDIO / "sample.wav").read_bytes()
TUS = {"Tus-Resumable": "1.0.0"}


def test_tus_advertises_expiration_and_the_sweep_deletes_abandoned_uploads(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    from callscribe import worker
    from callscribe.db import session_scope, utcnow
    from callscribe.ingest.models import RecordingUpload, TusUpload
    from callscribe.storage import get_store

    assert any(s.name == "expired uploads" for s in worker.SWEEPS)
    h = {**company.headers, **TUS}
    meta = "filename " + base64.b64encode(b"call.wav").decode()
    create = {**h, "Upload-Length": str(len(WAV)), "Upload-Metadata": meta}
    with api_server.client() as client:
        assert "expiration" in client.options("/api/uploads/").headers["Tus-Extension"]
        r = client.post("/api/uploads/", headers=create)
        expires = parsedate_to_datetime(r.headers["Upload-Expires"])
        assert timedelta(hours=4) < expires - utcnow() <= timedelta(hours=5, minutes=1)
        abandoned = r.headers["Location"]
        r = client.patch(
            abandoned,
            headers={**h, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
            content=WAV[:1000],
        )
        assert "Upload-Expires" in r.headers
        assert "Upload-Expires" in client.head(abandoned, headers=h).headers
        live = client.post("/api/uploads/", headers=create).headers["Location"]
        signed = client.post(
            "/api/v1/recordings/signed-urls", headers=company.headers, json={}
        ).json()
        assert httpx.put(signed["uploadUrl"], content=WAV, timeout=30).status_code == 200

    with session_scope() as s:
        aid = abandoned.rsplit("/", 1)[1]
        tus_rows = {str(u.id): u for u in s.query(TusUpload).all()}
        old = tus_rows[aid]
        old_part = Path(old.part_path)
        assert old_part.stat().st_size == 1000
        old.updated_at = utcnow() - timedelta(hours=6)
        (up,) = s.query(RecordingUpload).all()
        up.expires_at = utcnow() - timedelta(hours=25)
        blob_key = up.blob_key
    assert get_store().exists(blob_key)
    with api_server.client() as client:  # expired: gone for the client at once
        assert client.head(abandoned, headers=h).status_code == 404

    assert worker.ingest_tasks.sweep_expired_uploads() == 2
    assert not old_part.exists() and not get_store().exists(blob_key)
    with session_scope() as s:
        left = [str(u.id) for u in s.query(TusUpload).all()]
        assert left == [live.rsplit("/", 1)[1]]
        assert s.query(RecordingUpload).count() == 0
    assert worker.ingest_tasks.sweep_expired_uploads() == 0
