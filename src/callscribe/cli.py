"""The `callscribe` command."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from callscribe.observability import configure_logging
from callscribe.settings import Settings, get_settings

app = typer.Typer(help="callscribe: calls in, transcripts and Minutes out.", no_args_is_help=True)
admin = typer.Typer(help="Scripting helpers for administrators.", no_args_is_help=True)
app.add_typer(admin, name="admin")
search_app = typer.Typer(help="The search index over every turn.", no_args_is_help=True)
app.add_typer(search_app, name="search")
err = Console(stderr=True)


def _logging() -> None:
    settings = get_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to bind (default CALLSCRIBE_HOST)"),
    port: int = typer.Option(None, help="Port (default CALLSCRIBE_PORT)"),
    worker: bool = typer.Option(True, help="Run queue consumers in this process"),
    web_workers: int = typer.Option(
        None, help="Web server processes (default CALLSCRIBE_WEB_WORKERS; 1 on a laptop)"
    ),
) -> None:
    """Run the web app and API, with an embedded queue consumer (SQLite by default)."""
    import uvicorn

    from callscribe.app import create_app
    from callscribe.db import migrate

    settings = get_settings()
    if host:
        settings.HOST = host
    if port:
        settings.PORT = port
    _logging()
    migrate()
    data_dir = settings.DATA_DIR.resolve()
    err.print(f"callscribe is running at [bold]{settings.public_url}[/bold]  (data: {data_dir})")
    processes = web_workers or settings.WEB_WORKERS
    server_options: dict = {
        "host": settings.HOST,
        "port": settings.PORT,
        "log_level": "warning",
        # X-Forwarded-* are applied by the app, from CALLSCRIBE_TRUSTED_PROXIES only
        "proxy_headers": False,
        # h11, not httptools: only h11 bounds the request head (httptools took 32 MB)
        "http": "h11",
        "h11_max_incomplete_event_size": settings.MAX_HEADER_BYTES,
        "timeout_keep_alive": settings.KEEP_ALIVE_S,
        "timeout_graceful_shutdown": int(settings.SHUTDOWN_GRACE_S),
    }
    if settings.LOG_FORMAT == "json":
        # uvicorn's own lines go to the root logger too (JSON), not its text handlers
        server_options["log_config"] = None
    if processes > 1:
        # uvicorn starts each process from the import string; settings travel by env
        os.environ["CALLSCRIBE_EMBEDDED_WORKER"] = "1" if worker else "0"
        os.environ["CALLSCRIBE_HOST"], os.environ["CALLSCRIBE_PORT"] = (
            settings.HOST,
            str(settings.PORT),
        )
        uvicorn.run(
            "callscribe.app:create_served_app",
            factory=True,
            workers=processes,
            **server_options,
        )
        return
    # uvicorn stops accepting, drains requests, runs the lifespan shutdown (which stops
    # the consumer within SHUTDOWN_GRACE_S), then re-raises the signal it caught to the
    # handler that was there before it: these, so a stop on request exits 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    uvicorn.run(create_app(embedded_worker=worker), **server_options)
    if threading.active_count() > 1:
        # a task cut off at the grace limit may be inside native code (CTranslate2) that
        # aborts when the interpreter tears its thread down; it is safe to leave: its
        # lease expires after STALE_AFTER_S and a later worker re-runs the call
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@app.command("worker")
def worker_cmd(
    workers: int = typer.Option(None, help="Consumer threads (default CALLSCRIBE_QUEUE_WORKERS)"),
) -> None:
    """Run only a queue consumer (scaled-out installs: Redis queue, shared database)."""
    from callscribe.worker import WorkerRunner

    _logging()
    runner = WorkerRunner(workers)
    runner.start()
    settings = get_settings()
    where = settings.REDIS_URL and "Redis" or f"SQLite queue in {settings.DATA_DIR.resolve()}"
    err.print(f"callscribe worker consuming from {where}; Ctrl-C stops it.")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    err.print("stopping (finishing running tasks)...")
    runner.stop()


@app.command()
def transcribe(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    format: str = typer.Option("md", "--format", "-f", help="md or json"),
    model: str = typer.Option(None, help="Whisper model (default CALLSCRIBE_WHISPER_MODEL)"),
    agent_channel: str = typer.Option(
        "auto", help="Stereo calls: which channel is the agent (left, right, or auto: guess)"
    ),
) -> None:
    """Transcribe one recording offline and print its Minutes and transcript."""
    from callscribe.errors import CallscribeError
    from callscribe.exports.schemas import ExportActionItem, ExportDoc, ExportSection, ExportTurn
    from callscribe.exports.service import render_markdown
    from callscribe.minutes.analyzers import AnalyzerConfig, get_analyzer
    from callscribe.minutes.schemas import AnalysisContext, TurnIn
    from callscribe.speech.roles import guess_agent_channel
    from callscribe.speech.service import (
        check_model,
        get_engine,
        probe_audio,
        speech_config_from_settings,
        transcribe_file,
    )

    if format not in ("md", "json"):
        raise typer.BadParameter("--format must be md or json")
    if agent_channel not in ("left", "right", "auto"):
        raise typer.BadParameter("--agent-channel must be left, right or auto")
    # an offline transcription needs no data dir: get_settings() would create one
    settings = Settings()
    try:
        info = probe_audio(file)
    except Exception as exc:
        err.print(f"[red]error:[/red] {getattr(exc, 'message', exc)}")
        raise typer.Exit(2) from exc
    config = speech_config_from_settings(settings, **({"model": model} if model else {}))
    try:
        if config.engine == "faster-whisper":
            check_model(config.model, config.language)
        engine = get_engine(config)
    except CallscribeError as exc:
        err.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    prior = 1 if agent_channel == "right" else 0
    heard: list[tuple[int, float, str]] = []
    turns: list[TurnIn] = []
    channels: list[int | None] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task(f"Transcribing {file.name}", total=1.0)
        for seg in transcribe_file(
            file,
            engine,
            window_s=settings.SPEECH_WINDOW_S,
            on_progress=lambda f: progress.update(task, completed=f),
        ):
            if seg.channel is not None:
                heard.append((seg.channel, seg.start_s, seg.text))
            turns.append(
                TurnIn(
                    role="unknown",
                    text=seg.text,
                    start_ms=int(seg.start_s * 1000),
                    end_ms=int(seg.end_s * 1000),
                )
            )
            channels.append(seg.channel)
        agent_ch = prior
        if heard and agent_channel == "auto":
            guess = guess_agent_channel(heard, prior_agent_channel=prior)
            agent_ch = guess.agent_channel
            err.print(
                f"agent on the {('left', 'right')[agent_ch]} channel "
                f"(guessed, {round(guess.confidence * 100)}% sure)",
                highlight=False,
            )
        for turn, ch in zip(turns, channels, strict=True):
            if ch is not None:
                turn.role = "agent" if ch == agent_ch else "customer"
        progress.update(task, completed=1.0, description="Analyzing")
        turns.sort(key=lambda t: t.start_ms)
        draft = get_analyzer(AnalyzerConfig()).analyze(turns, AnalysisContext())
    if format == "json":
        out = {
            "file": str(file),
            "duration_seconds": info.duration_s,
            "channels": info.channels,
            "minutes": draft.model_dump(),
            "turns": [t.model_dump() for t in turns],
        }
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return
    doc = ExportDoc(
        call_id=file.name,
        title=draft.subject,
        duration_s=info.duration_s,
        status="completed",
        summary=draft.summary,
        overview=draft.overview,
        sentiment=draft.sentiment,
        outcome=draft.outcome,
        sections=[ExportSection(**s.model_dump()) for s in draft.sections],
        action_items=[ExportActionItem(**a.model_dump()) for a in draft.action_items],
        notes=draft.notes,
        tags=draft.tags,
        turns=[ExportTurn(**t.model_dump()) for t in turns],
    )
    markdown = render_markdown(doc)
    out_console = Console()
    if out_console.is_terminal:  # a person reading: rendered; a pipe or a file: Markdown
        from rich.markdown import Markdown

        out_console.print(Markdown(markdown))
    else:
        sys.stdout.write(markdown)


def _say_data_dir() -> None:
    """Admin commands tell (on stderr, so stdout stays the id or key a script reads)
    which install they changed: the data dir, or the database for a scaled-out one."""
    settings = get_settings()
    where = "PostgreSQL (CALLSCRIBE_DATABASE_URL)" if settings.DATABASE_URL else "SQLite"
    err.print(
        f"data dir: {settings.DATA_DIR.resolve()}  database: {where}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("backup")
def backup_cmd(path: Path = typer.Argument(..., help="A new (or empty) directory")) -> None:
    """Back up the embedded install: a consistent copy of the SQLite database (taken
    online), the queue, the blobs and the secret key."""
    from callscribe import backup
    from callscribe.errors import CallscribeError

    _say_data_dir()
    try:
        manifest = backup.backup(path)
    except CallscribeError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    typer.echo(
        f"backed up to {path} ({manifest['blobs']} blobs; secret key {manifest['secret_key']})"
    )


@app.command("restore")
def restore_cmd(
    path: Path = typer.Argument(..., help="A directory made by `callscribe backup`"),
    force: bool = typer.Option(False, help="Replace the data dir's database and blobs"),
) -> None:
    """Restore a backup into the data dir (CALLSCRIBE_DATA_DIR); stop serve and workers
    first. Migrations run on the next start."""
    from callscribe import backup
    from callscribe.errors import CallscribeError

    _say_data_dir()
    try:
        manifest = backup.restore(path, force=force)
    except CallscribeError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    typer.echo(f"restored the backup of {manifest['created_at']} (version {manifest['version']})")


@admin.command("create-company")
def create_company(name: str) -> None:
    """Create a company; prints its id."""
    from callscribe.accounts import service
    from callscribe.db import migrate, session_scope

    _say_data_dir()
    migrate()
    with session_scope() as session:
        company = service.create_company(session, name)
        company_id = company.id
    typer.echo(str(company_id))


@admin.command("create-api-key")
def create_api_key(
    company: str = typer.Argument(..., help="Company name or id"),
    name: str = typer.Option("API key", help="A label for the key"),
) -> None:
    """Create an API key for a company; prints the key (shown only this once)."""
    from callscribe.accounts import service
    from callscribe.auth.api_keys import create_api_key
    from callscribe.db import migrate, session_scope
    from callscribe.errors import CallscribeError

    _say_data_dir()
    migrate()
    try:
        with session_scope() as session:
            found = service.find_company(session, company)
            _row, plain = create_api_key(session, found.id, name)
    except CallscribeError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    typer.echo(plain)


@admin.command("create-agent")
def create_agent(
    company: str = typer.Argument(..., help="Company name or id"),
    name: str = typer.Argument(...),
    extension_id: str = typer.Option(None),
    email: str = typer.Option(None),
    phone: str = typer.Option(None),
) -> None:
    """Create an agent record (calls are attributed by extension id, email or phone)."""
    from callscribe.accounts import service
    from callscribe.db import migrate, session_scope

    _say_data_dir()
    migrate()
    with session_scope() as session:
        found = service.find_company(session, company)
        agent = service.upsert_agent(
            session, found.id, name=name, extension_id=extension_id, email=email, phone=phone
        )
        agent_id = agent.id
    typer.echo(str(agent_id))


@admin.command("migrate")
def migrate_cmd() -> None:
    """Apply database migrations (serve and worker do this on start)."""
    from callscribe.db import migrate

    _say_data_dir()
    migrate()
    typer.echo("database is up to date")


@search_app.command("reindex")
def search_reindex(
    company: str = typer.Option(None, help="Company name or id (default: every company)"),
) -> None:
    """Index every turn again (a backfill after an upgrade, a new embedder, a restore).
    Replaces the entries it rebuilds; searching keeps working meanwhile."""
    from callscribe.accounts import service
    from callscribe.db import migrate, session_scope
    from callscribe.errors import CallscribeError
    from callscribe.search.service import reindex_company

    _say_data_dir()
    migrate()
    company_id = None
    if company:
        try:
            with session_scope() as session:
                company_id = service.find_company(session, company).id
        except CallscribeError as exc:
            err.print(f"[red]error:[/red] {exc.message}", highlight=False)
            raise typer.Exit(1) from exc
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} engagements"),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task("Indexing", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            turns = reindex_company(session_scope, company_id, progress=on_progress)
        except CallscribeError as exc:
            err.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from exc
    typer.echo(f"indexed {turns} turns")


if __name__ == "__main__":
    app()
