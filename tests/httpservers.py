"""Small real HTTP servers on 127.0.0.1 for tests: third parties we talk to, speaking
plain HTTP/1.1 from the standard library."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handler = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def serve(routes: dict[str, Handler]) -> Iterator[str]:
    """Serve `routes` (path without query -> fn(handler)) on a free port; yields the base
    URL. Unknown paths answer 404. Each request is recorded in `server.requests`."""

    class RouteHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _dispatch(self) -> None:
            path = self.path.split("?", 1)[0]
            requests.append((self.command, self.path, dict(self.headers)))
            fn = routes.get(path)
            if fn is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            fn(self)

        do_GET = do_POST = do_PUT = do_HEAD = _dispatch

    requests: list[tuple[str, str, dict]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), RouteHandler)
    server.daemon_threads = True
    server.requests = requests  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send_bytes(
    handler: BaseHTTPRequestHandler,
    body: bytes,
    ctype: str = "application/octet-stream",
    status: int = 200,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def redirect(handler: BaseHTTPRequestHandler, location: str, status: int = 302) -> None:
    handler.send_response(status)
    handler.send_header("Location", location)
    handler.send_header("Content-Length", "0")
    handler.end_headers()
