"""Ingest throughput and latency of POST /api/add-calls, and (--presigned) of the
three-step upload with an S3 store: step 1 (signed URL), the PUT straight to the store's
presigned URL, step 3 (the call), in the same run.

    python bench/bench_ingest.py [--clients 16] [--requests 160] [--size-mb 5] [--with-worker] [--presigned]

--presigned starts moto's S3 server (`python -m moto.server`, a Python process itself:
its PUT speed is moto's, not S3's; what counts is that callscribe's process does not
receive the bytes at step 2) and a second `callscribe serve` pointed at it.

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


async def run_presigned(
    base: str, headers: dict[str, str], audio: bytes, clients: int, total: int
) -> tuple[list[float], list[float]]:
    """Per upload: step 1 + PUT to the presigned URL + step 3; (whole, PUT only) latencies."""
    whole: list[float] = []
    puts: list[float] = []
    counter = iter(range(total))

    async def client_loop() -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            for _ in counter:
                started = time.perf_counter()
                r = await client.post(
                    f"{base}/api/v1/recordings/signed-urls", json={}, headers=headers
                )
                urls = r.json()
                put_started = time.perf_counter()
                put = await client.put(urls["uploadUrl"], content=audio)
                puts.append(time.perf_counter() - put_started)
                if put.status_code != 200:
                    raise SystemExit(f"PUT {put.status_code}: {put.text[:300]}")
                r = await client.post(
                    f"{base}/api/v2/recordings",
                    json={
                        "downloadUrl": urls["downloadUrl"],
                        "dateCreated": "2026-11-20T14:03:00Z",
                        "userEmail": "bench@example.com",
                    },
                    headers=headers,
                )
                whole.append(time.perf_counter() - started)
                if r.status_code != 201:
                    raise SystemExit(f"step 3 {r.status_code}: {r.text[:300]}")

    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return whole, puts


def presigned_run(args: argparse.Namespace, wav: Path) -> None:
    import boto3

    data = Path(tempfile.mkdtemp(prefix="cs-bench-presigned-"))
    s3_port, port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{s3_port}"
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = None
    try:
        for _ in range(200):
            try:
                httpx.get(endpoint)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        s3 = {"aws_access_key_id": "AKIABENCH", "aws_secret_access_key": "bench-secret"}
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **s3).create_bucket(
            Bucket="bench"
        )
        env = {
            **os.environ,
            "CALLSCRIBE_DATA_DIR": str(data),
            "CALLSCRIBE_PORT": str(port),
            "CALLSCRIBE_STORAGE_URL": "s3://bench/calls",
            "CALLSCRIBE_STORAGE_ENDPOINT_URL": endpoint,
            "CALLSCRIBE_STORAGE_REGION": "us-east-1",
            "CALLSCRIBE_STORAGE_ACCESS_KEY": s3["aws_access_key_id"],
            "CALLSCRIBE_STORAGE_SECRET_KEY": s3["aws_secret_access_key"],
            "CALLSCRIBE_STORAGE_PATH_STYLE": "true",
        }
        cli = [sys.executable, "-m", "callscribe.cli"]
        subprocess.run(
            [*cli, "admin", "create-company", "Bench"], env=env, check=True, capture_output=True
        )
        subprocess.run(
            [*cli, "admin", "create-agent", "Bench", "Bench Rep", "--email", "bench@example.com"],
            env=env,
            check=True,
            capture_output=True,
        )
        key = subprocess.run(
            [*cli, "admin", "create-api-key", "Bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        server = subprocess.Popen(
            [*cli, "serve", "--no-worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {key}"}
        audio = wav.read_bytes()
        asyncio.run(run_presigned(base, headers, audio, 2, 4))  # warm-up
        started = time.perf_counter()
        whole, puts = asyncio.run(run_presigned(base, headers, audio, args.clients, args.requests))
        wall = time.perf_counter() - started
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        moto.terminate()
        moto.wait(timeout=30)
    mb = len(audio) / 1024 / 1024
    print(
        f"presigned (S3 store, moto): {args.requests} uploads of {mb:.1f} MB, {args.clients} concurrent clients (API only)"
    )
    print(
        f"  throughput  {args.requests / wall:7.1f} uploads/s (step 1 + PUT to the store + step 3)"
    )
    for name, lat in (("whole", whole), ("PUT only", puts)):
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))] * 1000
        p50 = lat[len(lat) // 2] * 1000
        print(f"  {name:9s} ms  p50 {p50:7.1f}  p99 {p99:7.1f}  max {lat[-1] * 1000:7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=160)
    ap.add_argument("--size-mb", type=float, default=5)
    ap.add_argument("--with-worker", action="store_true")
    ap.add_argument("--presigned", action="store_true", help="also the S3 presigned upload")
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
    if args.presigned:
        presigned_run(args, wav)


if __name__ == "__main__":
    main()
