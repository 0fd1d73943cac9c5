"""The one settings object. Environment variables CALLSCRIBE_*; company-level settings
that admins change in the web app live in the database (accounts.CompanySettings)."""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALLSCRIBE_", extra="ignore")

    DATA_DIR: Path = Field(default=Path("./data"))  # SQLite db, queue, blobs, secret key
    DATABASE_URL: str | None = None  # default: sqlite:///<DATA_DIR>/callscribe.db
    REDIS_URL: str | None = None  # set => Huey on Redis instead of SQLite
    STORAGE_URL: str | None = None  # default: file://<DATA_DIR>/blobs; or s3://bucket/prefix
    # the S3-compatible store (STORAGE_URL=s3://...): endpoint for MinIO/Ceph/R2/moto
    # (default: AWS), region, keys (default: boto3's chain: env, profile, instance role)
    STORAGE_ENDPOINT_URL: str | None = None
    STORAGE_REGION: str | None = None
    STORAGE_ACCESS_KEY: str | None = None
    STORAGE_SECRET_KEY: SecretStr | None = None  # never logged or shown
    STORAGE_PATH_STYLE: bool = False  # http://host/bucket/key (MinIO, Ceph) not bucket.host
    SECRET_KEY: str | None = None  # Fernet key; default: generated into DATA_DIR (0600)

    HOST: str = "127.0.0.1"
    PORT: int = 8000
    WEB_WORKERS: int = 1  # web server processes for `serve` (each also runs consumers)
    PUBLIC_URL: str | None = None  # base URL used in links we hand out; default http://HOST:PORT
    # SIGTERM / Ctrl-C: seconds open requests and running tasks get before `serve` exits;
    # a task cut off keeps its lease until STALE_AFTER_S, then a later worker re-runs it
    SHUTDOWN_GRACE_S: float = 10
    MAX_HEADER_BYTES: int = 65536  # request line + headers; larger gets 400 at once
    KEEP_ALIVE_S: int = 5  # idle keep-alive connection closed after this many seconds
    BODY_IDLE_TIMEOUT_S: float = 30  # an upload that sends nothing this long is cut off
    # database connections per process: the web threadpool (40) + consumers + sweeps
    DB_POOL_SIZE: int = 60
    # seconds a request waits for a free connection before it gets 503 + Retry-After
    DB_POOL_TIMEOUT_S: float = 3

    # analytics: "duckdb" keeps an analytical read model (DATA_DIR/analytics.duckdb) that
    # run_query serves dashboards from; refreshed every ANALYTICS_REFRESH_S by the worker's
    # sweep; a query falls back to the primary database when the last refresh is older
    # than ANALYTICS_MAX_LAG_S (or the model cannot serve it). "" (default): off.
    ANALYTICS_READ_MODEL: str = ""
    ANALYTICS_REFRESH_S: float = 30
    ANALYTICS_MAX_LAG_S: float = 300

    MAX_UPLOAD_MB: int = 500  # per recording; the seed contract's default
    PASSWORD_HASH_CONCURRENCY: int = 4  # argon2 hashes at once; each takes 64 MiB
    PASSWORD_HASH_WAIT_S: float = 10  # a sign-in waits this long for a slot, then 503
    # rate limits on credential checks, counted per fixed window (in the database, or in
    # Redis when REDIS_URL is set, so every process shares them)
    RATE_LIMIT_WINDOW_S: int = 300
    LOGIN_MAX_FAILURES: int = 10  # per address and email (x5 per address); OAuth per client
    BAD_CREDENTIALS_MAX: int = 100  # bad API keys / tokens / client secrets per address
    # proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated IPs
    # or CIDRs ("10.0.0.0/8, 127.0.0.1"); default none: the TCP peer is the client
    TRUSTED_PROXIES: str = ""
    ALLOW_PRIVATE_URLS: bool = False  # let audio URLs/automations reach private addresses
    URL_TIMEOUT_S: float = 30  # connect/read timeout when fetching an audio URL
    URL_MAX_REDIRECTS: int = 5
    AUDIO_URL_TTL_S: int = 3600  # lifetime of signed audio links in API answers

    # the ZIP ingest API (issue 14): per batch, and per account within a sliding window
    INGEST_BATCH_MAX_MB: int = 1024  # one ZIP, as uploaded
    INGEST_WINDOW_S: int = 900  # the window of the two account limits below (15 minutes)
    INGEST_MAX_BATCHES: int = 1000  # upload URLs handed out per account per window
    INGEST_MAX_WINDOW_MB: int = 10240  # bytes uploaded per account per window (10 GB)
    INGEST_UPLOAD_URL_TTL_S: int = 3600  # lifetime of a batch's signed upload URL
    INGEST_ZIP_MAX_ENTRIES: int = 10_000  # entries in one ZIP (more is refused)
    INGEST_ZIP_MAX_UNCOMPRESSED_MB: int = 10240  # all entries together, decompressed
    INGEST_ZIP_MAX_RATIO: float = 100  # decompressed / compressed, per entry (zip bombs)
    INGEST_CHUNK_ITEMS: int = 500  # items committed together (and the resume granularity)
    INGEST_BATCH_MESSAGES: int = 200  # messages kept with a batch (and in the technical log)

    QUEUE_NAME: str = "callscribe"  # Redis key prefix / SQLite queue name; one per install
    QUEUE_WORKERS: int = 2  # consumer threads (serve and worker)
    QUEUE_IMMEDIATE: bool = False  # run tasks inline (scripts, some tests)
    SWEEP_INTERVAL_S: float = 30  # how often lost jobs are looked for
    STALE_AFTER_S: float = 120  # a processing call with no heartbeat for this long is re-run
    MAX_ATTEMPTS: int = 5  # processing attempts before a call is failed for good
    # False: outbox events are written but this process hands none to consumers (an
    # operator pausing automations; tests hold a worker between commit and dispatch)
    OUTBOX_DISPATCH: bool = True
    OUTBOX_RETRY_AFTER_S: float = 30  # an event still undispatched this long is swept

    WHISPER_MODEL: str = "tiny.en"  # "tiny.en" = bundled model; or a path / model name
    WHISPER_DEVICE: str = "cpu"  # cpu | cuda | auto
    WHISPER_COMPUTE_TYPE: str = "int8"  # int8 on CPU; float16 / int8_float16 on GPU
    WHISPER_BEAM_SIZE: int = 5
    WHISPER_CPU_THREADS: int = 0  # 0 = CTranslate2 default
    # > 0: faster-whisper's batched pipeline, this many VAD speech chunks decoded at once
    # (bench/bench_pipeline.py --batch-size N measures it against the sequential decode)
    WHISPER_BATCH_SIZE: int = 0
    # decoding temperatures in order; (0.0,) is deterministic, more values add seeded
    # fallbacks for audio where beam search loops or gives up
    WHISPER_TEMPERATURES: tuple[float, ...] = (0.0,)
    SPEECH_WINDOW_S: float = 600  # audio is decoded and transcribed in windows this long
    SEARCH_SCORE_THREADS: int = 2  # onnxruntime threads of the embedded vector scan

    DELIVERY_MAX_ATTEMPTS: int = 6  # per delivery (first try + retries) before it fails
    DELIVERY_BACKOFF_S: float = 10  # first retry delay; doubles each attempt
    DELIVERY_MAX_DELAY_S: float = 3600  # cap on one backoff or Retry-After wait
    DELIVERY_DISABLE_AFTER: int = 5  # consecutive failed deliveries before auto-disable
    DELIVERY_STALE_AFTER_S: float = 300  # a due or in-flight delivery untouched this long is re-run

    AI_TIMEOUT_S: float = 60  # per request to an LLM / transcription endpoint
    AI_MAX_RETRIES: int = 2  # retries after a failed or malformed LLM answer

    LOG_LEVEL: str = "INFO"
    LOG_FORMAT: Literal["text", "json"] = "text"  # json: one object a line, with request_id

    @property
    def database_url(self) -> str:
        if self.DATABASE_URL:
            return self.DATABASE_URL
        return f"sqlite:///{(self.DATA_DIR / 'callscribe.db').resolve()}"

    @property
    def storage_url(self) -> str:
        return self.STORAGE_URL or f"file://{(self.DATA_DIR / 'blobs').resolve()}"

    @property
    def public_url(self) -> str:
        return (self.PUBLIC_URL or f"http://{self.HOST}:{self.PORT}").rstrip("/")

    @property
    def trusted_proxies(self) -> list[str]:
        """TRUSTED_PROXIES as a list of networks (raises ValueError on a bad entry)."""
        import ipaddress

        entries = [e.strip() for e in self.TRUSTED_PROXIES.replace(";", ",").split(",")]
        return [str(ipaddress.ip_network(e, strict=False)) for e in entries if e]

    @property
    def ingest_batch_max_bytes(self) -> int:
        return self.INGEST_BATCH_MAX_MB * 1024 * 1024

    @property
    def max_upload_bytes(self) -> int:
        return self.MAX_UPLOAD_MB * 1024 * 1024


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    settings.DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    # database, queue, blobs and the secret key: the owner's only (a mounted volume that
    # is not ours keeps its owner's mode)
    with suppress(OSError):
        settings.DATA_DIR.chmod(0o700)
    return settings


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between runs)."""
    get_settings.cache_clear()
