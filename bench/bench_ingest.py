"""Ingest throughput and latency of POST /api/add-calls.

    python bench/bench_ingest.py [--clients 16] [--requests 160] [--size-mb 5] [--with-worker]

Starts `callscribe serve` (API only unless --with-worker: the request's own cost is
storing and enqueueing) on a free port with a fresh SQLite data dir, then N concurrent
clients upload real WAV audio of the given size (the sample call repeated). Prints
requests/s and p50/p90/p99/max latency. Client and server share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "audio" / "sample.wav"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_wav(path: Path, size_mb: float) -> None:
    with wave.open(str(SAMPLE)) as src:
        params, frames = src.getparams(), src.readframes(src.getnframes())
    target = int(size_mb * 1024 * 1024)
    with wave.open(str(path), "wb") as dst:
        dst.setparams(params)
        written = 0
        while written < target:
            chunk = frames[: target - written]
            dst.writeframes(chunk)
            written += len(chunk)


def multipart(key: str, audio: bytes) -> tuple[bytes, str]:
    boundary = "benchboundary7MA4YWxkTrZu0gW"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="api_key"\r\n\r\n{key}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="customer_name"\r\n\r\nBench Corp\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="call"; filename="call.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n".encode(),
        audio,
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


async def run_load(url: str, body: bytes, ctype: str, clients: int, total: int) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def client_loop() -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            for _ in counter:
                started = time.perf_counter()
                resp = await client.post(url, content=body, headers={"Content-Type": ctype})
                latencies.append(time.perf_counter() - started)
                if resp.status_code != 201:
                    raise SystemExit(f"unexpected {resp.status_code}: {resp.text[:300]}")

    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=160)
    ap.add_argument("--size-mb", type=float, default=5)
    ap.add_argument("--with-worker", action="store_true")
    args = ap.parse_args()

    data = Path(tempfile.mkdtemp(prefix="cs-bench-ingest-"))
    port = free_port()
    env = {**os.environ, "CALLSCRIBE_DATA_DIR": str(data), "CALLSCRIBE_PORT": str(port)}
    cli = [sys.executable, "-m", "callscribe.cli"]
    subprocess.run(
        [*cli, "admin", "create-company", "Bench"], env=env, check=True, capture_output=True
    )
    key = subprocess.run(
        [*cli, "admin", "create-api-key", "Bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    server = subprocess.Popen(
        [*cli, "serve", *([] if args.with_worker else ["--no-worker"])],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        wav = data / "bench.wav"
        make_wav(wav, args.size_mb)
        body, ctype = multipart(key, wav.read_bytes())
        asyncio.run(run_load(f"{base}/api/add-calls", body, ctype, 2, 4))  # warm-up
        started = time.perf_counter()
        lat = asyncio.run(
            run_load(f"{base}/api/add-calls", body, ctype, args.clients, args.requests)
        )
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] * 1000

    mb = len(body) / 1024 / 1024
    print(
        f"POST /api/add-calls: {args.requests} uploads of {mb:.1f} MB, {args.clients} concurrent clients"
        f"{' (embedded worker running)' if args.with_worker else ' (API only)'}"
    )
    print(
        f"  throughput  {args.requests / wall:7.1f} requests/s  ({args.requests * mb / wall:.0f} MB/s)"
    )
    print(
        f"  latency ms  p50 {pct(50):7.1f}  p90 {pct(90):7.1f}  p99 {pct(99):7.1f}  max {lat[-1] * 1000:7.1f}  mean {statistics.mean(lat) * 1000:7.1f}"
    )


if __name__ == "__main__":
    main()
