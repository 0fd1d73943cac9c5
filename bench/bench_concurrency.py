"""Concurrent authenticated GETs against `callscribe serve` (issue 17 #3).

    python bench/bench_concurrency.py [--clients 200] [--requests 1000] [--database-url URL]

Starts `callscribe serve --no-worker` on a free port with a fresh data dir (SQLite unless
--database-url), creates a company and an API key, then runs the same mixed requests
twice: one sequential client (the baseline), then N concurrent clients. Prints p50/p99,
max and the status counts of each. 503s (`busy`, with Retry-After) are load shed by a
full database pool; any other 5xx is a bug. Client and server share this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
PATHS = (
    "/api/calls",
    "/api/calls?page=2&page_size=5",
    "/api/customers",
    "/api/health",
    "/api/calls?status=completed",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_key(env: dict[str, str]) -> str:
    code = (
        "from callscribe.db import migrate, session_scope\n"
        "from callscribe.accounts import service\n"
        "from callscribe.auth.api_keys import create_api_key\n"
        "migrate()\n"
        "with session_scope() as s:\n"
        "    c = service.create_company(s, 'Bench')\n"
        "    print(create_api_key(s, c.id, 'bench')[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    return out.stdout.decode().strip().splitlines()[-1]


def report(name: str, latencies: list[float], statuses: collections.Counter, wall: float) -> None:
    lat = sorted(latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    print(
        f"{name:>12}: n={len(lat)} p50={p(0.5) * 1000:.0f}ms p99={p(0.99) * 1000:.0f}ms "
        f"max={lat[-1] * 1000:.0f}ms req/s={len(lat) / wall:.0f} statuses={dict(statuses)}"
    )


async def run(base: str, key: str, clients: int, requests: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as c:

        async def one(i: int, lat: list[float], st: collections.Counter) -> None:
            start = time.perf_counter()
            resp = await c.get(PATHS[i % len(PATHS)])
            lat.append(time.perf_counter() - start)
            st[resp.status_code] += 1
            if resp.status_code >= 500 and not (
                resp.status_code == 503 and resp.headers.get("retry-after")
            ):
                st["bug"] += 1

        lat: list[float] = []
        st: collections.Counter = collections.Counter()
        t0 = time.perf_counter()
        for i in range(min(requests, 200)):
            await one(i, lat, st)
        report("sequential", lat, st, time.perf_counter() - t0)

        lat, st = [], collections.Counter()
        sem = asyncio.Semaphore(clients)

        async def bounded(i: int) -> None:
            async with sem:
                await one(i, lat, st)

        t0 = time.perf_counter()
        await asyncio.gather(*(bounded(i) for i in range(requests)))
        report(f"{clients} clients", lat, st, time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "CALLSCRIBE_DATA_DIR": str(Path(tmp) / "data"),
            "PYTHONPATH": str(REPO / "src"),
        }
        if args.database_url:
            env["CALLSCRIBE_DATABASE_URL"] = args.database_url
        key = make_key(env)
        server = subprocess.Popen(
            [sys.executable, "-m", "callscribe.cli", "serve", "--no-worker", "--port", str(port)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            while True:
                try:
                    httpx.get(base + "/api/health", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.2)
            asyncio.run(run(base, key, args.clients, args.requests))
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
