"""Real HTTP(S) servers on 127.0.0.1 and a DNS stub for the outbound client's tests."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

Route = Callable[[BaseHTTPRequestHandler], None]

PUBLIC_IP = "93.184.216.34"  # a global address; never really dialled in these tests


@dataclass
class Server:
    base_url: str
    port: int
    routes: dict[str, Route]
    requests: list[dict[str, Any]] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _dispatch(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            server.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
            route = server.routes.get(self.path.split("?", 1)[0])
            if route is None:
                reply(self, 404, b"")
                return
            route(self)

        do_GET = do_POST = do_PUT = _dispatch

    return Handler


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    length: bool = True,
) -> None:
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    if length:
        handler.send_header("Content-Length", str(len(body)))
    else:
        handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)
    if not length:
        handler.close_connection = True


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (timeouts, size limits) are the point of a test


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[ThreadingHTTPServer] = []

    def start(routes: dict[str, Route], *, tls: ssl.SSLContext | None = None) -> Server:
        httpd = _QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        port = httpd.server_address[1]
        scheme = "https" if tls else "http"
        server = Server(f"{scheme}://127.0.0.1:{port}", port, routes)
        httpd.RequestHandlerClass = _handler(server)
        httpd.daemon_threads = True
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: server.sni.append(name)  # type: ignore[assignment]
            httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return server

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def outbound_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Private addresses refused (the production default), short timeouts."""
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "false")
    monkeypatch.setenv("CALLSCRIBE_URL_TIMEOUT_S", "3")
    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch, outbound_settings: None) -> None:
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "true")
    reset_settings()


@dataclass
class Network:
    """A DNS stub (answers per name, per lookup) and a record of every TCP connect."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    connects: list[tuple[str, int]] = field(default_factory=list)
    nat: dict[str, str] = field(default_factory=dict)  # public IP -> where it really goes


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    """Names in `answers` resolve to the listed addresses, lookup by lookup (the last
    answer repeats); a connect to a public IP in `nat` reaches the mapped local address,
    any other public IP is refused (the test machine has no internet)."""
    net = Network()
    real_getaddrinfo = socket.getaddrinfo
    real_create_connection = socket.create_connection

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in net.answers:
            return real_getaddrinfo(host, port, *args, **kwargs)
        net.lookups.append(name)
        queue = net.answers[name]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        out = []
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (
                (address, int(port or 0), 0, 0) if ":" in address else (address, int(port or 0))
            )
            out.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return out

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address[0], address[1]
        net.connects.append((host, port))
        if host in net.nat:
            return real_create_connection((net.nat[host], port), *args, **kwargs)
        if host == PUBLIC_IP:
            raise ConnectionRefusedError(f"{host} is not reachable from the test machine")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return net


def self_signed(tmp_path: Path, hostname: str) -> ssl.SSLContext:
    """A server TLS context with a self-signed certificate for `hostname`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
