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
