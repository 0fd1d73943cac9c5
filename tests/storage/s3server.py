"""A real S3-protocol server for the tests: moto in server mode on 127.0.0.1 (a free
port), one per test session, and helpers that point an install at a fresh prefix of it."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

BUCKET = "callscribe-test"
ACCESS_KEY = "AKIATESTCALLSCRIBE01"
SECRET_KEY = "test-secret-9f3c1e7b2a"  # the tests grep logs for this one


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    import boto3

    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def s3_env(endpoint: str) -> dict[str, str]:
    """CALLSCRIBE_* variables for an install on a fresh prefix of the test bucket."""
    return {
        "CALLSCRIBE_STORAGE_URL": f"s3://{BUCKET}/t-{uuid.uuid4().hex[:12]}",
        "CALLSCRIBE_STORAGE_ENDPOINT_URL": endpoint,
        "CALLSCRIBE_STORAGE_REGION": "us-east-1",
        "CALLSCRIBE_STORAGE_ACCESS_KEY": ACCESS_KEY,
        "CALLSCRIBE_STORAGE_SECRET_KEY": SECRET_KEY,
        "CALLSCRIBE_STORAGE_PATH_STYLE": "true",
    }


@pytest.fixture
def s3_install(
    app_env: dict[str, str], s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """app_env with its blobs on a fresh prefix of the moto bucket (request it before
    live_server / api_server so they start with it)."""
    from callscribe import storage
    from callscribe.settings import reset_settings

    env = s3_env(s3_endpoint)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    storage._store_for.cache_clear()
    app_env.update(env)
    return app_env
