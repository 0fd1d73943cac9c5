from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from tests.conftest import AUDIO, CompanyCtx
from tests.connectors.fakes import FakeCallCenter, FakeCloudVoice


def _wav(samples: np.ndarray, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return out.getvalue()


@dataclass(frozen=True)
class Tracks:
    """The two sides of stereo_diarization.wav as separate mono WAV tracks: the voice
    agent (left: "...complaint against the wizard...") and the customer (right: "The
    horizon seems extremely distant.")."""

    bot: bytes
    user: bytes
    mixed: bytes  # jfk.flac: a mono-ish recording of one speaker


@pytest.fixture(scope="session")
def tracks() -> Tracks:
    with wave.open(str(AUDIO / "stereo_diarization.wav")) as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return Tracks(
        bot=_wav(frames[:, 0]),
        user=_wav(frames[:, 1]),
        mixed=(AUDIO / "jfk.flac").read_bytes(),
    )


@pytest.fixture
def cloudvoice() -> Iterator[FakeCloudVoice]:
    server = FakeCloudVoice().start()
    yield server
    server.stop()


@pytest.fixture
def call_center() -> Iterator[FakeCallCenter]:
    server = FakeCallCenter().start()
    yield server
    server.stop()


def add_connector(company: CompanyCtx, type_: str, server, **kw):  # type: ignore[no-untyped-def]
    """A connector of the company pointing at a fake provider, created by the service."""
    from callscribe.auth.permissions import Role
    from callscribe.auth.principal import Principal
    from callscribe.connectors import service
    from callscribe.connectors.schemas import ConnectorCreate
    from callscribe.db import session_scope

    creds = kw.pop("credentials", None) or (
        {"api_key": server.api_key}
        if type_ == "cloudvoice"
        else {"username": server.username, "password": server.password}
    )
    with session_scope() as s:
        connector = service.create_connector(
            s,
            Principal(company_id=company.id, role=Role.ADMIN),
            ConnectorCreate(
                type=type_,
                name=kw.pop("name", type_),
                base_url=server.base_url,
                credentials=creds,
                **kw,
            ),
        )
        return connector.id


def calls_of(company: CompanyCtx, source: str | None = None) -> list:
    from sqlalchemy import select

    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    with session_scope() as s:
        stmt = select(Engagement).where(Engagement.company_id == company.id)
        if source:
            stmt = stmt.where(Engagement.source == source)
        return list(s.scalars(stmt.order_by(Engagement.created_at)))


def connector_row(connector_id):  # type: ignore[no-untyped-def]
    from callscribe.connectors.models import Connector
    from callscribe.db import session_scope

    with session_scope() as s:
        return s.get(Connector, connector_id)
