"""The two providers as real HTTP servers on 127.0.0.1, speaking their documented
protocols (see the provider contracts): paging, 302 redirects to pre-signed recording
URLs, plain-text `ERROR:` lines, wrong credentials, slow answers and 5xx on demand."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeServer:
    """A threading HTTP server; subclasses implement `handle(req, path, query)` for GET
    and `handle_post(req, path, query, body)` for POST. `down` answers 503 to everything,
    `slow_s` delays every answer, `fail_paths` answers a status to paths with a prefix,
    `requests` records (method, path, query, headers) of each request."""

    def __init__(self) -> None:
        self.down = False
        self.slow_s = 0.0
        self.fail_paths: dict[str, int] = {}  # path prefix -> status to answer
        self.requests: list[tuple[str, str, dict[str, list[str]], dict[str, str]]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query, keep_blank_values=True)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if method == "POST" and length else b""
                with outer.lock:
                    outer.requests.append((method, parts.path, query, dict(self.headers)))
                if outer.slow_s:
                    time.sleep(outer.slow_s)
                if outer.down:
                    return outer.send(self, 503, b"Service Unavailable", "text/plain")
                for prefix, status in outer.fail_paths.items():
                    if parts.path.startswith(prefix):
                        return outer.send(self, status, b"failure", "text/plain")
                if method == "POST":
                    return outer.handle_post(self, parts.path, query, body)
                outer.handle(self, parts.path, query)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        raise NotImplementedError

    def handle_post(
        self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]], body: bytes
    ) -> None:
        self.send(req, 405, b"Method Not Allowed", "text/plain")

    @staticmethod
    def send(
        req: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        ctype: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            req.send_header(key, value)
        req.end_headers()
        req.wfile.write(body)

    def json(self, req: BaseHTTPRequestHandler, status: int, value: Any) -> None:
        self.send(req, status, json.dumps(value).encode())

    def redirect(self, req: BaseHTTPRequestHandler, location: str) -> None:
        self.send(req, 302, b"", "text/plain", {"Location": location})

    def paths(self, prefix: str) -> list[str]:
        return [p for _m, p, _q, _h in self.requests if p.startswith(prefix)]


# -- CloudVoice (Dograh API) ---------------------------------------------------------------


@dataclass
class Run:
    id: int
    created_at: datetime
    tracks: dict[str, bytes] = field(default_factory=dict)  # user | bot | recording
    transcript: str | None = None
    workflow_id: int = 7
    workflow_name: str = "Sales assistant"
    call_type: str = "inbound"
    caller_number: str = "+15550101"
    called_number: str = "+15550999"
    duration: int = 5
    is_completed: bool = True
    public_links: bool = True  # False: only storage keys (the signed-url endpoint)
    # artifacts stored with a key but given no public link (e.g. {"recording"})
    unlinked: frozenset[str] = frozenset()


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class FakeCloudVoice(FakeServer):
    ARTIFACTS = {
        "recording": "recording",
        "user_recording": "user",
        "bot_recording": "bot",
    }

    def __init__(self) -> None:
        super().__init__()
        self.api_key = "dgr_" + secrets.token_urlsafe(32)[:43]
        self.runs: dict[int, Run] = {}
        self.tokens: dict[str, int] = {}
        self.signed_url_status = 200  # 404/500: the optional fallback endpoint is unavailable
        self.signed_url_requests = 0

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/v1"

    def add_run(self, run: Run) -> Run:
        self.runs[run.id] = run
        return run

    def handle(self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        q = {k: v[0] for k, v in query.items()}
        if path == "/api/v1/health":
            return self.json(req, 200, {"status": "ok"})
        if path.startswith("/api/v1/public/download/workflow/"):
            token, artifact = path.rsplit("/", 2)[-2:]
            if token not in self.tokens:
                return self.json(req, 404, {"detail": "Not found"})
            signature = secrets.token_hex(8)
            return self.redirect(
                req, f"{self.origin}/bucket/{token}/{artifact}?X-Amz-Signature={signature}"
            )
        if path.startswith("/bucket/"):
            token, artifact = path.split("/")[2:4]
            run = self.runs[self.tokens[token]]
            return self._artifact(req, run, artifact)
        if req.headers.get("X-API-Key") != self.api_key:
            return self.json(req, 401, {"detail": "Invalid or expired API key"})
        if path == "/api/v1/workflow/fetch":
            return self.json(
                req,
                200,
                [
                    {
                        "id": 7,
                        "name": "Sales assistant",
                        "status": "active",
                        "created_at": "2026-01-01T00:00:00Z",
                        "total_runs": len(self.runs),
                    }
                ],
            )
        if path == "/api/v1/organizations/usage/runs":
            return self._list(req, q)
        if path == "/api/v1/s3/signed-url":
            self.signed_url_requests += 1
            if self.signed_url_status != 200:
                return self.json(req, self.signed_url_status, {"detail": "unavailable"})
            key = q.get("key", "")
            run_id, _, kind = key.rsplit("/", 1)[-1].partition(".")[0].partition("_")
            if key.startswith("transcripts/"):
                kind = "transcript"
            token = self._token(int(run_id))
            artifact = {
                "": "recording",
                "user": "user_recording",
                "bot": "bot_recording",
                "transcript": "transcript",
            }[kind]
            return self.json(
                req,
                200,
                {"url": f"{self.origin}/bucket/{token}/{artifact}?sig=1", "expires_in": 3600},
            )
        parts = path.split("/")
        if len(parts) == 7 and parts[3] == "workflow" and parts[5] == "runs":
            run = self.runs.get(int(parts[6]))
            if run is None or run.workflow_id != int(parts[4]):
                return self.json(req, 404, {"detail": "Workflow run not found"})
            return self.json(req, 200, self._detail(run))
        return self.json(req, 404, {"detail": "Not Found"})

    def _token(self, run_id: int) -> str:
        for token, rid in self.tokens.items():
            if rid == run_id:
                return token
        token = secrets.token_urlsafe(16)
        self.tokens[token] = run_id
        return token

    def _artifact(self, req: BaseHTTPRequestHandler, run: Run, artifact: str) -> None:
        if artifact == "transcript":
            if run.transcript is None:
                return self.send(req, 404, b"NoSuchKey", "application/xml")
            return self.send(req, 200, run.transcript.encode(), "text/plain")
        data = run.tracks.get(self.ARTIFACTS.get(artifact, ""))
        if data is None:
            return self.send(req, 404, b"NoSuchKey", "application/xml")
        return self.send(req, 200, data, "audio/wav")

    def _listing(self, run: Run) -> dict[str, Any]:
        return {
            "id": run.id,
            "workflow_id": run.workflow_id,
            "workflow_name": run.workflow_name,
            "name": f"WR-{run.id}",
            "created_at": iso(run.created_at),
            "call_duration_seconds": run.duration,
            "call_type": run.call_type,
            "caller_number": run.caller_number,
            "called_number": run.called_number,
            "disposition": "completed",
            "mode": "twilio",
            "recording_url": f"recordings/{run.id}.wav" if "recording" in run.tracks else None,
            "user_recording_url": f"recordings/{run.id}_user.wav" if "user" in run.tracks else None,
            "bot_recording_url": f"recordings/{run.id}_bot.wav" if "bot" in run.tracks else None,
            "transcript_url": f"transcripts/{run.id}.txt" if run.transcript else None,
            "recording_public_url": None,
            "initial_context": {"customer_name": "Maria Lopez"},
            "gathered_context": {"call_disposition": "interested"},
        }

    def _list(self, req: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        start = parse_iso(q["start_date"]) if q.get("start_date") else None
        end = parse_iso(q["end_date"]) if q.get("end_date") else None
        limit = int(q.get("limit", 50))
        page = int(q.get("page", 1))
        if not 1 <= limit <= 100:
            return self.json(req, 422, {"detail": "limit must be 1..100"})
        runs = sorted(self.runs.values(), key=lambda r: (r.created_at, r.id))
        if start:
            runs = [r for r in runs if r.created_at >= start]
        if end:
            runs = [r for r in runs if r.created_at <= end]
        for flt in json.loads(q.get("filters") or "[]"):
            if flt.get("attribute") == "runId":
                runs = [r for r in runs if r.id == int(flt["value"]["value"])]
        if q.get("sort_order") == "desc":
            runs.reverse()
        total = len(runs)
        chunk = runs[(page - 1) * limit : page * limit]
        self.json(
            req,
            200,
            {
                "runs": [self._listing(r) for r in chunk],
                "total_count": total,
                "page": page,
                "limit": limit,
                "total_pages": max(1, -(-total // limit)),
            },
        )

    def _detail(self, run: Run) -> dict[str, Any]:
        body = self._listing(run)
        body.update(
            is_completed=run.is_completed,
            cost_info={"call_duration_seconds": run.duration},
            logs={},
            annotations={},
        )
        if run.public_links:
            token = self._token(run.id)
            link = f"{self.base_url}/public/download/workflow/{token}"
            # a storage key always; a public link only for what is not `unlinked`
            body["recording_url"] = body["recording_url"] or (
                f"recordings/{run.id}.wav" if "recording" in run.unlinked else None
            )
            body.update(
                recording_public_url=f"{link}/recording" if "recording" in run.tracks else None,
                user_recording_public_url=f"{link}/user_recording"
                if "user" in run.tracks
                else None,
                bot_recording_public_url=f"{link}/bot_recording" if "bot" in run.tracks else None,
                transcript_public_url=f"{link}/transcript" if run.transcript else None,
            )
        for kind in run.unlinked:
            body[f"{kind}_public_url"] = None
        return body


# -- CloudVoice Call Center (VICIdial-style non-agent API) -------------------------------------


@dataclass
class DialerRecording:
    recording_id: str
    user: str
    start: datetime  # the dialer's local time (naive)
    audio: bytes
    lead_id: str = "1001"
    phone: str = "5551234567"
    first_name: str = "Sam"
    last_name: str = "Carter"
    direction: str = "OUT"
    duration: int = 11
    ready: bool = True  # False: still being recorded (no location yet)


class FakeCallCenter(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.username = "apiuser"
        self.password = "Pw-" + secrets.token_hex(8)
        self.agents = {"6666": "Dana Agent", "7777": "Lee Closer"}
        self.recordings: list[DialerRecording] = []
        self.recording_auth = True  # recordings need basic auth (a 401 challenge first)

    @property
    def base_url(self) -> str:
        return self.origin

    def add(self, rec: DialerRecording) -> DialerRecording:
        self.recordings.append(rec)
        return rec

    def text(self, req: BaseHTTPRequestHandler, body: str) -> None:
        self.send(req, 200, body.encode(), "text/html; charset=utf-8")

    def handle(self, req: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        if path.startswith("/RECORDINGS/"):
            return self._recording(req, path)
        if path.startswith("/files/"):
            name = path.rsplit("/", 1)[-1]
            rec = next(r for r in self.recordings if f"{r.recording_id}.wav" == name)
            return self.send(req, 200, rec.audio, "audio/wav")
        if path != "/vicidial/non_agent_api.php":
            return self.send(req, 404, b"Not Found", "text/html")
        q = {k: v[0] for k, v in query.items()}
        function = q.get("function", "")
        if function == "version":
            return self.text(req, "VERSION: 2.14-917a|BUILD: 240101-1200|DATE: 2026-03-01\n")
        user, password = q.get("user", ""), q.get("pass", "")
        if user != self.username or password != self.password:
            # the real dialer echoes what it was sent
            return self.text(req, f"ERROR: Invalid Username/Password: |{user}|{password}|\n")
        if function == "agent_stats_export":
            start = datetime.strptime(q["datetime_start"], "%Y-%m-%d %H:%M:%S")
            end = datetime.strptime(q["datetime_end"], "%Y-%m-%d %H:%M:%S")
            users = sorted({r.user for r in self.recordings if start <= r.start <= end})
            if not users:
                return self.text(req, "ERROR: agent_stats_export NO RECORDS FOUND\n")
            lines = [f"{u}|{self.agents.get(u, u)}|AGENTS|3|3600|1200|400|20|0|0|1" for u in users]
            return self.text(req, "\n".join(lines) + "\n")
        if function == "recording_lookup":
            day = q["date"]
            rows = [
                r
                for r in self.recordings
                if r.user == q.get("agent_user") and r.start.strftime("%Y-%m-%d") == day
            ]
            if not rows:
                return self.text(
                    req,
                    f"ERROR: recording_lookup NO RECORDINGS FOUND - {q.get('agent_user')}|{day}\n",
                )
            lines = []
            for r in rows:
                location = f"{self.origin}/RECORDINGS/MIX/{r.recording_id}.wav" if r.ready else ""
                lines.append(
                    f"{r.start:%Y-%m-%d %H:%M:%S}|{r.user}|{r.recording_id}|{r.lead_id}|"
                    f"{r.duration}|{location}"
                )
            return self.text(req, "\n".join(lines) + "\n")
        if function == "lead_field_info":
            rec = next((r for r in self.recordings if r.lead_id == q.get("lead_id")), None)
            if rec is None:
                return self.text(req, "ERROR: lead_field_info LEAD NOT FOUND\n")
            value = {
                "phone_number": rec.phone,
                "first_name": rec.first_name,
                "last_name": rec.last_name,
            }.get(q.get("field_name", ""))
            return self.text(req, f"{value}\n")
        if function == "phone_number_log":
            rows = [r for r in self.recordings if r.phone == q.get("phone_number")]
            if not rows:
                return self.text(req, "ERROR: phone_number_log NO RECORDS FOUND\n")
            lines = [
                f"{r.phone}|{r.start:%Y-%m-%d %H:%M:%S}|101|{r.duration}|SALE|AGENT|DONE|src|"
                f"{r.user}|{r.direction}"
                for r in rows
            ]
            return self.text(req, "\n".join(lines) + "\n")
        return self.text(req, f"ERROR: {function} NOT A VALID FUNCTION\n")

    def _recording(self, req: BaseHTTPRequestHandler, path: str) -> None:
        if self.recording_auth:
            import base64

            expected = (
                "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            )
            if req.headers.get("Authorization") != expected:
                return self.send(
                    req,
                    401,
                    b"Unauthorized",
                    "text/html",
                    {"WWW-Authenticate": 'Basic realm="recordings"'},
                )
        name = path.rsplit("/", 1)[-1]
        return self.redirect(req, f"{self.origin}/files/{name}")


def now_local() -> datetime:
    return datetime.now().replace(microsecond=0)


def minutes_ago(n: int) -> datetime:
    return now_local() - timedelta(minutes=n)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def utc_ago(minutes: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)
