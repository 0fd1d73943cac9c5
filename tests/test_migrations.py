"""Migrations are the schema: upgrading an empty database gives exactly the models."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    import uuid

    from tests.conftest import _pg_admin, _pg_url_for

    server = request.getfixturevalue("pg_server_url")
    name = f"cs_empty_{uuid.uuid4().hex[:8]}"
    with _pg_admin(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _pg_url_for(server, name)
    from callscribe.db import dispose_engines

    dispose_engines()
    with _pg_admin(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_then_check_finds_no_drift(empty_db_url: str) -> None:
    from alembic import command

    from callscribe.db import alembic_config

    cfg = alembic_config(empty_db_url)
    command.upgrade(cfg, "head")
    command.check(cfg)  # raises if models and migrations differ
    command.upgrade(cfg, "head")  # idempotent


def test_every_migration_can_be_downgraded(empty_db_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from callscribe.db import alembic_config, make_engine

    cfg = alembic_config(empty_db_url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    engine = make_engine(empty_db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_have_a_single_head() -> None:
    """Branches built side by side are merged before they land."""
    from alembic.script import ScriptDirectory

    from callscribe.db import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, heads


def test_conversations_migration_backfills_existing_engagements(empty_db_url: str) -> None:
    """GIVEN engagements stored before conversations were made (revision 0009)
    WHEN 0014 runs
    THEN the same customer and source within 30 minutes of the last one's end share a
    conversation (started_at, direction and channel set from its engagements); another
    source, a later contact, another customer and no customer each get their own."""
    import uuid
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa
    from alembic import command

    from callscribe.db import JSONType, UTCDateTime, alembic_config, make_engine

    cfg = alembic_config(empty_db_url)
    command.upgrade(cfg, "0009")
    engine = make_engine(empty_db_url)
    t0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    company, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    meta = sa.MetaData()
    companies = sa.Table(
        "companies",
        meta,
        sa.Column("id", sa.Uuid()),
        sa.Column("name", sa.String()),
        sa.Column("created_at", UTCDateTime()),
    )
    customers = sa.Table(
        "customers",
        meta,
        *(sa.Column(n, sa.Uuid()) for n in ("id", "company_id")),
        *(sa.Column(n, JSONType) for n in ("phones", "emails", "tags", "custom_fields")),
        *(sa.Column(n, UTCDateTime()) for n in ("created_at", "updated_at")),
    )
    engagements = sa.Table(
        "engagements",
        meta,
        *(sa.Column(n, sa.Uuid()) for n in ("id", "company_id", "customer_id", "pid")),
        *(sa.Column(n, sa.String()) for n in ("channel", "source", "status", "direction")),
        sa.Column("progress", sa.Float()),
        sa.Column("duration_s", sa.Float()),
        sa.Column("attempts", sa.Integer()),
        sa.Column("meta", JSONType),
        *(sa.Column(n, UTCDateTime()) for n in ("started_at", "created_at", "updated_at")),
    )

    def engagement(name: str, customer, source: str, minutes: int, channel: str, **kw):  # type: ignore[no-untyped-def]
        return {
            "id": uuid.uuid5(uuid.NAMESPACE_DNS, name),
            "company_id": company,
            "customer_id": customer,
            "pid": kw.get("pid"),
            "channel": channel,
            "source": source,
            "status": "completed",
            "direction": kw.get("direction"),
            "progress": 0.0,
            "duration_s": kw.get("duration_s", 300.0),
            "attempts": 0,
            "meta": {},
            "started_at": t0 + timedelta(minutes=minutes),
            "created_at": t0,
            "updated_at": t0,
        }

    rows = [
        engagement("call", first, "api", 0, "voice", direction="inbound", pid=uuid.uuid4()),
        engagement("transfer", first, "api", 30, "chat", direction="outbound"),  # 25 min after
        engagement("later", first, "api", 120, "voice"),
        engagement("tickets", first, "tickets", 10, "email"),
        engagement("other", second, "api", 5, "voice"),
        engagement("nobody", None, "api", 1, "voice"),
    ]
    try:
        with engine.begin() as conn:
            conn.execute(companies.insert().values(id=company, name="Acme", created_at=t0))
            for cid in (first, second):
                conn.execute(
                    customers.insert().values(
                        id=cid,
                        company_id=company,
                        phones=[],
                        emails=[],
                        tags=[],
                        custom_fields={},
                        created_at=t0,
                        updated_at=t0,
                    )
                )
            conn.execute(engagements.insert(), rows)
        command.upgrade(cfg, "0014")
        with engine.connect() as conn:
            of = {
                uuid.UUID(str(r.id)): r.conversation_id and uuid.UUID(str(r.conversation_id))
                for r in conn.execute(sa.text("SELECT id, conversation_id FROM engagements"))
            }
            conversations = {
                uuid.UUID(str(r.id)): r
                for r in conn.execute(
                    sa.text(
                        "SELECT id, pid, kind, customer_id, source, started_at, direction, "
                        "channels FROM conversations"
                    )
                )
            }
    finally:
        engine.dispose()

    def conv(name: str):  # type: ignore[no-untyped-def]
        return of[uuid.uuid5(uuid.NAMESPACE_DNS, name)]

    assert None not in of.values()
    assert conv("call") == conv("transfer")
    assert len({conv(n) for n in ("call", "later", "tickets", "other", "nobody")}) == 5
    assert len(conversations) == 5
    grouped = conversations[conv("call")]
    channels = (
        grouped.channels
        if isinstance(grouped.channels, list)
        else __import__("json").loads(grouped.channels)
    )
    assert channels == ["chat", "voice"]
    assert grouped.direction == "inbound" and grouped.kind == "window"
    assert grouped.pid is not None  # from the first engagement's PID
    assert str(grouped.started_at).startswith("2026-11-20 10:00")
